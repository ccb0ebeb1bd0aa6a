//! The pidfd is opened on first use, not at spawn, except when the process reaps children
//! automatically: then it must be born with the child, or the strategy must refuse.
//! One test function: it switches SIGCHLD to SIG_IGN for the whole process, so no other test
//! may create children in this binary.

mod common;

use spawn_fast::{Command, Stdio, Strategy};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;

/// Children per strategy under automatic reaping: enough that, with the old open-after-spawn
/// code, some exited (and lost their pid) before the pidfd was opened on a loaded machine.
const SHORT_CHILDREN: usize = 150;

/// The pid a pidfd names: the pid, or -1 once that process is gone (fdinfo, Linux 5.10+).
fn pidfd_pid(fd: i32) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Blocks until the process behind `fd` has exited. The timeout only turns a hang into a
/// failure; nothing waits on it for ordering.
fn wait_exited(fd: i32, what: &str) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, 120_000) };
        if r < 0 && std::io::Error::last_os_error().kind() == ErrorKind::Interrupted {
            continue;
        }
        assert_eq!(r, 1, "{what}: the pidfd never reported an exit");
        return;
    }
}

/// Whether the running glibc has `pidfd_spawn` (2.39+), which posix_spawn needs to give a
/// pidfd born with the child.
fn glibc_has_pidfd_spawn() -> bool {
    // SAFETY: a symbol lookup with a NUL-terminated name.
    !unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"pidfd_spawn".as_ptr()) }.is_null()
}

/// A zygote's child is the zygote's to reap: its pid stays allocated (a zombie) after the
/// exit the pidfd reports, until the zygote has reaped it and sent the status we wait for.
/// The kernel reaps direct children by itself here.
fn reaped_by_zygote(s: Strategy, c: &mut spawn_fast::Child) {
    if s == Strategy::Zygote {
        c.wait().unwrap();
    }
}

#[test]
fn pidfd_on_demand_and_under_automatic_reaping() {
    let direct: Vec<Strategy> = common::strategies()
        .into_iter()
        .filter(|&s| s != Strategy::Zygote)
        .collect();

    // Ordinary parent: the pidfd names the child, and signals go through it.
    for &s in &direct {
        let mut c = Command::new("/bin/sleep")
            .arg("10")
            .strategy(s)
            .spawn()
            .unwrap();
        let fd = c.pidfd().unwrap().as_raw_fd();
        assert_eq!(
            pidfd_pid(fd),
            Some(c.id() as i32),
            "{s}: pidfd names the child"
        );
        assert_eq!(c.pidfd().unwrap().as_raw_fd(), fd, "{s}: opened once");
        c.kill().unwrap();
        assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL), "{s}");

        // Never opened, then reaped: there is nothing left to name.
        let mut done = Command::new("/bin/true").strategy(s).spawn().unwrap();
        assert!(done.wait().unwrap().success());
        let e = done.pidfd().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ESRCH), "{s}: {e}");
    }

    // SIGCHLD ignored: the kernel reaps at exit and the pid may be reused at once, so the
    // pidfd must exist from the spawn on and name exactly that child.
    // SAFETY: process-wide disposition change; this binary runs only this test.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    for s in common::strategies() {
        if s == Strategy::PosixSpawn && !glibc_has_pidfd_spawn() {
            let e = Command::new("/bin/true").strategy(s).spawn().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{s}: {e}");
            assert!(e.to_string().contains("pidfd_spawn"), "{s}: {e}");
            continue;
        }
        // A child that runs until we close its stdin: its pidfd names its pid while it lives.
        let mut held = Command::new("/bin/cat")
            .strategy(s)
            .stdin(Stdio::Piped)
            .stdout(Stdio::Null)
            .spawn()
            .unwrap();
        let fd = held.pidfd().unwrap().as_raw_fd();
        assert_eq!(pidfd_pid(fd), Some(held.id() as i32), "{s}: live child");
        drop(held.stdin.take());
        wait_exited(fd, &format!("{s}: held child"));
        reaped_by_zygote(s, &mut held);
        assert_eq!(pidfd_pid(fd), Some(-1), "{s}: the exited child, no other");
        if s != Strategy::Zygote {
            // The kernel took the status with the child, as it does for std's children.
            let e = held.wait().unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ECHILD), "{s}: {e}");
        }

        // Many short children, reaped by the kernel as soon as they exit (their pids are free
        // for reuse at once): every one has a pidfd, and that pidfd reports its exit.
        let mut children: Vec<_> = (0..SHORT_CHILDREN)
            .map(|i| {
                Command::new("/bin/true")
                    .strategy(s)
                    .spawn()
                    .unwrap_or_else(|e| panic!("{s}: spawn {i}: {e}"))
            })
            .collect();
        for (i, c) in children.iter_mut().enumerate() {
            let fd = c
                .pidfd()
                .unwrap_or_else(|e| panic!("{s}: child {i} has no pidfd: {e}"))
                .as_raw_fd();
            let named = pidfd_pid(fd);
            assert!(
                named == Some(c.id() as i32) || named == Some(-1),
                "{s}: child {i} (pid {}) has a pidfd naming {named:?}",
                c.id()
            );
            wait_exited(fd, &format!("{s}: child {i}"));
            reaped_by_zygote(s, c);
            assert_eq!(pidfd_pid(fd), Some(-1), "{s}: child {i} gone");
        }
    }
    // SAFETY: restores the default disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
}
