//! Leaving vector code: the bail-out stubs and block, which spill a group's registers and
//! run its lanes in scalar code (phased strategy: park them).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::Variable;
use holovm_isa::Ty;

use super::{mask_of, vec_of, VState};
use crate::ops::{compute_lane, konst};
use crate::parked::{flag, parks_whole, whole_park_pcs, ARRIVE_WHOLE};
use crate::phased::Bound;
use crate::translate::{status, Tr, TrResult};

impl Tr<'_, '_> {
    /// The bail-out block's arguments for resuming at `pc` (phased: ready to resume).
    fn bail_args(&mut self, pc: u32, status: i64) -> Vec<BlockArg> {
        let mut args = vec![BlockArg::Value(self.b.ins().iconst(types::I32, pc as i64))];
        if self.phased {
            args.push(BlockArg::Value(self.b.ins().iconst(types::I32, status)));
        }
        args
    }

    /// Before a jump to the bail-out block for `pc`: the registers and predicates dead at
    /// `pc` take zero on this edge. The bail-out block spills every register live at any of
    /// its pcs; without this, a register dead here would stay live through the vector code
    /// just to be spilled where no lane reads it (tree_sum moved 14 dead vectors on every
    /// back edge of its loop).
    fn forget_dead(&mut self, pc: u32) -> TrResult<()> {
        let (live_r, live_p) = self.live_at(std::iter::once(pc));
        let vs = self.vs()?;
        let mut dead: Vec<(Variable, Type)> = Vec::new();
        for (r, class) in self.an.reg_class.iter().enumerate() {
            if live_r[r / 64] & (1 << (r % 64)) != 0 {
                continue;
            }
            let lane = class.lane_type();
            dead.extend(vs.uregs[r].iter().chain(&vs.aregs[r]).map(|&v| (v, lane)));
            dead.extend(vs.vregs[r].iter().map(|&v| (v, vec_of(lane))));
        }
        for (p, &bits) in self.an.pred_bits.iter().enumerate() {
            if live_p & (1 << (p % 16)) != 0 {
                continue;
            }
            dead.extend(vs.upreds[p].map(|v| (v, types::I8)));
            if let Some((a, x, u)) = vs.apreds[p] {
                let t = compute_lane(a.ty);
                dead.extend([(x, t), (u, t)]);
            }
            let vt = mask_of(bits);
            dead.extend(vs.vpreds[p].iter().map(|&v| (v, vt)));
        }
        // One zero of each type.
        let mut zeros: Vec<(Type, Value)> = Vec::new();
        for (var, t) in dead {
            let z = match zeros.iter().find(|z| z.0 == t) {
                Some(&(_, z)) => z,
                None => {
                    let z = konst(&mut self.b, t, 0);
                    zeros.push((t, z));
                    z
                }
            };
            self.b.def_var(var, z);
        }
        Ok(())
    }

    /// Jumps to the bail-out block, resuming at `pc`.
    pub(super) fn v_bail(&mut self, pc: u32) -> TrResult<()> {
        let bail = self.vs()?.bail;
        self.resume_pcs.insert(pc);
        if let Some(v) = self.v.as_mut() {
            v.bail_pcs.insert(pc);
        }
        self.forget_dead(pc)?;
        let args = self.bail_args(pc, status::READY);
        self.b.ins().jump(bail, &args);
        Ok(())
    }

    /// Where the lanes disagree (`cond`) at the branch at `pc`: into its loop's masked copy
    /// (masked_loop.rs) or to the masked copy of its code if this is the unmasked one, else
    /// out of vector code at `split_pc`.
    pub(super) fn v_diverge_if(&mut self, cond: Value, pc: u32, split_pc: u32) -> TrResult<()> {
        if self.v_masked_loop(cond, pc, split_pc)? {
            return Ok(());
        }
        let copy = self.v.as_ref().and_then(|v| v.unmasked);
        let Some((_, masked)) = copy.filter(|c| c.0 == pc) else {
            return self.v_bail_if(cond, split_pc);
        };
        let cont = self.b.create_block();
        self.b.ins().brif(cond, masked, &[], cont, &[]);
        self.enter(cont);
        Ok(())
    }

