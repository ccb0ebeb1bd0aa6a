//! Statistics that survive a noisy machine: medians and p10/p90 (numpy's linear quantile, like
//! spawn-user's), and percentile-bootstrap 95% confidence intervals for every compared number.

use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde::Serialize;

/// Resamples per interval: enough for a stable 2.5%/97.5% percentile.
pub const ITERATIONS: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

/// A point estimate with its 95% bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Ci {
    pub point: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Ci {
    /// The interval excludes `value` (a difference from 0, a ratio from 1 is claimed).
    pub fn excludes(&self, value: f64) -> bool {
        self.lo > value || self.hi < value
    }
}

/// Quantile `p` of sorted values: `x[h] + frac * (x[h+1] - x[h])`, `h = (n-1) p`.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

pub fn summary(values: &[f64]) -> Summary {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Summary {
        n: v.len(),
        median: quantile_sorted(&v, 0.5),
        p10: quantile_sorted(&v, 0.1),
        p90: quantile_sorted(&v, 0.9),
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, 0.5)
}

/// A generator seeded from the run's seed and a label, so that each interval is reproducible
/// on its own, whatever else the run computed before it.
pub fn rng(seed: u64, label: &str) -> SmallRng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    SmallRng::seed_from_u64(seed ^ h)
}

/// Percentile bootstrap: every group is resampled with replacement (independently), `stat`
/// is computed on each resample; the interval is the 2.5th and 97.5th percentile.
pub fn bootstrap(rng: &mut SmallRng, groups: &[&[f64]], stat: impl Fn(&[Vec<f64>]) -> f64) -> Ci {
    let owned: Vec<Vec<f64>> = groups.iter().map(|g| g.to_vec()).collect();
    let point = stat(&owned);
    if groups.iter().any(|g| g.is_empty()) {
        return Ci {
            point,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    let mut resample: Vec<Vec<f64>> = groups.iter().map(|g| vec![0.0; g.len()]).collect();
    let mut stats = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        for (g, r) in groups.iter().zip(resample.iter_mut()) {
            for x in r.iter_mut() {
                *x = g[rng.gen_range(0..g.len())];
            }
        }
        let s = stat(&resample);
        if s.is_finite() {
            stats.push(s);
        }
    }
    stats.sort_by(f64::total_cmp);
    Ci {
        point,
        lo: quantile_sorted(&stats, 0.025),
        hi: quantile_sorted(&stats, 0.975),
    }
}

/// Median of an unsorted buffer in place (O(n)).
fn median_mut(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

fn med(v: &[f64]) -> f64 {
    median_mut(&mut v.to_vec())
}

/// median(a) / median(b) with its interval.
pub fn ratio_of_medians(rng: &mut SmallRng, a: &[f64], b: &[f64]) -> Ci {
    bootstrap(rng, &[a, b], |g| med(&g[0]) / med(&g[1]))
}

/// median(a) - median(b) with its interval.
pub fn diff_of_medians(rng: &mut SmallRng, a: &[f64], b: &[f64]) -> Ci {
    bootstrap(rng, &[a, b], |g| med(&g[0]) - med(&g[1]))
}

/// Least-squares slope of `ys` on `xs`.
pub fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx == 0.0 { f64::NAN } else { sxy / sxx }
}

/// Slope of the median against x, with samples resampled within each x: how much a quantity
/// grows per unit of x (e.g. µs per GiB of parent).
pub fn slope_of_medians(rng: &mut SmallRng, xs: &[f64], samples: &[&[f64]]) -> Ci {
    bootstrap(rng, samples, |g| {
        let ys: Vec<f64> = g.iter().map(|s| med(s)).collect();
        slope(xs, &ys)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_the_linear_definition() {
        let s = summary(&[40.0, 10.0, 30.0, 20.0]);
        assert_eq!((s.n, s.median), (4, 25.0));
        assert!((s.p90 - 37.0).abs() < 1e-9);
        assert!((s.p10 - 13.0).abs() < 1e-9);
        assert_eq!(med(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(med(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(med(&[]).is_nan());
    }

    #[test]
    fn bootstrap_interval_covers_a_clear_ratio_and_not_one() {
        let mut r = rng(1, "test");
        let a: Vec<f64> = (0..200).map(|i| 200.0 + f64::from(i % 20)).collect();
        let b: Vec<f64> = (0..200).map(|i| 100.0 + f64::from(i % 10)).collect();
        let ci = ratio_of_medians(&mut r, &a, &b);
        assert!(ci.lo <= ci.point && ci.point <= ci.hi);
        assert!(ci.excludes(1.0) && ci.lo > 1.8 && ci.hi < 2.2, "{ci:?}");
        let same = diff_of_medians(&mut r, &a, &a);
        assert!(!same.excludes(0.0), "{same:?}");
    }

    #[test]
    fn slope_of_a_line_and_seeds_are_reproducible() {
        assert!((slope(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]) - 2.0).abs() < 1e-12);
        let g: Vec<Vec<f64>> = (0..3).map(|x| vec![f64::from(x) * 10.0; 5]).collect();
        let refs: Vec<&[f64]> = g.iter().map(Vec::as_slice).collect();
        let ci = slope_of_medians(&mut rng(7, "s"), &[0.0, 1.0, 2.0], &refs);
        assert_eq!((ci.point, ci.lo, ci.hi), (10.0, 10.0, 10.0));
        let x = [1.0, 5.0, 2.0, 8.0];
        let a = diff_of_medians(&mut rng(7, "x"), &x, &x[1..]);
        let b = diff_of_medians(&mut rng(7, "x"), &x, &x[1..]);
        assert_eq!(a, b);
    }
}
