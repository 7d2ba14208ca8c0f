//! Values in vector code ([`VV`]): reading and writing registers and operands as uniform,
//! lane-affine or vector values, and converting between these forms.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use holovm_isa::{Special, Src, Ty};

use super::vec_of;
use crate::analysis::Class;
use crate::ops::{self, bitcast, compute_lane, compute_vec};
use crate::translate::{call, Tr, TrError, TrResult};

/// A value in vector code: one scalar for all lanes, a lane-affine value (lane `l` holds
/// the scalar `+ l`, wrapping in its integer type), a stepped one (lane `l` holds the
/// scalar `+ step * l`, a step of 2, 4 or 8), or vector parts.
#[derive(Clone, Debug)]
pub(crate) enum VV {
    U(Value),
    A(Value),
    S(Value, u8),
    V(Vec<Value>),
}

impl Tr<'_, '_> {
    // ---------------------------------------------------------------------------------
    // Operands
    // ---------------------------------------------------------------------------------

    /// `v`, computed here once: Cranelift's optimiser re-places pure values at their uses and
    /// hoists them out of loops, but a constant operand that it rematerialises inside the
    /// loop keeps the whole computation there. A two-result instruction is opaque to it.
    /// Without the optimiser, `v` itself.
    pub(crate) fn pin(&mut self, v: Value) -> Value {
        if !self.optimised {
            return v;
        }
        let ty = self.b.func.dfg.value_type(v);
        let zero = self.b.ins().iconst(ty, 0);
        self.b.ins().uadd_overflow(v, zero).0
    }

    /// A uniform register value (its storage lane type) as its 64-bit register image.
    pub(super) fn u_to_i64(&mut self, v: Value) -> Value {
        let t = self.b.func.dfg.value_type(v);
        if t.bits() == 64 {
            bitcast(&mut self.b, types::I64, v)
        } else {
            let i = bitcast(&mut self.b, types::I32, v);
            self.b.ins().uextend(types::I64, i)
        }
    }

    /// First lane index of the group (`%lane` of lane 0), `I32`.
    pub(super) fn v_lane0(&mut self) -> Value {
        self.b.use_var(self.lane0)
    }

    /// `%gid` of the group's lane 0, `I32`.
    pub(super) fn v_gid0(&mut self) -> Value {
        let base = match self.v.as_ref() {
            Some(v) => self.b.use_var(v.bbase),
            None => {
                let blk = self.b.use_var(self.blk);
                let bdim = self.bdim();
                self.b.ins().imul(blk, bdim)
            }
        };
        let l0 = self.b.use_var(self.lane0);
        self.b.ins().iadd(base, l0)
    }

    /// `first + [0, step, 2 * step, ...]` as vector parts of `ty`'s compute type (see
    /// [`Tr::v_iota`]).
    pub(crate) fn v_iota_step(&mut self, ty: Ty, first: Value, step: u8) -> Vec<Value> {
        if step == 1 {
            return self.v_iota(ty, first);
        }
        let ft = compute_vec(ty);
        let vt = ft.as_int();
        let lanes = vt.lane_count();
        let first = self.iota_first(vt, first);
        let sp = self.b.ins().splat(vt, first);
        let step = u64::from(step);
        (0..self.g / lanes)
            .map(|k| {
                let c = lane_run(&mut self.b, vt, u64::from(k * lanes) * step, step);
                let v = self.b.ins().iadd(sp, c);
                bitcast(&mut self.b, ft, v)
            })
            .collect()
    }

    /// `first` as a lane of `vt`: zero-extended to 64 bits where it is an `I32`.
    fn iota_first(&mut self, vt: Type, first: Value) -> Value {
        if vt.lane_bits() == 64 && self.b.func.dfg.value_type(first) == types::I32 {
            self.b.ins().uextend(types::I64, first)
        } else {
            first
        }
    }

