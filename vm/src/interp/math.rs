//! The transcendental functions of the ISA (docs/ISA.md, section 5.5), all routed through
//! `holovm_isa::math` so that the interpreter and the JIT give bit-identical results.

use holovm_isa::math as m;

/// The float-only unary operations.
pub(crate) trait Transcendental: Copy {
    fn exp(self) -> Self;
    fn log(self) -> Self;
    fn log2(self) -> Self;
    fn sqrt(self) -> Self;
    fn rsqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tanh(self) -> Self;
    fn sigmoid(self) -> Self;
}

macro_rules! transcendental {
    ($t:ty: $exp:ident $log:ident $log2:ident $sqrt:ident $rsqrt:ident $sin:ident $cos:ident
        $tanh:ident $sigmoid:ident) => {
        impl Transcendental for $t {
            #[inline(always)]
            fn exp(self) -> Self {
                m::$exp(self)
            }
            #[inline(always)]
            fn log(self) -> Self {
                m::$log(self)
            }
            #[inline(always)]
            fn log2(self) -> Self {
                m::$log2(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                m::$sqrt(self)
            }
            #[inline(always)]
            fn rsqrt(self) -> Self {
                m::$rsqrt(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                m::$sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                m::$cos(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                m::$tanh(self)
            }
            #[inline(always)]
            fn sigmoid(self) -> Self {
                m::$sigmoid(self)
            }
        }
    };
}

transcendental!(f32: exp_f32 log_f32 log2_f32 sqrt_f32 rsqrt_f32 sin_f32 cos_f32 tanh_f32 sigmoid_f32);
transcendental!(f64: exp_f64 log_f64 log2_f64 sqrt_f64 rsqrt_f64 sin_f64 cos_f64 tanh_f64 sigmoid_f64);
