//! Traps in scalar code: each trap site writes the trap record (kind, pc, block, lane and
//! the access's space and offset) itself and jumps to the shared trap block, which takes no
//! arguments. (With the record's fields as the trap block's arguments, every site's values
//! flowed into its parameters, and Cranelift's register allocator took time quadratic in the
//! number of sites: 10,000 stores compiled in 5 s.)

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::{SpaceRef, Tr};
use crate::abi::{off, TrapKind};

impl Tr<'_, '_> {
    /// Writes the trap record of a trap at `pc` for the current lane.
    fn write_trap(
        &mut self,
        kind: TrapKind,
        pc: u32,
        space: Value,
        offv: Value,
        hi: Option<Value>,
    ) {
        let fl = MemFlagsData::trusted();
        let hi = match hi {
            Some(h) => h,
            None => self.b.ins().iconst(types::I64, 0),
        };
        // The kind and the pc as one word (little-endian: the kind first).
        const _: () = assert!(off::TRAP_PC == off::TRAP_KIND + 4);
        let kind_pc = u64::from(kind.code()) | u64::from(pc) << 32;
        let kp = self.b.ins().iconst(types::I64, kind_pc as i64);
        let blk = self.b.use_var(self.blk);
        let lane = self.b.use_var(self.s_lane);
        for (v, at) in [
            (kp, off::TRAP_KIND),
            (blk, off::TRAP_BLOCK),
            (lane, off::TRAP_LANE),
            (space, off::TRAP_SPACE),
            (offv, off::TRAP_OFFSET),
            (hi, off::TRAP_OFFSET_HI),
        ] {
            self.b.ins().store(fl, v, self.trap, at);
        }
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
            t.write_trap(kind, pc, code, offv, hi);
        });
    }

    /// `if cond { trap(kind, pc) }` for a trap without a memory address, continuing in a
    /// new block.
    pub(super) fn s_trap_plain_if(&mut self, cond: Value, kind: TrapKind, pc: u32) {
        self.s_trap_stub(cond, &mut |t| t.write_plain_trap(kind, pc));
    }

    /// A branch on `cond` to a cold block of its own that writes the trap record (`write`)
    /// and jumps to the trap block: written on the hot path, its constants were put in
    /// registers there (two zeroing instructions at every backward branch's fuel check of a
    /// per-lane loop). Continues in a new block.
    fn s_trap_stub(&mut self, cond: Value, write: &mut dyn FnMut(&mut Self)) {
        let (stub, cont) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(cond, stub, &[], cont, &[]);
        self.enter(stub);
        self.b.set_cold_block(stub);
        write(self);
        self.b.ins().jump(self.trap_blk, &[]);
        self.enter(cont);
    }

    /// [`Tr::write_trap`] without a memory address (space and offset 0).
    fn write_plain_trap(&mut self, kind: TrapKind, pc: u32) {
        let z32 = self.b.ins().iconst(types::I32, 0);
        let z64 = self.b.ins().iconst(types::I64, 0);
        self.write_trap(kind, pc, z32, z64, None);
    }

    pub(super) fn s_trap_now(&mut self, kind: TrapKind, pc: u32) {
        self.write_plain_trap(kind, pc);
        self.b.ins().jump(self.trap_blk, &[]);
    }
}
