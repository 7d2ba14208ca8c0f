//! Typed lane loops for the computational instructions, monomorphised per (operation, type)
//! and per operand shape, and the tables that pick one at decode time.
//!
//! Every operation is a zero-sized type implementing one of the `K*` traits; the entry
//! functions (`bin_entry`, ...) turn one into a plain function pointer stored in the decoded
//! instruction, in two versions: portable, and compiled with AVX2 + FMA for CPUs that have
//! them (chosen at decode time; both give bit-identical results, as every operation is exactly
//! specified).
//!
//! For the full block (`Active::All`) the lane loops run over whole register rows and are
//! written to auto-vectorise; for a partial set of lanes (divergence, exited lanes) they visit
//! the listed lanes one by one.

use std::marker::PhantomData;

use holovm_isa::{BinOp, Cmp, RedOp, Ty, UnOp};

use super::math::Transcendental;
use super::regs::{with_acc, Get, Lane, Regs};
use super::{Active, Fault, Opnd};
use crate::TrapKind;

/// `op rD, a`.
pub(crate) type UnFn = fn(&mut Regs, &[u64], Active<'_>, u32, Opnd);
/// `op rD, a, b`; integer `div`/`rem` may fault.
pub(crate) type BinFn = fn(&mut Regs, &[u64], Active<'_>, u32, Opnd, Opnd) -> Result<(), Fault>;
/// `fma rD, a, b, c`.
pub(crate) type FmaFn = fn(&mut Regs, &[u64], Active<'_>, u32, Opnd, Opnd, Opnd);
/// `sel rD, p, a, b` (the predicate row is passed in).
pub(crate) type SelFn = fn(&mut Regs, &[u8], &[u64], Active<'_>, u32, Opnd, Opnd);
/// `setp pD, a, b` (the destination predicate row is passed in).
pub(crate) type SetpFn = fn(&Regs, &mut [u8], &[u64], Active<'_>, Opnd, Opnd);
/// `reduce rD, a` over the active lanes, which must be all live lanes.
pub(crate) type RedFn = fn(&mut Regs, &[u64], Active<'_>, u32, Opnd);

// ---------------------------------------------------------------------------------------
// Numeric semantics
// ---------------------------------------------------------------------------------------

/// Operations on every type (integers wrap; floats are IEEE 754 with one rounding).
pub(crate) trait Num: Lane {
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    fn min(self, b: Self) -> Self;
    fn max(self, b: Self) -> Self;
    fn abs(self) -> Self;
    fn neg(self) -> Self;
    fn fma(self, b: Self, c: Self) -> Self;
}

/// Integer-only operations.
pub(crate) trait Int: Num {
    fn and(self, b: Self) -> Self;
    fn or(self, b: Self) -> Self;
    fn xor(self, b: Self) -> Self;
    fn not(self) -> Self;
    fn shl(self, b: Self) -> Self;
    fn shr(self, b: Self) -> Self;
    fn div(self, b: Self) -> Result<Self, TrapKind>;
    fn rem(self, b: Self) -> Result<Self, TrapKind>;
}

/// Float-only operations.
pub(crate) trait Float: Num + Transcendental {
    fn div(self, b: Self) -> Self;
}

macro_rules! int_common {
    ($t:ty, $u:ty) => {
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            self.wrapping_add(b)
        }
        #[inline(always)]
        fn sub(self, b: Self) -> Self {
            self.wrapping_sub(b)
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            self.wrapping_mul(b)
        }
        #[inline(always)]
        fn min(self, b: Self) -> Self {
            Ord::min(self, b)
        }
        #[inline(always)]
        fn max(self, b: Self) -> Self {
            Ord::max(self, b)
        }
        #[inline(always)]
        fn neg(self) -> Self {
            self.wrapping_neg()
        }
        #[inline(always)]
        fn fma(self, b: Self, c: Self) -> Self {
            self.wrapping_mul(b).wrapping_add(c)
        }
    };
}

macro_rules! int_ops {
    ($t:ty, $u:ty, $shr_big:expr) => {
        impl Int for $t {
            #[inline(always)]
            fn and(self, b: Self) -> Self {
                self & b
            }
            #[inline(always)]
            fn or(self, b: Self) -> Self {
                self | b
            }
            #[inline(always)]
            fn xor(self, b: Self) -> Self {
                self ^ b
            }
            #[inline(always)]
            fn not(self) -> Self {
                !self
            }
            #[inline(always)]
            fn shl(self, b: Self) -> Self {
                // The amount is read as the unsigned type of the same width.
                let s = b as $u;
                if (s as u64) < <$t>::BITS as u64 {
                    self << (s as u32)
                } else {
                    0
                }
            }
            #[inline(always)]
            fn shr(self, b: Self) -> Self {
                let s = b as $u;
                if (s as u64) < <$t>::BITS as u64 {
                    self >> (s as u32)
                } else {
                    #[allow(clippy::redundant_closure_call)]
                    ($shr_big)(self)
                }
            }
            #[inline(always)]
            fn div(self, b: Self) -> Result<Self, TrapKind> {
                if b == 0 {
                    Err(TrapKind::DivideByZero)
                } else {
                    self.checked_div(b).ok_or(TrapKind::IntegerOverflow)
                }
            }
            #[inline(always)]
            fn rem(self, b: Self) -> Result<Self, TrapKind> {
                if b == 0 {
                    Err(TrapKind::DivideByZero)
                } else {
                    self.checked_rem(b).ok_or(TrapKind::IntegerOverflow)
                }
            }
        }
    };
}

macro_rules! signed {
    ($($t:ty, $u:ty;)*) => {$(
        impl Num for $t {
            int_common!($t, $u);
            #[inline(always)]
            fn abs(self) -> Self {
                self.wrapping_abs()
            }
        }
        // Arithmetic shift by >= width: all copies of the sign bit.
        int_ops!($t, $u, |x: $t| x >> (<$t>::BITS - 1));
    )*};
}

macro_rules! unsigned {
    ($($t:ty;)*) => {$(
        impl Num for $t {
            int_common!($t, $t);
            #[inline(always)]
            fn abs(self) -> Self {
                self
            }
        }
        int_ops!($t, $t, |_x: $t| 0);
    )*};
}

signed!(i8, u8; i16, u16; i32, u32; i64, u64;);
unsigned!(u8; u16; u32; u64;);

macro_rules! float {
    ($($t:ty;)*) => {$(
        impl Num for $t {
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                self + b
            }
            #[inline(always)]
            fn sub(self, b: Self) -> Self {
                self - b
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                self * b
            }
            /// IEEE 754-2019 `minimum`: NaN if either input is NaN; `-0.0 < +0.0`.
            #[inline(always)]
            fn min(self, b: Self) -> Self {
                if self < b {
                    self
                } else if b < self {
                    b
                } else if self == b {
                    // Equal: identical, or zeros of different signs (then -0.0).
                    <$t>::from_bits(self.to_bits() | b.to_bits())
                } else {
                    self + b // NaN
                }
            }
            /// IEEE 754-2019 `maximum`: NaN if either input is NaN; `-0.0 < +0.0`.
            #[inline(always)]
            fn max(self, b: Self) -> Self {
                if self > b {
                    self
                } else if b > self {
                    b
                } else if self == b {
                    <$t>::from_bits(self.to_bits() & b.to_bits())
                } else {
                    self + b // NaN
                }
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn neg(self) -> Self {
                -self
            }
            #[inline(always)]
            fn fma(self, b: Self, c: Self) -> Self {
                self.mul_add(b, c)
            }
        }
        impl Float for $t {
            #[inline(always)]
            fn div(self, b: Self) -> Self {
                self / b
            }
        }
    )*};
}
float!(f32; f64;);

/// `self as O`, Rust `as` semantics (the ISA's `cvt`).
pub(crate) trait CastTo<O> {
    fn cast(self) -> O;
}

macro_rules! cast_impls {
    ($($f:ty),*) => { cast_impls!(@outer [$($f),*] [$($f),*]); };
    (@outer [$($f:ty),*] $tos:tt) => { $( cast_impls!(@inner $f $tos); )* };
    (@inner $f:ty [$($t:ty),*]) => {$(
        impl CastTo<$t> for $f {
            #[inline(always)]
            fn cast(self) -> $t {
                self as $t
            }
        }
    )*};
}
cast_impls!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

// ---------------------------------------------------------------------------------------
// Operations as types
// ---------------------------------------------------------------------------------------

/// A one-operand operation from `I` to `O`.
pub(crate) trait K1: 'static {
    type I: Lane;
    type O: Lane;
    fn f(a: Self::I) -> Self::O;
}

/// A two-operand operation.
pub(crate) trait K2: 'static {
    type T: Lane;
    fn f(a: Self::T, b: Self::T) -> Self::T;
}

/// A two-operand operation that may trap.
pub(crate) trait K2Try: 'static {
    type T: Lane;
    fn f(a: Self::T, b: Self::T) -> Result<Self::T, TrapKind>;
}

/// A comparison.
pub(crate) trait KCmp: 'static {
    type T: Lane;
    fn f(a: Self::T, b: Self::T) -> bool;
}

/// A type, as a parameter of the type-generic entries (`sel`, `fma`).
pub(crate) trait KTy: 'static {
    type T: Lane;
}

