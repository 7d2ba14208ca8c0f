//! Every example kernel under examples/kernels assembles, verifies, and survives the
//! disassemble/assemble and bytecode round trips unchanged.

use std::path::Path;

use holovm_asm::{assemble, disassemble};
use holovm_isa::Program;

#[test]
fn every_example_kernel_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kernels");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/kernels exists") {
        let path = entry.expect("readable directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("hasm") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable kernel");
        let program = match assemble(&text) {
            Ok(p) => p,
            Err(d) => panic!("{}", d.render(&path.display().to_string(), &text)),
        };
        let text2 = disassemble(&program);
        let again = assemble(&text2).unwrap_or_else(|d| panic!("{}", d.render("disasm", &text2)));
        assert_eq!(again, program, "{}", path.display());
        assert_eq!(again.key(), program.key());
        let decoded = Program::from_bytes(&program.to_bytes()).expect("bytecode decodes");
        assert_eq!(decoded, program, "{}", path.display());
        seen += 1;
    }
    assert!(
        seen >= 10,
        "expected at least 10 example kernels, found {seen}"
    );
}
