//! Memory accesses, shared by both strategies: spaces, address offsets with their overflow
//! bits, space bases and lengths, bounds and alignment checks; scalar loads and stores.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, BlockArg, InstBuilder, MemFlagsData, Opcode, Type, Value, ValueDef,
};
use holovm_isa::{Addr, SharedAddr, Src, Ty, POOL_CLASS_BYTES, POOL_PAGE_BYTES};

use super::{s_home, Tr};
use crate::abi::{off, TrapKind, SPACE_POOL, SPACE_SHARED};

/// A memory space an access goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpaceRef {
    /// A buffer parameter known at compile time.
    Param(u8),
    /// The boundary pool.
    Pool,
    /// The block's shared memory.
    Shared,
    /// The space named at run time by the high half of a global pointer (`I64`).
    Dynamic(Value),
}

/// A computed byte offset into a space, before checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemOff {
    pub space: SpaceRef,
    /// Byte offset (`I64`, modulo 2^64).
    pub off: Value,
    /// Bits 64..128 of the exact offset as a signed 128-bit number (`I64`); `None` for 0.
    /// Nonzero means the offset is negative or above `u64::MAX`: out of bounds.
    pub hi: Option<Value>,
    /// A power of two the offset is known to be a multiple of (1: nothing known).
    pub align: u32,
    /// The offset is known to be below 2^41, so adding an access size cannot wrap.
    pub small: bool,
}

/// The largest power of two that divides `c` (2^31 for 0), as an offset's known alignment.
fn align_of(c: u64) -> u32 {
    1 << c.trailing_zeros().min(31)
}

impl Tr<'_, '_> {
    // ---------------------------------------------------------------------------------
    // Memory (shared by both strategies)
    // ---------------------------------------------------------------------------------

    /// `idx * scale` (scale 1, 2, 4, 8) as (low 64 bits, high bits); `small`: `idx` is
    /// known to be below 2^61, so there are no high bits.
    pub(crate) fn mul_scale(
        &mut self,
        idx: Value,
        scale: u8,
        small: bool,
    ) -> (Value, Option<Value>) {
        let sh = match scale {
            2 => 1,
            4 => 2,
            8 => 3,
            _ => 0,
        };
        if sh == 0 {
            return (idx, None);
        }
        let prod = self.b.ins().ishl_imm_s(idx, sh);
        let hi = (!small).then(|| self.b.ins().ushr_imm_s(idx, 64 - sh));
        (prod, hi)
    }

    /// `v * k`: a shift where `k` is a power of two (entry and element sizes are), which
    /// unoptimised code would otherwise lower to a multiply.
    pub(crate) fn times(&mut self, v: Value, k: u32) -> Value {
        match k.is_power_of_two() {
            true => self.b.ins().ishl_imm_s(v, i64::from(k.trailing_zeros())),
            false => self.b.ins().imul_imm_s(v, i64::from(k)),
        }
    }

    /// Whether `v` (`I64`) is a 32-bit value zero-extended (a register of a 32-bit class
    /// read as its 64-bit image), so below 2^32.
    pub(crate) fn below_2_32(&self, v: Value) -> bool {
        let dfg = &self.b.func.dfg;
        let ValueDef::Result(inst, 0) = dfg.value_def(v) else {
            return false;
        };
        dfg.insts[inst].opcode() == Opcode::Uextend
            && dfg
                .inst_args(inst)
                .first()
                .is_some_and(|&a| dfg.value_type(a).bits() <= 32)
    }

    /// `idx * scale + c` for a constant `c` below 2^40, as (low 64 bits, high bits, whether
    /// it is below 2^41: see [`MemOff::small`]).
    fn scaled_plus(&mut self, idx: Value, scale: u8, c: Value) -> (Value, Option<Value>, bool) {
        if self.below_2_32(idx) {
            // Below 2^35 + 2^40: no wrap, no high bits.
            let (m, _) = self.mul_scale(idx, scale, true);
            return (self.b.ins().iadd(m, c), None, true);
        }
        let (m, ovf) = self.mul_scale(idx, scale, false);
        let (off, ovf) = self.add_ovf(m, c, ovf);
        (off, ovf, false)
    }

