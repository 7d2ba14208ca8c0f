//! Element-wise math: exact in every type (IEEE results for floats, wrapping integers).

use holovm::ops::{self, Pool};
use holovm::{Buffer, Error, Vm};

use crate::support::*;

type Binary<T> = fn(&Vm, &Buffer<T>, &Buffer<T>, &Buffer<T>) -> Result<(), Error>;

fn check_binary<T: TNum>(name: &str, op: Binary<T>, reference: fn(T, T) -> T, divisor: bool) {
    let mut r = Rng::new(1);
    for n in LENGTHS {
        let a: Vec<T> = random_vec(&mut r, n);
        let b: Vec<T> = if divisor {
            a.iter().map(|&x| T::divisor(&mut r, x)).collect()
        } else {
            random_vec(&mut r, n)
        };
        let want: Vec<T> = a.iter().zip(&b).map(|(&x, &y)| reference(x, y)).collect();
        for (tier, vm) in tier_vms() {
            let (da, db, dc) = (
                vm.alloc_from(&a).unwrap(),
                vm.alloc_from(&b).unwrap(),
                vm.alloc::<T>(n).unwrap(),
            );
            op(&vm, &da, &db, &dc).unwrap();
            assert_same(
                &format!("{name} n={n} {tier}"),
                &vm.read(&dc).unwrap(),
                &want,
            );
            // In place: the output is the first input.
            op(&vm, &da, &db, &da).unwrap();
            assert_same(
                &format!("{name} in place n={n} {tier}"),
                &vm.read(&da).unwrap(),
                &want,
            );
        }
    }
}

fn check_unary<T: TNum>(
    name: &str,
    op: impl Fn(&Vm, &Buffer<T>, &Buffer<T>) -> Result<(), Error>,
    reference: impl Fn(T) -> T,
) {
    let mut r = Rng::new(2);
    for n in LENGTHS {
        let x: Vec<T> = random_vec(&mut r, n);
        let want: Vec<T> = x.iter().map(|&v| reference(v)).collect();
        for (tier, vm) in tier_vms() {
            let (dx, dy) = (vm.alloc_from(&x).unwrap(), vm.alloc::<T>(n).unwrap());
            op(&vm, &dx, &dy).unwrap();
            assert_same(
                &format!("{name} n={n} {tier}"),
                &vm.read(&dy).unwrap(),
                &want,
            );
        }
    }
}

fn all_num<T: TNum>() {
    check_binary::<T>(
        "vector_add",
        |vm, a, b, c| ops::math::vector_add(vm, a, b, c),
        T::add,
        false,
    );
    check_binary::<T>(
        "vector_sub",
        |vm, a, b, c| ops::math::vector_sub(vm, a, b, c),
        T::sub,
        false,
    );
    check_binary::<T>(
        "vector_mul",
        |vm, a, b, c| ops::math::vector_mul(vm, a, b, c),
        T::mul,
        false,
    );
    check_binary::<T>(
        "vector_div",
        |vm, a, b, c| ops::math::vector_div(vm, a, b, c),
        T::div,
        true,
    );
    check_binary::<T>(
        "min",
        |vm, a, b, c| ops::math::min(vm, a, b, c),
        T::min_,
        false,
    );
    check_binary::<T>(
        "max",
        |vm, a, b, c| ops::math::max(vm, a, b, c),
        T::max_,
        false,
    );
    let mut r = Rng::new(3);
    let (p, q, s) = (T::random(&mut r), T::random(&mut r), T::random(&mut r));
    let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
    check_unary::<T>(
        "clip",
        |vm, x, y| ops::math::clip(vm, x, lo, hi, y),
        |v| v.max_(lo).min_(hi),
    );
    check_unary::<T>(
        "scalar_add",
        |vm, x, y| ops::math::scalar_add(vm, x, s, y),
        |v| v.add(s),
    );
    check_unary::<T>(
        "scalar_mul",
        |vm, x, y| ops::math::scalar_mul(vm, x, s, y),
        |v| v.mul(s),
    );
}

fn all_signed<T: TSigned>() {
    check_unary::<T>("abs", |vm, x, y| ops::math::abs(vm, x, y), T::abs_);
    check_unary::<T>("neg", |vm, x, y| ops::math::neg(vm, x, y), T::neg_);
    check_unary::<T>(
        "relu",
        |vm, x, y| ops::math::relu(vm, x, y),
        |v| v.max_(T::zero()),
    );
}

#[test]
fn math_i32() {
    all_num::<i32>();
    all_signed::<i32>();
}

#[test]
fn math_i64() {
    all_num::<i64>();
    all_signed::<i64>();
}

#[test]
fn math_u32() {
    all_num::<u32>();
}

#[test]
fn math_u64() {
    all_num::<u64>();
}

#[test]
fn math_f32() {
    all_num::<f32>();
    all_signed::<f32>();
}

#[test]
fn math_f64() {
    all_num::<f64>();
    all_signed::<f64>();
}

/// Pool classes as operands, mixed with buffers, on both tiers.
#[test]
fn math_on_pool_classes() {
    let mut r = Rng::new(4);
    let n = 3072;
    let a: Vec<f32> = random_vec(&mut r, n);
    let b: Vec<f32> = random_vec(&mut r, n);
    for (tier, vm) in tier_vms() {
        let (pa, pb, pc) = (
            Pool::<f32>::new(0).unwrap(),
            Pool::<f32>::new(7).unwrap(),
            Pool::<f32>::new(95).unwrap(),
        );
        vm.write_pool(0, &a).unwrap();
        let db = vm.alloc_from(&b).unwrap();
        // pool + buffer -> pool
        ops::math::vector_mul(&vm, &pa, &db, &pc).unwrap();
        let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
        assert_same(
            &format!("pool mul {tier}"),
            &vm.read_pool::<f32>(95).unwrap(),
            &want,
        );
        // pool -> pool, unary
        ops::math::relu(&vm, &pc, &pb).unwrap();
        let want: Vec<f32> = want.iter().map(|v| v.max(0.0)).collect();
        assert_same(
            &format!("pool relu {tier}"),
            &vm.read_pool::<f32>(7).unwrap(),
            &want,
        );
        // pool -> buffer with a scalar
        let out = vm.alloc::<f32>(n).unwrap();
        ops::math::scalar_add(&vm, &pb, 1.5, &out).unwrap();
        let want: Vec<f32> = want.iter().map(|v| v + 1.5).collect();
        assert_same(
            &format!("pool scalar_add {tier}"),
            &vm.read(&out).unwrap(),
            &want,
        );
        // i64 view of a class: 1536 elements.
        let p64 = Pool::<i64>::new(3).unwrap();
        let x: Vec<i64> = random_vec(&mut r, 1536);
        vm.write_pool(3, &x).unwrap();
        ops::math::neg(&vm, &p64, &p64).unwrap();
        let want: Vec<i64> = x.iter().map(|v| v.wrapping_neg()).collect();
        assert_same(
            &format!("pool neg i64 {tier}"),
            &vm.read_pool::<i64>(3).unwrap(),
            &want,
        );
    }
}
