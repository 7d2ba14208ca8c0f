//! The holovm text assembler and disassembler (`.hasm`, docs/ISA.md section 9).
//!
//! [`assemble`] turns text into a verified [`Program`], reporting every error it can find in
//! one pass with a line, a column and, through [`Diagnostics::render`], a source snippet.
//! [`disassemble`] prints a program back as text that assembles to the same program.
//!
//! ```
//! let src = "
//! .kernel vector_add
//! .param a: ptr f32
//! .param b: ptr f32
//! .param c: ptr f32
//! .param n: u32
//! .launch 4, 256
//!
//!     setp.ge.u32 p0, %gid, n      ; lanes past the end do nothing
//!     @p0 bra @done
//!     ldg.f32 r1, [a + %gid*4]
//!     ldg.f32 r2, [b + %gid*4]
//!     add.f32 r3, r1, r2
//!     stg.f32 [c + %gid*4], r3
//! done:
//!     exit
//! ";
//! let program = holovm_asm::assemble(src).unwrap();
//! assert_eq!(program.insts().len(), 7);
//! assert_eq!(holovm_asm::assemble(&holovm_asm::disassemble(&program)).unwrap(), program);
//! ```

#![warn(missing_docs)]

mod assembler;
mod diagnostics;
mod disasm;
mod lexer;
mod literal;
mod mnemonic;
mod parser;

pub use diagnostics::{Diagnostic, Diagnostics};
pub use disasm::{disassemble, disassemble_def};
pub use holovm_isa::{Program, ProgramDef};

/// Assembles `.hasm` text into a verified [`Program`].
///
/// On failure, returns every error found: the assembler continues with the next line after
/// an error, resolves labels and names over the whole text, and, when the text itself is
/// well-formed, maps the verifier's error back to the line of the offending instruction.
///
/// ```
/// use holovm_asm::assemble;
/// use holovm_isa::{Inst, Reg, Src, Ty};
///
/// let p = assemble(".kernel k\n    mov.i32 r0, -1\n    exit\n").unwrap();
/// assert_eq!(p.insts()[0], Inst::Mov { ty: Ty::I32, dst: Reg(0), src: Src::Imm(0xffff_ffff) });
///
/// let errors = assemble(".kernel k\n    mov.i8 r0, 300\n    bra @nowhere\n").unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     "2:16: `300` is out of range for i8 (-128..=127)\n3:9: undefined label `nowhere`"
/// );
/// ```
pub fn assemble(src: &str) -> Result<Program, Diagnostics> {
    assembler::assemble(src)
}

/// Assembles `.hasm` text into a [`ProgramDef`] without verifying it: every syntax and name
/// error is still reported, but the rules of docs/ISA.md section 8 are not checked. For tests
/// and tools that need to build an invalid program from text (for example to exercise the
/// verifier); use [`assemble`] otherwise.
///
/// ```
/// // `rem` on floats is a verifier error, not a syntax error.
/// let def = holovm_asm::assemble_def(".kernel k\n    rem.f32 r0, r0, r0\n    exit\n").unwrap();
/// assert_eq!(def.insts.len(), 2);
/// ```
pub fn assemble_def(src: &str) -> Result<ProgramDef, Diagnostics> {
    assembler::assemble_def(src)
}

/// Parses `text` as an immediate of type `ty` with the assembler's literal syntax (docs/ISA.md
/// section 9.4: decimal, `0x`/`0b` integers, floats, `inf`, `nan`, `0f`/`0d` bit patterns)
/// and range rules, for tools that take values outside a program (the `holovm` command's
/// arguments). Returns the value's register image.
///
/// ```
/// use holovm_isa::Ty;
/// assert_eq!(holovm_asm::parse_literal("-1", Ty::I8), Ok(0xff));
/// assert_eq!(holovm_asm::parse_literal("0x10", Ty::U32), Ok(16));
/// assert!(holovm_asm::parse_literal("300", Ty::U8).is_err());
/// assert!(holovm_asm::parse_literal("1e40", Ty::F32).is_err());
/// ```
pub fn parse_literal(text: &str, ty: holovm_isa::Ty) -> Result<u64, String> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    literal::parse_imm(neg, body, ty).map_err(|e| match e.help {
        Some(help) => format!("{} ({help})", e.message),
        None => e.message,
    })
}
