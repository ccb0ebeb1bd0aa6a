//! A fixed-precision log-scale histogram of nanosecond values: constant memory per quantity,
//! however many spawns a long run sees (the exact [`spawn_analysis::stats::Samples`] keep every value).
//!
//! Values below 8 have a bucket each; above, every power of two is split into 8 buckets, so a
//! bucket spans at most 1/8 of its lower bound. A quantile is read back as the middle of its
//! bucket: within ±6.25% of the true sample value.

/// Sub-buckets per power of two.
const SUB: u64 = 8;
/// log2(SUB).
const SUB_BITS: u32 = 3;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogHistogram {
    /// Grown on demand to the highest bucket used (at most 496 entries for u64 values).
    counts: Vec<u64>,
    count: u64,
    sum: u128,
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros();
    let m = (v >> (exp - SUB_BITS)) & (SUB - 1);
    ((exp - SUB_BITS + 1) as u64 * SUB + m) as usize
}

/// The lowest value of bucket `i` (saturating: the bucket past the last one starts at 2^64).
fn lower(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let exp = i / SUB + u64::from(SUB_BITS) - 1;
    let v = u128::from(SUB + i % SUB) << (exp - u64::from(SUB_BITS));
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl LogHistogram {
    pub fn record(&mut self, v: u64) {
        let i = index(v);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.count += 1;
        self.sum += u128::from(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The `p` quantile (nearest rank; `p` clamped to [0, 1]), as the middle of its bucket.
    pub fn quantile(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
        let rank = ((p * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = (lower(i), lower(i + 1));
                return Some(lo + (hi - lo) / 2);
            }
        }
        None
    }

    pub fn median(&self) -> Option<u64> {
        self.quantile(0.5)
    }

    pub fn p99(&self) -> Option<u64> {
        self.quantile(0.99)
    }

    pub fn merge(&mut self, o: &LogHistogram) {
        if self.counts.len() < o.counts.len() {
            self.counts.resize(o.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.count += o.count;
        self.sum += o.sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        for i in 0..495 {
            assert!(lower(i) < lower(i + 1), "bucket {i}");
            assert_eq!(index(lower(i)), i);
            assert_eq!(index(lower(i + 1) - 1), i);
            // Width at most 1/8 of the lower bound (above the exact range).
            if i >= 8 {
                assert!((lower(i + 1) - lower(i)) * 8 <= lower(i), "bucket {i}");
            }
        }
        assert_eq!(index(u64::MAX), 495);
    }

    #[test]
    fn quantiles_within_precision() {
        let mut h = LogHistogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        for (p, want) in [(0.5, 5_000_000.0), (0.99, 9_900_000.0), (0.0, 1000.0)] {
            let got = h.quantile(p).unwrap_or(0) as f64;
            assert!((got - want).abs() / want <= 0.0625, "p{p}: {got} vs {want}");
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.mean(), Some(5_000_500.0));
        assert_eq!(LogHistogram::default().median(), None);
        let mut small = LogHistogram::default();
        small.record(3);
        assert_eq!(small.median(), Some(3));
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (LogHistogram::default(), LogHistogram::default());
        a.record(10);
        b.record(1_000_000);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        let med = a.median().unwrap_or(0);
        assert!((937_500..=1_062_500).contains(&med), "{med}");
        assert!(a.quantile(0.0).unwrap_or(99) <= 10);
    }
}
