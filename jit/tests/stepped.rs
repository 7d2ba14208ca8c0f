//! Stepped registers (lane `l` of a group holds `v + step * l`, a step of 2, 4 or 8): byte
//! offsets `%gid << 2` into buffers and pointers `&a + (%gid << 2)`, which vector code
//! keeps as one scalar and accesses contiguously. Under every strategy (the scalar one is
//! the reference: `run_all` checks that all agree), against Rust, with traps.
mod common;
use common::*;
use holovm_jit::{compile, JitOptions, Strategy, TrapKind};
use proptest::prelude::*;

/// `c[i] = a[i] + b[i]` through a byte offset: `shl` (f32, scale 1), `mul` (f64, scale 1)
/// or a half step at scale 2.
fn add_kernel(ty: &str, offset: &str, scale: &str) -> String {
    format!(
        ".kernel add_bytes\n.param a: ptr {ty}\n.param b: ptr {ty}\n.param c: ptr {ty}\n\
         .param n: u32\nsetp.ge.u32 p0, %gid, n\n@p0 bra @done\n{offset}\n\
         ldg.{ty} r1, [a + r0{scale}]\nldg.{ty} r2, [b + r0{scale}]\nadd.{ty} r3, r1, r2\n\
         stg.{ty} [c + r0{scale}], r3\ndone:\nexit\n"
    )
}

/// `c[i] = a[i] + b[i]` through pointers: `&a + (u64(%gid) << 2)`, and `[r4 + imm]`.
const ADD_POINTERS: &str = ".kernel add_ptr\n.param a: ptr f32\n.param b: ptr f32\n\
    .param c: ptr f32\n.param n: u32\n.param back: u32\nsetp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
    cvt.u64.u32 r0, %gid\nshl.u64 r0, r0, 2\nmov_imm.u64 r4, &a\nadd.u64 r4, r4, r0\n\
    mov_imm.u64 r5, &b\nadd.u64 r5, r5, r0\nmov_imm.u64 r6, &c\nadd.u64 r6, r6, r0\n\
    setp.eq.u32 p1, back, 0\n@p1 bra @ahead\nldg.f32 r1, [r4 - 4]\nbra @rest\n\
    ahead:\nldg.f32 r1, [r4]\nrest:\nldg.f32 r2, [r5 + 0]\nadd.f32 r3, r1, r2\nstg.f32 [r6], r3\n\
    done:\nexit\n";

fn inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..n).map(|i| (i % 17) as f32 * 0.5 - 3.0).collect();
    let b = (0..n).map(|i| (i % 5) as f32 + 0.25).collect();
    (a, b)
}

#[test]
fn byte_offsets_index_buffers_contiguously() {
    let f32_shl = add_kernel("f32", "shl.u32 r0, %gid, 2", "");
    let f32_half = add_kernel("f32", "shl.u32 r0, %gid, 1", "*2");
    let f64_mul = add_kernel("f64", "mul.u32 r0, %gid, 8", "");
    for (src, step) in [(&f32_shl, 4), (&f32_half, 2), (&f64_mul, 8)] {
        let detail = vector_detail(src);
        assert!(detail.contains(&format!("r0 (step {step})")), "{detail}");
    }
    for (grid, block, n) in [(1, 32, 32), (3, 16, 45), (2, 8, 5), (4, 24, 90), (1, 1, 1)] {
        let lanes = (grid * block) as usize;
        let (a, b) = inputs(lanes);
        for src in [&f32_shl, &f32_half] {
            let out = run_all(
                &asm(src),
                grid,
                block,
                &[f32s(&a), f32s(&b), zeros(lanes * 4), Arg::Scalar(n as u64)],
            );
            assert_eq!(out.trap.kind, 0);
            let got = to_f32(out.buf(2));
            for i in 0..lanes {
                let want = if i < n { a[i] + b[i] } else { 0.0 };
                assert_eq!(got[i], want, "element {i} of {grid}x{block}, n = {n}");
            }
        }
        let (a, b): (Vec<f64>, Vec<f64>) = (
            a.iter().map(|&x| f64::from(x)).collect(),
            b.iter().map(|&x| f64::from(x) / 3.0).collect(),
        );
        let out = run_all(
            &asm(&f64_mul),
            grid,
            block,
            &[f64s(&a), f64s(&b), zeros(lanes * 8), Arg::Scalar(n as u64)],
        );
        assert_eq!(out.trap.kind, 0);
        let got = to_f64(out.buf(2));
        for i in 0..n {
            assert_eq!(
                got[i],
                a[i] + b[i],
                "element {i} of {grid}x{block}, n = {n}"
            );
        }
    }
}

