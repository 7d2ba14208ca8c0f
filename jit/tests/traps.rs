#![allow(clippy::needless_range_loop, clippy::approx_constant)]
//! Traps (kind, pc, block, lane, space, offset), the lowest-trapping-lane rule, fuel,
//! divergence and the addressing modes, under every strategy.
mod common;
use common::*;
use holovm_jit::{TrapKind, SPACE_POOL, SPACE_SHARED};

#[test]
fn divide_by_zero_reports_lowest_lane() {
    // Lanes 5 and 11 of block 1 divide by zero; lane 5 is reported.
    let p = asm(".kernel t\n.param d: ptr i32\n.param c: ptr i32\n\
        ldg.i32 r1, [d + %gid*4]\nmov_imm.i32 r2, 100\ndiv.i32 r3, r2, r1\nstg.i32 [c + %gid*4], r3\nexit\n");
    let mut d = vec![1u32; 64];
    d[16 + 11] = 0;
    d[16 + 5] = 0;
    let out = run_all(&p, 4, 16, &[u32s(&d), zeros(256)]);
    assert_eq!(out.trap, trap(TrapKind::DivideByZero, 2, 1, 5, 0, 0));
    // Block 0 finished completely.
    assert_eq!(&to_u32(out.buf(1))[..16], &[100u32; 16]);
}

#[test]
fn signed_overflow_traps() {
    for ty in ["i32", "i64"] {
        for op in ["div", "rem"] {
            let p = asm(&format!(".kernel t\n.param c: ptr {ty}\n\
                mov_imm.{ty} r1, -1\nmov_imm.{ty} r2, {min}\nsetp.eq.u32 p0, %lane, 3\nsel.{ty} r1, p0, r1, 1\n\
                {op}.{ty} r3, r2, r1\nstg.{ty} [c + %gid*{s}], r3\nexit\n",
                min = if ty == "i32" { "-2147483648" } else { "-9223372036854775808" },
                s = if ty == "i32" { 4 } else { 8 }));
            let out = run_all(&p, 1, 9, &[zeros(72)]);
            assert_eq!(
                out.trap,
                trap(TrapKind::IntegerOverflow, 4, 0, 3, 0, 0),
                "{op}.{ty}"
            );
        }
    }
}

#[test]
fn out_of_bounds_and_misaligned() {
    // Buffer of 10 f32: lanes 10.. are out of bounds at pc 0 (lowest: lane 10).
    let p = asm(".kernel t\n.param x: ptr f32\n.param y: ptr f32\n\
        ldg.f32 r1, [x + %gid*4]\nstg.f32 [y + %gid*4], r1\nexit\n");
    let out = run_all(&p, 2, 8, &[f32s(&[1.0; 10]), f32s(&[0.0; 16])]);
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 0, 1, 2, 0, 40));
    assert_eq!(to_f32(out.buf(1))[..10], [1.0; 10]);

    // Misaligned: byte index scaled by 1 for a u32 access.
    let p = asm(".kernel t\n.param x: ptr u32\n.param y: ptr u32\n\
        mov.u64 r0, %gid\nmul.u64 r0, r0, 4\nsetp.eq.u32 p0, %lane, 6\n@!p0 bra @ok\nadd.u64 r0, r0, 2\n\
        ok:\nldg.u32 r1, [x + r0*1]\nstg.u32 [y + %gid*4], r1\nexit\n");
    let out = run_all(&p, 1, 12, &[u32s(&[7; 12]), u32s(&[0; 12])]);
    assert_eq!(out.trap, trap(TrapKind::Misaligned, 5, 0, 6, 0, 26));

    // Index overflow (huge 64-bit index) is out of bounds.
    let p = asm(".kernel t\n.param x: ptr u64\nmov_imm.u64 r0, 0x4000000000000001\nldg.u64 r1, [x + r0*8]\nexit\n");
    let out = run_all(&p, 1, 3, &[u64s(&[0; 4])]);
    assert_eq!(
        out.trap,
        trap(
            TrapKind::OutOfBounds,
            1,
            0,
            0,
            0,
            0x4000000000000001i128 * 8
        )
    );

    // An index a few bytes below 2^64 (scale 1: no high bits), whose end wraps past 0.
    for (pc, idx) in [(1, 0xffff_ffff_ffff_fffeu64), (1, u64::MAX)] {
        let p = asm(&format!(
            ".kernel t\n.param x: ptr u32\nmov_imm.u64 r0, {idx:#x}\nldg.u32 r1, [x + r0*1]\nexit\n"
        ));
        let out = run_all(&p, 1, 3, &[u32s(&[0; 4])]);
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, pc, 0, 0, 0, idx as i128)
        );
    }
}

