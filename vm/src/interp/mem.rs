//! Memory instructions: `ldg`, `stg`, `lds`, `sts`.
//!
//! Every access is bounds- and alignment-checked before it happens (docs/ISA.md, sections 5.1
//! and 6). Offsets are computed exactly (in `i128`, no wrapping), so a negative or huge offset
//! is simply out of bounds.
//!
//! **Soundness with parallel blocks.** Blocks of one launch may run on several threads and
//! may race on the same element. Every access to global memory (buffers and the pool) through
//! the per-lane paths is therefore a relaxed atomic load or store of the access width, at a
//! naturally aligned address (checked), which is race-free by definition (and a plain `mov` on
//! x86-64). When the launch runs on a single thread (`Env::plain`), no other thread can touch
//! the memory at all — the VM lock is held and no worker exists — so the contiguous fast paths
//! may use ordinary (vectorisable) slice copies. Shared memory belongs to the block's own
//! thread and is always accessed plainly in the fast paths.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

use holovm_isa::POOL_HANDLE;

use super::regs::{Acc, Lane, Regs};
use super::{Active, Fault, FaultAccess, Opnd, SpaceId};
use crate::TrapKind;

/// A memory space of a launch: a base address aligned to 64 bytes and a length in bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    pub(crate) base: *mut u8,
    pub(crate) len: u64,
}

impl Region {
    /// A space no access fits in.
    pub(crate) const EMPTY: Region = Region {
        base: std::ptr::null_mut(),
        len: 0,
    };
}

/// What a launch's lanes see of global memory, plus the launch-wide uniform values.
pub(crate) struct Env<'a> {
    /// Per parameter: the bound buffer, `None` for scalar parameters.
    pub(crate) spaces: &'a [Option<Region>],
    /// The boundary pool.
    pub(crate) pool: Region,
    /// True when the launch runs on one thread, so global memory may be accessed plainly.
    pub(crate) plain: bool,
    /// The uniform-value table (decode's `UniSrc`s resolved for this launch).
    pub(crate) uni: &'a [u64],
    /// Fuel per lane.
    pub(crate) fuel: u64,
}

// SAFETY: `Env` is shared by the worker threads of one launch. Its raw pointers point into
// buffers and the pool, which stay allocated and are not otherwise accessed for the whole
// launch (the launch holds the VM lock). Through a shared `Env`, memory is only accessed with
// atomic operations unless `plain` is set, and `plain` is only set when the launch runs on a
// single thread (see the module docs).
unsafe impl Sync for Env<'_> {}

impl Env<'_> {
    #[inline(always)]
    fn param(&self, p: u32) -> Region {
        match self.spaces.get(p as usize) {
            Some(Some(s)) => *s,
            _ => Region::EMPTY,
        }
    }

    /// The space a global pointer's high half names.
    #[inline(always)]
    fn pointer_space(&self, handle: u32) -> (SpaceId, Region) {
        if handle == POOL_HANDLE {
            return (SpaceId::Pool, self.pool);
        }
        match self.spaces.get(handle as usize) {
            Some(Some(s)) => (SpaceId::Param(handle), *s),
            _ => (SpaceId::Invalid(handle), Region::EMPTY),
        }
    }
}

/// A decoded global address (docs/ISA.md, section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GAddr {
    /// `[buf + off]`: the same address for every lane.
    BufOff { p: u32, off: u32 },
    /// `[buf + idx*scale]`; `contig` when `idx` is `%lane` or `%gid` and `scale` is the access
    /// size, so the lanes of a block access consecutive elements.
    BufIdx {
        p: u32,
        idx: Opnd,
        scale: u8,
        contig: bool,
    },
    /// `[phi(..)]` (`off` = class*12288 + page*256 + byte), optionally `+ idx*scale`.
    Phi {
        off: u32,
        idx: Option<(Opnd, u8)>,
        contig: bool,
    },
    /// `[rB + off]`: a global pointer plus a signed constant.
    Ind { r: u32, off: i32 },
    /// `[rH + rO]`: a global pointer plus a `u64` register offset.
    IndC { h: u32, o: u32 },
}

/// A decoded shared-memory address `[shared + idx*scale + off]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SAddr {
    pub(crate) idx: Option<(Opnd, u8)>,
    pub(crate) off: u32,
    pub(crate) contig: bool,
}

