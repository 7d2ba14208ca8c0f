//! Static facts about a program that the translators need: basic-block leaders, the
//! storage class of every register (for the vector strategy), and which registers and
//! predicates are uniform (the same in every lane of a vector group).

use cranelift_codegen::ir::{types, Type};
use holovm_isa::{Addr, BinOp, Inst, Program, SharedAddr, Special, Src, Ty};

use crate::masked_branches::masked_branches;
pub(crate) use crate::masked_branches::MaskedBranch;
use crate::masked_loops::{self, MaskedLoop};
use crate::ops::compute_lane;

/// How the vector strategy stores a register: one CLIF lane type for all its accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Never accessed with a typed access (only as a `u64` index or loop counter).
    Untyped,
    /// Only accessed with 32-bit types; the value is this CLIF lane type (I32 or F32).
    W32(Type),
    /// Only accessed with 64-bit types; the value is this CLIF lane type (I64 or F64).
    W64(Type),
}

impl Class {
    /// The CLIF lane type the register is stored as.
    pub(crate) fn lane_type(self) -> Type {
        match self {
            Class::Untyped => types::I64,
            Class::W32(t) | Class::W64(t) => t,
        }
    }
}

/// How the writes of an index register bound it ([`Analysis::reg_clamped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Clamp {
    /// Some `min`, `max` or `sel` writes it: consecutive across a group's lanes wherever
    /// the clamp does not bite.
    Clamps,
    /// Only a `rem` or `and` among those: it may wrap in every lane.
    Wraps,
    /// None of those, but a `shl` by 1 to 3 or `mul` by 2, 4 or 8 writes it: a byte offset
    /// such as `min(%gid, m) << 2`, consecutive in steps of the factor in the groups where
    /// its operand is (an access through it at scale 1 is contiguous there).
    Scales,
}

/// One register or predicate access of an instruction.
#[derive(Clone, Copy, Debug)]
enum Access {
    /// A general register read or written as `ty`; `None` for a `u64` index read or a loop
    /// counter, which work with either class.
    Reg { reg: u8, ty: Option<Ty> },
    /// A predicate written by `setp` of width `bits`, or read by `sel` of width `bits`;
    /// `None` for branch guards (any representation works).
    Pred { pred: u8, bits: Option<u32> },
}

/// Everything the translators learn from a program before emitting code.
#[derive(Clone, Debug)]
pub(crate) struct Analysis {
    /// `leader[pc]`: an instruction that starts a basic block (a branch target or the
    /// instruction after a control transfer). Length `insts + 1`.
    pub leader: Vec<bool>,
    /// Storage class per register (vector strategy).
    pub reg_class: Vec<Class>,
    /// Per register: accessed with an 8- or 16-bit type (for the dump).
    pub reg_narrow: Vec<bool>,
    /// Per register: written at 32 bits (or narrower) only but also read at 64 bits, which
    /// reads the value zero-extended: a 32-bit register whose 64-bit reads widen its lanes.
    pub reg_wide_read: Vec<bool>,
    /// Per register: written at 64 bits only but also read at 32 bits (or narrower), which
    /// reads the value's low half: a 64-bit register whose 32-bit reads narrow its lanes.
    pub reg_low_read: Vec<bool>,
    /// Per register: written at 32 bits (or narrower) and at 64 bits (a register reused for
    /// values of both widths): a 64-bit register whose 32-bit writes zero-extend their
    /// lanes, as every write does ([`crate::ops::to_storage`]), and whose 32-bit reads
    /// narrow them, as `reg_low_read`'s do.
    pub reg_wide_write: Vec<bool>,
    /// Per register: whether a `min`, `max` or `sel` writes it, or else a `rem` or `and`,
    /// as an index that clamps or wraps a lane-affine one is (a stencil's neighbour
    /// `min(%gid + 1, n - 1)`): a gather through it may find its lanes' indices consecutive.
    pub reg_clamped: Vec<Option<Clamp>>,
    /// Width (32 or 64) of the vector mask per predicate (vector strategy).
    pub pred_bits: Vec<u32>,
    /// Per register: the same value in every lane of a group whenever the group runs
    /// vector code (converged; for a [`split_index`] quotient, the vector code checks it and
    /// bails out where it does not hold).
    pub reg_uniform: Vec<bool>,
    /// Per predicate: as `reg_uniform`.
    pub pred_uniform: Vec<bool>,
    /// Per register: *lane-affine*, the group's lane `l` holds `v + l` (wrapping in the
    /// register's integer width) for a `v` shared by the lanes, so vector code keeps only
    /// `v`; such a register's class is always an integer type. See [`lane_affine`].
    pub reg_affine: Vec<bool>,
    /// Per register: the step of a *stepped* register (0 for the others), lane-affine by a
    /// step of 2, 4 or 8: lane `l` holds `v + step * l`, a byte offset such as `%gid << 2`,
    /// which vector code keeps as `v` (see [`lane_steps`]). Disjoint from `reg_affine` and
    /// `reg_uniform`.
    pub reg_step: Vec<u8>,
    /// The program uses `call` / `ret`.
    pub has_call: bool,
    /// The program has `bar.sync` or `reduce` (phased strategy).
    pub has_barrier: bool,
    /// Which instruction makes the program phased, for the strategy text.
    pub barrier_note: String,
    /// Why no JIT strategy can run the program, if none can.
    pub unsupported: Option<String>,
    /// Registers live on entry to each instruction (bit r of word r / 64); length
    /// `insts + 1` (nothing is live past the end).
    pub live_regs: Vec<[u64; 4]>,
    /// Predicates live on entry to each instruction.
    pub live_preds: Vec<u16>,
    /// Per pc: for a conditional forward `bra` that vector code runs both ways under lane
    /// masks, where its code ends (see [`masked_branches`]).
    pub masked: Vec<Option<MaskedBranch>>,
    /// Per pc: the loop whose per-lane exit branch is there, which vector code runs under
    /// lane masks when its lanes disagree ([`crate::masked_loops`]).
    pub masked_loops: Vec<Option<MaskedLoop>>,
    /// The registers' names in the dump when the compiled program is a split of the one
    /// written ([`crate::webs`]); `rN` otherwise.
    pub reg_names: Option<Vec<String>>,
}