    /// `if cond { bail(pc) }`, continuing in a new block.
    /// Inside a masked body, the body's stub (masked.rs) instead.
    pub(super) fn v_bail_if(&mut self, cond: Value, pc: u32) -> TrResult<()> {
        if let Some(stub) = self.masked_stub() {
            let cont = self.b.create_block();
            self.b.ins().brif(cond, stub, &[], cont, &[]);
            self.enter(cont);
            return Ok(());
        }
        let existing = self.vs()?.stub_at.get(&pc).copied();
        let stub = match existing {
            Some(s) => s,
            None => {
                // Filled by `emit_stubs` once the program is translated.
                let stub = self.b.create_block();
                self.b.set_cold_block(stub);
                if let Some(v) = self.v.as_mut() {
                    v.stubs.push((pc, stub));
                    v.stub_at.insert(pc, stub);
                }
                stub
            }
        };
        let cont = self.b.create_block();
        self.b.ins().brif(cond, stub, &[], cont, &[]);
        self.enter(cont);
        Ok(())
    }

    /// The bail-out stubs: each jumps to the bail-out block with its pc (a masked body's
    /// first restores the registers the body wrote).
    pub(super) fn emit_stubs(&mut self) -> TrResult<()> {
        for (pc, stub) in self.vs()?.stubs.clone() {
            self.enter(stub);
            self.v_bail(pc)?;
        }
        for m in self.vs()?.masked_stubs.clone() {
            let Some(stub) = m.stub else { continue };
            self.enter(stub);
            for (var, x) in m.restore {
                self.b.def_var(var, x);
            }
            self.clear_masked_runs(m.runs);
            self.v_bail(m.pc)?;
        }
        Ok(())
    }

    /// Phased strategy: the group arrives at the barrier at `pc` and parks there (whole at
    /// one of [`whole_park_pcs`]).
    pub(super) fn v_arrive(&mut self, pc: u32) -> TrResult<()> {
        let bail = self.vs()?.bail;
        let status = if parks_whole(self.p, pc) {
            ARRIVE_WHOLE
        } else {
            status::WAIT
        };
        self.forget_dead(pc)?;
        let args = self.bail_args(pc, status);
        self.b.ins().jump(bail, &args);
        Ok(())
    }

    /// Phased strategy: stores each `(off, value)` (`I32` or `I64`) into the group's lanes'
    /// entries of the per-lane array at scratch offset `off`, in a loop of 4 lanes a step for
    /// groups of 16 or 32 lanes (unrolled, a 32-lane group's bail-out block was 40 stores,
    /// 6% of sum's kernel compile).
    pub(super) fn park_words(&mut self, words: &[(u32, Value)]) {
        let splats: Vec<(u32, Value, bool)> = words
            .iter()
            .map(|&(off, v)| {
                let wide = self.b.func.dfg.value_type(v).bits() == 64;
                let vt = if wide { types::I64X2 } else { types::I32X4 };
                (off, self.b.ins().splat(vt, v), wide)
            })
            .collect();
        let l0 = self.b.use_var(self.lane0);
        let fl = MemFlagsData::new().with_notrap();
        if let [(off, v, false)] = splats[..] {
            // One 32-bit word (an `exit`'s status, a whole park's): G/4 stores, no loop.
            let (at, at_off) = self.lane_entry_of(off, 4, l0);
            for k in 0..self.g as i32 / 4 {
                self.b.ins().store(fl, v, at, at_off + k * 16);
            }
            return;
        }
        if self.g <= 8 {
            // One or two steps: unrolled (as a loop, a fifth of softmax_rows' parking).
            let bases = self.group_file_bases();
            for k in 0..self.g as i32 / 4 {
                for &(off, v, wide) in &splats {
                    if wide {
                        let o = off as i32 + 32 * k;
                        self.b.ins().store(fl, v, bases[1], o);
                        self.b.ins().store(fl, v, bases[1], o + 16);
                    } else {
                        self.b.ins().store(fl, v, bases[0], off as i32 + 16 * k);
                    }
                }
            }
            return;
        }
        let end = self.b.ins().iadd_imm_s(l0, self.g as i64);
        self.for_lane_steps(l0, end, Bound::None, &mut |t, l, _| {
            let l = t.b.ins().uextend(types::I64, l);
            let bases = t.file_bases(l);
            for &(off, v, wide) in &splats {
                if wide {
                    t.b.ins().store(fl, v, bases[1], off as i32);
                    t.b.ins().store(fl, v, bases[1], off as i32 + 16);
                } else {
                    t.b.ins().store(fl, v, bases[0], off as i32);
                }
            }
        });
    }

