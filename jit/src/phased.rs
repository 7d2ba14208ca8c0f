//! The phased strategy for programs with `bar.sync` / `reduce`.
//!
//! A block runs in *phases*. In each phase every lane that can run (below the lowest lane
//! that trapped so far) runs in the per-lane scalar code, in lane order, until it exits,
//! traps or arrives at a barrier; at a barrier it saves its live registers, pc, fuel and call
//! depth to the scratch memory (per-lane arrays of 1024 entries) and the next lane runs.
//! When every lane has had its turn the barrier is *resolved* (by a call to barrier.rs): if
//! no lane waits, the block is done; if the waiting lanes are not all at the same
//! instruction the block traps with `divergent barrier`; otherwise a `reduce` folds its
//! operand over the waiting lanes in ascending lane order and gives every waiting lane the
//! result, the lanes are released and the next phase resumes them after the barrier.
//!
//! A trap stops the trapping lane and every higher lane; lower lanes keep running in later
//! phases (and a trap of theirs replaces the record), so the reported trap is the lowest
//! trapping lane's first trap, as docs/ISA.md section 7 requires. Lanes that stopped count as
//! exited for the barrier.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block, BlockArg, InstBuilder, MemFlagsData, Signature, Value,
};
use holovm_isa::Inst;

use crate::barrier::{outcome, resolve_fn, Barriers};
use crate::translate::{call, status, Tr};
use crate::vector::folded_reduces;

/// Lanes per step of the phase machinery's loops over the block's lanes: one `I32X4` of
/// their status words.
pub(crate) const STEP: i64 = 4;

/// Which lanes of a step [`Tr::for_lane_steps`] marks as in range.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// None needed (the mask is meaningless): every lane of every step is written alike.
    None,
    /// Those in `from..end`.
    Both,
}

impl Tr<'_, '_> {
    /// Records the barrier instructions and their resume points.
    pub(crate) fn prepare_phased(&mut self) {
        for (pc, inst) in self.p.insts().iter().enumerate() {
            if matches!(inst, Inst::BarSync | Inst::Reduce { .. }) {
                self.barrier_pcs.insert(pc as u32);
                self.resume_pcs.insert(pc as u32 + 1);
            }
        }
    }

    /// `block_init` of the phased strategy: every lane of the block starts fresh; then
    /// continues at `next`.
    pub(crate) fn emit_phased_init(&mut self, next: Block) {
        self.b.switch_to_block(self.block_init);
        self.reset_statuses();
        self.scan_reset();
        if !folded_reduces(self.p, self.an).is_empty() {
            // No chain of a float fold yet (vector/fold_ahead.rs). Also without vector code
            // (which would never start one): the resolver would otherwise take a chain
            // another kernel's launch left in this thread's scratch memory.
            let z = self.b.ins().iconst(types::I32, 0);
            self.set_call_word(call::FOLD_NEXT, z);
        }
        let b = &mut self.b;
        b.ins().jump(next, &[]);
    }

