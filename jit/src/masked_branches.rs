//! Forward branches whose lanes may disagree, which vector code runs both ways under lane
//! masks ("if-conversion"; the translation is in vector/masked.rs): which branches qualify
//! ([`masked_branches`]) and what the translation needs to know about each
//! ([`MaskedBranch`]).

use holovm_isa::{BinOp, Inst, Src};

use crate::analysis::{operands, src_affine};

/// A conditional forward branch that vector code runs both ways under lane masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MaskedBranch {
    /// Where both ways meet again: the branch target, or for an `if`/`else` the target of
    /// the unconditional `bra` that ends the fall-through side.
    pub join: u32,
    /// For an `if`/`else`: the branch target, where the taken side's code starts.
    pub else_at: Option<u32>,
    /// Whether vector code tests if a side has lanes to run before running it: for code
    /// with memory accesses, divisions, transcendentals or more than
    /// [`BRANCH_FREE_LIMIT`] instructions. Shorter code runs every side unconditionally,
    /// branch-free (the tests' branches mispredict when lanes disagree at random).
    pub skip: bool,
    /// Whether the code's stores wait for the join (as the outermost masked branch): some
    /// store that comes after a load on its path is followed by a second store or by a
    /// check that can fail, whose bail-out would run the code again in scalar code, where
    /// the load would read what the store wrote. (Without such a load, running the code
    /// again repeats the same stores with the same values: no harm.)
    pub defer: bool,
    /// For an `if`/`else` whose sides store to the same place: the fall-through side's
    /// last store and the taken side's store there ([`store_pair`]).
    pub pair: Option<(u32, u32)>,
    /// Whether vector code also has an unmasked copy of the code, which groups whose lanes
    /// agree at the branch run: for code that skips sides or whose stores wait, unless the
    /// branch tests the lane index (`if %lane == 0` after a reduction: one group disagrees,
    /// the others skip the code whole anyway). A leaky relu storing on each side (64K
    /// elements, every lane one way) took 10.3-11.4 us masked, 6.0-8.2 unmasked (before
    /// store pairs); where stores wait, the masked code took twice the unmasked time.
    pub copy: bool,
}

/// The most instructions a masked branch's code may have to run branch-free (see
/// [`MaskedBranch::skip`]): an else-if chain of two moves and a multiply over 64K mixed
/// elements took 42-47.5 us with the tests, 27 us without (its native loop 14.8-17.3).
const BRANCH_FREE_LIMIT: usize = 8;

