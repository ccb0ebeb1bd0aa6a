//! The Prometheus/OpenMetrics view of the records: phase histograms in seconds, spawn
//! counters by clone syscall and outcome, fault counters, losses, and the tracer's own cost.
//! No I/O: [`Metrics::encode`] gives the exposition text that `serve` hands out.
//!
//! Label cardinality is bounded: the `program` label takes the top-N programs (see
//! [`TopLabels`]), the rest are `other`; every other label has a fixed set of values.
use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::{Registry, Unit},
};

use super::Health;
use super::agg::{Outcome, PHASES, creation_seen, program_key};
use super::container_metrics::ContainerMetrics;
use super::labels::TopLabels;
use super::prom::{HistFamily, Labels, register, register_with_unit, seconds_family};
use spawn_analysis::record::{CloneSyscall, SpawnKind, SpawnRecord};

/// A counter that mirrors an absolute value read elsewhere (a kernel counter, getrusage).
fn mirror(c: &Counter, now: u64) {
    let have = c.get();
    if now > have {
        c.inc_by(now - have);
    }
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    labels: TopLabels,
    phase: HistFamily,
    total: HistFamily,
    spawns: Family<Labels, Counter>,
    threads: Counter,
    incomplete: Counter,
    partial: Counter,
    faults: Family<Labels, Counter>,
    fault_seconds: Family<Labels, Counter<f64, std::sync::atomic::AtomicU64>>,
    lost_events: Counter,
    decode_errors: Counter,
    late_events: Counter,
    evicted_records: Counter,
    losses: Family<Labels, Counter>,
    kernel_spawns: Counter,
    open_records: Gauge,
    cpu_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    rss_bytes: Gauge,
    /// Per-container series (bounded; see `container_metrics`).
    pub containers: ContainerMetrics,
}

impl Metrics {
    /// `top_programs`: how many programs get their own `program` label.
    pub fn new(top_programs: usize) -> Self {
        let mut r = Registry::with_prefix("spawnprof");
        Metrics {
            labels: TopLabels::new(top_programs),
            phase: register_with_unit(
                &mut r,
                "phase",
                "Time per main phase of a spawn (copy, queue, setup, exec, startup, run, reap)",
                Unit::Seconds,
                seconds_family(),
            ),
            total: register_with_unit(
                &mut r,
                "spawn",
                "Time from the clone call to the reap",
                Unit::Seconds,
                seconds_family(),
            ),
            spawns: register(
                &mut r,
                "spawns",
                "Processes spawned, by clone-family syscall and outcome (exec_ok, exec_failed, no_exec, warm, unknown)",
            ),
            threads: register(&mut r, "threads", "Threads created (CLONE_THREAD)"),
            incomplete: register(
                &mut r,
                "incomplete_records",
                "Records some of whose phase boundaries were not seen",
            ),
            partial: register(
                &mut r,
                "partial_records",
                "Processes seen only after their creation (already running when tracing started): not counted as spawns",
            ),
            faults: register(
                &mut r,
                "faults",
                "Page faults charged to spawns, by side (child_pre_exec, parent_after_fork, child_post_exec) and kind (all, cow, major)",
            ),
            fault_seconds: register_with_unit(
                &mut r,
                "fault_time",
                "Time spent in the timed page faults, by side",
                Unit::Seconds,
                Family::default(),
            ),
            lost_events: register(
                &mut r,
                "lost_events",
                "Events the probes dropped because the ring buffer was full",
            ),
            decode_errors: register(&mut r, "decode_errors", "Events that could not be decoded"),
            late_events: register(
                &mut r,
                "late_events",
                "Events that arrived after their reorder window",
            ),
            evicted_records: register(
                &mut r,
                "evicted_records",
                "Records released early to bound memory (stale partial ones, or too many open)",
            ),
            losses: register(
                &mut r,
                "losses",
                "Everything lost, by kind (ring_buffer_full, ring_buffer_full_spawns, followed_map_full, fault_state_map_full, startup_map_full, waitid_map_full, decode_errors, evicted_records)",
            ),
            kernel_spawns: register(
                &mut r,
                "kernel_spawns",
                "Spawns in scope as the probes count them at task_newtask, before anything can be lost: records (spawnprof_spawns_total + threads) + lost spawns add up to it",
            ),
            open_records: register(&mut r, "open_records", "Spawns in flight in the assembler"),
            cpu_seconds: register_with_unit(
                &mut r,
                "tracer_cpu",
                "CPU time (user + system) of spawnprof itself",
                Unit::Seconds,
                Counter::default(),
            ),
            rss_bytes: register_with_unit(
                &mut r,
                "tracer_resident_memory",
                "Resident memory of spawnprof itself",
                Unit::Bytes,
                Gauge::default(),
            ),
            containers: ContainerMetrics::new(&mut r),
            registry: r,
        }
    }

