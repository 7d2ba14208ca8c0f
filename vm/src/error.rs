//! Errors of the embedding API and traps of launches.

use std::fmt;

use holovm_isa::{Ty, POOL_BYTES, POOL_CLASSES};

/// Everything that can go wrong in a [`Vm`](crate::Vm) call.
///
/// A [`Trap`] is a fault of the running program (docs/ISA.md, section 7); every other variant
/// is a misuse of the API, reported before anything runs. After any error the `Vm` stays
/// usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The launched program trapped.
    #[error("{0}")]
    Trap(Box<Trap>),
    /// The launch got a different number of arguments than the program has parameters.
    #[error("`{kernel}` takes {expected} argument(s), {found} given")]
    ArgCount {
        /// Kernel name.
        kernel: String,
        /// Parameters the program declares.
        expected: usize,
        /// Arguments given.
        found: usize,
    },
    /// A launch argument does not match its parameter: a buffer for a scalar or the reverse,
    /// or another element or scalar type.
    #[error("argument {index} (`{name}`): expected {expected}, found {found}")]
    Arg {
        /// Parameter index.
        index: usize,
        /// Parameter name.
        name: String,
        /// What the parameter declares, e.g. `buffer of f32` or `scalar u32`.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A buffer handle that was freed, or that belongs to another `Vm`.
    #[error("invalid buffer handle: it was freed or belongs to another Vm")]
    InvalidHandle,
    /// A buffer was accessed with another element type than it holds.
    #[error("element type mismatch: the buffer holds {expected}, accessed as {found}")]
    TypeMismatch {
        /// The buffer's element type.
        expected: Ty,
        /// The type it was accessed with.
        found: Ty,
    },
    /// A host slice has another length than the buffer or pool class it is copied to or from.
    #[error("length mismatch: expected {expected} elements, found {found}")]
    LengthMismatch {
        /// Elements of the buffer (or pool class).
        expected: usize,
        /// Elements of the host slice.
        found: usize,
    },
    /// An operation of [`ops`](crate::ops) got operands of the wrong length or shape.
    #[error("{op}: {reason}")]
    Shape {
        /// The operation, e.g. `vector_add`.
        op: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// The launch shape is invalid (see `LaunchConfig::validate`).
    #[error("invalid launch shape: {0}")]
    InvalidLaunch(String),
    /// A boundary pool class outside `0..96`.
    #[error("pool class {class} is out of range (0..{POOL_CLASSES})")]
    PoolClass {
        /// The class asked for.
        class: u32,
    },
    /// A buffer allocation that is too large or that the allocator refused.
    #[error("cannot allocate a buffer of {elements} x {ty} elements: {reason}")]
    Alloc {
        /// Elements asked for.
        elements: usize,
        /// Element type.
        ty: Ty,
        /// Why: more bytes than an allocation can have, the system allocator refused, or
        /// the VM holds as many buffers as it can name.
        reason: &'static str,
    },
    /// The JIT could not compile a program (only [`Vm::jit_dump`](crate::Vm::jit_dump)
    /// reports this: launches fall back to the interpreter).
    #[error("JIT cannot compile `{kernel}`: {message}")]
    Jit {
        /// Kernel name.
        kernel: String,
        /// Why.
        message: String,
    },
    /// The program breaks a rule the interpreter relies on (only possible for programs the
    /// verifier should have rejected).
    #[error("program `{kernel}` cannot run: {message}")]
    InvalidProgram {
        /// Kernel name.
        kernel: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The trap, if this error is one.
    pub fn trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }
}

impl From<Trap> for Error {
    fn from(t: Trap) -> Self {
        Error::Trap(Box::new(t))
    }
}

pub use holovm_isa::TrapKind;

/// The memory space of a faulting access.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Space {
    /// The buffer bound to a buffer parameter.
    Buffer {
        /// Parameter index.
        param: u32,
        /// Parameter name.
        name: String,
        /// Length of the bound buffer in bytes.
        bytes: u64,
    },
    /// The boundary pool.
    Pool,
    /// The block's shared memory.
    Shared {
        /// Shared memory size in bytes (`.shared`).
        bytes: u64,
    },
    /// The high half of a global pointer that names no buffer parameter (a scalar parameter,
    /// or an index at or above the parameter count, other than the pool's `0xffff_ffff`).
    Invalid {
        /// The high 32 bits of the pointer.
        handle: u32,
    },
}

impl Space {
    /// Size of the space in bytes (0 for an invalid space).
    pub fn bytes(&self) -> u64 {
        match self {
            Space::Buffer { bytes, .. } | Space::Shared { bytes } => *bytes,
            Space::Pool => POOL_BYTES as u64,
            Space::Invalid { .. } => 0,
        }
    }
}

/// Where a faulting memory access went.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemAccess {
    /// The space addressed.
    pub space: Space,
    /// The exact byte offset the address computed (it may be negative or far beyond the
    /// space: offset arithmetic never wraps, docs/ISA.md section 6).
    pub offset: i128,
    /// Size of the access in bytes.
    pub size: u32,
}

impl fmt::Display for MemAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte offset {} of ", self.offset)?;
        match &self.space {
            Space::Buffer { name, bytes, .. } => {
                write!(f, "buffer `{name}` (length {bytes} bytes)")
            }
            Space::Pool => write!(f, "the boundary pool (length {POOL_BYTES} bytes)"),
            Space::Shared { bytes } => write!(f, "shared memory (length {bytes} bytes)"),
            Space::Invalid { handle } => write!(
                f,
                "global pointer space {handle:#010x}, which names no buffer parameter"
            ),
        }
    }
}

/// A fault that stopped a launch: its kind and where it happened.
///
/// If several lanes trap, the launch reports the trap of the lowest-numbered block that traps,
/// and within it the lowest-numbered lane among those trapping at the first trapping
/// instruction (docs/ISA.md, section 7).
///
/// ```
/// use holovm::{isa::*, Error, LaunchConfig, TrapKind, Vm};
/// let program = Program::new(ProgramDef {
///     name: "oops".into(),
///     insts: vec![Inst::Mov { ty: Ty::U32, dst: Reg(0), src: Src::Imm(1) }], // no exit
///     ..Default::default()
/// })
/// .unwrap();
/// let vm = Vm::new();
/// let err = vm.launch(&program, LaunchConfig::new(2, 4), &[]).unwrap_err();
/// let trap = err.trap().unwrap();
/// assert_eq!(trap.kind, TrapKind::FellOffEnd);
/// assert_eq!((trap.pc, trap.block, trap.lane), (1, 0, 0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Trap {
    /// What went wrong.
    pub kind: TrapKind,
    /// The instruction index (for `fell off the end`, the number of instructions: the index
    /// the lane ran to).
    pub pc: u32,
    /// The instruction's text (`<end of program>` for `fell off the end`).
    pub inst: String,
    /// The block (`%block`) of the trapping lane.
    pub block: u32,
    /// The lane within its block (`%lane`).
    pub lane: u32,
    /// For `out of bounds` and `misaligned access`: the space and offset accessed.
    pub access: Option<MemAccess>,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} at pc {}, block {}, lane {}",
            self.kind, self.inst, self.pc, self.block, self.lane
        )?;
        if let Some(a) = &self.access {
            write!(f, ": {a}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}