#[test]
fn pointers_pool_and_shared() {
    // Register-indirect through &a, &pool, a scalar parameter (invalid) and negative offsets.
    let p = asm(".kernel t\n.param a: ptr u32\n.param k: u32\n.shared 256\n\
        mov_imm.u64 r5, &a\nmov.u64 r6, %gid\nshl.u64 r6, r6, 2\nadd.u64 r5, r5, r6\n\
        ldg.u32 r1, [r5 + 4]\nadd.u32 r1, r1, k\nsts.u32 [shared + %lane*4], r1\n\
        lds.u32 r2, [shared + %lane*4]\nmov_imm.u64 r7, &pool\nstg.u32 [r7 + r6], r2\n\
        ldg.u32 r3, [phi(0, 0, 0) + %gid*4]\nstg.u32 [r5 - 0], r3\nexit\n");
    let a: Vec<u32> = (0..17).map(|i| i * 10).collect();
    let out = run_all(&p, 2, 8, &[u32s(&a), Arg::Scalar(3)]);
    assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
    let kernel = holovm_jit::compile(&p, &Default::default()).unwrap();
    let o = run_kernel(&kernel, 2, 8, &[u32s(&a), Arg::Scalar(3)], None, 1 << 20);
    let pool = to_u32(&o.pool[..64]);
    for g in 0..16 {
        assert_eq!(pool[g], a[g + 1] + 3);
    }
    // a[g] = pool[g] (written back through the pointer).
    assert_eq!(to_u32(o.buf(0))[..16], pool[..16]);

    // A pointer naming the scalar parameter is out of bounds (space = 1).
    let p = asm(".kernel t\n.param a: ptr u32\n.param k: u32\nmov_imm.u64 r5, 0x100000000\nldg.u32 r1, [r5 + 8]\nexit\n");
    let out = run_all(&p, 1, 5, &[u32s(&[0; 4]), Arg::Scalar(3)]);
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 1, 0, 0, 1, 8));
    // Negative offset.
    let p = asm(".kernel t\n.param a: ptr u32\nmov_imm.u64 r5, &a\nldg.u32 r1, [r5 - 4]\nexit\n");
    let out = run_all(&p, 1, 5, &[u32s(&[0; 4])]);
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 1, 0, 0, 0, -4));
    // Pool and shared bounds.
    let p = asm(".kernel t\nldg.u32 r1, [phi(95, 47, 252) + %lane*4]\nexit\n");
    let out = run_all(&p, 1, 5, &[]);
    assert_eq!(
        out.trap,
        trap(TrapKind::OutOfBounds, 0, 0, 1, SPACE_POOL, 1_179_648)
    );
    let p = asm(".kernel t\n.shared 16\nsts.u32 [shared + %lane*4], 1\nexit\n");
    let out = run_all(&p, 2, 9, &[]);
    assert_eq!(
        out.trap,
        trap(TrapKind::OutOfBounds, 0, 0, 4, SPACE_SHARED, 16)
    );
}

/// Each block's lanes read their word of shared memory, then overwrite it: every block
/// reads zeros, whole 64-byte steps and the 16-byte chunks after them alike.
#[test]
fn shared_memory_is_zeroed_per_block() {
    for bytes in [16u32, 40, 64, 100, 1028] {
        let p = asm(&format!(
            ".kernel t\n.param c: ptr u32\n.shared {bytes}\n\
             lds.u32 r1, [shared + %lane*4]\nadd.u32 r2, r1, 1\nsts.u32 [shared + %lane*4], r2\n\
             stg.u32 [c + %gid*4], r1\nexit\n"
        ));
        let lanes = bytes / 4;
        let out = run_all(&p, 3, lanes, &[zeros(12 * lanes as usize)]);
        assert_eq!(
            to_u32(out.buf(0)),
            vec![0; 3 * lanes as usize],
            "{bytes} bytes"
        );
    }
}

