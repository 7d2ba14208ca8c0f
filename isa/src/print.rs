//! The canonical text form of instructions (docs/ISA.md, section 9).
//!
//! The disassembler prints whole programs with this, and the VM uses it for the instruction
//! text of trap messages. The output is lowercase and reads back through the assembler to the
//! same instruction: branch targets print as `@L{index}` (the disassembler emits matching
//! `L{index}:` labels), immediates print in the notation of their type and `mov` with an
//! immediate source prints as `mov_imm`.
//!
//! The printer never panics, also on unverified input: an out-of-range parameter index prints
//! as `$<index>`, and an immediate with bits above its type's width prints as a hex literal
//! that the assembler rejects rather than silently truncating it.
//!
//! ```
//! use holovm_isa::*;
//! let params = [Param { name: "x".into(), kind: ParamKind::Buffer(Ty::F32) }];
//! let inst = Inst::Ldg {
//!     ty: Ty::F32,
//!     dst: Reg(1),
//!     addr: Addr::BufferIndex { buf: 0, index: Src::Special(Special::GlobalId), scale: 4 },
//! };
//! let mut text = String::new();
//! print::write_inst(&mut text, &params, &inst);
//! assert_eq!(text, "ldg.f32 r1, [x + %gid*4]");
//! ```

use std::fmt::{self, Write};

use crate::{Addr, Guard, Inst, Param, ProgramDef, SharedAddr, Src, Ty};

/// The default quiet NaN of `f32`, printed as `nan`.
const F32_QUIET_NAN: u32 = 0x7fc0_0000;
/// The default quiet NaN of `f64`, printed as `nan`.
const F64_QUIET_NAN: u64 = 0x7ff8_0000_0000_0000;

/// Appends the text of one instruction to `out` (no indentation, no newline).
///
/// `params` are the program's parameters, used to print parameter operands and buffer
/// addresses by name.
///
/// ```
/// use holovm_isa::*;
/// let mut text = String::new();
/// let inst = Inst::Mov { ty: Ty::F32, dst: Reg(0), src: Src::Imm(1.5f32.to_bits() as u64) };
/// print::write_inst(&mut text, &[], &inst);
/// assert_eq!(text, "mov_imm.f32 r0, 1.5");
/// ```
pub fn write_inst(out: &mut String, params: &[Param], inst: &Inst) {
    // Writing into a String cannot fail.
    let _ = write!(out, "{}", InstText { params, inst });
}

/// The text of instruction `pc` of `def`, or `"<pc out of range>"`.
///
/// ```
/// use holovm_isa::*;
/// let def = ProgramDef { name: "k".into(), insts: vec![Inst::Exit], ..Default::default() };
/// assert_eq!(print::inst_text(&def, 0), "exit");
/// assert_eq!(print::inst_text(&def, 1), "<pc out of range>");
/// ```
pub fn inst_text(def: &ProgramDef, pc: usize) -> String {
    match def.insts.get(pc) {
        Some(inst) => {
            let mut s = String::new();
            write_inst(&mut s, &def.params, inst);
            s
        }
        None => "<pc out of range>".to_string(),
    }
}

/// Appends the text of an immediate `bits` of type `ty` (docs/ISA.md, section 9.3): signed
/// decimal for `iN`, decimal for `uN`, and for floats the shortest decimal that reads back to
/// the same bits, `inf`, `-inf`, `nan` (the default quiet NaN) or a `0f`/`0d` bit pattern for
/// any other NaN.
///
/// ```
/// use holovm_isa::{print, Ty};
/// let mut s = String::new();
/// print::write_imm(&mut s, Ty::I8, 0xff);
/// s.push(' ');
/// print::write_imm(&mut s, Ty::F32, 0x7fc0_0001);
/// assert_eq!(s, "-1 0f7fc00001");
/// ```
pub fn write_imm(out: &mut String, ty: Ty, bits: u64) {
    let _ = write!(out, "{}", ImmText { ty, bits });
}

