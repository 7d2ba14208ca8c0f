//! A phased kernel compiled with `JitOptions::partial` runs a block's partial last group as
//! vector code with phantom lanes past the block (jit/src/vector/partial.rs): the phantoms
//! must never store, trap, reach a barrier's fold or be resumed after a lane below them
//! trapped. Every strategy, with and without the option, must agree with the all-scalar
//! phased strategy (`run_partial`).
mod common;
use common::*;
use holovm_jit::{compile, CompiledKernel, JitOptions, LaunchVariant, Strategy, TrapKind};

/// Runs under every strategy of [`partial_opts`] and checks they agree.
fn run_partial(program: &holovm_isa::Program, grid: u32, block: u32, args: &[Arg]) -> Out {
    run_each(&partial_opts(), program, grid, block, args, 1 << 26)
}

/// Grid-stride f32 partial sums folded with `reduce.add` (lane order, so the bits depend
/// on which lanes take part), stored by every lane at `%gid`.
const FSUM: &str = ".kernel fsum\n.param x: ptr f32\n.param out: ptr f32\n.param n: u32\n\
    mul.u32 r5, %gdim, %bdim\nmov_imm.f32 r1, 0.0\nmov.u32 r2, %gid\n\
    next:\nsetp.ge.u32 p0, r2, n\n@p0 bra @combine\nldg.f32 r3, [x + r2*4]\n\
    add.f32 r1, r1, r3\nadd.u32 r2, r2, r5\nbra @next\n\
    combine:\nreduce.add.f32 r1, r1\nstg.f32 [out + %gid*4], r1\nexit\n";

/// Lane-order f32 sum of lane `l`'s grid-stride elements, over the block's lanes.
fn block_sum(x: &[f32], block: usize, lanes: usize, b: usize) -> f32 {
    (0..block)
        .map(|l| {
            x.iter()
                .skip(b * block + l)
                .step_by(lanes)
                .fold(0.0f32, |a, v| a + v)
        })
        .fold(None, |a: Option<f32>, v| Some(a.map_or(v, |a| a + v)))
        .unwrap_or(0.0)
}

/// `p` compiled with groups of 32 lanes, without the option (a main kernel).
fn groups_of_32(p: &holovm_isa::Program) -> CompiledKernel {
    let opts = JitOptions {
        group: 32,
        ..JitOptions::default()
    };
    compile(p, &opts).expect("compile")
}

#[test]
fn the_strategy_says_where_partial_groups_run_with_phantom_lanes() {
    let reason = |partial| {
        let opts = JitOptions {
            partial,
            ..JitOptions::default()
        };
        match compile(&asm(FSUM), &opts).expect("compile").strategy() {
            Strategy::Phased { reason } => reason.clone(),
            other => panic!("expected the phased strategy, got {other}"),
        }
    };
    let with = reason(true);
    assert!(
        with.contains("last group runs as vector code with phantom lanes"),
        "{with}"
    );
    let without = reason(false);
    assert!(
        without.contains("with a variant that runs it as vector code"),
        "{without}"
    );
    // A store in a loop writes the real lanes only: it keeps the variant, but where a
    // narrower group fits the block's lanes, the VM runs that instead.
    let p = asm(
        ".kernel st\n.param y: ptr f32\n.param n: u32\nmov.u32 r2, %lane\n\
        top:\nsetp.ge.u32 p0, r2, n\n@p0 bra @done\nstg.f32 [y + r2*4], 1.0\n\
        add.u32 r2, r2, %bdim\nbra @top\ndone:\nbar.sync\nexit\n",
    );
    let opts = JitOptions {
        partial: true,
        group: 32,
        ..JitOptions::default()
    };
    let k = compile(&p, &opts).expect("compile");
    assert!(k.partial_groups());
    let main = groups_of_32(&p);
    // 100 = 3 x 32 + 4 and 250 = 7 x 32 + 26: no narrower group fits better; 48 = 32 + 16
    // fits groups of 16 (a sum without the store takes the partial group of 32).
    assert_eq!(main.variant_for(1, 100), Some(LaunchVariant::Partial));
    assert_eq!(main.variant_for(1, 250), Some(LaunchVariant::Partial));
    assert_eq!(main.variant_for(1, 48), Some(LaunchVariant::Narrower(16)));
    let sum = groups_of_32(&asm(FSUM));
    assert_eq!(sum.variant_for(1, 48), Some(LaunchVariant::Partial));
    assert!(compile(&asm(FSUM), &opts)
        .expect("compile")
        .partial_groups());
}

