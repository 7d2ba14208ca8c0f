//! Resolving a barrier at the end of a phase (the phased strategy, see phased.rs), in Rust:
//! the compiled kernel calls [`resolve_barrier`] when every lane of its block has had its
//! turn. In compiled code the same loops over the lanes' status words were a quarter of a
//! phased kernel's compile time (Cranelift's register allocator most of it), for code that
//! runs once per phase; as a call they cost nothing to compile and run as fast.
//!
//! The call reads and writes the block's per-lane arrays in the scratch memory
//! ([`ScratchLayout`]): if no lane waits, the block is done (or trapped, if a record was
//! written); if the waiting lanes are not all at the same instruction the block traps with
//! `divergent barrier` at the lowest one; otherwise a `reduce` folds its operand over the
//! waiting lanes in ascending lane order (docs/ISA.md) and gives each of them the result,
//! and the lanes are released to resume after the barrier.

use holovm_isa::{Inst, Program, RedOp, Special, Src, Ty};

use crate::abi::{LaunchEnv, TrapKind, TrapRecord};
use crate::analysis::Analysis;
use crate::parked::{release_whole, spread, whole_park_pcs, LaneWords};
use crate::regroup::{regroup, regroups, Regroup, Words};
use crate::translate::{call, s_home, status, ScratchLayout};
use crate::vector::folds_ahead;

/// [`status::WAIT`] as stored.
const WAIT: u32 = status::WAIT as u32;
/// [`status::READY`] as stored.
const READY: u32 = status::READY as u32;

/// What [`resolve_barrier`] returns to the kernel.
pub(crate) mod outcome {
    /// No lane waits and nothing trapped: the block is finished.
    pub const DONE: u32 = 0;
    /// The block trapped; the record is written.
    pub const TRAPPED: u32 = 1;
    /// The waiting lanes were released: the next phase runs them.
    pub const RELEASED: u32 = 2;
    /// The lanes wait at an instruction that is not a barrier (a JIT bug).
    pub const BROKEN: u32 = 3;
}

/// A program's barriers and where the scratch memory keeps what resolving them reads:
/// built at compile time, owned by the compiled kernel (whose code holds its address).
#[derive(Debug)]
pub(crate) struct Barriers {
    /// Offsets of the per-lane status words and resume pcs (`u32` each).
    status: usize,
    pc: usize,
    /// Offset of the vector groups' flags (parked.rs).
    flags: usize,
    /// Offset of the saved `LaunchEnv` pointer (the per-lane call record's).
    env: usize,
    /// Offset of the call record's scan word, reset for the next phase ([`call::SCAN`]).
    scan: usize,
    /// Offsets of the chain of a float fold the vector groups carried ([`call::FOLD`]) and
    /// of the lane it has reached ([`call::FOLD_NEXT`], reset for the next phase).
    fold: usize,
    fold_next: usize,
    /// The program's parameter count (a `Param` operand past it reads 0, as in the kernel).
    nparams: usize,
    /// The barrier instructions in ascending pc order, with the reduction each does.
    list: Vec<(u32, Option<Fold>)>,
    /// Whether vector groups can park whole (at a `bar.sync` that is not the last
    /// instruction, parked.rs): without, the resolver skips looking for such groups.
    whole_parks: bool,
    /// Per barrier pc, the checks before a group whose lanes the per-lane code ran
    /// resumes as vector code after it (regroup.rs), and the per-lane words they read.
    regroups: Vec<(u32, Option<Regroup>)>,
    words: Words,
}

/// A `reduce`: `dst = op over the waiting lanes of src`, computed in `ty`.
#[derive(Clone, Copy, Debug)]
struct Fold {
    op: RedOp,
    ty: Ty,
    src: Operand,
    dst: Slot,
}

/// Where a lane's operand value comes from.
#[derive(Clone, Copy, Debug)]
enum Operand {
    /// A register, read from the register file.
    Reg(Slot),
    /// Anything else, computed per lane by [`operand`].
    Other(Other),
}

/// An operand that is not a register.
#[derive(Clone, Copy, Debug)]
enum Other {
    Special(Special),
    Param(u8),
    /// The canonical image.
    Imm(u64),
}

/// A register's slots in the spill register file: lane `l`'s at `offset + l * bytes`, 4 or
/// 8 bytes (a 4-byte slot holds the low half of the register image; the high half is 0).
#[derive(Clone, Copy, Debug)]
struct Slot {
    offset: usize,
    bytes: usize,
}

