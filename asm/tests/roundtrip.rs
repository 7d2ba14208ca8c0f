//! Parse + print round trips: every instruction, type, operand kind, addressing mode, guard,
//! label and directive assembles to the expected `Inst` and prints back to the same text.

use holovm_asm::{assemble, assemble_def, disassemble};
use holovm_isa::{
    print, Addr, BinOp, Cmp, Guard, Inst, LaunchConfig, ParamKind, Pred, RedOp, Reg, SharedAddr,
    Special, Src, Ty, UnOp,
};

/// Header used by the instruction tests: buffers of every type, scalars of every type.
fn header() -> String {
    let mut s = String::from(".kernel t\n.shared 4096\n");
    for ty in Ty::ALL {
        s.push_str(&format!(".param b{ty}: ptr {ty}\n.param s{ty}: {ty}\n"));
    }
    s
}

fn buf(ty: Ty) -> u8 {
    Ty::ALL.iter().position(|&t| t == ty).unwrap() as u8 * 2
}

fn scalar(ty: Ty) -> u8 {
    buf(ty) + 1
}

/// Assembles `line` (one instruction) after the header and `exit`-terminates it; checks that
/// it gives `expected` and that printing gives `line` back.
#[track_caller]
fn check(line: &str, expected: Inst) {
    check_as(line, line, expected);
}

/// Like `check`, when the canonical printed form differs from the input.
#[track_caller]
fn check_as(input: &str, printed: &str, expected: Inst) {
    let src = format!("{}L0:\n    {input}\n    exit\n", header());
    let def = assemble_def(&src).unwrap_or_else(|e| panic!("{input}: {}", e.render("t", &src)));
    let inst = def.insts[0];
    assert_eq!(inst, expected, "{input}");
    assert_eq!(print::inst_text(&def, 0), printed, "{input}");
}

const R1: Reg = Reg(1);
const R2: Reg = Reg(2);
const GID: Src = Src::Special(Special::GlobalId);

fn imm_text(ty: Ty) -> (&'static str, u64) {
    match ty {
        Ty::I8 => ("-128", 0x80),
        Ty::I16 => ("-2", 0xfffe),
        Ty::I32 => ("-7", 0xffff_fff9),
        Ty::I64 => ("-9223372036854775808", 1 << 63),
        Ty::U8 => ("255", 255),
        Ty::U16 => ("65535", 65535),
        Ty::U32 => ("4294967295", u32::MAX as u64),
        Ty::U64 => ("18446744073709551615", u64::MAX),
        Ty::F32 => ("1.5", 1.5f32.to_bits() as u64),
        Ty::F64 => ("-2.5e-7", (-2.5e-7f64).to_bits()),
    }
}

#[test]
fn binary_ops_every_type_and_source_kind() {
    for op in BinOp::ALL {
        for ty in Ty::ALL {
            if op.int_only() && ty.is_float() {
                continue;
            }
            let (lit, bits) = imm_text(ty);
            let line = format!("{}.{ty} r1, r2, {lit}", op.name());
            check(
                &line,
                Inst::Bin {
                    op,
                    ty,
                    dst: R1,
                    a: Src::Reg(R2),
                    b: Src::Imm(bits),
                },
            );
            let line = format!("{}.{ty} r255, %lane, s{ty}", op.name());
            check(
                &line,
                Inst::Bin {
                    op,
                    ty,
                    dst: Reg(255),
                    a: Src::Special(Special::Lane),
                    b: Src::Param(scalar(ty)),
                },
            );
        }
    }
}

#[test]
fn unary_ops_every_type() {
    for op in UnOp::ALL {
        for ty in Ty::ALL {
            if (op.int_only() && ty.is_float()) || (op.float_only() && ty.is_int()) {
                continue;
            }
            check(
                &format!("{}.{ty} r1, r2", op.name()),
                Inst::Un {
                    op,
                    ty,
                    dst: R1,
                    a: Src::Reg(R2),
                },
            );
            let (lit, bits) = imm_text(ty);
            check(
                &format!("{}.{ty} r0, {lit}", op.name()),
                Inst::Un {
                    op,
                    ty,
                    dst: Reg(0),
                    a: Src::Imm(bits),
                },
            );
        }
    }
}

