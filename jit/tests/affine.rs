//! Lane-affine registers (lane `l` of a group holds `v + l`): grid-stride loops, affine
//! predicates, wrap-around, 64-bit indices and traps, under every strategy (the scalar one
//! is the reference: `run_all` checks that all agree).
mod common;
use common::*;
use holovm_jit::{compile, JitOptions, Strategy, TrapKind};

/// The shape of the operations library's folds: lane `g` of `L` sums `x[g], x[g + L], ...`.
const GRID_STRIDE_SUM: &str =
    ".kernel gsum\n.param x: ptr f32\n.param out: ptr f32\n.param n: u32\n\
    mul.u32 r30, %gdim, %bdim\nmov_imm.f32 r20, 0.0\nmov.u32 r21, %gid\n\
    next:\nsetp.ge.u32 p0, r21, n\n@p0 bra @store\nldg.f32 r0, [x + r21*4]\n\
    add.f32 r20, r20, r0\nadd.u32 r21, r21, r30\nbra @next\n\
    store:\nstg.f32 [out + %gid*4], r20\nexit\n";

#[test]
fn grid_stride_sum_is_vector_code_with_an_affine_index() {
    let detail = vector_detail(GRID_STRIDE_SUM);
    assert!(
        detail.contains("lane-affine registers (lane l = lane 0 + l, kept as one scalar): r21"),
        "{detail}"
    );
    for (grid, block, n) in [(1, 32, 1000), (3, 16, 999), (2, 8, 5), (1, 24, 24)] {
        let lanes = (grid * block) as usize;
        let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32 - 6.0).collect();
        let out = run_all(
            &asm(GRID_STRIDE_SUM),
            grid,
            block,
            &[f32s(&x), zeros(lanes * 4), Arg::Scalar(n as u64)],
        );
        assert_eq!(out.trap.kind, 0);
        let got = to_f32(out.buf(1));
        for (g, &v) in got.iter().enumerate() {
            let want: f32 = x.iter().skip(g).step_by(lanes).sum();
            assert_eq!(v, want, "lane {g} of {grid}x{block}, n = {n}");
        }
    }
}

#[test]
fn out_of_bounds_in_any_lane_of_a_group_traps_like_the_interpreter() {
    // The loop reads x[i] for i < n = len + 1: only the lane that reaches index `len`
    // traps, wherever it falls in a group.
    for len in 1..=20usize {
        let out = run_all(
            &asm(GRID_STRIDE_SUM),
            1,
            8,
            &[
                f32s(&vec![1.0; len]),
                zeros(32),
                Arg::Scalar(len as u64 + 1),
            ],
        );
        let lane = (len % 8) as u32;
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, 5, 0, lane, 0, len as i128 * 4),
            "x of {len} elements"
        );
    }
}

#[test]
fn affine_arithmetic_wraps_like_scalar_code() {
    // i = %gid + start wraps past 2^32 inside a group; the predicate `i < 4` and the
    // stored values must match lane by lane.
    for start in [0u32, 1, 0xFFFF_FFF0, 0xFFFF_FFFA, 0xFFFF_FFFD, 0x7FFF_FFFA] {
        for (cmp, ty) in [
            ("lt", "u32"),
            ("le", "u32"),
            ("gt", "u32"),
            ("ge", "u32"),
            ("lt", "i32"),
            ("ge", "i32"),
        ] {
            let src = format!(
                ".kernel wrap\n.param out: ptr u32\n.param start: u32\n\
                 add.u32 r1, %gid, start\nsetp.{cmp}.{ty} p0, r1, 4\n\
                 sel.u32 r2, p0, r1, 7\nstg.u32 [out + %gid*4], r2\n\
                 @p0 bra @skip\nsub.u32 r3, r1, start\nmul.u32 r3, r3, 3\n\
                 stg.u32 [out + %gid*4], r3\nskip:\nexit\n"
            );
            let out = run_all(&asm(&src), 2, 16, &[zeros(128), Arg::Scalar(start as u64)]);
            assert_eq!(out.trap.kind, 0);
            let got = to_u32(out.buf(0));
            for (g, &v) in got.iter().enumerate() {
                let i = (g as u32).wrapping_add(start);
                let p = match (cmp, ty) {
                    ("lt", "u32") => i < 4,
                    ("le", "u32") => i <= 4,
                    ("gt", "u32") => i > 4,
                    ("ge", "u32") => i >= 4,
                    ("lt", _) => (i as i32) < 4,
                    _ => (i as i32) >= 4,
                };
                let want = if p { i } else { g as u32 * 3 };
                assert_eq!(v, want, "setp.{cmp}.{ty}, start {start:#x}, lane {g}");
            }
        }
    }
}