impl Barriers {
    /// The barriers of a phased program whose scratch memory is laid out as `layout`.
    pub(crate) fn new(program: &Program, an: &Analysis, layout: &ScratchLayout) -> Self {
        let slot = |r: usize| Slot {
            offset: layout.reg_offset(r) as usize,
            bytes: s_home(an, r).bytes() as usize,
        };
        let list = program
            .insts()
            .iter()
            .enumerate()
            .filter_map(|(pc, inst)| match *inst {
                Inst::BarSync => Some((pc as u32, None)),
                Inst::Reduce { op, ty, dst, src } => {
                    let src = match src {
                        Src::Reg(r) => Operand::Reg(slot(r.0 as usize)),
                        Src::Special(s) => Operand::Other(Other::Special(s)),
                        Src::Param(i) => Operand::Other(Other::Param(i)),
                        Src::Imm(bits) => Operand::Other(Other::Imm(ty.canon(bits))),
                    };
                    let dst = slot(dst.0 as usize);
                    Some((pc as u32, Some(Fold { op, ty, src, dst })))
                }
                _ => None,
            })
            .collect();
        Barriers {
            status: layout.lane_status as usize,
            pc: layout.lane_pc as usize,
            flags: layout.group_parked as usize,
            env: (layout.call as i32 + call::ENV) as usize,
            scan: (layout.call as i32 + call::SCAN) as usize,
            fold: (layout.call as i32 + call::FOLD) as usize,
            fold_next: (layout.call as i32 + call::FOLD_NEXT) as usize,
            nparams: program.params().len(),
            list,
            whole_parks: !whole_park_pcs(program).is_empty(),
            regroups: regroups(program, an, layout),
            words: Words {
                status: layout.lane_status as usize,
                pc: layout.lane_pc as usize,
                fuel: layout.lane_fuel as usize,
                depth: an.has_call.then_some(layout.lane_depth as usize),
                flags: layout.group_parked as usize,
            },
        }
    }
}

impl Barriers {
    /// Offsets of the per-lane status and pc words and the group flags.
    pub(crate) fn word_offsets(&self) -> (usize, usize, usize) {
        (self.status, self.pc, self.flags)
    }

    /// Whether the instruction at `pc` is a `bar.sync`.
    fn is_bar_sync(&self, pc: u32) -> bool {
        self.list.iter().any(|&(p, fold)| p == pc && fold.is_none())
    }
}

/// The type of [`resolve_barrier`], which the kernel calls by address.
pub(crate) type ResolveFn =
    unsafe extern "C" fn(*const Barriers, *mut u8, *mut TrapRecord, u32, u32, u32) -> u32;

/// Resolves the barrier of block `block` whose first `end` lanes may run (the others
/// trapped or are beyond the block), for a kernel whose vector groups have `g` lanes (0:
/// none): returns an [`outcome`]. Nothing in it can panic (a panic cannot unwind through
/// the compiled code that calls it: the process would abort).
///
/// # Safety
///
/// `barriers` must be the table built for the kernel's program and layout; `scratch` must
/// point to that layout's scratch memory, with the per-lane arrays written by the kernel
/// for this block and the saved `LaunchEnv` pointer valid; `trap` must be valid for
/// writes; `end` must not exceed `holovm_isa::MAX_BLOCK` (the arrays' length); `g` is
/// the kernel's group size. Nothing else may access that memory during the call.
pub(crate) unsafe extern "C" fn resolve_barrier(
    barriers: *const Barriers,
    scratch: *mut u8,
    trap: *mut TrapRecord,
    block: u32,
    end: u32,
    g: u32,
) -> u32 {
    // SAFETY: the caller's.
    unsafe { resolve::<false>(barriers, scratch, trap, block, end, g) }
}

/// [`resolve_barrier`] compiled for AVX2: its passes over the block's lanes take 8 lanes a
/// step instead of 4 (the call was a quarter of a tree reduction's time).
///
/// # Safety
///
/// As [`resolve_barrier`], and the CPU has AVX2 ([`resolve_fn`] checks).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe extern "C" fn resolve_barrier_avx2(
    barriers: *const Barriers,
    scratch: *mut u8,
    trap: *mut TrapRecord,
    block: u32,
    end: u32,
    g: u32,
) -> u32 {
    // SAFETY: the caller's.
    unsafe { resolve::<true>(barriers, scratch, trap, block, end, g) }
}

/// The resolver for this CPU: [`resolve_barrier`], compiled for AVX2 where it has it.
pub(crate) fn resolve_fn() -> ResolveFn {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // Only kernels compiled in this process call it, on this CPU, which has AVX2.
        return resolve_barrier_avx2;
    }
    resolve_barrier
}

