//! What every experiment shares: the built binaries, its report directory, the worker and
//! `spawnprof` invocations, the progress bar and the environment record.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use spawn_analysis::record::SpawnRecord as Record;

use super::{Outcome, env, md, worker};
use crate::util;

/// Binaries built once per `cargo xtask experiment` call.
#[derive(Clone, Debug)]
pub struct Tools {
    pub spawnprof: PathBuf,
    pub worker: PathBuf,
    /// spawn-fast's static child that exits at once (no libc, no loader).
    pub exit0: PathBuf,
}

/// Builds spawnprof and the release worker (this crate) in cargo's normal target directory.
pub fn build() -> Result<Tools> {
    util::run(
        "building spawnprof and the experiment worker",
        util::cargo().args([
            "build",
            "--release",
            "--package",
            "spawn-user",
            "--package",
            "xtask",
        ]),
    )?;
    let release = util::target_dir().join("release");
    let tools = Tools {
        spawnprof: release.join("spawnprof"),
        worker: release.join("xtask"),
        exit0: PathBuf::from(spawn_fast::children::EXIT0),
    };
    for p in [&tools.spawnprof, &tools.worker, &tools.exit0] {
        if !p.exists() {
            bail!("{} was not built", p.display());
        }
    }
    Ok(tools)
}

pub struct Ctx {
    pub name: &'static str,
    pub quick: bool,
    pub dir: PathBuf,
    pub seed: u64,
    pub tools: Tools,
    scratch: PathBuf,
    bar: ProgressBar,
    started: Instant,
    load_before: [f64; 3],
    jobs: std::cell::Cell<u64>,
}

/// Everything one report says; [`Ctx::publish`] writes it (README.md, data.json, env.json).
pub struct Report {
    pub title: &'static str,
    pub question: String,
    /// The answer in prose, generated from the results.
    pub answer: String,
    /// The one-line answer: data.json's `answer`, the index's "answer" column.
    pub one_line: String,
    pub method: String,
    pub results: String,
    /// Appended to the first limit, which describes the machine and its load (env.json).
    pub machine_note: String,
    pub limits: Vec<String>,
    /// Files besides env.json (which every report has), with what they hold.
    pub files: Vec<(&'static str, &'static str)>,
    pub params: Value,
    /// The rest of data.json (an object); `answer`, `quick` and `params` are added to it.
    pub data: Value,
}

/// How a worker run is traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Probes {
    None,
    /// `spawnprof trace --no-faults`.
    Spawn,
    /// `spawnprof trace` (spawn and page-fault probes).
    SpawnAndFaults,
    /// `spawnprof trace --prep`: spawn and fault probes plus the uprobe on spawn-fast's
    /// entry mark, so that the time before the clone call is a phase too.
    Everything,
}

