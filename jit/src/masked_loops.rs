//! Loops whose lanes leave at different iterations, which vector code runs under lane
//! masks instead of in per-lane code (the translation is in vector/masked_loop.rs).
//!
//! A *masked loop* is a loop `top ..= back` closed by a backward `bra` at `back`, with one
//! conditional exit at `exit` whose predicate is per-lane: either `@p bra @out` inside the
//! loop (`out` past `back`, the back edge unconditional) or the back edge itself
//! (`@p bra @top`, leaving to `out = back + 1`). Its other instructions are moves,
//! arithmetic without integer division, compares, selects and loads: no store, no other
//! branch. So running its code again from `exit` repeats nothing a lane could see, and a
//! check that fails inside (fuel, the NaN test of a vector min/max) sends the group back to
//! `exit` in per-lane code with its registers as they were there.
//!
//! The registers and predicates the loop writes are per-lane in the vector code of such a
//! program (lanes that left keep their values while the others go on), even where the
//! uniformity analysis alone would keep them scalar; [`demoted`] lists them.

use holovm_isa::{BinOp, Inst};

use crate::analysis::{operands, src_affine};

/// One masked loop, recorded at its exit branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MaskedLoop {
    /// The loop's first instruction (the back edge's target).
    pub top: u32,
    /// The back edge: a `bra` to `top`.
    pub back: u32,
    /// Where lanes that leave the loop go.
    pub out: u32,
    /// Whether the loop loads (its masked copy then masks the gathers of the lanes that
    /// left).
    pub loads: bool,
}

/// Whether vector code can run `inst` inside a masked loop: nothing that stores, divides
/// integers (a zero divisor traps), branches, calls or waits. (A load that fails its check
/// sends the group back to the exit branch, like any check in the loop.)
fn maskable(inst: &Inst) -> bool {
    match inst {
        Inst::Mov { .. } | Inst::Cvt { .. } | Inst::Un { .. } | Inst::Fma { .. } => true,
        Inst::Ldg { .. } | Inst::Lds { .. } => true,
        Inst::Setp { .. } | Inst::Sel { .. } | Inst::MemFence => true,
        Inst::Bin { op, ty, .. } => !matches!(op, BinOp::Div | BinOp::Rem) || ty.is_float(),
        _ => false,
    }
}

/// Whether some `setp` writing predicate `p` compares a lane-index value (`%gid`, `%lane`
/// or a lane-affine register): such loops (grid-stride loops) keep their affine tests.
fn lane_index_pred(insts: &[Inst], p: u8, affine: &[bool]) -> bool {
    insts.iter().any(|i| {
        matches!(i, Inst::Setp { dst, a, b, .. }
            if dst.0 == p && (src_affine(a, affine) || src_affine(b, affine)))
    })
}

/// Per pc: the masked loop whose exit branch is there. `pred_uniform` and `reg_affine` are
/// the analysis's before any demotion.
pub(crate) fn find(
    insts: &[Inst],
    pred_uniform: &[bool],
    reg_affine: &[bool],
) -> Vec<Option<MaskedLoop>> {
    let mut out: Vec<Option<MaskedLoop>> = vec![None; insts.len()];
    for (back, inst) in insts.iter().enumerate() {
        let Inst::Bra { target, guard } = *inst else {
            continue;
        };
        let top = target as usize;
        if top > back {
            continue;
        }
        let branches: Vec<usize> = (top..back).filter(|&q| !maskable(&insts[q])).collect();
        let (exit, to, g) = match guard {
            Some(g) if branches.is_empty() => (back, back as u32 + 1, g),
            None => match branches.as_slice() {
                [q] => match insts[*q] {
                    Inst::Bra {
                        target: t,
                        guard: Some(g),
                    } if t as usize > back => (*q, t, g),
                    _ => continue,
                },
                _ => continue,
            },
            _ => continue,
        };
        // Loads run under a masked level (their gathers mask the lanes that left), where
        // a compare of a lane index (kept as an affine pair, not masks) cannot go.
        let region = &insts[top..=back];
        let loads = region
            .iter()
            .any(|i| matches!(i, Inst::Ldg { .. } | Inst::Lds { .. }));
        let lane_compare = region.iter().any(|i| match i {
            Inst::Setp { dst, .. } => lane_index_pred(insts, dst.0, reg_affine),
            _ => false,
        });
        if loads && lane_compare {
            continue;
        }
        let p = g.pred.0;
        let per_lane = !pred_uniform.get(p as usize).copied().unwrap_or(true);
        if !per_lane || lane_index_pred(insts, p, reg_affine) || out[exit].is_some() {
            continue;
        }
        out[exit] = Some(MaskedLoop {
            top: top as u32,
            back: back as u32,
            out: to,
            loads,
        });
    }
    out
}

/// The registers and predicates written inside masked loops, which must be per-lane.
pub(crate) fn demoted(
    insts: &[Inst],
    loops: &[Option<MaskedLoop>],
    nregs: usize,
    npreds: usize,
) -> (Vec<bool>, Vec<bool>) {
    let mut regs = vec![false; nregs];
    let mut preds = vec![false; npreds];
    for l in loops.iter().flatten() {
        for inst in &insts[l.top as usize..=l.back as usize] {
            let o = operands(inst);
            if let Some(r) = o.dst.and_then(|(r, _)| regs.get_mut(r as usize)) {
                *r = true;
            }
            if let Some(p) = o.pred_dst.and_then(|p| preds.get_mut(p as usize)) {
                *p = true;
            }
        }
    }
    (regs, preds)
}
