//! The disassembler: a program back to `.hasm` text that re-assembles to the same program.

use std::collections::BTreeSet;
use std::fmt::Write;

use holovm_isa::{print, ParamKind, Program, ProgramDef};

/// Prints a verified program as assembler text: the `.kernel` header, `.param` lines,
/// `.shared` (when nonzero) and `.launch` (when set), then the instructions indented by four
/// spaces, each branch, loop or call target preceded by a label line `L{index}:`.
///
/// `assemble(&disassemble(&p))` gives back `p`.
///
/// ```
/// use holovm_asm::{assemble, disassemble};
/// let src = "
/// .kernel count
/// .param n: u32
///     mov.u32 r0, n
/// top:
///     loop r0, @top
///     exit
/// ";
/// let p = assemble(src).unwrap();
/// let text = disassemble(&p);
/// assert_eq!(
///     text,
///     ".kernel count\n.param n: u32\n\n    mov.u32 r0, n\nL1:\n    loop r0, @L1\n    exit\n"
/// );
/// assert_eq!(assemble(&text).unwrap(), p);
/// ```
pub fn disassemble(p: &Program) -> String {
    disassemble_def(p.def())
}

/// Like [`disassemble`], for a definition that need not be verified (for inspecting a program
/// that [`Program::new`] rejects). The text of an invalid definition may not assemble.
///
/// ```
/// use holovm_isa::{Inst, ProgramDef};
/// let def = ProgramDef {
///     name: "spin".into(),
///     insts: vec![Inst::Bra { target: 0, guard: None }],
///     ..Default::default()
/// };
/// assert_eq!(holovm_asm::disassemble_def(&def), ".kernel spin\n\nL0:\n    bra @L0\n");
/// ```
pub fn disassemble_def(def: &ProgramDef) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(out, ".kernel {}", def.name);
    for p in &def.params {
        let _ = match p.kind {
            ParamKind::Buffer(ty) => writeln!(out, ".param {}: ptr {ty}", p.name),
            ParamKind::Scalar(ty) => writeln!(out, ".param {}: {ty}", p.name),
        };
    }
    if def.shared_bytes != 0 {
        let _ = writeln!(out, ".shared {}", def.shared_bytes);
    }
    if let Some(l) = def.launch {
        let _ = writeln!(out, ".launch {}, {}", l.grid, l.block);
    }
    out.push('\n');
    let targets: BTreeSet<u32> = def.insts.iter().filter_map(|i| i.target()).collect();
    for (pc, inst) in def.insts.iter().enumerate() {
        if u32::try_from(pc).is_ok_and(|pc| targets.contains(&pc)) {
            let _ = writeln!(out, "L{pc}:");
        }
        out.push_str("    ");
        print::write_inst(&mut out, &def.params, inst);
        out.push('\n');
    }
    out
}
