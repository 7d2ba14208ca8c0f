//! The Cranelift JIT tier of holovm.
//!
//! [`compile()`] turns a verified [`holovm_isa::Program`] into machine code for the host CPU
//! (x86-64 with every SIMD feature it has); [`CompiledKernel::run_blocks`] runs a range of a
//! launch's blocks through the launch ABI in [`abi`]. The code implements docs/ISA.md
//! exactly, including traps (never hardware traps: a failing check writes a
//! [`TrapRecord`] and returns), the lowest-trapping-lane rule and fuel, so it is
//! interchangeable with the interpreter.
//!
//! Strategies (see [`Strategy`]):
//! - **vector**: lanes are the vector dimension; groups of G lanes (8 by default) run a
//!   vector translation while they stay converged (or diverge only over straight-line
//!   code they can run under lane masks) and fall back to per-lane code otherwise
//!   (vector.rs);
//! - **scalar**: per-lane code, one lane after another (translate.rs), for programs the
//!   vector translation cannot take (a register written at 64 bits and used at 32);
//! - **phased**: for programs with `bar.sync`/`reduce`, the scalar code runs each lane up
//!   to the next barrier, then the barrier is resolved for the block (phased.rs, by a call
//!   to barrier.rs).
//!
//! Every verified program compiles; [`JitError::Unsupported`] is kept for programs a future
//! limit might reject, and tells the VM to use the interpreter.
//!
//! # Driving it from the VM
//!
//! - Compile once per program ([`compile()`]); keep the kernel in an `Arc` while launches run
//!   (dropping it frees the code).
//! - Per launch, build one [`ParamSlot`] per declared parameter (buffers: pointer and byte
//!   length; scalars: the value bits zero-extended from the parameter's type) and a
//!   [`LaunchEnv`]. Compiled code never embeds addresses, so any launch can use any kernel.
//! - Each worker thread owns a [`Scratch`] and calls [`CompiledKernel::run_blocks`] on a
//!   contiguous range of blocks; a range stops at its first trapping block. The launch's
//!   trap is the one of the lowest range that trapped (blocks are ordered by `%gid`).
//! - A [`TrapRecord`] maps to the ISA trap: `kind` ([`TrapKind`]), `pc` (the number of
//!   instructions for `fell off the end`), `block`, `lane`; for memory traps `space` (a
//!   parameter index, [`SPACE_POOL`], [`SPACE_SHARED`], or the raw handle of a pointer that
//!   names no buffer) and [`TrapRecord::exact_offset`]; the access size is the size of the
//!   type of the instruction at `pc`.
//!
//! ```
//! use holovm_isa::*;
//! use holovm_jit::*;
//! let program = Program::new(ProgramDef {
//!     name: "store_gid".into(),
//!     params: vec![Param { name: "out".into(), kind: ParamKind::Buffer(Ty::U32) }],
//!     insts: vec![
//!         Inst::Stg {
//!             ty: Ty::U32,
//!             src: Src::Special(Special::GlobalId),
//!             addr: Addr::BufferIndex { buf: 0, index: Src::Special(Special::GlobalId), scale: 4 },
//!         },
//!         Inst::Exit,
//!     ],
//!     ..Default::default()
//! })
//! .unwrap();
//! let kernel = compile(&program, &JitOptions::default()).unwrap();
//! let mut out = vec![0u32; 40];
//! let slots = [ParamSlot::buffer(out.as_mut_ptr().cast(), 160)];
//! let env = LaunchEnv {
//!     params: slots.as_ptr(), num_params: 1, pool: std::ptr::null_mut(), pool_len: 0,
//!     grid: 4, block: 10, fuel: 1 << 26,
//! };
//! let mut trap = TrapRecord::default();
//! // SAFETY: `out` is valid for 160 bytes and not otherwise used during the call.
//! unsafe { kernel.run_blocks(&env, 0..4, &mut Scratch::new(), &mut trap) }.unwrap();
//! assert_eq!(trap.kind, 0);
//! assert_eq!(out, (0..40).collect::<Vec<u32>>());
//! ```

#![warn(missing_docs)]

pub mod abi;
mod analysis;
mod barrier;
mod beside;
mod choices;
mod compile;
mod dump;
mod jumps;
mod kernel;
mod listing;
mod masked_branches;
mod masked_loops;
mod math;
mod ops;
mod parked;
mod perf_map;
mod phased;
mod regroup;
mod resume;
mod strategy;
mod translate;
mod vector;
mod webs;

pub use abi::{LaunchEnv, ParamSlot, TrapKind, TrapRecord, SPACE_POOL, SPACE_SHARED};
pub use compile::{compile, JitError, JitOptions, DEFAULT_MAX_INSTS};
pub use dump::{strategy_lines, CompileParts, JitDump, Strategy, CLIF_LOCATIONS};
pub use holovm_isa as isa;
pub use kernel::{
    narrower_group, CompiledKernel, LaunchError, LaunchVariant, Scratch, RETIME_EVERY,
};
