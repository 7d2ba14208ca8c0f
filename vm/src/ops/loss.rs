//! Losses: `mse cross_entropy binary_cross_entropy` (f32 and f64), each a mean over all
//! elements written to `out[0]`.
//!
//! Each is one fused two-pass fold (see [`reduce`](super::reduce)): pass 1 computes the
//! per-element term and folds it into per-lane partial sums, pass 2 sums the partials and
//! divides by `-n` or `n`. Logarithms are clamped below at `-100` (as PyTorch's `BCELoss`
//! does), so a prediction of exactly 0 or 1 gives a finite loss.
//!
//! ```
//! use holovm::{ops::loss, Vm};
//! let vm = Vm::new();
//! let pred = vm.alloc_from(&[1.0f32, 2.0, 4.0])?;
//! let target = vm.alloc_from(&[1.0f32, 1.0, 1.0])?;
//! let out = vm.alloc::<f32>(1)?;
//! loss::mse(&vm, &pred, &target, &out)?;
//! assert_eq!(vm.read(&out)?, vec![10.0 / 3.0]); // (0 + 1 + 9) / 3
//! # Ok::<(), holovm::Error>(())
//! ```

use holovm_isa::Ty;

use super::kernel::{same_len, shape, FoldSpec};
use super::reduce::{check_out, two_pass};
use super::Float;
use crate::{Arg, Buffer, Error, Vm};

fn loss<T: Float>(
    vm: &Vm,
    op: &'static str,
    body: &str,
    negate: bool,
    pred: &Buffer<T>,
    target: &Buffer<T>,
    out: &Buffer<T>,
) -> Result<(), Error> {
    let n = same_len(op, &[("pred", pred.len()), ("target", target.len())])?;
    check_out(op, n, out)?;
    if n == 0 {
        return Err(shape(
            op,
            "the inputs are empty (the mean is undefined)".into(),
        ));
    }
    let terms = FoldSpec {
        name: op,
        inputs: 2,
        params: "",
        preamble: "",
        body,
        fold: "add",
        identity: "0.0",
        divide: false,
    };
    let mean = FoldSpec {
        name: "mean",
        inputs: 1,
        params: "",
        preamble: "",
        body: "",
        fold: "add",
        identity: "0.0",
        divide: true,
    };
    let d = if negate { -(n as f64) } else { n as f64 };
    let d = if T::TY == Ty::F32 {
        Arg::scalar(d as f32)
    } else {
        Arg::scalar(d)
    };
    let prefix = [Arg::from(pred), Arg::from(target)];
    two_pass::<T>(vm, &terms, &prefix, &mean, Some(d), out.any(), 0, n)
}

/// Mean squared error: `out[0] = sum((pred - target)^2) / n`.
pub fn mse<T: Float>(
    vm: &Vm,
    pred: &Buffer<T>,
    target: &Buffer<T>,
    out: &Buffer<T>,
) -> Result<(), Error> {
    let body = "    sub.{t} r8, r0, r1\n    mul.{t} r8, r8, r8\n";
    loss(vm, "mse", body, false, pred, target, out)
}

/// Cross entropy of probabilities `pred` against targets:
/// `out[0] = -sum(target * max(ln pred, -100)) / n`.
///
/// ```
/// use holovm::{ops::loss, Vm};
/// let vm = Vm::new();
/// let pred = vm.alloc_from(&[0.5f64, 0.25])?;
/// let target = vm.alloc_from(&[1.0f64, 0.0])?;
/// let out = vm.alloc::<f64>(1)?;
/// loss::cross_entropy(&vm, &pred, &target, &out)?;
/// assert!((vm.read(&out)?[0] - 2f64.ln() / 2.0).abs() < 1e-15);
/// # Ok::<(), holovm::Error>(())
/// ```
pub fn cross_entropy<T: Float>(
    vm: &Vm,
    pred: &Buffer<T>,
    target: &Buffer<T>,
    out: &Buffer<T>,
) -> Result<(), Error> {
    let body = "    log.{t} r8, r0\n    max.{t} r8, r8, -100.0\n    mul.{t} r8, r8, r1\n";
    loss(vm, "cross_entropy", body, true, pred, target, out)
}

/// Binary cross entropy: `out[0] = -sum(t ln p + (1 - t) ln(1 - p)) / n`, each logarithm
/// clamped below at -100.
pub fn binary_cross_entropy<T: Float>(
    vm: &Vm,
    pred: &Buffer<T>,
    target: &Buffer<T>,
    out: &Buffer<T>,
) -> Result<(), Error> {
    let body = "    log.{t} r2, r0\n    max.{t} r2, r2, -100.0\n    mul.{t} r2, r2, r1\n\
                \x20   sub.{t} r3, 1.0, r0\n    log.{t} r3, r3\n    max.{t} r3, r3, -100.0\n\
                \x20   sub.{t} r4, 1.0, r1\n    mul.{t} r3, r3, r4\n    add.{t} r8, r2, r3\n";
    loss(vm, "binary_cross_entropy", body, true, pred, target, out)
}