#[test]
fn byte_offsets_trap_like_the_interpreter() {
    let src = add_kernel("f32", "shl.u32 r0, %gid, 2", "");
    // n past the buffers: the first lane past their end traps, wherever it falls.
    for len in [1usize, 7, 8, 9, 20, 33] {
        let (a, b) = inputs(len);
        let out = run_all(
            &asm(&src),
            2,
            24,
            &[f32s(&a), f32s(&b), zeros(len * 4), Arg::Scalar(48)],
        );
        let (block, lane) = ((len / 24) as u32, (len % 24) as u32);
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, 3, block, lane, 0, len as i128 * 4),
            "buffers of {len} elements"
        );
    }
    // A byte offset that is not a multiple of 4 (every lane's), and one that wraps around
    // 2^32 within a group (the lanes before the wrap are out of bounds).
    let (a, b) = inputs(64);
    let args = [f32s(&a), f32s(&b), zeros(256), Arg::Scalar(64)];
    let odd = add_kernel("f32", "shl.u32 r0, %gid, 2\nadd.u32 r0, r0, 2", "");
    let out = run_all(&asm(&odd), 2, 32, &args);
    assert_eq!(out.trap, trap(TrapKind::Misaligned, 4, 0, 0, 0, 2));
    for start in [0xFFFF_FFF0u32, 0xFFFF_FFFC] {
        let wrap = add_kernel(
            "f32",
            &format!("shl.u32 r0, %gid, 2\nadd.u32 r0, r0, {start}"),
            "",
        );
        let out = run_all(&asm(&wrap), 2, 32, &args);
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, 4, 0, 0, 0, i128::from(start)),
            "start {start:#x}"
        );
    }
}

#[test]
fn a_grid_stride_byte_offset_stays_one_scalar() {
    // i = %gid; while i < n: sum += x[i], through the byte offsets i * 4 and one carried
    // from the first; i += lanes. (A loop whose exit compares a stepped register runs under
    // lane masks, with the register per-lane.)
    let src = ".kernel gsum\n.param x: ptr f32\n.param out: ptr f32\n.param n: u32\n\
        mul.u32 r30, %gdim, %bdim\nshl.u32 r31, r30, 2\n\
        mov_imm.f32 r20, 0.0\nmov.u32 r21, %gid\nmul.u32 r23, %gid, 4\n\
        next:\nsetp.ge.u32 p0, r21, n\n@p0 bra @store\nshl.u32 r22, r21, 2\n\
        ldg.f32 r0, [x + r22]\nldg.f32 r1, [x + r23]\nadd.f32 r20, r20, r0\n\
        add.f32 r20, r20, r1\nadd.u32 r21, r21, r30\nadd.u32 r23, r23, r31\nbra @next\n\
        store:\nstg.f32 [out + %gid*4], r20\nexit\n";
    let detail = vector_detail(src);
    assert!(detail.contains("r22 (step 4) r23 (step 4)"), "{detail}");
    for (grid, block, n) in [(1, 32, 1000), (3, 16, 999), (2, 8, 5), (1, 24, 24)] {
        let lanes = (grid * block) as usize;
        let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32 - 6.0).collect();
        let out = run_all(
            &asm(src),
            grid,
            block,
            &[f32s(&x), zeros(lanes * 4), Arg::Scalar(n as u64)],
        );
        assert_eq!(out.trap.kind, 0);
        let got = to_f32(out.buf(1));
        for (g, &v) in got.iter().enumerate() {
            let want: f32 = x.iter().skip(g).step_by(lanes).fold(0.0, |s, &x| s + x + x);
            assert_eq!(v, want, "lane {g} of {grid}x{block}, n = {n}");
        }
    }
}

