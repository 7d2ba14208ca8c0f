//! The assembler never panics, whatever the input: arbitrary text, and token soup built from
//! the pieces of real programs (which reaches far deeper into the parser than random text).

use holovm_asm::assemble;
use proptest::prelude::*;

const PIECES: &[&str] = &[
    ".kernel",
    ".param",
    ".shared",
    ".launch",
    "k",
    "a",
    "n",
    ":",
    "ptr",
    "f32",
    "u8",
    "i64",
    "add.f32",
    "setp.lt.u32",
    "cvt.f64.i8",
    "mov_imm.u64",
    "ldg.f32",
    "sts.u16",
    "bra",
    "loop",
    "call",
    "ret",
    "exit",
    "bar.sync",
    "reduce.max.f64",
    "r0",
    "r255",
    "r256",
    "p0",
    "p15",
    "p16",
    "%gid",
    "%lane",
    "%x",
    "@",
    "!",
    "&",
    "&pool",
    "[",
    "]",
    "(",
    ")",
    "+",
    "-",
    "*",
    ",",
    "phi",
    "shared",
    "0",
    "1",
    "-1",
    "0x",
    "0xff",
    "0b2",
    "1e-7",
    "1e",
    "inf",
    "nan",
    "0f3fc00000",
    "0d",
    "4294967296",
    "99999999999999999999999999999",
    "L0",
    "top:",
    "\n",
    "\n",
    ";",
    "//",
    "é",
    "\t",
    "\r\n",
    "#",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..60).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn token_soup(src in soup()) {
        check(&src);
    }

    #[test]
    fn arbitrary_text(src in ".{0,200}") {
        check(&src);
    }
}

fn check(src: &str) {
    if let Err(e) = assemble(src) {
        assert!(!e.is_empty());
        for d in &e {
            assert!(d.line >= 1 && d.column >= 1);
            assert!(
                d.span.start <= d.span.end && d.span.end <= src.len(),
                "{d:?} in {src:?}"
            );
            assert!(src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end));
        }
        let _ = e.render("fuzz", src);
        let _ = e.to_string();
    }
}
