//! Lane-affine predicates ([`Affine`]) and the any/all tests of branch conditions.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Type, Value};
use cranelift_frontend::Variable;
use holovm_isa::{Cmp, Inst, Special, Src, Ty};

use crate::ops::{self, bitcast, compute_lane, compute_vec, konst};
use crate::translate::{Tr, TrResult};

/// An affine predicate: `x CMP u` with `x` lane-affine and `u` uniform (`u CMP x` is stored
/// flipped). For an order comparison, while `x` does not wrap within the group, the
/// predicate is monotone in the lane, so the first and last lanes decide "all" and "any";
/// for `eq`/`ne`, at most the lane `u - x` (wrapping) differs from the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine {
    pub(super) cmp: Cmp,
    pub(super) ty: Ty,
    /// `x` can wrap within a group (a register, or `%gid` as `i32`), so a branch checks
    /// that it does not before testing the first and last lanes.
    checked: bool,
}

impl Affine {
    /// The type of the pair's values (the lane-affine operand's first lane, the uniform
    /// one).
    pub(crate) fn pair_type(&self) -> Type {
        compute_lane(self.ty)
    }

    /// `(x, u)` that make the predicate false in every lane (the initial state). `ne` has
    /// none (it holds in all lanes but at most one): such a predicate is affine only where
    /// it is not read before it is written ([`Tr::affine_preds`]), so any pair does.
    fn all_false(&self, g: u32) -> (u64, u64) {
        match self.cmp {
            Cmp::Lt => (0, 0),
            Cmp::Le => (1, 0),
            _ => (0, g as u64),
        }
    }

    /// `eq` or `ne`: no order, one lane at most differs.
    fn equality(&self) -> bool {
        matches!(self.cmp, Cmp::Eq | Cmp::Ne)
    }

    /// Recognises `setp` forms that qualify: returns the predicate and its (`x`, `u`)
    /// operands. `affine(s)` is `Some(special)` for a lane-affine source.
    fn of(
        inst: &Inst,
        affine: &dyn Fn(&Src) -> Option<bool>,
        uniform: &dyn Fn(&Src) -> bool,
    ) -> Option<(Affine, Src, Src)> {
        let Inst::Setp { cmp, ty, a, b, .. } = *inst else {
            return None;
        };
        if !crate::analysis::affine_type(ty) {
            return None;
        }
        let (cmp, x, u, special) = match (affine(&a), affine(&b)) {
            (Some(sp), None) if uniform(&b) => (cmp, a, b, sp),
            (None, Some(sp)) if uniform(&a) => {
                let flipped = match cmp {
                    Cmp::Lt => Cmp::Gt,
                    Cmp::Le => Cmp::Ge,
                    Cmp::Gt => Cmp::Lt,
                    Cmp::Ge => Cmp::Le,
                    other => other,
                };
                (flipped, b, a, sp)
            }
            _ => return None,
        };
        // `%gid` and `%lane` stay below 2^32 within a launch: they only wrap as `i32`.
        let checked = !special || ty == Ty::I32;
        Some((Affine { cmp, ty, checked }, x, u))
    }
}

impl Tr<'_, '_> {
    // ---------------------------------------------------------------------------------
    // Predicates and control flow
    // ---------------------------------------------------------------------------------

    /// Sets every affine predicate to false in all lanes (their initial state).
    pub(crate) fn def_affine_false(&mut self, apreds: &[Option<(Affine, Variable, Variable)>]) {
        for &(a, xv, uv) in apreds.iter().flatten() {
            let (x, u) = a.all_false(self.g);
            let x = konst(&mut self.b, compute_lane(a.ty), x);
            let u = konst(&mut self.b, compute_lane(a.ty), u);
            self.b.def_var(xv, x);
            self.b.def_var(uv, u);
        }
    }

