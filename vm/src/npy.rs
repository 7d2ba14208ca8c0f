//! Reading and writing NumPy `.npy` files, the format numeric users already have.
//!
//! Only what holovm buffers can hold is supported: little-endian (or one-byte) arrays of the
//! ISA's types, in C order (or Fortran order when at most one dimension is larger than 1).
//! The format is small and fixed (a magic string, a version, a Python-dict header), so it is
//! implemented here rather than pulling in a crate with a full Python-literal parser.
//!
//! ```
//! use holovm::npy;
//! use holovm::isa::Ty;
//! let data: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
//! let file = npy::write(Ty::F32, &[2], &data);
//! let back = npy::read(&file).unwrap();
//! assert_eq!((back.ty, back.shape.as_slice(), back.data), (Ty::F32, &[2usize][..], data));
//! ```

use holovm_isa::Ty;

const MAGIC: &[u8] = b"\x93NUMPY";

/// A decoded array: element type, shape and the elements' little-endian bytes in C order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyArray {
    /// Element type.
    pub ty: Ty,
    /// Dimensions (empty for a 0-d array, which holds one element).
    pub shape: Vec<usize>,
    /// `len() * ty.size()` bytes, little-endian.
    pub data: Vec<u8>,
}

impl NpyArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a `.npy` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    #[error("not a .npy file (missing the \\x93NUMPY magic)")]
    BadMagic,
    /// A format version this reader does not know.
    #[error(".npy format version {0}.{1} is not supported (1.0, 2.0 and 3.0 are)")]
    Version(u8, u8),
    /// The file ends early.
    #[error(".npy file is truncated: {0}")]
    Truncated(&'static str),
    /// The header dictionary could not be understood.
    #[error(".npy header is malformed: {0}")]
    Header(String),
    /// A Fortran-order array with more than one dimension longer than 1.
    #[error(".npy array in Fortran order with shape {0:?}: only C order is supported for more than one dimension")]
    Layout(Vec<usize>),
    /// The element type has no holovm equivalent.
    #[error(
        ".npy element type {0:?} is not supported (use little-endian i1..i8, u1..u8, f4 or f8)"
    )]
    Dtype(String),
    /// The data length does not match the shape.
    #[error(".npy data holds {found} bytes but the shape {shape:?} of {ty} needs {expected}")]
    Length {
        /// Shape from the header.
        shape: Vec<usize>,
        /// Element type.
        ty: Ty,
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
}

/// The NumPy `descr` of a type.
pub fn descr(ty: Ty) -> &'static str {
    match ty {
        Ty::I8 => "|i1",
        Ty::U8 => "|u1",
        Ty::I16 => "<i2",
        Ty::U16 => "<u2",
        Ty::I32 => "<i4",
        Ty::U32 => "<u4",
        Ty::I64 => "<i8",
        Ty::U64 => "<u8",
        Ty::F32 => "<f4",
        Ty::F64 => "<f8",
    }
}

fn parse_descr(d: &str) -> Option<Ty> {
    // One-byte types may carry any byte-order mark; wider ones must be little-endian.
    let (order, code) = match d.split_at_checked(1)? {
        (o @ ("<" | "=" | "|" | ">"), code) => (o, code),
        _ => ("=", d),
    };
    let ty = Ty::ALL.into_iter().find(|&t| &descr(t)[1..] == code)?;
    match (order, ty.size()) {
        ("<" | "=", _) | (_, 1) => Some(ty),
        _ => None,
    }
}

