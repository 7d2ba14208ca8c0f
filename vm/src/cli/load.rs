//! Loading a program from a `.hasm` (assembly) or `.hbc` (bytecode) file.

use std::path::Path;

use anyhow::{anyhow, Context};
use holovm::isa::Program;

/// Reads `path` as bytecode if it starts with the bytecode magic (or is cut short inside
/// it, or is named `.hbc`), else as assembly text. Assembly errors come back rendered with
/// source snippets and carets.
pub fn load_program(path: &Path) -> anyhow::Result<Program> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let magic = holovm::isa::bytecode::MAGIC;
    let cut_magic = !bytes.is_empty() && magic.starts_with(&bytes);
    let hbc = path.extension().is_some_and(|e| e == "hbc");
    if bytes.starts_with(&magic) || cut_magic || hbc {
        return Program::from_bytes(&bytes)
            .with_context(|| format!("{} is not valid holovm bytecode", path.display()));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow!(
            "{} is neither bytecode nor UTF-8 assembly text",
            path.display()
        )
    })?;
    holovm::asm::assemble(&text).map_err(|diags| {
        anyhow!(
            "{}{} error(s) in {}",
            diags.render(&path.display().to_string(), &text),
            diags.len(),
            path.display()
        )
    })
}
