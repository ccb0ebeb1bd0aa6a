//! Assembly tests from synthetic event streams.
use spawn_common::{clone_flags as cf, fault_bucket as fb, mark, syscall};

use super::synth::{Stream, Task, assert_no_note, assert_note, fed, one, proc};
use super::*;
use crate::record::{CloneSyscall, SpawnKind};

fn run(s: &Stream) -> Vec<SpawnRecord> {
    fed(AssemblerConfig::default(), s).finish()
}

const US: u64 = 1000;

/// `parent` forking `child` at 0 µs: the parent's and the child's task, and the stream so far.
fn forked(parent: u32, child: u32, sc: u64, flags: u64, comm: &str) -> (Task, Task, Stream) {
    let mut s = Stream::default();
    s.fork(0, proc(parent), child, sc, flags, comm);
    (proc(parent), proc(child), s)
}

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
        .exit_and_reap(2060, c, "true", 2100, p)
        .faults(2101, p, fb::PARENT_AFTER_FORK, 101, 4, 4);
    let recs = run(&s);
    let r = one(&recs, 101);
    assert_eq!(r.kind, SpawnKind::Exec);
    assert!(r.complete, "{r:#?}");
    assert_eq!(r.ppid, Some(100));
    assert_eq!(
        (r.comm.as_str(), r.parent_comm.as_deref()),
        ("true", Some("bash"))
    );
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
    assert_eq!(
        (e.filename.as_str(), e.ret, e.execs),
        ("/bin/true", Some(0), 1)
    );
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

/// The main phases partition the record's span exactly.
fn assert_partition(r: &SpawnRecord) {
    let (Some(t0), Some(t1)) = (r.t_start_ns, r.t_end_ns) else {
        panic!("no span: {r:#?}");
    };
    assert_eq!(r.phases_ns.main_sum(), t1 - t0, "{:#?}", r.phases_ns);
    assert_eq!(r.total_ns, Some(t1 - t0));
}

/// A shell searching PATH fails a few execs before one succeeds; those failures leave the
/// vfork child on its parent's mm, so the teardown is still "none", not "not seen".
#[test]
fn vfork_child_after_failed_attempts_has_no_teardown_of_its_own() {
    let vf = cf::CLONE_VM | cf::CLONE_VFORK | cf::SIGCHLD;
    let (p, c, mut s) = forked(210, 211, syscall::VFORK, vf, "sh");
    s.exec_enter(200, c, "/nope/true")
        .exec_exit(210, c, -2)
        .exec_ok(300, c, "/usr/bin/true", "true", true)
        .clone_exit(640, p, 211)
        .exit_and_reap(900, c, "true", 950, p);
    let recs = run(&s);
    let r = one(&recs, 211);
    assert_eq!(r.phases_ns.exec_teardown, None);
    assert_note(r, |n| n.contains("CLONE_VM/vfork"));
}

#[test]
fn vfork_parent_returns_after_child_exec() {
    let vf = cf::CLONE_VM | cf::CLONE_VFORK | cf::SIGCHLD;
    let (p, c, mut s) = forked(200, 201, syscall::VFORK, vf, "sh");
    s.exec_ok(200, c, "/usr/bin/env", "env", true)
        // The parent resumes only once the child's exec has loaded the new image.
        .clone_exit(540, p, 201)
        .exit_and_reap(900, c, "env", 950, p);
    let recs = run(&s);
    let r = one(&recs, 201);
    assert!(r.complete, "{r:#?}");
    assert_partition(r);
    assert_eq!(r.clone_syscall, Some(CloneSyscall::Vfork));
    assert_eq!(r.clone_flag_names, ["CLONE_VM", "CLONE_VFORK", "SIGCHLD"]);
    // The clone syscall spans the child's setup and exec.
    assert_eq!(r.clone_syscall_ns, Some(540 * US));
    assert_eq!(r.phases_ns.exec_teardown, None);
    assert_eq!(
        r.phases_ns.exec_load,
        Some(200 * US),
        "prepare -> process_exec"
    );
    assert_note(r, |n| n.contains("CLONE_VM/vfork"));
    assert_eq!(
        r.startup_note.as_deref(),
        Some("no glibc startup marks (static or non-glibc program)")
    );
    assert_eq!(r.phases_ns.startup, None);
    // Without startup marks the run starts at the exec's return.
    assert_eq!(r.phases_ns.run, Some((900 - 520) * US));
}

