//! [`Vm`]: buffers, the boundary pool, the decoded-program cache and launches.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use holovm_isa::{
    LaunchConfig, Param, ParamKind, Program, ProgramKey, Ty, POOL_BYTES, POOL_CLASSES,
    POOL_CLASS_BYTES,
};
use rayon::prelude::*;

use crate::error::{MemAccess, Space};
use crate::interp::decode::{decode, Decoded, UniSrc};
use crate::interp::exec::{run_block, BlockState, Counters};
use crate::interp::mem::{Env, Region};
use crate::interp::{ops, trap, BlockTrap, SpaceId};
use crate::memory::{AnyBuffer, Buffer, Memory};
use crate::tier::{self, JitCache, KeyMap, Tier};
use crate::{Element, Error, Trap};

static NEXT_VM_ID: AtomicU64 = AtomicU64::new(1);

/// Configuration of a [`Vm`].
///
/// ```
/// use holovm::{Vm, VmConfig};
/// let vm = Vm::with_config(VmConfig::default().fuel(1 << 20).single_thread(true));
/// assert_eq!(vm.config().fuel, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    /// Fuel per lane per launch: taken backward `bra`/`loop` and every `call` use one unit
    /// (docs/ISA.md, section 7); values above `2^63 - 1` act as `2^63 - 1`. Default `1 << 26`.
    pub fuel: u64,
    /// Run every launch on the calling thread. Default `false`.
    pub single_thread: bool,
    /// Smallest launch, in lanes (`grid * block`), that runs its blocks in parallel; smaller
    /// launches (and single-block launches) stay on the calling thread. Default `32768`.
    pub parallel_threshold: u64,
    /// Compiled code only: a launch above [`VmConfig::parallel_threshold`] runs in parallel
    /// when its expected single-thread time is at least this. The expectation comes from
    /// the kernel's last launch above the threshold that ran on the calling thread (timed:
    /// the first one, and every 64th that would split), because compiled lanes cost from a
    /// tenth of a nanosecond to microseconds each, and waking the workers and waiting for
    /// them costs microseconds: a short launch split in two takes longer. `Duration::ZERO`
    /// splits every launch above the lane threshold. Default 30 µs: on the 2-core machine this project measures on,
    /// a split costs 10-15 µs (vector_add at 64K lanes: 6.3 µs on one thread, 22.6 on two),
    /// so launches of 30 µs or more gain (relu at 256K lanes 40 -> 26 µs, gelu at 64K 70 ->
    /// 42) and shorter ones would lose.
    pub parallel_min_time: Duration,
    /// Worker threads for parallel launches; 0 means one per available core. Default 0.
    pub threads: usize,
    /// Use the AVX2 + FMA versions of the lane loops when the CPU has them. Results are
    /// bit-identical either way. Default `true`.
    pub simd: bool,
    /// Most decoded programs kept in the cache before it is emptied. Default 1024.
    pub cache_capacity: usize,
    /// Which tier runs programs. Default [`Tier::Auto`].
    pub tier: Tier,
    /// Under [`Tier::Auto`], the interpreter time after which a program is compiled.
    /// Default 2 ms (the example kernels compile in 0.3-1.3 ms: BENCHMARKS.md).
    pub jit_threshold: Duration,
    /// Most compiled kernels kept before the JIT cache is emptied (their code is freed once
    /// no launch uses it). Default 256.
    pub jit_cache_capacity: usize,
    /// Append every kernel the JIT compiles to `/tmp/perf-<pid>.map`, so `perf report` names
    /// its code: one symbol per stretch that implements one ISA instruction
    /// (`holovm::gelu pc 7 vector`), the kernel's name for the rest. Default `false`.
    pub perf_map: bool,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            fuel: 1 << 26,
            single_thread: false,
            parallel_threshold: 1 << 15,
            parallel_min_time: Duration::from_micros(30),
            threads: 0,
            simd: true,
            cache_capacity: 1024,
            tier: Tier::Auto,
            jit_threshold: Duration::from_millis(2),
            jit_cache_capacity: 256,
            perf_map: false,
        }
    }
}

impl VmConfig {
    /// Sets [`VmConfig::fuel`].
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }

    /// Sets [`VmConfig::single_thread`].
    pub fn single_thread(mut self, yes: bool) -> Self {
        self.single_thread = yes;
        self
    }

    /// Sets [`VmConfig::parallel_threshold`].
    pub fn parallel_threshold(mut self, lanes: u64) -> Self {
        self.parallel_threshold = lanes;
        self
    }

    /// Sets [`VmConfig::parallel_min_time`].
    pub fn parallel_min_time(mut self, time: Duration) -> Self {
        self.parallel_min_time = time;
        self
    }

    /// Sets [`VmConfig::threads`].
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets [`VmConfig::simd`].
    pub fn simd(mut self, yes: bool) -> Self {
        self.simd = yes;
        self
    }

    /// Sets [`VmConfig::tier`].
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// Sets [`VmConfig::jit_threshold`].
    pub fn jit_threshold(mut self, threshold: Duration) -> Self {
        self.jit_threshold = threshold;
        self
    }

    /// Sets [`VmConfig::jit_cache_capacity`].
    pub fn jit_cache_capacity(mut self, kernels: usize) -> Self {
        self.jit_cache_capacity = kernels;
        self
    }

    /// Sets [`VmConfig::cache_capacity`].
    pub fn cache_capacity(mut self, programs: usize) -> Self {
        self.cache_capacity = programs;
        self
    }

    /// Sets [`VmConfig::perf_map`].
    pub fn perf_map(mut self, yes: bool) -> Self {
        self.perf_map = yes;
        self
    }
}

/// A launch argument: a buffer for a `.param NAME: ptr T`, or a scalar for a `.param NAME: T`.
///
/// Build one with `Arg::from`: from `&Buffer<T>`, `Buffer<T>`, `AnyBuffer`, or a value of an
/// [`Element`] type. A scalar's Rust type must be exactly the declared type (`7u32` for a
/// `u32` parameter; a bare `7` is an `i32`). The [`args!`](crate::args) macro converts a list.
///
/// ```
/// use holovm::{Arg, Vm};
/// let vm = Vm::new();
/// let buf = vm.alloc::<f32>(4)?;
/// let args = [Arg::from(&buf), Arg::from(4u32), Arg::from(0.5f32)];
/// assert!(matches!(args[1], Arg::Scalar { .. }));
/// # Ok::<(), holovm::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A buffer.
    Buffer(AnyBuffer),
    /// A scalar of type `ty`, as its zero-extended bit pattern.
    Scalar {
        /// The scalar's type.
        ty: Ty,
        /// Its bits, zero-extended to 64.
        bits: u64,
    },
}

