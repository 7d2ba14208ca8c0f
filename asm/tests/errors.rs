//! Assembler errors: one test per kind, with line:column and message; several errors in one
//! pass; rendering with source snippets.

use holovm_asm::{assemble, Diagnostics};

/// Assembles `src` (which must fail) and returns `line:col: message` per error.
fn errors(src: &str) -> Vec<String> {
    let e = assemble(src).expect_err("assembly should fail");
    e.iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect()
}

/// The only error of `src`, as `line:col: message`, and its help.
fn error(src: &str) -> (String, Option<String>) {
    let e: Diagnostics = assemble(src).expect_err("assembly should fail");
    assert_eq!(e.len(), 1, "{e}");
    let d = &e.as_slice()[0];
    (
        format!("{}:{}: {}", d.line, d.column, d.message),
        d.help.clone(),
    )
}

const K: &str = ".kernel k\n.param a: ptr f32\n.param n: u32\n";

fn with_body(body: &str) -> String {
    format!("{K}{body}")
}

#[test]
fn undefined_label() {
    let (e, help) = error(&with_body("top:\n    bra @tpo\n    exit\n"));
    assert_eq!(e, "5:9: undefined label `tpo`");
    assert_eq!(help.as_deref(), Some("did you mean `@top`?"));
}

#[test]
fn label_at_end_of_program() {
    let (e, _) = error(&with_body("    bra @end\n    exit\nend:\n"));
    assert_eq!(
        e,
        "4:9: label `end` marks no instruction (it is at the end of the program)"
    );
}

#[test]
fn duplicate_label() {
    let (e, help) = error(&with_body("x: exit\n  x: exit\n"));
    assert_eq!(e, "5:3: duplicate label `x`");
    assert_eq!(help.as_deref(), Some("`x` is already defined on line 4"));
}

#[test]
fn unknown_mnemonic_suggests_closest() {
    let (e, help) = error(&with_body("    sigmod.f32 r0, r1\n    exit\n"));
    assert_eq!(e, "4:5: unknown mnemonic `sigmod`");
    assert_eq!(help.as_deref(), Some("did you mean `sigmoid`?"));
    let (e, help) = error(&with_body("    mvo.u32 r0, r1\n    exit\n"));
    assert_eq!(e, "4:5: unknown mnemonic `mvo`");
    assert_eq!(help.as_deref(), Some("did you mean `mov`?"));
}

#[test]
fn bad_suffixes() {
    assert_eq!(
        error(&with_body("    add.f16 r0, r1, r2\n    exit\n")).0,
        "4:9: unknown type `f16`"
    );
    assert_eq!(
        error(&with_body("    add r0, r1, r2\n    exit\n")).0,
        "4:5: `add` needs a suffix: `add.T`"
    );
    assert_eq!(
        error(&with_body("    setp.lte.u32 p0, r1, r2\n    exit\n")).0,
        "4:10: unknown comparison `lte`"
    );
    assert_eq!(
        error(&with_body("    reduce.avg.f32 r0, r1\n    exit\n")).0,
        "4:12: unknown reduction `avg`"
    );
    assert_eq!(
        error(&with_body("    exit.u32\n")).0,
        "4:9: `exit` takes no type suffix"
    );
}

#[test]
fn wrong_operand_count() {
    assert_eq!(
        error(&with_body("    add.f32 r0, r1\n    exit\n")).0,
        "4:5: `add.f32` takes 3 operands (rD, a, b), found 2"
    );
    assert_eq!(
        error(&with_body("    neg.f32 r0, r1, r2, r3\n    exit\n")).0,
        "4:21: `neg.f32` takes 2 operands (rD, a), found 4"
    );
    assert_eq!(
        error(&with_body("    exit r0\n")).0,
        "4:10: `exit` takes no operands, found 1"
    );
    assert_eq!(
        error(&with_body("    bra\n    exit\n")).0,
        "4:5: `bra` takes 1 operand (@label), found 0"
    );
}

