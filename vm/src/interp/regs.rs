//! The structure-of-arrays register file of one block, and typed lane values.
//!
//! Each register row holds one 64-bit register for every lane of the block, split into two
//! planes: the low 32 bits of all lanes (`lo`, contiguous), then the high 32 bits (`hi`). An
//! operation on a type of at most 32 bits reads and writes only the `lo` plane, so its lane
//! loops run over contiguous `u32`s (4 or 8 lanes per vector instruction); a write of such a
//! type must leave the high bits zero (docs/ISA.md, section 2), which the `hi_zero` flag of
//! each row makes free in the common case: while it is set the row's `hi` plane is known to be
//! all zero and need not be rewritten.

use super::Opnd;

/// A value type as the lane loops see it: how to read it from a register's two 32-bit halves
/// and how to write it back, zero-extended.
pub(crate) trait Lane: Copy + PartialOrd + Send + Sync + 'static {
    /// True for the 64-bit types, the only ones that read or write the `hi` plane.
    const WIDE: bool;
    /// The value of a register whose low and high halves are `lo` and `hi` (`hi` is ignored
    /// for types of at most 32 bits).
    fn from_parts(lo: u32, hi: u32) -> Self;
    /// The low half of the zero-extended register image.
    fn lo(self) -> u32;
    /// The high half of the zero-extended register image (0 unless `WIDE`).
    fn hi(self) -> u32;
    /// The value of a 64-bit register image.
    #[inline(always)]
    fn from_u64(v: u64) -> Self {
        Self::from_parts(v as u32, (v >> 32) as u32)
    }
}

macro_rules! narrow_int {
    ($($t:ty, $u:ty;)*) => {$(
        impl Lane for $t {
            const WIDE: bool = false;
            #[inline(always)]
            fn from_parts(lo: u32, _hi: u32) -> Self {
                lo as $u as $t
            }
            #[inline(always)]
            fn lo(self) -> u32 {
                self as $u as u32
            }
            #[inline(always)]
            fn hi(self) -> u32 {
                0
            }
        }
    )*};
}
narrow_int!(i8, u8; i16, u16; i32, u32; u8, u8; u16, u16; u32, u32;);

macro_rules! wide_int {
    ($($t:ty;)*) => {$(
        impl Lane for $t {
            const WIDE: bool = true;
            #[inline(always)]
            fn from_parts(lo: u32, hi: u32) -> Self {
                (lo as u64 | (hi as u64) << 32) as $t
            }
            #[inline(always)]
            fn lo(self) -> u32 {
                self as u64 as u32
            }
            #[inline(always)]
            fn hi(self) -> u32 {
                (self as u64 >> 32) as u32
            }
        }
    )*};
}
wide_int!(i64; u64;);

impl Lane for f32 {
    const WIDE: bool = false;
    #[inline(always)]
    fn from_parts(lo: u32, _hi: u32) -> Self {
        f32::from_bits(lo)
    }
    #[inline(always)]
    fn lo(self) -> u32 {
        self.to_bits()
    }
    #[inline(always)]
    fn hi(self) -> u32 {
        0
    }
}

impl Lane for f64 {
    const WIDE: bool = true;
    #[inline(always)]
    fn from_parts(lo: u32, hi: u32) -> Self {
        f64::from_bits(lo as u64 | (hi as u64) << 32)
    }
    #[inline(always)]
    fn lo(self) -> u32 {
        self.to_bits() as u32
    }
    #[inline(always)]
    fn hi(self) -> u32 {
        (self.to_bits() >> 32) as u32
    }
}

/// The registers of one block: `rows` rows of `n` lanes (see the module docs).
pub(crate) struct Regs {
    /// Lanes per block.
    pub(crate) n: usize,
    /// Row `r` is `data[r*2n .. r*2n + n]` (lo) followed by `data[r*2n + n .. (r+1)*2n]` (hi).
    pub(crate) data: Vec<u32>,
    /// `hi_zero[r]` implies the `hi` plane of row `r` is all zero.
    pub(crate) hi_zero: Vec<bool>,
}

impl Regs {
    pub(crate) fn new() -> Regs {
        Regs {
            n: 0,
            data: Vec::new(),
            hi_zero: Vec::new(),
        }
    }

