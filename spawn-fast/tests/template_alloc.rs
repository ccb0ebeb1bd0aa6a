//! Spawning from a Template makes no heap allocation (counted by a global allocator that only
//! counts on the thread under test, into that thread's own counter: the tests of this binary
//! run on parallel threads and must not see each other's allocations; this file is its own
//! test binary so the allocator applies only here).

use spawn_fast::{Command, Stdio, Strategy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation if this thread is counting. `try_with`: the allocator also runs
/// while thread-locals are being torn down.
fn count() {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    }
}

fn allocs() -> usize {
    ALLOCS.with(|a| a.get())
}

// SAFETY: forwards to the system allocator; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same layout contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: p was allocated by System with l.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: p was allocated by System with l.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn template_spawns_allocate_nothing() {
    for s in [
        Strategy::Fork,
        Strategy::Vfork,
        Strategy::Clone3,
        Strategy::Auto,
    ] {
        let t = Command::new(spawn_fast::children::EXIT0)
            .strategy(s)
            .stdout(Stdio::Null)
            .template()
            .unwrap();
        // Warm-up: the per-thread clone3 stack is created on first use.
        assert!(t.spawn().unwrap().wait().unwrap().success());
        ALLOCS.with(|a| a.set(0));
        COUNTING.with(|c| c.set(true));
        for _ in 0..200 {
            let mut child = t.spawn().unwrap();
            assert!(child.wait().unwrap().success());
        }
        COUNTING.with(|c| c.set(false));
        assert_eq!(allocs(), 0, "{s} allocated");
    }
}

#[test]
fn counting_allocator_counts() {
    COUNTING.with(|c| c.set(true));
    let before = allocs();
    let v = std::hint::black_box(vec![1u8; 10]);
    COUNTING.with(|c| c.set(false));
    assert!(allocs() > before);
    drop(v);
}
