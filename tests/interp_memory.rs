//! Memory instructions and every addressing mode: buffer + constant, buffer + scaled index
//! (contiguous and scattered), the boundary pool by phi coordinate (with and without an index,
//! across classes), global pointers (`&a`, `&pool`, constant and register offsets), sub-word
//! accesses, and shared memory. Each runs serially (plain memory paths) and in parallel
//! (atomic paths).

// Index loops over lanes read best in these tests.
#![allow(clippy::needless_range_loop)]

mod common;

use common::*;
use holovm::isa::{Ty, POOL_BYTES, POOL_CLASS_BYTES};
use holovm::{args, Arg, LaunchConfig, Vm};

fn vms() -> [Vm; 4] {
    all_vms()
}

/// `out[gid] = a[n - 1 - gid]` and `rev[n - 1 - gid] = a[gid]` for every type and every
/// index scale (the byte offset is built so that `index * scale` addresses element i).
#[test]
fn buffer_index_all_types_and_scales() {
    let mut rng = Rng(17);
    for ty in Ty::ALL {
        let t = ty.name();
        let size = ty.size();
        for scale in [1u32, 2, 4, 8] {
            if scale > size && size % scale != 0 && scale % size != 0 {
                continue;
            }
            // index = element * size / scale must be an integer: scale <= size.
            if scale > size {
                continue;
            }
            let k = size / scale;
            let src = format!(
                ".kernel rev
.param a: ptr {t}
.param out: ptr {t}
.param rev: ptr {t}
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    sub.u32 r2, n, %gid
    sub.u32 r2, r2, 1
    mul.u32 r3, r2, {k}
    ldg.{t} r1, [a + r3*{scale}]
    mul.u32 r4, %gid, {k}
    stg.{t} [out + r4*{scale}], r1
    ldg.{t} r5, [a + r4*{scale}]
    stg.{t} [rev + r3*{scale}], r5
done:
    exit
"
            );
            let p = asm(&src);
            for vm in vms() {
                let n = 1000usize;
                let vals = samples(ty, &mut rng, n);
                let vals = &vals[vals.len() - n..];
                let a = vm.alloc_any(ty, n).unwrap();
                vm.write_bytes(&a, &to_bytes(ty, vals)).unwrap();
                let out = vm.alloc_any(ty, n).unwrap();
                let rev = vm.alloc_any(ty, n).unwrap();
                run(
                    &vm,
                    &p,
                    LaunchConfig::cover(n as u64, 128),
                    &args![a, out, rev, n as u32],
                );
                let got = from_bytes(ty, &vm.read_bytes(&out).unwrap());
                let got_rev = from_bytes(ty, &vm.read_bytes(&rev).unwrap());
                for i in 0..n {
                    assert_eq!(got[i], vals[n - 1 - i], "{t} scale {scale} lane {i}");
                    assert_eq!(got_rev[i], vals[n - 1 - i], "{t} scale {scale} lane {i}");
                }
            }
        }
    }
}

/// Contiguous `%gid`/`%lane` indexing (the fast path) for each width, in full and in partial
/// blocks, and loads that zero-extend sub-word values.
#[test]
fn contiguous_accesses_and_sub_word_zero_extension() {
    for ty in Ty::ALL {
        let t = ty.name();
        let s = ty.size();
        let src = format!(
            ".kernel copy
.param a: ptr {t}
.param out: ptr {t}
.param img: ptr u64
.param lanes: ptr {t}
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    mov_imm.u64 r1, 0xffffffffffffffff
    ldg.{t} r1, [a + %gid*{s}]
    stg.{t} [out + %gid*{s}], r1
    stg.u64 [img + %gid*8], r1
    ldg.{t} r2, [a + %lane*{s}]
    stg.{t} [lanes + %gid*{s}], r2
done:
    exit
"
        );
        let p = asm(&src);
        for vm in vms() {
            for n in [256usize, 1000] {
                let bits: Vec<u64> = (0..n as u64)
                    .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) & ty.mask())
                    .collect();
                let a = vm.alloc_any(ty, n).unwrap();
                vm.write_bytes(&a, &to_bytes(ty, &bits)).unwrap();
                let out = vm.alloc_any(ty, n).unwrap();
                let lanes = vm.alloc_any(ty, n).unwrap();
                let img = vm.alloc::<u64>(n).unwrap();
                run(
                    &vm,
                    &p,
                    LaunchConfig::cover(n as u64, 128),
                    &args![a, out, &img, lanes, n as u32],
                );
                assert_eq!(
                    from_bytes(ty, &vm.read_bytes(&out).unwrap()),
                    bits,
                    "{t} n {n}"
                );
                assert_eq!(vm.read(&img).unwrap(), bits, "{t}: loads zero-extend");
                let want: Vec<u64> = (0..n).map(|i| bits[i % 128]).collect();
                assert_eq!(
                    from_bytes(ty, &vm.read_bytes(&lanes).unwrap()),
                    want,
                    "{t} %lane"
                );
            }
        }
    }
}

