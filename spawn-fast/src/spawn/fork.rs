//! fork + execve: the baseline, whose cost grows with the parent's page tables.
//!
//! Without a pidfd this is glibc's `fork()`, so the baseline includes what glibc's fork does
//! (atfork handlers, malloc and stdio locks taken around the clone). When the child needs a
//! pidfd at birth, glibc's fork cannot give one, so the plain clone syscall is made directly
//! (`SIGCHLD | CLONE_PIDFD`). That skips glibc's fork bookkeeping in the child: no atfork
//! handlers, the thread descriptor keeps the parent's cached tid, no robust-list
//! re-registration. The child never needs any of it: it only runs `child_entry`'s raw system
//! calls and then execs or exits, and it neither takes locks nor asks glibc for its tid.

use super::{Spawned, born_pidfd, finish, mask_bits, new_ctx};
use crate::child_exec::Handlers;
use crate::child_exec::child_entry;
use crate::raw_plan::RawPlan;
use crate::sys::{SignalBlock, cvt, pipe_cloexec, spawn_fast_clone_run};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub(super) fn spawn(plan: &RawPlan, need_pidfd: bool) -> io::Result<Spawned> {
    let (rd, wr) = pipe_cloexec()?;
    // The child's dup2s must not land on the error pipe: move it above every target.
    let above = plan.fd_ops.iter().map(|o| o.dst).max().unwrap_or(2) + 1;
    let wr = if wr.as_raw_fd() < above {
        // SAFETY: duplicates an fd we own; the result is checked.
        let fd = cvt(unsafe { libc::fcntl(wr.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above) })?;
        drop(wr);
        // SAFETY: fresh fd from fcntl.
        unsafe { OwnedFd::from_raw_fd(fd) }
    } else {
        wr
    };
    let block = SignalBlock::new();
    let ctx = new_ctx(
        plan,
        mask_bits(&block.old),
        wr.as_raw_fd(),
        Handlers::Private,
    );
    let mut pidfd: libc::c_int = -1;
    let pid = if need_pidfd {
        let flags = (libc::SIGCHLD | libc::CLONE_PIDFD) as u64;
        // SAFETY: without CLONE_VM the child runs child_entry on its own copy of this frame
        // (ctx included) and exits in the stub, never returning here; the flags carry none of
        // the tid/tls options the stub does not support.
        let ret = unsafe {
            spawn_fast_clone_run(flags, &mut pidfd, child_entry, &ctx as *const _ as *mut _)
        };
        if ret < 0 {
            drop(block);
            return Err(io::Error::from_raw_os_error(-ret as i32));
        }
        ret as libc::pid_t
    } else {
        // SAFETY: fork has no memory-safety preconditions; the child branch below only runs
        // async-signal-safe raw syscalls (child_entry) and then _exit, never returning.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: ctx is our private copy of the parent's frame; child_entry never unwinds.
            unsafe {
                let code = child_entry(&ctx as *const _ as *mut _);
                libc::_exit(code)
            }
        }
        pid
    };
    drop(block);
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    drop(wr);
    let mut buf = [0u8; 4];
    let n = loop {
        // SAFETY: reads at most 4 bytes into a local buffer from our pipe.
        let n = unsafe { libc::read(rd.as_raw_fd(), buf.as_mut_ptr().cast(), 4) };
        if n >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    let errno = if n == 4 { i32::from_ne_bytes(buf) } else { 0 };
    finish(pid, born_pidfd(pidfd), errno)
}
