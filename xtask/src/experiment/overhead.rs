//! `overhead`: what tracing costs. The same spawn loop runs without spawnprof, under
//! `spawnprof trace --no-faults` (spawn probes) and under `spawnprof trace` (spawn and fault
//! probes), the three conditions alternating. One more, untimed run per traced condition with
//! `--probe-stats` counts the probe hits and their BPF run time as the kernel sees them.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use spawn_analysis::stats::{self, Interval, Summary, Verdict};

use super::overhead_host::HostResult;
use super::{
    Ctx, Outcome,
    ctx::{Probes, Report},
    md, plot,
    worker::{Job, RoundsJob, RoundsOut},
};

const CONDITIONS: [(Probes, &str); 3] = [
    (Probes::None, "no probes"),
    (Probes::Spawn, "spawn probes (--no-faults)"),
    (Probes::SpawnAndFaults, "spawn + fault probes"),
];

/// Hits and BPF run time of every probe over one `--probe-stats` run, per spawn.
#[derive(Serialize, Default, Clone, Copy)]
struct Counted {
    hits_per_spawn: f64,
    bpf_ns_per_spawn: f64,
}

/// Sums spawnprof's probe-cost table (`program hits ns/hit total` rows; the `all` row and
/// everything else skipped) into (hits, run ns).
fn parse_probe_costs(stderr: &str) -> Option<(u64, u64)> {
    let table = stderr.split("probe costs").nth(1)?;
    let mut hits = 0;
    let mut ns = 0;
    for line in table.lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 4 || f[0] == "all" {
            continue;
        }
        let (Ok(h), Ok(per)) = (f[1].parse::<u64>(), f[2].parse::<u64>()) else {
            continue;
        };
        hits += h;
        ns += h * per;
    }
    (hits > 0).then_some((hits, ns))
}

#[derive(Serialize)]
struct CondResult {
    condition: String,
    spawns_per_s: Summary,
    latency: Summary,
    /// Per repetition: median latency / median latency without probes; median over
    /// repetitions with its 95% interval over them (None with fewer than 6).
    slowdown: Option<Interval>,
    /// The same for median latency - median latency without probes (ns per spawn).
    added_ns: Option<Interval>,
    records_per_spawn: f64,
    faults_per_spawn: f64,
    /// Counted by the kernel in a separate `--probe-stats` run (0 without probes).
    probe_hits_per_spawn: f64,
    /// BPF program time per spawn in that run.
    bpf_ns_per_spawn: f64,
    /// added_ns / probe_hits_per_spawn: everything tracing costs, per hit.
    ns_per_hit: Option<Interval>,
    /// Per repetition: spawns/s / spawns/s without probes; median with its 95% interval.
    throughput_ratio: Option<Interval>,
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let (reps, rounds) = if ctx.quick { (2, 150) } else { (8, 2500) };
    ctx.plan(
        (reps * 3 * (rounds as f64 * 0.35) as usize + reps * 3 * 400 + 2 * rounds) as u64
            + super::overhead_host::planned(ctx),
    );
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); 3];
    // One median latency per condition and repetition: the runs every interval is over.
    let mut lat_runs: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut tput: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut records = [0usize; 3];
    let mut faults = [0u64; 3];
    let mut spawns = [0usize; 3];
    let mut csv = String::from("rep,condition,spawns,elapsed_ns,records,faults\n");
    for rep in 0..reps {
        // Rotate the order each repetition: every condition runs first, second and third.
        for k in 0..3 {
            let c = (rep + k) % 3;
            let (probes, name) = CONDITIONS[c];
            let (out, recs): (RoundsOut, _) =
                ctx.worker(|out| rounds_job(ctx, out, rounds), probes, None)?;
            let n = out.samples.len();
            let elapsed: u64 = out.samples.iter().map(|s| s.ns).sum();
            let run: Vec<f64> = out.samples.iter().map(|s| s.ns as f64).collect();
            lat_runs[c].push(stats::median(&run));
            lat[c].extend(run);
            tput[c].push(n as f64 / (elapsed as f64 / 1e9));
            let f: u64 = recs.iter().map(super::trace::fault_count).sum();
            records[c] += recs.len();
            faults[c] += f;
            spawns[c] += n + 20;
            let _ = writeln!(csv, "{rep},{name},{n},{elapsed},{},{f}", recs.len());
            ctx.done(
                (rounds as f64 * 0.35) as u64 + 400,
                &format!("rep {}/{reps}: {name}", rep + 1),
            );
        }
    }
    ctx.write_text("runs.csv", &csv)?;
    // Counting runs: BPF statistics add two clock reads per hit, so they stay out of the
    // timed runs above.
    let mut counted = [Counted::default(); 3];
    for (c, slot) in counted.iter_mut().enumerate().skip(1) {
        let (out, _, stderr): (RoundsOut, _, String) = ctx.worker_with(
            |out| rounds_job(ctx, out, rounds),
            CONDITIONS[c].0,
            None,
            &["--probe-stats"],
        )?;
        let spawns = (out.samples.len() + 20) as f64;
        let (hits, ns) = parse_probe_costs(&stderr)
            .ok_or_else(|| anyhow::anyhow!("no probe-cost table in: {stderr}"))?;
        *slot = Counted {
            hits_per_spawn: hits as f64 / spawns,
            bpf_ns_per_spawn: ns as f64 / spawns,
        };
        ctx.done(
            rounds as u64,
            &format!("counting probe hits: {}", CONDITIONS[c].1),
        );
    }
    let results: Vec<CondResult> = (0..3)
        .map(|c| {
            let per_spawn = |x: f64| x / spawns[c].max(1) as f64;
            let faults_per_spawn = per_spawn(faults[c] as f64);
            let events = counted[c].hits_per_spawn;
            let added = stats::paired_diff(&lat_runs[c], &lat_runs[0]);
            let per_event = |v: f64| if events > 0.0 { v / events } else { f64::NAN };
            CondResult {
                condition: CONDITIONS[c].1.into(),
                spawns_per_s: stats::summary(&tput[c]),
                latency: stats::summary(&lat[c]),
                slowdown: stats::paired_ratio(&lat_runs[c], &lat_runs[0]),
                added_ns: added,
                records_per_spawn: per_spawn(records[c] as f64),
                faults_per_spawn,
                probe_hits_per_spawn: events,
                bpf_ns_per_spawn: counted[c].bpf_ns_per_spawn,
                ns_per_hit: added.map(|a| a.map(per_event)),
                throughput_ratio: stats::paired_ratio(&tput[c], &tput[0]),
            }
        })
        .collect();
    let drift = md::drift(
        "median latency",
        &CONDITIONS
            .iter()
            .zip(&lat_runs)
            .map(|((_, name), runs)| (name.to_string(), runs.clone()))
            .collect::<Vec<_>>(),
    );
    let host = super::overhead_host::run(ctx)?;
    write_report(ctx, (reps, rounds), &results, &host, drift)
}