#[test]
fn fuel_exhaustion_in_infinite_loop() {
    let p = asm(".kernel t\n.param c: ptr u32\nmov_imm.u32 r1, 0\ntop:\nadd.u32 r1, r1, 1\nstg.u32 [c + %gid*4], r1\nbra @top\nexit\n");
    let out = run_all_fuel(&p, 2, 8, &[zeros(64)], 1000);
    assert_eq!(out.trap, trap(TrapKind::OutOfFuel, 3, 0, 0, 0, 0));
    // Lane 0 ran its body fuel + 1 times.
    assert_eq!(to_u32(out.buf(0))[0], 1001);
    // A loop of exactly `fuel` taken backward branches is fine.
    let p = asm(".kernel t\n.param c: ptr u32\nmov_imm.u32 r1, 11\nmov_imm.u32 r2, 0\ntop:\nadd.u32 r2, r2, 1\nloop r1, @top\nstg.u32 [c + %gid*4], r2\nexit\n");
    let out = run_all_fuel(&p, 1, 9, &[zeros(36)], 10);
    assert_eq!(out.trap.kind, 0);
    assert_eq!(to_u32(out.buf(0)), vec![11; 9]);
    let out = run_all_fuel(&p, 1, 9, &[zeros(36)], 9);
    assert_eq!(out.trap, trap(TrapKind::OutOfFuel, 3, 0, 0, 0, 0));
}

/// Loops closed by a backward `bra` check the branch's fuel at its target in vector code
/// (one backward branch per target) or before it (two): either way the lanes run out at the
/// branch, with the interpreter's counts, and a budget of u64::MAX (above 2^63 - 1) runs.
#[test]
fn fuel_of_backward_bra_loops() {
    // Each lane adds 1 to its element `iters` times: a grid-stride-style loop of `iters`
    // taken backward branches, the last one not taken.
    let one = asm(".kernel t\n.param c: ptr u32\n.param iters: u32\n\
        mov_imm.u32 r1, 0\ntop:\nadd.u32 r1, r1, 1\n\
        setp.lt.u32 p0, r1, iters\n@p0 bra @top\nstg.u32 [c + %gid*4], r1\nexit\n");
    // The same count with a second backward branch to `top` (odd and even iterations).
    let two = asm(".kernel t\n.param c: ptr u32\n.param iters: u32\n\
        mov_imm.u32 r1, 0\ntop:\nadd.u32 r1, r1, 1\nand.u32 r2, r1, 1\n\
        setp.ge.u32 p0, r1, iters\n@p0 bra @out\nsetp.eq.u32 p1, r2, 1\n@p1 bra @top\n\
        bra @top\nout:\nstg.u32 [c + %gid*4], r1\nexit\n");
    for (p, branch_pcs) in [(&one, [3, 3]), (&two, [7, 6])] {
        let (grid, block) = (2u32, 40u32);
        let lanes = (grid * block) as usize;
        let args = [zeros(4 * lanes), Arg::Scalar(12)];
        // 12 iterations take 11 backward branches.
        for fuel in [11u64, 1 << 20, u64::MAX] {
            let out = run_all_fuel(p, grid, block, &args, fuel);
            assert_eq!(out.trap.kind, 0, "fuel {fuel}: {:?}", out.trap);
            assert_eq!(to_u32(out.buf(0)), vec![12; lanes]);
        }
        for fuel in [0u64, 1, 10] {
            let out = run_all_fuel(p, grid, block, &args, fuel);
            // The branch taken at iteration fuel + 1 is the one that runs out.
            let pc = branch_pcs[(fuel as usize + 1) % 2];
            assert_eq!(
                out.trap,
                trap(TrapKind::OutOfFuel, pc, 0, 0, 0, 0),
                "fuel {fuel}"
            );
        }
    }
}

