//! The bytecode format: round trips, canonical encoding, and hostile input.

use holovm_isa::arbitrary::program_def;
use holovm_isa::bytecode::{decode, encode, MAGIC, VERSION};
use holovm_isa::*;
use proptest::prelude::*;

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

fn r(n: u8) -> Src {
    Src::Reg(Reg(n))
}

/// A verified program using every instruction variant, every operation, comparison and
/// reduction, every type, every addressing mode (Phi with and without index, shared with and
/// without index), every operand kind, every special register and every guard form.
fn kitchen_sink() -> ProgramDef {
    use Inst::*;
    let params = vec![
        buffer("a", Ty::F32),
        buffer("b", Ty::U8),
        scalar("n", Ty::U32),
        scalar("x", Ty::F64),
        scalar("s", Ty::I16),
    ];
    let mut insts = vec![
        Ldg {
            ty: Ty::F32,
            dst: Reg(0),
            addr: Addr::BufferOffset { buf: 0, offset: 16 },
        },
        Ldg {
            ty: Ty::F32,
            dst: Reg(1),
            addr: Addr::BufferIndex {
                buf: 0,
                index: Src::Special(Special::GlobalId),
                scale: 4,
            },
        },
        Ldg {
            ty: Ty::U8,
            dst: Reg(2),
            addr: Addr::BufferIndex {
                buf: 1,
                index: r(3),
                scale: 1,
            },
        },
        Ldg {
            ty: Ty::U32,
            dst: Reg(3),
            addr: Addr::Phi {
                class: 95,
                page: 47,
                byte: 252,
                index: None,
            },
        },
        Ldg {
            ty: Ty::U64,
            dst: Reg(4),
            addr: Addr::Phi {
                class: 1,
                page: 2,
                byte: 8,
                index: Some((r(5), 8)),
            },
        },
        Ldg {
            ty: Ty::I64,
            dst: Reg(5),
            addr: Addr::RegisterIndirect {
                base: Reg(6),
                offset: -8,
            },
        },
        Ldg {
            ty: Ty::I32,
            dst: Reg(6),
            addr: Addr::RegisterIndirect {
                base: Reg(6),
                offset: i32::MIN,
            },
        },
        Ldg {
            ty: Ty::I8,
            dst: Reg(6),
            addr: Addr::RegisterIndirect {
                base: Reg(6),
                offset: i32::MAX,
            },
        },
        Ldg {
            ty: Ty::U16,
            dst: Reg(7),
            addr: Addr::RegisterIndirectComputed {
                handle: Reg(8),
                offset: Reg(9),
            },
        },
        Stg {
            ty: Ty::F32,
            src: r(1),
            addr: Addr::BufferIndex {
                buf: 0,
                index: r(2),
                scale: 2,
            },
        },
        Stg {
            ty: Ty::U8,
            src: Src::Imm(0xff),
            addr: Addr::BufferOffset { buf: 1, offset: 3 },
        },
        Stg {
            ty: Ty::U32,
            src: Src::Param(2),
            addr: Addr::Phi {
                class: 0,
                page: 0,
                byte: 0,
                index: None,
            },
        },
        Stg {
            ty: Ty::I16,
            src: Src::Param(4),
            addr: Addr::RegisterIndirect {
                base: Reg(10),
                offset: 1000,
            },
        },
        Lds {
            ty: Ty::F64,
            dst: Reg(10),
            addr: SharedAddr {
                index: None,
                offset: 248,
            },
        },
        Lds {
            ty: Ty::I8,
            dst: Reg(11),
            addr: SharedAddr {
                index: Some((Src::Special(Special::Lane), 1)),
                offset: 0,
            },
        },
        Sts {
            ty: Ty::U32,
            src: Src::Special(Special::Lane),
            addr: SharedAddr {
                index: Some((r(12), 4)),
                offset: 16,
            },
        },
        Sts {
            ty: Ty::F64,
            src: Src::Param(3),
            addr: SharedAddr {
                index: None,
                offset: 0,
            },
        },
        Mov {
            ty: Ty::U32,
            dst: Reg(13),
            src: Src::Param(2),
        },
        Mov {
            ty: Ty::F64,
            dst: Reg(13),
            src: Src::Param(3),
        },
        Cvt {
            to: Ty::F32,
            from: Ty::I16,
            dst: Reg(14),
            src: Src::Param(4),
        },
        Cvt {
            to: Ty::U64,
            from: Ty::F64,
            dst: Reg(14),
            src: Src::Imm(1.5f64.to_bits()),
        },
        Fma {
            ty: Ty::F64,
            dst: Reg(15),
            a: Src::Param(3),
            b: Src::Imm(2f64.to_bits()),
            c: r(15),
        },
        Fma {
            ty: Ty::I32,
            dst: Reg(15),
            a: r(1),
            b: r(2),
            c: Src::Imm(7),
        },
        Sel {
            ty: Ty::U32,
            dst: Reg(16),
            pred: Pred(15),
            a: Src::Param(2),
            b: Src::Imm(9),
        },
        Bra {
            target: 0,
            guard: None,
        },
        Bra {
            target: 1,
            guard: Some(Guard {
                pred: Pred(1),
                negate: false,
            }),
        },
        Bra {
            target: 2,
            guard: Some(Guard {
                pred: Pred(2),
                negate: true,
            }),
        },
        Loop {
            counter: Reg(255),
            target: 3,
        },
        Call { target: 4 },
        Ret,
        BarSync,
        MemFence,
    ];
    for s in Special::ALL {
        insts.push(Mov {
            ty: Ty::U32,
            dst: Reg(20),
            src: Src::Special(s),
        });
    }
    for ty in Ty::ALL {
        insts.push(Mov {
            ty,
            dst: Reg(21),
            src: Src::Imm(ty.mask()),
        });
        insts.push(Mov {
            ty,
            dst: Reg(21),
            src: Src::Imm(0),
        });
        insts.push(Mov {
            ty,
            dst: Reg(21),
            src: r(22),
        });
    }
    for op in BinOp::ALL {
        let ty = if op.int_only() { Ty::I64 } else { Ty::F32 };
        insts.push(Bin {
            op,
            ty,
            dst: Reg(30),
            a: r(31),
            b: Src::Imm(0x7f),
        });
    }
    for op in UnOp::ALL {
        let ty = if op.float_only() { Ty::F64 } else { Ty::I32 };
        insts.push(Un {
            op,
            ty,
            dst: Reg(32),
            a: r(33),
        });
    }
    for (i, cmp) in Cmp::ALL.into_iter().enumerate() {
        let ty = Ty::ALL[i];
        insts.push(Setp {
            cmp,
            ty,
            dst: Pred(i as u8),
            a: r(34),
            b: Src::Imm(1),
        });
    }
    for (i, op) in RedOp::ALL.into_iter().enumerate() {
        let ty = Ty::ALL[9 - i];
        insts.push(Reduce {
            op,
            ty,
            dst: Reg(35),
            src: Src::Imm(0),
        });
    }
    insts.push(Mov {
        ty: Ty::U64,
        dst: Reg(40),
        src: Src::Imm(u64::MAX),
    });
    insts.push(Exit);
    let last = insts.len() as u32 - 1;
    insts.push(Bra {
        target: last,
        guard: None,
    });
    ProgramDef {
        name: "kitchen_sink".into(),
        params,
        shared_bytes: 256,
        launch: Some(LaunchConfig::new(4, 256)),
        insts,
    }
}

