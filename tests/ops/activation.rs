//! Activations against f64 references. Tolerances (eps = the type's machine epsilon):
//! sigmoid and tanh `5 eps |want|` (the ISA's bounds are 2.4 ulp); gelu
//! `16 eps (|x| + |want|)` (1 + tanh cancels for negative x, so the bound is absolute in x);
//! softmax `eps (sum_terms(n) + 60) |want|` (exp of x - max, then the two-pass sum).

use holovm::ops;
use holovm::{Buffer, Error, Vm};

use crate::support::*;

fn check_map<T: TFloat>(
    name: &str,
    op: impl Fn(&Vm, &Buffer<T>, &Buffer<T>) -> Result<(), Error>,
    reference: impl Fn(f64) -> f64,
    tol: impl Fn(f64, f64) -> f64,
) {
    let mut r = Rng::new(10);
    for n in LENGTHS {
        let x: Vec<T> = random_vec(&mut r, n);
        let want: Vec<f64> = x.iter().map(|v| reference(v.to_f64())).collect();
        for (tier, vm) in tier_vms() {
            let (dx, dy) = (vm.alloc_from(&x).unwrap(), vm.alloc::<T>(n).unwrap());
            op(&vm, &dx, &dy).unwrap();
            let got = vm.read(&dy).unwrap();
            assert_close(&format!("{name} n={n} {tier}"), &got, &want, |i, w| {
                tol(x[i].to_f64(), w)
            });
        }
    }
}

fn gelu_ref(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

fn check_softmax<T: TFloat>() {
    let mut r = Rng::new(11);
    for n in LENGTHS {
        let x: Vec<T> = random_vec(&mut r, n);
        let xs: Vec<f64> = x.iter().map(|v| v.to_f64()).collect();
        let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = xs.iter().map(|v| (v - m).exp()).collect();
        let s = exact_sum(e.iter().cloned());
        let want: Vec<f64> = e.iter().map(|v| v / s).collect();
        let bound = T::EPS * (sum_terms(n) + 60.0);
        for (tier, vm) in tier_vms() {
            let (dx, dy) = (vm.alloc_from(&x).unwrap(), vm.alloc::<T>(n).unwrap());
            ops::activation::softmax(&vm, &dx, &dy).unwrap();
            let what = format!("softmax n={n} {tier}");
            assert_close(&what, &vm.read(&dy).unwrap(), &want, |_, w| bound * w);
            // In place, and no scratch buffer left behind.
            let live = vm.buffers();
            ops::activation::softmax(&vm, &dx, &dx).unwrap();
            assert_close(
                &format!("{what} in place"),
                &vm.read(&dx).unwrap(),
                &want,
                |_, w| bound * w,
            );
            assert_eq!(vm.buffers(), live, "{what}: scratch buffers freed");
        }
    }
}

fn all<T: TFloat>() {
    let e = T::EPS;
    check_map::<T>(
        "sigmoid",
        |vm, x, y| ops::activation::sigmoid(vm, x, y),
        |x| 1.0 / (1.0 + (-x).exp()),
        |_, w| 5.0 * e * w.abs(),
    );
    check_map::<T>(
        "tanh",
        |vm, x, y| ops::activation::tanh(vm, x, y),
        f64::tanh,
        |_, w| 5.0 * e * w.abs(),
    );
    check_map::<T>(
        "gelu",
        |vm, x, y| ops::activation::gelu(vm, x, y),
        gelu_ref,
        |x, w| 16.0 * e * (x.abs() + w.abs()),
    );
    check_softmax::<T>();
}

#[test]
fn activation_f32() {
    all::<f32>();
}

#[test]
fn activation_f64() {
    all::<f64>();
}

/// softmax is numerically stable: inputs far above exp's range still normalise.
#[test]
fn softmax_subtracts_the_max() {
    for (tier, vm) in tier_vms() {
        let x = vm.alloc_from(&[1000.0f32, 1001.0, 1002.0]).unwrap();
        ops::activation::softmax(&vm, &x, &x).unwrap();
        let y = vm.read(&x).unwrap();
        let want = [0.090_030_57f32, 0.244_728_48, 0.665_240_94];
        for (g, w) in y.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{tier}: {y:?}");
        }
    }
}
