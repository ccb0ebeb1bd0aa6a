//! Summary statistics of latency samples.

use serde::Serialize;

/// Summary of one strategy's samples (ns per spawn+wait).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub count: usize,
    pub median_ns: u64,
    pub p10_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub mean_ns: f64,
    pub min_ns: u64,
    pub max_ns: u64,
    /// 1e9 / mean: spawns+waits per second one thread sustains.
    pub spawns_per_sec: f64,
}

/// Nearest-rank percentile of sorted samples (`q` in 0..=1).
fn percentile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises `samples`; None when there are none.
pub fn stats(samples: &[u64]) -> Option<Stats> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    let mean = s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64;
    Some(Stats {
        count: s.len(),
        median_ns: percentile(&s, 0.5),
        p10_ns: percentile(&s, 0.1),
        p90_ns: percentile(&s, 0.9),
        p99_ns: percentile(&s, 0.99),
        mean_ns: mean,
        min_ns: s[0],
        max_ns: s[s.len() - 1],
        spawns_per_sec: if mean > 0.0 { 1e9 / mean } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_1_to_100() {
        let v: Vec<u64> = (1..=100).rev().collect();
        let s = stats(&v).unwrap();
        assert_eq!(
            (s.median_ns, s.p10_ns, s.p90_ns, s.p99_ns),
            (50, 10, 90, 99)
        );
        assert_eq!((s.min_ns, s.max_ns, s.count), (1, 100, 100));
        assert!((s.mean_ns - 50.5).abs() < 1e-9);
    }

    #[test]
    fn empty_and_single() {
        assert!(stats(&[]).is_none());
        let s = stats(&[7]).unwrap();
        assert_eq!((s.median_ns, s.p99_ns), (7, 7));
    }
}
