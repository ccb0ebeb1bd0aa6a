//! The smoke test the kernel matrix (`cargo xtask matrix --smoke`) runs on every kernel: the
//! probes load, and one fork and one vfork spawn each come out as complete exec records. It
//! checks presence, not numbers, so it says quickly whether a kernel works at all.
mod common;

use common::{capable, exit0, lost_events, spawnprof_path, trace_json};
use serde_json::Value;

#[test]
fn smoke_probes_load_and_trace_fork_and_vfork() {
    if !capable("smoke_probes_load_and_trace_fork_and_vfork") {
        return;
    }
    let t = trace_json(
        &[],
        &[
            spawnprof_path(),
            "workload",
            "--strategy",
            "fork,vfork",
            "--count",
            "2",
            "--",
            exit0(),
        ],
    );
    assert_eq!(t.code, Some(0), "stderr: {}", t.stderr);
    let execs: Vec<&Value> = t
        .records
        .iter()
        .filter(|r| r["kind"] == "exec" && r["exec"]["filename"] == exit0())
        .collect();
    // glibc's fork() enters the kernel through clone(2), older ones through fork(2).
    let forks = execs
        .iter()
        .filter(|r| r["clone_syscall"] == "fork" || r["clone_syscall"] == "clone")
        .count();
    let vforks = execs
        .iter()
        .filter(|r| r["clone_syscall"] == "vfork")
        .count();
    assert!(
        forks == 2 && vforks == 2,
        "wanted 2 fork/clone and 2 vfork exec records of {}, got {forks} and {vforks}: {:#?}",
        exit0(),
        t.records
    );
    for r in &execs {
        let null: Vec<&str> = ["copy", "setup", "exec"]
            .into_iter()
            .filter(|p| r["phases_ns"][p].as_u64().is_none())
            .collect();
        assert!(
            null.is_empty(),
            "{} spawn: phases {null:?} are null: {r:#}",
            r["clone_syscall"]
        );
    }
    assert_eq!(lost_events(&t.stderr), 0, "stderr: {}", t.stderr);
}
