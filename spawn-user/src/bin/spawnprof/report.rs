//! `spawnprof report TRACE.jsonl...`: recorded traces in, the files of
//! `spawn_analysis::plot::files` out, the summary printed.
use std::fs;
use std::path::PathBuf;

use spawn_analysis::plot::BarsBy;
use spawn_analysis::plot::files::{read_trace, write, write_tree};
use spawn_analysis::plot::timeline::TimelineOptions;
use spawn_analysis::tree::{Tree, text, verdict};

use crate::duration;

/// `spawnprof report TRACE.jsonl... [-o DIR] [--by program|file|clone]`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// JSON-lines traces written by `spawnprof trace --json` (or `record`).
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
    /// Directory for phases.svg, faults.svg, timeline.svg, phases.csv, tree.txt and
    /// summary.txt.
    #[arg(short, long, default_value = "spawnprof-report")]
    pub output: PathBuf,
    /// One bar per program, per input file, or per clone call and flags. Default: per file
    /// when several files are given, else per program.
    #[arg(long)]
    pub by: Option<BarsBy>,
    /// Chart title (default: the file names).
    #[arg(long)]
    pub title: Option<String>,
    /// Only print each trace's spawn tree (as `trace --tree` does); write no files.
    #[arg(long)]
    pub tree: bool,
    /// With --tree: fold spawns whose whole subtree took less than this (e.g. 5ms). In
    /// timeline.svg: give no row of its own to such a spawn.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub min_total: Option<std::time::Duration>,
}

/// Reads the traces, writes the report, prints the summary and the files written.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let traces = args
        .traces
        .iter()
        .map(|p| read_trace(p))
        .collect::<Result<Vec<_>, _>>()?;
    let min_total_ns = args.min_total.map_or(0, |d| d.as_nanos() as u64);
    if args.tree {
        for t in &traces {
            if traces.len() > 1 {
                println!("{}:", t.stem);
            }
            let tree = Tree::from_records(&t.records);
            print!(
                "{}",
                text::render(&tree, text::TextOptions { min_total_ns })
            );
            print!("{}", verdict::render(&tree, 5));
        }
        return Ok(());
    }
    let by = args.by.unwrap_or(if traces.len() > 1 {
        BarsBy::File
    } else {
        BarsBy::Program
    });
    let title = args.title.clone().unwrap_or_else(|| {
        let stems: Vec<&str> = traces.iter().map(|t| t.stem.as_str()).collect();
        stems.join(", ")
    });
    let mut w = write(&traces, by, &title, &args.output)?;
    let opts = TimelineOptions {
        min_ns: min_total_ns,
        ..Default::default()
    };
    let mut notes = Vec::new();
    for t in &traces {
        let (files, note) = write_tree(t, traces.len() > 1, &title, &opts, &args.output)?;
        notes.push(note);
        w.files.extend(files);
    }
    print!("{}", fs::read_to_string(args.output.join("summary.txt"))?);
    println!();
    for n in notes {
        println!("{n}");
    }
    for f in &w.files {
        println!("wrote {}", f.display());
    }
    Ok(())
}
