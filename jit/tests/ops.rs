#![allow(clippy::needless_range_loop, clippy::approx_constant)]
//! Every value operation over every type, checked against Rust reference semantics, under
//! every strategy (vector G=4/8/16 and scalar), with lane counts that are not multiples of
//! the vector width.
mod common;
use common::*;
use holovm_isa::{math, BinOp, Cmp, RedOp, Ty, UnOp};
use holovm_jit::{JitOptions, Strategy};

const ALL_TYPES: [Ty; 10] = Ty::ALL;

fn sext(ty: Ty, bits: u64) -> i64 {
    let sh = 64 - ty.bits();
    ((bits << sh) as i64) >> sh
}

/// Interesting values of a type, as canonical bits.
fn values(ty: Ty) -> Vec<u64> {
    let m = ty.mask();
    match ty {
        Ty::F32 => [
            0.0f32,
            -0.0,
            1.0,
            -1.5,
            2.5,
            3.0,
            1e-40,
            -7.25,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e30,
            0.1,
            -100.0,
        ]
        .iter()
        .map(|x| x.to_bits() as u64)
        .collect(),
        Ty::F64 => [
            0.0f64,
            -0.0,
            1.0,
            -1.5,
            2.5,
            3.0,
            1e-310,
            -7.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e300,
            0.1,
            -100.0,
        ]
        .iter()
        .map(|x| x.to_bits())
        .collect(),
        _ => {
            let half = m >> 1;
            let mut v = vec![
                0,
                1,
                2,
                3,
                7,
                m,
                m - 1,
                half,
                half + 1,
                5 & m,
                (m / 3) & m,
                31,
                32,
                64,
                65,
            ];
            v.iter_mut().for_each(|x| *x &= m);
            v
        }
    }
}

fn to_bytes(ty: Ty, vals: &[u64]) -> Vec<u8> {
    vals.iter()
        .flat_map(|v| v.to_le_bytes()[..ty.size() as usize].to_vec())
        .collect()
}

fn from_bytes(ty: Ty, b: &[u8]) -> Vec<u64> {
    b.chunks_exact(ty.size() as usize)
        .map(|c| {
            let mut x = [0u8; 8];
            x[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(x)
        })
        .collect()
}

fn is_nan(ty: Ty, bits: u64) -> bool {
    match ty {
        Ty::F32 => f32::from_bits(bits as u32).is_nan(),
        Ty::F64 => f64::from_bits(bits).is_nan(),
        _ => false,
    }
}

/// Same value (floats: NaN-ness only).
fn same(ty: Ty, a: u64, b: u64) -> bool {
    if ty.is_float() && is_nan(ty, a) {
        return is_nan(ty, b);
    }
    a == b
}

fn fop32(op: BinOp, a: f32, b: f32) -> f32 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Min | BinOp::Max => {
            if a.is_nan() || b.is_nan() {
                f32::NAN
            } else if a == b {
                // -0.0 < +0.0
                let neg = (a.is_sign_negative(), b.is_sign_negative());
                match (op, neg) {
                    (BinOp::Min, (true, _)) | (BinOp::Max, (false, _)) => a,
                    _ => b,
                }
            } else if (op == BinOp::Min) == (a < b) {
                a
            } else {
                b
            }
        }
        _ => unreachable!(),
    }
}

fn fop64(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Min | BinOp::Max => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if a == b {
                let neg = (a.is_sign_negative(), b.is_sign_negative());
                match (op, neg) {
                    (BinOp::Min, (true, _)) | (BinOp::Max, (false, _)) => a,
                    _ => b,
                }
            } else if (op == BinOp::Min) == (a < b) {
                a
            } else {
                b
            }
        }
        _ => unreachable!(),
    }
}

/// Reference `op.ty a, b`; `None` when it traps.
fn ref_bin(op: BinOp, ty: Ty, a: u64, b: u64) -> Option<u64> {
    if ty == Ty::F32 {
        return Some(
            fop32(op, f32::from_bits(a as u32), f32::from_bits(b as u32)).to_bits() as u64,
        );
    }
    if ty == Ty::F64 {
        return Some(fop64(op, f64::from_bits(a), f64::from_bits(b)).to_bits());
    }
    let bits = ty.bits();
    let s = ty.is_signed_int();
    let (sa, sb) = (sext(ty, a) as i128, sext(ty, b) as i128);
    let (ua, ub) = (a as i128, b as i128);
    let (x, y) = if s { (sa, sb) } else { (ua, ub) };
    let min = -(1i128 << (bits - 1));
    let r: i128 = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x.wrapping_mul(y),
        BinOp::Div | BinOp::Rem => {
            if y == 0 || (s && x == min && y == -1) {
                return None;
            }
            if op == BinOp::Div {
                x / y
            } else {
                x % y
            }
        }
        BinOp::Min => x.min(y),
        BinOp::Max => x.max(y),
        BinOp::And => x & y,
        BinOp::Or => x | y,
        BinOp::Xor => x ^ y,
        BinOp::Shl => {
            if b >= bits as u64 {
                0
            } else {
                ua << b
            }
        }
        BinOp::Shr => {
            if b >= bits as u64 {
                if s && sa < 0 {
                    -1
                } else {
                    0
                }
            } else if s {
                sa >> b
            } else {
                ua >> b
            }
        }
    };
    Some(ty.canon(r as u64))
}

fn bin_program(op: BinOp, ty: Ty) -> holovm_isa::Program {
    asm(&format!(
        ".kernel t\n.param a: ptr {ty}\n.param b: ptr {ty}\n.param c: ptr {ty}\n.param n: u32\n\
         setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
         mov.u64 r9, %gid\n\
         ldg.{ty} r1, [a + r9*{s}]\nldg.{ty} r2, [b + %gid*{s}]\n\
         {op}.{ty} r3, r1, r2\nstg.{ty} [c + %gid*{s}], r3\ndone:\nexit\n",
        op = op.name(),
        s = ty.size()
    ))
}

