//! `compile`: program -> analysis -> CLIF -> machine code in its own `JITModule`.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{
    ExtFuncData, ExternalName, InstBuilder, UserExternalName, UserFuncName,
};
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable, OptLevel};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module, ModuleReloc};
use holovm_isa::Program;

use crate::analysis::{analyse, Analysis};
use crate::barrier::Barriers;
use crate::beside::run_beside;
use crate::dump::{CompileParts, JitDump, Strategy};
use crate::jumps::thread_jumps;
use crate::kernel::{CompiledKernel, KernelFn};
use crate::translate::{kernel_signature, lanes_signature, FnKind, ScratchLayout, Tr, TrError};
use crate::{choices, listing, perf_map, strategy, webs};

/// Options for [`compile`].
#[derive(Clone, Debug)]
pub struct JitOptions {
    /// Use the vector strategy when the program allows it (default true).
    pub vector: bool,
    /// Lanes per vector group: 4, 8, 16 or 32; 0 (the default) picks one from the
    /// program's register pressure and loops.
    pub group: u32,
    /// Keep CLIF texts and the disassembly in the [`JitDump`] (default false: it costs
    /// compile time).
    pub dump: bool,
    /// Run Cranelift's IR verifier on the generated CLIF (default: on in debug builds).
    pub verify: bool,
    /// Append the kernel's code to `/tmp/perf-<pid>.map` for `perf report`, one symbol per
    /// stretch that implements one ISA instruction (default false).
    pub perf_map: bool,
    /// Hand a vector kernel's per-lane function to a worker of the JIT's compile pool while
    /// the calling thread compiles the vector code (default true): the same work, finished
    /// sooner. If no worker has started it when the vector code is done, the calling thread
    /// compiles it too, as it always does without this option.
    pub parallel: bool,
    /// Run Cranelift's optimiser on the kernel function: `None` (the default) lets the
    /// compiler choose (on, except for programs with transcendentals or barriers; the
    /// dump's `optimiser` line says why), `Some(on)` decides. A vector kernel's per-lane
    /// function is never optimised.
    pub optimise: Option<bool>,
    /// Run a block's partial last group as vector code with phantom lanes past the block,
    /// where the program allows it (default false; see
    /// [`CompiledKernel::variant_for`]): a variant for launches whose blocks end in
    /// one, since the test costs the program's other launches a little.
    pub partial: bool,
    /// The most instructions a program may have to be compiled (default
    /// [`DEFAULT_MAX_INSTS`]); a longer one is [`JitError::Unsupported`] and runs in the
    /// interpreter.
    pub max_insts: usize,
}

/// The default [`JitOptions::max_insts`]: 16,384 instructions. Cranelift's compile time and
/// memory grow faster than a function's size (a straight-line program of loads, arithmetic
/// and stores compiles in 84 ms at 4,000 instructions, 0.56 s and 285 MB at 16,000, 4.3 s
/// and 925 MB at 64,000; programs may have 2^20), so past this a compile would hold a core
/// and memory for longer than the interpreter is likely to run such a program. The bundled
/// kernels have 7 to 40.
pub const DEFAULT_MAX_INSTS: usize = 1 << 14;

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            vector: true,
            group: 0,
            dump: false,
            verify: cfg!(debug_assertions),
            perf_map: false,
            parallel: true,
            optimise: None,
            partial: false,
            max_insts: DEFAULT_MAX_INSTS,
        }
    }
}

/// Why [`compile`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JitError {
    /// The JIT cannot run this program; the VM should use the interpreter.
    #[error("not supported by the JIT (use the interpreter): {reason}")]
    Unsupported {
        /// Why, for the dump.
        reason: String,
    },
    /// The host CPU or its settings could not be used by Cranelift.
    #[error("JIT host setup failed: {0}")]
    Host(String),
    /// Cranelift rejected the generated code or failed to emit it (a JIT bug).
    #[error("JIT code generation failed: {0}")]
    Codegen(String),
    /// Cranelift's verifier ([`JitOptions::verify`]) rejected a generated function (a JIT
    /// bug): the errors, and with [`JitOptions::dump`] the function's CLIF.
    #[error("JIT code generation failed: CLIF verifier: {errors}")]
    Verifier {
        /// The verifier's errors, each naming a CLIF instruction.
        errors: String,
        /// The rejected function, as text (dumps only).
        clif: Option<String>,
    },
    /// Invalid options.
    #[error("invalid JIT options: {0}")]
    Options(String),
}

