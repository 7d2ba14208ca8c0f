//! Launch data for the command line: parsing `name=SPEC` arguments, generating buffer contents,
//! and formatting values of any ISA type.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use holovm::isa::Ty;
use holovm::npy;

use super::files::read_bounded;

/// How to fill a buffer: the `SPEC` of `name=SPEC`.
#[derive(Clone, Debug, PartialEq)]
pub enum Fill {
    /// `random[:LEN]`: floats uniform in [-1, 1), integers uniform in a small range.
    Random(Option<usize>),
    /// `range[:LEN]`: 0, 1, 2, ...
    Range(Option<usize>),
    /// `fill:VALUE[:LEN]`: every element `VALUE`.
    Value(String, Option<usize>),
    /// `zeros[:LEN]`.
    Zeros(Option<usize>),
    /// `FILE.npy`: a NumPy array of the buffer's element type.
    Npy(String),
    /// `raw:FILE`: raw little-endian elements.
    Raw(String),
}

impl Fill {
    /// Parses a buffer SPEC.
    pub fn parse(spec: &str) -> anyhow::Result<Fill> {
        let len = |s: Option<&str>| -> anyhow::Result<Option<usize>> {
            s.map(|s| s.parse().map_err(|_| anyhow!("`{s}` is not a length")))
                .transpose()
        };
        let mut parts = spec.splitn(2, ':');
        let head = parts.next().unwrap_or_default();
        let rest = parts.next();
        Ok(match head {
            "random" => Fill::Random(len(rest)?),
            "range" => Fill::Range(len(rest)?),
            "zeros" => Fill::Zeros(len(rest)?),
            "fill" => {
                let rest = rest.ok_or_else(|| anyhow!("`fill` needs a value: fill:1.5"))?;
                let mut p = rest.splitn(2, ':');
                let value = p.next().unwrap_or_default().to_string();
                Fill::Value(value, len(p.next())?)
            }
            "raw" => Fill::Raw(
                rest.ok_or_else(|| anyhow!("`raw` needs a file: raw:x.bin"))?
                    .into(),
            ),
            _ if spec.ends_with(".npy") => Fill::Npy(spec.into()),
            _ => bail!(
                "`{spec}` is not a buffer spec (random[:LEN], range[:LEN], zeros[:LEN], \
                 fill:VALUE[:LEN], FILE.npy or raw:FILE)"
            ),
        })
    }

    /// The number of elements the spec gives, if it gives one (files give theirs when read).
    pub fn len(&self) -> Option<usize> {
        match self {
            Fill::Random(len) | Fill::Range(len) | Fill::Zeros(len) | Fill::Value(_, len) => *len,
            Fill::Npy(_) | Fill::Raw(_) => None,
        }
    }

    /// The little-endian bytes of the buffer this spec describes, with `default_len` elements
    /// unless the spec gives a length (or a file gives one).
    pub fn bytes(&self, ty: Ty, default_len: usize, rng: &mut Rng) -> anyhow::Result<Vec<u8>> {
        let size = ty.size() as usize;
        let mut out = Vec::new();
        if let Fill::Random(len) | Fill::Range(len) | Fill::Zeros(len) | Fill::Value(_, len) = self
        {
            // All of it up front: a length beyond the machine's memory is an error here,
            // instead of a process killed halfway through filling it.
            let len = len.unwrap_or(default_len);
            let bytes = len.checked_mul(size).ok_or_else(|| too_large(len, ty))?;
            out.try_reserve_exact(bytes)
                .map_err(|_| too_large(len, ty))?;
        }
        match self {
            Fill::Random(len) => {
                for _ in 0..len.unwrap_or(default_len) {
                    push_bits(&mut out, ty, rng.value(ty));
                }
            }
            Fill::Range(len) => {
                let len = len.unwrap_or(default_len);
                // An integer type counts up to its largest value; past it the values would
                // wrap (i8: 126, 127, -128, ...), which no one asking for a range wants.
                let max = match ty {
                    _ if ty.is_signed_int() => (1u64 << (ty.bits() - 1)) - 1,
                    _ if ty.is_unsigned_int() => u64::MAX >> (64 - ty.bits()),
                    _ => u64::MAX,
                };
                if len as u64 > max.saturating_add(1) {
                    bail!("range of {len} elements does not fit {ty}: its largest value is {max}");
                }
                for i in 0..len {
                    push_bits(&mut out, ty, from_index(ty, i as u64));
                }
            }
            Fill::Zeros(len) => out.resize(len.unwrap_or(default_len) * size, 0),
            Fill::Value(v, len) => {
                let bits = parse_value(ty, v)?;
                for _ in 0..len.unwrap_or(default_len) {
                    push_bits(&mut out, ty, bits);
                }
            }
            Fill::Npy(path) => {
                let bytes = read_file(path)?;
                let a = npy::read(&bytes).with_context(|| format!("cannot read {path}"))?;
                if a.ty != ty {
                    bail!("{path} holds {} elements, not {ty}", a.ty);
                }
                out = a.data;
            }
            Fill::Raw(path) => {
                out = read_file(path)?;
                if out.len() % size != 0 {
                    bail!(
                        "{path} has {} bytes, not a whole number of {ty} elements",
                        out.len()
                    );
                }
            }
        }
        Ok(out)
    }
}