fn sink_bytes() -> Vec<u8> {
    Program::new(kitchen_sink())
        .expect("kitchen sink verifies")
        .to_bytes()
}

/// The smallest program: `.kernel k` / `exit`.
fn tiny() -> ProgramDef {
    ProgramDef {
        name: "k".into(),
        insts: vec![Inst::Exit],
        ..Default::default()
    }
}

/// Offset of the first opcode in `encode(&tiny_with(insts))`: magic 8, version 2, name 2,
/// params 1, shared 1, launch 1, count 1.
const TINY_FIRST_OPCODE: usize = 16;

fn tiny_with(insts: Vec<Inst>) -> ProgramDef {
    ProgramDef { insts, ..tiny() }
}

#[test]
fn round_trip_every_variant() {
    let def = kitchen_sink();
    let p = Program::new(def.clone()).expect("verifies");
    assert_eq!((p.num_regs(), p.num_preds()), (256, 16));
    let bytes = p.to_bytes();
    assert_eq!(bytes, encode(&def));
    assert_eq!(decode(&bytes).expect("decodes"), def);
    let q = Program::from_bytes(&bytes).expect("decodes and verifies");
    assert_eq!(q, p);
    assert_eq!(q.key(), p.key());
    assert_eq!(q.def(), &def);
    assert_eq!((q.num_regs(), q.num_preds()), (256, 16));
}

