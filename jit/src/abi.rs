//! The launch ABI shared by the VM and the compiled code: what the VM passes in
//! ([`LaunchEnv`], [`ParamSlot`]) and what the compiled code reports back ([`TrapRecord`]).
//!
//! Compiled code never embeds a buffer address, a length or a scalar value: it reads them from
//! the [`LaunchEnv`] of each launch, so one compilation serves every launch of a program.

/// One launch parameter, in declaration order.
///
/// For a buffer parameter `ptr` points to `len` bytes that stay valid (and are not accessed
/// through Rust references) for the whole launch; `scalar` is ignored. For a scalar parameter
/// `ptr` is null, `len` is 0 and `scalar` holds the value's bit pattern in its type,
/// zero-extended to 64 bits (like an immediate: `-1i32` is `0xffff_ffff`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ParamSlot {
    /// Base address of the buffer (64-byte aligned per docs/ISA.md), or null for scalars.
    pub ptr: *mut u8,
    /// Length of the buffer in bytes; 0 for scalars.
    pub len: u64,
    /// The scalar value bits; 0 for buffers.
    pub scalar: u64,
}

impl ParamSlot {
    /// A buffer parameter over `len` bytes at `ptr`.
    pub fn buffer(ptr: *mut u8, len: usize) -> Self {
        ParamSlot {
            ptr,
            len: len as u64,
            scalar: 0,
        }
    }

    /// A scalar parameter with the given bits (already canonical for its type).
    pub fn scalar(bits: u64) -> Self {
        ParamSlot {
            ptr: std::ptr::null_mut(),
            len: 0,
            scalar: bits,
        }
    }
}

/// Everything a launch passes to compiled code.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LaunchEnv {
    /// `num_params` parameter slots, in declaration order.
    pub params: *const ParamSlot,
    /// Number of slots behind `params`; must equal the program's parameter count.
    pub num_params: u32,
    /// The boundary pool (64-byte aligned), valid for `pool_len` bytes; may be null when
    /// `pool_len` is 0 (every pool access is then out of bounds).
    pub pool: *mut u8,
    /// Length of the pool in bytes (normally `holovm_isa::POOL_BYTES`).
    pub pool_len: u64,
    /// Blocks in the grid (`%gdim`).
    pub grid: u32,
    /// Lanes per block (`%bdim`), 1..=1024.
    pub block: u32,
    /// Fuel per lane (docs/ISA.md section 7).
    pub fuel: u64,
}

/// Where the compiled code reports a trap. `kind == 0` means no trap.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapRecord {
    /// A [`TrapKind`] code, or 0 when nothing trapped.
    pub kind: u32,
    /// The trapping instruction's index (for `fell off the end`: the number of instructions).
    pub pc: u32,
    /// The block of the trapping lane (`%block`).
    pub block: u32,
    /// The trapping lane within its block (`%lane`).
    pub lane: u32,
    /// For memory traps: the parameter index, [`SPACE_POOL`], [`SPACE_SHARED`], or for a
    /// register-indirect access the raw high half of the pointer. 0 for other traps.
    pub space: u32,
    /// For memory traps: the low 64 bits of the exact byte offset of the access within its
    /// space (offset arithmetic never wraps, docs/ISA.md section 6). 0 for other traps.
    pub offset: u64,
    /// The high 64 bits of the exact offset as a signed 128-bit number: 0 for offsets in
    /// `0..2^64`, -1 for small negative ones (`[r5 - 8]`), positive for huge ones
    /// (`[a + r3*8]` with `r3 >= 2^61`). See [`TrapRecord::exact_offset`].
    pub offset_hi: i64,
}

impl TrapRecord {
    /// The decoded trap kind, if a trap was recorded.
    pub fn trap_kind(&self) -> Option<TrapKind> {
        TrapKind::from_code(self.kind)
    }

    /// The exact byte offset of a memory trap (as the interpreter computes it, in `i128`).
    pub fn exact_offset(&self) -> i128 {
        ((self.offset_hi as i128) << 64) | self.offset as i128
    }
}

/// `TrapRecord::space` for the boundary pool (also the handle half of a pool pointer).
pub const SPACE_POOL: u32 = u32::MAX;
/// `TrapRecord::space` for the block's shared memory.
pub const SPACE_SHARED: u32 = u32::MAX - 1;

/// The trap kinds of docs/ISA.md section 7; their codes go in `TrapRecord::kind`.
pub use holovm_isa::TrapKind;

/// Byte offsets of the `#[repr(C)]` fields the compiled code reads and writes.
pub(crate) mod off {
    use super::{LaunchEnv, ParamSlot, TrapRecord};
    use std::mem::offset_of;

    pub const SLOT_SIZE: i32 = std::mem::size_of::<ParamSlot>() as i32;
    pub const SLOT_PTR: i32 = offset_of!(ParamSlot, ptr) as i32;
    pub const SLOT_LEN: i32 = offset_of!(ParamSlot, len) as i32;
    pub const SLOT_SCALAR: i32 = offset_of!(ParamSlot, scalar) as i32;

    pub const ENV_PARAMS: i32 = offset_of!(LaunchEnv, params) as i32;
    pub const ENV_POOL: i32 = offset_of!(LaunchEnv, pool) as i32;
    pub const ENV_POOL_LEN: i32 = offset_of!(LaunchEnv, pool_len) as i32;
    pub const ENV_GRID: i32 = offset_of!(LaunchEnv, grid) as i32;
    pub const ENV_BLOCK: i32 = offset_of!(LaunchEnv, block) as i32;
    pub const ENV_FUEL: i32 = offset_of!(LaunchEnv, fuel) as i32;

    pub const TRAP_KIND: i32 = offset_of!(TrapRecord, kind) as i32;
    pub const TRAP_PC: i32 = offset_of!(TrapRecord, pc) as i32;
    pub const TRAP_BLOCK: i32 = offset_of!(TrapRecord, block) as i32;
    pub const TRAP_LANE: i32 = offset_of!(TrapRecord, lane) as i32;
    pub const TRAP_SPACE: i32 = offset_of!(TrapRecord, space) as i32;
    pub const TRAP_OFFSET: i32 = offset_of!(TrapRecord, offset) as i32;
    pub const TRAP_OFFSET_HI: i32 = offset_of!(TrapRecord, offset_hi) as i32;
}
