//! Programs with barriers run each phase as vector groups that park at the next barrier
//! (later phases resume the groups whose lanes agree); every strategy must agree with the
//! all-scalar phased strategy (`run_all` compares them).
mod common;
use common::*;
use holovm_jit::{compile, JitOptions, Strategy, TrapKind};

/// Grid-stride partial sums, then a block-wide `reduce` (the `sum` example kernel's shape),
/// with an early exit for lanes whose `%lane` is at least `active`.
const SUM: &str =
    ".kernel psum\n.param x: ptr u32\n.param out: ptr u32\n.param n: u32\n.param active: u32\n\
    setp.ge.u32 p1, %lane, active\n@p1 bra @done\n\
    mul.u32 r5, %gdim, %bdim\nmov_imm.u32 r1, 0\nmov.u32 r2, %gid\n\
    next:\nsetp.ge.u32 p0, r2, n\n@p0 bra @combine\nldg.u32 r3, [x + r2*4]\n\
    add.u32 r1, r1, r3\nadd.u32 r2, r2, r5\nbra @next\n\
    combine:\nreduce.add.u32 r1, r1\nstg.u32 [out + %gid*4], r1\ndone:\nexit\n";

#[test]
fn the_first_phase_is_vector_code() {
    let k = compile(&asm(SUM), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Phased { reason } => {
            assert!(
                reason.contains("each phase runs as vector code"),
                "{reason}"
            )
        }
        other => panic!("expected the phased strategy, got {other}"),
    }
}

#[test]
fn parked_groups_and_scalar_lanes_reduce_together() {
    // Blocks that are not a multiple of the group, lanes that exit before the barrier, a
    // group that diverges in the loop (n not a multiple of the lanes).
    for (grid, block, n, active) in [
        (1, 32, 1000, 32),
        (2, 24, 517, 24),
        (3, 20, 61, 13),
        (1, 7, 100, 7),
        (2, 64, 3, 64),
    ] {
        let lanes = (grid * block) as usize;
        let x: Vec<u32> = (0..n).map(|i| i * 7 + 1).collect();
        let out = run_all(
            &asm(SUM),
            grid,
            block,
            &[
                u32s(&x),
                zeros(lanes * 4),
                Arg::Scalar(n as u64),
                Arg::Scalar(active as u64),
            ],
        );
        assert_eq!(out.trap.kind, 0);
        let got = to_u32(out.buf(1));
        for b in 0..grid as usize {
            let block_sum: u32 = (0..active as usize)
                .map(|l| {
                    let g = b * block as usize + l;
                    x.iter()
                        .skip(g)
                        .step_by(lanes)
                        .fold(0u32, |a, v| a.wrapping_add(*v))
                })
                .fold(0, u32::wrapping_add);
            for l in 0..block as usize {
                let want = if (l as u32) < active { block_sum } else { 0 };
                assert_eq!(
                    got[b * block as usize + l],
                    want,
                    "{grid}x{block} block {b} lane {l}"
                );
            }
        }
    }
}

#[test]
fn traps_in_the_first_phase_report_the_lowest_lane() {
    // x is one element short of n: the lane that reaches the last index traps, after groups
    // above it have parked at the barrier.
    for len in [40usize, 47, 63, 64, 95] {
        let out = run_all(
            &asm(SUM),
            1,
            96,
            &[
                u32s(&vec![1; len]),
                zeros(96 * 4),
                Arg::Scalar(len as u64 + 1),
                Arg::Scalar(96),
            ],
        );
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, 7, 0, len as u32, 0, len as i128 * 4),
            "len {len}"
        );
    }
}

#[test]
fn a_barrier_reached_by_some_lanes_only_is_divergent() {
    // Lanes below `k` wait at the first barrier, the others at the second.
    let p = asm(".kernel div\n.param k: u32\n.param out: ptr u32\n\
        setp.lt.u32 p0, %lane, k\n@p0 bra @a\nbar.sync\nbra @end\na:\nbar.sync\n\
        end:\nstg.u32 [out + %gid*4], 1\nexit\n");
    for k in [0u64, 5, 32, 40] {
        let out = run_all(&p, 1, 40, &[Arg::Scalar(k), zeros(160)]);
        if k == 0 || k == 40 {
            assert_eq!(out.trap.kind, 0, "k = {k}");
            assert_eq!(to_u32(out.buf(1)), vec![1; 40]);
        } else {
            assert_eq!(out.trap.kind, TrapKind::DivergentBarrier.code(), "k = {k}");
            assert_eq!(out.trap.lane, 0);
        }
    }
}

