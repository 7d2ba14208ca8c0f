//! The vector strategy: the program translated once more with lanes as the vector dimension.
//!
//! A *group* of G consecutive lanes of a block (G = [`crate::JitOptions::group`], 8 by
//! default) runs the vector copy of the program together. Registers the analysis proves
//! uniform stay scalar (splatted when combined with per-lane values); the others are held as
//! G/4 `I32X4`/`F32X4` or G/2 `I64X2`/`F64X2` vectors. Vector code only runs while the lanes
//! of the group are converged, so uniform branches and loops are ordinary CLIF control flow.
//!
//! A forward branch whose lanes disagree over straight-line code runs both ways under lane
//! masks (masked.rs); where that code accesses memory or divides, it is translated twice,
//! and groups whose lanes agree run the unmasked copy ([`Tr::unmasked_copy_at`]). A loop
//! whose lanes leave at different iterations, with only arithmetic and loads inside, runs
//! masked until its last lane leaves (masked_loop.rs). Anything else that would need lanes
//! to separate *bails out*: a
//! conditional branch or loop whose lanes disagree, an access that fails its
//! bounds/alignment check in some lane, a division that traps in some lane, fuel
//! exhaustion, `call`/`ret`, or running off the end. A bail-out
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

mod affine;
mod bail;
mod convert;
mod fold_ahead;
mod inst;
mod limits;
mod masked;
mod masked_loop;
mod masked_store;
mod memory;
mod minmax;
mod narrow;
mod partial;
mod realign;
mod tail;
mod values;

pub(crate) use fold_ahead::{folded_reduces, folds_ahead};
pub(crate) use limits::{consecutive_accesses, guard_exits, limit_slots};
pub(crate) use partial::{min_partial, partial_groups, stores_in_loops};
pub(crate) use realign::realigns;
pub(crate) use tail::rerun_tail;

use std::collections::BTreeSet;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, MemFlagsData, SourceLoc, Type, Value};
use cranelift_frontend::Variable;
use holovm_isa::{Addr, Inst, ParamKind, Src};

use crate::analysis::{reachable, Class};
use crate::listing;
use crate::ops::{bitcast, compute_lane, konst};
use crate::translate::{call, launch, SpaceRef, Tr, TrError, TrResult};
use affine::Affine;
use limits::{EntryGuard, GatherSite, Index, Site, SiteLimit};

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
    /// Programs with masked loops (masked_loop.rs): 1 once the group's bonus words hold its
    /// lanes' extra fuel (`I8`).
    pub vbonus: Option<Variable>,
    /// Per pc: the backward `bra` whose fuel check runs here, at its target.
    pub late_fuel: Vec<Option<u32>>,
    /// Per scalar parameter read inside a loop: its slot value, loaded once when a group
    /// enters vector code instead of on every iteration.
    pub params: Vec<Option<Variable>>,
    /// Per buffer parameter accessed inside a loop and not held ([`Tr::held_bases`]): its base
    /// pointer, likewise.
    pub bases: Vec<Option<Variable>>,
    /// The bail-out block (parameters: the pc to resume at; phased: the status to park).
    pub bail: Block,
    /// The pcs a group bails out at (the bail-out block spills what is live there).
    pub bail_pcs: BTreeSet<u32>,
    /// Cold per-pc blocks that jump to `bail` with their constants, so a check on the hot
    /// path is a bare conditional branch (no argument moves).
    pub stubs: Vec<(u32, Block)>,
    /// The stub of each pc in `stubs` (a search of `stubs` at every check took time
    /// quadratic in the program's checks).
    pub stub_at: std::collections::HashMap<u32, Block>,
    /// Vector blocks per pc.
    pub blocks: Vec<Option<Block>>,
    /// `%block * %bdim` of the current block (`I32`).
    pub bbase: Variable,
    /// How many of the current block's lanes vector groups may cover (`I32`, from
    /// [`Tr::emit_limits`]).
    pub vlimit: Option<Variable>,
    /// The entry guard on `%gid` folded into the group limit ([`Tr::entry_guard`]).
    pub guard: Option<EntryGuard>,
    /// The masked branches being translated, innermost last (masked.rs).
    pub masked: Vec<masked::Masked>,
    /// The outermost masked branch's bail-out.
    pub masked_bail: Option<masked::MaskedBail>,
    /// The masked branches' bail-outs whose stubs were made, to fill in.
    pub masked_stubs: Vec<masked::MaskedBail>,
    /// While the unmasked copy of a masked branch's code is translated: the branch, and
    /// the block of the masked copy, where groups whose lanes disagree go.
    pub unmasked: Option<(u32, Block)>,
    /// The masked branch whose masked copy is being translated, if it has an unmasked one.
    pub copied: Option<u32>,
    /// The masked stores' stack slot (masked.rs); per pc, where the running-lanes words of
    /// the masked branch there are in it; where the data of stores that wait starts, and
    /// the end of the current code's data.
    pub store_slot: Option<cranelift_codegen::ir::StackSlot>,
    pub runs_at: Vec<Option<(i32, u32)>>,
    pub store_floor: u32,
    pub store_top: u32,
    /// Whether a block's partial last group runs as vector code (partial.rs).
    pub partial: bool,
}