/// Accesses through a uniform index register are checked against the site's limit,
/// computed once per launch: the last element in bounds loads, one past traps (or a
/// misaligned byte index), for loads and stores, buffers and shared memory, and scales
/// below, equal to and above the access size.
#[test]
fn uniform_register_indices_at_the_bounds() {
    // x: 10 u32 (40 bytes); shared: 40 bytes. (access, scale, last good index, bad indices
    // with their trap kind and byte offset)
    const OOB: TrapKind = TrapKind::OutOfBounds;
    type Bad = &'static [(u64, TrapKind, i128)];
    let cases: [(&str, u32, u64, Bad); 6] = [
        // The largest 32-bit indices: their offsets (up to 2^35 - 8) must neither wrap nor
        // pass the check (32-bit index registers take the short check: offset + size).
        (
            "ldg.u32 r1, [x + r0*4]",
            4,
            9,
            &[(10, OOB, 40), (0xffff_ffff, OOB, 0xffff_ffff * 4)],
        ),
        (
            "ldg.u32 r1, [x + r0*1]",
            1,
            36,
            &[(33, TrapKind::Misaligned, 33), (37, OOB, 37)],
        ),
        (
            "ldg.u32 r1, [x + r0*8]",
            8,
            4,
            &[(5, OOB, 40), (0xffff_ffff, OOB, 0xffff_ffff * 8)],
        ),
        (
            "stg.u32 [x + r0*4], r5",
            4,
            9,
            &[(10, OOB, 40), (0x4000_0000, OOB, 1 << 32)],
        ),
        (
            "lds.u32 r1, [shared + r0*4]",
            4,
            9,
            &[(10, OOB, 40), (0xffff_ffff, OOB, 0xffff_ffff * 4)],
        ),
        (
            "sts.u32 [shared + r0*2], r5",
            2,
            18,
            &[(17, TrapKind::Misaligned, 34), (19, OOB, 38)],
        ),
    ];
    for (access, scale, good, bad) in cases {
        let p = asm(&format!(
            ".kernel t\n.param x: ptr u32\n.param y: ptr u32\n.param i: u32\n.shared 40\n\
             mov.u32 r0, i\nmov.u32 r5, %gid\n{access}\nstg.u32 [y + %gid*4], r1\nexit\n"
        ));
        let space = if access.contains("shared") {
            SPACE_SHARED
        } else {
            0
        };
        let x: Vec<u32> = (100..110).collect();
        let args = |i: u64| [u32s(&x), zeros(4 * 24), Arg::Scalar(i)];
        let out = run_all(&p, 2, 12, &args(good));
        assert_eq!(out.trap.kind, 0, "{access} at {good}: {:?}", out.trap);
        if access.starts_with("ldg") {
            let want = x[(good * scale as u64 / 4) as usize];
            assert_eq!(to_u32(out.buf(1)), vec![want; 24], "{access}");
        }
        for &(i, kind, offset) in bad {
            let out = run_all(&p, 2, 12, &args(i));
            assert_eq!(
                out.trap,
                trap(kind, 2, 0, 0, space, offset),
                "{access} at {i}"
            );
        }
    }
}

#[test]
fn divergent_loops_and_branches() {
    // Each lane loops gid % 5 + 1 times (divergent loop counts) and branches on parity.
    let p = asm(".kernel t\n.param c: ptr u32\n.param n: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        rem.u32 r1, %gid, 5\nadd.u32 r1, r1, 1\nmov_imm.u32 r2, 0\n\
        top:\nadd.u32 r2, r2, 3\nloop r1, @top\n\
        and.u32 r3, %gid, 1\nsetp.eq.u32 p1, r3, 0\n@p1 bra @even\nadd.u32 r2, r2, 1000\neven:\n\
        stg.u32 [c + %gid*4], r2\ndone:\nexit\n");
    for (grid, block, n) in [(1u32, 1u32, 1u32), (3, 13, 37), (2, 32, 64), (1, 100, 77)] {
        let total = (grid * block) as usize;
        let out = run_all(&p, grid, block, &[zeros(4 * total), Arg::Scalar(n as u64)]);
        assert_eq!(out.trap.kind, 0);
        let got = to_u32(out.buf(0));
        for g in 0..total {
            let want = if (g as u32) < n {
                3 * (g as u32 % 5 + 1) + if g % 2 == 1 { 1000 } else { 0 }
            } else {
                0
            };
            assert_eq!(got[g], want, "gid {g}");
        }
    }
}

