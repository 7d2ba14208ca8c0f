//! `holovm demo`: run every bundled example kernel on generated data, check it against the
//! Rust reference, and print a table of correctness and speed.

use holovm::{examples, Vm, VmConfig};

/// Options of `holovm demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Divide every kernel's default problem size by this (for a quicker run).
    #[arg(long, default_value_t = 1)]
    pub shrink: usize,
}

/// Runs `holovm demo`; fails if any kernel disagrees with its reference.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let vm = Vm::with_config(VmConfig::default());
    println!(
        "{:<13} {:>9}  {:<28} {:>10}  {:>12}",
        "kernel", "size", "size means", "check", "interpreter"
    );
    let mut failed = Vec::new();
    for ex in examples::all() {
        let n = (ex.demo_size / args.shrink.max(1)).max(1);
        let check = ex.check(&vm, n, args.seed)?;
        let verdict = if !check.passed() {
            failed.push(ex.name);
            format!("FAIL {:.1e}", check.max_error)
        } else if check.tolerance == 0.0 {
            "exact".to_string()
        } else {
            format!("ok {:.0e}", check.max_error.max(1e-12))
        };
        println!(
            "{:<13} {:>9}  {:<28} {:>10}  {:>12.2?}",
            ex.name, n, ex.size_meaning, verdict, check.best_launch
        );
    }
    println!();
    println!(
        "check: `exact` = bit-identical to the Rust reference; `ok E` = largest relative error E"
    );
    println!("(within the kernel's tolerance); times are the fastest of 3 launches.");
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "kernels disagreeing with their reference: {}",
            failed.join(", ")
        )
    }
}