/// The host target ISA with every feature the CPU has (SSE4.1, AVX, AVX2, FMA, BMI, ...),
/// built once, with Cranelift's optimiser when `optimise`. Code compiled without it: a
/// vector kernel's per-lane function (run for tail lanes, bail-outs and later phases),
/// translated instruction by instruction with little for the optimiser to find (divergent
/// kernels ran no slower without it; the optimiser is a quarter of a compile), and kernels
/// without it for a reason (see [`choices::no_optimiser`]). (The single-pass register
/// allocator would halve a per-lane function's compile time, but made its code 6x slower.)
fn host_isa(dump: bool, optimise: bool) -> Result<OwnedTargetIsa, JitError> {
    // For dumps, also the offsets of the machine code's blocks (the listing shows them);
    // the code itself is the same.
    static ISAS: [OnceLock<Result<OwnedTargetIsa, String>>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let make = || {
        let mut flags = settings::builder();
        for (k, v) in [
            ("opt_level", if optimise { "speed" } else { "none" }),
            ("is_pic", "false"),
            ("use_colocated_libcalls", "false"),
            ("enable_verifier", "false"),
            ("machine_code_cfg_info", if dump { "true" } else { "false" }),
        ] {
            flags
                .set(k, v)
                .map_err(|e| format!("setting {k}={v}: {e}"))?;
        }
        let builder = cranelift_native::builder().map_err(|e| e.to_string())?;
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    };
    ISAS[usize::from(dump) * 2 + usize::from(optimise)]
        .get_or_init(make)
        .clone()
        .map_err(JitError::Host)
}

/// Whether the target ISA has the boolean setting `name` (a CPU feature, `has_sse41`) on.
fn has_flag(isa: &dyn TargetIsa, name: &str) -> bool {
    isa.isa_flags()
        .iter()
        .any(|f| f.name == name && f.as_bool() == Some(true))
}

/// Cranelift's per-compile state, kept per thread: reusing its allocations (the functions,
/// the register allocator's and the builder's tables) saves 2-4% of a compile's
/// instructions (callgrind).
struct Contexts {
    /// The entry function ([`kernel_signature`]).
    kernel: Context,
    /// Vector strategies: the per-lane code, a function of its own ([`lanes_signature`])
    /// that the kernel calls.
    lanes: Context,
    builder: Builder,
    /// The per-lane function's, which may be built on another thread.
    lanes_builder: Builder,
}

impl Contexts {
    fn new() -> Self {
        Contexts {
            kernel: Context::new(),
            lanes: Context::new(),
            builder: Builder::default(),
            lanes_builder: Builder::default(),
        }
    }
}

/// A reusable `FunctionBuilderContext`, renewed after a translation into it failed (a
/// failure leaves the translation's state there).
#[derive(Default)]
struct Builder {
    ctx: FunctionBuilderContext,
    in_use: bool,
}

impl Builder {
    /// The context for a translation; call [`Builder::done`] when it succeeded.
    fn start(&mut self) -> &mut FunctionBuilderContext {
        if self.in_use {
            self.ctx = FunctionBuilderContext::new();
        }
        self.in_use = true;
        &mut self.ctx
    }

    fn done(&mut self) {
        self.in_use = false;
    }
}

thread_local! {
    static CONTEXTS: RefCell<Contexts> = RefCell::new(Contexts::new());
}

/// Where a vector kernel's per-lane code is entered: the pcs where the vector code leaves
/// lanes to it, and the barriers.
type LaneEntries = (BTreeSet<u32>, BTreeSet<u32>);

/// Translates `program` with vector group `g` (0: scalar strategy, one function) into
/// `cx.kernel.func`; a vector kernel calls its per-lane code as user function `lanes_id`
/// (see [`lanes_job`]). Returns whether the vector code folded an entry guard on `%gid`
/// into its group limit, and for a vector kernel where its per-lane code is entered.
/// `partial`: [`JitOptions::partial`], for a program that allows it.
#[allow(clippy::too_many_arguments)]
fn build(
    program: &Program,
    an: &Analysis,
    g: u32,
    isa: &OwnedTargetIsa,
    lanes_id: FuncId,
    barriers: Option<&Barriers>,
    partial: bool,
    cx: &mut Contexts,
) -> Result<(bool, Option<LaneEntries>), TrError> {
    let cc = isa.default_call_conv();
    cx.kernel.clear();
    let func = &mut cx.kernel.func;
    func.name = UserFuncName::user(0, 0);
    func.signature = kernel_signature(cc);
    let lanes_fn = (g > 0).then(|| {
        let signature = func.import_signature(lanes_signature());
        let name = func.declare_imported_user_function(UserExternalName {
            namespace: 0,
            index: lanes_id.as_u32(),
        });
        func.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature,
            colocated: true,
            patchable: false,
        })
    });
    let b = FunctionBuilder::new(func, cx.builder.start());
    let mut tr = Tr::new(b, program, an, g, FnKind::Kernel, lanes_fn);
    tr.barriers = barriers;
    tr.partial = partial;
    tr.optimised = isa.flags().opt_level() != OptLevel::None;
    tr.blendv = has_flag(&**isa, "has_sse41");
    let tail = tr.b.create_block();
    if g > 0 {
        // Phased programs run their phases as vector code after the lanes' status
        // words are reset.
        let init = if tr.phased {
            tr.prepare_phased();
            let init = tr.b.create_block();
            tr.emit_phased_init(init);
            init
        } else {
            tr.block_init
        };
        tr.emit_vector(tail, init)?;
    } else {
        tr.b.switch_to_block(tr.launch_init);
        tr.b.ins().jump(tr.block_head, &[]);
        if tr.phased {
            tr.prepare_phased();
            tr.emit_phased_init(tr.group_head);
        } else {
            tr.b.switch_to_block(tr.block_init);
            tr.b.ins().jump(tr.group_head, &[]);
        }
        tr.b.switch_to_block(tr.group_head);
        tr.b.ins().jump(tail, &[]);
    }
    let guard = tr.v.as_ref().is_some_and(|v| v.guard.is_some());
    let optimised = tr.optimised;
    if lanes_fn.is_none() {
        tr.emit_scalar_program()?;
    }
    tr.emit_lane_loop(tail);
    let entries = lanes_fn.map(|_| (tr.resume_pcs.clone(), tr.barrier_pcs.clone()));
    tr.b.seal_all_blocks();
    tr.b.finalize(isa.frontend_config());
    cx.builder.done();
    if !optimised {
        // With the optimiser, the blocks' order shapes the hot loops' code (gemm ran 10%
        // slower with its branches threaded); without, the compile is what counts.
        thread_jumps(&mut cx.kernel.func);
    }
    Ok((guard, entries))
}

