//! `Inst::sources`, `Program::reads_special`, `Program::ignores_blocks` and `block_and_lane`.

use holovm_isa::*;

const LANE: Src = Src::Special(Special::Lane);
const GID: Src = Src::Special(Special::GlobalId);

fn r(i: u8) -> Src {
    Src::Reg(Reg(i))
}

fn program(insts: Vec<Inst>) -> Program {
    let def = ProgramDef {
        name: "k".into(),
        params: vec![Param {
            name: "x".into(),
            kind: ParamKind::Buffer(Ty::U32),
        }],
        insts,
        shared_bytes: 64,
        ..Default::default()
    };
    Program::new(def).expect("valid test program")
}

#[test]
fn every_operand_and_address_part_is_a_source() {
    let idx = Addr::BufferIndex {
        buf: 0,
        index: LANE,
        scale: 4,
    };
    let cases: Vec<(Inst, Vec<Src>)> = vec![
        (
            Inst::Ldg {
                ty: Ty::U32,
                dst: Reg(0),
                addr: idx,
            },
            vec![LANE],
        ),
        (
            Inst::Stg {
                ty: Ty::U32,
                src: r(1),
                addr: Addr::RegisterIndirectComputed {
                    handle: Reg(2),
                    offset: Reg(3),
                },
            },
            vec![r(1), r(2), r(3)],
        ),
        (
            Inst::Stg {
                ty: Ty::U32,
                src: Src::Imm(7),
                addr: Addr::Phi {
                    class: 0,
                    page: 0,
                    byte: 0,
                    index: Some((GID, 4)),
                },
            },
            vec![Src::Imm(7), GID],
        ),
        (
            Inst::Ldg {
                ty: Ty::U32,
                dst: Reg(0),
                addr: Addr::RegisterIndirect {
                    base: Reg(4),
                    offset: -8,
                },
            },
            vec![r(4)],
        ),
        (
            Inst::Ldg {
                ty: Ty::U32,
                dst: Reg(0),
                addr: Addr::BufferOffset { buf: 0, offset: 8 },
            },
            vec![],
        ),
        (
            Inst::Lds {
                ty: Ty::U32,
                dst: Reg(0),
                addr: SharedAddr {
                    index: Some((LANE, 4)),
                    offset: 0,
                },
            },
            vec![LANE],
        ),
        (
            Inst::Sts {
                ty: Ty::U32,
                src: r(5),
                addr: SharedAddr {
                    index: None,
                    offset: 4,
                },
            },
            vec![r(5)],
        ),
        (
            Inst::Cvt {
                to: Ty::F32,
                from: Ty::U32,
                dst: Reg(0),
                src: Src::Param(2),
            },
            vec![Src::Param(2)],
        ),
        (
            Inst::Sel {
                ty: Ty::U32,
                dst: Reg(0),
                pred: Pred(1),
                a: r(1),
                b: GID,
            },
            vec![r(1), GID],
        ),
        (
            Inst::Fma {
                ty: Ty::F32,
                dst: Reg(0),
                a: r(1),
                b: r(2),
                c: r(3),
            },
            vec![r(1), r(2), r(3)],
        ),
        (
            Inst::Reduce {
                op: RedOp::Add,
                ty: Ty::F32,
                dst: Reg(0),
                src: r(6),
            },
            vec![r(6)],
        ),
        (
            Inst::Loop {
                counter: Reg(7),
                target: 0,
            },
            vec![r(7)],
        ),
        (
            Inst::Bra {
                target: 0,
                guard: Some(Guard {
                    pred: Pred(0),
                    negate: false,
                }),
            },
            vec![],
        ),
        (Inst::BarSync, vec![]),
    ];
    for (inst, want) in cases {
        assert_eq!(inst.sources().collect::<Vec<_>>(), want, "{inst:?}");
    }
}

#[test]
fn programs_that_ignore_their_blocks() {
    let mov = |src| Inst::Mov {
        ty: Ty::U32,
        dst: Reg(0),
        src,
    };
    let store_at = |index| Inst::Stg {
        ty: Ty::U32,
        src: Src::Imm(1),
        addr: Addr::BufferIndex {
            buf: 0,
            index,
            scale: 4,
        },
    };
    let block = Src::Special(Special::Block);
    let sts = Inst::Sts {
        ty: Ty::U32,
        src: Src::Imm(0),
        addr: SharedAddr {
            index: None,
            offset: 0,
        },
    };
    let reduce = Inst::Reduce {
        op: RedOp::Max,
        ty: Ty::U32,
        dst: Reg(0),
        src: GID,
    };
    let with_exit = |i: Inst| program(vec![i, Inst::Exit]);
    // %gid, %bdim and %gdim do not change when blocks run together.
    for src in [
        GID,
        Src::Special(Special::BlockDim),
        Src::Special(Special::GridDim),
    ] {
        assert!(with_exit(mov(src)).ignores_blocks());
        assert!(with_exit(store_at(src)).ignores_blocks());
    }
    for i in [
        mov(LANE),
        mov(block),
        store_at(LANE),
        store_at(block),
        sts,
        reduce,
        Inst::BarSync,
    ] {
        assert!(!with_exit(i).ignores_blocks(), "{i:?}");
    }
    let p = with_exit(store_at(block));
    assert!(p.reads_special(Special::Block));
    assert!(!p.reads_special(Special::Lane));
    assert!(!p.reads_special(Special::GlobalId));
}

#[test]
fn a_lanes_block_and_lane_come_from_its_gid() {
    assert_eq!(block_and_lane(0, 256), (0, 0));
    assert_eq!(block_and_lane(255, 256), (0, 255));
    assert_eq!(block_and_lane(256, 256), (1, 0));
    assert_eq!(block_and_lane(100 * 7 + 99, 100), (7, 99));
    assert_eq!(block_and_lane(5, 1), (5, 0));
    assert_eq!(block_and_lane(5, 0), (5, 0));
    assert_eq!(
        block_and_lane(u64::from(u32::MAX), 1024),
        (u32::MAX / 1024, 1023)
    );
    assert_eq!(block_and_lane(u64::MAX, 1), (u32::MAX, 0));
}
