//! The JIT tier against native Rust over the same data in the same run (and the interpreter
//! where it helps the comparison). Whole `Vm::launch` calls are timed: lock, cache lookup,
//! argument binding and the compiled code.
//!
//! Run: `cargo bench --bench jit -- --warm-up-time 1 --measurement-time 3`.
//! Native baselines are plain loops compiled for baseline x86-64 and, where the issue asks,
//! the same loop compiled with AVX2+FMA enabled (`#[target_feature]`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use holovm::isa::Program;
use holovm::{args, examples, LaunchConfig, Tier, Vm, VmConfig};

fn program(name: &str) -> Program {
    examples::find(name)
        .and_then(|e| e.program().ok())
        .unwrap_or_else(|| panic!("example kernel {name}"))
}

fn vm(tier: Tier, single: bool) -> Vm {
    Vm::with_config(VmConfig::default().tier(tier).single_thread(single))
}

fn input(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn add_avx2(a: &[f32], b: &[f32], c: &mut [f32]) {
    for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
        *c = a + b;
    }
}

/// The same loop for baseline x86-64: 128-bit SSE2 vectors, the widest the JIT can emit.
#[inline(never)]
fn add_baseline(a: &[f32], b: &[f32], c: &mut [f32]) {
    for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
        *c = a + b;
    }
}

fn add_native(a: &[f32], b: &[f32], c: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { add_avx2(a, b, c) };
    }
    add_baseline(a, b, c)
}

/// The native baselines of `c = a + b`: the loop compiled for AVX2 and for baseline x86-64.
fn bench_native_adds(g: &mut BenchmarkGroup<'_, WallTime>, a: &[f32], b: &[f32]) {
    let n = a.len();
    let mut out = vec![0.0f32; n];
    g.bench_function(BenchmarkId::new("native_avx2", n), |bench| {
        bench.iter(|| add_native(black_box(a), black_box(b), &mut out))
    });
    g.bench_function(BenchmarkId::new("native_sse2", n), |bench| {
        bench.iter(|| add_baseline(black_box(a), black_box(b), &mut out))
    });
}

fn vector_add(c: &mut Criterion) {
    let p = program("vector_add");
    let mut g = c.benchmark_group("jit_vector_add");
    for n in [256usize, 1024, 16384, 65536, 1 << 20] {
        g.throughput(Throughput::Elements(n as u64));
        let (a, b) = (input(n), input(n));
        bench_native_adds(&mut g, &a, &b);
        // 1 thread; both cores on every launch; and the default policy (both cores once the
        // kernel's measured time says the launch is long enough).
        let configs = [
            ("jit_1thread", VmConfig::default().single_thread(true)),
            (
                "jit_2threads",
                VmConfig::default().parallel_min_time(std::time::Duration::ZERO),
            ),
            ("jit_default", VmConfig::default()),
        ];
        for (label, config) in configs {
            if label != "jit_1thread" && n < 65536 {
                continue;
            }
            let vm = Vm::with_config(config.tier(Tier::Jit));
            let (da, db, dc) = (
                vm.alloc_from(&a).unwrap(),
                vm.alloc_from(&b).unwrap(),
                vm.alloc::<f32>(n).unwrap(),
            );
            let args = args![&da, &db, &dc, n as u32];
            let cfg = LaunchConfig::cover(n as u64, 256);
            vm.launch(&p, cfg, &args).unwrap();
            g.bench_function(BenchmarkId::new(label, n), |bench| {
                bench.iter(|| vm.launch(&p, cfg, &args).unwrap())
            });
        }
        if n == 65536 {
            // Blocks smaller than a vector group, and blocks that are not a multiple of
            // it: the kernel runs consecutive blocks together (jit/src/translate/block_runs.rs).
            let vm = Vm::with_config(VmConfig::default().single_thread(true).tier(Tier::Jit));
            let (da, db, dc) = (
                vm.alloc_from(&a).unwrap(),
                vm.alloc_from(&b).unwrap(),
                vm.alloc::<f32>(n).unwrap(),
            );
            let args = args![&da, &db, &dc, n as u32];
            for block in [8u32, 100] {
                let cfg = LaunchConfig::cover(n as u64, block);
                vm.launch(&p, cfg, &args).unwrap();
                let label = format!("jit_1thread_block{block}");
                g.bench_function(BenchmarkId::new(label, n), |bench| {
                    bench.iter(|| vm.launch(&p, cfg, &args).unwrap())
                });
            }
        }
    }
    g.finish();
}

