//! Memory accesses of single lanes and of the 8- and 16-bit types, which vector code keeps in
//! 32-bit lanes (their values zero-extended, as the ISA's registers hold them): loads widen
//! bytes into lanes, stores narrow lanes into bytes.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use holovm_isa::Ty;

use crate::ops::{self, bitcast, compute_lane, sext_low};
use crate::translate::Tr;

impl Tr<'_, '_> {
    /// One lane's value of `ty` loaded from `addr + off`, in compute form (a narrow type
    /// extended per its signedness).
    pub(super) fn load_lane(&mut self, ty: Ty, addr: Value, off: i32) -> Value {
        let fl = MemFlagsData::trusted();
        let ins = self.b.ins();
        match (ty.bits(), ty.is_signed_int()) {
            (8, true) => ins.sload8(types::I32, fl, addr, off),
            (8, false) => ins.uload8(types::I32, fl, addr, off),
            (16, true) => ins.sload16(types::I32, fl, addr, off),
            (16, false) => ins.uload16(types::I32, fl, addr, off),
            _ => ins.load(compute_lane(ty), fl, addr, off),
        }
    }

    /// Stores one lane's value `x` of `ty` (compute form) at `addr + off`: a narrow type's
    /// low bits.
    pub(super) fn store_lane(&mut self, ty: Ty, x: Value, addr: Value, off: i32) {
        let fl = MemFlagsData::trusted();
        let ins = self.b.ins();
        match ty.bits() {
            8 => ins.istore8(fl, x, addr, off),
            16 => ins.istore16(fl, x, addr, off),
            _ => ins.store(fl, x, addr, off),
        };
    }

    /// The group's lanes of a narrow `ty` from the `G * size` contiguous bytes at `addr`,
    /// as `I32X4` parts in compute form: 16 bytes (or the 4 or 8 a small group has) a load,
    /// widened twice (8-bit) or once (16-bit).
    pub(super) fn load_narrow(&mut self, ty: Ty, addr: Value) -> Vec<Value> {
        let fl = MemFlagsData::new().with_notrap();
        let total = self.g * ty.size();
        let mut parts = Vec::new();
        for at in (0..total).step_by(16) {
            let bytes = (total - at).min(16);
            let raw = self.load_bytes(addr, at as i32, bytes, fl);
            let v = match ty.size() {
                1 => raw,
                _ => bitcast(&mut self.b, types::I16X8, raw),
            };
            self.widen(v, ty.is_signed_int(), bytes / ty.size(), &mut parts);
        }
        parts
    }

    /// Appends the first `lanes` lanes of `v` (`I8X16`, `I16X8` or `I32X4`) as `I32X4`
    /// parts to `out`, extended per `signed`.
    fn widen(&mut self, v: Value, signed: bool, lanes: u32, out: &mut Vec<Value>) {
        let half = self.b.func.dfg.value_type(v).lane_count() / 2;
        if half == 2 {
            out.push(v);
            return;
        }
        let ins = self.b.ins();
        let low = if signed {
            ins.swiden_low(v)
        } else {
            ins.uwiden_low(v)
        };
        self.widen(low, signed, lanes.min(half), out);
        if lanes > half {
            let ins = self.b.ins();
            let high = if signed {
                ins.swiden_high(v)
            } else {
                ins.uwiden_high(v)
            };
            self.widen(high, signed, lanes - half, out);
        }
    }

    /// `bytes` (4, 8 or 16) at `addr + at` as an `I8X16` (the rest of it zero).
    fn load_bytes(&mut self, addr: Value, at: i32, bytes: u32, fl: MemFlagsData) -> Value {
        let (lane, vt) = match bytes {
            16 => return self.b.ins().load(types::I8X16, fl, addr, at),
            8 => (types::I64, types::I64X2),
            _ => (types::I32, types::I32X4),
        };
        let x = self.b.ins().load(lane, fl, addr, at);
        let v = self.b.ins().scalar_to_vector(vt, x);
        bitcast(&mut self.b, types::I8X16, v)
    }

    /// Stores the group's lanes of a narrow `ty` (`I32X4` parts, compute form) as the
    /// `G * size` contiguous bytes at `addr`: each lane's low bits, zero-extended (one `pand`)
    /// where the host has SSE4.1's `packusdw` for the unsigned saturating narrowing, else
    /// sign-extended (two shifts) for SSE2's `packssdw`; the narrowing keeps them exactly.
    pub(super) fn store_narrow(&mut self, ty: Ty, parts: Vec<Value>, addr: Value) {
        let fl = MemFlagsData::new().with_notrap();
        let unsigned = self.blendv;
        let mut vs: Vec<Value> = parts
            .into_iter()
            .map(|p| match unsigned {
                true => ops::narrow_out(&mut self.b, ty, p),
                false => sext_low(&mut self.b, p, ty.bits()),
            })
            .collect();
        let steps = if ty.size() == 1 { 2 } else { 1 };
        for _ in 0..steps {
            vs = vs
                .chunks(2)
                .map(|c| {
                    let (x, y) = (c[0], *c.get(1).unwrap_or(&c[0]));
                    match unsigned {
                        true => self.b.ins().unarrow(x, y),
                        false => self.b.ins().snarrow(x, y),
                    }
                })
                .collect();
        }
        let total = self.g * ty.size();
        for (k, v) in vs.into_iter().enumerate() {
            let at = k as u32 * 16;
            // A small group's 4 or 8 bytes are the vector's first lane of that width.
            match (total - at).min(16) {
                16 => {
                    self.b.ins().store(fl, v, addr, at as i32);
                }
                bytes => {
                    let vt = if bytes == 8 {
                        types::I64X2
                    } else {
                        types::I32X4
                    };
                    let w = bitcast(&mut self.b, vt, v);
                    let x = self.b.ins().extractlane(w, 0);
                    self.b.ins().store(fl, x, addr, at as i32);
                }
            }
        }
    }
}