pub(crate) struct Of<T>(PhantomData<T>);
impl<T: Lane> KTy for Of<T> {
    type T = T;
}

macro_rules! k1 {
    ($($name:ident<$bound:ident>: |$a:ident| $e:expr;)*) => {$(
        pub(crate) struct $name<T>(PhantomData<T>);
        impl<T: $bound> K1 for $name<T> {
            type I = T;
            type O = T;
            #[inline(always)]
            fn f($a: T) -> T {
                $e
            }
        }
    )*};
}

k1! {
    Id<Lane>: |a| a;
    Abs<Num>: |a| a.abs();
    Neg<Num>: |a| a.neg();
    Not<Int>: |a| a.not();
    Exp<Float>: |a| a.exp();
    Log<Float>: |a| a.log();
    Log2<Float>: |a| a.log2();
    Sqrt<Float>: |a| a.sqrt();
    Rsqrt<Float>: |a| a.rsqrt();
    Sin<Float>: |a| a.sin();
    Cos<Float>: |a| a.cos();
    Tanh<Float>: |a| a.tanh();
    Sigmoid<Float>: |a| a.sigmoid();
}

pub(crate) struct Cast<I, O>(PhantomData<(I, O)>);
impl<I: Lane + CastTo<O>, O: Lane> K1 for Cast<I, O> {
    type I = I;
    type O = O;
    #[inline(always)]
    fn f(a: I) -> O {
        a.cast()
    }
}

