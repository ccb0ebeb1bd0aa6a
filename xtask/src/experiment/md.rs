//! Markdown pieces shared by the reports: tables, number formats, the README skeleton.

use std::fmt::Write as _;

use spawn_analysis::stats::{self, Interval, Summary, Verdict};

use super::env::Env;

/// A GitHub-flavoured table; the first column is left-aligned, the others right-aligned.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", headers.join(" | "));
    for i in 0..headers.len() {
        out.push_str(if i == 0 { "---|" } else { "---:|" });
    }
    out.push('\n');
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out
}

/// A duration given in ns, shown in µs or ms with three significant digits.
pub fn dur(ns: f64) -> String {
    if !ns.is_finite() {
        return "n/a".into();
    }
    let us = ns / 1e3;
    if us.abs() >= 10_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else if us.abs() >= 1000.0 {
        format!("{:.2} ms", us / 1e3)
    } else if us.abs() >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

/// A duration summary as `median (p10–p90)`.
pub fn dur_spread(s: &Summary) -> String {
    format!("{} ({}–{})", dur(s.median), dur(s.p10), dur(s.p90))
}

/// Shown where an interval has too few runs to exist (fewer than `stats::MIN_RUNS`).
pub const NO_INTERVAL: &str = "n/a (too few runs)";

/// `1.42× [1.31, 1.55]`.
pub fn ratio(ci: Option<Interval>) -> String {
    let Some(ci) = ci else {
        return NO_INTERVAL.into();
    };
    // Two decimals for ratios near 1, fewer for the fork-sized ones (928×, not 928.65×).
    let d = if ci.point.abs() >= 100.0 {
        0
    } else if ci.point.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{:.d$}× [{:.d$}, {:.d$}]", ci.point, ci.low, ci.high)
}

/// A signed duration: `+120 µs`.
pub fn signed_dur(v: f64) -> String {
    let d = dur(v);
    if v >= 0.0 { format!("+{d}") } else { d }
}

/// A difference in ns: `+120 µs [+90 µs, +150 µs]`.
pub fn diff(ci: Option<Interval>) -> String {
    let Some(ci) = ci else {
        return NO_INTERVAL.into();
    };
    format!(
        "{} [{}, {}]",
        signed_dur(ci.point),
        signed_dur(ci.low),
        signed_dur(ci.high)
    )
}

/// The interval of `-value` (a difference seen from the other side); bounds swap.
pub fn negate(ci: Interval) -> Interval {
    Interval {
        point: -ci.point,
        low: -ci.high,
        high: -ci.low,
        ..ci
    }
}

/// A relative change in percent: `+2.1% [-0.4%, +4.5%]`.
pub fn pct(ci: Option<Interval>) -> String {
    let Some(ci) = ci else {
        return NO_INTERVAL.into();
    };
    format!("{:+.1}% [{:+.1}%, {:+.1}%]", ci.point, ci.low, ci.high)
}

/// A comparison of `a` with `b` read from its interval in the stats module's words: `a
/// {above} b: shown` when the interval lies above `null`, `a {below} b: shown` when below,
/// the one "no difference" sentence when it contains `null`, and "too few runs" without one.
/// `shown` formats the interval (e.g. [`ratio`], [`diff`], [`pct`]).
pub fn verdict(
    ci: Option<Interval>,
    null: f64,
    (a, b): (&str, &str),
    (above, below): (&str, &str),
    shown: impl Fn(Option<Interval>) -> String,
) -> String {
    match stats::verdict(ci.as_ref(), null) {
        Verdict::Higher => format!("{a} {above} {b}: {}", shown(ci)),
        Verdict::Lower => format!("{a} {below} {b}: {}", shown(ci)),
        Verdict::NoDifference => stats::no_difference(a, b, &shown(ci), &num(null)),
        Verdict::TooFewRuns => format!("{a} against {b}: {}", NO_INTERVAL),
    }
}

/// `s` with its first letter in upper case (the stats words start in lower case).
pub fn sentence(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// A ratio of times (`a / b`): "a is slower than b: 1.36× [1.32, 1.38]" or "no difference".
pub fn time_ratio(ci: Option<Interval>, a: &str, b: &str) -> String {
    verdict(ci, 1.0, (a, b), ("is slower than", "is faster than"), ratio)
}

/// A ratio of rates (`a / b`, e.g. spawns/s): "a is faster than b: 1.21× [...]".
pub fn rate_ratio(ci: Option<Interval>, a: &str, b: &str) -> String {
    verdict(ci, 1.0, (a, b), ("is faster than", "is slower than"), ratio)
}

/// Whether an interval lies entirely above `null` (a difference that is really there).
pub fn above(ci: Option<Interval>, null: f64) -> bool {
    stats::verdict(ci.as_ref(), null) == Verdict::Higher
}

/// Whether an interval lies entirely below `null`.
pub fn below(ci: Option<Interval>, null: f64) -> bool {
    stats::verdict(ci.as_ref(), null) == Verdict::Lower
}

/// `1` or `0.5`: a no-effect value as text.
fn num(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// The first limit of every report: the machine, shared with other agents, and its load.
pub fn machine(env: &Env, note: &str) -> String {
    let kind = if env.virtualized {
        "virtual machine"
    } else {
        "machine"
    };
    let load = env.loadavg_before[0].max(env.loadavg_after[0]);
    let busy = if load >= 0.5 * env.cores as f64 {
        format!(
            "a load of {load:.1} on {} cores means other work competed for the CPUs during the run, so absolute times carry its noise; the comparisons are interleaved (every side runs in every run) and their intervals are over runs, so the noise widens them instead of biasing them",
            env.cores
        )
    } else {
        format!(
            "the load stayed under half of the {} cores, so little other work competed for them",
            env.cores
        )
    };
    let note = if note.is_empty() {
        String::new()
    } else {
        format!(" {}", note.trim())
    };
    format!(
        "A shared {}-core {kind} ({}), on which other agents build and test at the same time: load average {:.2} before and {:.2} after the run (1-minute, `env.json`); {busy}.{note}",
        env.cores, env.cpu_model, env.loadavg_before[0], env.loadavg_after[0]
    )
}

/// The drift checks of the stats module over per-run values, as one limit: what was checked
/// and what (if anything) was flagged.
pub fn drift(what: &str, checks: &[(String, Vec<f64>)]) -> String {
    let warnings: Vec<String> = checks
        .iter()
        .flat_map(|(label, runs)| stats::drift::warnings(label, what, runs, None))
        .collect();
    if warnings.is_empty() {
        format!(
            "Drift checks (trend over runs, outlier runs) on the per-run {what} of {} flagged nothing.",
            checks
                .iter()
                .map(|(l, _)| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "Drift checks on the per-run {what}: {}.",
            warnings.join("; ")
        )
    }
}

/// `0`, `64 MiB`, `1 GiB`.
pub fn size(bytes: usize) -> String {
    match bytes {
        0 => "0".into(),
        b if b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b => format!("{} MiB", b >> 20),
    }
}

/// The sections every report has, in reading order.
pub struct Readme {
    pub title: String,
    pub rerun: String,
    pub question: String,
    pub answer: String,
    pub method: String,
    pub results: String,
    pub limits: Vec<String>,
    pub files: Vec<(String, String)>,
}

impl Readme {
    pub fn render(&self) -> String {
        let mut out = format!(
            "# {}\n\nRerun (as root, from the repository root):\n\n```sh\n{}\n```\n\n",
            self.title, self.rerun
        );
        let _ = write!(
            out,
            "## Question\n\n{}\n\n## Answer\n\n{}\n\n## Method\n\n{}\n\n## Results\n\n{}\n\n## Limits\n\n",
            self.question.trim(),
            self.answer.trim(),
            self.method.trim(),
            self.results.trim()
        );
        for l in &self.limits {
            let _ = writeln!(out, "- {}", l.trim());
        }
        out.push_str("\n## Files\n\n");
        for (f, what) in &self.files {
            // A pattern such as `latency-*.svg` names several files: no link for it.
            if f.contains('*') {
                let _ = writeln!(out, "- `{f}`: {what}");
            } else {
                let _ = writeln!(out, "- [`{f}`]({f}): {what}");
            }
        }
        out
    }
}

/// An inline plot with its caption.
pub fn figure(file: &str, caption: &str) -> String {
    format!("![{caption}]({file})\n\n*{caption}*\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_well() {
        assert_eq!(dur(85_300.0), "85.3 µs");
        assert_eq!(dur(850_000.0), "850 µs");
        assert_eq!(dur(1_420_000.0), "1.42 ms");
        assert_eq!(dur(44_000_000.0), "44.0 ms");
        assert_eq!(size(64 << 20), "64 MiB");
        assert_eq!(size(4 << 30), "4 GiB");
        let ci = spawn_analysis::stats::median_interval(&[1.25, 1.5, 1.5, 1.5, 1.5, 1.75], 0.95);
        assert_eq!(ratio(ci), "1.50× [1.25, 1.75]");
        assert_eq!(ratio(None), NO_INTERVAL);
        assert_eq!(
            diff(ci.map(|c| c.map(|v| v * 1e3))),
            "+1.5 µs [+1.2 µs, +1.8 µs]"
        );
        // An interval that contains the no-effect value is never a win.
        let around =
            spawn_analysis::stats::median_interval(&[0.9, 1.1, 1.0, 1.05, 0.95, 1.02], 0.95);
        assert_eq!(
            time_ratio(around, "A", "B"),
            "no difference between A and B: 1.01× [0.90, 1.10] contains 1"
        );
        assert_eq!(
            time_ratio(ci, "A", "B"),
            "A is slower than B: 1.50× [1.25, 1.75]"
        );
        assert_eq!(
            rate_ratio(ci.map(|c| c.recip()), "A", "B"),
            "A is slower than B: 0.67× [0.57, 0.80]"
        );
        assert_eq!(
            time_ratio(None, "A", "B"),
            format!("A against B: {NO_INTERVAL}")
        );
        assert!(above(ci, 1.0) && !below(ci, 1.0) && !above(around, 1.0));
        let d = negate(ci.unwrap());
        assert_eq!((d.low, d.point, d.high), (-1.75, -1.5, -1.25));
        let t = table(&["a", "b"], &[vec!["x".into(), "1".into()]]);
        assert_eq!(t, "| a | b |\n|---|---:|\n| x | 1 |\n");
    }
}
