//! CLIF emitters of the transcendental algorithms of `holovm_isa::math`.
//!
//! Each emitter issues the operation sequence of the reference function (the same constants
//! from `holovm_isa::math::consts`, the same roundings in the same order, the same bit
//! tricks), so the JIT and the interpreter agree bit for bit. Where it differs, the result
//! cannot: factors of a product swapped, `|x|` and `-|x|` as bit masks, and in sigmoid and
//! tanh steps that are no-ops on their inputs (exp's upper clamp and NaN passthrough for
//! -|x|, clearing the sign of a quotient that is >= +0); each saves vector instructions,
//! and `transcendentals_match_the_reference_across_the_bit_space` (jit/tests/ops.rs)
//! checks the results.
//!
//! The emitters are generic over the float type: `F32`/`F64` scalars or `F32X4`/`F64X2`
//! vectors (selects become `bitselect`s on lane masks).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, Type, Value};
use cranelift_frontend::FunctionBuilder;
use holovm_isa::math::consts::*;
use holovm_isa::UnOp;

use crate::ops::{bitcast, konst};

/// Emits `op` (exp, log, log2, sin, cos, tanh or sigmoid) of `x`.
pub(crate) fn transcendental(b: &mut FunctionBuilder, op: UnOp, x: Value) -> Value {
    let ft = b.func.dfg.value_type(x);
    let m = M {
        ft,
        it: ft.as_int(),
        wide: ft.lane_type() == types::F64,
    };
    match op {
        UnOp::Exp => m.exp(b, x),
        UnOp::Log => m.log(b, x, false),
        UnOp::Log2 => m.log(b, x, true),
        UnOp::Sin => m.sin_cos(b, x, 0, true),
        UnOp::Cos => m.sin_cos(b, x, 1, false),
        UnOp::Tanh => m.tanh(b, x),
        UnOp::Sigmoid => m.sigmoid(b, x),
        // Not transcendental: handled by `ops::simple_un`; keep a defined value.
        _ => x,
    }
}

/// The float type being emitted, its same-shape integer type and whether lanes are f64.
struct M {
    ft: Type,
    it: Type,
    wide: bool,
}

impl M {
    /// A float constant: `a` for f32 lanes, `d` for f64 lanes.
    fn k(&self, b: &mut FunctionBuilder, a: f32, d: f64) -> Value {
        let bits = if self.wide {
            d.to_bits()
        } else {
            a.to_bits() as u64
        };
        konst(b, self.ft, bits)
    }

    /// An integer constant of the lane width: `a` for 32-bit lanes, `d` for 64-bit lanes.
    fn ik(&self, b: &mut FunctionBuilder, a: u32, d: u64) -> Value {
        konst(b, self.it, if self.wide { d } else { a as u64 })
    }

    fn bits(&self, b: &mut FunctionBuilder, v: Value) -> Value {
        bitcast(b, self.it, v)
    }

    fn float(&self, b: &mut FunctionBuilder, v: Value) -> Value {
        bitcast(b, self.ft, v)
    }

    /// `|x|`: the sign bit cleared by an `and` with a constant mask (x86-64 lowers a vector
    /// `fabs` to three instructions that build the mask in a register first).
    fn abs(&self, b: &mut FunctionBuilder, x: Value) -> Value {
        let xb = self.bits(b, x);
        let mag = self.ik(b, 0x7fff_ffff, 0x7fff_ffff_ffff_ffff);
        let r = b.ins().band(xb, mag);
        self.float(b, r)
    }

    /// `-|x|`: the sign bit set by an `or` (one instruction and a constant, where `fabs`
    /// then `fneg` take six).
    fn neg_abs(&self, b: &mut FunctionBuilder, x: Value) -> Value {
        let xb = self.bits(b, x);
        let sign = self.ik(b, 0x8000_0000, 0x8000_0000_0000_0000);
        let r = b.ins().bor(xb, sign);
        self.float(b, r)
    }

