//! Decoding: a verified program becomes a vector of [`DInst`], once per program (the VM caches
//! the result by `ProgramKey`).
//!
//! Branch targets are already instruction indices; operands are resolved to register rows
//! (general registers, then the special rows `%lane`, `%gid`, `%block`) or to slots of the
//! launch's uniform table (immediates, scalar parameters, `%bdim`, `%gdim`); each computational
//! instruction gets the function pointer of its monomorphised lane loop. A sentinel `End` after
//! the last instruction makes "fell off the end" an ordinary instruction.

use std::collections::HashMap;

use holovm_isa::{
    Addr, BinOp, Inst, ParamKind, Program, SharedAddr, Special, Src, Ty, NUM_PREDS, POOL_CLASSES,
    POOL_CLASS_BYTES, POOL_PAGES, POOL_PAGE_BYTES,
};

use super::mem::{self, GAddr, LdgFn, LdsFn, SAddr, StgFn, StsFn};
use super::ops::{self, BinFn, FmaFn, RedFn, SelFn, SetpFn, UnFn};
use super::Opnd;

/// A decoded instruction.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DInst {
    Un {
        f: UnFn,
        d: u32,
        a: Opnd,
    },
    /// `traps`: integer `div`/`rem`, which may fault.
    Bin {
        f: BinFn,
        d: u32,
        a: Opnd,
        b: Opnd,
        traps: bool,
    },
    Fma {
        f: FmaFn,
        d: u32,
        a: Opnd,
        b: Opnd,
        c: Opnd,
    },
    Sel {
        f: SelFn,
        d: u32,
        p: u32,
        a: Opnd,
        b: Opnd,
    },
    Setp {
        f: SetpFn,
        p: u32,
        a: Opnd,
        b: Opnd,
    },
    Ldg {
        f: LdgFn,
        d: u32,
        a: GAddr,
    },
    Stg {
        f: StgFn,
        s: Opnd,
        a: GAddr,
    },
    Lds {
        f: LdsFn,
        d: u32,
        a: SAddr,
    },
    Sts {
        f: StsFn,
        s: Opnd,
        a: SAddr,
    },
    Reduce {
        f: RedFn,
        d: u32,
        a: Opnd,
    },
    /// `guard` is `(predicate, negate)`.
    Bra {
        target: u32,
        guard: Option<(u32, bool)>,
    },
    Loop {
        c: u32,
        target: u32,
    },
    Call {
        target: u32,
    },
    Ret,
    Exit,
    Bar,
    Fence,
    /// One past the last instruction.
    End,
}

impl DInst {
    /// True for instructions that only compute registers or predicates from registers and
    /// cannot trap: running them for lanes that have exited is harmless (nothing ever reads
    /// an exited lane's registers again), so a converged block with exited lanes can still
    /// use the full-row lane loops for them.
    pub(crate) fn pure(&self) -> bool {
        match self {
            DInst::Un { .. } | DInst::Fma { .. } | DInst::Sel { .. } | DInst::Setp { .. } => true,
            DInst::Bin { traps, .. } => !traps,
            _ => false,
        }
    }
}

/// Where a uniform-table slot's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum UniSrc {
    Imm(u64),
    Param(u32),
    BlockDim,
    GridDim,
}

/// A decoded program.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The instructions, plus the `End` sentinel.
    pub(crate) insts: Vec<DInst>,
    /// General register rows (one more than the highest register named).
    pub(crate) nregs: u32,
    /// Predicate rows (one more than the highest predicate named).
    pub(crate) npreds: u32,
    /// The uniform table's sources.
    pub(crate) uni: Vec<UniSrc>,
    /// The `loop` counter update.
    pub(crate) loop_fn: ops::LoopFn,
    /// `.shared` bytes.
    pub(crate) shared_bytes: u32,
    /// The program contains `call` (lanes need call stacks).
    pub(crate) has_call: bool,
    /// Whether the program has a `ret` (which reads the call stack's depth even when no
    /// `call` can push).
    pub(crate) has_ret: bool,
    /// The program contains `sts` (shared memory must be re-zeroed per block).
    pub(crate) has_sts: bool,
    /// General registers some lane may read before writing: only these need zeroing at the
    /// start of a block (see [`must_define`]).
    pub(crate) zero_regs: Vec<u32>,
    /// Predicates some lane may read before writing.
    pub(crate) zero_preds: Vec<u32>,
    /// The program reads `%gid`, `%block` (their rows need filling per block).
    pub(crate) uses_gid: bool,
    pub(crate) uses_block: bool,
    /// The program cannot tell its blocks apart (it reads neither `%lane` nor `%block` and
    /// has no shared memory, barriers or reductions): consecutive blocks may run together
    /// as one longer block.
    pub(crate) runs_blocks: bool,
}

