//! `spawnprof bench`: spawn latency per strategy, all strategies interleaved in one process so
//! that machine drift hits each alike. The harness is spawn-fast's; this renders it.
use std::fmt::Write as _;

use spawn_fast::bench::{BenchReport, LaneResult};

use spawn_analysis::report::fmt_ns;

/// A table: one row per strategy, with its median relative to the fastest lane.
pub fn render(report: &BenchReport) -> String {
    let mut out = String::new();
    let cfg = &report.config;
    let _ = writeln!(
        out,
        "child {} | parent ballast {} MiB ({:?}), measured RSS {} MiB | {} spawns per strategy, interleaved",
        cfg.child.display(),
        cfg.parent_rss >> 20,
        cfg.ballast,
        report.parent_rss_measured >> 20,
        cfg.count
    );
    let best = report
        .results
        .iter()
        .map(|r| r.stats.median_ns)
        .min()
        .unwrap_or(1)
        .max(1);
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>11} {:>7}",
        "strategy", "median", "p10", "p90", "p99", "spawns/s", "x best"
    );
    for LaneResult { strategy, stats } in &report.results {
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>10} {:>10} {:>11.0} {:>7.2}",
            strategy.to_string(),
            fmt_ns(stats.median_ns),
            fmt_ns(stats.p10_ns),
            fmt_ns(stats.p90_ns),
            fmt_ns(stats.p99_ns),
            stats.spawns_per_sec,
            stats.median_ns as f64 / best as f64
        );
    }
    out
}
