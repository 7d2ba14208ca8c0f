//! The generated kernels' common shapes (element-wise maps and two-pass folds) and the
//! launch helpers the operations share.

use std::fmt::Write;

use holovm_isa::{LaunchConfig, Program, Ty};

use super::operand::Slot;
use crate::{AnyBuffer, Arg, Error, Vm};

/// Lanes per block of the element-wise kernels.
pub(crate) const BLOCK: u32 = 256;

/// The longest operand, in elements: lane indices and a grid-stride index (at most `n` plus
/// 4096 lanes) stay below 2^32.
pub(crate) const MAX_LEN: usize = u32::MAX as usize - 65_536;

/// Most lanes of the first pass of a fold.
const MAX_FOLD_LANES: u32 = 4096;

/// Launch arguments without a heap allocation (no kernel here takes more than 8).
pub(crate) struct Args {
    args: [Arg; 8],
    len: usize,
}

impl Args {
    pub fn new() -> Args {
        Args {
            args: [Arg::Scalar {
                ty: Ty::U32,
                bits: 0,
            }; 8],
            len: 0,
        }
    }

    pub fn push(&mut self, a: Arg) -> &mut Args {
        // The generators below declare at most 8 parameters; a 9th would be a bug caught by
        // the argument-count check of the launch (the slice is short).
        if let Some(slot) = self.args.get_mut(self.len) {
            *slot = a;
            self.len += 1;
        }
        self
    }

