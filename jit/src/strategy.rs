//! The vector strategy in words: what [`crate::CompiledKernel::strategy`] and the dump say
//! about how a program's vector code runs (registers, memory checks, masked code, splits,
//! whole parks).

use holovm_isa::Program;

use crate::analysis::{Analysis, Class, MaskedBranch};
use crate::parked::whole_park_pcs;
use crate::vector::{
    consecutive_accesses, folded_reduces, guard_exits, partial_groups, realigns, rerun_tail,
};

/// The vector strategy's description: how each kind of register is held, how memory is
/// checked, what runs per lane, and the notes that apply to `program` (group size `g`; `guard`:
/// the bounds guard is checked once per block; `partial`: compiled with
/// [`crate::JitOptions::partial`], for a program that allows it).
pub(crate) fn vector_detail(
    program: &Program,
    an: &Analysis,
    g: u32,
    guard: bool,
    partial: bool,
) -> String {
    let mut uni = Vec::new();
    let mut aff = Vec::new();
    let mut stepped: Vec<(String, u8)> = Vec::new();
    let mut v32 = Vec::new();
    let mut v64 = Vec::new();
    let mut narrow = Vec::new();
    let mut wide = Vec::new();
    let mut low = Vec::new();
    let mut both = Vec::new();
    for (r, c) in an.reg_class.iter().enumerate() {
        if an.reg_narrow[r] {
            narrow.push(an.reg_name(r));
        }
        if an.reg_wide_read[r] {
            wide.push(an.reg_name(r));
        }
        if an.reg_low_read[r] {
            low.push(an.reg_name(r));
        }
        if an.reg_wide_write[r] {
            both.push(an.reg_name(r));
        }
        if matches!(c, Class::Untyped) && an.reg_uniform[r] {
            continue;
        }
        if an.reg_uniform[r] {
            uni.push(an.reg_name(r));
        } else if an.reg_affine[r] {
            aff.push(an.reg_name(r));
        } else if an.reg_step[r] != 0 {
            stepped.push((an.reg_name(r), an.reg_step[r]));
        } else if c.lane_type().bits() == 64 {
            v64.push(an.reg_name(r));
        } else {
            v32.push(an.reg_name(r));
        }
    }
    // In register order, a split register's values (`rN/k`) after `rN`.
    let list = |v: &Vec<String>| {
        let key = |name: &String| -> (u32, u32) {
            let (r, k) = name.split_once('/').unwrap_or((name, "1"));
            let num = |t: &str| t.trim_start_matches('r').parse().unwrap_or(u32::MAX);
            (num(r), num(k))
        };
        let mut v = v.clone();
        v.sort_by_key(key);
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    // What the 32-bit registers' list says about the narrow and the widened ones.
    let mut notes = match narrow.is_empty() {
        true => String::new(),
        false => format!(
            " (8- and 16-bit values held zero-extended in 32-bit lanes, extended per their \
             type where an operation needs it: {})",
            list(&narrow)
        ),
    };
    if !wide.is_empty() {
        notes += &format!(
            " (read at 64 bits too, their lanes zero-extended: {})",
            list(&wide)
        );
    }
    let mut low_note = match low.is_empty() {
        true => String::new(),
        false => format!(
            " (read at 32 bits too, their lanes' low halves: {})",
            list(&low)
        ),
    };
    if !both.is_empty() {
        low_note += &format!(
            " (written and read at 32 bits too, zero-extended and their lanes' low halves: {})",
            list(&both)
        );
    }
    let gathers = consecutive_accesses(program.insts(), an);
    let gathers = match gathers.is_empty() {
        true => String::new(),
        false => format!(
            " (loads indexed by registers that clamp, wrap or scale, and stores by those \
             that scale, {}, access a group whose indices are consecutive with vector loads \
             and stores)",
            list(&gathers.iter().map(|&r| an.reg_name(r as usize)).collect())
        ),
    };
    // (Only where there are some: the text of other kernels stays as it was.)
    let by_reg = match stepped.is_empty() {
        true => "a lane-affine register",
        false => "a lane-affine or stepped register (or a pointer stepping by the access size)",
    };
    let stepped = match stepped.is_empty() {
        true => String::new(),
        false => format!(
            "stepped registers (lane l = lane 0 + step x l, kept as one scalar, a byte \
             offset indexes its buffer contiguously): {}; ",
            stepped
                .iter()
                .map(|(name, step)| format!("{name} (step {step})"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    let webs = match an.reg_names {
        Some(_) => {
            "registers reused for values of both widths, or for a value vector code keeps \
             as one scalar and another it does not, split: rN/k the k-th value of rN (each \
             compiled as a register of its own); "
        }
        None => "",
    };
    format!(
        "32-bit per-lane registers as {} x 4-lane vectors: {}{notes}; 64-bit as {} x 2-lane vectors: {}{low_note}; \
         uniform (scalar) registers, the same in every lane of a group while its lanes run \
         together: {}; lane-affine registers (lane l = lane 0 + l, kept as one scalar): {}; \
         {stepped}{webs}accesses indexed by %gid/%lane checked once per block, by \
         {by_reg} once per group, other addresses per lane{gathers}; divergence, failing \
         checks, fuel exhaustion and call/ret fall back to per-lane scalar code (a function \
         of its own); {}{}{}{}{}{}",
        g / 4,
        list(&v32),
        g / 2,
        list(&v64),
        list(&uni),
        list(&aff),
        match rerun_tail(program, an) {
            // As `Tr::emit_partial_group` decides.
            Some(_) => {
                "a block's partial last group runs as the full group ending at the block's \
                 limit (its first lanes run again: the program loads no buffer it stores \
                 to), unless a launch binds a stored buffer where one is loaded; lanes past \
                 the limit run scalar code (a VM runs blocks, or launches of blocks run as one, \
                 shorter than a group with a variant of narrower groups)"
            }
            // As `Tr::block_lane_reach` decides (vector/partial.rs).
            None if partial => {
                "a block's partial last group runs as vector code with phantom lanes past the \
                 block when it has at least four lanes (two in groups of 8 or fewer) in the \
                 block, else in scalar code (the phantoms follow the block's lanes at loop \
                 exits, stay out of barriers and reductions, and are left out of stores); a VM \
                 runs blocks that leave more than an eighth of their lanes after the last full \
                 group with a variant of narrower groups"
            }
            // As `CompiledKernel::variant_for` decides.
            None if partial_groups(program, an) => {
                "lanes past the last full group run scalar code (a VM runs blocks whose last \
                 group has at least four lanes in the block, two in groups of 8 or fewer, with \
                 a variant that runs it as vector code with phantom lanes past the block, and \
                 blocks that leave more than an eighth of their lanes otherwise with a variant \
                 of narrower groups)"
            }
            None => {
                "lanes past the last full group run scalar code (a VM runs blocks that leave \
                 more than an eighth of their lanes there with a variant of narrower groups)"
            }
        },
        match guard {
            // As `Tr::guard_exit_end` decides.
            true if !an.has_barrier && guard_exits(program.insts()) => {
                "; the entry guard on %gid (pc 0-1) is checked once per block: full groups \
                 below its bound skip it, lanes at or past it would go straight to an exit and \
                 are not run"
            }
            true => {
                "; the entry guard on %gid (pc 0-1) is checked once per block: full groups \
                 below its bound skip it, lanes at or past it run scalar code"
            }
            false => "",
        },
        match program.ignores_blocks() {
            // As `Tr::new` decides (block_runs.rs).
            true => {
                "; the program reads neither %lane nor %block and has no shared memory: \
                 consecutive blocks run together as runs of 2048-4095 lanes (a range's last \
                 run may be shorter), so groups span block boundaries (blocks of fewer lanes \
                 than a group run as vectors too)"
            }
            false => "",
        },
        split_note(program, an),
        masked_note(an, guard),
        masked_loop_note(an)
    )
}

/// The loops whose lanes leave at different iterations ([`Analysis::masked_loops`]), for
/// the strategy text.
fn masked_loop_note(an: &Analysis) -> String {
    let loops: Vec<String> = an
        .masked_loops
        .iter()
        .enumerate()
        .filter_map(|(pc, l)| l.map(|l| format!("pc {}-{} leaving at pc {pc}", l.top, l.back)))
        .collect();
    if loops.is_empty() {
        return String::new();
    }
    format!(
        "; loops whose lanes leave at different iterations ({}) run under lane masks: every \
         lane runs each iteration until the group's last lane leaves, the lanes that left \
         keep the values they left with, and their unused fuel goes with them",
        loops.join(", ")
    )
}

/// The divergent branches whose lanes run both ways under masks ([`Analysis::masked`]), for
/// the strategy text; `guard`: the entry guard's branch (pc 1) is not in the vector code.
fn masked_note(an: &Analysis, guard: bool) -> String {
    let branches: Vec<(usize, MaskedBranch)> = an
        .masked
        .iter()
        .enumerate()
        .filter_map(|(pc, m)| Some((pc, (*m)?)))
        .filter(|&(pc, _)| !(guard && pc < 2))
        .collect();
    if branches.is_empty() {
        return String::new();
    }
    let pcs: Vec<String> = branches.iter().map(|(pc, _)| pc.to_string()).collect();
    let enclosing = |pc: usize| -> Vec<MaskedBranch> {
        branches
            .iter()
            .filter(|&&(o, om)| o < pc && (pc as u32) < om.join)
            .map(|&(_, om)| om)
            .collect()
    };
    // Branches translated as the outermost: those at the top, and those right inside one
    // with an unmasked copy (in that copy).
    let outermost = |pc: usize, in_copy: bool| match enclosing(pc).as_slice() {
        [] => true,
        [o] => in_copy && o.copy,
        _ => false,
    };
    // The clause `text` gives the pcs of the branches `keep` selects, if any.
    let clause = |keep: &dyn Fn(usize, &MaskedBranch) -> bool, text: &dyn Fn(String) -> String| {
        let pcs: Vec<String> = branches
            .iter()
            .filter(|&&(pc, m)| keep(pc, &m))
            .map(|(pc, _)| pc.to_string())
            .collect();
        match pcs.is_empty() {
            true => String::new(),
            false => text(pcs.join(", ")),
        }
    };
    let copy = clause(&|pc, m| m.copy && outermost(pc, false), &|pcs| {
        format!("; groups whose lanes agree at pc {pcs} run an unmasked copy of its code instead")
    });
    // A pair needs both sides run: branch-free code, or the masked copy of its own branch.
    let paired = |pc, m: &MaskedBranch| {
        m.pair.is_some() && outermost(pc, true) && (!m.skip || (m.copy && outermost(pc, false)))
    };
    let pair = clause(&paired, &|pcs| {
        format!(
            "; the stores of both sides of the if/else at pc {pcs} to one place store once, \
             each lane its side's value"
        )
    });
    let wait = clause(&|pc, m| m.defer && outermost(pc, true), &|pcs| {
        format!(
            "; the masked stores of the code after pc {pcs} wait for its join (a check after \
             a store could fail, and the lanes would then run the code again in scalar code, \
             reading what they stored)"
        )
    });
    format!(
        "; divergent forward branches (pc {}) run both ways under lane masks: the code of \
         each side (an if, or an if/else) runs in every lane, and the lanes that do not take \
         that side keep their values and store nothing{copy}{pair}{wait}",
        pcs.join(", ")
    )
}

/// The row/column splits the vector code computes once per group
/// ([`Analysis::kept_split`]), for the strategy text.
fn split_note(program: &Program, an: &Analysis) -> String {
    let pcs: Vec<String> = program
        .insts()
        .iter()
        .enumerate()
        .filter(|(_, i)| an.kept_split(i).is_some())
        .map(|(pc, _)| pc.to_string())
        .collect();
    if pcs.is_empty() {
        return String::new();
    }
    let realigned = realigns(program, an);
    format!(
        "; row/column splits (div/rem, or shr/and by a power of two, of %gid, %lane or a \
         lane-affine register, pc {}) \
         computed once per group: \
         groups that straddle a multiple of the divisor run scalar code from there{}",
        pcs.join(", "),
        if realigned {
            "; groups are realigned to rows where the divisor is a parameter or constant of \
             at least a group: the lanes before a row's end run scalar code from pc 0, and the \
             next group starts at the row"
        } else {
            ""
        }
    )
}

/// Where the strategy text says the vector groups park whole ([`whole_park_pcs`]).
pub(crate) fn whole_note(program: &Program) -> String {
    let pcs: Vec<String> = whole_park_pcs(program)
        .iter()
        .map(|pc| pc.to_string())
        .collect();
    if pcs.is_empty() {
        return String::new();
    }
    format!(
        "; at the bar.sync at pc {} the groups park whole (their first lanes' words stand for \
         all their lanes; a block whose groups all park at one is released by them)",
        pcs.join(", ")
    )
}

/// Where the strategy text says the vector groups carry a float fold's chain
/// (vector/fold_ahead.rs).
pub(crate) fn fold_note(program: &Program, an: &Analysis) -> String {
    let pcs: Vec<String> = folded_reduces(program, an)
        .iter()
        .map(|r| r.0.to_string())
        .collect();
    if pcs.is_empty() {
        return String::new();
    }
    format!(
        "; the float reduce at pc {} folds in lane order as the groups park there, each \
         continuing the chain where the group before it stopped (the resolver folds the \
         lanes itself when the chain does not cover the block)",
        pcs.join(", ")
    )
}
