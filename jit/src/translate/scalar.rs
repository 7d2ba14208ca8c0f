//! The per-lane scalar translation of the program: register homes, operands, fuel,
//! branches and instructions.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, BlockArg, InstBuilder, MemFlagsData, SourceLoc, Type, Value,
};
use holovm_isa::{BinOp, Inst, Special, Src, Ty};

use super::{status, Tr, TrError, TrResult, CALL_STACK_DEPTH};
use crate::abi::TrapKind;
use crate::analysis::{reachable, Analysis};
use crate::listing;
use crate::ops;

/// The type a register is kept in by the scalar code: its class's lane type (so no GPR/XMM
/// round trips for floats), whose width is its writes' ([`Tr::s_get`] reads it at the
/// other width through its 64-bit image).
pub(crate) fn s_home(an: &Analysis, r: usize) -> Type {
    an.reg_class
        .get(r)
        .map(|c| c.lane_type())
        .unwrap_or(types::I64)
}

impl Tr<'_, '_> {
    // ---------------------------------------------------------------------------------
    // Operands (scalar)
    // ---------------------------------------------------------------------------------

    /// The value of a special register for the current scalar lane, as `I64`.
    fn s_special(&mut self, s: Special) -> Value {
        let v = match s {
            Special::Lane => self.b.use_var(self.s_lane),
            Special::Block => self.b.use_var(self.blk),
            Special::BlockDim => self.bdim(),
            Special::GridDim => self.gdim(),
            Special::GlobalId => self.b.use_var(self.s_gid),
        };
        self.b.ins().uextend(types::I64, v)
    }

    /// Reads `src` as type `ty` (compute form) in scalar code.
    pub(crate) fn s_read(&mut self, src: Src, ty: Ty) -> Value {
        match src {
            Src::Reg(r) => self.s_get(r.0 as usize, ty),
            Src::Special(s) => {
                let v = self.s_special(s);
                ops::from_storage(&mut self.b, ty, v)
            }
            Src::Param(i) => {
                let v = self.param_scalar(i);
                ops::from_storage(&mut self.b, ty, v)
            }
            Src::Imm(bits) => ops::imm(&mut self.b, ty, bits),
        }
    }

    /// Reads an index operand as `u64` in scalar code.
    fn s_read_u64(&mut self, src: Src) -> Value {
        match src {
            Src::Reg(r) => self.s_image(r.0 as usize),
            Src::Special(s) => self.s_special(s),
            Src::Param(i) => self.param_scalar(i),
            Src::Imm(bits) => self.b.ins().iconst(types::I64, bits as i64),
        }
    }

    fn s_write(&mut self, dst: u8, ty: Ty, v: Value) {
        let r = dst as usize;
        let home = s_home(self.an, r);
        let s = if home == types::I64 {
            ops::to_storage(&mut self.b, ty, v)
        } else {
            let v = ops::narrow_out(&mut self.b, ty, v);
            ops::bitcast(&mut self.b, home, v)
        };
        self.b.def_var(self.s_regs[r], s);
    }

    /// Register `r` read as `ty` (compute form).
    fn s_get(&mut self, r: usize, ty: Ty) -> Value {
        let home = s_home(self.an, r);
        if home == types::I64 || home.bits() != ops::compute_lane(ty).bits() {
            // From the 64-bit image: a 32-bit register read at 64 bits is its value
            // zero-extended, a 64-bit one read at 32 bits or fewer its low bits.
            let image = self.s_image(r);
            ops::from_storage(&mut self.b, ty, image)
        } else {
            let v = self.b.use_var(self.s_regs[r]);
            let v = ops::bitcast(&mut self.b, ops::compute_lane(ty), v);
            ops::narrow_in(&mut self.b, ty, v)
        }
    }

    /// Register `r`'s 64-bit image (zero-extended).
    pub(crate) fn s_image(&mut self, r: usize) -> Value {
        let v = self.b.use_var(self.s_regs[r]);
        let home = s_home(self.an, r);
        if home.bits() == 64 {
            ops::bitcast(&mut self.b, types::I64, v)
        } else {
            let i = ops::bitcast(&mut self.b, types::I32, v);
            self.b.ins().uextend(types::I64, i)
        }
    }

