//! Element-wise arithmetic: `vector_add vector_sub vector_mul vector_div min max abs neg relu
//! clip scalar_add scalar_mul`.
//!
//! Every function writes its result to the last operand, which may be one of the inputs
//! (in-place). Operands must all have the same length. Integer arithmetic wraps; an integer
//! `vector_div` by zero (or `MIN / -1`) is a [`Trap`](crate::Trap) naming the lane. Float
//! results are those of docs/ISA.md (`min`/`max` are IEEE `minimum`/`maximum`: NaN in, NaN
//! out).
//!
//! ```
//! use holovm::{ops::math, Vm};
//! let vm = Vm::new();
//! let x = vm.alloc_from(&[-2i32, 5, 9])?;
//! let y = vm.alloc::<i32>(3)?;
//! math::clip(&vm, &x, 0, 6, &y)?;
//! assert_eq!(vm.read(&y)?, vec![0, 5, 6]);
//! math::scalar_mul(&vm, &y, -3, &y)?;
//! assert_eq!(vm.read(&y)?, vec![0, -15, -18]);
//! # Ok::<(), holovm::Error>(())
//! ```

use super::cache::{program, OpKey};
use super::kernel::{launch_map, map_source, same_len, shape};
use super::operand::{place, Slot};
use super::{Num, Operand, Signed};
use crate::{Arg, Element, Error, Vm};

/// Runs the element-wise kernel `op` with inputs `ins`, output `out`, scalar parameters
/// `scalars` (names, values) and the per-element `body` (result in `r8`).
pub(crate) fn map<T: Element>(
    vm: &Vm,
    op: &'static str,
    ins: &[Slot],
    out: Slot,
    scalars: &[(&str, Arg)],
    body: &str,
    n: usize,
) -> Result<(), Error> {
    let mut places = [None; 3];
    for (p, s) in places.iter_mut().zip(ins.iter().chain([&out])) {
        *p = place(*s);
    }
    let key = OpKey {
        op,
        ty: T::TY,
        places,
        variant: 0,
    };
    let program = program(key, || {
        let names: Vec<&str> = scalars.iter().map(|(name, _)| *name).collect();
        map_source(op, T::TY, ins, out, &names, body)
    })?;
    launch_map(vm, &program, ins, out, scalars, n)
}

/// The operand names of the one-input operations' errors.
pub(crate) const XY: [&str; 2] = ["x", "y"];

fn binary<T: Num>(
    vm: &Vm,
    op: &'static str,
    body: &str,
    a: &impl Operand<T>,
    b: &impl Operand<T>,
    c: &impl Operand<T>,
) -> Result<(), Error> {
    let n = same_len(op, &[("a", a.len()), ("b", b.len()), ("c", c.len())])?;
    map::<T>(vm, op, &[a.slot(), b.slot()], c.slot(), &[], body, n)
}

