//! The semantics of the ISA's value operations as CLIF, shared by the scalar and the vector
//! translators.
//!
//! Values are held in a *compute type* per ISA type ([`compute_lane`]): `i8 i16 u8 u16 i32
//! u32` compute in `I32` (narrow values sign- or zero-extended according to their
//! signedness), 64-bit integers in `I64`, floats in `F32`/`F64`. Every function here works on
//! a scalar of that type; those documented as such also work on a 128-bit vector of it.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    types, ConstantData, Endianness, InstBuilder, InstructionData, MemFlagsData, Opcode, Type,
    Value,
};
use cranelift_frontend::FunctionBuilder;
use holovm_isa::{BinOp, Cmp, Ty, UnOp};

/// The CLIF lane type an ISA type computes in.
pub(crate) fn compute_lane(ty: Ty) -> Type {
    match ty {
        Ty::F32 => types::F32,
        Ty::F64 => types::F64,
        Ty::I64 | Ty::U64 => types::I64,
        _ => types::I32,
    }
}

/// The 128-bit vector of `compute_lane(ty)`.
pub(crate) fn compute_vec(ty: Ty) -> Type {
    let lane = compute_lane(ty);
    lane.by(128 / lane.bits()).unwrap_or(lane)
}

/// A constant with the given bit pattern per lane, of scalar or vector type `t`.
pub(crate) fn konst(b: &mut FunctionBuilder, t: Type, bits: u64) -> Value {
    let lane = t.lane_type();
    if t.is_vector() {
        // A constant-pool vector, which an instruction can read as its memory operand
        // (a splat would be built in registers where the optimiser does not run).
        let size = lane.bytes() as usize;
        let one = &bits.to_le_bytes()[..size];
        let bytes: Vec<u8> = (0..t.lane_count())
            .flat_map(|_| one.iter().copied())
            .collect();
        let c = b.func.dfg.constants.insert(ConstantData::from(bytes));
        return b.ins().vconst(t, c);
    }
    if lane == types::F32 {
        b.ins().f32const(Ieee32::with_bits(bits as u32))
    } else if lane == types::F64 {
        b.ins().f64const(Ieee64::with_bits(bits))
    } else {
        let masked = if lane.bits() >= 64 {
            bits
        } else {
            bits & ((1u64 << lane.bits()) - 1)
        };
        b.ins().iconst(lane, masked as i64)
    }
}

/// A float constant of (scalar or vector) float type `t`.
pub(crate) fn fconst(b: &mut FunctionBuilder, t: Type, v: f64) -> Value {
    if t.lane_type() == types::F32 {
        konst(b, t, (v as f32).to_bits() as u64)
    } else {
        konst(b, t, v.to_bits())
    }
}

/// Reinterprets the bits of `v` as type `t` (the same total width; where the lane count
/// changes, the lanes' bytes in little-endian order, as the registers hold them).
pub(crate) fn bitcast(b: &mut FunctionBuilder, t: Type, v: Value) -> Value {
    let vt = b.func.dfg.value_type(v);
    if vt == t {
        v
    } else if vt.lane_count() == t.lane_count() {
        b.ins().bitcast(t, MemFlagsData::new(), v)
    } else {
        let le = MemFlagsData::new().with_endianness(Endianness::Little);
        b.ins().bitcast(t, le, v)
    }
}

/// The bytes of the 128-bit vectors `x` then `y` picked by `mask` (16 indices into their 32
/// bytes), as a vector of `t`.
pub(crate) fn shuffle_bytes(
    b: &mut FunctionBuilder,
    t: Type,
    x: Value,
    y: Value,
    mask: impl IntoIterator<Item = u8>,
) -> Value {
    let (x, y) = (bitcast(b, types::I8X16, x), bitcast(b, types::I8X16, y));
    let mask: Vec<u8> = mask.into_iter().collect();
    let imm = b.func.dfg.immediates.push(mask.as_slice().into());
    let s = b.ins().shuffle(x, y, imm);
    bitcast(b, t, s)
}

