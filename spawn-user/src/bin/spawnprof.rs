//! `spawnprof`: where the time goes when Linux spawns a process.
use std::{
    ffi::OsString,
    fs::File,
    io::{self, BufWriter, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use spawn_fast::{
    Strategy,
    bench::{BallastMode, BenchConfig, BenchStrategy},
};
use spawn_user::{
    live, plot,
    report::Format,
    session::{self, TraceError, TraceOptions},
    tree::text::TextOptions,
    workload::{self, Workload},
};

#[derive(Parser)]
#[command(version, about = "Where the time goes when Linux spawns a process")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run CMD and report one record per spawn in it and all its descendants.
    Trace {
        /// One JSON object per spawn (schema in the README).
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV with a header row.
        #[arg(long)]
        csv: bool,
        /// Write records here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Do not record page faults.
        #[arg(long)]
        no_faults: bool,
        /// Do not attach the ld.so/libc startup uprobes.
        #[arg(long)]
        no_startup: bool,
        /// Measure the `prep` phase with a uprobe on spawn-fast's spawn entry mark in CMD
        /// (when CMD links spawn-fast). Costs one uprobe hit (~15 µs here) per spawn.
        #[arg(long)]
        prep: bool,
        /// Report each probe's hits and BPF run time, as the kernel counts them (BPF run-time
        /// statistics, on for the session only; each hit then pays two extra clock reads).
        #[arg(long)]
        probe_stats: bool,
        /// Attach no syscall tracepoint (see `record --help`): fewer phases, no tax on the
        /// host's syscalls.
        #[arg(long)]
        no_syscall_tracepoints: bool,
        /// Print the spawns as a tree (who spawned whom, each with its times and its
        /// subtree's totals) instead of one table row per spawn.
        #[arg(long)]
        tree: bool,
        /// With --tree: fold spawns whose whole subtree took less than this (e.g. 5ms) into
        /// one "+N more" line per parent.
        #[arg(long, value_name = "DURATION", requires = "tree", value_parser = duration)]
        min_total: Option<std::time::Duration>,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Spawn latency per strategy, interleaved in one process (medians, p10/p90/p99, spawns/s).
    Bench {
        /// Comma-separated: fork, vfork, posix-spawn, clone3, zygote, auto, template, std,
        /// raw-vfork (a bare libc vfork+execve loop, the reference), or `all`.
        #[arg(long, value_delimiter = ',', default_value = "all")]
        strategy: Vec<String>,
        /// Memory the benchmarking parent maps before spawning, e.g. 1G.
        #[arg(long, default_value = "0", value_parser = spawn_fast::bench::parse_size)]
        parent_rss: usize,
        /// Write every ballast page (the default).
        #[arg(long, conflicts_with_all = ["untouched", "fragmented"])]
        dirty: bool,
        /// Map the ballast but never touch it.
        #[arg(long, conflicts_with = "fragmented")]
        untouched: bool,
        /// Dirty, then every other page read-only (one VMA per page).
        #[arg(long)]
        fragmented: bool,
        /// `static` (a tiny static child that exits at once) or a program path.
        #[arg(long, default_value = "static")]
        child: String,
        /// Measured spawns per strategy.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// The report as JSON (config, measured RSS, per-strategy stats).
        #[arg(long)]
        json: bool,
    },
    /// Spawn PROGRAM through spawn-fast with the given strategies (a known workload to trace).
    Workload {
        /// Comma-separated: fork, vfork, posix-spawn, clone3, zygote, auto.
        #[arg(long, value_delimiter = ',', default_value = "vfork")]
        strategy: Vec<Strategy>,
        /// Rounds; each round spawns once per strategy.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Memory this process writes before spawning, e.g. 256M.
        #[arg(long, default_value = "0", value_parser = spawn_fast::bench::parse_size)]
        parent_rss: usize,
        /// Raw fork instead of spawn-fast: the child writes this many ballast pages before
        /// its execve (known copy-on-write faults).
        #[arg(long)]
        child_touch: Option<usize>,
        /// With --child-touch: pages the parent writes after the fork, before waiting.
        #[arg(long, default_value_t = 0, requires = "child_touch")]
        parent_touch: usize,
        /// Print one JSON line per spawn (pid, strategy, wall time) on stderr.
        #[arg(long)]
        report: bool,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Record spawns (whole host, a process tree or a cgroup) to JSON lines or CSV until
    /// Ctrl-C, SIGTERM or --duration; then print a summary.
    Record(live::cli::RecordArgs),
    /// Live view of the top spawners, refreshed every second.
    Top(live::cli::TopArgs),
    /// Serve Prometheus/OpenMetrics metrics of the spawns at /metrics.
    Serve(live::cli::ServeArgs),
    /// Render recorded JSON-lines traces as phase plots (SVG) and a text summary.
    Report(plot::report::ReportArgs),
    /// Compare the spawn cost of commands: interleaved runs, a run-level 95% interval for
    /// the wall-time ratio, and the phases that carry the difference.
    Compare(CompareArgs),
    /// Run CMD through a spawn-fast strategy with inherited stdio and exit with its status
    /// (128 + signal when killed).
    Run {
        /// fork, vfork, posix-spawn, clone3, zygote, warm or auto.
        #[arg(long, default_value = "auto")]
        strategy: Strategy,
        /// Run CMD this many times, one after the other; stops at the first failure.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("spawnprof: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.cmd {
        Cmd::Trace {
            json,
            csv,
            output,
            no_faults,
            no_startup,
            prep,
            probe_stats,
            no_syscall_tracepoints,
            tree,
            min_total,
            command,
        } => {
            let format = if json {
                Format::Json
            } else if csv {
                Format::Csv
            } else {
                Format::Table
            };
            let out: Box<dyn Write + Send> = match &output {
                Some(p) => Box::new(BufWriter::new(
                    File::create(p).with_context(|| format!("creating {}", p.display()))?,
                )),
                None => Box::new(io::stdout()),
            };
            let (program, args) = split(command);
            let opts = TraceOptions {
                format,
                faults: !no_faults,
                startup: !no_startup,
                prep,
                probe_stats,
                no_syscall_tracepoints,
                tree: tree.then(|| TextOptions {
                    min_total_ns: min_total.map_or(0, |d| d.as_nanos() as u64),
                }),
                program,
                args,
            };
            match session::run(&opts, out) {
                Ok(outcome) => Ok(outcome.exit_code.clamp(0, 255) as u8),
                // The command's absence is the user's error, named on one line.
                Err(e @ (TraceError::NotFound(_) | TraceError::PermissionDenied(_))) => {
                    eprintln!("spawnprof: {e}");
                    Ok(127)
                }
                Err(e) => Err(e.into()),
            }
        }
        Cmd::Bench {
            strategy,
            parent_rss,
            dirty: _,
            untouched,
            fragmented,
            child,
            count,
            json,
        } => {
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
            let report = spawn_fast::bench::run(&cfg).context("running the benchmark")?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", spawn_user::bench::render(&report));
            }
            Ok(0)
        }
        Cmd::Workload {
            strategy,
            count,
            parent_rss,
            child_touch,
            parent_touch,
            report,
            command,
        } => {
            let (program, args) = split(command);
            let w = Workload {
                strategies: strategy,
                count,
                parent_rss,
                program,
                args,
                child_touch,
                parent_touch,
            };
            let spawned = workload::run(&w).context("running the workload")?;
            if report {
                let mut err = io::stderr().lock();
                for s in &spawned {
                    writeln!(err, "{}", serde_json::to_string(s)?)?;
                }
            }
            let failed = spawned.iter().filter(|s| s.exit_code != Some(0)).count();
            Ok(u8::from(failed > 0))
        }
        Cmd::Record(a) => {
            live::record::run(&a.options()?)?;
            Ok(0)
        }
        Cmd::Top(a) => live::term::run(&a.options())
            .map(|()| 0)
            .map_err(Into::into),
        Cmd::Serve(a) => live::serve::run(&a.options())
            .map(|()| 0)
            .map_err(Into::into),
        Cmd::Report(a) => plot::report::run(&a).map(|()| 0),
        Cmd::Compare(a) => compare(&a),
        Cmd::Run {
            strategy,
            repeat,
            command,
        } => run_command(strategy, repeat, command),
    }
}

/// `spawnprof run`: the exit code of the first failed run, else 0.
fn run_command(strategy: Strategy, repeat: usize, command: Vec<OsString>) -> anyhow::Result<u8> {
    let (program, args) = split(command);
    let mut cmd = spawn_fast::Command::new(&program);
    cmd.args(&args).strategy(strategy);
    for _ in 0..repeat {
        let status = cmd
            .status()
            .with_context(|| format!("running {} ({strategy})", program.to_string_lossy()))?;
        let code = match (status.code(), status.signal()) {
            (Some(c), _) => c,
            (None, Some(sig)) => 128 + sig,
            _ => 255,
        };
        if code != 0 {
            return Ok(code.clamp(0, 255) as u8);
        }
    }
    Ok(0)
}

fn duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 5ms, 250us, 1s)"))
}

