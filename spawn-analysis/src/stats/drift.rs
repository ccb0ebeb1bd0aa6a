//! Is the machine stable over the runs? A trend over runs (Mann-Kendall), runs far from the
//! others (outliers by MAD), and order effects (a side that is slower when it runs first). The
//! interleaved designs keep comparisons fair under drift; these checks say when absolute
//! numbers are not stable, in the same words everywhere ([`warnings`]).

use super::median_f64;

/// |z| above this is a trend at the 1% level.
pub const TREND_Z: f64 = 2.58;
/// A run further than this many scaled MADs from the median is an outlier.
pub const OUTLIER_MADS: f64 = 5.0;
/// A side whose runs in first position differ from its other runs by more than this fraction
/// has an order effect.
pub const ORDER_EFFECT: f64 = 0.10;

/// Mann-Kendall trend test of values in run order: the z score of Kendall's S against run
/// index (continuity-corrected, no tie correction). 0 for fewer than 3 values.
pub fn trend_z(values: &[f64]) -> f64 {
    let v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = v.len();
    if n < 3 {
        return 0.0;
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += match v[j].total_cmp(&v[i]) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
    }
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let s = s as f64;
    (s - s.signum()) / var.sqrt()
}

/// Indices of values further than [`OUTLIER_MADS`] scaled MADs from the median (a run
/// disturbed by something else on the machine), robust to the outliers themselves.
pub fn outliers(values: &[f64]) -> Vec<usize> {
    let Some(med) = median_f64(values) else {
        return Vec::new();
    };
    let dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    let mad = median_f64(&dev).unwrap_or(0.0) * 1.4826;
    if mad <= 0.0 {
        return Vec::new();
    }
    (0..values.len())
        .filter(|&i| dev[i] > OUTLIER_MADS * mad)
        .collect()
}

/// median(runs in first position) / median(other runs) - 1, when each group has at least 3
/// runs; `position[i]` is where run `i`'s side ran in its block (0 = first).
pub fn order_effect(values: &[f64], position: &[usize]) -> Option<f64> {
    let group = |first: bool| -> Vec<f64> {
        values
            .iter()
            .zip(position)
            .filter(|(_, p)| (**p == 0) == first)
            .map(|(v, _)| *v)
            .collect()
    };
    let (f, l) = (group(true), group(false));
    if f.len() < 3 || l.len() < 3 {
        return None;
    }
    Some(median_f64(&f)? / median_f64(&l)? - 1.0)
}

/// The drift warnings for one side's per-run values (in run order), with its position in each
/// block when known: trend, outlier runs, order effect. Empty when the runs look stable.
pub fn warnings(
    label: &str,
    what: &str,
    values: &[f64],
    position: Option<&[usize]>,
) -> Vec<String> {
    let mut w = Vec::new();
    let z = trend_z(values);
    if z.abs() > TREND_Z {
        w.push(format!(
            "{label}: {what} drifts over the runs (Mann-Kendall z = {z:.1}); the interleaving keeps comparisons fair, but absolute values are not stable"
        ));
    }
    let out = outliers(values);
    if !out.is_empty() {
        w.push(format!(
            "{label}: {} outlier run(s) (more than {OUTLIER_MADS} MADs from the median): {:?}",
            out.len(),
            out.iter().map(|i| i + 1).collect::<Vec<_>>()
        ));
    }
    if let Some(e) = position.and_then(|p| order_effect(values, p))
        && e.abs() > ORDER_EFFECT
    {
        w.push(format!(
            "{label}: order effect: {:.0}% {} when it ran first in a run",
            e.abs() * 100.0,
            if e > 0.0 { "slower" } else { "faster" }
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_and_outliers() {
        let rising: Vec<f64> = (0..10).map(f64::from).collect();
        assert!(trend_z(&rising) > TREND_Z);
        let flat = [5.0, 4.0, 6.0, 5.0, 4.0, 6.0, 5.0, 4.0, 6.0, 5.0];
        assert!(trend_z(&flat).abs() < TREND_Z);
        let mut v = vec![100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 100.0];
        v.push(400.0);
        assert_eq!(outliers(&v), vec![7]);
        assert!(outliers(&[1.0, 1.0, 1.0]).is_empty());
    }

    #[test]
    fn order_effects_and_warnings() {
        let v = [120.0, 100.0, 121.0, 99.0, 119.0, 101.0];
        let pos = [0, 1, 0, 1, 0, 1];
        let e = order_effect(&v, &pos).unwrap();
        assert!((e - 0.2).abs() < 1e-9, "{e}");
        assert_eq!(order_effect(&v[..4], &pos[..4]), None);
        let w = warnings("A", "wall time", &v, Some(&pos));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("20% slower when it ran first"), "{w:?}");
        let rising: Vec<f64> = (0..10).map(f64::from).collect();
        assert!(warnings("B", "wall time", &rising, None)[0].contains("drifts over the runs"));
        assert!(warnings("C", "wall time", &[1.0, 1.1, 0.9, 1.0], None).is_empty());
    }
}