/// Sign-extends the low `bits` of an `I32` (scalar or vector) value.
pub(crate) fn sext_low(b: &mut FunctionBuilder, v: Value, bits: u32) -> Value {
    let sh = (32 - bits) as i64;
    let l = b.ins().ishl_imm_s(v, sh);
    b.ins().sshr_imm_s(l, sh)
}

/// The compute value of `ty` from a register kept as a 32-bit lane (`I32`, scalar or
/// vector): a narrow type's low bits extended per its signedness (the lane's higher bits may
/// hold what a wider write left); other types as they are.
pub(crate) fn narrow_in(b: &mut FunctionBuilder, ty: Ty, v: Value) -> Value {
    match ty {
        Ty::U8 | Ty::U16 => low_bits(b, ty, v),
        Ty::I8 | Ty::I16 => sext_low(b, v, ty.bits()),
        _ => v,
    }
}

/// `v` (scalar or vector) and `ty`'s mask.
fn low_bits(b: &mut FunctionBuilder, ty: Ty, v: Value) -> Value {
    let t = b.func.dfg.value_type(v);
    if t.is_vector() {
        // (`band_imm` would make a scalar constant.)
        let m = konst(b, t, ty.mask());
        b.ins().band(v, m)
    } else {
        b.ins().band_imm_s(v, ty.mask() as i64)
    }
}

/// A compute value of `ty` as a register's 32-bit lane (`I32`, scalar or vector): a narrow
/// type's low bits, zero-extended (docs/ISA.md: a write zeroes the bits above its type);
/// other types as they are.
pub(crate) fn narrow_out(b: &mut FunctionBuilder, ty: Ty, v: Value) -> Value {
    if ty.bits() < 32 {
        low_bits(b, ty, v)
    } else {
        v
    }
}

/// Converts a 64-bit register image (scalar `I64`) to the compute value of `ty`.
pub(crate) fn from_storage(b: &mut FunctionBuilder, ty: Ty, v: Value) -> Value {
    match ty {
        Ty::I64 | Ty::U64 => v,
        Ty::F64 => bitcast(b, types::F64, v),
        Ty::F32 => {
            let i = b.ins().ireduce(types::I32, v);
            bitcast(b, types::F32, i)
        }
        Ty::I32 | Ty::U32 => b.ins().ireduce(types::I32, v),
        Ty::U8 | Ty::U16 => {
            let i = b.ins().ireduce(types::I32, v);
            b.ins().band_imm_s(i, ty.mask() as i64)
        }
        Ty::I8 | Ty::I16 => {
            let i = b.ins().ireduce(types::I32, v);
            sext_low(b, i, ty.bits())
        }
    }
}

/// Converts a compute value of `ty` to its canonical 64-bit register image (zero-extended).
pub(crate) fn to_storage(b: &mut FunctionBuilder, ty: Ty, v: Value) -> Value {
    match ty {
        Ty::I64 | Ty::U64 => v,
        Ty::F64 => bitcast(b, types::I64, v),
        Ty::F32 => {
            let i = bitcast(b, types::I32, v);
            b.ins().uextend(types::I64, i)
        }
        Ty::I32 | Ty::U32 => b.ins().uextend(types::I64, v),
        _ => {
            let m = b.ins().band_imm_s(v, ty.mask() as i64);
            b.ins().uextend(types::I64, m)
        }
    }
}

/// The compute value of an immediate (its bits zero-extended from `ty`'s width), as a scalar.
pub(crate) fn imm(b: &mut FunctionBuilder, ty: Ty, bits: u64) -> Value {
    let bits = ty.canon(bits);
    let t = compute_lane(ty);
    let bits = if ty.is_signed_int() && ty.bits() < 32 {
        // Sign-extend into the I32 compute form.
        let sh = 64 - ty.bits();
        (((bits << sh) as i64) >> sh) as u64
    } else {
        bits
    };
    konst(b, t, bits)
}