#[test]
fn calls_returns_and_their_traps() {
    let p = asm(".kernel t\n.param c: ptr u32\n\
        mov.u32 r1, %gid\ncall @double\ncall @double\nstg.u32 [c + %gid*4], r1\nexit\n\
        double:\nadd.u32 r1, r1, r1\nret\n");
    let out = run_all(&p, 2, 5, &[zeros(40)]);
    assert_eq!(out.trap.kind, 0);
    assert_eq!(
        to_u32(out.buf(0)),
        (0..10).map(|g| g * 4).collect::<Vec<_>>()
    );
    let p = asm(".kernel t\nret\n");
    assert_eq!(
        run_all(&p, 1, 3, &[]).trap,
        trap(TrapKind::RetWithoutCall, 0, 0, 0, 0, 0)
    );
    let p = asm(".kernel t\nrec:\ncall @rec\nexit\n");
    assert_eq!(
        run_all(&p, 1, 3, &[]).trap,
        trap(TrapKind::CallStackOverflow, 0, 0, 0, 0, 0)
    );
}

#[test]
fn fell_off_the_end() {
    let p = asm(".kernel t\n.param c: ptr u32\nstg.u32 [c + %gid*4], 1\nsetp.ge.u32 p0, %lane, 2\n@p0 bra @x\nexit\nx:\nadd.u32 r0, r0, 1\n");
    let out = run_all(&p, 1, 8, &[zeros(32)]);
    assert_eq!(out.trap, trap(TrapKind::FellOffEnd, 5, 0, 2, 0, 0));
}

#[test]
fn barriers_and_reductions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/kernels");
    // sum: strided partial sums, reduce.add in lane order, lane 0 writes.
    let p = asm(&std::fs::read_to_string(format!("{dir}/sum.hasm")).unwrap());
    let n = 1000usize;
    let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    for (grid, block) in [(1u32, 256u32), (3, 100), (2, 1)] {
        let out = run_all(
            &p,
            grid,
            block,
            &[f32s(&x), zeros(4 * grid as usize), Arg::Scalar(n as u64)],
        );
        assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
        let lanes = (grid * block) as usize;
        let got = to_f32(out.buf(1));
        for b in 0..grid as usize {
            let mut acc: Option<f32> = None;
            for l in 0..block as usize {
                let g = b * block as usize + l;
                let mut s = 0.0f32;
                let mut i = g;
                while i < n {
                    s += x[i];
                    i += lanes;
                }
                acc = Some(match acc {
                    None => s,
                    Some(a) => a + s,
                });
            }
            assert_eq!(got[b], acc.unwrap(), "grid {grid} block {block} b {b}");
        }
    }
    // softmax_rows.
    let p = asm(&std::fs::read_to_string(format!("{dir}/softmax_rows.hasm")).unwrap());
    let (rows, cols) = (3usize, 37usize);
    let x: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7) % 11) as f32 * 0.3 - 1.0)
        .collect();
    let out = run_all(
        &p,
        rows as u32,
        16,
        &[f32s(&x), zeros(4 * rows * cols), Arg::Scalar(cols as u64)],
    );
    assert_eq!(out.trap.kind, 0);
    let y = to_f32(out.buf(1));
    for r in 0..rows {
        let row = &y[r * cols..(r + 1) * cols];
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "row {r} sums to {s}");
    }
    // Integer reductions over live lanes only (lanes 0..2 exit first), min/max/mul.
    let p = asm(".kernel t\n.param c: ptr i32\n\
        setp.lt.u32 p0, %lane, 3\n@p0 bra @out\n\
        mov.i32 r1, %lane\nsub.i32 r1, r1, 5\nreduce.min.i32 r2, r1\nreduce.max.i32 r3, r1\n\
        reduce.add.i32 r4, %lane\nmul.i32 r5, r2, 1000\nadd.i32 r5, r5, r3\nmul.i32 r5, r5, 1000\nadd.i32 r5, r5, r4\n\
        stg.i32 [c + %gid*4], r5\nout:\nexit\n");
    let out = run_all(&p, 2, 9, &[zeros(72)]);
    assert_eq!(out.trap.kind, 0);
    let got = to_u32(out.buf(0));
    let want = ((-2i32 * 1000 + 3) * 1000 + (3 + 4 + 5 + 6 + 7 + 8)) as u32;
    assert_eq!(&got[..9], &[0, 0, 0, want, want, want, want, want, want]);
    // Divergent barrier: even lanes wait at one barrier, odd lanes at another.
    let p = asm(".kernel t\nand.u32 r1, %lane, 1\nsetp.eq.u32 p0, r1, 0\n@p0 bra @a\nbar.sync\nexit\na:\nbar.sync\nexit\n");
    let out = run_all(&p, 1, 4, &[]);
    assert_eq!(out.trap, trap(TrapKind::DivergentBarrier, 5, 0, 0, 0, 0));
    // A trap before a barrier: lower lanes pass the barrier and may trap later (lane 1 wins
    // over lane 2 although lane 2 trapped first).
    let p = asm(".kernel t\n.param d: ptr u32\nldg.u32 r1, [d + %lane*4]\nsetp.eq.u32 p0, %lane, 2\n@!p0 bra @ok\n\
        div.u32 r2, 1, r1\nok:\nbar.sync\nsetp.eq.u32 p1, %lane, 1\n@!p1 bra @end\ndiv.u32 r2, 1, r1\nend:\nexit\n");
    let out = run_all(&p, 1, 4, &[u32s(&[1, 0, 0, 1])]);
    assert_eq!(out.trap, trap(TrapKind::DivideByZero, 7, 0, 1, 0, 0));
    // The same in vector groups: lane 20 traps before a `reduce`, so lanes 20 and up stop
    // for good; lane 40 would trap after it but never runs again (the phased kernel keeps
    // the end of the lanes that may run from phase to phase).
    let p = asm(
        ".kernel t\n.param d: ptr u32\nldg.u32 r1, [d + %lane*4]\nsetp.eq.u32 p0, %lane, 20\n\
        @!p0 bra @ok\ndiv.u32 r2, 1, r1\nok:\nreduce.add.u32 r3, r1\nsetp.eq.u32 p1, %lane, 40\n\
        @!p1 bra @end\ndiv.u32 r2, 1, r1\nend:\nexit\n",
    );
    let mut d = vec![1u32; 64];
    d[20] = 0;
    d[40] = 0;
    let out = run_all(&p, 2, 64, &[u32s(&d)]);
    assert_eq!(out.trap, trap(TrapKind::DivideByZero, 3, 0, 20, 0, 0));
}

