//! The counting global allocator shared by the zero-allocation tests.
//!
//! A global allocator is per binary, so each test file still declares it:
//!
//! ```ignore
//! mod support_alloc;
//! #[global_allocator]
//! static GLOBAL: support_alloc::Counting = support_alloc::Counting;
//! ```
//!
//! [`Counting`] forwards every call to [`System`] unchanged and counts the
//! allocations (`alloc`, `alloc_zeroed`, `realloc`) made by a thread while
//! counting is on for that thread; [`counted`] turns it on around a closure.
//! Other threads (loopback servers, the test harness, parallel tests) are
//! never counted. The counters are `const`-initialised thread-local `Cell`s
//! with no destructor, so counting itself never allocates, locks or
//! registers anything; `try_with` keeps it panic-free during thread teardown.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Whether allocations on this thread are being counted.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// Allocations counted on this thread so far (monotonic).
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator plus a per-thread allocation counter.
pub struct Counting;

fn note() {
    if ON.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

fn total() -> u64 {
    COUNT.with(Cell::get)
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the counting touches only thread-local
// `Cell`s and has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's (`l` has non-zero size).
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's (`l` has non-zero size).
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's: `p` came from this allocator
        // (hence from `System`) with layout `l`, and `n` is a valid size.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's: `p` came from this allocator
        // (hence from `System`) with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
}

/// Runs `f` with counting on for the current thread and returns its result
/// with the number of allocations it made on this thread. Restores the
/// previous on/off state afterwards, so calls may nest.
pub fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let was = ON.with(|on| on.replace(true));
    let before = total();
    let r = f();
    let n = total() - before;
    ON.with(|on| on.set(was));
    (r, n)
}

/// The counter is installed in this binary and sees this thread's
/// allocations, reallocations and zeroed allocations, but not another
/// thread's, nor this thread's outside `counted`.
#[test]
fn counter_counts_this_thread_only_while_on() {
    use std::hint::black_box;
    let (v, n) = counted(|| black_box(Vec::<u8>::with_capacity(16)));
    assert_eq!(n, 1, "one Vec::with_capacity");
    let (mut v, n) = counted(|| {
        let mut v = v;
        v.reserve_exact(4096);
        v
    });
    assert_eq!(n, 1, "one realloc");
    v.push(1);
    let (z, n) = counted(|| black_box(vec![0u64; 64]));
    assert_eq!(n, 1, "one alloc_zeroed");
    drop((v, z));
    const CHILD: u64 = 1000;
    let (child, n) = counted(|| {
        std::thread::scope(|s| {
            s.spawn(|| {
                counted(|| {
                    for i in 0..CHILD {
                        drop(black_box(vec![i; 4]));
                    }
                })
                .1
            })
            .join()
        })
    });
    assert_eq!(child.ok(), Some(CHILD), "the child counts its own");
    // Spawning and joining allocate a few times on this thread; the child's
    // thousand allocations are not among them.
    assert!(n < CHILD, "{n} allocations counted on the parent");
    let before = total();
    drop(black_box(vec![1u8; 10]));
    assert_eq!(total(), before, "not counted outside `counted`");
}