#[test]
fn later_phases_resume_vector_groups_when_their_registers_fit() {
    // Per-lane 32- and 64-bit registers, a lane-affine one, a per-lane predicate and a
    // "uniform" register that lanes below `k` and above it set differently (its groups
    // must not resume as vector code) all live across `bar.sync`; a `reduce` starts a
    // third phase.
    let p = asm(
        ".kernel multi\n.param x: ptr u32\n.param out: ptr u32\n.param k: u32\n\
        ldg.u32 r1, [x + %gid*4]\ncvt.u64.u32 r2, r1\nadd.u64 r2, r2, 1000000000000\n\
        add.u32 r3, %gid, 5\nmov_imm.u32 r4, 7\nsetp.lt.u32 p2, r1, 10\n\
        setp.lt.u32 p3, %lane, k\n@p3 bra @skip\nmov_imm.u32 r4, 9\nskip:\nbar.sync\n\
        add.u32 r1, r1, r4\nsel.u32 r5, p2, r1, r3\ncvt.u32.u64 r6, r2\nadd.u32 r5, r5, r6\n\
        reduce.add.u32 r7, r5\nadd.u32 r5, r5, r7\nadd.u32 r5, r5, r3\n\
        stg.u32 [out + %gid*4], r5\nexit\n",
    );
    for (grid, block, k) in [(1, 64, 0), (2, 64, 20), (1, 72, 32), (3, 40, 64), (1, 5, 2)] {
        let lanes = (grid * block) as usize;
        let x: Vec<u32> = (0..lanes as u32).map(|i| (i * 37) % 23).collect();
        let out = run_all(
            &p,
            grid,
            block,
            &[u32s(&x), zeros(lanes * 4), Arg::Scalar(k)],
        );
        assert_eq!(out.trap.kind, 0);
        let phase2: Vec<u32> = (0..lanes)
            .map(|g| {
                let lane = (g % block as usize) as u64;
                let r4 = if lane < k { 7 } else { 9 };
                let r3 = g as u32 + 5;
                let r6 = (x[g] as u64 + 1_000_000_000_000) as u32;
                let r5 = if x[g] < 10 { x[g] + r4 } else { r3 };
                r5.wrapping_add(r6)
            })
            .collect();
        let got = to_u32(out.buf(1));
        for g in 0..lanes {
            let b = g / block as usize;
            let r7 = phase2[b * block as usize..(b + 1) * block as usize]
                .iter()
                .fold(0u32, |a, v| a.wrapping_add(*v));
            let want = phase2[g].wrapping_add(r7).wrapping_add(g as u32 + 5);
            assert_eq!(got[g], want, "{grid}x{block} k {k} lane {g}");
        }
    }
}

#[test]
fn groups_whose_lanes_ran_scalar_code_do_not_resume_as_vector_code() {
    // The vector code parks every group at the first barrier, but cannot resume after it
    // (the lane-affine predicate p1 is live there), so the second phase runs in scalar
    // code: lanes at or past k exit, the others wait at the second barrier, where vector
    // code could resume again. A group holding both kinds must stay scalar code: its
    // parked state from the first barrier is stale.
    let p = asm(".kernel stale\n.param out: ptr u32\n.param k: u32\n\
        setp.ge.u32 p1, %lane, k\nbar.sync\n@p1 bra @done\nadd.u32 r1, %gid, 1\n\
        bar.sync\nstg.u32 [out + %gid*4], r1\ndone:\nexit\n");
    for (grid, block, k) in [(1u32, 64u32, 3u32), (2, 64, 40), (1, 96, 70), (2, 32, 32)] {
        let lanes = (grid * block) as usize;
        let out = run_all(&p, grid, block, &[zeros(lanes * 4), Arg::Scalar(k as u64)]);
        assert_eq!(out.trap.kind, 0);
        let want: Vec<u32> = (0..lanes as u32)
            .map(|g| if g % block < k { g + 1 } else { 0 })
            .collect();
        assert_eq!(to_u32(out.buf(0)), want, "{grid}x{block} k {k}");
    }
}

