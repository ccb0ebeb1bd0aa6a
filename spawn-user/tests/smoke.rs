//! The smoke test the kernel matrix (`cargo xtask matrix --smoke`) runs on every kernel: the
//! probes load, fork and vfork spawns come out as exec records with every phase of the model
//! (the exec sub-phases included, whichever way the kernel let the probes reach them), and a
//! dynamically linked program has its loader and libc start-up phases. It checks presence,
//! not numbers, so it says quickly whether a kernel works at all.
mod common;

use common::{exit0, lost_events, trace_json, trace_workload};
use serde_json::Value;

#[test]
fn smoke_probes_load_and_trace_fork_and_vfork() {
    require_probes!();
    let t = trace_workload(&[], &["--strategy", "fork,vfork", "--count", "2"], exit0());
    t.assert_ok();
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
        // A vfork child has no address space of its own to tear down; a forked one does.
        let own_mm = r["clone_syscall"] != "vfork";
        let want = common::exec_spawn_phases(own_mm);
        assert_phases(r, &want);
        if !own_mm {
            assert!(r["phases_ns"]["exec_teardown"].is_null(), "{r:#}");
        }
    }
    assert_eq!(lost_events(&t.stderr), 0, "stderr: {}", t.stderr);

    // A dynamically linked program: the loader and libc start-up marks (uprobes) work too.
    let t = trace_json(&[], &["/bin/sh", "-c", "/bin/true; /bin/true"]);
    assert_eq!(t.code, Some(0), "stderr: {}", t.stderr);
    let trues: Vec<&Value> = t
        .records
        .iter()
        .filter(|r| r["kind"] == "exec" && r["comm"] == "true")
        .collect();
    assert_eq!(trues.len(), 2, "{:#?}", t.records);
    for r in trues {
        assert_phases(
            r,
            &["exec_open", "startup", "startup_loader", "startup_init"],
        );
    }
}

/// Every phase in `want` was measured for `r`; the message lists those that were not.
fn assert_phases(r: &Value, want: &[&str]) {
    let null: Vec<&str> = want
        .iter()
        .copied()
        .filter(|p| r["phases_ns"][p].as_u64().is_none())
        .collect();
    assert!(
        null.is_empty(),
        "{} spawn: phases {null:?} are null: {r:#}",
        r["clone_syscall"]
    );
}
