//! Order-statistic intervals for a median over runs, and the paired forms every comparison
//! uses: one value per run and side (runs are blocks that measured both sides, interleaved),
//! one paired ratio or difference per run, and the median of those with its interval.
//!
//! The interval is distribution-free: under "no difference", with the sides' order varied per
//! run, a paired ratio is as likely above 1 as below, so the order statistics of the per-run
//! ratios bound their median with a coverage taken from the binomial distribution (the sign
//! test's confidence interval). It is exact for any number of runs, which a percentile
//! bootstrap over 10 runs is not (too narrow).

use serde::Serialize;

use super::quantile_sorted_f64;

/// Fewest runs for a 95% interval: with n paired ratios the widest interval (min, max) covers
/// the median with probability 1 - 2 / 2^n, which first reaches 95% at n = 6 (96.9%).
pub const MIN_RUNS: usize = 6;

/// The level every interval is computed at.
pub const LEVEL: f64 = 0.95;

/// How an interval was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Order statistics of per-run values (sign-test interval for their median).
    OrderStatistic,
    /// Percentile bootstrap resampling whole runs.
    RunBootstrap,
}

/// A point estimate over runs with its interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// The estimate: the median of the per-run values, or the statistic on all runs.
    pub point: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Coverage of (low, high): exact for order statistics (e.g. 0.979 for 10 runs), the
    /// nominal [`LEVEL`] for the bootstrap.
    pub coverage: f64,
    /// Runs the interval is over.
    pub runs: usize,
    /// How the interval was made.
    pub method: Method,
}

impl Interval {
    /// Whether `x` lies in [low, high].
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// The interval lies entirely on one side of `x` (a difference from 0, a ratio from 1).
    pub fn excludes(&self, x: f64) -> bool {
        !self.contains(x)
    }

    /// The interval of `f(value)` for an increasing `f` (e.g. a ratio as a percentage).
    pub fn map(self, f: impl Fn(f64) -> f64) -> Interval {
        Interval {
            point: f(self.point),
            low: f(self.low),
            high: f(self.high),
            ..self
        }
    }

    /// The interval of `1 / value` (a ratio seen from the other side); bounds swap.
    pub fn recip(self) -> Interval {
        Interval {
            point: 1.0 / self.point,
            low: 1.0 / self.high,
            high: 1.0 / self.low,
            ..self
        }
    }
}

/// P(X <= k) for X ~ Binomial(n, 1/2), summed in logs so that large n cannot overflow.
pub(crate) fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut total = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        total += (ln_choose - ln2n).exp();
    }
    total.min(1.0)
}

/// The order-statistic interval for the median of `values` (one per run) at `level`: the
/// sorted values at 1-based ranks (k, n + 1 - k) for the largest k whose coverage
/// 1 - 2 P(X <= k - 1) is still >= level. Non-finite values (a run that measured nothing) are
/// left out. None when fewer values than [`MIN_RUNS`] (at 95%) remain.
pub fn median_interval(values: &[f64], level: f64) -> Option<Interval> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = sorted.len();
    sorted.sort_by(f64::total_cmp);
    let coverage = |k: usize| 1.0 - 2.0 * binomial_half_cdf(n, k - 1);
    if n == 0 || coverage(1) < level {
        return None;
    }
    let mut k = 1;
    while k < n / 2 && coverage(k + 1) >= level {
        k += 1;
    }
    Some(Interval {
        point: quantile_sorted_f64(&sorted, 0.5)?,
        low: sorted[k - 1],
        high: sorted[n - k],
        coverage: coverage(k),
        runs: n,
        method: Method::OrderStatistic,
    })
}

/// `a / b` per run (runs aligned by index), then the median with its 95% interval.
pub fn paired_ratio(a_runs: &[f64], b_runs: &[f64]) -> Option<Interval> {
    let r: Vec<f64> = a_runs.iter().zip(b_runs).map(|(a, b)| a / b).collect();
    median_interval(&r, LEVEL)
}

