//! Proptest strategies for random *valid* programs (cargo feature `arbitrary`).
//!
//! Every [`ProgramDef`] that [`program_def`] generates passes the verifier: names are valid
//! identifiers, parameter uses match their declarations, immediates are canonical for their
//! type, targets are in range, shared accesses fit `.shared`, and so on. Over a few hundred
//! cases the programs use every instruction, every operation, every addressing mode and every
//! operand kind. They are valid, not meaningful: they may trap or loop until they run out of
//! fuel, which is what the execution tiers' differential tests want to see too.
//!
//! ```
//! use holovm_isa::{arbitrary::program_def, Program};
//! use proptest::prelude::*;
//!
//! proptest!(|(def in program_def())| {
//!     prop_assert!(Program::new(def).is_ok());
//! });
//! ```

use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

use crate::{
    is_valid_ident, Addr, BinOp, Cmp, Guard, Inst, LaunchConfig, Param, ParamKind, Pred,
    ProgramDef, RedOp, Reg, SharedAddr, Special, Src, Ty, UnOp, MAX_BLOCK,
};

/// Random valid programs of 1 to 48 instructions with up to 6 parameters.
pub fn program_def() -> impl Strategy<Value = ProgramDef> {
    program_def_with(48)
}

/// Random valid programs of 1 to `max_insts` instructions (at least 1) with up to 6
/// parameters.
pub fn program_def_with(max_insts: usize) -> impl Strategy<Value = ProgramDef> {
    let header = (
        ident(),
        prop::collection::vec((ident(), param_kind()), 0..=6),
        shared_bytes(),
        prop::option::of((1u32..=64, 1u32..=MAX_BLOCK)),
        1..=max_insts.max(1),
        (
            prop::bool::weighted(0.5),
            prop_oneof![2 => Just(None), 1 => Just(Some(32)), 1 => Just(Some(64))],
        ),
    );
    header.prop_flat_map(
        |(name, params, shared_bytes, launch, len, (private, width))| {
            let mut unique: Vec<Param> = Vec::with_capacity(params.len());
            for (mut name, kind) in params {
                // Suffixing keeps the name an identifier and cannot make it reserved.
                while unique.iter().any(|p| p.name == name) {
                    name.push('_');
                }
                unique.push(Param { name, kind });
            }
            let cx = Arc::new(Ctx {
                params: unique,
                shared_bytes,
                len: len as u32,
                private,
                width,
            });
            let insts = prop::collection::vec(inst(&cx), len);
            let cx2 = Arc::clone(&cx);
            insts.prop_map(move |mut insts| {
                // Private-memory programs end in `exit` (they are there to compare memory, which
                // a trapped launch leaves partly written).
                if cx2.private {
                    if let Some(last) = insts.last_mut() {
                        *last = Inst::Exit;
                    }
                }
                ProgramDef {
                    name: name.clone(),
                    params: cx2.params.clone(),
                    shared_bytes: cx2.shared_bytes,
                    launch: launch.map(|(grid, block)| LaunchConfig { grid, block }),
                    insts,
                }
            })
        },
    )
}

/// What an instruction may refer to.
struct Ctx {
    params: Vec<Param>,
    shared_bytes: u32,
    len: u32,
    /// Every memory access lane-private where it can be (`[buf + %gid*size]`,
    /// `[shared + %lane*size]`), so that programs which store still run on many lanes in
    /// the differential tests (see [`lanes_may_share_memory`]).
    private: bool,
    /// Only the types that live in registers of this many bits in instructions (32: `i8` to
    /// `u32` and `f32`; 64: the 64-bit types), so that some programs keep every register
    /// at one width (the JIT's vector code keeps a register used at both as a 64-bit
    /// vector, converted at each 32-bit access).
    width: Option<u32>,
}

impl Ctx {
    /// Whether instructions may use type `t` (see [`Ctx::width`]).
    fn fits(&self, t: Ty) -> bool {
        self.width.is_none_or(|w| t.bits().max(32) == w)
    }

    /// The types instructions may use.
    fn tys(&self) -> Vec<Ty> {
        Ty::ALL.iter().copied().filter(|&t| self.fits(t)).collect()
    }

    fn int_tys(&self) -> Vec<Ty> {
        self.tys().into_iter().filter(|t| !t.is_float()).collect()
    }

    fn float_tys(&self) -> Vec<Ty> {
        self.tys().into_iter().filter(|t| t.is_float()).collect()
    }

