//! The background reaper: children dropped while still running are reaped here when they exit.
//!
//! One thread waits on an epoll set of pidfds; dropping threads add to the set directly
//! (epoll_ctl is thread-safe), so no channel or lock is needed.

use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

static EPOLL: OnceLock<Option<RawFd>> = OnceLock::new();

fn epoll() -> Option<RawFd> {
    *EPOLL.get_or_init(|| {
        // SAFETY: plain syscall; the result is checked.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return None;
        }
        let spawned = std::thread::Builder::new()
            .name("spawn-fast-reaper".into())
            .spawn(move || reap_loop(ep));
        spawned.is_ok().then_some(ep)
    })
}

fn reap_loop(ep: RawFd) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    loop {
        // SAFETY: events is a valid buffer of 64 entries.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        for ev in events.iter().take(n.max(0) as usize) {
            let fd = ev.u64 as RawFd;
            if matches!(crate::wait::waitid(fd, libc::WNOHANG), Ok(None)) {
                continue;
            }
            // SAFETY: fd was handed to us by `adopt` and is closed exactly once, here.
            unsafe {
                libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
                libc::close(fd);
            }
        }
    }
}

/// Takes ownership of a running child's pidfd and reaps the child when it exits.
pub(crate) fn adopt(pidfd: OwnedFd) {
    if let Some(ep) = epoll() {
        let fd = pidfd.into_raw_fd();
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: registers an fd we own with our epoll instance.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } == 0 {
            return;
        }
        // Registration failed, so we still own fd: close it after a blocking reap.
        let _ = crate::wait::waitid(fd, 0);
        // SAFETY: fd is ours (not registered anywhere) and closed once.
        unsafe { libc::close(fd) };
        return;
    }
    // No epoll: a blocking wait on a short-lived thread still leaves no zombie.
    let _ = std::thread::Builder::new().spawn(move || {
        use std::os::fd::AsRawFd;
        let _ = crate::wait::waitid(pidfd.as_raw_fd(), 0);
    });
}
