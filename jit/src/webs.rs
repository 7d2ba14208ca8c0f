//! Registers and predicates reused for unrelated values split into their *webs* before the
//! analysis. A web is a set of writes of a register that reach a common read, with those
//! reads: one value's life. A register reused for unrelated values (a `u64` loaded and
//! stored, then the register reused as a `u32` index) is one register to the analysis: a
//! 64-bit vector whose 32-bit accesses convert, never lane-affine, so the index would be
//! gathered lane by lane where a register of its own is a contiguous access (65,536 lanes:
//! 138 against 14 us); a predicate reused for a per-lane compare and then a uniform one makes
//! the uniform one's branch a divergent one. Each web after the first of such a register
//! (predicate) becomes a register (predicate) of its own, one the program does not use, in a
//! copy of the program the JIT compiles; the instructions and their pcs stay as they are,
//! so traps, fuel and listings do not change. Programs with `call` / `ret` are left as they
//! are (a subroutine's registers are the caller's), and so are the webs for which no
//! register is free.

use holovm_isa::{Inst, Pred, Program, Reg};

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

/// Whether `inst` writes register (`pred`: predicate) `r`, starting a value: not a `loop`'s
/// counter, which the loop updates in place (its value goes on around the loop).
fn writes(inst: &Inst, pred: bool, r: u8) -> bool {
    match pred {
        true => inst.pred_written() == Some(Pred(r)),
        false => inst.dst_reg() == Some(Reg(r)) && !matches!(inst, Inst::Loop { .. }),
    }
}

/// A union-find over the webs' starts.
fn find(parent: &mut [usize], mut k: usize) -> usize {
    while parent[k] != k {
        parent[k] = parent[parent[k]];
        k = parent[k];
    }
    k
}

/// The values of one register or predicate: per pc, the web its read belongs to and the
/// web its write starts (webs numbered from 0 in order of their first pc).
struct RegWebs {
    /// A predicate's webs, not a register's.
    pred: bool,
    reg: u8,
    read: Vec<Option<usize>>,
    write: Vec<Option<usize>>,
    count: usize,
}

/// Register (`pred`: predicate) `r`'s webs: each value flooded forward from its start while
/// `r` is live (`live_at(pc)`) and not written again; a value that reaches a pc another
/// value reached joins its web (what lies beyond was flooded by that web already), so every
/// pc is visited once.
fn webs_of(insts: &[Inst], live_at: impl Fn(usize) -> bool, pred: bool, r: u8) -> RegWebs {
    let n = insts.len();
    let writes = |pc: usize| writes(&insts[pc], pred, r);
    // The starts of r's values: the program's entry if r is read before any write (zero),
    // then each write.
    let starts: Vec<Option<usize>> = live_at(0)
        .then_some(None)
        .into_iter()
        .chain((0..n).filter(|&pc| writes(pc)).map(Some))
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
            if pc >= n || !live_at(pc) {
                continue;
            }
            if web_of[pc] != usize::MAX {
                let (a, b) = (find(&mut parent, k), find(&mut parent, web_of[pc]));
                parent[a.max(b)] = a.min(b);
                continue;
            }
            web_of[pc] = k;
            if !writes(pc) {
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
        pred,
        reg: r,
        read,
        write,
        count,
    }
}