    /// Indices of the parameters with this kind.
    fn params_of(&self, kind: ParamKind) -> Vec<u8> {
        (0u8..)
            .zip(&self.params)
            .filter(|(_, p)| p.kind == kind)
            .map(|(i, _)| i)
            .collect()
    }

    /// Element types of the declared buffers.
    fn buffer_tys(&self) -> Vec<Ty> {
        self.params
            .iter()
            .filter_map(|p| match p.kind {
                ParamKind::Buffer(t) => Some(t),
                ParamKind::Scalar(_) => None,
            })
            .collect()
    }
}

const IDENT_FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
const IDENT_REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";

/// A valid kernel or parameter name. Includes names like `r1x`, `p_2` and `F32` that look
/// reserved but are not.
fn ident() -> impl Strategy<Value = String> {
    (
        select(IDENT_FIRST),
        prop::collection::vec(select(IDENT_REST), 0..8),
    )
        .prop_map(|(first, rest)| {
            let mut s = String::with_capacity(1 + rest.len());
            s.push(char::from(first));
            s.extend(rest.into_iter().map(char::from));
            if is_valid_ident(&s) {
                s
            } else {
                // A reserved word (`r3`, `f32`, `phi`, ...): a prefix makes it an ordinary name.
                format!("k_{s}")
            }
        })
}

fn ty() -> impl Strategy<Value = Ty> {
    select(Ty::ALL.to_vec())
}

fn param_kind() -> impl Strategy<Value = ParamKind> {
    prop_oneof![
        ty().prop_map(ParamKind::Buffer),
        ty().prop_map(ParamKind::Scalar)
    ]
}

fn shared_bytes() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => Just(0u32),
        1 => 1u32..=16,
        3 => (1u32..=512).prop_map(|k| k * 8),
    ]
}

/// Mostly low registers, so programs reuse values; sometimes any of the 256.
fn reg() -> impl Strategy<Value = Reg> {
    prop_oneof![4 => 0u8..8, 1 => any::<u8>()].prop_map(Reg)
}

/// A register; private-memory programs use only r0-r3, so their values flow from one
/// instruction to the next (and into their stores) more often.
fn reg_of(private: bool) -> BoxedStrategy<Reg> {
    if private {
        (0u8..4).prop_map(Reg).boxed()
    } else {
        reg().boxed()
    }
}

fn pred() -> impl Strategy<Value = Pred> {
    (0u8..16).prop_map(Pred)
}

fn special() -> impl Strategy<Value = Special> {
    select(Special::ALL.to_vec())
}

/// A canonical immediate of type `ty`: random bits, small numbers, or (for floats) special
/// values.
fn imm(ty: Ty) -> BoxedStrategy<u64> {
    let special_bits: Vec<u64> = match ty {
        Ty::F32 => [
            0.0f32,
            -0.0,
            1.0,
            -1.5,
            f32::INFINITY,
            f32::NAN,
            f32::MIN_POSITIVE,
        ]
        .iter()
        .map(|f| u64::from(f.to_bits()))
        .collect(),
        Ty::F64 => [
            0.0f64,
            -0.0,
            1.0,
            -1.5,
            f64::INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
        ]
        .iter()
        .map(|f| f.to_bits())
        .collect(),
        _ => vec![0, 1, ty.mask(), ty.mask() >> 1],
    };
    prop_oneof![any::<u64>(), 0u64..16, select(special_bits)]
        .prop_map(move |v| ty.canon(v))
        .boxed()
}

/// A source operand read as `ty`: a register, a special register, an immediate, or a scalar
/// parameter of type `ty` if one is declared.
fn src(cx: &Ctx, ty: Ty) -> BoxedStrategy<Src> {
    let mut arms = vec![
        (4, reg_of(cx.private).prop_map(Src::Reg).boxed()),
        // Private-memory programs read `%gid` and `%lane` more often: their stores should
        // write per-lane values, which show lanes mixed up.
        (
            if cx.private { 3 } else { 1 },
            special().prop_map(Src::Special).boxed(),
        ),
        (2, imm(ty).prop_map(Src::Imm).boxed()),
    ];
    let scalars = cx.params_of(ParamKind::Scalar(ty));
    if !scalars.is_empty() {
        arms.push((2, select(scalars).prop_map(Src::Param).boxed()));
    }
    Union::new_weighted(arms).boxed()
}

