//! Root integration tests of phase attribution: known workloads, checked against what the
//! probes recorded (copy and teardown growth with parent size, copy-on-write counts on both
//! sides of a fork, phase sums against spawn-fast's own clock, special spawn kinds, volume).
mod common;

use common::{capable, exit0, lost_events, median, spawnprof_path, trace_json};
use serde_json::Value;

fn exec_records(records: &[Value], filename: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["kind"] == "exec" && r["exec"]["filename"] == filename)
        .cloned()
        .collect()
}

fn phase(r: &Value, name: &str) -> f64 {
    r["phases_ns"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("phase {name} missing in {r:#}")) as f64
}

/// Raw fork of a static child from a parent with `rss` written; the child writes `k` pages
/// before exec, the parent `m` pages after the fork.
fn fork_touch(rss: &str, k: usize, m: usize) -> Vec<Value> {
    let (k, m) = (k.to_string(), m.to_string());
    let t = trace_json(
        &[],
        &[
            spawnprof_path(),
            "workload",
            "--count",
            "5",
            "--parent-rss",
            rss,
            "--child-touch",
            &k,
            "--parent-touch",
            &m,
            "--",
            exit0(),
        ],
    );
    assert_eq!(t.code, Some(0), "stderr: {}", t.stderr);
    let recs = exec_records(&t.records, exit0());
    assert_eq!(recs.len(), 5, "records: {:#?}", t.records);
    recs
}

#[test]
fn fork_copy_and_teardown_grow_with_parent_size_and_cow_counts_match() {
    if !capable("fork_copy_and_teardown_grow_with_parent_size_and_cow_counts_match") {
        return;
    }
    let small = fork_touch("0", 0, 0);
    let big = fork_touch("256M", 100, 50);
    for name in ["copy", "exec_teardown"] {
        let s = median(small.iter().map(|r| phase(r, name)).collect());
        let b = median(big.iter().map(|r| phase(r, name)).collect());
        assert!(
            b >= 10.0 * s,
            "{name}: median {b} ns at 256 MiB is not >= 10x {s} ns at 0 MiB"
        );
    }
    for r in &big {
        let child = r["faults"]["child_pre_exec"]["cow"].as_i64().unwrap();
        let parent = r["faults"]["parent_after_fork"]["cow"].as_i64().unwrap();
        assert!(
            (child - 100).abs() <= 2,
            "child cow {child}, wanted 100±2: {r:#}"
        );
        assert!(
            (parent - 50).abs() <= 2,
            "parent cow {parent}, wanted 50±2: {r:#}"
        );
    }
}

#[test]
fn vfork_copy_does_not_grow_with_parent_size() {
    if !capable("vfork_copy_does_not_grow_with_parent_size") {
        return;
    }
    let copy_at = |rss: &str| {
        let t = trace_json(
            &[],
            &[
                spawnprof_path(),
                "workload",
                "--strategy",
                "vfork",
                "--count",
                "7",
                "--parent-rss",
                rss,
                "--",
                exit0(),
            ],
        );
        assert_eq!(t.code, Some(0), "stderr: {}", t.stderr);
        let recs: Vec<Value> = t
            .records
            .into_iter()
            .filter(|r| r["kind"] == "exec" && r["clone_syscall"] == "vfork")
            .collect();
        assert_eq!(recs.len(), 7);
        median(recs.iter().map(|r| phase(r, "copy")).collect())
    };
    let (small, big) = (copy_at("0"), copy_at("256M"));
    // Not growing: a 256 MiB parent costs vfork no page-table copy; allow noise, not 10x.
    assert!(
        big < 3.0 * small,
        "vfork copy grew from {small} ns to {big} ns with a 256 MiB parent"
    );
}

