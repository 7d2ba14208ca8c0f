//! Reference algorithms for the ISA's transcendental operations.
//!
//! The interpreter calls these functions directly; the JIT emits the same operation
//! sequence as CLIF, lane by lane on SIMD vectors, so that both tiers give bit-identical
//! results. Therefore every algorithm is branch-free and built only from operations
//! Cranelift has as vector instructions (Rust spelling -> CLIF):
//!
//! * `+ - * /` -> `fadd fsub fmul fdiv`, `-x` -> `fneg`, `x.abs()` -> `fabs`,
//!   `x.copysign(y)` -> `fcopysign`, `x.sqrt()` -> `sqrt` (all correctly rounded);
//! * `a.mul_add(b, c)` -> `fma` (a*b + c with a single rounding; never split it);
//! * `x.clamp(C, D)`, `x.min(C)` with constant bounds -> `fmax`/`fmin` (or compare +
//!   select);
//! * `if cond { a } else { b }` where both sides are plain values -> `fcmp`/`icmp` +
//!   `select`/`bitselect`; `x.is_nan()` -> `fcmp uno x, x`;
//! * `to_bits`/`from_bits` -> `bitcast`; `wrapping_add`/`wrapping_sub`/`&`/`<<` ->
//!   `iadd`/`isub`/`band`/`ishl`; `>>` on unsigned -> `ushr`, on `i32`/`i64` -> `sshr`.
//!
//! No libm calls, no table lookups, no float<->int conversions (integers are moved in and
//! out of floats with the `SHIFT` trick, see [`consts::SHIFT_F32`]) and no rounding-mode
//! changes (round to nearest even, subnormals honoured: no FTZ/DAZ). Special inputs are
//! fixed by selects at the very end; intermediate values for those lanes are garbage
//! (possibly NaN), which is why the `fmin`/`fmax` clamps may use either NaN convention.
//! NaN inputs are returned unchanged, bit for bit (except by `sqrt`/`rsqrt`, which are
//! plain IEEE operations); domain errors (`log(-1)`, `sin(inf)`) return [`f32::NAN`] /
//! [`f64::NAN`]. Polynomial coefficients and split constants are public in [`consts`] so
//! the JIT can reuse them.
//!
//! # Accuracy
//!
//! Maximum error in ulps: |computed - exact| / ulp(exact), where ulp(y) is the spacing of
//! floats in y's binade (the subnormal spacing below `MIN_POSITIVE`). Below 1 ulp the
//! result is always one of the two floats around the exact value. `f32` figures are
//! exhaustive over all 2^32 inputs (against `f64` libm, whose own error is negligible at
//! `f32` precision); `f64` figures are the maxima over 200 000 random inputs per function
//! (spread over the whole domain, with extra weight near 0, 1 and multiples of pi/2)
//! against a 40-digit reference. The unit tests re-check these bounds on samples, and the
//! ignored test `exhaustive_f32` re-runs the exhaustive `f32` check (`--release`).
//!
//! | function | f32 | f64 | domain of the bound |
//! |----------|-----|-----|---------------------|
//! | [`exp_f32`], [`exp_f64`] | 0.99 | 0.96 | all x, subnormal results included |
//! | [`log_f32`], [`log_f64`] | 0.86 | 0.86 | all x > 0, subnormal x included |
//! | [`log2_f32`], [`log2_f64`] | 1.19 | 1.06 | all x > 0, subnormal x included |
//! | [`sin_f32`], [`sin_f64`] | 1.50 | 1.44 | \|x\| <= 2^21 (f32), \|x\| <= 1e13 (f64); see below |
//! | [`cos_f32`], [`cos_f64`] | 1.50 | 1.38 | as sin |
//! | [`tanh_f32`], [`tanh_f64`] | 2.42 | 2.39 | all x |
//! | [`sigmoid_f32`], [`sigmoid_f64`] | 2.41 | 2.23 | all x (subnormal results: see fn docs) |
//! | [`rsqrt_f32`], [`rsqrt_f64`] | 1.50 | 1.45 | all x |
//! | [`sqrt_f32`], [`sqrt_f64`] | 0.5 | 0.5 | all x (correctly rounded) |
//!
//! Large arguments of sin/cos: q = nearest(|x| 2/pi) and the three-part Cody-Waite
//! reduction stay exact enough far beyond the guaranteed ranges, but once the product
//! |x| 2/pi is off by a noticeable fraction of 1, r leaves [-pi/4, pi/4] and the
//! polynomials are used outside their fitted interval. `f32`: <= 7.01 ulp for
//! |x| < 2^22 pi/2 ~ 6.59e6 (exhaustive). `f64`: <= 4.41 ulp for |x| <= 1e15 (sampled),
//! growing to hundreds of ulps towards 2^51 pi/2 ~ 3.5e15. Beyond 6.59e6 (`f32`) /
//! 3.5e15 (`f64`) q no longer fits the SHIFT trick and the result is an unspecified
//! value in [-1, 1] (so the absolute error is at most 2); no Payne-Hanek reduction,
//! since that needs a table of 2/pi bits.

use std::f32::consts as c32;
use std::f64::consts as c64;

/// Constants and polynomial coefficients used by the algorithms in this module, public so
/// that the JIT emits exactly the same values. Polynomials are coefficient lists in
/// ascending order (`c[0]` is the constant term), evaluated by Horner's rule with one fused
/// multiply-add per step, starting from the last coefficient.
pub mod consts {
    /// 1.5 * 2^23. `y + SHIFT_F32` rounds `y` (|y| < 2^22) to an integer n, ties to even,
    /// and leaves n in the low mantissa bits: `bits(y + SHIFT) - bits(SHIFT) == n`.
    pub const SHIFT_F32: f32 = 12_582_912.0;
    /// 1.5 * 2^52, the `f64` counterpart of [`SHIFT_F32`] (|y| < 2^51).
    pub const SHIFT_F64: f64 = 6_755_399_441_055_744.0;

    /// ln 2 = LN2_HI + LN2_LO (+ O(2^-55)); LN2_HI is ln 2 rounded to nearest.
    pub const LN2_HI_F32: f32 = std::f32::consts::LN_2;
    /// See [`LN2_HI_F32`].
    pub const LN2_LO_F32: f32 = -1.904_654_2e-9;
    /// ln 2 = LN2_HI + LN2_LO (+ O(2^-110)).
    pub const LN2_HI_F64: f64 = std::f64::consts::LN_2;
    /// See [`LN2_HI_F64`].
    pub const LN2_LO_F64: f64 = 2.319_046_813_846_299_6e-17;
    /// log2(e) = LOG2E_HI + LOG2E_LO (+ O(2^-50)).
    pub const LOG2E_HI_F32: f32 = std::f32::consts::LOG2_E;
    /// See [`LOG2E_HI_F32`].
    pub const LOG2E_LO_F32: f32 = 1.925_963e-8;
    /// log2(e) = LOG2E_HI + LOG2E_LO (+ O(2^-109)).
    pub const LOG2E_HI_F64: f64 = std::f64::consts::LOG2_E;
    /// See [`LOG2E_HI_F64`].
    pub const LOG2E_LO_F64: f64 = 2.035_527_374_093_103_3e-17;