/// A scaled address index: a register or special register and a scale of 1, 2, 4 or 8.
fn index() -> impl Strategy<Value = (Src, u8)> {
    (
        prop_oneof![3 => reg().prop_map(Src::Reg), 1 => special().prop_map(Src::Special)],
        select(&[1u8, 2, 4, 8][..]),
    )
}

/// A global address valid for an access of type `ty`.
fn addr(cx: &Ctx, ty: Ty) -> BoxedStrategy<Addr> {
    let size = ty.size();
    let mut arms = vec![
        (
            2,
            (0u8..96, 0u8..48, any::<u8>(), prop::option::of(index()))
                .prop_map(|(class, page, byte, index)| Addr::Phi {
                    class,
                    page,
                    byte,
                    index,
                })
                .boxed(),
        ),
        (
            1,
            (reg(), any::<i32>())
                .prop_map(|(base, offset)| Addr::RegisterIndirect { base, offset })
                .boxed(),
        ),
        (
            1,
            (reg(), reg())
                .prop_map(|(handle, offset)| Addr::RegisterIndirectComputed { handle, offset })
                .boxed(),
        ),
    ];
    let bufs = cx.params_of(ParamKind::Buffer(ty));
    if cx.private && !bufs.is_empty() {
        return select(bufs)
            .prop_map(move |buf| Addr::BufferIndex {
                buf,
                index: Src::Special(Special::GlobalId),
                scale: size as u8,
            })
            .boxed();
    }
    if !bufs.is_empty() {
        arms.push((
            2,
            (
                select(bufs.clone()),
                prop_oneof![0u32..64, 0..=u32::MAX / size],
            )
                .prop_map(move |(buf, k)| Addr::BufferOffset {
                    buf,
                    offset: k * size,
                })
                .boxed(),
        ));
        arms.push((
            3,
            (select(bufs), index())
                .prop_map(|(buf, (index, scale))| Addr::BufferIndex { buf, index, scale })
                .boxed(),
        ));
    }
    Union::new_weighted(arms).boxed()
}

/// A shared address valid for an access of type `ty`; the program must declare shared
/// memory.
fn shared_addr(cx: &Ctx, ty: Ty) -> BoxedStrategy<SharedAddr> {
    let size = ty.size();
    let shared = cx.shared_bytes;
    if cx.private {
        return Just(SharedAddr {
            index: Some((Src::Special(Special::Lane), size as u8)),
            offset: 0,
        })
        .boxed();
    }
    let indexed = (index(), 0..=shared)
        .prop_map(|(index, offset)| SharedAddr {
            index: Some(index),
            offset,
        })
        .boxed();
    if shared < size {
        return indexed;
    }
    // Constant offsets must be aligned and end within `.shared`.
    let constant = (0..=(shared / size - 1))
        .prop_map(move |k| SharedAddr {
            index: None,
            offset: k * size,
        })
        .boxed();
    prop_oneof![constant, indexed].boxed()
}

/// A type for a global memory access: often a declared buffer's element type, so the buffer
/// modes get used.
fn mem_ty(cx: &Ctx) -> BoxedStrategy<Ty> {
    let tys: Vec<Ty> = cx
        .buffer_tys()
        .into_iter()
        .filter(|&t| cx.fits(t))
        .collect();
    if tys.is_empty() {
        select(cx.tys()).boxed()
    } else if cx.private {
        select(tys).boxed()
    } else {
        prop_oneof![1 => select(cx.tys()), 3 => select(tys)].boxed()
    }
}

