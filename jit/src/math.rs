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

/// How many values (a vector group's parts) are emitted together, step by step: each
/// constant is then read once for all of them, where one value at a time read it again
/// for each (the constants are a third of the instructions). Four at a time ran fastest
/// (sigmoid f32 at 64K lanes: one 113 us, two 69, four 58), except for sin and cos, whose
/// larger working set spilled with four (two: 98 us, four: 112).
fn together(op: UnOp) -> usize {
    match op {
        UnOp::Sin | UnOp::Cos => 2,
        _ => 4,
    }
}

/// Whether `op` is one of the transcendentals emitted here: the float-only unary operations
/// other than the square roots.
pub(crate) fn is_transcendental(op: UnOp) -> bool {
    op.float_only() && !matches!(op, UnOp::Sqrt | UnOp::Rsqrt)
}

/// Emits `op` (exp, log, log2, sin, cos, tanh or sigmoid) of each of `xs` (values of one
/// type), [`together`] at a time.
pub(crate) fn transcendental(b: &mut FunctionBuilder, op: UnOp, xs: &[Value]) -> Vec<Value> {
    let mut out = Vec::with_capacity(xs.len());
    for x in xs.chunks(together(op)) {
        let ft = b.func.dfg.value_type(x[0]);
        let m = M {
            ft,
            it: ft.as_int(),
            wide: ft.lane_type() == types::F64,
            n: x.len(),
        };
        let x = x.to_vec();
        out.extend(match op {
            UnOp::Exp => m.exp(b, &x),
            UnOp::Log => m.log(b, &x, false),
            UnOp::Log2 => m.log(b, &x, true),
            UnOp::Sin => m.sin_cos(b, &x, 0, true),
            UnOp::Cos => m.sin_cos(b, &x, 1, false),
            UnOp::Tanh => m.tanh(b, &x),
            UnOp::Sigmoid => m.sigmoid(b, &x),
            // Not transcendental: handled by `ops::simple_un`; keep a defined value.
            _ => x,
        });
    }
    out
}

/// The values emitted together, one per part; a constant is the same value in each.
type V = Vec<Value>;

/// The float type being emitted, its same-shape integer type, whether lanes are f64, and
/// how many values are emitted together.
struct M {
    ft: Type,
    it: Type,
    wide: bool,
    n: usize,
}

/// Methods of [`M`] named after the CLIF instruction they apply to each value.
macro_rules! each {
    ($($op:ident($($a:ident),+);)*) => {$(
        fn $op(&self, b: &mut FunctionBuilder, $($a: &V),+) -> V {
            (0..self.n).map(|i| b.ins().$op($($a[i]),+)).collect()
        }
    )*};
}

impl M {
    each! {
        fadd(x, y); fsub(x, y); fmul(x, y); fdiv(x, y); fneg(x); fma(x, y, z);
        iadd(x, y); isub(x, y); band(x, y); bor(x, y);
    }

    fn fcmp(&self, b: &mut FunctionBuilder, cc: FloatCC, x: &V, y: &V) -> V {
        (0..self.n).map(|i| b.ins().fcmp(cc, x[i], y[i])).collect()
    }

    fn icmp(&self, b: &mut FunctionBuilder, cc: IntCC, x: &V, y: &V) -> V {
        (0..self.n).map(|i| b.ins().icmp(cc, x[i], y[i])).collect()
    }

    fn ishl_imm(&self, b: &mut FunctionBuilder, x: &V, s: i64) -> V {
        x.iter().map(|&x| b.ins().ishl_imm_s(x, s)).collect()
    }

    fn sshr_imm(&self, b: &mut FunctionBuilder, x: &V, s: i64) -> V {
        x.iter().map(|&x| b.ins().sshr_imm_s(x, s)).collect()
    }

    fn ushr_imm(&self, b: &mut FunctionBuilder, x: &V, s: i64) -> V {
        x.iter().map(|&x| b.ins().ushr_imm_s(x, s)).collect()
    }

    /// A float constant: `a` for f32 lanes, `d` for f64 lanes.
    fn k(&self, b: &mut FunctionBuilder, a: f32, d: f64) -> V {
        let bits = if self.wide {
            d.to_bits()
        } else {
            a.to_bits() as u64
        };
        vec![konst(b, self.ft, bits); self.n]
    }

    /// An integer constant of the lane width: `a` for 32-bit lanes, `d` for 64-bit lanes.
    fn ik(&self, b: &mut FunctionBuilder, a: u32, d: u64) -> V {
        vec![konst(b, self.it, if self.wide { d } else { a as u64 }); self.n]
    }

