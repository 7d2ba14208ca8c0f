//! The operations library against Rust reference implementations: every operation and type,
//! at lengths 1, 7, 256, 3072, 3073, 65536 and 1000003, on the interpreter and the JIT.
//! Float tolerances are stated per operation (exact where the ISA result is exact).

mod support;

mod activation;
mod errors;
mod linalg;
mod loss;
mod math;
mod memory;
mod reduce;
mod strategy;