/// `MIN` of a signed type in its compute form, as raw bits.
fn signed_min_bits(ty: Ty) -> u64 {
    match ty.bits() {
        8 => i8::MIN as i64 as u64,
        16 => i16::MIN as i64 as u64,
        32 => i32::MIN as i64 as u64,
        _ => i64::MIN as u64,
    }
}

/// Arithmetic without traps: `add sub mul min max and or xor` for any type; `div` for floats.
/// Works on vectors too.
pub(crate) fn simple_bin(b: &mut FunctionBuilder, op: BinOp, ty: Ty, x: Value, y: Value) -> Value {
    let f = ty.is_float();
    let s = ty.is_signed_int();
    match op {
        BinOp::Add if f => b.ins().fadd(x, y),
        BinOp::Add => b.ins().iadd(x, y),
        BinOp::Sub if f => b.ins().fsub(x, y),
        BinOp::Sub => b.ins().isub(x, y),
        BinOp::Mul if f => b.ins().fmul(x, y),
        BinOp::Mul => b.ins().imul(x, y),
        BinOp::Div => b.ins().fdiv(x, y),
        BinOp::Min if f => b.ins().fmin(x, y),
        BinOp::Min if s => b.ins().smin(x, y),
        BinOp::Min => b.ins().umin(x, y),
        BinOp::Max if f => b.ins().fmax(x, y),
        BinOp::Max if s => b.ins().smax(x, y),
        BinOp::Max => b.ins().umax(x, y),
        BinOp::And => b.ins().band(x, y),
        BinOp::Or => b.ins().bor(x, y),
        BinOp::Xor => b.ins().bxor(x, y),
        // Callers route div (integers), rem and shifts elsewhere; keep a defined result.
        BinOp::Rem | BinOp::Shl | BinOp::Shr => x,
    }
}

/// The value of `v` if an `iconst` defines it (zero-extended from its type).
fn const_of(b: &FunctionBuilder, v: Value) -> Option<u64> {
    let inst = b.func.dfg.value_def(v).inst()?;
    match b.func.dfg.insts[inst] {
        InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } => {
            let width = b.func.dfg.value_type(v).bits();
            let bits = imm.bits() as u64;
            Some(if width >= 64 {
                bits
            } else {
                bits & ((1 << width) - 1)
            })
        }
        _ => None,
    }
}

/// `shl`/`shr` of `x` (scalar or vector) by a *scalar* amount `amt` of the compute type.
/// An amount of the type's width or more shifts everything out (docs/ISA.md); a constant
/// amount decides that here (without the optimiser nothing else would: 3 instructions a
/// shift).
pub(crate) fn shift(b: &mut FunctionBuilder, op: BinOp, ty: Ty, x: Value, amt: Value) -> Value {
    let bits = ty.bits() as i64;
    if let Some(n) = const_of(b, amt) {
        let signed = op == BinOp::Shr && ty.is_signed_int();
        return match (n < bits as u64, op) {
            (true, BinOp::Shl) => b.ins().ishl(x, amt),
            (true, _) if signed => b.ins().sshr(x, amt),
            (true, _) => b.ins().ushr(x, amt),
            (false, _) if signed => {
                let at = b.func.dfg.value_type(amt);
                let top = b.ins().iconst(at, bits - 1);
                b.ins().sshr(x, top)
            }
            (false, _) => {
                let t = b.func.dfg.value_type(x);
                konst(b, t, 0)
            }
        };
    }
    let big = b
        .ins()
        .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, amt, bits);
    if op == BinOp::Shr && ty.is_signed_int() {
        let at = b.func.dfg.value_type(amt);
        let top = b.ins().iconst(at, bits - 1);
        let a = b.ins().select(big, top, amt);
        b.ins().sshr(x, a)
    } else {
        let r = if op == BinOp::Shl {
            b.ins().ishl(x, amt)
        } else {
            b.ins().ushr(x, amt)
        };
        let t = b.func.dfg.value_type(x);
        let zero = konst(b, t, 0);
        b.ins().select(big, zero, r)
    }
}