/// The body of [`resolve_barrier`], inlined into each variant (`AVX2`: the AVX2 one).
///
/// # Safety
///
/// As [`resolve_barrier`], and the CPU has AVX2 where `AVX2`.
#[inline(always)]
unsafe fn resolve<const AVX2: bool>(
    barriers: *const Barriers,
    scratch: *mut u8,
    trap: *mut TrapRecord,
    block: u32,
    end: u32,
    g: u32,
) -> u32 {
    // SAFETY: the caller passes the kernel's own table, which lives as long as its code.
    let t = unsafe { &*barriers };
    // SAFETY: the caller's scratch memory, for the table's layout.
    let words = unsafe { LaneWords::new(t, scratch) };
    if t.whole_parks {
        // SAFETY: `g` is the kernel's group size; the arrays have MAX_BLOCK entries, a
        // multiple of it.
        if unsafe { release_whole(&words, g, end, |pc| t.is_bar_sync(pc)) } {
            // SAFETY: the caller's scratch memory, for the table's layout.
            return unsafe { released_block(t, scratch) };
        }
        // Groups parked whole have only their first lane's pc written: the pass below
        // reads every lane's.
        // SAFETY: as above.
        unsafe { spread(&words, g, end) };
    }
    let lanes = end.min(holovm_isa::MAX_BLOCK) as usize;
    // SAFETY (each array): the layout gives each per-lane array MAX_BLOCK u32 entries at a
    // 4-byte aligned offset of the 64-byte aligned scratch memory, which the caller hands
    // over for the call; the two arrays do not overlap.
    let st = unsafe { std::slice::from_raw_parts_mut(scratch.add(t.status).cast::<u32>(), lanes) };
    let pcs = unsafe { std::slice::from_raw_parts_mut(scratch.add(t.pc).cast::<u32>(), lanes) };
    let Some(first) = first_waiting(st) else {
        // SAFETY: `trap` is valid for reads and writes (caller).
        let trapped = unsafe { (*trap).kind } != 0;
        return if trapped {
            outcome::TRAPPED
        } else {
            outcome::DONE
        };
    };
    let (st, pcs) = (&mut st[first..], &mut pcs[first..]);
    let pc0 = pcs[0];
    let Some(&(_, fold)) = t.list.iter().find(|(pc, _)| *pc == pc0) else {
        return outcome::BROKEN;
    };
    // One branch-free pass over the lanes from `first` on (the compiler vectorises it):
    // whether any waiting lane is at another pc, whether all wait; a `bar.sync` also
    // releases them in it (if they diverged, the block traps and its state is not read).
    let check = |(d, a): (bool, bool), w: bool, pc: u32| (d | (w & (pc != pc0)), a & w);
    let (diverged, all_wait) = if fold.is_none() {
        st.iter_mut()
            .zip(pcs.iter_mut())
            .fold((false, true), |acc, (s, pc)| {
                let (w, at) = (*s == WAIT, *pc);
                released(s, pc, w);
                check(acc, w, at)
            })
    } else {
        st.iter()
            .zip(pcs.iter())
            .fold((false, true), |acc, (&s, &pc)| check(acc, s == WAIT, pc))
    };
    if diverged {
        // Every waiting lane traps; the lowest one (at its barrier) is reported.
        let record = TrapRecord {
            kind: TrapKind::DivergentBarrier.code(),
            pc: pc0,
            block,
            lane: first as u32,
            ..TrapRecord::default()
        };
        // SAFETY: `trap` is valid for reads and writes (caller).
        unsafe { *trap = record };
        return outcome::TRAPPED;
    }
    if let Some(f) = fold {
        let n = st.len();
        // SAFETY: the caller's scratch memory, for the table's layout.
        let ahead = match first == 0 && all_wait && folds_ahead(f.op, f.ty) {
            true => unsafe { chain(t, scratch, f.ty, end) },
            false => None,
        };
        let image = match (ahead, f.src) {
            (Some(value), _) => finish(f.ty, Some(value)),
            // SAFETY: the slot's lanes `first..first + n` lie in the register file, apart
            // from the status and pc arrays.
            (None, Operand::Reg(s)) if s.bytes == 4 => {
                let v = unsafe { slot_lanes::<u32>(scratch, s, first, n) };
                match (f.ty, f.op) {
                    // SAFETY: the CPU has AVX2 where `AVX2` (the caller's).
                    (Ty::F32, RedOp::Min) if all_wait => unsafe { fold_f32::<true, AVX2>(v) },
                    (Ty::F32, RedOp::Max) if all_wait => unsafe { fold_f32::<false, AVX2>(v) },
                    _ => fold_lanes(f.op, f.ty, v, st, all_wait),
                }
            }
            (None, Operand::Reg(s)) => {
                let v = unsafe { slot_lanes::<u64>(scratch, s, first, n) };
                fold_lanes(f.op, f.ty, v, st, all_wait)
            }
            (None, Operand::Other(src)) => {
                // SAFETY: the saved pointer is the launch's environment (caller).
                let env = unsafe {
                    &*scratch
                        .add(t.env)
                        .cast::<*const LaunchEnv>()
                        .read_unaligned()
                };
                let vals = (0..n)
                    .filter(|&l| st[l] == WAIT)
                    .map(|l| operand(t, src, env, block, first + l));
                fold_all(f.op, f.ty, Seq(vals))
            }
        };
        // SAFETY: as above, for the destination's slots (the operand's slice, which may
        // be the same register's, is no longer used). The waiting lanes get the result
        // and are released in the same pass.
        if f.dst.bytes == 4 {
            let d = unsafe { slot_lanes_mut::<u32>(scratch, f.dst, first, n) };
            give_and_release::<_, AVX2>(d, st, pcs, image as u32, all_wait);
        } else {
            let d = unsafe { slot_lanes_mut::<u64>(scratch, f.dst, first, n) };
            give_and_release::<_, AVX2>(d, st, pcs, image, all_wait);
        }
    }
    // Groups whose lanes the per-lane code brought here resume as vector code if they can.
    if let Some((_, Some(checks))) = t.regroups.iter().find(|(pc, _)| *pc == pc0) {
        // SAFETY: the caller's scratch memory, for the table's layout (the scan word is a
        // 4-byte aligned `u32` of the call record); the slices above are no longer used;
        // `g` is the kernel's group size (caller).
        unsafe {
            let from = scratch.add(t.scan).cast::<u32>().read();
            regroup(checks, t.words, scratch, g, from, end);
        }
    }
    // SAFETY: the caller's scratch memory, for the table's layout; the slices above are
    // no longer used.
    unsafe { released_block(t, scratch) }
}

