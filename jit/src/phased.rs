//! The phased strategy for programs with `bar.sync` / `reduce`.
//!
//! A block runs in *phases*. In each phase every lane that can run (below the lowest lane
//! that trapped so far) runs in the per-lane scalar code, in lane order, until it exits,
//! traps or arrives at a barrier; at a barrier it saves its live registers, pc, fuel and call
//! depth to the scratch memory (per-lane arrays of 1024 entries) and the next lane runs.
//! When every lane has had its turn the barrier is *resolved*: if no lane waits, the block
//! is done; if the waiting lanes are not all at the same instruction the block traps with
//! `divergent barrier`; otherwise a `reduce` folds its operand over the waiting lanes in
//! ascending lane order and gives every waiting lane the result, the lanes are released and
//! the next phase resumes them after the barrier.
//!
//! A trap stops the trapping lane and every higher lane; lower lanes keep running in later
//! phases (and a trap of theirs replaces the record), so the reported trap is the lowest
//! trapping lane's first trap, as docs/ISA.md section 7 requires. Lanes that stopped count as
//! exited for the barrier.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, BlockArg, InstBuilder, MemFlagsData, Value};
use holovm_isa::{BinOp, Inst, RedOp, Special, Src};

use crate::abi::{off, TrapKind};
use crate::ops;
use crate::translate::{status, Tr};

/// Lanes per step of the phase machinery's loops over the block's lanes: one `I32X4` of
/// their status words.
const STEP: i64 = 4;

