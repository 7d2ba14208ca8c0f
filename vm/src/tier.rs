//! Tiering between the interpreter and the Cranelift JIT: the compiled-kernel cache, the
//! policy that decides when a program is hot, and running compiled kernels over a launch.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use holovm_isa::{ParamKind, Program, ProgramKey};
use holovm_jit::{
    CompiledKernel, JitOptions, LaunchEnv, LaunchVariant, ParamSlot, Scratch, TrapRecord,
};
use rayon::prelude::*;

/// Which execution tier runs a program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Always the interpreter.
    Interpret,
    /// Compile before the first launch and always run compiled code. A program the JIT
    /// fails to compile still runs, in the interpreter: [`LaunchStats::jit`](crate::LaunchStats)
    /// is then false and [`Vm::jit_error`](crate::Vm::jit_error) says why.
    Jit,
    /// Interpret a program until it is hot, then compile it on a background thread and run
    /// the compiled code once it is published (the default). A program is hot once the
    /// interpreter time spent on it reaches [`VmConfig::jit_threshold`](crate::VmConfig)
    /// (2 ms by default): by then compiling (0.3-1.3 ms for the example kernels, on another
    /// thread) costs no more than what has already been spent interpreting it. Against the
    /// best choice made in hindsight, a program that runs long loses at most the threshold's
    /// worth of interpreting, and one that stops soon after at most one compile.
    #[default]
    Auto,
}

/// What the JIT knows about one program.
#[derive(Default)]
pub(crate) struct JitSlot {
    /// The kernel compiled with the JIT's own choice of vector group.
    main: Variant,
    /// The kernels compiled with narrower vector groups of 16, 8 and 4 lanes, for launches
    /// whose blocks the main kernel's group fits badly
    /// ([`CompiledKernel::variant_for`]); compiled when such a launch first comes (under
    /// `Tier::Auto`, when a second one does).
    narrow: [Variant; 3],
    /// The kernel compiled with `JitOptions::partial`, for launches whose blocks end in a
    /// partial group that it runs as vector code
    /// ([`CompiledKernel::variant_for`]); compiled as the narrower ones are.
    partial: Variant,
    /// Nanoseconds of interpreter time spent on the program (Auto).
    interp_ns: AtomicU64,
}

/// One compile of a program.
#[derive(Default)]
struct Variant {
    /// The compiled kernel, or why compiling failed; set once.
    kernel: OnceLock<Result<Arc<CompiledKernel>, String>>,
    /// A background compile has been started.
    compiling: AtomicBool,
    /// A launch has asked for this variant under `Tier::Auto` (the second one compiles it).
    asked: AtomicBool,
}

impl Variant {
    /// The compiled kernel, if compiling has finished and succeeded.
    #[inline]
    fn compiled(&self) -> Option<&Arc<CompiledKernel>> {
        self.kernel.get().and_then(|r| r.as_ref().ok())
    }

    /// The compiled kernel, compiling `program` as the variant of `tag` says ([`variant_tag`];
    /// 0: the main kernel) first if nobody has (concurrent callers wait for one compile);
    /// `None` if compiling failed.
    fn get_or_compile(
        &self,
        program: &Program,
        base: &JitOptions,
        tag: u32,
    ) -> Option<&Arc<CompiledKernel>> {
        self.kernel
            .get_or_init(|| compile(program, base, tag))
            .as_ref()
            .ok()
    }
}

impl JitSlot {
    /// The compiled kernel, if compiling has finished and succeeded.
    #[inline]
    fn compiled(&self) -> Option<&Arc<CompiledKernel>> {
        self.main.compiled()
    }

    /// The variant of `tag` ([`variant_tag`]).
    fn variant(&self, tag: u32) -> &Variant {
        match tag {
            16 => &self.narrow[0],
            8 => &self.narrow[1],
            4 => &self.narrow[2],
            PARTIAL => &self.partial,
            _ => &self.main,
        }
    }
}

