//! Memory: `copy fill`, for every element type, on buffers and pool classes.
//!
//! ```
//! use holovm::{ops::{memory, Pool}, Vm};
//! let vm = Vm::new();
//! let class = Pool::<u16>::new(5)?; // 6144 u16
//! memory::fill(&vm, &class, 7)?;
//! let buf = vm.alloc::<u16>(6144)?;
//! memory::copy(&vm, &class, &buf)?;
//! assert!(vm.read(&buf)?.iter().all(|&v| v == 7));
//! # Ok::<(), holovm::Error>(())
//! ```

use super::kernel::same_len;
use super::math::{map, unary};
use super::Operand;
use crate::{Arg, Element, Error, Vm};

/// `dst[i] = src[i]` (same length; the same operand is allowed).
pub fn copy<T: Element>(
    vm: &Vm,
    src: &impl Operand<T>,
    dst: &impl Operand<T>,
) -> Result<(), Error> {
    unary(
        vm,
        ("copy", ["src", "dst"]),
        "    mov.{t} r8, r0\n",
        src,
        dst,
    )
}

/// `dst[i] = value` for every element.
pub fn fill<T: Element>(vm: &Vm, dst: &impl Operand<T>, value: T) -> Result<(), Error> {
    let n = same_len("fill", &[("dst", dst.len())])?;
    map::<T>(
        vm,
        "fill",
        &[],
        dst.slot(),
        &[("v", Arg::scalar(value))],
        "    mov.{t} r8, v\n",
        n,
    )
}
