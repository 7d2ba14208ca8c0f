//! Runs of blocks: a vector kernel whose program cannot tell its blocks apart runs
//! consecutive blocks as one longer block, so that its vector groups span block boundaries.
//!
//! Groups are cut from a block's lanes, so a block of fewer lanes than a group (16 lanes,
//! groups of 32) never filled one and ran every lane in the per-lane code, and a block that
//! is not a multiple of the group (100 lanes) ran its last lanes there (vector_add at 64K
//! lanes: 8.0 us with blocks of 256, 123 us with blocks of 16). A program that reads
//! neither `%lane` nor `%block`, has no shared memory and no barriers
//! ([`holovm_isa::Program::ignores_blocks`]) sees only `%gid`,
//! `%bdim` and `%gdim`, which do not depend on where a block ends: lane `l` of a run
//! starting at block `b` is `%gid = b * bdim + l`, as it would be in its own block. Lanes
//! still run in `%gid` order where they may trap, so the first trap is the same; its record
//! names the run's first block and the lane within the run, which
//! [`remap_trap`] turns back into the lane's own block and lane.
//!
//! A run is whole blocks, [`RUN_LANES`] lanes or more and fewer than twice that, or what is
//! left of the kernel's block range.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use holovm_isa::block_and_lane;

use super::{launch, Tr};
use crate::abi::TrapRecord;

/// Lanes a run covers at least (runs stay under twice this, so lane indices within a run
/// never come near overflow).
const RUN_LANES: i64 = 2048;

/// Turns the trap record of a kernel that runs blocks in runs (block = the run's first
/// block, lane = the lane within the run) into the trapping lane's own block and lane, for
/// blocks of `bdim` lanes. Records without a trap are left as they are.
pub(crate) fn remap_trap(trap: &mut TrapRecord, bdim: u32) {
    if trap.kind == 0 {
        return;
    }
    let gid = u64::from(trap.block) * u64::from(bdim) + u64::from(trap.lane);
    (trap.block, trap.lane) = block_and_lane(gid, bdim);
}

impl Tr<'_, '_> {
    /// On the kernel's entry: the blocks of a whole run and the range's end, in the launch
    /// record. (Computed where each block starts and held in registers, they made the
    /// register allocator spill a value in the group loop: relu 6-20% slower.)
    pub(super) fn store_run_shape(&mut self) {
        if !self.runs {
            return;
        }
        // RUN_LANES / 2^floor(log2(bdim)) blocks: runs of RUN_LANES to 2 * RUN_LANES - 1
        // lanes, without a division on every launch. (bdim is 1..=1024: run_blocks checks
        // it before the call.)
        let bdim = self.bdim();
        let zeros = self.b.ins().clz(bdim);
        let k31 = self.b.ins().iconst(types::I32, 31);
        let log2 = self.b.ins().isub(k31, zeros);
        let most = self.b.ins().iconst(types::I32, RUN_LANES);
        let per_run = self.b.ins().ushr(most, log2);
        // At least one block (a run of none would never end).
        let one = self.b.ins().iconst(types::I32, 1);
        let per_run = self.b.ins().umax(per_run, one);
        self.set_launch_word(launch::RUN_BLOCKS, per_run);
        self.set_launch_word(launch::RUN_HI, self.block_hi);
    }

    /// The end of the kernel's block range (`I32`).
    pub(super) fn range_end(&mut self) -> Value {
        if self.runs {
            return self.launch_word(types::I32, launch::RUN_HI);
        }
        self.block_hi
    }

    /// At the start of a block: for a kernel that runs blocks in runs, the run's end and
    /// lanes from the current block `blk` and the range's end, kept in the launch record
    /// (read once a run; in registers, they cost the group loop a spill and a reload).
    pub(super) fn start_run(&mut self) {
        if !self.runs {
            return;
        }
        let blk = self.b.use_var(self.blk);
        let bdim = self.bdim();
        let per_run = self.launch_word(types::I32, launch::RUN_BLOCKS);
        let hi = self.range_end();
        let left = self.b.ins().isub(hi, blk);
        let n = self.b.ins().umin(per_run, left);
        let end = self.b.ins().iadd(blk, n);
        let lanes = self.b.ins().imul(n, bdim);
        self.set_launch_word(launch::RUN_END, end);
        self.set_launch_word(launch::RUN_LANES, lanes);
    }

    /// The block after the current one (or the current run), `I32`.
    pub(super) fn next_block(&mut self) -> Value {
        if self.runs {
            return self.launch_word(types::I32, launch::RUN_END);
        }
        let blk = self.b.use_var(self.blk);
        self.b.ins().iadd_imm_s(blk, 1)
    }

    /// The lanes of the current block, or of the current run (`I32`).
    pub(crate) fn block_lanes(&mut self) -> Value {
        if self.runs {
            return self.launch_word(types::I32, launch::RUN_LANES);
        }
        self.bdim()
    }
}
