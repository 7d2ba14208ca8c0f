//! Buffer storage: the generation-checked buffer table, typed and untyped handles, and the
//! boundary pool.

use std::alloc::{self, Layout};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use holovm_isa::{Ty, POOL_BYTES};

use crate::{Element, Error};

/// Alignment of every buffer, of the pool and of shared memory (docs/ISA.md, section 5.1).
pub(crate) const ALIGN: usize = 64;

/// A zero-initialised heap allocation aligned to [`ALIGN`] bytes, owned like a `Box<[u8]>`.
pub(crate) struct Storage {
    ptr: NonNull<u8>,
    bytes: usize,
}

#[repr(C, align(64))]
struct Align64([u8; ALIGN]);

impl Storage {
    /// Allocates `bytes` zero bytes; `None` when the size is too large for a `Layout` or the
    /// allocator refuses.
    pub(crate) fn zeroed(bytes: usize) -> Option<Storage> {
        if bytes == 0 {
            return Some(Storage {
                ptr: NonNull::<Align64>::dangling().cast(),
                bytes: 0,
            });
        }
        let layout = Layout::from_size_align(bytes, ALIGN).ok()?;
        // SAFETY: `layout` has a non-zero size (checked above).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        NonNull::new(ptr).map(|ptr| Storage { ptr, bytes })
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.bytes
    }

    /// The base address, for the interpreter's raw accesses.
    pub(crate) fn base(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for reads of `bytes` initialised (zeroed at allocation) bytes
        // for as long as `self` lives, and is aligned (a byte pointer). The interpreter only
        // touches the memory while it holds `&mut self` through the VM lock, so no write
        // happens while this shared borrow lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.bytes) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.bytes) }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if self.bytes != 0 {
            // SAFETY: allocated in `zeroed` with exactly this size and alignment (the layout
            // was valid then, so it is now).
            unsafe {
                alloc::dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.bytes, ALIGN),
                )
            }
        }
    }
}

// SAFETY: `Storage` uniquely owns its allocation, like `Box<[u8]>`; it has no interior
// mutability and no thread affinity.
unsafe impl Send for Storage {}
// SAFETY: shared access only reads through `as_slice`, like `&Box<[u8]>`.
unsafe impl Sync for Storage {}

/// An untyped buffer handle: the buffer's `Vm`, slot, generation, element type and length.
///
/// Get one from [`Buffer::any`] or [`Vm::alloc_any`](crate::Vm::alloc_any). It is `Copy`;
/// using it after the buffer was freed, or with another `Vm`, is an
/// [`Error::InvalidHandle`], never undefined behaviour.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnyBuffer {
    pub(crate) vm: u64,
    pub(crate) slot: u32,
    pub(crate) generation: u32,
    pub(crate) ty: Ty,
    pub(crate) len: usize,
}

impl AnyBuffer {
    /// The element type.
    pub fn ty(&self) -> Ty {
        self.ty
    }

    /// Length in elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Length in bytes.
    pub fn bytes(&self) -> usize {
        self.len * self.ty.size() as usize
    }

    /// The typed handle, if the element type is `T`; otherwise [`Error::TypeMismatch`].
    ///
    /// ```
    /// use holovm::{isa::Ty, Error, Vm};
    /// let vm = Vm::new();
    /// let any = vm.alloc_any(Ty::F32, 8)?;
    /// assert!(any.typed::<f32>().is_ok());
    /// assert!(matches!(any.typed::<u32>(), Err(Error::TypeMismatch { .. })));
    /// # Ok::<(), holovm::Error>(())
    /// ```
    pub fn typed<T: Element>(self) -> Result<Buffer<T>, Error> {
        if self.ty != T::TY {
            return Err(Error::TypeMismatch {
                expected: self.ty,
                found: T::TY,
            });
        }
        Ok(Buffer {
            raw: self,
            _ty: PhantomData,
        })
    }
}

impl fmt::Debug for AnyBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AnyBuffer(vm {}, slot {}, gen {}, {} x {})",
            self.vm, self.slot, self.generation, self.len, self.ty
        )
    }
}

/// A typed handle to a buffer of `T` elements owned by a [`Vm`](crate::Vm).
///
/// Handles are small `Copy` values checked on every use: after [`Vm::free`](crate::Vm::free),
/// or with another `Vm`, an operation returns [`Error::InvalidHandle`]. Bind a buffer to a
/// program's `.param NAME: ptr T` with [`Arg::from`](crate::Arg).
///
/// ```
/// use holovm::Vm;
/// let vm = Vm::new();
/// let buf = vm.alloc_from(&[1.0f32, 2.0, 3.0])?;
/// assert_eq!(buf.len(), 3);
/// vm.write(&buf, &[4.0, 5.0, 6.0])?;
/// assert_eq!(vm.read(&buf)?, vec![4.0, 5.0, 6.0]);
/// vm.free(buf)?;
/// assert!(vm.read(&buf).is_err()); // freed: an error, not undefined behaviour
/// # Ok::<(), holovm::Error>(())
/// ```
pub struct Buffer<T: Element> {
    raw: AnyBuffer,
    _ty: PhantomData<fn() -> T>,
}