    /// pi/2 = PIO2_1 + PIO2_2 + PIO2_3 (+ 1.1e-23), each part rounded to nearest.
    pub const PIO2_F32: [f32; 3] = [std::f32::consts::FRAC_PI_2, -4.371_139e-8, -1.715_124_5e-15];
    /// pi/2 = PIO2_1 + PIO2_2 + PIO2_3 (+ 5.6e-50), each part rounded to nearest.
    pub const PIO2_F64: [f64; 3] = [
        std::f64::consts::FRAC_PI_2,
        6.123_233_995_736_766e-17,
        -1.497_384_904_859_169_8e-33,
    ];

    /// (e^r - 1 - r) / r^2 on |r| <= 0.35, minimax relative error 2.9e-9.
    pub const EXP_P_F32: [f32; 6] = [
        0.5,
        0.166_666_67,
        0.041_666_46,
        0.008_333_362,
        0.001_393_448_7,
        0.000_198_581_27,
    ];
    /// (e^r - 1 - r) / r^2 on |r| <= 0.35, minimax relative error 3.0e-18.
    pub const EXP_P_F64: [f64; 11] = [
        0.5,
        0.166_666_666_666_666_7,
        0.041_666_666_666_666_616,
        0.008_333_333_333_325_58,
        0.001_388_888_888_892_033_6,
        0.000_198_412_698_767_541_66,
        2.480_158_724_235_149e-5,
        2.755_725_295_721_16e-6,
        2.755_735_083_511_904e-7,
        2.510_622_849_420_412_2e-8,
        2.088_962_621_016_637_5e-9,
    ];
    /// (2 atanh(s) / s - 2) / s^2 as a polynomial in z = s^2 <= 0.0295 (|s| <= 0.1716),
    /// minimax relative error 1.7e-9.
    pub const LOG_Q_F32: [f32; 4] = [0.666_666_7, 0.400_001_23, 0.285_507_08, 0.233_334_42];
    /// As [`LOG_Q_F32`], minimax relative error 4.6e-16.
    pub const LOG_Q_F64: [f64; 7] = [
        0.666_666_666_666_667,
        0.399_999_999_998_978_56,
        0.285_714_286_267_025_2,
        0.222_222_110_186_489_74,
        0.181_828_974_381_133_57,
        0.153_314_493_943_302_1,
        0.146_197_713_862_080_05,
    ];
    /// (sin(r) - r) / r^3 as a polynomial in z = r^2 <= 0.63 (|r| <= 0.79), minimax
    /// relative error 1.9e-10.
    pub const SIN_S_F32: [f32; 4] = [
        -0.166_666_67,
        0.008_333_332,
        -0.000_198_400_3,
        2.724_287_2e-6,
    ];
    /// As [`SIN_S_F32`], minimax relative error 1.4e-16.
    pub const SIN_S_F64: [f64; 6] = [
        -0.166_666_666_666_666_63,
        0.008_333_333_333_330_657,
        -0.000_198_412_698_363_279_28,
        2.755_731_588_391_421_5e-6,
        -2.505_108_713_868_510_3e-8,
        1.591_496_391_572_810_2e-10,
    ];
    /// (cos(r) - 1 + r^2/2) / r^4 as a polynomial in z = r^2 <= 0.63, minimax relative
    /// error 5.2e-8 (it contributes at most z^2/24 of cos, so this is plenty).
    pub const COS_C_F32: [f32; 3] = [0.041_666_664, -0.001_388_827_6, 2.454_221_6e-5];
    /// As [`COS_C_F32`], minimax relative error 3.5e-17.
    pub const COS_C_F64: [f64; 6] = [
        0.041_666_666_666_666_664,
        -0.001_388_888_888_888_722,
        2.480_158_729_850_383_7e-5,
        -2.755_731_713_830_072e-7,
        2.087_611_890_660_457_7e-9,
        -1.138_069_059_810_761_3e-11,
    ];
}

use consts::*;

// ---------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------

/// Horner's rule, one fma per coefficient: c[n-1]*x + c[n-2], then *x + c[n-3], ...
#[inline(always)]
fn horner_f32(x: f32, c: &[f32]) -> f32 {
    let (last, rest) = c.split_last().unwrap();
    rest.iter().rev().fold(*last, |p, &ci| p.mul_add(x, ci))
}

#[inline(always)]
fn horner_f64(x: f64, c: &[f64]) -> f64 {
    let (last, rest) = c.split_last().unwrap();
    rest.iter().rev().fold(*last, |p, &ci| p.mul_add(x, ci))
}

/// 2^n for n in [-126, 127], built directly as bits: (n + 127) << 23.
#[inline(always)]
fn pow2_f32(n: u32) -> f32 {
    f32::from_bits(n.wrapping_add(127) << 23)
}

/// 2^n for n in [-1022, 1023]: (n + 1023) << 52.
#[inline(always)]
fn pow2_f64(n: u64) -> f64 {
    f64::from_bits(n.wrapping_add(1023) << 52)
}

/// Argument reduction shared by exp, expm1 (tanh) and sigmoid: x = n ln2 + r with
/// |r| <= ~0.347. Returns (t, p) with t = SHIFT + n (so n = bits(t) - bits(SHIFT) as an
/// integer, no float->int conversion needed) and p = e^r - 1.
/// Requires |x| < 2^21 (callers clamp).
#[inline(always)]
fn exp_reduce_f32(x: f32) -> (f32, f32) {
    // One rounding: t = RN(x*log2e + SHIFT), i.e. n = x*log2e rounded to nearest integer.
    let t = x.mul_add(LOG2E_HI_F32, SHIFT_F32);
    let n = t - SHIFT_F32;
    // x - n*LN2_HI is exact under fma (the result needs < 24 bits); the LO part then
    // rounds once.
    let r = (-n).mul_add(LN2_HI_F32, x);
    let r = (-n).mul_add(LN2_LO_F32, r);
    let p = (r * r).mul_add(horner_f32(r, &EXP_P_F32), r);
    (t, p)
}

#[inline(always)]
fn exp_reduce_f64(x: f64) -> (f64, f64) {
    let t = x.mul_add(LOG2E_HI_F64, SHIFT_F64);
    let n = t - SHIFT_F64;
    let r = (-n).mul_add(LN2_HI_F64, x);
    let r = (-n).mul_add(LN2_LO_F64, r);
    let p = (r * r).mul_add(horner_f64(r, &EXP_P_F64), r);
    (t, p)
}