#[test]
fn uniform_on_the_left_and_64_bit_indices() {
    // `n > i` (uniform first), a u64 grid-stride index, and a wrapped 64-bit start.
    let src = ".kernel w\n.param x: ptr f64\n.param y: ptr f64\n.param n: u64\n.param s: u64\n\
        mov.u64 r1, %gid\nadd.u64 r1, r1, s\nsub.u64 r1, r1, s\n\
        loop:\nsetp.gt.u64 p0, n, r1\n@!p0 bra @done\nldg.f64 r2, [x + r1*8]\n\
        mul.f64 r2, r2, 2.0\nstg.f64 [y + r1*8], r2\nadd.u64 r1, r1, 40\nbra @loop\ndone:\nexit\n";
    let detail = vector_detail(src);
    assert!(detail.contains("one scalar): r1;"), "{detail}");
    let x: Vec<f64> = (0..203).map(|i| i as f64 * 0.5).collect();
    for s in [0u64, 7, u64::MAX - 3] {
        let out = run_all(
            &asm(src),
            5,
            8,
            &[f64s(&x), zeros(203 * 8), Arg::Scalar(203), Arg::Scalar(s)],
        );
        assert_eq!(out.trap.kind, 0);
        let want: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
        assert_eq!(to_f64(out.buf(1)), want);
    }
}

#[test]
fn affine_values_used_as_plain_values_and_strided_indices() {
    // r1 = %lane + 3 is affine; it is also multiplied, converted, compared for equality
    // (not monotone) and used with a scale that is not the element size.
    let src = ".kernel m\n.param y: ptr u32\n.param z: ptr f32\n.param w: ptr u32\n\
        add.u32 r1, %lane, 3\nmul.u32 r2, r1, r1\nstg.u32 [y + %gid*4], r2\n\
        cvt.f32.u32 r3, r1\nstg.f32 [z + %gid*4], r3\n\
        setp.eq.u32 p1, r1, 9\nsel.u32 r4, p1, 1, 0\nstg.u32 [w + r1*8], r4\nexit\n";
    let out = run_all(&asm(src), 1, 16, &[zeros(64), zeros(64), zeros(160)]);
    assert_eq!(out.trap.kind, 0);
    let lanes: Vec<u32> = (0..16).collect();
    assert_eq!(
        to_u32(out.buf(0)),
        lanes.iter().map(|l| (l + 3) * (l + 3)).collect::<Vec<_>>()
    );
    assert_eq!(
        to_f32(out.buf(1)),
        lanes.iter().map(|&l| (l + 3) as f32).collect::<Vec<_>>()
    );
    let w = to_u32(out.buf(2));
    for l in 0..16u32 {
        assert_eq!(w[(2 * (l + 3)) as usize], (l + 3 == 9) as u32, "lane {l}");
    }
    // The strided store runs past `w` (40 u32) from lane 17 on: the trap is lane 17's.
    let out = run_all(&asm(src), 1, 24, &[zeros(96), zeros(96), zeros(160)]);
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 7, 0, 17, 2, 160));
}

#[test]
fn registers_that_are_not_affine_stay_per_lane() {
    // r1 is read before it is written (zero in every lane), r2 gets a loaded value on one
    // path, r3 is a loop counter: none may be treated as lane-affine. (r1's value after
    // its add, %lane, is: as a register of its own, r1/2.)
    let src = ".kernel n\n.param x: ptr u32\n.param y: ptr u32\n\
        add.u32 r1, r1, %lane\nldg.u32 r2, [x + %gid*4]\nsetp.lt.u32 p0, r2, 5\n@p0 bra @a\n\
        mov.u32 r2, %gid\na:\nmov.u32 r3, 3\nmov.u32 r5, %lane\nl:\nadd.u32 r5, r5, r3\nloop r3, @l\n\
        add.u32 r4, r1, r2\nadd.u32 r4, r4, r5\nstg.u32 [y + %gid*4], r4\nexit\n";
    let detail = vector_detail(src);
    assert!(detail.contains("one scalar): r1/2 r5;"), "{detail}");
    let x: Vec<u32> = (0..32).map(|i| (i * 7) % 11).collect();
    let out = run_all(&asm(src), 2, 16, &[u32s(&x), zeros(128)]);
    assert_eq!(out.trap.kind, 0);
    let got = to_u32(out.buf(1));
    for g in 0..32u32 {
        let lane = g % 16;
        let r2 = if x[g as usize] < 5 { x[g as usize] } else { g };
        assert_eq!(got[g as usize], lane + r2 + lane + 6, "lane {g}");
    }
}

