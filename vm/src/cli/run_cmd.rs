//! `holovm run`: launch a kernel on generated or file data, as an embedder would.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use holovm::isa::{LaunchConfig, ParamKind, Program, Ty, POOL_CLASSES};
use holovm::{npy, AnyBuffer, Arg, Tier, Vm, VmConfig};

use super::data::{parse_value, preview, Fill, Rng};
use super::load::load_program;
use super::outln;

/// `--jit-threshold`'s default: the VM's own (`VmConfig::jit_threshold`, 2 ms).
pub const JIT_THRESHOLD_MICROS: u64 = 2000;

/// Options of `holovm run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The kernel: a .hasm or .hbc file.
    pub file: PathBuf,
    /// Arguments by parameter name: buffers `a=random[:LEN]`, `a=range`, `a=zeros`,
    /// `a=fill:1.5`, `a=data.npy`, `a=raw:data.bin`; scalars `n=1000`. Buffers not given are
    /// random with one element per lane; a scalar `n` not given is the `-n` value (else the
    /// number of lanes).
    pub args: Vec<String>,
    /// Number of lanes (elements); the grid is ceil(n / block).
    #[arg(short = 'n', long)]
    pub n: Option<u64>,
    /// Blocks in the grid (with --block; overrides -n and the file's .launch).
    #[arg(long, requires = "block")]
    pub grid: Option<u32>,
    /// Lanes per block (default 256 with -n).
    #[arg(long)]
    pub block: Option<u32>,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run the launch this many times and report min and median times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Save a buffer after the run: `c=out.npy` (NumPy) or `c=out.bin` (raw little-endian).
    #[arg(long = "out", value_name = "NAME=FILE")]
    pub outs: Vec<String>,
    /// Fill a boundary-pool class with f32 data before the run: `0=random`, `2=fill:2.0`.
    /// Filled classes are previewed after the run, and so are classes given as `--show-pool`.
    #[arg(long = "pool", value_name = "CLASS=SPEC")]
    pub pools: Vec<String>,
    /// Preview this pool class (as f32) after the run.
    #[arg(long = "show-pool", value_name = "CLASS")]
    pub show_pool: Vec<u32>,
    /// Use one thread (the default uses rayon for large launches).
    #[arg(long)]
    pub single_thread: bool,
    /// Execution tier: interp, jit, or auto (interpret until hot, then compile).
    #[arg(long, value_enum, default_value_t = TierArg::Auto)]
    pub tier: TierArg,
    /// With `--tier auto`: the interpreter time, in microseconds, after which the kernel is
    /// compiled (on a background thread; later launches run the compiled code once it is
    /// ready).
    #[arg(long, value_name = "MICROS", default_value_t = JIT_THRESHOLD_MICROS)]
    pub jit_threshold: u64,
    /// The most instructions a kernel may have to be compiled; longer ones are interpreted
    /// (compile time and memory grow faster than the program past the default).
    #[arg(long, value_name = "N", default_value_t = holovm::jit::DEFAULT_MAX_INSTS)]
    pub jit_max_insts: usize,
    /// Fuel per lane: each lane may take this many backward branches and calls (default
    /// 2^26); one that needs more traps `out of fuel`, which bounds a runaway kernel.
    #[arg(long)]
    pub fuel: Option<u64>,
    /// Append compiled kernels to /tmp/perf-<pid>.map, one symbol per ISA instruction
    /// (for `perf record` + `perf report`).
    #[arg(long)]
    pub perf_map: bool,
}

/// The `--tier` choices.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierArg {
    /// The interpreter.
    Interp,
    /// Compile with the JIT before the first launch.
    Jit,
    /// Interpret until the program is hot, then compile.
    Auto,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Tier {
        match t {
            TierArg::Interp => Tier::Interpret,
            TierArg::Jit => Tier::Jit,
            TierArg::Auto => Tier::Auto,
        }
    }
}

fn split_assignment(s: &str) -> anyhow::Result<(&str, &str)> {
    s.split_once('=')
        .ok_or_else(|| anyhow!("`{s}` is not NAME=VALUE"))
}

/// The launch shape from the options or the file.
pub(super) fn shape(args: &RunArgs, program: &Program) -> anyhow::Result<LaunchConfig> {
    let shape = match (args.grid, args.block, args.n) {
        (Some(grid), Some(block), _) => LaunchConfig::new(grid, block),
        (None, _, Some(n)) if n > u64::from(u32::MAX) => {
            bail!("-n {n}: a launch has at most 2^32 - 1 lanes")
        }
        (None, _, Some(0)) => bail!("-n 0: a launch has at least one lane"),
        (None, block, Some(n)) => LaunchConfig::cover(n, block.unwrap_or(256)),
        (None, Some(_), None) => bail!("--block needs --grid or -n"),
        _ => program.launch().ok_or_else(|| {
            anyhow!(
                "{} declares no .launch shape: pass -n N or --grid G --block B",
                program.name()
            )
        })?,
    };
    shape
        .validate()
        .map_err(|e| anyhow!("invalid launch shape: {e}"))?;
    Ok(shape)
}