#[test]
fn unverified_defs_round_trip_through_decode() {
    // `decode` does not verify, so anything encodable comes back, even nonsense.
    let def = ProgramDef {
        name: "not an ident \u{1F600}".into(),
        params: vec![buffer("f32", Ty::F32), buffer("f32", Ty::I8)],
        shared_bytes: u32::MAX,
        launch: Some(LaunchConfig::new(0, u32::MAX)),
        insts: vec![
            Inst::Bra {
                target: u32::MAX,
                guard: Some(Guard {
                    pred: Pred(255),
                    negate: true,
                }),
            },
            Inst::Ldg {
                ty: Ty::F32,
                dst: Reg(0),
                addr: Addr::BufferIndex {
                    buf: 200,
                    index: Src::Imm(u64::MAX),
                    scale: 3,
                },
            },
            Inst::Bin {
                op: BinOp::Rem,
                ty: Ty::F32,
                dst: Reg(0),
                a: Src::Param(99),
                b: r(0),
            },
            Inst::Sts {
                ty: Ty::U8,
                src: Src::Imm(1 << 40),
                addr: SharedAddr {
                    index: Some((Src::Param(7), 0)),
                    offset: u32::MAX,
                },
            },
        ],
    };
    let bytes = encode(&def);
    assert_eq!(decode(&bytes), Ok(def.clone()));
    match Program::from_bytes(&bytes) {
        Err(DecodeError::Invalid(e)) => assert!(e.message.contains("kernel name"), "{e}"),
        other => panic!("expected a verifier error, got {other:?}"),
    }
    // An empty program decodes too.
    let empty = ProgramDef::default();
    assert_eq!(decode(&encode(&empty)), Ok(empty));
}

#[test]
fn layout_of_a_tiny_program() {
    let bytes = encode(&tiny());
    let mut expected = MAGIC.to_vec();
    expected.extend_from_slice(&VERSION.to_le_bytes());
    expected.extend_from_slice(&[1, b'k', 0, 0, 0, 1, 0x0e]);
    assert_eq!(bytes, expected);
    assert_eq!(&MAGIC, b"HOLOVM\0\x1a");
    assert_eq!(bytes[TINY_FIRST_OPCODE], 0x0e);
}

