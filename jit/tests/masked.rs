//! Divergent forward branches that vector code runs both ways under lane masks: the values
//! of the lanes that branch, stores of the lanes that run the body only, traps inside the
//! body, mixed widths of masks and registers, under every strategy (`run_all` checks that
//! they agree; the scalar strategy is the reference) and against Rust.
mod common;
use common::*;
use holovm_jit::{compile, JitOptions, Strategy, TrapKind};

fn detail(src: &str) -> String {
    let k = compile(&asm(src), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Vector { detail, .. } => detail.clone(),
        other => panic!("expected the vector strategy, got {other}"),
    }
}

/// Values with both signs in every group, in an order no group size lines up with.
fn signed(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 + 11) % 23) as f32 - 11.0 + 0.25)
        .collect()
}

#[test]
fn leaky_relu_by_a_branch_keeps_the_lanes_that_branch() {
    for sense in ["@p1", "@!p1"] {
        let src = format!(
            ".kernel leaky\n.param x: ptr f32\n.param y: ptr f32\n.param n: u32\n\
             setp.ge.u32 p0, %gid, n\n@p0 bra @done\nldg.f32 r1, [x + %gid*4]\n\
             setp.gt.f32 p1, r1, 0.0\n{sense} bra @store\nmul.f32 r1, r1, 0.01\n\
             store:\nstg.f32 [y + %gid*4], r1\ndone:\nexit\n"
        );
        assert!(
            detail(&src).contains("divergent forward branches (pc 4) run both ways"),
            "{}",
            detail(&src)
        );
        let x = signed(200);
        let out = run_all(&asm(&src), 4, 64, &[f32s(&x), zeros(800), Arg::Scalar(200)]);
        assert_eq!(out.trap.kind, 0);
        let want: Vec<f32> = x
            .iter()
            .map(|&v| {
                let scaled = (v > 0.0) == (sense == "@!p1");
                if scaled {
                    v * 0.01
                } else {
                    v
                }
            })
            .collect();
        assert_eq!(to_f32(out.buf(1)), want, "{sense}");
    }
}

#[test]
fn a_store_in_the_body_writes_only_the_lanes_that_run_it() {
    // Contiguous (y[gid]), scattered (z[perm]) and same-address (w[0]: the last lane that
    // runs the body wins) stores, each alone in its body.
    let src = ".kernel cs\n.param x: ptr u32\n.param y: ptr u32\n.param z: ptr u32\n\
        .param w: ptr u32\n\
        ldg.u32 r1, [x + %gid*4]\nand.u32 r2, r1, 1\nsetp.ne.u32 p0, r2, 0\n\
        @p0 bra @a\nmul.u32 r3, r1, 3\nstg.u32 [y + %gid*4], r3\n\
        a:\nsetp.lt.u32 p1, r1, 40\n@p1 bra @b\nmul.u32 r4, %gid, 7\nrem.u32 r4, r4, 64\n\
        stg.u32 [z + r4*4], r1\n\
        b:\nsetp.gt.u32 p2, r1, 50\n@!p2 bra @c\nstg.u32 [w + 0], %gid\nc:\nexit\n";
    assert!(
        detail(src).contains("(pc 3, 7, 12) run both ways"),
        "{}",
        detail(src)
    );
    let x: Vec<u32> = (0..64).map(|i| (i * 29 + 5) % 61).collect();
    let out = run_all(
        &asm(src),
        2,
        32,
        &[u32s(&x), u32s(&[9; 64]), u32s(&[9; 64]), u32s(&[9; 1])],
    );
    assert_eq!(out.trap.kind, 0);
    let y: Vec<u32> = x
        .iter()
        .map(|&v| if v % 2 == 0 { v * 3 } else { 9 })
        .collect();
    assert_eq!(to_u32(out.buf(1)), y);
    let mut z = vec![9u32; 64];
    for (g, &v) in x.iter().enumerate() {
        if v >= 40 {
            z[g * 7 % 64] = v;
        }
    }
    assert_eq!(to_u32(out.buf(2)), z);
    // Blocks run in order under `run_all`, lanes in order within a block.
    let last = x.iter().rposition(|&v| v > 50).expect("some lane") as u32;
    assert_eq!(to_u32(out.buf(3)), vec![last]);
}

#[test]
fn checks_that_fail_in_the_body_trap_only_for_lanes_that_run_it() {
    // The gathered load is out of bounds for odd values, the division by zero for values
    // below 8: only lanes that run the body may trap, and the lowest such lane does.
    let src = ".kernel t\n.param x: ptr u32\n.param y: ptr u32\n.param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nsetp.ge.u32 p0, r1, lim\n@p0 bra @skip\n\
        mul.u32 r2, r1, 100\nsub.u32 r4, r1, 8\ndiv.u32 r5, 1000, r4\nldg.u32 r3, [x + r2*4]\n\
        add.u32 r1, r3, r5\nskip:\nstg.u32 [y + %gid*4], r1\nexit\n";
    let x: Vec<u32> = (0..48)
        .map(|i| if i % 5 == 0 { 0 } else { 100 + i })
        .collect();
    // Lanes with x = 0 run the body (0 < 50), read x[0] and divide by 0 - 8 (wrapping, not
    // zero): no trap; the others skip it.
    let out = run_all(&asm(src), 1, 48, &[u32s(&x), zeros(192), Arg::Scalar(50)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<u32> = x
        .iter()
        .map(|&v| {
            if v < 50 {
                x[0] + 1000 / 0u32.wrapping_sub(8)
            } else {
                v
            }
        })
        .collect();
    assert_eq!(to_u32(out.buf(1)), want);
    // With lim = 110, lanes with 100 + i < 110 run the body too: 101 * 100 is out of bounds
    // (lane 1 first).
    let out = run_all(&asm(src), 1, 48, &[u32s(&x), zeros(192), Arg::Scalar(110)]);
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 6, 0, 1, 0, 101 * 400));
    // A zero divisor only in a lane that skips the body: x = 8 with lim = 8.
    let x8: Vec<u32> = (0..48).map(|i| if i == 13 { 8 } else { 0 }).collect();
    let out = run_all(&asm(src), 1, 48, &[u32s(&x8), zeros(192), Arg::Scalar(8)]);
    assert_eq!(out.trap.kind, 0);
    // ... and in a lane that runs it: lane 13 traps at the division.
    let out = run_all(&asm(src), 1, 48, &[u32s(&x8), zeros(192), Arg::Scalar(9)]);
    assert_eq!(out.trap.kind, TrapKind::DivideByZero.code());
    assert_eq!((out.trap.pc, out.trap.lane), (5, 13));
}

#[test]
fn masks_convert_between_32_and_64_bit_lanes() {
    // A 32-bit compare guarding 64-bit writes, and a 64-bit compare guarding 32-bit ones and
    // a predicate written in the body and read after it.
    let src = ".kernel w\n.param x: ptr f64\n.param y: ptr u32\n.param z: ptr f64\n\
        ldg.f64 r1, [x + %gid*8]\nldg.u32 r2, [y + %gid*4]\n\
        setp.lt.u32 p0, r2, 5\n@p0 bra @a\nmul.f64 r1, r1, -2.0\n\
        a:\nsetp.gt.f64 p1, r1, 1.5\n@p1 bra @b\nadd.u32 r2, r2, 1000\nsetp.eq.u32 p2, r2, 1003\n\
        b:\nsel.u32 r3, p2, 7, r2\nstg.f64 [z + %gid*8], r1\nstg.u32 [y + %gid*4], r3\nexit\n";
    assert!(
        detail(src).contains("(pc 3, 6) run both ways"),
        "{}",
        detail(src)
    );
    let x: Vec<f64> = (0..40).map(|i| (i % 7) as f64 - 2.5).collect();
    let y: Vec<u32> = (0..40).map(|i| (i * 3) % 11).collect();
    let out = run_all(&asm(src), 1, 40, &[f64s(&x), u32s(&y), zeros(320)]);
    assert_eq!(out.trap.kind, 0);
    let (mut wz, mut wy) = (Vec::new(), Vec::new());
    for (&xv, &yv) in x.iter().zip(&y) {
        let r1 = if yv < 5 { xv } else { xv * -2.0 };
        let (r2, p2) = if r1 > 1.5 {
            (yv, false)
        } else {
            (yv + 1000, yv + 1000 == 1003)
        };
        wz.push(r1);
        wy.push(if p2 { 7 } else { r2 });
    }
    assert_eq!(to_f64(out.buf(2)), wz);
    assert_eq!(to_u32(out.buf(1)), wy);
}

