//! The vector strategy: the program translated once more with lanes as the vector dimension.
//!
//! A *group* of G consecutive lanes of a block (G = [`crate::JitOptions::group`], 8 by
//! default) runs the vector copy of the program together. Registers the analysis proves
//! uniform stay scalar (splatted when combined with per-lane values); the others are held as
//! G/4 `I32X4`/`F32X4` or G/2 `I64X2`/`F64X2` vectors. Vector code only runs while the lanes
//! of the group are converged, so uniform branches and loops are ordinary CLIF control flow.
//!
//! Anything that would need lanes to separate *bails out*: a conditional branch or loop whose
//! lanes disagree, an access that fails its bounds/alignment check in some lane, a division
//! that traps in some lane, fuel exhaustion, `call`/`ret`, or running off the end. A bail-out
//! at instruction `pc` stores the group's registers to the scratch register file and runs
//! the group's lanes one after another in the scalar code, each resuming at `pc`: that code
//! re-executes the instruction per lane and reports traps exactly like the scalar strategy
//! (lowest lane first). Lanes that do not fill a whole group run in scalar code from pc 0.
//!
//! Programs with barriers (the phased strategy, phased.rs) run their phases this way: a
//! group that reaches a barrier *parks* (its lanes' registers, pc, fuel and status go to
//! the phased strategy's per-lane state, waiting at the barrier), and a group that bails
//! out parks as ready to resume at the bail pc; the phase's scalar lane loop then runs the
//! ready lanes and the tail. Later phases first resume whole groups from the per-lane state
//! (resume.rs). Lanes between barriers are independent, so running a bailed-out lane after
//! later groups changes nothing but the order of its side effects, and the phased loop
//! still stops every lane above a trapping one.
//!
//! *Lane-affine* values (lane `l` of the group holds `v + l`: `%gid`, `%lane`, and the
//! registers [`crate::analysis::Analysis::reg_affine`] finds, such as grid-stride indices)
//! are kept as the one scalar `v` and become vectors only where an instruction needs them.
//! Accesses whose index is lane-affine with the element size as scale are contiguous: one
//! bounds check per group (for `%gid`/`%lane`, once per block) and plain vector loads and
//! stores. Comparisons of a lane-affine value with a uniform one are kept as the pair, and a
//! branch on them tests the group's first and last lanes. Other per-lane addresses are
//! checked per lane, then gathered/scattered with lane extracts/inserts.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, BlockArg, InstBuilder, MemFlagsData, SourceLoc, Type, Value,
};
use cranelift_frontend::Variable;
use holovm_isa::{Addr, BinOp, Cmp, Inst, ParamKind, Reg, SharedAddr, Special, Src, Ty};

use crate::analysis::Class;
use crate::listing;
use crate::ops::{self, bitcast, compute_lane, compute_vec, konst};
use crate::phased::Bound;
use crate::translate::{call, launch, status, MemOff, SpaceRef, Tr, TrError, TrResult};

/// Variables of the vector copy of the program.
#[derive(Clone)]
pub(crate) struct VState {
    /// Per register: the scalar variable (uniform registers).
    pub uregs: Vec<Option<Variable>>,
    /// Per register: the vector part variables (per-lane registers).
    pub vregs: Vec<Vec<Variable>>,
    /// Per register: the lane-0 value variable (lane-affine registers).
    pub aregs: Vec<Option<Variable>>,
    /// Per predicate: the `I8` variable (uniform predicates).
    pub upreds: Vec<Option<Variable>>,
    /// Per predicate: the lane-mask part variables.
    pub vpreds: Vec<Vec<Variable>>,
    /// Per predicate: affine predicates (a lane-affine value compared with a uniform one)
    /// keep the lane-affine operand's lane-0 value and the uniform operand; masks are built
    /// on demand and branches test the first and last lane.
    pub apreds: Vec<Option<(Affine, Variable, Variable)>>,
    /// Per contiguous site indexed by a lane-affine register: where the launch record
    /// keeps how many first indices leave the whole group in bounds (`I64`, computed once
    /// per launch and loaded at each check).
    pub acnt: Vec<(Site, i32)>,
    /// Per site indexed by a register (per-lane: gathers and scatters; or uniform): the
    /// largest index in bounds as `I32` (capped) and `I64`, and whether no index is (`I8`),
    /// computed once per launch (see [`Tr::gather_limit`]).
    pub glim: Vec<(GatherSite, SiteLimit)>,
    /// Fuel left, the same for every lane of the group; -1 right after a backward `bra`
    /// taken with none left, until the check at its target (see [`late_fuel_checks`]).
    pub vfuel: Variable,
    /// Per pc: the backward `bra` whose fuel check runs here, at its target.
    pub late_fuel: Vec<Option<u32>>,
    /// Per scalar parameter read inside a loop: its slot value, loaded once when a group
    /// enters vector code instead of on every iteration.
    pub params: Vec<Option<Variable>>,
    /// Per buffer parameter accessed inside a loop: its base pointer, likewise.
    pub bases: Vec<Option<Variable>>,
    /// Phased strategy: 0 in the first phase (groups start at pc 0), 1 in later phases
    /// (groups resume from the per-lane file, resume.rs).
    pub vphase: Variable,
    /// The bail-out block (parameters: the pc to resume at; phased: the status to park).
    pub bail: Block,
    /// Cold per-pc blocks that jump to `bail` with their constants, so a check on the hot
    /// path is a bare conditional branch (no argument moves).
    pub stubs: Vec<(u32, Block)>,
    /// Vector blocks per pc.
    pub blocks: Vec<Option<Block>>,
    /// `%block * %bdim` of the current block (`I32`).
    pub bbase: Variable,
    /// The entry guard on `%gid` folded into the group limit ([`Tr::entry_guard`]).
    pub guard: Option<EntryGuard>,
}

/// An entry guard on `%gid` (see [`Tr::entry_guard`]): lanes pass it while `%gid < bound`,
/// where `bound` is `u`, or `u + 1` when `plus_one`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryGuard {
    pub u: GuardOperand,
    pub plus_one: bool,
}

/// The unsigned value an entry guard compares `%gid` with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GuardOperand {
    Param(u8),
    Imm(u64),
}

/// An affine predicate: `x CMP u` with `x` lane-affine and `u` uniform (`u CMP x` is stored
/// flipped), for an order comparison: while `x` does not wrap within the group, the
/// predicate is monotone in the lane, so the first and last lanes decide "all" and "any".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine {
    cmp: Cmp,
    ty: Ty,
    /// `x` can wrap within a group (a register, or `%gid` as `i32`), so a branch checks
    /// that it does not before testing the first and last lanes.
    checked: bool,
}

impl Affine {
    /// `(x, u)` that make the predicate false in every lane (the initial state).
    fn all_false(&self, g: u32) -> (u64, u64) {
        match self.cmp {
            Cmp::Lt => (0, 0),
            Cmp::Le => (1, 0),
            _ => (0, g as u64),
        }
    }

    /// Recognises `setp` forms that qualify: returns the predicate and its (`x`, `u`)
    /// operands. `affine(s)` is `Some(special)` for a lane-affine source.
    fn of(
        inst: &Inst,
        affine: &dyn Fn(&Src) -> Option<bool>,
        uniform: &dyn Fn(&Src) -> bool,
    ) -> Option<(Affine, Src, Src)> {
        let Inst::Setp { cmp, ty, a, b, .. } = *inst else {
            return None;
        };
        if !crate::analysis::affine_type(ty) {
            return None;
        }
        let (cmp, x, u, special) = match (affine(&a), affine(&b)) {
            (Some(sp), None) if uniform(&b) => (cmp, a, b, sp),
            (None, Some(sp)) if uniform(&a) => {
                let flipped = match cmp {
                    Cmp::Lt => Cmp::Gt,
                    Cmp::Le => Cmp::Ge,
                    Cmp::Gt => Cmp::Lt,
                    Cmp::Ge => Cmp::Le,
                    other => other,
                };
                (flipped, b, a, sp)
            }
            _ => return None,
        };
        if !matches!(cmp, Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge) {
            return None;
        }
        // `%gid` and `%lane` stay below 2^32 within a launch: they only wrap as `i32`.
        let checked = !special || ty == Ty::I32;
        Some((Affine { cmp, ty, checked }, x, u))
    }
}

/// The lane-affine index of a contiguous access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Index {
    Gid,
    Lane,
    Reg(u8),
}

/// A contiguous access site: `base + index * size` with a lane-affine index.
#[derive(Clone, Copy, Debug)]
struct Contig {
    site: Site,
    index: Index,
}

/// Where a contiguous access goes: the space, the constant base and the element size, and
/// whether the index is 64-bit (a 32-bit index must not wrap within a group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Site {
    space: SpaceRef,
    base: u64,
    size: u32,
    wide: bool,
}

/// The memory a gather or scatter reaches through `[space + base + index * scale]` with
/// accesses of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GatherSite {
    space: SpaceRef,
    base: u64,
    size: u32,
    scale: u32,
}

impl GatherSite {
    /// The register-indexed site of an access and its index register, if the bounds can be
    /// checked on the index alone: a power-of-two scale, a base aligned to the access size,
    /// and a scale that divides the size when below it (so alignment is a test of the
    /// index's low bits).
    fn of(global: Option<&Addr>, shared: Option<&SharedAddr>, size: u32) -> Option<(Self, Reg)> {
        let (space, base, Src::Reg(r), scale) = Tr::indexed(global, shared)? else {
            return None;
        };
        let checkable = scale.is_power_of_two()
            && base.is_multiple_of(size as u64)
            && (scale >= size || size.is_multiple_of(scale));
        checkable.then_some((
            GatherSite {
                space,
                base,
                size,
                scale,
            },
            r,
        ))
    }
}

/// Slots of the launch record's limits ([`launch::LIMITS`]) a program's vector code may
/// use: the two reaches of its contiguous accesses and up to four limits per access (one as
/// a contiguous site, three as a gather site).
pub(crate) fn limit_slots(program: &holovm_isa::Program) -> u32 {
    2 + 4 * mem_accesses(program.insts()).count() as u32
}

/// The memory accesses of a program: (global address, shared address, access size).
fn mem_accesses(insts: &[Inst]) -> impl Iterator<Item = (Option<&Addr>, Option<&SharedAddr>, u32)> {
    insts.iter().filter_map(|inst| match inst {
        Inst::Ldg { ty, addr, .. } | Inst::Stg { ty, addr, .. } => {
            Some((Some(addr), None, ty.size()))
        }
        Inst::Lds { ty, addr, .. } | Inst::Sts { ty, addr, .. } => {
            Some((None, Some(addr), ty.size()))
        }
        _ => None,
    })
}

/// The variables holding a [`GatherSite`]'s bounds (see [`Tr::gather_limit`]), loaded
/// where vector code is entered (a gather checks them once per lane) from the launch
/// record's slots at `at` (`lim64`), `at + 8` (`lim32`) and `at + 16` (`none`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SiteLimit {
    lim32: Variable,
    lim64: Variable,
    none: Variable,
    at: i32,
}

/// A value in vector code: one scalar for all lanes, a lane-affine value (lane `l` holds
/// the scalar `+ l`, wrapping in its integer type), or vector parts.
#[derive(Clone, Debug)]
pub(crate) enum VV {
    U(Value),
    A(Value),
    V(Vec<Value>),
}

/// How the lanes of a group address memory.
enum Mode {
    /// The same address in every lane.
    Uniform,
    /// `base + (first index + lane) * size`: one contiguous run.
    Contig,
    /// Anything else.
    Lanes,
}

