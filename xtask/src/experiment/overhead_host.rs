//! The production half of `overhead`: a spawn loop paced at a background rate (1 000 spawns/s)
//! on a host where `spawnprof record -a` runs, against the same loop with no tracer. Reports
//! the loop's slowdown and spawnprof's own CPU time, as an operator would see them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use spawn_analysis::stats::{self, Interval, Summary};

use super::{
    Ctx,
    ctx::Probes,
    md,
    worker::{RoundsJob, RoundsOut},
};

/// One spawn every millisecond.
pub const PACE_NS: u64 = 1_000_000;

/// `spawnprof record` arguments per condition; `None` runs without a tracer.
const CONDITIONS: [(Option<&[&str]>, &str); 4] = [
    (None, "no tracer"),
    (Some(&["--no-faults"]), "record -a --no-faults"),
    (Some(&[]), "record -a (defaults: faults on, startup off)"),
    (Some(&["--startup"]), "record -a --startup"),
];

#[derive(Serialize)]
pub struct HostResult {
    pub child: String,
    pub condition: String,
    pub latency: Summary,
    /// median latency / median latency with no tracer.
    /// Median over repetitions of the per-repetition ratio of median latencies, with its
    /// 95% order-statistic interval over repetitions (None with fewer than 6).
    pub slowdown: Option<Interval>,
    /// spawnprof's CPU time over the loop's wall time, in % of one core (per run).
    pub tracer_cpu_pct: Summary,
}

/// A running `spawnprof record -a`, attached once it says so.
struct Recorder {
    child: Child,
}

impl Recorder {
    fn start(spawnprof: &std::path::Path, args: &[&str]) -> Result<Recorder> {
        let mut child = Command::new(spawnprof)
            .args(["record", "-a", "-o", "/dev/null"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting spawnprof record")?;
        let stderr = child.stderr.take().context("spawnprof stderr")?;
        let (tx, rx) = mpsc::channel();
        // Drains stderr for the recorder's whole life, so it can never block on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("recording") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            bail!("spawnprof record did not attach within 60 s");
        }
        Ok(Recorder { child })
    }

    /// CPU time of all the recorder's threads so far, in ns (schedstat: clock ticks from
    /// /proc/PID/stat are 10 ms, too coarse for a tracer using a few % of a core).
    fn cpu_ns(&self) -> Result<u64> {
        let mut total = 0;
        for task in std::fs::read_dir(format!("/proc/{}/task", self.child.id()))? {
            let stat = std::fs::read_to_string(task?.path().join("schedstat"))?;
            total += stat
                .split_whitespace()
                .next()
                .context("empty schedstat")?
                .parse::<u64>()?;
        }
        Ok(total)
    }

    fn stop(mut self) -> Result<()> {
        // SAFETY: signals our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        if !status.success() {
            bail!("spawnprof record exited with {status}");
        }
        Ok(())
    }
}

/// Work units this part reports to the progress bar.
pub fn planned(ctx: &Ctx) -> u64 {
    let (reps, rounds) = shape(ctx);
    (2 * CONDITIONS.len() * reps * rounds) as u64
}

fn shape(ctx: &Ctx) -> (usize, usize) {
    if ctx.quick {
        (1, 300)
    } else {
        // Many short runs rather than few long ones: a burst of outside load then lands in
        // one condition's run less often than it is averaged over all of them.
        (8, 1200)
    }
}

