//! The verifier: checks a [`ProgramDef`] against every rule of docs/ISA.md section 8.
//!
//! [`Program::new`](crate::Program::new) runs it, so every `Program` satisfies these rules and
//! the execution tiers never need to re-check them.

use std::fmt;

use crate::{
    Addr, Guard, Inst, Param, ParamKind, Pred, ProgramDef, SharedAddr, Src, Ty, MAX_INSTS,
    MAX_PARAMS, MAX_SHARED_BYTES, NUM_PREDS, POOL_CLASSES, POOL_PAGES,
};

/// Why a [`ProgramDef`] was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// Instruction index, if the problem is in one instruction.
    pub pc: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl VerifyError {
    fn program(message: impl Into<String>) -> Self {
        VerifyError {
            pc: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(f, "instruction {pc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Words that may not be used as kernel or parameter names, besides `rN`, `pN` and the type
/// names (see docs/ISA.md section 8): they would be ambiguous in the text syntax.
const RESERVED_WORDS: [&str; 6] = ["shared", "phi", "pool", "ptr", "inf", "nan"];

/// True when `s` can name a kernel or a parameter: an identifier `[A-Za-z_][A-Za-z0-9_]*`
/// that is not reserved (`rN`, `pN`, `shared`, `phi`, `pool`, `ptr`, `inf`, `nan` or a type
/// name).
///
/// ```
/// use holovm_isa::is_valid_ident;
/// assert!(is_valid_ident("vector_add"));
/// assert!(is_valid_ident("r1x"));
/// assert!(!is_valid_ident("r1"));
/// assert!(!is_valid_ident("f32"));
/// assert!(!is_valid_ident("1st"));
/// ```
pub fn is_valid_ident(s: &str) -> bool {
    ident_problem(s).is_none()
}

/// Why `s` is not a valid name, or `None` if it is one. The text completes
/// "name `s` ...".
fn ident_problem(s: &str) -> Option<String> {
    let mut chars = s.chars();
    let first = match chars.next() {
        None => return Some("is empty".into()),
        Some(c) => c,
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Some(format!(
            "is not an identifier: it starts with `{}`, not a letter or `_`",
            first.escape_debug()
        ));
    }
    if let Some(c) = chars.find(|&c| !(c.is_ascii_alphanumeric() || c == '_')) {
        return Some(format!(
            "is not an identifier: it contains `{}`, which is not a letter, digit or `_`",
            c.escape_debug()
        ));
    }
    let numbered = |prefix: char| {
        s.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    };
    if numbered('r') {
        return Some("is reserved: it is a general register name".into());
    }
    if numbered('p') {
        return Some("is reserved: it is a predicate register name".into());
    }
    if Ty::from_name(s).is_some() {
        return Some("is reserved: it is a type name".into());
    }
    if RESERVED_WORDS.contains(&s) {
        return Some("is reserved: it is a keyword of the text syntax".into());
    }
    None
}

/// Quotes a user-provided name for a message, escaping control characters.
fn quoted(s: &str) -> String {
    format!("`{}`", s.escape_debug())
}

/// Checks `def` against every rule of docs/ISA.md section 8 and returns the first violation:
/// program-level rules first (instruction count, names, parameters, `.shared`, `.launch`),
/// then each instruction in order.
pub(crate) fn verify(def: &ProgramDef) -> Result<(), VerifyError> {
    if def.insts.is_empty() {
        return Err(VerifyError::program(
            "the program has no instructions (it needs at least one, e.g. `exit`)",
        ));
    }
    if def.insts.len() > MAX_INSTS {
        return Err(VerifyError::program(format!(
            "the program has {} instructions; at most {MAX_INSTS} are allowed",
            def.insts.len()
        )));
    }
    if let Some(problem) = ident_problem(&def.name) {
        return Err(VerifyError::program(format!(
            "kernel name {} {problem}",
            quoted(&def.name)
        )));
    }
    if def.params.len() > MAX_PARAMS {
        return Err(VerifyError::program(format!(
            "the program declares {} parameters; at most {MAX_PARAMS} are allowed",
            def.params.len()
        )));
    }
    for (i, param) in def.params.iter().enumerate() {
        if let Some(problem) = ident_problem(&param.name) {
            return Err(VerifyError::program(format!(
                "parameter {i} name {} {problem}",
                quoted(&param.name)
            )));
        }
        // Quadratic, but there are at most 64 parameters.
        if let Some(first) = def.params[..i].iter().position(|p| p.name == param.name) {
            return Err(VerifyError::program(format!(
                "parameter {i} is named {} like parameter {first}; parameter names must be unique",
                quoted(&param.name)
            )));
        }
    }
    if def.shared_bytes > MAX_SHARED_BYTES {
        return Err(VerifyError::program(format!(
            "`.shared {}` exceeds the maximum of {MAX_SHARED_BYTES} bytes (1 MiB)",
            def.shared_bytes
        )));
    }
    if let Some(launch) = def.launch {
        if let Err(e) = launch.validate() {
            return Err(VerifyError::program(format!(
                "invalid default launch shape `.launch {}, {}`: {e}",
                launch.grid, launch.block
            )));
        }
    }
    match inst_errors(def).next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every violation of `def`: the first program-level one (the later checks assume those
/// rules hold), else the first violation of each instruction, in order. Empty when `def` is
/// valid. For tools that report every problem at once, as the assembler does.
///
/// ```
/// use holovm_isa::{verify_all, BinOp, Inst, ProgramDef, Reg, Src, Ty, UnOp};
/// let def = ProgramDef {
///     name: "k".into(),
///     insts: vec![
///         Inst::Bin { op: BinOp::Rem, ty: Ty::F32, dst: Reg(0), a: Src::Reg(Reg(1)), b: Src::Reg(Reg(2)) },
///         Inst::Un { op: UnOp::Sin, ty: Ty::U32, dst: Reg(0), a: Src::Reg(Reg(1)) },
///         Inst::Exit,
///     ],
///     ..Default::default()
/// };
/// let pcs: Vec<Option<u32>> = verify_all(&def).iter().map(|e| e.pc).collect();
/// assert_eq!(pcs, [Some(0), Some(1)]);
/// ```
pub fn verify_all(def: &ProgramDef) -> Vec<VerifyError> {
    match verify(def) {
        Ok(()) => Vec::new(),
        Err(e) if e.pc.is_none() => vec![e],
        Err(_) => inst_errors(def).collect(),
    }
}

/// The first violation of each instruction (the program-level rules hold).
fn inst_errors(def: &ProgramDef) -> impl Iterator<Item = VerifyError> + '_ {
    let cx = Checker { def };
    def.insts.iter().enumerate().filter_map(move |(pc, inst)| {
        // `pc` fits in u32: the instruction count was checked against MAX_INSTS.
        cx.inst(inst).err().map(|message| VerifyError {
            pc: Some(pc as u32),
            message,
        })
    })
}

/// Checks single instructions against the program they belong to. Errors are bare messages;
/// [`verify`] attaches the instruction index.
struct Checker<'a> {
    def: &'a ProgramDef,
}

type Check = Result<(), String>;

impl Checker<'_> {
    fn inst(&self, inst: &Inst) -> Check {
        match *inst {
            Inst::Ldg { ty, dst: _, addr } => self.addr(inst, ty, &addr),
            Inst::Stg { ty, src, addr } => {
                self.src(src, ty, "stored value")?;
                self.addr(inst, ty, &addr)
            }
            Inst::Lds { ty, dst: _, addr } => self.shared(inst, ty, &addr),
            Inst::Sts { ty, src, addr } => {
                self.src(src, ty, "stored value")?;
                self.shared(inst, ty, &addr)
            }
            Inst::Mov { ty, dst: _, src } => self.src(src, ty, "source operand"),
            Inst::Cvt {
                to: _,
                from,
                dst: _,
                src,
            } => self.src(src, from, "source operand"),
            Inst::Bin {
                op,
                ty,
                dst: _,
                a,
                b,
            } => {
                if op.int_only() && ty.is_float() {
                    return Err(format!(
                        "`{}` is defined on integer types only, not {ty}",
                        op.name()
                    ));
                }
                self.src(a, ty, "operand `a`")?;
                self.src(b, ty, "operand `b`")
            }
            Inst::Un { op, ty, dst: _, a } => {
                if op.int_only() && ty.is_float() {
                    return Err(format!(
                        "`{}` is defined on integer types only, not {ty}",
                        op.name()
                    ));
                }
                if op.float_only() && ty.is_int() {
                    return Err(format!(
                        "`{}` is defined on float types only, not {ty}",
                        op.name()
                    ));
                }
                self.src(a, ty, "operand `a`")
            }
            Inst::Fma {
                ty,
                dst: _,
                a,
                b,
                c,
            } => {
                self.src(a, ty, "operand `a`")?;
                self.src(b, ty, "operand `b`")?;
                self.src(c, ty, "operand `c`")
            }
            Inst::Setp {
                cmp: _,
                ty,
                dst,
                a,
                b,
            } => {
                pred(dst, "destination predicate")?;
                self.src(a, ty, "operand `a`")?;
                self.src(b, ty, "operand `b`")
            }
            Inst::Sel {
                ty,
                dst: _,
                pred: p,
                a,
                b,
            } => {
                pred(p, "selector predicate")?;
                self.src(a, ty, "operand `a`")?;
                self.src(b, ty, "operand `b`")
            }
            Inst::Bra { target, guard } => {
                if let Some(Guard { pred: p, negate: _ }) = guard {
                    pred(p, "guard predicate")?;
                }
                self.target(target, "branch")
            }
            Inst::Loop { counter: _, target } => self.target(target, "loop"),
            Inst::Call { target } => self.target(target, "call"),
            Inst::Ret | Inst::Exit | Inst::BarSync | Inst::MemFence => Ok(()),
            Inst::Reduce {
                op: _,
                ty,
                dst: _,
                src,
            } => self.src(src, ty, "source operand"),
        }
    }

    fn target(&self, target: u32, what: &str) -> Check {
        let len = self.def.insts.len();
        if (target as usize) < len {
            Ok(())
        } else {
            Err(format!(
                "{what} target {target} is outside the program (it has {len} instructions, so \
                 targets must be in 0..={})",
                len - 1
            ))
        }
    }

    /// A source operand read as `ty`. `what` names the operand for messages.
    fn src(&self, src: Src, ty: Ty, what: &str) -> Check {
        match src {
            Src::Reg(_) | Src::Special(_) => Ok(()),
            Src::Param(index) => {
                let param = self.param(index, what)?;
                match param.kind {
                    ParamKind::Scalar(t) if t == ty => Ok(()),
                    ParamKind::Scalar(t) => Err(format!(
                        "{what} names scalar parameter {} of type {t}, but the operand's type \
                         is {ty}",
                        quoted(&param.name)
                    )),
                    ParamKind::Buffer(t) => Err(format!(
                        "{what} names parameter {} which is a buffer (`ptr {t}`), not a \
                         scalar of type {ty}",
                        quoted(&param.name)
                    )),
                }
            }
            Src::Imm(bits) => {
                if bits & !ty.mask() == 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "{what}: immediate {bits:#x} has bits set above the {} bits of {ty} \
                         (immediates are the value's bit pattern, zero-extended; the largest \
                         is {:#x})",
                        ty.bits(),
                        ty.mask()
                    ))
                }
            }
        }
    }

    /// The parameter `index` refers to, or an error naming `what` refers to it.
    fn param(&self, index: u8, what: &str) -> Result<&Param, String> {
        self.def.params.get(index as usize).ok_or_else(|| {
            format!(
                "{what} names parameter {index}, but the program declares only {} parameter{}",
                self.def.params.len(),
                if self.def.params.len() == 1 { "" } else { "s" }
            )
        })
    }

    /// A buffer parameter accessed with type `ty`.
    fn buffer(&self, inst: &Inst, buf: u8, ty: Ty) -> Check {
        let param = self.param(buf, "the address")?;
        match param.kind {
            ParamKind::Buffer(elem) if elem == ty => Ok(()),
            ParamKind::Buffer(elem) => Err(format!(
                "`{}` accesses buffer {} whose element type is {elem}; the access type must \
                 equal the buffer's element type",
                mnemonic(inst),
                quoted(&param.name)
            )),
            ParamKind::Scalar(t) => Err(format!(
                "the address names parameter {} which is a scalar ({t}), not a buffer",
                quoted(&param.name)
            )),
        }
    }

    /// A global address accessed with type `ty`.
    fn addr(&self, inst: &Inst, ty: Ty, addr: &Addr) -> Check {
        match *addr {
            Addr::BufferOffset { buf, offset } => {
                self.buffer(inst, buf, ty)?;
                if !offset.is_multiple_of(ty.size()) {
                    return Err(format!(
                        "constant offset {offset} into buffer {} is not a multiple of the \
                         access size {} (the access would always be misaligned)",
                        self.param_name(buf),
                        ty.size()
                    ));
                }
                Ok(())
            }
            Addr::BufferIndex { buf, index, scale } => {
                self.buffer(inst, buf, ty)?;
                index_operand(index, scale)
            }
            Addr::Phi {
                class,
                page,
                byte: _,
                index,
            } => {
                if u32::from(class) >= POOL_CLASSES {
                    return Err(format!(
                        "phi class {class} is out of range (0..={})",
                        POOL_CLASSES - 1
                    ));
                }
                if u32::from(page) >= POOL_PAGES {
                    return Err(format!(
                        "phi page {page} is out of range (0..={})",
                        POOL_PAGES - 1
                    ));
                }
                match index {
                    Some((index, scale)) => index_operand(index, scale),
                    None => Ok(()),
                }
            }
            Addr::RegisterIndirect { .. } | Addr::RegisterIndirectComputed { .. } => Ok(()),
        }
    }

    /// A shared memory address accessed with type `ty`.
    fn shared(&self, inst: &Inst, ty: Ty, addr: &SharedAddr) -> Check {
        let shared = self.def.shared_bytes;
        if shared == 0 {
            return Err(format!(
                "`{}` accesses shared memory, but the program declares none (`.shared 0`)",
                mnemonic(inst)
            ));
        }
        match addr.index {
            Some((index, scale)) => index_operand(index, scale),
            None => {
                let end = u64::from(addr.offset) + u64::from(ty.size());
                if end > u64::from(shared) {
                    return Err(format!(
                        "constant shared offset {} with access size {} ends at byte {end}, \
                         beyond `.shared {shared}`",
                        addr.offset,
                        ty.size()
                    ));
                }
                if !addr.offset.is_multiple_of(ty.size()) {
                    return Err(format!(
                        "constant shared offset {} is not a multiple of the access size {} \
                         (the access would always be misaligned)",
                        addr.offset,
                        ty.size()
                    ));
                }
                Ok(())
            }
        }
    }

    fn param_name(&self, index: u8) -> String {
        match self.def.params.get(index as usize) {
            Some(p) => quoted(&p.name),
            None => format!("#{index}"),
        }
    }
}

