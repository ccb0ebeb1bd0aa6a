//! Percentiles of small samples (one value per spawn), exact: the samples are kept and sorted.
//!
//! Definition (the "linear" method, numpy's default, Hyndman & Fan type 7): for sorted values
//! `x[0..n]` and a fraction `p` in [0, 1], let `h = (n - 1) * p`; the percentile is
//! `x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])`. So p = 0 is the minimum,
//! p = 1 the maximum, and the median of an even count is the mean of the two middle values.

/// Values collected for one quantity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    values: Vec<u64>,
    sorted: bool,
}

impl Samples {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, v: u64) {
        self.values.push(v);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn sum(&self) -> u128 {
        self.values.iter().map(|&v| u128::from(v)).sum()
    }

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

    pub fn median(&mut self) -> Option<f64> {
        self.quantile(0.5)
    }
    pub fn p10(&mut self) -> Option<f64> {
        self.quantile(0.10)
    }
    pub fn p90(&mut self) -> Option<f64> {
        self.quantile(0.90)
    }
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
}