impl Decoded {
    pub(crate) fn lane_row(&self) -> u32 {
        self.nregs
    }
    pub(crate) fn gid_row(&self) -> u32 {
        self.nregs + 1
    }
    pub(crate) fn block_row(&self) -> u32 {
        self.nregs + 2
    }
    /// All rows: general registers and the three special rows.
    pub(crate) fn rows(&self) -> u32 {
        self.nregs + 3
    }
}

struct Decoder<'a> {
    program: &'a Program,
    nregs: u32,
    npreds: u32,
    uni: Vec<UniSrc>,
    uni_index: HashMap<UniSrc, u32>,
    simd: bool,
}

impl Decoder<'_> {
    fn uniform(&mut self, s: UniSrc) -> Opnd {
        let next = self.uni.len() as u32;
        let k = *self.uni_index.entry(s).or_insert(next);
        if k == next {
            self.uni.push(s);
        }
        Opnd::Uni(k)
    }

    fn src(&mut self, s: Src) -> Result<Opnd, String> {
        Ok(match s {
            Src::Reg(r) => Opnd::Row(r.0 as u32),
            Src::Special(Special::Lane) => Opnd::Row(self.nregs),
            Src::Special(Special::GlobalId) => Opnd::Row(self.nregs + 1),
            Src::Special(Special::Block) => Opnd::Row(self.nregs + 2),
            Src::Special(Special::BlockDim) => self.uniform(UniSrc::BlockDim),
            Src::Special(Special::GridDim) => self.uniform(UniSrc::GridDim),
            Src::Param(p) => match self.program.params().get(p as usize) {
                Some(param) if matches!(param.kind, ParamKind::Scalar(_)) => {
                    self.uniform(UniSrc::Param(p as u32))
                }
                _ => {
                    return Err(format!(
                        "operand names parameter {p}, which is not a scalar"
                    ))
                }
            },
            Src::Imm(v) => self.uniform(UniSrc::Imm(v)),
        })
    }

    fn pred(&mut self, p: u8) -> Result<u32, String> {
        if p as usize >= NUM_PREDS {
            return Err(format!("predicate p{p} does not exist"));
        }
        self.npreds = self.npreds.max(p as u32 + 1);
        Ok(p as u32)
    }

    fn target(&self, t: u32) -> Result<u32, String> {
        if (t as usize) < self.program.insts().len() {
            Ok(t)
        } else {
            Err(format!("branch target {t} is outside the program"))
        }
    }

    fn is_contig(&self, idx: Opnd, scale: u8, ty: Ty) -> bool {
        matches!(idx, Opnd::Row(r) if r == self.nregs || r == self.nregs + 1)
            && scale as u32 == ty.size()
    }

    fn index(&mut self, index: Src, scale: u8) -> Result<Opnd, String> {
        if !matches!(scale, 1 | 2 | 4 | 8) {
            return Err(format!("scale {scale} is not 1, 2, 4 or 8"));
        }
        self.src(index)
    }

    fn buffer(&self, buf: u8) -> Result<u32, String> {
        match self.program.params().get(buf as usize) {
            Some(p) if matches!(p.kind, ParamKind::Buffer(_)) => Ok(buf as u32),
            _ => Err(format!(
                "address names parameter {buf}, which is not a buffer"
            )),
        }
    }

    fn gaddr(&mut self, a: Addr, ty: Ty) -> Result<GAddr, String> {
        Ok(match a {
            Addr::BufferOffset { buf, offset } => GAddr::BufOff {
                p: self.buffer(buf)?,
                off: offset,
            },
            Addr::BufferIndex { buf, index, scale } => {
                let p = self.buffer(buf)?;
                let idx = self.index(index, scale)?;
                GAddr::BufIdx {
                    p,
                    idx,
                    scale,
                    contig: self.is_contig(idx, scale, ty),
                }
            }
            Addr::Phi {
                class,
                page,
                byte,
                index,
            } => {
                if class as u32 >= POOL_CLASSES || page as u32 >= POOL_PAGES {
                    return Err(format!("phi({class}, {page}, {byte}) is outside the pool"));
                }
                let off =
                    class as u32 * POOL_CLASS_BYTES + page as u32 * POOL_PAGE_BYTES + byte as u32;
                let (idx, contig) = match index {
                    Some((i, s)) => {
                        let i = self.index(i, s)?;
                        (Some((i, s)), self.is_contig(i, s, ty))
                    }
                    None => (None, false),
                };
                GAddr::Phi { off, idx, contig }
            }
            Addr::RegisterIndirect { base, offset } => GAddr::Ind {
                r: base.0 as u32,
                off: offset,
            },
            Addr::RegisterIndirectComputed { handle, offset } => GAddr::IndC {
                h: handle.0 as u32,
                o: offset.0 as u32,
            },
        })
    }

    fn saddr(&mut self, a: SharedAddr, ty: Ty) -> Result<SAddr, String> {
        let (idx, contig) = match a.index {
            Some((i, s)) => {
                let i = self.index(i, s)?;
                (Some((i, s)), self.is_contig(i, s, ty))
            }
            None => (None, false),
        };
        Ok(SAddr {
            idx,
            off: a.offset,
            contig,
        })
    }

    fn inst(&mut self, inst: &Inst) -> Result<DInst, String> {
        let simd = self.simd;
        let undefined = |what: &str, ty: Ty| format!("`{what}` is not defined for {ty}");
        Ok(match *inst {
            Inst::Ldg { ty, dst, addr } => DInst::Ldg {
                f: mem::ldg_fn(ty.size()),
                d: dst.0 as u32,
                a: self.gaddr(addr, ty)?,
            },
            Inst::Stg { ty, src, addr } => DInst::Stg {
                f: mem::stg_fn(ty.size()),
                s: self.src(src)?,
                a: self.gaddr(addr, ty)?,
            },
            Inst::Lds { ty, dst, addr } => DInst::Lds {
                f: mem::lds_fn(ty.size()),
                d: dst.0 as u32,
                a: self.saddr(addr, ty)?,
            },
            Inst::Sts { ty, src, addr } => DInst::Sts {
                f: mem::sts_fn(ty.size()),
                s: self.src(src)?,
                a: self.saddr(addr, ty)?,
            },
            Inst::Mov { ty, dst, src } => DInst::Un {
                f: ops::mov_fn(ty, simd),
                d: dst.0 as u32,
                a: self.src(src)?,
            },
            Inst::Cvt { to, from, dst, src } => DInst::Un {
                f: ops::cvt_fn(to, from, simd),
                d: dst.0 as u32,
                a: self.src(src)?,
            },
            Inst::Bin { op, ty, dst, a, b } => DInst::Bin {
                f: ops::bin_fn(op, ty, simd).ok_or_else(|| undefined(op.name(), ty))?,
                d: dst.0 as u32,
                a: self.src(a)?,
                b: self.src(b)?,
                traps: ty.is_int() && matches!(op, BinOp::Div | BinOp::Rem),
            },
            Inst::Un { op, ty, dst, a } => DInst::Un {
                f: ops::un_fn(op, ty, simd).ok_or_else(|| undefined(op.name(), ty))?,
                d: dst.0 as u32,
                a: self.src(a)?,
            },
            Inst::Fma { ty, dst, a, b, c } => DInst::Fma {
                f: ops::fma_fn(ty, simd),
                d: dst.0 as u32,
                a: self.src(a)?,
                b: self.src(b)?,
                c: self.src(c)?,
            },
            Inst::Setp { cmp, ty, dst, a, b } => DInst::Setp {
                f: ops::setp_fn(cmp, ty, simd),
                p: self.pred(dst.0)?,
                a: self.src(a)?,
                b: self.src(b)?,
            },
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            } => DInst::Sel {
                f: ops::sel_fn(ty, simd),
                d: dst.0 as u32,
                p: self.pred(pred.0)?,
                a: self.src(a)?,
                b: self.src(b)?,
            },
            Inst::Bra { target, guard } => DInst::Bra {
                target: self.target(target)?,
                guard: match guard {
                    Some(g) => Some((self.pred(g.pred.0)?, g.negate)),
                    None => None,
                },
            },
            Inst::Loop { counter, target } => DInst::Loop {
                c: counter.0 as u32,
                target: self.target(target)?,
            },
            Inst::Call { target } => DInst::Call {
                target: self.target(target)?,
            },
            Inst::Ret => DInst::Ret,
            Inst::Exit => DInst::Exit,
            Inst::BarSync => DInst::Bar,
            Inst::MemFence => DInst::Fence,
            Inst::Reduce { op, ty, dst, src } => DInst::Reduce {
                f: ops::reduce_fn(op, ty),
                d: dst.0 as u32,
                a: self.src(src)?,
            },
        })
    }
}

