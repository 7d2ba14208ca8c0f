pub use holovm_isa as isa;
