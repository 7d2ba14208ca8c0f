//! Compiles one example kernel many times and prints the fastest compile: the loop to run
//! under `valgrind --tool=callgrind` when comparing compile costs (instruction counts are
//! steady where wall-clock times on a shared machine are not).
//!
//! `cargo run --release -p holovm-jit --example compile_loop -- sum 20` (`SEQ=1` in the
//! environment compiles the per-lane function on the same thread, so a profile separates
//! the two functions; `GROUP=16` fixes the vector group's lanes; `OPT=0` or `OPT=1` sets
//! Cranelift's optimiser; `KPATH=file.hasm` compiles that file instead of an example;
//! `VECTOR=0` compiles with the scalar strategy; `DUMP=1` prints the CLIF once instead, `AFTER=1` as it is after the optimiser passes;
//! `PAUSE=10` sleeps 10 ms between compiles, as sporadic compiles under `Tier::Auto` come,
//! when the compile workers have gone to sleep).

use std::time::{Duration, Instant};

use holovm_jit::{compile, JitOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "sum".to_string());
    let times: usize = args.next().map_or(Ok(10), |s| s.parse())?;
    let path = std::env::var("KPATH").unwrap_or_else(|_| {
        format!(
            "{}/../examples/kernels/{name}.hasm",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let program = holovm_asm::assemble(&std::fs::read_to_string(&path)?)?;
    let opts = JitOptions {
        verify: false,
        parallel: std::env::var_os("SEQ").is_none(),
        group: std::env::var("GROUP").map_or(Ok(0), |g| g.parse())?,
        optimise: std::env::var("OPT").ok().map(|v| v == "1"),
        vector: std::env::var("VECTOR").map_or(true, |v| v != "0"),
        ..Default::default()
    };
    if std::env::var_os("DUMP").is_some() {
        let k = compile(
            &program,
            &JitOptions {
                dump: true,
                ..opts.clone()
            },
        )?;
        let d = k.dump();
        let t = if std::env::var_os("AFTER").is_some() {
            &d.clif_after
        } else {
            &d.clif_before
        };
        println!("{}", t.as_deref().unwrap_or(""));
        return Ok(());
    }
    let pause: u64 = std::env::var("PAUSE").map_or(Ok(0), |p| p.parse())?;
    let (mut best, mut total, mut beside) = (Duration::MAX, Duration::ZERO, 0);
    let mut best_parts = String::new();
    for _ in 0..times.max(1) {
        let start = Instant::now();
        let kernel = compile(&program, &opts)?;
        let took = start.elapsed();
        if took < best {
            best_parts = kernel.dump().compile_parts.to_string();
        }
        (best, total) = (best.min(took), total + took);
        beside += usize::from(kernel.dump().compile_parts.lanes_beside);
        drop(kernel);
        std::thread::sleep(Duration::from_millis(pause));
    }
    println!(
        "{name}: best of {times} compiles {:.3} ms, mean {:.3} ms, per-lane function beside \
         the kernel in {beside}\n  the best: {best_parts}",
        best.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3 / times.max(1) as f64
    );
    Ok(())
}
