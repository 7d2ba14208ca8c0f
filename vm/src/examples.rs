//! The bundled example kernels (`examples/kernels/*.hasm`) with Rust reference
//! implementations, so a kernel can be run on random data and checked in one call. `holovm
//! demo` and the test suite use them.
//!
//! ```
//! use holovm::{examples, Vm};
//! let vm = Vm::new();
//! let relu = examples::find("relu").unwrap();
//! let check = relu.check(&vm, 1000, 7)?;
//! assert!(check.passed(), "{check:?}");
//! # Ok::<(), holovm::Error>(())
//! ```

use std::time::{Duration, Instant};

use holovm_isa::{LaunchConfig, Program, POOL_CLASS_BYTES};

use crate::{args, Arg, Error, Vm};

/// Runs a kernel at a size on random data and returns its output and the reference's.
type RunFn = fn(&Vm, &Program, usize, &mut Lcg) -> Result<Outcome, Error>;

/// One example kernel: its source and a checker against a Rust reference.
pub struct Example {
    /// Kernel name (also the file name without `.hasm`).
    pub name: &'static str,
    /// The assembly source.
    pub source: &'static str,
    /// What the size parameter `n` of [`Example::check`] means for this kernel.
    pub size_meaning: &'static str,
    /// The default problem size used by `holovm demo`.
    pub demo_size: usize,
    run: RunFn,
}

/// The result of [`Example::check`].
#[derive(Clone, Debug)]
pub struct Check {
    /// Elements compared.
    pub elements: usize,
    /// Largest `|got - want| / max(1, |want|)` over the compared elements.
    pub max_error: f64,
    /// The largest error this kernel accepts (0 means bit-exact).
    pub tolerance: f64,
    /// The fastest of the timed launches.
    pub best_launch: Duration,
}

impl Check {
    /// True when the kernel matched its reference within the tolerance.
    pub fn passed(&self) -> bool {
        self.max_error <= self.tolerance
    }
}

struct Outcome {
    got: Vec<f64>,
    want: Vec<f64>,
    tolerance: f64,
    /// The launch that produced `got`, repeated for timing.
    shape: LaunchConfig,
    args: Vec<Arg>,
}

impl Example {
    /// Assembles the kernel. The bundled sources are valid, so this only fails if the
    /// assembler is broken.
    pub fn program(&self) -> Result<Program, Error> {
        crate::asm::assemble(self.source).map_err(|d| Error::InvalidProgram {
            kernel: self.name.into(),
            message: d.to_string(),
        })
    }

    /// Runs the kernel on `vm` at problem size `n` on random data from `seed`, compares the
    /// result with the Rust reference, then times `3` more launches.
    pub fn check(&self, vm: &Vm, n: usize, seed: u64) -> Result<Check, Error> {
        let program = self.program()?;
        let mut rng = Lcg(seed.wrapping_mul(2).wrapping_add(1));
        let outcome = (self.run)(vm, &program, n, &mut rng)?;
        let max_error = outcome
            .got
            .iter()
            .zip(&outcome.want)
            .map(|(&g, &w)| {
                if g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()) {
                    0.0
                } else {
                    let e = (g - w).abs() / w.abs().max(1.0);
                    if e.is_nan() {
                        f64::INFINITY
                    } else {
                        e
                    }
                }
            })
            .fold(0.0, f64::max);
        let mut best_launch = Duration::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            vm.launch(&program, outcome.shape, &outcome.args)?;
            best_launch = best_launch.min(start.elapsed());
        }
        Ok(Check {
            elements: outcome.got.len(),
            max_error: if outcome.got.len() == outcome.want.len() {
                max_error
            } else {
                f64::INFINITY
            },
            tolerance: outcome.tolerance,
            best_launch,
        })
    }
}

/// Every bundled example kernel.
pub fn all() -> &'static [Example] {
    EXAMPLES
}

/// The example called `name`.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

macro_rules! kernel {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/kernels/",
            $name,
            ".hasm"
        ))
    };
}