/// The conditional forward branches whose lanes may disagree and that vector code runs
/// both ways ("if-conversion"): an `if` (`@p bra @join`, then the *body* `pc + 1 .. join`)
/// or an `if`/`else` (`@p bra @else`, the fall-through side ending in `bra @join`, then the
/// `else .. join` side), when the guard predicate is per-lane, nothing outside enters the
/// code between the branch and the join, and that code is made of moves, arithmetic,
/// compares, selects, loads, stores and such branches nested inside one side, writing only
/// per-lane (not uniform) registers and predicates held as lane masks (no compare of a
/// lane-affine value), and lane-affine registers only where they are dead outside the code
/// ([`MaskScan::writable_reg`]). The vector code runs each side for the whole group
/// and keeps the old value of every register a lane not on that side would not have
/// written; a check that fails inside sends the group back to the outermost such branch in
/// scalar code with its registers as they were there. So that a lane never reads there
/// what it stored before, stores after a load on their path and followed by another store
/// or a check that can fail wait for the join ([`MaskedBranch::defer`]), and no load may
/// follow a store on the same path (it would not see a store that waits).
pub(crate) fn masked_branches(
    insts: &[Inst],
    reg_uniform: &[bool],
    reg_affine: &[bool],
    pred_uniform: &[bool],
    live_regs: &[[u64; 4]],
) -> Vec<Option<MaskedBranch>> {
    let n = insts.len();
    // The instructions that branch (or call) to each pc.
    let mut sources: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (pc, t) in insts
        .iter()
        .enumerate()
        .filter_map(|(pc, i)| Some((pc, i.target()?)))
    {
        if let Some(x) = sources.get_mut(t as usize) {
            x.push(pc);
        }
    }
    // From the last branch to the first, so nested branches are known first.
    let mut out: Vec<Option<MaskedBranch>> = vec![None; n];
    for pc in (0..n).rev() {
        let Inst::Bra {
            target,
            guard: Some(g),
        } = insts[pc]
        else {
            continue;
        };
        let t = target as usize;
        if t <= pc || t > n || pred_uniform.get(g.pred.0 as usize).is_none_or(|&u| u) {
            continue;
        }
        // An `if`/`else`: the fall-through side ends in `bra @join` at or past the target.
        let else_jump = match insts[t - 1] {
            Inst::Bra {
                target: j,
                guard: None,
            } if t > pc + 1 && j as usize >= t && j as usize <= n => Some(j as usize),
            _ => None,
        };
        let join = else_jump.unwrap_or(t);
        // Where a lane-affine register the code writes must be dead: where a bail-out
        // resumes (the branch or the `setp` before it) and where the code ends. (Dead at
        // the branch, it is dead where the taken side of an `if`/`else` starts.)
        let dead_at = vec![pc, pc.saturating_sub(1), join];
        let mut scan = MaskScan {
            insts,
            inner: &out,
            reg_uniform,
            reg_affine,
            pred_uniform,
            live_regs,
            dead_at,
            risky: false,
            defer: false,
        };
        let closed = (pc + 1..join).all(|x| sources[x].iter().all(|&s| (pc..join).contains(&s)));
        let ok = closed
            && match else_jump {
                Some(j) => {
                    scan.side(pc + 1, t - 1, Path::default()).is_some()
                        && scan.side(t, j, Path::default()).is_some()
                }
                None => scan.side(pc + 1, t, Path::default()).is_some(),
            };
        if ok {
            let pair = else_jump.and_then(|j| store_pair(&scan, pc + 1, t, j));
            // A store pair is one vector store wherever the code runs every side.
            let paired = |q: usize| pair.is_some_and(|(a, b)| q as u32 == a || q as u32 == b);
            let costly = (pc + 1..join).any(|q| match insts[q] {
                Inst::Stg { .. } if paired(q) => false,
                Inst::Ldg { .. } | Inst::Lds { .. } | Inst::Stg { .. } | Inst::Sts { .. } => true,
                Inst::Bin { op, .. } => matches!(op, BinOp::Div | BinOp::Rem),
                Inst::Un { op, .. } => op.float_only(),
                _ => false,
            });
            let lane_test = pc > 0
                && matches!(insts[pc - 1], Inst::Setp { dst, a, b, .. }
                    if dst == g.pred && [a, b].iter().any(|s| scan.affine(s)));
            let skip = costly || join - pc - 1 > BRANCH_FREE_LIMIT;
            out[pc] = Some(MaskedBranch {
                join: join as u32,
                else_at: else_jump.map(|_| target),
                skip,
                defer: scan.defer,
                pair,
                copy: (skip || scan.defer) && !lane_test,
            });
        }
    }
    out
}

/// Of an `if`/`else` with the fall-through side `start .. else_at - 1` and the taken side
/// `else_at .. join` (each with its masked branches in `inner`): the fall-through side's last
/// store and a store of the taken side to the same place, of the same type, with the same
/// address operands (uniform or lane-affine registers not written between the two), both
/// outside nested branches (every lane of the side runs it). Every lane runs one of the
/// two, so vector code can write both at once, where the second one is, each lane its
/// side's value (masked_store.rs).
fn store_pair(scan: &MaskScan, start: usize, else_at: usize, join: usize) -> Option<(u32, u32)> {
    let (insts, inner) = (scan.insts, scan.inner);
    let top_level = |q: usize, from: usize, to: usize| {
        !(from..to).any(|b| inner[b].is_some_and(|m| b < q && q < m.join as usize))
    };
    let first = (start..else_at - 1)
        .rev()
        .find(|&q| matches!(insts[q], Inst::Stg { .. } | Inst::Sts { .. }))?;
    let Inst::Stg { ty, addr, .. } = insts[first] else {
        return None;
    };
    if !top_level(first, start, else_at - 1) {
        return None;
    }
    let second = (else_at..join).find(|&q| {
        matches!(insts[q], Inst::Stg { ty: t, addr: a, .. } if t == ty && a == addr)
            && top_level(q, else_at, join)
    })?;
    // The same place for the lanes of the first side: no register of the address is
    // written between the two. No per-lane index either: masked code reads the index of the
    // lanes that do not run it as 0 (memory.rs).
    let regs: Vec<u8> = addr
        .sources()
        .into_iter()
        .flatten()
        .filter_map(Src::reg)
        .map(|r| r.0)
        .collect();
    let rewritten = insts[first + 1..second]
        .iter()
        .any(|i| operands(i).dst.is_some_and(|(r, _)| regs.contains(&r)));
    let per_lane = regs.iter().any(|&r| scan.per_lane_reg(r));
    (!rewritten && !per_lane).then_some((first as u32, second as u32))
}

/// Checks the code of one masked branch for [`masked_branches`], a side at a time in
/// program order.
struct MaskScan<'a> {
    insts: &'a [Inst],
    /// The masked branches after the one being checked (nested ones are among them).
    inner: &'a [Option<MaskedBranch>],
    reg_uniform: &'a [bool],
    reg_affine: &'a [bool],
    pred_uniform: &'a [bool],
    live_regs: &'a [[u64; 4]],
    /// The pcs where a lane-affine register written in the code must be dead.
    dead_at: Vec<usize>,
    /// Whether a store that a load came before on its path came before, in program order.
    risky: bool,
    /// Whether such a store is followed by another store or a check that can fail.
    defer: bool,
}

