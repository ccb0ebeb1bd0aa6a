//! clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) on a dedicated per-thread child stack.

use super::{Probe, Spawned, finish, mask_bits, new_ctx};
use crate::child_exec::child_entry;
use crate::marks;
use crate::raw_plan::RawPlan;
use crate::sys::{CloneArgs, SignalBlock, spawn_fast_clone3_run};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;

const STACK_SIZE: usize = 256 * 1024;
const PAGE: usize = 4096;

/// A child stack reserved once per thread (only the touched pages cost memory), with a guard
/// page at the bottom so that an overflow faults instead of corrupting the heap.
struct ChildStack {
    base: *mut libc::c_void,
}

impl ChildStack {
    fn new() -> Self {
        // SAFETY: anonymous private mapping with no address hint; result checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return ChildStack {
                base: std::ptr::null_mut(),
            };
        }
        // SAFETY: the first page lies inside the mapping we just created.
        unsafe { libc::mprotect(base, PAGE, libc::PROT_NONE) };
        ChildStack { base }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        if !self.base.is_null() {
            // SAFETY: unmaps exactly the mapping created in `new`; no child can still run on
            // it because CLONE_VFORK makes the parent wait for exec/exit.
            unsafe { libc::munmap(self.base, STACK_SIZE) };
        }
    }
}

thread_local! {
    static STACK: ChildStack = ChildStack::new();
}

static SUPPORTED: Probe = Probe::new();

/// Whether clone3 works here (false under old kernels or seccomp filters returning ENOSYS/EPERM).
pub(crate) fn clone3_supported() -> bool {
    SUPPORTED.get(|| {
        // Probe with invalid arguments: ENOSYS/EPERM mean "filtered", EINVAL means "present".
        let mut args = CloneArgs {
            flags: u64::MAX,
            ..Default::default()
        };
        // SAFETY: the flags are invalid, so the kernel rejects the call before creating a task.
        let r = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, 64usize) };
        let e = io::Error::last_os_error().raw_os_error();
        !(r < 0 && matches!(e, Some(libc::ENOSYS) | Some(libc::EPERM)))
    })
}

pub(super) fn spawn(plan: &RawPlan) -> io::Result<Spawned> {
    STACK.with(|stack| {
        if stack.base.is_null() {
            return Err(io::Error::other("cannot map the clone3 child stack"));
        }
        let block = SignalBlock::new();
        let ctx = new_ctx(plan, mask_bits(&block.old), -1, true);
        let mut pidfd: libc::c_int = -1;
        let mut args = CloneArgs {
            flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD) as u64,
            pidfd: &mut pidfd as *mut libc::c_int as u64,
            exit_signal: libc::SIGCHLD as u64,
            stack: stack.base as u64,
            stack_size: STACK_SIZE as u64,
            ..Default::default()
        };
        marks::spawn_fast_mark_clone(0);
        // SAFETY: args/ctx live in this frame, which CLONE_VFORK keeps alive (we are suspended)
        // until the child has exec'd or exited; the child runs child_entry on its own stack and
        // never returns into our frames; all signals are blocked so no handler runs in it.
        let ret = unsafe {
            spawn_fast_clone3_run(
                &mut args,
                size_of::<CloneArgs>(),
                child_entry,
                &ctx as *const _ as *mut _,
            )
        };
        drop(block);
        if ret < 0 {
            let e = io::Error::from_raw_os_error(-ret as i32);
            if matches!(-ret as i32, libc::ENOSYS | libc::EPERM) {
                SUPPORTED.set(false);
            }
            return Err(e);
        }
        // SAFETY: with CLONE_PIDFD the kernel stored a fresh pidfd that we now own.
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        finish(
            ret as libc::pid_t,
            Some(pidfd),
            ctx.err.load(Ordering::Acquire),
        )
    })
}
