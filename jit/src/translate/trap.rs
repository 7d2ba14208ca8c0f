//! Traps in scalar code: jumps to the trap block with the trap's kind and pc.

use cranelift_codegen::ir::{types, BlockArg, InstBuilder, Value};

use super::{SpaceRef, Tr};
use crate::abi::TrapKind;

impl Tr<'_, '_> {
    /// Jumps to the trap block with a non-memory trap.
    fn trap_args(
        &mut self,
        kind: TrapKind,
        pc: u32,
        space: Value,
        offv: Value,
        hi: Option<Value>,
    ) -> [BlockArg; 5] {
        let hi = match hi {
            Some(h) => h,
            None => self.b.ins().iconst(types::I64, 0),
        };
        let k = self.b.ins().iconst(types::I32, kind.code() as i64);
        let p = self.b.ins().iconst(types::I32, pc as i64);
        [
            BlockArg::Value(k),
            BlockArg::Value(p),
            BlockArg::Value(space),
            BlockArg::Value(offv),
            BlockArg::Value(hi),
        ]
    }

    /// `if cond { trap(kind, pc) }` for an access at `offv` (high bits `hi`) in `space`,
    /// continuing in a new block.
    pub(super) fn s_trap_if(
        &mut self,
        cond: Value,
        kind: TrapKind,
        pc: u32,
        space: SpaceRef,
        offv: Value,
        hi: Option<Value>,
    ) {
        self.s_trap_stub(cond, &mut |t| {
            let code = t.space_code(space);
            t.trap_args(kind, pc, code, offv, hi)
        });
    }

    /// `if cond { trap(kind, pc) }` for a trap without a memory address, continuing in a
    /// new block.
    pub(super) fn s_trap_plain_if(&mut self, cond: Value, kind: TrapKind, pc: u32) {
        self.s_trap_stub(cond, &mut |t| t.plain_trap_args(kind, pc));
    }

    /// A branch on `cond` to a cold block of its own that sets up the trap's arguments
    /// (`args`) and jumps to the trap block: as arguments of the branch, their constants
    /// were put in registers on the hot path (two zeroing instructions at every backward
    /// branch's fuel check of a per-lane loop). Continues in a new block.
    fn s_trap_stub(&mut self, cond: Value, args: &mut dyn FnMut(&mut Self) -> [BlockArg; 5]) {
        let (stub, cont) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(cond, stub, &[], cont, &[]);
        self.enter(stub);
        self.b.set_cold_block(stub);
        let args = args(self);
        self.b.ins().jump(self.trap_blk, &args);
        self.enter(cont);
    }

    /// [`Tr::trap_args`] without a memory address (space and offset 0).
    fn plain_trap_args(&mut self, kind: TrapKind, pc: u32) -> [BlockArg; 5] {
        let z32 = self.b.ins().iconst(types::I32, 0);
        let z64 = self.b.ins().iconst(types::I64, 0);
        self.trap_args(kind, pc, z32, z64, None)
    }

    pub(super) fn s_trap_now(&mut self, kind: TrapKind, pc: u32) {
        let args = self.plain_trap_args(kind, pc);
        self.b.ins().jump(self.trap_blk, &args);
    }
}
