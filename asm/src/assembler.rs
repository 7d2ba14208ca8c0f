//! Turns parsed lines into a `ProgramDef`: directives, labels, per-mnemonic operand checking,
//! name resolution, and mapping verifier errors back to source lines.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;

use holovm_isa::{
    is_valid_ident, Addr, Guard, Inst, LaunchConfig, Param, ParamKind, Pred, Program, ProgramDef,
    Reg, SharedAddr, Src, Ty, VerifyError, MAX_PARAMS, POOL_HANDLE,
};

use crate::diagnostics::{Diag, Diagnostics, SourceMap, BOM};
use crate::lexer::{lex_line, Tok, Token};
use crate::literal::parse_imm;
use crate::mnemonic::{closest_within, parse_mnemonic, Mnemonic, SUGGEST_BUDGET};
use crate::parser::{
    is_identifier, parse_line, AddrAst, BufferRest, Directive, DirectiveKind, IndexAst, IndexReg,
    InstAst, Line, Operand, OperandKind, RegRest, Spanned, Stmt,
};

/// Assembles and verifies.
pub(crate) fn assemble(src: &str) -> Result<Program, Diagnostics> {
    let mut a = Assembler::new(src);
    let def = a.run(src);
    if a.diags.is_empty() {
        match Program::new(def.clone()) {
            Ok(p) => return Ok(p),
            // Every instruction's problem at once, as for syntax errors.
            Err(_) => {
                for e in holovm_isa::verify_all(&def) {
                    a.verify_error(e);
                }
            }
        }
    }
    Err(a.finish())
}

/// Assembles without verifying.
pub(crate) fn assemble_def(src: &str) -> Result<ProgramDef, Diagnostics> {
    let mut a = Assembler::new(src);
    let def = a.run(src);
    if a.diags.is_empty() {
        Ok(def)
    } else {
        Err(a.finish())
    }
}

struct Assembler<'a> {
    map: SourceMap<'a>,
    diags: Vec<Diag>,
    def: ProgramDef,
    kernel_span: Option<Range<usize>>,
    /// Where each `.param` was declared, by parameter index.
    param_spans: Vec<Range<usize>>,
    shared_span: Option<Range<usize>>,
    launch_span: Option<Range<usize>>,
    /// Label name -> (instruction index it marks, definition span).
    labels: HashMap<&'a str, (u32, Range<usize>)>,
    /// (instruction index, label, span) of every `@label` operand.
    label_refs: Vec<(usize, &'a str, Range<usize>)>,
    /// Source span of each instruction, by index (for verifier errors).
    inst_spans: Vec<Range<usize>>,
    /// A `.kernel` line, or a directive that may be a misspelt one (`.kernal`), failed to
    /// parse (so "missing `.kernel`" would be a second error for the same problem).
    broken_kernel: bool,
    /// What is left of the run's work for "did you mean" suggestions (see `SUGGEST_BUDGET`).
    suggest_budget: Cell<usize>,
}

/// The lines of `src` with their byte ranges (without the newline), after the byte order
/// mark some editors write at the start of a file (it is not part of the text).
fn lines(src: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = src.strip_prefix(BOM).unwrap_or(src);
    let mut start = src.len() - text.len();
    text.split('\n').map(move |line| {
        let s = start;
        start += line.len() + 1;
        (s, line)
    })
}

impl<'a> Assembler<'a> {
    fn new(src: &'a str) -> Self {
        Assembler {
            map: SourceMap::new(src),
            diags: Vec::new(),
            def: ProgramDef::default(),
            kernel_span: None,
            param_spans: Vec::new(),
            shared_span: None,
            launch_span: None,
            labels: HashMap::new(),
            label_refs: Vec::new(),
            inst_spans: Vec::new(),
            broken_kernel: false,
            suggest_budget: Cell::new(SUGGEST_BUDGET),
        }
    }

    /// 1-based line of a byte offset, for "first defined on line N" hints.
    fn line_of(&self, offset: usize) -> usize {
        self.map.locate(offset).0
    }

    fn error(&mut self, d: Diag) {
        self.diags.push(d);
    }

