//! Loops whose lanes leave at different iterations ([`crate::masked_loops`]) run under lane
//! masks: where a group's lanes disagree at the loop's exit branch, the group enters a
//! masked copy of the loop instead of bailing out. The copy starts after the exit branch and
//! goes around the loop back to it, in every lane, until every lane of the group has left.
//! Lanes that left compute on unseen (the loop cannot store, and its gathers use index 0 in
//! them); at the exit branch each lane still running snapshots its registers live past the
//! loop, so that each lane ends with the values it left with. Then the group goes on at the
//! loop's exit target, converged again.
//!
//! Fuel is per lane: the group's counter counts the back edges the running lanes take, and
//! each lane's *bonus* (the back edges it skipped, having left) goes to the scratch memory's
//! bonus words on the way out, which a bail-out adds to the lane's fuel in per-lane code.
//! A check that fails in the copy (a load's bounds check, no fuel for the back edge, the NaN
//! test of a vector min/max, or 2^31 - 1 iterations, which would overflow the lanes' 32-bit
//! bonus counts) restores the registers and the fuel the group had at the exit branch and
//! bails out there: the loop has no side effects, so per-lane code takes each lane through
//! it again and traps exactly where the interpreter would.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use holovm_isa::Inst;

use super::masked::{Masked, MaskedBail};
use crate::listing;
use crate::masked_loops::MaskedLoop;
use crate::ops::konst;
use crate::translate::{Tr, TrResult};

/// A masked loop's exit branch: its predicate's lane masks (`bits`-bit lanes) and whether
/// the lanes that leave are those where it is false.
struct Exit {
    parts: Vec<Variable>,
    invert: bool,
    bits: u32,
}

/// The masked copy's variables: per mask part, the lanes kept (they left) and their bonus
/// counts; per live-out vector variable its snapshot and part index; the lowest the fuel
/// counter may fall to.
struct LoopState {
    keep: Vec<Variable>,
    bonus: Vec<Variable>,
    snaps: Vec<(Variable, Variable, usize)>,
    floor: Value,
}

impl Tr<'_, '_> {
    /// The masked loop whose exit branch is at `pc`, if the group can enter its masked copy
    /// there: outside other masked code, with the branch predicate held as lane masks.
    fn masked_loop_at(&self, pc: u32) -> Option<MaskedLoop> {
        let ml = self.an.masked_loops.get(pc as usize).copied().flatten()?;
        let v = self.v.as_ref()?;
        v.vbonus?;
        let Some(Inst::Bra { guard: Some(g), .. }) = self.p.insts().get(pc as usize) else {
            return None;
        };
        let p = g.pred.0 as usize;
        let masks = v.vpreds.get(p).is_some_and(|m| !m.is_empty());
        let free = v.masked.is_empty() && v.masked_bail.is_none() && v.unmasked.is_none();
        (masks && free).then_some(ml)
    }

    /// At the exit branch `pc`, where `disagree` says the group's lanes go both ways: into
    /// the loop's masked copy when there is one (returns true; the current block goes on
    /// where they agree), else false.
    pub(super) fn v_masked_loop(
        &mut self,
        disagree: Value,
        pc: u32,
        bail_pc: u32,
    ) -> TrResult<bool> {
        let Some(ml) = self.masked_loop_at(pc) else {
            return Ok(false);
        };
        let Some(&Inst::Bra {
            guard: Some(g),
            target,
        }) = self.p.insts().get(pc as usize)
        else {
            return Ok(false);
        };
        let (Some(vbonus), parts) = ({
            let v = self.vs()?;
            (v.vbonus, v.vpreds[g.pred.0 as usize].clone())
        }) else {
            return Ok(false);
        };
        let exit = Exit {
            parts,
            // Lanes leave where the branch goes out of the loop, or, for a conditional back
            // edge, where it does not go back.
            invert: g.negate != (target == ml.top),
            bits: self
                .an
                .pred_bits
                .get(g.pred.0 as usize)
                .copied()
                .unwrap_or(32),
        };
        let entry = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(disagree, entry, &[], cont, &[]);
        self.enter(entry);
        let (st, restore) = self.masked_loop_state(ml, &exit)?;
        let head = self.b.create_block();
        self.b.ins().jump(head, &[]);

        // An iteration, in every lane: lanes that left compute values nobody reads (the
        // loop stores nothing) and keep theirs in the snapshots.
        self.b.switch_to_block(head);
        let keep: Vec<Value> = st.keep.iter().map(|&v| self.b.use_var(v)).collect();
        self.begin_loop_masks(ml, &keep, exit.bits, bail_pc, restore);
        self.masked_iteration(pc, ml, &st, &keep)?;
        // At the exit branch: the lanes still running (leaving now or not) take their
        // current values; the group goes on once every lane has left.
        self.b.set_srcloc(listing::loc(pc, false));
        self.snapshot(&st.snaps, &keep, exit.bits);
        let left = self.leaving(&exit);
        let keep: Vec<Value> = keep
            .iter()
            .zip(&left)
            .map(|(&k, &l)| self.b.ins().bor(k, l))
            .collect();
        let all = self.lanes_true(&keep, true);
        for (&var, &m) in st.keep.iter().zip(&keep) {
            self.b.def_var(var, m);
        }
        let done = self.b.create_block();
        self.b.ins().brif(all, done, &[], head, &[]);
        self.b.seal_block(head);
        self.enter(done);
        if let Some(v) = self.v.as_mut() {
            v.masked_bail = None;
            if ml.loads {
                v.masked.pop();
            }
        }
        for &(var, snap, _) in &st.snaps {
            let x = self.b.use_var(snap);
            self.b.def_var(var, x);
        }
        let bonus: Vec<Value> = st.bonus.iter().map(|&v| self.b.use_var(v)).collect();
        self.add_bonus(vbonus, &bonus);
        let out = self.v_block(ml.out)?;
        self.b.ins().jump(out, &[]);
        self.enter(cont);
        Ok(true)
    }

