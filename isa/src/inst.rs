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
}

/// A global memory address. See docs/ISA.md, "Addressing modes", for the exact byte
/// semantics of each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// `[buf + 16]`: a buffer parameter plus a constant byte offset.
    BufferOffset { buf: u8, offset: u32 },
    /// `[buf + r3*4]`: a buffer parameter plus `index * scale` bytes; `index` is a register or
    /// special register read as `u64`; `scale` is 1, 2, 4 or 8.
    BufferIndex { buf: u8, index: Src, scale: u8 },
    /// `[phi(class, page, byte)]` or `[phi(class, page, byte) + r1*4]`: the boundary pool at
    /// `class * 12288 + page * 256 + byte`, plus an optional scaled index.
    Phi {
        class: u8,
        page: u8,
        byte: u8,
        index: Option<(Src, u8)>,
    },
    /// `[r5 + 8]`: `base` holds a global pointer (see docs/ISA.md), plus a signed constant.
    RegisterIndirect { base: Reg, offset: i32 },
    /// `[r5 + r6]`: `handle` holds a global pointer, `offset` a `u64` byte offset.
    RegisterIndirectComputed { handle: Reg, offset: Reg },
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
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    Rem = 4,
    Min = 5,
    Max = 6,
    And = 7,
    Or = 8,
    Xor = 9,
    Shl = 10,
    Shr = 11,
}

/// One-operand operations, including the transcendentals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UnOp {
    Abs = 0,
    Neg = 1,
    Not = 2,
    Exp = 3,
    Log = 4,
    Log2 = 5,
    Sqrt = 6,
    Rsqrt = 7,
    Sin = 8,
    Cos = 9,
    Tanh = 10,
    Sigmoid = 11,
}

/// Comparison of `SETP`. Signedness and float-ness come from the instruction's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cmp {
    Eq = 0,
    Ne = 1,
    Lt = 2,
    Le = 3,
    Gt = 4,
    Ge = 5,
}

/// The combining operation of a block-wide `REDUCE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RedOp {
    Add = 0,
    Min = 1,
    Max = 2,
    Mul = 3,
}

/// A branch guard: `@p0` (branch where p0 is true) or `@!p0` (where it is false).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Guard {
    pub pred: Pred,
    pub negate: bool,
}

/// One instruction. Branch targets are instruction indices (labels are resolved by the
/// assembler).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inst {
    /// `ldg.T rD, [addr]`: load from global memory (buffers or the boundary pool).
    Ldg { ty: Ty, dst: Reg, addr: Addr },
    /// `stg.T [addr], src`: store to global memory.
    Stg { ty: Ty, src: Src, addr: Addr },
    /// `lds.T rD, [shared + ...]`: load from the block's shared memory.
    Lds { ty: Ty, dst: Reg, addr: SharedAddr },
    /// `sts.T [shared + ...], src`: store to the block's shared memory.
    Sts { ty: Ty, src: Src, addr: SharedAddr },
    /// `mov.T rD, src` (`mov_imm.T rD, imm` when `src` is an immediate).
    Mov { ty: Ty, dst: Reg, src: Src },
    /// `cvt.TO.FROM rD, src`: convert between types (Rust `as` semantics).
    Cvt {
        to: Ty,
        from: Ty,
        dst: Reg,
        src: Src,
    },
    /// `op.T rD, a, b`.
    Bin {
        op: BinOp,
        ty: Ty,
        dst: Reg,
        a: Src,
        b: Src,
    },
    /// `op.T rD, a`.
    Un { op: UnOp, ty: Ty, dst: Reg, a: Src },
    /// `fma.T rD, a, b, c`: `a * b + c` with a single rounding for floats.
    Fma {
        ty: Ty,
        dst: Reg,
        a: Src,
        b: Src,
        c: Src,
    },
    /// `setp.CMP.T pD, a, b`.
    Setp {
        cmp: Cmp,
        ty: Ty,
        dst: Pred,
        a: Src,
        b: Src,
    },
    /// `sel.T rD, p, a, b`: `rD = p ? a : b`.
    Sel {
        ty: Ty,
        dst: Reg,
        pred: Pred,
        a: Src,
        b: Src,
    },
    /// `bra @label` or `@p bra @label` / `@!p bra @label`.
    Bra { target: u32, guard: Option<Guard> },
    /// `loop rC, @label`: if `rC > 1` then `rC -= 1` and branch, else `rC = 0` and fall through.
    Loop { counter: Reg, target: u32 },
    /// `call @label`: push the return address and branch.
    Call { target: u32 },
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
        op: RedOp,
        ty: Ty,
        dst: Reg,
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
