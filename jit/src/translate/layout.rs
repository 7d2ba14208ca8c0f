//! The per-thread scratch memory's layout ([`ScratchLayout`]) and the records in it: the
//! per-lane function's [`call`] record, the [`launch`] record and the phased strategy's
//! lane [`status`] words.

use holovm_isa::Program;

use super::CALL_STACK_DEPTH;

/// Where things live in the per-thread scratch memory handed to the compiled function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScratchLayout {
    /// Bytes of shared memory (the program's `.shared`), at offset 0.
    pub shared_bytes: u32,
    /// Lanes per register in the register file (the vector group size, or 1024 when the
    /// whole block is saved at barriers).
    pub stride: u32,
    /// Offset of the spill register file: `regs * stride` u64 slots, register-major.
    pub regfile: u32,
    /// Offset of the spill predicate file: `preds * stride` u64 slots.
    pub predfile: u32,
    /// Vector strategy (not phased): per lane of the group (u64 x `stride`), the fuel it has
    /// beyond the group's after masked loops it left early (vector/masked_loop.rs).
    pub bonus: u32,
    /// Phased strategy: per-lane status words (u32 x 1024).
    pub lane_status: u32,
    /// Phased strategy: per-lane resume pcs (u32 x 1024).
    pub lane_pc: u32,
    /// Phased strategy: per-lane fuel left (u64 x 1024).
    pub lane_fuel: u32,
    /// Phased strategy: per-lane call depth (u32 x 1024), kept for programs with calls only.
    pub lane_depth: u32,
    /// Phased strategy with vector code: per vector group, at its first lane's entry
    /// (u32 x 1024), 1 when the vector code parked the whole group at a barrier and no lane
    /// of it has run scalar code since, 2 when it left the group to scalar code (see
    /// [`Tr::group_parked_slot`](super::Tr::group_parked_slot)).
    pub group_parked: u32,
    /// Phased strategy with calls: per-lane call stacks (64 x u32 each).
    pub lane_stack: u32,
    /// The arguments and results of a call to a vector kernel's per-lane function
    /// ([`call`] gives the fields).
    pub call: u32,
    /// The launch record ([`launch`] gives the fields): values the kernel computes once
    /// on entry. The per-lane function loads them where it uses them, as the vector code
    /// does its limits, so that no register holds them through the whole function
    /// (long-lived values are most of the register allocator's work); the kernel keeps its
    /// own copies of the others ([`Tr::held`](super::Tr::held)).
    pub launch: u32,
    /// Total bytes.
    pub total: u32,
}

/// The call record of a vector kernel's per-lane function (offsets from
/// [`ScratchLayout::call`]): the kernel writes the arguments, the function the results.
pub(crate) mod call {
    /// Argument: the block (`I32`).
    pub const BLOCK: i32 = 0;
    /// Argument: the first lane to run (`I32`).
    pub const LANE_LO: i32 = 4;
    /// Argument: the lane to stop at (`I32`).
    pub const LANE_HI: i32 = 8;
    /// Argument: 1 when the lanes resume after a vector bail-out (`I8`).
    pub const RESUMED: i32 = 12;
    /// Argument: the pc they resume at (`I32`).
    pub const BAIL_PC: i32 = 16;
    /// Argument: the first lane of the bailing group (`I32`).
    pub const LANE0: i32 = 20;
    /// Argument: the fuel they have left (`I64`).
    pub const BAIL_FUEL: i32 = 24;
    /// Result: 0 (the lanes ran), 1 (trapped; the record is written) or 2 (internal
    /// error) (`I32`).
    pub const CODE: i32 = 32;
    /// Result, phased strategy: the new end of the lanes that may run, the lowest lane that
    /// trapped (`I32`).
    pub const END: i32 = 36;
    /// The kernel's `LaunchEnv` pointer, saved on entry so that no register holds it
    /// through the kernel (`I64`).
    pub const ENV: i32 = 40;
    /// The launch's grid and block sizes (`I32` each), saved on the kernel's entry for the
    /// per-lane function's `%gdim` and `%bdim`: read from memory where it reads them, values
    /// derived from them stay where the program computes them (Cranelift's optimiser
    /// would recompute a product of the two entry values inside loops).
    pub const GRID: i32 = 48;
    /// See [`GRID`].
    pub const BLOCK_DIM: i32 = 52;
    /// Phased vector kernels, the kernel's own word: the lowest lane the phase's scalar
    /// loop must look at (`I32`, see [`Tr::scan_reset`](crate::translate::Tr)).
    pub const SCAN: i32 = 56;
    /// Phased vector kernels: the first lane of the next vector group that may continue
    /// the chain of a float `reduce.add`/`reduce.mul` ([`FOLD`]; `I32`, 0 when a phase
    /// starts; see vector/fold_ahead.rs).
    pub const FOLD_NEXT: i32 = 60;
    /// Phased vector kernels: the chain's value so far, over the lanes below
    /// [`FOLD_NEXT`] (`F32` or `F64`).
    pub const FOLD: i32 = 64;
    /// Phased vector kernels, the kernel's own word: the block's limit of full vector
    /// groups (`I32`), loaded at each group head rather than carried through the vector
    /// code in a register.
    pub const VLIMIT: i32 = 72;
    /// Phased vector kernels, the kernel's own word: 0 in a block's first phase, 1 in the
    /// later ones (`I8`), read at each group head.
    pub const VPHASE: i32 = 76;
    /// Phased vector kernels, the kernel's own word: the end of the lanes that may run,
    /// the lowest lane that trapped (`I32`): the variable's value between phases, read by
    /// the group loop's resume checks and where the next phase's scalar loop starts.
    pub const LANES_END: i32 = 80;
    /// Phased vector kernels, the kernel's own word: its trap record's address (`I64`),
    /// for the calls, rather than a register held from the entry.
    pub const TRAP: i32 = 88;
    /// Vector kernels with partial groups, the kernel's own word: the current vector
    /// group's last lane in the block, counted from its first (`I32`: `G - 1` for a full
    /// group, less for a partial one; vector/partial.rs), written at the group head of a
    /// group that runs or resumes vector code and read where it decides, rather than held
    /// in a register through the vector code.
    pub const VLAST: i32 = 96;
    /// Vector kernels with partial groups, the kernel's own word: the current vector
    /// group's phantom lanes as bits (`I64`: bit `l` for lane `l` of the group; 0 for
    /// a full group), written with [`VLAST`] and read by stores, which write the other
    /// lanes only (vector/partial.rs).
    pub const VPHANTOM: i32 = 104;
    /// Bytes of the record: a multiple of 64, so that the launch record after it starts a
    /// cache line.
    pub const SIZE: u32 = 128;
}

