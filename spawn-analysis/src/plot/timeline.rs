//! `timeline.svg`: every spawn of a trace on one time axis, one row per spawn in tree order
//! (children under their parent, indented), each bar split into its phases in the colours
//! of the phase plots, `run` lighter because it is the program's own time, not the spawn's.
//!
//! Written by hand rather than with plotters: rows are a few thousand rectangles with
//! tooltips, and the elision below needs control over what becomes a row. A trace of
//! thousands of spawns cannot show one readable row each, so spawns whose whole subtree is
//! shorter than a threshold are folded, per parent, into one group row that draws when they
//! ran; the threshold grows until the rows fit, and the header says how many were folded.
use std::fmt::Write as _;

use super::LEAVES;
use super::svg::LEAF_COLORS;
use crate::phase::Phase;
use crate::report::fmt_ns;
use crate::tree::{Item, Tree};

mod parts;
#[cfg(test)]
mod tests;

use parts::{axis, esc, label, legend};

/// How much of a trace [`render`] shows as rows, and what it folds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineOptions {
    /// At most this many rows; the elision threshold grows until they fit.
    pub max_rows: usize,
    /// Up to this many rows nothing is folded unless `min_ns` says so: a small trace shows
    /// every spawn, however short.
    pub keep_all_below: usize,
    /// Fold spawns whose subtree is shorter than this, whatever the count (0: none).
    pub min_ns: u64,
}

impl Default for TimelineOptions {
    fn default() -> Self {
        TimelineOptions {
            max_rows: 300,
            keep_all_below: 100,
            min_ns: 0,
        }
    }
}

/// What the drawing shows, for the caller's message and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimelineStats {
    /// Rows of single spawns.
    pub rows: usize,
    /// Group rows (several folded sibling spawns drawn as one).
    pub groups: usize,
    /// Spawns folded into the group rows, descendants included.
    pub elided: usize,
    /// Subtrees shorter than this were folded (0: none).
    pub threshold_ns: u64,
}

enum Row {
    One(usize),
    /// Folded siblings (node indices) at a depth.
    Group(Vec<usize>, u32),
}

pub(super) const WIDTH: f64 = 1400.0;
pub(super) const LABELS: f64 = 330.0;
pub(super) const X0: f64 = LABELS + 10.0;
pub(super) const CHART: f64 = WIDTH - X0 - 30.0;
const TOP: f64 = 112.0;
const ROW: f64 = 16.0;
const BAR: f64 = 11.0;
/// Narrowest subtree, in pixels, worth a row of its own once the trace is large.
const MIN_PX: f64 = 3.0;

/// The rows for threshold `thr` (nodes with a shorter subtree are folded).
fn plan(tree: &Tree, thr: u64) -> Vec<Row> {
    let shown = |k: usize| thr == 0 || tree.nodes[k].totals.wall().is_none_or(|w| w >= thr);
    let mut rows = Vec::new();
    // (siblings, depth) lists to visit; a stack of iterators keeps tree order.
    let mut stack: Vec<(Vec<usize>, usize, u32)> = vec![(tree.roots.clone(), 0, 0)];
    while let Some((list, i, depth)) = stack.pop() {
        if i == 0 {
            let folded: Vec<usize> = list.iter().copied().filter(|&k| !shown(k)).collect();
            if !folded.is_empty() {
                // Drawn after the shown siblings: pushed first, popped last.
                stack.push((folded, usize::MAX, depth));
            }
        }
        if i == usize::MAX {
            rows.push(Row::Group(list, depth));
            continue;
        }
        let Some(pos) = list[i..].iter().position(|&k| shown(k)) else {
            continue;
        };
        let k = list[i + pos];
        rows.push(Row::One(k));
        stack.push((list, i + pos + 1, depth));
        let children = tree.nodes[k].children.clone();
        if !children.is_empty() {
            stack.push((children, 0, depth + 1));
        }
    }
    rows
}

/// The threshold and rows: none folded for a small trace, else subtrees narrower than a few
/// pixels, doubled until the rows fit.
fn choose(tree: &Tree, opts: &TimelineOptions, span: u64) -> (u64, Vec<Row>) {
    let mut thr = opts.min_ns;
    let mut rows = plan(tree, thr);
    if rows.len() <= opts.keep_all_below {
        return (thr, rows);
    }
    thr = thr.max((span as f64 * MIN_PX / CHART) as u64).max(1);
    rows = plan(tree, thr);
    while rows.len() > opts.max_rows && thr < u64::MAX / 2 {
        thr *= 2;
        rows = plan(tree, thr);
    }
    (thr, rows)
}