impl<T: Element> Buffer<T> {
    pub(crate) fn from_raw(raw: AnyBuffer) -> Self {
        debug_assert_eq!(raw.ty, T::TY);
        Buffer {
            raw,
            _ty: PhantomData,
        }
    }

    /// Length in elements.
    pub fn len(&self) -> usize {
        self.raw.len
    }

    /// True when the buffer has no elements.
    pub fn is_empty(&self) -> bool {
        self.raw.len == 0
    }

    /// The untyped handle.
    pub fn any(&self) -> AnyBuffer {
        self.raw
    }
}

impl<T: Element> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Element> Copy for Buffer<T> {}

impl<T: Element> PartialEq for Buffer<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<T: Element> Eq for Buffer<T> {}

impl<T: Element> std::hash::Hash for Buffer<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state)
    }
}

impl<T: Element> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Buffer<{}>(vm {}, slot {}, gen {}, len {})",
            T::TY,
            self.raw.vm,
            self.raw.slot,
            self.raw.generation,
            self.raw.len
        )
    }
}

impl<T: Element> From<Buffer<T>> for AnyBuffer {
    fn from(b: Buffer<T>) -> AnyBuffer {
        b.raw
    }
}

impl<T: Element> From<&Buffer<T>> for AnyBuffer {
    fn from(b: &Buffer<T>) -> AnyBuffer {
        b.raw
    }
}

/// A live buffer.
pub(crate) struct Entry {
    pub(crate) ty: Ty,
    pub(crate) len: usize,
    pub(crate) storage: Storage,
}

struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

/// The buffer table and the boundary pool of one VM.
pub(crate) struct Memory {
    vm: u64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    pub(crate) pool: Storage,
}

impl Memory {
    pub(crate) fn new(vm: u64) -> Memory {
        // The pool is a fixed 1.1 MiB; failing to allocate it is an out-of-memory condition
        // like any `Vec` growth.
        let pool = Storage::zeroed(POOL_BYTES as usize)
            .unwrap_or_else(|| alloc::handle_alloc_error(pool_layout()));
        Memory {
            vm,
            slots: Vec::new(),
            free: Vec::new(),
            pool,
        }
    }

    pub(crate) fn alloc(&mut self, ty: Ty, len: usize) -> Result<AnyBuffer, Error> {
        let fail = |reason| Error::Alloc {
            elements: len,
            ty,
            reason,
        };
        let bytes = len
            .checked_mul(ty.size() as usize)
            .filter(|&b| b <= isize::MAX as usize - ALIGN)
            .ok_or_else(|| fail("more bytes than an allocation can have (isize::MAX)"))?;
        let storage =
            Storage::zeroed(bytes).ok_or_else(|| fail("the system allocator refused it"))?;
        let entry = Entry { ty, len, storage };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize].entry = Some(entry);
                s
            }
            None => {
                let s = u32::try_from(self.slots.len())
                    .map_err(|_| fail("the VM holds 2^32 buffers, as many as handles name"))?;
                self.slots.push(Slot {
                    generation: 0,
                    entry: Some(entry),
                });
                s
            }
        };
        let generation = self.slots[slot as usize].generation;
        Ok(AnyBuffer {
            vm: self.vm,
            slot,
            generation,
            ty,
            len,
        })
    }

    /// The live entry of a handle; `InvalidHandle` for a freed or foreign one.
    pub(crate) fn entry(&self, h: &AnyBuffer) -> Result<&Entry, Error> {
        if h.vm != self.vm {
            return Err(Error::InvalidHandle);
        }
        match self.slots.get(h.slot as usize) {
            Some(Slot {
                generation,
                entry: Some(e),
            }) if *generation == h.generation && e.ty == h.ty && e.len == h.len => Ok(e),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// [`Memory::entry`], mutable (one table lookup: every launch binds its buffers with it).
    #[inline]
    pub(crate) fn entry_mut(&mut self, h: &AnyBuffer) -> Result<&mut Entry, Error> {
        if h.vm != self.vm {
            return Err(Error::InvalidHandle);
        }
        match self.slots.get_mut(h.slot as usize) {
            Some(Slot {
                generation,
                entry: Some(e),
            }) if *generation == h.generation && e.ty == h.ty && e.len == h.len => Ok(e),
            _ => Err(Error::InvalidHandle),
        }
    }

    pub(crate) fn free(&mut self, h: &AnyBuffer) -> Result<(), Error> {
        self.entry(h)?;
        let slot = &mut self.slots[h.slot as usize];
        slot.entry = None;
        // A slot whose generation would wrap is retired, so no stale handle can ever match a
        // later buffer.
        if let Some(g) = slot.generation.checked_add(1) {
            slot.generation = g;
            self.free.push(h.slot);
        }
        Ok(())
    }

    /// Number of live buffers.
    pub(crate) fn live(&self) -> usize {
        self.slots.iter().filter(|s| s.entry.is_some()).count()
    }
}

fn pool_layout() -> Layout {
    Layout::from_size_align(POOL_BYTES as usize, ALIGN).unwrap_or(Layout::new::<Align64>())
}
