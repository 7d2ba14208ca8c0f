//! Linear algebra: `gemm` and `matvec` on row-major matrices, for every [`Num`] type.
//!
//! Float products are accumulated with fused multiply-adds in increasing inner index,
//! starting from zero, so results are bit-identical to the loop
//! `acc = a.mul_add(b, acc)`; integers wrap.
//!
//! ```
//! use holovm::{ops::linalg, Vm};
//! let vm = Vm::new();
//! // [1 2; 3 4] x [5 6; 7 8]
//! let a = vm.alloc_from(&[1i64, 2, 3, 4])?;
//! let b = vm.alloc_from(&[5i64, 6, 7, 8])?;
//! let c = vm.alloc::<i64>(4)?;
//! linalg::gemm(&vm, &a, &b, &c, 2, 2, 2)?;
//! assert_eq!(vm.read(&c)?, vec![19, 22, 43, 50]);
//! let x = vm.alloc_from(&[1i64, -1])?;
//! let y = vm.alloc::<i64>(2)?;
//! linalg::matvec(&vm, &a, &x, &y, 2, 2)?;
//! assert_eq!(vm.read(&y)?, vec![-1, -1]);
//! # Ok::<(), holovm::Error>(())
//! ```

use std::fmt::Write;

use holovm_isa::{LaunchConfig, Ty};

use super::cache::{program, OpKey};
use super::kernel::{max_len, shape, Args};
use super::reduce::identity;
use super::Num;
use crate::{Arg, Buffer, Error, Vm};

/// Rows of `C` per block in the main gemm kernel.
const ROWS: u32 = 4;

/// `rows * cols`, checked against the longest supported operand.
fn elements(op: &'static str, rows: usize, cols: usize) -> Result<usize, Error> {
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| shape(op, format!("{rows} x {cols} elements overflow")))?;
    max_len(op, n)?;
    Ok(n)
}

fn check(op: &'static str, name: &str, len: usize, rows: usize, cols: usize) -> Result<(), Error> {
    let want = elements(op, rows, cols)?;
    if len != want {
        return Err(shape(
            op,
            format!("`{name}` has {len} elements, a {rows} x {cols} matrix needs {want}"),
        ));
    }
    Ok(())
}

/// The gemm kernel computing `rows` rows of C per block.
fn gemm_source(ty: Ty, rows: u32) -> String {
    let t = ty.name();
    let size = ty.size();
    let zero = identity("add", ty);
    let mut s = format!(
        "; gemm{rows} on {t}: block (g, tile) computes C[row0 + {rows} g + r, tile * bdim + lane] for r < {rows}\n\
         .kernel gemm{rows}_{t}\n.param a: ptr {t}\n.param b: ptr {t}\n.param c: ptr {t}\n\
         .param n: u32\n.param k: u32\n.param tiles: u32\n.param row0: u32\n\
         \x20   div.u32 r1, %block, tiles       ; row group\n\
         \x20   rem.u32 r2, %block, tiles       ; column tile\n\
         \x20   mul.u32 r2, r2, %bdim           ; the tile's first column\n\
         \x20   add.u32 r3, r2, %lane           ; j (every register has one kind of value:\n\
         \x20                                   ; uniform or lane-affine, for the JIT)\n\
         \x20   setp.ge.u32 p0, r3, n\n    @p0 bra @done\n\
         \x20   mul.u32 r4, r1, {rows}\n\
         \x20   add.u32 r4, r4, row0            ; i0\n"
    );
    for r in 0..rows {
        let _ = writeln!(s, "    mov_imm.{t} r{}, {zero}", 10 + r);
    }
    let _ = write!(
        s,
        "    setp.eq.u32 p1, k, 0\n    @p1 bra @store\n\
         \x20   mul.u32 r6, r4, k               ; A index of [i0, 0]\n\
         \x20   mov.u32 r7, r3                  ; B index of [0, j]\n\
         \x20   mov.u32 r8, k\n\
         inner:\n    ldg.{t} r20, [b + r7*{size}]\n    mov.u32 r9, r6\n"
    );
    for r in 0..rows {
        if r > 0 {
            let _ = writeln!(s, "    add.u32 r9, r9, k");
        }
        let _ = write!(
            s,
            "    ldg.{t} r21, [a + r9*{size}]\n    fma.{t} r{acc}, r21, r20, r{acc}\n",
            acc = 10 + r
        );
    }
    let _ = write!(
        s,
        "    add.u32 r6, r6, 1\n    add.u32 r7, r7, n\n    loop r8, @inner\n\
         store:\n    mul.u32 r24, r4, n\n    add.u32 r5, r24, r3\n"
    );
    for r in 0..rows {
        if r > 0 {
            let _ = writeln!(s, "    add.u32 r5, r5, n");
        }
        let _ = writeln!(s, "    stg.{t} [c + r5*{size}], r{}", 10 + r);
    }
    s.push_str("done:\n    exit\n");
    s
}

