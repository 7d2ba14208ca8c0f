//! Divergent forward branches run both ways under lane masks ("if-conversion").
//!
//! For a branch the analysis accepts ([`crate::analysis::Analysis::masked`]), a group runs
//! the skipped instructions (the *body*) for every lane, and each register or predicate
//! write keeps the old value in the lanes that took the branch (a `bitselect` by the
//! branch's lane mask), so at the target every lane holds what it would hold had it run
//! alone. An `if`/`else` runs its taken side the same way after the fall-through side, with
//! the inverse masks. Branches nest: an inner level's masks also keep the lanes its
//! enclosing levels leave out. Code with memory accesses, divisions, transcendentals or more
//! than a few instructions skips a side no lane runs, and groups whose lanes agree at the
//! outermost such branch run an unmasked copy of the code instead (mod.rs); shorter code
//! runs branch-free. A store writes only the lanes that run it; gathers and scatters use
//! index 0 for the others. A check that fails inside (a bounds check, a zero divisor)
//! restores the registers written since the outermost masked branch and bails out there (or
//! at the `setp` before it), where the per-lane code takes each lane its own way. Since that
//! runs the code again, a store after a load and followed by such a check or another store
//! waits ([`Deferred`]): the code goes to its outermost join through a block that writes
//! the waiting stores in program order. The two stores of an `if`/`else` to one place
//! ([`MaskedBranch::pair`]) are one vector store of both sides' values. The stores are in
//! masked_store.rs.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, Value};
use cranelift_frontend::Variable;
use holovm_isa::{Guard, Ty};

use crate::analysis::MaskedBranch;

use super::masked_store::{Deferred, Stash, Waiting};
use crate::ops::konst;
use crate::translate::{Tr, TrResult};

/// A masked branch's code while it is being translated (one level of nesting).
#[derive(Clone)]
pub(crate) struct Masked {
    /// Where both sides meet again, where the masking ends.
    pub join: u32,
    /// Per lane: all ones where the lane does not run the current side (its registers
    /// stay as they were; it includes the lanes enclosing levels leave out), in vectors of
    /// `bits`-bit lanes.
    pub keep: Vec<Value>,
    pub bits: u32,
    /// `keep` in the other lane width, built on first use.
    pub other: Option<Vec<Value>>,
    /// For an `if`/`else`: where the taken side starts, its masks, and whether any lane
    /// runs it (else the fall-through side jumps past it).
    pub else_at: Option<u32>,
    pub keep_else: Vec<Value>,
    pub some: Value,
    /// Masks that are compares (an `icmp`/`fcmp`, which a `bitselect` lowers to one blend)
    /// equal to `keep` or its complement (the bool: which): the outermost level's branch
    /// predicate as it came, an inner level's `keep == 0`; `raw_else` likewise for the
    /// taken side.
    pub raw: Option<(Vec<Value>, bool)>,
    pub raw_else: Option<(Vec<Value>, bool)>,
    /// [`MaskedBranch::skip`].
    pub skip: bool,
    /// [`MaskedBranch::pair`], for the outermost level of code that runs both sides (code
    /// run branch-free, or the masked copy of code with an unmasked one), and where in the
    /// store slot the first store's value waits for the second (its offset, parts and
    /// their type), or, in code run branch-free, where the first dominates the second, the
    /// parts themselves.
    pub pair: Option<(u32, u32)>,
    pub stash: Option<Stash>,
    /// Whether writes keep the old values in the kept lanes (false for a masked loop's
    /// level, whose lanes that left are kept by snapshots: it masks only gathers).
    pub mask_writes: bool,
}

/// The outermost masked branch's bail-out: a check that fails anywhere inside its code
/// restores the registers written since the branch and resumes there in scalar code.
#[derive(Clone)]
pub(crate) struct MaskedBail {
    /// Where to resume (the branch, or the `setp` right before it).
    pub pc: u32,
    /// The variables written between the branch and its join, with their values at the
    /// branch.
    pub restore: Vec<(Variable, Value)>,
    /// The stub, made on first use.
    pub stub: Option<Block>,
    /// For code whose stores wait for the join ([`MaskedBranch::defer`]): where in the
    /// store slot each of its `.1` stores has 8 bytes with its running lanes (bit l: lane
    /// l; see [`Tr::zero_masked_runs`]), and the stores translated so far.
    pub runs: Option<(i32, u32)>,
    pub deferred: Vec<Deferred>,
    /// Where the code goes to its join when stores wait: the block that writes them, on
    /// the way (paths into the join from elsewhere have nothing waiting).
    pub flush: Option<Block>,
}