macro_rules! k2 {
    ($($name:ident<$bound:ident>: |$a:ident, $b:ident| $e:expr;)*) => {$(
        pub(crate) struct $name<T>(PhantomData<T>);
        impl<T: $bound> K2 for $name<T> {
            type T = T;
            #[inline(always)]
            fn f($a: T, $b: T) -> T {
                $e
            }
        }
    )*};
}

k2! {
    Add<Num>: |a, b| a.add(b);
    Sub<Num>: |a, b| a.sub(b);
    Mul<Num>: |a, b| a.mul(b);
    Min<Num>: |a, b| a.min(b);
    Max<Num>: |a, b| a.max(b);
    FDiv<Float>: |a, b| a.div(b);
    And<Int>: |a, b| a.and(b);
    Or<Int>: |a, b| a.or(b);
    Xor<Int>: |a, b| a.xor(b);
    Shl<Int>: |a, b| a.shl(b);
    Shr<Int>: |a, b| a.shr(b);
}

pub(crate) struct IDiv<T>(PhantomData<T>);
impl<T: Int> K2Try for IDiv<T> {
    type T = T;
    #[inline(always)]
    fn f(a: T, b: T) -> Result<T, TrapKind> {
        a.div(b)
    }
}

pub(crate) struct IRem<T>(PhantomData<T>);
impl<T: Int> K2Try for IRem<T> {
    type T = T;
    #[inline(always)]
    fn f(a: T, b: T) -> Result<T, TrapKind> {
        a.rem(b)
    }
}

macro_rules! kcmp {
    ($($name:ident: |$a:ident, $b:ident| $e:expr;)*) => {$(
        pub(crate) struct $name<T>(PhantomData<T>);
        impl<T: Lane> KCmp for $name<T> {
            type T = T;
            #[inline(always)]
            #[allow(clippy::float_cmp)]
            fn f($a: T, $b: T) -> bool {
                $e
            }
        }
    )*};
}

// `PartialOrd` gives exactly the ISA's comparisons: signed or unsigned by type; for floats
// `eq lt le gt ge` are ordered (false with a NaN) and `ne` unordered; -0.0 == +0.0.
kcmp! {
    CmpEq: |a, b| a == b;
    CmpNe: |a, b| a != b;
    CmpLt: |a, b| a < b;
    CmpLe: |a, b| a <= b;
    CmpGt: |a, b| a > b;
    CmpGe: |a, b| a >= b;
}

// ---------------------------------------------------------------------------------------
// Lane loops
// ---------------------------------------------------------------------------------------

#[inline(always)]
fn loop1<K: K1, A: Get<K::I>>(dlo: &mut [u32], dhi: &mut [u32], a: A) {
    let n = dlo.len();
    let dhi = &mut dhi[..n];
    a.check(n);
    for i in 0..n {
        let v = K::f(a.get(i, dlo, dhi));
        dlo[i] = v.lo();
        if <K::O as Lane>::WIDE {
            dhi[i] = v.hi();
        }
    }
}

#[inline(always)]
fn loop2<K: K2, A: Get<K::T>, B: Get<K::T>>(dlo: &mut [u32], dhi: &mut [u32], a: A, b: B) {
    let n = dlo.len();
    let dhi = &mut dhi[..n];
    a.check(n);
    b.check(n);
    for i in 0..n {
        let v = K::f(a.get(i, dlo, dhi), b.get(i, dlo, dhi));
        dlo[i] = v.lo();
        if <K::T as Lane>::WIDE {
            dhi[i] = v.hi();
        }
    }
}

