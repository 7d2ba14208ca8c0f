//! The operations library against plain native Rust over the same data in the same run:
//! every operation at n = 1,024 and 1,048,576 (f32, single thread, JIT tier, the whole call
//! timed: shape checks, cache lookup, scratch buffers, every launch), gemm at 64, 256 and
//! 512 square, the per-call overhead of a cached operation at n = 256, and gelu / softmax
//! fused against a chain of element-wise launches.
//!
//! Run: `cargo bench --bench ops -- --warm-up-time 0.5 --measurement-time 1.5`.
//! Native baselines are plain Rust loops compiled for baseline x86-64 (what an embedding
//! application writes by hand: `s + a * b`, `f32::tanh`, `f32::exp`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use holovm::ops::{activation, linalg, loss, math, memory, reduce};
use holovm::{args, examples, Buffer, LaunchConfig, Tier, Vm, VmConfig};

fn vm() -> Vm {
    Vm::with_config(VmConfig::default().tier(Tier::Jit).single_thread(true))
}

fn input(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i + seed) * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn probs(n: usize, seed: usize) -> Vec<f32> {
    input(n, seed)
        .iter()
        .map(|v| 0.02 + 0.48 * (v + 1.0))
        .collect()
}

fn gelu_native(x: f32) -> f32 {
    0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044715 * x * x * x)).tanh())
}

/// Operands of one size, on the VM and as host vectors.
struct Data {
    a: Vec<f32>,
    b: Vec<f32>,
    p: Vec<f32>,
    t: Vec<f32>,
    out: Vec<f32>,
    da: Buffer<f32>,
    db: Buffer<f32>,
    dp: Buffer<f32>,
    dt: Buffer<f32>,
    dout: Buffer<f32>,
    dscalar: Buffer<f32>,
}

impl Data {
    fn new(vm: &Vm, n: usize) -> Data {
        let (a, b, p, t) = (input(n, 0), input(n, 3), probs(n, 5), probs(n, 11));
        Data {
            da: vm.alloc_from(&a).unwrap(),
            db: vm.alloc_from(&b).unwrap(),
            dp: vm.alloc_from(&p).unwrap(),
            dt: vm.alloc_from(&t).unwrap(),
            dout: vm.alloc::<f32>(n).unwrap(),
            dscalar: vm.alloc::<f32>(1).unwrap(),
            out: vec![0.0; n],
            a,
            b,
            p,
            t,
        }
    }
}

fn map2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
}

fn map1(a: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &x) in out.iter_mut().zip(a) {
        *o = f(x);
    }
}

fn softmax_native(x: &[f32], y: &mut [f32]) {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
    let mut s = 0.0;
    for (o, &v) in y.iter_mut().zip(x) {
        *o = (v - m).exp();
        s += *o;
    }
    for o in y.iter_mut() {
        *o /= s;
    }
}

macro_rules! pair {
    ($g:expr, $name:expr, $n:expr, native: $native:expr, ops: $ops:expr) => {{
        $g.bench_function(BenchmarkId::new(format!("{}/native", $name), $n), |b| {
            b.iter(|| black_box($native))
        });
        $g.bench_function(BenchmarkId::new(format!("{}/ops", $name), $n), |b| {
            b.iter(|| $ops.unwrap())
        });
    }};
}