/// How an addressing mode computes each lane's address.
trait Mode {
    /// The same address for every lane.
    fn uniform(&self) -> bool;
    /// Lane `l` accesses lane 0's offset plus `l * size`.
    fn contig(&self) -> bool;
    /// The space and exact byte offset of lane `l`.
    fn lane(&self, regs: &Regs, uni: &[u64], l: usize) -> (SpaceId, Region, i128);
    /// An address `off + index * scale` in one space through a register index (a gather
    /// such as `[a + r3*4]`), for the indexed path.
    fn indexed(&self) -> Option<Indexed>;
}

/// An address through a register index ([`Mode::indexed`]): lane `l`'s offset in the space
/// is `off + row[l] * scale`, the row read as `u64`.
struct Indexed {
    id: SpaceId,
    space: Region,
    row: u32,
    scale: u8,
    off: i128,
}

struct Global<'a, 'e> {
    a: &'a GAddr,
    env: &'a Env<'e>,
}

impl Mode for Global<'_, '_> {
    #[inline(always)]
    fn uniform(&self) -> bool {
        matches!(self.a, GAddr::BufOff { .. } | GAddr::Phi { idx: None, .. })
    }

    #[inline(always)]
    fn contig(&self) -> bool {
        matches!(
            self.a,
            GAddr::BufIdx { contig: true, .. } | GAddr::Phi { contig: true, .. }
        )
    }

    #[inline(always)]
    fn lane(&self, regs: &Regs, uni: &[u64], l: usize) -> (SpaceId, Region, i128) {
        match *self.a {
            GAddr::BufOff { p, off } => (SpaceId::Param(p), self.env.param(p), off as i128),
            GAddr::BufIdx { p, idx, scale, .. } => {
                let i = regs.get::<u64>(idx, l, uni);
                (
                    SpaceId::Param(p),
                    self.env.param(p),
                    i as i128 * scale as i128,
                )
            }
            GAddr::Phi { off, idx, .. } => {
                let x = match idx {
                    Some((i, s)) => regs.get::<u64>(i, l, uni) as i128 * s as i128,
                    None => 0,
                };
                (SpaceId::Pool, self.env.pool, off as i128 + x)
            }
            GAddr::Ind { r, off } => {
                let ptr = regs.get_u64(r, l);
                let (id, sp) = self.env.pointer_space((ptr >> 32) as u32);
                (id, sp, ptr as u32 as i128 + off as i128)
            }
            GAddr::IndC { h, o } => {
                let ptr = regs.get_u64(h, l);
                let (id, sp) = self.env.pointer_space((ptr >> 32) as u32);
                (id, sp, ptr as u32 as i128 + regs.get_u64(o, l) as i128)
            }
        }
    }

    #[inline(always)]
    fn indexed(&self) -> Option<Indexed> {
        match *self.a {
            GAddr::BufIdx {
                p,
                idx: Opnd::Row(row),
                scale,
                ..
            } => Some(Indexed {
                id: SpaceId::Param(p),
                space: self.env.param(p),
                row,
                scale,
                off: 0,
            }),
            GAddr::Phi {
                off,
                idx: Some((Opnd::Row(row), scale)),
                ..
            } => Some(Indexed {
                id: SpaceId::Pool,
                space: self.env.pool,
                row,
                scale,
                off: off as i128,
            }),
            _ => None,
        }
    }
}

struct Shared<'a> {
    a: &'a SAddr,
    space: Region,
}

impl Mode for Shared<'_> {
    #[inline(always)]
    fn uniform(&self) -> bool {
        self.a.idx.is_none()
    }

    #[inline(always)]
    fn contig(&self) -> bool {
        self.a.contig
    }

    #[inline(always)]
    fn lane(&self, regs: &Regs, uni: &[u64], l: usize) -> (SpaceId, Region, i128) {
        let x = match self.a.idx {
            Some((i, s)) => regs.get::<u64>(i, l, uni) as i128 * s as i128,
            None => 0,
        };
        (SpaceId::Shared, self.space, x + self.a.off as i128)
    }

    #[inline(always)]
    fn indexed(&self) -> Option<Indexed> {
        match self.a.idx {
            Some((Opnd::Row(row), scale)) => Some(Indexed {
                id: SpaceId::Shared,
                space: self.space,
                row,
                scale,
                off: self.a.off as i128,
            }),
            _ => None,
        }
    }
}