    /// `cond ? x : y` where `cond` is a comparison result of this shape.
    fn sel(&self, b: &mut FunctionBuilder, cond: Value, x: Value, y: Value) -> Value {
        if self.ft.is_vector() {
            let t = b.func.dfg.value_type(x);
            let c = bitcast(b, t, cond);
            b.ins().bitselect(c, x, y)
        } else {
            b.ins().select(cond, x, y)
        }
    }

    /// `min(x, c)` for a clamp bound `c`: the reference uses Rust's `min`/`clamp`, which
    /// agree with x86 `minps` (`x < c ? x : c`) whenever `x` is not NaN; for NaN lanes the
    /// value is garbage that a final select replaces (see `holovm_isa::math`).
    fn pmin(&self, b: &mut FunctionBuilder, x: Value, c: Value) -> Value {
        let lt = b.ins().fcmp(FloatCC::LessThan, x, c);
        self.sel(b, lt, x, c)
    }

    /// `max(x, c)` for a clamp bound `c` (see [`M::pmin`]).
    fn pmax(&self, b: &mut FunctionBuilder, x: Value, c: Value) -> Value {
        let lt = b.ins().fcmp(FloatCC::LessThan, c, x);
        self.sel(b, lt, x, c)
    }

    /// `x.is_nan() ? x : res`.
    fn nan_passthrough(&self, b: &mut FunctionBuilder, x: Value, res: Value) -> Value {
        let nan = b.ins().fcmp(FloatCC::Unordered, x, x);
        self.sel(b, nan, x, res)
    }

    /// Horner's rule with one fma per coefficient, starting from the last.
    fn horner(&self, b: &mut FunctionBuilder, x: Value, c32: &[f32], c64: &[f64]) -> Value {
        if self.wide {
            let (last, rest) = match c64.split_last() {
                Some(v) => v,
                None => return self.k(b, 0.0, 0.0),
            };
            let mut p = konst(b, self.ft, last.to_bits());
            for c in rest.iter().rev() {
                let ci = konst(b, self.ft, c.to_bits());
                p = b.ins().fma(p, x, ci);
            }
            p
        } else {
            let (last, rest) = match c32.split_last() {
                Some(v) => v,
                None => return self.k(b, 0.0, 0.0),
            };
            let mut p = konst(b, self.ft, last.to_bits() as u64);
            for c in rest.iter().rev() {
                let ci = konst(b, self.ft, c.to_bits() as u64);
                p = b.ins().fma(p, x, ci);
            }
            p
        }
    }

    /// The exponent bias, for [`M::pow2`].
    fn bias(&self, b: &mut FunctionBuilder) -> Value {
        self.ik(b, 127, 1023)
    }

    /// 2^n from an integer n: `(n + bias) << mantissa_bits`.
    fn pow2(&self, b: &mut FunctionBuilder, n: Value, bias: Value) -> Value {
        let s = b.ins().iadd(n, bias);
        let e = b.ins().ishl_imm_s(s, if self.wide { 52 } else { 23 });
        self.float(b, e)
    }

    /// n from t = SHIFT + n, with `shift` the constant SHIFT (reused as integer bits).
    fn shifted_int(&self, b: &mut FunctionBuilder, t: Value, shift: Value) -> Value {
        let tb = self.bits(b, t);
        let sb = self.bits(b, shift);
        b.ins().isub(tb, sb)
    }

    /// `exp_reduce`: returns (t, p) and the constant SHIFT.
    ///
    /// Where a product's other factor stays live, the constant is the first factor (the
    /// same exact product): x86-64's fused multiply-add overwrites its first operand, so
    /// with the live value there it would be copied first.
    fn exp_reduce(&self, b: &mut FunctionBuilder, x: Value) -> (Value, Value, Value) {
        let log2e = self.k(b, LOG2E_HI_F32, LOG2E_HI_F64);
        let shift = self.k(b, SHIFT_F32, SHIFT_F64);
        let t = b.ins().fma(log2e, x, shift);
        let n = b.ins().fsub(t, shift);
        let nn = b.ins().fneg(n);
        let hi = self.k(b, LN2_HI_F32, LN2_HI_F64);
        let r = b.ins().fma(hi, nn, x);
        let lo = self.k(b, LN2_LO_F32, LN2_LO_F64);
        let r = b.ins().fma(nn, lo, r);
        let h = self.horner(b, r, &EXP_P_F32, &EXP_P_F64);
        let rr = b.ins().fmul(r, r);
        let p = b.ins().fma(rr, h, r);
        (t, p, shift)
    }

