//! ISA -> CLIF: the function skeleton (blocks of the launch, lane groups, lanes), the
//! per-lane scalar translation of the program and the trap exit.
//!
//! A compiled kernel runs a range of blocks:
//!
//! ```text
//! fn kernel(env: *const LaunchEnv, scratch: *mut u8, trap: *mut TrapRecord,
//!           block_lo: u32, block_hi: u32) -> u32      // 0 = done, 1 = trapped
//! for blk in block_lo..block_hi:
//!     zero the block's shared memory
//!     for each full group of G lanes:          (vector strategy only; see vector.rs)
//!         run the vector copy of the program; on divergence, a failing check or fuel
//!         exhaustion, spill the group's registers to the scratch register file and run
//!         the group's lanes one by one in scalar code, resuming at the same pc
//!     for each remaining lane:                 (all lanes for the scalar strategy)
//!         run the scalar copy of the program from pc 0
//! ```
//!
//! With the vector strategy the scalar copy (the lane loop and the per-lane code) is a
//! second function ([`FnKind::Lanes`]) that the kernel calls with a range of lanes. It is
//! cold (compiled without the optimiser, by a compile worker while the calling thread
//! compiles the vector code), and its calling convention saves every register it uses, so
//! a call disturbs none of the kernel's (the arguments and results pass through the
//! scratch memory's [`call`] record).
//!
//! Lanes run in increasing lane order and each runs to its end before the next starts
//! (a vector group runs its lanes together, but falls back to lane order before anything
//! that may trap), so the first trap met is the lowest trapping lane's first trap
//! (docs/ISA.md section 7) and ends the function. Programs with barriers run the scalar
//! code in phases instead (phased.rs); with the vector strategy each phase first runs vector
//! groups that park at the next barrier (vector.rs, resume.rs).
//!
//! Scalar code keeps each register in its class's lane type when all its accesses have one
//! width (floats stay in XMM registers), else as its zero-extended 64-bit image. Launch
//! parameters' slots are loaded where they are used, and the per-lane function loads the
//! launch's values from the launch record ([`ScratchLayout::launch`]), so that few values
//! stay live across a whole function.

mod block_runs;
mod launch_values;
mod layout;
mod loops;
mod memory;
mod scalar;
mod slots;
mod trap;

pub(crate) use block_runs::remap_trap;
pub(crate) use layout::{call, launch, status, ScratchLayout};
pub(crate) use memory::{MemOff, SpaceRef};
pub(crate) use scalar::s_home;

use std::collections::BTreeSet;

use cranelift_codegen::ir::{
    types, AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, Signature, StackSlot,
    StackSlotData, StackSlotKind, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};
use holovm_isa::{ParamKind, Program};

use crate::abi::off;
use crate::analysis::Analysis;
use crate::barrier::Barriers;
use crate::vector::VState;

/// Depth of the per-lane call stack (docs/ISA.md 5.6).
pub(crate) const CALL_STACK_DEPTH: u32 = 64;

/// The signature of every compiled kernel function.
pub(crate) fn kernel_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for t in [types::I64, types::I64, types::I64, types::I32, types::I32] {
        sig.params.push(AbiParam::new(t));
    }
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// The signature of a vector kernel's per-lane function (see [`FnKind::Lanes`]):
/// `(env, scratch, trap)`, the other arguments and the results in the scratch memory's
/// [`call`] record. Its calling convention saves every register the function uses, so a
/// call clobbers none: the kernel's vector values (hoisted constants, limits) stay in their
/// registers around the call instead of being spilled in the hot loops.
pub(crate) fn lanes_signature() -> Signature {
    let mut sig = Signature::new(CallConv::PreserveAll);
    for t in [types::I64, types::I64, types::I64] {
        sig.params.push(AbiParam::new(t));
    }
    sig
}

/// Which function a [`Tr`] builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FnKind {
    /// The kernel entry ([`kernel_signature`]): the loops over blocks and groups, the vector
    /// code, and (scalar strategies) the per-lane code.
    Kernel,
    /// A vector kernel's per-lane code as a function of its own ([`lanes_signature`]), which
    /// the kernel calls for its tail lanes, bail-outs and the lanes a phase's vector groups
    /// left. It is cold: compiled without Cranelift's optimiser, by a compile worker while
    /// the calling thread compiles the kernel when one starts it in time.
    Lanes,
}