/// Which of `nparams` parameters are read, or accessed as buffers, by an instruction inside
/// a loop (between the target and the source of a backward branch or `loop`).
fn loop_params(insts: &[Inst], nparams: usize) -> Vec<bool> {
    let mut in_loop = vec![false; insts.len()];
    for (pc, inst) in insts.iter().enumerate() {
        if let Some(t) = inst.target() {
            let t = t as usize;
            if t <= pc && matches!(inst, Inst::Bra { .. } | Inst::Loop { .. }) {
                in_loop[t..=pc].iter_mut().for_each(|x| *x = true);
            }
        }
    }
    let mut used = vec![false; nparams];
    for (inst, _) in insts.iter().zip(&in_loop).filter(|(_, &l)| l) {
        let o = crate::analysis::operands(inst);
        let buffer = match inst {
            Inst::Ldg { addr, .. } | Inst::Stg { addr, .. } => match addr {
                Addr::BufferOffset { buf, .. } | Addr::BufferIndex { buf, .. } => Some(*buf),
                _ => None,
            },
            _ => None,
        };
        let params = o.reads.iter().map(|(s, _)| s).chain(&o.addr);
        let params = params.filter_map(|s| match s {
            Src::Param(i) => Some(*i),
            _ => None,
        });
        for i in params.chain(buffer) {
            if let Some(u) = used.get_mut(i as usize) {
                *u = true;
            }
        }
    }
    used
}

/// Per pc: `Some(b)` when the only backward branch to it is the `bra` at `b`. Vector code
/// checks that branch's fuel at its target instead of before the jump: the branch uses fuel
/// and jumps (fuel -1 means it had none), and the target bails out to `b` when it finds -1.
/// Nothing runs between the jump and the target, so the lanes resume at `b` in the state
/// they branched in, and its per-lane code traps `out of fuel` there. Checked before the
/// jump, the test would end the loop body's block, and Cranelift places the arithmetic
/// behind it, away from the loads it could fold into (`vaddps (mem), acc`).
fn late_fuel_checks(insts: &[Inst]) -> Vec<Option<u32>> {
    let mut back: Vec<(u32, bool)> = vec![(0, false); insts.len() + 1];
    let mut count = vec![0u32; insts.len() + 1];
    for (pc, inst) in insts.iter().enumerate() {
        let Some(t) = inst.target() else { continue };
        if (t as usize) <= pc && matches!(inst, Inst::Bra { .. } | Inst::Loop { .. }) {
            count[t as usize] += 1;
            back[t as usize] = (pc as u32, matches!(inst, Inst::Bra { .. }));
        }
    }
    back.iter()
        .zip(&count)
        .map(|(&(b, bra), &c)| (c == 1 && bra).then_some(b))
        .collect()
}

/// The instructions vector code can reach from pc 0 and the `roots` (where later phases
/// resume): it stops at barriers (the group parks), `call`/`ret` (it bails out) and `exit`.
fn vector_reachable(insts: &[Inst], roots: &[u32]) -> Vec<bool> {
    let mut reach = vec![false; insts.len() + 1];
    let mut work: Vec<usize> = roots.iter().map(|&r| r as usize).collect();
    work.push(0);
    while let Some(pc) = work.pop() {
        if pc >= reach.len() || reach[pc] {
            continue;
        }
        reach[pc] = true;
        let Some(inst) = insts.get(pc) else { continue };
        let target = inst.target().map(|t| t as usize);
        match inst {
            Inst::Bra { guard: None, .. } => work.extend(target),
            Inst::Bra { .. } | Inst::Loop { .. } => work.extend(target.into_iter().chain([pc + 1])),
            Inst::Exit | Inst::Ret | Inst::Call { .. } | Inst::BarSync | Inst::Reduce { .. } => {}
            _ => work.push(pc + 1),
        }
    }
    reach
}

pub(crate) fn vec_of(lane: Type) -> Type {
    lane.by(128 / lane.bits()).unwrap_or(lane)
}

impl Tr<'_, '_> {
    fn vs(&self) -> TrResult<&VState> {
        self.v
            .as_ref()
            .ok_or_else(|| TrError("no vector state".into()))
    }

    /// Emits the group loop head and the vector copy of the program; `init` is the
    /// per-block set-up block (it then enters the group loop).
    pub(crate) fn emit_vector(&mut self, tail: Block, init: Block) -> TrResult<()> {
        let g = self.g;
        if g == 0 || !g.is_multiple_of(4) {
            return Err(TrError(format!("bad group size {g}")));
        }
        let state = self.declare_vector_state();
        let apreds_init = state.apreds.clone();
        self.v = Some(state);
        let vlimit = self.emit_limits(init)?;
        let entry = self.b.create_block();
        let resume = self.emit_group_head(vlimit, entry, tail)?;
        self.emit_vector_entry(entry, &apreds_init)?;

        let resume_pcs = self.vector_resume_pcs();
        self.emit_vector_program(&resume_pcs)?;
        // Every pc's block has all its predecessors now, but for the resume points (the
        // resume dispatch jumps to them later). Sealed before the stubs and the bail-out
        // block read the group's variables, those reads resolve to the values directly
        // instead of through provisional block parameters.
        let blocks = self.vs()?.blocks.clone();
        for (pc, blk) in blocks.into_iter().enumerate() {
            if let Some(blk) = blk.filter(|_| !resume_pcs.contains(&(pc as u32))) {
                self.b.seal_block(blk);
            }
        }
        self.emit_stubs()?;
        self.emit_bail()?;
        if let Some(resume) = resume {
            self.emit_vector_resume(resume, &resume_pcs)?;
        }
        Ok(())
    }

    /// The variables of the vector copy: per register and predicate in the form the
    /// analysis allows (uniform scalar, lane-affine scalar, or vector parts), and the
    /// group's fuel, phase, hoisted parameters and limits.
    fn declare_vector_state(&mut self) -> VState {
        let g = self.g;
        let n = self.p.insts().len();
        let mut uregs = Vec::new();
        let mut vregs = Vec::new();
        let mut aregs = Vec::new();
        for (r, class) in self.an.reg_class.iter().enumerate() {
            let lane = class.lane_type();
            let affine = self.is_affine_reg(r);
            aregs.push(affine.then(|| self.b.declare_var(lane)));
            if self.an.reg_uniform[r] {
                uregs.push(Some(self.b.declare_var(lane)));
                vregs.push(Vec::new());
            } else if affine {
                uregs.push(None);
                vregs.push(Vec::new());
            } else {
                let vt = vec_of(lane);
                let parts = g / vt.lane_count();
                uregs.push(None);
                vregs.push((0..parts).map(|_| self.b.declare_var(vt)).collect());
            }
        }
        let mut upreds = Vec::new();
        let mut vpreds = Vec::new();
        let mut apreds = Vec::new();
        let affine = self.affine_preds();
        for (p, &bits) in self.an.pred_bits.iter().enumerate() {
            if let Some(a) = affine[p] {
                let t = compute_lane(a.ty);
                apreds.push(Some((a, self.b.declare_var(t), self.b.declare_var(t))));
                upreds.push(None);
                vpreds.push(Vec::new());
                continue;
            }
            apreds.push(None);
            if self.an.pred_uniform[p] {
                upreds.push(Some(self.b.declare_var(types::I8)));
                vpreds.push(Vec::new());
            } else {
                let vt = if bits == 64 {
                    types::I64X2
                } else {
                    types::I32X4
                };
                let parts = g / vt.lane_count();
                upreds.push(None);
                vpreds.push((0..parts).map(|_| self.b.declare_var(vt)).collect());
            }
        }
        let mut params = Vec::new();
        let mut bases = Vec::new();
        let in_loops = loop_params(self.p.insts(), self.nparams);
        for (used, prm) in in_loops.into_iter().zip(self.p.params()) {
            let buffer = matches!(prm.kind, ParamKind::Buffer(_));
            params.push((used && !buffer).then(|| self.b.declare_var(types::I64)));
            bases.push((used && buffer).then(|| self.b.declare_var(types::I64)));
        }
        let bail = self.b.create_block();
        self.b.set_cold_block(bail);
        // The launch record's limit slots: the two reaches (see `emit_limits`), then one
        // per contiguous site, then three per gather site.
        let mut slot = self.layout.launch as i32 + launch::LIMITS + 16;
        let mut acnt: Vec<(Site, i32)> = Vec::new();
        for c in self.contig_sites() {
            if matches!(c.index, Index::Reg(_)) && !acnt.iter().any(|(s, _)| *s == c.site) {
                acnt.push((c.site, slot));
                slot += 8;
            }
        }
        let mut glim: Vec<(GatherSite, SiteLimit)> = Vec::new();
        for site in self.gather_sites() {
            if !glim.iter().any(|(s, _)| *s == site) {
                let vars = SiteLimit {
                    lim32: self.b.declare_var(types::I32),
                    lim64: self.b.declare_var(types::I64),
                    none: self.b.declare_var(types::I8),
                    at: slot,
                };
                glim.push((site, vars));
                slot += 24;
            }
        }
        let guard = self.entry_guard();
        let mut late_fuel = late_fuel_checks(self.p.insts());
        if guard.is_some() {
            // The guard's instructions are not emitted, nor would a check before them be.
            late_fuel.iter_mut().take(2).for_each(|c| *c = None);
        }
        VState {
            uregs,
            vregs,
            aregs,
            upreds,
            vpreds,
            apreds,
            acnt,
            glim,
            vfuel: self.b.declare_var(types::I64),
            late_fuel,
            params,
            bases,
            vphase: self.b.declare_var(types::I8),
            bail,
            stubs: Vec::new(),
            blocks: vec![None; n + 1],
            bbase: self.b.declare_var(types::I32),
            guard,
        }
    }

    /// The launch's limits in `launch_init` ("check the launch range once"): how far the
    /// contiguous accesses and the entry guard let lanes go, and the first-lane limits of
    /// register-indexed sites; then, per block in `init`, the lanes of the block below
    /// both. Returns the variable holding a block's limit (`I32`).
    fn emit_limits(&mut self, init: Block) -> TrResult<Variable> {
        let (acnt, glim, bbase, vphase) = {
            let v = self.vs()?;
            (v.acnt.clone(), v.glim.clone(), v.bbase, v.vphase)
        };
        self.b.switch_to_block(self.launch_init);
        // Stored in the launch record, not kept in registers through the kernel: loaded
        // where a block starts, at each check, or where vector code is entered.
        let limits = self.layout.launch as i32 + launch::LIMITS;
        let end = glim
            .last()
            .map_or(limits + 16 + 8 * acnt.len() as i32, |(_, v)| v.at + 24);
        if end as u32 > self.layout.total {
            // Not reached: `limit_slots` counts every site. Refused rather than written
            // past the scratch memory.
            return Err(TrError("the launch limits exceed their room".into()));
        }
        let fl = MemFlagsData::trusted();
        let (gid_reach, lane_reach) = self.contig_reach();
        let reach = [(gid_reach, limits), (lane_reach, limits + 8)];
        for (v, at) in reach {
            self.b.ins().store(fl, v, self.scratch, at);
        }
        for (site, at) in acnt {
            let firsts = self.affine_firsts(site);
            self.b.ins().store(fl, firsts, self.scratch, at);
        }
        for (site, vars) in glim {
            let (lim64, none) = self.gather_limit(site);
            let lim32 = self.cap_u32(lim64);
            for (k, v) in [lim64, lim32, none].into_iter().enumerate() {
                self.b
                    .ins()
                    .store(fl, v, self.scratch, vars.at + 8 * k as i32);
            }
        }
        self.b.ins().jump(self.block_head, &[]);

        self.b.switch_to_block(init);
        let vlimit = self.b.declare_var(types::I32);
        let blk = self.b.use_var(self.blk);
        let bdim = self.bdim();
        let base = self.b.ins().imul(blk, bdim);
        self.b.def_var(bbase, base);
        let start = self.b.ins().uextend(types::I64, base);
        let [gid_reach, lane_reach] =
            reach.map(|(_, at)| self.b.ins().load(types::I64, fl, self.scratch, at));
        let gid_lanes = self.sat_sub(gid_reach, start);
        let limit = self.b.ins().umin(lane_reach, gid_lanes);
        let limit = self.b.ins().ireduce(types::I32, limit);
        let limit = self.pin(limit);
        self.b.def_var(vlimit, limit);
        let first_phase = self.b.ins().iconst(types::I8, 0);
        self.b.def_var(vphase, first_phase);
        self.b.ins().jump(self.group_head, &[]);
        Ok(vlimit)
    }

