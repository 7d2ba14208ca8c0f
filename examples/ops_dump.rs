//! Runs one call of every operation (f32), then prints each cached program's text and the
//! strategy the JIT chose for it: how to inspect what `holovm::ops` runs.
//!
//! `cargo run --release --example ops_dump`

use holovm::{asm, ops, Vm};

fn main() -> Result<(), holovm::Error> {
    let vm = Vm::new();
    let n = 1000;
    let x = vm.alloc_from(&(0..n).map(|i| i as f32 / n as f32).collect::<Vec<_>>())?;
    let y = vm.alloc::<f32>(n)?;
    let out = vm.alloc::<f32>(1)?;
    ops::math::vector_add(&vm, &x, &x, &y)?;
    ops::activation::gelu(&vm, &x, &y)?;
    ops::activation::softmax(&vm, &x, &y)?;
    ops::reduce::sum(&vm, &x, &out)?;
    ops::loss::mse(&vm, &x, &y, &out)?;
    let (a, c) = (vm.alloc::<f32>(100)?, vm.alloc::<f32>(100)?);
    ops::linalg::gemm(&vm, &a, &a, &c, 10, 10, 10)?;
    let (v, w) = (vm.alloc::<f32>(10)?, vm.alloc::<f32>(10)?);
    ops::linalg::matvec(&vm, &a, &v, &w, 10, 10)?;
    let mut programs = ops::programs();
    programs.sort_by(|p, q| p.name().cmp(q.name()));
    for p in programs {
        println!("{}", asm::disassemble(&p));
        match vm.jit_dump(&p) {
            Ok(d) => println!("; JIT: {}\n", d.strategy),
            Err(e) => println!("; JIT: {e}\n"),
        }
    }
    Ok(())
}
