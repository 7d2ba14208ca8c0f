//! `compile`: program -> analysis -> CLIF -> machine code in its own `JITModule`.

use std::cell::RefCell;
use std::collections::BTreeSet;
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
use holovm_isa::{Addr, Inst, Program, Src};

use crate::analysis::{analyse, Analysis, Class, MaskedBranch};
use crate::barrier::Barriers;
use crate::beside::run_beside;
use crate::dump::{CompileParts, JitDump, Strategy};
use crate::kernel::{CompiledKernel, KernelFn};
use crate::parked::whole_park_pcs;
use crate::translate::{kernel_signature, lanes_signature, FnKind, ScratchLayout, Tr, TrError};
use crate::vector::{guard_exits, rerun_tail};
use crate::{listing, perf_map};

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
}

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
    /// Invalid options.
    #[error("invalid JIT options: {0}")]
    Options(String),
}

/// The host target ISA with every feature the CPU has (SSE4.1, AVX, AVX2, FMA, BMI, ...),
/// built once, with Cranelift's optimiser when `optimise`. Code compiled without it: a
/// vector kernel's per-lane function (run for tail lanes, bail-outs and later phases),
/// translated instruction by instruction with little for the optimiser to find (divergent
/// kernels ran no slower without it; the optimiser is a quarter of a compile), and kernels
/// without it for a reason (see [`no_optimiser`]). (The single-pass register allocator would
/// halve a per-lane function's compile time, but made its code 6x slower.)
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
fn build(
    program: &Program,
    an: &Analysis,
    g: u32,
    isa: &OwnedTargetIsa,
    lanes_id: FuncId,
    barriers: Option<&Barriers>,
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
    tr.optimised = isa.flags().opt_level() != OptLevel::None;
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
    if lanes_fn.is_none() {
        tr.emit_scalar_program()?;
    }
    tr.emit_lane_loop(tail);
    let entries = lanes_fn.map(|_| (tr.resume_pcs.clone(), tr.barrier_pcs.clone()));
    tr.b.seal_all_blocks();
    tr.b.finalize(isa.frontend_config());
    cx.builder.done();
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
    if opts.verify {
        cranelift_codegen::verify_function(&ctx.func, isa)
            .map_err(|e| JitError::Codegen(format!("CLIF verifier: {e}")))?;
    }
    let text = opts.dump.then(|| ctx.func.display().to_string());
    ctx.set_disasm(opts.dump);
    ctx.compile(isa, &mut ControlPlane::default())
        .map_err(|e| JitError::Codegen(format!("{:?}", e.inner)))?;
    Ok(text)
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

fn vector_detail(program: &Program, an: &Analysis, g: u32, guard: bool) -> String {
    let mut uni = Vec::new();
    let mut aff = Vec::new();
    let mut v32 = Vec::new();
    let mut v64 = Vec::new();
    for (r, c) in an.reg_class.iter().enumerate() {
        if matches!(c, Class::Untyped) && an.reg_uniform[r] {
            continue;
        }
        if an.reg_uniform[r] {
            uni.push(format!("r{r}"));
        } else if an.reg_affine[r] {
            aff.push(format!("r{r}"));
        } else if c.lane_type().bits() == 64 {
            v64.push(format!("r{r}"));
        } else {
            v32.push(format!("r{r}"));
        }
    }
    let list = |v: &Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    format!(
        "32-bit per-lane registers as {} x 4-lane vectors: {}; 64-bit as {} x 2-lane vectors: {}; \
         uniform (scalar) registers, the same in every lane of a group while its lanes run \
         together: {}; lane-affine registers (lane l = lane 0 + l, kept as one scalar): {}; \
         accesses indexed by %gid/%lane checked once per block, by a \
         lane-affine register once per group, other addresses per lane; divergence, failing \
         checks, fuel exhaustion and call/ret fall back to per-lane scalar code (a function \
         of its own); {}{}{}{}{}{}",
        g / 4,
        list(&v32),
        g / 2,
        list(&v64),
        list(&uni),
        list(&aff),
        match rerun_tail(program, an) {
            // As `Tr::emit_partial_group` decides.
            Some(_) => {
                "a block's partial last group runs as the full group ending at the block's \
                 limit (its first lanes run again: the program loads no buffer it stores \
                 to), unless a launch binds a stored buffer where one is loaded; lanes past \
                 the limit run scalar code"
            }
            None => "lanes past the last full group run scalar code",
        },
        match guard {
            // As `Tr::guard_exit_end` decides.
            true if !an.has_barrier && guard_exits(program.insts()) => {
                "; the entry guard on %gid (pc 0-1) is checked once per block: full groups \
                 below its bound skip it, lanes at or past it would go straight to an exit and \
                 are not run"
            }
            true => {
                "; the entry guard on %gid (pc 0-1) is checked once per block: full groups \
                 below its bound skip it, lanes at or past it run scalar code"
            }
            false => "",
        },
        match program.ignores_blocks() {
            // As `Tr::new` decides (block_runs.rs).
            true => {
                "; the program reads neither %lane nor %block and has no shared memory: \
                 consecutive blocks run together as runs of 2048-4095 lanes (a range's last \
                 run may be shorter), so groups span block boundaries (blocks of fewer lanes \
                 than a group run as vectors too)"
            }
            false => "",
        },
        split_note(program, an),
        masked_note(an, guard),
        masked_loop_note(an)
    )
}

/// The loops whose lanes leave at different iterations ([`Analysis::masked_loops`]), for
/// the strategy text.
fn masked_loop_note(an: &Analysis) -> String {
    let loops: Vec<String> = an
        .masked_loops
        .iter()
        .enumerate()
        .filter_map(|(pc, l)| l.map(|l| format!("pc {}-{} leaving at pc {pc}", l.top, l.back)))
        .collect();
    if loops.is_empty() {
        return String::new();
    }
    format!(
        "; loops whose lanes leave at different iterations ({}) run under lane masks: every \
         lane runs each iteration until the group's last lane leaves, the lanes that left \
         keep the values they left with, and their unused fuel goes with them",
        loops.join(", ")
    )
}

/// The divergent branches whose lanes run both ways under masks ([`Analysis::masked`]), for
/// the strategy text; `guard`: the entry guard's branch (pc 1) is not in the vector code.
fn masked_note(an: &Analysis, guard: bool) -> String {
    let branches: Vec<(usize, MaskedBranch)> = an
        .masked
        .iter()
        .enumerate()
        .filter_map(|(pc, m)| Some((pc, (*m)?)))
        .filter(|&(pc, _)| !(guard && pc < 2))
        .collect();
    if branches.is_empty() {
        return String::new();
    }
    let pcs: Vec<String> = branches.iter().map(|(pc, _)| pc.to_string()).collect();
    let enclosing = |pc: usize| -> Vec<MaskedBranch> {
        branches
            .iter()
            .filter(|&&(o, om)| o < pc && (pc as u32) < om.join)
            .map(|&(_, om)| om)
            .collect()
    };
    // Branches translated as the outermost: those at the top, and those right inside one
    // with an unmasked copy (in that copy).
    let outermost = |pc: usize, in_copy: bool| match enclosing(pc).as_slice() {
        [] => true,
        [o] => in_copy && o.copy,
        _ => false,
    };
    // The clause `text` gives the pcs of the branches `keep` selects, if any.
    let clause = |keep: &dyn Fn(usize, &MaskedBranch) -> bool, text: &dyn Fn(String) -> String| {
        let pcs: Vec<String> = branches
            .iter()
            .filter(|&&(pc, m)| keep(pc, &m))
            .map(|(pc, _)| pc.to_string())
            .collect();
        match pcs.is_empty() {
            true => String::new(),
            false => text(pcs.join(", ")),
        }
    };
    let copy = clause(&|pc, m| m.copy && outermost(pc, false), &|pcs| {
        format!("; groups whose lanes agree at pc {pcs} run an unmasked copy of its code instead")
    });
    // A pair needs both sides run: branch-free code, or the masked copy of its own branch.
    let paired = |pc, m: &MaskedBranch| {
        m.pair.is_some() && outermost(pc, true) && (!m.skip || (m.copy && outermost(pc, false)))
    };
    let pair = clause(&paired, &|pcs| {
        format!(
            "; the stores of both sides of the if/else at pc {pcs} to one place store once, \
             each lane its side's value"
        )
    });
    let wait = clause(&|pc, m| m.defer && outermost(pc, true), &|pcs| {
        format!(
            "; the masked stores of the code after pc {pcs} wait for its join (a check after \
             a store could fail, and the lanes would then run the code again in scalar code, \
             reading what they stored)"
        )
    });
    format!(
        "; divergent forward branches (pc {}) run both ways under lane masks: the code of \
         each side (an if, or an if/else) runs in every lane, and the lanes that do not take \
         that side keep their values and store nothing{copy}{pair}{wait}",
        pcs.join(", ")
    )
}

/// The row/column splits the vector code computes once per group
/// ([`Analysis::kept_split`]), for the strategy text.
fn split_note(program: &Program, an: &Analysis) -> String {
    let pcs: Vec<String> = program
        .insts()
        .iter()
        .enumerate()
        .filter(|(_, i)| an.kept_split(i).is_some())
        .map(|(pc, _)| pc.to_string())
        .collect();
    if pcs.is_empty() {
        return String::new();
    }
    let realigned = !an.has_barrier && program.insts().iter().any(|i| an.realignable_split(i));
    format!(
        "; row/column splits (div/rem of %gid, %lane or a lane-affine register, pc {}) \
         computed once per group: \
         groups that straddle a multiple of the divisor run scalar code from there{}",
        pcs.join(", "),
        if realigned {
            "; groups are realigned to rows where the divisor is a parameter or constant of \
             at least a group: the lanes before a row's end run scalar code from pc 0, and the \
             next group starts at the row"
        } else {
            ""
        }
    )
}

/// Where the strategy text says the vector groups park whole ([`whole_park_pcs`]).
fn whole_note(program: &Program) -> String {
    let pcs: Vec<String> = whole_park_pcs(program)
        .iter()
        .map(|pc| pc.to_string())
        .collect();
    if pcs.is_empty() {
        return String::new();
    }
    format!(
        "; at the bar.sync at pc {} the groups park whole (their first lanes' words stand for \
         all their lanes; a block whose groups all park at one is released by them)",
        pcs.join(", ")
    )
}

/// Picks the vector group size from the register pressure: the most per-lane registers live
/// at any instruction times the vectors each needs must stay within the 16 XMM registers
/// (8 for programs with transcendentals, whose temporaries need room); 32 lanes hide the
/// latency of loop bodies and amortise the per-group overhead of straight-line kernels.
/// Programs with transcendentals stop at 16 lanes: each one expands to ~40 CLIF
/// instructions per vector, so 32 lanes cost 30-40% more compile time for no gain, while
/// 8 lanes save 25% of it but run gelu and sigmoid up to 10% slower. Programs with per-lane
/// addresses (gathers and scatters, one load or store per lane) take 8 lanes: matvec runs
/// 20% faster than with 16 (fewer rows in flight) and compiles in 35% less time; 4 when
/// more than 8 vectors would be live (a gather's extracts, inserts and limits need the
/// rest): a gemm with per-lane indices (5 per-lane registers) spilled a third of its vectors
/// with 8 lanes and ran 30% faster with 4, matvec's (3) runs 15% slower with 4. Programs with
/// row/column splits take at most 8 (see below). Programs with `bar.sync` take 32 lanes
/// while at most 32 vectors would be live (see below), before the rules above.
///
/// Masked branches add their lane masks (one vector set per enclosing `if`, two per
/// `if`/`else`): an else-if chain of two 32-bit registers spilled with 32 lanes (47.5 us
/// for 64K elements, 42 with 8, when its sides were still guarded by tests; branch-free,
/// 29.0 and 27.0 us, within noise).
fn auto_group(program: &Program, an: &Analysis) -> u32 {
    // A bounds guard on `%gid` at pc 0-1 is usually folded into the group limit (see
    // `Tr::entry_guard`): no masks.
    let guard = matches!(program.insts().first(), Some(Inst::Setp { a, b, .. })
        if [a, b].contains(&&holovm_isa::Src::Special(holovm_isa::Special::GlobalId)));
    let mut masks = vec![0u32; an.live_regs.len()];
    for (pc, mb) in an.masked.iter().enumerate() {
        if let Some(mb) = mb.filter(|_| !(guard && pc == 1)) {
            let sets = if mb.else_at.is_some() { 2 } else { 1 };
            for m in masks.iter_mut().take(mb.join as usize).skip(pc) {
                *m += sets;
            }
        }
    }
    // A masked loop holds its lanes' keep masks and bonus counts (vector/masked_loop.rs).
    for l in an.masked_loops.iter().flatten() {
        for m in masks
            .iter_mut()
            .take(l.back as usize + 1)
            .skip(l.top as usize)
        {
            *m += 2;
        }
    }
    let mut max_pressure = [0u32; 3]; // for G = 8, 16, 32
    for (live, &m) in an.live_regs.iter().zip(&masks) {
        let (mut v32, mut v64) = (m, 0u32);
        for (r, c) in an.reg_class.iter().enumerate() {
            let scalar = an.reg_uniform[r] || an.reg_affine[r];
            if live[r / 64] & (1 << (r % 64)) != 0 && !scalar {
                if c.lane_type().bits() == 64 {
                    v64 += 1;
                } else {
                    v32 += 1;
                }
            }
        }
        for (i, g) in [8u32, 16, 32].into_iter().enumerate() {
            max_pressure[i] = max_pressure[i].max(v32 * (g / 4) + v64 * (g / 2));
        }
    }
    let has_math = has_transcendentals(program);
    let split = program.insts().iter().any(|i| an.kept_split(i).is_some());
    // Every group parks and resumes at each `bar.sync`, whose phases are often a few
    // instructions (shared-memory exchanges): 32 lanes halve that machinery against 16,
    // even where vectors spill (a tree reduction runs 17% faster than with 16 lanes, a
    // stencil of gathers from shared memory 32% faster than with 8).
    let bar_sync = program.insts().contains(&Inst::BarSync);
    if bar_sync && max_pressure[2] <= 32 && !has_math && !split {
        return 32;
    }
    if has_lane_addresses(program, an) {
        return if max_pressure[0] <= 8 { 8 } else { 4 };
    }
    let limit = if has_math { 8 } else { 16 };
    // Row/column splits (`%gid / n`, `%gid % n`): with the group head realigning groups to
    // rows, 16 lanes ran rows of 128 35-40% faster than 8, but rows of 100 and 33 10-20%
    // slower (gemm, the kernel alone, in one process); 8 is kept.
    if max_pressure[2] <= limit && !has_math && !split {
        32
    } else if max_pressure[1] <= limit && !split {
        16
    } else {
        8
    }
}

/// Whether the program computes a transcendental function (exp, log, tanh, sin, ...: the
/// float-only unary operations other than the square roots), each a sequence of ~40
/// instructions and ~15 constants per vector.
fn has_transcendentals(program: &Program) -> bool {
    program
        .insts()
        .iter()
        .any(|i| matches!(i, Inst::Un { op, .. } if crate::math::is_transcendental(*op)))
}

/// Why the kernel function is compiled without Cranelift's optimiser, or `None` to compile
/// it with: programs with transcendentals and (unless `opts` decides) programs with barriers
/// go without.
///
/// - Transcendentals: value numbering shares their constants between a group's vectors,
///   which keeps each one live across the whole group, and the register allocator spilled
///   them to the stack between vectors (gelu's kernel: 73 stack accesses, 23 without);
///   unoptimised, each step reads its constant once for the values emitted together
///   (math.rs). At 64K lanes sigmoid runs in 58 us instead of 84, gelu 79 instead of 106,
///   and both compile in 0.56-0.61 ms instead of 0.76-0.81.
/// - Barriers: a phased kernel is mostly cold machinery (each group's parking and resuming,
///   the phase loop) where the optimiser found nothing to gain; it was 16% of sum's kernel
///   compile (9.7M -> 8.2M instructions), and sum ran as fast without it (1M elements 48 us
///   either way; 16K elements, in cache, 1.26 -> 1.30 us; 16 blocks 13.3 -> 13.0 us). The
///   programs it does speed up access memory lane by lane (matvec and gemm run 20% slower
///   without it) or through the pool (phi_scale 11%), and have no barriers.
fn no_optimiser(program: &Program, an: &Analysis, opts: &JitOptions) -> Option<&'static str> {
    match opts.optimise {
        Some(true) => None,
        Some(false) => Some("JitOptions::optimise is false"),
        None if has_transcendentals(program) => Some(
            "the program has transcendentals: in vector code the optimiser keeps their \
             constants live across a group, and they spill",
        ),
        None if an.has_barrier => Some(
            "the program has barriers: the phased kernel is mostly cold machinery, where \
             the optimiser costs compile time for no speed",
        ),
        None => None,
    }
}

