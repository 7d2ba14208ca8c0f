//! Divergent forward branches run both ways under lane masks ("if-conversion").
//!
//! For a branch the analysis accepts ([`crate::analysis::Analysis::masked`]), a group runs
//! the skipped instructions (the *body*) for every lane, and each register or predicate
//! write keeps the old value in the lanes that took the branch (a `bitselect` by the
//! branch's lane mask), so at the target every lane holds what it would hold had it run
//! alone. An `if`/`else` runs its taken side the same way after the fall-through side, with
//! the inverse masks. Branches nest: an inner level's masks also keep the lanes its
//! enclosing levels leave out. Code with memory accesses, divisions, transcendentals or more
//! than a few instructions skips a side no lane runs, and groups whose lanes agree at the
//! outermost such branch run an unmasked copy of the code instead (mod.rs); shorter code
//! runs branch-free. A store writes only the lanes that run it; gathers and scatters use
//! index 0 for the others. A check that fails inside (a bounds check, a zero divisor)
//! restores the registers written since the outermost masked branch and bails out there (or
//! at the `setp` before it), where the per-lane code takes each lane its own way. Since that
//! runs the code again, a store after a load and followed by such a check or another store
//! waits ([`Deferred`]): the code goes to its outermost join through a block that writes
//! the waiting stores in program order. The two stores of an `if`/`else` to one place
//! ([`MaskedBranch::pair`]) are one vector store of both sides' values.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, Type, Value,
};
use cranelift_frontend::Variable;
use holovm_isa::{Guard, Inst, Ty};

use crate::analysis::MaskedBranch;

use super::memory::Mode;
use super::values::VV;
use crate::listing;
use crate::ops::{bitcast, compute_lane};
use crate::translate::{Tr, TrError, TrResult};

/// A masked branch's code while it is being translated (one level of nesting).
#[derive(Clone)]
pub(crate) struct Masked {
    /// Where both sides meet again, where the masking ends.
    pub join: u32,
    /// Per lane: all ones where the lane does not run the current side (its registers
    /// stay as they were; it includes the lanes enclosing levels leave out), in vectors of
    /// `bits`-bit lanes.
    pub keep: Vec<Value>,
    pub bits: u32,
    /// `keep` in the other lane width, built on first use.
    pub other: Option<Vec<Value>>,
    /// For an `if`/`else`: where the taken side starts, its masks, and whether any lane
    /// runs it (else the fall-through side jumps past it).
    pub else_at: Option<u32>,
    pub keep_else: Vec<Value>,
    pub some: Value,
    /// The outermost level's branch predicate masks as they came (an `icmp`/`fcmp`, which
    /// a `bitselect` lowers to one blend), and whether they are `keep` or its complement;
    /// `raw_else` likewise for the taken side.
    pub raw: Option<(Vec<Value>, bool)>,
    pub raw_else: Option<(Vec<Value>, bool)>,
    /// [`MaskedBranch::skip`].
    pub skip: bool,
    /// [`MaskedBranch::pair`], for the outermost level of code that runs both sides (code
    /// run branch-free, or the masked copy of code with an unmasked one), and where in the
    /// store slot the first store's value waits for the second (its offset, parts and
    /// their type), or, in code run branch-free, where the first dominates the second, the
    /// parts themselves.
    pub pair: Option<(u32, u32)>,
    pub stash: Option<Stash>,
}

/// The value of the first store of a pair ([`Masked::stash`]).
#[derive(Clone)]
pub(crate) enum Stash {
    Slot(i32, usize, Type),
    Parts(Vec<Value>),
}

/// The outermost masked branch's bail-out: a check that fails anywhere inside its code
/// restores the registers written since the branch and resumes there in scalar code.
#[derive(Clone)]
pub(crate) struct MaskedBail {
    /// Where to resume (the branch, or the `setp` right before it).
    pub pc: u32,
    /// The variables written between the branch and its join, with their values at the
    /// branch.
    pub restore: Vec<(Variable, Value)>,
    /// The stub, made on first use.
    pub stub: Option<Block>,
    /// For code whose stores wait for the join ([`MaskedBranch::defer`]): where in the
    /// store slot each of its `.1` stores has 8 bytes with its running lanes (bit l: lane
    /// l; see [`Tr::zero_masked_runs`]), and the stores translated so far.
    pub runs: Option<(i32, u32)>,
    pub deferred: Vec<Deferred>,
    /// Where the code goes to its join when stores wait: the block that writes them, on
    /// the way (paths into the join from elsewhere have nothing waiting).
    pub flush: Option<Block>,
}