    /// Stores the group's registers and predicates of `live` into the register file at
    /// `bases` (the group's first lane's), each as its vectors are, 4 bytes per lane for
    /// 32-bit registers (see `Tr::reg_slot_bytes`); with `first_lane`, uniform and
    /// lane-affine registers in the first lane's slot only, and lane-affine predicates as
    /// their pair (the lane-affine operand's first lane, the uniform one) in the first two
    /// lanes' (parked.rs).
    fn spill_group(
        &mut self,
        vs: &VState,
        live: ([u64; 4], u16),
        bases: [Value; 2],
        first_lane: bool,
    ) {
        let g = self.g;
        let fl = MemFlagsData::new().with_notrap();
        let (live_r, live_p) = live;
        for (r, class) in self.an.reg_class.clone().iter().enumerate() {
            if live_r[r / 64] & (1 << (r % 64)) == 0 {
                continue;
            }
            let vt = vec_of(class.lane_type());
            let (at, base) = self.reg_slot(r, bases);
            let vals: Vec<Value> = match (vs.uregs[r], vs.aregs[r]) {
                (Some(u), _) if first_lane => vec![self.b.use_var(u)],
                (None, Some(a)) if first_lane => vec![self.b.use_var(a)],
                (Some(u), _) => {
                    let v = self.b.use_var(u);
                    vec![self.b.ins().splat(vt, v); (g / vt.lane_count()) as usize]
                }
                (None, Some(a)) => {
                    let x = self.b.use_var(a);
                    let ty = if vt.lane_bits() == 32 {
                        Ty::U32
                    } else {
                        Ty::U64
                    };
                    let step = self.reg_step(r);
                    self.v_iota_step(ty, x, step)
                }
                (None, None) => vs.vregs[r].iter().map(|&pv| self.b.use_var(pv)).collect(),
            };
            for (k, v) in vals.into_iter().enumerate() {
                self.b.ins().store(fl, v, at, base + k as i32 * 16);
            }
        }
        // Predicates take 8 bytes a lane.
        let file = bases[1];
        let stride = self.layout.stride;
        for (p, &bits) in self.an.pred_bits.clone().iter().enumerate() {
            if live_p & (1 << (p % 16)) == 0 {
                continue;
            }
            let base = self.layout.predfile as i32 + (p as u32 * stride * 8) as i32;
            if let Some(u) = vs.upreds[p] {
                let v = self.b.use_var(u);
                let i = self.b.ins().uextend(types::I64, v);
                let s = self.b.ins().splat(types::I64X2, i);
                for k in 0..g / 2 {
                    self.b.ins().store(fl, s, file, base + k as i32 * 16);
                }
            } else if let Some((_, x, u)) = vs.apreds[p].filter(|_| first_lane) {
                // A lane-affine predicate's pair, in the first two lanes' slots.
                let (x, u) = (self.b.use_var(x), self.b.use_var(u));
                self.b.ins().store(fl, x, file, base);
                self.b.ins().store(fl, u, file, base + 8);
            } else {
                let masks: Vec<Value> = match vs.apreds[p] {
                    Some((a, x, u)) => self.affine_masks(a, x, u),
                    None => vs.vpreds[p].iter().map(|&pv| self.b.use_var(pv)).collect(),
                };
                // All-ones lanes become 1 by a shift: a constant would be hoisted (see
                // `cold_iota`).
                for (k, &m) in masks.iter().enumerate() {
                    if bits == 64 {
                        let v = self.b.ins().ushr_imm_u(m, 63);
                        self.b.ins().store(fl, v, file, base + k as i32 * 16);
                    } else {
                        let v = self.b.ins().ushr_imm_u(m, 31);
                        let lo = self.b.ins().uwiden_low(v);
                        let hi = self.b.ins().uwiden_high(v);
                        let o = base + k as i32 * 32;
                        self.b.ins().store(fl, lo, file, o);
                        self.b.ins().store(fl, hi, file, o + 16);
                    }
                }
            }
        }
    }

