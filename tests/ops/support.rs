//! Random inputs, Rust reference arithmetic and tolerances for the ops tests.
#![allow(dead_code)]

use std::fmt::Debug;

use holovm::ops::{Float, Num, Signed};
use holovm::{Tier, Vm, VmConfig};

/// The lengths every operation is tested at.
pub const LENGTHS: [usize; 7] = [1, 7, 256, 3072, 3073, 65_536, 1_000_003];

/// One VM per tier: the interpreter and the JIT (both parallel over blocks).
pub fn tier_vms() -> [(&'static str, TierVm); 2] {
    [
        (
            "interpreter",
            TierVm(Vm::with_config(VmConfig::default().tier(Tier::Interpret))),
        ),
        (
            "jit",
            TierVm(Vm::with_config(VmConfig::default().tier(Tier::Jit))),
        ),
    ]
}

/// A VM of [`tier_vms`]. `Tier::Jit` falls back to the interpreter when a compile fails, so
/// a JIT VM checks, when a test drops it, that it holds compiled kernels (a JIT failing its
/// compiles would otherwise pass as the interpreter).
pub struct TierVm(pub Vm);

impl std::ops::Deref for TierVm {
    type Target = Vm;
    fn deref(&self) -> &Vm {
        &self.0
    }
}

impl Drop for TierVm {
    fn drop(&mut self) {
        if self.0.config().tier == Tier::Jit && !std::thread::panicking() {
            assert!(
                self.0.compiled_programs() > 0,
                "the JIT VM compiled nothing: its launches fell back to the interpreter"
            );
        }
    }
}

/// SplitMix64: small, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A numeric element type with its Rust reference arithmetic (wrapping for integers, IEEE
/// for floats).
pub trait TNum: Num + Debug {
    /// A random value: any bit pattern for integers, uniform in [-4, 4) for floats.
    fn random(r: &mut Rng) -> Self;
    /// A random non-zero divisor for `num` (never `MIN / -1`).
    fn divisor(r: &mut Rng, num: Self) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// `self * b + c` with one rounding (floats) or wrapping (integers).
    fn fma(self, b: Self, c: Self) -> Self;
    /// IEEE `minimum` / `maximum` for non-NaN floats; `Ord` for integers.
    fn min_(self, o: Self) -> Self;
    fn max_(self, o: Self) -> Self;
    fn zero() -> Self;
    fn to_f64(self) -> f64;
    /// Bit equality, with every NaN equal.
    fn same(self, o: Self) -> bool;
}

pub trait TSigned: TNum + Signed {
    fn abs_(self) -> Self;
    fn neg_(self) -> Self;
}

pub trait TFloat: TSigned + Float {
    const EPS: f64;
    fn from_f64(v: f64) -> Self;
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl TNum for $t {
            fn random(r: &mut Rng) -> Self { r.next() as $t }
            fn divisor(r: &mut Rng, num: Self) -> Self {
                loop {
                    // Small divisors as well as large ones.
                    let d = if r.next() % 2 == 0 { (r.next() % 17) as $t } else { r.next() as $t };
                    if d != 0 && num.checked_div(d).is_some() {
                        return d;
                    }
                }
            }
            fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            fn div(self, o: Self) -> Self { self.wrapping_div(o) }
            fn fma(self, b: Self, c: Self) -> Self { self.wrapping_mul(b).wrapping_add(c) }
            fn min_(self, o: Self) -> Self { Ord::min(self, o) }
            fn max_(self, o: Self) -> Self { Ord::max(self, o) }
            fn zero() -> Self { 0 }
            fn to_f64(self) -> f64 { self as f64 }
            fn same(self, o: Self) -> bool { self == o }
        }
    )*};
}
ints!(i32, i64, u32, u64);

impl TSigned for i32 {
    fn abs_(self) -> Self {
        self.wrapping_abs()
    }
    fn neg_(self) -> Self {
        self.wrapping_neg()
    }
}
impl TSigned for i64 {
    fn abs_(self) -> Self {
        self.wrapping_abs()
    }
    fn neg_(self) -> Self {
        self.wrapping_neg()
    }
}

macro_rules! floats {
    ($($t:ty),*) => {$(
        impl TNum for $t {
            fn random(r: &mut Rng) -> Self { r.uniform(-4.0, 4.0) as $t }
            fn divisor(r: &mut Rng, _num: Self) -> Self { r.uniform(-4.0, 4.0) as $t }
            fn add(self, o: Self) -> Self { self + o }
            fn sub(self, o: Self) -> Self { self - o }
            fn mul(self, o: Self) -> Self { self * o }
            fn div(self, o: Self) -> Self { self / o }
            fn fma(self, b: Self, c: Self) -> Self { self.mul_add(b, c) }
            fn min_(self, o: Self) -> Self { if o < self { o } else { self } }
            fn max_(self, o: Self) -> Self { if o > self { o } else { self } }
            fn zero() -> Self { 0.0 }
            fn to_f64(self) -> f64 { self as f64 }
            fn same(self, o: Self) -> bool { self.to_bits() == o.to_bits() || (self.is_nan() && o.is_nan()) }
        }
        impl TSigned for $t {
            fn abs_(self) -> Self { self.abs() }
            fn neg_(self) -> Self { -self }
        }
        impl TFloat for $t {
            const EPS: f64 = <$t>::EPSILON as f64;
            fn from_f64(v: f64) -> Self { v as $t }
        }
    )*};
}
floats!(f32, f64);

/// `n` random values.
pub fn random_vec<T: TNum>(r: &mut Rng, n: usize) -> Vec<T> {
    (0..n).map(|_| T::random(r)).collect()
}

/// Panics at the first index where `got` and `want` differ (bitwise, NaN = NaN).
pub fn assert_same<T: TNum>(what: &str, got: &[T], want: &[T]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| !got[i].same(want[i])) {
        panic!("{what}: index {i}: got {:?}, want {:?}", got[i], want[i]);
    }
}

/// Panics at the first index where `|got - want| > tol(i, want)`.
pub fn assert_close<T: TFloat>(
    what: &str,
    got: &[T],
    want: &[f64],
    tol: impl Fn(usize, f64) -> f64,
) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for i in 0..got.len() {
        let (g, w) = (got[i].to_f64(), want[i]);
        let t = tol(i, w);
        assert!(
            (g - w).abs() <= t || (g.is_nan() && w.is_nan()),
            "{what}: index {i}: got {g:e}, want {w:e}, |error| {:e} > tolerance {t:e}",
            (g - w).abs()
        );
    }
}

/// A sum in f64 with Neumaier compensation: the reference for float reductions.
pub fn exact_sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for x in xs {
        let t = s + x;
        c += if s.abs() >= x.abs() {
            (s - t) + x
        } else {
            (x - t) + s
        };
        s = t;
    }
    s + c
}

/// The stated error bound of the ops' float sums, as a multiple of `eps * sum |x|`: a
/// two-pass fold adds `n / L + L` rounded terms with `32 <= L <= 4096`, `L ~ 4 sqrt(n)`.
pub fn sum_terms(n: usize) -> f64 {
    5.0 * (n as f64).sqrt() + n as f64 / 4096.0 + 40.0
}