impl Arg {
    /// A scalar argument.
    pub fn scalar<T: Element>(v: T) -> Arg {
        Arg::Scalar {
            ty: T::TY,
            bits: v.to_bits(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Arg::Buffer(b) => format!("a buffer of {}", b.ty),
            Arg::Scalar { ty, .. } => format!("a scalar {ty}"),
        }
    }
}

impl<T: Element> From<&Buffer<T>> for Arg {
    fn from(b: &Buffer<T>) -> Arg {
        Arg::Buffer(b.any())
    }
}

impl<T: Element> From<Buffer<T>> for Arg {
    fn from(b: Buffer<T>) -> Arg {
        Arg::Buffer(b.any())
    }
}

impl From<AnyBuffer> for Arg {
    fn from(b: AnyBuffer) -> Arg {
        Arg::Buffer(b)
    }
}

impl From<&AnyBuffer> for Arg {
    fn from(b: &AnyBuffer) -> Arg {
        Arg::Buffer(*b)
    }
}

macro_rules! scalar_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(v: $t) -> Arg {
                Arg::scalar(v)
            }
        }
    )*};
}
scalar_arg!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

/// Converts a list of buffers and scalars to an array of [`Arg`]s.
///
/// ```
/// use holovm::{args, Vm};
/// let vm = Vm::new();
/// let x = vm.alloc::<f32>(16)?;
/// let a = args![&x, 16u32, 2.0f32];
/// assert_eq!(a.len(), 3);
/// # Ok::<(), holovm::Error>(())
/// ```
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        [$($crate::Arg::from($a)),*]
    };
}

/// What a successful launch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaunchStats {
    /// Blocks run.
    pub blocks: u32,
    /// Lanes launched (`grid * block`).
    pub lanes: u64,
    /// Instructions dispatched, once per block-step however many lanes it covered (the
    /// interpreter runs the small blocks of a program that cannot tell blocks apart
    /// together: one step covers them all).
    pub steps: u64,
    /// Lane-instructions executed (the active lanes of every step).
    pub lane_steps: u64,
    /// True when blocks ran on several threads.
    pub parallel: bool,
    /// True when compiled (JIT) code ran the launch; `steps` and `lane_steps` are then 0.
    pub jit: bool,
}

struct State {
    mem: Memory,
    /// The calling thread's block state, reused by every serial launch.
    block: BlockState,
    /// The calling thread's scratch memory for compiled kernels.
    scratch: holovm_jit::Scratch,
    /// Argument-binding storage, reused by every launch.
    bind: Bindings,
    /// The compiled kernels launched last, so relaunching them skips the cache lookup.
    memo: KernelMemo,
}

/// Sets of [`KernelMemo`] (a power of two); each holds two kernels.
const MEMO_SETS: usize = 16;

/// A remembered kernel and its program's key.
type MemoEntry = Option<(ProgramKey, Arc<holovm_jit::CompiledKernel>)>;

/// The compiled kernels a VM launched recently, with their program keys, so a launch of one
/// of them needs no JIT-cache lookup. A small two-way set-associative table indexed by the
/// key's first byte (keys are SHA-256 digests, so uniformly spread): a lookup compares at
/// most two keys and a miss replaces the set's least recently used kernel. Kept under the VM
/// lock.
#[derive(Default)]
struct KernelMemo {
    /// The JIT cache's generation the kernels were taken from: once the cache changes
    /// generation (cleared or evicted), the memo is emptied rather than used.
    generation: u64,
    sets: [[MemoEntry; 2]; MEMO_SETS],
    /// Per set, the way to replace next (the least recently used one).
    victim: [u8; MEMO_SETS],
}

impl KernelMemo {
    #[inline]
    fn set_of(key: &ProgramKey) -> usize {
        key.0[0] as usize % MEMO_SETS
    }

    /// `key`'s kernel, if the memo has it and is of `generation`.
    #[inline]
    fn find(&mut self, key: &ProgramKey, generation: u64) -> Option<&holovm_jit::CompiledKernel> {
        if self.generation != generation {
            self.clear(generation);
            return None;
        }
        let set = Self::set_of(key);
        let way = self.sets[set]
            .iter()
            .position(|e| e.as_ref().is_some_and(|(k, _)| k == key))?;
        self.victim[set] = 1 - way as u8;
        self.sets[set][way].as_ref().map(|(_, k)| &**k)
    }

    /// Remembers `kernel` (taken from the cache in `generation`) for `key`, in place of its
    /// set's least recently used kernel, and returns it.
    fn insert(
        &mut self,
        key: ProgramKey,
        generation: u64,
        kernel: Arc<holovm_jit::CompiledKernel>,
    ) -> &holovm_jit::CompiledKernel {
        if self.generation != generation {
            self.clear(generation);
        }
        let set = Self::set_of(&key);
        let way = match self.sets[set]
            .iter()
            .position(|e| e.as_ref().is_some_and(|(k, _)| *k == key))
        {
            Some(way) => way,
            None => (self.victim[set] & 1) as usize,
        };
        self.victim[set] = 1 - way as u8;
        &self.sets[set][way].insert((key, kernel)).1
    }

    /// Forgets every kernel (their code is freed if the cache no longer holds them).
    fn clear(&mut self, generation: u64) {
        self.sets = Default::default();
        self.generation = generation;
    }
}

/// Storage for binding a launch's arguments, kept in the VM's state so a launch allocates
/// nothing once the vectors have grown to the largest parameter count seen (at most
/// `MAX_PARAMS`). Every launch clears and refills what it uses before using it.
#[derive(Default)]
struct Bindings {
    /// Compiled code: one slot per parameter.
    slots: Vec<holovm_jit::ParamSlot>,
    /// Interpreter: per parameter the bound buffer, `None` for scalars.
    spaces: Vec<Option<Region>>,
    /// Interpreter: per parameter the scalar bits, 0 for buffers.
    scalars: Vec<u64>,
    /// Interpreter: the uniform-value table.
    uni: Vec<u64>,
}