struct InstText<'a> {
    params: &'a [Param],
    inst: &'a Inst,
}

struct ImmText {
    ty: Ty,
    bits: u64,
}

impl fmt::Display for ImmText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ty, bits) = (self.ty, self.bits);
        if bits & !ty.mask() != 0 {
            // Invalid (unverified) immediate: print every bit, in a form the assembler
            // rejects for this type instead of reading back a truncated value.
            return write!(f, "{bits:#x}");
        }
        match ty {
            Ty::I8 => write!(f, "{}", bits as u8 as i8),
            Ty::I16 => write!(f, "{}", bits as u16 as i16),
            Ty::I32 => write!(f, "{}", bits as u32 as i32),
            Ty::I64 => write!(f, "{}", bits as i64),
            Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64 => write!(f, "{bits}"),
            Ty::F32 => {
                let b = bits as u32;
                let x = f32::from_bits(b);
                if x.is_nan() {
                    if b == F32_QUIET_NAN {
                        f.write_str("nan")
                    } else {
                        write!(f, "0f{b:08x}")
                    }
                } else if x.is_infinite() {
                    f.write_str(if x > 0.0 { "inf" } else { "-inf" })
                } else {
                    // `{:?}` is Rust's shortest round-trip form and always marks a float
                    // (`1.0`, `1e-7`), never a bare integer.
                    write!(f, "{x:?}")
                }
            }
            Ty::F64 => {
                let x = f64::from_bits(bits);
                if x.is_nan() {
                    if bits == F64_QUIET_NAN {
                        f.write_str("nan")
                    } else {
                        write!(f, "0d{bits:016x}")
                    }
                } else if x.is_infinite() {
                    f.write_str(if x > 0.0 { "inf" } else { "-inf" })
                } else {
                    write!(f, "{x:?}")
                }
            }
        }
    }
}

impl InstText<'_> {
    fn param(&self, f: &mut fmt::Formatter<'_>, index: u8) -> fmt::Result {
        match self.params.get(index as usize) {
            Some(p) => f.write_str(&p.name),
            None => write!(f, "${index}"),
        }
    }

    fn src(&self, f: &mut fmt::Formatter<'_>, ty: Ty, src: Src) -> fmt::Result {
        match src {
            Src::Reg(r) => write!(f, "{r}"),
            Src::Special(s) => write!(f, "{s}"),
            Src::Param(i) => self.param(f, i),
            Src::Imm(bits) => write!(f, "{}", ImmText { ty, bits }),
        }
    }

    /// `idx*scale`, or just `idx` for scale 1. Index operands are never immediates in a valid
    /// program; should one appear, it is printed as an unsigned number.
    fn index(&self, f: &mut fmt::Formatter<'_>, index: Src, scale: u8) -> fmt::Result {
        self.src(f, Ty::U64, index)?;
        if scale != 1 {
            write!(f, "*{scale}")?;
        }
        Ok(())
    }

    fn addr(&self, f: &mut fmt::Formatter<'_>, addr: &Addr) -> fmt::Result {
        f.write_str("[")?;
        match *addr {
            Addr::BufferOffset { buf, offset } => {
                self.param(f, buf)?;
                if offset != 0 {
                    write!(f, " + {offset}")?;
                }
            }
            Addr::BufferIndex { buf, index, scale } => {
                self.param(f, buf)?;
                f.write_str(" + ")?;
                self.index(f, index, scale)?;
            }
            Addr::Phi {
                class,
                page,
                byte,
                index,
            } => {
                write!(f, "phi({class}, {page}, {byte})")?;
                if let Some((index, scale)) = index {
                    f.write_str(" + ")?;
                    self.index(f, index, scale)?;
                }
            }
            Addr::RegisterIndirect { base, offset } => {
                write!(f, "{base}")?;
                if offset > 0 {
                    write!(f, " + {offset}")?;
                } else if offset < 0 {
                    // unsigned_abs: i32::MIN has no positive i32.
                    write!(f, " - {}", offset.unsigned_abs())?;
                }
            }
            Addr::RegisterIndirectComputed { handle, offset } => {
                write!(f, "{handle} + {offset}")?;
            }
        }
        f.write_str("]")
    }

    fn shared(&self, f: &mut fmt::Formatter<'_>, addr: &SharedAddr) -> fmt::Result {
        f.write_str("[shared")?;
        if let Some((index, scale)) = addr.index {
            f.write_str(" + ")?;
            self.index(f, index, scale)?;
        }
        if addr.offset != 0 {
            write!(f, " + {}", addr.offset)?;
        }
        f.write_str("]")
    }
}

