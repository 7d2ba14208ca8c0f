//! Tiering and the compiled-kernel cache: Auto compiles hot programs in the background,
//! concurrent first launches compile once, and evicted kernels give their memory back.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use holovm::{args, LaunchConfig, Tier, Vm, VmConfig};

const SCALE: &str = "
.kernel scale
.param x: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r0, [x + %gid*4]
    mul.f32 r0, r0, 2.0
    stg.f32 [x + %gid*4], r0
done:
    exit
";

#[test]
fn auto_switches_to_compiled_code_once_hot() {
    let vm = Vm::with_config(
        VmConfig::default()
            .tier(Tier::Auto)
            .jit_threshold(Duration::ZERO),
    );
    let p = asm(SCALE);
    let x = vm.alloc_from(&[1.0f32; 100]).unwrap();
    let first = run(&vm, &p, LaunchConfig::new(1, 128), &args![&x, 100u32]);
    assert!(!first.jit, "the first launch is interpreted");
    vm.wait_for_jit();
    assert_eq!(vm.compiled_programs(), 1);
    assert!(vm.is_compiled(&p));
    let later = run(&vm, &p, LaunchConfig::new(1, 128), &args![&x, 100u32]);
    assert!(later.jit, "once compiled, launches run compiled code");
    assert_eq!(vm.read(&x).unwrap(), vec![4.0f32; 100]);
}

#[test]
fn auto_stays_interpreted_below_the_threshold() {
    let vm = Vm::with_config(
        VmConfig::default()
            .tier(Tier::Auto)
            .jit_threshold(Duration::from_secs(3600)),
    );
    let p = asm(SCALE);
    let x = vm.alloc::<f32>(10).unwrap();
    for _ in 0..20 {
        assert!(!run(&vm, &p, LaunchConfig::new(1, 16), &args![&x, 10u32]).jit);
    }
    vm.wait_for_jit();
    assert_eq!(vm.compiled_programs(), 0);
    assert!(!vm.is_compiled(&p));
}

#[test]
fn concurrent_first_launches_compile_once() {
    let vm = Arc::new(jit_vm());
    let p = asm(SCALE);
    std::thread::scope(|s| {
        for _ in 0..8 {
            let (vm, p) = (Arc::clone(&vm), p.clone());
            s.spawn(move || {
                let x = vm.alloc_from(&[1.0f32; 64]).unwrap();
                let stats = run(&vm, &p, LaunchConfig::new(1, 64), &args![&x, 64u32]);
                assert!(stats.jit);
                assert_eq!(vm.read(&x).unwrap(), vec![2.0f32; 64]);
            });
        }
    });
    assert_eq!(vm.compiled_programs(), 1);
}

/// The sum example's reduction that also copies `x` to `y` as it goes: with a store in its
/// loop, blocks that leave many lanes after the last full group run a narrower variant
/// where one fits, rather than the partial last group as vector code
/// (jit/src/vector/partial.rs), whose stores there write its lanes one by one.
const COPY_SUM: &str = "
.kernel copy_sum
.param x: ptr f32
.param y: ptr f32
.param out: ptr f32
.param n: u32
    mul.u32 r5, %gdim, %bdim
    mov_imm.f32 r1, 0.0
    mov.u32 r2, %gid
loop:
    setp.ge.u32 p0, r2, n
    @p0 bra @combine
    ldg.f32 r3, [x + r2*4]
    stg.f32 [y + r2*4], r3
    add.f32 r1, r1, r3
    add.u32 r2, r2, r5
    bra @loop
combine:
    reduce.add.f32 r1, r1
    setp.ne.u32 p1, %lane, 0
    @p1 bra @done
    stg.f32 [out + %block*4], r1
done:
    exit
";

/// [`COPY_SUM`] over `x` with `grid` blocks of `block` lanes on `vm`: the partial sums
/// and the launch's stats (the copy is checked).
fn block_sums(vm: &Vm, x: &[f32], grid: u32, block: u32) -> (Vec<f32>, holovm::LaunchStats) {
    let p = asm(COPY_SUM);
    let dx = vm.alloc_from(x).unwrap();
    let dy = vm.alloc::<f32>(x.len()).unwrap();
    let out = vm.alloc::<f32>(grid as usize).unwrap();
    let n = x.len() as u32;
    let stats = run(
        vm,
        &p,
        LaunchConfig::new(grid, block),
        &args![&dx, &dy, &out, n],
    );
    assert_eq!(vm.read(&dy).unwrap(), x, "{grid}x{block}");
    (vm.read(&out).unwrap(), stats)
}

