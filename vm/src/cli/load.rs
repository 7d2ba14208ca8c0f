//! Loading a program from a `.hasm` (assembly) or `.hbc` (bytecode) file.

use std::path::Path;

use anyhow::{anyhow, Context};
use holovm::isa::Program;

use super::files::read_bounded;

/// The largest program file read, in bytes. A program has at most `isa::MAX_INSTS` (2^20)
/// instructions, so no valid text or bytecode comes near this; without a cap, `/dev/zero` or
/// a huge file would be read until memory runs out.
pub(crate) const MAX_PROGRAM_FILE_BYTES: u64 = 256 << 20;

/// Reads `path` as bytecode if it starts with the bytecode magic (or is cut short inside
/// it, or is named `.hbc`), else as assembly text. Assembly errors come back rendered with
/// source snippets and carets.
pub fn load_program(path: &Path) -> anyhow::Result<Program> {
    let bytes = read_program_file(path)?;
    let magic = holovm::isa::bytecode::MAGIC;
    let cut_magic = !bytes.is_empty() && magic.starts_with(&bytes);
    let hbc = path.extension().is_some_and(|e| e == "hbc");
    if bytes.starts_with(&magic) || cut_magic || hbc {
        return Program::from_bytes(&bytes)
            .with_context(|| format!("{} is not valid holovm bytecode", path.display()));
    }
    let text =
        String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes(), e.utf8_error()))?;
    holovm::asm::assemble(&text).map_err(|diags| {
        anyhow!(
            "{}{} error(s) in {}",
            diags.render(&path.display().to_string(), &text),
            diags.len(),
            path.display()
        )
    })
}

/// Reads at most [`MAX_PROGRAM_FILE_BYTES`] of `path`, failing beyond that.
fn read_program_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let max = MAX_PROGRAM_FILE_BYTES;
    read_bounded(path, max, max)
        .with_context(|| format!("cannot read {}", path.display()))?
        .ok_or_else(|| {
            anyhow!(
                "{} is larger than {} MiB, the most a program file may be",
                path.display(),
                max >> 20
            )
        })
}

/// The error for a file that is not bytecode and not UTF-8, at its first invalid byte.
fn not_utf8(path: &Path, bytes: &[u8], e: std::str::Utf8Error) -> anyhow::Error {
    let at = e.valid_up_to();
    // The bytes before `at` are valid UTF-8, so lines and columns count characters as the
    // assembler does.
    let before = std::str::from_utf8(bytes.get(..at).unwrap_or_default()).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    let byte = bytes.get(at).copied().unwrap_or_default();
    anyhow!(
        "{}:{line}:{column}: invalid UTF-8 (byte {byte:#04x} at offset {at}): the file is \
         neither bytecode nor UTF-8 assembly text",
        path.display()
    )
}