/// The launch values a function holds from its entry ([`Tr::held`]).
#[derive(Clone, Copy)]
pub(crate) struct Held {
    params: Value,
    pool: Value,
    pool_len: Value,
    gdim: Value,
    bdim: Value,
    fuel: Value,
}

/// Translation state for one kernel function.
pub(crate) struct Tr<'a, 'p> {
    pub b: FunctionBuilder<'a>,
    pub p: &'p Program,
    pub an: &'p Analysis,
    /// Lanes per vector group; 0 for the scalar strategies.
    pub g: u32,
    /// The phased strategy (programs with barriers).
    pub phased: bool,
    /// Whether Cranelift's optimiser runs on this function (it hoists constants out of
    /// loops, see [`Tr::pin`]); the per-lane function's never does.
    pub optimised: bool,
    /// Whether the host has SSE4.1's variable blends ([`Tr::blend`]).
    pub blendv: bool,
    pub layout: ScratchLayout,

    pub scratch: Value,
    pub trap: Value,
    /// The launch values, loaded on the function's entry.
    pub held: Held,
    /// A vector kernel without barriers: the base pointers of its buffer parameters, loaded
    /// on entry (its group loop would otherwise load them for every group).
    pub held_bases: Vec<Option<Value>>,
    /// Number of declared parameters (their slots are loaded where used, so no value stays
    /// live across the whole function).
    pub nparams: usize,
    pub block_hi: Value,
    /// A vector kernel that runs its blocks in runs (block_runs.rs).
    pub runs: bool,
    /// Bit i set when parameter i is a buffer.
    pub buf_mask: u64,

    pub blk: Variable,
    pub lane0: Variable,
    pub s_lane: Variable,
    /// Scalar code: the current lane's `%gid` (`I32`), computed once as the lane starts to
    /// run (unoptimised code would compute it again at every use).
    pub s_gid: Variable,
    pub s_end: Variable,
    /// Phased vector kernels: whether the call record's [`call::SCAN`] word tracks where
    /// the phase's scalar loop starts ([`Tr::scan_reset`]).
    pub s_scan: bool,
    pub s_resume: Variable,
    pub bail_pc: Variable,
    pub bail_fuel: Variable,
    pub s_regs: Vec<Variable>,
    pub s_preds: Vec<Variable>,
    pub s_fuel: Variable,
    pub s_depth: Variable,
    pub call_stack: Option<StackSlot>,

    /// Entered once per launch before the first block; jumps to `block_head`. The vector
    /// strategy computes its launch-wide limits here.
    pub launch_init: Block,
    pub block_head: Block,
    pub block_next: Block,
    pub group_head: Block,
    /// Entered once per block after shared memory is zeroed (the vector strategy computes
    /// its per-block limits here), then jumps to `group_head`.
    pub block_init: Block,
    pub group_next: Block,
    pub lane_head: Block,
    pub lane_next: Block,
    pub trap_blk: Block,
    pub bad_blk: Block,

    /// Scalar blocks per pc (index `insts.len()` is the fell-off-the-end block).
    pub s_blocks: Vec<Option<Block>>,
    /// The return dispatch of scalar code: one block (its parameter the return pc) that
    /// every `ret` jumps to, created by the first.
    pub ret_blk: Option<Block>,
    /// The pcs scalar code can reach from its entries (pc 0 and `resume_pcs`), set by
    /// [`Tr::emit_scalar_program`]: it emits only these.
    pub s_reach: Vec<bool>,
    /// Pcs where the scalar code can be entered from a vector bail-out or after a barrier.
    pub resume_pcs: BTreeSet<u32>,
    /// Barrier instructions (phased strategy).
    pub barrier_pcs: BTreeSet<u32>,
    /// [`Tr::spill_set`] for the sets' sizes (they only grow).
    pub spill_cache: std::cell::Cell<Option<((usize, usize), slots::LiveSet)>>,
    /// Phased strategy: where a phase starts over at lane 0, and where the end of a phase
    /// resolves the barrier.
    pub phase_start: Block,
    pub resolve: Block,
    pub v: Option<VState>,
    /// What this function is.
    pub kind: FnKind,
    /// A kernel whose per-lane code is a separate function: the call to it.
    pub lanes_fn: Option<FuncRef>,
    /// Phased kernels: the program's barriers, which the kernel's code passes by address
    /// to [`crate::barrier::resolve_barrier`] (the compiled kernel owns the table).
    pub barriers: Option<&'p Barriers>,
    /// Run a block's partial last group as vector code: [`crate::JitOptions::partial`], for
    /// a program that allows it (vector/partial.rs).
    pub partial: bool,
}

