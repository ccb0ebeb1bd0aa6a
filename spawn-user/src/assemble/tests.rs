//! Assembly tests from synthetic event streams.
use spawn_common::{clone_flags as cf, fault_bucket as fb, mark, syscall};

use super::synth::{Stream, proc};
use super::*;
use crate::record::{CloneSyscall, SpawnKind};

fn run(s: &Stream) -> Vec<SpawnRecord> {
    let mut a = Assembler::default();
    for e in &s.events {
        a.push(e.clone());
    }
    a.finish()
}

fn one(recs: &[SpawnRecord], pid: u32) -> &SpawnRecord {
    let found: Vec<_> = recs.iter().filter(|r| r.pid == pid).collect();
    assert_eq!(found.len(), 1, "records for {pid}: {recs:#?}");
    found[0]
}

const US: u64 = 1000;

#[test]
fn plain_fork_exec_phases_sum_to_wall_time() {
    let (p, c) = (proc(100), proc(101));
    let mut s = Stream::default();
    s.fork(1000, p, 101, syscall::CLONE, cf::SIGCHLD, "bash")
        .clone_exit(1140, p, 101)
        .faults(1190, c, fb::CHILD_PRE_EXEC, 101, 7, 5)
        .exec_ok(1200, c, "/bin/true", "true", false)
        .mark(1600, c, mark::DL_DEBUG_STATE)
        .mark(1900, c, mark::DL_DEBUG_STATE)
        .mark(2000, c, mark::LIBC_START_MAIN)
        .exit_group(2050, c, 3)
        .process_exit(2060, c, Some(true), "true")
        .wait_exit(2100, p, 101)
        .faults(2101, p, fb::PARENT_AFTER_FORK, 101, 4, 4);
    let recs = run(&s);
    let r = one(&recs, 101);
    assert_eq!(r.kind, SpawnKind::Exec);
    assert!(r.complete, "{r:#?}");
    assert_eq!(r.ppid, Some(100));
    assert_eq!((r.comm.as_str(), r.parent_comm.as_deref()), ("true", Some("bash")));
    assert_eq!(r.clone_syscall, Some(CloneSyscall::Clone));
    assert_eq!(r.clone_flag_names, ["SIGCHLD"]);
    assert_eq!(r.t_start_ns, Some(1000 * US));
    assert_eq!(r.t_end_ns, Some(2100 * US));
    let ph = &r.phases_ns;
    assert_eq!(ph.main_sum(), 1100 * US);
    assert_eq!(ph.prep, None);
    assert_eq!(ph.copy, Some(120 * US));
    assert_eq!(ph.queue, Some(30 * US));
    assert_eq!(ph.setup, Some(50 * US));
    assert_eq!(ph.exec, Some(320 * US));
    assert_eq!(ph.exec_retry, Some(0));
    assert_eq!(ph.exec_open, Some(100 * US));
    assert_eq!(ph.exec_teardown, Some(150 * US));
    assert_eq!(ph.exec_load, Some(50 * US));
    assert_eq!(ph.exec_finish, Some(20 * US));
    assert_eq!(ph.startup, Some(480 * US));
    assert_eq!(ph.startup_loader, Some(380 * US));
    assert_eq!(ph.startup_init, Some(100 * US));
    assert_eq!(ph.run, Some(60 * US));
    assert_eq!(ph.reap, Some(40 * US));
    assert_eq!(r.clone_syscall_ns, Some(140 * US));
    assert_eq!(r.exec_syscall_ns, Some(320 * US));
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(r.faults.child_pre_exec.cow, 5);
    assert_eq!(r.faults.parent_after_fork.count, 4);
    assert_eq!(r.startup_note, None);
    let e = r.exec.as_ref().expect("exec info");
    assert_eq!((e.filename.as_str(), e.ret, e.execs), ("/bin/true", Some(0), 1));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}
