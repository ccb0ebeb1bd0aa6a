//! `spawnprof bench`: spawn latency per strategy, all strategies interleaved in one process so
//! that machine drift hits each alike. The harness is spawn-bench's; this renders it.
use std::fmt::Write as _;

use spawn_bench::{BenchReport, LaneResult};

use spawn_analysis::report::fmt_ns;

/// A table: one row per strategy, with its median relative to the fastest lane: the median
/// of the per-run ratios and their 95% interval over runs (`n/a` with fewer than 6 runs).
pub fn render(report: &BenchReport) -> String {
    let mut out = String::new();
    let cfg = &report.config;
    let _ = writeln!(
        out,
        "child {} | parent ballast {} MiB ({:?}), measured RSS {} MiB | {} spawns per strategy, interleaved, in {} runs",
        cfg.child.display(),
        cfg.parent_rss >> 20,
        cfg.ballast,
        report.parent_rss_measured >> 20,
        cfg.count,
        report.results.first().map_or(0, |r| r.run_medians_ns.len())
    );
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>11} {:>22}",
        "strategy", "median", "p10", "p90", "p99", "spawns/s", "x fastest [95% CI]"
    );
    for LaneResult {
        strategy,
        stats,
        vs_fastest,
        ..
    } in &report.results
    {
        let ratio = vs_fastest.map_or("n/a".to_string(), |i| {
            format!("{:.2} [{:.2}, {:.2}]", i.point, i.low, i.high)
        });
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>10} {:>10} {:>11.0} {:>22}",
            strategy.to_string(),
            fmt_ns(stats.median_ns),
            fmt_ns(stats.p10_ns),
            fmt_ns(stats.p90_ns),
            fmt_ns(stats.p99_ns),
            stats.spawns_per_sec,
            ratio
        );
    }
    if let Some(f) = report.fastest {
        let _ = writeln!(
            out,
            "fastest: {f}; ratios are per-run medians over the fastest lane's, intervals over runs"
        );
    }
    out
}
