//! One table of behaviour cases, run against every strategy and, where std supports the case,
//! against `std::process::Command` with the same input: the observable results must agree.

mod common;

use spawn_fast::{Command, ExitStatus, Stdio, Strategy};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Io {
    Null,
}

#[derive(Clone, Default)]
struct Spec {
    prog: String,
    args: Vec<String>,
    env: Vec<(&'static str, Option<&'static str>)>,
    clear: bool,
    cwd: Option<&'static str>,
    stdin: Option<Io>,
    stdout: Option<Io>,
    stdin_data: Option<&'static [u8]>,
    pgroup: bool,
    setsid: bool,
    ids: Option<(u32, u32)>,
    /// spawn-fast only (std has no equivalent without pre_exec).
    maps: Vec<(RawFd, RawFd)>,
    close_others: bool,
    mask: Option<Vec<i32>>,
    reset: bool,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Ran {
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
    Errno(i32),
    Invalid,
    Unsupported,
}

fn sh(script: &str) -> Spec {
    Spec {
        prog: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        ..Default::default()
    }
}

/// `prog` run with no arguments.
fn prog(prog: impl Into<String>) -> Spec {
    Spec {
        prog: prog.into(),
        ..Default::default()
    }
}

fn io_fast(i: Io) -> Option<Stdio> {
    match i {
        Io::Null => Some(Stdio::Null),
    }
}

fn classify(e: std::io::Error) -> Outcome {
    match e.kind() {
        std::io::ErrorKind::InvalidInput => Outcome::Invalid,
        std::io::ErrorKind::Unsupported => Outcome::Unsupported,
        _ => Outcome::Errno(e.raw_os_error().unwrap_or(-1)),
    }
}

/// Applies what both builders spell alike (spawn-fast's `Command` follows std's names):
/// arguments, environment, cwd, stdin and stdout (`$io` maps an [`Io`]), process group and ids.
macro_rules! configure {
    ($c:expr, $spec:expr, $io:expr) => {{
        let (c, spec) = (&mut $c, $spec);
        c.args(&spec.args);
        if spec.clear {
            c.env_clear();
        }
        for (k, v) in &spec.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = spec.cwd {
            c.current_dir(d);
        }
        if let Some(i) = spec.stdin.and_then($io) {
            c.stdin(i);
        }
        if let Some(o) = spec.stdout.and_then($io) {
            c.stdout(o);
        }
        if spec.pgroup {
            c.process_group(0);
        }
        if let Some((u, g)) = spec.ids {
            c.uid(u).gid(g);
        }
    }};
}

/// Runs a configured builder to its output: with `stdin_data`, every stream piped (`$piped`)
/// and the data written to stdin; otherwise `output()`.
macro_rules! output {
    ($c:expr, $spec:expr, $piped:expr) => {{
        let (c, spec) = (&mut $c, $spec);
        if let Some(data) = spec.stdin_data {
            c.stdin($piped).stdout($piped).stderr($piped);
            c.spawn().and_then(|mut ch| {
                ch.stdin.take().unwrap().write_all(data)?;
                ch.wait_with_output()
            })
        } else {
            c.output()
        }
    }};
}

/// What a run gave: its status and output, or how the spawn failed.
fn outcome(out: std::io::Result<(ExitStatus, Vec<u8>, Vec<u8>)>) -> Outcome {
    match out {
        Ok((status, stdout, stderr)) => Outcome::Ran {
            status,
            stdout: String::from_utf8_lossy(&stdout).into(),
            stderr: String::from_utf8_lossy(&stderr).into(),
        },
        Err(e) => classify(e),
    }
}

fn run_fast(spec: &Spec, s: Strategy) -> Outcome {
    let mut c = Command::new(&spec.prog);
    c.strategy(s);
    configure!(c, spec, io_fast);
    c.setsid(spec.setsid);
    for &(p, ch) in &spec.maps {
        c.map_fd(p, ch);
    }
    c.close_other_fds(spec.close_others)
        .reset_signals(spec.reset);
    if let Some(m) = &spec.mask {
        c.signal_mask(m);
    }
    outcome(output!(c, spec, Stdio::Piped).map(|o| (o.status, o.stdout, o.stderr)))
}

fn io_std(i: Io) -> Option<std::process::Stdio> {
    match i {
        Io::Null => Some(std::process::Stdio::null()),
    }
}

/// None when std cannot express the case.
fn run_std(spec: &Spec) -> Option<Outcome> {
    if !spec.maps.is_empty()
        || spec.close_others
        || spec.setsid
        || spec.mask.is_some()
        || spec.reset
    {
        return None;
    }
    let mut c = std::process::Command::new(&spec.prog);
    configure!(c, spec, io_std);
    let out = output!(c, spec, std::process::Stdio::piped());
    Some(outcome(out.map(|o| (o.status.into(), o.stdout, o.stderr))))
}

fn ran(code: i32, stdout: &str) -> Outcome {
    Outcome::Ran {
        status: ExitStatus::from_raw(code << 8),
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

/// Runs `spec` everywhere; `expect` may look at the strategy (None = std).
fn check(name: &str, spec: Spec, expect: impl Fn(Option<Strategy>) -> Outcome) {
    for s in common::strategies() {
        let got = run_fast(&spec, s);
        assert_eq!(got, expect(Some(s)), "case {name}, strategy {s}");
    }
    if let Some(got) = run_std(&spec) {
        assert_eq!(got, expect(None), "case {name}, std::process::Command");
    }
}

/// A file committed under tests/fixtures. Programs to exec are never written by the tests:
/// a child that another test thread forks while the file is open for writing holds the write
/// fd until its own exec, and exec of the file then fails with ETXTBSY.
fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn temp_file(name: &str, content: &[u8], mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = std::env::temp_dir().join(format!("spawn-fast-test-{}-{name}", std::process::id()));
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn exit_codes() {
    check("exit 0", sh("exit 0"), |_| ran(0, ""));
    check("exit 7", sh("exit 7"), |_| ran(7, ""));
    check("exit 255", sh("exit 255"), |_| ran(255, ""));
    // Warm parks dynamically linked glibc programs only: it refuses, never runs differently.
    check(
        "static exit0",
        prog(spawn_fast::children::EXIT0),
        |s| match s {
            Some(Strategy::Warm) => Outcome::Unsupported,
            _ => ran(0, ""),
        },
    );
}

#[test]
fn death_by_signal() {
    let want = |_| Outcome::Ran {
        status: ExitStatus::from_raw(libc::SIGTERM),
        stdout: String::new(),
        stderr: String::new(),
    };
    check("sigterm", sh("kill -TERM $$"), want);
}

#[test]
fn env_handling() {
    let mut s = sh("echo \"$SF_A\"");
    s.env = vec![("SF_A", Some("one"))];
    check("env set", s, |_| ran(0, "one\n"));
    let mut s = sh("echo \"${HOME-unset}\"");
    s.env = vec![("HOME", None)];
    check("env remove", s, |_| ran(0, "unset\n"));
    let s = Spec {
        clear: true,
        env: vec![("SF_B", Some("2"))],
        ..prog("/usr/bin/env")
    };
    check("env clear", s, |_| ran(0, "SF_B=2\n"));
    let s = Spec {
        clear: true,
        env: vec![("PATH", Some("/usr/bin:/bin"))],
        ..prog("env")
    };
    check("PATH lookup with the child's PATH", s, |_| {
        ran(0, "PATH=/usr/bin:/bin\n")
    });
}

#[test]
fn cwd() {
    let mut s = sh("pwd");
    s.cwd = Some("/usr");
    check("cwd", s, |_| ran(0, "/usr\n"));
    let mut s = sh("pwd");
    s.cwd = Some("/nonexistent-dir");
    check("bad cwd", s, |_| Outcome::Errno(libc::ENOENT));
}

#[test]
fn stdio_modes() {
    let mut s = sh("cat; echo done");
    s.stdin = Some(Io::Null);
    check("stdin null", s, |_| ran(0, "done\n"));
    let s = Spec {
        stdin_data: Some(b"abc"),
        ..sh("cat")
    };
    check("stdin piped", s, |_| ran(0, "abc"));
    let mut s = sh("echo gone");
    s.stdout = Some(Io::Null);
    check("stdout null", s, |_| ran(0, ""));
    let s = sh("echo err >&2");
    check("stderr piped", s, |_| Outcome::Ran {
        status: ExitStatus::from_raw(0),
        stdout: String::new(),
        stderr: "err\n".into(),
    });
}

#[test]
fn stdout_to_given_fd() {
    for s in common::strategies() {
        let path = temp_file(&format!("out-{s}"), b"", 0o644);
        let f = std::fs::File::create(&path).unwrap();
        let st = Command::new("/bin/sh")
            .args(["-c", "echo to-file"])
            .stdout(Stdio::Fd(f.as_raw_fd()))
            .strategy(s)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "to-file\n", "{s}");
        std::fs::remove_file(path).unwrap();
    }
}

fn pipe() -> (std::fs::File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: room for two fds.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh fds.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

#[test]
fn fd_mapping_and_swaps() {
    for s in common::strategies() {
        let (mut r, w) = pipe();
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "echo mapped >&5"])
            .map_fd(w.as_raw_fd(), 5)
            .strategy(s);
        assert!(c.status().unwrap().success(), "{s}");
        drop(w);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "mapped\n", "{s}");

        // Two mappings that swap fds: each source is the other's target.
        let (mut r1, w1) = pipe();
        let (mut r2, w2) = pipe();
        let (a, b) = (60 + s as i32 * 2, 61 + s as i32 * 2);
        common::dup_at(w1.as_raw_fd(), a);
        common::dup_at(w2.as_raw_fd(), b);
        drop((w1, w2));
        let st = Command::new("/bin/sh")
            .args([
                "-c",
                &format!("echo one >/proc/self/fd/{b}; echo two >/proc/self/fd/{a}"),
            ])
            .map_fd(a, b)
            .map_fd(b, a)
            .strategy(s)
            .status()
            .unwrap();
        assert!(st.success(), "{s}");
        // SAFETY: closing the two fds this test placed, once each.
        unsafe {
            libc::close(a);
            libc::close(b);
        }
        let (mut g1, mut g2) = (String::new(), String::new());
        r1.read_to_string(&mut g1).unwrap();
        r2.read_to_string(&mut g2).unwrap();
        assert_eq!((g1.as_str(), g2.as_str()), ("one\n", "two\n"), "{s}");
    }
}

#[test]
fn close_other_fds() {
    let probe = "test -e /proc/self/fd/90 && echo open || echo closed";
    let (_r, w) = pipe();
    common::dup_at(w.as_raw_fd(), 90);
    let mut s = sh(probe);
    s.close_others = true;
    check("close others", s, |_| ran(0, "closed\n"));
    // Zygote children get only stdio and mapped fds: the zygote does not hold the caller's fds.
    check("inherit others", sh(probe), |s| {
        ran(
            0,
            if s == Some(Strategy::Zygote) {
                "closed\n"
            } else {
                "open\n"
            },
        )
    });
    // A script (exec through the O_PATH fd fails, the path fallback must work) with close-others.
    let script = fixture("script.sh");
    let s = Spec {
        prog: script.clone(),
        close_others: true,
        ..Default::default()
    };
    check("script with close others", s, |s| match s {
        Some(Strategy::Warm) => Outcome::Unsupported,
        _ => ran(0, "script-ran\n"),
    });
    // SAFETY: closes the fd placed above.
    unsafe { libc::close(90) };
}

#[test]
fn exec_errors() {
    check("ENOENT", prog("/nonexistent/prog"), |_| {
        Outcome::Errno(libc::ENOENT)
    });
    check(
        "ENOENT via PATH",
        prog("no-such-program-spawn-fast"),
        |_| Outcome::Errno(libc::ENOENT),
    );
    check("EACCES", prog(fixture("noexec.sh")), |_| {
        Outcome::Errno(libc::EACCES)
    });
    check("ENOEXEC", prog(fixture("garbage")), |_| {
        Outcome::Errno(libc::ENOEXEC)
    });
    let huge = "x".repeat(200 * 1024);
    let s = Spec {
        prog: "/bin/true".into(),
        args: vec![huge],
        ..Default::default()
    };
    check("E2BIG", s, |_| Outcome::Errno(libc::E2BIG));
}

#[test]
fn nul_bytes_rejected_before_spawn() {
    check(
        "nul in arg",
        Spec {
            prog: "/bin/true".into(),
            args: vec!["a\0b".into()],
            ..Default::default()
        },
        |_| Outcome::Invalid,
    );
    check("nul in program", prog("/bin/tr\0ue"), |_| Outcome::Invalid);
    let mut s = sh("true");
    s.env = vec![("SF_NUL", Some("a\0b"))];
    check("nul in env", s, |_| Outcome::Invalid);
}

#[test]
fn groups_and_sessions() {
    let probe = "set -- $(cut -d' ' -f5,6 /proc/$$/stat); [ \"$1\" = $$ ] && echo pgrp-leader; [ \"$2\" = $$ ] && echo session-leader; true";
    let mut s = sh(probe);
    s.pgroup = true;
    check("process group", s, |_| ran(0, "pgrp-leader\n"));
    let mut s = sh(probe);
    s.setsid = true;
    check("setsid", s, |_| ran(0, "pgrp-leader\nsession-leader\n"));
    check("neither", sh(probe), |_| ran(0, ""));
}

#[test]
fn signal_mask_and_dispositions() {
    let grep = |what: &str| Spec {
        prog: "/bin/grep".into(),
        args: vec![what.into(), "/proc/self/status".into()],
        ..Default::default()
    };
    let mut s = grep("SigBlk");
    s.mask = Some(vec![libc::SIGUSR1]);
    check("mask", s, |_| ran(0, "SigBlk:\t0000000000000200\n"));
    // The test harness ignores SIGPIPE (Rust runtime); children must get it back at SIG_DFL.
    // SAFETY: ignoring SIGUSR2 process-wide has no effect on the other tests.
    unsafe { libc::signal(libc::SIGUSR2, libc::SIG_IGN) };
    let mut s = grep("SigIgn");
    s.reset = true;
    // glibc's posix_spawn leaves its two internal signals (32, 33) ignored in the child.
    check("reset ignored", s, |s| match s {
        Some(Strategy::PosixSpawn) => ran(0, "SigIgn:\t0000000180000000\n"),
        _ => ran(0, "SigIgn:\t0000000000000000\n"),
    });
    let mut s = grep("SigIgn");
    s.mask = Some(vec![]);
    // Ignored signals stay ignored across exec, except SIGPIPE, which is reset (as std does).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
    let parent_ign = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert!(parent_ign & (1 << (libc::SIGUSR2 - 1)) != 0);
    let kept = parent_ign & !(1 << (libc::SIGPIPE - 1));
    check("ignored kept, SIGPIPE reset", s, |s| {
        let quirk = if s == Some(Strategy::PosixSpawn) {
            0x1_8000_0000
        } else {
            0
        };
        ran(0, &format!("SigIgn:\t{:016x}\n", kept | quirk))
    });
}

#[test]
fn uid_and_gid() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return;
    }
    let s = Spec {
        ids: Some((65534, 65534)),
        ..sh("id -u; id -g; id -G")
    };
    check("uid/gid", s, |s| match s {
        Some(Strategy::PosixSpawn) => Outcome::Unsupported,
        _ => ran(0, "65534\n65534\n65534\n"),
    });
}

