//! clone3(CLONE_VM | CLONE_VFORK | CLONE_CLEAR_SIGHAND) on a dedicated per-thread child stack
//! (plus CLONE_PIDFD when a pidfd is needed at once, see `spawn_direct`).
//!
//! CLONE_CLEAR_SIGHAND (Linux 5.5) makes the kernel reset every caught handler to SIG_DFL in
//! the new child, atomically with its creation. That is the guarantee a CLONE_VM child needs
//! (no handler may run parent code on the parent's memory), and it replaces the 64-signal
//! walk the child would otherwise do before exec: measured 8.8-21 µs, or 13-27% of a 68 µs
//! static spawn. On 5.3/5.4 kernels the flag is refused with EINVAL once, remembered, and
//! the child resets the handlers itself.

use super::{Probe, Spawned, born_pidfd, finish, mask_bits, new_ctx};
use crate::child_exec::{Handlers, child_entry};
use crate::raw_plan::RawPlan;
use crate::sys::{CloneArgs, SignalBlock, spawn_fast_clone3_run};
use std::io;
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
/// Whether the kernel takes CLONE_CLEAR_SIGHAND; learned from the first spawn.
static CLEAR_SIGHAND: Probe = Probe::new();
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

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

pub(super) fn spawn(plan: &RawPlan, need_pidfd: bool) -> io::Result<Spawned> {
    if CLEAR_SIGHAND.get(|| true) {
        match spawn_with(plan, Handlers::ClearedByKernel, need_pidfd) {
            // EINVAL before any child exists: a kernel older than 5.5 refusing the flag
            // (our other arguments are constant and valid).
            Err(SpawnError::Clone(libc::EINVAL)) => CLEAR_SIGHAND.set(false),
            r => return r.map_err(SpawnError::into_io),
        }
    }
    spawn_with(plan, Handlers::Shared, need_pidfd).map_err(SpawnError::into_io)
}

/// Tells a refused clone (no child) from a child that failed to exec.
enum SpawnError {
    Clone(i32),
    Child(io::Error),
}

impl SpawnError {
    fn into_io(self) -> io::Error {
        match self {
            SpawnError::Clone(errno) => io::Error::from_raw_os_error(errno),
            SpawnError::Child(e) => e,
        }
    }
}

/// The clone3 flags: a pidfd from the kernel only when one is needed at once.
fn clone_flags(handlers: Handlers, need_pidfd: bool) -> u64 {
    let mut flags = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    if handlers == Handlers::ClearedByKernel {
        flags |= CLONE_CLEAR_SIGHAND;
    }
    if need_pidfd {
        flags |= libc::CLONE_PIDFD as u64;
    }
    flags
}