#[test]
fn pointers_stepping_by_the_element_size_access_contiguously() {
    let detail = vector_detail(ADD_POINTERS);
    assert!(
        detail.contains("lane-affine registers (lane l = lane 0 + l, kept as one scalar): r0"),
        "{detail}"
    );
    assert!(detail.contains("r4/2 (step 4)"), "{detail}");
    for (grid, block, n) in [(1, 32, 32), (3, 16, 45), (2, 8, 5), (1, 1, 1)] {
        let lanes = (grid * block) as usize;
        let (a, b) = inputs(lanes);
        let out = run_all(
            &asm(ADD_POINTERS),
            grid,
            block,
            &[
                f32s(&a),
                f32s(&b),
                zeros(lanes * 4),
                Arg::Scalar(n as u64),
                Arg::Scalar(0),
            ],
        );
        assert_eq!(out.trap.kind, 0);
        let got = to_f32(out.buf(2));
        for i in 0..n {
            assert_eq!(
                got[i],
                a[i] + b[i],
                "element {i} of {grid}x{block}, n = {n}"
            );
        }
    }
    // `[r4 - 4]`: lane 0's element is before the buffer; with a buffer shorter than n, the
    // lane past its end traps instead (b is read after a).
    let (a, b) = inputs(40);
    let out = run_all(
        &asm(ADD_POINTERS),
        2,
        16,
        &[
            f32s(&a),
            f32s(&b),
            zeros(160),
            Arg::Scalar(32),
            Arg::Scalar(1),
        ],
    );
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 12, 0, 0, 0, -4));
    let out = run_all(
        &asm(ADD_POINTERS),
        2,
        16,
        &[
            f32s(&a),
            f32s(&b[..21]),
            zeros(160),
            Arg::Scalar(32),
            Arg::Scalar(0),
        ],
    );
    assert_eq!(out.trap, trap(TrapKind::OutOfBounds, 15, 1, 5, 1, 84));
}

#[test]
fn stepped_registers_survive_barriers_and_divergence() {
    // A byte offset live across a barrier that the lanes below k move by a uniform 8 on a
    // branch (a group with lanes on both sides runs per-lane code, and must not regroup at
    // the barrier: its lanes' offsets are no longer 4 apart), then a masked side that
    // writes a stepped register dead after it.
    let src = ".kernel t\n.param a: ptr u32\n.param c: ptr u32\n.param k: u32\n.shared 1024\n\
        shl.u32 r0, %lane, 2\nldg.u32 r1, [a + r0]\nsetp.ge.u32 p0, %lane, k\n@p0 bra @side\n\
        mov_imm.u32 r5, 8\nadd.u32 r0, r0, r5\nadd.u32 r1, r1, 100\n\
        side:\nsts.u32 [shared + %lane*4], r1\nbar.sync\n\
        ldg.u32 r2, [a + r0]\nlds.u32 r3, [shared + %lane*4]\nadd.u32 r3, r3, r2\n\
        setp.ge.u32 p1, %lane, 3\n@p1 bra @keep\nshl.u32 r7, %lane, 1\nldg.u32 r8, [a + r7*2]\n\
        add.u32 r3, r3, r8\nkeep:\nstg.u32 [c + %lane*4], r3\nexit\n";
    let detail = match compile(&asm(src), &JitOptions::default())
        .expect("compile")
        .strategy()
    {
        Strategy::Phased { reason } => reason.clone(),
        other => panic!("expected the phased strategy, got {other}"),
    };
    assert!(detail.contains("r0 (step 4) r7 (step 2)"), "{detail}");
    for (block, k) in [
        (32u32, 0u32),
        (32, 5),
        (32, 32),
        (24, 9),
        (64, 17),
        (64, 40),
    ] {
        let a: Vec<u32> = (0..block + 2).map(|i| i * 7 + 1).collect();
        let out = run_all(
            &asm(src),
            1,
            block,
            &[
                u32s(&a),
                zeros(block as usize * 4),
                Arg::Scalar(u64::from(k)),
            ],
        );
        assert_eq!(out.trap.kind, 0);
        let got = to_u32(out.buf(1));
        for l in 0..block as usize {
            let moved = (l as u32) < k;
            let mut want = a[l] + if moved { 100 } else { 0 };
            want += a[l + if moved { 2 } else { 0 }];
            if l < 3 {
                want += a[l];
            }
            assert_eq!(got[l], want, "lane {l} of {block}, k = {k}");
        }
    }
}

