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
    let (order, code) = d.split_at_checked(1)?;
    let ty = Ty::ALL.into_iter().find(|&t| &descr(t)[1..] == code)?;
    match (order, ty.size()) {
        ("<", _) | ("=", _) => Some(ty),
        ("|", 1) => Some(ty),
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
    let descr = dict_value(header, "descr")?;
    let descr = descr
        .trim()
        .strip_prefix('\'')
        .and_then(|d| d.strip_suffix('\''))
        .ok_or_else(|| NpyError::Header(format!("descr {descr:?} is not a quoted string")))?;
    let ty = parse_descr(descr).ok_or_else(|| NpyError::Dtype(descr.to_string()))?;
    let fortran = match dict_value(header, "fortran_order")?.trim() {
        "False" => false,
        "True" => true,
        other => return Err(NpyError::Header(format!("fortran_order is {other:?}"))),
    };
    let shape = parse_shape(dict_value(header, "shape")?)?;
    if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(NpyError::Header(
            "Fortran-order arrays with more than one dimension are not supported".into(),
        ));
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

/// The text of the value of `key` in a Python dict literal like
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }`.
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let pattern = format!("'{key}':");
    let start = header
        .find(&pattern)
        .ok_or_else(|| NpyError::Header(format!("missing key '{key}'")))?
        + pattern.len();
    let tail = &header[start..];
    // The value ends at the first comma outside parentheses and quotes.
    let (mut depth, mut quoted) = (0i32, false);
    for (i, c) in tail.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' | '}' if !quoted && depth == 0 => return Ok(&tail[..i]),
            _ => {}
        }
    }
    Err(NpyError::Header(format!(
        "value of '{key}' is not terminated"
    )))
}

fn parse_shape(text: &str) -> Result<Vec<usize>, NpyError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| NpyError::Header(format!("shape {text:?} is not a tuple")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| NpyError::Header(format!("shape entry {d:?} is not a number")))
        })
        .collect()
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
    }
}
