//! Mnemonics: `add.f32`, `setp.ge.u32`, `cvt.f32.i32`, `bar.sync`... decoded into the operation
//! and its type suffixes, case-insensitively.

use std::cell::Cell;
use std::ops::Range;

use holovm_isa::{BinOp, Cmp, RedOp, Ty, UnOp};

use crate::diagnostics::Diag;

/// A decoded mnemonic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mnemonic {
    Ldg(Ty),
    Stg(Ty),
    Lds(Ty),
    Sts(Ty),
    Mov(Ty),
    MovImm(Ty),
    Cvt { to: Ty, from: Ty },
    Bin(BinOp, Ty),
    Un(UnOp, Ty),
    Fma(Ty),
    Setp(Cmp, Ty),
    Sel(Ty),
    Bra,
    Loop,
    Call,
    Ret,
    Exit,
    BarSync,
    MemFence,
    Reduce(RedOp, Ty),
}

/// What follows the base name.
#[derive(Clone, Copy)]
enum Shape {
    /// `.T`
    Typed(fn(Ty) -> Mnemonic),
    /// `.TO.FROM`
    Cvt,
    /// `.CMP.T`
    Setp,
    /// `.OP.T`
    Reduce,
    /// no suffix
    Bare(Mnemonic),
    /// `bar.sync`
    Bar,
}

/// Every base name, with the form to suggest for it.
const BASES: &[&str] = &[
    "ldg", "stg", "lds", "sts", "mov", "mov_imm", "cvt", "add", "sub", "mul", "div", "rem", "min",
    "max", "and", "or", "xor", "shl", "shr", "abs", "neg", "not", "exp", "log", "log2", "sqrt",
    "rsqrt", "sin", "cos", "tanh", "sigmoid", "fma", "setp", "sel", "bra", "loop", "call", "ret",
    "exit", "bar", "memfence", "reduce",
];

fn shape(base: &str) -> Option<Shape> {
    if let Some(op) = BinOp::ALL.into_iter().find(|o| o.name() == base) {
        // Non-capturing closures cannot carry `op`, so dispatch per op value below.
        return Some(bin_shape(op));
    }
    if let Some(op) = UnOp::ALL.into_iter().find(|o| o.name() == base) {
        return Some(un_shape(op));
    }
    Some(match base {
        "ldg" => Shape::Typed(Mnemonic::Ldg),
        "stg" => Shape::Typed(Mnemonic::Stg),
        "lds" => Shape::Typed(Mnemonic::Lds),
        "sts" => Shape::Typed(Mnemonic::Sts),
        "mov" => Shape::Typed(Mnemonic::Mov),
        "mov_imm" => Shape::Typed(Mnemonic::MovImm),
        "fma" => Shape::Typed(Mnemonic::Fma),
        "sel" => Shape::Typed(Mnemonic::Sel),
        "cvt" => Shape::Cvt,
        "setp" => Shape::Setp,
        "reduce" => Shape::Reduce,
        "bra" => Shape::Bare(Mnemonic::Bra),
        "loop" => Shape::Bare(Mnemonic::Loop),
        "call" => Shape::Bare(Mnemonic::Call),
        "ret" => Shape::Bare(Mnemonic::Ret),
        "exit" => Shape::Bare(Mnemonic::Exit),
        "memfence" => Shape::Bare(Mnemonic::MemFence),
        "bar" => Shape::Bar,
        _ => return None,
    })
}

macro_rules! op_shapes {
    ($f:ident, $enum:ident, $variant:ident, [$($op:ident),*]) => {
        fn $f(op: $enum) -> Shape {
            match op {
                $($enum::$op => Shape::Typed(|t| Mnemonic::$variant($enum::$op, t)),)*
            }
        }
    };
}
op_shapes!(
    bin_shape,
    BinOp,
    Bin,
    [Add, Sub, Mul, Div, Rem, Min, Max, And, Or, Xor, Shl, Shr]
);
op_shapes!(
    un_shape,
    UnOp,
    Un,
    [Abs, Neg, Not, Exp, Log, Log2, Sqrt, Rsqrt, Sin, Cos, Tanh, Sigmoid]
);

