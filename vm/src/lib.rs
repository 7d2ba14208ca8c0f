//! holovm: an embeddable bytecode VM for a GPU-style SPMD instruction set.
//!
//! A [`Vm`] owns typed [`Buffer`]s and the boundary pool, and runs verified programs
//! ([`isa::Program`], built by hand, by the assembler ([`asm`]) or decoded from bytecode) over
//! a grid of blocks of lanes with [`Vm::launch`]. Execution follows docs/ISA.md exactly: every
//! memory access is bounds- and alignment-checked, and every fault stops the launch with a
//! [`Trap`] that says what, where and which lane.
//!
//! ```
//! use holovm::isa::*;
//! use holovm::{args, Vm};
//!
//! // out[i] = a[i] + b[i]
//! let gid = Src::Special(Special::GlobalId);
//! let at = |buf| Addr::BufferIndex { buf, index: gid, scale: 4 };
//! let program = Program::new(ProgramDef {
//!     name: "add".into(),
//!     params: ["a", "b", "out"]
//!         .map(|n| Param { name: n.into(), kind: ParamKind::Buffer(Ty::F32) })
//!         .to_vec(),
//!     insts: vec![
//!         Inst::Ldg { ty: Ty::F32, dst: Reg(0), addr: at(0) },
//!         Inst::Ldg { ty: Ty::F32, dst: Reg(1), addr: at(1) },
//!         Inst::Bin { op: BinOp::Add, ty: Ty::F32, dst: Reg(2), a: Src::Reg(Reg(0)), b: Src::Reg(Reg(1)) },
//!         Inst::Stg { ty: Ty::F32, src: Src::Reg(Reg(2)), addr: at(2) },
//!         Inst::Exit,
//!     ],
//!     ..Default::default()
//! })
//! .unwrap();
//!
//! let vm = Vm::new();
//! let a = vm.alloc_from(&[1.0f32, 2.0, 3.0, 4.0])?;
//! let b = vm.alloc_from(&[10.0f32, 20.0, 30.0, 40.0])?;
//! let out = vm.alloc::<f32>(4)?;
//! vm.launch(&program, LaunchConfig::new(2, 2), &args![&a, &b, &out])?;
//! assert_eq!(vm.read(&out)?, vec![11.0, 22.0, 33.0, 44.0]);
//! # Ok::<(), holovm::Error>(())
//! ```

#![warn(missing_docs)]

#[cfg(not(target_endian = "little"))]
compile_error!("holovm supports little-endian hosts only (ISA memory is little-endian)");

pub use holovm_asm as asm;
pub use holovm_isa as isa;
pub use holovm_jit as jit;

mod args;
mod config;
mod element;
mod error;
pub mod examples;
mod interp;
mod memo;
mod memory;
pub mod npy;
pub mod ops;
mod tier;
mod vm;

pub use args::Arg;
pub use config::VmConfig;
pub use element::Element;
pub use error::{Error, MemAccess, Space, Trap, TrapKind};
pub use holovm_isa::{LaunchConfig, Program, ProgramKey};
pub use memory::{AnyBuffer, Buffer};
pub use tier::Tier;
pub use vm::{LaunchStats, Vm};

/// The README's embedding example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
