//! Prints the JIT dump (strategy, CLIF before/after, disassembly, size, compile time) of a
//! `.hasm` file: `cargo run -p holovm-jit --example jit_dump -- FILE [--scalar] [--group N]`.

use holovm_jit::{compile, JitOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut opts = JitOptions {
        dump: true,
        ..Default::default()
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scalar" => opts.vector = false,
            "--group" => opts.group = args.next().and_then(|s| s.parse().ok()).unwrap_or(8),
            _ => path = Some(a),
        }
    }
    let Some(path) = path else {
        eprintln!("usage: jit_dump FILE.hasm [--scalar] [--group N]");
        std::process::exit(2);
    };
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let program = match holovm_asm::assemble(&src) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{path}: {e:?}");
            std::process::exit(1);
        }
    };
    match compile(&program, &opts) {
        Ok(k) => print!("{}", k.dump()),
        Err(e) => {
            println!("; kernel {}: {e}", program.name());
        }
    }
}
