//! The `holovm` command-line program: assemble, disassemble, check, run, inspect and benchmark
//! kernels written in the holovm text ISA. Run `holovm --help` for the commands.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Assembler diagnostics are already rendered with their source snippets.
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