fn guard(f: &mut fmt::Formatter<'_>, g: Option<Guard>) -> fmt::Result {
    match g {
        Some(Guard {
            pred,
            negate: false,
        }) => write!(f, "@{pred} "),
        Some(Guard { pred, negate: true }) => write!(f, "@!{pred} "),
        None => Ok(()),
    }
}

impl fmt::Display for InstText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.inst {
            Inst::Ldg { ty, dst, ref addr } => {
                write!(f, "ldg.{ty} {dst}, ")?;
                self.addr(f, addr)
            }
            Inst::Stg { ty, src, ref addr } => {
                write!(f, "stg.{ty} ")?;
                self.addr(f, addr)?;
                f.write_str(", ")?;
                self.src(f, ty, src)
            }
            Inst::Lds { ty, dst, ref addr } => {
                write!(f, "lds.{ty} {dst}, ")?;
                self.shared(f, addr)
            }
            Inst::Sts { ty, src, ref addr } => {
                write!(f, "sts.{ty} ")?;
                self.shared(f, addr)?;
                f.write_str(", ")?;
                self.src(f, ty, src)
            }
            Inst::Mov { ty, dst, src } => {
                let op = if matches!(src, Src::Imm(_)) {
                    "mov_imm"
                } else {
                    "mov"
                };
                write!(f, "{op}.{ty} {dst}, ")?;
                self.src(f, ty, src)
            }
            Inst::Cvt { to, from, dst, src } => {
                write!(f, "cvt.{to}.{from} {dst}, ")?;
                self.src(f, from, src)
            }
            Inst::Bin { op, ty, dst, a, b } => {
                write!(f, "{}.{ty} {dst}, ", op.name())?;
                self.src(f, ty, a)?;
                f.write_str(", ")?;
                self.src(f, ty, b)
            }
            Inst::Un { op, ty, dst, a } => {
                write!(f, "{}.{ty} {dst}, ", op.name())?;
                self.src(f, ty, a)
            }
            Inst::Fma { ty, dst, a, b, c } => {
                write!(f, "fma.{ty} {dst}, ")?;
                self.src(f, ty, a)?;
                f.write_str(", ")?;
                self.src(f, ty, b)?;
                f.write_str(", ")?;
                self.src(f, ty, c)
            }
            Inst::Setp { cmp, ty, dst, a, b } => {
                write!(f, "setp.{}.{ty} {dst}, ", cmp.name())?;
                self.src(f, ty, a)?;
                f.write_str(", ")?;
                self.src(f, ty, b)
            }
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            } => {
                write!(f, "sel.{ty} {dst}, {pred}, ")?;
                self.src(f, ty, a)?;
                f.write_str(", ")?;
                self.src(f, ty, b)
            }
            Inst::Bra { target, guard: g } => {
                guard(f, g)?;
                write!(f, "bra @L{target}")
            }
            Inst::Loop { counter, target } => write!(f, "loop {counter}, @L{target}"),
            Inst::Call { target } => write!(f, "call @L{target}"),
            Inst::Ret => f.write_str("ret"),
            Inst::Exit => f.write_str("exit"),
            Inst::BarSync => f.write_str("bar.sync"),
            Inst::MemFence => f.write_str("memfence"),
            Inst::Reduce { op, ty, dst, src } => {
                write!(f, "reduce.{}.{ty} {dst}, ", op.name())?;
                self.src(f, ty, src)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BinOp, Cmp, ParamKind, Pred, RedOp, Reg, Special, UnOp};

    fn params() -> Vec<Param> {
        vec![
            Param {
                name: "a".into(),
                kind: ParamKind::Buffer(Ty::F32),
            },
            Param {
                name: "n".into(),
                kind: ParamKind::Scalar(Ty::U32),
            },
        ]
    }

    fn text(inst: Inst) -> String {
        let mut s = String::new();
        write_inst(&mut s, &params(), &inst);
        s
    }

    fn imm(ty: Ty, bits: u64) -> String {
        let mut s = String::new();
        write_imm(&mut s, ty, bits);
        s
    }

    const R1: Reg = Reg(1);
    const R2: Reg = Reg(2);
    const GID: Src = Src::Special(Special::GlobalId);

    #[test]
    fn memory_instructions() {
        let a16 = Addr::BufferOffset { buf: 0, offset: 16 };
        assert_eq!(
            text(Inst::Ldg {
                ty: Ty::F32,
                dst: R1,
                addr: a16
            }),
            "ldg.f32 r1, [a + 16]"
        );
        assert_eq!(
            text(Inst::Stg {
                ty: Ty::F32,
                src: Src::Reg(R2),
                addr: a16
            }),
            "stg.f32 [a + 16], r2"
        );
        let sh = SharedAddr {
            index: Some((Src::Reg(R1), 4)),
            offset: 16,
        };
        assert_eq!(
            text(Inst::Lds {
                ty: Ty::U32,
                dst: R2,
                addr: sh
            }),
            "lds.u32 r2, [shared + r1*4 + 16]"
        );
        assert_eq!(
            text(Inst::Sts {
                ty: Ty::U32,
                src: Src::Imm(7),
                addr: sh
            }),
            "sts.u32 [shared + r1*4 + 16], 7"
        );
    }

    #[test]
    fn addressing_modes() {
        let ldg = |addr| {
            text(Inst::Ldg {
                ty: Ty::F32,
                dst: R1,
                addr,
            })
        };
        assert_eq!(
            ldg(Addr::BufferOffset { buf: 0, offset: 0 }),
            "ldg.f32 r1, [a]"
        );
        assert_eq!(
            ldg(Addr::BufferOffset {
                buf: 0,
                offset: u32::MAX
            }),
            "ldg.f32 r1, [a + 4294967295]"
        );
        assert_eq!(
            ldg(Addr::BufferIndex {
                buf: 0,
                index: Src::Reg(Reg(3)),
                scale: 4
            }),
            "ldg.f32 r1, [a + r3*4]"
        );
        assert_eq!(
            ldg(Addr::BufferIndex {
                buf: 0,
                index: Src::Reg(Reg(3)),
                scale: 1
            }),
            "ldg.f32 r1, [a + r3]"
        );
        assert_eq!(
            ldg(Addr::BufferIndex {
                buf: 0,
                index: GID,
                scale: 8
            }),
            "ldg.f32 r1, [a + %gid*8]"
        );
        assert_eq!(
            ldg(Addr::Phi {
                class: 3,
                page: 12,
                byte: 0,
                index: None
            }),
            "ldg.f32 r1, [phi(3, 12, 0)]"
        );
        assert_eq!(
            ldg(Addr::Phi {
                class: 3,
                page: 12,
                byte: 0,
                index: Some((Src::Reg(R1), 4))
            }),
            "ldg.f32 r1, [phi(3, 12, 0) + r1*4]"
        );
        assert_eq!(
            ldg(Addr::Phi {
                class: 95,
                page: 47,
                byte: 255,
                index: Some((GID, 1))
            }),
            "ldg.f32 r1, [phi(95, 47, 255) + %gid]"
        );
        assert_eq!(
            ldg(Addr::RegisterIndirect {
                base: Reg(5),
                offset: 8
            }),
            "ldg.f32 r1, [r5 + 8]"
        );
        assert_eq!(
            ldg(Addr::RegisterIndirect {
                base: Reg(5),
                offset: -8
            }),
            "ldg.f32 r1, [r5 - 8]"
        );
        assert_eq!(
            ldg(Addr::RegisterIndirect {
                base: Reg(5),
                offset: 0
            }),
            "ldg.f32 r1, [r5]"
        );
        assert_eq!(
            ldg(Addr::RegisterIndirect {
                base: Reg(5),
                offset: i32::MIN
            }),
            "ldg.f32 r1, [r5 - 2147483648]"
        );
        assert_eq!(
            ldg(Addr::RegisterIndirectComputed {
                handle: Reg(5),
                offset: Reg(6)
            }),
            "ldg.f32 r1, [r5 + r6]"
        );
    }

    #[test]
    fn shared_addresses() {
        let lds = |index, offset| {
            text(Inst::Lds {
                ty: Ty::F32,
                dst: R1,
                addr: SharedAddr { index, offset },
            })
        };
        assert_eq!(lds(None, 0), "lds.f32 r1, [shared]");
        assert_eq!(lds(None, 16), "lds.f32 r1, [shared + 16]");
        assert_eq!(
            lds(Some((Src::Reg(R1), 4)), 0),
            "lds.f32 r1, [shared + r1*4]"
        );
        assert_eq!(lds(Some((Src::Reg(R1), 1)), 0), "lds.f32 r1, [shared + r1]");
        assert_eq!(lds(Some((GID, 2)), 8), "lds.f32 r1, [shared + %gid*2 + 8]");
    }

    #[test]
    fn moves_and_conversions() {
        assert_eq!(
            text(Inst::Mov {
                ty: Ty::U32,
                dst: R1,
                src: Src::Reg(R2)
            }),
            "mov.u32 r1, r2"
        );
        assert_eq!(
            text(Inst::Mov {
                ty: Ty::U32,
                dst: R1,
                src: GID
            }),
            "mov.u32 r1, %gid"
        );
        assert_eq!(
            text(Inst::Mov {
                ty: Ty::U32,
                dst: R1,
                src: Src::Param(1)
            }),
            "mov.u32 r1, n"
        );
        assert_eq!(
            text(Inst::Mov {
                ty: Ty::I32,
                dst: R1,
                src: Src::Imm(0xffff_ffff)
            }),
            "mov_imm.i32 r1, -1"
        );
        assert_eq!(
            text(Inst::Cvt {
                to: Ty::F32,
                from: Ty::I32,
                dst: R1,
                src: Src::Imm(0xffff_fffe)
            }),
            "cvt.f32.i32 r1, -2"
        );
        assert_eq!(
            text(Inst::Cvt {
                to: Ty::I64,
                from: Ty::F64,
                dst: R1,
                src: Src::Reg(R2)
            }),
            "cvt.i64.f64 r1, r2"
        );
    }

    #[test]
    fn specials() {
        let names: Vec<String> = Special::ALL
            .into_iter()
            .map(|s| {
                text(Inst::Mov {
                    ty: Ty::U32,
                    dst: R1,
                    src: Src::Special(s),
                })
            })
            .collect();
        assert_eq!(
            names,
            [
                "mov.u32 r1, %lane",
                "mov.u32 r1, %block",
                "mov.u32 r1, %bdim",
                "mov.u32 r1, %gdim",
                "mov.u32 r1, %gid"
            ]
        );
    }

    #[test]
    fn arithmetic() {
        for op in BinOp::ALL {
            let t = text(Inst::Bin {
                op,
                ty: Ty::I64,
                dst: R1,
                a: Src::Reg(R2),
                b: Src::Imm(3),
            });
            assert_eq!(t, format!("{}.i64 r1, r2, 3", op.name()));
        }
        for op in UnOp::ALL {
            let t = text(Inst::Un {
                op,
                ty: Ty::F64,
                dst: R1,
                a: Src::Reg(R2),
            });
            assert_eq!(t, format!("{}.f64 r1, r2", op.name()));
        }
        assert_eq!(
            text(Inst::Fma {
                ty: Ty::F32,
                dst: R1,
                a: Src::Reg(R2),
                b: Src::Imm(2.0f32.to_bits() as u64),
                c: Src::Param(1),
            }),
            "fma.f32 r1, r2, 2.0, n"
        );
    }

    #[test]
    fn compare_and_select() {
        for cmp in Cmp::ALL {
            let t = text(Inst::Setp {
                cmp,
                ty: Ty::U32,
                dst: Pred(3),
                a: GID,
                b: Src::Param(1),
            });
            assert_eq!(t, format!("setp.{}.u32 p3, %gid, n", cmp.name()));
        }
        assert_eq!(
            text(Inst::Sel {
                ty: Ty::I8,
                dst: R1,
                pred: Pred(15),
                a: Src::Imm(0x80),
                b: Src::Imm(0x7f)
            }),
            "sel.i8 r1, p15, -128, 127"
        );
    }

    #[test]
    fn control_flow() {
        assert_eq!(
            text(Inst::Bra {
                target: 3,
                guard: None
            }),
            "bra @L3"
        );
        assert_eq!(
            text(Inst::Bra {
                target: 3,
                guard: Some(Guard {
                    pred: Pred(0),
                    negate: false
                })
            }),
            "@p0 bra @L3"
        );
        assert_eq!(
            text(Inst::Bra {
                target: 0,
                guard: Some(Guard {
                    pred: Pred(7),
                    negate: true
                })
            }),
            "@!p7 bra @L0"
        );
        assert_eq!(
            text(Inst::Loop {
                counter: Reg(9),
                target: 2
            }),
            "loop r9, @L2"
        );
        assert_eq!(text(Inst::Call { target: 12 }), "call @L12");
        assert_eq!(text(Inst::Ret), "ret");
        assert_eq!(text(Inst::Exit), "exit");
        assert_eq!(text(Inst::BarSync), "bar.sync");
        assert_eq!(text(Inst::MemFence), "memfence");
    }

    #[test]
    fn reductions() {
        for op in RedOp::ALL {
            let t = text(Inst::Reduce {
                op,
                ty: Ty::F32,
                dst: R1,
                src: Src::Reg(R2),
            });
            assert_eq!(t, format!("reduce.{}.f32 r1, r2", op.name()));
        }
    }

    #[test]
    fn integer_immediates() {
        assert_eq!(imm(Ty::I8, 0x80), "-128");
        assert_eq!(imm(Ty::I8, 0x7f), "127");
        assert_eq!(imm(Ty::I16, 0xffff), "-1");
        assert_eq!(imm(Ty::I32, 0x8000_0000), "-2147483648");
        assert_eq!(imm(Ty::I64, u64::MAX), "-1");
        assert_eq!(imm(Ty::I64, i64::MIN as u64), "-9223372036854775808");
        assert_eq!(imm(Ty::U8, 255), "255");
        assert_eq!(imm(Ty::U16, 65535), "65535");
        assert_eq!(imm(Ty::U32, 4_294_967_295), "4294967295");
        assert_eq!(imm(Ty::U64, u64::MAX), "18446744073709551615");
    }

    #[test]
    fn float_immediates() {
        let f32s = |x: f32| imm(Ty::F32, x.to_bits() as u64);
        let f64s = |x: f64| imm(Ty::F64, x.to_bits());
        assert_eq!(f32s(1.0), "1.0");
        assert_eq!(f32s(1e-7), "1e-7");
        assert_eq!(f32s(0.1), "0.1");
        assert_eq!(f32s(-0.0), "-0.0");
        assert_eq!(f32s(f32::INFINITY), "inf");
        assert_eq!(f32s(f32::NEG_INFINITY), "-inf");
        assert_eq!(f32s(f32::NAN), "nan");
        assert_eq!(imm(Ty::F32, 0xffc0_0000), "0fffc00000");
        assert_eq!(imm(Ty::F32, 0x7f80_0001), "0f7f800001");
        assert_eq!(f32s(f32::MAX), "3.4028235e38");
        assert_eq!(f32s(f32::from_bits(1)), "1e-45");
        assert_eq!(f64s(1.0), "1.0");
        assert_eq!(f64s(0.1), "0.1");
        assert_eq!(f64s(-2.0e-3), "-0.002");
        assert_eq!(f64s(f64::NAN), "nan");
        assert_eq!(f64s(f64::NEG_INFINITY), "-inf");
        assert_eq!(imm(Ty::F64, 0x7ff0_0000_0000_0001), "0d7ff0000000000001");
    }

    #[test]
    fn float_immediates_read_back() {
        // The printed form parses back (with Rust's parser, which the assembler uses) to the
        // same bits.
        for x in [
            1.0f32,
            0.1,
            1e-7,
            3.4028235e38,
            f32::MIN_POSITIVE,
            1e-45,
            16777217.0,
            -0.0,
        ] {
            let s = imm(Ty::F32, x.to_bits() as u64);
            assert_eq!(s.parse::<f32>().map(f32::to_bits), Ok(x.to_bits()), "{s}");
        }
        for x in [
            1.0f64,
            0.1,
            1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -0.0,
        ] {
            let s = imm(Ty::F64, x.to_bits());
            assert_eq!(s.parse::<f64>().map(f64::to_bits), Ok(x.to_bits()), "{s}");
        }
    }

    #[test]
    fn unverified_input_does_not_panic() {
        assert_eq!(
            text(Inst::Mov {
                ty: Ty::U32,
                dst: R1,
                src: Src::Param(9)
            }),
            "mov.u32 r1, $9"
        );
        assert_eq!(
            text(Inst::Ldg {
                ty: Ty::F32,
                dst: R1,
                addr: Addr::BufferOffset {
                    buf: 200,
                    offset: 4
                }
            }),
            "ldg.f32 r1, [$200 + 4]"
        );
        // High bits above the type's width are shown, not truncated.
        assert_eq!(imm(Ty::U8, 0x1ff), "0x1ff");
        assert_eq!(imm(Ty::I8, 0x100), "0x100");
        assert_eq!(imm(Ty::F32, 1 << 40), "0x10000000000");
        assert_eq!(
            text(Inst::Ldg {
                ty: Ty::F32,
                dst: R1,
                addr: Addr::BufferIndex {
                    buf: 0,
                    index: Src::Imm(5),
                    scale: 3
                }
            }),
            "ldg.f32 r1, [a + 5*3]"
        );
        assert_eq!(
            text(Inst::Bra {
                target: u32::MAX,
                guard: None
            }),
            "bra @L4294967295"
        );
    }

    #[test]
    fn inst_text_by_pc() {
        let def = ProgramDef {
            name: "k".into(),
            params: params(),
            insts: vec![
                Inst::Mov {
                    ty: Ty::U32,
                    dst: R1,
                    src: Src::Param(1),
                },
                Inst::Exit,
            ],
            ..Default::default()
        };
        assert_eq!(inst_text(&def, 0), "mov.u32 r1, n");
        assert_eq!(inst_text(&def, 1), "exit");
        assert_eq!(inst_text(&def, 2), "<pc out of range>");
        assert_eq!(inst_text(&def, usize::MAX), "<pc out of range>");
    }
}
