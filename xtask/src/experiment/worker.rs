//! The measuring process: `xtask experiment-worker JOB_JSON`, built in release mode.
//!
//! Experiments never time spawns inside the (debug) xtask process: they start this worker,
//! optionally under `spawnprof trace`, so that what is timed and what is traced is one small,
//! optimized process whose size is only the ballast it was asked for.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use spawn_bench::{Ballast, BallastMode, current_rss};
use spawn_fast::{Command, Stdio, Strategy, Template, monotonic_ns};

/// What the worker is asked to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    Rounds(RoundsJob),
    Flight(FlightJob),
    Tools(ToolsJob),
}

/// Serial spawn+wait rounds over several lanes, each lane in turn (fork-in-the-road, phases,
/// overhead). Serial, so that a trace record is matched to its sample by time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundsJob {
    pub out: PathBuf,
    pub lanes: Vec<LaneSpec>,
    pub ballast_bytes: usize,
    pub ballast: BallastMode,
    pub child: PathBuf,
    pub args: Vec<String>,
    pub rounds: usize,
    pub warmup: usize,
    /// Start one round every this many ns (a background rate, as on a production host)
    /// instead of back to back; a round that overruns starts the next at once.
    #[serde(default)]
    pub pace_ns: Option<u64>,
}

impl RoundsJob {
    /// One strategy spawning `child` from a small parent, after 20 warm-up spawns.
    pub fn one_lane(
        out: PathBuf,
        strategy: &str,
        child: &std::path::Path,
        rounds: usize,
        pace_ns: Option<u64>,
    ) -> Job {
        Job::Rounds(RoundsJob {
            out,
            lanes: LaneSpec::list(&[strategy], None),
            ballast_bytes: 0,
            ballast: BallastMode::Dirty,
            child: child.to_path_buf(),
            args: Vec::new(),
            rounds,
            warmup: 20,
            pace_ns,
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LaneSpec {
    /// A `spawn_bench::BenchStrategy` name: fork, vfork, posix-spawn, clone3, zygote,
    /// std, template, raw-vfork.
    pub strategy: String,
    /// Spawn in one round out of `every` (slow lanes, e.g. fork from a 4 GiB parent).
    pub every: usize,
}

impl LaneSpec {
    /// Every lane in every round, except the `slow` lane (if any), which spawns in one round
    /// out of its `every`.
    pub fn list(names: &[&str], slow: Option<(&str, usize)>) -> Vec<LaneSpec> {
        names
            .iter()
            .map(|&n| LaneSpec {
                strategy: n.to_string(),
                every: slow.filter(|(s, _)| *s == n).map_or(1, |(_, e)| e),
            })
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundsOut {
    pub rss_bytes: u64,
    pub elapsed_ns: u64,
    pub samples: Vec<Sample>,
}

/// One timed spawn+wait. `t0..t1` brackets it on CLOCK_MONOTONIC (the probes' clock).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sample {
    pub lane: usize,
    pub round: usize,
    pub ns: u64,
    pub t0: u64,
    pub t1: u64,
}

/// `threads` threads, each spawning and waiting in a loop for `duration_ms` (concurrency).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlightJob {
    pub out: PathBuf,
    pub strategy: String,
    pub threads: usize,
    pub duration_ms: u64,
    pub child: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FlightOut {
    pub spawns: u64,
    pub elapsed_ns: u64,
}

/// `threads` threads calling a tool mix, `calls` calls each (templates). Every worker of a
/// split sleeps until `start_ns`, so that they all start together.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolsJob {
    pub out: PathBuf,
    /// "std" or "template".
    pub mode: String,
    pub threads: usize,
    pub calls: usize,
    pub tools: Vec<Vec<String>>,
    pub cwd: PathBuf,
    pub start_ns: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolsOut {
    pub calls: u64,
    pub failed: u64,
    pub t_start: u64,
    pub t_end: u64,
    /// ns inside the spawn call itself (API entry to return), one per call.
    pub spawn_ns: Vec<u64>,
    /// ns from spawn entry to wait return, one per call.
    pub call_ns: Vec<u64>,
}

pub fn main(job: &str) -> Result<()> {
    let job: Job = serde_json::from_str(job).context("experiment-worker: bad job")?;
    let (out, body) = match &job {
        Job::Rounds(j) => (&j.out, serde_json::to_vec(&rounds(j)?)?),
        Job::Flight(j) => (&j.out, serde_json::to_vec(&flight(j)?)?),
        Job::Tools(j) => (&j.out, serde_json::to_vec(&tools(j)?)?),
    };
    std::fs::write(out, body).with_context(|| format!("writing {}", out.display()))
}

/// A prepared lane: spawn-bench's, so that `spawnprof bench` and the experiments spawn alike.
struct Lane(spawn_bench::Lane);

impl Lane {
    fn new(name: &str, child: &Path, args: &[String]) -> Result<Lane> {
        Ok(Lane(spawn_bench::Lane::new(name.parse()?, child, args)?))
    }

    /// One spawn+wait; returns its duration in ns.
    fn once(&mut self) -> Result<u64> {
        let t0 = monotonic_ns();
        let status = self.0.run_once()?;
        let ns = monotonic_ns() - t0;
        if status != 0 {
            bail!("the child failed (wait status {status:#x})");
        }
        Ok(ns)
    }
}

fn needs_zygote(names: &[&str]) -> bool {
    names.contains(&"zygote")
}

fn rounds(j: &RoundsJob) -> Result<RoundsOut> {
    // The zygote is forked from this process at first use: start it while we are small.
    if needs_zygote(
        &j.lanes
            .iter()
            .map(|l| l.strategy.as_str())
            .collect::<Vec<_>>(),
    ) {
        spawn_fast::zygote::start()?;
    }
    let mut lanes = j
        .lanes
        .iter()
        .map(|l| Lane::new(&l.strategy, &j.child, &j.args))
        .collect::<Result<Vec<_>>>()?;
    let ballast = Ballast::new(j.ballast_bytes, j.ballast).context("ballast")?;
    let rss_bytes = current_rss()?;
    let start = Instant::now();
    let mut samples = Vec::new();
    let n = lanes.len();
    for round in 0..j.warmup + j.rounds {
        if let Some(pace) = j.pace_ns {
            let due = start + std::time::Duration::from_nanos(pace * round as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        // Rotate the starting lane each round: no lane always runs right after another.
        for k in 0..n {
            let i = (round + k) % n;
            if round % j.lanes[i].every.max(1) != 0 {
                continue;
            }
            let t0 = monotonic_ns();
            let ns = lanes[i]
                .once()
                .with_context(|| format!("lane {}", j.lanes[i].strategy))?;
            let t1 = monotonic_ns();
            if round >= j.warmup {
                samples.push(Sample {
                    lane: i,
                    round: round - j.warmup,
                    ns,
                    t0,
                    t1,
                });
            }
        }
    }
    let elapsed_ns = start.elapsed().as_nanos() as u64;
    drop(ballast);
    Ok(RoundsOut {
        rss_bytes,
        elapsed_ns,
        samples,
    })
}

/// A lane that many threads can share: templates and std commands are per thread, the
/// library command is cloned per thread (spawn takes `&mut`).
fn flight(j: &FlightJob) -> Result<FlightOut> {
    if j.strategy == "zygote" {
        spawn_fast::zygote::start()?;
    }
    let template = if j.strategy == "template" {
        Some(Arc::new(Command::new(&j.child).template()?))
    } else {
        None
    };
    let deadline = Duration::from_millis(j.duration_ms);
    let start = Instant::now();
    let handles: Vec<_> = (0..j.threads)
        .map(|_| {
            let mut lane = match &template {
                Some(_) => None,
                None => Some(Lane::new(&j.strategy, &j.child, &[])),
            };
            let template = template.clone();
            std::thread::spawn(move || -> Result<u64> {
                let mut lane = lane.take().transpose()?;
                let mut n = 0;
                while start.elapsed() < deadline {
                    match (&template, &mut lane) {
                        (Some(t), _) => {
                            if !t.spawn()?.wait()?.success() {
                                bail!("the child failed");
                            }
                        }
                        (None, Some(l)) => {
                            l.once()?;
                        }
                        (None, None) => unreachable!("a lane or a template is always set"),
                    }
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut spawns = 0;
    for h in handles {
        spawns += h
            .join()
            .map_err(|_| anyhow::anyhow!("a spawning thread panicked"))??;
    }
    Ok(FlightOut {
        spawns,
        elapsed_ns: start.elapsed().as_nanos() as u64,
    })
}

/// One tool, prepared the way each mode prepares it.
enum Tool {
    Std(Vec<String>),
    Template(Template),
}

fn tools(j: &ToolsJob) -> Result<ToolsOut> {
    let prepared: Vec<Tool> = j
        .tools
        .iter()
        .map(|argv| -> Result<Tool> {
            Ok(match j.mode.as_str() {
                // std-style: a Command built per call (what a tool runner does), so nothing
                // is prepared here.
                "std" => Tool::Std(argv.clone()),
                "template" => Tool::Template(
                    Command::new(&argv[0])
                        .args(&argv[1..])
                        .current_dir(&j.cwd)
                        .stdout(Stdio::Null)
                        .stderr(Stdio::Null)
                        .strategy(Strategy::Auto)
                        .template()?,
                ),
                other => bail!("unknown tools mode {other:?}"),
            })
        })
        .collect::<Result<_>>()?;
    let prepared = Arc::new(prepared);
    // Everyone waits for the same start time: the W workers of a split start together.
    let now = monotonic_ns();
    if j.start_ns > now {
        std::thread::sleep(Duration::from_nanos(j.start_ns - now));
    }
    let t_start = monotonic_ns();
    let handles: Vec<_> = (0..j.threads)
        .map(|t| {
            let prepared = Arc::clone(&prepared);
            let cwd = j.cwd.clone();
            let calls = j.calls;
            std::thread::spawn(move || -> Result<(u64, Vec<u64>, Vec<u64>)> {
                let (mut failed, mut spawn_ns, mut call_ns) = (0, Vec::new(), Vec::new());
                for c in 0..calls {
                    let tool = &prepared[(t + c) % prepared.len()];
                    let t0 = monotonic_ns();
                    let ok = match tool {
                        Tool::Std(argv) => {
                            let mut child = std::process::Command::new(&argv[0])
                                .args(&argv[1..])
                                .current_dir(&cwd)
                                .stdout(std::process::Stdio::null())
                                .stderr(std::process::Stdio::null())
                                .spawn()?;
                            spawn_ns.push(monotonic_ns() - t0);
                            child.wait()?.success()
                        }
                        Tool::Template(tp) => {
                            let mut child = tp.spawn()?;
                            spawn_ns.push(monotonic_ns() - t0);
                            child.wait()?.success()
                        }
                    };
                    call_ns.push(monotonic_ns() - t0);
                    failed += u64::from(!ok);
                }
                Ok((failed, spawn_ns, call_ns))
            })
        })
        .collect();
    let mut out = ToolsOut {
        calls: 0,
        failed: 0,
        t_start,
        t_end: 0,
        spawn_ns: Vec::new(),
        call_ns: Vec::new(),
    };
    for h in handles {
        let (failed, s, c) = h
            .join()
            .map_err(|_| anyhow::anyhow!("a calling thread panicked"))??;
        out.failed += failed;
        out.calls += c.len() as u64;
        out.spawn_ns.extend(s);
        out.call_ns.extend(c);
    }
    out.t_end = monotonic_ns();
    Ok(out)
}
