//! [`Vm`]: buffers, the boundary pool, the decoded-program cache and launches.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use holovm_isa::{LaunchConfig, Program, Ty, POOL_BYTES, POOL_CLASSES, POOL_CLASS_BYTES};
use rayon::prelude::*;

use crate::args::{bind_arg, Arg, Bindings, Bound};
use crate::config::VmConfig;
use crate::interp::decode::{decode, Decoded, UniSrc};
use crate::interp::exec::{run_block, BlockState, Counters};
use crate::interp::mem::{Env, Region};
use crate::interp::runs::Runs;
use crate::interp::trap::interp_trap;
use crate::interp::{ops, BlockTrap};
use crate::memo::KernelMemo;
use crate::memory::{AnyBuffer, Buffer, Memory};
use crate::tier::{self, variant_tag, JitCache, KeyMap, Tier};
use crate::{Element, Error};

static NEXT_VM_ID: AtomicU64 = AtomicU64::new(1);

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
    /// The lanes of the compiled code's vector group (0: the interpreter, or compiled code
    /// that runs every lane on its own). A launch whose blocks leave many lanes after the
    /// last full group runs a variant compiled with a narrower group
    /// ([`holovm_jit::CompiledKernel::variant_for`]).
    pub group: u32,
    /// True when the compiled code ran the blocks' partial last groups as vector code, with
    /// phantom lanes past the block (a variant for launches whose blocks end in one,
    /// [`holovm_jit::CompiledKernel::variant_for`]).
    pub partial: bool,
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