#[test]
fn bodies_that_cannot_be_masked_still_agree() {
    // A body with a loop, a body entered from elsewhere, and one that loads after its
    // store (the load would not see a store that waits for the join): none is masked, all
    // give the interpreter's results.
    let src = ".kernel n\n.param x: ptr u32\n.param y: ptr u32\n\
        ldg.u32 r1, [x + %gid*4]\nsetp.lt.u32 p0, r1, 5\n@p0 bra @a\nmov.u32 r2, 3\n\
        l:\nadd.u32 r1, r1, 2\nloop r2, @l\n\
        a:\nsetp.lt.u32 p1, r1, 9\n@p1 bra @b\nstg.u32 [y + %gid*4], r1\nbra @c\n\
        b:\nsetp.lt.u32 p2, r1, 12\n@p2 bra @c\nstg.u32 [y + %gid*4], r1\nldg.u32 r1, [x + 0]\n\
        c:\nstg.u32 [x + %gid*4], r1\nexit\n";
    assert!(
        !detail(src).contains("divergent forward branches"),
        "{}",
        detail(src)
    );
    let x: Vec<u32> = (0..24).map(|i| (i * 5) % 17).collect();
    let out = run_all(&asm(src), 1, 24, &[u32s(&x), zeros(96)]);
    assert_eq!(out.trap.kind, 0);
}

#[test]
fn stores_followed_by_checks_that_can_fail_wait_for_the_join() {
    // The body increments x in place, then writes y twice around a division that fails
    // where x = 8. Run once more lane by lane after a failing check, an increment already
    // written would be applied twice; written at the join, y's second store wins.
    let src = ".kernel d\n.param x: ptr u32\n.param y: ptr u32\n.param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nsetp.ge.u32 p0, r1, lim\n@p0 bra @skip\n\
        ldg.u32 r2, [x + %gid*4]\nadd.u32 r2, r2, 1\nstg.u32 [x + %gid*4], r2\n\
        stg.u32 [y + %gid*4], r2\nsub.u32 r4, r1, 8\ndiv.u32 r5, 1000, r4\n\
        stg.u32 [y + %gid*4], r5\nskip:\nexit\n";
    let d = detail(src);
    assert!(d.contains("(pc 2) run both ways"), "{d}");
    assert!(
        d.contains("stores of the code after pc 2 wait for its join"),
        "{d}"
    );
    let x: Vec<u32> = (0..40).map(|i| if i == 13 { 8 } else { i % 7 }).collect();
    // Lane 13 (x = 8) skips the body with lim = 8, yet its zero divisor fails the group's
    // check: the group runs the body again lane by lane.
    let out = run_all(
        &asm(src),
        1,
        40,
        &[u32s(&x), u32s(&[5; 40]), Arg::Scalar(8)],
    );
    assert_eq!(out.trap.kind, 0);
    let want_x: Vec<u32> = x.iter().map(|&v| if v < 8 { v + 1 } else { v }).collect();
    let want_y: Vec<u32> = x
        .iter()
        .map(|&v| if v < 8 { 1000 / v.wrapping_sub(8) } else { 5 })
        .collect();
    assert_eq!(to_u32(out.buf(0)), want_x);
    assert_eq!(to_u32(out.buf(1)), want_y);
    // With lim = 9 lane 13 runs the body and traps at the division.
    let out = run_all(
        &asm(src),
        1,
        40,
        &[u32s(&x), u32s(&[5; 40]), Arg::Scalar(9)],
    );
    assert_eq!(out.trap.kind, TrapKind::DivideByZero.code());
    assert_eq!((out.trap.pc, out.trap.lane), (8, 13));
}