    // ---------------------------------------------------------------------------------
    // The scalar program
    // ---------------------------------------------------------------------------------

    /// The scalar block for `pc` (created on first use).
    pub(crate) fn s_block(&mut self, pc: u32) -> Block {
        let i = pc as usize;
        if let Some(Some(b)) = self.s_blocks.get(i) {
            return *b;
        }
        let blk = self.b.create_block();
        if let Some(slot) = self.s_blocks.get_mut(i) {
            *slot = Some(blk);
        }
        blk
    }

    /// Base address of the current lane's call stack.
    fn call_stack_base(&mut self) -> Option<Value> {
        if self.phased {
            if !self.an.has_call {
                return None;
            }
            let off = self.layout.lane_stack;
            Some(self.lane_slot(off, CALL_STACK_DEPTH * 4))
        } else {
            let slot = self.call_stack?;
            Some(self.b.ins().stack_addr(types::I64, slot, 0))
        }
    }

    /// Consumes one unit of fuel (trapping `out of fuel` at `pc` when none is left).
    fn s_fuel_use(&mut self, pc: u32) {
        let f = self.b.use_var(self.s_fuel);
        let empty = self.b.ins().icmp_imm_s(IntCC::Equal, f, 0);
        self.s_trap_plain_if(empty, TrapKind::OutOfFuel, pc);
        let f = self.b.ins().iadd_imm_s(f, -1);
        self.b.def_var(self.s_fuel, f);
    }

    /// Jumps to the scalar code of `target` from the branch at `pc` (consuming fuel when the
    /// branch goes backward).
    fn s_goto(&mut self, pc: u32, target: u32) {
        if target <= pc {
            self.s_fuel_use(pc);
        }
        let t = self.s_block(target);
        self.b.ins().jump(t, &[]);
    }

    /// Emits the scalar copy of the program: the instructions it can reach from pc 0 and the
    /// resume points. (Cranelift removes unreachable blocks one at a time, in time that grew
    /// quadratically with their number: 4,000 unreachable `exit`s took 25 ms.)
    pub(crate) fn emit_scalar_program(&mut self) -> TrResult<()> {
        let insts = self.p.insts().to_vec();
        let n = insts.len() as u32;
        // A call goes on at its target and returns to the next; `ret` and `exit` end.
        let ends = |i: &Inst| matches!(i, Inst::Exit | Inst::Ret);
        self.s_reach = reachable(&insts, self.resume_pcs.iter().copied(), ends);
        let mut open = false;
        for pc in 0..n {
            if !self.s_reach[pc as usize] {
                // (Nothing falls or jumps into it.)
                open = false;
                continue;
            }
            let starts = self.an.leader[pc as usize] || self.resume_pcs.contains(&pc);
            if starts {
                let blk = self.s_block(pc);
                if open {
                    self.b.ins().jump(blk, &[]);
                }
                self.b.switch_to_block(blk);
                open = true;
            } else if self.s_blocks[pc as usize].is_some() {
                return Err(TrError(format!(
                    "pc {pc} is a jump target but not a leader"
                )));
            }
            if !open {
                continue;
            }
            self.b.set_srcloc(listing::loc(pc, true));
            open = self.s_inst(pc, &insts[pc as usize])?;
        }
        // Falling off the end.
        let end = self.s_block(n);
        if open {
            self.b.ins().jump(end, &[]);
        }
        self.b.switch_to_block(end);
        self.b.set_srcloc(listing::loc(n, true));
        self.s_trap_now(TrapKind::FellOffEnd, n);
        self.b.set_srcloc(SourceLoc::default());
        self.emit_ret_dispatch();
        Ok(())
    }

    /// The block every `ret` jumps to with its return pc, which goes on at the return site
    /// (the instruction after a reachable call). One for all: a dispatch at each `ret` over
    /// every return site took time (rets) x (calls).
    fn ret_dispatch(&mut self) -> Block {
        if let Some(b) = self.ret_blk {
            return b;
        }
        let b = self.b.create_block();
        self.b.append_block_param(b, types::I32);
        self.ret_blk = Some(b);
        b
    }