#[test]
fn sign_extension_is_explicit() {
    let src = "
.kernel sx
.param a: ptr i8
.param out: ptr i64
    ldg.i8 r1, [a + %gid]
    cvt.i64.i8 r2, r1
    stg.i64 [out + %gid*8], r2
    exit
";
    let vm = serial_vm();
    let a = vm.alloc_from(&[-1i8, -128, 127, 0]).unwrap();
    let out = vm.alloc::<i64>(4).unwrap();
    run(&vm, &asm(src), LaunchConfig::new(1, 4), &args![&a, &out]);
    assert_eq!(vm.read(&out).unwrap(), vec![-1, -128, 127, 0]);
}

/// `[a + 16]`: one address for all lanes; stores to one element leave one of the values.
#[test]
fn buffer_offset_is_uniform() {
    let src = "
.kernel bo
.param a: ptr u32
.param out: ptr u32
.param one: ptr u32
    ldg.u32 r1, [a + 12]
    stg.u32 [out + %gid*4], r1
    stg.u32 [one + 4], %gid
    exit
";
    let p = asm(src);
    for vm in vms() {
        let a = vm.alloc_from(&[10u32, 11, 12, 13, 14]).unwrap();
        let out = vm.alloc::<u32>(512).unwrap();
        let one = vm.alloc::<u32>(2).unwrap();
        run(&vm, &p, LaunchConfig::new(4, 128), &args![&a, &out, &one]);
        assert!(vm.read(&out).unwrap().iter().all(|&x| x == 13));
        let v = vm.read(&one).unwrap();
        assert_eq!(v[0], 0);
        assert!(v[1] < 512);
    }
}