#[test]
fn launches_whose_blocks_end_in_a_partial_group_fit_the_variant() {
    let k = groups_of_32(&asm(FSUM));
    assert!(!k.partial_groups());
    // 250 = 7 x 32 + 26, 100 = 3 x 32 + 4, 20 < 32 (five groups of 4 would fit it); 97
    // leaves one lane, 256 none; 16 is one group of 16, 8 one of 8.
    for (block, fits) in [
        (250, true),
        (100, true),
        (20, true),
        (97, false),
        (256, false),
        (16, false),
        (8, false),
    ] {
        assert_eq!(k.partial_variant_fits(1, block), fits, "block {block}");
        if fits {
            assert_eq!(k.narrower_group(1, block), None, "block {block}");
        }
    }
    assert_eq!(k.narrower_group(1, 16), Some(16));
    assert_eq!(k.narrower_group(1, 8), Some(8));
    // One decision answers both questions.
    assert_eq!(k.variant_for(1, 250), Some(LaunchVariant::Partial));
    assert_eq!(k.variant_for(1, 16), Some(LaunchVariant::Narrower(16)));
    assert_eq!(k.variant_for(1, 256), None);
}

#[test]
fn a_partial_group_folds_only_the_blocks_lanes() {
    // Groups of 4, 8 and 16 (all_opts): blocks leave 1-15 lanes after the last full group,
    // some at least four (two in groups of 4: a partial vector group), some fewer (per-lane).
    for (grid, block, n) in [
        (1u32, 13u32, 1000u32),
        (2, 29, 777),
        (1, 61, 4096),
        (3, 22, 95),
    ] {
        let lanes = (grid * block) as usize;
        let x: Vec<f32> = (0..n).map(|i| 1.0 + (i % 97) as f32 * 0.37).collect();
        let out = run_partial(
            &asm(FSUM),
            grid,
            block,
            &[f32s(&x), zeros(lanes * 4), Arg::Scalar(n as u64)],
        );
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let got = to_f32(out.buf(1));
        for b in 0..grid as usize {
            let want = block_sum(&x, block as usize, lanes, b);
            for l in 0..block as usize {
                assert_eq!(
                    got[b * block as usize + l].to_bits(),
                    want.to_bits(),
                    "{grid}x{block} block {b} lane {l}"
                );
            }
        }
    }
}

#[test]
fn phantom_lanes_do_not_store() {
    // `out` has room past the grid's lanes, where the last block's phantoms would store;
    // earlier blocks' phantoms would store into the next block's entries. Each lane stores
    // in the first phase, and again after a barrier (where a partial group resumes).
    let p = asm(".kernel s\n.param out: ptr u32\n\
        reduce.max.u32 r1, %lane\nadd.u32 r2, r1, %lane\nstg.u32 [out + %gid*4], r2\n\
        bar.sync\nmul.u32 r3, r2, 3\nldg.u32 r4, [out + %gid*4]\nadd.u32 r3, r3, r4\n\
        stg.u32 [out + %gid*4], r3\nexit\n");
    for (grid, block) in [(1u32, 7u32), (2, 13), (3, 30), (1, 100)] {
        let lanes = (grid * block) as usize;
        let out = run_partial(&p, grid, block, &[zeros((lanes + 64) * 4)]);
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let got = to_u32(out.buf(0));
        for (g, &v) in got.iter().enumerate() {
            let l = (g % block as usize) as u32;
            let want = if g < lanes { (block - 1 + l) * 4 } else { 0 };
            assert_eq!(v, want, "{grid}x{block} gid {g}");
        }
    }
}

