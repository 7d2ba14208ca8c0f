//! Subcommands of the `holovm` program, one file each.

mod asm_cmd;
mod bench_cmd;
mod data;
mod demo_cmd;
mod files;
mod jit_cmd;
mod load;
mod run_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// holovm: a bytecode VM for a GPU-style SPMD instruction set, with a Cranelift JIT tier.
#[derive(Parser, Debug)]
#[command(name = "holovm", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Assemble a .hasm file into .hbc bytecode.
    Asm {
        /// The assembly source.
        file: PathBuf,
        /// Where to write the bytecode (default: FILE with the extension .hbc).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print the assembly text of a .hbc (or .hasm) file.
    Disasm {
        /// The bytecode (or assembly) file.
        file: PathBuf,
    },
    /// Assemble and verify a file and print a summary of the program.
    Check {
        /// A .hasm or .hbc file.
        file: PathBuf,
    },
    /// Run a kernel on generated or file data and show the results.
    Run(run_cmd::RunArgs),
    /// Show what the JIT makes of a kernel: strategy, CLIF, machine code.
    JitDump(jit_cmd::JitDumpArgs),
    /// Time a kernel in both tiers over a range of sizes.
    Bench(bench_cmd::BenchArgs),
    /// Run every bundled example kernel, check it against Rust, and print a table.
    Demo(demo_cmd::DemoArgs),
}

/// Prints `text` to standard output; a closed pipe (`holovm jit-dump k.hasm | head`) ends
/// the output quietly instead of panicking like `print!`, and any other failure (a full
/// disk) is an error naming standard output.
pub(crate) fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(|e| anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// `println!` through [`print_out`]: an error, not a panic, when standard output fails.
macro_rules! outln {
    () => {
        $crate::cli::print_out("\n")
    };
    ($($arg:tt)*) => {
        $crate::cli::print_out(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Asm { file, output } => asm_cmd::asm(&file, output.as_deref()),
        Command::Disasm { file } => asm_cmd::disasm(&file),
        Command::Check { file } => asm_cmd::check(&file),
        Command::Run(args) => run_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::JitDump(args) => jit_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
    }
}
