//! Assembler errors: positions, messages and rendering with source snippets.

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};

/// One assembler error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters, of the start of `span`.
    pub column: usize,
    /// Byte range of the offending text in the source.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something specific to say.
    pub help: Option<String>,
}

/// Every error found in one assembly run, in source order.
///
/// `Display` lists them as `line:column: message`, one per line; [`Diagnostics::render`] shows
/// each with its source line and a caret.
///
/// ```
/// let errors = holovm_asm::assemble(".kernel k\n    ad.u32 r0, r0, 1\n    exit\n").unwrap_err();
/// assert_eq!(errors.to_string(), "2:5: unknown mnemonic `ad`");
/// assert_eq!(errors.as_slice()[0].help.as_deref(), Some("did you mean `add`?"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The errors, in source order.
    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.items
    }

    /// Iterates over the errors in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are no errors (an assembly failure always has at least one).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Renders every error with the source line it points at and a caret under the offending
    /// text, as a compiler would print it. `source` must be the text that was assembled;
    /// `file_name` is only shown. No colours are used.
    ///
    /// ```
    /// let src = ".kernel k\n    mov.u32 r300, 1\n";
    /// let errors = holovm_asm::assemble(src).unwrap_err();
    /// let text = errors.render("k.hasm", src);
    /// assert!(text.contains("k.hasm:2:13"));
    /// assert!(text.contains("mov.u32 r300, 1"));
    /// assert!(text.contains("^^^^"));
    /// ```
    pub fn render(&self, file_name: &str, source: &str) -> String {
        let (shown, at) = visible_controls(source);
        let file = SimpleFile::new(file_name, shown.as_str());
        let config = Config::default();
        let mut out = String::new();
        for d in &self.items {
            let span = at(d.span.start)..at(d.span.end);
            let mut cs = CsDiagnostic::error()
                .with_message(&d.message)
                .with_label(Label::primary((), span));
            if let Some(help) = &d.help {
                cs = cs.with_note(format!("help: {help}"));
            }
            // A span that does not fit `source` (the caller passed other text) falls back to
            // the plain form rather than a misleading snippet.
            let fits = source.get(d.span.clone()).is_some();
            if !fits || term::emit_to_string(&mut out, &config, &file, &cs).is_err() {
                out.push_str(&format!("{file_name}:{d}\n"));
            }
        }
        out
    }

    pub(crate) fn new(items: Vec<Diagnostic>) -> Self {
        Diagnostics { items }
    }
}

/// `source` with its control characters (other than tab and line ends) shown as their
/// Unicode control pictures (`\0` as `␀`, a carriage return inside a line as `␍`), and other
/// invisible characters (zero-width spaces, byte order marks, bidirectional overrides, C1
/// controls) as `<U+XXXX>`, so that a snippet shows them with a caret under them and nothing
/// in it moves the terminal's cursor; and the map from byte offsets of `source` to those of
/// the text.
fn visible_controls(source: &str) -> (String, impl Fn(usize) -> usize) {
    let mut shown = String::with_capacity(source.len());
    // (byte offset in `source`, bytes the text has grown by up to that character included)
    // for each replaced character, in order, so that mapping an offset is a binary search
    // rather than a scan of everything before it (once per error).
    let mut grown: Vec<(usize, usize)> = Vec::new();
    for (i, c) in source.char_indices() {
        let before = shown.len();
        match c {
            '\t' | '\n' => shown.push(c),
            '\r' if source.as_bytes().get(i + 1) == Some(&b'\n') => shown.push(c),
            '\x7f' => shown.push('\u{2421}'),
            c if c.is_ascii_control() => {
                shown.push(char::from_u32(0x2400 + c as u32).unwrap_or('?'));
            }
            c if is_invisible(c) => shown.push_str(&format!("<U+{:04X}>", c as u32)),
            c => shown.push(c),
        }
        let growth = (shown.len() - before).saturating_sub(c.len_utf8());
        if growth > 0 {
            let total = grown.last().map_or(0, |g| g.1) + growth;
            grown.push((i, total));
        }
    }
    let at = move |offset: usize| {
        let k = grown.partition_point(|&(i, _)| i < offset);
        let total = k
            .checked_sub(1)
            .and_then(|k| grown.get(k))
            .map_or(0, |g| g.1);
        offset + total
    };
    (shown, at)
}

/// Characters that print as nothing (or act on the terminal) although they are in the text:
/// C1 controls and the usual zero-width, joiner, direction and byte-order-mark characters.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
impl std::error::Error for Diagnostics {}

/// The byte order mark, which the assembler ignores at the start of a file.
pub(crate) const BOM: char = '\u{feff}';

/// An error before its line and column are known (they are filled in from the span at the
/// end, see [`SourceMap`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diag {
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
}

impl Diag {
    pub(crate) fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Diag {
            span,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// Turns byte offsets into 1-based lines and character columns.
pub(crate) struct SourceMap<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        // Columns of the first line count from after a byte order mark (the assembler skips it).
        let first = source.len() - source.strip_prefix(BOM).unwrap_or(source).len();
        let line_starts = std::iter::once(first)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceMap {
            source,
            line_starts,
        }
    }

    /// 1-based (line, column) of byte `offset` (clamped to the source).
    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        // partition_point gives the number of line starts <= offset, which is >= 1.
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .source
            .get(start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, column)
    }

    pub(crate) fn diagnostic(&self, d: Diag) -> Diagnostic {
        let (line, column) = self.locate(d.span.start);
        Diagnostic {
            line,
            column,
            span: d.span,
            message: d.message,
            help: d.help,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate() {
        let m = SourceMap::new("ab\ncdé\n\nx");
        assert_eq!(m.locate(0), (1, 1));
        assert_eq!(m.locate(2), (1, 3));
        assert_eq!(m.locate(3), (2, 1));
        assert_eq!(m.locate(7), (2, 4)); // after the two-byte é
        assert_eq!(m.locate(8), (3, 1));
        assert_eq!(m.locate(9), (4, 1));
        assert_eq!(m.locate(1000), (4, 2));
    }

    #[test]
    fn render_falls_back_on_foreign_source() {
        let d = Diagnostics::new(vec![Diagnostic {
            line: 9,
            column: 1,
            span: 500..501,
            message: "boom".into(),
            help: None,
        }]);
        assert_eq!(d.render("f", "short"), "f:9:1: boom\n");
    }
}
