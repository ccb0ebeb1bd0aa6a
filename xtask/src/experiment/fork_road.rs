//! `fork-in-the-road`: spawn latency against parent size, in the manner of Figure 1 of
//! "A fork() in the road" (Baumann et al., HotOS 2019), plus the phase that grows.

use std::{fmt::Write as _, fs};

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::json;
use spawn_analysis::phase::Phase;
use spawn_analysis::record::SpawnRecord;
use spawn_analysis::stats::{self, Interval, Summary};
use spawn_bench::BallastMode;

use super::{
    Ctx, Outcome,
    ctx::Probes,
    md, plot,
    runs::{Runs, run_of},
    trace::{self, Quantity},
    worker::{Job, LaneSpec, RoundsJob, RoundsOut},
};

pub const LANES: [&str; 6] = ["fork", "vfork", "posix-spawn", "clone3", "zygote", "std"];
const MODES: [BallastMode; 3] = [
    BallastMode::Untouched,
    BallastMode::Dirty,
    BallastMode::Fragmented,
];
/// Phases whose growth with parent size is measured (plus parent and child fault time).
const GROWTH: [Quantity; 11] = [
    Quantity::Phase(Phase::Copy),
    Quantity::Phase(Phase::Queue),
    Quantity::Phase(Phase::Setup),
    Quantity::Phase(Phase::ExecOpen),
    Quantity::Phase(Phase::ExecTeardown),
    Quantity::Phase(Phase::ExecLoad),
    Quantity::Phase(Phase::ExecFinish),
    Quantity::Phase(Phase::Run),
    Quantity::Phase(Phase::Reap),
    Quantity::FaultsChild,
    Quantity::FaultsParent,
];
/// Runs per timed pass (blocks of consecutive rounds of one worker), and in the one traced
/// run per point: enough runs for an order-statistic interval.
const BLOCKS_TIMED: usize = 5;
const BLOCKS_TRACED: usize = 8;

fn mode_name(m: BallastMode) -> &'static str {
    match m {
        BallastMode::Untouched => "untouched",
        BallastMode::Dirty => "dirty",
        BallastMode::Fragmented => "fragmented",
    }
}

/// Expected ms of one fork+exec+wait from a parent of `size` (measured here beforehand): the
/// page-table copy and teardown dominate; one VMA per page costs far more than dirty pages.
fn fork_ms(mode: BallastMode, size: usize) -> f64 {
    let gib = size as f64 / (1u64 << 30) as f64;
    let per_gib = match mode {
        BallastMode::Untouched => 0.05,
        BallastMode::Dirty => 65.0,
        BallastMode::Fragmented => 1100.0,
    };
    0.4 + per_gib * gib
}

struct Params {
    sizes: Vec<usize>,
    passes: usize,
    rounds: usize,
    rounds_traced: usize,
    warmup: usize,
    /// Time allowed for the fork lane per point and run (ms): fork runs every k-th round.
    fork_budget_ms: f64,
    min_fork: usize,
}

#[derive(Clone, Copy, Debug, Serialize)]
struct Point {
    mode: &'static str,
    size: usize,
}

#[derive(Serialize)]
struct LaneAt {
    lane: String,
    wall: Summary,
    traced: usize,
    phase_median_ns: Vec<(String, f64)>,
}

#[derive(Serialize)]
struct PointResult {
    point: Point,
    rss_bytes: u64,
    fork_every: usize,
    lanes: Vec<LaneAt>,
}

#[derive(Serialize)]
struct Growth {
    mode: &'static str,
    lane: String,
    /// Slope of the median wall time, ns per GiB of parent: one slope per run (a block of
    /// every point's worker in one pass), their median with its 95% interval over runs.
    wall_ns_per_gib: Option<Interval>,
    /// The same for each phase's median, over the blocks of the traced run, ns per GiB.
    phase_ns_per_gib: Vec<(String, Option<Interval>)>,
}

/// Raises vm.max_map_count for the fragmented parents (one VMA per page) and restores it.
struct MapCount {
    old: u64,
}

const MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

impl MapCount {
    fn raise(to: u64) -> Result<Option<MapCount>> {
        let old: u64 = fs::read_to_string(MAP_COUNT)?.trim().parse()?;
        if old >= to {
            return Ok(None);
        }
        fs::write(MAP_COUNT, to.to_string()).context("raising vm.max_map_count")?;
        Ok(Some(MapCount { old }))
    }
}