/// A block sum by a tree over shared memory (in u32, so the sums are exact; the `jit_barriers`
/// bench runs it in f32): `if lane < s` runs under lane masks where a group straddles s,
/// and every group parks whole at each of the nine barriers.
const TREE: &str = ".kernel tree\n.param x: ptr u32\n.param out: ptr u32\n.shared 1024\n\
    ldg.u32 r1, [x + %gid*4]\nsts.u32 [shared + %lane*4], r1\nbar.sync\nshr.u32 r2, %bdim, 1\n\
    top:\nsetp.eq.u32 p0, r2, 0\n@p0 bra @done\nsetp.ge.u32 p1, %lane, r2\n@p1 bra @skip\n\
    add.u32 r3, %lane, r2\nlds.u32 r4, [shared + r3*4]\nlds.u32 r5, [shared + %lane*4]\n\
    add.u32 r5, r5, r4\nsts.u32 [shared + %lane*4], r5\n\
    skip:\nbar.sync\nshr.u32 r2, r2, 1\nbra @top\n\
    done:\nsetp.ne.u32 p2, %lane, 0\n@p2 bra @end\nlds.u32 r6, [shared]\n\
    stg.u32 [out + %block*4], r6\nend:\nexit\n";

#[test]
fn a_tree_reduction_over_shared_memory_sums_each_block() {
    for (grid, block) in [(3u32, 256u32), (2, 128), (4, 64), (5, 32), (2, 16)] {
        let lanes = (grid * block) as usize;
        let x: Vec<u32> = (0..lanes as u32)
            .map(|i| i.wrapping_mul(2654435761))
            .collect();
        let out = run_all(
            &asm(TREE),
            grid,
            block,
            &[u32s(&x), zeros(grid as usize * 4)],
        );
        assert_eq!(out.trap.kind, 0);
        let want: Vec<u32> = x
            .chunks(block as usize)
            .map(|c| c.iter().fold(0u32, |a, v| a.wrapping_add(*v)))
            .collect();
        assert_eq!(to_u32(out.buf(1)), want, "{grid}x{block}");
    }
}

#[test]
fn scalar_lanes_in_separate_groups_all_run_between_parked_groups() {
    // `lane % 64 < k` with k not a multiple of the group: groups that straddle k (one in
    // every 64 lanes) run scalar code (the loop in the body keeps it out of masked code),
    // the groups between them park whole; lanes past `live` exit first. Every lane adds its
    // right neighbour's value if it is below k.
    let p = asm(
        ".kernel stripes\n.param x: ptr u32\n.param out: ptr u32\n.param k: u32\n\
        .param live: u32\n.shared 1028\n\
        setp.ge.u32 p3, %lane, live\n@p3 bra @end\n\
        ldg.u32 r1, [x + %gid*4]\nsts.u32 [shared + %lane*4], r1\nbar.sync\n\
        rem.u32 r2, %lane, 64\nsetp.ge.u32 p1, r2, k\n@p1 bra @skip\n\
        mov_imm.u32 r6, 2\nagain:\nsub.u32 r6, r6, 1\nsetp.ne.u32 p4, r6, 0\n@p4 bra @again\n\
        add.u32 r3, %lane, 1\nlds.u32 r4, [shared + r3*4]\nadd.u32 r1, r1, r4\n\
        skip:\nbar.sync\nsts.u32 [shared + %lane*4], r1\nbar.sync\n\
        lds.u32 r5, [shared]\nadd.u32 r1, r1, r5\nstg.u32 [out + %gid*4], r1\nend:\nexit\n",
    );
    let k = compile(&p, &JitOptions::default()).expect("compile");
    assert!(
        !k.strategy()
            .to_string()
            .contains("divergent forward branches"),
        "{}",
        k.strategy()
    );
    for (grid, block, k, live) in [
        (1u32, 256u32, 40u32, 256u32),
        (2, 256, 7, 200),
        (2, 192, 33, 192),
        (1, 100, 50, 97),
        (3, 128, 64, 128),
    ] {
        let lanes = (grid * block) as usize;
        let x: Vec<u32> = (0..lanes as u32).map(|i| i * 3 + 1).collect();
        let args = [
            u32s(&x),
            zeros(lanes * 4),
            Arg::Scalar(k as u64),
            Arg::Scalar(live as u64),
        ];
        let out = run_all(&p, grid, block, &args);
        assert_eq!(out.trap.kind, 0);
        let mut want = vec![0u32; lanes];
        for b in 0..grid as usize {
            let at = |l: usize| b * block as usize + l;
            // Shared memory holds the live lanes' values; the rest of it is zero.
            let shared = |l: usize| if l < live as usize { x[at(l)] } else { 0 };
            let v: Vec<u32> = (0..live as usize)
                .map(|l| {
                    x[at(l)]
                        + if (l as u32 % 64) < k {
                            shared(l + 1)
                        } else {
                            0
                        }
                })
                .collect();
            for l in 0..live as usize {
                want[at(l)] = v[l] + v[0];
            }
        }
        assert_eq!(to_u32(out.buf(1)), want, "{grid}x{block} k {k} live {live}");
    }
}

