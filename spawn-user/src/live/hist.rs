//! Latency histograms of nanosecond values for `top` and `record`'s summaries: an
//! [HdrHistogram](hdrhistogram) with 2 significant figures, so every quantile is read back
//! within 1% of the true sample value (hdrhistogram's convention: the highest value of the
//! sample's bucket), however many spawns a long run sees (the exact
//! [`spawn_analysis::stats::Samples`] keep every value).
//!
//! Memory stays bounded per histogram: nothing is allocated until the first value, the
//! buckets then grow to the largest value seen, and values are clamped to [`MAX_NS`] (one
//! hour), so one histogram never holds more than 4 608 counters of 4 bytes (18 KiB; a phase
//! that stays under 1 ms needs 7 KiB). Counters saturate at `u32::MAX` per bucket instead of
//! wrapping.
use hdrhistogram::Histogram;

/// Significant figures of every histogram: a bucket is at most 1/128 of its values wide.
pub const SIGFIG: u8 = 2;
/// Values above this (one hour) are recorded as this.
pub const MAX_NS: u64 = 3_600_000_000_000;

#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram {
    /// `None` until the first value.
    h: Option<Histogram<u32>>,
}

impl LatencyHistogram {
    pub fn record(&mut self, v: u64) {
        let h = self.h.get_or_insert_with(|| {
            // Auto-resizing (grows to the largest value seen); only fails for sigfig > 5.
            Histogram::new(SIGFIG).expect("2 significant figures are valid")
        });
        // Cannot fail: auto-resize is on and the value is clamped far below u64::MAX.
        let _ = h.record(v.min(MAX_NS));
    }

    pub fn count(&self) -> u64 {
        self.h.as_ref().map_or(0, Histogram::len)
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The `p` quantile (`p` clamped to [0, 1], NaN read as the median): the highest value
    /// equivalent to the sample of that rank (nearest rank).
    pub fn quantile(&self, p: f64) -> Option<u64> {
        let h = self.h.as_ref().filter(|h| !h.is_empty())?;
        let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
        Some(h.value_at_quantile(p))
    }

    pub fn median(&self) -> Option<u64> {
        self.quantile(0.5)
    }

    pub fn p99(&self) -> Option<u64> {
        self.quantile(0.99)
    }

    pub fn merge(&mut self, o: &LatencyHistogram) {
        let Some(other) = &o.h else { return };
        match &mut self.h {
            // Cannot fail: both auto-resize with the same precision.
            Some(h) => {
                let _ = h.add(other);
            }
            None => self.h = Some(other.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within hdrhistogram's precision at 2 significant figures (1%).
    fn close(got: u64, want: f64) -> bool {
        (got as f64 - want).abs() / want <= 0.01
    }

    #[test]
    fn quantiles_within_precision() {
        let mut h = LatencyHistogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        for (p, want) in [(0.5, 5_000_000.0), (0.99, 9_900_000.0), (0.0, 1000.0)] {
            let got = h.quantile(p).unwrap_or(0);
            assert!(close(got, want), "p{p}: {got} vs {want}");
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(LatencyHistogram::default().median(), None);
        assert!(LatencyHistogram::default().is_empty());
        // Small values are exact.
        let mut small = LatencyHistogram::default();
        small.record(3);
        assert_eq!(small.median(), Some(3));
    }

    #[test]
    fn huge_values_are_clamped_and_memory_stays_bounded() {
        let mut h = LatencyHistogram::default();
        h.record(u64::MAX);
        h.record(1);
        let top = h.quantile(1.0).unwrap_or(0);
        assert!(close(top, MAX_NS as f64), "{top}");
        let counters = h.h.as_ref().map_or(0, Histogram::distinct_values);
        assert!(counters <= 4608, "{counters} counters");
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (LatencyHistogram::default(), LatencyHistogram::default());
        a.record(10);
        b.record(1_000_000);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        let med = a.median().unwrap_or(0);
        assert!(close(med, 1_000_000.0), "{med}");
        assert_eq!(a.quantile(0.0), Some(10));
        // Into an empty one, and an empty one into it.
        let mut c = LatencyHistogram::default();
        c.merge(&a);
        c.merge(&LatencyHistogram::default());
        assert_eq!(c.count(), 3);
    }
}