// SAFETY: the raw pointers in `slots` and `spaces` are plain addresses of VM-owned memory;
// owning them grants no access. They are only written and dereferenced (by a launch) while
// the VM lock is held, and a launch always rebinds them before use, so stale addresses left
// by an earlier launch are never dereferenced, on this thread or another.
unsafe impl Send for Bindings {}

/// One argument, checked and bound.
enum Bound {
    Buffer(Region),
    Scalar(u64),
}

/// Checks `arg` against parameter `index` (`param`) and binds it: a buffer to its live
/// storage, a scalar to its canonical bits.
#[inline]
fn bind_arg(mem: &mut Memory, index: usize, param: &Param, arg: &Arg) -> Result<Bound, Error> {
    match (param.kind, arg) {
        (ParamKind::Buffer(ty), Arg::Buffer(h)) if h.ty == ty => {
            let storage = &mut mem.entry_mut(h)?.storage;
            Ok(Bound::Buffer(Region {
                len: storage.len() as u64,
                base: storage.base(),
            }))
        }
        (ParamKind::Scalar(ty), Arg::Scalar { ty: t, bits }) if *t == ty => {
            Ok(Bound::Scalar(ty.canon(*bits)))
        }
        _ => Err(arg_mismatch(index, param, arg)),
    }
}

#[cold]
#[inline(never)]
fn arg_mismatch(index: usize, param: &Param, arg: &Arg) -> Error {
    Error::Arg {
        index,
        name: param.name.clone(),
        expected: match param.kind {
            ParamKind::Buffer(ty) => format!("a buffer of {ty}"),
            ParamKind::Scalar(ty) => format!("a scalar {ty}"),
        },
        found: arg.describe(),
    }
}

/// How the interpreter walks a launch's blocks: one at a time, or, for a program that
/// cannot tell them apart ([`Decoded::runs_blocks`]) in blocks of fewer than
/// [`Runs::LANES`] lanes, consecutive blocks together as one block of `LANES` lanes or
/// more (blocks of 8 lanes ran 16x slower per lane than blocks of 256: the per-block work
/// of the lock-step executor).
struct Runs {
    /// Blocks a run (the last may have fewer).
    per_run: u32,
    /// Runs in the launch.
    count: u32,
    grid: u32,
    block: u32,
}

impl Runs {
    const LANES: u32 = 256;

    fn of(p: &Decoded, config: LaunchConfig) -> Runs {
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
    fn first(&self, r: u32) -> (u32, u32) {
        let b = r * self.per_run;
        (b, b.wrapping_mul(self.block))
    }

    /// Run `r`'s lanes.
    fn lanes(&self, r: u32) -> u32 {
        let b = r * self.per_run;
        self.per_run.min(self.grid - b) * self.block
    }

    /// Run `r`'s trap as its lane's own block and trap.
    fn trap_of(&self, r: u32, mut t: BlockTrap) -> (u32, BlockTrap) {
        let (_, gid) = self.first(r);
        let gid = u64::from(gid) + u64::from(t.fault.lane);
        let (block, lane) = holovm_isa::block_and_lane(gid, self.block);
        t.fault.lane = lane;
        (block, t)
    }
}

/// The VM's error for a trap of the interpreter in block `block`.
#[cold]
#[inline(never)]
fn interp_trap(program: &Program, block: u32, t: &BlockTrap, spaces: &[Option<Region>]) -> Error {
    let params = program.params();
    let space = |id: SpaceId| match id {
        SpaceId::Param(p) => Space::Buffer {
            param: p,
            name: params
                .get(p as usize)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            bytes: spaces
                .get(p as usize)
                .copied()
                .flatten()
                .map_or(0, |s| s.len),
        },
        SpaceId::Pool => Space::Pool,
        SpaceId::Shared => Space::Shared {
            bytes: program.shared_bytes() as u64,
        },
        SpaceId::Invalid(handle) => Space::Invalid { handle },
    };
    Trap {
        kind: t.fault.kind,
        pc: t.pc,
        inst: trap::inst_text(program.def(), t.pc as usize),
        block,
        lane: t.fault.lane,
        access: t.fault.access.map(|a| MemAccess {
            space: space(a.space),
            offset: a.offset,
            size: a.size,
        }),
    }
    .into()
}

/// An embeddable holovm virtual machine: buffers, the boundary pool, and the interpreter.
///
/// A `Vm` is `Send + Sync`: share it between host threads with `&Vm` or `Arc<Vm>`. Its memory
/// sits behind one lock, taken once per call (a launch holds it for its whole run, so launches
/// on one `Vm` run one at a time; use several `Vm`s for independent work). Decoded programs and
/// compiled kernels are cached by [`ProgramKey`] outside the lock; the kernels launched most
/// recently are also remembered under it, so relaunching one costs no cache lookup.
///
/// ```
/// use holovm::isa::*;
/// use holovm::{args, Vm};
///
/// // out[i] = x[i] * 2 (built by hand; the assembler accepts the same as text).
/// let program = Program::new(ProgramDef {
///     name: "double".into(),
///     params: vec![
///         Param { name: "x".into(), kind: ParamKind::Buffer(Ty::F32) },
///         Param { name: "out".into(), kind: ParamKind::Buffer(Ty::F32) },
///     ],
///     insts: vec![
///         Inst::Ldg {
///             ty: Ty::F32,
///             dst: Reg(0),
///             addr: Addr::BufferIndex { buf: 0, index: Src::Special(Special::GlobalId), scale: 4 },
///         },
///         Inst::Bin {
///             op: BinOp::Mul,
///             ty: Ty::F32,
///             dst: Reg(0),
///             a: Src::Reg(Reg(0)),
///             b: Src::Imm(2.0f32.to_bits() as u64),
///         },
///         Inst::Stg {
///             ty: Ty::F32,
///             src: Src::Reg(Reg(0)),
///             addr: Addr::BufferIndex { buf: 1, index: Src::Special(Special::GlobalId), scale: 4 },
///         },
///         Inst::Exit,
///     ],
///     ..Default::default()
/// })
/// .unwrap();
///
/// let vm = Vm::new();
/// let x = vm.alloc_from(&[1.0f32, 2.0, 3.0, 4.0])?;
/// let out = vm.alloc::<f32>(4)?;
/// let stats = vm.launch(&program, LaunchConfig::new(1, 4), &args![&x, &out])?;
/// assert_eq!(vm.read(&out)?, vec![2.0, 4.0, 6.0, 8.0]);
/// assert_eq!(stats.lanes, 4);
/// # Ok::<(), holovm::Error>(())
/// ```
pub struct Vm {
    id: u64,
    config: VmConfig,
    simd: bool,
    state: Mutex<State>,
    cache: KeyMap<Arc<Decoded>>,
    jit: JitCache,
    workers: OnceLock<Option<rayon::ThreadPool>>,
}

impl Default for Vm {
    fn default() -> Self {
        Vm::new()
    }
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("id", &self.id)
            .field("config", &self.config)
            .finish()
    }
}