    /// `first + [0, 1, 2, ...]` as vector parts of `ty`'s compute type; `first` is an `I32`
    /// (zero-extended for 64-bit types) or a value of the compute type.
    /// (Read as a float type, a special register's bits are reinterpreted, as in scalar code.)
    pub(crate) fn v_iota(&mut self, ty: Ty, first: Value) -> Vec<Value> {
        let ft = compute_vec(ty);
        let vt = ft.as_int();
        let lanes = vt.lane_count();
        let first = self.iota_first(vt, first);
        let consts = |t: &mut Self, from: u64| lane_run(&mut t.b, vt, from, 1);
        let cold = self
            .b
            .current_block()
            .is_some_and(|blk| self.b.func.layout.is_cold(blk));
        let parts = self.g / lanes;
        if !self.optimised {
            // Without the optimiser (which would hoist constants out of the group loop,
            // see `cold_iota`): one splat, then one add a vector (cold code: each vector
            // from the one before) or a constant and an add (hot: independent adds, the
            // constant folded into each): sum's kernel compile -3%, a tree reduction over
            // shared memory 5% faster (its lane masks).
            let sp = self.b.ins().splat(vt, first);
            if cold {
                let iota = self.cold_iota(vt);
                let mut v = self.b.ins().iadd(sp, iota);
                let step = self.b.ins().iconst(vt.lane_type(), i64::from(lanes));
                let step = self.b.ins().splat(vt, step);
                let mut out = vec![bitcast(&mut self.b, ft, v)];
                for _ in 1..parts {
                    v = self.b.ins().iadd(v, step);
                    out.push(bitcast(&mut self.b, ft, v));
                }
                return out;
            }
            return (0..parts)
                .map(|k| {
                    let c = consts(self, u64::from(k * lanes));
                    let v = self.b.ins().iadd(sp, c);
                    bitcast(&mut self.b, ft, v)
                })
                .collect();
        }
        let iota = if cold {
            self.cold_iota(vt)
        } else {
            consts(self, 0)
        };
        (0..parts)
            .map(|k| {
                let s = self.b.ins().iadd_imm_s(first, (k * lanes) as i64);
                let sp = self.b.ins().splat(vt, s);
                let v = self.b.ins().iadd(sp, iota);
                bitcast(&mut self.b, ft, v)
            })
            .collect()
    }

    /// `[0, 1, ..]` of `vt` for cold blocks (the bail-out path). In optimised functions built
    /// in place: Cranelift's optimiser hoists a vector constant out of loops, so one used only
    /// by the bail-out path would be kept live (and spilled and reloaded) across the whole
    /// group loop. Without the optimiser nothing moves it, and the constant is one load
    /// where it is used (softmax_rows' kernel compile -2.4%, its per-lane function -2.2%).
    pub(crate) fn cold_iota(&mut self, vt: Type) -> Value {
        if !self.optimised {
            let mut bytes = Vec::new();
            for i in 0..u64::from(vt.lane_count()) {
                let b = i.to_le_bytes();
                bytes.extend_from_slice(&b[..vt.lane_bits() as usize / 8]);
            }
            let c = self.b.func.dfg.constants.insert(bytes.into());
            return self.b.ins().vconst(vt, c);
        }
        let lane = vt.lane_type();
        let zero = self.b.ins().iconst(lane, 0);
        let zero = self.pin(zero);
        let mut v = self.b.ins().splat(vt, zero);
        for i in 1..vt.lane_count() {
            let c = self.b.ins().iconst(lane, i as i64);
            v = self.b.ins().insertlane(v, c, i as u8);
        }
        v
    }

    /// Reads `src` as `ty` (compute form: a narrow type's low bits extended per its
    /// signedness, [`ops::narrow_in`]).
    pub(super) fn v_read(&mut self, src: Src, ty: Ty) -> TrResult<VV> {
        let v = self.v_read_low(src, ty)?;
        if ty.bits() >= 32 || matches!(src, Src::Imm(_) | Src::Param(_)) {
            // (Immediates and parameters come in compute form already.)
            return Ok(v);
        }
        Ok(self.map_lanes(ty, v, ops::narrow_in))
    }

    /// A register kept at the other width than `ty`'s read as `ty`: a 32-bit one
    /// ([`crate::analysis::Analysis::reg_wide_read`]) its value zero-extended, a 64-bit one
    /// ([`crate::analysis::Analysis::reg_low_read`], `reg_wide_write`) the low half of its
    /// value; that is, a `cvt` from the unsigned type it is kept as to the unsigned type of
    /// `ty`'s width.
    fn v_read_resized(&mut self, src: Src, ty: Ty) -> TrResult<VV> {
        let (kept, read) = match compute_lane(ty).bits() {
            64 => (Ty::U32, Ty::U64),
            _ => (Ty::U64, Ty::U32),
        };
        Ok(match self.v_read_low(src, kept)? {
            VV::U(x) => {
                let x = ops::cvt(&mut self.b, read, kept, x);
                VV::U(bitcast(&mut self.b, compute_lane(ty), x))
            }
            v => {
                let parts = self.parts(kept, v);
                let vt = compute_vec(ty);
                let parts = self.v_cvt(read, kept, parts);
                VV::V(
                    parts
                        .into_iter()
                        .map(|p| bitcast(&mut self.b, vt, p))
                        .collect(),
                )
            }
        })
    }

