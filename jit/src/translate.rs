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

use std::collections::BTreeSet;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block, BlockArg, FuncRef, InstBuilder, JumpTableData, MemFlagsData, Signature,
    SourceLoc, StackSlot, StackSlotData, StackSlotKind, Type, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};
use holovm_isa::{
    Addr, BinOp, Inst, ParamKind, Program, SharedAddr, Special, Src, Ty, POOL_CLASS_BYTES,
    POOL_PAGE_BYTES,
};

use crate::abi::{off, TrapKind, SPACE_POOL, SPACE_SHARED};
use crate::analysis::Analysis;
use crate::barrier::Barriers;
use crate::listing;
use crate::ops;
use crate::vector::VState;

/// Depth of the per-lane call stack (docs/ISA.md 5.6).
pub(crate) const CALL_STACK_DEPTH: u32 = 64;

/// Where things live in the per-thread scratch memory handed to the compiled function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScratchLayout {
    /// Bytes of shared memory (the program's `.shared`), at offset 0.
    pub shared_bytes: u32,
    /// Lanes per register in the register file (the vector group size, or 1024 when the
    /// whole block is saved at barriers).
    pub stride: u32,
    /// Offset of the spill register file: `regs * stride` u64 slots, register-major.
    pub regfile: u32,
    /// Offset of the spill predicate file: `preds * stride` u64 slots.
    pub predfile: u32,
    /// Phased strategy: per-lane status words (u32 x 1024).
    pub lane_status: u32,
    /// Phased strategy: per-lane resume pcs (u32 x 1024).
    pub lane_pc: u32,
    /// Phased strategy: per-lane fuel left (u64 x 1024).
    pub lane_fuel: u32,
    /// Phased strategy: per-lane call depth (u32 x 1024).
    pub lane_depth: u32,
    /// Phased strategy with vector code: per vector group, at its first lane's entry
    /// (u32 x 1024), 1 when the vector code parked the whole group at a barrier and no lane
    /// of it has run scalar code since (see [`Tr::group_parked_slot`]).
    pub group_parked: u32,
    /// Phased strategy with calls: per-lane call stacks (64 x u32 each).
    pub lane_stack: u32,
    /// The arguments and results of a call to a vector kernel's per-lane function
    /// ([`call`] gives the fields).
    pub call: u32,
    /// The launch record ([`launch`] gives the fields): values the kernel computes once
    /// on entry. The per-lane function loads them where it uses them, as the vector code
    /// does its limits, so that no register holds them through the whole function
    /// (long-lived values are most of the register allocator's work); the kernel keeps its
    /// own copies of the others ([`Tr::held`]).
    pub launch: u32,
    /// Total bytes.
    pub total: u32,
}

/// The call record of a vector kernel's per-lane function (offsets from
/// [`ScratchLayout::call`]): the kernel writes the arguments, the function the results.
pub(crate) mod call {
    /// Argument: the block (`I32`).
    pub const BLOCK: i32 = 0;
    /// Argument: the first lane to run (`I32`).
    pub const LANE_LO: i32 = 4;
    /// Argument: the lane to stop at (`I32`).
    pub const LANE_HI: i32 = 8;
    /// Argument: 1 when the lanes resume after a vector bail-out (`I8`).
    pub const RESUMED: i32 = 12;
    /// Argument: the pc they resume at (`I32`).
    pub const BAIL_PC: i32 = 16;
    /// Argument: the first lane of the bailing group (`I32`).
    pub const LANE0: i32 = 20;
    /// Argument: the fuel they have left (`I64`).
    pub const BAIL_FUEL: i32 = 24;
    /// Result: 0 (the lanes ran), 1 (trapped; the record is written) or 2 (internal
    /// error) (`I32`).
    pub const CODE: i32 = 32;
    /// Result, phased strategy: the new end of the lanes that may run, the lowest lane that
    /// trapped (`I32`).
    pub const END: i32 = 36;
    /// The kernel's `LaunchEnv` pointer, saved on entry so that no register holds it
    /// through the kernel (`I64`).
    pub const ENV: i32 = 40;
    /// The launch's grid and block sizes (`I32` each), saved on the kernel's entry for the
    /// per-lane function's `%gdim` and `%bdim`: read from memory where it reads them, values
    /// derived from them stay where the program computes them (Cranelift's optimiser
    /// would recompute a product of the two entry values inside loops).
    pub const GRID: i32 = 48;
    /// See [`GRID`].
    pub const BLOCK_DIM: i32 = 52;
    /// Bytes of the record.
    pub const SIZE: u32 = 64;
}

/// The launch record (offsets from [`ScratchLayout::launch`]), written on the kernel's
/// entry; the per-lane function reads it too.
pub(crate) mod launch {
    /// The parameter slots' address (`I64`).
    pub const PARAMS: i32 = 0;
    /// The pool's base address (`I64`).
    pub const POOL: i32 = 8;
    /// The pool's length in bytes (`I64`).
    pub const POOL_LEN: i32 = 16;
    /// Each lane's fuel budget, at most 2^63 - 1 (`I64`).
    pub const FUEL: i32 = 24;
    /// Vector strategies: the launch's bounds-check limits, 8 bytes each (see
    /// [`Tr::emit_limits`](crate::translate::Tr)).
    pub const LIMITS: i32 = 32;
}

/// Lane status words of the phased strategy.
pub(crate) mod status {
    /// Not started: runs from pc 0 with zeroed registers.
    pub const FRESH: i64 = 0;
    /// Released from a barrier: resumes at its saved pc.
    pub const READY: i64 = 1;
    /// Waiting at the barrier at its saved pc.
    pub const WAIT: i64 = 2;
    /// Exited (or trapped).
    pub const DONE: i64 = 3;
}

impl ScratchLayout {
    /// Offset of register `r`'s slots in the spill register file (`stride` lanes of 8
    /// bytes each; a 4-byte register uses the first half of its room).
    pub(crate) fn reg_offset(&self, r: usize) -> u32 {
        self.regfile + r as u32 * self.stride * 8
    }

    pub(crate) fn new(program: &Program, group: u32, phased: bool, has_call: bool) -> Self {
        let shared_bytes = program.shared_bytes();
        let stride = if phased {
            holovm_isa::MAX_BLOCK
        } else {
            group.max(1)
        };
        let regfile = shared_bytes.div_ceil(64) * 64;
        let predfile = regfile + program.num_regs() as u32 * stride * 8;
        let mut end = predfile + program.num_preds() as u32 * stride * 8;
        let (mut lane_status, mut lane_pc, mut lane_fuel) = (0, 0, 0);
        let (mut lane_depth, mut group_parked, mut lane_stack) = (0, 0, 0);
        if phased {
            let lanes = holovm_isa::MAX_BLOCK;
            lane_status = end.div_ceil(64) * 64;
            lane_pc = lane_status + lanes * 4;
            lane_fuel = lane_pc + lanes * 4;
            lane_depth = lane_fuel + lanes * 8;
            group_parked = lane_depth + lanes * 4;
            lane_stack = group_parked + lanes * 4;
            end = lane_stack
                + if has_call {
                    lanes * CALL_STACK_DEPTH * 4
                } else {
                    0
                };
        }
        let call = end.div_ceil(64) * 64;
        let launch = call + call::SIZE;
        end = launch + launch::LIMITS as u32 + 8 * crate::vector::limit_slots(program);
        ScratchLayout {
            shared_bytes,
            stride,
            regfile,
            predfile,
            lane_status,
            lane_pc,
            lane_fuel,
            lane_depth,
            group_parked,
            lane_stack,
            call,
            launch,
            total: end.max(64),
        }
    }
}

