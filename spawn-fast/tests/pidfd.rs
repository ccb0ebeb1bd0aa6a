//! The pidfd is opened on first use, not at spawn, except when the process reaps children
//! automatically. One test function: it switches SIGCHLD to SIG_IGN for the whole process, so
//! no other test may create children in this binary.

mod common;

use spawn_fast::{Command, Strategy};
use std::os::fd::AsRawFd;
use std::time::Duration;

fn pidfd_pid(fd: i32) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
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
    // pidfd must exist from the spawn on; it still names the exited child afterwards.
    // SAFETY: process-wide disposition change; this binary runs only this test.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    for &s in &direct {
        let c = Command::new("/bin/true").strategy(s).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let fd = c.pidfd().unwrap_or_else(|e| panic!("{s}: no pidfd: {e}"));
        assert_eq!(
            pidfd_pid(fd.as_raw_fd()),
            Some(-1),
            "{s}: the exited child, no other"
        );
    }
    // SAFETY: restores the default disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
}
