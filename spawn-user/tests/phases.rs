//! Root integration tests of phase attribution: known workloads, checked against what the
//! probes recorded (copy-on-write counts on both sides of a fork and none for vfork, phases
//! that partition each spawn inside spawn-fast's own clock readings, special spawn kinds,
//! volume). Only counts, identities and orderings are asserted: timings move with load.
mod common;

use common::{exit0, lost_events, spawnprof_path, trace_json, trace_workload};
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
    let workload = [
        "--count",
        "5",
        "--parent-rss",
        rss,
        "--child-touch",
        &k,
        "--parent-touch",
        &m,
    ];
    let t = trace_workload(&[], &workload, exit0());
    t.assert_ok();
    let recs = exec_records(&t.records, exit0());
    assert_eq!(recs.len(), 5, "records: {:#?}", t.records);
    recs
}

/// Nullable phase: Some(ns) when measured.
fn maybe_phase(r: &Value, name: &str) -> Option<u64> {
    r["phases_ns"][name].as_u64()
}

fn cow(r: &Value, side: &str) -> i64 {
    r["faults"][side]["cow"]
        .as_i64()
        .unwrap_or_else(|| panic!("no {side} cow count in {r:#}"))
}

/// What a fork leaves behind, in numbers load cannot change: the copy-on-write faults on each
/// side match the pages each side wrote, the child tears down an address space of its own at
/// exec, and the copy happens inside the clone syscall. (How the copy's *time* grows with the
/// parent's size is measured by `cargo xtask experiment fork-road`, not asserted here.)
#[test]
fn fork_cow_counts_match_pages_written_and_teardown_is_the_childs() {
    require_probes!();
    for r in &fork_touch("256M", 100, 50) {
        let (child, parent) = (cow(r, "child_pre_exec"), cow(r, "parent_after_fork"));
        assert!(
            (child - 100).abs() <= 2,
            "child cow {child}, wanted 100±2: {r:#}"
        );
        assert!(
            (parent - 50).abs() <= 2,
            "parent cow {parent}, wanted 50±2: {r:#}"
        );
        assert!(
            maybe_phase(r, "exec_teardown").is_some_and(|t| t > 0),
            "a forked child tears down its own copy at exec: {r:#}"
        );
        let copy = phase(r, "copy");
        let in_clone = r["clone_syscall_ns"].as_f64().expect("clone_syscall_ns");
        assert!(
            copy > 0.0 && copy <= in_clone,
            "copy {copy} ns must lie inside the clone syscall ({in_clone} ns): {r:#}"
        );
    }
}

/// vfork shares the parent's memory until exec: from a 256 MiB dirty parent, neither side
/// takes a single copy-on-write fault and the child has no address space of its own to tear
/// down. Counts, not times, so load cannot change them.
#[test]
fn vfork_copies_no_memory_from_a_big_parent() {
    require_probes!();
    let workload = [
        "--strategy",
        "vfork",
        "--count",
        "7",
        "--parent-rss",
        "256M",
    ];
    let t = trace_workload(&[], &workload, exit0());
    t.assert_ok();
    let recs = t.records_where(|r| r["kind"] == "exec" && r["clone_syscall"] == "vfork");
    assert_eq!(recs.len(), 7, "records: {:#?}", t.records);
    for r in recs {
        assert_eq!(cow(r, "child_pre_exec"), 0, "{r:#}");
        assert_eq!(cow(r, "parent_after_fork"), 0, "{r:#}");
        assert_eq!(maybe_phase(r, "exec_teardown"), None, "{r:#}");
        assert!(phase(r, "copy") > 0.0, "{r:#}");
    }
}

/// The main phases partition each spawn exactly, and the spawn lies within spawn-fast's own
/// clock readings: its entry mark is read before the probe's `prep` mark fires, its reap time
/// after the kernel's wait returned. Identities and orderings, so load cannot break them.
#[test]
fn phases_partition_the_spawn_inside_spawn_fast_wall_time() {
    require_probes!();
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
    let num = |v: &Value, k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {v:#}"))
    };
    for s in &spawned {
        let pid = s["pid"].as_u64().unwrap();
        let r = records
            .iter()
            .find(|r| r["pid"].as_u64() == Some(pid))
            .unwrap_or_else(|| panic!("no record for {s}"));
        let sum: u64 = [
            "prep", "copy", "queue", "setup", "exec", "startup", "run", "reap",
        ]
        .iter()
        .map(|p| phase(r, p) as u64)
        .sum();
        let (start, end) = (num(r, "t_start_ns"), num(r, "t_end_ns"));
        assert_eq!(sum, end - start, "phases do not partition the spawn: {r:#}");
        assert_eq!(num(r, "total_ns"), end - start, "{r:#}");
        assert!(
            num(s, "t_enter_ns") <= start && end <= num(s, "t_reaped_ns"),
            "the traced spawn [{start}, {end}] is not inside spawn-fast's clock readings {s}"
        );
    }
}

#[test]
fn special_spawns_are_recorded_as_such() {
    require_probes!();
    // Several execs in one process.
    let t = trace_json(&[], &["sh", "-c", "exec /bin/true"]);
    let root = t.records.iter().find(|r| r["kind"] == "root").unwrap();
    assert_eq!(root["exec"]["execs"], 2, "{root:#}");
    assert_eq!(root["comm"], "true", "{root:#}");
    // Fork without exec: a subshell.
    let t = trace_json(&[], &["sh", "-c", "(exit 3); true"]);
    let fork_only = t.records_where(|r| r["kind"] == "fork_only");
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
    t.assert_ok();
    let threads = t.records_where(|r| r["kind"] == "thread");
    assert_eq!(threads.len(), 1, "{:#?}", t.records);
    assert!(
        t.records.iter().all(|r| r["kind"] != "exec"),
        "{:#?}",
        t.records
    );
}

#[test]
fn ten_thousand_spawns_are_all_accounted_for() {
    require_probes!();
    let workload = ["--strategy", "vfork", "--count", "10000"];
    let t = trace_workload(&["--no-faults"], &workload, exit0());
    t.assert_ok();
    let records = t
        .records
        .iter()
        .filter(|r| r["kind"] == "exec" && r["ppid"].is_u64() && r["clone_syscall"] == "vfork")
        .count() as u64;
    let lost = lost_events(&t.stderr);
    assert_eq!(records + lost, 10_000, "records {records} + lost {lost}");
}