/// A vector kernel's per-lane code (group `g`, entered at `entries`) from translation to
/// machine code in `ctx`, compiled for `isa` (the cold one: the module's ISA is the
/// kernel's): what the second compile worker does. Returns the CLIF text before compilation
/// when `dump`.
#[allow(clippy::too_many_arguments)]
fn lanes_job(
    program: &Program,
    an: &Analysis,
    g: u32,
    entries: LaneEntries,
    ctx: &mut Context,
    builder: &mut Builder,
    isa: &dyn TargetIsa,
    opts: &JitOptions,
) -> Result<Option<String>, JitError> {
    ctx.clear();
    let func = &mut ctx.func;
    func.name = UserFuncName::user(0, 1);
    func.signature = lanes_signature();
    let b = FunctionBuilder::new(func, builder.start());
    let mut tr = Tr::new(b, program, an, g, FnKind::Lanes, None);
    (tr.resume_pcs, tr.barrier_pcs) = entries;
    tr.emit_scalar_program()
        .map_err(|TrError(e)| JitError::Unsupported { reason: e })?;
    let unused_tail = tr.b.create_block();
    tr.emit_lane_loop(unused_tail);
    tr.b.seal_all_blocks();
    tr.b.finalize(isa.frontend_config());
    builder.done();
    thread_jumps(&mut ctx.func);
    verify(&ctx.func, isa, opts)?;
    let text = opts.dump.then(|| ctx.func.display().to_string());
    ctx.set_disasm(opts.dump);
    ctx.compile(isa, &mut ControlPlane::default())
        .map_err(|e| JitError::Codegen(format!("{:?}", e.inner)))?;
    Ok(text)
}

