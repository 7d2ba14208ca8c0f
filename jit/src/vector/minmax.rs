//! Float `min`/`max` in vector code: of per-lane values and a uniform one (`max x, 0.0` is
//! ReLU; a clamp is a `max` and a `min` by parameters), and of two per-lane values.
//!
//! The ISA's `min`/`max` are IEEE 754-2019 `minimum`/`maximum` (a NaN operand gives NaN,
//! `-0 < +0`), which Cranelift's `fmin`/`fmax` lower to eight instructions per vector on
//! x86-64. With one operand `c` uniform, x86's `maxps c, x` (`c > x ? c : x`) already returns
//! `x` when `x` is NaN and is exact for every other `x`, except that `maxps +0, -0` is `-0`:
//! clearing the sign bits afterwards fixes that (when `c` is `+0`, every result is `+0`, NaN
//! or positive). Likewise `minps c, x` (`c < x ? c : x`) is exact but for `minps -0, +0`,
//! fixed by setting the sign bits when `c` is `-0`. A NaN `c` makes every result NaN. So the
//! operation takes one instruction, plus one mask where `c` is a signed zero or NaN (known at
//! compile time for immediates; for other uniform values one mask computed once per group,
//! and `max` by a NaN bails out to scalar code).

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, InstructionData, Opcode, Type, Value, ValueDef};
use holovm_isa::{BinOp, Ty};

use crate::ops::{bitcast, compute_vec, konst};
use crate::translate::{Tr, TrResult};

impl Tr<'_, '_> {
    /// `op` (`Min` or `Max`) of the float vectors `parts` of `ty` and the uniform `c`.
    pub(super) fn v_minmax_uniform(
        &mut self,
        pc: u32,
        op: BinOp,
        ty: Ty,
        parts: Vec<Value>,
        c: Value,
    ) -> TrResult<Vec<Value>> {
        let vt = compute_vec(ty);
        let it = if ty == Ty::F64 {
            types::I64X2
        } else {
            types::I32X4
        };
        let sign = 1u64 << (ty.bits() - 1);
        let all = ty.mask();
        // The masks: the result is `(minps/maxps & and) | or`.
        let (cv, and, or) = match self.float_const_bits(c) {
            Some(bits) => {
                let cv = konst(&mut self.b, vt, bits);
                let nan = if ty == Ty::F64 {
                    f64::from_bits(bits).is_nan()
                } else {
                    f32::from_bits(bits as u32).is_nan()
                };
                if nan {
                    return Ok(vec![cv; parts.len()]);
                }
                let and =
                    (op == BinOp::Max && bits == 0).then(|| konst(&mut self.b, it, !sign & all));
                let or = (op == BinOp::Min && bits == sign).then(|| konst(&mut self.b, it, sign));
                (cv, and, or)
            }
            None => {
                let cv = self.b.ins().splat(vt, c);
                let (and, or) = self.minmax_masks(pc, op, it, c, sign, all)?;
                (cv, and, or)
            }
        };
        Ok(parts
            .into_iter()
            .map(|x| {
                let mut r = self.x86_minmax(op, vt, cv, x);
                if let Some(m) = and {
                    let m = bitcast(&mut self.b, vt, m);
                    r = self.b.ins().band(r, m);
                }
                if let Some(m) = or {
                    let m = bitcast(&mut self.b, vt, m);
                    r = self.b.ins().bor(r, m);
                }
                r
            })
            .collect())
    }

    /// `op` (`Min` or `Max`) of two float vectors, lane by lane: x86's `minps`/`maxps` both
    /// ways round, where Cranelift's `fmin`/`fmax` take eight instructions. `minps a, b` and
    /// `minps b, a` agree but for a pair of zeros (then `-0` and `+0`: or-ing them gives
    /// `-0`) and a NaN (then the NaN in one of them: or-ing a NaN's bits into any value
    /// gives a NaN), so `min` is their bitwise or. `max` is the bitwise and of the two
    /// `maxps` (`+0` from a pair of zeros), or-ed with an all-ones (NaN) lane wherever an
    /// input is NaN, as and-ing may clear a NaN's exponent bits.
    pub(super) fn v_minmax(&mut self, op: BinOp, ty: Ty, xs: &[Value], ys: &[Value]) -> Vec<Value> {
        let vt = compute_vec(ty);
        xs.iter()
            .zip(ys)
            .map(|(&x, &y)| {
                let (p, q) = (self.x86_minmax(op, vt, x, y), self.x86_minmax(op, vt, y, x));
                if op == BinOp::Min {
                    return self.b.ins().bor(p, q);
                }
                let both = self.b.ins().band(p, q);
                let nan = self.b.ins().fcmp(FloatCC::Unordered, x, y);
                let nan = bitcast(&mut self.b, vt, nan);
                self.b.ins().bor(both, nan)
            })
            .collect()
    }

    /// x86's `minps a, b` (`a < b ? a : b`) or `maxps a, b` (`b < a ? a : b`), in the shape
    /// Cranelift's x86-64 backend lowers to that one instruction.
    fn x86_minmax(&mut self, op: BinOp, vt: Type, a: Value, b: Value) -> Value {
        let lt = match op {
            BinOp::Max => self.b.ins().fcmp(FloatCC::LessThan, b, a),
            _ => self.b.ins().fcmp(FloatCC::LessThan, a, b),
        };
        let lt = bitcast(&mut self.b, vt, lt);
        self.b.ins().bitselect(lt, a, b)
    }

    /// The mask for a uniform `c` known only at run time, as an integer vector: `max` by
    /// `+0` and-s the sign bits away (all ones otherwise); `min` by `-0` or-s them in, and a
    /// NaN `c` its own bits (or-ing any NaN's bits into a value makes it a NaN; 0 otherwise).
    /// `max` by a NaN, which would need both masks, bails out to scalar code instead (at
    /// `pc`), so each operation costs one mask. `it` is the mask's vector type.
    fn minmax_masks(
        &mut self,
        pc: u32,
        op: BinOp,
        it: Type,
        c: Value,
        sign: u64,
        all: u64,
    ) -> TrResult<(Option<Value>, Option<Value>)> {
        let st = it.lane_type();
        let bits = bitcast(&mut self.b, st, c);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, c, c);
        let zero = self.b.ins().iconst(st, 0);
        if op == BinOp::Max {
            self.v_bail_if(nan, pc)?;
            let b = &mut self.b;
            let pos_zero = b.ins().icmp(IntCC::Equal, bits, zero);
            let abs = b.ins().iconst(st, (!sign & all) as i64);
            let ones = b.ins().iconst(st, all as i64);
            let and = b.ins().select(pos_zero, abs, ones);
            return Ok((Some(b.ins().splat(it, and)), None));
        }
        let b = &mut self.b;
        let s = b.ins().iconst(st, sign as i64);
        let neg_zero = b.ins().icmp(IntCC::Equal, bits, s);
        let or = b.ins().select(neg_zero, s, zero);
        let or = b.ins().select(nan, bits, or);
        Ok((None, Some(b.ins().splat(it, or))))
    }

    /// The bits of `v` if it is a float constant (an immediate operand).
    fn float_const_bits(&self, v: Value) -> Option<u64> {
        let ValueDef::Result(inst, 0) = self.b.func.dfg.value_def(v) else {
            return None;
        };
        match self.b.func.dfg.insts[inst] {
            InstructionData::UnaryIeee32 {
                opcode: Opcode::F32const,
                imm,
            } => Some(imm.bits() as u64),
            InstructionData::UnaryIeee64 {
                opcode: Opcode::F64const,
                imm,
            } => Some(imm.bits()),
            _ => None,
        }
    }
}