/// The dot-separated parts of a mnemonic, lowercased, with their spans.
fn parts(text: &str, start: usize) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut offset = start;
    for part in text.split('.') {
        out.push((part.to_ascii_lowercase(), offset..offset + part.len()));
        offset += part.len() + 1;
    }
    out
}

fn parse_ty((name, span): &(String, Range<usize>)) -> Result<Ty, Diag> {
    Ty::from_name(name).ok_or_else(|| {
        let shown = if name.is_empty() {
            "missing type".to_string()
        } else {
            format!("unknown type `{name}`")
        };
        Diag::new(span.clone(), shown).help("types are i8 i16 i32 i64 u8 u16 u32 u64 f32 f64")
    })
}

/// Decodes the mnemonic `text` written at `span`.
pub(crate) fn parse_mnemonic(text: &str, span: Range<usize>) -> Result<Mnemonic, Diag> {
    let parts = parts(text, span.start);
    let Some((base, base_span)) = parts.first() else {
        return Err(Diag::new(span, "expected an instruction"));
    };
    let Some(shape) = shape(base) else {
        let help = closest(base, BASES.iter().copied())
            .map(|s| if s == "bar" { "bar.sync" } else { s })
            .map(|s| format!("did you mean `{s}`?"));
        return Err(
            Diag::new(base_span.clone(), format!("unknown mnemonic `{base}`")).help_opt(help),
        );
    };
    let (want, form) = match shape {
        Shape::Typed(_) => (1, format!("{base}.T")),
        Shape::Cvt => (2, "cvt.TO.FROM".to_string()),
        Shape::Setp => (2, "setp.CMP.T".to_string()),
        Shape::Reduce => (2, "reduce.OP.T".to_string()),
        Shape::Bare(_) => (0, base.clone()),
        Shape::Bar => (1, "bar.sync".to_string()),
    };
    let suffixes = parts.get(1..).unwrap_or_default();
    if suffixes.len() < want {
        let example = match shape {
            Shape::Cvt => "for example `cvt.f32.i32`".to_string(),
            Shape::Setp => {
                "for example `setp.lt.u32`; comparisons are eq ne lt le gt ge".to_string()
            }
            Shape::Reduce => {
                "for example `reduce.add.f32`; operations are add min max mul".to_string()
            }
            _ => format!("for example `{base}.f32` or `{base}.u32`"),
        };
        return Err(Diag::new(span, format!("`{base}` needs a suffix: `{form}`")).help(example));
    }
    if let Some((extra, extra_span)) = suffixes.get(want) {
        let message = if want == 0 {
            format!("`{base}` takes no type suffix")
        } else {
            format!("unexpected suffix `.{extra}`: the form is `{form}`")
        };
        let full = extra_span.start.saturating_sub(1)..span.end;
        return Err(Diag::new(full, message));
    }
    let at = |i: usize| suffixes.get(i).cloned().unwrap_or_default();
    Ok(match shape {
        Shape::Typed(make) => make(parse_ty(&at(0))?),
        Shape::Cvt => Mnemonic::Cvt {
            to: parse_ty(&at(0))?,
            from: parse_ty(&at(1))?,
        },
        Shape::Setp => {
            let (name, cspan) = at(0);
            let cmp = Cmp::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| {
                    Diag::new(cspan, format!("unknown comparison `{name}`"))
                        .help("comparisons are eq ne lt le gt ge")
                })?;
            Mnemonic::Setp(cmp, parse_ty(&at(1))?)
        }
        Shape::Reduce => {
            let (name, rspan) = at(0);
            let op = RedOp::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| {
                    Diag::new(rspan, format!("unknown reduction `{name}`"))
                        .help("reductions are add min max mul")
                })?;
            Mnemonic::Reduce(op, parse_ty(&at(1))?)
        }
        Shape::Bare(m) => m,
        Shape::Bar => {
            let (name, sspan) = at(0);
            if name != "sync" {
                return Err(Diag::new(sspan, format!("unknown barrier `bar.{name}`"))
                    .help("the barrier is `bar.sync`"));
            }
            Mnemonic::BarSync
        }
    })
}