/// Runs Cranelift's verifier on `func` if `opts.verify`.
fn verify(
    func: &cranelift_codegen::ir::Function,
    isa: &dyn TargetIsa,
    opts: &JitOptions,
) -> Result<(), JitError> {
    if !opts.verify {
        return Ok(());
    }
    cranelift_codegen::verify_function(func, isa).map_err(|e| JitError::Verifier {
        errors: e.to_string().trim().to_string(),
        clif: opts.dump.then(|| func.display().to_string()),
    })
}

/// Defines the per-lane function compiled in `ctx` (see [`lanes_job`]) in `module` as `id`.
fn define_cold(
    module: &mut JITModule,
    id: FuncId,
    ctx: &Context,
    isa: &dyn TargetIsa,
) -> Result<(), JitError> {
    let code = ctx
        .compiled_code()
        .ok_or_else(|| JitError::Codegen("no code for the per-lane function".into()))?;
    let align = (code.buffer.alignment as u64)
        .max(isa.function_alignment().minimum as u64)
        .max(isa.symbol_alignment());
    let relocs: Vec<ModuleReloc> = code
        .buffer
        .relocs()
        .iter()
        .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
        .collect();
    module
        .define_function_bytes(id, align, code.code_buffer(), &relocs)
        .map_err(|e| JitError::Codegen(e.to_string()))
}

/// A text of the kernel's function followed by its per-lane function's, if any.
fn both_texts(kernel: String, lanes: Option<String>) -> String {
    match lanes {
        Some(l) => format!("{kernel}\n{l}"),
        None => kernel,
    }
}

/// Compiles `program` to machine code.
///
/// Every verified program compiles: with the vector strategy when the program allows it,
/// with the phased strategy when it has barriers, otherwise with the scalar strategy;
/// [`CompiledKernel::strategy`] says which and why. [`JitError::Unsupported`] (use the
/// interpreter) is returned only if a translation fails internally.
pub fn compile(program: &Program, opts: &JitOptions) -> Result<CompiledKernel, JitError> {
    let t0 = Instant::now();
    // A panic in Cranelift (a function its verifier, off in release builds, would reject)
    // must not take the VM down with it: it is a compile error, and the interpreter runs
    // the program. (The inputs are only read; the contexts start over.)
    let compiled = catch_unwind(AssertUnwindSafe(|| {
        CONTEXTS.with(|cx| match cx.try_borrow_mut() {
            Ok(mut cx) => compile_with(program, opts, &mut cx, t0),
            // Not expected (compiles do not nest), but never worth a panic.
            Err(_) => compile_with(program, opts, &mut Contexts::new(), t0),
        })
    }));
    compiled.unwrap_or_else(|panic| {
        CONTEXTS.with(|cx| {
            if let Ok(mut cx) = cx.try_borrow_mut() {
                *cx = Contexts::new();
            }
        });
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(JitError::Codegen(format!("the compiler panicked: {what}")))
    })
}

