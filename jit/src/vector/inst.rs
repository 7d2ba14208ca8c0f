//! The vector translation of one instruction: per-pc blocks, branches, arithmetic and
//! conversions.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, Value};
use cranelift_frontend::Variable;
use holovm_isa::{BinOp, Cmp, Inst, Src, Ty};

use super::values::VV;
use crate::analysis::RowSplit;
use crate::ops::{self, bitcast, konst};
use crate::translate::{status, Tr, TrError, TrResult};

impl Tr<'_, '_> {
    pub(crate) fn v_block(&mut self, pc: u32) -> TrResult<Block> {
        if let Some(f) = self.flush_block(pc) {
            return Ok(f);
        }
        let existing = self.vs()?.blocks.get(pc as usize).copied().flatten();
        if let Some(b) = existing {
            return Ok(b);
        }
        let blk = self.b.create_block();
        if let Some(v) = self.v.as_mut() {
            if let Some(slot) = v.blocks.get_mut(pc as usize) {
                *slot = Some(blk);
            }
        }
        Ok(blk)
    }

    /// Taken branch from `pc` to `target`: consume fuel when going backward.
    fn v_goto(&mut self, pc: u32, target: u32) -> TrResult<()> {
        if target <= pc {
            let (vfuel, late) = {
                let v = self.vs()?;
                (v.vfuel, v.late_fuel.get(target as usize) == Some(&Some(pc)))
            };
            let f = self.b.use_var(vfuel);
            if !late {
                let empty = self.b.ins().icmp_imm_s(IntCC::Equal, f, 0);
                self.v_bail_if(empty, pc)?;
            }
            let f = self.b.ins().iadd_imm_s(f, -1);
            self.b.def_var(vfuel, f);
        }
        let t = self.v_block(target)?;
        self.b.ins().jump(t, &[]);
        Ok(())
    }

