//! The run-level (block) bootstrap, for statistics that are not a median of per-run values:
//! a ratio of two medians, a slope of medians against a parameter. The resampling unit is a
//! whole run: run indices are drawn with replacement and every side's value of a drawn run
//! comes along (the sides of one run were measured together, so their shared drift stays
//! paired). Individual spawns are never resampled: pooled over runs they look independent
//! when they are not, and give intervals far too narrow ("1.14x [1.14, 1.14]").
//!
//! Own code rather than a crate: a percentile bootstrap over run indices is twenty lines, and
//! the crates that offer one resample observations, not blocks of several sides.
//!
//! With few runs a percentile bootstrap is too narrow (a median over 10 runs has only a
//! handful of distinct resampled values); where the statistic is a median of per-run values,
//! use [`super::median_interval`] instead. Below [`super::MIN_RUNS`] runs no interval is given.

use rand::{Rng, SeedableRng, rngs::SmallRng};

use super::interval::{Interval, LEVEL, MIN_RUNS, Method};
use super::{median, quantile_sorted_f64};

/// Resamples per interval: enough for a stable 2.5%/97.5% percentile.
pub const ITERATIONS: usize = 2000;

/// A generator seeded from a run's seed and a label, so that each interval is reproducible on
/// its own, whatever else was computed before it.
pub fn rng(seed: u64, label: &str) -> SmallRng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    SmallRng::seed_from_u64(seed ^ h)
}

/// Percentile bootstrap over `runs` runs: `stat` gets the run indices of a resample (with
/// repeats) and returns the statistic; the point is `stat(0..runs)`. None below
/// [`MIN_RUNS`] runs or when the statistic is not finite on all runs.
pub fn bootstrap_runs(
    rng: &mut SmallRng,
    runs: usize,
    stat: impl Fn(&[usize]) -> f64,
) -> Option<Interval> {
    let all: Vec<usize> = (0..runs).collect();
    let point = stat(&all);
    if runs < MIN_RUNS || !point.is_finite() {
        return None;
    }
    let mut pick = vec![0usize; runs];
    let mut values = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        for p in pick.iter_mut() {
            *p = rng.gen_range(0..runs);
        }
        let s = stat(&pick);
        if s.is_finite() {
            values.push(s);
        }
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    Some(Interval {
        point,
        low: quantile_sorted_f64(&values, tail)?,
        high: quantile_sorted_f64(&values, 1.0 - tail)?,
        coverage: LEVEL,
        runs,
        method: Method::RunBootstrap,
    })
}

/// median(a) / median(b) over runs (one value per run and side, aligned by run index; a run
/// missing on either side is dropped), with a run-level bootstrap interval.
pub fn ratio_of_medians(rng: &mut SmallRng, a_runs: &[f64], b_runs: &[f64]) -> Option<Interval> {
    let (a, b): (Vec<f64>, Vec<f64>) = a_runs
        .iter()
        .zip(b_runs)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    bootstrap_runs(rng, a.len(), |ix| {
        let pa: Vec<f64> = ix.iter().map(|&i| a[i]).collect();
        let pb: Vec<f64> = ix.iter().map(|&i| b[i]).collect();
        median(&pa) / median(&pb)
    })
}

/// Least-squares slope of `ys` on `xs` (NaN when all x are equal).
pub fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx == 0.0 { f64::NAN } else { sxy / sxx }
}

/// The slope against `xs` over runs: `per_x[i][r]` is run `r`'s value at `xs[i]` (e.g. its
/// median wall time at that parent size; every run visits every x). Each run gives one slope,
/// and the interval is the order-statistic interval of their median: how much a quantity grows
/// per unit of x (e.g. ns per GiB). Not a bootstrap: a percentile bootstrap of the slope of
/// medians over 10 runs contained 0 in only 18 of 20 A/A simulations (too narrow).
pub fn slope_over_runs(xs: &[f64], per_x: &[Vec<f64>]) -> Option<Interval> {
    let runs = per_x.iter().map(Vec::len).min().unwrap_or(0);
    let slopes: Vec<f64> = (0..runs)
        .map(|r| {
            let ys: Vec<f64> = per_x.iter().map(|v| v[r]).collect();
            slope(xs, &ys)
        })
        .collect();
    super::median_interval(&slopes, LEVEL)
}

#[cfg(test)]
mod tests {
    use super::super::interval::tests::{seeded_hits, simulated_runs};
    use super::*;

    #[test]
    fn a_clear_ratio_is_found_and_seeds_reproduce() {
        let a: Vec<f64> = (0..10).map(|i| 200.0 + f64::from(i % 5)).collect();
        let b: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i % 3)).collect();
        let ci = ratio_of_medians(&mut rng(1, "t"), &a, &b).unwrap();
        assert!(ci.low <= ci.point && ci.point <= ci.high);
        assert!(ci.excludes(1.0) && ci.low > 1.9 && ci.high < 2.1, "{ci:?}");
        assert_eq!(ci.method, Method::RunBootstrap);
        assert_eq!(ci, ratio_of_medians(&mut rng(1, "t"), &a, &b).unwrap());
        assert_eq!(ratio_of_medians(&mut rng(1, "t"), &a[..5], &b[..5]), None);
    }

    #[test]
    fn slope_of_a_line_over_runs() {
        assert!((slope(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]) - 2.0).abs() < 1e-12);
        // Six runs; at x the value is 10 x plus a run effect shared by every x of that run.
        let per_x: Vec<Vec<f64>> = (0..3)
            .map(|x| (0..6).map(|r| 10.0 * f64::from(x) + f64::from(r)).collect())
            .collect();
        let ci = slope_over_runs(&[0.0, 1.0, 2.0], &per_x).unwrap();
        // The run effect is shared, so every run has the same slope.
        assert_eq!((ci.point, ci.low, ci.high), (10.0, 10.0, 10.0));
    }

    /// A/A for the run-level bootstrap: ratio of medians of two identical sides over 12 runs
    /// with drift and a shared run effect; the interval contains 1 in at least 19 of 20 seeds.
    #[test]
    fn a_a_bootstrap_contains_one() {
        let hits = seeded_hits(|seed, r| {
            let (a, b) = simulated_runs(r, 12, 1.0);
            ratio_of_medians(&mut rng(seed, "a/a"), &a, &b)
                .unwrap()
                .contains(1.0)
        });
        assert!(
            hits >= 19,
            "only {hits} of 20 A/A bootstrap intervals contain 1"
        );
    }

    /// A/A for slopes: no growth with x, runs drifting; the slope interval contains 0.
    #[test]
    fn a_a_slope_contains_zero() {
        let hits = seeded_hits(|_, r| {
            let per_x: Vec<Vec<f64>> = (0..3).map(|_| simulated_runs(r, 10, 1.0).0).collect();
            slope_over_runs(&[0.0, 1.0, 4.0], &per_x)
                .unwrap()
                .contains(0.0)
        });
        assert!(
            hits >= 19,
            "only {hits} of 20 A/A slope intervals contain 0"
        );
    }
}
