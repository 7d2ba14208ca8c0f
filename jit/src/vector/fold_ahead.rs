//! A float `reduce.add` / `reduce.mul` folded as the vector groups park at it.
//!
//! These folds go in ascending lane order from the lowest waiting lane
//! (`((a0 + a1) + a2) + ...`, docs/ISA.md), so the barrier resolver's fold is one chain of
//! dependent additions, three or four cycles each: for a 256-lane block about 800 cycles
//! with nothing else to do, 9% of softmax_rows' time. Groups park at a `reduce` in lane
//! order in the phase's walk, so the bail-out block lets each group that parks right after
//! the previous one (its first lane is the call record's [`call::FOLD_NEXT`]) continue the
//! chain with its lanes' values, in order, from the register file it has just written,
//! into [`call::FOLD`]; out of order execution overlaps those additions with the next
//! groups' work. The resolver takes that value when the chain covers every lane of the
//! block and all of them wait at the `reduce` (barrier.rs); otherwise (a group left lanes to
//! scalar code, a lane exited or trapped) it folds the lanes itself,
//! as before. The chain's operations are the resolver's, in the same order, so the result
//! has the same bits.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, MemFlagsData, Value};
use holovm_isa::{Inst, Program, RedOp, Src, Ty};

use crate::analysis::Analysis;
use crate::ops::compute_lane;
use crate::translate::{call, s_home, status, Tr};

/// Whether the resolver can take a chain folded by the groups for a `reduce` of `op` in
/// `ty`: float additions and multiplications (the others fold in any order, and the
/// resolver vectorises them).
pub(crate) fn folds_ahead(op: RedOp, ty: Ty) -> bool {
    ty.is_float() && matches!(op, RedOp::Add | RedOp::Mul)
}

/// The `reduce`s of `program` whose fold the vector groups carry (a float add or multiply
/// of a register whose slots hold its type: not an f64 fold of a register kept at 32
/// bits, whose value it reads zero-extended): pc, operation, type, operand register.
pub(crate) fn folded_reduces(program: &Program, an: &Analysis) -> Vec<(u32, RedOp, Ty, usize)> {
    program
        .insts()
        .iter()
        .enumerate()
        .filter_map(|(at, inst)| match *inst {
            Inst::Reduce {
                op,
                ty,
                src: Src::Reg(r),
                ..
            } if folds_ahead(op, ty) && s_home(an, r.0 as usize).bytes() >= ty.size() => {
                Some((at as u32, op, ty, r.0 as usize))
            }
            _ => None,
        })
        .collect()
}

impl Tr<'_, '_> {
    /// In the bail-out block, after the group's registers went to the register file at
    /// `bases` (its first lane's): if the group parks (`status` WAIT) at the `reduce` at
    /// `pc` whose fold the groups carry ([`folds_ahead`], of a register), and comes right
    /// after the last group that did, continue the chain with its lanes. The builder
    /// continues in a new block.
    pub(super) fn emit_fold_ahead(&mut self, pc: Value, status: Value, bases: [Value; 2]) {
        let reduces = folded_reduces(self.p, self.an);
        if reduces.is_empty() {
            return;
        }
        let done = self.b.create_block();
        let l0 = self.b.use_var(self.lane0);
        let next = self.call_word(types::I32, call::FOLD_NEXT);
        let in_order = self.b.ins().icmp(IntCC::Equal, l0, next);
        let waits = self.b.ins().icmp_imm_s(IntCC::Equal, status, status::WAIT);
        let go = self.b.ins().band(in_order, waits);
        for (at, op, ty, r) in reduces {
            let (here, other) = (self.b.create_block(), self.b.create_block());
            let is = self.b.ins().icmp_imm_s(IntCC::Equal, pc, i64::from(at));
            let is = self.b.ins().band(is, go);
            self.b.ins().brif(is, here, &[], other, &[]);
            self.b.switch_to_block(here);
            let (file, off) = self.reg_slot(r, bases);
            let bytes = self.reg_slot_bytes(r);
            self.emit_chain(op, ty, file, off, bytes, l0);
            self.b.ins().jump(done, &[]);
            self.b.switch_to_block(other);
        }
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    /// The chain over the group's G values of `ty` at `file + off`, `bytes` apart (the
    /// group's first lane `l0`), or over its lanes in the block only for a partial group
    /// (phantom lanes past the block, partial.rs): a loop, so that a group of 32 lanes
    /// costs the compile no more than one of 8; straight for a whole group of 8 or fewer.
    fn emit_chain(&mut self, op: RedOp, ty: Ty, file: Value, off: i32, bytes: u32, l0: Value) {
        let fl = MemFlagsData::trusted();
        let lane = compute_lane(ty);
        let step = |b: &mut cranelift_frontend::FunctionBuilder, a, x| match op {
            RedOp::Mul => b.ins().fmul(a, x),
            _ => b.ins().fadd(a, x),
        };
        let acc = self.call_word(lane, call::FOLD);
        let v0 = self.b.ins().load(lane, fl, file, off);
        // The first group starts the chain with lane 0's value, the others continue it.
        let continued = step(&mut self.b, acc, v0);
        let first = self.b.ins().icmp_imm_s(IntCC::Equal, l0, 0);
        let start = self.b.ins().select(first, v0, continued);
        // The group's lanes in the block: two or more in a partial group (`min_partial`).
        let lanes = self
            .group_last(types::I32)
            .map(|last| self.b.ins().iadd_imm_s(last, 1));
        if lanes.is_none() && self.g <= 8 {
            // Straight: as a loop, the loop's own instructions were as many as its adds.
            let mut a = start;
            for k in 1..self.g {
                let x = self.b.ins().load(lane, fl, file, off + (k * bytes) as i32);
                a = step(&mut self.b, a, x);
            }
            self.set_call_word(call::FOLD, a);
            let after = self.b.ins().iadd_imm_s(l0, i64::from(self.g));
            self.set_call_word(call::FOLD_NEXT, after);
            return;
        }
        let (head, exit) = (self.b.create_block(), self.b.create_block());
        let at = self.b.append_block_param(head, types::I64);
        let a = self.b.append_block_param(head, lane);
        let r = self.b.append_block_param(exit, lane);
        let at0 = self.b.ins().iadd_imm_s(file, i64::from(bytes));
        let end = match lanes {
            Some(lanes) => {
                let wide = self.b.ins().uextend(types::I64, lanes);
                let span = self.b.ins().imul_imm_s(wide, i64::from(bytes));
                self.b.ins().iadd(file, span)
            }
            None => self.b.ins().iadd_imm_s(file, i64::from(bytes * self.g)),
        };
        self.b
            .ins()
            .jump(head, &[BlockArg::Value(at0), BlockArg::Value(start)]);
        self.b.switch_to_block(head);
        let x = self.b.ins().load(lane, fl, at, off);
        let a = step(&mut self.b, a, x);
        let at = self.b.ins().iadd_imm_s(at, i64::from(bytes));
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, at, end);
        self.b.ins().brif(
            more,
            head,
            &[BlockArg::Value(at), BlockArg::Value(a)],
            exit,
            &[BlockArg::Value(a)],
        );
        self.b.switch_to_block(exit);
        self.set_call_word(call::FOLD, r);
        let after = match lanes {
            Some(lanes) => self.b.ins().iadd(l0, lanes),
            None => self.b.ins().iadd_imm_s(l0, i64::from(self.g)),
        };
        self.set_call_word(call::FOLD_NEXT, after);
    }
}
