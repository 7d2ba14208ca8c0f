//! Instructions, operands and addressing modes.

use crate::{Pred, Reg, Special, Ty};

/// A source operand: a register, a special register, a scalar launch parameter or an
/// immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Src {
    /// A general register.
    Reg(Reg),
    /// A read-only special register (`%lane`, `%gid`, ...).
    Special(Special),
    /// A scalar parameter, by parameter index. Its declared type must be the operand's type.
    Param(u8),
    /// An immediate: the value's bit pattern in the operand's type, zero-extended to 64 bits
    /// (`-1` as `i32` is `0xffff_ffff`; `1.5` as `f32` is `1.5f32.to_bits()`). Bits above the
    /// type's width must be zero.
    Imm(u64),
}

impl Src {
    /// The general register, if the operand is one.
    pub fn reg(self) -> Option<Reg> {
        match self {
            Src::Reg(r) => Some(r),
            _ => None,
        }
    }

    /// The operand with its register, if it is one, renamed by `read`.
    fn map_reg(self, read: &mut dyn FnMut(Reg) -> Reg) -> Src {
        match self {
            Src::Reg(x) => Src::Reg(read(x)),
            other => other,
        }
    }
}

/// A global memory address. See docs/ISA.md, "Addressing modes", for the exact byte
/// semantics of each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// `[buf + 16]`: a buffer parameter plus a constant byte offset.
    BufferOffset {
        /// The buffer parameter's index.
        buf: u8,
        /// Bytes from the buffer's start.
        offset: u32,
    },
    /// `[buf + r3*4]`: a buffer parameter plus `index * scale` bytes; `index` is a register or
    /// special register read as `u64`; `scale` is 1, 2, 4 or 8.
    BufferIndex {
        /// The buffer parameter's index.
        buf: u8,
        /// The element index.
        index: Src,
        /// Bytes per index step.
        scale: u8,
    },
    /// `[phi(class, page, byte)]` or `[phi(class, page, byte) + r1*4]`: the boundary pool at
    /// `class * 12288 + page * 256 + byte`, plus an optional scaled index.
    Phi {
        /// The pool class, 0..96 (12,288 bytes each).
        class: u8,
        /// The 256-byte page in the class, 0..48.
        page: u8,
        /// The byte in the page.
        byte: u8,
        /// An index and its scale (1, 2, 4 or 8), added in bytes.
        index: Option<(Src, u8)>,
    },
    /// `[r5 + 8]`: `base` holds a global pointer (see docs/ISA.md), plus a signed constant.
    RegisterIndirect {
        /// The register holding the pointer.
        base: Reg,
        /// Bytes added to the pointer.
        offset: i32,
    },
    /// `[r5 + r6]`: `handle` holds a global pointer, `offset` a `u64` byte offset.
    RegisterIndirectComputed {
        /// The register holding the pointer.
        handle: Reg,
        /// The register holding the byte offset.
        offset: Reg,
    },
}

/// A per-block shared memory address: `[shared + offset]`, `[shared + r1*4]` or
/// `[shared + r1*4 + offset]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SharedAddr {
    /// Optional scaled index (register or special register, read as `u64`; scale 1, 2, 4, 8).
    pub index: Option<(Src, u8)>,
    /// Constant byte offset.
    pub offset: u32,
}

/// Two-operand arithmetic and logic operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BinOp {
    /// `add`: sum (integers wrap).
    Add = 0,
    /// `sub`: difference (integers wrap).
    Sub = 1,
    /// `mul`: product (integers wrap).
    Mul = 2,
    /// `div`: quotient (integers round toward zero; division by zero and signed `MIN / -1`
    /// trap).
    Div = 3,
    /// `rem`: integer remainder with the sign of `a` (traps as `div` does).
    Rem = 4,
    /// `min`: the smaller value (floats: IEEE 754 `minimum`).
    Min = 5,
    /// `max`: the larger value (floats: IEEE 754 `maximum`).
    Max = 6,
    /// `and`: bitwise and.
    And = 7,
    /// `or`: bitwise or.
    Or = 8,
    /// `xor`: bitwise exclusive or.
    Xor = 9,
    /// `shl`: shift left (0 past the width).
    Shl = 10,
    /// `shr`: shift right, arithmetic for signed types (past the width: 0 or the sign).
    Shr = 11,
}