/// The type a register is kept in by the scalar code: its class's lane type when every
/// access has one width (so no GPR/XMM round trips for floats), else its 64-bit image.
pub(crate) fn s_home(an: &Analysis, r: usize) -> Type {
    if an.reg_mixed.get(r).copied().unwrap_or(true) {
        types::I64
    } else {
        an.reg_class
            .get(r)
            .map(|c| c.lane_type())
            .unwrap_or(types::I64)
    }
}

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

/// A memory space an access goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpaceRef {
    /// A buffer parameter known at compile time.
    Param(u8),
    /// The boundary pool.
    Pool,
    /// The block's shared memory.
    Shared,
    /// The space named at run time by the high half of a global pointer (`I64`).
    Dynamic(Value),
}

/// A computed byte offset into a space, before checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemOff {
    pub space: SpaceRef,
    /// Byte offset (`I64`, modulo 2^64).
    pub off: Value,
    /// Bits 64..128 of the exact offset as a signed 128-bit number (`I64`); `None` for 0.
    /// Nonzero means the offset is negative or above `u64::MAX`: out of bounds.
    pub hi: Option<Value>,
}

/// The launch values a kernel holds in registers ([`Tr::held`]).
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
    pub layout: ScratchLayout,

    pub scratch: Value,
    pub trap: Value,
    /// The kernel's launch values, loaded on its entry; `None` in the per-lane function
    /// (it loads them from the launch record where it uses them).
    pub held: Option<Held>,
    /// Number of declared parameters (their slots are loaded where used, so no value stays
    /// live across the whole function).
    pub nparams: usize,
    pub block_hi: Value,
    /// Bit i set when parameter i is a buffer.
    pub buf_mask: u64,

    pub blk: Variable,
    pub lane0: Variable,
    pub s_lane: Variable,
    pub s_end: Variable,
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
    /// Pcs where the scalar code can be entered from a vector bail-out or after a barrier.
    pub resume_pcs: BTreeSet<u32>,
    /// Barrier instructions (phased strategy).
    pub barrier_pcs: BTreeSet<u32>,
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
        // the launch record for the per-lane function, which loads them where it uses them.
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
        for v in [lane0, s_lane, s_end, bail_pc, s_depth] {
            b.def_var(v, zero32);
        }
        b.def_var(s_resume, zero8);
        b.def_var(bail_fuel, zero64);
        // The per-lane function and the barrier resolution (barrier.rs) read the launch
        // environment from the call record.
        if lanes_fn.is_some() || (phased && kind == FnKind::Kernel) {
            let at = layout.call as i32;
            b.ins().store(fl, env, scratch, at + call::ENV);
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
            layout,
            held,
            scratch,
            trap,
            nparams,
            block_hi,
            buf_mask,
            blk,
            lane0,
            s_lane,
            s_end,
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
            resume_pcs: BTreeSet::new(),
            barrier_pcs: BTreeSet::new(),
            phase_start,
            resolve,
            v: None,
            kind,
            lanes_fn,
            barriers: None,
        };
        match kind {
            FnKind::Kernel => {
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

    /// The argument fields of the per-lane function's [`call`] record: the variables they
    /// carry, their types and offsets. The kernel stores them, the function loads them.
    fn call_args(&self) -> [(Variable, Type, i32); 7] {
        [
            (self.blk, types::I32, call::BLOCK),
            (self.s_lane, types::I32, call::LANE_LO),
            (self.s_end, types::I32, call::LANE_HI),
            (self.s_resume, types::I8, call::RESUMED),
            (self.bail_pc, types::I32, call::BAIL_PC),
            (self.lane0, types::I32, call::LANE0),
            (self.bail_fuel, types::I64, call::BAIL_FUEL),
        ]
    }

    /// The loop over blocks and the group loop head.
    fn emit_block_loop(&mut self) {
        let block_head = self.block_head;
        let b = &mut self.b;
        // block_head: stop at block_hi, else zero shared memory and start the lanes.
        b.switch_to_block(block_head);
        let blk = b.use_var(self.blk);
        let done = b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, blk, self.block_hi);
        let ret_blk = b.create_block();
        let body = b.create_block();
        b.ins().brif(done, ret_blk, &[], body, &[]);
        b.switch_to_block(ret_blk);
        let z = b.ins().iconst(types::I32, 0);
        b.ins().return_(&[z]);

        b.switch_to_block(body);
        let chunks = self.layout.shared_bytes.div_ceil(16);
        if chunks > 0 {
            // Zero the shared memory, 16 bytes at a time.
            let zl = b.create_block();
            let zdone = b.create_block();
            let i = b.append_block_param(zl, types::I64);
            let z0 = b.ins().iconst(types::I64, 0);
            b.ins().jump(zl, &[BlockArg::Value(z0)]);
            b.switch_to_block(zl);
            let zero = ops::konst(b, types::I64X2, 0);
            let addr = b.ins().iadd(self.scratch, i);
            b.ins().store(MemFlagsData::trusted(), zero, addr, 0);
            let i2 = b.ins().iadd_imm_s(i, 16);
            let more = b
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThan, i2, chunks as i64 * 16);
            b.ins().brif(more, zl, &[BlockArg::Value(i2)], zdone, &[]);
            b.switch_to_block(zdone);
        }
        let z = b.ins().iconst(types::I32, 0);
        b.def_var(self.lane0, z);
        b.ins().jump(self.block_init, &[]);

        // block_next
        b.switch_to_block(self.block_next);
        let blk = b.use_var(self.blk);
        let blk = b.ins().iadd_imm_s(blk, 1);
        b.def_var(self.blk, blk);
        b.ins().jump(block_head, &[]);
    }

    /// The scalar lane loop and tail: `group_head` goes straight to the scalar lanes for the
    /// scalar strategy; the vector strategy emits its own group head (vector.rs) and jumps
    /// to `tail` when fewer than G lanes remain.
    pub(crate) fn emit_lane_loop(&mut self, tail: Block) {
        if self.kind == FnKind::Kernel {
            self.emit_lane_entries(tail);
        }
        if let Some(f) = self.lanes_fn {
            self.emit_lanes_call(f);
            return;
        }
        let b = &mut self.b;

        // lane_head: next lane or leave.
        b.switch_to_block(self.lane_head);
        let lane = b.use_var(self.s_lane);
        let end = b.use_var(self.s_end);
        let done = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, lane, end);
        let lanes_done = b.create_block();
        let run = b.create_block();
        b.ins().brif(done, lanes_done, &[], run, &[]);
        b.switch_to_block(lanes_done);
        if self.kind == FnKind::Lanes {
            let z = b.ins().iconst(types::I32, 0);
            let end = b.use_var(self.s_end);
            self.lanes_return(z, end);
        } else if self.phased {
            b.ins().jump(self.resolve, &[]);
        } else {
            let resume = b.use_var(self.s_resume);
            b.ins()
                .brif(resume, self.group_next, &[], self.block_next, &[]);
        }
        let b = &mut self.b;

        b.switch_to_block(run);
        let fresh = b.create_block();
        let resumed = b.create_block();
        if self.phased {
            // Dispatch on the lane's status.
            let st = self.lane_slot(self.layout.lane_status, 4);
            let b = &mut self.b;
            let st = b.ins().load(types::I32, MemFlagsData::trusted(), st, 0);
            let is_fresh = b.ins().icmp_imm_s(IntCC::Equal, st, status::FRESH);
            let not_fresh = b.create_block();
            b.ins().brif(is_fresh, fresh, &[], not_fresh, &[]);
            b.switch_to_block(not_fresh);
            let ready = b.ins().icmp_imm_s(IntCC::Equal, st, status::READY);
            b.ins().brif(ready, resumed, &[], self.lane_next, &[]);
        } else {
            let resume = b.use_var(self.s_resume);
            b.ins().brif(resume, resumed, &[], fresh, &[]);
        }
        let b = &mut self.b;

        // A fresh lane: zero registers, full fuel, from pc 0.
        b.switch_to_block(fresh);
        self.unpark_group();
        let b = &mut self.b;
        let z64 = b.ins().iconst(types::I64, 0);
        let z8 = b.ins().iconst(types::I8, 0);
        let z32 = b.ins().iconst(types::I32, 0);
        let _ = z64;
        for (i, &r) in self.s_regs.iter().enumerate() {
            let z = ops::konst(b, s_home(self.an, i), 0);
            b.def_var(r, z);
        }
        let b = &mut self.b;
        for &p in &self.s_preds {
            b.def_var(p, z8);
        }
        let fuel = self.fuel();
        let b = &mut self.b;
        b.def_var(self.s_fuel, fuel);
        b.def_var(self.s_depth, z32);
        let pc0 = self.s_block(0);
        self.b.ins().jump(pc0, &[]);

        // A lane resumed after a vector bail-out: registers from the register file.
        self.b.switch_to_block(resumed);
        self.unpark_group();
        let b = &mut self.b;
        if self.g > 0 || self.phased {
            // The register file holds the group's lanes after a bail-out, or every lane of
            // the block in the phased strategy.
            let lane = b.use_var(self.s_lane);
            let rel = if self.phased {
                lane
            } else {
                let l0 = b.use_var(self.lane0);
                b.ins().isub(lane, l0)
            };
            let rel = b.ins().uextend(types::I64, rel);
            let bases = self.file_bases(rel);
            let base = bases[1];
            let g8 = self.layout.stride as i32 * 8;
            let (live_r, live_p) = self.spill_set();
            // Registers come back in their home types, as `s_arrive` and the vector code
            // stored them.
            for i in 0..self.s_regs.len() {
                let home = s_home(self.an, i);
                let v = if live_r[i / 64] & (1 << (i % 64)) == 0 {
                    ops::konst(&mut self.b, home, 0)
                } else {
                    let (base, off) = self.reg_slot(i, bases);
                    self.b.ins().load(home, MemFlagsData::trusted(), base, off)
                };
                self.b.def_var(self.s_regs[i], v);
            }
            let b = &mut self.b;
            let z8 = b.ins().iconst(types::I8, 0);
            for (i, &p) in self.s_preds.iter().enumerate() {
                if live_p & (1 << (i % 16)) == 0 {
                    b.def_var(p, z8);
                    continue;
                }
                let o = self.layout.predfile as i32 + i as i32 * g8;
                let v = b.ins().load(types::I64, MemFlagsData::trusted(), base, o);
                let v = b.ins().ireduce(types::I8, v);
                b.def_var(p, v);
            }
            let pc = if self.phased {
                let a = self.lane_slot(self.layout.lane_fuel, 8);
                let f = self.b.ins().load(types::I64, MemFlagsData::trusted(), a, 0);
                self.b.def_var(self.s_fuel, f);
                let a = self.lane_slot(self.layout.lane_depth, 4);
                let d = self.b.ins().load(types::I32, MemFlagsData::trusted(), a, 0);
                self.b.def_var(self.s_depth, d);
                let a = self.lane_slot(self.layout.lane_pc, 4);
                self.b.ins().load(types::I32, MemFlagsData::trusted(), a, 0)
            } else {
                let b = &mut self.b;
                let f = b.use_var(self.bail_fuel);
                b.def_var(self.s_fuel, f);
                let z32 = b.ins().iconst(types::I32, 0);
                b.def_var(self.s_depth, z32);
                b.use_var(self.bail_pc)
            };
            let n = self.p.insts().len() as u32;
            let pcs: Vec<u32> = self
                .resume_pcs
                .iter()
                .copied()
                .filter(|&x| x <= n)
                .collect();
            let targets: Vec<(u32, Block)> =
                pcs.into_iter().map(|p| (p, self.s_block(p))).collect();
            self.switch_on_pc(pc, &targets, self.bad_blk);
        } else {
            self.b.ins().jump(self.bad_blk, &[]);
        }

        // lane_next: a lane exited.
        let b = &mut self.b;
        b.switch_to_block(self.lane_next);
        let lane = b.use_var(self.s_lane);
        let lane = b.ins().iadd_imm_s(lane, 1);
        b.def_var(self.s_lane, lane);
        b.ins().jump(self.lane_head, &[]);

        self.emit_bad_exit();
        let b = &mut self.b;

        // trap: write the record and stop.
        b.switch_to_block(self.trap_blk);
        let kind = b.append_block_param(self.trap_blk, types::I32);
        let pc = b.append_block_param(self.trap_blk, types::I32);
        let space = b.append_block_param(self.trap_blk, types::I32);
        let offv = b.append_block_param(self.trap_blk, types::I64);
        let offhi = b.append_block_param(self.trap_blk, types::I64);
        let blk = b.use_var(self.blk);
        let lane = b.use_var(self.s_lane);
        let fl = MemFlagsData::trusted();
        b.ins().store(fl, kind, self.trap, off::TRAP_KIND);
        b.ins().store(fl, pc, self.trap, off::TRAP_PC);
        b.ins().store(fl, blk, self.trap, off::TRAP_BLOCK);
        b.ins().store(fl, lane, self.trap, off::TRAP_LANE);
        b.ins().store(fl, space, self.trap, off::TRAP_SPACE);
        b.ins().store(fl, offv, self.trap, off::TRAP_OFFSET);
        b.ins().store(fl, offhi, self.trap, off::TRAP_OFFSET_HI);
        if self.phased {
            // Stop this lane and every higher one; lower lanes keep running (they may still
            // trap, replacing this record).
            b.def_var(self.s_end, lane);
            let a = self.lane_slot(self.layout.lane_status, 4);
            let d = self.b.ins().iconst(types::I32, status::DONE);
            self.b.ins().store(MemFlagsData::trusted(), d, a, 0);
            if self.kind == FnKind::Lanes {
                // The kernel resolves the barrier for the lanes below this one.
                let z = self.b.ins().iconst(types::I32, 0);
                self.lanes_return(z, lane);
            } else {
                self.b.ins().jump(self.resolve, &[]);
                self.emit_resolve();
            }
        } else if self.kind == FnKind::Lanes {
            let one = b.ins().iconst(types::I32, 1);
            self.lanes_return(one, one);
        } else {
            let one = b.ins().iconst(types::I32, 1);
            b.ins().return_(&[one]);
        }
    }

    /// Returns from the per-lane function with results `code` and `end` (see [`call`]).
    fn lanes_return(&mut self, code: Value, end: Value) {
        let fl = MemFlagsData::trusted();
        let at = self.layout.call as i32;
        self.b.ins().store(fl, code, self.scratch, at + call::CODE);
        self.b.ins().store(fl, end, self.scratch, at + call::END);
        self.b.ins().return_(&[]);
    }

    /// The kernel's ways into the lane loop: `tail` (the lanes past the last full group, or
    /// every lane for the scalar strategy) and, for phased programs, `phase_start` (every
    /// lane below the lowest trapping one, again); and `group_next`, where vector groups and
    /// bail-outs continue.
    fn emit_lane_entries(&mut self, tail: Block) {
        let b = &mut self.b;
        b.switch_to_block(tail);
        let l0 = b.use_var(self.lane0);
        b.def_var(self.s_lane, l0);
        let bdim = self.bdim();
        let b = &mut self.b;
        b.def_var(self.s_end, bdim);
        let z8 = b.ins().iconst(types::I8, 0);
        b.def_var(self.s_resume, z8);
        if self.phased {
            b.ins().jump(self.phase_start, &[]);
            // phase_start: run every lane below s_end (the trapping lane, if any) again.
            b.switch_to_block(self.phase_start);
            let z = b.ins().iconst(types::I32, 0);
            b.def_var(self.s_lane, z);
        }
        b.ins().jump(self.lane_head, &[]);

        // group_next: advance the group (vector strategy).
        b.switch_to_block(self.group_next);
        let l0 = b.use_var(self.lane0);
        let l0 = b.ins().iadd_imm_s(l0, self.g.max(1) as i64);
        b.def_var(self.lane0, l0);
        b.ins().jump(self.group_head, &[]);
    }

    /// `lane_head` of a kernel whose per-lane code is the function `f`: call it for lanes
    /// `s_lane..s_end`, then go on as the lane loop would (next group or block; resolve the
    /// barrier with the trap limit it returns).
    fn emit_lanes_call(&mut self, f: FuncRef) {
        let b = &mut self.b;
        b.switch_to_block(self.lane_head);
        // No lanes to run (a block of full groups, or a phase whose lanes the vector code
        // parked): no call, whose register saves would cost more than a small block's groups.
        let ok = b.create_block();
        let end = b.append_block_param(ok, types::I32);
        let call_blk = b.create_block();
        let lane = b.use_var(self.s_lane);
        let hi = b.use_var(self.s_end);
        if self.phased {
            // The first lane below `hi` that is fresh or ready (status 0 or 1), if any.
            let (_, l) = self.find_lane(
                lane,
                hi,
                IntCC::SignedLessThan,
                status::READY + 1,
                ok,
                &[BlockArg::Value(hi)],
            );
            self.b.def_var(self.s_lane, l);
            self.b.ins().jump(call_blk, &[]);
            self.b.switch_to_block(call_blk);
        } else {
            let none = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, lane, hi);
            b.ins()
                .brif(none, ok, &[BlockArg::Value(hi)], call_blk, &[]);
            b.switch_to_block(call_blk);
        }
        let fl = MemFlagsData::trusted();
        let at = self.layout.call as i32;
        for (var, _, field) in self.call_args() {
            let v = self.b.use_var(var);
            self.b.ins().store(fl, v, self.scratch, at + field);
        }
        let b = &mut self.b;
        let env = b.ins().load(types::I64, fl, self.scratch, at + call::ENV);
        b.ins().call(f, &[env, self.scratch, self.trap]);
        let code = b.ins().load(types::I32, fl, self.scratch, at + call::CODE);
        let new_end = b.ins().load(types::I32, fl, self.scratch, at + call::END);
        let ret = b.create_block();
        b.ins()
            .brif(code, ret, &[], ok, &[BlockArg::Value(new_end)]);
        b.switch_to_block(ret);
        b.ins().return_(&[code]);
        b.switch_to_block(ok);
        if self.phased {
            b.def_var(self.s_end, end);
            b.ins().jump(self.resolve, &[]);
            self.emit_resolve();
        } else {
            let resume = b.use_var(self.s_resume);
            b.ins()
                .brif(resume, self.group_next, &[], self.block_next, &[]);
        }
        self.emit_bad_exit();
    }

    /// `bad_blk`: an internal inconsistency (never expected); reports code 2.
    fn emit_bad_exit(&mut self) {
        self.b.switch_to_block(self.bad_blk);
        let two = self.b.ins().iconst(types::I32, 2);
        if self.kind == FnKind::Lanes {
            self.lanes_return(two, two);
        } else {
            self.b.ins().return_(&[two]);
        }
    }

    /// Address of the current scalar lane's entry in a per-lane array of `size`-byte
    /// entries at scratch offset `off`.
    pub(crate) fn lane_slot(&mut self, off: u32, size: u32) -> Value {
        let lane = self.b.use_var(self.s_lane);
        self.lane_slot_of(off, size, lane)
    }

    /// Bytes per lane of register `r`'s slots in the spill register file: the width of the
    /// type the scalar code keeps it in ([`s_home`]). A register kept as a 32-bit value has
    /// a zero high half in its 64-bit image, so 4 bytes hold it, and the vector code spills
    /// and reloads its 4-lane vectors as they are.
    pub(crate) fn reg_slot_bytes(&self, r: usize) -> u32 {
        s_home(self.an, r).bytes()
    }

    /// Register `r`'s slots in the spill register file: the base of the lane's slots of its
    /// width (one of `bases`, from [`Tr::file_bases`]) and the offset from it.
    pub(crate) fn reg_slot(&self, r: usize, bases: [Value; 2]) -> (Value, i32) {
        let base = if self.reg_slot_bytes(r) == 4 {
            bases[0]
        } else {
            bases[1]
        };
        (base, self.layout.reg_offset(r) as i32)
    }

    /// The bases of the 4- and 8-byte slots of the lane with index `rel` (`I64`) in the
    /// spill register file.
    pub(crate) fn file_bases(&mut self, rel: Value) -> [Value; 2] {
        [2, 3].map(|sh| {
            let o = self.b.ins().ishl_imm_s(rel, sh);
            self.b.ins().iadd(self.scratch, o)
        })
    }

    /// Phased vector kernels: the current lane runs scalar code, so its group no longer
    /// holds what the vector code parked (see [`Tr::group_parked_slot`]).
    fn unpark_group(&mut self) {
        if self.phased && self.g > 0 {
            let lane = self.b.use_var(self.s_lane);
            let a = self.group_parked_slot(lane);
            let z = self.b.ins().iconst(types::I32, 0);
            self.b.ins().store(MemFlagsData::trusted(), z, a, 0);
        }
    }

    /// As [`Tr::lane_slot`] for lane `lane` (`I32`).
    pub(crate) fn lane_slot_of(&mut self, off: u32, size: u32, lane: Value) -> Value {
        let l = self.b.ins().uextend(types::I64, lane);
        let o = self.b.ins().imul_imm_s(l, size as i64);
        let a = self.b.ins().iadd(self.scratch, o);
        self.b.ins().iadd_imm_s(a, off as i64)
    }

    /// Registers and predicates live at some bail-out pc: the only ones a bail-out spills and
    /// a resumed lane reloads.
    pub(crate) fn spill_set(&self) -> ([u64; 4], u16) {
        let mut r = [0u64; 4];
        let mut p = 0u16;
        for &pc in self.resume_pcs.iter().chain(&self.barrier_pcs) {
            if let Some(l) = self.an.live_regs.get(pc as usize) {
                for w in 0..4 {
                    r[w] |= l[w];
                }
            }
            p |= self.an.live_preds.get(pc as usize).copied().unwrap_or(0);
        }
        (r, p)
    }

    /// Jumps on `pc` (`I32`) with a jump table: to the block of each `(pc, block)` of
    /// `targets`, to `default` for any other value.
    pub(crate) fn switch_on_pc(&mut self, pc: Value, targets: &[(u32, Block)], default: Block) {
        let max = targets.iter().map(|t| t.0).max().unwrap_or(0);
        let table: Vec<_> = (0..=max)
            .map(|p| {
                let blk = targets.iter().find(|t| t.0 == p).map_or(default, |t| t.1);
                self.b.func.dfg.block_call(blk, &[])
            })
            .collect();
        let def = self.b.func.dfg.block_call(default, &[]);
        let jt = self.b.create_jump_table(JumpTableData::new(def, &table));
        self.b.ins().br_table(pc, jt);
    }

    /// The scalar block for `pc` (created on first use).
    pub(crate) fn s_block(&mut self, pc: u32) -> Block {
        let i = pc as usize;
        if let Some(Some(b)) = self.s_blocks.get(i) {
            return *b;
        }
        let blk = self.b.create_block();
        if let Some(slot) = self.s_blocks.get_mut(i) {
            *slot = Some(blk);
        }
        blk
    }

    /// Jumps to the trap block with a non-memory trap.
    fn trap_args(
        &mut self,
        kind: TrapKind,
        pc: u32,
        space: Value,
        offv: Value,
        hi: Option<Value>,
    ) -> [BlockArg; 5] {
        let hi = match hi {
            Some(h) => h,
            None => self.b.ins().iconst(types::I64, 0),
        };
        let k = self.b.ins().iconst(types::I32, kind.code() as i64);
        let p = self.b.ins().iconst(types::I32, pc as i64);
        [
            BlockArg::Value(k),
            BlockArg::Value(p),
            BlockArg::Value(space),
            BlockArg::Value(offv),
            BlockArg::Value(hi),
        ]
    }

    /// `if cond { trap(kind, pc) }`, continuing in a new block.
    fn s_trap_if(
        &mut self,
        cond: Value,
        kind: TrapKind,
        pc: u32,
        space: Value,
        offv: Value,
        hi: Option<Value>,
    ) {
        let args = self.trap_args(kind, pc, space, offv, hi);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, self.trap_blk, &args, cont, &[]);
        self.enter(cont);
    }

    fn s_trap_plain_if(&mut self, cond: Value, kind: TrapKind, pc: u32) {
        let z32 = self.b.ins().iconst(types::I32, 0);
        let z64 = self.b.ins().iconst(types::I64, 0);
        self.s_trap_if(cond, kind, pc, z32, z64, None);
    }

    fn s_trap_now(&mut self, kind: TrapKind, pc: u32) {
        let z32 = self.b.ins().iconst(types::I32, 0);
        let z64 = self.b.ins().iconst(types::I64, 0);
        let args = self.trap_args(kind, pc, z32, z64, None);
        self.b.ins().jump(self.trap_blk, &args);
    }

    // ---------------------------------------------------------------------------------
    // Operands (scalar)
    // ---------------------------------------------------------------------------------

    /// The value of a special register for the current scalar lane, as `I64`.
    fn s_special(&mut self, s: Special) -> Value {
        let v = match s {
            Special::Lane => self.b.use_var(self.s_lane),
            Special::Block => self.b.use_var(self.blk),
            Special::BlockDim => self.bdim(),
            Special::GridDim => self.gdim(),
            Special::GlobalId => {
                let bdim = self.bdim();
                let b = &mut self.b;
                let blk = b.use_var(self.blk);
                let lane = b.use_var(self.s_lane);
                let base = b.ins().imul(blk, bdim);
                b.ins().iadd(base, lane)
            }
        };
        self.b.ins().uextend(types::I64, v)
    }

    /// Reads `src` as type `ty` (compute form) in scalar code.
    pub(crate) fn s_read(&mut self, src: Src, ty: Ty) -> Value {
        match src {
            Src::Reg(r) => self.s_get(r.0 as usize, ty),
            Src::Special(s) => {
                let v = self.s_special(s);
                ops::from_storage(&mut self.b, ty, v)
            }
            Src::Param(i) => {
                let v = self.param_scalar(i);
                ops::from_storage(&mut self.b, ty, v)
            }
            Src::Imm(bits) => ops::imm(&mut self.b, ty, bits),
        }
    }

    /// Reads an index operand as `u64` in scalar code.
    fn s_read_u64(&mut self, src: Src) -> Value {
        match src {
            Src::Reg(r) => self.s_image(r.0 as usize),
            Src::Special(s) => self.s_special(s),
            Src::Param(i) => self.param_scalar(i),
            Src::Imm(bits) => self.b.ins().iconst(types::I64, bits as i64),
        }
    }

    fn s_write(&mut self, dst: u8, ty: Ty, v: Value) {
        let r = dst as usize;
        let home = s_home(self.an, r);
        let s = if home == types::I64 {
            ops::to_storage(&mut self.b, ty, v)
        } else {
            ops::bitcast(&mut self.b, home, v)
        };
        self.b.def_var(self.s_regs[r], s);
    }

    /// Register `r` read as `ty` (compute form).
    fn s_get(&mut self, r: usize, ty: Ty) -> Value {
        let v = self.b.use_var(self.s_regs[r]);
        if s_home(self.an, r) == types::I64 {
            ops::from_storage(&mut self.b, ty, v)
        } else {
            ops::bitcast(&mut self.b, ops::compute_lane(ty), v)
        }
    }

    /// Register `r`'s 64-bit image (zero-extended).
    pub(crate) fn s_image(&mut self, r: usize) -> Value {
        let v = self.b.use_var(self.s_regs[r]);
        let home = s_home(self.an, r);
        if home.bits() == 64 {
            ops::bitcast(&mut self.b, types::I64, v)
        } else {
            let i = ops::bitcast(&mut self.b, types::I32, v);
            self.b.ins().uextend(types::I64, i)
        }
    }

    // ---------------------------------------------------------------------------------
    // Memory (shared by both strategies)
    // ---------------------------------------------------------------------------------

    /// `idx * scale` (scale 1, 2, 4, 8) as (low 64 bits, high bits).
    pub(crate) fn mul_scale(&mut self, idx: Value, scale: u8) -> (Value, Option<Value>) {
        let sh = match scale {
            2 => 1,
            4 => 2,
            8 => 3,
            _ => 0,
        };
        if sh == 0 {
            return (idx, None);
        }
        let prod = self.b.ins().ishl_imm_s(idx, sh);
        let hi = self.b.ins().ushr_imm_s(idx, 64 - sh);
        (prod, Some(hi))
    }

    /// `a + b` with the carry added to the high bits `ovf`.
    pub(crate) fn add_ovf(
        &mut self,
        a: Value,
        b2: Value,
        ovf: Option<Value>,
    ) -> (Value, Option<Value>) {
        let s = self.b.ins().iadd(a, b2);
        let c = self.b.ins().icmp(IntCC::UnsignedLessThan, s, a);
        let c = self.b.ins().uextend(types::I64, c);
        let hi = match ovf {
            Some(h) => self.b.ins().iadd(h, c),
            None => c,
        };
        (s, Some(hi))
    }

    pub(crate) fn or_flag(&mut self, a: Option<Value>, c: Value) -> Value {
        match a {
            Some(a) => self.b.ins().bor(a, c),
            None => c,
        }
    }

    /// The offset of a global address, given a reader for its register operands as `u64`.
    pub(crate) fn global_off(
        &mut self,
        addr: &Addr,
        read: &mut dyn FnMut(&mut Self, Src) -> Value,
    ) -> MemOff {
        match *addr {
            Addr::BufferOffset { buf, offset } => {
                let off = self.b.ins().iconst(types::I64, offset as i64);
                MemOff {
                    space: SpaceRef::Param(buf),
                    off,
                    hi: None,
                }
            }
            Addr::BufferIndex { buf, index, scale } => {
                let idx = read(self, index);
                let (off, ovf) = self.mul_scale(idx, scale);
                MemOff {
                    space: SpaceRef::Param(buf),
                    off,
                    hi: ovf,
                }
            }
            Addr::Phi {
                class,
                page,
                byte,
                index,
            } => {
                let base = class as u64 * POOL_CLASS_BYTES as u64
                    + page as u64 * POOL_PAGE_BYTES as u64
                    + byte as u64;
                let basev = self.b.ins().iconst(types::I64, base as i64);
                match index {
                    None => MemOff {
                        space: SpaceRef::Pool,
                        off: basev,
                        hi: None,
                    },
                    Some((src, scale)) => {
                        let idx = read(self, src);
                        let (m, ovf) = self.mul_scale(idx, scale);
                        let (off, ovf) = self.add_ovf(m, basev, ovf);
                        MemOff {
                            space: SpaceRef::Pool,
                            off,
                            hi: ovf,
                        }
                    }
                }
            }
            Addr::RegisterIndirect { base, offset } => {
                let p = read(self, Src::Reg(base));
                let hi = self.b.ins().ushr_imm_s(p, 32);
                let lo = self.b.ins().band_imm_s(p, 0xffff_ffff);
                // Exact in 64 bits; a negative result has high bits -1 (out of bounds).
                let off = self.b.ins().iadd_imm_s(lo, offset as i64);
                let sign = self.b.ins().sshr_imm_s(off, 63);
                MemOff {
                    space: SpaceRef::Dynamic(hi),
                    off,
                    hi: Some(sign),
                }
            }
            Addr::RegisterIndirectComputed { handle, offset } => {
                let p = read(self, Src::Reg(handle));
                let o = read(self, Src::Reg(offset));
                let hi = self.b.ins().ushr_imm_s(p, 32);
                let lo = self.b.ins().band_imm_s(p, 0xffff_ffff);
                let (off, ovf) = self.add_ovf(lo, o, None);
                MemOff {
                    space: SpaceRef::Dynamic(hi),
                    off,
                    hi: ovf,
                }
            }
        }
    }

    /// The offset of a shared-memory address.
    pub(crate) fn shared_off(
        &mut self,
        addr: &SharedAddr,
        read: &mut dyn FnMut(&mut Self, Src) -> Value,
    ) -> MemOff {
        let c = self.b.ins().iconst(types::I64, addr.offset as i64);
        match addr.index {
            None => MemOff {
                space: SpaceRef::Shared,
                off: c,
                hi: None,
            },
            Some((src, scale)) => {
                let idx = read(self, src);
                let (m, ovf) = self.mul_scale(idx, scale);
                let (off, ovf) = self.add_ovf(m, c, ovf);
                MemOff {
                    space: SpaceRef::Shared,
                    off,
                    hi: ovf,
                }
            }
        }
    }

    /// The value bits of scalar parameter `i` (`I64`), loaded from the launch's slots.
    pub(crate) fn param_scalar(&mut self, i: u8) -> Value {
        if i as usize >= self.nparams {
            return self.b.ins().iconst(types::I64, 0);
        }
        self.slot_field(i, off::SLOT_SCALAR)
    }

    /// The 64-bit field at byte `field` (an `off::SLOT_*`) of parameter `i`'s slot.
    fn slot_field(&mut self, i: u8, field: i32) -> Value {
        let o = i as i32 * off::SLOT_SIZE + field;
        let params = self.params_ptr();
        self.b
            .ins()
            .load(types::I64, MemFlagsData::trusted(), params, o)
    }

    /// The trap-record space code of a space (`I32`).
    pub(crate) fn space_code(&mut self, s: SpaceRef) -> Value {
        match s {
            SpaceRef::Param(i) => self.b.ins().iconst(types::I32, i as i64),
            SpaceRef::Pool => self.b.ins().iconst(types::I32, SPACE_POOL as i64),
            SpaceRef::Shared => self.b.ins().iconst(types::I32, SPACE_SHARED as i64),
            SpaceRef::Dynamic(hi) => self.b.ins().ireduce(types::I32, hi),
        }
    }

    /// A launch value: the kernel's copy ([`Tr::held`]), or in the per-lane function loaded
    /// here from scratch offset `at` as `ty`.
    fn launch_value(&mut self, held: fn(&Held) -> Value, ty: Type, at: i32) -> Value {
        match &self.held {
            Some(h) => held(h),
            None => self
                .b
                .ins()
                .load(ty, MemFlagsData::trusted(), self.scratch, at),
        }
    }

    /// The address of the launch's parameter slots (`I64`).
    fn params_ptr(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::PARAMS;
        self.launch_value(|h| h.params, types::I64, at)
    }

    /// The pool's base address (`I64`).
    fn pool_ptr(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::POOL;
        self.launch_value(|h| h.pool, types::I64, at)
    }

    /// The pool's length in bytes (`I64`).
    fn pool_len(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::POOL_LEN;
        self.launch_value(|h| h.pool_len, types::I64, at)
    }

    /// The launch's fuel budget per lane (`I64`).
    pub(crate) fn fuel(&mut self) -> Value {
        let at = self.layout.launch as i32 + launch::FUEL;
        self.launch_value(|h| h.fuel, types::I64, at)
    }

    /// `%bdim` (`I32`).
    pub(crate) fn bdim(&mut self) -> Value {
        let at = self.layout.call as i32 + call::BLOCK_DIM;
        self.launch_value(|h| h.bdim, types::I32, at)
    }

    /// `%gdim` (`I32`).
    pub(crate) fn gdim(&mut self) -> Value {
        let at = self.layout.call as i32 + call::GRID;
        self.launch_value(|h| h.gdim, types::I32, at)
    }

    /// Switches to `blk`, whose predecessors are all emitted, and seals it: variables read
    /// in it resolve to their values directly instead of through block parameters (fewer
    /// parameters and copies for Cranelift to remove or allocate).
    pub(crate) fn enter(&mut self, blk: Block) {
        self.b.switch_to_block(blk);
        self.b.seal_block(blk);
    }

    /// Base pointer of a space known at compile time (`I64`).
    pub(crate) fn space_ptr(&mut self, s: SpaceRef) -> Value {
        match s {
            SpaceRef::Param(i) if (i as usize) < self.nparams => self.slot_field(i, off::SLOT_PTR),
            SpaceRef::Pool => self.pool_ptr(),
            SpaceRef::Shared => self.scratch,
            _ => self.space_base(s).0,
        }
    }

    /// Length in bytes (`I64`) of a space, without loading its base pointer (loads that
    /// are not used are still emitted).
    pub(crate) fn space_len(&mut self, s: SpaceRef) -> Value {
        match s {
            SpaceRef::Param(i) if (i as usize) < self.nparams => self.slot_field(i, off::SLOT_LEN),
            _ => self.space_base(s).1,
        }
    }

    /// Base pointer and length (`I64`s) of a space; an invalid dynamic space has length 0.
    pub(crate) fn space_base(&mut self, s: SpaceRef) -> (Value, Value) {
        match s {
            SpaceRef::Param(i) => {
                if i as usize >= self.nparams {
                    let z = self.b.ins().iconst(types::I64, 0);
                    return (z, z);
                }
                let ptr = self.slot_field(i, off::SLOT_PTR);
                let len = self.slot_field(i, off::SLOT_LEN);
                (ptr, len)
            }
            SpaceRef::Pool => (self.pool_ptr(), self.pool_len()),
            SpaceRef::Shared => {
                let len = self
                    .b
                    .ins()
                    .iconst(types::I64, self.layout.shared_bytes as i64);
                (self.scratch, len)
            }
            SpaceRef::Dynamic(hi) => {
                let merge = self.b.create_block();
                let ptr = self.b.append_block_param(merge, types::I64);
                let len = self.b.append_block_param(merge, types::I64);
                let pool_b = self.b.create_block();
                let chk = self.b.create_block();
                let none = self.b.create_block();
                let is_pool = self.b.ins().icmp_imm_s(IntCC::Equal, hi, SPACE_POOL as i64);
                self.b.ins().brif(is_pool, pool_b, &[], chk, &[]);
                self.b.switch_to_block(pool_b);
                let (pool, pool_len) = self.space_base(SpaceRef::Pool);
                let b = &mut self.b;
                b.ins()
                    .jump(merge, &[BlockArg::Value(pool), BlockArg::Value(pool_len)]);
                b.switch_to_block(chk);
                let nparams = self.nparams as i64;
                if self.buf_mask != 0 {
                    let load_b = b.create_block();
                    let in_range = b.ins().icmp_imm_s(IntCC::UnsignedLessThan, hi, nparams);
                    let mask = b.ins().iconst(types::I64, self.buf_mask as i64);
                    let bit = b.ins().ushr(mask, hi);
                    let bit = b.ins().band_imm_s(bit, 1);
                    let isbuf = b.ins().icmp_imm_s(IntCC::NotEqual, bit, 0);
                    let valid = b.ins().band(in_range, isbuf);
                    b.ins().brif(valid, load_b, &[], none, &[]);
                    b.switch_to_block(load_b);
                    let o = b.ins().imul_imm_s(hi, off::SLOT_SIZE as i64);
                    let params = self.params_ptr();
                    let b = &mut self.b;
                    let a = b.ins().iadd(params, o);
                    let fl = MemFlagsData::trusted();
                    let p = b.ins().load(types::I64, fl, a, off::SLOT_PTR);
                    let l = b.ins().load(types::I64, fl, a, off::SLOT_LEN);
                    b.ins()
                        .jump(merge, &[BlockArg::Value(p), BlockArg::Value(l)]);
                } else {
                    b.ins().jump(none, &[]);
                }
                let b = &mut self.b;
                b.switch_to_block(none);
                let z = b.ins().iconst(types::I64, 0);
                b.ins()
                    .jump(merge, &[BlockArg::Value(z), BlockArg::Value(z)]);
                b.switch_to_block(merge);
                (ptr, len)
            }
        }
    }

    /// (out of bounds, misaligned) flags of an access of `size` bytes at `off` in a space of
    /// `len` bytes. Works on `I64` scalars.
    pub(crate) fn bad_flags(
        &mut self,
        m: &MemOff,
        len: Value,
        size: u32,
    ) -> (Value, Option<Value>) {
        let b = &mut self.b;
        let past = b.ins().icmp(IntCC::UnsignedGreaterThan, m.off, len);
        let room = b.ins().isub(len, m.off);
        let short = b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThan, room, size as i64);
        let oob = b.ins().bor(past, short);
        let oob = match m.hi {
            Some(h) => {
                let big = self.b.ins().icmp_imm_s(IntCC::NotEqual, h, 0);
                self.b.ins().bor(big, oob)
            }
            None => oob,
        };
        let mis = if size > 1 {
            let low = self.b.ins().band_imm_s(m.off, size as i64 - 1);
            Some(self.b.ins().icmp_imm_s(IntCC::NotEqual, low, 0))
        } else {
            None
        };
        (oob, mis)
    }

    /// Checks an access in scalar code (trapping), returning its address.
    fn s_checked_addr(&mut self, pc: u32, m: MemOff, size: u32) -> Value {
        let (ptr, len) = self.space_base(m.space);
        let (oob, mis) = self.bad_flags(&m, len, size);
        let space = self.space_code(m.space);
        self.s_trap_if(oob, TrapKind::OutOfBounds, pc, space, m.off, m.hi);
        if let Some(mis) = mis {
            self.s_trap_if(mis, TrapKind::Misaligned, pc, space, m.off, None);
        }
        self.b.ins().iadd(ptr, m.off)
    }

    /// Loads a `ty` from `addr` and returns its 64-bit register image.
    /// Loads a `ty` from `addr` into register `dst`.
    fn s_load(&mut self, dst: usize, ty: Ty, addr: Value) {
        let home = s_home(self.an, dst);
        if home != types::I64 {
            // Same width as `ty` (the register has one class): load it as is.
            let v = self.b.ins().load(home, MemFlagsData::trusted(), addr, 0);
            self.b.def_var(self.s_regs[dst], v);
            return;
        }
        let it = Type::int(ty.bits() as u16).unwrap_or(types::I64);
        let v = self.b.ins().load(it, MemFlagsData::trusted(), addr, 0);
        let v = if it == types::I64 {
            v
        } else {
            self.b.ins().uextend(types::I64, v)
        };
        self.b.def_var(self.s_regs[dst], v);
    }

    fn s_store(&mut self, ty: Ty, addr: Value, src: Src) {
        let v = self.s_read(src, ty);
        let v = if ty.bits() >= 32 {
            v
        } else {
            let it = Type::int(ty.bits() as u16).unwrap_or(types::I8);
            self.b.ins().ireduce(it, v)
        };
        self.b.ins().store(MemFlagsData::trusted(), v, addr, 0);
    }

    // ---------------------------------------------------------------------------------
    // The scalar program
    // ---------------------------------------------------------------------------------

    /// Base address of the current lane's call stack.
    fn call_stack_base(&mut self) -> Option<Value> {
        if self.phased {
            if !self.an.has_call {
                return None;
            }
            let off = self.layout.lane_stack;
            Some(self.lane_slot(off, CALL_STACK_DEPTH * 4))
        } else {
            let slot = self.call_stack?;
            Some(self.b.ins().stack_addr(types::I64, slot, 0))
        }
    }

    /// Consumes one unit of fuel (trapping `out of fuel` at `pc` when none is left).
    fn s_fuel_use(&mut self, pc: u32) {
        let f = self.b.use_var(self.s_fuel);
        let empty = self.b.ins().icmp_imm_s(IntCC::Equal, f, 0);
        self.s_trap_plain_if(empty, TrapKind::OutOfFuel, pc);
        let f = self.b.ins().iadd_imm_s(f, -1);
        self.b.def_var(self.s_fuel, f);
    }

    /// Jumps to the scalar code of `target` from the branch at `pc` (consuming fuel when the
    /// branch goes backward).
    fn s_goto(&mut self, pc: u32, target: u32) {
        if target <= pc {
            self.s_fuel_use(pc);
        }
        let t = self.s_block(target);
        self.b.ins().jump(t, &[]);
    }

    /// Emits the scalar copy of the program.
    pub(crate) fn emit_scalar_program(&mut self) -> TrResult<()> {
        let insts = self.p.insts().to_vec();
        let n = insts.len() as u32;
        let mut open = false;
        for pc in 0..n {
            let starts = self.an.leader[pc as usize] || self.resume_pcs.contains(&pc);
            if starts {
                let blk = self.s_block(pc);
                if open {
                    self.b.ins().jump(blk, &[]);
                }
                self.b.switch_to_block(blk);
                open = true;
            } else if self.s_blocks[pc as usize].is_some() {
                return Err(TrError(format!(
                    "pc {pc} is a jump target but not a leader"
                )));
            }
            if !open {
                continue;
            }
            self.b.set_srcloc(listing::loc(pc, true));
            open = self.s_inst(pc, &insts[pc as usize])?;
        }
        // Falling off the end.
        let end = self.s_block(n);
        if open {
            self.b.ins().jump(end, &[]);
        }
        self.b.switch_to_block(end);
        self.b.set_srcloc(listing::loc(n, true));
        self.s_trap_now(TrapKind::FellOffEnd, n);
        self.b.set_srcloc(SourceLoc::default());
        Ok(())
    }

    /// Emits one instruction in scalar code; returns whether the block stays open.
    fn s_inst(&mut self, pc: u32, inst: &Inst) -> TrResult<bool> {
        match *inst {
            Inst::Ldg { ty, dst, addr } => {
                let m = self.global_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_load(dst.0 as usize, ty, a);
            }
            Inst::Stg { ty, src, addr } => {
                let m = self.global_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_store(ty, a, src);
            }
            Inst::Lds { ty, dst, addr } => {
                let m = self.shared_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_load(dst.0 as usize, ty, a);
            }
            Inst::Sts { ty, src, addr } => {
                let m = self.shared_off(&addr, &mut |t, s| t.s_read_u64(s));
                let a = self.s_checked_addr(pc, m, ty.size());
                self.s_store(ty, a, src);
            }
            Inst::Mov { ty, dst, src } => {
                let v = self.s_read(src, ty);
                self.s_write(dst.0, ty, v);
            }
            Inst::Cvt { to, from, dst, src } => {
                let v = self.s_read(src, from);
                let r = ops::cvt(&mut self.b, to, from, v);
                self.s_write(dst.0, to, r);
            }
            Inst::Bin { op, ty, dst, a, b } => {
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let r = match op {
                    BinOp::Div | BinOp::Rem if ty.is_int() => {
                        let (zero, ovf) = ops::div_checks(&mut self.b, ty, x, y);
                        self.s_trap_plain_if(zero, TrapKind::DivideByZero, pc);
                        if let Some(o) = ovf {
                            self.s_trap_plain_if(o, TrapKind::IntegerOverflow, pc);
                        }
                        ops::divrem(&mut self.b, op, ty, x, y)
                    }
                    BinOp::Shl | BinOp::Shr => ops::shift(&mut self.b, op, ty, x, y),
                    _ => ops::simple_bin(&mut self.b, op, ty, x, y),
                };
                self.s_write(dst.0, ty, r);
            }
            Inst::Un { op, ty, dst, a } => {
                let x = self.s_read(a, ty);
                let r = ops::simple_un(&mut self.b, op, ty, x);
                self.s_write(dst.0, ty, r);
            }
            Inst::Fma { ty, dst, a, b, c } => {
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let z = self.s_read(c, ty);
                let r = ops::fma(&mut self.b, ty, x, y, z);
                self.s_write(dst.0, ty, r);
            }
            Inst::Setp { cmp, ty, dst, a, b } => {
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let r = ops::compare(&mut self.b, cmp, ty, x, y);
                self.b.def_var(self.s_preds[dst.0 as usize], r);
            }
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            } => {
                let c = self.b.use_var(self.s_preds[pred.0 as usize]);
                let x = self.s_read(a, ty);
                let y = self.s_read(b, ty);
                let r = self.b.ins().select(c, x, y);
                self.s_write(dst.0, ty, r);
            }
            Inst::Bra { target, guard } => match guard {
                None => {
                    self.s_goto(pc, target);
                    return Ok(false);
                }
                Some(g) => {
                    let c = self.b.use_var(self.s_preds[g.pred.0 as usize]);
                    let taken = self.b.create_block();
                    let fall = self.s_block(pc + 1);
                    if g.negate {
                        self.b.ins().brif(c, fall, &[], taken, &[]);
                    } else {
                        self.b.ins().brif(c, taken, &[], fall, &[]);
                    }
                    self.enter(taken);
                    self.s_goto(pc, target);
                    return Ok(false);
                }
            },
            Inst::Loop { counter, target } => {
                // The counter as an integer of its storage width (a 32-bit register's upper
                // half is zero, so the u32 compare is the u64 compare).
                let var = self.s_regs[counter.0 as usize];
                let home = s_home(self.an, counter.0 as usize);
                let v = self.b.use_var(var);
                let v = ops::bitcast(&mut self.b, home.as_int(), v);
                let more = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, v, 1);
                let taken = self.b.create_block();
                let not_taken = self.b.create_block();
                self.b.ins().brif(more, taken, &[], not_taken, &[]);
                self.enter(not_taken);
                let z = ops::konst(&mut self.b, home, 0);
                self.b.def_var(var, z);
                let fall = self.s_block(pc + 1);
                self.b.ins().jump(fall, &[]);
                self.enter(taken);
                let v1 = self.b.ins().iadd_imm_s(v, -1);
                let v1 = ops::bitcast(&mut self.b, home, v1);
                self.b.def_var(var, v1);
                self.s_goto(pc, target);
                return Ok(false);
            }
            Inst::Call { target } => {
                if !self.an.has_call {
                    return Err(TrError("call without a call stack".into()));
                }
                self.s_fuel_use(pc);
                let d = self.b.use_var(self.s_depth);
                let full = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::Equal, d, CALL_STACK_DEPTH as i64);
                self.s_trap_plain_if(full, TrapKind::CallStackOverflow, pc);
                let Some(base) = self.call_stack_base() else {
                    return Err(TrError("call without a call stack".into()));
                };
                let d64 = self.b.ins().uextend(types::I64, d);
                let o = self.b.ins().ishl_imm_s(d64, 2);
                let a = self.b.ins().iadd(base, o);
                let ret = self.b.ins().iconst(types::I32, pc as i64 + 1);
                self.b.ins().store(MemFlagsData::trusted(), ret, a, 0);
                let d1 = self.b.ins().iadd_imm_s(d, 1);
                self.b.def_var(self.s_depth, d1);
                // Make sure the return site has a block (it is a leader).
                self.s_block(pc + 1);
                let t = self.s_block(target);
                self.b.ins().jump(t, &[]);
                return Ok(false);
            }
            Inst::Ret => {
                if !self.an.has_call {
                    // No call anywhere: every ret traps.
                    self.s_trap_now(TrapKind::RetWithoutCall, pc);
                    return Ok(false);
                }
                let d = self.b.use_var(self.s_depth);
                let empty = self.b.ins().icmp_imm_s(IntCC::Equal, d, 0);
                self.s_trap_plain_if(empty, TrapKind::RetWithoutCall, pc);
                let d1 = self.b.ins().iadd_imm_s(d, -1);
                self.b.def_var(self.s_depth, d1);
                let Some(base) = self.call_stack_base() else {
                    return Err(TrError("ret without a call stack".into()));
                };
                let d64 = self.b.ins().uextend(types::I64, d1);
                let o = self.b.ins().ishl_imm_s(d64, 2);
                let a = self.b.ins().iadd(base, o);
                let ret = self.b.ins().load(types::I32, MemFlagsData::trusted(), a, 0);
                // Return sites: the instruction after every call.
                let n = self.p.insts().len() as u32;
                let sites: Vec<u32> = self
                    .p
                    .insts()
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| matches!(i, Inst::Call { .. }))
                    .map(|(i, _)| i as u32 + 1)
                    .filter(|&r| r <= n)
                    .collect();
                let targets: Vec<(u32, Block)> =
                    sites.into_iter().map(|r| (r, self.s_block(r))).collect();
                self.switch_on_pc(ret, &targets, self.bad_blk);
                return Ok(false);
            }
            Inst::Exit => {
                if self.phased {
                    let a = self.lane_slot(self.layout.lane_status, 4);
                    let d = self.b.ins().iconst(types::I32, status::DONE);
                    self.b.ins().store(MemFlagsData::trusted(), d, a, 0);
                }
                self.b.ins().jump(self.lane_next, &[]);
                return Ok(false);
            }
            Inst::MemFence => {}
            Inst::BarSync | Inst::Reduce { .. } => {
                if !self.phased {
                    return Err(TrError("barriers need the phased strategy".into()));
                }
                self.s_arrive(pc);
                return Ok(false);
            }
        }
        Ok(true)
    }
}
