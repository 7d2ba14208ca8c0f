//! Programs: instructions plus metadata, verified on construction.

use crate::{bytecode, verify, DecodeError, Inst, ProgramKey, Special, Src, Ty, VerifyError};

/// Number of classes in the boundary pool.
pub const POOL_CLASSES: u32 = 96;
/// Pages per pool class.
pub const POOL_PAGES: u32 = 48;
/// Bytes per pool page.
pub const POOL_PAGE_BYTES: u32 = 256;
/// Bytes per pool class (`48 * 256`).
pub const POOL_CLASS_BYTES: u32 = POOL_PAGES * POOL_PAGE_BYTES;
/// Total size of the boundary pool in bytes (`96 * 12288`).
pub const POOL_BYTES: u32 = POOL_CLASSES * POOL_CLASS_BYTES;
/// The handle half of a global pointer that names the boundary pool (see docs/ISA.md).
pub const POOL_HANDLE: u32 = u32::MAX;
/// Most lanes a block may have.
pub const MAX_BLOCK: u32 = 1024;
/// Most bytes of shared memory a program may declare per block.
pub const MAX_SHARED_BYTES: u32 = 1 << 20;
/// Most parameters a program may declare.
pub const MAX_PARAMS: usize = 64;
/// Most instructions a program may have.
pub const MAX_INSTS: usize = 1 << 20;

/// What a parameter binds to at launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A buffer (or the boundary pool is addressed separately) whose elements have this type.
    Buffer(Ty),
    /// A scalar value of this type, uniform across the launch.
    Scalar(Ty),
}

/// A declared parameter: `.param a: ptr f32` or `.param n: u32`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// The name the program's operands use (`a`, `n`).
    pub name: String,
    /// A buffer of an element type or a scalar of a type.
    pub kind: ParamKind,
}

/// The shape of a launch: `grid` blocks of `block` lanes (1-D).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LaunchConfig {
    /// Blocks in the grid (`%nblocks`), at least 1.
    pub grid: u32,
    /// Lanes per block (`%bdim`), 1 to 1024.
    pub block: u32,
}

impl LaunchConfig {
    /// A launch of `grid` blocks of `block` lanes.
    pub const fn new(grid: u32, block: u32) -> Self {
        LaunchConfig { grid, block }
    }

    /// Enough blocks of `block` lanes to cover `n` lanes (at least one block). A `block`
    /// outside `1..=1024` is kept as it is, for [`LaunchConfig::validate`] to reject.
    ///
    /// ```
    /// use holovm_isa::LaunchConfig;
    /// assert_eq!(LaunchConfig::cover(1000, 256), LaunchConfig::new(4, 256));
    /// assert!(LaunchConfig::cover(1000, 0).validate().is_err());
    /// ```
    pub const fn cover(n: u64, block: u32) -> Self {
        let b = block as u64;
        let g = if b == 0 { 1 } else { n.div_ceil(b) };
        let g = if g == 0 {
            1
        } else if g > u32::MAX as u64 {
            u32::MAX as u64
        } else {
            g
        };
        LaunchConfig {
            grid: g as u32,
            block: b as u32,
        }
    }

    /// Total lanes, `grid * block`.
    #[inline]
    pub const fn lanes(&self) -> u64 {
        self.grid as u64 * self.block as u64
    }

    /// Checks the shape: `1 <= block <= 1024`, `grid >= 1`, and `grid * block < 2^32`.
    #[inline]
    pub fn validate(&self) -> Result<(), String> {
        let ok = self.block != 0
            && self.block <= MAX_BLOCK
            && self.grid != 0
            && self.lanes() <= u32::MAX as u64;
        if ok {
            Ok(())
        } else {
            Err(self.invalid())
        }
    }

    /// What is wrong with an invalid shape (out of line: launches check every time).
    #[cold]
    #[inline(never)]
    fn invalid(&self) -> String {
        if self.block == 0 || self.block > MAX_BLOCK {
            format!("block size {} is not in 1..={MAX_BLOCK}", self.block)
        } else if self.grid == 0 {
            "grid size must be at least 1".into()
        } else {
            format!(
                "grid {} x block {} = {} lanes exceeds 2^32 - 1",
                self.grid,
                self.block,
                self.lanes()
            )
        }
    }
}

/// An unverified program, as built by the assembler or by hand. Turn it into a [`Program`]
/// with [`Program::new`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProgramDef {
    /// Kernel name (`.kernel NAME`).
    pub name: String,
    /// Parameters in declaration order; instructions refer to them by index.
    pub params: Vec<Param>,
    /// Bytes of shared memory per block (`.shared N`).
    pub shared_bytes: u32,
    /// Default launch shape (`.launch GRID, BLOCK`), if any.
    pub launch: Option<LaunchConfig>,
    /// The instructions; branch targets are indices into this list.
    pub insts: Vec<Inst>,
}

