//! PLACEHOLDER being replaced by the instruction printer.
