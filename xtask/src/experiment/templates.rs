//! `templates`: the spawn-templates claim (+2.26%, +3.49%, +4.99%, +2.00% calls/s for worker
//! splits 1x16, 2x8, 4x4, 8x2 with 16 tool calls in flight) re-tested in user space: the same
//! splits and a comparable tool mix, std-style spawning against `spawn_fast::Template`.

use std::{
    fmt::Write as _,
    fs,
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use serde_json::json;

use spawn_analysis::stats::{self, Interval, Summary, Verdict};

use super::{
    Ctx, Outcome,
    ctx::Report,
    md, plot,
    worker::{Job, ToolsJob, ToolsOut},
};

/// (workers, calls in flight per worker): 16 in flight in total.
const SPLITS: [(usize, usize); 4] = [(1, 16), (2, 8), (4, 4), (8, 2)];
/// The claim's gains, per split, in percent.
const CLAIMED: [f64; 4] = [2.26, 3.49, 4.99, 2.00];
const MODES: [&str; 2] = ["std", "template"];

/// The tool mix, run in the fixture directory. `rg` is not installed here: `grep -r` stands
/// in for it. Python is called by its real path: the `python3` on PATH is a pyenv shell shim,
/// which would measure pyenv, not a spawn.
fn tools() -> Vec<Vec<String>> {
    let t: &[&[&str]] = &[
        &["grep", "-rn", "spawn", "."],
        &["sed", "-n", "1,20p", "notes.txt"],
        &["awk", "{n += NF} END {print n}", "notes.txt"],
        &["cat", "notes.txt"],
        &["head", "-n", "5", "notes.txt"],
        &["tail", "-n", "5", "notes.txt"],
        &["find", ".", "-name", "*.txt"],
        &["stat", "notes.txt"],
        &["ls", "-la"],
        // No optional locks: concurrent `git status` would fail on index.lock otherwise.
        &["git", "--no-optional-locks", "status", "--short"],
        &["git", "diff", "--stat"],
        &["/usr/bin/python3", "-c", "pass"],
        &["sh", "-c", "echo spawn"],
        &["bash", "-c", "echo spawn"],
    ];
    t.iter()
        .map(|a| a.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// A small work tree the tools read: text files and a git repository with one change.
fn fixture(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir.join("src"))?;
    let mut notes = String::new();
    for i in 0..200 {
        let _ = writeln!(
            notes,
            "line {i}: spawn a process, wait for it, read its output"
        );
    }
    fs::write(dir.join("notes.txt"), &notes)?;
    for i in 0..20 {
        fs::write(dir.join("src").join(format!("f{i}.txt")), &notes[..2000])?;
    }
    let git = |args: &[&str]| -> Result<()> {
        let st = Command::new("git")
            .args(["-c", "user.name=xtask", "-c", "user.email=xtask@localhost"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running git for the fixture")?;
        if !st.success() {
            bail!("git {args:?} failed in the fixture");
        }
        Ok(())
    };
    git(&["init", "-q"])?;
    git(&["add", "."])?;
    git(&["commit", "-qm", "fixture"])?;
    fs::write(dir.join("notes.txt"), format!("{notes}one more line\n"))?;
    Ok(())
}

#[derive(Serialize)]
struct SplitResult {
    split: String,
    claimed_pct: f64,
    calls_per_s: Vec<(String, Summary)>,
    /// (template/std calls/s - 1) x 100 per repetition (both ran back to back): the median
    /// over repetitions with its 95% order-statistic interval (None below 6 repetitions).
    delta_pct: Option<Interval>,
    spawn_call: Vec<(String, Summary)>,
    call: Vec<(String, Summary)>,
    failed_calls: u64,
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let (reps, total_calls) = if ctx.quick { (2, 112) } else { (10, 896) };
    let work = ctx.scratch_file("fixture");
    fixture(&work)?;
    let tools = tools();
    // About 2 ms per call with 16 in flight on this machine.
    let est = |_: usize| (total_calls as u64 * 2) + 600;
    ctx.plan((SPLITS.len() * MODES.len() * reps) as u64 * est(0));
    // Per split and mode: calls/s of each trial, spawn-call and call latencies.
    let mut tput = vec![vec![Vec::new(); MODES.len()]; SPLITS.len()];
    let mut spawn_ns = vec![vec![Vec::new(); MODES.len()]; SPLITS.len()];
    let mut call_ns = vec![vec![Vec::new(); MODES.len()]; SPLITS.len()];
    // Median spawn-call time of each trial, per mode: one value per (repetition, split) block.
    let mut spawn_runs: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut failed = vec![0u64; SPLITS.len()];
    let mut csv = String::from("rep,split,mode,calls,failed,elapsed_ns\n");
    for rep in 0..reps {
        for k in 0..SPLITS.len() {
            let s = (k + rep) % SPLITS.len();
            // Which mode goes first alternates between repetitions.
            for m in [rep % 2, 1 - rep % 2] {
                let (w, inflight) = SPLITS[s];
                let outs = trial(ctx, &tools, &work, MODES[m], w, inflight, total_calls)?;
                let start = outs.iter().map(|o| o.t_start).min().unwrap_or(0);
                let end = outs.iter().map(|o| o.t_end).max().unwrap_or(0);
                let calls: u64 = outs.iter().map(|o| o.calls).sum();
                let fails: u64 = outs.iter().map(|o| o.failed).sum();
                tput[s][m].push(calls as f64 / ((end - start) as f64 / 1e9));
                let trial_spawn: Vec<f64> = outs
                    .iter()
                    .flat_map(|o| o.spawn_ns.iter().map(|&v| v as f64))
                    .collect();
                spawn_runs[m].push(stats::median(&trial_spawn));
                for o in &outs {
                    spawn_ns[s][m].extend(o.spawn_ns.iter().map(|&v| v as f64));
                    call_ns[s][m].extend(o.call_ns.iter().map(|&v| v as f64));
                }
                failed[s] += fails;
                let _ = writeln!(
                    csv,
                    "{rep},{w}x{inflight},{},{calls},{fails},{}",
                    MODES[m],
                    end - start
                );
                ctx.done(
                    est(0),
                    &format!("rep {}/{reps}: {w}x{inflight} {}", rep + 1, MODES[m]),
                );
            }
        }
    }
    ctx.write_text("trials.csv", &csv)?;
    let results: Vec<SplitResult> = SPLITS
        .iter()
        .enumerate()
        .map(|(s, (w, k))| {
            // Paired by repetition: both styles of a split run back to back, so the ratio of
            // each pair cancels the machine's drift; the interval is over the pairs' median.
            let ratio = stats::paired_ratio(&tput[s][1], &tput[s][0]);
            let pct = |v: f64| (v - 1.0) * 100.0;
            let per_mode = |v: &Vec<Vec<f64>>| {
                MODES
                    .iter()
                    .enumerate()
                    .map(|(m, n)| (n.to_string(), stats::summary(&v[m])))
                    .collect()
            };
            SplitResult {
                split: format!("{w}x{k}"),
                claimed_pct: CLAIMED[s],
                calls_per_s: per_mode(&tput[s]),
                delta_pct: ratio.map(|r| r.map(pct)),
                spawn_call: per_mode(&spawn_ns[s]),
                call: per_mode(&call_ns[s]),
                failed_calls: failed[s],
            }
        })
        .collect();
    // The spawn call itself, std against template: one paired difference of trial medians per
    // (repetition, split) block, in the order they ran.
    let spawn_diff = stats::paired_diff(&spawn_runs[0], &spawn_runs[1]);
    let calls_all: Vec<f64> = call_ns.iter().flat_map(|v| v[0].clone()).collect();
    let drift = md::drift(
        "calls/s",
        &SPLITS
            .iter()
            .enumerate()
            .flat_map(|(s, (w, k))| {
                MODES
                    .iter()
                    .enumerate()
                    .map(move |(m, mode)| (format!("{mode} {w}x{k}"), s, m))
            })
            .map(|(label, s, m)| (label, tput[s][m].clone()))
            .collect::<Vec<_>>(),
    );
    write_report(
        ctx,
        Shape { reps, total_calls },
        &tools,
        &results,
        spawn_diff,
        stats::median(&calls_all),
        drift,
    )
}

/// One trial: W workers started together, each with `inflight` calling threads.
fn trial(
    ctx: &Ctx,
    tools: &[Vec<String>],
    work: &Path,
    mode: &str,
    workers: usize,
    inflight: usize,
    total_calls: usize,
) -> Result<Vec<ToolsOut>> {
    // Start far enough ahead that every worker is up and has prepared its templates.
    let start_ns = spawn_fast::monotonic_ns() + 300_000_000 + workers as u64 * 20_000_000;
    let calls = total_calls / workers / inflight;
    let mut running = Vec::new();
    for _ in 0..workers {
        let out = ctx.scratch_file("tools.json");
        let job = Job::Tools(ToolsJob {
            out: out.clone(),
            mode: mode.into(),
            threads: inflight,
            calls,
            tools: tools.to_vec(),
            cwd: work.to_path_buf(),
            start_ns,
        });
        let child = Command::new(&ctx.tools.worker)
            .arg("experiment-worker")
            .arg(serde_json::to_string(&job)?)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting a templates worker")?;
        running.push((child, out));
    }
    let mut outs = Vec::new();
    for (child, out) in running {
        let o = child.wait_with_output()?;
        if !o.status.success() {
            bail!(
                "templates worker failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
        outs.push(serde_json::from_slice(&fs::read(&out)?)?);
    }
    Ok(outs)
}

/// How many repetitions and calls per trial.
struct Shape {
    reps: usize,
    total_calls: usize,
}

fn write_report(
    ctx: &Ctx,
    Shape { reps, total_calls }: Shape,
    tools: &[Vec<String>],
    r: &[SplitResult],
    spawn_diff: Option<Interval>,
    call_median: f64,
    drift: String,
) -> Result<Outcome> {
    let labels: Vec<String> = r.iter().map(|s| s.split.clone()).collect();
    let series: Vec<plot::Series> = MODES
        .iter()
        .enumerate()
        .map(|(m, name)| plot::Series {
            name: if *name == "std" {
                "std::process::Command".into()
            } else {
                "spawn_fast::Template".into()
            },
            points: r
                .iter()
                .enumerate()
                .map(|(i, s)| plot::Point::spread(i, &s.calls_per_s[m].1, 1.0))
                .collect(),
        })
        .collect();
    plot::bars(
        &ctx.dir.join("calls-per-s.svg"),
        &plot::Chart {
            title: "Tool calls per second, 16 in flight",
            x_desc: "workers x calls in flight per worker",
            y_desc: "calls per second (median of trials, p10–p90)",
            x_labels: &labels,
            log_y: false,
        },
        &series,
    )?;
    let delta = vec![
        plot::Series {
            name: "measured (template vs std)".into(),
            points: r
                .iter()
                .enumerate()
                .map(|(i, s)| plot::Point::interval(i, s.delta_pct))
                .collect(),
        },
        plot::Series {
            name: "claimed (kernel templates)".into(),
            points: r
                .iter()
                .enumerate()
                .map(|(i, s)| plot::Point::exact(i, s.claimed_pct))
                .collect(),
        },
    ];
    plot::lines(
        &ctx.dir.join("delta.svg"),
        &plot::Chart {
            title: "Gain of templates in calls/s (95% CI) against the claim",
            x_desc: "workers x calls in flight per worker",
            y_desc: "change in calls per second (%)",
            x_labels: &labels,
            log_y: false,
        },
        &delta,
    )?;
    let rows: Vec<Vec<String>> = r
        .iter()
        .map(|s| {
            let t = |m: usize| {
                let x = &s.calls_per_s[m].1;
                format!("{:.0} ({:.0}–{:.0})", x.median, x.p10, x.p90)
            };
            vec![
                format!("{}", s.split),
                t(0),
                t(1),
                md::pct(s.delta_pct),
                format!("{:+.2}%", s.claimed_pct),
                format!(
                    "{} / {}",
                    md::dur(s.spawn_call[0].1.median),
                    md::dur(s.spawn_call[1].1.median)
                ),
                format!(
                    "{} / {}",
                    md::dur(s.call[0].1.median),
                    md::dur(s.call[1].1.median)
                ),
                s.failed_calls.to_string(),
            ]
        })
        .collect();
    let results = format!(
        "{}\n{}{}",
        md::table(
            &[
                "split (workers x in flight)",
                "std calls/s (p10–p90)",
                "template calls/s (p10–p90)",
                "delta, paired [95% CI]",
                "claimed",
                "spawn call median std / template",
                "call median std / template",
                "failed calls",
            ],
            &rows
        ),
        md::figure(
            "calls-per-s.svg",
            "Calls per second per split and spawning style"
        ),
        md::figure(
            "delta.svg",
            "Measured gain with its 95% interval, and the claimed gain"
        )
    );
    let deltas: Vec<String> = r
        .iter()
        .map(|s| format!("{} {}", s.split, md::pct(s.delta_pct)))
        .collect();
    let (verdict, per_split) = claim_verdict(r);
    let slowest = r.iter().max_by(|a, b| {
        a.spawn_call[0]
            .1
            .median
            .total_cmp(&b.spawn_call[0].1.median)
    });
    let spawn_words = match stats::verdict(spawn_diff.as_ref(), 0.0) {
        Verdict::Higher => format!(
            "The spawn call itself (API entry to return) is shorter with templates by {} (std minus template, median over repetition x split blocks of each trial's median, 95% interval over blocks); that saving is {:.1}% of a whole std call (median {})",
            md::diff(spawn_diff),
            100.0 * spawn_diff.map_or(f64::NAN, |d| d.point) / call_median,
            md::dur(call_median),
        ),
        Verdict::Lower => format!(
            "The spawn call itself is longer with templates by {} (template minus std); a whole std call takes {} (median)",
            md::diff(spawn_diff.map(md::negate)),
            md::dur(call_median),
        ),
        Verdict::NoDifference => format!(
            "For the spawn call itself, {}; a whole std call takes {} (median)",
            stats::no_difference("std", "template", &md::diff(spawn_diff), "0"),
            md::dur(call_median),
        ),
        Verdict::TooFewRuns => format!(
            "The spawn call itself: {}",
            stats::too_few_runs(reps * SPLITS.len())
        ),
    };
    let answer = format!(
        "{verdict} Templates against std-style spawning change calls/s by {} (claim: {}). Per split: {}. \
         {spawn_words}. The std spawn call is slowest in the {} split ({} vs {} for templates).",
        deltas.join(", "),
        CLAIMED
            .iter()
            .zip(SPLITS)
            .map(|(c, (w, k))| format!("{w}x{k} +{c:.2}%"))
            .collect::<Vec<_>>()
            .join(", "),
        per_split.join("; "),
        slowest.map_or("n/a".into(), |s| s.split.clone()),
        slowest.map_or("n/a".into(), |s| md::dur(s.spawn_call[0].1.median)),
        slowest.map_or("n/a".into(), |s| md::dur(s.spawn_call[1].1.median)),
    );
    let (lo_claim, hi_claim) = CLAIMED
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &c| {
            (a.min(c), b.max(c))
        });
    let one_line = format!(
        "{verdict} Templates vs std: {} calls/s (claim +{lo_claim:.2}% to +{hi_claim:.2}%)",
        deltas.join(", "),
    );
    let params = json!({
        "splits": SPLITS.iter().map(|(w, k)| format!("{w}x{k}")).collect::<Vec<_>>(),
        "claimed_pct": CLAIMED,
        "repetitions": reps,
        "calls_per_trial": total_calls,
        "tools": tools,
        "interval": "order statistics of per-repetition paired ratios, 95%",
    });
    let mix: Vec<String> = tools.iter().map(|t| format!("`{}`", t.join(" "))).collect();
    let widths: Vec<f64> = r
        .iter()
        .filter_map(|s| s.delta_pct.map(|d| d.high - d.low))
        .collect();
    let (w_lo, w_hi) = widths
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &w| {
            (a.min(w), b.max(w))
        });
    let coverage = r
        .iter()
        .find_map(|s| s.delta_pct)
        .map_or("no interval".into(), |d| {
            format!("exact coverage {:.1}%", 100.0 * d.coverage)
        });
    let resolution = if widths.is_empty() {
        "there are no intervals to judge the claim by".to_string()
    } else if w_hi > lo_claim {
        format!(
            "intervals {w_lo:.1} to {w_hi:.1} percentage points wide cannot always tell a gain of the claimed size ({lo_claim:.2}% to {hi_claim:.2}%) from none; more repetitions would narrow them"
        )
    } else {
        format!(
            "the intervals are {w_lo:.1} to {w_hi:.1} percentage points wide, narrower than the smallest claimed gain ({lo_claim:.2}%)"
        )
    };
    let spawn_share = 100.0 * r.iter().map(|s| s.spawn_call[0].1.median).sum::<f64>()
        / r.iter().map(|s| s.call[0].1.median).sum::<f64>();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    ctx.publish(Report {
        title: "templates: the spawn-templates claim, in user space",
        question: "A spawn-templates proposal claims +2.26%, +3.49%, +4.99% and +2.00% more tool calls per second for worker splits 1x16, 2x8, 4x4 and 8x2 (16 tool calls in flight) on a mix of rg/grep/sed/awk/cat/head/tail/find/stat/ls/git status/git diff/python -c/sh -c/bash -c. With the same splits and a comparable mix, does preparing each tool once (`spawn_fast::Template`) instead of std-style spawning (`std::process::Command` built per call) give such a gain in user space, and where does it come from?".into(),
        answer,
        one_line,
        method: format!(
            "A fixture directory holds 21 small text files and a git repository with one uncommitted change. The mix has {} tools: {}. \
             A split WxK starts W release worker processes together (they sleep until a common start time); each runs K threads, and each thread calls the tools in turn (offset by its index), spawning and waiting, so 16 calls are in flight. \
             `std`: a `std::process::Command` is built per call (program looked up in PATH by the child, stdout/stderr to /dev/null). `template`: each worker prepares one `spawn_fast::Template` per tool (Auto strategy, PATH resolved once, stdout/stderr /dev/null) and every call spawns from it. \
             {total_calls} calls per trial; calls/s = calls / (last worker end - common start). {reps} repetitions; in each, the splits run in rotated order and the two styles in alternating order. \
             The two styles of a split run back to back in each repetition; the delta is the median over repetitions of (template calls/s / std calls/s) - 1, with its 95% order-statistic interval over the repetitions (the runs; at least {} are needed, fewer give n/a). \
             The claim counts as confirmed when every split's interval lies above 0 and contains the claimed gain; as ruled out for a split when its interval excludes the claimed gain. The spawn-call time (API entry to return) and call time (entry to wait return) are recorded per call.",
            tools.len(),
            mix.join(", "),
            stats::MIN_RUNS
        ),
        results,
        machine_note: format!(
            "With 16 calls in flight on {cores} cores, calls queue for a CPU, and other agents' work lands in some trials more than in others."
        ),
        limits: vec![
            format!(
                "With {reps} repetitions each interval is the order-statistic interval of {reps} paired ratios ({coverage}); {resolution}."
            ),
            drift,
            "The claim is about kernel-side templates (a prepared exec); this measures the user-space analogue only. What a kernel template saves inside exec (path lookup, ELF parsing, mapping) is not reproducible from user space and is not measured here.".into(),
            format!(
                "`rg` is not installed here; `grep -rn` stands in for it. The claim's exact inputs are unknown; the fixture is small, so the tools finish quickly: the std spawn call is {spawn_share:.0}% of a whole std call here (medians summed over the splits), more than it would be on a large repository."
            ),
        ],
        files: vec![
            ("data.json", "per split: calls/s per style, delta with interval, spawn-call and call latencies"),
            ("trials.csv", "every trial: repetition, split, style, calls, failures, elapsed ns"),
            ("calls-per-s.svg", "calls per second per split and style"),
            ("delta.svg", "measured gain with interval against the claim"),
        ],
        params,
        data: json!({"results": r, "spawn_call_std_minus_template_ns": spawn_diff, "call_median_ns": call_median}),
    })
}

/// The verdict on the claim, in words generated from the intervals: overall, and per split.
/// Confirmed only when every split's interval lies above 0; ruled out for a split when its
/// interval excludes the claimed gain.
fn claim_verdict(r: &[SplitResult]) -> (String, Vec<String>) {
    let mut per = Vec::new();
    let (mut gains, mut ruled_out, mut untested) = (0, 0, 0);
    for s in r {
        let claim = format!("{:+.2}%", s.claimed_pct);
        let shown = md::pct(s.delta_pct);
        let claim_inside = s.delta_pct.is_some_and(|d| d.contains(s.claimed_pct));
        if s.delta_pct.is_some() && !claim_inside {
            ruled_out += 1;
        }
        let inside = if claim_inside {
            format!("the claimed {claim} is inside the interval")
        } else {
            format!("the claimed {claim} is outside the interval")
        };
        per.push(match stats::verdict(s.delta_pct.as_ref(), 0.0) {
            Verdict::Higher => {
                gains += 1;
                format!("{}: templates faster, {shown}; {inside}", s.split)
            }
            Verdict::Lower => format!("{}: templates slower, {shown}; {inside}", s.split),
            Verdict::NoDifference => format!(
                "{}: {}; {inside}",
                s.split,
                stats::no_difference("template", "std", &shown, "0")
            ),
            Verdict::TooFewRuns => {
                untested += 1;
                format!(
                    "{}: {}",
                    s.split,
                    stats::too_few_runs(s.calls_per_s.first().map_or(0, |c| c.1.n))
                )
            }
        });
    }
    let n = r.len();
    let inside = r
        .iter()
        .filter(|s| s.delta_pct.is_some_and(|d| d.contains(s.claimed_pct)))
        .count();
    let overall = if untested == n {
        "The claim is not tested here: too few repetitions for an interval.".to_string()
    } else if gains == n && ruled_out == 0 {
        format!(
            "The claim is confirmed here: all {n} splits gain calls/s with templates (intervals above 0), and each claimed gain lies inside its split's interval."
        )
    } else if gains == n {
        format!(
            "A gain is confirmed here in all {n} splits (intervals above 0), but not its size: the claimed gain lies outside the interval in {ruled_out} of {n}."
        )
    } else if gains == 0 && ruled_out == 0 {
        "The claim (templates give +2-5% more calls/s) is not confirmed here, nor ruled out: no split shows a gain whose interval lies above 0, and every split's interval also contains the claimed gain (the intervals are too wide to decide).".to_string()
    } else if gains == 0 && ruled_out == n - untested {
        format!(
            "The claim is ruled out here: no split shows a gain with an interval above 0, and the claimed gain lies outside the interval in {ruled_out} of {n} splits."
        )
    } else {
        format!(
            "The claim (templates give +2-5% more calls/s) is not confirmed here: {gains} of {n} splits show a gain whose interval lies above 0; the claimed gain lies inside the interval in {inside} of {n} (not ruled out there) and outside it in {ruled_out} of {n}."
        )
    };
    (overall, per)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(name: &str, claimed: f64, ratios: &[f64]) -> SplitResult {
        let std: Vec<f64> = vec![100.0; ratios.len()];
        let tpl: Vec<f64> = ratios.iter().map(|r| 100.0 * r).collect();
        SplitResult {
            split: name.into(),
            claimed_pct: claimed,
            calls_per_s: Vec::new(),
            delta_pct: stats::paired_ratio(&tpl, &std).map(|r| r.map(|v| (v - 1.0) * 100.0)),
            spawn_call: Vec::new(),
            call: Vec::new(),
            failed_calls: 0,
        }
    }

    #[test]
    fn verdict_words_follow_the_intervals() {
        let flat = [0.99, 1.01, 1.0, 0.98, 1.02, 1.0];
        let gain = [1.03, 1.02, 1.025, 1.021, 1.03, 1.022];
        let (overall, per) =
            claim_verdict(&[split("1x16", 2.26, &flat), split("2x8", 3.49, &gain)]);
        assert!(
            overall.contains("is not confirmed here: 1 of 2"),
            "{overall}"
        );
        assert!(
            per[0].contains("no difference between template and std"),
            "{}",
            per[0]
        );
        assert!(per[0].contains("outside the interval"), "{}", per[0]);
        assert!(per[1].starts_with("2x8: templates faster"), "{}", per[1]);
        // A gain whose interval holds the claimed figure confirms the claim; one that is
        // above 0 but excludes the figure confirms a gain, not the claim's size.
        let (overall, _) = claim_verdict(&[split("2x8", 2.2, &gain)]);
        assert!(
            overall.starts_with("The claim is confirmed here"),
            "{overall}"
        );
        let (overall, _) = claim_verdict(&[split("2x8", 3.49, &gain)]);
        assert!(overall.contains("but not its size"), "{overall}");
        let (overall, _) = claim_verdict(&[split("1x16", 2.26, &flat)]);
        assert!(
            overall.starts_with("The claim is ruled out here"),
            "{overall}"
        );
        let (overall, per) = claim_verdict(&[split("1x16", 2.26, &flat[..2])]);
        assert!(overall.contains("not tested"), "{overall}");
        assert!(per[0].contains("at least 6"), "{}", per[0]);
    }
}
