//! Kernels written the GPU way, over shared memory, against Rust in both tiers.
//!
//! A tiled gemm (tests/kernels/gemm_tiled.hasm: 16 x 16 tiles staged in shared memory,
//! the lanes split into rows and columns by shifts and masks, registers reused for a row's
//! base then a lane's index, a predicate reused for a lane's and a row's edge test) matches
//! a Rust reference bit for bit in both tiers, at shapes that are and are not multiples of
//! the tile, and compiles to vector code that keeps the lanes' indices as scalars.

mod common;

use common::*;
use holovm::{args, LaunchConfig, Tier, Vm, VmConfig};

const TILED: &str = include_str!("kernels/gemm_tiled.hasm");
const CONV: &str = include_str!("kernels/conv1d_halo.hasm");
const SCAN: &str = include_str!("kernels/scan_block.hasm");

/// C = A B with fused multiply-adds in increasing p, as the kernel computes it.
fn reference(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).fold(0.0f32, |acc, p| a[i * k + p].mul_add(b[p * n + j], acc));
        }
    }
    c
}

#[test]
fn tiled_gemm_matches_rust_in_both_tiers() {
    let p = asm(TILED);
    for tier in [Tier::Interpret, Tier::Jit] {
        let vm = Vm::with_config(VmConfig::default().tier(tier));
        for (m, n, k) in [
            (16usize, 16usize, 16usize),
            (64, 48, 32),
            (1, 1, 1),
            (17, 33, 5),
            (40, 7, 31),
            (3, 50, 20),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 37) % 23) as f32 * 0.25 - 2.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 11) % 19) as f32 * 0.5 - 4.5)
                .collect();
            let (ba, bb) = (vm.alloc_from(&a).unwrap(), vm.alloc_from(&b).unwrap());
            let bc = vm.alloc_from(&vec![-1.0f32; m * n]).unwrap();
            let grid = (m.div_ceil(16) * n.div_ceil(16)) as u32;
            vm.launch(
                &p,
                LaunchConfig::new(grid, 256),
                &args![&ba, &bb, &bc, m as u32, n as u32, k as u32],
            )
            .unwrap_or_else(|e| panic!("{tier:?} {m}x{n}x{k}: {e}"));
            let got = vm.read(&bc).unwrap();
            let want = reference(&a, &b, m, n, k);
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{tier:?} {m}x{n}x{k}"
            );
        }
        if tier == Tier::Jit {
            assert!(vm.is_compiled(&p));
        }
    }
    // Groups of 16 (a row of the tile); the lanes' columns and the addresses built from
    // them are lane-affine (contiguous loads), the rows uniform.
    let dump = Vm::new().jit_dump(&p).expect("dump");
    let text = dump.strategy.to_string();
    assert!(text.contains("groups of 16 lanes"), "{text}");
    assert!(text.contains("shr/and by a power of two"), "{text}");
    assert!(
        text.contains("kept as one scalar): r1 r7/2 r10 r10/3 r12/2 r14/3 r16"),
        "{text}"
    );
    // p3's second value (a row of B past k) is uniform: its branch (pc 29) is a plain one.
    assert!(
        text.contains("divergent forward branches (pc 20, 48)"),
        "{text}"
    );
}

/// A 1-D convolution whose blocks stage a halo loaded by their first lanes (the first
/// group leaves vector code there and regroups after the barrier), and a Hillis-Steele scan
/// (groups that leave vector code at each level regroup at the next barrier): bit for bit
/// against Rust in both tiers, at sizes that are and are not multiples of the block.
#[test]
fn halo_convolution_and_block_scan_match_rust_in_both_tiers() {
    let (conv, scan) = (asm(CONV), asm(SCAN));
    for tier in [Tier::Interpret, Tier::Jit] {
        let vm = Vm::with_config(VmConfig::default().tier(tier));
        for n in [1usize, 255, 256, 700, 1024] {
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 29) % 17) as f32 * 0.375 - 3.0)
                .collect();
            let w: Vec<f32> = (0..9).map(|t| t as f32 * 0.25 - 1.0).collect();
            let (bx, bw) = (vm.alloc_from(&x).unwrap(), vm.alloc_from(&w).unwrap());
            let by = vm.alloc::<f32>(n).unwrap();
            let grid = n.div_ceil(256) as u32;
            vm.launch(
                &conv,
                LaunchConfig::new(grid, 256),
                &args![&bx, &bw, &by, n as u32],
            )
            .unwrap_or_else(|e| panic!("{tier:?} n={n}: {e}"));
            let got = vm.read(&by).unwrap();
            for (i, g) in got.iter().enumerate() {
                let want = (0..9).fold(0.0f32, |acc, t| {
                    let xv = (i + t).checked_sub(4).and_then(|j| x.get(j)).copied();
                    xv.unwrap_or(0.0).mul_add(w[t], acc)
                });
                assert_eq!(g.to_bits(), want.to_bits(), "{tier:?} conv n={n} i={i}");
            }
        }
        for (grid, block) in [(3u32, 256u32), (2, 100), (1, 7)] {
            let n = (grid * block) as usize;
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 13) % 11) as f32 * 0.5 - 2.25)
                .collect();
            let (bx, by) = (vm.alloc_from(&x).unwrap(), vm.alloc::<f32>(n).unwrap());
            vm.launch(&scan, LaunchConfig::new(grid, block), &args![&bx, &by])
                .unwrap_or_else(|e| panic!("{tier:?} scan {grid}x{block}: {e}"));
            let got = vm.read(&by).unwrap();
            for (b, chunk) in x.chunks(block as usize).enumerate() {
                let mut v = chunk.to_vec();
                let mut off = 1;
                while off < v.len() {
                    v = (0..v.len())
                        .map(|l| if l >= off { v[l] + v[l - off] } else { v[l] })
                        .collect();
                    off *= 2;
                }
                for (l, want) in v.iter().enumerate() {
                    let g = got[b * block as usize + l];
                    assert_eq!(
                        g.to_bits(),
                        want.to_bits(),
                        "{tier:?} scan {grid}x{block} {l}"
                    );
                }
            }
        }
    }
}
