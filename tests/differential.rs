//! Interpreter against JIT through `Vm::launch`: random valid programs (straight-line
//! arithmetic, loops, divergent branches, calls, barriers, in- and out-of-bounds memory
//! accesses) must give the same trap, or the same buffers and pool, in both tiers.

mod common;

use common::canonical_nan;
use holovm::isa::arbitrary::{lanes_may_share_memory, program_def_with};
use holovm::isa::{ParamKind, Program, Ty, POOL_CLASSES};
use holovm::{Arg, Error, LaunchConfig, Tier, Vm, VmConfig};
use proptest::prelude::*;

/// What a launch left behind: the trap, or every buffer and the pool.
#[derive(Debug, PartialEq)]
enum Outcome {
    Trap(Box<holovm::Trap>),
    Memory(Vec<Vec<u64>>, Vec<u8>),
}

fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn run(tier: Tier, p: &Program, cfg: LaunchConfig, seed: u64) -> Outcome {
    let vm = Vm::with_config(
        VmConfig::default()
            .tier(tier)
            .fuel(300)
            .parallel_threshold(0)
            .parallel_min_time(std::time::Duration::ZERO),
    );
    let mut s = seed | 1;
    let mut pool = vec![0u8; holovm::isa::POOL_CLASS_BYTES as usize];
    for class in 0..POOL_CLASSES {
        pool.iter_mut().for_each(|b| *b = next(&mut s) as u8);
        vm.write_pool(class, &pool).expect("pool class");
    }
    let mut bufs = Vec::new();
    let args: Vec<Arg> = p
        .params()
        .iter()
        .map(|prm| match prm.kind {
            ParamKind::Buffer(ty) => {
                let buf = vm.alloc_any(ty, 64).expect("alloc");
                let bytes: Vec<u8> = (0..buf.bytes()).map(|_| next(&mut s) as u8).collect();
                vm.write_bytes(&buf, &bytes).expect("write");
                bufs.push(buf);
                Arg::Buffer(buf)
            }
            ParamKind::Scalar(ty) => {
                // Small values most of the time, so loops and indices stay in range.
                let v = if next(&mut s).is_multiple_of(4) {
                    next(&mut s)
                } else {
                    next(&mut s) % 40
                };
                let bits = match ty {
                    Ty::F32 => (v as f32).to_bits() as u64,
                    Ty::F64 => (v as f64).to_bits(),
                    _ => ty.canon(v),
                };
                Arg::Scalar { ty, bits }
            }
        })
        .collect();
    let result = vm.launch(p, cfg, &args);
    // Tier::Jit falls back to the interpreter when a compile fails: that would make this an
    // interpreter-vs-interpreter comparison.
    common::check_compiled(&vm, p);
    match result {
        Err(Error::Trap(t)) => Outcome::Trap(t),
        Err(e) => panic!("launch error {e}"),
        Ok(s) => {
            if s.lanes > 0 && s.jit != (tier == Tier::Jit) {
                panic!("ran in the wrong tier:\n{}", holovm::asm::disassemble(p));
            }
            let memory = bufs
                .iter()
                .map(|b| {
                    let size = b.ty().size() as usize;
                    vm.read_bytes(b)
                        .expect("read")
                        .chunks(size)
                        .map(|c| {
                            let mut w = [0u8; 8];
                            w[..size].copy_from_slice(c);
                            canonical_nan(b.ty(), u64::from_le_bytes(w))
                        })
                        .collect()
                })
                .collect();
            let pool = (0..POOL_CLASSES)
                .flat_map(|c| vm.read_pool::<u8>(c).expect("pool"))
                .collect();
            Outcome::Memory(memory, pool)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn interpreter_and_jit_agree(def in program_def_with(32), seed in any::<u64>(), shape in 0usize..7) {
        let Ok(p) = Program::new(def) else { return Ok(()) };
        // Lanes that exchange data through memory may see each other's accesses in any
        // order (docs/ISA.md): such programs run on one lane.
        let shape = if lanes_may_share_memory(p.insts()) { 0 } else { shape };
        let cfg = [LaunchConfig::new(1, 1), LaunchConfig::new(2, 13), LaunchConfig::new(1, 40), LaunchConfig::new(3, 8), LaunchConfig::new(6, 5), LaunchConfig::new(1, 45), LaunchConfig::new(2, 30)][shape];
        let interp = run(Tier::Interpret, &p, cfg, seed);
        let jit = run(Tier::Jit, &p, cfg, seed);
        prop_assert_eq!(interp, jit, "{}", holovm::asm::disassemble(&p));
    }
}

/// A structured random kernel (assembly source): loads at `%gid`, random arithmetic,
/// comparisons and selects, divergent branches on the lane and on per-lane data (`if` around
/// a division, `if`/`else`, an `if` nested in an `if`/`else`, `if`/`else`s storing on both
/// sides), uniform loops, loops with per-lane trip counts, lane-affine
/// indices that may run out of bounds, row/column splits, gathers and scatters (either may
/// run out of bounds), an optional block-wide `reduce`, and a store. Unlike
/// the byte-level generator above, most of these run to completion, so the tiers' results
/// (not only their traps) are compared.
fn structured_kernel(seed: u64) -> String {
    let mut s = seed | 1;
    let mut pick = |n: u64| next(&mut s) % n;
    let types = [
        "i32", "u32", "i64", "u64", "f32", "f64", "i8", "u8", "i16", "u16",
    ];
    let t = types[pick(types.len() as u64) as usize];
    let float = t.starts_with('f');
    let size = match &t[1..] {
        "8" => 1,
        "16" => 2,
        "32" => 4,
        _ => 8,
    };
    let imm = |v: u64| {
        if float {
            format!("{}.5", v)
        } else {
            v.to_string()
        }
    };
    let mut src = format!(
        ".kernel structured\n.param x: ptr {t}\n.param y: ptr {t}\n.param out: ptr {t}\n\
         .param k: u32\n.param s: {t}\n.param z: ptr {t}\n.param w: ptr {t}\n\
         ldg.{t} r1, [x + %gid*{size}]\nldg.{t} r2, [y + %gid*{size}]\nmov.{t} r3, s\n\
         add.u32 r11, %gid, k\n"
    );
    let reg = |p: &mut dyn FnMut(u64) -> u64| format!("r{}", 1 + p(4));
    let mut label = 0;
    let mut reduced = false;
    let (scatter_mul, scatter_mask) = (1 + 2 * pick(20), [63, 63, 63, 127][pick(4) as usize]);
    for _ in 0..3 + pick(8) {
        if pick(6) == 0 {
            // A block-wide barrier: the JIT's vector groups park whole at it, keeping their
            // uniform and lane-affine registers (r3, r11, loop counters) in their first
            // lane's slots (jit/src/parked.rs); half the time with a lane-affine predicate
            // live across it, whose pair they keep too.
            if pick(2) == 0 {
                src.push_str("    bar.sync\n");
            } else {
                label += 1;
                let (d, a) = (reg(&mut pick), reg(&mut pick));
                let cmp = ["lt", "ge", "le", "gt"][pick(4) as usize];
                src.push_str(&format!(
                    "    setp.{cmp}.u32 p7, %lane, {}\n    bar.sync\n    @p7 bra @L{label}\n    \
                     add.{t} {d}, {d}, {a}\nL{label}:\n",
                    pick(40)
                ));
            }
        }
        if !reduced && pick(6) == 0 {
            // A block-wide reduction: later instructions run in a second phase.
            reduced = true;
            let op = ["add", "min", "max"][pick(3) as usize];
            src.push_str(&format!("    reduce.{op}.{t} r4, r{}\n", 1 + pick(4)));
        }
        let (d, a, b) = (reg(&mut pick), reg(&mut pick), reg(&mut pick));
        let op = match pick(16) {
            0 => format!("add.{t} {d}, {a}, {b}"),
            1 => format!("sub.{t} {d}, {a}, {}", imm(pick(5))),
            2 => format!("mul.{t} {d}, {a}, {b}"),
            3 => format!("min.{t} {d}, {a}, {b}"),
            4 => format!("max.{t} {d}, {a}, {b}"),
            5 if float => format!(
                "{} {d}, {a}",
                ["tanh.", "exp.", "sqrt.", "neg."][pick(4) as usize].to_string() + t
            ),
            5 => format!("div.{t} {d}, {a}, {b}"),
            6 => {
                let cmp = ["eq", "ne", "lt", "le", "gt", "ge"][pick(6) as usize];
                format!("setp.{cmp}.{t} p0, {a}, {b}\n    sel.{t} {d}, p0, {a}, {b}")
            }
            7 => {
                label += 1;
                let cmp = ["lt", "ge"][pick(2) as usize];
                // Sometimes with a barrier that only some lanes reach (the others pass it
                // by, to a later barrier or the exit), or one that the lane-affine p1 is
                // live across (the JIT keeps its pair for groups parked whole).
                let (across, inside) = match pick(6) {
                    0 => ("", "bar.sync\n    "),
                    1 => ("bar.sync\n    ", ""),
                    _ => ("", ""),
                };
                format!(
                    "setp.{cmp}.u32 p1, %lane, {}\n    {across}@p1 bra @L{label}\n    {inside}add.{t} {d}, {a}, {b}\nL{label}:",
                    pick(20)
                )
            }
            8 => {
                // An if/else on per-lane data or on the lane index (run under lane masks by
                // the JIT), its taken side sometimes a division or a transcendental (code
                // the JIT tests for lanes before running it).
                label += 1;
                let guard = match pick(2) {
                    0 => format!(
                        "setp.{}.{t} p1, {a}, {b}",
                        ["lt", "ge", "ne"][pick(3) as usize]
                    ),
                    _ => format!(
                        "setp.{}.u32 p1, %lane, {}",
                        ["lt", "ge", "eq"][pick(3) as usize],
                        pick(20)
                    ),
                };
                let taken = match pick(3) {
                    0 if float => format!("tanh.{t} {d}, {d}"),
                    0 => format!("div.{t} {d}, {a}, {b}"),
                    _ => format!("mul.{t} {d}, {d}, {}", imm(pick(4))),
                };
                format!(
                    "{guard}\n    @p1 bra @E{label}\n    add.{t} {d}, {a}, {b}\n    \
                     bra @L{label}\nE{label}:\n    {taken}\nL{label}:"
                )
            }
            10 => {
                // An if nested in an if/else on per-lane data.
                label += 1;
                format!(
                    "setp.lt.{t} p4, {a}, {b}\n    @p4 bra @E{label}\n    setp.gt.{t} p5, {b}, {}\n    \
                     @!p5 bra @F{label}\n    add.{t} {d}, {a}, {b}\nF{label}:\n    bra @L{label}\n\
                     E{label}:\n    sub.{t} {d}, {a}, {}\nL{label}:",
                    imm(pick(6)),
                    imm(pick(3))
                )
            }
            9 => {
                // An if on per-lane data around a division (by zero in some lanes).
                label += 1;
                let cmp = ["lt", "gt"][pick(2) as usize];
                format!(
                    "setp.{cmp}.{t} p1, {a}, {}\n    @!p1 bra @L{label}\n    div.{t} {d}, {a}, {b}\nL{label}:",
                    imm(pick(6))
                )
            }
            11 => {
                // An if/else on per-lane data whose sides both update w (which only this
                // reads and writes), one after reading it, the other after a lane-affine load
                // that may run out of bounds and reading what the first side wrote: the
                // JIT's masked stores wait for the join, and its masked first side keeps
                // the other side's registers.
                label += 1;
                format!(
                    "setp.lt.{t} p1, {a}, {b}\n    @p1 bra @E{label}\n    \
                     ldg.{t} {d}, [w + %gid*{size}]\n    add.{t} {d}, {d}, {a}\n    \
                     stg.{t} [w + %gid*{size}], {d}\n    bra @L{label}\nE{label}:\n    \
                     add.{t} r6, {d}, {b}\n    ldg.{t} {d}, [x + r11*{size}]\n    \
                     add.{t} {d}, {d}, r6\n    stg.{t} [w + %gid*{size}], {d}\nL{label}:"
                )
            }
            12 => {
                // An if/else on per-lane data that stores to w[gid] on each side (one
                // vector store of both sides' values in the JIT).
                label += 1;
                format!(
                    "setp.ge.{t} p1, {a}, {b}\n    @p1 bra @E{label}\n    mul.{t} {d}, {a}, {}\n    \
                     stg.{t} [w + %gid*{size}], {d}\n    bra @L{label}\nE{label}:\n    \
                     stg.{t} [w + %gid*{size}], {b}\nL{label}:",
                    imm(pick(4))
                )
            }
            13 | 14 => {
                // A loop whose trip count differs per lane (0 .. m - 1), a `while` or a
                // `do`-`while` (run under lane masks by the JIT); with m = 350 some lanes run
                // out of fuel (300) in it, and lanes that left early keep theirs for later.
                label += 1;
                let m = match pick(8) {
                    0 => 350,
                    c => [4, 9, 17, 30][c as usize % 4],
                };
                let body = match pick(5) {
                    0 => format!("add.{t} {d}, {d}, {a}"),
                    // A gather by the loop counter (x holds 256 bytes: long loops run out).
                    4 => format!("ldg.{t} {d}, [x + r17*{size}]\n    add.{t} {d}, {d}, {a}"),
                    1 => format!("mul.{t} {d}, {d}, {}", imm(pick(3))),
                    2 => format!("max.{t} {d}, {d}, {a}"),
                    _ => format!(
                        "sub.{t} {d}, {d}, {}\n    sel.{t} {a}, p6, {a}, {d}",
                        imm(1)
                    ),
                };
                let count = format!(
                    "mul.u32 r16, %gid, {}\n    rem.u32 r16, r16, {m}\n    mov_imm.u32 r17, 0",
                    1 + 2 * pick(20)
                );
                if pick(2) == 0 {
                    format!(
                        "{count}\nL{label}:\n    setp.ge.u32 p6, r17, r16\n    @p6 bra @E{label}\n    \
                         {body}\n    add.u32 r17, r17, 1\n    bra @L{label}\nE{label}:"
                    )
                } else {
                    let (cmp, guard) = [("lt", "p6"), ("ge", "!p6")][pick(2) as usize];
                    format!(
                        "{count}\nL{label}:\n    {body}\n    add.u32 r17, r17, 1\n    \
                         setp.{cmp}.u32 p6, r17, r16\n    @{guard} bra @L{label}"
                    )
                }
            }
            _ => {
                label += 1;
                format!(
                    "mov_imm.u32 r20, {}\nL{label}:\n    fma.{t} {d}, {a}, {b}, {d}\n    add.u32 r11, r11, 1\n    loop r20, @L{label}",
                    1 + pick(4)
                )
            }
        };
        src.push_str(&format!("    {op}\n"));
        if pick(6) == 0 {
            // A row/column split by k (0 traps) of %gid or of the lane-affine r11: the row is
            // uniform in a group that does not straddle a multiple of k, the column
            // lane-affine.
            label += 1;
            let of = ["%gid", "r11"][pick(2) as usize];
            src.push_str(&format!(
                "    div.u32 r12, {of}, k\n    rem.u32 r13, {of}, k\n    add.u32 r13, r13, r12\n    \
                 setp.lt.u32 p3, r13, 60\n    @!p3 bra @L{label}\n    ldg.{t} {d}, [y + r13*{size}]\n\
                 L{label}:\n"
            ));
        }
        if pick(6) == 0 {
            // A gather: a per-lane index that is not affine in the lane (x holds 64
            // elements: some lanes may read out of bounds).
            src.push_str(&format!(
                "    mul.u32 r14, %gid, {}\n    rem.u32 r14, r14, {}\n    ldg.{t} {d}, [x + r14*{size}]\n",
                3 + pick(9),
                40 + pick(28)
            ));
        }
        if pick(6) == 0 {
            // A scatter to z (64 elements), which nothing reads: distinct lanes write
            // distinct elements (the program's odd multiplier permutes 0..64 or 0..128),
            // and a mask of 127 lets some lanes write out of bounds.
            src.push_str(&format!(
                "    mul.u32 r15, %gid, {scatter_mul}\n    and.u32 r15, r15, {scatter_mask}\n    \
                 stg.{t} [z + r15*{size}], {a}\n"
            ));
        }
        if pick(6) == 0 {
            // A lane-affine index that may be out of bounds for the highest lanes.
            label += 1;
            src.push_str(&format!(
                "    setp.lt.u32 p2, r11, {}\n    @!p2 bra @L{label}\n    ldg.{t} {d}, [x + r11*{size}]\nL{label}:\n",
                40 + pick(40)
            ));
        }
    }
    if !reduced && pick(4) == 0 {
        let op = ["add", "min", "max"][pick(3) as usize];
        src.push_str(&format!("    reduce.{op}.{t} r4, r1\n"));
    }
    src.push_str(&format!(
        "    stg.{t} [out + %gid*{size}], r{}\n    exit\n",
        1 + pick(4)
    ));
    src
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn structured_kernels_agree(seed in any::<u64>(), shape in 0usize..9) {
        tiers_agree(&structured_kernel(seed), seed, shape)?;
    }
}

/// Runs the kernel `src` in both tiers on `seed`'s data, in launch shape `shape` (0..9; a
/// block of 64 lanes is whole vector groups of 8, 16 or 32 lanes; blocks of 13, 8 and 5
/// lanes are smaller than a group, which a kernel that runs blocks in runs spans; blocks of
/// 45 and 60 lanes end in a partial group, and two blocks of 30 are one each, which a
/// kernel may run as vector code with phantom lanes (the first block's read the second's
/// lanes' data); the buffers have 64 elements), and compares.
fn tiers_agree(src: &str, seed: u64, shape: usize) -> Result<(), TestCaseError> {
    let p = match holovm::asm::assemble(src) {
        Ok(p) => p,
        Err(e) => return Err(TestCaseError::fail(format!("{e:?}\n{src}"))),
    };
    let cfg = [
        LaunchConfig::new(1, 1),
        LaunchConfig::new(2, 13),
        LaunchConfig::new(1, 40),
        LaunchConfig::new(3, 8),
        LaunchConfig::new(1, 64),
        LaunchConfig::new(6, 5),
        LaunchConfig::new(1, 45),
        LaunchConfig::new(1, 60),
        LaunchConfig::new(2, 30),
    ][shape];
    let interp = run(Tier::Interpret, &p, cfg, seed);
    let jit = run(Tier::Jit, &p, cfg, seed);
    prop_assert_eq!(interp, jit, "{}", src);
    Ok(())
}

/// A random kernel whose lane-divergent `if`s write a uniform register (from a load at a
/// fixed address and the uniform parameter), which is read after the join (its old value
/// must survive in the lanes that skipped) or not (the JIT's masked code then writes it in
/// every lane), with barriers and a `reduce` between them.
fn masked_uniform_kernel(seed: u64) -> String {
    let mut s = seed | 1;
    let mut pick = |n: u64| next(&mut s) % n;
    let t = ["i32", "u32", "i64", "u64", "f32", "f64"][pick(6) as usize];
    let size = if t.ends_with("32") { 4 } else { 8 };
    let mut src = format!(
        ".kernel mu\n.param x: ptr {t}\n.param out: ptr {t}\n.param s: {t}\n.param w: ptr {t}\n\
         ldg.{t} r1, [x + %gid*{size}]\nmov.{t} r21, s\n"
    );
    for label in 0..1 + pick(4) {
        let cmp = ["lt", "ge", "ne", "eq"][pick(4) as usize];
        let (c, at) = (pick(40), size * pick(64));
        let op = ["add", "mul", "max"][pick(3) as usize];
        // Each `if` stores to its own element of w (in every block): lanes of different
        // `if`s storing to one place without a barrier between them would race.
        src.push_str(&format!(
            "    mul.u32 r22, %block, 4\n    add.u32 r22, r22, {label}\n    \
             setp.{cmp}.u32 p1, %lane, {c}\n    @p1 bra @L{label}\n    \
             ldg.{t} r21, [x + {at}]\n    {op}.{t} r21, r21, s\n    \
             stg.{t} [w + r22*{size}], r21\nL{label}:\n"
        ));
        match pick(5) {
            0 => src.push_str(&format!("    add.{t} r1, r1, r21\n")),
            1 => src.push_str("    bar.sync\n"),
            2 => src.push_str(&format!("    bar.sync\n    add.{t} r1, r1, r21\n")),
            3 => src.push_str(&format!(
                "    reduce.add.{t} r2, r1\n    add.{t} r1, r1, r2\n"
            )),
            _ => {}
        }
    }
    src.push_str(&format!("    stg.{t} [out + %gid*{size}], r1\n    exit\n"));
    src
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn masked_uniform_writes_agree(seed in any::<u64>(), shape in 0usize..9) {
        tiers_agree(&masked_uniform_kernel(seed), seed, shape)?;
    }
}

#[test]
fn structured_kernels_mostly_run_to_completion() {
    // The generator must exercise results, not only traps.
    let completed = (0..100u64)
        .filter(|&seed| {
            let p = holovm::asm::assemble(&structured_kernel(seed * 7919)).expect("assembles");
            matches!(
                run(Tier::Jit, &p, LaunchConfig::new(1, 40), seed),
                Outcome::Memory(..)
            )
        })
        .count();
    assert!(completed >= 50, "only {completed} of 100 completed");
}