/// [`outcome::RELEASED`], after resetting the scan word: the next phase's vector groups
/// have left no lane to scalar code yet.
///
/// # Safety
///
/// `scratch` is the scratch memory of the layout `t` was built for, which nothing else
/// accesses during the call.
unsafe fn released_block(t: &Barriers, scratch: *mut u8) -> u32 {
    // SAFETY: the scan word and the fold chain's lane are 4-byte aligned `u32`s of the call
    // record (caller).
    unsafe {
        scratch.add(t.scan).cast::<u32>().write(i32::MAX as u32);
        scratch.add(t.fold_next).cast::<u32>().write(0);
    }
    outcome::RELEASED
}

/// The value of the float fold's chain the vector groups carried (vector/fold_ahead.rs), as
/// a register image of `ty`, when it covers the block's lanes `0..end`.
///
/// # Safety
///
/// `scratch` is the scratch memory of the layout `t` was built for, which nothing else
/// accesses during the call.
unsafe fn chain(t: &Barriers, scratch: *mut u8, ty: Ty, end: u32) -> Option<u64> {
    // SAFETY: the words are aligned fields of the call record (caller): a `u32`, and an
    // `f32` or `f64` at an 8-byte aligned offset.
    unsafe {
        if scratch.add(t.fold_next).cast::<u32>().read() != end {
            return None;
        }
        let at = scratch.add(t.fold);
        Some(match ty {
            Ty::F64 => at.cast::<u64>().read(),
            _ => u64::from(at.cast::<u32>().read()),
        })
    }
}

/// The first lane whose status is WAIT. (The last phase of a block has none: every lane
/// is scanned, 16 a step without a branch.)
#[inline(always)]
fn first_waiting(st: &[u32]) -> Option<usize> {
    let mut base = 0;
    for c in st.chunks(16) {
        if c.iter().fold(false, |a, &s| a | (s == WAIT)) {
            return c.iter().position(|&s| s == WAIT).map(|p| base + p);
        }
        base += c.len();
    }
    None
}

/// Register slot `s` of the lanes `first..first + n` as a slice of its element type (`u32`
/// for 4-byte slots, `u64` for 8-byte ones).
///
/// # Safety
///
/// The lanes' slots lie in the scratch memory, aligned for `T`, and nothing writes them
/// while the slice lives.
unsafe fn slot_lanes<'s, T>(scratch: *mut u8, s: Slot, first: usize, n: usize) -> &'s [T] {
    // SAFETY: the caller's.
    unsafe { std::slice::from_raw_parts(scratch.add(s.offset + first * s.bytes).cast(), n) }
}

/// As [`slot_lanes`], for writing.
///
/// # Safety
///
/// As [`slot_lanes`], and nothing else refers to the slots while the slice lives.
unsafe fn slot_lanes_mut<'s, T>(scratch: *mut u8, s: Slot, first: usize, n: usize) -> &'s mut [T] {
    // SAFETY: the caller's.
    unsafe { std::slice::from_raw_parts_mut(scratch.add(s.offset + first * s.bytes).cast(), n) }
}

/// The fold of `vals` over the lanes whose status is WAIT (all of them when `all_wait`).
fn fold_lanes<T: Copy + Into<u64>>(
    op: RedOp,
    ty: Ty,
    vals: &[T],
    st: &[u32],
    all_wait: bool,
) -> u64 {
    if all_wait {
        fold_all(op, ty, Slice(vals))
    } else {
        let waiting = vals.iter().zip(st).filter(|(_, &s)| s == WAIT);
        fold_all(op, ty, Seq(waiting.map(|(&v, _)| v.into())))
    }
}

/// Releases a lane whose status is `*s` and resume pc `*pc` if it waits (`w`): READY at
/// the instruction after its barrier. Arithmetic, not selects: selects compiled to a
/// branch per lane (44% of the call), masks to masked stores in the AVX2 build.
#[inline(always)]
fn released(s: &mut u32, pc: &mut u32, w: bool) {
    const _: () = assert!(WAIT - 1 == READY);
    *pc = pc.wrapping_add(u32::from(w));
    *s = s.wrapping_sub(u32::from(w));
}

