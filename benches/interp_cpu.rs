//! A noise-robust companion to `benches/interp.rs`: for each case it reports the *minimum*
//! wall time over many runs and the on-CPU time (from `/proc/thread-self/schedstat`, which
//! leaves out time the thread spent descheduled), as ns/element, for the interpreter and the
//! native loop, and their ratio. Single-threaded VM.
//!
//! Run: `cargo bench --bench interp_cpu [-- FILTER]`; with `HOLOVM_PARALLEL=1` the VM runs
//! every multi-block launch on its worker pool instead (the native loops stay serial). It is also a small driver to profile:
//! `HOLOVM_PROFILE=CASE cargo bench --bench interp_cpu` runs just that interpreter case in a
//! loop for ~5 s (for `perf record` or `valgrind --tool=callgrind`; with callgrind, set
//! `HOLOVM_PROFILE_ITERS` to a small number).

use std::hint::black_box;
use std::time::{Duration, Instant};

use holovm::isa::math;
use holovm::{args, asm, examples, LaunchConfig, Tier, Vm, VmConfig};

/// The bundled example kernel's source (the kernels measured are the ones users run).
fn kernel(name: &str) -> &'static str {
    examples::find(name).map_or("", |e| e.source)
}

/// On-CPU time of this thread, if the kernel reports it.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

struct Timing {
    min: Duration,
    cpu: Option<Duration>,
}

/// Runs `f` repeatedly for about `budget`: the minimum wall time of one run, and the average
/// on-CPU time per run.
fn time(budget: Duration, mut f: impl FnMut()) -> Timing {
    f(); // warm up
    let (start, cpu0) = (Instant::now(), cpu_time());
    let mut runs = 0u32;
    let mut min = Duration::MAX;
    while start.elapsed() < budget || runs < 5 {
        let t = Instant::now();
        f();
        min = min.min(t.elapsed());
        runs += 1;
    }
    let cpu = cpu_time().zip(cpu0).map(|(b, a)| (b - a) / runs);
    Timing { min, cpu }
}

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 1000) as f32 * 0.01 - 5.0).collect()
}

fn gelu_native(x: f32) -> f32 {
    let inner = (x * x * x).mul_add(0.044715, x) * 0.7978846;
    (math::tanh_f32(inner) + 1.0) * (x * 0.5)
}

type Case = (String, usize, Box<dyn FnMut()>, Box<dyn FnMut()>);

fn cases(vm: &'static Vm) -> Vec<Case> {
    let mut v: Vec<Case> = Vec::new();
    let add = asm::assemble(kernel("vector_add")).unwrap();
    for n in [256usize, 1024, 3072, 4096, 16384, 65536, 1048576] {
        let (a, b) = (input(n), input(n));
        let (da, db) = (vm.alloc_from(&a).unwrap(), vm.alloc_from(&b).unwrap());
        let dc = vm.alloc::<f32>(n).unwrap();
        let p = add.clone();
        let interp = move || {
            vm.launch(
                &p,
                LaunchConfig::cover(n as u64, 256),
                &args![&da, &db, &dc, n as u32],
            )
            .unwrap();
        };
        let mut out = vec![0.0f32; n];
        let native = move || {
            for ((o, x), y) in out.iter_mut().zip(&a).zip(&b) {
                *o = x + y;
            }
            black_box(&mut out);
        };
        v.push((
            format!("vector_add/{n}"),
            n,
            Box::new(interp),
            Box::new(native),
        ));
    }
    let n = 65536;
    let p = asm::assemble(kernel("scalar_loop")).unwrap();
    let dx = vm.alloc_from(&input(n)).unwrap();
    let mut x = input(n);
    v.push((
        format!("scalar_loop/{n}"),
        n,
        Box::new(move || {
            vm.launch(
                &p,
                LaunchConfig::cover(n as u64, 256),
                &args![&dx, n as u32],
            )
            .unwrap();
        }),
        Box::new(move || {
            for e in x.iter_mut() {
                let mut t = *e;
                for _ in 0..64 {
                    t = t * 1.0001 + 0.5;
                }
                *e = t;
            }
            black_box(&mut x);
        }),
    ));
    let p = asm::assemble(kernel("gelu")).unwrap();
    let xs = input(n);
    let (dx, dy) = (vm.alloc_from(&xs).unwrap(), vm.alloc::<f32>(n).unwrap());
    let mut y = vec![0.0f32; n];
    v.push((
        format!("gelu/{n}"),
        n,
        Box::new(move || {
            vm.launch(
                &p,
                LaunchConfig::cover(n as u64, 256),
                &args![&dx, &dy, n as u32],
            )
            .unwrap();
        }),
        Box::new(move || {
            for (o, &e) in y.iter_mut().zip(&xs) {
                *o = gelu_native(e);
            }
            black_box(&mut y);
        }),
    ));
    v
}

fn main() {
    // The interpreter alone (`Tier::Auto` would compile the kernels after 2 ms).
    let config = if std::env::var("HOLOVM_PARALLEL").is_ok() {
        VmConfig::default().parallel_threshold(0)
    } else {
        VmConfig::default().single_thread(true)
    }
    .tier(Tier::Interpret);
    let vm: &'static Vm = Box::leak(Box::new(Vm::with_config(config)));
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let probe = asm::assemble(".kernel probe\n    exit\n").unwrap();
    let stats = vm.launch(&probe, LaunchConfig::new(64, 256), &[]).unwrap();
    println!(
        "VM: {}",
        if stats.parallel {
            "parallel worker pool"
        } else {
            "single thread"
        }
    );
    if let Ok(case) = std::env::var("HOLOVM_PROFILE") {
        let iters: Option<u64> = std::env::var("HOLOVM_PROFILE_ITERS")
            .ok()
            .and_then(|s| s.parse().ok());
        for (name, _, mut interp, _) in cases(vm) {
            if name == case {
                let start = Instant::now();
                let mut i = 0;
                while iters.map_or(start.elapsed() < Duration::from_secs(5), |k| i < k) {
                    interp();
                    i += 1;
                }
                println!("{name}: {i} launches");
                return;
            }
        }
        panic!("no case {case}");
    }
    println!(
        "{:<22} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "case", "interp min", "interp cpu", "native min", "native cpu", "ratio"
    );
    println!(
        "{:<22} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "", "ns/elem", "ns/elem", "ns/elem", "ns/elem", "(min)"
    );
    for (name, n, mut interp, mut native) in cases(vm) {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let budget = Duration::from_millis(1500);
        let i = time(budget, &mut interp);
        let nt = time(budget, &mut native);
        let per = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
        let cpu = |t: &Timing| t.cpu.map_or("-".to_string(), |c| format!("{:.3}", per(c)));
        println!(
            "{:<22} {:>12.3} {:>12} {:>12.3} {:>12} {:>8.1}",
            name,
            per(i.min),
            cpu(&i),
            per(nt.min),
            cpu(&nt),
            i.min.as_secs_f64() / nt.min.as_secs_f64()
        );
    }
}