#[test]
fn divergent_branches_resume_at_the_setp_right_before_and_only_there() {
    // Divergent lanes of a group re-run the `setp` that computed the guard when it is the
    // instruction right before the branch; the `add` between them in the second kernel must
    // not run twice. Affine (`%lane`) and per-lane (loaded) guards, both branch senses.
    for guard in ["setp.lt.u32 p0, %lane, 5", "setp.lt.u32 p0, r9, 5"] {
        for (sense, taken_when_lt) in [("@p0", true), ("@!p0", false)] {
            let direct = format!(
                ".kernel d\n.param x: ptr u32\n.param y: ptr u32\n\
                 ldg.u32 r9, [x + %gid*4]\nadd.u32 r1, r1, 1\n{guard}\n{sense} bra @skip\n\
                 add.u32 r1, r1, 10\nskip:\nstg.u32 [y + %gid*4], r1\nexit\n"
            );
            let between = format!(
                ".kernel b\n.param x: ptr u32\n.param y: ptr u32\n\
                 ldg.u32 r9, [x + %gid*4]\n{guard}\nadd.u32 r1, r1, 1\n{sense} bra @skip\n\
                 add.u32 r1, r1, 10\nskip:\nstg.u32 [y + %gid*4], r1\nexit\n"
            );
            let x: Vec<u32> = (0..40).map(|i| (i * 7) % 11).collect();
            for src in [direct, between] {
                let out = run_all(&asm(&src), 1, 40, &[u32s(&x), zeros(160)]);
                assert_eq!(out.trap.kind, 0);
                let got = to_u32(out.buf(1));
                for g in 0..40usize {
                    let lt = if guard.contains("%lane") {
                        g < 5
                    } else {
                        x[g] < 5
                    };
                    let skipped = lt == taken_when_lt;
                    assert_eq!(got[g], if skipped { 1 } else { 11 }, "lane {g}: {src}");
                }
            }
        }
    }
    // The branch is also a jump target: lanes 20 and up jump to it past the second `setp`,
    // so their guard is the first one and they must not re-run the `setp` before it.
    let src = ".kernel t\n.param x: ptr u32\n.param y: ptr u32\n\
        ldg.u32 r9, [x + %gid*4]\nsetp.lt.u32 p0, r9, 5\nsetp.ge.u32 p1, %lane, 20\n\
        @p1 bra @check\nsetp.lt.u32 p0, %lane, 3\ncheck:\n@p0 bra @skip\n\
        add.u32 r1, r1, 10\nskip:\nstg.u32 [y + %gid*4], r1\nexit\n";
    let x: Vec<u32> = (0..64).map(|i| (i * 7) % 11).collect();
    let out = run_all(&asm(src), 1, 64, &[u32s(&x), zeros(256)]);
    assert_eq!(out.trap.kind, 0);
    let got = to_u32(out.buf(1));
    for g in 0..64usize {
        let p0 = if g >= 20 { x[g] < 5 } else { g < 3 };
        assert_eq!(got[g], if p0 { 0 } else { 10 }, "lane {g}");
    }
}

#[test]
fn entry_guards_on_gid_bound_the_vector_groups() {
    // `setp P, %gid, n` + `@P bra` at the start: groups wholly below the bound skip both,
    // the rest run per lane. Every form (>=, >, and < / <= with the branch negated), bounds
    // around group and block edges, an immediate bound, and one where the predicate stays
    // live (so the guard is kept).
    let forms = [
        ("setp.ge.u32 p0, %gid, n\n@p0 bra @done", 0u32),
        ("setp.gt.u32 p0, %gid, n\n@p0 bra @done", 1),
        ("setp.lt.u32 p0, %gid, n\n@!p0 bra @done", 0),
        ("setp.le.u32 p0, %gid, n\n@!p0 bra @done", 1),
        ("setp.le.u32 p0, n, %gid\n@p0 bra @done", 0),
        ("setp.ge.u32 p0, %gid, 37\n@p0 bra @done", 0),
    ];
    for (guard, plus) in forms {
        for live in [false, true] {
            let tail = if live { "sel.u32 r3, p0, 7, r3\n" } else { "" };
            let src = format!(
                ".kernel g\n.param x: ptr u32\n.param y: ptr u32\n.param n: u32\n{guard}\n\
                 ldg.u32 r1, [x + %gid*4]\nadd.u32 r3, r1, 1\n{tail}stg.u32 [y + %gid*4], r3\n\
                 done:\nexit\n"
            );
            let detail = vector_detail(&src);
            assert_eq!(
                detail.contains("the entry guard on %gid (pc 0-1) is checked once per block"),
                !live,
                "{detail}"
            );
            let x: Vec<u32> = (0..200).map(|i| i * 3).collect();
            for n in [0u32, 1, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 199] {
                let bound = if guard.contains("37") { 37 } else { n + plus };
                let out = run_all(
                    &asm(&src),
                    3,
                    64,
                    &[u32s(&x), zeros(800), Arg::Scalar(n as u64)],
                );
                assert_eq!(out.trap.kind, 0, "{guard} n {n}");
                let got = to_u32(out.buf(1));
                // With the branch negated, P holds in the lanes that go on: `sel` picks 7.
                let stored = |g: u32| {
                    if live && guard.contains("@!") {
                        7
                    } else {
                        g * 3 + 1
                    }
                };
                for g in 0..192u32 {
                    let want = if g < bound { stored(g) } else { 0 };
                    assert_eq!(got[g as usize], want, "{guard} live {live} n {n} lane {g}");
                }
            }
        }
    }
}

