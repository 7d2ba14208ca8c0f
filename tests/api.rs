//! The embedding API: buffers of every element type, the pool, launch argument checking,
//! handle misuse (freed, foreign, wrong type, wrong length), launch shapes, the program cache,
//! statistics, and programs built without the assembler.

// Index loops over lanes read best in these tests.
#![allow(clippy::needless_range_loop)]

mod common;

use common::*;
use holovm::isa::*;
use holovm::{args, AnyBuffer, Arg, Buffer, Element, Error, LaunchStats, Tier, Trap, Vm, VmConfig};

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Vm>();
    check::<Buffer<f32>>();
    check::<AnyBuffer>();
    check::<Arg>();
    check::<Error>();
    check::<Trap>();
    check::<LaunchStats>();
    check::<VmConfig>();
}

fn round_trip<T: Element>(vals: &[T]) {
    let vm = Vm::new();
    let b = vm.alloc_from(vals).unwrap();
    assert_eq!(b.len(), vals.len());
    assert_eq!(b.any().ty(), T::TY);
    assert_eq!(vm.read(&b).unwrap(), vals);
    let z = vm.alloc::<T>(vals.len()).unwrap();
    assert!(vm.read(&z).unwrap().iter().all(|x| *x == T::zeroed()));
    vm.write(&z, vals).unwrap();
    let mut out = vec![T::zeroed(); vals.len()];
    vm.read_into(&z, &mut out).unwrap();
    assert_eq!(out, vals);
    assert_eq!(
        vm.read_bytes(&z.any()).unwrap(),
        bytemuck::cast_slice::<T, u8>(vals)
    );
    vm.free(b).unwrap();
    vm.free(z).unwrap();
    assert_eq!(vm.buffers(), 0);
}

#[test]
fn buffers_of_every_element_type() {
    round_trip(&[1i8, -2, 127]);
    round_trip(&[1i16, -2, 32767]);
    round_trip(&[1i32, -2, i32::MIN]);
    round_trip(&[1i64, -2, i64::MAX]);
    round_trip(&[1u8, 2, 255]);
    round_trip(&[1u16, 2, 65535]);
    round_trip(&[1u32, 2, u32::MAX]);
    round_trip(&[1u64, 2, u64::MAX]);
    round_trip(&[1.5f32, -0.0, f32::INFINITY]);
    round_trip(&[1.5f64, -0.0, f64::MIN_POSITIVE]);
    round_trip::<f32>(&[]);
}

