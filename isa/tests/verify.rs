//! One test per verifier rule of docs/ISA.md section 8: each builds a program breaking the rule,
//! checks the error's instruction index and message, and checks that a corrected variant
//! passes.

use holovm_isa::*;

fn buffer(name: &str, ty: Ty) -> Param {
    Param {
        name: name.into(),
        kind: ParamKind::Buffer(ty),
    }
}

fn scalar(name: &str, ty: Ty) -> Param {
    Param {
        name: name.into(),
        kind: ParamKind::Scalar(ty),
    }
}

/// A program named `k` with these parameters and instructions, followed by `exit`.
fn prog(params: Vec<Param>, insts: Vec<Inst>) -> ProgramDef {
    let mut insts = insts;
    insts.push(Inst::Exit);
    ProgramDef {
        name: "k".into(),
        params,
        insts,
        ..Default::default()
    }
}

/// Asserts that `def` is rejected at `pc` with a message containing every one of `parts`.
#[track_caller]
fn rejects(def: &ProgramDef, pc: Option<u32>, parts: &[&str]) -> VerifyError {
    let e = match Program::new(def.clone()) {
        Ok(_) => panic!("expected a verifier error for {def:#?}"),
        Err(e) => e,
    };
    assert_eq!(e.pc, pc, "wrong pc in {e}");
    for part in parts {
        assert!(
            e.message.contains(part),
            "message {:?} lacks {part:?}",
            e.message
        );
    }
    e
}

#[track_caller]
fn accepts(def: &ProgramDef) -> Program {
    match Program::new(def.clone()) {
        Ok(p) => p,
        Err(e) => panic!("unexpected verifier error: {e}\nfor {def:#?}"),
    }
}

const R0: Reg = Reg(0);
const R1: Src = Src::Reg(Reg(1));

fn mov(ty: Ty, src: Src) -> Inst {
    Inst::Mov { ty, dst: R0, src }
}

#[test]
fn display_and_error_trait() {
    let e = VerifyError {
        pc: Some(3),
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "instruction 3: boom");
    let e = VerifyError {
        pc: None,
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "boom");
    let _: &dyn std::error::Error = &e;
}

#[test]
fn example_message_from_the_spec() {
    let mut insts = vec![Inst::MemFence; 3];
    insts.push(Inst::Bin {
        op: BinOp::Rem,
        ty: Ty::F32,
        dst: R0,
        a: R1,
        b: R1,
    });
    let e = rejects(&prog(vec![], insts), Some(3), &[]);
    assert_eq!(
        e.to_string(),
        "instruction 3: `rem` is defined on integer types only, not f32"
    );
}

#[test]
fn empty_program() {
    let def = ProgramDef {
        name: "k".into(),
        ..Default::default()
    };
    rejects(&def, None, &["no instructions"]);
    accepts(&ProgramDef {
        insts: vec![Inst::Exit],
        ..def
    });
}

#[test]
fn too_many_instructions() {
    let mut def = ProgramDef {
        name: "k".into(),
        insts: vec![Inst::Exit; MAX_INSTS + 1],
        ..Default::default()
    };
    rejects(&def, None, &["1048577 instructions", "at most 1048576"]);
    def.insts.pop();
    accepts(&def);
}

#[test]
fn too_many_params() {
    let params: Vec<Param> = (0..=MAX_PARAMS)
        .map(|i| scalar(&format!("x{i}"), Ty::U32))
        .collect();
    let mut def = prog(params, vec![]);
    rejects(&def, None, &["65 parameters", "at most 64"]);
    def.params.pop();
    accepts(&def);
}

const BAD_IDENTS: &[(&str, &str)] = &[
    ("", "is empty"),
    ("1abc", "starts with `1`"),
    ("a-b", "contains `-`"),
    ("a b", "contains ` `"),
    ("é", "starts with `é`"),
    ("a\n", "contains `\\n`"),
    ("r0", "general register"),
    ("r255", "general register"),
    ("r256", "general register"),
    ("p15", "predicate register"),
    ("p16", "predicate register"),
    ("f32", "type name"),
    ("i8", "type name"),
    ("u64", "type name"),
    ("shared", "keyword"),
    ("phi", "keyword"),
    ("pool", "keyword"),
    ("ptr", "keyword"),
    ("inf", "keyword"),
    ("nan", "keyword"),
];