#[test]
fn wrong_operand_kind() {
    assert_eq!(
        error(&with_body("    add.f32 p0, r1, r2\n    exit\n")).0,
        "4:13: expected a destination register (`r0`..`r255`), found predicate `p0`"
    );
    assert_eq!(
        error(&with_body("    setp.lt.f32 r0, r1, r2\n    exit\n")).0,
        "4:17: expected a predicate (`p0`..`p15`), found register `r0`"
    );
    assert_eq!(
        error(&with_body("    add.f32 r0, r1, [a]\n    exit\n")).0,
        "4:21: expected a register, special register, parameter or immediate, found an address"
    );
    assert_eq!(
        error(&with_body("    ldg.f32 r0, r1\n    exit\n")).0,
        "4:17: expected an address `[...]`, found register `r1`"
    );
    assert_eq!(
        error(&with_body("    lds.f32 r0, [a + 4]\n    exit\n")).0,
        "4:17: `lds`/`sts` take a shared address `[shared + ...]`"
    );
    assert_eq!(
        error(&with_body("    ldg.f32 r0, [shared + 4]\n    exit\n")).0,
        "4:17: shared memory is accessed with `lds`/`sts`"
    );
    let (e, help) = error(&with_body("    bra done\ndone: exit\n"));
    assert_eq!(e, "4:9: expected a label");
    assert_eq!(
        help.as_deref(),
        Some("labels are referenced with `@`: `@done`")
    );
    assert_eq!(
        error(&with_body("    mov_imm.u32 r0, r1\n    exit\n")).0,
        "4:21: `mov_imm` takes an immediate"
    );
    assert_eq!(
        error(&with_body("    @p0 exit\n")).0,
        "4:5: only `bra` can have a guard"
    );
}

#[test]
fn register_out_of_range() {
    assert_eq!(
        error(&with_body("    mov.u32 r256, 1\n    exit\n")).0,
        "4:13: register `r256` is out of range (r0..r255)"
    );
    assert_eq!(
        error(&with_body("    setp.eq.u32 p16, r0, 1\n    exit\n")).0,
        "4:17: predicate `p16` is out of range (p0..p15)"
    );
    assert_eq!(
        error(&with_body("    @!p99 bra @x\nx: exit\n")).0,
        "4:7: predicate `p99` is out of range (p0..p15)"
    );
    assert_eq!(
        error(&with_body("    ldg.f32 r0, [a + r300*4]\n    exit\n")).0,
        "4:22: register `r300` is out of range (r0..r255)"
    );
}

#[test]
fn special_register_as_destination() {
    assert_eq!(
        error(&with_body("    mov.u32 %lane, r0\n    exit\n")).0,
        "4:13: special register `%lane` is read-only and cannot be a destination"
    );
    assert_eq!(
        error(&with_body("    loop %gid, @x\nx: exit\n")).0,
        "4:10: special register `%gid` is read-only and cannot be a destination"
    );
}

#[test]
fn immediate_out_of_range() {
    assert_eq!(
        error(&with_body("    add.u8 r0, r0, 256\n    exit\n")).0,
        "4:20: `256` is out of range for u8 (0..=255)"
    );
    assert_eq!(
        error(&with_body("    sel.i16 r0, p0, -32769, 0\n    exit\n")).0,
        "4:21: `-32769` is out of range for i16 (-32768..=32767)"
    );
    assert_eq!(
        error(&with_body("    cvt.f32.u8 r0, 300\n    exit\n")).0,
        "4:20: `300` is out of range for u8 (0..=255)"
    );
    assert_eq!(
        error(&with_body("    mov.f32 r0, 1e40\n    exit\n")).0,
        "4:17: `1e40` is out of range for f32 (largest finite value is 3.4028235e38)"
    );
}

#[test]
fn address_fields_out_of_range() {
    assert_eq!(
        error(&with_body("    ldg.f32 r0, [a + 4294967296]\n    exit\n")).0,
        "4:22: offset `4294967296` is out of range (0..=4294967295)"
    );
    assert_eq!(
        error(&with_body("    ldg.f32 r0, [r1 - 2147483649]\n    exit\n")).0,
        "4:23: offset `2147483649` is out of range (0..=2147483648)"
    );
    assert_eq!(
        error(&with_body("    ldg.f32 r0, [phi(96, 0, 0)]\n    exit\n")).0,
        "4:22: phi class `96` is out of range (0..=95)"
    );
    assert_eq!(
        error(&with_body("    ldg.f32 r0, [a + r1*3]\n    exit\n")).0,
        "4:25: scale 3 is not 1, 2, 4 or 8"
    );
}