/// Integer n from t = SHIFT + n (wrapping u32 arithmetic; the value may be negative).
#[inline(always)]
fn shifted_int_f32(t: f32) -> u32 {
    t.to_bits().wrapping_sub(SHIFT_F32.to_bits())
}

#[inline(always)]
fn shifted_int_f64(t: f64) -> u64 {
    t.to_bits().wrapping_sub(SHIFT_F64.to_bits())
}

/// e^y - 1 for y in [0, 20] (tanh's range): 2^n * (1 + p) - 1 = fma(2^n, p, 2^n - 1),
/// where 2^n - 1 is exact for n <= 24 and the fma rounds once.
#[inline(always)]
fn expm1_nonneg_f32(y: f32) -> f32 {
    let (t, p) = exp_reduce_f32(y);
    let s = pow2_f32(shifted_int_f32(t));
    s.mul_add(p, s - 1.0)
}

/// e^y - 1 for y in [0, 40].
#[inline(always)]
fn expm1_nonneg_f64(y: f64) -> f64 {
    let (t, p) = exp_reduce_f64(y);
    let s = pow2_f64(shifted_int_f64(t));
    s.mul_add(p, s - 1.0)
}

// ---------------------------------------------------------------------------------------
// exp
// ---------------------------------------------------------------------------------------

/// e^x.
///
/// Algorithm: clamp x to [-104, 89] (results there are already 0 / +inf; also maps ±inf);
/// n = nearest(x log2 e) via the SHIFT trick; r = x - n ln2 with a two-part ln2 (the
/// first fma is exact), |r| <= 0.347; e^r = 1 + (r + r^2 P(r)) with the degree-5
/// minimax [`consts::EXP_P_F32`]; scale by 2^n as 2^(n>>1) * 2^(n - (n>>1)) so that
/// results down to the subnormal range and up to overflow come out with one rounding.
///
/// Max error 0.99 ulp (exhaustive), subnormal results included (gradual underflow, not
/// flushed); x < -103.97 gives +0, x > 88.722 gives +inf, exp(-inf) = 0,
/// exp(+inf) = +inf, NaN -> the same NaN.
#[inline]
pub fn exp_f32(x: f32) -> f32 {
    // Below -104 the result rounds to 0, above 89 it overflows; clamping keeps n in
    // [-150, 128] and maps ±inf onto those results.
    let xc = x.clamp(-104.0, 89.0);
    let (t, p) = exp_reduce_f32(xc);
    let y = 1.0 + p;
    // 2^n in two factors so that subnormal results (n < -126) and n = 128 are reachable:
    // y * 2^n1 is exact, the second multiply rounds once (to a subnormal or to inf).
    let n = shifted_int_f32(t);
    let n1 = ((n as i32) >> 1) as u32;
    let n2 = n.wrapping_sub(n1);
    let res = y * pow2_f32(n1) * pow2_f32(n2);
    if x.is_nan() {
        x
    } else {
        res
    }
}

/// e^x.
///
/// Algorithm as [`exp_f32`]: clamp to [-746, 710], n = nearest(x log2 e),
/// r = x - n ln2 (two-part ln2), e^r = 1 + (r + r^2 P(r)) with the degree-10
/// [`consts::EXP_P_F64`], scale by 2^(n>>1) * 2^(n - (n>>1)).
///
/// Max error 0.96 ulp, subnormal results included; x < -745.13 gives +0,
/// x > 709.78 gives +inf; exp(-inf) = 0, exp(+inf) = +inf, NaN -> the same NaN.
#[inline]
pub fn exp_f64(x: f64) -> f64 {
    // Below -746 the result rounds to 0, above 710 it overflows.
    let xc = x.clamp(-746.0, 710.0);
    let (t, p) = exp_reduce_f64(xc);
    let y = 1.0 + p;
    let n = shifted_int_f64(t);
    let n1 = ((n as i64) >> 1) as u64;
    let n2 = n.wrapping_sub(n1);
    let res = y * pow2_f64(n1) * pow2_f64(n2);
    if x.is_nan() {
        x
    } else {
        res
    }
}

// ---------------------------------------------------------------------------------------
// log, log2
// ---------------------------------------------------------------------------------------

/// x = 2^k * (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)). Returns (k as float, f).
/// Subnormals are scaled by 2^25 first. Garbage for x <= 0, inf, nan (fixed by callers).
#[inline(always)]
fn log_reduce_f32(x: f32) -> (f32, f32) {
    let tiny = x < f32::MIN_POSITIVE;
    // Scale subnormals by 2^25.
    let xs = if tiny { x * 33_554_432.0 } else { x };
    // Offsetting the bits by 1 - sqrt(1/2) makes the exponent field round at sqrt(2).
    let ix = xs.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    // k = (ix >> 23) - 127 [- 25], turned into a float via the SHIFT trick.
    let bias = if tiny {
        SHIFT_F32.to_bits() - 127 - 25
    } else {
        SHIFT_F32.to_bits() - 127
    };
    let k = f32::from_bits((ix >> 23).wrapping_add(bias)) - SHIFT_F32;
    let m = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3);
    (k, m - 1.0)
}

#[inline(always)]
fn log_reduce_f64(x: f64) -> (f64, f64) {
    let tiny = x < f64::MIN_POSITIVE;
    // Scale subnormals by 2^54.
    let xs = if tiny {
        x * 18_014_398_509_481_984.0
    } else {
        x
    };
    let ix = xs
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - 0x3fe6_a09e_0000_0000);
    let bias = if tiny {
        SHIFT_F64.to_bits() - 1023 - 54
    } else {
        SHIFT_F64.to_bits() - 1023
    };
    let k = f64::from_bits((ix >> 52).wrapping_add(bias)) - SHIFT_F64;
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + 0x3fe6_a09e_0000_0000);
    (k, m - 1.0)
}

/// c = log(1 + f) - f for 1 + f in [sqrt(1/2), sqrt(2)), via fdlibm's
/// log(1 + f) = f - hfsq + s (hfsq + R), s = f / (2 + f), R = s^2 Q(s^2), hfsq = f^2 / 2
/// (exact identity: log(1 + f) = 2 atanh(s)). c is small: |c| <= 0.2 |log(1 + f)|, so
/// the callers add f last.
#[inline(always)]
fn log1p_tail_f32(f: f32) -> f32 {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * horner_f32(z, &LOG_Q_F32);
    let hfsq = 0.5 * f * f;
    s.mul_add(hfsq + r, -hfsq)
}