/// The launch record (offsets from [`ScratchLayout::launch`]), written on the kernel's
/// entry; the per-lane function reads it too.
pub(crate) mod launch {
    /// The parameter slots' address (`I64`).
    pub const PARAMS: i32 = 0;
    /// The pool's base address (`I64`).
    pub const POOL: i32 = 8;
    /// The pool's length in bytes (`I64`).
    pub const POOL_LEN: i32 = 16;
    /// Each lane's fuel budget, at most 2^63 - 1 (`I64`).
    pub const FUEL: i32 = 24;
    /// Vector strategies: 1 when a block's partial last group may run as vector code
    /// (`vector/tail.rs`), else 0 (`I8`).
    pub const RERUN: i32 = 32;
    /// Kernels that run blocks in runs (`translate/block_runs.rs`): the blocks of a whole
    /// run (`I32`),
    pub const RUN_BLOCKS: i32 = 36;
    /// the first block after the current run (`I32`)
    pub const RUN_END: i32 = 40;
    /// the current run's lanes (`I32`)
    pub const RUN_LANES: i32 = 44;
    /// and the end of the kernel's block range (`I32`).
    pub const RUN_HI: i32 = 48;
    /// Vector strategies: the launch's bounds-check limits, 8 bytes each (see
    /// [`Tr::emit_limits`](crate::translate::Tr)).
    pub const LIMITS: i32 = 56;
}

/// Lane status words of the phased strategy.
pub(crate) mod status {
    /// Not started: runs from pc 0 with zeroed registers.
    pub const FRESH: i64 = 0;
    /// Released from a barrier: resumes at its saved pc.
    pub const READY: i64 = 1;
    /// Waiting at the barrier at its saved pc.
    pub const WAIT: i64 = 2;
    /// Exited (or trapped).
    pub const DONE: i64 = 3;
}

impl ScratchLayout {
    /// Offset of register `r`'s slots in the spill register file (`stride` lanes of 8
    /// bytes each; a 4-byte register uses the first half of its room).
    pub(crate) fn reg_offset(&self, r: usize) -> u32 {
        self.regfile + r as u32 * self.stride * 8
    }

    pub(crate) fn new(program: &Program, group: u32, phased: bool, has_call: bool) -> Self {
        let shared_bytes = program.shared_bytes();
        let stride = if phased {
            holovm_isa::MAX_BLOCK
        } else {
            group.max(1)
        };
        let regfile = shared_bytes.div_ceil(64) * 64;
        let predfile = regfile + program.num_regs() as u32 * stride * 8;
        let bonus = predfile + program.num_preds() as u32 * stride * 8;
        let mut end = bonus + if phased { 0 } else { stride * 8 };
        let (mut lane_status, mut lane_pc, mut lane_fuel) = (0, 0, 0);
        let (mut lane_depth, mut group_parked, mut lane_stack) = (0, 0, 0);
        if phased {
            let lanes = holovm_isa::MAX_BLOCK;
            lane_status = end.div_ceil(64) * 64;
            lane_pc = lane_status + lanes * 4;
            lane_fuel = lane_pc + lanes * 4;
            lane_depth = lane_fuel + lanes * 8;
            group_parked = lane_depth + lanes * 4;
            lane_stack = group_parked + lanes * 4;
            end = lane_stack
                + if has_call {
                    lanes * CALL_STACK_DEPTH * 4
                } else {
                    0
                };
        }
        let call = end.div_ceil(64) * 64;
        let launch = call + call::SIZE;
        end = launch + launch::LIMITS as u32 + 8 * crate::vector::limit_slots(program);
        ScratchLayout {
            shared_bytes,
            stride,
            regfile,
            predfile,
            bonus,
            lane_status,
            lane_pc,
            lane_fuel,
            lane_depth,
            group_parked,
            lane_stack,
            call,
            launch,
            total: end.max(64),
        }
    }
}
