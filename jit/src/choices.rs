//! The compile's tuning choices: the vector group size ([`auto_group`]), whether
//! Cranelift's optimiser runs on the kernel function ([`no_optimiser`]), and whether a
//! vector kernel's per-lane function would take too long to compile ([`costly_resumes`]).

use std::collections::BTreeSet;

use holovm_isa::{Inst, Program, Src};

use crate::analysis::{Analysis, Clamp};
use crate::compile::JitOptions;

/// Picks the vector group size from the register pressure: the most per-lane registers live
/// at any instruction times the vectors each needs must stay within the 16 XMM registers
/// (8 for programs with transcendentals, whose temporaries need room); 32 lanes hide the
/// latency of loop bodies and amortise the per-group overhead of straight-line kernels.
/// Programs with transcendentals stop at 16 lanes: each one expands to ~40 CLIF
/// instructions per vector, so 32 lanes cost 30-40% more compile time for no gain, while
/// 8 lanes save 25% of it but run gelu and sigmoid up to 10% slower. Programs with per-lane
/// addresses (gathers and scatters, one load or store per lane) take 8 lanes: matvec runs
/// 20% faster than with 16 (fewer rows in flight) and compiles in 35% less time; 4 when
/// more than 8 vectors would be live (a gather's extracts, inserts and limits need the
/// rest): a gemm with per-lane indices (5 per-lane registers) spilled a third of its vectors
/// with 8 lanes and ran 30% faster with 4, matvec's (3) runs 15% slower with 4. (Loads
/// through a clamp that vector code tests for consecutive indices do not count: a clamped
/// 3-point stencil, 65,536 lanes, ran in 40.5 us with 16 lanes, 45.8 with 8.) Programs with
/// row/column splits take at most what [`split_cap`] allows. Programs with `bar.sync` take
/// 32 lanes while at most 32 vectors would be live (see below), before the rules above.
///
/// Masked branches add their lane masks (one vector set per enclosing `if`, two per
/// `if`/`else`): an else-if chain of two 32-bit registers spilled with 32 lanes (47.5 us
/// for 64K elements, 42 with 8, when its sides were still guarded by tests; branch-free,
/// 29.0 and 27.0 us, within noise).
pub(crate) fn auto_group(program: &Program, an: &Analysis) -> u32 {
    // A bounds guard on `%gid` at pc 0-1 is usually folded into the group limit (see
    // `Tr::entry_guard`): no masks.
    let guard = matches!(program.insts().first(), Some(Inst::Setp { a, b, .. })
        if [a, b].contains(&&holovm_isa::Src::Special(holovm_isa::Special::GlobalId)));
    let mut masks = vec![0u32; an.live_regs.len()];
    for (pc, mb) in an.masked.iter().enumerate() {
        if let Some(mb) = mb.filter(|_| !(guard && pc == 1)) {
            let sets = if mb.else_at.is_some() { 2 } else { 1 };
            for m in masks.iter_mut().take(mb.join as usize).skip(pc) {
                *m += sets;
            }
        }
    }
    // A masked loop holds its lanes' keep masks and bonus counts (vector/masked_loop.rs).
    for l in an.masked_loops.iter().flatten() {
        for m in masks
            .iter_mut()
            .take(l.back as usize + 1)
            .skip(l.top as usize)
        {
            *m += 2;
        }
    }
    let mut max_pressure = [0u32; 3]; // for G = 8, 16, 32
    for (live, &m) in an.live_regs.iter().zip(&masks) {
        let (mut v32, mut v64) = (m, 0u32);
        for (r, c) in an.reg_class.iter().enumerate() {
            let scalar = an.reg_uniform[r] || an.reg_affine[r] || an.reg_step[r] != 0;
            if live[r / 64] & (1 << (r % 64)) != 0 && !scalar {
                if c.lane_type().bits() == 64 {
                    v64 += 1;
                } else {
                    v32 += 1;
                }
            }
        }
        for (i, g) in [8u32, 16, 32].into_iter().enumerate() {
            max_pressure[i] = max_pressure[i].max(v32 * (g / 4) + v64 * (g / 2));
        }
    }
    let has_math = has_transcendentals(program);
    let cap = split_cap(program, an);
    // Every group parks and resumes at each `bar.sync`, whose phases are often a few
    // instructions (shared-memory exchanges): 32 lanes halve that machinery against 16,
    // even where vectors spill (a tree reduction runs 17% faster than with 16 lanes, a
    // stencil of gathers from shared memory 32% faster than with 8).
    // (A split by 16, as in a tiled gemm's 16 x 16 lanes, takes 16: 32 would straddle.)
    let bar_sync = program.insts().contains(&Inst::BarSync);
    if bar_sync && !has_math {
        if max_pressure[2] <= 32 && cap >= 32 {
            return 32;
        }
        if max_pressure[1] <= 32 && cap == 16 {
            return 16;
        }
    }
    if has_lane_addresses(program, an) {
        return cap.min(if max_pressure[0] <= 8 { 8 } else { 4 });
    }
    let limit = if has_math { 8 } else { 16 };
    if max_pressure[2] <= limit && !has_math && cap >= 32 {
        32
    } else if max_pressure[1] <= limit && cap >= 16 {
        16
    } else {
        cap.min(8)
    }
}