    /// Which predicates are affine (see [`Affine`]).
    pub(super) fn affine_preds(&self) -> Vec<Option<Affine>> {
        let np = self.an.pred_bits.len();
        let mut out: Vec<Option<Option<Affine>>> = vec![None; np];
        for inst in self.p.insts() {
            if let Inst::Setp { dst, .. } = inst {
                let p = dst.0 as usize;
                if p >= np {
                    continue;
                }
                // `ne` has no all-false pair: not where the initial (false) state is read.
                let read_first = self
                    .an
                    .live_preds
                    .first()
                    .is_some_and(|l| l & (1 << (p % 16)) != 0);
                let a = self
                    .affine_setp(inst)
                    .map(|x| x.0)
                    .filter(|a| !(a.cmp == Cmp::Ne && read_first));
                out[p] = match (out[p], a) {
                    (None, a) => Some(a),
                    (Some(Some(x)), Some(y)) if x == y => Some(Some(x)),
                    _ => Some(None),
                };
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(p, a)| {
                if self.an.pred_uniform[p] {
                    None
                } else {
                    a.flatten()
                }
            })
            .collect()
    }

    /// [`Affine::of`] with this program's lane-affine and uniform sources.
    pub(super) fn affine_setp(&self, inst: &Inst) -> Option<(Affine, Src, Src)> {
        let affine = |s: &Src| match s {
            Src::Special(Special::GlobalId | Special::Lane) => Some(true),
            Src::Reg(r) => self.is_affine_reg(r.0 as usize).then_some(false),
            _ => None,
        };
        let uniform = |s: &Src| self.is_uniform_src(s);
        Affine::of(inst, &affine, &uniform)
    }

    /// The lane masks of an affine predicate.
    pub(super) fn affine_masks(&mut self, a: Affine, x: Variable, u: Variable) -> Vec<Value> {
        let x = self.b.use_var(x);
        let u = self.b.use_var(u);
        let xs = self.v_iota(a.ty, x);
        let us = self.b.ins().splat(compute_vec(a.ty), u);
        xs.into_iter()
            .map(|x| ops::compare(&mut self.b, a.cmp, a.ty, x, us))
            .collect()
    }

    /// (any, all) of an affine predicate from its first and last lanes; first bails out at
    /// `pc` if the lanes' `x` wraps within the group (the predicate is then not monotone).
    /// A monotone predicate holds in some lane iff it holds at the lane where it is easiest
    /// (the last for `>`/`>=`, the first for `<`/`<=`), and in all iff at the other end.
    pub(super) fn affine_any_all(
        &mut self,
        pc: u32,
        a: Affine,
        x: Variable,
        u: Variable,
    ) -> TrResult<(Value, Value)> {
        let first = self.b.use_var(x);
        let u = self.b.use_var(u);
        if a.equality() {
            // Lane `l` has `x + l == u` for `l = u - x` (wrapping) only: some lane iff that is
            // below G; never every lane (G > 1).
            // (In a partial group the lane may be a phantom (partial.rs): the test then
            // finds the lanes disagreeing where those in the block agree, and the group
            // continues in per-lane code, as it would where they disagree.)
            let d = self.b.ins().isub(u, first);
            let g = self.g as i64;
            let b = &mut self.b;
            return Ok(match a.cmp {
                Cmp::Eq => (
                    b.ins().icmp_imm_s(IntCC::UnsignedLessThan, d, g),
                    b.ins().iconst(types::I8, 0),
                ),
                _ => (
                    b.ins().iconst(types::I8, 1),
                    b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, d, g),
                ),
            });
        }
        let span = self.g as i64 - 1;
        if a.checked {
            // The largest first lane whose group does not wrap (as a sign-extended immediate).
            let (cc, max) = match a.ty {
                Ty::I32 => (IntCC::SignedGreaterThan, i32::MAX as i64 - span),
                Ty::I64 => (IntCC::SignedGreaterThan, i64::MAX - span),
                Ty::U32 => (
                    IntCC::UnsignedGreaterThan,
                    (u32::MAX - span as u32) as i32 as i64,
                ),
                _ => (IntCC::UnsignedGreaterThan, (u64::MAX - span as u64) as i64),
            };
            let wraps = self.b.ins().icmp_imm_s(cc, first, max);
            self.v_bail_if(wraps, pc)?;
        }
        let last = self.last_lane_of(first, span);
        let c0 = ops::compare(&mut self.b, a.cmp, a.ty, first, u);
        let c1 = ops::compare(&mut self.b, a.cmp, a.ty, last, u);
        Ok(match a.cmp {
            Cmp::Gt | Cmp::Ge => (c1, c0),
            _ => (c0, c1),
        })
    }