/// `a - b` per run (runs aligned by index), then the median with its 95% interval.
pub fn paired_diff(a_runs: &[f64], b_runs: &[f64]) -> Option<Interval> {
    let d: Vec<f64> = a_runs.iter().zip(b_runs).map(|(a, b)| a - b).collect();
    median_interval(&d, LEVEL)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    #[test]
    fn binomial_cdf_matches_small_cases() {
        assert!((binomial_half_cdf(10, 1) - 11.0 / 1024.0).abs() < 1e-12);
        assert!((binomial_half_cdf(4, 4) - 1.0).abs() < 1e-12);
        assert!((binomial_half_cdf(2000, 1000) - 0.5089).abs() < 1e-3);
    }

    #[test]
    fn interval_ranks_and_minimum_runs() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        let i = median_interval(&ten, LEVEL).unwrap();
        // n = 10: ranks 2 and 9, coverage 1 - 2 * 11/1024.
        assert_eq!((i.low, i.high, i.point, i.runs), (2.0, 9.0, 5.5, 10));
        assert!((i.coverage - (1.0 - 22.0 / 1024.0)).abs() < 1e-12);
        let five: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(median_interval(&five, LEVEL), None);
        let six: Vec<f64> = (1..=6).map(f64::from).collect();
        let i = median_interval(&six, LEVEL).unwrap();
        assert_eq!((i.low, i.high), (1.0, 6.0));
        assert_eq!(MIN_RUNS, 6);
        // A run that measured nothing is left out, not counted as a value.
        let mut seven = six.clone();
        seven.push(f64::NAN);
        assert_eq!(median_interval(&seven, LEVEL).unwrap().runs, 6);
    }

    #[test]
    fn paired_forms_and_transforms() {
        let a = [2.0, 4.0, 6.0, 8.0, 10.0, 12.0];
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let r = paired_ratio(&a, &b).unwrap();
        assert_eq!((r.point, r.low, r.high), (2.0, 2.0, 2.0));
        assert!(r.excludes(1.0) && !r.contains(1.0));
        let d = paired_diff(&a, &b).unwrap();
        assert_eq!((d.low, d.point, d.high), (1.0, 3.5, 6.0));
        let pct = d.map(|v| v * 100.0);
        assert_eq!((pct.low, pct.high), (100.0, 600.0));
        let inv = d.recip();
        assert_eq!((inv.low, inv.high), (1.0 / 6.0, 1.0));
        assert_eq!(paired_ratio(&a[..5], &b[..5]), None);
    }

    /// Per-run paired ratios of two sides under a machine that drifts 30% over the runs, with
    /// a run effect shared by both sides and independent noise of ~10% per side.
    pub(crate) fn simulated_runs(
        rng: &mut SmallRng,
        runs: usize,
        true_ratio: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        (0..runs)
            .map(|r| {
                let drift = 1.0 + 0.3 * r as f64 / runs as f64;
                let block = 1.0 + rng.gen_range(-0.2..0.2);
                let noise = |rng: &mut SmallRng| (rng.gen_range(-0.1f64..0.1)).exp();
                let a = 800.0 * true_ratio * drift * block * noise(rng);
                let b = 800.0 * drift * block * noise(rng);
                (a, b)
            })
            .unzip()
    }

    /// Of the 20 seeds `0..20`, how many `hit` holds for; it gets the seed and an rng seeded
    /// with it.
    pub(crate) fn seeded_hits(mut hit: impl FnMut(u64, &mut SmallRng) -> bool) -> usize {
        (0..20u64)
            .filter(|&seed| hit(seed, &mut SmallRng::seed_from_u64(seed)))
            .count()
    }

    /// A/A: the same command twice. The interval must contain 1 in at least 19 of 20 seeded
    /// simulations (a 95% interval may miss 1 time in 20, not more).
    #[test]
    fn a_a_intervals_contain_one() {
        let hits = seeded_hits(|_, rng| {
            let (a, b) = simulated_runs(rng, 10, 1.0);
            paired_ratio(&a, &b).unwrap().contains(1.0)
        });
        assert!(hits >= 19, "only {hits} of 20 A/A intervals contain 1");
    }

    /// The coverage over many simulations is at least the promised level.
    #[test]
    fn coverage_holds_over_many_simulations() {
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 2000;
        let hits = (0..n)
            .filter(|_| {
                let (a, b) = simulated_runs(&mut rng, 10, 1.0);
                paired_ratio(&a, &b).unwrap().contains(1.0)
            })
            .count();
        assert!(hits as f64 / n as f64 >= 0.95, "coverage {hits}/{n}");
    }

    #[test]
    fn a_real_difference_is_found_with_its_sign() {
        for seed in 0..20u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let (a, b) = simulated_runs(&mut rng, 10, 4.0);
            let i = paired_ratio(&a, &b).unwrap();
            assert!(i.low > 1.0, "seed {seed}: {i:?}");
            assert!(i.contains(4.0) || (i.point - 4.0).abs() < 0.5, "{i:?}");
            let slower = paired_ratio(&b, &a).unwrap();
            assert!(slower.high < 1.0, "seed {seed}: {slower:?}");
        }
    }
}