/// Longest name, in characters, for which a close candidate is looked for: longer names are
/// not typos of anything worth suggesting, and the distance is quadratic in the length.
const MAX_SUGGEST_CHARS: usize = 64;

/// Work allowed for the suggestions of one assembly run, in candidates looked at plus
/// distance-table cells (a few tens of milliseconds). A file with thousands of undefined names
/// would otherwise cost undefined names x candidates x length^2; once the budget is spent,
/// the remaining errors come without a suggestion.
pub(crate) const SUGGEST_BUDGET: usize = 20_000_000;

/// The candidate closest to `word` in edit distance (adjacent transpositions count as one
/// edit), if it is close enough to be a plausible typo. Ties go to the smallest candidate, so
/// the answer does not depend on the candidates' order.
pub(crate) fn closest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    closest_within(word, candidates, &Cell::new(SUGGEST_BUDGET))
}

/// [`closest`], spending at most `budget` (see [`SUGGEST_BUDGET`]); it returns the best
/// candidate among those it could afford to look at.
pub(crate) fn closest_within<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    budget: &Cell<usize>,
) -> Option<&'c str> {
    let word: Vec<char> = word.chars().take(MAX_SUGGEST_CHARS + 1).collect();
    if word.len() > MAX_SUGGEST_CHARS {
        return None;
    }
    let limit = (word.len() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    let mut cand: Vec<char> = Vec::new();
    for c in candidates {
        let left = budget.get();
        if left == 0 {
            break;
        }
        budget.set(left - 1);
        // A length difference alone costs that many edits; reading past it is wasted work.
        cand.clear();
        cand.extend(c.chars().take(word.len() + limit + 1));
        if cand.len().abs_diff(word.len()) > limit {
            continue;
        }
        budget.set(budget.get().saturating_sub(word.len() * cand.len()));
        if let Some(d) = edit_distance(&word, &cand, limit) {
            if best.is_none_or(|(bd, bc)| (d, c) < (bd, bc)) {
                best = Some((d, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance, with three rolling rows of the DP table, or `None`
/// when it exceeds `limit` (found as soon as a whole row exceeds it).
fn edit_distance(a: &[char], b: &[char], limit: usize) -> Option<usize> {
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = Vec::with_capacity(b.len() + 1);
    for (i, &ca) in a.iter().enumerate() {
        cur.clear();
        cur.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let at = |row: &[usize], k: usize| row.get(k).copied().unwrap_or(usize::MAX - 1);
            let mut v = (at(&prev, j + 1) + 1)
                .min(at(&cur, j) + 1)
                .min(at(&prev, j) + usize::from(ca != cb));
            let swapped = i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca);
            if swapped {
                v = v.min(at(&before, j - 1) + 1);
            }
            cur.push(v);
        }
        // Every path to the last cell crosses this row, and costs never decrease along one.
        if cur.iter().all(|&v| v > limit) {
            return None;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().filter(|&d| d <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str) -> Result<Mnemonic, Diag> {
        parse_mnemonic(t, 0..t.len())
    }

    #[test]
    fn decodes() {
        assert_eq!(m("add.f32"), Ok(Mnemonic::Bin(BinOp::Add, Ty::F32)));
        assert_eq!(m("ADD.F32"), Ok(Mnemonic::Bin(BinOp::Add, Ty::F32)));
        assert_eq!(m("log2.f64"), Ok(Mnemonic::Un(UnOp::Log2, Ty::F64)));
        assert_eq!(
            m("cvt.f32.i32"),
            Ok(Mnemonic::Cvt {
                to: Ty::F32,
                from: Ty::I32
            })
        );
        assert_eq!(m("setp.ge.u32"), Ok(Mnemonic::Setp(Cmp::Ge, Ty::U32)));
        assert_eq!(m("reduce.max.i8"), Ok(Mnemonic::Reduce(RedOp::Max, Ty::I8)));
        assert_eq!(m("Bar.Sync"), Ok(Mnemonic::BarSync));
        assert_eq!(m("mov_imm.u64"), Ok(Mnemonic::MovImm(Ty::U64)));
        assert_eq!(m("exit"), Ok(Mnemonic::Exit));
        for op in BinOp::ALL {
            assert_eq!(
                m(&format!("{}.i32", op.name())),
                Ok(Mnemonic::Bin(op, Ty::I32))
            );
        }
        for op in UnOp::ALL {
            assert_eq!(
                m(&format!("{}.f32", op.name())),
                Ok(Mnemonic::Un(op, Ty::F32))
            );
        }
    }

    #[test]
    fn errors() {
        let e = m("ad.f32").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.span.clone()),
            ("unknown mnemonic `ad`", 0..2)
        );
        assert_eq!(e.help.as_deref(), Some("did you mean `add`?"));
        assert_eq!(
            m("barr.sync").unwrap_err().help.as_deref(),
            Some("did you mean `bar.sync`?")
        );
        assert_eq!(m("qqqqq").unwrap_err().help, None);
        let e = m("add.f16").unwrap_err();
        assert_eq!((e.message.as_str(), e.span), ("unknown type `f16`", 4..7));
        assert!(m("add").unwrap_err().message.contains("`add.T`"));
        assert!(m("setp.u32").unwrap_err().message.contains("setp.CMP.T"));
        let e = m("setp.gt.u32.x").unwrap_err();
        assert_eq!(e.span, 11..13);
        let e = m("setp.foo.u32").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.span),
            ("unknown comparison `foo`", 5..8)
        );
        assert!(m("bra.u32").unwrap_err().message.contains("takes no type"));
        assert!(m("bar.wait").unwrap_err().message.contains("bar.wait"));
        assert!(m("add.").unwrap_err().message.contains("missing type"));
    }

    fn dist(a: &str, b: &str) -> Option<usize> {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        edit_distance(&a, &b, 10)
    }

    #[test]
    fn distance() {
        assert_eq!(dist("mvo", "mov"), Some(1));
        assert_eq!(dist("", "abc"), Some(3));
        assert_eq!(dist("kitten", "sitting"), Some(3));
        assert_eq!(dist("abc", ""), Some(3));
        assert_eq!(dist("ca", "abc"), Some(3));
        assert_eq!(dist("add", "add"), Some(0));
        assert_eq!(dist("aaaaaaaaaaaa", "bbbbbbbbbbbb"), None);
        let (a, b): (Vec<char>, Vec<char>) =
            ("kitten".chars().collect(), "sitting".chars().collect());
        assert_eq!(edit_distance(&a, &b, 2), None);
        assert_eq!(closest("mvo", BASES.iter().copied()), Some("mov"));
    }

    #[test]
    fn closest_is_bounded() {
        // Ties go to the smallest candidate, whatever the order.
        assert_eq!(closest("ab", ["ax", "aa"]), Some("aa"));
        assert_eq!(closest("ab", ["aa", "ax"]), Some("aa"));
        // Long names get no suggestion (the distance is quadratic in the length).
        let long = "a".repeat(MAX_SUGGEST_CHARS + 1);
        let near = format!("{long}b");
        assert_eq!(closest(&long, [near.as_str()]), None);
        let ok = "a".repeat(MAX_SUGGEST_CHARS);
        let ok_near = format!("{ok}b");
        assert_eq!(closest(&ok, [ok_near.as_str()]), Some(ok_near.as_str()));
        // Candidates of very different lengths are skipped; a spent budget suggests nothing.
        let huge = "m".repeat(100_000);
        assert_eq!(closest("mvo", [huge.as_str(), "mov"]), Some("mov"));
        assert_eq!(closest_within("mvo", ["mov"], &Cell::new(0)), None);
    }
}
