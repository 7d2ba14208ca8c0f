//! PLACEHOLDER being replaced by the verifier.
use crate::ProgramDef;
use std::fmt;
/// A verifier error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// Instruction index, if the problem is in one instruction.
    pub pc: Option<u32>,
    /// What is wrong.
    pub message: String,
}
impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(f, "instruction {pc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
impl std::error::Error for VerifyError {}
pub(crate) fn verify(_def: &ProgramDef) -> Result<(), VerifyError> { Ok(()) }
pub(crate) fn registers_used(_def: &ProgramDef) -> (u16, u8) { (256, 16) }
