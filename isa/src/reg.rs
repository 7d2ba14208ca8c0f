//! Registers: general registers, predicates and the read-only special registers.

use std::fmt;

/// Number of general registers per lane.
pub const NUM_REGS: usize = 256;
/// Number of predicate registers per lane.
pub const NUM_PREDS: usize = 16;

/// A general register `r0..r255`: 64 bits of storage per lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(pub u8);

/// A predicate register `p0..p15`: one bit per lane. Values above 15 are rejected by the
/// verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pred(pub u8);

/// A read-only special register. All hold unsigned values (read them with any integer type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Special {
    /// `%lane`: the lane index within its block, `0..bdim`.
    Lane = 0,
    /// `%block`: the block index within the grid, `0..gdim`.
    Block = 1,
    /// `%bdim`: lanes per block.
    BlockDim = 2,
    /// `%gdim`: blocks in the grid.
    GridDim = 3,
    /// `%gid`: the global lane id, `block * bdim + lane`.
    GlobalId = 4,
}

impl Special {
    /// Every special register, in encoding order.
    pub const ALL: [Special; 5] = [
        Special::Lane,
        Special::Block,
        Special::BlockDim,
        Special::GridDim,
        Special::GlobalId,
    ];

    /// Text name without the `%`.
    pub const fn name(self) -> &'static str {
        match self {
            Special::Lane => "lane",
            Special::Block => "block",
            Special::BlockDim => "bdim",
            Special::GridDim => "gdim",
            Special::GlobalId => "gid",
        }
    }

    /// Parses a name without the `%`.
    pub fn from_name(s: &str) -> Option<Special> {
        Special::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Decodes the encoding byte.
    pub fn from_u8(b: u8) -> Option<Special> {
        Special::ALL.get(b as usize).copied()
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.name())
    }
}
