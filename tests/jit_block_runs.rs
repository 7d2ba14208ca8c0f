//! Runs of blocks under the JIT (jit/src/translate/block_runs.rs): a program that reads
//! neither `%lane` nor `%block` runs consecutive blocks as one, so its vector groups span
//! block boundaries. Blocks of any size, including those smaller than a group, must give
//! the interpreter's results, and a trap must name the trapping lane's own block and lane,
//! also when a parallel launch starts a run in the middle of the grid.

mod common;

use common::*;
use holovm::isa::Program;
use holovm::{args, LaunchConfig, Vm};

/// `y[i] = x[idx[i]] * 2 + i` for `i < n`: an index past the end of x traps at that lane.
const GATHER: &str = "
.kernel gather2
.param x: ptr f32
.param idx: ptr u32
.param y: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.u32 r1, [idx + %gid*4]
    ldg.f32 r2, [x + r1*4]
    cvt.f32.u32 r3, %gid
    fma.f32 r2, r2, 2.0, r3
    stg.f32 [y + %gid*4], r2
done:
    exit
";

/// `y[i] = 1000 / d[i]` in u32 (a zero divisor traps), with a loop of `i % 5` steps.
const DIVIDE: &str = "
.kernel divide
.param d: ptr u32
.param y: ptr u32
    ldg.u32 r1, [d + %gid*4]
    div.u32 r2, 1000, r1
    rem.u32 r3, %gid, 5
loop:
    setp.eq.u32 p1, r3, 0
    @p1 bra @store
    add.u32 r2, r2, 3
    sub.u32 r3, r3, 1
    bra @loop
store:
    stg.u32 [y + %gid*4], r2
    exit
";

/// `x[i] = x[i] * 2 + 1` for `i < n`, in place: a run's lanes after its last full group
/// run in per-lane code (a lane run twice would double twice).
const IN_PLACE: &str = "
.kernel in_place
.param x: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [x + %gid*4]
    fma.f32 r1, r1, 2.0, 1.0
    stg.f32 [x + %gid*4], r1
done:
    exit
";

/// The same as `GATHER` but reading `%lane`: it keeps one vector code per block.
const PER_BLOCK: &str = "
.kernel per_block
.param x: ptr f32
.param y: ptr f32
    ldg.f32 r1, [x + %gid*4]
    cvt.f32.u32 r2, %lane
    add.f32 r1, r1, r2
    stg.f32 [y + %gid*4], r1
    exit
";

const BLOCKS: [u32; 13] = [1, 2, 3, 7, 8, 13, 16, 31, 33, 100, 256, 1000, 1024];

fn strategy(vm: &Vm, p: &Program) -> String {
    vm.jit_dump(p).expect("dump").strategy.to_string()
}

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.61).cos()).collect()
}

#[test]
fn blocks_of_every_size_give_the_interpreters_results() {
    let p = asm(GATHER);
    assert!(strategy(&jit_vm(), &p).contains("groups span block boundaries"));
    let n = 5000usize;
    let x = input(n);
    let idx: Vec<u32> = (0..n as u32).map(|i| (i * 7) % n as u32).collect();
    for block in BLOCKS {
        // A grid one block longer than n needs: the guard sends the last lanes away.
        let grid = (n as u32).div_ceil(block) + 1;
        let mut outs = Vec::new();
        for vm in [serial_vm(), jit_vm(), jit_parallel_vm()] {
            let (hx, hi) = (vm.alloc_from(&x).unwrap(), vm.alloc_from(&idx).unwrap());
            let hy = vm.alloc_from(&vec![-1.0f32; n + 8]).unwrap();
            let cfg = LaunchConfig::new(grid, block);
            run(&vm, &p, cfg, &args![&hx, &hi, &hy, n as u32]);
            outs.push(vm.read::<f32>(&hy).unwrap());
        }
        assert_eq!(outs[1], outs[0], "block {block}");
        assert_eq!(outs[2], outs[0], "block {block}, parallel");
        assert!(outs[0][n..].iter().all(|&v| v == -1.0));
    }
}