    fn exp(&self, b: &mut FunctionBuilder, x: Value) -> Value {
        let res = self.exp_core(b, x, false);
        self.nan_passthrough(b, x, res)
    }

    /// `exp` without its NaN passthrough (NaN lanes are garbage), for callers that replace
    /// NaN lanes themselves. `nonpos`: x <= 0 unless NaN, so the clamp from above (a no-op
    /// then) is left out.
    fn exp_core(&self, b: &mut FunctionBuilder, x: Value, nonpos: bool) -> Value {
        let lo = self.k(b, -104.0, -746.0);
        let mut xc = self.pmax(b, x, lo);
        if !nonpos {
            let hi = self.k(b, 89.0, 710.0);
            xc = self.pmin(b, xc, hi);
        }
        let (t, p, shift) = self.exp_reduce(b, xc);
        let one = self.k(b, 1.0, 1.0);
        let y = b.ins().fadd(one, p);
        let n = self.shifted_int(b, t, shift);
        let n1 = b.ins().sshr_imm_s(n, 1);
        let n2 = b.ins().isub(n, n1);
        let bias = self.bias(b);
        let p1 = self.pow2(b, n1, bias);
        let p2 = self.pow2(b, n2, bias);
        let r = b.ins().fmul(y, p1);
        b.ins().fmul(r, p2)
    }

    /// `expm1_nonneg`.
    fn expm1_nonneg(&self, b: &mut FunctionBuilder, y: Value) -> Value {
        let (t, p, shift) = self.exp_reduce(b, y);
        let n = self.shifted_int(b, t, shift);
        let bias = self.bias(b);
        let s = self.pow2(b, n, bias);
        let one = self.k(b, 1.0, 1.0);
        let sm1 = b.ins().fsub(s, one);
        b.ins().fma(s, p, sm1)
    }