    pub fn extend(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Args {
        for a in args {
            self.push(a);
        }
        self
    }

    /// The buffers among `slots`, in order (pool classes are not arguments).
    pub fn buffers(&mut self, slots: &[Slot]) -> &mut Args {
        for s in slots {
            if let Slot::Buffer(b) = s {
                self.push(Arg::Buffer(*b));
            }
        }
        self
    }

    pub fn as_slice(&self) -> &[Arg] {
        &self.args[..self.len]
    }
}

/// `n` as the `u32` launch argument.
pub(crate) fn n_arg(n: usize) -> Arg {
    Arg::scalar(n as u32)
}

/// Checks that every operand has the first one's length (and that it is not too long), and
/// returns it.
pub(crate) fn same_len(op: &'static str, lens: &[(&str, usize)]) -> Result<usize, Error> {
    let (first, n) = lens.first().copied().unwrap_or(("", 0));
    for &(name, len) in lens {
        if len != n {
            return Err(shape(
                op,
                format!("`{name}` has {len} elements, `{first}` has {n}"),
            ));
        }
    }
    max_len(op, n)?;
    Ok(n)
}

/// Checks the longest supported length.
pub(crate) fn max_len(op: &'static str, n: usize) -> Result<(), Error> {
    if n > MAX_LEN {
        return Err(shape(
            op,
            format!("{n} elements is more than the supported {MAX_LEN}"),
        ));
    }
    Ok(())
}

/// A shape error of `op`.
pub(crate) fn shape(op: &'static str, reason: String) -> Error {
    Error::Shape { op, reason }
}

/// The address of element `index` (a register or `%gid`) of an operand.
pub(crate) fn addr(slot: Slot, name: &str, index: &str, ty: Ty) -> String {
    let size = ty.size();
    match slot {
        Slot::Buffer(_) => format!("[{name} + {index}*{size}]"),
        Slot::Pool(class) => format!("[phi({class}, 0, 0) + {index}*{size}]"),
    }
}

/// An element-wise kernel: lane `%gid < n` loads input `i` into `r{i}`, runs `body` (which
/// leaves the result in `r8`; `{t}` stands for the type name) and stores `r8` to the
/// output. Parameters: the buffer inputs (`in0`, `in1`, ...), the output `out` if it is a
/// buffer, the `scalars` (of the element type), then `n: u32`.
pub(crate) fn map_source(
    name: &str,
    ty: Ty,
    ins: &[Slot],
    out: Slot,
    scalars: &[&str],
    body: &str,
) -> String {
    let t = ty.name();
    let mut s = format!("; {name} on {t}: one lane per element\n.kernel {name}_{t}\n");
    for (i, slot) in ins.iter().enumerate() {
        if let Slot::Buffer(_) = slot {
            let _ = writeln!(s, ".param in{i}: ptr {t}");
        }
    }
    if let Slot::Buffer(_) = out {
        let _ = writeln!(s, ".param out: ptr {t}");
    }
    for name in scalars {
        let _ = writeln!(s, ".param {name}: {t}");
    }
    s.push_str(".param n: u32\n    setp.ge.u32 p0, %gid, n\n    @p0 bra @done\n");
    for (i, slot) in ins.iter().enumerate() {
        let a = addr(*slot, &format!("in{i}"), "%gid", ty);
        let _ = writeln!(s, "    ldg.{t} r{i}, {a}");
    }
    s.push_str(&body.replace("{t}", t));
    let a = addr(out, "out", "%gid", ty);
    let _ = write!(s, "    stg.{t} {a}, r8\ndone:\n    exit\n");
    s
}

/// Launches an element-wise kernel of [`map_source`] over `n` elements, with the values of
/// its scalar parameters (name, value).
pub(crate) fn launch_map(
    vm: &Vm,
    program: &Program,
    ins: &[Slot],
    out: Slot,
    scalars: &[(&str, Arg)],
    n: usize,
) -> Result<(), Error> {
    if n == 0 {
        return Ok(());
    }
    let mut args = Args::new();
    args.buffers(ins)
        .buffers(&[out])
        .extend(scalars.iter().map(|&(_, a)| a))
        .push(n_arg(n));
    vm.launch(
        program,
        LaunchConfig::cover(n as u64, BLOCK),
        args.as_slice(),
    )?;
    Ok(())
}

/// How a fold kernel combines and finishes.
#[derive(PartialEq, Eq)]
pub(crate) struct FoldSpec<'a> {
    /// Kernel name.
    pub name: &'static str,
    /// Buffer inputs `in0`, `in1`, ... loaded into `r0`, `r1`, ... at each index.
    pub inputs: usize,
    /// More parameter declarations after the inputs (`.param y: ptr {t}` lines).
    pub params: &'a str,
    /// Code run once before the loop (registers r23..r29 are free for it).
    pub preamble: &'a str,
    /// Per element: computes the value to fold into `r8` from the inputs (`{t}`: the type).
    /// Empty to fold `r0` itself.
    pub body: &'a str,
    /// `add`, `min` or `max`.
    pub fold: &'a str,
    /// The fold's identity as an immediate literal.
    pub identity: &'a str,
    /// Divide the result by the scalar parameter `d` before storing it.
    pub divide: bool,
}

/// A fold kernel (one pass of a two-pass reduction): lane `g` of the `L` lanes folds the
/// values at indices `g, g + L, g + 2L, ... < n` in that order, starting from the identity,
/// and stores the result to `out[off + g]`. Parameters: `in0`, ..., `out`, `n: u32`,
/// `off: u32`, and `d` (element type) when the spec divides.
pub(crate) fn fold_source(spec: &FoldSpec<'_>, ty: Ty) -> String {
    fold_kernel(spec, ty, None)
}

/// Both passes of a two-pass reduction in one launch of one block of `L` lanes: pass 1 as
/// [`fold_source`], then a `reduce` of the lanes' partials (in lane order, as the second
/// pass folds them), divided by `d` if `divide`, stored by lane 0 to `out[off]`. For short
/// inputs, where a second launch and its scratch buffer cost more than the fold.
pub(crate) fn fold_block_source(spec: &FoldSpec<'_>, ty: Ty, divide: bool) -> String {
    fold_kernel(spec, ty, Some(divide))
}