    /// A value of the 32-bit (or narrower) `ty` as a register kept at 64 bits holds it when
    /// written ([`crate::analysis::Analysis::reg_wide_write`]): its 64-bit image, the
    /// value's bits zero-extended, as `u64`.
    fn v_widened(&mut self, ty: Ty, val: VV) -> VV {
        match val {
            VV::U(x) => VV::U(ops::to_storage(&mut self.b, ty, x)),
            v => {
                let parts = self
                    .parts(ty, v)
                    .into_iter()
                    .map(|p| {
                        let p = ops::narrow_out(&mut self.b, ty, p);
                        bitcast(&mut self.b, types::I32X4, p)
                    })
                    .collect();
                VV::V(self.v_cvt(Ty::U64, Ty::U32, parts))
            }
        }
    }

    /// `f` applied to every lane of `v` (a uniform value stays one).
    fn map_lanes(&mut self, ty: Ty, v: VV, f: fn(&mut FunctionBuilder, Ty, Value) -> Value) -> VV {
        match v {
            VV::U(x) => VV::U(f(&mut self.b, ty, x)),
            v => VV::V(
                self.parts(ty, v)
                    .into_iter()
                    .map(|p| f(&mut self.b, ty, p))
                    .collect(),
            ),
        }
    }

    /// Reads `src` as `ty` for a use that takes only the low `bits(ty)` bits of the value:
    /// a store, a move, or an operation whose result's low bits depend only on its operands'
    /// (`add sub mul and or xor`; the result is cut to its type when written). A narrow
    /// type's 32-bit lanes as they are, without extending them ([`Tr::v_read`]).
    pub(super) fn v_read_low(&mut self, src: Src, ty: Ty) -> TrResult<VV> {
        let ct = compute_lane(ty);
        if let Src::Reg(r) = src {
            let r = r.0 as usize;
            let flag = |f: &Vec<bool>| f.get(r) == Some(&true);
            let resized = match ct.bits() {
                64 => flag(&self.an.reg_wide_read),
                _ => flag(&self.an.reg_low_read) || flag(&self.an.reg_wide_write),
            };
            if resized {
                return self.v_read_resized(src, ty);
            }
        }
        Ok(match src {
            Src::Reg(r) => {
                let r = r.0 as usize;
                let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
                if class.lane_type().bits() != ct.bits() {
                    return Err(TrError(format!("r{r} read with a different width")));
                }
                let (u, a, parts) = {
                    let v = self.vs()?;
                    (v.uregs[r], v.aregs[r], v.vregs[r].clone())
                };
                if let Some(u) = u {
                    let v = self.b.use_var(u);
                    VV::U(bitcast(&mut self.b, ct, v))
                } else if let Some(a) = a {
                    let v = self.b.use_var(a);
                    let step = self.reg_step(r);
                    match (crate::analysis::affine_type(ty), step) {
                        (true, 1) => VV::A(v),
                        (true, _) => VV::S(v, step),
                        (false, _) => VV::V(self.v_iota_step(ty, v, step)),
                    }
                } else {
                    let vt = compute_vec(ty);
                    VV::V(
                        parts
                            .iter()
                            .map(|&p| {
                                let v = self.b.use_var(p);
                                bitcast(&mut self.b, vt, v)
                            })
                            .collect(),
                    )
                }
            }
            Src::Special(sp @ (Special::Lane | Special::GlobalId)) => {
                let f = if sp == Special::Lane {
                    self.v_lane0()
                } else {
                    self.v_gid0()
                };
                if crate::analysis::affine_type(ty) {
                    let f = if ct == types::I64 {
                        self.b.ins().uextend(types::I64, f)
                    } else {
                        f
                    };
                    VV::A(f)
                } else {
                    VV::V(self.v_iota(ty, f))
                }
            }
            other => VV::U(self.s_read_uniform(other, ty)),
        })
    }

