//! The benchmark harness behind `spawnprof bench` and the xtask experiments: parent ballast,
//! an interleaved runner, and per-lane statistics from spawn-analysis's one statistics module.
//! Benchmark machinery, kept out of the spawn-fast library.
//!
//! All requested strategies run in one process, round-robin (one spawn+wait each per round), so
//! that drift on a shared machine hits them alike. The timed rounds are cut into [`RUNS`]
//! consecutive blocks (runs); a ratio between two lanes is the median of the per-run ratios of
//! their medians, with the order-statistic 95% interval over runs. Quote ratios, not absolute
//! times.

mod ballast;

pub use ballast::{Ballast, BallastMode, current_rss, parse_size};

use serde::Serialize;
use spawn_analysis::stats::{self, Interval};
use spawn_fast::{Command, Strategy, Template};
use std::ffi::CString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;

/// Benchmark errors.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "unknown benchmark strategy {0:?} (fork, vfork, posix-spawn, clone3, zygote, warm, auto, template, std, raw-vfork)"
    )]
    BadStrategy(String),
    #[error("bad size {0:?} (examples: 0, 64k, 512M, 1G)")]
    BadSize(String),
    #[error("bad ballast mode {0:?} (untouched, dirty, fragmented)")]
    BadBallast(String),
    #[error("{strategy}: {source}")]
    Spawn { strategy: String, source: io::Error },
    #[error("child exited with {status} under {strategy}")]
    ChildFailed { strategy: String, status: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What one benchmark lane spawns with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchStrategy {
    /// `spawn_fast::Command` with this strategy.
    Lib(Strategy),
    /// A `spawn_fast::Template` built with `Strategy::Auto`.
    Template,
    /// `std::process::Command`.
    Std,
    /// A raw vfork+execve+waitpid loop: the reference.
    RawVfork,
}

impl fmt::Display for BenchStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchStrategy::Lib(s) => write!(f, "{s}"),
            BenchStrategy::Template => f.write_str("template"),
            BenchStrategy::Std => f.write_str("std"),
            BenchStrategy::RawVfork => f.write_str("raw-vfork"),
        }
    }
}

impl Serialize for BenchStrategy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for BenchStrategy {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "std" => Ok(BenchStrategy::Std),
            "raw-vfork" => Ok(BenchStrategy::RawVfork),
            "template" => Ok(BenchStrategy::Template),
            _ => s
                .parse()
                .map(BenchStrategy::Lib)
                .map_err(|_| BenchError::BadStrategy(s.to_string())),
        }
    }
}

impl BenchStrategy {
    /// Every lane, for "compare everything" runs. `warm` is left out: it parks dynamically
    /// linked glibc programs only (the default child is static); ask for it by name.
    pub fn all() -> Vec<BenchStrategy> {
        let mut v: Vec<_> = Strategy::ALL
            .iter()
            .filter(|&&s| s != Strategy::Warm)
            .map(|&s| BenchStrategy::Lib(s))
            .collect();
        v.extend([
            BenchStrategy::Lib(Strategy::Auto),
            BenchStrategy::Template,
            BenchStrategy::Std,
            BenchStrategy::RawVfork,
        ]);
        v
    }
}

/// One benchmark run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchConfig {
    pub strategies: Vec<BenchStrategy>,
    /// Ballast size in bytes.
    pub parent_rss: usize,
    pub ballast: BallastMode,
    /// The program to spawn (e.g. `children::EXIT0`).
    pub child: PathBuf,
    pub args: Vec<String>,
    /// Measured spawns+waits per strategy.
    pub count: usize,
    /// Unmeasured rounds first (page cache, lazy init).
    pub warmup: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            strategies: vec![BenchStrategy::Lib(Strategy::Auto)],
            parent_rss: 0,
            ballast: BallastMode::Dirty,
            child: PathBuf::from(spawn_fast::children::EXIT0),
            args: Vec::new(),
            count: 1000,
            warmup: 20,
        }
    }
}

/// Raw samples of one lane (ns per spawn+wait, in run order).
#[derive(Clone, Debug, Serialize)]
pub struct Samples {
    pub strategy: BenchStrategy,
    pub ns: Vec<u64>,
}

/// Blocks the timed rounds are cut into for run-level intervals (fewer when `count` is small).
pub const RUNS: usize = 10;

