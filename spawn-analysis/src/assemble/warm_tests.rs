//! Warm spawns (and `CLONE_PARENT` clones in general) from synthetic event streams: a parked
//! image clones itself with `CLONE_PARENT` for its parent, the requester, which reaps the
//! child. The probes report the image as the cloner (`task_newtask` and `sched_process_fork`
//! fire in the calling task); the record must name the requester as the parent.
use spawn_common::{clone_flags as cf, fault_bucket as fb, syscall};

use super::synth::{Stream, assert_no_note, assert_note, one, proc};
use super::*;
use crate::record::{CloneSyscall, SpawnKind};
use crate::report::summary::Summary;
use crate::tree::Tree;

const US: u64 = 1000;

/// spawn-fast's flags for a warm child: no exit signal (clone3 wants 0 with CLONE_PARENT).
const WARM: u64 = cf::CLONE_PARENT | 0x0020_0000 | 0x0100_0000;

const REQUESTER: u32 = 100;
const IMAGE: u32 = 200;

fn run(s: &Stream) -> Vec<SpawnRecord> {
    let mut a = Assembler::default();
    a.set_root(REQUESTER);
    s.feed(&mut a);
    a.finish()
}

/// The traced command (pid 100, `spawnprof run`, started by an untraced tracer, pid 1)
/// starts the image of `/usr/bin/true` (pid 200) at 1 ms, which parks after its exec.
fn image() -> Stream {
    let mut s = Stream::default();
    s.fork(
        0,
        proc(1),
        REQUESTER,
        syscall::CLONE3,
        cf::SIGCHLD,
        "spawnprof",
    )
    .clone_exit(160, proc(1), i64::from(REQUESTER))
    .exec_ok(
        200,
        proc(REQUESTER),
        "/usr/bin/spawnprof",
        "spawnprof",
        false,
    )
    .fork(
        1_000,
        proc(REQUESTER),
        IMAGE,
        syscall::CLONE3,
        cf::SIGCHLD,
        "spawnprof",
    )
    .clone_exit(1_160, proc(REQUESTER), i64::from(IMAGE))
    .exec_ok(1_200, proc(IMAGE), "/usr/bin/true", "true", false);
    s
}

/// One warm spawn of `child` at `t` µs: the image clones, the child runs `/usr/bin/true`'s
/// main and exits, the requester reaps it.
fn warm(s: &mut Stream, t: u64, child: u32) {
    s.fork(t, proc(IMAGE), child, syscall::CLONE3, WARM, "true")
        .clone_exit(t + 160, proc(IMAGE), i64::from(child))
        .faults(t + 170, proc(IMAGE), fb::PARENT_AFTER_FORK, child, 3, 3)
        .faults(t + 390, proc(child), fb::CHILD_PRE_EXEC, child, 20, 4)
        .exit_group(t + 400, proc(child), 0)
        .exit_and_reap(t + 410, proc(child), "true", t + 450, proc(REQUESTER));
}

#[test]
fn warm_spawn_is_the_requesters_child_with_the_image_as_cloner() {
    let mut s = image();
    warm(&mut s, 5_000, 201);
    let recs = run(&s);
    let (req, img, r) = (one(&recs, REQUESTER), one(&recs, IMAGE), one(&recs, 201));
    assert_eq!((req.kind, img.kind), (SpawnKind::Root, SpawnKind::Exec));
    assert_eq!(img.parent_record, Some(req.id));
    // The image says what it is: it parked inside __libc_start_main, its clones run main.
    assert_note(img, |n| n.starts_with("made 1 CLONE_PARENT clone ("));
    assert_eq!(
        img.startup_note.as_deref(),
        Some("parked before __libc_start_main (a warm image)")
    );
    assert_eq!(r.kind, SpawnKind::Warm, "{r:#?}");
    // The kernel's parent, not the process that called clone.
    assert_eq!(r.ppid, Some(REQUESTER));
    assert_eq!(r.parent_record, Some(req.id));
    assert_eq!(r.depth, img.depth);
    assert_eq!(r.parent_comm.as_deref(), Some("spawnprof"));
    assert_eq!(r.parent_tid, None);
    let by = r.cloned_by.as_ref().expect("cloned_by");
    assert_eq!((by.pid, by.tid, by.record), (IMAGE, IMAGE, Some(img.id)));
    assert_eq!(by.comm, "true");
    assert_eq!(by.program.as_deref(), Some("/usr/bin/true"));
    assert_eq!(r.warm_program(), Some("true"));
    assert_eq!(r.program(), None);
    assert_eq!(r.exec, None);
    assert_eq!(r.clone_syscall, Some(CloneSyscall::Clone3));
    assert_eq!(
        r.clone_flag_names,
        ["CLONE_PARENT", "CLONE_CHILD_CLEARTID", "CLONE_CHILD_SETTID"]
    );
    // Reaped by its parent, the requester: complete, and no "not its parent" note.
    assert!(r.complete, "{r:#?}");
    assert_no_note(r, |n| n.contains("not its parent"));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.exit_code, Some(0));
    // Only what the probes measure for a fork without exec: copy, queue, run, reap.
    let p = &r.phases_ns;
    assert_eq!(p.copy, Some(120 * US));
    assert_eq!(p.queue, Some(30 * US));
    assert_eq!(p.run, Some(260 * US));
    assert_eq!(p.reap, Some(40 * US));
    for absent in [
        p.prep,
        p.setup,
        p.exec,
        p.exec_load,
        p.startup,
        p.startup_loader,
    ] {
        assert_eq!(absent, None, "{p:#?}");
    }
    assert_eq!(r.t_start_ns, Some(5_000 * US));
    assert_eq!(r.total_ns, Some(450 * US));
    assert_eq!(p.main_sum(), 450 * US);
    assert_eq!(r.clone_syscall_ns, Some(160 * US));
    assert_eq!(r.startup_note, None);
    // The image's copy-on-write faults after the clone are this spawn's parent-side bill.
    assert_eq!(r.faults.parent_after_fork.cow, 3);
    assert_eq!(r.faults.child_pre_exec.count, 20);
}

