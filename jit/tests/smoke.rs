#![allow(clippy::needless_range_loop, clippy::approx_constant)]
mod common;
use common::*;

#[test]
fn vector_add() {
    let p = asm(include_str!("../../examples/kernels/vector_add.hasm"));
    for n in [1u32, 7, 8, 9, 100, 256, 1000] {
        let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..n).map(|i| 1.0 + i as f32).collect();
        let grid = n.div_ceil(64);
        let out = run_all(
            &p,
            grid,
            64,
            &[
                f32s(&a),
                f32s(&b),
                zeros(4 * n as usize),
                Arg::Scalar(n as u64),
            ],
        );
        assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
        let c = to_f32(out.buf(2));
        for i in 0..n as usize {
            assert_eq!(c[i], a[i] + b[i]);
        }
    }
}

#[test]
fn kernel_is_send_sync_and_frees_its_code() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<holovm_jit::CompiledKernel>();
    // Compile and drop many kernels: each owns its code memory and frees it on drop (that
    // resident memory stays bounded is checked in tests/jit_tier.rs).
    let p = asm(include_str!("../../examples/kernels/relu.hasm"));
    for _ in 0..200 {
        let k = holovm_jit::compile(&p, &Default::default()).unwrap();
        drop(k);
    }
    // Shared between threads.
    let k = std::sync::Arc::new(holovm_jit::compile(&p, &Default::default()).unwrap());
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let k = k.clone();
            std::thread::spawn(move || {
                let x: Vec<f32> = (0..100).map(|i| i as f32 - 50.0 + t as f32).collect();
                let out = run_kernel(
                    &k,
                    2,
                    64,
                    &[f32s(&x), zeros(400), Arg::Scalar(100)],
                    None,
                    1 << 20,
                );
                to_f32(out.buf(1)) == x.iter().map(|v| v.max(0.0)).collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}

#[test]
fn dump_has_everything() {
    let p = asm(include_str!("../../examples/kernels/gelu.hasm"));
    let k = holovm_jit::compile(
        &p,
        &holovm_jit::JitOptions {
            dump: true,
            ..Default::default()
        },
    )
    .unwrap();
    let d = k.dump();
    let text = d.to_string();
    assert!(d.clif_before.as_deref().unwrap().contains("function"));
    assert!(d.clif_after.as_deref().unwrap().contains("fma"));
    assert!(d.disasm.as_deref().unwrap().contains("vfmadd"), "{text}");
    assert!(text.contains("strategy: vector"));
    assert!(text.contains("; optimiser: off for both functions (the program has transcend"));
    assert!(d.code_size > 0);
}

/// The optimiser's default (off for phased kernels, with the reason in the dump) and the
/// option that overrides it; the results are the same either way.
#[test]
fn optimiser_choice_and_override() {
    let p = asm(include_str!("../../examples/kernels/sum.hasm"));
    let x: Vec<f32> = (0..1000).map(|i| (i % 17) as f32 * 0.25 - 1.0).collect();
    let mut sums = Vec::new();
    for optimise in [None, Some(true), Some(false)] {
        let opts = holovm_jit::JitOptions {
            optimise,
            ..Default::default()
        };
        let k = holovm_jit::compile(&p, &opts).unwrap();
        let text = &k.dump().optimiser;
        match optimise {
            None => assert!(
                text.starts_with("off for both functions (the program has barriers"),
                "{text}"
            ),
            Some(true) => assert_eq!(
                text,
                "on for the kernel, off for the per-lane function (cold)"
            ),
            Some(false) => assert!(text.contains("JitOptions::optimise is false"), "{text}"),
        }
        let out = run_kernel(
            &k,
            1,
            64,
            &[f32s(&x), zeros(4), Arg::Scalar(1000)],
            None,
            1 << 20,
        );
        sums.push(to_f32(out.buf(1))[0].to_bits());
    }
    // The terms are multiples of 0.25 of small magnitude, so every f32 sum is exact and
    // the order does not matter.
    let want: f32 = x.iter().sum();
    assert!(
        sums.iter().all(|&s| s == want.to_bits()),
        "{sums:?} against {want}"
    );
}

#[test]
fn listing_names_the_isa_instruction_of_each_stretch_of_code() {
    let p = asm(include_str!("../../examples/kernels/gelu.hasm"));
    let opts = holovm_jit::JitOptions {
        dump: true,
        ..Default::default()
    };
    let k = holovm_jit::compile(&p, &opts).unwrap();
    let listing = k.dump().disasm.clone().unwrap();
    let has = |pc: usize, copy: &str| {
        let line = format!(
            "; pc {pc} ({copy}): {}",
            holovm_isa::print::inst_text(p.def(), pc)
        );
        assert!(listing.contains(&line), "no {line:?} in\n{listing}");
    };
    // Instructions with effects (branches, loads, stores) keep their locations through
    // Cranelift's optimiser: the per-lane copy has them all; the vector copy its load and
    // store (the entry guard at pcs 0-1 is checked once per block instead).
    for pc in [0, 1, 2, 11] {
        has(pc, "per-lane");
    }
    for pc in [2, 11] {
        has(pc, "vector");
    }
    // The tanh of pc 7, its polynomial's fused multiply-adds under its comment.
    has(7, "vector");
    let tanh = listing
        .split("; pc 7 (vector)")
        .nth(1)
        .and_then(|rest| rest.split("        ;").next())
        .unwrap_or("");
    assert!(tanh.contains("vfmadd"), "{listing}");
    assert!(listing.contains("; control: "));
    assert!(listing.lines().filter(|l| l.starts_with("block")).count() > 1);
}

/// The automatic group size: 32 lanes for straight-line and affine kernels, 16 with
/// transcendentals, 8 with per-lane addresses (gathers) or row/column splits (gemm's
/// `%gid / n`, `%gid % n`), 4 when gathers keep more than 8 vectors live (gemm with its
/// indices computed per lane).
#[test]
fn automatic_group_sizes() {
    let gemm = include_str!("../../examples/kernels/gemm.hasm");
    let gemm_gathers = gemm
        .replace(
            "div.u32 r2, %gid, n",
            "mul.u32 r10, %gid, 1\n    div.u32 r2, r10, n",
        )
        .replace("rem.u32 r3, %gid, n", "rem.u32 r3, r10, n");
    assert_ne!(gemm, gemm_gathers);
    for (src, want) in [
        (include_str!("../../examples/kernels/vector_add.hasm"), 32),
        (include_str!("../../examples/kernels/scalar_loop.hasm"), 32),
        (include_str!("../../examples/kernels/gelu.hasm"), 16),
        (include_str!("../../examples/kernels/sigmoid.hasm"), 16),
        (include_str!("../../examples/kernels/matvec.hasm"), 8),
        (gemm, 8),
        (&gemm_gathers, 4),
    ] {
        let p = asm(src);
        let k = holovm_jit::compile(&p, &holovm_jit::JitOptions::default()).unwrap();
        match k.strategy() {
            holovm_jit::Strategy::Vector { group, .. } => {
                assert_eq!(*group, want, "{}", p.name())
            }
            s => panic!("{}: {s:?}", p.name()),
        }
    }
}

/// A vector kernel's per-lane code is a function of its own, compiled by a second compile
/// worker unless `parallel` is off: both ways give the same code and the same results, and
/// the scalar strategy keeps one function.
#[test]
fn per_lane_function_compiles_alike_on_one_or_two_threads() {
    let p = asm(include_str!("../../examples/kernels/relu.hasm"));
    let compile = |parallel: bool, vector: bool| {
        holovm_jit::compile(
            &p,
            &holovm_jit::JitOptions {
                dump: true,
                parallel,
                vector,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (two, one) = (compile(true, true), compile(false, true));
    for k in [&two, &one] {
        let optimiser = &k.dump().optimiser;
        assert_eq!(
            optimiser,
            "on for the kernel, off for the per-lane function (cold)"
        );
        let listing = k.dump().disasm.clone().unwrap();
        assert!(listing.contains(";; kernel at "), "{listing}");
        assert!(listing.contains(";; per-lane function at "), "{listing}");
        assert!(listing.contains("(per-lane)"), "{listing}");
    }
    assert_eq!(two.dump().code_size, one.dump().code_size);
    assert_eq!(two.dump().clif_insts, one.dump().clif_insts);
    let scalar = compile(true, false);
    let listing = scalar.dump().disasm.clone().unwrap();
    assert!(!listing.contains("per-lane function"), "{listing}");

    // Where the compile time went: on one thread the per-lane function is compiled after the
    // kernel, and the parts fit in the whole; the scalar strategy has no per-lane part.
    for k in [&two, &one, &scalar] {
        let (d, parts) = (k.dump(), k.dump().compile_parts);
        assert!(
            parts.translate + parts.kernel <= d.compile_time,
            "{parts:?} {d}"
        );
        assert!(parts.kernel > std::time::Duration::ZERO);
    }
    let parts = one.dump().compile_parts;
    assert!(parts.lanes.is_some() && !parts.lanes_beside, "{parts:?}");
    assert!(parts.translate + parts.kernel + parts.lanes.unwrap() <= one.dump().compile_time);
    assert!(two.dump().compile_parts.lanes.is_some());
    assert_eq!(scalar.dump().compile_parts.lanes, None);
    let line = one.dump().to_string();
    assert!(
        line.contains("kernel function")
            && line.contains("per-lane function")
            && line.contains("after it on the same thread"),
        "{line}"
    );

    // 1000 lanes in blocks of 96: 3 full groups of 32 and a tail of 0 lanes per block,
    // then a last block of 40 (a group and 8 tail lanes), and lanes past n.
    let x: Vec<f32> = (0..1000).map(|i| i as f32 - 600.5).collect();
    let want: Vec<u32> = x.iter().map(|v| v.max(0.0).to_bits()).collect();
    for k in [&two, &one, &scalar] {
        assert_eq!(map_f32_bits(k, 11, 96, &x), want);
    }
}

/// Runs a kernel of `(x: ptr f32, y: ptr f32, n: u32)` over `x` (n = its length) on
/// `grid x block` lanes, checks that nothing trapped, and returns the bits of `y`.
fn map_f32_bits(k: &holovm_jit::CompiledKernel, grid: u32, block: u32, x: &[f32]) -> Vec<u32> {
    let n = x.len();
    let out = run_kernel(
        k,
        grid,
        block,
        &[f32s(x), zeros(4 * n), Arg::Scalar(n as u64)],
        None,
        1 << 20,
    );
    assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
    to_f32(out.buf(1)).iter().map(|v| v.to_bits()).collect()
}

/// Groups that bail out to the per-lane function (a lane per 40 takes the other branch) sit
/// between groups that stay in vector code with the loop's constants in registers: the call
/// must leave every register of the kernel as it was (its calling convention saves what the
/// function uses), or the later groups compute with clobbered constants.
#[test]
fn per_lane_calls_leave_the_kernels_registers_alone() {
    let p = asm("
        .kernel mixed
        .param x: ptr f32
        .param y: ptr f32
        .param n: u32
        .launch 1, 256
            setp.ge.u32 p0, %gid, n
            @p0 bra @done
            ldg.f32 r0, [x + %gid*4]
            mov_imm.u32 r1, 16
            rem.u32 r2, %gid, 40
            setp.eq.u32 p1, r2, 7
            @p1 bra @odd
        body:
            mul.f32 r0, r0, 1.0001
            add.f32 r0, r0, 0.5
            loop r1, @body
            bra @store
        odd:
            mul.f32 r0, r0, 3.0
            sub.f32 r0, r0, 0.25
            loop r1, @odd
        store:
            stg.f32 [y + %gid*4], r0
        done:
            exit
    ");
    let k = holovm_jit::compile(&p, &holovm_jit::JitOptions::default()).unwrap();
    assert!(matches!(k.strategy(), holovm_jit::Strategy::Vector { .. }));
    let n = 1000usize;
    let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.125 - 0.5).collect();
    let want: Vec<u32> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let mut v = v;
            for _ in 0..16 {
                v = if i % 40 == 7 {
                    v * 3.0 - 0.25
                } else {
                    v * 1.0001 + 0.5
                };
            }
            v.to_bits()
        })
        .collect();
    assert_eq!(map_f32_bits(&k, 4, 256, &x), want);
}

/// The single-thread estimate a VM splits launches by: down at once, up by at most twice
/// per record (one launch slowed by the machine must not make the next ones split).
#[test]
fn lane_cost_estimate_rises_at_most_twofold_per_record() {
    use std::time::Duration;
    let k = holovm_jit::compile(
        &asm(include_str!("../../examples/kernels/relu.hasm")),
        &holovm_jit::JitOptions::default(),
    )
    .unwrap();
    assert_eq!(k.estimated_time(1000), None);
    let us = Duration::from_micros;
    for (record, want) in [(1, 1), (100, 2), (100, 4), (3, 3), (0, 0)] {
        k.record_lane_cost(us(record), 1000);
        let ns = k.estimated_time(1000).unwrap().as_nanos();
        // A zero time is kept as the smallest cost, 1 ps a lane.
        assert_eq!(
            ns,
            if want == 0 { 1 } else { want * 1000 },
            "after {record} us"
        );
    }
}

/// A long straight-line program with a check at every division: its vector code's per-lane
/// function would resume at each one with 40 registers live, which Cranelift's register
/// allocator takes time quadratic in (seconds for a few thousand), so it compiles with the
/// scalar strategy and says why; the results are the program's.
#[test]
fn costly_resumes_compile_as_scalar_code() {
    let mut src = ".kernel d\n.param out: ptr u32\n".to_string();
    for r in 1..=40 {
        src += &format!("add.u32 r{r}, %gid, {}\n", r * 1000);
    }
    for i in 0..1200 {
        let (a, b, c) = (i % 40 + 1, (i + 1) % 40 + 1, (i + 7) % 40 + 1);
        src += &format!("div.u32 r{a}, r{b}, r{c}\nadd.u32 r{a}, r{a}, {}\n", i + 2);
    }
    src += "stg.u32 [out + %gid*4], r1\nexit\n";
    let p = asm(&src);
    let k = holovm_jit::compile(&p, &holovm_jit::JitOptions::default()).expect("compiles");
    match k.strategy() {
        holovm_jit::Strategy::Scalar { reason } => assert!(reason.contains("resume"), "{reason}"),
        other => panic!("expected the scalar strategy, got {other}"),
    }
    let n = 100u32;
    let out = run_all(&p, 2, 50, &[zeros(4 * n as usize)]);
    assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
    let got = to_u32(out.buf(0));
    for gid in 0..n {
        let mut r: Vec<u32> = (0..=40).map(|r| gid + r * 1000).collect();
        for i in 0..1200u32 {
            let (a, b, c) = (i % 40 + 1, (i + 1) % 40 + 1, (i + 7) % 40 + 1);
            r[a as usize] = r[b as usize] / r[c as usize] + i + 2;
        }
        assert_eq!(got[gid as usize], r[1], "lane {gid}");
    }
}

/// Code nothing reaches (after an `exit`, a call in it) is not compiled; the calls that run
/// return to their own sites through the one return dispatch.
#[test]
fn unreachable_code_and_shared_returns() {
    let p = asm(
        ".kernel u\n.param out: ptr u32\nmov.u32 r1, %gid\ncall @f\ncall @f\n\
        stg.u32 [out + %gid*4], r1\nexit\ndead:\ncall @f\ndiv.u32 r1, r1, r0\nexit\n\
        f:\nadd.u32 r1, r1, 3\nret\n",
    );
    let out = run_all(&p, 3, 37, &[zeros(4 * 111)]);
    assert_eq!(out.trap.kind, 0, "{:?}", out.trap);
    let got = to_u32(out.buf(0));
    for gid in 0..111 {
        assert_eq!(got[gid], gid as u32 + 6);
    }
}
