//! Vector groups that come back together at a barrier.
//!
//! A group whose lanes left vector code (a divergent branch, a failed check: a halo load
//! by a block's first lanes, `if %lane < 8`) runs them one by one in the per-lane code, and
//! each parks at the next barrier on its own. After the barrier the group used to stay in
//! the per-lane code for the rest of the block, though its lanes are together again, as a
//! GPU's reconverge there: a 1-D convolution whose first group loaded a halo ran its
//! 9-tap loop lane by lane in that group, 3.6x the time of the same kernel without the
//! halo. Now the resolver, having released the block, checks each such group: every lane
//! READY at the same pc with the same fuel and no call frames, and the registers and
//! predicates that vector code keeps as one scalar (live there) holding what one vector
//! group's lanes would (the same value, or `v + l` in lane `l` for a lane-affine
//! register). Then it marks the group parked ([`flag::PARKED`]), so the next phase resumes
//! it as vector code like a group the vector code parked (resume.rs); every lane's words
//! and slots are written, so if it does not resume, the per-lane code runs its lanes as
//! before. (The status and call-depth tests are belt and braces: lanes that did not wait
//! at the barrier are at other pcs, and vector code never runs inside a call.)

use holovm_isa::{Inst, Program};

use crate::analysis::{src_affine, Analysis};
use crate::parked::flag;
use crate::resume::resume_pcs;
use crate::translate::{s_home, status, ScratchLayout};

/// [`status::READY`] as stored.
const READY: u32 = status::READY as u32;

/// What the resolver checks before a group whose lanes the per-lane code ran resumes as
/// vector code after one barrier: the per-lane slots (offset, bytes a lane) of the registers
/// live after it that vector code keeps uniform, of those it keeps lane-affine, and of the
/// uniform predicates (8 bytes a lane).
#[derive(Debug, Default)]
pub(crate) struct Regroup {
    uniform: Vec<(usize, usize)>,
    /// With each one's step (1 for a lane-affine register, 2, 4 or 8 for a stepped one).
    affine: Vec<((usize, usize), u32)>,
    preds: Vec<usize>,
}

/// Per barrier pc, the [`Regroup`] checks after it; `None` where vector code does not
/// resume there (a `reduce` at the end, a `bar.sync` as the last instruction), or where a
/// predicate that may be lane-affine is live (vector code keeps such a predicate as a
/// pair, which the lanes' own values do not give).
pub(crate) fn regroups(
    program: &Program,
    an: &Analysis,
    layout: &ScratchLayout,
) -> Vec<(u32, Option<Regroup>)> {
    let insts = program.insts();
    // Predicates some `setp` writes from a lane-affine operand (a superset of those vector
    // code keeps as pairs).
    let mut maybe_affine = 0u16;
    for inst in insts {
        if let Inst::Setp { dst, a, b, .. } = inst {
            if [a, b].iter().any(|s| src_affine(s, &an.reg_affine)) {
                maybe_affine |= 1 << (dst.0 % 16);
            }
        }
    }
    let resumes = resume_pcs(program, &an.live_preds, maybe_affine);
    let stride8 = layout.stride as usize * 8;
    insts
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Inst::BarSync | Inst::Reduce { .. }))
        .map(|(pc, _)| {
            let at = pc + 1;
            let live_p = an.live_preds.get(at).copied().unwrap_or(0);
            // (After a `bar.sync` vector code resumes with such predicates live; regrouped
            // lanes cannot.)
            if !resumes.contains(&(at as u32)) || live_p & maybe_affine != 0 {
                return (pc as u32, None);
            }
            let live_r = an.live_regs.get(at).copied().unwrap_or([0; 4]);
            let mut r = Regroup::default();
            for reg in 0..an.reg_class.len() {
                if live_r[reg / 64] & (1 << (reg % 64)) == 0 {
                    continue;
                }
                let slot = (
                    layout.reg_offset(reg) as usize,
                    s_home(an, reg).bytes() as usize,
                );
                if an.reg_uniform[reg] {
                    r.uniform.push(slot);
                } else if an.reg_affine[reg] {
                    r.affine.push((slot, 1));
                } else if an.reg_step[reg] != 0 {
                    r.affine.push((slot, u32::from(an.reg_step[reg])));
                }
            }
            for p in 0..an.pred_uniform.len() {
                if an.pred_uniform[p] && live_p & (1 << (p % 16)) != 0 {
                    r.preds.push(layout.predfile as usize + p * stride8);
                }
            }
            (pc as u32, Some(r))
        })
        .collect()
}