const GOOD_IDENTS: &[&str] = &[
    "k", "_", "_r1", "r", "p", "r1x", "p_1", "R1", "F32", "f16", "pools", "Nan", "a1_b2",
];

#[test]
fn ident_predicate() {
    for (bad, _) in BAD_IDENTS {
        assert!(!is_valid_ident(bad), "{bad:?} should be invalid");
    }
    for good in GOOD_IDENTS {
        assert!(is_valid_ident(good), "{good:?} should be valid");
    }
}

#[test]
fn kernel_name() {
    for (bad, why) in BAD_IDENTS {
        let mut def = prog(vec![], vec![]);
        def.name = bad.to_string();
        rejects(&def, None, &["kernel name", why]);
    }
    for good in GOOD_IDENTS {
        let mut def = prog(vec![], vec![]);
        def.name = good.to_string();
        accepts(&def);
    }
}

#[test]
fn param_name() {
    for (bad, why) in BAD_IDENTS {
        let def = prog(vec![scalar("ok", Ty::U32), scalar(bad, Ty::U32)], vec![]);
        rejects(&def, None, &["parameter 1 name", why]);
    }
    let params = GOOD_IDENTS.iter().map(|n| buffer(n, Ty::F32)).collect();
    accepts(&prog(params, vec![]));
}

#[test]
fn duplicate_params() {
    let def = prog(
        vec![
            scalar("a", Ty::U32),
            buffer("b", Ty::U8),
            buffer("a", Ty::F32),
        ],
        vec![],
    );
    rejects(&def, None, &["parameter 2", "`a`", "parameter 0", "unique"]);
    // Names are case-sensitive.
    accepts(&prog(
        vec![
            scalar("a", Ty::U32),
            buffer("b", Ty::U8),
            buffer("A", Ty::F32),
        ],
        vec![],
    ));
}

#[test]
fn shared_limit() {
    let mut def = prog(vec![], vec![]);
    def.shared_bytes = MAX_SHARED_BYTES + 1;
    rejects(&def, None, &["`.shared 1048577`", "1048576"]);
    def.shared_bytes = MAX_SHARED_BYTES;
    accepts(&def);
}

#[test]
fn launch_shape() {
    let bad = [
        (LaunchConfig::new(1, 0), "block size 0"),
        (LaunchConfig::new(1, 1025), "block size 1025"),
        (LaunchConfig::new(0, 32), "grid size"),
        (LaunchConfig::new(1 << 22, 1024), "exceeds 2^32 - 1"),
    ];
    for (launch, why) in bad {
        let mut def = prog(vec![], vec![]);
        def.launch = Some(launch);
        rejects(&def, None, &["launch shape", why]);
    }
    for good in [
        LaunchConfig::new(1, 1),
        LaunchConfig::new(4, 1024),
        LaunchConfig::new((1 << 22) - 1, 1024),
    ] {
        let mut def = prog(vec![], vec![]);
        def.launch = Some(good);
        accepts(&def);
    }
}

#[test]
fn targets() {
    type MakeBranch = fn(u32) -> Inst;
    let cases: [(MakeBranch, &str); 4] = [
        (
            |t| Inst::Bra {
                target: t,
                guard: None,
            },
            "branch target",
        ),
        (
            |t| Inst::Bra {
                target: t,
                guard: Some(Guard {
                    pred: Pred(0),
                    negate: true,
                }),
            },
            "branch target",
        ),
        (
            |t| Inst::Loop {
                counter: R0,
                target: t,
            },
            "loop target",
        ),
        (|t| Inst::Call { target: t }, "call target"),
    ];
    for (make, what) in cases {
        // Two instructions: the tested one at pc 1, then `exit` at pc 2.
        let def = prog(vec![], vec![Inst::MemFence, make(3)]);
        rejects(&def, Some(1), &[what, "3", "0..=2"]);
        let def = prog(vec![], vec![Inst::MemFence, make(u32::MAX)]);
        rejects(&def, Some(1), &[what, "4294967295"]);
        for t in 0..3 {
            accepts(&prog(vec![], vec![Inst::MemFence, make(t)]));
        }
    }
}