/// `C = A B` for row-major `A` (m x k), `B` (k x n) and `C` (m x n):
/// `C[i, j] = sum_p A[i, p] B[p, j]` in increasing `p`. `C` must not be `A` or `B`.
///
/// Each block computes 4 rows by `block` columns of `C` (`block` = `n` rounded up to 32, at
/// most 256): lane `j` loads `B[p, j]` (contiguous across lanes) and the four `A[i, p]` (the
/// same in every lane) and updates four accumulators. The last `m mod 4` rows run a
/// one-row variant (a second launch).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Num>(
    vm: &Vm,
    a: &Buffer<T>,
    b: &Buffer<T>,
    c: &Buffer<T>,
    m: usize,
    k: usize,
    n: usize,
) -> Result<(), Error> {
    const OP: &str = "gemm";
    check(OP, "a", a.len(), m, k)?;
    check(OP, "b", b.len(), k, n)?;
    check(OP, "c", c.len(), m, n)?;
    if c == a || c == b {
        return Err(shape(OP, "`c` must not be `a` or `b`".into()));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    let block = (n.div_ceil(32) * 32).min(256) as u32;
    let tiles = n.div_ceil(block as usize);
    let full = m / ROWS as usize * ROWS as usize;
    for (rows, row0, count) in [(ROWS, 0, full), (1, full, m - full)] {
        if count == 0 {
            continue;
        }
        let key = OpKey {
            variant: rows,
            ..OpKey::buffers(OP, T::TY)
        };
        let program = program(key, || gemm_source(T::TY, rows))?;
        let grid = (count / rows as usize)
            .checked_mul(tiles)
            .filter(|&g| g <= u32::MAX as usize)
            .ok_or_else(|| shape(OP, format!("{m} x {n} is too large a grid")))?;
        let mut args = Args::new();
        args.push(a.into())
            .push(b.into())
            .push(c.into())
            .push(Arg::scalar(n as u32))
            .push(Arg::scalar(k as u32))
            .push(Arg::scalar(tiles as u32))
            .push(Arg::scalar(row0 as u32));
        vm.launch(
            &program,
            LaunchConfig::new(grid as u32, block),
            args.as_slice(),
        )?;
    }
    Ok(())
}

/// `y = A x` for a row-major `A` (m x k): `y[i] = sum_j A[i, j] x[j]` in increasing `j`. One
/// lane per row. `y` must not be `a` or `x`.
pub fn matvec<T: Num>(
    vm: &Vm,
    a: &Buffer<T>,
    x: &Buffer<T>,
    y: &Buffer<T>,
    m: usize,
    k: usize,
) -> Result<(), Error> {
    const OP: &str = "matvec";
    check(OP, "a", a.len(), m, k)?;
    check(OP, "x", x.len(), k, 1)?;
    check(OP, "y", y.len(), m, 1)?;
    if y == a || y == x {
        return Err(shape(OP, "`y` must not be `a` or `x`".into()));
    }
    if m == 0 {
        return Ok(());
    }
    let ty = T::TY;
    let program = program(OpKey::buffers(OP, ty), || {
        let t = ty.name();
        let size = ty.size();
        let zero = identity("add", ty);
        format!(
            "; matvec on {t}: lane i computes y[i] = sum_j a[i k + j] x[j]\n\
             .kernel matvec_{t}\n.param a: ptr {t}\n.param x: ptr {t}\n.param y: ptr {t}\n\
             .param m: u32\n.param k: u32\n\
             \x20   setp.ge.u32 p0, %gid, m\n    @p0 bra @done\n    mov_imm.{t} r1, {zero}\n\
             \x20   setp.eq.u32 p1, k, 0\n    @p1 bra @store\n\
             \x20   mul.u32 r2, %gid, k             ; index of a[i, 0]\n\
             \x20   mov_imm.u32 r3, 0               ; j\n    mov.u32 r4, k\n\
             row:\n    ldg.{t} r5, [a + r2*{size}]\n    ldg.{t} r6, [x + r3*{size}]\n\
             \x20   fma.{t} r1, r5, r6, r1\n    add.u32 r2, r2, 1\n    add.u32 r3, r3, 1\n\
             \x20   loop r4, @row\nstore:\n    stg.{t} [y + %gid*{size}], r1\ndone:\n    exit\n"
        )
    })?;
    vm.launch(
        &program,
        LaunchConfig::cover(m as u64, 64),
        &[
            a.into(),
            x.into(),
            y.into(),
            Arg::scalar(m as u32),
            Arg::scalar(k as u32),
        ],
    )?;
    Ok(())
}
