//! `run_beside`: run a second job on a pool worker while this thread runs the first, or take
//! it back if no worker has started it by then.
//!
//! `rayon::join` has that shape, but only inside a pool: called from an ordinary thread it
//! first moves the whole call onto a worker and blocks the caller, a hand-off that on this
//! project's virtual machine sometimes cost more than the per-lane function it was meant to
//! hide (compile medians got worse for small kernels). Here the calling thread keeps the
//! first job, with its warm caches, and a worker that wakes too late finds nothing to do.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// The second job: not started yet.
const PENDING: u8 = 0;
/// A worker is running it.
const RUNNING: u8 = 1;
/// It is over, or the caller has taken it; nobody else will touch it.
const SETTLED: u8 = 2;

/// The hand-off between the caller and a worker.
#[derive(Default)]
struct Handoff {
    state: AtomicU8,
    /// Set by the worker when its run is over (under `done`'s lock, with `cv`).
    done: Mutex<bool>,
    cv: Condvar,
}

impl Handoff {
    /// Moves `PENDING` to `to`; false if someone else moved it first.
    fn take(&self, to: u8) -> bool {
        self.state
            .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The worker's run is over.
    fn finish(&self) {
        self.state.store(SETTLED, Ordering::Release);
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        *done = true;
        self.cv.notify_all();
    }

    /// Returns once nobody runs the job any more: takes it if it is still pending (true:
    /// the caller must run it), else waits for the worker running it.
    fn claim_or_wait(&self) -> bool {
        if self.take(SETTLED) {
            return true;
        }
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done && self.state.load(Ordering::Acquire) != SETTLED {
            done = self.cv.wait(done).unwrap_or_else(|e| e.into_inner());
        }
        false
    }
}

/// The second job and its result, on the caller's stack.
struct Slot<B, R> {
    job: Option<B>,
    out: Option<std::thread::Result<R>>,
}

/// Runs the job in the slot at `slot` (a `Slot<B, R>`), catching a panic.
fn run_slot<B: FnOnce() -> R, R>(slot: *mut ()) {
    // SAFETY: `slot` points to the `Slot<B, R>` of a `run_beside` call that has not returned:
    // it waits in `claim_or_wait` (or its guard's drop) until this run is over, and only the
    // side that won the hand-off calls this, once.
    let slot = unsafe { &mut *slot.cast::<Slot<B, R>>() };
    if let Some(job) = slot.job.take() {
        slot.out = Some(catch_unwind(AssertUnwindSafe(job)));
    }
}

/// A raw pointer that may cross to the worker (see `run_slot`'s SAFETY note).
struct SendPtr(*mut ());
// SAFETY: the pointee is used by one thread at a time, as the hand-off decides.
unsafe impl Send for SendPtr {}

/// Settles the hand-off when `run_beside` leaves, also by a panic of the first job, so that
/// no worker can still be running the second job once its slot is gone.
struct Settle<'a>(&'a Handoff);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        // Taking it here only stops a worker from starting it; the job is dropped with
        // its slot.
        self.0.claim_or_wait();
    }
}

/// Runs `a` on this thread and `b` on a worker of `pool` if one starts it before `a` is
/// done, otherwise on this thread after `a`. Returns both results (`b`'s panic, if any,
/// caught). A panic of `a` propagates after `b` is settled.
pub(crate) fn run_beside<RA, RB, A, B>(
    pool: &rayon::ThreadPool,
    a: A,
    b: B,
) -> (RA, std::thread::Result<RB>)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    let slot = UnsafeCell::new(Slot::<B, RB> {
        job: Some(b),
        out: None,
    });
    let hand = Arc::new(Handoff::default());
    let worker_hand = Arc::clone(&hand);
    let ptr = SendPtr(slot.get().cast());
    let run: fn(*mut ()) = run_slot::<B, RB>;
    pool.spawn(move || {
        let ptr = ptr;
        if worker_hand.take(RUNNING) {
            run(ptr.0);
            worker_hand.finish();
        }
    });
    let settle = Settle(&hand);
    let ra = a();
    if hand.claim_or_wait() {
        run_slot::<B, RB>(slot.get().cast());
    }
    drop(settle);
    let out = slot
        .into_inner()
        .out
        .unwrap_or_else(|| Err(Box::new("the job did not run")));
    (ra, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool of 2")
    }

    #[test]
    fn both_jobs_run_on_the_callers_data() {
        let pool = pool();
        for round in 0..300u64 {
            let mut left = vec![round; 1000];
            let mut right = vec![2u64; 1000];
            let (a, b) = run_beside(
                &pool,
                || {
                    left.iter_mut().for_each(|x| *x += 1);
                    left.iter().sum::<u64>()
                },
                || {
                    right.iter_mut().for_each(|x| *x *= 3);
                    right.iter().sum::<u64>()
                },
            );
            assert_eq!(a, (round + 1) * 1000);
            assert_eq!(b.ok(), Some(6000));
            assert_eq!(right[999], 6, "the second job's writes are visible");
        }
    }

    #[test]
    fn a_panic_of_the_second_job_is_returned() {
        let (a, b) = run_beside(&pool(), || 1, || -> u32 { panic!("second job") });
        assert_eq!(a, 1);
        assert!(b.is_err());
    }

    #[test]
    fn a_panic_of_the_first_job_leaves_after_the_second_settles() {
        let pool = pool();
        for _ in 0..50 {
            let mut data = [0u32; 4];
            let r = catch_unwind(AssertUnwindSafe(|| {
                run_beside(
                    &pool,
                    || -> u32 { panic!("first job") },
                    || {
                        data[0] = 1;
                        std::thread::sleep(std::time::Duration::from_micros(200));
                        data[1] = 7;
                    },
                )
            }));
            assert!(r.is_err());
            // The panic left only after the second job settled: if it started, it ended.
            assert!(
                data[0] == 0 || data[1] == 7,
                "started but not finished: {data:?}"
            );
        }
    }
}