#[test]
fn predicates() {
    let setp = |p| Inst::Setp {
        cmp: Cmp::Lt,
        ty: Ty::U32,
        dst: Pred(p),
        a: R1,
        b: R1,
    };
    let sel = |p| Inst::Sel {
        ty: Ty::U32,
        dst: R0,
        pred: Pred(p),
        a: R1,
        b: R1,
    };
    let bra = |p| Inst::Bra {
        target: 0,
        guard: Some(Guard {
            pred: Pred(p),
            negate: false,
        }),
    };
    let cases: [(&dyn Fn(u8) -> Inst, &str); 3] = [
        (&setp, "destination predicate"),
        (&sel, "selector predicate"),
        (&bra, "guard predicate"),
    ];
    for (make, what) in cases {
        rejects(
            &prog(vec![], vec![make(16)]),
            Some(0),
            &[what, "p16", "p0..=p15"],
        );
        rejects(&prog(vec![], vec![make(255)]), Some(0), &[what, "p255"]);
        accepts(&prog(vec![], vec![make(15)]));
    }
}

fn phi(class: u8, page: u8, index: Option<(Src, u8)>) -> Inst {
    Inst::Ldg {
        ty: Ty::U8,
        dst: R0,
        addr: Addr::Phi {
            class,
            page,
            byte: 255,
            index,
        },
    }
}

#[test]
fn phi_class_and_page() {
    rejects(
        &prog(vec![], vec![phi(96, 0, None)]),
        Some(0),
        &["phi class 96", "0..=95"],
    );
    rejects(
        &prog(vec![], vec![phi(255, 0, None)]),
        Some(0),
        &["phi class 255"],
    );
    rejects(
        &prog(vec![], vec![phi(0, 48, None)]),
        Some(0),
        &["phi page 48", "0..=47"],
    );
    accepts(&prog(
        vec![],
        vec![phi(95, 47, None), phi(0, 0, Some((R1, 8)))],
    ));
}

/// The three kinds of scaled index, for a given index operand and scale.
fn indexed(index: Src, scale: u8) -> [Inst; 3] {
    [
        Inst::Ldg {
            ty: Ty::F32,
            dst: R0,
            addr: Addr::BufferIndex {
                buf: 0,
                index,
                scale,
            },
        },
        phi(1, 2, Some((index, scale))),
        Inst::Sts {
            ty: Ty::F32,
            src: R1,
            addr: SharedAddr {
                index: Some((index, scale)),
                offset: 4,
            },
        },
    ]
}

fn indexed_prog(inst: Inst) -> ProgramDef {
    let mut def = prog(vec![buffer("a", Ty::F32), scalar("n", Ty::U64)], vec![inst]);
    def.shared_bytes = 64;
    def
}

#[test]
fn scales() {
    for scale in [0u8, 3, 5, 16, 255] {
        for inst in indexed(R1, scale) {
            rejects(
                &indexed_prog(inst),
                Some(0),
                &[&format!("scale {scale}"), "1, 2, 4 or 8"],
            );
        }
    }
    for scale in [1u8, 2, 4, 8] {
        for inst in indexed(Src::Special(Special::GlobalId), scale) {
            accepts(&indexed_prog(inst));
        }
    }
}

#[test]
fn index_operands() {
    for inst in indexed(Src::Imm(3), 4) {
        rejects(
            &indexed_prog(inst),
            Some(0),
            &["index", "immediate 0x3", "register"],
        );
    }
    for inst in indexed(Src::Param(1), 4) {
        rejects(
            &indexed_prog(inst),
            Some(0),
            &["index", "parameter 1", "register"],
        );
    }
    for inst in indexed(R1, 4)
        .into_iter()
        .chain(indexed(Src::Special(Special::Lane), 4))
    {
        accepts(&indexed_prog(inst));
    }
}

#[test]
fn buffer_modes() {
    let params = || vec![buffer("a", Ty::F32), scalar("n", Ty::U32)];
    let modes = |buf| {
        [
            Addr::BufferOffset { buf, offset: 8 },
            Addr::BufferIndex {
                buf,
                index: R1,
                scale: 4,
            },
        ]
    };
    for addr in modes(1) {
        let ldg = Inst::Ldg {
            ty: Ty::U32,
            dst: R0,
            addr,
        };
        rejects(
            &prog(params(), vec![ldg]),
            Some(0),
            &["`n`", "scalar (u32), not a buffer"],
        );
    }
    for addr in modes(2) {
        let stg = Inst::Stg {
            ty: Ty::F32,
            src: R1,
            addr,
        };
        rejects(
            &prog(params(), vec![stg]),
            Some(0),
            &["parameter 2", "only 2 parameters"],
        );
    }
    for addr in modes(0) {
        let ldg = Inst::Ldg {
            ty: Ty::U32,
            dst: R0,
            addr,
        };
        rejects(
            &prog(params(), vec![ldg]),
            Some(0),
            &["`ldg.u32`", "`a`", "element type is f32"],
        );
        let stg = Inst::Stg {
            ty: Ty::I32,
            src: R1,
            addr,
        };
        rejects(
            &prog(params(), vec![stg]),
            Some(0),
            &["`stg.i32`", "element type is f32"],
        );
        let ok = [
            Inst::Ldg {
                ty: Ty::F32,
                dst: R0,
                addr,
            },
            Inst::Stg {
                ty: Ty::F32,
                src: R1,
                addr,
            },
        ];
        accepts(&prog(params(), ok.to_vec()));
    }
}

