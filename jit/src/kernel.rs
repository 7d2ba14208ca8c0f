//! A compiled kernel: the machine code, the memory that holds it, and how to run it.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cranelift_jit::JITModule;

use crate::abi::{LaunchEnv, TrapRecord};
use crate::barrier::Barriers;
use crate::dump::{JitDump, Strategy};
use crate::translate::ScratchLayout;

/// The compiled function: `(env, scratch, trap, block_lo, block_hi) -> status` with status
/// 0 = ran to the end, 1 = trapped (record written), 2 = internal error.
pub(crate) type KernelFn =
    unsafe extern "C" fn(*const LaunchEnv, *mut u8, *mut TrapRecord, u32, u32) -> u32;

/// Why [`CompiledKernel::run_blocks`] refused to run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The launch environment does not fit the program or violates docs/ISA.md's limits.
    #[error("invalid launch: {0}")]
    Invalid(String),
    /// The compiled code reached a state it should never reach (a JIT bug).
    #[error("internal JIT error in kernel `{0}`: unexpected resume point")]
    Internal(String),
}

/// Per-thread working memory for running kernels: the block's shared memory and the spill
/// area used when a vector group falls back to per-lane code. One `Scratch` can serve any
/// kernel (it grows to the largest need); it must not be shared between threads running at
/// the same time (`&mut` enforces that).
#[derive(Default)]
pub struct Scratch {
    buf: Vec<Line>,
}

/// 64 bytes, 64-byte aligned: shared memory starts 64-byte aligned (docs/ISA.md 5.1).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

impl Scratch {
    /// An empty scratch area (it grows on first use).
    pub fn new() -> Self {
        Scratch::default()
    }

    /// Makes room for `bytes` bytes and returns the base pointer.
    #[inline]
    fn ensure(&mut self, bytes: u32) -> *mut u8 {
        let lines = lines(bytes);
        if self.buf.len() < lines {
            self.grow(lines);
        }
        self.buf.as_mut_ptr().cast()
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, lines: usize) {
        self.buf.resize(lines, Line([0; 64]));
    }

    /// Debug builds: makes room for a guard line after `bytes` and fills it, so that
    /// [`Scratch::guard_intact`] can tell whether a kernel wrote past its layout.
    #[cfg(debug_assertions)]
    fn set_guard(&mut self, bytes: u32) {
        let at = lines(bytes);
        if self.buf.len() <= at {
            self.grow(at + 1);
        }
        self.buf[at] = Line(GUARD);
    }

    /// Debug builds: whether the guard line after `bytes` is as [`Scratch::set_guard`] left
    /// it.
    #[cfg(debug_assertions)]
    fn guard_intact(&self, bytes: u32) -> bool {
        let at = lines(bytes);
        self.buf.get(at).is_some_and(|l| l.0 == GUARD)
    }
}

/// The lines [`Scratch::ensure`] makes room for to hold `bytes` bytes (the guard line of
/// debug builds is the one after them).
fn lines(bytes: u32) -> usize {
    (bytes as usize).div_ceil(64).max(1)
}

/// The guard line's pattern (debug builds).
#[cfg(debug_assertions)]
const GUARD: [u8; 64] = [0xA5; 64];

/// A kernel compiled to machine code. It owns its code memory (one `JITModule` per kernel),
/// which is freed when the kernel is dropped. The VM keeps it in an `Arc` while launches run,
/// so the drop happens only after the last launch using the code has returned.
pub struct CompiledKernel {
    pub(crate) func: KernelFn,
    pub(crate) module: Mutex<Option<JITModule>>,
    pub(crate) layout: ScratchLayout,
    pub(crate) num_params: usize,
    pub(crate) name: String,
    pub(crate) dump: JitDump,
    /// The measured cost of one lane of a launch in picoseconds ([`CompiledKernel::estimated_time`]);
    /// 0 until a launch records one.
    pub(crate) lane_cost_ps: AtomicU64,
    /// Launches the estimate said to split ([`CompiledKernel::retime_due`]).
    pub(crate) split_launches: AtomicU64,
    /// Phased kernels: the barrier table their code passes to the resolution (barrier.rs)
    /// by address, so it must live as long as the code.
    pub(crate) _barriers: Option<Box<Barriers>>,
    /// Whether the code runs consecutive blocks as one (translate/block_runs.rs): its trap
    /// records name the run's first block and the lane within the run.
    pub(crate) block_runs: bool,
    /// The lanes of a vector group (0: the kernel runs every lane in per-lane code).
    pub(crate) group: u32,
    /// Whether a partial last group runs as the full group ending at the limit
    /// (vector/tail.rs), so that only runs shorter than a group have lanes in per-lane code.
    pub(crate) tail_reruns: bool,
    /// Whether a block's partial last group runs as vector code with phantom lanes when
    /// enough of its lanes are in the block (vector/partial.rs; compiled with
    /// [`crate::JitOptions::partial`]).
    pub(crate) tail_partial: bool,
    /// Whether the program allows that (a compile with the option would do it).
    pub(crate) partial_capable: bool,
    /// Whether the program stores inside a loop (so a partial group of a variant runs its
    /// stores there lane by lane).
    pub(crate) stores_in_loops: bool,
}