/// The stores that wait for a join, and the block on the way there that writes them
/// ([`Tr::flush_deferred`]).
pub(crate) struct Waiting {
    runs: i32,
    stores: Vec<Deferred>,
    pub block: Block,
}

/// A store of masked code that waits for the join. Its data waits in memory, not in
/// variables: those would be live around every loop enclosing the code (a path that skips
/// the store still needs a value), and spilled. All of it sits in the one store slot,
/// addressed from one base: Cranelift hoists each slot address out of the group loop, so
/// a slot or offset per store would hold a register each through the whole loop.
#[derive(Clone)]
pub(crate) struct Deferred {
    /// The store's pc, for the listing.
    pc: u32,
    ty: Ty,
    mode: Mode,
    /// Where in the store slot: the addresses (8 bytes each), then 16-byte aligned the
    /// value: one scalar for every lane or the vector parts (16 bytes each).
    at: i32,
    addrs: usize,
    /// The value's type and number of parts, and whether it is one scalar.
    val: (Type, usize, bool),
}

impl Tr<'_, '_> {
    /// The branch at `pc` if it runs both ways under masks ([`crate::analysis::Analysis::masked`]).
    pub(super) fn masked_join(&self, pc: u32) -> Option<MaskedBranch> {
        let copy = self.v.as_ref().and_then(|v| v.unmasked);
        if copy.is_some_and(|(p, j, _)| (p..j).contains(&pc)) {
            // Its unmasked copy (see `emit_vector_program`).
            return None;
        }
        self.an.masked.get(pc as usize).copied().flatten()
    }

    /// Whether masked code is being translated.
    pub(super) fn in_masked(&self) -> bool {
        self.v.as_ref().is_some_and(|v| !v.masked.is_empty())
    }

