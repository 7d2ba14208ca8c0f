//! Traps of the interpreter as the VM's errors, and instruction text for their messages.

use holovm_isa::{Program, ProgramDef};

use crate::error::{MemAccess, Space};
use crate::interp::mem::Region;
use crate::interp::{BlockTrap, SpaceId};
use crate::{Error, Trap};

/// The text of instruction `pc`, or `<end of program>` for the index one past the last
/// instruction (where `fell off the end` traps).
pub(crate) fn inst_text(def: &ProgramDef, pc: usize) -> String {
    if pc >= def.insts.len() {
        return "<end of program>".to_string();
    }
    holovm_isa::print::inst_text(def, pc)
}

/// The VM's error for a trap of the interpreter in block `block`.
#[cold]
#[inline(never)]
pub(crate) fn interp_trap(
    program: &Program,
    block: u32,
    t: &BlockTrap,
    spaces: &[Option<Region>],
) -> Error {
    let params = program.params();
    let space = |id: SpaceId| match id {
        SpaceId::Param(p) => Space::Buffer {
            param: p,
            name: params
                .get(p as usize)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            bytes: spaces
                .get(p as usize)
                .copied()
                .flatten()
                .map_or(0, |s| s.len),
        },
        SpaceId::Pool => Space::Pool,
        SpaceId::Shared => Space::Shared {
            bytes: program.shared_bytes() as u64,
        },
        SpaceId::Invalid(handle) => Space::Invalid { handle },
    };
    Trap {
        kind: t.fault.kind,
        pc: t.pc,
        inst: inst_text(program.def(), t.pc as usize),
        block,
        lane: t.fault.lane,
        access: t.fault.access.map(|a| MemAccess {
            space: space(a.space),
            offset: a.offset,
            size: a.size,
        }),
    }
    .into()
}