    /// Resizes for `rows` rows of `n` lanes; the contents are unspecified (callers reset
    /// `hi_zero` and the rows they need).
    pub(crate) fn resize(&mut self, rows: usize, n: usize) {
        self.n = n;
        self.data.resize(rows * 2 * n, 0);
        self.hi_zero.resize(rows, false);
    }

    #[inline(always)]
    fn base(&self, r: u32) -> usize {
        r as usize * 2 * self.n
    }

    /// The `lo` plane of row `r`.
    #[inline(always)]
    pub(crate) fn lo(&self, r: u32) -> &[u32] {
        let b = self.base(r);
        &self.data[b..b + self.n]
    }

    /// The `hi` plane of row `r`.
    #[inline(always)]
    pub(crate) fn hi(&self, r: u32) -> &[u32] {
        let b = self.base(r) + self.n;
        &self.data[b..b + self.n]
    }

    /// Both planes of row `r`, mutably, for writes that maintain `hi_zero` themselves.
    #[inline(always)]
    pub(crate) fn row_mut(&mut self, r: u32) -> (&mut [u32], &mut [u32]) {
        let (b, n) = (self.base(r), self.n);
        self.data[b..b + 2 * n].split_at_mut(n)
    }

    /// Lane `l` of operand `o`, read as `T`.
    #[inline(always)]
    pub(crate) fn get<T: Lane>(&self, o: Opnd, l: usize, uni: &[u64]) -> T {
        match o {
            Opnd::Row(r) => {
                let b = self.base(r);
                let hi = if T::WIDE {
                    self.data[b + self.n + l]
                } else {
                    0
                };
                T::from_parts(self.data[b + l], hi)
            }
            Opnd::Uni(k) => T::from_u64(uni[k as usize]),
        }
    }

    /// Lane `l` of row `r` as a `u64`.
    #[inline(always)]
    pub(crate) fn get_u64(&self, r: u32, l: usize) -> u64 {
        let b = self.base(r);
        self.data[b + l] as u64 | (self.data[b + self.n + l] as u64) << 32
    }

    /// Writes `v` to lane `l` of row `d`, zero-extended.
    #[inline(always)]
    pub(crate) fn set<T: Lane>(&mut self, d: u32, l: usize, v: T) {
        let b = self.base(d);
        self.data[b + l] = v.lo();
        if T::WIDE {
            self.data[b + self.n + l] = v.hi();
            self.hi_zero[d as usize] = false;
        } else if !self.hi_zero[d as usize] {
            self.data[b + self.n + l] = 0;
        }
    }

    /// As [`Regs::finish_full`] after lanes `first .. first + len` of row `d` were written
    /// as `T` (the whole row, or a run of it).
    #[inline(always)]
    pub(crate) fn finish_run<T: Lane>(&mut self, d: u32, (first, len): (usize, usize)) {
        if len == self.n {
            self.finish_full::<T>(d);
        } else if T::WIDE {
            self.hi_zero[d as usize] = false;
        } else if !self.hi_zero[d as usize] {
            let b = self.base(d) + self.n + first;
            self.data[b..b + len].fill(0);
        }
    }

    /// After a write of every lane's `lo` plane of row `d` with a `T` result: make the `hi`
    /// plane right (zero for a narrow `T`; a wide `T` wrote it already).
    #[inline(always)]
    pub(crate) fn finish_full<T: Lane>(&mut self, d: u32) {
        if T::WIDE {
            self.hi_zero[d as usize] = false;
        } else if !self.hi_zero[d as usize] {
            let b = self.base(d) + self.n;
            let n = self.n;
            self.data[b..b + n].fill(0);
            self.hi_zero[d as usize] = true;
        }
    }

    /// Splits off row `d` for writing: its `lo` and `hi` planes and read access to every other
    /// row.
    #[inline(always)]
    pub(crate) fn split(&mut self, d: u32) -> (&mut [u32], &mut [u32], Rest<'_>) {
        let n = self.n;
        let s = 2 * n;
        let (left, right) = self.data.split_at_mut(d as usize * s);
        let (row, right) = right.split_at_mut(s);
        let (lo, hi) = row.split_at_mut(n);
        (lo, hi, Rest { left, right, d, n })
    }