/// An instruction valid in a program described by `cx`.
fn inst(cx: &Arc<Ctx>) -> BoxedStrategy<Inst> {
    let target = 0..cx.len;
    let private = cx.private;
    let (tys, ints, floats) = (cx.tys(), cx.int_tys(), cx.float_tys());
    let any_ty = || select(tys.clone());
    let c = Arc::clone(cx);
    let ldg = mem_ty(cx).prop_flat_map(move |ty| {
        (reg_of(private), addr(&c, ty)).prop_map(move |(dst, addr)| Inst::Ldg { ty, dst, addr })
    });
    let c = Arc::clone(cx);
    let stg = mem_ty(cx).prop_flat_map(move |ty| {
        (src(&c, ty), addr(&c, ty)).prop_map(move |(src, addr)| Inst::Stg { ty, src, addr })
    });
    let c = Arc::clone(cx);
    let mov = any_ty().prop_flat_map(move |ty| {
        (reg_of(private), src(&c, ty)).prop_map(move |(dst, src)| Inst::Mov { ty, dst, src })
    });
    let c = Arc::clone(cx);
    let cvt = (any_ty(), any_ty()).prop_flat_map(move |(to, from)| {
        (reg_of(private), src(&c, from)).prop_map(move |(dst, src)| Inst::Cvt {
            to,
            from,
            dst,
            src,
        })
    });
    let c = Arc::clone(cx);
    let (t, i) = (tys.clone(), ints.clone());
    let bin = select(BinOp::ALL.to_vec())
        .prop_flat_map(move |op| {
            let ty = if op.int_only() {
                select(i.clone()).boxed()
            } else {
                select(t.clone()).boxed()
            };
            (Just(op), ty)
        })
        .prop_flat_map(move |(op, ty)| {
            (reg_of(private), src(&c, ty), src(&c, ty)).prop_map(move |(dst, a, b)| Inst::Bin {
                op,
                ty,
                dst,
                a,
                b,
            })
        });
    let c = Arc::clone(cx);
    let (t, i) = (tys.clone(), ints.clone());
    let un = select(UnOp::ALL.to_vec())
        .prop_flat_map(move |op| {
            let ty = if op.int_only() {
                select(i.clone()).boxed()
            } else if op.float_only() {
                select(floats.clone()).boxed()
            } else {
                select(t.clone()).boxed()
            };
            (Just(op), ty)
        })
        .prop_flat_map(move |(op, ty)| {
            (reg_of(private), src(&c, ty)).prop_map(move |(dst, a)| Inst::Un { op, ty, dst, a })
        });
    let c = Arc::clone(cx);
    let fma = any_ty().prop_flat_map(move |ty| {
        (reg_of(private), src(&c, ty), src(&c, ty), src(&c, ty))
            .prop_map(move |(dst, a, b, c)| Inst::Fma { ty, dst, a, b, c })
    });
    let c = Arc::clone(cx);
    let setp = (select(Cmp::ALL.to_vec()), any_ty()).prop_flat_map(move |(cmp, ty)| {
        (pred(), src(&c, ty), src(&c, ty)).prop_map(move |(dst, a, b)| Inst::Setp {
            cmp,
            ty,
            dst,
            a,
            b,
        })
    });
    let c = Arc::clone(cx);
    let sel = any_ty().prop_flat_map(move |ty| {
        (reg_of(private), pred(), src(&c, ty), src(&c, ty)).prop_map(move |(dst, pred, a, b)| {
            Inst::Sel {
                ty,
                dst,
                pred,
                a,
                b,
            }
        })
    });
    let c = Arc::clone(cx);
    let reduce = (select(RedOp::ALL.to_vec()), any_ty()).prop_flat_map(move |(op, ty)| {
        (reg_of(private), src(&c, ty)).prop_map(move |(dst, src)| Inst::Reduce { op, ty, dst, src })
    });
    let bra =
        (target.clone(), prop::option::of((pred(), any::<bool>()))).prop_map(|(target, guard)| {
            Inst::Bra {
                target,
                guard: guard.map(|(pred, negate)| Guard { pred, negate }),
            }
        });
    let lp = (reg_of(private), target.clone())
        .prop_map(|(counter, target)| Inst::Loop { counter, target });
    let call = target.prop_map(|target| Inst::Call { target });
    // Private-memory programs rarely call (a `ret` without a call, a call that never
    // returns, or recursion past the stack limit traps).
    let simple = if cx.private {
        select(&[Inst::Exit, Inst::BarSync, Inst::MemFence][..])
    } else {
        select(&[Inst::Ret, Inst::Exit, Inst::BarSync, Inst::MemFence][..])
    };

    let mut arms: Vec<(u32, BoxedStrategy<Inst>)> = vec![
        (3, ldg.boxed()),
        (3, stg.boxed()),
        (3, mov.boxed()),
        (2, cvt.boxed()),
        (5, bin.boxed()),
        (3, un.boxed()),
        (1, fma.boxed()),
        (2, setp.boxed()),
        (1, sel.boxed()),
        (1, reduce.boxed()),
        (if cx.private { 1 } else { 2 }, bra.boxed()),
        (2, simple.boxed()),
    ];
    // Private-memory programs branch less (divergent lanes leave vector code) and do not
    // call (a `ret` without a call, or a call that never returns, traps).
    if !cx.private {
        arms.push((1, lp.boxed()));
        arms.push((1, call.boxed()));
    }
    if cx.shared_bytes > 0 {
        let c = Arc::clone(cx);
        let lds = any_ty().prop_flat_map(move |ty| {
            (reg_of(private), shared_addr(&c, ty)).prop_map(move |(dst, addr)| Inst::Lds {
                ty,
                dst,
                addr,
            })
        });
        let c = Arc::clone(cx);
        let sts = any_ty().prop_flat_map(move |ty| {
            (src(&c, ty), shared_addr(&c, ty)).prop_map(move |(src, addr)| Inst::Sts {
                ty,
                src,
                addr,
            })
        });
        arms.push((2, lds.boxed()));
        arms.push((2, sts.boxed()));
    }
    Union::new_weighted(arms).boxed()
}