    /// The lanes that leave the loop at its exit branch, as lane masks.
    fn leaving(&mut self, exit: &Exit) -> Vec<Value> {
        exit.parts
            .iter()
            .map(|&p| {
                let m = self.b.use_var(p);
                match exit.invert {
                    true => self.b.ins().bnot(m),
                    false => m,
                }
            })
            .collect()
    }

    /// On entering the masked copy: its variables, defined for the first iteration (the
    /// lanes leaving at the branch are kept), and the variables to restore on a bail-out
    /// with their values here (the loop's registers and predicates, and the fuel).
    fn masked_loop_state(
        &mut self,
        ml: MaskedLoop,
        exit: &Exit,
    ) -> TrResult<(LoopState, Vec<(Variable, Value)>)> {
        let mut restore = self.written_vars(ml.top as usize..ml.back as usize + 1, None)?;
        // What lanes that left hold where the loop goes on: the written registers and
        // predicates live there, as each lane had them when it left.
        let snaps: Vec<(Variable, Variable, usize)> = restore
            .iter()
            .filter_map(|&(var, x)| {
                let k = self.live_part_at(var, ml.out)?;
                let snap = self.b.declare_var(self.b.func.dfg.value_type(x));
                self.b.def_var(snap, x);
                Some((var, snap, k))
            })
            .collect();
        let vfuel = self.vs()?.vfuel;
        let f0 = self.b.use_var(vfuel);
        restore.push((vfuel, f0));
        // The counter may fall to `floor` at most: no fuel left, or 2^31 - 1 iterations.
        let cap = self.b.ins().iadd_imm_s(f0, -(i32::MAX as i64));
        let zero = self.b.ins().iconst(types::I64, 0);
        let floor = self.b.ins().smax(cap, zero);
        let keep0 = self.leaving(exit);
        let mt = self.b.func.dfg.value_type(keep0[0]);
        let keep: Vec<Variable> = keep0.iter().map(|_| self.b.declare_var(mt)).collect();
        let bonus: Vec<Variable> = keep0.iter().map(|_| self.b.declare_var(mt)).collect();
        let z = konst(&mut self.b, mt, 0);
        for (k, &m) in keep0.iter().enumerate() {
            self.b.def_var(keep[k], m);
            self.b.def_var(bonus[k], z);
        }
        let st = LoopState {
            keep,
            bonus,
            snaps,
            floor,
        };
        Ok((st, restore))
    }

    /// For one iteration: the bail-out that restores `restore` and resumes at `bail_pc`,
    /// and, where the loop loads, a masked level under which the lanes that left gather at
    /// index 0 (masked.rs), so that their indices, computed on from where they left, do
    /// not fail the bounds checks.
    fn begin_loop_masks(
        &mut self,
        ml: MaskedLoop,
        keep: &[Value],
        bits: u32,
        bail_pc: u32,
        restore: Vec<(Variable, Value)>,
    ) {
        let Some(v) = self.v.as_mut() else { return };
        if ml.loads {
            v.masked.push(Masked {
                join: ml.out,
                keep: keep.to_vec(),
                bits,
                other: None,
                else_at: None,
                keep_else: Vec::new(),
                some: keep[0],
                raw: None,
                raw_else: None,
                skip: false,
                pair: None,
                stash: None,
                mask_writes: false,
            });
        }
        v.masked_bail = Some(MaskedBail {
            pc: bail_pc,
            restore,
            stub: None,
            runs: None,
            deferred: Vec::new(),
            flush: None,
        });
    }