/// Runs the one-input element-wise kernel `op` (the result of `body` in `r8`) from `x` to
/// `y`, which the shape errors call `names`.
pub(crate) fn unary<T: Element>(
    vm: &Vm,
    (op, names): (&'static str, [&str; 2]),
    body: &str,
    x: &impl Operand<T>,
    y: &impl Operand<T>,
) -> Result<(), Error> {
    let n = same_len(op, &[(names[0], x.len()), (names[1], y.len())])?;
    map::<T>(vm, op, &[x.slot()], y.slot(), &[], body, n)
}

fn with_scalar<T: Num>(
    vm: &Vm,
    op: &'static str,
    body: &str,
    x: &impl Operand<T>,
    s: T,
    y: &impl Operand<T>,
) -> Result<(), Error> {
    let n = same_len(op, &[("x", x.len()), ("y", y.len())])?;
    map::<T>(
        vm,
        op,
        &[x.slot()],
        y.slot(),
        &[("s", Arg::scalar(s))],
        body,
        n,
    )
}

/// `c[i] = a[i] + b[i]`.
///
/// ```
/// use holovm::{ops::math, Vm};
/// let vm = Vm::new();
/// let a = vm.alloc_from(&[1.5f64, 2.5])?;
/// let b = vm.alloc_from(&[0.5f64, 0.25])?;
/// math::vector_add(&vm, &a, &b, &a)?; // in place
/// assert_eq!(vm.read(&a)?, vec![2.0, 2.75]);
/// # Ok::<(), holovm::Error>(())
/// ```
pub fn vector_add<T: Num>(
    vm: &Vm,
    a: &impl Operand<T>,
    b: &impl Operand<T>,
    c: &impl Operand<T>,
) -> Result<(), Error> {
    binary(vm, "vector_add", "    add.{t} r8, r0, r1\n", a, b, c)
}

/// `c[i] = a[i] - b[i]`.
pub fn vector_sub<T: Num>(
    vm: &Vm,
    a: &impl Operand<T>,
    b: &impl Operand<T>,
    c: &impl Operand<T>,
) -> Result<(), Error> {
    binary(vm, "vector_sub", "    sub.{t} r8, r0, r1\n", a, b, c)
}

/// `c[i] = a[i] * b[i]`.
pub fn vector_mul<T: Num>(
    vm: &Vm,
    a: &impl Operand<T>,
    b: &impl Operand<T>,
    c: &impl Operand<T>,
) -> Result<(), Error> {
    binary(vm, "vector_mul", "    mul.{t} r8, r0, r1\n", a, b, c)
}

/// `c[i] = a[i] / b[i]`. For integers this truncates, and a zero divisor (or `MIN / -1`) is a
/// trap at the first such lane.
///
/// ```
/// use holovm::{ops::math, TrapKind, Vm};
/// let vm = Vm::new();
/// let a = vm.alloc_from(&[7u32, 8, 9])?;
/// let b = vm.alloc_from(&[2u32, 0, 3])?;
/// let err = math::vector_div(&vm, &a, &b, &a).unwrap_err();
/// assert_eq!(err.trap().unwrap().kind, TrapKind::DivideByZero);
/// assert_eq!(err.trap().unwrap().lane, 1);
/// # Ok::<(), holovm::Error>(())
/// ```
pub fn vector_div<T: Num>(
    vm: &Vm,
    a: &impl Operand<T>,
    b: &impl Operand<T>,
    c: &impl Operand<T>,
) -> Result<(), Error> {
    binary(vm, "vector_div", "    div.{t} r8, r0, r1\n", a, b, c)
}

/// `c[i] = min(a[i], b[i])`.
pub fn min<T: Num>(
    vm: &Vm,
    a: &impl Operand<T>,
    b: &impl Operand<T>,
    c: &impl Operand<T>,
) -> Result<(), Error> {
    binary(vm, "min", "    min.{t} r8, r0, r1\n", a, b, c)
}

/// `c[i] = max(a[i], b[i])`.
pub fn max<T: Num>(
    vm: &Vm,
    a: &impl Operand<T>,
    b: &impl Operand<T>,
    c: &impl Operand<T>,
) -> Result<(), Error> {
    binary(vm, "max", "    max.{t} r8, r0, r1\n", a, b, c)
}

/// `y[i] = |x[i]|` (`abs(MIN)` wraps to `MIN` for integers).
pub fn abs<T: Signed>(vm: &Vm, x: &impl Operand<T>, y: &impl Operand<T>) -> Result<(), Error> {
    unary(vm, ("abs", XY), "    abs.{t} r8, r0\n", x, y)
}

/// `y[i] = -x[i]` (wrapping for integers).
pub fn neg<T: Signed>(vm: &Vm, x: &impl Operand<T>, y: &impl Operand<T>) -> Result<(), Error> {
    unary(vm, ("neg", XY), "    neg.{t} r8, r0\n", x, y)
}

/// `y[i] = max(x[i], 0)`.
///
/// ```
/// use holovm::{ops::math, Vm};
/// let vm = Vm::new();
/// let x = vm.alloc_from(&[-1.0f32, 0.5])?;
/// math::relu(&vm, &x, &x)?;
/// assert_eq!(vm.read(&x)?, vec![0.0, 0.5]);
/// # Ok::<(), holovm::Error>(())
/// ```
pub fn relu<T: Signed>(vm: &Vm, x: &impl Operand<T>, y: &impl Operand<T>) -> Result<(), Error> {
    unary(
        vm,
        ("relu", XY),
        "    mov_imm.{t} r2, 0\n    max.{t} r8, r0, r2\n",
        x,
        y,
    )
}

/// `y[i] = min(max(x[i], lo), hi)`; `lo <= hi` is required (a [`Error::Shape`] otherwise,
/// also for a NaN bound).
pub fn clip<T: Num>(
    vm: &Vm,
    x: &impl Operand<T>,
    lo: T,
    hi: T,
    y: &impl Operand<T>,
) -> Result<(), Error> {
    // `partial_cmp` is `None` for a NaN bound, which is rejected too.
    if !matches!(
        lo.partial_cmp(&hi),
        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
    ) {
        return Err(shape(
            "clip",
            format!("needs lo <= hi, got {lo:?} and {hi:?}"),
        ));
    }
    let n = same_len("clip", &[("x", x.len()), ("y", y.len())])?;
    map::<T>(
        vm,
        "clip",
        &[x.slot()],
        y.slot(),
        &[("lo", Arg::scalar(lo)), ("hi", Arg::scalar(hi))],
        "    max.{t} r2, r0, lo\n    min.{t} r8, r2, hi\n",
        n,
    )
}

/// `y[i] = x[i] + s`.
pub fn scalar_add<T: Num>(
    vm: &Vm,
    x: &impl Operand<T>,
    s: T,
    y: &impl Operand<T>,
) -> Result<(), Error> {
    with_scalar(vm, "scalar_add", "    add.{t} r8, r0, s\n", x, s, y)
}

/// `y[i] = x[i] * s`.
pub fn scalar_mul<T: Num>(
    vm: &Vm,
    x: &impl Operand<T>,
    s: T,
    y: &impl Operand<T>,
) -> Result<(), Error> {
    with_scalar(vm, "scalar_mul", "    mul.{t} r8, r0, s\n", x, s, y)
}
