//! Tree building, totals and text from synthetic record sets.
use super::text::{TextOptions, WIDTH, render};
use super::*;
use crate::record::ExecInfo;

const US: u64 = 1000;

/// A successful exec of `name` from `start` to `end` µs: copy 10, exec 20, startup 30,
/// reap 5 µs, the rest run. Its spawn overhead is 65 µs.
fn rec(
    id: u64,
    parent: Option<u64>,
    pid: u32,
    ppid: u32,
    name: &str,
    start: u64,
    end: u64,
) -> SpawnRecord {
    let mut r = SpawnRecord::new(pid, SpawnKind::Exec);
    r.id = id;
    r.parent_record = parent;
    r.ppid = Some(ppid);
    r.exec = Some(ExecInfo::ok(&format!("/bin/{name}")));
    r.t_start_ns = Some(start * US);
    r.t_end_ns = Some(end * US);
    r.phases_ns = Phases {
        copy: Some(10 * US),
        exec: Some(20 * US),
        startup: Some(30 * US),
        startup_loader: Some(25 * US),
        startup_init: Some(5 * US),
        run: Some((end - start - 65) * US),
        reap: Some(5 * US),
        ..Default::default()
    };
    r
}

/// `sh -c 'sh -c "true; true"; true'`: ids 1 (outer sh), 2 (inner sh), 3 and 4 (its trues),
/// 5 (the last true).
fn nested() -> Vec<SpawnRecord> {
    let mut outer = rec(1, None, 10, 1, "sh", 0, 10_000);
    outer.kind = SpawnKind::Root;
    vec![
        // Out of order on purpose: records come out as they end, children first.
        rec(3, Some(2), 12, 11, "true", 2_000, 3_000),
        rec(4, Some(2), 13, 11, "true", 3_500, 4_500),
        rec(2, Some(1), 11, 10, "sh", 1_000, 5_000),
        rec(5, Some(1), 14, 10, "true", 6_000, 7_000),
        outer,
    ]
}

fn by_name(t: &Tree, pid: u32) -> &Node {
    t.nodes.iter().find(|n| n.item.pid == pid).expect("node")
}

/// Runs `check` on the tree of `records`, then on the tree of the same records as a trace
/// written without ids has them (links inferred from pids and times).
fn check_with_and_without_ids(records: Vec<SpawnRecord>, check: impl Fn(&Tree)) {
    check(&Tree::from_records(&records));
    let old: Vec<SpawnRecord> = records
        .into_iter()
        .map(|mut r| {
            r.id = 0;
            r.parent_record = None;
            r
        })
        .collect();
    check(&Tree::from_records(&old));
}

#[test]
fn builds_the_tree_with_depths_and_subtree_totals() {
    let t = Tree::from_records(&nested());
    assert_eq!(t.roots.len(), 1);
    let order: Vec<u32> = t.preorder().iter().map(|&k| t.nodes[k].item.pid).collect();
    assert_eq!(order, [10, 11, 12, 13, 14]);
    let depths: Vec<u32> = t.preorder().iter().map(|&k| t.nodes[k].depth).collect();
    assert_eq!(depths, [0, 1, 2, 2, 1]);
    let outer = by_name(&t, 10);
    assert_eq!(outer.totals.below, 4);
    assert_eq!(outer.totals.overhead, 5 * 65 * US);
    assert_eq!(outer.totals.wall(), Some(10_000 * US));
    // Loader of five spawns, in its own column of the breakdown.
    assert_eq!(outer.totals.phases[5], 5 * 25 * US);
    let inner = by_name(&t, 11);
    assert_eq!(
        (inner.totals.below, inner.totals.overhead),
        (2, 3 * 65 * US)
    );
    assert_eq!(inner.totals.wall(), Some(4_000 * US));
    let leaf = by_name(&t, 12);
    assert_eq!((leaf.totals.below, leaf.totals.overhead), (0, 65 * US));
    assert_eq!(t.start(), Some(0));
}