#[inline(always)]
fn loop_fma<T: Num, A: Get<T>, B: Get<T>, C: Get<T>>(
    dlo: &mut [u32],
    dhi: &mut [u32],
    a: A,
    b: B,
    c: C,
) {
    let n = dlo.len();
    let dhi = &mut dhi[..n];
    a.check(n);
    b.check(n);
    c.check(n);
    for i in 0..n {
        let v = a
            .get(i, dlo, dhi)
            .fma(b.get(i, dlo, dhi), c.get(i, dlo, dhi));
        dlo[i] = v.lo();
        if T::WIDE {
            dhi[i] = v.hi();
        }
    }
}

#[inline(always)]
fn loop_sel<T: Lane, A: Get<T>, B: Get<T>>(dlo: &mut [u32], dhi: &mut [u32], p: &[u8], a: A, b: B) {
    let n = dlo.len();
    let dhi = &mut dhi[..n];
    let p = &p[..n];
    a.check(n);
    b.check(n);
    for i in 0..n {
        let x: T = a.get(i, dlo, dhi);
        let y: T = b.get(i, dlo, dhi);
        let v = if p[i] != 0 { x } else { y };
        dlo[i] = v.lo();
        if T::WIDE {
            dhi[i] = v.hi();
        }
    }
}

#[inline(always)]
fn loop_setp<K: KCmp, A: Get<K::T>, B: Get<K::T>>(out: &mut [u8], a: A, b: B) {
    let n = out.len();
    a.check(n);
    b.check(n);
    for (i, o) in out.iter_mut().enumerate() {
        *o = K::f(a.get(i, &[], &[]), b.get(i, &[], &[])) as u8;
    }
}

// ---------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------

#[inline(always)]
fn un_impl<K: K1>(regs: &mut Regs, uni: &[u64], act: Active<'_>, d: u32, a: Opnd) {
    match act {
        Active::All => {
            let (dlo, dhi, rest) = regs.split(d);
            let aa = rest.acc::<K::I>(a, uni);
            with_acc!(aa => x; loop1::<K, _>(dlo, dhi, x));
            regs.finish_full::<K::O>(d);
        }
        Active::List(lanes) => {
            for &l in lanes {
                let l = l as usize;
                let v = K::f(regs.get::<K::I>(a, l, uni));
                regs.set::<K::O>(d, l, v);
            }
        }
    }
}

#[inline(always)]
fn bin_impl<K: K2>(
    regs: &mut Regs,
    uni: &[u64],
    act: Active<'_>,
    d: u32,
    a: Opnd,
    b: Opnd,
) -> Result<(), Fault> {
    match act {
        Active::All => {
            let (dlo, dhi, rest) = regs.split(d);
            let aa = rest.acc::<K::T>(a, uni);
            let bb = rest.acc::<K::T>(b, uni);
            with_acc!(aa => x, bb => y; loop2::<K, _, _>(dlo, dhi, x, y));
            regs.finish_full::<K::T>(d);
        }
        Active::List(lanes) => {
            for &l in lanes {
                let l = l as usize;
                let v = K::f(regs.get(a, l, uni), regs.get(b, l, uni));
                regs.set::<K::T>(d, l, v);
            }
        }
    }
    Ok(())
}

#[inline(always)]
fn bin_try_impl<K: K2Try>(
    regs: &mut Regs,
    uni: &[u64],
    act: Active<'_>,
    d: u32,
    a: Opnd,
    b: Opnd,
) -> Result<(), Fault> {
    let n = regs.n;
    let mut lane = |l: usize| -> Result<(), Fault> {
        let v = K::f(regs.get(a, l, uni), regs.get(b, l, uni)).map_err(|k| Fault::new(l, k))?;
        regs.set::<K::T>(d, l, v);
        Ok(())
    };
    // Ascending lane order: the first fault is the lowest trapping lane.
    match act {
        Active::All => (0..n).try_for_each(&mut lane),
        Active::List(lanes) => lanes.iter().try_for_each(|&l| lane(l as usize)),
    }
}

#[inline(always)]
fn fma_impl<K: KTy>(
    regs: &mut Regs,
    uni: &[u64],
    act: Active<'_>,
    d: u32,
    a: Opnd,
    b: Opnd,
    c: Opnd,
) where
    K::T: Num,
{
    match act {
        Active::All => {
            let (dlo, dhi, rest) = regs.split(d);
            let aa = rest.acc::<K::T>(a, uni);
            let bb = rest.acc::<K::T>(b, uni);
            let cc = rest.acc::<K::T>(c, uni);
            with_acc!(aa => x, bb => y, cc => z; loop_fma::<K::T, _, _, _>(dlo, dhi, x, y, z));
            regs.finish_full::<K::T>(d);
        }
        Active::List(lanes) => {
            for &l in lanes {
                let l = l as usize;
                let x: K::T = regs.get(a, l, uni);
                let v = x.fma(regs.get(b, l, uni), regs.get(c, l, uni));
                regs.set::<K::T>(d, l, v);
            }
        }
    }
}

