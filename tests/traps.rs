//! Every trap kind with its location (kind, pc, instruction text, block, lane, space and
//! offset), the "lowest trapping %gid" rule, fuel accounting, and that the VM stays usable and
//! untouched buffers stay untouched after a trap.

// Index loops over lanes read best in these tests.
#![allow(clippy::needless_range_loop)]

mod common;

use common::*;
use holovm::isa::Program;
use holovm::{args, Arg, LaunchConfig, MemAccess, Space, Tier, Trap, TrapKind, Vm, VmConfig};

fn vms() -> [Vm; 4] {
    all_vms()
}

fn buffer(param: u32, name: &str, bytes: u64) -> Space {
    Space::Buffer {
        param,
        name: name.into(),
        bytes,
    }
}

/// The VM still works: a small launch succeeds.
fn still_usable(vm: &Vm) {
    let p = asm(".kernel ok\n.param o: ptr u32\n    stg.u32 [o + %gid*4], %gid\n    exit\n");
    let o = vm.alloc::<u32>(8).unwrap();
    run(vm, &p, LaunchConfig::new(2, 4), &[Arg::from(&o)]);
    assert_eq!(vm.read(&o).unwrap(), (0..8).collect::<Vec<u32>>());
    vm.free(o).unwrap();
}

fn trap_of(vm: &Vm, p: &Program, cfg: LaunchConfig, args: &[Arg]) -> Trap {
    let t = expect_trap(vm, p, cfg, args);
    still_usable(vm);
    t
}

#[test]
fn out_of_bounds_buffer_index() {
    let p = asm("
.kernel oob
.param a: ptr f32
.param b: ptr f32
    setp.ge.u32 p0, %gid, 100000
    ldg.f32 r1, [a + %gid*4]
    stg.f32 [b + %gid*4], r1
    exit
");
    for vm in vms() {
        let a = vm.alloc::<f32>(1024).unwrap();
        let b = vm.alloc_from(&[7.0f32; 4096]).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(8, 256), &args![&a, &b]);
        assert_eq!(t.kind, TrapKind::OutOfBounds);
        assert_eq!((t.pc, t.block, t.lane), (1, 4, 0));
        assert_eq!(t.inst, "ldg.f32 r1, [a + %gid*4]");
        assert_eq!(
            t.access,
            Some(MemAccess {
                space: buffer(0, "a", 4096),
                offset: 4096,
                size: 4
            })
        );
        assert_eq!(
            t.to_string(),
            "out of bounds: ldg.f32 r1, [a + %gid*4] at pc 1, block 4, lane 0: byte offset 4096 \
             of buffer `a` (length 4096 bytes)"
        );
        // Blocks 0..4 copied their part; the rest of `b` is untouched.
        let got = vm.read(&b).unwrap();
        assert!(got[..1024].iter().all(|&x| x == 0.0));
        assert!(got[2048..].iter().all(|&x| x == 7.0));
    }
}

#[test]
fn out_of_bounds_through_pointers_and_in_the_pool_and_shared() {
    for vm in vms() {
        // Negative offset from a global pointer.
        let p = asm("
.kernel neg
.param n: u32
.param a: ptr u32
    mov_imm.u64 r5, &a
    ldg.u32 r1, [r5 - 8]
    exit
");
        let a = vm.alloc::<u32>(4).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 4), &args![1u32, &a]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::OutOfBounds, 1, 0));
        assert_eq!(
            t.access,
            Some(MemAccess {
                space: buffer(1, "a", 16),
                offset: -8,
                size: 4
            })
        );

        // A pointer naming a scalar parameter, and one naming no parameter.
        let p = asm("
.kernel bad
.param n: u32
.param a: ptr u32
    mov_imm.u64 r5, 0x20
    setp.eq.u32 p0, %lane, 2
    @p0 bra @far
    ldg.u32 r1, [r5 + 0]
    exit
far:
    mov_imm.u64 r5, 0x700000000
    ldg.u32 r1, [r5 + 4]
    exit
");
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 4), &args![1u32, &a]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::OutOfBounds, 3, 0));
        assert_eq!(
            t.access.as_ref().map(|a| &a.space),
            Some(&Space::Invalid { handle: 0 })
        );
        let p = asm("
.kernel far
.param n: u32
.param a: ptr u32
    setp.eq.u32 p0, %lane, 2
    @p0 bra @far
    exit
far:
    mov_imm.u64 r5, 0x700000000
    ldg.u32 r1, [r5 + 4]
    exit
");
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 3), &args![1u32, &a]);
        assert_eq!((t.pc, t.lane), (4, 2));
        assert_eq!(
            t.access,
            Some(MemAccess {
                space: Space::Invalid { handle: 7 },
                offset: 4,
                size: 4
            })
        );
        assert!(t
            .to_string()
            .ends_with("global pointer space 0x00000007, which names no buffer parameter"));

        // Past the end of the pool (the last class, indexed).
        let p = asm("
.kernel pool_end
    ldg.u64 r1, [phi(95, 47, 248) + %lane*8]
    exit
");
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 4), &[]);
        assert_eq!((t.kind, t.lane), (TrapKind::OutOfBounds, 1));
        assert_eq!(
            t.access,
            Some(MemAccess {
                space: Space::Pool,
                offset: 1_179_648,
                size: 8
            })
        );

        // Past the end of shared memory.
        let p = asm("
.kernel sh
.shared 64
    sts.u32 [shared + %lane*4], 1
    exit
");
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 32), &[]);
        assert_eq!((t.kind, t.block, t.lane), (TrapKind::OutOfBounds, 0, 16));
        assert_eq!(
            t.access,
            Some(MemAccess {
                space: Space::Shared { bytes: 64 },
                offset: 64,
                size: 4
            })
        );
    }
}

