//! Bounds-check sites of the vector code and their limits: contiguous and gather sites,
//! the entry guard, and the launch-wide and per-block limits computed once.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use holovm_isa::{Addr, Cmp, Inst, Reg, SharedAddr, Special, Src, Ty};

use crate::analysis::{Analysis, Clamp};
use crate::translate::{call, launch, SpaceRef, Tr, TrError, TrResult};

/// An entry guard on `%gid` (see [`Tr::entry_guard`]): lanes pass it while `%gid < bound`,
/// where `bound` is `u`, or `u + 1` when `plus_one`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryGuard {
    pub u: GuardOperand,
    pub plus_one: bool,
}

/// The unsigned value an entry guard compares `%gid` with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GuardOperand {
    Param(u8),
    Imm(u64),
}

/// The lane-affine index of a contiguous access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Index {
    Gid,
    Lane,
    Reg(u8),
}

/// A contiguous access site: `base + index * size` with a lane-affine index.
#[derive(Clone, Copy, Debug)]
pub(super) struct Contig {
    pub(super) site: Site,
    pub(super) index: Index,
}

/// Where a contiguous access goes: the space, the constant base and the element size,
/// whether the index is 64-bit (a 32-bit index must not wrap within a group), and the
/// index's lane step (1, or 2, 4 or 8 for a stepped register at a scale of the size over
/// it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Site {
    pub(super) space: SpaceRef,
    pub(super) base: u64,
    pub(super) size: u32,
    pub(super) wide: bool,
    pub(super) step: u8,
}

/// The memory a gather or scatter reaches through `[space + base + index * scale]` with
/// accesses of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GatherSite {
    pub(super) space: SpaceRef,
    pub(super) base: u64,
    size: u32,
    pub(super) scale: u32,
}

impl GatherSite {
    /// The register-indexed site of an access and its index register, if the bounds can be
    /// checked on the index alone: a power-of-two scale, a base aligned to the access size,
    /// and a scale that divides the size when below it (so alignment is a test of the
    /// index's low bits).
    pub(super) fn of(
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> Option<(Self, Reg)> {
        let (space, base, Src::Reg(r), scale) = Tr::indexed(global, shared)? else {
            return None;
        };
        let checkable = scale.is_power_of_two()
            && base.is_multiple_of(size as u64)
            && (scale >= size || size.is_multiple_of(scale));
        checkable.then_some((
            GatherSite {
                space,
                base,
                size,
                scale,
            },
            r,
        ))
    }
}

impl GatherSite {
    /// Whether an access here through `r` may find its lanes' indices consecutive (in
    /// steps of `size / scale`), and uses vector loads and stores when it does: `r` clamps,
    /// wraps or scales ([`Analysis::reg_clamped`]), the scale is at most an access size of
    /// 4 or 8, and for a store, `r` scales (a byte offset; a clamp's edge groups repeat an
    /// index, and those stores stay lane by lane).
    pub(super) fn may_be_consecutive(&self, an: &Analysis, r: Reg, store: bool) -> bool {
        let clamped = an.reg_clamped.get(r.0 as usize).copied().flatten();
        let fits = self.scale <= self.size && self.size >= 4;
        fits && match store {
            false => clamped.is_some(),
            true => clamped == Some(Clamp::Scales),
        }
    }
}

/// The index registers of loads and stores that test whether a group's indices are
/// consecutive and then access it with vector loads and stores (`Tr::v_gather_or_contig`,
/// `Tr::v_scatter_store`): per-lane 32-bit registers that clamp, wrap or scale
/// ([`Analysis::reg_clamped`]), scaled by at most an access size of 4 or 8.
pub(crate) fn consecutive_accesses(insts: &[Inst], an: &Analysis) -> Vec<u8> {
    let mut regs: Vec<u8> = insts
        .iter()
        .filter_map(|inst| {
            let (global, shared, size, store) = match inst {
                Inst::Ldg { ty, addr, .. } => (Some(addr), None, ty.size(), false),
                Inst::Lds { ty, addr, .. } => (None, Some(addr), ty.size(), false),
                Inst::Stg { ty, addr, .. } => (Some(addr), None, ty.size(), true),
                Inst::Sts { ty, addr, .. } => (None, Some(addr), ty.size(), true),
                _ => return None,
            };
            let (site, r) = GatherSite::of(global, shared, size)?;
            let i = r.0 as usize;
            let per_lane =
                !*an.reg_uniform.get(i)? && !*an.reg_affine.get(i)? && *an.reg_step.get(i)? == 0;
            let bits = an.reg_class.get(i)?.lane_type().bits();
            (site.may_be_consecutive(an, r, store) && per_lane && bits == 32).then_some(r.0)
        })
        .collect();
    regs.sort_unstable();
    regs.dedup();
    regs
}

/// Slots of the launch record's limits ([`launch::LIMITS`]) a program's vector code may
/// use: the two reaches of its contiguous accesses and up to four limits per access (one as
/// a contiguous site, three as a gather site).
pub(crate) fn limit_slots(program: &holovm_isa::Program) -> u32 {
    2 + 4 * mem_accesses(program.insts()).count() as u32
}

/// The memory accesses of a program: (global address, shared address, access size).
fn mem_accesses(insts: &[Inst]) -> impl Iterator<Item = (Option<&Addr>, Option<&SharedAddr>, u32)> {
    insts.iter().filter_map(|inst| match inst {
        Inst::Ldg { ty, addr, .. } | Inst::Stg { ty, addr, .. } => {
            Some((Some(addr), None, ty.size()))
        }
        Inst::Lds { ty, addr, .. } | Inst::Sts { ty, addr, .. } => {
            Some((None, Some(addr), ty.size()))
        }
        _ => None,
    })
}

/// The variables holding a [`GatherSite`]'s bounds (see [`Tr::gather_limit`]), loaded
/// where vector code is entered (a gather checks them once per lane) from the launch
/// record's slots at `at` (`lim64`), `at + 8` (`lim32`) and `at + 16` (`none`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SiteLimit {
    pub(super) lim32: Variable,
    pub(super) lim64: Variable,
    pub(super) none: Variable,
    pub(super) at: i32,
}

