//! `fork-in-the-road`: spawn latency against parent size, in the manner of Figure 1 of
//! "A fork() in the road" (Baumann et al., HotOS 2019), plus the phase that grows.

use std::{fmt::Write as _, fs};

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::json;
use spawn_analysis::phase::Phase;
use spawn_analysis::record::SpawnRecord;
use spawn_analysis::stats::{self, Interval, Summary, Verdict};
use spawn_bench::BallastMode;

use super::{
    Ctx, Outcome,
    ctx::{Probes, Report},
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
const GROWTH: [Quantity; 11] = trace::around(
    [],
    [
        Quantity::Phase(Phase::Run),
        Quantity::Phase(Phase::Reap),
        Quantity::FaultsChild,
        Quantity::FaultsParent,
    ],
);
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
                lanes: LaneSpec::list(&LANES, Some(("fork", every))),
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
            for (s, r) in trace::matched(&records, &out.samples, &LANES) {
                recs[i][s.lane].push((r, run_of(0, BLOCKS_TRACED, s.round, rounds)));
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
    // Drift over the timed runs at the largest dirty parent (runs are in time order there).
    let drift = md::drift(
        "median wall time",
        &big.map(|i| {
            ["fork", "posix-spawn"]
                .iter()
                .filter_map(|l| {
                    let k = LANES.iter().position(|x| x == l)?;
                    Some((
                        format!("{l} at the {} dirty parent", md::size(pts[i].size)),
                        wall[i][k].medians(timed_runs),
                    ))
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default(),
    );
    phase_reports(ctx, &pts, &recs)?;
    plots(ctx, &p, &results)?;
    write_report(ctx, &p, &pts, &results, &growth, fork_vs_posix, drift)
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

fn plots(ctx: &Ctx, p: &Params, results: &[PointResult]) -> Result<()> {
    let labels: Vec<String> = p.sizes.iter().map(|s| md::size(*s)).collect();
    for m in MODES {
        let mn = mode_name(m);
        // One series over the sizes of this mode (size 0 shared by all modes).
        let over_sizes =
            |name: String, value: &dyn Fn(&PointResult) -> Option<plot::Point>| plot::Series {
                name,
                points: p
                    .sizes
                    .iter()
                    .enumerate()
                    .filter_map(|(x, &s)| {
                        let r = results
                            .iter()
                            .find(|r| r.point.size == s && (s == 0 || r.point.mode == mn))?;
                        value(r).map(|pt| plot::Point { x, ..pt })
                    })
                    .collect(),
            };
        let series: Vec<plot::Series> = LANES
            .iter()
            .enumerate()
            .map(|(l, lane)| {
                over_sizes(lane.to_string(), &|r| {
                    let w = &r.lanes[l].wall;
                    Some(plot::Point::spread(0, w, 1e3))
                })
            })
            .collect();
        plot::lines(
            &ctx.dir.join(format!("latency-{mn}.svg")),
            &plot::Chart {
                title: &format!("Spawn + wait of a static child, {mn} parent"),
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
            .map(|(g, ph)| {
                over_sizes(ph.name().replace('_', " "), &|r| {
                    let v = r.lanes[fork].phase_median_ns[g].1 / 1e3;
                    (v > 0.0).then_some(plot::Point::exact(0, v))
                })
            })
            .collect();
        plot::lines(
            &ctx.dir.join(format!("fork-phases-{mn}.svg")),
            &plot::Chart {
                title: &format!("fork: phase medians (traced), {mn} parent"),
                x_desc: "parent size (ballast)",
                y_desc: "median per spawn (µs, log scale)",
                x_labels: &labels,
                log_y: true,
            },
            &series,
        )?;
    }
    Ok(())
}

/// A growth slope is "large" when it reaches this share of fork's growth in the same mode.
const FLAT_SHARE: f64 = 0.01;

/// The smallest phase growth worth naming: a tenth of the wall-time growth, at least 1 µs/GiB.
fn growth_floor(g: &Growth) -> f64 {
    (point(g.wall_ns_per_gib) * 0.1).max(1_000.0)
}

/// The phases that really grow for a lane and mode: slope interval above 0 and at least
/// [`growth_floor`], largest first (at most three).
fn growing(g: &Growth) -> Vec<(&String, Interval)> {
    let floor = growth_floor(g);
    let mut v: Vec<(&String, Interval)> = g
        .phase_ns_per_gib
        .iter()
        .filter_map(|(n, c)| Some((n, (*c)?)))
        .filter(|(_, c)| md::above(Some(*c), 0.0) && c.point >= floor)
        .collect();
    v.sort_by(|a, b| b.1.point.total_cmp(&a.1.point));
    v.truncate(3);
    v
}

/// "exec teardown 22.4 ms [..], copy 19.0 ms [..]" or "none (...)".
fn growing_text(g: &Growth) -> String {
    if g.phase_ns_per_gib.iter().all(|(_, c)| c.is_none()) {
        return format!(
            "{} for every phase (too few traced {} spawns per run)",
            md::NO_INTERVAL,
            g.lane
        );
    }
    let v = growing(g);
    if v.is_empty() {
        return format!(
            "none (no phase grows by {} per GiB or more with an interval above 0)",
            per_gib_value(growth_floor(g))
        );
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

fn per_gib_value(v: f64) -> String {
    if v.abs() < 10_000.0 {
        // Small slopes keep a decimal, so that an interval's sign stays readable.
        format!("{:.1} µs", v / 1e3 + 0.0)
    } else if v.abs() >= 1e6 {
        format!("{:.1} ms", v / 1e6)
    } else {
        format!("{:.0} µs", v / 1e3)
    }
}

fn per_gib(ci: Option<Interval>) -> String {
    let Some(ci) = ci else {
        return md::NO_INTERVAL.into();
    };
    format!(
        "{} [{}, {}]",
        per_gib_value(ci.point),
        per_gib_value(ci.low),
        per_gib_value(ci.high)
    )
}

/// How a lane's wall time changes with the size of a `mode` parent, in the stats module's
/// words: it grows, it shrinks, or there is no difference between small and large parents.
fn growth_words(lane: &str, mode: &str, ci: Option<Interval>) -> String {
    match stats::verdict(ci.as_ref(), 0.0) {
        Verdict::Higher => format!("{lane} grows by {} per GiB of {mode} parent", per_gib(ci)),
        Verdict::Lower => format!(
            "{lane} gets faster as the {mode} parent grows: {} per GiB (not an effect a larger parent is expected to have: more likely drift between the points of a run, see the drift checks)",
            per_gib(ci)
        ),
        Verdict::NoDifference => stats::no_difference(
            &format!("{lane} from small {mode} parents"),
            "from large ones",
            &format!("the slope {} per GiB", per_gib(ci)),
            "0",
        ),
        Verdict::TooFewRuns => format!("{lane}, {mode} parent: {}", md::NO_INTERVAL),
    }
}

/// The other strategies against fork's growth in one mode: which stay within
/// [`FLAT_SHARE`] of it, and which grow, shrink or show no difference.
fn others_words(growth: &[Growth], mode: &str) -> String {
    let g = |lane: &str| growth.iter().find(|g| g.mode == mode && g.lane == lane);
    let fork = g("fork").map_or(f64::NAN, |g| point(g.wall_ns_per_gib));
    if !fork.is_finite() {
        return format!(
            "the other strategies cannot be compared with fork's growth ({mode} parent): fork's slope has no interval"
        );
    }
    let others: Vec<&Growth> = LANES[1..].iter().filter_map(|l| g(l)).collect();
    let small: Vec<&str> = others
        .iter()
        .filter(|o| point(o.wall_ns_per_gib).abs() < FLAT_SHARE * fork.abs())
        .map(|o| o.lane.as_str())
        .collect();
    let large: Vec<String> = others
        .iter()
        .filter(|o| point(o.wall_ns_per_gib).abs() >= FLAT_SHARE * fork.abs())
        .map(|o| format!("{} {}", o.lane, per_gib(o.wall_ns_per_gib)))
        .collect();
    let flat_words = if small.len() == others.len() {
        format!(
            "every other strategy ({}) changes by less than {:.0}% of fork's growth per GiB ({} parent), as posix_spawn did in the paper's Figure 1",
            small.join(", "),
            FLAT_SHARE * 100.0,
            mode
        )
    } else if small.is_empty() {
        format!(
            "no other strategy stays within {:.0}% of fork's growth per GiB ({mode} parent): {}",
            FLAT_SHARE * 100.0,
            large.join(", ")
        )
    } else {
        format!(
            "{} change by less than {:.0}% of fork's growth per GiB ({mode} parent); {} do not: {}",
            small.join(", "),
            FLAT_SHARE * 100.0,
            large.len(),
            large.join(", ")
        )
    };
    let rising: Vec<&str> = others
        .iter()
        .filter(|o| md::above(o.wall_ns_per_gib, 0.0))
        .map(|o| o.lane.as_str())
        .collect();
    let falling: Vec<&str> = others
        .iter()
        .filter(|o| md::below(o.wall_ns_per_gib, 0.0))
        .map(|o| o.lane.as_str())
        .collect();
    let mut signs = Vec::new();
    if !rising.is_empty() {
        signs.push(format!("{} with an interval above 0", rising.join(", ")));
    }
    if !falling.is_empty() {
        signs.push(format!(
            "{} with an interval below 0 (faster from a larger parent: drift between the points of a run rather than a real effect, unless it repeats)",
            falling.join(", ")
        ));
    }
    let flat = others.len() - rising.len() - falling.len();
    if flat > 0 {
        signs.push(format!(
            "{flat} with an interval that contains 0 (no difference)"
        ));
    }
    format!("{flat_words}; their slopes: {}", signs.join(", "))
}

/// What the fork samples of the largest parents are: samples per run, and how wide the fork
/// slope's interval is against its estimate.
fn fork_sampling(p: &Params, pts: &[Point], results: &[PointResult], growth: &[Growth]) -> String {
    let mut parts = Vec::new();
    for m in [BallastMode::Dirty, BallastMode::Fragmented] {
        let mn = mode_name(m);
        let Some(i) = (0..pts.len())
            .filter(|&i| pts[i].mode == mn)
            .max_by_key(|&i| pts[i].size)
        else {
            continue;
        };
        let every = results[i].fork_every;
        let per_run = p.rounds.div_ceil(every) as f64 / BLOCKS_TIMED as f64;
        let width = growth
            .iter()
            .find(|g| g.mode == mn && g.lane == "fork")
            .and_then(|g| g.wall_ns_per_gib)
            .map_or("no interval".to_string(), |c| {
                format!(
                    "its slope interval spans {:.0}% of the estimate",
                    100.0 * (c.high - c.low) / c.point.abs()
                )
            });
        let how_often = if every == 1 {
            "in every round".to_string()
        } else {
            format!("every {every} rounds")
        };
        parts.push(format!(
            "from the {} {mn} parent fork runs {how_often}, about {per_run:.1} samples per run ({width})",
            md::size(pts[i].size)
        ));
    }
    format!(
        "Fork at the largest sizes is sampled sparsely to keep the run short: {}.",
        parts.join("; ")
    )
}

#[allow(clippy::too_many_arguments)]
fn write_report(
    ctx: &Ctx,
    p: &Params,
    pts: &[Point],
    results: &[PointResult],
    growth: &[Growth],
    fork_vs_posix: Option<Interval>,
    drift: String,
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
    let fork_growth = |mode: &str| -> String {
        g(mode, "fork").map_or_else(
            || format!("{mode}: no data"),
            |fg| growth_words("fork", mode, fg.wall_ns_per_gib),
        )
    };
    // The largest traced phase medians of fork at a mode's largest parent (a description).
    let largest_phases = |mode: &str| -> String {
        let Some(r) = results
            .iter()
            .find(|r| r.point.size == largest && r.point.mode == mode)
        else {
            return "n/a".into();
        };
        let mut v: Vec<&(String, f64)> = r.lanes[0]
            .phase_median_ns
            .iter()
            .filter(|(_, x)| x.is_finite())
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.iter()
            .take(2)
            .map(|(n, x)| format!("{} {}", n.replace('_', " "), md::dur(*x)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let describe = |mode: &str| -> String {
        match g(mode, "fork") {
            Some(fg) if fg.phase_ns_per_gib.iter().all(|(_, c)| c.is_none()) => format!(
                "{}; which phase grows has no interval (too few traced fork spawns per run); at {} the largest phase medians are {} ({} traced fork spawns)",
                md::sentence(&fork_growth(mode)),
                md::size(largest),
                largest_phases(mode),
                results
                    .iter()
                    .find(|r| r.point.size == largest && r.point.mode == mode)
                    .map_or(0, |r| r.lanes[0].traced)
            ),
            Some(fg) => format!(
                "{}; the phases that grow: {}",
                md::sentence(&fork_growth(mode)),
                growing_text(fg)
            ),
            None => format!("{mode}: no data"),
        }
    };
    let answer = format!(
        "From a {} dirty parent, fork+exec takes {} per spawn (median), posix_spawn {} and clone3 {}; per run, {}. \
         {}. {}. {}. Against fork, {}.",
        md::size(largest),
        wall_at("dirty", "fork").map_or("n/a".into(), md::dur),
        wall_at("dirty", "posix-spawn").map_or("n/a".into(), md::dur),
        wall_at("dirty", "clone3").map_or("n/a".into(), md::dur),
        md::time_ratio(fork_vs_posix, "fork", "posix_spawn"),
        describe("dirty"),
        describe("fragmented"),
        describe("untouched"),
        others_words(growth, "dirty"),
    );
    let one_line = format!(
        "from a {} dirty parent fork takes {} per spawn, posix_spawn {} ({}); {}; {}; {}",
        md::size(largest),
        wall_at("dirty", "fork").map_or("n/a".into(), md::dur),
        wall_at("dirty", "posix-spawn").map_or("n/a".into(), md::dur),
        md::ratio(fork_vs_posix),
        fork_growth("dirty"),
        fork_growth("fragmented"),
        fork_growth("untouched"),
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
    let small_rss = results
        .iter()
        .find(|r| r.point.size == 0)
        .map_or("n/a".into(), |r| format!("{} MiB", r.rss_bytes >> 20));
    let virt = if super::env::virtualized() {
        "this is a virtual machine (the CPU announces a hypervisor), where the page tables fork copies are shadowed or nested by the hypervisor's; no bare-metal run was made to compare"
    } else {
        "this machine is not virtualized either"
    };
    ctx.publish(Report {
        title: "fork-in-the-road: spawn latency against parent size",
        question: "\"A fork() in the road\" (Baumann et al., HotOS 2019) showed in its Figure 1 that fork+exec gets slower as the parent grows while posix_spawn stays near 0.5 ms at any size. Does that hold on this kernel for every spawn-fast strategy and Rust's std, for parents that are untouched (mapped, never written), dirty (every page written) and fragmented (alternating read-only/read-write pages: one VMA per page)? And which phase of the spawn grows with size, by how much per GiB?".into(),
        answer,
        one_line,
        method: format!(
            "A release-built worker maps the parent ballast (sizes {}; `untouched`, `dirty`, `fragmented`), starts the zygote before the ballast (so the zygote stays small, as intended), then spawns spawn-fast's static `exit0` child (no libc, no loader) with every strategy in turn, round-robin, the starting strategy rotated each round. \
             {} rounds per point and pass, {} passes over the points in alternating order (forward, then reverse); fork runs only every k-th round at large sizes so that each point stays within about {:.0} s of fork time (at least {} fork samples per run; k is listed per point in `data.json`). \
             Then one traced run per point ({} rounds) under `spawnprof trace --prep` (spawn, fault and prep probes) gives the phase split; records are matched to samples by their reap time. \
             Wall time is the untraced spawn call to wait return. Every interval is over runs, never over spawns pooled across runs: a run is a block of consecutive rounds ({} per pass and point; {} blocks of the traced run for phases). Growth per GiB is the least-squares slope over the sizes of a mode (size 0 included) of each run's medians, one slope per run, summarised by their median with its 95% order-statistic interval (at least {} runs are needed; fewer give n/a); a slope whose interval contains 0 is reported as no difference between small and large parents. Fork against posix_spawn is the median of per-run ratios with the same interval. \
             vm.max_map_count is raised for the run when the fragmented parent needs more VMAs than it allows, and restored afterwards.",
            p.sizes.iter().map(|s| md::size(*s)).collect::<Vec<_>>().join(", "),
            p.rounds, p.passes, p.fork_budget_ms / 1e3, p.min_fork, p.rounds_traced, BLOCKS_TIMED, BLOCKS_TRACED, stats::MIN_RUNS
        ),
        results: body,
        machine_note: String::new(),
        limits: vec![
            drift,
            fork_sampling(p, pts, results, growth),
            "Traced phase medians include the probes' own cost (see `overhead`); they explain the wall times rather than replace them.".into(),
            format!("The paper's x axis went to 1 GiB on a bare-metal machine; {virt}."),
            format!("The size-0 point is the worker's own size ({small_rss} RSS: code, heap and stacks), shared by all three modes."),
        ],
        files: vec![
            ("data.json", "per point and strategy: wall summary, traced phase medians; per mode: slopes per GiB with intervals"),
            ("samples.csv", "every spawn: mode, size, pass, lane, round, ns"),
            ("traces/", "the raw `spawnprof trace --json` of each traced point, and per-strategy subsets of the largest sizes"),
            ("latency-*.svg", "latency against size per mode (log scale)"),
            ("fork-phases-*.svg", "fork's phase medians against size"),
            ("phases-*/", "`spawnprof report` of the largest parent of each mode"),
        ],
        params,
        data: json!({"points": results, "growth": growth, "fork_vs_posix_spawn_largest_dirty": fork_vs_posix}),
    })
}