#[test]
fn warm_spawns_hang_under_the_requester_and_are_summarised_by_program() {
    let mut s = image();
    for (k, child) in [201, 202, 203].into_iter().enumerate() {
        warm(&mut s, 5_000 + 1_000 * k as u64, child);
    }
    // An ordinary exec spawn of the same program, for the summary's grouping.
    s.fork(
        9_000,
        proc(REQUESTER),
        204,
        syscall::CLONE3,
        cf::SIGCHLD,
        "spawnprof",
    )
    .clone_exit(9_160, proc(REQUESTER), 204)
    .exec_ok(9_200, proc(204), "/usr/bin/true", "true", false)
    .exit_and_reap(9_800, proc(204), "true", 9_850, proc(REQUESTER))
    // The requester exits; its image exits after it (the socket closed) and goes to
    // a subreaper: nothing of that touches the warm records.
    .exit_and_reap(10_000, proc(REQUESTER), "spawnprof", 10_050, proc(1))
    .process_exit(10_100, proc(IMAGE), Some(true), "true");
    let recs = run(&s);
    let tree = Tree::from_records(&recs);
    let node = |pid: u32| {
        tree.nodes
            .iter()
            .position(|n| n.item.pid == pid)
            .expect("node")
    };
    let (req, img) = (node(REQUESTER), node(IMAGE));
    let under_req: Vec<u32> = tree.nodes[req]
        .children
        .iter()
        .map(|&k| tree.nodes[k].item.pid)
        .collect();
    assert_eq!(under_req, [IMAGE, 201, 202, 203, 204]);
    assert!(tree.nodes[img].children.is_empty());
    assert_eq!(tree.nodes[node(202)].item.name, "true (warm)");
    assert_eq!(tree.nodes[node(204)].item.name, "true");
    assert_eq!(tree.nodes[req].totals.below, 5);

    let mut sum = Summary::new();
    for r in &recs {
        sum.add(r);
    }
    let programs = sum.programs();
    assert_eq!(programs[0], "true (warm)", "{programs:?}");
    assert!(programs.iter().any(|p| p == "true"), "{programs:?}");
    let text = sum.render();
    assert!(text.contains("3 warm"), "{text}");
    assert!(text.contains("true (warm): 3 spawns, 3 complete"), "{text}");
}

#[test]
fn clone_parent_from_a_process_traced_mid_life_has_no_known_parent() {
    // The image was already parked when tracing started: only its clone is seen.
    let mut s = Stream::default();
    s.fork(1_000, proc(IMAGE), 201, syscall::CLONE3, WARM, "true")
        .clone_exit(1_160, proc(IMAGE), 201)
        .exit_and_reap(1_500, proc(201), "true", 1_550, proc(REQUESTER));
    let recs = run(&s);
    let r = one(&recs, 201);
    assert_eq!(r.kind, SpawnKind::Warm);
    assert_eq!(
        (r.ppid, r.parent_record, r.parent_comm.as_deref()),
        (None, None, None)
    );
    assert_eq!(r.depth, 0);
    let by = r.cloned_by.as_ref().expect("cloned_by");
    assert_eq!(
        (by.pid, by.record, by.program.as_deref()),
        (IMAGE, None, None)
    );
    // Its program is then only known from its comm.
    assert_eq!(r.warm_program(), Some("true"));
    assert_note(r, |n| {
        n.contains("CLONE_PARENT") && n.contains("not traced")
    });
    // The reap is still measured.
    assert_eq!(r.phases_ns.reap, Some(50 * US));
}