/// The SVG text, and what it shows.
pub fn render(tree: &Tree, title: &str, opts: &TimelineOptions) -> (String, TimelineStats) {
    let t0 = tree.start().unwrap_or(0);
    let t_end = tree
        .nodes
        .iter()
        .filter_map(|n| n.item.t_end.or(n.item.t_start))
        .max()
        .unwrap_or(t0);
    let span = t_end.saturating_sub(t0).max(1);
    let (thr, rows) = choose(tree, opts, span);
    let mut stats = TimelineStats {
        threshold_ns: thr,
        ..Default::default()
    };
    for r in &rows {
        match r {
            Row::One(_) => stats.rows += 1,
            Row::Group(list, _) => {
                stats.groups += 1;
                stats.elided += list
                    .iter()
                    .map(|&k| tree.nodes[k].totals.below + 1)
                    .sum::<usize>();
            }
        }
    }
    let x = |t: u64| X0 + t.saturating_sub(t0) as f64 / span as f64 * CHART;
    let height = TOP + ROW * rows.len() as f64 + 50.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>"#
    );
    let _ = write!(
        s,
        r#"<text x="12" y="24" font-size="17">{}</text>"#,
        esc(&format!(
            "{title}: {} spawns over {}",
            tree.nodes.len(),
            fmt_ns(span)
        ))
    );
    let mut note = String::from(
        "x: time since the traced command started. One row per spawn, children under their parent; \
         run drawn lighter; ✗ failed exec.",
    );
    if stats.elided > 0 {
        let _ = write!(
            note,
            " {} spawns whose subtree took < {} are grouped into {} row{} (grey: when they ran).",
            stats.elided,
            fmt_ns(thr),
            stats.groups,
            if stats.groups == 1 { "" } else { "s" }
        );
    }
    let _ = write!(s, r#"<text x="12" y="44">{}</text>"#, esc(&note));
    legend(&mut s);
    axis(&mut s, span, TOP - 6.0, height - 50.0);
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        if i % 2 == 1 {
            let _ = write!(
                s,
                r##"<rect x="0" y="{y}" width="{WIDTH}" height="{ROW}" fill="#f6f6f6"/>"##
            );
        }
        match row {
            Row::One(k) => one(&mut s, tree, *k, y, &x),
            Row::Group(list, depth) => group(&mut s, tree, list, *depth, thr, y, &x),
        }
    }
    s.push_str("</svg>\n");
    (s, stats)
}

/// Bar segments of one spawn from its start: (leaf index, ns, lighter). A phase that was not
/// measured ends the known part; the rest of the wall time is drawn as unknown (`None`).
fn segments(it: &Item) -> Vec<(Option<usize>, u64, bool)> {
    let p = &it.phases;
    let leaf = |n: Phase| LEAVES.iter().position(|&l| l == n);
    let mut out: Vec<(Option<usize>, u64, bool)> = Vec::new();
    let main = Phase::MAIN;
    let mut used = 0u64;
    for (i, &phase) in main.iter().enumerate() {
        let Some(v) = p.get(phase) else {
            // Missing prep, exec (no exec), startup (static program) are not gaps.
            if matches!(
                phase,
                Phase::Prep | Phase::Exec | Phase::Setup | Phase::Startup
            ) && i + 1 < main.len()
            {
                continue;
            }
            break;
        };
        used += v;
        let parts: Vec<(Phase, u64)> = phase
            .children()
            .filter_map(|s| Some((s, p.get(s)?)))
            .collect();
        if !parts.is_empty() && parts.iter().map(|x| x.1).sum::<u64>() == v {
            out.extend(parts.iter().map(|(s, v)| (leaf(*s), *v, false)));
        } else {
            let whole = match phase {
                Phase::Exec if it.failed.is_some() => Phase::ExecRetry,
                Phase::Exec => Phase::ExecLoad,
                Phase::Startup => Phase::StartupInit,
                other => other,
            };
            out.push((leaf(whole), v, phase == Phase::Run));
        }
    }
    if let Some(w) = it.wall().filter(|&w| w > used) {
        out.push((None, w - used, false));
    }
    out
}

