//! Control flow: divergence (nested, data-dependent loops), reconvergence, `loop`, calls and
//! returns from divergent paths, barriers with shared memory (block reverse, tree reduction),
//! barriers after early exits, and reductions after divergence. Serial and parallel runs must
//! agree.

// Index loops over lanes read best in these tests.
#![allow(clippy::needless_range_loop)]

mod common;

use common::*;
use holovm::{args, Arg, LaunchConfig};

#[test]
fn nested_divergence_reconverges() {
    let src = "
.kernel nest
.param out: ptr u32
    and.u32 r1, %lane, 3
    setp.lt.u32 p0, r1, 2
    @p0 bra @low
    setp.eq.u32 p1, r1, 2
    @p1 bra @two
    mov_imm.u32 r2, 30
    bra @join
two:
    mov_imm.u32 r2, 20
    bra @join
low:
    setp.eq.u32 p1, r1, 0
    @!p1 bra @one
    mov_imm.u32 r2, 0
    bra @join
one:
    mov_imm.u32 r2, 10
join:
    add.u32 r2, r2, %lane
    stg.u32 [out + %gid*4], r2
    exit
";
    let p = asm(src);
    for vm in all_vms() {
        let out = vm.alloc::<u32>(3 * 96).unwrap();
        let s = run(&vm, &p, LaunchConfig::new(3, 96), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for g in 0..3 * 96u32 {
            let l = g % 96;
            assert_eq!(got[g as usize], (l & 3) * 10 + l);
        }
        assert_eq!(s.lanes, 288);
    }
}

/// Data-dependent loops: the Collatz step count of every %gid.
#[test]
fn data_dependent_loops() {
    let src = "
.kernel collatz
.param out: ptr u32
    add.u64 r1, %gid, 1
    mov_imm.u32 r2, 0
top:
    setp.eq.u64 p0, r1, 1
    @p0 bra @done
    and.u64 r3, r1, 1
    setp.eq.u64 p1, r3, 0
    @p1 bra @even
    mul.u64 r1, r1, 3
    add.u64 r1, r1, 1
    bra @next
even:
    shr.u64 r1, r1, 1
next:
    add.u32 r2, r2, 1
    bra @top
done:
    stg.u32 [out + %gid*4], r2
    exit
";
    let p = asm(src);
    let reference: Vec<u32> = (1..=1000u64)
        .map(|mut x| {
            let mut n = 0;
            while x != 1 {
                x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
                n += 1;
            }
            n
        })
        .collect();
    for vm in all_vms() {
        let out = vm.alloc::<u32>(1000).unwrap();
        let s = run(&vm, &p, LaunchConfig::new(8, 125), &[Arg::from(&out)]);
        assert_eq!(vm.read(&out).unwrap(), reference);
        // The interpreter counts its steps; compiled code does not.
        assert!(
            s.jit || s.lane_steps > s.steps,
            "lock-step execution covers several lanes per step"
        );
    }
}

#[test]
fn loop_counts() {
    // Each lane loops `count[gid]` times (0 runs the body once, docs/ISA.md 5.6).
    let src = "
.kernel loops
.param count: ptr u32
.param out: ptr u32
.param left: ptr u32
    ldg.u32 r1, [count + %gid*4]
    mov_imm.u32 r2, 0
body:
    add.u32 r2, r2, 1
    loop r1, @body
    stg.u32 [out + %gid*4], r2
    stg.u32 [left + %gid*4], r1
    exit
";
    let p = asm(src);
    let counts: Vec<u32> = (0..200).map(|i| (i * 7) % 23).collect();
    for vm in all_vms() {
        let c = vm.alloc_from(&counts).unwrap();
        let out = vm.alloc::<u32>(200).unwrap();
        let left = vm.alloc::<u32>(200).unwrap();
        run(&vm, &p, LaunchConfig::new(4, 50), &args![&c, &out, &left]);
        let got = vm.read(&out).unwrap();
        for (i, &n) in counts.iter().enumerate() {
            assert_eq!(got[i], n.max(1), "lane {i}");
        }
        assert!(vm.read(&left).unwrap().iter().all(|&x| x == 0));
    }
}

#[test]
fn loop_counter_is_64_bit() {
    // r1 = 2^32 + 1: after 3 iterations (broken out of) it is 2^32 - 2.
    let src = "
.kernel wide
.param out: ptr u64
    mov_imm.u64 r1, 0x100000001
    mov_imm.u32 r7, 0
body:
    add.u32 r7, r7, 1
    setp.eq.u32 p0, r7, 3
    @p0 bra @out
    loop r1, @body
out:
    stg.u64 [out + %gid*8], r1
    exit
";
    for vm in all_vms() {
        let out = vm.alloc::<u64>(8).unwrap();
        run(&vm, &asm(src), LaunchConfig::new(1, 8), &[Arg::from(&out)]);
        assert!(vm
            .read(&out)
            .unwrap()
            .iter()
            .all(|&x| x == (1u64 << 32) - 1));
    }
}

#[test]
fn calls_from_divergent_paths() {
    let src = "
.kernel calls
.param out: ptr u32
    mov_imm.u32 r1, 0
    and.u32 r9, %lane, 1
    setp.eq.u32 p0, r9, 1
    @p0 bra @odd
    mov_imm.u32 r2, 5
    call @triple           ; even lanes: 15
    add.u32 r1, r1, r2
    bra @join
odd:
    mov_imm.u32 r2, 7
    call @twice_triple     ; odd lanes: 42
    add.u32 r1, r1, r2
join:
    call @triple
    stg.u32 [out + %gid*4], r2
    exit
twice_triple:
    call @triple
    mul.u32 r2, r2, 2
    ret
triple:
    mul.u32 r2, r2, 3
    ret
";
    let p = asm(src);
    for vm in all_vms() {
        let out = vm.alloc::<u32>(128).unwrap();
        run(&vm, &p, LaunchConfig::new(2, 64), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for (g, &x) in got.iter().enumerate() {
            assert_eq!(x, if g % 2 == 1 { 126 } else { 45 }, "gid {g}");
        }
    }
}

#[test]
fn recursion_to_the_stack_limit() {
    // Each lane recurses %lane + 1 levels deep (at most 64 return addresses).
    let src = "
.kernel rec
.param out: ptr u32
    add.u32 r1, %lane, 1
    mov_imm.u32 r2, 0
    call @f
    stg.u32 [out + %gid*4], r2
    exit
f:
    add.u32 r2, r2, 1
    sub.u32 r1, r1, 1
    setp.eq.u32 p0, r1, 0
    @p0 bra @back
    call @f
back:
    ret
";
    for vm in all_vms() {
        let out = vm.alloc::<u32>(64).unwrap();
        run(&vm, &asm(src), LaunchConfig::new(1, 64), &[Arg::from(&out)]);
        assert_eq!(vm.read(&out).unwrap(), (1..=64).collect::<Vec<u32>>());
    }
}

#[test]
fn tree_reduction_with_barriers() {
    let src = "
.kernel tree
.param x: ptr u32
.param out: ptr u32
.shared 4096
    ldg.u32 r1, [x + %gid*4]
    sts.u32 [shared + %lane*4], r1
    bar.sync
    shr.u32 r2, %bdim, 1
top:
    setp.eq.u32 p0, r2, 0
    @p0 bra @done
    setp.lt.u32 p1, %lane, r2
    @!p1 bra @skip
    add.u32 r3, %lane, r2
    lds.u32 r4, [shared + r3*4]
    lds.u32 r5, [shared + %lane*4]
    add.u32 r5, r5, r4
    sts.u32 [shared + %lane*4], r5
skip:
    bar.sync
    shr.u32 r2, r2, 1
    bra @top
done:
    setp.ne.u32 p2, %lane, 0
    @p2 bra @end
    lds.u32 r6, [shared]
    stg.u32 [out + %block*4], r6
end:
    exit
";
    let p = asm(src);
    for vm in all_vms() {
        for block in [1u32, 2, 64, 256, 1024] {
            let grid = 3u32;
            let n = (grid * block) as usize;
            let x: Vec<u32> = (0..n as u32)
                .map(|i| i.wrapping_mul(2654435761) >> 8)
                .collect();
            let dx = vm.alloc_from(&x).unwrap();
            let out = vm.alloc::<u32>(grid as usize).unwrap();
            run(&vm, &p, LaunchConfig::new(grid, block), &args![&dx, &out]);
            let want: Vec<u32> = x
                .chunks(block as usize)
                .map(|c| c.iter().fold(0u32, |a, &b| a.wrapping_add(b)))
                .collect();
            assert_eq!(vm.read(&out).unwrap(), want, "block {block}");
        }
    }
}

/// Lanes past the end exit before the barrier; the others synchronise among themselves.
#[test]
fn barrier_after_early_exit() {
    let src = "
.kernel tail
.param x: ptr u32
.param out: ptr u32
.param n: u32
.shared 1024
    setp.ge.u32 p0, %gid, n
    @p0 bra @gone
    ldg.u32 r1, [x + %gid*4]
    sts.u32 [shared + %lane*4], r1
    bar.sync
    reduce.add.u32 r3, r1
    lds.u32 r2, [shared]
    add.u32 r2, r2, r3
    stg.u32 [out + %gid*4], r2
gone:
    exit
";
    let p = asm(src);
    for vm in all_vms() {
        let n = 200usize;
        let x: Vec<u32> = (0..n as u32).collect();
        let dx = vm.alloc_from(&x).unwrap();
        let out = vm.alloc::<u32>(n).unwrap();
        run(
            &vm,
            &p,
            LaunchConfig::new(4, 64),
            &args![&dx, &out, n as u32],
        );
        let got = vm.read(&out).unwrap();
        for g in 0..n {
            let b = g / 64;
            let live = (b * 64..((b + 1) * 64).min(n)).map(|i| i as u32);
            let sum: u32 = live.sum();
            assert_eq!(got[g], (b * 64) as u32 + sum, "gid {g}");
        }
    }
}

/// Lanes take different paths but meet at one barrier after the join.
#[test]
fn barrier_after_divergent_paths() {
    let src = "
.kernel join
.param out: ptr u32
.shared 256
    and.u32 r1, %lane, 1
    setp.eq.u32 p0, r1, 0
    @p0 bra @even
    mul.u32 r2, %lane, 3
    bra @meet
even:
    mul.u32 r2, %lane, 5
meet:
    sts.u32 [shared + %lane*4], r2
    bar.sync
    xor.u32 r3, %lane, 1
    lds.u32 r4, [shared + r3*4]
    stg.u32 [out + %gid*4], r4
    exit
";
    for vm in all_vms() {
        let out = vm.alloc::<u32>(64).unwrap();
        run(&vm, &asm(src), LaunchConfig::new(1, 64), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for l in 0..64u32 {
            let m = l ^ 1;
            assert_eq!(got[l as usize], if m % 2 == 0 { m * 5 } else { m * 3 });
        }
    }
}

/// Exited lanes leave the block running on the partial (listed-lanes) paths.
#[test]
fn lanes_exiting_at_different_times() {
    let src = "
.kernel staggered
.param out: ptr f32
    cvt.f32.u32 r1, %lane
    mov_imm.u32 r2, 0
top:
    setp.ge.u32 p0, r2, %lane
    @p0 bra @store
    mul.f32 r1, r1, 1.5
    add.u32 r2, r2, 1
    bra @top
store:
    stg.f32 [out + %gid*4], r1
    exit
";
    let p = asm(src);
    for vm in all_vms() {
        let out = vm.alloc::<f32>(64).unwrap();
        run(&vm, &p, LaunchConfig::new(2, 32), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for g in 0..64 {
            let l = g % 32;
            let mut x = l as f32;
            for _ in 0..l {
                x *= 1.5;
            }
            assert_eq!(got[g], x);
        }
    }
}

#[test]
fn exit_inside_divergent_branch_then_continue() {
    let src = "
.kernel part
.param out: ptr u32
    setp.lt.u32 p0, %lane, 10
    @p0 bra @keep
    exit
keep:
    reduce.max.u32 r1, %lane
    add.u32 r1, r1, %lane
    stg.u32 [out + %gid*4], r1
    exit
";
    for vm in all_vms() {
        let out = vm.alloc::<u32>(32).unwrap();
        vm.write(&out, &[7u32; 32]).unwrap();
        run(&vm, &asm(src), LaunchConfig::new(1, 32), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for l in 0..32u32 {
            assert_eq!(got[l as usize], if l < 10 { 9 + l } else { 7 });
        }
    }
}

/// Registers start at zero in every block, even where an earlier block (or launch, with
/// another block size) of the same VM wrote them; registers always written before they are
/// read are not re-zeroed, and must still read back right.
#[test]
fn registers_start_at_zero_in_every_block() {
    let first = asm("
.kernel z
.param out: ptr u64
    setp.eq.u32 p0, %block, 0
    @!p0 bra @read
    mov_imm.u64 r3, 0xffffffffffffffff
    mov_imm.u64 r1, 0xffffffffffffffff
read:
    add.u64 r5, r3, 0
    stg.u64 [out + %gid*8], r5
    exit
");
    let narrow = asm("
.kernel n
.param out: ptr u64
    mov.u32 r1, %lane
    stg.u64 [out + %gid*8], r1
    exit
");
    for vm in all_vms() {
        let out = vm.alloc::<u64>(4 * 100).unwrap();
        run(&vm, &first, LaunchConfig::new(4, 64), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for g in 0..256 {
            assert_eq!(got[g], if g < 64 { u64::MAX } else { 0 }, "gid {g}");
        }
        for block in [100u32, 64, 37] {
            run(&vm, &first, LaunchConfig::new(4, block), &[Arg::from(&out)]);
            run(
                &vm,
                &narrow,
                LaunchConfig::new(4, block),
                &[Arg::from(&out)],
            );
            let got = vm.read(&out).unwrap();
            for g in 0..(4 * block) as usize {
                assert_eq!(got[g], g as u64 % block as u64, "block {block} gid {g}");
            }
        }
    }
}

/// Lanes leaving a loop at different iterations (every lane its own count) wait where it ends
/// while the others go round; after it, a barrier and a read of another lane's result.
/// (The interpreter's diverged mode moves the lanes still looping without rescanning the
/// block: their pcs must be right again at the barrier.)
#[test]
fn per_lane_loop_counts_then_barrier() {
    let src = "
.kernel tri
.param k: ptr u32
.param out: ptr u32
.shared 1024
    ldg.u32 r0, [k + %gid*4]
    mov_imm.u32 r1, 0
    mov_imm.u32 r2, 0
top:
    setp.ge.u32 p0, r2, r0
    @p0 bra @out
    add.u32 r1, r1, r2
    add.u32 r2, r2, 1
    bra @top
out:
    sts.u32 [shared + %lane*4], r1
    bar.sync
    add.u32 r3, %lane, 1
    rem.u32 r3, r3, %bdim
    lds.u32 r4, [shared + r3*4]
    stg.u32 [out + %gid*4], r4
    exit
";
    let p = asm(src);
    let (grid, block) = (5u32, 96u32);
    let n = (grid * block) as usize;
    let k: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) >> 27)
        .collect();
    let tri = |k: u32| k * k.saturating_sub(1) / 2;
    let want: Vec<u32> = (0..n)
        .map(|i| {
            let (b, l) = (i / block as usize, i % block as usize);
            tri(k[b * block as usize + (l + 1) % block as usize])
        })
        .collect();
    for vm in all_vms() {
        let dk = vm.alloc_from(&k).unwrap();
        let out = vm.alloc::<u32>(n).unwrap();
        run(&vm, &p, LaunchConfig::new(grid, block), &args![&dk, &out]);
        assert_eq!(vm.read(&out).unwrap(), want);
    }
}

/// A lane that traps inside a divergent loop (division by zero in its last iteration) stops
/// there with every higher lane; the lanes below it, still looping or done, finish, each
/// division done once (each halves the lane's value).
#[test]
fn trap_inside_divergent_loop() {
    let src = "
.kernel t
.param k: ptr u32
.param out: ptr u32
    ldg.u32 r0, [k + %gid*4]
    mov_imm.u32 r1, 1048576
    mov_imm.u32 r2, 0
top:
    setp.ge.u32 p0, r2, r0
    @p0 bra @out
    sub.u32 r5, r0, r2
    sub.u32 r5, r5, 1
    setp.eq.u32 p1, %lane, 9
    sel.u32 r5, p1, r5, 2
    div.u32 r1, r1, r5
    add.u32 r2, r2, 1
    bra @top
out:
    stg.u32 [out + %gid*4], r1
    exit
";
    let p = asm(src);
    // Lane 9 divides by zero in its last iteration; the others divide by 2.
    let k: Vec<u32> = (0..32u32).map(|i| (i * 7) % 5 + 1).collect();
    for vm in all_vms() {
        let dk = vm.alloc_from(&k).unwrap();
        let out = vm.alloc_from(&[u32::MAX; 32]).unwrap();
        let t = expect_trap(&vm, &p, LaunchConfig::new(1, 32), &args![&dk, &out]);
        assert_eq!(t.kind, holovm::TrapKind::DivideByZero, "{t}");
        assert_eq!((t.pc, t.block, t.lane), (9, 0, 9), "{t}");
        let got = vm.read(&out).unwrap();
        for l in 0..9 {
            assert_eq!(got[l], 1_048_576 >> k[l], "lane {l}");
        }
        assert!(got[9..].iter().all(|&v| v == u32::MAX), "{got:?}");
    }
}

/// Lanes that branch past a barrier and exit leave the others to meet at it: the lanes at
/// the barrier arrived there from a divergent point, one step at a time, and continue from
/// it once the others have exited (not from an earlier instruction: the code before the
/// barrier accumulates into `r1`, so running it twice would show).
#[test]
fn barrier_reached_while_other_lanes_run_past_it() {
    let src = "
.kernel t
.param out: ptr u32
.shared 256
    and.u32 r0, %lane, 1
    setp.ne.u32 p0, r0, 0
    @p0 bra @odd
    add.u32 r1, r1, %lane
    add.u32 r1, r1, 100
    mul.u32 r1, r1, 3
    sts.u32 [shared + %lane*4], r1
    bar.sync
    xor.u32 r2, %lane, 2
    lds.u32 r3, [shared + r2*4]
    stg.u32 [out + %gid*4], r3
    exit
odd:
    add.u32 r4, %lane, 7
    stg.u32 [out + %gid*4], r4
    exit
";
    let p = asm(src);
    let want: Vec<u32> = (0..64u32)
        .map(|l| {
            if l % 2 == 1 {
                l + 7
            } else {
                ((l ^ 2) + 100) * 3
            }
        })
        .collect();
    for vm in all_vms() {
        let out = vm.alloc::<u32>(64).unwrap();
        run(&vm, &p, LaunchConfig::new(1, 64), &args![&out]);
        assert_eq!(vm.read(&out).unwrap(), want);
    }
}

/// Guards whose lanes one way go straight to `exit` (the usual `if (gid >= n) return`, its
/// mirror with the exit on the fall-through side, and one that lets the low lanes go): the
/// interpreter exits those lanes and runs the others converged, over a run of lanes that
/// starts at lane 0 or higher; the results, and a trap after the guard, must be as if each
/// lane ran alone.
#[test]
fn lanes_a_guard_sends_to_exit_leave_and_the_rest_run_converged() {
    let guards = [
        "setp.ge.u32 p0, %gid, n\n    @p0 bra @done",
        "setp.lt.u32 p0, %gid, n\n    @p0 bra @work\n    exit\nwork:",
        "setp.lt.u32 p0, %gid, n\n    @!p0 bra @done",
        // The lanes below 40 leave: the run that stays starts at lane 40 of each block.
        "setp.lt.u32 p0, %lane, 40\n    @p0 bra @done\n    setp.ge.u32 p1, %gid, n\n    @p1 bra @done",
    ];
    for (k, guard) in guards.iter().enumerate() {
        let src = format!(
            ".kernel guarded\n.param x: ptr f32\n.param y: ptr f32\n.param n: u32\n    {guard}\n    \
             ldg.f32 r1, [x + %gid*4]\n    mul.f32 r1, r1, 2.0\n    stg.f32 [y + %gid*4], r1\n\
             done:\n    exit\n"
        );
        let p = asm(&src);
        for vm in all_vms() {
            for n in [1000u32, 257, 40, 1] {
                let x: Vec<f32> = (0..n).map(|i| i as f32 - 7.5).collect();
                let dx = vm.alloc_from(&x).unwrap();
                let dy = vm.alloc_from(&vec![-1.0f32; n as usize]).unwrap();
                run(
                    &vm,
                    &p,
                    LaunchConfig::cover(n as u64, 256),
                    &args![&dx, &dy, n],
                );
                let want: Vec<f32> = x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        if k == 3 && i % 256 < 40 {
                            -1.0
                        } else {
                            v * 2.0
                        }
                    })
                    .collect();
                assert_eq!(vm.read(&dy).unwrap(), want, "guard {k}, n {n}");
                // x one element short: the last lane that passes the guard reads past it.
                if n > 40 && !(k == 3 && (n - 1) % 256 < 40) {
                    let short = vm.alloc_from(&x[..n as usize - 1]).unwrap();
                    let t = expect_trap(
                        &vm,
                        &p,
                        LaunchConfig::cover(n as u64, 256),
                        &args![&short, &dy, n],
                    );
                    assert_eq!(t.kind, holovm::TrapKind::OutOfBounds, "guard {k}, n {n}");
                    assert_eq!(
                        (t.block, t.lane),
                        ((n - 1) / 256, (n - 1) % 256),
                        "guard {k}"
                    );
                }
            }
        }
    }
}
