//! Fast, safe process spawning for Linux, with an API shaped like [`std::process`].
//!
//! Creating a process costs more than it should when the parent is large: `fork` copies the
//! parent's page tables and then makes the parent pay a copy-on-write fault for each page it
//! touches. spawn-fast gives you std's vocabulary ([`Command`], [`Child`], [`Stdio`],
//! [`Output`], [`ExitStatus`]) with a choice of *how* the child is created ([`Strategy`]),
//! picks the fastest way that is safe for your request by default ([`Strategy::Auto`]), and
//! can prepare a command once for many cheap spawns ([`Template`]). What the child runs
//! between the clone and the exec is prepared in the parent and makes raw system calls only
//! (no allocation, no locks), so spawning is safe from a multi-threaded parent with every
//! strategy.
//!
//! # Spawning
//!
//! Run a program and wait for it:
//!
//! ```
//! use spawn_fast::Command;
//!
//! let status = Command::new("/bin/true").status()?;
//! assert!(status.success());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Capture its output ([`Command::output`] pipes stdout and stderr and gives stdin
//! `/dev/null`); arguments, environment and working directory work as in std:
//!
//! ```
//! use spawn_fast::Command;
//!
//! let out = Command::new("sh")
//!     .args(["-c", "echo \"$GREETING from $(pwd)\"; exit 3"])
//!     .env("GREETING", "hello")
//!     .current_dir("/")
//!     .output()?;
//! assert_eq!(out.stdout, b"hello from /\n");
//! assert_eq!(out.status.code(), Some(3));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Talk to a running child through pipes, or stop it; `kill` and `signal` go through the
//! child's pidfd, so they can never hit another process that reused the pid:
//!
//! ```
//! use std::io::{Read, Write};
//! use spawn_fast::{Command, Stdio};
//!
//! let mut child = Command::new("sh")
//!     .args(["-c", "read line; echo \"got $line\""])
//!     .stdin(Stdio::Piped)
//!     .stdout(Stdio::Piped)
//!     .spawn()?;
//! child.stdin.take().unwrap().write_all(b"ping\n")?; // dropped here: the child sees EOF
//! let mut reply = String::new();
//! child.stdout.take().unwrap().read_to_string(&mut reply)?;
//! assert_eq!(reply, "got ping\n");
//! assert!(child.wait()?.success());
//!
//! // A child that would wait forever for input, killed.
//! let mut stuck = Command::new("sh").args(["-c", "read x"]).stdin(Stdio::Piped).spawn()?;
//! stuck.kill()?;
//! assert_eq!(stuck.wait()?.signal(), Some(9)); // SIGKILL
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Errors, including the child's failure to exec, come back from `spawn` as [`std::io::Error`]
//! with the child's errno; the failed child has already been reaped:
//!
//! ```
//! use std::io::ErrorKind;
//! use spawn_fast::Command;
//!
//! let err = Command::new("/no/such/program").spawn().unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::NotFound);
//! ```
//!
//! Pick a strategy explicitly, e.g. to compare them; every strategy supports the same requests
//! (except that `PosixSpawn` cannot change uid/gid):
//!
//! ```
//! use spawn_fast::{Command, Stdio, Strategy};
//!
//! for strategy in [Strategy::Fork, Strategy::Vfork, Strategy::PosixSpawn, Strategy::Auto] {
//!     let out = Command::new("/bin/echo").arg(strategy.name()).strategy(strategy).output()?;
//!     assert_eq!(out.stdout, format!("{strategy}\n").into_bytes());
//! }
//! // Strategies also parse from their names, for command-line flags.
//! assert_eq!("posix-spawn".parse::<Strategy>(), Ok(Strategy::PosixSpawn));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Spawn the same command many times: a [`Template`] resolves the program, opens it and builds
//! the argv/envp arrays and the fd plan once; each spawn then allocates nothing (`Fork`,
//! `Vfork`, `Clone3`, `Auto`). `spawn` takes `&self`, so threads can share one template:
//!
//! ```
//! use spawn_fast::{Command, Stdio, Strategy};
//!
//! let template = Command::new("/bin/true").stdout(Stdio::Null).template()?;
//! // `Auto` is decided when the template is built: Clone3 where the kernel allows it, else Vfork.
//! assert!(matches!(template.strategy(), Strategy::Clone3 | Strategy::Vfork));
//! std::thread::scope(|s| {
//!     let worker = || -> std::io::Result<()> {
//!         for _ in 0..10 {
//!             assert!(template.spawn()?.wait()?.success());
//!         }
//!         Ok(())
//!     };
//!     let workers = [s.spawn(worker), s.spawn(worker)];
//!     workers.into_iter().try_for_each(|w| w.join().expect("worker panicked"))
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Where the time went, without a tracer: [`Child::timing`] gives CLOCK_MONOTONIC timestamps
//! in ns (the clock of `bpf_ktime_get_ns()`, so they line up with kernel events):
//!
//! ```
//! use spawn_fast::Command;
//!
//! let mut child = Command::new("/bin/true").spawn()?;
//! child.wait()?;
//! let t = child.timing();
//! let reaped = t.t_reaped_ns.expect("set by wait"); // None until a wait saw the exit
//! let spawn_ns = t.t_spawned_ns - t.t_enter_ns; // the spawn call itself
//! let life_ns = reaped - t.t_spawned_ns; // exec, the program's run, the reap
//! println!("spawn {spawn_ns} ns, then {life_ns} ns to reap");
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
//! | `Warm` | fork a parked image of the program (stopped before `main`) with `CLONE_PARENT`: no exec, no dynamic loader | no | dynamically linked glibc programs only; opt-in; see [`warm`] and [`WarmTemplate`] |
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
//! # Differences from `std::process`
//!
//! - [`Stdio`] is a `Copy` enum; a caller-owned fd is `Stdio::Fd(fd)`, and any fd can be mapped
//!   into the child with [`Command::map_fd`].
//! - Spawn-specific knobs: [`Command::strategy`], [`Command::setsid`],
//!   [`Command::signal_mask`], [`Command::reset_signals`], [`Command::close_other_fds`].
//! - [`Child::pidfd`] exposes the pidfd; with the `tokio` feature, `Child::wait_async` awaits
//!   the exit on it.
//! - Dropping a [`Child`] leaves no zombie (see [Drop](#drop)).
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
//! # Probe marks and timestamps
//!
//! [`marks`] is the interface spawnprof traces: the exported functions
//! `spawn_fast_mark_enter` and `spawn_fast_mark_return` that every spawn calls, for uprobes,
//! and the [`Timing`] of [`Child::timing`]. A library user never calls the marks; untraced
//! they cost two function calls per spawn.
//!
//! # Cargo features
//!
//! - `tokio`: `Child::wait_async`, an async wait on the pidfd (needs a runtime with IO).
//! - `test-children`: the `children` module, paths of tiny static programs built with this
//!   crate for its tests and spawnprof's benchmarks. Not library API.
//!
//! # Limits
//!
//! x86_64 Linux only (the clone3/vfork stubs are x86_64 assembly). At most 64 fd mappings may
//! have a source that is another mapping's target. With `PosixSpawn`, such swaps go through
//! temporary fds just above the highest target, which replaces an inherited fd at those numbers.
//! A [`Template`] refuses `Stdio::Piped` (a pipe per spawn is not something to prepare once).
#![warn(missing_docs)]

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

// Test and benchmark programs, not library API: behind a feature so `cargo doc` and users do
// not see them; this crate's own unit tests always have them.
#[cfg(any(test, feature = "test-children"))]
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