#[test]
fn buffer_offset_alignment() {
    let params = vec![buffer("a", Ty::F64), buffer("b", Ty::U8)];
    let ldg = |buf, ty, offset| Inst::Ldg {
        ty,
        dst: R0,
        addr: Addr::BufferOffset { buf, offset },
    };
    rejects(
        &prog(params.clone(), vec![ldg(0, Ty::F64, 12)]),
        Some(0),
        &["offset 12", "`a`", "size 8", "misaligned"],
    );
    let stg = Inst::Stg {
        ty: Ty::F64,
        src: R1,
        addr: Addr::BufferOffset { buf: 0, offset: 4 },
    };
    rejects(
        &prog(params.clone(), vec![stg]),
        Some(0),
        &["offset 4", "misaligned"],
    );
    accepts(&prog(
        params,
        vec![
            ldg(0, Ty::F64, 16),
            ldg(0, Ty::F64, u32::MAX - 7),
            ldg(1, Ty::U8, 7),
        ],
    ));
}

/// Every operand position that can hold a `Src` read as some type, with the name the
/// verifier uses for it. Each builder takes the operand's type and the operand.
/// Builds an instruction with the operand under test, read as the given type.
type MakeOperand = Box<dyn Fn(Ty, Src) -> Inst>;

fn operand_positions() -> Vec<(&'static str, &'static str, MakeOperand)> {
    let ri = |ty: Ty| Addr::RegisterIndirect {
        base: Reg(9),
        offset: ty.size() as i32,
    };
    let sh = SharedAddr {
        index: None,
        offset: 8,
    };
    vec![
        (
            "stg value",
            "stored value",
            Box::new(move |ty, s| Inst::Stg {
                ty,
                src: s,
                addr: ri(ty),
            }),
        ),
        (
            "sts value",
            "stored value",
            Box::new(move |ty, s| Inst::Sts {
                ty,
                src: s,
                addr: sh,
            }),
        ),
        ("mov", "source operand", Box::new(mov)),
        (
            "cvt",
            "source operand",
            // The source is read as `from`; `to` is deliberately different.
            Box::new(|ty, s| Inst::Cvt {
                to: if ty == Ty::U8 { Ty::F32 } else { Ty::U8 },
                from: ty,
                dst: R0,
                src: s,
            }),
        ),
        (
            "bin a",
            "operand `a`",
            Box::new(|ty, s| Inst::Bin {
                op: BinOp::Add,
                ty,
                dst: R0,
                a: s,
                b: R1,
            }),
        ),
        (
            "bin b",
            "operand `b`",
            Box::new(|ty, s| Inst::Bin {
                op: BinOp::Sub,
                ty,
                dst: R0,
                a: R1,
                b: s,
            }),
        ),
        (
            "un a",
            "operand `a`",
            Box::new(|ty, s| Inst::Un {
                op: UnOp::Neg,
                ty,
                dst: R0,
                a: s,
            }),
        ),
        (
            "fma a",
            "operand `a`",
            Box::new(|ty, s| Inst::Fma {
                ty,
                dst: R0,
                a: s,
                b: R1,
                c: R1,
            }),
        ),
        (
            "fma b",
            "operand `b`",
            Box::new(|ty, s| Inst::Fma {
                ty,
                dst: R0,
                a: R1,
                b: s,
                c: R1,
            }),
        ),
        (
            "fma c",
            "operand `c`",
            Box::new(|ty, s| Inst::Fma {
                ty,
                dst: R0,
                a: R1,
                b: R1,
                c: s,
            }),
        ),
        (
            "setp a",
            "operand `a`",
            Box::new(|ty, s| Inst::Setp {
                cmp: Cmp::Eq,
                ty,
                dst: Pred(0),
                a: s,
                b: R1,
            }),
        ),
        (
            "setp b",
            "operand `b`",
            Box::new(|ty, s| Inst::Setp {
                cmp: Cmp::Ne,
                ty,
                dst: Pred(0),
                a: R1,
                b: s,
            }),
        ),
        (
            "sel a",
            "operand `a`",
            Box::new(|ty, s| Inst::Sel {
                ty,
                dst: R0,
                pred: Pred(1),
                a: s,
                b: R1,
            }),
        ),
        (
            "sel b",
            "operand `b`",
            Box::new(|ty, s| Inst::Sel {
                ty,
                dst: R0,
                pred: Pred(1),
                a: R1,
                b: s,
            }),
        ),
        (
            "reduce",
            "source operand",
            Box::new(|ty, s| Inst::Reduce {
                op: RedOp::Max,
                ty,
                dst: R0,
                src: s,
            }),
        ),
    ]
}

