//! The `holovm` program, driven as a user would: every subcommand and its error paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn holovm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holovm"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the holovm binary runs")
}

/// Runs `holovm args`, checks that it fails with exit code 1 and a message containing
/// `want`, and returns its output.
fn fails_with(args: &[&str], want: &str) -> String {
    let o = holovm(args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
    assert!(t.contains(want), "{args:?}: {t}");
    t
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A file path in a temporary directory of its own, removed with the value (a shared
/// directory per test process was left behind in /tmp by every run).
struct Scratch {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = tempfile::Builder::new()
        .prefix("holovm-cli-")
        .tempdir()
        .expect("temp dir");
    let path = dir.path().join(name);
    Scratch { _dir: dir, path }
}

fn kernels() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kernels");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("examples/kernels")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "hasm"))
        .collect();
    v.sort();
    v
}

#[test]
fn asm_disasm_and_check_work_on_every_example() {
    for k in kernels() {
        let name = k
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let hbc = scratch(&format!("{name}.hbc"));
        let o = holovm(&[
            "asm",
            k.to_str().unwrap_or_default(),
            "-o",
            hbc.to_str().unwrap_or_default(),
        ]);
        assert!(o.status.success(), "asm {name}: {}", text(&o));
        let o = holovm(&["disasm", hbc.to_str().unwrap_or_default()]);
        assert!(o.status.success(), "disasm {name}: {}", text(&o));
        let listing = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            listing.starts_with(&format!(".kernel {name}\n")),
            "{listing}"
        );
        // The listing assembles back to the same bytecode.
        let again = holovm::asm::assemble(&listing).expect("listing assembles");
        assert_eq!(again.to_bytes(), std::fs::read(&hbc).expect("hbc written"));
        let o = holovm(&["check", hbc.to_str().unwrap_or_default()]);
        assert!(
            o.status.success() && text(&o).contains("ok"),
            "check {name}: {}",
            text(&o)
        );
    }
}

#[test]
fn syntax_errors_exit_1_with_line_and_column() {
    let bad = scratch("bad.hasm");
    std::fs::write(
        &bad,
        ".kernel k\n    add.f32 r0, r1\n    mov.u32 r0, 5\n    bogus r1\n",
    )
    .unwrap();
    let o = holovm(&["asm", bad.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("bad.hasm:2:5"), "{t}");
    assert!(
        t.contains("bad.hasm:4:5") && t.contains("unknown mnemonic"),
        "{t}"
    );
    assert!(t.contains("^^^"), "a caret under the error: {t}");
}

#[test]
fn missing_file_is_an_error() {
    let o = holovm(&["run", "no/such/kernel.hasm"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("cannot read no/such/kernel.hasm"),
        "{}",
        text(&o)
    );
}

#[test]
fn run_saves_npy_matching_a_rust_reference() {
    let (a, b, c) = (scratch("a.npy"), scratch("b.npy"), scratch("c.npy"));
    let n = 1000usize;
    let av: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let bv: Vec<f32> = (0..n).map(|i| 1.0 / (i as f32 + 1.0)).collect();
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(
        &a,
        holovm::npy::write(holovm::isa::Ty::F32, &[n], &bytes(&av)),
    )
    .unwrap();
    std::fs::write(
        &b,
        holovm::npy::write(holovm::isa::Ty::F32, &[n], &bytes(&bv)),
    )
    .unwrap();
    let arg = |name: &str, p: &Path| format!("{name}={}", p.display());
    let o = holovm(&[
        "run",
        "examples/kernels/vector_add.hasm",
        "-n",
        "1000",
        &arg("a", &a),
        &arg("b", &b),
        "--out",
        &arg("c", &c),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let saved = holovm::npy::read(&std::fs::read(&c).expect("c.npy written")).expect("valid npy");
    assert_eq!(saved.shape, vec![n]);
    let got: Vec<f32> = saved
        .data
        .chunks_exact(4)
        .map(|ch| f32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]))
        .collect();
    let want: Vec<f32> = av.iter().zip(&bv).map(|(x, y)| x + y).collect();
    assert_eq!(got, want);
}

#[test]
fn run_reports_traps_with_the_instruction() {
    // b is shorter than the launch: lane 10 reads past its end.
    let o = holovm(&[
        "run",
        "examples/kernels/vector_add.hasm",
        "-n",
        "100",
        "b=range:10",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains(
            "out of bounds: ldg.f32 r2, [b + %gid*4] at pc 3, block 0, lane 10: byte offset 40 \
             of buffer `b` (length 40 bytes)"
        ),
        "{t}"
    );
}

#[test]
fn run_rejects_bad_arguments() {
    let o = holovm(&[
        "run",
        "examples/kernels/vector_add.hasm",
        "-n",
        "8",
        "z=random",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no parameter `z`"), "{}", text(&o));
    let o = holovm(&["run", "examples/kernels/vector_add.hasm", "-n", "8", "n=-3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("but u32 is unsigned"), "{}", text(&o));
    let o = holovm(&["run", "examples/kernels/matvec.hasm", "m=4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("missing argument `k`"), "{}", text(&o));
    fails_with(
        &["run", "examples/kernels/relu.hasm", "-n", "0"],
        "-n 0: a launch has at least one lane",
    );
    let junk = scratch("junk.npy");
    std::fs::write(&junk, b"definitely not numpy").unwrap();
    let o = holovm(&[
        "run",
        "examples/kernels/relu.hasm",
        "-n",
        "8",
        &format!("x={}", junk.display()),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not a .npy file"), "{}", text(&o));
    let spin = scratch("spin.hasm");
    std::fs::write(&spin, ".kernel spin\n.param o: ptr u32\ntop:\nbra @top\n").unwrap();
    for tier in ["interp", "jit"] {
        let o = holovm(&[
            "run",
            spin.to_str().unwrap(),
            "-n",
            "4",
            "--fuel",
            "1000",
            "--tier",
            tier,
        ]);
        assert_eq!(o.status.code(), Some(1), "{tier}: {}", text(&o));
        assert!(text(&o).contains("out of fuel"), "{tier}: {}", text(&o));
    }
    // Without -n, a scalar `n` is the file's `.launch` lane count.
    let o = holovm(&["run", "examples/kernels/vector_add.hasm"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("c: 1024 x f32"), "{}", text(&o));
    let o = holovm(&["run", "examples/kernels/vector_add.hasm", "--repeat", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // A block of 0 lanes is refused however the shape is given (with -n it ran blocks of 1).
    let va = "examples/kernels/vector_add.hasm";
    let block0 = "block size 0 is not in 1..=1024";
    fails_with(&["run", va, "--block", "0", "-n", "10"], block0);
    fails_with(&["run", va, "--grid", "1", "--block", "0"], block0);
    fails_with(&["bench", va, "-n", "100", "--block", "0"], block0);
    fails_with(
        &["run", va, "-n", "1099511627776"],
        "-n 1099511627776: a launch has at most",
    );
    // A float argument past its type's range is an error, as in the assembler.
    let relu = "examples/kernels/relu.hasm";
    fails_with(
        &["run", relu, "-n", "8", "x=fill:1e40"],
        "`1e40` is out of range for f32",
    );
    // A failing bench launch says which size and tier.
    let bench = ["bench", relu, "-n", "10", "--repeat", "1", "n=20"];
    fails_with(&bench, "n = 10, interpreter: out of bounds");
    // A device that never ends is read up to a bound, not until memory runs out.
    if Path::new("/dev/zero").exists() {
        fails_with(
            &["run", relu, "-n", "8", "x=raw:/dev/zero"],
            "not a regular file",
        );
    }
    // Outputs: one file per buffer, names that are files; errors in a buffer spec, a pool
    // spec or the default `n` say which argument; all before the run.
    // (The guards keep the scratch directories until the end of the test.)
    let (same, dir) = (scratch("same.npy"), scratch("an_out_dir"));
    std::fs::create_dir_all(&dir).unwrap();
    let out_c = format!("--out=c={}", same.display());
    let out_a = format!("--out=a={}", same.display());
    let out_dir = format!("--out=c={}", dir.display());
    for (extra, want) in [
        (&[out_c.as_str(), out_a.as_str()][..], "`c` is saved to"),
        (&[out_dir.as_str()], "is not a file name"),
        (&["a=range:-1"], "argument `a`"),
        (&["--pool=0=random:200000000"], "a class holds at most"),
        (&["--pool=0=fill:abc"], "--pool 0=fill:abc"),
    ] {
        let t = fails_with(&[&["run", va, "-n", "8"][..], extra].concat(), want);
        assert!(!t.contains("time"), "ran first: {t}");
    }
    // Arguments used after the run are checked before it.
    for (arg, want) in [
        ("--out=q=x.npy", "`q` is not a buffer parameter"),
        ("--out=c=/nonexistent-dir/x.npy", "does not exist"),
        ("--show-pool=200", "pool classes are 0..96"),
    ] {
        let o = holovm(&["run", "examples/kernels/vector_add.hasm", "-n", "8", arg]);
        assert_eq!(o.status.code(), Some(1), "{arg}");
        let t = text(&o);
        assert!(t.contains(want) && !t.contains("time"), "{arg}: {t}");
    }
}

#[test]
fn run_uses_the_pool() {
    let o = holovm(&[
        "run",
        "examples/kernels/phi_scale.hasm",
        "--pool",
        "0=range",
        "--pool",
        "2=fill:2.0:1",
        "--show-pool",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // class 1 = class 0 * 2.0 + 0.0 (the offset slot was left zero)
    assert!(
        text(&o).contains("pool class 1 (f32): [0, 2, 4, 6, 8, 10, ..., 6142]"),
        "{}",
        text(&o)
    );
}

#[test]
fn demo_checks_every_kernel() {
    let o = holovm(&["demo", "--shrink", "64"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for k in kernels() {
        let name = k
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        assert!(t.contains(&name), "{name} missing from the demo table: {t}");
    }
    assert!(!t.contains("FAIL"), "{t}");
}

#[test]
fn run_in_every_tier_gives_the_same_output() {
    let mut outputs = Vec::new();
    for tier in ["interp", "jit", "auto"] {
        let out = scratch(&format!("gelu-{tier}.npy"));
        let o = holovm(&[
            "run",
            "examples/kernels/gelu.hasm",
            "-n",
            "1000",
            "--tier",
            tier,
            "--out",
            &format!("y={}", out.display()),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        if tier == "jit" {
            assert!(text(&o).contains("tier: jit"), "{}", text(&o));
        }
        outputs.push(std::fs::read(&out).expect("output written"));
    }
    assert_eq!(outputs[0], outputs[1], "interpreter and JIT differ");
    assert_eq!(outputs[0], outputs[2]);
}

/// `--tier auto` interprets the first launches and, once the kernel is hot, runs the code
/// compiled in the background: the output says how many launches ran in each tier.
#[test]
fn auto_tier_moves_to_compiled_code_when_hot() {
    let out = scratch("gelu-auto-hot.npy");
    let args = |tier: &str, repeat: &str| {
        let o = holovm(&[
            "run",
            "examples/kernels/gelu.hasm",
            "-n",
            "3000",
            "--tier",
            tier,
            "--jit-threshold",
            "0",
            "--repeat",
            repeat,
            "--out",
            &format!("y={}", out.display()),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        (text(&o), std::fs::read(&out).expect("output written"))
    };
    let (interp_text, interp_out) = args("interp", "1");
    assert!(interp_text.contains("tier: interpreter"), "{interp_text}");
    // The first launch is interpreted (nothing is compiled yet) and makes the kernel hot; the
    // background compile takes milliseconds, the 3000 launches far longer (about 20 ms in a
    // release build, where a launch takes 6-7 us).
    let (t, auto_out) = args("auto", "3000");
    let ran = t
        .lines()
        .find(|l| l.contains("tier: jit (compiled code);"))
        .unwrap_or_else(|| panic!("no launch ran compiled code: {t}"));
    let interpreted: u32 = ran
        .split("; ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of interpreted launches: {ran}"));
    assert!((1..3000).contains(&interpreted), "{ran}");
    assert_eq!(interp_out, auto_out, "interpreter and JIT differ");
}

#[test]
fn jit_dump_shows_strategy_clif_and_machine_code() {
    let o = holovm(&["jit-dump", "examples/kernels/vector_add.hasm"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for needle in [
        "; strategy: vector",
        "CLIF before optimisation",
        "CLIF after optimisation",
        "machine code",
        "compile time",
        "kernel function",
        "without the dump's texts",
        // The listing says which ISA instruction each stretch of machine code implements.
        "; pc 2 (vector): ldg.f32 r1, [a + %gid*4]",
        "; pc 5 (per-lane): stg.f32 [c + %gid*4], r3",
        "@8000000",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in {t}");
    }
    let o = holovm(&["jit-dump", "examples/kernels/sum.hasm", "--asm"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !text(&o).contains("CLIF before"),
        "only the asked-for section"
    );
    // A variant with narrower groups, as `jit-dump` shows it and `run` reports it: blocks
    // of 12 lanes run softmax_rows in groups of 4 (8 leave a third of the lanes in per-lane
    // code); sum runs blocks of 40 with groups of 32, the last one partial.
    let o = holovm(&["jit-dump", "examples/kernels/sum.hasm", "--group", "8"]);
    assert!(text(&o).contains("groups of 8 lanes"), "{}", text(&o));
    // And the variant that runs blocks' partial last groups as vector code.
    let o = holovm(&[
        "jit-dump",
        "examples/kernels/sum.hasm",
        "--partial",
        "--asm",
    ]);
    assert!(
        text(&o).contains("last group runs as vector code with phantom lanes"),
        "{}",
        text(&o)
    );
    let softmax = ["cols=12", "x=random:12", "y=zeros:12"];
    for (kernel, block, group, data) in [
        ("sum", "256", "32", &[][..]),
        ("sum", "40", "32", &[][..]),
        ("softmax_rows", "12", "4", &softmax[..]),
    ] {
        let file = format!("examples/kernels/{kernel}.hasm");
        let args = [
            "run", &file, "--tier", "jit", "--grid", "1", "--block", block,
        ];
        let o = holovm(&[&args[..], data].concat());
        let want = format!("vector groups of {group} lanes");
        assert!(text(&o).contains(&want), "{kernel} {block}: {}", text(&o));
        let partial = text(&o).contains("partial last group too");
        assert_eq!(partial, block == "40", "{kernel} {block}: {}", text(&o));
    }
    let o = holovm(&["jit-dump", "examples/kernels/sum.hasm", "--group", "5"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("4, 8, 16 or 32"), "{}", text(&o));
    // vector_add has 7 instructions: past the limit it is left to the interpreter.
    let va = "examples/kernels/vector_add.hasm";
    fails_with(
        &["jit-dump", va, "--max-insts", "6"],
        "the program has 7 instructions, more than the JIT compiles (6:",
    );
    let o = holovm(&[
        "run",
        va,
        "--tier",
        "jit",
        "-n",
        "9",
        "--jit-max-insts",
        "6",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("tier: interpreter"), "{}", text(&o));
    assert!(text(&o).contains("has 7 instructions"), "{}", text(&o));
    assert!(!text(&o).contains("includes compiling"), "{}", text(&o));
}

#[test]
fn bench_prints_a_table_for_both_tiers() {
    let o = holovm(&[
        "bench",
        "examples/kernels/relu.hasm",
        "-n",
        "100,1000",
        "--repeat",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        t.contains("interpreter") && t.contains("jit") && t.contains("speedup"),
        "{t}"
    );
    let rows: Vec<&str> = t
        .lines()
        .filter(|l| l.trim_start().starts_with("100"))
        .collect();
    assert_eq!(rows.len(), 2, "one row per size: {t}");
}

#[test]
fn run_with_perf_map_names_the_kernel_code_per_instruction() {
    let child = Command::new(env!("CARGO_BIN_EXE_holovm"))
        .args([
            "run",
            "examples/kernels/vector_add.hasm",
            "-n",
            "1000",
            "--tier",
            "jit",
            "--perf-map",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the holovm binary runs");
    let path = format!("/tmp/perf-{}.map", child.id());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let map = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    assert!(
        map.lines()
            .any(|l| l.ends_with(" holovm::vector_add pc 2 vector")),
        "{map}"
    );
}

/// A reader that stops early (`holovm run ... | head -1`) ends the program quietly, without a
/// panic about the broken pipe.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_holovm"))
        .args(["run", "examples/kernels/vector_add.hasm", "-n", "1000"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the holovm binary runs");
    // Close the pipe's reading end before the program (still assembling) prints anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("holovm ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn corrupt_bytecode_is_an_error_naming_the_file_and_byte() {
    let hbc = scratch("corrupt.hbc");
    let hbc_s = hbc.to_str().expect("utf-8 path");
    let o = holovm(&["asm", "examples/kernels/vector_add.hasm", "-o", hbc_s]);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = std::fs::read(&hbc).expect("bytecode written");
    std::fs::write(&hbc, &bytes[..50]).expect("truncate");
    for cmd in ["run", "check", "jit-dump"] {
        let o = holovm(&[cmd, hbc_s]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains("corrupt.hbc is not valid holovm bytecode")
                && t.contains("truncated bytecode")
                && t.contains("at byte 50"),
            "{cmd}: {t}"
        );
        assert!(!t.contains("panicked"), "{cmd}: {t}");
    }
    // Cut inside the magic: still bytecode, not assembly text.
    std::fs::write(&hbc, &bytes[..3]).expect("truncate");
    let t = text(&holovm(&["check", hbc_s]));
    assert!(t.contains("the magic starting at byte 0 is cut off"), "{t}");
}

#[test]
fn asm_keeps_its_source_and_a_full_stdout_is_an_error() {
    let src = scratch("keep.hasm");
    std::fs::copy("examples/kernels/relu.hasm", &src).unwrap();
    let path = src.to_str().unwrap();
    let o = holovm(&["asm", path, "-o", path]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is the source file"), "{}", text(&o));
    let kept = std::fs::read_to_string(&src).unwrap();
    assert!(kept.contains(".kernel relu"), "{kept}");
    // Standard output that cannot take the text: an error, not a panic.
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let o = Command::new(env!("CARGO_BIN_EXE_holovm"))
            .args(["check", "examples/kernels/relu.hasm"])
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains("cannot write to standard output"),
            "{}",
            text(&o)
        );
    }
}

#[cfg(unix)]
#[test]
fn asm_keeps_its_source_under_a_hard_link() {
    let src = scratch("keep.hasm");
    std::fs::copy("examples/kernels/relu.hasm", &src).unwrap();
    // Another name for the same file, in the same directory.
    let out = src.with_file_name("keep.hbc");
    std::fs::hard_link(&src, &out).unwrap();
    fails_with(
        &["asm", src.to_str().unwrap(), "-o", out.to_str().unwrap()],
        "is the source file",
    );
    let kept = std::fs::read_to_string(&src).unwrap();
    assert!(kept.contains(".kernel relu"), "{kept}");
}

#[test]
fn check_of_a_program_without_registers() {
    let src = scratch("noregs.hasm");
    std::fs::write(&src, ".kernel k\n    exit\n").unwrap();
    let o = holovm(&["check", src.to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("registers     none, predicates 0"), "{t}");
    assert!(!t.contains("r0..r0"), "{t}");
    // One register: r0..r0 (1).
    std::fs::write(&src, ".kernel k\n    mov.u32 r0, 1\n    exit\n").unwrap();
    let t = text(&holovm(&["check", src.to_str().unwrap()]));
    assert!(t.contains("registers     r0..r0 (1), predicates 0"), "{t}");
}

#[test]
fn non_utf8_assembly_names_the_first_bad_byte() {
    let src = scratch("latin1.hasm");
    std::fs::write(&src, b".kernel k\n    mov\xe9.u32 r0, 1\n    exit\n").unwrap();
    let path = src.to_str().unwrap();
    fails_with(
        &["check", path],
        &format!("{path}:2:8: invalid UTF-8 (byte 0xe9 at offset 17)"),
    );
}

#[test]
fn program_files_have_a_size_limit() {
    // A sparse regular file over the limit: refused from its size, without reading it.
    let big = scratch("big.hasm");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len((256 << 20) + 1).unwrap();
    let path = big.to_str().unwrap();
    fails_with(
        &["check", path],
        &format!("{path} is larger than 256 MiB, the most a program file may be"),
    );
    // A device with no end: read up to the limit, not until memory runs out.
    if Path::new("/dev/zero").exists() {
        fails_with(
            &["check", "/dev/zero"],
            "/dev/zero is larger than 256 MiB, the most a program file may be",
        );
    }
}
