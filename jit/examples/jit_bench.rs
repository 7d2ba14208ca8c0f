//! Rough single-thread timings of whole launches through `run_blocks`, and compile times of
//! the example kernels: `cargo run --release -p holovm-jit --example jit_bench`.

use std::time::{Duration, Instant};

use holovm_jit::*;

fn load(name: &str) -> holovm_isa::Program {
    let path = format!(
        "{}/../examples/kernels/{name}.hasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let src = std::fs::read_to_string(&path).expect("read kernel");
    holovm_asm::assemble(&src).expect("assemble")
}

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([f32; 16]);

/// A 64-byte aligned f32 buffer.
fn buf(n: usize, f: impl Fn(usize) -> f32) -> Vec<Line> {
    let mut v = vec![Line([0.0; 16]); n.div_ceil(16)];
    for i in 0..n {
        v[i / 16].0[i % 16] = f(i);
    }
    v
}

fn time_launch(kernel: &CompiledKernel, bufs: &mut [Vec<Line>], n: u32, block: u32) -> Duration {
    let mut slots: Vec<ParamSlot> = bufs
        .iter_mut()
        .map(|b| ParamSlot::buffer(b.as_mut_ptr().cast(), b.len() * 64))
        .collect();
    slots.push(ParamSlot::scalar(n as u64));
    let grid = n.div_ceil(block);
    let env = LaunchEnv {
        params: slots.as_ptr(),
        num_params: slots.len() as u32,
        pool: std::ptr::null_mut(),
        pool_len: 0,
        grid,
        block,
        fuel: 1 << 26,
    };
    let mut scratch = Scratch::new();
    let mut trap = TrapRecord::default();
    let mut run = || {
        // SAFETY: the slots point into `bufs`, alive and unborrowed during the call.
        unsafe { kernel.run_blocks(&env, 0..grid, &mut scratch, &mut trap) }.expect("launch");
        assert_eq!(trap.kind, 0);
    };
    run();
    let iters = (20_000_000 / n.max(64)).clamp(20, 200_000);
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            run();
        }
        best = best.min(t.elapsed() / iters);
    }
    best
}

/// A plain Rust loop the compiler vectorizes (AVX2 when built with target-cpu=native).
fn native_add(a: &[f32], b: &[f32], c: &mut [f32]) {
    for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
        *c = a + b;
    }
}

fn main() {
    let opts = JitOptions {
        verify: false,
        ..Default::default()
    };
    println!("compile times (best of 20, no dump):");
    for name in [
        "vector_add",
        "relu",
        "gelu",
        "sigmoid",
        "scalar_loop",
        "phi_scale",
        "matvec",
        "gemm",
        "sum",
        "softmax_rows",
    ] {
        let p = load(name);
        let mut best = Duration::MAX;
        let mut what = String::new();
        for _ in 0..20 {
            let t = Instant::now();
            let r = compile(&p, &opts);
            best = best.min(t.elapsed());
            what = match r {
                Ok(k) => format!(
                    "{} bytes, {}",
                    k.dump().code_size,
                    match k.strategy() {
                        Strategy::Vector { group, .. } => format!("vector G={group}"),
                        Strategy::Scalar { reason } => format!("scalar ({reason})"),
                        Strategy::Phased { .. } => "phased".to_string(),
                    }
                ),
                Err(e) => format!("{e}"),
            };
        }
        println!("  {name:14} {:8.3} ms  {what}", best.as_secs_f64() * 1e3);
    }

    for name in ["vector_add", "gelu", "gemm", "scalar_loop"] {
        let p = load(name);
        let so = JitOptions {
            vector: false,
            ..opts.clone()
        };
        let mut best = Duration::MAX;
        for _ in 0..20 {
            let t = Instant::now();
            let _ = compile(&p, &so);
            best = best.min(t.elapsed());
        }
        println!(
            "  {name:14} {:8.3} ms  (scalar-only compile)",
            best.as_secs_f64() * 1e3
        );
    }

    let variants: Vec<(&str, JitOptions)> = vec![
        ("auto", opts.clone()),
        (
            "G=8",
            JitOptions {
                group: 8,
                ..opts.clone()
            },
        ),
        (
            "G=32",
            JitOptions {
                group: 32,
                ..opts.clone()
            },
        ),
        (
            "G=16",
            JitOptions {
                group: 16,
                ..opts.clone()
            },
        ),
        (
            "scalar",
            JitOptions {
                vector: false,
                ..opts.clone()
            },
        ),
    ];
    for (vname, o) in &variants {
        let va = compile(&load("vector_add"), o).expect("compile");
        for n in [256u32, 1024, 16384, 65536] {
            let mut bufs = vec![
                buf(n as usize, |i| i as f32),
                buf(n as usize, |i| 1.0 + i as f32),
                buf(n as usize, |_| 0.0),
            ];
            let t = time_launch(&va, &mut bufs, n, 256);
            println!(
                "vector_add {vname:6} n={n:6}: {:9.1} ns  ({:.3} ns/elem)",
                t.as_secs_f64() * 1e9,
                t.as_secs_f64() * 1e9 / n as f64
            );
        }
        for name in ["gelu", "scalar_loop", "sigmoid", "relu"] {
            let k = compile(&load(name), o).expect("compile");
            let n = 65536u32;
            let mut bufs = if name == "scalar_loop" {
                vec![buf(n as usize, |i| (i % 100) as f32 * 0.01)]
            } else {
                vec![
                    buf(n as usize, |i| (i % 200) as f32 * 0.05 - 5.0),
                    buf(n as usize, |_| 0.0),
                ]
            };
            let t = time_launch(&k, &mut bufs, n, 256);
            println!(
                "{name:10} {vname:6} n={n:6}: {:9.1} ns  ({:.3} ns/elem)",
                t.as_secs_f64() * 1e9,
                t.as_secs_f64() * 1e9 / n as f64
            );
        }
    }
    for n in [256usize, 1024, 16384, 65536] {
        let a = vec![1.0f32; n];
        let b = vec![2.0f32; n];
        let mut c = vec![0.0f32; n];
        let iters = (20_000_000 / n).clamp(20, 200_000) as u32;
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..iters {
                native_add(
                    std::hint::black_box(&a),
                    std::hint::black_box(&b),
                    std::hint::black_box(&mut c),
                );
            }
            best = best.min(t.elapsed() / iters);
        }
        println!("native add n={n:6}: {:9.1} ns", best.as_secs_f64() * 1e9);
    }
}
