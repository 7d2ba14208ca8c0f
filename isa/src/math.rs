//! PLACEHOLDER being replaced.