    fn log(&self, b: &mut FunctionBuilder, x: Value, base2: bool) -> Value {
        // log_reduce
        let minpos = self.k(b, f32::MIN_POSITIVE, f64::MIN_POSITIVE);
        let tiny = b.ins().fcmp(FloatCC::LessThan, x, minpos);
        let scale = self.k(b, 33_554_432.0, 18_014_398_509_481_984.0);
        let scaled = b.ins().fmul(x, scale);
        let xs = self.sel(b, tiny, scaled, x);
        let xb = self.bits(b, xs);
        let off = self.ik(
            b,
            0x3f80_0000u32.wrapping_sub(0x3f35_04f3),
            0x3ff0_0000_0000_0000u64.wrapping_sub(0x3fe6_a09e_0000_0000),
        );
        let ix = b.ins().iadd(xb, off);
        let sb32 = SHIFT_F32.to_bits();
        let sb64 = SHIFT_F64.to_bits();
        let bias_tiny = self.ik(b, sb32 - 127 - 25, sb64 - 1023 - 54);
        let bias_norm = self.ik(b, sb32 - 127, sb64 - 1023);
        let bias = self.sel(b, tiny, bias_tiny, bias_norm);
        let e = b.ins().ushr_imm_s(ix, if self.wide { 52 } else { 23 });
        let kb = b.ins().iadd(e, bias);
        let kf = self.float(b, kb);
        let shift = self.k(b, SHIFT_F32, SHIFT_F64);
        let k = b.ins().fsub(kf, shift);
        let mant = self.ik(b, 0x007f_ffff, 0x000f_ffff_ffff_ffff);
        let mb = b.ins().band(ix, mant);
        let moff = self.ik(b, 0x3f35_04f3, 0x3fe6_a09e_0000_0000);
        let mb = b.ins().iadd(mb, moff);
        let m = self.float(b, mb);
        let one = self.k(b, 1.0, 1.0);
        let f = b.ins().fsub(m, one);
        // log1p_parts
        let two = self.k(b, 2.0, 2.0);
        let d = b.ins().fadd(two, f);
        let s = b.ins().fdiv(f, d);
        let z = b.ins().fmul(s, s);
        let h = self.horner(b, z, &LOG_Q_F32, &LOG_Q_F64);
        let r = b.ins().fmul(z, h);
        let half = self.k(b, 0.5, 0.5);
        let hf = b.ins().fmul(half, f);
        let hfsq = b.ins().fmul(hf, f);
        let sum = b.ins().fadd(hfsq, r);
        let nh = b.ins().fneg(hfsq);
        let c = b.ins().fma(s, sum, nh);
        let res = if base2 {
            let l2hi = self.k(b, LOG2E_HI_F32, LOG2E_HI_F64);
            let l2lo = self.k(b, LOG2E_LO_F32, LOG2E_LO_F64);
            let hi = b.ins().fmul(f, l2hi);
            let nhi = b.ins().fneg(hi);
            // Constant first factors: see `exp_reduce`.
            let lo = b.ins().fma(l2hi, f, nhi);
            let cl = b.ins().fmul(c, l2hi);
            let t = b.ins().fma(f, l2lo, cl);
            let lo = b.ins().fadd(lo, t);
            let s = b.ins().fadd(k, hi);
            let ks = b.ins().fsub(k, s);
            let err = b.ins().fadd(ks, hi);
            let el = b.ins().fadd(err, lo);
            b.ins().fadd(s, el)
        } else {
            let lnlo = self.k(b, LN2_LO_F32, LN2_LO_F64);
            let lnhi = self.k(b, LN2_HI_F32, LN2_HI_F64);
            let lo = b.ins().fma(lnlo, k, c);
            let lo = b.ins().fadd(lo, f);
            b.ins().fma(k, lnhi, lo)
        };
        // log_special
        let inf = self.k(b, f32::INFINITY, f64::INFINITY);
        let is_inf = b.ins().fcmp(FloatCC::Equal, x, inf);
        let res = self.sel(b, is_inf, x, res);
        let zero = self.k(b, 0.0, 0.0);
        let is_zero = b.ins().fcmp(FloatCC::Equal, x, zero);
        let ninf = self.k(b, f32::NEG_INFINITY, f64::NEG_INFINITY);
        let res = self.sel(b, is_zero, ninf, res);
        let neg = b.ins().fcmp(FloatCC::LessThan, x, zero);
        let nan = self.k(b, f32::NAN, f64::NAN);
        let res = self.sel(b, neg, nan, res);
        self.nan_passthrough(b, x, res)
    }