/// Trap conditions of integer `div`/`rem` on scalars or vectors: (divisor is zero, signed
/// overflow `MIN / -1`). Scalars give `I8` booleans, vectors lane masks.
pub(crate) fn div_checks(
    b: &mut FunctionBuilder,
    ty: Ty,
    x: Value,
    y: Value,
) -> (Value, Option<Value>) {
    let zero = if b.func.dfg.value_type(y).is_vector() {
        let t = b.func.dfg.value_type(y);
        let z = konst(b, t, 0);
        b.ins().icmp(IntCC::Equal, y, z)
    } else {
        b.ins().icmp_imm_s(IntCC::Equal, y, 0)
    };
    if !ty.is_signed_int() {
        return (zero, None);
    }
    let t = b.func.dfg.value_type(x);
    let min = konst(b, t, signed_min_bits(ty));
    let m1 = konst(b, t, u64::MAX);
    let a = b.ins().icmp(IntCC::Equal, x, min);
    let c = b.ins().icmp(IntCC::Equal, y, m1);
    (zero, Some(b.ins().band(a, c)))
}

/// Integer `div`/`rem` of scalars whose trap conditions were checked.
pub(crate) fn divrem(b: &mut FunctionBuilder, op: BinOp, ty: Ty, x: Value, y: Value) -> Value {
    match (op, ty.is_signed_int()) {
        (BinOp::Div, true) => b.ins().sdiv(x, y),
        (BinOp::Div, false) => b.ins().udiv(x, y),
        (_, true) => b.ins().srem(x, y),
        (_, false) => b.ins().urem(x, y),
    }
}

/// `abs neg not sqrt rsqrt` (scalars or vectors). Transcendentals go to [`crate::math`].
pub(crate) fn simple_un(b: &mut FunctionBuilder, op: UnOp, ty: Ty, x: Value) -> Value {
    match op {
        UnOp::Abs if ty.is_float() => b.ins().fabs(x),
        UnOp::Abs if ty.is_signed_int() => b.ins().iabs(x),
        UnOp::Abs => x,
        UnOp::Neg if ty.is_float() => b.ins().fneg(x),
        UnOp::Neg => b.ins().ineg(x),
        UnOp::Not => b.ins().bnot(x),
        UnOp::Sqrt => b.ins().sqrt(x),
        UnOp::Rsqrt => {
            let t = b.func.dfg.value_type(x);
            let s = b.ins().sqrt(x);
            let one = fconst(b, t, 1.0);
            b.ins().fdiv(one, s)
        }
        _ => crate::math::transcendental(b, op, &[x]).pop().unwrap_or(x),
    }
}

/// [`simple_un`] of each of `xs` (a vector register's parts); transcendentals emit their
/// steps for several parts together.
pub(crate) fn un_parts(b: &mut FunctionBuilder, op: UnOp, ty: Ty, xs: &[Value]) -> Vec<Value> {
    if crate::math::is_transcendental(op) {
        crate::math::transcendental(b, op, xs)
    } else {
        xs.iter().map(|&x| simple_un(b, op, ty, x)).collect()
    }
}

/// `fma` (scalars or vectors): fused for floats, wrapping `a*b + c` for integers.
pub(crate) fn fma(b: &mut FunctionBuilder, ty: Ty, x: Value, y: Value, z: Value) -> Value {
    if ty.is_float() {
        b.ins().fma(x, y, z)
    } else {
        let m = b.ins().imul(x, y);
        b.ins().iadd(m, z)
    }
}

