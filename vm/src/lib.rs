pub use holovm_asm as asm;
pub use holovm_isa as isa;
