//! The operations cache: a repeated call builds no program. Alone in its test binary so that
//! no other test builds programs concurrently (the counter is process-wide).

use holovm::{ops, Tier, Vm, VmConfig};

#[test]
fn a_repeated_call_builds_no_program() {
    let vm = Vm::with_config(VmConfig::default().tier(Tier::Jit));
    let a = vm.alloc_from(&[1.0f32, 2.0, 3.0]).unwrap();
    let b = vm.alloc_from(&[4.0f32, 5.0, 6.0]).unwrap();
    let c = vm.alloc::<f32>(3).unwrap();
    let before = ops::programs_built();
    ops::math::vector_add(&vm, &a, &b, &c).unwrap();
    assert_eq!(ops::programs_built(), before + 1, "the first call builds");
    let cached = ops::cached_programs();
    ops::math::vector_add(&vm, &a, &b, &c).unwrap();
    ops::math::vector_add(&vm, &c, &b, &a).unwrap();
    assert_eq!(ops::programs_built(), before + 1, "other handles: no build");
    // Another length is a launch argument, not another program.
    let long: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
    let x = vm.alloc_from(&long).unwrap();
    ops::math::vector_add(&vm, &x, &x, &x).unwrap();
    assert_eq!(
        ops::programs_built(),
        before + 1,
        "another length: no build"
    );
    assert_eq!(ops::cached_programs(), cached);
    // Another VM shares the program.
    let vm2 = Vm::new();
    let y = vm2.alloc_from(&[1.0f32]).unwrap();
    ops::math::vector_add(&vm2, &y, &y, &y).unwrap();
    assert_eq!(ops::programs_built(), before + 1, "another VM: no build");
    // Another type is another program.
    let z = vm.alloc_from(&[1.0f64]).unwrap();
    ops::math::vector_add(&vm, &z, &z, &z).unwrap();
    assert_eq!(ops::programs_built(), before + 2, "another type builds");
    // A reduction builds its program(s) once too.
    let out = vm.alloc::<f32>(1).unwrap();
    ops::reduce::sum(&vm, &x, &out).unwrap();
    let after_sum = ops::programs_built();
    ops::reduce::sum(&vm, &x, &out).unwrap();
    ops::reduce::sum(&vm, &a, &out).unwrap();
    assert_eq!(ops::programs_built(), after_sum, "sum again: no build");
    assert_eq!(vm.read(&out).unwrap(), vec![36.0]); // a = (a + b) + b = [9, 12, 15]
                                                    // The JIT compiled each program once, too.
    let compiled = vm.compiled_programs();
    ops::math::vector_add(&vm, &a, &b, &c).unwrap();
    assert_eq!(vm.compiled_programs(), compiled);
}
