//! Temporary: compile times at the automatic group size, best of 30, interleaved.
use holovm_jit::*;
use std::time::{Duration, Instant};
fn load(name: &str) -> holovm_isa::Program {
    let path = format!(
        "{}/../examples/kernels/{name}.hasm",
        env!("CARGO_MANIFEST_DIR")
    );
    holovm_asm::assemble(&std::fs::read_to_string(&path).unwrap()).unwrap()
}
fn main() {
    let names = [
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
    ];
    let mut progs: Vec<_> = names.iter().map(|n| load(n)).collect();
    progs.push(holovm_asm::assemble(".kernel nop\n    exit\n").unwrap());
    let names: Vec<&str> = names.iter().copied().chain(["nop"]).collect();
    let o = JitOptions {
        verify: false,
        vector: std::env::args().nth(1).is_none(),
        ..Default::default()
    };
    let mut best = vec![Duration::MAX; names.len()];
    for _ in 0..30 {
        for (i, p) in progs.iter().enumerate() {
            let t = Instant::now();
            let k = compile(p, &o).unwrap();
            best[i] = best[i].min(t.elapsed());
            drop(k);
        }
    }
    for (n, b) in names.iter().zip(best) {
        print!("{n} {:.3}  ", b.as_secs_f64() * 1e3);
    }
    println!();
}
