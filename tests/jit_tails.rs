//! A block's partial last group under the JIT (jit/src/vector/tail.rs): it runs as the full
//! vector group that ends at the block's limit, so its first lanes run twice. That must not
//! show: results and traps are the interpreter's for every launch size, and a program or
//! launch where a second run could change memory keeps its partial groups in per-lane code.

mod common;

use common::*;
use holovm::isa::Program;
use holovm::{args, LaunchConfig, Vm};

/// `c[i] = a[i] + b[i] * 0.5` for `i < n`.
const ADD: &str = "
.kernel add
.param a: ptr f32
.param b: ptr f32
.param c: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [a + %gid*4]
    ldg.f32 r2, [b + %gid*4]
    fma.f32 r3, r2, 0.5, r1
    stg.f32 [c + %gid*4], r3
done:
    exit
";

/// `y[i] = x[i] + 1`: run twice on one lane, the same buffer as `x` and `y` would add 2.
const INC: &str = "
.kernel inc
.param x: ptr f32
.param y: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [x + %gid*4]
    add.f32 r1, r1, 1.0
    stg.f32 [y + %gid*4], r1
done:
    exit
";

fn input(n: usize, salt: f32) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.37 + salt).sin()).collect()
}

fn strategy(vm: &Vm, p: &Program) -> String {
    vm.jit_dump(p).expect("dump").strategy.to_string()
}

#[test]
fn partial_groups_give_the_interpreters_results_at_every_size() {
    let p = asm(ADD);
    assert!(
        strategy(&jit_vm(), &p).contains("partial last group runs as the full group"),
        "{}",
        strategy(&jit_vm(), &p)
    );
    let sizes = (1..=70).chain([255, 256, 257, 999, 1000, 1016, 1023, 1025, 4097]);
    for n in sizes {
        let (a, b) = (input(n, 0.1), input(n, 2.0));
        let mut outs = Vec::new();
        for vm in [serial_vm(), jit_vm(), jit_parallel_vm()] {
            let (ha, hb) = (vm.alloc_from(&a).unwrap(), vm.alloc_from(&b).unwrap());
            let hc = vm.alloc_from(&vec![-7.0f32; n + 40]).unwrap();
            // Blocks of 100 lanes: every block ends in a partial group.
            for block in [32, 100, 256] {
                let grid = (n as u32).div_ceil(block);
                let cfg = LaunchConfig::new(grid, block);
                run(&vm, &p, cfg, &args![&ha, &hb, &hc, n as u32]);
                outs.push(vm.read::<f32>(&hc).unwrap());
            }
        }
        for o in &outs[1..] {
            assert_eq!(o, &outs[0], "n = {n}");
        }
        assert!(
            outs[0][n..].iter().all(|&x| x == -7.0),
            "n = {n}: wrote past n"
        );
    }
}

#[test]
fn a_buffer_bound_to_a_loaded_and_a_stored_parameter_is_not_run_twice() {
    let p = asm(INC);
    for n in [40usize, 1000, 1016] {
        let x = input(n, 0.5);
        let want: Vec<f32> = x.iter().map(|v| v + 1.0).collect();
        for vm in [serial_vm(), jit_vm(), jit_parallel_vm()] {
            let h = vm.alloc_from(&x).unwrap();
            let cfg = LaunchConfig::new((n as u32).div_ceil(256), 256);
            run(&vm, &p, cfg, &args![&h, &h, n as u32]);
            assert_eq!(vm.read::<f32>(&h).unwrap(), want, "n = {n}");
        }
    }
}

#[test]
fn a_program_that_loads_what_it_stores_keeps_partial_groups_per_lane() {
    let p = asm("
.kernel twice
.param x: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [x + %gid*4]
    mul.f32 r1, r1, 2.0
    stg.f32 [x + %gid*4], r1
done:
    exit
");
    assert!(strategy(&jit_vm(), &p).contains("lanes past the last full group run scalar code"));
    let n = 1016;
    let x = input(n, 1.5);
    let want: Vec<f32> = x.iter().map(|v| v * 2.0).collect();
    let vm = jit_vm();
    let h = vm.alloc_from(&x).unwrap();
    run(&vm, &p, LaunchConfig::new(4, 256), &args![&h, n as u32]);
    assert_eq!(vm.read::<f32>(&h).unwrap(), want);
}

#[test]
fn a_trap_in_a_partial_group_is_the_interpreters() {
    // y[i] = x[idx[i]]: one index past the end of x, in the last block's partial group.
    let p = asm("
.kernel gather
.param x: ptr f32
.param idx: ptr u32
.param y: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.u32 r1, [idx + %gid*4]
    ldg.f32 r2, [x + r1*4]
    stg.f32 [y + %gid*4], r2
done:
    exit
");
    let n = 1016usize;
    for bad in [1000usize, 1010, 1015] {
        let mut idx: Vec<u32> = (0..n as u32).rev().collect();
        idx[bad] = n as u32 + 3;
        let traps: Vec<_> = [serial_vm(), jit_vm()]
            .iter()
            .map(|vm| {
                let x = vm.alloc_from(&input(n, 0.0)).unwrap();
                let i = vm.alloc_from(&idx).unwrap();
                let y = vm.alloc_from(&vec![0.0f32; n]).unwrap();
                let cfg = LaunchConfig::new(4, 256);
                expect_trap(vm, &p, cfg, &args![&x, &i, &y, n as u32])
            })
            .collect();
        assert_eq!(traps[0], traps[1], "bad index at lane {bad}");
        assert_eq!(traps[1].lane, bad as u32 - 768);
    }
}