#[test]
fn phase_sums_match_spawn_fast_wall_time() {
    if !capable("phase_sums_match_spawn_fast_wall_time") {
        return;
    }
    let out = common::spawnprof()
        .args([
            "trace",
            "--json",
            "--prep",
            "--",
            spawnprof_path(),
            "workload",
            "--report",
        ])
        .args([
            "--strategy",
            "fork,vfork,clone3,posix-spawn",
            "--count",
            "5",
        ])
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let records: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let spawned: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with("{\"strategy\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(spawned.len(), 20, "{stderr}");
    let mut errors = Vec::new();
    for s in &spawned {
        let pid = s["pid"].as_u64().unwrap();
        let r = records
            .iter()
            .find(|r| r["pid"].as_u64() == Some(pid))
            .unwrap_or_else(|| panic!("no record for {s}"));
        let wall = (s["t_reaped_ns"].as_u64().unwrap() - s["t_enter_ns"].as_u64().unwrap()) as f64;
        let sum: f64 = [
            "prep", "copy", "queue", "setup", "exec", "startup", "run", "reap",
        ]
        .iter()
        .map(|p| phase(r, p))
        .sum();
        errors.push(((sum - wall) / wall).abs());
    }
    let within = errors.iter().filter(|e| **e <= 0.02).count();
    // Each spawn's phases start at spawn-fast's entry mark and end at the kernel's wait return;
    // a preempted parent between that return and spawn-fast's own clock read can put a few
    // single spawns outside 2% on a shared 2-core VM, so 90% of them must be within.
    assert!(
        within * 10 >= errors.len() * 9,
        "only {within}/{} spawns within 2%: {errors:?}",
        errors.len()
    );
}

#[test]
fn special_spawns_are_recorded_as_such() {
    if !capable("special_spawns_are_recorded_as_such") {
        return;
    }
    // Several execs in one process.
    let t = trace_json(&[], &["sh", "-c", "exec /bin/true"]);
    let root = t.records.iter().find(|r| r["kind"] == "root").unwrap();
    assert_eq!(root["exec"]["execs"], 2, "{root:#}");
    assert_eq!(root["comm"], "true", "{root:#}");
    // Fork without exec: a subshell.
    let t = trace_json(&[], &["sh", "-c", "(exit 3); true"]);
    let fork_only: Vec<_> = t
        .records
        .iter()
        .filter(|r| r["kind"] == "fork_only")
        .collect();
    assert_eq!(fork_only.len(), 1, "{:#?}", t.records);
    assert_eq!(fork_only[0]["exit_code"], 3, "{:#}", fork_only[0]);
    // A thread is a thread, not a spawn. The interpreter itself, not a version-manager shim
    // that would spawn helpers of its own.
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed for the thread case");
    let python = String::from_utf8(python.stdout).unwrap();
    let t = trace_json(
        &[],
        &[
            python.trim(),
            "-c",
            "import threading; t = threading.Thread(target=lambda: None); t.start(); t.join()",
        ],
    );
    assert_eq!(t.code, Some(0), "{}", t.stderr);
    let threads: Vec<_> = t.records.iter().filter(|r| r["kind"] == "thread").collect();
    assert_eq!(threads.len(), 1, "{:#?}", t.records);
    assert!(
        t.records.iter().all(|r| r["kind"] != "exec"),
        "{:#?}",
        t.records
    );
}

#[test]
fn ten_thousand_spawns_are_all_accounted_for() {
    if !capable("ten_thousand_spawns_are_all_accounted_for") {
        return;
    }
    let t = trace_json(
        &["--no-faults"],
        &[
            spawnprof_path(),
            "workload",
            "--strategy",
            "vfork",
            "--count",
            "10000",
            "--",
            exit0(),
        ],
    );
    assert_eq!(t.code, Some(0), "{}", t.stderr);
    let records = t
        .records
        .iter()
        .filter(|r| r["kind"] == "exec" && r["ppid"].is_u64() && r["clone_syscall"] == "vfork")
        .count() as u64;
    let lost = lost_events(&t.stderr);
    assert_eq!(records + lost, 10_000, "records {records} + lost {lost}");
}