#[test]
fn events_out_of_order_across_cpus() {
    let (p, c, mut s) = forked(300, 301, syscall::CLONE3, cf::SIGCHLD, "make");
    s.clone_exit(160, p, 301)
        .exec_ok(200, c, "/bin/cc", "cc", false)
        .exit_and_reap(700, c, "cc", 720, p);
    // Arrival order: the child's events (another CPU) overtake the parent's by a few µs, and
    // the child's first run carries a timestamp 2 µs *before* the parent's wakeup_new.
    let mut ev = s.events.clone();
    let first_run = ev
        .iter()
        .position(|e| matches!(e, RawEvent::CloneExit { ret: 0, .. }));
    let Some(i) = first_run else {
        panic!("no first run")
    };
    let mut fr = ev.remove(i);
    if let RawEvent::CloneExit { hdr, .. } = &mut fr {
        hdr.ts_ns = 118 * US;
    }
    ev.insert(1, fr); // right after clone entry: before newtask and wakeup
    let mut a = Assembler::new();
    for e in ev {
        a.push(e);
    }
    let recs = a.finish();
    let r = one(&recs, 301);
    assert!(r.complete, "{r:#?}");
    assert_partition(r);
    // The inverted boundary is clamped: no negative queue, nothing lost from the sum.
    assert_eq!(r.phases_ns.queue, Some(0));
    assert_eq!(r.phases_ns.copy, Some(120 * US));
    assert_eq!(r.phases_ns.setup, Some(80 * US));
    assert_no_note(r, |n| n.contains("partial"));
}

#[test]
fn pid_reuse_gives_two_records() {
    let (p, c, mut s) = forked(400, 401, syscall::CLONE, cf::SIGCHLD, "sh");
    s.exec_ok(200, c, "/bin/a", "a", false)
        .exit_and_reap(600, c, "a", 610, p)
        .fork(700, p, 401, syscall::CLONE, cf::SIGCHLD, "sh")
        .exec_ok(900, c, "/bin/b", "b", false)
        .exit_and_reap(1500, c, "b", 1510, p);
    let recs = run(&s);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert_eq!(recs[0].program(), Some("a"));
    assert_eq!(recs[1].program(), Some("b"));
    for r in &recs {
        assert!(r.complete, "{r:#?}");
        assert_partition(r);
    }
    assert_eq!(recs[1].t_start_ns, Some(700 * US));
    assert_eq!(recs[1].total_ns, Some(810 * US));

    // A reuse whose old record never exited (lost events) closes the old one, flagged.
    let mut s = Stream::default();
    s.fork(0, p, 401, syscall::CLONE, cf::SIGCHLD, "sh")
        .fork(700, p, 401, syscall::CLONE, cf::SIGCHLD, "sh")
        .exit_and_reap(900, c, "sh", 910, p);
    let recs = run(&s);
    assert_eq!(recs.len(), 2);
    assert!(!recs[0].complete);
    assert_note(&recs[0], |n| n.contains("pid reused"));
    assert!(
        recs[1].complete && recs[1].kind == SpawnKind::ForkOnly,
        "{:#?}",
        recs[1]
    );
}

#[test]
fn failed_execs_then_success_like_a_shell_path_search() {
    let (p, c, mut s) = forked(500, 501, syscall::CLONE, cf::SIGCHLD, "bash");
    s.exec_enter(200, c, "/usr/local/bin/prog")
        .exec_exit(210, c, -2)
        .exec_enter(220, c, "/usr/bin/prog")
        .prepare(230, c)
        .exec_exit(240, c, -13)
        .exec_ok(250, c, "/bin/prog", "prog", false)
        .exit_and_reap(800, c, "prog", 810, p);
    let recs = run(&s);
    let r = one(&recs, 501);
    assert_partition(r);
    assert!(r.complete);
    let e = r.exec.as_ref().expect("exec");
    assert_eq!(
        (e.filename.as_str(), e.ret, e.execs),
        ("/bin/prog", Some(0), 1)
    );
    let got: Vec<(&str, Option<&str>)> = e
        .attempts
        .iter()
        .map(|a| (a.filename.as_str(), a.errno_name.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("/usr/local/bin/prog", Some("ENOENT")),
            ("/usr/bin/prog", Some("EACCES")),
            ("/bin/prog", None)
        ]
    );
    // exec spans the failed attempts; the sub-phases describe the successful one.
    assert_eq!(r.phases_ns.exec, Some((570 - 200) * US));
    assert_eq!(r.phases_ns.exec_retry, Some(50 * US));
    assert_eq!(r.phases_ns.exec_open, Some(100 * US));
    assert_eq!(r.exec_syscall_ns, Some(320 * US));
    assert_no_note(r, |n| n.contains("failed"));
}