    /// Starts the masked branch at `pc` (guard `g`) in the current block, before it
    /// branches: `taken` is the branch predicate's lane masks (`bits`-bit lanes), `any` and
    /// `all` whether it holds in some / every lane. Returns whether every lane that runs
    /// this code branches (then the fall-through side is skipped).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn begin_masked(
        &mut self,
        pc: u32,
        bail_pc: u32,
        mb: MaskedBranch,
        g: Guard,
        taken: Vec<Value>,
        bits: u32,
        (any, all): (Value, Value),
    ) -> TrResult<Value> {
        let raw = taken.clone();
        let taken: Vec<Value> = if g.negate {
            taken.iter().map(|&m| self.b.ins().bnot(m)).collect()
        } else {
            taken
        };
        // Lanes that an enclosing level leaves out keep their values on both sides.
        let outer = self.keep_masks(bits);
        let (keep, keep_else, every, some) = match &outer {
            None => {
                let keep_else = match mb.else_at {
                    Some(_) => taken.iter().map(|&m| self.b.ins().bnot(m)).collect(),
                    None => Vec::new(),
                };
                let (every, some) = if g.negate {
                    let none = self.b.ins().icmp_imm_s(IntCC::Equal, any, 0);
                    let notall = self.b.ins().icmp_imm_s(IntCC::Equal, all, 0);
                    (none, notall)
                } else {
                    (all, any)
                };
                (taken, keep_else, every, some)
            }
            Some(o) => {
                let keep: Vec<Value> = taken
                    .iter()
                    .zip(o)
                    .map(|(&t, &o)| self.b.ins().bor(t, o))
                    .collect();
                // The lanes of this level that branch: taken and not left out.
                let branching: Vec<Value> = taken
                    .iter()
                    .zip(o)
                    .map(|(&t, &o)| self.b.ins().band_not(t, o))
                    .collect();
                let keep_else: Vec<Value> = match mb.else_at {
                    Some(_) => branching.iter().map(|&b| self.b.ins().bnot(b)).collect(),
                    None => Vec::new(),
                };
                let every = self.lanes_true(&keep, true);
                let some = self.lanes_true(&branching, false);
                (keep, keep_else, every, some)
            }
        };
        let (raw, raw_else) = match outer {
            Some(_) => (None, None),
            None => (
                Some((raw.clone(), !g.negate)),
                mb.else_at.map(|_| (raw, g.negate)),
            ),
        };
        if outer.is_none() {
            let restore = self.written_vars(pc, mb.join)?;
            let runs = match mb.defer {
                true => self.vs()?.runs_at.get(pc as usize).copied().flatten(),
                false => None,
            };
            let flush = runs.map(|_| self.b.create_block());
            if let Some(v) = self.v.as_mut() {
                v.store_top = v.store_floor;
                v.masked_bail = Some(MaskedBail {
                    pc: bail_pc,
                    restore,
                    stub: None,
                    runs,
                    deferred: Vec::new(),
                    flush,
                });
            }
        }
        let copied = self.vs()?.copied == Some(pc);
        if let Some(v) = self.v.as_mut() {
            v.masked.push(Masked {
                pair: mb.pair.filter(|_| outer.is_none() && (copied || !mb.skip)),
                stash: None,
                join: mb.join,
                keep,
                bits,
                other: None,
                else_at: mb.else_at,
                keep_else,
                some,
                skip: mb.skip,
                raw,
                raw_else,
            });
        }
        Ok(every)
    }

    /// The vector variables written between the branch at `pc` and `join`, with their
    /// current values.
    fn written_vars(&mut self, pc: u32, join: u32) -> TrResult<Vec<(Variable, Value)>> {
        let mut restore: Vec<(Variable, Value)> = Vec::new();
        let body = self.p.insts()[pc as usize + 1..join as usize].to_vec();
        for inst in &body {
            let o = crate::analysis::operands(inst);
            let v = self.vs()?;
            let mut vars: Vec<Variable> = Vec::new();
            if let Some((r, _)) = o.dst {
                vars.extend(v.vregs.get(r as usize).into_iter().flatten());
            }
            if let Some(p) = o.pred_dst {
                vars.extend(v.vpreds.get(p as usize).into_iter().flatten());
            }
            for var in vars {
                if !restore.iter().any(|(w, _)| *w == var) {
                    let x = self.b.use_var(var);
                    restore.push((var, x));
                }
            }
        }
        Ok(restore)
    }

    /// At `pc`: ends the masked levels that join here, or switches the innermost to the
    /// masks of its taken side where that starts. Returns the stores that wait for this
    /// join.
    pub(super) fn end_masked_at(&mut self, pc: u32) -> Option<Waiting> {
        let v = self.v.as_mut()?;
        while v.masked.last().is_some_and(|m| m.join == pc) {
            v.masked.pop();
        }
        let mut waiting = None;
        if v.masked.is_empty() {
            if let Some(m) = v.masked_bail.take() {
                if let (Some((runs, _)), Some(block)) = (m.runs, m.flush) {
                    waiting = Some(Waiting {
                        runs,
                        stores: m.deferred,
                        block,
                    });
                }
            }
        }
        if let Some(m) = v.masked.last_mut().filter(|m| m.else_at == Some(pc)) {
            m.keep = std::mem::take(&mut m.keep_else);
            m.raw = m.raw_else.take();
            // Made on the other side, which does not dominate this one.
            m.other = None;
        }
        waiting
    }

    /// The block the outermost masked code jumps to for its join at `pc`, if its stores
    /// wait there: the one that writes them ([`MaskedBail::flush`]).
    pub(super) fn flush_block(&self, pc: u32) -> Option<Block> {
        let v = self.v.as_ref()?;
        v.masked.first().filter(|m| m.join == pc)?;
        v.masked_bail.as_ref()?.flush
    }

    /// The `bra @join` that ends an `if`/`else`'s fall-through side: on to the taken side
    /// when some lane branched, else past it. Returns false for other branches.
    pub(super) fn v_else_jump(&mut self, pc: u32, target: u32) -> TrResult<bool> {
        let Some(m) = self.v.as_ref().and_then(|v| v.masked.last()) else {
            return Ok(false);
        };
        if m.else_at != Some(pc + 1) || m.join != target {
            return Ok(false);
        }
        let (some, skip) = (m.some, m.skip);
        let (other_side, join) = (self.v_block(pc + 1)?, self.v_block(target)?);
        if skip {
            self.b.ins().brif(some, other_side, &[], join, &[]);
        } else {
            self.b.ins().jump(other_side, &[]);
        }
        Ok(true)
    }

    /// Inside masked code: its bail-out stub (made on first use), which restores the
    /// registers written since the outermost masked branch and bails out there.
    pub(super) fn masked_stub(&mut self) -> Option<Block> {
        let v = self.v.as_mut()?;
        let m = v.masked_bail.as_mut()?;
        if let Some(s) = m.stub {
            return Some(s);
        }
        let stub = self.b.create_block();
        self.b.set_cold_block(stub);
        m.stub = Some(stub);
        let made = m.clone();
        v.masked_stubs.push(made);
        Some(stub)
    }

    /// The lanes that keep their old values, as masks of `bits`-bit lanes; `None` outside
    /// masked code.
    pub(super) fn keep_masks(&mut self, bits: u32) -> Option<Vec<Value>> {
        let m = self.v.as_ref()?.masked.last()?;
        if m.bits == bits {
            return Some(m.keep.clone());
        }
        if let Some(o) = &m.other {
            return Some(o.clone());
        }
        let keep = m.keep.clone();
        let other: Vec<Value> = if bits == 64 {
            keep.iter()
                .flat_map(|&k| [self.b.ins().swiden_low(k), self.b.ins().swiden_high(k)])
                .collect()
        } else {
            keep.chunks(2)
                .map(|c| self.narrow(c, types::I32X4))
                .collect()
        };
        if let Some(m) = self.v.as_mut().and_then(|v| v.masked.last_mut()) {
            m.other = Some(other.clone());
        }
        Some(other)
    }

    /// Defines the vector parts `vars` of register `r` or predicate `p`: inside masked code
    /// only in the lanes that run it, where the old value is live past the code.
    pub(super) fn v_def_parts(
        &mut self,
        vars: &[Variable],
        vals: Vec<Value>,
        (r, p): (Option<usize>, Option<usize>),
    ) {
        let live = self.live_after_body(r, p);
        let bits = vals
            .first()
            .map_or(32, |&x| self.b.func.dfg.value_type(x).lane_bits());
        // Masks where set lanes keep their value (`true`) or take the new one.
        let raw = self
            .v
            .as_ref()
            .and_then(|v| v.masked.last())
            .filter(|m| m.bits == bits)
            .and_then(|m| m.raw.clone());
        let masks = match (live, raw) {
            (false, _) => None,
            (true, Some(r)) => Some(r),
            (true, None) => self.keep_masks(bits).map(|k| (k, true)),
        };
        for (k, (&var, x)) in vars.iter().zip(vals).enumerate() {
            let x = match masks
                .as_ref()
                .and_then(|(m, keep)| Some((*m.get(k)?, *keep)))
            {
                Some((m, keep)) => {
                    let vt = self.b.func.dfg.value_type(x);
                    let m = bitcast(&mut self.b, vt, m);
                    let old = self.b.use_var(var);
                    if keep {
                        self.b.ins().bitselect(m, old, x)
                    } else {
                        self.b.ins().bitselect(m, x, old)
                    }
                }
                None => x,
            };
            self.b.def_var(var, x);
        }
    }

    /// Whether register `r` (predicate `p`) is live where some enclosing masked code ends
    /// (its lanes that do not run the code need their old value), or where the taken side
    /// of an `if`/`else` whose fall-through side this is starts (that side runs after this
    /// one, in the lanes that keep their values), or `true` outside any.
    fn live_after_body(&self, r: Option<usize>, p: Option<usize>) -> bool {
        let Some(levels) = self.v.as_ref().map(|v| &v.masked).filter(|l| !l.is_empty()) else {
            return true;
        };
        let points = levels.iter().flat_map(|m| {
            // The taken side's masks are taken when that side starts.
            let fall_side = m.else_at.filter(|_| !m.keep_else.is_empty());
            std::iter::once(m.join).chain(fall_side)
        });
        points.into_iter().any(|j| {
            let j = j as usize;
            let reg = r.is_some_and(|r| {
                self.an
                    .live_regs
                    .get(j)
                    .is_none_or(|l| l[r / 64] & (1 << (r % 64)) != 0)
            });
            let pred = p.is_some_and(|p| {
                self.an
                    .live_preds
                    .get(j)
                    .is_none_or(|l| l & (1 << (p % 16)) != 0)
            });
            reg || pred
        })
    }

    /// A store inside a masked body: every lane's store when no lane took the branch,
    /// otherwise only the lanes that run the body, in lane order; or recorded for the
    /// join ([`MaskedBranch::defer`]). Returns false outside a masked body.
    pub(super) fn v_store_masked(
        &mut self,
        pc: u32,
        ty: Ty,
        mode: Mode,
        addrs: &[Value],
        val: VV,
    ) -> TrResult<bool> {
        let Some(keep) = self
            .v
            .as_ref()
            .and_then(|v| v.masked.last())
            .map(|m| m.keep.clone())
        else {
            return Ok(false);
        };
        if self.paired_store(pc, ty, mode, addrs, &val)? {
            return Ok(true);
        }
        let defer = self
            .vs()?
            .masked_bail
            .as_ref()
            .is_some_and(|m| m.runs.is_some());
        if let (false, Mode::Uniform, VV::U(_)) = (defer, &mode, &val) {
            // Every running lane stores the same value to the same place.
            self.v_store(ty, mode, addrs, val);
            return Ok(true);
        }
        let kept = self.kept_bits(&keep);
        if defer {
            self.defer_store(pc, ty, mode, addrs, val, kept);
        } else {
            self.store_running(ty, mode, addrs, val, kept);
        }
        Ok(true)
    }

    /// The stores at `pc` of an `if`/`else` pair ([`Masked::pair`]), of which every lane
    /// runs one: the first one's value waits in the store slot, and the second writes every
    /// lane, each with its side's value (one vector store instead of a loop over each side's
    /// lanes). Returns whether `pc` is one of them.
    fn paired_store(
        &mut self,
        pc: u32,
        ty: Ty,
        mode: Mode,
        addrs: &[Value],
        val: &VV,
    ) -> TrResult<bool> {
        let level = self.v.as_ref().filter(|v| v.masked.len() == 1);
        let Some(m) = level.and_then(|v| v.masked.last()) else {
            return Ok(false);
        };
        let (Some((first, second)), stash, skip) = (m.pair, m.stash.clone(), m.skip) else {
            return Ok(false);
        };
        let fl = MemFlagsData::trusted();
        if pc == first {
            let parts = self.parts(ty, val.clone());
            let stash = if skip {
                let vt = self.b.func.dfg.value_type(parts[0]);
                let (base, at) = self.store_slot_room(parts.len() as u32 * 16);
                for (i, &x) in parts.iter().enumerate() {
                    self.b.ins().store(fl, x, base, at + i as i32 * 16);
                }
                Stash::Slot(at, parts.len(), vt)
            } else {
                Stash::Parts(parts)
            };
            if let Some(m) = self.v.as_mut().and_then(|v| v.masked.last_mut()) {
                m.stash = Some(stash);
            }
            return Ok(true);
        }
        if pc != second {
            return Ok(false);
        }
        let firsts: Vec<Value> = match stash {
            Some(Stash::Parts(parts)) => parts,
            Some(Stash::Slot(at, count, vt)) => {
                let base = self.store_slot_addr();
                (0..count as i32)
                    .map(|i| self.b.ins().load(vt, fl, base, at + i * 16))
                    .collect()
            }
            None => {
                let e = format!("pc {pc}: the paired store before it was not translated");
                return Err(TrError(e));
            }
        };
        let vt = self.b.func.dfg.value_type(firsts[0]);
        let seconds = self.parts(ty, val.clone());
        // The lanes that do not run this side run the first store's.
        let keep = self
            .keep_masks(vt.lane_bits())
            .ok_or_else(|| TrError("no masks".into()))?;
        let merged: Vec<Value> = firsts
            .into_iter()
            .zip(seconds)
            .zip(keep)
            .map(|((a, b), k)| {
                let k = bitcast(&mut self.b, vt, k);
                self.b.ins().bitselect(k, a, b)
            })
            .collect();
        let val = VV::V(merged);
        if self
            .vs()?
            .masked_bail
            .as_ref()
            .is_some_and(|m| m.runs.is_some())
        {
            let every = self.b.ins().iconst(types::I64, 0);
            self.defer_store(pc, ty, mode, addrs, val, every);
        } else {
            self.v_store(ty, mode, addrs, val);
        }
        Ok(true)
    }

    /// The lanes that `keep` leaves out, as bits of an `I64` (bit l: lane l).
    fn kept_bits(&mut self, keep: &[Value]) -> Value {
        let per = self.b.func.dfg.value_type(keep[0]).lane_count();
        let mut kept = self.b.ins().iconst(types::I64, 0);
        for (k, &m) in keep.iter().enumerate() {
            let bits = self.b.ins().vhigh_bits(types::I64, m);
            let bits = self.b.ins().ishl_imm_s(bits, (k as u32 * per) as i64);
            kept = self.b.ins().bor(kept, bits);
        }
        kept
    }

    /// Where the kernel function starts: room in the store slot for the running-lanes
    /// words of every masked branch whose stores wait ([`MaskedBail::runs`]), zeroed. A word
    /// is zero but between its store and the join, where it is written and zeroed again,
    /// or the code's bail-out, which zeroes them: a path into the join from elsewhere, or
    /// from the unmasked copy of the code, finds nothing waiting.
    pub(super) fn zero_masked_runs(&mut self) -> TrResult<()> {
        let insts = self.p.insts();
        let mut runs_at = vec![None; insts.len()];
        let mut at = self.g * 8;
        for (pc, mb) in self.an.masked.iter().enumerate() {
            let Some(mb) = mb.filter(|m| m.defer) else {
                continue;
            };
            let stores = insts[pc + 1..mb.join as usize]
                .iter()
                .filter(|i| matches!(i, Inst::Stg { .. } | Inst::Sts { .. }))
                .count() as u32;
            runs_at[pc] = Some((at as i32, stores));
            at += stores * 8;
        }
        if at == self.g * 8 {
            return Ok(());
        }
        let slot = self.store_slot();
        let data = &mut self.b.func.sized_stack_slots[slot];
        data.size = data.size.max(at);
        let base = self.store_slot_addr();
        let zero = self.b.ins().iconst(types::I64, 0);
        for off in (self.g * 8..at).step_by(8) {
            self.b
                .ins()
                .store(MemFlagsData::trusted(), zero, base, off as i32);
        }
        let v = self
            .v
            .as_mut()
            .ok_or_else(|| TrError("no vector state".into()))?;
        v.runs_at = runs_at;
        v.store_floor = at;
        Ok(())
    }

    /// In a masked branch's bail-out: zeroes its running-lanes words.
    pub(super) fn clear_masked_runs(&mut self, runs: Option<(i32, u32)>) {
        let Some((at, stores)) = runs else { return };
        let base = self.store_slot_addr();
        let zero = self.b.ins().iconst(types::I64, 0);
        for k in 0..stores as i32 {
            self.b
                .ins()
                .store(MemFlagsData::trusted(), zero, base, at + k * 8);
        }
    }

    /// Records a store for the join: its running lanes, addresses and value in memory.
    fn defer_store(&mut self, pc: u32, ty: Ty, mode: Mode, addrs: &[Value], val: VV, kept: Value) {
        let Some((runs, k)) = self
            .v
            .as_ref()
            .and_then(|v| v.masked_bail.as_ref())
            .and_then(|m| Some((m.runs?.0, m.deferred.len())))
        else {
            return;
        };
        let fl = MemFlagsData::trusted();
        let full = (1i64 << self.g) - 1;
        let run = self.b.ins().bnot(kept);
        let run = self.b.ins().band_imm_s(run, full);
        let parts = match val {
            VV::U(x) => vec![x],
            other => self.parts(ty, other),
        };
        let vt = self.b.func.dfg.value_type(parts[0]);
        let uniform = !vt.is_vector();
        let vals = (addrs.len() as u32 * 8).next_multiple_of(16);
        let (base, at) = self.store_slot_room(vals + parts.len() as u32 * 16);
        self.b.ins().store(fl, run, base, runs + k as i32 * 8);
        for (i, &a) in addrs.iter().enumerate() {
            self.b.ins().store(fl, a, base, at + i as i32 * 8);
        }
        for (i, &x) in parts.iter().enumerate() {
            self.b
                .ins()
                .store(fl, x, base, at + (vals + i as u32 * 16) as i32);
        }
        let d = Deferred {
            pc,
            ty,
            mode,
            at,
            addrs: addrs.len(),
            val: (vt, parts.len(), uniform),
        };
        if let Some(m) = self.v.as_mut().and_then(|v| v.masked_bail.as_mut()) {
            m.deferred.push(d);
        }
    }

    /// On the way from masked code to its join: the stores that waited, in program order,
    /// each in the lanes that ran it, which then clears its running lanes. Enters the
    /// waiting block and stays in the block after it.
    pub(super) fn flush_deferred(&mut self, waiting: Waiting) {
        let Waiting {
            runs,
            stores,
            block,
        } = waiting;
        self.enter(block);
        let fl = MemFlagsData::trusted();
        for (k, d) in stores.into_iter().enumerate() {
            self.b.set_srcloc(listing::loc(d.pc, false));
            let base = self.store_slot_addr();
            let run_at = runs + k as i32 * 8;
            let run = self.b.ins().load(types::I64, fl, base, run_at);
            let (write, next) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(run, write, &[], next, &[]);
            self.enter(write);
            let addrs: Vec<Value> = (0..d.addrs as i32)
                .map(|i| self.b.ins().load(types::I64, fl, base, d.at + i * 8))
                .collect();
            let (vt, count, uniform) = d.val;
            let vals = d.at + (d.addrs as u32 * 8).next_multiple_of(16) as i32;
            let mut parts: Vec<Value> = (0..count as i32)
                .map(|i| self.b.ins().load(vt, fl, base, vals + i * 16))
                .collect();
            let val = match uniform {
                true => VV::U(parts.remove(0)),
                false => VV::V(parts),
            };
            let full = (1i64 << self.g) - 1;
            let kept = self.b.ins().bxor_imm_s(run, full);
            self.store_running(d.ty, d.mode, &addrs, val, kept);
            let zero = self.b.ins().iconst(types::I64, 0);
            self.b.ins().store(fl, zero, base, run_at);
            self.b.ins().jump(next, &[]);
            self.enter(next);
        }
    }

    /// Stores `val` in the lanes not in `kept` (bit l: lane l), at least one.
    fn store_running(&mut self, ty: Ty, mode: Mode, addrs: &[Value], val: VV, kept: Value) {
        if let (Mode::Uniform, VV::U(_)) = (&mode, &val) {
            self.v_store(ty, mode, addrs, val);
            return;
        }
        let (all, some, done) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(kept, some, &[], all, &[]);
        self.enter(all);
        self.v_store(ty, mode, addrs, val.clone());
        self.b.ins().jump(done, &[]);

        self.enter(some);
        let full = (1i64 << self.g) - 1;
        let run = self.b.ins().bnot(kept);
        let run = self.b.ins().band_imm_s(run, full);
        match mode {
            Mode::Lanes => {
                // Scattered: each lane's own address, or the store slot where it branched.
                let lanes = self.lanes(ty, &val);
                let junk = self.store_slot_addr();
                for (l, x) in lanes.into_iter().enumerate() {
                    let bit = self.b.ins().band_imm_s(run, 1 << l);
                    let at = self.b.ins().select(bit, addrs[l], junk);
                    self.b.ins().store(MemFlagsData::trusted(), x, at, 0);
                }
            }
            Mode::Uniform => {
                // One address: the last running lane's store is the one that stays.
                let buf = self.lanes_to_slot(ty, val);
                let top = self.b.ins().clz(run);
                let last = self.b.ins().iconst(types::I64, 63);
                let l = self.b.ins().isub(last, top);
                let x = self.slot_lane(ty, buf, l);
                self.b.ins().store(MemFlagsData::trusted(), x, addrs[0], 0);
            }
            Mode::Contig => {
                // A loop over the running lanes (lowest first): compact code, since the
                // register allocator's choices for the rest of the kernel suffer from a
                // long unrolled one.
                let buf = self.lanes_to_slot(ty, val);
                let (head, body) = (self.b.create_block(), self.b.create_block());
                let m = self.b.append_block_param(head, types::I64);
                self.b.ins().jump(head, &[run.into()]);
                self.b.switch_to_block(head);
                self.b.ins().brif(m, body, &[], done, &[]);
                self.enter(body);
                let l = self.b.ins().ctz(m);
                let x = self.slot_lane(ty, buf, l);
                let off = self.b.ins().imul_imm_s(l, ty.size() as i64);
                let at = self.b.ins().iadd(addrs[0], off);
                self.b.ins().store(MemFlagsData::trusted(), x, at, 0);
                let m1 = self.b.ins().iadd_imm_s(m, -1);
                let rest = self.b.ins().band(m, m1);
                self.b.ins().jump(head, &[rest.into()]);
                self.b.seal_block(head);
                self.enter(done);
                return;
            }
        }
        self.b.ins().jump(done, &[]);
        self.enter(done);
    }

    /// Stores the group's lanes of `val` in order into the lane slot; returns its address.
    fn lanes_to_slot(&mut self, ty: Ty, val: VV) -> Value {
        let buf = self.store_slot_addr();
        let fl = MemFlagsData::trusted();
        for (k, p) in self.parts(ty, val).into_iter().enumerate() {
            self.b.ins().store(fl, p, buf, (k * 16) as i32);
        }
        buf
    }

    /// Lane `l` (`I64`) of the values [`Tr::lanes_to_slot`] stored at `buf`.
    fn slot_lane(&mut self, ty: Ty, buf: Value, l: Value) -> Value {
        let off = self.b.ins().imul_imm_s(l, ty.size() as i64);
        let at = self.b.ins().iadd(buf, off);
        self.b
            .ins()
            .load(compute_lane(ty), MemFlagsData::trusted(), at, 0)
    }

    /// The store slot's address: 8 bytes per lane of the group for masked stores, then the
    /// running-lanes words and the data of the stores that wait for a join.
    fn store_slot_addr(&mut self) -> Value {
        let slot = self.store_slot();
        self.b.ins().stack_addr(types::I64, slot, 0)
    }

    /// `bytes` of the store slot for a store that waits, 16-byte aligned: the slot's address
    /// and the offset. The slot grows to fit; each masked branch's code starts over.
    fn store_slot_room(&mut self, bytes: u32) -> (Value, i32) {
        let slot = self.store_slot();
        let v = self.v.as_mut();
        let at = v
            .as_ref()
            .map_or(0, |v| v.store_top)
            .max(self.g * 8)
            .next_multiple_of(16);
        if let Some(v) = v {
            v.store_top = at + bytes;
        }
        let data = &mut self.b.func.sized_stack_slots[slot];
        data.size = data.size.max(at + bytes);
        (self.store_slot_addr(), at as i32)
    }

    /// The store slot (made on first use).
    fn store_slot(&mut self) -> StackSlot {
        if let Some(s) = self.v.as_ref().and_then(|v| v.store_slot) {
            return s;
        }
        let bytes = self.g * 8;
        let s = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            bytes,
            4,
        ));
        if let Some(v) = self.v.as_mut() {
            v.store_slot = Some(s);
        }
        s
    }
}
