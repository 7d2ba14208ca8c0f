//! Random valid programs (holovm_isa::arbitrary) run under every JIT strategy: the vector
//! strategy at several group sizes (with its per-lane fallbacks) and the scalar strategy must
//! report the same trap, and without a trap produce the same memory.
mod common;
use common::*;
use holovm_isa::arbitrary::{lanes_may_share_memory, program_def_with};
use holovm_isa::{ParamKind, Program, Ty};
use holovm_jit::JitOptions;
use proptest::prelude::*;

fn args_for(p: &Program, seed: u64) -> Vec<Arg> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    p.params()
        .iter()
        .map(|prm| match prm.kind {
            ParamKind::Buffer(_) => Arg::Buf((0..256).map(|_| next() as u8).collect()),
            ParamKind::Scalar(ty) => {
                // Small values most of the time, so loops and indices stay in range.
                let v = if next() % 4 == 0 { next() } else { next() % 40 };
                Arg::Scalar(if ty == Ty::F32 {
                    (v as f32).to_bits() as u64
                } else {
                    ty.canon(v)
                })
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn strategies_agree(def in program_def_with(40), seed in any::<u64>(), shape in 0usize..4) {
        let Ok(p) = Program::new(def) else { return Ok(()) };
        // Lanes that exchange data through memory may see each other's accesses in any
        // order (docs/ISA.md): such programs run on one lane.
        let shape = if lanes_may_share_memory(p.insts()) { 0 } else { shape };
        let (grid, block) = [(1u32, 1u32), (2, 13), (1, 40), (3, 8)][shape];
        let args = args_for(&p, seed);
        let mut first: Option<Out> = None;
        for (vector, group) in [(false, 8), (true, 4), (true, 8), (true, 32)] {
            let o = JitOptions { vector, group, verify: true, ..Default::default() };
            let out = run_with(&p, &o, grid, block, &args, None, 300);
            match &first {
                None => first = Some(out),
                Some(f) => {
                    prop_assert_eq!(f.trap, out.trap, "group {} vector {}\n{:?}", group, vector, p.insts());
                    if f.trap.kind == 0 {
                        prop_assert!(same_buffers(&p, &f.bufs, &out.bufs), "buffers differ\n{:?}", p.insts());
                        prop_assert!(
                            same_untyped(&f.pool, &out.pool),
                            "pool differs"
                        );
                    }
                }
            }
        }
    }
}