#[test]
fn lanes_parked_inside_calls_return_after_the_barrier() {
    // Each lane reaches the barriers one or two calls deep (its parity), so every lane
    // parks with call frames and must return through them after each barrier: its call
    // depth and stack are kept across the phases. A `reduce` inside the inner function
    // gives every lane the block's sum of lane + 1.
    let p = asm(".kernel deep\n.param out: ptr u32\n\
        and.u32 r9, %lane, 1\nsetp.eq.u32 p0, r9, 1\n@p0 bra @odd\n\
        call @inner\nbra @join\nodd:\ncall @outer\n\
        join:\nadd.u32 r1, r1, r9\nstg.u32 [out + %gid*4], r1\nexit\n\
        outer:\ncall @inner\nadd.u32 r1, r1, 1000\nret\n\
        inner:\nadd.u32 r2, %lane, 1\nbar.sync\nreduce.add.u32 r1, r2\nbar.sync\nret\n");
    for (grid, block) in [(1u32, 64u32), (2, 40), (1, 7), (3, 33)] {
        let lanes = (grid * block) as usize;
        let out = run_all(&p, grid, block, &[zeros(lanes * 4)]);
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let sum = block * (block + 1) / 2;
        let want: Vec<u32> = (0..lanes as u32)
            .map(|g| {
                let odd = (g % block) & 1;
                sum + odd * 1000 + odd
            })
            .collect();
        assert_eq!(to_u32(out.buf(0)), want, "{grid}x{block}");
    }
}

#[test]
fn fuel_carries_across_phases_into_scalar_code() {
    // Every group runs its first loop as vector code and parks at the barrier, with the
    // lane-affine predicate p1 live there. At a `reduce` the next phase resumes every lane
    // in scalar code, which takes over the fuel the group had left (the vector code keeps
    // it once per group); at a `bar.sync` the group parks whole, keeping p1's pair, and
    // resumes as vector code. Each lane takes n - 1 backward branches in each loop: 2n - 2
    // fuel in all.
    for barrier in ["reduce.add.u32 r9, r1", "bar.sync"] {
        let p = asm(&format!(
            ".kernel fuel\n.param out: ptr u32\n.param n: u32\n\
             setp.lt.u32 p1, %lane, 3\nmov_imm.u32 r1, 0\n\
             a:\nadd.u32 r1, r1, 1\nsetp.lt.u32 p0, r1, n\n@p0 bra @a\n{barrier}\n\
             @p1 bra @skip\nadd.u32 r1, r1, 100\nskip:\nmov_imm.u32 r2, 0\n\
             b:\nadd.u32 r2, r2, 1\nsetp.lt.u32 p0, r2, n\n@p0 bra @b\n\
             add.u32 r1, r1, r2\nstg.u32 [out + %gid*4], r1\nexit\n"
        ));
        fuel_in_two_loops(&p);
    }
}

/// Runs the kernel of `fuel_carries_across_phases_into_scalar_code` with just enough fuel
/// and one unit less.
fn fuel_in_two_loops(p: &holovm_isa::Program) {
    let n = 9u64;
    for (grid, block) in [(1u32, 64u32), (2, 40)] {
        let lanes = (grid * block) as usize;
        let args = [zeros(lanes * 4), Arg::Scalar(n)];
        let out = run_all_fuel(p, grid, block, &args, 2 * n - 2);
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let want: Vec<u32> = (0..lanes as u32)
            .map(|g| if g % block < 3 { 18 } else { 118 })
            .collect();
        assert_eq!(to_u32(out.buf(0)), want, "{grid}x{block}");
        // One unit short: lane 0 of block 0 traps at the second loop's branch.
        let out = run_all_fuel(p, grid, block, &args, 2 * n - 3);
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfFuel, 11, 0, 0, 0, 0),
            "{grid}x{block}"
        );
    }
}