#[test]
fn exec_failing_for_good() {
    let (p, c, mut s) = forked(510, 511, syscall::CLONE, cf::SIGCHLD, "python3");
    s.exec_enter(200, c, "./script")
        .exec_exit(260, c, -8)
        .exit_group(270, c, 127)
        .exit_and_reap(280, c, "python3", 300, p);
    let recs = run(&s);
    let r = one(&recs, 511);
    assert_eq!(r.kind, SpawnKind::Exec);
    assert_partition(r);
    let e = r.exec.as_ref().expect("exec");
    assert_eq!(
        (e.ret, e.errno_name.as_deref(), e.execs),
        (Some(-8), Some("ENOEXEC"), 0)
    );
    assert_note(r, |n| n == "exec failed: ENOEXEC");
    assert_eq!(r.phases_ns.exec, Some(60 * US));
    assert_eq!(r.phases_ns.run, Some(20 * US));
    assert_eq!(r.exit_code, Some(127));
    assert_eq!(r.startup_note.as_deref(), Some("no successful exec"));
}

#[test]
fn several_execs_in_one_child() {
    // sh -c 'exec /bin/true': the child execs sh, sh execs true.
    let (p, c, mut s) = forked(600, 601, syscall::CLONE, cf::SIGCHLD, "make");
    s.exec_ok(200, c, "/bin/sh", "sh", false)
        .mark(600, c, mark::DL_DEBUG_STATE)
        .mark(700, c, mark::LIBC_START_MAIN)
        .exec_ok(800, c, "/bin/true", "true", false)
        // The second image's loader marks must not be taken as the first's.
        .mark(1300, c, mark::DL_DEBUG_STATE)
        .mark(1400, c, mark::LIBC_START_MAIN)
        .exit_and_reap(1500, c, "true", 1510, p);
    let recs = run(&s);
    let r = one(&recs, 601);
    assert_partition(r);
    let e = r.exec.as_ref().expect("exec");
    assert_eq!(e.execs, 2);
    assert_eq!(e.filename, "/bin/sh");
    assert_eq!(e.final_filename.as_deref(), Some("/bin/true"));
    assert_eq!(e.attempts.len(), 2);
    assert_eq!(r.comm, "true");
    assert_eq!(r.phases_ns.startup, Some(180 * US));
    assert_eq!(r.phases_ns.startup_loader, Some(80 * US));
    assert_eq!(r.phases_ns.startup_init, Some(100 * US));
    assert_eq!(r.phases_ns.run, Some(800 * US));
}

#[test]
fn fork_without_exec_is_a_worker() {
    let (p, c, mut s) = forked(700, 701, syscall::FORK, cf::SIGCHLD, "nginx");
    s.clone_exit(160, p, 701)
        .faults(400, c, fb::CHILD_PRE_EXEC, 701, 12, 9)
        .exit_group(500, c, 0)
        .exit_and_reap(510, c, "nginx", 530, p);
    let recs = run(&s);
    let r = one(&recs, 701);
    assert_eq!(r.kind, SpawnKind::ForkOnly);
    assert!(r.complete);
    assert_partition(r);
    assert_eq!(
        (r.phases_ns.setup, r.phases_ns.exec, r.exec.clone()),
        (None, None, None)
    );
    assert_eq!(r.phases_ns.run, Some(360 * US));
    assert_eq!(r.startup_note, None);
    assert_eq!(r.faults.child_pre_exec.count, 12);
    assert_eq!(r.exit_code, Some(0));
}

