//! Which element types each operation accepts.

use crate::Element;

mod sealed {
    pub trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Element types with arithmetic meaning: `i32 i64 u32 u64 f32 f64`. Integer arithmetic
/// wraps, as in the ISA.
///
/// ```
/// fn takes<T: holovm::ops::Num>() {}
/// takes::<u64>();
/// takes::<f32>();
/// ```
pub trait Num: Element + PartialOrd + sealed::Sealed {}

/// [`Num`] types with a sign: `i32 i64 f32 f64` (for `abs`, `neg`, `relu`).
pub trait Signed: Num {}

/// Floating-point types: `f32 f64` (for the activations and the losses).
pub trait Float: Signed {}

impl Num for i32 {}
impl Num for i64 {}
impl Num for u32 {}
impl Num for u64 {}
impl Num for f32 {}
impl Num for f64 {}
impl Signed for i32 {}
impl Signed for i64 {}
impl Signed for f32 {}
impl Signed for f64 {}
impl Float for f32 {}
impl Float for f64 {}
