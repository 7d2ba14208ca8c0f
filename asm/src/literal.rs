//! Number literals (docs/ISA.md, section 9.3): turning the text of a literal into the bit
//! pattern of an immediate of a given type, with range checks.
//!
//! Positions are the caller's business: these functions see only the text (without the
//! leading `-`, which the parser records separately) and return a message on failure.

use holovm_isa::Ty;

/// The default quiet NaN, which `nan` denotes.
const F32_NAN: u32 = 0x7fc0_0000;
const F64_NAN: u64 = 0x7ff8_0000_0000_0000;

/// A literal that does not fit: message and optional help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LitError {
    pub message: String,
    pub help: Option<String>,
}

fn err<T>(message: impl Into<String>) -> Result<T, LitError> {
    Err(LitError {
        message: message.into(),
        help: None,
    })
}

fn err_help<T>(message: impl Into<String>, help: impl Into<String>) -> Result<T, LitError> {
    Err(LitError {
        message: message.into(),
        help: Some(help.into()),
    })
}

/// How an integer literal was written. Hex and binary literals are bit patterns for signed
/// types (`0xff` as `i8` is `-1`); decimal ones are values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Radix {
    Decimal,
    Hex,
    Binary,
}

/// Parses an unsigned integer literal: `42`, `0x1f`, `0b1010` (prefix letters and hex digits
/// in either case). Values beyond `u128` are reported as out of range by returning `None`
/// for the value.
pub(crate) fn parse_uint(text: &str) -> Result<(Option<u128>, Radix), LitError> {
    let lower = text.to_ascii_lowercase();
    let (digits, radix, base) = if let Some(d) = lower.strip_prefix("0x") {
        (d, Radix::Hex, 16)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, Radix::Binary, 2)
    } else {
        (lower.as_str(), Radix::Decimal, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(base)) {
        return err(format!("invalid integer literal `{text}`"));
    }
    let mut value: Option<u128> = Some(0);
    for c in digits.chars() {
        let d = c.to_digit(base).unwrap_or(0);
        value = value.and_then(|v| v.checked_mul(u128::from(base))?.checked_add(u128::from(d)));
    }
    Ok((value, radix))
}

/// Parses an unsigned literal for a field of at most `max` (an offset, a size, a phi
/// coordinate...). `what` names the field in messages.
pub(crate) fn parse_field(text: &str, max: u64, what: &str) -> Result<u64, LitError> {
    let (v, _) = parse_uint(text)?;
    match v {
        Some(v) if v <= u128::from(max) => Ok(v as u64),
        _ => err(format!("{what} `{text}` is out of range (0..={max})")),
    }
}

/// True when the text is a float (not an integer) literal, for messages.
fn looks_float(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("0b") {
        return false;
    }
    lower == "inf"
        || lower == "nan"
        || lower.starts_with("0f")
        || lower.starts_with("0d")
        || lower.contains(['.', 'e'])
}

/// The bit pattern of the immediate `[-]text` of type `ty`, zero-extended to 64 bits.
pub(crate) fn parse_imm(neg: bool, text: &str, ty: Ty) -> Result<u64, LitError> {
    if ty.is_float() {
        parse_float(neg, text, ty)
    } else {
        parse_int(neg, text, ty)
    }
}

fn shown(neg: bool, text: &str) -> String {
    if neg {
        format!("-{text}")
    } else {
        text.to_string()
    }
}

fn parse_int(neg: bool, text: &str, ty: Ty) -> Result<u64, LitError> {
    if looks_float(text) {
        return err_help(
            format!("`{}` is not an integer literal", shown(neg, text)),
            format!("`{ty}` operands take integers such as `42`, `-7`, `0x1f` or `0b1010`"),
        );
    }
    let (value, radix) = parse_uint(text)?;
    let bits = ty.bits();
    let range = if ty.is_signed_int() {
        format!("-{}..={}", 1u128 << (bits - 1), (1u128 << (bits - 1)) - 1)
    } else {
        format!("0..={}", ty.mask())
    };
    let out_of_range = || {
        let mut message = format!("`{}` is out of range for {ty} ({range})", shown(neg, text));
        if ty.is_signed_int() && radix != Radix::Decimal && !neg {
            message = format!(
                "`{text}` is out of range for {ty}: a hex or binary bit pattern has at most {bits} bits"
            );
        }
        err(message)
    };
    let Some(v) = value else {
        return out_of_range();
    };
    let mask = u128::from(ty.mask());
    if ty.is_unsigned_int() {
        if neg && v != 0 {
            return err(format!(
                "`{}` is negative, but {ty} is unsigned ({range})",
                shown(neg, text)
            ));
        }
        return if v <= mask {
            Ok(v as u64)
        } else {
            out_of_range()
        };
    }
    let half = 1u128 << (bits - 1);
    let ok = if neg {
        v <= half
    } else if radix == Radix::Decimal {
        v < half
    } else {
        // A hex or binary literal is a bit pattern of at most `bits` bits.
        v <= mask
    };
    if !ok {
        return out_of_range();
    }
    let value = if neg { v.wrapping_neg() } else { v };
    Ok((value & mask) as u64)
}