#[test]
fn phi_coordinates_and_pool_persistence() {
    let src = "
.kernel phis
.param out: ptr u32
    ldg.u32 r1, [phi(2, 1, 8)]
    ldg.u32 r2, [phi(1, 47, 0) + %gid*4]
    add.u32 r3, r1, r2
    stg.u32 [out + %gid*4], r3
    ldg.u32 r4, [phi(95, 47, 252)]
    stg.u32 [phi(5, 0, 0) + %gid*4], r4
    mul.u32 r6, %gid, 2
    stg.u16 [phi(6, 0, 0) + r6*1], %lane
    exit
";
    let p = asm(src);
    for vm in vms() {
        let mut c1: Vec<u32> = (0..3072).collect();
        c1[3008] = 1000; // page 47, byte 0 of class 1
        vm.write_pool(1, &c1).unwrap();
        let mut c2 = vec![0u32; 3072];
        c2[(256 + 8) / 4] = 7;
        c2[0] = 500_000; // class 2 starts right after class 1's last page
        vm.write_pool(2, &c2).unwrap();
        let mut c95 = vec![0u32; 3072];
        c95[3071] = 0xdead_beef;
        vm.write_pool(95, &c95).unwrap();
        let out = vm.alloc::<u32>(128).unwrap();
        run(&vm, &p, LaunchConfig::new(2, 64), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for g in 0..128usize {
            // Index runs from class 1 page 47 (64 u32s) into class 2.
            let base = if g < 64 { c1[3008 + g] } else { c2[g - 64] };
            assert_eq!(got[g], 7 + base, "gid {g}");
        }
        let c5 = vm.read_pool::<u32>(5).unwrap();
        assert!(c5[..128].iter().all(|&x| x == 0xdead_beef));
        assert_eq!(c5[128], 0);
        let c6 = vm.read_pool::<u16>(6).unwrap();
        assert_eq!(
            &c6[..130],
            &(0..130)
                .map(|g| if g < 128 { (g % 64) as u16 } else { 0 })
                .collect::<Vec<_>>()[..]
        );
        // The pool persists across launches and is cleared on request.
        assert_eq!(vm.read_pool::<u32>(5).unwrap()[0], 0xdead_beef);
        vm.clear_pool();
        assert!(vm.read_pool::<u64>(5).unwrap().iter().all(|&x| x == 0));
    }
    assert_eq!(POOL_BYTES, 96 * POOL_CLASS_BYTES);
}

#[test]
fn global_pointers() {
    let src = "
.kernel ptrs
.param n: u32
.param a: ptr u32
.param out: ptr u64
    mov_imm.u64 r5, &a               ; a's pointer: parameter index 1 in the high half
    add.u64 r5, r5, 64               ; byte 64 = element 16
    ldg.u32 r1, [r5 - 8]             ; a[14]
    ldg.u32 r2, [r5 + 4]             ; a[17]
    mul.u64 r6, %gid, 4
    ldg.u32 r3, [r5 + r6]            ; a[16 + gid]
    add.u32 r1, r1, r2
    add.u32 r1, r1, r3
    mov_imm.u64 r7, &out
    mul.u64 r8, %gid, 8
    stg.u64 [r7 + r8], r1
    mov_imm.u64 r9, &pool
    add.u64 r9, r9, 12288            ; class 1
    stg.u32 [r9 + r6], n
    ldg.u32 r10, [r9 + 0]
    exit
";
    let p = asm(src);
    for vm in vms() {
        let a: Vec<u32> = (0..64).map(|i| i * 10).collect();
        let da = vm.alloc_from(&a).unwrap();
        let out = vm.alloc::<u64>(32).unwrap();
        run(&vm, &p, LaunchConfig::new(2, 16), &args![77u32, &da, &out]);
        let got = vm.read(&out).unwrap();
        for g in 0..32 {
            assert_eq!(got[g], (140 + 170 + (16 + g as u32) * 10) as u64);
        }
        assert!(vm.read_pool::<u32>(1).unwrap()[..32]
            .iter()
            .all(|&x| x == 77));
    }
}

#[test]
fn shared_memory_modes() {
    let src = "
.kernel sh
.param out: ptr u32
.shared 1024
    sts.u32 [shared + %lane*4], %gid
    sts.u32 [shared + 1020], 99
    bar.sync
    sub.u32 r1, %bdim, %lane
    sub.u32 r1, r1, 1
    lds.u32 r2, [shared + r1*4]          ; the mirror lane's value
    lds.u32 r3, [shared + 1020]
    mul.u32 r4, %lane, 2
    sts.u16 [shared + r4*2 + 512], %lane
    bar.sync
    lds.u16 r5, [shared + r4*2 + 512]
    add.u32 r2, r2, r3
    add.u32 r2, r2, r5
    stg.u32 [out + %gid*4], r2
    exit
";
    let p = asm(src);
    for vm in vms() {
        let (grid, block) = (4u32, 64u32);
        let out = vm.alloc::<u32>((grid * block) as usize).unwrap();
        run(&vm, &p, LaunchConfig::new(grid, block), &[Arg::from(&out)]);
        let got = vm.read(&out).unwrap();
        for g in 0..grid * block {
            let (b, l) = (g / block, g % block);
            let mirror = b * block + (block - 1 - l);
            assert_eq!(got[g as usize], mirror + 99 + l, "gid {g}");
        }
    }
}

/// Shared memory starts at zero for every block, also when the previous block (or program)
/// wrote it.
#[test]
fn shared_memory_is_zeroed_per_block() {
    let write = asm("
.kernel w
.param out: ptr u32
.shared 256
    lds.u32 r1, [shared + %lane*4]
    stg.u32 [out + %gid*4], r1
    add.u32 r2, %gid, 1
    sts.u32 [shared + %lane*4], r2
    exit
");
    let read = asm("
.kernel r
.param out: ptr u32
.shared 256
    lds.u32 r1, [shared + %lane*4]
    stg.u32 [out + %gid*4], r1
    exit
");
    for vm in vms() {
        let out = vm.alloc::<u32>(256).unwrap();
        vm.write(&out, &[5u32; 256]).unwrap();
        run(&vm, &write, LaunchConfig::new(4, 64), &[Arg::from(&out)]);
        assert!(vm.read(&out).unwrap().iter().all(|&x| x == 0));
        vm.write(&out, &[5u32; 256]).unwrap();
        run(&vm, &read, LaunchConfig::new(4, 64), &[Arg::from(&out)]);
        assert!(vm.read(&out).unwrap().iter().all(|&x| x == 0));
    }
}

/// Accesses in a divergent block take the per-lane paths.
#[test]
fn memory_in_divergent_blocks() {
    let src = "
.kernel div
.param a: ptr f64
.param out: ptr f64
    and.u32 r1, %gid, 1
    setp.eq.u32 p0, r1, 0
    @p0 bra @even
    ldg.f64 r2, [a + %gid*8]
    mul.f64 r2, r2, 3.0
    stg.f64 [out + %gid*8], r2
    exit
even:
    ldg.f64 r2, [a + %gid*8]
    neg.f64 r2, r2
    stg.f64 [out + %gid*8], r2
    exit
";
    let p = asm(src);
    for vm in vms() {
        let a: Vec<f64> = (0..500).map(|i| i as f64 * 0.25).collect();
        let da = vm.alloc_from(&a).unwrap();
        let out = vm.alloc::<f64>(500).unwrap();
        run(&vm, &p, LaunchConfig::new(5, 100), &args![&da, &out]);
        let got = vm.read(&out).unwrap();
        for (i, &x) in a.iter().enumerate() {
            assert_eq!(got[i], if i % 2 == 0 { -x } else { 3.0 * x });
        }
    }
}

#[test]
fn zero_length_buffers_and_odd_lengths() {
    let src = "
.kernel k
.param a: ptr u8
.param e: ptr u8
.param n: u32
    setp.ge.u32 p0, %gid, n
    @p0 bra @done
    ldg.u8 r1, [a + %gid*1]
    add.u8 r1, r1, 1
    stg.u8 [a + %gid*1], r1
done:
    exit
";
    let p = asm(src);
    for vm in vms() {
        let a = vm.alloc_from(&[1u8, 2, 3, 4, 5, 6, 7]).unwrap();
        let e = vm.alloc::<u8>(0).unwrap();
        run(&vm, &p, LaunchConfig::new(1, 7), &args![&a, &e, 7u32]);
        assert_eq!(vm.read(&a).unwrap(), vec![2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(vm.read(&e).unwrap(), Vec::<u8>::new());
    }
}