impl Vm {
    /// A VM with the default configuration.
    pub fn new() -> Vm {
        Vm::with_config(VmConfig::default())
    }

    /// A VM with the given configuration.
    pub fn with_config(config: VmConfig) -> Vm {
        let id = NEXT_VM_ID.fetch_add(1, Ordering::Relaxed);
        let perf_map = config.perf_map;
        Vm {
            id,
            simd: config.simd && ops::simd_available(),
            config,
            state: Mutex::new(State {
                mem: Memory::new(id),
                block: BlockState::new(),
                scratch: holovm_jit::Scratch::new(),
                bind: Bindings::default(),
                memo: KernelMemo::default(),
            }),
            cache: KeyMap::default(),
            jit: JitCache::new(perf_map),
            workers: OnceLock::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VmConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic during a launch (a bug) poisons the lock; the buffer table stays consistent
        // (it is only changed by complete operations), so keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // -------------------------------------------------------------------------------------
    // Buffers
    // -------------------------------------------------------------------------------------

    /// Allocates a zeroed buffer of `len` elements.
    pub fn alloc<T: Element>(&self, len: usize) -> Result<Buffer<T>, Error> {
        Ok(Buffer::from_raw(self.lock().mem.alloc(T::TY, len)?))
    }

    /// Allocates a buffer holding a copy of `data`.
    pub fn alloc_from<T: Element>(&self, data: &[T]) -> Result<Buffer<T>, Error> {
        let mut st = self.lock();
        let h = st.mem.alloc(T::TY, data.len())?;
        st.mem
            .entry_mut(&h)?
            .storage
            .as_mut_slice()
            .copy_from_slice(bytemuck::cast_slice(data));
        Ok(Buffer::from_raw(h))
    }

    /// Allocates a zeroed buffer of `len` elements of a type known at run time.
    pub fn alloc_any(&self, ty: Ty, len: usize) -> Result<AnyBuffer, Error> {
        self.lock().mem.alloc(ty, len)
    }

    /// A copy of the buffer's contents.
    pub fn read<T: Element>(&self, buf: &Buffer<T>) -> Result<Vec<T>, Error> {
        let st = self.lock();
        let e = st.mem.entry(&buf.any())?;
        let mut out = vec![T::zeroed(); e.len];
        bytemuck::cast_slice_mut(&mut out).copy_from_slice(e.storage.as_slice());
        Ok(out)
    }

    /// Copies the buffer's contents into `out`, which must have the buffer's length.
    pub fn read_into<T: Element>(&self, buf: &Buffer<T>, out: &mut [T]) -> Result<(), Error> {
        let st = self.lock();
        let e = st.mem.entry(&buf.any())?;
        if out.len() != e.len {
            return Err(Error::LengthMismatch {
                expected: e.len,
                found: out.len(),
            });
        }
        bytemuck::cast_slice_mut(out).copy_from_slice(e.storage.as_slice());
        Ok(())
    }

    /// Overwrites the buffer with `data`, which must have the buffer's length.
    pub fn write<T: Element>(&self, buf: &Buffer<T>, data: &[T]) -> Result<(), Error> {
        self.write_bytes(&buf.any(), bytemuck::cast_slice(data))
            .map_err(|e| match e {
                Error::LengthMismatch { expected, found } => Error::LengthMismatch {
                    expected: expected / T::TY.size() as usize,
                    found: found / T::TY.size() as usize,
                },
                e => e,
            })
    }

    /// A copy of the buffer's bytes (little-endian elements).
    pub fn read_bytes(&self, buf: &AnyBuffer) -> Result<Vec<u8>, Error> {
        Ok(self.lock().mem.entry(buf)?.storage.as_slice().to_vec())
    }

    /// Overwrites the buffer's bytes; `data` must have the buffer's length in bytes.
    pub fn write_bytes(&self, buf: &AnyBuffer, data: &[u8]) -> Result<(), Error> {
        let mut st = self.lock();
        let e = st.mem.entry_mut(buf)?;
        let bytes = e.storage.as_mut_slice();
        if data.len() != bytes.len() {
            return Err(Error::LengthMismatch {
                expected: bytes.len(),
                found: data.len(),
            });
        }
        bytes.copy_from_slice(data);
        Ok(())
    }

    /// Frees the buffer. Later uses of any copy of the handle are [`Error::InvalidHandle`].
    pub fn free(&self, buf: impl Into<AnyBuffer>) -> Result<(), Error> {
        self.lock().mem.free(&buf.into())
    }

    /// Number of live buffers.
    pub fn buffers(&self) -> usize {
        self.lock().mem.live()
    }

    // -------------------------------------------------------------------------------------
    // The boundary pool
    // -------------------------------------------------------------------------------------

    fn pool_range(class: u32) -> Result<std::ops::Range<usize>, Error> {
        if class >= POOL_CLASSES {
            return Err(Error::PoolClass { class });
        }
        let start = (class * POOL_CLASS_BYTES) as usize;
        Ok(start..start + POOL_CLASS_BYTES as usize)
    }

    /// A copy of boundary pool class `class` (0..96) as `12288 / size_of::<T>()` elements.
    ///
    /// ```
    /// use holovm::Vm;
    /// let vm = Vm::new();
    /// vm.write_pool(3, &vec![7u32; 3072])?;
    /// assert_eq!(vm.read_pool::<u32>(3)?[100], 7);
    /// assert!(vm.read_pool::<u8>(96).is_err());
    /// # Ok::<(), holovm::Error>(())
    /// ```
    pub fn read_pool<T: Element>(&self, class: u32) -> Result<Vec<T>, Error> {
        let range = Self::pool_range(class)?;
        let mut out = vec![T::zeroed(); POOL_CLASS_BYTES as usize / T::TY.size() as usize];
        let st = self.lock();
        bytemuck::cast_slice_mut(&mut out).copy_from_slice(&st.mem.pool.as_slice()[range]);
        Ok(out)
    }

    /// Copies pool class `class` into `out`, which must hold exactly the class
    /// (`12288 / size_of::<T>()` elements).
    pub fn read_pool_into<T: Element>(&self, class: u32, out: &mut [T]) -> Result<(), Error> {
        let range = Self::pool_range(class)?;
        let expected = POOL_CLASS_BYTES as usize / T::TY.size() as usize;
        if out.len() != expected {
            return Err(Error::LengthMismatch {
                expected,
                found: out.len(),
            });
        }
        let st = self.lock();
        bytemuck::cast_slice_mut(out).copy_from_slice(&st.mem.pool.as_slice()[range]);
        Ok(())
    }

    /// Overwrites pool class `class` with `data`, which must be exactly the class
    /// (`12288 / size_of::<T>()` elements).
    pub fn write_pool<T: Element>(&self, class: u32, data: &[T]) -> Result<(), Error> {
        let range = Self::pool_range(class)?;
        let expected = POOL_CLASS_BYTES as usize / T::TY.size() as usize;
        if data.len() != expected {
            return Err(Error::LengthMismatch {
                expected,
                found: data.len(),
            });
        }
        let mut st = self.lock();
        st.mem.pool.as_mut_slice()[range].copy_from_slice(bytemuck::cast_slice(data));
        Ok(())
    }

    /// Zeroes the whole boundary pool.
    pub fn clear_pool(&self) {
        self.lock().mem.pool.as_mut_slice().fill(0);
    }

    // -------------------------------------------------------------------------------------
    // Programs and launches
    // -------------------------------------------------------------------------------------

    /// The decoded form of `program`, from the cache or decoded now.
    fn decoded(&self, program: &Program) -> Result<Arc<Decoded>, Error> {
        let key = program.key();
        if let Some(d) = self.cache.get(&key) {
            return Ok(Arc::clone(&d));
        }
        let d = decode(program, self.simd).map_err(|message| Error::InvalidProgram {
            kernel: program.name().to_string(),
            message,
        })?;
        let d = Arc::new(d);
        if self.cache.len() >= self.config.cache_capacity.max(1) {
            self.cache.clear();
        }
        self.cache.insert(key, Arc::clone(&d));
        Ok(d)
    }

    /// Number of decoded programs in the cache.
    pub fn cached_programs(&self) -> usize {
        self.cache.len()
    }

    /// Empties the decoded-program cache.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    fn workers(&self) -> Option<&rayon::ThreadPool> {
        self.workers
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.config.threads)
                    .thread_name(|i| format!("holovm-worker-{i}"))
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Runs `program` over `config.grid` blocks of `config.block` lanes with `args` bound to
    /// its parameters, and waits for it to finish.
    ///
    /// `args` must match the parameters in number, kind (buffer or scalar) and type. The
    /// launch fails with [`Error::Trap`] if a lane traps (docs/ISA.md, section 7): the trap
    /// of the lowest-numbered trapping block is reported; memory the launch did not write is
    /// untouched, and the VM stays usable.
    ///
    /// Launches of more than [`VmConfig::parallel_threshold`] lanes run their blocks on a
    /// worker pool owned by the VM, except when called from inside a rayon worker thread,
    /// where they stay serial.
    ///
    /// ```
    /// use holovm::isa::*;
    /// use holovm::{args, Error, TrapKind, Vm};
    /// // out[%gid] = %gid, bounds-checked: 8 lanes, a buffer of 6 elements.
    /// let program = Program::new(ProgramDef {
    ///     name: "iota".into(),
    ///     params: vec![Param { name: "out".into(), kind: ParamKind::Buffer(Ty::U32) }],
    ///     insts: vec![
    ///         Inst::Stg {
    ///             ty: Ty::U32,
    ///             src: Src::Special(Special::GlobalId),
    ///             addr: Addr::BufferIndex { buf: 0, index: Src::Special(Special::GlobalId), scale: 4 },
    ///         },
    ///         Inst::Exit,
    ///     ],
    ///     ..Default::default()
    /// })
    /// .unwrap();
    /// let vm = Vm::new();
    /// let out = vm.alloc::<u32>(6)?;
    /// let err = vm.launch(&program, LaunchConfig::new(2, 4), &args![&out]).unwrap_err();
    /// let trap = err.trap().unwrap();
    /// assert_eq!(trap.kind, TrapKind::OutOfBounds);
    /// assert_eq!((trap.block, trap.lane), (1, 2)); // %gid 6
    /// assert!(trap.to_string().contains("byte offset 24 of buffer `out` (length 24 bytes)"));
    /// # Ok::<(), holovm::Error>(())
    /// ```
    pub fn launch(
        &self,
        program: &Program,
        config: LaunchConfig,
        args: &[Arg],
    ) -> Result<LaunchStats, Error> {
        config.validate().map_err(Error::InvalidLaunch)?;
        if args.len() != program.params().len() {
            return Err(Error::ArgCount {
                kernel: program.name().to_string(),
                expected: program.params().len(),
                found: args.len(),
            });
        }
        if self.config.tier != Tier::Interpret {
            // The fast path: a compiled program, found in the VM's memo of recent kernels or
            // else with one JIT-cache lookup; one lock, no allocation.
            let key = program.key();
            let mut guard = self.lock();
            let State {
                mem,
                scratch,
                bind,
                memo,
                ..
            } = &mut *guard;
            // Read before the lookups: a kernel found now was in the cache of this generation.
            let generation = self.jit.generation();
            if let Some(kernel) = memo.find(&key, generation) {
                return self.launch_jit(kernel, mem, scratch, bind, program, config, args);
            }
            if let Some(kernel) = self.jit.cached_kernel(&key) {
                return self
                    .launch_remembered(&mut guard, generation, kernel, program, config, args);
            }
        }
        self.launch_uncached(program, config, args)
    }

    /// Runs `kernel`, taken from the JIT cache in `generation`, under the lock (`state`), and
    /// remembers it in the memo, unless the cache has changed generation since (it may have
    /// been evicted): then the memo forgets the kernels that left, and this one runs once.
    fn launch_remembered(
        &self,
        state: &mut State,
        generation: u64,
        kernel: Arc<holovm_jit::CompiledKernel>,
        program: &Program,
        config: LaunchConfig,
        args: &[Arg],
    ) -> Result<LaunchStats, Error> {
        let State {
            mem,
            scratch,
            bind,
            memo,
            ..
        } = state;
        let now = self.jit.generation();
        if now != generation {
            memo.clear(now);
            return self.launch_jit(&kernel, mem, scratch, bind, program, config, args);
        }
        let kernel = memo.insert(program.key(), generation, kernel);
        self.launch_jit(kernel, mem, scratch, bind, program, config, args)
    }

    /// [`Vm::launch`] for a program without a cached compiled kernel: compiles it if the tier
    /// says so, or runs it in the interpreter.
    #[inline(never)]
    fn launch_uncached(
        &self,
        program: &Program,
        config: LaunchConfig,
        args: &[Arg],
    ) -> Result<LaunchStats, Error> {
        let tier = self.config.tier;
        // Read before the lookup: a kernel found now was in the cache of this generation.
        let generation = self.jit.generation();
        let (kernel, slot) = self
            .jit
            .kernel_for(program, tier, self.config.jit_cache_capacity);
        if let Some(kernel) = kernel {
            // The cache may have changed during the lookup (this launch may have evicted it).
            let mut guard = self.lock();
            return self.launch_remembered(&mut guard, generation, kernel, program, config, args);
        }
        // Compiled code needs no decoded form; the interpreter does.
        let decoded = self.decoded(program)?;
        let started = (tier == Tier::Auto).then(Instant::now);

        let mut guard = self.lock();
        let State {
            mem,
            block: serial_state,
            bind,
            memo,
            ..
        } = &mut *guard;
        // Kernels that have left the JIT cache would stay alive in the memo: drop them.
        let generation = self.jit.generation();
        if memo.generation != generation {
            memo.clear(generation);
        }

        // Bind the arguments.
        let Bindings {
            spaces,
            scalars,
            uni,
            ..
        } = bind;
        spaces.clear();
        scalars.clear();
        for (index, (param, arg)) in program.params().iter().zip(args).enumerate() {
            match bind_arg(mem, index, param, arg)? {
                Bound::Buffer(region) => {
                    spaces.push(Some(region));
                    scalars.push(0);
                }
                Bound::Scalar(bits) => {
                    spaces.push(None);
                    scalars.push(bits);
                }
            }
        }
        let workers = self.launch_workers(config);
        let pool_region = Region {
            base: mem.pool.base(),
            len: POOL_BYTES as u64,
        };
        uni.clear();
        uni.extend(decoded.uni.iter().map(|s| match *s {
            UniSrc::Imm(v) => v,
            UniSrc::Param(p) => scalars.get(p as usize).copied().unwrap_or(0),
            UniSrc::BlockDim => config.block as u64,
            UniSrc::GridDim => config.grid as u64,
        }));

        let env = Env {
            spaces,
            pool: pool_region,
            plain: workers.is_none(),
            uni,
            fuel: self.config.fuel,
        };
        let runs = Runs::of(&decoded, config);
        let n = runs.lanes(0) as usize;

        let (counters, trapped) = match workers {
            None => {
                serial_state.prepare(&decoded, n);
                let mut ctr = Counters::default();
                let mut trapped = None;
                for r in 0..runs.count {
                    let lanes = runs.lanes(r) as usize;
                    if lanes != serial_state.lanes() {
                        serial_state.prepare(&decoded, lanes);
                    }
                    let (b, gid) = runs.first(r);
                    if let Err(t) = run_block(serial_state, &decoded, &env, b, gid, &mut ctr) {
                        trapped = Some(runs.trap_of(r, t));
                        break;
                    }
                }
                (ctr, trapped)
            }
            Some(pool) => {
                let first_trap = AtomicU32::new(u32::MAX);
                let trapped: Mutex<Option<(u32, BlockTrap)>> = Mutex::new(None);
                let steps = AtomicU64::new(0);
                let lane_steps = AtomicU64::new(0);
                pool.install(|| {
                    (0..runs.count).into_par_iter().for_each_init(
                        || {
                            let mut st = BlockState::new();
                            st.prepare(&decoded, n);
                            st
                        },
                        |st, r| {
                            // Blocks after a trapping block cannot change the result.
                            if r > first_trap.load(Ordering::Relaxed) {
                                return;
                            }
                            let lanes = runs.lanes(r) as usize;
                            if lanes != st.lanes() {
                                st.prepare(&decoded, lanes);
                            }
                            let (b, gid) = runs.first(r);
                            let mut ctr = Counters::default();
                            if let Err(t) = run_block(st, &decoded, &env, b, gid, &mut ctr) {
                                first_trap.fetch_min(r, Ordering::Relaxed);
                                let (b, t) = runs.trap_of(r, t);
                                let mut slot = trapped.lock().unwrap_or_else(|e| e.into_inner());
                                if slot.is_none_or(|(tb, _)| b < tb) {
                                    *slot = Some((b, t));
                                }
                            }
                            steps.fetch_add(ctr.steps, Ordering::Relaxed);
                            lane_steps.fetch_add(ctr.lane_steps, Ordering::Relaxed);
                        },
                    )
                });
                let ctr = Counters {
                    steps: steps.into_inner(),
                    lane_steps: lane_steps.into_inner(),
                };
                (ctr, trapped.into_inner().unwrap_or_else(|e| e.into_inner()))
            }
        };
        let result = match trapped {
            Some((block, t)) => Err(interp_trap(program, block, &t, spaces)),
            None => Ok(LaunchStats {
                blocks: config.grid,
                lanes: config.lanes(),
                steps: counters.steps,
                lane_steps: counters.lane_steps,
                parallel: workers.is_some(),
                jit: false,
            }),
        };
        drop(guard);
        if let Some(started) = started {
            self.jit
                .note_interpreted(&slot, program, started.elapsed(), self.config.jit_threshold);
        }
        result
    }

    /// The worker pool a launch of shape `config` runs on, or `None` to run it on the calling
    /// thread.
    #[inline]
    fn launch_workers(&self, config: LaunchConfig) -> Option<&rayon::ThreadPool> {
        if !self.config.single_thread
            && config.grid > 1
            && config.lanes() >= self.config.parallel_threshold
            && rayon::current_thread_index().is_none()
        {
            self.workers()
        } else {
            None
        }
    }

    /// Whether a compiled launch of `lanes` lanes, large enough to run in parallel, is also
    /// long enough to gain from it ([`VmConfig::parallel_min_time`]).
    fn worth_splitting(&self, kernel: &holovm_jit::CompiledKernel, lanes: u64) -> bool {
        let min = self.config.parallel_min_time;
        min.is_zero()
            || (kernel.estimated_time(lanes).is_some_and(|t| t >= min) && !kernel.retime_due())
    }

    /// Runs a launch of `program` with its compiled `kernel` under the VM lock (`mem`,
    /// `scratch` and `bind` are the locked state's): binds the arguments into the reused
    /// parameter slots and calls the compiled code.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn launch_jit(
        &self,
        kernel: &holovm_jit::CompiledKernel,
        mem: &mut Memory,
        scratch: &mut holovm_jit::Scratch,
        bind: &mut Bindings,
        program: &Program,
        config: LaunchConfig,
        args: &[Arg],
    ) -> Result<LaunchStats, Error> {
        let slots = &mut bind.slots;
        slots.clear();
        for (index, (param, arg)) in program.params().iter().zip(args).enumerate() {
            slots.push(match bind_arg(mem, index, param, arg)? {
                Bound::Buffer(r) => holovm_jit::ParamSlot::buffer(r.base, r.len as usize),
                Bound::Scalar(bits) => holovm_jit::ParamSlot::scalar(bits),
            });
        }
        let candidate = self.launch_workers(config);
        let workers = candidate.filter(|_| self.worth_splitting(kernel, config.lanes()));
        let env = holovm_jit::LaunchEnv {
            params: slots.as_ptr(),
            num_params: slots.len() as u32,
            pool_len: mem.pool.len() as u64,
            pool: mem.pool.base(),
            grid: config.grid,
            block: config.block,
            fuel: self.config.fuel,
        };
        // SAFETY: we hold the VM lock (`mem` is borrowed from its guard), so the buffers and the
        // pool behind the slots and `env.pool` stay allocated and no Rust reference to their
        // bytes exists during the call; `slots` is not touched until the call returns and has
        // one slot per parameter (the count was checked against `args`).
        let t0 = (candidate.is_some() && workers.is_none()).then(Instant::now);
        let result = unsafe { tier::run(kernel, &env, scratch, workers) };
        if let Some(t0) = t0 {
            kernel.record_lane_cost(t0.elapsed(), config.lanes());
        }
        let trap = result.map_err(|e| Error::InvalidProgram {
            kernel: program.name().to_string(),
            message: e.to_string(),
        })?;
        if let Some(t) = trap {
            return Err(tier::to_trap(program, &t, slots).into());
        }
        Ok(LaunchStats {
            blocks: config.grid,
            lanes: config.lanes(),
            steps: 0,
            lane_steps: 0,
            parallel: workers.is_some(),
            jit: true,
        })
    }

