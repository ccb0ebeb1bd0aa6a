//! The analysis behind `spawnprof compare`: is command B faster to spawn than command A, by
//! how much, with an interval that survives an A/A test, and in which phase does the difference
//! live? Measuring lives in spawn-user (`spawn_user::compare`); everything here is pure.
//!
//! Design: `runs` blocks; in each block every command gets one untraced run (`warmup` spawns,
//! then `spawns` timed spawn+wait) in a freshly shuffled order, then one traced run (same
//! order) for its phases. Wall time comes only from untraced runs, since tracing costs differ
//! between programs (startup uprobes fire only for dynamic ones). Each block yields one paired
//! ratio per command pair, and the interval is over blocks (see [`crate::stats`]).

pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::phase::Phase;
use crate::record::{SpawnKind, SpawnRecord};
use crate::report::json;
use crate::stats::{self, Interval, Verdict, median_f64, paired_ratio};

/// How the measurements were taken (echoed in the report).
#[derive(Clone, Debug)]
pub struct Design {
    /// The command lines as given.
    pub labels: Vec<String>,
    /// Blocks: each runs every command once, in a fresh random order.
    pub runs: usize,
    /// Untimed spawns at the start of each run.
    pub warmup: usize,
    /// Timed spawns per command per run (their median is the run's value).
    pub spawns: usize,
    /// Seed of the run-order shuffle, printed so that a comparison can be repeated.
    pub seed: u64,
}

/// What one command gave over all blocks: one value per run, in run order.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Median wall time (spawn to reap, untraced) of each run's timed spawns, ns.
    pub wall_runs: Vec<f64>,
    /// Per phase: the median over each traced run's spawns, ns (phases a run lacked: absent).
    pub phase_runs: BTreeMap<Phase, Vec<f64>>,
    /// Position of this command in each block's order (0 = first).
    pub order: Vec<usize>,
    /// Spawns that exited non-zero or by a signal (reported, not hidden).
    pub failed_spawns: usize,
}

/// One command's summary.
#[derive(Clone, Debug, Serialize)]
pub struct CommandSummary {
    /// The command line as given.
    pub command: String,
    /// Median of the per-run median wall times, ns.
    pub wall_ns: f64,
    /// Each run's median wall time, ns, in run order.
    pub wall_ns_runs: Vec<f64>,
    /// Median over runs of each phase's per-run median, ns.
    pub phases_ns: BTreeMap<Phase, f64>,
    /// Timed spawns that exited non-zero or by a signal.
    pub failed_spawns: usize,
}

/// Command `a` (the first) against command `b`.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Command A (the first given).
    pub a: String,
    /// Command B.
    pub b: String,
    /// wall(A) / wall(B): above 1, B is faster. Median of the per-run paired ratios.
    pub ratio: f64,
    /// 95% interval of the ratio over the paired runs: [low, high].
    pub ci: [f64; 2],
    /// The interval's exact coverage (order-statistic intervals cover at least 95%).
    pub ci_coverage: f64,
    /// The faster command, or None when the interval contains 1.
    pub faster: Option<String>,
    /// Phase -> median of A minus median of B, ns; a phase one side lacks counts as 0 there.
    pub phase_diff_ns: BTreeMap<Phase, f64>,
    /// The comparison in words.
    pub verdict: String,
}

#[derive(Clone, Debug, Serialize)]
/// Everything `spawnprof compare` reports (`--json` prints it).
pub struct CompareReport {
    /// Runs (blocks).
    pub runs: usize,
    /// Untimed spawns per run.
    pub warmup: usize,
    /// Timed spawns per command per run.
    pub spawns_per_run: usize,
    /// The run-order seed.
    pub seed: u64,
    /// One summary per command, in the order given.
    pub commands: Vec<CommandSummary>,
    /// Every other command against the first.
    pub comparisons: Vec<Comparison>,
    /// Drift, outlier runs, order effects and failed spawns, in words.
    pub warnings: Vec<String>,
}