#[test]
fn compare_every_cmp_and_type() {
    for cmp in Cmp::ALL {
        for ty in Ty::ALL {
            let (lit, bits) = imm_text(ty);
            check(
                &format!("setp.{}.{ty} p15, %gid, {lit}", cmp.name()),
                Inst::Setp {
                    cmp,
                    ty,
                    dst: Pred(15),
                    a: GID,
                    b: Src::Imm(bits),
                },
            );
        }
    }
}

#[test]
fn reductions_every_op_and_type() {
    for op in RedOp::ALL {
        for ty in Ty::ALL {
            check(
                &format!("reduce.{}.{ty} r1, r2", op.name()),
                Inst::Reduce {
                    op,
                    ty,
                    dst: R1,
                    src: Src::Reg(R2),
                },
            );
        }
    }
}

#[test]
fn fma_sel_mov_cvt() {
    for ty in Ty::ALL {
        let (lit, bits) = imm_text(ty);
        check(
            &format!("fma.{ty} r1, r2, {lit}, s{ty}"),
            Inst::Fma {
                ty,
                dst: R1,
                a: Src::Reg(R2),
                b: Src::Imm(bits),
                c: Src::Param(scalar(ty)),
            },
        );
        check(
            &format!("sel.{ty} r1, p3, r2, {lit}"),
            Inst::Sel {
                ty,
                dst: R1,
                pred: Pred(3),
                a: Src::Reg(R2),
                b: Src::Imm(bits),
            },
        );
        check(
            &format!("mov.{ty} r1, r2"),
            Inst::Mov {
                ty,
                dst: R1,
                src: Src::Reg(R2),
            },
        );
        check(
            &format!("mov.{ty} r1, s{ty}"),
            Inst::Mov {
                ty,
                dst: R1,
                src: Src::Param(scalar(ty)),
            },
        );
        check(
            &format!("mov_imm.{ty} r1, {lit}"),
            Inst::Mov {
                ty,
                dst: R1,
                src: Src::Imm(bits),
            },
        );
        // `mov` with an immediate is accepted and printed as `mov_imm`.
        check_as(
            &format!("mov.{ty} r1, {lit}"),
            &format!("mov_imm.{ty} r1, {lit}"),
            Inst::Mov {
                ty,
                dst: R1,
                src: Src::Imm(bits),
            },
        );
        for from in Ty::ALL {
            let (lit, bits) = imm_text(from);
            check(
                &format!("cvt.{ty}.{from} r1, {lit}"),
                Inst::Cvt {
                    to: ty,
                    from,
                    dst: R1,
                    src: Src::Imm(bits),
                },
            );
        }
    }
    for s in Special::ALL {
        check(
            &format!("mov.u32 r1, {s}"),
            Inst::Mov {
                ty: Ty::U32,
                dst: R1,
                src: Src::Special(s),
            },
        );
    }
}

#[test]
fn memory_every_type() {
    for ty in Ty::ALL {
        let b = buf(ty);
        let size = ty.size();
        // Scale 1 prints without `*1`.
        let times = if size == 1 {
            String::new()
        } else {
            format!("*{size}")
        };
        check(
            &format!("ldg.{ty} r1, [b{ty} + %gid{times}]"),
            Inst::Ldg {
                ty,
                dst: R1,
                addr: Addr::BufferIndex {
                    buf: b,
                    index: GID,
                    scale: size as u8,
                },
            },
        );
        let (lit, bits) = imm_text(ty);
        check(
            &format!("stg.{ty} [b{ty} + 64], {lit}"),
            Inst::Stg {
                ty,
                src: Src::Imm(bits),
                addr: Addr::BufferOffset { buf: b, offset: 64 },
            },
        );
        check(
            &format!("lds.{ty} r1, [shared + r2{times} + 8]"),
            Inst::Lds {
                ty,
                dst: R1,
                addr: SharedAddr {
                    index: Some((Src::Reg(R2), size as u8)),
                    offset: 8,
                },
            },
        );
        check(
            &format!("sts.{ty} [shared + 16], s{ty}"),
            Inst::Sts {
                ty,
                src: Src::Param(scalar(ty)),
                addr: SharedAddr {
                    index: None,
                    offset: 16,
                },
            },
        );
    }
}

