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