fn elementwise_and_reductions(c: &mut Criterion) {
    let vm = vm();
    let mut g = c.benchmark_group("ops");
    g.sample_size(20);
    for n in [1024usize, 1 << 20] {
        let mut d = Data::new(&vm, n);
        let Data {
            ref a,
            ref b,
            ref p,
            ref t,
            ref mut out,
            da,
            db,
            dp,
            dt,
            dout,
            dscalar,
        } = d;
        let v = &vm;
        pair!(g, "vector_add", n, native: map2(a, b, out, |x, y| x + y), ops: math::vector_add(v, &da, &db, &dout));
        pair!(g, "vector_sub", n, native: map2(a, b, out, |x, y| x - y), ops: math::vector_sub(v, &da, &db, &dout));
        pair!(g, "vector_mul", n, native: map2(a, b, out, |x, y| x * y), ops: math::vector_mul(v, &da, &db, &dout));
        pair!(g, "vector_div", n, native: map2(a, b, out, |x, y| x / y), ops: math::vector_div(v, &da, &db, &dout));
        pair!(g, "min", n, native: map2(a, b, out, f32::min), ops: math::min(v, &da, &db, &dout));
        pair!(g, "max", n, native: map2(a, b, out, f32::max), ops: math::max(v, &da, &db, &dout));
        pair!(g, "abs", n, native: map1(a, out, f32::abs), ops: math::abs(v, &da, &dout));
        pair!(g, "neg", n, native: map1(a, out, |x| -x), ops: math::neg(v, &da, &dout));
        pair!(g, "relu", n, native: map1(a, out, |x| x.max(0.0)), ops: math::relu(v, &da, &dout));
        pair!(g, "clip", n, native: map1(a, out, |x| x.clamp(-0.5, 0.5)), ops: math::clip(v, &da, -0.5, 0.5, &dout));
        pair!(g, "scalar_add", n, native: map1(a, out, |x| x + 1.5), ops: math::scalar_add(v, &da, 1.5, &dout));
        pair!(g, "scalar_mul", n, native: map1(a, out, |x| x * 1.5), ops: math::scalar_mul(v, &da, 1.5, &dout));
        pair!(g, "sigmoid", n, native: map1(a, out, |x| 1.0 / (1.0 + (-x).exp())), ops: activation::sigmoid(v, &da, &dout));
        pair!(g, "tanh", n, native: map1(a, out, f32::tanh), ops: activation::tanh(v, &da, &dout));
        pair!(g, "gelu", n, native: map1(a, out, gelu_native), ops: activation::gelu(v, &da, &dout));
        pair!(g, "softmax", n, native: softmax_native(a, out), ops: activation::softmax(v, &da, &dout));
        pair!(g, "sum", n, native: a.iter().sum::<f32>(), ops: reduce::sum(v, &da, &dscalar));
        pair!(g, "reduce_min", n, native: a.iter().fold(f32::INFINITY, |m, &x| m.min(x)), ops: reduce::min(v, &da, &dscalar));
        pair!(g, "reduce_max", n, native: a.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)), ops: reduce::max(v, &da, &dscalar));
        pair!(g, "mse", n,
            native: a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>() / n as f32,
            ops: loss::mse(v, &da, &db, &dscalar));
        pair!(g, "cross_entropy", n,
            native: -p.iter().zip(t).map(|(p, t)| t * p.ln().max(-100.0)).sum::<f32>() / n as f32,
            ops: loss::cross_entropy(v, &dp, &dt, &dscalar));
        pair!(g, "binary_cross_entropy", n,
            native: -p.iter().zip(t).map(|(p, t)| t * p.ln().max(-100.0) + (1.0 - t) * (1.0 - p).ln().max(-100.0)).sum::<f32>() / n as f32,
            ops: loss::binary_cross_entropy(v, &dp, &dt, &dscalar));
        pair!(g, "copy", n, native: out.copy_from_slice(a), ops: memory::copy(v, &da, &dout));
        pair!(g, "fill", n, native: out.fill(2.5), ops: memory::fill(v, &dout, 2.5));
        // matvec: a sqrt(n) x sqrt(n) matrix (n elements).
        let m = (n as f64).sqrt() as usize;
        let x = &b[..m];
        let dx = vm.alloc_from(x).unwrap();
        let dy = vm.alloc::<f32>(m).unwrap();
        pair!(g, "matvec", n,
            native: for (i, o) in out.iter_mut().take(m).enumerate() {
                *o = a[i * m..(i + 1) * m].iter().zip(x).fold(0.0f32, |s, (p, q)| s + p * q);
            },
            ops: linalg::matvec(v, &da, &dx, &dy, m, m));
    }
    g.finish();
}

