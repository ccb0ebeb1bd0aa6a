//! Probe marks for uprobes and the per-spawn userspace timestamps: the interface between
//! spawn-fast and a tracer such as spawnprof. A library user does not call these functions;
//! they are public so that their symbols stay exported and their contract is written down.
//!
//! Each mark is an exported (`#[no_mangle]`, `extern "C"`), never-inlined function whose body
//! only passes its argument through `black_box`: untraced it costs a call, traced it gives a
//! stable symbol to attach a uprobe to. Every spawn API (`Command::spawn`/`output`/`status`,
//! `Template::spawn`, the warm templates) calls, in the calling thread:
//!
//! 1. [`spawn_fast_mark_enter`]`(0)` on entry, before any preparation;
//! 2. [`spawn_fast_mark_return`]`(pid)` on the way out, with 0 when the spawn failed.
//!
//! spawnprof attaches uprobes to `spawn_fast_mark_enter` and `spawn_fast_mark_return` in a
//! traced binary that links spawn-fast (`trace --prep`): the time from the enter mark to the
//! thread's next clone-family syscall is the `prep` phase, and the return mark closes an enter
//! that no clone of that thread followed. (There is no mark before the clone itself: the
//! clone-family syscall marks that moment for any tracer.) The symbol names and the argument are the stable part; renaming one breaks tracers.
//!
//! [`Timing`] carries the userspace side of the same story without a tracer: the timestamps
//! of [`Child::timing`](crate::Child::timing) use CLOCK_MONOTONIC, the clock of
//! `bpf_ktime_get_ns()`, so they line up with kernel events.
//!
//! The bodies must differ: identical functions are folded into one address by the linker, and a
//! uprobe on one mark would then fire at both. Each passes its own tag through `black_box`.

use serde::Serialize;

/// The spawn API was entered; `pid_hint` is 0 (the pid is not known yet).
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn spawn_fast_mark_enter(pid_hint: u64) {
    core::hint::black_box((pid_hint, 0xe7u8));
}

/// The spawn API returns; `pid` is the child's pid, or 0 when the spawn failed.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn spawn_fast_mark_return(pid: u64) {
    core::hint::black_box((pid, 0x2eu8));
}

/// CLOCK_MONOTONIC timestamps (ns) of one spawn, comparable with `bpf_ktime_get_ns()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// The spawn API was entered.
    pub t_enter_ns: u64,
    /// The spawn call returned with a running child.
    pub t_spawned_ns: u64,
    /// `wait`/`try_wait` observed the exit (None until then).
    pub t_reaped_ns: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folded marks would make a uprobe on one fire at every mark (see the module docs).
    #[test]
    fn marks_have_distinct_addresses() {
        let enter = spawn_fast_mark_enter as *const () as usize;
        let ret = spawn_fast_mark_return as *const () as usize;
        assert_ne!(enter, ret);
    }
}
