//! Misuse is an error that names the operation and what is wrong; faults are traps; the VM
//! stays usable afterwards.

use holovm::ops::{self, Pool};
use holovm::{Error, TrapKind, Vm};

use crate::support::*;

fn shape_error(e: Error) -> String {
    match e {
        Error::Shape { .. } => e.to_string(),
        e => panic!("expected a shape error, got {e}"),
    }
}

#[test]
fn shapes_are_checked() {
    let vm = Vm::new();
    let a = vm.alloc::<f32>(8).unwrap();
    let b = vm.alloc::<f32>(7).unwrap();
    let one = vm.alloc::<f32>(1).unwrap();
    let none = vm.alloc::<f32>(0).unwrap();
    let msg = shape_error(ops::math::vector_add(&vm, &a, &b, &a).unwrap_err());
    assert_eq!(msg, "vector_add: `b` has 7 elements, `a` has 8");
    let msg = shape_error(ops::math::clip(&vm, &a, 2.0, 1.0, &a).unwrap_err());
    assert_eq!(msg, "clip: needs lo <= hi, got 2.0 and 1.0");
    shape_error(ops::math::clip(&vm, &a, f32::NAN, 1.0, &a).unwrap_err());
    let msg = shape_error(ops::reduce::max(&vm, &none, &one).unwrap_err());
    assert_eq!(msg, "reduce_max: the input is empty");
    let msg = shape_error(ops::reduce::sum(&vm, &a, &none).unwrap_err());
    assert_eq!(msg, "sum: `out` needs at least one element");
    shape_error(ops::loss::mse(&vm, &none, &none, &one).unwrap_err());
    shape_error(ops::loss::mse(&vm, &a, &b, &one).unwrap_err());
    shape_error(ops::activation::softmax(&vm, &a, &b).unwrap_err());
    let msg = shape_error(ops::linalg::gemm(&vm, &a, &a, &b, 2, 4, 2).unwrap_err());
    assert_eq!(msg, "gemm: `c` has 7 elements, a 2 x 2 matrix needs 4");
    shape_error(ops::linalg::gemm(&vm, &a, &b, &a, 2, 4, 2).unwrap_err());
    let m = vm.alloc::<f32>(4).unwrap();
    shape_error(ops::linalg::gemm(&vm, &m, &m, &m, 2, 2, 2).unwrap_err());
    shape_error(ops::linalg::matvec(&vm, &a, &b, &one, 1, 8).unwrap_err());
    shape_error(ops::linalg::gemm(&vm, &a, &a, &a, usize::MAX, 2, 2).unwrap_err());
    // A pool class has a fixed length.
    let class = Pool::<f32>::new(0).unwrap();
    let msg = shape_error(ops::memory::copy(&vm, &a, &class).unwrap_err());
    assert_eq!(msg, "copy: `dst` has 3072 elements, `src` has 8");
    assert!(matches!(
        Pool::<f32>::new(96),
        Err(Error::PoolClass { class: 96 })
    ));
}

#[test]
fn handles_are_checked() {
    let vm = Vm::new();
    let other = Vm::new();
    let a = vm.alloc::<i32>(4).unwrap();
    let foreign = other.alloc::<i32>(4).unwrap();
    // The operation's kernel names the argument (its parameters are in0, in1, ..., out).
    let stale = |e: Error, param: &str| match e {
        Error::Arg { name, found, .. } => name == param && found.contains("freed"),
        _ => false,
    };
    let e = ops::math::vector_add(&vm, &a, &foreign, &a).unwrap_err();
    assert!(stale(e.clone(), "in1"), "{e}");
    let freed = vm.alloc::<i32>(4).unwrap();
    vm.free(freed).unwrap();
    let e = ops::memory::copy(&vm, &freed, &a).unwrap_err();
    assert!(matches!(e, Error::Arg { .. }), "{e}");
    let out = vm.alloc::<i32>(1).unwrap();
    let e = ops::reduce::sum(&vm, &freed, &out).unwrap_err();
    assert!(stale(e.clone(), "in0"), "{e}");
    // The scratch buffer of a failed reduction is freed too.
    assert_eq!(vm.buffers(), 2);
}

#[test]
fn integer_division_by_zero_traps_then_the_vm_goes_on() {
    for (tier, vm) in tier_vms() {
        let mut num = vec![10i64; 3000];
        num[2999] = 11;
        let mut den = vec![3i64; 3000];
        den[1234] = 0;
        let (a, b) = (vm.alloc_from(&num).unwrap(), vm.alloc_from(&den).unwrap());
        let c = vm.alloc::<i64>(3000).unwrap();
        let err = ops::math::vector_div(&vm, &a, &b, &c).unwrap_err();
        let trap = err.trap().unwrap_or_else(|| panic!("{tier}: {err}"));
        assert_eq!(trap.kind, TrapKind::DivideByZero, "{tier}");
        assert_eq!((trap.block, trap.lane), (4, 1234 - 4 * 256), "{tier}");
        vm.write(&b, &vec![3i64; 3000]).unwrap();
        ops::math::vector_div(&vm, &a, &b, &c).unwrap();
        let got = vm.read(&c).unwrap();
        assert_eq!((got[0], got[2999]), (3, 3), "{tier}");
    }
}

/// Concurrent callers share the cached programs and get correct results.
#[test]
fn concurrent_calls() {
    let vm = Vm::new();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let vm = &vm;
            s.spawn(move || {
                let mut r = Rng::new(60 + t);
                let x: Vec<u64> = random_vec(&mut r, 10_000);
                let dx = vm.alloc_from(&x).unwrap();
                let out = vm.alloc::<u64>(1).unwrap();
                for _ in 0..20 {
                    ops::reduce::sum(vm, &dx, &out).unwrap();
                    let want = x.iter().fold(0u64, |a, &b| a.wrapping_add(b));
                    assert_eq!(vm.read(&out).unwrap()[0], want);
                }
            });
        }
    });
}