#[test]
fn blocks_that_leave_many_lanes_after_the_last_group_run_a_narrower_variant() {
    // The kernel compiles to groups of 32 lanes. Blocks of 16 have no full group, blocks
    // of 40 leave 8 of 40 lanes, 48 leave 16: those run variants with groups of 16, 8 and 16,
    // with the interpreter's results (the block's reduce folds in lane order in every tier).
    let x: Vec<f32> = (0..5000)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013)
        .collect();
    let vm = jit_vm();
    let interp = serial_vm();
    for (block, group) in [
        (256, 32),
        (16, 16),
        (40, 8),
        (48, 16),
        (200, 32),
        (256, 32),
        (3, 32),
    ] {
        let (got, stats) = block_sums(&vm, &x, 3, block);
        let (want, _) = block_sums(&interp, &x, 3, block);
        assert_eq!(got, want, "block {block}");
        assert!(stats.jit);
        assert_eq!(stats.group, group, "block {block}");
    }
    // A variant is compiled once, and is not what the program's later launches find first.
    assert_eq!(block_sums(&vm, &x, 2, 16).1.group, 16);
    assert_eq!(block_sums(&vm, &x, 2, 64).1.group, 32);
    assert_eq!(vm.compiled_programs(), 1);
}

#[test]
fn reductions_run_a_blocks_partial_last_group_as_vector_code() {
    // The sum example has no store in its loop: a block's last group runs as vector code
    // with phantom lanes past the block when four or more of its lanes are in the block (a
    // variant with the same group, compiled for such launches) unless a narrower group
    // fits them in as few groups; one to three lanes run in per-lane code, blocks of whole
    // groups the main kernel.
    let p = holovm::examples::find("sum").unwrap().program().unwrap();
    let x: Vec<f32> = (0..5000)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.021)
        .collect();
    let (vm, interp) = (jit_vm(), serial_vm());
    let sums = |vm: &Vm, grid: u32, block: u32| {
        let dx = vm.alloc_from(&x).unwrap();
        let out = vm.alloc::<f32>(grid as usize).unwrap();
        let n = x.len() as u32;
        let stats = run(vm, &p, LaunchConfig::new(grid, block), &args![&dx, &out, n]);
        (vm.read(&out).unwrap(), stats)
    };
    for block in [16u32, 20, 35, 38, 40, 48, 100, 250, 256, 97] {
        let (got, stats) = sums(&vm, 3, block);
        assert_eq!(got, sums(&interp, 3, block).0, "block {block}");
        assert!(stats.jit);
        // (One group of 16 beats a partial group of 32.)
        let group = if block == 16 { 16 } else { 32 };
        assert_eq!(stats.group, group, "block {block}");
        let partial = !matches!(block, 16 | 35 | 256 | 97);
        assert_eq!(stats.partial, partial, "block {block}");
    }
    assert_eq!(vm.compiled_programs(), 1);
}

#[test]
fn row_kernels_that_store_in_loops_run_a_blocks_partial_last_group_as_vector_code() {
    // softmax_rows (groups of 8) stores in two of its loops: blocks of 100, 250 and 500
    // lanes end in groups of 4, 2 and 4 of their lanes, run as vector code with phantom
    // lanes past the block, which store nothing; blocks of 256 have none.
    let p = holovm::examples::find("softmax_rows")
        .unwrap()
        .program()
        .unwrap();
    let (rows, cols) = (3usize, 700u32);
    let x: Vec<f32> = (0..rows * cols as usize)
        .map(|i| ((i * 29 % 89) as f32 - 44.0) * 0.07)
        .collect();
    let (vm, interp) = (jit_vm(), serial_vm());
    let softmax = |vm: &Vm, block: u32| {
        let dx = vm.alloc_from(&x).unwrap();
        // Room past the last row, where its phantoms would store.
        let dy = vm.alloc::<f32>(x.len() + 64).unwrap();
        let cfg = LaunchConfig::new(rows as u32, block);
        let stats = run(vm, &p, cfg, &args![&dx, &dy, cols]);
        (vm.read(&dy).unwrap(), stats)
    };
    for block in [100u32, 250, 500, 256] {
        let (got, stats) = softmax(&vm, block);
        let (want, _) = softmax(&interp, block);
        assert_eq!(got, want, "block {block}");
        assert!(got[x.len()..].iter().all(|&v| v == 0.0), "block {block}");
        assert_eq!(stats.group, 8, "block {block}");
        assert_eq!(stats.partial, block != 256, "block {block}");
    }
}