#[test]
fn example_kernels() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/kernels");
    // gemm with odd sizes: vector groups, divergent guards, gathers.
    let p = asm(&std::fs::read_to_string(format!("{dir}/gemm.hasm")).unwrap());
    let (m, n, k) = (5usize, 7usize, 3usize);
    let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.25).collect();
    let b: Vec<f32> = (0..k * n).map(|i| 1.0 - i as f32 * 0.5).collect();
    let out = run_all(
        &p,
        2,
        32,
        &[
            f32s(&a),
            f32s(&b),
            zeros(4 * m * n),
            Arg::Scalar(m as u64),
            Arg::Scalar(n as u64),
            Arg::Scalar(k as u64),
        ],
    );
    assert_eq!(out.trap.kind, 0);
    let c = to_f32(out.buf(2));
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for q in 0..k {
                acc = a[i * k + q].mul_add(b[q * n + j], acc);
            }
            assert_eq!(c[i * n + j], acc);
        }
    }
    // scalar_loop and phi_scale.
    let p = asm(&std::fs::read_to_string(format!("{dir}/scalar_loop.hasm")).unwrap());
    let x: Vec<f32> = (0..50).map(|i| i as f32).collect();
    let out = run_all(&p, 1, 64, &[f32s(&x), Arg::Scalar(50)]);
    let y = to_f32(out.buf(0));
    for i in 0..50 {
        let mut v = x[i];
        for _ in 0..64 {
            v = v * 1.0001 + 0.5;
        }
        assert_eq!(y[i], v);
    }
    let p = asm(&std::fs::read_to_string(format!("{dir}/phi_scale.hasm")).unwrap());
    let kernel = holovm_jit::compile(&p, &Default::default()).unwrap();
    let mut pool = vec![0u8; holovm_isa::POOL_BYTES as usize];
    for i in 0..3072 {
        pool[i * 4..i * 4 + 4].copy_from_slice(&(i as f32).to_le_bytes());
    }
    pool[2 * 12288..2 * 12288 + 4].copy_from_slice(&2.0f32.to_le_bytes());
    pool[2 * 12288 + 4..2 * 12288 + 8].copy_from_slice(&0.5f32.to_le_bytes());
    let o = run_kernel(&kernel, 12, 256, &[], Some(&pool), 1 << 20);
    assert_eq!(o.trap.kind, 0);
    let c1 = to_f32(&o.pool[12288..2 * 12288]);
    for i in 0..3072 {
        assert_eq!(c1[i], i as f32 * 2.0 + 0.5);
    }
}