    /// Reads a uniform operand (parameter, immediate, `%block`, `%bdim`, `%gdim`) as `ty`.
    pub(super) fn s_read_uniform(&mut self, src: Src, ty: Ty) -> Value {
        let v = match src {
            Src::Imm(bits) => return ops::imm(&mut self.b, ty, bits),
            Src::Param(i) => {
                let cached = self
                    .v
                    .as_ref()
                    .and_then(|v| v.params.get(i as usize).copied());
                match cached.flatten() {
                    Some(var) => self.b.use_var(var),
                    None => self.param_scalar(i),
                }
            }
            Src::Special(Special::Block) => {
                let v = self.b.use_var(self.blk);
                self.b.ins().uextend(types::I64, v)
            }
            Src::Special(s @ (Special::BlockDim | Special::GridDim)) => {
                let field = if s == Special::GridDim {
                    call::GRID
                } else {
                    call::BLOCK_DIM
                };
                let at = self.layout.call as i32 + field;
                let v = self
                    .b
                    .ins()
                    .load(types::I32, MemFlagsData::trusted(), self.scratch, at);
                self.b.ins().uextend(types::I64, v)
            }
            _ => self.b.ins().iconst(types::I64, 0),
        };
        ops::from_storage(&mut self.b, ty, v)
    }

    pub(super) fn v_write(&mut self, dst: u8, ty: Ty, val: VV) -> TrResult<()> {
        let r = dst as usize;
        if compute_lane(ty).bits() == 32 && self.an.reg_wide_write.get(r) == Some(&true) {
            let val = self.v_widened(ty, val);
            return self.v_write(dst, Ty::U64, val);
        }
        let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
        let lane = class.lane_type();
        if lane.bits() != compute_lane(ty).bits() {
            return Err(TrError(format!("r{r} written with a different width")));
        }
        // A narrow type's lanes hold its low bits, zero-extended.
        let val = match ty.bits() {
            32.. => val,
            _ => self.map_lanes(ty, val, ops::narrow_out),
        };
        let (u, a, parts) = {
            let v = self.vs()?;
            (v.uregs[r], v.aregs[r], v.vregs[r].clone())
        };
        match (u, a, val) {
            (Some(u), _, VV::U(x)) => {
                let x = bitcast(&mut self.b, lane, x);
                self.b.def_var(u, x);
            }
            (Some(_), _, _) => {
                return Err(TrError(format!("per-lane value written to uniform r{r}")));
            }
            (None, Some(a), VV::A(x)) if self.reg_step(r) == 1 => self.b.def_var(a, x),
            (None, Some(a), VV::S(x, step)) if self.reg_step(r) == step => self.b.def_var(a, x),
            (None, Some(_), _) => {
                return Err(TrError(format!("not a lane-affine value for r{r}")));
            }
            (None, None, val) => {
                let ps = self.parts(ty, val);
                let vt = vec_of(lane);
                let ps = ps
                    .into_iter()
                    .map(|x| bitcast(&mut self.b, vt, x))
                    .collect();
                self.v_def_parts(&parts, ps, (Some(r), None));
            }
        }
        Ok(())
    }

    /// Vector parts of a value of `ty` (splatting a uniform one).
    pub(super) fn parts(&mut self, ty: Ty, v: VV) -> Vec<Value> {
        match v {
            VV::V(p) => p,
            VV::A(x) => self.v_iota(ty, x),
            VV::S(x, step) => self.v_iota_step(ty, x, step),
            VV::U(x) => {
                let vt = compute_vec(ty);
                let s = self.b.ins().splat(vt, x);
                vec![s; (self.g / vt.lane_count()) as usize]
            }
        }
    }

    /// The G lane values of a value of `ty`.
    pub(super) fn lanes(&mut self, ty: Ty, v: &VV) -> Vec<Value> {
        (0..self.g as usize)
            .map(|l| self.lane_at(ty, v, l))
            .collect()
    }

    /// Lane `l`'s value of a value of `ty`.
    pub(super) fn lane_at(&mut self, ty: Ty, v: &VV, l: usize) -> Value {
        match v {
            VV::U(x) => *x,
            VV::A(x) => self.b.ins().iadd_imm_s(*x, l as i64),
            VV::S(x, step) => self.b.ins().iadd_imm_s(*x, l as i64 * i64::from(*step)),
            VV::V(parts) => {
                let per = compute_vec(ty).lane_count() as usize;
                self.b.ins().extractlane(parts[l / per], (l % per) as u8)
            }
        }
    }

