//! Interpreter throughput against native Rust loops over the same data, single-threaded
//! (`VmConfig::single_thread`): vector_add (f32) at several sizes, a per-element loop kernel
//! (`x = x*1.0001 + 0.5`, 64 times with `loop`), GELU (tanh form), and a loop whose trip
//! count differs per lane (the interpreter's diverged mode).
//!
//! Run: `cargo bench --bench interp -- --warm-up-time 1 --measurement-time 3`.
//! Criterion reports time per launch and elements per second; ns/element = time / n.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use holovm::isa::math;
use holovm::{args, asm, examples, LaunchConfig, Tier, Vm, VmConfig};

/// The bundled example kernel's source (the kernels measured are the ones users run).
fn kernel(name: &str) -> &'static str {
    examples::find(name).map_or("", |e| e.source)
}

const BLOCK: u32 = 256;

/// The interpreter alone: under the default `Tier::Auto` a kernel run this often would be
/// compiled after 2 ms of interpreter time, and the bench would time the JIT.
fn vm() -> Vm {
    Vm::with_config(
        VmConfig::default()
            .single_thread(true)
            .tier(Tier::Interpret),
    )
}

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 1000) as f32 * 0.01 - 5.0).collect()
}

fn vector_add(c: &mut Criterion) {
    let program = asm::assemble(kernel("vector_add")).unwrap();
    let mut g = c.benchmark_group("vector_add");
    for n in [256usize, 1024, 3072, 4096, 16384, 65536, 1048576] {
        g.throughput(Throughput::Elements(n as u64));
        let vm = vm();
        let (a, b) = (input(n), input(n));
        let (da, db) = (vm.alloc_from(&a).unwrap(), vm.alloc_from(&b).unwrap());
        let dc = vm.alloc::<f32>(n).unwrap();
        let cfg = LaunchConfig::cover(n as u64, BLOCK);
        let args = args![&da, &db, &dc, n as u32];
        g.bench_with_input(BenchmarkId::new("interp", n), &n, |bch, _| {
            bch.iter(|| vm.launch(&program, cfg, &args).unwrap())
        });
        let mut out = vec![0.0f32; n];
        g.bench_with_input(BenchmarkId::new("native", n), &n, |bch, _| {
            bch.iter(|| {
                for ((o, x), y) in out.iter_mut().zip(&a).zip(&b) {
                    *o = x + y;
                }
                black_box(&mut out);
            })
        });
        vm.launch(&program, cfg, &args).unwrap();
        let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_eq!(vm.read(&dc).unwrap(), want);
    }
    g.finish();
}

fn scalar_loop(c: &mut Criterion) {
    let program = asm::assemble(kernel("scalar_loop")).unwrap();
    let n = 65536usize;
    let mut g = c.benchmark_group("scalar_loop");
    g.throughput(Throughput::Elements(n as u64));
    let vm = vm();
    let x0 = input(n);
    let dx = vm.alloc_from(&x0).unwrap();
    let cfg = LaunchConfig::cover(n as u64, BLOCK);
    let args = args![&dx, n as u32];
    g.bench_function(BenchmarkId::new("interp", n), |b| {
        b.iter(|| vm.launch(&program, cfg, &args).unwrap())
    });
    // Native, element by element (a latency-bound dependency chain per element)...
    let mut x = x0.clone();
    g.bench_function(BenchmarkId::new("native", n), |b| {
        b.iter(|| {
            for v in x.iter_mut() {
                let mut t = *v;
                for _ in 0..64 {
                    t = t * 1.0001 + 0.5;
                }
                *v = t;
            }
            black_box(&mut x);
        })
    });
    // ... and with the element loop innermost (vectorised across elements, like the
    // interpreter's lock-step lanes).
    let mut y = x0.clone();
    g.bench_function(BenchmarkId::new("native_vectorised", n), |b| {
        b.iter(|| {
            for _ in 0..64 {
                for v in y.iter_mut() {
                    *v = *v * 1.0001 + 0.5;
                }
            }
            black_box(&mut y);
        })
    });
    g.finish();
    // Same arithmetic: one launch from x0 equals one native pass from x0.
    vm.write(&dx, &x0).unwrap();
    vm.launch(&program, cfg, &args).unwrap();
    let want: Vec<f32> = x0
        .iter()
        .map(|&v| (0..64).fold(v, |t, _| t * 1.0001 + 0.5))
        .collect();
    assert_eq!(vm.read(&dx).unwrap(), want);
}