impl Drop for MapCount {
    fn drop(&mut self) {
        let _ = fs::write(MAP_COUNT, self.old.to_string());
    }
}

fn points(sizes: &[usize]) -> Vec<Point> {
    // Size 0 is one point for every mode: there is no ballast to prepare.
    let mut v = vec![Point {
        mode: "none",
        size: 0,
    }];
    for m in MODES {
        for &s in sizes.iter().filter(|s| **s > 0) {
            v.push(Point {
                mode: mode_name(m),
                size: s,
            });
        }
    }
    v
}

fn mode_of(p: &Point) -> BallastMode {
    MODES
        .iter()
        .copied()
        .find(|m| mode_name(*m) == p.mode)
        .unwrap_or(BallastMode::Untouched)
}

fn fork_every(p: &Params, pt: &Point, rounds: usize) -> usize {
    let n = (p.fork_budget_ms / fork_ms(mode_of(pt), pt.size)).floor() as usize;
    let n = n.clamp(p.min_fork, rounds.max(1));
    rounds.div_ceil(n).max(1)
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let p = if ctx.quick {
        Params {
            sizes: vec![0, 64 << 20],
            passes: 1,
            rounds: 12,
            rounds_traced: 6,
            warmup: 1,
            fork_budget_ms: 400.0,
            min_fork: 3,
        }
    } else {
        Params {
            sizes: vec![0, 64 << 20, 256 << 20, 1 << 30, 4 << 30],
            passes: 2,
            rounds: 200,
            rounds_traced: 40,
            warmup: 3,
            fork_budget_ms: 7000.0,
            min_fork: 4,
        }
    };
    let max_size = p.sizes.iter().copied().max().unwrap_or(0);
    // One VMA per 4 KiB page at most, plus room for everything else the process maps.
    let map_guard = MapCount::raise((max_size / 4096) as u64 + 65_536)?;
    let pts = points(&p.sizes);
    let est = |pt: &Point, rounds: usize, traced: bool| -> u64 {
        let every = fork_every(&p, pt, rounds);
        let forks = rounds.div_ceil(every) as f64;
        let setup = pt.size as f64 / (1u64 << 30) as f64 * 1500.0;
        let spawn =
            rounds as f64 * 0.4 * (LANES.len() - 1) as f64 + forks * fork_ms(mode_of(pt), pt.size);
        ((setup + spawn) * if traced { 1.3 } else { 1.0 }) as u64 + 200
    };
    ctx.plan(
        pts.iter()
            .map(|pt| est(pt, p.rounds, false) * p.passes as u64 + est(pt, p.rounds_traced, true))
            .sum(),
    );
    let traces = ctx.dir.join("traces");
    fs::create_dir_all(&traces)?;
    let n = pts.len();
    let mut wall: Vec<Vec<Runs>> = vec![vec![Runs::default(); LANES.len()]; n];
    let mut recs: Vec<Vec<Vec<(SpawnRecord, usize)>>> = vec![vec![Vec::new(); LANES.len()]; n];
    let mut rss = vec![0u64; n];
    let mut csv = String::from("mode,size_bytes,pass,traced,lane,round,ns\n");
    // Untimed passes alternate the order of the points; the traced run comes last.
    let mut runs: Vec<(usize, Option<usize>)> = Vec::new();
    for pass in 0..p.passes {
        let mut order: Vec<usize> = (0..n).collect();
        if pass % 2 == 1 {
            order.reverse();
        }
        runs.extend(order.into_iter().map(|i| (i, Some(pass))));
    }
    runs.extend((0..n).map(|i| (i, None)));
    for (i, pass) in runs {
        let pt = pts[i];
        let traced = pass.is_none();
        let rounds = if traced { p.rounds_traced } else { p.rounds };
        let every = fork_every(&p, &pt, rounds);
        let job = |out| {
            Job::Rounds(RoundsJob {
                out,
                lanes: LANES
                    .iter()
                    .map(|l| LaneSpec {
                        strategy: l.to_string(),
                        every: if *l == "fork" { every } else { 1 },
                    })
                    .collect(),
                ballast_bytes: pt.size,
                ballast: mode_of(&pt),
                child: ctx.tools.exit0.clone(),
                args: Vec::new(),
                rounds,
                warmup: p.warmup,
                pace_ns: None,
            })
        };
        let tfile = traces.join(format!(
            "{}-{}.jsonl",
            pt.mode,
            md::size(pt.size).replace(' ', "")
        ));
        let probes = if traced {
            Probes::Everything
        } else {
            Probes::None
        };
        let (out, records): (RoundsOut, _) =
            ctx.worker(job, probes, traced.then_some(tfile.as_path()))?;
        rss[i] = rss[i].max(out.rss_bytes);
        for s in &out.samples {
            let _ = writeln!(
                csv,
                "{},{},{},{traced},{},{},{}",
                pt.mode,
                pt.size,
                pass.map_or("traced".into(), |p| p.to_string()),
                LANES[s.lane],
                s.round,
                s.ns
            );
        }
        if traced {
            for (s, r) in out
                .samples
                .iter()
                .zip(trace::match_samples(&records, &out.samples))
            {
                if let Some(r) = r {
                    let mut r = r.clone();
                    if LANES[s.lane] == "std" {
                        trace::drop_stale_prep(&mut r);
                    }
                    recs[i][s.lane].push((r, run_of(0, BLOCKS_TRACED, s.round, rounds)));
                }
            }
        } else if let Some(pass) = pass {
            for s in &out.samples {
                let run = run_of(pass, BLOCKS_TIMED, s.round, rounds);
                wall[i][s.lane].push(run, s.ns as f64);
            }
        }
        ctx.done(
            est(&pt, rounds, traced),
            &format!(
                "{} {} {}",
                pt.mode,
                md::size(pt.size),
                pass.map_or("traced".into(), |p| format!("pass {}", p + 1))
            ),
        );
    }
    drop(map_guard);
    ctx.write_text("samples.csv", &csv)?;

    let results: Vec<PointResult> = (0..n)
        .map(|i| PointResult {
            point: pts[i],
            rss_bytes: rss[i],
            fork_every: fork_every(&p, &pts[i], p.rounds),
            lanes: LANES
                .iter()
                .enumerate()
                .map(|(l, lane)| LaneAt {
                    lane: lane.to_string(),
                    wall: stats::summary(&wall[i][l].pooled()),
                    traced: recs[i][l].len(),
                    phase_median_ns: GROWTH
                        .iter()
                        .map(|q| {
                            let v = values(&recs[i][l], *q).pooled();
                            (q.name().to_string(), stats::median(&v))
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let timed_runs = p.passes * BLOCKS_TIMED;
    let growth = growth(&pts, timed_runs, &wall, &recs);
    // fork against posix_spawn at the largest dirty parent: the paper's headline comparison.
    let big = (0..n)
        .filter(|&i| pts[i].mode == "dirty")
        .max_by_key(|&i| pts[i].size);
    let fork_vs_posix = big.and_then(|i| {
        stats::paired_ratio(
            &wall[i][0].medians(timed_runs),
            &wall[i][2].medians(timed_runs),
        )
    });
    phase_reports(ctx, &pts, &recs)?;
    plots(ctx, &p, &pts, &results)?;
    write_report(ctx, &p, &pts, &results, &growth, fork_vs_posix)
}

/// A growth quantity of each traced record, by run.
fn values(rs: &[(SpawnRecord, usize)], q: Quantity) -> Runs {
    let mut out = Runs::default();
    for (r, run) in rs {
        out.push(*run, q.of(r, 0.0));
    }
    out
}

fn gib(size: usize) -> f64 {
    size as f64 / (1u64 << 30) as f64
}

/// Per mode and lane: slopes against GiB of the wall median and of each phase median, over
/// the points of that mode plus size 0; one slope per run, the interval over runs.
fn growth(
    pts: &[Point],
    timed_runs: usize,
    wall: &[Vec<Runs>],
    recs: &[Vec<Vec<(SpawnRecord, usize)>>],
) -> Vec<Growth> {
    let mut out = Vec::new();
    for m in MODES {
        let idx: Vec<usize> = (0..pts.len())
            .filter(|&i| pts[i].size == 0 || pts[i].mode == mode_name(m))
            .collect();
        if idx.len() < 2 {
            continue;
        }
        let xs: Vec<f64> = idx.iter().map(|&i| gib(pts[i].size)).collect();
        for (l, lane) in LANES.iter().enumerate() {
            let w: Vec<Vec<f64>> = idx
                .iter()
                .map(|&i| wall[i][l].medians(timed_runs))
                .collect();
            let phase_ns_per_gib = GROWTH
                .iter()
                .map(|q| {
                    let per_x: Vec<Vec<f64>> = idx
                        .iter()
                        .map(|&i| values(&recs[i][l], *q).medians(BLOCKS_TRACED))
                        .collect();
                    (q.name().to_string(), stats::slope_over_runs(&xs, &per_x))
                })
                .collect();
            out.push(Growth {
                mode: mode_name(m),
                lane: lane.to_string(),
                wall_ns_per_gib: stats::slope_over_runs(&xs, &w),
                phase_ns_per_gib,
            });
        }
    }
    out
}

/// `spawnprof report` of each mode's largest parent: one bar per strategy.
fn phase_reports(ctx: &Ctx, pts: &[Point], recs: &[Vec<Vec<(SpawnRecord, usize)>>]) -> Result<()> {
    for m in MODES {
        let Some(i) = (0..pts.len())
            .filter(|&i| pts[i].mode == mode_name(m))
            .max_by_key(|&i| pts[i].size)
        else {
            continue;
        };
        let name = format!(
            "{}-{}",
            mode_name(m),
            md::size(pts[i].size).replace(' ', "")
        );
        let sub = ctx.dir.join("traces").join(&name);
        fs::create_dir_all(&sub)?;
        let mut files = Vec::new();
        for (l, lane) in LANES.iter().enumerate() {
            let f = sub.join(format!("{lane}.jsonl"));
            trace::write_lines(&f, recs[i][l].iter().map(|(r, _)| r))?;
            files.push(f);
        }
        ctx.phase_report(
            &files,
            "file",
            &format!("{} parent of {}", mode_name(m), md::size(pts[i].size)),
            &ctx.dir.join(format!("phases-{name}")),
        )?;
    }
    Ok(())
}

fn plots(ctx: &Ctx, p: &Params, pts: &[Point], results: &[PointResult]) -> Result<()> {
    let labels: Vec<String> = p.sizes.iter().map(|s| md::size(*s)).collect();
    let at = |mode: &str, size: usize| {
        results
            .iter()
            .find(|r| r.point.size == size && (size == 0 || r.point.mode == mode))
    };
    for m in MODES {
        let series: Vec<plot::Series> = LANES
            .iter()
            .enumerate()
            .map(|(l, lane)| plot::Series {
                name: lane.to_string(),
                points: p
                    .sizes
                    .iter()
                    .enumerate()
                    .filter_map(|(x, &s)| {
                        let w = &at(mode_name(m), s)?.lanes[l].wall;
                        Some(plot::Point {
                            x,
                            mid: w.median / 1e3,
                            lo: w.p10 / 1e3,
                            hi: w.p90 / 1e3,
                        })
                    })
                    .collect(),
            })
            .collect();
        plot::lines(
            &ctx.dir.join(format!("latency-{}.svg", mode_name(m))),
            &plot::Chart {
                title: &format!("Spawn + wait of a static child, {} parent", mode_name(m)),
                x_desc: "parent size (ballast)",
                y_desc: "time per spawn (µs, log scale; median, p10–p90)",
                x_labels: &labels,
                log_y: true,
            },
            &series,
        )?;
        // Fork's phases against size: which one grows.
        let fork = 0;
        let series: Vec<plot::Series> = GROWTH
            .iter()
            .enumerate()
            .map(|(g, ph)| plot::Series {
                name: ph.name().replace('_', " "),
                points: p
                    .sizes
                    .iter()
                    .enumerate()
                    .filter_map(|(x, &s)| {
                        let v = at(mode_name(m), s)?.lanes[fork].phase_median_ns[g].1 / 1e3;
                        (v > 0.0).then_some(plot::Point {
                            x,
                            mid: v,
                            lo: v,
                            hi: v,
                        })
                    })
                    .collect(),
            })
            .collect();
        plot::lines(
            &ctx.dir.join(format!("fork-phases-{}.svg", mode_name(m))),
            &plot::Chart {
                title: &format!("fork: phase medians (traced), {} parent", mode_name(m)),
                x_desc: "parent size (ballast)",
                y_desc: "median per spawn (µs, log scale)",
                x_labels: &labels,
                log_y: true,
            },
            &series,
        )?;
    }
    let _ = pts;
    Ok(())
}

/// The phases that really grow for a lane and mode: slope interval above 0 and at least a
/// tenth of the wall-time slope, largest first (at most three).
fn growing(g: &Growth) -> Vec<(&String, Interval)> {
    let floor = (point(g.wall_ns_per_gib) * 0.1).max(1_000.0);
    let mut v: Vec<(&String, Interval)> = g
        .phase_ns_per_gib
        .iter()
        .filter_map(|(n, c)| Some((n, (*c)?)))
        .filter(|(_, c)| c.low > 0.0 && c.point >= floor)
        .collect();
    v.sort_by(|a, b| b.1.point.total_cmp(&a.1.point));
    v.truncate(3);
    v
}

/// "exec teardown 22.4 ms [..], copy 19.0 ms [..]" or a plain "none".
fn growing_text(g: &Growth) -> String {
    let v = growing(g);
    if v.is_empty() {
        return "none (no phase grows by 1 µs/GiB or more with an interval above 0)".into();
    }
    v.iter()
        .map(|(ph, c)| format!("{} {}", ph.replace('_', " "), per_gib(Some(*c))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The point estimate, NaN without an interval.
fn point(ci: Option<Interval>) -> f64 {
    ci.map_or(f64::NAN, |c| c.point)
}

fn per_gib(ci: Option<Interval>) -> String {
    let Some(ci) = ci else {
        return md::NO_INTERVAL.into();
    };
    let f = |v: f64| {
        if v.abs() >= 1e6 {
            format!("{:.1} ms", v / 1e6)
        } else {
            format!("{:.0} µs", v / 1e3)
        }
    };
    format!("{} [{}, {}]", f(ci.point), f(ci.low), f(ci.high))
}

fn write_report(
    ctx: &Ctx,
    p: &Params,
    pts: &[Point],
    results: &[PointResult],
    growth: &[Growth],
    fork_vs_posix: Option<Interval>,
) -> Result<Outcome> {
    let mut body = String::new();
    for m in MODES {
        let mn = mode_name(m);
        let _ = writeln!(body, "### {mn} parent\n");
        body.push_str(&md::figure(
            &format!("latency-{mn}.svg"),
            &format!("Spawn+wait latency against parent size, {mn} ballast (log scale)"),
        ));
        let mut headers = vec!["parent".to_string(), "RSS".to_string()];
        headers.extend(LANES.iter().map(|l| format!("`{l}` median (p10–p90)")));
        let rows: Vec<Vec<String>> = results
            .iter()
            .filter(|r| r.point.size == 0 || r.point.mode == mn)
            .map(|r| {
                let mut row = vec![md::size(r.point.size), format!("{} MiB", r.rss_bytes >> 20)];
                row.extend(r.lanes.iter().map(|l| md::dur_spread(&l.wall)));
                row
            })
            .collect();
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        body.push_str(&md::table(&h, &rows));
        let _ = writeln!(
            body,
            "\nGrowth per GiB of parent (least-squares slope of the medians over the sizes, one slope per run, median with its 95% interval over runs), and the traced phases that grow (interval above 0, at least a tenth of the wall-time growth):\n"
        );
        let rows: Vec<Vec<String>> = growth
            .iter()
            .filter(|g| g.mode == mn)
            .map(|g| {
                vec![
                    format!("`{}`", g.lane),
                    per_gib(g.wall_ns_per_gib),
                    growing_text(g),
                ]
            })
            .collect();
        body.push_str(&md::table(
            &["strategy", "wall time per GiB", "phases that grow, per GiB"],
            &rows,
        ));
        body.push('\n');
        body.push_str(&md::figure(
            &format!("fork-phases-{mn}.svg"),
            &format!("fork: median of each traced phase against parent size, {mn} ballast"),
        ));
        if let Some(i) = (0..pts.len())
            .filter(|&i| pts[i].mode == mn)
            .max_by_key(|&i| pts[i].size)
        {
            let name = format!("{mn}-{}", md::size(pts[i].size).replace(' ', ""));
            body.push_str(&md::figure(
                &format!("phases-{name}/phases.svg"),
                &format!(
                    "Phases of every strategy from a {mn} parent of {} (`spawnprof report`)",
                    md::size(pts[i].size)
                ),
            ));
        }
    }
    let g = |mode: &str, lane: &str| growth.iter().find(|g| g.mode == mode && g.lane == lane);
    let largest = p.sizes.iter().copied().max().unwrap_or(0);
    let wall_at = |mode: &str, lane: &str| {
        let r = results
            .iter()
            .find(|r| r.point.size == largest && r.point.mode == mode)?;
        let l = LANES.iter().position(|x| *x == lane)?;
        Some(r.lanes[l].wall.median)
    };
    let describe = |mode: &str| -> String {
        match g(mode, "fork") {
            Some(fg) => format!(
                "{mode} parent: fork grows by {} per GiB; the phases that grow: {}",
                per_gib(fg.wall_ns_per_gib),
                growing_text(fg)
            ),
            None => format!("{mode}: no data"),
        }
    };
    // Whether the CLONE_VM strategies are flat: each grows by under 1% of fork's growth.
    let fork_slope = g("dirty", "fork").map_or(f64::NAN, |g| point(g.wall_ns_per_gib));
    let all_flat = ["posix-spawn", "vfork", "clone3", "zygote", "std"]
        .iter()
        .filter_map(|l| g("dirty", l))
        .all(|g| point(g.wall_ns_per_gib).abs() < 0.01 * fork_slope);
    let flat_text = if all_flat {
        "Every CLONE_VM strategy (and the zygote) stays flat, growing by less than 1% of fork's growth per GiB, as posix_spawn did in the paper's Figure 1."
    } else {
        "Not every CLONE_VM strategy stays flat here: see the growth table."
    };
    let flat: Vec<String> = ["posix-spawn", "vfork", "clone3", "zygote", "std"]
        .iter()
        .filter_map(|l| g("dirty", l).map(|g| format!("{l} {}", per_gib(g.wall_ns_per_gib))))
        .collect();
    let answer = format!(
        "From a {} dirty parent, fork+exec takes {} per spawn against {} for posix_spawn ({} as slow, 95% CI) and {} for clone3. {} \
         {}. {}. {}. Growth per GiB of the others (dirty parent): {}.",
        md::size(largest),
        wall_at("dirty", "fork").map_or("n/a".into(), md::dur),
        wall_at("dirty", "posix-spawn").map_or("n/a".into(), md::dur),
        md::ratio(fork_vs_posix),
        wall_at("dirty", "clone3").map_or("n/a".into(), md::dur),
        flat_text,
        describe("dirty"),
        describe("fragmented"),
        describe("untouched"),
        flat.join(", ")
    );
    let one_line = format!(
        "fork from a {} dirty parent: {} per spawn vs posix_spawn {} ({} /GiB); fork grows {} /GiB dirty, {} /GiB fragmented, {} /GiB untouched",
        md::size(largest),
        wall_at("dirty", "fork").map_or("n/a".into(), md::dur),
        wall_at("dirty", "posix-spawn").map_or("n/a".into(), md::dur),
        g("dirty", "posix-spawn").map_or("n/a".into(), |g| per_gib(g.wall_ns_per_gib)),
        g("dirty", "fork").map_or("n/a".into(), |g| per_gib(g.wall_ns_per_gib)),
        g("fragmented", "fork").map_or("n/a".into(), |g| per_gib(g.wall_ns_per_gib)),
        g("untouched", "fork").map_or("n/a".into(), |g| per_gib(g.wall_ns_per_gib)),
    );
    let params = json!({
        "lanes": LANES,
        "sizes_bytes": p.sizes,
        "modes": MODES.iter().map(|m| mode_name(*m)).collect::<Vec<_>>(),
        "passes": p.passes,
        "rounds_per_pass": p.rounds,
        "rounds_traced": p.rounds_traced,
        "warmup_rounds": p.warmup,
        "fork_budget_ms_per_point": p.fork_budget_ms,
        "min_fork_samples_per_run": p.min_fork,
        "fork_every_per_point": results.iter().map(|r| json!({"mode": r.point.mode, "size": r.point.size, "every": r.fork_every})).collect::<Vec<_>>(),
        "child": ctx.tools.exit0.display().to_string(),
        "runs_per_pass": BLOCKS_TIMED,
        "runs_traced": BLOCKS_TRACED,
    });
    let env = ctx.write_env(params.clone())?;
    ctx.write_json(
        "data.json",
        &json!({"answer": one_line, "quick": ctx.quick, "params": params, "points": results, "growth": growth, "fork_vs_posix_spawn_largest_dirty": fork_vs_posix}),
    )?;
    let readme = md::Readme {
        title: "fork-in-the-road: spawn latency against parent size".into(),
        rerun: ctx.rerun(),
        question: "\"A fork() in the road\" (Baumann et al., HotOS 2019) showed in its Figure 1 that fork+exec gets slower as the parent grows while posix_spawn stays near 0.5 ms at any size. Does that hold on this kernel for every spawn-fast strategy and Rust's std, for parents that are untouched (mapped, never written), dirty (every page written) and fragmented (alternating read-only/read-write pages: one VMA per page)? And which phase of the spawn grows with size, by how much per GiB?".into(),
        answer,
        method: format!(
            "A release-built worker maps the parent ballast (sizes {}; `untouched`, `dirty`, `fragmented`), starts the zygote before the ballast (so the zygote stays small, as intended), then spawns spawn-fast's static `exit0` child (no libc, no loader) with every strategy in turn, round-robin, the starting strategy rotated each round. \
             {} rounds per point and pass, {} passes over the points in alternating order (forward, then reverse); fork runs only every k-th round at large sizes so that each point stays within about {:.0} s of fork time (at least {} fork samples per run; k is listed per point in `data.json`). \
             Then one traced run per point ({} rounds) under `spawnprof trace --prep` (spawn, fault and prep probes) gives the phase split; records are matched to samples by their reap time. \
             Wall time is the untraced spawn call to wait return. Every interval is over runs, never over spawns pooled across runs: a run is a block of consecutive rounds ({} per pass and point; {} blocks of the traced run for phases). Growth per GiB is the least-squares slope over the sizes of a mode (size 0 included) of each run's medians, one slope per run, summarised by their median with its 95% order-statistic interval (at least {} runs are needed; fewer give n/a); fork against posix_spawn is the median of per-run ratios with the same interval. \
             vm.max_map_count is raised for the run when the fragmented parent needs more VMAs than it allows, and restored afterwards.",
            p.sizes.iter().map(|s| md::size(*s)).collect::<Vec<_>>().join(", "),
            p.rounds, p.passes, p.fork_budget_ms / 1e3, p.min_fork, p.rounds_traced, BLOCKS_TIMED, BLOCKS_TRACED, stats::MIN_RUNS
        ),
        results: body,
        limits: vec![
            format!("Shared 2-core VM: load average {:.2} before and {:.2} after (other agents were building and testing); absolute times swing between runs, the medians of interleaved lanes and the slopes much less.", env.loadavg_before[0], env.loadavg_after[0]),
            "Fork at the largest fragmented and dirty sizes has few samples (a few per run): its p10–p90 and slope intervals are wide; the order of magnitude is what counts.".into(),
            "Traced phase medians include the probes' own cost (see `overhead`); they explain the wall times rather than replace them.".into(),
            "The paper's x axis went to 1 GiB on a bare-metal machine; this is a VM with nested page tables, where page-table copies cost more than on bare metal.".into(),
            "The size-0 point is the worker's own size (a few MiB of code, heap and stacks), shared by all three modes.".into(),
        ],
        files: vec![
            ("data.json".into(), "per point and strategy: wall summary, traced phase medians; per mode: slopes per GiB with intervals".into()),
            ("samples.csv".into(), "every spawn: mode, size, pass, lane, round, ns".into()),
            ("traces/".into(), "the raw `spawnprof trace --json` of each traced point, and per-strategy subsets of the largest sizes".into()),
            ("latency-*.svg".into(), "latency against size per mode (log scale)".into()),
            ("fork-phases-*.svg".into(), "fork's phase medians against size".into()),
            ("phases-*/".into(), "`spawnprof report` of the largest parent of each mode".into()),
            ("env.json".into(), "machine, toolchain, commit, load, parameters, seed".into()),
        ],
    };
    ctx.write_text("README.md", &readme.render())?;
    Ok(Outcome { answer: one_line })
}
