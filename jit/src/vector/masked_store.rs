//! Stores in masked code (masked.rs): each writes only the lanes that run it, in lane order;
//! a store that must not be repeated by a bail-out waits for the outermost join
//! ([`Deferred`]), where the code writes the waiting stores in program order on its way; and
//! the two stores of an `if`/`else` to one place ([`crate::analysis::MaskedBranch::pair`])
//! are one vector store of both sides' values. Their data lives in one stack slot, the
//! *store slot*.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, Type, Value,
};
use holovm_isa::{Inst, Ty};

use super::memory::Mode;
use super::values::VV;
use crate::listing;
use crate::ops::compute_lane;
use crate::translate::{Tr, TrError, TrResult};

/// The value of the first store of a pair ([`super::masked::Masked::stash`]).
#[derive(Clone)]
pub(crate) enum Stash {
    Slot(i32, usize, Type),
    Parts(Vec<Value>),
}

/// The stores that wait for a join, and the block on the way there that writes them
/// ([`Tr::flush_deferred`]).
pub(crate) struct Waiting {
    pub runs: i32,
    pub stores: Vec<Deferred>,
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
    /// A store inside a masked body: every lane's store when no lane took the branch,
    /// otherwise only the lanes that run the body, in lane order; or recorded for the
    /// join ([`crate::analysis::MaskedBranch::defer`]); or one of a pair
    /// ([`Tr::paired_store`]). Returns false outside a masked body.
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
        // A partial group's phantoms do not store (partial.rs): they count as lanes that
        // do not run it, so that perhaps none does.
        let phantoms = self.phantom_store_mask();
        if let (false, Mode::Uniform, VV::U(_), None) = (defer, &mode, &val, phantoms) {
            // Every running lane stores the same value to the same place.
            self.v_store(ty, mode, addrs, val);
            return Ok(true);
        }
        let mut kept = self.kept_bits(&keep);
        if let Some(p) = phantoms {
            kept = self.b.ins().bor(kept, p);
        }
        if defer {
            // (The join writes a waiting store only where some lane ran it.)
            self.defer_store(pc, ty, mode, addrs, val, kept);
        } else if phantoms.is_some() {
            let (store, done) = (self.b.create_block(), self.b.create_block());
            let full = self.group_bits();
            let none = self.b.ins().icmp_imm_s(IntCC::Equal, kept, full);
            self.b.ins().brif(none, done, &[], store, &[]);
            self.enter(store);
            self.store_running(ty, mode, addrs, val, kept, false);
            self.b.ins().jump(done, &[]);
            self.enter(done);
        } else {
            self.store_running(ty, mode, addrs, val, kept, false);
        }
        Ok(true)
    }

    /// The stores at `pc` of an `if`/`else` pair ([`super::masked::Masked::pair`]), of
    /// which every lane runs one: the first one's value waits (in the store slot, or as
    /// values where the code runs branch-free), and the second writes every lane, each with
    /// its side's value (one vector store instead of a loop over each side's lanes).
    /// Returns whether `pc` is one of them.
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
            .map(|((a, b), k)| self.blend(k, a, b))
            .collect();
        let val = VV::V(merged);
        // Every lane but a partial group's phantoms (partial.rs).
        let phantoms = self.phantom_store_mask();
        if self
            .vs()?
            .masked_bail
            .as_ref()
            .is_some_and(|m| m.runs.is_some())
        {
            let every = match phantoms {
                Some(p) => p,
                None => self.b.ins().iconst(types::I64, 0),
            };
            self.defer_store(pc, ty, mode, addrs, val, every);
        } else if let Some(p) = phantoms {
            self.store_running(ty, mode, addrs, val, p, true);
        } else {
            self.v_store(ty, mode, addrs, val);
        }
        Ok(true)
    }

    /// The lanes that `keep` leaves out, as bits of an `I64` (bit l: lane l).
    fn kept_bits(&mut self, keep: &[Value]) -> Value {
        // Narrowed in pairs first (to 8-bit lanes; saturation keeps 0 and -1): one
        // `vhigh_bits` per 16 lanes instead of per 4.
        let mut keep = keep.to_vec();
        while keep.len() >= 2
            && keep.len().is_multiple_of(2)
            && matches!(
                self.b.func.dfg.value_type(keep[0]),
                types::I32X4 | types::I16X8
            )
        {
            keep = keep
                .chunks(2)
                .map(|c| self.b.ins().snarrow(c[0], c[1]))
                .collect();
        }
        let mut kept = None;
        for (k, &m) in keep.iter().enumerate() {
            let per = self.b.func.dfg.value_type(m).lane_count();
            let bits = self.b.ins().vhigh_bits(types::I64, m);
            kept = Some(match kept {
                None => bits,
                Some(low) => {
                    let bits = self.b.ins().ishl_imm_s(bits, (k as u32 * per) as i64);
                    self.b.ins().bor(low, bits)
                }
            });
        }
        kept.unwrap_or_else(|| self.b.ins().iconst(types::I64, 0))
    }

    /// Where the kernel function starts: room in the store slot for the running-lanes
    /// words of every masked branch whose stores wait
    /// ([`super::masked::MaskedBail::runs`]), zeroed. A word is zero but between its store
    /// and the block on the way to the join that writes the store and zeroes it again, or
    /// the code's bail-out, which zeroes them all: the next pass through the code finds
    /// nothing waiting from a side it skips.
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
        self.zero_words(self.g as i32 * 8, (at - self.g * 8) / 8);
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
        if let Some((at, stores)) = runs {
            self.zero_words(at, stores);
        }
    }

    /// Zeroes `count` 8-byte words of the store slot from offset `at`.
    fn zero_words(&mut self, at: i32, count: u32) {
        let base = self.store_slot_addr();
        let zero = self.b.ins().iconst(types::I64, 0);
        for k in 0..count as i32 {
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
        let full = self.group_bits();
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
            let full = self.group_bits();
            let kept = self.b.ins().bxor_imm_s(run, full);
            self.store_running(d.ty, d.mode, &addrs, val, kept, false);
            let zero = self.b.ins().iconst(types::I64, 0);
            self.b.ins().store(fl, zero, base, run_at);
            self.b.ins().jump(next, &[]);
            self.enter(next);
        }
    }

    /// Stores `val` in the lanes not in `kept` (bit l: lane l), at least one. `phantoms`:
    /// `kept` is a partial group's phantom lanes (partial.rs), the group's top lanes or
    /// none, so the path for them is cold and a contiguous store writes the other lanes as a
    /// prefix (`store_prefix`).
    pub(super) fn store_running(
        &mut self,
        ty: Ty,
        mode: Mode,
        addrs: &[Value],
        val: VV,
        kept: Value,
        phantoms: bool,
    ) {
        if let (Mode::Uniform, VV::U(_)) = (&mode, &val) {
            self.v_store(ty, mode, addrs, val);
            return;
        }
        let full = self.group_bits();
        if matches!(mode, Mode::Uniform) {
            // One address: the last running lane's store is the one that stays (the last
            // lane's when they all run: no branch for that case).
            let run = self.b.ins().bnot(kept);
            let run = self.b.ins().band_imm_s(run, full);
            let buf = self.lanes_to_slot(ty, val);
            let top = self.b.ins().clz(run);
            let last = self.b.ins().iconst(types::I64, 63);
            let l = self.b.ins().isub(last, top);
            let x = self.slot_lane(ty, buf, l);
            self.store_lane(ty, x, addrs[0], 0);
            return;
        }
        let (all, some, done) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        if phantoms {
            self.b.set_cold_block(some);
        }
        self.b.ins().brif(kept, some, &[], all, &[]);
        self.enter(all);
        self.v_store(ty, mode, addrs, val.clone());
        self.b.ins().jump(done, &[]);

        self.enter(some);
        let run = self.b.ins().bnot(kept);
        let run = self.b.ins().band_imm_s(run, full);
        if matches!(mode, Mode::Lanes) {
            // Scattered: each lane's own address, or the store slot where it branched.
            let lanes = self.lanes(ty, &val);
            let junk = self.store_slot_addr();
            for (l, x) in lanes.into_iter().enumerate() {
                let bit = self.b.ins().band_imm_s(run, 1 << l);
                let at = self.b.ins().select(bit, addrs[l], junk);
                self.store_lane(ty, x, at, 0);
            }
            self.b.ins().jump(done, &[]);
            self.enter(done);
            return;
        }
        if phantoms && ty.bits() >= 32 {
            // (The lane slot holds a narrow type's lanes as 32 bits: the loop below.)
            self.store_prefix(ty, addrs[0], val, kept);
            self.b.ins().jump(done, &[]);
            self.enter(done);
            return;
        }
        // Contiguous: a loop over the running lanes (lowest first): compact code, since
        // the register allocator's choices for the rest of the kernel suffer from a long
        // unrolled one.
        let buf = self.lanes_to_slot(ty, val);
        let (head, body) = (self.b.create_block(), self.b.create_block());
        let m = self.b.append_block_param(head, types::I64);
        self.b.ins().jump(head, &[run.into()]);
        self.b.switch_to_block(head);
        self.b.ins().brif(m, body, &[], done, &[]);
        self.enter(body);
        let l = self.b.ins().ctz(m);
        let x = self.slot_lane(ty, buf, l);
        let off = self.times(l, ty.size());
        let at = self.b.ins().iadd(addrs[0], off);
        self.store_lane(ty, x, at, 0);
        let m1 = self.b.ins().iadd_imm_s(m, -1);
        let rest = self.b.ins().band(m, m1);
        self.b.ins().jump(head, &[rest.into()]);
        self.b.seal_block(head);
        self.enter(done);
    }

    /// Stores the lanes of `val` below the lowest one in `kept` (not 0) at the contiguous
    /// address `addr`: a partial group's real lanes, `kept` its phantoms, the group's top
    /// lanes (partial.rs). Through the lane slot, 16 bytes a step and then lane by lane (a
    /// store per running lane, as masked code does, cost a copying sum over 2^18 elements in
    /// one block of 250 lanes 629K instructions a launch against 499K).
    fn store_prefix(&mut self, ty: Ty, addr: Value, val: VV, kept: Value) {
        let buf = self.lanes_to_slot(ty, val);
        let lanes = self.b.ins().ctz(kept);
        let end = self.times(lanes, ty.size());
        let fl = MemFlagsData::trusted();
        let [wide, wide_body, narrow, narrow_body, out] = [(); 5].map(|()| {
            let b = self.b.create_block();
            self.b.set_cold_block(b);
            b
        });
        let off = self.b.append_block_param(wide, types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(wide, &[zero.into()]);
        // 16 bytes a step while they are all the real lanes'.
        self.b.switch_to_block(wide);
        let next = self.b.ins().iadd_imm_s(off, 16);
        let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, next, end);
        self.b
            .ins()
            .brif(fits, wide_body, &[], narrow, &[off.into()]);
        self.b.switch_to_block(wide_body);
        let from = self.b.ins().iadd(buf, off);
        let x = self.b.ins().load(types::I8X16, fl, from, 0);
        let to = self.b.ins().iadd(addr, off);
        self.b.ins().store(fl, x, to, 0);
        self.b.ins().jump(wide, &[next.into()]);
        // Then a lane at a time.
        let off = self.b.append_block_param(narrow, types::I64);
        self.b.switch_to_block(narrow);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, off, end);
        self.b.ins().brif(more, narrow_body, &[], out, &[]);
        self.b.switch_to_block(narrow_body);
        let from = self.b.ins().iadd(buf, off);
        let x = self.b.ins().load(compute_lane(ty), fl, from, 0);
        let to = self.b.ins().iadd(addr, off);
        self.b.ins().store(fl, x, to, 0);
        let next = self.b.ins().iadd_imm_s(off, i64::from(ty.size()));
        self.b.ins().jump(narrow, &[next.into()]);
        self.b.seal_block(wide);
        self.b.seal_block(narrow);
        self.enter(out);
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
        let off = self.times(l, compute_lane(ty).bytes());
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
