//! Vector code for the later phases of programs with barriers.
//!
//! After a barrier is resolved its lanes are READY at the instruction after it, their
//! registers in the phased strategy's per-lane file. Each later phase first walks the block
//! in vector groups: a group that the vector code parked whole at the barrier (and whose
//! lanes ran no scalar code since: its flag, see [`Tr::group_parked_slot`]; or whose lanes
//! the resolver found together after running scalar code, regroup.rs), below the
//! lowest trapped lane and READY, has every lane at the same pc with the same fuel, no call
//! frames and registers that fit the vector storage they were spilled from; it is loaded
//! into vector variables and runs the vector code from that pc, parking again at the next
//! barrier. Any other group is left READY for the phase's scalar lane loop, which runs
//! after the groups. After a `reduce`, resuming skips programs whose lane-affine predicates
//! are live at the resume point (the file holds their lanes' values, not their pair); after
//! a `bar.sync`, where groups park whole, the pair is in the first two lanes' slots
//! (parked.rs).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, MemFlagsData, Type, Value};
use holovm_isa::{Inst, Program};

use crate::ops::{konst, shuffle_bytes};
use crate::parked::{flag, whole_park_pcs};
use crate::translate::{status, Tr, TrError, TrResult};
use crate::vector::{mask_of, vec_of};

/// The pcs where a later phase can resume vector code: after each `bar.sync` (where groups
/// park whole, keeping their lane-affine predicates' pairs, parked.rs), after each `reduce`
/// (not the last instruction) where no predicate in `affine` is live (`live_preds`, per pc).
pub(crate) fn resume_pcs(program: &Program, live_preds: &[u16], affine: u16) -> Vec<u32> {
    let insts = program.insts();
    insts
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Inst::Reduce { .. }))
        .map(|(pc, _)| pc as u32 + 1)
        .filter(|&pc| {
            let live = live_preds.get(pc as usize).copied().unwrap_or(0);
            (pc as usize) < insts.len() && live & affine == 0
        })
        .chain(whole_park_pcs(program).into_iter().map(|pc| pc + 1))
        .collect::<std::collections::BTreeSet<u32>>()
        .into_iter()
        .collect()
}

impl Tr<'_, '_> {
    /// [`resume_pcs`] for the predicates this vector code keeps lane-affine.
    pub(crate) fn vector_resume_pcs(&self) -> Vec<u32> {
        let affine = self.v.as_ref().map_or(0u16, |v| {
            v.apreds
                .iter()
                .enumerate()
                .filter(|(_, a)| a.is_some())
                .fold(0, |m, (p, _)| m | 1 << (p % 16))
        });
        resume_pcs(self.p, &self.an.live_preds, affine)
    }

    /// Emits `try_block`: checks the group at `lane0` and dispatches to the vector code of
    /// its pc (one of `pcs`, from [`Tr::vector_resume_pcs`]), or goes on with the next group.
    /// A group resumes when the vector code parked it whole (its flag, see
    /// [`Tr::group_parked_slot`]), it is below the lowest trapped lane and its first lane is
    /// READY: then every lane is, at the same pc, with the same fuel, no call frames and
    /// registers spilled from the vector storage, so they fit it.
    pub(crate) fn emit_vector_resume(&mut self, try_block: Block, pcs: &[u32]) -> TrResult<()> {
        let fl = MemFlagsData::new().with_notrap();
        let g = self.g;
        // A group that does not resume is left to the phase's scalar loop.
        let next = self.b.create_block();
        self.b.switch_to_block(next);
        let l0 = self.b.use_var(self.lane0);
        self.scan_from(l0);
        self.b.ins().jump(self.group_next, &[]);
        self.b.switch_to_block(try_block);
        let l0 = self.b.use_var(self.lane0);
        let end = self.b.ins().iadd_imm_s(l0, g as i64);
        let s_end = self.lanes_end();
        let mut below = self
            .b
            .ins()
            .icmp(IntCC::UnsignedLessThanOrEqual, end, s_end);
        if self.partial_groups() {
            // A partial group ends past the block: it resumes while no lane trapped
            // (partial.rs).
            let bdim = self.bdim();
            let none = self.b.ins().icmp(IntCC::Equal, s_end, bdim);
            below = self.b.ins().bor(below, none);
        }
        let (flag, flag_off) = self.lane_entry_of(self.layout.group_parked, 4, l0);
        // PARKED or WHOLE: the first lane's words are the group's.
        let parked = self.b.ins().load(types::I32, fl, flag, flag_off);
        let parked = self.b.ins().band_imm_s(parked, flag::PARKED & flag::WHOLE);
        let parked = self.b.ins().icmp_imm_s(IntCC::NotEqual, parked, 0);
        let l0_64 = self.b.ins().uextend(types::I64, l0);
        let o32 = self.b.ins().ishl_imm_s(l0_64, 2);
        let base32 = self.b.ins().iadd(self.scratch, o32);
        let o64 = self.b.ins().ishl_imm_s(l0_64, 3);
        let base64 = self.b.ins().iadd(self.scratch, o64);
        let st0 = self
            .b
            .ins()
            .load(types::I32, fl, base32, self.layout.lane_status as i32);
        let ready = self.b.ins().icmp_imm_s(IntCC::Equal, st0, status::READY);
        let ok = self.b.ins().band(parked, ready);
        let ok = self.b.ins().band(ok, below);
        let dispatch = self.b.create_block();
        self.b.ins().brif(ok, dispatch, &[], next, &[]);

        self.b.switch_to_block(dispatch);
        let pc0 = self
            .b
            .ins()
            .load(types::I32, fl, base32, self.layout.lane_pc as i32);
        let fuel0 = self
            .b
            .ins()
            .load(types::I64, fl, base64, self.layout.lane_fuel as i32);
        let entries: Vec<(u32, Block)> =
            pcs.iter().map(|&pc| (pc, self.b.create_block())).collect();
        self.switch_on_pc(pc0, &entries, next);

        for (pc, e) in entries {
            self.b.switch_to_block(e);
            self.emit_resume_entry(pc, [base32, base64], fuel0)?;
        }
        Ok(())
    }