/// Writes `value` into the slots of the waiting lanes and releases them (branch-free);
/// `all_wait`: every lane waits, at the same pc, so the three arrays are simply filled
/// (compiled for AVX2 where `AVX2`: 32 bytes a store). Not inlined: compiled for AVX2, the
/// select became masked stores (`vpmaskmovd`, slow on AMD: a `reduce` took 26% longer);
/// this is the baseline build's blend.
#[inline(never)]
fn give_and_release<T: Copy, const AVX2: bool>(
    slots: &mut [T],
    st: &mut [u32],
    pcs: &mut [u32],
    value: T,
    all_wait: bool,
) {
    if let (true, Some(&pc)) = (all_wait, pcs.first()) {
        let next = pc.wrapping_add(1);
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: the resolver's `AVX2` variant runs only where the CPU has AVX2.
            return unsafe { fill_released_avx2(slots, st, pcs, value, next) };
        }
        return fill_released(slots, st, pcs, value, next);
    }
    for ((d, s), pc) in slots.iter_mut().zip(st.iter_mut()).zip(pcs.iter_mut()) {
        let w = *s == WAIT;
        *d = if w { value } else { *d };
        released(s, pc, w);
    }
}

/// Every lane gets `value` in its slot and is READY at `pc`.
#[inline(always)]
fn fill_released<T: Copy>(slots: &mut [T], st: &mut [u32], pcs: &mut [u32], value: T, pc: u32) {
    slots.fill(value);
    st.fill(READY);
    pcs.fill(pc);
}

/// [`fill_released`] compiled for AVX2.
///
/// # Safety
///
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_released_avx2<T: Copy>(
    slots: &mut [T],
    st: &mut [u32],
    pcs: &mut [u32],
    value: T,
    pc: u32,
) {
    fill_released(slots, st, pcs, value, pc)
}

/// Lane `l`'s value of an operand that is not a register, zero-extended to 64 bits.
fn operand(t: &Barriers, src: Other, env: &LaunchEnv, block: u32, l: usize) -> u64 {
    let lane = l as u32;
    match src {
        Other::Special(Special::Lane) => lane.into(),
        Other::Special(Special::Block) => block.into(),
        Other::Special(Special::BlockDim) => env.block.into(),
        Other::Special(Special::GridDim) => env.grid.into(),
        Other::Special(Special::GlobalId) => {
            block.wrapping_mul(env.block).wrapping_add(lane).into()
        }
        // SAFETY: `params` holds `nparams` slots for the whole launch (run_blocks' contract).
        Other::Param(i) if (i as usize) < t.nparams => unsafe {
            (*env.params.add(i as usize)).scalar
        },
        Other::Param(_) => 0,
        Other::Imm(bits) => bits,
    }
}

/// Values to fold, in lane order.
pub(crate) trait Values {
    /// `f(...f(f(v0, v1), v2)..., vn)`; `None` for no values.
    fn fold_in_order(self, f: impl Fn(u64, u64) -> u64) -> Option<u64>;
    /// The same for an associative and commutative `f`, in any order.
    fn fold_any_order(self, f: impl Fn(u64, u64) -> u64) -> Option<u64>
    where
        Self: Sized,
    {
        self.fold_in_order(f)
    }
}

/// Values from an iterator.
pub(crate) struct Seq<I>(pub I);

impl<I: Iterator<Item = u64>> Values for Seq<I> {
    fn fold_in_order(mut self, f: impl Fn(u64, u64) -> u64) -> Option<u64> {
        let v0 = self.0.next()?;
        Some(self.0.fold(v0, f))
    }
}

/// Values in a slice of register slots.
struct Slice<'a, T>(&'a [T]);

impl<T: Copy + Into<u64>> Values for Slice<'_, T> {
    fn fold_in_order(self, f: impl Fn(u64, u64) -> u64) -> Option<u64> {
        Seq(self.0.iter().map(|&v| v.into())).fold_in_order(f)
    }

    /// Eight accumulators side by side: a fold in order waits for each step's result
    /// (a float `max` step is a compare and a select, 4 cycles or more).
    fn fold_any_order(self, f: impl Fn(u64, u64) -> u64) -> Option<u64> {
        const W: usize = 8;
        if self.0.len() < 2 * W {
            return self.fold_in_order(f);
        }
        let (head, rest) = self.0.split_at(W);
        let mut acc: [u64; W] = std::array::from_fn(|k| head[k].into());
        let chunks = rest.chunks_exact(W);
        let tail = chunks.remainder();
        for c in chunks {
            for k in 0..W {
                acc[k] = f(acc[k], c[k].into());
            }
        }
        let r = acc.into_iter().reduce(&f)?;
        Some(tail.iter().fold(r, |a, &v| f(a, v.into())))
    }
}

