//! Parses the tokens of one line into labels plus a directive or an instruction, with operands
//! and addresses in syntactic form (names are resolved later, in `assembler`).
//!
//! ```text
//! line      := (WORD ':')* (directive | instruction)?
//! directive := '.kernel' NAME | '.param' NAME ':' ['ptr'] TYPE | '.shared' INT
//!            | '.launch' INT ',' INT
//! inst      := ['@' ['!'] PRED] MNEMONIC [operand (',' operand)*]
//! operand   := REG | PRED | SPECIAL | NAME | ['-'] NUMBER | ['-'] ('inf' | 'nan')
//!            | '&' NAME | '@' LABEL | '[' address ']'
//! address   := NAME ['+' (INT | index)]            buffer parameter
//!            | REG [('+' | '-') INT | '+' REG]     global pointer in a register
//!            | 'phi' '(' INT ',' INT ',' INT ')' ['+' index]
//!            | 'shared' ['+' INT | '+' index ['+' INT]]
//! index     := (REG | SPECIAL) ['*' INT]
//! ```

use std::ops::Range;

use holovm_isa::{Special, Ty, MAX_SHARED_BYTES, NUM_PREDS, NUM_REGS, POOL_CLASSES, POOL_PAGES};

use crate::diagnostics::Diag;
use crate::lexer::{Tok, Token};
use crate::literal::{self, LitError};

/// A name with the span it was written at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
}

