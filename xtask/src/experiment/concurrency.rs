//! `concurrency`: spawns per second against spawns in flight (threads each spawning and
//! waiting in a loop), per strategy, on this machine's cores.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use spawn_analysis::stats::{self, Interval, Summary};

use super::{
    Ctx, Outcome,
    ctx::Probes,
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
    write_report(ctx, &levels, reps, ms, &cells)
}

fn write_report(
    ctx: &Ctx,
    levels: &[usize],
    reps: usize,
    ms: u64,
    cells: &[Cell],
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
                    let s = &cell(lane, lv)?.spawns_per_s;
                    Some(plot::Point {
                        x,
                        mid: s.median,
                        lo: s.p10,
                        hi: s.p90,
                    })
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
    headers.push("peak vs 1 in flight".into());
    let mut peaks = Vec::new();
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
            let one = cell(lane, levels[0]).map_or(f64::NAN, |c| c.spawns_per_s.median);
            let peak = levels
                .iter()
                .filter_map(|&lv| cell(lane, lv))
                .max_by(|a, b| a.spawns_per_s.median.total_cmp(&b.spawns_per_s.median));
            if let Some(p) = peak {
                row.push(format!(
                    "{:.2}× at {}",
                    p.spawns_per_s.median / one,
                    p.in_flight
                ));
                peaks.push((lane.to_string(), p.spawns_per_s.median, p.in_flight, one));
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
    let best = peaks
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .unwrap_or_default();
    let peak_of = |lane: &str| {
        peaks
            .iter()
            .find(|p| p.0 == lane)
            .cloned()
            .unwrap_or_default()
    };
    let (fk, zy, sd) = (peak_of("fork"), peak_of("zygote"), peak_of("std"));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let answer = format!(
        "On {cores} cores the best is {} at {:.0} spawns/s with {} in flight ({:.2}× its single-thread rate); beyond that, more spawns in flight do not add throughput (see the table). \
         std peaks at {:.0}/s ({} in flight), fork at {:.0}/s ({} in flight) and the zygote at {:.0}/s ({} in flight), consistent with one runner process doing every clone for all threads.",
        best.0,
        best.1,
        best.2,
        best.1 / best.3,
        sd.1,
        sd.2,
        fk.1,
        fk.2,
        zy.1,
        zy.2
    );
    let one_line = format!(
        "peak {:.0} spawns/s ({} at {} in flight, {:.2}× one thread) on {cores} cores; std {:.0}/s, fork {:.0}/s, zygote {:.0}/s",
        best.1,
        best.0,
        best.2,
        best.1 / best.3,
        sd.1,
        fk.1,
        zy.1
    );
    let params = json!({
        "lanes": LANES,
        "in_flight": levels,
        "repetitions": reps,
        "duration_ms_per_run": ms,
        "child": ctx.tools.exit0.display().to_string(),
        "interval": "order statistics of per-repetition paired ratios, 95%",
    });
    let env = ctx.write_env(params.clone())?;
    ctx.write_json(
        "data.json",
        &json!({"answer": one_line, "quick": ctx.quick, "params": params, "cells": cells}),
    )?;
    let readme = md::Readme {
        title: "concurrency: spawns per second against spawns in flight".into(),
        rerun: ctx.rerun(),
        question: format!("How many spawns per second can one process sustain as it keeps more spawns in flight (1 to {}), with each strategy, on this machine's {cores} cores? Where does each strategy stop scaling?", levels.last().copied().unwrap_or(1)),
        answer,
        method: format!(
            "For each strategy and level N, a fresh release worker runs N threads for {ms} ms; each thread spawns spawn-fast's static `exit0` child and waits for it, in a loop (a library `Command` per thread; one `Template` shared by all threads; one `std::process::Command` per thread; the zygote started before the threads). \
             Throughput = spawns / wall time of the run. {reps} repetitions; the levels run ascending, then descending on the next repetition, and the strategies in rotated order at each level. \
             Medians and p10/p90 are over the runs; ratios to std are taken per repetition (each strategy against the std run at the same level of the same repetition), summarised by their median with its 95% order-statistic interval over the {reps} repetitions (at least {} are needed; fewer give n/a).",
            stats::MIN_RUNS
        ),
        results,
        limits: vec![
            format!("Shared {cores}-core VM: load average {:.2} before and {:.2} after (the latter includes this experiment's own up to 64 spawning threads); other agents' builds took CPU time that the spawning threads would otherwise have used, so the plateaus are lower bounds.", env.loadavg_before[0], env.loadavg_after[0]),
            "The child exits at once; with a real program the exec and loader dominate and the curves flatten earlier.".into(),
            "Each run starts a fresh worker process; thread start-up is inside the measured wall time (small against the run length).".into(),
        ],
        files: vec![
            ("data.json".into(), "per strategy and level: throughput summary and ratio to std".into()),
            ("runs.csv".into(), "every run: repetition, strategy, level, spawns, elapsed ns".into()),
            ("throughput.svg".into(), "throughput against spawns in flight".into()),
            ("env.json".into(), "machine, toolchain, commit, load, parameters, seed".into()),
        ],
    };
    ctx.write_text("README.md", &readme.render())?;
    Ok(Outcome { answer: one_line })
}