/// Decodes `program`; `simd` selects the AVX2 + FMA lane loops (only pass `true` when
/// `ops::simd_available()`). An error names the instruction index and the problem; it can only
/// happen for a program the verifier should have rejected.
pub(crate) fn decode(program: &Program, simd: bool) -> Result<Decoded, String> {
    let insts = program.insts();
    let nregs = u32::from(program.num_regs());
    let mut d = Decoder {
        program,
        nregs,
        npreds: 0,
        uni: Vec::new(),
        uni_index: HashMap::new(),
        simd: simd && ops::simd_available(),
    };
    let mut out = Vec::with_capacity(insts.len() + 1);
    for (pc, inst) in insts.iter().enumerate() {
        out.push(d.inst(inst).map_err(|m| format!("instruction {pc}: {m}"))?);
    }
    out.push(DInst::End);
    let (zero_regs, zero_preds) = must_define(insts);
    let simd = d.simd;
    Ok(Decoded {
        loop_fn: ops::loop_fn(simd),
        zero_regs,
        zero_preds,
        uses_gid: program.reads_special(Special::GlobalId),
        uses_block: program.reads_special(Special::Block),
        runs_blocks: program.ignores_blocks(),
        insts: out,
        nregs,
        npreds: d.npreds,
        uni: d.uni,
        shared_bytes: program.shared_bytes(),
        has_call: insts.iter().any(|i| matches!(i, Inst::Call { .. })),
        has_ret: insts.iter().any(|i| matches!(i, Inst::Ret)),
        has_sts: insts.iter().any(|i| matches!(i, Inst::Sts { .. })),
    })
}

