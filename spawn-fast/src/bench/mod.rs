//! The benchmark harness behind `spawnprof bench`: ballast, an interleaved runner, statistics.
//!
//! All requested strategies run in one process, round-robin (one spawn+wait each per round), so
//! that drift on a shared machine hits them alike. Quote ratios of medians, not absolute times.

mod ballast;
mod stats;

pub use ballast::{Ballast, BallastMode, current_rss, parse_size};
pub use stats::{Stats, stats};

use crate::{Command, Strategy, Template};
use serde::Serialize;
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
            child: PathBuf::from(crate::children::EXIT0),
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

/// One lane's summary.
#[derive(Clone, Debug, Serialize)]
pub struct LaneResult {
    pub strategy: BenchStrategy,
    pub stats: Stats,
}

/// What `spawnprof bench --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub config: BenchConfig,
    /// RSS of the benchmarking process after the ballast was set up.
    pub parent_rss_measured: u64,
    pub results: Vec<LaneResult>,
}

/// A prepared lane: everything allocated up front so the timed part is only the spawn.
enum Lane {
    Lib(Command),
    Template(Template),
    Std(std::process::Command),
    RawVfork {
        path: CString,
        _args: Vec<CString>,
        argv: Vec<*const libc::c_char>,
    },
}

impl Lane {
    fn new(s: BenchStrategy, cfg: &BenchConfig) -> io::Result<Lane> {
        Ok(match s {
            BenchStrategy::Lib(st) => {
                let mut c = Command::new(&cfg.child);
                c.args(&cfg.args).strategy(st);
                Lane::Lib(c)
            }
            BenchStrategy::Template => {
                Lane::Template(Command::new(&cfg.child).args(&cfg.args).template()?)
            }
            BenchStrategy::Std => {
                let mut c = std::process::Command::new(&cfg.child);
                c.args(&cfg.args);
                Lane::Std(c)
            }
            BenchStrategy::RawVfork => {
                let path = crate::plan::to_cstring(cfg.child.as_os_str(), "child")?;
                let mut args = vec![path.clone()];
                for a in &cfg.args {
                    args.push(crate::plan::to_cstring(a.as_ref(), "argument")?);
                }
                let mut argv: Vec<_> = args.iter().map(|a| a.as_ptr()).collect();
                argv.push(std::ptr::null());
                Lane::RawVfork {
                    path,
                    _args: args,
                    argv,
                }
            }
        })
    }

    /// One spawn + wait; returns the exit status as a raw wait status.
    fn run_once(&mut self) -> io::Result<i32> {
        match self {
            Lane::Lib(c) => Ok(c.spawn()?.wait()?.into_raw()),
            Lane::Template(t) => Ok(t.spawn()?.wait()?.into_raw()),
            Lane::Std(c) => {
                use std::os::unix::process::ExitStatusExt;
                Ok(c.spawn()?.wait()?.into_raw())
            }
            Lane::RawVfork { path, argv, .. } => raw_vfork_execve(path, argv),
        }
    }
}

/// The reference: vfork, execve, waitpid, and nothing else (no signal or fd work).
fn raw_vfork_execve(path: &CString, argv: &[*const libc::c_char]) -> io::Result<i32> {
    struct Args {
        path: *const libc::c_char,
        argv: *const *const libc::c_char,
        envp: *const *const libc::c_char,
    }
    unsafe extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: arg points to the Args in the suspended parent's frame.
        let a = unsafe { &*(arg as *const Args) };
        // SAFETY: NUL-terminated path and NULL-terminated arrays owned by the lane.
        unsafe {
            crate::child_exec::sys(
                libc::SYS_execve,
                a.path as usize,
                a.argv as usize,
                a.envp as usize,
                0,
                0,
            )
        };
        127
    }
    // SAFETY: reads the process-global environ pointer.
    let envp = unsafe { libc::environ as *const *const libc::c_char };
    let args = Args {
        path: path.as_ptr(),
        argv: argv.as_ptr(),
        envp,
    };
    // SAFETY: the child only execs or exits; `args` lives in this frame, which vfork keeps
    // alive; this is the unprotected reference loop (no signal blocking), as raw as it gets.
    let pid = unsafe { crate::sys::spawn_fast_vfork_run(child, &args as *const Args as *mut _) };
    let pid = crate::sys::check_neg(pid)? as libc::pid_t;
    let mut status = 0;
    // SAFETY: waits for our own child.
    crate::sys::cvt(unsafe { libc::waitpid(pid, &mut status, 0) })?;
    Ok(status)
}

/// Runs every lane `warmup + count` times, round-robin, and returns the timed samples.
/// The caller is responsible for ballast (see [`run`]).
pub fn run_interleaved(cfg: &BenchConfig) -> Result<Vec<Samples>, BenchError> {
    let mut lanes = Vec::with_capacity(cfg.strategies.len());
    for &s in &cfg.strategies {
        lanes.push((
            s,
            Lane::new(s, cfg).map_err(|e| BenchError::Spawn {
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
            let t0 = crate::monotonic_ns();
            let status = lane.run_once().map_err(|e| BenchError::Spawn {
                strategy: s.to_string(),
                source: e,
            })?;
            let dt = crate::monotonic_ns() - t0;
            if status != 0 {
                return Err(BenchError::ChildFailed {
                    strategy: s.to_string(),
                    status: crate::ExitStatus::from_raw(status).to_string(),
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
    let results = samples
        .iter()
        .filter_map(|s| {
            stats(&s.ns).map(|st| LaneResult {
                strategy: s.strategy,
                stats: st,
            })
        })
        .collect();
    Ok(BenchReport {
        config: cfg.clone(),
        parent_rss_measured,
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            r.results
                .iter()
                .all(|l| l.stats.count == 5 && l.stats.median_ns > 0)
        );
    }
}