/// One-operand operations, including the transcendentals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UnOp {
    /// `abs`: absolute value (`abs(MIN)` wraps to `MIN`).
    Abs = 0,
    /// `neg`: negation (integers wrap).
    Neg = 1,
    /// `not`: bitwise complement.
    Not = 2,
    /// `exp`: e^x.
    Exp = 3,
    /// `log`: natural logarithm.
    Log = 4,
    /// `log2`: base-2 logarithm.
    Log2 = 5,
    /// `sqrt`: square root, correctly rounded.
    Sqrt = 6,
    /// `rsqrt`: `1 / sqrt(x)`.
    Rsqrt = 7,
    /// `sin`: sine.
    Sin = 8,
    /// `cos`: cosine.
    Cos = 9,
    /// `tanh`: hyperbolic tangent.
    Tanh = 10,
    /// `sigmoid`: `1 / (1 + exp(-x))`.
    Sigmoid = 11,
}

/// Comparison of `SETP`. Signedness and float-ness come from the instruction's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cmp {
    /// `eq`: equal.
    Eq = 0,
    /// `ne`: not equal (true when either float is NaN).
    Ne = 1,
    /// `lt`: less than.
    Lt = 2,
    /// `le`: less than or equal.
    Le = 3,
    /// `gt`: greater than.
    Gt = 4,
    /// `ge`: greater than or equal.
    Ge = 5,
}

/// The combining operation of a block-wide `REDUCE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RedOp {
    /// `add`: the sum.
    Add = 0,
    /// `min`: the smallest value.
    Min = 1,
    /// `max`: the largest value.
    Max = 2,
    /// `mul`: the product.
    Mul = 3,
}

/// A branch guard: `@p0` (branch where p0 is true) or `@!p0` (where it is false).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Guard {
    /// The predicate register tested.
    pub pred: Pred,
    /// Branch where the predicate is false (`@!p`) instead of true.
    pub negate: bool,
}

/// One instruction. Branch targets are instruction indices (labels are resolved by the
/// assembler).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inst {
    /// `ldg.T rD, [addr]`: load from global memory (buffers or the boundary pool).
    Ldg {
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// The global address loaded from.
        addr: Addr,
    },
    /// `stg.T [addr], src`: store to global memory.
    Stg {
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The value stored.
        src: Src,
        /// The global address stored to.
        addr: Addr,
    },
    /// `lds.T rD, [shared + ...]`: load from the block's shared memory.
    Lds {
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// The shared-memory address loaded from.
        addr: SharedAddr,
    },
    /// `sts.T [shared + ...], src`: store to the block's shared memory.
    Sts {
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The value stored.
        src: Src,
        /// The shared-memory address stored to.
        addr: SharedAddr,
    },
    /// `mov.T rD, src` (`mov_imm.T rD, imm` when `src` is an immediate).
    Mov {
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// The value moved.
        src: Src,
    },
    /// `cvt.TO.FROM rD, src`: convert between types (Rust `as` semantics).
    Cvt {
        /// The result type.
        to: Ty,
        /// The source type.
        from: Ty,
        /// The destination register.
        dst: Reg,
        /// The value converted.
        src: Src,
    },
    /// `op.T rD, a, b`.
    Bin {
        /// The operation.
        op: BinOp,
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// The first operand.
        a: Src,
        /// The second operand.
        b: Src,
    },
    /// `op.T rD, a`.
    Un {
        /// The operation.
        op: UnOp,
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// The operand.
        a: Src,
    },
    /// `fma.T rD, a, b, c`: `a * b + c` with a single rounding for floats.
    Fma {
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// The first factor.
        a: Src,
        /// The second factor.
        b: Src,
        /// The addend.
        c: Src,
    },
    /// `setp.CMP.T pD, a, b`.
    Setp {
        /// The comparison.
        cmp: Cmp,
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination predicate.
        dst: Pred,
        /// The first operand.
        a: Src,
        /// The second operand.
        b: Src,
    },
    /// `sel.T rD, p, a, b`: `rD = p ? a : b`.
    Sel {
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// The predicate that chooses `a`.
        pred: Pred,
        /// The value where the predicate is true.
        a: Src,
        /// The value where the predicate is false.
        b: Src,
    },
    /// `bra @label` or `@p bra @label` / `@!p bra @label`.
    Bra {
        /// The instruction index branched to.
        target: u32,
        /// The predicate the branch depends on (`None`: always taken).
        guard: Option<Guard>,
    },
    /// `loop rC, @label`: if `rC > 1` then `rC -= 1` and branch, else `rC = 0` and fall through.
    Loop {
        /// The count register.
        counter: Reg,
        /// The instruction index branched to.
        target: u32,
    },
    /// `call @label`: push the return address and branch.
    Call {
        /// The instruction index branched to.
        target: u32,
    },
    /// `ret`: pop a return address and branch to it.
    Ret,
    /// `exit`: the lane finishes.
    Exit,
    /// `bar.sync`: wait until every live lane of the block arrives.
    BarSync,
    /// `memfence`: orders this lane's memory accesses (see docs/ISA.md).
    MemFence,
    /// `reduce.OP.T rD, src`: combine `src` over every live lane of the block, in lane order;
    /// every lane receives the result.
    Reduce {
        /// How the lanes' values combine.
        op: RedOp,
        /// The type the instruction reads and writes.
        ty: Ty,
        /// The destination register.
        dst: Reg,
        /// This lane's value.
        src: Src,
    },
}

