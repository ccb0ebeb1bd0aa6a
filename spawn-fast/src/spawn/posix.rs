//! glibc posix_spawn: what std uses. The plan is translated into file actions and attributes.
//!
//! A pidfd born with the child needs glibc's `pidfd_spawn` (glibc 2.39+), looked up at run
//! time so that one binary works with older and newer glibc. Without it a pidfd can only be
//! opened from the pid afterwards, which is safe while the child is our unreaped child but a
//! race when the kernel reaps children automatically (the pid may already name a stranger):
//! then this strategy refuses with `ErrorKind::Unsupported` instead of racing.

use super::{Spawned, finish};
use crate::raw_plan::{F_GID, F_PGROUP, F_RESET_SIGNALS, F_SETSID, F_SIGMASK, F_UID, RawPlan};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::OnceLock;

/// Owns the glibc objects so that every early return destroys them.
struct Actions(libc::posix_spawn_file_actions_t);
struct Attr(libc::posix_spawnattr_t);

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised in `spawn` before this guard was built.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}
impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `spawn` before this guard was built.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

type SpawnFn = unsafe extern "C" fn(
    *mut libc::c_int,
    *const libc::c_char,
    *const libc::posix_spawn_file_actions_t,
    *const libc::posix_spawnattr_t,
    *const *mut libc::c_char,
    *const *mut libc::c_char,
) -> libc::c_int;
type GetPidFn = unsafe extern "C" fn(libc::c_int) -> libc::pid_t;

/// glibc's `pidfd_spawn` and `pidfd_getpid` (2.39+), when the running glibc has them.
fn pidfd_spawn_fns() -> Option<(SpawnFn, GetPidFn)> {
    static FNS: OnceLock<Option<(SpawnFn, GetPidFn)>> = OnceLock::new();
    *FNS.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and NUL-terminated names only looks symbols up.
        let (spawn, getpid) = unsafe {
            (
                libc::dlsym(libc::RTLD_DEFAULT, c"pidfd_spawn".as_ptr()),
                libc::dlsym(libc::RTLD_DEFAULT, c"pidfd_getpid".as_ptr()),
            )
        };
        if spawn.is_null() || getpid.is_null() {
            return None;
        }
        // SAFETY: glibc documents exactly these prototypes for the two symbols.
        unsafe {
            Some((
                std::mem::transmute::<*mut libc::c_void, SpawnFn>(spawn),
                std::mem::transmute::<*mut libc::c_void, GetPidFn>(getpid),
            ))
        }
    })
}