    /// Compiles `program` with the JIT and returns what the compiler did: the strategy, the
    /// CLIF before and after optimisation, the machine code disassembly, the code size and the
    /// compile time. The kernel compiled for the dump is separate from the cached one. The
    /// compile time is that of a second compile without the texts, as a launch compiles the
    /// program: rendering the texts costs several times the compile itself, and a process's
    /// first compile also sets up the JIT.
    ///
    /// ```
    /// let vm = holovm::Vm::new();
    /// let program = holovm::examples::find("vector_add").unwrap().program()?;
    /// let dump = vm.jit_dump(&program)?;
    /// assert!(dump.clif_before.as_deref().unwrap_or("").contains("function"));
    /// # Ok::<(), holovm::Error>(())
    /// ```
    pub fn jit_dump(&self, program: &Program) -> Result<holovm_jit::JitDump, Error> {
        self.jit_dump_with(program, false)
    }

    /// Like [`Vm::jit_dump`]; with `perf_map` the kernel's code range is also appended to
    /// `/tmp/perf-<pid>.map` so `perf report` can name it.
    pub fn jit_dump_with(
        &self,
        program: &Program,
        perf_map: bool,
    ) -> Result<holovm_jit::JitDump, Error> {
        let opts = holovm_jit::JitOptions {
            dump: true,
            perf_map,
            ..Default::default()
        };
        let plain = holovm_jit::JitOptions::default();
        let compiled = holovm_jit::compile(program, &opts)
            .and_then(|k| Ok((k, holovm_jit::compile(program, &plain)?)));
        match compiled {
            Ok((kernel, timed)) => {
                let mut dump = kernel.dump().clone();
                dump.compile_time = timed.dump().compile_time;
                dump.compile_parts = timed.dump().compile_parts;
                Ok(dump)
            }
            Err(e) => Err(Error::Jit {
                kernel: program.name().to_string(),
                message: format!("{e}; the interpreter runs this program"),
            }),
        }
    }

