//! copy and fill: exact, every element type, buffers and pool classes.

use holovm::ops::{self, Pool};
use holovm::Element;

use crate::support::*;

fn check<T: Element>(from_bits: fn(u64) -> T) {
    let mut r = Rng::new(50);
    for n in LENGTHS {
        let x: Vec<T> = (0..n).map(|_| from_bits(r.next())).collect();
        let v = from_bits(r.next());
        for (tier, vm) in tier_vms() {
            let (src, dst) = (vm.alloc_from(&x).unwrap(), vm.alloc::<T>(n).unwrap());
            ops::memory::copy(&vm, &src, &dst).unwrap();
            assert!(vm.read(&dst).unwrap() == x, "copy {} n={n} {tier}", T::TY);
            ops::memory::fill(&vm, &dst, v).unwrap();
            assert!(
                vm.read(&dst).unwrap().iter().all(|e| *e == v),
                "fill {} n={n} {tier}",
                T::TY
            );
        }
    }
    // A pool class: buffer -> class -> class -> buffer.
    for (tier, vm) in tier_vms() {
        let (p1, p2) = (Pool::<T>::new(1).unwrap(), Pool::<T>::new(2).unwrap());
        let n = 12288 / T::TY.size() as usize;
        let x: Vec<T> = (0..n).map(|_| from_bits(r.next())).collect();
        let src = vm.alloc_from(&x).unwrap();
        ops::memory::copy(&vm, &src, &p1).unwrap();
        ops::memory::copy(&vm, &p1, &p2).unwrap();
        let back = vm.alloc::<T>(n).unwrap();
        ops::memory::copy(&vm, &p2, &back).unwrap();
        assert!(vm.read(&back).unwrap() == x, "pool copy {} {tier}", T::TY);
        let v = from_bits(r.next());
        ops::memory::fill(&vm, &p1, v).unwrap();
        assert!(
            vm.read_pool::<T>(1).unwrap().iter().all(|e| *e == v),
            "pool fill {} {tier}",
            T::TY
        );
    }
}

#[test]
fn memory_every_type() {
    check::<i8>(|b| b as i8);
    check::<i16>(|b| b as i16);
    check::<i32>(|b| b as i32);
    check::<i64>(|b| b as i64);
    check::<u8>(|b| b as u8);
    check::<u16>(|b| b as u16);
    check::<u32>(|b| b as u32);
    check::<u64>(|b| b);
    // Floats from bits would include NaNs, which compare unequal: use finite values.
    check::<f32>(|b| (b as i32) as f32 / 7.0);
    check::<f64>(|b| (b as i64) as f64 / 7.0);
}
