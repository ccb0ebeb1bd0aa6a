//! Root integration test of the marks' fallbacks (`spawn_user::attach`): with the preferred
//! programs passed over (`SPAWNPROF_AVOID`), the next ways still give every exec sub-phase and
//! name fd execs, and the report says which way was taken. Older kernels take these ways for
//! real (no `bpf_loop` before 5.17, no `sched_prepare_exec` before 6.10); this keeps them
//! exercised on a kernel that does not need them. The syscall events' fentry/fexit ways are
//! passed over too, so that their syscall tracepoint fallbacks are exercised on kernels with
//! fentry (`syscall_free.rs` checks the fentry ways themselves).
mod common;

use common::{exit0, spawnprof, spawnprof_path};
use serde_json::Value;

#[test]
fn exec_sub_phases_and_fd_names_survive_the_fallbacks() {
    require_probes!();
    let out = spawnprof()
        .env(
            "SPAWNPROF_AVOID",
            "sys_enter_execveat,prepare_exec_btf,exit_mmap_btf,process_exec_btf,\
             clone_enter_fentry,clone_exit_fexit,execve_enter_fentry,execveat_enter_fentry,\
             execve_exit_fexit,exit_group_fentry,wait4_exit_fexit",
        )
        .args(["trace", "--json", "--no-startup", "--"])
        .args([spawnprof_path(), "workload", "--strategy", "fork,vfork"])
        .args(["--count", "1", "--", exit0()])
        .output()
        .expect("running spawnprof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    for note in [
        "execveat entry: tracepoint syscalls:sys_enter_execveat (fd walk: bounded loop)",
        "tp_btf sched_prepare_exec: passed over (SPAWNPROF_AVOID)",
        "tp_btf exit_mmap: passed over (SPAWNPROF_AVOID)",
        "tp_btf sched_process_exec: passed over (SPAWNPROF_AVOID)",
    ] {
        assert!(stderr.contains(note), "no {note:?} in: {stderr}");
    }
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let want = std::fs::canonicalize(exit0()).unwrap();
    let child = |syscall: &str| -> &Value {
        records
            .iter()
            .find(|r| r["kind"] == "exec" && r["clone_syscall"] == syscall)
            .unwrap_or_else(|| panic!("no {syscall} child in {records:#?}"))
    };
    for (syscall, own_mm) in [("clone", true), ("vfork", false)] {
        let r = child(syscall);
        // spawn-fast execs a cached fd: the name comes from the bounded in-kernel walk.
        assert_eq!(r["exec"]["filename"], want.to_str().unwrap(), "{r:#}");
        let ph = &r["phases_ns"];
        assert!(ph["exec_open"].as_u64().is_some(), "{r:#}");
        assert!(ph["exec_load"].as_u64().is_some(), "{r:#}");
        // Only a child with an mm of its own (fork) tears one down in its exec.
        assert_eq!(ph["exec_teardown"].as_u64().is_some(), own_mm, "{r:#}");
    }
}
