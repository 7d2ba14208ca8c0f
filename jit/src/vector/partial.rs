//! A block's partial last group as vector code, its lanes past the block as phantoms.
//!
//! Where a block's lanes are not a multiple of the group, the lanes after its last full
//! group would run in the per-lane code, 10-30x slower per lane when they loop (sum over
//! 2^20 elements in one block of 250 lanes, groups of 32: the 26 lanes after the seventh
//! group took as long as the 224 before them, 113 us in all; 57 us with the lanes in a
//! partial group). In a kernel with barriers (the phased strategy, phased.rs), or without
//! them where the group cannot simply run again as the one ending at the block's last lane
//! (vector/tail.rs; an in-place row update, say), the vector code instead runs that last
//! group whole ([`partial_groups`]): its lanes from the block's `%bdim` on are
//! *phantoms*, lanes `%bdim..` of the same block (their `%lane` and `%gid` go on past the
//! block's), which compute as any lane would but whose effects never reach memory or
//! another lane:
//!
//! - its stores (`stg`, `sts`) write the real lanes only: the group's phantom lanes, as bits
//!   written at the group head ([`call::VPHANTOM`]), send a store to a cold path that
//!   writes the real lanes from the lane slot, 16 bytes a step ([`Tr::phantom_store_mask`];
//!   a full group's store pays a load and a branch); in masked code they join the lanes
//!   that do not run the store (masked_store.rs);
//! - the barrier resolver and the phase's scalar loop look at the block's lanes only, so a
//!   phantom's status, pc and registers in the per-lane arrays (which have room for the
//!   block rounded up to the group) are never read but by the group itself when it resumes;
//!   a `reduce` folds the real lanes only (the groups' chain of a float fold takes a
//!   partial group's lanes in the block, fold_ahead.rs, and the resolver the block's);
//! - a branch on an ordered lane-affine predicate (a loop's exit, mostly) decides by the
//!   group's last lane in the block where the test of the whole group fails
//!   ([`Tr::group_last`]): the phantoms follow the real lanes (an `eq`/`ne` test keeps the
//!   whole group's lanes: a phantom that decides it sends the group to per-lane code);
//! - its contiguous accesses indexed by `%gid` or `%lane` are checked for the whole group
//!   ([`Tr::block_lane_reach`]: the per-block limit counts the phantoms); every other check
//!   covers the group's lanes anyway. A phantom that would fail one, divide by zero or take
//!   another branch than the real lanes sends the group to the per-lane code, which runs
//!   the real lanes only.
//!
//! A group that leaves vector code runs its real lanes in the per-lane code (phased: the
//! phase's scalar loop looks at the block's lanes only; without barriers the bail-out
//! stops at the block's last lane, bail.rs). A later phase resumes the partial group as
//! vector code while no lane of the block has trapped (resume.rs).
//!
//! Only a compile with [`crate::JitOptions::partial`] does this: the tests that tell a
//! partial group from a full one (the group's last lane in the block and its phantom lanes,
//! stored at each group head, read at loop exits' slower test, by the fold and by each
//! store) cost every group a little, 5-10%
//! of a sum over 64 blocks of 256 lanes, whose groups run a few iterations each. The VM
//! compiles it as a variant for the launches whose blocks end in a partial group
//! ([`crate::CompiledKernel::variant_for`]).

use cranelift_codegen::ir::{types, InstBuilder, Value};
use holovm_isa::{Inst, Program};

use crate::analysis::Analysis;
use crate::translate::{call, Tr};

/// Whether the vector code of `program` can run a block's partial last group with phantom
/// lanes: in the phased strategy (programs with barriers), and without barriers where
/// blocks keep their own lanes (the program reads `%lane` or `%block`), the group that
/// ends at the block's last lane cannot run again instead (vector/tail.rs: the program
/// loads a buffer it stores to, say), groups do not realign to rows (realign.rs), and no
/// loop runs under lane masks (masked_loop.rs): a phantom could keep the group looping
/// after the block's lanes left, and even with the phantoms counted as gone from the
/// loop's start (tried) a popcount over each row's elements ran 10-12% slower in blocks
/// of 100-254 lanes than with the partial group's lanes in per-lane code.
pub(crate) fn partial_groups(program: &Program, an: &Analysis) -> bool {
    an.has_barrier
        || !(program.ignores_blocks()
            || super::rerun_tail(program, an).is_some()
            || super::realigns(program, an)
            || an.has_masked_loops())
}

/// Whether `program` stores inside a loop. A partial group's stores there take their cold
/// path on every iteration, so where a narrower group fits a block's lanes better the VM
/// runs that variant instead ([`crate::CompiledKernel::variant_for`]): a grid-stride sum
/// that copies its input as it goes, over 2^20 elements in one block of 48 lanes, took
/// 128-132 us with a partial group of 32 (16 real lanes) and 74-83 us in groups of 16; in
/// blocks of 40, 149-154 us and 141-151 us in groups of 8. (Without stores a partial group
/// wins where it makes fewer groups.)
pub(crate) fn stores_in_loops(program: &Program) -> bool {
    let insts = program.insts();
    insts
        .iter()
        .zip(super::in_loops(insts))
        .any(|(i, l)| l && matches!(i, Inst::Stg { .. } | Inst::Sts { .. }))
}