    pub fn observe(&mut self, r: &SpawnRecord) {
        if r.kind == SpawnKind::Thread {
            self.threads.inc();
            return;
        }
        if !creation_seen(r) {
            self.partial.inc();
            return;
        }
        if !r.complete {
            self.incomplete.inc();
        }
        let syscall = r.clone_syscall.map_or("unknown", CloneSyscall::as_str);
        self.spawns
            .get_or_create(&vec![
                ("syscall", syscall.to_string()),
                ("outcome", Outcome::of(r).as_str().to_string()),
            ])
            .inc();
        let key = program_key(r);
        let program = self.labels.label(&key).to_string();
        for p in PHASES {
            if let Some(v) = r.phases_ns.get(p) {
                self.phase
                    .get_or_create(&vec![
                        ("phase", p.to_string()),
                        ("program", program.clone()),
                    ])
                    .observe(v as f64 / 1e9);
            }
        }
        if let Some(t) = r.total_ns {
            self.total
                .get_or_create(&vec![("program", program)])
                .observe(t as f64 / 1e9);
        }
        let f = &r.faults;
        for (side, c) in [
            ("child_pre_exec", &f.child_pre_exec),
            ("parent_after_fork", &f.parent_after_fork),
            ("child_post_exec", &f.child_post_exec),
        ] {
            for (kind, n) in [("all", c.count), ("cow", c.cow), ("major", c.major)] {
                if n > 0 {
                    self.faults
                        .get_or_create(&vec![("side", side.to_string()), ("kind", kind.into())])
                        .inc_by(n);
                }
            }
            if c.time_ns > 0 {
                self.fault_seconds
                    .get_or_create(&vec![("side", side.to_string())])
                    .inc_by(c.time_ns as f64 / 1e9);
            }
        }
    }

    /// The pipeline's health and the tracer's own cost (absolute values).
    pub fn set_health(&self, h: &Health, cpu_seconds: f64, rss_bytes: u64) {
        mirror(&self.lost_events, h.lost_events);
        mirror(&self.decode_errors, h.decode_errors);
        mirror(&self.late_events, h.assembler.late_events);
        mirror(&self.evicted_records, h.assembler.evicted);
        for (kind, n) in h.losses.kinds() {
            mirror(
                &self.losses.get_or_create(&vec![("kind", kind.to_string())]),
                n,
            );
        }
        mirror(&self.kernel_spawns, h.losses.spawns);
        self.open_records
            .set(i64::try_from(h.open_records).unwrap_or(i64::MAX));
        let have = self.cpu_seconds.get();
        if cpu_seconds > have {
            self.cpu_seconds.inc_by(cpu_seconds - have);
        }
        self.rss_bytes
            .set(i64::try_from(rss_bytes).unwrap_or(i64::MAX));
    }

    /// Re-ranks the `program` label; the series of programs that lost it are removed (their
    /// later spawns count under `other`).
    pub fn rotate_labels(&mut self) {
        for name in self.labels.rotate() {
            for p in PHASES {
                self.phase
                    .remove(&vec![("phase", p.to_string()), ("program", name.clone())]);
            }
            self.total.remove(&vec![("program", name)]);
        }
        self.containers.rotate();
    }