#[test]
fn layout_of_operands() {
    let def = ProgramDef {
        name: "k".into(),
        params: vec![buffer("a", Ty::F32), scalar("n", Ty::U64)],
        shared_bytes: 300,
        launch: Some(LaunchConfig::new(2, 128)),
        insts: vec![
            Inst::Stg {
                ty: Ty::F32,
                src: Src::Imm(1.0f32.to_bits().into()),
                addr: Addr::BufferIndex {
                    buf: 0,
                    index: Src::Special(Special::GlobalId),
                    scale: 4,
                },
            },
            Inst::Ldg {
                ty: Ty::U64,
                dst: Reg(7),
                addr: Addr::RegisterIndirect {
                    base: Reg(5),
                    offset: -3,
                },
            },
            Inst::Bra {
                target: 200,
                guard: Some(Guard {
                    pred: Pred(3),
                    negate: true,
                }),
            },
            Inst::Bin {
                op: BinOp::Shr,
                ty: Ty::U64,
                dst: Reg(1),
                a: Src::Param(1),
                b: r(2),
            },
        ],
    };
    let bytes = encode(&def);
    #[rustfmt::skip]
    let body: &[u8] = &[
        1, b'k',
        2, 1, b'a', 0, 8, 1, b'n', 1, 7,   // params: a: ptr f32, n: u64
        0xac, 0x02,                         // shared 300
        1, 2, 0x80, 0x01,                   // launch 2, 128
        4,                                  // instructions
        0x01, 8, 3, 0x80, 0x80, 0x80, 0xfc, 0x03, 1, 0, 1, 4, 4,
        0x00, 7, 7, 4, 5, 5,                // zigzag(-3) = 5
        0x0a, 3, 0xc8, 0x01,
        0x2b, 7, 1, 2, 1, 0, 2,
    ];
    assert_eq!(&bytes[10..], body);
    assert_eq!(decode(&bytes), Ok(def));
}

#[test]
fn equal_defs_have_equal_bytes_and_keys() {
    let a = kitchen_sink();
    let b = kitchen_sink();
    assert_eq!(encode(&a), encode(&b));
    assert_eq!(
        Program::new(a).unwrap().key(),
        Program::new(b).unwrap().key()
    );
}

#[test]
fn every_truncation_is_an_error() {
    for bytes in [sink_bytes(), encode(&tiny())] {
        for len in 0..bytes.len() {
            match decode(&bytes[..len]) {
                Err(DecodeError::Truncated { offset, .. }) => assert!(offset <= len),
                other => panic!("prefix of {len} bytes gave {other:?}"),
            }
            assert!(Program::from_bytes(&bytes[..len]).is_err());
        }
    }
}

#[test]
fn wrong_magic() {
    let mut bytes = encode(&tiny());
    bytes[0] = b'h';
    assert_eq!(decode(&bytes), Err(DecodeError::BadMagic));
    assert_eq!(decode(b"\x7fELF"), Err(DecodeError::BadMagic));
    assert_eq!(decode(b"HOLOVM\0\x1b"), Err(DecodeError::BadMagic));
    // A prefix of the magic is a truncated file.
    assert!(matches!(
        decode(b"HOLO"),
        Err(DecodeError::Truncated { offset: 0, .. })
    ));
    assert!(matches!(
        decode(b""),
        Err(DecodeError::Truncated { offset: 0, .. })
    ));
}

#[test]
fn wrong_version() {
    let mut bytes = encode(&tiny());
    bytes[8] = 2;
    let e = decode(&bytes).unwrap_err();
    assert_eq!(
        e,
        DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert_eq!(
        e.to_string(),
        "unsupported bytecode version 2 (this build reads version 1)"
    );
    bytes[8] = 1;
    bytes[9] = 1;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::UnsupportedVersion {
            found: 257,
            supported: VERSION
        })
    );
}

#[test]
fn trailing_bytes() {
    for base in [encode(&tiny()), sink_bytes()] {
        let len = base.len();
        for extra in [&[0u8][..], &[0x0e], &[1, 2, 3]] {
            let mut bytes = base.clone();
            bytes.extend_from_slice(extra);
            assert_eq!(
                decode(&bytes),
                Err(DecodeError::TrailingBytes { offset: len })
            );
            assert_eq!(
                Program::from_bytes(&bytes),
                Err(DecodeError::TrailingBytes { offset: len })
            );
        }
    }
}