/// One parsed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    pub labels: Vec<Spanned<&'a str>>,
    pub stmt: Option<Stmt<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stmt<'a> {
    Directive(Directive<'a>),
    Inst(InstAst<'a>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Directive<'a> {
    pub kind: DirectiveKind<'a>,
    /// The whole directive, for errors about it as a whole.
    pub span: Range<usize>,
    /// The directive word (`.param`).
    pub name_span: Range<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DirectiveKind<'a> {
    Kernel(Spanned<&'a str>),
    Param {
        name: Spanned<&'a str>,
        buffer: bool,
        ty: Ty,
    },
    Shared(u32),
    Launch {
        grid: u32,
        block: u32,
    },
}

/// An instruction as written: guard, mnemonic text and operands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InstAst<'a> {
    pub guard: Option<Spanned<(u8, bool)>>,
    pub mnemonic: Spanned<&'a str>,
    pub operands: Vec<Operand<'a>>,
    /// From the guard or mnemonic to the end of the last operand.
    pub span: Range<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Operand<'a> {
    pub kind: OperandKind<'a>,
    pub span: Range<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OperandKind<'a> {
    Reg(u8),
    Pred(u8),
    Special(Special),
    /// A parameter name (resolved later).
    Name(&'a str),
    /// A number literal, `inf` or `nan`; interpreted once the operand type is known.
    Number {
        neg: bool,
        text: &'a str,
    },
    /// `&name` or `&pool`.
    Pointer(&'a str),
    /// `@label`.
    Label(&'a str),
    Addr(AddrAst<'a>),
}

/// An index operand `r3*4` (register or special register, scale 1, 2, 4 or 8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IndexAst {
    pub index: IndexReg,
    pub scale: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IndexReg {
    Reg(u8),
    Special(Special),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AddrAst<'a> {
    Buffer {
        name: Spanned<&'a str>,
        rest: BufferRest,
    },
    Phi {
        class: u8,
        page: u8,
        byte: u8,
        index: Option<IndexAst>,
    },
    Reg {
        base: u8,
        rest: RegRest,
    },
    Shared {
        index: Option<IndexAst>,
        offset: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BufferRest {
    Offset(u32),
    Index(IndexAst),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RegRest {
    Offset(i32),
    Reg(u8),
}

/// `r12` -> Some("12") for prefix 'r'.
fn numbered(name: &str, prefix: char) -> Option<&str> {
    let digits = name.strip_prefix(prefix)?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// True for `[A-Za-z_][A-Za-z0-9_]*` (the lexer's words may also contain dots).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn lit_diag(span: Range<usize>, e: LitError) -> Diag {
    Diag::new(span, e.message).help_opt(e.help)
}

/// Parses one line's tokens. `line_end` is the byte offset where the line's code ends, after
/// its last token and before trailing blanks or a comment (the position of errors such as
/// "found the end of the line").
pub(crate) fn parse_line<'a>(tokens: &[Token<'a>], line_end: usize) -> Result<Line<'a>, Diag> {
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        line_end,
    };
    let mut labels = Vec::new();
    while let (Some(Tok::Word(name)), Some(Tok::Colon)) = (p.peek_tok(0), p.peek_tok(1)) {
        let span = p.span_at(0);
        if !is_identifier(name) {
            return Err(Diag::new(span, format!("invalid label name `{name}`"))
                .help("labels are identifiers: [A-Za-z_][A-Za-z0-9_]*"));
        }
        labels.push(Spanned { value: name, span });
        p.pos += 2;
    }
    let stmt = match p.peek_tok(0) {
        None => None,
        Some(Tok::Directive(_)) => Some(Stmt::Directive(p.directive()?)),
        Some(_) => Some(Stmt::Inst(p.instruction()?)),
    };
    Ok(Line { labels, stmt })
}

struct Parser<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
    line_end: usize,
}

impl<'a> Parser<'_, 'a> {
    fn peek_tok(&self, ahead: usize) -> Option<Tok<'a>> {
        self.toks.get(self.pos + ahead).map(|t| t.tok)
    }

    fn span_at(&self, ahead: usize) -> Range<usize> {
        match self.toks.get(self.pos + ahead) {
            Some(t) => t.span.clone(),
            None => self.line_end..self.line_end,
        }
    }

    /// Span of the token just consumed.
    fn prev_span(&self) -> Range<usize> {
        match self.pos.checked_sub(1).and_then(|i| self.toks.get(i)) {
            Some(t) => t.span.clone(),
            None => self.line_end..self.line_end,
        }
    }

    fn next(&mut self) -> Option<(Tok<'a>, Range<usize>)> {
        let t = self.toks.get(self.pos)?;
        self.pos += 1;
        Some((t.tok, t.span.clone()))
    }

    fn unexpected(&self, expected: &str) -> Diag {
        match self.toks.get(self.pos) {
            Some(t) => Diag::new(
                t.span.clone(),
                format!("expected {expected}, found {}", t.tok.describe()),
            ),
            None => Diag::new(
                self.line_end..self.line_end,
                format!("expected {expected}, found the end of the line"),
            ),
        }
    }

    fn expect(&mut self, tok: Tok<'_>, expected: &str) -> Result<Range<usize>, Diag> {
        if self.peek_tok(0) == Some(tok) {
            self.pos += 1;
            Ok(self.prev_span())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn expect_end(&self, after: &str) -> Result<(), Diag> {
        match self.toks.get(self.pos) {
            None => Ok(()),
            Some(t) => Err(Diag::new(
                t.span.clone(),
                format!("unexpected {} after {after}", t.tok.describe()),
            )),
        }
    }

    fn identifier(&mut self, what: &str) -> Result<Spanned<&'a str>, Diag> {
        match self.peek_tok(0) {
            Some(Tok::Word(w)) => {
                let span = self.span_at(0);
                if !is_identifier(w) {
                    return Err(Diag::new(span, format!("invalid {what} `{w}`"))
                        .help("names are identifiers: [A-Za-z_][A-Za-z0-9_]*"));
                }
                self.pos += 1;
                Ok(Spanned { value: w, span })
            }
            _ => Err(self.unexpected(&format!("a {what}"))),
        }
    }

    fn field(&mut self, max: u64, what: &str) -> Result<u64, Diag> {
        match self.peek_tok(0) {
            Some(Tok::Number(text)) => {
                let span = self.span_at(0);
                self.pos += 1;
                literal::parse_field(text, max, what).map_err(|e| lit_diag(span, e))
            }
            Some(Tok::Minus) => Err(Diag::new(
                self.span_at(0),
                format!("{what} cannot be negative"),
            )),
            _ => Err(self.unexpected(what)),
        }
    }

    fn directive(&mut self) -> Result<Directive<'a>, Diag> {
        let Some((Tok::Directive(name), name_span)) = self.next() else {
            return Err(self.unexpected("a directive"));
        };
        let kind = match name.to_ascii_lowercase().as_str() {
            "kernel" => {
                let n = self.identifier("kernel name")?;
                DirectiveKind::Kernel(n)
            }
            "param" => {
                let n = self.identifier("parameter name")?;
                self.expect(Tok::Colon, "`:` and the parameter's type")?;
                let mut buffer = false;
                if let Some(Tok::Word(w)) = self.peek_tok(0) {
                    if w.eq_ignore_ascii_case("ptr") {
                        buffer = true;
                        self.pos += 1;
                    }
                }
                let ty = self.ty()?;
                DirectiveKind::Param {
                    name: n,
                    buffer,
                    ty,
                }
            }
            "shared" => {
                let bytes = self.field(u64::from(MAX_SHARED_BYTES), "shared memory size")?;
                DirectiveKind::Shared(bytes as u32)
            }
            "launch" => {
                let grid = self.field(u64::from(u32::MAX), "grid size")?;
                self.expect(Tok::Comma, "`,` and the block size")?;
                let block = self.field(u64::from(u32::MAX), "block size")?;
                DirectiveKind::Launch {
                    grid: grid as u32,
                    block: block as u32,
                }
            }
            _ => {
                let help = crate::mnemonic::closest(name, ["kernel", "param", "shared", "launch"])
                    .map(|s| format!("did you mean `.{s}`?"));
                return Err(
                    Diag::new(name_span, format!("unknown directive `.{name}`")).help_opt(help)
                );
            }
        };
        self.expect_end(&format!("the `.{}` directive", name.to_ascii_lowercase()))?;
        let span = name_span.start..self.prev_span().end;
        Ok(Directive {
            kind,
            span,
            name_span,
        })
    }

    fn ty(&mut self) -> Result<Ty, Diag> {
        match self.peek_tok(0) {
            Some(Tok::Word(w)) => {
                let span = self.span_at(0);
                let ty = Ty::from_name(&w.to_ascii_lowercase()).ok_or_else(|| {
                    Diag::new(span, format!("unknown type `{w}`"))
                        .help("types are i8 i16 i32 i64 u8 u16 u32 u64 f32 f64")
                })?;
                self.pos += 1;
                Ok(ty)
            }
            _ => Err(self.unexpected("a type")),
        }
    }

    fn instruction(&mut self) -> Result<InstAst<'a>, Diag> {
        let start = self.span_at(0).start;
        let mut guard = None;
        if self.peek_tok(0) == Some(Tok::At) {
            self.pos += 1;
            let negate = self.peek_tok(0) == Some(Tok::Bang);
            if negate {
                self.pos += 1;
            }
            let (pred, span) = match self.peek_tok(0) {
                Some(Tok::Word(w)) => {
                    let span = self.span_at(0);
                    self.pos += 1;
                    (self.pred(w, span.clone())?, span)
                }
                _ => return Err(self.unexpected("a predicate (`p0`..`p15`) after `@`")),
            };
            guard = Some(Spanned {
                value: (pred, negate),
                span: start..span.end,
            });
        }
        let mnemonic = match self.peek_tok(0) {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                Spanned {
                    value: w,
                    span: self.prev_span(),
                }
            }
            Some(_) => return Err(self.unexpected("an instruction, directive or label")),
            None => return Err(self.unexpected("an instruction after the guard")),
        };
        let mut operands = Vec::new();
        if self.peek_tok(0).is_some() {
            loop {
                operands.push(self.operand()?);
                match self.peek_tok(0) {
                    None => break,
                    Some(Tok::Comma) => self.pos += 1,
                    Some(_) => return Err(self.unexpected("`,` or the end of the line")),
                }
            }
        }
        let span = start..self.prev_span().end;
        Ok(InstAst {
            guard,
            mnemonic,
            operands,
            span,
        })
    }

    fn pred(&self, w: &str, span: Range<usize>) -> Result<u8, Diag> {
        match numbered(w, 'p') {
            Some(d) => match d.parse::<u32>() {
                Ok(n) if (n as usize) < NUM_PREDS => Ok(n as u8),
                _ => Err(Diag::new(
                    span,
                    format!("predicate `{w}` is out of range (p0..p15)"),
                )),
            },
            None => Err(Diag::new(
                span,
                format!("expected a predicate (`p0`..`p15`), found `{w}`"),
            )),
        }
    }

    fn reg(&self, digits: &str, w: &str, span: Range<usize>) -> Result<u8, Diag> {
        match digits.parse::<u32>() {
            Ok(n) if (n as usize) < NUM_REGS => Ok(n as u8),
            _ => Err(Diag::new(
                span,
                format!("register `{w}` is out of range (r0..r255)"),
            )),
        }
    }

    fn special(&self, name: &str, span: Range<usize>) -> Result<Special, Diag> {
        Special::from_name(name).ok_or_else(|| {
            Diag::new(span, format!("unknown special register `%{name}`"))
                .help("special registers are %lane %block %bdim %gdim %gid")
        })
    }

    /// Classifies a word in operand position.
    fn word(&self, w: &'a str, span: Range<usize>) -> Result<OperandKind<'a>, Diag> {
        if let Some(d) = numbered(w, 'r') {
            return self.reg(d, w, span).map(OperandKind::Reg);
        }
        if numbered(w, 'p').is_some() {
            return self.pred(w, span).map(OperandKind::Pred);
        }
        if w == "inf" || w == "nan" {
            return Ok(OperandKind::Number {
                neg: false,
                text: w,
            });
        }
        if !is_identifier(w) {
            return Err(Diag::new(span, format!("invalid operand `{w}`")));
        }
        Ok(OperandKind::Name(w))
    }

    fn operand(&mut self) -> Result<Operand<'a>, Diag> {
        let Some((tok, span)) = self.next() else {
            return Err(self.unexpected("an operand"));
        };
        let kind = match tok {
            Tok::Word(w) => self.word(w, span.clone())?,
            Tok::Special(s) => OperandKind::Special(self.special(s, span.clone())?),
            Tok::Number(text) => OperandKind::Number { neg: false, text },
            Tok::Minus => match self.peek_tok(0) {
                Some(Tok::Number(text)) => {
                    self.pos += 1;
                    OperandKind::Number { neg: true, text }
                }
                Some(Tok::Word(w @ ("inf" | "nan"))) => {
                    self.pos += 1;
                    OperandKind::Number { neg: true, text: w }
                }
                _ => return Err(self.unexpected("a number after `-`")),
            },
            Tok::Amp => {
                let name = self.identifier("buffer parameter name")?;
                OperandKind::Pointer(name.value)
            }
            Tok::At => {
                let name = self.identifier("label name")?;
                OperandKind::Label(name.value)
            }
            Tok::LBracket => {
                let addr = self.address()?;
                self.expect(Tok::RBracket, "`]`")?;
                OperandKind::Addr(addr)
            }
            _ => {
                return Err(Diag::new(
                    span,
                    format!("expected an operand, found {}", tok.describe()),
                ))
            }
        };
        Ok(Operand {
            kind,
            span: span.start..self.prev_span().end,
        })
    }

    /// After `+`: a number or an index.
    fn index(&mut self) -> Result<IndexAst, Diag> {
        let span = self.span_at(0);
        let index = match self.peek_tok(0) {
            Some(Tok::Word(w)) => match self.word(w, span.clone())? {
                OperandKind::Reg(r) => IndexReg::Reg(r),
                _ => {
                    return Err(Diag::new(
                        span,
                        format!("the index `{w}` must be a register or special register"),
                    ))
                }
            },
            Some(Tok::Special(s)) => IndexReg::Special(self.special(s, span)?),
            _ => return Err(self.unexpected("an index register")),
        };
        self.pos += 1;
        let mut scale = 1;
        if self.peek_tok(0) == Some(Tok::Star) {
            self.pos += 1;
            let span = self.span_at(0);
            let s = self
                .field(8, "scale")
                .map_err(|e| e.help("the scale is 1, 2, 4 or 8"))?;
            if !matches!(s, 1 | 2 | 4 | 8) {
                return Err(Diag::new(span, format!("scale {s} is not 1, 2, 4 or 8")));
            }
            scale = s as u8;
        }
        Ok(IndexAst { index, scale })
    }

    fn at_number(&self) -> bool {
        matches!(self.peek_tok(0), Some(Tok::Number(_)))
    }

    fn address(&mut self) -> Result<AddrAst<'a>, Diag> {
        let Some((tok, span)) = self.next() else {
            return Err(self.unexpected("an address"));
        };
        let base_err = |span| {
            Diag::new(span, "expected an address base").help(
                "an address starts with a buffer parameter, a register, `phi(...)` or `shared`",
            )
        };
        let w = match tok {
            Tok::Word(w) => w,
            _ => return Err(base_err(span)),
        };
        if w == "shared" {
            return self.shared_address();
        }
        if w == "phi" {
            self.expect(Tok::LParen, "`(` after `phi`")?;
            let class = self.field(u64::from(POOL_CLASSES - 1), "phi class")?;
            self.expect(Tok::Comma, "`,`")?;
            let page = self.field(u64::from(POOL_PAGES - 1), "phi page")?;
            self.expect(Tok::Comma, "`,`")?;
            let byte = self.field(255, "phi byte")?;
            self.expect(Tok::RParen, "`)`")?;
            let index = if self.peek_tok(0) == Some(Tok::Plus) {
                self.pos += 1;
                Some(self.index()?)
            } else {
                None
            };
            return Ok(AddrAst::Phi {
                class: class as u8,
                page: page as u8,
                byte: byte as u8,
                index,
            });
        }
        match self.word(w, span.clone())? {
            OperandKind::Reg(base) => {
                let rest = match self.peek_tok(0) {
                    Some(Tok::Plus) => {
                        self.pos += 1;
                        if self.at_number() {
                            let v = self.field(i32::MAX as u64, "offset")?;
                            RegRest::Offset(v as i32)
                        } else {
                            match self.next() {
                                Some((Tok::Word(w2), span2)) => {
                                    match self.word(w2, span2.clone())? {
                                        OperandKind::Reg(r) => RegRest::Reg(r),
                                        _ => {
                                            return Err(Diag::new(
                                                span2,
                                                format!(
                                            "expected an offset register or constant, found `{w2}`"
                                        ),
                                            ))
                                        }
                                    }
                                }
                                Some((_, span2)) => {
                                    return Err(Diag::new(
                                        span2,
                                        "expected an offset register or constant",
                                    )
                                    .help("`[rA + rB]` takes a general register as offset"))
                                }
                                None => return Err(self.unexpected("an offset")),
                            }
                        }
                    }
                    Some(Tok::Minus) => {
                        self.pos += 1;
                        let v = self.field(1 << 31, "offset")?;
                        RegRest::Offset((v as i64).wrapping_neg() as i32)
                    }
                    _ => RegRest::Offset(0),
                };
                if self.peek_tok(0) == Some(Tok::Star) {
                    return Err(Diag::new(
                        self.span_at(0),
                        "register-indirect addresses take no scale",
                    )
                    .help("compute the scaled offset into a register first"));
                }
                Ok(AddrAst::Reg { base, rest })
            }
            OperandKind::Name(name) => {
                let name = Spanned { value: name, span };
                let rest = match self.peek_tok(0) {
                    Some(Tok::Plus) => {
                        self.pos += 1;
                        if self.at_number() {
                            BufferRest::Offset(self.field(u64::from(u32::MAX), "offset")? as u32)
                        } else {
                            BufferRest::Index(self.index()?)
                        }
                    }
                    Some(Tok::Minus) => {
                        return Err(Diag::new(
                            self.span_at(0),
                            "buffer offsets cannot be negative",
                        ))
                    }
                    _ => BufferRest::Offset(0),
                };
                Ok(AddrAst::Buffer { name, rest })
            }
            _ => Err(base_err(span)),
        }
    }

    fn shared_address(&mut self) -> Result<AddrAst<'a>, Diag> {
        let mut index = None;
        let mut offset = 0;
        if self.peek_tok(0) == Some(Tok::Plus) {
            self.pos += 1;
            if self.at_number() {
                offset = self.field(u64::from(u32::MAX), "offset")? as u32;
            } else {
                index = Some(self.index()?);
                if self.peek_tok(0) == Some(Tok::Plus) {
                    self.pos += 1;
                    offset = self.field(u64::from(u32::MAX), "offset")? as u32;
                }
            }
        }
        if self.peek_tok(0) == Some(Tok::Minus) {
            return Err(Diag::new(
                self.span_at(0),
                "shared offsets cannot be negative",
            ));
        }
        Ok(AddrAst::Shared { index, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex_line;

    fn parse(line: &str) -> Result<Line<'_>, Diag> {
        let toks = lex_line(line, 0).unwrap();
        parse_line(&toks, line.len())
    }

    fn operands(line: &str) -> Vec<OperandKind<'_>> {
        match parse(line).unwrap().stmt {
            Some(Stmt::Inst(i)) => i.operands.into_iter().map(|o| o.kind).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn labels_and_guard() {
        let l = parse("a: b: @!p3 bra @a").unwrap();
        assert_eq!(
            l.labels.iter().map(|l| l.value).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let Some(Stmt::Inst(i)) = l.stmt else {
            panic!()
        };
        assert_eq!(i.guard.map(|g| g.value), Some((3, true)));
        assert_eq!(i.mnemonic.value, "bra");
        assert_eq!(i.span, 6..17);
        assert_eq!(i.operands[0].kind, OperandKind::Label("a"));
    }

    #[test]
    fn operand_kinds() {
        assert_eq!(
            operands("x r255, p15, %gid, n, -7, -inf, &a, 0x1f"),
            [
                OperandKind::Reg(255),
                OperandKind::Pred(15),
                OperandKind::Special(Special::GlobalId),
                OperandKind::Name("n"),
                OperandKind::Number {
                    neg: true,
                    text: "7"
                },
                OperandKind::Number {
                    neg: true,
                    text: "inf"
                },
                OperandKind::Pointer("a"),
                OperandKind::Number {
                    neg: false,
                    text: "0x1f"
                },
            ]
        );
    }

    #[test]
    fn addresses() {
        fn addr(s: &str) -> AddrAst<'_> {
            match operands(s).pop() {
                Some(OperandKind::Addr(a)) => a,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            addr("x [a + 16]"),
            AddrAst::Buffer {
                name: Spanned {
                    value: "a",
                    span: 3..4
                },
                rest: BufferRest::Offset(16)
            }
        );
        assert!(matches!(
            addr("x [a + %gid*4]"),
            AddrAst::Buffer {
                rest: BufferRest::Index(IndexAst {
                    index: IndexReg::Special(_),
                    scale: 4
                }),
                ..
            }
        ));
        assert_eq!(
            addr("x [r5 - 2147483648]"),
            AddrAst::Reg {
                base: 5,
                rest: RegRest::Offset(i32::MIN)
            }
        );
        assert_eq!(
            addr("x [r5 + r6]"),
            AddrAst::Reg {
                base: 5,
                rest: RegRest::Reg(6)
            }
        );
        assert_eq!(
            addr("x [r5]"),
            AddrAst::Reg {
                base: 5,
                rest: RegRest::Offset(0)
            }
        );
        assert_eq!(
            addr("x [phi(3, 12, 0) + r1]"),
            AddrAst::Phi {
                class: 3,
                page: 12,
                byte: 0,
                index: Some(IndexAst {
                    index: IndexReg::Reg(1),
                    scale: 1
                })
            }
        );
        assert_eq!(
            addr("x [shared + r1*4 + 16]"),
            AddrAst::Shared {
                index: Some(IndexAst {
                    index: IndexReg::Reg(1),
                    scale: 4
                }),
                offset: 16
            }
        );
        assert_eq!(
            addr("x [shared]"),
            AddrAst::Shared {
                index: None,
                offset: 0
            }
        );
    }

    #[test]
    fn address_errors() {
        let e = |s: &str| parse(s).unwrap_err();
        assert_eq!(e("x [a + r1*3]").message, "scale 3 is not 1, 2, 4 or 8");
        assert_eq!(e("x [a + r1*3]").span, 10..11);
        assert!(e("x [r5 + 2147483648]").message.contains("out of range"));
        assert!(e("x [r5 + r6*4]").message.contains("no scale"));
        assert!(e("x [a - 4]").message.contains("negative"));
        assert!(e("x [phi(96, 0, 0)]")
            .message
            .contains("phi class `96` is out of range (0..=95)"));
        assert!(e("x [phi(0, 48, 0)]").message.contains("0..=47"));
        assert!(e("x [a + n*4]").message.contains("must be a register"));
        assert!(e("x [%gid]").message.contains("address base"));
        assert!(e("x [a").message.contains("expected `]`"));
    }

    #[test]
    fn directives() {
        fn d(s: &str) -> DirectiveKind<'_> {
            match parse(s).unwrap().stmt {
                Some(Stmt::Directive(d)) => d.kind,
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            d(".param a: ptr f32"),
            DirectiveKind::Param {
                buffer: true,
                ty: Ty::F32,
                ..
            }
        ));
        assert!(matches!(
            d(".PARAM n: U32"),
            DirectiveKind::Param {
                buffer: false,
                ty: Ty::U32,
                ..
            }
        ));
        assert_eq!(
            d(".launch 4, 0x100"),
            DirectiveKind::Launch {
                grid: 4,
                block: 256
            }
        );
        assert_eq!(d(".shared 1024"), DirectiveKind::Shared(1024));
        let e = parse(".kernal k").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean `.kernel`?"));
        assert!(parse(".kernel a.b")
            .unwrap_err()
            .message
            .contains("invalid kernel name"));
        assert!(parse(".kernel k extra")
            .unwrap_err()
            .message
            .contains("unexpected `extra`"));
    }

    #[test]
    fn register_ranges() {
        assert_eq!(
            parse("x r256").unwrap_err().message,
            "register `r256` is out of range (r0..r255)"
        );
        assert_eq!(
            parse("x p16").unwrap_err().message,
            "predicate `p16` is out of range (p0..p15)"
        );
        assert!(parse("x r99999999999999999999").is_err());
    }
}