#[test]
fn unknown_parameter() {
    let (e, help) = error(&with_body("    mov.u32 r0, m\n    exit\n"));
    assert_eq!(e, "4:17: unknown parameter `m`");
    assert_eq!(help.as_deref(), Some("did you mean `n`?"));
    let (e, help) = error(&with_body("    mov.u32 r0, R1\n    exit\n"));
    assert_eq!(e, "4:17: unknown parameter `R1`");
    assert_eq!(help.as_deref(), Some("register names are lowercase: `r1`"));
    let (e, help) = error(&with_body("    ldg.f32 r0, [b + 4]\n    exit\n"));
    assert_eq!(e, "4:18: unknown parameter `b`");
    assert_eq!(help.as_deref(), Some("did you mean `a`?"));
}

#[test]
fn parameter_kind_mismatch() {
    let (e, help) = error(&with_body("    mov.u64 r0, a\n    exit\n"));
    assert_eq!(e, "4:17: `a` is a buffer parameter, not a scalar value");
    assert_eq!(
        help.as_deref(),
        Some("use `&a` for a pointer to it, or an address such as `[a + r1*4]`")
    );
    assert_eq!(
        error(&with_body("    ldg.u32 r0, [n + 4]\n    exit\n")).0,
        "4:18: `n` is a scalar parameter, not a buffer"
    );
}

#[test]
fn missing_kernel() {
    let (e, help) = error("; no header\n    exit\n");
    assert_eq!(e, "2:5: missing `.kernel` directive");
    assert_eq!(
        help.as_deref(),
        Some("start the program with `.kernel NAME`")
    );
    assert_eq!(error("").0, "1:1: missing `.kernel` directive");
}

#[test]
fn directive_errors() {
    assert_eq!(
        errors(".param n: u32\n.kernel k\n    exit\n"),
        ["2:1: `.kernel` must be the first directive"]
    );
    assert_eq!(
        errors(".kernel k\n.kernel j\n    exit\n"),
        ["2:1: duplicate `.kernel` directive"]
    );
    assert_eq!(
        errors(".kernel k\n    exit\n.param n: u32\n"),
        ["3:1: directives must come before the first instruction"]
    );
    let (e, help) = error(".kernel k\n.param n: u32\n.param n: f32\n    exit\n");
    assert_eq!(e, "3:8: duplicate parameter `n`");
    assert_eq!(help.as_deref(), Some("`n` is already declared on line 2"));
    assert_eq!(
        error(".kernel k\n.param r1: u32\n    exit\n").0,
        "2:8: `r1` is reserved and cannot be a parameter name"
    );
    assert_eq!(
        error(".kernel f32\n    exit\n").0,
        "1:9: `f32` is reserved and cannot be a kernel name"
    );
    assert_eq!(
        error(".kernel k\n.param x: f16\n    exit\n").0,
        "2:11: unknown type `f16`"
    );
    assert_eq!(
        error(".kernel k\n.launch 1, 2048\n    exit\n").0,
        "2:1: invalid launch shape: block size 2048 is not in 1..=1024"
    );
    assert_eq!(
        error(".kernel k\n.shared 2000000\n    exit\n").0,
        "2:9: shared memory size `2000000` is out of range (0..=1048576)"
    );
    let (e, help) = error(".kernel k\n.sharde 16\n    exit\n");
    assert_eq!(e, "2:1: unknown directive `.sharde`");
    assert_eq!(help.as_deref(), Some("did you mean `.shared`?"));
    let mut src = String::from(".kernel k\n");
    for i in 0..65 {
        src.push_str(&format!(".param p_{i}: u32\n"));
    }
    src.push_str("    exit\n");
    assert_eq!(error(&src).0, "66:8: too many parameters (at most 64)");
}

#[test]
fn lexical_errors() {
    assert_eq!(
        error(&with_body("    mov.u32 r0, #1\n    exit\n")).0,
        "4:17: unexpected character `#`"
    );
    assert_eq!(
        error(&with_body("    mov.u32 r0, %foo\n    exit\n")).0,
        "4:17: unknown special register `%foo`"
    );
    assert_eq!(
        error(&with_body("    mov.u32 r0 r1\n    exit\n")).0,
        "4:16: expected `,` or the end of the line, found `r1`"
    );
}