#[test]
fn threads_get_their_own_records() {
    let p = proc(800);
    let t = (805, 800);
    let flags =
        cf::CLONE_VM | cf::CLONE_FS | cf::CLONE_FILES | cf::CLONE_SIGHAND | cf::CLONE_THREAD;
    let mut s = Stream::default();
    s.clone_enter(0, p, syscall::CLONE3, flags)
        .newtask(40, p, 805, flags, "java")
        .wakeup(50, p, 805)
        .clone_exit(55, p, 805)
        .clone_exit(70, t, 0)
        // The thread's faults belong to its process, which has no record: not to the thread.
        .faults(80, t, fb::CHILD_POST_EXEC, 800, 3, 0)
        .process_exit(500, t, Some(false), "java");
    let mut a = fed(AssemblerConfig::default(), &s);
    let recs = a.finish();
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let r = &recs[0];
    assert_eq!((r.kind, r.pid, r.ppid), (SpawnKind::Thread, 805, Some(800)));
    assert!(r.complete, "{r:#?}");
    assert_partition(r);
    assert_eq!(
        (r.phases_ns.copy, r.phases_ns.queue, r.phases_ns.run),
        (Some(50 * US), Some(20 * US), Some(430 * US))
    );
    assert_eq!(r.phases_ns.reap, None);
    assert_eq!(r.faults.child_post_exec.count, 0);
    assert_eq!(a.stats().unattributed_faults, 1);
}

#[test]
fn post_exec_faults_are_summed() {
    let (p, c, mut s) = forked(900, 901, syscall::CLONE, cf::SIGCHLD, "sh");
    s.exec_ok(200, c, "/bin/ls", "ls", false)
        .faults(600, c, fb::CHILD_POST_EXEC, 901, 100, 10)
        .faults(700, (902, 901), fb::CHILD_POST_EXEC, 902, 50, 5)
        .exit_and_reap(800, c, "ls", 810, p);
    let r = run(&s).remove(0);
    let f = r.faults.child_post_exec;
    assert_eq!(
        (f.count, f.cow, f.timed, f.time_ns),
        (150, 15, 150, 450_000)
    );
    assert_eq!(r.faults.child_pre_exec.count, 0);
}

#[test]
fn parent_faults_after_the_reap_count_within_the_grace_window() {
    let (p, c, mut s) = forked(1000, 1001, syscall::CLONE, cf::SIGCHLD, "redis");
    s.exec_ok(200, c, "/bin/true", "true", false)
        .exit_and_reap(600, c, "true", 610, p)
        .faults(612, p, fb::PARENT_AFTER_FORK, 1001, 30, 30)
        .faults(5000, p, fb::PARENT_AFTER_FORK, 1001, 20, 20);
    let cfg = AssemblerConfig {
        reorder_window_ns: 10 * US,
        grace_ns: 10_000 * US,
        ..Default::default()
    };
    let mut a = Assembler::with_config(cfg);
    for e in &s.events {
        a.push(e.clone());
        // Reaped, but the grace window is still open: nothing is released yet.
        assert!(a.drain_ready().is_empty());
    }
    a.advance_to(10_500 * US);
    assert!(a.drain_ready().is_empty(), "released before reap + grace");
    a.advance_to(10_700 * US);
    let recs = a.drain_ready();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].faults.parent_after_fork.cow, 50);
    assert_eq!(a.open_records(), 0);
    assert!(a.finish().is_empty());
}

#[test]
fn spawns_in_flight_when_tracing_starts_are_partial() {
    let (p, c) = (proc(1100), proc(1101));
    let mut s = Stream::default();
    // Tracing starts after the fork: the child's exec is the first thing we see.
    s.exec_ok(200, c, "/bin/date", "date", false)
        .exit_and_reap(700, c, "date", 710, p);
    let r = run(&s).remove(0);
    assert!(!r.complete);
    assert_note(&r, |n| n.starts_with("partial"));
    assert_eq!((r.t_start_ns, r.total_ns, r.ppid), (None, None, None));
    assert_eq!(
        (r.phases_ns.copy, r.phases_ns.queue, r.phases_ns.setup),
        (None, None, None)
    );
    // What was seen is still measured.
    assert_eq!(r.phases_ns.exec, Some(320 * US));
    assert_eq!(r.phases_ns.reap, Some(10 * US));
    assert_eq!(r.kind, SpawnKind::Exec);

    // Only an exit seen: nothing can be said about what it was.
    let mut s = Stream::default();
    s.process_exit(50, proc(1200), Some(true), "old");
    let r = run(&s).remove(0);
    assert_eq!(r.kind, SpawnKind::Unknown);
    assert_eq!(r.phases_ns, Default::default());
}