#[test]
fn binary_ops_all_types() {
    for ty in ALL_TYPES {
        for op in BinOp::ALL {
            if ty.is_float() && op.int_only() {
                continue;
            }
            let vals = values(ty);
            let mut pairs = Vec::new();
            for &a in &vals {
                for &b in &vals {
                    if ref_bin(op, ty, a, b).is_some() {
                        pairs.push((a, b));
                    }
                }
            }
            let n = pairs.len();
            let av: Vec<u64> = pairs.iter().map(|p| p.0).collect();
            let bv: Vec<u64> = pairs.iter().map(|p| p.1).collect();
            let p = bin_program(op, ty);
            let out = run_all(
                &p,
                (n as u32).div_ceil(24),
                24,
                &[
                    Arg::Buf(to_bytes(ty, &av)),
                    Arg::Buf(to_bytes(ty, &bv)),
                    Arg::Buf(vec![0; n * ty.size() as usize]),
                    Arg::Scalar(n as u64),
                ],
            );
            assert_eq!(out.trap.kind, 0, "{op:?} {ty}: {:?}", out.trap);
            let got = from_bytes(ty, out.buf(2));
            for i in 0..n {
                let want = ref_bin(op, ty, av[i], bv[i]).unwrap();
                assert!(
                    same(ty, want, got[i]),
                    "{}.{ty} {:#x} {:#x}: want {want:#x} got {:#x}",
                    op.name(),
                    av[i],
                    bv[i],
                    got[i]
                );
            }
        }
    }
}

/// Runs `body` (an instruction computing `r3` from `r1`) over `vals` in every JIT strategy,
/// one value a lane in blocks of `block`: buffer 1 of the result holds the `r3`s.
fn run_elementwise(ty: Ty, body: &str, vals: &[u64], block: u32) -> Out {
    let n = vals.len();
    let p = asm(&format!(
        ".kernel t\n.param a: ptr {ty}\n.param c: ptr {ty}\n.param n: u32\n\
         setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
         ldg.{ty} r1, [a + %gid*{s}]\n{body}\nstg.{ty} [c + %gid*{s}], r3\ndone:\nexit\n",
        s = ty.size()
    ));
    run_all(
        &p,
        (n as u32).div_ceil(block),
        block,
        &[
            Arg::Buf(to_bytes(ty, vals)),
            Arg::Buf(vec![0; n * ty.size() as usize]),
            Arg::Scalar(n as u64),
        ],
    )
}

/// Shifts by immediate amounts, below the type's width and at or past it (all bits shifted
/// out; a signed `shr` fills with the sign): the JIT decides those at compile time.
#[test]
fn shifts_by_immediates() {
    for ty in ALL_TYPES.into_iter().filter(|t| !t.is_float()) {
        let bits = ty.bits() as u64;
        for op in [BinOp::Shl, BinOp::Shr] {
            for amt in [0, 1, bits - 1, bits, bits + 8] {
                let vals = values(ty);
                let body = format!("{}.{ty} r3, r1, {amt}", op.name());
                let out = run_elementwise(ty, &body, &vals, 24);
                assert_eq!(out.trap.kind, 0, "{op:?} {ty} {amt}: {:?}", out.trap);
                let got = from_bytes(ty, out.buf(1));
                for (i, &a) in vals.iter().enumerate() {
                    let want = ref_bin(op, ty, a, amt).unwrap();
                    assert_eq!(want, got[i], "{}.{ty} {a:#x}, {amt}", op.name());
                }
            }
        }
    }
}

fn ref_un(op: UnOp, ty: Ty, a: u64) -> u64 {
    match ty {
        Ty::F32 => {
            let x = f32::from_bits(a as u32);
            let r = match op {
                UnOp::Abs => x.abs(),
                UnOp::Neg => -x,
                UnOp::Sqrt => x.sqrt(),
                UnOp::Rsqrt => math::rsqrt_f32(x),
                UnOp::Exp => math::exp_f32(x),
                UnOp::Log => math::log_f32(x),
                UnOp::Log2 => math::log2_f32(x),
                UnOp::Sin => math::sin_f32(x),
                UnOp::Cos => math::cos_f32(x),
                UnOp::Tanh => math::tanh_f32(x),
                UnOp::Sigmoid => math::sigmoid_f32(x),
                UnOp::Not => unreachable!(),
            };
            r.to_bits() as u64
        }
        Ty::F64 => {
            let x = f64::from_bits(a);
            let r = match op {
                UnOp::Abs => x.abs(),
                UnOp::Neg => -x,
                UnOp::Sqrt => x.sqrt(),
                UnOp::Rsqrt => math::rsqrt_f64(x),
                UnOp::Exp => math::exp_f64(x),
                UnOp::Log => math::log_f64(x),
                UnOp::Log2 => math::log2_f64(x),
                UnOp::Sin => math::sin_f64(x),
                UnOp::Cos => math::cos_f64(x),
                UnOp::Tanh => math::tanh_f64(x),
                UnOp::Sigmoid => math::sigmoid_f64(x),
                UnOp::Not => unreachable!(),
            };
            r.to_bits()
        }
        _ => {
            let r = match op {
                UnOp::Abs if ty.is_signed_int() => sext(ty, a).wrapping_abs() as u64,
                UnOp::Abs => a,
                UnOp::Neg => a.wrapping_neg(),
                UnOp::Not => !a,
                _ => unreachable!(),
            };
            ty.canon(r)
        }
    }
}

/// Many inputs for the transcendental functions, including edge cases.
fn float_inputs(ty: Ty) -> Vec<u64> {
    let mut v: Vec<f64> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        2.0,
        10.0,
        -10.0,
        88.0,
        89.5,
        -103.0,
        -105.0,
        709.0,
        711.0,
        -745.0,
        -750.0,
        1e-300,
        1e-40,
        1e-45,
        3.14159,
        -3.14159,
        1.5707963,
        1e6,
        1e20,
        -1e20,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        0.7071,
        1.4142,
        20.0,
        -20.0,
        9.9,
        0.001,
    ];
    let mut s = 12345u64;
    for _ in 0..300 {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        v.push((u - 0.5) * 60.0);
        v.push(u * 1000.0);
        v.push(((u - 0.5) * 1400.0).exp2() * 1e-3);
    }
    v.iter()
        .map(|&x| {
            if ty == Ty::F32 {
                (x as f32).to_bits() as u64
            } else {
                x.to_bits()
            }
        })
        .collect()
}

#[test]
fn unary_ops_all_types() {
    for ty in ALL_TYPES {
        for op in UnOp::ALL {
            if (ty.is_float() && op.int_only()) || (ty.is_int() && op.float_only()) {
                continue;
            }
            let vals = if ty.is_float() {
                float_inputs(ty)
            } else {
                values(ty)
            };
            let out = run_elementwise(ty, &format!("{}.{ty} r3, r1", op.name()), &vals, 40);
            check_unary(op, ty, &vals, &out);
        }
    }
}

/// `out` ran `op` over `vals` (its second buffer) without a trap, as the reference does.
fn check_unary(op: UnOp, ty: Ty, vals: &[u64], out: &Out) {
    assert_eq!(out.trap.kind, 0);
    let got = from_bytes(ty, out.buf(1));
    for (&v, &g) in vals.iter().zip(&got) {
        let want = ref_un(op, ty, v);
        assert!(
            same(ty, want, g),
            "{}.{ty} {v:#x}: want {want:#x} got {g:#x}",
            op.name(),
        );
    }
}