/// The buffers bound to a launch, with their parameter names.
type NamedBuffers = Vec<(String, AnyBuffer)>;

/// Binds every parameter: buffers allocated and filled, scalars parsed.
pub(super) fn bind(
    vm: &Vm,
    program: &Program,
    args: &RunArgs,
    lanes: u64,
) -> anyhow::Result<(Vec<Arg>, NamedBuffers)> {
    let mut given: HashMap<&str, &str> = HashMap::new();
    for a in &args.args {
        let (name, spec) = split_assignment(a)?;
        if program.param_index(name).is_none() {
            let names: Vec<&str> = program.params().iter().map(|p| p.name.as_str()).collect();
            bail!(
                "{} has no parameter `{name}` (its parameters: {})",
                program.name(),
                names.join(", ")
            );
        }
        if given.insert(name, spec).is_some() {
            bail!("parameter `{name}` is given twice");
        }
    }
    let default_len = args.n.unwrap_or(lanes) as usize;
    let mut rng = Rng::new(args.seed);
    let (mut bound, mut buffers) = (Vec::new(), Vec::new());
    for p in program.params() {
        let spec = given.get(p.name.as_str()).copied();
        match p.kind {
            ParamKind::Buffer(ty) => {
                let fill = spec
                    .map(Fill::parse)
                    .transpose()
                    .with_context(|| format!("argument `{}`", p.name))?
                    .unwrap_or(Fill::Random(None));
                let bytes = fill
                    .bytes(ty, default_len, &mut rng)
                    .with_context(|| format!("argument `{}`", p.name))?;
                let buf = vm.alloc_any(ty, bytes.len() / ty.size() as usize)?;
                vm.write_bytes(&buf, &bytes)?;
                bound.push(Arg::Buffer(buf));
                buffers.push((p.name.clone(), buf));
            }
            ParamKind::Scalar(ty) => {
                let bits = match (spec, args.n) {
                    (Some(s), _) => {
                        parse_value(ty, s).with_context(|| format!("argument `{}`", p.name))?
                    }
                    // A scalar `n` is the element count: `-n`, else the launch's lanes.
                    (None, n) if p.name == "n" && ty.is_int() => {
                        let from = if n.is_some() {
                            "-n"
                        } else {
                            "the launch's lanes"
                        };
                        parse_value(ty, &n.unwrap_or(lanes).to_string())
                            .with_context(|| format!("argument `n` (from {from})"))?
                    }
                    _ => bail!(
                        "missing argument `{}` (a {ty} scalar): pass {}=VALUE",
                        p.name,
                        p.name
                    ),
                };
                bound.push(Arg::Scalar { ty, bits });
            }
        }
    }
    Ok((bound, buffers))
}

fn parse_class(s: &str) -> anyhow::Result<u32> {
    s.parse()
        .map_err(|_| anyhow!("`{s}` is not a pool class number"))
}