impl BinOp {
    /// Every binary operation, in encoding order.
    pub const ALL: [BinOp; 12] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::Rem,
        BinOp::Min,
        BinOp::Max,
        BinOp::And,
        BinOp::Or,
        BinOp::Xor,
        BinOp::Shl,
        BinOp::Shr,
    ];

    /// The mnemonic.
    pub const fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::Rem => "rem",
            BinOp::Min => "min",
            BinOp::Max => "max",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Xor => "xor",
            BinOp::Shl => "shl",
            BinOp::Shr => "shr",
        }
    }

    /// True when the operation is defined on integer types only.
    pub const fn int_only(self) -> bool {
        matches!(
            self,
            BinOp::Rem | BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Shl | BinOp::Shr
        )
    }
}

impl UnOp {
    /// Every unary operation, in encoding order.
    pub const ALL: [UnOp; 12] = [
        UnOp::Abs,
        UnOp::Neg,
        UnOp::Not,
        UnOp::Exp,
        UnOp::Log,
        UnOp::Log2,
        UnOp::Sqrt,
        UnOp::Rsqrt,
        UnOp::Sin,
        UnOp::Cos,
        UnOp::Tanh,
        UnOp::Sigmoid,
    ];

    /// The mnemonic.
    pub const fn name(self) -> &'static str {
        match self {
            UnOp::Abs => "abs",
            UnOp::Neg => "neg",
            UnOp::Not => "not",
            UnOp::Exp => "exp",
            UnOp::Log => "log",
            UnOp::Log2 => "log2",
            UnOp::Sqrt => "sqrt",
            UnOp::Rsqrt => "rsqrt",
            UnOp::Sin => "sin",
            UnOp::Cos => "cos",
            UnOp::Tanh => "tanh",
            UnOp::Sigmoid => "sigmoid",
        }
    }

    /// True for `not` (integers only).
    pub const fn int_only(self) -> bool {
        matches!(self, UnOp::Not)
    }

    /// True for the transcendental operations (floats only).
    pub const fn float_only(self) -> bool {
        !matches!(self, UnOp::Abs | UnOp::Neg | UnOp::Not)
    }
}

impl Cmp {
    /// Every comparison, in encoding order.
    pub const ALL: [Cmp; 6] = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];

    /// The text name (`eq`, `lt`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
        }
    }
}

impl RedOp {
    /// Every reduction, in encoding order.
    pub const ALL: [RedOp; 4] = [RedOp::Add, RedOp::Min, RedOp::Max, RedOp::Mul];

    /// The text name (`add`, `min`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            RedOp::Add => "add",
            RedOp::Min => "min",
            RedOp::Max => "max",
            RedOp::Mul => "mul",
        }
    }
}

macro_rules! from_u8 {
    ($($t:ty),*) => {$(
        impl $t {
            /// Decodes the encoding byte.
            pub fn from_u8(b: u8) -> Option<Self> {
                Self::ALL.get(b as usize).copied()
            }
        }
    )*};
}
from_u8!(BinOp, UnOp, Cmp, RedOp);

impl Addr {
    /// The values the address reads: its index, or its registers (at most two).
    pub fn sources(&self) -> [Option<Src>; 2] {
        match *self {
            Addr::BufferOffset { .. } | Addr::Phi { index: None, .. } => [None, None],
            Addr::BufferIndex { index, .. }
            | Addr::Phi {
                index: Some((index, _)),
                ..
            } => [Some(index), None],
            Addr::RegisterIndirect { base, .. } => [Some(Src::Reg(base)), None],
            Addr::RegisterIndirectComputed { handle, offset } => {
                [Some(Src::Reg(handle)), Some(Src::Reg(offset))]
            }
        }
    }

