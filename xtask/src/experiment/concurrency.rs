//! `concurrency`: spawns per second against spawns in flight (threads each spawning and
//! waiting in a loop), per strategy, on this machine's cores.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use spawn_analysis::stats::{self, Interval, Summary};

use super::{
    Ctx, Outcome,
    ctx::{Probes, Report},
    md, plot,
    worker::{FlightJob, FlightOut, Job},
};

const LANES: [&str; 7] = [
    "fork",
    "vfork",
    "posix-spawn",
    "clone3",
    "zygote",
    "std",
    "template",
];

#[derive(Serialize)]
struct Cell {
    lane: String,
    in_flight: usize,
    spawns_per_s: Summary,
    /// Per repetition: spawns/s / std's spawns/s at the same level (they ran back to back);
    /// the median over repetitions with its 95% order-statistic interval (None below 6).
    vs_std: Option<Interval>,
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let (levels, reps, ms): (Vec<usize>, usize, u64) = if ctx.quick {
        (vec![1, 4, 16, 64], 1, 60)
    } else {
        // 6 repetitions: the fewest that give a 95% interval over repetitions.
        (vec![1, 2, 4, 8, 16, 32, 64], 6, 250)
    };
    let per_run = ms + 25;
    ctx.plan((levels.len() * LANES.len() * reps) as u64 * per_run);
    let mut tput = vec![vec![Vec::new(); levels.len()]; LANES.len()];
    let mut csv = String::from("rep,lane,in_flight,spawns,elapsed_ns\n");
    for rep in 0..reps {
        // Levels ascending then descending on alternate repetitions; lanes rotated per level.
        let mut order: Vec<usize> = (0..levels.len()).collect();
        if rep % 2 == 1 {
            order.reverse();
        }
        for (k, &li) in order.iter().enumerate() {
            for j in 0..LANES.len() {
                let l = (j + k + rep) % LANES.len();
                let job = |out| {
                    Job::Flight(FlightJob {
                        out,
                        strategy: LANES[l].into(),
                        threads: levels[li],
                        duration_ms: ms,
                        child: ctx.tools.exit0.clone(),
                    })
                };
                let (o, _): (FlightOut, _) = ctx.worker(job, Probes::None, None)?;
                let rate = o.spawns as f64 / (o.elapsed_ns as f64 / 1e9);
                tput[l][li].push(rate);
                let _ = writeln!(
                    csv,
                    "{rep},{},{},{},{}",
                    LANES[l], levels[li], o.spawns, o.elapsed_ns
                );
                ctx.done(
                    per_run,
                    &format!("rep {}/{reps}: {} x{}", rep + 1, LANES[l], levels[li]),
                );
            }
        }
    }
    ctx.write_text("runs.csv", &csv)?;
    let std_i = LANES.iter().position(|l| *l == "std").unwrap_or(0);
    let mut cells = Vec::new();
    for (l, lane) in LANES.iter().enumerate() {
        for (li, &level) in levels.iter().enumerate() {
            cells.push(Cell {
                lane: lane.to_string(),
                in_flight: level,
                spawns_per_s: stats::summary(&tput[l][li]),
                vs_std: stats::paired_ratio(&tput[l][li], &tput[std_i][li]),
            });
        }
    }
    // Each lane's peak level (highest median), with paired ratios over repetitions against its
    // own single-thread rate and its rate at the highest level.
    let peaks: Vec<Peak> = LANES
        .iter()
        .enumerate()
        .filter_map(|(l, lane)| {
            let li = (0..levels.len()).max_by(|&a, &b| {
                stats::median(&tput[l][a]).total_cmp(&stats::median(&tput[l][b]))
            })?;
            Some(Peak {
                lane: lane.to_string(),
                in_flight: levels[li],
                median: stats::median(&tput[l][li]),
                vs_one: stats::paired_ratio(&tput[l][li], &tput[l][0]),
                last_vs_peak: stats::paired_ratio(&tput[l][levels.len() - 1], &tput[l][li]),
                runs: tput[l][li].clone(),
            })
        })
        .collect();
    let drift = md::drift(
        "spawns/s",
        &peaks
            .iter()
            .map(|p| {
                (
                    format!("{} at {} in flight", p.lane, p.in_flight),
                    p.runs.clone(),
                )
            })
            .collect::<Vec<_>>(),
    );
    write_report(ctx, (&levels, reps, ms), &cells, &peaks, drift)
}

