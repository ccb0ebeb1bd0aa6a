//! Strategy::Warm and WarmTemplate: the child is the caller's, errors are clear, the image is
//! robust. One test function: it counts fds and zombies of the whole process.

mod common;

use spawn_fast::{Command, Stdio, Strategy, WarmError, WarmTemplate};
use std::io::{ErrorKind, Read};
use std::os::fd::AsRawFd;

fn stat_field(pid: u32, n: usize) -> i64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    after.split(' ').nth(n - 3).unwrap().parse().unwrap()
}

fn pidfd_pid(fd: i32) -> Option<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A copy of /bin/true that this test may change. `cp` writes it in its own process, so no
/// fd of ours is ever open for writing on a file that is exec'd.
fn private_true(name: &str) -> String {
    let p = std::env::temp_dir().join(format!("spawn-fast-warm-{}-{name}", std::process::id()));
    let st = std::process::Command::new("cp")
        .arg("/bin/true")
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    p.to_string_lossy().into_owned()
}

fn child_is_ours_with_pidfd_kill_and_wait() {
    let mut c = Command::new("/bin/sh")
        .args(["-c", "echo $PPID; exec cat"])
        .strategy(Strategy::Warm)
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    let mut line = [0u8; 64];
    let n = c.stdout.as_mut().unwrap().read(&mut line).unwrap();
    let ppid: u32 = std::str::from_utf8(&line[..n])
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(ppid, std::process::id(), "the child's parent is the caller");
    assert_eq!(stat_field(c.id(), 4) as u32, std::process::id());
    // Same process group as the caller (the image has its own).
    // SAFETY: getpgrp has no preconditions.
    assert_eq!(stat_field(c.id(), 5), unsafe { libc::getpgrp() } as i64);
    let fd = c.pidfd().unwrap().as_raw_fd();
    assert_eq!(pidfd_pid(fd), Some(c.id() as i32));
    assert_eq!(c.try_wait().unwrap(), None);
    c.kill().unwrap();
    assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));

    // waitpid by pid works: it is our child.
    let c = Command::new("/bin/sh")
        .args(["-c", "exit 42"])
        .strategy(Strategy::Warm)
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: waits for our own child.
    let r = unsafe { libc::waitpid(c.id() as i32, &mut status, 0) };
    assert_eq!(r, c.id() as i32);
    assert_eq!(libc::WEXITSTATUS(status), 42);
    std::mem::forget(c); // already reaped by hand
}

fn templates_and_images() {
    let mut cmd = Command::new("/usr/bin/env");
    cmd.env_clear().env("SF_T", "1");
    let t = WarmTemplate::new(&cmd).unwrap();
    let image = t.image_pid().unwrap();
    assert_eq!(
        stat_field(image, 5),
        image as i64,
        "image leads its own group"
    );
    let o = t.output().unwrap();
    assert_eq!(
        o.stdout, b"SF_T=1\n",
        "neither the preload nor the control variable"
    );
    // Another command of the same program, other environment (same key).
    let mut other = Command::new("/usr/bin/env");
    other.env_clear().env("SF_U", "2").current_dir("/");
    assert_eq!(t.output_command(&mut other).unwrap().stdout, b"SF_U=2\n");

    // One bad request (a cwd that does not exist) gets one error; the image serves on.
    let mut bad = Command::new("/usr/bin/env");
    bad.env_clear().current_dir("/nonexistent-spawn-fast");
    let e = t.spawn_command(&mut bad).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    assert!(!common::has_zombie(), "the failed child was reaped");
    assert!(t.status().unwrap().success());
    assert_eq!(t.image_pid(), Some(image));

    // A dead image is restarted by the next spawn.
    // SAFETY: kills the image this template started.
    assert_eq!(unsafe { libc::kill(image as i32, libc::SIGKILL) }, 0);
    assert_eq!(t.output().unwrap().stdout, b"SF_T=1\n");
    let new = t.image_pid().unwrap();
    assert_ne!(new, image);
    drop(t);
    assert!(
        !std::path::Path::new(&format!("/proc/{new}")).exists() || {
            // Reaped at drop: a pid that still exists belongs to someone else now.
            stat_field(new, 4) as u32 != std::process::id()
        }
    );
}