#[test]
fn concurrent_launches_that_need_a_variant_share_it() {
    let vm = Arc::new(jit_vm());
    let x: Vec<f32> = (0..4096).map(|i| (i % 13) as f32).collect();
    let want = block_sums(&serial_vm(), &x, 2, 16).0;
    std::thread::scope(|s| {
        for _ in 0..6 {
            let (vm, x, want) = (Arc::clone(&vm), &x, &want);
            s.spawn(move || {
                let (got, stats) = block_sums(&vm, x, 2, 16);
                assert_eq!(stats.group, 16);
                assert_eq!(&got, want);
            });
        }
    });
    assert_eq!(vm.compiled_programs(), 1);
}

/// A one-thread `Tier::Auto` VM that compiles a program after its first launch.
fn eager_auto_vm() -> Vm {
    Vm::with_config(
        VmConfig::default()
            .single_thread(true)
            .tier(Tier::Auto)
            .jit_threshold(Duration::ZERO),
    )
}

#[test]
fn auto_compiles_a_narrower_variant_in_the_background() {
    let vm = eager_auto_vm();
    let x: Vec<f32> = (0..3000).map(|i| (i % 7) as f32).collect();
    assert!(
        !block_sums(&vm, &x, 1, 256).1.jit,
        "the first launch is interpreted"
    );
    vm.wait_for_jit();
    assert_eq!(block_sums(&vm, &x, 1, 256).1.group, 32);
    // The first launch of blocks of 16 runs the main kernel; the second starts the
    // variant's compile (a shape that comes once is not worth one) and runs the main kernel
    // unless the compile is done first (a busy machine can pause the launch that long).
    let (first, stats) = block_sums(&vm, &x, 1, 16);
    assert!(stats.jit);
    assert_eq!(stats.group, 32);
    vm.wait_for_jit();
    let (second, _) = block_sums(&vm, &x, 1, 16);
    vm.wait_for_jit();
    let (later, stats) = block_sums(&vm, &x, 1, 16);
    assert_eq!(stats.group, 16);
    assert_eq!(first, later);
    assert_eq!(second, later);
    assert_eq!(later, vec![x.iter().sum::<f32>()]);
}

#[test]
fn auto_compiles_the_partial_group_variant_at_a_shapes_second_launch() {
    let vm = eager_auto_vm();
    let p = holovm::examples::find("sum").unwrap().program().unwrap();
    let x: Vec<f32> = (0..6000).map(|i| (i % 11) as f32 * 0.5).collect();
    let launch = |block: u32| {
        let dx = vm.alloc_from(&x).unwrap();
        let out = vm.alloc::<f32>(1).unwrap();
        let n = x.len() as u32;
        let stats = run(&vm, &p, LaunchConfig::new(1, block), &args![&dx, &out, n]);
        (vm.read(&out).unwrap(), stats)
    };
    assert!(!launch(256).1.jit, "the first launch is interpreted");
    vm.wait_for_jit();
    let want = launch(256).0;
    // Blocks of 250 lanes end in a group of 26: the main kernel runs the first launch, the
    // second starts the variant's compile (and runs the main kernel, unless a busy machine
    // pauses it until the compile is done), later launches run it.
    for expect_partial in [Some(false), None, Some(true)] {
        let (got, stats) = launch(250);
        assert!(stats.jit);
        if let Some(partial) = expect_partial {
            assert_eq!(stats.partial, partial);
        }
        assert_eq!(got, launch_sum(&x, 250), "{stats:?}");
        vm.wait_for_jit();
    }
    assert_eq!(want, launch_sum(&x, 256));
}

/// The sum example's result in one block of `block` lanes: each lane's grid-stride sum,
/// folded in lane order (docs/ISA.md), as f32.
fn launch_sum(x: &[f32], block: usize) -> Vec<f32> {
    let lane = |l: usize| x.iter().skip(l).step_by(block).fold(0.0f32, |a, v| a + v);
    vec![(1..block).fold(lane(0), |a, l| a + lane(l))]
}

/// The vector_add example over `n` lanes: its blocks run as one, and a partial last group
/// runs as the full group that ends at the limit (jit/src/vector/tail.rs), so only launches
/// of fewer lanes than a group take a variant.
#[test]
fn kernels_that_run_blocks_as_one_narrow_only_for_launches_shorter_than_a_group() {
    let p = holovm::examples::find("vector_add")
        .unwrap()
        .program()
        .unwrap();
    let vm = jit_vm();
    for (n, block, group) in [(16u32, 16u32, 16), (40, 8, 32), (1000, 100, 32), (12, 4, 4)] {
        let a: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let (da, db, dc) = (
            vm.alloc_from(&a).unwrap(),
            vm.alloc_from(&a).unwrap(),
            vm.alloc::<f32>(n as usize).unwrap(),
        );
        let stats = run(
            &vm,
            &p,
            LaunchConfig::new(n / block, block),
            &args![&da, &db, &dc, n],
        );
        assert_eq!(stats.group, group, "{n} lanes");
        let want: Vec<f32> = a.iter().map(|v| v + v).collect();
        assert_eq!(vm.read(&dc).unwrap(), want);
    }
}