#[test]
fn gathers_with_32_bit_indices() {
    // y[i] = x[perm[i]]; one index out of bounds (lane 13), checked on the index vectors.
    let p = asm(
        ".kernel t\n.param x: ptr f32\n.param perm: ptr u32\n.param y: ptr f32\n\
        ldg.u32 r1, [perm + %gid*4]\nldg.f32 r2, [x + r1*4]\nstg.f32 [y + %gid*4], r2\nexit\n",
    );
    let x: Vec<f32> = (0..40).map(|i| i as f32 * 1.5).collect();
    let mut perm: Vec<u32> = (0..40).map(|i| (i * 7) % 40).collect();
    let out = run_all(&p, 5, 8, &[f32s(&x), u32s(&perm), zeros(160)]);
    assert_eq!(out.trap.kind, 0);
    assert_eq!(
        to_f32(out.buf(2)),
        perm.iter().map(|&i| x[i as usize]).collect::<Vec<_>>()
    );
    perm[13] = 40;
    perm[17] = 1 << 31;
    let out = run_all(&p, 5, 8, &[f32s(&x), u32s(&perm), zeros(160)]);
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 1, 1, 5, 0, 160));
    // Scale smaller than the access size: alignment checked per lane.
    let p = asm(".kernel t\n.param x: ptr u32\n.param y: ptr u32\n\
        mul.u32 r1, %gid, 4\nsetp.eq.u32 p0, %gid, 21\n@!p0 bra @ok\nadd.u32 r1, r1, 2\nok:\n\
        ldg.u32 r2, [x + r1*1]\nstg.u32 [y + %gid*4], r2\nexit\n");
    let out = run_all(&p, 1, 32, &[u32s(&[3; 32]), zeros(128)]);
    assert_eq!(out.trap, trap(TrapKind::Misaligned, 4, 0, 21, 0, 86));
}

#[test]
fn gathers_whose_indices_are_consecutive_load_the_group_at_once() {
    // A stencil's neighbours, clamped at the edges (`sel`, `min`) or wrapped (`rem`, which
    // the vector code splits as a column index, lane-affine in most groups): each
    // group's indices are consecutive but at the edges; a clamped index past the end (the
    // `max` with k) traps where the interpreter does, and an f64 neighbour (64-bit lanes)
    // and one in masked code (lanes that do not run it use index 0) read as gathers do.
    let p = asm(
        ".kernel t\n.param x: ptr f32\n.param d: ptr f64\n.param y: ptr f32\n\
        .param e: ptr f64\n.param n: u32\n.param k: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\nsub.u32 r1, n, 1\n\
        setp.eq.u32 p1, %gid, 0\nsub.u32 r2, %gid, 1\nsel.u32 r2, p1, 0, r2\n\
        add.u32 r3, %gid, 1\nmin.u32 r3, r3, r1\nmax.u32 r3, r3, k\n\
        add.u32 r4, %gid, 3\nrem.u32 r4, r4, n\n\
        ldg.f32 r5, [x + r2*4]\nldg.f32 r6, [x + r3*4]\nldg.f32 r7, [x + r4*4]\n\
        add.f32 r5, r5, r6\nadd.f32 r5, r5, r7\nstg.f32 [y + %gid*4], r5\n\
        ldg.f64 r10, [d + r4*8]\n\
        ldg.f32 r8, [x + %gid*4]\nsetp.lt.f32 p2, r8, 20.0\n@p2 bra @skip\n\
        ldg.f64 r10, [d + r2*8]\nskip:\nstg.f64 [e + %gid*8], r10\n\
        done:\nexit\n",
    );
    let k = holovm_jit::compile(&p, &holovm_jit::JitOptions::default()).expect("compile");
    let text = k.strategy().to_string();
    assert!(
        // (Their clamped values are registers of their own: r2's first value is lane-affine.)
        text.contains("that scale, r2/2 r3/3, access a group"),
        "{text}"
    );
    for (grid, block, n, k) in [(3u32, 32u32, 90u32, 0u32), (2, 40, 80, 0), (1, 64, 64, 70)] {
        let len = (grid * block) as usize;
        let x: Vec<f32> = (0..len).map(|i| ((i * 37) % 41) as f32).collect();
        let d: Vec<f64> = (0..len).map(|i| i as f64 * 0.5 - 3.0).collect();
        let out = run_all(
            &p,
            grid,
            block,
            &[
                f32s(&x[..n as usize]),
                f64s(&d[..n as usize]),
                zeros(4 * len),
                zeros(8 * len),
                Arg::Scalar(n as u64),
                Arg::Scalar(k as u64),
            ],
        );
        if k >= n {
            // Every lane's clamped index is k, past the end: lane 0 of block 0 traps.
            assert_eq!(
                out.trap,
                trap(TrapKind::OutOfBounds, 12, 0, 0, 0, 4 * k as i128)
            );
            continue;
        }
        assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
        let (y, e) = (to_f32(out.buf(2)), to_f64(out.buf(3)));
        let n = n as usize;
        for g in 0..n {
            let (l, r, w) = (
                g.saturating_sub(1),
                (g + 1).min(n - 1).max(k as usize),
                (g + 3) % n,
            );
            assert_eq!(y[g], x[l] + x[r] + x[w], "n {n} gid {g}");
            assert_eq!(e[g], if x[g] < 20.0 { d[w] } else { d[l] }, "n {n} gid {g}");
        }
    }
}