    /// Read access to every row.
    #[inline(always)]
    pub(crate) fn all(&self) -> Rest<'_> {
        Rest {
            left: &self.data,
            right: &[],
            d: u32::MAX,
            n: self.n,
        }
    }
}

/// Read access to the rows other than the destination row `d` (see [`Regs::split`]).
pub(crate) struct Rest<'a> {
    left: &'a [u32],
    right: &'a [u32],
    d: u32,
    n: usize,
}

/// How a full-block lane loop reads one operand.
pub(crate) enum Acc<'a, T> {
    /// Another row than the destination: its `lo` and `hi` planes.
    Row(&'a [u32], &'a [u32]),
    /// The destination row itself (read lane `i` before writing lane `i`).
    Dst,
    /// A uniform value.
    Uni(T),
}

impl<'a> Rest<'a> {
    #[inline(always)]
    pub(crate) fn row(&self, r: u32) -> (&'a [u32], &'a [u32]) {
        let s = 2 * self.n;
        let row: &'a [u32] = if r < self.d {
            &self.left[r as usize * s..][..s]
        } else {
            &self.right[(r - self.d - 1) as usize * s..][..s]
        };
        row.split_at(self.n)
    }

    #[inline(always)]
    pub(crate) fn acc<T: Lane>(&self, o: Opnd, uni: &[u64]) -> Acc<'a, T> {
        match o {
            Opnd::Uni(k) => Acc::Uni(T::from_u64(uni[k as usize])),
            Opnd::Row(r) if r == self.d => Acc::Dst,
            Opnd::Row(r) => {
                let (lo, hi) = self.row(r);
                Acc::Row(lo, hi)
            }
        }
    }
}

/// Reads lane `i` of an operand inside a full-block lane loop; `dlo`/`dhi` are the
/// destination row's planes (read by [`D`]).
pub(crate) trait Get<T>: Copy {
    /// Asserts the operand covers `n` lanes, so the loop's indexing needs no bounds checks.
    fn check(self, n: usize);
    fn get(self, i: usize, dlo: &[u32], dhi: &[u32]) -> T;
}

/// A row operand.
#[derive(Clone, Copy)]
pub(crate) struct R<'a>(pub(crate) &'a [u32], pub(crate) &'a [u32]);
/// The destination row as an operand.
#[derive(Clone, Copy)]
pub(crate) struct D;
/// A uniform operand.
#[derive(Clone, Copy)]
pub(crate) struct U<T>(pub(crate) T);

impl<T: Lane> Get<T> for R<'_> {
    #[inline(always)]
    fn check(self, n: usize) {
        assert!(self.0.len() >= n && (!T::WIDE || self.1.len() >= n));
    }
    #[inline(always)]
    fn get(self, i: usize, _: &[u32], _: &[u32]) -> T {
        T::from_parts(self.0[i], if T::WIDE { self.1[i] } else { 0 })
    }
}

impl<T: Lane> Get<T> for D {
    #[inline(always)]
    fn check(self, _: usize) {}
    #[inline(always)]
    fn get(self, i: usize, dlo: &[u32], dhi: &[u32]) -> T {
        T::from_parts(dlo[i], if T::WIDE { dhi[i] } else { 0 })
    }
}

impl<T: Lane> Get<T> for U<T> {
    #[inline(always)]
    fn check(self, _: usize) {}
    #[inline(always)]
    fn get(self, _: usize, _: &[u32], _: &[u32]) -> T {
        self.0
    }
}

/// Binds accessors for each `Acc` and evaluates the body once per combination (so the body's
/// lane loop is monomorphised for row, destination-row and uniform operands).
macro_rules! with_acc {
    (; $body:expr) => { $body };
    ($acc:expr => $x:ident $(, $accs:expr => $xs:ident)* ; $body:expr) => {
        match $acc {
            $crate::interp::regs::Acc::Row(lo, hi) => {
                let $x = $crate::interp::regs::R(lo, hi);
                with_acc!($($accs => $xs),* ; $body)
            }
            $crate::interp::regs::Acc::Dst => {
                let $x = $crate::interp::regs::D;
                with_acc!($($accs => $xs),* ; $body)
            }
            $crate::interp::regs::Acc::Uni(v) => {
                let $x = $crate::interp::regs::U(v);
                with_acc!($($accs => $xs),* ; $body)
            }
        }
    };
}
pub(crate) use with_acc;