#[test]
fn unknown_opcodes() {
    let known: Vec<u8> = (0x00..=0x10)
        .chain(0x20..0x2c)
        .chain(0x30..0x3c)
        .chain(0x40..0x46)
        .chain(0x48..0x4c)
        .collect();
    for byte in 0..=255u8 {
        let mut bytes = encode(&tiny());
        bytes[TINY_FIRST_OPCODE] = byte;
        let result = decode(&bytes);
        if known.contains(&byte) {
            // A known opcode whose operands are missing.
            assert!(
                matches!(result, Ok(_) | Err(DecodeError::Truncated { .. })),
                "{result:?}"
            );
        } else {
            assert_eq!(
                result,
                Err(DecodeError::UnknownOpcode {
                    offset: TINY_FIRST_OPCODE,
                    byte
                })
            );
        }
    }
    let e = DecodeError::UnknownOpcode {
        offset: 16,
        byte: 0x11,
    };
    assert_eq!(e.to_string(), "unknown opcode 0x11 at byte 16");
}

/// Encodes `tiny_with(vec![inst])` and overwrites the byte at `first opcode + at`.
fn patched(inst: Inst, at: usize, byte: u8) -> Vec<u8> {
    let mut bytes = encode(&tiny_with(vec![inst]));
    bytes[TINY_FIRST_OPCODE + at] = byte;
    bytes
}

#[track_caller]
fn invalid_tag(bytes: &[u8], at: usize, what: &str) {
    match decode(bytes) {
        Err(DecodeError::InvalidTag {
            offset, what: w, ..
        }) => {
            assert_eq!((offset, w), (TINY_FIRST_OPCODE + at, what))
        }
        other => panic!("expected an invalid {what}, got {other:?}"),
    }
}

#[test]
fn invalid_tags() {
    let mov = Inst::Mov {
        ty: Ty::U32,
        dst: Reg(0),
        src: r(1),
    };
    invalid_tag(&patched(mov, 1, 10), 1, "type");
    invalid_tag(&patched(mov, 3, 4), 3, "operand tag");
    let mov = Inst::Mov {
        ty: Ty::U32,
        dst: Reg(0),
        src: Src::Special(Special::Lane),
    };
    invalid_tag(&patched(mov, 4, 5), 4, "special register");
    let cvt = Inst::Cvt {
        to: Ty::U32,
        from: Ty::U8,
        dst: Reg(0),
        src: r(1),
    };
    invalid_tag(&patched(cvt, 1, 0xff), 1, "target type");
    invalid_tag(&patched(cvt, 2, 0xff), 2, "source type");
    let ldg = Inst::Ldg {
        ty: Ty::U8,
        dst: Reg(0),
        addr: Addr::RegisterIndirect {
            base: Reg(1),
            offset: 0,
        },
    };
    invalid_tag(&patched(ldg, 3, 6), 3, "address mode");
    let lds = Inst::Lds {
        ty: Ty::U8,
        dst: Reg(0),
        addr: SharedAddr {
            index: None,
            offset: 0,
        },
    };
    invalid_tag(&patched(lds, 3, 2), 3, "shared address mode");

    // Header tags: a parameter kind and the launch flag.
    let def = ProgramDef {
        params: vec![scalar("n", Ty::U8)],
        ..tiny()
    };
    let mut bytes = encode(&def);
    // magic, version, name (2), count (1), name (2): the kind is at 15.
    assert_eq!(bytes[15], 1);
    bytes[15] = 2;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::InvalidTag {
            offset: 15,
            byte: 2,
            what: "parameter kind"
        })
    );
    let mut bytes = encode(&def);
    bytes[16] = 10;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::InvalidTag {
            offset: 16,
            byte: 10,
            what: "parameter type"
        })
    );
    let mut bytes = encode(&tiny());
    bytes[14] = 2;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::InvalidTag {
            offset: 14,
            byte: 2,
            what: "launch flag"
        })
    );
}

#[test]
fn invalid_utf8() {
    let mut bytes = encode(&ProgramDef {
        name: "abc".into(),
        ..tiny()
    });
    bytes[12] = 0xff;
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::InvalidUtf8 {
            offset: 12,
            what: "kernel name"
        })
    );
    let def = ProgramDef {
        params: vec![scalar("xy", Ty::U8)],
        ..tiny()
    };
    let mut bytes = encode(&def);
    bytes[15] = 0xc3; // a lead byte with nothing after it
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::InvalidUtf8 {
            offset: 15,
            what: "parameter name"
        })
    );
}

