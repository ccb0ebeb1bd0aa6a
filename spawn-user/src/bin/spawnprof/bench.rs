//! `spawnprof bench`: spawn latency per strategy, interleaved in one process.
use anyhow::Context as _;
use spawn_bench::{BallastMode, BenchConfig, BenchStrategy};

/// Spawn latency per strategy, interleaved in one process (medians, p10/p90/p99, spawns/s).
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated: fork, vfork, posix-spawn, clone3, zygote, auto, template, std,
    /// raw-vfork (a bare libc vfork+execve loop, the reference), or `all`.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub strategy: Vec<String>,
    /// Memory the benchmarking parent maps before spawning, e.g. 1G.
    #[arg(long, default_value = "0", value_parser = spawn_bench::parse_size)]
    pub parent_rss: usize,
    /// Write every ballast page (the default).
    #[arg(long, conflicts_with_all = ["untouched", "fragmented"])]
    pub dirty: bool,
    /// Map the ballast but never touch it.
    #[arg(long, conflicts_with = "fragmented")]
    pub untouched: bool,
    /// Dirty, then every other page read-only (one VMA per page).
    #[arg(long)]
    pub fragmented: bool,
    /// `static` (a tiny static child that exits at once) or a program path.
    #[arg(long, default_value = "static")]
    pub child: String,
    /// Measured spawns per strategy.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// The report as JSON (config, measured RSS, per-strategy stats).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: BenchArgs) -> anyhow::Result<u8> {
    let BenchArgs {
        strategy,
        parent_rss,
        dirty: _,
        untouched,
        fragmented,
        child,
        count,
        json,
    } = a;
    let strategies = if strategy.iter().any(|s| s == "all") {
        BenchStrategy::all()
    } else {
        strategy
            .iter()
            .map(|s| s.parse::<BenchStrategy>())
            .collect::<Result<_, _>>()?
    };
    let cfg = BenchConfig {
        strategies,
        parent_rss,
        ballast: if untouched {
            BallastMode::Untouched
        } else if fragmented {
            BallastMode::Fragmented
        } else {
            BallastMode::Dirty
        },
        child: if child == "static" {
            spawn_fast::children::EXIT0.into()
        } else {
            child.into()
        },
        count,
        ..BenchConfig::default()
    };
    let report = spawn_bench::run(&cfg).context("running the benchmark")?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", spawn_user::bench::render(&report));
    }
    Ok(0)
}