    /// The OpenMetrics text (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a metric.
        if let Err(e) = encode(&mut s, &self.registry) {
            log::error!("encoding metrics: {e}");
        }
        s
    }
}

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::agg::tests::rec;

    /// The value of the sample line that starts with `prefix`.
    fn sample(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn counts_histograms_and_health() {
        let mut m = Metrics::new(1);
        for _ in 0..3 {
            let mut r = rec("sh", Some(("/bin/true", 0)), 2_000_000);
            r.clone_syscall = Some(CloneSyscall::Vfork);
            m.observe(&r);
        }
        let mut failed = rec("sh", Some(("/nope", -2)), 1_000_000);
        failed.clone_syscall = Some(CloneSyscall::Clone);
        m.observe(&failed);
        m.observe(&SpawnRecord::new(3, SpawnKind::Thread));
        m.observe(&SpawnRecord::new(4, SpawnKind::Unknown));
        let mut h = Health {
            lost_events: 5,
            open_records: 2,
            ..Default::default()
        };
        h.losses.followed_full = 3;
        h.losses.spawns = 9;
        m.set_health(&h, 1.5, 4096);
        m.set_health(&h, 1.5, 4096);
        let t = m.encode();
        let count = |p: &str| sample(&t, p).unwrap_or(-1.0);
        assert_eq!(
            count(r#"spawnprof_spawns_total{syscall="vfork",outcome="exec_ok"}"#),
            3.0,
            "{t}"
        );
        assert_eq!(
            count(r#"spawnprof_spawns_total{syscall="clone",outcome="exec_failed"}"#),
            1.0
        );
        assert_eq!(count("spawnprof_threads_total"), 1.0);
        assert_eq!(count("spawnprof_partial_records_total"), 1.0);
        assert_eq!(count(r#"spawnprof_spawns_total{syscall="unknown""#), -1.0);
        // One program label: "true" took it, "nope" is "other".
        assert_eq!(
            count(r#"spawnprof_phase_seconds_count{phase="exec",program="true"}"#),
            3.0
        );
        assert_eq!(
            count(r#"spawnprof_phase_seconds_count{phase="exec",program="other"}"#),
            1.0
        );
        // 2 ms spawns are in the 2.048 ms bucket, not the 1.024 ms one.
        assert_eq!(
            count(r#"spawnprof_spawn_seconds_bucket{le="0.002048",program="true"}"#),
            3.0,
            "{t}"
        );
        assert_eq!(
            count(r#"spawnprof_spawn_seconds_bucket{le="0.001024",program="true"}"#),
            0.0
        );
        assert_eq!(
            count(r#"spawnprof_faults_total{side="parent_after_fork",kind="cow"}"#),
            12.0
        );
        // Absolute values are mirrored, not added twice.
        assert_eq!(count("spawnprof_lost_events_total"), 5.0);
        assert_eq!(
            count(r#"spawnprof_losses_total{kind="followed_map_full"}"#),
            3.0
        );
        assert_eq!(
            count(r#"spawnprof_losses_total{kind="startup_map_full"}"#),
            0.0
        );
        assert_eq!(count("spawnprof_kernel_spawns_total"), 9.0);
        assert_eq!(count("spawnprof_tracer_cpu_seconds_total"), 1.5);
        assert_eq!(count("spawnprof_open_records"), 2.0);
        assert!(t.trim_end().ends_with("# EOF"));
    }

    #[test]
    fn program_label_is_bounded_and_rotates() {
        let mut m = Metrics::new(2);
        for i in 0..50 {
            m.observe(&rec("sh", Some((&format!("/bin/p{i}"), 0)), 1000));
        }
        for _ in 0..10 {
            m.observe(&rec("sh", Some(("/bin/hot", 0)), 1000));
        }
        let programs = |t: &str| {
            let mut v: Vec<String> = t
                .lines()
                .filter(|l| l.starts_with("spawnprof_spawn_seconds_count"))
                .filter_map(|l| {
                    l.split("program=\"")
                        .nth(1)?
                        .split('"')
                        .next()
                        .map(String::from)
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(programs(&m.encode()), ["other", "p0", "p1"]);
        m.rotate_labels();
        m.observe(&rec("sh", Some(("/bin/hot", 0)), 1000));
        let t = m.encode();
        assert_eq!(programs(&t), ["hot", "other", "p1"], "{t}");
    }
}