/// The header of `tiny()` up to (not including) the instruction count.
fn header_before_count() -> Vec<u8> {
    let mut bytes = encode(&tiny());
    bytes.truncate(TINY_FIRST_OPCODE - 1);
    bytes
}

#[test]
fn uleb_overflow_and_non_canonical() {
    // Shared size is the uleb right after the (empty) parameter list, at byte 13.
    let prefix = &encode(&tiny())[..13];
    let with_shared = |uleb: &[u8]| {
        let mut b = prefix.to_vec();
        b.extend_from_slice(uleb);
        b.extend_from_slice(&[0, 1, 0x0e]);
        b
    };
    assert_eq!(
        decode(&with_shared(&[0x80, 0x80, 0x04])).map(|d| d.shared_bytes),
        Ok(1 << 16)
    );
    let shared = "shared memory size";
    // 2^32 does not fit a u32.
    assert_eq!(
        decode(&with_shared(&[0x80, 0x80, 0x80, 0x80, 0x10])),
        Err(DecodeError::Overflow {
            offset: 13,
            what: shared
        })
    );
    // Eleven groups, and a tenth group above 1, are beyond 64 bits.
    let mut long = vec![0x80; 10];
    long.push(0);
    assert_eq!(
        decode(&with_shared(&long)),
        Err(DecodeError::Overflow {
            offset: 13,
            what: shared
        })
    );
    let mut tenth = vec![0xff; 9];
    tenth.push(0x02);
    assert_eq!(
        decode(&with_shared(&tenth)),
        Err(DecodeError::Overflow {
            offset: 13,
            what: shared
        })
    );
    // Redundant zero groups.
    assert_eq!(
        decode(&with_shared(&[0x80, 0x00])),
        Err(DecodeError::NonCanonical {
            offset: 13,
            what: shared
        })
    );
    assert_eq!(
        decode(&with_shared(&[0x81, 0x80, 0x00])),
        Err(DecodeError::NonCanonical {
            offset: 13,
            what: shared
        })
    );

    // The largest immediate takes ten groups and round-trips.
    let def = tiny_with(vec![
        Inst::Mov {
            ty: Ty::U64,
            dst: Reg(0),
            src: Src::Imm(u64::MAX),
        },
        Inst::Exit,
    ]);
    let bytes = encode(&def);
    assert_eq!(
        &bytes[TINY_FIRST_OPCODE + 4..TINY_FIRST_OPCODE + 14],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
    );
    assert_eq!(decode(&bytes), Ok(def));
}

#[test]
fn hostile_counts() {
    // Too many parameters: rejected from the count alone.
    let mut bytes = encode(&tiny());
    bytes.truncate(12);
    bytes.push(65);
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::TooLarge {
            offset: 12,
            what: "parameter count",
            count: 65,
            max: 64
        })
    );
    // Too many instructions, up to u64::MAX.
    for count in [MAX_INSTS as u64 + 1, u32::MAX as u64, u64::MAX] {
        let mut bytes = header_before_count();
        let mut uleb = vec![];
        let mut v = count;
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                uleb.push(low);
                break;
            }
            uleb.push(low | 0x80);
        }
        bytes.extend_from_slice(&uleb);
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::TooLarge {
                offset: TINY_FIRST_OPCODE - 1,
                what: "instruction count",
                count,
                max: MAX_INSTS as u64
            })
        );
    }
    // The maximum count is allowed but the input must hold the instructions.
    let mut bytes = header_before_count();
    bytes.extend_from_slice(&[0x80, 0x80, 0x40, 0x0e]);
    assert!(matches!(
        decode(&bytes),
        Err(DecodeError::Truncated {
            offset: 19,
            what: "opcode"
        })
    ));
    // A string longer than the input.
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, b'a']);
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::Truncated {
            offset: 10,
            what: "kernel name"
        })
    );
}

