//! One VM shared by many host threads, each launching different programs thousands of times;
//! every result must be right. Also launches from inside rayon worker threads.

// Index loops over lanes read best in these tests.
#![allow(clippy::needless_range_loop)]

mod common;

use std::sync::Arc;

use common::*;
use holovm::isa::Program;
use holovm::{args, Error, LaunchConfig, TrapKind, Vm, VmConfig};

struct Kernels {
    add: Program,
    scale: Program,
    sum: Program,
    loops: Program,
    oob: Program,
}

fn kernels() -> Kernels {
    Kernels {
        add: asm("
.kernel add
.param a: ptr f32
.param b: ptr f32
.param c: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [a + %gid*4]
    ldg.f32 r2, [b + %gid*4]
    add.f32 r3, r1, r2
    stg.f32 [c + %gid*4], r3
done:
    exit
"),
        scale: asm("
.kernel scale
.param x: ptr i64
.param k: i64
    ldg.i64 r1, [x + %gid*8]
    mul.i64 r1, r1, k
    stg.i64 [x + %gid*8], r1
    exit
"),
        sum: asm("
.kernel sum
.param x: ptr u32
.param out: ptr u32
.shared 1024
    ldg.u32 r1, [x + %gid*4]
    sts.u32 [shared + %lane*4], r1
    bar.sync
    reduce.add.u32 r2, r1
    stg.u32 [out + %block*4], r2
    exit
"),
        loops: asm("
.kernel loops
.param out: ptr u32
    and.u32 r1, %gid, 15
    mov_imm.u32 r2, 0
top:
    add.u32 r2, r2, %lane
    loop r1, @top
    stg.u32 [out + %gid*4], r2
    exit
"),
        oob: asm("
.kernel oob
.param a: ptr u32
    ldg.u32 r1, [a + %gid*4]
    exit
"),
    }
}

fn worker(vm: &Vm, k: &Kernels, t: usize, iters: usize) -> Result<(), Error> {
    let mut rng = Rng(t as u64 * 7919 + 1);
    for i in 0..iters {
        match (i + t) % 5 {
            0 => {
                let n = 1 + (rng.next() % 300) as usize;
                let a: Vec<f32> = (0..n).map(|j| (j + t) as f32).collect();
                let b: Vec<f32> = (0..n).map(|j| (j * i) as f32).collect();
                let (da, db) = (vm.alloc_from(&a)?, vm.alloc_from(&b)?);
                let dc = vm.alloc::<f32>(n)?;
                vm.launch(
                    &k.add,
                    LaunchConfig::cover(n as u64, 64),
                    &args![&da, &db, &dc, n as u32],
                )?;
                let c = vm.read(&dc)?;
                assert!(
                    c.iter().enumerate().all(|(j, &x)| x == a[j] + b[j]),
                    "add t{t} i{i}"
                );
                for d in [da, db, dc] {
                    vm.free(d)?;
                }
            }
            1 => {
                let x: Vec<i64> = (0..128).map(|j| j - 64 + t as i64).collect();
                let dx = vm.alloc_from(&x)?;
                let k2 = (i % 7) as i64 - 3;
                vm.launch(&k.scale, LaunchConfig::new(2, 64), &args![&dx, k2])?;
                assert_eq!(
                    vm.read(&dx)?,
                    x.iter().map(|v| v * k2).collect::<Vec<_>>(),
                    "scale t{t}"
                );
                vm.free(dx)?;
            }
            2 => {
                let x: Vec<u32> = (0..256).map(|j| j * (t as u32 + 1)).collect();
                let dx = vm.alloc_from(&x)?;
                let out = vm.alloc::<u32>(2)?;
                vm.launch(&k.sum, LaunchConfig::new(2, 128), &args![&dx, &out])?;
                let want: Vec<u32> = x.chunks(128).map(|c| c.iter().sum()).collect();
                assert_eq!(vm.read(&out)?, want, "sum t{t}");
                vm.free(dx)?;
                vm.free(out)?;
            }
            3 => {
                let out = vm.alloc::<u32>(96)?;
                vm.launch(&k.loops, LaunchConfig::new(3, 32), &args![&out])?;
                let got = vm.read(&out)?;
                for (g, &v) in got.iter().enumerate() {
                    assert_eq!(v, (g as u32 % 32) * (g as u32 & 15).max(1), "loops t{t}");
                }
                vm.free(out)?;
            }
            _ => {
                let a = vm.alloc::<u32>(40)?;
                match vm.launch(&k.oob, LaunchConfig::new(2, 32), &args![&a]) {
                    Err(Error::Trap(tr)) => {
                        assert_eq!((tr.kind, tr.block, tr.lane), (TrapKind::OutOfBounds, 1, 8))
                    }
                    r => panic!("expected a trap, got {r:?}"),
                }
                vm.free(a)?;
            }
        }
    }
    Ok(())
}

#[test]
fn many_threads_share_one_vm() {
    let vm = Arc::new(Vm::new());
    let k = Arc::new(kernels());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (vm, k) = (Arc::clone(&vm), Arc::clone(&k));
            std::thread::spawn(move || worker(&vm, &k, t, 400))
        })
        .collect();
    for t in threads {
        t.join().expect("worker panicked").expect("worker failed");
    }
    assert_eq!(vm.buffers(), 0, "every buffer was freed");
    assert_eq!(vm.cached_programs(), 5);
}

/// Parallel launches from several host threads (the worker pool is shared), and launches
/// from inside rayon's own workers (which stay serial rather than deadlock).
#[test]
fn parallel_launches_from_threads_and_rayon_workers() {
    let vm = Arc::new(Vm::with_config(
        VmConfig::default()
            .parallel_threshold(0)
            .parallel_min_time(std::time::Duration::ZERO)
            .threads(2),
    ));
    let k = Arc::new(kernels());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (vm, k) = (Arc::clone(&vm), Arc::clone(&k));
            std::thread::spawn(move || worker(&vm, &k, t, 100))
        })
        .collect();
    for t in threads {
        t.join().expect("worker panicked").expect("worker failed");
    }
    use rayon::prelude::*;
    (0..32usize)
        .into_par_iter()
        .for_each(|t| worker(&vm, &k, t, 5).expect("rayon worker failed"));
}
