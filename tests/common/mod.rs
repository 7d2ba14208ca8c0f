//! Helpers shared by the integration tests.
#![allow(dead_code)]

use holovm::isa::{Program, Ty};
use holovm::{Arg, Error, LaunchConfig, LaunchStats, Tier, Trap, Vm, VmConfig};

/// Assembles `src`, panicking with the diagnostics on error.
pub fn asm(src: &str) -> Program {
    match holovm::asm::assemble(src) {
        Ok(p) => p,
        Err(d) => panic!("assembly failed:\n{d}\n--- source ---\n{src}"),
    }
}

/// A single-threaded VM (deterministic, and the plain memory paths).
pub fn serial_vm() -> Vm {
    Vm::with_config(
        VmConfig::default()
            .single_thread(true)
            .tier(Tier::Interpret),
    )
}

/// A single-threaded VM that runs everything as compiled code (the JIT tier).
pub fn jit_vm() -> Vm {
    Vm::with_config(VmConfig::default().single_thread(true).tier(Tier::Jit))
}

/// A JIT-tier VM that runs every multi-block launch in parallel.
pub fn jit_parallel_vm() -> Vm {
    Vm::with_config(
        VmConfig::default()
            .parallel_threshold(0)
            .parallel_min_time(std::time::Duration::ZERO)
            .threads(2)
            .tier(Tier::Jit),
    )
}

/// Every tier and threading mode: the same test must pass on each.
pub fn all_vms() -> [Vm; 4] {
    [serial_vm(), parallel_vm(), jit_vm(), jit_parallel_vm()]
}

/// A VM that runs every multi-block launch in parallel (the atomic memory paths).
pub fn parallel_vm() -> Vm {
    Vm::with_config(
        VmConfig::default()
            .parallel_threshold(0)
            .parallel_min_time(std::time::Duration::ZERO)
            .threads(2)
            .tier(Tier::Interpret),
    )
}

/// On a [`Tier::Jit`] VM, checks that `p` was compiled: that tier falls back to the
/// interpreter when a compile fails, which would hide a JIT bug from a tier comparison.
pub fn check_compiled(vm: &Vm, p: &Program) {
    if vm.config().tier != Tier::Jit {
        return;
    }
    if let Some(e) = vm.jit_error(p) {
        panic!(
            "the JIT failed to compile ({e}):\n{}",
            holovm::asm::disassemble(p)
        );
    }
    if !vm.is_compiled(p) {
        panic!("not compiled:\n{}", holovm::asm::disassemble(p));
    }
}

/// Launches and expects a trap (on a JIT-tier VM, from compiled code).
pub fn expect_trap(vm: &Vm, p: &Program, cfg: LaunchConfig, args: &[Arg]) -> Trap {
    let result = vm.launch(p, cfg, args);
    check_compiled(vm, p);
    match result {
        Err(Error::Trap(t)) => *t,
        Err(e) => panic!("expected a trap, got error {e}"),
        Ok(s) => panic!("expected a trap, got success {s:?}"),
    }
}

/// Launches and expects success (on a JIT-tier VM, by compiled code).
pub fn run(vm: &Vm, p: &Program, cfg: LaunchConfig, args: &[Arg]) -> LaunchStats {
    let result = vm.launch(p, cfg, args);
    check_compiled(vm, p);
    match result {
        Ok(s) => {
            let tier = vm.config().tier;
            if tier != Tier::Auto && s.lanes > 0 {
                let want = tier == Tier::Jit;
                assert_eq!(s.jit, want, "`{}` ran in the wrong tier", p.name());
            }
            s
        }
        Err(e) => panic!("launch of `{}` failed: {e}", p.name()),
    }
}

/// Little-endian bytes of `bits` as `ty` values.
pub fn to_bytes(ty: Ty, bits: &[u64]) -> Vec<u8> {
    let size = ty.size() as usize;
    bits.iter()
        .flat_map(|b| b.to_le_bytes()[..size].to_vec())
        .collect()
}

/// `ty` values (zero-extended bit patterns) from little-endian bytes.
pub fn from_bytes(ty: Ty, bytes: &[u8]) -> Vec<u64> {
    let size = ty.size() as usize;
    bytes
        .chunks(size)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

/// The text of an immediate of type `ty` with bit pattern `bits`.
pub fn imm(ty: Ty, bits: u64) -> String {
    match ty {
        Ty::F32 => format!("0f{:08x}", bits as u32),
        Ty::F64 => format!("0d{bits:016x}"),
        _ => format!("{:#x}", bits & ty.mask()),
    }
}

/// Equality of two `ty` bit patterns, with all NaNs equal (docs/ISA.md: NaN payloads are
/// unspecified).
pub fn same(ty: Ty, a: u64, b: u64) -> bool {
    match ty {
        Ty::F32 => {
            let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
            (x.is_nan() && y.is_nan()) || a == b
        }
        Ty::F64 => {
            let (x, y) = (f64::from_bits(a), f64::from_bits(b));
            (x.is_nan() && y.is_nan()) || a == b
        }
        _ => a == b,
    }
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Interesting bit patterns of `ty`: edge cases plus pseudo-random values.
pub fn samples(ty: Ty, rng: &mut Rng, random: usize) -> Vec<u64> {
    let mut v: Vec<u64> = match ty {
        Ty::F32 => [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -2.5,
            3.0,
            100.25,
            -7e10,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            -f32::from_bits(0x0040_0000),
            2147483648.0,
            -2147483904.0,
            4294967296.0,
            1e20,
            255.9,
            -128.5,
            65535.7,
        ]
        .iter()
        .map(|x| x.to_bits() as u64)
        .collect(),
        Ty::F64 => [
            0.0f64,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -2.5,
            3.0,
            1e-300,
            -7e10,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            9.3e18,
            -9.3e18,
            1.8446744073709552e19,
            2147483647.9,
            -2147483648.9,
            1e40,
            255.9,
            -1e-310,
        ]
        .iter()
        .map(|x| x.to_bits())
        .collect(),
        _ => {
            let m = ty.mask();
            let min = if ty.is_signed_int() {
                1u64 << (ty.bits() - 1)
            } else {
                0
            };
            let max = if ty.is_signed_int() { min - 1 } else { m };
            vec![
                0,
                1,
                2,
                3,
                7,
                m,     // -1
                m - 1, // -2
                min,
                min.wrapping_add(1) & m,
                max,
                max.wrapping_sub(1) & m,
                ty.bits() as u64 - 1,
                ty.bits() as u64,
                ty.bits() as u64 + 1,
                100 & m,
                0x55 & m,
                0xaa & m,
            ]
        }
    };
    for _ in 0..random {
        let r = rng.next();
        v.push(match ty {
            // Mostly moderate floats, so arithmetic is not all overflow or NaN.
            Ty::F32 => ((r % 2_000_000) as f32 / 1000.0 - 1000.0).to_bits() as u64,
            Ty::F64 => ((r % 2_000_000_000) as f64 / 1e6 - 1000.0).to_bits(),
            _ => r & ty.mask(),
        });
    }
    v
}

/// `bits` with any NaN of float type `ty` replaced by the default quiet NaN (NaN sign and
/// payload are unspecified by the ISA); other values unchanged.
pub fn canonical_nan(ty: Ty, bits: u64) -> u64 {
    match ty {
        Ty::F32 if f32::from_bits(bits as u32).is_nan() => 0x7fc0_0000,
        Ty::F64 if f64::from_bits(bits).is_nan() => 0x7ff8_0000_0000_0000,
        _ => bits,
    }
}