#[test]
fn signed_affine_branches_against_negative_bounds() {
    // x = %gid + off as i32 against a uniform bound u of either sign: the one-compare fast
    // path widens both sides with their sign, so a positive x is never taken to be below a
    // negative u.
    for cmp in ["lt", "le", "gt", "ge"] {
        for (off, u) in [(0i32, -1i32), (-100, -90), (-100, 5), (10, -3), (-40, -40)] {
            let src = format!(
                ".kernel s\n.param y: ptr u32\n.param u: i32\n.param off: i32\n\
                 mov.i32 r1, %gid\nadd.i32 r1, r1, off\nsetp.{cmp}.i32 p0, r1, u\n\
                 mov.u32 r2, 1\n@p0 bra @t\nmov.u32 r2, 2\nt:\nstg.u32 [y + %gid*4], r2\nexit\n"
            );
            let args = [
                zeros(256),
                Arg::Scalar(u as u32 as u64),
                Arg::Scalar(off as u32 as u64),
            ];
            let out = run_all(&asm(&src), 1, 64, &args);
            assert_eq!(out.trap.kind, 0);
            let got = to_u32(out.buf(0));
            for g in 0..64i32 {
                let x = g + off;
                let p = match cmp {
                    "lt" => x < u,
                    "le" => x <= u,
                    "gt" => x > u,
                    _ => x >= u,
                };
                assert_eq!(got[g as usize], if p { 1 } else { 2 }, "{cmp} x {x} u {u}");
            }
        }
    }
}

/// A tiny xorshift generator for the random cases below.
fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn random_affine_programs_agree_with_scalar_code() {
    // Random starts near the wrap points, strides, comparisons, types and buffer lengths:
    // every strategy must give the scalar strategy's result or trap.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let cmps = ["lt", "le", "gt", "ge", "eq", "ne"];
    for case in 0..120 {
        let wide = next(&mut s).is_multiple_of(2);
        let (t, signed) = match next(&mut s) % 2 {
            0 => (if wide { "u64" } else { "u32" }, false),
            _ => (if wide { "i64" } else { "i32" }, true),
        };
        let max: u64 = if wide { u64::MAX } else { u32::MAX as u64 };
        let start = match next(&mut s) % 4 {
            0 => next(&mut s) % 8,
            1 => max - next(&mut s) % 40,
            2 if signed => (max >> 1) - next(&mut s) % 40,
            _ => next(&mut s) % 100,
        };
        let stride = 1 + next(&mut s) % 50;
        let bound = next(&mut s) % 120;
        let cmp = cmps[(next(&mut s) % 6) as usize];
        let swap = next(&mut s).is_multiple_of(2);
        let len = next(&mut s) % 90;
        let cond = if swap {
            format!("setp.{cmp}.{t} p0, bound, r1")
        } else {
            format!("setp.{cmp}.{t} p0, r1, bound")
        };
        let src = format!(
            ".kernel rand{case}\n.param x: ptr u32\n.param y: ptr u32\n.param start: {t}\n.param bound: {t}\n\
             mov.{t} r1, %gid\nadd.{t} r1, r1, start\nmov_imm.u32 r9, 0\nmov_imm.u32 r8, 6\n\
             top:\n{cond}\n@!p0 bra @out\nldg.u32 r2, [x + r1*4]\nadd.u32 r9, r9, r2\n\
             add.{t} r1, r1, {stride}\nloop r8, @top\nout:\nstg.u32 [y + %gid*4], r9\nexit\n"
        );
        let x: Vec<u32> = (0..len as u32).map(|i| i * 3 + 1).collect();
        let _ = run_all(
            &asm(&src),
            3,
            8,
            &[u32s(&x), zeros(96), Arg::Scalar(start), Arg::Scalar(bound)],
        );
    }
}