#[test]
fn uniform_and_lane_affine_registers_live_across_a_bar_sync() {
    // At the barrier r2 (u32) and r4 (u64) are lane-affine, r3 uniform (r2 and r4 wrap in
    // their widths). At a `bar.sync` the groups park whole, keeping r2, r3 and r4 in their
    // first lane's slots, and with the lane-affine predicate p1 computed before the
    // barrier p1's pair in its first two lanes' slots; they resume as vector code. At a
    // `reduce` with p1 live the groups park every lane's words and the next phase resumes
    // them in scalar code. Blocks of 64 lanes are whole groups (a `bar.sync` is released
    // by the groups' first lanes); blocks of 40 end in scalar lanes.
    let setp = "setp.lt.u32 p1, %lane, m\n";
    let kernel = |before: &str, barrier: &str, after: &str| {
        asm(&format!(
            ".kernel keep\n.param a: ptr u32\n.param b: ptr u64\n.param k: u32\n\
             .param big: u64\n.param m: u32\n\
             add.u32 r2, %lane, k\nmov.u64 r4, %gid\nadd.u64 r4, r4, big\nmul.u32 r3, k, 3\n\
             {before}{barrier}\n{after}@p1 bra @low\nadd.u32 r2, r2, r3\nlow:\n\
             stg.u32 [a + %gid*4], r2\nstg.u64 [b + %gid*8], r4\nexit\n"
        ))
    };
    let (k, big, m) = (0xffff_fff0u32, u64::MAX - 70, 5u32);
    let reduce = "reduce.add.u32 r9, r3";
    for p in [
        kernel("", "bar.sync", setp),
        kernel(setp, "bar.sync", ""),
        kernel(setp, reduce, ""),
    ] {
        for (grid, block) in [(2u32, 64u32), (1, 40), (3, 32)] {
            let lanes = (grid * block) as usize;
            let args = [
                zeros(lanes * 4),
                zeros(lanes * 8),
                Arg::Scalar(k.into()),
                Arg::Scalar(big),
                Arg::Scalar(m.into()),
            ];
            let out = run_all(&p, grid, block, &args);
            assert_eq!(out.trap.kind, 0, "{grid}x{block}");
            let want_a: Vec<u32> = (0..lanes as u32)
                .map(|g| {
                    let l = g % block;
                    let r2 = l.wrapping_add(k);
                    if l < m {
                        r2
                    } else {
                        r2.wrapping_add(k.wrapping_mul(3))
                    }
                })
                .collect();
            let want_b: Vec<u64> = (0..lanes as u64).map(|g| g.wrapping_add(big)).collect();
            assert_eq!(to_u32(out.buf(0)), want_a, "{grid}x{block}");
            assert_eq!(to_u64(out.buf(1)), want_b, "{grid}x{block}");
        }
    }
}

#[test]
fn a_permutation_through_shared_memory_scatters_and_gathers() {
    // Each round every lane scatters its value to shared[(7 * lane) % 256] (a per-lane
    // index: a scatter), then reads its own slot back, plus one. The program has barriers,
    // so its kernel is compiled without the optimiser: each lane's address, value and store
    // are emitted together.
    let p = asm(
        ".kernel perm\n.param a: ptr u32\n.param rounds: u32\n.shared 1024\n\
        ldg.u32 r1, [a + %gid*4]\nmul.u32 r2, %lane, 7\nand.u32 r2, r2, 255\nmov_imm.u32 r6, 0\n\
        top:\nsts.u32 [shared + r2*4], r1\nbar.sync\nlds.u32 r1, [shared + %lane*4]\n\
        add.u32 r1, r1, 1\nbar.sync\nadd.u32 r6, r6, 1\nsetp.lt.u32 p0, r6, rounds\n\
        @p0 bra @top\nstg.u32 [a + %gid*4], r1\nexit\n",
    );
    let rounds = 5u32;
    for grid in [1u32, 3] {
        let lanes = grid as usize * 256;
        let x: Vec<u32> = (0..lanes as u32).map(|i| i * 1000 + 17).collect();
        let out = run_all(&p, grid, 256, &[u32s(&x), Arg::Scalar(rounds.into())]);
        assert_eq!(out.trap.kind, 0);
        let mut want = x.clone();
        for _ in 0..rounds {
            let prev = want.clone();
            for (g, w) in want.iter_mut().enumerate() {
                let (b, l) = (g / 256, g % 256);
                // The lane q with 7q = l (mod 256): 183 is 7's inverse.
                let q = (l * 183) % 256;
                *w = prev[b * 256 + q] + 1;
            }
        }
        assert_eq!(to_u32(out.buf(0)), want, "grid {grid}");
    }
}