fn too_large(len: usize, ty: Ty) -> anyhow::Error {
    anyhow!("cannot allocate {len} elements of {ty}: not enough memory")
}

/// The most bytes read from a file that is not a regular one (a pipe, `/dev/stdin`, a device
/// such as `/dev/zero`, which never ends).
const MAX_STREAM_BYTES: u64 = 1 << 30;

fn read_file(path: &str) -> anyhow::Result<Vec<u8>> {
    read_bounded(Path::new(path), u64::MAX, MAX_STREAM_BYTES)
        .with_context(|| format!("cannot read {path}"))?
        .ok_or_else(|| {
            anyhow!("{path} is not a regular file and gives more than {MAX_STREAM_BYTES} bytes")
        })
}

fn push_bits(out: &mut Vec<u8>, ty: Ty, bits: u64) {
    out.extend_from_slice(&bits.to_le_bytes()[..ty.size() as usize]);
}

/// The register image of the number `i` in type `ty`.
fn from_index(ty: Ty, i: u64) -> u64 {
    match ty {
        Ty::F32 => (i as f32).to_bits() as u64,
        Ty::F64 => (i as f64).to_bits(),
        _ => ty.canon(i),
    }
}

/// Parses a scalar value of type `ty` into its register image (zero-extended bits), with the
/// assembler's literal syntax and range rules (`-7`, `0x1f`, `1.5`, `inf`, `0f3fc00000`).
pub fn parse_value(ty: Ty, s: &str) -> anyhow::Result<u64> {
    holovm::asm::parse_literal(s, ty).map_err(|e| anyhow!(e))
}

/// Formats one element stored little-endian in `bytes`.
pub fn format_value(ty: Ty, bytes: &[u8]) -> String {
    let mut b = [0u8; 8];
    let n = (ty.size() as usize).min(bytes.len());
    b[..n].copy_from_slice(&bytes[..n]);
    let bits = u64::from_le_bytes(b);
    match ty {
        Ty::F32 => float_text(f32::from_bits(bits as u32)),
        Ty::F64 => float_text(f64::from_bits(bits)),
        Ty::I8 => (bits as i8).to_string(),
        Ty::I16 => (bits as i16).to_string(),
        Ty::I32 => (bits as i32).to_string(),
        Ty::I64 => (bits as i64).to_string(),
        _ => bits.to_string(),
    }
}