/// The tag of the variant compiled with `JitOptions::partial` (in the VM's memo and a
/// program's [`JitSlot`]): not a group size.
pub(crate) const PARTIAL: u32 = 1;

/// The compile of `kernel`'s program that a launch of `grid` blocks of `block` lanes should
/// run, as a tag: 0 for `kernel` (the main one), [`PARTIAL`] for the variant that runs the
/// blocks' partial last groups as vector code, else the narrower group of a variant.
#[inline]
pub(crate) fn variant_tag(kernel: &CompiledKernel, (grid, block): (u32, u32)) -> u32 {
    match kernel.variant_for(grid, block) {
        Some(LaunchVariant::Narrower(group)) => group,
        Some(LaunchVariant::Partial) => PARTIAL,
        None => 0,
    }
}

/// A [`Hasher`] for [`ProgramKey`]s. A key is a SHA-256 digest, already uniformly
/// distributed, so a multiply-rotate fold of its words (FxHash-style) spreads it as well as
/// SipHash does at a fraction of the cost. The caches it serves are bounded by their capacity,
/// so even chosen keys cannot make a lookup probe more than that many entries.
#[derive(Clone, Copy, Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(K);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`KeyHasher`]s.
pub(crate) type KeyHash = BuildHasherDefault<KeyHasher>;

/// A concurrent map keyed by [`ProgramKey`].
pub(crate) type KeyMap<V> = DashMap<ProgramKey, V, KeyHash>;

/// The compiled-kernel cache: `ProgramKey` to slot. Keys are SHA-256 digests of the
/// canonical bytecode, so a hit is always the same program.
pub(crate) struct JitCache {
    slots: KeyMap<Arc<JitSlot>>,
    /// Background compiles in flight (for tests and `wait_for_jit`).
    pending: Arc<AtomicU32>,
    /// Bumped whenever kernels leave the cache (`clear`, eviction), so a VM's memo of its
    /// recent kernels (see `Vm::launch`) knows to forget them.
    generation: AtomicU64,
    /// The options every compile starts from (`VmConfig::perf_map`,
    /// `VmConfig::jit_max_insts`).
    base: JitOptions,
}

impl JitCache {
    /// An empty cache whose compiles start from `base` (its perf map and size limit).
    pub(crate) fn new(base: JitOptions) -> Self {
        JitCache {
            slots: KeyMap::default(),
            pending: Arc::default(),
            generation: AtomicU64::new(0),
            base,
        }
    }