/// The JIT's compile workers (as many as the machine has cores, 2 to 4), started on first
/// use; `None` if the threads cannot be started (compiles then run on the caller's thread).
/// A pool rather than a thread per compile: starting a thread cost 20-70 us here, and a new
/// thread could wait for a core until the compile was over, so only per-lane functions of
/// 300 CLIF instructions or more were worth one. The caller compiles the kernel and hands
/// the per-lane function to a worker ([`run_beside`]), taking it back if no worker started
/// it by then.
fn compile_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.clamp(2, 4))
            .thread_name(|i| format!("holovm-jit-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Wakes a compile worker at the start of a compile, so that one is up when the per-lane
/// function is handed over after the kernel's translation: a worker that had gone to sleep
/// between sporadic compiles (the usual case under `Tier::Auto`) took long enough to wake
/// that the calling thread took the job back about half the time. With a pause of 10 ms
/// between compiles of gemm, 20/40 -> 37/40 per-lane functions ran beside the kernel, and
/// the mean compile 2.0 -> 1.75 ms; back to back, no change.
fn wake_compile_worker() {
    if let Some(pool) = compile_pool() {
        pool.spawn(|| {});
    }
}

fn compile_with(
    program: &Program,
    opts: &JitOptions,
    cx: &mut Contexts,
    t0: Instant,
) -> Result<CompiledKernel, JitError> {
    if opts.parallel && opts.vector {
        wake_compile_worker();
    }
    if !matches!(opts.group, 0 | 4 | 8 | 16 | 32) {
        return Err(JitError::Options(format!(
            "group must be 0 (auto), 4, 8, 16 or 32, not {}",
            opts.group
        )));
    }
    if program.insts().len() > opts.max_insts {
        return Err(JitError::Unsupported {
            reason: format!(
                "the program has {} instructions, more than the JIT compiles ({}: \
                 `JitOptions::max_insts`, `VmConfig::jit_max_insts`)",
                program.insts().len(),
                opts.max_insts
            ),
        });
    }
    // A register reused for unrelated values compiles as a register per value (webs.rs);
    // the listing shows the program as written (the pcs are the same).
    let written = program;
    let written_an = analyse(program);
    let webs = webs::split(program, &written_an);
    let (program, mut an) = match &webs {
        Some(w) => (&w.program, analyse(&w.program)),
        None => (program, written_an),
    };
    // (Names only where a register was split, not only predicates.)
    an.reg_names = webs
        .as_ref()
        .map(|w| w.names.clone())
        .filter(|n| n.iter().any(|name| name.contains('/')));
    let group = if opts.group == 0 {
        choices::auto_group(program, &an)
    } else {
        opts.group
    };
    if let Some(reason) = &an.unsupported {
        return Err(JitError::Unsupported {
            reason: reason.clone(),
        });
    }
    let why_not = choices::no_optimiser(program, &an, opts);
    let optimise = why_not.is_none();
    let isa = host_isa(opts.dump, optimise)?;
    let mut module = JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()));
    let sig = kernel_signature(isa.default_call_conv());
    let id = module
        .declare_function("holovm_kernel", Linkage::Export, &sig)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let lanes_id = module
        .declare_function("holovm_lanes", Linkage::Local, &lanes_signature())
        .map_err(|e| JitError::Codegen(e.to_string()))?;

    let mut scalar_reason =
        (!opts.vector).then(|| "vector strategy disabled by options".to_string());
    // Phased kernels resolve their barriers by a call with this table (its address is in
    // their code: it lives as long as the compiled kernel). The layout of the per-lane
    // arrays and the register file does not depend on the group size.
    let barriers = an.has_barrier.then(|| {
        let layout = ScratchLayout::new(program, 1, true, an.has_call);
        Box::new(Barriers::new(program, &an, &layout))
    });
    // Whether the program can run partial groups as vector code, and this compile does.
    let partial_capable = crate::vector::partial_groups(program, &an);
    let partial = opts.partial && partial_capable;
    let b = barriers.as_deref();
    let mut built = None;
    if scalar_reason.is_none() {
        match build(program, &an, group, &isa, lanes_id, b, partial, cx) {
            Ok((guard, entries)) => {
                let costly = entries
                    .as_ref()
                    .and_then(|(r, bars)| choices::costly_resumes(&an, r, bars));
                match costly {
                    Some(why) => scalar_reason = Some(why),
                    None => built = Some((guard, group, entries)),
                }
            }
            Err(TrError(e)) => scalar_reason = Some(format!("vector translation failed: {e}")),
        }
    }
    let (guard, g, entries) = match built {
        Some(x) => x,
        None => match build(program, &an, 0, &isa, lanes_id, b, false, cx) {
            Ok(_) => (false, 0, None),
            Err(TrError(e)) => return Err(JitError::Unsupported { reason: e }),
        },
    };
    // As the kernel's `Tr::new` decides.
    let block_runs = g > 0 && program.ignores_blocks();
    let strategy = match &scalar_reason {
        None if an.has_barrier => Strategy::Phased {
            reason: format!(
                "{}; each phase runs as vector code in groups of {g} lanes ({}) where the \
                 group's lanes are ready at the same instruction with registers that fit it \
                 (always in the first phase), the other lanes and those that bail out in \
                 scalar code; between phases a call to holovm's resolve_barrier resolves the \
                 barrier{}{}",
                an.barrier_note,
                strategy::vector_detail(program, &an, g, guard, partial),
                strategy::whole_note(program),
                strategy::fold_note(program, &an)
            ),
        },
        None => Strategy::Vector {
            group: g,
            detail: strategy::vector_detail(program, &an, g, guard, partial),
        },
        Some(r) if an.has_barrier => Strategy::Phased {
            reason: format!(
                "{}; every lane in scalar code: {r}; between phases a call to holovm's \
                 resolve_barrier resolves the barrier",
                an.barrier_note
            ),
        },
        Some(r) => Strategy::Scalar { reason: r.clone() },
    };
    let layout = ScratchLayout::new(program, g.max(1), an.has_barrier, an.has_call);

    let Contexts {
        kernel: ctx,
        lanes,
        lanes_builder,
        ..
    } = cx;
    verify(&ctx.func, isa.as_ref(), opts)?;
    let kernel_clif = opts.dump.then(|| ctx.func.display().to_string());
    let kernel_insts = ctx.func.dfg.num_insts();
    ctx.set_disasm(opts.dump);
    let cold_isa = host_isa(opts.dump, false)?;
    let translate = t0.elapsed();
    let define_kernel = |module: &mut JITModule, ctx: &mut Context| {
        let start = Instant::now();
        module
            .define_function(id, ctx)
            .map_err(|e| JitError::Codegen(format!("{e:?}")))?;
        Ok::<_, JitError>(start.elapsed())
    };
    let caller = std::thread::current().id();
    let job = |lanes: &mut Context, builder: &mut Builder, entries: LaneEntries| {
        let start = Instant::now();
        let text = lanes_job(
            program,
            &an,
            g,
            entries,
            lanes,
            builder,
            cold_isa.as_ref(),
            opts,
        )?;
        let beside = std::thread::current().id() != caller;
        Ok::<_, JitError>((text, start.elapsed(), beside))
    };
    let split = entries.is_some();
    let pool = compile_pool().filter(|_| opts.parallel);
    let mut parts = CompileParts {
        translate,
        ..CompileParts::default()
    };
    let lanes_clif = match entries {
        Some(entries) => {
            let (text, took, beside) = match pool {
                // The per-lane code is translated and compiled by a compile worker meanwhile,
                // if one starts it in time (see `compile_pool`).
                Some(pool) => {
                    let (kernel, cold) = run_beside(
                        pool,
                        || define_kernel(&mut module, ctx),
                        || job(lanes, lanes_builder, entries),
                    );
                    parts.kernel = kernel?;
                    cold.map_err(|_| JitError::Codegen("the per-lane compile panicked".into()))??
                }
                None => {
                    let done = job(lanes, lanes_builder, entries)?;
                    parts.kernel = define_kernel(&mut module, ctx)?;
                    done
                }
            };
            (parts.lanes, parts.lanes_beside) = (Some(took), beside);
            define_cold(&mut module, lanes_id, lanes, cold_isa.as_ref())?;
            Some(text)
        }
        None => {
            parts.kernel = define_kernel(&mut module, ctx)?;
            None
        }
    };
    let lanes = split.then_some(&*lanes);
    let clif_insts = kernel_insts + lanes.map_or(0, |l| l.func.dfg.num_insts());
    let clif_before = kernel_clif.map(|k| both_texts(k, lanes_clif.flatten()));
    let clif_after = opts.dump.then(|| {
        let text = |c: &Context| c.func.display().to_string();
        both_texts(text(ctx), lanes.map(text))
    });
    module
        .finalize_definitions()
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let ptr = module.get_finalized_function(id);
    let mut code_size = 0;
    let mut listings = Vec::new();
    for (c, fid, title) in [
        (Some(&*ctx), id, "kernel"),
        (lanes, lanes_id, "per-lane function"),
    ] {
        let Some(cc) = c.and_then(|c| c.compiled_code()) else {
            continue;
        };
        code_size += cc.code_info().total_size;
        let addr = module.get_finalized_function(fid) as usize;
        if opts.dump {
            let isa = host_isa(true, optimise && fid == id)?;
            let text = listing::listing(cc, isa.as_ref(), written)
                .unwrap_or_else(|e| format!("(disassembly failed: {e})"));
            listings.push(format!(";; {title} at {addr:#x}\n{text}"));
        }
        if opts.perf_map {
            perf_map::append(addr, cc, program.name());
        }
    }
    let disasm = opts.dump.then(|| listings.join("\n"));
    // SAFETY: `ptr` is the entry of the function just compiled from a CLIF function with
    // `kernel_signature` (pointer, pointer, pointer, i32, i32) -> i32 in the ISA's default
    // (System V on x86-64 Linux) calling convention, which is `extern "C"` here; the code
    // stays mapped as long as `module`, which the kernel owns.
    let func: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(ptr) };
    let optimiser = match (why_not, split) {
        (None, false) => "on".to_string(),
        (None, true) => "on for the kernel, off for the per-lane function (cold)".to_string(),
        (Some(why), split) => format!(
            "off{} ({why})",
            if split { " for both functions" } else { "" }
        ),
    };
    let dump = JitDump {
        name: program.name().to_string(),
        strategy,
        optimiser,
        clif_before,
        clif_after,
        disasm,
        code_size,
        clif_insts,
        compile_time: t0.elapsed(),
        compile_parts: parts,
        code_addr: ptr as usize,
    };
    Ok(CompiledKernel {
        func,
        module: Mutex::new(Some(module)),
        layout,
        num_params: program.params().len(),
        name: program.name().to_string(),
        dump,
        lane_cost_ps: AtomicU64::new(0),
        split_launches: AtomicU64::new(0),
        _barriers: barriers,
        block_runs,
        group: g,
        tail_reruns: g > 0 && crate::vector::rerun_tail(program, &an).is_some(),
        tail_partial: g > 0 && partial,
        partial_capable: g > 0 && partial_capable,
        stores_in_loops: partial_capable && crate::vector::stores_in_loops(program),
    })
}

