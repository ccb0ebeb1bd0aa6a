//! Markdown pieces shared by the reports: tables, number formats, the README skeleton.

use std::fmt::Write as _;

use spawn_analysis::stats::{Interval, Summary};

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

/// A relative change in percent: `+2.1% [-0.4%, +4.5%]`.
pub fn pct(ci: Option<Interval>) -> String {
    let Some(ci) = ci else {
        return NO_INTERVAL.into();
    };
    format!("{:+.1}% [{:+.1}%, {:+.1}%]", ci.point, ci.low, ci.high)
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
        let t = table(&["a", "b"], &[vec!["x".into(), "1".into()]]);
        assert_eq!(t, "| a | b |\n|---|---:|\n| x | 1 |\n");
    }
}