impl Analysis {
    /// Register `r`'s name in the dump.
    pub(crate) fn reg_name(&self, r: usize) -> String {
        match self.reg_names.as_ref().and_then(|n| n.get(r)) {
            Some(name) => name.clone(),
            None => format!("r{r}"),
        }
    }

    /// Whether the program has masked loops (never in phased programs).
    pub(crate) fn has_masked_loops(&self) -> bool {
        self.masked_loops.iter().any(Option::is_some)
    }
}

/// The pcs reachable from pc 0 and `roots` (index `insts.len()`: falling off the end), where
/// an instruction for which `ends` holds goes nowhere, an unconditional branch to its target
/// only, and any other instruction to its target if it has one and to the next.
pub(crate) fn reachable(
    insts: &[Inst],
    roots: impl IntoIterator<Item = u32>,
    ends: fn(&Inst) -> bool,
) -> Vec<bool> {
    let mut reach = vec![false; insts.len() + 1];
    let mut work: Vec<usize> = roots.into_iter().map(|r| r as usize).collect();
    work.push(0);
    while let Some(pc) = work.pop() {
        if pc >= reach.len() || reach[pc] {
            continue;
        }
        reach[pc] = true;
        let Some(inst) = insts.get(pc) else { continue };
        let target = inst.target().map(|t| t as usize);
        match inst {
            _ if ends(inst) => {}
            Inst::Bra { guard: None, .. } => work.extend(target),
            _ => work.extend(target.into_iter().chain([pc + 1])),
        }
    }
    reach
}

/// Per register `0..nregs`: whether an instruction writes it at 32 bits or fewer, and at
/// 64 bits (a `loop`'s counter, updated in place, is neither).
pub(crate) fn write_widths(insts: &[Inst], nregs: usize) -> Vec<(bool, bool)> {
    let mut written = vec![(false, false); nregs];
    for inst in insts {
        if let Some((r, ty)) = operands(inst).dst {
            if let Some(w) = written.get_mut(r as usize) {
                match compute_lane(ty).bits() {
                    64 => w.1 = true,
                    _ => w.0 = true,
                }
            }
        }
    }
    written
}

