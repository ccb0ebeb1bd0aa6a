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
use spawn_fast::Strategy;
use spawn_user::{
    report::Format,
    session::{self, TraceError, TraceOptions},
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
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
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
        #[arg(long, default_value = "0", value_parser = workload::parse_size)]
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
    }
}

fn split(mut command: Vec<OsString>) -> (OsString, Vec<OsString>) {
    let program = command.remove(0);
    (program, command)
}