/// Whether some load or store addresses memory through a register that is neither uniform
/// nor lane-affine, so its vector code accesses memory lane by lane.
fn has_lane_addresses(program: &Program, an: &Analysis) -> bool {
    let per_lane = |s: &Src| match s {
        Src::Reg(r) => {
            let r = r.0 as usize;
            !an.reg_uniform.get(r).copied().unwrap_or(true)
                && !an.reg_affine.get(r).copied().unwrap_or(false)
        }
        _ => false,
    };
    program.insts().iter().any(|i| match i {
        Inst::Ldg { addr, .. } | Inst::Stg { addr, .. } => match addr {
            Addr::BufferOffset { .. } | Addr::Phi { index: None, .. } => false,
            Addr::BufferIndex { index, .. }
            | Addr::Phi {
                index: Some((index, _)),
                ..
            } => per_lane(index),
            Addr::RegisterIndirect { base, .. } => per_lane(&Src::Reg(*base)),
            Addr::RegisterIndirectComputed { handle, offset } => {
                per_lane(&Src::Reg(*handle)) || per_lane(&Src::Reg(*offset))
            }
        },
        Inst::Lds { addr, .. } | Inst::Sts { addr, .. } => {
            addr.index.is_some_and(|(index, _)| per_lane(&index))
        }
        _ => false,
    })
}

