//! [`Operand`]: what an operation reads and writes, a buffer or a boundary-pool class.

use std::marker::PhantomData;

use holovm_isa::{POOL_CLASSES, POOL_CLASS_BYTES};

use crate::{Buffer, Element, Error};

pub(crate) mod sealed {
    use crate::AnyBuffer;

    /// Where an operand lives.
    #[derive(Clone, Copy, Debug)]
    pub enum Slot {
        /// A buffer, passed as a launch argument.
        Buffer(AnyBuffer),
        /// A boundary-pool class, addressed with `phi(class, 0, 0)` in the program.
        Pool(u8),
    }

    pub trait Sealed {
        fn slot(&self) -> Slot;
    }
}

pub(crate) use sealed::Slot;

/// An operand of an operation: a [`Buffer<T>`] or a boundary-pool class ([`Pool<T>`]).
///
/// ```
/// use holovm::{ops::{self, Operand, Pool}, Vm};
/// let vm = Vm::new();
/// let class = Pool::<f32>::new(2)?;
/// assert_eq!(class.len(), 3072); // 12288 bytes of f32
/// let buf = vm.alloc_from(&vec![1.5f32; 3072])?;
/// ops::memory::copy(&vm, &buf, &class)?; // buffer -> pool class 2
/// assert_eq!(vm.read_pool::<f32>(2)?[3071], 1.5);
/// # Ok::<(), holovm::Error>(())
/// ```
pub trait Operand<T: Element>: sealed::Sealed {
    /// Length in elements.
    fn len(&self) -> usize;

    /// True when the operand has no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Element> sealed::Sealed for Buffer<T> {
    fn slot(&self) -> Slot {
        Slot::Buffer(self.any())
    }
}

impl<T: Element> Operand<T> for Buffer<T> {
    fn len(&self) -> usize {
        Buffer::len(self)
    }
}

/// A whole boundary-pool class (12,288 bytes) seen as `12288 / size_of::<T>()` elements of
/// `T`. The class is part of the generated program (`phi(class, 0, 0)` addressing), so each
/// class used gets its own cached program.
#[derive(Debug)]
pub struct Pool<T: Element> {
    class: u8,
    _ty: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Pool<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Element> Copy for Pool<T> {}

impl<T: Element> Pool<T> {
    /// Pool class `class` (0..96); [`Error::PoolClass`] otherwise.
    pub fn new(class: u32) -> Result<Self, Error> {
        if class >= POOL_CLASSES {
            return Err(Error::PoolClass { class });
        }
        Ok(Pool {
            class: class as u8,
            _ty: PhantomData,
        })
    }

    /// The class index.
    pub fn class(&self) -> u32 {
        self.class as u32
    }
}

impl<T: Element> sealed::Sealed for Pool<T> {
    fn slot(&self) -> Slot {
        Slot::Pool(self.class)
    }
}

impl<T: Element> Operand<T> for Pool<T> {
    fn len(&self) -> usize {
        (POOL_CLASS_BYTES / T::TY.size()) as usize
    }
}

/// The slot's part of a cache key: `None` for a buffer, the class for a pool class.
pub(crate) fn place(slot: Slot) -> Option<u8> {
    match slot {
        Slot::Buffer(_) => None,
        Slot::Pool(class) => Some(class),
    }
}
