//! Spawning from a Template makes no heap allocation (counted by a global allocator that only
//! counts on the thread under test; this file is its own test binary so it applies only here).

use spawn_fast::{Command, Stdio, Strategy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same layout contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: p was allocated by System with l.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
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
        ALLOCS.store(0, Ordering::Relaxed);
        COUNTING.with(|c| c.set(true));
        for _ in 0..200 {
            let mut child = t.spawn().unwrap();
            assert!(child.wait().unwrap().success());
        }
        COUNTING.with(|c| c.set(false));
        assert_eq!(ALLOCS.load(Ordering::Relaxed), 0, "{s} allocated");
    }
}

#[test]
fn counting_allocator_counts() {
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.load(Ordering::Relaxed);
    let v = std::hint::black_box(vec![1u8; 10]);
    COUNTING.with(|c| c.set(false));
    assert!(ALLOCS.load(Ordering::Relaxed) > before);
    drop(v);
}
