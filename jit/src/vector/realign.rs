//! Group realignment for row/column splits.
//!
//! A row/column split (`%gid / n`, `%gid % n`: [`crate::analysis::split_index`]) runs as
//! vector code only in groups whose lanes do not straddle a multiple of `n`; a group that
//! does bails out at the split and runs all its lanes in scalar code. With rows of 17 lanes
//! and 8-lane groups, that was 40% of the groups. When `n` is known before the program runs
//! (a parameter, an immediate, `%bdim` or `%gdim`) and is at least a group long, the group
//! head instead runs the lanes up to the next multiple of `n` in the per-lane code (fresh,
//! from pc 0, as the tail's lanes run) and starts the next group there, at a row's first
//! lane: each row then costs one short scalar run for its last `n mod G` lanes, and its
//! other groups run as vector code. Lanes still run in increasing order, so traps are
//! reported as before (the lowest trapping lane), and each lane runs exactly once.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, Value};
use holovm_isa::{Special, Src, Ty};

use super::{TrError, TrResult};
use crate::analysis::{Analysis, RowSplit};
use crate::ops;
use crate::translate::Tr;

/// Whether the vector groups of `program` realign to rows: a kernel without barriers with
/// a split the group head can check ([`Analysis::realignable_split`]).
pub(crate) fn realigns(program: &holovm_isa::Program, an: &Analysis) -> bool {
    !an.has_barrier && program.insts().iter().any(|i| an.realignable_split(i))
}

/// A split the group head can check: the split's type, dividend and divisor.
type Split = (Ty, Special, Src);

impl Tr<'_, '_> {
    /// The program's row/column splits whose divisor the group head can compute (not a
    /// register), without repeats (`div` and `rem` of the same pair check once).
    fn realign_splits(&self) -> Vec<Split> {
        let mut out: Vec<Split> = Vec::new();
        for inst in self.p.insts() {
            let Some(RowSplit {
                ty,
                dividend: Src::Special(a),
                divisor: b,
                ..
            }) = self.an.kept_split(inst)
            else {
                continue;
            };
            if self.an.realignable_split(inst) && !out.contains(&(ty, a, b)) {
                out.push((ty, a, b));
            }
        }
        out
    }

    /// Emits the realignment check of a full group (non-phased vector kernels with
    /// realignable splits) and returns its block, which goes on to `entry` or runs the
    /// lanes before the next row in the per-lane code; `None` (nothing emitted) when the
    /// program has no such split.
    pub(super) fn emit_realign(&mut self, entry: Block) -> TrResult<Option<Block>> {
        let splits = self.realign_splits();
        if splits.is_empty() || self.phased {
            return Ok(None);
        }
        let check = self.b.create_block();
        let realign = self.b.create_block();
        self.b.switch_to_block(check);
        let g = self.g as i64;
        // The fewest lanes before a multiple of a divisor, if fewer than G.
        let mut lanes = self.b.ins().iconst(types::I32, g);
        for (ty, a, b) in splits {
            let first = if a == Special::Lane {
                self.v_lane0()
            } else {
                self.v_gid0()
            };
            let wide = ty.size() == 8;
            let (first, n) = if wide {
                let n = self.split_divisor(b, ty);
                (self.b.ins().uextend(types::I64, first), n)
            } else {
                (first, self.split_divisor(b, ty))
            };
            let t = if wide { types::I64 } else { types::I32 };
            // Divisors below G (every group straddles) and 0 (the split traps) are left to
            // the split's own check: the group bails out there, as before.
            let long = self
                .b
                .ins()
                .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, n, g);
            let one = self.b.ins().iconst(t, 1);
            let safe = self.b.ins().select(long, n, one);
            let rem = self.b.ins().urem(first, safe);
            let room = self.b.ins().isub(safe, rem);
            let short = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, room, g);
            let straddle = self.b.ins().band(long, short);
            let room = if wide {
                self.b.ins().ireduce(types::I32, room)
            } else {
                room
            };
            let cand = self.b.ins().select(straddle, room, lanes);
            lanes = self.b.ins().umin(lanes, cand);
        }
        let straddle = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, lanes, g);
        self.b.ins().brif(straddle, realign, &[], entry, &[]);
        // The lanes before the row's end run in the per-lane code, fresh, through a call of
        // its own that returns here (going through the lane loop's call and a three-way
        // continuation after it compiled gemm in 1.2% more instructions); the group loop
        // goes on after them.
        self.enter(realign);
        let l0 = self.b.use_var(self.lane0);
        let end = self.b.ins().iadd(l0, lanes);
        self.b.def_var(self.s_lane, l0);
        self.b.def_var(self.s_end, end);
        self.lanes_fresh();
        let f = self
            .lanes_fn
            .ok_or_else(|| TrError("realignment without a per-lane function".into()))?;
        let done = self.b.create_block();
        let next = self.b.append_block_param(done, types::I32);
        self.emit_call(f, done);
        self.enter(done);
        self.b.def_var(self.lane0, next);
        self.b.ins().jump(self.group_head, &[]);
        Ok(Some(check))
    }

    /// A split's divisor `b` (a parameter, immediate or uniform special register) as `ty`,
    /// read where the group head runs (not from the vector code's hoisted parameters, which
    /// are defined on entering vector code).
    fn split_divisor(&mut self, b: Src, ty: Ty) -> Value {
        match b {
            Src::Param(i) => {
                let v = self.param_scalar(i);
                ops::from_storage(&mut self.b, ty, v)
            }
            other => self.s_read_uniform(other, ty),
        }
    }
}