    fn slot(&self, program: &Program, capacity: usize) -> Arc<JitSlot> {
        let key = program.key();
        if let Some(s) = self.slots.get(&key) {
            return Arc::clone(&s);
        }
        if self.slots.len() >= capacity.max(1) {
            // Evict everything: kernels in use by running launches stay alive through their
            // `Arc` and are freed (code pages included) when the last launch drops it.
            self.slots.clear();
            // After the clear: a launch that reads the new generation finds the cleared map.
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Arc::clone(&self.slots.entry(key).or_default())
    }

    /// The cache's generation: it changes whenever kernels leave the cache.
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The compiled kernel cached for `key`, if there is one; never compiles. One map lookup.
    #[inline]
    pub(crate) fn cached_kernel(&self, key: &ProgramKey) -> Option<Arc<CompiledKernel>> {
        self.slots.get(key)?.compiled().cloned()
    }

    /// Whether compiled code for `key` is cached; never compiles. One map lookup.
    #[inline]
    pub(crate) fn is_compiled(&self, key: &ProgramKey) -> bool {
        self.slots
            .get(key)
            .is_some_and(|slot| slot.compiled().is_some())
    }

    /// The kernel to run `program` with under `tier`, compiling it if the policy says so.
    pub(crate) fn kernel_for(
        &self,
        program: &Program,
        tier: Tier,
        capacity: usize,
    ) -> (Option<Arc<CompiledKernel>>, Arc<JitSlot>) {
        let slot = self.slot(program, capacity);
        let kernel = match tier {
            Tier::Interpret => None,
            Tier::Jit => slot.main.get_or_compile(program, &self.base, 0).cloned(),
            Tier::Auto => slot.compiled().cloned(),
        };
        (kernel, slot)
    }

    /// The kernel to run a launch of `grid` blocks of `block` lanes with, given the
    /// program's main kernel `main` (from `slot`), and its tag for the VM's memo
    /// ([`variant_tag`]): a variant with a narrower vector group where `main`'s fits the
    /// blocks badly, or one that runs the blocks' partial last groups as vector code
    /// ([`CompiledKernel::variant_for`]), else `main`. Under `Tier::Jit` the variant is
    /// compiled now; under `Tier::Auto` on a background thread
    /// once a second launch asks for it (a shape that comes once is not worth a compile),
    /// `main` running the launches until it is published. A variant that failed to compile,
    /// or compiled to per-lane code only, leaves `main` in charge.
    pub(crate) fn kernel_for_shape(
        &self,
        slot: &Arc<JitSlot>,
        program: &Program,
        main: Arc<CompiledKernel>,
        tier: Tier,
        (grid, block): (u32, u32),
    ) -> (Arc<CompiledKernel>, u32) {
        let tag = variant_tag(&main, (grid, block));
        if tag == 0 {
            return (main, 0);
        }
        let variant = slot.variant(tag);
        let compiled = match tier {
            Tier::Jit => variant.get_or_compile(program, &self.base, tag),
            _ => {
                if variant.asked.swap(true, Ordering::Relaxed) {
                    self.compile_in_background(slot, program, tag);
                }
                variant.compiled()
            }
        };
        // A variant whose vector translation failed runs every lane on its own: worse.
        match compiled.filter(|k| k.group() > 0) {
            Some(k) => (Arc::clone(k), tag),
            None => (main, 0),
        }
    }

    /// Records interpreter time for `program` under `Tier::Auto`; once it passes
    /// `threshold`, compiles the program on a background thread.
    pub(crate) fn note_interpreted(
        &self,
        slot: &Arc<JitSlot>,
        program: &Program,
        spent: Duration,
        threshold: Duration,
    ) {
        let total = slot
            .interp_ns
            .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed)
            + spent.as_nanos() as u64;
        if total >= threshold.as_nanos() as u64 {
            self.compile_in_background(slot, program, 0);
        }
    }