    fn sin_cos(&self, b: &mut FunctionBuilder, x: Value, offset: u64, odd: bool) -> Value {
        let ax = self.abs(b, x);
        let two_pi = self.k(b, std::f32::consts::FRAC_2_PI, std::f64::consts::FRAC_2_PI);
        let shift = self.k(b, SHIFT_F32, SHIFT_F64);
        // Constant first factors: see `exp_reduce`.
        let t = b.ins().fma(two_pi, ax, shift);
        let q = b.ins().fsub(t, shift);
        let nq = b.ins().fneg(q);
        // Cody-Waite: r + lo = |x| - q pi/2 (the tiny third part kept apart in lo).
        let p0 = self.k(b, PIO2_F32[0], PIO2_F64[0]);
        let p1 = self.k(b, PIO2_F32[1], PIO2_F64[1]);
        let p2 = self.k(b, PIO2_F32[2], PIO2_F64[2]);
        let r1 = b.ins().fma(p0, nq, ax);
        let r = b.ins().fma(p1, nq, r1);
        let lo = b.ins().fmul(nq, p2);
        let rmin = self.k(b, -1.1, -1.1);
        let rmax = self.k(b, 1.1, 1.1);
        let r = self.pmax(b, r, rmin);
        let r = self.pmin(b, r, rmax);
        let lmin = self.k(b, -1e-6, -1e-12);
        let lmax = self.k(b, 1e-6, 1e-12);
        let lo = self.pmax(b, lo, lmin);
        let lo = self.pmin(b, lo, lmax);
        let z = b.ins().fmul(r, r);
        let half = self.k(b, 0.5, 0.5);
        let hz = b.ins().fmul(half, z);
        let one = self.k(b, 1.0, 1.0);
        let w = b.ins().fsub(one, hz);
        // sin(r + lo) = r + (r z S(z) + lo w)
        let hs = self.horner(b, z, &SIN_S_F32, &SIN_S_F64);
        let rz = b.ins().fmul(r, z);
        let lw = b.ins().fmul(lo, w);
        let st = b.ins().fma(rz, hs, lw);
        let sin_r = b.ins().fadd(r, st);
        // cos(r + lo) = w + (-lo r + (z^2 C(z) + ((1 - w) - z/2)))
        let hc = self.horner(b, z, &COS_C_F32, &COS_C_F64);
        let zz = b.ins().fmul(z, z);
        let omw = b.ins().fsub(one, w);
        let tail = b.ins().fsub(omw, hz);
        let cos_c = b.ins().fma(zz, hc, tail);
        let nlo = b.ins().fneg(lo);
        let ct = b.ins().fma(nlo, r, cos_c);
        let cos_r = b.ins().fadd(w, ct);
        let tb = self.bits(b, t);
        let offv = self.ik(b, offset as u32, offset);
        let quad = b.ins().iadd(tb, offv);
        let onei = self.ik(b, 1, 1);
        let low = b.ins().band(quad, onei);
        let zeroi = self.ik(b, 0, 0);
        let even = b.ins().icmp(IntCC::Equal, low, zeroi);
        let res = self.sel(b, even, sin_r, cos_r);
        let twoi = self.ik(b, 2, 2);
        let q2 = b.ins().band(quad, twoi);
        let mut flip = b.ins().ishl_imm_s(q2, if self.wide { 62 } else { 30 });
        if odd {
            let xb = self.bits(b, x);
            let sm = self.ik(b, 0x8000_0000, 0x8000_0000_0000_0000);
            let sign = b.ins().band(xb, sm);
            flip = b.ins().iadd(flip, sign);
        }
        let rb = self.bits(b, res);
        let rb = b.ins().iadd(rb, flip);
        let res = self.float(b, rb);
        let inf = self.k(b, f32::INFINITY, f64::INFINITY);
        let is_inf = b.ins().fcmp(FloatCC::Equal, ax, inf);
        let nan = self.k(b, f32::NAN, f64::NAN);
        let res = self.sel(b, is_inf, nan, res);
        self.nan_passthrough(b, x, res)
    }

    fn tanh(&self, b: &mut FunctionBuilder, x: Value) -> Value {
        let ax = self.abs(b, x);
        let two = self.k(b, 2.0, 2.0);
        let y = b.ins().fmul(two, ax);
        let cap = self.k(b, 20.0, 40.0);
        let y = self.pmin(b, y, cap);
        let u = self.expm1_nonneg(b, y);
        let d = b.ins().fadd(u, two);
        let q = b.ins().fdiv(u, d);
        // copysign(q, x) on the bits.
        // q >= +0 wherever x is not NaN (u >= +0), so its sign bit is already clear.
        let qb = self.bits(b, q);
        let xb = self.bits(b, x);
        let sgn = self.ik(b, 0x8000_0000, 0x8000_0000_0000_0000);
        let xs = b.ins().band(xb, sgn);
        let rb = b.ins().bor(qb, xs);
        let res = self.float(b, rb);
        self.nan_passthrough(b, x, res)
    }

    fn sigmoid(&self, b: &mut FunctionBuilder, x: Value) -> Value {
        // NaN lanes are replaced at the end, so exp's own passthrough is left out.
        let nax = self.neg_abs(b, x);
        let e = self.exp_core(b, nax, true);
        let zero = self.k(b, 0.0, 0.0);
        let ge = b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, zero);
        let one = self.k(b, 1.0, 1.0);
        let num = self.sel(b, ge, one, e);
        let d = b.ins().fadd(one, e);
        let res = b.ins().fdiv(num, d);
        self.nan_passthrough(b, x, res)
    }
}
