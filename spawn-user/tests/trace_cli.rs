//! Root integration tests of `spawnprof trace`: the probes really load, and what they record
//! matches what the traced command did.
mod common;

use common::{by_exec, capable, spawnprof, trace_json};

#[test]
fn shell_children_are_recorded_with_parent_links_and_durations() {
    if !capable("shell_children_are_recorded_with_parent_links_and_durations") {
        return;
    }
    let t = trace_json(&[], &["sh", "-c", "/bin/true; /bin/echo hi >/dev/null"]);
    assert_eq!(t.code, Some(0), "stderr: {}", t.stderr);
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
    if !capable("failed_exec_is_recorded_with_its_errno") {
        return;
    }
    let t = trace_json(&[], &["sh", "-c", "/nonexistent/prog; exit 0"]);
    assert_eq!(t.code, Some(0), "stderr: {}", t.stderr);
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
    if !capable("exit_code_is_the_commands_own") {
        return;
    }
    let t = trace_json(&[], &["sh", "-c", "exit 7"]);
    assert_eq!(t.code, Some(7), "stderr: {}", t.stderr);
}

#[test]
fn missing_command_is_a_one_line_error() {
    if !capable("missing_command_is_a_one_line_error") {
        return;
    }
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
    if !capable("probe_stats_count_at_least_the_commands_execs") {
        return;
    }
    let t = trace_json(
        &["--probe-stats"],
        &["sh", "-c", "/bin/true; /bin/true; /bin/true; exit 0"],
    );
    assert_eq!(t.code, Some(0), "stderr: {}", t.stderr);
    let execs = t.records.iter().filter(|r| r["exec"]["ret"] == 0).count() as u64;
    assert!(execs >= 4, "sh and three /bin/true: {:#?}", t.records);
    let row = |program: &str| -> Vec<u64> {
        let line = t
            .stderr
            .lines()
            .find(|l| l.split_whitespace().next() == Some(program))
            .unwrap_or_else(|| panic!("no {program} row in: {}", t.stderr));
        line.split_whitespace()
            .skip(1)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let exec = row("sched_process_exec");
    assert!(
        exec[0] >= execs,
        "{} hits < {execs} execs: {}",
        exec[0],
        t.stderr
    );
    assert!(exec[1] > 0, "zero run time per hit: {}", t.stderr);
    let all = row("all");
    assert!(all[0] > exec[0], "{}", t.stderr);
}
