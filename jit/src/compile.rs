//! `compile`: program -> analysis -> CLIF -> machine code in its own `JITModule`.

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use cranelift_codegen::ir::{Function, InstBuilder, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use holovm_isa::{Addr, Inst, Program, Src};

use crate::analysis::{analyse, Analysis, Class};
use crate::dump::{JitDump, Strategy};
use crate::kernel::{CompiledKernel, KernelFn};
use crate::translate::{kernel_signature, ScratchLayout, Tr, TrError};
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
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            vector: true,
            group: 0,
            dump: false,
            verify: cfg!(debug_assertions),
            perf_map: false,
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
/// built once.
fn host_isa(dump: bool) -> Result<OwnedTargetIsa, JitError> {
    static ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    // For dumps, also the offsets of the machine code's blocks (the listing shows them);
    // the code itself is the same.
    static DUMP_ISA: OnceLock<Result<OwnedTargetIsa, String>> = OnceLock::new();
    let make = || {
        let mut flags = settings::builder();
        for (k, v) in [
            ("opt_level", "speed"),
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
    if dump { &DUMP_ISA } else { &ISA }
        .get_or_init(make)
        .clone()
        .map_err(JitError::Host)
}

/// Translates `program` with vector group `g` (0: scalar strategy); also says whether the
/// vector code folded an entry guard on `%gid` into its group limit.
fn build(
    program: &Program,
    an: &Analysis,
    g: u32,
    isa: &OwnedTargetIsa,
) -> Result<(Function, bool), TrError> {
    let sig = kernel_signature(isa.default_call_conv());
    let mut func = Function::with_name_signature(UserFuncName::user(0, 0), sig);
    let mut fctx = FunctionBuilderContext::new();
    let b = FunctionBuilder::new(&mut func, &mut fctx);
    let mut tr = Tr::new(b, program, an, g);
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
    tr.emit_scalar_program()?;
    tr.emit_lane_loop(tail);
    tr.b.seal_all_blocks();
    tr.b.finalize(isa.frontend_config());
    Ok((func, guard))
}

fn vector_detail(an: &Analysis, g: u32, guard: bool) -> String {
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
         uniform (scalar) registers: {}; lane-affine registers (lane l = lane 0 + l, kept as \
         one scalar): {}; accesses indexed by %gid/%lane checked once per block, by a \
         lane-affine register once per group, other addresses per lane; divergence, failing \
         checks, fuel exhaustion and call/ret fall back to per-lane scalar code; lanes past \
         the last full group run scalar code{}",
        g / 4,
        list(&v32),
        g / 2,
        list(&v64),
        list(&uni),
        list(&aff),
        if guard {
            "; the entry guard on %gid (pc 0-1) is checked once per block: full groups below \
             its bound skip it, lanes at or past it run scalar code"
        } else {
            ""
        }
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
/// 20% faster than with 16 (fewer rows in flight) and compiles in 35% less time.
fn auto_group(program: &Program, an: &Analysis) -> u32 {
    if has_lane_addresses(program, an) {
        return 8;
    }
    let mut max_pressure = [0u32; 2]; // for G = 16, 32
    for live in &an.live_regs {
        let (mut v32, mut v64) = (0u32, 0u32);
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
        for (i, g) in [16u32, 32].into_iter().enumerate() {
            max_pressure[i] = max_pressure[i].max(v32 * (g / 4) + v64 * (g / 2));
        }
    }
    let has_math = program.insts().iter().any(|i| {
        matches!(i, Inst::Un { op, .. } if op.float_only()
            && !matches!(op, holovm_isa::UnOp::Sqrt | holovm_isa::UnOp::Rsqrt))
    });
    let limit = if has_math { 8 } else { 16 };
    if max_pressure[1] <= limit && !has_math {
        32
    } else if max_pressure[0] <= limit {
        16
    } else {
        8
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
    let isa = host_isa(opts.dump)?;

    let mut scalar_reason = if !opts.vector {
        Some("vector strategy disabled by options".to_string())
    } else {
        an.no_vector.clone()
    };
    let mut built = None;
    if scalar_reason.is_none() {
        match build(program, &an, group, &isa) {
            Ok((f, guard)) => built = Some((f, group, guard)),
            Err(TrError(e)) => scalar_reason = Some(format!("vector translation failed: {e}")),
        }
    }
    let (func, g, guard) = match built {
        Some(x) => x,
        None => match build(program, &an, 0, &isa) {
            Ok((f, _)) => (f, 0, false),
            Err(TrError(e)) => return Err(JitError::Unsupported { reason: e }),
        },
    };
    let strategy = match &scalar_reason {
        None if an.has_barrier => Strategy::Phased {
            reason: format!(
                "{}; each phase runs as vector code in groups of {g} lanes ({}) where the \
                 group's lanes are ready at the same instruction with registers that fit it \
                 (always in the first phase), the other lanes and those that bail out in \
                 scalar code",
                an.barrier_note,
                vector_detail(&an, g, guard)
            ),
        },
        None => Strategy::Vector {
            group: g,
            detail: vector_detail(&an, g, guard),
        },
        Some(r) if an.has_barrier => Strategy::Phased {
            reason: format!("{}; every lane in scalar code: {r}", an.barrier_note),
        },
        Some(r) => Strategy::Scalar { reason: r.clone() },
    };
    let layout = ScratchLayout::new(program, g.max(1), an.has_barrier, an.has_call);

    if opts.verify {
        cranelift_codegen::verify_function(&func, isa.as_ref())
            .map_err(|e| JitError::Codegen(format!("CLIF verifier: {e}")))?;
    }
    let clif_before = opts.dump.then(|| func.display().to_string());

    let mut module = JITModule::new(JITBuilder::with_isa(isa.clone(), default_libcall_names()));
    let sig = func.signature.clone();
    let id = module
        .declare_function("holovm_kernel", Linkage::Export, &sig)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let clif_insts = func.dfg.num_insts();
    let mut ctx = Context::for_function(func);
    ctx.set_disasm(opts.dump);
    module
        .define_function(id, &mut ctx)
        .map_err(|e| JitError::Codegen(format!("{e:?}")))?;
    let (code_size, disasm) = match ctx.compiled_code() {
        Some(cc) => {
            let size = cc.code_info().total_size;
            let disasm = opts.dump.then(|| {
                listing::listing(cc, isa.as_ref(), program)
                    .unwrap_or_else(|e| format!("(disassembly failed: {e})"))
            });
            (size, disasm)
        }
        None => (0, None),
    };
    let clif_after = opts.dump.then(|| ctx.func.display().to_string());
    module
        .finalize_definitions()
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let ptr = module.get_finalized_function(id);
    // SAFETY: `ptr` is the entry of the function just compiled from a CLIF function with
    // `kernel_signature` (pointer, pointer, pointer, i32, i32) -> i32 in the ISA's default
    // (System V on x86-64 Linux) calling convention, which is `extern "C"` here; the code
    // stays mapped as long as `module`, which the kernel owns.
    let func: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(ptr) };
    if let (true, Some(cc)) = (opts.perf_map, ctx.compiled_code()) {
        perf_map::append(ptr as usize, cc, program.name());
    }
    let dump = JitDump {
        name: program.name().to_string(),
        strategy,
        clif_before,
        clif_after,
        disasm,
        code_size,
        clif_insts,
        compile_time: t0.elapsed(),
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
    })
}