/// Whether lanes running `insts` may exchange data through memory: some space (a buffer,
/// the boundary pool or shared memory) is stored to and not every access to it is
/// *lane-private*, that is `[buf + %gid*s]` or `[shared + %lane*s + c]` with `s` the access
/// size, in one form (size and offset) per space. Spaces only loaded from may be read
/// anyhow; register-indirect addresses may name any space. The ISA leaves the order of
/// different lanes' memory accesses between barriers unspecified (docs/ISA.md, section 1),
/// so execution tiers and strategies may legitimately disagree on such programs;
/// differential tests run them on a single lane.
///
/// ```
/// use holovm_isa::{arbitrary::lanes_may_share_memory, Addr, Inst, Reg, Special, Src, Ty};
/// let gid = Src::Special(Special::GlobalId);
/// let at = |buf, index| Addr::BufferIndex { buf, index, scale: 4 };
/// let store = |buf, index| Inst::Stg { ty: Ty::U32, src: gid, addr: at(buf, index) };
/// let load = |buf, index| Inst::Ldg { ty: Ty::U32, dst: Reg(1), addr: at(buf, index) };
/// assert!(!lanes_may_share_memory(&[store(0, gid)]));
/// assert!(lanes_may_share_memory(&[store(0, Src::Imm(0))]));
/// // Another buffer, only read, may be read at any index.
/// assert!(!lanes_may_share_memory(&[load(1, Src::Imm(0)), store(0, gid)]));
/// assert!(lanes_may_share_memory(&[load(0, Src::Imm(0)), store(0, gid)]));
/// ```
pub fn lanes_may_share_memory(insts: &[Inst]) -> bool {
    /// A space: `Some(buffer)`, `None` for shared memory; the pool and register-indirect
    /// addresses are handled as "anywhere".
    type Space = Option<u8>;
    /// A private access's form: size and constant offset.
    type Form = Option<(u32, u32)>;
    // Per space: whether it is stored to, and its accesses' private form, or `None` once
    // an access is not private or has another form.
    let mut spaces: Vec<(Space, bool, Form)> = Vec::new();
    let (mut stores_anywhere, mut reads_anywhere, mut stores) = (false, false, false);
    for inst in insts {
        let store = matches!(inst, Inst::Stg { .. } | Inst::Sts { .. });
        let access: Option<(Space, Form)> = match *inst {
            Inst::Ldg { ty, addr, .. } | Inst::Stg { ty, addr, .. } => match addr {
                Addr::BufferIndex { buf, index, scale } => {
                    let private =
                        index == Src::Special(Special::GlobalId) && scale as u32 == ty.size();
                    Some((Some(buf), private.then_some((ty.size(), 0))))
                }
                Addr::BufferOffset { buf, .. } => Some((Some(buf), None)),
                Addr::Phi { .. }
                | Addr::RegisterIndirect { .. }
                | Addr::RegisterIndirectComputed { .. } => None,
            },
            Inst::Lds { ty, addr, .. } | Inst::Sts { ty, addr, .. } => {
                let private = match addr.index {
                    Some((Src::Special(Special::Lane), s)) => s as u32 == ty.size(),
                    _ => false,
                };
                Some((None, private.then_some((ty.size(), addr.offset))))
            }
            _ => continue,
        };
        stores |= store;
        let Some((space, form)) = access else {
            stores_anywhere |= store;
            reads_anywhere |= !store;
            continue;
        };
        match spaces.iter_mut().find(|e| e.0 == space) {
            Some(e) => {
                e.1 |= store;
                if e.2 != form {
                    e.2 = None;
                }
            }
            None => spaces.push((space, store, form)),
        }
    }
    stores_anywhere
        || (reads_anywhere && stores)
        || spaces
            .iter()
            .any(|&(_, stored, form)| stored && form.is_none())
}
