//! Interpreter against JIT through `Vm::launch`: random valid programs (straight-line
//! arithmetic, loops, divergent branches, calls, barriers, in- and out-of-bounds memory
//! accesses) must give the same trap, or the same buffers and pool, in both tiers.

mod common;

use common::canonical_nan;
use holovm::isa::arbitrary::program_def_with;
use holovm::isa::{ParamKind, Program, Ty, POOL_CLASSES};
use holovm::{Arg, Error, LaunchConfig, Tier, Vm, VmConfig};
use proptest::prelude::*;

/// What a launch left behind: the trap, or every buffer and the pool.
#[derive(Debug, PartialEq)]
enum Outcome {
    Trap(Box<holovm::Trap>),
    Memory(Vec<Vec<u64>>, Vec<u8>),
}

fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn run(tier: Tier, p: &Program, cfg: LaunchConfig, seed: u64) -> Outcome {
    let vm = Vm::with_config(
        VmConfig::default()
            .tier(tier)
            .fuel(300)
            .parallel_threshold(0),
    );
    let mut s = seed | 1;
    let mut pool = vec![0u8; holovm::isa::POOL_CLASS_BYTES as usize];
    for class in 0..POOL_CLASSES {
        pool.iter_mut().for_each(|b| *b = next(&mut s) as u8);
        vm.write_pool(class, &pool).expect("pool class");
    }
    let mut bufs = Vec::new();
    let args: Vec<Arg> = p
        .params()
        .iter()
        .map(|prm| match prm.kind {
            ParamKind::Buffer(ty) => {
                let buf = vm.alloc_any(ty, 64).expect("alloc");
                let bytes: Vec<u8> = (0..buf.bytes()).map(|_| next(&mut s) as u8).collect();
                vm.write_bytes(&buf, &bytes).expect("write");
                bufs.push(buf);
                Arg::Buffer(buf)
            }
            ParamKind::Scalar(ty) => {
                // Small values most of the time, so loops and indices stay in range.
                let v = if next(&mut s).is_multiple_of(4) {
                    next(&mut s)
                } else {
                    next(&mut s) % 40
                };
                let bits = match ty {
                    Ty::F32 => (v as f32).to_bits() as u64,
                    Ty::F64 => (v as f64).to_bits(),
                    _ => ty.canon(v),
                };
                Arg::Scalar { ty, bits }
            }
        })
        .collect();
    match vm.launch(p, cfg, &args) {
        Err(Error::Trap(t)) => Outcome::Trap(t),
        Err(e) => panic!("launch error {e}"),
        Ok(_) => {
            let memory = bufs
                .iter()
                .map(|b| {
                    let size = b.ty().size() as usize;
                    vm.read_bytes(b)
                        .expect("read")
                        .chunks(size)
                        .map(|c| {
                            let mut w = [0u8; 8];
                            w[..size].copy_from_slice(c);
                            canonical_nan(b.ty(), u64::from_le_bytes(w))
                        })
                        .collect()
                })
                .collect();
            let pool = (0..POOL_CLASSES)
                .flat_map(|c| vm.read_pool::<u8>(c).expect("pool"))
                .collect();
            Outcome::Memory(memory, pool)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn interpreter_and_jit_agree(def in program_def_with(32), seed in any::<u64>(), shape in 0usize..4) {
        let Ok(p) = Program::new(def) else { return Ok(()) };
        let cfg = [LaunchConfig::new(1, 1), LaunchConfig::new(2, 13), LaunchConfig::new(1, 40), LaunchConfig::new(3, 8)][shape];
        let interp = run(Tier::Interpret, &p, cfg, seed);
        let jit = run(Tier::Jit, &p, cfg, seed);
        prop_assert_eq!(interp, jit, "{}", holovm::asm::disassemble(&p));
    }
}