#[inline(always)]
fn sel_impl<K: KTy>(
    regs: &mut Regs,
    p: &[u8],
    uni: &[u64],
    act: Active<'_>,
    d: u32,
    a: Opnd,
    b: Opnd,
) {
    match act {
        Active::All => {
            let (dlo, dhi, rest) = regs.split(d);
            let aa = rest.acc::<K::T>(a, uni);
            let bb = rest.acc::<K::T>(b, uni);
            with_acc!(aa => x, bb => y; loop_sel::<K::T, _, _>(dlo, dhi, p, x, y));
            regs.finish_full::<K::T>(d);
        }
        Active::List(lanes) => {
            for &l in lanes {
                let l = l as usize;
                let v: K::T = if p[l] != 0 {
                    regs.get(a, l, uni)
                } else {
                    regs.get(b, l, uni)
                };
                regs.set::<K::T>(d, l, v);
            }
        }
    }
}

#[inline(always)]
fn setp_impl<K: KCmp>(regs: &Regs, out: &mut [u8], uni: &[u64], act: Active<'_>, a: Opnd, b: Opnd) {
    match act {
        Active::All => {
            let rest = regs.all();
            let aa = rest.acc::<K::T>(a, uni);
            let bb = rest.acc::<K::T>(b, uni);
            let out = &mut out[..regs.n];
            with_acc!(aa => x, bb => y; loop_setp::<K, _, _>(out, x, y));
        }
        Active::List(lanes) => {
            for &l in lanes {
                let l = l as usize;
                out[l] = K::f(regs.get(a, l, uni), regs.get(b, l, uni)) as u8;
            }
        }
    }
}

