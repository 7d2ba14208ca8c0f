//! The `holovm` command-line program: assemble, disassemble, check, run, inspect and benchmark
//! kernels written in the holovm text ISA. Run `holovm --help` for the commands.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_sigpipe();
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

/// Rust programs start with SIGPIPE ignored, so printing to a pipe whose reader has gone
/// (`holovm jit-dump k.hasm | head`) fails, and `println!` panics. With the default
/// disposition the process ends quietly there, as Unix tools do.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: `signal` with `SIG_DFL` installs no handler (no code runs in signal context);
    // it is called first thing in `main`, before any thread exists, and only changes how
    // this process reacts to writing to a closed pipe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}