pub(super) fn spawn(plan: &RawPlan, need_pidfd: bool, autoreaped: bool) -> io::Result<Spawned> {
    if plan.flags & (F_UID | F_GID) != 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "posix_spawn cannot change uid/gid; use another strategy",
        ));
    }
    let pidfd_spawn = if need_pidfd { pidfd_spawn_fns() } else { None };
    if autoreaped && pidfd_spawn.is_none() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "children are reaped automatically (SIGCHLD ignored or SA_NOCLDWAIT) and this \
             glibc has no pidfd_spawn (2.39+), so posix_spawn cannot name its child safely; \
             use another strategy",
        ));
    }
    // SAFETY: init functions fully initialise the objects; the guards destroy them.
    let mut fa = Actions(unsafe {
        let mut fa = MaybeUninit::uninit();
        check(libc::posix_spawn_file_actions_init(fa.as_mut_ptr()))?;
        fa.assume_init()
    });
    // SAFETY: as above.
    let mut attr = Attr(unsafe {
        let mut a = MaybeUninit::uninit();
        check(libc::posix_spawnattr_init(a.as_mut_ptr()))?;
        a.assume_init()
    });
    let fa_p = &mut fa.0 as *mut libc::posix_spawn_file_actions_t;
    let at_p = &mut attr.0 as *mut libc::posix_spawnattr_t;
    let mut flags: libc::c_int = libc::POSIX_SPAWN_SETSIGDEF;

    // SAFETY: (whole block) every call gets the initialised objects above and plain values or
    // NUL-terminated strings owned by the plan.
    unsafe {
        let mut def: libc::sigset_t = std::mem::zeroed();
        if plan.flags & F_RESET_SIGNALS != 0 {
            libc::sigfillset(&mut def);
        } else {
            libc::sigemptyset(&mut def);
            libc::sigaddset(&mut def, libc::SIGPIPE);
        }
        check(libc::posix_spawnattr_setsigdefault(at_p, &def))?;
        if plan.flags & F_SIGMASK != 0 {
            let mut m: libc::sigset_t = std::mem::zeroed();
            std::ptr::write_unaligned(&mut m as *mut libc::sigset_t as *mut u64, plan.sigmask);
            check(libc::posix_spawnattr_setsigmask(at_p, &m))?;
            flags |= libc::POSIX_SPAWN_SETSIGMASK;
        }
        if plan.flags & F_PGROUP != 0 {
            check(libc::posix_spawnattr_setpgroup(at_p, plan.pgroup))?;
            flags |= libc::POSIX_SPAWN_SETPGROUP;
        }
        if plan.flags & F_SETSID != 0 {
            flags |= libc::POSIX_SPAWN_SETSID as libc::c_int;
        }
        check(libc::posix_spawnattr_setflags(at_p, flags as libc::c_short))?;

        // Mirror the child side: move clashing sources above every target first.
        let above = plan.fd_ops.iter().map(|o| o.dst).max().unwrap_or(2) + 1;
        let mut tmp = above;
        for op in plan.fd_ops.iter().filter(|o| o.relocate) {
            check(libc::posix_spawn_file_actions_adddup2(fa_p, op.src, tmp))?;
            tmp += 1;
        }
        tmp = above;
        for op in plan.fd_ops {
            let src = if op.relocate {
                tmp += 1;
                tmp - 1
            } else {
                op.src
            };
            // glibc >= 2.29 clears FD_CLOEXEC when src == dst, as POSIX now requires.
            check(libc::posix_spawn_file_actions_adddup2(fa_p, src, op.dst))?;
        }
        for fd in above..tmp {
            check(libc::posix_spawn_file_actions_addclose(fa_p, fd))?;
        }
        for &(lo, hi) in plan.close_gaps {
            if hi == u32::MAX {
                check(libc::posix_spawn_file_actions_addclosefrom_np(
                    fa_p,
                    lo as libc::c_int,
                ))?;
            } else {
                for fd in lo..=hi {
                    check(libc::posix_spawn_file_actions_addclose(
                        fa_p,
                        fd as libc::c_int,
                    ))?;
                }
            }
        }
        if plan.cwd_fd >= 0 {
            check(libc::posix_spawn_file_actions_addfchdir_np(
                fa_p,
                plan.cwd_fd,
            ))?;
        }
        if !plan.cwd.is_null() {
            check(libc::posix_spawn_file_actions_addchdir_np(fa_p, plan.cwd))?;
        }
    }

    let argv = plan.argv as *const *mut libc::c_char;
    let envp = plan.envp as *const *mut libc::c_char;
    if let Some((spawn_fn, getpid_fn)) = pidfd_spawn {
        let mut pidfd: libc::c_int = -1;
        // SAFETY: as for posix_spawn below; pidfd_spawn stores a new fd in `pidfd`.
        check(unsafe { spawn_fn(&mut pidfd, plan.path, fa_p, at_p, argv, envp) })?;
        // SAFETY: the fd was just created for us by pidfd_spawn.
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        // SAFETY: plain call on an fd we own.
        let pid = unsafe { getpid_fn(std::os::fd::AsRawFd::as_raw_fd(&pidfd)) };
        if pid <= 0 {
            return Err(io::Error::last_os_error());
        }
        return finish(pid, Some(pidfd), 0);
    }
    let mut pid: libc::pid_t = 0;
    // SAFETY: path/argv/envp are NUL-terminated data owned by the plan; fa/attr are initialised.
    check(unsafe { libc::posix_spawn(&mut pid, plan.path, fa_p, at_p, argv, envp) })?;
    // Not reaped automatically (checked above), so the pid names our own child until we wait:
    // opening the pidfd from it now is safe.
    let pidfd = if need_pidfd {
        match crate::sys::pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(e) => {
                // SAFETY: signals our own, unreaped child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                super::reap_failed(pid);
                return Err(e);
            }
        }
    } else {
        None
    };
    finish(pid, pidfd, 0)
}
