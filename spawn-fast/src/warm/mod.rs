//! Warm templates: spawn a dynamically linked glibc program without exec and without the
//! dynamic loader, by forking an image of it that was parked just before `main`.
//!
//! # How
//!
//! The first spawn of a program starts it once as an **image**: a direct child of the caller,
//! in its own process group, with a small preloaded library (`preload.c`, built by build.rs,
//! written once to a private file) that interposes glibc's `__libc_start_main`. The image parks
//! there: ld.so has mapped and relocated every library and run their constructors; the
//! program's own constructors and `main` have not run. It greets the caller on a unix socket
//! and waits. Each spawn sends a request (argv, environment, cwd, fds as SCM_RIGHTS, umask,
//! signal mask and ignored signals, process group/session, uid/gid, CPU affinity, nice, and the
//! write end of a reply pipe); the image makes the child with `clone3(CLONE_PARENT |
//! CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)` (plus `CLONE_PIDFD` when the caller needs the
//! pidfd born with the child), the child applies the request exactly as exec would leave it
//! (only the requested fds survive, caught handlers are default, ignored signals are the
//! caller's, `environ`/`program_invocation_name`/`_short_name` and, with
//! CONFIG_CHECKPOINT_RESTORE, `/proc/self/cmdline` and `/proc/self/environ` show the new
//! command; `/proc/self/comm` is the program file's name, as exec sets it), writes its report
//! (errno 0) on the reply pipe and continues into the real `__libc_start_main`, which runs the
//! program's constructors and `main` with the new argv and environment. A failed step (a bad
//! cwd, ...) is reported with its errno and comes back as the spawn's error, with the failed
//! child reaped, as with exec.
//!
//! **Hot path.** What a spawn costs besides the fork and the program itself, and how it is kept
//! small (each measured with perf/strace on a 2-core VM):
//! - one wake-up of the caller: it sleeps on the reply pipe, which only the child writes (the
//!   image's answer, with the pid, is read afterwards without sleeping, and the image waits with
//!   `poll(POLLIN)`, so the caller reading that answer does not wake it);
//! - the image does everything it can before the fork (the argv/envp/auxv layout, the nice,
//!   affinity and umask comparisons), so the child only reads those pages; the image's own
//!   per-request writes (header and fds in one page-aligned struct, payload and pointers on
//!   either side of one page boundary under one page-table page) stay in a few pages, since
//!   after every fork each page the image writes is copied again;
//! - the preload library is linked with `-z now`: children never run ld.so's lazy-binding
//!   resolver for its calls;
//! - measured and dropped: giving the image's read-only file mappings an anon_vma (a forced
//!   write through `/proc/self/mem`), so that fork copies the page-table entries of the code
//!   the image has mapped, halves the children's page faults (43 -> 20 for `/bin/true`) but
//!   makes each fork copy ~400 more entries and ~12 more anon_vmas: no gain in CPU or
//!   latency beyond the noise, so children fault their code in themselves;
//! - the caller's context check reads `/proc/thread-self/status` and `cgroup` through fds kept
//!   open (pread, one reused buffer) and the 16 rlimits; `/proc/self/fd` is listed through a
//!   kept directory fd (rewound, raw getdents64).
//!
//! Measured 2026-12-02 on the 2-core VM, loaded by other work (load average 5-12; other
//! sessions' eBPF probes on page faults and syscalls made both slower):
//! `cargo run --release -p spawn-fast --example warm_bench -- --runs 5 --count 100 --pool 2`
//! gives, median spawn+wait interleaved with posix_spawn+exec, `/bin/true` 1.8-1.9x faster and
//! a geometric mean of 1.6-1.8x over 25 programs of the equivalence corpus. CPU per spawn
//! (caller + image + child, `perf stat`): `/bin/true` 250-306 µs warm against 565-655 µs,
//! `ls /` 560-640 against 950-1050, `python3 -V` 475-500 against 930-1000. Of a warm
//! `/bin/true`, the child takes ~55% (page faults: it faults in the code it runs, and copies
//! each page it writes; then its exit), the image ~30% (the fork: dup_mmap, 60-90 µs), the
//! caller ~15% (checks and ~60 syscalls). For scale, a small C program's plain fork, `_exit`
//! and wait costs ~100 µs here, with glibc's `exit()` ~140 µs, and its posix_spawn of
//! `/bin/true` ~590 µs on an idle machine: that bounds what any fork-based design reaches.
//!
//! **Pool** ([`WarmTemplate::with_pool`]): N children forked ahead, each waiting for its
//! request on its own socket (the caller holds the other end and the child's pidfd, both
//! announced by the image on a pool socket). A spawn sends its request straight to one of them:
//! no fork and no image on its path; once the child has reported, it tells the image, which
//! forks a replacement in the background. Measured on the loaded VM: `spawn` returns 80-130 µs
//! sooner (`/bin/true`: ~210-300 µs instead of ~340-390 µs, `warm_loop` example), but
//! spawn+wait is no faster, because the replacement's fork competes with the child's run and
//! exit for the same 2 cores, and a pooled spawn costs ~20% more CPU in all (a socket pair per
//! child, one more message and wake-up). It pays off when the caller waits on latency to
//! `main` and a core is free.
//! A pool child killed from outside is found dead by the spawn that picks it, which then uses
//! the next one (a child that never reported never reached `main`) and asks for a replacement.
//!
//! # Why CLONE_PARENT and not a relay
//!
//! The child must be the caller's own child: `wait`, `waitpid(-1)`, `getppid()`, SIGCHLD, the
//! pidfd (born with the child: the image receives it from CLONE_PIDFD and passes it on),
//! kill, and automatic reaping under `SIGCHLD = SIG_IGN` then behave exactly as with every
//! other strategy, and nothing has to forward statuses or signals. A relay (plain fork in the
//! image) would make the image the parent: `getppid()` would be wrong, the caller could not
//! `waitpid` it, statuses would be lost if the image died. The costs of CLONE_PARENT, and how
//! they are met:
//! - it gives the caller's child only while the image is the caller's direct child: images are
//!   started by the caller with a direct strategy, and a forked copy of the caller (another pid)
//!   never uses its parent's images; it starts its own;
//! - the exit signal is the image leader's (SIGCHLD, as every strategy starts it with);
//! - clone3 needs `exit_signal == 0` with CLONE_PARENT, and fails with EINVAL if the image is
//!   a pid namespace's init (it never is: it is the caller's child);
//! - a raw clone skips glibc's fork bookkeeping. The image is single-threaded (checked at the
//!   park) and holds no lock, so glibc's locks are free in the child; glibc's cached tid is
//!   written by the kernel (CLONE_CHILD_SETTID at the address glibc registered, found with
//!   `PR_GET_TID_ADDRESS`, and CLONE_CHILD_CLEARTID as fork does); the robust-futex list, which
//!   the kernel does not give a new task, is registered again. glibc's atfork handlers do not
//!   run (nothing registered before main has anything to hand over).
//!
//! # Scope (refused with a clear error under `Strategy::Warm`; `Auto` never picks Warm)
//!
//! Dynamically linked x86_64 glibc programs only. Static programs, scripts, non-glibc programs,
//! set-user/group-ID programs and programs with file capabilities are refused before anything
//! runs ([`WarmError`], `io::ErrorKind::Unsupported`); an image that has more than one thread
//! at the park is refused; a program file that changed since it was parked (dev, inode, size,
//! mtime of what the path names now) fails with [`WarmError::ProgramChanged`] and the image is
//! dropped. Exec errors keep their errno (ENOENT, EACCES, ENOEXEC, E2BIG).
//!
//! **Environment key**: the variables that ld.so, libc or library constructors may read
//! before `main` (`LD_*`, `GLIBC_TUNABLES`, `MALLOC_*`, `LC_*`, `LANG`, `LANGUAGE`, `LOCPATH`,
//! `GCONV_PATH`) are the only environment the image starts with. `Command` + `Strategy::Warm`
//! keeps one image per (program, key) in a small process-wide cache (at most 16); a
//! [`WarmTemplate`] refuses a spawn whose key differs ([`WarmError::EnvMismatch`]).
//!
//! **Process context**: credentials, capabilities, no_new_privs, seccomp, rlimits, session and
//! cgroup are inherited by the image when it starts; they are compared with the caller's at
//! every spawn and the image is restarted when they differ. Namespaces are the caller's as they
//! were when the image started (only the caller itself can change them: after `unshare` or
//! `setns`, drop templates and call [`clear_cache`]).
//!
//! # Trade-offs (as with Android's zygote)
//!
//! Children of one image share its address-space layout (ASLR), stack canary, pointer guard
//! and `AT_RANDOM` bytes; library constructors ran once, in the image, with only the keyed
//! environment (a library that seeds a random generator in a constructor gives every child the
//! same seed); the preload library stays mapped in every child (it defines nothing but
//! `__libc_start_main`); the parked image costs one idle process per program. The caller's
//! other non-close-on-exec fds are passed by enumerating `/proc/self/fd` (use
//! `close_other_fds` to skip that; at most 240 fds per spawn). Each spawn also reads
//! `/proc/thread-self/status` and `cgroup` and the 16 rlimits (~18 µs) to check the context:
//! umask and ignored signals have no other reader, and bounding set, ambient capabilities and
//! seccomp filters none for a caller with CAP_SETPCAP or under seccomp, so cheaper syscalls
//! (getresuid, capget, prctl) would not remove the read. The pool children are more idle
//! processes of the caller's, like the image (see [`WarmTemplate::with_pool`]).
//!
//! # Robustness
//!
//! Images live in their own process group (Ctrl-C does not kill them) and exit when the
//! caller's end of the socket closes. A bad request gets one error and the image serves on;
//! a dead image is restarted at the next spawn (a request is never sent twice once the image
//! may have read it). EINTR and partial transfers are handled on both sides.