fn split(mut command: Vec<OsString>) -> (OsString, Vec<OsString>) {
    let program = command.remove(0);
    (program, command)
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Runs (blocks); each run spawns every command, in a fresh random order. The 95% interval
    /// needs at least 6.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Untimed spawns at the start of each run.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed spawns per command per run (their median is the run's value).
    #[arg(long, default_value_t = 20)]
    spawns: usize,
    /// Wall time only: no traced runs, no phases.
    #[arg(long)]
    no_phases: bool,
    /// Run each command with `sh -c` instead of splitting it into words.
    #[arg(long)]
    shell: bool,
    /// Seed of the run-order shuffle (printed, so a comparison can be repeated).
    #[arg(long)]
    seed: Option<u64>,
    /// One JSON object: ratio, ci, faster, phase_diff_ns, per-command summaries, warnings.
    #[arg(long)]
    json: bool,
    /// Also write summary.md, wall_runs.svg and phases.svg into DIR.
    #[arg(short = 'o', long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// The commands, each one argument ('CMD ARGS...'); the first is A, compared with each other.
    #[arg(required = true, num_args = 2..)]
    commands: Vec<String>,
}

fn compare(a: &CompareArgs) -> anyhow::Result<u8> {
    use spawn_user::compare::{self, CompareOptions, render};
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