#[inline(always)]
fn log1p_tail_f64(f: f64) -> f64 {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * horner_f64(z, &LOG_Q_F64);
    let hfsq = 0.5 * f * f;
    s.mul_add(hfsq + r, -hfsq)
}

/// Special cases of log/log2: +inf -> +inf, ±0 -> -inf, x < 0 -> NaN, NaN -> x.
#[inline(always)]
fn log_special_f32(x: f32, res: f32) -> f32 {
    let res = if x == f32::INFINITY { x } else { res };
    let res = if x == 0.0 { f32::NEG_INFINITY } else { res };
    let res = if x < 0.0 { f32::NAN } else { res };
    if x.is_nan() {
        x
    } else {
        res
    }
}

#[inline(always)]
fn log_special_f64(x: f64, res: f64) -> f64 {
    let res = if x == f64::INFINITY { x } else { res };
    let res = if x == 0.0 { f64::NEG_INFINITY } else { res };
    let res = if x < 0.0 { f64::NAN } else { res };
    if x.is_nan() {
        x
    } else {
        res
    }
}

/// Natural logarithm.
///
/// Algorithm (fdlibm): subnormal x is first scaled by 2^25; x = 2^k (1 + f) with
/// 1 + f in [sqrt(1/2), sqrt(2)) by integer bit manipulation; s = f / (2 + f);
/// log(1 + f) = f - f^2/2 + s (f^2/2 + s^2 Q(s^2)) with the degree-3 minimax
/// [`consts::LOG_Q_F32`]; result = k ln2_hi + (k ln2_lo + small terms + f), the last step
/// an fma so that k ln2_hi is not rounded separately.
///
/// Max error 0.86 ulp (exhaustive). log(±0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
/// log(1) = +0, NaN -> the same NaN.
#[inline]
pub fn log_f32(x: f32) -> f32 {
    let (k, f) = log_reduce_f32(x);
    let c = log1p_tail_f32(f);
    // k*ln2 + f + c, small terms first; the fma keeps k*LN2_HI exact.
    let lo = k.mul_add(LN2_LO_F32, c) + f;
    log_special_f32(x, k.mul_add(LN2_HI_F32, lo))
}

/// Natural logarithm.
///
/// Algorithm as [`log_f32`] (subnormals scaled by 2^54, degree-6 [`consts::LOG_Q_F64`]).
///
/// Max error 0.86 ulp. log(±0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, log(1) = +0,
/// NaN -> the same NaN.
#[inline]
pub fn log_f64(x: f64) -> f64 {
    let (k, f) = log_reduce_f64(x);
    let c = log1p_tail_f64(f);
    let lo = k.mul_add(LN2_LO_F64, c) + f;
    log_special_f64(x, k.mul_add(LN2_HI_F64, lo))
}

/// Base-2 logarithm.
///
/// Algorithm: the reduction and log(1 + f) = f + c of [`log_f32`]; then
/// k + f log2(e) + c log2(e), with f log2(e) split exactly into hi + lo by an fma, the
/// low part of log2(e) added, and k + hi summed with Fast2Sum before the final addition.
///
/// Max error 1.19 ulp (exhaustive); log2(2^k) = k exactly for every power of two,
/// subnormals included. Special values as [`log_f32`].
#[inline]
pub fn log2_f32(x: f32) -> f32 {
    let (k, f) = log_reduce_f32(x);
    let c = log1p_tail_f32(f);
    // log2 x = k + (f + c) * log2(e), with f*LOG2E_HI split exactly into hi + lo by fma.
    let hi = f * LOG2E_HI_F32;
    let lo = f.mul_add(LOG2E_HI_F32, -hi);
    let lo = lo + f.mul_add(LOG2E_LO_F32, c * LOG2E_HI_F32);
    // Fast two-sum k + hi: when k != 0, |k| >= 1 > |hi|; when k == 0 it is exact anyway.
    let s = k + hi;
    let err = (k - s) + hi;
    log_special_f32(x, s + (err + lo))
}

/// Base-2 logarithm.
///
/// Algorithm as [`log2_f32`]. Max error 1.06 ulp; log2(2^k) = k exactly. Special values
/// as [`log_f64`].
#[inline]
pub fn log2_f64(x: f64) -> f64 {
    let (k, f) = log_reduce_f64(x);
    let c = log1p_tail_f64(f);
    let hi = f * LOG2E_HI_F64;
    let lo = f.mul_add(LOG2E_HI_F64, -hi);
    let lo = lo + f.mul_add(LOG2E_LO_F64, c * LOG2E_HI_F64);
    let s = k + hi;
    let err = (k - s) + hi;
    log_special_f64(x, s + (err + lo))
}

// ---------------------------------------------------------------------------------------
// sin, cos
// ---------------------------------------------------------------------------------------

/// sin(|x| + offset * pi/2), negated for negative x when `odd`: `sin_cos_f32(x, 0, true)`
/// is sin x, `sin_cos_f32(x, 1, false)` is cos x.
#[inline(always)]
fn sin_cos_f32(x: f32, offset: u32, odd: bool) -> f32 {
    let ax = x.abs();
    // q = nearest(|x| * 2/pi); |r| = ||x| - q pi/2| <= pi/4 + tiny.
    let t = ax.mul_add(c32::FRAC_2_PI, SHIFT_F32);
    let q = t - SHIFT_F32;
    // Cody-Waite with a three-part pi/2: r + lo = |x| - q pi/2. The first fma is exact
    // (|r1| < 1 needs < 24 bits), the second rounds once, and the tiny third term is kept
    // apart in lo rather than rounded into r.
    let r1 = (-q).mul_add(PIO2_F32[0], ax);
    let r = (-q).mul_add(PIO2_F32[1], r1);
    let lo = -q * PIO2_F32[2];
    // No-ops unless |x| is so large that q is inexact; then they keep everything finite
    // and the result in [-1, 1].
    let r = r.clamp(-1.1, 1.1);
    let lo = lo.clamp(-1e-6, 1e-6);
    let z = r * r;
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    // sin(r + lo) = r + r z S(z) + lo cos(r), with cos(r) ~ w.
    let sin_r = r + (r * z).mul_add(horner_f32(z, &SIN_S_F32), lo * w);
    // cos(r + lo) = w + ((1 - w) - z/2) + z^2 C(z) - lo r, with w = 1 - z/2 rounded: the
    // second term is the exact rounding error of w (fdlibm's trick).
    let cos_c = (z * z).mul_add(horner_f32(z, &COS_C_F32), (1.0 - w) - hz);
    let cos_r = w + (-lo).mul_add(r, cos_c);
    // Quadrant = low bits of t (valid while q < 2^22).
    let quad = t.to_bits().wrapping_add(offset);
    let res = if quad & 1 == 0 { sin_r } else { cos_r };
    // Negate for quadrants 2, 3 and (odd function) for negative x: adding 1 << 31 to the
    // bits flips the sign, and two flips cancel (the same as xor).
    let sign = if odd { x.to_bits() & 0x8000_0000 } else { 0 };
    let flip = ((quad & 2) << 30).wrapping_add(sign);
    let res = f32::from_bits(res.to_bits().wrapping_add(flip));
    let res = if ax == f32::INFINITY { f32::NAN } else { res };
    if x.is_nan() {
        x
    } else {
        res
    }
}