fn spawn_with(plan: &RawPlan, handlers: Handlers, need_pidfd: bool) -> Result<Spawned, SpawnError> {
    STACK.with(|stack| {
        if stack.base.is_null() {
            return Err(SpawnError::Child(io::Error::other(
                "cannot map the clone3 child stack",
            )));
        }
        let block = SignalBlock::new();
        let ctx = new_ctx(plan, mask_bits(&block.old), -1, handlers);
        let mut pidfd: libc::c_int = -1;
        let mut args = CloneArgs {
            flags: clone_flags(handlers, need_pidfd),
            pidfd: &mut pidfd as *mut libc::c_int as u64,
            exit_signal: libc::SIGCHLD as u64,
            stack: stack.base as u64,
            stack_size: STACK_SIZE as u64,
            ..Default::default()
        };
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
            let errno = -ret as i32;
            if matches!(errno, libc::ENOSYS | libc::EPERM) {
                SUPPORTED.set(false);
            }
            return Err(SpawnError::Clone(errno));
        }
        finish(
            ret as libc::pid_t,
            born_pidfd(pidfd),
            ctx.err.load(Ordering::Acquire),
        )
        .map_err(SpawnError::Child)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child_exec::sys;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn flags_follow_handlers_and_pidfd_need() {
        let base = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
        assert_eq!(clone_flags(Handlers::Shared, false), base);
        assert_eq!(
            clone_flags(Handlers::ClearedByKernel, false),
            base | CLONE_CLEAR_SIGHAND
        );
        assert_eq!(
            clone_flags(Handlers::ClearedByKernel, true),
            base | CLONE_CLEAR_SIGHAND | libc::CLONE_PIDFD as u64
        );
    }

    /// The path for kernels without CLONE_CLEAR_SIGHAND (5.3/5.4): the child resets caught
    /// handlers itself, and spawns, exec errors and exit codes work as before.
    #[test]
    fn without_clear_sighand_the_child_resets_handlers_itself() {
        // A file that exists but may not be executed: the error comes from the child's exec.
        // Committed, not written here: other test threads fork while this one runs.
        let noexec = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/noexec.sh");
        CLEAR_SIGHAND.set(false);
        let ok = crate::Command::new("/bin/sh")
            .args(["-c", "exit 7"])
            .strategy(crate::Strategy::Clone3)
            .status();
        let denied = crate::Command::new(noexec)
            .strategy(crate::Strategy::Clone3)
            .spawn();
        CLEAR_SIGHAND.set(true);
        assert_eq!(ok.unwrap().code(), Some(7));
        assert_eq!(denied.unwrap_err().raw_os_error(), Some(libc::EACCES));
    }

    extern "C" fn on_usr2(_: libc::c_int) {}

    /// The child's SIGUSR2 handler as the child sees it, written to shared memory.
    unsafe extern "C" fn report_handler(arg: *mut libc::c_void) -> libc::c_int {
        let mut old = [0usize; 4];
        // SAFETY: reads a disposition into a local buffer of the kernel's sigaction size.
        unsafe {
            sys(
                libc::SYS_rt_sigaction,
                libc::SIGUSR2 as usize,
                0,
                old.as_mut_ptr() as usize,
                8,
                0,
            )
        };
        // SAFETY: arg is the AtomicUsize in the suspended parent's frame (CLONE_VM|CLONE_VFORK).
        unsafe { &*(arg as *const AtomicUsize) }.store(old[0] | 1 << 63, Ordering::Release);
        0
    }

    /// With the production flags, a caught handler in the parent is SIG_DFL in the CLONE_VM
    /// child from its first instruction, and the parent keeps its own handler.
    #[test]
    fn caught_handlers_are_default_in_the_child() {
        // SAFETY: installs a handler that does nothing, for a signal nothing else sends.
        let prev =
            unsafe { libc::signal(libc::SIGUSR2, on_usr2 as *const () as libc::sighandler_t) };
        let seen = AtomicUsize::new(0);
        let ret = STACK.with(|stack| {
            let mut args = CloneArgs {
                flags: clone_flags(Handlers::ClearedByKernel, false),
                exit_signal: libc::SIGCHLD as u64,
                stack: stack.base as u64,
                stack_size: STACK_SIZE as u64,
                ..Default::default()
            };
            // SAFETY: the child only runs report_handler on its own stack and exits; `seen`
            // outlives it because CLONE_VFORK suspends us until it has exited.
            unsafe {
                spawn_fast_clone3_run(
                    &mut args,
                    size_of::<CloneArgs>(),
                    report_handler,
                    &seen as *const _ as *mut _,
                )
            }
        });
        assert!(
            ret > 0,
            "clone3 failed: {}",
            io::Error::from_raw_os_error(-ret as i32)
        );
        crate::spawn::reap_failed(ret as libc::pid_t);
        let child_view = seen.load(Ordering::Acquire);
        assert_ne!(child_view, 0, "the child never ran");
        assert_eq!(
            child_view & !(1 << 63),
            libc::SIG_DFL,
            "handler leaked into the child"
        );
        // SAFETY: restores the previous disposition and returns ours.
        let ours = unsafe { libc::signal(libc::SIGUSR2, prev) };
        assert_eq!(
            ours, on_usr2 as *const () as libc::sighandler_t,
            "parent handler changed"
        );
    }
}
