//! Per-container series of `serve`: spawns, spawn time and forks from big parents, labelled
//! `runtime`, `container_id` and `pod_uid`. A node runs an unbounded stream of containers
//! (every pod restart is a new id), so only the top N (by spawns, re-ranked each label epoch
//! like the `program` label) get their own series; the rest share `container_id="other"`,
//! and every series that lost its labels is counted. Spawns outside any container are not
//! here (they are in the host-wide series).
use std::collections::HashMap;

use prometheus_client::{
    metrics::{counter::Counter, family::Family},
    registry::{Registry, Unit},
};

use super::labels::{OTHER, TopLabels};
use super::prom::{HistFamily, Labels, register, register_with_unit, seconds_family};
use spawn_analysis::record::{SpawnKind, SpawnRecord};

/// Containers with their own series unless told otherwise (`serve --top-containers`).
pub const DEFAULT_TOP: usize = 50;
/// A parent above this resident size makes a fork "big" unless told otherwise (1 GiB).
pub const DEFAULT_BIG_PARENT: u64 = 1 << 30;

#[derive(Debug)]
pub struct ContainerMetrics {
    labels: TopLabels,
    /// Label sets of the labelled keys, to remove their series when they lose the label.
    sets: HashMap<String, Labels>,
    big_parent_bytes: u64,
    spawns: Family<Labels, Counter>,
    seconds: HistFamily,
    big_forks: Family<Labels, Counter>,
    evictions: Counter,
}

impl ContainerMetrics {
    pub fn new(r: &mut Registry) -> Self {
        ContainerMetrics {
            labels: TopLabels::new(DEFAULT_TOP),
            sets: HashMap::new(),
            big_parent_bytes: DEFAULT_BIG_PARENT,
            spawns: register(
                r,
                "container_spawns",
                "Processes spawned per container (top N containers by spawns; the rest are container_id=\"other\")",
            ),
            seconds: register_with_unit(
                r,
                "container_spawn",
                "Time from the clone call to the reap, per container",
                Unit::Seconds,
                seconds_family(),
            ),
            big_forks: register(
                r,
                "container_big_parent_forks",
                "Forks (page tables copied: no CLONE_VM) whose parent's resident memory was above the threshold (serve --big-parent), per container; the parent's RSS is read when the record completes",
            ),
            evictions: register(
                r,
                "container_label_evictions",
                "Containers that lost their own series to busier ones (their later spawns count under container_id=\"other\")",
            ),
        }
    }

    /// How many containers get series of their own and what makes a parent big.
    pub fn set_limits(&mut self, top: usize, big_parent_bytes: u64) {
        self.labels = TopLabels::new(top);
        self.big_parent_bytes = big_parent_bytes;
    }

    /// Whether `r` is a fork whose parent's size matters (page tables are copied).
    pub fn is_fork(r: &SpawnRecord) -> bool {
        r.kind != SpawnKind::Thread
            && r.ppid.is_some()
            && r.clone_flags
                .is_some_and(|f| f & spawn_common::clone_flags::CLONE_VM == 0)
    }

    /// Counts one spawn; `parent_rss` is the parent's resident size when known (forks only).
    pub fn observe(&mut self, r: &SpawnRecord, parent_rss: Option<u64>) {
        let Some(c) = r.ident.container.as_ref() else {
            return;
        };
        if r.kind == SpawnKind::Thread || r.ppid.is_none() {
            return;
        }
        let pod = c.pod_uid.clone().unwrap_or_default();
        let key = format!("{}|{}|{pod}", c.runtime.as_str(), c.id);
        let set: Labels = if self.labels.label(&key) == OTHER {
            vec![
                ("runtime", OTHER.into()),
                ("container_id", OTHER.into()),
                ("pod_uid", OTHER.into()),
            ]
        } else {
            let set = vec![
                ("runtime", c.runtime.as_str().to_string()),
                ("container_id", c.id.clone()),
                ("pod_uid", pod),
            ];
            self.sets.entry(key).or_insert_with(|| set.clone());
            set
        };
        self.spawns.get_or_create(&set).inc();
        if let Some(t) = r.total_ns {
            self.seconds.get_or_create(&set).observe(t as f64 / 1e9);
        }
        if Self::is_fork(r) && parent_rss.is_some_and(|b| b > self.big_parent_bytes) {
            self.big_forks.get_or_create(&set).inc();
        }
    }

    /// Re-ranks the containers; the series of those that lost their label are removed.
    pub fn rotate(&mut self) {
        for key in self.labels.rotate() {
            if let Some(set) = self.sets.remove(&key) {
                self.spawns.remove(&set);
                self.seconds.remove(&set);
                self.big_forks.remove(&set);
                self.evictions.inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::agg::tests::rec;
    use spawn_analysis::container::{Container, Runtime};

    fn in_container(id: &str, fork: bool) -> SpawnRecord {
        let mut r = rec("sh", Some(("/bin/true", 0)), 1_000_000);
        r.clone_flags = Some(if fork { 17 } else { 0x4111 });
        r.ident.container = Some(Container {
            runtime: Runtime::Containerd,
            id: id.into(),
            pod_uid: Some("p-1".into()),
        });
        r
    }

    fn text(r: &Registry) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, r).unwrap_or_default();
        s
    }

    #[test]
    fn top_containers_get_labels_the_rest_is_other() {
        let mut reg = Registry::with_prefix("spawnprof");
        let mut m = ContainerMetrics::new(&mut reg);
        m.set_limits(1, 100);
        for _ in 0..3 {
            m.observe(&in_container("aaa", true), Some(200));
        }
        m.observe(&in_container("bbb", false), Some(200));
        m.observe(&in_container("bbb", false), Some(200));
        // No container: not a container series.
        m.observe(&rec("sh", None, 5), None);
        let t = text(&reg);
        let has = |l: &str| t.lines().any(|x| x == l);
        assert!(
            has(
                r#"spawnprof_container_spawns_total{runtime="containerd",container_id="aaa",pod_uid="p-1"} 3"#
            ),
            "{t}"
        );
        assert!(
            has(
                r#"spawnprof_container_spawns_total{runtime="other",container_id="other",pod_uid="other"} 2"#
            ),
            "{t}"
        );
        // Big-parent forks: the forks from a 200-byte parent over a 100-byte threshold, not
        // the vforks.
        assert!(
            has(
                r#"spawnprof_container_big_parent_forks_total{runtime="containerd",container_id="aaa",pod_uid="p-1"} 3"#
            ),
            "{t}"
        );
        assert!(
            !t.contains(r#"big_parent_forks_total{runtime="other""#),
            "{t}"
        );
        // aaa 3, bbb 2 in that epoch: aaa keeps its slot; then bbb 5, aaa 0: bbb takes it.
        m.rotate();
        for _ in 0..5 {
            m.observe(&in_container("bbb", false), None);
        }
        m.rotate();
        let t = text(&reg);
        assert!(!t.contains(r#"container_id="aaa""#), "{t}");
        assert!(
            t.contains("spawnprof_container_label_evictions_total 1"),
            "{t}"
        );
    }
}