    /// The address with the registers it reads renamed by `read`.
    fn map_regs(self, read: &mut dyn FnMut(Reg) -> Reg) -> Addr {
        match self {
            Addr::BufferIndex { buf, index, scale } => Addr::BufferIndex {
                buf,
                index: index.map_reg(read),
                scale,
            },
            Addr::Phi {
                class,
                page,
                byte,
                index,
            } => Addr::Phi {
                class,
                page,
                byte,
                index: index.map(|(s, k)| (s.map_reg(read), k)),
            },
            Addr::RegisterIndirect { base, offset } => Addr::RegisterIndirect {
                base: read(base),
                offset,
            },
            Addr::RegisterIndirectComputed { handle, offset } => {
                let handle = read(handle);
                Addr::RegisterIndirectComputed {
                    handle,
                    offset: read(offset),
                }
            }
            other @ Addr::BufferOffset { .. } => other,
        }
    }
}

impl SharedAddr {
    /// The address with its index register, if any, renamed by `read`.
    fn map_regs(self, read: &mut dyn FnMut(Reg) -> Reg) -> SharedAddr {
        SharedAddr {
            index: self.index.map(|(s, k)| (s.map_reg(read), k)),
            ..self
        }
    }
}

impl Inst {
    /// Every value the instruction reads: its operands, the value it stores, the parts of its
    /// address and a `loop`'s counter (not predicates).
    ///
    /// ```
    /// use holovm_isa::{Addr, Inst, Reg, Special, Src, Ty};
    /// let gid = Src::Special(Special::GlobalId);
    /// let st = Inst::Stg {
    ///     ty: Ty::F32,
    ///     src: Src::Reg(Reg(1)),
    ///     addr: Addr::BufferIndex { buf: 0, index: gid, scale: 4 },
    /// };
    /// assert_eq!(st.sources().collect::<Vec<_>>(), [Src::Reg(Reg(1)), gid]);
    /// ```
    pub fn sources(&self) -> impl Iterator<Item = Src> {
        let shared = |a: &SharedAddr| a.index.map(|(s, _)| s);
        let with_addr = |first: Option<Src>, a: &Addr| {
            let [x, y] = a.sources();
            [first, x, y]
        };
        let srcs: [Option<Src>; 3] = match *self {
            Inst::Ldg { addr, .. } => with_addr(None, &addr),
            Inst::Stg { src, addr, .. } => with_addr(Some(src), &addr),
            Inst::Lds { addr, .. } => [shared(&addr), None, None],
            Inst::Sts { src, addr, .. } => [Some(src), shared(&addr), None],
            Inst::Mov { src, .. }
            | Inst::Cvt { src, .. }
            | Inst::Un { a: src, .. }
            | Inst::Reduce { src, .. } => [Some(src), None, None],
            Inst::Bin { a, b, .. } | Inst::Setp { a, b, .. } | Inst::Sel { a, b, .. } => {
                [Some(a), Some(b), None]
            }
            Inst::Fma { a, b, c, .. } => [Some(a), Some(b), Some(c)],
            Inst::Loop { counter, .. } => [Some(Src::Reg(counter)), None, None],
            Inst::Bra { .. }
            | Inst::Call { .. }
            | Inst::Ret
            | Inst::Exit
            | Inst::BarSync
            | Inst::MemFence => [None, None, None],
        };
        srcs.into_iter().flatten()
    }

    /// The general register the instruction writes (a `loop` its counter), if any.
    pub fn dst_reg(&self) -> Option<Reg> {
        match *self {
            Inst::Ldg { dst, .. }
            | Inst::Lds { dst, .. }
            | Inst::Mov { dst, .. }
            | Inst::Cvt { dst, .. }
            | Inst::Bin { dst, .. }
            | Inst::Un { dst, .. }
            | Inst::Fma { dst, .. }
            | Inst::Sel { dst, .. }
            | Inst::Reduce { dst, .. } => Some(dst),
            Inst::Loop { counter, .. } => Some(counter),
            _ => None,
        }
    }

    /// The predicate the instruction reads (a branch's guard, `sel`'s condition), if any.
    pub fn pred_read(&self) -> Option<Pred> {
        match *self {
            Inst::Bra { guard, .. } => guard.map(|g| g.pred),
            Inst::Sel { pred, .. } => Some(pred),
            _ => None,
        }
    }

    /// The predicate the instruction writes (`setp`'s), if any.
    pub fn pred_written(&self) -> Option<Pred> {
        match *self {
            Inst::Setp { dst, .. } => Some(dst),
            _ => None,
        }
    }