/// An internal translation failure; the caller may retry with the scalar strategy.
#[derive(Debug)]
pub(crate) struct TrError(pub String);

pub(crate) type TrResult<T> = Result<T, TrError>;

impl<'a, 'p> Tr<'a, 'p> {
    /// Sets up the entry block and the variables. `g` is the vector group size (0: scalar).
    /// A kernel whose per-lane code is the function `lanes_fn` calls it instead of
    /// containing it; a [`FnKind::Lanes`] function starts at the lane loop.
    pub(crate) fn new(
        mut b: FunctionBuilder<'a>,
        p: &'p Program,
        an: &'p Analysis,
        g: u32,
        kind: FnKind,
        lanes_fn: Option<FuncRef>,
    ) -> Self {
        let phased = an.has_barrier;
        let layout = ScratchLayout::new(p, g.max(1), phased, an.has_call);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let args = b.block_params(entry).to_vec();
        let (env, scratch, trap) = (args[0], args[1], args[2]);
        // The per-lane function has no block range (its arguments are in scratch memory).
        let (block_lo, block_hi) = match kind {
            FnKind::Kernel => (args[3], args[4]),
            FnKind::Lanes => {
                let z = b.ins().iconst(types::I32, 0);
                (z, z)
            }
        };
        let fl = MemFlagsData::trusted();
        // The kernel keeps the launch's values in registers (its group loop enters vector
        // code per group, where a load chain would cost every group) and writes them to
        // the launch record for the per-lane function, which loads them on its entry (where
        // it used them, it loaded each again at every memory access).
        let held = (kind == FnKind::Kernel).then(|| {
            let at = layout.launch as i32;
            let mut copy = |ty, from, to| {
                let v = b.ins().load(ty, fl, env, from);
                b.ins().store(fl, v, scratch, to);
                v
            };
            let params = copy(types::I64, off::ENV_PARAMS, at + launch::PARAMS);
            let pool = copy(types::I64, off::ENV_POOL, at + launch::POOL);
            let pool_len = copy(types::I64, off::ENV_POOL_LEN, at + launch::POOL_LEN);
            let call_at = layout.call as i32;
            let gdim = copy(types::I32, off::ENV_GRID, call_at + call::GRID);
            let bdim = copy(types::I32, off::ENV_BLOCK, call_at + call::BLOCK_DIM);
            let fuel = b.ins().load(types::I64, fl, env, off::ENV_FUEL);
            // Budgets above 2^63 - 1 act as 2^63 - 1 (docs/ISA.md section 7), so vector
            // code can mark "taken with no fuel" as -1.
            let max = b.ins().iconst(types::I64, i64::MAX);
            let fuel = b.ins().umin(fuel, max);
            b.ins().store(fl, fuel, scratch, at + launch::FUEL);
            Held {
                params,
                pool,
                pool_len,
                gdim,
                bdim,
                fuel,
            }
        });
        let held = held.unwrap_or_else(|| {
            let at = layout.launch as i32;
            let call_at = layout.call as i32;
            let mut load = |ty, at| b.ins().load(ty, fl, scratch, at);
            Held {
                params: load(types::I64, at + launch::PARAMS),
                pool: load(types::I64, at + launch::POOL),
                pool_len: load(types::I64, at + launch::POOL_LEN),
                gdim: load(types::I32, call_at + call::GRID),
                bdim: load(types::I32, call_at + call::BLOCK_DIM),
                fuel: load(types::I64, at + launch::FUEL),
            }
        });
        let mut buf_mask = 0u64;
        let zero64 = b.ins().iconst(types::I64, 0);
        for (i, prm) in p.params().iter().enumerate() {
            if let ParamKind::Buffer(_) = prm.kind {
                buf_mask |= 1 << i;
            }
        }
        let nparams = p.params().len();

        let blk = b.declare_var(types::I32);
        let lane0 = b.declare_var(types::I32);
        let s_lane = b.declare_var(types::I32);
        let s_gid = b.declare_var(types::I32);
        let s_end = b.declare_var(types::I32);
        let s_resume = b.declare_var(types::I8);
        let bail_pc = b.declare_var(types::I32);
        let bail_fuel = b.declare_var(types::I64);
        let s_regs = (0..p.num_regs() as usize)
            .map(|r| b.declare_var(s_home(an, r)))
            .collect();
        let s_preds = (0..p.num_preds())
            .map(|_| b.declare_var(types::I8))
            .collect();
        let s_fuel = b.declare_var(types::I64);
        let s_depth = b.declare_var(types::I32);
        let call_stack = if an.has_call && !phased {
            Some(b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                CALL_STACK_DEPTH * 4,
                2,
            )))
        } else {
            None
        };
        b.def_var(blk, block_lo);
        let zero32 = b.ins().iconst(types::I32, 0);
        let zero8 = b.ins().iconst(types::I8, 0);
        for v in [lane0, s_lane, s_gid, s_end, bail_pc, s_depth] {
            b.def_var(v, zero32);
        }
        b.def_var(s_resume, zero8);
        b.def_var(bail_fuel, zero64);
        let s_scan = phased && g > 0 && kind == FnKind::Kernel;
        // The per-lane function and the barrier resolution (barrier.rs) read the launch
        // environment from the call record.
        if lanes_fn.is_some() || (phased && kind == FnKind::Kernel) {
            let at = layout.call as i32;
            b.ins().store(fl, env, scratch, at + call::ENV);
        }
        if s_scan {
            // See `Tr::trap_ptr`.
            let at = layout.call as i32;
            b.ins().store(fl, trap, scratch, at + call::TRAP);
        }

        let block_head = b.create_block();
        let block_next = b.create_block();
        let group_head = b.create_block();
        let block_init = b.create_block();
        let group_next = b.create_block();
        let lane_head = b.create_block();
        let lane_next = b.create_block();
        let trap_blk = b.create_block();
        let bad_blk = b.create_block();
        let phase_start = b.create_block();
        let resolve = b.create_block();
        let launch_init = b.create_block();

        let n = p.insts().len();
        let mut tr = Tr {
            b,
            p,
            an,
            g,
            phased,
            optimised: kind == FnKind::Kernel,
            blendv: false,
            layout,
            held,
            held_bases: Vec::new(),
            scratch,
            trap,
            nparams,
            block_hi,
            runs: kind == FnKind::Kernel && g > 0 && p.ignores_blocks(),
            buf_mask,
            blk,
            lane0,
            s_lane,
            s_gid,
            s_end,
            s_scan,
            s_resume,
            bail_pc,
            bail_fuel,
            s_regs,
            s_preds,
            s_fuel,
            s_depth,
            call_stack,
            block_next,
            launch_init,
            block_head,
            group_head,
            block_init,
            group_next,
            lane_head,
            lane_next,
            trap_blk,
            bad_blk,
            s_blocks: vec![None; n + 1],
            ret_blk: None,
            s_reach: Vec::new(),
            resume_pcs: BTreeSet::new(),
            barrier_pcs: BTreeSet::new(),
            spill_cache: std::cell::Cell::new(None),
            phase_start,
            resolve,
            v: None,
            kind,
            lanes_fn,
            barriers: None,
            partial: false,
        };
        match kind {
            FnKind::Kernel => {
                tr.store_run_shape();
                if g > 0 && !phased {
                    tr.store_rerun_flag();
                    for i in 0..nparams as u8 {
                        let buffer = tr.buf_mask & (1 << i) != 0;
                        let base = buffer.then(|| tr.slot_field(i, off::SLOT_PTR));
                        tr.held_bases.push(base);
                    }
                }
                tr.b.ins().jump(launch_init, &[]);
                tr.emit_block_loop();
            }
            FnKind::Lanes => {
                // The arguments from the call record, then the lane loop.
                let at = tr.layout.call as i32;
                for (var, ty, field) in tr.call_args() {
                    let v = tr.b.ins().load(ty, fl, scratch, at + field);
                    tr.b.def_var(var, v);
                }
                tr.b.ins().jump(lane_head, &[]);
            }
        }
        tr
    }

    /// Switches to `blk`, whose predecessors are all emitted, and seals it: variables read
    /// in it resolve to their values directly instead of through block parameters (fewer
    /// parameters and copies for Cranelift to remove or allocate).
    pub(crate) fn enter(&mut self, blk: Block) {
        self.b.switch_to_block(blk);
        self.b.seal_block(blk);
    }
}
