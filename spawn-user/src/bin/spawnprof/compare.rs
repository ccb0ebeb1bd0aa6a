//! `spawnprof compare 'CMD A' 'CMD B'...`: measured by `spawn_user::compare`, analysed and
//! rendered by `spawn_analysis::compare`.
use std::path::PathBuf;

use anyhow::Context as _;
use spawn_analysis::compare::render;
use spawn_user::compare::{self, CompareOptions};

/// Compare the spawn cost of commands: interleaved runs, a run-level 95% interval for the
/// wall-time ratio, and the phases that carry the difference.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Runs (blocks); each run spawns every command, in a fresh random order. The 95% interval
    /// needs at least 6.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Untimed spawns at the start of each run.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed spawns per command per run (their median is the run's value).
    #[arg(long, default_value_t = 20)]
    pub spawns: usize,
    /// Wall time only: no traced runs, no phases.
    #[arg(long)]
    pub no_phases: bool,
    /// Run each command with `sh -c` instead of splitting it into words.
    #[arg(long)]
    pub shell: bool,
    /// Seed of the run-order shuffle (printed, so a comparison can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
    /// One JSON object: ratio, ci, faster, phase_diff_ns, per-command summaries, warnings.
    #[arg(long)]
    pub json: bool,
    /// Also write summary.md, wall_runs.svg and phases.svg into DIR.
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The commands, each one argument ('CMD ARGS...'); the first is A, compared with each other.
    #[arg(required = true, num_args = 2..)]
    pub commands: Vec<String>,
}

pub fn run(a: &CompareArgs) -> anyhow::Result<u8> {
    let (labels, commands) = CompareOptions::split(&a.commands, a.shell)?;
    let opts = CompareOptions {
        labels,
        commands,
        runs: a.runs,
        warmup: a.warmup,
        spawns: a.spawns,
        phases: !a.no_phases,
        seed: a.seed.unwrap_or_else(spawn_fast::monotonic_ns),
        quiet: a.json,
    };
    let report = compare::run(&opts)?;
    if let Some(dir) = &a.output {
        render::write_dir(&report, dir).with_context(|| format!("writing {}", dir.display()))?;
    }
    if a.json {
        let first = &report.comparisons[0];
        let mut v = serde_json::to_value(first)?;
        v["report"] = serde_json::to_value(&report)?;
        println!("{v}");
    } else {
        print!("{}", render::text(&report));
    }
    Ok(0)
}
