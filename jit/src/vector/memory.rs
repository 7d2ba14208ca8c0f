//! Vector loads and stores: how a group addresses memory, its addresses and their checks.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, MemFlagsData, Value};
use holovm_isa::{Addr, Reg, SharedAddr, Special, Src, Ty};

use super::limits::{Contig, GatherSite, Index, Site, SiteLimit};
use super::values::VV;
use crate::analysis::Class;
use crate::ops::{bitcast, compute_vec, konst};
use crate::translate::{MemOff, SpaceRef, Tr, TrError, TrResult};

/// How the lanes of a group address memory.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    /// The same address in every lane.
    Uniform,
    /// `base + (first index + lane) * size`: one contiguous run.
    Contig,
    /// Anything else.
    Lanes,
}

/// A checked access ([`Tr::v_access`]).
enum Access {
    /// In a mode, at one address (uniform, contiguous) or one per lane.
    At(Mode, Vec<Value>),
    /// Through per-lane 32-bit indices.
    Gather(Gather),
}

/// A checked access through per-lane 32-bit indices ([`Tr::v_gather32`]): lane `l`'s
/// address is `base + (idxs[l / 4] lane l % 4) << shift`.
struct Gather {
    base: Value,
    shift: i64,
    idxs: Vec<Value>,
    /// Whether the lanes' indices may be consecutive in steps of the access size over the
    /// scale, for a load and for a store of 32 or 64 bits
    /// ([`super::limits::GatherSite::may_be_consecutive`]).
    maybe_contig: [bool; 2],
}

impl Tr<'_, '_> {
    // ---------------------------------------------------------------------------------
    // Memory
    // ---------------------------------------------------------------------------------

    /// Base pointer of a space, from its variable where a loop accesses the buffer.
    fn v_space_ptr(&mut self, s: SpaceRef) -> Value {
        if let SpaceRef::Param(i) = s {
            if let Some(Some(v)) = self.held_bases.get(i as usize) {
                return *v;
            }
        }
        let cached = match (s, self.v.as_ref()) {
            (SpaceRef::Param(i), Some(v)) => v.bases.get(i as usize).copied().flatten(),
            _ => None,
        };
        match cached {
            Some(var) => self.b.use_var(var),
            None => self.space_ptr(s),
        }
    }

    /// An indexed access `base + index * scale` (space, constant base, index, scale).
    pub(super) fn indexed(
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
    ) -> Option<(SpaceRef, u64, Src, u32)> {
        Some(match (global, shared) {
            (Some(Addr::BufferIndex { buf, index, scale }), _) => {
                (SpaceRef::Param(*buf), 0u64, *index, *scale as u32)
            }
            (
                Some(Addr::Phi {
                    class,
                    page,
                    byte,
                    index: Some((index, scale)),
                }),
                _,
            ) => {
                let base = *class as u64 * holovm_isa::POOL_CLASS_BYTES as u64
                    + *page as u64 * holovm_isa::POOL_PAGE_BYTES as u64
                    + *byte as u64;
                (SpaceRef::Pool, base, *index, *scale as u32)
            }
            (
                None,
                Some(SharedAddr {
                    index: Some((index, scale)),
                    offset,
                }),
            ) => (SpaceRef::Shared, *offset as u64, *index, *scale as u32),
            _ => return None,
        })
    }