/// `c[i] = a[i] + b[i]` addressed as PTX does: through a byte offset, through pointers
/// (`&a` plus the widened offset), and through a uniform pointer plus the byte offset.
const ADD_FORMS: [(&str, &str); 3] = [
    (
        "byte_offset",
        ".kernel add_bytes\n.param a: ptr f32\n.param b: ptr f32\n.param c: ptr f32\n\
         .param n: u32\nsetp.ge.u32 p0, %gid, n\n@p0 bra @done\nshl.u32 r0, %gid, 2\n\
         ldg.f32 r1, [a + r0]\nldg.f32 r2, [b + r0]\nadd.f32 r3, r1, r2\n\
         stg.f32 [c + r0], r3\ndone:\nexit\n",
    ),
    (
        "pointers",
        ".kernel add_ptr\n.param a: ptr f32\n.param b: ptr f32\n.param c: ptr f32\n\
         .param n: u32\nsetp.ge.u32 p0, %gid, n\n@p0 bra @done\ncvt.u64.u32 r0, %gid\n\
         shl.u64 r0, r0, 2\nmov_imm.u64 r4, &a\nadd.u64 r4, r4, r0\nmov_imm.u64 r5, &b\n\
         add.u64 r5, r5, r0\nmov_imm.u64 r6, &c\nadd.u64 r6, r6, r0\nldg.f32 r1, [r4]\n\
         ldg.f32 r2, [r5]\nadd.f32 r3, r1, r2\nstg.f32 [r6], r3\ndone:\nexit\n",
    ),
    (
        "pointer_plus_offset",
        ".kernel add_ptr_off\n.param a: ptr f32\n.param b: ptr f32\n.param c: ptr f32\n\
         .param n: u32\nsetp.ge.u32 p0, %gid, n\n@p0 bra @done\nshl.u32 r0, %gid, 2\n\
         mov_imm.u64 r4, &a\nmov_imm.u64 r5, &b\nmov_imm.u64 r6, &c\n\
         ldg.f32 r1, [r4 + r0]\nldg.f32 r2, [r5 + r0]\nadd.f32 r3, r1, r2\n\
         stg.f32 [r6 + r0], r3\ndone:\nexit\n",
    ),
];

/// vector_add's loop through the addressing forms of [`ADD_FORMS`], one thread, against the
/// native loops and the example (`[a + %gid*4]`).
fn addressing(c: &mut Criterion) {
    let mut g = c.benchmark_group("jit_addressing");
    let example = program("vector_add");
    let forms = ADD_FORMS.map(|(name, src)| {
        let p = holovm::asm::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        (name, p)
    });
    for n in [65536usize, 1 << 20] {
        g.throughput(Throughput::Elements(n as u64));
        let (a, b) = (input(n), input(n));
        bench_native_adds(&mut g, &a, &b);
        let vm = vm(Tier::Jit, true);
        let (da, db, dc) = (
            vm.alloc_from(&a).unwrap(),
            vm.alloc_from(&b).unwrap(),
            vm.alloc::<f32>(n).unwrap(),
        );
        let args = args![&da, &db, &dc, n as u32];
        let cfg = LaunchConfig::cover(n as u64, 256);
        for (name, p) in
            std::iter::once(("gid_index", &example)).chain(forms.iter().map(|(n, p)| (*n, p)))
        {
            vm.launch(p, cfg, &args).unwrap();
            g.bench_function(BenchmarkId::new(format!("jit_{name}"), n), |bench| {
                bench.iter(|| vm.launch(p, cfg, &args).unwrap())
            });
        }
    }
    g.finish();
}