    /// The group head: a full group below the block's limit `vlimit` enters vector code at
    /// `entry`, the rest goes to the scalar `tail`. Phased strategy: in later phases, full
    /// groups resume from the per-lane file at the returned block instead.
    fn emit_group_head(
        &mut self,
        vlimit: Variable,
        entry: Block,
        tail: Block,
    ) -> TrResult<Option<Block>> {
        self.b.switch_to_block(self.group_head);
        let l0 = self.b.use_var(self.lane0);
        let end = self.b.ins().iadd_imm_s(l0, self.g as i64);
        let lim = self.b.use_var(vlimit);
        let full = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, end, lim);
        if !self.phased {
            self.b.ins().brif(full, entry, &[], tail, &[]);
            return Ok(None);
        }
        let vphase = self.vs()?.vphase;
        let resume = self.b.create_block();
        // Later phases resume groups from the per-lane file, then run the scalar loop (not
        // the tail, which would reset the trap limit `s_end`).
        let (full_b, short_b) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(full, full_b, &[], short_b, &[]);
        self.b.switch_to_block(short_b);
        let later = self.b.use_var(vphase);
        self.b.ins().brif(later, self.phase_start, &[], tail, &[]);
        self.b.switch_to_block(full_b);
        let later = self.b.use_var(vphase);
        self.b.ins().brif(later, resume, &[], entry, &[]);
        Ok(Some(resume))
    }

    /// Vector entry: zero registers and predicates, full fuel, parameters read in loops
    /// loaded; then pc 0.
    fn emit_vector_entry(
        &mut self,
        entry: Block,
        apreds_init: &[Option<(Affine, Variable, Variable)>],
    ) -> TrResult<()> {
        self.b.switch_to_block(entry);
        let v = self.vs()?;
        let regs: Vec<(Option<Variable>, Vec<Variable>, Class)> = v
            .uregs
            .iter()
            .zip(&v.aregs)
            .zip(&v.vregs)
            .zip(&self.an.reg_class)
            .map(|(((u, a), vv), c)| (u.or(*a), vv.clone(), *c))
            .collect();
        let preds: Vec<(Option<Variable>, Vec<Variable>, u32)> = v
            .upreds
            .iter()
            .zip(&v.vpreds)
            .zip(&self.an.pred_bits)
            .map(|((u, vv), b)| (*u, vv.clone(), *b))
            .collect();
        let vfuel = v.vfuel;
        for (u, parts, c) in regs {
            let lane = c.lane_type();
            if let Some(u) = u {
                let z = konst(&mut self.b, lane, 0);
                self.b.def_var(u, z);
            }
            for p in parts {
                let z = konst(&mut self.b, vec_of(lane), 0);
                self.b.def_var(p, z);
            }
        }
        for (u, parts, bits) in preds {
            if let Some(u) = u {
                let z = self.b.ins().iconst(types::I8, 0);
                self.b.def_var(u, z);
            }
            let vt = if bits == 64 {
                types::I64X2
            } else {
                types::I32X4
            };
            for p in parts {
                let z = konst(&mut self.b, vt, 0);
                self.b.def_var(p, z);
            }
        }
        self.def_affine_false(apreds_init);
        self.def_param_vars()?;
        let fuel = self.fuel();
        self.b.def_var(vfuel, fuel);
        let b0 = self.v_block(0)?;
        self.b.ins().jump(b0, &[]);
        Ok(())
    }

    /// `v`, computed here once: Cranelift's optimiser re-places pure values at their uses and
    /// hoists them out of loops, but a constant operand that it rematerialises inside the
    /// loop keeps the whole computation there. A two-result instruction is opaque to it.
    pub(crate) fn pin(&mut self, v: Value) -> Value {
        let ty = self.b.func.dfg.value_type(v);
        let zero = self.b.ins().iconst(ty, 0);
        self.b.ins().uadd_overflow(v, zero).0
    }

    /// Loads the parameters that loops read, and the base pointers of the buffers they
    /// access, into their variables (on entering vector code).
    pub(crate) fn def_param_vars(&mut self) -> TrResult<()> {
        let v = self.vs()?;
        let (params, bases, glim) = (v.params.clone(), v.bases.clone(), v.glim.clone());
        for (_, vars) in glim {
            let kinds = [
                (vars.lim64, types::I64),
                (vars.lim32, types::I32),
                (vars.none, types::I8),
            ];
            for (k, (var, ty)) in kinds.into_iter().enumerate() {
                let at = vars.at + 8 * k as i32;
                let x = self
                    .b
                    .ins()
                    .load(ty, MemFlagsData::trusted(), self.scratch, at);
                self.b.def_var(var, x);
            }
        }

        for (i, (param, base)) in params.into_iter().zip(bases).enumerate() {
            if let Some(var) = param {
                let v = self.param_scalar(i as u8);
                self.b.def_var(var, v);
            }
            if let Some(var) = base {
                let v = self.space_ptr(SpaceRef::Param(i as u8));
                self.b.def_var(var, v);
            }
        }
        Ok(())
    }

    /// Base pointer of a space, from its variable where a loop accesses the buffer.
    fn v_space_ptr(&mut self, s: SpaceRef) -> Value {
        let cached = match (s, self.v.as_ref()) {
            (SpaceRef::Param(i), Some(v)) => v.bases.get(i as usize).copied().flatten(),
            _ => None,
        };
        match cached {
            Some(var) => self.b.use_var(var),
            None => self.space_ptr(s),
        }
    }

    /// Sets every affine predicate to false in all lanes (their initial state).
    pub(crate) fn def_affine_false(&mut self, apreds: &[Option<(Affine, Variable, Variable)>]) {
        for &(a, xv, uv) in apreds.iter().flatten() {
            let (x, u) = a.all_false(self.g);
            let x = konst(&mut self.b, compute_lane(a.ty), x);
            let u = konst(&mut self.b, compute_lane(a.ty), u);
            self.b.def_var(xv, x);
            self.b.def_var(uv, u);
        }
    }

    pub(crate) fn v_block(&mut self, pc: u32) -> TrResult<Block> {
        let existing = self.vs()?.blocks.get(pc as usize).copied().flatten();
        if let Some(b) = existing {
            return Ok(b);
        }
        let blk = self.b.create_block();
        if let Some(v) = self.v.as_mut() {
            if let Some(slot) = v.blocks.get_mut(pc as usize) {
                *slot = Some(blk);
            }
        }
        Ok(blk)
    }

    /// The bail-out block's arguments for resuming at `pc` (phased: ready to resume).
    fn bail_args(&mut self, pc: u32, status: i64) -> Vec<BlockArg> {
        let mut args = vec![BlockArg::Value(self.b.ins().iconst(types::I32, pc as i64))];
        if self.phased {
            args.push(BlockArg::Value(self.b.ins().iconst(types::I32, status)));
        }
        args
    }

    /// Jumps to the bail-out block, resuming at `pc`.
    fn v_bail(&mut self, pc: u32) -> TrResult<()> {
        let bail = self.vs()?.bail;
        self.resume_pcs.insert(pc);
        let args = self.bail_args(pc, status::READY);
        self.b.ins().jump(bail, &args);
        Ok(())
    }

    /// `if cond { bail(pc) }`, continuing in a new block.
    fn v_bail_if(&mut self, cond: Value, pc: u32) -> TrResult<()> {
        let existing = self.vs()?.stubs.iter().find(|s| s.0 == pc).map(|s| s.1);
        let stub = match existing {
            Some(s) => s,
            None => {
                // Filled by `emit_stubs` once the program is translated.
                let stub = self.b.create_block();
                self.b.set_cold_block(stub);
                if let Some(v) = self.v.as_mut() {
                    v.stubs.push((pc, stub));
                }
                stub
            }
        };
        let cont = self.b.create_block();
        self.b.ins().brif(cond, stub, &[], cont, &[]);
        self.enter(cont);
        Ok(())
    }

    /// The bail-out stubs: each jumps to the bail-out block with its pc.
    fn emit_stubs(&mut self) -> TrResult<()> {
        for (pc, stub) in self.vs()?.stubs.clone() {
            self.enter(stub);
            self.v_bail(pc)?;
        }
        Ok(())
    }

    /// Phased strategy: the group arrives at the barrier at `pc` and parks there.
    fn v_arrive(&mut self, pc: u32) -> TrResult<()> {
        let bail = self.vs()?.bail;
        let args = self.bail_args(pc, status::WAIT);
        self.b.ins().jump(bail, &args);
        Ok(())
    }

    /// Phased strategy: stores each `(off, value)` (`I32` or `I64`) into the group's lanes'
    /// entries of the per-lane array at scratch offset `off`, in a loop of 4 lanes a step
    /// (unrolled, a 32-lane group's bail-out block was 40 stores, 6% of sum's kernel
    /// compile).
    fn park_words(&mut self, words: &[(u32, Value)]) {
        let splats: Vec<(u32, Value, bool)> = words
            .iter()
            .map(|&(off, v)| {
                let wide = self.b.func.dfg.value_type(v).bits() == 64;
                let vt = if wide { types::I64X2 } else { types::I32X4 };
                (off, self.b.ins().splat(vt, v), wide)
            })
            .collect();
        let l0 = self.b.use_var(self.lane0);
        let end = self.b.ins().iadd_imm_s(l0, self.g as i64);
        let fl = MemFlagsData::new().with_notrap();
        self.for_lane_steps(l0, end, Bound::None, &mut |t, l, _| {
            let l = t.b.ins().uextend(types::I64, l);
            let bases = t.file_bases(l);
            for &(off, v, wide) in &splats {
                if wide {
                    t.b.ins().store(fl, v, bases[1], off as i32);
                    t.b.ins().store(fl, v, bases[1], off as i32 + 16);
                } else {
                    t.b.ins().store(fl, v, bases[0], off as i32);
                }
            }
        });
    }

    /// The bail-out block: spill every register of the group, then run its lanes in scalar
    /// code from the bail pc (phased strategy: park the lanes with the status argument and
    /// go on with the next group).
    fn emit_bail(&mut self) -> TrResult<()> {
        let g = self.g;
        let VState {
            bail,
            uregs,
            aregs,
            vregs,
            upreds,
            vpreds,
            apreds,
            vfuel,
            ..
        } = self.vs()?.clone();
        self.enter(bail);
        let pc = self.b.append_block_param(bail, types::I32);
        let status = self
            .phased
            .then(|| self.b.append_block_param(bail, types::I32));
        let fl = MemFlagsData::new().with_notrap();
        let (live_r, live_p) = self.spill_set();
        // The register file: the group's G lanes, or the whole block's (phased), where the
        // group starts at lane `lane0`. Registers go in as their vectors are, 4 bytes per
        // lane for 32-bit ones (see `Tr::reg_slot_bytes`).
        let stride = self.layout.stride;
        let bases = if self.phased {
            let l0 = self.b.use_var(self.lane0);
            let l0 = self.b.ins().uextend(types::I64, l0);
            self.file_bases(l0)
        } else {
            [self.scratch; 2]
        };
        // Predicates take 8 bytes a lane.
        let file = bases[1];
        for (r, class) in self.an.reg_class.clone().iter().enumerate() {
            if live_r[r / 64] & (1 << (r % 64)) == 0 {
                continue;
            }
            let vt = vec_of(class.lane_type());
            let (at, base) = self.reg_slot(r, bases);
            let vals: Vec<Value> = match (uregs[r], aregs[r]) {
                (Some(u), _) => {
                    let v = self.b.use_var(u);
                    vec![self.b.ins().splat(vt, v); (g / vt.lane_count()) as usize]
                }
                (None, Some(a)) => {
                    let x = self.b.use_var(a);
                    let ty = if vt.lane_bits() == 32 {
                        Ty::U32
                    } else {
                        Ty::U64
                    };
                    self.v_iota(ty, x)
                }
                (None, None) => vregs[r].iter().map(|&pv| self.b.use_var(pv)).collect(),
            };
            for (k, v) in vals.into_iter().enumerate() {
                self.b.ins().store(fl, v, at, base + k as i32 * 16);
            }
        }
        for (p, &bits) in self.an.pred_bits.clone().iter().enumerate() {
            if live_p & (1 << (p % 16)) == 0 {
                continue;
            }
            let base = self.layout.predfile as i32 + (p as u32 * stride * 8) as i32;
            if let Some(u) = upreds[p] {
                let v = self.b.use_var(u);
                let i = self.b.ins().uextend(types::I64, v);
                let s = self.b.ins().splat(types::I64X2, i);
                for k in 0..g / 2 {
                    self.b.ins().store(fl, s, file, base + k as i32 * 16);
                }
            } else {
                let masks: Vec<Value> = match apreds[p] {
                    Some((a, x, u)) => self.affine_masks(a, x, u),
                    None => vpreds[p].iter().map(|&pv| self.b.use_var(pv)).collect(),
                };
                // All-ones lanes become 1 by a shift: a constant would be hoisted (see
                // `cold_iota`).
                for (k, &m) in masks.iter().enumerate() {
                    if bits == 64 {
                        let v = self.b.ins().ushr_imm_u(m, 63);
                        self.b.ins().store(fl, v, file, base + k as i32 * 16);
                    } else {
                        let v = self.b.ins().ushr_imm_u(m, 31);
                        let lo = self.b.ins().uwiden_low(v);
                        let hi = self.b.ins().uwiden_high(v);
                        let o = base + k as i32 * 32;
                        self.b.ins().store(fl, lo, file, o);
                        self.b.ins().store(fl, hi, file, o + 16);
                    }
                }
            }
        }
        // -1: a backward `bra` taken without fuel, about to trap at the bail pc.
        let f = self.b.use_var(vfuel);
        let zero64 = self.b.ins().iconst(types::I64, 0);
        let f = self.b.ins().smax(f, zero64);
        if let Some(status) = status {
            // The group parked whole (WAIT) may resume as vector code in the next phase;
            // lanes left READY run scalar code first.
            let l0 = self.b.use_var(self.lane0);
            let flag = self.group_parked_slot(l0);
            let parked = self.b.ins().icmp_imm_s(IntCC::Equal, status, status::WAIT);
            let parked = self.b.ins().uextend(types::I32, parked);
            self.b.ins().store(fl, parked, flag, 0);
            let zero = self.b.ins().iconst(types::I32, 0);
            let zero = self.pin(zero);
            self.park_words(&[
                (self.layout.lane_pc, pc),
                (self.layout.lane_status, status),
                (self.layout.lane_fuel, f),
                (self.layout.lane_depth, zero),
            ]);
            self.b.ins().jump(self.group_next, &[]);
            return Ok(());
        }
        let l0 = self.b.use_var(self.lane0);
        self.b.def_var(self.s_lane, l0);
        let end = self.b.ins().iadd_imm_s(l0, g as i64);
        self.b.def_var(self.s_end, end);
        let one = self.b.ins().iconst(types::I8, 1);
        self.b.def_var(self.s_resume, one);
        self.b.def_var(self.bail_pc, pc);
        self.b.def_var(self.bail_fuel, f);
        self.b.ins().jump(self.lane_head, &[]);
        Ok(())
    }

    /// A uniform register value (its storage lane type) as its 64-bit register image.
    fn u_to_i64(&mut self, v: Value) -> Value {
        let t = self.b.func.dfg.value_type(v);
        if t.bits() == 64 {
            bitcast(&mut self.b, types::I64, v)
        } else {
            let i = bitcast(&mut self.b, types::I32, v);
            self.b.ins().uextend(types::I64, i)
        }
    }

    // ---------------------------------------------------------------------------------
    // Operands
    // ---------------------------------------------------------------------------------

    /// First lane index of the group (`%lane` of lane 0), `I32`.
    fn v_lane0(&mut self) -> Value {
        self.b.use_var(self.lane0)
    }

    /// `%gid` of the group's lane 0, `I32`.
    fn v_gid0(&mut self) -> Value {
        let base = match self.v.as_ref() {
            Some(v) => self.b.use_var(v.bbase),
            None => {
                let blk = self.b.use_var(self.blk);
                let bdim = self.bdim();
                self.b.ins().imul(blk, bdim)
            }
        };
        let l0 = self.b.use_var(self.lane0);
        self.b.ins().iadd(base, l0)
    }

    /// `first + [0, 1, 2, ...]` as vector parts of `ty`'s compute type; `first` is an `I32`
    /// (zero-extended for 64-bit types) or a value of the compute type.
    /// (Read as a float type, a special register's bits are reinterpreted, as in scalar code.)
    pub(crate) fn v_iota(&mut self, ty: Ty, first: Value) -> Vec<Value> {
        let ft = compute_vec(ty);
        let vt = ft.as_int();
        let lanes = vt.lane_count();
        let first = if vt.lane_bits() == 64 && self.b.func.dfg.value_type(first) == types::I32 {
            self.b.ins().uextend(types::I64, first)
        } else {
            first
        };
        let mut bytes = Vec::new();
        for i in 0..lanes as u64 {
            if vt.lane_bits() == 64 {
                bytes.extend_from_slice(&i.to_le_bytes());
            } else {
                bytes.extend_from_slice(&(i as u32).to_le_bytes());
            }
        }
        let cold = self
            .b
            .current_block()
            .is_some_and(|blk| self.b.func.layout.is_cold(blk));
        let iota = if cold {
            self.cold_iota(vt)
        } else {
            let c = self.b.func.dfg.constants.insert(bytes.into());
            self.b.ins().vconst(vt, c)
        };
        (0..self.g / lanes)
            .map(|k| {
                let s = self.b.ins().iadd_imm_s(first, (k * lanes) as i64);
                let sp = self.b.ins().splat(vt, s);
                let v = self.b.ins().iadd(sp, iota);
                bitcast(&mut self.b, ft, v)
            })
            .collect()
    }

    /// `[0, 1, ..]` of `vt` for cold blocks (the bail-out path), built in place: Cranelift
    /// hoists a vector constant out of loops, so one used only by the bail-out path would be
    /// kept live (and spilled and reloaded) across the whole group loop.
    pub(crate) fn cold_iota(&mut self, vt: Type) -> Value {
        let lane = vt.lane_type();
        let zero = self.b.ins().iconst(lane, 0);
        let zero = self.pin(zero);
        let mut v = self.b.ins().splat(vt, zero);
        for i in 1..vt.lane_count() {
            let c = self.b.ins().iconst(lane, i as i64);
            v = self.b.ins().insertlane(v, c, i as u8);
        }
        v
    }

    fn v_read(&mut self, src: Src, ty: Ty) -> TrResult<VV> {
        let ct = compute_lane(ty);
        Ok(match src {
            Src::Reg(r) => {
                let r = r.0 as usize;
                let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
                if class.lane_type().bits() != ct.bits() {
                    return Err(TrError(format!("r{r} read with a different width")));
                }
                let (u, a, parts) = {
                    let v = self.vs()?;
                    (v.uregs[r], v.aregs[r], v.vregs[r].clone())
                };
                if let Some(u) = u {
                    let v = self.b.use_var(u);
                    VV::U(bitcast(&mut self.b, ct, v))
                } else if let Some(a) = a {
                    let v = self.b.use_var(a);
                    if crate::analysis::affine_type(ty) {
                        VV::A(v)
                    } else {
                        VV::V(self.v_iota(ty, v))
                    }
                } else {
                    let vt = compute_vec(ty);
                    VV::V(
                        parts
                            .iter()
                            .map(|&p| {
                                let v = self.b.use_var(p);
                                bitcast(&mut self.b, vt, v)
                            })
                            .collect(),
                    )
                }
            }
            Src::Special(sp @ (Special::Lane | Special::GlobalId)) => {
                let f = if sp == Special::Lane {
                    self.v_lane0()
                } else {
                    self.v_gid0()
                };
                if crate::analysis::affine_type(ty) {
                    let f = if ct == types::I64 {
                        self.b.ins().uextend(types::I64, f)
                    } else {
                        f
                    };
                    VV::A(f)
                } else {
                    VV::V(self.v_iota(ty, f))
                }
            }
            other => VV::U(self.s_read_uniform(other, ty)),
        })
    }

    /// Reads a uniform operand (parameter, immediate, `%block`, `%bdim`, `%gdim`) as `ty`.
    fn s_read_uniform(&mut self, src: Src, ty: Ty) -> Value {
        let v = match src {
            Src::Imm(bits) => return ops::imm(&mut self.b, ty, bits),
            Src::Param(i) => {
                let cached = self
                    .v
                    .as_ref()
                    .and_then(|v| v.params.get(i as usize).copied());
                match cached.flatten() {
                    Some(var) => self.b.use_var(var),
                    None => self.param_scalar(i),
                }
            }
            Src::Special(Special::Block) => {
                let v = self.b.use_var(self.blk);
                self.b.ins().uextend(types::I64, v)
            }
            Src::Special(s @ (Special::BlockDim | Special::GridDim)) => {
                let field = if s == Special::GridDim {
                    call::GRID
                } else {
                    call::BLOCK_DIM
                };
                let at = self.layout.call as i32 + field;
                let v = self
                    .b
                    .ins()
                    .load(types::I32, MemFlagsData::trusted(), self.scratch, at);
                self.b.ins().uextend(types::I64, v)
            }
            _ => self.b.ins().iconst(types::I64, 0),
        };
        ops::from_storage(&mut self.b, ty, v)
    }

    fn v_write(&mut self, dst: u8, ty: Ty, val: VV) -> TrResult<()> {
        let r = dst as usize;
        let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
        let lane = class.lane_type();
        if lane.bits() != ty.bits() {
            return Err(TrError(format!("r{r} written with a different width")));
        }
        let (u, a, parts) = {
            let v = self.vs()?;
            (v.uregs[r], v.aregs[r], v.vregs[r].clone())
        };
        match (u, a, val) {
            (Some(u), _, VV::U(x)) => {
                let x = bitcast(&mut self.b, lane, x);
                self.b.def_var(u, x);
            }
            (Some(_), _, _) => {
                return Err(TrError(format!("per-lane value written to uniform r{r}")));
            }
            (None, Some(a), VV::A(x)) => self.b.def_var(a, x),
            (None, Some(_), _) => {
                return Err(TrError(format!("not a lane-affine value for r{r}")));
            }
            (None, None, val) => {
                let ps = self.parts(ty, val);
                let vt = vec_of(lane);
                for (pv, x) in parts.iter().zip(ps) {
                    let x = bitcast(&mut self.b, vt, x);
                    self.b.def_var(*pv, x);
                }
            }
        }
        Ok(())
    }

    /// Vector parts of a value of `ty` (splatting a uniform one).
    fn parts(&mut self, ty: Ty, v: VV) -> Vec<Value> {
        match v {
            VV::V(p) => p,
            VV::A(x) => self.v_iota(ty, x),
            VV::U(x) => {
                let vt = compute_vec(ty);
                let s = self.b.ins().splat(vt, x);
                vec![s; (self.g / vt.lane_count()) as usize]
            }
        }
    }

    /// The G lane values of a value of `ty`.
    fn lanes(&mut self, ty: Ty, v: &VV) -> Vec<Value> {
        match v {
            VV::U(x) => vec![*x; self.g as usize],
            VV::A(x) => (0..self.g)
                .map(|l| self.b.ins().iadd_imm_s(*x, l as i64))
                .collect(),
            VV::V(parts) => {
                let per = compute_vec(ty).lane_count();
                let mut out = Vec::with_capacity(self.g as usize);
                for &p in parts {
                    for l in 0..per {
                        out.push(self.b.ins().extractlane(p, l as u8));
                    }
                }
                out
            }
        }
    }

    /// Vector parts of `ty` from G lane values.
    fn build_parts(&mut self, ty: Ty, lanes: &[Value]) -> Vec<Value> {
        let vt = compute_vec(ty);
        let per = vt.lane_count() as usize;
        lanes
            .chunks(per)
            .map(|ch| {
                let mut v = self.b.ins().splat(vt, ch[0]);
                for (i, &x) in ch.iter().enumerate().skip(1) {
                    v = self.b.ins().insertlane(v, x, i as u8);
                }
                v
            })
            .collect()
    }

    /// Lane `l` of an index operand, as `u64`.
    fn v_lane_u64(&mut self, src: Src, l: u32) -> Value {
        match src {
            Src::Reg(r) => {
                let r = r.0 as usize;
                let (u, a, parts) = match self.v.as_ref() {
                    Some(v) => (v.uregs[r], v.aregs[r], v.vregs[r].clone()),
                    None => (None, None, Vec::new()),
                };
                if let Some(u) = u {
                    let v = self.b.use_var(u);
                    return self.u_to_i64(v);
                }
                if let Some(a) = a {
                    let v = self.b.use_var(a);
                    let x = self.b.ins().iadd_imm_s(v, l as i64);
                    return self.u_to_i64(x);
                }
                if parts.is_empty() {
                    return self.b.ins().iconst(types::I64, 0);
                }
                let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
                let vt = vec_of(class.lane_type());
                let per = vt.lane_count();
                let p = self.b.use_var(parts[(l / per) as usize]);
                let iv = bitcast(&mut self.b, vt.as_int(), p);
                let x = self.b.ins().extractlane(iv, (l % per) as u8);
                if vt.lane_bits() == 64 {
                    x
                } else {
                    self.b.ins().uextend(types::I64, x)
                }
            }
            Src::Special(Special::Lane) => {
                let f = self.v_lane0();
                let x = self.b.ins().iadd_imm_s(f, l as i64);
                self.b.ins().uextend(types::I64, x)
            }
            Src::Special(Special::GlobalId) => {
                let f = self.v_gid0();
                let x = self.b.ins().iadd_imm_s(f, l as i64);
                self.b.ins().uextend(types::I64, x)
            }
            other => self.s_read_uniform(other, Ty::U64),
        }
    }

    /// Whether register `r` is kept lane-affine (its lane-0 value only).
    fn is_affine_reg(&self, r: usize) -> bool {
        self.an.reg_affine.get(r).copied().unwrap_or(false)
    }

    fn is_uniform_src(&self, s: &Src) -> bool {
        match s {
            Src::Reg(r) => self
                .an
                .reg_uniform
                .get(r.0 as usize)
                .copied()
                .unwrap_or(false),
            Src::Special(Special::Lane) | Src::Special(Special::GlobalId) => false,
            _ => true,
        }
    }

    /// An indexed access `base + index * scale` (space, constant base, index, scale).
    fn indexed(
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
    ) -> Option<(SpaceRef, u64, Src, u32)> {
        Some(match (global, shared) {
            (Some(Addr::BufferIndex { buf, index, scale }), _) => {
                (SpaceRef::Param(*buf), 0u64, *index, *scale as u32)
            }
            (
                Some(Addr::Phi {
                    class,
                    page,
                    byte,
                    index: Some((index, scale)),
                }),
                _,
            ) => {
                let base = *class as u64 * holovm_isa::POOL_CLASS_BYTES as u64
                    + *page as u64 * holovm_isa::POOL_PAGE_BYTES as u64
                    + *byte as u64;
                (SpaceRef::Pool, base, *index, *scale as u32)
            }
            (
                None,
                Some(SharedAddr {
                    index: Some((index, scale)),
                    offset,
                }),
            ) => (SpaceRef::Shared, *offset as u64, *index, *scale as u32),
            _ => return None,
        })
    }

    /// The contiguous-site description of an access, if it is one: a lane-affine index
    /// scaled by the access size, from an aligned constant base.
    fn contig(
        &self,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> Option<Contig> {
        let (space, base, index, scale) = Self::indexed(global, shared)?;
        let (index, wide) = match index {
            Src::Special(Special::GlobalId) => (Index::Gid, false),
            Src::Special(Special::Lane) => (Index::Lane, false),
            Src::Reg(r) if self.is_affine_reg(r.0 as usize) => (
                Index::Reg(r.0),
                self.an.reg_class[r.0 as usize].lane_type().bits() == 64,
            ),
            _ => return None,
        };
        if scale != size || !base.is_multiple_of(size as u64) {
            return None;
        }
        Some(Contig {
            site: Site {
                space,
                base,
                size,
                wide,
            },
            index,
        })
    }

    /// Every contiguous site of the program.
    fn contig_sites(&self) -> Vec<Contig> {
        mem_accesses(self.p.insts())
            .filter_map(|(global, shared, size)| self.contig(global, shared, size))
            .collect()
    }

    /// Every register-indexed site of the program whose bounds can be checked on the index
    /// ([`GatherSite::of`]), with repeats.
    fn gather_sites(&self) -> Vec<GatherSite> {
        mem_accesses(self.p.insts())
            .filter_map(|(global, shared, size)| GatherSite::of(global, shared, size))
            .map(|(site, _)| site)
            .collect()
    }

    /// The entry guard `setp P, %gid, u` + `@P bra` at pcs 0 and 1 that sends lanes with
    /// `%gid >= bound` away (`u` a parameter or immediate, unsigned; `bound` is `u`, or
    /// `u + 1` for `>`/`<=`), when `P` is not read after the branch and nothing jumps to the
    /// branch. Groups whose lanes all pass it skip both instructions (their lanes would all
    /// fall through and the predicate is dead); the group limit keeps the others out of
    /// vector code.
    fn entry_guard(&self) -> Option<EntryGuard> {
        let insts = self.p.insts();
        let (setp, Inst::Bra { guard: Some(g), .. }) = (insts.first()?, insts.get(1)?) else {
            return None;
        };
        let (a, x, u) = self.affine_setp(setp)?;
        let Inst::Setp { dst, .. } = *setp else {
            return None;
        };
        let plus = match (a.cmp, g.negate) {
            (Cmp::Ge, false) | (Cmp::Lt, true) => false,
            (Cmp::Gt, false) | (Cmp::Le, true) => true,
            _ => return None,
        };
        let dead = self
            .an
            .live_preds
            .get(2)
            .is_some_and(|l| l & (1 << (dst.0 % 16)) == 0);
        let u = match u {
            Src::Param(i) => GuardOperand::Param(i),
            Src::Imm(bits) => GuardOperand::Imm(bits),
            _ => return None,
        };
        (dst == g.pred
            && dead
            && !self.an.leader[1]
            && x == Src::Special(Special::GlobalId)
            && matches!(a.ty, Ty::U32 | Ty::U64))
        .then_some(EntryGuard { u, plus_one: plus })
    }

    /// Launch-wide lane limits (`I64`s): every `%gid` below the first passes the bounds
    /// checks of the `%gid`-indexed contiguous accesses and the entry guard; every `%lane`
    /// below the second (at most `bdim`) those of the `%lane`-indexed ones. A block's vector
    /// groups cover the lanes below both.
    fn contig_reach(&mut self) -> (Value, Value) {
        let mut gid: Option<Value> = None;
        let bdim = self.bdim();
        let mut lane = self.b.ins().uextend(types::I64, bdim);
        for c in self.contig_sites() {
            let cnt = self.site_count(c.site);
            match c.index {
                Index::Gid => gid = Some(self.umin_opt(gid, cnt)),
                Index::Lane => lane = self.b.ins().umin(lane, cnt),
                Index::Reg(_) => {}
            }
        }
        if let Some(guard) = self.v.as_ref().and_then(|v| v.guard) {
            // The register images of unsigned values are zero-extended: usable as `I64`.
            let u = match guard.u {
                GuardOperand::Param(i) => self.param_scalar(i),
                GuardOperand::Imm(bits) => self.b.ins().iconst(types::I64, bits as i64),
            };
            // `u + 1` may wrap to 0 for u64: a limit of 0 only sends lanes to scalar code.
            let bound = if guard.plus_one {
                self.b.ins().iadd_imm_s(u, 1)
            } else {
                u
            };
            gid = Some(self.umin_opt(gid, bound));
        }
        let gid = gid.unwrap_or_else(|| self.b.ins().iconst(types::I64, -1));
        (gid, lane)
    }

    /// `min(a, b)` (unsigned), or `b` without `a`.
    fn umin_opt(&mut self, a: Option<Value>, b: Value) -> Value {
        match a {
            Some(a) => self.b.ins().umin(a, b),
            None => b,
        }
    }

    /// `a - b`, or 0 where `b > a` (unsigned `I64`s).
    fn sat_sub(&mut self, a: Value, b: Value) -> Value {
        let below = self.b.ins().icmp(IntCC::UnsignedLessThan, a, b);
        let zero = self.b.ins().iconst(types::I64, 0);
        let d = self.b.ins().isub(a, b);
        self.b.ins().select(below, zero, d)
    }

    /// How many indices (from 0) of a site are in bounds (`I64`).
    fn site_count(&mut self, site: Site) -> Value {
        let len = self.space_len(site.space);
        let basev = self.b.ins().iconst(types::I64, site.base as i64);
        let avail = self.sat_sub(len, basev);
        self.b
            .ins()
            .ushr_imm_s(avail, site.size.trailing_zeros() as i64)
    }

    /// For a site indexed by a lane-affine register: the number of first-lane indices `x`
    /// for which the group's indices `x ..= x + G - 1` are all in bounds and, for a 32-bit
    /// index, do not wrap (`I64`). A group is in bounds exactly when `x` is below it.
    fn affine_firsts(&mut self, site: Site) -> Value {
        let cnt = self.site_count(site);
        let span = self.g as i64 - 1;
        let spanv = self.b.ins().iconst(types::I64, span);
        let firsts = self.sat_sub(cnt, spanv);
        if site.wide {
            firsts
        } else {
            let cap = self.b.ins().iconst(types::I64, (1i64 << 32) - span);
            self.b.ins().umin(firsts, cap)
        }
    }

    /// The bounds of a register-indexed site: an index `idx` is in bounds when
    /// `idx <= lim` (`I64`) and `none` (`I8`) is 0, i.e. `idx <= (len - base - size) >>
    /// log2(scale)` and `len >= base + size`.
    pub(crate) fn gather_limit(&mut self, site: GatherSite) -> (Value, Value) {
        let len = self.space_len(site.space);
        let need = (site.base + site.size as u64) as i64;
        let need = self.b.ins().iconst(types::I64, need);
        let none = self.b.ins().icmp(IntCC::UnsignedLessThan, len, need);
        let room = self.b.ins().isub(len, need);
        let sh = site.scale.trailing_zeros() as i64;
        (self.b.ins().ushr_imm_s(room, sh), none)
    }

    /// `min(v, u32::MAX)` as `I32`: an index limit for 32-bit index vectors.
    fn cap_u32(&mut self, v: Value) -> Value {
        let cap = self.b.ins().iconst(types::I64, u32::MAX as i64);
        let v = self.b.ins().umin(v, cap);
        self.b.ins().ireduce(types::I32, v)
    }

    // ---------------------------------------------------------------------------------
    // Memory
    // ---------------------------------------------------------------------------------

    /// Computes and checks the addresses of an access (bailing out if any lane would trap).
    /// Returns the mode and the addresses (one for uniform/contiguous, G for per-lane).
    fn v_addrs(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<(Mode, Vec<Value>)> {
        if let Some(c) = self.contig(global, shared, size) {
            let first = match c.index {
                // In bounds for the whole group: the group lies below the block's `vlimit`.
                Index::Gid => self.v_gid0(),
                Index::Lane => self.v_lane0(),
                Index::Reg(r) => {
                    let (a, cnt) = {
                        let v = self.vs()?;
                        let cnt = v.acnt.iter().find(|(s, _)| s == &c.site).map(|x| x.1);
                        (v.aregs[r as usize], cnt)
                    };
                    let (Some(a), Some(cnt)) = (a, cnt) else {
                        return Err(TrError(format!("r{r}: no lane-affine state")));
                    };
                    let x = self.b.use_var(a);
                    let x = self.u_to_i64(x);
                    let fl = MemFlagsData::trusted();
                    let firsts = self.b.ins().load(types::I64, fl, self.scratch, cnt);
                    let bad = self
                        .b
                        .ins()
                        .icmp(IntCC::UnsignedGreaterThanOrEqual, x, firsts);
                    self.v_bail_if(bad, pc)?;
                    x
                }
            };
            let first = if self.b.func.dfg.value_type(first) == types::I32 {
                self.b.ins().uextend(types::I64, first)
            } else {
                first
            };
            let off = self.b.ins().imul_imm_s(first, size as i64);
            let off = self.b.ins().iadd_imm_s(off, c.site.base as i64);
            let ptr = self.v_space_ptr(c.site.space);
            let a = self.b.ins().iadd(ptr, off);
            return Ok((Mode::Contig, vec![a]));
        }
        let uniform = match (global, shared) {
            (Some(a), _) => match a {
                Addr::BufferOffset { .. } | Addr::Phi { index: None, .. } => true,
                Addr::BufferIndex { index, .. } => self.is_uniform_src(index),
                Addr::Phi {
                    index: Some((s, _)),
                    ..
                } => self.is_uniform_src(s),
                Addr::RegisterIndirect { base, .. } => self.is_uniform_src(&Src::Reg(*base)),
                Addr::RegisterIndirectComputed { handle, offset } => {
                    self.is_uniform_src(&Src::Reg(*handle))
                        && self.is_uniform_src(&Src::Reg(*offset))
                }
            },
            (None, Some(s)) => match s.index {
                None => true,
                Some((src, _)) => self.is_uniform_src(&src),
            },
            (None, None) => return Err(TrError("no address".into())),
        };
        let mode = if uniform { Mode::Uniform } else { Mode::Lanes };
        if uniform {
            if let Some(addr) = self.v_uniform_indexed(pc, global, shared, size)? {
                return Ok((Mode::Uniform, vec![addr]));
            }
        } else {
            if let Some(addrs) = self.v_gather32(pc, global, shared, size)? {
                return Ok((Mode::Lanes, addrs));
            }
        }
        let off_of = |t: &mut Self, l: u32| -> MemOff {
            let mut rd = |t2: &mut Self, s: Src| t2.v_lane_u64(s, l);
            match (global, shared) {
                (Some(a), _) => t.global_off(a, &mut rd),
                (None, Some(s)) => t.shared_off(s, &mut rd),
                (None, None) => unreachable!("checked above"),
            }
        };
        match mode {
            Mode::Uniform | Mode::Contig => {
                let m = off_of(self, 0);
                let (ptr, len) = self.space_base(m.space);
                let (oob, _) = self.bad_flags(&m, len, size);
                let bad = if size > 1 {
                    let low = self.b.ins().band_imm_s(m.off, size as i64 - 1);
                    let mis = self.b.ins().icmp_imm_s(IntCC::NotEqual, low, 0);
                    self.b.ins().bor(oob, mis)
                } else {
                    oob
                };
                self.v_bail_if(bad, pc)?;
                let a = self.b.ins().iadd(ptr, m.off);
                Ok((mode, vec![a]))
            }
            Mode::Lanes => {
                let ms: Vec<MemOff> = (0..self.g).map(|l| off_of(self, l)).collect();
                // Dynamic spaces: every lane must name lane 0's space (else bail).
                let mut bad: Option<Value> = None;
                if let SpaceRef::Dynamic(h0) = ms[0].space {
                    for m in &ms[1..] {
                        if let SpaceRef::Dynamic(h) = m.space {
                            let d = self.b.ins().icmp(IntCC::NotEqual, h, h0);
                            bad = Some(self.or_flag(bad, d));
                        }
                    }
                }
                let (ptr, len) = self.space_base(ms[0].space);
                let mut addrs = Vec::with_capacity(ms.len());
                for m in &ms {
                    let (oob, mis) = self.bad_flags(m, len, size);
                    let f = match mis {
                        Some(mis) => self.b.ins().bor(oob, mis),
                        None => oob,
                    };
                    bad = Some(self.or_flag(bad, f));
                    addrs.push(m.off);
                }
                if let Some(bad) = bad {
                    self.v_bail_if(bad, pc)?;
                }
                let addrs = addrs
                    .into_iter()
                    .map(|o| self.b.ins().iadd(ptr, o))
                    .collect();
                Ok((mode, addrs))
            }
        }
    }

    /// The register-indexed site of an access ([`GatherSite::of`]) with its index register
    /// and its launch-wide limit variables.
    fn index_site(
        &self,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<Option<(GatherSite, Reg, SiteLimit)>> {
        let Some((site, r)) = GatherSite::of(global, shared, size) else {
            return Ok(None);
        };
        let vars = self.vs()?.glim.iter().find(|(s, _)| *s == site);
        Ok(vars.map(|&(_, v)| (site, r, v)))
    }

    /// The address `base + idx * scale` of an access through a uniform index register,
    /// checked with one compare against the site's limit (computed once per launch)
    /// instead of the general offset arithmetic and its overflow checks. `None` when the
    /// access has another shape.
    fn v_uniform_indexed(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<Option<Value>> {
        let Some((site, r, vars)) = self.index_site(global, shared, size)? else {
            return Ok(None);
        };
        let GatherSite {
            space, base, scale, ..
        } = site;
        let idx = self.v_lane_u64(Src::Reg(r), 0);
        let lim = self.b.use_var(vars.lim64);
        let none = self.b.use_var(vars.none);
        let over = self.b.ins().icmp(IntCC::UnsignedGreaterThan, idx, lim);
        let mut bad = self.b.ins().bor(over, none);
        if scale < size {
            // Aligned <=> the index is a multiple of size / scale (the base is aligned).
            let low = self.b.ins().band_imm_s(idx, (size / scale - 1) as i64);
            let mis = self.b.ins().icmp_imm_s(IntCC::NotEqual, low, 0);
            bad = self.b.ins().bor(bad, mis);
        }
        self.v_bail_if(bad, pc)?;
        let off = self.b.ins().ishl_imm_s(idx, scale.trailing_zeros() as i64);
        let off = self.b.ins().iadd_imm_s(off, base as i64);
        let ptr = self.space_ptr(space);
        Ok(Some(self.b.ins().iadd(ptr, off)))
    }

    /// Per-lane addresses `base + idx * scale` where `idx` is a per-lane 32-bit register:
    /// the bounds and alignment checks run on the index vectors (one compare per 4 lanes)
    /// instead of lane by lane. `None` when the access has another shape.
    fn v_gather32(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<Option<Vec<Value>>> {
        let Some((site, r, vars)) = self.index_site(global, shared, size)? else {
            return Ok(None);
        };
        let GatherSite {
            space, base, scale, ..
        } = site;
        let r = r.0 as usize;
        let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
        let parts = self.vs()?.vregs.get(r).cloned().unwrap_or_default();
        if class.lane_type().bits() != 32 || parts.is_empty() {
            return Ok(None);
        }
        let sh = scale.trailing_zeros() as i64;
        let (lim, short) = (self.b.use_var(vars.lim32), self.b.use_var(vars.none));
        let ptr = self.space_ptr(space);
        let limv = self.b.ins().splat(types::I32X4, lim);
        let mut ok: Option<Value> = None;
        let mut idxs = Vec::with_capacity(parts.len());
        for &pv in &parts {
            let v = self.b.use_var(pv);
            let iv = bitcast(&mut self.b, types::I32X4, v);
            idxs.push(iv);
            let mut good = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, iv, limv);
            if scale < size {
                let m = konst(&mut self.b, types::I32X4, (size / scale - 1) as u64);
                let low = self.b.ins().band(iv, m);
                let z = konst(&mut self.b, types::I32X4, 0);
                let al = self.b.ins().icmp(IntCC::Equal, low, z);
                good = self.b.ins().band(good, al);
            }
            ok = Some(match ok {
                Some(o) => self.b.ins().band(o, good),
                None => good,
            });
        }
        let Some(ok) = ok else { return Ok(None) };
        let all = self.b.ins().vall_true(ok);
        let notall = self.b.ins().icmp_imm_s(IntCC::Equal, all, 0);
        let bad = self.b.ins().bor(notall, short);
        self.v_bail_if(bad, pc)?;
        let basep = self.b.ins().iadd_imm_s(ptr, base as i64);
        let mut addrs = Vec::with_capacity(self.g as usize);
        for iv in idxs {
            for l in 0..4u8 {
                let x = self.b.ins().extractlane(iv, l);
                let x = self.b.ins().uextend(types::I64, x);
                let o = self.b.ins().ishl_imm_s(x, sh);
                addrs.push(self.b.ins().iadd(basep, o));
            }
        }
        Ok(Some(addrs))
    }

    fn v_load(&mut self, ty: Ty, mode: Mode, addrs: &[Value]) -> VV {
        let ct = compute_lane(ty);
        match mode {
            Mode::Uniform => VV::U(self.b.ins().load(ct, MemFlagsData::trusted(), addrs[0], 0)),
            Mode::Contig => {
                let vt = compute_vec(ty);
                let fl = MemFlagsData::new().with_notrap();
                VV::V(
                    (0..self.g / vt.lane_count())
                        .map(|k| self.b.ins().load(vt, fl, addrs[0], (k * 16) as i32))
                        .collect(),
                )
            }
            Mode::Lanes => {
                let lanes: Vec<Value> = addrs
                    .iter()
                    .map(|&a| self.b.ins().load(ct, MemFlagsData::trusted(), a, 0))
                    .collect();
                VV::V(self.build_parts(ty, &lanes))
            }
        }
    }

    fn v_store(&mut self, ty: Ty, mode: Mode, addrs: &[Value], val: VV) {
        match mode {
            Mode::Uniform => {
                // Every lane stores to the same place, in lane order: the last lane wins.
                let x = match &val {
                    VV::U(x) => *x,
                    _ => {
                        let ls = self.lanes(ty, &val);
                        ls[ls.len() - 1]
                    }
                };
                self.b.ins().store(MemFlagsData::trusted(), x, addrs[0], 0);
            }
            Mode::Contig => {
                let fl = MemFlagsData::new().with_notrap();
                let ps = self.parts(ty, val);
                for (k, p) in ps.into_iter().enumerate() {
                    self.b.ins().store(fl, p, addrs[0], (k * 16) as i32);
                }
            }
            Mode::Lanes => {
                let ls = self.lanes(ty, &val);
                for (x, &a) in ls.into_iter().zip(addrs) {
                    self.b.ins().store(MemFlagsData::trusted(), x, a, 0);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Predicates and control flow
    // ---------------------------------------------------------------------------------

    /// Which predicates are affine (see [`Affine`]).
    fn affine_preds(&self) -> Vec<Option<Affine>> {
        let np = self.an.pred_bits.len();
        let mut out: Vec<Option<Option<Affine>>> = vec![None; np];
        for inst in self.p.insts() {
            if let Inst::Setp { dst, .. } = inst {
                let p = dst.0 as usize;
                if p >= np {
                    continue;
                }
                let a = self.affine_setp(inst).map(|x| x.0);
                out[p] = match (out[p], a) {
                    (None, a) => Some(a),
                    (Some(Some(x)), Some(y)) if x == y => Some(Some(x)),
                    _ => Some(None),
                };
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(p, a)| {
                if self.an.pred_uniform[p] {
                    None
                } else {
                    a.flatten()
                }
            })
            .collect()
    }

    /// [`Affine::of`] with this program's lane-affine and uniform sources.
    fn affine_setp(&self, inst: &Inst) -> Option<(Affine, Src, Src)> {
        let affine = |s: &Src| match s {
            Src::Special(Special::GlobalId | Special::Lane) => Some(true),
            Src::Reg(r) => self.is_affine_reg(r.0 as usize).then_some(false),
            _ => None,
        };
        let uniform = |s: &Src| self.is_uniform_src(s);
        Affine::of(inst, &affine, &uniform)
    }

    /// The lane masks of an affine predicate.
    fn affine_masks(&mut self, a: Affine, x: Variable, u: Variable) -> Vec<Value> {
        let x = self.b.use_var(x);
        let u = self.b.use_var(u);
        let xs = self.v_iota(a.ty, x);
        let us = self.b.ins().splat(compute_vec(a.ty), u);
        xs.into_iter()
            .map(|x| ops::compare(&mut self.b, a.cmp, a.ty, x, us))
            .collect()
    }

    /// (any, all) of an affine predicate from its first and last lanes; first bails out at
    /// `pc` if the lanes' `x` wraps within the group (the predicate is then not monotone).
    /// A monotone predicate holds in some lane iff it holds at the lane where it is easiest
    /// (the last for `>`/`>=`, the first for `<`/`<=`), and in all iff at the other end.
    fn affine_any_all(
        &mut self,
        pc: u32,
        a: Affine,
        x: Variable,
        u: Variable,
    ) -> TrResult<(Value, Value)> {
        let first = self.b.use_var(x);
        let u = self.b.use_var(u);
        let span = self.g as i64 - 1;
        if a.checked {
            // The largest first lane whose group does not wrap (as a sign-extended immediate).
            let (cc, max) = match a.ty {
                Ty::I32 => (IntCC::SignedGreaterThan, i32::MAX as i64 - span),
                Ty::I64 => (IntCC::SignedGreaterThan, i64::MAX - span),
                Ty::U32 => (
                    IntCC::UnsignedGreaterThan,
                    (u32::MAX - span as u32) as i32 as i64,
                ),
                _ => (IntCC::UnsignedGreaterThan, (u64::MAX - span as u64) as i64),
            };
            let wraps = self.b.ins().icmp_imm_s(cc, first, max);
            self.v_bail_if(wraps, pc)?;
        }
        let last = self.b.ins().iadd_imm_s(first, span);
        let c0 = ops::compare(&mut self.b, a.cmp, a.ty, first, u);
        let c1 = ops::compare(&mut self.b, a.cmp, a.ty, last, u);
        Ok(match a.cmp {
            Cmp::Gt | Cmp::Ge => (c1, c0),
            _ => (c0, c1),
        })
    }

    /// For an affine predicate `x CMP u`: true when every lane of the group has `x < u`
    /// (for `>=` and `<`) or `x <= u` (for `>` and `<=`) and `x` does not wrap within the
    /// group, so the predicate is false (`>=`, `>`) or true (`<`, `<=`) in every lane. One
    /// compare of the last lane, computed without wrapping: a 32-bit `x` is widened to 64
    /// bits, where `x + G - 1 < u` also proves that the group does not wrap (`u` fits in 32
    /// bits). `None` for a 64-bit `x` that can wrap (the full test decides).
    fn affine_below(&mut self, a: Affine, x: Variable, u: Variable) -> Option<Value> {
        let strict = matches!(a.cmp, Cmp::Ge | Cmp::Lt);
        let signed = matches!(a.ty, Ty::I32 | Ty::I64);
        let cc = match (strict, signed) {
            (true, true) => IntCC::SignedLessThan,
            (true, false) => IntCC::UnsignedLessThan,
            (false, true) => IntCC::SignedLessThanOrEqual,
            (false, false) => IntCC::UnsignedLessThanOrEqual,
        };
        let first = self.b.use_var(x);
        let u = self.b.use_var(u);
        let (first, u) = match a.ty {
            Ty::I32 => (
                self.b.ins().sextend(types::I64, first),
                self.b.ins().sextend(types::I64, u),
            ),
            Ty::U32 => (
                self.b.ins().uextend(types::I64, first),
                self.b.ins().uextend(types::I64, u),
            ),
            _ if a.checked => return None,
            _ => (first, u),
        };
        let last = self.b.ins().iadd_imm_s(first, self.g as i64 - 1);
        Some(self.b.ins().icmp(cc, last, u))
    }

    /// (any lane true, all lanes true) of a per-lane predicate, as `I8`s.
    fn v_any_all(&mut self, parts: &[Variable]) -> (Value, Value) {
        let vals: Vec<Value> = parts.iter().map(|&p| self.b.use_var(p)).collect();
        let mut or = vals[0];
        let mut and = vals[0];
        for &v in &vals[1..] {
            or = self.b.ins().bor(or, v);
            and = self.b.ins().band(and, v);
        }
        let any = self.b.ins().vany_true(or);
        let all = self.b.ins().vall_true(and);
        (any, all)
    }

    /// Taken branch from `pc` to `target`: consume fuel when going backward.
    fn v_goto(&mut self, pc: u32, target: u32) -> TrResult<()> {
        if target <= pc {
            let (vfuel, late) = {
                let v = self.vs()?;
                (v.vfuel, v.late_fuel.get(target as usize) == Some(&Some(pc)))
            };
            let f = self.b.use_var(vfuel);
            if !late {
                let empty = self.b.ins().icmp_imm_s(IntCC::Equal, f, 0);
                self.v_bail_if(empty, pc)?;
            }
            let f = self.b.ins().iadd_imm_s(f, -1);
            self.b.def_var(vfuel, f);
        }
        let t = self.v_block(target)?;
        self.b.ins().jump(t, &[]);
        Ok(())
    }

    /// `resume_pcs`: where later phases enter the vector code (besides pc 0).
    fn emit_vector_program(&mut self, resume_pcs: &[u32]) -> TrResult<()> {
        let insts = self.p.insts().to_vec();
        let n = insts.len() as u32;
        let reach = vector_reachable(&insts, resume_pcs);
        let skip_guard = self.vs()?.guard.is_some();
        let mut open = false;
        for pc in 0..n {
            if !reach[pc as usize] {
                // Code only scalar lanes run (after a barrier, a call or an exit) is not
                // translated twice.
                if open {
                    return Err(TrError(format!("pc {pc}: reached by fallthrough")));
                }
                continue;
            }
            if self.an.leader[pc as usize] {
                let blk = self.v_block(pc)?;
                if open {
                    self.b.ins().jump(blk, &[]);
                }
                self.b.switch_to_block(blk);
                open = true;
            }
            if !open || (skip_guard && pc < 2) {
                continue;
            }
            let late = self.vs()?.late_fuel.get(pc as usize).copied().flatten();
            if let (Some(b), true) = (late, self.an.leader[pc as usize]) {
                // The fuel check of the backward `bra` at `b` (see `late_fuel_checks`).
                self.b.set_srcloc(listing::loc(b, false));
                let f = self.b.use_var(self.vs()?.vfuel);
                let none = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, f, 0);
                self.v_bail_if(none, b)?;
            }
            self.b.set_srcloc(listing::loc(pc, false));
            open = self.v_inst(pc, &insts[pc as usize])?;
        }
        let end = self.v_block(n)?;
        if open {
            self.b.ins().jump(end, &[]);
        }
        self.b.switch_to_block(end);
        self.b.set_srcloc(listing::loc(n, false));
        self.v_bail(n)?;
        self.b.set_srcloc(SourceLoc::default());
        Ok(())
    }

    /// Emits one instruction in vector code; returns whether the block stays open.
    fn v_inst(&mut self, pc: u32, inst: &Inst) -> TrResult<bool> {
        match *inst {
            Inst::Ldg { ty, dst, addr } => {
                let (mode, addrs) = self.v_addrs(pc, Some(&addr), None, ty.size())?;
                let v = self.v_load(ty, mode, &addrs);
                self.v_write(dst.0, ty, v)?;
            }
            Inst::Stg { ty, src, addr } => {
                let val = self.v_read(src, ty)?;
                let (mode, addrs) = self.v_addrs(pc, Some(&addr), None, ty.size())?;
                self.v_store(ty, mode, &addrs, val);
            }
            Inst::Lds { ty, dst, addr } => {
                let (mode, addrs) = self.v_addrs(pc, None, Some(&addr), ty.size())?;
                let v = self.v_load(ty, mode, &addrs);
                self.v_write(dst.0, ty, v)?;
            }
            Inst::Sts { ty, src, addr } => {
                let val = self.v_read(src, ty)?;
                let (mode, addrs) = self.v_addrs(pc, None, Some(&addr), ty.size())?;
                self.v_store(ty, mode, &addrs, val);
            }
            Inst::Mov { ty, dst, src } => {
                let v = self.v_read(src, ty)?;
                self.v_write(dst.0, ty, v)?;
            }
            Inst::Cvt { to, from, dst, src } => {
                let v = self.v_read(src, from)?;
                let r = match v {
                    VV::U(x) => VV::U(ops::cvt(&mut self.b, to, from, x)),
                    v => {
                        let parts = self.parts(from, v);
                        VV::V(self.v_cvt(to, from, parts))
                    }
                };
                self.v_write(dst.0, to, r)?;
            }
            Inst::Bin { op, ty, dst, a, b } => {
                let x = self.v_read(a, ty)?;
                let y = self.v_read(b, ty)?;
                let r = self.v_bin(pc, op, ty, x, y)?;
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Un { op, ty, dst, a } => {
                let x = self.v_read(a, ty)?;
                let r = match x {
                    VV::U(x) => VV::U(ops::simple_un(&mut self.b, op, ty, x)),
                    v => VV::V(
                        self.parts(ty, v)
                            .into_iter()
                            .map(|p| ops::simple_un(&mut self.b, op, ty, p))
                            .collect(),
                    ),
                };
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Fma { ty, dst, a, b, c } => {
                let x = self.v_read(a, ty)?;
                let y = self.v_read(b, ty)?;
                let z = self.v_read(c, ty)?;
                let r = match (x, y, z) {
                    (VV::U(x), VV::U(y), VV::U(z)) => VV::U(ops::fma(&mut self.b, ty, x, y, z)),
                    (x, y, z) => {
                        let (xs, ys, zs) =
                            (self.parts(ty, x), self.parts(ty, y), self.parts(ty, z));
                        VV::V(
                            (0..xs.len())
                                .map(|k| ops::fma(&mut self.b, ty, xs[k], ys[k], zs[k]))
                                .collect(),
                        )
                    }
                };
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Setp { cmp, ty, dst, a, b } => {
                let p = dst.0 as usize;
                if let Some((af, xvar, uvar)) = self.vs()?.apreds[p] {
                    let Some((this, x, u)) = self.affine_setp(inst).filter(|s| s.0 == af) else {
                        return Err(TrError(format!("p{p}: inconsistent affine compare")));
                    };
                    let (VV::A(xv), VV::U(uv)) = (self.v_read(x, ty)?, self.v_read(u, ty)?) else {
                        return Err(TrError(format!("p{p}: operands of {this:?} not affine")));
                    };
                    self.b.def_var(xvar, xv);
                    self.b.def_var(uvar, uv);
                    return Ok(true);
                }
                let x = self.v_read(a, ty)?;
                let y = self.v_read(b, ty)?;
                let (u, parts) = {
                    let v = self.vs()?;
                    (v.upreds[p], v.vpreds[p].clone())
                };
                match (x, y, u) {
                    (VV::U(x), VV::U(y), Some(u)) => {
                        let c = ops::compare(&mut self.b, cmp, ty, x, y);
                        self.b.def_var(u, c);
                    }
                    (VV::U(x), VV::U(y), None) => {
                        let c = ops::compare(&mut self.b, cmp, ty, x, y);
                        let mt = compute_vec(ty).as_int();
                        let m = self.b.ins().bmask(mt.lane_type(), c);
                        let m = self.b.ins().splat(mt, m);
                        for pv in parts {
                            self.b.def_var(pv, m);
                        }
                    }
                    (x, y, None) => {
                        let xs = self.parts(ty, x);
                        let ys = self.parts(ty, y);
                        for (k, pv) in parts.iter().enumerate() {
                            let c = ops::compare(&mut self.b, cmp, ty, xs[k], ys[k]);
                            self.b.def_var(*pv, c);
                        }
                    }
                    (_, _, Some(_)) => {
                        return Err(TrError(format!("per-lane compare into uniform p{p}")));
                    }
                }
            }
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            } => {
                let x = self.v_read(a, ty)?;
                let y = self.v_read(b, ty)?;
                let p = pred.0 as usize;
                let (u, parts, ap) = {
                    let v = self.vs()?;
                    (v.upreds[p], v.vpreds[p].clone(), v.apreds[p])
                };
                if let Some((af, xv, uv)) = ap {
                    let masks = self.affine_masks(af, xv, uv);
                    let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
                    if masks.len() != xs.len() {
                        return Err(TrError(format!("p{p} mask width differs from sel")));
                    }
                    let vt = compute_vec(ty);
                    let r: Vec<Value> = (0..xs.len())
                        .map(|k| {
                            let m = bitcast(&mut self.b, vt, masks[k]);
                            self.b.ins().bitselect(m, xs[k], ys[k])
                        })
                        .collect();
                    self.v_write(dst.0, ty, VV::V(r))?;
                    return Ok(true);
                }
                let r = match (u, x, y) {
                    (Some(u), VV::U(x), VV::U(y)) => {
                        let c = self.b.use_var(u);
                        VV::U(self.b.ins().select(c, x, y))
                    }
                    (Some(u), x, y) => {
                        let c = self.b.use_var(u);
                        let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
                        VV::V(
                            (0..xs.len())
                                .map(|k| self.b.ins().select(c, xs[k], ys[k]))
                                .collect(),
                        )
                    }
                    (None, x, y) => {
                        let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
                        let vt = compute_vec(ty);
                        if parts.len() != xs.len() {
                            return Err(TrError(format!("p{p} mask width differs from sel")));
                        }
                        VV::V(
                            (0..xs.len())
                                .map(|k| {
                                    let m = self.b.use_var(parts[k]);
                                    let m = bitcast(&mut self.b, vt, m);
                                    self.b.ins().bitselect(m, xs[k], ys[k])
                                })
                                .collect(),
                        )
                    }
                };
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Bra { target, guard } => {
                let Some(g) = guard else {
                    self.v_goto(pc, target)?;
                    return Ok(false);
                };
                let p = g.pred.0 as usize;
                let (u, parts, ap) = {
                    let v = self.vs()?;
                    (v.upreds[p], v.vpreds[p].clone(), v.apreds[p])
                };
                let fall = self.v_block(pc + 1)?;
                let taken = self.b.create_block();
                // Lanes that disagree resume at the `setp` that computed the guard when it
                // comes right before: the per-lane code recomputes the predicate, so it need
                // not be saved (its lane masks were most of the bail-out block).
                let setp_before = pc > 0
                    && !self.an.leader[pc as usize]
                    && matches!(self.p.insts()[pc as usize - 1],
                        Inst::Setp { dst, .. } if dst == g.pred);
                let split_pc = if setp_before { pc - 1 } else { pc };
                if let Some(u) = u {
                    let c = self.b.use_var(u);
                    if g.negate {
                        self.b.ins().brif(c, fall, &[], taken, &[]);
                    } else {
                        self.b.ins().brif(c, taken, &[], fall, &[]);
                    }
                } else {
                    let (any, all) = match ap {
                        Some((af, xv, uv)) => {
                            // The common case of a loop or bounds test first: one compare
                            // that settles every lane; the full test only when it fails.
                            if let Some(below) = self.affine_below(af, xv, uv) {
                                let everywhere = matches!(af.cmp, Cmp::Lt | Cmp::Le);
                                let dest = if everywhere != g.negate { taken } else { fall };
                                let slow = self.b.create_block();
                                self.b.ins().brif(below, dest, &[], slow, &[]);
                                self.enter(slow);
                            }
                            self.affine_any_all(split_pc, af, xv, uv)?
                        }
                        None => self.v_any_all(&parts),
                    };
                    let mixed = self.b.create_block();
                    if g.negate {
                        // Taken where the predicate is false in every lane.
                        self.b.ins().brif(any, mixed, &[], taken, &[]);
                        self.enter(mixed);
                        let notall = self.b.ins().icmp_imm_s(IntCC::Equal, all, 0);
                        self.v_bail_if(notall, split_pc)?;
                        self.b.ins().jump(fall, &[]);
                    } else {
                        self.b.ins().brif(all, taken, &[], mixed, &[]);
                        self.enter(mixed);
                        self.v_bail_if(any, split_pc)?;
                        self.b.ins().jump(fall, &[]);
                    }
                }
                self.enter(taken);
                self.v_goto(pc, target)?;
                return Ok(false);
            }
            Inst::Loop { counter, target } => {
                let r = counter.0 as usize;
                let (u, parts) = {
                    let v = self.vs()?;
                    (v.uregs[r], v.vregs[r].clone())
                };
                let fall = self.v_block(pc + 1)?;
                let taken = self.b.create_block();
                let not_taken = self.b.create_block();
                if let Some(u) = u {
                    let v = self.b.use_var(u);
                    let home = self.b.func.dfg.value_type(v);
                    let iv = bitcast(&mut self.b, home.as_int(), v);
                    let more = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, iv, 1);
                    self.b.ins().brif(more, taken, &[], not_taken, &[]);
                    self.enter(not_taken);
                    let z = konst(&mut self.b, home, 0);
                    self.b.def_var(u, z);
                    self.b.ins().jump(fall, &[]);
                    self.enter(taken);
                    let d = self.b.ins().iadd_imm_s(iv, -1);
                    let d = bitcast(&mut self.b, home, d);
                    // Fuel is checked before the counter changes (a bail-out re-executes).
                    self.v_loop_taken(pc, target, &[(u, d)])?;
                } else {
                    let vals: Vec<Value> = parts.iter().map(|&p| self.b.use_var(p)).collect();
                    let vt = self.b.func.dfg.value_type(vals[0]);
                    let it = vt.as_int();
                    let ivs: Vec<Value> =
                        vals.iter().map(|&v| bitcast(&mut self.b, it, v)).collect();
                    let one = konst(&mut self.b, it, 1);
                    let mut masks = Vec::new();
                    for &iv in &ivs {
                        masks.push(self.b.ins().icmp(IntCC::UnsignedGreaterThan, iv, one));
                    }
                    let (mut or, mut and) = (masks[0], masks[0]);
                    for &m in &masks[1..] {
                        or = self.b.ins().bor(or, m);
                        and = self.b.ins().band(and, m);
                    }
                    let any = self.b.ins().vany_true(or);
                    let all = self.b.ins().vall_true(and);
                    let mixed = self.b.create_block();
                    self.b.ins().brif(all, taken, &[], mixed, &[]);
                    self.enter(mixed);
                    self.v_bail_if(any, pc)?;
                    self.b.ins().jump(not_taken, &[]);
                    self.enter(not_taken);
                    let z = konst(&mut self.b, vt, 0);
                    for &p in &parts {
                        self.b.def_var(p, z);
                    }
                    self.b.ins().jump(fall, &[]);
                    self.enter(taken);
                    let mut defs = Vec::new();
                    for (k, &iv) in ivs.iter().enumerate() {
                        let d = self.b.ins().isub(iv, one);
                        let d = bitcast(&mut self.b, vt, d);
                        defs.push((parts[k], d));
                    }
                    self.v_loop_taken(pc, target, &defs)?;
                }
                return Ok(false);
            }
            Inst::Call { .. } | Inst::Ret => {
                self.v_bail(pc)?;
                return Ok(false);
            }
            Inst::Exit => {
                if self.phased {
                    let done = self.b.ins().iconst(types::I32, status::DONE);
                    self.park_words(&[(self.layout.lane_status, done)]);
                }
                self.b.ins().jump(self.group_next, &[]);
                return Ok(false);
            }
            Inst::MemFence => {}
            Inst::BarSync | Inst::Reduce { .. } => {
                if !self.phased {
                    return Err(TrError("barriers need the phased strategy".into()));
                }
                self.v_arrive(pc)?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The taken edge of a loop: fuel first (bailing out with the counter unchanged), then
    /// the counter update and the jump.
    fn v_loop_taken(&mut self, pc: u32, target: u32, defs: &[(Variable, Value)]) -> TrResult<()> {
        if target <= pc {
            let vfuel = self.vs()?.vfuel;
            let f = self.b.use_var(vfuel);
            let empty = self.b.ins().icmp_imm_s(IntCC::Equal, f, 0);
            self.v_bail_if(empty, pc)?;
            let f = self.b.ins().iadd_imm_s(f, -1);
            self.b.def_var(vfuel, f);
        }
        for &(v, d) in defs {
            self.b.def_var(v, d);
        }
        let t = self.v_block(target)?;
        self.b.ins().jump(t, &[]);
        Ok(())
    }

    fn v_bin(&mut self, pc: u32, op: BinOp, ty: Ty, x: VV, y: VV) -> TrResult<VV> {
        // A lane-affine value plus or minus a uniform one stays lane-affine.
        match (op, &x, &y) {
            (BinOp::Add, VV::A(a), VV::U(u)) | (BinOp::Add, VV::U(u), VV::A(a)) => {
                return Ok(VV::A(self.b.ins().iadd(*a, *u)));
            }
            (BinOp::Sub, VV::A(a), VV::U(u)) => return Ok(VV::A(self.b.ins().isub(*a, *u))),
            _ => {}
        }
        let int_div = matches!(op, BinOp::Div | BinOp::Rem) && ty.is_int();
        if let (VV::U(x), VV::U(y)) = (&x, &y) {
            let (x, y) = (*x, *y);
            return Ok(VV::U(if int_div {
                let (zero, ovf) = ops::div_checks(&mut self.b, ty, x, y);
                let bad = self.or_flag(ovf, zero);
                self.v_bail_if(bad, pc)?;
                ops::divrem(&mut self.b, op, ty, x, y)
            } else if matches!(op, BinOp::Shl | BinOp::Shr) {
                ops::shift(&mut self.b, op, ty, x, y)
            } else {
                ops::simple_bin(&mut self.b, op, ty, x, y)
            }));
        }
        if int_div {
            let (xs, ys) = (self.parts(ty, x.clone()), self.parts(ty, y.clone()));
            let mut bad: Option<Value> = None;
            for k in 0..xs.len() {
                let (zero, ovf) = ops::div_checks(&mut self.b, ty, xs[k], ys[k]);
                let f = match ovf {
                    Some(o) => self.b.ins().bor(zero, o),
                    None => zero,
                };
                bad = Some(self.or_flag(bad, f));
            }
            if let Some(bad) = bad {
                let any = self.b.ins().vany_true(bad);
                self.v_bail_if(any, pc)?;
            }
            let xl = self.lanes(ty, &x);
            let yl = self.lanes(ty, &y);
            let rl: Vec<Value> = xl
                .iter()
                .zip(&yl)
                .map(|(&a, &b)| ops::divrem(&mut self.b, op, ty, a, b))
                .collect();
            return Ok(VV::V(self.build_parts(ty, &rl)));
        }
        if matches!(op, BinOp::Shl | BinOp::Shr) {
            if let VV::U(amt) = y {
                let xs = self.parts(ty, x);
                return Ok(VV::V(
                    xs.into_iter()
                        .map(|p| ops::shift(&mut self.b, op, ty, p, amt))
                        .collect(),
                ));
            }
            let xl = self.lanes(ty, &x);
            let yl = self.lanes(ty, &y);
            let rl: Vec<Value> = xl
                .iter()
                .zip(&yl)
                .map(|(&a, &b)| ops::shift(&mut self.b, op, ty, a, b))
                .collect();
            return Ok(VV::V(self.build_parts(ty, &rl)));
        }
        let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
        Ok(VV::V(
            (0..xs.len())
                .map(|k| ops::simple_bin(&mut self.b, op, ty, xs[k], ys[k]))
                .collect(),
        ))
    }

    /// `cvt` of per-lane values: native vector conversions where the x86-64 backend has them,
    /// lane by lane otherwise.
    fn v_cvt(&mut self, to: Ty, from: Ty, parts: Vec<Value>) -> Vec<Value> {
        use types::{F32X4, I32X4};
        if to == from {
            return parts;
        }
        let native = matches!(
            (from, to),
            (Ty::F32, Ty::I32)
                | (Ty::F32, Ty::U32)
                | (Ty::I32, Ty::F32)
                | (Ty::U32, Ty::F32)
                | (Ty::I32, Ty::U32)
                | (Ty::U32, Ty::I32)
                | (Ty::I64, Ty::U64)
                | (Ty::U64, Ty::I64)
        );
        if native {
            return parts
                .into_iter()
                .map(|p| match (from, to) {
                    (Ty::F32, Ty::I32) => self.b.ins().fcvt_to_sint_sat(I32X4, p),
                    (Ty::F32, Ty::U32) => self.b.ins().fcvt_to_uint_sat(I32X4, p),
                    (Ty::I32, Ty::F32) => self.b.ins().fcvt_from_sint(F32X4, p),
                    (Ty::U32, Ty::F32) => self.b.ins().fcvt_from_uint(F32X4, p),
                    _ => p,
                })
                .collect();
        }
        let xl = self.lanes(from, &VV::V(parts));
        let rl: Vec<Value> = xl
            .into_iter()
            .map(|x| ops::cvt(&mut self.b, to, from, x))
            .collect();
        self.build_parts(to, &rl)
    }
}
