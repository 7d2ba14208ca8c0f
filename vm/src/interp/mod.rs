//! The interpreter tier: programs are decoded once ([`decode`]) into a compact form with
//! operands resolved to register rows or uniform values, then executed block by block in
//! lock-step ([`exec`]): each instruction is applied to all active lanes of a block before the
//! next, over structure-of-arrays registers ([`regs`]), with typed lane loops ([`ops`],
//! [`mem`]).

pub(crate) mod decode;
pub(crate) mod exec;
pub(crate) mod math;
pub(crate) mod mem;
pub(crate) mod ops;
pub(crate) mod regs;
pub(crate) mod runs;
pub(crate) mod trap;

use crate::TrapKind;

/// A decoded source operand: a register row (general register or one of the per-block special
/// rows `%lane`, `%gid`, `%block`) or an index into the launch's table of uniform values
/// (immediates, scalar parameters, `%bdim`, `%gdim`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Opnd {
    Row(u32),
    Uni(u32),
}

/// The lanes an instruction is applied to: every lane of the block (the fast path), or an
/// ascending list of lane indices.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Active<'a> {
    All,
    List(&'a [u32]),
}

/// The space of a faulting memory access, before names are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpaceId {
    Param(u32),
    Pool,
    Shared,
    Invalid(u32),
}

/// A faulting memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FaultAccess {
    pub(crate) space: SpaceId,
    pub(crate) offset: i128,
    pub(crate) size: u32,
}

/// A lane fault raised by a lane loop: the lowest trapping lane of the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) lane: u32,
    pub(crate) kind: TrapKind,
    pub(crate) access: Option<FaultAccess>,
}

impl Fault {
    pub(crate) fn new(lane: usize, kind: TrapKind) -> Fault {
        Fault {
            lane: lane as u32,
            kind,
            access: None,
        }
    }
}

/// A fault with the program counter of the instruction that raised it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockTrap {
    pub(crate) pc: u32,
    pub(crate) fault: Fault,
}