/// The pure part: summaries, paired intervals, verdicts and warnings from the measurements.
pub fn analyse(design: &Design, m: &[Measured]) -> CompareReport {
    let commands: Vec<CommandSummary> = m
        .iter()
        .zip(&design.labels)
        .map(|(m, label)| CommandSummary {
            command: label.clone(),
            wall_ns: median_f64(&m.wall_runs).unwrap_or(0.0),
            wall_ns_runs: m.wall_runs.clone(),
            phases_ns: m
                .phase_runs
                .iter()
                .filter_map(|(k, v)| Some((*k, median_f64(v)?)))
                .collect(),
            failed_spawns: m.failed_spawns,
        })
        .collect();
    let comparisons = (1..m.len())
        .filter_map(|j| compare_pair(&commands[0], &commands[j], &m[0], &m[j]))
        .collect();
    CompareReport {
        runs: design.runs,
        warmup: design.warmup,
        spawns_per_run: design.spawns,
        seed: design.seed,
        warnings: warnings(&commands, m),
        commands,
        comparisons,
    }
}

fn compare_pair(
    a: &CommandSummary,
    b: &CommandSummary,
    ma: &Measured,
    mb: &Measured,
) -> Option<Comparison> {
    let ci = paired_ratio(&ma.wall_runs, &mb.wall_runs)?;
    let mut phase_diff_ns = BTreeMap::new();
    for name in a.phases_ns.keys().chain(b.phases_ns.keys()) {
        let pa = a.phases_ns.get(name).copied().unwrap_or(0.0);
        let pb = b.phases_ns.get(name).copied().unwrap_or(0.0);
        phase_diff_ns.insert(*name, pa - pb);
    }
    let faster = match stats::verdict(Some(&ci), 1.0) {
        Verdict::Higher => Some(b.command.clone()),
        Verdict::Lower => Some(a.command.clone()),
        Verdict::NoDifference | Verdict::TooFewRuns => None,
    };
    let verdict = verdict(a, b, &ci, faster.as_deref(), &phase_diff_ns);
    Some(Comparison {
        a: a.command.clone(),
        b: b.command.clone(),
        ratio: ci.point,
        ci: [ci.low, ci.high],
        ci_coverage: ci.coverage,
        faster,
        phase_diff_ns,
        verdict,
    })
}

/// The sentence a person reads: who is faster, by how much, and the two main phases that carry
/// the difference (main phases only: sub-phases are already inside them; not `run`, the
/// program's own work rather than its spawn).
fn verdict(
    a: &CommandSummary,
    b: &CommandSummary,
    ci: &Interval,
    faster: Option<&str>,
    diff: &BTreeMap<Phase, f64>,
) -> String {
    let Some(winner) = faster else {
        return stats::no_difference(
            &a.command,
            &b.command,
            &format!("ratio {:.2} [{:.2}, {:.2}]", ci.point, ci.low, ci.high),
            "1",
        );
    };
    let a_wins = winner == a.command;
    let shown = if a_wins { ci.recip() } else { *ci };
    let (x, lo, hi) = (shown.point, shown.low, shown.high);
    let mut main: Vec<(&Phase, f64)> = diff
        .iter()
        .filter(|(k, _)| Phase::SPAWN.contains(k))
        .map(|(k, v)| (k, if a_wins { -v } else { *v }))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    main.sort_by(|x, y| y.1.total_cmp(&x.1));
    let parts: Vec<String> = main
        .iter()
        .take(2)
        .map(|(k, v)| format!("{} less in {k}", render::human_ns(*v)))
        .collect();
    let tail = if parts.is_empty() {
        String::new()
    } else {
        format!("; it spends {}", parts.join(" and "))
    };
    format!("{winner} is {x:.1}x [{lo:.1}, {hi:.1}] faster{tail}")
}

fn warnings(commands: &[CommandSummary], m: &[Measured]) -> Vec<String> {
    let mut w = Vec::new();
    for (c, m) in commands.iter().zip(m) {
        w.extend(stats::drift::warnings(
            &c.command,
            "wall time",
            &m.wall_runs,
            Some(&m.order),
        ));
        if c.failed_spawns > 0 {
            w.push(format!(
                "{}: {} timed spawn(s) exited unsuccessfully",
                c.command, c.failed_spawns
            ));
        }
    }
    w
}

