//! Many spawns, many threads, dropped children: no fd left open, no zombie left behind.
//! One test function, so no other test in this process creates children meanwhile.

mod common;

use spawn_fast::{Command, Stdio, Strategy};
use std::time::{Duration, Instant};

/// Conditions below become true when the background reaper gets CPU time, which a loaded
/// machine may delay by seconds. The deadline only turns a real leak into a failure instead
/// of a hang; it is far beyond any scheduling delay.
const DEADLINE: Duration = Duration::from_secs(120);

/// Polls `done` until it holds, failing with `what()` at the deadline.
fn eventually(mut done: impl FnMut() -> bool, what: impl Fn() -> String) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "{}", what());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_no_zombie() {
    eventually(
        || !common::has_zombie(),
        || "a zombie child was left behind".into(),
    );
}

fn wait_fds(expected: usize) {
    eventually(
        || common::open_fds() == expected,
        || format!("fd leak: {} open, {expected} expected", common::open_fds()),
    );
}

#[test]
fn stress_threads_counts_and_drop() {
    // Warm-up: starts the zygote and the reaper thread (each holds fds for the process
    // lifetime). The warm-up child runs until its stdin closes, so we know exactly when the
    // reaper has its pidfd and when it can let it go.
    spawn_fast::zygote::start().unwrap();
    let mut warm = Command::new("/bin/cat")
        .stdin(Stdio::Piped)
        .stdout(Stdio::Null)
        .spawn()
        .unwrap();
    let stdin = warm.stdin.take().unwrap();
    drop(warm); // still running: the reaper adopts its pidfd
    let with_both = common::open_fds();
    drop(stdin); // cat exits; the reaper reaps it and closes the pidfd
    let base = with_both - 2;
    wait_fds(base);
    wait_no_zombie();

    // Warm parks dynamic programs only; tests/warm.rs stresses it with one.
    for s in common::strategies()
        .into_iter()
        .filter(|&s| s != Strategy::Warm)
    {
        // 16 threads spawning at once.
        let handles: Vec<_> = (0..16)
            .map(|i| {
                std::thread::spawn(move || {
                    for j in 0..20 {
                        let mut c = Command::new("/bin/sh");
                        c.args(["-c", &format!("exit {}", (i + j) % 7)])
                            .strategy(s)
                            .stdout(Stdio::Null);
                        assert_eq!(c.status().unwrap().code(), Some((i + j) % 7), "{s}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }

        // 10 000 spawns of the static child (one Command, so the O_PATH fd is cached).
        let n = if s == Strategy::Fork || s == Strategy::Zygote {
            2_000
        } else {
            10_000
        };
        let mut c = Command::new(spawn_fast::children::EXIT0);
        c.strategy(s);
        for _ in 0..n {
            assert!(c.spawn().unwrap().wait().unwrap().success(), "{s}");
        }
        // Same through a template.
        if s != Strategy::Zygote {
            let t = Command::new(spawn_fast::children::EXIT0)
                .strategy(s)
                .template()
                .unwrap();
            for _ in 0..1000 {
                assert!(t.spawn().unwrap().wait().unwrap().success(), "{s}");
            }
        }
        // Exec failures must reap their child too.
        for _ in 0..100 {
            let e = Command::new("/etc/passwd").strategy(s).spawn().unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{s}");
        }

        // Dropped children: exited ones and running ones, never waited for.
        for _ in 0..20 {
            drop(
                Command::new(spawn_fast::children::EXIT0)
                    .strategy(s)
                    .spawn()
                    .unwrap(),
            );
            drop(
                Command::new("/bin/sleep")
                    .arg("0.05")
                    .strategy(s)
                    .spawn()
                    .unwrap(),
            );
        }
        wait_no_zombie();
        drop(c);
        wait_fds(base);
    }
}
