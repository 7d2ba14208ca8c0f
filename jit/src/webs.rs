//! Registers reused for values of both widths split into their *webs* before the analysis.
//! A web is a set of writes of a register that reach a common read, with those reads: one
//! value's life. A register reused for unrelated values (a `u64` loaded and stored, then
//! the register reused as a `u32` index) is one register to the analysis: a 64-bit vector
//! whose 32-bit accesses convert, never lane-affine, so the index would be gathered lane by
//! lane where a register of its own is a contiguous access (65,536 lanes: 138 against 14
//! us). Each web after such a register's first becomes a register of its own (one the
//! program does not use), in a copy of the program the JIT compiles; the instructions and
//! their pcs stay as they are, so traps, fuel and listings do not change. Programs with
//! `call` / `ret` are left as they are (a subroutine's registers are the caller's), and so
//! are the webs for which no register is free.

use holovm_isa::{Inst, Program, Reg};

use crate::analysis::{analyse, operands, write_widths, Analysis};

/// A program whose reused registers were split ([`split`]).
pub(crate) struct Split {
    /// The program with each web in a register of its own.
    pub program: Program,
    /// The name of each register of `program` in the dump: `rN` for the original program's
    /// registers, `rN/k` for the k-th web of `rN` (k from 2).
    pub names: Vec<String>,
}

/// The successors of `pc` (`insts.len()`: the end), for a program without calls.
fn successors(insts: &[Inst], pc: usize) -> impl Iterator<Item = usize> {
    let t = insts[pc].target().map(|t| t as usize);
    let (a, b) = match insts[pc] {
        Inst::Bra { guard: None, .. } => (t, None),
        Inst::Bra { .. } | Inst::Loop { .. } => (t, Some(pc + 1)),
        Inst::Exit | Inst::Ret => (None, None),
        _ => (Some(pc + 1), None),
    };
    a.into_iter().chain(b)
}

/// Whether `inst` writes register `r`, starting a value: not a `loop`'s counter, which the
/// loop updates in place (its value goes on around the loop).
fn writes(inst: &Inst, r: u8) -> bool {
    inst.dst_reg() == Some(Reg(r)) && !matches!(inst, Inst::Loop { .. })
}

/// A union-find over the webs' starts.
fn find(parent: &mut [usize], mut k: usize) -> usize {
    while parent[k] != k {
        parent[k] = parent[parent[k]];
        k = parent[k];
    }
    k
}

/// The values of one register: per pc, the web its read of the register belongs to and the
/// web its write starts (webs numbered from 0 in order of their first pc).
struct RegWebs {
    reg: u8,
    read: Vec<Option<usize>>,
    write: Vec<Option<usize>>,
    count: usize,
}

/// Register `r`'s webs: each value flooded forward from its start while `r` is live and
/// not written again; a value that reaches a pc another value reached joins its web (what
/// lies beyond was flooded by that web already), so every pc is visited once.
fn webs_of(insts: &[Inst], live_at: &impl Fn(u8, usize) -> bool, r: u8) -> RegWebs {
    let n = insts.len();
    // The starts of r's values: the program's entry if r is read before any write (zero),
    // then each write.
    let starts: Vec<Option<usize>> = live_at(r, 0)
        .then_some(None)
        .into_iter()
        .chain((0..n).filter(|&pc| writes(&insts[pc], r)).map(Some))
        .collect();
    let mut parent: Vec<usize> = (0..starts.len()).collect();
    let mut web_of = vec![usize::MAX; n];
    let mut stack = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        match start {
            None => stack.push(0),
            Some(pc) => stack.extend(successors(insts, pc)),
        }
        while let Some(pc) = stack.pop() {
            if pc >= n || !live_at(r, pc) {
                continue;
            }
            if web_of[pc] != usize::MAX {
                let (a, b) = (find(&mut parent, k), find(&mut parent, web_of[pc]));
                parent[a.max(b)] = a.min(b);
                continue;
            }
            web_of[pc] = k;
            if !writes(&insts[pc], r) {
                stack.extend(successors(insts, pc));
            }
        }
    }
    // Number the webs that are read; a value never read belongs to none (it keeps r: r is
    // dead after it, so it clobbers no other web).
    let mut number: Vec<Option<usize>> = vec![None; starts.len()];
    let mut count = 0;
    let mut read = vec![None; n];
    for (pc, &k) in web_of.iter().enumerate() {
        if k != usize::MAX {
            let w = find(&mut parent, k);
            read[pc] = Some(*number[w].get_or_insert_with(|| {
                count += 1;
                count - 1
            }));
        }
    }
    let mut write = vec![None; n];
    for (k, s) in starts.iter().enumerate() {
        if let Some(pc) = *s {
            write[pc] = number[find(&mut parent, k)];
        }
    }
    RegWebs {
        reg: r,
        read,
        write,
        count,
    }
}

