//! The equivalence corpus: real programs on this machine, each run by exec (`Auto`) and by
//! `Warm` with the same argv, environment, cwd and stdin; stdout, stderr and the exit status
//! must be byte-identical.

use spawn_fast::{Command, Output, Stdio, Strategy};
use std::io::Write;

#[derive(Clone, Default)]
struct Case {
    prog: String,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    clear: bool,
    cwd: Option<&'static str>,
    stdin: Option<&'static [u8]>,
}

fn case(prog: &str, args: &[&str]) -> Case {
    Case {
        prog: prog.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

fn run(c: &Case, s: Strategy) -> std::io::Result<Output> {
    let mut cmd = Command::new(&c.prog);
    cmd.args(&c.args).strategy(s);
    if c.clear {
        cmd.env_clear();
    }
    for (k, v) in &c.env {
        cmd.env(k, v);
    }
    if let Some(d) = c.cwd {
        cmd.current_dir(d);
    }
    cmd.stdin(if c.stdin.is_some() {
        Stdio::Piped
    } else {
        Stdio::Null
    })
    .stdout(Stdio::Piped)
    .stderr(Stdio::Piped);
    let mut child = cmd.spawn()?;
    if let Some(data) = c.stdin {
        child.stdin.take().unwrap().write_all(data)?;
    }
    child.wait_with_output()
}

/// The real python3 (a pyenv shim on PATH would be a script).
fn python() -> Option<String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!p.is_empty()).then_some(p)
}

fn corpus() -> Vec<Case> {
    let text: &'static [u8] = b"pear\napple\nfig\napple\nbanana\n";
    let mut v = vec![
        case("/bin/true", &[]),
        case("/bin/false", &[]),
        case("echo", &["-n", "no newline", "two  spaces", ""]),
        case("echo", &["argv", "with\ttab", "ünïcode"]),
        Case {
            clear: true,
            env: vec![("SF_ONE", "1"), ("SF_TWO", "two words"), ("LANG", "C")],
            ..case("env", &[])
        },
        Case {
            env: vec![("SF_EXTRA", "x")],
            ..case("env", &[])
        },
        Case {
            cwd: Some("/usr/share"),
            ..case("pwd", &[])
        },
        case("id", &[]),
        case("ls", &["-1", "/etc/passwd", "/etc/hostname"]),
        case("ls", &["/nonexistent-spawn-fast"]),
        Case {
            cwd: Some("/etc"),
            ..case("ls", &["-d", "passwd", "group"])
        },
        Case {
            stdin: Some(text),
            ..case("cat", &["-n"])
        },
        Case {
            stdin: Some(text),
            ..case("sort", &["-r"])
        },
        Case {
            stdin: Some(b"a\na\nb\n"),
            ..case("uniq", &["-c"])
        },
        Case {
            stdin: Some(text),
            ..case("wc", &[])
        },
        Case {
            stdin: Some(text),
            ..case("grep", &["-n", "apple"])
        },
        Case {
            stdin: Some(text),
            ..case("grep", &["kiwi"])
        },
        Case {
            stdin: Some(text),
            ..case("sed", &["-e", "s/a/A/g", "-e", "2d"])
        },
        Case {
            stdin: Some(b"1 2\n3 4\n"),
            ..case(
                "awk",
                &["{ s += $1 * $2 } END { print s, NR, ENVIRON[\"SF_AWK\"] }"],
            )
        }
        .with_env(&[("SF_AWK", "seen")]),
        Case {
            stdin: Some(text),
            ..case("tr", &["a-z", "A-Z"])
        },
        case("seq", &["-s", ",", "1", "3", "20"]),
        case("date", &["-u", "-d", "@86400"]),
        case("git", &["--version"]),
        case(
            "perl",
            &[
                "-e",
                "print join(q(|), @ARGV, $0, $ENV{SF_P} // q(none)), qq(\\n)",
                "a b",
                "c",
            ],
        )
        .with_env(&[("SF_P", "perl-env")]),
        case("tar", &["--version"]),
        Case {
            stdin: Some(text),
            ..case("gzip", &["-c", "-n", "-9"])
        },
        case(
            "find",
            &["/etc/passwd", "/etc/group", "-maxdepth", "0", "-type", "f"],
        ),
        case(
            "sh",
            &["-c", "echo $0 $1 $#; echo err >&2; exit 5", "zero", "one"],
        ),
        case("sh", &["-c", "kill -TERM $$"]),
        Case {
            cwd: Some("/tmp"),
            ..case("bash", &["-c", "echo $PWD ${BASH_VERSINFO[0]} \"$SF_B\""])
        }
        .with_env(&[("SF_B", "bash-env")]),
        case("stat", &["-c", "%n %F", "/etc/passwd", "/usr"]),
        Case {
            stdin: Some(b"hello"),
            ..case("md5sum", &[])
        },
        Case {
            stdin: Some(b"hello"),
            ..case("base64", &[])
        },
        case("xargs", &["-n", "1", "echo"]).with_stdin(b"x y\nz\n"),
        case("basename", &["/a/b/c.txt", ".txt"]),
        case("printf", &["%s-%d\\n", "x", "42"]),
    ];
    match python() {
        Some(py) => {
            let code = "import os, sys; print(sys.argv, os.environ.get('SF_PY'), os.getcwd()); \
                        print(sys.stdin.read().upper(), end='')";
            v.push(
                Case {
                    cwd: Some("/usr"),
                    stdin: Some(text),
                    ..case(&py, &["-c", code, "arg one"])
                }
                .with_env(&[("SF_PY", "py-env")]),
            );
            v.push(case(&py, &["-V"]));
        }
        None => eprintln!("python3 not found: its corpus entries are skipped"),
    }
    v
}

impl Case {
    fn with_env(mut self, e: &[(&'static str, &'static str)]) -> Case {
        self.env.extend_from_slice(e);
        self
    }
    fn with_stdin(mut self, data: &'static [u8]) -> Case {
        self.stdin = Some(data);
        self
    }
}

#[test]
fn warm_output_equals_exec_output() {
    let cases = corpus();
    assert!(cases.len() >= 20);
    let mut programs = std::collections::BTreeSet::new();
    for c in &cases {
        let what = format!("{} {:?}", c.prog, c.args);
        let by_exec = run(c, Strategy::Auto).unwrap_or_else(|e| panic!("{what}: exec: {e}"));
        let warm = run(c, Strategy::Warm).unwrap_or_else(|e| panic!("{what}: warm: {e}"));
        assert_eq!(warm.status, by_exec.status, "{what}: status");
        assert_eq!(
            String::from_utf8_lossy(&warm.stdout),
            String::from_utf8_lossy(&by_exec.stdout),
            "{what}: stdout"
        );
        assert_eq!(warm.stdout, by_exec.stdout, "{what}: stdout bytes");
        assert_eq!(
            String::from_utf8_lossy(&warm.stderr),
            String::from_utf8_lossy(&by_exec.stderr),
            "{what}: stderr"
        );
        // A second warm run from the same (now parked) image.
        let again = run(c, Strategy::Warm).unwrap_or_else(|e| panic!("{what}: warm again: {e}"));
        assert_eq!(again, by_exec, "{what}: second warm run");
        programs.insert(c.prog.clone());
    }
    assert!(programs.len() >= 20, "{} programs", programs.len());
}