/// Inputs spread over the whole bit space: every sign and exponent, NaNs, infinities,
/// subnormals (f32: 2^18 patterns at a stride of 16411; f64: 2^16 random patterns and as
/// many finite values in -800..800, where the functions change regime).
fn bit_sweep(ty: Ty) -> Vec<u64> {
    if ty == Ty::F32 {
        return (0u32..1 << 18)
            .map(|i| i.wrapping_mul(16411) as u64)
            .collect();
    }
    let mut s = 99u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s
    };
    (0..1 << 16)
        .flat_map(|_| {
            let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
            [next(), ((u - 0.5) * 1600.0).to_bits()]
        })
        .collect()
}

/// The JIT's transcendentals (whose vector and scalar code leave out steps that cannot
/// change the result, see jit/src/math.rs) agree bit for bit with the reference functions
/// on inputs across the whole bit space, under every strategy.
#[test]
fn transcendentals_match_the_reference_across_the_bit_space() {
    for ty in [Ty::F32, Ty::F64] {
        let vals = bit_sweep(ty);
        let n = vals.len();
        for op in UnOp::ALL
            .into_iter()
            .filter(|op| op.float_only() && !matches!(op, UnOp::Sqrt | UnOp::Rsqrt))
        {
            let p = asm(&format!(
                ".kernel t\n.param a: ptr {ty}\n.param c: ptr {ty}\n\
                 ldg.{ty} r1, [a + %gid*{s}]\n{op}.{ty} r3, r1\nstg.{ty} [c + %gid*{s}], r3\nexit\n",
                op = op.name(),
                s = ty.size()
            ));
            let out = run_all(
                &p,
                n as u32 / 256,
                256,
                &[
                    Arg::Buf(to_bytes(ty, &vals)),
                    Arg::Buf(vec![0; n * ty.size() as usize]),
                ],
            );
            check_unary(op, ty, &vals, &out);
        }
    }
}

fn ref_cmp(cmp: Cmp, ty: Ty, a: u64, b: u64) -> bool {
    use std::cmp::Ordering::*;
    let ord = match ty {
        Ty::F32 => f32::from_bits(a as u32).partial_cmp(&f32::from_bits(b as u32)),
        Ty::F64 => f64::from_bits(a).partial_cmp(&f64::from_bits(b)),
        _ if ty.is_signed_int() => Some(sext(ty, a).cmp(&sext(ty, b))),
        _ => Some(a.cmp(&b)),
    };
    match (cmp, ord) {
        (Cmp::Ne, None) => true,
        (_, None) => false,
        (Cmp::Eq, Some(o)) => o == Equal,
        (Cmp::Ne, Some(o)) => o != Equal,
        (Cmp::Lt, Some(o)) => o == Less,
        (Cmp::Le, Some(o)) => o != Greater,
        (Cmp::Gt, Some(o)) => o == Greater,
        (Cmp::Ge, Some(o)) => o != Less,
    }
}

#[test]
fn setp_and_sel_all_types() {
    for ty in ALL_TYPES {
        for cmp in Cmp::ALL {
            let vals = values(ty);
            let mut av = Vec::new();
            let mut bv = Vec::new();
            for &a in &vals {
                for &b in &vals {
                    av.push(a);
                    bv.push(b);
                }
            }
            let n = av.len();
            // sel picks a where the compare holds, else b; also a fma-free second use.
            let p = asm(&format!(
                ".kernel t\n.param a: ptr {ty}\n.param b: ptr {ty}\n.param c: ptr {ty}\n.param n: u32\n\
                 setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
                 ldg.{ty} r1, [a + %gid*{s}]\nldg.{ty} r2, [b + %gid*{s}]\n\
                 setp.{c}.{ty} p1, r1, r2\nsel.{ty} r3, p1, r1, r2\nstg.{ty} [c + %gid*{s}], r3\ndone:\nexit\n",
                c = cmp.name(),
                s = ty.size()
            ));
            let out = run_all(
                &p,
                (n as u32).div_ceil(32),
                32,
                &[
                    Arg::Buf(to_bytes(ty, &av)),
                    Arg::Buf(to_bytes(ty, &bv)),
                    Arg::Buf(vec![0; n * ty.size() as usize]),
                    Arg::Scalar(n as u64),
                ],
            );
            let got = from_bytes(ty, out.buf(2));
            for i in 0..n {
                let want = if ref_cmp(cmp, ty, av[i], bv[i]) {
                    av[i]
                } else {
                    bv[i]
                };
                assert_eq!(
                    got[i],
                    want,
                    "setp.{}.{ty} {:#x} {:#x}",
                    cmp.name(),
                    av[i],
                    bv[i]
                );
            }
        }
    }
}

/// Rust `as` between any two types, on canonical bits.
fn ref_cvt(to: Ty, from: Ty, a: u64) -> u64 {
    macro_rules! from_val {
        ($t:ty) => {{
            let x: $t = match from {
                Ty::I8 => a as u8 as i8 as $t,
                Ty::I16 => a as u16 as i16 as $t,
                Ty::I32 => a as u32 as i32 as $t,
                Ty::I64 => a as i64 as $t,
                Ty::U8 => a as u8 as $t,
                Ty::U16 => a as u16 as $t,
                Ty::U32 => a as u32 as $t,
                Ty::U64 => a as $t,
                Ty::F32 => f32::from_bits(a as u32) as $t,
                Ty::F64 => f64::from_bits(a) as $t,
            };
            x
        }};
    }
    let r = match to {
        Ty::I8 => from_val!(i8) as u8 as u64,
        Ty::I16 => from_val!(i16) as u16 as u64,
        Ty::I32 => from_val!(i32) as u32 as u64,
        Ty::I64 => from_val!(i64) as u64,
        Ty::U8 => from_val!(u8) as u64,
        Ty::U16 => from_val!(u16) as u64,
        Ty::U32 => from_val!(u32) as u64,
        Ty::U64 => from_val!(u64),
        Ty::F32 => from_val!(f32).to_bits() as u64,
        Ty::F64 => from_val!(f64).to_bits(),
    };
    to.canon(r)
}