    /// `a + b` with the carry added to the high bits `ovf`.
    pub(crate) fn add_ovf(
        &mut self,
        a: Value,
        b2: Value,
        ovf: Option<Value>,
    ) -> (Value, Option<Value>) {
        let s = self.b.ins().iadd(a, b2);
        let c = self.b.ins().icmp(IntCC::UnsignedLessThan, s, a);
        let c = self.b.ins().uextend(types::I64, c);
        let hi = match ovf {
            Some(h) => self.b.ins().iadd(h, c),
            None => c,
        };
        (s, Some(hi))
    }

    pub(crate) fn or_flag(&mut self, a: Option<Value>, c: Value) -> Value {
        match a {
            Some(a) => self.b.ins().bor(a, c),
            None => c,
        }
    }

    /// The offset of a global address, given a reader for its register operands as `u64`.
    pub(crate) fn global_off(
        &mut self,
        addr: &Addr,
        read: &mut dyn FnMut(&mut Self, Src) -> Value,
    ) -> MemOff {
        match *addr {
            Addr::BufferOffset { buf, offset } => {
                let off = self.b.ins().iconst(types::I64, offset as i64);
                MemOff {
                    space: SpaceRef::Param(buf),
                    off,
                    hi: None,
                    align: align_of(offset as u64),
                    small: true,
                }
            }
            Addr::BufferIndex { buf, index, scale } => {
                let idx = read(self, index);
                // A special register, or a 32-bit register zero-extended, is below 2^32:
                // times 8 it cannot overflow.
                let small = matches!(index, Src::Special(_)) || self.below_2_32(idx);
                let (off, ovf) = self.mul_scale(idx, scale, small);
                MemOff {
                    space: SpaceRef::Param(buf),
                    off,
                    hi: ovf,
                    align: scale as u32,
                    small,
                }
            }
            Addr::Phi {
                class,
                page,
                byte,
                index,
            } => {
                let base = class as u64 * POOL_CLASS_BYTES as u64
                    + page as u64 * POOL_PAGE_BYTES as u64
                    + byte as u64;
                let basev = self.b.ins().iconst(types::I64, base as i64);
                match index {
                    None => MemOff {
                        space: SpaceRef::Pool,
                        off: basev,
                        hi: None,
                        align: align_of(base),
                        small: true,
                    },
                    Some((src, scale)) => {
                        let idx = read(self, src);
                        let (off, hi, small) = self.scaled_plus(idx, scale, basev);
                        MemOff {
                            space: SpaceRef::Pool,
                            off,
                            hi,
                            align: align_of(base).min(scale as u32),
                            small,
                        }
                    }
                }
            }
            Addr::RegisterIndirect { base, offset } => {
                let p = read(self, Src::Reg(base));
                let hi = self.b.ins().ushr_imm_s(p, 32);
                let lo = self.b.ins().band_imm_s(p, 0xffff_ffff);
                // Exact in 64 bits, below 2^33; a negative result (a negative `offset`
                // only) has high bits -1 (out of bounds).
                let off = self.b.ins().iadd_imm_s(lo, offset as i64);
                let sign = (offset < 0).then(|| self.b.ins().sshr_imm_s(off, 63));
                MemOff {
                    space: SpaceRef::Dynamic(hi),
                    off,
                    hi: sign,
                    align: 1,
                    small: true,
                }
            }
            Addr::RegisterIndirectComputed { handle, offset } => {
                let p = read(self, Src::Reg(handle));
                let o = read(self, Src::Reg(offset));
                let hi = self.b.ins().ushr_imm_s(p, 32);
                let lo = self.b.ins().band_imm_s(p, 0xffff_ffff);
                let (off, ovf) = self.add_ovf(lo, o, None);
                MemOff {
                    space: SpaceRef::Dynamic(hi),
                    off,
                    hi: ovf,
                    align: 1,
                    small: false,
                }
            }
        }
    }

    /// The offset of a shared-memory address.
    pub(crate) fn shared_off(
        &mut self,
        addr: &SharedAddr,
        read: &mut dyn FnMut(&mut Self, Src) -> Value,
    ) -> MemOff {
        let c = self.b.ins().iconst(types::I64, addr.offset as i64);
        match addr.index {
            None => MemOff {
                space: SpaceRef::Shared,
                off: c,
                hi: None,
                align: align_of(addr.offset as u64),
                small: true,
            },
            Some((src, scale)) => {
                let idx = read(self, src);
                let (off, hi, small) = self.scaled_plus(idx, scale, c);
                MemOff {
                    space: SpaceRef::Shared,
                    off,
                    hi,
                    align: align_of(addr.offset as u64).min(scale as u32),
                    small,
                }
            }
        }
    }