fn gemm(c: &mut Criterion) {
    let vm = vm();
    let mut g = c.benchmark_group("ops_gemm");
    g.sample_size(10);
    for n in [64usize, 256, 512] {
        let (a, b) = (input(n * n, 0), input(n * n, 7));
        let mut out = vec![0.0f32; n * n];
        let (da, db, dc) = (
            vm.alloc_from(&a).unwrap(),
            vm.alloc_from(&b).unwrap(),
            vm.alloc::<f32>(n * n).unwrap(),
        );
        // Native: the i-p-j loop order (rows of B streamed, auto-vectorised), a multiply and
        // an add per term (a fused `mul_add` is a libm call on baseline x86-64).
        pair!(g, "gemm", n,
            native: {
                out.fill(0.0);
                for i in 0..n {
                    for p in 0..n {
                        let aip = a[i * n + p];
                        let row = &b[p * n..(p + 1) * n];
                        for (o, &bv) in out[i * n..(i + 1) * n].iter_mut().zip(row) {
                            *o += aip * bv;
                        }
                    }
                }
            },
            ops: linalg::gemm(&vm, &da, &db, &dc, n, n, n));
    }
    g.finish();
}

/// The cost of the operations layer itself: a cached `vector_add` at n = 256 against the same
/// program text launched directly (a pre-built `Program`), and the native loop.
fn per_call_overhead(c: &mut Criterion) {
    let vm = vm();
    let mut g = c.benchmark_group("ops_overhead");
    let n = 256;
    let (a, b) = (input(n, 0), input(n, 1));
    let mut out = vec![0.0f32; n];
    let (da, db, dc) = (
        vm.alloc_from(&a).unwrap(),
        vm.alloc_from(&b).unwrap(),
        vm.alloc::<f32>(n).unwrap(),
    );
    let direct = examples::find("vector_add")
        .and_then(|e| e.program().ok())
        .expect("the vector_add example");
    let args = args![&da, &db, &dc, n as u32];
    g.bench_function("native", |bench| {
        bench.iter(|| map2(black_box(&a), black_box(&b), &mut out, |x, y| x + y))
    });
    g.bench_function("launch", |bench| {
        bench.iter(|| {
            vm.launch(&direct, LaunchConfig::new(1, 256), &args)
                .unwrap()
        })
    });
    g.bench_function("ops", |bench| {
        bench.iter(|| math::vector_add(&vm, &da, &db, &dc).unwrap())
    });
    g.finish();
}

/// gelu as one fused program against the same formula as a chain of eight element-wise
/// operations (each its own launch and pass over memory).
fn fused_vs_chain(c: &mut Criterion) {
    let vm = vm();
    let mut g = c.benchmark_group("ops_fused");
    g.sample_size(20);
    for n in [1024usize, 1 << 20] {
        let x = vm.alloc_from(&input(n, 0)).unwrap();
        let (t, u, y) = (
            vm.alloc::<f32>(n).unwrap(),
            vm.alloc::<f32>(n).unwrap(),
            vm.alloc::<f32>(n).unwrap(),
        );
        g.bench_function(BenchmarkId::new("gelu_fused", n), |b| {
            b.iter(|| activation::gelu(&vm, &x, &y).unwrap())
        });
        g.bench_function(BenchmarkId::new("gelu_chain", n), |b| {
            b.iter(|| {
                math::vector_mul(&vm, &x, &x, &t).unwrap(); // x^2
                math::vector_mul(&vm, &t, &x, &t).unwrap(); // x^3
                math::scalar_mul(&vm, &t, 0.044715, &t).unwrap();
                math::vector_add(&vm, &t, &x, &t).unwrap();
                math::scalar_mul(&vm, &t, 0.797_884_6, &t).unwrap();
                activation::tanh(&vm, &t, &t).unwrap();
                math::scalar_add(&vm, &t, 1.0, &t).unwrap();
                math::scalar_mul(&vm, &x, 0.5, &u).unwrap();
                math::vector_mul(&vm, &t, &u, &y).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    elementwise_and_reductions,
    gemm,
    per_call_overhead,
    fused_vs_chain
);
criterion_main!(benches);