/// `program` with each web of the registers in `regs` after its first in a register the
/// program does not use (while there are such registers), and the registers' names.
fn rename(program: &Program, regs: &[&RegWebs]) -> Option<Split> {
    let insts = program.insts();
    let mut used = [false; 256];
    for inst in insts {
        for r in inst.sources().filter_map(|s| s.reg()).chain(inst.dst_reg()) {
            used[r.0 as usize] = true;
        }
    }
    let mut free = (0..=255u8).filter(|&r| !used[r as usize]);
    // Per pc, the registers renamed there: (original, its name for the reads, for the write).
    let mut renames: Vec<Vec<(u8, u8, u8)>> = vec![Vec::new(); insts.len()];
    let mut names: Vec<(u8, String)> = Vec::new();
    for w in regs {
        let r = w.reg;
        let reg_of: Vec<u8> = (0..w.count)
            .map(|k| match k {
                0 => r,
                _ => free
                    .next()
                    .inspect(|&x| names.push((x, format!("r{r}/{}", k + 1))))
                    .unwrap_or(r),
            })
            .collect();
        let name = |k: Option<usize>| k.map_or(r, |k| reg_of[k]);
        for (pc, m) in renames.iter_mut().enumerate() {
            let (read, write) = (name(w.read[pc]), name(w.write[pc]));
            if (read, write) != (r, r) {
                m.push((r, read, write));
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let mut def = program.def().clone();
    for (pc, inst) in def.insts.iter_mut().enumerate() {
        let map = &renames[pc];
        let to = |x: Reg, pick: fn(&(u8, u8, u8)) -> u8| {
            map.iter().find(|m| m.0 == x.0).map_or(x, |m| Reg(pick(m)))
        };
        *inst = inst.map_regs(|x| to(x, |m| m.1), |x| to(x, |m| m.2));
    }
    let program = Program::new(def).ok()?;
    let mut all: Vec<String> = (0..program.num_regs()).map(|r| format!("r{r}")).collect();
    for (x, name) in names {
        if let Some(slot) = all.get_mut(x as usize) {
            *slot = name;
        }
    }
    Some(Split {
        program,
        names: all,
    })
}

/// Whether vector code keeps register `r` as one scalar: lane-affine, or uniform with an
/// integer class (an index or count, where addresses and splits gain from it).
fn scalar_int(an: &Analysis, r: usize) -> bool {
    let uniform_int = an.reg_uniform.get(r).copied().unwrap_or(false)
        && an.reg_class.get(r).is_some_and(|c| c.lane_type().is_int());
    uniform_int || an.reg_affine.get(r).copied().unwrap_or(false)
}

/// `program` with its reused registers split into their webs where that helps the vector
/// code, or `None` if no register is split (or the program has calls):
/// - registers written at both widths (32 bits or fewer, and 64), which the analysis would
///   keep as 64-bit vectors converted at each 32-bit access, never lane-affine;
/// - registers with a web that is lane-affine or a uniform integer as a register of its own
///   where the register is not (`shl r7, r5, 4` then `add r7, r7, r1`: a row's first
///   column, then a lane's column; the lane's column as its own register made a tiled
///   gemm's loads contiguous). Not uniform floats: unoptimised vector code splats such a
///   value at each use (a layernorm's row mean and scale, 1% more instructions), and
///   splitting every reused register moved softmax_rows to wider groups that ran slower
///   (121 against 91 us) and cost it 50% more compile.
pub(crate) fn split(program: &Program, base: &Analysis) -> Option<Split> {
    let insts = program.insts();
    if insts
        .iter()
        .any(|i| matches!(i, Inst::Call { .. } | Inst::Ret))
    {
        return None;
    }
    let live = &base.live_regs;
    let live_at = |r: u8, pc: usize| live[pc][r as usize / 64] & (1 << (r % 64)) != 0;
    let widths = write_widths(insts, 256);
    let mut written = [0u32; 256];
    let mut int_write = [false; 256];
    for inst in insts.iter().filter(|i| !matches!(i, Inst::Loop { .. })) {
        if let Some((r, ty)) = operands(inst).dst {
            written[r as usize] += 1;
            int_write[r as usize] |= ty.is_int();
        }
    }
    let mixed = |r: u8| widths[r as usize] == (true, true);
    // Registers with two values or more (a write after a read of zero counts) that are
    // written at both widths, or could hold an integer kept as one scalar.
    let reused: Vec<RegWebs> = (0..=255u8)
        .filter(|&r| written[r as usize] + u32::from(live_at(r, 0)) >= 2)
        .filter(|&r| mixed(r) || (int_write[r as usize] && !scalar_int(base, r as usize)))
        .map(|r| webs_of(insts, &live_at, r))
        .filter(|w| w.count >= 2)
        .collect();
    let candidates: Vec<&RegWebs> = reused.iter().filter(|w| !mixed(w.reg)).collect();
    let mut chosen: Vec<&RegWebs> = reused.iter().filter(|w| mixed(w.reg)).collect();
    if !candidates.is_empty() {
        // Whether a web would be uniform or lane-affine: the analysis of the program with
        // every candidate split (each web's register is the first pc's write's).
        if let Some(all) = rename(program, &candidates) {
            let an = analyse(&all.program);
            let all_insts = all.program.insts();
            for w in &candidates {
                let better = (0..insts.len()).any(|pc| {
                    w.write[pc].is_some()
                        && all_insts[pc]
                            .dst_reg()
                            .is_some_and(|x| scalar_int(&an, x.0 as usize))
                });
                if better {
                    chosen.push(w);
                }
            }
        }
    }
    chosen.sort_by_key(|w| w.reg);
    rename(program, &chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asm(src: &str) -> Program {
        holovm_asm::assemble(src).expect("assembles")
    }

    #[test]
    fn splits_the_values_of_a_register_reused_at_both_widths_only() {
        let head = ".kernel t\n.param a: ptr u64\n.param c: ptr f32\n";
        let p = asm(&format!(
            "{head}ldg.u64 r1, [a + %gid*8]\nstg.u64 [a + %gid*8], r1\n\
             mov.u32 r1, %gid\nldg.f32 r2, [c + r1*4]\nmov.f32 r2, 1.0\nstg.f32 [c + r1*4], r2\nexit\n"
        ));
        let s = split(&p, &analyse(&p)).expect("r1 is split");
        assert_eq!(s.program.insts().len(), p.insts().len());
        // r1's second value moves to the first free register (r0); r2 (one width) stays.
        assert_eq!(s.program.insts()[2].dst_reg(), Some(Reg(0)));
        assert_eq!(s.program.insts()[0].dst_reg(), Some(Reg(1)));
        assert_eq!(s.program.insts()[4].dst_reg(), Some(Reg(2)));
        assert_eq!(s.names[0], "r1/2");
        assert_eq!(s.names[1], "r1");
        // Nothing to split: one width per register, or calls.
        let one = asm(&format!("{head}mov.u32 r1, 1\nmov.u32 r1, 2\nexit\n"));
        assert!(split(&one, &analyse(&one)).is_none());
        let call = asm(&format!(
            "{head}mov.u64 r1, 1\nmov.u32 r1, 2\ncall @f\nexit\nf:\nret\n"
        ));
        assert!(split(&call, &analyse(&call)).is_none());
    }

    #[test]
    fn splits_a_register_whose_value_would_be_one_scalar_of_its_own() {
        let head = ".kernel t\n.param a: ptr f32\n.param n: u32\n";
        // r7: a uniform row start, then a lane's column (lane-affine); r2: loaded values
        // only (per-lane either way); r3: a uniform float, then a per-lane one.
        let p = asm(&format!(
            "{head}mul.u32 r7, %block, n\nadd.u32 r7, r7, %lane\nldg.f32 r2, [a + r7*4]\n\
             mov.f32 r3, 2.0\nmul.f32 r2, r2, r3\nldg.f32 r3, [a + r7*4]\nadd.f32 r2, r2, r3\n\
             stg.f32 [a + r7*4], r2\nexit\n"
        ));
        let s = split(&p, &analyse(&p)).expect("r7 is split");
        assert_eq!(s.program.insts()[1].dst_reg(), Some(Reg(0)));
        assert_eq!(s.names[0], "r7/2");
        let an = analyse(&s.program);
        assert!(an.reg_uniform[7] && an.reg_affine[0]);
        for pc in [2, 4, 5, 6, 7] {
            assert_eq!(
                s.program.insts()[pc],
                p.insts()[pc].map_regs(|r| if r == Reg(7) { Reg(0) } else { r }, |r| r,)
            );
        }
        // Nothing else to gain: no split.
        let q = asm(&format!(
            "{head}mov.f32 r3, 2.0\nldg.f32 r2, [a + %gid*4]\nmul.f32 r2, r2, r3\n\
             ldg.f32 r3, [a + %gid*4]\nadd.f32 r2, r2, r3\nstg.f32 [a + %gid*4], r2\nexit\n"
        ));
        assert!(split(&q, &analyse(&q)).is_none());
    }
}