#[test]
fn in_place_updates_run_each_lane_once() {
    let p = asm(IN_PLACE);
    assert!(strategy(&jit_vm(), &p).contains("groups span block boundaries"));
    for n in [1usize, 5, 31, 33, 1000, 2047, 2049, 4100, 5003] {
        let x = input(n + 40);
        let want: Vec<f32> = (0..n + 40)
            .map(|i| if i < n { x[i].mul_add(2.0, 1.0) } else { x[i] })
            .collect();
        for block in BLOCKS {
            let grid = (n as u32).div_ceil(block) + 1;
            for vm in [jit_vm(), jit_parallel_vm()] {
                let h = vm.alloc_from(&x).unwrap();
                run(
                    &vm,
                    &p,
                    LaunchConfig::new(grid, block),
                    &args![&h, n as u32],
                );
                assert_eq!(vm.read::<f32>(&h).unwrap(), want, "n = {n}, block {block}");
            }
        }
    }
}

#[test]
fn a_trap_names_the_lanes_own_block_and_lane() {
    let p = asm(GATHER);
    let n = 5000usize;
    let x = input(n);
    for block in BLOCKS {
        for bad in [0usize, 17, 2047, 2048, 2100, 4999] {
            let mut idx: Vec<u32> = (0..n as u32).rev().collect();
            idx[bad] = n as u32 + 5;
            // A second bad index later: the first one (by %gid) is reported.
            idx[(bad + 900).min(n - 1)] = u32::MAX;
            let traps: Vec<_> = [serial_vm(), jit_vm(), jit_parallel_vm()]
                .iter()
                .map(|vm| {
                    let hx = vm.alloc_from(&x).unwrap();
                    let hi = vm.alloc_from(&idx).unwrap();
                    let hy = vm.alloc_from(&vec![0.0f32; n]).unwrap();
                    let cfg = LaunchConfig::new((n as u32).div_ceil(block), block);
                    expect_trap(vm, &p, cfg, &args![&hx, &hi, &hy, n as u32])
                })
                .collect();
            let b = bad as u32;
            assert_eq!((traps[0].block, traps[0].lane), (b / block, b % block));
            assert_eq!(traps[1], traps[0], "block {block}, bad lane {bad}");
            assert_eq!(
                traps[2], traps[0],
                "block {block}, bad lane {bad}, parallel"
            );
        }
    }
}

#[test]
fn division_by_zero_and_loops_in_small_blocks() {
    let p = asm(DIVIDE);
    assert!(strategy(&jit_vm(), &p).contains("groups span block boundaries"));
    let n = 3000usize;
    for block in BLOCKS {
        let grid = (n as u32).div_ceil(block);
        let lanes = (grid * block) as usize;
        let d: Vec<u32> = (0..lanes as u32).map(|i| i % 97 + 1).collect();
        let mut outs = Vec::new();
        for vm in [serial_vm(), jit_vm(), jit_parallel_vm()] {
            let (hd, hy) = (vm.alloc_from(&d).unwrap(), vm.alloc::<u32>(lanes).unwrap());
            run(&vm, &p, LaunchConfig::new(grid, block), &args![&hd, &hy]);
            outs.push(vm.read::<u32>(&hy).unwrap());
        }
        assert_eq!(outs[1], outs[0], "block {block}");
        assert_eq!(outs[2], outs[0], "block {block}, parallel");
        // A zero divisor at one lane: the same trap in every tier.
        let mut d = d;
        let bad = lanes - 1 - lanes / 3;
        d[bad] = 0;
        let traps: Vec<_> = [serial_vm(), jit_vm(), jit_parallel_vm()]
            .iter()
            .map(|vm| {
                let hd = vm.alloc_from(&d).unwrap();
                let hy = vm.alloc::<u32>(lanes).unwrap();
                expect_trap(vm, &p, LaunchConfig::new(grid, block), &args![&hd, &hy])
            })
            .collect();
        assert_eq!(
            (traps[0].block, traps[0].lane),
            (bad as u32 / block, bad as u32 % block)
        );
        assert_eq!(traps[1], traps[0], "block {block}");
        assert_eq!(traps[2], traps[0], "block {block}, parallel");
    }
}

#[test]
fn a_program_that_reads_lane_keeps_its_blocks() {
    let p = asm(PER_BLOCK);
    assert!(!strategy(&jit_vm(), &p).contains("groups span block boundaries"));
    let n = 1200usize;
    let x = input(n);
    for block in [8u32, 100, 256] {
        let grid = n as u32 / block;
        let lanes = (grid * block) as usize;
        let mut outs = Vec::new();
        for vm in [serial_vm(), jit_vm()] {
            let (hx, hy) = (vm.alloc_from(&x).unwrap(), vm.alloc::<f32>(n).unwrap());
            run(&vm, &p, LaunchConfig::new(grid, block), &args![&hx, &hy]);
            outs.push(vm.read::<f32>(&hy).unwrap());
        }
        assert_eq!(outs[1], outs[0], "block {block}");
        let want: Vec<f32> = (0..lanes)
            .map(|i| x[i] + (i as u32 % block) as f32)
            .collect();
        assert_eq!(outs[0][..lanes], want[..]);
    }
}