/// Row/column splits: `%gid / n` is uniform and `%gid % n` lane-affine in a group that does
/// not straddle a multiple of n; groups that do, and n = 0 (the trap), run scalar code.
/// Every strategy (group sizes 4, 8, 32 and scalar) agrees, for `%gid` and `%lane`, 32- and
/// 64-bit, n dividing the group size or not, smaller and larger than a group, n in a register
/// (groups that straddle a row bail out) or a parameter (the group head realigns groups to
/// rows when n is at least a group).
#[test]
fn row_column_splits() {
    for (ty, size, special, barrier, direct) in [
        ("u32", 4, "%gid", "", false),
        ("u64", 8, "%gid", "", false),
        ("u32", 4, "%lane", "", false),
        // Phased: later phases resume whole groups with the quotient read back as uniform.
        ("u32", 4, "%gid", "bar.sync\n", false),
        ("u32", 4, "%gid", "", true),
        ("u64", 8, "%gid", "", true),
        ("u32", 4, "%lane", "", true),
        ("u32", 4, "%gid", "bar.sync\n", true),
    ] {
        // The divisor: the parameter itself, or a register holding it.
        let (decl, cvt, div) = match (direct, ty) {
            (true, _) => (ty, String::new(), "n"),
            (false, "u64") => ("u32", "cvt.u64.u32 r9, n\n".to_string(), "r9"),
            (false, _) => ("u32", "mov.u32 r9, n\n".to_string(), "r9"),
        };
        let pcs = if direct { "pc 0, 1" } else { "pc 1, 2" };
        // out[gid] = row * 1000 + col, read back through a row-indexed load of x.
        let src = format!(
            ".kernel split\n.param x: ptr {ty}\n.param out: ptr {ty}\n.param n: {decl}\n\
             {cvt}div.{ty} r1, {special}, {div}\nrem.{ty} r2, {special}, {div}\n\
             ldg.{ty} r3, [x + r1*{size}]\n{barrier}mul.{ty} r3, r3, 1000\nadd.{ty} r3, r3, r2\n\
             stg.{ty} [out + %gid*{size}], r3\nexit\n"
        );
        let p = asm(&src);
        let k = compile(&p, &JitOptions::default()).expect("compile");
        let detail = match k.strategy() {
            Strategy::Vector { detail, .. } => detail.clone(),
            Strategy::Phased { reason } => reason.clone(),
            other => panic!("{other}"),
        };
        assert!(
            detail.contains(&format!(
                "row/column splits (div/rem, or shr/and by a power of two, of %gid, %lane or a \
                 lane-affine register, {pcs})"
            )),
            "{detail}"
        );
        assert_eq!(
            detail.contains("realigned"),
            direct && barrier.is_empty(),
            "{detail}"
        );
        assert!(
            detail.contains("while its lanes run together: r1"),
            "{detail}"
        );
        assert!(detail.contains("one scalar): r2"), "{detail}");
        for (grid, block, n) in [
            (1u32, 64u32, 8u64),
            (2, 40, 16),
            (3, 24, 5),
            (1, 64, 100),
            (2, 33, 1),
            (1, 32, 3),
            (4, 16, 64),
            (2, 100, 9),
            (1, 256, 17),
            (3, 70, 33),
            (2, 128, 12),
        ] {
            let lanes = (grid * block) as u64;
            let x: Vec<u64> = (0..lanes).map(|i| i * 7 + 1).collect();
            let xs = if ty == "u64" {
                u64s(&x)
            } else {
                u32s(&x.iter().map(|&v| v as u32).collect::<Vec<_>>())
            };
            let out = run_all(
                &p,
                grid,
                block,
                &[xs, zeros((lanes as usize) * size), Arg::Scalar(n)],
            );
            assert_eq!(out.trap.kind, 0, "{src} n={n}");
            let got: Vec<u64> = if ty == "u64" {
                to_u64(out.buf(1))
            } else {
                to_u32(out.buf(1)).into_iter().map(u64::from).collect()
            };
            for g in 0..lanes {
                let v = if special == "%gid" {
                    g
                } else {
                    g % block as u64
                };
                let want = (x[(v / n) as usize] * 1000 + v % n)
                    & if ty == "u64" {
                        u64::MAX
                    } else {
                        u32::MAX as u64
                    };
                assert_eq!(
                    got[g as usize], want,
                    "{src} grid={grid} block={block} n={n} gid {g}"
                );
            }
        }
        // n = 0: the lowest lane traps at the division, in every strategy alike.
        let out = run_all(
            &p,
            2,
            16,
            &[zeros(32 * size), zeros(32 * size), Arg::Scalar(0)],
        );
        let div_pc = if direct { 0 } else { 1 };
        assert_eq!(
            out.trap,
            trap(TrapKind::DivideByZero, div_pc, 0, 0, 0, 0),
            "{src}"
        );
    }
}

/// Realigned groups (rows of n >= G lanes, n a parameter) trap where scalar code does: in
/// the lanes before a row's end, which run in the per-lane code, and in a realigned group.
#[test]
fn realigned_groups_trap_like_scalar_code() {
    // out[gid] = x[col] + y[row]: x too short traps at a column, y at a row.
    let p = asm(
        ".kernel split\n.param x: ptr u32\n.param y: ptr u32\n.param out: ptr u32\n\
         .param n: u32\ndiv.u32 r1, %gid, n\nrem.u32 r2, %gid, n\nldg.u32 r3, [x + r2*4]\n\
         ldg.u32 r4, [y + r1*4]\nadd.u32 r3, r3, r4\nstg.u32 [out + %gid*4], r3\nexit\n",
    );
    for (n, xlen, ylen, lane, pc, offset) in [
        // Column 16 of row 0: lane 16, the last of the row, before a realigned group.
        (17u64, 16u64, 99u64, 16u32, 2u32, 64i128),
        // Row 3 (lanes 51..68): its first lane starts a realigned group.
        (17, 17, 3, 51, 3, 12),
        // Column 20 of row 0: inside a vector group.
        (41, 20, 99, 20, 2, 80),
        (12, 11, 99, 11, 2, 44),
    ] {
        let lanes = 256usize;
        let out = run_all(
            &p,
            1,
            lanes as u32,
            &[
                zeros(xlen as usize * 4),
                zeros(ylen as usize * 4),
                zeros(lanes * 4),
                Arg::Scalar(n),
            ],
        );
        assert_eq!(
            out.trap,
            trap(
                TrapKind::OutOfBounds,
                pc,
                0,
                lane,
                if pc == 2 { 0 } else { 1 },
                offset
            ),
            "n={n} xlen={xlen} ylen={ylen}"
        );
    }
}

