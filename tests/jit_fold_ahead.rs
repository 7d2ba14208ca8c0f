//! Float `reduce.add` / `reduce.mul` whose chain the JIT's vector groups carry as they park
//! (jit/src/vector/fold_ahead.rs): the resolver takes the chain only when it covers every
//! lane and all of them wait, and otherwise folds the lanes itself. Either way the result
//! must have the interpreter's bits: signed zeros, subnormals, infinities, NaNs and sums
//! whose value depends on the order, in blocks that are and are not multiples of the
//! group, with lanes that exit early, groups that leave lanes to scalar code, and traps.

mod common;

use common::*;
use holovm::isa::{Program, Ty};
use holovm::{args, Error, LaunchConfig, Vm};

/// Per lane `k[gid]`: 0 folds `f(x[gid])`; 1 exits first; 2 goes round a loop twice first
/// (its group's lanes disagree, so the group runs scalar code); 3 divides by zero.
/// `out[gid]` receives the `reduce` of the lanes that reach it, `OP` and `T` filled in.
const FOLD: &str = "
.kernel fold
.param x: ptr T
.param k: ptr u32
.param out: ptr T
    ldg.T r1, [x + %gid*8]
    MATH
    ldg.u32 r3, [k + %gid*4]
    setp.eq.u32 p0, r3, 1
    @p0 bra @done
    setp.eq.u32 p1, r3, 3
    @p1 bra @trap
    mov.u32 r4, r3
spin:
    setp.eq.u32 p2, r4, 0
    @p2 bra @fold
    sub.u32 r4, r4, 1
    bra @spin
fold:
    reduce.OP.T r2, r1
    stg.T [out + %gid*8], r2
done:
    exit
trap:
    div.u32 r5, r3, r6
    exit
";

/// The kernel for `op` in `ty` (`f32` or `f64`), with `math` after the load (an `exp`
/// makes the JIT take groups of 8 lanes instead of 32).
fn kernel(op: &str, ty: &str, math: &str) -> Program {
    let scale = if ty == "f32" { "4" } else { "8" };
    asm(&FOLD
        .replace("MATH", math)
        .replace("OP", op)
        .replace(".T", &format!(".{ty}"))
        .replace("ptr T", &format!("ptr {ty}"))
        .replace("*8]", &format!("*{scale}]")))
}

/// Values whose sums and products depend on the order, with the special cases.
fn values(n: usize, seed: u64, ty: &str) -> Vec<u64> {
    let mut rng = Rng(seed | 1);
    let f32s: [f32; 12] = [
        1e8,
        -1e8,
        1.0,
        0.5,
        -0.0,
        0.0,
        3.0e-39,
        -1.5,
        1.0000001,
        7.25,
        f32::INFINITY,
        f32::NAN,
    ];
    (0..n)
        .map(|_| {
            let r = rng.next();
            // Mostly finite values; an infinity or a NaN now and then.
            let v = match r {
                _ if r.is_multiple_of(1499) => f32s[11],
                _ if r.is_multiple_of(997) => f32s[10],
                _ => f32s[(r % 10) as usize],
            };
            match ty {
                "f32" => u64::from(v.to_bits()),
                _ => f64::from(v).to_bits() ^ (r & 0xff),
            }
        })
        .collect()
}

/// The lane kinds: every lane 0, then with `every`-th lanes of kind `kind` from `from`.
fn kinds(n: usize, kind: u32, every: usize, from: usize) -> Vec<u32> {
    (0..n)
        .map(|i| match every {
            0 => 0,
            _ if i >= from && (i - from).is_multiple_of(every) => kind,
            _ => 0,
        })
        .collect()
}

/// Runs `p` on `vm` and returns the output's bits and the trap, if any.
fn launch(
    vm: &Vm,
    p: &Program,
    ty: &str,
    cfg: LaunchConfig,
    x: &[u64],
    k: &[u32],
) -> (Vec<u64>, Option<String>) {
    let n = x.len();
    let ty = if ty == "f32" { Ty::F32 } else { Ty::F64 };
    let (hx, ho) = (vm.alloc_any(ty, n).unwrap(), vm.alloc_any(ty, n).unwrap());
    vm.write_bytes(&hx, &to_bytes(ty, x)).unwrap();
    // Lanes that do not store keep a signalling NaN no fold produces.
    let snan = if ty == Ty::F32 {
        0x7f80_0001
    } else {
        0x7ff0_0000_0000_0001
    };
    vm.write_bytes(&ho, &to_bytes(ty, &vec![snan; n])).unwrap();
    let hk = vm.alloc_from(k).unwrap();
    let trap = match vm.launch(p, cfg, &args![&hx, &hk, &ho]) {
        Ok(_) => None,
        Err(Error::Trap(t)) => Some(t.to_string()),
        Err(e) => panic!("launch failed: {e}"),
    };
    (from_bytes(ty, &vm.read_bytes(&ho).unwrap()), trap)
}