fn scope_errors() {
    let e = Command::new(spawn_fast::children::EXIT0)
        .strategy(Strategy::Warm)
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("statically linked"), "{e}");
    let e = WarmTemplate::new(&Command::new(spawn_fast::children::EXIT0)).unwrap_err();
    assert!(matches!(e, WarmError::Static(_)), "{e}");

    // A program file changed after parking: a clear error, never a silent stale image.
    let p = private_true("touched");
    let t = WarmTemplate::new(&Command::new(&p)).unwrap();
    assert!(t.status().unwrap().success());
    let mut c = Command::new(&p);
    c.strategy(Strategy::Warm);
    assert!(c.status().unwrap().success());
    let times = [libc::timespec {
        tv_sec: 1_000_000,
        tv_nsec: 0,
    }; 2];
    let cp = std::ffi::CString::new(p.clone()).unwrap();
    // SAFETY: sets the file's times; NUL-terminated path, two timespecs.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, cp.as_ptr(), times.as_ptr(), 0) };
    assert_eq!(r, 0);
    let e = t.spawn().unwrap_err();
    assert!(e.to_string().contains("changed since it was parked"), "{e}");
    let e = c.spawn().unwrap_err();
    assert!(e.to_string().contains("changed since it was parked"), "{e}");
    drop(t);
    std::fs::remove_file(&p).unwrap();
}

fn many_spawns_from_threads_leak_nothing() {
    let t = std::sync::Arc::new(WarmTemplate::new(&Command::new("/bin/sh")).unwrap());
    // Warm the process-wide cache too, then take the baseline.
    assert!(
        Command::new("/bin/true")
            .strategy(Strategy::Warm)
            .status()
            .unwrap()
            .success()
    );
    let base = common::open_fds();
    from_threads(&t, 6, 100, |_| {
        let mut d = Command::new("/bin/true");
        d.strategy(Strategy::Warm);
        let o = d.output().unwrap();
        assert!(o.status.success() && o.stdout.is_empty());
    });
    assert_eq!(common::open_fds(), base, "fd leak");
    assert!(!common::has_zombie(), "zombie left behind");
}

/// Our children now (pids whose parent is this process).
fn our_children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = &s[s.rfind(')').unwrap() + 2..];
        if after.split(' ').nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// Pool children: our children in the image's process group, other than the image.
fn pool_children(image: u32) -> Vec<u32> {
    our_children()
        .into_iter()
        .filter(|&p| {
            p != image
                && std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .is_ok_and(|_| stat_field(p, 5) == image as i64)
        })
        .collect()
}

fn pool() {
    let base_fds = common::open_fds();

    let before = our_children();
    let e = WarmTemplate::new(&Command::new("/bin/sh"))
        .unwrap()
        .with_pool(0)
        .unwrap_err();
    assert_eq!(io_kind(e), ErrorKind::InvalidInput);
    let t = WarmTemplate::new(&Command::new("/bin/sh"))
        .unwrap()
        .with_pool(3)
        .unwrap();
    let image = t.image_pid().unwrap();
    for i in 0..20 {
        let mut c = Command::new("/bin/sh");
        c.args([
            "-c",
            &format!("echo $PPID $0 $1; exit {}", i % 5),
            "zero",
            "one",
        ]);
        let o = t.output_command(&mut c).unwrap();
        assert_eq!(o.status.code(), Some(i % 5));
        assert_eq!(
            String::from_utf8(o.stdout).unwrap(),
            format!("{} zero one\n", std::process::id()),
            "a pool child is the caller's child, with the request's argv"
        );
    }
    // A failed step gets its errno, and the failed pool child is reaped.
    let mut bad = Command::new("/bin/sh");
    bad.current_dir("/nonexistent-spawn-fast");
    let e = t.spawn_command(&mut bad).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    assert!(!common::has_zombie());
    drop(bad); // its resolved program's fd
    // Pool children killed from outside: spawns go on (from the next one, or the image).
    let idle = pool_children(image);
    assert!(!idle.is_empty(), "the pool is refilled");
    for &p in &idle {
        // SAFETY: kills an idle pool child of ours (unreaped, so the pid is still its).
        assert_eq!(unsafe { libc::kill(p as i32, libc::SIGKILL) }, 0);
    }
    for _ in 0..5 {
        assert!(t.status().unwrap().success());
    }
    // Threads share the pool (and the image when it runs dry).
    let t = std::sync::Arc::new(t);
    from_threads(&t, 4, 50, |_| {});
    drop(t);
    assert_eq!(our_children(), before, "image and pool children are gone");
    assert!(!common::has_zombie());
    assert_eq!(common::open_fds(), base_fds, "fd leak");
}