#[inline(always)]
fn reduce_impl<K: K2>(regs: &mut Regs, uni: &[u64], act: Active<'_>, d: u32, a: Opnd) {
    // Fold in ascending lane order from the lowest active lane's value (docs/ISA.md 5.7).
    // A NaN result is the default NaN (docs/ISA.md 5.7): its payload would otherwise
    // depend on the order of the fold's steps, which the JIT's resolver does not share.
    let fold = |lanes: &mut dyn Iterator<Item = usize>| -> Option<K::T> {
        let first = lanes.next()?;
        let mut acc: K::T = regs.get(a, first, uni);
        for l in lanes {
            acc = K::f(acc, regs.get(a, l, uni));
        }
        #[allow(clippy::eq_op)] // NaN is the only value that is not equal to itself
        let nan = acc != acc;
        Some(match (nan, K::T::WIDE) {
            (false, _) => acc,
            (true, false) => K::T::from_u64(u64::from(f32::NAN.to_bits())),
            (true, true) => K::T::from_u64(f64::NAN.to_bits()),
        })
    };
    match act {
        Active::All => {
            let n = regs.n;
            if let Some(v) = fold(&mut (0..n)) {
                let (lo, hi) = regs.row_mut(d);
                lo.fill(v.lo());
                hi.fill(v.hi());
                regs.hi_zero[d as usize] = v.hi() == 0;
            }
        }
        Active::List(lanes) => {
            if let Some(v) = fold(&mut lanes.iter().map(|&l| l as usize)) {
                for &l in lanes {
                    regs.set::<K::T>(d, l as usize, v);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Multiversioned function pointers
// ---------------------------------------------------------------------------------------

/// True when this CPU can run the AVX2 + FMA versions.
pub(crate) fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$name::<K>(simd) -> fn pointer` returning the portable or the AVX2 + FMA
/// instance of `$imp::<K>`.
macro_rules! multiversion {
    ($name:ident<K: $bound:path $(, where K::T: $tb:path)?>($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $imp:ident) => {
        pub(crate) fn $name<K: $bound>(simd: bool) -> fn($($ty),*) $(-> $ret)?
        $(where K::T: $tb)?
        {
            fn portable<K: $bound>($($arg: $ty),*) $(-> $ret)? $(where K::T: $tb)? {
                $imp::<K>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2_fma<K: $bound>($($arg: $ty),*) $(-> $ret)? $(where K::T: $tb)? {
                $imp::<K>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            fn avx2<K: $bound>($($arg: $ty),*) $(-> $ret)? $(where K::T: $tb)? {
                // SAFETY: this instance is only handed out when `simd` is true, and decoding
                // passes `simd = true` only when `simd_available()` found AVX2 and FMA.
                unsafe { avx2_fma::<K>($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            if simd {
                return avx2::<K>;
            }
            let _ = simd;
            portable::<K>
        }
    };
}

multiversion!(un_entry<K: K1>(regs: &mut Regs, uni: &[u64], act: Active<'_>, d: u32, a: Opnd) = un_impl);
multiversion!(bin_entry<K: K2>(regs: &mut Regs, uni: &[u64], act: Active<'_>, d: u32, a: Opnd, b: Opnd) -> Result<(), Fault> = bin_impl);
multiversion!(bin_try_entry<K: K2Try>(regs: &mut Regs, uni: &[u64], act: Active<'_>, d: u32, a: Opnd, b: Opnd) -> Result<(), Fault> = bin_try_impl);
multiversion!(fma_entry<K: KTy, where K::T: Num>(regs: &mut Regs, uni: &[u64], act: Active<'_>, d: u32, a: Opnd, b: Opnd, c: Opnd) = fma_impl);
multiversion!(sel_entry<K: KTy>(regs: &mut Regs, p: &[u8], uni: &[u64], act: Active<'_>, d: u32, a: Opnd, b: Opnd) = sel_impl);
multiversion!(setp_entry<K: KCmp>(regs: &Regs, out: &mut [u8], uni: &[u64], act: Active<'_>, a: Opnd, b: Opnd) = setp_impl);

/// `loop rC`: for each active lane, `rC = rC > 1 ? rC - 1 : 0` (a saturating decrement);
/// returns how many lanes take the branch (those left with a non-zero counter).
pub(crate) type LoopFn = fn(&mut Regs, u32, Active<'_>) -> usize;

#[inline(always)]
fn loop_impl(regs: &mut Regs, c: u32, act: Active<'_>) -> usize {
    let narrow = regs.hi_zero[c as usize];
    let (lo, hi) = regs.row_mut(c);
    match act {
        Active::All if narrow => {
            // Counters below 2^32 stay below 2^32: only the low plane changes.
            let mut taken = 0u32;
            for x in lo.iter_mut() {
                let v = x.saturating_sub(1);
                *x = v;
                taken += (v != 0) as u32;
            }
            taken as usize
        }
        Active::All => {
            let mut taken = 0u32;
            for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
                let v = (*l as u64 | (*h as u64) << 32).saturating_sub(1);
                *l = v as u32;
                *h = (v >> 32) as u32;
                taken += (v != 0) as u32;
            }
            taken as usize
        }
        Active::List(lanes) => {
            let mut taken = 0;
            for &l in lanes {
                let l = l as usize;
                let v = (lo[l] as u64 | (hi[l] as u64) << 32).saturating_sub(1);
                lo[l] = v as u32;
                // The new value is at most the old one, so a zero high half stays zero and
                // `hi_zero` stays valid.
                hi[l] = (v >> 32) as u32;
                taken += (v != 0) as usize;
            }
            taken
        }
    }
}

/// The `loop` counter update (portable or AVX2).
pub(crate) fn loop_fn(simd: bool) -> LoopFn {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2_fma(regs: &mut Regs, c: u32, act: Active<'_>) -> usize {
            loop_impl(regs, c, act)
        }
        fn avx2(regs: &mut Regs, c: u32, act: Active<'_>) -> usize {
            // SAFETY: only handed out when `simd` is true, which decoding passes only when
            // `simd_available()` found AVX2 and FMA.
            unsafe { avx2_fma(regs, c, act) }
        }
        if simd {
            return avx2;
        }
    }
    let _ = simd;
    loop_impl
}

/// Reductions are not lane-parallel loops: one portable instance is enough.
fn reduce_entry<K: K2>() -> RedFn {
    reduce_impl::<K>
}

// ---------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------

/// Calls `$f::<T>($args)` with `T` the Rust type of `$ty`; `$int`/`$float` select which types
/// are allowed (others give `None`).
macro_rules! by_type {
    ($ty:expr, int: $fi:ident, float: $ff:ident, ($($args:expr),*)) => {
        match $ty {
            Ty::I8 => $fi::<i8>($($args),*),
            Ty::I16 => $fi::<i16>($($args),*),
            Ty::I32 => $fi::<i32>($($args),*),
            Ty::I64 => $fi::<i64>($($args),*),
            Ty::U8 => $fi::<u8>($($args),*),
            Ty::U16 => $fi::<u16>($($args),*),
            Ty::U32 => $fi::<u32>($($args),*),
            Ty::U64 => $fi::<u64>($($args),*),
            Ty::F32 => $ff::<f32>($($args),*),
            Ty::F64 => $ff::<f64>($($args),*),
        }
    };
}

/// The unsigned type of `ty`'s width: moves and selects only copy bits.
macro_rules! by_width {
    ($ty:expr, $f:ident, ($($args:expr),*)) => {
        match $ty.size() {
            1 => $f::<u8>($($args),*),
            2 => $f::<u16>($($args),*),
            4 => $f::<u32>($($args),*),
            _ => $f::<u64>($($args),*),
        }
    };
}

fn int_bin<T: Int>(op: BinOp, simd: bool) -> Option<BinFn> {
    Some(match op {
        BinOp::Add => bin_entry::<Add<T>>(simd),
        BinOp::Sub => bin_entry::<Sub<T>>(simd),
        BinOp::Mul => bin_entry::<Mul<T>>(simd),
        BinOp::Div => bin_try_entry::<IDiv<T>>(simd),
        BinOp::Rem => bin_try_entry::<IRem<T>>(simd),
        BinOp::Min => bin_entry::<Min<T>>(simd),
        BinOp::Max => bin_entry::<Max<T>>(simd),
        BinOp::And => bin_entry::<And<T>>(simd),
        BinOp::Or => bin_entry::<Or<T>>(simd),
        BinOp::Xor => bin_entry::<Xor<T>>(simd),
        BinOp::Shl => bin_entry::<Shl<T>>(simd),
        BinOp::Shr => bin_entry::<Shr<T>>(simd),
    })
}

fn float_bin<T: Float>(op: BinOp, simd: bool) -> Option<BinFn> {
    Some(match op {
        BinOp::Add => bin_entry::<Add<T>>(simd),
        BinOp::Sub => bin_entry::<Sub<T>>(simd),
        BinOp::Mul => bin_entry::<Mul<T>>(simd),
        BinOp::Div => bin_entry::<FDiv<T>>(simd),
        BinOp::Min => bin_entry::<Min<T>>(simd),
        BinOp::Max => bin_entry::<Max<T>>(simd),
        BinOp::Rem | BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Shl | BinOp::Shr => return None,
    })
}

/// The lane loop of `op.ty`, or `None` for an operation the type does not have.
pub(crate) fn bin_fn(op: BinOp, ty: Ty, simd: bool) -> Option<BinFn> {
    by_type!(ty, int: int_bin, float: float_bin, (op, simd))
}

fn int_un<T: Int>(op: UnOp, simd: bool) -> Option<UnFn> {
    Some(match op {
        UnOp::Abs => un_entry::<Abs<T>>(simd),
        UnOp::Neg => un_entry::<Neg<T>>(simd),
        UnOp::Not => un_entry::<Not<T>>(simd),
        _ => return None,
    })
}

fn float_un<T: Float>(op: UnOp, simd: bool) -> Option<UnFn> {
    Some(match op {
        UnOp::Abs => un_entry::<Abs<T>>(simd),
        UnOp::Neg => un_entry::<Neg<T>>(simd),
        UnOp::Not => return None,
        UnOp::Exp => un_entry::<Exp<T>>(simd),
        UnOp::Log => un_entry::<Log<T>>(simd),
        UnOp::Log2 => un_entry::<Log2<T>>(simd),
        UnOp::Sqrt => un_entry::<Sqrt<T>>(simd),
        UnOp::Rsqrt => un_entry::<Rsqrt<T>>(simd),
        UnOp::Sin => un_entry::<Sin<T>>(simd),
        UnOp::Cos => un_entry::<Cos<T>>(simd),
        UnOp::Tanh => un_entry::<Tanh<T>>(simd),
        UnOp::Sigmoid => un_entry::<Sigmoid<T>>(simd),
    })
}

/// The lane loop of `op.ty`, or `None` for an operation the type does not have.
pub(crate) fn un_fn(op: UnOp, ty: Ty, simd: bool) -> Option<UnFn> {
    by_type!(ty, int: int_un, float: float_un, (op, simd))
}

fn mov_w<T: Lane>(simd: bool) -> UnFn {
    un_entry::<Id<T>>(simd)
}

/// `mov.ty`: a copy of the low `bits(ty)` bits, zero-extended.
pub(crate) fn mov_fn(ty: Ty, simd: bool) -> UnFn {
    by_width!(ty, mov_w, (simd))
}

trait CastAll:
    Lane
    + CastTo<i8>
    + CastTo<i16>
    + CastTo<i32>
    + CastTo<i64>
    + CastTo<u8>
    + CastTo<u16>
    + CastTo<u32>
    + CastTo<u64>
    + CastTo<f32>
    + CastTo<f64>
{
}
impl<T> CastAll for T where
    T: Lane
        + CastTo<i8>
        + CastTo<i16>
        + CastTo<i32>
        + CastTo<i64>
        + CastTo<u8>
        + CastTo<u16>
        + CastTo<u32>
        + CastTo<u64>
        + CastTo<f32>
        + CastTo<f64>
{
}

fn cvt_from<I: CastAll>(to: Ty, simd: bool) -> UnFn {
    match to {
        Ty::I8 => un_entry::<Cast<I, i8>>(simd),
        Ty::I16 => un_entry::<Cast<I, i16>>(simd),
        Ty::I32 => un_entry::<Cast<I, i32>>(simd),
        Ty::I64 => un_entry::<Cast<I, i64>>(simd),
        Ty::U8 => un_entry::<Cast<I, u8>>(simd),
        Ty::U16 => un_entry::<Cast<I, u16>>(simd),
        Ty::U32 => un_entry::<Cast<I, u32>>(simd),
        Ty::U64 => un_entry::<Cast<I, u64>>(simd),
        Ty::F32 => un_entry::<Cast<I, f32>>(simd),
        Ty::F64 => un_entry::<Cast<I, f64>>(simd),
    }
}

/// `cvt.to.from`: Rust `as`.
pub(crate) fn cvt_fn(to: Ty, from: Ty, simd: bool) -> UnFn {
    if to == from {
        return mov_fn(to, simd);
    }
    by_type!(from, int: cvt_from, float: cvt_from, (to, simd))
}

fn fma_t<T: Num>(simd: bool) -> FmaFn {
    fma_entry::<Of<T>>(simd)
}

/// `fma.ty`.
pub(crate) fn fma_fn(ty: Ty, simd: bool) -> FmaFn {
    by_type!(ty, int: fma_t, float: fma_t, (simd))
}

fn sel_w<T: Lane>(simd: bool) -> SelFn {
    sel_entry::<Of<T>>(simd)
}

/// `sel.ty`.
pub(crate) fn sel_fn(ty: Ty, simd: bool) -> SelFn {
    by_width!(ty, sel_w, (simd))
}

fn setp_t<T: Lane>(cmp: Cmp, simd: bool) -> SetpFn {
    match cmp {
        Cmp::Eq => setp_entry::<CmpEq<T>>(simd),
        Cmp::Ne => setp_entry::<CmpNe<T>>(simd),
        Cmp::Lt => setp_entry::<CmpLt<T>>(simd),
        Cmp::Le => setp_entry::<CmpLe<T>>(simd),
        Cmp::Gt => setp_entry::<CmpGt<T>>(simd),
        Cmp::Ge => setp_entry::<CmpGe<T>>(simd),
    }
}

/// `setp.cmp.ty`.
pub(crate) fn setp_fn(cmp: Cmp, ty: Ty, simd: bool) -> SetpFn {
    by_type!(ty, int: setp_t, float: setp_t, (cmp, simd))
}

fn red_t<T: Num>(op: RedOp) -> RedFn {
    match op {
        RedOp::Add => reduce_entry::<Add<T>>(),
        RedOp::Min => reduce_entry::<Min<T>>(),
        RedOp::Max => reduce_entry::<Max<T>>(),
        RedOp::Mul => reduce_entry::<Mul<T>>(),
    }
}

/// `reduce.op.ty`.
pub(crate) fn reduce_fn(op: RedOp, ty: Ty) -> RedFn {
    by_type!(ty, int: red_t, float: red_t, (op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_min_max_are_ieee_minimum_maximum() {
        assert_eq!(Num::min(-0.0f32, 0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(Num::min(0.0f32, -0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(Num::max(-0.0f32, 0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(Num::max(0.0f64, -0.0).to_bits(), 0.0f64.to_bits());
        assert!(Num::min(f32::NAN, 1.0).is_nan());
        assert!(Num::min(1.0, f32::NAN).is_nan());
        assert!(Num::max(f64::NAN, 1.0).is_nan());
        assert!(Num::max(1.0, f64::NAN).is_nan());
        assert_eq!(Num::min(1.0f32, 2.0), 1.0);
        assert_eq!(Num::max(f32::NEG_INFINITY, 2.0), 2.0);
    }

    #[test]
    fn shifts() {
        assert_eq!(Int::shl(1u8, 8), 0);
        assert_eq!(Int::shr(-128i8, 9), -1);
        assert_eq!(Int::shr(-128i8, -1), -1); // -1 as u8 = 255 >= 8
        assert_eq!(Int::shr(64i8, 200u8 as i8), 0);
        assert_eq!(Int::shr(u64::MAX, 63), 1);
        assert_eq!(Int::shl(1i64, 63), i64::MIN);
    }

    #[test]
    fn div_traps() {
        assert_eq!(Int::div(i32::MIN, -1), Err(TrapKind::IntegerOverflow));
        assert_eq!(Int::rem(i8::MIN, -1), Err(TrapKind::IntegerOverflow));
        assert_eq!(Int::div(5u32, 0), Err(TrapKind::DivideByZero));
        assert_eq!(Int::rem(-7i32, 2), Ok(-1));
    }
}