static EXAMPLES: &[Example] = &[
    Example {
        name: "vector_add",
        source: kernel!("vector_add"),
        size_meaning: "elements",
        demo_size: 1 << 20,
        run: run_vector_add,
    },
    Example {
        name: "relu",
        source: kernel!("relu"),
        size_meaning: "elements",
        demo_size: 1 << 16,
        run: |vm, p, n, rng| unary(vm, p, n, rng, 0.0, |x| x.max(0.0)),
    },
    Example {
        name: "sigmoid",
        source: kernel!("sigmoid"),
        size_meaning: "elements",
        demo_size: 1 << 16,
        run: |vm, p, n, rng| unary(vm, p, n, rng, 1e-6, |x| 1.0 / (1.0 + (-x).exp())),
    },
    Example {
        name: "gelu",
        source: kernel!("gelu"),
        size_meaning: "elements",
        demo_size: 1 << 16,
        run: |vm, p, n, rng| {
            unary(vm, p, n, rng, 1e-5, |x| {
                let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
                0.5 * x * (1.0 + inner.tanh())
            })
        },
    },
    Example {
        name: "softmax_rows",
        source: kernel!("softmax_rows"),
        size_meaning: "rows of 1000 columns",
        demo_size: 64,
        run: run_softmax,
    },
    Example {
        name: "sum",
        source: kernel!("sum"),
        size_meaning: "elements",
        demo_size: 1 << 20,
        run: run_sum,
    },
    Example {
        name: "matvec",
        source: kernel!("matvec"),
        size_meaning: "rows and columns (square)",
        demo_size: 512,
        run: run_matvec,
    },
    Example {
        name: "gemm",
        source: kernel!("gemm"),
        size_meaning: "m = n = k",
        demo_size: 96,
        run: run_gemm,
    },
    Example {
        name: "phi_scale",
        source: kernel!("phi_scale"),
        size_meaning: "f32 values in pool class 0",
        demo_size: 3072,
        run: run_phi_scale,
    },
    Example {
        name: "scalar_loop",
        source: kernel!("scalar_loop"),
        size_meaning: "elements",
        demo_size: 1 << 16,
        run: run_scalar_loop,
    },
];

/// A small deterministic generator for test data (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.unit() * scale).collect()
    }
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn lanes(n: usize) -> LaunchConfig {
    LaunchConfig::cover(n as u64, 256)
}

fn run_vector_add(vm: &Vm, p: &Program, n: usize, rng: &mut Lcg) -> Result<Outcome, Error> {
    let (a, b) = (rng.vec(n, 100.0), rng.vec(n, 100.0));
    let want = a.iter().zip(&b).map(|(x, y)| (x + y) as f64).collect();
    let (ba, bb, bc) = (vm.alloc_from(&a)?, vm.alloc_from(&b)?, vm.alloc::<f32>(n)?);
    let args = args![&ba, &bb, &bc, n as u32];
    vm.launch(p, lanes(n), &args)?;
    let got = widen(&vm.read(&bc)?);
    Ok(Outcome {
        got,
        want,
        tolerance: 0.0,
        shape: lanes(n),
        args: args.to_vec(),
    })
}

fn unary(
    vm: &Vm,
    p: &Program,
    n: usize,
    rng: &mut Lcg,
    tolerance: f64,
    f: impl Fn(f64) -> f64,
) -> Result<Outcome, Error> {
    let x = rng.vec(n, 8.0);
    let want = x.iter().map(|&v| f(v as f64) as f32 as f64).collect();
    let (bx, by) = (vm.alloc_from(&x)?, vm.alloc::<f32>(n)?);
    let args = args![&bx, &by, n as u32];
    vm.launch(p, lanes(n), &args)?;
    let got = widen(&vm.read(&by)?);
    Ok(Outcome {
        got,
        want,
        tolerance,
        shape: lanes(n),
        args: args.to_vec(),
    })
}

fn run_softmax(vm: &Vm, p: &Program, rows: usize, rng: &mut Lcg) -> Result<Outcome, Error> {
    let cols = 1000;
    let x = rng.vec(rows * cols, 10.0);
    let mut want = Vec::with_capacity(rows * cols);
    for row in x.chunks(cols) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        want.extend(row.iter().map(|&v| (v as f64 - max).exp() / sum));
    }
    let (bx, by) = (vm.alloc_from(&x)?, vm.alloc::<f32>(rows * cols)?);
    let args = args![&bx, &by, cols as u32];
    let shape = LaunchConfig::new(rows.max(1) as u32, 256);
    vm.launch(p, shape, &args)?;
    let got = widen(&vm.read(&by)?);
    Ok(Outcome {
        got,
        want,
        tolerance: 1e-6,
        shape,
        args: args.to_vec(),
    })
}