/// Lanes a step of the indexed path ([`indexed_addrs`]) takes.
const STEP: usize = 64;

/// The indexed path's steps over a block of `n` lanes, in lane order: `step(first, ptrs)`
/// for the lanes `first..first + ptrs.len()` (at most [`STEP`]), until one faults.
#[inline(always)]
fn indexed_steps(
    n: usize,
    mut step: impl FnMut(usize, &mut [*mut u8]) -> Result<(), Fault>,
) -> Result<(), Fault> {
    let mut ptrs = [std::ptr::null_mut(); STEP];
    for first in (0..n).step_by(STEP) {
        step(first, &mut ptrs[..STEP.min(n - first)])?;
    }
    Ok(())
}

/// The checked addresses of lanes `first..first + ptrs.len()` of an indexed access of
/// `size` bytes, into `ptrs`: how many lanes come before the first faulting one, and its
/// fault. Checked before any lane is accessed, so a load may write the index's row.
#[inline(always)]
fn indexed_addrs(
    regs: &Regs,
    x: &Indexed,
    size: u32,
    first: usize,
    ptrs: &mut [*mut u8],
) -> (usize, Option<Fault>) {
    let (lo, hi) = (regs.lo(x.row), regs.hi(x.row));
    let lanes = first..first + ptrs.len();
    for (i, ((p, &l), &h)) in ptrs
        .iter_mut()
        .zip(&lo[lanes.clone()])
        .zip(&hi[lanes])
        .enumerate()
    {
        let index = u64::from(l) | u64::from(h) << 32;
        // In u64 while it fits (the offset is never negative): in bounds and aligned, the
        // address; otherwise `check` on the exact offset says which fault.
        let fits = index
            .checked_mul(u64::from(x.scale))
            .and_then(|o| o.checked_add(x.off as u64))
            .filter(|&o| {
                o.checked_add(u64::from(size))
                    .is_some_and(|e| e <= x.space.len)
            })
            .filter(|&o| o & (u64::from(size) - 1) == 0);
        match fits {
            // In bounds: `o + size <= len`, so the address stays inside the space.
            Some(o) => *p = x.space.base.wrapping_add(o as usize),
            None => {
                let off = x.off + index as i128 * x.scale as i128;
                match check(x.id, x.space, off, size, first + i) {
                    Ok(a) => *p = a,
                    Err(f) => return (i, Some(f)),
                }
            }
        }
    }
    (ptrs.len(), None)
}

/// An unsigned type of an access width, with relaxed atomic loads and stores.
pub(crate) trait MemLane: Lane {
    const SIZE: u32;
    /// # Safety
    /// `p` is valid for reads of `SIZE` bytes, aligned to `SIZE`, and not accessed
    /// non-atomically by another thread at the same time.
    unsafe fn load(p: *const u8) -> Self;
    /// # Safety
    /// As for `load`, for writes.
    unsafe fn store(p: *mut u8, v: Self);
}

macro_rules! mem_lane {
    ($($t:ty, $atomic:ty;)*) => {$(
        impl MemLane for $t {
            const SIZE: u32 = std::mem::size_of::<$t>() as u32;
            #[inline(always)]
            unsafe fn load(p: *const u8) -> Self {
                // SAFETY: guaranteed by the caller (see the trait docs); the atomic type has
                // the size and alignment of `$t`.
                unsafe { <$atomic>::from_ptr(p as *mut $t) }.load(Ordering::Relaxed)
            }
            #[inline(always)]
            unsafe fn store(p: *mut u8, v: Self) {
                // SAFETY: as in `load`.
                unsafe { <$atomic>::from_ptr(p as *mut $t) }.store(v, Ordering::Relaxed)
            }
        }
    )*};
}
mem_lane!(u8, AtomicU8; u16, AtomicU16; u32, AtomicU32; u64, AtomicU64;);

/// Checks an access of `size` bytes at `off` in `space` and returns its address.
#[inline(always)]
fn check(id: SpaceId, space: Region, off: i128, size: u32, lane: usize) -> Result<*mut u8, Fault> {
    let fault = |kind| Fault {
        lane: lane as u32,
        kind,
        access: Some(FaultAccess {
            space: id,
            offset: off,
            size,
        }),
    };
    if off < 0 || off + size as i128 > space.len as i128 {
        return Err(fault(TrapKind::OutOfBounds));
    }
    if (off as u64) & (size as u64 - 1) != 0 {
        return Err(fault(TrapKind::Misaligned));
    }
    // In bounds: `off + size <= len`, so the result stays inside the space's allocation.
    Ok(space.base.wrapping_add(off as usize))
}

