//! `overhead`: what tracing costs. The same spawn loop runs without spawnprof, under
//! `spawnprof trace --no-faults` (spawn probes) and under `spawnprof trace` (spawn and fault
//! probes), the three conditions alternating.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use super::{
    Ctx, Outcome,
    ctx::Probes,
    md, plot,
    stats::{self, Ci, Summary},
    worker::{Job, LaneSpec, RoundsJob, RoundsOut},
};

const CONDITIONS: [(Probes, &str); 3] = [
    (Probes::None, "no probes"),
    (Probes::Spawn, "spawn probes (--no-faults)"),
    (Probes::SpawnAndFaults, "spawn + fault probes"),
];

/// Probe hits of one clone3 spawn of the static child, from the probe list in the README:
/// clone3 entry, task_newtask, sched_process_fork, sched_wakeup_new, clone3 exit (parent),
/// clone3 exit (child), execveat entry, sched_prepare_exec, sched_process_exec, execveat exit,
/// exit_group entry, sched_process_exit, wait exit. (The prep uprobe is off by default.)
pub const SPAWN_EVENTS: f64 = 13.0;
/// Hits per page fault: the page_fault_user tracepoint and the two software perf events
/// (fault entry, minor/major fault end).
pub const FAULT_EVENTS: f64 = 3.0;

#[derive(Serialize)]
struct CondResult {
    condition: String,
    spawns_per_s: Summary,
    latency: Summary,
    /// median latency / median latency without probes.
    slowdown: Ci,
    /// median latency - median latency without probes (ns per spawn).
    added_ns: Ci,
    records_per_spawn: f64,
    faults_per_spawn: f64,
    events_per_spawn: f64,
    /// added_ns / events_per_spawn.
    ns_per_event: Ci,
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let (reps, rounds) = if ctx.quick { (2, 150) } else { (8, 2500) };
    ctx.plan((reps * 3 * (rounds as f64 * 0.35) as usize + reps * 3 * 400) as u64);
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); 3];
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
            let job = |out| {
                Job::Rounds(RoundsJob {
                    out,
                    lanes: vec![LaneSpec {
                        strategy: "clone3".into(),
                        every: 1,
                    }],
                    ballast_bytes: 0,
                    ballast: spawn_fast::bench::BallastMode::Dirty,
                    child: ctx.tools.exit0.clone(),
                    args: Vec::new(),
                    rounds,
                    warmup: 20,
                })
            };
            let (out, recs): (RoundsOut, _) = ctx.worker(job, probes, None)?;
            let n = out.samples.len();
            let elapsed: u64 = out.samples.iter().map(|s| s.ns).sum();
            lat[c].extend(out.samples.iter().map(|s| s.ns as f64));
            tput[c].push(n as f64 / (elapsed as f64 / 1e9));
            let f: u64 = recs.iter().map(|r| r.fault_count()).sum();
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
    let results: Vec<CondResult> = (0..3)
        .map(|c| {
            let mut rng = stats::rng(ctx.seed, &format!("overhead/{c}"));
            let per_spawn = |x: f64| x / spawns[c].max(1) as f64;
            let faults_per_spawn = per_spawn(faults[c] as f64);
            let events = match CONDITIONS[c].0 {
                Probes::None => 0.0,
                Probes::Spawn => SPAWN_EVENTS,
                Probes::SpawnAndFaults => SPAWN_EVENTS + FAULT_EVENTS * faults_per_spawn,
                // Not one of this experiment's conditions; counted for completeness.
                Probes::Everything => SPAWN_EVENTS + 1.0 + FAULT_EVENTS * faults_per_spawn,
            };
            let added = stats::diff_of_medians(&mut rng, &lat[c], &lat[0]);
            let per_event = |v: f64| if events > 0.0 { v / events } else { f64::NAN };
            CondResult {
                condition: CONDITIONS[c].1.into(),
                spawns_per_s: stats::summary(&tput[c]),
                latency: stats::summary(&lat[c]),
                slowdown: stats::ratio_of_medians(&mut rng, &lat[c], &lat[0]),
                added_ns: added,
                records_per_spawn: per_spawn(records[c] as f64),
                faults_per_spawn,
                events_per_spawn: events,
                ns_per_event: Ci {
                    point: per_event(added.point),
                    lo: per_event(added.lo),
                    hi: per_event(added.hi),
                },
            }
        })
        .collect();
    write_report(ctx, reps, rounds, &results)
}

