//! A block's partial last group as vector code.
//!
//! Where a block's vector limit (its lanes below every contiguous access's reach and the
//! entry guard's bound) is not a multiple of the group, the lanes after the last full group
//! would run in the per-lane code, several times slower per lane (vector_add at n = 1016,
//! groups of 32: 260 ns against 140 at 1024). When running a lane twice leaves memory as
//! running it once, the kernel instead runs the full group that *ends* at the limit: its
//! first lanes ran already and run again, and the lanes after the limit go on as before.
//! That holds when no lane reads memory that some lane writes:
//!
//! - statically ([`rerun_params`]): no shared memory, no register-indirect addresses (a
//!   pointer may reach any buffer), no buffer parameter both loaded and stored, and the
//!   pool not both loaded and stored;
//! - at run time (checked once a launch, on the kernel's entry): no stored buffer overlaps
//!   a loaded one (a launch may bind one buffer to two parameters).
//!
//! A lane that runs again does what it did the first time: the same loads see the same
//! memory, its stores write the same values, it consumes the same fuel from a fresh budget,
//! and it did not trap (the block would have stopped). Programs with a data race between
//! lanes (docs/ISA.md section 1) have no defined final memory to keep.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use holovm_isa::{Addr, Inst, Program};

use crate::abi::off;
use crate::analysis::Analysis;
use crate::translate::{launch, Tr};

/// The most (stored, loaded) buffer pairs the kernel checks for overlap; programs with more
/// keep their partial groups in the per-lane code.
const MAX_PAIRS: usize = 16;

/// The buffer parameters a program stores to and loads from, when its lanes can run twice
/// (see the module documentation); `None` when they cannot.
fn rerun_params(program: &Program) -> Option<(Vec<u8>, Vec<u8>)> {
    let (mut stored, mut loaded) = (Vec::new(), Vec::new());
    let (mut pool_stored, mut pool_loaded) = (false, false);
    for inst in program.insts() {
        let (addr, store) = match inst {
            Inst::Ldg { addr, .. } => (addr, false),
            Inst::Stg { addr, .. } => (addr, true),
            Inst::Lds { .. } | Inst::Sts { .. } => return None,
            _ => continue,
        };
        let (list, pool) = match store {
            true => (&mut stored, &mut pool_stored),
            false => (&mut loaded, &mut pool_loaded),
        };
        match *addr {
            Addr::BufferOffset { buf, .. } | Addr::BufferIndex { buf, .. } => {
                if !list.contains(&buf) {
                    list.push(buf);
                }
            }
            Addr::Phi { .. } => *pool = true,
            Addr::RegisterIndirect { .. } | Addr::RegisterIndirectComputed { .. } => return None,
        }
    }
    let shared_buffer = stored.iter().any(|s| loaded.contains(s));
    let shared_pool = pool_stored && pool_loaded;
    (!shared_buffer && !shared_pool && stored.len() * loaded.len() <= MAX_PAIRS)
        .then_some((stored, loaded))
}

/// [`rerun_params`] where the vector code runs a block's partial last group as the full
/// group ending at the block's limit: programs without barriers whose groups do not realign
/// to rows (realign.rs).
pub(crate) fn rerun_tail(program: &Program, an: &Analysis) -> Option<(Vec<u8>, Vec<u8>)> {
    rerun_params(program).filter(|_| !an.has_barrier && !super::realigns(program, an))
}

impl Tr<'_, '_> {
    /// The partial group's flag in the launch record ([`launch::RERUN`]), on the kernel's
    /// entry: 1 when no stored buffer overlaps a loaded one in this launch. Nothing is
    /// emitted where [`rerun_tail`] does not allow (the flag is not read then). (Emitted
    /// before the held buffer bases are loaded: next to them, its values cost the group
    /// loop a register.)
    pub(crate) fn store_rerun_flag(&mut self) {
        let Some((stored, loaded)) = rerun_tail(self.p, self.an) else {
            return;
        };
        let loaded: Vec<(Value, Value)> = loaded.iter().map(|&l| self.buffer_range(l)).collect();
        let mut apart = self.b.ins().iconst(types::I8, 1);
        for &s in &stored {
            let (s_lo, s_hi) = self.buffer_range(s);
            for &(l_lo, l_hi) in &loaded {
                let below = self
                    .b
                    .ins()
                    .icmp(IntCC::UnsignedLessThanOrEqual, s_hi, l_lo);
                let above = self
                    .b
                    .ins()
                    .icmp(IntCC::UnsignedLessThanOrEqual, l_hi, s_lo);
                let ok = self.b.ins().bor(below, above);
                apart = self.b.ins().band(apart, ok);
            }
        }
        self.set_launch_word(launch::RERUN, apart);
    }

    /// The start of the lane loop's `tail` (the lanes from `lane0`, after the last full
    /// group): if some of them are below the block's vector limit `lim`, a full group came
    /// before them (`lane0 > 0`, a multiple of G) and the launch's flag allows
    /// ([`Tr::store_rerun_flag`]), the group that ends at `lim` runs instead (back to the
    /// group head, which finds it full; after it `lane0 == lim`). Otherwise nothing is
    /// emitted or the tail goes on in a new current block. Here rather than in the group
    /// head, where its temporaries cost the group loop a register (a buffer base reloaded
    /// every group).
    pub(crate) fn emit_partial_group(&mut self) {
        let Some(vlimit) = self.v.as_ref().and_then(|v| v.vlimit) else {
            return;
        };
        if rerun_tail(self.p, self.an).is_none() {
            return;
        }
        let g = self.g as i64;
        let l0 = self.b.use_var(self.lane0);
        let lim = self.b.use_var(vlimit);
        // `0 < l0 < lim` as one unsigned compare (`l0 <= lim` here).
        let l0m1 = self.b.ins().iadd_imm_s(l0, -1);
        let limm1 = self.b.ins().iadd_imm_s(lim, -1);
        let partial = self.b.ins().icmp(IntCC::UnsignedLessThan, l0m1, limm1);
        let (flagged, last, rest) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(partial, flagged, &[], rest, &[]);

        self.b.switch_to_block(flagged);
        let flag = self.launch_word(types::I8, launch::RERUN);
        self.b.ins().brif(flag, last, &[], rest, &[]);

        self.b.switch_to_block(last);
        let start = self.b.ins().iadd_imm_s(lim, -g);
        self.b.def_var(self.lane0, start);
        self.b.ins().jump(self.group_head, &[]);
        self.b.switch_to_block(rest);
    }

    /// The first and one-past-the-last address of buffer parameter `i` (`I64`s).
    fn buffer_range(&mut self, i: u8) -> (Value, Value) {
        let lo = self.slot_field(i, off::SLOT_PTR);
        let len = self.slot_field(i, off::SLOT_LEN);
        (lo, self.b.ins().iadd(lo, len))
    }
}