    /// The loop's instructions from the exit branch `pc` around to it (exclusive), with
    /// the back edge's bonus counts and fuel check on the way.
    fn masked_iteration(
        &mut self,
        pc: u32,
        ml: MaskedLoop,
        st: &LoopState,
        keep: &[Value],
    ) -> TrResult<()> {
        let insts = self.p.insts().to_vec();
        let vfuel = self.vs()?.vfuel;
        let mut q = pc + 1;
        while q != pc {
            if q == ml.back + 1 || q == ml.back {
                // The back edge, taken by the lanes still running: the others gain a unit.
                self.b.set_srcloc(listing::loc(ml.back, false));
                for (k, &var) in st.bonus.iter().enumerate() {
                    let b = self.b.use_var(var);
                    let b = self.b.ins().isub(b, keep[k]);
                    self.b.def_var(var, b);
                }
                let f = self.b.use_var(vfuel);
                let out = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, f, st.floor);
                self.v_bail_if(out, ml.back)?;
                let f = self.b.ins().iadd_imm_s(f, -1);
                self.b.def_var(vfuel, f);
                q = ml.top;
                continue;
            }
            self.b.set_srcloc(listing::loc(q, false));
            self.v_inst(q, &insts[q as usize])?;
            q += 1;
        }
        Ok(())
    }

    /// Each snapshot takes its variable's value in the lanes `keep` does not keep.
    fn snapshot(&mut self, snaps: &[(Variable, Variable, usize)], keep: &[Value], bits: u32) {
        let mut other: Option<Vec<Value>> = None;
        for &(var, snap, k) in snaps {
            let x = self.b.use_var(var);
            let old = self.b.use_var(snap);
            let vt = self.b.func.dfg.value_type(x);
            let m = if vt.lane_bits() == bits {
                keep[k]
            } else {
                let ms = match other.take() {
                    Some(ms) => ms,
                    None => self.masks_as(keep, vt.lane_bits()),
                };
                let m = ms[k];
                other = Some(ms);
                m
            };
            let x = self.blend(m, old, x);
            self.b.def_var(snap, x);
        }
    }

    /// The index of `var` among the vector parts of its register or predicate, if that is
    /// live at `pc`.
    fn live_part_at(&self, var: Variable, pc: u32) -> Option<usize> {
        let v = self.v.as_ref()?;
        let pc = pc as usize;
        let at = |parts: &Vec<Variable>| parts.iter().position(|&x| x == var);
        if let Some((r, k)) = v
            .vregs
            .iter()
            .enumerate()
            .find_map(|(r, p)| Some((r, at(p)?)))
        {
            let live = self.an.live_regs.get(pc);
            return live
                .is_none_or(|l| l[r / 64] & (1 << (r % 64)) != 0)
                .then_some(k);
        }
        let (p, k) = v
            .vpreds
            .iter()
            .enumerate()
            .find_map(|(p, ps)| Some((p, at(ps)?)))?;
        let live = self.an.live_preds.get(pc);
        live.is_none_or(|l| l & (1 << (p % 16)) != 0).then_some(k)
    }

    /// Adds each lane's bonus (`bonus`: `I32X4` or `I64X2` parts) to its bonus word, which
    /// holds nothing yet when `vbonus` is 0; sets `vbonus`.
    fn add_bonus(&mut self, vbonus: Variable, bonus: &[Value]) {
        let wide: Vec<Value> = bonus
            .iter()
            .flat_map(|&b| {
                if self.b.func.dfg.value_type(b) == types::I64X2 {
                    vec![b]
                } else {
                    vec![self.b.ins().uwiden_low(b), self.b.ins().uwiden_high(b)]
                }
            })
            .collect();
        let valid = self.bonus_valid_mask(vbonus);
        let fl = MemFlagsData::trusted();
        let base = self.layout.bonus as i32;
        for (k, &w) in wide.iter().enumerate() {
            let old = self
                .b
                .ins()
                .load(types::I64X2, fl, self.scratch, base + 16 * k as i32);
            let old = self.b.ins().band(old, valid);
            let new = self.b.ins().iadd(old, w);
            self.b
                .ins()
                .store(fl, new, self.scratch, base + 16 * k as i32);
        }
        let one = self.b.ins().iconst(types::I8, 1);
        self.b.def_var(vbonus, one);
    }

    /// All ones when the bonus words hold the group's bonuses (`vbonus` is 1), else zeros
    /// (`I64X2`).
    fn bonus_valid_mask(&mut self, vbonus: Variable) -> Value {
        let flag = self.b.use_var(vbonus);
        let flag = self.b.ins().uextend(types::I64, flag);
        let zero = self.b.ins().iconst(types::I64, 0);
        let mask = self.b.ins().isub(zero, flag);
        self.b.ins().splat(types::I64X2, mask)
    }

    /// In the bail-out block: zeroes the bonus words unless a masked loop of this group
    /// wrote them, so that per-lane code can add them to every lane's fuel.
    pub(super) fn settle_bonus(&mut self) -> TrResult<()> {
        let Some(vbonus) = self.vs()?.vbonus else {
            return Ok(());
        };
        let valid = self.bonus_valid_mask(vbonus);
        let fl = MemFlagsData::trusted();
        let base = self.layout.bonus as i32;
        for k in 0..self.g as i32 / 2 {
            let old = self
                .b
                .ins()
                .load(types::I64X2, fl, self.scratch, base + 16 * k);
            let new = self.b.ins().band(old, valid);
            self.b.ins().store(fl, new, self.scratch, base + 16 * k);
        }
        Ok(())
    }
}