fn one(s: &mut String, tree: &Tree, k: usize, y: f64, x: &dyn Fn(u64) -> f64) {
    let n = &tree.nodes[k];
    let it = &n.item;
    let _ = write!(
        s,
        r#"<g class="row"><title>{}</title>"#,
        esc(&format!(
            "{} (pid {}): wall {}, spawn overhead {}; subtree: {} spawns below, {} spawning",
            it.name,
            it.pid,
            it.wall().map_or("?".into(), fmt_ns),
            fmt_ns(it.overhead()),
            n.totals.below,
            fmt_ns(n.totals.overhead)
        ))
    );
    label(s, n.depth, &it.name, it.failed.as_deref(), y);
    let by = y + (ROW - BAR) / 2.0;
    let Some(start) = it.t_start else {
        // Running before tracing: known only from its end.
        let end = it.t_end.map_or(X0 + CHART, x);
        let _ = write!(
            s,
            r##"<rect x="{X0}" y="{by}" width="{:.2}" height="{BAR}" fill="#dddddd"/></g>"##,
            (end - X0).max(1.0)
        );
        return;
    };
    let mut t = start;
    for (leaf, v, light) in segments(it) {
        let (x0, x1) = (x(t), x(t + v));
        t += v;
        if x1 - x0 < 0.05 {
            continue;
        }
        let fill = leaf.map_or("#dddddd".to_string(), |l| {
            let c = LEAF_COLORS[l];
            format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
        });
        let op = if light { r#" fill-opacity="0.35""# } else { "" };
        let _ = write!(
            s,
            r#"<rect x="{x0:.2}" y="{by}" width="{:.2}" height="{BAR}" fill="{fill}"{op}/>"#,
            x1 - x0
        );
    }
    let (x0, x1) = (x(start), x(it.t_end.unwrap_or(t)).max(x(start) + 1.0));
    if it.failed.is_some() {
        let _ = write!(
            s,
            r#"<rect x="{x0:.2}" y="{by}" width="{:.2}" height="{BAR}" fill="none" stroke="red"/><text x="{:.2}" y="{:.1}" fill="red">✗</text>"#,
            x1 - x0,
            x1 + 3.0,
            y + 12.0
        );
    } else if x1 < X0 + CHART - 60.0 {
        let _ = write!(
            s,
            r##"<text x="{:.2}" y="{:.1}" fill="#555">{}</text>"##,
            x1 + 4.0,
            y + 12.0,
            it.wall().map_or(String::new(), fmt_ns)
        );
    }
    s.push_str("</g>");
}

fn group(
    s: &mut String,
    tree: &Tree,
    list: &[usize],
    depth: u32,
    thr: u64,
    y: f64,
    x: &dyn Fn(u64) -> f64,
) {
    // Every spawn folded here, descendants included, and their most common names.
    let mut all: Vec<usize> = Vec::new();
    let mut stack = list.to_vec();
    while let Some(k) = stack.pop() {
        all.push(k);
        stack.extend(&tree.nodes[k].children);
    }
    let mut names: std::collections::BTreeMap<&str, usize> = Default::default();
    for &k in &all {
        *names.entry(tree.nodes[k].item.name.as_str()).or_default() += 1;
    }
    let mut names: Vec<(&str, usize)> = names.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = names
        .iter()
        .take(3)
        .map(|(n, c)| format!("{n} ×{c}"))
        .collect();
    let failed = all
        .iter()
        .filter(|&&k| tree.nodes[k].item.failed.is_some())
        .count();
    let overhead: u64 = list.iter().map(|&k| tree.nodes[k].totals.overhead).sum();
    let text = format!("+{} < {}: {}", all.len(), fmt_ns(thr), top.join(", "));
    let _ = write!(
        s,
        r#"<g class="group"><title>{}</title>"#,
        esc(&format!(
            "{} spawns, each subtree shorter than {}, {} spent spawning{}",
            all.len(),
            fmt_ns(thr),
            fmt_ns(overhead),
            if failed > 0 {
                format!(", {failed} failed exec")
            } else {
                String::new()
            }
        ))
    );
    label(s, depth, &text, (failed > 0).then_some("failed"), y);
    // When they ran: their intervals merged in pixel space (a few rectangles, not thousands).
    let mut spans: Vec<(f64, f64)> = all
        .iter()
        .filter_map(|&k| {
            let it = &tree.nodes[k].item;
            Some((x(it.t_start?), x(it.t_end.unwrap_or(it.t_start?))))
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1.0 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let by = y + (ROW - BAR) / 2.0 + 2.0;
    for (a, b) in merged {
        let _ = write!(
            s,
            r##"<rect x="{a:.2}" y="{by}" width="{:.2}" height="{}" fill="#9a9a9a"/>"##,
            (b - a).max(1.0),
            BAR - 4.0
        );
    }
    s.push_str("</g>");
}
