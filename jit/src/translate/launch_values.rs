//! The launch's values, held since the function's entry ([`Tr::held`]), and the parameters'
//! slots.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

use super::Tr;
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

    /// The address of the launch's parameter slots (`I64`).
    pub(super) fn params_ptr(&mut self) -> Value {
        self.held.params
    }

    /// The pool's base address (`I64`).
    pub(super) fn pool_ptr(&mut self) -> Value {
        self.held.pool
    }

    /// The pool's length in bytes (`I64`).
    pub(super) fn pool_len(&mut self) -> Value {
        self.held.pool_len
    }

    /// The launch's fuel budget per lane (`I64`).
    pub(crate) fn fuel(&mut self) -> Value {
        self.held.fuel
    }

    /// `%bdim` (`I32`).
    pub(crate) fn bdim(&mut self) -> Value {
        self.held.bdim
    }

    /// `%gdim` (`I32`).
    pub(crate) fn gdim(&mut self) -> Value {
        self.held.gdim
    }
}
