//! The strategies that create a direct child of the caller. Each takes a prepared `RawPlan`
//! and returns the child's pid and pidfd, or the errno of the failed step (exec included).

mod clone3;
mod fork;
mod posix;
mod vfork;

use crate::child_exec::{ChildCtx, Handlers};
use crate::raw_plan::RawPlan;
use crate::strategy::Strategy;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};

pub(crate) use clone3::clone3_supported;

/// A running direct child: pid, and its pidfd when one had to be made at once (see
/// `Child`'s docs on when the pidfd is opened).
pub(crate) struct Spawned {
    pub pid: libc::pid_t,
    pub pidfd: Option<OwnedFd>,
}

/// Spawns with a concrete direct strategy (not `Zygote`, not `Auto`). The child comes with a
/// pidfd when the caller needs one (`want_pidfd`) or when the kernel reaps children by itself:
/// then the pid may name a stranger as soon as the child exits, so the pidfd must be born with
/// the child (CLONE_PIDFD, or glibc's `pidfd_spawn`), never opened from the pid afterwards.
/// Otherwise `Child` opens it on first use.
pub(crate) fn spawn_direct(
    strategy: Strategy,
    plan: &RawPlan,
    want_pidfd: bool,
) -> io::Result<Spawned> {
    let autoreaped = crate::sys::children_autoreaped();
    let need_pidfd = want_pidfd || autoreaped;
    match strategy {
        Strategy::Fork => fork::spawn(plan, need_pidfd),
        Strategy::Vfork => vfork::spawn(plan, need_pidfd),
        Strategy::PosixSpawn => posix::spawn(plan, need_pidfd, autoreaped),
        Strategy::Clone3 => clone3::spawn(plan, need_pidfd),
        Strategy::Zygote | Strategy::Warm | Strategy::Auto => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "spawn_direct takes a direct strategy",
        )),
    }
}

/// Auto for direct children: clone3 when the kernel (or a seccomp filter) allows it, else vfork.
pub(crate) fn auto_direct() -> Strategy {
    if clone3_supported() {
        Strategy::Clone3
    } else {
        Strategy::Vfork
    }
}

/// The first 64 signals of a glibc sigset_t: the kernel's mask on x86_64.
pub(crate) fn mask_bits(set: &libc::sigset_t) -> u64 {
    // SAFETY: sigset_t is 128 bytes of plain data; its first 8 bytes are the kernel mask.
    unsafe { std::ptr::read_unaligned(set as *const libc::sigset_t as *const u64) }
}

pub(crate) fn new_ctx<'a>(
    plan: &'a RawPlan<'a>,
    parent_mask: u64,
    err_fd: i32,
    handlers: Handlers,
) -> ChildCtx<'a> {
    ChildCtx {
        plan,
        parent_mask,
        err_fd,
        err: std::sync::atomic::AtomicI32::new(0),
        handlers,
    }
}

/// Reaps a child that failed to exec, so that the error path leaves no zombie.
pub(crate) fn reap_failed(pid: libc::pid_t) {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; status is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Result of a spawn whose child reported `errno` (0 = exec succeeded); `pidfd` is the one
/// born with the child, if it was asked for.
pub(crate) fn finish(pid: libc::pid_t, pidfd: Option<OwnedFd>, errno: i32) -> io::Result<Spawned> {
    if errno != 0 {
        reap_failed(pid);
        return Err(io::Error::from_raw_os_error(errno));
    }
    Ok(Spawned { pid, pidfd })
}

/// The pidfd slot a clone call filled: the kernel writes a fresh fd there with CLONE_PIDFD and
/// leaves the initial -1 otherwise.
fn born_pidfd(raw: libc::c_int) -> Option<OwnedFd> {
    // SAFETY: a non-negative value was stored by the kernel for us alone to own.
    (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Caches a yes/no probe: 0 unknown, 1 yes, 2 no.
pub(crate) struct Probe(AtomicU8);

impl Probe {
    pub(crate) const fn new() -> Self {
        Probe(AtomicU8::new(0))
    }
    pub(crate) fn get(&self, probe: impl FnOnce() -> bool) -> bool {
        match self.0.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => {
                let yes = probe();
                self.0.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                yes
            }
        }
    }
    pub(crate) fn set(&self, yes: bool) {
        self.0.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
    }
}
