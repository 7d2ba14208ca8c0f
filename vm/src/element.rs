//! [`Element`]: the Rust types that can be buffer elements and scalar launch arguments.

use holovm_isa::Ty;

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that corresponds to one ISA value type ([`Ty`]): `i8 i16 i32 i64 u8 u16 u32
/// u64 f32 f64`. Buffers hold elements of one such type, and scalar launch arguments are
/// values of one.
///
/// The trait is sealed: its implementations are exactly the ten types above.
///
/// ```
/// use holovm::{isa::Ty, Element};
/// assert_eq!(<f32 as Element>::TY, Ty::F32);
/// assert_eq!(<i8 as Element>::TY, Ty::I8);
/// ```
pub trait Element:
    bytemuck::Pod + Send + Sync + std::fmt::Debug + PartialEq + sealed::Sealed
{
    /// The ISA type of this Rust type.
    const TY: Ty;

    /// The value's bit pattern zero-extended to 64 bits: the register image of the value
    /// (docs/ISA.md, section 2).
    fn to_bits(self) -> u64;
}

macro_rules! element {
    ($($t:ty => $ty:ident, $bits:ty;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const TY: Ty = Ty::$ty;
            #[inline]
            fn to_bits(self) -> u64 {
                bytemuck::cast::<$t, $bits>(self) as u64
            }
        }
    )*};
}

element! {
    i8 => I8, u8;
    i16 => I16, u16;
    i32 => I32, u32;
    i64 => I64, u64;
    u8 => U8, u8;
    u16 => U16, u16;
    u32 => U32, u32;
    u64 => U64, u64;
    f32 => F32, u32;
    f64 => F64, u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_zero_extended() {
        assert_eq!(Element::to_bits(-1i32), 0xffff_ffff);
        assert_eq!(Element::to_bits(-1i8), 0xff);
        assert_eq!(Element::to_bits(1.5f32), 1.5f32.to_bits() as u64);
        assert_eq!(<f64 as Element>::to_bits(-0.0), 1 << 63);
    }
}
