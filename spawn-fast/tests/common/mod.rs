//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::os::fd::RawFd;

/// Strategies every behaviour case runs against.
pub fn strategies() -> Vec<spawn_fast::Strategy> {
    let mut v = spawn_fast::Strategy::ALL.to_vec();
    v.push(spawn_fast::Strategy::Auto);
    v
}

/// Number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Whether this process has a child in zombie state (not reaped).
pub fn has_zombie() -> bool {
    // SAFETY: siginfo_t is plain data; WNOWAIT leaves any child as it is.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: waitid succeeded (or failed with ECHILD, handled first).
    r == 0 && unsafe { info.si_pid() } != 0
}

/// Puts a non-CLOEXEC duplicate of `fd` at exactly `at`.
pub fn dup_at(fd: RawFd, at: RawFd) {
    // SAFETY: dup2 onto a number reserved by the calling test.
    assert_eq!(unsafe { libc::dup2(fd, at) }, at);
}