fn run_sum(vm: &Vm, p: &Program, n: usize, rng: &mut Lcg) -> Result<Outcome, Error> {
    let x = rng.vec(n, 1.0);
    let want = vec![x.iter().map(|&v| v as f64).sum::<f64>()];
    let (bx, out) = (vm.alloc_from(&x)?, vm.alloc::<f32>(1)?);
    let args = args![&bx, &out, n as u32];
    // One 32-lane block: the JIT's one vector group then reads x front to back (see sum.hasm).
    let shape = LaunchConfig::new(1, 32);
    vm.launch(p, shape, &args)?;
    let got = widen(&vm.read(&out)?);
    Ok(Outcome {
        got,
        want,
        // f32 accumulation over n terms of magnitude <= 1, in the kernel's order.
        tolerance: 1e-6 * (n as f64).max(1.0),
        shape,
        args: args.to_vec(),
    })
}

fn run_matvec(vm: &Vm, p: &Program, n: usize, rng: &mut Lcg) -> Result<Outcome, Error> {
    let (a, x) = (rng.vec(n * n, 1.0), rng.vec(n, 1.0));
    let want = a
        .chunks(n.max(1))
        .take(n)
        .map(|row| row.iter().zip(&x).map(|(&r, &v)| r as f64 * v as f64).sum())
        .collect();
    let (ba, bx, by) = (vm.alloc_from(&a)?, vm.alloc_from(&x)?, vm.alloc::<f32>(n)?);
    let args = args![&ba, &bx, &by, n as u32, n as u32];
    vm.launch(p, LaunchConfig::cover(n as u64, 64), &args)?;
    let got = widen(&vm.read(&by)?);
    Ok(Outcome {
        got,
        want,
        tolerance: 1e-6 * (n as f64).max(1.0),
        shape: LaunchConfig::cover(n as u64, 64),
        args: args.to_vec(),
    })
}

fn run_gemm(vm: &Vm, p: &Program, n: usize, rng: &mut Lcg) -> Result<Outcome, Error> {
    let (a, b) = (rng.vec(n * n, 1.0), rng.vec(n * n, 1.0));
    let mut want = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            want[i * n + j] = (0..n)
                .map(|k| a[i * n + k] as f64 * b[k * n + j] as f64)
                .sum();
        }
    }
    let (ba, bb, bc) = (
        vm.alloc_from(&a)?,
        vm.alloc_from(&b)?,
        vm.alloc::<f32>(n * n)?,
    );
    let args = args![&ba, &bb, &bc, n as u32, n as u32, n as u32];
    vm.launch(p, lanes(n * n), &args)?;
    let got = widen(&vm.read(&bc)?);
    Ok(Outcome {
        got,
        want,
        tolerance: 1e-6 * (n as f64).max(1.0),
        shape: lanes(n * n),
        args: args.to_vec(),
    })
}

fn run_phi_scale(vm: &Vm, p: &Program, n: usize, rng: &mut Lcg) -> Result<Outcome, Error> {
    let per_class = (POOL_CLASS_BYTES / 4) as usize;
    let n = n.min(per_class);
    let mut x = rng.vec(per_class, 10.0);
    x[n..].fill(0.0);
    let (scale, offset) = (rng.unit() * 4.0, rng.unit());
    let mut params = vec![0.0f32; per_class];
    params[0] = scale;
    params[1] = offset;
    vm.write_pool(0, &x)?;
    vm.write_pool(2, &params)?;
    let shape = LaunchConfig::cover(per_class as u64, 256);
    vm.launch(p, shape, &[])?;
    let got = widen(&vm.read_pool::<f32>(1)?[..n]);
    let want = x[..n]
        .iter()
        .map(|&v| (v * scale + offset) as f64)
        .collect();
    Ok(Outcome {
        got,
        want,
        tolerance: 0.0,
        shape,
        args: Vec::new(),
    })
}

fn run_scalar_loop(vm: &Vm, p: &Program, n: usize, rng: &mut Lcg) -> Result<Outcome, Error> {
    let x = rng.vec(n, 1.0);
    let want = x
        .iter()
        .map(|&v| (0..64).fold(v, |acc, _| acc * 1.0001 + 0.5) as f64)
        .collect();
    let bx = vm.alloc_from(&x)?;
    let args = args![&bx, n as u32];
    vm.launch(p, lanes(n), &args)?;
    let got = widen(&vm.read(&bx)?);
    Ok(Outcome {
        got,
        want,
        tolerance: 0.0,
        shape: lanes(n),
        args: args.to_vec(),
    })
}