#[test]
fn misaligned_accesses() {
    for vm in vms() {
        let p = asm("
.kernel mis
.param a: ptr u32
    mul.u32 r1, %lane, 2
    ldg.u32 r2, [a + r1*1]
    exit
");
        let a = vm.alloc::<u32>(64).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 8), &[Arg::from(&a)]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::Misaligned, 1, 1));
        assert_eq!(
            t.access,
            Some(MemAccess {
                space: buffer(0, "a", 256),
                offset: 2,
                size: 4
            })
        );
        assert!(t
            .to_string()
            .starts_with("misaligned access: ldg.u32 r2, [a + r1] at pc 1"));

        let p = asm(".kernel mp\n    stg.u16 [phi(3, 0, 1)], 5\n    exit\n");
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 1), &[]);
        assert_eq!(t.kind, TrapKind::Misaligned);
        assert_eq!(
            t.access,
            Some(MemAccess {
                space: Space::Pool,
                offset: 3 * 12288 + 1,
                size: 2
            })
        );

        let p = asm(".kernel ms\n.shared 64\n    lds.u64 r1, [shared + %lane*4]\n    exit\n");
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 4), &[]);
        assert_eq!((t.kind, t.lane), (TrapKind::Misaligned, 1));
    }
}

#[test]
fn integer_division_traps() {
    let p = asm("
.kernel div
.param a: ptr i32
.param b: ptr i32
.param o: ptr i32
    ldg.i32 r1, [a + %gid*4]
    ldg.i32 r2, [b + %gid*4]
    div.i32 r3, r1, r2
    rem.i32 r4, r1, r2
    add.i32 r3, r3, r4
    stg.i32 [o + %gid*4], r3
    exit
");
    for vm in vms() {
        let a = vm.alloc_from(&[7i32, 8, i32::MIN, 9, i32::MIN, 3]).unwrap();
        let o = vm.alloc::<i32>(6).unwrap();
        let b = vm.alloc_from(&[2i32, 3, 2, 0, -1, 0]).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 3), &args![&a, &b, &o]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::DivideByZero, 2, 1, 0)
        );
        assert_eq!(t.inst, "div.i32 r3, r1, r2");
        assert_eq!(t.access, None);
        assert_eq!(
            t.to_string(),
            "integer divide by zero: div.i32 r3, r1, r2 at pc 2, block 1, lane 0"
        );

        let b = vm.alloc_from(&[2i32, 3, 2, 1, -1, 1]).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 3), &args![&a, &b, &o]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::IntegerOverflow, 2, 1, 1)
        );
        // rem alone: MIN % -1 traps too.
        let r = asm(".kernel r\n    mov_imm.i8 r1, -128\n    rem.i8 r2, r1, -1\n    exit\n");
        let t = trap_of(&vm, &r, LaunchConfig::new(1, 1), &[]);
        assert_eq!((t.kind, t.pc), (TrapKind::IntegerOverflow, 1));
        let r = asm(".kernel r\n    rem.u64 r2, %lane, r7\n    exit\n");
        assert_eq!(
            trap_of(&vm, &r, LaunchConfig::new(1, 1), &[]).kind,
            TrapKind::DivideByZero
        );
    }
}

