//! The versioned binary format (`.hbc`) of docs/ISA.md section 10.
//!
//! [`encode`] is canonical: equal definitions give equal bytes, which is what
//! [`ProgramKey`](crate::ProgramKey) hashes. [`decode`] accepts exactly the encodings
//! [`encode`] produces (overlong integers and bytes past the end are rejected), so
//! `encode(&decode(b)?) == b` for every `b` it accepts. It never panics and never allocates more
//! than a small multiple of the input's size, whatever the input.
//!
//! Most callers want [`Program::to_bytes`](crate::Program::to_bytes) and
//! [`Program::from_bytes`](crate::Program::from_bytes), which also verify.

use crate::{
    Addr, BinOp, Cmp, Guard, Inst, LaunchConfig, Param, ParamKind, Pred, ProgramDef, RedOp, Reg,
    SharedAddr, Special, Src, Ty, UnOp, VerifyError, MAX_INSTS, MAX_PARAMS,
};

/// The first eight bytes of every bytecode file: `HOLOVM`, NUL, and `^Z` (which stops
/// accidental text-mode reads on some systems, like PNG's signature does).
pub const MAGIC: [u8; 8] = *b"HOLOVM\0\x1a";

/// The format version this build writes and reads.
pub const VERSION: u16 = 1;

/// Opcode bytes. Operations with a sub-operation (binary, unary, comparison, reduction) and
/// the three branch forms fold it into the opcode, so every instruction starts with exactly one
/// byte that says what follows.
mod op {
    pub const LDG: u8 = 0x00;
    pub const STG: u8 = 0x01;
    pub const LDS: u8 = 0x02;
    pub const STS: u8 = 0x03;
    pub const MOV: u8 = 0x04;
    pub const CVT: u8 = 0x05;
    pub const FMA: u8 = 0x06;
    pub const SEL: u8 = 0x07;
    pub const BRA: u8 = 0x08;
    pub const BRA_IF: u8 = 0x09;
    pub const BRA_IF_NOT: u8 = 0x0a;
    pub const LOOP: u8 = 0x0b;
    pub const CALL: u8 = 0x0c;
    pub const RET: u8 = 0x0d;
    pub const EXIT: u8 = 0x0e;
    pub const BAR_SYNC: u8 = 0x0f;
    pub const MEMFENCE: u8 = 0x10;
    /// `0x20 + BinOp` for the 12 binary operations.
    pub const BIN: u8 = 0x20;
    /// `0x30 + UnOp` for the 12 unary operations.
    pub const UN: u8 = 0x30;
    /// `0x40 + Cmp` for the 6 comparisons of `setp`.
    pub const SETP: u8 = 0x40;
    /// `0x48 + RedOp` for the 4 reductions.
    pub const REDUCE: u8 = 0x48;

    // The families must not overlap each other (decoding tries them in turn).
    const _: () = {
        use crate::{BinOp, Cmp, RedOp, UnOp};
        assert!(BinOp::ALL.len() <= (UN - BIN) as usize);
        assert!(UnOp::ALL.len() <= (SETP - UN) as usize);
        assert!(Cmp::ALL.len() <= (REDUCE - SETP) as usize);
        assert!(RedOp::ALL.len() <= 0x10);
        assert!(MEMFENCE < BIN);
    };
}

/// Source operand tags.
mod tag {
    pub const REG: u8 = 0;
    pub const SPECIAL: u8 = 1;
    pub const PARAM: u8 = 2;
    pub const IMM: u8 = 3;
}

/// Global address mode bytes.
mod mode {
    pub const BUFFER_OFFSET: u8 = 0;
    pub const BUFFER_INDEX: u8 = 1;
    pub const PHI: u8 = 2;
    pub const PHI_INDEX: u8 = 3;
    pub const REGISTER_INDIRECT: u8 = 4;
    pub const REGISTER_INDIRECT_COMPUTED: u8 = 5;
    /// Shared addresses: constant offset only, or scaled index plus offset.
    pub const SHARED: u8 = 0;
    pub const SHARED_INDEX: u8 = 1;
}

/// Parameter kind bytes.
const KIND_BUFFER: u8 = 0;
const KIND_SCALAR: u8 = 1;

