//! Runs of blocks: consecutive small blocks the interpreter runs as one.

use holovm_isa::LaunchConfig;

use crate::interp::decode::Decoded;
use crate::interp::BlockTrap;

/// How the interpreter walks a launch's blocks: one at a time, or, for a program that
/// cannot tell them apart ([`Decoded::runs_blocks`]) in blocks of fewer than
/// [`Runs::LANES`] lanes, consecutive blocks together as one block of `LANES` lanes or
/// more (blocks of 8 lanes ran 16x slower per lane than blocks of 256: the per-block work
/// of the lock-step executor).
pub(crate) struct Runs {
    /// Blocks a run (the last may have fewer).
    per_run: u32,
    /// Runs in the launch.
    pub(crate) count: u32,
    grid: u32,
    block: u32,
}

impl Runs {
    const LANES: u32 = 256;

    pub(crate) fn of(p: &Decoded, config: LaunchConfig) -> Runs {
        let per_run = match p.runs_blocks && config.block < Self::LANES {
            true => Self::LANES.div_ceil(config.block),
            false => 1,
        };
        Runs {
            per_run,
            count: config.grid.div_ceil(per_run),
            grid: config.grid,
            block: config.block,
        }
    }

    /// Run `r`'s first block and `%gid`.
    pub(crate) fn first(&self, r: u32) -> (u32, u32) {
        let b = r * self.per_run;
        (b, b.wrapping_mul(self.block))
    }

    /// Run `r`'s lanes.
    pub(crate) fn lanes(&self, r: u32) -> u32 {
        let b = r * self.per_run;
        self.per_run.min(self.grid - b) * self.block
    }

    /// Run `r`'s trap as its lane's own block and trap.
    pub(crate) fn trap_of(&self, r: u32, mut t: BlockTrap) -> (u32, BlockTrap) {
        let (_, gid) = self.first(r);
        let gid = u64::from(gid) + u64::from(t.fault.lane);
        let (block, lane) = holovm_isa::block_and_lane(gid, self.block);
        t.fault.lane = lane;
        (block, t)
    }
}