impl Ctx {
    pub fn new(name: &str, quick: bool, out: &Path, seed: u64, tools: &Tools) -> Result<Ctx> {
        let name = super::NAMES
            .iter()
            .copied()
            .find(|n| *n == name)
            .context("unknown experiment")?;
        let dir = out.join(name);
        // A rerun replaces the report: stale plots of an older run must not survive.
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let scratch =
            std::env::temp_dir().join(format!("spawnprof-exp-{}-{name}", std::process::id()));
        fs::create_dir_all(&scratch)?;
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {percent:>3}% {msg} ({elapsed}, about {eta} left)",
            )
            .expect("a valid progress template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        Ok(Ctx {
            name,
            quick,
            dir,
            seed,
            tools: tools.clone(),
            scratch,
            bar,
            started: Instant::now(),
            load_before: env::loadavg(),
            jobs: std::cell::Cell::new(0),
        })
    }

    /// Sets the planned amount of work (in any unit, e.g. estimated milliseconds).
    pub fn plan(&self, total: u64) {
        self.bar.set_length(total.max(1));
        self.bar.set_position(0);
    }

    /// Marks `work` units of the plan done, showing `what` is running.
    pub fn done(&self, work: u64, what: &str) {
        self.bar.set_message(what.to_string());
        self.bar.inc(work);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
        let _ = fs::remove_dir_all(&self.scratch);
    }

    /// The command that reproduces this report, shown at the top of it.
    pub fn rerun(&self) -> String {
        format!(
            "sudo -E env PATH=\"$PATH\" cargo xtask experiment {}{}",
            self.name,
            if self.quick { " --quick" } else { "" }
        )
    }

    pub fn scratch_file(&self, what: &str) -> PathBuf {
        let n = self.jobs.get() + 1;
        self.jobs.set(n);
        self.scratch.join(format!("{n}-{what}"))
    }

    /// Runs one worker job, traced as asked; the trace goes to `trace_to` when given (raw data
    /// of the report), else to a scratch file. Returns the worker's output and the records.
    pub fn worker<T: serde::de::DeserializeOwned>(
        &self,
        job: impl FnOnce(PathBuf) -> worker::Job,
        probes: Probes,
        trace_to: Option<&Path>,
    ) -> Result<(T, Vec<Record>)> {
        let (t, records, _) = self.worker_with(job, probes, trace_to, &[])?;
        Ok((t, records))
    }

    /// [`Ctx::worker`] with extra `spawnprof trace` options; also returns spawnprof's stderr
    /// (its summary, and the probe-cost table with `--probe-stats`).
    pub fn worker_with<T: serde::de::DeserializeOwned>(
        &self,
        job: impl FnOnce(PathBuf) -> worker::Job,
        probes: Probes,
        trace_to: Option<&Path>,
        trace_args: &[&str],
    ) -> Result<(T, Vec<Record>, String)> {
        let out = self.scratch_file("out.json");
        let job = job(out.clone());
        let job_json = serde_json::to_string(&job)?;
        let trace_file =
            trace_to.map_or_else(|| self.scratch_file("trace.jsonl"), Path::to_path_buf);
        let mut cmd = match probes {
            Probes::None => Command::new(&self.tools.worker),
            Probes::Spawn | Probes::SpawnAndFaults | Probes::Everything => {
                let mut c = Command::new(&self.tools.spawnprof);
                c.args(["trace", "--json", "-o"]).arg(&trace_file);
                if probes == Probes::Spawn {
                    c.arg("--no-faults");
                }
                if probes == Probes::Everything {
                    c.arg("--prep");
                }
                c.args(trace_args);
                c.arg("--").arg(&self.tools.worker);
                c
            }
        };
        cmd.arg("experiment-worker")
            .arg(&job_json)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let output = cmd
            .output()
            .with_context(|| format!("starting {}", util::describe(&cmd)))?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            bail!(
                "the experiment worker failed ({}): {}",
                output.status,
                stderr.trim()
            );
        }
        let result: T = serde_json::from_slice(
            &fs::read(&out).with_context(|| format!("reading {}", out.display()))?,
        )
        .context("parsing the worker's output")?;
        let records = match probes {
            Probes::None => Vec::new(),
            _ => super::trace::read(&trace_file)?,
        };
        Ok((result, records, stderr))
    }

    /// `spawnprof report` over `traces` into `dir` (the one phase-plot renderer).
    pub fn phase_report(
        &self,
        traces: &[PathBuf],
        by: &str,
        title: &str,
        dir: &Path,
    ) -> Result<()> {
        let mut cmd = Command::new(&self.tools.spawnprof);
        cmd.arg("report")
            .args(traces)
            .args(["--by", by, "--title", title, "-o"])
            .arg(dir)
            .stdout(Stdio::null());
        util::run("spawnprof report", &mut cmd)
    }

    pub fn write_json(&self, file: &str, value: &impl Serialize) -> Result<()> {
        let p = self.dir.join(file);
        fs::write(&p, serde_json::to_string_pretty(value)?)
            .with_context(|| format!("writing {}", p.display()))
    }

    pub fn write_text(&self, file: &str, text: &str) -> Result<()> {
        let p = self.dir.join(file);
        fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
    }

    /// env.json: the machine, the toolchain, the commit, the load, and every parameter.
    pub fn write_env(&self, params: Value) -> Result<env::Env> {
        let e = env::collect(self, params, self.load_before);
        self.write_json("env.json", &e)?;
        Ok(e)
    }

    /// Writes env.json, data.json and README.md of a report; the machine and its load (from
    /// env.json) are the first limit, env.json the last file.
    pub fn publish(&self, r: Report) -> Result<Outcome> {
        let env = self.write_env(r.params.clone())?;
        let mut data = serde_json::json!({
            "answer": r.one_line,
            "quick": self.quick,
            "params": r.params,
        });
        if let (Some(d), Value::Object(rest)) = (data.as_object_mut(), r.data) {
            d.extend(rest);
        }
        self.write_json("data.json", &data)?;
        let mut limits = vec![md::machine(&env, &r.machine_note)];
        limits.extend(r.limits);
        let mut files: Vec<(String, String)> = r
            .files
            .iter()
            .map(|(f, w)| (f.to_string(), w.to_string()))
            .collect();
        files.push((
            "env.json".into(),
            "machine, toolchain, commit, load, parameters, seed".into(),
        ));
        let readme = md::Readme {
            title: r.title.into(),
            rerun: self.rerun(),
            question: r.question,
            answer: r.answer,
            method: r.method,
            results: r.results,
            limits,
            files,
        };
        self.write_text("README.md", &readme.render())?;
        Ok(Outcome { answer: r.one_line })
    }

    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