/// Whether the branch at pc 1 (an entry guard's, [`Tr::entry_guard`]) goes to an `exit`:
/// the lanes it sends away do nothing.
pub(crate) fn guard_exits(insts: &[Inst]) -> bool {
    matches!(insts.get(1), Some(Inst::Bra { target, .. })
        if matches!(insts.get(*target as usize), Some(Inst::Exit)))
}

impl Tr<'_, '_> {
    /// The launch's limits in `launch_init` ("check the launch range once"): how far the
    /// contiguous accesses and the entry guard let lanes go, and the first-lane limits of
    /// register-indexed sites; then, per block in `init`, the lanes of the block below
    /// both. Returns the variable holding a block's limit (`I32`).
    pub(super) fn emit_limits(&mut self, init: Block) -> TrResult<Variable> {
        let (acnt, glim, bbase) = {
            let v = self.vs()?;
            (v.acnt.clone(), v.glim.clone(), v.bbase)
        };
        self.b.switch_to_block(self.launch_init);
        // Stored in the launch record, not kept in registers through the kernel: loaded
        // where a block starts, at each check, or where vector code is entered.
        let limits = self.layout.launch as i32 + launch::LIMITS;
        let end = glim
            .last()
            .map_or(limits + 16 + 8 * acnt.len() as i32, |(_, v)| v.at + 24);
        if end as u32 > self.layout.total {
            // Not reached: `limit_slots` counts every site. Refused rather than written
            // past the scratch memory.
            return Err(TrError("the launch limits exceed their room".into()));
        }
        let fl = MemFlagsData::trusted();
        let (gid_reach, lane_reach) = self.contig_reach();
        let reach = [(gid_reach, limits), (lane_reach, limits + 8)];
        for (v, at) in reach {
            self.b.ins().store(fl, v, self.scratch, at);
        }
        for (site, at) in acnt {
            let firsts = self.affine_firsts(site);
            self.b.ins().store(fl, firsts, self.scratch, at);
        }
        for (site, vars) in glim {
            let (lim64, none) = self.gather_limit(site);
            let lim32 = self.cap_u32(lim64);
            for (k, v) in [lim64, lim32, none].into_iter().enumerate() {
                self.b
                    .ins()
                    .store(fl, v, self.scratch, vars.at + 8 * k as i32);
            }
        }
        self.zero_masked_runs()?;
        self.b.ins().jump(self.block_head, &[]);

        self.b.switch_to_block(init);
        let vlimit = self.b.declare_var(types::I32);
        let blk = self.b.use_var(self.blk);
        let bdim = self.bdim();
        let base = self.b.ins().imul(blk, bdim);
        self.b.def_var(bbase, base);
        let start = self.b.ins().uextend(types::I64, base);
        let [(_, gid_at), (_, lane_at)] = reach;
        let gid_reach = self.b.ins().load(types::I64, fl, self.scratch, gid_at);
        let lane_reach = if self.runs {
            // A run's lanes, more than a block's (its program has no %lane-indexed sites).
            let lanes = self.block_lanes();
            self.b.ins().uextend(types::I64, lanes)
        } else {
            self.b.ins().load(types::I64, fl, self.scratch, lane_at)
        };
        let gid_lanes = self.sat_sub(gid_reach, start);
        let limit = self.b.ins().umin(lane_reach, gid_lanes);
        let limit = self.b.ins().ireduce(types::I32, limit);
        let limit = self.pin(limit);
        self.b.def_var(vlimit, limit);
        if self.phased {
            self.set_call_word(call::VLIMIT, limit);
            self.set_phase(0);
        }
        self.b.ins().jump(self.group_head, &[]);
        Ok(vlimit)
    }