    fn bits(&self, b: &mut FunctionBuilder, v: &V) -> V {
        v.iter().map(|&v| bitcast(b, self.it, v)).collect()
    }

    fn float(&self, b: &mut FunctionBuilder, v: &V) -> V {
        v.iter().map(|&v| bitcast(b, self.ft, v)).collect()
    }

    /// `|x|`: the sign bit cleared by an `and` with a constant mask (x86-64 lowers a vector
    /// `fabs` to three instructions that build the mask in a register first).
    fn abs(&self, b: &mut FunctionBuilder, x: &V) -> V {
        let xb = self.bits(b, x);
        let mag = self.ik(b, 0x7fff_ffff, 0x7fff_ffff_ffff_ffff);
        let r = self.band(b, &xb, &mag);
        self.float(b, &r)
    }

    /// `-|x|`: the sign bit set by an `or` (one instruction and a constant, where `fabs`
    /// then `fneg` take six).
    fn neg_abs(&self, b: &mut FunctionBuilder, x: &V) -> V {
        let xb = self.bits(b, x);
        let sign = self.ik(b, 0x8000_0000, 0x8000_0000_0000_0000);
        let r = self.bor(b, &xb, &sign);
        self.float(b, &r)
    }

    /// `cond ? x : y` where `cond` is a comparison result of this shape.
    fn sel(&self, b: &mut FunctionBuilder, cond: &V, x: &V, y: &V) -> V {
        (0..self.n)
            .map(|i| {
                if self.ft.is_vector() {
                    let t = b.func.dfg.value_type(x[i]);
                    let c = bitcast(b, t, cond[i]);
                    b.ins().bitselect(c, x[i], y[i])
                } else {
                    b.ins().select(cond[i], x[i], y[i])
                }
            })
            .collect()
    }

    /// `min(x, c)` for a clamp bound `c`: the reference uses Rust's `min`/`clamp`, which
    /// agree with x86 `minps` (`x < c ? x : c`) whenever `x` is not NaN; for NaN lanes the
    /// value is garbage that a final select replaces (see `holovm_isa::math`).
    fn pmin(&self, b: &mut FunctionBuilder, x: &V, c: &V) -> V {
        let lt = self.fcmp(b, FloatCC::LessThan, x, c);
        self.sel(b, &lt, x, c)
    }

    /// `max(x, c)` for a clamp bound `c` (see [`M::pmin`]).
    fn pmax(&self, b: &mut FunctionBuilder, x: &V, c: &V) -> V {
        let lt = self.fcmp(b, FloatCC::LessThan, c, x);
        self.sel(b, &lt, x, c)
    }

    /// `x.is_nan() ? x : res`.
    fn nan_passthrough(&self, b: &mut FunctionBuilder, x: &V, res: &V) -> V {
        let nan = self.fcmp(b, FloatCC::Unordered, x, x);
        self.sel(b, &nan, x, res)
    }

    /// Horner's rule with one fma per coefficient, starting from the last.
    fn horner(&self, b: &mut FunctionBuilder, x: &V, c32: &[f32], c64: &[f64]) -> V {
        let coef: Vec<u64> = if self.wide {
            c64.iter().map(|c| c.to_bits()).collect()
        } else {
            c32.iter().map(|c| c.to_bits() as u64).collect()
        };
        let Some((last, rest)) = coef.split_last() else {
            return self.k(b, 0.0, 0.0);
        };
        let mut p = vec![konst(b, self.ft, *last); self.n];
        for &c in rest.iter().rev() {
            let ci = vec![konst(b, self.ft, c); self.n];
            p = self.fma(b, &p, x, &ci);
        }
        p
    }

    /// The exponent bias, for [`M::pow2`].
    fn bias(&self, b: &mut FunctionBuilder) -> V {
        self.ik(b, 127, 1023)
    }

    /// 2^n from an integer n: `(n + bias) << mantissa_bits`.
    fn pow2(&self, b: &mut FunctionBuilder, n: &V, bias: &V) -> V {
        let s = self.iadd(b, n, bias);
        let e = self.ishl_imm(b, &s, if self.wide { 52 } else { 23 });
        self.float(b, &e)
    }

    /// n from t = SHIFT + n, with `shift` the constant SHIFT (reused as integer bits).
    fn shifted_int(&self, b: &mut FunctionBuilder, t: &V, shift: &V) -> V {
        let tb = self.bits(b, t);
        let sb = self.bits(b, shift);
        self.isub(b, &tb, &sb)
    }