/// The offsets of the per-lane words [`regroup`] reads: status, pc and fuel, the call
/// depth (programs with calls) and the groups' flags.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Words {
    pub status: usize,
    pub pc: usize,
    pub fuel: usize,
    pub depth: Option<usize>,
    pub flags: usize,
}

/// After the barrier `checks` belongs to was released: marks each full group of `g` lanes
/// from the one of lane `from` (the phase's scan word: the lowest lane the vector code left
/// to the per-lane code, `i32::MAX` if none) below `end` whose lanes the per-lane code ran
/// (flag 0) and that passes the checks as parked ([`flag::PARKED`]), so that the next
/// phase resumes it as vector code.
///
/// # Safety
///
/// `scratch` is the scratch memory of the layout `w` and `checks` were built for, with the
/// block's per-lane words and register file, which nothing else accesses during the call;
/// `g` is the kernel's group size (0: no vector code).
pub(crate) unsafe fn regroup(
    checks: &Regroup,
    w: Words,
    scratch: *mut u8,
    g: u32,
    from: u32,
    end: u32,
) {
    let (g, end) = (g as usize, end.min(holovm_isa::MAX_BLOCK) as usize);
    let from = from as usize / g.max(1) * g;
    if g == 0 || from >= end {
        return;
    }
    // SAFETY (each slice): the per-lane arrays have MAX_BLOCK entries of their type at
    // aligned offsets of the 64-byte aligned scratch memory; `l + g <= end <= MAX_BLOCK`.
    let words = |off: usize, l: usize| unsafe {
        std::slice::from_raw_parts(scratch.add(off + 4 * l).cast::<u32>(), g)
    };
    // SAFETY: as above; the flags are apart from the other arrays.
    let flags = unsafe { std::slice::from_raw_parts_mut(scratch.add(w.flags).cast::<u32>(), end) };
    for (k, group) in flags[from..].chunks_exact_mut(g).enumerate() {
        // SAFETY: as above, for the slots of the registers in `checks` (the register file
        // has MAX_BLOCK lanes' slots per register).
        if group[0] == 0 && unsafe { together(checks, w, scratch, from + k * g, g, &words) } {
            group[0] = flag::PARKED as u32;
        }
    }
}

/// Whether the `g` lanes from `l` are together as one vector group's lanes: see
/// [`regroup`]. (Each test is a branch-free pass, which the compiler vectorises: with
/// early exits lane by lane, the pass was a tenth of a scan kernel's time.)
///
/// # Safety
///
/// As [`regroup`], for the lanes `l .. l + g`.
unsafe fn together(
    checks: &Regroup,
    w: Words,
    scratch: *mut u8,
    l: usize,
    g: usize,
    words: &impl Fn(usize, usize) -> &'static [u32],
) -> bool {
    let (st, pcs) = (words(w.status, l), words(w.pc, l));
    let pc0 = pcs[0];
    let at_pc = st
        .iter()
        .zip(pcs)
        .fold(true, |ok, (&s, &p)| ok & (s == READY) & (p == pc0));
    if !at_pc
        || w.depth
            .is_some_and(|d| !steps(words(d, l), 0, 0, u32::wrapping_add))
    {
        return false;
    }
    // SAFETY: the caller's, for 8-byte slots.
    let u64s = |off: usize| unsafe {
        std::slice::from_raw_parts(scratch.add(off + 8 * l).cast::<u64>(), g)
    };
    let same = |v: &[u64]| steps(v, v[0], 0, u64::wrapping_add);
    if !same(u64s(w.fuel)) || !checks.preds.iter().all(|&off| same(u64s(off))) {
        return false;
    }
    // Lane k holds the first lane's value plus `k * step` (wrapping in the slot's width).
    let slots = |(off, bytes): (usize, usize), step: u32| match bytes {
        4 => {
            let v = words(off, l);
            steps(v, v[0], step, u32::wrapping_add)
        }
        _ => {
            let v = u64s(off);
            steps(v, v[0], u64::from(step), u64::wrapping_add)
        }
    };
    checks.uniform.iter().all(|&s| slots(s, 0))
        && checks.affine.iter().all(|&(s, step)| slots(s, step))
}

/// Whether `v[k] == first + k * step` for every `k` (`add`: the slot width's wrapping
/// addition).
fn steps<T: Copy + PartialEq>(v: &[T], first: T, step: T, add: fn(T, T) -> T) -> bool {
    let mut want = first;
    v.iter().fold(true, |ok, &x| {
        let hit = x == want;
        want = add(want, step);
        ok & hit
    })
}
