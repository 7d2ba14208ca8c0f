//! Addresses of a lane's entries in the scratch memory's per-lane arrays and spill register
//! file, and which registers and predicates a bail-out spills.

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::{s_home, Tr};

/// Registers (bit r of word r / 64) and predicates (bit p) in a set.
pub(crate) type LiveSet = ([u64; 4], u16);

impl Tr<'_, '_> {
    /// Address of the current scalar lane's entry in a per-lane array of `size`-byte
    /// entries at scratch offset `off`.
    pub(crate) fn lane_slot(&mut self, off: u32, size: u32) -> Value {
        let (a, o) = self.lane_entry(off, size);
        self.b.ins().iadd_imm_s(a, i64::from(o))
    }

    /// [`Tr::lane_slot`] as a base and the offset a load or store adds to it (the offset
    /// in the instruction: no add of its own).
    pub(crate) fn lane_entry(&mut self, off: u32, size: u32) -> (Value, i32) {
        let lane = self.b.use_var(self.s_lane);
        self.lane_entry_of(off, size, lane)
    }

    /// Bytes per lane of register `r`'s slots in the spill register file: the width of the
    /// type the scalar code keeps it in ([`s_home`]). A register kept as a 32-bit value has
    /// a zero high half in its 64-bit image, so 4 bytes hold it, and the vector code spills
    /// and reloads its 4-lane vectors as they are.
    pub(crate) fn reg_slot_bytes(&self, r: usize) -> u32 {
        s_home(self.an, r).bytes()
    }

    /// Register `r`'s slots in the spill register file: the base of the lane's slots of its
    /// width (one of `bases`, from [`Tr::file_bases`]) and the offset from it.
    pub(crate) fn reg_slot(&self, r: usize, bases: [Value; 2]) -> (Value, i32) {
        let base = if self.reg_slot_bytes(r) == 4 {
            bases[0]
        } else {
            bases[1]
        };
        (base, self.layout.reg_offset(r) as i32)
    }

    /// The bases of the 4- and 8-byte slots of the lane with index `rel` (`I64`) in the
    /// spill register file.
    pub(crate) fn file_bases(&mut self, rel: Value) -> [Value; 2] {
        [2, 3].map(|sh| {
            let o = self.b.ins().ishl_imm_s(rel, sh);
            self.b.ins().iadd(self.scratch, o)
        })
    }

    /// As [`Tr::lane_slot`] for lane `lane` (`I32`).
    pub(crate) fn lane_slot_of(&mut self, off: u32, size: u32, lane: Value) -> Value {
        let (a, o) = self.lane_entry_of(off, size, lane);
        self.b.ins().iadd_imm_s(a, i64::from(o))
    }

    /// As [`Tr::lane_entry`] for lane `lane` (`I32`).
    pub(crate) fn lane_entry_of(&mut self, off: u32, size: u32, lane: Value) -> (Value, i32) {
        let l = self.b.ins().uextend(types::I64, lane);
        let o = self.times(l, size);
        (self.b.ins().iadd(self.scratch, o), off as i32)
    }

    /// Registers and predicates live at some bail-out pc: the only ones a bail-out spills and
    /// a resumed lane reloads.
    ///
    /// Kept until the sets grow (they only grow): a program with a barrier at every
    /// instruction asked for it at each one, in time quadratic in their number.
    pub(crate) fn spill_set(&self) -> LiveSet {
        let key = (self.resume_pcs.len(), self.barrier_pcs.len());
        if let Some((k, set)) = self.spill_cache.get() {
            if k == key {
                return set;
            }
        }
        let set = self.live_at(self.resume_pcs.iter().chain(&self.barrier_pcs).copied());
        self.spill_cache.set(Some((key, set)));
        set
    }

    /// Registers and predicates live at any of `pcs`.
    pub(crate) fn live_at(&self, pcs: impl Iterator<Item = u32>) -> LiveSet {
        let mut r = [0u64; 4];
        let mut p = 0u16;
        for pc in pcs {
            if let Some(l) = self.an.live_regs.get(pc as usize) {
                for w in 0..4 {
                    r[w] |= l[w];
                }
            }
            p |= self.an.live_preds.get(pc as usize).copied().unwrap_or(0);
        }
        (r, p)
    }
}
