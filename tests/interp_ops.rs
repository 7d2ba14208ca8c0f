//! Every computational instruction, for every type, against a Rust reference written here
//! independently of the VM: arithmetic, logic, shifts, comparisons, selection, conversions,
//! transcendentals, moves and reductions, with edge cases (NaN, infinities, negative zero,
//! wrap-around, shifts >= width, CVT saturation). Each operation runs with several operand
//! shapes (distinct registers, destination aliasing a source, immediates, a scalar parameter),
//! in full blocks and in divergent (partial) blocks, with and without the AVX2 lane loops.

// Index loops over lanes read best in these tests.
#![allow(clippy::needless_range_loop)]

mod common;

use common::*;
use holovm::isa::{math, Ty};
use holovm::{Arg, LaunchConfig, Tier, Vm, VmConfig};

const BLOCK: usize = 64;

fn vms() -> [Vm; 3] {
    [
        Vm::with_config(
            VmConfig::default()
                .single_thread(true)
                .tier(Tier::Interpret),
        ),
        Vm::with_config(
            VmConfig::default()
                .single_thread(true)
                .simd(false)
                .tier(Tier::Interpret),
        ),
        Vm::with_config(VmConfig::default().single_thread(true).tier(Tier::Jit)),
    ]
}

/// Input columns `a`, `b`, `c` of type `tin`; the kernel `body` computes `r3` from `r1`, `r2`,
/// `r4` (loaded from a, b, c) and may use scalar `s`. Returns `r3` stored as `tout` and its
/// full 64-bit register image, per lane.
struct Kernel {
    tin: Ty,
    tout: Ty,
    body: String,
    /// Run the body in a divergent block: even and odd lanes at different pcs.
    partial: bool,
}

impl Kernel {
    fn new(tin: Ty, tout: Ty, body: impl Into<String>) -> Kernel {
        Kernel {
            tin,
            tout,
            body: body.into(),
            partial: false,
        }
    }

    fn source(&self) -> String {
        let (tin, tout) = (self.tin, self.tout);
        let (si, so) = (tin.size(), tout.size());
        let body = if self.partial {
            format!(
                "    and.u32 r9, %lane, 1\n    setp.eq.u32 p5, r9, 1\n    @p5 bra @odd\n{b}\n    bra @store\nodd:\n{b}\nstore:",
                b = self.body
            )
        } else {
            self.body.clone()
        };
        format!(
            ".kernel t
.param a: ptr {tin}
.param b: ptr {tin}
.param c: ptr {tin}
.param out: ptr {tout}
.param img: ptr u64
.param s: {tin}
    ldg.{tin} r1, [a + %gid*{si}]
    ldg.{tin} r2, [b + %gid*{si}]
    ldg.{tin} r4, [c + %gid*{si}]
    mov_imm.u64 r3, 0xffffffffffffffff
{body}
    stg.{tout} [out + %gid*{so}], r3
    stg.u64 [img + %gid*8], r3
    exit
"
        )
    }

    /// Runs on every VM of `vms()`; checks both give the same, and returns it.
    fn run(&self, a: &[u64], b: &[u64], c: &[u64], s: u64) -> (Vec<u64>, Vec<u64>) {
        let n = a.len();
        assert!(n.is_multiple_of(BLOCK) && b.len() == n && c.len() == n);
        let program = asm(&self.source());
        let mut result = None;
        for vm in vms() {
            let bufs: Vec<_> = [a, b, c]
                .iter()
                .map(|col| {
                    let buf = vm.alloc_any(self.tin, n).unwrap();
                    vm.write_bytes(&buf, &to_bytes(self.tin, col)).unwrap();
                    buf
                })
                .collect();
            let out = vm.alloc_any(self.tout, n).unwrap();
            let img = vm.alloc::<u64>(n).unwrap();
            let args = [
                Arg::from(bufs[0]),
                Arg::from(bufs[1]),
                Arg::from(bufs[2]),
                Arg::from(out),
                Arg::from(&img),
                Arg::Scalar {
                    ty: self.tin,
                    bits: s & self.tin.mask(),
                },
            ];
            run(
                &vm,
                &program,
                LaunchConfig::new((n / BLOCK) as u32, BLOCK as u32),
                &args,
            );
            // NaN results have an unspecified sign and payload (docs/ISA.md 5.2): compare
            // tiers by NaN-ness.
            let canon = |v: Vec<u64>| -> Vec<u64> {
                v.into_iter().map(|b| canonical_nan(self.tout, b)).collect()
            };
            let r = (
                canon(from_bytes(self.tout, &vm.read_bytes(&out).unwrap())),
                canon(vm.read(&img).unwrap()),
            );
            if let Some(prev) = &result {
                assert_eq!(
                    prev,
                    &r,
                    "simd and portable lane loops differ:\n{}",
                    self.source()
                );
            }
            result = Some(r);
        }
        result.unwrap()
    }
}