/// A float as its shortest round-trip digits, with an exponent outside 1e-4..1e16 (1e300 as
/// `1e300`, not 301 digits).
fn float_text<T: std::fmt::Display + std::fmt::LowerExp + Into<f64> + Copy>(x: T) -> String {
    let m = x.into().abs();
    if m == 0.0 || !m.is_finite() || (1e-4..1e16).contains(&m) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// A short preview of a buffer: its first few and last elements.
pub fn preview(ty: Ty, bytes: &[u8]) -> String {
    let size = ty.size() as usize;
    let n = bytes.len() / size;
    let item = |i: usize| format_value(ty, &bytes[i * size..(i + 1) * size]);
    let shown: Vec<String> = if n <= 8 {
        (0..n).map(item).collect()
    } else {
        let mut v: Vec<String> = (0..6).map(item).collect();
        v.push("...".into());
        v.push(item(n - 1));
        v
    };
    format!("[{}]", shown.join(", "))
}

/// A small deterministic generator (splitmix64): the same `--seed` gives the same data.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value of type `ty` as its register image: floats uniform in [-1, 1), unsigned
    /// integers in 0..100, signed ones in -50..50.
    pub fn value(&mut self, ty: Ty) -> u64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        match ty {
            Ty::F32 => ((unit * 2.0 - 1.0) as f32).to_bits() as u64,
            Ty::F64 => (unit * 2.0 - 1.0).to_bits(),
            t if t.is_signed_int() => t.canon(((unit * 100.0) as i64 - 50) as u64),
            t => t.canon((unit * 100.0) as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(Fill::parse("random").unwrap(), Fill::Random(None));
        assert_eq!(Fill::parse("range:10").unwrap(), Fill::Range(Some(10)));
        assert_eq!(
            Fill::parse("fill:1.5:3").unwrap(),
            Fill::Value("1.5".into(), Some(3))
        );
        assert_eq!(Fill::parse("x.npy").unwrap(), Fill::Npy("x.npy".into()));
        assert!(Fill::parse("bogus").is_err());
        assert!(Fill::parse("range:ten").is_err());
    }

    #[test]
    fn ranges_do_not_wrap() {
        let bytes = |ty, len| Fill::Range(Some(len)).bytes(ty, 0, &mut Rng::new(1));
        assert_eq!(bytes(Ty::I8, 128).unwrap().last(), Some(&127));
        assert_eq!(bytes(Ty::U8, 256).unwrap().last(), Some(&255));
        assert_eq!(bytes(Ty::U16, 65536).unwrap().len(), 131072);
        let e = bytes(Ty::I8, 129).unwrap_err().to_string();
        assert!(
            e.contains("does not fit i8: its largest value is 127"),
            "{e}"
        );
        assert!(bytes(Ty::U8, 257).is_err());
        assert!(bytes(Ty::I16, 40000).is_err());
        assert!(bytes(Ty::F32, 1000).is_ok());
    }

    #[test]
    fn values_parse_with_range_checks() {
        assert_eq!(parse_value(Ty::I8, "-1").unwrap(), 0xff);
        assert!(parse_value(Ty::I8, "128").is_err());
        assert!(parse_value(Ty::U32, "-1").is_err());
        assert_eq!(
            parse_value(Ty::F32, "1.5").unwrap(),
            1.5f32.to_bits() as u64
        );
        assert_eq!(format_value(Ty::I16, &(-3i16).to_le_bytes()), "-3");
        let f64_text = |x: f64| format_value(Ty::F64, &x.to_le_bytes());
        assert_eq!(f64_text(1e300), "1e300");
        assert_eq!(f64_text(5e-324), "5e-324");
        assert_eq!(f64_text(-0.0), "-0");
        assert_eq!(f64_text(1234.5), "1234.5");
        assert_eq!(
            format_value(Ty::F32, &f32::MAX.to_le_bytes()),
            "3.4028235e38"
        );
        // Finite numbers past the type's range are errors, as in the assembler; `inf` is not.
        assert!(parse_value(Ty::F32, "1e40").is_err());
        assert!(parse_value(Ty::F32, "-1e40").is_err());
        assert!(parse_value(Ty::F64, "1e400").is_err());
        assert_eq!(parse_value(Ty::F64, "1e40").unwrap(), 1e40f64.to_bits());
        assert_eq!(
            parse_value(Ty::F32, "-inf").unwrap(),
            f32::NEG_INFINITY.to_bits() as u64
        );
        assert_eq!(parse_value(Ty::U16, "0x10").unwrap(), 16);
        assert!(parse_value(Ty::U8, "+5").is_err());
    }

    #[test]
    fn lengths_past_memory_are_errors() {
        let mut rng = Rng::new(1);
        // Bytes beyond usize: refused before anything is filled.
        for fill in [
            Fill::Random(Some(usize::MAX / 2)),
            Fill::Range(Some(usize::MAX / 2)),
            Fill::Zeros(Some(usize::MAX / 2)),
            Fill::Value("1".into(), Some(usize::MAX / 2)),
        ] {
            let e = fill.bytes(Ty::F32, 0, &mut rng).unwrap_err().to_string();
            assert!(e.contains("cannot allocate"), "{e}");
        }
        // Within usize but past any allocator (isize::MAX bytes).
        let e = Fill::Zeros(Some(usize::MAX / 8))
            .bytes(Ty::F32, 0, &mut rng)
            .unwrap_err();
        assert!(e.to_string().contains("not enough memory"), "{e}");
    }

    #[test]
    fn fills_have_the_right_length() {
        let mut rng = Rng::new(1);
        let b = Fill::Range(None).bytes(Ty::F64, 5, &mut rng).unwrap();
        assert_eq!(b.len(), 40);
        assert_eq!(f64::from_le_bytes(b[32..40].try_into().unwrap()), 4.0);
        let r = Fill::Random(Some(1000))
            .bytes(Ty::F32, 5, &mut rng)
            .unwrap();
        assert!(r
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .all(|x| (-1.0..1.0).contains(&x)));
    }
}