/// Summary of one lane's samples (ns per spawn+wait); percentiles by the one definition
/// (`spawn_analysis::stats`, linear), rounded to whole ns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub count: usize,
    pub median_ns: u64,
    pub p10_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub mean_ns: f64,
    pub min_ns: u64,
    pub max_ns: u64,
    /// 1e9 / mean: spawns+waits per second one thread sustains.
    pub spawns_per_sec: f64,
}

/// Summarises `samples`; None when there are none.
pub fn summarise(samples: &[u64]) -> Option<Stats> {
    let mut s = stats::Samples::new();
    samples.iter().for_each(|&v| s.push(v));
    let mean = s.mean()?;
    let mut q = |p: f64| s.quantile(p).map_or(0, |v| v.round() as u64);
    Some(Stats {
        count: samples.len(),
        median_ns: q(0.5),
        p10_ns: q(0.1),
        p90_ns: q(0.9),
        p99_ns: q(0.99),
        mean_ns: mean,
        min_ns: q(0.0),
        max_ns: q(1.0),
        spawns_per_sec: if mean > 0.0 { 1e9 / mean } else { 0.0 },
    })
}

/// The median of each of `runs` consecutive blocks of `samples` (in run order).
pub fn block_medians(samples: &[u64], runs: usize) -> Vec<f64> {
    let runs = runs.clamp(1, samples.len().max(1));
    let per = samples.len() / runs;
    (0..runs)
        .map(|r| {
            let end = if r + 1 == runs {
                samples.len()
            } else {
                (r + 1) * per
            };
            let v: Vec<f64> = samples[r * per..end].iter().map(|&x| x as f64).collect();
            stats::median(&v)
        })
        .collect()
}

/// One lane's summary.
#[derive(Clone, Debug, Serialize)]
pub struct LaneResult {
    pub strategy: BenchStrategy,
    pub stats: Stats,
    /// Median of each run (block of consecutive rounds), ns.
    pub run_medians_ns: Vec<f64>,
    /// This lane's median / the fastest lane's, per run, with the 95% order-statistic
    /// interval over runs (None with fewer than 6 runs).
    pub vs_fastest: Option<Interval>,
}

/// What `spawnprof bench --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub config: BenchConfig,
    /// RSS of the benchmarking process after the ballast was set up.
    pub parent_rss_measured: u64,
    /// The lane with the lowest median, the reference of `vs_fastest`.
    pub fastest: Option<BenchStrategy>,
    pub results: Vec<LaneResult>,
}

/// A prepared lane: everything allocated up front so the timed part is only the spawn (also
/// the xtask experiments' worker's lanes). The child inherits the caller's stdio.
pub enum Lane {
    Lib(Command),
    Template(Template),
    Std(std::process::Command),
    RawVfork(RawVfork),
}

impl Lane {
    /// Prepares `child args` for strategy `s`.
    pub fn new(s: BenchStrategy, child: &std::path::Path, args: &[String]) -> io::Result<Lane> {
        Ok(match s {
            BenchStrategy::Lib(st) => {
                let mut c = Command::new(child);
                c.args(args).strategy(st);
                Lane::Lib(c)
            }
            BenchStrategy::Template => Lane::Template(Command::new(child).args(args).template()?),
            BenchStrategy::Std => {
                let mut c = std::process::Command::new(child);
                c.args(args);
                Lane::Std(c)
            }
            BenchStrategy::RawVfork => Lane::RawVfork(RawVfork::new(child, args)?),
        })
    }

    /// One spawn + wait; returns the exit status as a raw wait status.
    pub fn run_once(&mut self) -> io::Result<i32> {
        match self {
            Lane::Lib(c) => Ok(c.spawn()?.wait()?.into_raw()),
            Lane::Template(t) => Ok(t.spawn()?.wait()?.into_raw()),
            Lane::Std(c) => {
                use std::os::unix::process::ExitStatusExt;
                Ok(c.spawn()?.wait()?.into_raw())
            }
            Lane::RawVfork(r) => r.run_once(),
        }
    }
}

fn cstring(s: &std::ffi::OsStr) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(s.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"))
}