/// A compile of a kernel's program, other than the kernel itself, that a launch runs
/// ([`CompiledKernel::variant_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaunchVariant {
    /// Compiled with vector groups of this many lanes, narrower than the kernel's.
    Narrower(u32),
    /// Compiled with [`crate::JitOptions::partial`]: a block's partial last group runs as
    /// vector code.
    Partial,
}

/// The vector group, narrower than `group`, for runs of `run` lanes (a block's, or a launch's
/// where blocks run as one) that leave more than an eighth of their lanes after the last
/// full group of `group`: the widest of 16, 8 and 4 lanes that leaves at most an eighth.
/// `None` where `group` leaves at most an eighth, or no narrower group does.
///
/// Lanes after a run's last full group run in per-lane code, several times slower per lane
/// than vector code (a scalar `add.f32` chain against eight vectors in flight): a sum over
/// 2^20 elements by one block of 16 lanes took 1.1-1.6 ms with groups of 32 (every lane in
/// per-lane code) and 47 us with groups of 16; a block of 40 lanes 265-366 us with 32 (eight
/// lanes in per-lane code do a fifth of the work) and 105 us with 8. Where the tail is small
/// the wider group wins: a tree sum over blocks of 200 lanes ran in 51 us with groups of 32
/// (eight lanes left) and 60 us with 8; softmax rows over blocks of 100 in 103 us with 8
/// (four left), 105 us with 4.
///
/// ```
/// use holovm_jit::narrower_group;
/// assert_eq!(narrower_group(32, 256), None); // whole groups
/// assert_eq!(narrower_group(32, 16), Some(16)); // no full group of 32
/// assert_eq!(narrower_group(32, 40), Some(8)); // 8 of 40 lanes left with 32, none with 8
/// assert_eq!(narrower_group(32, 200), None); // 8 of 200 left: at most an eighth
/// assert_eq!(narrower_group(32, 3), None); // no group fits
/// ```
pub fn narrower_group(group: u32, run: u64) -> Option<u32> {
    // Groups are powers of two: a mask, not a division (this runs on some launches).
    let left = |g: u32| match g.is_power_of_two() {
        true => run & u64::from(g - 1),
        false => run % u64::from(g),
    };
    let fits = |g: u32| g > 0 && left(g) * 8 <= run;
    if fits(group) {
        return None;
    }
    [16, 8, 4].into_iter().find(|&g| g < group && fits(g))
}

/// Every how many launches that the estimate would split one runs on one thread instead, to
/// be timed again ([`CompiledKernel::retime_due`]).
pub const RETIME_EVERY: u64 = 64;

impl std::fmt::Debug for CompiledKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledKernel")
            .field("name", &self.name)
            .field("strategy", &self.dump.strategy)
            .field("code_size", &self.dump.code_size)
            .finish()
    }
}

impl CompiledKernel {
    /// The kernel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the compiler did: CLIF, disassembly, strategy, size, time.
    pub fn dump(&self) -> &JitDump {
        &self.dump
    }

    /// The execution strategy chosen for this kernel.
    pub fn strategy(&self) -> &Strategy {
        &self.dump.strategy
    }

    /// How long a launch of `lanes` lanes is expected to take on one thread, from the last
    /// launch recorded with [`CompiledKernel::record_lane_cost`]; `None` if none was. A VM
    /// uses it to decide whether a launch is worth splitting across threads (the split costs
    /// microseconds).
    pub fn estimated_time(&self, lanes: u64) -> Option<Duration> {
        let ps = self.lane_cost_ps.load(Ordering::Relaxed);
        (ps != 0).then(|| Duration::from_nanos(ps.saturating_mul(lanes) / 1000))
    }

    /// Records that a launch of `lanes` lanes took `elapsed` on one thread. The estimate
    /// follows the records (a kernel's cost can depend on its arguments): down at once, up
    /// by at most twice per record, so that one launch slowed by the machine (an interrupt,
    /// another process) does not make the next 64 split. (Parallel launches are not
    /// recorded: their wall time times the threads is only an upper bound, and for a launch
    /// the split made slower it would keep the estimate above the bar that made it split.)
    pub fn record_lane_cost(&self, elapsed: Duration, lanes: u64) {
        let ps = elapsed.as_nanos().saturating_mul(1000) / u128::from(lanes.max(1));
        let ps = u64::try_from(ps).unwrap_or(u64::MAX).max(1);
        let old = self.lane_cost_ps.load(Ordering::Relaxed);
        let ps = if old == 0 {
            ps
        } else {
            ps.min(old.saturating_mul(2))
        };
        self.lane_cost_ps.store(ps, Ordering::Relaxed);
    }