impl Tr<'_, '_> {
    /// The branch at `pc` if it runs both ways under masks ([`crate::analysis::Analysis::masked`]).
    pub(super) fn masked_join(&self, pc: u32) -> Option<MaskedBranch> {
        let copy = self.v.as_ref().and_then(|v| v.unmasked);
        if copy.is_some_and(|(p, _)| p == pc) {
            // Its unmasked copy (see `emit_vector_program`); masked branches nested in it
            // run masked there, as outermost ones.
            return None;
        }
        self.an.masked.get(pc as usize).copied().flatten()
    }

    /// Whether masked code is being translated.
    pub(super) fn in_masked(&self) -> bool {
        self.v.as_ref().is_some_and(|v| !v.masked.is_empty())
    }

    /// Starts the masked branch at `pc` (guard `g`) in the current block, before it
    /// branches: `taken` is the branch predicate's lane masks (`bits`-bit lanes), `any` and
    /// `all` whether it holds in some / every lane. Returns whether every lane that runs
    /// this code branches (then the fall-through side is skipped).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn begin_masked(
        &mut self,
        pc: u32,
        bail_pc: u32,
        mb: MaskedBranch,
        g: Guard,
        taken: Vec<Value>,
        bits: u32,
        (any, all): (Value, Value),
    ) -> TrResult<Value> {
        let raw = taken.clone();
        let taken: Vec<Value> = if g.negate {
            taken.iter().map(|&m| self.b.ins().bnot(m)).collect()
        } else {
            taken
        };
        // Lanes that an enclosing level leaves out keep their values on both sides.
        let outer = self.keep_masks(bits);
        let (keep, keep_else, every, some) = match &outer {
            None => {
                let keep_else = match mb.else_at {
                    Some(_) => taken.iter().map(|&m| self.b.ins().bnot(m)).collect(),
                    None => Vec::new(),
                };
                let (every, some) = if g.negate {
                    let none = self.b.ins().icmp_imm_s(IntCC::Equal, any, 0);
                    let notall = self.b.ins().icmp_imm_s(IntCC::Equal, all, 0);
                    (none, notall)
                } else {
                    (all, any)
                };
                (taken, keep_else, every, some)
            }
            Some(o) => {
                let keep: Vec<Value> = taken
                    .iter()
                    .zip(o)
                    .map(|(&t, &o)| self.b.ins().bor(t, o))
                    .collect();
                // The lanes of this level that branch: taken and not left out.
                let branching: Vec<Value> = taken
                    .iter()
                    .zip(o)
                    .map(|(&t, &o)| self.b.ins().band_not(t, o))
                    .collect();
                let keep_else: Vec<Value> = match mb.else_at {
                    Some(_) => branching.iter().map(|&b| self.b.ins().bnot(b)).collect(),
                    None => Vec::new(),
                };
                let every = self.lanes_true(&keep, true);
                let some = self.lanes_true(&branching, false);
                (keep, keep_else, every, some)
            }
        };
        let (raw, raw_else) = match outer {
            // The running lanes as compares (`keep == 0`), which select by one blend where
            // the combined masks took three instructions.
            Some(_) => {
                let mut running = |keep: &[Value]| -> Vec<Value> {
                    keep.iter()
                        .map(|&k| {
                            let vt = self.b.func.dfg.value_type(k);
                            let zero = konst(&mut self.b, vt, 0);
                            self.b.ins().icmp(IntCC::Equal, k, zero)
                        })
                        .collect()
                };
                let run = running(&keep);
                let run_else = mb.else_at.map(|_| running(&keep_else));
                (Some((run, false)), run_else.map(|r| (r, false)))
            }
            None => (
                Some((raw.clone(), !g.negate)),
                mb.else_at.map(|_| (raw, g.negate)),
            ),
        };
        if outer.is_none() {
            let restore = self.written_vars(pc as usize + 1..mb.join as usize, Some(bail_pc))?;
            let runs = match mb.defer {
                true => self.vs()?.runs_at.get(pc as usize).copied().flatten(),
                false => None,
            };
            let flush = runs.map(|_| self.b.create_block());
            if let Some(v) = self.v.as_mut() {
                v.store_top = v.store_floor;
                v.masked_bail = Some(MaskedBail {
                    pc: bail_pc,
                    restore,
                    stub: None,
                    runs,
                    deferred: Vec::new(),
                    flush,
                });
            }
        }
        let copied = self.vs()?.copied == Some(pc);
        if let Some(v) = self.v.as_mut() {
            v.masked.push(Masked {
                pair: mb.pair.filter(|_| outer.is_none() && (copied || !mb.skip)),
                stash: None,
                join: mb.join,
                keep,
                bits,
                other: None,
                else_at: mb.else_at,
                keep_else,
                some,
                skip: mb.skip,
                raw,
                raw_else,
                mask_writes: true,
            });
        }
        Ok(every)
    }

    /// The vector variables written by the instructions at `pcs`, with their current
    /// values; with `live_at`, only those of registers and predicates live at that pc (a
    /// bail-out there zeroes the others, `Tr::forget_dead`: reading their values here would
    /// keep them live through the vector code for nothing).
    pub(super) fn written_vars(
        &mut self,
        pcs: std::ops::Range<usize>,
        live_at: Option<u32>,
    ) -> TrResult<Vec<(Variable, Value)>> {
        let mut restore: Vec<(Variable, Value)> = Vec::new();
        let body = self.p.insts()[pcs].to_vec();
        let (live_r, live_p) = match live_at {
            Some(pc) => self.live_at(std::iter::once(pc)),
            None => ([u64::MAX; 4], u16::MAX),
        };
        for inst in &body {
            let o = crate::analysis::operands(inst);
            let v = self.vs()?;
            let mut vars: Vec<Variable> = Vec::new();
            if let Some((r, _)) = o
                .dst
                .filter(|&(r, _)| live_r[r as usize / 64] & (1 << (r % 64)) != 0)
            {
                vars.extend(v.vregs.get(r as usize).into_iter().flatten());
            }
            if let Some(p) = o.pred_dst.filter(|&p| live_p & (1 << (p % 16)) != 0) {
                vars.extend(v.vpreds.get(p as usize).into_iter().flatten());
            }
            for var in vars {
                if !restore.iter().any(|(w, _)| *w == var) {
                    let x = self.b.use_var(var);
                    restore.push((var, x));
                }
            }
        }
        Ok(restore)
    }

    /// At `pc`: ends the masked levels that join here, or switches the innermost to the
    /// masks of its taken side where that starts. Returns the stores that wait for this
    /// join.
    pub(super) fn end_masked_at(&mut self, pc: u32) -> Option<Waiting> {
        let v = self.v.as_mut()?;
        while v.masked.last().is_some_and(|m| m.join == pc) {
            v.masked.pop();
        }
        let mut waiting = None;
        if v.masked.is_empty() {
            if let Some(m) = v.masked_bail.take() {
                if let (Some((runs, _)), Some(block)) = (m.runs, m.flush) {
                    waiting = Some(Waiting {
                        runs,
                        stores: m.deferred,
                        block,
                    });
                }
            }
        }
        if let Some(m) = v.masked.last_mut().filter(|m| m.else_at == Some(pc)) {
            m.keep = std::mem::take(&mut m.keep_else);
            m.raw = m.raw_else.take();
            // Made on the other side, which does not dominate this one.
            m.other = None;
        }
        waiting
    }

    /// The block the outermost masked code jumps to for its join at `pc`, if its stores
    /// wait there: the one that writes them ([`MaskedBail::flush`]).
    pub(super) fn flush_block(&self, pc: u32) -> Option<Block> {
        let v = self.v.as_ref()?;
        v.masked.first().filter(|m| m.join == pc)?;
        v.masked_bail.as_ref()?.flush
    }

    /// The `bra @join` that ends an `if`/`else`'s fall-through side: on to the taken side
    /// when some lane branched, else past it. Returns false for other branches.
    pub(super) fn v_else_jump(&mut self, pc: u32, target: u32) -> TrResult<bool> {
        let Some(m) = self.v.as_ref().and_then(|v| v.masked.last()) else {
            return Ok(false);
        };
        if m.else_at != Some(pc + 1) || m.join != target {
            return Ok(false);
        }
        let (some, skip) = (m.some, m.skip);
        let (other_side, join) = (self.v_block(pc + 1)?, self.v_block(target)?);
        if skip {
            self.b.ins().brif(some, other_side, &[], join, &[]);
        } else {
            self.b.ins().jump(other_side, &[]);
        }
        Ok(true)
    }

    /// Inside masked code: its bail-out stub (made on first use), which restores the
    /// registers written since the outermost masked branch and bails out there.
    pub(super) fn masked_stub(&mut self) -> Option<Block> {
        let v = self.v.as_mut()?;
        let m = v.masked_bail.as_mut()?;
        if let Some(s) = m.stub {
            return Some(s);
        }
        let stub = self.b.create_block();
        self.b.set_cold_block(stub);
        m.stub = Some(stub);
        let made = m.clone();
        v.masked_stubs.push(made);
        Some(stub)
    }

    /// The lanes that keep their old values, as masks of `bits`-bit lanes; `None` outside
    /// masked code.
    pub(super) fn keep_masks(&mut self, bits: u32) -> Option<Vec<Value>> {
        let m = self.v.as_ref()?.masked.last()?;
        if m.bits == bits {
            return Some(m.keep.clone());
        }
        if let Some(o) = &m.other {
            return Some(o.clone());
        }
        let keep = m.keep.clone();
        let other = self.masks_as(&keep, bits);
        if let Some(m) = self.v.as_mut().and_then(|v| v.masked.last_mut()) {
            m.other = Some(other.clone());
        }
        Some(other)
    }

    /// Lane masks `masks` (each lane all ones or zero) as masks of `bits`-bit lanes: 32-bit
    /// masks sign-extended, one vector to two; 64-bit ones narrowed, two vectors to one
    /// (`cvt` between `i32` and `i64`).
    pub(super) fn masks_as(&mut self, masks: &[Value], bits: u32) -> Vec<Value> {
        let width = |b: u32| if b == 64 { Ty::I64 } else { Ty::I32 };
        let from = masks.first().map_or(width(bits), |&m| {
            width(self.b.func.dfg.value_type(m).lane_bits())
        });
        self.v_cvt(width(bits), from, masks.to_vec())
    }

    /// Defines the vector parts `vars` of register `r` or predicate `p`: inside masked code
    /// only in the lanes that run it, where the old value is live past the code.
    pub(super) fn v_def_parts(
        &mut self,
        vars: &[Variable],
        vals: Vec<Value>,
        (r, p): (Option<usize>, Option<usize>),
    ) {
        let writes = self
            .v
            .as_ref()
            .and_then(|v| v.masked.last())
            .is_none_or(|m| m.mask_writes);
        let live = writes && self.live_after_body(r, p);
        let bits = vals
            .first()
            .map_or(32, |&x| self.b.func.dfg.value_type(x).lane_bits());
        // Masks where set lanes keep their value (`true`) or take the new one.
        let raw = self
            .v
            .as_ref()
            .and_then(|v| v.masked.last())
            .filter(|m| m.bits == bits)
            .and_then(|m| m.raw.clone());
        let masks = match (live, raw) {
            (false, _) => None,
            (true, Some(r)) => Some(r),
            (true, None) => self.keep_masks(bits).map(|k| (k, true)),
        };
        for (k, (&var, x)) in vars.iter().zip(vals).enumerate() {
            let x = match masks
                .as_ref()
                .and_then(|(m, keep)| Some((*m.get(k)?, *keep)))
            {
                Some((m, keep)) => {
                    let old = self.b.use_var(var);
                    if keep {
                        self.blend(m, old, x)
                    } else {
                        self.blend(m, x, old)
                    }
                }
                None => x,
            };
            self.b.def_var(var, x);
        }
    }

    /// Whether register `r` (predicate `p`) is live where some enclosing masked code ends
    /// (its lanes that do not run the code need their old value), or where the taken side
    /// of an `if`/`else` whose fall-through side this is starts (that side runs after this
    /// one, in the lanes that keep their values), or `true` outside any.
    fn live_after_body(&self, r: Option<usize>, p: Option<usize>) -> bool {
        let Some(levels) = self.v.as_ref().map(|v| &v.masked).filter(|l| !l.is_empty()) else {
            return true;
        };
        let points = levels.iter().flat_map(|m| {
            // The taken side's masks are taken when that side starts.
            let fall_side = m.else_at.filter(|_| !m.keep_else.is_empty());
            std::iter::once(m.join).chain(fall_side)
        });
        points.into_iter().any(|j| {
            let j = j as usize;
            let reg = r.is_some_and(|r| {
                self.an
                    .live_regs
                    .get(j)
                    .is_none_or(|l| l[r / 64] & (1 << (r % 64)) != 0)
            });
            let pred = p.is_some_and(|p| {
                self.an
                    .live_preds
                    .get(j)
                    .is_none_or(|l| l & (1 << (p % 16)) != 0)
            });
            reg || pred
        })
    }
}
