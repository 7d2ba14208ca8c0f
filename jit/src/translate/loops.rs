//! The function skeleton: the loops over blocks, groups and lanes, the per-lane function's
//! entries, calls and return, and the internal-error exit.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, BlockArg, FuncRef, InstBuilder, JumpTableData, MemFlagsData, Type, Value,
};
use cranelift_frontend::Variable;

use super::{call, s_home, status, FnKind, Tr};
use crate::abi::off;
use crate::ops;
use crate::phased::STEP;

impl Tr<'_, '_> {
    /// The argument fields of the per-lane function's [`call`] record: the variables they
    /// carry, their types and offsets. The kernel stores them, the function loads them.
    pub(super) fn call_args(&self) -> [(Variable, Type, i32); 7] {
        [
            (self.blk, types::I32, call::BLOCK),
            (self.s_lane, types::I32, call::LANE_LO),
            (self.s_end, types::I32, call::LANE_HI),
            (self.s_resume, types::I8, call::RESUMED),
            (self.bail_pc, types::I32, call::BAIL_PC),
            (self.lane0, types::I32, call::LANE0),
            (self.bail_fuel, types::I64, call::BAIL_FUEL),
        ]
    }

    /// The loop over blocks and the group loop head.
    pub(super) fn emit_block_loop(&mut self) {
        let block_head = self.block_head;
        // block_head: stop at block_hi, else zero shared memory and start the lanes.
        self.b.switch_to_block(block_head);
        let hi = self.range_end();
        let b = &mut self.b;
        let blk = b.use_var(self.blk);
        let done = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, blk, hi);
        let ret_blk = b.create_block();
        let body = b.create_block();
        b.ins().brif(done, ret_blk, &[], body, &[]);
        b.switch_to_block(ret_blk);
        let z = b.ins().iconst(types::I32, 0);
        b.ins().return_(&[z]);

