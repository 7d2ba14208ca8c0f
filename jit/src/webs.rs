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

use crate::analysis::{liveness, write_widths};

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

/// `program` with the registers written at both widths split into their webs, or `None`
/// if no such register holds more than one value (or the program has calls).
pub(crate) fn split(program: &Program) -> Option<Split> {
    let insts = program.insts();
    let n = insts.len();
    if insts
        .iter()
        .any(|i| matches!(i, Inst::Call { .. } | Inst::Ret))
    {
        return None;
    }
    let mut used = [false; 256];
    for inst in insts {
        for r in inst.sources().filter_map(|s| s.reg()).chain(inst.dst_reg()) {
            used[r.0 as usize] = true;
        }
    }
    // The registers split: those written at both widths (32 bits or fewer, and 64), which
    // the analysis would keep as 64-bit vectors converted at each 32-bit access, never
    // lane-affine. (Splitting every reused register also made some values uniform, but
    // moved softmax_rows to wider groups that ran slower, 121 against 91 us, and cost
    // 50% more compile.)
    let widths = write_widths(insts, 256);
    if !widths.contains(&(true, true)) {
        return None;
    }
    let (live, _) = liveness(insts);
    let live_at = |r: u8, pc: usize| live[pc][r as usize / 64] & (1 << (r % 64)) != 0;
    let mut free = (0..=255u8).filter(|&r| !used[r as usize]);
    // Per pc, the registers renamed there: (original, its name for the reads, for the write).
    let mut renames: Vec<Vec<(u8, u8, u8)>> = vec![Vec::new(); n];
    let mut names: Vec<(u8, String)> = Vec::new();
    let mut web_of = vec![usize::MAX; n];
    let mut start_at = vec![usize::MAX; n];
    for r in (0..=255u8).filter(|&r| widths[r as usize] == (true, true)) {
        // The starts of r's values: the program's entry if r is read before any write
        // (zero), then each write.
        let entry = live_at(r, 0);
        let starts: Vec<Option<usize>> = entry
            .then_some(None)
            .into_iter()
            .chain((0..n).filter(|&pc| writes(&insts[pc], r)).map(Some))
            .collect();
        for (k, s) in starts.iter().enumerate() {
            if let Some(pc) = *s {
                start_at[pc] = k;
            }
        }
        // Flood each start's value forward while r is live and not written again; a value
        // that reaches a pc another value reached joins its web (what lies beyond was
        // flooded by that web already), so every pc is visited once.
        let mut parent: Vec<usize> = (0..starts.len()).collect();
        web_of.fill(usize::MAX);
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
        // A register for each web that is read, the first keeping r's; a value never read
        // keeps r too (r is dead after it, so it clobbers no other web).
        let mut reg_of: Vec<Option<u8>> = vec![None; starts.len()];
        let mut webs = 0;
        for &k in web_of.iter().filter(|&&k| k != usize::MAX) {
            let w = find(&mut parent, k);
            if reg_of[w].is_none() {
                webs += 1;
                reg_of[w] = match webs {
                    1 => Some(r),
                    _ => free.next(),
                };
                if let Some(x) = reg_of[w].filter(|&x| x != r) {
                    names.push((x, format!("r{r}/{webs}")));
                }
            }
        }
        let mut name = |k: usize| reg_of[find(&mut parent, k)].unwrap_or(r);
        for pc in 0..n {
            let read = match web_of[pc] {
                usize::MAX => r,
                k => name(k),
            };
            let write = match start_at[pc] {
                usize::MAX => r,
                k => name(k),
            };
            start_at[pc] = usize::MAX;
            if (read, write) != (r, r) {
                renames[pc].push((r, read, write));
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
        let s = split(&p).expect("r1 is split");
        assert_eq!(s.program.insts().len(), p.insts().len());
        // r1's second value moves to the first free register (r0); r2 (one width) stays.
        assert_eq!(s.program.insts()[2].dst_reg(), Some(Reg(0)));
        assert_eq!(s.program.insts()[0].dst_reg(), Some(Reg(1)));
        assert_eq!(s.program.insts()[4].dst_reg(), Some(Reg(2)));
        assert_eq!(s.names[0], "r1/2");
        assert_eq!(s.names[1], "r1");
        // Nothing to split: one width per register, or calls.
        let one = asm(&format!("{head}mov.u32 r1, 1\nmov.u32 r1, 2\nexit\n"));
        assert!(split(&one).is_none());
        let call = asm(&format!(
            "{head}mov.u64 r1, 1\nmov.u32 r1, 2\ncall @f\nexit\nf:\nret\n"
        ));
        assert!(split(&call).is_none());
    }
}
