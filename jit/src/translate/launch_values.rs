//! The launch's values, held since the function's entry ([`Tr::held`]), and the parameters'
//! slots.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};

use super::{call, launch, FnKind, Tr};
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

    /// The launch's fuel budget per lane (`I64`). Phased vector kernels load it where
    /// used (each entry into vector code): held from the function's entry, it was live
    /// through every block of the vector code, a cost to the register allocator in each
    /// (softmax_rows' kernel compiled 1.4% fewer instructions). Their other launch values
    /// stay held: `%bdim`, read in the vector code's loops, compiled 5-8% more
    /// instructions loaded where used, the others no fewer.
    pub(crate) fn fuel(&mut self) -> Value {
        if self.phased_vector_kernel() {
            return self.launch_word(types::I64, launch::FUEL);
        }
        self.held.fuel
    }

    /// The trap record's address (`I64`), which phased vector kernels pass to their calls
    /// from the call record ([`call::TRAP`]): held from the entry, it was live through
    /// every block of the vector code.
    pub(crate) fn trap_ptr(&mut self) -> Value {
        match self.phased_vector_kernel() {
            true => self.call_word(types::I64, call::TRAP),
            false => self.trap,
        }
    }

    /// The [`call`] record's word at `field` (one of its offsets), as a `ty`.
    pub(crate) fn call_word(&mut self, ty: Type, field: i32) -> Value {
        self.scratch_word(ty, self.layout.call as i32 + field)
    }

    /// Writes `v` to the [`call`] record's word at `field`.
    pub(crate) fn set_call_word(&mut self, field: i32, v: Value) {
        self.set_scratch_word(self.layout.call as i32 + field, v);
    }

    /// The [`launch`] record's word at `field` (one of its offsets), as a `ty`.
    pub(crate) fn launch_word(&mut self, ty: Type, field: i32) -> Value {
        self.scratch_word(ty, self.layout.launch as i32 + field)
    }

    /// Writes `v` to the [`launch`] record's word at `field`.
    pub(crate) fn set_launch_word(&mut self, field: i32, v: Value) {
        self.set_scratch_word(self.layout.launch as i32 + field, v);
    }

    /// The scratch memory's word at offset `at`, as a `ty`.
    fn scratch_word(&mut self, ty: Type, at: i32) -> Value {
        self.b
            .ins()
            .load(ty, MemFlagsData::trusted(), self.scratch, at)
    }

    /// Writes `v` to the scratch memory's word at offset `at`.
    fn set_scratch_word(&mut self, at: i32, v: Value) {
        self.b
            .ins()
            .store(MemFlagsData::trusted(), v, self.scratch, at);
    }

    /// Whether this is a phased vector kernel, whose group loop runs every phase's vector
    /// code: a value live across it is live through every block of the vector code, a
    /// cost to the register allocator in each, so such kernels keep some values in
    /// memory (the call and launch records) and load them where used.
    pub(crate) fn phased_vector_kernel(&self) -> bool {
        self.phased && self.g > 0 && self.kind == FnKind::Kernel
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