    /// Compiles `program`'s variant of `tag` ([`variant_tag`]; 0: the main kernel) on a
    /// background thread, unless it is compiled or being compiled.
    fn compile_in_background(&self, slot: &Arc<JitSlot>, program: &Program, tag: u32) {
        let variant = slot.variant(tag);
        if variant.kernel.get().is_some() || variant.compiling.swap(true, Ordering::AcqRel) {
            return;
        }
        let pending = Arc::clone(&self.pending);
        let (job_slot, program, base) = (Arc::clone(slot), program.clone(), self.base.clone());
        pending.fetch_add(1, Ordering::AcqRel);
        let job_pending = Arc::clone(&pending);
        let spawned = std::thread::Builder::new()
            .name("holovm-jit".into())
            .spawn(move || {
                job_slot.variant(tag).get_or_compile(&program, &base, tag);
                job_pending.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            // No thread available: stay as we are; a later launch tries again.
            pending.fetch_sub(1, Ordering::AcqRel);
            variant.compiling.store(false, Ordering::Release);
        }
    }

    /// Background compiles still running.
    pub(crate) fn pending(&self) -> u32 {
        self.pending.load(Ordering::Acquire)
    }

    /// Compiled kernels in the cache.
    pub(crate) fn compiled(&self) -> usize {
        self.slots.iter().filter(|s| s.compiled().is_some()).count()
    }

    /// Drops every cached kernel (their code is freed once no launch uses it).
    pub(crate) fn clear(&self) {
        self.slots.clear();
        // After the clear: a launch that reads the new generation finds the cleared map.
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The compile error kept for `program`, if compiling it failed: its main kernel's, or
    /// a variant's (launches then run the main kernel).
    pub(crate) fn error(&self, program: &Program) -> Option<String> {
        let slot = self.slots.get(&program.key())?;
        if let Some(Err(e)) = slot.main.kernel.get() {
            return Some(e.clone());
        }
        let narrow = [16, 8, 4].map(|g| format!("the variant with groups of {g} lanes"));
        let partial = "the variant that runs partial groups as vector code".to_string();
        let error = narrow
            .into_iter()
            .chain([partial])
            .zip(slot.narrow.iter().chain([&slot.partial]))
            .find_map(|(which, v)| match v.kernel.get() {
                Some(Err(e)) => Some(format!("{which}: {e}")),
                _ => None,
            });
        error
    }
}

/// Compiles `program` as the variant of `tag` says ([`variant_tag`]; 0: the main kernel,
/// with the JIT's choice of group), starting from `base`.
fn compile(program: &Program, base: &JitOptions, tag: u32) -> Result<Arc<CompiledKernel>, String> {
    let opts = JitOptions {
        group: if tag == PARTIAL { 0 } else { tag },
        partial: tag == PARTIAL,
        ..base.clone()
    };
    holovm_jit::compile(program, &opts)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// A `LaunchEnv` shared by the threads of one launch.
struct SharedEnv<'a>(&'a LaunchEnv);

// SAFETY: the environment is only read. The memory its pointers name is valid for the whole
// launch (the caller holds the VM lock, so no Rust reference to it exists), and the ISA lets
// blocks running on different threads access it concurrently (racing writes leave one of the
// written values; the compiled code is not Rust code, so this is not a Rust data race).
unsafe impl Sync for SharedEnv<'_> {}

impl SharedEnv<'_> {
    // A method, so closures capture the whole `Sync` wrapper rather than its field.
    fn env(&self) -> &LaunchEnv {
        self.0
    }
}

/// Runs all blocks of a launch with compiled code; on a trap returns the trap of the lowest
/// trapping block (docs/ISA.md section 7).
///
/// # Safety
///
/// `env` must satisfy [`CompiledKernel::run_blocks`]'s contract for the whole call.
#[inline]
pub(crate) unsafe fn run(
    kernel: &CompiledKernel,
    env: &LaunchEnv,
    serial_scratch: &mut Scratch,
    workers: Option<&rayon::ThreadPool>,
) -> Result<Option<TrapRecord>, holovm_jit::LaunchError> {
    let grid = env.grid;
    let Some(pool) = workers else {
        let mut trap = TrapRecord::default();
        // SAFETY: the caller guarantees `env`'s contract.
        unsafe { kernel.run_blocks(env, 0..grid, serial_scratch, &mut trap) }?;
        return Ok((trap.kind != 0).then_some(trap));
    };
    // SAFETY: the caller guarantees `env`'s contract.
    unsafe { run_parallel(kernel, env, pool) }
}

/// [`run`] on a worker pool.
///
/// # Safety
///
/// As for [`run`].
#[inline(never)]
unsafe fn run_parallel(
    kernel: &CompiledKernel,
    env: &LaunchEnv,
    pool: &rayon::ThreadPool,
) -> Result<Option<TrapRecord>, holovm_jit::LaunchError> {
    let grid = env.grid;
    // A few chunks per thread balance uneven blocks without much per-chunk overhead.
    let chunks = (pool.current_num_threads() as u32 * 4).clamp(1, grid);
    let per = grid.div_ceil(chunks);
    let first_trap = AtomicU32::new(u32::MAX);
    let result: Mutex<Result<Option<TrapRecord>, holovm_jit::LaunchError>> = Mutex::new(Ok(None));
    let shared = SharedEnv(env);
    pool.install(|| {
        (0..chunks)
            .into_par_iter()
            .for_each_init(Scratch::new, |scratch, c| {
                let lo = c * per;
                let hi = (lo + per).min(grid);
                // Chunks after a trapping block cannot change the reported trap.
                if lo >= hi || lo > first_trap.load(Ordering::Relaxed) {
                    return;
                }
                let mut trap = TrapRecord::default();
                // SAFETY: see `SharedEnv`; every chunk runs distinct blocks with its own scratch.
                let r = unsafe { kernel.run_blocks(shared.env(), lo..hi, scratch, &mut trap) };
                let mut out = result.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Err(e) => *out = Err(e),
                    Ok(()) if trap.kind != 0 => {
                        first_trap.fetch_min(trap.block, Ordering::Relaxed);
                        if let Ok(slot) = &mut *out {
                            if slot.is_none_or(|t| trap.block < t.block) {
                                *slot = Some(trap);
                            }
                        }
                    }
                    Ok(()) => {}
                }
            })
    });
    result.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// The VM's [`Trap`](crate::Trap) for a trap record written by compiled code.
pub(crate) fn to_trap(program: &Program, t: &TrapRecord, slots: &[ParamSlot]) -> crate::Trap {
    use crate::{MemAccess, Space, TrapKind};
    // Compiled code only writes known codes; an unknown one would be a JIT bug, reported as
    // the launch running out of fuel rather than a panic.
    let kind = t.trap_kind().unwrap_or(TrapKind::OutOfFuel);
    let access = matches!(kind, TrapKind::OutOfBounds | TrapKind::Misaligned).then(|| {
        let params = program.params();
        // SPACE_SHARED is also a pointer's possible high half (naming no buffer): shared
        // memory only for the instructions that access it.
        let shared = matches!(
            program.insts().get(t.pc as usize),
            Some(holovm_isa::Inst::Lds { .. } | holovm_isa::Inst::Sts { .. })
        );
        let space = match t.space {
            holovm_jit::SPACE_SHARED if shared => Space::Shared {
                bytes: program.shared_bytes() as u64,
            },
            holovm_jit::SPACE_POOL => Space::Pool,
            p => match (params.get(p as usize), slots.get(p as usize)) {
                (Some(param), Some(slot)) if matches!(param.kind, ParamKind::Buffer(_)) => {
                    Space::Buffer {
                        param: p,
                        name: param.name.clone(),
                        bytes: slot.len,
                    }
                }
                _ => Space::Invalid { handle: p },
            },
        };
        // The access size is the size of the trapping instruction's type.
        let size = program
            .insts()
            .get(t.pc as usize)
            .and_then(access_size)
            .unwrap_or(0);
        MemAccess {
            space,
            offset: t.exact_offset(),
            size,
        }
    });
    crate::Trap {
        kind,
        pc: t.pc,
        inst: crate::interp::trap::inst_text(program.def(), t.pc as usize),
        block: t.block,
        lane: t.lane,
        access,
    }
}

fn access_size(inst: &holovm_isa::Inst) -> Option<u32> {
    use holovm_isa::Inst;
    match *inst {
        Inst::Ldg { ty, .. }
        | Inst::Stg { ty, .. }
        | Inst::Lds { ty, .. }
        | Inst::Sts { ty, .. } => Some(ty.size()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variants_compile_error_is_kept_after_the_main_kernels() {
        let p = holovm_asm::assemble(".kernel k\n.param x: ptr f32\nexit\n").unwrap();
        let cache = JitCache::new(JitOptions::default());
        let slot = cache.slot(&p, 8);
        assert_eq!(cache.error(&p), None);
        let failed = |why: &str| Err::<Arc<CompiledKernel>, _>(why.to_string());
        let _ = slot.variant(8).kernel.set(failed("no room"));
        assert_eq!(
            cache.error(&p).as_deref(),
            Some("the variant with groups of 8 lanes: no room")
        );
        let _ = slot.main.kernel.set(failed("broken"));
        assert_eq!(cache.error(&p).as_deref(), Some("broken"));
    }
}