#[test]
fn control_flow_traps() {
    for vm in vms() {
        let p = asm(".kernel fall\n    mov.u32 r1, %lane\n");
        let t = trap_of(&vm, &p, LaunchConfig::new(3, 5), &[]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::FellOffEnd, 1, 0, 0)
        );
        assert_eq!(t.inst, "<end of program>");

        let p = asm("
.kernel ret
    setp.lt.u32 p0, %lane, 3
    @p0 bra @skip
    ret
skip:
    exit
");
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 8), &[]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::RetWithoutCall, 2, 0, 3)
        );
        assert_eq!(t.inst, "ret");

        // Unbounded recursion: the 65th call overflows.
        let p = asm("
.kernel deep
.param o: ptr u32
    call @f
    exit
f:
    add.u32 r1, r1, 1
    stg.u32 [o + %gid*4], r1
    call @f
    ret
");
        let o = vm.alloc::<u32>(4).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 4), &[Arg::from(&o)]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::CallStackOverflow, 4, 0));
        assert_eq!(t.inst, "call @L2");
        // Lane 0 reached depth 64; how far the others got before the launch stopped depends
        // on the order a tier runs lanes in (docs/ISA.md section 7).
        assert_eq!(vm.read(&o).unwrap()[0], 64);
    }
}

/// A `ret` finds the call stack empty at the start of every launch, whatever the last
/// program run on the same state left there: lanes that exited inside a function, or trapped
/// there (the interpreter kept their depth for a program without calls, whose `ret` then
/// returned to the other program's return address, or past the end of its code).
#[test]
fn ret_without_call_after_a_launch_that_left_frames() {
    for vm in vms() {
        let exits_inside = asm(".kernel a\n    mov_imm.u32 r0, 0\n    mov_imm.u32 r0, 1\n\
            mov_imm.u32 r0, 2\n    call @f\n    exit\nf:\n    exit\n");
        let traps_inside = asm(".kernel t\n    mov_imm.u32 r0, 0\n    mov_imm.u32 r0, 1\n\
            mov_imm.u32 r0, 2\n    mov_imm.u32 r0, 3\n    mov_imm.u32 r0, 4\n    call @f\n\
            exit\nf:\n    div.u32 r0, 1, 0\n    ret\n");
        let rets = asm(
            ".kernel b\n.param x: ptr u32\n    stg.u32 [x + %gid*4], 1\n    ret\n\
            exit\n    exit\n    stg.u32 [x + %gid*4], 99\n    exit\n",
        );
        let x = vm.alloc::<u32>(8).unwrap();
        run(&vm, &exits_inside, LaunchConfig::new(1, 8), &[]);
        let t = trap_of(&vm, &rets, LaunchConfig::new(1, 8), &[Arg::from(&x)]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::RetWithoutCall, 1, 0));
        assert_eq!(vm.read(&x).unwrap(), vec![1; 8]);
        let t = trap_of(&vm, &traps_inside, LaunchConfig::new(1, 5), &[]);
        assert_eq!((t.kind, t.pc), (TrapKind::DivideByZero, 7));
        let t = trap_of(&vm, &rets, LaunchConfig::new(1, 8), &[Arg::from(&x)]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::RetWithoutCall, 1, 0));
    }
}

/// A global pointer whose high half is the JIT's code for shared memory (0xfffffffe) names
/// no buffer, in both tiers: not shared memory.
#[test]
fn a_pointer_to_no_buffer_is_not_shared_memory() {
    let p = asm(".kernel k\n.param x: ptr u64\n.shared 64\n\
        mov_imm.u64 r6, 0xfffffffe00000008\n    stg.u64 [r6], 77\n    exit\n");
    for vm in vms() {
        let x = vm.alloc::<u64>(4).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 4), &[Arg::from(&x)]);
        assert_eq!((t.kind, t.pc), (TrapKind::OutOfBounds, 1));
        let space = t.access.map(|a| (a.space, a.offset));
        assert_eq!(
            space,
            Some((
                Space::Invalid {
                    handle: 0xffff_fffe
                },
                8
            ))
        );
    }
}