fn operand_prog(inst: Inst) -> ProgramDef {
    let mut def = prog(
        vec![
            scalar("n", Ty::U32),
            buffer("a", Ty::U32),
            scalar("x", Ty::F64),
            scalar("y", Ty::I8),
        ],
        vec![Inst::MemFence, inst],
    );
    def.shared_bytes = 16;
    def
}

#[test]
fn scalar_operands() {
    for (pos, what, make) in operand_positions() {
        let _ = pos;
        // A scalar of another type.
        rejects(
            &operand_prog(make(Ty::U64, Src::Param(0))),
            Some(1),
            &[what, "`n`", "type u32", "type is u64"],
        );
        rejects(
            &operand_prog(make(Ty::F32, Src::Param(2))),
            Some(1),
            &[what, "`x`", "type f64", "type is f32"],
        );
        // A buffer.
        rejects(
            &operand_prog(make(Ty::U32, Src::Param(1))),
            Some(1),
            &[what, "`a`", "buffer (`ptr u32`)"],
        );
        // No such parameter.
        rejects(
            &operand_prog(make(Ty::U32, Src::Param(4))),
            Some(1),
            &[what, "parameter 4", "only 4 parameters"],
        );
        rejects(
            &operand_prog(make(Ty::U32, Src::Param(255))),
            Some(1),
            &[what, "parameter 255"],
        );
        // The right type.
        accepts(&operand_prog(make(Ty::U32, Src::Param(0))));
        accepts(&operand_prog(make(Ty::F64, Src::Param(2))));
        accepts(&operand_prog(make(Ty::I8, Src::Param(3))));
        // Registers and special registers are fine anywhere.
        accepts(&operand_prog(make(Ty::I64, Src::Special(Special::Lane))));
        accepts(&operand_prog(make(Ty::U16, Src::Reg(Reg(255)))));
    }
}

#[test]
fn immediates() {
    let bad: [(Ty, u64, &str); 7] = [
        (Ty::U8, 0x100, "8 bits of u8"),
        (Ty::I8, u64::MAX, "8 bits of i8"),
        (Ty::I16, 0x1_0000, "16 bits of i16"),
        (Ty::U32, 1 << 32, "32 bits of u32"),
        (Ty::I32, (-1i64) as u64, "32 bits of i32"),
        (Ty::F32, f64::to_bits(1.0), "32 bits of f32"),
        (Ty::F32, 1 << 63, "largest is 0xffffffff"),
    ];
    for (pos, what, make) in operand_positions() {
        let _ = pos;
        for (ty, v, why) in bad {
            rejects(
                &operand_prog(make(ty, Src::Imm(v))),
                Some(1),
                &[what, &format!("immediate {v:#x}"), why],
            );
        }
        for ty in Ty::ALL {
            accepts(&operand_prog(make(ty, Src::Imm(ty.mask()))));
            accepts(&operand_prog(make(ty, Src::Imm(0))));
        }
        accepts(&operand_prog(make(
            Ty::F32,
            Src::Imm(f32::to_bits(-1.5).into()),
        )));
        accepts(&operand_prog(make(
            Ty::I32,
            Src::Imm(u64::from(-1i32 as u32)),
        )));
    }
}