#[test]
fn stores_without_a_load_before_them_are_written_at_once() {
    // Leaky relu storing on each side, and `if x > 0 { y = x; z = 2x }` with z 3 elements
    // short: the last group's check on z fails (its last lanes skip the body) and the group
    // runs again lane by lane, which writes y again with the same values.
    let leaky = ".kernel lk\n.param x: ptr f32\n.param y: ptr f32\n\
        ldg.f32 r0, [x + %gid*4]\nsetp.gt.f32 p1, r0, 0.0\n@p1 bra @pos\n\
        mul.f32 r1, r0, 0.01\nstg.f32 [y + %gid*4], r1\nbra @done\n\
        pos:\nstg.f32 [y + %gid*4], r0\ndone:\nexit\n";
    let d = detail(leaky);
    assert!(
        d.contains("(pc 2) run both ways") && !d.contains("wait"),
        "{d}"
    );
    let x = signed(100);
    let out = run_all(&asm(leaky), 2, 50, &[f32s(&x), zeros(400)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<f32> = x
        .iter()
        .map(|&v| if v > 0.0 { v } else { v * 0.01 })
        .collect();
    assert_eq!(to_f32(out.buf(1)), want);

    let twice = ".kernel tw\n.param x: ptr f32\n.param y: ptr f32\n.param z: ptr f32\n\
        ldg.f32 r0, [x + %gid*4]\nsetp.gt.f32 p1, r0, 0.0\n@!p1 bra @done\n\
        stg.f32 [y + %gid*4], r0\nadd.f32 r1, r0, r0\nstg.f32 [z + %gid*4], r1\n\
        done:\nexit\n";
    let d = detail(twice);
    assert!(
        d.contains("(pc 2) run both ways") && !d.contains("wait"),
        "{d}"
    );
    let n = 64;
    let mut x = signed(n);
    x[n - 3..].iter_mut().for_each(|v| *v = -1.0);
    let out = run_all(
        &asm(twice),
        2,
        32,
        &[f32s(&x), zeros(n * 4), zeros((n - 3) * 4)],
    );
    assert_eq!(out.trap.kind, 0);
    let pos = |v: f32, y: f32| if v > 0.0 { y } else { 0.0 };
    let want_y: Vec<f32> = x.iter().map(|&v| pos(v, v)).collect();
    let want_z: Vec<f32> = x[..n - 3].iter().map(|&v| pos(v, v + v)).collect();
    assert_eq!(to_f32(out.buf(1)), want_y);
    assert_eq!(to_f32(out.buf(2)), want_z);
}

#[test]
fn a_register_written_on_the_fall_through_side_keeps_its_value_for_the_taken_side() {
    // r3 is dead at the join but read on the taken side, which runs after the
    // fall-through side: the load must not reach the lanes that take the branch.
    let src = ".kernel f\n.param x: ptr i32\n.param y: ptr i32\n\
        ldg.i32 r2, [x + %gid*4]\nmul.i32 r3, r2, 3\nsetp.lt.i32 p1, r2, 0\n@p1 bra @else\n\
        ldg.i32 r3, [y + %gid*4]\nbra @join\n\
        else:\nstg.i32 [y + %gid*4], r3\njoin:\nexit\n";
    let d = detail(src);
    assert!(d.contains("(pc 3) run both ways"), "{d}");
    let x: Vec<i32> = (0..40).map(|i| (i * 7 % 11) - 5).collect();
    let y: Vec<i32> = (0..40).map(|i| 1000 + i).collect();
    let out = run_all(&asm(src), 1, 40, &[i32s(&x), i32s(&y)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<i32> = (0..40)
        .map(|i| if x[i] < 0 { x[i] * 3 } else { y[i] })
        .collect();
    let got: Vec<i32> = to_u32(out.buf(1)).into_iter().map(|v| v as i32).collect();
    assert_eq!(got, want);
}

#[test]
fn groups_whose_lanes_agree_run_code_whose_stores_wait_unmasked() {
    // `if x < lim { y += 1; z = 100 / (x - 8) }`, groups of 8 lanes: every lane runs the
    // body in the first, none in the second, some in the third; in the fourth every lane
    // runs it and lane 27 divides by zero there (with lim = 20), after its y was written.
    let src = ".kernel u\n.param x: ptr u32\n.param y: ptr u32\n.param z: ptr u32\n\
        .param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nsetp.ge.u32 p0, r1, lim\n@p0 bra @skip\n\
        ldg.u32 r2, [y + %gid*4]\nadd.u32 r2, r2, 1\nstg.u32 [y + %gid*4], r2\n\
        sub.u32 r4, r1, 8\ndiv.u32 r5, 100, r4\nstg.u32 [z + %gid*4], r5\n\
        skip:\nexit\n";
    let d = detail(src);
    assert!(d.contains("agree at pc 2 run an unmasked copy"), "{d}");
    let x: Vec<u32> = (0..32u32)
        .map(|i| match i / 8 {
            0 => 1 + i % 5,
            1 => 30 + i,
            2 => [2, 40, 3, 50, 4, 60, 5, 70][i as usize % 8],
            _ if i == 27 => 8,
            _ => 10 + i % 3,
        })
        .collect();
    let y: Vec<u32> = (0..32).map(|i| 100 * i).collect();
    let args = |lim: u32| [u32s(&x), u32s(&y), zeros(128), Arg::Scalar(lim.into())];
    let out = run_all(&asm(src), 1, 32, &args(8));
    assert_eq!(out.trap.kind, 0);
    let runs = |i: usize, lim: u32| x[i] < lim;
    let want_y: Vec<u32> = (0..32).map(|i| y[i] + runs(i, 8) as u32).collect();
    let want_z: Vec<u32> = (0..32)
        .map(|i| match runs(i, 8) {
            true => 100 / x[i].wrapping_sub(8),
            false => 0,
        })
        .collect();
    assert_eq!(to_u32(out.buf(1)), want_y);
    assert_eq!(to_u32(out.buf(2)), want_z);
    let out = run_all(&asm(src), 1, 32, &args(20));
    assert_eq!(out.trap.kind, TrapKind::DivideByZero.code());
    assert_eq!((out.trap.pc, out.trap.lane), (7, 27));
}

#[test]
fn if_else_sides_storing_to_one_place_store_once() {
    // f64 values under f32 masks; a constant on one side; z is 3 elements short, so the
    // last group's check on the taken side fails between the two stores (its last lanes
    // take the fall-through side) and the group runs again lane by lane.
    let src = ".kernel p\n.param x: ptr f32\n.param y: ptr f64\n.param z: ptr f64\n\
        ldg.f32 r1, [x + %gid*4]\ncvt.f64.f32 r2, r1\nsetp.gt.f32 p0, r1, 0.0\n@p0 bra @else\n\
        mul.f64 r3, r2, 0.5\nstg.f64 [y + %gid*8], r3\nbra @join\n\
        else:\nldg.f64 r4, [z + %gid*8]\nstg.f64 [y + %gid*8], 7.0\nadd.f64 r2, r2, r4\n\
        join:\nexit\n";
    let d = detail(src);
    assert!(d.contains("if/else at pc 3 to one place store once"), "{d}");
    let n = 64;
    let mut x = signed(n);
    x[n - 3..].iter_mut().for_each(|v| *v = -1.0);
    let z: Vec<f64> = (0..n - 3).map(|i| i as f64).collect();
    let out = run_all(&asm(src), 2, 32, &[f32s(&x), zeros(n * 8), f64s(&z)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<f64> = x
        .iter()
        .map(|&v| if v > 0.0 { 7.0 } else { v as f64 * 0.5 })
        .collect();
    assert_eq!(to_f64(out.buf(1)), want);

    // A store in a branch nested in the taken side does not pair (not every lane of the
    // side runs it); without the branch it does.
    let src = ".kernel q\n.param x: ptr u32\n.param y: ptr u32\n\
        ldg.u32 r1, [x + %gid*4]\nsetp.lt.u32 p0, r1, 10\n@p0 bra @else\n\
        stg.u32 [y + %gid*4], r1\nbra @join\n\
        else:\nsetp.lt.u32 p1, r1, 5\n@p1 bra @join\nadd.u32 r2, r1, 100\n\
        stg.u32 [y + %gid*4], r2\njoin:\nexit\n";
    let d = detail(src);
    assert!(!d.contains("store once"), "{d}");
    let paired = src.replace("@p1 bra @join\nadd", "add");
    let d = detail(&paired);
    assert!(d.contains("if/else at pc 2 to one place store once"), "{d}");
    let x: Vec<u32> = (0..48).map(|i| (i * 7) % 20).collect();
    for (src, nested) in [(src.to_string(), true), (paired, false)] {
        let out = run_all(&asm(&src), 1, 48, &[u32s(&x), u32s(&[1; 48])]);
        assert_eq!(out.trap.kind, 0);
        let want: Vec<u32> = x
            .iter()
            .map(|&v| match (v < 10, nested && v < 5) {
                (false, _) => v,
                (true, true) => 1,
                (true, false) => v + 100,
            })
            .collect();
        assert_eq!(to_u32(out.buf(1)), want, "{src}");
    }
}

#[test]
fn store_pairs_at_register_addresses() {
    // y[gid + k] (a lane-affine register) pairs; y[perm[gid]] (a per-lane register, whose
    // masked index is 0 in the lanes not running a side) does not, nor does an address whose
    // register the taken side writes before its store.
    let affine = ".kernel a\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        ldg.u32 r1, [x + %gid*4]\nadd.u32 r9, %gid, k\nsetp.lt.u32 p0, r1, 10\n@p0 bra @else\n\
        stg.u32 [y + r9*4], r1\nbra @join\nelse:\nadd.u32 r2, r1, 100\n\
        stg.u32 [y + r9*4], r2\njoin:\nexit\n";
    let d = detail(affine);
    assert!(d.contains("if/else at pc 3 to one place store once"), "{d}");
    let x: Vec<u32> = (0..40).map(|i| (i * 7) % 20).collect();
    let out = run_all(&asm(affine), 1, 40, &[u32s(&x), zeros(200), Arg::Scalar(5)]);
    assert_eq!(out.trap.kind, 0);
    let mut want = vec![0u32; 50];
    for (i, &v) in x.iter().enumerate() {
        want[i + 5] = if v < 10 { v + 100 } else { v };
    }
    assert_eq!(to_u32(out.buf(1)), want);

    let per_lane = ".kernel s\n.param x: ptr u32\n.param y: ptr u32\n.param perm: ptr u32\n\
        ldg.u32 r1, [x + %gid*4]\nldg.u32 r9, [perm + %gid*4]\nsetp.lt.u32 p0, r1, 10\n\
        @p0 bra @else\nstg.u32 [y + r9*4], r1\nbra @join\nelse:\nadd.u32 r2, r1, 100\n\
        stg.u32 [y + r9*4], r2\njoin:\nexit\n";
    let rewritten = affine.replace(
        "else:\nadd.u32 r2, r1, 100\n",
        "else:\nadd.u32 r2, r1, 100\nadd.u32 r9, r9, 1\n",
    );
    assert!(
        !detail(per_lane).contains("store once"),
        "{}",
        detail(per_lane)
    );
    assert!(
        !detail(&rewritten).contains("store once"),
        "{}",
        detail(&rewritten)
    );
    let perm: Vec<u32> = (0..40).map(|i| (i * 13) % 40).collect();
    let out = run_all(&asm(per_lane), 1, 40, &[u32s(&x), zeros(160), u32s(&perm)]);
    assert_eq!(out.trap.kind, 0);
    let mut want = vec![0u32; 40];
    for (i, &v) in x.iter().enumerate() {
        want[perm[i] as usize] = if v < 10 { v + 100 } else { v };
    }
    assert_eq!(to_u32(out.buf(1)), want);
}

#[test]
fn masked_branches_nested_in_an_unmasked_copy_stay_masked() {
    // Every lane runs the outer body (y += 1, the unmasked copy); the inner `if x < 3` is
    // mixed in every group and ends at the same join; the division after its z = r3 + 1
    // fails in the lanes with x = 8, which skip it. That bail-out resumes at the inner
    // branch: y is incremented once.
    let src = ".kernel n\n.param x: ptr u32\n.param y: ptr u32\n.param z: ptr u32\n\
        .param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nsetp.lt.u32 p0, r1, lim\n@!p0 bra @join\n\
        ldg.u32 r2, [y + %gid*4]\nldg.u32 r3, [z + %gid*4]\nadd.u32 r2, r2, 1\n\
        stg.u32 [y + %gid*4], r2\nsetp.lt.u32 p1, r1, 3\n@!p1 bra @join\n\
        add.u32 r3, r3, 1\nstg.u32 [z + %gid*4], r3\nsub.u32 r4, r1, 8\n\
        div.u32 r5, 100, r4\nadd.u32 r5, r5, r3\nstg.u32 [y + %gid*4], r5\njoin:\nexit\n";
    let d = detail(src);
    assert!(d.contains("(pc 2, 8) run both ways"), "{d}");
    assert!(d.contains("agree at pc 2 run an unmasked copy"), "{d}");
    let x: Vec<u32> = (0..64)
        .map(|i| match i % 8 {
            7 if i < 32 => 8,
            k => k % 5,
        })
        .collect();
    let y: Vec<u32> = (0..64).map(|i| 10 * i).collect();
    let out = run_all(
        &asm(src),
        1,
        64,
        &[u32s(&x), u32s(&y), zeros(256), Arg::Scalar(100)],
    );
    assert_eq!(out.trap.kind, 0);
    let want_y: Vec<u32> = (0..64)
        .map(|i| match x[i] < 3 {
            true => 100 / x[i].wrapping_sub(8) + 1,
            false => y[i] + 1,
        })
        .collect();
    let want_z: Vec<u32> = x.iter().map(|&v| (v < 3) as u32).collect();
    assert_eq!(to_u32(out.buf(1)), want_y);
    assert_eq!(to_u32(out.buf(2)), want_z);

    // The inner code's z += 1 waits for the join it shares with the outer branch.
    let src = ".kernel m\n.param x: ptr u32\n.param y: ptr u32\n.param z: ptr u32\n\
        .param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nsetp.lt.u32 p0, r1, lim\n@!p0 bra @join\n\
        add.u32 r6, r1, 1\nsetp.lt.u32 p1, r1, 3\n@!p1 bra @join\nldg.u32 r3, [z + %gid*4]\n\
        add.u32 r3, r3, r6\nstg.u32 [z + %gid*4], r3\nsub.u32 r4, r1, 8\n\
        div.u32 r5, 100, r4\nstg.u32 [y + %gid*4], r5\njoin:\nexit\n";
    let d = detail(src);
    assert!(d.contains("agree at pc 2 run an unmasked copy"), "{d}");
    assert!(d.contains("code after pc 2, 5 wait for its join"), "{d}");
    let out = run_all(
        &asm(src),
        1,
        64,
        &[u32s(&x), u32s(&y), u32s(&y), Arg::Scalar(100)],
    );
    assert_eq!(out.trap.kind, 0);
    let want_y: Vec<u32> = (0..64)
        .map(|i| match x[i] < 3 {
            true => 100 / x[i].wrapping_sub(8),
            false => y[i],
        })
        .collect();
    let want_z: Vec<u32> = (0..64)
        .map(|i| y[i] + if x[i] < 3 { x[i] + 1 } else { 0 })
        .collect();
    assert_eq!(to_u32(out.buf(1)), want_y);
    assert_eq!(to_u32(out.buf(2)), want_z);
}

#[test]
fn if_else_sides_that_both_store_wait_for_the_join() {
    // `if x > 0 { y += 1 } else { y = z[gid] }`: z is 3 elements short, so the last group's
    // contiguous check on the else side fails (its last lanes take the then side) and the
    // group runs again lane by lane: y must be incremented once.
    let src = ".kernel ie\n.param x: ptr f32\n.param y: ptr f32\n.param z: ptr f32\n\
        ldg.f32 r1, [x + %gid*4]\nsetp.gt.f32 p0, r1, 0.0\n@!p0 bra @else\n\
        ldg.f32 r2, [y + %gid*4]\nadd.f32 r2, r2, 1.0\nstg.f32 [y + %gid*4], r2\nbra @join\n\
        else:\nldg.f32 r3, [z + %gid*4]\nstg.f32 [y + %gid*4], r3\njoin:\nexit\n";
    let d = detail(src);
    assert!(d.contains("(pc 2) run both ways"), "{d}");
    assert!(d.contains("wait for its join"), "{d}");
    let n = 64;
    let mut x = signed(n);
    x[n - 3..].iter_mut().for_each(|v| *v = 1.0);
    let y: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let z: Vec<f32> = (0..n - 3).map(|i| 100.0 + i as f32).collect();
    let out = run_all(&asm(src), 2, 32, &[f32s(&x), f32s(&y), f32s(&z)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<f32> = (0..n)
        .map(|i| if x[i] > 0.0 { y[i] + 1.0 } else { z[i] })
        .collect();
    assert_eq!(to_f32(out.buf(1)), want);
}

#[test]
fn a_join_reached_from_outside_the_code_stores_nothing_that_waited() {
    // The join (`loop`) is also reached from `other`, in the last round, after y = 999:
    // the stores that waited in an earlier round (z += r1, then y = r1) must not be written
    // again there.
    let src = ".kernel j\n.param x: ptr u32\n.param y: ptr u32\n.param z: ptr u32\n\
        .param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nmov.u32 r3, 3\n\
        head:\nadd.u32 r1, r1, 10\nsetp.eq.u32 p1, r3, 1\n@p1 bra @other\n\
        setp.lt.u32 p0, r1, lim\n@p0 bra @join\nldg.u32 r2, [z + %gid*4]\n\
        add.u32 r2, r2, r1\nstg.u32 [z + %gid*4], r2\nstg.u32 [y + %gid*4], r1\n\
        join:\nloop r3, @head\nexit\n\
        other:\nstg.u32 [y + %gid*4], 999\nbra @join\n";
    let d = detail(src);
    assert!(d.contains("(pc 6) run both ways"), "{d}");
    assert!(d.contains("wait for its join"), "{d}");
    let x: Vec<u32> = (0..48).map(|i| (i * 7) % 30).collect();
    let out = run_all(
        &asm(src),
        1,
        48,
        &[u32s(&x), zeros(192), zeros(192), Arg::Scalar(35)],
    );
    assert_eq!(out.trap.kind, 0);
    assert_eq!(to_u32(out.buf(1)), vec![999; 48]);
    let z: Vec<u32> = x
        .iter()
        .map(|&v| [v + 10, v + 20].iter().filter(|&&r| r >= 35).sum())
        .collect();
    assert_eq!(to_u32(out.buf(2)), z);
}

#[test]
fn a_store_written_at_its_join_is_not_written_again_by_a_later_group() {
    // The first 32 lanes' groups run the nested y += 1, which waits for the join, then
    // y = 7 after the loop; the last 32 lanes disagree at the outer branch but none runs
    // the nested store. Were its running lanes still marked, their groups would write the
    // first groups' y again.
    let src = ".kernel w\n.param x: ptr u32\n.param y: ptr u32\n.param z: ptr u32\n\
        ldg.u32 r1, [x + %gid*4]\nmov.u32 r3, 3\n\
        head:\nsetp.lt.u32 p0, r1, 5\n@!p0 bra @join\nsetp.lt.u32 p2, r1, 3\n\
        @!p2 bra @skip\nldg.u32 r2, [y + %gid*4]\nadd.u32 r2, r2, 1\n\
        stg.u32 [y + %gid*4], r2\nskip:\nadd.u32 r4, r1, 1\ndiv.u32 r5, 100, r4\n\
        stg.u32 [z + %gid*4], r5\njoin:\nloop r3, @head\nstg.u32 [y + %gid*4], 7\nexit\n";
    let d = detail(src);
    assert!(d.contains("wait for its join"), "{d}");
    let x: Vec<u32> = (0..64)
        .map(|i| match i < 32 {
            true => [0, 6, 1, 6, 2][i % 5],
            false => [4, 6][i % 2],
        })
        .collect();
    let out = run_all(&asm(src), 1, 64, &[u32s(&x), zeros(256), zeros(256)]);
    assert_eq!(out.trap.kind, 0);
    assert_eq!(to_u32(out.buf(1)), vec![7; 64]);
    let want_z: Vec<u32> = x
        .iter()
        .map(|&v| if v < 5 { 100 / (v + 1) } else { 0 })
        .collect();
    assert_eq!(to_u32(out.buf(2)), want_z);
}

#[test]
fn a_bail_out_leaves_nothing_waiting_for_a_later_group() {
    // Every group of block 0 bails out of the body (a lane with x = 8 skips it, but its
    // zero divisor fails the group's check) after the nested y += 1 waited; block 1's lanes
    // disagree at the outer branch but none runs the nested store. Were the waiting store
    // still marked, block 1 would write block 0's y from the first round over the third.
    let src = ".kernel b\n.param x: ptr u32\n.param y: ptr u32\n.param z: ptr u32\n\
        .param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nmov.u32 r3, 3\n\
        head:\nsetp.lt.u32 p0, r1, lim\n@!p0 bra @join\nsetp.lt.u32 p2, r1, 3\n\
        @!p2 bra @skip\nldg.u32 r2, [y + %gid*4]\nadd.u32 r2, r2, 1\n\
        stg.u32 [y + %gid*4], r2\nskip:\nsub.u32 r4, r1, 8\ndiv.u32 r5, 100, r4\n\
        stg.u32 [z + %gid*4], r5\njoin:\nloop r3, @head\nexit\n";
    let d = detail(src);
    assert!(d.contains("(pc 3, 5) run both ways"), "{d}");
    assert!(d.contains("wait for its join"), "{d}");
    let x: Vec<u32> = (0..64)
        .map(|i| match (i < 32, i % 8 == 7) {
            (true, true) => 8,
            (true, false) => i as u32 % 5,
            (false, _) => [4, 6][i % 2],
        })
        .collect();
    let y: Vec<u32> = (0..64).map(|i| 1000 * i).collect();
    let out = run_all(
        &asm(src),
        2,
        32,
        &[u32s(&x), u32s(&y), zeros(256), Arg::Scalar(5)],
    );
    assert_eq!(out.trap.kind, 0);
    let want_y: Vec<u32> = (0..64)
        .map(|i| y[i] + if x[i] < 3 { 3 } else { 0 })
        .collect();
    let want_z: Vec<u32> = (0..64)
        .map(|i| match x[i] < 5 {
            true => 100 / x[i].wrapping_sub(8),
            false => 0,
        })
        .collect();
    assert_eq!(to_u32(out.buf(1)), want_y);
    assert_eq!(to_u32(out.buf(2)), want_z);
}

#[test]
fn a_check_that_fails_for_a_lane_that_branches_reruns_the_body_from_the_branch() {
    // The zero divisor is in lane 13, which skips the body: the group leaves vector code at
    // the branch with r1 as it was there, so the other lanes add 7 once, not twice.
    let src = ".kernel r\n.param x: ptr u32\n.param y: ptr u32\n.param lim: u32\n\
        ldg.u32 r1, [x + %gid*4]\nsub.u32 r4, r1, 8\nsetp.ge.u32 p0, r1, lim\n@p0 bra @skip\n\
        add.u32 r1, r1, 7\nsetp.lt.u32 p1, r1, 9\ndiv.u32 r5, 1000, r4\nadd.u32 r1, r1, r5\n\
        skip:\nsel.u32 r1, p1, 1, r1\nstg.u32 [y + %gid*4], r1\nexit\n";
    let x: Vec<u32> = (0..40).map(|i| if i == 13 { 8 } else { i % 7 }).collect();
    let out = run_all(&asm(src), 1, 40, &[u32s(&x), zeros(160), Arg::Scalar(8)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<u32> = x
        .iter()
        .map(|&v| {
            if v >= 8 {
                return v;
            }
            let r1 = v + 7;
            if r1 < 9 {
                1
            } else {
                r1 + 1000 / v.wrapping_sub(8)
            }
        })
        .collect();
    assert_eq!(to_u32(out.buf(1)), want);
}

/// `if x > lim { y = x * x } else { y = -x; z[i] = 1 }` with a gathered load on the else
/// side (`x[x as u32]`; the then side's lanes have added 100 to x there): `@p0` or `@!p0` on
/// a compare of a loaded value, 32-bit lanes.
fn if_else(sense: &str) -> String {
    format!(
        ".kernel ie\n.param x: ptr f32\n.param y: ptr f32\n.param z: ptr u32\n.param lim: f32\n.param w: ptr f32\n\
         ldg.f32 r1, [x + %gid*4]\nsetp.le.f32 p0, r1, lim\n{sense} bra @else\n\
         mul.f32 r2, r1, r1\nadd.f32 r1, r1, 100.0\nbra @join\n\
         else:\nneg.f32 r2, r1\ncvt.u32.f32 r3, r1\nldg.f32 r4, [x + r3*4]\nadd.f32 r2, r2, r4\n\
         stg.u32 [z + %gid*4], 1\n\
         join:\nstg.f32 [y + %gid*4], r2\nstg.f32 [w + %gid*4], r1\nexit\n"
    )
}

/// The arguments of [`if_else`] for input `x` and `lim`: y zeroed, z all 7, w zeroed.
fn if_else_args(x: &[f32], lim: f32) -> [Arg; 5] {
    let n = x.len();
    [
        f32s(x),
        zeros(n * 4),
        u32s(&vec![7; n]),
        Arg::Scalar(lim.to_bits() as u64),
        zeros(n * 4),
    ]
}

#[test]
fn if_else_runs_each_side_under_its_own_masks() {
    for sense in ["@p0", "@!p0"] {
        let src = if_else(sense);
        assert!(
            detail(&src).contains("(pc 2) run both ways"),
            "{}",
            detail(&src)
        );
        // Mixed groups; whole groups one way (the first 16 lanes small, the next 16 large).
        let mixed: Vec<f32> = (0..64).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
        let grouped: Vec<f32> = (0..64)
            .map(|i| {
                if (i / 16) % 2 == 0 {
                    (i % 5) as f32 - 9.0
                } else {
                    30.0 + (i % 30) as f32
                }
            })
            .collect();
        for x in [mixed, grouped] {
            let out = run_all(&asm(&src), 2, 32, &if_else_args(&x, -2.0));
            assert_eq!(out.trap.kind, 0);
            let (mut wx, mut wy, mut wz) = (x.clone(), Vec::new(), Vec::new());
            for (i, &v) in x.iter().enumerate() {
                // `@p0` branches to the else side where x <= lim, `@!p0` where x > lim.
                let to_else = (v <= -2.0) == (sense == "@p0");
                if to_else {
                    wy.push(-v + x[v as u32 as usize]);
                    wz.push(1);
                } else {
                    wy.push(v * v);
                    wz.push(7);
                    wx[i] = v + 100.0;
                }
            }
            assert_eq!(to_f32(out.buf(1)), wy, "{sense}");
            assert_eq!(to_u32(out.buf(2)), wz, "{sense}");
            assert_eq!(to_f32(out.buf(4)), wx, "{sense}");
        }
    }
}

#[test]
fn if_else_checks_fail_for_the_lanes_of_the_other_side_without_a_trap() {
    // lim = 50: values above it go to the then side (`@p0`: x <= lim branches to else),
    // which adds 100 to them; the else side's gather would read far out of bounds for those
    // lanes, which do not run it, so the group leaves vector code at the branch (undoing the
    // then side's writes: they would add 100 twice) and the per-lane code gives the
    // interpreter's results.
    let src = if_else("@p0");
    let x: Vec<f32> = (0..32)
        .map(|i| {
            if i % 3 == 0 {
                60.0 + i as f32
            } else {
                (i % 7) as f32
            }
        })
        .collect();
    let out = run_all(&asm(&src), 1, 32, &if_else_args(&x, 50.0));
    assert_eq!(out.trap.kind, 0);
    let wy: Vec<f32> = x
        .iter()
        .map(|&v| if v <= 50.0 { -v + x[v as usize] } else { v * v })
        .collect();
    let ww: Vec<f32> = x
        .iter()
        .map(|&v| if v <= 50.0 { v } else { v + 100.0 })
        .collect();
    assert_eq!(to_f32(out.buf(1)), wy);
    assert_eq!(to_f32(out.buf(4)), ww);
    // A lane on the else side whose index is out of bounds traps there.
    let mut bad = x.clone();
    bad[7] = 40.0;
    let out = run_all(&asm(&src), 1, 32, &if_else_args(&bad, 50.0));
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 8, 0, 7, 0, 160));
}

#[test]
fn if_else_sides_convert_their_own_masks() {
    // A 32-bit compare choosing between two 64-bit results.
    let src = ".kernel iw\n.param k: ptr u32\n.param x: ptr f64\n.param y: ptr f64\n\
        ldg.u32 r1, [k + %gid*4]\nldg.f64 r2, [x + %gid*8]\nsetp.lt.u32 p0, r1, 3\n\
        @p0 bra @small\nmul.f64 r2, r2, 10.0\nbra @join\nsmall:\nadd.f64 r2, r2, 0.5\n\
        join:\nstg.f64 [y + %gid*8], r2\nexit\n";
    assert!(
        detail(src).contains("(pc 3) run both ways"),
        "{}",
        detail(src)
    );
    let k: Vec<u32> = (0..40).map(|i| (i * 7) % 6).collect();
    let x: Vec<f64> = (0..40).map(|i| i as f64).collect();
    let out = run_all(&asm(src), 1, 40, &[u32s(&k), f64s(&x), zeros(320)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<f64> = k
        .iter()
        .zip(&x)
        .map(|(&k, &x)| if k < 3 { x + 0.5 } else { x * 10.0 })
        .collect();
    assert_eq!(to_f64(out.buf(2)), want);
}

#[test]
fn nested_branches_and_else_if_chains_run_under_combined_masks() {
    // if x < -1 { y = -1 } else if x > 1 { y = 1; z = x } else { y = x * x }, then
    // if x > 0 { w = 2x; if x > 3 { w = w + 100 } } (w kept where x <= 0).
    let src = ".kernel nest\n.param x: ptr f32\n.param y: ptr f32\n.param z: ptr f32\n\
        .param w: ptr f32\n\
        ldg.f32 r1, [x + %gid*4]\nldg.f32 r4, [w + %gid*4]\nsetp.lt.f32 p0, r1, -1.0\n\
        @!p0 bra @not_low\nmov_imm.f32 r2, -1.0\nbra @done\n\
        not_low:\nsetp.gt.f32 p1, r1, 1.0\n@!p1 bra @middle\nmov_imm.f32 r2, 1.0\n\
        stg.f32 [z + %gid*4], r1\nbra @done\n\
        middle:\nmul.f32 r2, r1, r1\n\
        done:\nstg.f32 [y + %gid*4], r2\n\
        setp.gt.f32 p2, r1, 0.0\n@!p2 bra @end\nadd.f32 r4, r1, r1\nsetp.gt.f32 p3, r1, 3.0\n\
        @!p3 bra @end\nadd.f32 r4, r4, 100.0\n\
        end:\nstg.f32 [w + %gid*4], r4\nexit\n";
    assert!(
        detail(src).contains("(pc 3, 7, 14, 17) run both ways"),
        "{}",
        detail(src)
    );
    let mixed: Vec<f32> = (0..64)
        .map(|i| ((i * 29) % 19) as f32 * 0.5 - 4.5)
        .collect();
    let grouped: Vec<f32> = (0..64)
        .map(|i| [-3.0, 0.5, 2.0, 5.0][i / 16] + 0.25)
        .collect();
    for x in [mixed, grouped] {
        let out = run_all(
            &asm(src),
            2,
            32,
            &[f32s(&x), zeros(256), f32s(&[7.0; 64]), f32s(&[9.0; 64])],
        );
        assert_eq!(out.trap.kind, 0);
        let (mut wy, mut wz, mut ww) = (Vec::new(), Vec::new(), Vec::new());
        for &v in &x {
            let (y, z) = if v < -1.0 {
                (-1.0, 7.0)
            } else if v > 1.0 {
                (1.0, v)
            } else {
                (v * v, 7.0)
            };
            wy.push(y);
            wz.push(z);
            ww.push(match v {
                v if v > 3.0 => 2.0 * v + 100.0,
                v if v > 0.0 => 2.0 * v,
                _ => 9.0,
            });
        }
        assert_eq!(to_f32(out.buf(1)), wy);
        assert_eq!(to_f32(out.buf(2)), wz);
        assert_eq!(to_f32(out.buf(3)), ww);
    }
}

#[test]
fn nested_code_keeps_the_lanes_an_enclosing_branch_leaves_out() {
    // The inner condition is independent of the outer one, and r5 is dead where the inner
    // `if` ends (overwritten there) but live where the outer one does: lanes the outer
    // branch leaves out must keep r5 through both writes, whatever b says.
    let src = ".kernel keep\n.param a: ptr i32\n.param b: ptr i32\n.param y: ptr i32\n\
        ldg.i32 r1, [a + %gid*4]\nldg.i32 r2, [b + %gid*4]\nmul.i32 r5, r1, 10\n\
        setp.gt.i32 p0, r1, 0\n@!p0 bra @outer_end\n\
        setp.gt.i32 p1, r2, 0\n@!p1 bra @inner_end\nmov.i32 r5, 1\n\
        inner_end:\nmov.i32 r5, 2\n\
        outer_end:\nstg.i32 [y + %gid*4], r5\nexit\n";
    assert!(
        detail(src).contains("(pc 4, 6) run both ways"),
        "{}",
        detail(src)
    );
    let a: Vec<i32> = (0..48).map(|i| (i % 3) - 1).collect();
    let b: Vec<i32> = (0..48).map(|i| (i % 4) - 1).collect();
    let out = run_all(&asm(src), 1, 48, &[i32s(&a), i32s(&b), zeros(192)]);
    assert_eq!(out.trap.kind, 0);
    let want: Vec<u32> = a
        .iter()
        .zip(&b)
        .map(|(&a, _)| if a > 0 { 2 } else { (a * 10) as u32 })
        .collect();
    assert_eq!(to_u32(out.buf(2)), want);
}

#[test]
fn gathers_in_masked_code_ignore_the_indices_of_lanes_not_running_it() {
    // Lanes whose index is the -1 sentinel skip the gather and the scatter; the others read
    // x[idx] and write z[idx].
    let src = ".kernel sentinel\n.param idx: ptr i32\n.param x: ptr f32\n.param y: ptr f32\n\
        .param z: ptr f32\n\
        ldg.i32 r1, [idx + %gid*4]\nmov_imm.f32 r2, 5.0\nsetp.lt.i32 p0, r1, 0\n@p0 bra @skip\n\
        ldg.f32 r2, [x + r1*4]\nstg.f32 [z + r1*4], r2\nskip:\nstg.f32 [y + %gid*4], r2\nexit\n";
    assert!(
        detail(src).contains("(pc 3) run both ways"),
        "{}",
        detail(src)
    );
    let idx: Vec<i32> = (0..64)
        .map(|i| if i % 3 == 1 { -1 } else { (i * 5) % 64 })
        .collect();
    let x: Vec<f32> = (0..64).map(|i| i as f32 * 0.5).collect();
    let out = run_all(
        &asm(src),
        2,
        32,
        &[i32s(&idx), f32s(&x), zeros(256), f32s(&[3.0; 64])],
    );
    assert_eq!(out.trap.kind, 0);
    let mut z = vec![3.0f32; 64];
    let y: Vec<f32> = idx
        .iter()
        .map(|&i| {
            if i < 0 {
                5.0
            } else {
                z[i as usize] = x[i as usize];
                x[i as usize]
            }
        })
        .collect();
    assert_eq!(to_f32(out.buf(2)), y);
    assert_eq!(to_f32(out.buf(3)), z);
}

/// A loop whose trip count is per-lane data: `while (i < k) { acc = acc * 0.5 + v; i++ }`
/// (`do_while`: the test at the bottom, a conditional back edge), in f64 registers under
/// 32-bit masks.
fn trip_count_loop(do_while: bool) -> String {
    let body = "mul.f64 r1, r1, 0.5\nadd.f64 r1, r1, r3\nadd.u32 r2, r2, 1\n";
    let lp = if do_while {
        format!("top:\n{body}setp.ge.u32 p1, r2, r0\n@!p1 bra @top\n")
    } else {
        format!("top:\nsetp.ge.u32 p1, r2, r0\n@p1 bra @out\n{body}bra @top\nout:\n")
    };
    format!(
        ".kernel trips\n.param k: ptr u32\n.param y: ptr f64\n.param n: u32\n\
         setp.ge.u32 p0, %gid, n\n@p0 bra @done\nldg.u32 r0, [k + %gid*4]\n\
         cvt.f64.u32 r3, %gid\nmov_imm.f64 r1, 0.0\nmov_imm.u32 r2, 0\n{lp}\
         stg.f64 [y + %gid*8], r1\ndone:\nexit\n"
    )
}

#[test]
fn loops_with_per_lane_trip_counts_run_under_masks() {
    let n = 300usize;
    let k: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) >> 28)
        .collect();
    for do_while in [false, true] {
        let src = trip_count_loop(do_while);
        assert!(
            detail(&src).contains("loops whose lanes leave at different iterations"),
            "{}",
            detail(&src)
        );
        let out = run_all(
            &asm(&src),
            3,
            128,
            &[u32s(&k), zeros(n * 8), Arg::Scalar(n as u64)],
        );
        assert_eq!(out.trap.kind, 0);
        let want: Vec<f64> = (0..n)
            .map(|i| {
                // A do-while runs its body once even for a count of 0.
                let trips = if do_while { k[i].max(1) } else { k[i] };
                (0..trips).fold(0.0, |acc, _| acc * 0.5 + i as f64)
            })
            .collect();
        assert_eq!(to_f64(out.buf(1)), want, "do_while {do_while}");
    }
}

#[test]
fn fuel_a_lane_saved_by_leaving_a_masked_loop_early_stays_its_own() {
    // Lanes loop k[gid] times (0-15), then 20 times more in a uniform loop: with 30 units
    // of fuel, exactly the lanes with k > 10 run out, in the second loop; the lowest of
    // them traps. Every strategy (the scalar one counts per lane) must agree.
    let src = trip_count_loop(false).replace(
        "stg.f64",
        "mov_imm.u32 r5, 21\nagain:\nloop r5, @again\nstg.f64",
    );
    let n = 64usize;
    for first in [11u32, 12, 15] {
        // Lanes below `at` loop 3 times; lane `at` loops `first` times.
        let at = 13usize;
        let k: Vec<u32> = (0..n).map(|i| if i == at { first } else { 3 }).collect();
        let out = run_all_fuel(
            &asm(&src),
            1,
            64,
            &[u32s(&k), zeros(n * 8), Arg::Scalar(n as u64)],
            30,
        );
        assert_eq!(out.trap.kind, TrapKind::OutOfFuel as u32, "k = {first}");
        assert_eq!(out.trap.lane, at as u32, "k = {first}");
    }
}

/// A CSR sparse matrix times a vector, one row per lane: the rows' lengths differ, so the
/// loop over a row's entries is a masked loop with loads (the column indices and values
/// contiguous in the row, the vector gathered by column).
const SPMV: &str = ".kernel spmv\n.param rowptr: ptr u32\n.param col: ptr u32\n\
    .param val: ptr f32\n.param x: ptr f32\n.param y: ptr f32\n.param n: u32\n\
    setp.ge.u32 p0, %gid, n\n@p0 bra @done\nadd.u32 r9, %gid, 1\n\
    ldg.u32 r1, [rowptr + %gid*4]\nldg.u32 r2, [rowptr + r9*4]\nmov_imm.f32 r3, 0.0\n\
    top:\nsetp.ge.u32 p1, r1, r2\n@p1 bra @out\nldg.u32 r4, [col + r1*4]\n\
    ldg.f32 r5, [val + r1*4]\nldg.f32 r6, [x + r4*4]\nfma.f32 r3, r5, r6, r3\n\
    add.u32 r1, r1, 1\nbra @top\nout:\nstg.f32 [y + %gid*4], r3\ndone:\nexit\n";

#[test]
fn sparse_rows_of_different_lengths_run_as_a_masked_loop_with_gathers() {
    let (n, cols) = (300usize, 64usize);
    let mut rowptr = vec![0u32];
    let (mut col, mut val) = (Vec::new(), Vec::new());
    for r in 0..n {
        for k in 0..(r * 7 + 3) % 13 {
            col.push(((r * 31 + k * 17) % cols) as u32);
            val.push((k as f32 - 2.5) * 0.25);
        }
        rowptr.push(col.len() as u32);
    }
    let x: Vec<f32> = (0..cols).map(|i| i as f32 * 0.5 - 3.0).collect();
    assert!(
        detail(SPMV).contains("loops whose lanes leave at different iterations"),
        "{}",
        detail(SPMV)
    );
    let args = |col: &[u32]| {
        [
            u32s(&rowptr),
            u32s(col),
            f32s(&val),
            f32s(&x),
            zeros(n * 4),
            Arg::Scalar(n as u64),
        ]
    };
    let out = run_all(&asm(SPMV), 3, 128, &args(&col));
    assert_eq!(out.trap.kind, 0);
    let want: Vec<f32> = (0..n)
        .map(|r| {
            let (a, b) = (rowptr[r] as usize, rowptr[r + 1] as usize);
            (a..b).fold(0.0f32, |acc, j| val[j].mul_add(x[col[j] as usize], acc))
        })
        .collect();
    assert_eq!(to_f32(out.buf(4)), want);
    // A column index out of range in row 200's last entry: that lane traps there.
    let mut bad = col.clone();
    bad[rowptr[201] as usize - 1] = cols as u32;
    let out = run_all(&asm(SPMV), 3, 128, &args(&bad));
    assert_eq!(out.trap.kind, TrapKind::OutOfBounds as u32);
    assert_eq!((out.trap.block, out.trap.lane), (1, 72));
}

#[test]
fn lane_affine_registers_written_under_masks_where_they_are_dead_outside() {
    // `if %lane < k { r3 = %gid + k; y[gid] = x[r3] }`: r3 is lane-affine and dead outside
    // the body, so the body runs under masks, r3 written in every lane.
    let dead = ".kernel shift\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        setp.ge.u32 p1, %lane, k\n@p1 bra @done\nadd.u32 r3, %gid, k\n\
        ldg.u32 r4, [x + r3*4]\nstg.u32 [y + %gid*4], r4\ndone:\nexit\n";
    assert!(
        detail(dead).contains("divergent forward branches (pc 1) run both ways"),
        "{}",
        detail(dead)
    );
    // The same register live after the join (its old value is read there), written on
    // both sides of an if/else and read after it (each lane must see its own side's value),
    // and read by the compare before the branch (where a bail-out resumes).
    let live_after = ".kernel after\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        add.u32 r3, %gid, 1\nsetp.ge.u32 p1, %lane, k\n@p1 bra @join\nadd.u32 r3, %gid, k\n\
        ldg.u32 r4, [x + r3*4]\nstg.u32 [y + %gid*4], r4\n\
        join:\nstg.u32 [x + %gid*4], r3\nexit\n";
    let both_sides = ".kernel both\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        setp.ge.u32 p1, %lane, k\n@p1 bra @else\nadd.u32 r3, %gid, k\nbra @join\n\
        else:\nadd.u32 r3, %gid, 2\njoin:\nldg.u32 r4, [x + r3*4]\nstg.u32 [y + %gid*4], r4\n\
        exit\n";
    let setp_reads = ".kernel again\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        mov.u32 r3, %lane\nsetp.ge.u32 p1, r3, k\n@p1 bra @done\nadd.u32 r3, %gid, k\n\
        ldg.u32 r4, [x + r3*4]\nstg.u32 [y + %gid*4], r4\ndone:\nexit\n";
    // A load past the end in the second block bails the group out to the compare, which
    // must see r3 as it was there, and trap as scalar code does.
    let short = [u32s(&[7; 67]), zeros(512), Arg::Scalar(5)];
    assert_eq!(
        run_all(&asm(setp_reads), 2, 64, &short).trap.kind,
        TrapKind::OutOfBounds.code()
    );
    for src in [dead, live_after, both_sides, setp_reads] {
        // k within a group, at a group's edge and past the block; x just long enough for
        // the lanes below k (reads past it trap, as in scalar code).
        for (block, k) in [(64u32, 5u32), (64, 32), (64, 40), (48, 64), (64, 0)] {
            let lanes = 2 * block as usize;
            let x: Vec<u32> = (0..lanes as u32 + 64).map(|i| i * 5 + 3).collect();
            let args = [u32s(&x), zeros(lanes * 4), Arg::Scalar(k as u64)];
            let out = run_all(&asm(src), 2, block, &args);
            assert_eq!(out.trap.kind, 0, "{src} {block} {k}");
            if src == dead {
                let want: Vec<u32> = (0..lanes)
                    .map(|g| {
                        let lane = (g % block as usize) as u32;
                        if lane < k {
                            x[g + k as usize]
                        } else {
                            0
                        }
                    })
                    .collect();
                assert_eq!(to_u32(out.buf(1)), want, "{block} {k}");
            }
        }
    }
}

#[test]
fn uniform_registers_written_under_masks_where_they_are_dead_outside() {
    // `if %lane == 0 { r6 = x[0] + k; y[block] = r6 }` (the end of a block reduction): r6 is
    // uniform and dead outside the body, so the body runs under masks, r6 written in every
    // lane, and the group whose first lane runs it stays in vector code.
    let dead = ".kernel first\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        setp.ne.u32 p1, %lane, 0\n@p1 bra @done\nldg.u32 r6, [x + 0]\nadd.u32 r6, r6, k\n\
        stg.u32 [y + %block*4], r6\ndone:\nexit\n";
    assert!(
        detail(dead).contains("divergent forward branches (pc 1) run both ways"),
        "{}",
        detail(dead)
    );
    // The same register live after the join (the lanes that skip the body keep 7), written
    // on both sides of an if/else and read after it, and written before a load that traps
    // for the lanes that run the body (the bail-out resumes at the compare, where r6 is
    // dead).
    let live_after = ".kernel after\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        mov.u32 r6, 7\nsetp.ne.u32 p1, %lane, 0\n@p1 bra @join\nldg.u32 r6, [x + 0]\n\
        join:\nstg.u32 [y + %gid*4], r6\nexit\n";
    let both_sides = ".kernel both\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        setp.ge.u32 p1, %lane, k\n@p1 bra @else\nldg.u32 r6, [x + 0]\nbra @join\n\
        else:\nadd.u32 r6, k, 2\njoin:\nstg.u32 [y + %gid*4], r6\nexit\n";
    let traps = ".kernel traps\n.param x: ptr u32\n.param y: ptr u32\n.param k: u32\n\
        setp.ge.u32 p1, %lane, k\n@p1 bra @done\nmul.u32 r6, k, 1000\n\
        ldg.u32 r4, [x + r6*4]\nstg.u32 [y + %gid*4], r4\ndone:\nexit\n";
    let x: Vec<u32> = (0..200u32).map(|i| i * 5 + 3).collect();
    for src in [dead, live_after, both_sides, traps] {
        for (block, k) in [(64u32, 5u32), (64, 32), (64, 0), (48, 64)] {
            let lanes = 2 * block as usize;
            let args = [u32s(&x), zeros(lanes * 4), Arg::Scalar(k as u64)];
            let out = run_all(&asm(src), 2, block, &args);
            if src == traps {
                let kind = if k == 0 {
                    0
                } else {
                    TrapKind::OutOfBounds.code()
                };
                assert_eq!(out.trap.kind, kind, "{block} {k}");
                continue;
            }
            assert_eq!(out.trap.kind, 0, "{src} {block} {k}");
            let y = to_u32(out.buf(1));
            let want: Vec<u32> = (0..lanes)
                .map(|g| {
                    let lane = (g % block as usize) as u32;
                    if src == dead {
                        // y[block] for the two blocks, the rest untouched.
                        if g < 2 {
                            x[0] + k
                        } else {
                            0
                        }
                    } else if src == live_after {
                        if lane == 0 {
                            x[0]
                        } else {
                            7
                        }
                    } else if lane < k {
                        x[0]
                    } else {
                        k + 2
                    }
                })
                .collect();
            assert_eq!(y, want, "{src} {block} {k}");
        }
    }
}

#[test]
fn if_else_on_the_lane_index_whose_sides_test_for_lanes() {
    // An if/else on a lane-affine guard whose taken side holds code vector code runs only
    // where some lane needs it (a transcendental, a remainder): when every lane of a group
    // branches, the taken side runs under masks all the same (it used masks that the path
    // skipping the fall-through side never made: the CLIF verifier rejected the function,
    // release builds panicked in register allocation). Three shapes found by fuzzing.
    let exp = ".kernel t\n.param x: ptr f32\n.param o: ptr f32\n\
        ldg.f32 r1, [x + %gid*4]\nsetp.lt.u32 p1, 1, %lane\n@p1 bra @else\nbra @end\n\
        else:\nexp.f32 r1, r1\nmul.f32 r1, r1, 3.0\nend:\nstg.f32 [o + %gid*4], r1\nexit\n";
    let x = signed(40);
    let out = run_all(&asm(exp), 2, 20, &[f32s(&x), zeros(160)]);
    let o = to_f32(out.buf(1));
    for g in 0..40 {
        let want = if g % 20 > 1 {
            holovm_isa::math::exp_f32(x[g]) * 3.0
        } else {
            x[g]
        };
        assert_eq!(o[g].to_bits(), want.to_bits(), "lane {g}");
    }
    let rem = ".kernel t\n.param b: ptr u32\n.param o: ptr u32\n.param m: u32\n\
        ldg.u32 r7, [b + %gid*4]\nnot.u32 r5, r7\ntanh.f64 r12, 0.0\n\
        setp.eq.u64 p1, 5, %gid\n@p1 bra @else\nrem.u32 r8, r7, m\nbra @end\n\
        else:\nand.u32 r5, r7, 7\nshl.u32 r8, r7, r5\nend:\nstg.u32 [o + %gid*4], r8\nexit\n";
    let b: Vec<u32> = (0..16).map(|i| i * 7 + 3).collect();
    let out = run_all(&asm(rem), 2, 8, &[u32s(&b), zeros(64), Arg::Scalar(3)]);
    let o = to_u32(out.buf(1));
    for g in 0..16 {
        let want = if g == 5 { b[g] << (b[g] % 8) } else { b[g] % 3 };
        assert_eq!(o[g], want, "lane {g}");
    }
    let phased = ".kernel t\n.param o: ptr u32\n.param w: u64\n\
        reduce.min.i64 r13, %gid\nsetp.ge.u64 p1, %gid, w\n@!p1 bra @else\n\
        setp.ne.u32 p2, 7, %lane\n@p2 bra @inner\nshl.u32 r8, %gid, 2\ninner:\nadd.u32 r4, r8, 1\n\
        bra @end\nelse:\nmul.u32 r4, %gid, 3\nend:\nadd.u32 r4, r4, r13\nstg.u32 [o + %gid*4], r4\nexit\n";
    let out = run_all(&asm(phased), 2, 20, &[zeros(160), Arg::Scalar(13)]);
    let o = to_u32(out.buf(0));
    for g in 0..40u32 {
        let r13 = 20 * (g / 20);
        let r8 = if g >= 13 && g % 20 == 7 { g << 2 } else { 0 };
        let want = if g >= 13 { r8 + 1 } else { g * 3 };
        assert_eq!(o[g as usize], want + r13, "lane {g}");
    }
}