#[test]
fn divergent_barriers() {
    for vm in vms() {
        let p = asm("
.kernel divbar
    and.u32 r1, %lane, 1
    setp.eq.u32 p0, r1, 1
    @p0 bra @odd
    bar.sync
    exit
odd:
    bar.sync
    exit
");
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 4), &[]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::DivergentBarrier, 3, 0, 0)
        );
        assert_eq!(t.inst, "bar.sync");

        // A reduce reached by some lanes while others wait at a bar.sync.
        let p = asm("
.kernel divred
    setp.ge.u32 p0, %lane, 2
    @p0 bra @late
    bar.sync
    exit
late:
    reduce.add.u32 r1, %lane
    exit
");
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 4), &[]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::DivergentBarrier, 2, 0));

        // Lanes waiting at a barrier while the others exit: not divergent.
        let p = asm("
.kernel fine
.param o: ptr u32
    setp.ge.u32 p0, %lane, 2
    @p0 bra @quit
    bar.sync
    stg.u32 [o + %gid*4], 1
quit:
    exit
");
        let o = vm.alloc::<u32>(8).unwrap();
        run(&vm, &p, LaunchConfig::new(2, 4), &[Arg::from(&o)]);
        assert_eq!(vm.read(&o).unwrap(), vec![1, 1, 0, 0, 1, 1, 0, 0]);
    }
}

#[test]
fn out_of_fuel_on_an_infinite_loop() {
    let p = asm(".kernel spin\n.param o: ptr u32\ntop:\n    add.u32 r1, r1, 1\n    bra @top\n");
    for (tier, fuel) in [Tier::Interpret, Tier::Jit]
        .into_iter()
        .flat_map(|t| [(t, 1000u64), (t, 1 << 16)])
    {
        for single in [true, false] {
            let vm = Vm::with_config(
                VmConfig::default()
                    .tier(tier)
                    .fuel(fuel)
                    .single_thread(single)
                    .parallel_threshold(0)
                    .parallel_min_time(std::time::Duration::ZERO),
            );
            let o = vm.alloc::<u32>(4).unwrap();
            let t = trap_of(&vm, &p, LaunchConfig::new(4, 64), &[Arg::from(&o)]);
            assert_eq!(
                (t.kind, t.pc, t.block, t.lane),
                (TrapKind::OutOfFuel, 1, 0, 0)
            );
            assert_eq!(t.inst, "bra @L0");
            assert_eq!(vm.read(&o).unwrap(), vec![0; 4], "untouched");
        }
    }
}

/// Fuel is exact: `fuel` backward branches are allowed, one more traps; calls count too;
/// forward branches do not.
#[test]
fn fuel_is_counted_exactly() {
    let p = asm("
.kernel count
.param n: ptr u32
.param o: ptr u32
    ldg.u32 r1, [n + %gid*4]
    bra @top
top:
    add.u32 r2, r2, 1
    loop r1, @top
    call @f
    stg.u32 [o + %gid*4], r2
    exit
f:
    ret
");
    for (tier, vm) in [Tier::Interpret, Tier::Jit].into_iter().flat_map(|tier| {
        let config = VmConfig::default().tier(tier).fuel(10);
        [
            (tier, Vm::with_config(config.clone().single_thread(true))),
            (
                tier,
                Vm::with_config(
                    config
                        .parallel_threshold(0)
                        .parallel_min_time(std::time::Duration::ZERO),
                ),
            ),
        ]
    }) {
        // n iterations take n - 1 backward branches, plus one call: n = 10 uses exactly 10.
        let n = vm.alloc_from(&[10u32, 3, 10, 1, 10, 2, 10, 5]).unwrap();
        let o = vm.alloc::<u32>(8).unwrap();
        run(&vm, &p, LaunchConfig::new(2, 4), &args![&n, &o]);
        assert_eq!(vm.read(&o).unwrap(), vec![10, 3, 10, 1, 10, 2, 10, 5]);
        // n = 12 runs out at the 11th backward branch of the loop (divergent lanes); the
        // lowest such lane is reported.
        let n = vm.alloc_from(&[10u32, 3, 12, 1, 12, 2, 10, 5]).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 4), &args![&n, &o]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::OutOfFuel, 3, 0, 2)
        );
        // n = 11 for all lanes (converged): 10 loop branches, then the call needs the 11th.
        let n = vm.alloc_from(&[11u32; 8]).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 4), &args![&n, &o]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::OutOfFuel, 4, 0, 0)
        );
        // Converged, all 12: the loop runs out.
        let n = vm.alloc_from(&[12u32; 8]).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(2, 4), &args![&n, &o]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::OutOfFuel, 3, 0, 0)
        );
        // With fuel 9, n = 10 uses 9 loop branches and the call runs out.
        let vm2 = Vm::with_config(VmConfig::default().tier(tier).fuel(9).single_thread(true));
        let n = vm2.alloc_from(&[10u32; 4]).unwrap();
        let o2 = vm2.alloc::<u32>(4).unwrap();
        let t = trap_of(&vm2, &p, LaunchConfig::new(1, 4), &args![&n, &o2]);
        assert_eq!((t.kind, t.pc), (TrapKind::OutOfFuel, 4));
    }
}