    /// Vector parts of `ty` from G lane values.
    pub(super) fn build_parts(&mut self, ty: Ty, lanes: &[Value]) -> Vec<Value> {
        let vt = compute_vec(ty);
        let per = vt.lane_count() as usize;
        lanes
            .chunks(per)
            .map(|ch| {
                let mut v = self.b.ins().splat(vt, ch[0]);
                for (i, &x) in ch.iter().enumerate().skip(1) {
                    v = self.b.ins().insertlane(v, x, i as u8);
                }
                v
            })
            .collect()
    }

    /// Lane `l` of an index operand, as `u64`.
    pub(super) fn v_lane_u64(&mut self, src: Src, l: u32) -> Value {
        match src {
            Src::Reg(r) => {
                let r = r.0 as usize;
                let (u, a, parts) = match self.v.as_ref() {
                    Some(v) => (v.uregs[r], v.aregs[r], v.vregs[r].clone()),
                    None => (None, None, Vec::new()),
                };
                if let Some(u) = u {
                    let v = self.b.use_var(u);
                    return self.u_to_i64(v);
                }
                if let Some(a) = a {
                    let v = self.b.use_var(a);
                    let step = i64::from(self.reg_step(r));
                    let x = self.b.ins().iadd_imm_s(v, l as i64 * step);
                    return self.u_to_i64(x);
                }
                if parts.is_empty() {
                    return self.b.ins().iconst(types::I64, 0);
                }
                let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
                let vt = vec_of(class.lane_type());
                let per = vt.lane_count();
                let p = self.b.use_var(parts[(l / per) as usize]);
                let iv = bitcast(&mut self.b, vt.as_int(), p);
                let x = self.b.ins().extractlane(iv, (l % per) as u8);
                if vt.lane_bits() == 64 {
                    x
                } else {
                    self.b.ins().uextend(types::I64, x)
                }
            }
            Src::Special(Special::Lane) => {
                let f = self.v_lane0();
                let x = self.b.ins().iadd_imm_s(f, l as i64);
                self.b.ins().uextend(types::I64, x)
            }
            Src::Special(Special::GlobalId) => {
                let f = self.v_gid0();
                let x = self.b.ins().iadd_imm_s(f, l as i64);
                self.b.ins().uextend(types::I64, x)
            }
            other => self.s_read_uniform(other, Ty::U64),
        }
    }

    /// Whether register `r` is kept lane-affine (its lane-0 value only).
    pub(super) fn is_affine_reg(&self, r: usize) -> bool {
        self.an.reg_affine.get(r).copied().unwrap_or(false)
    }

    /// The lane step of a register vector code keeps as its lane-0 value: 1 for a
    /// lane-affine register, 2, 4 or 8 for a stepped one
    /// ([`crate::analysis::Analysis::reg_step`]), 0 for the others.
    pub(super) fn reg_step(&self, r: usize) -> u8 {
        match self.an.reg_step.get(r).copied().unwrap_or(0) {
            0 => u8::from(self.is_affine_reg(r)),
            s => s,
        }
    }

    pub(super) fn is_uniform_src(&self, s: &Src) -> bool {
        match s {
            Src::Reg(r) => self
                .an
                .reg_uniform
                .get(r.0 as usize)
                .copied()
                .unwrap_or(false),
            Src::Special(Special::Lane) | Src::Special(Special::GlobalId) => false,
            _ => true,
        }
    }
}

/// The vector constant of `vt` whose lane `i` is `from + i * step` (as its lane type).
fn lane_run(b: &mut FunctionBuilder, vt: Type, from: u64, step: u64) -> Value {
    let lanes = (0..u64::from(vt.lane_count())).map(|i| from + i * step);
    let bytes: Vec<u8> = match vt.lane_bits() {
        64 => lanes.flat_map(u64::to_le_bytes).collect(),
        _ => lanes.flat_map(|x| (x as u32).to_le_bytes()).collect(),
    };
    let c = b.func.dfg.constants.insert(bytes.into());
    b.ins().vconst(vt, c)
}