/// The fixed cost of a launch: an empty kernel (`exit`) on one lane.
fn launch_overhead(c: &mut Criterion) {
    let p = holovm::asm::assemble(".kernel nothing\n.param x: ptr f32\n    exit\n").unwrap();
    let mut g = c.benchmark_group("jit_launch_overhead");
    for (label, tier) in [("jit", Tier::Jit), ("interp", Tier::Interpret)] {
        let vm = vm(tier, true);
        let x = vm.alloc::<f32>(1).unwrap();
        let args = args![&x];
        vm.launch(&p, LaunchConfig::new(1, 1), &args).unwrap();
        g.bench_function(label, |b| {
            b.iter(|| vm.launch(&p, LaunchConfig::new(1, 1), &args).unwrap())
        });
    }
    // Code-cache hits: launches alternate between 2 (per-Vm memo hits) or cycle through 64
    // distinct programs (memo misses, one DashMap lookup each).
    for count in [2usize, 64] {
        let vm = vm(Tier::Jit, true);
        let x = vm.alloc::<f32>(1).unwrap();
        let args = args![&x];
        let programs: Vec<_> = (0..count)
            .map(|i| {
                let src = format!(".kernel nothing{i}\n.param x: ptr f32\n    exit\n");
                holovm::asm::assemble(&src).unwrap()
            })
            .collect();
        for p in &programs {
            vm.launch(p, LaunchConfig::new(1, 1), &args).unwrap();
        }
        if count > 2 {
            // The lookup alone (hash, shard lock, probe, key compare) for the same 64 keys.
            let mut i = 0;
            g.bench_function(format!("jit_cache_lookup_{count}"), |b| {
                b.iter(|| {
                    i = (i + 1) % count;
                    vm.is_compiled(&programs[i])
                })
            });
        }
        let mut i = 0;
        g.bench_function(format!("jit_cycle_{count}"), |b| {
            b.iter(|| {
                i = (i + 1) % count;
                vm.launch(&programs[i], LaunchConfig::new(1, 1), &args)
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn gelu_ref(x: f32) -> f32 {
    let inner = (x * x * x).mul_add(0.044715, x) * 0.797_884_6;
    0.5 * x * (1.0 + holovm::isa::math::tanh_f32(inner))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = gelu_ref(x);
    }
}

/// Benchmarks `p` (parameters x, y: f32 buffers, n) over `x` under the JIT and the
/// interpreter, single thread, as `{prefix}_jit` and `{prefix}_interp`.
fn bench_tiers(g: &mut BenchmarkGroup<'_, WallTime>, prefix: &str, p: &Program, x: &[f32]) {
    let n = x.len();
    for (suffix, tier) in [("jit", Tier::Jit), ("interp", Tier::Interpret)] {
        let vm = vm(tier, true);
        let (dx, dy) = (vm.alloc_from(x).unwrap(), vm.alloc::<f32>(n).unwrap());
        let args = args![&dx, &dy, n as u32];
        let cfg = LaunchConfig::cover(n as u64, 256);
        g.bench_function(BenchmarkId::new(format!("{prefix}_{suffix}"), n), |b| {
            b.iter(|| vm.launch(p, cfg, &args).unwrap())
        });
    }
}

/// Leaky ReLU with a divergent branch around the negative side's multiply.
const LEAKY_BRANCH: &str = ".kernel leaky_branch
.param x: ptr f32
.param y: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [x + %gid*4]
    setp.gt.f32 p1, r1, 0.0
    @p1 bra @store
    mul.f32 r1, r1, 0.01
store:
    stg.f32 [y + %gid*4], r1
done:
    exit
";

/// Leaky ReLU as an if/else that stores on each side.
const STORE_BRANCH: &str = ".kernel store_branch
.param x: ptr f32
.param y: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [x + %gid*4]
    setp.gt.f32 p1, r1, 0.0
    @p1 bra @pos
    mul.f32 r2, r1, 0.01
    stg.f32 [y + %gid*4], r2
    bra @done
pos:
    stg.f32 [y + %gid*4], r1
done:
    exit
";

/// A three-piece function as an else-if chain of divergent branches.
const PIECEWISE_BRANCH: &str = ".kernel piecewise_branch
.param x: ptr f32
.param y: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.f32 r1, [x + %gid*4]
    setp.lt.f32 p1, r1, -0.5
    @!p1 bra @not_low
    mov_imm.f32 r2, -1.0
    bra @store
not_low:
    setp.gt.f32 p2, r1, 0.5
    @!p2 bra @middle
    mov_imm.f32 r2, 1.0
    bra @store
middle:
    mul.f32 r2, r1, r1
store:
    stg.f32 [y + %gid*4], r2
done:
    exit
";

fn elementwise(c: &mut Criterion) {
    let n = 65536usize;
    let mut g = c.benchmark_group("jit_elementwise");
    g.throughput(Throughput::Elements(n as u64));
    let x = input(n);
    let mut y = vec![0.0f32; n];
    g.bench_function(BenchmarkId::new("gelu_native_std_tanh", n), |b| {
        b.iter(|| {
            for (y, &x) in y.iter_mut().zip(&x) {
                let inner = (0.797_884_6f32) * (x + 0.044715 * x * x * x);
                *y = 0.5 * x * (1.0 + inner.tanh());
            }
            black_box(&mut y);
        })
    });
    #[cfg(target_arch = "x86_64")]
    bench_avx2(
        &mut g,
        "gelu_native_avx2_same_algorithm",
        gelu_avx2,
        &x,
        &mut y,
    );
    bench_tiers(&mut g, "gelu", &program("gelu"), &x);
    // sigmoid: the ISA's algorithm, in an AVX2 Rust loop and in both tiers.
    #[cfg(target_arch = "x86_64")]
    bench_avx2(
        &mut g,
        "sigmoid_native_avx2_same_algorithm",
        sigmoid_avx2,
        &x,
        &mut y,
    );
    bench_tiers(&mut g, "sigmoid", &program("sigmoid"), &x);
    // A divergent branch: leaky ReLU written as `if x <= 0 { x *= 0.01 }` (input() mixes
    // signs within every vector group). The JIT runs the skipped multiply under lane masks.
    g.bench_function(BenchmarkId::new("leaky_branch_native", n), |b| {
        b.iter(|| {
            for (y, &x) in y.iter_mut().zip(&x) {
                *y = if x > 0.0 { x } else { x * 0.01 };
            }
            black_box(&mut y);
        })
    });
    let leaky = holovm::asm::assemble(LEAKY_BRANCH).expect("leaky kernel");
    bench_tiers(&mut g, "leaky_branch", &leaky, &x);
    // The same with a store on each side (masked stores of the lanes that run each side).
    let store = holovm::asm::assemble(STORE_BRANCH).expect("store_branch kernel");
    bench_tiers(&mut g, "store_branch", &store, &x);
    // An else-if chain: y = -1 below -0.5, 1 above 0.5, else x * x (nested masked branches).
    g.bench_function(BenchmarkId::new("piecewise_branch_native", n), |b| {
        b.iter(|| {
            for (y, &x) in y.iter_mut().zip(&x) {
                *y = if x < -0.5 {
                    -1.0
                } else if x > 0.5 {
                    1.0
                } else {
                    x * x
                };
            }
            black_box(&mut y);
        })
    });
    let piecewise = holovm::asm::assemble(PIECEWISE_BRANCH).expect("piecewise kernel");
    bench_tiers(&mut g, "piecewise_branch", &piecewise, &x);
    // The per-element loop: x = x*1.0001 + 0.5, 64 times (two roundings each).
    let mut z = x.clone();
    g.bench_function(BenchmarkId::new("loop_native", n), |b| {
        b.iter(|| {
            for v in z.iter_mut() {
                let mut t = *v;
                for _ in 0..64 {
                    t = t * 1.0001 + 0.5;
                }
                *v = t;
            }
            black_box(&mut z);
        })
    });
    let vm = vm(Tier::Jit, true);
    let p = program("scalar_loop");
    let dz = vm.alloc_from(&x).unwrap();
    let args = args![&dz, n as u32];
    let cfg = LaunchConfig::cover(n as u64, 256);
    g.bench_function(BenchmarkId::new("loop_jit", n), |b| {
        b.iter(|| vm.launch(&p, cfg, &args).unwrap())
    });
    g.finish();
}

/// Benchmarks `f`, a loop compiled for AVX2 and FMA, from `x` into `y` as `name`, if the
/// CPU has both.
#[cfg(target_arch = "x86_64")]
fn bench_avx2(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    f: unsafe fn(&[f32], &mut [f32]),
    x: &[f32],
    y: &mut [f32],
) {
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        g.bench_function(BenchmarkId::new(name, x.len()), |b| {
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            b.iter(|| unsafe { f(black_box(x), y) })
        });
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sigmoid_avx2(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = holovm::isa::math::sigmoid_f32(x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sum_avx2(x: &[f32]) -> f32 {
    // Eight independent accumulators, each an 8-lane vector after auto-vectorisation.
    let mut acc = [0.0f32; 64];
    let chunks = x.chunks_exact(64);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

fn reductions_and_linalg(c: &mut Criterion) {
    let mut g = c.benchmark_group("jit_linalg");
    g.sample_size(20);
    // sum of 2^20 f32
    let n = 1usize << 20;
    let x = input(n);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 and FMA.
        g.bench_function("sum_native_avx2_multiacc", |b| {
            b.iter(|| unsafe { sum_avx2(black_box(&x)) })
        });
    }
    // One block of 256 lanes, and one of 32 (a single vector group): with 256 the JIT runs
    // its 32-lane groups one after another, so each sweeps the array in 1 KiB strides (eight
    // sweeps, slow where the buffer's 128-byte chunks align to 128 bytes; whether they do
    // depends on the process's earlier allocations: BENCHMARKS.md, session 28); with 32 the
    // one group streams through it as the native loop does.
    for (label, tier, block) in [
        ("sum_jit", Tier::Jit, 256),
        ("sum_jit_block32", Tier::Jit, 32),
        ("sum_interp", Tier::Interpret, 256),
    ] {
        let vm = vm(tier, true);
        let p = program("sum");
        let (dx, out) = (vm.alloc_from(&x).unwrap(), vm.alloc::<f32>(1).unwrap());
        let args = args![&dx, &out, n as u32];
        g.bench_function(label, |b| {
            b.iter(|| vm.launch(&p, LaunchConfig::new(1, block), &args).unwrap())
        });
    }
    // softmax over 64 rows of 1000
    let (rows, cols) = (64usize, 1000usize);
    let xs = input(rows * cols);
    let mut ys = vec![0.0f32; rows * cols];
    g.bench_function("softmax_native", |b| {
        b.iter(|| {
            for (xr, yr) in xs.chunks(cols).zip(ys.chunks_mut(cols)) {
                let m = xr.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                let mut s = 0.0;
                for (y, &x) in yr.iter_mut().zip(xr) {
                    *y = (x - m).exp();
                    s += *y;
                }
                for y in yr.iter_mut() {
                    *y /= s;
                }
            }
            black_box(&mut ys);
        })
    });
    for (label, tier) in [
        ("softmax_jit", Tier::Jit),
        ("softmax_interp", Tier::Interpret),
    ] {
        let vm = vm(tier, true);
        let p = program("softmax_rows");
        let (dx, dy) = (
            vm.alloc_from(&xs).unwrap(),
            vm.alloc::<f32>(rows * cols).unwrap(),
        );
        let args = args![&dx, &dy, cols as u32];
        g.bench_function(label, |b| {
            b.iter(|| {
                vm.launch(&p, LaunchConfig::new(rows as u32, 256), &args)
                    .unwrap()
            })
        });
        if tier == Tier::Jit {
            // Blocks of 100 lanes end in a partial vector group (groups of 8), which a
            // variant runs as vector code with phantom lanes.
            let cfg = LaunchConfig::new(rows as u32, 100);
            assert!(vm.launch(&p, cfg, &args).unwrap().partial);
            g.bench_function("softmax_jit_block100", |b| {
                b.iter(|| vm.launch(&p, cfg, &args).unwrap())
            });
        }
    }
    // matvec 512 x 512 and gemm 128^3
    for (name, m) in [("matvec", 512usize), ("gemm", 128usize)] {
        let a = input(m * m);
        let bm = input(m * m);
        let mut out = vec![0.0f32; m * m];
        g.bench_function(format!("{name}_native"), |b| {
            b.iter(|| {
                if name == "matvec" {
                    for (i, o) in out.iter_mut().take(m).enumerate() {
                        *o = a[i * m..(i + 1) * m]
                            .iter()
                            .zip(&bm)
                            .map(|(x, y)| x * y)
                            .sum();
                    }
                } else {
                    for i in 0..m {
                        for j in 0..m {
                            let mut s = 0.0f32;
                            for k in 0..m {
                                s = a[i * m + k].mul_add(bm[k * m + j], s);
                            }
                            out[i * m + j] = s;
                        }
                    }
                }
                black_box(&mut out);
            })
        });
        for (label, tier) in [("jit", Tier::Jit), ("interp", Tier::Interpret)] {
            let vm = vm(tier, true);
            let p = program(name);
            let (da, db, dc) = (
                vm.alloc_from(&a).unwrap(),
                vm.alloc_from(&bm).unwrap(),
                vm.alloc::<f32>(m * m).unwrap(),
            );
            let (args, cfg) = if name == "matvec" {
                (
                    args![&da, &db, &dc, m as u32, m as u32].to_vec(),
                    LaunchConfig::cover(m as u64, 64),
                )
            } else {
                (
                    args![&da, &db, &dc, m as u32, m as u32, m as u32].to_vec(),
                    LaunchConfig::cover((m * m) as u64, 256),
                )
            };
            g.bench_function(format!("{name}_{label}"), |b| {
                b.iter(|| vm.launch(&p, cfg, &args).unwrap())
            });
        }
    }
    g.finish();
}

/// A block sum by a tree over shared memory: `bar.sync` in a loop and `if %lane < s`, so
/// it measures what a barrier costs (parking every vector group, resolving the barrier,
/// resuming the groups); 9 barriers a block.
const TREE_SUM: &str = ".kernel tree_sum\n.param x: ptr f32\n.param out: ptr f32\n\
    .shared 1024\n\
    ldg.f32 r1, [x + %gid*4]\nsts.f32 [shared + %lane*4], r1\nbar.sync\nshr.u32 r2, %bdim, 1\n\
    top:\nsetp.eq.u32 p0, r2, 0\n@p0 bra @done\nsetp.ge.u32 p1, %lane, r2\n@p1 bra @skip\n\
    add.u32 r3, %lane, r2\nlds.f32 r4, [shared + r3*4]\nlds.f32 r5, [shared + %lane*4]\n\
    add.f32 r5, r5, r4\nsts.f32 [shared + %lane*4], r5\n\
    skip:\nbar.sync\nshr.u32 r2, r2, 1\nbra @top\n\
    done:\nsetp.ne.u32 p2, %lane, 0\n@p2 bra @end\nlds.f32 r6, [shared]\n\
    stg.f32 [out + %block*4], r6\nend:\nexit\n";

/// Each block of `lanes` values of `x` summed as [`TREE_SUM`] does (the same sums in the
/// same order; the compiler vectorises each level), into `out`.
fn tree_sums(x: &[f32], lanes: usize, sh: &mut [f32], out: &mut [f32]) {
    for (o, chunk) in out.iter_mut().zip(x.chunks(lanes)) {
        sh.copy_from_slice(chunk);
        let mut s = lanes / 2;
        while s > 0 {
            let (lo, hi) = sh.split_at_mut(s);
            for (a, b) in lo.iter_mut().zip(&hi[..s]) {
                *a += *b;
            }
            s /= 2;
        }
        *o = sh[0];
    }
}

/// [`TREE_SUM`] over 64 blocks of 256 lanes against [`tree_sums`].
fn barriers(c: &mut Criterion) {
    let mut g = c.benchmark_group("jit_barriers");
    g.sample_size(20);
    let (blocks, lanes) = (64usize, 256usize);
    let x = input(blocks * lanes);
    let (mut sh, mut want) = (vec![0.0f32; lanes], vec![0.0f32; blocks]);
    tree_sums(&x, lanes, &mut sh, &mut want);
    let mut out = vec![0.0f32; blocks];
    g.bench_function("tree_sum_native", |b| {
        b.iter(|| {
            tree_sums(black_box(&x), lanes, &mut sh, &mut out);
            black_box(&mut out);
        })
    });
    let p = holovm::asm::assemble(TREE_SUM).expect("tree_sum assembles");
    for (label, tier) in [
        ("tree_sum_jit", Tier::Jit),
        ("tree_sum_interp", Tier::Interpret),
    ] {
        let vm = vm(tier, true);
        let (dx, dout) = (vm.alloc_from(&x).unwrap(), vm.alloc::<f32>(blocks).unwrap());
        let args = args![&dx, &dout];
        let cfg = LaunchConfig::new(blocks as u32, lanes as u32);
        vm.launch(&p, cfg, &args).unwrap();
        assert_eq!(
            vm.read(&dout).unwrap(),
            want,
            "{label} against the Rust tree"
        );
        g.bench_function(label, |b| b.iter(|| vm.launch(&p, cfg, &args).unwrap()));
    }
    g.finish();
}

/// `c = a + b` on `u8` (wrapping), one lane an element.
const U8_ADD: &str = ".kernel u8_add\n.param a: ptr u8\n.param b: ptr u8\n.param c: ptr u8\n\
    .param n: u32\nsetp.ge.u32 p0, %gid, n\n@p0 bra @done\nldg.u8 r1, [a + %gid]\n\
    ldg.u8 r2, [b + %gid]\nadd.u8 r3, r1, r2\nstg.u8 [c + %gid], r3\ndone:\nexit\n";

/// `x = x * 3 + 7` on `i16` (wrapping), 64 times an element.
const I16_LOOP: &str = ".kernel i16_loop\n.param x: ptr i16\n.param n: u32\n\
    setp.ge.u32 p0, %gid, n\n@p0 bra @done\nldg.i16 r1, [x + %gid*2]\nmov.u32 r7, 64\n\
    top:\nmul.i16 r1, r1, 3\nadd.i16 r1, r1, 7\nloop r7, @top\nstg.i16 [x + %gid*2], r1\n\
    done:\nexit\n";

/// 8- and 16-bit kernels (vector code in 32-bit lanes, widened and narrowed at memory)
/// against the same loops in Rust and the interpreter, 65,536 elements, one thread.
fn narrow_types(c: &mut Criterion) {
    let mut g = c.benchmark_group("jit_narrow");
    g.sample_size(20);
    let n = 1usize << 16;
    let a: Vec<u8> = (0..n).map(|i| (i * 7919) as u8).collect();
    let b: Vec<u8> = (0..n).map(|i| ((i * 104_729) >> 3) as u8).collect();
    let want: Vec<u8> = a.iter().zip(&b).map(|(x, y)| x.wrapping_add(*y)).collect();
    let mut out = vec![0u8; n];
    g.bench_function("u8_add_native", |bch| {
        bch.iter(|| {
            for ((o, x), y) in out.iter_mut().zip(black_box(&a)).zip(&b) {
                *o = x.wrapping_add(*y);
            }
            black_box(&mut out);
        })
    });
    let x: Vec<i16> = (0..n).map(|i| (i * 7919) as i16).collect();
    // Opaque constants: with 3 and 7 the compiler folds the 64 steps into one.
    let (k, d) = (black_box(3i16), black_box(7i16));
    let step = |mut v: i16| {
        for _ in 0..64 {
            v = v.wrapping_mul(k).wrapping_add(d);
        }
        v
    };
    let looped: Vec<i16> = x.iter().map(|&v| step(v)).collect();
    let mut y = x.clone();
    g.bench_function("i16_loop_native", |bch| {
        bch.iter(|| {
            y.copy_from_slice(black_box(&x));
            for v in y.iter_mut() {
                *v = step(*v);
            }
            black_box(&mut y);
        })
    });
    let (add, lp) = (
        holovm::asm::assemble(U8_ADD).expect("u8_add assembles"),
        holovm::asm::assemble(I16_LOOP).expect("i16_loop assembles"),
    );
    let cfg = LaunchConfig::cover(n as u64, 256);
    for (label, tier) in [("jit", Tier::Jit), ("interp", Tier::Interpret)] {
        let vm = vm(tier, true);
        let (da, db, dc) = (
            vm.alloc_from(&a).unwrap(),
            vm.alloc_from(&b).unwrap(),
            vm.alloc::<u8>(n).unwrap(),
        );
        let args = args![&da, &db, &dc, n as u32];
        vm.launch(&add, cfg, &args).unwrap();
        assert_eq!(vm.read(&dc).unwrap(), want, "u8_add {label} against Rust");
        g.bench_function(format!("u8_add_{label}"), |bch| {
            bch.iter(|| vm.launch(&add, cfg, &args).unwrap())
        });
        let dx = vm.alloc_from(&x).unwrap();
        let args = args![&dx, n as u32];
        vm.launch(&lp, cfg, &args).unwrap();
        assert_eq!(
            vm.read(&dx).unwrap(),
            looped,
            "i16_loop {label} against Rust"
        );
        // (Each launch runs the loop on the previous launch's output: the same work.)
        g.bench_function(format!("i16_loop_{label}"), |bch| {
            bch.iter(|| vm.launch(&lp, cfg, &args).unwrap())
        });
    }
    g.finish();
}

/// Compile time of every example kernel (printed; compiles are one-off, not a criterion loop):
/// the fastest of 20 compiles each, taken in 20 rounds over all the kernels so that a slow
/// spell of the machine does not land on one kernel's compiles only.
fn compile_times(_c: &mut Criterion) {
    const ROUNDS: usize = 20;
    let programs: Vec<(&str, Program)> = examples::all()
        .iter()
        .map(|ex| (ex.name, ex.program().unwrap()))
        .collect();
    let opts = holovm::jit::JitOptions {
        verify: false,
        ..Default::default()
    };
    let mut best = vec![Duration::MAX; programs.len()];
    for _ in 0..ROUNDS {
        for ((_, p), best) in programs.iter().zip(&mut best) {
            let start = Instant::now();
            let k = holovm::jit::compile(p, &opts);
            *best = (*best).min(start.elapsed());
            assert!(k.is_ok());
        }
    }
    println!("\ncompile times (best of {ROUNDS}, in rounds over the kernels, without dump texts):");
    for ((name, _), best) in programs.iter().zip(&best) {
        println!("  {:<13} {:>8.3} ms", name, best.as_secs_f64() * 1e3);
    }
}

criterion_group!(
    benches,
    launch_overhead,
    vector_add,
    addressing,
    elementwise,
    reductions_and_linalg,
    barriers,
    narrow_types,
    compile_times
);
criterion_main!(benches);