/// Per pc: whether the instruction is inside a loop (between the target and the source of
/// a backward branch or `loop`).
fn in_loops(insts: &[Inst]) -> Vec<bool> {
    let mut in_loop = vec![false; insts.len()];
    for (pc, inst) in insts.iter().enumerate() {
        if let Some(t) = inst.target() {
            let t = t as usize;
            if t <= pc && matches!(inst, Inst::Bra { .. } | Inst::Loop { .. }) {
                in_loop[t..=pc].iter_mut().for_each(|x| *x = true);
            }
        }
    }
    in_loop
}

/// Which of `nparams` parameters are read, or accessed as buffers, by an instruction inside
/// a loop ([`in_loops`]).
fn loop_params(insts: &[Inst], nparams: usize) -> Vec<bool> {
    let in_loop = in_loops(insts);
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
    let ends = |i: &Inst| {
        matches!(
            i,
            Inst::Exit | Inst::Ret | Inst::Call { .. } | Inst::BarSync | Inst::Reduce { .. }
        )
    };
    reachable(insts, roots.iter().copied(), ends)
}

pub(crate) fn vec_of(lane: Type) -> Type {
    lane.by(128 / lane.bits()).unwrap_or(lane)
}

/// The vector type of a predicate's lane masks, `bits` the width of the compare that sets
/// it (`Analysis::pred_bits`).
pub(crate) fn mask_of(bits: u32) -> Type {
    match bits {
        64 => types::I64X2,
        _ => types::I32X4,
    }
}

impl Tr<'_, '_> {
    /// The lanes of `x` where `mask`'s lane is all ones, those of `y` where it is zero;
    /// `mask` a vector of whole-lane masks as wide as `x`'s lanes (any type, bitcast). One
    /// `pblendvb`: Cranelift blends a `bitselect` by a compare's result, but lowers one by
    /// any other mask (masks combined with `band`/`bor`, a predicate's variable) to three
    /// instructions. (A whole-lane mask's bytes are all set or all clear, so a byte blend
    /// is the lane blend; it is also the instruction the compares' rule picks.)
    pub(crate) fn blend(&mut self, mask: Value, x: Value, y: Value) -> Value {
        let vt = self.b.func.dfg.value_type(x);
        if !self.blendv || !vt.is_vector() {
            let m = bitcast(&mut self.b, vt, mask);
            return self.b.ins().bitselect(m, x, y);
        }
        let bt = types::I8X16;
        let (m, x, y) = (
            bitcast(&mut self.b, bt, mask),
            bitcast(&mut self.b, bt, x),
            bitcast(&mut self.b, bt, y),
        );
        let r = self.b.ins().blendv(m, x, y);
        bitcast(&mut self.b, vt, r)
    }