#[inline(always)]
fn sin_cos_f64(x: f64, offset: u64, odd: bool) -> f64 {
    let ax = x.abs();
    let t = ax.mul_add(c64::FRAC_2_PI, SHIFT_F64);
    let q = t - SHIFT_F64;
    let r1 = (-q).mul_add(PIO2_F64[0], ax);
    let r = (-q).mul_add(PIO2_F64[1], r1);
    let lo = -q * PIO2_F64[2];
    let r = r.clamp(-1.1, 1.1);
    let lo = lo.clamp(-1e-12, 1e-12);
    let z = r * r;
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let sin_r = r + (r * z).mul_add(horner_f64(z, &SIN_S_F64), lo * w);
    let cos_c = (z * z).mul_add(horner_f64(z, &COS_C_F64), (1.0 - w) - hz);
    let cos_r = w + (-lo).mul_add(r, cos_c);
    let quad = t.to_bits().wrapping_add(offset);
    let res = if quad & 1 == 0 { sin_r } else { cos_r };
    let sign = if odd {
        x.to_bits() & 0x8000_0000_0000_0000
    } else {
        0
    };
    let flip = ((quad & 2) << 62).wrapping_add(sign);
    let res = f64::from_bits(res.to_bits().wrapping_add(flip));
    let res = if ax == f64::INFINITY { f64::NAN } else { res };
    if x.is_nan() {
        x
    } else {
        res
    }
}

/// Sine.
///
/// Algorithm: on |x|: q = nearest(|x| 2/pi) via the SHIFT trick; Cody-Waite reduction with
/// a three-part pi/2 ([`consts::PIO2_F32`]), the first fma exact, the third part kept as a
/// separate tail: r + lo = |x| - q pi/2, |r| <= pi/4 + tiny; sin(r + lo) ~
/// r + (r z S(z) + lo (1 - z/2)) and cos(r + lo) ~ (1 - z/2) + exact rounding error of
/// that + z^2 C(z) - lo r, z = r^2 (degree-3 [`consts::SIN_S_F32`], degree-2
/// [`consts::COS_C_F32`]); q mod 4 picks the polynomial and sign; the sign of x is applied
/// last (sin is odd, so sin(-0) = -0).
///
/// Max error 1.50 ulp for |x| <= 2^21 (exhaustive; the ISA's guarantee is 2 ulp for
/// |x| <= 8192), 7.01 ulp for |x| < 2^22 pi/2 ~ 6.59e6; beyond that an unspecified
/// value in [-1, 1]. sin(±inf) = NaN, NaN -> the same NaN.
#[inline]
pub fn sin_f32(x: f32) -> f32 {
    sin_cos_f32(x, 0, true)
}

/// Cosine.
///
/// Algorithm: that of [`sin_f32`] with the quadrant advanced by one (cos x = sin(x + pi/2)
/// computed exactly as a quadrant shift) and no sign of x (cos is even).
///
/// Max error 1.50 ulp for |x| <= 2^21 (exhaustive), 7.01 ulp for |x| < 6.59e6;
/// beyond that an unspecified value in [-1, 1]. cos(±inf) = NaN, NaN -> the same NaN.
#[inline]
pub fn cos_f32(x: f32) -> f32 {
    sin_cos_f32(x, 1, false)
}

/// Sine.
///
/// Algorithm as [`sin_f32`], with [`consts::PIO2_F64`] and the degree-5
/// [`consts::SIN_S_F64`] / [`consts::COS_C_F64`].
///
/// Max error 1.44 ulp for |x| <= 1e13 (sampled; the ISA's guarantee is 2 ulp for
/// |x| <= 1e6), 4.41 ulp for |x| <= 1e15 (sampled), growing towards 2^51 pi/2 ~ 3.5e15
/// and an unspecified value in [-1, 1] beyond. sin(±inf) = NaN, NaN -> the same NaN.
#[inline]
pub fn sin_f64(x: f64) -> f64 {
    sin_cos_f64(x, 0, true)
}

/// Cosine.
///
/// Algorithm as [`cos_f32`] / [`sin_f64`]. Max error 1.38 ulp for |x| <= 1e13, 4.41 ulp
/// for |x| <= 1e15 (sampled), an unspecified value in [-1, 1] beyond 3.5e15.
/// cos(±inf) = NaN, NaN -> the same NaN.
#[inline]
pub fn cos_f64(x: f64) -> f64 {
    sin_cos_f64(x, 1, false)
}

// ---------------------------------------------------------------------------------------
// tanh, sigmoid
// ---------------------------------------------------------------------------------------

/// Hyperbolic tangent.
///
/// Algorithm: u = e^(2|x|) - 1 (expm1 from the [`exp_f32`] reduction:
/// fma(2^n, e^r - 1, 2^n - 1), no cancellation near 0), tanh |x| = u / (u + 2), sign of x
/// copied on. 2|x| is clamped to 20, where u + 2 == u and the result is exactly 1, so
/// large |x| saturates to ±1 without overflow.
///
/// Max error 2.42 ulp (exhaustive). tanh(±inf) = ±1, tanh(±0) = ±0, tiny x -> x,
/// NaN -> the same NaN.
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    // tanh|x| = u / (u + 2), u = e^(2|x|) - 1. At 2|x| = 20, u + 2 == u: exactly 1.
    let y = (2.0 * x.abs()).min(20.0);
    let u = expm1_nonneg_f32(y);
    let res = (u / (u + 2.0)).copysign(x);
    if x.is_nan() {
        x
    } else {
        res
    }
}

/// Hyperbolic tangent.
///
/// Algorithm as [`tanh_f32`], 2|x| clamped to 40. Max error 2.39 ulp.
/// tanh(±inf) = ±1, tanh(±0) = ±0, NaN -> the same NaN.
#[inline]
pub fn tanh_f64(x: f64) -> f64 {
    let y = (2.0 * x.abs()).min(40.0);
    let u = expm1_nonneg_f64(y);
    let res = (u / (u + 2.0)).copysign(x);
    if x.is_nan() {
        x
    } else {
        res
    }
}