    /// The trap-record space code of a space (`I32`).
    pub(crate) fn space_code(&mut self, s: SpaceRef) -> Value {
        match s {
            SpaceRef::Param(i) => self.b.ins().iconst(types::I32, i as i64),
            SpaceRef::Pool => self.b.ins().iconst(types::I32, SPACE_POOL as i64),
            SpaceRef::Shared => self.b.ins().iconst(types::I32, SPACE_SHARED as i64),
            SpaceRef::Dynamic(hi) => self.b.ins().ireduce(types::I32, hi),
        }
    }

    /// Base pointer of a space known at compile time (`I64`).
    pub(crate) fn space_ptr(&mut self, s: SpaceRef) -> Value {
        match s {
            SpaceRef::Param(i) if (i as usize) < self.nparams => self.slot_field(i, off::SLOT_PTR),
            SpaceRef::Pool => self.pool_ptr(),
            SpaceRef::Shared => self.scratch,
            _ => self.space_base(s).0,
        }
    }

    /// Length in bytes (`I64`) of a space, without loading its base pointer (loads that
    /// are not used are still emitted).
    pub(crate) fn space_len(&mut self, s: SpaceRef) -> Value {
        match s {
            SpaceRef::Param(i) if (i as usize) < self.nparams => self.slot_field(i, off::SLOT_LEN),
            _ => self.space_base(s).1,
        }
    }

    /// Base pointer and length (`I64`s) of a space; an invalid dynamic space has length 0.
    pub(crate) fn space_base(&mut self, s: SpaceRef) -> (Value, Value) {
        match s {
            SpaceRef::Param(i) => {
                if i as usize >= self.nparams {
                    let z = self.b.ins().iconst(types::I64, 0);
                    return (z, z);
                }
                let ptr = self.slot_field(i, off::SLOT_PTR);
                let len = self.slot_field(i, off::SLOT_LEN);
                (ptr, len)
            }
            SpaceRef::Pool => (self.pool_ptr(), self.pool_len()),
            SpaceRef::Shared => {
                let len = self
                    .b
                    .ins()
                    .iconst(types::I64, self.layout.shared_bytes as i64);
                (self.scratch, len)
            }
            SpaceRef::Dynamic(hi) => {
                let merge = self.b.create_block();
                let ptr = self.b.append_block_param(merge, types::I64);
                let len = self.b.append_block_param(merge, types::I64);
                let pool_b = self.b.create_block();
                let chk = self.b.create_block();
                let none = self.b.create_block();
                let is_pool = self.b.ins().icmp_imm_s(IntCC::Equal, hi, SPACE_POOL as i64);
                self.b.ins().brif(is_pool, pool_b, &[], chk, &[]);
                self.b.switch_to_block(pool_b);
                let (pool, pool_len) = self.space_base(SpaceRef::Pool);
                let b = &mut self.b;
                b.ins()
                    .jump(merge, &[BlockArg::Value(pool), BlockArg::Value(pool_len)]);
                b.switch_to_block(chk);
                let nparams = self.nparams as i64;
                if self.buf_mask != 0 {
                    let load_b = b.create_block();
                    let in_range = b.ins().icmp_imm_s(IntCC::UnsignedLessThan, hi, nparams);
                    let mask = b.ins().iconst(types::I64, self.buf_mask as i64);
                    let bit = b.ins().ushr(mask, hi);
                    let bit = b.ins().band_imm_s(bit, 1);
                    let isbuf = b.ins().icmp_imm_s(IntCC::NotEqual, bit, 0);
                    let valid = b.ins().band(in_range, isbuf);
                    b.ins().brif(valid, load_b, &[], none, &[]);
                    b.switch_to_block(load_b);
                    let o = self.times(hi, off::SLOT_SIZE as u32);
                    let params = self.params_ptr();
                    let b = &mut self.b;
                    let a = b.ins().iadd(params, o);
                    let fl = MemFlagsData::trusted();
                    let p = b.ins().load(types::I64, fl, a, off::SLOT_PTR);
                    let l = b.ins().load(types::I64, fl, a, off::SLOT_LEN);
                    b.ins()
                        .jump(merge, &[BlockArg::Value(p), BlockArg::Value(l)]);
                } else {
                    b.ins().jump(none, &[]);
                }
                let b = &mut self.b;
                b.switch_to_block(none);
                let z = b.ins().iconst(types::I64, 0);
                b.ins()
                    .jump(merge, &[BlockArg::Value(z), BlockArg::Value(z)]);
                b.switch_to_block(merge);
                (ptr, len)
            }
        }
    }

