//! `cargo xtask experiment NAME [--quick] [--out DIR]`: reproducible experiments, each written
//! to `DIR/NAME/` (default `reports/NAME/`) as README.md, data, env.json and SVG plots.
//!
//! The pattern is the same everywhere: build spawnprof and the release worker, measure in the
//! worker (untraced for timings, under `spawnprof trace` for the phase split), in repeated
//! passes of alternating order, then summarise with medians, p10/p90 and 95% intervals over
//! runs (`spawn_analysis::stats`: one value per run, never spawns pooled across runs), plot,
//! and write the report.

mod concurrency;
mod ctx;
mod env;
mod fork_road;
mod index;
mod md;
mod overhead;
mod overhead_host;
mod phases;
mod plot;
mod runs;
mod templates;
mod trace;
pub mod worker;

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::util;

pub use ctx::Ctx;

/// Every experiment, in the order `all` runs them.
pub const NAMES: [&str; 5] = [
    "fork-in-the-road",
    "phases",
    "templates",
    "overhead",
    "concurrency",
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// fork-in-the-road, phases, templates, overhead, concurrency, or all.
    name: String,
    /// Tiny counts: every experiment runs in under 3 minutes (checks that it still works;
    /// the numbers are not worth quoting).
    #[arg(long)]
    quick: bool,
    /// Where the reports go (one directory per experiment).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Seed of the bootstrap resampling.
    #[arg(long, default_value_t = 20261129)]
    seed: u64,
}

/// What an experiment hands back for the index.
pub struct Outcome {
    /// The one-line answer, also in README.md and data.json.
    pub answer: String,
}

pub fn run(args: &Args) -> Result<()> {
    let names: Vec<&str> = match args.name.as_str() {
        "all" => NAMES.to_vec(),
        n if NAMES.contains(&n) => vec![n],
        other => bail!(
            "unknown experiment {other:?}: expected one of {} or all",
            NAMES.join(", ")
        ),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!("experiments load eBPF probes and need root; run `cargo xtask setup` as root first");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| util::repo_root().join("reports"));
    let tools = ctx::build()?;
    for name in names {
        let ctx = Ctx::new(name, args.quick, &out, args.seed, &tools)?;
        let started = std::time::Instant::now();
        println!(
            "==> experiment {name}{}",
            if args.quick { " (quick)" } else { "" }
        );
        let outcome = match name {
            "fork-in-the-road" => fork_road::run(&ctx)?,
            "phases" => phases::run(&ctx)?,
            "templates" => templates::run(&ctx)?,
            "overhead" => overhead::run(&ctx)?,
            "concurrency" => concurrency::run(&ctx)?,
            _ => unreachable!("names were checked above"),
        };
        ctx.finish();
        println!(
            "[ok] {name} in {}: {}\n     report: {}",
            util::secs(started.elapsed()),
            outcome.answer,
            ctx.dir.join("README.md").display()
        );
    }
    index::write(&out)?;
    Ok(())
}