/// Splits of a lane-affine register (`%gid + off`) by a parameter: the quotient uniform, the
/// remainder lane-affine, under every strategy; groups whose lanes wrap around 2^32 bail out.
#[test]
fn affine_register_splits() {
    let p = asm(
        ".kernel s\n.param x: ptr u32\n.param out: ptr u32\n.param n: u32\n\
         .param off: u32\nadd.u32 r8, %gid, off\ndiv.u32 r1, r8, n\nrem.u32 r2, r8, n\n\
         ldg.u32 r3, [x + r1*4]\nmul.u32 r3, r3, 1000\nadd.u32 r3, r3, r2\n\
         stg.u32 [out + %gid*4], r3\nexit\n",
    );
    let k = compile(&p, &JitOptions::default()).expect("compile");
    let Strategy::Vector { detail, .. } = k.strategy() else {
        panic!("{}", k.strategy());
    };
    assert!(
        detail.contains("while its lanes run together: r1"),
        "{detail}"
    );
    // (r3's last value, r3/3, is lane-affine too: a register of its own.)
    assert!(detail.contains("one scalar): r2 r3/3 r8"), "{detail}");
    assert!(
        detail.contains("lane-affine register, pc 1, 2)"),
        "{detail}"
    );
    assert!(!detail.contains("realigned"), "{detail}");
    for (off, n) in [
        (0u32, 8u32),
        (3, 16),
        (5, 7),
        (100, 33),
        (7, 1),
        // The lanes wrap from 2^32 - 4 to 0 in the first group, where no multiple of n
        // (which does not divide 2^32) lies between them.
        (0xffff_fffc, 0x3000_0000),
        (0xffff_fff8, 0x4000_0000),
    ] {
        for (grid, block) in [(1u32, 64u32), (2, 40), (3, 24)] {
            let lanes = grid * block;
            let v = |g: u32| g.wrapping_add(off);
            let rows = (0..lanes).map(|g| v(g) / n).max().unwrap_or(0) + 1;
            let x: Vec<u32> = (0..rows).map(|i| i * 7 + 1).collect();
            let out = run_all(
                &p,
                grid,
                block,
                &[
                    u32s(&x),
                    zeros(lanes as usize * 4),
                    Arg::Scalar(n as u64),
                    Arg::Scalar(off as u64),
                ],
            );
            assert_eq!(out.trap.kind, 0, "off={off} n={n}");
            let got = to_u32(out.buf(1));
            for g in 0..lanes {
                let want = x[(v(g) / n) as usize]
                    .wrapping_mul(1000)
                    .wrapping_add(v(g) % n);
                assert_eq!(got[g as usize], want, "off={off} n={n} grid={grid} gid {g}");
            }
        }
    }
}