    /// Every lane's status word FRESH (0), 16 lanes a step: the block's lanes rounded up to
    /// a multiple of 16, which the status array (`MAX_BLOCK` words) has room for. Lanes
    /// past the block are never read as the block's (their words may hold anything).
    fn reset_statuses(&mut self) {
        const LANES: i64 = 16;
        let zero = self.splat_status(status::FRESH);
        let bdim = self.bdim();
        let (head, step, done) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let l = self.b.append_block_param(head, types::I32);
        let z = self.b.ins().iconst(types::I32, 0);
        self.b.ins().jump(head, &[BlockArg::Value(z)]);
        self.b.switch_to_block(head);
        let past = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, l, bdim);
        self.b.ins().brif(past, done, &[], step, &[]);
        self.b.switch_to_block(step);
        let (a, a_off) = self.lane_entry_of(self.layout.lane_status, 4, l);
        for k in 0..LANES as i32 / 4 {
            self.b
                .ins()
                .store(MemFlagsData::trusted(), zero, a, a_off + 16 * k);
        }
        let next = self.b.ins().iadd_imm_s(l, LANES);
        self.b.ins().jump(head, &[BlockArg::Value(next)]);
        self.b.switch_to_block(done);
    }

    /// The current lane arrives at the barrier at `pc`: save its state, let the next lane run.
    pub(crate) fn s_arrive(&mut self, pc: u32) {
        let (live_r, live_p) = self.spill_set();
        let lane = self.b.use_var(self.s_lane);
        let l = self.b.ins().uextend(types::I64, lane);
        let bases = self.file_bases(l);
        let base = bases[1];
        let stride8 = self.layout.stride as i32 * 8;
        let fl = MemFlagsData::trusted();
        for i in 0..self.s_regs.len() {
            if live_r[i / 64] & (1 << (i % 64)) != 0 {
                // In its home type, whose width is the slot's.
                let v = self.b.use_var(self.s_regs[i]);
                let (base, off) = self.reg_slot(i, bases);
                self.b.ins().store(fl, v, base, off);
            }
        }
        for i in 0..self.s_preds.len() {
            if live_p & (1 << (i % 16)) != 0 {
                let v = self.b.use_var(self.s_preds[i]);
                let v = self.b.ins().uextend(types::I64, v);
                let o = self.layout.predfile as i32 + i as i32 * stride8;
                self.b.ins().store(fl, v, base, o);
            }
        }
        let (a, a_off) = self.lane_entry(self.layout.lane_pc, 4);
        let p = self.b.ins().iconst(types::I32, pc as i64);
        self.b.ins().store(fl, p, a, a_off);
        let (a, a_off) = self.lane_entry(self.layout.lane_status, 4);
        let w = self.b.ins().iconst(types::I32, status::WAIT);
        self.b.ins().store(fl, w, a, a_off);
        let (a, a_off) = self.lane_entry(self.layout.lane_fuel, 8);
        let f = self.b.use_var(self.s_fuel);
        self.b.ins().store(fl, f, a, a_off);
        if self.an.has_call {
            let (a, a_off) = self.lane_entry(self.layout.lane_depth, 4);
            let d = self.b.use_var(self.s_depth);
            self.b.ins().store(fl, d, a, a_off);
        }
        self.b.ins().jump(self.lane_next, &[]);
    }

    /// `value` (`I32`) in each lane of an `I32X4`, computed here: a vector of a constant
    /// would be hoisted to the function's entry and kept live through the vector code.
    fn splat_status(&mut self, value: i64) -> Value {
        let v = self.b.ins().iconst(types::I32, value);
        let v = self.pin(v);
        self.b.ins().splat(types::I32X4, v)
    }

    /// Emits a loop over the block's lanes `from..end` (`I32`) in steps of [`STEP`] lanes,
    /// from `from` rounded down to a multiple of it (the per-lane arrays have room for the
    /// step that covers `end - 1`); `body` emits a step for the lanes `lane..lane + STEP`
    /// given `lane` and the `I32X4` mask of those in range (`bound`). The builder continues
    /// after the loop.
    pub(crate) fn for_lane_steps(
        &mut self,
        from: Value,
        end: Value,
        bound: Bound,
        body: &mut dyn FnMut(&mut Self, Value, Value),
    ) {
        // Lane numbers are below 2^31: signed compares are one instruction each on x86-64
        // (`lo` is `from - 1`, so that `lane > lo` means `lane >= from`).
        let bounds = (bound == Bound::Both).then(|| {
            let f = self.b.ins().iadd_imm_s(from, -1);
            (
                self.cold_iota(types::I32X4),
                self.b.ins().splat(types::I32X4, f),
            )
        });
        let hi = self.b.ins().splat(types::I32X4, end);
        let head = self.b.create_block();
        let step = self.b.create_block();
        let done = self.b.create_block();
        let l = self.b.append_block_param(head, types::I32);
        let start = self.b.ins().band_imm_s(from, -STEP);
        self.b.ins().jump(head, &[BlockArg::Value(start)]);
        self.b.switch_to_block(head);
        let past = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, l, end);
        self.b.ins().brif(past, done, &[], step, &[]);
        self.b.switch_to_block(step);
        let in_range = match bounds {
            None => hi,
            Some((iota, lo)) => {
                let lanes = self.b.ins().splat(types::I32X4, l);
                let lanes = self.b.ins().iadd(lanes, iota);
                let below = self.b.ins().icmp(IntCC::SignedLessThan, lanes, hi);
                let above = self.b.ins().icmp(IntCC::SignedGreaterThan, lanes, lo);
                self.b.ins().band(above, below)
            }
        };
        body(self, l, in_range);
        let l1 = self.b.ins().iadd_imm_s(l, STEP);
        self.b.ins().jump(head, &[BlockArg::Value(l1)]);
        self.b.switch_to_block(done);
    }

    /// The `I32X4` mask of the lanes `lane..lane + STEP` whose status is `cc` `want` and
    /// that are `in_range`.
    fn status_mask(&mut self, lane: Value, in_range: Value, cc: IntCC, want: Value) -> Value {
        let (a, a_off) = self.lane_entry_of(self.layout.lane_status, 4, lane);
        let fl = MemFlagsData::new().with_notrap();
        let st = self.b.ins().load(types::I32X4, fl, a, a_off);
        let m = self.b.ins().icmp(cc, st, want);
        self.b.ins().band(m, in_range)
    }

    /// Emits a search for the first lane in `from..end` (`I32`) whose status is `cc` `want`
    /// (a status from [`status`]): continues in a new block (returned, the builder is in
    /// it) with that lane, or jumps to `none` with `none_args` if there is none.
    pub(crate) fn find_lane(
        &mut self,
        from: Value,
        end: Value,
        cc: IntCC,
        want: i64,
        none: Block,
        none_args: &[BlockArg],
    ) -> (Block, Value) {
        let found = self.b.create_block();
        let first = self.b.append_block_param(found, types::I32);
        let want = self.splat_status(want);
        self.for_lane_steps(from, end, Bound::Both, &mut |t, l, in_range| {
            let m = t.status_mask(l, in_range, cc, want);
            let bits = t.b.ins().vhigh_bits(types::I32, m);
            let at = t.b.ins().ctz(bits);
            let lane = t.b.ins().iadd(l, at);
            let next = t.b.create_block();
            t.b.ins()
                .brif(bits, found, &[BlockArg::Value(lane)], next, &[]);
            t.b.switch_to_block(next);
        });
        self.b.ins().jump(none, none_args);
        self.b.switch_to_block(found);
        (found, first)
    }

    /// A phase's walk over the vector groups starts: no lane is left to scalar code yet.
    /// Phased vector kernels keep in the call record's [`call::SCAN`] word the lowest lane
    /// the phase's scalar loop must look at: the first of a group the vector code left to
    /// it (a bail-out, a group that cannot resume), or the first past the last full group;
    /// the lanes below it are parked or done. Without it the loop searched the whole
    /// block's statuses at every phase (a fifth of a tree reduction's time). A word, not
    /// a variable: carried around the group loop, a variable cost 6% more compile time.
    pub(crate) fn scan_reset(&mut self) {
        if self.s_scan {
            let none = self.b.ins().iconst(types::I32, i64::from(i32::MAX));
            self.set_call_word(call::SCAN, none);
        }
    }

    /// The vector code leaves the lanes from `lane` (`I32`; `i32::MAX`: none) to scalar
    /// code: the scan word comes down to it.
    pub(crate) fn scan_from(&mut self, lane: Value) {
        if self.s_scan {
            let s = self.scan_min(lane);
            self.set_call_word(call::SCAN, s);
        }
    }

    /// Where the phase's scalar loop starts: the [`call::SCAN`] word, or at most `lane0`
    /// (past the last full group); lane 0 without vector code.
    pub(crate) fn scan_start(&mut self) -> Value {
        if !self.s_scan {
            return self.b.ins().iconst(types::I32, 0);
        }
        let l0 = self.b.use_var(self.lane0);
        self.scan_min(l0)
    }

    /// The lower of the [`call::SCAN`] word and `lane`.
    fn scan_min(&mut self, lane: Value) -> Value {
        let s = self.call_word(types::I32, call::SCAN);
        self.b.ins().umin(s, lane)
    }

    /// Phased vector kernels: sets [`call::VPHASE`] (0: the block's first phase).
    pub(crate) fn set_phase(&mut self, later: i64) {
        let v = self.b.ins().iconst(types::I8, later);
        self.set_call_word(call::VPHASE, v);
    }

    /// Starts the next phase: vector groups first when the program has vector code
    /// (resume.rs), then the scalar lane loop.
    fn restart_phase(&mut self) {
        if self.v.is_some() {
            let z = self.b.ins().iconst(types::I32, 0);
            // (resolve_barrier reset the scan word when it released the lanes.)
            self.b.def_var(self.lane0, z);
            self.set_phase(1);
            self.b.ins().jump(self.group_head, &[]);
        } else {
            self.b.ins().jump(self.phase_start, &[]);
        }
    }

    /// The end of a phase: resolve the barrier the waiting lanes are at, by a call to
    /// [`resolve_barrier`](crate::barrier::resolve_barrier) (barrier.rs); then the next
    /// phase, the next block, or the exit.
    pub(crate) fn emit_resolve(&mut self) {
        self.b.switch_to_block(self.resolve);
        let Some(table) = self.barriers else {
            // Not reached: every phased kernel gets its table (compile.rs). Without one the
            // launch reports an internal error rather than calling with a null table.
            self.b.ins().jump(self.bad_blk, &[]);
            return;
        };
        let mut sig = Signature::new(self.b.func.signature.call_conv);
        for t in [
            types::I64,
            types::I64,
            types::I64,
            types::I32,
            types::I32,
            types::I32,
        ] {
            sig.params.push(AbiParam::new(t));
        }
        sig.returns.push(AbiParam::new(types::I32));
        let sig = self.b.import_signature(sig);
        let resolve = resolve_fn();
        let callee = self.b.ins().iconst(types::I64, resolve as usize as i64);
        let table = table as *const Barriers as usize;
        let table = self.b.ins().iconst(types::I64, table as i64);
        let blk = self.b.use_var(self.blk);
        let end = self.b.use_var(self.s_end);
        let g = self.b.ins().iconst(types::I32, i64::from(self.g));
        let trap = self.trap_ptr();
        let args = [table, self.scratch, trap, blk, end, g];
        let call = self.b.ins().call_indirect(sig, callee, &args);
        let r = self.b.inst_results(call)[0];
        let (not_done, released, not_released, trapped) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let done = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, r, outcome::DONE as i64);
        self.b.ins().brif(done, self.block_next, &[], not_done, &[]);
        self.b.switch_to_block(not_done);
        let rel = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, r, outcome::RELEASED as i64);
        self.b.ins().brif(rel, released, &[], not_released, &[]);
        self.b.switch_to_block(not_released);
        let tr = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, r, outcome::TRAPPED as i64);
        self.b.ins().brif(tr, trapped, &[], self.bad_blk, &[]);
        self.b.switch_to_block(trapped);
        let one = self.b.ins().iconst(types::I32, 1);
        self.b.ins().return_(&[one]);
        self.b.switch_to_block(released);
        self.restart_phase();
    }
}
