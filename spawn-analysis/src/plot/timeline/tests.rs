//! The timeline from synthetic record sets: one row per spawn when small, folded rows that
//! account for every spawn when large.
use super::*;
use crate::record::{ExecInfo, Phases, SpawnKind, SpawnRecord};

/// A /bin/true-like spawn from `start` lasting `wall` µs; copy 10, exec 20 (open 5, load 15),
/// startup 30, reap 5, the rest run.
fn rec(id: u64, parent: Option<u64>, start: u64, wall: u64, ok: bool) -> SpawnRecord {
    let us = 1000;
    let mut r = SpawnRecord::new(id as u32 + 100, SpawnKind::Exec);
    r.id = id;
    r.parent_record = parent;
    r.exec = Some(ExecInfo {
        filename: "/bin/true".into(),
        ret: Some(if ok { 0 } else { -2 }),
        errno_name: (!ok).then(|| "ENOENT".into()),
        attempts: Vec::new(),
        execs: u32::from(ok),
        final_filename: None,
    });
    r.t_start_ns = Some(start * us);
    r.t_end_ns = Some((start + wall) * us);
    r.phases_ns = Phases {
        copy: Some(10 * us),
        exec: Some(20 * us),
        exec_open: ok.then_some(5 * us),
        exec_load: ok.then_some(15 * us),
        startup: ok.then_some(30 * us),
        run: Some((wall - 65) * us),
        reap: Some(5 * us),
        ..Default::default()
    };
    if !ok {
        r.phases_ns.run = Some((wall - 35) * us);
    }
    r
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

#[test]
fn small_trace_has_one_row_per_spawn_in_tree_order() {
    let mut recs = vec![rec(1, None, 0, 10_000, true)];
    recs[0].kind = SpawnKind::Root;
    if let Some(e) = recs[0].exec.as_mut() {
        e.filename = "/bin/sh".into();
    }
    for i in 0..8u64 {
        recs.push(rec(2 + i, Some(1), 100 + i * 1000, 800, true));
    }
    recs.push(rec(10, Some(2), 200, 100, false));
    let tree = Tree::from_records(&recs);
    let (svg, stats) = render(&tree, "t", &TimelineOptions::default());
    assert_eq!(count(&svg, r#"<g class="row">"#), 10, "{svg}");
    assert_eq!(count(&svg, r#"<g class="group">"#), 0);
    assert_eq!((stats.rows, stats.elided, stats.threshold_ns), (10, 0, 0));
    // Tree order: sh, the first true, its failed child, then the other trues.
    let labels: Vec<&str> = svg
        .split(r#"<g class="row">"#)
        .skip(1)
        .map(|row| row.split("</title>").nth(1).unwrap_or(""))
        .map(|row| {
            row.split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(labels[..3], ["sh", "true", "true ✗ENOENT"], "{labels:?}");
    // The failed exec is outlined and marked.
    assert_eq!(count(&svg, r#"stroke="red""#), 1);
    // Phases in the plot colours: copy red, run lighter.
    assert!(svg.contains(r##"fill="#d62728""##) && svg.contains(r#"fill-opacity="0.35""#));
    assert!(svg.trim_end().ends_with("</svg>"));
}

/// `sh -c 'for i in $(seq 2000); do /bin/true; done'`: the trues fold into one group row
/// that accounts for every one of them; the rows fit.
#[test]
fn two_thousand_spawns_fold_into_a_readable_chart() {
    let mut recs = vec![rec(1, None, 0, 2_500_000, true)];
    recs.push(rec(2, Some(1), 100, 30_000, true));
    for i in 0..1999u64 {
        recs.push(rec(3 + i, Some(1), 40_000 + i * 1200, 1000, true));
    }
    let tree = Tree::from_records(&recs);
    let opts = TimelineOptions::default();
    let (svg, stats) = render(&tree, "loop", &opts);
    let rows = count(&svg, r#"<g class="row">"#);
    let groups = count(&svg, r#"<g class="group">"#);
    assert_eq!((rows, groups), (stats.rows, stats.groups));
    assert!(rows + groups <= opts.max_rows, "{rows} + {groups} rows");
    assert_eq!(rows + stats.elided, 2001, "{stats:?}");
    assert!(stats.elided >= 1999, "{stats:?}");
    assert!(svg.contains(&format!("{} spawns whose subtree took &lt;", stats.elided)));
    // Merged in pixel space: far fewer rectangles than spawns.
    assert!(count(&svg, "<rect") < 600, "{} rects", count(&svg, "<rect"));
    // The same trace, each true with a child: still one row per shown spawn, all counted.
    let mut deep = recs.clone();
    for i in 0..1999u64 {
        deep.push(rec(3000 + i, Some(3 + i), 40_100 + i * 1200, 500, true));
    }
    let (_, s2) = render(&Tree::from_records(&deep), "deep", &opts);
    assert_eq!(s2.rows + s2.elided, 2001 + 1999, "{s2:?}");
}

#[test]
fn many_long_spawns_raise_the_threshold_until_rows_fit() {
    let mut recs = vec![rec(1, None, 0, 1_000_000, true)];
    for i in 0..1000u64 {
        // Walls from 1 ms to 1 s: nothing is narrower than a few pixels at first.
        recs.push(rec(2 + i, Some(1), i, 1000 + i * 999, true));
    }
    let opts = TimelineOptions {
        max_rows: 120,
        ..Default::default()
    };
    let (_, stats) = render(&Tree::from_records(&recs), "x", &opts);
    assert!(stats.rows + stats.groups <= 120, "{stats:?}");
    assert_eq!(stats.rows + stats.elided, 1001);
    // The longest spawns are the ones kept.
    assert!(stats.threshold_ns > 500_000_000, "{stats:?}");
}

#[test]
fn ticks_read_in_human_units() {
    assert_eq!(parts::tick(0, 1000), "0");
    assert_eq!(parts::tick(250_000, 50_000), "250µs");
    assert_eq!(parts::tick(1_500_000, 500_000), "1.5ms");
    assert_eq!(parts::tick(2_000_000_000, 1_000_000_000), "2s");
}
