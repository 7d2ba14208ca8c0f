//! PLACEHOLDER being replaced by the bytecode codec.
use crate::ProgramDef;
/// A bytecode decoding error.
#[derive(Debug, thiserror::Error)]
#[error("bytecode: {0}")]
pub struct DecodeError(pub String);
pub(crate) fn encode(def: &ProgramDef) -> Vec<u8> { format!("{def:?}").into_bytes() }