/// Backward liveness of registers and predicates.
pub(crate) fn liveness(insts: &[Inst]) -> (Vec<[u64; 4]>, Vec<u16>) {
    let n = insts.len();
    let ret_sites: Vec<usize> = insts
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Inst::Call { .. }))
        .map(|(pc, _)| pc + 1)
        .collect();
    let mut uses = vec![([0u64; 4], 0u16); n];
    let mut defs = vec![([0u64; 4], 0u16); n];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    let set = |w: &mut [u64; 4], r: u8| w[r as usize / 64] |= 1 << (r % 64);
    for (pc, inst) in insts.iter().enumerate() {
        let (u, d) = (&mut uses[pc], &mut defs[pc]);
        for r in inst.sources().filter_map(Src::reg) {
            set(&mut u.0, r.0);
        }
        if let Some(p) = inst.pred_read() {
            u.1 |= 1 << (p.0 % 16);
        }
        if let Some(r) = inst.dst_reg() {
            set(&mut d.0, r.0);
        }
        if let Some(p) = inst.pred_written() {
            d.1 |= 1 << (p.0 % 16);
        }
        let t = inst.target().map(|t| t as usize);
        succs[pc] = match inst {
            Inst::Bra { guard: None, .. } | Inst::Call { .. } => t.into_iter().collect(),
            Inst::Bra { .. } | Inst::Loop { .. } => t.into_iter().chain([pc + 1]).collect(),
            Inst::Ret => ret_sites.clone(),
            Inst::Exit => Vec::new(),
            _ => vec![pc + 1],
        };
    }
    let mut live_regs = vec![[0u64; 4]; n + 1];
    let mut live_preds = vec![0u16; n + 1];
    loop {
        let mut changed = false;
        for pc in (0..n).rev() {
            let mut out = [0u64; 4];
            let mut pout = 0u16;
            for &s in &succs[pc] {
                if s <= n {
                    for w in 0..4 {
                        out[w] |= live_regs[s][w];
                    }
                    pout |= live_preds[s];
                }
            }
            let mut inr = [0u64; 4];
            for w in 0..4 {
                inr[w] = uses[pc].0[w] | (out[w] & !defs[pc].0[w]);
            }
            let inp = uses[pc].1 | (pout & !defs[pc].1);
            if inr != live_regs[pc] || inp != live_preds[pc] {
                live_regs[pc] = inr;
                live_preds[pc] = inp;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (live_regs, live_preds)
}

fn src_reg(s: &Src) -> Option<u8> {
    s.reg().map(|r| r.0)
}

fn src_varying(s: &Src, reg_uniform: &[bool]) -> bool {
    !src_uniform(s, reg_uniform)
}

fn addr_srcs(addr: &Addr) -> Vec<Src> {
    addr.sources().into_iter().flatten().collect()
}

fn shared_srcs(addr: &SharedAddr) -> Vec<Src> {
    addr.index.map(|(s, _)| vec![s]).unwrap_or_default()
}

/// Source operands (with their read type) and the destination of `inst`.
pub(crate) struct Operands {
    /// Typed value reads.
    pub reads: Vec<(Src, Ty)>,
    /// Address component reads (as `u64`).
    pub addr: Vec<Src>,
    /// Predicate read.
    pub pred_read: Option<u8>,
    /// Register written, with its type.
    pub dst: Option<(u8, Ty)>,
    /// Predicate written.
    pub pred_dst: Option<u8>,
}

pub(crate) fn operands(inst: &Inst) -> Operands {
    let mut o = Operands {
        reads: vec![],
        addr: vec![],
        pred_read: None,
        dst: None,
        pred_dst: None,
    };
    match *inst {
        Inst::Ldg { ty, dst, addr } => {
            o.addr = addr_srcs(&addr);
            o.dst = Some((dst.0, ty));
        }
        Inst::Stg { ty, src, addr } => {
            o.addr = addr_srcs(&addr);
            o.reads.push((src, ty));
        }
        Inst::Lds { ty, dst, addr } => {
            o.addr = shared_srcs(&addr);
            o.dst = Some((dst.0, ty));
        }
        Inst::Sts { ty, src, addr } => {
            o.addr = shared_srcs(&addr);
            o.reads.push((src, ty));
        }
        Inst::Mov { ty, dst, src } => {
            o.reads.push((src, ty));
            o.dst = Some((dst.0, ty));
        }
        Inst::Cvt { to, from, dst, src } => {
            o.reads.push((src, from));
            o.dst = Some((dst.0, to));
        }
        Inst::Bin { ty, dst, a, b, .. } => {
            o.reads.push((a, ty));
            o.reads.push((b, ty));
            o.dst = Some((dst.0, ty));
        }
        Inst::Un { ty, dst, a, .. } => {
            o.reads.push((a, ty));
            o.dst = Some((dst.0, ty));
        }
        Inst::Fma { ty, dst, a, b, c } => {
            o.reads.extend([(a, ty), (b, ty), (c, ty)]);
            o.dst = Some((dst.0, ty));
        }
        Inst::Setp { ty, dst, a, b, .. } => {
            o.reads.extend([(a, ty), (b, ty)]);
            o.pred_dst = Some(dst.0);
        }
        Inst::Sel {
            ty,
            dst,
            pred,
            a,
            b,
        } => {
            o.reads.extend([(a, ty), (b, ty)]);
            o.pred_read = Some(pred.0);
            o.dst = Some((dst.0, ty));
        }
        Inst::Bra { guard, .. } => {
            o.pred_read = guard.map(|g| g.pred.0);
        }
        Inst::Reduce { ty, dst, src, .. } => {
            o.reads.push((src, ty));
            o.dst = Some((dst.0, ty));
        }
        Inst::Loop { .. }
        | Inst::Call { .. }
        | Inst::Ret
        | Inst::Exit
        | Inst::BarSync
        | Inst::MemFence => {}
    }
    o
}

fn accesses(inst: &Inst) -> Vec<Access> {
    let o = operands(inst);
    let mut v = Vec::new();
    for (s, ty) in &o.reads {
        if let Some(r) = src_reg(s) {
            v.push(Access::Reg {
                reg: r,
                ty: Some(*ty),
            });
        }
    }
    for s in &o.addr {
        if let Some(r) = src_reg(s) {
            v.push(Access::Reg { reg: r, ty: None });
        }
    }
    if let Some((r, ty)) = o.dst {
        v.push(Access::Reg {
            reg: r,
            ty: Some(ty),
        });
    }
    match *inst {
        Inst::Loop { counter, .. } => v.push(Access::Reg {
            reg: counter.0,
            ty: None,
        }),
        Inst::Setp { ty, dst, .. } => v.push(Access::Pred {
            pred: dst.0,
            bits: Some(compute_lane(ty).bits()),
        }),
        Inst::Sel { ty, pred, .. } => v.push(Access::Pred {
            pred: pred.0,
            bits: Some(compute_lane(ty).bits()),
        }),
        Inst::Bra { guard: Some(g), .. } => v.push(Access::Pred {
            pred: g.pred.0,
            bits: None,
        }),
        _ => {}
    }
    v
}

/// Whether `s` is read as a uniform value (the same in every lane).
pub(crate) fn src_uniform(s: &Src, reg_uniform: &[bool]) -> bool {
    match s {
        Src::Reg(r) => reg_uniform.get(r.0 as usize).copied().unwrap_or(false),
        Src::Special(Special::Lane | Special::GlobalId) => false,
        _ => true,
    }
}

/// Whether `s` is lane-affine: `%lane`, `%gid` or a register set in `reg_affine`.
pub(crate) fn src_affine(s: &Src, reg_affine: &[bool]) -> bool {
    match s {
        Src::Reg(r) => reg_affine.get(r.0 as usize).copied().unwrap_or(false),
        Src::Special(sp) => matches!(sp, Special::Lane | Special::GlobalId),
        _ => false,
    }
}

/// A *row/column split*: `div` or `rem` of `%gid`, `%lane` or a lane-affine register (those
/// set in `affine`, such as a grid-stride index) by a value `b` in an unsigned type
/// (`row = %gid / n`, `col = %gid % n`), or the same by a power of two written as a shift or
/// a mask (`shr.u32 ty, %lane, 4` is `%lane / 16`, `and.u32 tx, %lane, 15` is `%lane % 16`,
/// for a mask in any integer type). The vector code computes it for the group's first lane
/// only and bails out when the group's lanes straddle a multiple of `b` (or `b` is 0, or a
/// register's lanes would wrap around); otherwise the quotient is the same in every lane
/// (uniform) and the remainder is lane-affine. Returns the operation (`div` or `rem`) and
/// the divisor.
pub(crate) fn split_index(inst: &Inst, affine: &[bool]) -> Option<RowSplit> {
    let Inst::Bin { op, ty, a, b, .. } = *inst else {
        return None;
    };
    let lane_like = |s: Src| match s {
        Src::Special(Special::GlobalId | Special::Lane) => true,
        Src::Reg(r) => affine.get(r.0 as usize).copied().unwrap_or(false),
        _ => false,
    };
    let bits = ty.size() * 8;
    let (op, dividend, divisor) = match (op, a, b) {
        (BinOp::Div | BinOp::Rem, a, b) if matches!(ty, Ty::U32 | Ty::U64) && lane_like(a) => {
            (op, a, b)
        }
        // Logical shifts by less than the width.
        (BinOp::Shr, a, Src::Imm(k))
            if matches!(ty, Ty::U32 | Ty::U64) && lane_like(a) && k < bits as u64 =>
        {
            (BinOp::Div, a, Src::Imm(1 << k))
        }
        // Masks of the low bits (not all of them): the bits are the same in every type.
        (BinOp::And, x, Src::Imm(m)) | (BinOp::And, Src::Imm(m), x)
            if affine_type(ty) && lane_like(x) && m != 0 && m < ty.mask() && m & (m + 1) == 0 =>
        {
            (BinOp::Rem, x, Src::Imm(m + 1))
        }
        _ => return None,
    };
    Some(RowSplit {
        op,
        ty,
        dividend,
        divisor,
    })
}

/// A row/column split ([`split_index`]) as a division: `dividend op divisor` in `ty`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RowSplit {
    /// `div` (the quotient, uniform) or `rem` (the remainder, lane-affine).
    pub op: BinOp,
    /// The instruction's type.
    pub ty: Ty,
    /// `%gid`, `%lane` or a lane-affine register.
    pub dividend: Src,
    /// The divisor: the instruction's operand, or the power of two of a shift or mask.
    pub divisor: Src,
}

impl Analysis {
    /// The row/column split at `inst` ([`split_index`]) whose result this program keeps
    /// uniform (the quotient) or lane-affine (the remainder): its operation and divisor.
    pub(crate) fn kept_split(&self, inst: &Inst) -> Option<RowSplit> {
        let split = split_index(inst, &self.reg_affine)?;
        let dst = inst.dst_reg()?;
        let kept = match split.op {
            BinOp::Div => &self.reg_uniform,
            _ => &self.reg_affine,
        };
        kept.get(dst.0 as usize)
            .copied()
            .unwrap_or(false)
            .then_some(split)
    }

    /// Whether `inst` is a kept split of `%gid` or `%lane` whose divisor is known before the
    /// program runs (a parameter, an immediate or a uniform special register, not a
    /// register): the group head can realign groups to its rows (vector/realign.rs).
    pub(crate) fn realignable_split(&self, inst: &Inst) -> bool {
        matches!(self.kept_split(inst), Some(s)
            if matches!(s.dividend, Src::Special(_)) && !matches!(s.divisor, Src::Reg(_)))
    }
}

/// Whether `cvt.TO.FROM` widens a 32-bit integer to 64 bits (zero- or sign-extending it):
/// of a lane-affine or stepped value, lane-affine or stepped alike where the group's lanes
/// do not wrap in `FROM` (vector code checks; a pointer's byte offset
/// `cvt.u64.u32 r, i`, PTX's `mul.wide`).
pub(crate) fn widens(to: Ty, from: Ty) -> bool {
    matches!(from, Ty::U32 | Ty::I32) && matches!(to, Ty::U64 | Ty::I64)
}

/// Whether `cvt.TO.FROM` of `src` widens `%gid` or `%lane` read as `u32`, which stay below
/// 2^32 within a launch: lane-affine without a check.
pub(crate) fn widened_lane_index(to: Ty, from: Ty, src: &Src) -> bool {
    from == Ty::U32
        && widens(to, from)
        && matches!(src, Src::Special(Special::GlobalId | Special::Lane))
}

/// Integer types whose values the vector strategy can keep lane-affine.
pub(crate) fn affine_type(ty: Ty) -> bool {
    matches!(ty, Ty::I32 | Ty::U32 | Ty::I64 | Ty::U64)
}

/// Uniformity: a flow-insensitive fixed point. Vector code only runs while the lanes of a
/// group are converged, so a register (predicate) is uniform if every write to it computes a
/// uniform value from uniform operands, or is a split's quotient by a uniform value (splits
/// of the lane-affine registers in `affine` included). Returns the uniform registers and
/// predicates.
fn uniformity(
    insts: &[Inst],
    affine: &[bool],
    (varying_regs, varying_preds): &(Vec<bool>, Vec<bool>),
) -> (Vec<bool>, Vec<bool>) {
    let mut reg_uniform: Vec<bool> = varying_regs.iter().map(|v| !v).collect();
    let mut pred_uniform: Vec<bool> = varying_preds.iter().map(|v| !v).collect();
    loop {
        let mut changed = false;
        for inst in insts {
            let o = operands(inst);
            let mut varying = o.reads.iter().any(|(s, _)| src_varying(s, &reg_uniform))
                || o.addr.iter().any(|s| src_varying(s, &reg_uniform))
                || o.pred_read
                    .is_some_and(|p| !pred_uniform.get(p as usize).copied().unwrap_or(true));
            if matches!(inst, Inst::Reduce { .. }) {
                varying = false;
            }
            if let Some(s) = split_index(inst, affine).filter(|s| s.op == BinOp::Div) {
                varying = src_varying(&s.divisor, &reg_uniform);
            }
            if varying {
                if let Some((r, _)) = o.dst {
                    if let Some(u) = reg_uniform.get_mut(r as usize) {
                        if *u {
                            *u = false;
                            changed = true;
                        }
                    }
                }
                if let Some(p) = o.pred_dst {
                    if let Some(u) = pred_uniform.get_mut(p as usize) {
                        if *u {
                            *u = false;
                            changed = true;
                        }
                    }
                }
            }
        }
        if !changed {
            return (reg_uniform, pred_uniform);
        }
    }
}

/// The lane-affine registers: the greatest set of per-lane registers, typed only with
/// 32- or 64-bit integer types, never a `loop` counter nor read before written, whose every
/// write is `mov` of `%gid`, `%lane` or a lane-affine register, `cvt` of one from 32 to 64
/// bits (vector code checks that its lanes do not wrap), `add` of a lane-affine and a
/// uniform value, `sub` of a uniform value from a lane-affine one, or the remainder of a
/// [`split_index`] (of `%gid`, `%lane` or a lane-affine register) by a uniform value. Lanes
/// of a group are consecutive, so each such write keeps "lane `l` holds `v + l`" (a
/// grid-stride index `i = %gid; ...; i += %gdim * %bdim` is the typical case).
fn lane_affine(
    insts: &[Inst],
    reg_uniform: &[bool],
    reg_mixed: &[bool],
    live_in: &[u64; 4],
    masked: &[bool],
) -> Vec<bool> {
    let n = reg_uniform.len();
    let mut aff: Vec<bool> = (0..n)
        .map(|r| {
            !reg_uniform[r]
                && !reg_mixed[r]
                && !masked.get(r).copied().unwrap_or(false)
                && live_in[r / 64] & (1 << (r % 64)) == 0
        })
        .collect();
    for inst in insts {
        if let Inst::Loop { counter, .. } = inst {
            if let Some(a) = aff.get_mut(counter.0 as usize) {
                *a = false;
            }
        }
        for a in accesses(inst) {
            if let Access::Reg { reg, ty: Some(ty) } = a {
                if !affine_type(ty) {
                    if let Some(a) = aff.get_mut(reg as usize) {
                        *a = false;
                    }
                }
            }
        }
    }
    loop {
        let mut changed = false;
        for inst in insts {
            let Some((dst, _)) = operands(inst).dst else {
                continue;
            };
            if !aff.get(dst as usize).copied().unwrap_or(false) {
                continue;
            }
            let is_aff = |s: &Src| src_affine(s, &aff);
            let uni = |s: &Src| src_uniform(s, reg_uniform);
            let keeps = match *inst {
                Inst::Mov { ty, src, .. } => affine_type(ty) && is_aff(&src),
                Inst::Cvt { to, from, src, .. } => widens(to, from) && is_aff(&src),
                Inst::Bin {
                    op: BinOp::Add,
                    ty,
                    a,
                    b,
                    ..
                } => affine_type(ty) && ((is_aff(&a) && uni(&b)) || (uni(&a) && is_aff(&b))),
                Inst::Bin {
                    op: BinOp::Sub,
                    ty,
                    a,
                    b,
                    ..
                } => affine_type(ty) && is_aff(&a) && uni(&b),
                _ => {
                    matches!(split_index(inst, &aff), Some(s) if s.op == BinOp::Rem && uni(&s.divisor))
                }
            };
            if !keeps {
                aff[dst as usize] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    aff
}

/// [`lane_steps`]' value for a register not yet known (all candidates at first).
const UNKNOWN: u8 = u8::MAX;

/// The step of `s` in [`lane_steps`]' fixed point: 1 for `%gid`, `%lane` and lane-affine
/// registers, a stepped register's step (or [`UNKNOWN`]), 0 for anything else.
fn src_step(s: &Src, affine: &[bool], steps: &[u8]) -> u8 {
    match s {
        Src::Reg(r) if !src_affine(s, affine) => steps.get(r.0 as usize).copied().unwrap_or(0),
        _ => u8::from(src_affine(s, affine)),
    }
}

/// The step of `s` times `factor`, a power of two: 0 unless it is a step (or unknown).
fn scaled(step: u8, factor: u64) -> u8 {
    match step {
        0 | UNKNOWN => step,
        _ if !factor.is_power_of_two() => 0,
        _ => match u64::from(step).saturating_mul(factor) {
            s @ (2 | 4 | 8) => s as u8,
            _ => 0,
        },
    }
}

/// The *stepped* registers, by step (0: not one): lane-affine with a step of 2, 4 or 8,
/// the group's lane `l` holding `v + step * l` (wrapping in the register's integer width),
/// so vector code keeps only `v`: a byte offset `%gid << 2` indexes `[a + r]`
/// contiguously. The greatest set of per-lane registers, neither lane-affine nor in
/// `excluded`, typed only with 32- or 64-bit integer types, never a `loop` counter nor read
/// before written, whose writes all give the same step: `shl` by a constant or `mul` by a
/// power of two of `%gid`, `%lane`, a lane-affine or a stepped register; `mov` of a stepped
/// register, or `cvt` of one from 32 to 64 bits; `add` of a stepped and a uniform value;
/// `sub` of a uniform value from a stepped one (a grid-stride byte offset).
fn lane_steps(
    insts: &[Inst],
    reg_uniform: &[bool],
    reg_affine: &[bool],
    excluded: &[bool],
    live_in: &[u64; 4],
) -> Vec<u8> {
    let n = reg_uniform.len();
    // Steps start at a `shl` or `mul` by a constant of a lane-affine value: without one
    // (most programs), none.
    let seeds = insts.iter().any(|inst| match *inst {
        Inst::Bin {
            op: BinOp::Shl | BinOp::Mul,
            a,
            b,
            ..
        } => {
            (matches!(b, Src::Imm(_)) && src_affine(&a, reg_affine))
                || (matches!(a, Src::Imm(_)) && src_affine(&b, reg_affine))
        }
        _ => false,
    });
    if !seeds {
        return vec![0; n];
    }
    let mut steps: Vec<u8> = (0..n)
        .map(|r| {
            let cand = !reg_uniform[r]
                && !reg_affine[r]
                && !excluded.get(r).copied().unwrap_or(false)
                && live_in[r / 64] & (1 << (r % 64)) == 0;
            if cand {
                UNKNOWN
            } else {
                0
            }
        })
        .collect();
    for inst in insts {
        if let Inst::Loop { counter, .. } = inst {
            if let Some(c) = steps.get_mut(counter.0 as usize) {
                *c = 0;
            }
        }
        for a in accesses(inst) {
            if let Access::Reg { reg, ty: Some(ty) } = a {
                if !affine_type(ty) {
                    if let Some(c) = steps.get_mut(reg as usize) {
                        *c = 0;
                    }
                }
            }
        }
    }
    // Optimistic: every candidate starts unknown and each round meets its writes' steps
    // (unknown with x is x, unequal steps are 0), so the steps only fall.
    loop {
        let mut next = steps.clone();
        for inst in insts {
            let Some((dst, _)) = operands(inst).dst else {
                continue;
            };
            let d = dst as usize;
            if steps.get(d).copied().unwrap_or(0) == 0 {
                continue;
            }
            let uni = |s: &Src| src_uniform(s, reg_uniform);
            let of = |s: &Src| src_step(s, reg_affine, &steps);
            let step = match *inst {
                Inst::Mov { ty, src, .. } if affine_type(ty) => of(&src),
                Inst::Cvt { to, from, src, .. } if widens(to, from) => of(&src),
                Inst::Bin {
                    op: BinOp::Add,
                    ty,
                    a,
                    b,
                    ..
                } if affine_type(ty) => match (uni(&a), uni(&b)) {
                    (false, true) => of(&a),
                    (true, false) => of(&b),
                    _ => 0,
                },
                Inst::Bin {
                    op: BinOp::Sub,
                    ty,
                    a,
                    b,
                    ..
                } if affine_type(ty) && uni(&b) => of(&a),
                Inst::Bin {
                    op: BinOp::Shl,
                    ty,
                    a,
                    b: Src::Imm(k),
                    ..
                } if affine_type(ty) && k < 4 => scaled(of(&a), 1 << k),
                Inst::Bin {
                    op: BinOp::Mul,
                    ty,
                    a,
                    b,
                    ..
                } if affine_type(ty) => match (a, b) {
                    (x, Src::Imm(c)) | (Src::Imm(c), x) => scaled(of(&x), c),
                    _ => 0,
                },
                _ => 0,
            };
            // (A step of 1 is a lane-affine value, which this register is not.)
            let step = if step == 1 { 0 } else { step };
            next[d] = match (next[d], step) {
                (UNKNOWN, s) | (s, UNKNOWN) => s,
                (a, b) if a == b => a,
                _ => 0,
            };
        }
        if next == steps {
            // Registers still unknown are written only from each other (code that cannot
            // run before they are written): none of them, and once more without them.
            if !steps.contains(&UNKNOWN) {
                return steps;
            }
            next = steps
                .iter()
                .map(|&s| if s == UNKNOWN { 0 } else { s })
                .collect();
        }
        steps = next;
    }
}

/// Analyses `program`.
pub(crate) fn analyse(program: &Program) -> Analysis {
    let insts = program.insts();
    let n = insts.len();
    let nregs = program.num_regs() as usize;
    let npreds = program.num_preds() as usize;

    // Leaders.
    let mut leader = vec![false; n + 1];
    if n > 0 {
        leader[0] = true;
    }
    let mut has_call = false;
    let unsupported = None;
    let mut has_barrier = false;
    let mut barrier_note = String::new();
    for (pc, inst) in insts.iter().enumerate() {
        if let Some(t) = inst.target() {
            if (t as usize) < leader.len() {
                leader[t as usize] = true;
            }
        }
        match inst {
            Inst::Bra { .. } | Inst::Loop { .. } | Inst::Call { .. } | Inst::Ret | Inst::Exit => {
                leader[pc + 1] = true;
            }
            Inst::BarSync | Inst::Reduce { .. } => {
                leader[pc + 1] = true;
                has_barrier = true;
                let kind = match inst {
                    Inst::BarSync => "bar.sync",
                    _ => "reduce",
                };
                let sep = match barrier_note.is_empty() {
                    true => "block-wide barriers at pc",
                    false => ",",
                };
                barrier_note += &format!("{sep} {pc} ({kind})");
            }
            _ => {}
        }
        if matches!(inst, Inst::Call { .. } | Inst::Ret) {
            has_call = true;
        }
    }

    // Register classes.
    let mut reg_class = vec![Class::Untyped; nregs];
    let mut reg_narrow = vec![false; nregs];
    // Registers written at each width: one written at 32 bits only reads as its value
    // zero-extended at 64 bits, so it stays a 32-bit register (`reg_wide_read`); one written
    // at 64 bits only reads as its low half at 32, so it stays a 64-bit one (`reg_low_read`).
    let written = write_widths(insts, nregs);
    let mut reg_wide_read = vec![false; nregs];
    let mut reg_low_read = vec![false; nregs];
    let mut reg_wide_write = vec![false; nregs];
    // A predicate's masks have the width of the first comparison that writes it (`setp`),
    // else of the first `sel` that reads it.
    let mut pred_bits_opt: Vec<Option<u32>> = vec![None; npreds];
    for inst in insts {
        if let Inst::Setp { ty, dst, .. } = inst {
            if let Some(slot @ None) = pred_bits_opt.get_mut(dst.0 as usize) {
                *slot = Some(compute_lane(*ty).bits());
            }
        }
    }
    for inst in insts {
        for a in accesses(inst) {
            match a {
                Access::Reg { reg, ty: Some(ty) } => {
                    let Some(slot) = reg_class.get_mut(reg as usize) else {
                        continue;
                    };
                    let mut lane = compute_lane(ty);
                    // (A `reduce`'s operand and result too: the barrier resolver reads and
                    // writes the register file's slots as register images.)
                    let w = written.get(reg as usize).copied();
                    if lane.bits() == 64 && w == Some((true, false)) {
                        // A 64-bit access of a register written at 32 bits only is a read.
                        reg_wide_read[reg as usize] = true;
                        lane = types::I32;
                    } else if lane.bits() == 32 && w == Some((false, true)) {
                        // A 32-bit access of a register written at 64 bits only is a read.
                        reg_low_read[reg as usize] = true;
                        lane = types::I64;
                    } else if lane.bits() == 32 && w == Some((true, true)) {
                        // A 32-bit access of a register written at both widths, a read or
                        // a write: a 64-bit register (the read narrows, the write widens).
                        // Its class is `W64(I64)` even if its 64-bit accesses are all f64.
                        reg_wide_write[reg as usize] = true;
                        lane = types::I64;
                    } else {
                        // Narrow types live in 32-bit lanes, zero-extended (ops::narrow_out).
                        reg_narrow[reg as usize] |= ty.bits() < 32;
                    }
                    let new = match (*slot, lane.bits()) {
                        (Class::Untyped, 32) => Some(Class::W32(lane)),
                        (Class::Untyped, 64) => Some(Class::W64(lane)),
                        (Class::W32(t), 32) if t == lane => Some(Class::W32(t)),
                        (Class::W32(_), 32) => Some(Class::W32(types::I32)),
                        (Class::W64(t), 64) if t == lane => Some(Class::W64(t)),
                        (Class::W64(_), 64) => Some(Class::W64(types::I64)),
                        _ => None,
                    };
                    match new {
                        Some(c) => *slot = c,
                        // Only a register never written (the rules above give every access
                        // of a written one its writes' width): zero at every width, so an
                        // access of the other width than its first reads it resized.
                        None => match lane.bits() {
                            64 => reg_wide_read[reg as usize] = true,
                            _ => reg_low_read[reg as usize] = true,
                        },
                    }
                }
                Access::Reg { ty: None, .. } => {}
                Access::Pred {
                    pred,
                    bits: Some(bits),
                } => {
                    // (A `setp` or `sel` of the other width converts the masks.)
                    if let Some(slot @ None) = pred_bits_opt.get_mut(pred as usize) {
                        *slot = Some(bits);
                    }
                }
                Access::Pred { bits: None, .. } => {}
            }
        }
    }
    let pred_bits = pred_bits_opt.iter().map(|b| b.unwrap_or(32)).collect();

    // Uniformity, then the lane-affine registers; once more if a split of a lane-affine
    // register (a grid-stride row index) can make its quotient uniform.
    let (live_regs, live_preds) = liveness(insts);
    // (A register read at two widths is not kept lane-affine: its 64-bit reads do not wrap
    // where its 32-bit value does.)
    let two_widths: Vec<bool> = (0..nregs)
        .map(|r| reg_wide_read[r] || reg_low_read[r] || reg_wide_write[r])
        .collect();
    let affine_of = |reg_uniform: &[bool], masked: &[bool]| -> Vec<bool> {
        lane_affine(insts, reg_uniform, &two_widths, &live_regs[0], masked)
            .into_iter()
            .zip(&reg_class)
            .map(|(a, c)| a && c.lane_type().is_int())
            .collect()
    };
    let none = (vec![false; nregs], vec![false; npreds]);
    let (mut reg_uniform, mut pred_uniform) = uniformity(insts, &[], &none);
    let mut reg_affine = affine_of(&reg_uniform, &[]);
    let affine_div = insts.iter().any(|i| {
        matches!(split_index(i, &reg_affine), Some(s) if s.op == BinOp::Div
            && matches!(s.dividend, Src::Reg(_))
            && src_uniform(&s.divisor, &reg_uniform))
    });
    if affine_div {
        (reg_uniform, pred_uniform) = uniformity(insts, &reg_affine, &none);
        reg_affine = affine_of(&reg_uniform, &[]);
    }
    // Loops that lanes leave at different iterations run masked in vector code (phased
    // programs and programs with calls excepted): what they write becomes per-lane.
    let masked_loops = match has_barrier || has_call {
        true => vec![None; n],
        false => masked_loops::find(insts, &pred_uniform, &reg_affine),
    };
    let mut demoted_regs = vec![false; nregs];
    if masked_loops.iter().any(Option::is_some) {
        let demoted = masked_loops::demoted(insts, &masked_loops, nregs, npreds);
        (reg_uniform, pred_uniform) = uniformity(insts, &reg_affine, &demoted);
        reg_affine = affine_of(&reg_uniform, &demoted.0);
        demoted_regs = demoted.0;
    }
    let excluded: Vec<bool> = (0..nregs)
        .map(|r| two_widths[r] || demoted_regs[r] || !reg_class[r].lane_type().is_int())
        .collect();
    let reg_step = lane_steps(insts, &reg_uniform, &reg_affine, &excluded, &live_regs[0]);
    // (Masked code treats a stepped register as it does a lane-affine one: one value.)
    let one_value: Vec<bool> = (0..nregs)
        .map(|r| reg_affine[r] || reg_step[r] != 0)
        .collect();
    let masked = masked_branches(insts, &reg_uniform, &one_value, &pred_uniform, &live_regs);
    let mut reg_clamped = vec![None; nregs];
    for inst in insts {
        let (dst, how) = match *inst {
            Inst::Bin {
                op: BinOp::Min | BinOp::Max,
                dst,
                ..
            }
            | Inst::Sel { dst, .. } => (dst, Clamp::Clamps),
            Inst::Bin {
                op: BinOp::Rem | BinOp::And,
                dst,
                ..
            } => (dst, Clamp::Wraps),
            // (By 2, 4 or 8 only: offsets further apart are never consecutive elements.)
            Inst::Bin {
                op: op @ (BinOp::Shl | BinOp::Mul),
                dst,
                a,
                b,
                ..
            } if match (op, a, b) {
                (BinOp::Shl, _, Src::Imm(k)) => (1..=3).contains(&k),
                (BinOp::Mul, Src::Imm(c), _) | (BinOp::Mul, _, Src::Imm(c)) => {
                    matches!(c, 2 | 4 | 8)
                }
                _ => false,
            } =>
            {
                (dst, Clamp::Scales)
            }
            _ => continue,
        };
        if let Some(c) = reg_clamped.get_mut(dst.0 as usize) {
            // The strongest form among the writes: a clamp, then a wrap, then a scale.
            if c.is_none_or(|c| how < c) {
                *c = Some(how);
            }
        }
    }
    Analysis {
        masked,
        masked_loops,
        reg_affine,
        reg_step,
        live_regs,
        live_preds,
        leader,
        reg_class,
        reg_narrow,
        reg_wide_read,
        reg_low_read,
        reg_wide_write,
        reg_clamped,
        pred_bits,
        reg_uniform,
        pred_uniform,
        has_call,
        has_barrier,
        barrier_note,
        unsupported,
        reg_names: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(body: &str) -> Vec<u8> {
        let src = format!(".kernel t\n.param a: ptr f32\n.param n: u32\n{body}exit\n");
        analyse(&holovm_asm::assemble(&src).expect("assembles")).reg_step
    }

    #[test]
    fn byte_offsets_are_stepped_registers() {
        // `shl` and `mul` by powers of two of %gid, %lane, a lane-affine or a stepped
        // register; a grid-stride byte offset (its `add` of a uniform step agrees).
        let s = steps(
            "shl.u32 r0, %gid, 2\nmul.u32 r1, %lane, 8\nmov.u32 r2, %gid\nshl.u32 r3, r2, 1\n\
             shl.u32 r4, r3, 1\nmul.u32 r5, %gdim, 16\nadd.u32 r0, r0, r5\nmov.u32 r6, r0\n\
             sub.u32 r6, r6, n\nmul.u64 r7, %gid, 4\nldg.f32 r9, [a + r0]\nldg.f32 r9, [a + r1]\n\
             ldg.f32 r9, [a + r4]\nldg.f32 r9, [a + r6]\nldg.f32 r9, [a + r7]\n\
             cvt.u64.u32 r11, r3\ncvt.i64.i32 r12, r0\nldg.f32 r9, [a + r11]\n\
             ldg.f32 r9, [a + r12]\n",
        );
        assert_eq!(&s[..8], &[4, 8, 0, 2, 4, 0, 4, 4], "{s:?}");
        // Widened from 32 bits (vector code checks that the lanes do not wrap).
        assert_eq!(&s[11..13], &[2, 4], "{s:?}");
        // Steps that disagree, that are not 2, 4 or 8, or a write of another form.
        let s = steps(
            "shl.u32 r0, %gid, 2\nshl.u32 r0, %gid, 3\nmul.u32 r1, %gid, 3\nshl.u32 r2, %gid, 4\n\
             shl.u32 r3, %gid, 2\nadd.u32 r3, r3, %gid\nshl.u32 r4, %gid, 2\nldg.f32 r5, [a + r4]\n\
             add.u32 r4, r4, r4\nshl.u32 r7, n, 2\nmul.u32 r8, %gid, n\n",
        );
        assert!(s.iter().all(|&x| x == 0), "{s:?}");
    }

    #[test]
    fn stepped_registers_are_neither_uniform_nor_lane_affine_nor_read_before_written() {
        // r0 is read before the write that makes it a byte offset (a loop-carried value
        // from zero), and r1 is a loop counter.
        let s = steps(
            "top:\nldg.f32 r9, [a + r0]\nshl.u32 r0, %gid, 2\nsetp.lt.u32 p0, r0, n\n@p0 bra @top\n\
             mov.u32 r1, 4\nl:\nshl.u32 r1, %gid, 2\nloop r1, @l\n",
        );
        assert!(s.iter().all(|&x| x == 0), "{s:?}");
    }
}