fn parse_float(neg: bool, text: &str, ty: Ty) -> Result<u64, LitError> {
    let lower = text.to_ascii_lowercase();
    let is_f32 = ty == Ty::F32;
    if lower == "nan" {
        if neg {
            return err_help(
                "`-nan` is not a literal",
                if is_f32 {
                    "write a NaN with its sign bit set as a bit pattern: `0fffc00000`"
                } else {
                    "write a NaN with its sign bit set as a bit pattern: `0dfff8000000000000`"
                },
            );
        }
        return Ok(if is_f32 { u64::from(F32_NAN) } else { F64_NAN });
    }
    if lower == "inf" {
        return Ok(match (is_f32, neg) {
            (true, false) => u64::from(f32::INFINITY.to_bits()),
            (true, true) => u64::from(f32::NEG_INFINITY.to_bits()),
            (false, false) => f64::INFINITY.to_bits(),
            (false, true) => f64::NEG_INFINITY.to_bits(),
        });
    }
    if let Some(pattern) = lower
        .strip_prefix("0f")
        .or_else(|| lower.strip_prefix("0d"))
    {
        let want = if lower.starts_with("0f") {
            Ty::F32
        } else {
            Ty::F64
        };
        let digits = want.size() as usize * 2;
        if want != ty {
            return err_help(
                format!("`{text}` is a {want} bit pattern, but the operand is {ty}"),
                if is_f32 {
                    "f32 bit patterns are `0f` and 8 hex digits, such as `0f3fc00000`"
                } else {
                    "f64 bit patterns are `0d` and 16 hex digits, such as `0d3ff8000000000000`"
                },
            );
        }
        if pattern.len() != digits || !pattern.chars().all(|c| c.is_ascii_hexdigit()) {
            return err(format!(
                "invalid {want} bit pattern `{text}`: expected exactly {digits} hex digits after `{}`",
                &lower[..2]
            ));
        }
        if neg {
            return err_help(
                format!("a bit pattern cannot be negated: `-{text}`"),
                "flip the sign bit in the pattern instead",
            );
        }
        return u64::from_str_radix(pattern, 16)
            .or_else(|_| err(format!("invalid bit pattern `{text}`")));
    }
    if lower.starts_with("0x") || lower.starts_with("0b") {
        return err_help(
            format!("`{text}` is a hex or binary integer, which is not accepted for {ty}"),
            if is_f32 {
                "write the value in decimal (`1.5`), or its bits as `0f3fc00000`"
            } else {
                "write the value in decimal (`1.5`), or its bits as `0d3ff8000000000000`"
            },
        );
    }
    if !is_decimal_float(&lower) {
        return err(format!("invalid float literal `{text}`"));
    }
    let signed = shown(neg, &lower);
    // Rust's parsers round correctly (to nearest, ties to even) straight to the target
    // width; parsing f32 via f64 would round twice.
    if is_f32 {
        match signed.parse::<f32>() {
            Ok(x) if x.is_finite() => Ok(u64::from(x.to_bits())),
            _ => err(format!(
                "`{signed}` is out of range for f32 (largest finite value is 3.4028235e38)"
            )),
        }
    } else {
        match signed.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x.to_bits()),
            _ => err(format!(
                "`{signed}` is out of range for f64 (largest finite value is 1.7976931348623157e308)"
            )),
        }
    }
}

