//! Reference algorithms for the ISA's transcendental operations.
//!
//! TABLE_PLACEHOLDER

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
        0.153_314_494_394_330_21,
        0.146_197_713_862_080_05,
    ];
    /// (sin(r) - r) / r^3 as a polynomial in z = r^2 <= 0.63 (|r| <= 0.79), minimax
    /// relative error 1.9e-10.
    pub const SIN_S_F32: [f32; 4] = [-0.166_666_67, 0.008_333_332, -0.000_198_400_3, 2.724_287_2e-6];
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
    // x - n*LN2_HI is exact under fma (r needs < 24 bits), the LO part adds ~2^-33 rel.
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

/// e^x. TODO doc
#[inline]
pub fn exp_f32(x: f32) -> f32 {
    // Below -104 the result rounds to 0, above 89 it overflows; clamping keeps n in
    // [-150, 128] and maps ±inf onto those results.
    let xc = x.max(-104.0).min(89.0);
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

/// e^x. TODO doc
#[inline]
pub fn exp_f64(x: f64) -> f64 {
    // Below -746 the result rounds to 0, above 710 it overflows.
    let xc = x.max(-746.0).min(710.0);
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
    let xs = if tiny { x * 18_014_398_509_481_984.0 } else { x }; // 2^54
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

/// log(1 + f) = f - hfsq + s*(hfsq + R), s = f/(2+f), R = s^2 Q(s^2), hfsq = f^2/2.
/// Returned as (f, c) with log(1 + f) = f + c; c is small (|c| <= 0.2 |log(1+f)|).
#[inline(always)]
fn log1p_parts_f32(f: f32) -> f32 {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * horner_f32(z, &LOG_Q_F32);
    let hfsq = 0.5 * f * f;
    s.mul_add(hfsq + r, -hfsq)
}

#[inline(always)]
fn log1p_parts_f64(f: f64) -> f64 {
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

/// ln x. TODO
#[inline]
pub fn log_f32(x: f32) -> f32 {
    let (k, f) = log_reduce_f32(x);
    let c = log1p_parts_f32(f);
    // k*ln2 + f + c, small terms first; the fma keeps k*LN2_HI exact.
    let lo = k.mul_add(LN2_LO_F32, c) + f;
    log_special_f32(x, k.mul_add(LN2_HI_F32, lo))
}

/// ln x. TODO
#[inline]
pub fn log_f64(x: f64) -> f64 {
    let (k, f) = log_reduce_f64(x);
    let c = log1p_parts_f64(f);
    let lo = k.mul_add(LN2_LO_F64, c) + f;
    log_special_f64(x, k.mul_add(LN2_HI_F64, lo))
}

/// log2 x. TODO
#[inline]
pub fn log2_f32(x: f32) -> f32 {
    let (k, f) = log_reduce_f32(x);
    let c = log1p_parts_f32(f);
    // log2 x = k + (f + c) * log2(e), with f*LOG2E_HI split exactly into hi + lo by fma.
    let hi = f * LOG2E_HI_F32;
    let lo = f.mul_add(LOG2E_HI_F32, -hi);
    let lo = lo + f.mul_add(LOG2E_LO_F32, c * LOG2E_HI_F32);
    // Fast two-sum k + hi: when k != 0, |k| >= 1 > |hi|; when k == 0 it is exact anyway.
    let s = k + hi;
    let err = (k - s) + hi;
    log_special_f32(x, s + (err + lo))
}

/// log2 x. TODO
#[inline]
pub fn log2_f64(x: f64) -> f64 {
    let (k, f) = log_reduce_f64(x);
    let c = log1p_parts_f64(f);
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

/// sin(|x| + quadrant_offset * pi/2) with the sign of x applied when `odd`.
#[inline(always)]
fn sin_cos_f32(x: f32, offset: u32, odd: bool) -> f32 {
    let ax = x.abs();
    // q = nearest(|x| * 2/pi); |r| = ||x| - q pi/2| <= pi/4 + tiny.
    let t = ax.mul_add(c32::FRAC_2_PI, SHIFT_F32);
    let q = t - SHIFT_F32;
    // Cody-Waite with a three-part pi/2; the first fma is exact (see module docs).
    let r = (-q).mul_add(PIO2_F32[0], ax);
    let r = (-q).mul_add(PIO2_F32[1], r);
    let r = (-q).mul_add(PIO2_F32[2], r);
    // Only reached for huge |x| where q is no longer exact: keeps the result in [-1, 1].
    let r = r.max(-1.0).min(1.0);
    let z = r * r;
    let sin_r = (r * z).mul_add(horner_f32(z, &SIN_S_F32), r);
    // cos r = w + ((1 - w) - z/2) + z^2 C(z) with w = 1 - z/2: the middle term is the
    // exact rounding error of w (fdlibm's trick).
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let cos_r = w + (z * z).mul_add(horner_f32(z, &COS_C_F32), (1.0 - w) - hz);
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
    let r = (-q).mul_add(PIO2_F64[0], ax);
    let r = (-q).mul_add(PIO2_F64[1], r);
    let r = (-q).mul_add(PIO2_F64[2], r);
    let r = r.max(-1.0).min(1.0);
    let z = r * r;
    let sin_r = (r * z).mul_add(horner_f64(z, &SIN_S_F64), r);
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let cos_r = w + (z * z).mul_add(horner_f64(z, &COS_C_F64), (1.0 - w) - hz);
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

/// sin x. TODO
#[inline]
pub fn sin_f32(x: f32) -> f32 {
    sin_cos_f32(x, 0, true)
}

/// cos x. TODO
#[inline]
pub fn cos_f32(x: f32) -> f32 {
    sin_cos_f32(x, 1, false)
}

/// sin x. TODO
#[inline]
pub fn sin_f64(x: f64) -> f64 {
    sin_cos_f64(x, 0, true)
}

/// cos x. TODO
#[inline]
pub fn cos_f64(x: f64) -> f64 {
    sin_cos_f64(x, 1, false)
}

// ---------------------------------------------------------------------------------------
// tanh, sigmoid
// ---------------------------------------------------------------------------------------

/// tanh x. TODO
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

/// tanh x. TODO
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

/// sigmoid x. TODO
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

/// sigmoid x. TODO
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

/// 1 / sqrt(x) TODO
#[inline]
pub fn rsqrt_f32(x: f32) -> f32 {
    1.0 / x.sqrt()
}

/// 1 / sqrt(x) TODO
#[inline]
pub fn rsqrt_f64(x: f64) -> f64 {
    1.0 / x.sqrt()
}