/// The fold of `vals` in lane order, in `ty` on register images (only the low `ty.bits()`
/// bits are read): docs/ISA.md's `reduce`. Integers wrap; float `min`/`max` are IEEE
/// 754-2019 `minimum`/`maximum`, and a NaN result is the default NaN, so they and the
/// integer folds give the same result in any order; float sums and products do not.
/// Returns the canonical image; 0 for no values.
pub(crate) fn fold_all(op: RedOp, ty: Ty, vals: impl Values) -> u64 {
    let sh = 64 - ty.bits();
    let sext = move |v: u64| ((v << sh) as i64) >> sh;
    let r = match (ty, op) {
        (Ty::F32, RedOp::Add) => vals.fold_in_order(f32s(|a, x| a + x)),
        (Ty::F32, RedOp::Mul) => vals.fold_in_order(f32s(|a, x| a * x)),
        (Ty::F32, RedOp::Min) => vals.fold_any_order(|a, x| ordered_f32(a, x, true)),
        (Ty::F32, RedOp::Max) => vals.fold_any_order(|a, x| ordered_f32(a, x, false)),
        (Ty::F64, RedOp::Add) => vals.fold_in_order(f64s(|a, x| a + x)),
        (Ty::F64, RedOp::Mul) => vals.fold_in_order(f64s(|a, x| a * x)),
        (Ty::F64, RedOp::Min) => vals.fold_any_order(|a, x| ordered_f64(a, x, true)),
        (Ty::F64, RedOp::Max) => vals.fold_any_order(|a, x| ordered_f64(a, x, false)),
        // Sums and products wrap modulo 2^64, so also modulo 2^bits.
        (_, RedOp::Add) => vals.fold_any_order(u64::wrapping_add),
        (_, RedOp::Mul) => vals.fold_any_order(u64::wrapping_mul),
        (_, RedOp::Min) if ty.is_signed_int() => {
            vals.fold_any_order(|a, x| if sext(x) < sext(a) { x } else { a })
        }
        (_, RedOp::Max) if ty.is_signed_int() => {
            vals.fold_any_order(|a, x| if sext(x) > sext(a) { x } else { a })
        }
        (_, RedOp::Min) => {
            vals.fold_any_order(|a, x| if ty.canon(x) < ty.canon(a) { x } else { a })
        }
        (_, RedOp::Max) => {
            vals.fold_any_order(|a, x| if ty.canon(x) > ty.canon(a) { x } else { a })
        }
    };
    finish(ty, r)
}

/// A fold's result `r` (`None`: no values) as the register image the lanes receive: a NaN
/// result is the default NaN (docs/ISA.md 5.7), whatever order the fold took.
fn finish(ty: Ty, r: Option<u64>) -> u64 {
    match (ty, r) {
        (Ty::F32, Some(v)) if f32::from_bits(v as u32).is_nan() => u64::from(f32::NAN.to_bits()),
        (Ty::F64, Some(v)) if f64::from_bits(v).is_nan() => f64::NAN.to_bits(),
        _ => ty.canon(r.unwrap_or(0)),
    }
}

/// `f` on f32 values as a function of their register images.
fn f32s(f: impl Fn(f32, f32) -> f32) -> impl Fn(u64, u64) -> u64 {
    move |a, x| {
        f(f32::from_bits(a as u32), f32::from_bits(x as u32))
            .to_bits()
            .into()
    }
}

/// `f` on f64 values as a function of their register images.
fn f64s(f: impl Fn(f64, f64) -> f64) -> impl Fn(u64, u64) -> u64 {
    move |a, x| f(f64::from_bits(a), f64::from_bits(x)).to_bits()
}

/// IEEE 754-2019 `minimum` (`min`) or `maximum` of two f32 register images: a NaN if
/// either is NaN, `-0.0` below `+0.0`. Branch-free, so that the resolver's folds vectorise
/// (a compare-and-branch step took 5-6 cycles): the images map to keys whose unsigned order
/// is the floats' order, NaNs to the key that wins (`u32::MAX` for `max`, 0 for `min`, which
/// no other value has), and the winning key maps back (a NaN for the NaN key; fold_all then
/// makes it the default NaN).
fn ordered_f32(a: u64, b: u64, min: bool) -> u64 {
    let nan_key = if min { 0 } else { u32::MAX };
    let (ka, kb) = (f32_key(a as u32, nan_key), f32_key(b as u32, nan_key));
    u64::from(f32_of_key(if min { ka.min(kb) } else { ka.max(kb) }))
}

/// The key of f32 image `u` ([`ordered_f32`]): unsigned order is the floats' order; a NaN
/// takes `nan_key`.
#[inline(always)]
fn f32_key(u: u32, nan_key: u32) -> u32 {
    if f32_nan(u) {
        nan_key
    } else {
        u ^ ((((u as i32) >> 31) as u32) | 0x8000_0000)
    }
}

/// The f32 image of key `k` ([`f32_key`]'s inverse; a NaN for either NaN key).
#[inline(always)]
fn f32_of_key(k: u32) -> u32 {
    k ^ (!(((k as i32) >> 31) as u32) | 0x8000_0000)
}

/// Whether f32 image `u` is a NaN.
#[inline(always)]
fn f32_nan(u: u32) -> bool {
    u & 0x7fff_ffff > 0x7f80_0000
}

