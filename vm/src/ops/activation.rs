//! Activations: `sigmoid tanh gelu softmax` (f32 and f64).
//!
//! `sigmoid`, `tanh` and `gelu` are element-wise (one fused program each; the output may be
//! the input); they use the ISA's `sigmoid`/`tanh` (branch-free polynomials with the error
//! bounds documented in `holovm_isa::math`). `softmax` normalises a whole buffer.
//!
//! ```
//! use holovm::{ops::activation, Vm};
//! let vm = Vm::new();
//! let x = vm.alloc_from(&[1.0f64, 2.0, 3.0])?;
//! let y = vm.alloc::<f64>(3)?;
//! activation::softmax(&vm, &x, &y)?;
//! let y = vm.read(&y)?;
//! assert!((y.iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! assert!(y[0] < y[1] && y[1] < y[2]);
//! # Ok::<(), holovm::Error>(())
//! ```

use holovm_isa::LaunchConfig;

use super::cache::{program, OpKey};
use super::kernel::{n_arg, same_len, FoldSpec, BLOCK};
use super::math::{unary, XY};
use super::reduce::{plain, two_pass};
use super::scratch::Scratch;
use super::{Float, Operand};
use crate::{Arg, Buffer, Error, Vm};

/// `y[i] = 1 / (1 + exp(-x[i]))`.
pub fn sigmoid<T: Float>(vm: &Vm, x: &impl Operand<T>, y: &impl Operand<T>) -> Result<(), Error> {
    unary(vm, ("sigmoid", XY), "    sigmoid.{t} r8, r0\n", x, y)
}

/// `y[i] = tanh(x[i])`.
pub fn tanh<T: Float>(vm: &Vm, x: &impl Operand<T>, y: &impl Operand<T>) -> Result<(), Error> {
    unary(vm, ("tanh", XY), "    tanh.{t} r8, r0\n", x, y)
}

/// GELU, tanh form: `y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, with
/// `x + 0.044715 x^3` as one fused multiply-add. One fused program (one pass over memory).
///
/// ```
/// use holovm::{ops::activation, Vm};
/// let vm = Vm::new();
/// let x = vm.alloc_from(&[-3.0f32, 0.0, 3.0])?;
/// activation::gelu(&vm, &x, &x)?;
/// let y = vm.read(&x)?;
/// assert!(y[0].abs() < 0.01 && y[1] == 0.0 && (y[2] - 2.9964).abs() < 1e-3);
/// # Ok::<(), holovm::Error>(())
/// ```
pub fn gelu<T: Float>(vm: &Vm, x: &impl Operand<T>, y: &impl Operand<T>) -> Result<(), Error> {
    unary(
        vm,
        ("gelu", XY),
        "    mul.{t} r1, r0, r0\n    mul.{t} r1, r1, r0\n    fma.{t} r1, r1, 0.044715, r0\n\
         \x20   mul.{t} r1, r1, 0.7978845608028654\n    tanh.{t} r1, r1\n    add.{t} r1, r1, 1.0\n\
         \x20   mul.{t} r2, r0, 0.5\n    mul.{t} r8, r1, r2\n",
        x,
        y,
    )
}

/// `y = exp(x - max(x)) / sum(exp(x - max(x)))` over the whole buffer (numerically stable:
/// the maximum is subtracted first). Five launches: the maximum (two-pass fold), one pass
/// writing the exponentials and their per-lane partial sums, the sum's second pass, and one
/// element-wise division. `y` may be `x`.
pub fn softmax<T: Float>(vm: &Vm, x: &Buffer<T>, y: &Buffer<T>) -> Result<(), Error> {
    let n = same_len("softmax", &[("x", x.len()), ("y", y.len())])?;
    if n == 0 {
        return Ok(());
    }
    let ty = T::TY;
    let size = ty.size();
    // stats[0] = max, stats[1] = sum of the exponentials.
    let scratch = Scratch::<T>::new(vm, 2)?;
    let stats = *scratch.buf();
    let max = plain("reduce_max", "max", ty);
    two_pass::<T>(vm, &max, &[Arg::from(x)], &max, None, stats.any(), 0, n)?;
    let body = format!(
        "    sub.{{t}} r8, r0, r25\n    exp.{{t}} r8, r8\n    stg.{{t}} [y + r21*{size}], r8\n"
    );
    let exp = FoldSpec {
        name: "softmax_exp",
        inputs: 1,
        params: ".param y: ptr {t}\n.param stats: ptr {t}\n",
        preamble: "    ldg.{t} r25, [stats]\n",
        body: &body,
        fold: "add",
        identity: "0.0",
        divide: false,
    };
    let sum = plain("sum", "add", ty);
    let prefix = [Arg::from(x), Arg::from(y), Arg::from(&stats)];
    two_pass::<T>(vm, &exp, &prefix, &sum, None, stats.any(), 1, n)?;
    let scale = program(OpKey::buffers("softmax_scale", ty), || {
        let t = ty.name();
        format!(
            "; softmax_scale on {t}: y[i] /= stats[1]\n.kernel softmax_scale_{t}\n\
             .param y: ptr {t}\n.param stats: ptr {t}\n.param n: u32\n\
             \x20   setp.ge.u32 p0, %gid, n\n    @p0 bra @done\n    ldg.{t} r1, [stats + {size}]\n\
             \x20   ldg.{t} r0, [y + %gid*{size}]\n    div.{t} r0, r0, r1\n\
             \x20   stg.{t} [y + %gid*{size}], r0\ndone:\n    exit\n"
        )
    })?;
    vm.launch(
        &scale,
        LaunchConfig::cover(n as u64, BLOCK),
        &[Arg::from(y), Arg::from(&stats), n_arg(n)],
    )?;
    Ok(())
}