/// A group whose lanes left vector code before a barrier (a halo load by the block's first
/// lanes, the GPU way) comes back to vector code after it when its lanes are together
/// again (regroup.rs): a uniform register (the block's start), a lane-affine one and a
/// uniform predicate live across the barrier; every strategy agrees with Rust.
#[test]
fn groups_whose_lanes_ran_scalar_code_regroup_after_a_barrier() {
    let p = asm(
        ".kernel halo\n.param x: ptr u32\n.param out: ptr u32\n.param n: u32\n\
        .shared 1024\n\
        mul.u32 r2, %block, %bdim\nadd.u32 r9, %lane, 1\nsetp.lt.u32 p5, n, 1000\n\
        ldg.u32 r1, [x + %gid*4]\nsts.u32 [shared + %lane*4 + 32], r1\n\
        setp.ge.u32 p1, %lane, 8\n@p1 bra @sync\n\
        setp.ge.u32 p2, %lane, 4\n@p2 bra @right\n\
        add.u32 r4, r2, %lane\nldg.u32 r3, [x + r4*4]\nbra @store\n\
        right:\nmov_imm.u32 r3, 1000\n\
        store:\nsts.u32 [shared + %lane*4], r3\n\
        sync:\nbar.sync\n\
        mov_imm.u32 r6, 0\nmov_imm.u32 r7, 0\nmov_imm.u32 r8, 4\n\
        tap:\nadd.u32 r5, r9, r7\nlds.u32 r10, [shared + r5*4]\nadd.u32 r6, r6, r10\n\
        add.u32 r7, r7, 1\nloop r8, @tap\n\
        sel.u32 r11, p5, 1, 2\nmul.u32 r6, r6, r11\nadd.u32 r6, r6, r2\n\
        stg.u32 [out + %gid*4], r6\nexit\n",
    );
    for (grid, block) in [(2u32, 64u32), (3, 32), (1, 96), (2, 40)] {
        let lanes = (grid * block) as usize;
        let x: Vec<u32> = (0..lanes as u32).map(|i| i * 7 + 3).collect();
        let out = run_all(
            &p,
            grid,
            block,
            &[u32s(&x), zeros(lanes * 4), Arg::Scalar(999)],
        );
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let got = to_u32(out.buf(1));
        for b in 0..grid as usize {
            let bd = block as usize;
            // The shared tile: 8 words of halo (x of the block's first 4 lanes, then 1000s),
            // then the block's x.
            let tile: Vec<u32> = (0..8)
                .map(|i| if i < 4 { x[b * bd + i] } else { 1000 })
                .chain((0..bd).map(|l| x[b * bd + l]))
                .collect();
            for l in 0..bd {
                let sum: u32 = (0..4)
                    .map(|t| tile.get(l + 1 + t).copied().unwrap_or(0))
                    .sum();
                assert_eq!(
                    got[b * bd + l],
                    sum + (b * bd) as u32,
                    "{grid}x{block} lane {l}"
                );
            }
        }
    }
}