/// A lane at the level where its median throughput is highest.
#[derive(Serialize)]
struct Peak {
    lane: String,
    in_flight: usize,
    median: f64,
    /// Per repetition: spawns/s at the peak level / spawns/s at 1 in flight.
    vs_one: Option<Interval>,
    /// Per repetition: spawns/s at the highest level / spawns/s at the peak level.
    last_vs_peak: Option<Interval>,
    /// spawns/s of each repetition at the peak level.
    runs: Vec<f64>,
}

fn write_report(
    ctx: &Ctx,
    (levels, reps, ms): (&[usize], usize, u64),
    cells: &[Cell],
    peaks: &[Peak],
    drift: String,
) -> Result<Outcome> {
    let cell = |lane: &str, level: usize| {
        cells
            .iter()
            .find(|c| c.lane == lane && c.in_flight == level)
    };
    let labels: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
    let series: Vec<plot::Series> = LANES
        .iter()
        .map(|lane| plot::Series {
            name: lane.to_string(),
            points: levels
                .iter()
                .enumerate()
                .filter_map(|(x, &lv)| {
                    Some(plot::Point::spread(x, &cell(lane, lv)?.spawns_per_s, 1.0))
                })
                .collect(),
        })
        .collect();
    plot::lines(
        &ctx.dir.join("throughput.svg"),
        &plot::Chart {
            title: "Spawn throughput against spawns in flight (static child)",
            x_desc: "spawns in flight (threads, each spawn + wait in a loop)",
            y_desc: "spawns per second (median of runs, p10–p90)",
            x_labels: &labels,
            log_y: false,
        },
        &series,
    )?;
    let mut headers = vec!["strategy".to_string()];
    headers.extend(levels.iter().map(|l| format!("{l} in flight")));
    headers.push("peak vs 1 in flight [95% CI]".into());
    let rows: Vec<Vec<String>> = LANES
        .iter()
        .map(|lane| {
            let mut row = vec![format!("`{lane}`")];
            row.extend(levels.iter().map(|&lv| {
                cell(lane, lv).map_or("n/a".into(), |c| {
                    format!(
                        "{:.0} ({:.0}–{:.0})",
                        c.spawns_per_s.median, c.spawns_per_s.p10, c.spawns_per_s.p90
                    )
                })
            }));
            if let Some(p) = peaks.iter().find(|p| p.lane == *lane) {
                row.push(format!("{} at {}", md::ratio(p.vs_one), p.in_flight));
            }
            row
        })
        .collect();
    let h: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut results = md::table(&h, &rows);
    let _ = writeln!(
        results,
        "\nRatio of median throughput to `std` at the same level (median of per-repetition ratios, 95% order-statistic interval over the {reps} repetitions):\n"
    );
    let rows: Vec<Vec<String>> = LANES
        .iter()
        .filter(|l| **l != "std")
        .map(|lane| {
            let mut row = vec![format!("`{lane}`")];
            row.extend(
                levels
                    .iter()
                    .map(|&lv| cell(lane, lv).map_or("n/a".into(), |c| md::ratio(c.vs_std))),
            );
            row
        })
        .collect();
    let h: Vec<&str> = headers[..headers.len() - 1]
        .iter()
        .map(String::as_str)
        .collect();
    results.push_str(&md::table(&h, &rows));
    results.push('\n');
    results.push_str(&md::figure(
        "throughput.svg",
        "Spawns per second against spawns in flight, per strategy",
    ));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let top = levels.last().copied().unwrap_or(1);
    let mut ranked: Vec<&Peak> = peaks.iter().collect();
    ranked.sort_by(|a, b| b.median.total_cmp(&a.median));
    let answer = match ranked.as_slice() {
        [best, second, ..] => {
            let vs_second = stats::paired_ratio(&best.runs, &second.runs);
            let peak_of = |lane: &str| peaks.iter().find(|p| p.lane == lane);
            let others: Vec<String> = ["std", "fork", "zygote"]
                .iter()
                .filter_map(|l| peak_of(l))
                .map(|p| {
                    if p.in_flight == levels[0] {
                        format!(
                            "{} is fastest with {} in flight, {:.0}/s",
                            p.lane, p.in_flight, p.median
                        )
                    } else {
                        format!(
                            "{} peaks at {:.0}/s ({} in flight, {} its single-thread rate)",
                            p.lane,
                            p.median,
                            p.in_flight,
                            md::ratio(p.vs_one)
                        )
                    }
                })
                .collect();
            let zygote = match (peak_of("zygote"), peak_of("clone3")) {
                (Some(z), Some(c))
                    if z.vs_one
                        .is_some_and(|zv| c.vs_one.is_some_and(|cv| zv.high < cv.low)) =>
                {
                    format!(
                        " The zygote gains less from more spawns in flight than clone3 ({} against {} from 1 in flight to the peak, intervals apart), consistent with one runner process doing every clone for all threads.",
                        md::ratio(z.vs_one),
                        md::ratio(c.vs_one)
                    )
                }
                (Some(z), Some(c)) => format!(
                    " The zygote's gain from 1 in flight to its peak ({}) is not shown to be smaller than clone3's ({}): the intervals overlap.",
                    md::ratio(z.vs_one),
                    md::ratio(c.vs_one)
                ),
                _ => String::new(),
            };
            format!(
                "On {cores} cores the highest median throughput is {}'s, {:.0} spawns/s with {} in flight ({} its single-thread rate); against the next, {} at {} in flight, {}. \
                 Beyond its peak, {}. {}.{zygote}",
                best.lane,
                best.median,
                best.in_flight,
                md::ratio(best.vs_one),
                second.lane,
                second.in_flight,
                md::rate_ratio(vs_second, &best.lane, &second.lane),
                if best.in_flight == top {
                    format!("nothing can be said: its peak is the highest level measured ({top})")
                } else {
                    md::rate_ratio(
                        best.last_vs_peak,
                        &format!("{} at {top} in flight", best.lane),
                        "at its peak",
                    )
                },
                others.join("; "),
            )
        }
        _ => "no result".into(),
    };
    let peak_short = |lane: &str| {
        peaks
            .iter()
            .find(|p| p.lane == lane)
            .map_or("n/a".into(), |p| format!("{:.0}/s", p.median))
    };
    let one_line = match ranked.first() {
        Some(best) => format!(
            "highest median {:.0} spawns/s ({} at {} in flight, {} one thread) on {cores} cores; {}; std {}, fork {}, zygote {}",
            best.median,
            best.lane,
            best.in_flight,
            md::ratio(best.vs_one),
            ranked
                .get(1)
                .map_or("no runner-up".into(), |second| md::rate_ratio(
                    stats::paired_ratio(&best.runs, &second.runs),
                    &best.lane,
                    &second.lane
                )),
            peak_short("std"),
            peak_short("fork"),
            peak_short("zygote"),
        ),
        None => "no result".into(),
    };
    let params = json!({
        "lanes": LANES,
        "in_flight": levels,
        "repetitions": reps,
        "duration_ms_per_run": ms,
        "child": ctx.tools.exit0.display().to_string(),
        "interval": "order statistics of per-repetition paired ratios, 95%",
    });
    ctx.publish(Report {
        title: "concurrency: spawns per second against spawns in flight",
        question: format!("How many spawns per second can one process sustain as it keeps more spawns in flight (1 to {top}), with each strategy, on this machine's {cores} cores? Where does each strategy stop scaling?"),
        answer,
        one_line,
        method: format!(
            "For each strategy and level N, a fresh release worker runs N threads for {ms} ms; each thread spawns spawn-fast's static `exit0` child and waits for it, in a loop (a library `Command` per thread; one `Template` shared by all threads; one `std::process::Command` per thread; the zygote started before the threads). \
             Throughput = spawns / wall time of the run. {reps} repetitions; the levels run ascending, then descending on the next repetition, and the strategies in rotated order at each level. \
             Medians and p10/p90 are over the runs; ratios (to std at the same level, of a lane's peak to its single-thread rate, between lanes) are taken per repetition and summarised by their median with its 95% order-statistic interval over the {reps} repetitions (at least {} are needed; fewer give n/a); an interval that contains 1 is reported as no difference.",
            stats::MIN_RUNS
        ),
        results,
        machine_note: format!("The load after includes this experiment's own up to {top} spawning threads; other agents' builds took CPU time the spawning threads would otherwise have used, so the plateaus are lower bounds."),
        limits: vec![
            drift,
            "The child exits at once; with a real program exec and the loader add work per spawn, which this experiment does not measure (see `phases` for /bin/true).".into(),
            "Each run starts a fresh worker process; thread start-up is inside the measured wall time.".into(),
        ],
        files: vec![
            ("data.json", "per strategy and level: throughput summary and ratio to std; per strategy: its peak"),
            ("runs.csv", "every run: repetition, strategy, level, spawns, elapsed ns"),
            ("throughput.svg", "throughput against spawns in flight"),
        ],
        params,
        data: json!({"cells": cells, "peaks": peaks}),
    })
}