/// The widest group the program's row/column splits ([`Analysis::kept_split`]) allow: 32
/// without splits. A group's lanes start at a multiple of its size (of `%gid` too, in
/// blocks whose size is a multiple of it), so a split of `%gid` or `%lane` by a constant
/// never straddles a multiple of it in groups of the constant's largest power-of-two
/// factor (4 to 32): a 16 x 16 tile's `%lane / 16` ran a tiled gemm 2.8x faster in groups
/// of 16 than of 8. Other splits take 8: with the group head realigning groups to rows,
/// 16 lanes ran rows of 128 35-40% faster than 8, but rows of 100 and 33 10-20% slower
/// (gemm, the kernel alone, in one process).
fn split_cap(program: &Program, an: &Analysis) -> u32 {
    program
        .insts()
        .iter()
        .filter_map(|i| an.kept_split(i))
        .map(|s| match (s.dividend, s.divisor) {
            (Src::Special(_), Src::Imm(d)) if d % 4 == 0 && d > 0 => 1 << d.trailing_zeros().min(5),
            _ => 8,
        })
        .min()
        .unwrap_or(32)
}

/// Whether the program computes a transcendental function (exp, log, tanh, sin, ...: the
/// float-only unary operations other than the square roots), each a sequence of ~40
/// instructions and ~15 constants per vector.
fn has_transcendentals(program: &Program) -> bool {
    program
        .insts()
        .iter()
        .any(|i| matches!(i, Inst::Un { op, .. } if crate::math::is_transcendental(*op)))
}

/// Why the kernel function is compiled without Cranelift's optimiser, or `None` to compile
/// it with: programs with transcendentals and (unless `opts` decides) programs with barriers
/// go without.
///
/// - Transcendentals: value numbering shares their constants between a group's vectors,
///   which keeps each one live across the whole group, and the register allocator spilled
///   them to the stack between vectors (gelu's kernel: 73 stack accesses, 23 without);
///   unoptimised, each step reads its constant once for the values emitted together
///   (math.rs). At 64K lanes sigmoid runs in 58 us instead of 84, gelu 79 instead of 106,
///   and both compile in 0.56-0.61 ms instead of 0.76-0.81.
/// - Barriers: a phased kernel is mostly cold machinery (each group's parking and resuming,
///   the phase loop) where the optimiser found nothing to gain; it was 16% of sum's kernel
///   compile (9.7M -> 8.2M instructions), and sum ran as fast without it (1M elements 48 us
///   either way; 16K elements, in cache, 1.26 -> 1.30 us; 16 blocks 13.3 -> 13.0 us). The
///   programs it does speed up access memory lane by lane (matvec and gemm run 20% slower
///   without it) or through the pool (phi_scale 11%), and have no barriers.
pub(crate) fn no_optimiser(
    program: &Program,
    an: &Analysis,
    opts: &JitOptions,
) -> Option<&'static str> {
    match opts.optimise {
        Some(true) => None,
        Some(false) => Some("JitOptions::optimise is false"),
        None if has_transcendentals(program) => Some(
            "the program has transcendentals: in vector code the optimiser keeps their \
             constants live across a group, and they spill",
        ),
        None if an.has_barrier => Some(
            "the program has barriers: the phased kernel is mostly cold machinery, where \
             the optimiser costs compile time for no speed",
        ),
        None => None,
    }
}