    fn run(&mut self, src: &'a str) -> ProgramDef {
        let mut parsed: Vec<Line<'a>> = Vec::new();
        for (start, text) in lines(src) {
            match lex_line(text, start) {
                // "found the end of the line" points just after the last token: before any
                // trailing comment, where the missing text belongs.
                Ok(toks) => match parse_line(&toks, toks.last().map_or(start, |t| t.span.end)) {
                    Ok(line) => parsed.push(line),
                    Err(d) => {
                        self.error(d);
                        parsed.push(self.salvage(&toks));
                    }
                },
                Err(d) => {
                    // Keep the labels before the bad character: lexing the text up to it
                    // succeeds, since errors are reported at token starts.
                    let prefix = text.get(..d.span.start.saturating_sub(start)).unwrap_or("");
                    if let Ok(toks) = lex_line(prefix, start) {
                        parsed.push(self.salvage(&toks));
                    }
                    self.error(d);
                }
            }
        }
        // Directives first: a misplaced `.param` then costs one error, not one more per use of
        // the parameter.
        let mut first_stmt: Option<Range<usize>> = None;
        let mut first_inst: Option<Range<usize>> = None;
        for line in &parsed {
            if let Some(l) = line.labels.first() {
                first_stmt.get_or_insert(l.span.clone());
                first_inst.get_or_insert(l.span.clone());
            }
            match &line.stmt {
                Some(Stmt::Directive(d)) => {
                    self.directive(d, first_stmt.is_some(), first_inst.is_some());
                    first_stmt.get_or_insert(d.span.clone());
                }
                Some(Stmt::Inst(i)) => {
                    first_stmt.get_or_insert(i.span.clone());
                    first_inst.get_or_insert(i.span.clone());
                }
                None => {}
            }
        }
        if self.kernel_span.is_none() && !self.broken_kernel {
            let span = first_stmt.unwrap_or(0..0);
            self.error(
                Diag::new(span.start..span.start, "missing `.kernel` directive")
                    .help("start the program with `.kernel NAME`"),
            );
        }
        for line in &parsed {
            for label in &line.labels {
                self.label(label);
            }
            if let Some(Stmt::Inst(i)) = &line.stmt {
                let index = self.inst_spans.len();
                self.inst_spans.push(i.span.clone());
                let inst = self.inst(index, i).unwrap_or_else(|d| {
                    self.error(d);
                    Inst::Exit
                });
                self.def.insts.push(inst);
            }
        }
        self.resolve_labels();
        std::mem::take(&mut self.def)
    }