    /// Whether the JIT cache holds compiled code for `program` (under [`Tier::Auto`]: whether
    /// it has been promoted, or its background compilation has finished). One cache lookup,
    /// no lock, never compiles.
    ///
    /// ```
    /// use holovm::{Tier, Vm, VmConfig};
    /// let vm = Vm::with_config(VmConfig::default().tier(Tier::Jit));
    /// let program = holovm::asm::assemble(".kernel k\n.param x: ptr f32\n    exit\n")?;
    /// assert!(!vm.is_compiled(&program));
    /// let x = vm.alloc::<f32>(1)?;
    /// vm.launch(&program, holovm::LaunchConfig::new(1, 1), &holovm::args![&x])?;
    /// assert!(vm.is_compiled(&program));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_compiled(&self, program: &Program) -> bool {
        self.jit.is_compiled(&program.key())
    }

    /// Compiled kernels in the JIT cache.
    pub fn compiled_programs(&self) -> usize {
        self.jit.compiled()
    }

    /// Empties the JIT cache; each kernel's code is freed once no running launch uses it.
    pub fn clear_jit_cache(&self) {
        self.jit.clear();
        // The memo would keep the kernels' code alive.
        self.lock().memo.clear(self.jit.generation());
    }

    /// Waits until no background compilation (from [`Tier::Auto`]) is running.
    pub fn wait_for_jit(&self) {
        while self.jit.pending() > 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Why the JIT could not compile `program`, if it tried and failed.
    pub fn jit_error(&self, program: &Program) -> Option<String> {
        self.jit.error(program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jit_vm() -> Vm {
        Vm::with_config(VmConfig::default().tier(Tier::Jit).single_thread(true))
    }

    /// `out[gid] = x[gid] * K` for lanes below `n`.
    fn scale(k: u32) -> Program {
        holovm_asm::assemble(&format!(
            ".kernel scale{k}\n.param x: ptr f32\n.param out: ptr f32\n.param n: u32\n\
             setp.ge.u32 p0, %gid, n\n@p0 bra @done\nldg.f32 r0, [x + %gid*4]\n\
             mul.f32 r0, r0, {k}.0\nstg.f32 [out + %gid*4], r0\ndone:\nexit\n"
        ))
        .unwrap()
    }

    #[test]
    fn relaunching_many_programs_in_turn_runs_the_right_kernel() {
        // More programs than the memo holds, so launches go through the memo, the JIT cache
        // and memo replacement; every launch must run its own program.
        let vm = jit_vm();
        let programs: Vec<Program> = (1..=80).map(scale).collect();
        let x = vm.alloc_from(&[1.0f32, 2.0, 3.0]).unwrap();
        let out = vm.alloc::<f32>(3).unwrap();
        for round in 0..3 {
            for (i, p) in programs.iter().enumerate() {
                // Visit them in a different order each round.
                let p = if round == 1 {
                    &programs[programs.len() - 1 - i]
                } else {
                    p
                };
                let stats = vm
                    .launch(
                        p,
                        LaunchConfig::new(1, 4),
                        &[(&x).into(), (&out).into(), 3u32.into()],
                    )
                    .unwrap();
                assert!(stats.jit);
                let k: f32 = p.name().trim_start_matches("scale").parse().unwrap();
                assert_eq!(vm.read(&out).unwrap(), vec![k, 2.0 * k, 3.0 * k]);
            }
        }
        assert_eq!(vm.compiled_programs(), 80);
    }

    #[test]
    fn clearing_the_jit_cache_forgets_remembered_kernels() {
        let vm = jit_vm();
        let p = scale(2);
        let x = vm.alloc_from(&[1.0f32; 4]).unwrap();
        let args = [Arg::from(&x), Arg::from(&x), Arg::from(4u32)];
        vm.launch(&p, LaunchConfig::new(1, 4), &args).unwrap();
        assert_eq!(vm.compiled_programs(), 1);
        vm.clear_jit_cache();
        assert_eq!(vm.compiled_programs(), 0);
        assert!(vm.lock().memo.sets.iter().flatten().all(Option::is_none));
        // The next launch compiles the program again rather than using a remembered kernel.
        assert!(vm.launch(&p, LaunchConfig::new(1, 4), &args).unwrap().jit);
        assert_eq!(vm.compiled_programs(), 1);
        assert_eq!(vm.read(&x).unwrap(), vec![4.0f32; 4]);
    }

    #[test]
    fn eviction_makes_remembered_kernels_stale() {
        let vm = Vm::with_config(
            VmConfig::default()
                .tier(Tier::Jit)
                .single_thread(true)
                .jit_cache_capacity(2),
        );
        let x = vm.alloc_from(&[1.0f32; 4]).unwrap();
        let args = [Arg::from(&x), Arg::from(&x), Arg::from(4u32)];
        for k in 1..=5 {
            vm.launch(&scale(k), LaunchConfig::new(1, 4), &args)
                .unwrap();
        }
        assert!(vm.compiled_programs() <= 2);
        // Every remembered kernel is of the cache's current generation or the memo is empty.
        {
            let st = vm.lock();
            assert_eq!(st.memo.generation, vm.jit.generation());
            let remembered = st.memo.sets.iter().flatten().flatten().count();
            assert!(remembered <= 2, "{remembered} kernels remembered");
        }
        assert_eq!(
            vm.read(&x).unwrap(),
            vec![120.0f32; 4],
            "1 * 1 * 2 * 3 * 4 * 5"
        );
        // An evicted program compiles again and computes the same.
        let again = vm
            .launch(&scale(2), LaunchConfig::new(1, 4), &args)
            .unwrap();
        assert!(again.jit);
        assert_eq!(vm.read(&x).unwrap(), vec![240.0f32; 4]);
    }

    #[test]
    fn remembered_kernels_still_check_every_argument() {
        let vm = jit_vm();
        let p = scale(3);
        let x = vm.alloc_from(&[1.0f32; 4]).unwrap();
        let out = vm.alloc::<f32>(4).unwrap();
        let good = [Arg::from(&x), Arg::from(&out), Arg::from(4u32)];
        vm.launch(&p, LaunchConfig::new(1, 4), &good).unwrap();

        let wrong_ty = vm.alloc::<u32>(4).unwrap();
        let err = vm
            .launch(
                &p,
                LaunchConfig::new(1, 4),
                &[Arg::from(&x), Arg::from(&wrong_ty), Arg::from(4u32)],
            )
            .unwrap_err();
        match err {
            Error::Arg {
                index,
                name,
                expected,
                found,
            } => {
                assert_eq!((index, name.as_str()), (1, "out"));
                assert_eq!(expected, "a buffer of f32");
                assert_eq!(found, "a buffer of u32");
            }
            e => panic!("unexpected error {e}"),
        }
        let err = vm
            .launch(
                &p,
                LaunchConfig::new(1, 4),
                &[Arg::from(&x), Arg::from(&out), Arg::from(4i32)],
            )
            .unwrap_err();
        assert!(matches!(err, Error::Arg { index: 2, .. }), "{err}");
        let err = vm
            .launch(
                &p,
                LaunchConfig::new(1, 4),
                &[Arg::from(&x), Arg::from(&out)],
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ArgCount {
                    expected: 3,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );
        vm.free(out).unwrap();
        let err = vm.launch(&p, LaunchConfig::new(1, 4), &good).unwrap_err();
        assert!(matches!(err, Error::InvalidHandle), "{err}");

        // A trap through a remembered kernel names the buffer and its length.
        let small = vm.alloc::<f32>(2).unwrap();
        let err = vm
            .launch(
                &p,
                LaunchConfig::new(1, 4),
                &[Arg::from(&x), Arg::from(&small), Arg::from(4u32)],
            )
            .unwrap_err();
        let trap = err.trap().unwrap();
        assert_eq!((trap.kind, trap.lane), (crate::TrapKind::OutOfBounds, 2));
        assert!(
            trap.to_string().contains("buffer `out` (length 8 bytes)"),
            "{trap}"
        );
        // And the VM still runs the program.
        let out = vm.alloc::<f32>(4).unwrap();
        vm.launch(
            &p,
            LaunchConfig::new(1, 4),
            &[Arg::from(&x), Arg::from(&out), Arg::from(4u32)],
        )
        .unwrap();
        assert_eq!(vm.read(&out).unwrap(), vec![3.0f32; 4]);
    }
}