/// The fewest lanes of a block a partial last group of `group` lanes must have for it to
/// run as vector code: four, or two in groups of 8 or fewer, whose few vectors cost little
/// more than two lanes of per-lane code (softmax_rows, groups of 8, 64 blocks of 250 lanes:
/// 103-106 us with the last two lanes in per-lane code, 97-101 us in a partial group; the
/// sum example forced to groups of 8, whose phantoms load memory in its grid-stride loop,
/// in one block of 250 lanes: 107-108 us and 108-109 us, of 98: 116-118 us and 120-135
/// us; kernels get groups of 8 for their register pressure, as softmax_rows does). At
/// least two, so that a float fold's chain over its lanes (fold_ahead.rs) has one to start
/// with and one to add. In wider groups fewer lanes run faster in the per-lane code, where
/// a vector group's loads would fetch the phantoms' memory too: sum over 2^20 elements,
/// groups of 32, blocks of 97 lanes: 101 us with the last lane in per-lane code, 126 us
/// with it in a partial group; blocks of 100 (four lanes): 112-149 us and 120-141 us, about
/// even; blocks of 120: 105 us, 69 us; blocks of 38 (six lanes): 243-349 us with a variant
/// of groups of 4, 88-97 us with a partial group.
pub(crate) fn min_partial(group: u32) -> u32 {
    if group <= 8 {
        2
    } else {
        4
    }
}

impl Tr<'_, '_> {
    /// Whether this function's vector groups run a block's partial last group with phantom
    /// lanes ([`partial_groups`], and [`crate::JitOptions::partial`]).
    pub(crate) fn partial_groups(&self) -> bool {
        self.v.as_ref().is_some_and(|v| v.partial)
    }

    /// The current group's last lane in the block, counted from its first (`I32`): `G - 1`
    /// for a full group. Stored at the group head of a group that runs or resumes vector
    /// code ([`call::VLAST`]).
    fn real_lanes_last(&mut self) -> Value {
        let l0 = self.b.use_var(self.lane0);
        let bdim = self.bdim();
        let left = self.b.ins().isub(bdim, l0);
        let g = self.b.ins().iconst(types::I32, i64::from(self.g));
        let lanes = self.b.ins().umin(left, g);
        self.b.ins().iadd_imm_s(lanes, -1)
    }

    /// At the head of a group that runs as vector code: its last lane in the block and its
    /// phantom lanes ([`call::VLAST`], [`call::VPHANTOM`]), for the code to read.
    pub(super) fn set_partial_words(&mut self) {
        let last = self.real_lanes_last();
        self.set_call_word(call::VLAST, last);
        let phantoms = self.phantom_bits(last);
        self.set_call_word(call::VPHANTOM, phantoms);
    }

    /// The bits of a group's phantom lanes (`I64`) from its last lane in the block `last`
    /// ([`Tr::real_lanes_last`]): the lanes above `last`.
    fn phantom_bits(&mut self, last: Value) -> Value {
        let last = self.b.ins().uextend(types::I64, last);
        let two = self.b.ins().iconst(types::I64, 2);
        // Lanes `0..=last`: `(2 << last) - 1` (G <= 32, so it fits).
        let real = self.b.ins().ishl(two, last);
        let real = self.b.ins().iadd_imm_s(real, -1);
        let all = self.group_bits();
        let all = self.b.ins().iconst(types::I64, all);
        self.b.ins().band_not(all, real)
    }

    /// Where groups may be partial: the current group's phantom lanes as bits
    /// ([`call::VPHANTOM`]), for a store that writes the other lanes only.
    pub(super) fn phantom_store_mask(&mut self) -> Option<Value> {
        if !self.partial_groups() {
            return None;
        }
        Some(self.call_word(types::I64, call::VPHANTOM))
    }

    /// Where groups may be partial: the current group's last lane in the block, counted
    /// from its first (`G - 1` for a full group), as `ty` (`I32` or `I64`). Branches on
    /// lane-affine predicates test that lane rather than the group's last, so the phantoms
    /// follow the real lanes (a loop's phantoms would often leave it an iteration earlier,
    /// and the group would leave vector code there).
    pub(super) fn group_last(&mut self, ty: types::Type) -> Option<Value> {
        if !self.partial_groups() {
            return None;
        }
        let last = self.call_word(types::I32, call::VLAST);
        Some(match ty == types::I64 {
            true => self.b.ins().uextend(types::I64, last),
            false => last,
        })
    }

    /// The lanes of a block that vector groups may cover before its contiguous accesses
    /// limit them (`I64`, a per-block limit): the block's lanes, rounded up to whole groups
    /// where the last group runs with phantoms: when it has at least [`min_partial`] real
    /// lanes.
    pub(super) fn block_lane_reach(&mut self) -> Value {
        let bdim = self.bdim();
        let lanes = match self.partial_groups() {
            true => {
                // `bdim = q*G + r`: `(bdim + G - min) & -G` is `(q + 1)*G` where `r >= min`,
                // else `q*G`, at most `bdim`.
                let g = self.g as i64;
                let min = i64::from(min_partial(self.g));
                let up = self.b.ins().iadd_imm_s(bdim, g - min);
                let up = self.b.ins().band_imm_s(up, -g);
                self.b.ins().umax(up, bdim)
            }
            false => bdim,
        };
        self.b.ins().uextend(types::I64, lanes)
    }
}