/// A set of general registers and predicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Set {
    r: [u64; 4],
    p: u32,
}

impl Set {
    const EMPTY: Set = Set { r: [0; 4], p: 0 };
    const FULL: Set = Set {
        r: [u64::MAX; 4],
        p: u32::MAX,
    };

    fn reg(&mut self, r: u8) {
        self.r[r as usize / 64] |= 1 << (r % 64);
    }
    fn pred(&mut self, p: u8) {
        if (p as usize) < 32 {
            self.p |= 1 << p;
        }
    }
    fn src(&mut self, s: &Src) {
        if let Src::Reg(r) = s {
            self.reg(r.0)
        }
    }
    fn union(self, o: Set) -> Set {
        Set {
            r: [
                self.r[0] | o.r[0],
                self.r[1] | o.r[1],
                self.r[2] | o.r[2],
                self.r[3] | o.r[3],
            ],
            p: self.p | o.p,
        }
    }
    fn inter(self, o: Set) -> Set {
        Set {
            r: [
                self.r[0] & o.r[0],
                self.r[1] & o.r[1],
                self.r[2] & o.r[2],
                self.r[3] & o.r[3],
            ],
            p: self.p & o.p,
        }
    }
    fn minus(self, o: Set) -> Set {
        Set {
            r: [
                self.r[0] & !o.r[0],
                self.r[1] & !o.r[1],
                self.r[2] & !o.r[2],
                self.r[3] & !o.r[3],
            ],
            p: self.p & !o.p,
        }
    }
}

/// The registers and predicates `inst` reads, and those it writes.
fn uses_defs(inst: &Inst) -> (Set, Set) {
    let (mut u, mut d) = (Set::EMPTY, Set::EMPTY);
    for s in inst.sources() {
        u.src(&s);
    }
    if let Some(p) = inst.pred_read() {
        u.pred(p.0);
    }
    if let Some(r) = inst.dst_reg() {
        d.reg(r.0);
    }
    if let Some(p) = inst.pred_written() {
        d.pred(p.0);
    }
    (u, d)
}

