//! Losses against f64 references: within `eps (sum_terms(n) + 8) sum|term_i| / n` (the
//! two-pass sum of the terms, each term within a few ulps).

use holovm::ops;
use holovm::{Buffer, Error, Vm};

use crate::support::*;

type Loss<T> = fn(&Vm, &Buffer<T>, &Buffer<T>, &Buffer<T>) -> Result<(), Error>;

fn check<T: TFloat>(name: &str, op: Loss<T>, probs: bool, term: fn(f64, f64) -> f64, sign: f64) {
    let mut r = Rng::new(40);
    for n in LENGTHS {
        let (pred, target): (Vec<T>, Vec<T>) = if probs {
            (
                (0..n).map(|_| T::from_f64(r.uniform(0.01, 0.99))).collect(),
                (0..n).map(|_| T::from_f64(r.uniform(0.0, 1.0))).collect(),
            )
        } else {
            (random_vec(&mut r, n), random_vec(&mut r, n))
        };
        let terms: Vec<f64> = pred
            .iter()
            .zip(&target)
            .map(|(p, t)| term(p.to_f64(), t.to_f64()))
            .collect();
        let want = sign * exact_sum(terms.iter().cloned()) / n as f64;
        let tol =
            T::EPS * (sum_terms(n) + 8.0) * exact_sum(terms.iter().map(|v| v.abs())) / n as f64;
        for (tier, vm) in tier_vms() {
            let (dp, dt, out) = (
                vm.alloc_from(&pred).unwrap(),
                vm.alloc_from(&target).unwrap(),
                vm.alloc::<T>(1).unwrap(),
            );
            op(&vm, &dp, &dt, &out).unwrap();
            let got = vm.read(&out).unwrap()[0].to_f64();
            assert!(
                (got - want).abs() <= tol,
                "{name} n={n} {tier}: got {got:e}, want {want:e}, tol {tol:e}"
            );
        }
    }
}

fn all<T: TFloat>() {
    // The single-precision input 1 - p is computed in the type, as the kernel does.
    check::<T>(
        "mse",
        |vm, p, t, o| ops::loss::mse(vm, p, t, o),
        false,
        |p, t| (p - t) * (p - t),
        1.0,
    );
    check::<T>(
        "cross_entropy",
        |vm, p, t, o| ops::loss::cross_entropy(vm, p, t, o),
        true,
        |p, t| t * p.ln().max(-100.0),
        -1.0,
    );
    check::<T>(
        "binary_cross_entropy",
        |vm, p, t, o| ops::loss::binary_cross_entropy(vm, p, t, o),
        true,
        |p, t| t * p.ln().max(-100.0) + (1.0 - t) * (1.0 - p).ln().max(-100.0),
        -1.0,
    );
}

#[test]
fn loss_f32() {
    all::<f32>();
}

#[test]
fn loss_f64() {
    all::<f64>();
}

/// A prediction of exactly 0 or 1 gives a finite loss (log clamped at -100).
#[test]
fn bce_clamps_the_logarithm() {
    for (tier, vm) in tier_vms() {
        let p = vm.alloc_from(&[0.0f64, 1.0]).unwrap();
        let t = vm.alloc_from(&[1.0f64, 1.0]).unwrap();
        let out = vm.alloc::<f64>(1).unwrap();
        ops::loss::binary_cross_entropy(&vm, &p, &t, &out).unwrap();
        assert_eq!(vm.read(&out).unwrap(), vec![50.0], "{tier}");
    }
}