    /// The group's fuel where it leaves vector code, never negative (-1: a backward `bra`
    /// taken without fuel, about to trap at the bail pc); phased, stored in its first lane's
    /// slot (the lanes' fuel is the group's, see `Tr::unpark_group`).
    fn bail_fuel(&mut self, vs: &VState) -> Value {
        let f = self.b.use_var(vs.vfuel);
        let zero64 = self.b.ins().iconst(types::I64, 0);
        let f = self.b.ins().smax(f, zero64);
        if self.phased {
            let l0 = self.b.use_var(self.lane0);
            let (at, at_off) = self.lane_entry_of(self.layout.lane_fuel, 8, l0);
            self.b
                .ins()
                .store(MemFlagsData::new().with_notrap(), f, at, at_off);
        }
        f
    }

    /// The register file's bases for the group, which starts at lane `lane0` of the block.
    fn group_file_bases(&mut self) -> [Value; 2] {
        let l0 = self.b.use_var(self.lane0);
        let l0 = self.b.ins().uextend(types::I64, l0);
        self.file_bases(l0)
    }

    /// Phased strategy: the bail-out block, where a group leaving vector code parks: at a
    /// barrier (WAIT) spilling the registers live at the barriers (whole at a `bar.sync` of
    /// [`whole_park_pcs`]) and continuing a float reduction's chain; bailing out (READY)
    /// also those live at the bail-out pcs. Then its lanes' pc and status are recorded and
    /// the next group runs. (Spilling the union at barriers stored 12 vectors in
    /// softmax_rows where 6 are read; a block of its own for arrivals cost its compile 3%.)
    fn emit_park(&mut self, vs: &VState) -> TrResult<()> {
        let fl = MemFlagsData::new().with_notrap();
        self.enter(vs.bail);
        let pc = self.b.append_block_param(vs.bail, types::I32);
        let status = self.b.append_block_param(vs.bail, types::I32);
        let bases = self.group_file_bases();
        self.bail_fuel(vs);
        let whole_pcs = whole_park_pcs(self.p);
        if !whole_pcs.is_empty() {
            // At a `bar.sync` the group parks whole: every lane's status, its uniform and
            // lane-affine registers and pc in its first lane's slots only (parked.rs).
            let (whole, each) = (self.b.create_block(), self.b.create_block());
            let w = self.b.ins().icmp_imm_s(IntCC::Equal, status, ARRIVE_WHOLE);
            self.b.ins().brif(w, whole, &[], each, &[]);
            self.b.switch_to_block(whole);
            let live = self.live_at(whole_pcs.into_iter());
            self.spill_group(vs, live, bases, true);
            let l0 = self.b.use_var(self.lane0);
            let parked = self.b.ins().iconst(types::I32, flag::WHOLE);
            for (off, v) in [
                (self.layout.lane_pc, pc),
                (self.layout.group_parked, parked),
            ] {
                let (at, at_off) = self.lane_entry_of(off, 4, l0);
                self.b.ins().store(fl, v, at, at_off);
            }
            // One word, so unrolled (as a loop, a quarter of a tree reduction's parking).
            let wait = self.b.ins().iconst(types::I32, status::WAIT);
            self.park_words(&[(self.layout.lane_status, wait)]);
            self.b.ins().jump(self.group_next, &[]);
            self.b.switch_to_block(each);
        }
        let (at_r, at_p) = self.live_at(self.barrier_pcs.iter().copied());
        self.spill_group(vs, (at_r, at_p), bases, false);
        let (bail_r, bail_p) = self.live_at(vs.bail_pcs.iter().copied());
        let rest = (
            std::array::from_fn(|w| bail_r[w] & !at_r[w]),
            bail_p & !at_p,
        );
        if rest.0.iter().any(|&w| w != 0) || rest.1 != 0 {
            let (more, join) = (self.b.create_block(), self.b.create_block());
            let ready = self.b.ins().icmp_imm_s(IntCC::Equal, status, status::READY);
            self.b.ins().brif(ready, more, &[], join, &[]);
            self.b.switch_to_block(more);
            self.spill_group(vs, rest, bases, false);
            self.b.ins().jump(join, &[]);
            self.b.switch_to_block(join);
        }
        self.emit_fold_ahead(pc, status, bases);
        let l0 = self.b.use_var(self.lane0);
        let flag_at = self.group_parked_slot(l0);
        // A group parked at any other barrier (WAIT) may resume as vector code in the
        // next phase; lanes left READY run scalar code first.
        let parked = self.b.ins().icmp_imm_s(IntCC::Equal, status, status::WAIT);
        // A group left READY (not parked) leaves its lanes to the phase's scalar loop.
        let none = self.b.ins().iconst(types::I32, i64::from(i32::MAX));
        let from = self.b.ins().select(parked, none, l0);
        self.scan_from(from);
        let (one, two) = (
            self.b.ins().iconst(types::I32, flag::PARKED),
            self.b.ins().iconst(types::I32, flag::LEFT),
        );
        let value = self.b.ins().select(parked, one, two);
        self.b.ins().store(fl, value, flag_at, 0);
        let mut words = vec![(self.layout.lane_pc, pc), (self.layout.lane_status, status)];
        // Vector code runs no calls: depth 0, kept only for programs with calls.
        if self.an.has_call {
            let zero = self.b.ins().iconst(types::I32, 0);
            words.push((self.layout.lane_depth, self.pin(zero)));
        }
        self.park_words(&words);
        self.b.ins().jump(self.group_next, &[]);
        Ok(())
    }