    /// The address of the parked flag of the vector group that lane `lane` (`I32`) belongs
    /// to: 1 when the vector code parked the whole group at a barrier (the bail-out block
    /// with status WAIT), 2 when it left the group's lanes to scalar code (status READY),
    /// 0 once the per-lane code runs one of them. While it is not 0, the lanes' fuel is in
    /// the group's first lane's slot only ([`Tr::unpark_group`]). Groups start at
    /// multiples of G.
    pub(crate) fn group_parked_slot(&mut self, lane: Value) -> Value {
        let l0 = self.b.ins().band_imm_s(lane, -(self.g as i64));
        self.lane_slot_of(self.layout.group_parked, 4, l0)
    }

    /// Loads the group's registers and predicates live at `pc` from the per-lane file into
    /// the vector variables (a uniform or lane-affine one from the first lane: the group was
    /// spilled from vector storage), then enters the vector code at `pc`.
    fn emit_resume_entry(&mut self, pc: u32, bases: [Value; 2], fuel0: Value) -> TrResult<()> {
        let fl = MemFlagsData::new().with_notrap();
        let base64 = bases[1];
        let stride8 = self.layout.stride as i32 * 8;
        let live_r = self
            .an
            .live_regs
            .get(pc as usize)
            .copied()
            .unwrap_or([0; 4]);
        let live_p = self.an.live_preds.get(pc as usize).copied().unwrap_or(0);
        // The variables only (the whole vector state, cloned at each entry, took time
        // quadratic in the program's size).
        let v = self
            .v
            .as_ref()
            .ok_or_else(|| TrError("no vector state".into()))?;
        let (uregs, aregs, vregs) = (v.uregs.clone(), v.aregs.clone(), v.vregs.clone());
        let (upreds, vpreds, apreds) = (v.upreds.clone(), v.vpreds.clone(), v.apreds.clone());
        let vfuel = v.vfuel;
        // Lane-affine predicates: live only after a `bar.sync` (see `vector_resume_pcs`),
        // where the group parked whole with each one's pair in its first two lanes' slots;
        // the others all false.
        for (p, &ap) in apreds.iter().enumerate() {
            let Some((a, xv, uv)) = ap else { continue };
            if live_p & (1 << (p % 16)) == 0 {
                self.def_affine_false(&[ap]);
                continue;
            }
            let t = a.pair_type();
            let off = self.layout.predfile as i32 + p as i32 * stride8;
            let x = self.b.ins().load(t, fl, base64, off);
            let u = self.b.ins().load(t, fl, base64, off + 8);
            self.b.def_var(xv, x);
            self.b.def_var(uv, u);
        }
        // Registers as the vector code spilled them (`emit_bail`).
        for (r, class) in self.an.reg_class.clone().iter().enumerate() {
            let lane = class.lane_type();
            let live = live_r[r / 64] & (1 << (r % 64)) != 0;
            let (at, off) = self.reg_slot(r, bases);
            if let Some(u) = uregs[r].or(aregs[r]) {
                let first = if live {
                    self.b.ins().load(lane, fl, at, off)
                } else {
                    konst(&mut self.b, lane, 0)
                };
                self.b.def_var(u, first);
            } else {
                let vt = vec_of(lane);
                let zero = (!live).then(|| konst(&mut self.b, vt, 0));
                for (k, var) in vregs[r].iter().enumerate() {
                    let p = match zero {
                        Some(z) => z,
                        None => self.b.ins().load(vt, fl, at, off + k as i32 * 16),
                    };
                    self.b.def_var(*var, p);
                }
            }
        }
        for (p, &bits) in self.an.pred_bits.clone().iter().enumerate() {
            let live = live_p & (1 << (p % 16)) != 0;
            let off = self.layout.predfile as i32 + p as i32 * stride8;
            if let Some(u) = upreds[p] {
                let x = if live {
                    self.b.ins().load(types::I8, fl, base64, off)
                } else {
                    self.b.ins().iconst(types::I8, 0)
                };
                self.b.def_var(u, x);
            } else if !vpreds[p].is_empty() {
                let images = self.images(live, base64, off);
                let vt = mask_of(bits);
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
        self.b.def_var(vfuel, fuel0);
        self.def_param_vars()?;
        let target = self.v_block(pc)?;
        self.b.ins().jump(target, &[]);
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
    pub(crate) fn narrow(&mut self, pair: &[Value], vt: Type) -> Value {
        let hi = pair.get(1).copied().unwrap_or(pair[0]);
        let mask = [0u8, 8, 16, 24].into_iter().flat_map(|b| b..b + 4);
        shuffle_bytes(&mut self.b, vt, pair[0], hi, mask)
    }
}