    /// `exp_reduce`: returns (t, p) and the constant SHIFT.
    ///
    /// Where a product's other factor stays live, the constant is the first factor (the
    /// same exact product): x86-64's fused multiply-add overwrites its first operand, so
    /// with the live value there it would be copied first.
    fn exp_reduce(&self, b: &mut FunctionBuilder, x: &V) -> (V, V, V) {
        let log2e = self.k(b, LOG2E_HI_F32, LOG2E_HI_F64);
        let shift = self.k(b, SHIFT_F32, SHIFT_F64);
        let t = self.fma(b, &log2e, x, &shift);
        let n = self.fsub(b, &t, &shift);
        let nn = self.fneg(b, &n);
        let hi = self.k(b, LN2_HI_F32, LN2_HI_F64);
        let r = self.fma(b, &hi, &nn, x);
        let lo = self.k(b, LN2_LO_F32, LN2_LO_F64);
        let r = self.fma(b, &nn, &lo, &r);
        let h = self.horner(b, &r, &EXP_P_F32, &EXP_P_F64);
        let rr = self.fmul(b, &r, &r);
        let p = self.fma(b, &rr, &h, &r);
        (t, p, shift)
    }

    fn exp(&self, b: &mut FunctionBuilder, x: &V) -> V {
        let res = self.exp_core(b, x, false);
        self.nan_passthrough(b, x, &res)
    }

    /// `exp` without its NaN passthrough (NaN lanes are garbage), for callers that replace
    /// NaN lanes themselves. `nonpos`: x <= 0 unless NaN, so the clamp from above (a no-op
    /// then) is left out.
    fn exp_core(&self, b: &mut FunctionBuilder, x: &V, nonpos: bool) -> V {
        let lo = self.k(b, -104.0, -746.0);
        let mut xc = self.pmax(b, x, &lo);
        if !nonpos {
            let hi = self.k(b, 89.0, 710.0);
            xc = self.pmin(b, &xc, &hi);
        }
        let (t, p, shift) = self.exp_reduce(b, &xc);
        let one = self.k(b, 1.0, 1.0);
        let y = self.fadd(b, &one, &p);
        let n = self.shifted_int(b, &t, &shift);
        let n1 = self.sshr_imm(b, &n, 1);
        let n2 = self.isub(b, &n, &n1);
        let bias = self.bias(b);
        let p1 = self.pow2(b, &n1, &bias);
        let p2 = self.pow2(b, &n2, &bias);
        let r = self.fmul(b, &y, &p1);
        self.fmul(b, &r, &p2)
    }

    /// `expm1_nonneg`.
    fn expm1_nonneg(&self, b: &mut FunctionBuilder, y: &V) -> V {
        let (t, p, shift) = self.exp_reduce(b, y);
        let n = self.shifted_int(b, &t, &shift);
        let bias = self.bias(b);
        let s = self.pow2(b, &n, &bias);
        let one = self.k(b, 1.0, 1.0);
        let sm1 = self.fsub(b, &s, &one);
        self.fma(b, &s, &p, &sm1)
    }