fn write_report(ctx: &Ctx, reps: usize, rounds: usize, r: &[CondResult]) -> Result<Outcome> {
    let labels: Vec<String> = r.iter().map(|c| c.condition.clone()).collect();
    let series = vec![plot::Series {
        name: "spawns/s".into(),
        points: r
            .iter()
            .enumerate()
            .map(|(i, c)| plot::Point {
                x: i,
                mid: c.spawns_per_s.median,
                lo: c.spawns_per_s.p10,
                hi: c.spawns_per_s.p90,
            })
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
                format!(
                    "{} ({}–{})",
                    md::dur(c.latency.median),
                    md::dur(c.latency.p10),
                    md::dur(c.latency.p90)
                ),
                md::ratio(&c.slowdown),
                md::diff(&c.added_ns),
                format!("{:.2}", c.records_per_spawn),
                format!("{:.1}", c.faults_per_spawn),
                format!("{:.0}", c.events_per_spawn),
                if c.events_per_spawn > 0.0 {
                    format!(
                        "{:.0} ns [{:.0}, {:.0}]",
                        c.ns_per_event.point, c.ns_per_event.lo, c.ns_per_event.hi
                    )
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
                "probe hits/spawn (est.)",
                "cost per hit [95% CI]",
            ],
            &rows
        ),
        md::figure("throughput.svg", "Spawn throughput per tracing condition")
    );
    let (s, f) = (&r[1], &r[2]);
    let answer = format!(
        "Tracing spawns costs {} per spawn ({} of an untraced spawn, {:.0} ns per probe hit at ~{:.0} hits); adding the fault probes brings it to {} ({}), about {:.0} ns per hit at ~{:.0} hits per spawn. \
         Throughput falls from {:.0} to {:.0} and {:.0} spawns/s on one thread.",
        md::diff(&s.added_ns),
        md::ratio(&s.slowdown),
        s.ns_per_event.point,
        s.events_per_spawn,
        md::diff(&f.added_ns),
        md::ratio(&f.slowdown),
        f.ns_per_event.point,
        f.events_per_spawn,
        r[0].spawns_per_s.median,
        s.spawns_per_s.median,
        f.spawns_per_s.median,
    );
    let one_line = format!(
        "spawn probes add {} per spawn ({}), spawn+fault probes {} ({}); ~{:.0} ns and ~{:.0} ns per probe hit",
        md::dur(s.added_ns.point),
        md::ratio(&s.slowdown),
        md::dur(f.added_ns.point),
        md::ratio(&f.slowdown),
        s.ns_per_event.point,
        f.ns_per_event.point
    );
    let params = json!({
        "repetitions": reps,
        "spawns_per_run": rounds,
        "warmup_spawns_per_run": 20,
        "strategy": "clone3",
        "child": ctx.tools.exit0.display().to_string(),
        "spawn_events_per_spawn": SPAWN_EVENTS,
        "events_per_fault": FAULT_EVENTS,
        "bootstrap_iterations": stats::ITERATIONS,
    });
    let env = ctx.write_env(params.clone())?;
    ctx.write_json(
        "data.json",
        &json!({"answer": one_line, "quick": ctx.quick, "params": params, "results": r}),
    )?;
    let readme = md::Readme {
        title: "overhead: what tracing costs".into(),
        rerun: ctx.rerun(),
        question: "How much slower does a program spawn while spawnprof traces it, with the spawn probes only and with the page-fault probes too? What does one probe hit cost?".into(),
        answer,
        method: format!(
            "The release worker spawns spawn-fast's static `exit0` child with `clone3` and waits, {rounds} times in a row after 20 warm-up spawns (one thread, no ballast), in three conditions: run directly, under `spawnprof trace --no-faults`, and under `spawnprof trace`. \
             The three conditions alternate in rotated order ({reps} repetitions: each condition runs first, second and third equally often). Latency is per spawn (spawn call to wait return, measured by the worker); throughput is spawns over the summed latencies of a run. \
             Added time is the difference of median latencies against no probes, with a 95% percentile-bootstrap interval ({} resamples). \
             Probe hits are estimated, not counted: {SPAWN_EVENTS} per spawn for the static child (clone3 entry, task_newtask, sched_process_fork, sched_wakeup_new, clone3 exit in parent and child, execveat entry, sched_prepare_exec, sched_process_exec, execveat exit, exit_group entry, sched_process_exit, wait exit; the startup uprobes do not fire for a static child, and the optional prep uprobe (`--prep`) is off, as by default), plus {FAULT_EVENTS} per page fault recorded in the trace (the page_fault_user tracepoint and the two software perf events). Cost per hit = added time per spawn / estimated hits per spawn.",
            stats::ITERATIONS
        ),
        results,
        limits: vec![
            format!("Shared 2-core VM: load average {:.2} before and {:.2} after; other agents' builds compete for the same cores, which widens every interval here.", env.loadavg_before[0], env.loadavg_after[0]),
            "Probe hits per spawn are an estimate from the probe list, not a count: spawnprof does not export per-probe hit counters. The probes also fire for every other process on the machine (tracepoints and perf events are system-wide and filtered in the BPF program), so the cost of filtering other processes' events is included in what the traced worker feels only insofar as it shares the CPUs.".into(),
            "The fault probes' cost depends on how many faults a spawn causes: the static child of a small parent takes only a few; a fork from a big dirty parent takes many more (see `fork-in-the-road`).".into(),
            "Only the traced program's latency is measured; spawnprof's own CPU time (reading the ring buffer, assembling records) runs on the other core when one is free.".into(),
        ],
        files: vec![
            ("data.json".into(), "summaries and intervals per condition, parameters".into()),
            ("runs.csv".into(), "every run: repetition, condition, spawns, elapsed ns, records, faults".into()),
            ("throughput.svg".into(), "throughput per condition".into()),
            ("env.json".into(), "machine, toolchain, commit, load, parameters, seed".into()),
        ],
    };
    ctx.write_text("README.md", &readme.render())?;
    Ok(Outcome { answer: one_line })
}