#[test]
fn verifier_errors_map_to_the_instruction_line() {
    // Syntactically fine, rejected by the verifier: the error points at the instruction.
    let src = with_body("    mov.u32 r0, 1\n  @p0 bra @x\n    rem.f32 r0, r0, r0\nx:  exit\n");
    let e = errors(&src);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("6:5: "), "{e:?}");
    assert!(e[0].contains("rem"), "{e:?}");
    // Buffer element type mismatch, also from the verifier.
    let e = errors(&with_body("    ldg.u32 r0, [a + 4]\n    exit\n"));
    assert!(e[0].starts_with("4:5: "), "{e:?}");
    assert!(
        e[0].contains("`ldg.u32` accesses buffer `a` whose element type is f32"),
        "{e:?}"
    );
    // Program-level verifier errors point at the `.kernel` line.
    let e = errors(".kernel k\n.param n: u32\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("1:1: "), "{e:?}");
    assert!(e[0].contains("no instructions"), "{e:?}");
}

#[test]
fn many_errors_in_one_pass() {
    let src = "\
.kernel k
.param a: ptr f32
    mov.u32 r256, 1
    ad.f32 r0, r1, r2
    mov.u32 %gid, r0
ok: mov.u32 r1, 2
    bra @nowhere
    mov.i8 r0, 128
    mov.u32 r0, zz
ok: exit
";
    assert_eq!(
        errors(src),
        [
            "3:13: register `r256` is out of range (r0..r255)",
            "4:5: unknown mnemonic `ad`",
            "5:13: special register `%gid` is read-only and cannot be a destination",
            "7:9: undefined label `nowhere`",
            "8:16: `128` is out of range for i8 (-128..=127)",
            "9:17: unknown parameter `zz`",
            "10:1: duplicate label `ok`",
        ]
    );
}

#[test]
fn labels_on_bad_lines_are_still_defined() {
    // The label survives the parse error on its line, so `@top` gives no second error.
    assert_eq!(
        errors(".kernel k\ntop: mov.u32 r0, #\n    bra @top\n"),
        ["2:18: unexpected character `#`"]
    );
    assert_eq!(
        errors(".kernel k\ntop: mov.u32 r0,\n    bra @top\n"),
        ["2:17: expected an operand, found the end of the line"]
    );
}

#[test]
fn display_lists_line_col_message() {
    let e = assemble(".kernel k\n    mov.u32 r0, q\n    exit r0\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "2:17: unknown parameter `q`\n3:10: `exit` takes no operands, found 1"
    );
    let as_error: &dyn std::error::Error = &e;
    assert!(as_error.to_string().contains("unknown parameter"));
}

#[test]
fn render_shows_source_and_caret() {
    let src = ".kernel k\n    add.u8 r0, r0, 300\n    bra @gone\n";
    let e = assemble(src).unwrap_err();
    let text = e.render("k.hasm", src);
    assert!(text.contains("k.hasm:2:20"), "{text}");
    assert!(text.contains("add.u8 r0, r0, 300"), "{text}");
    assert!(text.contains("^^^"), "{text}");
    assert!(text.contains("`300` is out of range for u8"), "{text}");
    assert!(text.contains("k.hasm:3:9"), "{text}");
    assert!(text.contains("bra @gone"), "{text}");
    // The caret sits under the offending text.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("add.u8 r0, r0, 300"))
        .unwrap();
    let src_col = lines[at].find("300").unwrap();
    assert_eq!(lines[at + 1].find('^'), Some(src_col), "{text}");
    // Help notes are included.
    let src = ".kernel k\n    ad.u32 r0, r0, 1\n    exit\n";
    let text = assemble(src).unwrap_err().render("k.hasm", src);
    assert!(text.contains("help: did you mean `add`?"), "{text}");
}