#[test]
fn phantom_lanes_do_not_store_to_shared_memory_or_64_bit_elements() {
    // Each lane writes its 64-bit value to shared memory, then reads its right-hand
    // neighbour's (the last lane wraps to lane 0): a phantom's shared store would replace
    // the entry past the block, which no real lane reads, so the block also writes a sum of
    // the whole shared memory from lane 0 after a second barrier.
    let p = asm(
        ".kernel sh\n.param out: ptr u64\n.param total: ptr u64\n.shared 2048\n\
        mul.u64 r1, %lane, 3\nadd.u64 r1, r1, 7\nsts.u64 [shared + %lane*8], r1\nbar.sync\n\
        add.u32 r2, %lane, 1\nrem.u32 r2, r2, %bdim\nlds.u64 r3, [shared + r2*8]\n\
        stg.u64 [out + %gid*8], r3\nbar.sync\nsetp.ne.u32 p0, %lane, 0\n@p0 bra @done\n\
        mov_imm.u64 r4, 0\nmov_imm.u32 r5, 0\nnext:\nlds.u64 r6, [shared + r5*8]\n\
        add.u64 r4, r4, r6\nadd.u32 r5, r5, 1\nsetp.lt.u32 p1, r5, 256\n@p1 bra @next\n\
        stg.u64 [total + %block*8], r4\ndone:\nexit\n",
    );
    for (grid, block) in [(1u32, 7u32), (2, 13), (3, 30), (1, 100)] {
        let lanes = (grid * block) as usize;
        let out = run_partial(
            &p,
            grid,
            block,
            &[zeros((lanes + 64) * 8), zeros(grid as usize * 8)],
        );
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let v = |l: u64| l * 3 + 7;
        let got = to_u64(out.buf(0));
        for (g, &x) in got.iter().enumerate() {
            let l = (g % block as usize) as u64;
            let want = if g < lanes {
                v((l + 1) % u64::from(block))
            } else {
                0
            };
            assert_eq!(x, want, "{grid}x{block} gid {g}");
        }
        let sum: u64 = (0..u64::from(block)).map(v).sum();
        assert_eq!(
            to_u64(out.buf(1)),
            vec![sum; grid as usize],
            "{grid}x{block}"
        );
    }
}

#[test]
fn phantom_lanes_do_not_store_in_loops() {
    // Rows of `cols` columns, one per block; lane `l` takes columns `l, l + %bdim, ...` in two
    // loops, storing `l * 1000 + j` to `y` and to shared memory, then (after a barrier) each
    // column from shared memory to `z`. A phantom lane `p` would store `p * 1000 + j` over a
    // real lane's column, or past the last row.
    let p = asm(
        ".kernel rows\n.param y: ptr u32\n.param z: ptr u32\n.param cols: u32\n\
        .shared 4096\nmul.u32 r10, %block, cols\nmov.u32 r2, %lane\n\
        one:\nsetp.ge.u32 p0, r2, cols\n@p0 bra @mid\nadd.u32 r3, r10, r2\n\
        mul.u32 r4, %lane, 1000\nadd.u32 r4, r4, r2\nstg.u32 [y + r3*4], r4\n\
        sts.u32 [shared + r2*4], r4\nadd.u32 r2, r2, %bdim\nbra @one\n\
        mid:\nbar.sync\nmov.u32 r2, %lane\n\
        two:\nsetp.ge.u32 p1, r2, cols\n@p1 bra @done\nadd.u32 r3, r10, r2\n\
        lds.u32 r5, [shared + r2*4]\nstg.u32 [z + r3*4], r5\nadd.u32 r2, r2, %bdim\n\
        bra @two\ndone:\nexit\n",
    );
    for (grid, block, cols) in [
        (2u32, 13u32, 40u32),
        (3, 30, 100),
        (1, 60, 200),
        (2, 100, 333),
        (1, 250, 1000),
    ] {
        let n = (grid * cols) as usize;
        let out = run_partial(
            &p,
            grid,
            block,
            &[
                zeros((n + 64) * 4),
                zeros((n + 64) * 4),
                Arg::Scalar(cols.into()),
            ],
        );
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let want: Vec<u32> = (0..n + 64)
            .map(|i| {
                let j = i as u32 % cols;
                if i < n {
                    (j % block) * 1000 + j
                } else {
                    0
                }
            })
            .collect();
        assert_eq!(to_u32(out.buf(0)), want, "y, {grid}x{block} cols {cols}");
        assert_eq!(to_u32(out.buf(1)), want, "z, {grid}x{block} cols {cols}");
    }
}

