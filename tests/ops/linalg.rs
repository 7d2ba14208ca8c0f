//! gemm and matvec: bit-exact against fused multiply-adds in increasing inner index (floats)
//! and wrapping arithmetic (integers).

use holovm::ops;

use crate::support::*;

/// (m, k, n): tails of the 4-row tiles, column tiles past 256, and C of 1,000,000 elements.
const GEMM_SHAPES: [(usize, usize, usize); 8] = [
    (1, 1, 1),
    (7, 5, 3),
    (4, 16, 16),
    (9, 33, 70),
    (64, 64, 64),
    (13, 300, 257),
    (5, 3073, 2),
    (1000, 1, 1000),
];

/// (m, k): lengths 1, 7, 256, 3072, 3073, 65536 and 1,000,003 among the operands.
const MATVEC_SHAPES: [(usize, usize); 8] = [
    (1, 1),
    (7, 7),
    (16, 16),
    (3, 1024),
    (3073, 2),
    (256, 256),
    (1_000_003, 1),
    (1, 65_536),
];

fn check<T: TNum>() {
    let mut r = Rng::new(30);
    for (m, k, n) in GEMM_SHAPES {
        let a: Vec<T> = random_vec(&mut r, m * k);
        let b: Vec<T> = random_vec(&mut r, k * n);
        let mut want = vec![T::zero(); m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                for p in 0..k {
                    acc = a[i * k + p].fma(b[p * n + j], acc);
                }
                want[i * n + j] = acc;
            }
        }
        for (tier, vm) in tier_vms() {
            let (da, db, dc) = (
                vm.alloc_from(&a).unwrap(),
                vm.alloc_from(&b).unwrap(),
                vm.alloc::<T>(m * n).unwrap(),
            );
            ops::linalg::gemm(&vm, &da, &db, &dc, m, k, n).unwrap();
            assert_same(
                &format!("gemm {m}x{k}x{n} {tier}"),
                &vm.read(&dc).unwrap(),
                &want,
            );
        }
    }
    for (m, k) in MATVEC_SHAPES {
        let a: Vec<T> = random_vec(&mut r, m * k);
        let x: Vec<T> = random_vec(&mut r, k);
        let want: Vec<T> = (0..m)
            .map(|i| (0..k).fold(T::zero(), |acc, j| a[i * k + j].fma(x[j], acc)))
            .collect();
        for (tier, vm) in tier_vms() {
            let (da, dx, dy) = (
                vm.alloc_from(&a).unwrap(),
                vm.alloc_from(&x).unwrap(),
                vm.alloc::<T>(m).unwrap(),
            );
            ops::linalg::matvec(&vm, &da, &dx, &dy, m, k).unwrap();
            assert_same(
                &format!("matvec {m}x{k} {tier}"),
                &vm.read(&dy).unwrap(),
                &want,
            );
        }
    }
}

#[test]
fn linalg_i32() {
    check::<i32>();
}

#[test]
fn linalg_i64() {
    check::<i64>();
}

#[test]
fn linalg_u32() {
    check::<u32>();
}

#[test]
fn linalg_u64() {
    check::<u64>();
}

#[test]
fn linalg_f32() {
    check::<f32>();
}

#[test]
fn linalg_f64() {
    check::<f64>();
}

/// Empty dimensions: k = 0 gives zeros, m = 0 or n = 0 does nothing.
#[test]
fn linalg_empty_dimensions() {
    for (tier, vm) in tier_vms() {
        let a = vm.alloc::<f32>(0).unwrap();
        let b = vm.alloc::<f32>(0).unwrap();
        let c = vm.alloc_from(&[7.0f32; 6]).unwrap();
        ops::linalg::gemm(&vm, &a, &b, &c, 2, 0, 3).unwrap();
        assert_eq!(vm.read(&c).unwrap(), vec![0.0; 6], "{tier}");
        let y = vm.alloc_from(&[7.0f32; 2]).unwrap();
        ops::linalg::matvec(&vm, &a, &b, &y, 2, 0).unwrap();
        assert_eq!(vm.read(&y).unwrap(), vec![0.0; 2], "{tier}");
        let none = vm.alloc::<f32>(0).unwrap();
        ops::linalg::gemm(&vm, &a, &b, &none, 0, 0, 5).unwrap();
    }
}
