//! Known workloads driven through spawn-fast: what `cargo xtask demo` and the integration tests
//! trace, so that what was recorded can be checked against what was done.
use std::{ffi::OsString, io, time::Instant};

mod touch;

use spawn_bench::{Ballast, BallastMode};
use spawn_fast::{Command, Stdio, Strategy};

#[derive(Debug, Clone)]
pub struct Workload {
    pub strategies: Vec<Strategy>,
    pub count: usize,
    /// Bytes of memory this process writes before spawning (a "big parent").
    pub parent_rss: usize,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Instead of spawn-fast: a raw fork in which the child writes this many ballast pages
    /// before its execve and the parent writes `parent_touch` other pages before waiting (a
    /// known number of copy-on-write faults on each side).
    pub child_touch: Option<usize>,
    pub parent_touch: usize,
}

/// One spawn as seen from user space.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Spawned {
    pub strategy: String,
    pub pid: u32,
    pub exit_code: Option<i32>,
    /// spawn() entered to wait() returned, CLOCK_MONOTONIC.
    pub wall_ns: u64,
    /// spawn-fast's own marks (CLOCK_MONOTONIC, comparable with the probes' timestamps):
    /// spawn API entered and wait returned. None for the raw-fork workload.
    pub t_enter_ns: Option<u64>,
    pub t_reaped_ns: Option<u64>,
}

/// Runs `count` rounds; each round spawns and waits for the program once per strategy, in turn.
pub fn run(w: &Workload) -> io::Result<Vec<Spawned>> {
    let ballast = Ballast::new(w.parent_rss, BallastMode::Dirty)?;
    if let Some(child_touch) = w.child_touch {
        return touch::run(w, &ballast, child_touch);
    }
    let mut out = Vec::with_capacity(w.count * w.strategies.len());
    for _ in 0..w.count {
        for &strategy in &w.strategies {
            let start = Instant::now();
            let mut cmd = Command::new(&w.program);
            cmd.args(&w.args).strategy(strategy).stdout(Stdio::Null);
            let mut child = cmd.spawn()?;
            let pid = child.id();
            let status = child.wait()?;
            let timing = child.timing();
            out.push(Spawned {
                strategy: strategy.to_string(),
                pid,
                exit_code: status.code(),
                wall_ns: start.elapsed().as_nanos() as u64,
                t_enter_ns: Some(timing.t_enter_ns),
                t_reaped_ns: timing.t_reaped_ns,
            });
        }
    }
    drop(ballast);
    Ok(out)
}