mod context;
mod elf;
mod image;
mod preload;
mod request;
mod template;
mod wire;

pub use template::WarmTemplate;

pub(crate) use image::Image;

use crate::plan::Program;
use crate::raw_plan::RawPlan;
use crate::spawn::Spawned;
use std::io;
use std::sync::{Arc, Mutex};

/// Why a warm spawn could not be done.
#[derive(Debug, thiserror::Error)]
pub enum WarmError {
    /// The program (path) is statically linked: there is no loader to park in.
    #[error(
        "{0}: a statically linked program cannot be parked (Strategy::Warm needs glibc's ld.so)"
    )]
    Static(String),
    /// The program (path) is a `#!` script.
    #[error("{0}: a script cannot be parked (Strategy::Warm runs ELF programs only)")]
    Script(String),
    /// The program (path) is not a dynamically linked glibc program (why).
    #[error("{0}: not a dynamically linked glibc program ({1})")]
    NotGlibc(String, String),
    /// The program (path) is set-user-ID or set-group-ID.
    #[error("{0}: set-user-ID or set-group-ID programs are not parked")]
    SetId(String),
    /// The program (path) has file capabilities.
    #[error("{0}: programs with file capabilities are not parked")]
    FileCaps(String),
    /// The program (path) started threads before `main`.
    #[error("{0}: the program started threads before main; a multi-threaded image cannot fork")]
    Threads(String),
    /// The image of the program (path) exited or failed before parking (what it said).
    #[error("{0}: the image did not park: {1}")]
    NoPark(String, String),
    /// The program file (path) is not the one that was parked (dev, inode, size or mtime).
    #[error("{0}: the program file changed since it was parked")]
    ProgramChanged(String),
    /// The spawn's loader-relevant environment differs from the template's image.
    #[error(
        "environment read before main differs from the parked image's (template {template:?}, spawn {spawn:?})"
    )]
    EnvMismatch {
        /// The template's key (`NAME=value` of the keyed variables).
        template: String,
        /// The spawn's key.
        spawn: String,
    },
    /// A `WarmTemplate` was asked to spawn another program (asked, template's).
    #[error("the command's program {0} is not the template's program {1}")]
    OtherProgram(String, String),
    /// More fds to pass than one request carries.
    #[error("{0} fds to pass; a warm spawn passes at most 240 (use close_other_fds)")]
    TooManyFds(usize),
    /// The image (program path) died while serving the spawn (how).
    #[error("{0}: the warm image died: {1}")]
    ImageDied(String, String),
    /// The preload library could not be written or opened (why).
    #[error("cannot install the warm preload library: {0}")]
    Preload(String),
    /// Any other I/O error on the way.
    #[error(transparent)]
    Io(io::Error),
}