/// [`fold_f32_ordered`], compiled for AVX2 where `AVX2` (eight lanes a step). A call of
/// its own: inlined, it grew the resolver's frame, and every call of it (a tree reduction's
/// bar.sync) took longer.
///
/// # Safety
///
/// The CPU has AVX2 where `AVX2`.
#[inline(never)]
unsafe fn fold_f32<const MIN: bool, const AVX2: bool>(vals: &[u32]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: the caller's.
        return unsafe { fold_f32_avx2::<MIN>(vals) };
    }
    fold_f32_ordered::<MIN>(vals)
}

/// [`fold_f32_ordered`] compiled for AVX2.
///
/// # Safety
///
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fold_f32_avx2<const MIN: bool>(vals: &[u32]) -> u64 {
    fold_f32_ordered::<MIN>(vals)
}

/// The f32 `min` (`MIN`) or `max` of every lane's 4-byte slot, as [`fold_all`] gives it
/// (a NaN result is the default NaN), over [`ordered_f32`]'s keys in eight accumulators of
/// `u32`, which vectorise (a block `reduce.max` of 1,024 lanes took 1.5 ns a lane folded
/// one compare and branch at a time).
#[inline(always)]
fn fold_f32_ordered<const MIN: bool>(vals: &[u32]) -> u64 {
    const W: usize = 8;
    if vals.is_empty() {
        return 0;
    }
    // The keys NaNs take win; the identity (the other end) is no value's key.
    let (nan_key, identity) = if MIN { (0, u32::MAX) } else { (u32::MAX, 0) };
    let key = |u: u32| f32_key(u, nan_key);
    let pick = |a: u32, b: u32| if MIN { a.min(b) } else { a.max(b) };
    let mut acc = [identity; W];
    let chunks = vals.chunks_exact(W);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..W {
            acc[k] = pick(acc[k], key(c[k]));
        }
    }
    let k = tail
        .iter()
        .fold(acc.into_iter().fold(identity, pick), |a, &v| {
            pick(a, key(v))
        });
    finish(Ty::F32, Some(u64::from(f32_of_key(k))))
}