    /// (out of bounds, misaligned) flags of an access of `size` bytes at `off` in a space of
    /// `len` bytes. Works on `I64` scalars.
    pub(crate) fn bad_flags(
        &mut self,
        m: &MemOff,
        len: Value,
        size: u32,
    ) -> (Value, Option<Value>) {
        let b = &mut self.b;
        let oob = if m.small && m.hi.is_none() {
            // `off + size` does not wrap.
            let end = b.ins().iadd_imm_s(m.off, size as i64);
            b.ins().icmp(IntCC::UnsignedGreaterThan, end, len)
        } else {
            let past = b.ins().icmp(IntCC::UnsignedGreaterThan, m.off, len);
            let room = b.ins().isub(len, m.off);
            let short = b
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThan, room, size as i64);
            b.ins().bor(past, short)
        };
        let oob = match m.hi {
            Some(h) => {
                let big = self.b.ins().icmp_imm_s(IntCC::NotEqual, h, 0);
                self.b.ins().bor(big, oob)
            }
            None => oob,
        };
        // An offset known to be a multiple of the size is aligned.
        let mis = if size > 1 && !m.align.is_multiple_of(size) {
            let low = self.b.ins().band_imm_s(m.off, size as i64 - 1);
            Some(self.b.ins().icmp_imm_s(IntCC::NotEqual, low, 0))
        } else {
            None
        };
        (oob, mis)
    }

    /// Checks an access in scalar code (trapping), returning its address.
    pub(super) fn s_checked_addr(&mut self, pc: u32, m: MemOff, size: u32) -> Value {
        let (ptr, len) = self.space_base(m.space);
        let (oob, mis) = self.bad_flags(&m, len, size);
        self.s_trap_if(oob, TrapKind::OutOfBounds, pc, m.space, m.off, m.hi);
        if let Some(mis) = mis {
            self.s_trap_if(mis, TrapKind::Misaligned, pc, m.space, m.off, None);
        }
        self.b.ins().iadd(ptr, m.off)
    }

    /// Loads a `ty` from `addr` and returns its 64-bit register image.
    /// Loads a `ty` from `addr` into register `dst`.
    pub(super) fn s_load(&mut self, dst: usize, ty: Ty, addr: Value) {
        let home = s_home(self.an, dst);
        if home != types::I64 {
            // Same width as `ty` (the register has one class): load it as is; a narrow
            // type zero-extended into its 32-bit lane.
            let fl = MemFlagsData::trusted();
            let v = match ty.bits() {
                8 => self.b.ins().uload8(types::I32, fl, addr, 0),
                16 => self.b.ins().uload16(types::I32, fl, addr, 0),
                _ => self.b.ins().load(home, fl, addr, 0),
            };
            self.b.def_var(self.s_regs[dst], v);
            return;
        }
        let it = Type::int(ty.bits() as u16).unwrap_or(types::I64);
        let v = self.b.ins().load(it, MemFlagsData::trusted(), addr, 0);
        let v = if it == types::I64 {
            v
        } else {
            self.b.ins().uextend(types::I64, v)
        };
        self.b.def_var(self.s_regs[dst], v);
    }

    pub(super) fn s_store(&mut self, ty: Ty, addr: Value, src: Src) {
        let v = self.s_read(src, ty);
        let v = if ty.bits() >= 32 {
            v
        } else {
            let it = Type::int(ty.bits() as u16).unwrap_or(types::I8);
            self.b.ins().ireduce(it, v)
        };
        self.b.ins().store(MemFlagsData::trusted(), v, addr, 0);
    }
}
