//! `phases`: where each strategy's spawn time goes, for a static and a dynamic child, and why
//! each strategy costs what it costs, read from the trace.

use std::{fmt::Write as _, fs, path::PathBuf};

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use spawn_analysis::phase::Phase;
use spawn_analysis::record::SpawnRecord;
use spawn_analysis::stats::{self, Interval, Summary, Verdict};

use super::{
    Ctx, Outcome,
    ctx::{Probes, Report},
    md, plot,
    runs::{BLOCKS_PER_PASS, Runs, run_of},
    trace::{self, Quantity},
    worker::{Job, LaneSpec, RoundsJob, RoundsOut},
};

pub const LANES: [&str; 8] = [
    "raw-vfork",
    "vfork",
    "clone3",
    "template",
    "posix-spawn",
    "std",
    "zygote",
    "fork",
];

/// Phases compared between strategies: the main ones, exec's parts, and fault time.
const COMPARED: [Quantity; 13] = trace::around(
    [Quantity::Phase(Phase::Prep)],
    [
        Quantity::Phase(Phase::Startup),
        Quantity::Phase(Phase::Run),
        Quantity::Phase(Phase::Reap),
        Quantity::Faults,
        // Wall time minus traced total: user space before the clone and after the wait.
        Quantity::OutsideTrace,
    ],
);

/// What each lane does, from its implementation; the trace then says what that costs.
fn mechanism(lane: &str) -> &'static str {
    match lane {
        "raw-vfork" => {
            "the reference: `vfork` then `execve` by path, no signal or fd work, not even a mark"
        }
        "vfork" => {
            "spawn-fast: all signals blocked around `vfork`; the child resets signal handlers, \
             applies the fd plan and calls `execveat` on the cached O_PATH fd"
        }
        "clone3" => {
            "spawn-fast: `clone3(CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND)` on a per-thread \
             stack: the kernel resets caught handlers, so the child skips vfork's signal walk; \
             same fd plan, `execveat` on the cached O_PATH fd, pidfd opened only on demand"
        }
        "template" => "spawn-fast `Template` (Auto = clone3 here): argv, envp, fd plan built once",
        "posix-spawn" => {
            "glibc `posix_spawn` through spawn-fast: glibc maps a fresh stack for the child, \
             blocks signals, runs `clone3(CLONE_VM|CLONE_VFORK)`; the child resets every \
             signal's disposition and applies file actions, then `execve`"
        }
        "std" => {
            "`std::process::Command`: builds argv/envp per spawn, then glibc `posix_spawn` (it \
             can here: no pre_exec, no uid change)"
        }
        "zygote" => {
            "a runner forked once does the clone3; each request crosses a unix socket with fds \
             (SCM_RIGHTS), the status comes back through a pipe"
        }
        "fork" => {
            "`fork` copies the page tables and VMAs; the child then drops that copy again in \
             exec (teardown) and both sides take copy-on-write faults"
        }
        _ => "",
    }
}

#[derive(Serialize)]
struct LaneResult {
    lane: String,
    wall: Summary,
    /// Per run: median wall / median wall of raw-vfork (untraced, same run); the median over
    /// runs with its 95% order-statistic interval.
    ratio_vs_raw_vfork: Option<Interval>,
    /// Traced spawns matched to a record.
    traced: usize,
    traced_total: Summary,
    /// Wall time the probes do not cover (user space before the clone and after the wait).
    outside_trace: Summary,
    phase_median_ns: Vec<(String, f64)>,
    /// Phase differences against raw-vfork (ns): per traced run, then the median over runs
    /// with its interval.
    diff_vs_raw_vfork: Vec<(String, Option<Interval>)>,
    faults_per_spawn: f64,
}

#[derive(Serialize)]
struct ChildResult {
    child: String,
    path: String,
    lanes: Vec<LaneResult>,
}

