//! The kernels a VM launched recently ([`KernelMemo`]), found without a JIT-cache lookup.

use std::sync::Arc;

use holovm_isa::ProgramKey;

/// Sets of [`KernelMemo`] (a power of two); each holds two kernels.
const MEMO_SETS: usize = 16;

/// A remembered kernel, its program's key and its tag (0: the program's main kernel; else a
/// variant's, `tier::variant_tag`).
type MemoEntry = Option<(ProgramKey, u32, Arc<holovm_jit::CompiledKernel>)>;

/// The compiled kernels a VM launched recently, with their program keys, so a launch of one
/// of them needs no JIT-cache lookup: a program's main kernel (tag 0) and the variants with
/// narrower vector groups or partial groups as vector code that some launch shapes run
/// (tagged as `tier::variant_tag` says). A
/// small two-way set-associative table indexed by the key's first byte and the tag (keys
/// are SHA-256 digests, so uniformly spread): a lookup compares at most two entries and a
/// miss replaces the set's least recently used kernel. Kept under the VM lock.
#[derive(Default)]
pub(crate) struct KernelMemo {
    /// The JIT cache's generation the kernels were taken from: once the cache changes
    /// generation (cleared or evicted), the memo is emptied rather than used.
    generation: u64,
    sets: [[MemoEntry; 2]; MEMO_SETS],
    /// Per set, the way to replace next (the least recently used one).
    victim: [u8; MEMO_SETS],
}

impl KernelMemo {
    #[inline]
    fn set_of(key: &ProgramKey, tag: u32) -> usize {
        (key.0[0] as usize ^ tag as usize) % MEMO_SETS
    }

    /// The kernel of `key` tagged `tag`, if the memo has it and is of `generation`.
    #[inline]
    pub(crate) fn find(
        &mut self,
        key: &ProgramKey,
        tag: u32,
        generation: u64,
    ) -> Option<&holovm_jit::CompiledKernel> {
        if self.generation != generation {
            self.clear(generation);
            return None;
        }
        let set = Self::set_of(key, tag);
        let way = self.sets[set]
            .iter()
            .position(|e| e.as_ref().is_some_and(|(k, t, _)| k == key && *t == tag))?;
        self.victim[set] = 1 - way as u8;
        self.sets[set][way].as_ref().map(|(_, _, k)| &**k)
    }

    /// Remembers `kernel` (taken from the cache in `generation`) for `key` and `tag`, in
    /// place of its set's least recently used kernel, and returns it.
    pub(crate) fn insert(
        &mut self,
        key: ProgramKey,
        tag: u32,
        generation: u64,
        kernel: Arc<holovm_jit::CompiledKernel>,
    ) -> &holovm_jit::CompiledKernel {
        if self.generation != generation {
            self.clear(generation);
        }
        let set = Self::set_of(&key, tag);
        let way = match self.sets[set]
            .iter()
            .position(|e| e.as_ref().is_some_and(|(k, t, _)| *k == key && *t == tag))
        {
            Some(way) => way,
            None => (self.victim[set] & 1) as usize,
        };
        self.victim[set] = 1 - way as u8;
        &self.sets[set][way].insert((key, tag, kernel)).2
    }

    /// Empties the memo if the JIT cache changed generation since its kernels were taken
    /// (kernels that left the cache would otherwise stay alive here).
    #[inline]
    pub(crate) fn follow(&mut self, generation: u64) {
        if self.generation != generation {
            self.clear(generation);
        }
    }

    /// How many kernels the memo holds, and the cache generation they were taken from.
    #[cfg(test)]
    pub(crate) fn held(&self) -> (usize, u64) {
        let n = self.sets.iter().flatten().flatten().count();
        (n, self.generation)
    }

    /// Forgets every kernel (their code is freed if the cache no longer holds them).
    pub(crate) fn clear(&mut self, generation: u64) {
        self.sets = Default::default();
        self.generation = generation;
    }
}