    /// Counts a launch that the estimate would split across threads; true for every
    /// [`RETIME_EVERY`]th, which should run on one thread instead so that
    /// [`CompiledKernel::record_lane_cost`] refreshes the estimate (one launch in 64 at
    /// single-thread speed, so a kernel whose lanes got cheaper does not stay split).
    pub fn retime_due(&self) -> bool {
        self.split_launches.fetch_add(1, Ordering::Relaxed) % RETIME_EVERY == RETIME_EVERY - 1
    }

    /// The lanes of the kernel's vector group: the vector code runs that many lanes at once
    /// (0: every lane runs in per-lane code).
    pub fn group(&self) -> u32 {
        self.group
    }

    /// The compile of this kernel's program that a launch of `grid` blocks of `block` lanes
    /// should run instead of this kernel, if any: a variant with a narrower vector group
    /// where this kernel's group leaves many of the blocks' lanes in per-lane code (see
    /// [`narrower_group`]), or the variant compiled with [`crate::JitOptions::partial`]
    /// (the same group; a block's partial last group runs as vector code, its lanes past
    /// the block phantoms) where the program allows it (barriers; or blocks of their own
    /// whose partial group cannot run again as the one ending at the block's last lane),
    /// this kernel was compiled without it, the blocks' last group has at least four lanes
    /// in the block (two in groups of 8 or fewer) and no narrower group fits the blocks in
    /// as few groups (for a program that stores in a loop: no narrower group fits). The
    /// option costs every group a little (sum over 64 blocks of 256 lanes: 5-10%), so the VM
    /// compiles it as a variant for the launches it helps (sum over one block of 250 lanes:
    /// 108-151 -> 56-62 us). The lanes that share a run are the block's, or the launch's
    /// for a kernel that runs blocks as one.
    #[inline]
    pub fn variant_for(&self, grid: u32, block: u32) -> Option<LaunchVariant> {
        let run = match self.block_runs {
            true => u64::from(grid) * u64::from(block),
            false => u64::from(block),
        };
        // Nothing to change for per-lane kernels and runs of whole groups (the common
        // case, tested without a division: groups are powers of two).
        if self.group == 0 || run & u64::from(self.group - 1) == 0 {
            return None;
        }
        // No narrower group for runs shorter than the narrowest (a one-lane launch), nor
        // where a partial group reruns its first lanes (vector/tail.rs).
        let narrower = match run < 4 || (self.tail_reruns && run > u64::from(self.group)) {
            true => None,
            false => narrower_group(self.group, run),
        };
        if self.partial_capable && self.partial_tail(run) {
            // A partial group in vector code beats narrower groups where it makes fewer
            // groups: a reduction's lanes are add chains, and fewer groups run fewer in turn
            // (sum over 2^20 elements, groups of 32: blocks of 24 lanes 49 us against 106 with
            // groups of 8; 80 lanes 56-60 against 69 with 16; but 16 lanes 71 us against 47
            // with one group of 16).
            // A program that stores in a loop takes any narrower group that fits: a partial
            // group's stores there write its real lanes one by one (partial.rs).
            let groups = run.div_ceil(u64::from(self.group));
            let fewer = |g: u32| run / u64::from(g) <= groups;
            return match narrower.filter(|&g| self.stores_in_loops || fewer(g)) {
                Some(g) => Some(LaunchVariant::Narrower(g)),
                None => (!self.tail_partial).then_some(LaunchVariant::Partial),
            };
        }
        narrower.map(LaunchVariant::Narrower)
    }

    /// The narrower vector group that a launch of `grid` blocks of `block` lanes should run
    /// with instead of this kernel's ([`CompiledKernel::group`]), or `None` if it should not
    /// ([`CompiledKernel::variant_for`]).
    #[inline]
    pub fn narrower_group(&self, grid: u32, block: u32) -> Option<u32> {
        match self.variant_for(grid, block) {
            Some(LaunchVariant::Narrower(g)) => Some(g),
            _ => None,
        }
    }

    /// Whether a launch of `grid` blocks of `block` lanes should run the variant of this
    /// kernel compiled with [`crate::JitOptions::partial`] ([`CompiledKernel::variant_for`]).
    #[inline]
    pub fn partial_variant_fits(&self, grid: u32, block: u32) -> bool {
        self.variant_for(grid, block) == Some(LaunchVariant::Partial)
    }

    /// Whether runs of `run` lanes end in a partial group of enough lanes for it to run as
    /// vector code (vector/partial.rs).
    fn partial_tail(&self, run: u64) -> bool {
        self.group > 0
            && run & u64::from(self.group - 1) >= u64::from(crate::vector::min_partial(self.group))
    }