/// [`ordered_f32`] for f64 images.
fn ordered_f64(a: u64, b: u64, min: bool) -> u64 {
    let nan_key = if min { 0 } else { u64::MAX };
    let key = |u: u64| {
        let k = u ^ ((((u as i64) >> 63) as u64) | 1 << 63);
        if u & !(1 << 63) > 0x7ff0_0000_0000_0000 {
            nan_key
        } else {
            k
        }
    };
    let (ka, kb) = (key(a), key(b));
    let k = if min { ka.min(kb) } else { ka.max(kb) };
    k ^ (!(((k as i64) >> 63) as u64) | 1 << 63)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A xorshift generator of test values from `s` (non-zero).
    fn xorshift(mut s: u64) -> impl FnMut() -> u64 {
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    fn fold_step(op: RedOp, ty: Ty, a: u64, b: u64) -> u64 {
        fold_all(op, ty, Seq([a, b].into_iter()))
    }

    fn f32s(op: RedOp, a: f32, b: f32) -> f32 {
        f32::from_bits(fold_step(op, Ty::F32, a.to_bits().into(), b.to_bits().into()) as u32)
    }

    #[test]
    fn float_min_max_are_ieee_minimum_maximum() {
        assert_eq!(f32s(RedOp::Min, 0.0, -0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f32s(RedOp::Min, -0.0, 0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f32s(RedOp::Max, -0.0, 0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(f32s(RedOp::Max, 0.0, -0.0).to_bits(), 0.0f32.to_bits());
        assert!(f32s(RedOp::Min, f32::NAN, 1.0).is_nan());
        assert!(f32s(RedOp::Max, 1.0, f32::NAN).is_nan());
        assert_eq!(f32s(RedOp::Max, f32::NEG_INFINITY, 2.0), 2.0);
        assert_eq!(f32s(RedOp::Min, 3.0, 2.0), 2.0);
        assert_eq!(f32s(RedOp::Add, 1.5, 2.25), 3.75);
        let m = fold_step(RedOp::Min, Ty::F64, (-0.0f64).to_bits(), 0.0f64.to_bits());
        assert_eq!(m, (-0.0f64).to_bits());
    }

    /// The fast path's eight accumulators give what the fold in lane order gives, for the
    /// folds it takes (min/max of floats with signed zeros, NaN-free or not; integers).
    #[test]
    fn any_order_folds_match_lane_order() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let f32_pool = [0.0f32, -0.0, 1.5, -2.0, 3.0, -0.0, 0.0, 7.25, -7.25];
        for len in [16usize, 17, 40, 97, 256] {
            for nan in [false, true] {
                let mut v: Vec<u32> = (0..len)
                    .map(|_| f32_pool[(next() % f32_pool.len() as u64) as usize].to_bits())
                    .collect();
                if nan {
                    v[len / 2] = f32::NAN.to_bits();
                }
                for op in [RedOp::Min, RedOp::Max] {
                    let wide = fold_all(op, Ty::F32, Slice(&v));
                    let seq = fold_all(op, Ty::F32, Seq(v.iter().map(|&x| u64::from(x))));
                    let (w, q) = (f32::from_bits(wide as u32), f32::from_bits(seq as u32));
                    assert!(
                        w.is_nan() == q.is_nan() && (w.is_nan() || wide == seq),
                        "{op:?} {v:?}"
                    );
                }
            }
            let ints: Vec<u64> = (0..len).map(|_| next()).collect();
            for ty in [Ty::I8, Ty::U16, Ty::I32, Ty::U32, Ty::I64, Ty::U64] {
                for op in RedOp::ALL {
                    let wide = fold_all(op, ty, Slice(&ints));
                    let seq = fold_all(op, ty, Seq(ints.iter().copied()));
                    assert_eq!(wide, seq, "{op:?} {ty}");
                }
            }
        }
    }

    /// IEEE 754-2019 `minimum`/`maximum` the plain way: NaN if either is NaN, `-0.0` below
    /// `+0.0` (the reference for the ordered keys).
    fn ieee(a: f64, b: f64, min: bool) -> f64 {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else if a == b {
            if a.is_sign_negative() == min {
                a
            } else {
                b
            }
        } else if (a < b) == min {
            a
        } else {
            b
        }
    }

    /// The branch-free folds over ordered keys ([`ordered_f32`], [`ordered_f64`],
    /// [`fold_f32_ordered`]) give the plain IEEE minimum/maximum in lane order, on signed
    /// zeros, infinities, subnormals, NaNs of both signs and payloads, and random bits.
    #[test]
    fn ordered_key_folds_are_ieee_minimum_maximum() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let special = [
            0.0f32.to_bits(),
            (-0.0f32).to_bits(),
            f32::INFINITY.to_bits(),
            f32::NEG_INFINITY.to_bits(),
            1,
            0x8000_0001,
            f32::MAX.to_bits(),
            f32::MIN.to_bits(),
            0x7fc0_0000,
            0xffc0_0001,
            0x7f80_0001,
            0xffff_ffff,
            0x7fff_ffff,
            1.0f32.to_bits(),
            (-1.0f32).to_bits(),
        ];
        for len in [1usize, 2, 7, 8, 9, 31, 64, 1000, 1024] {
            for nans in [false, true] {
                let v: Vec<u32> = (0..len)
                    .map(|_| {
                        let x = next();
                        match x % 4 {
                            0 => x as u32 >> 8,
                            _ => special[(x >> 8) as usize % special.len()],
                        }
                    })
                    .map(|u| match nans || u & 0x7fff_ffff <= 0x7f80_0000 {
                        true => u,
                        false => u & 0x807f_ffff,
                    })
                    .collect();
                for min in [true, false] {
                    let want = v
                        .iter()
                        .map(|&u| f64::from(f32::from_bits(u)))
                        .reduce(|a, x| ieee(a, x, min))
                        .map(|r| r as f32)
                        .unwrap_or(f32::NAN);
                    let fast = match min {
                        true => fold_f32_ordered::<true>(&v),
                        false => fold_f32_ordered::<false>(&v),
                    };
                    let op = if min { RedOp::Min } else { RedOp::Max };
                    let step = fold_all(op, Ty::F32, Seq(v.iter().map(|&u| u64::from(u))));
                    let want = match want.is_nan() {
                        true => f32::NAN.to_bits(),
                        false => want.to_bits(),
                    };
                    assert_eq!(fast, u64::from(want), "min {min} len {len} {v:x?}");
                    assert_eq!(step, u64::from(want), "min {min} len {len} {v:x?}");
                    let wide: Vec<u64> = v
                        .iter()
                        .map(|&u| f64::from(f32::from_bits(u)).to_bits())
                        .collect();
                    let want64 = wide
                        .iter()
                        .map(|&u| f64::from_bits(u))
                        .reduce(|a, x| ieee(a, x, min))
                        .map_or(f64::NAN, |r| r);
                    let want64 = match want64.is_nan() {
                        true => f64::NAN.to_bits(),
                        false => want64.to_bits(),
                    };
                    assert_eq!(fold_all(op, Ty::F64, Seq(wide.iter().copied())), want64);
                    assert_eq!(fold_all(op, Ty::F64, Slice(&wide)), want64);
                }
            }
        }
    }

    #[test]
    fn integers_wrap_and_compare_in_their_type() {
        let i8c = |v: i8| Ty::I8.canon(v as u8 as u64);
        assert_eq!(fold_step(RedOp::Add, Ty::I8, i8c(127), i8c(1)), i8c(-128));
        assert_eq!(fold_step(RedOp::Min, Ty::I8, i8c(5), i8c(-3)), i8c(-3));
        assert_eq!(fold_step(RedOp::Max, Ty::U8, 0xff, 1), 0xff);
        assert_eq!(fold_step(RedOp::Mul, Ty::U32, 0x1_0000, 0x1_0000), 0);
        assert_eq!(fold_step(RedOp::Min, Ty::I64, u64::MAX, 0), u64::MAX);
        assert_eq!(fold_step(RedOp::Max, Ty::U64, u64::MAX, 0), u64::MAX);
        assert_eq!(
            fold_step(RedOp::Max, Ty::I32, Ty::I32.canon(-1i64 as u64), 0),
            0
        );
    }
}