#[test]
fn stepped_values_read_as_values_and_at_other_scales() {
    // r0 steps by 8 bytes: at scale 1 for 4-byte elements its lanes' addresses are not
    // contiguous (each lane's own), its value is stored whole and lane by lane (through
    // a per-lane index, gid ^ 1), and read by arithmetic with a per-lane value.
    let src = ".kernel t\n.param a: ptr u32\n.param c: ptr u32\n.param d: ptr u32\n\
        .param e: ptr u32\n\
        shl.u32 r0, %gid, 3\nldg.u32 r1, [a + r0]\nstg.u32 [c + %gid*4], r0\n\
        xor.u32 r9, %gid, 1\nstg.u32 [d + r9*4], r0\nadd.u32 r1, r1, r0\n\
        stg.u32 [e + %gid*4], r1\nexit\n";
    let detail = vector_detail(src);
    assert!(detail.contains("r0 (step 8)"), "{detail}");
    for (grid, block) in [(1u32, 32u32), (2, 24), (1, 9)] {
        let lanes = (grid * block) as usize;
        let a: Vec<u32> = (0..2 * lanes as u32).map(|i| i * 3 + 5).collect();
        let out = run_all(
            &asm(src),
            grid,
            block,
            &[
                u32s(&a),
                zeros(lanes * 4),
                zeros(lanes * 4 + 4),
                zeros(lanes * 4),
            ],
        );
        assert_eq!(out.trap.kind, 0);
        let (c, d, e) = (to_u32(out.buf(1)), to_u32(out.buf(2)), to_u32(out.buf(3)));
        for g in 0..lanes {
            let off = 8 * g as u32;
            assert_eq!(c[g], off, "lane {g}");
            assert_eq!(d[g ^ 1], off, "lane {g}");
            assert_eq!(e[g], a[2 * g] + off, "lane {g}");
        }
    }
}