    /// Whether a block's partial last group runs as vector code in this kernel
    /// ([`crate::JitOptions::partial`]).
    pub fn partial_groups(&self) -> bool {
        self.tail_partial
    }

    /// Bytes of scratch memory one thread needs to run this kernel.
    pub fn scratch_bytes(&self) -> u32 {
        self.layout.total
    }

    /// Runs the blocks `blocks` of a launch, in order, stopping at the first block that
    /// traps. On return `trap.kind == 0` if nothing trapped; otherwise `trap` holds the trap
    /// of the lowest trapping lane of that block (docs/ISA.md section 7), so a VM that splits
    /// a launch into block ranges reports the trap of the lowest range that has one.
    ///
    /// # Safety
    ///
    /// For the whole call, `env.params` must point to `env.num_params` slots; every buffer
    /// slot's `ptr` must be valid for reads and writes of `len` bytes (or `len == 0`), as
    /// must `env.pool` for `env.pool_len` bytes, and that memory must not be accessed through
    /// Rust references while the call runs (other threads running other blocks of the same
    /// launch may access it through raw pointers, as the ISA allows).
    #[inline]
    pub unsafe fn run_blocks(
        &self,
        env: &LaunchEnv,
        blocks: Range<u32>,
        scratch: &mut Scratch,
        trap: &mut TrapRecord,
    ) -> Result<(), LaunchError> {
        *trap = TrapRecord::default();
        // One branch on the common path; the cold function says what is wrong.
        let valid = env.num_params as usize == self.num_params
            && env.block != 0
            && env.block <= holovm_isa::MAX_BLOCK
            && env.grid != 0
            && env.grid as u64 * env.block as u64 <= u32::MAX as u64
            && blocks.start <= blocks.end
            && blocks.end <= env.grid;
        if !valid {
            return Err(self.invalid_launch(env, &blocks));
        }
        if blocks.is_empty() {
            return Ok(());
        }
        if self.num_params > 0 && env.params.is_null() {
            return Err(self.invalid_launch(env, &blocks));
        }
        #[cfg(debug_assertions)]
        scratch.set_guard(self.layout.total);
        let base = scratch.ensure(self.layout.total);
        // SAFETY: `func` was produced by `compile` for this kernel's signature and stays
        // mapped while `self` lives (the module is only freed in `Drop`). The launch values
        // were validated above (shape, block range, parameter count); the caller guarantees
        // the pointers in `env` (see `# Safety`). `base` points to at least
        // `layout.total` bytes of 64-byte aligned scratch memory owned by `scratch`, which is
        // exclusively borrowed for the call, and `trap` is a valid exclusive reference.
        let status = unsafe { (self.func)(env, base, trap, blocks.start, blocks.end) };
        // Debug builds (the test suite): compiled code stays inside its scratch layout.
        #[cfg(debug_assertions)]
        assert!(
            scratch.guard_intact(self.layout.total),
            "kernel `{}` wrote past its {} bytes of scratch memory",
            self.name,
            self.layout.total
        );
        if self.block_runs {
            crate::translate::remap_trap(trap, env.block);
        }
        match status {
            0 | 1 => Ok(()),
            _ => Err(self.internal_error()),
        }
    }

    /// What is wrong with a launch `run_blocks` refused.
    #[cold]
    #[inline(never)]
    fn invalid_launch(&self, env: &LaunchEnv, blocks: &Range<u32>) -> LaunchError {
        LaunchError::Invalid(if env.num_params as usize != self.num_params {
            format!(
                "kernel `{}` takes {} parameters, the launch binds {}",
                self.name, self.num_params, env.num_params
            )
        } else if env.block == 0 || env.block > holovm_isa::MAX_BLOCK {
            format!("block size {} is not in 1..=1024", env.block)
        } else if env.grid == 0 || env.grid as u64 * env.block as u64 > u32::MAX as u64 {
            format!(
                "grid {} x block {} is not a valid launch shape",
                env.grid, env.block
            )
        } else if blocks.start > blocks.end || blocks.end > env.grid {
            format!(
                "block range {}..{} is not within the grid of {}",
                blocks.start, blocks.end, env.grid
            )
        } else {
            "null parameter array".into()
        })
    }

    #[cold]
    #[inline(never)]
    fn internal_error(&self) -> LaunchError {
        LaunchError::Internal(self.name.clone())
    }
}

impl Drop for CompiledKernel {
    fn drop(&mut self) {
        let module = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(module) = module {
            // SAFETY: we own the only handle to this module and its code; `&mut self` in
            // `drop` means no `run_blocks` call on this kernel is in progress (it borrows
            // `&self`), and the function pointer is not used after this point.
            unsafe { module.free_memory() };
        }
    }
}
