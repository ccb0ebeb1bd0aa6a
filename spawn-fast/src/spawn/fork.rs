//! fork + execve: the baseline, whose cost grows with the parent's page tables.

use super::{Spawned, finish, mask_bits, new_ctx};
use crate::child_exec::Handlers;
use crate::child_exec::child_entry;
use crate::marks;
use crate::raw_plan::RawPlan;
use crate::sys::{SignalBlock, cvt, pipe_cloexec};
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
    marks::spawn_fast_mark_clone(0);
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
    finish(pid, None, errno, need_pidfd)
}