    /// Every contiguous site of the program.
    pub(super) fn contig_sites(&self) -> Vec<Contig> {
        mem_accesses(self.p.insts())
            .filter_map(|(global, shared, size)| self.contig(global, shared, size))
            .collect()
    }

    /// Every register-indexed site of the program whose bounds can be checked on the index
    /// ([`GatherSite::of`]), with repeats: those of the accesses that are not contiguous
    /// sites (a lane-affine index is checked per group against the site's count instead,
    /// so its limits would be loaded at every entry into vector code and never read).
    pub(super) fn gather_sites(&self) -> Vec<GatherSite> {
        mem_accesses(self.p.insts())
            .filter(|&(global, shared, size)| self.contig(global, shared, size).is_none())
            .filter_map(|(global, shared, size)| GatherSite::of(global, shared, size))
            .map(|(site, _)| site)
            .collect()
    }

    /// The entry guard `setp P, %gid, u` + `@P bra` at pcs 0 and 1 that sends lanes with
    /// `%gid >= bound` away (`u` a parameter or immediate, unsigned; `bound` is `u`, or
    /// `u + 1` for `>`/`<=`), when `P` is not read after the branch and nothing jumps to the
    /// branch. Groups whose lanes all pass it skip both instructions (their lanes would all
    /// fall through and the predicate is dead); the group limit keeps the others out of
    /// vector code.
    pub(super) fn entry_guard(&self) -> Option<EntryGuard> {
        let insts = self.p.insts();
        let (setp, Inst::Bra { guard: Some(g), .. }) = (insts.first()?, insts.get(1)?) else {
            return None;
        };
        let (a, x, u) = self.affine_setp(setp)?;
        let Inst::Setp { dst, .. } = *setp else {
            return None;
        };
        let plus = match (a.cmp, g.negate) {
            (Cmp::Ge, false) | (Cmp::Lt, true) => false,
            (Cmp::Gt, false) | (Cmp::Le, true) => true,
            _ => return None,
        };
        let dead = self
            .an
            .live_preds
            .get(2)
            .is_some_and(|l| l & (1 << (dst.0 % 16)) == 0);
        let u = match u {
            Src::Param(i) => GuardOperand::Param(i),
            Src::Imm(bits) => GuardOperand::Imm(bits),
            _ => return None,
        };
        (dst == g.pred
            && dead
            && !self.an.leader[1]
            && x == Src::Special(Special::GlobalId)
            && matches!(a.ty, Ty::U32 | Ty::U64))
        .then_some(EntryGuard { u, plus_one: plus })
    }

    /// Launch-wide lane limits (`I64`s): every `%gid` below the first passes the bounds
    /// checks of the `%gid`-indexed contiguous accesses and the entry guard; every `%lane`
    /// below the second (at most [`Tr::block_lane_reach`], `bdim` or that rounded up to
    /// whole groups) those of the `%lane`-indexed ones. A block's vector groups cover the
    /// lanes below both.
    fn contig_reach(&mut self) -> (Value, Value) {
        let mut gid: Option<Value> = None;
        let mut lane = self.block_lane_reach();
        for c in self.contig_sites() {
            match c.index {
                Index::Gid => {
                    let cnt = self.site_count(c.site);
                    gid = Some(self.umin_opt(gid, cnt));
                }
                Index::Lane => {
                    let cnt = self.site_count(c.site);
                    lane = self.b.ins().umin(lane, cnt);
                }
                // Checked per group against its own count (`affine_firsts`).
                Index::Reg(_) => {}
            }
        }
        if let Some(guard) = self.v.as_ref().and_then(|v| v.guard) {
            // `u + 1` may wrap to 0 for u64: a limit of 0 only sends lanes to scalar code.
            let bound = self.guard_bound(guard);
            gid = Some(self.umin_opt(gid, bound));
        }
        let gid = gid.unwrap_or_else(|| self.b.ins().iconst(types::I64, -1));
        (gid, lane)
    }

