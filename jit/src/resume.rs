//! Vector code for the later phases of programs with barriers.
//!
//! After a barrier is resolved its lanes are READY at the instruction after it, their
//! registers in the phased strategy's per-lane file. Each later phase first walks the block
//! in vector groups: a group whose G lanes are all READY at the same pc, below the lowest
//! trapped lane, with equal fuel and no call frames, and whose registers still fit the
//! vector code's storage (uniform registers equal in every lane, lane-affine ones `v + l`)
//! is loaded into vector variables and runs the vector code from that pc, parking again at
//! the next barrier. Any other group is left READY for the phase's scalar lane loop, which
//! runs after the groups. Resuming skips programs whose lane-affine predicates are live at
//! the resume point (their lane-0 pair is not in the file).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, Endianness, InstBuilder, MemFlagsData, Type, Value};
use holovm_isa::{Inst, Ty};

use crate::ops::{bitcast, konst};
use crate::translate::{status, Tr, TrError, TrResult};
use crate::vector::vec_of;

impl Tr<'_, '_> {
    /// The pcs where a later phase can resume vector code: after each barrier, when no
    /// lane-affine predicate is live there.
    pub(crate) fn vector_resume_pcs(&self) -> Vec<u32> {
        let affine = self.v.as_ref().map_or(0u16, |v| {
            v.apreds
                .iter()
                .enumerate()
                .filter(|(_, a)| a.is_some())
                .fold(0, |m, (p, _)| m | 1 << (p % 16))
        });
        self.p
            .insts()
            .iter()
            .enumerate()
            .filter(|(_, i)| matches!(i, Inst::BarSync | Inst::Reduce { .. }))
            .map(|(pc, _)| pc as u32 + 1)
            .filter(|&pc| {
                let live = self.an.live_preds.get(pc as usize).copied().unwrap_or(0);
                (pc as usize) < self.p.insts().len() && live & affine == 0
            })
            .collect()
    }

    /// Emits `try_block`: checks the group at `lane0` and dispatches to the vector code of
    /// its pc (one of `pcs`, from [`Tr::vector_resume_pcs`]), or goes on with the next group.
    pub(crate) fn emit_vector_resume(&mut self, try_block: Block, pcs: &[u32]) -> TrResult<()> {
        let fl = MemFlagsData::new().with_notrap();
        let g = self.g;
        let next = self.group_next;
        self.b.switch_to_block(try_block);
        let l0 = self.b.use_var(self.lane0);
        let end = self.b.ins().iadd_imm_s(l0, g as i64);
        let s_end = self.b.use_var(self.s_end);
        let below = self
            .b
            .ins()
            .icmp(IntCC::UnsignedLessThanOrEqual, end, s_end);
        let l0_64 = self.b.ins().uextend(types::I64, l0);
        let o32 = self.b.ins().ishl_imm_s(l0_64, 2);
        let base32 = self.b.ins().iadd(self.scratch, o32);
        let o64 = self.b.ins().ishl_imm_s(l0_64, 3);
        let base64 = self.b.ins().iadd(self.scratch, o64);
        let pc0 = self
            .b
            .ins()
            .load(types::I32, fl, base32, self.layout.lane_pc as i32);
        let fuel0 = self
            .b
            .ins()
            .load(types::I64, fl, base64, self.layout.lane_fuel as i32);
        let ready = self.b.ins().iconst(types::I32, status::READY);
        let zero = self.b.ins().iconst(types::I32, 0);
        let mut ok: Option<Value> = None;
        for (off, want, base) in [
            (self.layout.lane_status, ready, base32),
            (self.layout.lane_pc, pc0, base32),
            (self.layout.lane_depth, zero, base32),
            (self.layout.lane_fuel, fuel0, base64),
        ] {
            let m = self.all_lanes_equal(base, off, want);
            ok = Some(match ok {
                Some(o) => self.b.ins().band(o, m),
                None => m,
            });
        }
        let ok = match ok {
            Some(o) => self.b.ins().band(o, below),
            None => below,
        };
        let dispatch = self.b.create_block();
        self.b.ins().brif(ok, dispatch, &[], next, &[]);

        self.b.switch_to_block(dispatch);
        let entries: Vec<(u32, Block)> =
            pcs.iter().map(|&pc| (pc, self.b.create_block())).collect();
        self.switch_on_pc(pc0, &entries, next);

        for (pc, e) in entries {
            self.b.switch_to_block(e);
            self.emit_resume_entry(pc, base64, fuel0)?;
        }
        Ok(())
    }

