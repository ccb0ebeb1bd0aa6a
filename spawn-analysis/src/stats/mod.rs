//! The one statistics module: every percentile, interval, drift check and "no difference"
//! sentence that spawnprof and its experiments print comes from here.
//!
//! - **Percentiles** (this file): one definition, the "linear" method (numpy's default,
//!   Hyndman & Fan type 7): for sorted values `x[0..n]` and a fraction `p` in [0, 1], let
//!   `h = (n - 1) * p`; the percentile is `x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] -
//!   x[floor(h)])`. So p = 0 is the minimum, p = 1 the maximum, and the median of an even count
//!   is the mean of the two middle values. Percentiles describe spawns; they carry no interval.
//! - **Intervals** ([`interval`], [`bootstrap`]): the unit of evidence is a *run* (a block of
//!   spawns measured together, e.g. one worker process, one repetition), never a single spawn
//!   pooled across runs, because these machines drift between runs far more than spawns vary
//!   within one. A median over runs gets the distribution-free order-statistic interval; a
//!   statistic that is not a median of per-run values (a ratio of two medians) gets a bootstrap
//!   that resamples whole runs; a slope is one per run, then their median interval.
//! - **Drift** ([`drift`]): a trend over runs (Mann-Kendall), outlier runs, order effects.
//! - **Words** ([`words`]): one way to say "no difference", and the verdict of an interval.

pub mod bootstrap;
pub mod drift;
pub mod interval;
pub mod words;

pub use bootstrap::{ITERATIONS, bootstrap_runs, ratio_of_medians, rng, slope, slope_over_runs};
pub use drift::{order_effect, outliers, trend_z};
pub use interval::{Interval, LEVEL, MIN_RUNS, median_interval, paired_diff, paired_ratio};
pub use words::{Verdict, no_difference, too_few_runs, verdict};

use serde::Serialize;

/// Values collected for one quantity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    values: Vec<u64>,
    sorted: bool,
}

impl Samples {
    /// No values yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value.
    pub fn push(&mut self, v: u64) {
        self.values.push(v);
        self.sorted = false;
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No value yet.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Sum of the values.
    pub fn sum(&self) -> u128 {
        self.values.iter().map(|&v| u128::from(v)).sum()
    }

    /// Arithmetic mean (`None` when empty).
    pub fn mean(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.sum() as f64 / self.len() as f64)
    }

    /// The `p` quantile (`p` in [0, 1], clamped), `None` when empty.
    pub fn quantile(&mut self, p: f64) -> Option<f64> {
        if !self.sorted {
            self.values.sort_unstable();
            self.sorted = true;
        }
        quantile_sorted(&self.values, p)
    }

    /// Median (the 0.5 [`Self::quantile`]).
    pub fn median(&mut self) -> Option<f64> {
        self.quantile(0.5)
    }
    /// 10th percentile.
    pub fn p10(&mut self) -> Option<f64> {
        self.quantile(0.10)
    }
    /// 90th percentile.
    pub fn p90(&mut self) -> Option<f64> {
        self.quantile(0.90)
    }
    /// 99th percentile.
    pub fn p99(&mut self) -> Option<f64> {
        self.quantile(0.99)
    }
}

/// The `p` quantile of already sorted values, by the definition in the module docs.
pub fn quantile_sorted(sorted: &[u64], p: f64) -> Option<f64> {
    quantile_by(sorted.len(), p, |i| sorted[i] as f64)
}

/// [`quantile_sorted`] for floating-point values (ratios, per-run medians).
pub fn quantile_sorted_f64(sorted: &[f64], p: f64) -> Option<f64> {
    quantile_by(sorted.len(), p, |i| sorted[i])
}

/// The one percentile definition (module docs) over `n` sorted values read through `at`.
fn quantile_by(n: usize, p: f64, at: impl Fn(usize) -> f64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (at(lo), at(hi));
    Some(a + (h - lo as f64) * (b - a))
}

/// The median of unsorted floating-point values (NaNs sort last).
pub fn median_f64(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile_sorted_f64(&v, 0.5)
}

/// [`median_f64`], NaN when empty (for tables that show "n/a").
pub fn median(values: &[f64]) -> f64 {
    median_f64(values).unwrap_or(f64::NAN)
}

/// The `p` quantile of integer samples, rounded to the nearest integer (0 when empty).
pub fn quantile_u64(values: &[u64], p: f64) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    quantile_sorted(&v, p).map_or(0, |q| q.round() as u64)
}

/// A description of spawns (not an inference): count, median, p10 and p90.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// How many values.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 90th percentile.
    pub p90: f64,
}

/// The [`Summary`] of `values` (NaN quantiles when empty).
pub fn summary(values: &[f64]) -> Summary {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let q = |p| quantile_sorted_f64(&v, p).unwrap_or(f64::NAN);
    Summary {
        n: v.len(),
        median: q(0.5),
        p10: q(0.1),
        p90: q(0.9),
    }
}

/// The median of each run (NaN for an empty run, so that runs stay aligned by index).
pub fn run_medians(runs: &[Vec<f64>]) -> Vec<f64> {
    runs.iter().map(|r| median(r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u64]) -> Samples {
        let mut s = Samples::new();
        v.iter().for_each(|&x| s.push(x));
        s
    }

    #[test]
    fn empty_has_no_quantiles() {
        assert_eq!(Samples::new().median(), None);
        assert_eq!(Samples::new().mean(), None);
    }

    #[test]
    fn single_value_is_every_quantile() {
        let mut one = s(&[7]);
        assert_eq!(
            (one.p10(), one.median(), one.p99()),
            (Some(7.0), Some(7.0), Some(7.0))
        );
    }

    #[test]
    fn linear_interpolation() {
        // Unsorted input: the order of arrival must not matter.
        let mut x = s(&[40, 10, 30, 20]);
        assert_eq!(x.median(), Some(25.0));
        assert_eq!(x.quantile(0.0), Some(10.0));
        assert_eq!(x.quantile(1.0), Some(40.0));
        // h = 3 * 0.9 = 2.7 -> 30 + 0.7 * 10
        assert!((x.p90().unwrap_or(0.0) - 37.0).abs() < 1e-9);
        let mut r = s(&(1..=101).collect::<Vec<_>>());
        assert_eq!(r.p99(), Some(100.0));
        assert_eq!(r.p10(), Some(11.0));
        assert_eq!(r.mean(), Some(51.0));
        // Out-of-range fractions are clamped, not a panic.
        assert_eq!(r.quantile(7.0), Some(101.0));
        assert_eq!(r.quantile(-1.0), Some(1.0));
    }

    #[test]
    fn summaries_medians_and_integers_use_the_same_definition() {
        let s = summary(&[40.0, 10.0, 30.0, 20.0]);
        assert_eq!((s.n, s.median), (4, 25.0));
        assert!((s.p90 - 37.0).abs() < 1e-9 && (s.p10 - 13.0).abs() < 1e-9);
        assert!(summary(&[]).median.is_nan() && median(&[]).is_nan());
        assert_eq!(quantile_u64(&[40, 10, 30, 20], 0.5), 25);
        assert_eq!(quantile_u64(&(1..=100).collect::<Vec<_>>(), 0.99), 99);
        assert_eq!(quantile_u64(&[], 0.5), 0);
        let runs = run_medians(&[vec![1.0, 3.0], vec![], vec![5.0]]);
        assert_eq!(runs[0], 2.0);
        assert!(runs[1].is_nan());
        assert_eq!(runs[2], 5.0);
    }
}