/// `digits [. digits*] [e [+-] digits]`: the decimal forms section 9.3 allows.
fn is_decimal_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    !int.is_empty() && digits(int) && digits(frac) && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imm(t: &str, ty: Ty) -> Result<u64, String> {
        let (neg, text) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        parse_imm(neg, text, ty).map_err(|e| e.message)
    }

    #[test]
    fn signed() {
        assert_eq!(imm("127", Ty::I8), Ok(0x7f));
        assert_eq!(imm("-128", Ty::I8), Ok(0x80));
        assert_eq!(imm("0xff", Ty::I8), Ok(0xff));
        assert_eq!(imm("0b10000000", Ty::I8), Ok(0x80));
        assert_eq!(imm("-0x10", Ty::I8), Ok(0xf0));
        assert_eq!(imm("-0", Ty::I8), Ok(0));
        assert!(imm("128", Ty::I8)
            .unwrap_err()
            .contains("out of range for i8 (-128..=127)"));
        assert!(imm("-129", Ty::I8).is_err());
        assert!(imm("0x100", Ty::I8).unwrap_err().contains("at most 8 bits"));
        assert!(imm("-0x81", Ty::I8).is_err());
        assert_eq!(imm("-1", Ty::I32), Ok(0xffff_ffff));
        assert_eq!(imm("-9223372036854775808", Ty::I64), Ok(1 << 63));
        assert!(imm("9223372036854775808", Ty::I64).is_err());
        assert_eq!(imm("0xffffffffffffffff", Ty::I64), Ok(u64::MAX));
    }

    #[test]
    fn unsigned() {
        assert_eq!(imm("255", Ty::U8), Ok(255));
        assert!(imm("256", Ty::U8).is_err());
        assert_eq!(imm("18446744073709551615", Ty::U64), Ok(u64::MAX));
        assert!(imm("18446744073709551616", Ty::U64).is_err());
        assert!(imm("999999999999999999999999999999999999999999999", Ty::U64).is_err());
        assert!(imm("-1", Ty::U32).unwrap_err().contains("negative"));
        assert_eq!(imm("-0", Ty::U32), Ok(0));
        assert_eq!(imm("0X1F", Ty::U32), Ok(31));
        assert!(imm("0x", Ty::U32).is_err());
        assert!(imm("12abc", Ty::U32).is_err());
        assert!(imm("1.5", Ty::U32).unwrap_err().contains("not an integer"));
        assert!(imm("inf", Ty::U32).is_err());
    }

    #[test]
    fn floats() {
        let f32b = |x: f32| Ok(u64::from(x.to_bits()));
        assert_eq!(imm("1.5", Ty::F32), f32b(1.5));
        assert_eq!(imm("-2.0e-3", Ty::F32), f32b(-2.0e-3));
        assert_eq!(imm("1e10", Ty::F32), f32b(1e10));
        assert_eq!(imm("3", Ty::F32), f32b(3.0));
        assert_eq!(imm("1.", Ty::F32), f32b(1.0));
        assert_eq!(imm("16777217", Ty::F32), f32b(16777216.0));
        assert_eq!(imm("-0.0", Ty::F32), f32b(-0.0));
        assert_eq!(imm("inf", Ty::F32), f32b(f32::INFINITY));
        assert_eq!(imm("-inf", Ty::F64), Ok(f64::NEG_INFINITY.to_bits()));
        assert_eq!(imm("nan", Ty::F32), Ok(0x7fc0_0000));
        assert_eq!(imm("nan", Ty::F64), Ok(0x7ff8_0000_0000_0000));
        assert_eq!(imm("0f3fc00000", Ty::F32), Ok(0x3fc0_0000));
        assert_eq!(imm("0F7FC00001", Ty::F32), Ok(0x7fc0_0001));
        assert_eq!(
            imm("0d3ff8000000000000", Ty::F64),
            Ok(0x3ff8_0000_0000_0000)
        );
        assert!(imm("0f3fc0000", Ty::F32)
            .unwrap_err()
            .contains("exactly 8 hex digits"));
        assert!(imm("0d3ff8000000000000", Ty::F32)
            .unwrap_err()
            .contains("f64 bit pattern"));
        assert!(imm("-0f3fc00000", Ty::F32).is_err());
        assert!(imm("-nan", Ty::F32).is_err());
        assert!(imm("0x10", Ty::F32).is_err());
        assert!(imm("1e39", Ty::F32)
            .unwrap_err()
            .contains("out of range for f32"));
        assert_eq!(imm("1e39", Ty::F64), Ok(1e39f64.to_bits()));
        assert!(imm("1e309", Ty::F64).is_err());
        assert!(imm("1e", Ty::F64).is_err());
        assert!(imm("1.2.3", Ty::F64).is_err());
        assert!(imm("1_000", Ty::F64).is_err());
        // Underflow rounds (to a subnormal or zero); it is not an error.
        assert_eq!(imm("1e-50", Ty::F32), f32b(0.0));
        assert_eq!(imm("1e-45", Ty::F32), Ok(1));
    }

    #[test]
    fn f32_rounds_long_decimals_once() {
        // Halfway between two f32 values when rounded via f64 first, but correctly rounded
        // directly: 1 + 2^-24 + 2^-60 rounds up in f32, while via f64 it would hit the tie
        // and round to even (down).
        let text = "1.000000059604644776253323";
        assert_eq!(
            imm(text, Ty::F32),
            Ok(u64::from(text.parse::<f32>().unwrap().to_bits()))
        );
        assert_eq!(imm(text, Ty::F32), Ok(u64::from(1.0000001f32.to_bits())));
        assert_eq!(
            imm("0.1000000000000000000000000001", Ty::F32),
            Ok(u64::from(0.1f32.to_bits()))
        );
    }

    #[test]
    fn fields() {
        assert_eq!(parse_field("0x10", 255, "byte"), Ok(16));
        assert!(parse_field("256", 255, "byte")
            .unwrap_err()
            .message
            .contains("0..=255"));
    }
}