/// Splits by powers of two written as shifts and masks (`shr.u32 r1, %lane, 4` is
/// `%lane / 16`, `and.u32 r2, %lane, 15` is `%lane % 16`): the quotient uniform and the
/// remainder lane-affine, of `%gid`, `%lane` and a lane-affine register, in 32 and 64 bits,
/// a mask in a signed type and as the first operand, divisors smaller and larger than a
/// group (groups that straddle bail out), with and without a barrier; against Rust under
/// every strategy and the default group choice. A divisor of 16 picks groups of 16.
#[test]
fn power_of_two_splits() {
    let mut opts = all_opts();
    opts.push(JitOptions::default());
    for (ty, size, x, barrier) in [
        ("u32", 4, "%lane", ""),
        ("u32", 4, "%gid", ""),
        ("u64", 8, "%gid", ""),
        ("u32", 4, "r8", ""),
        ("u32", 4, "%lane", "bar.sync\n"),
        ("u32", 4, "r8", "bar.sync\n"),
    ] {
        for k in [1u32, 2, 3, 4, 5, 6] {
            let (d, mask) = (1u64 << k, (1u64 << k) - 1);
            // The mask in a signed type of the width, and as the first operand for one k.
            let sty = if ty == "u64" { "i64" } else { "i32" };
            let and = match k {
                3 => format!("and.{sty} r2, {mask}, {x}"),
                _ => format!("and.{ty} r2, {x}, {mask}"),
            };
            let src = format!(
                ".kernel s\n.param t: ptr {ty}\n.param out: ptr {ty}\n.param off: {ty}\n\
                 .shared 16\nadd.{ty} r8, %gid, off\nshr.{ty} r1, {x}, {k}\n{and}\n\
                 ldg.{ty} r3, [t + r1*{size}]\n{barrier}mul.{ty} r3, r3, 1000\n\
                 add.{ty} r3, r3, r2\nstg.{ty} [out + %gid*{size}], r3\nexit\n"
            );
            let p = asm(&src);
            let kernel = compile(&p, &JitOptions::default()).expect("compile");
            let detail = kernel.strategy().to_string();
            assert!(detail.contains("shr/and by a power of two"), "{detail}");
            assert!(detail.contains("run together: r1"), "{src}\n{detail}");
            assert!(detail.contains("one scalar): r2"), "{src}\n{detail}");
            if k == 4 && x == "%lane" {
                assert!(detail.contains("groups of 16 lanes"), "{detail}");
            }
            for (grid, block, off) in [(2u32, 64u32, 0u64), (3, 24, 5), (1, 100, 13)] {
                let lanes = (grid * block) as u64;
                let v = |g: u64| match x {
                    "%lane" => g % block as u64,
                    "r8" => g + off,
                    _ => g,
                };
                let rows = (0..lanes).map(|g| v(g) / d).max().unwrap_or(0) + 1;
                let table: Vec<u64> = (0..rows).map(|i| i * 7 + 1).collect();
                let tb = if ty == "u64" {
                    u64s(&table)
                } else {
                    u32s(&table.iter().map(|&v| v as u32).collect::<Vec<_>>())
                };
                let args = [tb, zeros(lanes as usize * size), Arg::Scalar(off)];
                let out = run_each(&opts, &p, grid, block, &args, 1 << 20);
                assert_eq!(out.trap.kind, 0, "{src}");
                let got: Vec<u64> = if ty == "u64" {
                    to_u64(out.buf(1))
                } else {
                    to_u32(out.buf(1)).into_iter().map(u64::from).collect()
                };
                for g in 0..lanes {
                    let want = table[(v(g) / d) as usize] * 1000 + (v(g) & mask);
                    assert_eq!(got[g as usize], want, "{src} block={block} gid {g}");
                }
            }
        }
    }
    // Not splits: an arithmetic shift, a mask that is not of the low bits, a shift past
    // the width (which the ISA makes 0).
    for op in [
        "shr.i32 r1, %lane, 4",
        "and.u32 r1, %lane, 6",
        "shr.u32 r1, %lane, 32",
    ] {
        let src =
            format!(".kernel s\n.param out: ptr u32\n{op}\nstg.u32 [out + %gid*4], r1\nexit\n");
        let kernel = compile(&asm(&src), &JitOptions::default()).expect("compile");
        let detail = kernel.strategy().to_string();
        assert!(!detail.contains("row/column splits"), "{op}: {detail}");
        let out = run_all(&asm(&src), 2, 64, &[zeros(128 * 4)]);
        let got = to_u32(out.buf(0));
        for g in 0..128u32 {
            let l = g % 64;
            let want = if op.starts_with("and") {
                l & 6
            } else if op.ends_with(", 32") {
                0
            } else {
                l >> 4
            };
            assert_eq!(got[g as usize], want, "{op} gid {g}");
        }
    }
}

/// Realignment happens before a group starts, so what the program does before the split
/// happens once per lane: here an increment in place (which running a lane twice would
/// repeat), and a split inside a loop.
#[test]
fn realigned_lanes_run_once() {
    let store_first = asm(
        ".kernel s\n.param x: ptr u32\n.param out: ptr u32\n.param n: u32\n\
         ldg.u32 r5, [x + %gid*4]\nadd.u32 r5, r5, 1\nstg.u32 [x + %gid*4], r5\n\
         div.u32 r1, %gid, n\nrem.u32 r2, %gid, n\nmul.u32 r3, r1, 1000\nadd.u32 r3, r3, r2\n\
         stg.u32 [out + %gid*4], r3\nexit\n",
    );
    let in_loop = asm(
        ".kernel s\n.param x: ptr u32\n.param out: ptr u32\n.param n: u32\n\
         mov_imm.u32 r7, 3\nmov_imm.u32 r3, 0\nL:\ndiv.u32 r1, %gid, n\nrem.u32 r2, %gid, n\n\
         mul.u32 r4, r1, 1000\nadd.u32 r3, r3, r4\nadd.u32 r3, r3, r2\nloop r7, @L\n\
         stg.u32 [out + %gid*4], r3\nexit\n",
    );
    for (p, times) in [(&store_first, 1u32), (&in_loop, 3)] {
        let k = compile(p, &JitOptions::default()).expect("compile");
        let Strategy::Vector { detail, .. } = k.strategy() else {
            panic!("{}", k.strategy());
        };
        assert!(detail.contains("row/column splits"), "{detail}");
        assert!(detail.contains("realigned"), "{detail}");
        for n in [17u32, 9, 33] {
            let lanes = 200u32;
            let x: Vec<u32> = (0..lanes).map(|i| i * 3).collect();
            let out = run_all(
                p,
                1,
                lanes,
                &[u32s(&x), zeros(lanes as usize * 4), Arg::Scalar(n as u64)],
            );
            assert_eq!(out.trap.kind, 0);
            let (xs, got) = (to_u32(out.buf(0)), to_u32(out.buf(1)));
            for g in 0..lanes {
                let want_x = if times == 1 { g * 3 + 1 } else { g * 3 };
                assert_eq!(xs[g as usize], want_x, "x[{g}], n={n}");
                assert_eq!(
                    got[g as usize],
                    times * ((g / n) * 1000 + g % n),
                    "gid {g}, n={n}"
                );
            }
        }
    }
}

