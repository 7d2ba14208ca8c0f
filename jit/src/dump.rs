//! Inspection of a compiled kernel: the strategy, CLIF before and after optimisation, the
//! machine code disassembly, code size and compile time.

use std::fmt;
use std::time::Duration;

/// How a kernel's lanes are executed by the compiled code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Groups of `group` lanes run vector code; per-lane scalar code handles the lanes that
    /// do not fill a group and any group whose lanes diverge or may trap.
    Vector {
        /// Lanes per group.
        group: u32,
        /// What the vector code looks like (vector widths, uniform registers, ...).
        detail: String,
    },
    /// Every lane runs per-lane scalar code, one lane after the other.
    Scalar {
        /// Why the vector strategy was not used.
        reason: String,
    },
    /// Programs with barriers: the lanes run up to the next barrier (as vector groups where
    /// the vector strategy is on and the group's lanes agree, otherwise lane by lane in
    /// scalar code), then the barrier (or reduction) is resolved for the whole block.
    Phased {
        /// Which barrier made the program phased, and how the phases run.
        reason: String,
    },
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Vector { group, detail } => {
                write!(f, "vector: groups of {group} lanes; {detail}")
            }
            Strategy::Scalar { reason } => write!(f, "scalar: one lane at a time ({reason})"),
            Strategy::Phased { reason } => write!(
                f,
                "phased: the block runs in phases between barriers ({reason})"
            ),
        }
    }
}

/// Everything the JIT can tell about one compiled kernel. The texts are present only when
/// [`crate::JitOptions::dump`] was set.
#[derive(Clone, Debug)]
pub struct JitDump {
    /// Kernel name.
    pub name: String,
    /// The execution strategy and why.
    pub strategy: Strategy,
    /// CLIF as translated, before Cranelift's optimisations.
    pub clif_before: Option<String>,
    /// CLIF after Cranelift's optimisations (egraph pass).
    pub clif_after: Option<String>,
    /// Machine code disassembly (capstone) by block, each instruction with its offset, and
    /// a comment line wherever the code starts to implement another ISA instruction
    /// (`; pc 2 (vector): ldg.f32 r1, [a + %gid*4]`, `(per-lane)` for the per-lane copy) or
    /// the kernel's own control; or why it is missing.
    pub disasm: Option<String>,
    /// Which functions Cranelift's optimiser ran on, and why not on the others.
    pub optimiser: String,
    /// Machine code bytes.
    pub code_size: u32,
    /// CLIF instructions handed to Cranelift.
    pub clif_insts: usize,
    /// Wall time of `compile` (analysis, translation, optimisation, code generation; with
    /// [`crate::JitOptions::dump`], rendering the texts too).
    pub compile_time: Duration,
    /// Where that time went.
    pub compile_parts: CompileParts,
    /// Code address (for profilers); the code lives as long as the kernel.
    pub code_addr: usize,
}

/// Where a compile's wall time went (see [`JitDump::compile_time`]): what a user weighing
/// the JIT's cost against the interpreter's, or a program's shape against its compile,
/// needs to see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileParts {
    /// Analysis of the program and its translation to the kernel function's CLIF (and the
    /// CLIF text, when dumping).
    pub translate: Duration,
    /// Cranelift's compile of the kernel function: optimiser, lowering, register allocation,
    /// machine code.
    pub kernel: Duration,
    /// Translation and compile of a vector kernel's per-lane function, if it has one.
    pub lanes: Option<Duration>,
    /// Whether a compile worker ran the per-lane function while this thread compiled the
    /// kernel (else this thread ran it too, one after the other).
    pub lanes_beside: bool,
}

impl fmt::Display for CompileParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "translation {:.3} ms, kernel function {:.3} ms",
            ms(self.translate),
            ms(self.kernel)
        )?;
        if let Some(l) = self.lanes {
            let how = if self.lanes_beside {
                "beside it on a compile worker"
            } else {
                "after it on the same thread"
            };
            write!(f, ", per-lane function {:.3} ms {how}", ms(l))?;
        }
        Ok(())
    }
}

/// The strategy text as comment lines: the first after `; strategy: `, then one line per
/// clause (`; `-separated), indented by how deep in parentheses it starts.
///
/// ```
/// let text = holovm_jit::strategy_lines("vector: groups of 8 lanes; two (a; b)");
/// assert_eq!(text, "; strategy: vector: groups of 8 lanes\n;   two (a\n;     b)");
/// ```
pub fn strategy_lines(strategy: &str) -> String {
    let mut out = String::from("; strategy: ");
    let mut depth = 0usize;
    let mut rest = strategy;
    while let Some(at) = rest.find("; ") {
        let clause = &rest[..at];
        depth += clause.matches('(').count();
        depth = depth.saturating_sub(clause.matches(')').count());
        out.push_str(clause);
        out.push_str("\n;   ");
        out.push_str(&"  ".repeat(depth));
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

/// What the `@N` marks in the CLIF texts mean.
pub const CLIF_LOCATIONS: &str = "@N: from the ISA instruction at pc N (hex) in the vector \
     code, @N + 80000000 (hex) in the per-lane code, none: the kernel's control";

impl JitDump {
    /// The summary that opens the dump, as `; ` comment lines, each ending in a newline:
    /// the kernel, the tier, the strategy, the optimiser, the code size and address and the
    /// compile time.
    pub fn header(&self) -> String {
        format!(
            "; kernel {}\n; tier: Cranelift JIT\n{}\n; optimiser: {}\n\
             ; code size: {} bytes at {:#x} (from {} CLIF instructions)\n\
             ; compile time: {:.3} ms ({})\n",
            self.name,
            strategy_lines(&self.strategy.to_string()),
            self.optimiser,
            self.code_size,
            self.code_addr,
            self.clif_insts,
            self.compile_time.as_secs_f64() * 1e3,
            self.compile_parts
        )
    }

    /// The dump's texts in order, each with its title: the CLIF before and after
    /// optimisation and the machine code; `None` where a text was not rendered (without
    /// [`crate::JitOptions::dump`]).
    ///
    /// ```
    /// let p = holovm_asm::assemble(".kernel k\n.param x: ptr f32\n    exit\n")?;
    /// let opts = holovm_jit::JitOptions { dump: true, ..Default::default() };
    /// let dump = holovm_jit::compile(&p, &opts)?.dump().clone();
    /// assert!(dump.header().starts_with("; kernel k\n; tier: Cranelift JIT\n"));
    /// let [(title, clif), _, (_, asm)] = dump.sections();
    /// assert!(title.starts_with("CLIF before") && clif.is_some_and(|t| t.contains("function")));
    /// assert!(asm.is_some_and(|t| t.contains(";; kernel at")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sections(&self) -> [(String, Option<&str>); 3] {
        [
            (
                format!("CLIF before optimisation ({CLIF_LOCATIONS})"),
                self.clif_before.as_deref(),
            ),
            (
                format!("CLIF after optimisation ({CLIF_LOCATIONS})"),
                self.clif_after.as_deref(),
            ),
            ("machine code".to_string(), self.disasm.as_deref()),
        ]
    }
}

/// The header, then each rendered section under a `;; ` title line.
impl fmt::Display for JitDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header())?;
        for (title, text) in self.sections() {
            if let Some(text) = text {
                writeln!(f, "\n;; {title}\n{text}")?;
            }
        }
        Ok(())
    }
}
