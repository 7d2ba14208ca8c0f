//! The holovm instruction set: value types, registers, instructions, programs, the verifier
//! and the bytecode format. The full reference is docs/ISA.md.
//!
//! ```
//! use holovm_isa::*;
//! let def = ProgramDef {
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
//! };
//! let program = Program::new(def).unwrap();
//! let bytes = program.to_bytes();
//! assert_eq!(Program::from_bytes(&bytes).unwrap(), program);
//! ```

#![warn(missing_docs)]

#[cfg(feature = "arbitrary")]
pub mod arbitrary;
pub mod bytecode;
mod inst;
mod key;
pub mod math;
pub mod print;
mod program;
mod reg;
mod trap;
mod ty;
mod verify;

pub use bytecode::DecodeError;
pub use inst::{Addr, BinOp, Cmp, Guard, Inst, RedOp, SharedAddr, Src, UnOp};
pub use key::ProgramKey;
pub use program::*;
pub use reg::{Pred, Reg, Special, NUM_PREDS, NUM_REGS};
pub use trap::TrapKind;
pub use ty::Ty;
pub use verify::{is_valid_ident, verify_all, VerifyError};
