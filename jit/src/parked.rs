//! Vector groups parked whole at a `bar.sync`, and what stands for their lanes' words.
//!
//! Each vector group of a phased kernel has a flag word at its first lane's entry of the
//! `group_parked` array ([`flag`]). A group that arrives in vector code at a `bar.sync`
//! after which it resumes as vector code (any but a last instruction) parks *whole*: the
//! bail-out block writes every lane's status (WAIT) but its pc, fuel and uniform and
//! lane-affine registers in the group's first lane's slots only (and lane-affine
//! predicates as their pair in the first two lanes'), and sets the flag to
//! [`flag::WHOLE`]. Such a group only ever resumes as a whole (resume.rs), which reads the
//! first lane's words; the resolver reads every lane's pc, so it first [`spread`]s the
//! first lane's.
//!
//! A tree reduction over shared memory parks every group of the block at each of its
//! `bar.sync`s: then [`release_whole`] releases the block by the groups' first lanes,
//! where the resolver's pass read and wrote each lane's status and pc.

use holovm_isa::{Inst, Program};

use crate::barrier::Barriers;
use crate::translate::status;

/// The values of a vector group's flag word. Each is written when the vector code leaves
/// the group (a park, a bail-out); running any of its lanes in scalar code sets it to 0.
/// While it is not 0 the lanes' fuel is in the first lane's slot only
/// ([`Tr::unpark_group`](crate::translate::Tr)). A stale value (from an earlier block, or
/// a group that exited in vector code, every lane DONE) does no harm: the resume needs
/// READY in the first lane, and spreading a stale pc gives it to lanes that are done.
pub(crate) mod flag {
    /// The vector code parked the whole group at a barrier, every lane's status and pc
    /// written (a group parked [`WHOLE`] gets this once [`spread`](super::spread); its
    /// uniform and lane-affine registers stay in the first lane's slots).
    pub const PARKED: i64 = 1;
    /// The vector code left the group's lanes to scalar code, every lane's words written.
    pub const LEFT: i64 = 2;
    /// The vector code parked the whole group at a `bar.sync`: every lane's status is
    /// written, its pc, fuel and scalar registers only in the first lane's slots (see the
    /// module's notes).
    pub const WHOLE: i64 = 3;
}

/// The `bar.sync`s of `program` where vector groups park whole: every one but a last
/// instruction (after each, the groups resume as vector code, resume.rs).
pub(crate) fn whole_park_pcs(program: &Program) -> Vec<u32> {
    let n = program.insts().len() as u32;
    (0..n).filter(|&pc| parks_whole(program, pc)).collect()
}

/// Whether `pc` is one of [`whole_park_pcs`].
pub(crate) fn parks_whole(program: &Program, pc: u32) -> bool {
    let insts = program.insts();
    insts.get(pc as usize) == Some(&Inst::BarSync) && (pc as usize) + 1 < insts.len()
}

/// The bail-out block's status argument for a group arriving at a `bar.sync` (parked
/// whole, [`flag::WHOLE`]); never stored as a status.
pub(crate) const ARRIVE_WHOLE: i64 = 4;

/// [`flag::WHOLE`] as stored.
const WHOLE: u32 = flag::WHOLE as u32;
/// [`status::WAIT`] as stored.
const WAIT: u32 = status::WAIT as u32;
/// [`status::READY`] as stored.
const READY: u32 = status::READY as u32;

/// The block's per-lane status and pc words and the groups' flags.
pub(crate) struct LaneWords {
    status: *mut u32,
    pc: *mut u32,
    flags: *mut u32,
}

impl LaneWords {
    /// The words in the scratch memory `scratch` laid out as `t` says.
    ///
    /// # Safety
    ///
    /// `scratch` points to the scratch memory of the layout `t` was built for; the words
    /// are only accessed through the returned value while the kernel is in a call.
    pub(crate) unsafe fn new(t: &Barriers, scratch: *mut u8) -> Self {
        let (status, pc, flags) = t.word_offsets();
        // SAFETY: the offsets lie inside the layout's scratch memory (caller).
        unsafe {
            LaneWords {
                status: scratch.add(status).cast(),
                pc: scratch.add(pc).cast(),
                flags: scratch.add(flags).cast(),
            }
        }
    }
}

/// The first lanes of the groups of `g` lanes that start below `end`. (Not `step_by`,
/// whose count is a division: two of them were a third of a fast release.)
fn group_starts(g: u32, end: u32) -> impl Iterator<Item = usize> {
    let (g, end) = (g.max(1) as usize, end.min(holovm_isa::MAX_BLOCK) as usize);
    std::iter::successors(Some(0), move |&l| Some(l + g)).take_while(move |&l| l < end)
}

/// If every lane below `end` is in a group of `g` lanes parked whole at the same `bar.sync`
/// (`is_bar_sync` of its pc), releases them all: READY at the next pc, in the groups'
/// first lanes' words. Returns whether it did; otherwise nothing is written.
///
/// # Safety
///
/// `w` is valid; `g` is the kernel's group size (a power of two, at least 4), and the
/// per-lane arrays have room for `end` rounded up to a multiple of it.
pub(crate) unsafe fn release_whole(
    w: &LaneWords,
    g: u32,
    end: u32,
    is_bar_sync: impl Fn(u32) -> bool,
) -> bool {
    // `g` is a power of two.
    if g == 0 || end == 0 || end & (g - 1) != 0 {
        return false;
    }
    // SAFETY (each access): `l` is a group's first lane, below `end` (caller).
    let pc0 = unsafe { *w.pc };
    if !is_bar_sync(pc0) {
        return false;
    }
    let whole = group_starts(g, end).all(|l| unsafe {
        *w.flags.add(l) == WHOLE && *w.status.add(l) == WAIT && *w.pc.add(l) == pc0
    });
    if !whole {
        return false;
    }
    for l in group_starts(g, end) {
        // SAFETY: as above.
        unsafe {
            *w.status.add(l) = READY;
            *w.pc.add(l) = pc0 + 1;
        }
    }
    true
}

/// Writes the pc of each group parked whole (below `end`) into its lanes' words and sets
/// its flag to [`flag::PARKED`]: the resolver then reads every lane's status and pc. The
/// group still resumes only whole (its scalar registers stay in the first lane's slots).
///
/// # Safety
///
/// As [`release_whole`].
pub(crate) unsafe fn spread(w: &LaneWords, g: u32, end: u32) {
    if g == 0 {
        return;
    }
    for l in group_starts(g, end) {
        // SAFETY: the group's lanes `l..l + g` have words (caller).
        unsafe {
            if *w.flags.add(l) != WHOLE {
                continue;
            }
            let pc = *w.pc.add(l);
            std::slice::from_raw_parts_mut(w.pc.add(l), g as usize).fill(pc);
            *w.flags.add(l) = flag::PARKED as u32;
        }
    }
}