#[test]
fn cvt_all_pairs() {
    for from in ALL_TYPES {
        for to in ALL_TYPES {
            let mut vals = values(from);
            if from.is_float() {
                let extra: Vec<f64> = vec![
                    1e10,
                    -1e10,
                    255.9,
                    256.0,
                    -128.5,
                    -129.0,
                    65535.5,
                    2147483647.0,
                    4294967296.0,
                    -2147483649.0,
                    9.3e18,
                    1.9e19,
                    -9.3e18,
                ];
                for x in extra {
                    vals.push(if from == Ty::F32 {
                        (x as f32).to_bits() as u64
                    } else {
                        x.to_bits()
                    });
                }
            }
            let n = vals.len();
            let p = asm(&format!(
                ".kernel t\n.param a: ptr {from}\n.param c: ptr {to}\n.param n: u32\n\
                 setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
                 ldg.{from} r1, [a + %gid*{fs}]\ncvt.{to}.{from} r3, r1\nstg.{to} [c + %gid*{ts}], r3\ndone:\nexit\n",
                fs = from.size(),
                ts = to.size()
            ));
            let out = run_all(
                &p,
                (n as u32).div_ceil(16),
                16,
                &[
                    Arg::Buf(to_bytes(from, &vals)),
                    Arg::Buf(vec![0; n * to.size() as usize]),
                    Arg::Scalar(n as u64),
                ],
            );
            let got = from_bytes(to, out.buf(1));
            for i in 0..n {
                let want = ref_cvt(to, from, vals[i]);
                assert!(
                    same(to, want, got[i]),
                    "cvt.{to}.{from} {:#x}: want {want:#x} got {:#x}",
                    vals[i],
                    got[i]
                );
            }
        }
    }
}

#[test]
fn fma_all_types() {
    for ty in ALL_TYPES {
        let vals = values(ty);
        let mut av = Vec::new();
        let mut bv = Vec::new();
        let mut cv = Vec::new();
        for (i, &a) in vals.iter().enumerate() {
            for (j, &b) in vals.iter().enumerate() {
                av.push(a);
                bv.push(b);
                cv.push(vals[(i + j) % vals.len()]);
            }
        }
        let n = av.len();
        let p = asm(&format!(
            ".kernel t\n.param a: ptr {ty}\n.param b: ptr {ty}\n.param c: ptr {ty}\n.param d: ptr {ty}\n.param n: u32\n\
             setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
             ldg.{ty} r1, [a + %gid*{s}]\nldg.{ty} r2, [b + %gid*{s}]\nldg.{ty} r3, [c + %gid*{s}]\n\
             fma.{ty} r4, r1, r2, r3\nstg.{ty} [d + %gid*{s}], r4\ndone:\nexit\n",
            s = ty.size()
        ));
        let out = run_all(
            &p,
            (n as u32).div_ceil(64),
            64,
            &[
                Arg::Buf(to_bytes(ty, &av)),
                Arg::Buf(to_bytes(ty, &bv)),
                Arg::Buf(to_bytes(ty, &cv)),
                Arg::Buf(vec![0; n * ty.size() as usize]),
                Arg::Scalar(n as u64),
            ],
        );
        let got = from_bytes(ty, out.buf(3));
        for i in 0..n {
            let want = match ty {
                Ty::F32 => f32::from_bits(av[i] as u32)
                    .mul_add(f32::from_bits(bv[i] as u32), f32::from_bits(cv[i] as u32))
                    .to_bits() as u64,
                Ty::F64 => f64::from_bits(av[i])
                    .mul_add(f64::from_bits(bv[i]), f64::from_bits(cv[i]))
                    .to_bits(),
                _ => ty.canon(av[i].wrapping_mul(bv[i]).wrapping_add(cv[i])),
            };
            assert!(
                same(ty, want, got[i]),
                "fma.{ty} {:#x} {:#x} {:#x}: want {want:#x} got {:#x}",
                av[i],
                bv[i],
                cv[i],
                got[i]
            );
        }
    }
}

#[test]
fn immediates_params_and_specials() {
    // Uniform operands (immediates, scalar params, %block/%bdim/%gdim) mixed with per-lane
    // values; typed reads of 64-bit storage see the low bits (zero-extended writes).
    let p = asm(".kernel t\n.param c: ptr u64\n.param k: u32\n\
        mov_imm.i32 r0, -1\nadd.i64 r1, r0, 0\n\
        mul.u32 r2, %block, %bdim\nadd.u32 r2, r2, %lane\nadd.u32 r2, r2, k\n\
        cvt.u64.u32 r3, r2\nadd.u64 r3, r3, r1\nadd.u64 r3, r3, %gdim\n\
        stg.u64 [c + %gid*8], r3\nexit\n");
    for (grid, block) in [(1u32, 1u32), (3, 5), (2, 16), (1, 33)] {
        let n = (grid * block) as usize;
        let out = run_all(&p, grid, block, &[zeros(8 * n), Arg::Scalar(7)]);
        let got = to_u64(out.buf(0));
        for (g, &x) in got.iter().enumerate() {
            assert_eq!(x, g as u64 + 7 + 0xffff_ffff + grid as u64);
        }
    }
}

#[test]
fn narrow_types_and_int_registers_of_two_widths() {
    let p = asm(".kernel t\n.param c: ptr u64\n\
        mov_imm.u64 r0, 0x1234567890abcdef\nadd.u8 r1, r0, 0x20\nadd.i16 r2, r0, 0\n\
        cvt.i64.i16 r3, r2\nadd.u64 r4, r3, r1\nadd.u64 r4, r4, %gid\nstg.u64 [c + %gid*8], r4\nexit\n");
    let out = run_all(&p, 2, 3, &[zeros(48)]);
    let got = to_u64(out.buf(0));
    for (g, &x) in got.iter().enumerate() {
        let want = (0xcdefu16 as i16 as i64 as u64)
            .wrapping_add((0xef + 0x20) & 0xff)
            .wrapping_add(g as u64);
        assert_eq!(x, want);
    }
}

/// `reduce.op.ty` over every type: each block folds its lanes below `n` (the others exit
/// before the barrier) in lane order, including NaNs, signed zeros and wrapping values.
/// Blocks of 37 lanes: whole blocks take the fold's fast path (every lane waits), the last
/// one (below `n`) the general one.
#[test]
fn reduce_all_ops_and_types() {
    for ty in ALL_TYPES {
        for op in RedOp::ALL {
            let bop = match op {
                RedOp::Add => BinOp::Add,
                RedOp::Mul => BinOp::Mul,
                RedOp::Min => BinOp::Min,
                RedOp::Max => BinOp::Max,
            };
            // Float data with and without NaNs (a NaN makes every fold NaN).
            for nans in [true, false] {
                if !nans && !ty.is_float() {
                    continue;
                }
                let base: Vec<u64> = values(ty)
                    .into_iter()
                    .filter(|&v| nans || !is_nan(ty, v))
                    .collect();
                reduce_case(op, bop, ty, &base);
            }
        }
    }
}