    /// `I8`: every lane of the group has `want` (`I32` or `I64`) in the per-lane array at
    /// scratch offset `off` (addressed from the group's `base`).
    fn all_lanes_equal(&mut self, base: Value, off: u32, want: Value) -> Value {
        let t = self.b.func.dfg.value_type(want);
        let vt = vec_of(t);
        let fl = MemFlagsData::new().with_notrap();
        let w = self.b.ins().splat(vt, want);
        let mut acc: Option<Value> = None;
        for k in 0..self.g / vt.lane_count() {
            let v = self.b.ins().load(vt, fl, base, (off + k * 16) as i32);
            let eq = self.b.ins().icmp(IntCC::Equal, v, w);
            acc = Some(match acc {
                Some(a) => self.b.ins().band(a, eq),
                None => eq,
            });
        }
        match acc {
            Some(a) => self.b.ins().vall_true(a),
            None => self.b.ins().iconst(types::I8, 1),
        }
    }

    /// Loads the group's registers and predicates live at `pc` from the per-lane file into
    /// the vector variables, checking that they fit their storage, then enters the vector
    /// code at `pc` (or leaves the group to the scalar loop).
    fn emit_resume_entry(&mut self, pc: u32, base64: Value, fuel0: Value) -> TrResult<()> {
        let fl = MemFlagsData::new().with_notrap();
        let stride8 = self.layout.stride as i32 * 8;
        let live_r = self
            .an
            .live_regs
            .get(pc as usize)
            .copied()
            .unwrap_or([0; 4]);
        let live_p = self.an.live_preds.get(pc as usize).copied().unwrap_or(0);
        let v = self
            .v
            .clone()
            .ok_or_else(|| TrError("no vector state".into()))?;
        let (uregs, aregs, vregs, upreds, vpreds) = (v.uregs, v.aregs, v.vregs, v.upreds, v.vpreds);
        // Affine predicates are not live here (see `vector_resume_pcs`): all false.
        self.def_affine_false(&v.apreds);
        // Every 64-bit image must match what the vector storage would spill (I64X2 masks).
        let mut checks: Vec<Value> = Vec::new();
        for (r, class) in self.an.reg_class.clone().iter().enumerate() {
            let lane = class.lane_type();
            let live = live_r[r / 64] & (1 << (r % 64)) != 0;
            let off = self.layout.regfile as i32 + r as i32 * stride8;
            let images = self.images(live, base64, off);
            let first = if live {
                self.b.ins().load(types::I64, fl, base64, off)
            } else {
                self.b.ins().iconst(types::I64, 0)
            };
            if let Some(u) = uregs[r].or(aregs[r]) {
                let x = if lane.bits() == 32 {
                    let i = self.b.ins().ireduce(types::I32, first);
                    bitcast(&mut self.b, lane, i)
                } else {
                    bitcast(&mut self.b, lane, first)
                };
                self.b.def_var(u, x);
                if live {
                    let expect: Vec<Value> = if uregs[r].is_some() {
                        let s = self.b.ins().splat(types::I64X2, first);
                        vec![s; images.len()]
                    } else if lane.bits() == 32 {
                        let parts = self.v_iota(Ty::U32, x);
                        parts
                            .into_iter()
                            .flat_map(|p| {
                                let lo = self.b.ins().uwiden_low(p);
                                let hi = self.b.ins().uwiden_high(p);
                                [lo, hi]
                            })
                            .collect()
                    } else {
                        self.v_iota(Ty::U64, x)
                    };
                    for (img, e) in images.iter().zip(expect) {
                        checks.push(self.b.ins().icmp(IntCC::Equal, *img, e));
                    }
                }
            } else {
                let vt = vec_of(lane);
                let parts = if !live {
                    vec![konst(&mut self.b, vt, 0); vregs[r].len()]
                } else if lane.bits() == 32 {
                    images.chunks(2).map(|pair| self.narrow(pair, vt)).collect()
                } else {
                    images
                        .iter()
                        .map(|&i| bitcast(&mut self.b, vt, i))
                        .collect()
                };
                for (var, p) in vregs[r].iter().zip(parts) {
                    self.b.def_var(*var, p);
                }
            }
        }
        for (p, &bits) in self.an.pred_bits.clone().iter().enumerate() {
            let live = live_p & (1 << (p % 16)) != 0;
            let off = self.layout.predfile as i32 + p as i32 * stride8;
            let images = self.images(live, base64, off);
            if let Some(u) = upreds[p] {
                let first = if live {
                    self.b.ins().load(types::I64, fl, base64, off)
                } else {
                    self.b.ins().iconst(types::I64, 0)
                };
                let x = self.b.ins().ireduce(types::I8, first);
                self.b.def_var(u, x);
                let s = self.b.ins().splat(types::I64X2, first);
                for img in &images {
                    checks.push(self.b.ins().icmp(IntCC::Equal, *img, s));
                }
            } else if !vpreds[p].is_empty() {
                let vt = if bits == 64 {
                    types::I64X2
                } else {
                    types::I32X4
                };
                let zero = konst(&mut self.b, vt, 0);
                let masks: Vec<Value> = if !live {
                    vec![zero; vpreds[p].len()]
                } else if bits == 64 {
                    images
                        .iter()
                        .map(|&i| self.b.ins().icmp(IntCC::NotEqual, i, zero))
                        .collect()
                } else {
                    images
                        .chunks(2)
                        .map(|pair| {
                            let n = self.narrow(pair, vt);
                            self.b.ins().icmp(IntCC::NotEqual, n, zero)
                        })
                        .collect()
                };
                for (var, m) in vpreds[p].iter().zip(masks) {
                    self.b.def_var(*var, m);
                }
            }
        }
        self.b.def_var(v.vfuel, fuel0);
        self.def_param_vars()?;
        let target = self.v_block(pc)?;
        match checks.into_iter().reduce(|a, b| self.b.ins().band(a, b)) {
            Some(all) => {
                let fits = self.b.ins().vall_true(all);
                self.b.ins().brif(fits, target, &[], self.group_next, &[]);
            }
            None => {
                self.b.ins().jump(target, &[]);
            }
        }
        Ok(())
    }