impl From<WarmError> for io::Error {
    fn from(e: WarmError) -> io::Error {
        let kind = match &e {
            WarmError::Io(_) => {
                return match e {
                    WarmError::Io(e) => e,
                    _ => unreachable!(),
                };
            }
            WarmError::Static(_)
            | WarmError::Script(_)
            | WarmError::NotGlibc(..)
            | WarmError::SetId(_)
            | WarmError::FileCaps(_)
            | WarmError::Threads(_)
            | WarmError::NoPark(..)
            | WarmError::EnvMismatch { .. }
            | WarmError::OtherProgram(..) => io::ErrorKind::Unsupported,
            WarmError::TooManyFds(_) => io::ErrorKind::InvalidInput,
            WarmError::ProgramChanged(_) | WarmError::ImageDied(..) | WarmError::Preload(_) => {
                io::ErrorKind::Other
            }
        };
        io::Error::new(kind, e)
    }
}

const CACHE_SIZE: usize = 16;

/// Images for `Command` + `Strategy::Warm`, most recently used last.
static CACHE: Mutex<Vec<Arc<Image>>> = Mutex::new(Vec::new());

fn cached(program: &Arc<Program>, key: Vec<Vec<u8>>) -> Result<Arc<Image>, WarmError> {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let path = program.path.as_bytes();
    if let Some(i) = cache
        .iter()
        .position(|im| im.program.path.as_bytes() == path && im.key == key)
    {
        let im = cache.remove(i);
        cache.push(im.clone());
        return Ok(im);
    }
    let im = Arc::new(Image::new(program.clone(), key)?);
    if cache.len() >= CACHE_SIZE {
        cache.remove(0);
    }
    cache.push(im.clone());
    Ok(im)
}