/// Encodes an array as a version 1.0 `.npy` file. `data` holds the elements little-endian in
/// C order.
pub fn write(ty: Ty, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        descr(ty),
        shape_text
    );
    // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // The header of version 1.0 is at most 65535 bytes; ours is far shorter for any real
    // shape, and longer ones switch to version 2.0's 32-bit length.
    match u16::try_from(header.len()) {
        Ok(len) => out.extend_from_slice(&len.to_le_bytes()),
        Err(_) => {
            out[MAGIC.len()] = 2;
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Decodes a `.npy` file.
pub fn read(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(NpyError::BadMagic)?;
    let (&[major, minor], rest) = rest
        .split_first_chunk::<2>()
        .ok_or(NpyError::Truncated("version"))?;
    if minor != 0 {
        return Err(NpyError::Version(major, minor));
    }
    let (header_len, rest) = match major {
        1 => {
            let (len, rest) = rest
                .split_first_chunk::<2>()
                .ok_or(NpyError::Truncated("header length"))?;
            (u16::from_le_bytes(*len) as usize, rest)
        }
        2 | 3 => {
            let (len, rest) = rest
                .split_first_chunk::<4>()
                .ok_or(NpyError::Truncated("header length"))?;
            (u32::from_le_bytes(*len) as usize, rest)
        }
        _ => return Err(NpyError::Version(major, minor)),
    };
    let header = rest
        .get(..header_len)
        .ok_or(NpyError::Truncated("header"))?;
    let data = &rest[header_len..];
    let header =
        std::str::from_utf8(header).map_err(|_| NpyError::Header("not UTF-8 text".into()))?;
    let Header {
        descr,
        fortran,
        shape,
    } = parse_header(header)?;
    let ty = parse_descr(&descr).ok_or(NpyError::Dtype(descr))?;
    if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(NpyError::Layout(shape));
    }
    let expected = shape
        .iter()
        .try_fold(ty.size() as usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| NpyError::Header(format!("shape {shape:?} is too large")))?;
    if data.len() != expected {
        return Err(NpyError::Length {
            shape,
            ty,
            expected,
            found: data.len(),
        });
    }
    Ok(NpyArray {
        ty,
        shape,
        data: data.to_vec(),
    })
}

/// The header's three entries.
struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

/// A value of the header dict: a string, `True`/`False`, or a tuple of integers.
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses the header, a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }`: exactly the keys `descr`,
/// `fortran_order` and `shape`, once each, as NumPy requires.
fn parse_header(text: &str) -> Result<Header, NpyError> {
    let bad = |what: String| NpyError::Header(what);
    let mut p = Lexer { s: text.trim_end() };
    p.expect('{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if p.eat('}') {
            break;
        }
        let key = p.string()?;
        if !matches!(key.as_str(), "descr" | "fortran_order" | "shape") {
            return Err(bad(format!("unexpected key '{key}'")));
        }
        p.expect(':')?;
        let value = p.value()?;
        let slot_taken = match (key.as_str(), value) {
            ("descr", Value::Str(d)) => descr.replace(d).is_some(),
            ("fortran_order", Value::Bool(f)) => fortran.replace(f).is_some(),
            ("shape", Value::Tuple(t)) => shape.replace(t).is_some(),
            _ => return Err(bad(format!("'{key}' has a value of the wrong kind"))),
        };
        if slot_taken {
            return Err(bad(format!("key '{key}' appears twice")));
        }
        if !p.eat(',') {
            p.expect('}')?;
            break;
        }
    }
    if !p.s.trim().is_empty() {
        return Err(bad(format!("text after the dict: {:?}", p.s.trim())));
    }
    let missing = |k: &str| bad(format!("missing key '{k}'"));
    Ok(Header {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran: fortran.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

/// The rest of a header being parsed.
struct Lexer<'a> {
    s: &'a str,
}

impl Lexer<'_> {
    /// Skips white space, then takes `c` if it comes next.
    fn eat(&mut self, c: char) -> bool {
        self.s = self.s.trim_start();
        match self.s.strip_prefix(c) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), NpyError> {
        if self.eat(c) {
            return Ok(());
        }
        let near: String = self.s.chars().take(16).collect();
        Err(NpyError::Header(format!("expected '{c}' at {near:?}")))
    }

    /// A quoted string (either quote; no escapes, which NumPy's keys and types never need).
    fn string(&mut self) -> Result<String, NpyError> {
        self.s = self.s.trim_start();
        let quote = self.s.chars().next().filter(|&q| q == '\'' || q == '"');
        let Some(q) = quote else {
            return Err(NpyError::Header(format!(
                "expected a quoted string at {:?}",
                self.s
            )));
        };
        let body = &self.s[1..];
        let end = body
            .find(q)
            .ok_or_else(|| NpyError::Header("a string is not terminated".into()))?;
        self.s = &body[end + 1..];
        Ok(body[..end].to_string())
    }

    fn value(&mut self) -> Result<Value, NpyError> {
        self.s = self.s.trim_start();
        for (word, b) in [("True", true), ("False", false)] {
            if let Some(rest) = self.s.strip_prefix(word) {
                self.s = rest;
                return Ok(Value::Bool(b));
            }
        }
        if self.eat('(') {
            return self.tuple().map(Value::Tuple);
        }
        if !self.s.starts_with(['\'', '"']) {
            let near: String = self.s.chars().take(16).collect();
            return Err(NpyError::Header(format!(
                "value at {near:?} is not a string, True, False or a tuple"
            )));
        }
        self.string().map(Value::Str)
    }

    /// The rest of a tuple of integers after its `(`: `()`, `(3,)`, `(2, 3)`, `(2, 3,)`.
    fn tuple(&mut self) -> Result<Vec<usize>, NpyError> {
        let mut dims = Vec::new();
        loop {
            if self.eat(')') {
                break;
            }
            self.s = self.s.trim_start();
            let digits = self
                .s
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(self.s.len());
            let (num, rest) = self.s.split_at(digits);
            let d = num.parse::<usize>().map_err(|_| {
                let near: String = self.s.chars().take(16).collect();
                NpyError::Header(format!("shape entry at {near:?} is not a number"))
            })?;
            self.s = rest.strip_prefix('L').unwrap_or(rest);
            dims.push(d);
            if !self.eat(',') {
                self.expect(')')?;
                if dims.len() == 1 {
                    // `(3)` is the number 3 in Python, not a tuple.
                    return Err(NpyError::Header(
                        "a shape of one dimension needs a trailing comma: (3,)".into(),
                    ));
                }
                break;
            }
        }
        Ok(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type_and_shape() {
        for ty in Ty::ALL {
            for shape in [vec![], vec![0], vec![5], vec![2, 3]] {
                let n: usize = shape.iter().product();
                let data: Vec<u8> = (0..n * ty.size() as usize).map(|i| i as u8).collect();
                let file = write(ty, &shape, &data);
                assert_eq!(
                    file.len() % 64,
                    data.len() % 64,
                    "data starts 64-byte aligned"
                );
                let back = read(&file).unwrap();
                assert_eq!(
                    back,
                    NpyArray {
                        ty,
                        shape: shape.clone(),
                        data
                    }
                );
            }
        }
    }

    #[test]
    fn reads_numpy_written_header() {
        // Exactly what numpy 1.26 writes for np.arange(3, dtype=np.float64).
        let mut file = b"\x93NUMPY\x01\x00v\x00".to_vec();
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
        file.extend_from_slice(header.as_bytes());
        file.extend(std::iter::repeat_n(b' ', 0x76 - header.len() - 1));
        file.push(b'\n');
        for x in [0.0f64, 1.0, 2.0] {
            file.extend_from_slice(&x.to_le_bytes());
        }
        let a = read(&file).unwrap();
        assert_eq!((a.ty, a.shape), (Ty::F64, vec![3]));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(read(b"hello"), Err(NpyError::BadMagic));
        assert!(matches!(
            read(b"\x93NUMPY\x09\x00"),
            Err(NpyError::Version(9, 0))
        ));
        let good = write(Ty::F32, &[4], &[0; 16]);
        for cut in 0..good.len() {
            assert!(
                read(&good[..cut]).is_err(),
                "prefix of {cut} bytes must fail"
            );
        }
        let swap = |file: Vec<u8>, from: &[u8], to: &[u8]| {
            let at = file
                .windows(from.len())
                .position(|w| w == from)
                .unwrap_or(0);
            let mut file = file;
            file[at..at + to.len()].copy_from_slice(to);
            file
        };
        let big_endian = swap(write(Ty::F32, &[4], &[0; 16]), b"<f4", b">f4");
        assert!(matches!(read(&big_endian), Err(NpyError::Dtype(_))));
        let complex = swap(write(Ty::F64, &[2], &[0; 16]), b"<f8", b"<c8");
        assert!(matches!(read(&complex), Err(NpyError::Dtype(_))));
        let minor = swap(write(Ty::F32, &[4], &[0; 16]), b"\x01\x00", b"\x01\x05");
        assert!(matches!(read(&minor), Err(NpyError::Version(1, 5))));
    }

    /// A version 1.0 file with `header` and `data`.
    fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
        let mut file = b"\x93NUMPY\x01\x00".to_vec();
        file.extend_from_slice(&(header.len() as u16).to_le_bytes());
        file.extend_from_slice(header.as_bytes());
        file.extend_from_slice(data);
        file
    }

    #[test]
    fn headers_are_parsed_as_python_dicts() {
        let ok = |h: &str, n: usize| read(&with_header(h, &vec![0; n])).map(|a| (a.ty, a.shape));
        // What NumPy accepts: either quotes, spaces anywhere, any key order, `()` for 0-d.
        assert_eq!(
            ok(
                r#"{"descr" : "<u2", "shape" : (2, 3), "fortran_order" : False}"#,
                12
            ),
            Ok((Ty::U16, vec![2, 3]))
        );
        assert_eq!(
            ok("{'descr':'<i4','fortran_order':False,'shape':()}\n", 4),
            Ok((Ty::I32, vec![]))
        );
        // One-byte types in any byte order; no mark is the native (little-endian) order.
        assert_eq!(
            ok(
                "{'descr': '>u1', 'fortran_order': False, 'shape': (3,), }",
                3
            ),
            Ok((Ty::U8, vec![3]))
        );
        assert_eq!(
            ok(
                "{'descr': 'f4', 'fortran_order': False, 'shape': (1,), }",
                4
            ),
            Ok((Ty::F32, vec![1]))
        );
        // What NumPy rejects, and a key twice (NumPy would take the last one silently).
        for (header, why) in [
            (
                "{'descr': '<i4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
                "twice",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "unexpected key",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
                "not a number",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,2)}",
                "not a number",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1)}",
                "trailing comma",
            ),
            (
                "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
                "not a string",
            ),
            (
                "{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}",
                "wrong kind",
            ),
            (
                "{'descr': '<f4', 'shape': (1,)}",
                "missing key 'fortran_order'",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x",
                "after the dict",
            ),
        ] {
            match read(&with_header(header, &[0; 4])) {
                Err(NpyError::Header(m)) => assert!(m.contains(why), "{header}: {m}"),
                other => panic!("{header}: {other:?}"),
            }
        }
        let fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}";
        assert!(matches!(
            read(&with_header(fortran, &[0; 16])),
            Err(NpyError::Layout(_))
        ));
    }
}