/// An in-place row scaling without barriers: block `b` multiplies row `b` of `y` (`cols`
/// columns, lanes striding over them) by `s[b]`, a lane's `%lane + 1` added. It loads the
/// buffer it stores to, so a partial group cannot run again as the group ending at the
/// block's last lane (vector/tail.rs): it runs with phantom lanes in the variant.
const ROW_SCALE: &str = ".kernel row_scale\n.param y: ptr u32\n.param s: ptr u32\n\
    .param cols: u32\nmul.u32 r10, %block, cols\nldg.u32 r6, [s + %block*4]\n\
    mov.u32 r2, %lane\ntop:\nsetp.ge.u32 p0, r2, cols\n@p0 bra @done\n\
    add.u32 r3, r10, r2\nldg.u32 r4, [y + r3*4]\nmul.u32 r4, r4, r6\n\
    add.u32 r4, r4, %lane\nadd.u32 r4, r4, 1\nstg.u32 [y + r3*4], r4\n\
    add.u32 r2, r2, %bdim\nbra @top\ndone:\nexit\n";

#[test]
fn kernels_without_barriers_run_partial_groups_with_phantom_lanes_where_lanes_cannot_rerun() {
    let p = asm(ROW_SCALE);
    let opts = JitOptions {
        partial: true,
        group: 32,
        ..JitOptions::default()
    };
    let with = compile(&p, &opts).expect("compile");
    assert!(with.partial_groups());
    match with.strategy() {
        Strategy::Vector { detail, .. } => assert!(
            detail.contains("last group runs as vector code with phantom lanes"),
            "{detail}"
        ),
        other => panic!("expected the vector strategy, got {other}"),
    }
    let main = groups_of_32(&p);
    assert_eq!(main.variant_for(64, 250), Some(LaunchVariant::Partial));
    assert_eq!(main.variant_for(64, 256), None);
    // A kernel whose partial group reruns its first lanes (it loads nothing it stores),
    // and one whose blocks run as one, need no phantoms.
    for src in [
        ".kernel rerun\n.param x: ptr u32\n.param y: ptr u32\nldg.u32 r1, [x + %gid*4]\n\
         add.u32 r1, r1, %lane\nstg.u32 [y + %gid*4], r1\nexit\n",
        ".kernel runs\n.param y: ptr u32\nldg.u32 r1, [y + %gid*4]\nadd.u32 r1, r1, 1\n\
         stg.u32 [y + %gid*4], r1\nexit\n",
    ] {
        let k = compile(&asm(src), &opts).expect("compile");
        assert!(!k.partial_groups(), "{src}");
        assert_eq!(groups_of_32(&asm(src)).variant_for(4, 250), None, "{src}");
    }
}

#[test]
fn phantom_lanes_of_kernels_without_barriers_leave_memory_alone() {
    let p = asm(ROW_SCALE);
    for (grid, block, cols) in [
        (2u32, 13u32, 40u32),
        (3, 30, 100),
        (1, 60, 200),
        (2, 100, 333),
        (2, 250, 1000),
    ] {
        let n = (grid * cols) as usize;
        let y: Vec<u32> = (0..n + 64).map(|i| i as u32 * 7 + 3).collect();
        let s: Vec<u32> = (0..grid).map(|b| b + 2).collect();
        let out = run_partial(
            &p,
            grid,
            block,
            &[u32s(&y), u32s(&s), Arg::Scalar(cols.into())],
        );
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let want: Vec<u32> = (0..n + 64)
            .map(|i| match i < n {
                true => {
                    let (b, j) = ((i / cols as usize) as u32, i as u32 % cols);
                    y[i].wrapping_mul(b + 2).wrapping_add(j % block + 1)
                }
                false => y[i],
            })
            .collect();
        assert_eq!(to_u32(out.buf(0)), want, "{grid}x{block} cols {cols}");
    }
}

#[test]
fn a_real_lane_of_a_partial_group_without_barriers_traps_where_the_scalar_code_does() {
    // `y` ends `len` elements into the row: the lowest lane with a column in `len..cols`
    // traps at its load (pc 6), from the last full group or a partial one's real lanes.
    let p = asm(ROW_SCALE);
    for (block, cols, len) in [
        (60u32, 240u32, 220u32),
        (60, 240, 232),
        (60, 240, 239),
        (45, 180, 175),
        (45, 180, 170),
    ] {
        let y: Vec<u32> = vec![1; len as usize];
        let out = run_partial(
            &p,
            1,
            block,
            &[u32s(&y), u32s(&[3]), Arg::Scalar(cols.into())],
        );
        // Lane `l`'s first column at or past `len`, if it has one below `cols`.
        let first_bad = |l: u32| {
            let c = if l >= len {
                l
            } else {
                l + (len - l).div_ceil(block) * block
            };
            (c < cols).then_some(c)
        };
        let (lane, col) = (0..block)
            .find_map(|l| first_bad(l).map(|c| (l, c)))
            .expect("a lane traps");
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, 6, 0, lane, 0, i128::from(col) * 4),
            "block {block} cols {cols} len {len}"
        );
    }
}

