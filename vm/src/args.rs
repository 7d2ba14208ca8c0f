//! Launch arguments: [`Arg`], the [`args!`](macro@crate::args) macro, and binding them to a
//! program's parameters.

use holovm_isa::{Param, ParamKind, Ty};

use crate::interp::mem::Region;
use crate::memory::{AnyBuffer, Buffer, Memory};
use crate::{Element, Error};

/// A launch argument: a buffer for a `.param NAME: ptr T`, or a scalar for a `.param NAME: T`.
///
/// Build one with `Arg::from`: from `&Buffer<T>`, `Buffer<T>`, `AnyBuffer`, or a value of an
/// [`Element`] type. A scalar's Rust type must be exactly the declared type (`7u32` for a
/// `u32` parameter; a bare `7` is an `i32`). The [`args!`](macro@crate::args) macro converts a
/// list.
///
/// ```
/// use holovm::{Arg, Vm};
/// let vm = Vm::new();
/// let buf = vm.alloc::<f32>(4)?;
/// let args = [Arg::from(&buf), Arg::from(4u32), Arg::from(0.5f32)];
/// assert!(matches!(args[1], Arg::Scalar { .. }));
/// # Ok::<(), holovm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A buffer.
    Buffer(AnyBuffer),
    /// A scalar of type `ty`, as its zero-extended bit pattern.
    Scalar {
        /// The scalar's type.
        ty: Ty,
        /// Its bits, zero-extended to 64.
        bits: u64,
    },
}

impl Arg {
    /// A scalar argument.
    pub fn scalar<T: Element>(v: T) -> Arg {
        Arg::Scalar {
            ty: T::TY,
            bits: v.to_bits(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Arg::Buffer(b) => format!("a buffer of {}", b.ty),
            Arg::Scalar { ty, .. } => format!("a scalar {ty}"),
        }
    }
}

impl<T: Element> From<&Buffer<T>> for Arg {
    fn from(b: &Buffer<T>) -> Arg {
        Arg::Buffer(b.any())
    }
}

impl<T: Element> From<Buffer<T>> for Arg {
    fn from(b: Buffer<T>) -> Arg {
        Arg::Buffer(b.any())
    }
}

impl From<AnyBuffer> for Arg {
    fn from(b: AnyBuffer) -> Arg {
        Arg::Buffer(b)
    }
}

impl From<&AnyBuffer> for Arg {
    fn from(b: &AnyBuffer) -> Arg {
        Arg::Buffer(*b)
    }
}

macro_rules! scalar_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::scalar(v)
            }
        }
    )*};
}
scalar_arg!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

/// Converts a list of buffers and scalars to an array of [`Arg`]s.
///
/// ```
/// use holovm::{args, Vm};
/// let vm = Vm::new();
/// let x = vm.alloc::<f32>(16)?;
/// let a = args![&x, 16u32, 2.0f32];
/// assert_eq!(a.len(), 3);
/// # Ok::<(), holovm::Error>(())
/// ```
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        [$($crate::Arg::from($a)),*]
    };
}

/// Storage for binding a launch's arguments, kept in the VM's state so a launch allocates
/// nothing once the vectors have grown to the largest parameter count seen (at most
/// `MAX_PARAMS`). Every launch clears and refills what it uses before using it.
#[derive(Default)]
pub(crate) struct Bindings {
    /// Compiled code: one slot per parameter.
    pub(crate) slots: Vec<holovm_jit::ParamSlot>,
    /// Interpreter: per parameter the bound buffer, `None` for scalars.
    pub(crate) spaces: Vec<Option<Region>>,
    /// Interpreter: per parameter the scalar bits, 0 for buffers.
    pub(crate) scalars: Vec<u64>,
    /// Interpreter: the uniform-value table.
    pub(crate) uni: Vec<u64>,
}

// SAFETY: the raw pointers in `slots` and `spaces` are plain addresses of VM-owned memory;
// owning them grants no access. They are only written and dereferenced (by a launch) while
// the VM lock is held, and a launch always rebinds them before use, so stale addresses left
// by an earlier launch are never dereferenced, on this thread or another.
unsafe impl Send for Bindings {}

/// What a buffer argument whose handle was freed or belongs to another VM is.
const STALE: &str = "a buffer handle that was freed or belongs to another Vm";

/// One argument, checked and bound.
pub(crate) enum Bound {
    Buffer(Region),
    Scalar(u64),
}

/// Checks `arg` against parameter `index` (`param`) and binds it: a buffer to its live
/// storage, a scalar to its canonical bits.
#[inline]
pub(crate) fn bind_arg(
    mem: &mut Memory,
    index: usize,
    param: &Param,
    arg: &Arg,
) -> Result<Bound, Error> {
    match (param.kind, arg) {
        (ParamKind::Buffer(ty), Arg::Buffer(h)) if h.ty == ty => {
            let storage = &mut mem
                .entry_mut(h)
                .map_err(|_| arg_error(index, param, STALE.into()))?
                .storage;
            Ok(Bound::Buffer(Region {
                len: storage.len() as u64,
                base: storage.base(),
            }))
        }
        (ParamKind::Scalar(ty), Arg::Scalar { ty: t, bits }) if *t == ty => {
            Ok(Bound::Scalar(ty.canon(*bits)))
        }
        _ => Err(arg_error(index, param, arg.describe())),
    }
}

/// Parameter `index` (`param`) cannot take `found`.
#[cold]
#[inline(never)]
fn arg_error(index: usize, param: &Param, found: String) -> Error {
    Error::Arg {
        index,
        name: param.name.clone(),
        expected: match param.kind {
            ParamKind::Buffer(ty) => format!("a buffer of {ty}"),
            ParamKind::Scalar(ty) => format!("a scalar {ty}"),
        },
        found,
    }
}
