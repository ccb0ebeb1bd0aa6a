//! `spawnprof workload`: known spawns through spawn-fast, for tracing.
use std::io::{self, Write};

use anyhow::Context as _;
use spawn_fast::Strategy;
use spawn_user::workload::{self, Workload};

use crate::CmdLine;

/// Spawn PROGRAM through spawn-fast with the given strategies (a known workload to trace).
#[derive(clap::Args, Debug)]
pub struct WorkloadArgs {
    /// Comma-separated: fork, vfork, posix-spawn, clone3, zygote, auto.
    #[arg(long, value_delimiter = ',', default_value = "vfork")]
    pub strategy: Vec<Strategy>,
    /// Rounds; each round spawns once per strategy.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Memory this process writes before spawning, e.g. 256M.
    #[arg(long, default_value = "0", value_parser = spawn_bench::parse_size)]
    pub parent_rss: usize,
    /// Raw fork instead of spawn-fast: the child writes this many ballast pages before
    /// its execve (known copy-on-write faults).
    #[arg(long)]
    pub child_touch: Option<usize>,
    /// With --child-touch: pages the parent writes after the fork, before waiting.
    #[arg(long, default_value_t = 0, requires = "child_touch")]
    pub parent_touch: usize,
    /// Print one JSON line per spawn (pid, strategy, wall time) on stderr.
    #[arg(long)]
    pub report: bool,
    #[command(flatten)]
    pub command: CmdLine,
}

pub fn run(a: WorkloadArgs) -> anyhow::Result<u8> {
    let (program, args) = a.command.split();
    let w = Workload {
        strategies: a.strategy,
        count: a.count,
        parent_rss: a.parent_rss,
        program,
        args,
        child_touch: a.child_touch,
        parent_touch: a.parent_touch,
    };
    let spawned = workload::run(&w).context("running the workload")?;
    if a.report {
        let mut err = io::stderr().lock();
        for s in &spawned {
            writeln!(err, "{}", serde_json::to_string(s)?)?;
        }
    }
    let failed = spawned.iter().filter(|s| s.exit_code != Some(0)).count();
    Ok(u8::from(failed > 0))
}