#[test]
fn phantom_lanes_do_not_store_in_masked_code() {
    // Lanes whose `y` is 1 (the first three of every block but the first) run an `if`:
    // a uniform store of 7 to `out[%block]`, an in-place store to `y`, and an `if`/`else`
    // pair of stores to `z[%block * 64 + %lane]`. In the first block only its phantoms
    // (lanes 45.., whose `%gid` is the second block's) find a 1, and must store nothing:
    // `out[0]` and `z`'s entries past each block's lanes stay 0. The second kernel is the
    // same after a barrier (phased).
    let body = "ldg.u32 r1, [y + %gid*4]\nmul.u32 r5, %block, 64\nadd.u32 r5, r5, %lane\n\
        setp.ne.u32 p0, r1, 1\n@p0 bra @other\nstg.u32 [out + %block*4], 7\n\
        mul.u32 r2, %lane, 3\nstg.u32 [y + %gid*4], r2\nstg.u32 [z + r5*4], 100\n\
        bra @join\nother:\nstg.u32 [z + r5*4], r1\njoin:\nexit\n";
    let head = ".param y: ptr u32\n.param out: ptr u32\n.param z: ptr u32\n";
    for src in [
        format!(".kernel ms\n{head}{body}"),
        format!(".kernel ms_phased\n{head}bar.sync\n{body}"),
    ] {
        let p = asm(&src);
        let (grid, block) = (3u32, 45u32);
        let n = (grid * block) as usize;
        let special = |g: usize| g >= block as usize && g % block as usize % 45 < 3;
        let y: Vec<u32> = (0..n)
            .map(|g| if special(g) { 1 } else { g as u32 + 5 })
            .collect();
        let out = run_partial(
            &p,
            grid,
            block,
            &[
                u32s(&y),
                zeros(grid as usize * 4),
                zeros(grid as usize * 64 * 4),
            ],
        );
        assert_eq!(out.trap.kind, 0, "{src}");
        assert_eq!(to_u32(out.buf(1)), vec![0, 7, 7], "{src}");
        let want_y: Vec<u32> = (0..n)
            .map(|g| match special(g) {
                true => (g % block as usize) as u32 * 3,
                false => y[g],
            })
            .collect();
        assert_eq!(to_u32(out.buf(0)), want_y, "{src}");
        let want_z: Vec<u32> = (0..grid as usize * 64)
            .map(|i| {
                let (b, l) = (i / 64, i % 64);
                let g = b * block as usize + l;
                match (l < block as usize, special(g)) {
                    (false, _) => 0,
                    (true, true) => 100,
                    (true, false) => y[g],
                }
            })
            .collect();
        assert_eq!(to_u32(out.buf(2)), want_z, "{src}");
    }
}

#[test]
fn phantom_lanes_do_not_store_an_if_else_pair() {
    // Every lane stores one of an `if`/`else` pair to `z[%gid]` (one vector store of both
    // sides' values where the lanes disagree, masked_store.rs). The buffers reach 64
    // elements past the grid's lanes, so the last block's phantoms have data there and
    // would store to it.
    let p = asm(
        ".kernel pair\n.param y: ptr u32\n.param z: ptr u32\nbar.sync\n\
        ldg.u32 r1, [y + %gid*4]\nsetp.ne.u32 p0, r1, 1\n@p0 bra @other\n\
        stg.u32 [z + %gid*4], 100\nbra @end\nother:\nstg.u32 [z + %gid*4], r1\n\
        end:\nexit\n",
    );
    for (grid, block) in [(3u32, 45u32), (2, 13), (3, 30), (2, 100)] {
        let n = (grid * block) as usize;
        let y: Vec<u32> = (0..n + 64)
            .map(|g| if g % 3 == 0 { 1 } else { g as u32 + 5 })
            .collect();
        let out = run_partial(&p, grid, block, &[u32s(&y), zeros((n + 64) * 4)]);
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let want: Vec<u32> = (0..n + 64)
            .map(|g| match (g < n, y[g] == 1) {
                (false, _) => 0,
                (true, true) => 100,
                (true, false) => y[g],
            })
            .collect();
        assert_eq!(to_u32(out.buf(1)), want, "{grid}x{block}");
    }
}