/// Both tiers, serial and parallel JIT, on every shape: the same bits and traps. After a
/// trap only the lanes below the trapping one have a defined output: `defined` of them.
fn agree(p: &Program, ty: &str, x: &[u64], k: &[u32], what: &str) {
    agree_below(p, ty, x, k, x.len(), what)
}

fn agree_below(p: &Program, ty: &str, x: &[u64], k: &[u32], defined: usize, what: &str) {
    let n = x.len() as u32;
    for block in [8u32, 32, 64, 96, 100, 256, 1000, 1024] {
        if !n.is_multiple_of(block) {
            continue;
        }
        let cfg = LaunchConfig::new(n / block, block);
        let want = launch(&serial_vm(), p, ty, cfg, x, k);
        for vm in [jit_vm(), jit_parallel_vm()] {
            let got = launch(&vm, p, ty, cfg, x, k);
            check_compiled(&vm, p);
            assert_eq!(got.1, want.1, "{what}: trap, block {block}");
            for (i, (&g, &w)) in got.0.iter().zip(&want.0).take(defined).enumerate() {
                assert_eq!(g, w, "{what}: lane {i}, block {block}: {g:#x} != {w:#x}");
            }
        }
    }
}

#[test]
fn float_folds_match_the_interpreter_bit_for_bit() {
    let n = 8000usize;
    for (op, ty, math) in [
        ("add", "f32", ""),
        ("add", "f32", "exp.f32 r1, r1"),
        ("mul", "f32", ""),
        ("add", "f64", ""),
        ("mul", "f64", "exp.f64 r1, r1"),
    ] {
        let p = kernel(op, ty, math);
        let dump = jit_vm().jit_dump(&p).expect("dump");
        assert!(
            dump.strategy
                .to_string()
                .contains("folds in lane order as the groups park there"),
            "{}",
            dump.strategy
        );
        for seed in 1..4 {
            let x = values(n, seed * 7919, ty);
            let what = format!("{op}.{ty} {math} seed {seed}");
            agree(
                &p,
                ty,
                &x,
                &kinds(n, 0, 0, 0),
                &format!("{what}, all lanes"),
            );
            agree(
                &p,
                ty,
                &x,
                &kinds(n, 1, 37, 5),
                &format!("{what}, some exit"),
            );
            agree(
                &p,
                ty,
                &x,
                &kinds(n, 2, 53, 11),
                &format!("{what}, some diverge"),
            );
            agree(
                &p,
                ty,
                &x,
                &kinds(n, 1, 256, 0),
                &format!("{what}, lane 0s exit"),
            );
        }
    }
}

#[test]
fn a_trap_leaves_the_lower_lanes_fold_as_the_interpreters() {
    let n = 4096usize;
    let p = kernel("add", "f32", "");
    let x = values(n, 99, "f32");
    for at in [0usize, 31, 32, 200, 4095] {
        let k = kinds(n, 3, n, at);
        agree_below(&p, "f32", &x, &k, at, &format!("trap at {at}"));
    }
}

/// Two folds one after the other: the second phase's chain starts afresh.
const TWO: &str = "
.kernel two
.param x: ptr f32
.param out: ptr f32
    ldg.f32 r1, [x + %gid*4]
    reduce.add.f32 r2, r1
    mul.f32 r3, r1, 0.75
    reduce.add.f32 r4, r3
    sub.f32 r5, r4, r2
    reduce.mul.f32 r6, r5
    add.f32 r6, r6, r4
    stg.f32 [out + %gid*4], r6
    exit
";

#[test]
fn each_phase_starts_its_own_chain() {
    let n = 4096usize;
    let p = asm(TWO);
    let x: Vec<f32> = values(n, 5, "f32")
        .iter()
        .map(|&b| f32::from_bits(b as u32))
        .map(|v| if v.is_finite() { v } else { 2.5 })
        .collect();
    for block in [32u32, 64, 256, 1024] {
        let cfg = LaunchConfig::new(n as u32 / block, block);
        let mut outs = Vec::new();
        for vm in [serial_vm(), jit_vm(), jit_parallel_vm()] {
            let (hx, ho) = (vm.alloc_from(&x).unwrap(), vm.alloc::<f32>(n).unwrap());
            run(&vm, &p, cfg, &args![&hx, &ho]);
            check_compiled(&vm, &p);
            let out: Vec<u32> = vm
                .read(&ho)
                .unwrap()
                .iter()
                .map(|v: &f32| v.to_bits())
                .collect();
            outs.push(out);
        }
        assert_eq!(outs[1], outs[0], "block {block}");
        assert_eq!(outs[2], outs[0], "block {block}, parallel");
    }
}