#[test]
fn integer_only_operations() {
    for op in BinOp::ALL {
        for ty in Ty::ALL {
            let def = prog(
                vec![],
                vec![Inst::Bin {
                    op,
                    ty,
                    dst: R0,
                    a: R1,
                    b: R1,
                }],
            );
            if op.int_only() && ty.is_float() {
                let msg = format!("`{}` is defined on integer types only, not {ty}", op.name());
                rejects(&def, Some(0), &[&msg]);
            } else {
                accepts(&def);
            }
        }
    }
    let int_only: Vec<&str> = BinOp::ALL
        .iter()
        .filter(|o| o.int_only())
        .map(|o| o.name())
        .collect();
    assert_eq!(int_only, ["rem", "and", "or", "xor", "shl", "shr"]);
}

#[test]
fn unary_operation_types() {
    for op in UnOp::ALL {
        for ty in Ty::ALL {
            let def = prog(
                vec![],
                vec![
                    Inst::MemFence,
                    Inst::Un {
                        op,
                        ty,
                        dst: R0,
                        a: R1,
                    },
                ],
            );
            if op == UnOp::Not && ty.is_float() {
                rejects(
                    &def,
                    Some(1),
                    &["`not` is defined on integer types only, not", ty.name()],
                );
            } else if op.float_only() && ty.is_int() {
                let msg = format!("`{}` is defined on float types only, not {ty}", op.name());
                rejects(&def, Some(1), &[&msg]);
            } else {
                accepts(&def);
            }
        }
    }
}

fn lds(ty: Ty, index: Option<(Src, u8)>, offset: u32) -> Inst {
    Inst::Lds {
        ty,
        dst: R0,
        addr: SharedAddr { index, offset },
    }
}

fn sts(ty: Ty, index: Option<(Src, u8)>, offset: u32) -> Inst {
    Inst::Sts {
        ty,
        src: R1,
        addr: SharedAddr { index, offset },
    }
}

fn shared_prog(bytes: u32, inst: Inst) -> ProgramDef {
    let mut def = prog(vec![], vec![inst]);
    def.shared_bytes = bytes;
    def
}

#[test]
fn shared_without_shared_memory() {
    rejects(
        &shared_prog(0, lds(Ty::F32, None, 0)),
        Some(0),
        &["`lds.f32`", "declares none"],
    );
    rejects(
        &shared_prog(0, sts(Ty::U8, Some((R1, 1)), 0)),
        Some(0),
        &["`sts.u8`", "declares none"],
    );
    accepts(&shared_prog(4, lds(Ty::F32, None, 0)));
    accepts(&shared_prog(1, sts(Ty::U8, Some((R1, 1)), 0)));
}

#[test]
fn constant_shared_offset_fits() {
    rejects(
        &shared_prog(64, lds(Ty::F32, None, 64)),
        Some(0),
        &["offset 64", "ends at byte 68", "`.shared 64`"],
    );
    rejects(
        &shared_prog(64, sts(Ty::F64, None, 60)),
        Some(0),
        &["offset 60", "`.shared 64`"],
    );
    rejects(
        &shared_prog(2, lds(Ty::F32, None, 0)),
        Some(0),
        &["ends at byte 4", "`.shared 2`"],
    );
    rejects(
        &shared_prog(64, lds(Ty::U8, None, u32::MAX)),
        Some(0),
        &["offset 4294967295", "ends at byte 4294967296"],
    );
    accepts(&shared_prog(64, lds(Ty::F32, None, 60)));
    accepts(&shared_prog(64, sts(Ty::F64, None, 56)));
    // With an index the offset depends on the lane, so it is not checked statically.
    accepts(&shared_prog(64, lds(Ty::F32, Some((R1, 4)), 1 << 20)));
}

#[test]
fn constant_shared_offset_alignment() {
    rejects(
        &shared_prog(64, lds(Ty::F32, None, 2)),
        Some(0),
        &["offset 2", "size 4", "misaligned"],
    );
    rejects(
        &shared_prog(64, sts(Ty::I16, None, 33)),
        Some(0),
        &["offset 33", "size 2"],
    );
    accepts(&shared_prog(64, sts(Ty::I16, None, 34)));
    accepts(&shared_prog(64, lds(Ty::F32, Some((R1, 1)), 3)));
}