#[test]
fn addressing_modes() {
    let bf = buf(Ty::F32);
    let ldg = |addr| Inst::Ldg {
        ty: Ty::F32,
        dst: R1,
        addr,
    };
    check(
        "ldg.f32 r1, [bf32 + 16]",
        ldg(Addr::BufferOffset {
            buf: bf,
            offset: 16,
        }),
    );
    check(
        "ldg.f32 r1, [bf32]",
        ldg(Addr::BufferOffset { buf: bf, offset: 0 }),
    );
    check_as(
        "ldg.f32 r1, [bf32 + 0]",
        "ldg.f32 r1, [bf32]",
        ldg(Addr::BufferOffset { buf: bf, offset: 0 }),
    );
    check_as(
        "ldg.f32 r1, [bf32 + 0xffffffff]",
        "ldg.f32 r1, [bf32 + 4294967295]",
        ldg(Addr::BufferOffset {
            buf: bf,
            offset: u32::MAX,
        }),
    );
    for scale in [2u8, 4, 8] {
        check(
            &format!("ldg.f32 r1, [bf32 + r3*{scale}]"),
            ldg(Addr::BufferIndex {
                buf: bf,
                index: Src::Reg(Reg(3)),
                scale,
            }),
        );
    }
    check(
        "ldg.f32 r1, [bf32 + r3]",
        ldg(Addr::BufferIndex {
            buf: bf,
            index: Src::Reg(Reg(3)),
            scale: 1,
        }),
    );
    check_as(
        "ldg.f32 r1, [bf32 + r3*1]",
        "ldg.f32 r1, [bf32 + r3]",
        ldg(Addr::BufferIndex {
            buf: bf,
            index: Src::Reg(Reg(3)),
            scale: 1,
        }),
    );
    check(
        "ldg.f32 r1, [bf32 + %lane*4]",
        ldg(Addr::BufferIndex {
            buf: bf,
            index: Src::Special(Special::Lane),
            scale: 4,
        }),
    );
    check(
        "ldg.f32 r1, [phi(3, 12, 0)]",
        ldg(Addr::Phi {
            class: 3,
            page: 12,
            byte: 0,
            index: None,
        }),
    );
    check(
        "ldg.f32 r1, [phi(3, 12, 0) + r1*4]",
        ldg(Addr::Phi {
            class: 3,
            page: 12,
            byte: 0,
            index: Some((Src::Reg(R1), 4)),
        }),
    );
    check(
        "ldg.f32 r1, [phi(95, 47, 255) + %gid]",
        ldg(Addr::Phi {
            class: 95,
            page: 47,
            byte: 255,
            index: Some((GID, 1)),
        }),
    );
    check_as(
        "ldg.f32 r1, [phi(0x3,12,0)+r1*4]",
        "ldg.f32 r1, [phi(3, 12, 0) + r1*4]",
        ldg(Addr::Phi {
            class: 3,
            page: 12,
            byte: 0,
            index: Some((Src::Reg(R1), 4)),
        }),
    );
    check(
        "ldg.f32 r1, [r5 + 8]",
        ldg(Addr::RegisterIndirect {
            base: Reg(5),
            offset: 8,
        }),
    );
    check(
        "ldg.f32 r1, [r5 - 8]",
        ldg(Addr::RegisterIndirect {
            base: Reg(5),
            offset: -8,
        }),
    );
    check(
        "ldg.f32 r1, [r5]",
        ldg(Addr::RegisterIndirect {
            base: Reg(5),
            offset: 0,
        }),
    );
    check(
        "ldg.f32 r1, [r5 + 2147483647]",
        ldg(Addr::RegisterIndirect {
            base: Reg(5),
            offset: i32::MAX,
        }),
    );
    check(
        "ldg.f32 r1, [r5 - 2147483648]",
        ldg(Addr::RegisterIndirect {
            base: Reg(5),
            offset: i32::MIN,
        }),
    );
    check_as(
        "ldg.f32 r1, [r5 - 0]",
        "ldg.f32 r1, [r5]",
        ldg(Addr::RegisterIndirect {
            base: Reg(5),
            offset: 0,
        }),
    );
    check(
        "ldg.f32 r1, [r5 + r6]",
        ldg(Addr::RegisterIndirectComputed {
            handle: Reg(5),
            offset: Reg(6),
        }),
    );
    let lds = |index, offset| Inst::Lds {
        ty: Ty::F32,
        dst: R1,
        addr: SharedAddr { index, offset },
    };
    check("lds.f32 r1, [shared]", lds(None, 0));
    check("lds.f32 r1, [shared + 16]", lds(None, 16));
    check(
        "lds.f32 r1, [shared + r1*4]",
        lds(Some((Src::Reg(R1), 4)), 0),
    );
    check("lds.f32 r1, [shared + r1]", lds(Some((Src::Reg(R1), 1)), 0));
    check(
        "lds.f32 r1, [shared + r1*4 + 16]",
        lds(Some((Src::Reg(R1), 4)), 16),
    );
    check(
        "lds.f32 r1, [shared + %gid*8 + 16]",
        lds(Some((GID, 8)), 16),
    );
    check_as(
        "lds.f32 r1, [shared + r1*4 + 0]",
        "lds.f32 r1, [shared + r1*4]",
        lds(Some((Src::Reg(R1), 4)), 0),
    );
    check_as(
        "lds.f32 r1, [shared+r1*4+16]",
        "lds.f32 r1, [shared + r1*4 + 16]",
        lds(Some((Src::Reg(R1), 4)), 16),
    );
}