    /// After a lexing or parse error, keeps what later lines may depend on, so that one
    /// mistake gives one error: the line's leading `label:` definitions, the name and kind of a
    /// `.param` (with a placeholder type), the fact that a `.kernel` was attempted, and for an
    /// instruction a placeholder that keeps the instruction count right.
    fn salvage(&mut self, toks: &[Token<'a>]) -> Line<'a> {
        let mut labels = Vec::new();
        let mut rest = toks;
        while let [Token {
            tok: Tok::Word(w),
            span,
        }, Token {
            tok: Tok::Colon, ..
        }, tail @ ..] = rest
        {
            labels.push(Spanned {
                value: *w,
                span: span.clone(),
            });
            rest = tail;
        }
        let stmt = match rest {
            [] => None,
            [Token {
                tok: Tok::Directive(d),
                ..
            }, tail @ ..] => {
                match (d.to_ascii_lowercase().as_str(), tail) {
                    ("kernel", _) => self.broken_kernel = true,
                    (
                        "param",
                        [Token {
                            tok: Tok::Word(name),
                            span,
                        }, more @ ..],
                    ) if is_identifier(name) => {
                        let buffer = more.iter().any(
                            |t| matches!(t.tok, Tok::Word(w) if w.eq_ignore_ascii_case("ptr")),
                        );
                        let name = Spanned {
                            value: *name,
                            span: span.clone(),
                        };
                        // The type is a placeholder: with an error reported, the program is
                        // never built.
                        self.param(&name, buffer, Ty::U32);
                    }
                    ("param" | "shared" | "launch", _) => {}
                    // An unknown directive may be the `.kernel` line, misspelt.
                    _ => self.broken_kernel = true,
                }
                None
            }
            [t, ..] => Some(Stmt::Inst(InstAst {
                guard: None,
                // `exit` decodes without operands, so the placeholder adds no errors of its own.
                mnemonic: Spanned {
                    value: "exit",
                    span: t.span.clone(),
                },
                operands: Vec::new(),
                span: t.span.clone(),
            })),
        };
        Line { labels, stmt }
    }

    fn finish(mut self) -> Diagnostics {
        self.diags.sort_by_key(|d| d.span.start);
        let map = &self.map;
        Diagnostics::new(self.diags.into_iter().map(|d| map.diagnostic(d)).collect())
    }

    fn verify_error(&mut self, e: VerifyError) {
        let span =
            e.pc.and_then(|pc| self.inst_spans.get(pc as usize))
                .or(self.kernel_span.as_ref())
                .cloned()
                .unwrap_or(0..0);
        self.error(Diag::new(span, e.message));
    }

    fn directive(&mut self, d: &Directive<'a>, after_stmt: bool, after_inst: bool) {
        let dup = |what: &str, first: &Range<usize>| {
            Diag::new(d.span.clone(), format!("duplicate `.{what}` directive")).help(format!(
                "the first one is on line {}",
                self.line_of(first.start)
            ))
        };
        match &d.kind {
            DirectiveKind::Kernel(name) => {
                if let Some(first) = &self.kernel_span {
                    let e = dup("kernel", first);
                    return self.error(e);
                }
                self.kernel_span = Some(d.span.clone());
                // The lexer only produces identifiers here, so an invalid name is a reserved one.
                if !is_valid_ident(name.value) {
                    self.error(Diag::new(
                        name.span.clone(),
                        format!("`{}` is reserved and cannot be a kernel name", name.value),
                    ));
                }
                self.def.name = name.value.to_string();
                if after_stmt {
                    self.error(
                        Diag::new(d.span.clone(), "`.kernel` must be the first directive")
                            .help("move it to the top of the program"),
                    );
                }
                return;
            }
            DirectiveKind::Param { name, buffer, ty } => self.param(name, *buffer, *ty),
            DirectiveKind::Shared(bytes) => {
                if let Some(first) = &self.shared_span {
                    let e = dup("shared", first);
                    return self.error(e);
                }
                self.shared_span = Some(d.span.clone());
                self.def.shared_bytes = *bytes;
            }
            DirectiveKind::Launch { grid, block } => {
                if let Some(first) = &self.launch_span {
                    let e = dup("launch", first);
                    return self.error(e);
                }
                self.launch_span = Some(d.span.clone());
                let launch = LaunchConfig::new(*grid, *block);
                if let Err(message) = launch.validate() {
                    self.error(Diag::new(
                        d.span.clone(),
                        format!("invalid launch shape: {message}"),
                    ));
                }
                self.def.launch = Some(launch);
            }
        }
        if after_inst {
            self.error(
                Diag::new(
                    d.name_span.clone(),
                    "directives must come before the first instruction",
                )
                .help("move it up to the `.kernel` header"),
            );
        }
    }

    fn param(&mut self, name: &Spanned<&'a str>, buffer: bool, ty: Ty) {
        if !is_valid_ident(name.value) {
            return self.error(
                Diag::new(
                    name.span.clone(),
                    format!(
                        "`{}` is reserved and cannot be a parameter name",
                        name.value
                    ),
                )
                .help("reserved: rN, pN, shared, phi, pool, ptr, inf, nan and the type names"),
            );
        }
        if let Some(i) = self.def.params.iter().position(|p| p.name == name.value) {
            let first = self.line_of(self.param_spans.get(i).map_or(0, |s| s.start));
            return self.error(
                Diag::new(
                    name.span.clone(),
                    format!("duplicate parameter `{}`", name.value),
                )
                .help(format!(
                    "`{}` is already declared on line {first}",
                    name.value
                )),
            );
        }
        if self.def.params.len() >= MAX_PARAMS {
            return self.error(Diag::new(
                name.span.clone(),
                format!("too many parameters (at most {MAX_PARAMS})"),
            ));
        }
        let kind = if buffer {
            ParamKind::Buffer(ty)
        } else {
            ParamKind::Scalar(ty)
        };
        self.def.params.push(Param {
            name: name.value.to_string(),
            kind,
        });
        self.param_spans.push(name.span.clone());
    }

    fn label(&mut self, label: &Spanned<&'a str>) {
        let index = self.inst_spans.len() as u32;
        if let Some((_, first)) = self.labels.get(label.value) {
            let first = self.line_of(first.start);
            self.error(
                Diag::new(
                    label.span.clone(),
                    format!("duplicate label `{}`", label.value),
                )
                .help(format!(
                    "`{}` is already defined on line {first}",
                    label.value
                )),
            );
        } else {
            self.labels.insert(label.value, (index, label.span.clone()));
        }
    }

    fn resolve_labels(&mut self) {
        let len = self.def.insts.len() as u32;
        for (index, name, span) in std::mem::take(&mut self.label_refs) {
            match self.labels.get(name) {
                Some(&(target, _)) if target < len => {
                    if let Some(t) = self.def.insts.get_mut(index).and_then(Inst::target_mut) {
                        *t = target;
                    }
                }
                Some(_) => self.error(
                    Diag::new(
                        span,
                        format!(
                            "label `{name}` marks no instruction (it is at the end of the program)"
                        ),
                    )
                    .help("add an instruction such as `exit` after the label"),
                ),
                None => {
                    let help =
                        closest_within(name, self.labels.keys().copied(), &self.suggest_budget)
                            .map(|s| format!("did you mean `@{s}`?"));
                    self.error(Diag::new(span, format!("undefined label `{name}`")).help_opt(help));
                }
            }
        }
    }

    /// Builds instruction `index` (branch targets are patched in `resolve_labels`).
    fn inst(&mut self, index: usize, i: &InstAst<'a>) -> Result<Inst, Diag> {
        let m = parse_mnemonic(i.mnemonic.value, i.mnemonic.span.clone())?;
        let (signature, count) = signature(m);
        let ops = &i.operands;
        if ops.len() != count {
            let shown = i.mnemonic.value.to_ascii_lowercase();
            let takes = match count {
                0 => format!("`{shown}` takes no operands"),
                1 => format!("`{shown}` takes 1 operand ({signature})"),
                n => format!("`{shown}` takes {n} operands ({signature})"),
            };
            let span = match ops.get(count) {
                Some(extra) => extra.span.start..ops.last().map_or(extra.span.end, |o| o.span.end),
                None => i.mnemonic.span.clone(),
            };
            return Err(Diag::new(span, format!("{takes}, found {}", ops.len())));
        }
        if let Some(g) = &i.guard {
            if m != Mnemonic::Bra {
                return Err(Diag::new(g.span.clone(), "only `bra` can have a guard")
                    .help("compute a predicate with `setp` and use `sel`, or branch around the instruction"));
            }
        }
        // `count` operands are present (checked above); `op(k)` never fails for k < count.
        let op = |k: usize| {
            ops.get(k)
                .ok_or_else(|| Diag::new(i.span.clone(), "missing operand"))
        };
        Ok(match m {
            Mnemonic::Ldg(ty) => Inst::Ldg {
                ty,
                dst: self.dst(op(0)?)?,
                addr: self.global(op(1)?)?,
            },
            Mnemonic::Stg(ty) => Inst::Stg {
                ty,
                addr: self.global(op(0)?)?,
                src: self.src(op(1)?, ty)?,
            },
            Mnemonic::Lds(ty) => Inst::Lds {
                ty,
                dst: self.dst(op(0)?)?,
                addr: self.shared(op(1)?)?,
            },
            Mnemonic::Sts(ty) => Inst::Sts {
                ty,
                addr: self.shared(op(0)?)?,
                src: self.src(op(1)?, ty)?,
            },
            Mnemonic::Mov(ty) => Inst::Mov {
                ty,
                dst: self.dst(op(0)?)?,
                src: self.src(op(1)?, ty)?,
            },
            Mnemonic::MovImm(ty) => {
                let dst = self.dst(op(0)?)?;
                let o = op(1)?;
                if !matches!(o.kind, OperandKind::Number { .. } | OperandKind::Pointer(_)) {
                    return Err(Diag::new(o.span.clone(), "`mov_imm` takes an immediate")
                        .help("use `mov` to copy a register or parameter"));
                }
                Inst::Mov {
                    ty,
                    dst,
                    src: self.src(o, ty)?,
                }
            }
            Mnemonic::Cvt { to, from } => Inst::Cvt {
                to,
                from,
                dst: self.dst(op(0)?)?,
                src: self.src(op(1)?, from)?,
            },
            Mnemonic::Bin(bop, ty) => Inst::Bin {
                op: bop,
                ty,
                dst: self.dst(op(0)?)?,
                a: self.src(op(1)?, ty)?,
                b: self.src(op(2)?, ty)?,
            },
            Mnemonic::Un(uop, ty) => Inst::Un {
                op: uop,
                ty,
                dst: self.dst(op(0)?)?,
                a: self.src(op(1)?, ty)?,
            },
            Mnemonic::Fma(ty) => Inst::Fma {
                ty,
                dst: self.dst(op(0)?)?,
                a: self.src(op(1)?, ty)?,
                b: self.src(op(2)?, ty)?,
                c: self.src(op(3)?, ty)?,
            },
            Mnemonic::Setp(cmp, ty) => Inst::Setp {
                cmp,
                ty,
                dst: self.pred(op(0)?)?,
                a: self.src(op(1)?, ty)?,
                b: self.src(op(2)?, ty)?,
            },
            Mnemonic::Sel(ty) => Inst::Sel {
                ty,
                dst: self.dst(op(0)?)?,
                pred: self.pred(op(1)?)?,
                a: self.src(op(2)?, ty)?,
                b: self.src(op(3)?, ty)?,
            },
            Mnemonic::Bra => {
                self.target(index, op(0)?)?;
                let guard = i.guard.as_ref().map(|g| Guard {
                    pred: Pred(g.value.0),
                    negate: g.value.1,
                });
                Inst::Bra { target: 0, guard }
            }
            Mnemonic::Loop => {
                let counter = self.dst(op(0)?)?;
                self.target(index, op(1)?)?;
                Inst::Loop { counter, target: 0 }
            }
            Mnemonic::Call => {
                self.target(index, op(0)?)?;
                Inst::Call { target: 0 }
            }
            Mnemonic::Ret => Inst::Ret,
            Mnemonic::Exit => Inst::Exit,
            Mnemonic::BarSync => Inst::BarSync,
            Mnemonic::MemFence => Inst::MemFence,
            Mnemonic::Reduce(rop, ty) => Inst::Reduce {
                op: rop,
                ty,
                dst: self.dst(op(0)?)?,
                src: self.src(op(1)?, ty)?,
            },
        })
    }

    fn target(&mut self, index: usize, o: &Operand<'a>) -> Result<(), Diag> {
        match o.kind {
            OperandKind::Label(name) => {
                self.label_refs.push((index, name, o.span.clone()));
                Ok(())
            }
            OperandKind::Name(name) => Err(Diag::new(o.span.clone(), "expected a label")
                .help(format!("labels are referenced with `@`: `@{name}`"))),
            _ => Err(Diag::new(
                o.span.clone(),
                format!("expected a label (`@name`), found {}", what(&o.kind)),
            )),
        }
    }

    fn dst(&self, o: &Operand<'a>) -> Result<Reg, Diag> {
        match o.kind {
            OperandKind::Reg(r) => Ok(Reg(r)),
            OperandKind::Special(s) => Err(Diag::new(
                o.span.clone(),
                format!("special register `{s}` is read-only and cannot be a destination"),
            )),
            ref k => Err(Diag::new(
                o.span.clone(),
                format!(
                    "expected a destination register (`r0`..`r255`), found {}",
                    what(k)
                ),
            )),
        }
    }

    fn pred(&self, o: &Operand<'a>) -> Result<Pred, Diag> {
        match o.kind {
            OperandKind::Pred(p) => Ok(Pred(p)),
            ref k => Err(Diag::new(
                o.span.clone(),
                format!("expected a predicate (`p0`..`p15`), found {}", what(k)),
            )),
        }
    }

    fn param_index(&self, name: &str) -> Option<(u8, ParamKind)> {
        let i = self.def.params.iter().position(|p| p.name == name)?;
        let kind = self.def.params.get(i)?.kind;
        Some((u8::try_from(i).ok()?, kind))
    }

    /// "unknown parameter", suggesting a close name among the parameters of the wanted kind
    /// (`buffer`: true for addresses and pointers, false for scalar operands).
    fn unknown_param(&self, name: &str, span: Range<usize>, buffer: bool) -> Diag {
        let lower = name.to_ascii_lowercase();
        let help = if lower != name && !is_valid_ident(&lower) {
            Some(format!("register names are lowercase: `{lower}`"))
        } else if self.labels.contains_key(name) {
            Some(format!("labels are referenced with `@`: `@{name}`"))
        } else if name == "pool" {
            Some("the boundary pool's pointer is `&pool`; pool addresses are `[phi(class, page, byte)]`".into())
        } else {
            let candidates = self
                .def
                .params
                .iter()
                .filter(|p| matches!(p.kind, ParamKind::Buffer(_)) == buffer)
                .map(|p| p.name.as_str());
            closest_within(name, candidates, &self.suggest_budget)
                .map(|s| format!("did you mean `{s}`?"))
        };
        Diag::new(span, format!("unknown parameter `{name}`")).help_opt(help)
    }

    fn src(&self, o: &Operand<'a>, ty: Ty) -> Result<Src, Diag> {
        let span = o.span.clone();
        match o.kind {
            OperandKind::Reg(r) => Ok(Src::Reg(Reg(r))),
            OperandKind::Special(s) => Ok(Src::Special(s)),
            OperandKind::Name(name) => match self.param_index(name) {
                Some((i, ParamKind::Scalar(_))) => Ok(Src::Param(i)),
                Some((_, ParamKind::Buffer(_))) => Err(Diag::new(
                    span,
                    format!("`{name}` is a buffer parameter, not a scalar value"),
                )
                .help(format!(
                    "use `&{name}` for a pointer to it, or an address such as `[{name} + r1*4]`"
                ))),
                None => Err(self.unknown_param(name, span, false)),
            },
            OperandKind::Number { neg, text } => parse_imm(neg, text, ty)
                .map(Src::Imm)
                .map_err(|e| Diag::new(span, e.message).help_opt(e.help)),
            OperandKind::Pointer(name) => {
                if !matches!(ty, Ty::U64 | Ty::I64) {
                    return Err(Diag::new(span, format!("pointer literal `&{name}` needs a u64 or i64 operand, not {ty}"))
                        .help("global pointers are 64 bits: the space in the high half, the offset in the low half"));
                }
                let handle = if name == "pool" {
                    POOL_HANDLE
                } else {
                    match self.param_index(name) {
                        Some((i, ParamKind::Buffer(_))) => u32::from(i),
                        Some((_, ParamKind::Scalar(_))) => {
                            return Err(Diag::new(
                                span,
                                format!("`&{name}`: `{name}` is a scalar parameter"),
                            )
                            .help("pointer literals name a buffer parameter or `pool`"))
                        }
                        None => return Err(self.unknown_param(name, span, true)),
                    }
                };
                Ok(Src::Imm(u64::from(handle) << 32))
            }
            ref k => Err(Diag::new(
                span,
                format!(
                    "expected a register, special register, parameter or immediate, found {}",
                    what(k)
                ),
            )),
        }
    }

    fn buffer(&self, name: &Spanned<&str>) -> Result<u8, Diag> {
        match self.param_index(name.value) {
            Some((i, ParamKind::Buffer(_))) => Ok(i),
            Some((_, ParamKind::Scalar(_))) => Err(Diag::new(
                name.span.clone(),
                format!("`{}` is a scalar parameter, not a buffer", name.value),
            )),
            None => Err(self.unknown_param(name.value, name.span.clone(), true)),
        }
    }

    fn global(&self, o: &Operand<'a>) -> Result<Addr, Diag> {
        let OperandKind::Addr(a) = &o.kind else {
            return Err(Diag::new(
                o.span.clone(),
                format!("expected an address `[...]`, found {}", what(&o.kind)),
            ));
        };
        Ok(match a {
            AddrAst::Buffer {
                name,
                rest: BufferRest::Offset(offset),
            } => Addr::BufferOffset {
                buf: self.buffer(name)?,
                offset: *offset,
            },
            AddrAst::Buffer {
                name,
                rest: BufferRest::Index(ix),
            } => {
                let (index, scale) = index(ix);
                Addr::BufferIndex {
                    buf: self.buffer(name)?,
                    index,
                    scale,
                }
            }
            AddrAst::Phi {
                class,
                page,
                byte,
                index: ix,
            } => Addr::Phi {
                class: *class,
                page: *page,
                byte: *byte,
                index: ix.as_ref().map(index),
            },
            AddrAst::Reg {
                base,
                rest: RegRest::Offset(offset),
            } => Addr::RegisterIndirect {
                base: Reg(*base),
                offset: *offset,
            },
            AddrAst::Reg {
                base,
                rest: RegRest::Reg(offset),
            } => Addr::RegisterIndirectComputed {
                handle: Reg(*base),
                offset: Reg(*offset),
            },
            AddrAst::Shared { .. } => {
                return Err(
                    Diag::new(o.span.clone(), "shared memory is accessed with `lds`/`sts`")
                        .help("`ldg`/`stg` address buffers, pointers and the pool"),
                )
            }
        })
    }

    fn shared(&self, o: &Operand<'a>) -> Result<SharedAddr, Diag> {
        match &o.kind {
            OperandKind::Addr(AddrAst::Shared { index: ix, offset }) => Ok(SharedAddr {
                index: ix.as_ref().map(index),
                offset: *offset,
            }),
            OperandKind::Addr(_) => Err(Diag::new(
                o.span.clone(),
                "`lds`/`sts` take a shared address `[shared + ...]`",
            )
            .help("global memory is accessed with `ldg`/`stg`")),
            k => Err(Diag::new(
                o.span.clone(),
                format!(
                    "expected a shared address `[shared + ...]`, found {}",
                    what(k)
                ),
            )),
        }
    }
}

fn index(ix: &IndexAst) -> (Src, u8) {
    let src = match ix.index {
        IndexReg::Reg(r) => Src::Reg(Reg(r)),
        IndexReg::Special(s) => Src::Special(s),
    };
    (src, ix.scale)
}

/// How an operand kind reads in "found ..." messages.
fn what(k: &OperandKind<'_>) -> String {
    match k {
        OperandKind::Reg(r) => format!("register `r{r}`"),
        OperandKind::Pred(p) => format!("predicate `p{p}`"),
        OperandKind::Special(s) => format!("special register `{s}`"),
        OperandKind::Name(n) => format!("`{n}`"),
        OperandKind::Number { neg, text } => format!("`{}{text}`", if *neg { "-" } else { "" }),
        OperandKind::Pointer(n) => format!("pointer `&{n}`"),
        OperandKind::Label(n) => format!("label `@{n}`"),
        OperandKind::Addr(_) => "an address".into(),
    }
}

/// The operand list of a mnemonic, for messages, and its length.
fn signature(m: Mnemonic) -> (&'static str, usize) {
    match m {
        Mnemonic::Ldg(_) => ("rD, [address]", 2),
        Mnemonic::Stg(_) => ("[address], a", 2),
        Mnemonic::Lds(_) => ("rD, [shared + ...]", 2),
        Mnemonic::Sts(_) => ("[shared + ...], a", 2),
        Mnemonic::Mov(_) | Mnemonic::Cvt { .. } | Mnemonic::Un(..) | Mnemonic::Reduce(..) => {
            ("rD, a", 2)
        }
        Mnemonic::MovImm(_) => ("rD, imm", 2),
        Mnemonic::Bin(..) => ("rD, a, b", 3),
        Mnemonic::Fma(_) => ("rD, a, b, c", 4),
        Mnemonic::Setp(..) => ("pD, a, b", 3),
        Mnemonic::Sel(_) => ("rD, p, a, b", 4),
        Mnemonic::Bra | Mnemonic::Call => ("@label", 1),
        Mnemonic::Loop => ("rC, @label", 2),
        Mnemonic::Ret | Mnemonic::Exit | Mnemonic::BarSync | Mnemonic::MemFence => ("", 0),
    }
}