/// The reported trap is that of the lowest trapping %gid, even when a higher lane traps
/// first; lanes below a trapping lane keep running (and their stores happen).
#[test]
fn lowest_gid_wins() {
    let p = asm("
.kernel order
.param a: ptr u32
.param o: ptr u32
    setp.eq.u32 p0, %lane, 5
    @p0 bra @early
    mov_imm.u32 r1, 0
    add.u32 r1, r1, 1
    add.u32 r1, r1, 1
    setp.eq.u32 p1, %lane, 3
    @!p1 bra @fine
    ldg.u32 r2, [a + 4096]        ; lane 3 traps late
fine:
    stg.u32 [o + %gid*4], 1
    exit
early:
    ldg.u32 r2, [a + 8192]        ; lane 5 traps first
    exit
");
    for vm in vms() {
        let a = vm.alloc::<u32>(4).unwrap();
        let o = vm.alloc::<u32>(32).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 8), &args![&a, &o]);
        assert_eq!(
            (t.kind, t.pc, t.block, t.lane),
            (TrapKind::OutOfBounds, 7, 0, 3)
        );
        let got = vm.read(&o).unwrap();
        // Lanes 0..3 stored; lane 3 trapped before its store; lanes above 3 stopped.
        assert_eq!(&got[..8], &[1, 1, 1, 0, 0, 0, 0, 0]);
    }

    // Across blocks: block 1 traps late, block 3 early; block 1 is reported.
    let p = asm("
.kernel blocks
.param a: ptr u32
    setp.eq.u32 p0, %block, 3
    @p0 bra @early
    setp.eq.u32 p1, %block, 1
    @!p1 bra @done
    mov_imm.u32 r1, 100
spin:
    loop r1, @spin
    ldg.u32 r2, [a + 4096]
done:
    exit
early:
    ldg.u32 r2, [a + 4096]
    exit
");
    for vm in vms() {
        let a = vm.alloc::<u32>(4).unwrap();
        for _ in 0..5 {
            let t = trap_of(&vm, &p, LaunchConfig::new(64, 32), &[Arg::from(&a)]);
            assert_eq!((t.pc, t.block, t.lane), (6, 1, 0));
        }
    }
}

/// A lane that trapped counts as exited at later barriers.
#[test]
fn stopped_lanes_do_not_block_barriers() {
    let p = asm("
.kernel stop
.param a: ptr u32
.param o: ptr u32
    setp.eq.u32 p0, %lane, 6
    @!p0 bra @go
    ldg.u32 r1, [a + 4096]
go:
    bar.sync
    stg.u32 [o + %gid*4], 1
    exit
");
    for vm in vms() {
        let a = vm.alloc::<u32>(4).unwrap();
        let o = vm.alloc::<u32>(8).unwrap();
        let t = trap_of(&vm, &p, LaunchConfig::new(1, 8), &args![&a, &o]);
        assert_eq!((t.kind, t.lane), (TrapKind::OutOfBounds, 6));
        assert_eq!(vm.read(&o).unwrap(), vec![1, 1, 1, 1, 1, 1, 0, 0]);
    }
}

#[test]
fn trap_display_and_kind_names() {
    let names = [
        (TrapKind::OutOfBounds, "out of bounds"),
        (TrapKind::Misaligned, "misaligned access"),
        (TrapKind::DivideByZero, "integer divide by zero"),
        (TrapKind::IntegerOverflow, "integer overflow"),
        (TrapKind::FellOffEnd, "fell off the end of the program"),
        (TrapKind::RetWithoutCall, "ret without call"),
        (TrapKind::CallStackOverflow, "call stack overflow"),
        (TrapKind::DivergentBarrier, "divergent barrier"),
        (TrapKind::OutOfFuel, "out of fuel"),
    ];
    for (k, n) in names {
        assert_eq!(k.to_string(), n);
    }
    let vm = serial_vm();
    let p = asm(".kernel f\n.param a: ptr f32\n    ldg.f32 r1, [a + %gid*4]\n    exit\n");
    let a = vm.alloc::<f32>(17).unwrap();
    let err = vm
        .launch(&p, LaunchConfig::new(1, 18), &[Arg::from(&a)])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "out of bounds: ldg.f32 r1, [a + %gid*4] at pc 0, block 0, lane 17: byte offset 68 of \
         buffer `a` (length 68 bytes)"
    );
}

