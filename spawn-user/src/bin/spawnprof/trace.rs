//! `spawnprof trace CMD...`: run a command under the probes, one record per spawn in its tree.
use std::{
    fs::File,
    io::{self, BufWriter, Write},
    path::PathBuf,
};

use anyhow::Context as _;
use spawn_analysis::{report::Format, tree::text::TextOptions};
use spawn_user::session::{self, TraceError, TraceOptions};

use crate::{CmdLine, duration};

/// Run CMD and report one record per spawn in it and all its descendants.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// One JSON object per spawn (schema in the README).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row.
    #[arg(long)]
    pub csv: bool,
    /// Write records here instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Do not record page faults.
    #[arg(long)]
    pub no_faults: bool,
    /// Do not attach the ld.so/libc startup uprobes.
    #[arg(long)]
    pub no_startup: bool,
    /// Measure the `prep` phase with a uprobe on spawn-fast's spawn entry mark in CMD
    /// (when CMD links spawn-fast). Costs one uprobe hit (~15 µs here) per spawn.
    #[arg(long)]
    pub prep: bool,
    /// Report each probe's hits and BPF run time, as the kernel counts them (BPF run-time
    /// statistics, on for the session only; each hit then pays two extra clock reads).
    #[arg(long)]
    pub probe_stats: bool,
    /// Attach no syscall tracepoint (see `record --help`): fewer phases, no tax on the
    /// host's syscalls.
    #[arg(long)]
    pub no_syscall_tracepoints: bool,
    /// Print the spawns as a tree (who spawned whom, each with its times and its
    /// subtree's totals) instead of one table row per spawn.
    #[arg(long)]
    pub tree: bool,
    /// With --tree: fold spawns whose whole subtree took less than this (e.g. 5ms) into
    /// one "+N more" line per parent.
    #[arg(long, value_name = "DURATION", requires = "tree", value_parser = duration)]
    pub min_total: Option<std::time::Duration>,
    #[command(flatten)]
    pub command: CmdLine,
}

pub fn run(a: TraceArgs) -> anyhow::Result<u8> {
    let format = if a.json {
        Format::Json
    } else if a.csv {
        Format::Csv
    } else {
        Format::Table
    };
    let out: Box<dyn Write + Send> = match &a.output {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(io::stdout()),
    };
    let (program, args) = a.command.split();
    let opts = TraceOptions {
        format,
        faults: !a.no_faults,
        startup: !a.no_startup,
        prep: a.prep,
        probe_stats: a.probe_stats,
        no_syscall_tracepoints: a.no_syscall_tracepoints,
        tree: a.tree.then(|| TextOptions {
            min_total_ns: a.min_total.map_or(0, |d| d.as_nanos() as u64),
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
