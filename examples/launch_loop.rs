//! Launches an empty one-lane kernel many times under the JIT tier: the loop to run under
//! `valgrind --tool=callgrind` when comparing the fixed cost of `Vm::launch` (instruction
//! counts are steady where a shared machine's wall-clock times are not; criterion's
//! `jit_launch_overhead` bench times the same launch).
//!
//! `cargo run --release --example launch_loop -- 100000`

use holovm::{args, LaunchConfig, Tier, Vm, VmConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let program = holovm::asm::assemble(".kernel nothing\n.param x: ptr f32\n    exit\n")?;
    let vm = Vm::with_config(VmConfig::default().single_thread(true).tier(Tier::Jit));
    let x = vm.alloc::<f32>(1)?;
    let args = args![&x];
    let launches: usize = std::env::args().nth(1).map_or(Ok(100_000), |s| s.parse())?;
    for _ in 0..launches {
        vm.launch(&program, LaunchConfig::new(1, 1), &args)?;
    }
    println!("{launches} launches");
    Ok(())
}