/// A verified program. It can only be built through [`Program::new`] (or decoded from
/// bytecode, which verifies too), so every `Program` obeys the rules of docs/ISA.md.
///
/// ```
/// use holovm_isa::*;
/// let def = ProgramDef {
///     name: "one".into(),
///     insts: vec![Inst::Mov { ty: Ty::U32, dst: Reg(0), src: Src::Imm(1) }, Inst::Exit],
///     ..Default::default()
/// };
/// let p = Program::new(def).unwrap();
/// assert_eq!(p.num_regs(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Program {
    def: ProgramDef,
    key: ProgramKey,
    num_regs: u16,
    num_preds: u8,
}

impl Program {
    /// Verifies `def` and computes its [`ProgramKey`].
    pub fn new(def: ProgramDef) -> Result<Program, VerifyError> {
        verify::verify(&def)?;
        let key = ProgramKey::of(&def);
        let (num_regs, num_preds) = verify::registers_used(&def);
        Ok(Program {
            def,
            key,
            num_regs,
            num_preds,
        })
    }

    /// The program's content key: equal keys mean equal programs.
    pub fn key(&self) -> ProgramKey {
        self.key
    }

    /// Kernel name.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// Declared parameters.
    pub fn params(&self) -> &[Param] {
        &self.def.params
    }

    /// Index of the parameter called `name`.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.def.params.iter().position(|p| p.name == name)
    }

    /// Shared memory bytes per block.
    pub fn shared_bytes(&self) -> u32 {
        self.def.shared_bytes
    }

    /// The default launch shape, if the program declares one.
    pub fn launch(&self) -> Option<LaunchConfig> {
        self.def.launch
    }

    /// The instructions.
    pub fn insts(&self) -> &[Inst] {
        &self.def.insts
    }

    /// One more than the highest general register the program names (0 if none).
    pub fn num_regs(&self) -> u16 {
        self.num_regs
    }

    /// One more than the highest predicate register the program names (0 if none).
    pub fn num_preds(&self) -> u8 {
        self.num_preds
    }

    /// Whether some instruction reads special register `sp`.
    pub fn reads_special(&self, sp: Special) -> bool {
        self.insts()
            .iter()
            .any(|i| i.sources().any(|s| s == Src::Special(sp)))
    }

    /// Whether the program's lanes cannot tell which block they are in, nor meet the other
    /// lanes of their block: it reads neither `%lane` nor `%block` and has no shared memory
    /// accesses, `bar.sync` or `reduce`. Then a launch's consecutive blocks may run as one
    /// larger block, every lane keeping its `%gid` (`%bdim` and `%gdim` keep the launch's
    /// values), with the same results; a trap's block and lane come from its `%gid` by
    /// [`block_and_lane`]. Both tiers do so for small blocks.
    ///
    /// ```
    /// use holovm_isa::*;
    /// let def = |insts| ProgramDef { name: "k".into(), insts, ..Default::default() };
    /// let lane = Inst::Mov { ty: Ty::U32, dst: Reg(0), src: Src::Special(Special::Lane) };
    /// assert!(Program::new(def(vec![Inst::Exit])).unwrap().ignores_blocks());
    /// assert!(!Program::new(def(vec![lane, Inst::Exit])).unwrap().ignores_blocks());
    /// ```
    pub fn ignores_blocks(&self) -> bool {
        !self.reads_special(Special::Lane)
            && !self.reads_special(Special::Block)
            && !self.insts().iter().any(|i| {
                matches!(
                    i,
                    Inst::Lds { .. } | Inst::Sts { .. } | Inst::BarSync | Inst::Reduce { .. }
                )
            })
    }

    /// The definition this program was built from.
    pub fn def(&self) -> &ProgramDef {
        &self.def
    }

    /// Gives back the definition.
    pub fn into_def(self) -> ProgramDef {
        self.def
    }

    /// The program's canonical bytecode (docs/ISA.md section 10); its SHA-256 is the
    /// [`ProgramKey`].
    pub fn to_bytes(&self) -> Vec<u8> {
        bytecode::encode(&self.def)
    }

    /// Decodes bytecode written by [`Program::to_bytes`] and verifies it. Malformed input and
    /// programs the verifier rejects are errors ([`DecodeError::Invalid`] carries the
    /// verifier's error); no input makes it panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, DecodeError> {
        let def = bytecode::decode(bytes)?;
        Ok(Program::new(def)?)
    }
}

/// The block and the lane within it of the lane whose `%gid` is `gid`, in blocks of `bdim`
/// lanes (`bdim` 0 counts as 1).
///
/// ```
/// assert_eq!(holovm_isa::block_and_lane(1000, 256), (3, 232));
/// ```
pub fn block_and_lane(gid: u64, bdim: u32) -> (u32, u32) {
    let bdim = u64::from(bdim.max(1));
    // A launch's lanes number below 2^32; larger `gid`s saturate the block.
    let block = u32::try_from(gid / bdim).unwrap_or(u32::MAX);
    (block, (gid % bdim) as u32)
}

impl PartialEq for Program {
    fn eq(&self, other: &Self) -> bool {
        self.def == other.def
    }
}

impl Eq for Program {}