fn rounds_job(ctx: &Ctx, out: std::path::PathBuf, rounds: usize) -> Job {
    RoundsJob::one_lane(out, "clone3", &ctx.tools.exit0, rounds, None)
}

fn write_report(
    ctx: &Ctx,
    (reps, rounds): (usize, usize),
    r: &[CondResult],
    host: &[HostResult],
    drift: String,
) -> Result<Outcome> {
    let labels: Vec<String> = r.iter().map(|c| c.condition.clone()).collect();
    let series = vec![plot::Series {
        name: "spawns/s".into(),
        points: r
            .iter()
            .enumerate()
            .map(|(i, c)| plot::Point::spread(i, &c.spawns_per_s, 1.0))
            .collect(),
    }];
    plot::bars(
        &ctx.dir.join("throughput.svg"),
        &plot::Chart {
            title: "Spawn throughput of one thread (clone3, static child)",
            x_desc: "tracing",
            y_desc: "spawns per second (median of runs, p10–p90)",
            x_labels: &labels,
            log_y: false,
        },
        &series,
    )?;
    let rows: Vec<Vec<String>> = r
        .iter()
        .map(|c| {
            vec![
                c.condition.clone(),
                format!(
                    "{:.0} ({:.0}–{:.0})",
                    c.spawns_per_s.median, c.spawns_per_s.p10, c.spawns_per_s.p90
                ),
                md::dur_spread(&c.latency),
                md::ratio(c.slowdown),
                md::diff(c.added_ns),
                format!("{:.2}", c.records_per_spawn),
                format!("{:.1}", c.faults_per_spawn),
                format!("{:.1}", c.probe_hits_per_spawn),
                if c.probe_hits_per_spawn > 0.0 {
                    md::dur(c.bpf_ns_per_spawn)
                } else {
                    "–".into()
                },
                if let Some(h) = c.ns_per_hit.filter(|_| c.probe_hits_per_spawn > 0.0) {
                    format!("{:.0} ns [{:.0}, {:.0}]", h.point, h.low, h.high)
                } else if c.probe_hits_per_spawn > 0.0 {
                    md::NO_INTERVAL.into()
                } else {
                    "–".into()
                },
            ]
        })
        .collect();
    let results = format!(
        "{}\n{}",
        md::table(
            &[
                "condition",
                "spawns/s (p10–p90 of runs)",
                "latency median (p10–p90)",
                "slowdown [95% CI]",
                "added per spawn [95% CI]",
                "records/spawn",
                "faults/spawn",
                "probe hits/spawn (counted)",
                "BPF time/spawn",
                "added time per hit [95% CI]",
            ],
            &rows
        ),
        md::figure("throughput.svg", "Spawn throughput per tracing condition")
    ) + &super::overhead_host::section(host);
    let (s, f) = (&r[1], &r[2]);
    let answer = [
        cost_words(s, "the spawn probes"),
        cost_words(f, "the spawn and fault probes"),
        bpf_words(&[s, f]),
        format!(
            "Throughput on one thread: {:.0} spawns/s untraced; {}; {}.",
            r[0].spawns_per_s.median,
            md::rate_ratio(
                s.throughput_ratio,
                "throughput with the spawn probes",
                "throughput without probes"
            ),
            md::rate_ratio(
                f.throughput_ratio,
                "throughput with the spawn and fault probes",
                "throughput without probes"
            ),
        ),
        super::overhead_host::answer(host),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let one_line = format!(
        "spawn probes: {}; spawn+fault probes: {}; {:.1} and {:.1} probe hits per spawn, of which BPF run time is {} and {}",
        added_short(s),
        added_short(f),
        s.probe_hits_per_spawn,
        f.probe_hits_per_spawn,
        md::dur(s.bpf_ns_per_spawn),
        md::dur(f.bpf_ns_per_spawn),
    );
    let params = json!({
        "repetitions": reps,
        "spawns_per_run": rounds,
        "warmup_spawns_per_run": 20,
        "strategy": "clone3",
        "child": ctx.tools.exit0.display().to_string(),
        "probe_stats_runs": "one untimed `--probe-stats` run per traced condition",
        "interval": "order statistics of per-repetition paired values, 95%",
    });
    ctx.publish(Report {
        title: "overhead: what tracing costs",
        question: "How much slower does a program spawn while spawnprof traces it, with the spawn probes only and with the page-fault probes too? What does one probe hit cost? And on a host spawning 1 000 processes a second, how much does `spawnprof record -a` slow that loop, and how much CPU does it use?".into(),
        answer,
        one_line,
        method: format!(
            "The release worker spawns spawn-fast's static `exit0` child with `clone3` and waits, {rounds} times in a row after 20 warm-up spawns (one thread, no ballast), in three conditions: run directly, under `spawnprof trace --no-faults`, and under `spawnprof trace`. \
             The three conditions alternate in rotated order ({reps} repetitions: each condition runs first, second and third equally often). Latency is per spawn (spawn call to wait return, measured by the worker); throughput is spawns over the summed latencies of a run. \
             Added time, slowdown and the throughput ratio are taken per repetition (that repetition's run against its own no-probe run) and summarised as the median over repetitions with its 95% order-statistic interval over them (the runs; at least {} are needed, fewer give n/a); an interval that contains 0 (difference) or 1 (ratio) is reported as no difference. \
             Probe hits are counted, not estimated: after the timed runs, each traced condition runs once more under `spawnprof trace --probe-stats`, which turns on the kernel's BPF run-time statistics (BPF_ENABLE_STATS) and reports every program's hits and run time; hits and BPF time per spawn are their sums over the spawns of that run (warm-up included). That run is kept out of the timing because the statistics add two clock reads per hit. Added time per hit = added time per spawn / counted hits per spawn; BPF time is the part of the added time spent inside the programs. {}",
            stats::MIN_RUNS,
            super::overhead_host::method(ctx),
        ),
        results,
        machine_note: String::new(),
        limits: vec![
            drift,
            "The kernel's counts cover every process on the machine (tracepoints and perf events are system-wide and filtered in the BPF program), so the hits of other processes during the counting run (other agents' builds, see the load above) are counted too: hits and BPF time per spawn are upper bounds. BPF time comes from a separate run and is compared with the added time of the timed runs.".into(),
            format!("The fault probes' cost depends on how many faults a spawn causes: the static child of a small parent takes {:.1} per spawn here; a fork from a big dirty parent takes many more (see `fork-in-the-road`).", f.faults_per_spawn),
            format!("The paced loop sleeps between spawns, so each spawn also pays for waking an idle virtual CPU, and a burst of outside load during one run can move one condition's median. {}", super::overhead_host::steadier(host)),
            "In the back-to-back part only the traced program's latency is measured; spawnprof's own CPU time (reading the ring buffer, assembling records) runs on another core when one is free. The production part measures it.".into(),
        ],
        files: vec![
            ("data.json", "summaries and intervals per condition, parameters"),
            ("runs.csv", "every run: repetition, condition, spawns, elapsed ns, records, faults"),
            ("throughput.svg", "throughput per condition"),
        ],
        params,
        data: json!({"results": r, "host_1000_per_s": host}),
    })
}

/// What one traced condition adds per spawn, in the stats module's words.
fn cost_words(c: &CondResult, probes: &str) -> String {
    let traced = format!("spawns traced with {probes}");
    match stats::verdict(c.added_ns.as_ref(), 0.0) {
        Verdict::Higher => format!(
            "With {probes} a spawn takes {} longer ({} of an untraced spawn); at {:.1} probe hits per spawn counted by the kernel, that is {:.0} ns per hit.",
            md::diff(c.added_ns),
            md::ratio(c.slowdown),
            c.probe_hits_per_spawn,
            c.ns_per_hit.map_or(f64::NAN, |h| h.point),
        ),
        Verdict::Lower => format!(
            "{} ({}): the traced runs were quicker, which tracing cannot cause; it is noise between runs.",
            md::verdict(
                c.added_ns,
                0.0,
                (&traced, "untraced ones"),
                ("take longer than", "are quicker than"),
                md::diff
            ),
            md::ratio(c.slowdown),
        ),
        Verdict::NoDifference => format!(
            "{}.",
            md::sentence(&stats::no_difference(
                &traced,
                "untraced ones",
                &md::diff(c.added_ns),
                "0"
            ))
        ),
        Verdict::TooFewRuns => format!("{traced}: {}.", md::NO_INTERVAL),
    }
}

/// The one-line form of [`cost_words`].
fn added_short(c: &CondResult) -> String {
    match stats::verdict(c.added_ns.as_ref(), 0.0) {
        Verdict::Higher => format!(
            "{} per spawn ({})",
            md::diff(c.added_ns),
            md::ratio(c.slowdown)
        ),
        Verdict::Lower => format!(
            "{} per spawn (traced runs quicker: noise)",
            md::diff(c.added_ns)
        ),
        Verdict::NoDifference => {
            stats::no_difference("traced", "untraced spawns", &md::diff(c.added_ns), "0")
        }
        Verdict::TooFewRuns => md::NO_INTERVAL.into(),
    }
}

/// How much of the added time is BPF run time, where there is added time.
fn bpf_words(conds: &[&CondResult]) -> String {
    let parts: Vec<String> = conds
        .iter()
        .filter(|c| md::above(c.added_ns, 0.0))
        .map(|c| {
            format!(
                "{} ({:.0}% of the added {}) with {}",
                md::dur(c.bpf_ns_per_spawn),
                100.0 * c.bpf_ns_per_spawn / c.added_ns.map_or(f64::NAN, |a| a.point),
                md::dur(c.added_ns.map_or(f64::NAN, |a| a.point)),
                c.condition
            )
        })
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    let over = conds.iter().any(|c| {
        md::above(c.added_ns, 0.0)
            && c.bpf_ns_per_spawn >= c.added_ns.map_or(f64::INFINITY, |a| a.point)
    });
    if over {
        return format!(
            "The BPF programs' run time counted per spawn (kernel statistics, separate run) is {}: at least the whole added time, which it cannot be for the traced program alone. The counting run also counted other processes' hits (the statistics are system-wide; see Limits), so these counts and the time per hit derived from them are not the traced program's own.",
            parts.join(", and ")
        );
    }
    format!(
        "The BPF programs' own run time per spawn (kernel statistics, separate run) is {}; the rest of the added time is spent outside the programs (tracepoint dispatch, the syscall slow path that enabled syscall tracepoints impose, spawnprof's reader sharing the cores), which this experiment does not split further.",
        parts.join(", and ")
    )
}

#[cfg(test)]
mod tests {
    use super::parse_probe_costs;

    #[test]
    fn sums_the_probe_cost_table() {
        let stderr = "summary...\nprobe costs (kernel BPF run-time statistics, all processes):\n  program hits ns/hit total\n  sched_process_exec 10 500 5.00µs\n  sys_enter_clone3 4 250 1.00µs\n  all 14 428 6.00µs\n  per recorded spawn: 2.0 hits\n";
        assert_eq!(parse_probe_costs(stderr), Some((14, 6000)));
        assert_eq!(parse_probe_costs("no table"), None);
    }
}