#[test]
fn the_traced_command_is_the_root() {
    let (me, c, mut s) = forked(
        1300,
        1301,
        syscall::CLONE3,
        cf::CLONE_VM | cf::CLONE_VFORK | cf::SIGCHLD,
        "spawnprof",
    );
    s.exec_ok(200, c, "/usr/bin/make", "make", true)
        .clone_exit(530, me, 1301)
        .exit_and_reap(900, c, "make", 910, me);
    let mut a = fed(AssemblerConfig::default(), &s);
    // The root pid is known only once the spawn returned: set it late.
    a.set_root(1301);
    let r = a.finish().remove(0);
    assert_eq!(r.kind, SpawnKind::Root);
    assert!(r.complete);
    assert_eq!(r.parent_comm.as_deref(), Some("spawnprof"));
    assert_eq!(r.program(), Some("make"));
}

#[test]
fn unreaped_children_are_released_and_flagged() {
    let (p, c, d) = (proc(1400), proc(1401), proc(1402));
    let mut s = Stream::default();
    s.fork(0, p, 1401, syscall::CLONE, cf::SIGCHLD, "daemon")
        .fork(10, p, 1402, syscall::CLONE, cf::SIGCHLD, "daemon")
        .process_exit(300, p, Some(true), "daemon")
        .process_exit(400, c, Some(true), "daemon")
        .process_exit(400, d, Some(true), "daemon");
    let cfg = AssemblerConfig {
        reorder_window_ns: 10 * US,
        grace_ns: 100 * US,
        reap_timeout_ns: 50_000 * US,
        ..AssemblerConfig::default()
    };
    let mut a = fed(cfg, &s);
    a.advance_to(600 * US);
    let recs = a.drain_ready();
    // The parent died first: its children are orphans, released after the grace window.
    let pids: Vec<u32> = recs.iter().map(|r| r.pid).collect();
    assert!(pids.contains(&1401) && pids.contains(&1402), "{pids:?}");
    for r in recs.iter().filter(|r| r.pid != 1400) {
        assert!(!r.complete);
        assert_note(r, |n| n == "exited; no waiting parent seen");
        assert_eq!(r.t_end_ns, Some(400 * US));
    }

    // A living parent that never reaps: released after the reap timeout.
    let mut s = Stream::default();
    s.fork(0, p, 1401, syscall::CLONE, cf::SIGCHLD, "sloppy")
        .process_exit(300, c, Some(true), "x");
    let mut a = fed(cfg, &s);
    a.advance_to(40_000 * US);
    let early = a.drain_ready();
    assert!(early.is_empty(), "{early:#?}");
    a.advance_to(50_400 * US);
    let r = a.drain_ready().remove(0);
    assert_note(&r, |n| n.starts_with("not reaped within 50 ms"));

    // Tracing stops first.
    let mut s = Stream::default();
    s.fork(0, p, 1401, syscall::CLONE, cf::SIGCHLD, "sh")
        .fork(10, p, 1402, syscall::CLONE, cf::SIGCHLD, "sh")
        .process_exit(300, c, Some(true), "x");
    let recs = run(&s);
    assert_note(one(&recs, 1401), |n| n == "not reaped when tracing stopped");
    assert_note(one(&recs, 1402), |n| {
        n == "still running when tracing stopped"
    });
}

#[test]
fn prep_mark_starts_the_spawn() {
    let (p, c) = (proc(1500), proc(1501));
    let mut s = Stream::default();
    s.events.push(RawEvent::PrepMark {
        hdr: spawn_common::Header {
            kind: 0,
            cpu: 0,
            ts_ns: 0,
            tid: 1500,
            tgid: 1500,
        },
    });
    s.fork(40, p, 1501, syscall::CLONE, cf::SIGCHLD, "app")
        .exec_ok(300, c, "/bin/x", "x", false)
        .exit_and_reap(800, c, "x", 820, p);
    let r = run(&s).remove(0);
    assert_eq!(r.phases_ns.prep, Some(40 * US));
    assert_eq!(r.t_start_ns, Some(0));
    assert_partition(&r);
}

/// A spawn-fast call that cloned in another process (the zygote) leaves its prep mark
/// unused; the return mark closes it, so the thread's next plain clone gets no prep.
#[test]
fn prep_mark_without_a_clone_is_not_charged_to_the_next_spawn() {
    let (p, c) = (proc(1700), proc(1701));
    let hdr = |ts_ns| spawn_common::Header {
        kind: 0,
        cpu: 0,
        ts_ns,
        tid: 1700,
        tgid: 1700,
    };
    let mut s = Stream::default();
    s.events.push(RawEvent::PrepMark { hdr: hdr(0) });
    s.events.push(RawEvent::PrepEnd { hdr: hdr(10_000) });
    s.fork(40, p, 1701, syscall::VFORK, cf::SIGCHLD, "bench")
        .exec_ok(300, c, "/bin/x", "x", false)
        .exit_and_reap(800, c, "x", 820, p);
    let r = run(&s).remove(0);
    assert_eq!(r.phases_ns.prep, None, "{r:#?}");
    assert_eq!(r.t_start_ns, Some(40 * US));
    assert_partition(&r);
}