/// Medians of each phase over the records of the workload's own children (the records whose
/// parent is the traced root), from `trace --json` output.
pub fn phase_medians(jsonl: &str) -> BTreeMap<Phase, f64> {
    let records: Vec<SpawnRecord> = jsonl
        .lines()
        .filter_map(|l| json::from_line(l).ok())
        .collect();
    let root = records
        .iter()
        .find(|r| r.kind == SpawnKind::Root)
        .map(|r| r.pid);
    let mut per_phase: BTreeMap<Phase, Vec<f64>> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.kind == SpawnKind::Exec && root.is_some() && r.ppid == root)
    {
        for p in Phase::ALL {
            if let Some(ns) = r.phases_ns.get(p) {
                per_phase.entry(p).or_default().push(ns as f64);
            }
        }
    }
    per_phase
        .into_iter()
        .filter_map(|(k, v)| Some((k, median_f64(&v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(n: usize) -> Design {
        Design {
            labels: vec!["/bin/true".into(), "/tmp/static".into()],
            runs: n,
            warmup: 0,
            spawns: 1,
            seed: 1,
        }
    }

    fn measured(walls: Vec<f64>, phases: &[(Phase, f64)]) -> Measured {
        let n = walls.len();
        Measured {
            wall_runs: walls,
            phase_runs: phases.iter().map(|(k, v)| (*k, vec![*v; n])).collect(),
            order: (0..n).map(|i| i % 2).collect(),
            failed_spawns: 0,
        }
    }

    #[test]
    fn static_child_wins_in_startup() {
        let dynamic = measured(
            (0..10).map(|i| 800.0e3 + 1e3 * i as f64).collect(),
            &[
                (Phase::Copy, 20e3),
                (Phase::Exec, 100e3),
                (Phase::Startup, 650e3),
                (Phase::StartupLoader, 600e3),
            ],
        );
        let stat = measured(
            (0..10).map(|i| 200.0e3 + 1e3 * i as f64).collect(),
            &[(Phase::Copy, 20e3), (Phase::Exec, 60e3)],
        );
        let r = analyse(&opts(10), &[dynamic, stat]);
        let c = &r.comparisons[0];
        assert_eq!(c.faster.as_deref(), Some("/tmp/static"));
        assert!(c.ci[0] > 1.0 && c.ratio > 3.0, "{c:?}");
        assert_eq!(c.phase_diff_ns[&Phase::Startup], 650e3);
        assert_eq!(c.phase_diff_ns[&Phase::Exec], 40e3);
        assert!(
            c.verdict.starts_with("/tmp/static is 3.") && c.verdict.contains("less in startup and"),
            "{}",
            c.verdict
        );
    }

    #[test]
    fn same_command_is_no_difference() {
        let w: Vec<f64> = vec![1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02, 0.98, 1.01, 0.99];
        let mut v = w.clone();
        v.reverse();
        let r = analyse(&opts(10), &[measured(w, &[]), measured(v, &[])]);
        assert_eq!(r.comparisons[0].faster, None);
        assert!(r.comparisons[0].verdict.starts_with("no difference"));
    }

    #[test]
    fn phases_come_from_the_roots_children_only() {
        let rec = |kind, pid, ppid, copy: u64, startup: Option<u64>| {
            let mut r = SpawnRecord::new(pid, kind);
            r.ppid = Some(ppid);
            r.phases_ns.copy = Some(copy);
            r.phases_ns.startup = startup;
            json::to_line(&r).unwrap()
        };
        let text = [
            rec(SpawnKind::Root, 10, 1, 1, None),
            rec(SpawnKind::Exec, 11, 10, 100, Some(700)),
            rec(SpawnKind::Exec, 12, 10, 300, None),
            rec(SpawnKind::Exec, 13, 11, 9999, None),
            "not json".into(),
        ]
        .join("\n");
        let m = phase_medians(&text);
        assert_eq!(m[&Phase::Copy], 200.0);
        assert_eq!(m[&Phase::Startup], 700.0);
        assert_eq!(m.len(), 2);
    }
}