/// Resident set size of this process in bytes (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn evicting_thousands_of_kernels_keeps_memory_bounded() {
    let vm = Vm::with_config(
        VmConfig::default()
            .tier(Tier::Jit)
            .single_thread(true)
            .jit_cache_capacity(16),
    );
    let x = vm.alloc::<f32>(8).unwrap();
    // Each program differs in its constant, so each is a new kernel.
    let program = |i: u32| asm(&SCALE.replace("2.0", &format!("{}.5", i)));
    let launch = |i: u32| {
        let s = run(&vm, &program(i), LaunchConfig::new(1, 8), &args![&x, 8u32]);
        assert!(s.jit);
    };
    for i in 0..200 {
        launch(i);
    }
    let Some(base) = rss_bytes() else { return };
    for i in 200..2200 {
        launch(i);
    }
    assert!(vm.compiled_programs() <= 16);
    let grown = rss_bytes().unwrap_or(base).saturating_sub(base);
    // Without freeing, each kernel keeps at least a 4 KiB code page: 2000 leak about 8 MiB
    // (measured); with freeing the growth is a few KiB.
    assert!(
        grown < 2 << 20,
        "resident memory grew by {} KiB",
        grown >> 10
    );
    vm.clear_jit_cache();
    assert_eq!(vm.compiled_programs(), 0);
}

#[test]
fn perf_map_names_each_instruction_of_the_kernels_the_vm_runs() {
    let vm = Vm::with_config(VmConfig::default().tier(Tier::Jit).perf_map(true));
    let p = asm(&SCALE.replace(".kernel scale", ".kernel scale_for_perf"));
    let x = vm.alloc_from(&[1.0f32; 100]).unwrap();
    run(&vm, &p, LaunchConfig::new(1, 128), &args![&x, 100u32]);
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let map = std::fs::read_to_string(&path).unwrap();
    let entries: Vec<(u64, u64, &str)> = map
        .lines()
        .filter(|l| l.contains("holovm::scale_for_perf"))
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let start = u64::from_str_radix(it.next().unwrap(), 16).unwrap();
            let size = u64::from_str_radix(it.next().unwrap(), 16).unwrap();
            (start, size, it.next().unwrap())
        })
        .collect();
    let names: Vec<&str> = entries.iter().map(|e| e.2).collect();
    // The load and store in both copies, the entry guard's branch in the per-lane copy.
    for name in [
        "holovm::scale_for_perf pc 2 vector",
        "holovm::scale_for_perf pc 4 vector",
        "holovm::scale_for_perf pc 1 per-lane",
        "holovm::scale_for_perf pc 4 per-lane",
        "holovm::scale_for_perf",
    ] {
        assert!(names.contains(&name), "no {name:?} in {names:?}");
    }
    // One kernel's entries tile its code: each starts where the previous ends.
    for w in entries.windows(2) {
        assert_eq!(w[0].0 + w[0].1, w[1].0, "{:?}", entries);
    }
    // Only this test writes this process's map.
    let _ = std::fs::remove_file(&path);
}

#[test]
fn programs_longer_than_the_jit_limit_run_in_the_interpreter() {
    // SCALE has 6 instructions: a limit of 5 leaves it to the interpreter under every tier.
    for tier in [Tier::Jit, Tier::Auto] {
        let vm = Vm::with_config(
            VmConfig::default()
                .tier(tier)
                .jit_threshold(Duration::ZERO)
                .jit_max_insts(5),
        );
        let p = asm(SCALE);
        let x = vm.alloc_from(&[1.5f32; 40]).unwrap();
        for _ in 0..3 {
            let stats = vm.launch(&p, LaunchConfig::new(1, 64), &args![&x, 40u32]);
            assert!(!stats.unwrap().jit);
            vm.wait_for_jit();
        }
        assert_eq!(vm.read(&x).unwrap(), vec![12.0f32; 40]);
        let why = vm.jit_error(&p).expect("the compile's error is kept");
        assert!(
            why.contains("has 6 instructions") && why.contains("(5:"),
            "{why}"
        );
        let dump = vm.jit_dump(&p).unwrap_err().to_string();
        assert!(dump.contains("the interpreter runs this program"), "{dump}");
        // At the limit it compiles.
        let vm = Vm::with_config(VmConfig::default().tier(tier).jit_max_insts(6));
        assert!(vm.jit_dump(&p).is_ok());
    }
}