/// Why bytecode could not be turned into a program. Offsets are byte offsets into the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input does not start with [`MAGIC`].
    #[error(
        "not holovm bytecode: the input does not start with the magic bytes \"HOLOVM\\0\\x1a\""
    )]
    BadMagic,
    /// The format version is not one this build reads.
    #[error("unsupported bytecode version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the input.
        found: u16,
        /// The version this build reads ([`VERSION`]).
        supported: u16,
    },
    /// The input ends in the middle of an item.
    #[error("truncated bytecode: the {what} starting at byte {offset} is cut off")]
    Truncated {
        /// Where the cut-off item starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A byte that selects between alternatives (a type, operand tag, address mode, ...) has no
    /// meaning.
    #[error("invalid {what} {byte:#04x} at byte {offset}")]
    InvalidTag {
        /// Where the byte is.
        offset: usize,
        /// The byte.
        byte: u8,
        /// What it was meant to select.
        what: &'static str,
    },
    /// An instruction starts with a byte that is no opcode.
    #[error("unknown opcode {byte:#04x} at byte {offset}")]
    UnknownOpcode {
        /// Where the byte is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The program ends before the input does.
    #[error("trailing bytes after the end of the program, from byte {offset}")]
    TrailingBytes {
        /// Where the unexpected bytes start.
        offset: usize,
    },
    /// A string is not UTF-8.
    #[error("the {what} is not valid UTF-8 (at byte {offset})")]
    InvalidUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
        /// Which string.
        what: &'static str,
    },
    /// A uleb128 number is longer than 64 bits, or larger than its field.
    #[error("the {what} at byte {offset} is too large for its field")]
    Overflow {
        /// Where the number starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A uleb128 number has redundant trailing zero groups (the encoding would not be
    /// canonical).
    #[error("the {what} at byte {offset} is not minimally encoded")]
    NonCanonical {
        /// Where the number starts.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A count exceeds a program limit (checked before anything is allocated for it).
    #[error("the {what} at byte {offset} is {count}, above the limit of {max}")]
    TooLarge {
        /// Where the count starts.
        offset: usize,
        /// What is counted.
        what: &'static str,
        /// The count in the input.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// The bytecode is well formed but the program fails verification.
    #[error("the decoded program is invalid: {0}")]
    Invalid(VerifyError),
}

// Written by hand rather than with `#[from]`, which would also make the `VerifyError` the
// `source()` and have error reporters print its text twice.
impl From<VerifyError> for DecodeError {
    fn from(e: VerifyError) -> Self {
        DecodeError::Invalid(e)
    }
}

// ------------------------------------------------------------------------------------------
// Encoding

/// Encodes `def` as canonical bytecode (docs/ISA.md section 10). Any definition can be
/// encoded, verified or not; [`decode`] gives back an equal one as long as it has at most
/// [`MAX_PARAMS`] parameters and [`MAX_INSTS`] instructions.
///
/// ```
/// use holovm_isa::{bytecode, Inst, ProgramDef};
/// let def = ProgramDef { name: "k".into(), insts: vec![Inst::Exit], ..Default::default() };
/// let bytes = bytecode::encode(&def);
/// assert!(bytes.starts_with(&bytecode::MAGIC));
/// assert_eq!(bytecode::decode(&bytes).unwrap(), def);
/// ```
pub fn encode(def: &ProgramDef) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(
        32 + def.name.len() + 6 * def.insts.len(),
    ));
    w.0.extend_from_slice(&MAGIC);
    w.0.extend_from_slice(&VERSION.to_le_bytes());
    w.str(&def.name);
    w.uleb(def.params.len() as u64);
    for param in &def.params {
        w.str(&param.name);
        match param.kind {
            ParamKind::Buffer(ty) => w.bytes(&[KIND_BUFFER, ty as u8]),
            ParamKind::Scalar(ty) => w.bytes(&[KIND_SCALAR, ty as u8]),
        }
    }
    w.uleb(def.shared_bytes.into());
    match def.launch {
        None => w.u8(0),
        Some(LaunchConfig { grid, block }) => {
            w.u8(1);
            w.uleb(grid.into());
            w.uleb(block.into());
        }
    }
    w.uleb(def.insts.len() as u64);
    for inst in &def.insts {
        w.inst(inst);
    }
    w.0
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn uleb(&mut self, mut v: u64) {
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(low);
                return;
            }
            self.0.push(low | 0x80);
        }
    }

    fn str(&mut self, s: &str) {
        self.uleb(s.len() as u64);
        self.bytes(s.as_bytes());
    }

    fn src(&mut self, s: Src) {
        match s {
            Src::Reg(r) => self.bytes(&[tag::REG, r.0]),
            Src::Special(x) => self.bytes(&[tag::SPECIAL, x as u8]),
            Src::Param(i) => self.bytes(&[tag::PARAM, i]),
            Src::Imm(v) => {
                self.u8(tag::IMM);
                self.uleb(v);
            }
        }
    }

    fn index(&mut self, (index, scale): (Src, u8)) {
        self.src(index);
        self.u8(scale);
    }

    fn addr(&mut self, a: &Addr) {
        match *a {
            Addr::BufferOffset { buf, offset } => {
                self.bytes(&[mode::BUFFER_OFFSET, buf]);
                self.uleb(offset.into());
            }
            Addr::BufferIndex { buf, index, scale } => {
                self.bytes(&[mode::BUFFER_INDEX, buf]);
                self.index((index, scale));
            }
            Addr::Phi {
                class,
                page,
                byte,
                index: None,
            } => {
                self.bytes(&[mode::PHI, class, page, byte]);
            }
            Addr::Phi {
                class,
                page,
                byte,
                index: Some(index),
            } => {
                self.bytes(&[mode::PHI_INDEX, class, page, byte]);
                self.index(index);
            }
            Addr::RegisterIndirect { base, offset } => {
                self.bytes(&[mode::REGISTER_INDIRECT, base.0]);
                self.uleb(zigzag(offset).into());
            }
            Addr::RegisterIndirectComputed { handle, offset } => {
                self.bytes(&[mode::REGISTER_INDIRECT_COMPUTED, handle.0, offset.0]);
            }
        }
    }

    fn shared(&mut self, a: &SharedAddr) {
        match a.index {
            None => self.u8(mode::SHARED),
            Some(index) => {
                self.u8(mode::SHARED_INDEX);
                self.index(index);
            }
        }
        self.uleb(a.offset.into());
    }

    fn inst(&mut self, inst: &Inst) {
        match *inst {
            Inst::Ldg { ty, dst, ref addr } => {
                self.bytes(&[op::LDG, ty as u8, dst.0]);
                self.addr(addr);
            }
            Inst::Stg { ty, src, ref addr } => {
                self.bytes(&[op::STG, ty as u8]);
                self.src(src);
                self.addr(addr);
            }
            Inst::Lds { ty, dst, ref addr } => {
                self.bytes(&[op::LDS, ty as u8, dst.0]);
                self.shared(addr);
            }
            Inst::Sts { ty, src, ref addr } => {
                self.bytes(&[op::STS, ty as u8]);
                self.src(src);
                self.shared(addr);
            }
            Inst::Mov { ty, dst, src } => {
                self.bytes(&[op::MOV, ty as u8, dst.0]);
                self.src(src);
            }
            Inst::Cvt { to, from, dst, src } => {
                self.bytes(&[op::CVT, to as u8, from as u8, dst.0]);
                self.src(src);
            }
            Inst::Bin { op, ty, dst, a, b } => {
                self.bytes(&[op::BIN + op as u8, ty as u8, dst.0]);
                self.src(a);
                self.src(b);
            }
            Inst::Un { op, ty, dst, a } => {
                self.bytes(&[op::UN + op as u8, ty as u8, dst.0]);
                self.src(a);
            }
            Inst::Fma { ty, dst, a, b, c } => {
                self.bytes(&[op::FMA, ty as u8, dst.0]);
                self.src(a);
                self.src(b);
                self.src(c);
            }
            Inst::Setp { cmp, ty, dst, a, b } => {
                self.bytes(&[op::SETP + cmp as u8, ty as u8, dst.0]);
                self.src(a);
                self.src(b);
            }
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            } => {
                self.bytes(&[op::SEL, ty as u8, dst.0, pred.0]);
                self.src(a);
                self.src(b);
            }
            Inst::Bra { target, guard } => {
                match guard {
                    None => self.u8(op::BRA),
                    Some(Guard {
                        pred,
                        negate: false,
                    }) => self.bytes(&[op::BRA_IF, pred.0]),
                    Some(Guard { pred, negate: true }) => self.bytes(&[op::BRA_IF_NOT, pred.0]),
                }
                self.uleb(target.into());
            }
            Inst::Loop { counter, target } => {
                self.bytes(&[op::LOOP, counter.0]);
                self.uleb(target.into());
            }
            Inst::Call { target } => {
                self.u8(op::CALL);
                self.uleb(target.into());
            }
            Inst::Ret => self.u8(op::RET),
            Inst::Exit => self.u8(op::EXIT),
            Inst::BarSync => self.u8(op::BAR_SYNC),
            Inst::MemFence => self.u8(op::MEMFENCE),
            Inst::Reduce { op, ty, dst, src } => {
                self.bytes(&[op::REDUCE + op as u8, ty as u8, dst.0]);
                self.src(src);
            }
        }
    }
}

