//! `cargo xtask matrix`: spawn-user's root integration tests on the kernels users run
//! (Debian's 5.10, 6.1 and 6.12) and on the host, as one kernel x test
//! table. Kernels come from Debian's archive through a private apt setup ([`fetch`]), boot
//! under qemu through virtme-ng with the host's root shared ([`boot`]), and run the test
//! binaries built once on the host ([`suite`]).

mod boot;
mod debian;
mod fetch;
mod libtest;
mod suite;
mod table;
mod tools;

use std::{
    fs,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use clap::Args as ClapArgs;

use self::table::Column;
use crate::setup;
use crate::util::{self, report};

#[derive(ClapArgs)]
pub struct Args {
    /// Kernels to boot, comma-separated, from 5.10, 6.1, 6.12 (default: all).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub kernels: Vec<String>,
    /// Only the smoke test (tests whose name contains `smoke`).
    #[arg(long)]
    pub smoke: bool,
    /// Only tests whose name contains NAME (repeatable; libtest's substring filter).
    #[arg(long, value_name = "NAME")]
    pub filter: Vec<String>,
    /// Give each kernel this many seconds to boot and run its tests (default: 300 with
    /// --smoke, else 3600; TCG is slow).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Kill a test binary after this many seconds, losing only its remaining tests (default:
    /// 240 with --smoke, else 900).
    #[arg(long, value_name = "SECS")]
    pub binary_timeout: Option<u64>,
    /// Leave out the host column.
    #[arg(long)]
    pub no_host: bool,
    /// Boot with TCG without trying KVM first.
    #[arg(long)]
    pub tcg: bool,
    /// Only fetch the kernels and install what booting needs.
    #[arg(long)]
    pub fetch_only: bool,
    /// Ask the suites for their newest kernels even when some are cached.
    #[arg(long)]
    pub refresh: bool,
}

pub fn run(args: &Args) -> Result<u8> {
    let start = Instant::now();
    let kernels = selected(&args.kernels)?;
    tools::ensure()?;
    let cache = fetch::cache_dir();
    let mut fetched = Vec::new();
    for kernel in kernels {
        let f = fetch::ensure(kernel, &cache, args.refresh)?;
        fetch::install_modules(&f)?;
        fetched.push(f);
    }
    println!("[ok] kernels ready in {}", util::secs(start.elapsed()));
    if args.fetch_only {
        return Ok(0);
    }
    // Building spawn-ebpf needs bpf-linker, the host column needs root, BTF and tracefs.
    setup::run(None)?;
    let mut filters = args.filter.clone();
    if args.smoke {
        filters.push("smoke".to_owned());
    }
    let (timeout, bin_timeout) = if args.smoke { (300, 240) } else { (3600, 900) };
    let plan = Plan {
        bins: suite::build()?,
        filters,
        timeout: Duration::from_secs(args.timeout.unwrap_or(timeout)),
        bin_timeout: args.binary_timeout.unwrap_or(bin_timeout),
        work: util::target_dir().join("matrix"),
    };
    fs::create_dir_all(&plan.work)?;

    let mut columns = Vec::new();
    if let Some(first) = fetched.first() {
        let accel = boot::choose_accel(&first.vmlinuz, &plan.work, &cache, args.tcg)?;
        for f in &fetched {
            let run_start = Instant::now();
            let column = plan.run_kernel(f, accel)?;
            summarize(&column, run_start.elapsed());
            columns.push(column);
        }
    }
    if !args.no_host {
        let run_start = Instant::now();
        let column = plan.run_host()?;
        summarize(&column, run_start.elapsed());
        columns.push(column);
    }
    let (text, failed) = table::render(&columns);
    println!("\n{text}");
    println!("total {}", util::secs(start.elapsed()));
    Ok(u8::from(failed))
}

/// The kernels `--kernels` names, in the matrix's order.
fn selected(labels: &[String]) -> Result<Vec<fetch::Kernel>> {
    if labels.is_empty() {
        return Ok(fetch::KERNELS.to_vec());
    }
    for label in labels {
        if !fetch::KERNELS.iter().any(|k| k.label == label) {
            let known: Vec<&str> = fetch::KERNELS.iter().map(|k| k.label).collect();
            bail!(
                "unknown kernel `{label}` in --kernels; known: {}",
                known.join(", ")
            );
        }
    }
    Ok(fetch::KERNELS
        .into_iter()
        .filter(|k| labels.iter().any(|l| l == k.label))
        .collect())
}

/// What every column runs, and where its files go.
struct Plan {
    bins: Vec<suite::TestBin>,
    filters: Vec<String>,
    /// For a whole kernel column: boot, every binary, shutdown.
    timeout: Duration,
    /// For one test binary, in seconds (coreutils' `timeout` inside the script).
    bin_timeout: u64,
    /// `target/matrix`: per column a dir with the script, its `out/` and the console log.
    work: PathBuf,
}

impl Plan {
    /// Boots `f` and runs the script inside; the guest writes its results into `out/`, the
    /// console (kernel lines and all) goes to `console.log` next to it.
    fn run_kernel(&self, f: &fetch::Fetched, accel: boot::Accel) -> Result<Column> {
        let kver = f.image.kver();
        let (out, script) = self.prepare(f.label)?;
        let log = self.work.join(f.label).join("console.log");
        let name = accel.name();
        println!(
            "==> {} ({kver}, {name}): console in {}",
            f.label,
            log.display()
        );
        let script = format!("sh {}", suite::sh(&script.to_string_lossy()));
        let mut cmd = boot::vng(&f.vmlinuz, &out, accel, &script);
        let exit = boot::run_logged(&mut cmd, &log, self.timeout)?;
        let mut column = suite::collect(f.label, &self.bins, &out, Some(kver));
        if exit.is_none() {
            let why = format!(
                "killed at the {} s timeout (console: {})",
                self.timeout.as_secs(),
                log.display()
            );
            column.problem = Some(match column.problem {
                Some(p) => format!("{why}; {p}"),
                None => why,
            });
        }
        Ok(column)
    }

    /// The same script straight on the host, for the column to compare against.
    fn run_host(&self) -> Result<Column> {
        let (out, script) = self.prepare("host")?;
        println!("==> host: {}", script.display());
        let log = self.work.join("host").join("log");
        let exit = boot::run_logged(Command::new("sh").arg(&script), &log, self.timeout)?;
        let mut column = suite::collect("host", &self.bins, &out, None);
        if exit.is_none() {
            let secs = self.timeout.as_secs();
            column.problem = Some(format!("killed at the {secs} s timeout"));
        }
        Ok(column)
    }

    /// A fresh `out/` and the script for column `label`; returns both paths.
    fn prepare(&self, label: &str) -> Result<(PathBuf, PathBuf)> {
        let dir = self.work.join(label);
        let out = dir.join("out");
        if out.exists() {
            fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
        }
        fs::create_dir_all(&out)?;
        let script = dir.join("run.sh");
        let text = suite::script(&self.bins, &self.filters, &out, self.bin_timeout);
        fs::write(&script, text)?;
        Ok((out, script))
    }
}

/// One line per column before the table: how many tests ran, failed, and how long it took.
/// (Why a column is incomplete is in the notes under the table.)
fn summarize(column: &Column, elapsed: Duration) {
    let failed = column
        .results
        .iter()
        .filter(|(_, o)| matches!(o, libtest::Outcome::Failed(_)))
        .count();
    let tag = if failed == 0 && column.problem.is_none() {
        "ok"
    } else {
        "FAIL"
    };
    let line = format!(
        "{}: {} tests, {failed} failed, {}{}",
        column.label,
        column.results.len(),
        util::secs(elapsed),
        if column.problem.is_some() {
            ", incomplete"
        } else {
            ""
        }
    );
    report(tag, line);
}
