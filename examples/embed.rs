//! Embedding holovm: assemble a kernel, allocate buffers, launch, read the results back, see
//! a trap, use the boundary pool, and share one VM between threads.
//!
//! Run with `cargo run --example embed`.

use std::sync::Arc;

use holovm::{args, asm, Error, LaunchConfig, Vm, VmConfig};

const VECTOR_ADD: &str = "
.kernel vector_add
.param a: ptr f32
.param b: ptr f32
.param c: ptr f32
.param n: u32

    setp.ge.u32 p0, %gid, n      ; lanes past the end do nothing
    @p0 bra @done
    ldg.f32 r1, [a + %gid*4]
    ldg.f32 r2, [b + %gid*4]
    add.f32 r3, r1, r2
    stg.f32 [c + %gid*4], r3
done:
    exit
";

/// Scales pool class 7 in place: pool[7][i] *= k.
const POOL_SCALE: &str = "
.kernel pool_scale
.param k: f32

    ldg.f32 r0, [phi(7, 0, 0) + %gid*4]
    mul.f32 r0, r0, k
    stg.f32 [phi(7, 0, 0) + %gid*4], r0
    exit
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vm = Vm::with_config(VmConfig::default().fuel(1 << 20));

    // 1. Assemble (the text could come from a file; `Program::from_bytes` reads bytecode).
    let program = asm::assemble(VECTOR_ADD).map_err(|d| d.to_string())?;

    // 2. Buffers: from host slices, or zeroed.
    let n = 1000usize;
    let a: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let b: Vec<f32> = (0..n).map(|i| 0.5 * i as f32).collect();
    let da = vm.alloc_from(&a)?;
    let db = vm.alloc_from(&b)?;
    let dc = vm.alloc::<f32>(n)?;

    // 3. Launch: one lane per element, in blocks of 256; arguments in parameter order.
    let config = LaunchConfig::cover(n as u64, 256);
    let stats = vm.launch(&program, config, &args![&da, &db, &dc, n as u32])?;
    println!(
        "vector_add: {} lanes in {} blocks, {} instructions dispatched, {} lane-instructions",
        stats.lanes, stats.blocks, stats.steps, stats.lane_steps
    );

    // 4. Read back (into a new Vec, or into an existing slice).
    let c = vm.read(&dc)?;
    assert!(c.iter().enumerate().all(|(i, &x)| x == 1.5 * i as f32));
    let mut again = vec![0.0f32; n];
    vm.read_into(&dc, &mut again)?;
    assert_eq!(c, again);
    println!("c[999] = {}", c[999]);

    // 5. A trap: claim more elements than the buffers hold. Every access is checked.
    match vm.launch(
        &program,
        LaunchConfig::cover(1024, 256),
        &args![&da, &db, &dc, 1024u32],
    ) {
        Err(Error::Trap(trap)) => println!("trapped as expected: {trap}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    // The VM is still usable and the inputs are untouched.
    assert_eq!(vm.read(&da)?, a);

    // 6. Misuse is an error, not undefined behaviour.
    let err = vm
        .launch(&program, config, &args![&da, &db, &dc, n as i32])
        .unwrap_err();
    println!("wrong scalar type: {err}");
    vm.free(dc)?;
    println!("freed handle: {}", vm.read(&dc).unwrap_err());

    // 7. The boundary pool: persistent VM memory addressed by class/page/byte.
    let pool_program = asm::assemble(POOL_SCALE).map_err(|d| d.to_string())?;
    vm.write_pool(7, &vec![2.0f32; 3072])?;
    vm.launch(&pool_program, LaunchConfig::new(12, 256), &args![1.5f32])?;
    assert_eq!(vm.read_pool::<f32>(7)?[3071], 3.0);
    println!("pool class 7 scaled: {}", vm.read_pool::<f32>(7)?[0]);

    // 8. One VM shared by host threads: each launches on its own buffers.
    let vm = Arc::new(vm);
    let program = Arc::new(program);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (vm, program) = (Arc::clone(&vm), Arc::clone(&program));
            std::thread::spawn(move || -> Result<f32, Error> {
                let x = vm.alloc_from(&vec![t as f32; 64])?;
                let out = vm.alloc::<f32>(64)?;
                vm.launch(
                    &program,
                    LaunchConfig::new(1, 64),
                    &args![&x, &x, &out, 64u32],
                )?;
                let r = vm.read(&out)?[63];
                vm.free(x)?;
                vm.free(out)?;
                Ok(r)
            })
        })
        .collect();
    for (t, h) in handles.into_iter().enumerate() {
        let r = h.join().map_err(|_| "thread panicked")??;
        assert_eq!(r, 2.0 * t as f32);
    }
    println!(
        "4 threads shared one VM; {} buffers still live",
        vm.buffers()
    );
    Ok(())
}