/// Maps small negative and positive offsets to small unsigned numbers (0, -1, 1, -2, ... to
/// 0, 1, 2, 3, ...) so that they get short uleb128 encodings.
fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

// ------------------------------------------------------------------------------------------
// Decoding

/// Decodes bytecode into a definition without verifying it (use
/// [`Program::from_bytes`](crate::Program::from_bytes) to also verify). Accepts exactly the
/// outputs of [`encode`] for definitions within the count limits; anything else is an error
/// with the byte offset of the problem. Never panics.
pub fn decode(bytes: &[u8]) -> Result<ProgramDef, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    r.header()?;
    let name = r.str("kernel name")?;
    let count = r.count("parameter count", MAX_PARAMS)?;
    let mut params = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.str("parameter name")?;
        let at = r.pos;
        let kind = match r.u8("parameter kind")? {
            KIND_BUFFER => ParamKind::Buffer(r.ty("parameter type")?),
            KIND_SCALAR => ParamKind::Scalar(r.ty("parameter type")?),
            byte => {
                return Err(DecodeError::InvalidTag {
                    offset: at,
                    byte,
                    what: "parameter kind",
                })
            }
        };
        params.push(Param { name, kind });
    }
    let shared_bytes = r.uleb_u32("shared memory size")?;
    let at = r.pos;
    let launch = match r.u8("launch flag")? {
        0 => None,
        1 => Some(LaunchConfig {
            grid: r.uleb_u32("launch grid size")?,
            block: r.uleb_u32("launch block size")?,
        }),
        byte => {
            return Err(DecodeError::InvalidTag {
                offset: at,
                byte,
                what: "launch flag",
            })
        }
    };
    let count = r.count("instruction count", MAX_INSTS)?;
    // Every instruction takes at least one byte, so capping the capacity by the bytes left
    // keeps a hostile count from reserving memory the input cannot fill.
    let mut insts = Vec::with_capacity(count.min(r.remaining()));
    for _ in 0..count {
        insts.push(r.inst()?);
    }
    if r.pos != bytes.len() {
        return Err(DecodeError::TrailingBytes { offset: r.pos });
    }
    Ok(ProgramDef {
        name,
        params,
        shared_bytes,
        launch,
        insts,
    })
}