    /// The bail-out block: spill the group's registers live where it resumes, then run its
    /// lanes in scalar code from the bail pc (phased strategy: [`Tr::emit_park`]).
    pub(super) fn emit_bail(&mut self) -> TrResult<()> {
        let g = self.g;
        let vs = self.vs()?.clone();
        if self.phased {
            return self.emit_park(&vs);
        }
        let bail = vs.bail;
        self.enter(bail);
        let pc = self.b.append_block_param(bail, types::I32);
        let bases = [self.scratch; 2];
        let f = self.bail_fuel(&vs);
        let live = self.spill_set();
        self.spill_group(&vs, live, bases, false);
        self.settle_bonus()?;
        let l0 = self.b.use_var(self.lane0);
        self.b.def_var(self.s_lane, l0);
        let end = self.b.ins().iadd_imm_s(l0, g as i64);
        // A partial group's lanes in the block only, never its phantoms (partial.rs).
        let end = match self.partial_groups() {
            true => {
                let lanes = self.block_lanes();
                self.b.ins().umin(end, lanes)
            }
            false => end,
        };
        self.b.def_var(self.s_end, end);
        let one = self.b.ins().iconst(types::I8, 1);
        self.b.def_var(self.s_resume, one);
        self.b.def_var(self.bail_pc, pc);
        self.b.def_var(self.bail_fuel, f);
        self.b.ins().jump(self.lane_head, &[]);
        Ok(())
    }
}