/// Groups whose lanes the per-lane code brought to a barrier stay per-lane code after it
/// when vector code could not hold them, each case on its own: a "uniform" register or
/// predicate the lanes set differently on divergent paths, a lane-affine register whose
/// lanes are not `v + l`, lanes that exited, lanes that took different numbers of backward
/// branches (their fuel), and lanes parked inside a call.
#[test]
fn groups_stay_per_lane_code_where_their_lanes_differ() {
    // Lanes whose x is at least 50 take the side that sets r4, r5 and p4 differently.
    let side = |after: &str| {
        asm(&format!(
            ".kernel differ\n.param x: ptr u32\n.param out: ptr u32\n\
             ldg.u32 r1, [x + %gid*4]\nmov_imm.u32 r4, 7\nsetp.lt.u32 p4, r4, 100\n\
             setp.lt.u32 p1, r1, 50\n@p1 bra @skip\nldg.u32 r1, [x + %gid*4]\n\
             mov_imm.u32 r4, 9\nsetp.lt.u32 p4, r4, 0\nskip:\nadd.u32 r5, %lane, r4\n\
             bar.sync\n{after}\nstg.u32 [out + %gid*4], r6\nexit\n"
        ))
    };
    // What each lane stores, from its x and lane index.
    type Want = fn(u32, u32) -> u32;
    let cases: [(&str, Want); 3] = [
        (
            "mul.u32 r6, r4, 1000",
            |x, _| if x < 50 { 7000 } else { 9000 },
        ),
        ("sel.u32 r6, p4, 1, 2", |x, _| if x < 50 { 1 } else { 2 }),
        ("mov.u32 r6, r5", |x, l| l + if x < 50 { 7 } else { 9 }),
    ];
    for (after, want) in cases {
        let p = side(after);
        for (grid, block) in [(2u32, 64u32), (3, 32)] {
            let lanes = (grid * block) as usize;
            let x: Vec<u32> = (0..lanes as u32).map(|i| (i * 37) % 100).collect();
            let out = run_all(&p, grid, block, &[u32s(&x), zeros(lanes * 4)]);
            assert_eq!(out.trap.kind, 0);
            let got = to_u32(out.buf(1));
            for g in 0..lanes {
                assert_eq!(got[g], want(x[g], g as u32 % block), "{after}: lane {g}");
            }
        }
    }
    // Lanes whose x is 0 exit first.
    let exits = asm(".kernel exits\n.param x: ptr u32\n.param out: ptr u32\n\
        ldg.u32 r2, [x + %gid*4]\nsetp.eq.u32 p3, r2, 0\n@p3 bra @done\nbar.sync\n\
        add.u32 r1, %gid, 1\nstg.u32 [out + %gid*4], r1\ndone:\nexit\n");
    let x: Vec<u32> = (0..128u32).map(|g| u32::from(g % 7 != 3)).collect();
    let out = run_all(&exits, 2, 64, &[u32s(&x), zeros(128 * 4)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<u32> = (0..128u32).map(|g| (g + 1) * x[g as usize]).collect();
    assert_eq!(to_u32(out.buf(1)), want);
    // Lanes loop x[gid] times before the barrier (their fuel differs; the counter is dead
    // after it), then n - 1 backward branches: with fuel for lane 0's loops only, lane 1,
    // which looped twice, traps.
    let fuel = asm(
        ".kernel fuel\n.param x: ptr u32\n.param out: ptr u32\n.param n: u32\n\
        ldg.u32 r1, [x + %gid*4]\nmov_imm.u32 r2, 0\n\
        a:\nsetp.ge.u32 p0, r2, r1\n@p0 bra @wait\nadd.u32 r2, r2, 1\nbra @a\n\
        wait:\nbar.sync\nmov_imm.u32 r3, 0\n\
        b:\nadd.u32 r3, r3, 1\nsetp.lt.u32 p0, r3, n\n@p0 bra @b\n\
        stg.u32 [out + %gid*4], r3\nexit\n",
    );
    let x: Vec<u32> = (0..64).map(|i| if i == 1 { 2 } else { 0 }).collect();
    let args = [u32s(&x), zeros(64 * 4), Arg::Scalar(6)];
    let out = run_all_fuel(&fuel, 1, 64, &args, 6);
    assert_eq!(out.trap, trap(TrapKind::OutOfFuel, 10, 0, 1, 0, 0));
    let out = run_all_fuel(&fuel, 1, 64, &args, 7);
    assert_eq!(out.trap.kind, 0);
    assert_eq!(to_u32(out.buf(1)), vec![6; 64]);
    // Every lane parks inside a call, where vector code never runs: its group stays
    // per-lane code, and each lane returns through its frame after the barrier.
    let call = asm(".kernel inside\n.param out: ptr u32\n\
        and.u32 r9, %lane, 1\ncall @f\nadd.u32 r1, r1, r9\nstg.u32 [out + %gid*4], r1\nexit\n\
        f:\nbar.sync\nadd.u32 r1, r1, 10\nret\n");
    let out = run_all(&call, 2, 64, &[zeros(128 * 4)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<u32> = (0..128u32).map(|g| 10 + g % 2).collect();
    assert_eq!(to_u32(out.buf(0)), want);
}