#[test]
fn pointer_literals() {
    let bf = buf(Ty::F32) as u64;
    check_as(
        "mov_imm.u64 r5, &bf32",
        &format!("mov_imm.u64 r5, {}", bf << 32),
        Inst::Mov {
            ty: Ty::U64,
            dst: Reg(5),
            src: Src::Imm(bf << 32),
        },
    );
    check_as(
        "mov.i64 r5, &pool",
        "mov_imm.i64 r5, -4294967296",
        Inst::Mov {
            ty: Ty::I64,
            dst: Reg(5),
            src: Src::Imm(0xffff_ffff_0000_0000),
        },
    );
    check_as(
        "add.u64 r5, r5, &pool",
        "add.u64 r5, r5, 18446744069414584320",
        Inst::Bin {
            op: BinOp::Add,
            ty: Ty::U64,
            dst: Reg(5),
            a: Src::Reg(Reg(5)),
            b: Src::Imm(0xffff_ffff_0000_0000),
        },
    );
}

#[test]
fn control_flow_and_guards() {
    check(
        "bra @L0",
        Inst::Bra {
            target: 0,
            guard: None,
        },
    );
    check(
        "@p0 bra @L0",
        Inst::Bra {
            target: 0,
            guard: Some(Guard {
                pred: Pred(0),
                negate: false,
            }),
        },
    );
    check(
        "@!p15 bra @L0",
        Inst::Bra {
            target: 0,
            guard: Some(Guard {
                pred: Pred(15),
                negate: true,
            }),
        },
    );
    check(
        "loop r7, @L0",
        Inst::Loop {
            counter: Reg(7),
            target: 0,
        },
    );
    check("call @L0", Inst::Call { target: 0 });
    check("ret", Inst::Ret);
    check("exit", Inst::Exit);
    check("bar.sync", Inst::BarSync);
    check("memfence", Inst::MemFence);
}