/// A cursor over the input. Every read checks bounds and reports errors with the offset of the
/// item it was reading.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

type Result<T, E = DecodeError> = std::result::Result<T, E>;

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Reads `n` bytes of an item starting at `start`.
    fn take(&mut self, n: usize, start: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        match end.and_then(|end| self.bytes.get(self.pos..end)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(DecodeError::Truncated {
                offset: start,
                what,
            }),
        }
    }

    fn header(&mut self) -> Result<()> {
        // A prefix of the magic is a truncated file; anything else is not bytecode at all.
        let n = self.bytes.len().min(MAGIC.len());
        if self.bytes.get(..n) != MAGIC.get(..n) {
            return Err(DecodeError::BadMagic);
        }
        self.take(MAGIC.len(), 0, "magic")?;
        let start = self.pos;
        let v = self.take(2, start, "version")?;
        let found = v
            .try_into()
            .map(u16::from_le_bytes)
            .map_err(|_| DecodeError::Truncated {
                offset: start,
                what: "version",
            })?;
        if found != VERSION {
            return Err(DecodeError::UnsupportedVersion {
                found,
                supported: VERSION,
            });
        }
        Ok(())
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(DecodeError::Truncated {
                offset: self.pos,
                what,
            }),
        }
    }

    /// An unsigned LEB128 number of at most 64 bits, minimally encoded.
    fn uleb(&mut self, what: &'static str) -> Result<u64> {
        let start = self.pos;
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = match self.bytes.get(self.pos) {
                Some(&b) => b,
                None => {
                    return Err(DecodeError::Truncated {
                        offset: start,
                        what,
                    })
                }
            };
            self.pos += 1;
            let payload = u64::from(byte & 0x7f);
            // The tenth group holds bit 63 only.
            if shift == 63 && payload > 1 {
                return Err(DecodeError::Overflow {
                    offset: start,
                    what,
                });
            }
            value |= payload << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(DecodeError::NonCanonical {
                        offset: start,
                        what,
                    });
                }
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError::Overflow {
                    offset: start,
                    what,
                });
            }
        }
    }

    fn uleb_u32(&mut self, what: &'static str) -> Result<u32> {
        let start = self.pos;
        let v = self.uleb(what)?;
        u32::try_from(v).map_err(|_| DecodeError::Overflow {
            offset: start,
            what,
        })
    }

    /// A count, checked against `max` before the caller allocates for it.
    fn count(&mut self, what: &'static str, max: usize) -> Result<usize> {
        let start = self.pos;
        let count = self.uleb(what)?;
        match usize::try_from(count) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(DecodeError::TooLarge {
                offset: start,
                what,
                count,
                max: max as u64,
            }),
        }
    }

    /// A uleb128 length and that many bytes of UTF-8.
    fn str(&mut self, what: &'static str) -> Result<String> {
        let start = self.pos;
        let len = self.uleb(what)?;
        // A length that does not fit in usize cannot fit in the input either.
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated {
            offset: start,
            what,
        })?;
        let text_start = self.pos;
        let bytes = self.take(len, start, what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(DecodeError::InvalidUtf8 {
                offset: text_start + e.valid_up_to(),
                what,
            }),
        }
    }

    /// A byte that must be one of the encodings `decode` accepts.
    fn tagged<T>(&mut self, what: &'static str, decode: impl Fn(u8) -> Option<T>) -> Result<T> {
        let offset = self.pos;
        let byte = self.u8(what)?;
        decode(byte).ok_or(DecodeError::InvalidTag { offset, byte, what })
    }

    fn ty(&mut self, what: &'static str) -> Result<Ty> {
        self.tagged(what, Ty::from_u8)
    }

    fn reg(&mut self, what: &'static str) -> Result<Reg> {
        self.u8(what).map(Reg)
    }

    fn pred(&mut self, what: &'static str) -> Result<Pred> {
        self.u8(what).map(Pred)
    }

    fn src(&mut self) -> Result<Src> {
        let offset = self.pos;
        match self.u8("operand tag")? {
            tag::REG => self.reg("operand register").map(Src::Reg),
            tag::SPECIAL => self
                .tagged("special register", Special::from_u8)
                .map(Src::Special),
            tag::PARAM => self.u8("operand parameter index").map(Src::Param),
            tag::IMM => self.uleb("immediate").map(Src::Imm),
            byte => Err(DecodeError::InvalidTag {
                offset,
                byte,
                what: "operand tag",
            }),
        }
    }

    fn index(&mut self) -> Result<(Src, u8)> {
        Ok((self.src()?, self.u8("address scale")?))
    }

    fn addr(&mut self) -> Result<Addr> {
        let offset = self.pos;
        Ok(match self.u8("address mode")? {
            mode::BUFFER_OFFSET => Addr::BufferOffset {
                buf: self.u8("buffer parameter index")?,
                offset: self.uleb_u32("buffer offset")?,
            },
            mode::BUFFER_INDEX => {
                let buf = self.u8("buffer parameter index")?;
                let (index, scale) = self.index()?;
                Addr::BufferIndex { buf, index, scale }
            }
            m @ (mode::PHI | mode::PHI_INDEX) => Addr::Phi {
                class: self.u8("phi class")?,
                page: self.u8("phi page")?,
                byte: self.u8("phi byte")?,
                index: if m == mode::PHI_INDEX {
                    Some(self.index()?)
                } else {
                    None
                },
            },
            mode::REGISTER_INDIRECT => Addr::RegisterIndirect {
                base: self.reg("base register")?,
                offset: unzigzag(self.uleb_u32("register-indirect offset")?),
            },
            mode::REGISTER_INDIRECT_COMPUTED => Addr::RegisterIndirectComputed {
                handle: self.reg("handle register")?,
                offset: self.reg("offset register")?,
            },
            byte => {
                return Err(DecodeError::InvalidTag {
                    offset,
                    byte,
                    what: "address mode",
                })
            }
        })
    }

    fn shared(&mut self) -> Result<SharedAddr> {
        let offset = self.pos;
        let index = match self.u8("shared address mode")? {
            mode::SHARED => None,
            mode::SHARED_INDEX => Some(self.index()?),
            byte => {
                return Err(DecodeError::InvalidTag {
                    offset,
                    byte,
                    what: "shared address mode",
                })
            }
        };
        Ok(SharedAddr {
            index,
            offset: self.uleb_u32("shared offset")?,
        })
    }

    fn target(&mut self) -> Result<u32> {
        self.uleb_u32("branch target")
    }

    fn inst(&mut self) -> Result<Inst> {
        let offset = self.pos;
        let opcode = self.u8("opcode")?;
        let sub = |base: u8| opcode.wrapping_sub(base);
        Ok(match opcode {
            op::LDG => Inst::Ldg {
                ty: self.ty("type")?,
                dst: self.reg("destination register")?,
                addr: self.addr()?,
            },
            op::STG => Inst::Stg {
                ty: self.ty("type")?,
                src: self.src()?,
                addr: self.addr()?,
            },
            op::LDS => Inst::Lds {
                ty: self.ty("type")?,
                dst: self.reg("destination register")?,
                addr: self.shared()?,
            },
            op::STS => Inst::Sts {
                ty: self.ty("type")?,
                src: self.src()?,
                addr: self.shared()?,
            },
            op::MOV => Inst::Mov {
                ty: self.ty("type")?,
                dst: self.reg("destination register")?,
                src: self.src()?,
            },
            op::CVT => Inst::Cvt {
                to: self.ty("target type")?,
                from: self.ty("source type")?,
                dst: self.reg("destination register")?,
                src: self.src()?,
            },
            op::FMA => Inst::Fma {
                ty: self.ty("type")?,
                dst: self.reg("destination register")?,
                a: self.src()?,
                b: self.src()?,
                c: self.src()?,
            },
            op::SEL => Inst::Sel {
                ty: self.ty("type")?,
                dst: self.reg("destination register")?,
                pred: self.pred("selector predicate")?,
                a: self.src()?,
                b: self.src()?,
            },
            op::BRA => Inst::Bra {
                guard: None,
                target: self.target()?,
            },
            op::BRA_IF | op::BRA_IF_NOT => Inst::Bra {
                guard: Some(Guard {
                    pred: self.pred("guard predicate")?,
                    negate: opcode == op::BRA_IF_NOT,
                }),
                target: self.target()?,
            },
            op::LOOP => Inst::Loop {
                counter: self.reg("loop counter")?,
                target: self.target()?,
            },
            op::CALL => Inst::Call {
                target: self.target()?,
            },
            op::RET => Inst::Ret,
            op::EXIT => Inst::Exit,
            op::BAR_SYNC => Inst::BarSync,
            op::MEMFENCE => Inst::MemFence,
            _ => {
                // The families with a sub-operation in the opcode's low bits.
                if let Some(op) = BinOp::from_u8(sub(op::BIN)) {
                    Inst::Bin {
                        op,
                        ty: self.ty("type")?,
                        dst: self.reg("destination register")?,
                        a: self.src()?,
                        b: self.src()?,
                    }
                } else if let Some(op) = UnOp::from_u8(sub(op::UN)) {
                    Inst::Un {
                        op,
                        ty: self.ty("type")?,
                        dst: self.reg("destination register")?,
                        a: self.src()?,
                    }
                } else if let Some(cmp) = Cmp::from_u8(sub(op::SETP)) {
                    Inst::Setp {
                        cmp,
                        ty: self.ty("type")?,
                        dst: self.pred("destination predicate")?,
                        a: self.src()?,
                        b: self.src()?,
                    }
                } else if let Some(op) = RedOp::from_u8(sub(op::REDUCE)) {
                    Inst::Reduce {
                        op,
                        ty: self.ty("type")?,
                        dst: self.reg("destination register")?,
                        src: self.src()?,
                    }
                } else {
                    return Err(DecodeError::UnknownOpcode {
                        offset,
                        byte: opcode,
                    });
                }
            }
        })
    }
}
