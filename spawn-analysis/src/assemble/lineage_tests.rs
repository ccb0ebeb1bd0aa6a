//! Lineage (record ids, `parent_record`, `depth`) from synthetic event streams: nested shells,
//! pid reuse, re-parenting to a subreaper, threads, parents already running.
use spawn_common::{clone_flags as cf, syscall};

use super::synth::{Stream, all, assert_note, one, proc};
use super::*;
use crate::record::SpawnKind;

fn run(s: &Stream, root: Option<u32>) -> Vec<SpawnRecord> {
    let mut a = Assembler::default();
    if let Some(r) = root {
        a.set_root(r);
    }
    s.feed(&mut a);
    a.finish()
}

/// fork + exec + exit + reap of `child` by `parent`, starting at `t` µs.
fn spawn(s: &mut Stream, t: u64, parent: u32, child: u32, file: &str, life: u64) {
    let name = file.rsplit('/').next().unwrap_or(file);
    s.fork(t, proc(parent), child, syscall::CLONE, cf::SIGCHLD, "sh")
        .clone_exit(t + 160, proc(parent), i64::from(child))
        .exec_ok(t + 200, proc(child), file, name, false)
        .exit_and_reap(
            t + 200 + life,
            proc(child),
            name,
            t + 210 + life,
            proc(parent),
        );
}

/// `sh -c 'sh -c "true; true"; true'` run by an untraced tracer (pid 1).
#[test]
fn nested_shells_link_each_record_to_its_spawner() {
    let mut s = Stream::default();
    s.fork(0, proc(1), 10, syscall::CLONE3, cf::SIGCHLD, "spawnprof")
        .exec_ok(200, proc(10), "/bin/sh", "sh", false)
        .fork(1_000, proc(10), 11, syscall::CLONE, cf::SIGCHLD, "sh")
        .exec_ok(1_200, proc(11), "/bin/sh", "sh", false);
    spawn(&mut s, 2_000, 11, 12, "/bin/true", 500);
    spawn(&mut s, 3_000, 11, 13, "/bin/true", 500);
    s.exit_and_reap(4_000, proc(11), "sh", 4_010, proc(10));
    spawn(&mut s, 5_000, 10, 14, "/bin/true", 500);
    s.exit_and_reap(6_000, proc(10), "sh", 6_010, proc(1));
    let recs = run(&s, Some(10));
    assert_eq!(recs.len(), 5, "{recs:#?}");
    let mut ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5, "ids must be unique: {recs:#?}");
    assert!(ids.iter().all(|&i| i > 0));
    let (outer, inner) = (one(&recs, 10), one(&recs, 11));
    assert_eq!(outer.kind, SpawnKind::Root);
    assert_eq!((outer.parent_record, outer.depth), (None, 0));
    assert_eq!((inner.parent_record, inner.depth), (Some(outer.id), 1));
    for pid in [12, 13] {
        let r = one(&recs, pid);
        assert_eq!((r.parent_record, r.depth), (Some(inner.id), 2), "{r:#?}");
    }
    let last = one(&recs, 14);
    assert_eq!((last.parent_record, last.depth), (Some(outer.id), 1));
}

/// Pid 20 lives twice; the child of its second life belongs to the second record.
#[test]
fn pid_reuse_does_not_confuse_lineage() {
    let mut s = Stream::default();
    s.fork(0, proc(1), 10, syscall::CLONE, cf::SIGCHLD, "spawnprof");
    spawn(&mut s, 1_000, 10, 20, "/bin/first", 1_000);
    // Pid 20 again, a grandchild this time: spawned by 21, itself a child of 10.
    s.fork(5_000, proc(10), 21, syscall::CLONE, cf::SIGCHLD, "sh")
        .exec_ok(5_200, proc(21), "/bin/make", "make", false)
        .fork(6_000, proc(21), 20, syscall::FORK, cf::SIGCHLD, "make");
    spawn(&mut s, 7_000, 20, 30, "/bin/cc", 500);
    s.exit_and_reap(9_000, proc(20), "make", 9_010, proc(21))
        .exit_and_reap(9_500, proc(21), "make", 9_510, proc(10));
    let recs = run(&s, Some(10));
    let twenty = all(&recs, 20);
    assert_eq!(twenty.len(), 2, "{recs:#?}");
    let (first, second) = (twenty[0], twenty[1]);
    assert_ne!(first.id, second.id);
    let (root, make) = (one(&recs, 10), one(&recs, 21));
    assert_eq!((first.parent_record, first.depth), (Some(root.id), 1));
    assert_eq!((second.parent_record, second.depth), (Some(make.id), 2));
    let cc = one(&recs, 30);
    assert_eq!((cc.parent_record, cc.depth), (Some(second.id), 3));
}

