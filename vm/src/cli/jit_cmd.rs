//! `holovm jit-dump`: what the JIT makes of a kernel.

use std::fmt::Write;
use std::path::PathBuf;

use holovm::Vm;

use super::load::load_program;

/// Options of `holovm jit-dump`.
#[derive(clap::Args, Debug)]
pub struct JitDumpArgs {
    /// The kernel: a .hasm or .hbc file.
    pub file: PathBuf,
    /// Print the CLIF before optimisation.
    #[arg(long)]
    pub clif: bool,
    /// Print the CLIF after optimisation.
    #[arg(long)]
    pub opt_clif: bool,
    /// Print the machine code disassembly.
    #[arg(long)]
    pub asm: bool,
    /// Append the kernel to /tmp/perf-<pid>.map, one symbol per ISA instruction (for
    /// `perf report`).
    #[arg(long)]
    pub perf_map: bool,
}

/// Runs `holovm jit-dump`. Without a section flag it prints every section.
pub fn run(args: JitDumpArgs) -> anyhow::Result<()> {
    let program = load_program(&args.file)?;
    let dump = Vm::new().jit_dump_with(&program, args.perf_map)?;
    let all = !(args.clif || args.opt_clif || args.asm);
    let mut out = String::new();
    writeln!(out, "; kernel {}", dump.name)?;
    writeln!(
        out,
        "{}",
        holovm::jit::strategy_lines(&dump.strategy.to_string())
    )?;
    writeln!(out, "; optimiser: {}", dump.optimiser)?;
    writeln!(
        out,
        "; code size: {} bytes (from {} CLIF instructions)",
        dump.code_size, dump.clif_insts
    )?;
    writeln!(
        out,
        "; compile time: {:.3} ms ({}; compiled again without the dump's texts)",
        dump.compile_time.as_secs_f64() * 1e3,
        dump.compile_parts
    )?;
    let locations = holovm::jit::CLIF_LOCATIONS;
    let sections = [
        (
            all || args.clif,
            format!("CLIF before optimisation ({locations})"),
            &dump.clif_before,
        ),
        (
            all || args.opt_clif,
            format!("CLIF after optimisation ({locations})"),
            &dump.clif_after,
        ),
        (all || args.asm, "machine code".to_string(), &dump.disasm),
    ];
    for (wanted, title, text) in sections {
        if wanted {
            writeln!(out, "\n;; {title}")?;
            writeln!(out, "{}", text.as_deref().unwrap_or("; (not available)"))?;
        }
    }
    if args.perf_map {
        writeln!(out, "; appended to /tmp/perf-{}.map", std::process::id())?;
    }
    super::print_out(&out)?;
    Ok(())
}
