//! [`VmConfig`]: how a [`Vm`](crate::Vm) runs programs (fuel, threads, tiering, the JIT).

use std::time::Duration;

use crate::tier::Tier;

/// Configuration of a [`Vm`](crate::Vm).
///
/// ```
/// use holovm::{Vm, VmConfig};
/// let vm = Vm::with_config(VmConfig::default().fuel(1 << 20).single_thread(true));
/// assert_eq!(vm.config().fuel, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    /// Fuel per lane per launch: taken backward `bra`/`loop` and every `call` use one unit
    /// (docs/ISA.md, section 7); values above `2^63 - 1` act as `2^63 - 1`. Default `1 << 26`.
    pub fuel: u64,
    /// Run every launch on the calling thread. Default `false`.
    pub single_thread: bool,
    /// Smallest launch, in lanes (`grid * block`), that runs its blocks in parallel; smaller
    /// launches (and single-block launches) stay on the calling thread. Default `32768`.
    pub parallel_threshold: u64,
    /// Compiled code only: a launch above [`VmConfig::parallel_threshold`] runs in parallel
    /// when its expected single-thread time is at least this. The expectation comes from
    /// the kernel's last launch above the threshold that ran on the calling thread (timed:
    /// the first one, and every 64th that would split), because compiled lanes cost from a
    /// tenth of a nanosecond to microseconds each, and waking the workers and waiting for
    /// them costs microseconds: a short launch split in two takes longer. `Duration::ZERO`
    /// splits every launch above the lane threshold. Default 30 µs: on the 2-core machine
    /// this project measures on, a split costs 10-15 µs (vector_add at 64K lanes: 6.3 µs on one thread, 22.6 on two),
    /// so launches of 30 µs or more gain (relu at 256K lanes 40 -> 26 µs, gelu at 64K 70 ->
    /// 42) and shorter ones would lose.
    pub parallel_min_time: Duration,
    /// Worker threads for parallel launches; 0 means one per available core. Default 0.
    pub threads: usize,
    /// Use the AVX2 + FMA versions of the lane loops when the CPU has them. Results are
    /// bit-identical either way. Default `true`.
    pub simd: bool,
    /// Most decoded programs kept in the cache before it is emptied. Default 1024.
    pub cache_capacity: usize,
    /// Which tier runs programs. Default [`Tier::Auto`].
    pub tier: Tier,
    /// Under [`Tier::Auto`], the interpreter time after which a program is compiled.
    /// Default 2 ms (the example kernels compile in 0.3-1.3 ms: BENCHMARKS.md).
    pub jit_threshold: Duration,
    /// Most compiled kernels kept before the JIT cache is emptied (their code is freed once
    /// no launch uses it). Default 256.
    pub jit_cache_capacity: usize,
    /// Append every kernel the JIT compiles to `/tmp/perf-<pid>.map`, so `perf report` names
    /// its code: one symbol per stretch that implements one ISA instruction
    /// (`holovm::gelu pc 7 vector`), the kernel's name for the rest. Default `false`.
    pub perf_map: bool,
    /// The most instructions a program may have to be compiled; longer ones run in the
    /// interpreter under every tier, and [`Vm::jit_dump`](crate::Vm::jit_dump) says why.
    /// Default 16,384 ([`holovm_jit::DEFAULT_MAX_INSTS`]: past it a compile's time and
    /// memory grow faster than the program).
    pub jit_max_insts: usize,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            fuel: 1 << 26,
            single_thread: false,
            parallel_threshold: 1 << 15,
            parallel_min_time: Duration::from_micros(30),
            threads: 0,
            simd: true,
            cache_capacity: 1024,
            tier: Tier::Auto,
            jit_threshold: Duration::from_millis(2),
            jit_cache_capacity: 256,
            perf_map: false,
            jit_max_insts: holovm_jit::DEFAULT_MAX_INSTS,
        }
    }
}

impl VmConfig {
    /// Sets [`VmConfig::fuel`].
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }

    /// Sets [`VmConfig::single_thread`].
    pub fn single_thread(mut self, yes: bool) -> Self {
        self.single_thread = yes;
        self
    }

    /// Sets [`VmConfig::parallel_threshold`].
    pub fn parallel_threshold(mut self, lanes: u64) -> Self {
        self.parallel_threshold = lanes;
        self
    }

    /// Sets [`VmConfig::parallel_min_time`].
    pub fn parallel_min_time(mut self, time: Duration) -> Self {
        self.parallel_min_time = time;
        self
    }

    /// Sets [`VmConfig::threads`].
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets [`VmConfig::simd`].
    pub fn simd(mut self, yes: bool) -> Self {
        self.simd = yes;
        self
    }

    /// Sets [`VmConfig::tier`].
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// Sets [`VmConfig::jit_threshold`].
    pub fn jit_threshold(mut self, threshold: Duration) -> Self {
        self.jit_threshold = threshold;
        self
    }

    /// Sets [`VmConfig::jit_cache_capacity`].
    pub fn jit_cache_capacity(mut self, kernels: usize) -> Self {
        self.jit_cache_capacity = kernels;
        self
    }

    /// Sets [`VmConfig::cache_capacity`].
    pub fn cache_capacity(mut self, programs: usize) -> Self {
        self.cache_capacity = programs;
        self
    }

    /// Sets [`VmConfig::perf_map`].
    pub fn perf_map(mut self, yes: bool) -> Self {
        self.perf_map = yes;
        self
    }

    /// Sets [`VmConfig::jit_max_insts`].
    pub fn jit_max_insts(mut self, insts: usize) -> Self {
        self.jit_max_insts = insts;
        self
    }
}
