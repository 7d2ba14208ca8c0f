//! The lock-step block executor.
//!
//! A block's lanes run together. In **converged** mode every live lane is at the same `pc`:
//! each instruction is dispatched once and applied to all live lanes (`Active::All` when no
//! lane has exited, so the lane loops take their full-row fast paths). A guarded branch, `loop`
//! or `ret` whose lanes disagree switches to **diverged** mode (except a forward branch whose
//! lanes one way go straight to `exit`: they exit there and the rest stay converged), where
//! each lane has its own `pc`: each step picks the smallest `pc` among running lanes and
//! executes that instruction for the lanes at it (`Active::List`). As soon as all live lanes
//! share one `pc` again the block is converged.
//!
//! `bar.sync` and `reduce` are block-wide: in diverged mode, lanes reaching one wait there while
//! the other lanes run on, until every live lane waits or has exited. If the waiting lanes are
//! all at the same instruction, they continue together (converged); otherwise the block traps
//! with `divergent barrier` (docs/ISA.md, section 5.7).
//!
//! Fuel (docs/ISA.md, section 7) is counted per lane. In converged mode the lanes' counts all
//! grow together, so only one shared counter (`conv`) moves; it is folded into the per-lane
//! counts when the block diverges.

use super::decode::{DInst, Decoded};
use super::mem::{Env, Region};
use super::regs::Regs;
use super::{Active, BlockTrap, Fault};
use crate::memory::ALIGN;
use crate::TrapKind;

/// Most return addresses on a lane's call stack.
pub(crate) const MAX_CALL_DEPTH: usize = 64;

const RUNNING: u8 = 0;
const WAITING: u8 = 1;
const EXITED: u8 = 2;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Chunk([u8; ALIGN]);

/// Per-launch execution counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    /// Instructions dispatched (once per block-step, whatever the number of lanes).
    pub(crate) steps: u64,
    /// Lane-instructions executed (the active lanes of every step).
    pub(crate) lane_steps: u64,
}

/// The state of one block being executed; one per worker thread, reused for every block it
/// runs (and, for the calling thread, across launches).
pub(crate) struct BlockState {
    n: usize,
    regs: Regs,
    preds: Vec<u8>,
    shared: Vec<Chunk>,
    pc: Vec<u32>,
    status: Vec<u8>,
    fuel: Vec<u64>,
    sp: Vec<u8>,
    stack: Vec<u32>,
    live: Vec<u32>,
    group: Vec<u32>,
}

impl BlockState {
    pub(crate) fn new() -> BlockState {
        BlockState {
            n: 0,
            regs: Regs::new(),
            preds: Vec::new(),
            shared: Vec::new(),
            pc: Vec::new(),
            status: Vec::new(),
            fuel: Vec::new(),
            sp: Vec::new(),
            stack: Vec::new(),
            live: Vec::new(),
            group: Vec::new(),
        }
    }

    /// The lanes the state is sized for ([`BlockState::prepare`]).
    pub(crate) fn lanes(&self) -> usize {
        self.n
    }

    /// Sizes the state for program `p` and blocks of `n` lanes. Call once per launch (and
    /// again for a shorter last run of blocks).
    pub(crate) fn prepare(&mut self, p: &Decoded, n: usize) {
        self.n = n;
        self.regs.resize(p.rows() as usize, n);
        // The row layout may have changed: nothing is known about the high planes.
        self.regs.hi_zero.fill(false);
        self.preds.resize(p.npreds as usize * n, 0);
        let chunks = (p.shared_bytes as usize).div_ceil(ALIGN);
        if self.shared.len() < chunks {
            self.shared.resize(chunks, Chunk([0; ALIGN]));
        }
        // Another program may have left data here.
        self.shared[..chunks].fill(Chunk([0; ALIGN]));
        self.pc.resize(n, 0);
        self.status.resize(n, RUNNING);
        self.fuel.resize(n, 0);
        self.sp.resize(n, 0);
        if p.has_call {
            self.stack.resize(n * MAX_CALL_DEPTH, 0);
        }
        self.live.reserve(n);
        self.group.reserve(n);
        // The special rows: `%lane` is the same for every block; the high halves of all
        // three are zero (values below 2^32).
        for row in [p.lane_row(), p.gid_row(), p.block_row()] {
            let (lo, hi) = self.regs.row_mut(row);
            lo.iter_mut().enumerate().for_each(|(i, x)| *x = i as u32);
            hi.fill(0);
            self.regs.hi_zero[row as usize] = true;
        }
    }

