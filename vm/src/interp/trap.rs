//! Instruction text for trap messages.

use holovm_isa::ProgramDef;

/// The text of instruction `pc`, or `<end of program>` for the index one past the last
/// instruction (where `fell off the end` traps).
pub(crate) fn inst_text(def: &ProgramDef, pc: usize) -> String {
    if pc >= def.insts.len() {
        return "<end of program>".to_string();
    }
    holovm_isa::print::inst_text(def, pc)
}
