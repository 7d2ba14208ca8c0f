//! The launch's values: the kernel's held copies or loads from the launch record, and
//! the parameters' slots.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};

use super::{call, launch, Held, Tr};
use crate::abi::off;

impl Tr<'_, '_> {
    /// The value bits of scalar parameter `i` (`I64`), loaded from the launch's slots.
    pub(crate) fn param_scalar(&mut self, i: u8) -> Value {
        if i as usize >= self.nparams {
            return self.b.ins().iconst(types::I64, 0);
        }
        self.slot_field(i, off::SLOT_SCALAR)
    }

    /// The 64-bit field at byte `field` (an `off::SLOT_*`) of parameter `i`'s slot.
    pub(crate) fn slot_field(&mut self, i: u8, field: i32) -> Value {
        let o = i as i32 * off::SLOT_SIZE + field;
        let params = self.params_ptr();
        self.b
            .ins()
            .load(types::I64, MemFlagsData::trusted(), params, o)
    }

    /// A launch value: the kernel's copy ([`Tr::held`]), or in the per-lane function loaded
    /// here from scratch offset `at` as `ty`.
    fn launch_value(&mut self, held: fn(&Held) -> Value, ty: Type, at: i32) -> Value {
        match &self.held {
            Some(h) => held(h),
            None => self
                .b
                .ins()
                .load(ty, MemFlagsData::trusted(), self.scratch, at),
        }
    }

    /// The address of the launch's parameter slots (`I64`).
    pub(super) fn params_ptr(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::PARAMS;
        self.launch_value(|h| h.params, types::I64, at)
    }

    /// The pool's base address (`I64`).
    pub(super) fn pool_ptr(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::POOL;
        self.launch_value(|h| h.pool, types::I64, at)
    }

    /// The pool's length in bytes (`I64`).
    pub(super) fn pool_len(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::POOL_LEN;
        self.launch_value(|h| h.pool_len, types::I64, at)
    }

    /// The launch's fuel budget per lane (`I64`).
    pub(crate) fn fuel(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::FUEL;
        self.launch_value(|h| h.fuel, types::I64, at)
    }

    /// `%bdim` (`I32`).
    pub(crate) fn bdim(&mut self) -> Value {
        let at = self.layout.call as i32 + call::BLOCK_DIM;
        self.launch_value(|h| h.bdim, types::I32, at)
    }

    /// `%gdim` (`I32`).
    pub(crate) fn gdim(&mut self) -> Value {
        let at = self.layout.call as i32 + call::GRID;
        self.launch_value(|h| h.gdim, types::I32, at)
    }
}