    fn log(&self, b: &mut FunctionBuilder, x: &V, base2: bool) -> V {
        // log_reduce
        let minpos = self.k(b, f32::MIN_POSITIVE, f64::MIN_POSITIVE);
        let tiny = self.fcmp(b, FloatCC::LessThan, x, &minpos);
        let scale = self.k(b, 33_554_432.0, 18_014_398_509_481_984.0);
        let scaled = self.fmul(b, x, &scale);
        let xs = self.sel(b, &tiny, &scaled, x);
        let xb = self.bits(b, &xs);
        let off = self.ik(
            b,
            0x3f80_0000u32.wrapping_sub(0x3f35_04f3),
            0x3ff0_0000_0000_0000u64.wrapping_sub(0x3fe6_a09e_0000_0000),
        );
        let ix = self.iadd(b, &xb, &off);
        let sb32 = SHIFT_F32.to_bits();
        let sb64 = SHIFT_F64.to_bits();
        let bias_tiny = self.ik(b, sb32 - 127 - 25, sb64 - 1023 - 54);
        let bias_norm = self.ik(b, sb32 - 127, sb64 - 1023);
        let bias = self.sel(b, &tiny, &bias_tiny, &bias_norm);
        let e = self.ushr_imm(b, &ix, if self.wide { 52 } else { 23 });
        let kb = self.iadd(b, &e, &bias);
        let kf = self.float(b, &kb);
        let shift = self.k(b, SHIFT_F32, SHIFT_F64);
        let k = self.fsub(b, &kf, &shift);
        let mant = self.ik(b, 0x007f_ffff, 0x000f_ffff_ffff_ffff);
        let mb = self.band(b, &ix, &mant);
        let moff = self.ik(b, 0x3f35_04f3, 0x3fe6_a09e_0000_0000);
        let mb = self.iadd(b, &mb, &moff);
        let m = self.float(b, &mb);
        let one = self.k(b, 1.0, 1.0);
        let f = self.fsub(b, &m, &one);
        // log1p_parts
        let two = self.k(b, 2.0, 2.0);
        let d = self.fadd(b, &two, &f);
        let s = self.fdiv(b, &f, &d);
        let z = self.fmul(b, &s, &s);
        let h = self.horner(b, &z, &LOG_Q_F32, &LOG_Q_F64);
        let r = self.fmul(b, &z, &h);
        let half = self.k(b, 0.5, 0.5);
        let hf = self.fmul(b, &half, &f);
        let hfsq = self.fmul(b, &hf, &f);
        let sum = self.fadd(b, &hfsq, &r);
        let nh = self.fneg(b, &hfsq);
        let c = self.fma(b, &s, &sum, &nh);
        let res = if base2 {
            let l2hi = self.k(b, LOG2E_HI_F32, LOG2E_HI_F64);
            let l2lo = self.k(b, LOG2E_LO_F32, LOG2E_LO_F64);
            let hi = self.fmul(b, &f, &l2hi);
            let nhi = self.fneg(b, &hi);
            // Constant first factors: see `exp_reduce`.
            let lo = self.fma(b, &l2hi, &f, &nhi);
            let cl = self.fmul(b, &c, &l2hi);
            let t = self.fma(b, &f, &l2lo, &cl);
            let lo = self.fadd(b, &lo, &t);
            let s = self.fadd(b, &k, &hi);
            let ks = self.fsub(b, &k, &s);
            let err = self.fadd(b, &ks, &hi);
            let el = self.fadd(b, &err, &lo);
            self.fadd(b, &s, &el)
        } else {
            let lnlo = self.k(b, LN2_LO_F32, LN2_LO_F64);
            let lnhi = self.k(b, LN2_HI_F32, LN2_HI_F64);
            let lo = self.fma(b, &lnlo, &k, &c);
            let lo = self.fadd(b, &lo, &f);
            self.fma(b, &k, &lnhi, &lo)
        };
        // log_special
        let inf = self.k(b, f32::INFINITY, f64::INFINITY);
        let is_inf = self.fcmp(b, FloatCC::Equal, x, &inf);
        let res = self.sel(b, &is_inf, x, &res);
        let zero = self.k(b, 0.0, 0.0);
        let is_zero = self.fcmp(b, FloatCC::Equal, x, &zero);
        let ninf = self.k(b, f32::NEG_INFINITY, f64::NEG_INFINITY);
        let res = self.sel(b, &is_zero, &ninf, &res);
        let neg = self.fcmp(b, FloatCC::LessThan, x, &zero);
        let nan = self.k(b, f32::NAN, f64::NAN);
        let res = self.sel(b, &neg, &nan, &res);
        self.nan_passthrough(b, x, &res)
    }