/// Pads to a multiple of the block size by repeating.
fn pad(mut v: Vec<(u64, u64, u64)>) -> Vec<(u64, u64, u64)> {
    let mut i = 0;
    while !v.len().is_multiple_of(BLOCK) {
        v.push(v[i]);
        i += 1;
    }
    v
}

/// Runs `kernel` on `cases` and compares each lane with `expect` (`None`: the case is not
/// run). The register image must be the zero-extended result.
fn check(
    kernel: &Kernel,
    cases: &[(u64, u64, u64)],
    s: u64,
    expect: &dyn Fn(u64, u64, u64) -> u64,
    what: &str,
) {
    let cases = pad(cases.to_vec());
    let col = |f: fn(&(u64, u64, u64)) -> u64| cases.iter().map(f).collect::<Vec<_>>();
    let (a, b, c) = (col(|x| x.0), col(|x| x.1), col(|x| x.2));
    let (out, img) = kernel.run(&a, &b, &c, s);
    let t = kernel.tout;
    for (i, &(x, y, z)) in cases.iter().enumerate() {
        let e = expect(x, y, z) & t.mask();
        assert!(
            same(t, out[i], e),
            "{what}: lane {i}: inputs {x:#x}, {y:#x}, {z:#x}: got {:#x}, expected {e:#x}\n{}",
            out[i],
            kernel.source()
        );
        assert!(
            same(t, img[i], e) && img[i] & !t.mask() == 0,
            "{what}: lane {i}: register image {:#x} is not the zero-extended {e:#x}",
            img[i]
        );
    }
}

// ---------------------------------------------------------------------------------------
// Reference semantics
// ---------------------------------------------------------------------------------------

