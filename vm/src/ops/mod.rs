//! The operations library: the predecessor's 22 operations as ISA programs.
//!
//! Every operation is an ordinary holovm program (no native shortcut): the first call with a
//! given *shape of call* (operation, element type, and whether each operand is a buffer or a
//! boundary-pool class) generates the program's `.hasm` text, assembles and verifies it once,
//! and caches it process-wide; later calls only look it up and launch it through the normal
//! tiering ([`Tier`](crate::Tier)), so hot operations run as JIT code. Lengths are launch
//! arguments, never part of the program, so one program serves every length.
//!
//! | module | operations | types |
//! |---|---|---|
//! | [`math`] | `vector_add vector_sub vector_mul vector_div min max clip scalar_add scalar_mul` | [`Num`]: i32 i64 u32 u64 f32 f64 |
//! | [`math`] | `abs neg relu` | [`Signed`]: i32 i64 f32 f64 |
//! | [`activation`] | `sigmoid tanh gelu softmax` | [`Float`]: f32 f64 |
//! | [`reduce`] | `sum min max` | [`Num`] |
//! | [`linalg`] | `gemm matvec` | [`Num`] |
//! | [`loss`] | `mse cross_entropy binary_cross_entropy` | [`Float`] |
//! | [`memory`] | `copy fill` | every [`Element`](crate::Element) type |
//!
//! Operands are [`Operand`]s: a [`Buffer`](crate::Buffer) or, for the element-wise
//! operations, `copy` and `fill` (where the predecessor supported it), a boundary-pool class
//! ([`Pool`]). Shapes and types are checked before anything runs
//! ([`Error::Shape`](crate::Error::Shape)); faults
//! while running (an integer division by zero in `vector_div`) are ordinary
//! [`Trap`](crate::Trap)s.
//!
//! # How the programs are structured
//! - **Element-wise** (math, sigmoid, tanh, gelu, copy, fill): one lane per element,
//!   `grid = ceil(n / 256)`, `block = 256`; every access is `[buf + %gid*size]`, so the JIT
//!   runs groups of lanes as SIMD vectors with one bounds check per group. Composite
//!   functions (gelu) are one fused program: one pass over memory instead of eight launches.
//! - **Reductions** (sum, min, max, the losses, softmax's max and sum): two launches and no
//!   barrier. Pass 1 runs `L` lanes (a multiple of 32, about `4 sqrt(n)`, at most 4096); lane
//!   `g` folds the lane-interleaved elements `g, g + L, g + 2L, ...` (a grid-stride loop whose
//!   loads are contiguous across the lanes of a vector group) into its own partial result in
//!   a scratch buffer. Pass 2 is the same program on one lane over the `L` partials, in
//!   ascending order. Float sums are therefore not sequential sums: the error bound is that
//!   of a sum of `n / L + L` terms. Inputs whose `L` lanes fit one block (up to about 4,096
//!   elements) take one launch instead: the block's `reduce` folds the partials in the same
//!   order (20-25% faster for a sum, min or max of 1,024 elements).
//! - **softmax**: max reduction (2 launches), one grid-stride pass writing `exp(x - max)` and
//!   per-lane partial sums, the sum's second pass, and one element-wise division: five
//!   launches, two passes over `x` and two over `y`.
//! - **gemm**: each block computes a tile of 4 rows by `block` columns of `C`; lane `j`
//!   keeps 4 accumulators and, for each `p`, loads `B[p, j]` (contiguous across lanes) and
//!   the 4 values `A[i..i+4, p]` (the same in every lane), then 4 fused multiply-adds in
//!   increasing `p`. Rows past the last multiple of 4 run a 1-row variant. **matvec**: one
//!   lane per row, fused multiply-adds in increasing column order.
//!
//! Element-wise integer arithmetic wraps, as in the ISA; float results follow docs/ISA.md.
//!
//! ```
//! use holovm::{ops, Vm};
//! let vm = Vm::new();
//! let a = vm.alloc_from(&[1.0f32, 2.0, 3.0])?;
//! let b = vm.alloc_from(&[10.0f32, 20.0, 30.0])?;
//! let c = vm.alloc::<f32>(3)?;
//! ops::math::vector_add(&vm, &a, &b, &c)?;
//! assert_eq!(vm.read(&c)?, vec![11.0, 22.0, 33.0]);
//!
//! let total = vm.alloc::<f32>(1)?;
//! ops::reduce::sum(&vm, &c, &total)?;
//! assert_eq!(vm.read(&total)?, vec![66.0]);
//! # Ok::<(), holovm::Error>(())
//! ```

pub mod activation;
mod cache;
mod kernel;
pub mod linalg;
pub mod loss;
pub mod math;
pub mod memory;
mod operand;
pub mod reduce;
mod scratch;
mod types;

pub use cache::{cached_programs, programs, programs_built};
pub use operand::{Operand, Pool};
pub use types::{Float, Num, Signed};
