//! Literal edge cases (docs/ISA.md section 9.3) through the whole assembler.

use holovm_asm::{assemble, Diagnostics};
use holovm_isa::{print, Inst, Src, Ty};

/// The immediate bits of `mov_imm.T r0, LIT`.
fn imm(ty: Ty, lit: &str) -> Result<u64, Diagnostics> {
    let p = assemble(&format!(
        ".kernel k\n    mov_imm.{ty} r0, {lit}\n    exit\n"
    ))?;
    match p.insts()[0] {
        Inst::Mov {
            src: Src::Imm(bits),
            ..
        } => Ok(bits),
        other => panic!("{other:?}"),
    }
}

fn err(ty: Ty, lit: &str) -> String {
    match imm(ty, lit) {
        Ok(bits) => panic!("{lit} as {ty} assembled to {bits:#x}"),
        Err(e) => {
            assert_eq!(e.len(), 1, "{e}");
            let d = &e.as_slice()[0];
            // The error points at the literal (after `mov_imm.T r0, `).
            assert_eq!((d.line, d.column), (2, 18 + ty.name().len()), "{e}");
            d.message.clone()
        }
    }
}

/// Printing the immediate gives `printed`, which reads back to the same bits.
fn prints(ty: Ty, bits: u64, printed: &str) {
    let mut s = String::new();
    print::write_imm(&mut s, ty, bits);
    assert_eq!(s, printed);
    assert_eq!(imm(ty, printed).unwrap(), bits, "{printed}");
}

#[test]
fn integers() {
    assert_eq!(imm(Ty::U32, "42").unwrap(), 42);
    assert_eq!(imm(Ty::I32, "-7").unwrap(), 0xffff_fff9);
    assert_eq!(imm(Ty::U32, "0x1f").unwrap(), 31);
    assert_eq!(imm(Ty::U32, "0X1F").unwrap(), 31);
    assert_eq!(imm(Ty::I32, "-0x10").unwrap(), 0xffff_fff0);
    assert_eq!(imm(Ty::U8, "0b1010").unwrap(), 10);
    assert_eq!(imm(Ty::U32, "007").unwrap(), 7);
    assert_eq!(imm(Ty::I16, "-0").unwrap(), 0);
}

#[test]
fn i8_limits() {
    assert_eq!(imm(Ty::I8, "127").unwrap(), 0x7f);
    assert_eq!(imm(Ty::I8, "-128").unwrap(), 0x80);
    assert_eq!(imm(Ty::I8, "0xff").unwrap(), 0xff); // bit pattern: -1
    assert_eq!(imm(Ty::I8, "0x80").unwrap(), 0x80);
    assert_eq!(imm(Ty::I8, "-0x80").unwrap(), 0x80);
    assert_eq!(imm(Ty::I8, "0b11111111").unwrap(), 0xff);
    assert_eq!(
        err(Ty::I8, "128"),
        "`128` is out of range for i8 (-128..=127)"
    );
    assert_eq!(
        err(Ty::I8, "-129"),
        "`-129` is out of range for i8 (-128..=127)"
    );
    assert_eq!(
        err(Ty::I8, "0x100"),
        "`0x100` is out of range for i8: a hex or binary bit pattern has at most 8 bits"
    );
    assert_eq!(
        err(Ty::I8, "-0x81"),
        "`-0x81` is out of range for i8 (-128..=127)"
    );
    assert!(err(Ty::I8, "0b111111111").contains("at most 8 bits"));
    prints(Ty::I8, 0x80, "-128");
    prints(Ty::I8, 0x7f, "127");
    prints(Ty::I8, 0xff, "-1");
}

#[test]
fn unsigned_limits() {
    assert_eq!(imm(Ty::U64, "18446744073709551615").unwrap(), u64::MAX);
    assert_eq!(imm(Ty::U64, "0xffffffffffffffff").unwrap(), u64::MAX);
    assert_eq!(
        err(Ty::U64, "18446744073709551616"),
        "`18446744073709551616` is out of range for u64 (0..=18446744073709551615)"
    );
    assert_eq!(err(Ty::U8, "256"), "`256` is out of range for u8 (0..=255)");
    assert_eq!(
        err(Ty::U16, "-1"),
        "`-1` is negative, but u16 is unsigned (0..=65535)"
    );
    assert_eq!(imm(Ty::I64, "-9223372036854775808").unwrap(), 1 << 63);
    assert!(err(Ty::I64, "9223372036854775808").contains("out of range for i64"));
    prints(Ty::U64, u64::MAX, "18446744073709551615");
    prints(Ty::I64, 1 << 63, "-9223372036854775808");
}

#[test]
fn floats() {
    let f32b = |x: f32| x.to_bits() as u64;
    assert_eq!(imm(Ty::F32, "1.5").unwrap(), f32b(1.5));
    assert_eq!(imm(Ty::F32, "-2.0e-3").unwrap(), f32b(-2.0e-3));
    assert_eq!(imm(Ty::F32, "1e10").unwrap(), f32b(1e10));
    assert_eq!(imm(Ty::F32, "1E10").unwrap(), f32b(1e10));
    assert_eq!(imm(Ty::F32, "3").unwrap(), f32b(3.0));
    assert_eq!(imm(Ty::F32, "16777217").unwrap(), f32b(16777216.0)); // rounded to nearest even
    assert_eq!(
        imm(Ty::F64, "9007199254740993").unwrap(),
        9007199254740992f64.to_bits()
    );
    prints(Ty::F32, f32b(1.0), "1.0");
    prints(Ty::F32, f32b(1e-7), "1e-7");
    prints(Ty::F32, f32b(0.1), "0.1");
    prints(Ty::F64, 0.1f64.to_bits(), "0.1");
    prints(Ty::F64, 1e300f64.to_bits(), "1e300");
    prints(Ty::F64, 5e-324f64.to_bits(), "5e-324");
    prints(Ty::F32, f32b(f32::MAX), "3.4028235e38");
    assert!(err(Ty::F32, "3.5e38").contains("out of range for f32"));
    assert!(err(Ty::F64, "1e309").contains("out of range for f64"));
    assert!(err(Ty::F32, "0x3f800000").contains("not accepted for f32"));
    assert!(err(Ty::I32, "1.5").contains("not an integer"));
    assert!(err(Ty::U32, "nan").contains("not an integer"));
}

