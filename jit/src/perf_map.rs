//! Entries for `/tmp/perf-<pid>.map`, the file `perf report` reads to name JIT code: one per
//! stretch of a kernel's machine code that implements one ISA instruction
//! (`holovm::gelu pc 7 vector`, `... pc 7 per-lane`), and the kernel's bare name for its own
//! control, so profile samples land on the instruction that took them. The stretches come
//! from the source locations the translation sets (see [`crate::listing`]).

use std::io::Write;

use cranelift_codegen::ir::SourceLoc;
use cranelift_codegen::CompiledCode;

use crate::listing;

/// Appends the entries of `code`, placed at `addr`, for kernel `name` (best effort: a
/// profiler aid must not fail a compile).
pub(crate) fn append(addr: usize, code: &CompiledCode, name: &str) {
    let tags: Vec<(u32, u32, SourceLoc)> = code
        .buffer
        .get_srclocs_sorted()
        .iter()
        .map(|t| (t.start, t.end, t.loc))
        .collect();
    let size = code.code_info().total_size;
    let path = format!("/tmp/perf-{}.map", std::process::id());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let text: String = entries(addr, size, &tags, name).concat();
        let _ = f.write_all(text.as_bytes());
    }
}

/// The map lines (`start size symbol\n`) for code of `size` bytes at `addr` whose tagged
/// ranges (sorted, not overlapping) are `tags`: consecutive ranges of one location are one
/// entry, untagged bytes are the kernel's control.
fn entries(addr: usize, size: u32, tags: &[(u32, u32, SourceLoc)], name: &str) -> Vec<String> {
    let mut spans: Vec<(u32, u32, SourceLoc)> = Vec::new();
    let mut at = 0;
    for &(start, end, loc) in tags {
        let (start, end) = (start.max(at), end.min(size));
        if start >= end {
            continue;
        }
        if at < start {
            spans.push((at, start, SourceLoc::default()));
        }
        spans.push((start, end, loc));
        at = end;
    }
    if at < size {
        spans.push((at, size, SourceLoc::default()));
    }
    let mut merged: Vec<(u32, u32, SourceLoc)> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if last.1 == s.0 && last.2 == s.2 => last.1 = s.1,
            _ => merged.push(s),
        }
    }
    merged
        .into_iter()
        .map(|(start, end, loc)| {
            let symbol = match listing::decode(loc) {
                Some((pc, copy)) => format!("holovm::{name} pc {pc} {copy}"),
                None => format!("holovm::{name}"),
            };
            format!("{:x} {:x} {symbol}\n", addr + start as usize, end - start)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_cover_the_code_once_and_merge_stretches() {
        let v = |pc| listing::loc(pc, false);
        let s = |pc| listing::loc(pc, true);
        let tags = [
            (4, 10, v(2)),
            (10, 16, v(2)),
            (16, 20, s(2)),
            (24, 30, v(3)),
        ];
        let lines = entries(0x1000, 32, &tags, "k");
        assert_eq!(
            lines,
            [
                "1000 4 holovm::k\n",
                "1004 c holovm::k pc 2 vector\n",
                "1010 4 holovm::k pc 2 per-lane\n",
                "1014 4 holovm::k\n",
                "1018 6 holovm::k pc 3 vector\n",
                "101e 2 holovm::k\n",
            ]
        );
        // No tags: one entry for the whole kernel.
        assert_eq!(entries(0x10, 8, &[], "k"), ["10 8 holovm::k\n"]);
    }
}
