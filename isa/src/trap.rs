//! The kinds of trap of docs/ISA.md section 7, shared by both execution tiers.

use std::fmt;

/// What kind of fault stopped a launch. The discriminants are the codes the JIT's compiled
/// code writes into its trap record (0 means "no trap").
///
/// ```
/// use holovm_isa::TrapKind;
/// assert_eq!(TrapKind::from_code(TrapKind::OutOfFuel.code()), Some(TrapKind::OutOfFuel));
/// assert_eq!(TrapKind::DivideByZero.to_string(), "integer divide by zero");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum TrapKind {
    /// A memory access outside its buffer, the pool or shared memory, or through a global
    /// pointer that names no buffer parameter.
    OutOfBounds = 1,
    /// A memory access whose byte offset is not a multiple of its size.
    Misaligned = 2,
    /// Integer `div` or `rem` by zero.
    DivideByZero = 3,
    /// Signed integer `MIN / -1` or `MIN % -1`.
    IntegerOverflow = 4,
    /// A lane ran past the last instruction.
    FellOffEnd = 5,
    /// `ret` with an empty call stack.
    RetWithoutCall = 6,
    /// `call` with 64 return addresses on the stack.
    CallStackOverflow = 7,
    /// `bar.sync` or `reduce` not reached by all live lanes of the block together.
    DivergentBarrier = 8,
    /// A lane used up its fuel (taken backward branches and calls).
    OutOfFuel = 9,
}

impl TrapKind {
    /// Every kind, in code order.
    pub const ALL: [TrapKind; 9] = [
        TrapKind::OutOfBounds,
        TrapKind::Misaligned,
        TrapKind::DivideByZero,
        TrapKind::IntegerOverflow,
        TrapKind::FellOffEnd,
        TrapKind::RetWithoutCall,
        TrapKind::CallStackOverflow,
        TrapKind::DivergentBarrier,
        TrapKind::OutOfFuel,
    ];

    /// The numeric code (never 0).
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The kind with this code (`None` for 0 and unknown codes).
    pub fn from_code(code: u32) -> Option<TrapKind> {
        TrapKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind's name as docs/ISA.md spells it (`out of bounds`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            TrapKind::OutOfBounds => "out of bounds",
            TrapKind::Misaligned => "misaligned access",
            TrapKind::DivideByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::FellOffEnd => "fell off the end of the program",
            TrapKind::RetWithoutCall => "ret without call",
            TrapKind::CallStackOverflow => "call stack overflow",
            TrapKind::DivergentBarrier => "divergent barrier",
            TrapKind::OutOfFuel => "out of fuel",
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