/// A double fork: 40 forks 41 and exits; 41 is re-parented to the subreaper 10, which reaps
/// it. Its spawner stays 40.
#[test]
fn reparented_grandchild_keeps_its_spawner() {
    let mut s = Stream::default();
    s.fork(0, proc(1), 10, syscall::CLONE, cf::SIGCHLD, "spawnprof")
        .fork(1_000, proc(10), 40, syscall::FORK, cf::SIGCHLD, "sh")
        .fork(2_000, proc(40), 41, syscall::FORK, cf::SIGCHLD, "sh")
        .exit_and_reap(2_500, proc(40), "sh", 2_600, proc(10))
        .exec_ok(3_000, proc(41), "/bin/true", "true", false)
        .exit_and_reap(4_000, proc(41), "true", 4_100, proc(10));
    let recs = run(&s, Some(10));
    let (root, mid, grand) = (one(&recs, 10), one(&recs, 40), one(&recs, 41));
    assert_eq!(mid.kind, SpawnKind::ForkOnly);
    assert_eq!((mid.parent_record, mid.depth), (Some(root.id), 1));
    assert_eq!((grand.parent_record, grand.depth), (Some(mid.id), 2));
    assert_note(grand, |n| n.contains("reaped by pid 10"));
}

/// A thread's children belong to its process; the thread itself is a child of the process.
/// A process already running when tracing began is a tree root of depth 0.
#[test]
fn threads_and_partial_parents() {
    let thread_flags = cf::CLONE_VM | cf::CLONE_THREAD | cf::CLONE_SIGHAND;
    let mut s = Stream::default();
    // 60 was running before: its first event (an exec) opens a partial record.
    s.exec_ok(100, proc(60), "/usr/bin/python3", "python3", false)
        .fork(1_000, proc(60), 61, syscall::CLONE, thread_flags, "python3")
        .fork(2_000, (61, 60), 62, syscall::CLONE, cf::SIGCHLD, "python3")
        .exec_ok(2_200, proc(62), "/bin/true", "true", false)
        .exit_and_reap(3_000, proc(62), "true", 3_100, (61, 60))
        .process_exit(3_500, (61, 60), Some(false), "python3");
    let recs = run(&s, None);
    let py = one(&recs, 60);
    assert_eq!((py.parent_record, py.depth, py.complete), (None, 0, false));
    let thread = one(&recs, 61);
    assert_eq!(thread.kind, SpawnKind::Thread);
    assert_eq!((thread.parent_record, thread.depth), (Some(py.id), 1));
    let child = one(&recs, 62);
    assert_eq!((child.parent_record, child.depth), (Some(py.id), 1));
}

/// A long-running parent whose record was evicted keeps its children linked to it.
#[test]
fn lineage_survives_eviction_of_a_running_parent() {
    let cfg = AssemblerConfig {
        max_open: 1,
        ..AssemblerConfig::default()
    };
    let mut a = Assembler::with_config(cfg);
    let mut s = Stream::default();
    s.fork(0, proc(1), 10, syscall::CLONE, cf::SIGCHLD, "init")
        .exec_ok(200, proc(10), "/usr/sbin/cron", "cron", false);
    // While 11 runs, two records are open: cron's, the least recently active, is evicted.
    spawn(&mut s, 1_000, 10, 11, "/bin/sleep", 60_000);
    spawn(&mut s, 100_000, 10, 12, "/bin/true", 500);
    let mut recs = Vec::new();
    for e in &s.events {
        a.push(e.clone());
        recs.extend(a.drain_ready());
    }
    recs.extend(a.finish());
    assert!(a.stats().evicted > 0, "{recs:#?}");
    let cron = one(&recs, 10);
    assert_note(cron, |n| n.contains("evicted"));
    for pid in [11, 12] {
        let r = one(&recs, pid);
        assert_eq!((r.parent_record, r.depth), (Some(cron.id), 1), "{r:#?}");
    }
}