    fn sin_cos(&self, b: &mut FunctionBuilder, x: &V, offset: u64, odd: bool) -> V {
        let ax = self.abs(b, x);
        let two_pi = self.k(b, std::f32::consts::FRAC_2_PI, std::f64::consts::FRAC_2_PI);
        let shift = self.k(b, SHIFT_F32, SHIFT_F64);
        // Constant first factors: see `exp_reduce`.
        let t = self.fma(b, &two_pi, &ax, &shift);
        let q = self.fsub(b, &t, &shift);
        let nq = self.fneg(b, &q);
        // Cody-Waite: r + lo = |x| - q pi/2 (the tiny third part kept apart in lo).
        let p0 = self.k(b, PIO2_F32[0], PIO2_F64[0]);
        let p1 = self.k(b, PIO2_F32[1], PIO2_F64[1]);
        let p2 = self.k(b, PIO2_F32[2], PIO2_F64[2]);
        let r1 = self.fma(b, &p0, &nq, &ax);
        let r = self.fma(b, &p1, &nq, &r1);
        let lo = self.fmul(b, &nq, &p2);
        let rmin = self.k(b, -1.1, -1.1);
        let rmax = self.k(b, 1.1, 1.1);
        let r = self.pmax(b, &r, &rmin);
        let r = self.pmin(b, &r, &rmax);
        let lmin = self.k(b, -1e-6, -1e-12);
        let lmax = self.k(b, 1e-6, 1e-12);
        let lo = self.pmax(b, &lo, &lmin);
        let lo = self.pmin(b, &lo, &lmax);
        let z = self.fmul(b, &r, &r);
        let half = self.k(b, 0.5, 0.5);
        let hz = self.fmul(b, &half, &z);
        let one = self.k(b, 1.0, 1.0);
        let w = self.fsub(b, &one, &hz);
        // sin(r + lo) = r + (r z S(z) + lo w)
        let hs = self.horner(b, &z, &SIN_S_F32, &SIN_S_F64);
        let rz = self.fmul(b, &r, &z);
        let lw = self.fmul(b, &lo, &w);
        let st = self.fma(b, &rz, &hs, &lw);
        let sin_r = self.fadd(b, &r, &st);
        // cos(r + lo) = w + (-lo r + (z^2 C(z) + ((1 - w) - z/2)))
        let hc = self.horner(b, &z, &COS_C_F32, &COS_C_F64);
        let zz = self.fmul(b, &z, &z);
        let omw = self.fsub(b, &one, &w);
        let tail = self.fsub(b, &omw, &hz);
        let cos_c = self.fma(b, &zz, &hc, &tail);
        let nlo = self.fneg(b, &lo);
        let ct = self.fma(b, &nlo, &r, &cos_c);
        let cos_r = self.fadd(b, &w, &ct);
        let tb = self.bits(b, &t);
        let offv = self.ik(b, offset as u32, offset);
        let quad = self.iadd(b, &tb, &offv);
        let onei = self.ik(b, 1, 1);
        let low = self.band(b, &quad, &onei);
        let zeroi = self.ik(b, 0, 0);
        let even = self.icmp(b, IntCC::Equal, &low, &zeroi);
        let res = self.sel(b, &even, &sin_r, &cos_r);
        let twoi = self.ik(b, 2, 2);
        let q2 = self.band(b, &quad, &twoi);
        let mut flip = self.ishl_imm(b, &q2, if self.wide { 62 } else { 30 });
        if odd {
            let xb = self.bits(b, x);
            let sm = self.ik(b, 0x8000_0000, 0x8000_0000_0000_0000);
            let sign = self.band(b, &xb, &sm);
            flip = self.iadd(b, &flip, &sign);
        }
        let rb = self.bits(b, &res);
        let rb = self.iadd(b, &rb, &flip);
        let res = self.float(b, &rb);
        let inf = self.k(b, f32::INFINITY, f64::INFINITY);
        let is_inf = self.fcmp(b, FloatCC::Equal, &ax, &inf);
        let nan = self.k(b, f32::NAN, f64::NAN);
        let res = self.sel(b, &is_inf, &nan, &res);
        self.nan_passthrough(b, x, &res)
    }

    fn tanh(&self, b: &mut FunctionBuilder, x: &V) -> V {
        let ax = self.abs(b, x);
        let two = self.k(b, 2.0, 2.0);
        let y = self.fmul(b, &two, &ax);
        let cap = self.k(b, 20.0, 40.0);
        let y = self.pmin(b, &y, &cap);
        let u = self.expm1_nonneg(b, &y);
        let d = self.fadd(b, &u, &two);
        let q = self.fdiv(b, &u, &d);
        // copysign(q, x) on the bits.
        // q >= +0 wherever x is not NaN (u >= +0), so its sign bit is already clear.
        let qb = self.bits(b, &q);
        let xb = self.bits(b, x);
        let sgn = self.ik(b, 0x8000_0000, 0x8000_0000_0000_0000);
        let xs = self.band(b, &xb, &sgn);
        let rb = self.bor(b, &qb, &xs);
        let res = self.float(b, &rb);
        self.nan_passthrough(b, x, &res)
    }

    fn sigmoid(&self, b: &mut FunctionBuilder, x: &V) -> V {
        // NaN lanes are replaced at the end, so exp's own passthrough is left out.
        let nax = self.neg_abs(b, x);
        let e = self.exp_core(b, &nax, true);
        let zero = self.k(b, 0.0, 0.0);
        let ge = self.fcmp(b, FloatCC::GreaterThanOrEqual, x, &zero);
        let one = self.k(b, 1.0, 1.0);
        let num = self.sel(b, &ge, &one, &e);
        let d = self.fadd(b, &one, &e);
        let res = self.fdiv(b, &num, &d);
        self.nan_passthrough(b, x, &res)
    }
}