/// Pid 20 lives twice; its second life spawned pid 30. The ids say which life, and so does
/// the inference from times when a trace has no ids.
#[test]
fn pid_reuse_does_not_confuse_lineage() {
    let records = vec![
        rec(1, None, 10, 1, "make", 0, 10_000),
        rec(2, Some(1), 20, 10, "cc", 100, 2_000),
        rec(3, Some(1), 20, 10, "sh", 3_000, 6_000),
        rec(4, Some(3), 30, 20, "true", 4_000, 5_000),
    ];
    let check = |t: &Tree| {
        let lives: Vec<&Node> = t.nodes.iter().filter(|n| n.item.pid == 20).collect();
        assert_eq!(lives.len(), 2);
        let cc = lives.iter().find(|n| n.item.name == "cc").expect("cc");
        let sh = lives.iter().find(|n| n.item.name == "sh").expect("sh");
        assert_eq!((cc.totals.below, sh.totals.below), (0, 1));
        assert_eq!(by_name(t, 30).depth, 2);
        assert_eq!(by_name(t, 10).totals.below, 3);
    };
    check_with_and_without_ids(records, check);
}

#[test]
fn bad_links_make_roots_and_threads_are_counted_not_placed() {
    let mut thread = rec(6, Some(1), 99, 10, "x", 100, 200);
    thread.kind = SpawnKind::Thread;
    let records = vec![
        rec(1, None, 10, 1, "a", 0, 1_000),
        // Points forward (a child cannot be older than its parent) and to itself.
        rec(2, Some(3), 11, 10, "b", 100, 500),
        rec(3, Some(3), 12, 10, "c", 100, 500),
        // Its parent is not in the set (filtered out).
        rec(4, Some(77), 13, 10, "d", 100, 500),
        thread,
    ];
    let t = Tree::from_records(&records);
    assert_eq!((t.nodes.len(), t.roots.len(), t.threads), (4, 4, 1));
    assert_eq!(t.preorder().len(), 4);
}

#[test]
fn text_puts_children_under_their_parent_with_their_own_and_subtree_times() {
    let t = Tree::from_records(&nested());
    let text = render(&t, TextOptions::default());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SPAWN TREE"), "{text}");
    let body = &lines[1..6];
    let names: Vec<String> = body
        .iter()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        names,
        ["sh 10.0ms", "├─ sh", "│ ├─", "│ └─", "└─ true"],
        "{text}"
    );
    // Own wall, own overhead ... subtree: below, overhead, wall.
    let cols = |l: &str| {
        l.split('│')
            .next_back()
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(cols(body[0]), ["4", "325µs", "10.0ms"], "{text}");
    assert_eq!(cols(body[1]), ["2", "195µs", "4.00ms"], "{text}");
    assert_eq!(cols(body[2]), ["0", "65.0µs", "1.00ms"], "{text}");
    assert!(
        body[1].contains("4.00ms   65.0µs   10.0µs   20.0µs   30.0µs"),
        "{text}"
    );
    for l in text.lines() {
        assert!(
            l.chars().count() <= WIDTH,
            "{} columns: {l}",
            l.chars().count()
        );
    }
}

#[test]
fn small_nodes_fold_into_n_more_with_their_totals() {
    let mut records = vec![rec(1, None, 10, 1, "sh", 0, 100_000)];
    // One long child with a short grandchild, then 50 short children.
    records.push(rec(2, Some(1), 11, 10, "cc1", 100, 60_000));
    records.push(rec(3, Some(2), 12, 11, "as", 200, 1_200));
    for i in 0..50u64 {
        let s = 61_000 + i * 700;
        records.push(rec(4 + i, Some(1), 100 + i as u32, 10, "true", s, s + 600));
    }
    let t = Tree::from_records(&records);
    let text = render(
        &t,
        TextOptions {
            min_total_ns: 5_000 * US,
        },
    );
    let lines: Vec<&str> = text.lines().collect();
    // Header, sh, cc1, cc1's "+1 more", sh's "+50 more", legend.
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[2].contains("├─ cc1"), "{text}");
    assert!(lines[3].contains("│  └─ +1 more < 5.00ms"), "{text}");
    assert!(lines[4].starts_with("└─ +50 more < 5.00ms"), "{text}");
    // The folded line carries the spawns below the folded ones (none) and their overhead.
    let tail = lines[4].split('│').next_back().unwrap_or("");
    assert_eq!(
        tail.split_whitespace().collect::<Vec<_>>(),
        ["0", "3.25ms"],
        "{text}"
    );
    // Without a threshold every spawn has its line.
    let all = render(&t, TextOptions::default());
    assert_eq!(all.lines().count(), 3 + 53, "{all}");
}