/// Which lanes of a step [`Tr::for_lane_steps`] marks as in range.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// None needed (the mask is meaningless): every lane of every step is written alike.
    None,
    /// Those below `end`: lanes below `from` need no mask (none of them is waiting).
    Upper,
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
        let z = self.b.ins().iconst(types::I32, 0);
        let fresh = self.splat_status(status::FRESH);
        self.for_lane_steps(z, self.bdim, Bound::None, &mut |t, l, _| {
            let a = t.lane_slot_of(t.layout.lane_status, 4, l);
            t.b.ins().store(MemFlagsData::trusted(), fresh, a, 0);
        });
        let b = &mut self.b;
        b.ins().jump(next, &[]);
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
        let a = self.lane_slot(self.layout.lane_pc, 4);
        let p = self.b.ins().iconst(types::I32, pc as i64);
        self.b.ins().store(fl, p, a, 0);
        let a = self.lane_slot(self.layout.lane_status, 4);
        let w = self.b.ins().iconst(types::I32, status::WAIT);
        self.b.ins().store(fl, w, a, 0);
        let a = self.lane_slot(self.layout.lane_fuel, 8);
        let f = self.b.use_var(self.s_fuel);
        self.b.ins().store(fl, f, a, 0);
        let a = self.lane_slot(self.layout.lane_depth, 4);
        let d = self.b.use_var(self.s_depth);
        self.b.ins().store(fl, d, a, 0);
        self.b.ins().jump(self.lane_next, &[]);
    }

    /// Loads lane `l`'s status word.
    fn status_of(&mut self, l: Value) -> Value {
        let a = self.lane_slot_of(self.layout.lane_status, 4, l);
        self.b.ins().load(types::I32, MemFlagsData::trusted(), a, 0)
    }

    /// The value of `src` read as `ty` in waiting lane `l` (registers from the file).
    fn lane_src(&mut self, src: Src, ty: holovm_isa::Ty, l: Value) -> Value {
        let v = match src {
            Src::Reg(r) => {
                let li = self.b.ins().uextend(types::I64, l);
                let bases = self.file_bases(li);
                self.load_reg_image(r.0 as usize, bases)
            }
            Src::Special(Special::Lane) => self.b.ins().uextend(types::I64, l),
            Src::Special(Special::GlobalId) => {
                let blk = self.b.use_var(self.blk);
                let base = self.b.ins().imul(blk, self.bdim);
                let g = self.b.ins().iadd(base, l);
                self.b.ins().uextend(types::I64, g)
            }
            Src::Special(Special::Block) => {
                let blk = self.b.use_var(self.blk);
                self.b.ins().uextend(types::I64, blk)
            }
            Src::Special(Special::BlockDim) => self.b.ins().uextend(types::I64, self.bdim),
            Src::Special(Special::GridDim) => self.b.ins().uextend(types::I64, self.gdim),
            Src::Param(i) => self.param_scalar(i),
            Src::Imm(bits) => return ops::imm(&mut self.b, ty, bits),
        };
        ops::from_storage(&mut self.b, ty, v)
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
        let iota = (bound != Bound::None).then(|| self.cold_iota(types::I32X4));
        let lo = (bound == Bound::Both).then(|| {
            let f = self.b.ins().iadd_imm_s(from, -1);
            self.b.ins().splat(types::I32X4, f)
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
        let in_range = match iota {
            None => hi,
            Some(iota) => {
                let lanes = self.b.ins().splat(types::I32X4, l);
                let lanes = self.b.ins().iadd(lanes, iota);
                let below = self.b.ins().icmp(IntCC::SignedLessThan, lanes, hi);
                match lo {
                    Some(lo) => {
                        let above = self.b.ins().icmp(IntCC::SignedGreaterThan, lanes, lo);
                        self.b.ins().band(above, below)
                    }
                    None => below,
                }
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
        let a = self.lane_slot_of(self.layout.lane_status, 4, lane);
        let fl = MemFlagsData::new().with_notrap();
        let st = self.b.ins().load(types::I32X4, fl, a, 0);
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

    /// Emits a loop over lanes `from..s_end` whose status is WAIT, calling `body` for each
    /// (with the lane as `I32`); returns with the builder after the loop.
    fn for_waiting(&mut self, from: Value, body: &mut dyn FnMut(&mut Self, Value)) {
        let head = self.b.create_block();
        let check = self.b.create_block();
        let run = self.b.create_block();
        let next = self.b.create_block();
        let done = self.b.create_block();
        let l = self.b.append_block_param(head, types::I32);
        self.b.ins().jump(head, &[BlockArg::Value(from)]);
        self.b.switch_to_block(head);
        let end = self.b.use_var(self.s_end);
        let past = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, l, end);
        self.b.ins().brif(past, done, &[], check, &[]);
        self.b.switch_to_block(check);
        let st = self.status_of(l);
        let w = self.b.ins().icmp_imm_s(IntCC::Equal, st, status::WAIT);
        self.b.ins().brif(w, run, &[], next, &[]);
        self.b.switch_to_block(run);
        body(self, l);
        self.b.ins().jump(next, &[]);
        self.b.switch_to_block(next);
        let l1 = self.b.ins().iadd_imm_s(l, 1);
        self.b.ins().jump(head, &[BlockArg::Value(l1)]);
        self.b.switch_to_block(done);
    }

    /// Stores the 64-bit register image `bits` into register `r` of every waiting lane
    /// from `first` on (below `s_end`), four lanes a step.
    fn write_waiting(&mut self, first: Value, r: usize, bits: Value) {
        let end = self.b.use_var(self.s_end);
        let wait = self.splat_status(status::WAIT);
        let wide = self.reg_slot_bytes(r) == 8;
        let value = if wide {
            self.b.ins().splat(types::I64X2, bits)
        } else {
            let b32 = self.b.ins().ireduce(types::I32, bits);
            self.b.ins().splat(types::I32X4, b32)
        };
        let vt = self.b.func.dfg.value_type(value);
        let vfl = MemFlagsData::new().with_notrap();
        self.for_lane_steps(first, end, Bound::Upper, &mut |t, l, in_range| {
            let m = t.status_mask(l, in_range, IntCC::Equal, wait);
            let li = t.b.ins().uextend(types::I64, l);
            let bases = t.file_bases(li);
            let (at, off) = t.reg_slot(r, bases);
            let halves = if wide {
                let lo = t.b.ins().swiden_low(m);
                let hi = t.b.ins().swiden_high(m);
                vec![(lo, off), (hi, off + 16)]
            } else {
                vec![(m, off)]
            };
            for (m, o) in halves {
                let old = t.b.ins().load(vt, vfl, at, o);
                let m = crate::ops::bitcast(&mut t.b, vt, m);
                let new = t.b.ins().bitselect(m, value, old);
                t.b.ins().store(vfl, new, at, o);
            }
        });
    }

    /// Starts the next phase: vector groups first when the program has vector code
    /// (resume.rs), then the scalar lane loop.
    fn restart_phase(&mut self) {
        match self.v.as_ref().map(|v| v.vphase) {
            Some(vphase) => {
                let z = self.b.ins().iconst(types::I32, 0);
                self.b.def_var(self.lane0, z);
                let later = self.b.ins().iconst(types::I8, 1);
                self.b.def_var(vphase, later);
                self.b.ins().jump(self.group_head, &[]);
            }
            None => {
                self.b.ins().jump(self.phase_start, &[]);
            }
        }
    }

    /// The end of a phase: resolve the barrier the waiting lanes are at.
    pub(crate) fn emit_resolve(&mut self) {
        let fl = MemFlagsData::trusted();
        self.b.switch_to_block(self.resolve);
        // First waiting lane.
        let none = self.b.create_block();
        let z = self.b.ins().iconst(types::I32, 0);
        let end = self.b.use_var(self.s_end);
        let (found, first) = self.find_lane(z, end, IntCC::Equal, status::WAIT, none, &[]);

        // Nobody waits: the block is finished (trapped if a record was written).
        self.b.switch_to_block(none);
        let kind = self.b.ins().load(types::I32, fl, self.trap, off::TRAP_KIND);
        let ret = self.b.create_block();
        self.b.ins().brif(kind, ret, &[], self.block_next, &[]);
        self.b.switch_to_block(ret);
        let one = self.b.ins().iconst(types::I32, 1);
        self.b.ins().return_(&[one]);

        // Every waiting lane must be at the same barrier.
        self.b.switch_to_block(found);
        let a = self.lane_slot_of(self.layout.lane_pc, 4, first);
        let pc0 = self.b.ins().load(types::I32, fl, a, 0);
        let diverged = self.b.create_block();
        let end = self.b.use_var(self.s_end);
        let (wait, pcs) = (
            self.splat_status(status::WAIT),
            self.b.ins().splat(types::I32X4, pc0),
        );
        let vfl = MemFlagsData::new().with_notrap();
        self.for_lane_steps(first, end, Bound::Upper, &mut |t, l, in_range| {
            let m = t.status_mask(l, in_range, IntCC::Equal, wait);
            let a = t.lane_slot_of(t.layout.lane_pc, 4, l);
            let pc = t.b.ins().load(types::I32X4, vfl, a, 0);
            let differs = t.b.ins().icmp(IntCC::NotEqual, pc, pcs);
            let bad = t.b.ins().band(m, differs);
            let any = t.b.ins().vany_true(bad);
            let same = t.b.create_block();
            t.b.ins().brif(any, diverged, &[], same, &[]);
            t.b.switch_to_block(same);
        });
        // Dispatch on the barrier instruction.
        let blocks: Vec<(u32, Block)> = self
            .barrier_pcs
            .clone()
            .into_iter()
            .map(|pc| (pc, self.b.create_block()))
            .collect();
        self.switch_on_pc(pc0, &blocks, self.bad_blk);

        let release = self.b.create_block();
        for (pc, blk) in blocks {
            self.b.switch_to_block(blk);
            if let Some(&Inst::Reduce { op, ty, dst, src }) = self.p.insts().get(pc as usize) {
                let bop = match op {
                    RedOp::Add => BinOp::Add,
                    RedOp::Min => BinOp::Min,
                    RedOp::Max => BinOp::Max,
                    RedOp::Mul => BinOp::Mul,
                };
                let acc_t = ops::compute_lane(ty);
                let acc = self.b.declare_var(acc_t);
                let init = self.lane_src(src, ty, first);
                self.b.def_var(acc, init);
                let from = self.b.ins().iadd_imm_s(first, 1);
                self.for_waiting(from, &mut |t, l| {
                    let v = t.lane_src(src, ty, l);
                    let a = t.b.use_var(acc);
                    let r = ops::simple_bin(&mut t.b, bop, ty, a, v);
                    t.b.def_var(acc, r);
                });
                let a = self.b.use_var(acc);
                let bits = ops::to_storage(&mut self.b, ty, a);
                self.write_waiting(first, dst.0 as usize, bits);
            }
            self.b.ins().jump(release, &[]);
        }

        // Release the waiting lanes after the barrier (all at `pc0`, checked above).
        self.b.switch_to_block(release);
        let end = self.b.use_var(self.s_end);
        let wait = self.splat_status(status::WAIT);
        let ready = self.splat_status(status::READY);
        let next = self.b.ins().iadd_imm_s(pc0, 1);
        let next_pc = self.b.ins().splat(types::I32X4, next);
        let vfl = MemFlagsData::new().with_notrap();
        self.for_lane_steps(first, end, Bound::Upper, &mut |t, l, in_range| {
            let sa = t.lane_slot_of(t.layout.lane_status, 4, l);
            let st = t.b.ins().load(types::I32X4, vfl, sa, 0);
            let m = t.b.ins().icmp(IntCC::Equal, st, wait);
            let m = t.b.ins().band(m, in_range);
            let st = t.b.ins().bitselect(m, ready, st);
            t.b.ins().store(vfl, st, sa, 0);
            let pa = t.lane_slot_of(t.layout.lane_pc, 4, l);
            let p = t.b.ins().load(types::I32X4, vfl, pa, 0);
            let p = t.b.ins().bitselect(m, next_pc, p);
            t.b.ins().store(vfl, p, pa, 0);
        });
        self.restart_phase();

        // Divergent barrier: every waiting lane traps; the lowest one (at its barrier) is
        // reported.
        self.b.switch_to_block(diverged);
        let (dl, dpc) = (first, pc0);
        let fl = MemFlagsData::trusted();
        let k = self
            .b
            .ins()
            .iconst(types::I32, TrapKind::DivergentBarrier.code() as i64);
        let blk = self.b.use_var(self.blk);
        let z32 = self.b.ins().iconst(types::I32, 0);
        let z64 = self.b.ins().iconst(types::I64, 0);
        self.b.ins().store(fl, k, self.trap, off::TRAP_KIND);
        self.b.ins().store(fl, dpc, self.trap, off::TRAP_PC);
        self.b.ins().store(fl, blk, self.trap, off::TRAP_BLOCK);
        self.b.ins().store(fl, dl, self.trap, off::TRAP_LANE);
        self.b.ins().store(fl, z32, self.trap, off::TRAP_SPACE);
        self.b.ins().store(fl, z64, self.trap, off::TRAP_OFFSET);
        self.b.ins().store(fl, z64, self.trap, off::TRAP_OFFSET_HI);
        let one = self.b.ins().iconst(types::I32, 1);
        self.b.ins().return_(&[one]);
    }
}