/// A warm spawn lists the caller's fds through a directory fd it keeps: a caller that closes
/// it behind our back and reuses the number must find its own file untouched.
fn kept_fd_closed_behind_our_back() {
    assert!(
        Command::new("/bin/true")
            .strategy(Strategy::Warm)
            .status()
            .unwrap()
            .success()
    );
    let dir = format!("/proc/{}/fd", std::process::id());
    let candidates: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_str() == Some(&dir)))
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    // The listing's own fd is closed by now: the one still open is the library's.
    // SAFETY: F_GETFD only inspects the fds.
    let kept: Vec<i32> = candidates
        .into_iter()
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
        .collect();
    assert_eq!(kept.len(), 1, "one kept /proc/self/fd");
    let path = std::env::temp_dir().join(format!("spawn-fast-warm-{}-kept", std::process::id()));
    std::fs::write(&path, b"hello").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    // SAFETY: moves the file's offset, then puts it in place of the library's fd (which the
    // library must notice and leave alone).
    unsafe {
        assert_eq!(libc::lseek(f.as_raw_fd(), 3, libc::SEEK_SET), 3);
        assert_eq!(libc::dup2(f.as_raw_fd(), kept[0]), kept[0]);
    }
    assert!(
        Command::new("/bin/true")
            .strategy(Strategy::Warm)
            .status()
            .unwrap()
            .success()
    );
    // SAFETY: reads the offset of our own fd, then closes it.
    unsafe {
        assert_eq!(
            libc::lseek(kept[0], 0, libc::SEEK_CUR),
            3,
            "the caller's file was rewound"
        );
        libc::close(kept[0]);
    }
    drop(f);
    std::fs::remove_file(&path).unwrap();
}

fn io_kind(e: WarmError) -> ErrorKind {
    std::io::Error::from(e).kind()
}

#[test]
fn warm_strategy() {
    child_is_ours_with_pidfd_kill_and_wait();
    templates_and_images();
    scope_errors();
    many_spawns_from_threads_leak_nothing();
    pool();
    kept_fd_closed_behind_our_back();
    spawn_fast::warm::clear_cache();
    assert!(!common::has_zombie());
}

/// `threads` threads share `t`: each spawns `sh -c 'exit N'` `per_thread` times through it and
/// checks the exit code, then runs `also` (more spawns of its own) after each.
fn from_threads(
    t: &std::sync::Arc<WarmTemplate>,
    threads: i32,
    per_thread: i32,
    also: impl Fn(i32) + Copy + Send + 'static,
) {
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                for j in 0..per_thread {
                    let code = (i + j) % 7;
                    let mut c = Command::new("/bin/sh");
                    c.args(["-c", &format!("exit {code}")]).stdout(Stdio::Null);
                    assert_eq!(
                        t.spawn_command(&mut c).unwrap().wait().unwrap().code(),
                        Some(code)
                    );
                    also(j);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
