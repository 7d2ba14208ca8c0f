//! The process-wide cache of operation programs, keyed by the shape of the call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use holovm_isa::{Program, Ty};
use rustc_hash::FxBuildHasher;

use crate::Error;

/// Everything that changes an operation's code: never buffer handles or lengths (those are
/// launch arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct OpKey {
    /// The generated kernel's name, e.g. `vector_add`.
    pub op: &'static str,
    /// Element type.
    pub ty: Ty,
    /// Per operand in order: `None` for a buffer, `Some(class)` for a pool class.
    pub places: [Option<u8>; 3],
    /// Any other code-changing choice of the operation (0 when there is none).
    pub variant: u32,
}

impl OpKey {
    /// The key of an operation whose operands are all buffers.
    pub fn buffers(op: &'static str, ty: Ty) -> OpKey {
        OpKey {
            op,
            ty,
            places: [None; 3],
            variant: 0,
        }
    }
}

/// Keyed with FxHash: a lookup is on every call of an operation, and the keys are small and
/// not attacker-chosen (SipHash's flood resistance buys nothing here).
static PROGRAMS: LazyLock<DashMap<OpKey, Arc<Program>, FxBuildHasher>> =
    LazyLock::new(|| DashMap::with_hasher(FxBuildHasher));
static BUILT: AtomicU64 = AtomicU64::new(0);

/// The program for `key`, built from `source()` (`.hasm` text) on the first request only.
/// Concurrent first requests for one key build it once (the map's entry lock).
pub(crate) fn program(key: OpKey, source: impl FnOnce() -> String) -> Result<Arc<Program>, Error> {
    if let Some(p) = PROGRAMS.get(&key) {
        return Ok(Arc::clone(&p));
    }
    match PROGRAMS.entry(key) {
        Entry::Occupied(e) => Ok(Arc::clone(e.get())),
        Entry::Vacant(slot) => {
            let text = source();
            // A generated program that does not assemble is a bug in this module; report it
            // (with the text) instead of panicking.
            let program = holovm_asm::assemble(&text).map_err(|d| Error::InvalidProgram {
                kernel: key.op.to_string(),
                message: format!("generated program does not assemble: {d}\n{text}"),
            })?;
            BUILT.fetch_add(1, Ordering::Relaxed);
            Ok(Arc::clone(slot.insert(Arc::new(program)).value()))
        }
    }
}

/// How many operation programs this process has built (assembled and verified) so far. A
/// repeated call of an operation with the same key builds nothing, which tests check with
/// this counter.
///
/// ```
/// use holovm::{ops, Vm};
/// let vm = Vm::new();
/// let x = vm.alloc_from(&[1u64, 2, 3])?;
/// ops::math::scalar_mul(&vm, &x, 2, &x)?;
/// let built = ops::programs_built();
/// ops::math::scalar_mul(&vm, &x, 5, &x)?; // same key: no new program
/// assert_eq!(ops::programs_built(), built);
/// assert_eq!(vm.read(&x)?, vec![10, 20, 30]);
/// # Ok::<(), holovm::Error>(())
/// ```
pub fn programs_built() -> u64 {
    BUILT.load(Ordering::Relaxed)
}

/// Number of operation programs in the process-wide cache.
pub fn cached_programs() -> usize {
    PROGRAMS.len()
}

/// Every cached operation program, for inspection: print one with
/// [`asm::disassemble`](crate::asm::disassemble) or see what the JIT makes of it with
/// [`Vm::jit_dump`](crate::Vm::jit_dump).
///
/// ```
/// use holovm::{ops, Vm};
/// let vm = Vm::new();
/// let x = vm.alloc_from(&[1.0f32, -2.0])?;
/// ops::math::relu(&vm, &x, &x)?;
/// let relu = ops::programs().into_iter().find(|p| p.name() == "relu_f32").unwrap();
/// assert!(holovm::asm::disassemble(&relu).contains("max.f32"));
/// let dump = vm.jit_dump(&relu)?;
/// assert!(matches!(dump.strategy, holovm::jit::Strategy::Vector { .. }));
/// # Ok::<(), holovm::Error>(())
/// ```
pub fn programs() -> Vec<Arc<Program>> {
    PROGRAMS.iter().map(|e| Arc::clone(e.value())).collect()
}