/// Logistic sigmoid 1 / (1 + e^-x).
///
/// Algorithm: e = [`exp_f32`](-|x|) (in (0, 1], so it never overflows); x >= 0:
/// 1 / (1 + e); x < 0: e / (1 + e), which keeps full relative accuracy for tiny results.
///
/// Max error 2.41 ulp (exhaustive) wherever the result is normal (x > -87.34). Below,
/// the result is e^x rounded to a subnormal (max error 0.76 ulp of the subnormal
/// spacing 2^-149) and it is +0 for x < -103.97. sigmoid(-inf) = 0, sigmoid(+inf) = 1,
/// sigmoid(±0) = 0.5, NaN -> the same NaN.
#[inline]
pub fn sigmoid_f32(x: f32) -> f32 {
    // e = e^-|x| <= 1 never overflows: x >= 0: 1/(1+e); x < 0: e/(1+e).
    let e = exp_f32(-x.abs());
    let num = if x >= 0.0 { 1.0 } else { e };
    let res = num / (1.0 + e);
    if x.is_nan() {
        x
    } else {
        res
    }
}

/// Logistic sigmoid 1 / (1 + e^-x).
///
/// Algorithm as [`sigmoid_f32`]. Max error 2.23 ulp wherever the result is normal
/// (x > -708.4); below, e^x rounded to a subnormal, +0 for x < -745.13.
/// sigmoid(-inf) = 0, sigmoid(+inf) = 1, NaN -> the same NaN.
#[inline]
pub fn sigmoid_f64(x: f64) -> f64 {
    let e = exp_f64(-x.abs());
    let num = if x >= 0.0 { 1.0 } else { e };
    let res = num / (1.0 + e);
    if x.is_nan() {
        x
    } else {
        res
    }
}

// ---------------------------------------------------------------------------------------
// sqrt, rsqrt
// ---------------------------------------------------------------------------------------

/// Square root, correctly rounded (IEEE `sqrt`).
#[inline]
pub fn sqrt_f32(x: f32) -> f32 {
    x.sqrt()
}

/// Square root, correctly rounded (IEEE `sqrt`).
#[inline]
pub fn sqrt_f64(x: f64) -> f64 {
    x.sqrt()
}

/// Reciprocal square root, defined as `1.0 / x.sqrt()`: two correctly rounded operations.
///
/// Max error 1.50 ulp (exhaustive). rsqrt(+0) = +inf, rsqrt(-0) = -inf, rsqrt(+inf) = +0,
/// rsqrt(x < 0) = NaN.
#[inline]
pub fn rsqrt_f32(x: f32) -> f32 {
    1.0 / x.sqrt()
}