    /// For an affine predicate `x CMP u`: true when every lane of the group has `x < u`
    /// (for `>=` and `<`) or `x <= u` (for `>` and `<=`) and `x` does not wrap within the
    /// group, so the predicate is false (`>=`, `>`) or true (`<`, `<=`) in every lane. One
    /// compare of the last lane, computed without wrapping: a 32-bit `x` is widened to 64
    /// bits, where `x + G - 1 < u` also proves that the group does not wrap (`u` fits in 32
    /// bits). `None` for a 64-bit `x` that can wrap (the full test decides).
    pub(super) fn affine_below(&mut self, a: Affine, x: Variable, u: Variable) -> Option<Value> {
        if a.equality() {
            return None;
        }
        let strict = matches!(a.cmp, Cmp::Ge | Cmp::Lt);
        let signed = matches!(a.ty, Ty::I32 | Ty::I64);
        let cc = match (strict, signed) {
            (true, true) => IntCC::SignedLessThan,
            (true, false) => IntCC::UnsignedLessThan,
            (false, true) => IntCC::SignedLessThanOrEqual,
            (false, false) => IntCC::UnsignedLessThanOrEqual,
        };
        let first = self.b.use_var(x);
        let u = self.b.use_var(u);
        let (first, u) = match a.ty {
            Ty::I32 => (
                self.b.ins().sextend(types::I64, first),
                self.b.ins().sextend(types::I64, u),
            ),
            Ty::U32 => (
                self.b.ins().uextend(types::I64, first),
                self.b.ins().uextend(types::I64, u),
            ),
            _ if a.checked => return None,
            _ => (first, u),
        };
        // The group's last lane, a partial group's phantoms too (partial.rs): where that
        // fails, the full test decides by its lanes in the block.
        let last = self.b.ins().iadd_imm_s(first, self.g as i64 - 1);
        Some(self.b.ins().icmp(cc, last, u))
    }

    /// The last lane's value of a lane-affine `first` whose group spans `span` lanes after
    /// the first: a partial group's last lane in the block (partial.rs), so that its
    /// phantoms do not decide branches.
    fn last_lane_of(&mut self, first: Value, span: i64) -> Value {
        let ty = self.b.func.dfg.value_type(first);
        match self.group_last(ty) {
            Some(last) => self.b.ins().iadd(first, last),
            None => self.b.ins().iadd_imm_s(first, span),
        }
    }

    /// (any lane true, all lanes true) of a per-lane predicate, as `I8`s.
    pub(super) fn v_any_all(&mut self, parts: &[Variable]) -> (Value, Value) {
        let vals: Vec<Value> = parts.iter().map(|&p| self.b.use_var(p)).collect();
        (self.lanes_true(&vals, false), self.lanes_true(&vals, true))
    }

    /// Whether the lane masks `masks` are set in every lane (`every`) or in some lane.
    pub(super) fn lanes_true(&mut self, masks: &[Value], every: bool) -> Value {
        let mut acc = masks[0];
        for &m in &masks[1..] {
            acc = if every {
                self.b.ins().band(acc, m)
            } else {
                self.b.ins().bor(acc, m)
            };
        }
        if every {
            // The masks' byte signs, all set: `pmovmskb` and a compare (`vall_true` is a
            // compare of every lane with zero and a `ptest`), as lane masks are whole.
            let bytes = bitcast(&mut self.b, types::I8X16, acc);
            let signs = self.b.ins().vhigh_bits(types::I32, bytes);
            self.b.ins().icmp_imm_s(IntCC::Equal, signs, 0xffff)
        } else {
            self.b.ins().vany_true(acc)
        }
    }
}