fn forget(im: &Arc<Image>) {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|c| !Arc::ptr_eq(c, im));
}

/// Spawns `plan` warm: from `image` (a template's) or from the process-wide cache.
/// Like the direct strategies, the pidfd is born with the child when the kernel reaps children
/// by itself (else the `Child` opens one on first use; a pool child's, which exists anyway, is
/// dropped too).
pub(crate) fn spawn(
    program: &Arc<Program>,
    plan: &RawPlan,
    close_others: bool,
    image: Option<&Image>,
) -> io::Result<Spawned> {
    let autoreaped = crate::sys::children_autoreaped();
    let mut s = spawn_from(program, plan, close_others, image, autoreaped)?;
    if !autoreaped {
        s.pidfd = None;
    }
    Ok(s)
}

fn spawn_from(
    program: &Arc<Program>,
    plan: &RawPlan,
    close_others: bool,
    image: Option<&Image>,
    want_pidfd: bool,
) -> io::Result<Spawned> {
    let key = context::env_key(plan.envp);
    if let Some(im) = image {
        if im.key != key {
            return Err(WarmError::EnvMismatch {
                template: show_key(&im.key),
                spawn: show_key(&key),
            }
            .into());
        }
        return Ok(im.spawn(plan, close_others, want_pidfd)?);
    }
    let im = cached(program, key)?;
    match im.spawn(plan, close_others, want_pidfd) {
        Err(e @ WarmError::ProgramChanged(_)) => {
            forget(&im);
            Err(e.into())
        }
        r => Ok(r?),
    }
}

fn show_key(k: &[Vec<u8>]) -> String {
    k.iter()
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Drops every cached image of `Command` + `Strategy::Warm` (their processes exit).
pub fn clear_cache() {
    let images = std::mem::take(&mut *CACHE.lock().unwrap_or_else(|e| e.into_inner()));
    drop(images);
}