#[test]
fn first_error_wins() {
    let def = prog(
        vec![],
        vec![
            Inst::MemFence,
            Inst::Bin {
                op: BinOp::Xor,
                ty: Ty::F64,
                dst: R0,
                a: R1,
                b: R1,
            },
            Inst::Call { target: 100 },
        ],
    );
    rejects(&def, Some(1), &["`xor`"]);
    // Program-level problems come before instruction problems.
    let mut def2 = def.clone();
    def2.name = "ptr".into();
    rejects(&def2, None, &["kernel name `ptr`"]);
    // Within one instruction the operands are checked in order.
    let def3 = prog(
        vec![],
        vec![Inst::Fma {
            ty: Ty::U8,
            dst: R0,
            a: R1,
            b: Src::Param(0),
            c: Src::Imm(256),
        }],
    );
    rejects(&def3, Some(0), &["operand `b`"]);
}

#[test]
fn specials_and_registers_are_always_fine() {
    // The ISA never rejects register numbers (all 256 exist) or special registers.
    let mut insts = vec![];
    for s in Special::ALL {
        for ty in Ty::ALL {
            insts.push(mov(ty, Src::Special(s)));
        }
    }
    insts.push(Inst::Loop {
        counter: Reg(255),
        target: 0,
    });
    accepts(&prog(vec![], insts));
}

#[test]
fn registers_used() {
    let p = accepts(&prog(vec![], vec![]));
    assert_eq!((p.num_regs(), p.num_preds()), (0, 0));

    let cases: Vec<(Inst, u16, u8)> = vec![
        (mov(Ty::U32, Src::Reg(Reg(7))), 8, 0),
        (
            Inst::Mov {
                ty: Ty::U32,
                dst: Reg(3),
                src: Src::Imm(1),
            },
            4,
            0,
        ),
        (
            Inst::Loop {
                counter: Reg(200),
                target: 0,
            },
            201,
            0,
        ),
        (
            Inst::Ldg {
                ty: Ty::U8,
                dst: R0,
                addr: Addr::RegisterIndirect {
                    base: Reg(12),
                    offset: 0,
                },
            },
            13,
            0,
        ),
        (
            Inst::Ldg {
                ty: Ty::U8,
                dst: R0,
                addr: Addr::RegisterIndirectComputed {
                    handle: Reg(5),
                    offset: Reg(9),
                },
            },
            10,
            0,
        ),
        (
            Inst::Stg {
                ty: Ty::U8,
                src: Src::Imm(0),
                addr: Addr::Phi {
                    class: 0,
                    page: 0,
                    byte: 0,
                    index: Some((Src::Reg(Reg(33)), 1)),
                },
            },
            34,
            0,
        ),
        (
            Inst::Stg {
                ty: Ty::U8,
                src: Src::Imm(0),
                addr: Addr::BufferIndex {
                    buf: 0,
                    index: Src::Reg(Reg(40)),
                    scale: 1,
                },
            },
            41,
            0,
        ),
        (
            Inst::Sts {
                ty: Ty::U8,
                src: Src::Imm(0),
                addr: SharedAddr {
                    index: Some((Src::Reg(Reg(17)), 1)),
                    offset: 0,
                },
            },
            18,
            0,
        ),
        (
            Inst::Fma {
                ty: Ty::F32,
                dst: R0,
                a: R1,
                b: R1,
                c: Src::Reg(Reg(255)),
            },
            256,
            0,
        ),
        (
            Inst::Setp {
                cmp: Cmp::Eq,
                ty: Ty::U32,
                dst: Pred(4),
                a: Src::Reg(Reg(2)),
                b: R1,
            },
            3,
            5,
        ),
        (
            Inst::Sel {
                ty: Ty::U32,
                dst: Reg(6),
                pred: Pred(15),
                a: R1,
                b: R1,
            },
            7,
            16,
        ),
        (
            Inst::Bra {
                target: 0,
                guard: Some(Guard {
                    pred: Pred(9),
                    negate: true,
                }),
            },
            0,
            10,
        ),
        (
            Inst::Bra {
                target: 0,
                guard: None,
            },
            0,
            0,
        ),
        (
            Inst::Reduce {
                op: RedOp::Add,
                ty: Ty::U32,
                dst: R0,
                src: Src::Special(Special::GlobalId),
            },
            1,
            0,
        ),
    ];
    for (inst, regs, preds) in cases {
        let mut def = prog(vec![buffer("a", Ty::U8)], vec![inst]);
        def.shared_bytes = 4;
        let p = accepts(&def);
        assert_eq!((p.num_regs(), p.num_preds()), (regs, preds), "{inst:?}");
    }
}
