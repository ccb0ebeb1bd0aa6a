//! Root integration tests of `spawnprof trace`: the probes really load, and what they record
//! matches what the traced command did.
mod common;

use common::{by_exec, exit0, spawnprof, trace_json, trace_workload};

#[test]
fn shell_children_are_recorded_with_parent_links_and_durations() {
    require_probes!();
    let t = trace_json(&[], &["sh", "-c", "/bin/true; /bin/echo hi >/dev/null"]);
    t.assert_ok();
    let sh = t
        .records
        .iter()
        .find(|r| r["kind"] == "root")
        .unwrap_or_else(|| panic!("no root record in {:#?}", t.records));
    let sh_pid = sh["pid"].as_u64().unwrap();
    let true_rec = by_exec(&t.records, "/bin/true");
    assert_eq!(true_rec.len(), 1, "records: {:#?}", t.records);
    let true_rec = true_rec[0];
    assert_eq!(true_rec["ppid"].as_u64(), Some(sh_pid), "{true_rec:#}");
    assert_eq!(true_rec["exec"]["ret"], 0);
    assert_eq!(true_rec["kind"], "exec");
    for field in ["clone_syscall_ns", "exec_syscall_ns"] {
        let v = true_rec[field].as_u64().unwrap_or(0);
        assert!(v > 0, "{field} = {v} in {true_rec:#}");
    }
    // dash runs the last command of `-c` in its own process (exec without fork); either way
    // /bin/echo must show up as an exec, in a child of sh or in sh itself.
    let echo = by_exec(&t.records, "/bin/echo");
    assert_eq!(echo.len(), 1, "records: {:#?}", t.records);
    let echo = echo[0];
    let echo_pid = echo["pid"].as_u64().unwrap();
    assert!(
        echo_pid == sh_pid || echo["ppid"].as_u64() == Some(sh_pid),
        "{echo:#}"
    );
    assert!(t.stderr.contains("lost events: 0"), "stderr: {}", t.stderr);
}

#[test]
fn failed_exec_is_recorded_with_its_errno() {
    require_probes!();
    let t = trace_json(&[], &["sh", "-c", "/nonexistent/prog; exit 0"]);
    t.assert_ok();
    let failed = by_exec(&t.records, "/nonexistent/prog");
    assert_eq!(failed.len(), 1, "records: {:#?}", t.records);
    let attempt = failed[0]["exec"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "/nonexistent/prog")
        .unwrap();
    assert_eq!(attempt["ret"], -2, "{attempt:#}");
    assert_eq!(attempt["errno_name"], "ENOENT", "{attempt:#}");
}

#[test]
fn exit_code_is_the_commands_own() {
    require_probes!();
    let t = trace_json(&[], &["sh", "-c", "exit 7"]);
    assert_eq!(t.code, Some(7), "stderr: {}", t.stderr);
}

#[test]
fn missing_command_is_a_one_line_error() {
    require_probes!();
    let out = spawnprof()
        .args(["trace", "--", "/no/such/command-xyz"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("/no/such/command-xyz: command not found"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

/// `--probe-stats`: the kernel's own count of probe hits covers at least what the command did.
#[test]
fn probe_stats_count_at_least_the_commands_execs() {
    require_probes!();
    let t = trace_json(
        &["--probe-stats"],
        &["sh", "-c", "/bin/true; /bin/true; /bin/true; exit 0"],
    );
    t.assert_ok();
    let execs = t.records.iter().filter(|r| r["exec"]["ret"] == 0).count() as u64;
    assert!(execs >= 4, "sh and three /bin/true: {:#?}", t.records);
    // The first of `programs` that has a row: a mark has one program per way to reach it.
    let row = |programs: &[&str]| -> Vec<u64> {
        let line = t
            .stderr
            .lines()
            .find(|l| {
                programs
                    .iter()
                    .any(|p| l.split_whitespace().next() == Some(p))
            })
            .unwrap_or_else(|| panic!("no {programs:?} row in: {}", t.stderr));
        line.split_whitespace()
            .skip(1)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    // The exec load mark: tp_btf where the kernel has BTF, else the classic tracepoint.
    let exec = row(&["process_exec_btf", "sched_process_exec"]);
    assert!(
        exec[0] >= execs,
        "{} hits < {execs} execs: {}",
        exec[0],
        t.stderr
    );
    assert!(exec[1] > 0, "zero run time per hit: {}", t.stderr);
    let all = row(&["all"]);
    assert!(all[0] > exec[0], "{}", t.stderr);
}

/// fexecve-style execs (`execveat(fd, "", AT_EMPTY_PATH)`, what spawn-fast does) carry no
/// name; the probes walk the fd's path in the kernel. The program sits on tmpfs so the walk
/// must cross a mount point, and the spawning process exits at once, so reading `/proc`
/// afterwards could not have named it.
#[test]
fn fd_execs_are_named_by_the_path_walked_in_the_kernel() {
    require_probes!();
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::Path::new("/dev/shm");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let prog = dir.join(format!("spawnprof-fdexec-{}", std::process::id()));
    // Copied by another process: a write fd opened here would be inherited by the children
    // other test threads fork meanwhile and held until their exec, and exec of the copy would
    // then fail with ETXTBSY.
    let cp = std::process::Command::new("cp")
        .arg(exit0())
        .arg(&prog)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let want = std::fs::canonicalize(&prog).unwrap();
    let workload = ["--strategy", "fork,vfork,clone3", "--count", "1"];
    let t = trace_workload(&[], &workload, prog.to_str().unwrap());
    std::fs::remove_file(&prog).unwrap();
    t.assert_ok();
    let execs = t.records_where(|r| r["kind"] == "exec");
    assert_eq!(execs.len(), 3, "records: {:#?}", t.records);
    for r in execs {
        assert_eq!(r["exec"]["filename"], want.to_str().unwrap(), "{r:#}");
    }
}
