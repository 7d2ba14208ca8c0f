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
    );
    header.prop_flat_map(|(name, params, shared_bytes, launch, len)| {
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
        });
        let insts = prop::collection::vec(inst(&cx), len);
        let cx2 = Arc::clone(&cx);
        insts.prop_map(move |insts| ProgramDef {
            name: name.clone(),
            params: cx2.params.clone(),
            shared_bytes: cx2.shared_bytes,
            launch: launch.map(|(grid, block)| LaunchConfig { grid, block }),
            insts,
        })
    })
}

/// What an instruction may refer to.
struct Ctx {
    params: Vec<Param>,
    shared_bytes: u32,
    len: u32,
}

impl Ctx {
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

fn int_ty() -> impl Strategy<Value = Ty> {
    select(Ty::ALL[..8].to_vec())
}

fn float_ty() -> impl Strategy<Value = Ty> {
    select(Ty::ALL[8..].to_vec())
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
        (4, reg().prop_map(Src::Reg).boxed()),
        (1, special().prop_map(Src::Special).boxed()),
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
    let tys = cx.buffer_tys();
    if tys.is_empty() {
        ty().boxed()
    } else {
        prop_oneof![1 => ty(), 3 => select(tys)].boxed()
    }
}

/// An instruction valid in a program described by `cx`.
fn inst(cx: &Arc<Ctx>) -> BoxedStrategy<Inst> {
    let target = 0..cx.len;
    let c = Arc::clone(cx);
    let ldg = mem_ty(cx).prop_flat_map(move |ty| {
        (reg(), addr(&c, ty)).prop_map(move |(dst, addr)| Inst::Ldg { ty, dst, addr })
    });
    let c = Arc::clone(cx);
    let stg = mem_ty(cx).prop_flat_map(move |ty| {
        (src(&c, ty), addr(&c, ty)).prop_map(move |(src, addr)| Inst::Stg { ty, src, addr })
    });
    let c = Arc::clone(cx);
    let mov = ty().prop_flat_map(move |ty| {
        (reg(), src(&c, ty)).prop_map(move |(dst, src)| Inst::Mov { ty, dst, src })
    });
    let c = Arc::clone(cx);
    let cvt = (ty(), ty()).prop_flat_map(move |(to, from)| {
        (reg(), src(&c, from)).prop_map(move |(dst, src)| Inst::Cvt { to, from, dst, src })
    });
    let c = Arc::clone(cx);
    let bin = select(BinOp::ALL.to_vec())
        .prop_flat_map(|op| {
            let ty = if op.int_only() {
                int_ty().boxed()
            } else {
                ty().boxed()
            };
            (Just(op), ty)
        })
        .prop_flat_map(move |(op, ty)| {
            (reg(), src(&c, ty), src(&c, ty)).prop_map(move |(dst, a, b)| Inst::Bin {
                op,
                ty,
                dst,
                a,
                b,
            })
        });
    let c = Arc::clone(cx);
    let un = select(UnOp::ALL.to_vec())
        .prop_flat_map(|op| {
            let ty = if op.int_only() {
                int_ty().boxed()
            } else if op.float_only() {
                float_ty().boxed()
            } else {
                ty().boxed()
            };
            (Just(op), ty)
        })
        .prop_flat_map(move |(op, ty)| {
            (reg(), src(&c, ty)).prop_map(move |(dst, a)| Inst::Un { op, ty, dst, a })
        });
    let c = Arc::clone(cx);
    let fma =
        ty().prop_flat_map(move |ty| {
            (reg(), src(&c, ty), src(&c, ty), src(&c, ty))
                .prop_map(move |(dst, a, b, c)| Inst::Fma { ty, dst, a, b, c })
        });
    let c = Arc::clone(cx);
    let setp = (select(Cmp::ALL.to_vec()), ty()).prop_flat_map(move |(cmp, ty)| {
        (pred(), src(&c, ty), src(&c, ty)).prop_map(move |(dst, a, b)| Inst::Setp {
            cmp,
            ty,
            dst,
            a,
            b,
        })
    });
    let c = Arc::clone(cx);
    let sel = ty().prop_flat_map(move |ty| {
        (reg(), pred(), src(&c, ty), src(&c, ty)).prop_map(move |(dst, pred, a, b)| Inst::Sel {
            ty,
            dst,
            pred,
            a,
            b,
        })
    });
    let c = Arc::clone(cx);
    let reduce = (select(RedOp::ALL.to_vec()), ty()).prop_flat_map(move |(op, ty)| {
        (reg(), src(&c, ty)).prop_map(move |(dst, src)| Inst::Reduce { op, ty, dst, src })
    });
    let bra =
        (target.clone(), prop::option::of((pred(), any::<bool>()))).prop_map(|(target, guard)| {
            Inst::Bra {
                target,
                guard: guard.map(|(pred, negate)| Guard { pred, negate }),
            }
        });
    let lp = (reg(), target.clone()).prop_map(|(counter, target)| Inst::Loop { counter, target });
    let call = target.prop_map(|target| Inst::Call { target });
    let simple = select(&[Inst::Ret, Inst::Exit, Inst::BarSync, Inst::MemFence][..]);

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
        (2, bra.boxed()),
        (1, lp.boxed()),
        (1, call.boxed()),
        (2, simple.boxed()),
    ];
    if cx.shared_bytes > 0 {
        let c = Arc::clone(cx);
        let lds = ty().prop_flat_map(move |ty| {
            (reg(), shared_addr(&c, ty)).prop_map(move |(dst, addr)| Inst::Lds { ty, dst, addr })
        });
        let c = Arc::clone(cx);
        let sts = ty().prop_flat_map(move |ty| {
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

/// Whether lanes running `insts` may exchange data through memory: some instruction stores,
/// and not every memory access is *lane-private*, that is `[buf + %gid*s]` or
/// `[shared + %lane*s + c]` with `s` the access size, in one form (size and offset) per
/// buffer and for shared memory. The ISA leaves the order of different lanes' memory
/// accesses between barriers unspecified (docs/ISA.md, section 1), so execution tiers and
/// strategies may legitimately disagree on such programs; differential tests run them on a
/// single lane.
///
/// ```
/// use holovm_isa::{arbitrary::lanes_may_share_memory, Addr, Inst, Special, Src, Ty};
/// let gid = Src::Special(Special::GlobalId);
/// let store = |index| Inst::Stg { ty: Ty::U32, src: gid, addr: Addr::BufferIndex { buf: 0, index, scale: 4 } };
/// assert!(!lanes_may_share_memory(&[store(gid)]));
/// assert!(lanes_may_share_memory(&[store(Src::Imm(0))]));
/// ```
pub fn lanes_may_share_memory(insts: &[Inst]) -> bool {
    // Per space (a buffer, or shared memory as `None`): the one private form seen.
    let mut forms: Vec<(Option<u8>, u32, u32)> = Vec::new();
    let mut stores = false;
    let mut private = true;
    for inst in insts {
        let form = match *inst {
            Inst::Ldg { ty, addr, .. } | Inst::Stg { ty, addr, .. } => match addr {
                Addr::BufferIndex {
                    buf,
                    index: Src::Special(Special::GlobalId),
                    scale,
                } if scale as u32 == ty.size() => Some((Some(buf), ty.size(), 0)),
                _ => None,
            },
            Inst::Lds { ty, addr, .. } | Inst::Sts { ty, addr, .. } => match addr.index {
                Some((Src::Special(Special::Lane), s)) if s as u32 == ty.size() => {
                    Some((None, ty.size(), addr.offset))
                }
                _ => None,
            },
            _ => continue,
        };
        stores |= matches!(inst, Inst::Stg { .. } | Inst::Sts { .. });
        private &= match form {
            Some(f) => match forms.iter().find(|g| g.0 == f.0) {
                Some(g) => *g == f,
                None => {
                    forms.push(f);
                    true
                }
            },
            None => false,
        };
    }
    stores && !private
}
