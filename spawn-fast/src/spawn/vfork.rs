//! vfork + execve: the child borrows the parent's stack until it execs. When the child needs
//! a pidfd at birth, the same thing is asked of the plain clone syscall
//! (`CLONE_VM | CLONE_VFORK | CLONE_PIDFD`), which vfork cannot take.

use super::{Spawned, born_pidfd, finish, mask_bits, new_ctx};
use crate::child_exec::{Handlers, child_entry};
use crate::raw_plan::RawPlan;
use crate::sys::{SignalBlock, spawn_fast_clone_run, spawn_fast_vfork_run};
use std::io;
use std::sync::atomic::Ordering;

pub(super) fn spawn(plan: &RawPlan, need_pidfd: bool) -> io::Result<Spawned> {
    let block = SignalBlock::new();
    let ctx = new_ctx(plan, mask_bits(&block.old), -1, Handlers::Shared);
    let mut pidfd: libc::c_int = -1;
    let ret = if need_pidfd {
        let flags = (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD) as u64;
        // SAFETY: as for vfork below: CLONE_VFORK suspends us until the child execs or exits,
        // the child runs child_entry below our frame and exits in the stub, ctx and pidfd stay
        // alive in this frame, every signal is blocked.
        unsafe { spawn_fast_clone_run(flags, &mut pidfd, child_entry, &ctx as *const _ as *mut _) }
    } else {
        // SAFETY: vfork suspends us until the child execs or exits; the stub makes the child
        // call child_entry below our frame and exit without returning; ctx stays alive in this
        // frame; every signal is blocked so no handler can run in the child on our memory.
        unsafe { spawn_fast_vfork_run(child_entry, &ctx as *const _ as *mut _) }
    };
    drop(block);
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    finish(
        ret as libc::pid_t,
        born_pidfd(pidfd),
        ctx.err.load(Ordering::Acquire),
    )
}
