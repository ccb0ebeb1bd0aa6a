//! Run-level statistics for `spawnprof compare`: the unit of evidence is a run (a block of
//! spawns of each command, interleaved), never a single spawn, because these machines drift
//! between runs far more than spawns vary within one.
//!
//! The interval for the ratio is distribution-free: each block gives one paired ratio
//! A/B; under "no difference" with the commands' order shuffled per block, a ratio is as
//! likely above 1 as below, so the order statistics of the block ratios bound their median
//! with a coverage taken from the binomial distribution (the sign test's confidence interval).
//! It is exact for any n, which a percentile bootstrap over 10 runs is not.

use crate::stats::{median_f64, quantile_sorted_f64};

/// Fewest runs for a 95% interval: with n paired ratios the widest interval (min, max) covers
/// the median with probability 1 - 2 / 2^n, which first reaches 95% at n = 6 (96.9%).
pub const MIN_RUNS: usize = 6;

/// The level every interval is computed at.
pub const LEVEL: f64 = 0.95;

/// A distribution-free interval for the median of `values`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// Exact coverage of (low, high) for the median, e.g. 0.979 for 10 values.
    pub coverage: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// P(X <= k) for X ~ Binomial(n, 1/2), summed in logs so that large n cannot overflow.
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
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

/// The order-statistic interval for the median at `level`: the sorted values at 1-based ranks
/// (k, n + 1 - k) for the largest k whose coverage 1 - 2 P(X <= k - 1) is still >= level.
/// None below [`MIN_RUNS`]-style sizes where no such k exists.
pub fn median_interval(values: &[f64], level: f64) -> Option<Interval> {
    let n = values.len();
    let mut sorted = values.to_vec();
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
        median: quantile_sorted_f64(&sorted, 0.5)?,
        low: sorted[k - 1],
        high: sorted[n - k],
        coverage: coverage(k),
    })
}

/// Mann-Kendall trend test of values in run order: the z score of Kendall's S against run
/// index (continuity-corrected, no tie correction). |z| > 2.58 is a trend at the 1% level.
pub fn trend_z(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 3 {
        return 0.0;
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += match values[j].total_cmp(&values[i]) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
    }
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let s = s as f64;
    let corrected = s - s.signum();
    corrected / var.sqrt()
}

/// Indices of values further than 5 scaled MADs from the median (a run disturbed by
/// something else on the machine), robust to the outliers themselves.
pub fn outliers(values: &[f64]) -> Vec<usize> {
    let Some(med) = median_f64(values) else {
        return Vec::new();
    };
    let dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    let mad = median_f64(&dev).unwrap_or(0.0) * 1.4826;
    if mad <= 0.0 {
        return Vec::new();
    }
    (0..values.len()).filter(|&i| dev[i] > 5.0 * mad).collect()
}

#[cfg(test)]
mod tests {
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
        assert_eq!((i.low, i.high, i.median), (2.0, 9.0, 5.5));
        assert!((i.coverage - (1.0 - 22.0 / 1024.0)).abs() < 1e-12);
        let five: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(median_interval(&five, LEVEL), None);
        let six: Vec<f64> = (1..=6).map(f64::from).collect();
        let i = median_interval(&six, LEVEL).unwrap();
        assert_eq!((i.low, i.high), (1.0, 6.0));
        assert_eq!(MIN_RUNS, 6);
    }

    /// Per-block paired ratios of two commands under a machine that drifts 30% over the runs,
    /// with a block effect shared by both commands and independent run noise of ~10%.
    fn simulated_ratios(rng: &mut SmallRng, runs: usize, true_ratio: f64) -> Vec<f64> {
        (0..runs)
            .map(|b| {
                let drift = 1.0 + 0.3 * b as f64 / runs as f64;
                let block = 1.0 + rng.gen_range(-0.2..0.2);
                let noise = |rng: &mut SmallRng| (rng.gen_range(-0.1f64..0.1)).exp();
                let a = 800.0 * true_ratio * drift * block * noise(rng);
                let b = 800.0 * drift * block * noise(rng);
                a / b
            })
            .collect()
    }

    /// A/A: the same command twice. The interval must contain 1 in at least 19 of 20 seeded
    /// simulations (a 95% interval may miss 1 time in 20, not more).
    #[test]
    fn a_a_intervals_contain_one() {
        let hits = (0..20u64)
            .filter(|&seed| {
                let mut rng = SmallRng::seed_from_u64(seed);
                let r = simulated_ratios(&mut rng, 10, 1.0);
                median_interval(&r, LEVEL).unwrap().contains(1.0)
            })
            .count();
        assert!(hits >= 19, "only {hits} of 20 A/A intervals contain 1");
    }

    /// The coverage over many simulations is at least the promised level.
    #[test]
    fn coverage_holds_over_many_simulations() {
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 2000;
        let hits = (0..n)
            .filter(|_| {
                let r = simulated_ratios(&mut rng, 10, 1.0);
                median_interval(&r, LEVEL).unwrap().contains(1.0)
            })
            .count();
        assert!(hits as f64 / n as f64 >= 0.95, "coverage {hits}/{n}");
    }

    #[test]
    fn a_real_difference_is_found_with_its_sign() {
        for seed in 0..20u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let r = simulated_ratios(&mut rng, 10, 4.0);
            let i = median_interval(&r, LEVEL).unwrap();
            assert!(i.low > 1.0, "seed {seed}: {i:?}");
            assert!(i.contains(4.0) || (i.median - 4.0).abs() < 0.5, "{i:?}");
        }
    }

    #[test]
    fn trend_and_outliers() {
        let rising: Vec<f64> = (0..10).map(f64::from).collect();
        assert!(trend_z(&rising) > 2.58);
        let flat = [5.0, 4.0, 6.0, 5.0, 4.0, 6.0, 5.0, 4.0, 6.0, 5.0];
        assert!(trend_z(&flat).abs() < 2.58);
        let mut v = vec![100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 100.0];
        v.push(400.0);
        assert_eq!(outliers(&v), vec![7]);
        assert!(outliers(&[1.0, 1.0, 1.0]).is_empty());
    }
}