/// [`fold_source`] (`block: None`) or [`fold_block_source`] (`Some(divide)`).
fn fold_kernel(spec: &FoldSpec<'_>, ty: Ty, block: Option<bool>) -> String {
    let t = ty.name();
    let size = ty.size();
    let FoldSpec {
        name,
        inputs,
        params,
        preamble,
        body,
        fold,
        identity,
        divide,
    } = *spec;
    let (divide, what, suffix) = match block {
        None => (divide, "stores out[off + g]", ""),
        Some(d) => (d, "the block reduces the partials into out[off]", "_block"),
    };
    let mut s = format!(
        "; {name} on {t}: lane g folds elements g, g + L, g + 2L, ... (L lanes), {what}\n\
         .kernel {name}_{t}{suffix}\n"
    );
    for i in 0..inputs {
        let _ = writeln!(s, ".param in{i}: ptr {t}");
    }
    s.push_str(&params.replace("{t}", t));
    let _ = writeln!(s, ".param out: ptr {t}\n.param n: u32\n.param off: u32");
    if divide {
        let _ = writeln!(s, ".param d: {t}");
    }
    s.push_str(&preamble.replace("{t}", t));
    let _ = write!(
        s,
        "    mul.u32 r30, %gdim, %bdim\n    mov_imm.{t} r20, {identity}\n    mov.u32 r21, %gid\n\
         next:\n    setp.ge.u32 p0, r21, n\n    @p0 bra @store\n"
    );
    for i in 0..inputs {
        let _ = writeln!(s, "    ldg.{t} r{i}, [in{i} + r21*{size}]");
    }
    let value = if body.is_empty() {
        "r0"
    } else {
        s.push_str(&body.replace("{t}", t));
        "r8"
    };
    let _ = write!(
        s,
        "    {fold}.{t} r20, r20, {value}\n    add.u32 r21, r21, r30\n    bra @next\nstore:\n"
    );
    if block.is_some() {
        let _ = write!(
            s,
            "    reduce.{fold}.{t} r20, r20\n    setp.ne.u32 p1, %lane, 0\n    @p1 bra @done\n"
        );
    }
    if divide {
        let _ = writeln!(s, "    div.{t} r20, r20, d");
    }
    // Lane 0 of the block stores the block's result at `off`, every lane of pass 1 its own.
    let (index, done) = match block {
        Some(_) => ("mov.u32 r22, off", "done:\n"),
        None => ("add.u32 r22, %gid, off", ""),
    };
    let _ = write!(
        s,
        "    {index}\n    stg.{t} [out + r22*{size}], r20\n{done}    exit\n"
    );
    s
}

/// Lanes of the first pass of a fold over `n` elements: a multiple of 32 (a whole number of
/// blocks above 256) near `4 sqrt(n)`, between 32 and 4096; 1 for short inputs.
pub(crate) fn fold_lanes(n: usize) -> u32 {
    if n <= 128 {
        return 1;
    }
    let l = ((4.0 * (n as f64).sqrt()) as u32 / 32 * 32).clamp(32, MAX_FOLD_LANES);
    if l > BLOCK {
        l / BLOCK * BLOCK
    } else {
        l
    }
}

/// The launch shape of `lanes` fold lanes.
pub(crate) fn fold_config(lanes: u32) -> LaunchConfig {
    if lanes <= BLOCK {
        LaunchConfig::new(1, lanes)
    } else {
        LaunchConfig::new(lanes / BLOCK, BLOCK)
    }
}

/// Runs a fold kernel: `prefix` arguments (its inputs and extra parameters), then `out`,
/// `n`, `off`, `suffix`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn launch_fold(
    vm: &Vm,
    program: &Program,
    config: LaunchConfig,
    prefix: &[Arg],
    out: AnyBuffer,
    n: usize,
    off: u32,
    suffix: &[Arg],
) -> Result<(), Error> {
    let mut args = Args::new();
    args.extend(prefix.iter().copied())
        .push(Arg::Buffer(out))
        .push(n_arg(n))
        .push(Arg::scalar(off))
        .extend(suffix.iter().copied());
    vm.launch(program, config, args.as_slice())?;
    Ok(())
}