struct Params {
    passes: usize,
    rounds_timed: usize,
    rounds_traced: usize,
    warmup: usize,
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let p = if ctx.quick {
        Params {
            passes: 1,
            rounds_timed: 15,
            rounds_traced: 8,
            warmup: 2,
        }
    } else {
        Params {
            passes: 3,
            rounds_timed: 300,
            rounds_traced: 120,
            warmup: 10,
        }
    };
    let children: [(&str, PathBuf); 2] = [
        ("static", ctx.tools.exit0.clone()),
        ("dynamic", PathBuf::from("/bin/true")),
    ];
    // Work estimate in ms: ~0.4 ms per static spawn, ~1.2 ms per dynamic one, traced x1.5.
    let per = |c: usize| if c == 0 { 0.4 } else { 1.2 };
    let est = |c: usize, r: usize, traced: bool| {
        (per(c) * (r * LANES.len()) as f64 * if traced { 1.5 } else { 1.0 }) as u64 + 300
    };
    ctx.plan(
        (0..2)
            .map(|c| est(c, p.rounds_timed, false) + est(c, p.rounds_traced, true))
            .sum::<u64>()
            * p.passes as u64,
    );
    let traces_dir = ctx.dir.join("traces");
    // Per child and lane: untimed wall times by run (a run is a block of consecutive rounds of
    // one pass's worker), and traced records with their wall time and run.
    let mut wall: Vec<Vec<Runs>> = vec![vec![Runs::default(); LANES.len()]; 2];
    let mut matched: Vec<Vec<Vec<(SpawnRecord, f64, usize)>>> =
        vec![vec![Vec::new(); LANES.len()]; 2];
    let mut csv = String::from("child,pass,traced,lane,round,ns\n");
    let mut rss = 0u64;
    for pass in 0..p.passes {
        // Alternate the children's order between passes, so drift hits both alike.
        let order: Vec<usize> = if pass % 2 == 0 {
            vec![0, 1]
        } else {
            vec![1, 0]
        };
        for c in order {
            let (cname, path) = &children[c];
            for traced in [false, true] {
                let rounds = if traced {
                    p.rounds_traced
                } else {
                    p.rounds_timed
                };
                let job = |out| {
                    Job::Rounds(RoundsJob {
                        out,
                        lanes: LaneSpec::list(&LANES, None),
                        ballast_bytes: 0,
                        ballast: spawn_bench::BallastMode::Dirty,
                        child: path.clone(),
                        args: Vec::new(),
                        rounds,
                        warmup: p.warmup,
                        pace_ns: None,
                    })
                };
                let probes = if traced {
                    Probes::Everything
                } else {
                    Probes::None
                };
                let tfile = traces_dir.join(format!("{cname}-pass{pass}.jsonl"));
                if traced {
                    fs::create_dir_all(&traces_dir)?;
                }
                let (out, records): (RoundsOut, _) =
                    ctx.worker(job, probes, traced.then_some(tfile.as_path()))?;
                rss = rss.max(out.rss_bytes);
                for s in &out.samples {
                    let _ = writeln!(
                        csv,
                        "{cname},{pass},{traced},{},{},{}",
                        LANES[s.lane], s.round, s.ns
                    );
                }
                if traced {
                    for (s, r) in trace::matched(&records, &out.samples, &LANES) {
                        let run = run_of(pass, BLOCKS_PER_PASS, s.round, rounds);
                        matched[c][s.lane].push((r, s.ns as f64, run));
                    }
                } else {
                    for s in &out.samples {
                        let run = run_of(pass, BLOCKS_PER_PASS, s.round, rounds);
                        wall[c][s.lane].push(run, s.ns as f64);
                    }
                }
                ctx.done(
                    est(c, rounds, traced),
                    &format!(
                        "pass {}/{} {cname} {}",
                        pass + 1,
                        p.passes,
                        if traced { "traced" } else { "timed" }
                    ),
                );
            }
        }
    }
    ctx.write_text("samples.csv", &csv)?;

