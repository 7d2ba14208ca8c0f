//! Every operation's program runs as JIT vector code, and the grid-stride folds and gemm's
//! tiles keep their indices lane-affine (contiguous vector loads): the structure the module
//! docs promise, checked on the programs the library actually builds.

use holovm::jit::Strategy;
use holovm::{ops, Vm};

#[test]
fn every_operation_program_is_vector_code() {
    let vm = Vm::new();
    let n = 300;
    let x = vm.alloc_from(&vec![0.5f32; n]).unwrap();
    let p = vm.alloc_from(&vec![0.25f32; n]).unwrap();
    let y = vm.alloc::<f32>(n).unwrap();
    let out = vm.alloc::<f32>(1).unwrap();
    ops::math::vector_add(&vm, &x, &x, &y).unwrap();
    ops::math::vector_sub(&vm, &x, &x, &y).unwrap();
    ops::math::vector_mul(&vm, &x, &x, &y).unwrap();
    ops::math::vector_div(&vm, &x, &x, &y).unwrap();
    ops::math::min(&vm, &x, &x, &y).unwrap();
    ops::math::max(&vm, &x, &x, &y).unwrap();
    ops::math::abs(&vm, &x, &y).unwrap();
    ops::math::neg(&vm, &x, &y).unwrap();
    ops::math::relu(&vm, &x, &y).unwrap();
    ops::math::clip(&vm, &x, 0.0, 1.0, &y).unwrap();
    ops::math::scalar_add(&vm, &x, 1.0, &y).unwrap();
    ops::math::scalar_mul(&vm, &x, 2.0, &y).unwrap();
    ops::activation::sigmoid(&vm, &x, &y).unwrap();
    ops::activation::tanh(&vm, &x, &y).unwrap();
    ops::activation::gelu(&vm, &x, &y).unwrap();
    ops::activation::softmax(&vm, &x, &y).unwrap();
    ops::reduce::sum(&vm, &x, &out).unwrap();
    ops::reduce::min(&vm, &x, &out).unwrap();
    ops::reduce::max(&vm, &x, &out).unwrap();
    ops::loss::mse(&vm, &x, &p, &out).unwrap();
    ops::loss::cross_entropy(&vm, &p, &x, &out).unwrap();
    ops::loss::binary_cross_entropy(&vm, &p, &x, &out).unwrap();
    ops::memory::copy(&vm, &x, &y).unwrap();
    ops::memory::fill(&vm, &y, 3.0).unwrap();
    let a = vm.alloc_from(&vec![1.0f32; 30 * 10]).unwrap();
    let c = vm.alloc::<f32>(30 * 10).unwrap();
    let v = vm.alloc_from(&[1.0f32; 10]).unwrap();
    let w = vm.alloc::<f32>(30).unwrap();
    ops::linalg::gemm(
        &vm,
        &a,
        &vm.alloc_from(&vec![1.0f32; 100]).unwrap(),
        &c,
        30,
        10,
        10,
    )
    .unwrap();
    ops::linalg::matvec(&vm, &a, &v, &w, 30, 10).unwrap();

    // Other tests of this binary build programs concurrently (narrow types among them, which
    // run scalar code): check the f32 ones built here.
    let programs: Vec<_> = ops::programs()
        .into_iter()
        .filter(|p| p.name().ends_with("_f32"))
        .collect();
    assert!(programs.len() >= 20, "{} programs", programs.len());
    for program in programs {
        let dump = vm.jit_dump(&program).unwrap();
        let Strategy::Vector { detail, .. } = &dump.strategy else {
            panic!("{}: {}", program.name(), dump.strategy);
        };
        // Folds (two-pass reductions, losses, softmax passes) loop over a grid-stride index;
        // gemm's tiles index B and C by tile + lane.
        let strided = holovm::asm::disassemble(&program).contains("add.u32 r21, r21, r30")
            || program.name().starts_with("gemm");
        if strided {
            assert!(
                !detail.contains("kept as one scalar): none"),
                "{}: {detail}",
                program.name()
            );
        }
    }
}