#[test]
fn broken_directives_do_not_cascade() {
    // A bad `.kernel` line is one error, not also "missing `.kernel`".
    assert_eq!(
        errors(".kernel 9\n    exit\n"),
        ["1:9: expected a kernel name, found `9`"]
    );
    // A bad `.param` line still declares its name, so its uses give no further errors.
    assert_eq!(
        errors(".kernel k\n.param x: f16\n.param b: ptr f17\n    mov.u32 r0, x\n    ldg.f32 r0, [b]\n    exit\n"),
        ["2:11: unknown type `f16`", "3:15: unknown type `f17`"]
    );
}

#[test]
fn a_float_without_a_leading_digit_says_so() {
    let (e, _) = error(&with_body("    mov_imm.f32 r0, .5\n    exit\n"));
    assert_eq!(
        e,
        "4:21: a number cannot start with `.`: write a digit before it (`0.5`)"
    );
}

#[test]
fn control_characters_show_in_the_snippet_under_the_caret() {
    let src = with_body("    mov.u32 r0,\0 r1\n    exit\n");
    let e = assemble(&src).expect_err("a NUL byte is not valid");
    let text = e.render("k.hasm", &src);
    assert!(text.contains("unexpected character `\\0`"), "{text}");
    assert!(text.contains("mov.u32 r0,\u{2400} r1"), "{text}");
    caret_under(&text, '\u{2400}');
}

/// Asserts that the first caret line of `text` puts its caret under `picture` in the first
/// snippet line that shows it.
fn caret_under(text: &str, picture: char) {
    let lines: Vec<&str> = text.lines().collect();
    let snippet = lines.iter().find(|l| l.contains(picture)).expect("snippet");
    let caret = lines.iter().find(|l| l.contains('^')).expect("caret line");
    let col = |l: &str, c: char| l.chars().position(|x| x == c);
    assert_eq!(col(snippet, picture), col(caret, '^'), "{text}");
}