/// A predicate operand.
fn pred(p: Pred, what: &str) -> Check {
    if (p.0 as usize) < NUM_PREDS {
        Ok(())
    } else {
        Err(format!(
            "{what} {p} is out of range (p0..=p{})",
            NUM_PREDS - 1
        ))
    }
}

/// A scaled index of an address (`[a + r3*4]`, `phi(..) + r1*4`, `[shared + r1*4]`).
fn index_operand(index: Src, scale: u8) -> Check {
    match index {
        Src::Reg(_) | Src::Special(_) => {}
        Src::Imm(v) => {
            return Err(format!(
                "the address index is the immediate {v:#x}; an index must be a register or \
                 special register (fold constants into the offset)"
            ))
        }
        Src::Param(i) => {
            return Err(format!(
                "the address index is parameter {i}; an index must be a register or special \
                 register (`mov` the parameter into a register first)"
            ))
        }
    }
    if matches!(scale, 1 | 2 | 4 | 8) {
        Ok(())
    } else {
        Err(format!("address scale {scale} is not 1, 2, 4 or 8"))
    }
}

/// The mnemonic with its suffixes (`ldg.f32`, `cvt.f32.i32`, `setp.lt.u32`) for messages.
fn mnemonic(inst: &Inst) -> String {
    match *inst {
        Inst::Ldg { ty, .. } => format!("ldg.{ty}"),
        Inst::Stg { ty, .. } => format!("stg.{ty}"),
        Inst::Lds { ty, .. } => format!("lds.{ty}"),
        Inst::Sts { ty, .. } => format!("sts.{ty}"),
        Inst::Mov {
            ty,
            src: Src::Imm(_),
            ..
        } => format!("mov_imm.{ty}"),
        Inst::Mov { ty, .. } => format!("mov.{ty}"),
        Inst::Cvt { to, from, .. } => format!("cvt.{to}.{from}"),
        Inst::Bin { op, ty, .. } => format!("{}.{ty}", op.name()),
        Inst::Un { op, ty, .. } => format!("{}.{ty}", op.name()),
        Inst::Fma { ty, .. } => format!("fma.{ty}"),
        Inst::Setp { cmp, ty, .. } => format!("setp.{}.{ty}", cmp.name()),
        Inst::Sel { ty, .. } => format!("sel.{ty}"),
        Inst::Bra { .. } => "bra".into(),
        Inst::Loop { .. } => "loop".into(),
        Inst::Call { .. } => "call".into(),
        Inst::Ret => "ret".into(),
        Inst::Exit => "exit".into(),
        Inst::BarSync => "bar.sync".into(),
        Inst::MemFence => "memfence".into(),
        Inst::Reduce { op, ty, .. } => format!("reduce.{}.{ty}", op.name()),
    }
}

/// `(1 + highest rN named, 1 + highest pN named)`, each 0 if none is named. Registers in
/// addresses and loop counters count. Meant for verified programs (predicates <= p15); for
/// others the predicate count saturates at 255.
pub(crate) fn registers_used(def: &ProgramDef) -> (u16, u8) {
    let mut regs: u16 = 0;
    let mut preds: u16 = 0;
    for inst in &def.insts {
        for r in inst.sources().filter_map(Src::reg).chain(inst.dst_reg()) {
            regs = regs.max(u16::from(r.0) + 1);
        }
        for p in inst.pred_read().into_iter().chain(inst.pred_written()) {
            preds = preds.max(u16::from(p.0) + 1);
        }
    }
    (regs, u8::try_from(preds).unwrap_or(u8::MAX))
}
