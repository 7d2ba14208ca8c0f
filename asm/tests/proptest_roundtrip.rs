//! `assemble(disassemble(p)) == p` over random valid programs.

use holovm_asm::{assemble, disassemble};
use holovm_isa::arbitrary::program_def;
use holovm_isa::Program;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn disassembly_reassembles_to_the_same_program(def in program_def()) {
        let p = Program::new(def).expect("the generator makes valid programs");
        let text = disassemble(&p);
        match assemble(&text) {
            Ok(q) => {
                prop_assert_eq!(q.def(), p.def(), "text:\n{}", text);
                prop_assert_eq!(q.key(), p.key());
                // The text is canonical: printing the re-assembled program gives it back.
                prop_assert_eq!(disassemble(&q), text);
            }
            Err(e) => prop_assert!(false, "{}\ntext:\n{}", e.render("disassembly", &text), text),
        }
    }
}
