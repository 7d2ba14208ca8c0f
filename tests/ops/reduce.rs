//! Reductions: integer sums (wrapping), min and max are exact; float sums are within
//! `eps * sum_terms(n) * sum |x|` of the exact sum (a two-pass fold adds `n / L + L` terms).

use holovm::ops;

use crate::support::*;

fn check<T: TNum>() {
    let mut r = Rng::new(20);
    for n in LENGTHS {
        let x: Vec<T> = random_vec(&mut r, n);
        let min = x.iter().copied().reduce(T::min_).unwrap();
        let max = x.iter().copied().reduce(T::max_).unwrap();
        for (tier, vm) in tier_vms() {
            let dx = vm.alloc_from(&x).unwrap();
            let out = vm.alloc::<T>(2).unwrap();
            let live = vm.buffers();
            ops::reduce::min(&vm, &dx, &out).unwrap();
            assert!(vm.read(&out).unwrap()[0].same(min), "min n={n} {tier}");
            ops::reduce::max(&vm, &dx, &out).unwrap();
            assert!(vm.read(&out).unwrap()[0].same(max), "max n={n} {tier}");
            ops::reduce::sum(&vm, &dx, &out).unwrap();
            let got = vm.read(&out).unwrap();
            assert!(
                got[1].same(T::zero()),
                "sum n={n} {tier}: only out[0] is written"
            );
            check_sum(&format!("sum n={n} {tier}"), &x, got[0]);
            assert_eq!(vm.buffers(), live, "scratch buffers freed");
        }
    }
}

fn check_sum<T: TNum>(what: &str, x: &[T], got: T) {
    if T::TY.is_float() {
        let want = exact_sum(x.iter().map(|v| v.to_f64()));
        let abs = exact_sum(x.iter().map(|v| v.to_f64().abs()));
        let eps = if T::TY == holovm::isa::Ty::F32 {
            f32::EPSILON as f64
        } else {
            f64::EPSILON
        };
        let tol = eps * sum_terms(x.len()) * abs;
        assert!(
            (got.to_f64() - want).abs() <= tol,
            "{what}: got {got:?}, want {want}, tol {tol:e}"
        );
    } else {
        let want = x.iter().copied().fold(T::zero(), T::add);
        assert!(got.same(want), "{what}: got {got:?}, want {want:?}");
    }
}

#[test]
fn reduce_i32() {
    check::<i32>();
}

#[test]
fn reduce_i64() {
    check::<i64>();
}

#[test]
fn reduce_u32() {
    check::<u32>();
}

#[test]
fn reduce_u64() {
    check::<u64>();
}

#[test]
fn reduce_f32() {
    check::<f32>();
}

#[test]
fn reduce_f64() {
    check::<f64>();
}

/// Every length from 0 to 300 (around the one-launch / two-launch switch at 128 and the
/// lane-count steps), and the empty sum.
#[test]
fn reduce_every_short_length() {
    for (tier, vm) in tier_vms() {
        let out = vm.alloc::<i64>(1).unwrap();
        for n in 0..300i64 {
            let x: Vec<i64> = (1..=n).collect();
            let dx = vm.alloc_from(&x).unwrap();
            ops::reduce::sum(&vm, &dx, &out).unwrap();
            assert_eq!(
                vm.read(&out).unwrap()[0],
                n * (n + 1) / 2,
                "sum 1..={n} {tier}"
            );
            if n > 0 {
                ops::reduce::max(&vm, &dx, &out).unwrap();
                assert_eq!(vm.read(&out).unwrap()[0], n, "max 1..={n} {tier}");
                ops::reduce::min(&vm, &dx, &out).unwrap();
                assert_eq!(vm.read(&out).unwrap()[0], 1, "min 1..={n} {tier}");
            }
            vm.free(dx).unwrap();
        }
    }
}