/// Reciprocal square root, defined as `1.0 / x.sqrt()`: two correctly rounded operations.
///
/// Max error 1.45 ulp. rsqrt(+0) = +inf, rsqrt(-0) = -inf, rsqrt(+inf) = +0,
/// rsqrt(x < 0) = NaN.
#[inline]
pub fn rsqrt_f64(x: f64) -> f64 {
    1.0 / x.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64: deterministic samples without extra dependencies.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// Uniform in [lo, hi).
        fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
        }
        /// Log-uniform magnitude in [lo, hi) with a random sign.
        fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
            let m = self.uniform(lo.ln(), hi.ln()).exp();
            if self.next() & 1 == 0 {
                m
            } else {
                -m
            }
        }
    }

    /// 2^k as an f64, subnormal k included.
    fn pow2(k: i32) -> f64 {
        if k >= -1022 {
            f64::from_bits(((k + 1023) as u64) << 52)
        } else {
            f64::from_bits(1 << (k + 1074))
        }
    }

    /// |got - want| in ulps of `want`'s binade at precision `p` (24 or 53) with minimum
    /// normal exponent `emin`; overflowed or non-finite results must match exactly.
    fn ulps(got: f64, want: f64, p: i32, emin: i32, max: f64) -> f64 {
        if got.is_nan() || want.is_nan() {
            return if got.is_nan() && want.is_nan() {
                0.0
            } else {
                f64::INFINITY
            };
        }
        if got.is_infinite() || want.abs() > max {
            // Only the correctly rounded overflow (inf, or max when it rounds down) passes.
            let ok = if got.is_infinite() {
                want.abs() >= max && got.signum() == want.signum()
            } else {
                got.abs() == max && want.abs() - max < pow2(1 - emin - p)
            };
            return if ok { 0.0 } else { f64::INFINITY };
        }
        let e = ((want.abs().to_bits() >> 52) as i32 - 1023).max(emin);
        (got - want).abs() / pow2(e - p + 1)
    }

    fn ulps_f32(got: f32, want: f64) -> f64 {
        ulps(got as f64, want, 24, -126, f32::MAX as f64)
    }

    fn ulps_f64(got: f64, want: f64) -> f64 {
        ulps(got, want, 53, -1022, f64::MAX)
    }

    /// Bit patterns spread evenly over the whole encoding space (every exponent, both
    /// signs, NaNs and infinities) with random mantissa bits, plus `extra` samples.
    fn sweep_f32(rng: &mut Rng, extra: impl Fn(&mut Rng) -> f64, n_extra: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..1u32 << 15)
            .map(|i| f32::from_bits(i << 17 | (rng.next() >> 47) as u32))
            .collect();
        v.extend((0..n_extra).map(|_| extra(rng) as f32));
        v
    }

    fn sweep_f64(rng: &mut Rng, extra: impl Fn(&mut Rng) -> f64, n_extra: usize) -> Vec<f64> {
        let mut v: Vec<f64> = (0..1u64 << 15)
            .map(|i| f64::from_bits(i << 49 | rng.next() >> 15))
            .collect();
        v.extend((0..n_extra).map(|_| extra(rng)));
        v
    }

    /// Asserts the max ulp error of `f` against `reference` over `xs` is <= `bound`.
    fn check_f32(name: &str, f: fn(f32) -> f32, reference: fn(f64) -> f64, xs: &[f32], bound: f64) {
        let (err, x) = xs
            .iter()
            .map(|&x| (ulps_f32(f(x), reference(x as f64)), x))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
        assert!(
            err <= bound,
            "{name}({x:e}) = {:e}, want {:e}: {err} ulp > {bound}",
            f(x),
            reference(x as f64)
        );
    }

    /// As [`check_f32`]; `bound` includes slack for the libm reference's own error.
    fn check_f64(name: &str, f: fn(f64) -> f64, reference: fn(f64) -> f64, xs: &[f64], bound: f64) {
        let (err, x) = xs
            .iter()
            .map(|&x| (ulps_f64(f(x), reference(x)), x))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
        assert!(
            err <= bound,
            "{name}({x:e}) = {:e}, want {:e}: {err} ulp > {bound}",
            f(x),
            reference(x)
        );
    }

    fn sigmoid_ref(x: f64) -> f64 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    }

    // libm's f64 exp/log/log2/sin/cos are within 1 ulp; tanh and the sigmoid reference are
    // within 2. The f64 bounds below add that slack to the documented maxima.

    #[test]
    fn exp_accuracy() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let xs = sweep_f32(&mut rng, |r| r.uniform(-104.0, 89.0), 20_000);
        check_f32("exp_f32", exp_f32, f64::exp, &xs, 1.0);
        let xs = sweep_f64(&mut rng, |r| r.uniform(-746.0, 710.0), 20_000);
        check_f64("exp_f64", exp_f64, f64::exp, &xs, 2.0);
    }

    #[test]
    fn log_accuracy() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let near1 = |r: &mut Rng| 1.0 + r.log_uniform(1e-9, 0.5);
        let xs = sweep_f32(&mut rng, near1, 20_000);
        check_f32("log_f32", log_f32, f64::ln, &xs, 1.0);
        check_f32("log2_f32", log2_f32, f64::log2, &xs, 1.2);
        let xs = sweep_f64(&mut rng, near1, 20_000);
        check_f64("log_f64", log_f64, f64::ln, &xs, 2.0);
        check_f64("log2_f64", log2_f64, f64::log2, &xs, 2.1);
    }

    #[test]
    fn sin_cos_accuracy() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        // Multiples of pi/2 nudged by a few ulps are where the reduction cancels most.
        let near_pio2 = |r: &mut Rng| {
            let k = (r.uniform(0.0, 5215.0)).round();
            k * c64::FRAC_PI_2 + r.uniform(-1e-3, 1e-3)
        };
        let xs: Vec<f32> = sweep_f32(&mut rng, near_pio2, 20_000)
            .into_iter()
            .filter(|x| x.abs() <= 2_097_152.0)
            .collect();
        check_f32("sin_f32", sin_f32, f64::sin, &xs, 1.5);
        check_f32("cos_f32", cos_f32, f64::cos, &xs, 1.5);
        let xs: Vec<f64> = sweep_f64(&mut rng, |r| r.uniform(-1e6, 1e6), 10_000)
            .into_iter()
            .filter(|x| x.abs() <= 1e13)
            .collect();
        check_f64("sin_f64", sin_f64, f64::sin, &xs, 2.4);
        check_f64("cos_f64", cos_f64, f64::cos, &xs, 2.4);
    }

    #[test]
    fn sin_cos_large_arguments_stay_bounded() {
        let mut rng = Rng(0x0bad_cafe_dead_beef);
        for x in sweep_f32(&mut rng, |r| r.log_uniform(1e6, 3e38), 5_000) {
            for y in [sin_f32(x), cos_f32(x)] {
                assert!(
                    x.is_infinite() || x.is_nan() || y.abs() <= 1.0,
                    "{x:e} -> {y:e}"
                );
            }
        }
        for x in sweep_f64(&mut rng, |r| r.log_uniform(1e13, 1e308), 5_000) {
            for y in [sin_f64(x), cos_f64(x)] {
                assert!(
                    x.is_infinite() || x.is_nan() || y.abs() <= 1.0,
                    "{x:e} -> {y:e}"
                );
            }
        }
    }

    #[test]
    fn tanh_sigmoid_accuracy() {
        let mut rng = Rng(0xdead_beef_1234_5678);
        let xs = sweep_f32(&mut rng, |r| r.log_uniform(1e-6, 12.0), 20_000);
        check_f32("tanh_f32", tanh_f32, f64::tanh, &xs, 2.5);
        // Sigmoid: the bound holds where the result is normal; below, compare absolutely.
        let (normal, sub): (Vec<f32>, Vec<f32>) = xs.iter().partition(|&&x| x > -87.3);
        check_f32("sigmoid_f32", sigmoid_f32, sigmoid_ref, &normal, 2.5);
        check_f32("sigmoid_f32", sigmoid_f32, sigmoid_ref, &sub, 1.0);
        let xs = sweep_f64(&mut rng, |r| r.log_uniform(1e-6, 25.0), 20_000);
        check_f64("tanh_f64", tanh_f64, f64::tanh, &xs, 4.5);
        let normal: Vec<f64> = xs.into_iter().filter(|&x| x > -708.0).collect();
        check_f64("sigmoid_f64", sigmoid_f64, sigmoid_ref, &normal, 4.5);
    }

    #[test]
    fn sqrt_rsqrt_accuracy() {
        let mut rng = Rng(0x5555_aaaa_0123_4567);
        let xs = sweep_f32(&mut rng, |r| r.uniform(0.0, 4.0), 10_000);
        check_f32("sqrt_f32", sqrt_f32, f64::sqrt, &xs, 0.5);
        check_f32("rsqrt_f32", rsqrt_f32, |x| 1.0 / x.sqrt(), &xs, 1.5);
        let xs = sweep_f64(&mut rng, |r| r.uniform(0.0, 4.0), 10_000);
        check_f64("sqrt_f64", sqrt_f64, f64::sqrt, &xs, 0.5);
        // The reference 1/sqrt rounds twice too: compare to its exact value loosely.
        check_f64("rsqrt_f64", rsqrt_f64, |x| 1.0 / x.sqrt(), &xs, 2.0);
    }

    /// Asserts `f(x)` is bit-identical to `want` (so +0 and -0 differ).
    #[track_caller]
    fn same32(got: f32, want: f32) {
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "got {got:e} ({:#x}), want {want:e}",
            got.to_bits()
        );
    }

    #[track_caller]
    fn same64(got: f64, want: f64) {
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "got {got:e} ({:#x}), want {want:e}",
            got.to_bits()
        );
    }

    #[test]
    fn special_values_f32() {
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        for (x, want) in [
            (-inf, 0.0),
            (inf, inf),
            (0.0, 1.0),
            (-0.0, 1.0),
            (89.0, inf),
        ] {
            same32(exp_f32(x), want);
        }
        for (x, want) in [(88.73, inf), (-104.0, 0.0), (-1e30, 0.0), (1e30, inf)] {
            same32(exp_f32(x), want);
        }
        assert!(ulps_f32(exp_f32(88.72), (88.72f32 as f64).exp()) <= 1.0); // 0.997 * f32::MAX
        same32(exp_f32(-103.0), f32::from_bits(1)); // e^-103 = 1.32 * 2^-149
        for (x, want) in [
            (0.0, -inf),
            (-0.0, -inf),
            (-1.0, nan),
            (-inf, nan),
            (inf, inf),
        ] {
            same32(log_f32(x), want);
            same32(log2_f32(x), want);
        }
        same32(log_f32(1.0), 0.0);
        same32(log2_f32(1.0), 0.0);
        for k in -149..128 {
            same32(log2_f32(pow2(k) as f32), k as f32);
        }
        for x in [inf, -inf] {
            same32(sin_f32(x), nan);
            same32(cos_f32(x), nan);
        }
        same32(sin_f32(0.0), 0.0);
        same32(sin_f32(-0.0), -0.0);
        same32(cos_f32(-0.0), 1.0);
        same32(sin_f32(-1e-40), -1e-40);
        for (x, want) in [
            (inf, 1.0),
            (-inf, -1.0),
            (0.0, 0.0),
            (-0.0, -0.0),
            (-20.0, -1.0),
        ] {
            same32(tanh_f32(x), want);
        }
        same32(tanh_f32(1e-30), 1e-30);
        same32(tanh_f32(-1e-40), -1e-40);
        for (x, want) in [
            (-inf, 0.0),
            (inf, 1.0),
            (0.0, 0.5),
            (-0.0, 0.5),
            (-200.0, 0.0),
        ] {
            same32(sigmoid_f32(x), want);
        }
        same32(sigmoid_f32(100.0), 1.0);
        for (x, want) in [
            (0.0, inf),
            (-0.0, -inf),
            (inf, 0.0),
            (-1.0, nan),
            (4.0, 0.5),
        ] {
            same32(rsqrt_f32(x), want);
        }
        same32(sqrt_f32(2.0), std::f32::consts::SQRT_2);
        // NaN inputs come back bit for bit.
        let qnan = f32::from_bits(0x7fc0_1234);
        let fs: [fn(f32) -> f32; 7] = [
            exp_f32,
            log_f32,
            log2_f32,
            sin_f32,
            cos_f32,
            tanh_f32,
            sigmoid_f32,
        ];
        for f in fs {
            assert_eq!(f(qnan).to_bits(), qnan.to_bits());
            assert_eq!(f(-qnan).to_bits(), (-qnan).to_bits());
        }
    }

    #[test]
    fn special_values_f64() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        for (x, want) in [
            (-inf, 0.0),
            (inf, inf),
            (0.0, 1.0),
            (-0.0, 1.0),
            (710.0, inf),
        ] {
            same64(exp_f64(x), want);
        }
        for (x, want) in [(709.79, inf), (-746.0, 0.0), (-1e300, 0.0), (1e300, inf)] {
            same64(exp_f64(x), want);
        }
        same64(exp_f64(-745.0), f64::from_bits(1)); // e^-745 = 0.57 * 2^-1074
        for (x, want) in [
            (0.0, -inf),
            (-0.0, -inf),
            (-1.0, nan),
            (-inf, nan),
            (inf, inf),
        ] {
            same64(log_f64(x), want);
            same64(log2_f64(x), want);
        }
        same64(log_f64(1.0), 0.0);
        same64(log2_f64(1.0), 0.0);
        for k in -1074..1024 {
            same64(log2_f64(pow2(k)), k as f64);
        }
        for x in [inf, -inf] {
            same64(sin_f64(x), nan);
            same64(cos_f64(x), nan);
        }
        same64(sin_f64(-0.0), -0.0);
        same64(cos_f64(-0.0), 1.0);
        same64(sin_f64(1e-310), 1e-310);
        for (x, want) in [
            (inf, 1.0),
            (-inf, -1.0),
            (-0.0, -0.0),
            (-40.0, -1.0),
            (1e-300, 1e-300),
        ] {
            same64(tanh_f64(x), want);
        }
        for (x, want) in [
            (-inf, 0.0),
            (inf, 1.0),
            (0.0, 0.5),
            (-800.0, 0.0),
            (100.0, 1.0),
        ] {
            same64(sigmoid_f64(x), want);
        }
        for (x, want) in [
            (0.0, inf),
            (-0.0, -inf),
            (inf, 0.0),
            (-1.0, nan),
            (4.0, 0.5),
        ] {
            same64(rsqrt_f64(x), want);
        }
        let qnan = f64::from_bits(0x7ff8_0000_0000_1234);
        let fs: [fn(f64) -> f64; 7] = [
            exp_f64,
            log_f64,
            log2_f64,
            sin_f64,
            cos_f64,
            tanh_f64,
            sigmoid_f64,
        ];
        for f in fs {
            assert_eq!(f(qnan).to_bits(), qnan.to_bits());
            assert_eq!(f(-qnan).to_bits(), (-qnan).to_bits());
        }
    }

    /// Every f32 input for every f32 function, against the documented bounds. About 16
    /// minutes on 2 cores: `cargo test -p holovm-isa --release -- --ignored exhaustive_f32`.
    #[test]
    #[ignore]
    fn exhaustive_f32() {
        type Case = (&'static str, fn(f32) -> f32, fn(f64) -> f64, f64);
        let cases: [Case; 8] = [
            ("exp", exp_f32, f64::exp, 1.0),
            ("log", log_f32, f64::ln, 1.0),
            ("log2", log2_f32, f64::log2, 1.2),
            ("sin", sin_f32, f64::sin, 1.5),
            ("cos", cos_f32, f64::cos, 1.5),
            ("tanh", tanh_f32, f64::tanh, 2.5),
            ("sigmoid", sigmoid_f32, sigmoid_ref, 2.5),
            ("rsqrt", rsqrt_f32, |x| 1.0 / x.sqrt(), 1.5),
        ];
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        for (name, f, reference, bound) in cases {
            let worst = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        s.spawn(move || {
                            let (mut worst, mut at) = (0.0f64, 0.0f32);
                            let lo = (t << 32) / threads;
                            let hi = ((t + 1) << 32) / threads;
                            for bits in lo..hi {
                                let x = f32::from_bits(bits as u32);
                                let y = f(x);
                                let ax = x.abs();
                                let err = if (name == "sin" || name == "cos") && ax > 2_097_152.0 {
                                    // Past 2^21 the looser large-argument bounds apply.
                                    let e = ulps_f32(y, reference(x as f64));
                                    match ax < 6_588_397.0 {
                                        true if e <= 7.1 => 0.0,
                                        false if y.abs() <= 1.0 || !ax.is_finite() => 0.0,
                                        _ => f64::INFINITY,
                                    }
                                } else if name == "sigmoid" && x < -87.34 {
                                    // Subnormal results: bound in subnormal ulps.
                                    let e = ulps_f32(y, reference(x as f64));
                                    if e <= 1.0 {
                                        0.0
                                    } else {
                                        f64::INFINITY
                                    }
                                } else {
                                    ulps_f32(y, reference(x as f64))
                                };
                                if err > worst {
                                    (worst, at) = (err, x);
                                }
                            }
                            (worst, at)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
            });
            println!("{name}: max {:.4} ulp at {:e}", worst.0, worst.1);
            assert!(worst.0 <= bound, "{name}: {} ulp at {:e}", worst.0, worst.1);
        }
    }
}