/// A random program around stepped registers, from `picks`: a byte offset (`shl`/`mul` of
/// `%gid`, `%lane` or a copy, plus or minus uniform values, possibly wrapping), a pointer
/// (`&a` plus a 64-bit byte offset, widened from 32 bits), loads through them at every
/// scale and offset (and through `&a` plus the byte offset), a divergent branch that moves
/// the offset in some lanes, a barrier, and stores (through the offset only where no branch moves it,
/// so lanes never store to one place).
fn stepped_program(picks: &[u32]) -> String {
    let mut it = picks.iter().copied().cycle();
    let mut pick = |n: u32| it.next().unwrap_or(0) % n;
    let ty = ["u8", "u16", "u32", "f32", "u64", "f64"][pick(6) as usize];
    let size: u32 = match ty {
        "u8" => 1,
        "u16" => 2,
        "u32" | "f32" => 4,
        _ => 8,
    };
    let mut s = format!(
        ".kernel t\n.param a: ptr {ty}\n.param c: ptr {ty}\n.param d: ptr {ty}\n\
         .param n: u32\n.param u: u32\n.param w: u64\n"
    );
    let src = ["%gid", "%lane", "r9"][pick(3) as usize];
    s += "mov.u32 r9, %gid\n";
    s += &match pick(2) {
        0 => format!("shl.u32 r0, {src}, {}\n", pick(4)),
        _ => format!("mul.u32 r0, {src}, {}\n", [1, 2, 3, 4, 8][pick(5) as usize]),
    };
    for _ in 0..pick(3) {
        s += &match pick(4) {
            0 => "add.u32 r0, r0, u\n".to_string(),
            1 => format!("sub.u32 r0, r0, {}\n", pick(3) * size),
            2 => format!(
                "add.u32 r0, {}, r0\n",
                [0xFFFF_FFF0u32, 8, 64][pick(3) as usize]
            ),
            _ => "mov.u32 r10, r0\nmov.u32 r0, r10\n".to_string(),
        };
    }
    // The pointer's offset: `%gid`, the lane-affine r9 or the stepped r0 widened.
    let cvt = ["cvt.u64.u32", "cvt.i64.i32"][pick(2) as usize];
    let wide = ["%gid", "r9", "r0"][pick(3) as usize];
    s += &format!(
        "{cvt} r8, {wide}\nshl.u64 r8, r8, {}\nmov_imm.u64 r1, &a\nadd.u64 r1, r1, r8\n",
        pick(4)
    );
    if pick(3) == 0 {
        s += "add.u64 r1, r1, w\n";
    }
    let moved = pick(3) == 0;
    if moved {
        s += "setp.lt.u32 p0, %lane, n\n@p0 bra @skip\nadd.u32 r0, r0, u\nskip:\n";
    }
    if pick(3) == 0 {
        // The phased strategy: the offsets live across a barrier (groups whose lanes moved
        // them apart must not regroup).
        s += "bar.sync\n";
    }
    let scale = [1, 2, 4, 8][pick(4) as usize];
    s += &format!("ldg.{ty} r2, [a + r0*{scale}]\n");
    let imm = ["", " + 8", " - 8", " + 4", " + 1"][pick(5) as usize];
    s += &format!("ldg.{ty} r3, [r1{imm}]\n");
    if pick(2) == 0 {
        // A uniform pointer plus the byte offset.
        s += &format!("mov_imm.u64 r11, &a\nldg.{ty} r12, [r11 + r0]\nmov.{ty} r3, r12\n");
    }
    let op = if ty.starts_with('f') { "add" } else { "xor" };
    s += &format!("{op}.{ty} r4, r2, r3\nstg.{ty} [c + %gid*{size}], r4\n");
    if !moved && pick(2) == 0 {
        s += &format!("stg.{ty} [d + r0*{scale}], r2\n");
    }
    s + "exit\n"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_stepped_programs_agree_with_scalar_code(
        picks in proptest::collection::vec(any::<u32>(), 24),
        shape in 0usize..4,
        u in 0u32..40,
        w in 0u64..64,
        n in 0u32..40,
    ) {
        let src = stepped_program(&picks);
        let (grid, block) = [(1u32, 32u32), (1, 40), (1, 13), (1, 64)][shape];
        let lanes = (grid * block) as usize;
        // Buffers of 16 bytes a lane: most offsets fit, the largest run past the end.
        let bytes: Vec<u8> = (0..lanes * 16).map(|i| (i * 37 % 251) as u8).collect();
        let args = [
            Arg::Buf(bytes.clone()),
            zeros(lanes * 8),
            zeros(lanes * 16),
            Arg::Scalar(u64::from(n)),
            Arg::Scalar(u64::from(u)),
            Arg::Scalar(w),
        ];
        // (`run_all` checks that every strategy reports the same trap and memory.)
        run_all(&asm(&src), grid, block, &args);
    }
}

#[test]
fn per_lane_byte_offsets_access_consecutive_groups_whole() {
    // A clamped index shifted into a byte offset: per-lane, but consecutive in every group
    // the clamp does not reach, which loads and stores whole (the others lane by lane).
    let src = ".kernel t\n.param a: ptr f32\n.param c: ptr f32\n.param m: u32\n\
        min.u32 r9, %gid, m\nshl.u32 r0, r9, 2\nldg.f32 r1, [a + r0]\n\
        add.f32 r1, r1, 1.0\nstg.f32 [c + r0], r1\nexit\n";
    let detail = vector_detail(src);
    assert!(
        detail.contains("that scale, r0, access a group"),
        "{detail}"
    );
    for (grid, block, m) in [(1u32, 64u32, 64u32), (2, 32, 40), (1, 40, 3), (3, 16, 0)] {
        let lanes = (grid * block) as usize;
        let (a, _) = inputs(lanes);
        let out = run_all(
            &asm(src),
            grid,
            block,
            &[f32s(&a), zeros(lanes * 4), Arg::Scalar(u64::from(m))],
        );
        assert_eq!(out.trap.kind, 0);
        let got = to_f32(out.buf(1));
        for (i, &v) in got.iter().enumerate() {
            let want = if i <= m as usize { a[i] + 1.0 } else { 0.0 };
            assert_eq!(v, want, "element {i} of {grid}x{block}, m = {m}");
        }
    }
}

