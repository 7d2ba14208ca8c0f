//! Launches an empty one-lane kernel many times under the JIT tier: the loop to run under
//! `valgrind --tool=callgrind` when comparing the fixed cost of `Vm::launch` (instruction
//! counts are steady where a shared machine's wall-clock times are not; criterion's
//! `jit_launch_overhead` bench times the same launch).
//!
//! `cargo run --release --example launch_loop -- 100000 [BLOCK]` (the block's lanes, 1 by
//! default: 16 runs the kernel's narrower variant, groups of 16).

use holovm::{args, LaunchConfig, Tier, Vm, VmConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let program = holovm::asm::assemble(".kernel nothing\n.param x: ptr f32\n    exit\n")?;
    let vm = Vm::with_config(VmConfig::default().single_thread(true).tier(Tier::Jit));
    let x = vm.alloc::<f32>(1)?;
    let args = args![&x];
    let launches: usize = std::env::args().nth(1).map_or(Ok(100_000), |s| s.parse())?;
    let block: u32 = std::env::args().nth(2).map_or(Ok(1), |s| s.parse())?;
    let start = std::time::Instant::now();
    for _ in 0..launches {
        vm.launch(&program, LaunchConfig::new(1, block), &args)?;
    }
    let each = start.elapsed().as_secs_f64() * 1e9 / launches.max(1) as f64;
    println!("{launches} launches of {block} lanes: {each:.1} ns each");
    Ok(())
}
