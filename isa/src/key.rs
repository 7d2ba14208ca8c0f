//! `ProgramKey`: a collision-proof content key for programs.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::ProgramDef;

/// The SHA-256 digest of a program's canonical bytecode (which holds everything that changes
/// what the program does or how it is compiled). The same program text assembled twice gets the
/// same key; two different programs getting the same key would need a SHA-256 collision.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProgramKey(pub [u8; 32]);

impl ProgramKey {
    /// Computes the key of a program definition.
    pub fn of(def: &ProgramDef) -> ProgramKey {
        let bytes = crate::bytecode::encode(def);
        ProgramKey(Sha256::digest(&bytes).into())
    }
}

impl fmt::Display for ProgramKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ProgramKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProgramKey(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}