#[test]
fn freed_and_foreign_handles_are_errors() {
    let vm = Vm::new();
    let other = Vm::new();
    let b = vm.alloc_from(&[1u32, 2, 3]).unwrap();
    let foreign = other.alloc::<u32>(3).unwrap();
    assert!(matches!(vm.read(&foreign), Err(Error::InvalidHandle)));
    assert!(matches!(
        vm.write(&foreign, &[1, 2, 3]),
        Err(Error::InvalidHandle)
    ));
    assert!(matches!(vm.free(foreign), Err(Error::InvalidHandle)));
    assert_eq!(other.read(&foreign).unwrap(), vec![0, 0, 0]);

    vm.free(b).unwrap();
    assert!(matches!(vm.read(&b), Err(Error::InvalidHandle)));
    assert!(matches!(
        vm.read_into(&b, &mut [0; 3]),
        Err(Error::InvalidHandle)
    ));
    assert!(matches!(vm.write(&b, &[0; 3]), Err(Error::InvalidHandle)));
    assert!(
        matches!(vm.free(b), Err(Error::InvalidHandle)),
        "double free"
    );
    // The slot is reused by the next buffer; the stale handle still does not work.
    let c = vm.alloc_from(&[9u32, 9, 9]).unwrap();
    assert!(matches!(vm.read(&b), Err(Error::InvalidHandle)));
    assert_eq!(vm.read(&c).unwrap(), vec![9, 9, 9]);

    let p = asm(".kernel k\n.param a: ptr u32\n    stg.u32 [a + %gid*4], 1\n    exit\n");
    let cfg = LaunchConfig::new(1, 3);
    // A launch names the argument.
    for stale in [&b, &foreign] {
        let err = vm.launch(&p, cfg, &args![stale]).unwrap_err();
        assert!(matches!(err, Error::Arg { index: 0, .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("argument 0 (`a`)") && text.contains("freed"),
            "{text}"
        );
    }
    assert_eq!(vm.read(&c).unwrap(), vec![9, 9, 9], "nothing ran");
    vm.launch(&p, cfg, &args![&c]).unwrap();
    assert_eq!(vm.read(&c).unwrap(), vec![1, 1, 1]);
}

#[test]
fn element_types_and_lengths_are_checked() {
    let vm = Vm::new();
    let any = vm.alloc_any(Ty::F32, 4).unwrap();
    assert!(matches!(
        any.typed::<u32>(),
        Err(Error::TypeMismatch {
            expected: Ty::F32,
            found: Ty::U32
        })
    ));
    let f = any.typed::<f32>().unwrap();
    assert!(matches!(
        vm.write(&f, &[1.0; 3]),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 3
        })
    ));
    assert!(matches!(
        vm.read_into(&f, &mut [0.0; 5]),
        Err(Error::LengthMismatch {
            expected: 4,
            found: 5
        })
    ));
    assert!(matches!(
        vm.write_bytes(&any, &[0; 15]),
        Err(Error::LengthMismatch {
            expected: 16,
            found: 15
        })
    ));
    vm.write(&f, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(vm.read(&f).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);

    let err = vm.alloc::<u64>(usize::MAX / 2).unwrap_err();
    assert!(matches!(err, Error::Alloc { .. }), "{err}");
    assert!(err.to_string().contains("more bytes than"), "{err}");
}

#[test]
fn launch_arguments_are_checked() {
    let vm = Vm::new();
    let p =
        asm(".kernel k\n.param a: ptr f32\n.param n: u32\n    setp.ge.u32 p0, %gid, n\n    exit\n");
    let cfg = LaunchConfig::new(1, 1);
    let f = vm.alloc::<f32>(1).unwrap();
    let u = vm.alloc::<u32>(1).unwrap();
    match vm.launch(&p, cfg, &args![&f]) {
        Err(Error::ArgCount {
            expected: 2,
            found: 1,
            ..
        }) => {}
        r => panic!("{r:?}"),
    }
    match vm.launch(&p, cfg, &args![&u, 1u32]) {
        Err(Error::Arg {
            index: 0,
            name,
            expected,
            found,
        }) => {
            assert_eq!(
                (name.as_str(), expected.as_str(), found.as_str()),
                ("a", "a buffer of f32", "a buffer of u32")
            );
        }
        r => panic!("{r:?}"),
    }
    match vm.launch(&p, cfg, &args![&f, 1i32]) {
        Err(e @ Error::Arg { index: 1, .. }) => {
            assert_eq!(
                e.to_string(),
                "argument 1 (`n`): expected a scalar u32, found a scalar i32"
            )
        }
        r => panic!("{r:?}"),
    }
    assert!(matches!(
        vm.launch(&p, cfg, &args![1.0f32, 1u32]),
        Err(Error::Arg { index: 0, .. })
    ));
    assert!(matches!(
        vm.launch(&p, cfg, &args![&f, &u]),
        Err(Error::Arg { index: 1, .. })
    ));
    vm.launch(&p, cfg, &args![&f, 1u32]).unwrap();
    vm.launch(&p, cfg, &[Arg::Buffer(f.any()), Arg::scalar(1u32)])
        .unwrap();
}

#[test]
fn launch_shapes_are_checked() {
    let vm = Vm::new();
    let p = asm(".kernel k\n    exit\n");
    for (cfg, why) in [
        (LaunchConfig::new(1, 0), "block size 0 is not in 1..=1024"),
        (
            LaunchConfig::new(1, 1025),
            "block size 1025 is not in 1..=1024",
        ),
        (LaunchConfig::new(0, 1), "grid size must be at least 1"),
        (
            LaunchConfig::new(u32::MAX, 2),
            "grid 4294967295 x block 2 = 8589934590 lanes exceeds 2^32 - 1",
        ),
    ] {
        match vm.launch(&p, cfg, &[]) {
            Err(e @ Error::InvalidLaunch(_)) => {
                assert_eq!(e.to_string(), format!("invalid launch shape: {why}"))
            }
            other => panic!("{cfg:?}: {other:?}"),
        }
    }
    let s = vm.launch(&p, LaunchConfig::new(1, 1024), &[]).unwrap();
    assert_eq!((s.blocks, s.lanes), (1, 1024));
    let s = vm.launch(&p, LaunchConfig::new(1 << 20, 1), &[]).unwrap();
    assert_eq!(
        (s.blocks, s.lanes, s.lane_steps),
        (1 << 20, 1 << 20, 1 << 20)
    );
    // The interpreter runs this program's one-lane blocks together, 256 to a step.
    assert_eq!(s.steps, (1 << 20) / 256);
}

#[test]
fn boundary_pool_by_class() {
    let vm = Vm::new();
    assert!(vm.read_pool::<u8>(0).unwrap().iter().all(|&b| b == 0));
    let data: Vec<f64> = (0..1536).map(|i| i as f64).collect();
    vm.write_pool(95, &data).unwrap();
    assert_eq!(vm.read_pool::<f64>(95).unwrap(), data);
    let mut out = vec![0u16; 6144];
    vm.read_pool_into(95, &mut out).unwrap();
    assert_eq!(
        bytemuck::cast_slice::<u16, u8>(&out),
        bytemuck::cast_slice::<f64, u8>(&data)
    );
    assert!(matches!(
        vm.read_pool::<u8>(96),
        Err(Error::PoolClass { class: 96 })
    ));
    assert!(matches!(
        vm.write_pool(96, &data),
        Err(Error::PoolClass { class: 96 })
    ));
    assert!(matches!(
        vm.write_pool(0, &data[1..]),
        Err(Error::LengthMismatch {
            expected: 1536,
            found: 1535
        })
    ));
    assert!(matches!(
        vm.read_pool_into(0, &mut [0u32; 5]),
        Err(Error::LengthMismatch { .. })
    ));
    // Other VMs have their own pool.
    assert!(Vm::new()
        .read_pool::<f64>(95)
        .unwrap()
        .iter()
        .all(|&x| x == 0.0));
}

/// A program built from `holovm_isa` types, without the assembler; also through bytecode.
#[test]
fn programs_built_by_hand_and_from_bytecode() {
    let gid = Src::Special(Special::GlobalId);
    let def = ProgramDef {
        name: "axpy".into(),
        params: vec![
            Param {
                name: "alpha".into(),
                kind: ParamKind::Scalar(Ty::F64),
            },
            Param {
                name: "x".into(),
                kind: ParamKind::Buffer(Ty::F64),
            },
            Param {
                name: "y".into(),
                kind: ParamKind::Buffer(Ty::F64),
            },
        ],
        insts: vec![
            Inst::Ldg {
                ty: Ty::F64,
                dst: Reg(0),
                addr: Addr::BufferIndex {
                    buf: 1,
                    index: gid,
                    scale: 8,
                },
            },
            Inst::Ldg {
                ty: Ty::F64,
                dst: Reg(1),
                addr: Addr::BufferIndex {
                    buf: 2,
                    index: gid,
                    scale: 8,
                },
            },
            Inst::Fma {
                ty: Ty::F64,
                dst: Reg(1),
                a: Src::Param(0),
                b: Src::Reg(Reg(0)),
                c: Src::Reg(Reg(1)),
            },
            Inst::Stg {
                ty: Ty::F64,
                src: Src::Reg(Reg(1)),
                addr: Addr::BufferIndex {
                    buf: 2,
                    index: gid,
                    scale: 8,
                },
            },
            Inst::Exit,
        ],
        ..Default::default()
    };
    let p = Program::new(def).unwrap();
    let q = Program::from_bytes(&p.to_bytes()).unwrap();
    assert_eq!(p.key(), q.key());
    let vm = Vm::new();
    let x = vm.alloc_from(&[1.0f64, 2.0, 3.0]).unwrap();
    let y = vm.alloc_from(&[10.0f64, 20.0, 30.0]).unwrap();
    vm.launch(&p, LaunchConfig::new(1, 3), &args![2.0f64, &x, &y])
        .unwrap();
    vm.launch(&q, LaunchConfig::new(3, 1), &args![2.0f64, &x, &y])
        .unwrap();
    assert_eq!(vm.read(&y).unwrap(), vec![14.0, 28.0, 42.0]);
    assert_eq!(
        vm.cached_programs(),
        1,
        "equal programs share one decoded form"
    );
}

#[test]
fn decoded_programs_are_cached() {
    let vm = Vm::with_config(
        VmConfig::default()
            .cache_capacity(2)
            .tier(holovm::Tier::Interpret),
    );
    // Each program adds its own constant to o[0]: a launch that ran another program's
    // decoded form would show in the sum.
    let progs: Vec<Program> = (0..3)
        .map(|i| {
            asm(&format!(
                ".kernel k{i}\n.param o: ptr u32\n    ldg.u32 r0, [o + 0]\n    \
                 add.u32 r0, r0, {}\n    stg.u32 [o + 0], r0\n    exit\n",
                10u32.pow(i)
            ))
        })
        .collect();
    let o = vm.alloc::<u32>(1).unwrap();
    let cfg = LaunchConfig::new(1, 1);
    let run = |i: usize| vm.launch(&progs[i], cfg, &args![&o]).unwrap();
    run(0);
    run(0);
    assert_eq!(vm.cached_programs(), 1);
    run(1);
    assert_eq!(vm.cached_programs(), 2);
    run(2);
    assert!(vm.cached_programs() <= 2, "bounded by the capacity");
    run(0);
    vm.clear_cache();
    assert_eq!(vm.cached_programs(), 0);
    run(1);
    assert_eq!(vm.read(&o).unwrap(), vec![1 + 1 + 10 + 100 + 1 + 10]);
}

#[test]
fn stats_and_threading_modes() {
    let p = asm("
.kernel sq
.param x: ptr u32
    ldg.u32 r1, [x + %gid*4]
    mul.u32 r1, r1, r1
    stg.u32 [x + %gid*4], r1
    exit
");
    let n = 64 * 1024;
    let input: Vec<u32> = (0..n as u32).collect();
    let want: Vec<u32> = input.iter().map(|x| x.wrapping_mul(*x)).collect();
    for (cfg, parallel) in [
        (VmConfig::default().single_thread(true), false),
        (VmConfig::default().parallel_threshold(0).threads(2), true),
        (VmConfig::default().parallel_threshold(u64::MAX), false),
        (VmConfig::default(), true), // 65536 lanes is above the default threshold
        (VmConfig::default().simd(false), true),
    ] {
        let vm = Vm::with_config(cfg);
        let x = vm.alloc_from(&input).unwrap();
        let s = vm
            .launch(&p, LaunchConfig::cover(n as u64, 256), &args![&x])
            .unwrap();
        assert_eq!(vm.read(&x).unwrap(), want);
        assert_eq!(s.parallel, parallel);
        assert_eq!(
            (s.blocks, s.lanes, s.steps, s.lane_steps),
            (256, n as u64, 4 * 256, 4 * n as u64)
        );
    }
    // A single block never runs in parallel.
    let vm = parallel_vm();
    let x = vm.alloc_from(&input[..256]).unwrap();
    assert!(
        !vm.launch(&p, LaunchConfig::new(1, 256), &args![&x])
            .unwrap()
            .parallel
    );
}

/// Adds 1 to each element of `x`, one lane per element.
const INC: &str = "
.kernel inc
.param x: ptr u32
    ldg.u32 r1, [x + %gid*4]
    add.u32 r1, r1, 1
    stg.u32 [x + %gid*4], r1
    exit
";

/// Compiled launches above the lane threshold split across threads only once the kernel's
/// last timed launch says they take at least `parallel_min_time` (the first runs on the
/// calling thread to be timed), or always with a zero minimum.
#[test]
fn compiled_launches_split_when_long_enough() {
    let p = asm(INC);
    let n = 64 * 1024u32;
    let hour = std::time::Duration::from_secs(3600);
    let nano = std::time::Duration::from_nanos(1);
    for (min_time, want) in [
        (hour, [false, false, false]),
        (nano, [false, true, true]),
        (std::time::Duration::ZERO, [true, true, true]),
    ] {
        let vm = Vm::with_config(
            VmConfig::default()
                .tier(Tier::Jit)
                .threads(2)
                .parallel_min_time(min_time),
        );
        let x = vm.alloc::<u32>(n as usize).unwrap();
        let got = want.map(|_| {
            vm.launch(&p, LaunchConfig::cover(n as u64, 256), &args![&x])
                .unwrap()
                .parallel
        });
        assert_eq!(got, want, "parallel_min_time {min_time:?}");
        assert_eq!(vm.read(&x).unwrap(), vec![3; n as usize]);
        // Below the lane threshold nothing splits, whatever the estimate.
        let small = vm.alloc::<u32>(1024).unwrap();
        let s = vm
            .launch(&p, LaunchConfig::cover(1024, 256), &args![&small])
            .unwrap();
        assert!(!s.parallel);
    }
}

/// A kernel whose launches split runs one in `RETIME_EVERY` on the calling thread, so its
/// single-thread estimate is measured again (a parallel launch's time cannot tell it).
#[test]
fn split_launches_are_retimed_on_one_thread() {
    let p = asm(INC);
    let n = 64 * 1024u32;
    let vm = Vm::with_config(
        VmConfig::default()
            .tier(Tier::Jit)
            .threads(2)
            .parallel_min_time(std::time::Duration::from_nanos(1)),
    );
    let x = vm.alloc::<u32>(n as usize).unwrap();
    let every = holovm::jit::RETIME_EVERY as usize;
    let launches = every + 6;
    let got: Vec<bool> = (0..launches)
        .map(|_| {
            vm.launch(&p, LaunchConfig::cover(n as u64, 256), &args![&x])
                .unwrap()
                .parallel
        })
        .collect();
    // The first launch is timed on one thread; of the launches the estimate splits, every
    // RETIME_EVERY-th runs on one thread again.
    let want: Vec<bool> = (0..launches).map(|i| i != 0 && i != every).collect();
    assert_eq!(got, want);
    assert_eq!(vm.read(&x).unwrap(), vec![launches as u32; n as usize]);
}

#[test]
fn config_defaults() {
    let c = VmConfig::default();
    assert_eq!(c.fuel, 1 << 26);
    assert!(!c.single_thread);
    assert_eq!(c.parallel_min_time, std::time::Duration::from_micros(30));
    let vm = Vm::with_config(c.clone().fuel(5));
    assert_eq!(vm.config().fuel, 5);
    assert_eq!(Vm::default().config(), &c);
}

#[test]
fn error_messages() {
    assert_eq!(
        Error::InvalidHandle.to_string(),
        "invalid buffer handle: it was freed or belongs to another Vm"
    );
    assert_eq!(
        Error::LengthMismatch {
            expected: 4,
            found: 3
        }
        .to_string(),
        "length mismatch: expected 4 elements, found 3"
    );
    assert_eq!(
        Error::PoolClass { class: 99 }.to_string(),
        "pool class 99 is out of range (0..96)"
    );
    let vm = Vm::new();
    let p = asm(".kernel k\n.param a: ptr u8\n    exit\n");
    let e = vm.launch(&p, LaunchConfig::new(1, 1), &[]).unwrap_err();
    assert_eq!(e.to_string(), "`k` takes 1 argument(s), 0 given");
    assert!(e.trap().is_none());
}