        b.switch_to_block(body);
        let chunks = self.layout.shared_bytes.div_ceil(16);
        // Zero the shared memory, 64 bytes a step (16 a step, a loop's own instructions
        // were 4 of its 5), then the last 16-byte chunks.
        let steps = chunks / 4;
        if steps > 0 {
            let zl = b.create_block();
            let zdone = b.create_block();
            let i = b.append_block_param(zl, types::I64);
            let z0 = b.ins().iconst(types::I64, 0);
            b.ins().jump(zl, &[BlockArg::Value(z0)]);
            b.switch_to_block(zl);
            let zero = ops::konst(b, types::I64X2, 0);
            let addr = b.ins().iadd(self.scratch, i);
            for k in 0..4 {
                b.ins().store(MemFlagsData::trusted(), zero, addr, 16 * k);
            }
            let i2 = b.ins().iadd_imm_s(i, 64);
            let more = b
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThan, i2, steps as i64 * 64);
            b.ins().brif(more, zl, &[BlockArg::Value(i2)], zdone, &[]);
            b.switch_to_block(zdone);
        }
        if !chunks.is_multiple_of(4) {
            let zero = ops::konst(b, types::I64X2, 0);
            for k in steps * 4..chunks {
                b.ins()
                    .store(MemFlagsData::trusted(), zero, self.scratch, 16 * k as i32);
            }
        }
        self.start_run();
        let b = &mut self.b;
        let z = b.ins().iconst(types::I32, 0);
        b.def_var(self.lane0, z);
        b.ins().jump(self.block_init, &[]);

        // block_next
        self.b.switch_to_block(self.block_next);
        let next = self.next_block();
        self.b.def_var(self.blk, next);
        self.b.ins().jump(block_head, &[]);
    }

    /// The scalar lane loop and tail: `group_head` goes straight to the scalar lanes for the
    /// scalar strategy; the vector strategy emits its own group head (vector.rs) and jumps
    /// to `tail` when fewer than G lanes remain.
    pub(crate) fn emit_lane_loop(&mut self, tail: Block) {
        if self.kind == FnKind::Kernel {
            self.emit_lane_entries(tail);
        }
        if let Some(f) = self.lanes_fn {
            self.emit_lanes_call(f);
            return;
        }
        let b = &mut self.b;

        // lane_head: next lane or leave.
        b.switch_to_block(self.lane_head);
        let lane = b.use_var(self.s_lane);
        let end = b.use_var(self.s_end);
        let done = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, lane, end);
        let lanes_done = b.create_block();
        let run = b.create_block();
        b.ins().brif(done, lanes_done, &[], run, &[]);
        b.switch_to_block(lanes_done);
        if self.kind == FnKind::Lanes {
            let z = b.ins().iconst(types::I32, 0);
            let end = b.use_var(self.s_end);
            self.lanes_return(z, end);
        } else if self.phased {
            b.ins().jump(self.resolve, &[]);
        } else {
            let resume = b.use_var(self.s_resume);
            b.ins()
                .brif(resume, self.group_next, &[], self.block_next, &[]);
        }
        // Every lane's code is entered through `run`.
        self.b.switch_to_block(run);
        let bdim = self.bdim();
        let b = &mut self.b;
        let blk = b.use_var(self.blk);
        let lane = b.use_var(self.s_lane);
        let base = b.ins().imul(blk, bdim);
        let gid = b.ins().iadd(base, lane);
        b.def_var(self.s_gid, gid);
        let fresh = b.create_block();
        let resumed = b.create_block();
        if self.phased {
            // Dispatch on the lane's status.
            let (st, st_off) = self.lane_entry(self.layout.lane_status, 4);
            let b = &mut self.b;
            let st = b
                .ins()
                .load(types::I32, MemFlagsData::trusted(), st, st_off);
            let is_fresh = b.ins().icmp_imm_s(IntCC::Equal, st, status::FRESH);
            let not_fresh = b.create_block();
            b.ins().brif(is_fresh, fresh, &[], not_fresh, &[]);
            b.switch_to_block(not_fresh);
            let ready = b.ins().icmp_imm_s(IntCC::Equal, st, status::READY);
            b.ins().brif(ready, resumed, &[], self.lane_next, &[]);
        } else {
            let resume = b.use_var(self.s_resume);
            b.ins().brif(resume, resumed, &[], fresh, &[]);
        }
        let b = &mut self.b;

        // A fresh lane: zero registers, full fuel, from pc 0.
        b.switch_to_block(fresh);
        self.unpark_group(false);
        let b = &mut self.b;
        let z64 = b.ins().iconst(types::I64, 0);
        let z8 = b.ins().iconst(types::I8, 0);
        let z32 = b.ins().iconst(types::I32, 0);
        let _ = z64;
        for (i, &r) in self.s_regs.iter().enumerate() {
            let z = ops::konst(b, s_home(self.an, i), 0);
            b.def_var(r, z);
        }
        let b = &mut self.b;
        for &p in &self.s_preds {
            b.def_var(p, z8);
        }
        let fuel = self.fuel();
        let b = &mut self.b;
        b.def_var(self.s_fuel, fuel);
        b.def_var(self.s_depth, z32);
        let pc0 = self.s_block(0);
        self.b.ins().jump(pc0, &[]);

        // A lane resumed after a vector bail-out: registers from the register file.
        self.b.switch_to_block(resumed);
        self.unpark_group(true);
        let b = &mut self.b;
        if self.g > 0 || self.phased {
            // The register file holds the group's lanes after a bail-out, or every lane of
            // the block in the phased strategy.
            let lane = b.use_var(self.s_lane);
            let rel = if self.phased {
                lane
            } else {
                let l0 = b.use_var(self.lane0);
                b.ins().isub(lane, l0)
            };
            let rel = b.ins().uextend(types::I64, rel);
            let bases = self.file_bases(rel);
            let base = bases[1];
            let g8 = self.layout.stride as i32 * 8;
            let (live_r, live_p) = self.spill_set();
            // Registers come back in their home types, as `s_arrive` and the vector code
            // stored them.
            for i in 0..self.s_regs.len() {
                let home = s_home(self.an, i);
                let v = if live_r[i / 64] & (1 << (i % 64)) == 0 {
                    ops::konst(&mut self.b, home, 0)
                } else {
                    let (base, off) = self.reg_slot(i, bases);
                    self.b.ins().load(home, MemFlagsData::trusted(), base, off)
                };
                self.b.def_var(self.s_regs[i], v);
            }
            let b = &mut self.b;
            let z8 = b.ins().iconst(types::I8, 0);
            for (i, &p) in self.s_preds.iter().enumerate() {
                if live_p & (1 << (i % 16)) == 0 {
                    b.def_var(p, z8);
                    continue;
                }
                let o = self.layout.predfile as i32 + i as i32 * g8;
                let v = b.ins().load(types::I64, MemFlagsData::trusted(), base, o);
                let v = b.ins().ireduce(types::I8, v);
                b.def_var(p, v);
            }
            let pc = if self.phased {
                let (a, a_off) = self.lane_entry(self.layout.lane_fuel, 8);
                let f = self
                    .b
                    .ins()
                    .load(types::I64, MemFlagsData::trusted(), a, a_off);
                self.b.def_var(self.s_fuel, f);
                // Call depths are kept only for programs with calls (0 otherwise).
                if self.an.has_call {
                    let (a, a_off) = self.lane_entry(self.layout.lane_depth, 4);
                    let d = self
                        .b
                        .ins()
                        .load(types::I32, MemFlagsData::trusted(), a, a_off);
                    self.b.def_var(self.s_depth, d);
                }
                let (a, a_off) = self.lane_entry(self.layout.lane_pc, 4);
                self.b
                    .ins()
                    .load(types::I32, MemFlagsData::trusted(), a, a_off)
            } else {
                let mut f = self.b.use_var(self.bail_fuel);
                if self.an.has_masked_loops() {
                    // The fuel a lane saved in masked loops it left early (see
                    // vector/masked_loop.rs).
                    let extra = self.b.ins().load(
                        types::I64,
                        MemFlagsData::trusted(),
                        base,
                        self.layout.bonus as i32,
                    );
                    f = self.b.ins().iadd(f, extra);
                }
                let b = &mut self.b;
                b.def_var(self.s_fuel, f);
                let z32 = b.ins().iconst(types::I32, 0);
                b.def_var(self.s_depth, z32);
                b.use_var(self.bail_pc)
            };
            let n = self.p.insts().len() as u32;
            let pcs: Vec<u32> = self
                .resume_pcs
                .iter()
                .copied()
                .filter(|&x| x <= n)
                .collect();
            let targets: Vec<(u32, Block)> =
                pcs.into_iter().map(|p| (p, self.s_block(p))).collect();
            self.switch_on_pc(pc, &targets, self.bad_blk);
        } else {
            self.b.ins().jump(self.bad_blk, &[]);
        }

        // lane_next: a lane exited.
        let b = &mut self.b;
        b.switch_to_block(self.lane_next);
        let lane = b.use_var(self.s_lane);
        let lane = b.ins().iadd_imm_s(lane, 1);
        if self.phased {
            // At the start of a vector group (or of 32 lanes), on to the next lane that is
            // fresh or ready, four statuses a step: a phase often leaves one group to scalar
            // code and the rest parked by the vector code (a tree reduction's `if lane < s`),
            // which one by one cost ~10 instructions each. Not at every lane: a step at
            // every fourth lane made phases whose lanes all run scalar code 15% slower.
            let step = self.b.create_block();
            let one = self.b.create_block();
            let every = if self.g >= STEP as u32 { self.g } else { 32 };
            let within = self.b.ins().band_imm_s(lane, i64::from(every) - 1);
            self.b.ins().brif(within, one, &[], step, &[]);
            self.b.switch_to_block(step);
            let end = self.b.use_var(self.s_end);
            let none = self.b.create_block();
            let (_, next) = self.find_lane(
                lane,
                end,
                IntCC::SignedLessThan,
                status::READY + 1,
                none,
                &[],
            );
            self.b.def_var(self.s_lane, next);
            self.b.ins().jump(self.lane_head, &[]);
            self.b.switch_to_block(none);
            let end = self.b.use_var(self.s_end);
            self.b.def_var(self.s_lane, end);
            self.b.ins().jump(self.lane_head, &[]);
            self.b.switch_to_block(one);
            self.b.def_var(self.s_lane, lane);
            self.b.ins().jump(self.lane_head, &[]);
        } else {
            b.def_var(self.s_lane, lane);
            b.ins().jump(self.lane_head, &[]);
        }

        self.emit_bad_exit();
        let b = &mut self.b;

        // trap: the site wrote the record (trap.rs); stop.
        b.switch_to_block(self.trap_blk);
        let lane = b.ins().load(
            types::I32,
            MemFlagsData::trusted(),
            self.trap,
            off::TRAP_LANE,
        );
        if self.phased {
            // Stop this lane and every higher one; lower lanes keep running (they may still
            // trap, replacing this record).
            b.def_var(self.s_end, lane);
            let (a, a_off) = self.lane_entry_of(self.layout.lane_status, 4, lane);
            let d = self.b.ins().iconst(types::I32, status::DONE);
            self.b.ins().store(MemFlagsData::trusted(), d, a, a_off);
            if self.kind == FnKind::Lanes {
                // The kernel resolves the barrier for the lanes below this one.
                let z = self.b.ins().iconst(types::I32, 0);
                self.lanes_return(z, lane);
            } else {
                self.b.ins().jump(self.resolve, &[]);
                self.emit_resolve();
            }
        } else if self.kind == FnKind::Lanes {
            let one = b.ins().iconst(types::I32, 1);
            self.lanes_return(one, one);
        } else {
            let one = b.ins().iconst(types::I32, 1);
            b.ins().return_(&[one]);
        }
    }

    /// Returns from the per-lane function with results `code` and `end` (see [`call`]).
    fn lanes_return(&mut self, code: Value, end: Value) {
        let fl = MemFlagsData::trusted();
        let at = self.layout.call as i32;
        self.b.ins().store(fl, code, self.scratch, at + call::CODE);
        self.b.ins().store(fl, end, self.scratch, at + call::END);
        self.b.ins().return_(&[]);
    }

    /// The kernel's ways into the lane loop: `tail` (the lanes past the last full group, or
    /// every lane for the scalar strategy) and, for phased programs, `phase_start` (every
    /// lane below the lowest trapping one, again); and `group_next`, where vector groups and
    /// bail-outs continue.
    fn emit_lane_entries(&mut self, tail: Block) {
        self.b.switch_to_block(tail);
        self.emit_partial_group();
        let b = &mut self.b;
        let l0 = b.use_var(self.lane0);
        b.def_var(self.s_lane, l0);
        let lanes = self.block_lanes();
        let end = self.guard_exit_end(lanes).unwrap_or(lanes);
        self.set_lanes_end(end);
        self.lanes_fresh();
        let b = &mut self.b;
        if self.phased {
            b.ins().jump(self.phase_start, &[]);
            // phase_start: run every lane below s_end (the trapping lane, if any) again,
            // from the first one the vector groups left to scalar code.
            b.switch_to_block(self.phase_start);
            let from = self.scan_start();
            self.b.def_var(self.s_lane, from);
            // Defined on every way into the lane loop, these are not carried around the
            // group loop (live through all of the vector code).
            self.lanes_fresh();
            if self.phased_vector_kernel() {
                let end = self.lanes_end();
                self.b.def_var(self.s_end, end);
            }
        }
        let b = &mut self.b;
        b.ins().jump(self.lane_head, &[]);

        // group_next: advance the group (vector strategy).
        b.switch_to_block(self.group_next);
        let l0 = b.use_var(self.lane0);
        let l0 = b.ins().iadd_imm_s(l0, self.g.max(1) as i64);
        b.def_var(self.lane0, l0);
        b.ins().jump(self.group_head, &[]);
    }

    /// Sets `s_end` to `end`, and in a phased vector kernel its word
    /// ([`call::LANES_END`]), which the group loop reads instead.
    fn set_lanes_end(&mut self, end: Value) {
        self.b.def_var(self.s_end, end);
        if self.phased_vector_kernel() {
            self.set_call_word(call::LANES_END, end);
        }
    }

    /// Phased vector kernels: `s_end` as [`Tr::set_lanes_end`] last stored it (`I32`).
    pub(crate) fn lanes_end(&mut self) -> Value {
        self.call_word(types::I32, call::LANES_END)
    }

    /// The lanes about to run start fresh: no bail-out state. (Defined here, on the way into
    /// the lane loop, the bail-out variables are not carried around the group loop, where
    /// they would be live through the whole kernel.)
    pub(crate) fn lanes_fresh(&mut self) {
        let z8 = self.b.ins().iconst(types::I8, 0);
        self.b.def_var(self.s_resume, z8);
        if !self.phased {
            let z32 = self.b.ins().iconst(types::I32, 0);
            self.b.def_var(self.bail_pc, z32);
            let z64 = self.b.ins().iconst(types::I64, 0);
            self.b.def_var(self.bail_fuel, z64);
        }
    }

    /// `lane_head` of a kernel whose per-lane code is the function `f`: call it for lanes
    /// `s_lane..s_end`, then go on as the lane loop would (next group or block; resolve the
    /// barrier with the trap limit it returns).
    fn emit_lanes_call(&mut self, f: FuncRef) {
        let b = &mut self.b;
        b.switch_to_block(self.lane_head);
        // No lanes to run (a block of full groups, or a phase whose lanes the vector code
        // parked): no call, whose register saves would cost more than a small block's groups.
        let ok = b.create_block();
        let end = b.append_block_param(ok, types::I32);
        let call_blk = b.create_block();
        let lane = b.use_var(self.s_lane);
        let hi = b.use_var(self.s_end);
        if self.phased {
            // The first lane below `hi` that is fresh or ready (status 0 or 1), if any.
            let (_, l) = self.find_lane(
                lane,
                hi,
                IntCC::SignedLessThan,
                status::READY + 1,
                ok,
                &[BlockArg::Value(hi)],
            );
            self.b.def_var(self.s_lane, l);
            self.b.ins().jump(call_blk, &[]);
            self.b.switch_to_block(call_blk);
        } else {
            let none = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, lane, hi);
            b.ins()
                .brif(none, ok, &[BlockArg::Value(hi)], call_blk, &[]);
            b.switch_to_block(call_blk);
        }
        self.emit_call(f, ok);
        let b = &mut self.b;
        b.switch_to_block(ok);
        if self.phased {
            self.set_lanes_end(end);
            self.b.ins().jump(self.resolve, &[]);
            self.emit_resolve();
        } else {
            let resume = b.use_var(self.s_resume);
            b.ins()
                .brif(resume, self.group_next, &[], self.block_next, &[]);
        }
        self.emit_bad_exit();
    }

    /// Calls the per-lane function `f` for lanes `s_lane..s_end` (fresh or resumed as
    /// `s_resume` says) and goes on to `ok` with the lane it stopped at (`I32`), or returns
    /// its code if it trapped.
    pub(crate) fn emit_call(&mut self, f: FuncRef, ok: Block) {
        let fl = MemFlagsData::trusted();
        let at = self.layout.call as i32;
        for (var, ty, field) in self.call_args() {
            // Phased lanes resume from their own words, never from a bail-out's.
            let v = if self.phased && (var == self.bail_pc || var == self.bail_fuel) {
                self.b.ins().iconst(ty, 0)
            } else {
                self.b.use_var(var)
            };
            self.b.ins().store(fl, v, self.scratch, at + field);
        }
        let b = &mut self.b;
        let env = b.ins().load(types::I64, fl, self.scratch, at + call::ENV);
        let trap = self.trap_ptr();
        let b = &mut self.b;
        b.ins().call(f, &[env, self.scratch, trap]);
        let code = b.ins().load(types::I32, fl, self.scratch, at + call::CODE);
        let new_end = b.ins().load(types::I32, fl, self.scratch, at + call::END);
        let ret = b.create_block();
        b.ins()
            .brif(code, ret, &[], ok, &[BlockArg::Value(new_end)]);
        b.switch_to_block(ret);
        b.ins().return_(&[code]);
    }

    /// `bad_blk`: an internal inconsistency (never expected); reports code 2.
    fn emit_bad_exit(&mut self) {
        self.b.switch_to_block(self.bad_blk);
        let two = self.b.ins().iconst(types::I32, 2);
        if self.kind == FnKind::Lanes {
            self.lanes_return(two, two);
        } else {
            self.b.ins().return_(&[two]);
        }
    }

    /// Phased vector kernels: the current lane runs scalar code, so its group no longer
    /// holds what the vector code parked (see [`Tr::group_parked_slot`]). With `spread` (a
    /// lane that resumes), the first of the group's lanes to run gives every lane the
    /// group's fuel, which the vector code stored in the first lane's slot only (storing
    /// every lane's fuel at every barrier took 4% of a tree reduction's time). A fresh
    /// lane's group has not run vector code in this block: its flag can only be stale.
    fn unpark_group(&mut self, spread: bool) {
        if self.phased && self.g > 0 {
            let fl = MemFlagsData::trusted();
            let lane = self.b.use_var(self.s_lane);
            let a = self.group_parked_slot(lane);
            if !spread {
                let z = self.b.ins().iconst(types::I32, 0);
                self.b.ins().store(fl, z, a, 0);
                return;
            }
            let flag = self.b.ins().load(types::I32, fl, a, 0);
            let (give, done) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(flag, give, &[], done, &[]);
            self.b.switch_to_block(give);
            let l0 = self.b.ins().band_imm_s(lane, -(self.g as i64));
            let (at, at_off) = self.lane_entry_of(self.layout.lane_fuel, 8, l0);
            let f = self.b.ins().load(types::I64, fl, at, at_off);
            let f = self.b.ins().splat(types::I64X2, f);
            for k in 0..self.g as i32 / 2 {
                self.b.ins().store(fl, f, at, at_off + k * 16);
            }
            let z = self.b.ins().iconst(types::I32, 0);
            self.b.ins().store(fl, z, a, 0);
            self.b.ins().jump(done, &[]);
            self.b.switch_to_block(done);
        }
    }

    /// Jumps on `pc` (`I32`): to the block of each `(pc, block)` of `targets`, to `default`
    /// for any other value. Each way out is an edge of its own, which carries its own copies
    /// of the target's block arguments (the register allocator's work grows with them): a
    /// few targets take a chain of compares, more a jump table whose other entries share one
    /// edge to `default`.
    pub(crate) fn switch_on_pc(&mut self, pc: Value, targets: &[(u32, Block)], default: Block) {
        if targets.len() <= 4 {
            for &(p, blk) in targets {
                let next = self.b.create_block();
                let hit = self.b.ins().icmp_imm_s(IntCC::Equal, pc, i64::from(p));
                self.b.ins().brif(hit, blk, &[], next, &[]);
                self.b.switch_to_block(next);
            }
            self.b.ins().jump(default, &[]);
            return;
        }
        let other = self.b.create_block();
        let max = targets.iter().map(|t| t.0).max().unwrap_or(0);
        let mut at = vec![other; max as usize + 1];
        for &(p, blk) in targets.iter().rev() {
            // (The first target of a pc, as a search would find.)
            at[p as usize] = blk;
        }
        let table: Vec<_> = at
            .into_iter()
            .map(|blk| self.b.func.dfg.block_call(blk, &[]))
            .collect();
        let def = self.b.func.dfg.block_call(other, &[]);
        let jt = self.b.create_jump_table(JumpTableData::new(def, &table));
        self.b.ins().br_table(pc, jt);
        self.b.switch_to_block(other);
        self.b.ins().jump(default, &[]);
    }
}