/// `setp` (scalars give an `I8` 0/1, vectors a lane mask).
pub(crate) fn compare(b: &mut FunctionBuilder, cmp: Cmp, ty: Ty, x: Value, y: Value) -> Value {
    if ty.is_float() {
        let cc = match cmp {
            Cmp::Eq => FloatCC::Equal,
            Cmp::Ne => FloatCC::NotEqual,
            Cmp::Lt => FloatCC::LessThan,
            Cmp::Le => FloatCC::LessThanOrEqual,
            Cmp::Gt => FloatCC::GreaterThan,
            Cmp::Ge => FloatCC::GreaterThanOrEqual,
        };
        b.ins().fcmp(cc, x, y)
    } else {
        let s = ty.is_signed_int();
        let cc = match (cmp, s) {
            (Cmp::Eq, _) => IntCC::Equal,
            (Cmp::Ne, _) => IntCC::NotEqual,
            (Cmp::Lt, true) => IntCC::SignedLessThan,
            (Cmp::Le, true) => IntCC::SignedLessThanOrEqual,
            (Cmp::Gt, true) => IntCC::SignedGreaterThan,
            (Cmp::Ge, true) => IntCC::SignedGreaterThanOrEqual,
            (Cmp::Lt, false) => IntCC::UnsignedLessThan,
            (Cmp::Le, false) => IntCC::UnsignedLessThanOrEqual,
            (Cmp::Gt, false) => IntCC::UnsignedGreaterThan,
            (Cmp::Ge, false) => IntCC::UnsignedGreaterThanOrEqual,
        };
        b.ins().icmp(cc, x, y)
    }
}

/// `cvt.TO.FROM` of a scalar compute value (Rust `as` semantics); between integer types of
/// one compute type (`i8` to `u32`), of a vector too.
pub(crate) fn cvt(b: &mut FunctionBuilder, to: Ty, from: Ty, x: Value) -> Value {
    use types::{F32, F64, I32, I64};
    if to == from {
        return x;
    }
    match (from.is_float(), to.is_float()) {
        (false, false) => {
            let (fl, tl) = (compute_lane(from), compute_lane(to));
            if fl == tl {
                // Same compute type: the value is already extended per `from`; narrow
                // targets truncate and re-extend per their own signedness.
                if to.bits() < 32 {
                    if to.is_signed_int() {
                        sext_low(b, x, to.bits())
                    } else {
                        low_bits(b, to, x)
                    }
                } else {
                    x
                }
            } else if tl == I64 {
                if from.is_signed_int() {
                    b.ins().sextend(I64, x)
                } else {
                    b.ins().uextend(I64, x)
                }
            } else {
                let r = b.ins().ireduce(I32, x);
                if to.bits() < 32 {
                    if to.is_signed_int() {
                        sext_low(b, r, to.bits())
                    } else {
                        b.ins().band_imm_s(r, to.mask() as i64)
                    }
                } else {
                    r
                }
            }
        }
        (false, true) => {
            let ft = compute_lane(to);
            if from.is_signed_int() {
                b.ins().fcvt_from_sint(ft, x)
            } else {
                b.ins().fcvt_from_uint(ft, x)
            }
        }
        (true, false) => {
            let signed = to.is_signed_int();
            if to.bits() == 64 {
                if signed {
                    b.ins().fcvt_to_sint_sat(I64, x)
                } else {
                    b.ins().fcvt_to_uint_sat(I64, x)
                }
            } else if signed {
                let v = b.ins().fcvt_to_sint_sat(I32, x);
                if to.bits() < 32 {
                    let hi = (to.mask() >> 1) as i64;
                    let hi = b.ins().iconst(I32, hi);
                    let lo = b.ins().iconst(I32, (!(to.mask() >> 1)) as u32 as i64);
                    let v = b.ins().smin(v, hi);
                    b.ins().smax(v, lo)
                } else {
                    v
                }
            } else {
                let v = b.ins().fcvt_to_uint_sat(I32, x);
                if to.bits() < 32 {
                    let hi = b.ins().iconst(I32, to.mask() as i64);
                    b.ins().umin(v, hi)
                } else {
                    v
                }
            }
        }
        (true, true) => {
            if to == Ty::F64 {
                b.ins().fpromote(F64, x)
            } else {
                b.ins().fdemote(F32, x)
            }
        }
    }
}