pub fn run(ctx: &Ctx) -> Result<Vec<HostResult>> {
    let (reps, rounds) = shape(ctx);
    let children = [
        ("static exit0", ctx.tools.exit0.clone()),
        ("/bin/true (dynamic)", std::path::PathBuf::from("/bin/true")),
    ];
    let mut results = Vec::new();
    for (child_name, child) in &children {
        let mut lat: Vec<Vec<f64>> = vec![Vec::new(); CONDITIONS.len()];
        let mut lat_runs: Vec<Vec<f64>> = vec![Vec::new(); CONDITIONS.len()];
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); CONDITIONS.len()];
        for rep in 0..reps {
            for k in 0..CONDITIONS.len() {
                let c = (rep + k) % CONDITIONS.len();
                let (args, name) = CONDITIONS[c];
                let recorder = args
                    .map(|a| Recorder::start(&ctx.tools.spawnprof, a))
                    .transpose()?;
                let cpu0 = recorder.as_ref().map(Recorder::cpu_ns).transpose()?;
                let t0 = Instant::now();
                let (out, _): (RoundsOut, _) = ctx.worker(
                    |out| RoundsJob::one_lane(out, "std", child, rounds, Some(PACE_NS)),
                    Probes::None,
                    None,
                )?;
                let wall = t0.elapsed().as_secs_f64();
                if let (Some(r), Some(cpu0)) = (&recorder, cpu0) {
                    let used = (r.cpu_ns()? - cpu0) as f64 / 1e9;
                    cpu[c].push(100.0 * used / wall);
                }
                if let Some(r) = recorder {
                    r.stop()?;
                }
                let run: Vec<f64> = out.samples.iter().map(|s| s.ns as f64).collect();
                lat_runs[c].push(stats::median(&run));
                lat[c].extend(run);
                ctx.done(
                    rounds as u64,
                    &format!("{child_name} at 1000/s, rep {}/{reps}: {name}", rep + 1),
                );
            }
        }
        for (c, (_, name)) in CONDITIONS.iter().enumerate() {
            results.push(HostResult {
                child: child_name.to_string(),
                condition: name.to_string(),
                latency: stats::summary(&lat[c]),
                slowdown: stats::paired_ratio(&lat_runs[c], &lat_runs[0]),
                tracer_cpu_pct: stats::summary(&cpu[c]),
            });
        }
    }
    Ok(results)
}

pub fn method(ctx: &Ctx) -> String {
    let (reps, rounds) = shape(ctx);
    format!(
        "The production part paces a `std::process::Command` spawn loop at one spawn per millisecond (1 000 spawns/s) for {rounds} spawns per run, of the static child and of the dynamically linked `/bin/true`, with no tracer and under `spawnprof record -a` with the fault probes off, with its defaults (fault probes on, startup uprobes off), and with the startup uprobes on (records to /dev/null), conditions rotated over {reps} repetitions. \
         Slowdown is the median over repetitions of each repetition's ratio of median spawn latencies, with its 95% order-statistic interval over repetitions; spawnprof's CPU time is the run time of all its threads (/proc/PID/task/*/schedstat) over the loop's wall time."
    )
}

/// The production table.
pub fn section(host: &[HostResult]) -> String {
    let rows: Vec<Vec<String>> = host
        .iter()
        .map(|h| {
            vec![
                h.child.clone(),
                h.condition.clone(),
                md::dur_spread(&h.latency),
                md::ratio(h.slowdown),
                if h.tracer_cpu_pct.n > 0 {
                    format!("{:.1}%", h.tracer_cpu_pct.median)
                } else {
                    "–".into()
                },
            ]
        })
        .collect();
    format!(
        "\n### On a host spawning 1 000 processes a second\n\n{}",
        md::table(
            &[
                "child",
                "tracer",
                "spawn latency median (p10–p90)",
                "slowdown [95% CI]",
                "spawnprof CPU (% of one core)",
            ],
            &rows
        )
    )
}

/// One sentence per child: the slowdown and CPU of each tracer setting, in the stats
/// module's words (an interval that contains 1 is no difference).
pub fn answer(host: &[HostResult]) -> String {
    let parts: Vec<String> = host
        .iter()
        .filter(|h| h.tracer_cpu_pct.n > 0)
        .map(|h| {
            format!(
                "{}, with spawnprof using {:.1}% of a core",
                md::time_ratio(
                    h.slowdown,
                    &format!("{} under `{}`", h.child, h.condition),
                    "untraced"
                ),
                h.tracer_cpu_pct.median
            )
        })
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    format!("At 1 000 spawns/s: {}.", parts.join("; "))
}

/// Which child's slowdown intervals are narrower (relative width, averaged over the tracers).
pub fn steadier(host: &[HostResult]) -> String {
    let mut widths: Vec<(String, f64)> = Vec::new();
    for h in host {
        let Some(s) = h.slowdown.filter(|_| h.tracer_cpu_pct.n > 0) else {
            continue;
        };
        let w = (s.high - s.low) / s.point;
        match widths.iter_mut().find(|(c, _)| *c == h.child) {
            Some((_, v)) => *v = v.max(w),
            None => widths.push((h.child.clone(), w)),
        }
    }
    widths.sort_by(|a, b| a.1.total_cmp(&b.1));
    match widths.as_slice() {
        [a, b, ..] => format!(
            "The widest slowdown interval spans {:.1}% of its ratio for {} and {:.1}% for {}.",
            100.0 * a.1,
            a.0,
            100.0 * b.1,
            b.0
        ),
        _ => "There are too few repetitions for slowdown intervals here.".into(),
    }
}