#[test]
fn a_uniform_pointer_plus_a_byte_offset_accesses_contiguously() {
    // `[r4 + r0]`: r4 = &a (uniform), r0 a byte offset from `start` (wrapping as u32).
    let src = |start: u32| {
        format!(
            ".kernel t\n.param a: ptr f32\n.param c: ptr f32\n\
             mov_imm.u64 r4, &a\nmov_imm.u64 r5, &c\nshl.u32 r0, %gid, 2\n\
             add.u32 r0, r0, {start}\nldg.f32 r1, [r4 + r0]\nadd.f32 r1, r1, r1\n\
             stg.f32 [r5 + r0], r1\nexit\n"
        )
    };
    assert!(vector_detail(&src(0)).contains("r0 (step 4)"));
    for (grid, block) in [(1u32, 32u32), (3, 16), (1, 5)] {
        let lanes = (grid * block) as usize;
        let (a, _) = inputs(lanes + 2);
        for start in [0u32, 8] {
            let out = run_all(
                &asm(&src(start)),
                grid,
                block,
                &[f32s(&a), zeros(lanes * 4 + 8)],
            );
            assert_eq!(out.trap.kind, 0);
            let got = to_f32(out.buf(1));
            let skip = start as usize / 4;
            for i in 0..lanes {
                assert_eq!(
                    got[i + skip],
                    a[i + skip] * 2.0,
                    "element {i}, start {start}"
                );
            }
        }
        // Past the end, and wrapping around 2^32 within a group (lane 0 out of bounds).
        let out = run_all(
            &asm(&src(12)),
            grid,
            block,
            &[f32s(&a), zeros(lanes * 4 + 8)],
        );
        let past = lanes - 1;
        assert_eq!(
            out.trap,
            trap(
                TrapKind::OutOfBounds,
                4,
                past as u32 / block,
                past as u32 % block,
                0,
                (lanes as i128 + 2) * 4
            ),
        );
        let out = run_all(
            &asm(&src(0xFFFF_FFF8)),
            grid,
            block,
            &[f32s(&a), zeros(lanes * 4 + 8)],
        );
        assert_eq!(
            out.trap,
            trap(TrapKind::OutOfBounds, 4, 0, 0, 0, 0xFFFF_FFF8),
        );
    }
}

/// PTX's grid-stride loop: `y[i] += a * x[i]` through pointers `&x + (u64(i) << 2)`, the
/// index widened by `cvt` (zero- or sign-extending it) in each iteration.
fn saxpy_ptx(cvt: &str) -> String {
    format!(
        ".kernel saxpy_ptx\n.param x: ptr f32\n.param y: ptr f32\n.param n: u32\n\
         .param a: f32\n.param start: u32\n\
         mul.u32 r30, %gdim, %bdim\nadd.u32 r21, %gid, start\n\
         next:\nsetp.ge.u32 p0, r21, n\n@p0 bra @done\n{cvt} r0, r21\nshl.u64 r0, r0, 2\n\
         mov_imm.u64 r4, &x\nadd.u64 r4, r4, r0\nmov_imm.u64 r5, &y\nadd.u64 r5, r5, r0\n\
         ldg.f32 r1, [r4]\nldg.f32 r2, [r5]\nmul.f32 r1, r1, a\nadd.f32 r2, r2, r1\n\
         stg.f32 [r5], r2\nadd.u32 r21, r21, r30\nbra @next\ndone:\nexit\n"
    )
}

#[test]
fn widened_indices_stay_one_scalar_in_a_grid_stride_loop() {
    for cvt in ["cvt.u64.u32", "cvt.i64.i32"] {
        let src = saxpy_ptx(cvt);
        let detail = vector_detail(&src);
        assert!(detail.contains("(step 4)"), "{cvt}: {detail}");
        for (grid, block, n) in [(1u32, 32u32, 1000usize), (3, 16, 999), (2, 8, 5)] {
            let (x, y) = inputs(n);
            let a = 1.5f32;
            let out = run_all(
                &asm(&src),
                grid,
                block,
                &[
                    f32s(&x),
                    f32s(&y),
                    Arg::Scalar(n as u64),
                    Arg::Scalar(u64::from(a.to_bits())),
                    Arg::Scalar(0),
                ],
            );
            assert_eq!(out.trap.kind, 0);
            let got = to_f32(out.buf(1));
            for i in 0..n {
                assert_eq!(
                    got[i],
                    y[i] + x[i] * a,
                    "{cvt}: element {i} of {grid}x{block}"
                );
            }
        }
        // Indices that wrap in 32 bits within a group (the lanes below the wrap are out of
        // bounds): the same trap as scalar code.
        let (x, y) = inputs(64);
        for start in [0xFFFF_FFFCu32, 0x7FFF_FFFC] {
            let out = run_all(
                &asm(&src),
                1,
                32,
                &[
                    f32s(&x),
                    f32s(&y),
                    Arg::Scalar(u64::from(u32::MAX)),
                    Arg::Scalar(0),
                    Arg::Scalar(u64::from(start)),
                ],
            );
            assert_eq!(
                out.trap.kind,
                TrapKind::OutOfBounds.code(),
                "{cvt} from {start:#x}"
            );
            assert_eq!(out.trap.lane, 0, "{cvt} from {start:#x}");
        }
    }
}