/// Compiles `program` to machine code.
///
/// Every verified program compiles: with the vector strategy when the program allows it,
/// with the phased strategy when it has barriers, otherwise with the scalar strategy;
/// [`CompiledKernel::strategy`] says which and why. [`JitError::Unsupported`] (use the
/// interpreter) is returned only if a translation fails internally.
pub fn compile(program: &Program, opts: &JitOptions) -> Result<CompiledKernel, JitError> {
    let t0 = Instant::now();
    CONTEXTS.with(|cx| match cx.try_borrow_mut() {
        Ok(mut cx) => compile_with(program, opts, &mut cx, t0),
        // Not expected (compiles do not nest), but never worth a panic.
        Err(_) => compile_with(program, opts, &mut Contexts::new(), t0),
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
    let an = analyse(program);
    let group = if opts.group == 0 {
        auto_group(program, &an)
    } else {
        opts.group
    };
    if let Some(reason) = &an.unsupported {
        return Err(JitError::Unsupported {
            reason: reason.clone(),
        });
    }
    let why_not = no_optimiser(program, &an, opts);
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

    let mut scalar_reason = if !opts.vector {
        Some("vector strategy disabled by options".to_string())
    } else {
        an.no_vector.clone()
    };
    // Phased kernels resolve their barriers by a call with this table (its address is in
    // their code: it lives as long as the compiled kernel). The layout of the per-lane
    // arrays and the register file does not depend on the group size.
    let barriers = an.has_barrier.then(|| {
        let layout = ScratchLayout::new(program, 1, true, an.has_call);
        Box::new(Barriers::new(program, &an, &layout))
    });
    let mut built = None;
    if scalar_reason.is_none() {
        match build(program, &an, group, &isa, lanes_id, barriers.as_deref(), cx) {
            Ok((guard, entries)) => built = Some((guard, group, entries)),
            Err(TrError(e)) => scalar_reason = Some(format!("vector translation failed: {e}")),
        }
    }
    let (guard, g, entries) = match built {
        Some(x) => x,
        None => match build(program, &an, 0, &isa, lanes_id, barriers.as_deref(), cx) {
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
                 barrier{}",
                an.barrier_note,
                vector_detail(program, &an, g, guard),
                whole_note(program)
            ),
        },
        None => Strategy::Vector {
            group: g,
            detail: vector_detail(program, &an, g, guard),
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
    if opts.verify {
        cranelift_codegen::verify_function(&ctx.func, isa.as_ref())
            .map_err(|e| JitError::Codegen(format!("CLIF verifier: {e}")))?;
    }
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
            let text = listing::listing(cc, isa.as_ref(), program)
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
    })
}