#[test]
fn kill_try_wait_and_timing() {
    for s in common::strategies() {
        let mut c = Command::new("/bin/sleep")
            .arg("10")
            .strategy(s)
            .spawn()
            .unwrap();
        assert_eq!(c.try_wait().unwrap(), None, "{s}");
        c.kill().unwrap();
        let st = c.wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL), "{s}");
        assert_eq!(c.try_wait().unwrap(), Some(st));
        c.kill().unwrap();
        let t = c.timing();
        assert!(
            t.t_enter_ns <= t.t_spawned_ns && t.t_spawned_ns <= t.t_reaped_ns.unwrap(),
            "{s}: {t:?}"
        );
    }
}

#[test]
fn first_instruction_child_runs_between_spawn_and_reap() {
    for s in common::strategies() {
        let mut c = Command::new(spawn_fast::children::FIRST_INSTRUCTION);
        c.strategy(s).stdout(Stdio::Piped);
        if s == Strategy::Warm {
            // A static program: Warm refuses it clearly.
            let e = c.spawn().unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
            continue;
        }
        let mut ch = c.spawn().unwrap();
        let mut out = String::new();
        ch.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        assert!(ch.wait().unwrap().success());
        let t: u64 = out.trim().parse().unwrap();
        let tm = ch.timing();
        assert!(
            tm.t_enter_ns < t && t < tm.t_reaped_ns.unwrap(),
            "{s}: {t} vs {tm:?}"
        );
    }
}

#[test]
fn std_and_arg0() {
    let o = Command::new("/bin/sh")
        .arg0("custom-name")
        .args(["-c", "echo $0"])
        .output()
        .unwrap();
    let so = std::process::Command::new("/bin/sh")
        .arg0("custom-name")
        .args(["-c", "echo $0"])
        .output()
        .unwrap();
    assert_eq!(o.stdout, so.stdout);
    assert_eq!(o.stdout, b"custom-name\n");
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_wait() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    for s in common::strategies() {
        let st = rt.block_on(async {
            let mut c = Command::new("/bin/sh")
                .args(["-c", "sleep 0.05; exit 4"])
                .strategy(s)
                .spawn()
                .unwrap();
            c.wait_async().await.unwrap()
        });
        assert_eq!(st.code(), Some(4), "{s}");
    }
}
