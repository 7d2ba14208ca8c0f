//! A small launch driver for the JIT tests: owns buffers, the pool and a scratch area, and
//! runs a compiled kernel over a whole grid.
#![allow(dead_code)]

use holovm_isa::{ParamKind, Program, Ty, POOL_BYTES};
use holovm_jit::*;

/// A launch argument.
#[derive(Clone, Debug)]
pub enum Arg {
    /// A buffer with these bytes.
    Buf(Vec<u8>),
    /// A scalar's bits.
    Scalar(u64),
}

/// f32 slice as bytes.
pub fn f32s(v: &[f32]) -> Arg {
    Arg::Buf(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}
pub fn f64s(v: &[f64]) -> Arg {
    Arg::Buf(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}
pub fn u32s(v: &[u32]) -> Arg {
    Arg::Buf(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}
pub fn i32s(v: &[i32]) -> Arg {
    Arg::Buf(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}
pub fn u64s(v: &[u64]) -> Arg {
    Arg::Buf(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}
pub fn zeros(bytes: usize) -> Arg {
    Arg::Buf(vec![0; bytes])
}

pub fn to_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}
pub fn to_f64(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}
pub fn to_u32(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}
pub fn to_u64(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The result of a launch.
#[derive(Clone, Debug, PartialEq)]
pub struct Out {
    pub bufs: Vec<Vec<u8>>,
    pub pool: Vec<u8>,
    pub trap: TrapRecord,
}

impl Out {
    pub fn buf(&self, i: usize) -> &[u8] {
        &self.bufs[i]
    }
}

pub fn asm(src: &str) -> Program {
    match holovm_asm::assemble(src) {
        Ok(p) => p,
        Err(e) => panic!("assembly failed: {e:?}\n{src}"),
    }
}

/// Strategies to run every test under: vector groups of 8, 4 and 16 lanes (16 with
/// partial last groups as vector code, `JitOptions::partial`) and the scalar strategy.
pub fn all_opts() -> Vec<JitOptions> {
    let mut v = Vec::new();
    for (vector, group, partial) in [
        (true, 8, false),
        (true, 4, false),
        (true, 16, true),
        (false, 8, false),
    ] {
        v.push(JitOptions {
            vector,
            group,
            partial,
            verify: true,
            ..Default::default()
        });
    }
    v
}

/// [`all_opts`] and its vector strategies with partial last groups as vector code
/// (`JitOptions::partial`) where they have not.
pub fn partial_opts() -> Vec<JitOptions> {
    let mut v = all_opts();
    let more: Vec<JitOptions> = v
        .iter()
        .filter(|o| o.vector && !o.partial)
        .map(|o| JitOptions {
            partial: true,
            ..o.clone()
        })
        .collect();
    v.extend(more);
    v
}

/// Runs `program` over `grid x block` with `args` (and an optional pool image).
pub fn run_with(
    program: &Program,
    opts: &JitOptions,
    grid: u32,
    block: u32,
    args: &[Arg],
    pool: Option<&[u8]>,
    fuel: u64,
) -> Out {
    let kernel = compile(program, opts).unwrap_or_else(|e| panic!("compile: {e}"));
    run_kernel(&kernel, grid, block, args, pool, fuel)
}

pub fn run_kernel(
    kernel: &CompiledKernel,
    grid: u32,
    block: u32,
    args: &[Arg],
    pool: Option<&[u8]>,
    fuel: u64,
) -> Out {
    let mut bufs: Vec<Vec<u8>> = args
        .iter()
        .map(|a| match a {
            Arg::Buf(b) => b.clone(),
            Arg::Scalar(_) => Vec::new(),
        })
        .collect();
    let mut pool_mem = match pool {
        Some(p) => p.to_vec(),
        None => vec![0u8; POOL_BYTES as usize],
    };
    let slots: Vec<ParamSlot> = args
        .iter()
        .zip(bufs.iter_mut())
        .map(|(a, b)| match a {
            Arg::Buf(_) => ParamSlot::buffer(b.as_mut_ptr(), b.len()),
            Arg::Scalar(s) => ParamSlot::scalar(*s),
        })
        .collect();
    let env = LaunchEnv {
        params: slots.as_ptr(),
        num_params: slots.len() as u32,
        pool: pool_mem.as_mut_ptr(),
        pool_len: pool_mem.len() as u64,
        grid,
        block,
        fuel,
    };
    let mut trap = TrapRecord::default();
    let mut scratch = Scratch::new();
    // SAFETY: every slot points into `bufs`/`pool_mem`, alive and unborrowed for the call.
    unsafe { kernel.run_blocks(&env, 0..grid, &mut scratch, &mut trap) }.expect("launch");
    Out {
        bufs,
        pool: pool_mem,
        trap,
    }
}

/// Runs under every strategy and checks they agree; returns the result.
pub fn run_all(program: &Program, grid: u32, block: u32, args: &[Arg]) -> Out {
    run_all_fuel(program, grid, block, args, 1 << 26)
}

pub fn run_all_fuel(program: &Program, grid: u32, block: u32, args: &[Arg], fuel: u64) -> Out {
    run_each(&all_opts(), program, grid, block, args, fuel)
}

/// Runs under each of `opts` and checks they agree; returns the result.
pub fn run_each(
    opts: &[JitOptions],
    program: &Program,
    grid: u32,
    block: u32,
    args: &[Arg],
    fuel: u64,
) -> Out {
    let mut first: Option<(Out, JitOptions)> = None;
    for o in opts.iter().cloned() {
        let out = run_with(program, &o, grid, block, args, None, fuel);
        match &first {
            None => first = Some((out, o)),
            Some((f, fo)) => {
                // After a trap, outputs may legitimately differ (docs/ISA.md section 7).
                if f.trap != out.trap
                    || (f.trap.kind == 0 && !same_buffers(program, &f.bufs, &out.bufs))
                {
                    let diff = f
                        .bufs
                        .iter()
                        .zip(&out.bufs)
                        .enumerate()
                        .find_map(|(i, (x, y))| {
                            x.iter()
                                .zip(y)
                                .position(|(a, b)| a != b)
                                .map(|p| (i, p, x[p], y[p]))
                        });
                    panic!(
                        "strategies disagree for {}:\n{fo:?}: {:?}\n{o:?}: {:?}\nfirst differing (buffer, byte, a, b): {diff:?}\n{:?}",
                        program.name(),
                        f.trap,
                        out.trap,
                        program.insts()
                    );
                }
            }
        }
    }
    first.map(|(o, _)| o).expect("at least one strategy")
}

pub fn trap(
    kind: TrapKind,
    pc: u32,
    block: u32,
    lane: u32,
    space: u32,
    offset: i128,
) -> TrapRecord {
    TrapRecord {
        kind: kind.code(),
        pc,
        block,
        lane,
        space,
        offset: offset as u64,
        offset_hi: (offset >> 64) as i64,
    }
}

/// The buffers of `program`'s arguments equal, bit for bit, except for NaNs whose sign or
/// payload differ in float buffers (the ISA compares NaN-ness only; integer buffers compare
/// exactly).
pub fn same_buffers(program: &Program, a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).zip(program.params()).all(|((x, y), p)| {
            let size = match p.kind {
                ParamKind::Buffer(Ty::F32) => 4,
                ParamKind::Buffer(Ty::F64) => 8,
                _ => return x == y,
            };
            same_floats(size, x, y)
        })
}

/// Untyped memory (the pool) equal except for NaNs, read as all f32 or all f64 values: any
/// access type may have written it.
pub fn same_untyped(a: &[u8], b: &[u8]) -> bool {
    same_floats(4, a, b) || same_floats(8, a, b)
}

/// `x` and `y` equal as `size`-byte floats, all NaNs equal.
fn same_floats(size: usize, x: &[u8], y: &[u8]) -> bool {
    // `chunks_exact` gives `size`-byte chunks (the lengths are multiples of it).
    let nan = |c: &[u8]| match size {
        4 => f32::from_le_bytes(c.try_into().expect("4 bytes")).is_nan(),
        _ => f64::from_le_bytes(c.try_into().expect("8 bytes")).is_nan(),
    };
    x == y
        || (x.len() == y.len()
            && x.len().is_multiple_of(size)
            && x.chunks_exact(size)
                .zip(y.chunks_exact(size))
                .all(|(p, q)| p == q || (nan(p) && nan(q))))
}

/// The strategy text of `src` compiled with the default options, which must be the vector
/// strategy.
pub fn vector_detail(src: &str) -> String {
    let k = compile(&asm(src), &JitOptions::default()).expect("compile");
    match k.strategy() {
        Strategy::Vector { detail, .. } => detail.clone(),
        other => panic!("expected the vector strategy, got {other}"),
    }
}