#[test]
fn widened_lane_affine_values_match_lane_by_lane() {
    // `cvt` of an index that wraps in 32 bits within a group (as u32 or as i32): its
    // lanes' 64-bit values are not consecutive there, and vector code must not say so.
    let src = ".kernel t\n.param c: ptr u64\n.param d: ptr u64\n.param start: u32\n\
        add.u32 r21, %gid, start\ncvt.i64.i32 r0, r21\nstg.u64 [c + %gid*8], r0\n\
        shl.u32 r22, r21, 1\ncvt.u64.u32 r1, r22\nstg.u64 [d + %gid*8], r1\nexit\n";
    let detail = vector_detail(src);
    assert!(detail.contains("kept as one scalar): r0 r21"), "{detail}");
    assert!(detail.contains("r1 (step 2) r22 (step 2)"), "{detail}");
    for start in [0u32, 0x7FFF_FFF0, 0xFFFF_FFF0, 0x7FFF_FFFF, 0x7FFF_FFE1] {
        for (grid, block) in [(1u32, 32u32), (2, 24)] {
            let lanes = (grid * block) as usize;
            let out = run_all(
                &asm(src),
                grid,
                block,
                &[
                    zeros(lanes * 8),
                    zeros(lanes * 8),
                    Arg::Scalar(u64::from(start)),
                ],
            );
            assert_eq!(out.trap.kind, 0);
            let (c, d) = (to_u64(out.buf(0)), to_u64(out.buf(1)));
            for g in 0..lanes {
                let i = start.wrapping_add(g as u32);
                assert_eq!(c[g], i as i32 as i64 as u64, "lane {g} from {start:#x}");
                assert_eq!(
                    d[g],
                    u64::from(i.wrapping_mul(2)),
                    "lane {g} from {start:#x}"
                );
            }
        }
    }
}

#[test]
fn a_byte_offset_in_a_reused_register_is_split_off() {
    // r1: a byte offset, then a lane's converted sum (per-lane): the offset is a register
    // of its own (jit/src/webs.rs), stepped.
    let src = ".kernel t\n.param a: ptr f32\n.param b: ptr f32\n.param c: ptr f32\n\
        .param d: ptr u32\n.param n: u32\nsetp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        shl.u32 r1, %gid, 2\nldg.f32 r2, [a + r1]\nldg.f32 r3, [b + r1]\nadd.f32 r2, r2, r3\n\
        stg.f32 [c + r1], r2\ncvt.u32.f32 r1, r2\nstg.u32 [d + %gid*4], r1\ndone:\nexit\n";
    let detail = vector_detail(src);
    assert!(detail.contains("r1 (step 4)"), "{detail}");
    for (grid, block, n) in [(1u32, 32u32, 32usize), (3, 16, 45)] {
        let lanes = (grid * block) as usize;
        let (a, b) = inputs(lanes);
        let out = run_all(
            &asm(src),
            grid,
            block,
            &[
                f32s(&a),
                f32s(&b),
                zeros(lanes * 4),
                zeros(lanes * 4),
                Arg::Scalar(n as u64),
            ],
        );
        assert_eq!(out.trap.kind, 0);
        let (c, d) = (to_f32(out.buf(2)), to_u32(out.buf(3)));
        for i in 0..n {
            assert_eq!(c[i], a[i] + b[i], "element {i}");
            assert_eq!(d[i], (a[i] + b[i]) as u32, "element {i}");
        }
    }
}