/// The reference: the kernel's vfork (`clone(CLONE_VM | CLONE_VFORK)`, on a stack of its own
/// prepared once), execve, waitpid, and nothing else (no signal or fd work). It is what
/// `vfork()` does, without sharing the caller's stack frame, which Rust cannot do soundly.
pub struct RawVfork {
    path: CString,
    _args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    stack: Vec<u8>,
}

// SAFETY: the raw pointers point into the CStrings this struct owns (heap buffers that do not
// move with it); nothing is shared with another thread.
unsafe impl Send for RawVfork {}

impl RawVfork {
    pub fn new(child: &std::path::Path, args: &[String]) -> io::Result<RawVfork> {
        let path = cstring(child.as_os_str())?;
        let mut all = vec![path.clone()];
        for a in args {
            all.push(cstring(a.as_ref())?);
        }
        let mut argv: Vec<_> = all.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        Ok(RawVfork {
            path,
            _args: all,
            argv,
            stack: vec![0; 64 << 10],
        })
    }

    /// One spawn + wait; returns the raw wait status.
    pub fn run_once(&mut self) -> io::Result<i32> {
        struct Args {
            path: *const libc::c_char,
            argv: *const *const libc::c_char,
            envp: *const *const libc::c_char,
        }
        extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
            // SAFETY: arg points to the Args in the suspended parent's frame (CLONE_VFORK).
            let a = unsafe { &*(arg as *const Args) };
            // SAFETY: NUL-terminated path and NULL-terminated arrays owned by the lane; the raw
            // syscall touches no errno, no lock; on failure the child exits at once.
            unsafe {
                libc::syscall(libc::SYS_execve, a.path, a.argv, a.envp);
                libc::syscall(libc::SYS_exit, 127);
            }
            127
        }
        // SAFETY: reads the process-global environ pointer.
        let envp = unsafe { libc::environ as *const *const libc::c_char };
        let mut args = Args {
            path: self.path.as_ptr(),
            argv: self.argv.as_ptr(),
            envp,
        };
        let top = self.stack.as_mut_ptr_range().end as usize & !15;
        // SAFETY: the child runs on its own stack (owned by the lane, 16-byte aligned top),
        // shares memory only until its exec (CLONE_VFORK suspends us until then), and only
        // makes raw system calls; `args` outlives the suspension.
        let pid = unsafe {
            libc::clone(
                child,
                top as *mut libc::c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &mut args as *mut Args as *mut libc::c_void,
            )
        };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(status)
    }
}

/// Runs every lane `warmup + count` times, round-robin, and returns the timed samples.
/// The caller is responsible for ballast (see [`run`]).
pub fn run_interleaved(cfg: &BenchConfig) -> Result<Vec<Samples>, BenchError> {
    let mut lanes = Vec::with_capacity(cfg.strategies.len());
    for &s in &cfg.strategies {
        lanes.push((
            s,
            Lane::new(s, &cfg.child, &cfg.args).map_err(|e| BenchError::Spawn {
                strategy: s.to_string(),
                source: e,
            })?,
        ));
    }
    let mut out: Vec<Samples> = cfg
        .strategies
        .iter()
        .map(|&s| Samples {
            strategy: s,
            ns: Vec::with_capacity(cfg.count),
        })
        .collect();
    for round in 0..cfg.warmup + cfg.count {
        for (i, (s, lane)) in lanes.iter_mut().enumerate() {
            let t0 = spawn_fast::monotonic_ns();
            let status = lane.run_once().map_err(|e| BenchError::Spawn {
                strategy: s.to_string(),
                source: e,
            })?;
            let dt = spawn_fast::monotonic_ns() - t0;
            if status != 0 {
                return Err(BenchError::ChildFailed {
                    strategy: s.to_string(),
                    status: spawn_fast::ExitStatus::from_raw(status).to_string(),
                });
            }
            if round >= cfg.warmup {
                out[i].ns.push(dt);
            }
        }
    }
    Ok(out)
}

/// Sets up the ballast, runs the interleaved lanes, summarises.
pub fn run(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    let ballast = Ballast::new(cfg.parent_rss, cfg.ballast)?;
    let parent_rss_measured = current_rss()?;
    let samples = run_interleaved(cfg)?;
    drop(ballast);
    Ok(summarise_lanes(cfg, parent_rss_measured, &samples))
}

