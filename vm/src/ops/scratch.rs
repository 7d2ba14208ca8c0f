//! Temporary buffers of multi-pass operations, freed when the operation returns (also on
//! errors).

use crate::{Buffer, Element, Error, Vm};

/// A buffer of the VM that lives as long as this guard.
pub(crate) struct Scratch<'vm, T: Element> {
    vm: &'vm Vm,
    buf: Buffer<T>,
}

impl<'vm, T: Element> Scratch<'vm, T> {
    /// A zeroed buffer of `len` elements.
    pub fn new(vm: &'vm Vm, len: usize) -> Result<Self, Error> {
        Ok(Scratch {
            vm,
            buf: vm.alloc(len)?,
        })
    }

    /// The buffer.
    pub fn buf(&self) -> &Buffer<T> {
        &self.buf
    }
}

impl<T: Element> Drop for Scratch<'_, T> {
    fn drop(&mut self) {
        // The handle is ours and live; freeing cannot fail short of a bug, and there is
        // nothing useful to do with such an error in a destructor.
        let _ = self.vm.free(self.buf);
    }
}
