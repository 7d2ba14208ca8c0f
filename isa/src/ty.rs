//! The value types of the instruction set.

use std::fmt;

/// A value type. The type on an instruction says how the 64-bit register bits are read and
/// written (see docs/ISA.md, "Registers").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Ty {
    /// 8-bit signed integer (`i8`).
    I8 = 0,
    /// 16-bit signed integer (`i16`).
    I16 = 1,
    /// 32-bit signed integer (`i32`).
    I32 = 2,
    /// 64-bit signed integer (`i64`).
    I64 = 3,
    /// 8-bit unsigned integer (`u8`).
    U8 = 4,
    /// 16-bit unsigned integer (`u16`).
    U16 = 5,
    /// 32-bit unsigned integer (`u32`).
    U32 = 6,
    /// 64-bit unsigned integer (`u64`).
    U64 = 7,
    /// IEEE 754 binary32 float (`f32`).
    F32 = 8,
    /// IEEE 754 binary64 float (`f64`).
    F64 = 9,
}

impl Ty {
    /// Every type, in encoding order.
    pub const ALL: [Ty; 10] = [
        Ty::I8,
        Ty::I16,
        Ty::I32,
        Ty::I64,
        Ty::U8,
        Ty::U16,
        Ty::U32,
        Ty::U64,
        Ty::F32,
        Ty::F64,
    ];

    /// Size of one value in bytes (also its size in memory).
    ///
    /// ```
    /// use holovm_isa::Ty;
    /// assert_eq!(Ty::F32.size(), 4);
    /// assert_eq!(Ty::U8.size(), 1);
    /// ```
    pub const fn size(self) -> u32 {
        match self {
            Ty::I8 | Ty::U8 => 1,
            Ty::I16 | Ty::U16 => 2,
            Ty::I32 | Ty::U32 | Ty::F32 => 4,
            Ty::I64 | Ty::U64 | Ty::F64 => 8,
        }
    }

    /// Width in bits.
    pub const fn bits(self) -> u32 {
        self.size() * 8
    }

    /// True for `f32` and `f64`.
    pub const fn is_float(self) -> bool {
        matches!(self, Ty::F32 | Ty::F64)
    }

    /// True for the signed integer types.
    pub const fn is_signed_int(self) -> bool {
        matches!(self, Ty::I8 | Ty::I16 | Ty::I32 | Ty::I64)
    }

    /// True for the unsigned integer types.
    pub const fn is_unsigned_int(self) -> bool {
        matches!(self, Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64)
    }

    /// True for any integer type.
    pub const fn is_int(self) -> bool {
        !self.is_float()
    }

    /// The text name used by the assembler (`f32`, `u8`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Ty::I8 => "i8",
            Ty::I16 => "i16",
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::U8 => "u8",
            Ty::U16 => "u16",
            Ty::U32 => "u32",
            Ty::U64 => "u64",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
        }
    }

    /// Parses a type name.
    ///
    /// ```
    /// use holovm_isa::Ty;
    /// assert_eq!(Ty::from_name("i64"), Some(Ty::I64));
    /// assert_eq!(Ty::from_name("f16"), None);
    /// ```
    pub fn from_name(s: &str) -> Option<Ty> {
        Ty::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Decodes the encoding byte.
    pub fn from_u8(b: u8) -> Option<Ty> {
        Ty::ALL.get(b as usize).copied()
    }

    /// Mask of the low `bits()` bits.
    pub const fn mask(self) -> u64 {
        if self.bits() == 64 {
            u64::MAX
        } else {
            (1u64 << self.bits()) - 1
        }
    }

    /// Canonical 64-bit register image of a value of this type: the low `bits()` bits hold the
    /// value and the rest are zero (registers are written zero-extended; see docs/ISA.md).
    #[inline]
    pub const fn canon(self, bits: u64) -> u64 {
        bits & self.mask()
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