#[test]
fn case_insensitive_mnemonics_and_types() {
    check_as(
        "ADD.F32 r1, r2, r2",
        "add.f32 r1, r2, r2",
        Inst::Bin {
            op: BinOp::Add,
            ty: Ty::F32,
            dst: R1,
            a: Src::Reg(R2),
            b: Src::Reg(R2),
        },
    );
    check_as(
        "Setp.LT.u32 p1, r1, 3",
        "setp.lt.u32 p1, r1, 3",
        Inst::Setp {
            cmp: Cmp::Lt,
            ty: Ty::U32,
            dst: Pred(1),
            a: Src::Reg(R1),
            b: Src::Imm(3),
        },
    );
    check_as("BAR.SYNC", "bar.sync", Inst::BarSync);
    check_as(
        "Cvt.F64.I8 r1, r2",
        "cvt.f64.i8 r1, r2",
        Inst::Cvt {
            to: Ty::F64,
            from: Ty::I8,
            dst: R1,
            src: Src::Reg(R2),
        },
    );
    let p = assemble(".KERNEL k\n.Param a: PTR F32\n    EXIT\n").unwrap();
    assert_eq!(p.params()[0].kind, ParamKind::Buffer(Ty::F32));
}

#[test]
fn labels_resolve_to_instruction_indices() {
    let src = "
.kernel k
start:                      ; label on its own line
    mov.u32 r0, 10
body: add.u32 r1, r1, 1     // label before an instruction
    loop r0, @body
    @p0 bra @start
    call @fn
    exit
fn: a: b:
    ret
";
    let p = assemble(src).unwrap();
    assert_eq!(
        p.insts()[2],
        Inst::Loop {
            counter: Reg(0),
            target: 1
        }
    );
    assert_eq!(
        p.insts()[3],
        Inst::Bra {
            target: 0,
            guard: Some(Guard {
                pred: Pred(0),
                negate: false
            })
        }
    );
    assert_eq!(p.insts()[4], Inst::Call { target: 6 });
}

#[test]
fn directives() {
    let p = assemble(
        ".kernel my_kernel\n.param a: ptr f32\n.param n: u32\n.shared 0x100\n.launch 4, 256\n    exit\n",
    )
    .unwrap();
    assert_eq!(p.name(), "my_kernel");
    assert_eq!(p.params()[0].name, "a");
    assert_eq!(p.params()[0].kind, ParamKind::Buffer(Ty::F32));
    assert_eq!(p.params()[1].kind, ParamKind::Scalar(Ty::U32));
    assert_eq!(p.shared_bytes(), 256);
    assert_eq!(p.launch(), Some(LaunchConfig::new(4, 256)));
    assert_eq!(
        disassemble(&p),
        ".kernel my_kernel\n.param a: ptr f32\n.param n: u32\n.shared 256\n.launch 4, 256\n\n    exit\n"
    );
    let p = assemble(".kernel k\n    exit\n").unwrap();
    assert_eq!((p.shared_bytes(), p.launch()), (0, None));
    assert_eq!(disassemble(&p), ".kernel k\n\n    exit\n");
}

#[test]
fn comments_blank_lines_and_crlf() {
    let src = "; header comment\r\n\r\n.kernel k // trailing\r\n\t// indented comment\r\n    exit ; done\r\n";
    let p = assemble(src).unwrap();
    assert_eq!(p.insts(), [Inst::Exit]);
}

#[test]
fn vector_add_example_round_trips() {
    let src = "
.kernel vector_add
.param a: ptr f32
.param b: ptr f32
.param c: ptr f32
.param n: u32
.launch 4, 256

    setp.ge.u32 p0, %gid, n      ; lanes past the end do nothing
    @p0 bra @done
    ldg.f32 r1, [a + %gid*4]
    ldg.f32 r2, [b + %gid*4]
    add.f32 r3, r1, r2
    stg.f32 [c + %gid*4], r3
done:
    exit
";
    let p = assemble(src).unwrap();
    let text = disassemble(&p);
    assert_eq!(
        text,
        "\
.kernel vector_add
.param a: ptr f32
.param b: ptr f32
.param c: ptr f32
.param n: u32
.launch 4, 256

    setp.ge.u32 p0, %gid, n
    @p0 bra @L6
    ldg.f32 r1, [a + %gid*4]
    ldg.f32 r2, [b + %gid*4]
    add.f32 r3, r1, r2
    stg.f32 [c + %gid*4], r3
L6:
    exit
"
    );
    assert_eq!(assemble(&text).unwrap(), p);
}