    /// Initial state of block `block`: registers and predicates zero (those that may be read
    /// before written), special rows filled, shared memory zero, every lane running at pc 0
    /// with no calls.
    fn reset(&mut self, p: &Decoded, block: u32, first_gid: u32) {
        let n = self.n;
        for &r in &p.zero_regs {
            let (lo, hi) = self.regs.row_mut(r);
            lo.fill(0);
            hi.fill(0);
            self.regs.hi_zero[r as usize] = true;
        }
        if p.uses_gid {
            // %gid = first_gid + lane (< 2^32 by the launch shape rules).
            let (lo, _) = self.regs.row_mut(p.gid_row());
            lo.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = first_gid.wrapping_add(i as u32));
        }
        if p.uses_block {
            self.regs.row_mut(p.block_row()).0.fill(block);
        }
        for &pr in &p.zero_preds {
            self.preds[pr as usize * n..][..n].fill(0);
        }
        if p.has_sts {
            let chunks = (p.shared_bytes as usize).div_ceil(ALIGN);
            self.shared[..chunks].fill(Chunk([0; ALIGN]));
        }
        self.status[..n].fill(RUNNING);
        if p.has_call || p.has_ret {
            // A `ret` of a program without calls must find the stack empty, not the depth
            // a lane of the last program run on this state left (it exited or trapped in a
            // function).
            self.sp[..n].fill(0);
        }
    }
}

/// The lanes of an active set, ascending.
#[inline(always)]
fn lanes<'a>(act: Active<'a>, n: usize) -> impl Iterator<Item = usize> + 'a {
    let (range, list) = match act {
        Active::All => (0..n, &[][..]),
        Active::List(l) => (0..0, l),
    };
    range.chain(list.iter().map(|&l| l as usize))
}

/// Number of non-zero bytes (set predicate lanes), counted in byte-wide vector lanes.
#[inline(always)]
fn count_set(row: &[u8]) -> usize {
    row.chunks(255)
        .map(|c| c.iter().fold(0u8, |a, &b| a + (b != 0) as u8) as usize)
        .sum()
}

/// Runs the non-control instruction `inst` for the lanes of `act`.
#[inline(always)]
fn exec_data(
    inst: &DInst,
    regs: &mut Regs,
    preds: &mut [u8],
    n: usize,
    shared: Region,
    env: &Env<'_>,
    act: Active<'_>,
) -> Result<(), Fault> {
    let uni = env.uni;
    match *inst {
        DInst::Un { f, d, a } => f(regs, uni, act, d, a),
        DInst::Bin { f, d, a, b, .. } => return f(regs, uni, act, d, a, b),
        DInst::Fma { f, d, a, b, c } => f(regs, uni, act, d, a, b, c),
        DInst::Sel { f, d, p, a, b } => f(regs, &preds[p as usize * n..][..n], uni, act, d, a, b),
        DInst::Setp { f, p, a, b } => f(regs, &mut preds[p as usize * n..][..n], uni, act, a, b),
        DInst::Ldg { f, d, ref a } => return f(regs, env, act, d, a),
        DInst::Stg { f, s, ref a } => return f(regs, env, act, s, a),
        DInst::Lds { f, d, ref a } => return f(regs, uni, shared, act, d, a),
        DInst::Sts { f, s, ref a } => return f(regs, uni, shared, act, s, a),
        DInst::Reduce { f, d, a } => f(regs, uni, act, d, a),
        // Control instructions are handled by the caller.
        DInst::Bra { .. }
        | DInst::Loop { .. }
        | DInst::Call { .. }
        | DInst::Ret
        | DInst::Exit
        | DInst::Bar
        | DInst::Fence
        | DInst::End => {}
    }
    Ok(())
}

