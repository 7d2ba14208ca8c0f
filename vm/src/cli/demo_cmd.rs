//! `holovm demo`: run every bundled example kernel on generated data in both tiers, check each
//! result against the Rust reference, and print a table of correctness and speed.

use holovm::examples::{self, Check};
use holovm::{Tier, Vm, VmConfig};

use super::outln;

/// Options of `holovm demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Divide every kernel's default problem size by this (for a quicker run).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub shrink: u64,
}

fn verdict(c: &Check) -> String {
    if !c.passed() {
        format!("FAIL {:.1e}", c.max_error)
    } else if c.tolerance == 0.0 {
        "exact".to_string()
    } else {
        format!("ok {:.0e}", c.max_error.max(1e-12))
    }
}

/// Runs `holovm demo`; fails if any kernel disagrees with its reference in either tier.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let interp = Vm::with_config(VmConfig::default().tier(Tier::Interpret));
    let jit = Vm::with_config(VmConfig::default().tier(Tier::Jit));
    outln!(
        "{:<13} {:>8}  {:<26} {:>9} {:>11}  {:>9} {:>11}  {:>7}",
        "kernel",
        "size",
        "size means",
        "interp",
        "time",
        "jit",
        "time",
        "speedup"
    )?;
    let mut failed = Vec::new();
    for ex in examples::all() {
        let n = (ex.demo_size / args.shrink as usize).max(1);
        let i = ex.check(&interp, n, args.seed)?;
        let j = ex.check(&jit, n, args.seed)?;
        if !(i.passed() && j.passed()) {
            failed.push(ex.name);
        }
        let speedup = i.best_launch.as_secs_f64() / j.best_launch.as_secs_f64().max(1e-9);
        outln!(
            "{:<13} {:>8}  {:<26} {:>9} {:>11.2?}  {:>9} {:>11.2?}  {:>6.1}x",
            ex.name,
            n,
            ex.size_meaning,
            verdict(&i),
            i.best_launch,
            verdict(&j),
            j.best_launch,
            speedup
        )?;
    }
    outln!()?;
    outln!("`exact`: bit-identical to the Rust reference; `ok E`: largest relative error E,")?;
    outln!("within the kernel's tolerance. Times: fastest of 3 launches, whole Vm::launch,")?;
    outln!("the default threading (large launches on both cores; compiled ones once they")?;
    outln!(
        "take {} us or more); the JIT time excludes the one-off compile (`holovm jit-dump`).",
        VmConfig::default().parallel_min_time.as_micros()
    )?;
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "kernels disagreeing with their reference: {}",
            failed.join(", ")
        )
    }
}
