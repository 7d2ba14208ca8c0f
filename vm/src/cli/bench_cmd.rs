//! `holovm bench`: a kernel in both tiers over a range of sizes, as a table.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use holovm::{Tier, Vm, VmConfig};
use indicatif::{ProgressBar, ProgressStyle};

use super::load::load_program;
use super::outln;
use super::run_cmd::{bind, shape, RunArgs, TierArg, JIT_THRESHOLD_MICROS};

/// Options of `holovm bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The kernel: a .hasm or .hbc file (one lane per element, sized by `n`).
    pub file: PathBuf,
    /// Arguments as for `holovm run` (buffers default to random data of n elements, and a
    /// scalar `n` to the size).
    pub args: Vec<String>,
    /// Sizes (lanes) to measure, separated by commas.
    #[arg(
        short = 'n',
        long = "size",
        value_name = "N,N,...",
        value_delimiter = ',',
        default_value = "1024,16384,262144,1048576"
    )]
    pub sizes: Vec<u64>,
    /// Lanes per block.
    #[arg(long, default_value_t = 256)]
    pub block: u32,
    /// Timed launches per size and tier (the fastest is reported).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Use one thread.
    #[arg(long)]
    pub single_thread: bool,
}

/// The fastest of `repeat` launches (after one warm-up launch, which also compiles).
fn time(bench: &BenchArgs, tier: Tier, n: u64) -> anyhow::Result<Duration> {
    let program = load_program(&bench.file)?;
    let vm = Vm::with_config(
        VmConfig::default()
            .tier(tier)
            .single_thread(bench.single_thread),
    );
    let run = RunArgs {
        file: bench.file.clone(),
        args: bench.args.clone(),
        n: Some(n),
        grid: None,
        block: Some(bench.block),
        seed: 1,
        repeat: 1,
        outs: Vec::new(),
        pools: Vec::new(),
        show_pool: Vec::new(),
        single_thread: bench.single_thread,
        tier: TierArg::Auto,
        jit_threshold: JIT_THRESHOLD_MICROS,
        jit_max_insts: holovm::jit::DEFAULT_MAX_INSTS,
        fuel: None,
        perf_map: false,
    };
    let shape = shape(&run, &program)?;
    let (args, _) = bind(&vm, &program, &run, shape.lanes())?;
    vm.launch(&program, shape, &args)?;
    let mut best = Duration::MAX;
    for _ in 0..bench.repeat.max(1) {
        let start = Instant::now();
        vm.launch(&program, shape, &args)?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

/// Runs `holovm bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let program = load_program(&args.file)?;
    let bar = ProgressBar::new(args.sizes.len() as u64 * 2);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rows = Vec::new();
    for &n in &args.sizes {
        bar.set_message(format!("n = {n}, interpreter"));
        let interp =
            time(&args, Tier::Interpret, n).with_context(|| format!("n = {n}, interpreter"))?;
        bar.inc(1);
        bar.set_message(format!("n = {n}, jit"));
        let jit = time(&args, Tier::Jit, n).with_context(|| format!("n = {n}, jit"))?;
        bar.inc(1);
        rows.push((n, interp, jit));
    }
    bar.finish_and_clear();
    outln!(
        "{}: fastest of {} launches, block {}{}",
        program.name(),
        args.repeat,
        args.block,
        if args.single_thread {
            ", one thread"
        } else {
            ""
        }
    )?;
    outln!(
        "{:>10} {:>12} {:>12} {:>8} {:>14} {:>14}",
        "size",
        "interpreter",
        "jit",
        "speedup",
        "interp elem/s",
        "jit elem/s"
    )?;
    for (n, i, j) in rows {
        let rate = |d: Duration| n as f64 / d.as_secs_f64().max(1e-12);
        outln!(
            "{:>10} {:>12.2?} {:>12.2?} {:>7.1}x {:>14.3e} {:>14.3e}",
            n,
            i,
            j,
            i.as_secs_f64() / j.as_secs_f64().max(1e-12),
            rate(i),
            rate(j)
        )?;
    }
    Ok(())
}