#[test]
fn equality_predicates_on_lane_affine_values() {
    // `setp.eq`/`setp.ne` of a lane-affine value and a uniform one hold (or fail) in at most
    // one lane of a group: a branch on one, both senses, in a masked `if` (the end of a block
    // reduction) and around a store; a select by one; a value that wraps within a group; one
    // live across a `bar.sync`; and `ne` read before any `setp` writes it (its initial
    // false state, which no lane-affine pair can hold). Every strategy agrees with scalar
    // code, and the results with Rust.
    let kernels = [
        ".kernel first\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
         ldg.u32 r1, [x + %gid*4]\nsetp.ne.u32 p1, %lane, k\n@p1 bra @done\n\
         add.u32 r1, r1, 1000\nstg.u32 [y + %gid*4], r1\ndone:\nexit\n",
        ".kernel other\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
         ldg.u32 r1, [x + %gid*4]\nsetp.eq.u32 p1, k, %lane\n@p1 bra @done\n\
         add.u32 r1, r1, 1000\ndone:\nstg.u32 [y + %gid*4], r1\nexit\n",
        ".kernel pick\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
         ldg.u32 r1, [x + %gid*4]\nsetp.eq.u32 p1, %gid, k\nsel.u32 r2, p1, 7, r1\n\
         stg.u32 [y + %gid*4], r2\nexit\n",
        ".kernel wraps\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
         add.u32 r3, %lane, 4294967290\nsetp.ne.u32 p1, r3, k\n@!p1 bra @hit\n\
         stg.u32 [y + %gid*4], r3\nexit\nhit:\nstg.u32 [y + %gid*4], 5\nexit\n",
        ".kernel across\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
         .shared 1024\nsetp.eq.u32 p1, %lane, k\nsts.u32 [shared + %lane*4], %lane\nbar.sync\n\
         @!p1 bra @done\nlds.u32 r1, [shared + 0]\nadd.u32 r1, r1, 77\n\
         stg.u32 [y + %gid*4], r1\ndone:\nexit\n",
        ".kernel initial\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
         mov.u32 r1, 1\nmov_imm.u32 r9, 5\ntop:\n@p1 bra @done\nadd.u32 r1, r1, 10\n\
         setp.ne.u32 p1, %lane, k\nloop r9, @top\ndone:\nstg.u32 [y + %gid*4], r1\nexit\n",
    ];
    for src in kernels {
        for (block, k) in [
            (64u32, 0u32),
            (64, 5),
            (64, 37),
            (48, 100),
            (64, 4294967295),
        ] {
            let lanes = 2 * block as usize;
            let x: Vec<u32> = (0..lanes as u32).map(|i| i * 3 + 1).collect();
            let out = run_all(
                &asm(src),
                2,
                block,
                &[u32s(&x), zeros(lanes * 4), Arg::Scalar(k as u64)],
            );
            assert_eq!(out.trap.kind, 0, "{src} {block} {k}");
            let y = to_u32(out.buf(1));
            for (g, &got) in y.iter().enumerate() {
                let lane = (g % block as usize) as u32;
                let want = if src.contains("kernel first") {
                    if lane == k {
                        x[g] + 1000
                    } else {
                        0
                    }
                } else if src.contains("kernel other") {
                    if lane == k {
                        x[g]
                    } else {
                        x[g] + 1000
                    }
                } else if src.contains("kernel pick") {
                    if g as u32 == k {
                        7
                    } else {
                        x[g]
                    }
                } else if src.contains("kernel wraps") {
                    let r3 = lane.wrapping_add(4294967290);
                    if r3 == k {
                        5
                    } else {
                        r3
                    }
                } else if src.contains("kernel across") {
                    if lane == k {
                        77
                    } else {
                        0
                    }
                } else if lane == k {
                    // initial: p1 starts false, so every lane adds 10 once; p1 = (lane != k)
                    // sends the others out after that, lane k runs every round of the loop.
                    continue;
                } else {
                    11
                };
                assert_eq!(got, want, "{src} {block} {k} lane {g}");
            }
        }
    }
}
