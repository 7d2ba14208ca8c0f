//! The random program generator: its programs verify, round-trip through bytecode, have stable
//! keys, and cover the instruction set.

use std::collections::BTreeSet;

use holovm_isa::arbitrary::{program_def, program_def_with};
use holovm_isa::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// A different instruction that keeps the program valid.
fn changed(inst: &Inst) -> Inst {
    match *inst {
        Inst::Exit => Inst::Ret,
        Inst::Mov { ty, dst, src } => Inst::Mov {
            ty,
            dst: Reg(dst.0.wrapping_add(1)),
            src,
        },
        _ => Inst::Exit,
    }
}

proptest! {
    #[test]
    fn generated_programs_verify_and_round_trip(def in program_def()) {
        let p = match Program::new(def.clone()) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("generated an invalid program: {e}"))),
        };
        let bytes = p.to_bytes();
        prop_assert_eq!(bytecode::decode(&bytes), Ok(def.clone()));
        let q = Program::from_bytes(&bytes);
        prop_assert_eq!(q.as_ref(), Ok(&p));
        prop_assert_eq!(q.map(|q| q.key()), Ok(p.key()));
        // Equal definitions, built separately, have equal keys.
        prop_assert_eq!(Program::new(def.clone()).map(|p| p.key()), Ok(p.key()));
    }

    #[test]
    fn changing_an_instruction_changes_the_key(def in program_def(), at in any::<prop::sample::Index>()) {
        let p = Program::new(def.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = at.index(def.insts.len());
        let mut def2 = def;
        def2.insts[i] = changed(&def2.insts[i]);
        let q = Program::new(def2).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_ne!(p.to_bytes(), q.to_bytes());
        prop_assert_ne!(p.key(), q.key());
        prop_assert_ne!(p, q);
    }

    #[test]
    fn changing_the_header_changes_the_key(def in program_def()) {
        let key = Program::new(def.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?.key();
        let key_of = |d: ProgramDef| Program::new(d).map(|p| p.key()).map_err(|e| TestCaseError::fail(e.to_string()));
        let mut d = def.clone();
        d.name.push('x');
        prop_assert_ne!(key_of(d)?, key);
        let mut d = def.clone();
        d.shared_bytes += 8;
        prop_assert_ne!(key_of(d)?, key);
        let mut d = def.clone();
        d.launch = match d.launch {
            None => Some(LaunchConfig::new(1, 1)),
            Some(_) => None,
        };
        prop_assert_ne!(key_of(d)?, key);
        let mut d = def;
        d.params.push(Param { name: "extra_param_".into(), kind: ParamKind::Scalar(Ty::U8) });
        prop_assert_ne!(key_of(d)?, key);
    }

    #[test]
    fn short_programs(def in program_def_with(1)) {
        prop_assert_eq!(def.insts.len(), 1);
        prop_assert!(Program::new(def).is_ok());
    }
}

/// Names every feature a program uses: instruction variants with their operation, addressing
/// modes and operand kinds.
fn features(def: &ProgramDef, out: &mut BTreeSet<String>) {
    let src = |s: &Src, out: &mut BTreeSet<String>| {
        out.insert(
            match s {
                Src::Reg(_) => "src reg",
                Src::Special(_) => "src special",
                Src::Param(_) => "src param",
                Src::Imm(_) => "src imm",
            }
            .to_string(),
        );
    };
    for inst in &def.insts {
        let name = match inst {
            Inst::Bin { op, .. } => format!("bin {}", op.name()),
            Inst::Un { op, .. } => format!("un {}", op.name()),
            Inst::Setp { cmp, .. } => format!("setp {}", cmp.name()),
            Inst::Reduce { op, .. } => format!("reduce {}", op.name()),
            Inst::Bra { guard: None, .. } => "bra".into(),
            Inst::Bra { guard: Some(g), .. } => format!("bra guard negate={}", g.negate),
            other => format!("{other:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or("")
                .to_string(),
        };
        out.insert(name);
        let addr = match inst {
            Inst::Ldg { addr, .. } | Inst::Stg { addr, .. } => Some(addr),
            _ => None,
        };
        if let Some(addr) = addr {
            out.insert(
                match addr {
                    Addr::BufferOffset { .. } => "addr buffer offset",
                    Addr::BufferIndex { .. } => "addr buffer index",
                    Addr::Phi { index: None, .. } => "addr phi",
                    Addr::Phi { index: Some(_), .. } => "addr phi index",
                    Addr::RegisterIndirect { .. } => "addr register indirect",
                    Addr::RegisterIndirectComputed { .. } => "addr register indirect computed",
                }
                .to_string(),
            );
        }
        match inst {
            Inst::Lds { addr, .. } | Inst::Sts { addr, .. } => {
                out.insert(format!("shared index={}", addr.index.is_some()));
            }
            _ => {}
        }
        match *inst {
            Inst::Stg { src: a, .. } | Inst::Sts { src: a, .. } | Inst::Mov { src: a, .. } => {
                src(&a, out)
            }
            Inst::Bin { a, b, .. } | Inst::Setp { a, b, .. } | Inst::Sel { a, b, .. } => {
                src(&a, out);
                src(&b, out)
            }
            _ => {}
        }
    }
    for p in &def.params {
        out.insert(
            format!("{:?}", p.kind)
                .split('(')
                .next()
                .unwrap_or("")
                .to_string(),
        );
    }
    if def.launch.is_some() {
        out.insert("launch".into());
    }
}

#[test]
fn generator_covers_the_instruction_set() {
    let mut runner = TestRunner::deterministic();
    let strategy = program_def();
    let mut seen = BTreeSet::new();
    for _ in 0..300 {
        let def = strategy.new_tree(&mut runner).expect("generates").current();
        features(&def, &mut seen);
    }
    let mut expected: Vec<String> = [
        "Ldg",
        "Stg",
        "Lds",
        "Sts",
        "Mov",
        "Cvt",
        "Fma",
        "Sel",
        "Loop",
        "Call",
        "Ret",
        "Exit",
        "BarSync",
        "MemFence",
        "bra",
        "bra guard negate=true",
        "bra guard negate=false",
        "addr buffer offset",
        "addr buffer index",
        "addr phi",
        "addr phi index",
        "addr register indirect",
        "addr register indirect computed",
        "shared index=true",
        "shared index=false",
        "src reg",
        "src special",
        "src param",
        "src imm",
        "Buffer",
        "Scalar",
        "launch",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.extend(BinOp::ALL.iter().map(|o| format!("bin {}", o.name())));
    expected.extend(UnOp::ALL.iter().map(|o| format!("un {}", o.name())));
    expected.extend(Cmp::ALL.iter().map(|o| format!("setp {}", o.name())));
    expected.extend(RedOp::ALL.iter().map(|o| format!("reduce {}", o.name())));
    let missing: Vec<&String> = expected.iter().filter(|e| !seen.contains(*e)).collect();
    assert!(
        missing.is_empty(),
        "the generator never produced {missing:?}"
    );
}

/// The differential tests run programs that may exchange data through memory on one lane
/// only; enough generated programs must store and still run on many lanes, or their
/// multi-lane shapes would compare only traps.
#[test]
fn many_programs_that_store_run_on_many_lanes() {
    let mut runner = TestRunner::deterministic();
    let (mut stores, mut many_lanes) = (0, 0);
    let total = 1000;
    for _ in 0..total {
        let def = program_def_with(32)
            .new_tree(&mut runner)
            .expect("generate")
            .current();
        let Ok(p) = Program::new(def) else { continue };
        let insts = p.insts();
        if insts
            .iter()
            .any(|i| matches!(i, Inst::Stg { .. } | Inst::Sts { .. }))
        {
            stores += 1;
            if !arbitrary::lanes_may_share_memory(insts) {
                many_lanes += 1;
            }
        }
    }
    eprintln!("{stores} of {total} programs store; {many_lanes} of them run on many lanes");
    assert!(many_lanes * 6 >= stores, "{many_lanes} of {stores}");
}

proptest! {
    /// `Inst::map_regs` renames exactly the registers `sources` and `dst_reg` name (a
    /// loop's counter by `read`), and nothing else: the identity keeps every instruction.
    #[test]
    fn map_regs_renames_what_sources_and_dst_reg_name(def in program_def()) {
        let up = |k: u8| move |r: Reg| Reg(r.0.wrapping_add(k));
        for inst in def.insts {
            prop_assert_eq!(inst.map_regs(|r| r, |r| r), inst);
            let m = inst.map_regs(up(1), up(2));
            let want: Vec<Src> = inst
                .sources()
                .map(|s| match s {
                    Src::Reg(r) => Src::Reg(up(1)(r)),
                    other => other,
                })
                .collect();
            prop_assert_eq!(m.sources().collect::<Vec<_>>(), want, "{:?}", inst);
            let k = if matches!(inst, Inst::Loop { .. }) { 1 } else { 2 };
            prop_assert_eq!(m.dst_reg(), inst.dst_reg().map(up(k)), "{:?}", inst);
            // Renamed back, the instruction is the one it was.
            let back = m.map_regs(|r| Reg(r.0.wrapping_sub(1)), |r| Reg(r.0.wrapping_sub(k)));
            prop_assert_eq!(back, inst);
        }
    }

    /// `Inst::map_preds` renames exactly the predicates `pred_read` and `pred_written`
    /// name, and nothing else.
    #[test]
    fn map_preds_renames_what_pred_read_and_pred_written_name(def in program_def()) {
        let up = |k: u8| move |p: Pred| Pred(p.0.wrapping_add(k));
        for inst in def.insts {
            prop_assert_eq!(inst.map_preds(|p| p, |p| p), inst);
            let m = inst.map_preds(up(1), up(2));
            prop_assert_eq!(m.pred_read(), inst.pred_read().map(up(1)), "{:?}", inst);
            prop_assert_eq!(m.pred_written(), inst.pred_written().map(up(2)), "{:?}", inst);
            let back = m.map_preds(|p| Pred(p.0.wrapping_sub(1)), |p| Pred(p.0.wrapping_sub(2)));
            prop_assert_eq!(back, inst);
        }
    }
}