/// An embeddable holovm virtual machine: buffers, the boundary pool, and the interpreter.
///
/// A `Vm` is `Send + Sync`: share it between host threads with `&Vm` or `Arc<Vm>`. Its memory
/// sits behind one lock, taken once per call (a launch holds it for its whole run, so launches
/// on one `Vm` run one at a time; use several `Vm`s for independent work). Decoded programs and
/// compiled kernels are cached by [`ProgramKey`](crate::ProgramKey) outside the lock; the
/// kernels launched most recently are also remembered under it, so relaunching one costs no
/// cache lookup.
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
        let jit = JitCache::new(holovm_jit::JitOptions {
            perf_map: config.perf_map,
            max_insts: config.jit_max_insts,
            ..Default::default()
        });
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
            jit,
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
            // A launch whose blocks the kernel's vector group fits badly, or that end in
            // partial groups its variant runs as vector code, takes the slow path, which
            // finds or compiles the variant.
            let shape = (config.grid, config.block);
            if let Some(kernel) = memo.find(&key, 0, generation) {
                let tag = variant_tag(kernel, shape);
                if tag == 0 {
                    return self.launch_jit(kernel, mem, scratch, bind, program, config, args);
                }
                if let Some(variant) = memo.find(&key, tag, generation) {
                    return self.launch_jit(variant, mem, scratch, bind, program, config, args);
                }
            } else if let Some(kernel) = self.jit.cached_kernel(&key) {
                if variant_tag(&kernel, shape) == 0 {
                    return self.launch_remembered(
                        &mut guard, generation, kernel, 0, program, config, args,
                    );
                }
            }
        }
        self.launch_uncached(program, config, args)
    }

    /// Runs `kernel`, taken from the JIT cache in `generation`, under the lock (`state`), and
    /// remembers it in the memo under `tag` (0: the program's main kernel, else a variant's,
    /// `tier::variant_tag`), unless the cache has changed generation since (it may
    /// have been evicted): then the memo forgets the kernels that left, and this one runs
    /// once.
    #[allow(clippy::too_many_arguments)]
    fn launch_remembered(
        &self,
        state: &mut State,
        generation: u64,
        kernel: Arc<holovm_jit::CompiledKernel>,
        tag: u32,
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
        let kernel = memo.insert(program.key(), tag, generation, kernel);
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
        if let Some(main) = kernel {
            let shape = (config.grid, config.block);
            let (kernel, tag) =
                self.jit
                    .kernel_for_shape(&slot, program, Arc::clone(&main), tier, shape);
            let mut guard = self.lock();
            if tag != 0 && self.jit.generation() == generation {
                // The fast path finds a variant through its main kernel's narrowing rule.
                guard.memo.insert(program.key(), 0, generation, main);
            }
            // The cache may have changed during the lookup (this launch may have evicted it).
            return self
                .launch_remembered(&mut guard, generation, kernel, tag, program, config, args);
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
        memo.follow(generation);

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
                group: 0,
                partial: false,
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
            group: kernel.group(),
            partial: kernel.partial_groups(),
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
        self.jit_dump_group(program, 0, perf_map)
    }

    /// Like [`Vm::jit_dump_with`], compiled with vector groups of `group` lanes (4, 8, 16 or
    /// 32; 0: the JIT's choice): the variant that launches with blocks the JIT's choice fits
    /// badly run ([`LaunchStats::group`] says which ran).
    ///
    /// ```
    /// let vm = holovm::Vm::new();
    /// let program = holovm::examples::find("sum").unwrap().program()?;
    /// let dump = vm.jit_dump_group(&program, 8, false)?;
    /// assert!(dump.strategy.to_string().contains("groups of 8 lanes"));
    /// # Ok::<(), holovm::Error>(())
    /// ```
    pub fn jit_dump_group(
        &self,
        program: &Program,
        group: u32,
        perf_map: bool,
    ) -> Result<holovm_jit::JitDump, Error> {
        let opts = holovm_jit::JitOptions {
            perf_map,
            group,
            max_insts: self.config.jit_max_insts,
            ..Default::default()
        };
        self.jit_dump_options(program, &opts)
    }

    /// Like [`Vm::jit_dump_with`], compiled with `opts` (their `dump` is set): for example
    /// the variant that launches whose blocks end in a partial group run
    /// (`JitOptions::partial`, [`LaunchStats::partial`] says it ran).
    ///
    /// ```
    /// let vm = holovm::Vm::new();
    /// let program = holovm::examples::find("sum").unwrap().program()?;
    /// let opts = holovm::jit::JitOptions { partial: true, ..Default::default() };
    /// let dump = vm.jit_dump_options(&program, &opts)?;
    /// assert!(dump.strategy.to_string().contains("phantom lanes"));
    /// # Ok::<(), holovm::Error>(())
    /// ```
    pub fn jit_dump_options(
        &self,
        program: &Program,
        opts: &holovm_jit::JitOptions,
    ) -> Result<holovm_jit::JitDump, Error> {
        let plain = holovm_jit::JitOptions {
            dump: false,
            perf_map: false,
            ..opts.clone()
        };
        // (Verified, so that a JIT bug shows as the instructions Cranelift's verifier
        // rejects, with the function, rather than as a failure deeper in the compiler.)
        let opts = holovm_jit::JitOptions {
            dump: true,
            verify: true,
            ..opts.clone()
        };
        let compiled = holovm_jit::compile(program, &opts)
            .and_then(|k| Ok((k, holovm_jit::compile(program, &plain)?)));
        match compiled {
            Ok((kernel, timed)) => {
                let mut dump = kernel.dump().clone();
                dump.compile_time = timed.dump().compile_time;
                dump.compile_parts = timed.dump().compile_parts;
                Ok(dump)
            }
            Err(e) => {
                let mut message = format!("{e}; the interpreter runs this program");
                if let holovm_jit::JitError::Verifier { clif: Some(f), .. } = &e {
                    message += &format!("\n\n;; the function the verifier rejected\n{f}");
                }
                Err(Error::Jit {
                    kernel: program.name().to_string(),
                    message,
                })
            }
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

    /// Why the JIT could not compile `program`, if it tried and failed: the program, or one
    /// of its variants (narrower vector groups, partial groups as vector code), which
    /// launches then do without.
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
    fn narrower_variants_are_remembered_beside_their_main_kernel() {
        let vm = jit_vm();
        let p = scale(3);
        let x = vm.alloc_from(&[1.0f32; 64]).unwrap();
        let out = vm.alloc::<f32>(64).unwrap();
        let args = [Arg::from(&x), Arg::from(&out), Arg::from(16u32)];
        let launch = |block: u32| vm.launch(&p, LaunchConfig::new(1, block), &args).unwrap();
        assert_eq!(launch(16).group, 16);
        // Found without a cache lookup from now on: the variant through its main kernel's
        // rule, so both are remembered.
        let held = vm.lock().memo.held().0;
        assert_eq!(held, 2, "the main kernel and the variant");
        for (block, group) in [(16, 16), (64, 32), (16, 16)] {
            assert_eq!(launch(block).group, group, "block {block}");
        }
        assert_eq!(vm.lock().memo.held().0, 2);
        assert_eq!(
            vm.read(&out).unwrap()[..17],
            [[3.0; 16].as_slice(), &[0.0]].concat()
        );
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
        assert_eq!(vm.lock().memo.held().0, 0);
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
            let (remembered, generation) = st.memo.held();
            assert_eq!(generation, vm.jit.generation());
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
        assert!(matches!(err, Error::Arg { index: 1, .. }), "{err}");

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