#[test]
fn every_instruction_the_verifier_rejects_is_reported() {
    let e = errors(&with_body(
        "    rem.f32 r0, r1, r2\n    add.u32 r0, r0, 1\n    sin.u32 r0, r1\n    exit\n",
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("4:5: ") && e[0].contains("rem"), "{e:?}");
    assert!(e[1].starts_with("6:5: ") && e[1].contains("sin"), "{e:?}");
}

#[test]
fn suggestions_stay_cheap_for_long_names() {
    // A 20,000-character label and a reference that differs in its last character: the
    // distance is quadratic in the length, so names this long get no suggestion at all.
    let name = "a".repeat(20_000);
    let src = format!(".kernel k\n{name}b:\n    bra @{name}c\n    exit\n");
    let e = assemble(&src).expect_err("the label is undefined");
    assert_eq!(e.len(), 1, "{e}");
    let d = &e.as_slice()[0];
    assert_eq!((d.line, d.column), (3, 9));
    assert!(
        d.message.starts_with("undefined label `aaa"),
        "{}",
        d.message
    );
    assert_eq!(d.help, None);
    // Same for an unknown parameter.
    let src = format!(".kernel k\n.param {name}b: u32\n    mov.u32 r0, {name}c\n    exit\n");
    let e = assemble(&src).expect_err("the parameter is unknown");
    assert_eq!(e.len(), 1, "{e}");
    assert!(e.as_slice()[0].message.starts_with("unknown parameter"));
    assert_eq!(e.as_slice()[0].help, None);
}

#[test]
fn many_undefined_labels_are_all_reported_and_typos_still_suggested() {
    // 2,000 labels and 2,000 undefined references: every reference is reported, and a typo
    // among them still gets its suggestion.
    let mut src = String::from(".kernel k\n");
    for i in 0..2000 {
        src.push_str(&format!("lab{i}: exit\n"));
    }
    src.push_str("    bra @lba7\n");
    for i in 0..2000 {
        src.push_str(&format!("    bra @zz{i}\n"));
    }
    src.push_str("    exit\n");
    let e = assemble(&src).expect_err("the labels are undefined");
    assert_eq!(e.len(), 2001);
    let first = &e.as_slice()[0];
    assert_eq!(first.message, "undefined label `lba7`");
    assert_eq!(first.help.as_deref(), Some("did you mean `@lab7`?"));
    assert!(e
        .iter()
        .skip(1)
        .all(|d| d.message.starts_with("undefined label `zz")));
}

#[test]
fn rendering_many_errors_maps_every_one() {
    // 10,000 errors, each at a control character: rendering maps each error's offset past the
    // control pictures before it (once a scan of the whole prefix per error, quadratic).
    let mut src = String::from(".kernel k\n");
    for _ in 0..10_000 {
        src.push_str("    mov.u32 r0,\x01 r1\n");
    }
    src.push_str("    exit\n");
    let e = assemble(&src).expect_err("control characters are not valid");
    assert_eq!(e.len(), 10_000);
    let text = e.render("k.hasm", &src);
    assert_eq!(
        text.matches("unexpected character `\\u{1}`").count(),
        10_000
    );
    // The last error's caret still sits under its picture.
    let tail = &text[text.rfind("k.hasm:10001:16").expect("last error")..];
    caret_under(tail, '\u{2401}');
}

#[test]
fn end_of_line_errors_point_before_a_trailing_comment() {
    let (e, _) = error(".kernel k\n    mov.u32 r0,   ; set r0\n    exit\n");
    assert_eq!(e, "2:16: expected an operand, found the end of the line");
    let (e, _) = error(".kernel k\n.launch 4   ; shape\n    exit\n");
    assert!(e.starts_with("2:10: expected `,`"), "{e}");
    let (e, _) = error(".kernel k\n.launch 4   // shape\n    exit\n");
    assert!(e.starts_with("2:10: expected `,`"), "{e}");
    // Without a comment, trailing blanks are not counted either.
    let (e, _) = error(".kernel k\n    mov.u32 r0,  \t\r\n    exit\n");
    assert!(e.starts_with("2:16: "), "{e}");
}

#[test]
fn a_leading_byte_order_mark_is_skipped() {
    let p = assemble("\u{feff}.kernel k\n    exit\n").expect("a BOM is not part of the text");
    assert_eq!(p.name(), "k");
    // Columns on the first line count from after it.
    assert_eq!(
        errors("\u{feff}.kernel 9\n    exit\n"),
        ["1:9: expected a kernel name, found `9`"]
    );
    // Elsewhere it is still an unexpected character.
    assert_eq!(
        errors(".kernel k\n\u{feff}    exit\n"),
        ["2:1: unexpected character `\\u{feff}`"]
    );
}

#[test]
fn a_misspelt_kernel_directive_is_one_error() {
    let (e, help) = error(".kernal k\n    exit\n");
    assert_eq!(e, "1:1: unknown directive `.kernal`");
    assert_eq!(help.as_deref(), Some("did you mean `.kernel`?"));
    // A file without any `.kernel` attempt still gets "missing `.kernel`".
    assert_eq!(
        errors(".launch x\n    exit\n"),
        [
            "1:9: expected grid size, found `x`",
            "2:5: missing `.kernel` directive"
        ]
    );
}

#[test]
fn invisible_characters_show_in_the_snippet_with_a_caret() {
    for (c, shown) in [
        ('\u{200b}', "<U+200B>"),
        ('\u{feff}', "<U+FEFF>"),
        ('\u{202e}', "<U+202E>"),
        ('\u{85}', "<U+0085>"),
    ] {
        let src = format!(".kernel k\n    mov.u32 r0,{c} r1 ; {c}\n    exit\n");
        let text = assemble(&src).expect_err("invalid").render("k.hasm", &src);
        let snippet = format!("mov.u32 r0,{shown} r1 ; {shown}");
        assert!(text.contains(&snippet), "{text}");
        assert!(!text.contains(c), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let line = lines
            .iter()
            .find(|l| l.contains(&snippet))
            .expect("snippet");
        let caret = lines.iter().find(|l| l.contains('^')).expect("caret line");
        let col = |l: &str, p: &str| l.find(p).map(|b| l[..b].chars().count());
        assert_eq!(col(line, shown), col(caret, "^^^^^^^^"), "{text}");
    }
    // A carriage return inside a line would move the cursor back over the snippet.
    let src = ".kernel k\n    mov.u32 r0,\r 1 2\r\n    exit\r\n";
    let text = assemble(src).expect_err("invalid").render("k.hasm", src);
    assert!(text.contains("mov.u32 r0,\u{240d} 1 2\n"), "{text:?}");
    assert!(!text.contains('\r'), "{text:?}");
}
