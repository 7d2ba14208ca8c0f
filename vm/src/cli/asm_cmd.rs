//! `holovm asm`, `holovm disasm` and `holovm check`.

use std::path::Path;

use anyhow::Context;

use super::load::load_program;
use super::outln;

/// Assembles `file` and writes its bytecode to `output` (default: `file` with `.hbc`).
pub fn asm(file: &Path, output: Option<&Path>) -> anyhow::Result<()> {
    let program = load_program(file)?;
    let out = output.map_or_else(|| file.with_extension("hbc"), Path::to_path_buf);
    if same_file(file, &out) {
        anyhow::bail!(
            "{} is the source file (or a link to it): writing the bytecode there would replace \
             it (pass another -o path)",
            out.display()
        );
    }
    let bytes = program.to_bytes();
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    outln!(
        "{}: {} instructions, {} bytes of bytecode -> {}",
        program.name(),
        program.insts().len(),
        bytes.len(),
        out.display()
    )?;
    Ok(())
}

/// Whether `a` and `b` name one existing file: the same path, a symbolic link to it or a
/// hard link (another name for the same inode).
#[cfg(unix)]
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Whether `a` and `b` name one existing file (the same path once links are resolved; hard
/// links are not detected here).
#[cfg(not(unix))]
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Prints the assembly text of a bytecode (or assembly) file.
pub fn disasm(file: &Path) -> anyhow::Result<()> {
    let program = load_program(file)?;
    super::print_out(&holovm::asm::disassemble(&program))
}

/// Prints a summary of a verified program.
pub fn check(file: &Path) -> anyhow::Result<()> {
    let p = load_program(file)?;
    outln!("kernel        {}", p.name())?;
    outln!("key           {}", p.key())?;
    outln!("instructions  {}", p.insts().len())?;
    // A program that uses no register has no range to show.
    let regs = match p.num_regs() {
        0 => "none".to_string(),
        n => format!("r0..r{} ({n})", n - 1),
    };
    outln!("registers     {regs}, predicates {}", p.num_preds())?;
    outln!("shared bytes  {}", p.shared_bytes())?;
    match p.launch() {
        Some(l) => outln!("launch        grid {} x block {}", l.grid, l.block)?,
        None => outln!("launch        (none declared)")?,
    }
    outln!("parameters    {}", p.params().len())?;
    for (i, param) in p.params().iter().enumerate() {
        let kind = match param.kind {
            holovm::isa::ParamKind::Buffer(t) => format!("ptr {t}"),
            holovm::isa::ParamKind::Scalar(t) => t.to_string(),
        };
        outln!("  {i:>2}  {}: {kind}", param.name)?;
    }
    outln!("ok")?;
    Ok(())
}