fn ieee_min<T: num::F>(a: T, b: T) -> T {
    if a.nan() || b.nan() {
        T::nan_value()
    } else if a.zero() && b.zero() {
        if a.neg_sign() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

fn ieee_max<T: num::F>(a: T, b: T) -> T {
    if a.nan() || b.nan() {
        T::nan_value()
    } else if a.zero() && b.zero() {
        if a.neg_sign() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

mod num {
    pub trait F: Copy + PartialOrd {
        fn nan(self) -> bool;
        fn zero(self) -> bool;
        fn neg_sign(self) -> bool;
        fn nan_value() -> Self;
    }
    macro_rules! f {
        ($t:ty) => {
            impl F for $t {
                fn nan(self) -> bool {
                    self.is_nan()
                }
                fn zero(self) -> bool {
                    self == 0.0
                }
                fn neg_sign(self) -> bool {
                    self.is_sign_negative()
                }
                fn nan_value() -> Self {
                    <$t>::NAN
                }
            }
        };
    }
    f!(f32);
    f!(f64);
}

/// `op.ty a, b`; `None` where it traps.
fn bin_ref(ty: Ty, op: &str, a: u64, b: u64) -> Option<u64> {
    macro_rules! int {
        ($t:ty, $u:ty) => {{
            let (x, y) = (a as $u as $t, b as $u as $t);
            let amount = b as $u as u64;
            let bits = <$t>::BITS as u64;
            let r: $t = match op {
                "add" => x.wrapping_add(y),
                "sub" => x.wrapping_sub(y),
                "mul" => x.wrapping_mul(y),
                "div" => x.checked_div(y)?,
                "rem" => x.checked_rem(y)?,
                "min" => x.min(y),
                "max" => x.max(y),
                "and" => x & y,
                "or" => x | y,
                "xor" => x ^ y,
                "shl" => {
                    if amount >= bits {
                        0
                    } else {
                        x << amount
                    }
                }
                // Shifting right twice by bits-1 then 1 gives the >= width result: sign
                // copies for signed types, zero for unsigned ones.
                "shr" => {
                    if amount >= bits {
                        (x >> (bits - 1)) >> 1
                    } else {
                        x >> amount
                    }
                }
                _ => panic!("{op}"),
            };
            Some(r as $u as u64)
        }};
    }
    macro_rules! float {
        ($t:ty, $u:ty) => {{
            let (x, y) = (<$t>::from_bits(a as $u), <$t>::from_bits(b as $u));
            let r: $t = match op {
                "add" => x + y,
                "sub" => x - y,
                "mul" => x * y,
                "div" => x / y,
                "min" => ieee_min(x, y),
                "max" => ieee_max(x, y),
                _ => panic!("{op}"),
            };
            Some(r.to_bits() as u64)
        }};
    }
    match ty {
        Ty::I8 => int!(i8, u8),
        Ty::I16 => int!(i16, u16),
        Ty::I32 => int!(i32, u32),
        Ty::I64 => int!(i64, u64),
        Ty::U8 => int!(u8, u8),
        Ty::U16 => int!(u16, u16),
        Ty::U32 => int!(u32, u32),
        Ty::U64 => int!(u64, u64),
        Ty::F32 => float!(f32, u32),
        Ty::F64 => float!(f64, u64),
    }
}

fn un_ref(ty: Ty, op: &str, a: u64) -> u64 {
    macro_rules! int {
        ($t:ty, $u:ty, $abs:expr) => {{
            let x = a as $u as $t;
            let r: $t = match op {
                "abs" => $abs(x),
                "neg" => x.wrapping_neg(),
                "not" => !x,
                _ => panic!("{op}"),
            };
            r as $u as u64
        }};
    }
    macro_rules! float {
        ($t:ty, $u:ty, $exp:ident $log:ident $log2:ident $sqrt:ident $rsqrt:ident $sin:ident $cos:ident $tanh:ident $sigmoid:ident) => {{
            let x = <$t>::from_bits(a as $u);
            let r: $t = match op {
                "abs" => x.abs(),
                "neg" => -x,
                "exp" => math::$exp(x),
                "log" => math::$log(x),
                "log2" => math::$log2(x),
                "sqrt" => x.sqrt(),
                "rsqrt" => 1.0 / x.sqrt(),
                "sin" => math::$sin(x),
                "cos" => math::$cos(x),
                "tanh" => math::$tanh(x),
                "sigmoid" => math::$sigmoid(x),
                _ => panic!("{op}"),
            };
            r.to_bits() as u64
        }};
    }
    match ty {
        Ty::I8 => int!(i8, u8, |x: i8| x.wrapping_abs()),
        Ty::I16 => int!(i16, u16, |x: i16| x.wrapping_abs()),
        Ty::I32 => int!(i32, u32, |x: i32| x.wrapping_abs()),
        Ty::I64 => int!(i64, u64, |x: i64| x.wrapping_abs()),
        Ty::U8 => int!(u8, u8, |x| x),
        Ty::U16 => int!(u16, u16, |x| x),
        Ty::U32 => int!(u32, u32, |x| x),
        Ty::U64 => int!(u64, u64, |x| x),
        Ty::F32 => {
            float!(f32, u32, exp_f32 log_f32 log2_f32 sqrt_f32 rsqrt_f32 sin_f32 cos_f32 tanh_f32 sigmoid_f32)
        }
        Ty::F64 => {
            float!(f64, u64, exp_f64 log_f64 log2_f64 sqrt_f64 rsqrt_f64 sin_f64 cos_f64 tanh_f64 sigmoid_f64)
        }
    }
}

/// `cvt.to.from` as Rust `as`.
#[allow(clippy::unnecessary_cast)]
fn cvt_ref(to: Ty, from: Ty, a: u64) -> u64 {
    macro_rules! to {
        ($v:expr) => {{
            let v = $v;
            match to {
                Ty::I8 => v as i8 as u8 as u64,
                Ty::I16 => v as i16 as u16 as u64,
                Ty::I32 => v as i32 as u32 as u64,
                Ty::I64 => v as i64 as u64,
                Ty::U8 => v as u8 as u64,
                Ty::U16 => v as u16 as u64,
                Ty::U32 => v as u32 as u64,
                Ty::U64 => v as u64,
                Ty::F32 => (v as f32).to_bits() as u64,
                Ty::F64 => (v as f64).to_bits(),
            }
        }};
    }
    match from {
        Ty::I8 => to!(a as u8 as i8),
        Ty::I16 => to!(a as u16 as i16),
        Ty::I32 => to!(a as u32 as i32),
        Ty::I64 => to!(a as i64),
        Ty::U8 => to!(a as u8),
        Ty::U16 => to!(a as u16),
        Ty::U32 => to!(a as u32),
        Ty::U64 => to!(a),
        Ty::F32 => to!(f32::from_bits(a as u32)),
        Ty::F64 => to!(f64::from_bits(a)),
    }
}

fn cmp_ref(ty: Ty, cmp: &str, a: u64, b: u64) -> bool {
    macro_rules! c {
        ($x:expr, $y:expr) => {{
            let (x, y) = ($x, $y);
            match cmp {
                "eq" => x == y,
                "ne" => x != y,
                "lt" => x < y,
                "le" => x <= y,
                "gt" => x > y,
                "ge" => x >= y,
                _ => panic!("{cmp}"),
            }
        }};
    }
    match ty {
        Ty::I8 => c!(a as u8 as i8, b as u8 as i8),
        Ty::I16 => c!(a as u16 as i16, b as u16 as i16),
        Ty::I32 => c!(a as u32 as i32, b as u32 as i32),
        Ty::I64 => c!(a as i64, b as i64),
        Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64 => c!(a & ty.mask(), b & ty.mask()),
        Ty::F32 => c!(f32::from_bits(a as u32), f32::from_bits(b as u32)),
        Ty::F64 => c!(f64::from_bits(a), f64::from_bits(b)),
    }
}

fn fma_ref(ty: Ty, a: u64, b: u64, c: u64) -> u64 {
    match ty {
        Ty::F32 => {
            let f = |x: u64| f32::from_bits(x as u32);
            f(a).mul_add(f(b), f(c)).to_bits() as u64
        }
        Ty::F64 => f64::from_bits(a)
            .mul_add(f64::from_bits(b), f64::from_bits(c))
            .to_bits(),
        _ => a.wrapping_mul(b).wrapping_add(c) & ty.mask(),
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

const BINOPS: [&str; 12] = [
    "add", "sub", "mul", "div", "rem", "min", "max", "and", "or", "xor", "shl", "shr",
];

/// All pairs of the edge samples plus random pairs.
fn pairs(ty: Ty, rng: &mut Rng) -> Vec<(u64, u64, u64)> {
    let s = samples(ty, rng, 8);
    let mut v = Vec::new();
    for &x in &s {
        for &y in &s {
            v.push((x, y, 0));
        }
    }
    for _ in 0..128 {
        let r = samples(ty, rng, 2);
        v.push((r[r.len() - 2], r[r.len() - 1], 0));
    }
    v
}

#[test]
fn binary_ops_all_types_and_operand_shapes() {
    let mut rng = Rng(0x1234_5678);
    for ty in Ty::ALL {
        let all = pairs(ty, &mut rng);
        for op in BINOPS {
            if ty.is_float() && matches!(op, "rem" | "and" | "or" | "xor" | "shl" | "shr") {
                continue;
            }
            let t = ty.name();
            // Only the cases that do not trap (div/rem traps are tested in traps.rs).
            let cases: Vec<_> = all
                .iter()
                .copied()
                .filter(|&(a, b, _)| bin_ref(ty, op, a, b).is_some())
                .collect();
            let expect = |a, b, _| bin_ref(ty, op, a, b).unwrap_or(0);
            let what = format!("{op}.{t}");
            for (shape, body) in [
                ("rr", format!("    {op}.{t} r3, r1, r2")),
                ("dr", format!("    mov.{t} r3, r1\n    {op}.{t} r3, r3, r2")),
                ("rd", format!("    mov.{t} r3, r2\n    {op}.{t} r3, r1, r3")),
            ] {
                let k = Kernel::new(ty, ty, body.clone());
                check(&k, &cases, 0, &expect, &format!("{what} {shape}"));
                let k = Kernel {
                    partial: true,
                    ..Kernel::new(ty, ty, body)
                };
                check(&k, &cases, 0, &expect, &format!("{what} {shape} partial"));
            }
            // Both operands the destination: op(a, a).
            let k = Kernel::new(
                ty,
                ty,
                format!("    mov.{t} r3, r1\n    {op}.{t} r3, r3, r3"),
            );
            let same_cases: Vec<_> = cases
                .iter()
                .copied()
                .filter(|&(a, _, _)| bin_ref(ty, op, a, a).is_some())
                .collect();
            check(
                &k,
                &same_cases,
                0,
                &|a, _, _| bin_ref(ty, op, a, a).unwrap_or(0),
                &what,
            );
            // Uniform operands: an immediate on either side, and a scalar parameter.
            let s = samples(ty, &mut rng, 0);
            for &u in [s[1], s[5], s[8], s[12]].iter() {
                let i = imm(ty, u);
                let c: Vec<_> = cases
                    .iter()
                    .copied()
                    .filter(|&(a, _, _)| bin_ref(ty, op, a, u).is_some())
                    .collect();
                let k = Kernel::new(ty, ty, format!("    {op}.{t} r3, r1, {i}"));
                check(
                    &k,
                    &c,
                    0,
                    &|a, _, _| bin_ref(ty, op, a, u).unwrap_or(0),
                    &what,
                );
                let k = Kernel::new(ty, ty, format!("    {op}.{t} r3, r1, s"));
                check(
                    &k,
                    &c,
                    u,
                    &|a, _, _| bin_ref(ty, op, a, u).unwrap_or(0),
                    &what,
                );
                let c: Vec<_> = cases
                    .iter()
                    .copied()
                    .filter(|&(_, b, _)| bin_ref(ty, op, u, b).is_some())
                    .collect();
                let k = Kernel::new(ty, ty, format!("    {op}.{t} r3, {i}, r2"));
                check(
                    &k,
                    &c,
                    0,
                    &|_, b, _| bin_ref(ty, op, u, b).unwrap_or(0),
                    &what,
                );
            }
        }
    }
}

#[test]
fn unary_ops_all_types() {
    let mut rng = Rng(99);
    let float_ops = [
        "abs", "neg", "exp", "log", "log2", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
    ];
    for ty in Ty::ALL {
        let mut s = samples(ty, &mut rng, 40);
        if ty.is_float() {
            // Arguments across the transcendentals' ranges.
            for i in -40..40 {
                let x = i as f64 * 0.37;
                s.push(if ty == Ty::F32 {
                    (x as f32).to_bits() as u64
                } else {
                    x.to_bits()
                });
            }
        }
        let cases: Vec<_> = s.iter().map(|&x| (x, 0, 0)).collect();
        let t = ty.name();
        let ops: &[&str] = if ty.is_float() {
            &float_ops
        } else {
            &["abs", "neg", "not"]
        };
        for &op in ops {
            let expect = |a, _, _| un_ref(ty, op, a);
            for body in [
                format!("    {op}.{t} r3, r1"),
                format!("    mov.{t} r3, r1\n    {op}.{t} r3, r3"),
            ] {
                check(
                    &Kernel::new(ty, ty, body.clone()),
                    &cases,
                    0,
                    &expect,
                    &format!("{op}.{t}"),
                );
                let k = Kernel {
                    partial: true,
                    ..Kernel::new(ty, ty, body)
                };
                check(&k, &cases, 0, &expect, &format!("{op}.{t} partial"));
            }
            let u = s[4];
            let k = Kernel::new(ty, ty, format!("    {op}.{t} r3, {}", imm(ty, u)));
            check(
                &k,
                &cases,
                0,
                &|_, _, _| un_ref(ty, op, u),
                &format!("{op}.{t} imm"),
            );
        }
    }
}

#[test]
fn transcendental_reference_is_sane() {
    // The VM matches holovm_isa::math bit for bit (above); make sure that is the math we
    // think it is.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs().max(1.0);
    for i in -20..20 {
        let x = i as f32 * 0.31;
        assert!(close(math::exp_f32(x) as f64, (x as f64).exp()));
        assert!(close(math::tanh_f32(x) as f64, (x as f64).tanh()));
        assert!(close(math::sin_f32(x) as f64, (x as f64).sin()));
        assert!(close(
            math::sigmoid_f32(x) as f64,
            1.0 / (1.0 + (-x as f64).exp())
        ));
    }
    assert_eq!(math::log_f32(0.0), f32::NEG_INFINITY);
    assert!(math::log_f64(-1.0).is_nan());
}

#[test]
fn conversions_all_pairs() {
    let mut rng = Rng(7);
    for from in Ty::ALL {
        let s = samples(from, &mut rng, 24);
        let cases: Vec<_> = s.iter().map(|&x| (x, 0, 0)).collect();
        for to in Ty::ALL {
            let body = format!("    cvt.{to}.{from} r3, r1");
            let expect = |a, _, _| cvt_ref(to, from, a);
            let what = format!("cvt.{to}.{from}");
            check(
                &Kernel::new(from, to, body.clone()),
                &cases,
                0,
                &expect,
                &what,
            );
            let k = Kernel {
                partial: true,
                ..Kernel::new(from, to, body)
            };
            check(&k, &cases, 0, &expect, &what);
            // In place (destination = source register).
            let k = Kernel::new(
                from,
                to,
                format!("    mov.{from} r3, r1\n    cvt.{to}.{from} r3, r3"),
            );
            check(&k, &cases, 0, &expect, &what);
        }
    }
}

#[test]
fn cvt_saturates_and_maps_nan_to_zero() {
    // Spot checks written out by hand.
    assert_eq!(cvt_ref(Ty::I8, Ty::F32, 300.0f32.to_bits() as u64), 127);
    assert_eq!(cvt_ref(Ty::U8, Ty::F32, (-3.0f32).to_bits() as u64), 0);
    assert_eq!(cvt_ref(Ty::I32, Ty::F64, f64::NAN.to_bits()), 0);
    assert_eq!(cvt_ref(Ty::I64, Ty::I8, 0xff), u64::MAX);
    let k = Kernel::new(Ty::F32, Ty::I32, "    cvt.i32.f32 r3, r1");
    let cases: Vec<_> = [f32::NAN, f32::INFINITY, -1e20, 2.9, -2.9]
        .iter()
        .map(|x| (x.to_bits() as u64, 0, 0))
        .collect();
    let expect = [0i32, i32::MAX, i32::MIN, 2, -2];
    let (out, _) = k.run(
        &pad(cases.clone()).iter().map(|c| c.0).collect::<Vec<_>>(),
        &vec![0; BLOCK],
        &vec![0; BLOCK],
        0,
    );
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(out[i] as u32 as i32, *e);
    }
}

#[test]
fn comparisons_and_select() {
    let mut rng = Rng(3);
    for ty in Ty::ALL {
        let cases = pairs(ty, &mut rng);
        let t = ty.name();
        for cmp in ["eq", "ne", "lt", "le", "gt", "ge"] {
            let body = format!("    setp.{cmp}.{t} p1, r1, r2\n    sel.u32 r3, p1, 1, 0");
            let expect = |a, b, _| cmp_ref(ty, cmp, a, b) as u64;
            let what = format!("setp.{cmp}.{t}");
            check(
                &Kernel::new(ty, Ty::U32, body.clone()),
                &cases,
                0,
                &expect,
                &what,
            );
            let k = Kernel {
                partial: true,
                ..Kernel::new(ty, Ty::U32, body)
            };
            check(&k, &cases, 0, &expect, &what);
            // Against an immediate.
            let u = cases[3].1;
            let body = format!(
                "    setp.{cmp}.{t} p1, r1, {}\n    sel.u32 r3, p1, 1, 0",
                imm(ty, u)
            );
            check(
                &Kernel::new(ty, Ty::U32, body),
                &cases,
                0,
                &|a, _, _| cmp_ref(ty, cmp, a, u) as u64,
                &what,
            );
        }
        // sel.T picks per lane, with the destination aliasing either source.
        let pick = |a, b, _| if cmp_ref(ty, "lt", a, b) { a } else { b };
        for body in [
            format!("    setp.lt.{t} p2, r1, r2\n    sel.{t} r3, p2, r1, r2"),
            format!("    setp.lt.{t} p2, r1, r2\n    mov.{t} r3, r1\n    sel.{t} r3, p2, r3, r2"),
            format!("    setp.lt.{t} p2, r1, r2\n    mov.{t} r3, r2\n    sel.{t} r3, p2, r1, r3"),
        ] {
            check(
                &Kernel::new(ty, ty, body.clone()),
                &cases,
                0,
                &pick,
                &format!("sel.{t}"),
            );
            let k = Kernel {
                partial: true,
                ..Kernel::new(ty, ty, body)
            };
            check(&k, &cases, 0, &pick, &format!("sel.{t} partial"));
        }
        let u = cases[2].0;
        let body = format!(
            "    setp.lt.{t} p2, r1, r2\n    sel.{t} r3, p2, {}, r2",
            imm(ty, u)
        );
        check(
            &Kernel::new(ty, ty, body),
            &cases,
            0,
            &|a, b, _| if cmp_ref(ty, "lt", a, b) { u } else { b },
            "sel imm",
        );
    }
}

#[test]
fn comparisons_of_special_floats() {
    let nan = f32::NAN.to_bits() as u64;
    let (pz, nz) = (0.0f32.to_bits() as u64, (-0.0f32).to_bits() as u64);
    assert!(!cmp_ref(Ty::F32, "eq", nan, nan));
    assert!(cmp_ref(Ty::F32, "ne", nan, nan));
    assert!(cmp_ref(Ty::F32, "eq", pz, nz));
    assert!(!cmp_ref(Ty::F32, "lt", nz, pz));
    let min = ieee_min(0.0f32, -0.0);
    assert!(min == 0.0 && min.is_sign_negative());
}

#[test]
fn fma_all_types() {
    let mut rng = Rng(11);
    for ty in Ty::ALL {
        let s = samples(ty, &mut rng, 16);
        let mut cases = Vec::new();
        for (i, &x) in s.iter().enumerate() {
            for (j, &y) in s.iter().enumerate().step_by(3) {
                cases.push((x, y, s[(i + j) % s.len()]));
            }
        }
        let t = ty.name();
        let expect = |a, b, c| fma_ref(ty, a, b, c);
        for body in [
            format!("    fma.{t} r3, r1, r2, r4"),
            format!("    mov.{t} r3, r4\n    fma.{t} r3, r1, r2, r3"),
            format!("    mov.{t} r3, r1\n    fma.{t} r3, r3, r2, r4"),
        ] {
            check(
                &Kernel::new(ty, ty, body.clone()),
                &cases,
                0,
                &expect,
                &format!("fma.{t}"),
            );
            let k = Kernel {
                partial: true,
                ..Kernel::new(ty, ty, body)
            };
            check(&k, &cases, 0, &expect, &format!("fma.{t} partial"));
        }
        let u = s[2];
        let k = Kernel::new(ty, ty, format!("    fma.{t} r3, r1, {}, r4", imm(ty, u)));
        check(
            &k,
            &cases,
            0,
            &|a, _, c| fma_ref(ty, a, u, c),
            &format!("fma.{t} imm"),
        );
    }
    // One rounding: x*x - round(x*x) is the rounding error (2^-46) only when fused.
    let x = 1.0f32 + f32::EPSILON;
    let rounded = x * x;
    assert_eq!(x.mul_add(x, -rounded), f32::EPSILON * f32::EPSILON);
    let k = Kernel::new(
        Ty::F32,
        Ty::F32,
        "    mul.f32 r4, r1, r1
    neg.f32 r4, r4
    fma.f32 r3, r1, r1, r4",
    );
    check(
        &k,
        &[(x.to_bits() as u64, 0, 0)],
        0,
        &|_, _, _| (f32::EPSILON * f32::EPSILON).to_bits() as u64,
        "fused",
    );
}

#[test]
fn mov_truncates_and_zero_extends() {
    let mut rng = Rng(5);
    let s = samples(Ty::U64, &mut rng, 32);
    let cases: Vec<_> = s.iter().map(|&x| (x, 0, 0)).collect();
    for ty in Ty::ALL {
        let t = ty.name();
        // Read a full 64-bit register as `ty`: the low bits, zero-extended.
        let k = Kernel::new(Ty::U64, Ty::U64, format!("    mov.{t} r3, r1"));
        check(&k, &cases, 0, &|a, _, _| a & ty.mask(), &format!("mov.{t}"));
        let k = Kernel::new(
            Ty::U64,
            Ty::U64,
            format!("    mov.u64 r3, r1\n    mov.{t} r3, r3"),
        );
        check(
            &k,
            &cases,
            0,
            &|a, _, _| a & ty.mask(),
            &format!("mov.{t} in place"),
        );
        let k = Kernel {
            partial: true,
            ..Kernel::new(Ty::U64, Ty::U64, format!("    mov.{t} r3, r1"))
        };
        check(
            &k,
            &cases,
            0,
            &|a, _, _| a & ty.mask(),
            &format!("mov.{t} partial"),
        );
    }
    // The doc's example: mov.i32 -1 then add.i64 0 gives 4294967295.
    let k = Kernel::new(
        Ty::I64,
        Ty::I64,
        "    mov.i32 r3, -1\n    add.i64 r3, r3, 0",
    );
    check(&k, &[(0, 0, 0)], 0, &|_, _, _| 4294967295, "mov.i32 -1");
    // Narrow ops after wide ones clear the high half; wide ops see it.
    let k = Kernel::new(
        Ty::U64,
        Ty::U64,
        "    mov.u64 r3, r1\n    add.u8 r3, r3, 1\n    add.u64 r3, r3, 0",
    );
    check(
        &k,
        &cases,
        0,
        &|a, _, _| (a as u8).wrapping_add(1) as u64,
        "add.u8 after wide",
    );
}

#[test]
fn special_registers() {
    let src = "
.kernel specials
.param out: ptr u64
    mul.u64 r1, %gid, 5
    mov.u64 r2, %lane
    stg.u64 [out + r1*8], r2
    add.u64 r1, r1, 1
    mov.u64 r2, %block
    stg.u64 [out + r1*8], r2
    add.u64 r1, r1, 1
    mov.u16 r2, %bdim
    stg.u64 [out + r1*8], r2
    add.u64 r1, r1, 1
    add.u32 r2, %gdim, 0
    stg.u64 [out + r1*8], r2
    add.u64 r1, r1, 1
    mov.u8 r2, %gid
    stg.u64 [out + r1*8], r2
    exit
";
    let p = asm(src);
    for vm in all_vms() {
        let (grid, block) = (3u64, 300u64);
        let out = vm.alloc::<u64>((grid * block * 5) as usize).unwrap();
        run(
            &vm,
            &p,
            LaunchConfig::new(grid as u32, block as u32),
            &[Arg::from(&out)],
        );
        let v = vm.read(&out).unwrap();
        for gid in 0..grid * block {
            let r = &v[gid as usize * 5..][..5];
            assert_eq!(
                r,
                [gid % block, gid / block, block, grid, gid & 0xff],
                "gid {gid}"
            );
        }
    }
}

#[test]
fn reductions() {
    let mut rng = Rng(21);
    for ty in Ty::ALL {
        let t = ty.name();
        for op in ["add", "min", "max", "mul"] {
            for block in [1usize, 7, 64, 100] {
                let vals = samples(ty, &mut rng, block);
                let vals: Vec<u64> = vals[vals.len() - block..].to_vec();
                // Lanes with %lane % 3 == 1 exit first: only live lanes take part.
                let src = format!(
                    ".kernel r
.param x: ptr {t}
.param out: ptr {t}
    rem.u32 r5, %lane, 3
    setp.eq.u32 p0, r5, 1
    @p0 bra @gone
    ldg.{t} r1, [x + %lane*{s}]
    reduce.{op}.{t} r2, r1
    stg.{t} [out + %lane*{s}], r2
gone:
    exit
",
                    s = ty.size()
                );
                let p = asm(&src);
                let vm = serial_vm();
                let x = vm.alloc_any(ty, block).unwrap();
                vm.write_bytes(&x, &to_bytes(ty, &vals)).unwrap();
                let out = vm.alloc_any(ty, block).unwrap();
                run(
                    &vm,
                    &p,
                    LaunchConfig::new(1, block as u32),
                    &[Arg::from(x), Arg::from(out)],
                );
                let got = from_bytes(ty, &vm.read_bytes(&out).unwrap());
                let live: Vec<usize> = (0..block).filter(|l| l % 3 != 1).collect();
                let mut acc = vals[live[0]];
                for &l in &live[1..] {
                    acc = bin_ref(ty, op, acc, vals[l]).unwrap_or(0);
                }
                for l in 0..block {
                    let e = if l % 3 == 1 { 0 } else { acc };
                    assert!(
                        same(ty, got[l], e),
                        "reduce.{op}.{t} block {block} lane {l}: {:#x} vs {e:#x}",
                        got[l]
                    );
                }
            }
        }
    }
}

#[test]
fn reduce_folds_in_lane_order() {
    // Float addition is not associative: 1e8 + 1 - 1e8 in lane order is 0 in f32.
    let src = "
.kernel order
.param x: ptr f32
.param out: ptr f32
    ldg.f32 r1, [x + %lane*4]
    reduce.add.f32 r2, r1
    stg.f32 [out + %lane*4], r2
    exit
";
    let vm = serial_vm();
    let x = vm.alloc_from(&[1e8f32, 1.0, -1e8, 1.0]).unwrap();
    let out = vm.alloc::<f32>(4).unwrap();
    run(
        &vm,
        &asm(src),
        LaunchConfig::new(1, 4),
        &[Arg::from(&x), Arg::from(&out)],
    );
    assert_eq!(vm.read(&out).unwrap(), vec![1.0; 4]);
}

#[test]
fn reduce_nan_results_are_the_default_nan_in_every_tier() {
    // NaNs with different payloads (the bit patterns of -1, -2, ...; the first lane's value
    // is 0.0), folded by each op in 8 and 40 lanes (the JIT's resolver folds min/max in
    // any order): the result's bits, stored as an integer, are the default NaN's.
    for (t, it, default) in [
        ("f32", "u32", u64::from(f32::NAN.to_bits())),
        ("f64", "u64", f64::NAN.to_bits()),
    ] {
        for op in ["add", "min", "max", "mul"] {
            let src = format!(
                ".kernel nans\n.param out: ptr {it}\n    mov.u32 r3, %lane\n    \
                 sub.i64 r2, r1, r3\n    reduce.{op}.{t} r4, r2\n    \
                 stg.{it} [out + %lane*{}], r4\n    exit\n",
                if t == "f32" { 4 } else { 8 }
            );
            for lanes in [8u32, 40] {
                for vm in vms() {
                    let out = vm
                        .alloc_any(Ty::from_name(it).unwrap(), lanes as usize)
                        .unwrap();
                    run(
                        &vm,
                        &asm(&src),
                        LaunchConfig::new(1, lanes),
                        &[Arg::Buffer(out)],
                    );
                    let bytes = vm.read_bytes(&out).unwrap();
                    let size = if t == "f32" { 4 } else { 8 };
                    for c in bytes.chunks(size) {
                        let mut w = [0u8; 8];
                        w[..size].copy_from_slice(c);
                        assert_eq!(u64::from_le_bytes(w), default, "{op}.{t} {lanes}");
                    }
                }
            }
        }
    }
}