/// Loads and stores through a register index in a full block (the interpreter's indexed
/// path, which checks 64 lanes' addresses before it accesses any): the trap names the
/// lowest faulting lane past the first 64, the lanes before it store and the others do
/// not; a load may write its own index register; shared memory and misaligned indices too.
#[test]
fn gathers_and_scatters_trap_at_their_lowest_faulting_lane() {
    let gather = asm("
.kernel gather
.param a: ptr u32
.param out: ptr u32
.param bad: u32
    xor.u32 r1, %lane, 1
    ldg.u32 r1, [a + r1*4]
    stg.u32 [out + %gid*4], r1
    setp.eq.u32 p1, %lane, bad
    xor.u32 r2, %lane, 1
    sel.u32 r2, p1, 5000, r2
    ldg.u32 r3, [a + r2*4]
    exit
");
    let scatter = asm("
.kernel scatter
.param b: ptr u32
.param bad: u32
    setp.eq.u32 p1, %lane, bad
    xor.u32 r2, %lane, 1
    sel.u32 r2, p1, 5000, r2
    stg.u32 [b + r2*4], %lane
    exit
");
    let misaligned = asm("
.kernel mis
.param a: ptr u32
    mul.u32 r1, %lane, 4
    setp.eq.u32 p1, %lane, 100
    sel.u32 r2, p1, 2, 0
    add.u32 r1, r1, r2
    ldg.u32 r3, [a + r1*1]
    exit
");
    let shared = asm("
.kernel sh
.shared 1024
    setp.eq.u32 p1, %lane, 77
    xor.u32 r2, %lane, 1
    sel.u32 r2, p1, 300, r2
    sts.u32 [shared + r2*4], %lane
    exit
");
    let block = LaunchConfig::new(1, 256);
    let interp = [serial_vm(), parallel_vm()];
    for (i, vm) in vms().iter().enumerate() {
        let a = vm
            .alloc_from(&(0..256).map(|x| x * 3).collect::<Vec<u32>>())
            .unwrap();
        let out = vm.alloc::<u32>(256).unwrap();
        let t = trap_of(vm, &gather, block, &args![&a, &out, 200u32]);
        assert_eq!(
            (t.kind, t.pc, t.lane),
            (TrapKind::OutOfBounds, 6, 200),
            "vm {i}"
        );
        assert_eq!(t.access.map(|m| (m.offset, m.size)), Some((20_000, 4)));
        // No trap: each lane loaded its neighbour's element into the index's register.
        run(vm, &gather, block, &args![&a, &out, 999u32]);
        let want: Vec<u32> = (0..256u32).map(|l| (l ^ 1) * 3).collect();
        assert_eq!(vm.read(&out).unwrap(), want, "vm {i}");

        // An empty buffer: no index fits.
        let empty = vm.alloc::<u32>(0).unwrap();
        let t = trap_of(vm, &misaligned, block, &args![&empty]);
        assert_eq!(
            (t.kind, t.pc, t.lane),
            (TrapKind::OutOfBounds, 4, 0),
            "vm {i}"
        );
        assert_eq!(t.access.map(|m| (m.offset, m.size)), Some((0, 4)));

        let t = trap_of(vm, &misaligned, block, &args![&a]);
        assert_eq!(
            (t.kind, t.pc, t.lane),
            (TrapKind::Misaligned, 4, 100),
            "vm {i}"
        );
        let t = trap_of(vm, &shared, block, &[]);
        assert_eq!(
            (t.kind, t.pc, t.lane),
            (TrapKind::OutOfBounds, 3, 77),
            "vm {i}"
        );
        assert_eq!(t.access.map(|m| (m.offset, m.size)), Some((1200, 4)));
    }
    for vm in &interp {
        let b = vm.alloc_from(&[7u32; 256]).unwrap();
        let t = trap_of(vm, &scatter, block, &args![&b, 130u32]);
        assert_eq!((t.kind, t.pc, t.lane), (TrapKind::OutOfBounds, 3, 130));
        // Lanes 0..130 stored (lane l at l ^ 1), in lane order; none after.
        let want: Vec<u32> = (0..256u32)
            .map(|x| if x < 130 { x ^ 1 } else { 7 })
            .collect();
        assert_eq!(vm.read(&b).unwrap(), want);
    }
}