/// One `reduce_all_ops_and_types` case: `base` in a scrambled order, cycled over 3 blocks.
fn reduce_case(op: RedOp, bop: BinOp, ty: Ty, base: &[u64]) {
    let (block, n) = (37usize, 100usize);
    let vals: Vec<u64> = (0..3 * block)
        .map(|i| base[(i * 7 + i / 5) % base.len()])
        .collect();
    let p = asm(&format!(
        ".kernel t\n.param a: ptr {ty}\n.param c: ptr {ty}\n.param n: u32\n\
         setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
         ldg.{ty} r1, [a + %gid*{s}]\nreduce.{op}.{ty} r2, r1\n\
         stg.{ty} [c + %gid*{s}], r2\ndone:\nexit\n",
        op = op.name(),
        s = ty.size()
    ));
    let out = run_all(
        &p,
        3,
        block as u32,
        &[
            Arg::Buf(to_bytes(ty, &vals)),
            Arg::Buf(vec![0; vals.len() * ty.size() as usize]),
            Arg::Scalar(n as u64),
        ],
    );
    assert_eq!(out.trap.kind, 0, "{op:?} {ty}: {:?}", out.trap);
    let got = from_bytes(ty, out.buf(1));
    for (b, lanes) in vals[..n].chunks(block).enumerate() {
        let want = lanes[1..]
            .iter()
            .fold(lanes[0], |acc, &x| ref_bin(bop, ty, acc, x).unwrap());
        for l in 0..lanes.len() {
            let g = b * block + l;
            assert!(
                same(ty, want, got[g]),
                "reduce.{}.{ty} block {b} lane {l}: want {want:#x} got {:#x}",
                op.name(),
                got[g]
            );
        }
    }
}

/// `reduce` of operands that are not registers: special registers, a scalar parameter and
/// an immediate.
#[test]
fn reduce_of_specials_params_and_immediates() {
    let p = asm(
        ".kernel t\n.param c: ptr u32\n.param d: ptr u64\n.param k: u32\n\
        reduce.add.u32 r1, %gid\nreduce.max.u32 r2, %block\nreduce.mul.u32 r3, k\n\
        reduce.add.u64 r4, 5\nreduce.min.u32 r5, %bdim\nreduce.max.u32 r6, %gdim\n\
        reduce.max.u32 r7, %lane\n\
        mul.u32 r2, r2, 1000\nadd.u32 r2, r2, r5\nmul.u32 r2, r2, 1000\nadd.u32 r2, r2, r6\n\
        mul.u32 r2, r2, 1000\nadd.u32 r2, r2, r7\nstg.u32 [c + %gid*4], r2\n\
        cvt.u64.u32 r8, r1\nshl.u64 r8, r8, 32\ncvt.u64.u32 r9, r3\nadd.u64 r8, r8, r9\n\
        add.u64 r8, r8, r4\nstg.u64 [d + %gid*8], r8\nexit\n",
    );
    for (grid, block) in [(1u32, 1u32), (3, 5), (2, 16), (1, 33)] {
        let n = (grid * block) as usize;
        let k = 0x1234_5679u32;
        let out = run_all(
            &p,
            grid,
            block,
            &[zeros(4 * n), zeros(8 * n), Arg::Scalar(k.into())],
        );
        let (c, d) = (to_u32(out.buf(0)), to_u64(out.buf(1)));
        for g in 0..n as u32 {
            let b = g / block;
            let want_c = ((b * 1000 + block) * 1000 + grid) * 1000 + (block - 1);
            assert_eq!(c[g as usize], want_c, "grid {grid} block {block} gid {g}");
            let gids = (0..block).fold(0u32, |s, l| s.wrapping_add(b * block + l));
            let kk = (0..block).fold(1u32, |s, _| s.wrapping_mul(k));
            let want_d = (u64::from(gids) << 32) + u64::from(kk) + 5 * u64::from(block);
            assert_eq!(d[g as usize], want_d, "grid {grid} block {block} gid {g}");
        }
    }
}