/// Runs block `block` of a launch of `p` to completion, its lanes' `%gid` counting from
/// `first_gid` (a program that cannot tell blocks apart may run several consecutive blocks
/// as one: [`Decoded::runs_blocks`]; then `block` is the first). A trapping lane stops itself and
/// every higher lane of the block while the lower lanes run on (they may trap too, and then
/// their trap is the one reported): the result is the trap of the block's lowest trapping
/// lane, the first one that lane met (docs/ISA.md, section 7).
// `record!` keeps `live_count` right also where the block finishes right after it.
#[allow(unused_assignments)]
pub(crate) fn run_block(
    st: &mut BlockState,
    p: &Decoded,
    env: &Env<'_>,
    block: u32,
    first_gid: u32,
    ctr: &mut Counters,
) -> Result<(), BlockTrap> {
    st.reset(p, block, first_gid);
    let n = st.n;
    let BlockState {
        regs,
        preds,
        shared,
        pc: lpc,
        status,
        fuel,
        sp,
        stack,
        live,
        group,
        ..
    } = st;
    let shared = Region {
        base: shared.as_mut_ptr().cast::<u8>(),
        len: p.shared_bytes as u64,
    };
    let insts = &p.insts[..];
    // Budgets above 2^63 - 1 act as 2^63 - 1 (docs/ISA.md section 7), as in compiled code.
    let limit = env.fuel.min(i64::MAX as u64);

    let mut trapped: Option<BlockTrap> = None;
    let mut pc: u32 = 0;
    let mut converged = true;
    // Diverged mode: the smallest pc of the running lanes outside `group` (u32::MAX: none),
    // and the pc where every lane of `group` went in the last step, if they went together to
    // a pc below it (or, after a split branch, where the lanes at the lower pc went): then
    // they are again exactly the lanes at the smallest pc, and the next step runs them
    // without scanning the block's lanes. A divergent loop's lanes go round it this way, and
    // the lanes leaving it join the waiting ones without a scan.
    let mut others_min = u32::MAX;
    let mut group_next: Option<u32> = None;
    // The pc of `group`'s lanes where `lpc` does not say it yet: steps of plain instructions
    // move the whole group, and its lanes' pcs are written only when something reads them
    // (a scan, a barrier).
    let mut group_pc: Option<u32> = None;
    let mut live_count = n;
    // Converged-mode fuel: every live lane has used `fuel[l] + conv`; `base_max` is the
    // largest `fuel[l]` among them.
    let mut base_max = 0u64;
    let mut conv = 0u64;
    // `fuel` holds per-lane counts only once the block first left converged mode.
    let mut fuel_valid = false;

    // Folds the converged count into the per-lane counts of the live lanes `$lanes`.
    macro_rules! fold_fuel {
        ($lanes:expr) => {{
            if !fuel_valid {
                fuel[..n].fill(0);
                fuel_valid = true;
            }
            for l in $lanes {
                fuel[l] += conv;
            }
            conv = 0;
        }};
    }

    macro_rules! finish {
        () => {
            return match trapped {
                Some(t) => Err(t),
                None => Ok(()),
            }
        };
    }
    // Records the trap of lane `fault.lane` at `pc` and stops it and every higher lane.
    macro_rules! record {
        ($pc:expr, $fault:expr) => {{
            let f: Fault = $fault;
            debug_assert!(trapped.is_none_or(|t| f.lane < t.fault.lane));
            trapped = Some(BlockTrap { pc: $pc, fault: f });
            for l in f.lane as usize..n {
                if status[l] != EXITED {
                    status[l] = EXITED;
                    live_count -= 1;
                }
            }
        }};
    }
    // Converged again at `at` (or still, after lanes stopped): rebuild the live list and the
    // fuel bound.
    macro_rules! converge {
        ($at:expr) => {{
            pc = $at;
            converged = true;
            if live_count < n {
                live.clear();
                live.extend((0..n as u32).filter(|&l| status[l as usize] != EXITED));
            }
            base_max = (0..n)
                .filter(|&l| status[l] != EXITED)
                .map(|l| fuel[l])
                .max()
                .unwrap_or(0);
            conv = 0;
        }};
    }

    loop {
        // The pc of the lanes in `group` when they are to run one by one.
        let gpc: u32;
        if converged {
            let act = if live_count == n {
                Active::All
            } else {
                Active::List(&live[..])
            };
            ctr.steps += 1;
            ctr.lane_steps += live_count as u64;
            let inst = &insts[pc as usize];
            // Diverges: lanes for which `$taken` go to `$target` (using fuel if it is a
            // backward branch; the caller made sure no lane runs out), the others to pc + 1.
            macro_rules! split {
                ($target:expr, |$l:ident| $taken:expr) => {{
                    let target = $target;
                    fold_fuel!(lanes(act, n));
                    for $l in lanes(act, n) {
                        if $taken {
                            if target <= pc {
                                fuel[$l] += 1;
                            }
                            lpc[$l] = target;
                        } else {
                            lpc[$l] = pc + 1;
                        }
                    }
                    converged = false;
                    continue;
                }};
            }
            // Some lane may trap in this control instruction: run it lane by lane (in
            // diverged mode) so that the lanes below the trapping one complete it.
            macro_rules! lane_by_lane {
                () => {{
                    fold_fuel!(lanes(act, n));
                    for l in lanes(act, n) {
                        lpc[l] = pc;
                    }
                    converged = false;
                    group.clear();
                    group.extend(lanes(act, n).map(|l| l as u32));
                    others_min = u32::MAX;
                }};
            }
            let fuel_low = base_max + conv >= limit;
            match *inst {
                DInst::Bra { target, guard } => {
                    let taken = match guard {
                        None => live_count,
                        Some((pr, neg)) => {
                            let row = &preds[pr as usize * n..][..n];
                            let set = match act {
                                Active::All => count_set(row),
                                Active::List(ls) => {
                                    ls.iter().filter(|&&l| row[l as usize] != 0).count()
                                }
                            };
                            if neg {
                                live_count - set
                            } else {
                                set
                            }
                        }
                    };
                    if taken == 0 {
                        pc += 1;
                        continue;
                    } else if target <= pc && fuel_low {
                        lane_by_lane!();
                    } else if taken == live_count {
                        if target <= pc {
                            conv += 1;
                        }
                        pc = target;
                        continue;
                    } else if let Some((pr, neg)) = guard {
                        let row = &preds[pr as usize * n..][..n];
                        // A forward branch whose lanes one way go to an `exit` (a guard
                        // `@p bra @done` before `done: exit`, or its mirror): those lanes
                        // leave here and the others stay converged. Exiting has no effect
                        // another lane could see, so this is one of the schedules
                        // docs/ISA.md allows; the fuel bound of the lanes left stays valid.
                        let to_exit = |at: u32| matches!(insts.get(at as usize), Some(DInst::Exit));
                        let exit_taken = target > pc && to_exit(target);
                        if exit_taken || (target > pc && to_exit(pc + 1)) {
                            if live_count == n {
                                live.clear();
                                live.extend(0..n as u32);
                            }
                            live.retain(|&l| {
                                let leaves = ((row[l as usize] != 0) != neg) == exit_taken;
                                if leaves {
                                    status[l as usize] = EXITED;
                                }
                                !leaves
                            });
                            live_count = live.len();
                            pc = if exit_taken { pc + 1 } else { target };
                            continue;
                        }
                        split!(target, |l| (row[l] != 0) != neg);
                    }
                }
                DInst::Loop { c, target } => {
                    if target <= pc && fuel_low {
                        lane_by_lane!();
                    } else {
                        let taken = (p.loop_fn)(regs, c, act);
                        if taken == live_count {
                            if target <= pc {
                                conv += 1;
                            }
                            pc = target;
                        } else if taken == 0 {
                            pc += 1;
                        } else {
                            let (lo, hi) = (regs.lo(c), regs.hi(c));
                            split!(target, |l| lo[l] | hi[l] != 0);
                        }
                        continue;
                    }
                }
                DInst::Call { target } => {
                    if fuel_low || lanes(act, n).any(|l| sp[l] as usize >= MAX_CALL_DEPTH) {
                        lane_by_lane!();
                    } else {
                        conv += 1;
                        for l in lanes(act, n) {
                            stack[l * MAX_CALL_DEPTH + sp[l] as usize] = pc + 1;
                            sp[l] += 1;
                        }
                        pc = target;
                        continue;
                    }
                }
                DInst::Ret => {
                    if lanes(act, n).any(|l| sp[l] == 0) {
                        lane_by_lane!();
                    } else {
                        let mut first = None;
                        let mut same = true;
                        for l in lanes(act, n) {
                            sp[l] -= 1;
                            let r = stack[l * MAX_CALL_DEPTH + sp[l] as usize];
                            lpc[l] = r;
                            match first {
                                None => first = Some(r),
                                Some(f) => same &= f == r,
                            }
                        }
                        match first {
                            Some(r) if same => pc = r,
                            _ => {
                                fold_fuel!(lanes(act, n));
                                converged = false;
                            }
                        }
                        continue;
                    }
                }
                DInst::Exit => finish!(),
                DInst::End => {
                    let l = lanes(act, n).next().unwrap_or(0);
                    record!(pc, Fault::new(l, TrapKind::FellOffEnd));
                    finish!()
                }
                // Every live lane is here: the barrier is satisfied.
                DInst::Bar | DInst::Fence => {
                    pc += 1;
                    continue;
                }
                _ => {
                    // Exited lanes are never observed again: pure instructions may run
                    // over whole rows.
                    let a = if inst.pure() { Active::All } else { act };
                    let r = exec_data(inst, regs, preds, n, shared, env, a);
                    if let Err(f) = r {
                        // The lanes below `f.lane` completed the instruction.
                        record!(pc, f);
                        if live_count == 0 {
                            finish!()
                        }
                        fold_fuel!(lanes(act, n));
                        converge!(pc + 1);
                    } else {
                        pc += 1;
                    }
                    continue;
                }
            }
            gpc = pc;
        } else if let Some(at) = group_next.take() {
            // Diverged, and the last step's lanes are still the ones at the smallest pc.
            if group.len() == live_count {
                group_pc = None;
                converge!(at);
                continue;
            }
            ctr.steps += 1;
            ctr.lane_steps += group.len() as u64;
            gpc = at;
        } else {
            // Diverged: run the lanes at the smallest pc.
            if let Some(at) = group_pc.take() {
                for &l in group.iter() {
                    lpc[l as usize] = at;
                }
            }
            let mut min_pc = u32::MAX;
            let mut running = 0usize;
            others_min = u32::MAX;
            for l in 0..n {
                if status[l] == RUNNING {
                    running += 1;
                    let at = lpc[l];
                    if at < min_pc {
                        others_min = min_pc;
                        min_pc = at;
                    } else if at > min_pc {
                        others_min = others_min.min(at);
                    }
                }
            }
            if running == 0 {
                if live_count == 0 {
                    finish!()
                }
                // Every live lane waits at a barrier.
                let first = (0..n).find(|&l| status[l] == WAITING).unwrap_or(0);
                let at = lpc[first];
                if (0..n).any(|l| status[l] == WAITING && lpc[l] != at) {
                    // All of them trap; `first` is the lowest live lane.
                    record!(at, Fault::new(first, TrapKind::DivergentBarrier));
                    finish!()
                }
                for s in status[..n].iter_mut() {
                    if *s == WAITING {
                        *s = RUNNING;
                    }
                }
                min_pc = at;
                others_min = u32::MAX;
            }
            group.clear();
            for l in 0..n {
                if status[l] == RUNNING && lpc[l] == min_pc {
                    group.push(l as u32);
                }
            }
            if group.len() == live_count {
                converge!(min_pc);
                continue;
            }
            ctr.steps += 1;
            ctr.lane_steps += group.len() as u64;
            gpc = min_pc;
        }

        // Run the instruction at `gpc` for the lanes of `group`, each with its own pc. A
        // fault at lane k leaves the group's lanes below k done.
        let pc = gpc;
        let act = Active::List(&group[..]);
        let inst = &insts[pc as usize];
        let fault = |l: usize, kind| Some(Fault::new(l, kind));
        // The one pc every lane of the group went to, if they all went to one.
        let mut went: Option<u32> = None;
        // Every arm but a completed plain instruction's writes the pcs of the lanes it moves.
        group_pc = None;
        let fault: Option<Fault> = match *inst {
            DInst::Bar | DInst::Reduce { .. } => {
                for &l in group.iter() {
                    status[l as usize] = WAITING;
                    lpc[l as usize] = pc;
                }
                None
            }
            DInst::Exit => {
                for &l in group.iter() {
                    status[l as usize] = EXITED;
                }
                live_count -= group.len();
                None
            }
            DInst::End => fault(group[0] as usize, TrapKind::FellOffEnd),
            DInst::Bra { target, guard } => {
                let mut f = None;
                let (mut taken_any, mut fell_any) = (false, false);
                for &l in group.iter() {
                    let l = l as usize;
                    let taken = match guard {
                        None => true,
                        Some((pr, neg)) => (preds[pr as usize * n + l] != 0) != neg,
                    };
                    if taken {
                        if target <= pc {
                            if fuel[l] >= limit {
                                f = fault(l, TrapKind::OutOfFuel);
                                break;
                            }
                            fuel[l] += 1;
                        }
                        lpc[l] = target;
                        taken_any = true;
                    } else {
                        lpc[l] = pc + 1;
                        fell_any = true;
                    }
                }
                went = match (taken_any, fell_any) {
                    (true, false) => Some(target),
                    (false, true) => Some(pc + 1),
                    _ => {
                        // Split: the lanes that went to the lower pc run next if no other
                        // lane is at or below it; the others join the waiting ones.
                        let (lo, hi) = (target.min(pc + 1), target.max(pc + 1));
                        if f.is_none() && lo < others_min {
                            group.retain(|&l| lpc[l as usize] == lo);
                            others_min = others_min.min(hi);
                            Some(lo)
                        } else {
                            None
                        }
                    }
                };
                f
            }
            DInst::Loop { c, target } => {
                let mut f = None;
                (p.loop_fn)(regs, c, act);
                for &l in group.iter() {
                    let l = l as usize;
                    if regs.get_u64(c, l) != 0 {
                        if target <= pc {
                            if fuel[l] >= limit {
                                f = fault(l, TrapKind::OutOfFuel);
                                break;
                            }
                            fuel[l] += 1;
                        }
                        lpc[l] = target;
                    } else {
                        lpc[l] = pc + 1;
                    }
                }
                f
            }
            DInst::Call { target } => {
                let mut f = None;
                for &l in group.iter() {
                    let l = l as usize;
                    if fuel[l] >= limit {
                        f = fault(l, TrapKind::OutOfFuel);
                        break;
                    }
                    if sp[l] as usize >= MAX_CALL_DEPTH {
                        f = fault(l, TrapKind::CallStackOverflow);
                        break;
                    }
                    fuel[l] += 1;
                    stack[l * MAX_CALL_DEPTH + sp[l] as usize] = pc + 1;
                    sp[l] += 1;
                    lpc[l] = target;
                }
                f
            }
            DInst::Ret => {
                let mut f = None;
                for &l in group.iter() {
                    let l = l as usize;
                    if sp[l] == 0 {
                        f = fault(l, TrapKind::RetWithoutCall);
                        break;
                    }
                    sp[l] -= 1;
                    lpc[l] = stack[l * MAX_CALL_DEPTH + sp[l] as usize];
                }
                f
            }
            _ => {
                let r = exec_data(inst, regs, preds, n, shared, env, act);
                if let Err(f) = r {
                    // The lanes below the trapping one completed it; it and the higher
                    // ones stop.
                    for &l in group.iter().take_while(|&&l| l < f.lane) {
                        lpc[l as usize] = pc + 1;
                    }
                } else {
                    went = Some(pc + 1);
                    group_pc = went;
                }
                r.err()
            }
        };
        if let Some(f) = fault {
            record!(pc, f);
        } else if let Some(at) = went.filter(|&at| at < others_min) {
            group_next = Some(at);
        }
        if live_count == 0 {
            finish!()
        }
    }
}
