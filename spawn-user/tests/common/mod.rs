//! Shared by the root integration tests: the capability gate and running spawnprof.
#![allow(dead_code)]

use std::{
    path::Path,
    process::{Command, Output},
};

use serde_json::Value;

/// Whether this host can load the probes. Under `CI=true` a missing capability is a failure;
/// elsewhere the test is skipped with the reason printed.
pub fn capable(test: &str) -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    let missing = match (root, btf) {
        (false, _) => Some("not running as root"),
        (_, false) => Some("no BTF at /sys/kernel/btf/vmlinux"),
        _ => None,
    };
    match missing {
        None => true,
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: {why} (CI=true: a missing capability is a failure)")
        }
        Some(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

/// Returns from the enclosing test when this host cannot load the probes ([`capable`], under
/// the test function's own name); `require_probes!(serial)` then also takes the
/// [`serial`](crate::live::serial) lock and evaluates to its guard (keep it alive:
/// `let _s = require_probes!(serial);`).
#[macro_export]
macro_rules! require_probes {
    () => {
        if !$crate::common::capable({
            fn f() {}
            let path = std::any::type_name_of_val(&f); // "<test crate>::<test fn>::f"
            let path = path.strip_suffix("::f").unwrap_or(path);
            path.rsplit("::").next().unwrap_or(path)
        }) {
            return;
        }
    };
    (serial) => {{
        $crate::require_probes!();
        $crate::live::serial()
    }};
}

pub fn spawnprof() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spawnprof"))
}

pub struct Traced {
    pub records: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Traced {
    fn new(records: Vec<Value>, out: &Output) -> Self {
        Traced {
            records,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// Asserts that spawnprof, and so the traced command, exited with 0.
    #[track_caller]
    pub fn assert_ok(&self) {
        assert_eq!(self.code, Some(0), "stderr: {}", self.stderr);
    }

    /// The records `keep` selects, in order.
    pub fn records_where(&self, keep: impl Fn(&Value) -> bool) -> Vec<&Value> {
        self.records.iter().filter(|r| keep(r)).collect()
    }
}

/// `spawnprof trace --json [extra] -- cmd...`; stdout lines that are not JSON objects (the
/// command's own output) are ignored.
pub fn trace_json(extra: &[&str], cmd: &[&str]) -> Traced {
    let out = spawnprof()
        .arg("trace")
        .arg("--json")
        .args(extra)
        .arg("--")
        .args(cmd)
        .output()
        .expect("running spawnprof");
    let stdout = String::from_utf8_lossy(&out.stdout);
    Traced::new(json_lines(&stdout), &out)
}

/// `spawnprof trace --json [extra] -- spawnprof workload [workload...] -- program`: the
/// built-in workload spawning `program`, traced.
pub fn trace_workload(extra: &[&str], workload: &[&str], program: &str) -> Traced {
    let mut cmd = vec![spawnprof_path(), "workload"];
    cmd.extend_from_slice(workload);
    cmd.extend(["--", program]);
    trace_json(extra, &cmd)
}

/// Records whose successful (or last attempted) exec ran `path`.
pub fn by_exec<'a>(records: &'a [Value], path: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| {
            r["exec"]["attempts"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["filename"] == path))
        })
        .collect()
}

/// The tiny static child spawn-fast builds (exits at once; no loader, no libc).
pub fn exit0() -> &'static str {
    spawn_fast::children::EXIT0
}

/// The spawnprof binary as a string, for workload commands.
pub fn spawnprof_path() -> &'static str {
    env!("CARGO_BIN_EXE_spawnprof")
}

/// The `lost events: N` line the summary always prints.
pub fn lost_events(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("lost events: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no lost-events line in: {stderr}"))
}

/// `spawnprof trace --json -o FILE [extra] -- cmd...`: the records from a file of their own,
/// so the traced command's output cannot mix with them; `name` keeps the file apart from
/// other tests'.
pub fn trace_json_file(name: &str, extra: &[&str], cmd: &[&str]) -> Traced {
    let file = std::env::temp_dir().join(format!("spawnprof-{name}-{}.jsonl", std::process::id()));
    let out = spawnprof()
        .args(["trace", "--json", "-o"])
        .arg(&file)
        .args(extra)
        .arg("--")
        .args(cmd)
        .output()
        .expect("running spawnprof");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    Traced::new(json_lines(&text), &out)
}

/// The lines of `text` that are JSON objects, parsed; other lines (a traced command's own
/// output) are skipped.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The phases a complete fork+exec or vfork+exec spawn of a static program has on every
/// kernel: a vfork child has no address space of its own to tear down (`own_mm` false).
pub fn exec_spawn_phases(own_mm: bool) -> Vec<&'static str> {
    let mut want = vec![
        "copy",
        "queue",
        "setup",
        "exec",
        "exec_open",
        "exec_load",
        "exec_finish",
        "run",
        "reap",
    ];
    if own_mm {
        want.push("exec_teardown");
    }
    want
}