/// For a contiguous full-block access: the address of lane 0's element when all `n` lanes'
/// accesses are in bounds and aligned, else `None` (the caller falls back to the per-lane
/// path, which finds the lowest faulting lane).
#[inline(always)]
fn contig_base<W: MemLane, M: Mode>(
    m: &M,
    regs: &Regs,
    uni: &[u64],
    (first, len): (usize, usize),
) -> Option<*mut u8> {
    let (_, space, start) = m.lane(regs, uni, first);
    let end = start + len as i128 * W::SIZE as i128;
    if start < 0 || end > space.len as i128 || (start as u64) & (W::SIZE as u64 - 1) != 0 {
        return None;
    }
    Some(space.base.wrapping_add(start as usize))
}

/// Hints the CPU to fetch `bytes` bytes from `p` into the cache (no access happens: any
/// address is allowed). Used to fetch the next block's elements of a contiguous access while
/// this block runs, which a block's short bursts do not let the hardware prefetcher do.
#[inline(always)]
fn prefetch(p: *const u8, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for off in (0..bytes).step_by(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `prefetch` needs SSE, part of the x86-64 baseline; a prefetch never faults
        // and has no effect on memory, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, bytes);
}

/// The active lanes as one run `first .. first + len` of consecutive lanes, if they are: the
/// whole block, or a list without gaps (the lanes left in the last block of a launch whose
/// size is not a multiple of the block, after the others exited).
#[inline(always)]
fn lane_run(act: &Active<'_>, n: usize) -> Option<(usize, usize)> {
    match act {
        Active::All => Some((0, n)),
        Active::List(l) => {
            let (&a, &b) = (l.first()?, l.last()?);
            (b - a + 1 == l.len() as u32).then_some((a as usize, l.len()))
        }
    }
}

/// The active lanes' run (see [`lane_run`]) and its first element's address, when a
/// contiguous access of theirs is in bounds and aligned ([`contig_base`]).
#[inline(always)]
fn contig_run<W: MemLane, M: Mode>(
    act: &Active<'_>,
    m: &M,
    regs: &Regs,
    uni: &[u64],
) -> Option<((usize, usize), *mut u8)> {
    let run = lane_run(act, regs.n).filter(|_| m.contig())?;
    Some((run, contig_base::<W, M>(m, regs, uni, run)?))
}

#[inline(always)]
fn first_lane(act: &Active<'_>) -> Option<usize> {
    match act {
        Active::All => Some(0),
        Active::List(l) => l.first().map(|&l| l as usize),
    }
}

#[inline(always)]
fn load_impl<W: MemLane, M: Mode>(
    regs: &mut Regs,
    uni: &[u64],
    act: Active<'_>,
    d: u32,
    m: &M,
    plain: bool,
) -> Result<(), Fault> {
    if m.uniform() {
        let Some(l0) = first_lane(&act) else {
            return Ok(());
        };
        let (id, sp, off) = m.lane(regs, uni, l0);
        let p = check(id, sp, off, W::SIZE, l0)?;
        // SAFETY: `check` proved `p..p+SIZE` inside the space and aligned; atomic access.
        let v = unsafe { W::load(p) };
        match act {
            Active::All => {
                let (lo, hi) = regs.row_mut(d);
                lo.fill(v.lo());
                if W::WIDE {
                    hi.fill(v.hi());
                }
                regs.finish_full::<W>(d);
            }
            Active::List(lanes) => {
                for &l in lanes {
                    regs.set::<W>(d, l as usize, v);
                }
            }
        }
        return Ok(());
    }
    if let Some((run, p)) = contig_run::<W, M>(&act, m, regs, uni) {
        let (first, n) = run;
        let (lo, hi) = regs.row_mut(d);
        let (lo, hi) = (&mut lo[first..first + n], &mut hi[first..first + n]);
        if plain {
            // The next block (run next by this thread) reads the following range.
            let bytes = n * W::SIZE as usize;
            prefetch(p.wrapping_add(bytes), bytes);
            // SAFETY: `contig_base` proved the `n` elements from `p` inside the space
            // and `p` aligned to `SIZE` (the space base is 64-aligned); in a plain
            // launch no other thread accesses the memory and no reference to it lives.
            let src = unsafe { std::slice::from_raw_parts(p as *const W, n) };
            if W::WIDE {
                for ((l, h), v) in lo.iter_mut().zip(hi.iter_mut()).zip(src) {
                    (*l, *h) = (v.lo(), v.hi());
                }
            } else {
                for (l, v) in lo.iter_mut().zip(src) {
                    *l = v.lo();
                }
            }
        } else {
            for i in 0..n {
                // SAFETY: element `i` is inside the checked range and aligned.
                let v = unsafe { W::load(p.wrapping_add(i * W::SIZE as usize)) };
                lo[i] = v.lo();
                if W::WIDE {
                    hi[i] = v.hi();
                }
            }
        }
        regs.finish_run::<W>(d, run);
        return Ok(());
    }
    let n = regs.n;
    if let (Active::All, Some(x)) = (act, m.indexed()) {
        // A gather: a step's addresses checked, then loaded in lane order (a lane at a
        // time through `Mode::lane` took 4-5 ns a lane).
        return indexed_steps(n, |first, ptrs| {
            let (ok, fault) = indexed_addrs(regs, &x, W::SIZE, first, ptrs);
            for (i, &p) in ptrs[..ok].iter().enumerate() {
                // SAFETY: `check` proved the access inside the space and aligned; atomic
                // access.
                let v = unsafe { W::load(p) };
                regs.set::<W>(d, first + i, v);
            }
            fault.map_or(Ok(()), Err)
        });
    }
    let mut lane = |l: usize| -> Result<(), Fault> {
        let (id, sp, off) = m.lane(regs, uni, l);
        let p = check(id, sp, off, W::SIZE, l)?;
        // SAFETY: `check` proved the access inside the space and aligned; atomic access.
        let v = unsafe { W::load(p) };
        regs.set::<W>(d, l, v);
        Ok(())
    };
    match act {
        Active::All => (0..n).try_for_each(&mut lane),
        Active::List(lanes) => lanes.iter().try_for_each(|&l| lane(l as usize)),
    }
}

#[inline(always)]
fn store_impl<W: MemLane, M: Mode>(
    regs: &Regs,
    uni: &[u64],
    act: Active<'_>,
    src: Opnd,
    m: &M,
    plain: bool,
) -> Result<(), Fault> {
    if let Some(((first, n), p)) = contig_run::<W, M>(&act, m, regs, uni) {
        match regs.all().acc::<W>(src, uni) {
            Acc::Row(lo, hi) => {
                let (lo, hi) = (&lo[first..first + n], &hi[first..first + n]);
                if plain {
                    let bytes = n * W::SIZE as usize;
                    prefetch(p.wrapping_add(bytes), bytes);
                    // SAFETY: as for the contiguous load; the store is the only
                    // access to these bytes while the slice lives.
                    let dst = unsafe { std::slice::from_raw_parts_mut(p as *mut W, n) };
                    if W::WIDE {
                        for ((x, &l), &h) in dst.iter_mut().zip(lo).zip(hi) {
                            *x = W::from_parts(l, h);
                        }
                    } else {
                        for (x, &l) in dst.iter_mut().zip(lo) {
                            *x = W::from_parts(l, 0);
                        }
                    }
                } else {
                    for i in 0..n {
                        let v = W::from_parts(lo[i], if W::WIDE { hi[i] } else { 0 });
                        // SAFETY: element `i` is inside the checked range and aligned.
                        unsafe { W::store(p.wrapping_add(i * W::SIZE as usize), v) };
                    }
                }
                return Ok(());
            }
            Acc::Uni(v) => {
                for i in 0..n {
                    // SAFETY: element `i` is inside the checked range and aligned.
                    unsafe { W::store(p.wrapping_add(i * W::SIZE as usize), v) };
                }
                return Ok(());
            }
            Acc::Dst => {}
        }
    }
    if let (Active::All, Some(x)) = (act, m.indexed()) {
        // A scatter: a step's addresses checked, then stored in lane order (the lanes
        // before a faulting one store, as lane by lane).
        return indexed_steps(regs.n, |first, ptrs| {
            let (ok, fault) = indexed_addrs(regs, &x, W::SIZE, first, ptrs);
            for (i, &p) in ptrs[..ok].iter().enumerate() {
                let v: W = regs.get(src, first + i, uni);
                // SAFETY: `check` proved the access inside the space and aligned; atomic
                // access.
                unsafe { W::store(p, v) };
            }
            fault.map_or(Ok(()), Err)
        });
    }
    // Per lane, in ascending lane order: the first fault is the lowest trapping lane, and
    // when lanes store to one address the highest lane's value stays.
    let lane = |l: usize| -> Result<(), Fault> {
        let (id, sp, off) = m.lane(regs, uni, l);
        let p = check(id, sp, off, W::SIZE, l)?;
        let v: W = regs.get(src, l, uni);
        // SAFETY: `check` proved the access inside the space and aligned; atomic access.
        unsafe { W::store(p, v) };
        Ok(())
    };
    match act {
        Active::All => (0..regs.n).try_for_each(lane),
        Active::List(lanes) => lanes.iter().try_for_each(|&l| lane(l as usize)),
    }
}

/// `ldg`: load into row `d`.
pub(crate) type LdgFn = fn(&mut Regs, &Env<'_>, Active<'_>, u32, &GAddr) -> Result<(), Fault>;
/// `stg`: store operand `src`.
pub(crate) type StgFn = fn(&Regs, &Env<'_>, Active<'_>, Opnd, &GAddr) -> Result<(), Fault>;
/// `lds`: load from the block's shared memory (the space is passed in).
pub(crate) type LdsFn = fn(&mut Regs, &[u64], Region, Active<'_>, u32, &SAddr) -> Result<(), Fault>;
/// `sts`: store to the block's shared memory.
pub(crate) type StsFn = fn(&Regs, &[u64], Region, Active<'_>, Opnd, &SAddr) -> Result<(), Fault>;

fn ldg_w<W: MemLane>(
    regs: &mut Regs,
    env: &Env<'_>,
    act: Active<'_>,
    d: u32,
    a: &GAddr,
) -> Result<(), Fault> {
    load_impl::<W, _>(regs, env.uni, act, d, &Global { a, env }, env.plain)
}

fn stg_w<W: MemLane>(
    regs: &Regs,
    env: &Env<'_>,
    act: Active<'_>,
    src: Opnd,
    a: &GAddr,
) -> Result<(), Fault> {
    store_impl::<W, _>(regs, env.uni, act, src, &Global { a, env }, env.plain)
}

fn lds_w<W: MemLane>(
    regs: &mut Regs,
    uni: &[u64],
    space: Region,
    act: Active<'_>,
    d: u32,
    a: &SAddr,
) -> Result<(), Fault> {
    load_impl::<W, _>(regs, uni, act, d, &Shared { a, space }, true)
}

fn sts_w<W: MemLane>(
    regs: &Regs,
    uni: &[u64],
    space: Region,
    act: Active<'_>,
    src: Opnd,
    a: &SAddr,
) -> Result<(), Fault> {
    store_impl::<W, _>(regs, uni, act, src, &Shared { a, space }, true)
}

/// The memory instructions of an access size (1, 2, 4 or 8 bytes).
pub(crate) fn ldg_fn(size: u32) -> LdgFn {
    match size {
        1 => ldg_w::<u8>,
        2 => ldg_w::<u16>,
        4 => ldg_w::<u32>,
        _ => ldg_w::<u64>,
    }
}

/// See [`ldg_fn`].
pub(crate) fn stg_fn(size: u32) -> StgFn {
    match size {
        1 => stg_w::<u8>,
        2 => stg_w::<u16>,
        4 => stg_w::<u32>,
        _ => stg_w::<u64>,
    }
}

/// See [`ldg_fn`].
pub(crate) fn lds_fn(size: u32) -> LdsFn {
    match size {
        1 => lds_w::<u8>,
        2 => lds_w::<u16>,
        4 => lds_w::<u32>,
        _ => lds_w::<u64>,
    }
}

/// See [`ldg_fn`].
pub(crate) fn sts_fn(size: u32) -> StsFn {
    match size {
        1 => sts_w::<u8>,
        2 => sts_w::<u16>,
        4 => sts_w::<u32>,
        _ => sts_w::<u64>,
    }
}
