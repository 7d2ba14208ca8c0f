//! Whole-buffer reductions: `sum min max`, and the two-pass fold they share with softmax and
//! the losses.
//!
//! Each writes its result to `out[0]` (`out` needs at least one element, the rest is left
//! alone). Pass 1 runs `L` lanes (about `4 sqrt(n)`, a multiple of 32, at most 4096), lane
//! `g` folding elements `g, g + L, g + 2L, ...` into its partial; pass 2 folds the `L`
//! partials in ascending order on one lane. Inputs of at most 128 elements take one lane
//! and one launch; inputs whose `L` lanes fit one block (up to about 4,096 elements) take
//! one launch too, the partials folded in the same order by the block's `reduce`
//! (`fold_block_source`). Integer sums wrap; `min`/`max` are exact; a float sum is the sum of
//! `n / L + L` rounded terms, not a sequential sum (see the tests' error bound).
//!
//! ```
//! use holovm::{ops::reduce, Vm};
//! let vm = Vm::new();
//! let x = vm.alloc_from(&(1..=1000u64).collect::<Vec<_>>())?;
//! let out = vm.alloc::<u64>(1)?;
//! reduce::sum(&vm, &x, &out)?;
//! assert_eq!(vm.read(&out)?, vec![500_500]);
//! reduce::max(&vm, &x, &out)?;
//! assert_eq!(vm.read(&out)?, vec![1000]);
//! # Ok::<(), holovm::Error>(())
//! ```

use holovm_isa::{LaunchConfig, Ty};

use super::cache::{program, OpKey};
use super::kernel::{
    fold_block_source, fold_config, fold_lanes, fold_source, launch_fold, max_len, shape, Args,
    FoldSpec, BLOCK,
};
use super::scratch::Scratch;
use super::Num;
use crate::{AnyBuffer, Arg, Buffer, Error, Vm};

/// The identity literal of `fold` (`add`, `min`, `max`) on `ty`.
pub(crate) fn identity(fold: &str, ty: Ty) -> &'static str {
    match (fold, ty) {
        ("add", t) if t.is_float() => "0.0",
        ("add", _) => "0",
        ("min", Ty::I32) => "2147483647",
        ("min", Ty::I64) => "9223372036854775807",
        ("min", Ty::U32) => "4294967295",
        ("min", Ty::U64) => "18446744073709551615",
        ("min", _) => "inf",
        ("max", Ty::I32) => "-2147483648",
        ("max", Ty::I64) => "-9223372036854775808",
        ("max", t) if t.is_float() => "-inf",
        _ => "0",
    }
}

/// A fold that combines the input elements themselves.
pub(crate) fn plain(name: &'static str, fold: &'static str, ty: Ty) -> FoldSpec<'static> {
    FoldSpec {
        name,
        inputs: 1,
        params: "",
        preamble: "",
        body: "",
        fold,
        identity: identity(fold, ty),
        divide: false,
    }
}

/// Folds `n` elements with `pass1` (whose inputs and extra parameters are `prefix`) into
/// `L` partials, then the partials with `combine` into `out[off]`, passing `divisor` (a
/// scalar of the element type) if `combine` divides. Short inputs whose pass 1 needs no
/// second pass run as one launch directly into `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn two_pass<T: Num>(
    vm: &Vm,
    pass1: &FoldSpec<'_>,
    prefix: &[Arg],
    combine: &FoldSpec<'_>,
    divisor: Option<Arg>,
    out: AnyBuffer,
    off: u32,
    n: usize,
) -> Result<(), Error> {
    let lanes = fold_lanes(n);
    let mut suffix = Args::new();
    if let Some(d) = divisor {
        suffix.push(d);
    }
    // Short inputs whose pass 1 is one block, and whose second pass folds the partials
    // plainly with the same operation: one launch, the partials combined by `reduce`.
    let plain_combine = combine.fold == pass1.fold
        && combine.inputs == 1
        && combine.body.is_empty()
        && combine.preamble.is_empty()
        && combine.params.is_empty();
    if lanes > 1 && lanes <= BLOCK && plain_combine && !pass1.divide {
        let key = OpKey {
            variant: 1 + u32::from(combine.divide),
            ..OpKey::buffers(pass1.name, T::TY)
        };
        let fused = program(key, || fold_block_source(pass1, T::TY, combine.divide))?;
        return launch_fold(
            vm,
            &fused,
            fold_config(lanes),
            prefix,
            out,
            n,
            off,
            suffix.as_slice(),
        );
    }
    let first = program(OpKey::buffers(pass1.name, T::TY), || {
        fold_source(pass1, T::TY)
    })?;
    // One lane's pass 1 is the whole result when pass 1 is the combine itself (a plain fold).
    if lanes == 1 && pass1 == combine && divisor.is_none() {
        return launch_fold(
            vm,
            &first,
            LaunchConfig::new(1, 1),
            prefix,
            out,
            n,
            off,
            &[],
        );
    }
    let scratch = Scratch::<T>::new(vm, lanes as usize)?;
    let part = scratch.buf().any();
    launch_fold(vm, &first, fold_config(lanes), prefix, part, n, 0, &[])?;
    let second = program(OpKey::buffers(combine.name, T::TY), || {
        fold_source(combine, T::TY)
    })?;
    launch_fold(
        vm,
        &second,
        LaunchConfig::new(1, 1),
        &[Arg::Buffer(part)],
        out,
        lanes as usize,
        off,
        suffix.as_slice(),
    )
}

/// Checks `out` (at least one element) and the input length.
pub(crate) fn check_out<T: Num>(op: &'static str, n: usize, out: &Buffer<T>) -> Result<(), Error> {
    max_len(op, n)?;
    if out.is_empty() {
        return Err(shape(op, "`out` needs at least one element".into()));
    }
    Ok(())
}

fn reduce<T: Num>(
    vm: &Vm,
    op: &'static str,
    fold: &'static str,
    x: &Buffer<T>,
    out: &Buffer<T>,
) -> Result<(), Error> {
    check_out(op, x.len(), out)?;
    if x.is_empty() && fold != "add" {
        return Err(shape(op, "the input is empty".into()));
    }
    let spec = plain(op, fold, T::TY);
    two_pass::<T>(
        vm,
        &spec,
        &[Arg::from(x)],
        &spec,
        None,
        out.any(),
        0,
        x.len(),
    )
}

/// `out[0] = x[0] + x[1] + ...` (0 for an empty `x`). For floats the fold starts from
/// `+0.0`, so a sum of only `-0.0`s is `+0.0` (IEEE addition from `x[0]` would keep `-0.0`).
pub fn sum<T: Num>(vm: &Vm, x: &Buffer<T>, out: &Buffer<T>) -> Result<(), Error> {
    reduce(vm, "sum", "add", x, out)
}

/// `out[0] =` the smallest element of `x` (non-empty).
pub fn min<T: Num>(vm: &Vm, x: &Buffer<T>, out: &Buffer<T>) -> Result<(), Error> {
    reduce(vm, "reduce_min", "min", x, out)
}

/// `out[0] =` the largest element of `x` (non-empty).
pub fn max<T: Num>(vm: &Vm, x: &Buffer<T>, out: &Buffer<T>) -> Result<(), Error> {
    reduce(vm, "reduce_max", "max", x, out)
}