#[test]
fn clone_parent_after_the_requester_exited_is_not_attributed_to_it() {
    let mut s = image();
    s.exit_and_reap(3_000, proc(REQUESTER), "spawnprof", 3_050, proc(1))
        .fork(5_000, proc(IMAGE), 201, syscall::CLONE3, WARM, "true")
        .clone_exit(5_160, proc(IMAGE), 201)
        .process_exit(5_500, proc(201), Some(true), "true");
    let recs = run(&s);
    let r = one(&recs, 201);
    assert_eq!(
        (r.kind, r.ppid, r.parent_record),
        (SpawnKind::Warm, None, None)
    );
    assert_note(r, |n| n.contains("had exited"));
}

#[test]
fn clone_parent_child_that_execs_is_an_exec_spawn_of_the_requester() {
    let mut s = image();
    s.fork(5_000, proc(IMAGE), 201, syscall::CLONE3, WARM, "true")
        .clone_exit(5_160, proc(IMAGE), 201)
        .exec_ok(5_200, proc(201), "/bin/echo", "echo", false)
        .exit_and_reap(5_900, proc(201), "echo", 5_950, proc(REQUESTER));
    let recs = run(&s);
    let r = one(&recs, 201);
    assert_eq!(r.kind, SpawnKind::Exec);
    assert_eq!(r.ppid, Some(REQUESTER));
    assert_eq!(r.parent_record, Some(one(&recs, REQUESTER).id));
    assert_eq!(r.cloned_by.as_ref().map(|c| c.pid), Some(IMAGE));
    assert_eq!(r.program(), Some("echo"));
    assert_eq!(r.warm_program(), None);
    assert!(r.complete, "{r:#?}");
}

/// A warm child's own CLONE_PARENT clone (nested) also goes to the requester.
#[test]
fn nested_clone_parent_resolves_to_the_same_parent() {
    let mut s = image();
    s.fork(5_000, proc(IMAGE), 201, syscall::CLONE3, WARM, "true")
        .clone_exit(5_160, proc(IMAGE), 201)
        .fork(5_200, proc(201), 202, syscall::CLONE3, WARM, "true")
        .clone_exit(5_360, proc(201), 202)
        .exit_and_reap(5_500, proc(202), "true", 5_550, proc(REQUESTER))
        .exit_and_reap(5_600, proc(201), "true", 5_650, proc(REQUESTER));
    let recs = run(&s);
    let req = one(&recs, REQUESTER).id;
    for pid in [201, 202] {
        let r = one(&recs, pid);
        assert_eq!(
            (r.kind, r.ppid),
            (SpawnKind::Warm, Some(REQUESTER)),
            "{r:#?}"
        );
        assert_eq!(r.parent_record, Some(req));
    }
    assert_eq!(one(&recs, 202).cloned_by.as_ref().map(|c| c.pid), Some(201));
}

#[test]
fn warm_record_round_trips_through_json_and_csv() {
    let mut s = image();
    warm(&mut s, 5_000, 201);
    let recs = run(&s);
    let r = one(&recs, 201);
    let line = crate::report::json::to_line(r).expect("json");
    let v: serde_json::Value = serde_json::from_str(&line).expect("parse");
    assert_eq!(v["kind"], "warm");
    assert_eq!(v["cloned_by"]["pid"], IMAGE);
    assert_eq!(v["cloned_by"]["program"], "/usr/bin/true");
    assert_eq!(v["parent_tid"], serde_json::Value::Null);
    assert_eq!(&crate::report::json::from_line(&line).expect("back"), r);
    let cols = crate::report::csv::header();
    let row = crate::report::csv::row(r);
    let cells: Vec<(&str, &str)> = cols.split(',').zip(row.split(',')).collect();
    assert!(cells.contains(&("kind", "warm")), "{cells:?}");
    assert!(cells.contains(&("cloned_by.pid", "200")), "{cells:?}");
    assert!(
        cells.contains(&("cloned_by.program", "/usr/bin/true")),
        "{cells:?}"
    );
    // Records written before the field existed still parse.
    let mut old = v.clone();
    old.as_object_mut().expect("object").remove("cloned_by");
    let back = crate::report::json::from_line(&old.to_string()).expect("old record");
    assert_eq!(back.cloned_by, None);
}
