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
    /// Compile with vector groups of this many lanes (4, 8, 16 or 32) instead of the JIT's
    /// choice: the variant that launches whose blocks leave many lanes after the last full
    /// group run (`holovm run` says which group ran).
    #[arg(long, value_parser = parse_group)]
    pub group: Option<u32>,
    /// Compile with a block's partial last group as vector code, its lanes past the block
    /// phantoms: the variant that launches of reductions whose blocks end in a partial
    /// group run (`holovm run` says when it ran).
    #[arg(long)]
    pub partial: bool,
    /// The most instructions a kernel may have to be compiled (a longer one is reported as
    /// left to the interpreter; compile time and memory grow faster than the program past
    /// the default).
    #[arg(long, value_name = "N", default_value_t = holovm::jit::DEFAULT_MAX_INSTS)]
    pub max_insts: usize,
}

/// A vector group's lanes: 4, 8, 16 or 32.
fn parse_group(s: &str) -> Result<u32, String> {
    match s.parse() {
        Ok(g @ (4 | 8 | 16 | 32)) => Ok(g),
        _ => Err(format!("`{s}` is not a vector group: 4, 8, 16 or 32 lanes")),
    }
}

/// Runs `holovm jit-dump`. Without a section flag it prints every section.
pub fn run(args: JitDumpArgs) -> anyhow::Result<()> {
    let program = load_program(&args.file)?;
    let opts = holovm_jit::JitOptions {
        group: args.group.unwrap_or(0),
        partial: args.partial,
        perf_map: args.perf_map,
        max_insts: args.max_insts,
        ..Default::default()
    };
    let dump = Vm::new().jit_dump_options(&program, &opts)?;
    let all = !(args.clif || args.opt_clif || args.asm);
    let mut out = dump.header();
    // `Vm::jit_dump_with` times a second compile, as a launch compiles the program.
    writeln!(
        out,
        "; (compile time of a second compile, without the dump's texts)"
    )?;
    let wanted = [args.clif, args.opt_clif, args.asm];
    for ((title, text), wanted) in dump.sections().into_iter().zip(wanted) {
        if all || wanted {
            writeln!(out, "\n;; {title}")?;
            writeln!(out, "{}", text.unwrap_or("; (not available)"))?;
        }
    }
    if args.perf_map {
        writeln!(out, "; appended to /tmp/perf-{}.map", std::process::id())?;
    }
    super::print_out(&out)?;
    Ok(())
}