/// `program` with each web in `webs` after its register's (predicate's) first in a
/// register (predicate) the program does not use, while there are such, and the
/// registers' names.
fn rename(program: &Program, webs: &[&RegWebs]) -> Option<Split> {
    let insts = program.insts();
    let (mut used, mut used_preds) = ([false; 256], [false; 16]);
    for inst in insts {
        for r in inst.sources().filter_map(|s| s.reg()).chain(inst.dst_reg()) {
            used[r.0 as usize] = true;
        }
        for p in inst.pred_read().into_iter().chain(inst.pred_written()) {
            if let Some(u) = used_preds.get_mut(p.0 as usize) {
                *u = true;
            }
        }
    }
    let mut free = (0..=255u8).filter(|&r| !used[r as usize]);
    let mut free_preds = (0..16u8).filter(|&p| !used_preds[p as usize]);
    // Per pc, what is renamed there: (predicate?, original, its name for the reads, for
    // the write).
    let mut renames: Vec<Vec<(bool, u8, u8, u8)>> = vec![Vec::new(); insts.len()];
    let mut names: Vec<(u8, String)> = Vec::new();
    for w in webs {
        let r = w.reg;
        let reg_of: Vec<u8> = (0..w.count)
            .map(|k| match (k, w.pred) {
                (0, _) => r,
                (_, true) => free_preds.next().unwrap_or(r),
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
                m.push((w.pred, r, read, write));
            }
        }
    }
    if renames.iter().all(Vec::is_empty) {
        return None;
    }
    let mut def = program.def().clone();
    for (pc, inst) in def.insts.iter_mut().enumerate() {
        let map = &renames[pc];
        let to = |pred: bool, x: u8, write: bool| {
            map.iter()
                .find(|m| (m.0, m.1) == (pred, x))
                .map_or(x, |m| if write { m.3 } else { m.2 })
        };
        *inst = inst
            .map_regs(
                |x| Reg(to(false, x.0, false)),
                |x| Reg(to(false, x.0, true)),
            )
            .map_preds(
                |p| Pred(to(true, p.0, false)),
                |p| Pred(to(true, p.0, true)),
            );
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

/// Whether vector code keeps register `r` as one scalar: lane-affine, stepped (a byte
/// offset), or uniform with an integer class (an index or count, where addresses and
/// splits gain from it).
fn scalar_int(an: &Analysis, r: usize) -> bool {
    let uniform_int = an.reg_uniform.get(r).copied().unwrap_or(false)
        && an.reg_class.get(r).is_some_and(|c| c.lane_type().is_int());
    uniform_int
        || an.reg_affine.get(r).copied().unwrap_or(false)
        || an.reg_step.get(r).copied().unwrap_or(0) != 0
}

/// `program` with its reused registers and predicates split into their webs where that
/// helps the vector code (`base` is its analysis), or `None` if none is split (or the
/// program has calls):
/// - registers written at both widths (32 bits or fewer, and 64), which the analysis would
///   keep as 64-bit vectors converted at each 32-bit access, never lane-affine;
/// - registers with a web that is lane-affine or a uniform integer as a register of its own
///   where the register is not (`shl r7, r5, 4` then `add r7, r7, r1`: a row's first
///   column, then a lane's column; the lane's column as its own register made a tiled
///   gemm's loads contiguous). Not uniform floats: unoptimised vector code splats such a
///   value at each use (a layernorm's row mean and scale, 1% more instructions), and
///   splitting every reused register moved softmax_rows to wider groups that ran slower
///   (121 against 91 us) and cost it 50% more compile;
/// - predicates with a web that is uniform as a predicate of its own where the predicate
///   is not (`setp p3` of a lane's column, then of the tile's row: the second branch is a
///   plain branch, not one under lane masks).
pub(crate) fn split(program: &Program, base: &Analysis) -> Option<Split> {
    let insts = program.insts();
    if insts
        .iter()
        .any(|i| matches!(i, Inst::Call { .. } | Inst::Ret))
    {
        return None;
    }
    let live = |r: u8, pc: usize| base.live_regs[pc][r as usize / 64] & (1 << (r % 64)) != 0;
    let live_pred = |p: u8, pc: usize| base.live_preds[pc] & (1 << p) != 0;
    let widths = write_widths(insts, 256);
    let (mut written, mut int_write, mut pred_writes) = ([0u32; 256], [false; 256], [0u32; 16]);
    for inst in insts.iter().filter(|i| !matches!(i, Inst::Loop { .. })) {
        if let Some((r, ty)) = operands(inst).dst {
            written[r as usize] += 1;
            int_write[r as usize] |= ty.is_int();
        }
        if let Some(w) = inst
            .pred_written()
            .and_then(|p| pred_writes.get_mut(p.0 as usize))
        {
            *w += 1;
        }
    }
    let both = |r: u8| widths[r as usize] == (true, true);
    let mixed = |w: &RegWebs| !w.pred && both(w.reg);
    // Registers with two values or more (a write after a read of zero counts) that are
    // written at both widths or could hold an integer kept as one scalar, and predicates
    // with two values or more that are not uniform.
    let regs = (0..=255u8)
        .filter(|&r| written[r as usize] + u32::from(live(r, 0)) >= 2)
        .filter(|&r| both(r) || (int_write[r as usize] && !scalar_int(base, r as usize)))
        .map(|r| webs_of(insts, |pc| live(r, pc), false, r));
    let preds = (0..16u8)
        .filter(|&p| pred_writes[p as usize] + u32::from(live_pred(p, 0)) >= 2)
        .filter(|&p| !base.pred_uniform.get(p as usize).copied().unwrap_or(true))
        .map(|p| webs_of(insts, |pc| live_pred(p, pc), true, p));
    let reused: Vec<RegWebs> = regs.chain(preds).filter(|w| w.count >= 2).collect();
    let candidates: Vec<&RegWebs> = reused.iter().filter(|w| !mixed(w)).collect();
    let mut chosen: Vec<&RegWebs> = reused.iter().filter(|w| mixed(w)).collect();
    if !candidates.is_empty() {
        // Whether a web would be uniform or lane-affine: the analysis of the program with
        // every candidate split (each web's register is the first pc's write's).
        if let Some(all) = rename(program, &candidates) {
            let an = analyse(&all.program);
            let all_insts = all.program.insts();
            for w in &candidates {
                let better = (0..insts.len()).any(|pc| {
                    let inst = &all_insts[pc];
                    w.write[pc].is_some()
                        && match w.pred {
                            true => inst.pred_written().is_some_and(|p| {
                                an.pred_uniform.get(p.0 as usize).copied().unwrap_or(false)
                            }),
                            false => inst
                                .dst_reg()
                                .is_some_and(|x| scalar_int(&an, x.0 as usize)),
                        }
                });
                if better {
                    chosen.push(w);
                }
            }
        }
    }
    chosen.sort_by_key(|w| (w.pred, w.reg));
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

    #[test]
    fn splits_a_predicate_whose_value_would_be_uniform_of_its_own() {
        // p1: a lane's compare, then a uniform one (a free predicate, p0, takes it); p2:
        // per-lane both times, not split.
        let p = asm(".kernel t\n.param a: ptr u32\n.param n: u32\n\
             setp.lt.u32 p1, %gid, n\n@!p1 bra @skip\nstg.u32 [a + %gid*4], 1\nskip:\n\
             setp.lt.u32 p1, n, 7\n@p1 bra @end\nsetp.eq.u32 p2, %lane, 3\n@p2 bra @end\n\
             setp.eq.u32 p2, %lane, 4\n@p2 bra @end\nstg.u32 [a + %gid*4], 2\nend:\nexit\n");
        let s = split(&p, &analyse(&p)).expect("p1 is split");
        let insts = s.program.insts();
        assert_eq!(insts[0].pred_written(), Some(Pred(1)));
        assert_eq!(insts[1].pred_read(), Some(Pred(1)));
        assert_eq!(insts[3].pred_written(), Some(Pred(0)));
        assert_eq!(insts[4].pred_read(), Some(Pred(0)));
        assert_eq!(insts[5].pred_written(), Some(Pred(2)));
        assert_eq!(insts[7].pred_written(), Some(Pred(2)));
        assert!(analyse(&s.program).pred_uniform[0]);
    }
}