/// Which registers and predicates a lane may read before it has written them, by a forward
/// "must be defined" data-flow analysis over the control-flow graph: a register read at `pc`
/// needs its initial zero unless it is written on every path from the entry to `pc`. Each lane
/// follows one path and every write covers the lanes executing it, so a register outside the
/// result is always written by a lane before that lane reads it, and need not be zeroed per
/// block.
///
/// Calls are modelled conservatively: `call` flows to its target and (without the callee's
/// writes) to the next instruction; `ret` flows nowhere.
pub(crate) fn must_define(insts: &[Inst]) -> (Vec<u32>, Vec<u32>) {
    let n = insts.len();
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let ud: Vec<(Set, Set)> = insts.iter().map(uses_defs).collect();
    let mut inn = vec![Set::FULL; n];
    inn[0] = Set::EMPTY;
    let mut work: Vec<usize> = vec![0];
    let mut queued = vec![false; n];
    queued[0] = true;
    while let Some(pc) = work.pop() {
        queued[pc] = false;
        let out = inn[pc].union(ud[pc].1);
        let mut flow = |s: usize| {
            if s < n {
                let new = inn[s].inter(out);
                if new != inn[s] {
                    inn[s] = new;
                    if !queued[s] {
                        queued[s] = true;
                        work.push(s);
                    }
                }
            }
        };
        match &insts[pc] {
            Inst::Bra { target, guard } => {
                flow(*target as usize);
                if guard.is_some() {
                    flow(pc + 1);
                }
            }
            Inst::Loop { target, .. } | Inst::Call { target } => {
                flow(*target as usize);
                flow(pc + 1);
            }
            Inst::Ret | Inst::Exit => {}
            _ => flow(pc + 1),
        }
    }
    let mut need = Set::EMPTY;
    for pc in 0..n {
        need = need.union(ud[pc].0.minus(inn[pc]));
    }
    let regs = (0..256u32)
        .filter(|&r| need.r[r as usize / 64] >> (r % 64) & 1 != 0)
        .collect();
    let preds = (0..32u32).filter(|&p| need.p >> p & 1 != 0).collect();
    (regs, preds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use holovm_isa::{Guard, Pred, Reg, Ty};

    fn mov(d: u8, s: Src) -> Inst {
        Inst::Mov {
            ty: Ty::U32,
            dst: Reg(d),
            src: s,
        }
    }

    #[test]
    fn must_define_finds_reads_before_writes() {
        let r = |i| Src::Reg(Reg(i));
        // r1 written then read: fine. r2 read first: needs zero. r3 written on one path
        // only, read after the join: needs zero. p0 defined before its guard.
        let insts = vec![
            mov(1, Src::Imm(1)),
            mov(4, r(1)),
            mov(5, r(2)),
            Inst::Setp {
                cmp: holovm_isa::Cmp::Eq,
                ty: Ty::U32,
                dst: Pred(0),
                a: r(1),
                b: r(1),
            },
            Inst::Bra {
                target: 6,
                guard: Some(Guard {
                    pred: Pred(0),
                    negate: false,
                }),
            },
            mov(3, Src::Imm(2)),
            mov(6, r(3)),
            Inst::Bra {
                target: 8,
                guard: Some(Guard {
                    pred: Pred(1),
                    negate: true,
                }),
            },
            Inst::Exit,
        ];
        let (regs, preds) = must_define(&insts);
        assert_eq!(regs, vec![2, 3]);
        assert_eq!(preds, vec![1]);
    }

    #[test]
    fn loops_keep_their_counters() {
        // loop r1 without a prior write of r1 reads the initial zero.
        let insts = vec![
            Inst::Loop {
                counter: Reg(1),
                target: 0,
            },
            Inst::Exit,
        ];
        assert_eq!(must_define(&insts).0, vec![1]);
        let insts = vec![
            mov(1, Src::Imm(3)),
            Inst::Loop {
                counter: Reg(1),
                target: 1,
            },
            Inst::Exit,
        ];
        assert!(must_define(&insts).0.is_empty());
    }
}
