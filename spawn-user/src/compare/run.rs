//! Measuring for `spawnprof compare`: blocks of runs, the commands in a fresh random order in
//! each block, wall time from untraced runs and phases from traced runs beside them.

use std::{
    collections::BTreeMap,
    ffi::OsString,
    io,
    path::{Path, PathBuf},
    time::Instant,
};

use rand::{SeedableRng, rngs::SmallRng, seq::SliceRandom};
use spawn_fast::{Command, Stdio, Strategy};

use super::{CompareError, CompareOptions};
use spawn_analysis::compare::{Measured, phase_medians};
use spawn_analysis::phase::Phase;
use spawn_analysis::stats::median_f64;

/// Runs every block and returns one `Measured` per command, in the order given.
pub fn measure(opts: &CompareOptions) -> Result<Vec<Measured>, CompareError> {
    let n = opts.commands.len();
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let mut out = vec![Measured::default(); n];
    for block in 0..opts.runs {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        for (pos, &i) in order.iter().enumerate() {
            out[i].order.push(pos);
            let argv = &opts.commands[i];
            let (wall, failed) = untraced_run(argv, opts.warmup, opts.spawns)?;
            out[i].wall_runs.push(wall);
            out[i].failed_spawns += failed;
        }
        if opts.phases {
            for &i in &order {
                let phases = traced_run(&opts.commands[i], opts.spawns)?;
                for (name, v) in phases {
                    out[i].phase_runs.entry(name).or_default().push(v);
                }
            }
        }
        if !opts.quiet {
            eprintln!("spawnprof compare: run {}/{} done", block + 1, opts.runs);
        }
    }
    Ok(out)
}

fn spawn_error(argv: &[String], e: io::Error) -> CompareError {
    CompareError::Spawn(argv.join(" "), e)
}

/// `warmup` spawns, then `spawns` timed spawn+wait of `argv` with stdio on /dev/null; returns
/// the median wall time and how many timed spawns failed.
fn untraced_run(
    argv: &[String],
    warmup: usize,
    spawns: usize,
) -> Result<(f64, usize), CompareError> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .strategy(Strategy::Auto)
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    let mut walls = Vec::with_capacity(spawns);
    let mut failed = 0;
    for i in 0..warmup + spawns {
        let start = Instant::now();
        let status = cmd
            .spawn()
            .and_then(|mut c| c.wait())
            .map_err(|e| spawn_error(argv, e))?;
        let wall = start.elapsed().as_nanos() as f64;
        if i >= warmup {
            walls.push(wall);
            failed += usize::from(!status.success());
        }
    }
    Ok((median_f64(&walls).unwrap_or(0.0), failed))
}

/// `spawns` spawns of `argv` under `spawnprof trace` (this binary's `workload`), and the
/// median of each phase over them. Faults are off: they cost time and compare reports phases.
fn traced_run(argv: &[String], spawns: usize) -> Result<BTreeMap<Phase, f64>, CompareError> {
    let exe = std::env::current_exe().map_err(CompareError::SelfPath)?;
    let dir = TempFile::new()?;
    let mut trace = std::process::Command::new(&exe);
    trace
        .args(["trace", "--json", "--no-faults", "-o"])
        .arg(&dir.0)
        .arg("--")
        .arg(&exe)
        .args(["workload", "--strategy", "auto", "--count"])
        .arg(spawns.to_string())
        .arg("--")
        .args(argv.iter().map(OsString::from))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let out = trace.output().map_err(CompareError::Trace)?;
    // The workload exits 1 when a spawn of the command failed; the phases are still real.
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(CompareError::TraceFailed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let text = std::fs::read_to_string(&dir.0).map_err(|e| {
        CompareError::TraceFailed(format!(
            "no trace output ({e}); exit {}; stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })?;
    Ok(phase_medians(&text))
}

/// A file name for one trace's output, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new() -> Result<Self, CompareError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "spawnprof-compare-{}-{}.jsonl",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Ok(TempFile(Path::new(&std::env::temp_dir()).join(name)))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