/// What a path through masked code did before an instruction.
#[derive(Clone, Copy, Default)]
struct Path {
    loaded: bool,
    stored: bool,
}

impl Path {
    /// Where two paths meet.
    fn or(self, o: Path) -> Path {
        Path {
            loaded: self.loaded || o.loaded,
            stored: self.stored || o.stored,
        }
    }
}

impl MaskScan<'_> {
    fn uniform_pred(&self, p: u8) -> bool {
        self.pred_uniform.get(p as usize).copied().unwrap_or(true)
    }

    /// Whether `s` is lane-affine (`%lane`, `%gid` or a lane-affine register).
    fn affine(&self, s: &Src) -> bool {
        src_affine(s, self.reg_affine)
    }

    fn per_lane_reg(&self, r: u8) -> bool {
        !self.reg_uniform.get(r as usize).copied().unwrap_or(true)
            && !self.reg_affine.get(r as usize).copied().unwrap_or(true)
    }

    /// Whether masked code may write register `r`: a per-lane one (each lane keeps its old
    /// value where it does not run the code), or a lane-affine or uniform one that is dead
    /// wherever its old value could be read (vector code writes it in every lane: a tree
    /// reduction's `add r3, %lane, s` under `if %lane < s`, or its `lds r6, [shared]`
    /// under `if %lane == 0`).
    fn writable_reg(&self, reg: u8) -> bool {
        let r = reg as usize;
        let one_value = self.reg_affine.get(r).copied().unwrap_or(false)
            || self.reg_uniform.get(r).copied().unwrap_or(false);
        self.per_lane_reg(reg)
            || (one_value
                && self.dead_at.iter().all(|&pc| {
                    self.live_regs
                        .get(pc)
                        .is_some_and(|l| l[r / 64] & (1 << (r % 64)) == 0)
                }))
    }

    /// Checks the side `start..end`, entered on `path`; returns the path at its end,
    /// `None` if it cannot be masked.
    fn side(&mut self, start: usize, end: usize, mut path: Path) -> Option<Path> {
        let mut q = start;
        while q < end {
            if let Inst::Bra { guard: Some(_), .. } = self.insts[q] {
                // A nested masked branch: each side's path from here on its own.
                let m = self.inner[q].filter(|m| m.join as usize <= end)?;
                let join = m.join as usize;
                path = match m.else_at {
                    Some(e) => {
                        let a = self.side(q + 1, e as usize - 1, path)?;
                        self.side(e as usize, join, path)?.or(a)
                    }
                    None => self.side(q + 1, join, path)?.or(path),
                };
                q = join;
                continue;
            }
            self.inst(&self.insts[q], &mut path)?;
            q += 1;
        }
        Some(path)
    }

    /// Checks one instruction of a side on `path`.
    fn inst(&mut self, inst: &Inst, path: &mut Path) -> Option<()> {
        let o = operands(inst);
        let writes_ok = o.dst.is_none_or(|(r, _)| self.writable_reg(r))
            && o.pred_dst.is_none_or(|p| !self.uniform_pred(p));
        let (may_fail, load, store) = match inst {
            Inst::Mov { .. }
            | Inst::Cvt { .. }
            | Inst::Un { .. }
            | Inst::Fma { .. }
            | Inst::Sel { .. }
            | Inst::MemFence => (false, false, false),
            // A compare of a lane-affine value is kept as that value, not as lane masks.
            Inst::Setp { a, b, .. } => {
                if [a, b].iter().any(|s| self.affine(s)) {
                    return None;
                }
                (false, false, false)
            }
            Inst::Bin { op, .. } => (
                matches!(op, BinOp::Div | BinOp::Rem | BinOp::Min | BinOp::Max),
                false,
                false,
            ),
            // A load after a store on its path would not see a store that waits.
            Inst::Ldg { .. } | Inst::Lds { .. } if path.stored => return None,
            Inst::Ldg { .. } | Inst::Lds { .. } => (true, true, false),
            Inst::Stg { .. } | Inst::Sts { .. } => (true, false, true),
            _ => return None,
        };
        if !writes_ok {
            return None;
        }
        // Run again, a lane would read what it stored here (a lane's loads on other paths
        // read other lanes' locations: a data race, docs/ISA.md section 1). Without such a
        // load, running the code again repeats the same stores.
        self.defer |= self.risky && may_fail;
        self.risky |= store && path.loaded;
        path.loaded |= load;
        path.stored |= store;
        Some(())
    }
}