/// Whether some load or store addresses memory through a register that is neither uniform
/// nor lane-affine, so its vector code accesses memory lane by lane.
fn has_lane_addresses(program: &Program, an: &Analysis) -> bool {
    let per_lane = |s: &Src| match s {
        Src::Reg(r) => {
            let r = r.0 as usize;
            !an.reg_uniform.get(r).copied().unwrap_or(true)
                && !an.reg_affine.get(r).copied().unwrap_or(false)
                && an.reg_step.get(r).copied().unwrap_or(0) == 0
        }
        _ => false,
    };
    // Loads through a clamped index (a stencil's neighbour) that vector code tests for
    // consecutive lanes load most groups whole (`Tr::v_gather_or_contig`), and so do loads
    // and stores through a per-lane byte offset (`Tr::v_scatter_store` too).
    // (Not through one that wraps, `rem` or `and`, which may do so in every lane.)
    let consecutive = crate::vector::consecutive_accesses(program.insts(), an);
    let whole = |s: &Src, forms: &[Clamp]| match s {
        Src::Reg(r) => {
            consecutive.contains(&r.0)
                && an
                    .reg_clamped
                    .get(r.0 as usize)
                    .is_some_and(|c| c.is_some_and(|c| forms.contains(&c)))
        }
        _ => false,
    };
    let gathered = |s: &Src| !whole(s, &[Clamp::Clamps, Clamp::Scales]) && per_lane(s);
    let scattered = |s: &Src| !whole(s, &[Clamp::Scales]) && per_lane(s);
    program.insts().iter().any(|i| match i {
        Inst::Ldg { addr, .. } => addr.sources().iter().flatten().any(gathered),
        Inst::Stg { addr, .. } => addr.sources().iter().flatten().any(scattered),
        Inst::Lds { addr, .. } => addr.index.is_some_and(|(index, _)| gathered(&index)),
        Inst::Sts { addr, .. } => addr.index.is_some_and(|(index, _)| scattered(&index)),
        _ => false,
    })
}

/// The most (resume points) x (values live at them, summed) a vector kernel's per-lane
/// function may have: about 25 ms of compile. softmax_rows has 16 x 140.
const RESUME_BUDGET: u64 = 4_000_000;

/// Why a vector kernel whose per-lane function resumes at `resume` (bail-outs) and after
/// `barriers` should compile with the scalar strategy instead, if it should. Each resume
/// point is a block of the per-lane function with a parameter for every register live
/// there, and Cranelift's register allocator merges a register's parameters along the
/// function one at a time, sorting the merged ranges each time: its time grows with the
/// number of resume points times their parameters. Straight-line code with a check at
/// every instruction hit it: 1,000 divisions among 50 registers took 0.5 s, 2,000 among 200
/// 3 s; with the scalar strategy (no resume points) 8 and 18 ms.
pub(crate) fn costly_resumes(
    an: &Analysis,
    resume: &BTreeSet<u32>,
    barriers: &BTreeSet<u32>,
) -> Option<String> {
    let pcs: BTreeSet<u32> = resume.union(barriers).copied().collect();
    let live: u64 = pcs
        .iter()
        .map(|&pc| {
            let regs = an.live_regs.get(pc as usize).map_or(0, |w| {
                w.iter().map(|x| u64::from(x.count_ones())).sum::<u64>()
            });
            let preds = an.live_preds.get(pc as usize).map_or(0, |p| p.count_ones());
            // And the lane's own variables (its index, fuel, the phase's end, call depth).
            regs + u64::from(preds) + 4
        })
        .sum();
    let cost = pcs.len() as u64 * live;
    (cost > RESUME_BUDGET).then(|| {
        format!(
            "the vector code's per-lane function would resume at {} places with {live} \
             live values among them, which Cranelift's register allocator takes time \
             quadratic in (limit: places x live values <= {RESUME_BUDGET})",
            pcs.len()
        )
    })
}