    let mut results = Vec::new();
    for (c, (cname, path)) in children.iter().enumerate() {
        // Per-strategy subsets of the traces, rendered by the one phase renderer.
        let sub = traces_dir.join(cname);
        fs::create_dir_all(&sub)?;
        let mut files = Vec::new();
        for (l, lane) in LANES.iter().enumerate() {
            let f = sub.join(format!("{lane}.jsonl"));
            trace::write_lines(&f, matched[c][l].iter().map(|(r, _, _)| r))?;
            files.push(f);
        }
        ctx.phase_report(
            &files,
            "file",
            &format!(
                "{cname} child ({})",
                path.file_name().map_or("?".into(), |f| f.to_string_lossy())
            ),
            &ctx.dir.join(cname),
        )?;
        results.push(analyse(&p, cname, path, &wall[c], &matched[c]));
    }
    let runs = p.passes * BLOCKS_PER_PASS;
    let swing = swing_words(&wall, runs);
    let drift = md::drift(
        "median wall time",
        &children
            .iter()
            .enumerate()
            .map(|(c, (cname, _))| {
                (
                    format!("raw-vfork, {cname} child"),
                    wall[c][0].medians(runs),
                )
            })
            .collect::<Vec<_>>(),
    );
    let rss_small = format!("{} MiB RSS", rss >> 20);
    write_report(ctx, &p, &results, swing, drift, rss_small)
}

fn analyse(
    p: &Params,
    cname: &str,
    path: &std::path::Path,
    wall: &[Runs],
    matched: &[Vec<(SpawnRecord, f64, usize)>],
) -> ChildResult {
    let runs = p.passes * BLOCKS_PER_PASS;
    // Per run, the median of a quantity over lane `l`'s traced spawns of that run.
    let phase_runs = |l: usize, q: Quantity| -> Runs {
        let mut out = Runs::default();
        if q == Quantity::Phase(Phase::Prep) && !trace::has_mark(LANES[l]) {
            return out; // not measured: shown as n/a, never compared
        }
        for (r, ns, run) in &matched[l] {
            out.push(*run, q.of(r, *ns));
        }
        out
    };
    let reference = 0; // raw-vfork
    let lanes = LANES
        .iter()
        .enumerate()
        .map(|(l, lane)| {
            let totals: Vec<f64> = matched[l]
                .iter()
                .map(|(r, _, _)| r.total_ns.unwrap_or(0) as f64)
                .collect();
            let outside: Vec<f64> = matched[l]
                .iter()
                .map(|(r, ns, _)| Quantity::OutsideTrace.of(r, *ns))
                .collect();
            LaneResult {
                lane: lane.to_string(),
                wall: stats::summary(&wall[l].pooled()),
                ratio_vs_raw_vfork: stats::paired_ratio(
                    &wall[l].medians(runs),
                    &wall[reference].medians(runs),
                ),
                traced: matched[l].len(),
                traced_total: stats::summary(&totals),
                outside_trace: stats::summary(&outside),
                phase_median_ns: COMPARED
                    .iter()
                    .map(|q| {
                        (
                            q.name().to_string(),
                            stats::median(&phase_runs(l, *q).pooled()),
                        )
                    })
                    .collect(),
                diff_vs_raw_vfork: COMPARED
                    .iter()
                    .map(|q| {
                        let ci = stats::paired_diff(
                            &phase_runs(l, *q).medians(runs),
                            &phase_runs(reference, *q).medians(runs),
                        );
                        (q.name().to_string(), ci)
                    })
                    .collect(),
                faults_per_spawn: matched[l]
                    .iter()
                    .map(|(r, _, _)| trace::fault_count(r) as f64)
                    .sum::<f64>()
                    / matched[l].len().max(1) as f64,
            }
        })
        .collect();
    ChildResult {
        child: cname.to_string(),
        path: path.display().to_string(),
        lanes,
    }
}

