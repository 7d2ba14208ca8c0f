//! Every bundled example kernel runs and matches its Rust reference implementation on random
//! inputs, in both tiers, at sizes that are and are not multiples of the block size.

use holovm::{examples, Tier, Vm, VmConfig};

#[test]
fn every_example_matches_its_reference_in_both_tiers() {
    assert!(examples::all().len() >= 10);
    for tier in [Tier::Interpret, Tier::Jit] {
        let vm = Vm::with_config(VmConfig::default().tier(tier));
        for ex in examples::all() {
            let sizes: &[usize] = match ex.name {
                "softmax_rows" => &[1, 3],
                "matvec" => &[1, 7, 64],
                "gemm" => &[1, 5, 17],
                "phi_scale" => &[1, 3072],
                _ => &[1, 7, 256, 1000, 3073],
            };
            for &n in sizes {
                for seed in [1, 2] {
                    let check = ex
                        .check(&vm, n, seed)
                        .unwrap_or_else(|e| panic!("{} {tier:?} n={n}: {e}", ex.name));
                    assert!(
                        check.passed(),
                        "{} {tier:?} n={n} seed={seed}: {check:?}",
                        ex.name
                    );
                }
            }
            if tier == Tier::Jit {
                // Tier::Jit falls back to the interpreter when a compile fails.
                let p = ex.program().expect("example program");
                assert_eq!(vm.jit_error(&p), None, "{}", ex.name);
                assert!(vm.is_compiled(&p), "{} was not compiled", ex.name);
            }
        }
    }
}