#[test]
fn negative_zero() {
    assert_eq!(imm(Ty::F32, "-0.0").unwrap(), 0x8000_0000);
    assert_eq!(imm(Ty::F64, "-0.0").unwrap(), 1 << 63);
    assert_eq!(imm(Ty::F32, "0.0").unwrap(), 0);
    prints(Ty::F32, 0x8000_0000, "-0.0");
    prints(Ty::F64, 1 << 63, "-0.0");
    prints(Ty::F64, 0, "0.0");
}

#[test]
fn infinities_and_nans() {
    assert_eq!(imm(Ty::F32, "inf").unwrap(), f32::INFINITY.to_bits() as u64);
    assert_eq!(
        imm(Ty::F32, "-inf").unwrap(),
        f32::NEG_INFINITY.to_bits() as u64
    );
    assert_eq!(imm(Ty::F64, "inf").unwrap(), f64::INFINITY.to_bits());
    assert_eq!(imm(Ty::F32, "nan").unwrap(), 0x7fc0_0000);
    assert_eq!(imm(Ty::F64, "nan").unwrap(), 0x7ff8_0000_0000_0000);
    prints(Ty::F32, f32::INFINITY.to_bits() as u64, "inf");
    prints(Ty::F64, f64::NEG_INFINITY.to_bits(), "-inf");
    prints(Ty::F32, 0x7fc0_0000, "nan");
    prints(Ty::F64, 0x7ff8_0000_0000_0000, "nan");
    assert!(err(Ty::F32, "-nan").contains("`-nan` is not a literal"));
}

#[test]
fn bit_patterns() {
    assert_eq!(imm(Ty::F32, "0f3fc00000").unwrap(), 0x3fc0_0000);
    assert_eq!(imm(Ty::F32, "0F3FC00000").unwrap(), 0x3fc0_0000);
    assert_eq!(
        imm(Ty::F64, "0d3ff8000000000000").unwrap(),
        0x3ff8_0000_0000_0000
    );
    // Non-default NaNs: signalling, negative, with payload.
    prints(Ty::F32, 0x7f80_0001, "0f7f800001");
    prints(Ty::F32, 0xffc0_0000, "0fffc00000");
    prints(Ty::F32, 0x7fc0_0001, "0f7fc00001");
    prints(Ty::F64, 0x7ff0_0000_0000_0001, "0d7ff0000000000001");
    prints(Ty::F64, 0xfff8_0000_0000_0000, "0dfff8000000000000");
    // Non-NaN patterns are accepted too, and print as decimals.
    assert_eq!(imm(Ty::F32, "0f00000001").unwrap(), 1);
    assert_eq!(
        err(Ty::F32, "0f3fc0000"),
        "invalid f32 bit pattern `0f3fc0000`: expected exactly 8 hex digits after `0f`"
    );
    assert!(err(Ty::F32, "0d3ff8000000000000").contains("is a f64 bit pattern"));
    assert!(err(Ty::F64, "0f3fc00000").contains("is a f32 bit pattern"));
    assert!(err(Ty::U32, "0f3fc00000").contains("not an integer"));
    assert!(err(Ty::F32, "-0f3fc00000").contains("cannot be negated"));
}

#[test]
fn f32_rounding_of_long_decimals() {
    // Correctly rounded to f32 directly. Rounding through f64 first would hit the f32 tie
    // 1 + 2^-24 and round down to 1.0.
    assert_eq!(
        imm(Ty::F32, "1.000000059604644776253323").unwrap(),
        0x3f80_0001
    );
    assert_eq!(
        imm(Ty::F32, "0.333333333333333333333333333333333").unwrap(),
        (1.0f32 / 3.0).to_bits() as u64
    );
    assert_eq!(
        imm(Ty::F32, "3.14159265358979323846264338327950288").unwrap(),
        std::f32::consts::PI.to_bits() as u64
    );
    // Subnormal and underflow.
    assert_eq!(imm(Ty::F32, "1e-45").unwrap(), 1);
    assert_eq!(imm(Ty::F32, "1e-46").unwrap(), 0);
}

#[test]
fn pointers_need_64_bit_types() {
    let src = ".kernel k\n.param a: ptr f32\n.param n: u32\n    mov_imm.u32 r0, &a\n    mov_imm.u64 r0, &n\n    mov_imm.u64 r0, &zz\n    exit\n";
    let e = assemble(src).unwrap_err();
    let got: Vec<String> = e
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(
        got,
        [
            "4:21: pointer literal `&a` needs a u64 or i64 operand, not u32",
            "5:21: `&n`: `n` is a scalar parameter",
            "6:21: unknown parameter `zz`",
        ]
    );
}
