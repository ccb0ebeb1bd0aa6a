//! Text of `record`'s periodic lines and final summary. Pure: built from an [`Agg`] and a
//! [`Health`], so tests check the wording without probes.
use std::fmt::Write as _;

use super::Health;
use super::agg::{Agg, GroupStats, PHASES};
use super::hist::LatencyHistogram;
use spawn_analysis::report::fmt_ns;

/// Median and p99 of a histogram, "-" when empty.
pub fn med_p99(h: &LatencyHistogram) -> (String, String) {
    let f = |v: Option<u64>| v.map_or_else(|| "-".to_string(), fmt_ns);
    (f(h.median()), f(h.p99()))
}

/// The losses, always shown (a summary over an incomplete stream must say so): the pipeline
/// line, every loss counter, and the balance of spawns against the kernel's count.
pub fn health_line(h: &Health) -> String {
    let pipeline = format!(
        "lost events: {}, decode errors: {}, late events: {}, unattributed faults: {}, open records: {}, evicted records: {}, filtered out: {}",
        h.lost_events,
        h.decode_errors,
        h.assembler.late_events,
        h.assembler.unattributed_faults,
        h.open_records,
        h.assembler.evicted,
        h.filtered
    );
    format!("{pipeline}\n{}\n{}", h.losses.line(), h.balance().line())
}

/// One line per `--interval`: what happened in the interval, and the totals so far.
pub fn interval_line(
    elapsed_s: f64,
    interval_s: f64,
    window: &GroupStats,
    window_records: u64,
    records_total: u64,
    h: &Health,
) -> String {
    let (med, p99) = med_p99(&window.total);
    format!(
        "[{elapsed_s:.0}s] {} spawns ({:.1}/s), {} exec failed, total median {med} p99 {p99}; {} records so far; lost events {}, open records {}",
        window.spawns,
        window_records as f64 / interval_s.max(1e-9),
        window.exec_failed,
        records_total,
        h.lost_events,
        h.open_records
    )
}

/// The final summary: one block per group, most spawned first, with median and p99 of the
/// main phases. Quantiles come from HdrHistograms (within 1%).
pub fn summary(agg: &Agg, h: &Health, group_title: &str) -> String {
    let mut out = String::new();
    let all = agg.all();
    let _ = writeln!(
        out,
        "spawn summary: {} records ({} spawns, {} threads, {} partial: already running when tracing started), {} exec failed, {} without exec",
        agg.records, all.spawns, agg.threads, agg.partial, all.exec_failed, all.no_exec
    );
    let _ = writeln!(out, "{}", health_line(h));
    let mut groups: Vec<(&str, &GroupStats)> = agg.groups().collect();
    groups.sort_by(|a, b| b.1.spawns.cmp(&a.1.spawns).then(a.0.cmp(b.0)));
    for (name, g) in groups {
        let _ = writeln!(
            out,
            "\n{group_title} {name}: {} spawns, {} complete, {} exec failed, {:.1} CoW faults per spawn",
            g.spawns,
            g.complete,
            g.exec_failed,
            g.cow_faults as f64 / g.spawns.max(1) as f64
        );
        let _ = writeln!(
            out,
            "  {:<8} {:>7} {:>9} {:>9}",
            "phase", "n", "median", "p99"
        );
        let rows = PHASES
            .iter()
            .zip(&g.phases)
            .map(|(p, h)| (p.name(), h))
            .chain(std::iter::once(("total", &g.total)));
        for (p, hist) in rows.filter(|(_, h)| !h.is_empty()) {
            let (m, q) = med_p99(hist);
            let _ = writeln!(out, "  {p:<8} {:>7} {m:>9} {q:>9}", hist.count());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::agg::tests::rec;

    #[test]
    fn summary_names_groups_and_losses() {
        let mut a = Agg::new(10);
        for _ in 0..4 {
            a.add("true", &rec("sh", Some(("/bin/true", 0)), 1_000_000));
        }
        a.add("nope", &rec("sh", Some(("/nope", -2)), 2_000_000));
        let mut h = Health {
            lost_events: 7,
            spawn_records: 5,
            ..Default::default()
        };
        h.losses.spawns = 6;
        h.losses.ring_full_spawns = 1;
        let s = summary(&a, &h, "program");
        assert!(s.contains("losses: ring buffer full 0 (1 spawns), followed map full 0"));
        assert!(
            s.contains(
                "spawns counted in the kernel: 6 = 5 records + 0 filtered out + 1 lost (balanced)"
            ),
            "{s}"
        );
        for want in [
            "spawn summary: 5 records (5 spawns, 0 threads, 0 partial: already running when tracing started), 1 exec failed",
            "lost events: 7,",
            "program true: 4 spawns, 4 complete, 0 exec failed, 3.0 CoW faults per spawn",
            "program nope: 1 spawns",
        ] {
            assert!(s.contains(want), "{want:?} not in\n{s}");
        }
        // "true" (4 spawns) comes before "nope" (1).
        assert!(s.find("program true").unwrap_or(0) < s.find("program nope").unwrap_or(0));
        let total = s
            .lines()
            .find(|l| l.trim_start().starts_with("total"))
            .unwrap_or("");
        // 1 ms read back as the top of its bucket [999.4 µs, 1.0035 ms): within 1%.
        assert!(total.contains("1.00ms"), "{total}");
        let line = interval_line(10.0, 5.0, &a.all(), 5, 100, &h);
        assert!(
            line.starts_with("[10s] 5 spawns (1.0/s), 1 exec failed"),
            "{line}"
        );
        assert!(line.contains("lost events 7"), "{line}");
    }
}