/// Per-lane statistics, and every lane's ratio to the fastest one over runs.
pub fn summarise_lanes(
    cfg: &BenchConfig,
    parent_rss_measured: u64,
    samples: &[Samples],
) -> BenchReport {
    let lanes: Vec<(BenchStrategy, Stats, Vec<f64>)> = samples
        .iter()
        .filter_map(|s| Some((s.strategy, summarise(&s.ns)?, block_medians(&s.ns, RUNS))))
        .collect();
    let fastest = lanes.iter().min_by_key(|(_, st, _)| st.median_ns);
    let reference = fastest.map(|(_, _, runs)| runs.clone()).unwrap_or_default();
    let results = lanes
        .iter()
        .map(|(strategy, st, runs)| LaneResult {
            strategy: *strategy,
            stats: *st,
            vs_fastest: stats::paired_ratio(runs, &reference),
            run_medians_ns: runs.clone(),
        })
        .collect();
    BenchReport {
        config: cfg.clone(),
        parent_rss_measured,
        fastest: fastest.map(|(s, _, _)| *s),
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_the_linear_definition() {
        let v: Vec<u64> = (1..=100).rev().collect();
        let s = summarise(&v).unwrap();
        // Linear: h = 99 p; the median of 1..=100 is 50.5, rounded to 51.
        assert_eq!(
            (s.median_ns, s.p10_ns, s.p90_ns, s.p99_ns),
            (51, 11, 90, 99)
        );
        assert_eq!((s.min_ns, s.max_ns, s.count), (1, 100, 100));
        assert!((s.mean_ns - 50.5).abs() < 1e-9);
        assert!(summarise(&[]).is_none());
        assert_eq!(summarise(&[7]).unwrap().p99_ns, 7);
    }

    #[test]
    fn ratios_are_over_runs() {
        assert_eq!(block_medians(&[1, 3, 5, 7, 9], 2), vec![2.0, 7.0]);
        assert_eq!(block_medians(&[4], 10), vec![4.0]);
        // Two lanes, 10 runs of 20 rounds; the slow lane is 2x in every run, and the machine
        // slows down 50% halfway through: the ratio stays 2, the interval is over runs.
        let lane = |k: u64| -> Vec<u64> {
            (0..200u64)
                .map(|i| k * (100 + i % 7) * if i >= 100 { 3 } else { 2 })
                .collect()
        };
        let samples = vec![
            Samples {
                strategy: BenchStrategy::Std,
                ns: lane(2),
            },
            Samples {
                strategy: BenchStrategy::RawVfork,
                ns: lane(1),
            },
        ];
        let r = summarise_lanes(&BenchConfig::default(), 0, &samples);
        assert_eq!(r.fastest, Some(BenchStrategy::RawVfork));
        let std = r.results[0].vs_fastest.unwrap();
        assert!(
            (std.point - 2.0).abs() < 1e-9 && std.low > 1.9 && std.runs == RUNS,
            "{std:?}"
        );
        let raw = r.results[1].vs_fastest.unwrap();
        assert_eq!((raw.low, raw.point, raw.high), (1.0, 1.0, 1.0));
    }

    #[test]
    fn lane_names_parse() {
        for s in BenchStrategy::all() {
            assert_eq!(s.to_string().parse::<BenchStrategy>().unwrap(), s);
        }
        assert!("nope".parse::<BenchStrategy>().is_err());
    }

    #[test]
    fn warm_lane_runs_a_dynamic_child() {
        let cfg = BenchConfig {
            strategies: vec!["posix-spawn".parse().unwrap(), "warm".parse().unwrap()],
            child: PathBuf::from("/bin/true"),
            count: 5,
            warmup: 1,
            ..Default::default()
        };
        let r = run(&cfg).unwrap();
        assert!(r.results.iter().all(|l| l.stats.count == 5));
    }

    #[test]
    fn small_interleaved_run() {
        let cfg = BenchConfig {
            strategies: BenchStrategy::all(),
            count: 5,
            warmup: 1,
            parent_rss: 4 << 20,
            ..Default::default()
        };
        let r = run(&cfg).unwrap();
        assert_eq!(r.results.len(), cfg.strategies.len());
        // 5 rounds make 5 runs: too few for an interval.
        assert!(r.results.iter().all(|l| l.vs_fastest.is_none()));
        assert!(
            r.results
                .iter()
                .all(|l| l.stats.count == 5 && l.stats.median_ns > 0)
        );
    }
}