#[test]
fn vector_paths() {
    // Affine predicate used by sel, a uniform-address store (last lane wins), 64-bit lanes,
    // pointers that name different spaces in one group, a uniform division by zero.
    let p = asm(".kernel t\n.param a: ptr u64\n.param b: ptr u64\n.param k: u32\n\
        setp.lt.u32 p0, %lane, k\nmov.u64 r1, %gid\nmul.u64 r1, r1, 3\nsel.u64 r2, p0, r1, 7\n\
        stg.u64 [a + %gid*8], r2\nstg.u64 [b + 0], r2\n\
        and.u32 r3, %lane, 1\ncvt.u64.u32 r3, r3\nshl.u64 r4, r3, 32\nmov_imm.u64 r5, &a\nadd.u64 r5, r5, r4\n\
        mov.u64 r6, %gid\nshl.u64 r6, r6, 3\nadd.u64 r5, r5, r6\nldg.u64 r7, [r5 + 0]\n\
        stg.u64 [a + %gid*8], r7\nexit\n");
    for (grid, block, k) in [(1u32, 32u32, 5u64), (2, 40, 40), (1, 7, 0)] {
        let n = (grid * block) as usize;
        let out = run_all(
            &p,
            grid,
            block,
            &[zeros(8 * n), zeros(8 * n), Arg::Scalar(k)],
        );
        assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
        let a = to_u64(out.buf(0));
        let bb = to_u64(out.buf(1));
        for g in 0..n {
            let lane = g as u64 % block as u64;
            let v = |gg: u64| if gg % block as u64 >= k { 7 } else { gg * 3 };
            // Even lanes read a (their own value), odd lanes read b at the same offset:
            // still its initial 0 (only b[0] is written, and an odd lane's gid is not 0).
            let want = if lane.is_multiple_of(2) {
                v(g as u64)
            } else {
                0
            };
            assert_eq!(a[g], want, "gid {g}");
        }
        // b[0] holds the last lane's value of the last block.
        assert_eq!(bb[0], {
            let last = n as u64 - 1;
            if last % block as u64 >= k {
                7
            } else {
                last * 3
            }
        });
    }
    // Uniform division by zero inside vector code: lane 0 of block 0 reports.
    let p = asm(".kernel t\n.param c: ptr u32\n.param z: u32\ndiv.u32 r1, 10, z\nstg.u32 [c + %gid*4], r1\nexit\n");
    let out = run_all(&p, 2, 16, &[zeros(128), Arg::Scalar(0)]);
    assert_eq!(out.trap, trap(TrapKind::DivideByZero, 0, 0, 0, 0, 0));
}