fn gelu_native(x: f32) -> f32 {
    let inner = (x * x * x).mul_add(0.044715, x) * 0.7978846;
    (math::tanh_f32(inner) + 1.0) * (x * 0.5)
}

fn gelu(c: &mut Criterion) {
    let program = asm::assemble(kernel("gelu")).unwrap();
    let n = 65536usize;
    let mut g = c.benchmark_group("gelu");
    g.throughput(Throughput::Elements(n as u64));
    let vm = vm();
    let x = input(n);
    let dx = vm.alloc_from(&x).unwrap();
    let dy = vm.alloc::<f32>(n).unwrap();
    let cfg = LaunchConfig::cover(n as u64, BLOCK);
    let args = args![&dx, &dy, n as u32];
    g.bench_function(BenchmarkId::new("interp", n), |b| {
        b.iter(|| vm.launch(&program, cfg, &args).unwrap())
    });
    let mut y = vec![0.0f32; n];
    g.bench_function(BenchmarkId::new("native", n), |b| {
        b.iter(|| {
            for (o, &v) in y.iter_mut().zip(&x) {
                *o = gelu_native(v);
            }
            black_box(&mut y);
        })
    });
    g.finish();
    vm.launch(&program, cfg, &args).unwrap();
    assert_eq!(
        vm.read(&dy).unwrap(),
        x.iter().map(|&v| gelu_native(v)).collect::<Vec<_>>()
    );
}

/// A loop whose trip count differs per lane (0 to 15, pseudo-random): the block's lanes
/// diverge at every iteration where some of them leave, and the interpreter runs the lanes
/// still in the loop as a list (its diverged mode) instead of whole rows.
const DIVERGENT_LOOP: &str = "
.kernel divergent_loop
.param k: ptr u32
.param y: ptr f32
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.u32 r0, [k + %gid*4]
    mov_imm.f32 r1, 0.0
    mov_imm.u32 r2, 0
top:
    setp.ge.u32 p1, r2, r0
    @p1 bra @out
    mul.f32 r1, r1, 0.5
    add.f32 r1, r1, 1.5
    add.u32 r2, r2, 1
    bra @top
out:
    stg.f32 [y + %gid*4], r1
done:
    exit
";

fn divergent_loop(c: &mut Criterion) {
    let program = asm::assemble(DIVERGENT_LOOP).unwrap();
    let n = 65536usize;
    let mut g = c.benchmark_group("divergent_loop");
    g.throughput(Throughput::Elements(n as u64));
    let vm = vm();
    let k: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) >> 28)
        .collect();
    let dk = vm.alloc_from(&k).unwrap();
    let dy = vm.alloc::<f32>(n).unwrap();
    let cfg = LaunchConfig::cover(n as u64, BLOCK);
    let args = args![&dk, &dy, n as u32];
    g.bench_function(BenchmarkId::new("interp", n), |b| {
        b.iter(|| vm.launch(&program, cfg, &args).unwrap())
    });
    let native = |k: u32| (0..k).fold(0.0f32, |t, _| t * 0.5 + 1.5);
    let mut y = vec![0.0f32; n];
    g.bench_function(BenchmarkId::new("native", n), |b| {
        b.iter(|| {
            for (o, &t) in y.iter_mut().zip(&k) {
                *o = native(black_box(t));
            }
            black_box(&mut y);
        })
    });
    g.finish();
    vm.launch(&program, cfg, &args).unwrap();
    let want: Vec<f32> = k.iter().map(|&t| native(t)).collect();
    assert_eq!(vm.read(&dy).unwrap(), want);
}

criterion_group!(benches, vector_add, scalar_loop, gelu, divergent_loop);
criterion_main!(benches);