#[test]
fn verifier_errors_are_reported() {
    let def = tiny_with(vec![Inst::Call { target: 5 }, Inst::Exit]);
    let bytes = encode(&def);
    assert_eq!(decode(&bytes), Ok(def));
    match Program::from_bytes(&bytes) {
        Err(e @ DecodeError::Invalid(_)) => {
            let DecodeError::Invalid(v) = &e else {
                unreachable!()
            };
            assert_eq!(v.pc, Some(0));
            assert!(
                e.to_string()
                    .starts_with("the decoded program is invalid: instruction 0: call target 5"),
                "{e}"
            );
            // The verifier's text is in the message, so it is not also a `source()`.
            assert!(std::error::Error::source(&e).is_none());
        }
        other => panic!("expected a verifier error, got {other:?}"),
    }
    let e: DecodeError = VerifyError {
        pc: None,
        message: "x".into(),
    }
    .into();
    assert!(matches!(e, DecodeError::Invalid(_)));
}

#[test]
fn error_messages_carry_offsets() {
    let cases = [
        (
            DecodeError::Truncated {
                offset: 7,
                what: "opcode",
            },
            "the opcode starting at byte 7 is cut off",
        ),
        (
            DecodeError::InvalidTag {
                offset: 9,
                byte: 0xab,
                what: "type",
            },
            "invalid type 0xab at byte 9",
        ),
        (DecodeError::TrailingBytes { offset: 3 }, "from byte 3"),
        (
            DecodeError::InvalidUtf8 {
                offset: 12,
                what: "kernel name",
            },
            "kernel name is not valid UTF-8 (at byte 12)",
        ),
        (
            DecodeError::Overflow {
                offset: 5,
                what: "immediate",
            },
            "immediate at byte 5 is too large",
        ),
        (
            DecodeError::NonCanonical {
                offset: 5,
                what: "immediate",
            },
            "immediate at byte 5 is not minimally encoded",
        ),
        (
            DecodeError::TooLarge {
                offset: 4,
                what: "parameter count",
                count: 65,
                max: 64,
            },
            "parameter count at byte 4 is 65, above the limit of 64",
        ),
    ];
    for (e, text) in cases {
        assert!(e.to_string().contains(text), "{e}");
    }
}

/// Checks the decoder's contract on arbitrary input: no panic, and if it accepts, the result
/// is a verified program whose canonical encoding is exactly the input.
fn check_any_input(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(p) = Program::from_bytes(bytes) {
        prop_assert!(Program::new(p.def().clone()).is_ok());
        prop_assert_eq!(p.to_bytes(), bytes);
    }
    if let Ok(def) = decode(bytes) {
        prop_assert_eq!(encode(&def), bytes);
    }
    Ok(())
}

#[test]
fn every_bit_flip() {
    for base in [sink_bytes(), encode(&tiny())] {
        for i in 0..base.len() {
            let mut variants: Vec<u8> = (0..8).map(|bit| base[i] ^ (1 << bit)).collect();
            variants.extend_from_slice(&[0x00, 0x7f, 0x80, 0xff]);
            for v in variants {
                let mut bytes = base.clone();
                bytes[i] = v;
                check_any_input(&bytes).unwrap();
            }
        }
    }
}

fn valid_header() -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&VERSION.to_le_bytes());
    h
}

proptest! {
    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_any_input(&bytes)?;
    }

    #[test]
    fn random_bytes_after_a_header(tail in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = valid_header();
        bytes.extend_from_slice(&tail);
        check_any_input(&bytes)?;
    }

    #[test]
    fn random_bytes_after_a_program_header(
        tail in prop::collection::vec(any::<u8>(), 0..256),
        count in 0u8..20,
    ) {
        // A plausible header and instruction count, then noise as instructions.
        let mut bytes = header_before_count();
        bytes.push(count);
        bytes.extend_from_slice(&tail);
        check_any_input(&bytes)?;
    }

    #[test]
    fn corrupted_valid_programs(def in program_def(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode(&def);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        check_any_input(&bytes)?;
        bytes.truncate(i);
        prop_assert!(decode(&bytes).is_err());
    }
}