    /// The group's 64-bit images (`I64X2` pairs of lanes) of a register or predicate at
    /// scratch offset `off` of the file at `base64`; none when it is not `live`.
    fn images(&mut self, live: bool, base64: Value, off: i32) -> Vec<Value> {
        if !live {
            return Vec::new();
        }
        let fl = MemFlagsData::new().with_notrap();
        (0..self.g / 2)
            .map(|k| {
                self.b
                    .ins()
                    .load(types::I64X2, fl, base64, off + k as i32 * 16)
            })
            .collect()
    }

    /// The low 32 bits of each 64-bit lane of two `I64X2` images, as one vector of `vt`
    /// (`I32X4` or `F32X4`).
    fn narrow(&mut self, pair: &[Value], vt: Type) -> Value {
        // Lane-count-changing bitcasts need an explicit byte order.
        let le = MemFlagsData::new().with_endianness(Endianness::Little);
        let lo = self.b.ins().bitcast(types::I8X16, le, pair[0]);
        let hi = pair.get(1).copied().unwrap_or(pair[0]);
        let hi = self.b.ins().bitcast(types::I8X16, le, hi);
        let mask: Vec<u8> = [0u8, 8, 16, 24]
            .iter()
            .flat_map(|&b| [b, b + 1, b + 2, b + 3])
            .collect();
        let imm = self.b.func.dfg.immediates.push(mask.as_slice().into());
        let s = self.b.ins().shuffle(lo, hi, imm);
        self.b.ins().bitcast(vt, le, s)
    }
}