    /// Where the lanes past the last full group stop (`I32`), when the entry guard sends
    /// the lanes at or past its bound straight to an `exit` (`if (gid >= n) return`): those
    /// lanes would do nothing, so they are not run. `None` without such a guard. `lanes`
    /// is the block's (or run's) lanes ([`Tr::block_lanes`]).
    pub(crate) fn guard_exit_end(&mut self, lanes: Value) -> Option<Value> {
        let guard = self.v.as_ref()?.guard?;
        if self.phased || !guard_exits(self.p.insts()) {
            return None;
        }
        let bbase = self.v.as_ref()?.bbase;
        let bound = self.guard_bound(guard);
        // `u + 1` wrapping to 0 (u64) would stop every lane: keep the whole block then.
        let bound = match guard.plus_one {
            true => {
                let wrapped = self.b.ins().icmp_imm_s(IntCC::Equal, bound, 0);
                let all = self.b.ins().iconst(types::I64, -1);
                self.b.ins().select(wrapped, all, bound)
            }
            false => bound,
        };
        let base = self.b.use_var(bbase);
        let base = self.b.ins().uextend(types::I64, base);
        let below = self.sat_sub(bound, base);
        let lanes64 = self.b.ins().uextend(types::I64, lanes);
        let end = self.b.ins().umin(below, lanes64);
        Some(self.b.ins().ireduce(types::I32, end))
    }

    /// The entry guard's bound (`I64`): `%gid` below it passes. `u + 1` for `>`/`<=`, which
    /// wraps to 0 for a u64 `u` of 2^64 - 1.
    fn guard_bound(&mut self, guard: EntryGuard) -> Value {
        // The register images of unsigned values are zero-extended: usable as `I64`.
        let u = match guard.u {
            GuardOperand::Param(i) => self.param_scalar(i),
            GuardOperand::Imm(bits) => self.b.ins().iconst(types::I64, bits as i64),
        };
        match guard.plus_one {
            true => self.b.ins().iadd_imm_s(u, 1),
            false => u,
        }
    }

    /// `min(a, b)` (unsigned), or `b` without `a`.
    fn umin_opt(&mut self, a: Option<Value>, b: Value) -> Value {
        match a {
            Some(a) => self.b.ins().umin(a, b),
            None => b,
        }
    }

    /// `a - b`, or 0 where `b > a` (unsigned `I64`s).
    fn sat_sub(&mut self, a: Value, b: Value) -> Value {
        let below = self.b.ins().icmp(IntCC::UnsignedLessThan, a, b);
        let zero = self.b.ins().iconst(types::I64, 0);
        let d = self.b.ins().isub(a, b);
        self.b.ins().select(below, zero, d)
    }

    /// `a - k`, or 0 where `k > a` (unsigned `I64`); `a` itself for `k` = 0.
    fn sat_sub_imm(&mut self, a: Value, k: u64) -> Value {
        if k == 0 {
            return a;
        }
        let k = self.b.ins().iconst(types::I64, k as i64);
        self.sat_sub(a, k)
    }

    /// How many indices (from 0) of a site are in bounds (`I64`).
    fn site_count(&mut self, site: Site) -> Value {
        let len = self.space_len(site.space);
        let avail = self.sat_sub_imm(len, site.base);
        self.b
            .ins()
            .ushr_imm_s(avail, site.size.trailing_zeros() as i64)
    }

    /// For a site indexed by a lane-affine register: the number of first-lane elements `x`
    /// for which the group's elements `x ..= x + G - 1` are all in bounds and, for a 32-bit
    /// index, its lanes do not wrap (`I64`): `step * (x + G - 1) < 2^32` for a stepped one,
    /// whose first element is its lane-0 value over the step. A group is in bounds exactly
    /// when `x` is below it.
    fn affine_firsts(&mut self, site: Site) -> Value {
        let cnt = self.site_count(site);
        let span = self.g as i64 - 1;
        let firsts = self.sat_sub_imm(cnt, span as u64);
        if site.wide {
            firsts
        } else {
            let cap = (1i64 << 32) / i64::from(site.step) - span;
            let cap = self.b.ins().iconst(types::I64, cap);
            self.b.ins().umin(firsts, cap)
        }
    }

    /// The bounds of a register-indexed site: an index `idx` is in bounds when
    /// `idx <= lim` (`I64`) and `none` (`I8`) is 0, i.e. `idx <= (len - base - size) >>
    /// log2(scale)` and `len >= base + size`.
    pub(crate) fn gather_limit(&mut self, site: GatherSite) -> (Value, Value) {
        let len = self.space_len(site.space);
        let need = (site.base + site.size as u64) as i64;
        let need = self.b.ins().iconst(types::I64, need);
        let none = self.b.ins().icmp(IntCC::UnsignedLessThan, len, need);
        let room = self.b.ins().isub(len, need);
        let sh = site.scale.trailing_zeros() as i64;
        (self.b.ins().ushr_imm_s(room, sh), none)
    }

    /// `min(v, u32::MAX)` as `I32`: an index limit for 32-bit index vectors.
    fn cap_u32(&mut self, v: Value) -> Value {
        let cap = self.b.ins().iconst(types::I64, u32::MAX as i64);
        let v = self.b.ins().umin(v, cap);
        self.b.ins().ireduce(types::I32, v)
    }
}
