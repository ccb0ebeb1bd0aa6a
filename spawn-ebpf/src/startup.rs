//! User-space startup marks: uprobes on ld.so's `_dl_debug_state` and glibc's
//! `__libc_start_main`, attached once for every process and filtered here. Only the window
//! between a successful exec and `__libc_start_main` is of interest (later `dlopen` calls also
//! reach `_dl_debug_state`).
use aya_ebpf::{macros::uprobe, programs::ProbeContext};
use spawn_common::{kind, mark};

use crate::{
    emit::event,
    state::{STARTUP, current, followed, followed_parent},
};

#[inline(always)]
fn startup_mark(which: u64) {
    let (tid, tgid) = current();
    if STARTUP.get_ptr(tgid).is_none() || !followed(tid, tgid) {
        return;
    }
    if which == mark::LIBC_START_MAIN {
        let _ = STARTUP.remove(tgid);
    }
    event(kind::STARTUP_MARK, tid, tgid, which, 0, 0);
}

#[uprobe]
pub fn dl_debug_state(_ctx: ProbeContext) -> u32 {
    startup_mark(mark::DL_DEBUG_STATE);
    0
}

#[uprobe]
pub fn libc_start_main(_ctx: ProbeContext) -> u32 {
    startup_mark(mark::LIBC_START_MAIN);
    0
}

#[inline(always)]
fn spawn_mark(which: u64) {
    let (tid, tgid) = current();
    if followed_parent(tid, tgid) {
        event(kind::STARTUP_MARK, tid, tgid, which, 0, 0);
    }
}

/// spawn-fast's spawn entry mark, in the parent: the start of the `prep` phase.
#[uprobe]
pub fn spawn_enter(_ctx: ProbeContext) -> u32 {
    spawn_mark(mark::SPAWN_ENTER);
    0
}

/// spawn-fast's spawn return mark: closes a `prep` that saw no clone in this thread.
#[uprobe]
pub fn spawn_return(_ctx: ProbeContext) -> u32 {
    spawn_mark(mark::SPAWN_RETURN);
    0
}
