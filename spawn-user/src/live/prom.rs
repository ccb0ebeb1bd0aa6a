//! The prometheus_client plumbing [`metrics`](super::metrics) and
//! [`container_metrics`](super::container_metrics) share: the label-set type, the spawn-time
//! histogram buckets, and registering a metric with its help text.
use prometheus_client::{
    metrics::{
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Metric, Registry, Unit},
};

pub type Labels = Vec<(&'static str, String)>;
pub type HistFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// A family of time histograms in seconds, 1 µs to 16.8 s in powers of two: spawns range from
/// tens of µs (vfork of a static binary) to seconds (a fork of a huge parent).
pub fn seconds_family() -> HistFamily {
    fn buckets() -> Histogram {
        Histogram::new(exponential_buckets(1e-6, 2.0, 25))
    }
    HistFamily::new_with_constructor(buckets)
}

/// Registers a new `M` as `name` with its help text and returns it: prometheus_client's
/// metrics are shared handles, so what the caller updates is what the registry encodes.
pub fn register<M: Metric + Clone + Default>(r: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    r.register(name, help, metric.clone());
    metric
}

/// [`register`] with a unit, which the exposition appends to the name.
pub fn register_with_unit<M: Metric + Clone>(
    r: &mut Registry,
    name: &str,
    help: &str,
    unit: Unit,
    metric: M,
) -> M {
    r.register_with_unit(name, help, unit, metric.clone());
    metric
}