    /// The contiguous-site description of an access, if it is one: a lane-affine index
    /// scaled by the access size, from an aligned constant base.
    pub(super) fn contig(
        &self,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> Option<Contig> {
        let (space, base, index, scale) = Self::indexed(global, shared)?;
        let (index, wide, step) = match index {
            Src::Special(Special::GlobalId) => (Index::Gid, false, 1),
            Src::Special(Special::Lane) => (Index::Lane, false, 1),
            Src::Reg(r) if self.reg_step(r.0 as usize) != 0 => (
                Index::Reg(r.0),
                self.an.reg_class[r.0 as usize].lane_type().bits() == 64,
                self.reg_step(r.0 as usize),
            ),
            _ => return None,
        };
        // (A stepped index, a byte offset, at scale 1: `step * scale` bytes apart.)
        if scale * u32::from(step) != size || !base.is_multiple_of(size as u64) {
            return None;
        }
        Some(Contig {
            site: Site {
                space,
                base,
                size,
                wide,
                step,
            },
            index,
        })
    }

    /// Computes and checks the addresses of an access (bailing out if any lane would trap):
    /// the mode and the addresses (one for uniform/contiguous, G for per-lane), or for
    /// per-lane 32-bit indices the checked [`Gather`], whose lanes' addresses are computed
    /// where they are used.
    fn v_access(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<Access> {
        if let Some(c) = self.contig(global, shared, size) {
            let first = match c.index {
                // In bounds for the whole group: the group lies below the block's `vlimit`.
                Index::Gid => self.v_gid0(),
                Index::Lane => self.v_lane0(),
                Index::Reg(r) => {
                    let (a, cnt) = {
                        let v = self.vs()?;
                        let cnt = v.acnt.iter().find(|(s, _)| s == &c.site).map(|x| x.1);
                        (v.aregs[r as usize], cnt)
                    };
                    let (Some(a), Some(cnt)) = (a, cnt) else {
                        return Err(TrError(format!("r{r}: no lane-affine state")));
                    };
                    let x = self.b.use_var(a);
                    let x = self.u_to_i64(x);
                    let fl = MemFlagsData::trusted();
                    let firsts = self.b.ins().load(types::I64, fl, self.scratch, cnt);
                    // A stepped index counts `step`s of the scale: its first element's
                    // index, if it is aligned.
                    let step = c.site.step;
                    let first = match step {
                        1 => x,
                        _ => self.b.ins().ushr_imm_s(x, step.trailing_zeros() as i64),
                    };
                    let mut bad =
                        self.b
                            .ins()
                            .icmp(IntCC::UnsignedGreaterThanOrEqual, first, firsts);
                    if step > 1 {
                        let low = self.b.ins().band_imm_s(x, i64::from(step) - 1);
                        let mis = self.b.ins().icmp_imm_s(IntCC::NotEqual, low, 0);
                        bad = self.b.ins().bor(bad, mis);
                    }
                    self.v_bail_if(bad, pc)?;
                    first
                }
            };
            let first = if self.b.func.dfg.value_type(first) == types::I32 {
                self.b.ins().uextend(types::I64, first)
            } else {
                first
            };
            let off = self.times(first, size);
            let off = self.b.ins().iadd_imm_s(off, c.site.base as i64);
            let ptr = self.v_space_ptr(c.site.space);
            let a = self.b.ins().iadd(ptr, off);
            return Ok(Access::At(Mode::Contig, vec![a]));
        }
        if let Some(addr) = self.v_stepped_pointer(pc, global, size)? {
            return Ok(Access::At(Mode::Contig, vec![addr]));
        }
        let uniform = self.uniform_access(global, shared)?;
        let mode = if uniform { Mode::Uniform } else { Mode::Lanes };
        if uniform {
            if let Some(addr) = self.v_uniform_indexed(pc, global, shared, size)? {
                return Ok(Access::At(Mode::Uniform, vec![addr]));
            }
        } else if let Some(g) = self.v_gather32(pc, global, shared, size)? {
            return Ok(Access::Gather(g));
        }
        let off_of = |t: &mut Self, l: u32| -> MemOff {
            let mut rd = |t2: &mut Self, s: Src| t2.v_lane_u64(s, l);
            match (global, shared) {
                (Some(a), _) => t.global_off(a, &mut rd),
                (None, Some(s)) => t.shared_off(s, &mut rd),
                (None, None) => unreachable!("checked above"),
            }
        };
        match mode {
            Mode::Uniform | Mode::Contig => {
                let m = off_of(self, 0);
                let (ptr, len) = self.space_base(m.space);
                let (oob, _) = self.bad_flags(&m, len, size);
                let bad = if size > 1 {
                    let low = self.b.ins().band_imm_s(m.off, size as i64 - 1);
                    let mis = self.b.ins().icmp_imm_s(IntCC::NotEqual, low, 0);
                    self.b.ins().bor(oob, mis)
                } else {
                    oob
                };
                self.v_bail_if(bad, pc)?;
                let a = self.b.ins().iadd(ptr, m.off);
                Ok(Access::At(mode, vec![a]))
            }
            Mode::Lanes => {
                let ms: Vec<MemOff> = (0..self.g).map(|l| off_of(self, l)).collect();
                // Dynamic spaces: every lane must name lane 0's space (else bail).
                let mut bad: Option<Value> = None;
                if let SpaceRef::Dynamic(h0) = ms[0].space {
                    for m in &ms[1..] {
                        if let SpaceRef::Dynamic(h) = m.space {
                            let d = self.b.ins().icmp(IntCC::NotEqual, h, h0);
                            bad = Some(self.or_flag(bad, d));
                        }
                    }
                }
                let (ptr, len) = self.space_base(ms[0].space);
                let mut addrs = Vec::with_capacity(ms.len());
                for m in &ms {
                    let (oob, mis) = self.bad_flags(m, len, size);
                    let f = match mis {
                        Some(mis) => self.b.ins().bor(oob, mis),
                        None => oob,
                    };
                    bad = Some(self.or_flag(bad, f));
                    addrs.push(m.off);
                }
                if let Some(bad) = bad {
                    self.v_bail_if(bad, pc)?;
                }
                let addrs = addrs
                    .into_iter()
                    .map(|o| self.b.ins().iadd(ptr, o))
                    .collect();
                Ok(Access::At(mode, addrs))
            }
        }
    }

    /// The address of a contiguous access through a pointer whose lanes step by the access
    /// size: `[r + imm]` with `r` such a register (a lane-affine pointer to bytes, or a
    /// stepped one: `&a` plus `%gid << 2` for `f32`s), or `[h + r]` with `h` uniform and
    /// `r` such a register (a byte offset). Checked at the group's first and last lanes:
    /// both in bounds of one space (the pointer's high half did not carry; the offset did
    /// not wrap), the first aligned, so every lane between is. `None` for other accesses.
    fn v_stepped_pointer(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        size: u32,
    ) -> TrResult<Option<Value>> {
        let (addr, r, whole) = match global {
            Some(a @ Addr::RegisterIndirect { base, .. }) => (a, *base, true),
            Some(a @ Addr::RegisterIndirectComputed { handle, offset })
                if self.is_uniform_src(&Src::Reg(*handle)) =>
            {
                (a, *offset, false)
            }
            _ => return Ok(None),
        };
        if u32::from(self.reg_step(r.0 as usize)) != size {
            return Ok(None);
        }
        let last = self.g - 1;
        let first = self.global_off(addr, &mut |t, s| t.v_lane_u64(s, 0));
        // The last lane's pointer (offset) as read, against the first lane's: the same
        // high half, the first lane's space (not below it), so the last lane's offset is
        // the first's plus `size * (G - 1)`.
        let x1 = self.v_lane_u64(Src::Reg(r), last);
        let other = match (whole, first.space) {
            (true, SpaceRef::Dynamic(h0)) => {
                let h1 = self.b.ins().ushr_imm_s(x1, 32);
                self.b.ins().icmp(IntCC::NotEqual, h0, h1)
            }
            (false, _) => {
                let x0 = self.v_lane_u64(Src::Reg(r), 0);
                self.b.ins().icmp(IntCC::UnsignedLessThan, x1, x0)
            }
            _ => return Err(TrError("a pointer access without a dynamic space".into())),
        };
        let (ptr, len) = self.space_base(first.space);
        let (oob, mis) = self.bad_flags(&first, len, size);
        let end = MemOff {
            off: self.b.ins().iadd_imm_s(first.off, i64::from(size * last)),
            ..first
        };
        // (With the first lane in bounds, the end's offset does not wrap.)
        let (oob_end, _) = self.bad_flags(&end, len, size);
        let mut bad = self.b.ins().bor(oob, oob_end);
        bad = self.b.ins().bor(bad, other);
        if let Some(mis) = mis {
            bad = self.b.ins().bor(bad, mis);
        }
        self.v_bail_if(bad, pc)?;
        Ok(Some(self.b.ins().iadd(ptr, first.off)))
    }

    /// Whether every lane of a group accesses the same address.
    fn uniform_access(&self, global: Option<&Addr>, shared: Option<&SharedAddr>) -> TrResult<bool> {
        Ok(match (global, shared) {
            (Some(a), _) => match a {
                Addr::BufferOffset { .. } | Addr::Phi { index: None, .. } => true,
                Addr::BufferIndex { index, .. } => self.is_uniform_src(index),
                Addr::Phi {
                    index: Some((s, _)),
                    ..
                } => self.is_uniform_src(s),
                Addr::RegisterIndirect { base, .. } => self.is_uniform_src(&Src::Reg(*base)),
                Addr::RegisterIndirectComputed { handle, offset } => {
                    self.is_uniform_src(&Src::Reg(*handle))
                        && self.is_uniform_src(&Src::Reg(*offset))
                }
            },
            (None, Some(s)) => match s.index {
                None => true,
                Some((src, _)) => self.is_uniform_src(&src),
            },
            (None, None) => return Err(TrError("no address".into())),
        })
    }

    /// Loads a value of `ty` (the access checked first, bailing out if a lane would trap).
    pub(super) fn v_load_at(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        ty: Ty,
    ) -> TrResult<VV> {
        Ok(match self.v_access(pc, global, shared, ty.size())? {
            Access::At(mode, addrs) => self.v_load(ty, mode, &addrs),
            Access::Gather(g) => self.v_gather_load(&g, ty),
        })
    }

    /// Stores `val` of `ty` (the access checked first), under the lane masks in masked
    /// code.
    pub(super) fn v_store_at(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        ty: Ty,
        val: VV,
    ) -> TrResult<()> {
        // A partial group's phantoms keep memory as it is (partial.rs); masked code leaves
        // them out with the lanes that do not run the store (masked_store.rs).
        let masked = self.in_masked();
        let phantoms = match masked {
            true => None,
            false => self.phantom_store_mask(),
        };
        let (mode, addrs) = match self.v_access(pc, global, shared, ty.size())? {
            Access::Gather(g) if !masked && phantoms.is_none() => {
                self.v_scatter_store(&g, ty, &val);
                return Ok(());
            }
            // Masked stores choose their lanes' addresses by mask.
            Access::Gather(g) => {
                let addrs = (0..self.g as usize)
                    .map(|l| self.gather_addr(&g, l))
                    .collect();
                (Mode::Lanes, addrs)
            }
            Access::At(mode, addrs) => (mode, addrs),
        };
        if let Some(phantoms) = phantoms {
            self.store_running(ty, mode, &addrs, val, phantoms, true);
            return Ok(());
        }
        if !self.v_store_masked(pc, ty, mode, &addrs, val.clone())? {
            self.v_store(ty, mode, &addrs, val);
        }
        Ok(())
    }

    /// A load through a checked [`Gather`], each lane's address, load and insert into its
    /// vector emitted together: computed up front, the G addresses and loaded values
    /// outlived the registers in kernels compiled without the optimiser (which places pure
    /// values at their uses) and were spilled.
    fn v_gather_load(&mut self, g: &Gather, ty: Ty) -> VV {
        if g.maybe_contig[0] && ty.bits() >= 32 {
            return self.v_gather_or_contig(g, ty);
        }
        self.v_gather_lanes(g, ty)
    }

    /// Whether a checked gather's lanes' indices are consecutive in steps of `step`, and
    /// its first lane's address: lane `l`'s index is the first's plus `l * step`, without
    /// wrapping as a 32-bit number.
    fn consecutive(&mut self, g: &Gather, step: u32) -> Option<(Value, Value)> {
        let first = self.b.ins().extractlane(*g.idxs.first()?, 0);
        // (One splat and a constant per 4 lanes: `v_iota` splats each part's first lane.)
        let firsts = self.b.ins().splat(types::I32X4, first);
        let mut same: Option<Value> = None;
        for (k, &iv) in (0u32..).zip(&g.idxs) {
            let steps = konst_lanes(&mut self.b, (0..4).map(|i| (4 * k + i) * step));
            let want = self.b.ins().iadd(firsts, steps);
            let eq = self.b.ins().icmp(IntCC::Equal, iv, want);
            same = Some(match same {
                Some(s) => self.b.ins().band(s, eq),
                None => eq,
            });
        }
        let all = self.b.ins().vall_true(same?);
        // (Consecutive as 64-bit numbers too: the last lane's index is below 2^32.)
        let first = self.b.ins().uextend(types::I64, first);
        let last = (1i64 << 32) - 1 - i64::from(step) * (self.g as i64 - 1);
        let room = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, first, last);
        let contig = self.b.ins().band(all, room);
        let off = self.b.ins().ishl_imm_s(first, g.shift);
        Some((contig, self.b.ins().iadd(g.base, off)))
    }

    /// A gather whose lanes' indices may be consecutive: vector loads when they are (every
    /// group of a stencil's clamped neighbour but the edges', every group of a byte
    /// offset), else lane by lane. (The indices are checked already: each lane's element
    /// is in bounds.)
    fn v_gather_or_contig(&mut self, g: &Gather, ty: Ty) -> VV {
        let Some((contig, at)) = self.consecutive(g, ty.size() >> g.shift) else {
            return self.v_gather_lanes(g, ty);
        };
        let (fast, slow, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(contig, fast, &[], slow, &[]);
        let vt = compute_vec(ty);
        let params: Vec<Value> = (0..self.g / vt.lane_count())
            .map(|_| self.b.append_block_param(join, vt))
            .collect();
        for side in [fast, slow] {
            self.enter(side);
            let v = if side == fast {
                self.v_load(ty, Mode::Contig, &[at])
            } else {
                self.v_gather_lanes(g, ty)
            };
            let args: Vec<BlockArg> = self.parts(ty, v).into_iter().map(BlockArg::Value).collect();
            self.b.ins().jump(join, &args);
        }
        self.enter(join);
        VV::V(params)
    }

    /// A gather lane by lane.
    fn v_gather_lanes(&mut self, g: &Gather, ty: Ty) -> VV {
        let vt = compute_vec(ty);
        let per = vt.lane_count() as usize;
        let parts = (0..self.g as usize / per)
            .map(|k| {
                let mut v = None;
                for i in 0..per {
                    let a = self.gather_addr(g, k * per + i);
                    let x = self.load_lane(ty, a, 0);
                    v = Some(match v {
                        None => self.b.ins().splat(vt, x),
                        Some(v) => self.b.ins().insertlane(v, x, i as u8),
                    });
                }
                v.unwrap_or_else(|| konst(&mut self.b, vt, 0))
            })
            .collect();
        VV::V(parts)
    }

    /// A store through a checked [`Gather`] outside masked code, each lane's address,
    /// value and store emitted together, in lane order (see [`Tr::v_gather_load`]).
    fn v_scatter_store(&mut self, g: &Gather, ty: Ty, val: &VV) {
        if g.maybe_contig[1] && ty.bits() >= 32 {
            if let Some((contig, at)) = self.consecutive(g, ty.size() >> g.shift) {
                let (fast, slow, join) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.ins().brif(contig, fast, &[], slow, &[]);
                self.enter(fast);
                self.v_store(ty, Mode::Contig, &[at], val.clone());
                self.b.ins().jump(join, &[]);
                self.enter(slow);
                self.v_scatter_lanes(g, ty, val);
                self.b.ins().jump(join, &[]);
                self.enter(join);
                return;
            }
        }
        self.v_scatter_lanes(g, ty, val);
    }

    /// A scatter lane by lane, in lane order.
    fn v_scatter_lanes(&mut self, g: &Gather, ty: Ty, val: &VV) {
        for l in 0..self.g as usize {
            let a = self.gather_addr(g, l);
            let x = self.lane_at(ty, val, l);
            self.store_lane(ty, x, a, 0);
        }
    }

    /// The register-indexed site of an access ([`GatherSite::of`]) with its index register
    /// and its launch-wide limit variables.
    fn index_site(
        &self,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<Option<(GatherSite, Reg, SiteLimit)>> {
        let Some((site, r)) = GatherSite::of(global, shared, size) else {
            return Ok(None);
        };
        let vars = self.vs()?.glim.iter().find(|(s, _)| *s == site);
        Ok(vars.map(|&(_, v)| (site, r, v)))
    }

    /// The address `base + idx * scale` of an access through a uniform index register,
    /// checked with one compare against the site's limit (computed once per launch)
    /// instead of the general offset arithmetic and its overflow checks. `None` when the
    /// access has another shape.
    fn v_uniform_indexed(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<Option<Value>> {
        let Some((site, r, vars)) = self.index_site(global, shared, size)? else {
            return Ok(None);
        };
        let GatherSite {
            space, base, scale, ..
        } = site;
        let idx = self.v_lane_u64(Src::Reg(r), 0);
        let lim = self.b.use_var(vars.lim64);
        let none = self.b.use_var(vars.none);
        let over = self.b.ins().icmp(IntCC::UnsignedGreaterThan, idx, lim);
        let mut bad = self.b.ins().bor(over, none);
        if scale < size {
            // Aligned <=> the index is a multiple of size / scale (the base is aligned).
            let low = self.b.ins().band_imm_s(idx, (size / scale - 1) as i64);
            let mis = self.b.ins().icmp_imm_s(IntCC::NotEqual, low, 0);
            bad = self.b.ins().bor(bad, mis);
        }
        self.v_bail_if(bad, pc)?;
        let off = self.b.ins().ishl_imm_s(idx, scale.trailing_zeros() as i64);
        let off = self.b.ins().iadd_imm_s(off, base as i64);
        let ptr = self.v_space_ptr(space);
        Ok(Some(self.b.ins().iadd(ptr, off)))
    }

    /// Checks per-lane addresses `base + idx * scale` where `idx` is a per-lane 32-bit
    /// register: the bounds and alignment checks run on the index vectors (one compare per
    /// 4 lanes) instead of lane by lane; [`Tr::gather_addr`] gives each lane's address.
    /// `None` when the access has another shape.
    fn v_gather32(
        &mut self,
        pc: u32,
        global: Option<&Addr>,
        shared: Option<&SharedAddr>,
        size: u32,
    ) -> TrResult<Option<Gather>> {
        let Some((site, r, vars)) = self.index_site(global, shared, size)? else {
            return Ok(None);
        };
        let maybe_contig = [false, true].map(|store| site.may_be_consecutive(self.an, r, store));
        let GatherSite {
            space, base, scale, ..
        } = site;
        let r = r.0 as usize;
        let class = self.an.reg_class.get(r).copied().unwrap_or(Class::Untyped);
        let parts = self.vs()?.vregs.get(r).cloned().unwrap_or_default();
        if class.lane_type().bits() != 32 || parts.is_empty() {
            return Ok(None);
        }
        let sh = scale.trailing_zeros() as i64;
        let (lim, short) = (self.b.use_var(vars.lim32), self.b.use_var(vars.none));
        let ptr = self.v_space_ptr(space);
        let limv = self.b.ins().splat(types::I32X4, lim);
        // In masked code, the lanes not running it use index 0: their own may be anything
        // (a -1 sentinel the branch tests for), and must not make the group bail out.
        let keep = self.keep_masks(32);
        let mut ok: Option<Value> = None;
        let mut idxs = Vec::with_capacity(parts.len());
        for (k, &pv) in parts.iter().enumerate() {
            let v = self.b.use_var(pv);
            let iv = bitcast(&mut self.b, types::I32X4, v);
            let iv = match keep.as_ref().and_then(|m| m.get(k)) {
                Some(&m) => self.b.ins().band_not(iv, m),
                None => iv,
            };
            idxs.push(iv);
            let mut good = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, iv, limv);
            if scale < size {
                let m = konst(&mut self.b, types::I32X4, (size / scale - 1) as u64);
                let low = self.b.ins().band(iv, m);
                let z = konst(&mut self.b, types::I32X4, 0);
                let al = self.b.ins().icmp(IntCC::Equal, low, z);
                good = self.b.ins().band(good, al);
            }
            ok = Some(match ok {
                Some(o) => self.b.ins().band(o, good),
                None => good,
            });
        }
        let Some(ok) = ok else { return Ok(None) };
        let all = self.b.ins().vall_true(ok);
        let notall = self.b.ins().icmp_imm_s(IntCC::Equal, all, 0);
        let bad = self.b.ins().bor(notall, short);
        self.v_bail_if(bad, pc)?;
        let base = self.b.ins().iadd_imm_s(ptr, base as i64);
        Ok(Some(Gather {
            base,
            shift: sh,
            idxs,
            maybe_contig,
        }))
    }

    /// Lane `l`'s address of a checked gather.
    fn gather_addr(&mut self, g: &Gather, l: usize) -> Value {
        let x = self.b.ins().extractlane(g.idxs[l / 4], (l % 4) as u8);
        let x = self.b.ins().uextend(types::I64, x);
        let o = self.b.ins().ishl_imm_s(x, g.shift);
        self.b.ins().iadd(g.base, o)
    }

    pub(super) fn v_load(&mut self, ty: Ty, mode: Mode, addrs: &[Value]) -> VV {
        match mode {
            Mode::Uniform => VV::U(self.load_lane(ty, addrs[0], 0)),
            Mode::Contig if ty.bits() < 32 => VV::V(self.load_narrow(ty, addrs[0])),
            Mode::Contig => {
                let vt = compute_vec(ty);
                let fl = MemFlagsData::new().with_notrap();
                VV::V(
                    (0..self.g / vt.lane_count())
                        .map(|k| self.b.ins().load(vt, fl, addrs[0], (k * 16) as i32))
                        .collect(),
                )
            }
            Mode::Lanes => {
                let lanes: Vec<Value> = addrs.iter().map(|&a| self.load_lane(ty, a, 0)).collect();
                VV::V(self.build_parts(ty, &lanes))
            }
        }
    }

    pub(super) fn v_store(&mut self, ty: Ty, mode: Mode, addrs: &[Value], val: VV) {
        match mode {
            Mode::Uniform => {
                // Every lane stores to the same place, in lane order: the last lane wins.
                let x = self.lane_at(ty, &val, self.g as usize - 1);
                self.store_lane(ty, x, addrs[0], 0);
            }
            Mode::Contig if ty.bits() < 32 => {
                let ps = self.parts(ty, val);
                self.store_narrow(ty, ps, addrs[0]);
            }
            Mode::Contig => {
                let fl = MemFlagsData::new().with_notrap();
                let ps = self.parts(ty, val);
                for (k, p) in ps.into_iter().enumerate() {
                    self.b.ins().store(fl, p, addrs[0], (k * 16) as i32);
                }
            }
            Mode::Lanes => {
                let ls = self.lanes(ty, &val);
                for (x, &a) in ls.into_iter().zip(addrs) {
                    self.store_lane(ty, x, a, 0);
                }
            }
        }
    }
}

/// The `I32X4` constant of the four `lanes`.
fn konst_lanes(
    b: &mut cranelift_frontend::FunctionBuilder,
    lanes: impl Iterator<Item = u32>,
) -> Value {
    let bytes: Vec<u8> = lanes.flat_map(u32::to_le_bytes).collect();
    let c = b.func.dfg.constants.insert(bytes.into());
    b.ins().vconst(types::I32X4, c)
}
