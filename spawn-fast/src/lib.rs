//! Fast, safe process spawning for Linux, with a std-like API.
//!
//! ```no_run
//! use spawn_fast::{Command, Stdio, Strategy};
//! let mut child = Command::new("/bin/true").strategy(Strategy::Auto).stdout(Stdio::Null).spawn()?;
//! assert!(child.wait()?.success());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Strategies
//!
//! | strategy | how | cost grows with parent size? | notes |
//! |---|---|---|---|
//! | `Fork` | `fork` + `execveat` | yes: page tables copied, CoW faults after | the baseline big programs pay for |
//! | `Vfork` | `vfork` + `execveat` | no | the child borrows the parent's stack until exec |
//! | `PosixSpawn` | glibc `posix_spawn` | no (glibc uses `CLONE_VM`) | what std uses; no uid/gid |
//! | `Clone3` | `clone3(CLONE_VM\|CLONE_VFORK\|CLONE_CLEAR_SIGHAND)` on a dedicated per-thread stack + `execveat` on a cached O_PATH fd | no | the kernel resets caught handlers, so the child skips the 64-signal walk |
//! | `Zygote` | a runner process forked once spawns for us; fds pass over a unix socket | no | see [`zygote`] |
//! | `Warm` | fork a parked image of the program (stopped before `main`) with `CLONE_PARENT`: no exec, no dynamic loader | no | dynamically linked glibc programs only; opt-in; see [`warm`] |
//!
//! Every strategy runs the same child-side plan ([`Command`] is turned into argv/envp arrays,
//! an fd plan and flags before the clone), so all of them support the same features, except that
//! `PosixSpawn` cannot change uid/gid (`ErrorKind::Unsupported`).
//!
//! **The `Auto` rule**: `Clone3` when the kernel allows it (probed once; a seccomp filter that
//! answers ENOSYS/EPERM makes it unavailable), otherwise `Vfork`. Both are safe for every request
//! this API can express, because the child only runs prepared, allocation-free, lock-free raw
//! system calls with all signals blocked. `Auto` never picks `Zygote` (it is slower per spawn;
//! choose it explicitly when the caller must never share its address space with a child, e.g.
//! under sanitizers, or when clone-family calls are forbidden in the caller), nor `Fork`, nor
//! `Warm` (its children share the image's ASLR layout and constructor state; see [`warm`]).
//!
//! # Safety between clone and exec
//!
//! The parent blocks every signal around the clone. The child resets caught signals to SIG_DFL
//! (needed when it shares memory; `Clone3` has the kernel do it atomically at clone time with
//! `CLONE_CLEAR_SIGHAND`, Linux 5.5, and falls back to doing it itself), resets SIGPIPE to SIG_DFL
//! (like std) and, on request, every ignored signal; then session/group, fd plan, close-other-fds
//! (`close_range` with `CLOSE_RANGE_CLOEXEC`), cwd, gid/uid (raw syscalls, so only the child's
//! credentials change), the signal mask, and exec. It uses raw `syscall` instructions only: no
//! allocation, no locks, not even libc's `errno`. Exec errors come back as `io::Error` with the
//! child's errno (shared memory for `Clone3`/`Vfork`, a CLOEXEC pipe for `Fork`, glibc for
//! `PosixSpawn`, the zygote's reply for `Zygote`), and the failed child is reaped. NUL bytes are
//! rejected before anything is spawned. Every fd the library opens is O_CLOEXEC.
//!
//! # Program lookup
//!
//! The program is resolved in the parent, like `execvp`: a name with `/` is a path (relative to
//! the caller's cwd, even with `current_dir`), a bare name is searched in the child's `PATH`
//! (the command's own `PATH`, else the caller's, else `/bin:/usr/bin`). The resolved file is held
//! by an O_PATH fd that the `Command` caches for later spawns, so a file replaced on disk after
//! the first spawn is not seen. `#!` scripts work: when exec on the fd fails with ENOENT (the
//! interpreter cannot reopen `/dev/fd/N`), the child execs by path.
//!
//! # pidfd
//!
//! [`Child::pidfd`] opens the pidfd on first use (it costs ~3.5 µs on Linux 6.18, 5% of a small
//! spawn, and most callers only wait); `kill`/`signal` go through it. This is race-free while
//! the child is ours and unreaped. When the process reaps children automatically (SIGCHLD
//! ignored, SA_NOCLDWAIT) a child's pid may name a stranger as soon as it exits, so the pidfd
//! is born with the child instead, never opened from the pid: `Clone3` passes `CLONE_PIDFD`;
//! `Fork` and `Vfork` make the plain clone syscall with `CLONE_PIDFD` (for `Fork` that skips
//! glibc's fork handlers in the child, harmless because the child only runs raw system calls
//! before exec); `PosixSpawn` uses glibc's `pidfd_spawn` (2.39+) and, on an older glibc, fails
//! with `ErrorKind::Unsupported` rather than race; `Zygote` children are the zygote's, which
//! does not reap automatically. `wait` on an automatically reaped child fails with ECHILD, as
//! with std; the pidfd still reports its exit (readable).
//!
//! # Drop
//!
//! Dropping a [`Child`] never blocks and never kills it, and leaves no zombie: an exited child
//! is reaped at once, a running one is handed to a background reaper thread (one per process,
//! waiting on an epoll set of pidfds). `Zygote` children are reaped by the zygote.
//!
//! # Templates
//!
//! [`Template`] prepares a command once; spawning from it allocates nothing (`Fork`, `Vfork`,
//! `Clone3`, `Auto`).
//!
//! # Probe marks and timestamps
//!
//! [`marks`] has the `#[no_mangle]` functions `spawn_fast_mark_enter`, `spawn_fast_mark_clone`
//! and `spawn_fast_mark_return` for uprobes, and [`Child::timing`] gives CLOCK_MONOTONIC
//! timestamps (API entry, spawn return, reap) that line up with `bpf_ktime_get_ns()`.
//!
//! # Limits
//!
//! x86_64 Linux only (the clone3/vfork stubs are x86_64 assembly). At most 64 fd mappings may
//! have a source that is another mapping's target. With `PosixSpawn`, such swaps go through
//! temporary fds just above the highest target, which replaces an inherited fd at those numbers.

mod child;
mod child_exec;
mod command;
mod fdpass;
mod plan;
mod raw_plan;
mod reaper;
mod spawn;
mod strategy;
mod sys;
mod template;
mod wait;

pub mod bench;
pub mod children;
pub mod marks;
pub mod warm;
pub mod zygote;

pub use child::{Child, ExitStatus, Output};
pub use command::{Command, Stdio};
pub use marks::Timing;
pub use strategy::{ParseStrategyError, Strategy};
pub use sys::monotonic_ns;
pub use template::Template;
pub use warm::{WarmError, WarmTemplate};