#[test]
fn arbitrary_streams_never_panic_and_complete_records_partition() {
    // A small deterministic generator: no dependency, same stream every run.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for _ in 0..200 {
        let mut s = Stream::default();
        let mut t = 0;
        for _ in 0..40 {
            t += next(50);
            let pid = 10 + next(4) as u32;
            let task = if next(5) == 0 {
                (pid + 100, pid)
            } else {
                proc(pid)
            };
            let other = 10 + next(4) as u32;
            match next(13) {
                0 => s.clone_enter(t, task, syscall::CLONE, cf::SIGCHLD),
                1 => s.newtask(
                    t,
                    task,
                    other,
                    if next(3) == 0 { cf::CLONE_THREAD } else { 0 },
                    "x",
                ),
                2 => s.wakeup(t, task, other),
                3 => s.clone_exit(t, task, next(3) as i64 * i64::from(other)),
                4 => s.exec_enter(t, task, "/bin/x"),
                5 => s.prepare(t, task),
                6 => s.exit_mmap(t, task),
                7 => s.process_exec(t, task, "x"),
                8 => s.exec_exit(t, task, -(next(3) as i64)),
                9 => s.process_exit(
                    t,
                    task,
                    [None, Some(true), Some(false)][next(3) as usize],
                    "x",
                ),
                10 => s.wait_exit(t, task, i64::from(other)),
                11 => s.mark(t, task, 1 + next(2)),
                _ => s.faults(t, task, next(3) as u32, other, 1, 1),
            };
        }
        let cfg = AssemblerConfig {
            reorder_window_ns: 20 * US,
            grace_ns: 100 * US,
            reap_timeout_ns: 500 * US,
            ..AssemblerConfig::default()
        };
        let mut a = Assembler::with_config(cfg);
        let mut recs = Vec::new();
        for e in s.events {
            a.push(e);
            recs.extend(a.drain_ready());
        }
        recs.extend(a.finish());
        for r in recs.iter().filter(|r| r.complete) {
            assert_partition(r);
        }
        assert_eq!(a.open_records(), 0);
    }
}

/// Memory stays bounded on a host traced for hours: a partial record that goes quiet is
/// released (flagged, counted) instead of being held until an exit that may never be seen.
#[test]
fn stale_partial_records_are_evicted_and_counted() {
    let mut s = Stream::default();
    // Already running when tracing began: its exec is the first thing seen of it.
    s.exec_ok(100, proc(1500), "/bin/sleep", "sleep", false);
    let cfg = AssemblerConfig {
        stale_ns: 1_000_000_000,
        ..AssemblerConfig::default()
    };
    let mut asm = fed(cfg, &s);
    asm.advance_to(500_000_000);
    assert!(asm.drain_ready().is_empty(), "not stale yet");
    asm.advance_to(2_000_000_000);
    let out = asm.drain_ready();
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_note(&out[0], |n| n.starts_with("evicted: partial"));
    assert_eq!(asm.stats().evicted, 1);
    assert_eq!(asm.open_records(), 0);
}

#[test]
fn too_many_open_records_evicts_the_least_recently_active() {
    let p = proc(1600);
    let mut s = Stream::default();
    // Three long-running children, created while tracing (never stale), started in turn.
    for (i, child) in [1601u32, 1602, 1603].into_iter().enumerate() {
        s.fork(i as u64 * 100, p, child, syscall::CLONE, cf::SIGCHLD, "srv");
    }
    let cfg = AssemblerConfig {
        max_open: 2,
        ..AssemblerConfig::default()
    };
    let mut asm = fed(cfg, &s);
    asm.advance_to(10_000_000);
    let out = asm.drain_ready();
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].pid, 1601, "the oldest goes first");
    assert_note(&out[0], |n| n.contains("more than 2 records open"));
    assert_eq!(asm.stats().evicted, 1);
    assert_eq!(asm.open_records(), 2);
}
