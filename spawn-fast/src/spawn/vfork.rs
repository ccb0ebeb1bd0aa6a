//! vfork + execve: the child borrows the parent's stack until it execs.

use super::{Spawned, finish, mask_bits, new_ctx};
use crate::child_exec::{Handlers, child_entry};
use crate::marks;
use crate::raw_plan::RawPlan;
use crate::sys::{SignalBlock, spawn_fast_vfork_run};
use std::io;
use std::sync::atomic::Ordering;

pub(super) fn spawn(plan: &RawPlan, need_pidfd: bool) -> io::Result<Spawned> {
    let block = SignalBlock::new();
    let ctx = new_ctx(plan, mask_bits(&block.old), -1, Handlers::Shared);
    marks::spawn_fast_mark_clone(0);
    // SAFETY: vfork suspends us until the child execs or exits; the stub makes the child call
    // child_entry below our frame and exit without returning; ctx stays alive in this frame;
    // every signal is blocked so no handler can run in the child on our memory.
    let ret = unsafe { spawn_fast_vfork_run(child_entry, &ctx as *const _ as *mut _) };
    drop(block);
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    finish(
        ret as libc::pid_t,
        None,
        ctx.err.load(Ordering::Acquire),
        need_pidfd,
    )
}