/// `min`/`max` of per-lane floats by a uniform operand (an immediate, a parameter or a
/// uniform register, first or second): the vector code's one-instruction forms with their
/// signed-zero and NaN fixes (vector/minmax.rs) give IEEE `minimum`/`maximum` for every
/// input, with the operand +0, -0, NaN, infinite or ordinary.
#[test]
fn min_max_by_a_uniform_float() {
    for ty in [Ty::F32, Ty::F64] {
        let size = ty.size();
        let xs = float_inputs(ty);
        let c_values: Vec<u64> = [
            0.0f64,
            -0.0,
            1.5,
            -2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]
        .iter()
        .map(|&v| {
            if ty == Ty::F32 {
                (v as f32).to_bits() as u64
            } else {
                v.to_bits()
            }
        })
        .collect();
        for op in [BinOp::Min, BinOp::Max] {
            let name = if op == BinOp::Min { "min" } else { "max" };
            for &c in &c_values {
                let imm = if ty == Ty::F32 {
                    format!("0f{c:08x}")
                } else {
                    format!("0d{c:016x}")
                };
                for body in [
                    format!("{name}.{ty} r2, r1, {imm}"),
                    format!("{name}.{ty} r2, {imm}, r1"),
                    format!("{name}.{ty} r2, r1, c"),
                    format!("mov.{ty} r3, c\n{name}.{ty} r2, r3, r1"),
                ] {
                    let p = asm(&format!(
                        ".kernel mm\n.param x: ptr {ty}\n.param out: ptr {ty}\n.param c: {ty}\n\
                         ldg.{ty} r1, [x + %gid*{size}]\n{body}\nstg.{ty} [out + %gid*{size}], r2\nexit\n"
                    ));
                    let n = xs.len();
                    for (grid, block) in [(1u32, n as u32), (2, 16)] {
                        let lanes = (grid * block) as usize;
                        let x: Vec<u64> = (0..lanes).map(|i| xs[i % n]).collect();
                        let out = run_all(
                            &p,
                            grid,
                            block,
                            &[
                                Arg::Buf(to_bytes(ty, &x)),
                                zeros(lanes * size as usize),
                                Arg::Scalar(c),
                            ],
                        );
                        let got = from_bytes(ty, out.buf(1));
                        for (i, (&a, &r)) in x.iter().zip(&got).enumerate() {
                            let want = ref_bin(op, ty, a, c).expect("float op");
                            assert!(
                                same(ty, want, r),
                                "{body}: lane {i}: {name}({a:#x}, {c:#x}) = {r:#x}, want {want:#x}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Narrow types run as vector code: their registers are 32-bit lanes holding the value's
/// low bits zero-extended (docs/ISA.md), read sign- or zero-extended per type. Loads and
/// stores of every addressing shape (contiguous, per-lane gathers, uniform), arithmetic that
/// wraps, compares, conversions and a register read at another width than written; against
/// Rust, under every strategy.
#[test]
fn narrow_types_run_as_vector_code() {
    for ty in [Ty::I8, Ty::U8, Ty::I16, Ty::U16] {
        let s = ty.size();
        let src = format!(
            ".kernel t\n.param a: ptr {ty}\n.param c: ptr {ty}\n.param d: ptr u32\n.param n: u32\n\
             setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
             ldg.{ty} r1, [a + %gid*{s}]\n\
             mul.u32 r2, %gid, 7\nrem.u32 r2, r2, n\nldg.{ty} r3, [a + r2*{s}]\n\
             ldg.{ty} r4, [a + {s}]\n\
             mul.{ty} r5, r1, r3\nadd.{ty} r5, r5, r4\nshr.{ty} r6, r5, 3\n\
             min.{ty} r7, r1, r3\nsetp.lt.{ty} p1, r6, r7\nsel.{ty} r8, p1, r6, r7\n\
             add.u32 r9, r8, 0x10000\ncvt.u32.{ty} r10, r1\nadd.u32 r9, r9, r10\n\
             stg.u32 [d + %gid*4], r9\nstg.{ty} [c + %gid*{s}], r9\ndone:\nexit\n"
        );
        let k = holovm_jit::compile(&asm(&src), &JitOptions::default()).expect("compile");
        match k.strategy() {
            Strategy::Vector { detail, .. } => assert!(
                detail.contains("8- and 16-bit values held zero-extended in 32-bit lanes"),
                "{ty}: {detail}"
            ),
            other => panic!("{ty}: {other}"),
        }
        let vals = values(ty);
        let n = vals.len();
        let out = run_all(
            &asm(&src),
            (n as u32).div_ceil(16),
            16,
            &[
                Arg::Buf(to_bytes(ty, &vals)),
                Arg::Buf(vec![0; n * s as usize]),
                zeros(n * 4),
                Arg::Scalar(n as u64),
            ],
        );
        let (c, d) = (from_bytes(ty, out.buf(1)), to_u32(out.buf(2)));
        let bits = ty.bits();
        // Reference: values as i64 per the type's signedness, results cut to the type.
        let val = |x: u64| {
            if ty.is_signed_int() {
                sext(ty, x)
            } else {
                x as i64
            }
        };
        let cut = |x: i64| (x as u64) & ((1u64 << bits) - 1);
        for g in 0..n {
            let (x, y, z) = (val(vals[g]), val(vals[(g * 7) % n]), val(vals[1]));
            let m = val(cut(x.wrapping_mul(y).wrapping_add(z)));
            let sh = val(cut(m >> 3));
            let mn = x.min(y);
            let want = cut(if sh < mn { sh } else { mn });
            let wide = (want as u32).wrapping_add(0x10000);
            assert_eq!(
                d[g],
                wide.wrapping_add(val(vals[g]) as u32),
                "{ty} lane {g}"
            );
            // Stored narrow from a register last written at 32 bits: its low bits.
            assert_eq!(c[g], cut(i64::from(d[g])), "{ty} lane {g}");
        }
    }
}

/// `n` spread-out u64s (lane `i`: `i * k`, wrapping).
fn spread_u64(n: usize, k: u64) -> Vec<u64> {
    (0..n as u64).map(|i| i.wrapping_mul(k)).collect()
}

/// Runs `src` on `n` lanes in blocks of 32 under every strategy, with `bufs` and then `n`
/// as its arguments.
fn run_n(src: &str, n: usize, bufs: Vec<Arg>) -> Out {
    let mut args = bufs;
    args.push(Arg::Scalar(n as u64));
    run_all(&asm(src), (n as u32).div_ceil(32), 32, &args)
}

/// A register written at 64 bits and read at 32 (its low half, docs/ISA.md section 2) stays
/// a 64-bit vector register whose 32-bit reads narrow its lanes: as an integer, narrow,
/// uniform, and an f64's bits; against Rust, under every strategy.
#[test]
fn registers_written_at_64_bits_read_at_32_as_vector_code() {
    let src = ".kernel t\n.param a: ptr u64\n.param f: ptr f64\n.param c: ptr u32\n\
        .param d: ptr f32\n.param n: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        ldg.u64 r1, [a + %gid*8]\nmul.u64 r2, r1, 3\nadd.u32 r3, r2, 7\n\
        mov.u64 r5, 0x100000007\nadd.u32 r3, r3, r5\n\
        ldg.f64 r7, [f + %gid*8]\nxor.u32 r3, r3, r7\nstg.u32 [c + %gid*4], r3\n\
        cvt.f32.i16 r4, r2\nstg.f32 [d + %gid*4], r4\n\
        done:\nexit\n";
    let k = holovm_jit::compile(&asm(src), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Vector { detail, .. } => assert!(
            detail.contains("read at 32 bits too, their lanes' low halves: r2 r5 r7"),
            "{detail}"
        ),
        other => panic!("{other}"),
    }
    let n = 77usize;
    let a = spread_u64(n, 0x0123_4567_89ab_cdef);
    let f: Vec<f64> = (0..n).map(|i| i as f64 * -1.37e9 + 0.1).collect();
    let bufs = vec![u64s(&a), f64s(&f), zeros(n * 4), zeros(n * 4)];
    let out = run_n(src, n, bufs);
    let (c, d) = (to_u32(out.buf(2)), to_f32(out.buf(3)));
    for g in 0..n {
        let r2 = a[g].wrapping_mul(3);
        let want = (r2 as u32).wrapping_add(7).wrapping_add(7) ^ (f[g].to_bits() as u32);
        assert_eq!(c[g], want, "lane {g}");
        assert_eq!(d[g], f32::from(r2 as u16 as i16), "lane {g}");
    }
}

#[test]
fn selects_of_another_width_than_their_compare_as_vector_code() {
    let src = ".kernel t\n.param a: ptr u64\n.param x: ptr f32\n.param c: ptr f32\n\
        .param d: ptr u64\n.param e: ptr u32\n.param n: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        ldg.u64 r1, [a + %gid*8]\nldg.f32 r2, [x + %gid*4]\n\
        setp.lt.u64 p1, r1, 0x8000000000000000\nmul.f32 r3, r2, 2.0\n\
        sel.f32 r4, p1, r2, r3\nstg.f32 [c + %gid*4], r4\n\
        setp.gt.f32 p2, r2, 0.0\nsel.u64 r5, p2, r1, 7\n\
        setp.lt.u64 p3, %gid, 40\nsel.u32 r6, p3, 11, 22\n\
        setp.eq.u32 p4, n, 77\nsel.u64 r7, p4, r5, 3\nstg.u64 [d + %gid*8], r7\n\
        sel.u32 r6, p1, r6, 5\nstg.u32 [e + %gid*4], r6\n\
        done:\nexit\n";
    let k = holovm_jit::compile(&asm(src), &JitOptions::default()).expect("compile");
    assert!(
        matches!(k.strategy(), Strategy::Vector { .. }),
        "{}",
        k.strategy()
    );
    for n in [77usize, 50] {
        let a = spread_u64(n, 0x9234_5678_9abc_def1);
        let x: Vec<f32> = (0..n).map(|i| (i as f32 - 30.5) * 0.25).collect();
        let bufs = vec![u64s(&a), f32s(&x), zeros(n * 4), zeros(n * 8), zeros(n * 4)];
        let out = run_n(src, n, bufs);
        let (c, d, e) = (to_f32(out.buf(2)), to_u64(out.buf(3)), to_u32(out.buf(4)));
        for g in 0..n {
            let p1 = a[g] < 1 << 63;
            let want_c = if p1 { x[g] } else { x[g] * 2.0 };
            assert_eq!(c[g].to_bits(), want_c.to_bits(), "n {n} lane {g}");
            let r5 = if x[g] > 0.0 { a[g] } else { 7 };
            assert_eq!(d[g], if n == 77 { r5 } else { 3 }, "n {n} lane {g}");
            let r6 = if g < 40 { 11 } else { 22 };
            assert_eq!(e[g], if p1 { r6 } else { 5 }, "n {n} lane {g}");
        }
    }
}

/// A register written at 32 bits and read at 64 (its value zero-extended, docs/ISA.md
/// section 2) stays a 32-bit vector register whose 64-bit reads widen its lanes: as an
/// integer, as an f64's bits, and uniform; against Rust, under every strategy.
#[test]
fn registers_written_at_32_bits_read_at_64_as_vector_code() {
    let src = ".kernel t\n.param a: ptr u64\n.param c: ptr u64\n.param d: ptr f64\n.param n: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        mul.u32 r1, %gid, 0x9e3779b9\nmov.i32 r2, -5\nldg.u64 r3, [a + %gid*8]\n\
        add.u64 r4, r1, r3\nsub.u64 r4, r4, r2\nstg.u64 [c + %gid*8], r4\n\
        mov.f32 r5, 1.5\nadd.f32 r5, r5, 0.25\nadd.f64 r6, r5, 0.0\nstg.f64 [d + %gid*8], r6\n\
        done:\nexit\n";
    let k = holovm_jit::compile(&asm(src), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Vector { detail, .. } => assert!(
            detail.contains("read at 64 bits too, their lanes zero-extended: r1 r2 r5"),
            "{detail}"
        ),
        other => panic!("{other}"),
    }
    let n = 77usize;
    let a = spread_u64(n, 0x0123_4567_89ab_cdef);
    let out = run_n(src, n, vec![u64s(&a), zeros(n * 8), zeros(n * 8)]);
    let (c, d) = (to_u64(out.buf(1)), to_u64(out.buf(2)));
    let f32_bits = u64::from(1.75f32.to_bits());
    for g in 0..n {
        let r1 = u64::from((g as u32).wrapping_mul(0x9e37_79b9));
        let want = r1.wrapping_add(a[g]).wrapping_sub(0xffff_fffb);
        assert_eq!(c[g], want, "lane {g}");
        assert_eq!(d[g], (f64::from_bits(f32_bits) + 0.0).to_bits(), "lane {g}");
    }
}

/// A value written at both widths (docs/ISA.md section 2: a write zero-extends) is a
/// 64-bit vector register whose 32-bit writes widen their lanes and whose 32-bit reads
/// narrow them: narrow (r6), lane-affine (r8) and masked (r9) writes after a 64-bit one;
/// a register reused from f32 to u64 to u32 (r1) or from u64 to u32 (r7, uniform) splits
/// into its values (webs.rs); and
/// a predicate written by compares of both widths, uniform ones too, converts their masks;
/// a register never written (r13: zero) read at both widths. Against Rust, under every
/// strategy.
#[test]
fn registers_and_predicates_written_at_both_widths_as_vector_code() {
    let src = ".kernel t\n.param a: ptr u64\n.param x: ptr f32\n.param c: ptr u64\n\
        .param d: ptr f32\n.param n: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        ldg.f32 r1, [x + %gid*4]\nmul.f32 r2, r1, 2.0\n\
        ldg.u64 r1, [a + %gid*8]\nsub.u64 r12, r1, r13\nadd.u32 r1, r1, 0x80000000\n\
        add.u64 r4, r1, r1\n\
        mov.u64 r6, 0xffffffffffffffff\nadd.i16 r6, r1, 0x7fff\nadd.u64 r4, r4, r6\n\
        mov.u64 r7, 0x100000005\nadd.u32 r7, r7, 0xfffffff0\nadd.u64 r4, r4, r7\n\
        mov.u64 r8, 0x123456789\nadd.u32 r8, %gid, 0xfffffff0\nadd.u64 r4, r4, r8\n\
        mov.u64 r9, 0xffffffffffffffff\nsetp.lt.f32 p1, r2, 0.0\n@p1 bra @skip\nadd.u32 r9, r1, 3\nadd.u32 r9, r9, r13\n\
        skip:\nadd.u64 r4, r4, r9\n\
        setp.lt.u64 p2, r12, 0x8000000000000000\nsel.f32 r10, p2, r2, 1.0\n\
        setp.gt.f32 p2, r2, 0.5\nsel.u64 r11, p2, r4, 9\nstg.u64 [c + %gid*8], r11\n\
        setp.eq.u32 p2, n, 77\nsel.f32 r10, p2, r10, 3.0\nstg.f32 [d + %gid*4], r10\n\
        done:\nexit\n";
    let k = holovm_jit::compile(&asm(src), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Vector { detail, .. } => assert!(
            detail.contains("zero-extended and their lanes' low halves: r6 r8 r9")
                && detail.contains("their lanes' low halves: r1/2 r7 r13)")
                && detail.contains("r7/2"),
            "{detail}"
        ),
        other => panic!("{other}"),
    }
    for n in [77usize, 50] {
        let a = spread_u64(n, 0x9234_5678_9abc_def1);
        let x: Vec<f32> = (0..n).map(|i| (i as f32 - 30.5) * 0.03125).collect();
        let out = run_n(src, n, vec![u64s(&a), f32s(&x), zeros(n * 8), zeros(n * 4)]);
        let (c, d) = (to_u64(out.buf(2)), to_f32(out.buf(3)));
        for g in 0..n {
            let r2 = x[g] * 2.0;
            let r1 = u64::from((a[g] as u32).wrapping_add(0x8000_0000));
            let r6 = u64::from((r1 as i16).wrapping_add(0x7fff) as u16);
            let r8 = u64::from((g as u32).wrapping_add(0xffff_fff0));
            let r9 = match r2 < 0.0 {
                true => u64::MAX,
                false => u64::from((r1 as u32).wrapping_add(3)),
            };
            let r4 = [r1, r6, 0xffff_fff5, r8, r9]
                .iter()
                .fold(r1, |s, &v| s.wrapping_add(v));
            assert_eq!(c[g], if r2 > 0.5 { r4 } else { 9 }, "n {n} lane {g}");
            let r10 = if a[g] < 1 << 63 { r2 } else { 1.0 };
            let want = if n == 77 { r10 } else { 3.0 };
            assert_eq!(d[g].to_bits(), want.to_bits(), "n {n} lane {g}");
        }
    }
}

/// `reduce`s of registers used at both widths (the fold reads and writes register images)
/// as phased vector code: a float sum in lane order of a register kept at 64 bits, an f64
/// sum of one kept at 32 (its bits zero-extended), a result written at 32 bits into a
/// register kept at 64 and read there (one value with the load: a uniform branch around
/// the `reduce` that never skips it), an i64 minimum of a 32-bit register; blocks of 64,
/// the last one partial. Against Rust, under every strategy.
#[test]
fn reduces_of_registers_used_at_both_widths_as_vector_code() {
    let src = ".kernel t\n.param a: ptr u64\n.param x: ptr f32\n.param c: ptr u64\n\
        .param d: ptr f64\n.param n: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        ldg.u64 r1, [a + %gid*8]\nldg.f32 r1, [x + %gid*4]\nreduce.add.f32 r2, r1\n\
        mov.f32 r3, r1\nreduce.add.f64 r4, r3\n\
        ldg.u64 r5, [a + %gid*8]\nsetp.eq.u32 p3, n, 0\n@p3 bra @kept\nreduce.max.u32 r5, r5\n\
        kept:\nadd.u64 r6, r5, r5\n\
        reduce.min.i64 r7, r3\nadd.u64 r6, r6, r7\nstg.u64 [c + %gid*8], r6\n\
        cvt.f64.f32 r8, r2\nadd.f64 r8, r8, r4\nstg.f64 [d + %gid*8], r8\n\
        done:\nexit\n";
    let k = holovm_jit::compile(&asm(src), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Phased { reason } => assert!(
            !reason.contains("every lane in scalar code")
                && reason.contains("zero-extended and their lanes' low halves: r1 r5"),
            "{reason}"
        ),
        other => panic!("{other}"),
    }
    let (n, block) = (150usize, 64usize);
    let a = spread_u64(n, 0x9234_5678_9abc_def1);
    let x: Vec<f32> = (0..n).map(|i| (i as f32 - 30.5) * 0.1).collect();
    let bufs = vec![u64s(&a), f32s(&x), zeros(n * 8), zeros(n * 8)];
    let mut args = bufs;
    args.push(Arg::Scalar(n as u64));
    let out = run_all(&asm(src), n.div_ceil(block) as u32, block as u32, &args);
    let (c, d) = (to_u64(out.buf(2)), to_u64(out.buf(3)));
    for g in 0..n {
        let lanes = (g / block * block)..n.min((g / block + 1) * block);
        let bits = |l: usize| u64::from(x[l].to_bits());
        let r2 = lanes.clone().map(|l| x[l]).reduce(|s, v| s + v).unwrap();
        let r4 = lanes
            .clone()
            .map(|l| f64::from_bits(bits(l)))
            .reduce(|s, v| s + v)
            .unwrap();
        let r5 = lanes.clone().map(|l| u64::from(a[l] as u32)).max().unwrap();
        let r7 = lanes.map(|l| bits(l) as i64).min().unwrap() as u64;
        assert_eq!(c[g], r5.wrapping_mul(2).wrapping_add(r7), "lane {g}");
        assert_eq!(d[g], (f64::from(r2) + r4).to_bits(), "lane {g}");
    }
}

/// A register reused for values of both widths is split into its values (jit's webs.rs):
/// a `u64` loaded and stored, then the register reused as a `u32` index, is a lane-affine
/// register of its own (contiguous accesses, not a gather); a value written at either width
/// on the two sides of a branch stays one value (after another value of its register); a
/// loop counter reused after the loop.
/// Against Rust, under every strategy.
#[test]
fn registers_reused_at_both_widths_split_into_their_values() {
    let src = ".kernel t\n.param a: ptr f32\n.param b: ptr u64\n.param c: ptr f32\n\
        .param d: ptr u64\n.param n: u32\n\
        setp.ge.u32 p0, %gid, n\n@p0 bra @done\n\
        ldg.u64 r1, [b + %gid*8]\nmov.u32 r3, %gid\nadd.u64 r1, r1, r3\nmov.u64 r6, r1\n\
        add.u32 r1, %gid, 0\nldg.f32 r2, [a + r1*4]\n\
        setp.lt.f32 p1, r2, 0.0\n@p1 bra @neg\nmov.u64 r3, 0x100000001\nbra @join\n\
        neg:\nmov.u32 r3, 7\njoin:\n\
        mov.u32 r4, 3\ntop:\nadd.f32 r2, r2, 0.5\nloop r4, @top\n\
        add.u64 r6, r6, r3\nmov.u64 r4, 0x200000000\nadd.u64 r6, r6, r4\n\
        stg.u64 [d + %gid*8], r6\nstg.f32 [c + r1*4], r2\n\
        done:\nexit\n";
    let k = holovm_jit::compile(&asm(src), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Vector { detail, .. } => assert!(
            detail.contains("kept as one scalar): r1/3") && detail.contains("rN/k the k-th"),
            "{detail}"
        ),
        other => panic!("{other}"),
    }
    let n = 77usize;
    let b = spread_u64(n, 0x9234_5678_9abc_def1);
    let a: Vec<f32> = (0..n).map(|i| (i as f32 - 30.5) * 0.25).collect();
    let out = run_n(src, n, vec![f32s(&a), u64s(&b), zeros(n * 4), zeros(n * 8)]);
    let (c, d) = (to_f32(out.buf(2)), to_u64(out.buf(3)));
    for g in 0..n {
        let r3: u64 = if a[g] < 0.0 { 7 } else { 0x1_0000_0001 };
        let want = b[g].wrapping_add(g as u64).wrapping_add(r3) + 0x2_0000_0000;
        assert_eq!(d[g], want, "lane {g}");
        // (`loop` counts down and branches while non-zero: the body runs 3 times.)
        assert_eq!(c[g], a[g] + 0.5 + 0.5 + 0.5, "lane {g}");
    }
}