    /// Emits one instruction in vector code; returns whether the block stays open.
    pub(super) fn v_inst(&mut self, pc: u32, inst: &Inst) -> TrResult<bool> {
        match *inst {
            Inst::Ldg { ty, dst, addr } => {
                let v = self.v_load_at(pc, Some(&addr), None, ty)?;
                self.v_write(dst.0, loaded_as(ty), v)?;
            }
            Inst::Stg { ty, src, addr } => {
                let val = self.v_read_low(src, ty)?;
                self.v_store_at(pc, Some(&addr), None, ty, val)?;
            }
            Inst::Lds { ty, dst, addr } => {
                let v = self.v_load_at(pc, None, Some(&addr), ty)?;
                self.v_write(dst.0, loaded_as(ty), v)?;
            }
            Inst::Sts { ty, src, addr } => {
                let val = self.v_read_low(src, ty)?;
                self.v_store_at(pc, None, Some(&addr), ty, val)?;
            }
            Inst::Mov { ty, dst, src } => {
                let v = self.v_read_low(src, ty)?;
                self.v_write(dst.0, ty, v)?;
            }
            Inst::Cvt { to, from, dst, src } => {
                let v = self.v_read(src, from)?;
                let r = match v {
                    VV::U(x) => VV::U(ops::cvt(&mut self.b, to, from, x)),
                    VV::A(x) if crate::analysis::widened_lane_index(to, from, &src) => {
                        VV::A(self.b.ins().uextend(types::I64, x))
                    }
                    VV::A(x) if self.reg_step(dst.0 as usize) == 1 => {
                        VV::A(self.v_widen_stepped(pc, to, from, x, 1)?)
                    }
                    VV::S(x, step) if self.reg_step(dst.0 as usize) == step => {
                        VV::S(self.v_widen_stepped(pc, to, from, x, step)?, step)
                    }
                    v => {
                        let parts = self.parts(from, v);
                        VV::V(self.v_cvt(to, from, parts))
                    }
                };
                self.v_write(dst.0, to, r)?;
            }
            Inst::Bin { op, ty, dst, a, b } => {
                let stepped = self.v_scale_step(inst)?;
                let r = match stepped.map_or_else(|| self.v_split(pc, inst), |r| Ok(Some(r)))? {
                    Some(r) => r,
                    None if matches!(
                        op,
                        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::And | BinOp::Or | BinOp::Xor
                    ) =>
                    {
                        let x = self.v_read_low(a, ty)?;
                        let y = self.v_read_low(b, ty)?;
                        self.v_bin(pc, op, ty, x, y)?
                    }
                    None => {
                        let x = self.v_read(a, ty)?;
                        let y = self.v_read(b, ty)?;
                        self.v_bin(pc, op, ty, x, y)?
                    }
                };
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Un { op, ty, dst, a } => {
                let x = self.v_read(a, ty)?;
                let r = match x {
                    VV::U(x) => VV::U(ops::simple_un(&mut self.b, op, ty, x)),
                    v => {
                        let parts = self.parts(ty, v);
                        VV::V(ops::un_parts(&mut self.b, op, ty, &parts))
                    }
                };
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Fma { ty, dst, a, b, c } => {
                let x = self.v_read(a, ty)?;
                let y = self.v_read(b, ty)?;
                let z = self.v_read(c, ty)?;
                let r = match (x, y, z) {
                    (VV::U(x), VV::U(y), VV::U(z)) => VV::U(ops::fma(&mut self.b, ty, x, y, z)),
                    (x, y, z) => {
                        let (xs, ys, zs) =
                            (self.parts(ty, x), self.parts(ty, y), self.parts(ty, z));
                        VV::V(
                            (0..xs.len())
                                .map(|k| ops::fma(&mut self.b, ty, xs[k], ys[k], zs[k]))
                                .collect(),
                        )
                    }
                };
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Setp { cmp, ty, dst, a, b } => {
                let p = dst.0 as usize;
                if let Some((af, xvar, uvar)) = self.vs()?.apreds[p] {
                    if self.in_masked() {
                        // Kept as (value, bound), not as masks (the analysis keeps such
                        // compares out of masked code; scalar code takes any that get in).
                        return Err(TrError(format!("p{p}: affine compare in masked code")));
                    }
                    let Some((this, x, u)) = self.affine_setp(inst).filter(|s| s.0 == af) else {
                        return Err(TrError(format!("p{p}: inconsistent affine compare")));
                    };
                    let (VV::A(xv), VV::U(uv)) = (self.v_read(x, ty)?, self.v_read(u, ty)?) else {
                        return Err(TrError(format!("p{p}: operands of {this:?} not affine")));
                    };
                    self.b.def_var(xvar, xv);
                    self.b.def_var(uvar, uv);
                    return Ok(true);
                }
                let x = self.v_read(a, ty)?;
                let y = self.v_read(b, ty)?;
                let (u, parts) = {
                    let v = self.vs()?;
                    (v.upreds[p], v.vpreds[p].clone())
                };
                match (x, y, u) {
                    (VV::U(x), VV::U(y), Some(u)) => {
                        let c = ops::compare(&mut self.b, cmp, ty, x, y);
                        self.b.def_var(u, c);
                    }
                    // The masks have the predicate's width, which may be the other one
                    // (`Analysis::pred_bits`).
                    (VV::U(x), VV::U(y), None) => {
                        let c = ops::compare(&mut self.b, cmp, ty, x, y);
                        let mt = match self.an.pred_bits.get(p) {
                            Some(64) => types::I64X2,
                            _ => types::I32X4,
                        };
                        let m = self.b.ins().bmask(mt.lane_type(), c);
                        let m = self.b.ins().splat(mt, m);
                        self.v_def_parts(&parts, vec![m; parts.len()], (None, Some(p)));
                    }
                    (x, y, None) => {
                        let xs = self.parts(ty, x);
                        let ys = self.parts(ty, y);
                        let cs: Vec<Value> = (0..xs.len())
                            .map(|k| ops::compare(&mut self.b, cmp, ty, xs[k], ys[k]))
                            .collect();
                        let bits = self.an.pred_bits.get(p).copied().unwrap_or(32);
                        let cs = self.masks_as(&cs, bits);
                        self.v_def_parts(&parts, cs, (None, Some(p)));
                    }
                    (_, _, Some(_)) => {
                        return Err(TrError(format!("per-lane compare into uniform p{p}")));
                    }
                }
            }
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            } => {
                let x = self.v_read(a, ty)?;
                let y = self.v_read(b, ty)?;
                let p = pred.0 as usize;
                let (u, parts, ap) = {
                    let v = self.vs()?;
                    (v.upreds[p], v.vpreds[p].clone(), v.apreds[p])
                };
                let bits = ops::compute_lane(ty).bits();
                if let Some((af, xv, uv)) = ap {
                    let masks = self.affine_masks(af, xv, uv);
                    let masks = self.masks_as(&masks, bits);
                    let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
                    if masks.len() != xs.len() {
                        return Err(TrError(format!("p{p} mask width differs from sel")));
                    }
                    let r: Vec<Value> = (0..xs.len())
                        .map(|k| self.blend(masks[k], xs[k], ys[k]))
                        .collect();
                    self.v_write(dst.0, ty, VV::V(r))?;
                    return Ok(true);
                }
                let r = match (u, x, y) {
                    (Some(u), VV::U(x), VV::U(y)) => {
                        let c = self.b.use_var(u);
                        VV::U(self.b.ins().select(c, x, y))
                    }
                    (Some(u), x, y) => {
                        let c = self.b.use_var(u);
                        let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
                        VV::V(
                            (0..xs.len())
                                .map(|k| self.b.ins().select(c, xs[k], ys[k]))
                                .collect(),
                        )
                    }
                    (None, x, y) => {
                        let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
                        let masks: Vec<Value> = parts.iter().map(|&m| self.b.use_var(m)).collect();
                        let masks = self.masks_as(&masks, bits);
                        if masks.len() != xs.len() {
                            return Err(TrError(format!("p{p} mask width differs from sel")));
                        }
                        VV::V(
                            (0..xs.len())
                                .map(|k| self.blend(masks[k], xs[k], ys[k]))
                                .collect(),
                        )
                    }
                };
                self.v_write(dst.0, ty, r)?;
            }
            Inst::Bra { target, guard } => {
                let Some(g) = guard else {
                    if !self.v_else_jump(pc, target)? {
                        self.v_goto(pc, target)?;
                    }
                    return Ok(false);
                };
                let p = g.pred.0 as usize;
                let (u, parts, ap) = {
                    let v = self.vs()?;
                    (v.upreds[p], v.vpreds[p].clone(), v.apreds[p])
                };
                let fall = self.v_block(pc + 1)?;
                let taken = self.b.create_block();
                let masked = match u {
                    Some(_) => None,
                    None => self.masked_join(pc),
                };
                // Lanes that disagree resume at the `setp` that computed the guard when it
                // comes right before: the per-lane code recomputes the predicate, so it need
                // not be saved (its lane masks were most of the bail-out block).
                let setp_before = pc > 0
                    && !self.an.leader[pc as usize]
                    && matches!(self.p.insts()[pc as usize - 1],
                        Inst::Setp { dst, .. } if dst == g.pred);
                let split_pc = if setp_before { pc - 1 } else { pc };
                if let Some(u) = u {
                    let c = self.b.use_var(u);
                    if g.negate {
                        self.b.ins().brif(c, fall, &[], taken, &[]);
                    } else {
                        self.b.ins().brif(c, taken, &[], fall, &[]);
                    }
                } else {
                    // Where the one-compare test below settles a side: whether `any` then
                    // holds for sure (`>`, `>=`), or else `all` fails for sure.
                    let mut any_sure = None;
                    let (any, all) = match ap {
                        Some((af, xv, uv)) => {
                            // The common case of a loop or bounds test first: one compare
                            // that settles every lane; the full test only when it fails.
                            // (Not for masked branches, whose masks the test's block makes.)
                            let below = match masked {
                                Some(_) => None,
                                None => self.affine_below(af, xv, uv),
                            };
                            if let Some(below) = below {
                                let everywhere = matches!(af.cmp, Cmp::Lt | Cmp::Le);
                                let dest = if everywhere != g.negate { taken } else { fall };
                                let slow = self.b.create_block();
                                self.b.ins().brif(below, dest, &[], slow, &[]);
                                self.enter(slow);
                                // (Not sure in a partial group, whose last lane may be a
                                // phantom: the full test reads its lanes in the block.)
                                any_sure = (!self.partial_groups()).then_some(!everywhere);
                            }
                            self.affine_any_all(split_pc, af, xv, uv)?
                        }
                        None => self.v_any_all(&parts),
                    };
                    if let Some(mb) = masked {
                        if mb.skip && mb.else_at.is_none() && ap.is_some() && !self.in_masked() {
                            // Every lane branches past code it may skip: no masks. (An affine
                            // predicate's test is two scalar compares, its masks a few
                            // instructions a vector; a tree reduction's `if %lane < s` skips
                            // in most groups.) Not for an `if`/`else`, whose taken side runs
                            // under the masks made below.
                            let every = if g.negate {
                                self.b.ins().icmp_imm_s(IntCC::Equal, any, 0)
                            } else {
                                all
                            };
                            let masks_needed = self.b.create_block();
                            self.b.ins().brif(every, taken, &[], masks_needed, &[]);
                            self.enter(masks_needed);
                        }
                        let (masks, bits) = match ap {
                            Some((af, xv, uv)) => (self.affine_masks(af, xv, uv), af.ty.bits()),
                            None => (
                                parts.iter().map(|&v| self.b.use_var(v)).collect(),
                                self.an.pred_bits.get(p).copied().unwrap_or(32),
                            ),
                        };
                        let every =
                            self.begin_masked(pc, split_pc, mb, g, masks, bits, (any, all))?;
                        // Skip the fall-through side when every lane branches.
                        if mb.skip {
                            self.b.ins().brif(every, taken, &[], fall, &[]);
                        } else {
                            self.b.ins().jump(fall, &[]);
                        }
                        self.enter(taken);
                        self.v_goto(pc, target)?;
                        return Ok(false);
                    }
                    if let Some(any_sure) = any_sure {
                        // The test failed: the group's last lane has `x CMP u` (`>`, `>=`),
                        // or has not (`<`, `<=`), and `x` does not wrap. So one outcome is
                        // left besides divergence: one branch instead of two.
                        let split = if any_sure {
                            self.b.ins().icmp_imm_s(IntCC::Equal, all, 0)
                        } else {
                            any
                        };
                        self.v_diverge_if(split, pc, split_pc)?;
                        let dest = if any_sure != g.negate { taken } else { fall };
                        self.b.ins().jump(dest, &[]);
                        self.enter(taken);
                        self.v_goto(pc, target)?;
                        return Ok(false);
                    }
                    let mixed = self.b.create_block();
                    if g.negate {
                        // Taken where the predicate is false in every lane.
                        self.b.ins().brif(any, mixed, &[], taken, &[]);
                        self.enter(mixed);
                        let notall = self.b.ins().icmp_imm_s(IntCC::Equal, all, 0);
                        self.v_diverge_if(notall, pc, split_pc)?;
                        self.b.ins().jump(fall, &[]);
                    } else {
                        self.b.ins().brif(all, taken, &[], mixed, &[]);
                        self.enter(mixed);
                        self.v_diverge_if(any, pc, split_pc)?;
                        self.b.ins().jump(fall, &[]);
                    }
                }
                self.enter(taken);
                self.v_goto(pc, target)?;
                return Ok(false);
            }
            Inst::Loop { counter, target } => {
                let r = counter.0 as usize;
                let (u, parts) = {
                    let v = self.vs()?;
                    (v.uregs[r], v.vregs[r].clone())
                };
                let fall = self.v_block(pc + 1)?;
                let taken = self.b.create_block();
                let not_taken = self.b.create_block();
                if let Some(u) = u {
                    let v = self.b.use_var(u);
                    let home = self.b.func.dfg.value_type(v);
                    let iv = bitcast(&mut self.b, home.as_int(), v);
                    let more = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, iv, 1);
                    self.b.ins().brif(more, taken, &[], not_taken, &[]);
                    self.enter(not_taken);
                    let z = konst(&mut self.b, home, 0);
                    self.b.def_var(u, z);
                    self.b.ins().jump(fall, &[]);
                    self.enter(taken);
                    let d = self.b.ins().iadd_imm_s(iv, -1);
                    let d = bitcast(&mut self.b, home, d);
                    // Fuel is checked before the counter changes (a bail-out re-executes).
                    self.v_loop_taken(pc, target, &[(u, d)])?;
                } else {
                    let vals: Vec<Value> = parts.iter().map(|&p| self.b.use_var(p)).collect();
                    let vt = self.b.func.dfg.value_type(vals[0]);
                    let it = vt.as_int();
                    let ivs: Vec<Value> =
                        vals.iter().map(|&v| bitcast(&mut self.b, it, v)).collect();
                    let one = konst(&mut self.b, it, 1);
                    let mut masks = Vec::new();
                    for &iv in &ivs {
                        masks.push(self.b.ins().icmp(IntCC::UnsignedGreaterThan, iv, one));
                    }
                    let any = self.lanes_true(&masks, false);
                    let all = self.lanes_true(&masks, true);
                    let mixed = self.b.create_block();
                    self.b.ins().brif(all, taken, &[], mixed, &[]);
                    self.enter(mixed);
                    self.v_bail_if(any, pc)?;
                    self.b.ins().jump(not_taken, &[]);
                    self.enter(not_taken);
                    let z = konst(&mut self.b, vt, 0);
                    for &p in &parts {
                        self.b.def_var(p, z);
                    }
                    self.b.ins().jump(fall, &[]);
                    self.enter(taken);
                    let mut defs = Vec::new();
                    for (k, &iv) in ivs.iter().enumerate() {
                        let d = self.b.ins().isub(iv, one);
                        let d = bitcast(&mut self.b, vt, d);
                        defs.push((parts[k], d));
                    }
                    self.v_loop_taken(pc, target, &defs)?;
                }
                return Ok(false);
            }
            Inst::Call { .. } | Inst::Ret => {
                self.v_bail(pc)?;
                return Ok(false);
            }
            Inst::Exit => {
                if self.phased {
                    let done = self.b.ins().iconst(types::I32, status::DONE);
                    self.park_words(&[(self.layout.lane_status, done)]);
                }
                self.b.ins().jump(self.group_next, &[]);
                return Ok(false);
            }
            Inst::MemFence => {}
            Inst::BarSync | Inst::Reduce { .. } => {
                if !self.phased {
                    return Err(TrError("barriers need the phased strategy".into()));
                }
                self.v_arrive(pc)?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The taken edge of a loop: fuel first (bailing out with the counter unchanged), then
    /// the counter update and the jump.
    fn v_loop_taken(&mut self, pc: u32, target: u32, defs: &[(Variable, Value)]) -> TrResult<()> {
        if target <= pc {
            let vfuel = self.vs()?.vfuel;
            let f = self.b.use_var(vfuel);
            let empty = self.b.ins().icmp_imm_s(IntCC::Equal, f, 0);
            self.v_bail_if(empty, pc)?;
            let f = self.b.ins().iadd_imm_s(f, -1);
            self.b.def_var(vfuel, f);
        }
        for &(v, d) in defs {
            self.b.def_var(v, d);
        }
        let t = self.v_block(target)?;
        self.b.ins().jump(t, &[]);
        Ok(())
    }

    /// A row/column split whose result the analysis keeps uniform (the quotient) or
    /// lane-affine (the remainder; see [`crate::analysis::Analysis::kept_split`]): computed
    /// for the group's first lane, after bailing out when the divisor is 0 or the group's
    /// lanes straddle a multiple of it (their quotients would differ). `None` for other
    /// instructions.
    fn v_split(&mut self, pc: u32, inst: &Inst) -> TrResult<Option<VV>> {
        let Some(RowSplit {
            op,
            ty,
            dividend: a,
            divisor: b,
        }) = self.an.kept_split(inst)
        else {
            return Ok(None);
        };
        let (VV::A(first), VV::U(n)) = (self.v_read(a, ty)?, self.v_read(b, ty)?) else {
            return Ok(None);
        };
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, n, 0);
        self.v_bail_if(zero, pc)?;
        if let Src::Reg(_) = a {
            // A lane-affine register's lanes hold first + l: consecutive only if that does
            // not wrap around the type within the group.
            let t = self.b.func.dfg.value_type(first);
            let last_ok = konst(&mut self.b, t, ty.mask() - (self.g as u64 - 1));
            let wraps = self
                .b
                .ins()
                .icmp(IntCC::UnsignedGreaterThan, first, last_ok);
            self.v_bail_if(wraps, pc)?;
        }
        let rem = self.b.ins().urem(first, n);
        // Lanes first .. first + G - 1 share the quotient iff n - rem >= G.
        let room = self.b.ins().isub(n, rem);
        let straddle = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThan, room, self.g as i64);
        self.v_bail_if(straddle, pc)?;
        Ok(Some(match op {
            BinOp::Div => VV::U(self.b.ins().udiv(first, n)),
            _ => VV::A(rem),
        }))
    }

    /// The 64-bit first lane of a lane-affine or stepped 32-bit value `x` widened by
    /// `cvt.TO.FROM` ([`crate::analysis::widens`]), bailing out where the group's lanes
    /// wrap in `FROM` (then they are not affine at 64 bits).
    fn v_widen_stepped(
        &mut self,
        pc: u32,
        to: Ty,
        from: Ty,
        x: Value,
        step: u8,
    ) -> TrResult<Value> {
        if !crate::analysis::widens(to, from) {
            return Err(TrError(format!("cvt.{to}.{from} of a lane-affine value")));
        }
        let span = i64::from(step) * (i64::from(self.g) - 1);
        let (cc, most) = match from {
            Ty::U32 => (IntCC::UnsignedGreaterThan, i64::from(u32::MAX)),
            _ => (IntCC::SignedGreaterThan, i64::from(i32::MAX)),
        };
        let wraps = self.b.ins().icmp_imm_s(cc, x, most - span);
        self.v_bail_if(wraps, pc)?;
        Ok(match from {
            Ty::U32 => self.b.ins().uextend(types::I64, x),
            _ => self.b.ins().sextend(types::I64, x),
        })
    }

    /// `shl` by a constant or `mul` by a power of two of a lane-affine or stepped value
    /// into a stepped register ([`crate::analysis::Analysis::reg_step`]): the stepped
    /// value, its lane-0 value scaled. `None` for other instructions.
    fn v_scale_step(&mut self, inst: &Inst) -> TrResult<Option<VV>> {
        let Inst::Bin { op, ty, dst, a, b } = *inst else {
            return Ok(None);
        };
        let want = self.reg_step(dst.0 as usize);
        if want < 2 {
            return Ok(None);
        }
        let (x, factor) = match (op, a, b) {
            (BinOp::Shl, x, Src::Imm(k)) if k < 4 => (x, 1u64 << k),
            (BinOp::Mul, x, Src::Imm(c)) | (BinOp::Mul, Src::Imm(c), x) => (x, c),
            _ => return Ok(None),
        };
        let (first, step) = match self.v_read(x, ty)? {
            VV::A(v) => (v, 1u64),
            VV::S(v, s) => (v, u64::from(s)),
            _ => return Err(TrError(format!("r{}: not a stepped value", dst.0))),
        };
        if step.checked_mul(factor) != Some(u64::from(want)) {
            return Err(TrError(format!("r{}: step {want} expected", dst.0)));
        }
        let first = self
            .b
            .ins()
            .ishl_imm_s(first, factor.trailing_zeros() as i64);
        Ok(Some(VV::S(first, want)))
    }

    fn v_bin(&mut self, pc: u32, op: BinOp, ty: Ty, x: VV, y: VV) -> TrResult<VV> {
        // A lane-affine (stepped) value plus or minus a uniform one stays lane-affine
        // (stepped).
        match (op, &x, &y) {
            (BinOp::Add, VV::A(a), VV::U(u)) | (BinOp::Add, VV::U(u), VV::A(a)) => {
                return Ok(VV::A(self.b.ins().iadd(*a, *u)));
            }
            (BinOp::Sub, VV::A(a), VV::U(u)) => return Ok(VV::A(self.b.ins().isub(*a, *u))),
            (BinOp::Add, VV::S(a, s), VV::U(u)) | (BinOp::Add, VV::U(u), VV::S(a, s)) => {
                return Ok(VV::S(self.b.ins().iadd(*a, *u), *s));
            }
            (BinOp::Sub, VV::S(a, s), VV::U(u)) => return Ok(VV::S(self.b.ins().isub(*a, *u), *s)),
            _ => {}
        }
        if matches!(op, BinOp::Min | BinOp::Max) && ty.is_float() {
            match (&x, &y) {
                (VV::U(c), VV::V(parts)) | (VV::V(parts), VV::U(c)) => {
                    let (c, parts) = (*c, parts.clone());
                    return Ok(VV::V(self.v_minmax_uniform(pc, op, ty, parts, c)?));
                }
                (VV::V(xs), VV::V(ys)) => return Ok(VV::V(self.v_minmax(op, ty, xs, ys))),
                _ => {}
            }
        }
        let int_div = matches!(op, BinOp::Div | BinOp::Rem) && ty.is_int();
        if let (VV::U(x), VV::U(y)) = (&x, &y) {
            let (x, y) = (*x, *y);
            return Ok(VV::U(if int_div {
                let (zero, ovf) = ops::div_checks(&mut self.b, ty, x, y);
                let bad = self.or_flag(ovf, zero);
                self.v_bail_if(bad, pc)?;
                ops::divrem(&mut self.b, op, ty, x, y)
            } else if matches!(op, BinOp::Shl | BinOp::Shr) {
                ops::shift(&mut self.b, op, ty, x, y)
            } else {
                ops::simple_bin(&mut self.b, op, ty, x, y)
            }));
        }
        if int_div {
            let (xs, ys) = (self.parts(ty, x.clone()), self.parts(ty, y.clone()));
            let mut bad: Option<Value> = None;
            for k in 0..xs.len() {
                let (zero, ovf) = ops::div_checks(&mut self.b, ty, xs[k], ys[k]);
                let f = match ovf {
                    Some(o) => self.b.ins().bor(zero, o),
                    None => zero,
                };
                bad = Some(self.or_flag(bad, f));
            }
            if let Some(bad) = bad {
                let any = self.b.ins().vany_true(bad);
                self.v_bail_if(any, pc)?;
            }
            let xl = self.lanes(ty, &x);
            let yl = self.lanes(ty, &y);
            let rl: Vec<Value> = xl
                .iter()
                .zip(&yl)
                .map(|(&a, &b)| ops::divrem(&mut self.b, op, ty, a, b))
                .collect();
            return Ok(VV::V(self.build_parts(ty, &rl)));
        }
        if matches!(op, BinOp::Shl | BinOp::Shr) {
            if let VV::U(amt) = y {
                let xs = self.parts(ty, x);
                return Ok(VV::V(
                    xs.into_iter()
                        .map(|p| ops::shift(&mut self.b, op, ty, p, amt))
                        .collect(),
                ));
            }
            let xl = self.lanes(ty, &x);
            let yl = self.lanes(ty, &y);
            let rl: Vec<Value> = xl
                .iter()
                .zip(&yl)
                .map(|(&a, &b)| ops::shift(&mut self.b, op, ty, a, b))
                .collect();
            return Ok(VV::V(self.build_parts(ty, &rl)));
        }
        let (xs, ys) = (self.parts(ty, x), self.parts(ty, y));
        Ok(VV::V(
            (0..xs.len())
                .map(|k| ops::simple_bin(&mut self.b, op, ty, xs[k], ys[k]))
                .collect(),
        ))
    }
}

/// The type a loaded value of `ty` is written to its register as: an unsigned narrow value
/// is loaded zero-extended, which is already its register lane (no mask needed).
fn loaded_as(ty: Ty) -> Ty {
    match ty {
        Ty::U8 | Ty::U16 => Ty::U32,
        ty => ty,
    }
}