#[test]
fn phantom_lanes_do_not_trap() {
    // `100 / (%bdim - %lane)` divides by zero in the first phantom lane only.
    let p = asm(".kernel q\n.param out: ptr u32\n\
        sub.u32 r1, %bdim, %lane\ndiv.u32 r2, 100, r1\nadd.u32 r2, r2, %lane\n\
        reduce.max.u32 r3, r2\nadd.u32 r3, r3, r2\nstg.u32 [out + %gid*4], r3\nexit\n");
    for (grid, block) in [(1u32, 7u32), (2, 13), (3, 30), (1, 100)] {
        let lanes = (grid * block) as usize;
        let out = run_partial(&p, grid, block, &[zeros(lanes * 4)]);
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let got = to_u32(out.buf(0));
        let r2 = |l: u32| 100 / (block - l) + l;
        let max = (0..block).map(r2).max().unwrap_or(0);
        for (g, &v) in got.iter().enumerate() {
            assert_eq!(v, max + r2(g as u32 % block), "{grid}x{block} gid {g}");
        }
    }
    // Without barriers (the kernel adds to `out` in place, so it takes phantom lanes): the
    // group leaves vector code at the division, and the per-lane code runs its real lanes.
    let p = asm(".kernel q2\n.param out: ptr u32\n\
        sub.u32 r1, %bdim, %lane\ndiv.u32 r2, 100, r1\nadd.u32 r2, r2, %lane\n\
        ldg.u32 r3, [out + %gid*4]\nadd.u32 r3, r3, r2\nstg.u32 [out + %gid*4], r3\nexit\n");
    for (grid, block) in [(2u32, 7u32), (2, 13), (3, 30), (2, 100)] {
        let lanes = (grid * block) as usize;
        let start: Vec<u32> = (0..lanes as u32).collect();
        let out = run_partial(&p, grid, block, &[u32s(&start)]);
        assert_eq!(out.trap.kind, 0, "{grid}x{block}");
        let r2 = |l: u32| 100 / (block - l) + l;
        let want: Vec<u32> = (0..lanes as u32).map(|g| g + r2(g % block)).collect();
        assert_eq!(to_u32(out.buf(0)), want, "{grid}x{block}");
    }
}

#[test]
fn a_real_lane_of_a_partial_group_traps_where_the_scalar_code_does() {
    // x is short: the lanes from `len` on trap at their one element, in a block whose last
    // group is partial for groups of 8 and 16.
    for len in [37usize, 50, 58, 59] {
        let out = run_partial(
            &asm(FSUM),
            1,
            60,
            &[f32s(&vec![1.0; len]), zeros(60 * 4), Arg::Scalar(60)],
        );
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, 5, 0, len as u32, 0, len as i128 * 4),
            "len {len}"
        );
    }
}

#[test]
fn a_partial_group_does_not_resume_above_a_trapped_lane() {
    // Phase 1 reduces; in phase 2 lane `k` traps (division by zero), which stops it and
    // every lane above it, a partial group's too; lanes below it go on to phase 3 and
    // store.
    let p = asm(".kernel t\n.param out: ptr u32\n.param k: u32\n\
        reduce.add.u32 r1, %lane\nsub.u32 r2, %lane, k\nsetp.eq.u32 p0, r2, 0\n\
        sel.u32 r3, p0, 0, 1\ndiv.u32 r4, r1, r3\nbar.sync\n\
        add.u32 r4, r4, %lane\nstg.u32 [out + %gid*4], r4\nexit\n");
    for (block, k) in [(30u32, 3u64), (30, 27), (45, 40), (45, 44)] {
        let out = run_partial(&p, 1, block, &[zeros(block as usize * 4), Arg::Scalar(k)]);
        let t = out.trap;
        assert_eq!(t.kind, TrapKind::DivideByZero.code(), "block {block} k {k}");
        assert_eq!((t.pc, t.lane), (4, k as u32), "block {block} k {k}");
        // Only the lanes below `k` got past the barrier.
        let sum = block * (block - 1) / 2;
        for (l, &v) in to_u32(out.buf(0)).iter().enumerate() {
            let want = if (l as u64) < k { sum + l as u32 } else { 0 };
            assert_eq!(v, want, "block {block} k {k} lane {l}");
        }
    }
}