    fn emit_ret_dispatch(&mut self) {
        let Some(blk) = self.ret_blk else { return };
        self.b.switch_to_block(blk);
        let ret = self.b.block_params(blk)[0];
        let sites: Vec<u32> = self
            .p
            .insts()
            .iter()
            .enumerate()
            .filter(|&(pc, i)| matches!(i, Inst::Call { .. }) && self.s_reach[pc])
            .map(|(pc, _)| pc as u32 + 1)
            .collect();
        let targets: Vec<(u32, Block)> = sites.into_iter().map(|r| (r, self.s_block(r))).collect();
        self.switch_on_pc(ret, &targets, self.bad_blk);
    }

    /// Emits one instruction in scalar code; returns whether the block stays open.
    fn s_inst(&mut self, pc: u32, inst: &Inst) -> TrResult<bool> {
        match *inst {
            Inst::Ldg { ty, dst, addr } => {
                let m = self.global_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_load(dst.0 as usize, ty, a);
            }
            Inst::Stg { ty, src, addr } => {
                let m = self.global_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_store(ty, a, src);
            }
            Inst::Lds { ty, dst, addr } => {
                let m = self.shared_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_load(dst.0 as usize, ty, a);
            }
            Inst::Sts { ty, src, addr } => {
                let m = self.shared_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_store(ty, a, src);
            }
            Inst::Mov { ty, dst, src } => {
                let v = self.s_read(src, ty);
                self.s_write(dst.0, ty, v);
            }
            Inst::Cvt { to, from, dst, src } => {
                let v = self.s_read(src, from);
                let r = ops::cvt(&mut self.b, to, from, v);
                self.s_write(dst.0, to, r);
            }
            Inst::Bin { op, ty, dst, a, b } => {
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let r = match op {
                    BinOp::Div | BinOp::Rem if ty.is_int() => {
                        let (zero, ovf) = ops::div_checks(&mut self.b, ty, x, y);
                        self.s_trap_plain_if(zero, TrapKind::DivideByZero, pc);
                        if let Some(o) = ovf {
                            self.s_trap_plain_if(o, TrapKind::IntegerOverflow, pc);
                        }
                        ops::divrem(&mut self.b, op, ty, x, y)
                    }
                    BinOp::Shl | BinOp::Shr => ops::shift(&mut self.b, op, ty, x, y),
                    _ => ops::simple_bin(&mut self.b, op, ty, x, y),
                };
                self.s_write(dst.0, ty, r);
            }
            Inst::Un { op, ty, dst, a } => {
                let x = self.s_read(a, ty);
                let r = ops::simple_un(&mut self.b, op, ty, x);
                self.s_write(dst.0, ty, r);
            }
            Inst::Fma { ty, dst, a, b, c } => {
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let z = self.s_read(c, ty);
                let r = ops::fma(&mut self.b, ty, x, y, z);
                self.s_write(dst.0, ty, r);
            }
            Inst::Setp { cmp, ty, dst, a, b } => {
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let r = ops::compare(&mut self.b, cmp, ty, x, y);
                self.b.def_var(self.s_preds[dst.0 as usize], r);
            }
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            } => {
                let c = self.b.use_var(self.s_preds[pred.0 as usize]);
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let r = self.b.ins().select(c, x, y);
                self.s_write(dst.0, ty, r);
            }
            Inst::Bra { target, guard } => match guard {
                None => {
                    self.s_goto(pc, target);
                    return Ok(false);
                }
                Some(g) => {
                    let c = self.b.use_var(self.s_preds[g.pred.0 as usize]);
                    let taken = self.b.create_block();
                    let fall = self.s_block(pc + 1);
                    if g.negate {
                        self.b.ins().brif(c, fall, &[], taken, &[]);
                    } else {
                        self.b.ins().brif(c, taken, &[], fall, &[]);
                    }
                    self.enter(taken);
                    self.s_goto(pc, target);
                    return Ok(false);
                }
            },
            Inst::Loop { counter, target } => {
                // The counter as an integer of its storage width (a 32-bit register's upper
                // half is zero, so the u32 compare is the u64 compare).
                let var = self.s_regs[counter.0 as usize];
                let home = s_home(self.an, counter.0 as usize);
                let v = self.b.use_var(var);
                let v = ops::bitcast(&mut self.b, home.as_int(), v);
                let more = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, v, 1);
                let taken = self.b.create_block();
                let not_taken = self.b.create_block();
                self.b.ins().brif(more, taken, &[], not_taken, &[]);
                self.enter(not_taken);
                let z = ops::konst(&mut self.b, home, 0);
                self.b.def_var(var, z);
                let fall = self.s_block(pc + 1);
                self.b.ins().jump(fall, &[]);
                self.enter(taken);
                let v1 = self.b.ins().iadd_imm_s(v, -1);
                let v1 = ops::bitcast(&mut self.b, home, v1);
                self.b.def_var(var, v1);
                self.s_goto(pc, target);
                return Ok(false);
            }
            Inst::Call { target } => {
                if !self.an.has_call {
                    return Err(TrError("call without a call stack".into()));
                }
                self.s_fuel_use(pc);
                let d = self.b.use_var(self.s_depth);
                let full = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::Equal, d, CALL_STACK_DEPTH as i64);
                self.s_trap_plain_if(full, TrapKind::CallStackOverflow, pc);
                let Some(base) = self.call_stack_base() else {
                    return Err(TrError("call without a call stack".into()));
                };
                let d64 = self.b.ins().uextend(types::I64, d);
                let o = self.b.ins().ishl_imm_s(d64, 2);
                let a = self.b.ins().iadd(base, o);
                let ret = self.b.ins().iconst(types::I32, pc as i64 + 1);
                self.b.ins().store(MemFlagsData::trusted(), ret, a, 0);
                let d1 = self.b.ins().iadd_imm_s(d, 1);
                self.b.def_var(self.s_depth, d1);
                // Make sure the return site has a block (it is a leader).
                self.s_block(pc + 1);
                let t = self.s_block(target);
                self.b.ins().jump(t, &[]);
                return Ok(false);
            }
            Inst::Ret => {
                if !self.an.has_call {
                    // No call anywhere: every ret traps.
                    self.s_trap_now(TrapKind::RetWithoutCall, pc);
                    return Ok(false);
                }
                let d = self.b.use_var(self.s_depth);
                let empty = self.b.ins().icmp_imm_s(IntCC::Equal, d, 0);
                self.s_trap_plain_if(empty, TrapKind::RetWithoutCall, pc);
                let d1 = self.b.ins().iadd_imm_s(d, -1);
                self.b.def_var(self.s_depth, d1);
                let Some(base) = self.call_stack_base() else {
                    return Err(TrError("ret without a call stack".into()));
                };
                let d64 = self.b.ins().uextend(types::I64, d1);
                let o = self.b.ins().ishl_imm_s(d64, 2);
                let a = self.b.ins().iadd(base, o);
                let ret = self.b.ins().load(types::I32, MemFlagsData::trusted(), a, 0);
                let dispatch = self.ret_dispatch();
                self.b.ins().jump(dispatch, &[BlockArg::Value(ret)]);
                return Ok(false);
            }
            Inst::Exit => {
                if self.phased {
                    let (a, a_off) = self.lane_entry(self.layout.lane_status, 4);
                    let d = self.b.ins().iconst(types::I32, status::DONE);
                    self.b.ins().store(MemFlagsData::trusted(), d, a, a_off);
                }
                self.b.ins().jump(self.lane_next, &[]);
                return Ok(false);
            }
            Inst::MemFence => {}
            Inst::BarSync | Inst::Reduce { .. } => {
                if !self.phased {
                    return Err(TrError("barriers need the phased strategy".into()));
                }
                self.s_arrive(pc);
                return Ok(false);
            }
        }
        Ok(true)
    }
}