/// `y[i] = steps(i)` where lane i loops `t[i]` times: a trip count above the fuel budget
/// runs out of fuel at that lane.
const LOOPS: &str = "
.kernel loops
.param t: ptr u32
.param y: ptr u32
    ldg.u32 r1, [t + %gid*4]
    mov_imm.u32 r2, 0
top:
    setp.ge.u32 p0, r2, r1
    @p0 bra @out
    add.u32 r2, r2, 1
    bra @top
out:
    stg.u32 [y + %gid*4], r2
    exit
";

#[test]
fn running_out_of_fuel_names_the_lanes_own_block_and_lane() {
    let p = asm(LOOPS);
    assert!(strategy(&jit_vm(), &p).contains("groups span block boundaries"));
    let lanes = 3000usize;
    for block in [1u32, 5, 13, 100] {
        let grid = (lanes as u32).div_ceil(block);
        let n = (grid * block) as usize;
        for bad in [3usize, 700, 2100] {
            let mut t: Vec<u32> = (0..n as u32).map(|i| i % 9).collect();
            t[bad] = 1_000;
            let traps: Vec<_> = [serial_vm(), jit_vm(), jit_parallel_vm()]
                .into_iter()
                .map(|vm| Vm::with_config(vm.config().clone().fuel(200)))
                .map(|vm| {
                    let ht = vm.alloc_from(&t).unwrap();
                    let hy = vm.alloc::<u32>(n).unwrap();
                    expect_trap(&vm, &p, LaunchConfig::new(grid, block), &args![&ht, &hy])
                })
                .collect();
            let b = bad as u32;
            assert_eq!((traps[0].block, traps[0].lane), (b / block, b % block));
            assert_eq!(traps[1], traps[0], "block {block}, lane {bad}");
            assert_eq!(traps[2], traps[0], "block {block}, lane {bad}, parallel");
        }
    }
}

/// `c[i] = a[row] * 10 + b[col] + calls(col)` for rows of `n`: row/column splits of %gid,
/// whose groups realign to rows, and a call.
const ROWS: &str = "
.kernel rows
.param a: ptr u32
.param b: ptr u32
.param c: ptr u32
.param n: u32
.param total: u32
    setp.ge.u32 p0, %gid, total
    @p0 bra @done
    div.u32 r1, %gid, n
    rem.u32 r2, %gid, n
    ldg.u32 r3, [a + r1*4]
    ldg.u32 r4, [b + r2*4]
    mul.u32 r3, r3, 10
    add.u32 r3, r3, r4
    mov.u32 r5, r2
    call @triple
    add.u32 r3, r3, r5
    stg.u32 [c + %gid*4], r3
done:
    exit
triple:
    mul.u32 r5, r5, 3
    ret
";

#[test]
fn rows_and_calls_across_block_boundaries() {
    let p = asm(ROWS);
    assert!(strategy(&jit_vm(), &p).contains("groups span block boundaries"));
    for (rows, n) in [(50u32, 10u32), (7, 33), (3, 1000), (40, 8)] {
        let total = rows * n;
        let a: Vec<u32> = (0..rows).map(|r| r * 7 + 1).collect();
        let b: Vec<u32> = (0..n).map(|c| c * 3 + 2).collect();
        let want: Vec<u32> = (0..total)
            .map(|g| a[(g / n) as usize] * 10 + b[(g % n) as usize] + 3 * (g % n))
            .collect();
        for block in [1u32, 7, 16, 100, 256] {
            let grid = total.div_ceil(block);
            for vm in [serial_vm(), jit_vm(), jit_parallel_vm()] {
                let (ha, hb) = (vm.alloc_from(&a).unwrap(), vm.alloc_from(&b).unwrap());
                let hc = vm.alloc::<u32>(total as usize).unwrap();
                let cfg = LaunchConfig::new(grid, block);
                run(&vm, &p, cfg, &args![&ha, &hb, &hc, n, total]);
                assert_eq!(
                    vm.read::<u32>(&hc).unwrap(),
                    want,
                    "rows of {n}, block {block}"
                );
            }
        }
    }
}