    /// Every lane of a vector group as bits (bit `l`: lane `l`), as lane sets are packed.
    fn group_bits(&self) -> i64 {
        (1i64 << self.g) - 1
    }

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
        if let Some(v) = self.v.as_mut() {
            v.vlimit = Some(vlimit);
        }
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
            let affine = self.reg_step(r) != 0;
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
                let vt = mask_of(bits);
                let parts = g / vt.lane_count();
                upreds.push(None);
                vpreds.push((0..parts).map(|_| self.b.declare_var(vt)).collect());
            }
        }
        let mut params = Vec::new();
        let mut bases = Vec::new();
        let in_loops = loop_params(self.p.insts(), self.nparams);
        for (i, (used, prm)) in in_loops.into_iter().zip(self.p.params()).enumerate() {
            let buffer = matches!(prm.kind, ParamKind::Buffer(_));
            let held = matches!(self.held_bases.get(i), Some(Some(_)));
            params.push((used && !buffer).then(|| self.b.declare_var(types::I64)));
            bases.push((used && buffer && !held).then(|| self.b.declare_var(types::I64)));
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
            vbonus: self
                .an
                .has_masked_loops()
                .then(|| self.b.declare_var(types::I8)),
            late_fuel,
            params,
            bases,
            bail,
            bail_pcs: BTreeSet::new(),
            stubs: Vec::new(),
            stub_at: Default::default(),
            blocks: vec![None; n + 1],
            bbase: self.b.declare_var(types::I32),
            guard,
            vlimit: None,
            masked: Vec::new(),
            masked_bail: None,
            masked_stubs: Vec::new(),
            unmasked: None,
            copied: None,
            store_slot: None,
            runs_at: Vec::new(),
            store_floor: 0,
            store_top: 0,
            partial: self.partial,
        }
    }

    /// The group head: a full group below the block's limit `vlimit` enters vector code at
    /// `entry` (after realignment to a row, realign.rs), the rest goes to the scalar `tail`.
    /// Phased strategy: in later phases, full groups resume from the per-lane file at the
    /// returned block instead.
    fn emit_group_head(
        &mut self,
        vlimit: Variable,
        entry: Block,
        tail: Block,
    ) -> TrResult<Option<Block>> {
        // A full group goes to the realignment check, if the program needs one.
        let first = self.emit_realign(entry)?.unwrap_or(entry);
        self.b.switch_to_block(self.group_head);
        let l0 = self.b.use_var(self.lane0);
        let end = self.b.ins().iadd_imm_s(l0, self.g as i64);
        let lim = match self.phased {
            true => self.call_word(types::I32, call::VLIMIT),
            false => self.b.use_var(vlimit),
        };
        let full = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, end, lim);
        if !self.phased {
            match self.partial_groups() {
                true => {
                    let full_b = self.b.create_block();
                    self.b.ins().brif(full, full_b, &[], tail, &[]);
                    self.b.switch_to_block(full_b);
                    self.set_partial_words();
                    self.b.ins().jump(first, &[]);
                }
                false => {
                    self.b.ins().brif(full, first, &[], tail, &[]);
                }
            }
            return Ok(None);
        }
        let later = self.call_word(types::I8, call::VPHASE);
        let resume = self.b.create_block();
        // Later phases resume groups from the per-lane file, then run the scalar loop (not
        // the tail, which would reset the trap limit `s_end`).
        let (full_b, short_b) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(full, full_b, &[], short_b, &[]);
        self.b.switch_to_block(short_b);
        self.b.ins().brif(later, self.phase_start, &[], tail, &[]);
        self.b.switch_to_block(full_b);
        if self.partial_groups() {
            // For the vector code, whether it runs or resumes.
            self.set_partial_words();
        }
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
        let (vfuel, vbonus) = (v.vfuel, v.vbonus);
        if let Some(vb) = vbonus {
            let z = self.b.ins().iconst(types::I8, 0);
            self.b.def_var(vb, z);
        }
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
            let vt = mask_of(bits);
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

    /// `resume_pcs`: where later phases enter the vector code (besides pc 0).
    fn emit_vector_program(&mut self, resume_pcs: &[u32]) -> TrResult<()> {
        let insts = self.p.insts().to_vec();
        let n = insts.len() as u32;
        let reach = vector_reachable(&insts, resume_pcs);
        let mut open = false;
        for pc in 0..n {
            let Some(join) = self.unmasked_copy_at(pc, &reach, resume_pcs) else {
                open = self.emit_pc(pc, &insts, &reach, open, true)?;
                continue;
            };
            // Groups whose lanes agree at the branch run its code unmasked, stores written
            // at once (a failing check bails out where it fails); the others go to the
            // masked copy, translated next.
            let masked = self.b.create_block();
            let saved: Vec<Option<Block>> = match self.v.as_mut() {
                Some(v) => {
                    v.unmasked = Some((pc, masked));
                    v.blocks[pc as usize + 1..join as usize]
                        .iter_mut()
                        .map(Option::take)
                        .collect()
                }
                None => Vec::new(),
            };
            for q in pc..join {
                open = self.emit_pc(q, &insts, &reach, open, true)?;
            }
            // Masked code nested in the copy may end at the same join.
            let waiting = self.end_masked_at(join);
            open = self.write_waiting(waiting, open);
            if open {
                let j = self.v_block(join)?;
                self.b.ins().jump(j, &[]);
            }
            if let Some(v) = self.v.as_mut() {
                v.unmasked = None;
                let copy = &mut v.blocks[pc as usize + 1..join as usize];
                for (blk, old) in copy.iter_mut().zip(saved) {
                    if let Some(b) = std::mem::replace(blk, old) {
                        self.b.seal_block(b);
                    }
                }
            }
            self.enter(masked);
            if let Some(v) = self.v.as_mut() {
                v.copied = Some(pc);
            }
            open = self.emit_pc(pc, &insts, &reach, true, false)?;
        }
        let waiting = self.end_masked_at(n);
        let end = self.v_block(n)?;
        open = self.write_waiting(waiting, open);
        if open {
            self.b.ins().jump(end, &[]);
        }
        self.b.switch_to_block(end);
        self.b.set_srcloc(listing::loc(n, false));
        self.v_bail(n)?;
        self.b.set_srcloc(SourceLoc::default());
        Ok(())
    }

    /// Translates the instruction at `pc`, entering its block if it starts one (`leader`),
    /// after the stores that wait for a join there. `open`: whether the current block falls
    /// through to it; returns whether it falls through to the next.
    fn emit_pc(
        &mut self,
        pc: u32,
        insts: &[Inst],
        reach: &[bool],
        mut open: bool,
        leader: bool,
    ) -> TrResult<bool> {
        let waiting = self.end_masked_at(pc);
        if !reach[pc as usize] {
            // Code only scalar lanes run (after a barrier, a call or an exit) is not
            // translated twice.
            if open {
                return Err(TrError(format!("pc {pc}: reached by fallthrough")));
            }
            return Ok(false);
        }
        open = self.write_waiting(waiting, open);
        if leader && self.an.leader[pc as usize] {
            let blk = self.v_block(pc)?;
            if open {
                self.b.ins().jump(blk, &[]);
            }
            self.b.switch_to_block(blk);
            open = true;
        }
        let skip_guard = self.vs()?.guard.is_some();
        if !open || (skip_guard && pc < 2) {
            return Ok(open);
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
        self.v_inst(pc, &insts[pc as usize])
    }

    /// Where masked code reaches its join with stores waiting: through the block that
    /// writes them (from the current block too, if it falls through). Returns whether the
    /// current block falls through to the join.
    fn write_waiting(&mut self, waiting: Option<masked_store::Waiting>, open: bool) -> bool {
        let Some(w) = waiting else { return open };
        if open {
            self.b.ins().jump(w.block, &[]);
        }
        self.flush_deferred(w);
        true
    }

    /// The join of the masked branch at `pc` if its code is translated twice, unmasked for
    /// groups whose lanes agree there and masked for the others
    /// ([`crate::analysis::MaskedBranch::copy`]), as the outermost masked branch.
    fn unmasked_copy_at(&self, pc: u32, reach: &[bool], resume_pcs: &[u32]) -> Option<u32> {
        let mb = self.masked_join(pc).filter(|m| m.copy)?;
        let v = self.v.as_ref()?;
        let outermost = v.masked.iter().all(|m| m.join == pc) && v.unmasked.is_none();
        let guard = v.guard.is_some() && pc < 2;
        let resumed = resume_pcs.iter().any(|&r| r > pc && r < mb.join);
        (outermost && reach[pc as usize] && !guard && !resumed).then_some(mb.join)
    }
}
