//! The machine-code listing of a [`crate::JitDump`]: Cranelift's blocks, each instruction
//! with its offset, and a comment wherever the code starts to implement another ISA
//! instruction, so a reader can find what became of `pc 7` in the vector code and in the
//! per-lane code.
//!
//! The translation tags every CLIF instruction with a source location ([`loc`]): the pc of
//! the ISA instruction it implements, with [`SCALAR`] set in the per-lane copy. Cranelift
//! keeps the tags through its optimiser and reports the code ranges of each; code without a
//! tag is the kernel's own control (the loops over blocks, groups and lanes, bail-outs,
//! barriers, the trap exit).

use std::fmt::Write;

use cranelift_codegen::ir::SourceLoc;
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::CompiledCode;
use holovm_isa::{print, Program};

/// Marks the per-lane (scalar) copy of an instruction in a source location.
pub(crate) const SCALAR: u32 = 1 << 31;

/// The source location of the instruction at `pc` in the vector copy (`scalar == false`)
/// or the per-lane copy of the program.
pub(crate) fn loc(pc: u32, scalar: bool) -> SourceLoc {
    SourceLoc::new(if scalar { pc | SCALAR } else { pc })
}

/// Where a machine instruction comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The ISA instruction at `pc`, in copy `copy` (see [`decode`]).
    Inst { pc: u32, copy: &'static str },
    /// Untagged, between the code of the instructions at two different pcs: Cranelift's
    /// optimiser rewrote or moved it (it drops the location of some instructions it
    /// rebuilds).
    Between(u32, u32),
    /// Untagged elsewhere: the kernel's own control.
    Control,
}

/// The pc and the copy (`vector` or `per-lane`) a location stands for; `None` untagged.
pub(crate) fn decode(loc: SourceLoc) -> Option<(u32, &'static str)> {
    if loc.is_default() {
        return None;
    }
    let bits = loc.bits();
    Some(if bits & SCALAR != 0 {
        (bits & !SCALAR, "per-lane")
    } else {
        (bits, "vector")
    })
}

/// The comment line that introduces code of `origin`.
fn describe(origin: Origin, program: &Program) -> String {
    match origin {
        Origin::Inst { pc, copy } => {
            let text = if pc as usize == program.insts().len() {
                "<end of program>".to_string()
            } else {
                print::inst_text(program.def(), pc as usize)
            };
            format!("; pc {pc} ({copy}): {text}")
        }
        Origin::Between(a, b) => {
            format!("; between pc {a} and pc {b} (rewritten by the optimiser, location lost)")
        }
        Origin::Control => {
            "; control: loops over blocks, groups and lanes, bail-outs, trap exit".into()
        }
    }
}

/// Classifies the instructions of a block by location: an untagged run between two
/// stretches of the same ISA instruction belongs to it (constants and moves placed there);
/// between two different ones it is [`Origin::Between`]; other untagged code is control.
fn attribute(locs: &[SourceLoc]) -> Vec<Origin> {
    let origin = |l: SourceLoc| match decode(l) {
        Some((pc, copy)) => Origin::Inst { pc, copy },
        None => Origin::Control,
    };
    let mut out: Vec<Origin> = locs.iter().map(|&l| origin(l)).collect();
    let mut i = 0;
    while i < locs.len() {
        if !locs[i].is_default() {
            i += 1;
            continue;
        }
        let run = i;
        while i < locs.len() && locs[i].is_default() {
            i += 1;
        }
        if run == 0 || i == locs.len() {
            continue;
        }
        let fill = match (out[run - 1], out[i]) {
            (before, after) if before == after => before,
            (Origin::Inst { pc: a, .. }, Origin::Inst { pc: b, .. }) => Origin::Between(a, b),
            _ => continue,
        };
        out[run..i].fill(fill);
    }
    out
}

/// The listing of `code`, compiled from `program` for `isa`; an error says why capstone
/// could not produce it.
pub(crate) fn listing(
    code: &CompiledCode,
    isa: &dyn TargetIsa,
    program: &Program,
) -> Result<String, String> {
    let mut cs = isa.to_capstone().map_err(|e| e.to_string())?;
    // Skip-data mode: jump tables in the code print as data instead of ending the listing.
    cs.set_skipdata(true).map_err(|e| e.to_string())?;
    let bytes = code.buffer.data();
    let tags = code.buffer.get_srclocs_sorted();
    let mut starts = Vec::with_capacity(code.bb_starts.len() + 2);
    if code.bb_starts.first() != Some(&0) {
        starts.push(0);
    }
    starts.extend_from_slice(&code.bb_starts);
    starts.push(bytes.len() as u32);

    let mut out = String::new();
    let mut current: Option<Origin> = None;
    let mut next_loc = 0;
    for (n, w) in starts.windows(2).enumerate() {
        let (start, end) = (w[0], w[1]);
        let _ = writeln!(out, "block{n}: ; offset {start:#x}");
        let insns = cs
            .disasm_all(&bytes[start as usize..end as usize], start as u64)
            .map_err(|e| e.to_string())?;
        let mut locs = Vec::with_capacity(insns.len());
        let mut texts = Vec::with_capacity(insns.len());
        for i in insns.iter() {
            let at = i.address() as u32;
            while next_loc < tags.len() && tags[next_loc].end <= at {
                next_loc += 1;
            }
            locs.push(match tags.get(next_loc) {
                Some(l) if l.start <= at => l.loc,
                _ => SourceLoc::default(),
            });
            let (m, ops) = (i.mnemonic().unwrap_or("?"), i.op_str().unwrap_or(""));
            texts.push(format!("  {at:5x}  {m} {ops}").trim_end().to_string());
        }
        for (origin, text) in attribute(&locs).into_iter().zip(texts) {
            if current != Some(origin) {
                let _ = writeln!(out, "        {}", describe(origin, program));
                current = Some(origin);
            }
            let _ = writeln!(out, "{text}");
        }
    }
    Ok(out)
}