    /// The branch target of a control-transfer instruction, if any.
    pub fn target(&self) -> Option<u32> {
        match *self {
            Inst::Bra { target, .. } | Inst::Loop { target, .. } | Inst::Call { target } => {
                Some(target)
            }
            _ => None,
        }
    }

    /// The instruction with its general registers renamed: `read` maps each register it reads
    /// (operands, the value it stores, address parts), `write` the one it writes; a `loop`'s
    /// counter, read and written in place, takes `read`'s name.
    ///
    /// ```
    /// use holovm_isa::{BinOp, Inst, Reg, Src, Ty};
    /// let add = Inst::Bin { op: BinOp::Add, ty: Ty::U32, dst: Reg(1), a: Src::Reg(Reg(1)), b: Src::Imm(1) };
    /// let renamed = add.map_regs(|r| Reg(r.0 + 10), |r| Reg(r.0 + 20));
    /// assert_eq!(renamed, Inst::Bin { op: BinOp::Add, ty: Ty::U32, dst: Reg(21), a: Src::Reg(Reg(11)), b: Src::Imm(1) });
    /// ```
    pub fn map_regs(
        mut self,
        mut read: impl FnMut(Reg) -> Reg,
        write: impl FnOnce(Reg) -> Reg,
    ) -> Inst {
        let r = &mut read as &mut dyn FnMut(Reg) -> Reg;
        match &mut self {
            Inst::Ldg { dst, addr, .. } => {
                *addr = addr.map_regs(r);
                *dst = write(*dst);
            }
            Inst::Stg { src, addr, .. } => {
                *src = src.map_reg(r);
                *addr = addr.map_regs(r);
            }
            Inst::Lds { dst, addr, .. } => {
                *addr = addr.map_regs(r);
                *dst = write(*dst);
            }
            Inst::Sts { src, addr, .. } => {
                *src = src.map_reg(r);
                *addr = addr.map_regs(r);
            }
            Inst::Mov { dst, src, .. }
            | Inst::Cvt { dst, src, .. }
            | Inst::Un { dst, a: src, .. }
            | Inst::Reduce { dst, src, .. } => {
                *src = src.map_reg(r);
                *dst = write(*dst);
            }
            Inst::Bin { dst, a, b, .. } | Inst::Sel { dst, a, b, .. } => {
                (*a, *b) = (a.map_reg(r), b.map_reg(r));
                *dst = write(*dst);
            }
            Inst::Fma { dst, a, b, c, .. } => {
                (*a, *b, *c) = (a.map_reg(r), b.map_reg(r), c.map_reg(r));
                *dst = write(*dst);
            }
            Inst::Setp { a, b, .. } => (*a, *b) = (a.map_reg(r), b.map_reg(r)),
            Inst::Loop { counter, .. } => *counter = r(*counter),
            Inst::Bra { .. }
            | Inst::Call { .. }
            | Inst::Ret
            | Inst::Exit
            | Inst::BarSync
            | Inst::MemFence => {}
        }
        self
    }

    /// The instruction with its predicates renamed: `read` maps the one it reads
    /// ([`Inst::pred_read`]), `write` the one it writes ([`Inst::pred_written`]).
    ///
    /// ```
    /// use holovm_isa::{Cmp, Inst, Pred, Src, Ty};
    /// let setp = Inst::Setp { cmp: Cmp::Lt, ty: Ty::U32, dst: Pred(1), a: Src::Imm(1), b: Src::Imm(2) };
    /// let renamed = setp.map_preds(|p| p, |p| Pred(p.0 + 2));
    /// assert_eq!(renamed.pred_written(), Some(Pred(3)));
    /// ```
    pub fn map_preds(
        mut self,
        read: impl FnOnce(Pred) -> Pred,
        write: impl FnOnce(Pred) -> Pred,
    ) -> Inst {
        match &mut self {
            Inst::Bra { guard: Some(g), .. } => g.pred = read(g.pred),
            Inst::Sel { pred, .. } => *pred = read(*pred),
            Inst::Setp { dst, .. } => *dst = write(*dst),
            _ => {}
        }
        self
    }

    /// Mutable access to the branch target, if any (used when relocating code).
    pub fn target_mut(&mut self) -> Option<&mut u32> {
        match self {
            Inst::Bra { target, .. } | Inst::Loop { target, .. } | Inst::Call { target } => {
                Some(target)
            }
            _ => None,
        }
    }
}