#[test]
fn deep_trees_and_long_names_fit_the_terminal() {
    let mut records = Vec::new();
    for d in 0..40u64 {
        let name = format!("a-very-long-program-name-that-goes-on-and-on-{d}");
        records.push(rec(
            d + 1,
            d.checked_sub(0).filter(|_| d > 0),
            d as u32 + 10,
            d as u32 + 9,
            &name,
            d,
            100_000 - d,
        ));
    }
    let mut failed = rec(100, Some(40), 999, 49, "nope", 500, 600);
    if let Some(e) = failed.exec.as_mut() {
        e.ret = Some(-2);
        e.errno_name = Some("ENOENT".into());
    }
    records.push(failed);
    let t = Tree::from_records(&records);
    assert_eq!(by_name(&t, 999).depth, 40);
    let text = render(&t, TextOptions::default());
    for l in text.lines() {
        assert!(
            l.chars().count() <= WIDTH,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    let deepest = text.lines().find(|l| l.contains("nope")).unwrap_or("");
    assert!(
        deepest.contains("…40") && deepest.contains("✗ENOENT"),
        "{text}"
    );
}

#[test]
fn verdict_names_the_heaviest_subtrees_with_their_phases() {
    let t = Tree::from_records(&nested());
    let v = verdict::render(&t, 5);
    let lines: Vec<&str> = v.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{v}");
    assert!(lines[0].contains("1 tree, 5 spawns"), "{v}");
    assert!(
        lines[1].contains("sh (pid 10, the traced command): 10.0ms wall, 4 spawns below it, 325µs spent spawning (3% of its wall: copy 50.0µs, exec 100µs, loader 125µs, init 25.0µs, reap 25.0µs)"),
        "{v}"
    );
    assert!(
        lines[2].contains("sh (pid 11, under sh): 4.00ms wall, 2 spawns below it"),
        "{v}"
    );
    assert_eq!(verdict::render(&Tree::default(), 5), "");
}

/// A warm spawn: `spawnprof run` (10) started the image of `true` (11), whose CLONE_PARENT
/// clone (12) is the requester's child. It hangs under the requester and is named as a warm
/// run of the image's program, also in a trace without ids (inferred from `ppid`).
#[test]
fn warm_spawn_hangs_under_the_requester_not_the_image() {
    let mut warm = rec(3, Some(1), 12, 10, "x", 2_000, 2_300);
    warm.kind = SpawnKind::Warm;
    warm.exec = None;
    warm.comm = "true".into();
    warm.cloned_by = Some(crate::record::ClonedBy {
        pid: 11,
        tid: 11,
        record: Some(2),
        comm: "true".into(),
        program: Some("/usr/bin/true".into()),
    });
    warm.phases_ns = Phases {
        copy: Some(90 * US),
        queue: Some(10 * US),
        run: Some(150 * US),
        reap: Some(50 * US),
        ..Default::default()
    };
    let records = vec![
        rec(1, None, 10, 1, "spawnprof", 0, 5_000),
        rec(2, Some(1), 11, 10, "true", 100, 6_000),
        warm,
    ];
    let check = |t: &Tree| {
        let req = by_name(t, 10);
        let kids: Vec<u32> = req.children.iter().map(|&k| t.nodes[k].item.pid).collect();
        assert_eq!(kids, [11, 12]);
        assert!(by_name(t, 11).children.is_empty());
        let w = by_name(t, 12);
        assert_eq!((w.item.name.as_str(), w.depth), ("true (warm)", 1));
        // Copy, queue and reap are its spawn overhead; run is not.
        assert_eq!(w.item.overhead(), 150 * US);
    };
    check_with_and_without_ids(records, check);
}