/// Runs `holovm run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let program = load_program(&args.file)?;
    let shape = shape(&args, &program)?;
    let mut config = VmConfig::default();
    if let Some(fuel) = args.fuel {
        config = config.fuel(fuel);
    }
    let vm = Vm::with_config(
        config
            .single_thread(args.single_thread)
            .tier(args.tier.into())
            .jit_threshold(Duration::from_micros(args.jit_threshold))
            .jit_max_insts(args.jit_max_insts)
            .perf_map(args.perf_map),
    );
    let (bound, buffers) = bind(&vm, &program, &args, shape.lanes())?;

    let mut shown_pool = args.show_pool.clone();
    let mut rng = Rng::new(args.seed ^ 0x9e37);
    for p in &args.pools {
        let (class, spec) = split_assignment(p)?;
        let class = parse_class(class)?;
        let fill = Fill::parse(spec).with_context(|| format!("--pool {p}"))?;
        // A shorter spec fills the start of the class and leaves the rest as it is.
        let mut values: Vec<f32> = vm.read_pool(class)?;
        let too_long = || {
            anyhow!(
                "--pool {p}: a class holds at most {} f32 values",
                values.len()
            )
        };
        if fill.len().is_some_and(|n| n > values.len()) {
            // (Checked before generating them.)
            return Err(too_long());
        }
        let bytes = fill
            .bytes(Ty::F32, values.len(), &mut rng)
            .with_context(|| format!("--pool {p}"))?;
        if bytes.len() / 4 > values.len() {
            return Err(too_long());
        }
        for (v, c) in values.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        vm.write_pool(class, &values)?;
        shown_pool.push(class);
    }

    // Arguments that only matter after the run are checked before it: a mistake in them
    // should not cost a long run.
    let mut saves = Vec::with_capacity(args.outs.len());
    for out in &args.outs {
        let (name, file) = split_assignment(out)?;
        let (_, buf) = buffers
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| anyhow!("--out {out}: `{name}` is not a buffer parameter"))?;
        let path = std::path::Path::new(file);
        if file.is_empty() || path.is_dir() {
            bail!("--out {out}: `{file}` is not a file name");
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(d) = dir.filter(|d| !d.is_dir()) {
            match d.exists() {
                true => bail!("--out {out}: {} is not a directory", d.display()),
                false => bail!("--out {out}: the directory {} does not exist", d.display()),
            }
        }
        if let Some((other, ..)) = saves.iter().find(|(_, f, _)| {
            *f == file || super::asm_cmd::same_file(path, std::path::Path::new(f))
        }) {
            bail!("--out {out}: `{other}` is saved to {file} already");
        }
        saves.push((name, file, buf));
    }
    if let Some(c) = shown_pool.iter().find(|&&c| c >= POOL_CLASSES) {
        bail!("--show-pool {c}: pool classes are 0..{POOL_CLASSES}");
    }
    let compiled_before = vm.is_compiled(&program);
    let mut times = Vec::with_capacity(args.repeat as usize);
    let mut stats = None;
    let mut compiled_runs = 0;
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let s = vm.launch(&program, shape, &bound)?;
        times.push(start.elapsed());
        compiled_runs += u32::from(s.jit);
        stats = Some(s);
    }
    times.sort();
    outln!(
        "{}: grid {} x block {} = {} lanes",
        program.name(),
        shape.grid,
        shape.block,
        shape.lanes()
    )?;
    if let Some(s) = stats {
        let threads = if s.parallel { ", parallel" } else { "" };
        let interpreted = times.len() as u32 - compiled_runs;
        if s.jit && interpreted > 0 {
            // Auto: the launches before the compiled code was ready were interpreted.
            outln!(
                "  tier: jit (compiled code){threads}; {interpreted} of {} launches ran in \
                 the interpreter, before the code was ready",
                times.len()
            )?;
        } else if s.jit {
            outln!("  tier: jit (compiled code){threads}")?;
        } else {
            outln!(
                "  tier: interpreter, {} block-steps, {} lane-instructions{threads}",
                s.steps,
                s.lane_steps
            )?;
            if let Some(e) = vm.jit_error(&program) {
                outln!("  (the JIT could not compile it: {e})")?;
            }
        }
        if s.group > 0 {
            let partial = match s.partial {
                true => " (each block's partial last group too, with phantom lanes past it)",
                false => "",
            };
            outln!("  vector groups of {} lanes{partial}", s.group)?;
        }
    }
    print_times(&times)?;
    let ran_compiled = stats.as_ref().is_some_and(|s| s.jit);
    if times.len() == 1 && !compiled_before && ran_compiled && matches!(args.tier, TierArg::Jit) {
        outln!("  (the time includes compiling the kernel; --repeat 2 or more gives run times)")?;
    }
    for (name, buf) in &buffers {
        let bytes = vm.read_bytes(buf)?;
        outln!(
            "  {name}: {} x {} {}",
            buf.len(),
            buf.ty(),
            preview(buf.ty(), &bytes)
        )?;
    }
    shown_pool.sort_unstable();
    shown_pool.dedup();
    for class in shown_pool {
        let values: Vec<f32> = vm.read_pool(class)?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        outln!("  pool class {class} (f32): {}", preview(Ty::F32, &bytes))?;
    }
    for (name, file, buf) in saves {
        let bytes = vm.read_bytes(buf)?;
        let data = if file.ends_with(".npy") {
            npy::write(buf.ty(), &[buf.len()], &bytes)
        } else {
            bytes
        };
        std::fs::write(file, data).with_context(|| format!("cannot write {file}"))?;
        outln!("  saved {name} to {file}")?;
    }
    Ok(())
}

fn print_times(times: &[Duration]) -> anyhow::Result<()> {
    match times {
        [] => Ok(()),
        [t] => outln!("  time {t:.2?}"),
        _ => outln!(
            "  time min {:.2?}, median {:.2?} over {} runs",
            times[0],
            times[times.len() / 2],
            times.len()
        ),
    }
}