/// "setup +40 µs [+35, +46], copy +12 µs [...]": the phases that explain a lane's extra cost.
fn explain(l: &LaneResult) -> String {
    let mut big: Vec<(&String, Interval)> = l
        .diff_vs_raw_vfork
        .iter()
        .filter_map(|(n, ci)| Some((n, (*ci)?)))
        .filter(|(_, ci)| ci.excludes(0.0) && ci.point.abs() >= 5_000.0)
        .collect();
    big.sort_by(|a, b| b.1.point.abs().total_cmp(&a.1.point.abs()));
    if big.is_empty() {
        return "no phase differs from raw vfork by 5 µs or more (95% CI)".into();
    }
    big.iter()
        .take(4)
        .map(|(ph, ci)| {
            let name = if *ph == Quantity::OutsideTrace.name() {
                "user space outside the trace".to_string()
            } else if *ph == Quantity::Faults.name() {
                "page-fault time".to_string()
            } else {
                ph.replace('_', " ")
            };
            format!("{name} {}", md::diff(Some(*ci)))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn write_report(
    ctx: &Ctx,
    p: &Params,
    results: &[ChildResult],
    swing: String,
    drift: String,
    rss_small: String,
) -> Result<Outcome> {
    let mut body = String::new();
    let mut plot_series = Vec::new();
    for (c, res) in results.iter().enumerate() {
        let _ = writeln!(
            body,
            "### {} child (`{}`)\n\nUntraced (wall time, spawn call to wait return, {} passes of {} runs, all strategies interleaved in each) and traced (phase medians):\n",
            res.child, res.path, p.passes, BLOCKS_PER_PASS
        );
        let rows: Vec<Vec<String>> = res
            .lanes
            .iter()
            .map(|l| {
                let ph = |name: &str| {
                    md::dur(
                        l.phase_median_ns
                            .iter()
                            .find(|(n, _)| n == name)
                            .map_or(f64::NAN, |(_, v)| *v),
                    )
                };
                vec![
                    format!("`{}`", l.lane),
                    md::dur(l.wall.median),
                    format!("{} – {}", md::dur(l.wall.p10), md::dur(l.wall.p90)),
                    md::ratio(l.ratio_vs_raw_vfork),
                    ph(Phase::Prep.name()),
                    ph(Phase::Copy.name()),
                    ph(Phase::Setup.name()),
                    ph(Phase::ExecOpen.name()),
                    ph(Phase::ExecTeardown.name()),
                    ph(Phase::ExecLoad.name()),
                    ph(Phase::Startup.name()),
                    ph(Phase::Reap.name()),
                    format!(
                        "{} ({:.1})",
                        ph(Quantity::Faults.name()),
                        l.faults_per_spawn
                    ),
                    md::dur(l.outside_trace.median),
                ]
            })
            .collect();
        body.push_str(&md::table(
            &[
                "strategy",
                "wall median",
                "wall p10 – p90",
                "vs raw-vfork [95% CI]",
                &Phase::Prep.label(),
                &Phase::Copy.label(),
                &Phase::Setup.label(),
                &Phase::ExecOpen.label(),
                &Phase::ExecTeardown.label(),
                &Phase::ExecLoad.label(),
                &Phase::Startup.label(),
                &Phase::Reap.label(),
                "fault time (faults/spawn)",
                "outside the trace",
            ],
            &rows,
        ));
        let _ = writeln!(
            body,
            "\nWhy each costs what it costs (traced phase medians minus raw vfork's, per run, median with its 95% order-statistic interval over runs; phases within 5 µs or whose interval contains 0 are left out):\n"
        );
        for l in &res.lanes {
            let _ = writeln!(
                body,
                "- **{}** ({}): {}.",
                l.lane,
                mechanism(&l.lane),
                if l.lane == "raw-vfork" {
                    "the reference".to_string()
                } else {
                    explain(l)
                }
            );
        }
        let _ = writeln!(body);
        body.push_str(&md::figure(
            &format!("{}/phases.svg", res.child),
            &format!(
                "{} child: median of each phase per strategy (from `spawnprof report`; black tick = median traced total)",
                res.child
            ),
        ));
        body.push_str(&md::figure(
            &format!("{}/faults.svg", res.child),
            &format!(
                "{} child: median page-fault time per spawn, by side",
                res.child
            ),
        ));
        plot_series.push(plot::Series {
            name: format!("{} child", res.child),
            points: res
                .lanes
                .iter()
                .enumerate()
                .map(|(i, l)| plot::Point {
                    x: i,
                    mid: l.wall.median / 1e3,
                    lo: l.wall.p10 / 1e3,
                    hi: l.wall.p90 / 1e3,
                })
                .collect(),
        });
        let _ = c;
    }
    let labels: Vec<String> = LANES.iter().map(|s| s.to_string()).collect();
    plot::bars(
        &ctx.dir.join("wall.svg"),
        &plot::Chart {
            title: "Spawn + wait, untraced (median, whiskers p10–p90)",
            x_desc: "strategy",
            y_desc: "time per spawn (µs)",
            x_labels: &labels,
            log_y: false,
        },
        &plot_series,
    )?;
    let results_md = format!(
        "{}\n{body}",
        md::figure(
            "wall.svg",
            "Untraced spawn+wait time per strategy, both children (median, p10–p90)"
        )
    );

    let lane = |c: usize, n: &str| results[c].lanes.iter().find(|l| l.lane == n);
    let ratio_of = |c: usize, n: &str| lane(c, n).and_then(|l| l.ratio_vs_raw_vfork);
    let (ps, rv) = (lane(0, "posix-spawn"), lane(0, "raw-vfork"));
    let dynamic_startup = lane(1, "clone3")
        .and_then(|l| {
            l.phase_median_ns
                .iter()
                .find(|(n, _)| n == Phase::Startup.name())
        })
        .map_or(f64::NAN, |(_, v)| *v);
    let dynamic_total = lane(1, "clone3").map_or(f64::NAN, |l| l.traced_total.median);
    let answer = match (ps, rv) {
        (Some(ps), Some(rv)) => format!(
            "For a static child, {} (untraced medians {} and {}); traced phases against raw vfork: {}. \
             From a small parent ({}), {}. {}\
             For the dynamic /bin/true, startup (ld.so + libc init) is {} of a {} traced clone3 spawn ({:.0}%). {}",
            md::time_ratio(
                ps.ratio_vs_raw_vfork,
                "glibc posix_spawn",
                "a raw vfork+execve"
            ),
            md::dur(ps.wall.median),
            md::dur(rv.wall.median),
            explain(ps),
            rss_small,
            md::time_ratio(ratio_of(0, "fork"), "fork", "raw vfork"),
            like_raw(&results[0]),
            md::dur(dynamic_startup),
            md::dur(dynamic_total),
            100.0 * dynamic_startup / dynamic_total,
            spread_words(results),
        ),
        _ => "no result".into(),
    };
    let one_line = match (ps, rv) {
        (Some(_), Some(_)) => format!(
            "static child: {}; {}; dynamic /bin/true: startup {} of {} per traced spawn",
            md::time_ratio(ratio_of(0, "posix-spawn"), "posix_spawn", "raw vfork"),
            md::time_ratio(ratio_of(0, "fork"), "fork", "raw vfork"),
            md::dur(dynamic_startup),
            md::dur(dynamic_total)
        ),
        _ => "no result".into(),
    };
    let params = json!({
        "lanes": LANES,
        "children": results.iter().map(|r| (r.child.clone(), r.path.clone())).collect::<Vec<_>>(),
        "passes": p.passes,
        "rounds_timed_per_pass": p.rounds_timed,
        "rounds_traced_per_pass": p.rounds_traced,
        "warmup_rounds": p.warmup,
        "parent_ballast_bytes": 0,
        "runs_per_pass": BLOCKS_PER_PASS,
        "interval": "order statistics of per-run paired values, 95%",
    });
    ctx.publish(Report {
        title: "phases: where each spawn strategy's time goes",
        question: "For each way of spawning (spawn-fast's fork, vfork, posix_spawn, clone3, zygote and template, Rust's std, and a raw vfork+execve reference), where does the time of one spawn go: copying the parent, waiting to run, the child's setup, exec (open, teardown, load, finish), the dynamic loader, the reap, and page faults? And why does each strategy cost what it costs, for instance why is glibc posix_spawn slower than a raw vfork, if it is?".into(),
        answer,
        one_line,
        method: format!(
            "One release-built worker process (no ballast) spawns each child with all {} strategies in turn, round-robin with the starting strategy rotated every round, \
             {} timed rounds and {} traced rounds per pass, {} passes alternating which child goes first, after {} warm-up rounds. \
             Timed runs are untraced and give the wall time (spawn call to wait return, CLOCK_MONOTONIC). Traced runs run the same worker under `spawnprof trace --prep` (spawn and page-fault probes, plus the uprobe on spawn-fast's entry mark); \
             each spawn's record is matched to the worker's sample by time (the clone entry falls inside the sample's window; the worker spawns one child at a time). \
             Every interval is over runs: each pass's worker is cut into {} runs of consecutive rounds (all lanes interleaved in each), a lane's ratio to raw vfork and its phase differences are taken per run (medians of that run), and the table shows their median over runs with its 95% order-statistic interval (at least {} runs are needed); an interval that contains 1 (ratio) or 0 (difference) is reported as no difference. \
             The per-strategy traces are rendered by `spawnprof report --by file` (the same renderer users get).",
            LANES.len(), p.rounds_timed, p.rounds_traced, p.passes, p.warmup, BLOCKS_PER_PASS, stats::MIN_RUNS
        ),
        results: results_md,
        machine_note: String::new(),
        limits: vec![
            swing,
            drift,
            "`prep` (spawn API entry to the clone call) is only measured where a mark exists: spawn-fast's lanes (uprobe on `spawn_fast_mark_enter`). For `std`, `raw-vfork` and `zygote` it is n/a in the tables and the time before the clone is in \"outside the trace\" (wall minus traced total: user space before the clone and after the wait, plus probe overhead).".into(),
            "Traced phases include the probes' own cost (see the `overhead` report), and the spawn-fast lanes carry one more probe than `std` and `raw-vfork`: the prep uprobe, whose cost is in their traced times only. Wall times in the first columns are from untraced runs.".into(),
            "Medians of phases do not add up to the median total; the black tick in the phase plots is the median traced total.".into(),
            "The zygote's children are created by the zygote, so `copy` and `setup` are the zygote's clone3; no probe links the worker's request to the zygote's clone, so the socket round trip is not a phase: it is in \"outside the trace\", and the status pipe is in `reap`.".into(),
            "No hardware counters (cycles, cache misses) are read, so the trace shows where time goes, not why a phase is slow at the instruction level.".into(),
        ],
        files: vec![
            ("data.json", "every number in this report (summaries, intervals, parameters)"),
            ("samples.csv", "every timed and traced spawn: child, pass, lane, round, ns"),
            ("traces/", "the raw `spawnprof trace --json` output of each traced pass, and its per-strategy subsets"),
            ("static/", "`spawnprof report` of the static child: phases.svg, faults.svg, phases.csv, summary.txt"),
            ("dynamic/", "the same for /bin/true"),
            ("wall.svg", "untraced wall time per strategy"),
        ],
        params,
        data: json!({"results": results}),
    })
}

/// The lanes whose wall time shows no difference from raw vfork (interval contains 1).
fn like_raw(res: &ChildResult) -> String {
    if res
        .lanes
        .iter()
        .any(|l| l.lane != "raw-vfork" && l.ratio_vs_raw_vfork.is_none())
    {
        return String::new();
    }
    let same: Vec<String> = res
        .lanes
        .iter()
        .filter(|l| l.lane != "raw-vfork")
        .filter(|l| stats::verdict(l.ratio_vs_raw_vfork.as_ref(), 1.0) == Verdict::NoDifference)
        .map(|l| format!("{} ({})", l.lane, md::ratio(l.ratio_vs_raw_vfork)))
        .collect();
    let faster: Vec<String> = res
        .lanes
        .iter()
        .filter(|l| md::below(l.ratio_vs_raw_vfork, 1.0))
        .map(|l| format!("{} ({})", l.lane, md::ratio(l.ratio_vs_raw_vfork)))
        .collect();
    let mut out = if same.is_empty() {
        "Every other strategy's interval excludes 1.".to_string()
    } else {
        format!(
            "{}.",
            stats::no_difference(&same.join(", "), "raw vfork", "each ratio's interval", "1")
        )
    };
    if !faster.is_empty() {
        out.push_str(&format!(" Faster than raw vfork: {}.", faster.join(", ")));
    }
    out + " "
}

/// The range of the non-fork strategies' ratios to raw vfork, per child: how much the choice
/// of strategy moves a spawn of each child.
fn spread_words(results: &[ChildResult]) -> String {
    // Medians of pooled untraced wall times (a description; the intervals are in the table).
    let range = |res: &ChildResult| -> (f64, f64) {
        let raw = res
            .lanes
            .iter()
            .find(|l| l.lane == "raw-vfork")
            .map_or(f64::NAN, |l| l.wall.median);
        res.lanes
            .iter()
            .filter(|l| l.lane != "fork" && l.lane != "raw-vfork")
            .map(|l| l.wall.median / raw)
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            })
    };
    let parts: Vec<String> = results
        .iter()
        .map(|r| {
            let (lo, hi) = range(r);
            format!(
                "between {:.2}× and {:.2}× for the {} child",
                lo, hi, r.child
            )
        })
        .collect();
    let widths: Vec<f64> = results
        .iter()
        .map(|r| {
            let (lo, hi) = range(r);
            hi - lo
        })
        .collect();
    let conclusion = match widths.as_slice() {
        [s, d] if s.is_finite() && d.is_finite() && d < s => {
            "so the choice of strategy moves a dynamic spawn less, relative to its cost, than a static one"
        }
        [s, d] if s.is_finite() && d.is_finite() => {
            "so the choice of strategy moves a dynamic spawn at least as much, relative to its cost, as a static one"
        }
        _ => "(no wall times to compare)",
    };
    format!(
        "Against raw vfork's median wall time, the strategies other than fork take {}, {conclusion}.",
        parts.join(" and ")
    )
}

/// How far the absolute times moved between runs, against the ratios of interleaved lanes.
fn swing_words(wall: &[Vec<Runs>], runs: usize) -> String {
    let reference = 0; // raw-vfork
    let ps = LANES.iter().position(|l| *l == "posix-spawn").unwrap_or(0);
    let rng = |v: &[f64]| -> (f64, f64) {
        v.iter()
            .filter(|x| x.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            })
    };
    let abs = rng(&wall[0][reference].medians(runs));
    let ratios: Vec<f64> = wall[0][ps]
        .medians(runs)
        .iter()
        .zip(wall[0][reference].medians(runs))
        .map(|(a, b)| a / b)
        .collect();
    let rel = rng(&ratios);
    format!(
        "Between runs, raw vfork's median (static child) ranges from {} to {} ({:.2}× apart), while posix_spawn's per-run ratio to it ranges from {:.2}× to {:.2}×: compare ratios of interleaved lanes, not absolute times.",
        md::dur(abs.0),
        md::dur(abs.1),
        abs.1 / abs.0,
        rel.0,
        rel.1
    )
}