#[cfg(test)]
mod tests {
    use cranelift_codegen::ir::{types, AbiParam, Function, InstBuilder, Signature, UserFuncName};
    use cranelift_codegen::isa::CallConv;
    use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

    use super::*;

    /// A function whose second block uses a value defined in a block that does not
    /// dominate it (the shape of the JIT bugs the verifier has caught).
    fn broken(isa: &dyn TargetIsa) -> Function {
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(types::I32));
        sig.returns.push(AbiParam::new(types::I32));
        let mut func = Function::with_name_signature(UserFuncName::user(0, 0), sig);
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut fctx);
        let (entry, side, join) = (b.create_block(), b.create_block(), b.create_block());
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let x = b.block_params(entry)[0];
        b.ins().brif(x, side, &[], join, &[]);
        b.switch_to_block(side);
        let y = b.ins().iadd_imm_s(x, 1);
        b.ins().jump(join, &[]);
        b.switch_to_block(join);
        b.ins().return_(&[y]);
        b.seal_all_blocks();
        b.finalize(isa.frontend_config());
        func
    }

    #[test]
    fn a_function_the_verifier_rejects_comes_back_with_its_clif_in_dumps() {
        let isa = host_isa(true, true).expect("host");
        let func = broken(isa.as_ref());
        let opts = |dump| JitOptions {
            verify: true,
            dump,
            ..Default::default()
        };
        match verify(&func, isa.as_ref(), &opts(true)) {
            Err(JitError::Verifier { errors, clif }) => {
                assert!(errors.contains("non-dominating"), "{errors}");
                assert!(clif.is_some_and(|f| f.contains("iadd") && f.contains("block2")));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verify(&func, isa.as_ref(), &opts(false)),
            Err(JitError::Verifier { clif: None, .. })
        ));
        let off = JitOptions {
            verify: false,
            ..Default::default()
        };
        assert!(verify(&func, isa.as_ref(), &off).is_ok());
    }
}
