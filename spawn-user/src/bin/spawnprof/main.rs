//! `spawnprof`: where the time goes when Linux spawns a process. The command line lives here,
//! one module per subcommand (its clap arguments and the code that runs it); everything they
//! call is in the `spawn_user` and `spawn_analysis` libraries.
use std::{ffi::OsString, process::ExitCode};

use clap::{Parser, Subcommand};

mod bench;
mod compare;
mod live;
mod report;
mod run;
mod trace;
mod workload;

#[derive(Parser)]
#[command(version, about = "Where the time goes when Linux spawns a process")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run CMD and report one record per spawn in it and all its descendants.
    Trace(trace::TraceArgs),
    /// Spawn latency per strategy, interleaved in one process (medians, p10/p90/p99, spawns/s).
    Bench(bench::BenchArgs),
    /// Spawn PROGRAM through spawn-fast with the given strategies (a known workload to trace).
    Workload(workload::WorkloadArgs),
    /// Record spawns (whole host, a process tree or a cgroup) to JSON lines or CSV until
    /// Ctrl-C, SIGTERM or --duration; then print a summary.
    Record(live::RecordArgs),
    /// Live view of the top spawners, refreshed every second.
    Top(live::TopArgs),
    /// Serve Prometheus/OpenMetrics metrics of the spawns at /metrics.
    Serve(live::ServeArgs),
    /// Render recorded JSON-lines traces as phase plots (SVG) and a text summary.
    Report(report::ReportArgs),
    /// Compare the spawn cost of commands: interleaved runs, a run-level 95% interval for
    /// the wall-time ratio, and the phases that carry the difference.
    Compare(compare::CompareArgs),
    /// Run CMD through a spawn-fast strategy with inherited stdio and exit with its status
    /// (128 + signal when killed).
    Run(run::RunArgs),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .init();
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Trace(a) => trace::run(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::Workload(a) => workload::run(a),
        Cmd::Record(a) => live::record(&a),
        Cmd::Top(a) => live::top(&a),
        Cmd::Serve(a) => live::serve(&a),
        Cmd::Report(a) => report::run(&a).map(|()| 0),
        Cmd::Compare(a) => compare::run(&a),
        Cmd::Run(a) => run::run(a),
    };
    match res {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("spawnprof: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Durations on the command line, human style.
fn duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 5ms, 250us, 1s)"))
}

/// `CMD ARGS...` at the end of a command line (everything after it is CMD's).
#[derive(clap::Args, Debug)]
struct CmdLine {
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<OsString>,
}

impl CmdLine {
    /// Program and arguments (clap guarantees at least one word).
    fn split(mut self) -> (OsString, Vec<OsString>) {
        let program = self.command.remove(0);
        (program, self.command)
    }
}
