//! Splits one line of `.hasm` text into tokens with byte spans.
//!
//! The assembler lexes line by line (a statement never spans lines), so an error costs at most
//! the rest of its line.

use std::ops::Range;

use crate::diagnostics::Diag;

/// What a token is. Texts borrow from the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// A word: `[A-Za-z_][A-Za-z0-9_.]*`. Dots are part of the word so that a mnemonic such as
    /// `setp.ge.u32` is one token; names that must not contain dots are checked by the parser.
    Word(&'a str),
    /// A directive name without its dot: `.kernel` gives `Directive("kernel")`.
    Directive(&'a str),
    /// A special register name without its `%`: `%gid` gives `Special("gid")`.
    Special(&'a str),
    /// A number literal, unsigned, as written: `42`, `0x1f`, `1.5e-3`, `0f3fc00000`. Its
    /// meaning depends on the operand type, so it is interpreted later (see `literal`).
    Number(&'a str),
    Comma,
    Colon,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Plus,
    Minus,
    Star,
    At,
    Bang,
    Amp,
}

impl Tok<'_> {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(s) => format!("`{s}`"),
            Tok::Directive(s) => format!("`.{s}`"),
            Tok::Special(s) => format!("`%{s}`"),
            Tok::Number(s) => format!("`{s}`"),
            Tok::Comma => "`,`".into(),
            Tok::Colon => "`:`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::At => "`@`".into(),
            Tok::Bang => "`!`".into(),
            Tok::Amp => "`&`".into(),
        }
    }
}

/// A token and its byte range in the whole source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub span: Range<usize>,
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Lexes `line`, which starts at byte `base` of the source. Comments (`;` or `//` to the end
/// of the line) are dropped.
pub(crate) fn lex_line(line: &str, base: usize) -> Result<Vec<Token<'_>>, Diag> {
    let bytes = line.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    // Index-based scanning over bytes: every token starts at an ASCII byte, so slicing at
    // these indices always lands on char boundaries.
    while let Some(&c) = bytes.get(i) {
        let start = i;
        let single = match c {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b';' => break,
            b'/' if bytes.get(i + 1) == Some(&b'/') => break,
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'+' => Some(Tok::Plus),
            b'-' => Some(Tok::Minus),
            b'*' => Some(Tok::Star),
            b'@' => Some(Tok::At),
            b'!' => Some(Tok::Bang),
            b'&' => Some(Tok::Amp),
            _ => None,
        };
        if let Some(tok) = single {
            i += 1;
            toks.push(Token {
                tok,
                span: base + start..base + i,
            });
            continue;
        }
        let tok = if is_word_start(c) {
            i = scan(bytes, i + 1, |b| is_word_char(b) || b == b'.');
            Tok::Word(&line[start..i])
        } else if (c == b'.' || c == b'%') && bytes.get(i + 1).is_some_and(|&b| is_word_start(b)) {
            i = scan(bytes, i + 1, is_word_char);
            let name = &line[start + 1..i];
            if c == b'.' {
                Tok::Directive(name)
            } else {
                Tok::Special(name)
            }
        } else if c.is_ascii_digit() {
            i = scan_number(bytes, i);
            Tok::Number(&line[start..i])
        } else {
            let ch = line[start..].chars().next().unwrap_or('?');
            let span = base + start..base + start + ch.len_utf8();
            let message = match c {
                b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    "a number cannot start with `.`: write a digit before it (`0.5`)".to_string()
                }
                b'.' => "expected a directive name after `.`".to_string(),
                b'%' => "expected a special register name after `%`".to_string(),
                _ => format!("unexpected character `{}`", ch.escape_debug()),
            };
            return Err(Diag::new(span, message));
        };
        toks.push(Token {
            tok,
            span: base + start..base + i,
        });
    }
    Ok(toks)
}

fn scan(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while bytes.get(i).is_some_and(|&b| keep(b)) {
        i += 1;
    }
    i
}

/// Scans a number starting with a digit: letters, digits, `_` and `.` (so that malformed
/// literals such as `12abc` form one token and get one clear error), plus a sign right after
/// the exponent `e` of a decimal float (`1e-7`). Prefixed literals (`0x`, `0b`, `0f`, `0d`)
/// have no exponent, so `e` there is a hex digit and a following sign is an operator.
fn scan_number(bytes: &[u8], start: usize) -> usize {
    let prefixed = bytes.get(start) == Some(&b'0')
        && bytes
            .get(start + 1)
            .is_some_and(|b| matches!(b.to_ascii_lowercase(), b'x' | b'b' | b'f' | b'd'));
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        let exponent_sign = !prefixed
            && (b == b'+' || b == b'-')
            && matches!(bytes.get(i - 1), Some(b'e' | b'E'))
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if is_word_char(b) || b == b'.' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<Tok<'_>> {
        lex_line(line, 0)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn instruction() {
        assert_eq!(
            toks("top: setp.ge.u32 p0, %gid, n ; comment"),
            [
                Tok::Word("top"),
                Tok::Colon,
                Tok::Word("setp.ge.u32"),
                Tok::Word("p0"),
                Tok::Comma,
                Tok::Special("gid"),
                Tok::Comma,
                Tok::Word("n"),
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(toks("1e-7"), [Tok::Number("1e-7")]);
        assert_eq!(toks("2.0E+3"), [Tok::Number("2.0E+3")]);
        assert_eq!(
            toks("0x1e-3"),
            [Tok::Number("0x1e"), Tok::Minus, Tok::Number("3")]
        );
        assert_eq!(
            toks("[r5-8]"),
            [
                Tok::LBracket,
                Tok::Word("r5"),
                Tok::Minus,
                Tok::Number("8"),
                Tok::RBracket
            ]
        );
        assert_eq!(toks("0f3fc00000"), [Tok::Number("0f3fc00000")]);
        assert_eq!(toks("-inf"), [Tok::Minus, Tok::Word("inf")]);
    }

    #[test]
    fn directives_and_comments() {
        assert_eq!(
            toks(".param a: ptr f32 // trailing"),
            [
                Tok::Directive("param"),
                Tok::Word("a"),
                Tok::Colon,
                Tok::Word("ptr"),
                Tok::Word("f32")
            ]
        );
        assert_eq!(toks("; only a comment"), []);
        assert_eq!(
            toks("@!p1 bra @L3"),
            [
                Tok::At,
                Tok::Bang,
                Tok::Word("p1"),
                Tok::Word("bra"),
                Tok::At,
                Tok::Word("L3")
            ]
        );
    }

    #[test]
    fn spans_are_offset_by_base() {
        let t = lex_line("  add", 10).unwrap();
        assert_eq!(t[0].span, 12..15);
    }

    #[test]
    fn bad_characters() {
        let e = lex_line("mov.u32 r1, #3", 0).unwrap_err();
        assert_eq!(e.span, 12..13);
        assert!(e.message.contains("unexpected character `#`"));
        let e = lex_line("x é", 0).unwrap_err();
        assert_eq!(e.span, 2..4);
        assert!(lex_line("% x", 0).is_err());
        assert!(lex_line(". x", 0).is_err());
        assert!(lex_line("a / b", 0).is_err());
    }
}
