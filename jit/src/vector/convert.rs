//! `cvt` in vector code: the conversions the x86-64 backend has as vector instructions
//! (or that a widening, narrowing or shuffle makes one), lane by lane otherwise.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use holovm_isa::Ty;

use super::values::VV;
use crate::ops::{self, compute_lane, konst, shuffle_bytes};
use crate::translate::Tr;

impl Tr<'_, '_> {
    /// `cvt` of per-lane values: native vector conversions where the x86-64 backend has them,
    /// lane by lane otherwise.
    pub(super) fn v_cvt(&mut self, to: Ty, from: Ty, parts: Vec<Value>) -> Vec<Value> {
        use types::{F32X4, I32X4};
        if to == from {
            return parts;
        }
        let native = matches!(
            (from, to),
            (Ty::F32, Ty::I32) | (Ty::F32, Ty::U32) | (Ty::I32, Ty::F32) | (Ty::U32, Ty::F32)
        );
        let same_lanes = compute_lane(from) == compute_lane(to);
        if same_lanes && from.is_int() && to.is_int() {
            // Narrow types to and from 32-bit ones: a mask or a sign extension.
            return parts
                .into_iter()
                .map(|p| ops::cvt(&mut self.b, to, from, p))
                .collect();
        }
        let widths = (compute_lane(from).bits(), compute_lane(to).bits());
        if from.is_int() && to.is_int() && widths == (32, 64) {
            // Extended per the source's signedness (Rust `as`), which its compute form is.
            return parts
                .into_iter()
                .flat_map(|p| {
                    let b = &mut self.b;
                    match from.is_signed_int() {
                        true => [b.ins().swiden_low(p), b.ins().swiden_high(p)],
                        false => [b.ins().uwiden_low(p), b.ins().uwiden_high(p)],
                    }
                })
                .collect();
        }
        if from.is_int() && to.is_int() && widths == (64, 32) {
            // The low 32 bits of each lane, then as a 32-bit or narrow type.
            return parts
                .chunks(2)
                .map(|pair| {
                    let low = self.narrow(pair, I32X4);
                    ops::cvt(&mut self.b, to, Ty::U32, low)
                })
                .collect();
        }
        if to == Ty::F64 && from.is_int() && widths.0 == 32 {
            // As signed 32-bit integers, the form the x86-64 backend lowers to `cvtdq2pd`,
            // two lanes at a time: every value but a u32's fits; a u32 converts as
            // x - 2^31, plus 2^31 after (exact in f64).
            let unsigned = (from == Ty::U32).then(|| {
                let flip = konst(&mut self.b, I32X4, 0x8000_0000);
                let bias = ops::fconst(&mut self.b, types::F64X2, 2_147_483_648.0);
                (flip, bias)
            });
            return parts
                .into_iter()
                .flat_map(|p| {
                    let p = match unsigned {
                        Some((flip, _)) => self.b.ins().bxor(p, flip),
                        None => p,
                    };
                    let high = self.high_half(p);
                    [p, high].map(|h| {
                        let wide = self.b.ins().swiden_low(h);
                        let f = self.b.ins().fcvt_from_sint(types::F64X2, wide);
                        match unsigned {
                            Some((_, bias)) => self.b.ins().fadd(f, bias),
                            None => f,
                        }
                    })
                })
                .collect();
        }
        if (from, to) == (Ty::F32, Ty::F64) {
            return parts
                .into_iter()
                .flat_map(|p| {
                    let high = self.high_half(p);
                    [
                        self.b.ins().fvpromote_low(p),
                        self.b.ins().fvpromote_low(high),
                    ]
                })
                .collect();
        }
        if (from, to) == (Ty::F64, Ty::F32) {
            return parts
                .chunks(2)
                .map(|pair| {
                    let demoted: Vec<Value> =
                        pair.iter().map(|&p| self.b.ins().fvdemote(p)).collect();
                    // Each holds its two values in its low half (the rest zero): the halves
                    // together, as `narrow` joins the low halves of 64-bit lanes.
                    let second = *demoted.get(1).unwrap_or(&demoted[0]);
                    shuffle_bytes(&mut self.b, F32X4, demoted[0], second, (0..8).chain(16..24))
                })
                .collect();
        }
        if from == Ty::F32 && to.bits() < 32 {
            // Saturated to 32 bits, then to the narrow type's range (as `ops::cvt`).
            return parts
                .into_iter()
                .map(|p| {
                    if to.is_signed_int() {
                        let v = self.b.ins().fcvt_to_sint_sat(I32X4, p);
                        let hi = konst(&mut self.b, I32X4, to.mask() >> 1);
                        let lo = konst(&mut self.b, I32X4, !(to.mask() >> 1));
                        let v = self.b.ins().smin(v, hi);
                        self.b.ins().smax(v, lo)
                    } else {
                        let v = self.b.ins().fcvt_to_uint_sat(I32X4, p);
                        let hi = konst(&mut self.b, I32X4, to.mask());
                        self.b.ins().umin(v, hi)
                    }
                })
                .collect();
        }
        if from.bits() < 32 && to == Ty::F32 {
            // Small enough to convert as signed 32-bit integers.
            return parts
                .into_iter()
                .map(|p| self.b.ins().fcvt_from_sint(F32X4, p))
                .collect();
        }
        if native {
            return parts
                .into_iter()
                .map(|p| match (from, to) {
                    (Ty::F32, Ty::I32) => self.b.ins().fcvt_to_sint_sat(I32X4, p),
                    (Ty::F32, Ty::U32) => self.b.ins().fcvt_to_uint_sat(I32X4, p),
                    (Ty::I32, Ty::F32) => self.b.ins().fcvt_from_sint(F32X4, p),
                    _ => self.b.ins().fcvt_from_uint(F32X4, p),
                })
                .collect();
        }
        let xl = self.lanes(from, &VV::V(parts));
        let rl: Vec<Value> = xl
            .into_iter()
            .map(|x| ops::cvt(&mut self.b, to, from, x))
            .collect();
        self.build_parts(to, &rl)
    }

    /// `v`'s high 8 bytes in its low half (its high half too), as `v`'s type.
    fn high_half(&mut self, v: Value) -> Value {
        let vt = self.b.func.dfg.value_type(v);
        shuffle_bytes(&mut self.b, vt, v, v, (8..16).chain(8..16))
    }
}
