//! What an interval says, in the same words everywhere: a side is higher, lower, or there is
//! "no difference" (the interval contains the no-effect value), or there were too few runs.

use super::interval::{Interval, MIN_RUNS};

/// The reading of an interval against the value that means "no effect" (1 for a ratio, 0 for
/// a difference).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is above the no-effect value.
    Higher,
    /// The whole interval is below it.
    Lower,
    /// The interval contains it.
    NoDifference,
    /// No interval: fewer than [`MIN_RUNS`] runs.
    TooFewRuns,
}

/// Reads `iv` against `null`.
pub fn verdict(iv: Option<&Interval>, null: f64) -> Verdict {
    match iv {
        None => Verdict::TooFewRuns,
        Some(i) if i.low > null => Verdict::Higher,
        Some(i) if i.high < null => Verdict::Lower,
        Some(_) => Verdict::NoDifference,
    }
}

/// The one "no difference" sentence: `no difference between {a} and {b}: {shown} contains
/// {null}`, where `shown` is the estimate with its interval as the caller formats it (e.g.
/// `ratio 1.01 [0.97, 1.04]`, `+0.4% [-1.2%, +2.0%]`) and `null` the no-effect value as text.
pub fn no_difference(a: &str, b: &str, shown: &str, null: &str) -> String {
    format!("no difference between {a} and {b}: {shown} contains {null}")
}

/// Why there is no interval.
pub fn too_few_runs(runs: usize) -> String {
    format!("no interval: {runs} runs, at least {MIN_RUNS} are needed for a 95% interval")
}

#[cfg(test)]
mod tests {
    use super::super::interval::{LEVEL, median_interval};
    use super::*;

    #[test]
    fn verdicts_and_words() {
        let iv = |v: &[f64]| median_interval(v, LEVEL).unwrap();
        let above = iv(&[1.1, 1.2, 1.3, 1.2, 1.1, 1.4]);
        let around = iv(&[0.9, 1.1, 1.0, 1.05, 0.95, 1.02]);
        let below = above.recip();
        assert_eq!(verdict(Some(&above), 1.0), Verdict::Higher);
        assert_eq!(verdict(Some(&below), 1.0), Verdict::Lower);
        assert_eq!(verdict(Some(&around), 1.0), Verdict::NoDifference);
        assert_eq!(verdict(None, 1.0), Verdict::TooFewRuns);
        assert_eq!(
            no_difference("A", "B", "ratio 1.01 [0.90, 1.10]", "1"),
            "no difference between A and B: ratio 1.01 [0.90, 1.10] contains 1"
        );
        assert!(too_few_runs(2).contains("at least 6"));
    }
}
