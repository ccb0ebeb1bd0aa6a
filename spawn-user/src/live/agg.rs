//! Bounded aggregation of records into groups (by parent comm, exec'd program or cgroup):
//! counts, outcomes, latency histograms (hdrhistogram) per main phase, faults. Used by `record`'s summary
//! and interval lines and by `top`. Pure.
use std::collections::HashMap;

use super::hist::LatencyHistogram;
use super::labels::{OTHER, TopLabels};
use spawn_analysis::phase::Phase;
use spawn_analysis::record::{SpawnKind, SpawnRecord};

/// What became of a spawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    ExecOk,
    ExecFailed,
    /// A process that never exec'd (a forked worker).
    NoExec,
    /// A warm spawn: a parked image's `CLONE_PARENT` clone that runs the program without exec.
    Warm,
    /// Not known: tracing stopped inside the exec, or the start of the spawn was not seen.
    Unknown,
}

impl Outcome {
    pub fn of(r: &SpawnRecord) -> Self {
        match (&r.exec, r.kind) {
            (Some(e), _) if e.execs > 0 => Outcome::ExecOk,
            (Some(e), _) if e.ret.is_some_and(|x| x < 0) => Outcome::ExecFailed,
            (Some(_), _) => Outcome::Unknown,
            (None, SpawnKind::ForkOnly) => Outcome::NoExec,
            (None, SpawnKind::Warm) => Outcome::Warm,
            (None, _) => Outcome::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ExecOk => "exec_ok",
            Outcome::ExecFailed => "exec_failed",
            Outcome::NoExec => "no_exec",
            Outcome::Warm => "warm",
            Outcome::Unknown => "unknown",
        }
    }
}

/// How `top` and the summaries group spawns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// The parent's comm: who spawns.
    #[default]
    Parent,
    /// The exec'd program's file name.
    Program,
    /// The parent's cgroup v2 path (looked up in /proc when the record completes).
    Cgroup,
    /// The child's container (`runtime/short id`, or the systemd unit), from the cgroup
    /// the kernel reported at spawn time.
    Container,
    /// The child's Kubernetes pod uid.
    Pod,
}

impl GroupBy {
    pub fn next(self) -> Self {
        match self {
            GroupBy::Parent => GroupBy::Program,
            GroupBy::Program => GroupBy::Cgroup,
            GroupBy::Cgroup => GroupBy::Container,
            GroupBy::Container => GroupBy::Pod,
            GroupBy::Pod => GroupBy::Parent,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            GroupBy::Parent => "PARENT",
            GroupBy::Program => "PROGRAM",
            GroupBy::Cgroup => "PARENT CGROUP",
            GroupBy::Container => "CONTAINER",
            GroupBy::Pod => "POD",
        }
    }

    /// The group of `r`; `cgroup` is the parent's cgroup when grouping by cgroup.
    pub fn key(self, r: &SpawnRecord, cgroup: Option<&str>) -> String {
        match self {
            GroupBy::Parent => r.parent_comm.clone().unwrap_or_else(|| "?".into()),
            GroupBy::Program => program_key(r),
            GroupBy::Cgroup => cgroup.unwrap_or("?").to_string(),
            GroupBy::Container => match &r.ident.container {
                Some(c) => c.short(),
                None => "(no container)".into(),
            },
            GroupBy::Pod => match r.ident.container.as_ref().and_then(|c| c.pod_uid.as_ref()) {
                Some(uid) => uid.clone(),
                None => "(no pod)".into(),
            },
        }
    }
}

/// Whether the record's creation was seen (a parent is known). A process already running
/// when tracing started leaves a partial record when it execs or exits: it is no spawn we
/// measured, so the aggregates count it apart.
pub fn creation_seen(r: &SpawnRecord) -> bool {
    // A warm spawn whose requester was not traced has no ppid, but its clone was seen.
    r.ppid.is_some() || r.cloned_by.is_some()
}

/// The program a spawn ran, or, when it ran none, its kind and comm ("(fork_only: bash)").
pub fn program_key(r: &SpawnRecord) -> String {
    if let Some(p) = r.warm_program() {
        return format!("{p} (warm)");
    }
    match r.program() {
        Some(p) => p.to_string(),
        None if r.comm.is_empty() => format!("({})", r.kind.as_str()),
        None => format!("({}: {})", r.kind.as_str(), r.comm),
    }
}

/// Main phases shown per group (prep and run are there too, for completeness).
pub const PHASES: [Phase; 8] = Phase::MAIN;

/// Totals of one group.
#[derive(Clone, Debug, Default)]
pub struct GroupStats {
    pub spawns: u64,
    pub exec_failed: u64,
    pub no_exec: u64,
    pub complete: u64,
    /// Indexed like [`PHASES`].
    pub phases: [LatencyHistogram; 8],
    pub total: LatencyHistogram,
    /// Copy-on-write faults: the child's before exec and the parent's after the fork.
    pub cow_faults: u64,
    pub faults: u64,
}

impl GroupStats {
    pub fn add(&mut self, r: &SpawnRecord) {
        self.spawns += 1;
        match Outcome::of(r) {
            Outcome::ExecFailed => self.exec_failed += 1,
            Outcome::NoExec => self.no_exec += 1,
            _ => {}
        }
        self.complete += u64::from(r.complete);
        for (h, p) in self.phases.iter_mut().zip(PHASES) {
            if let Some(v) = r.phases_ns.get(p) {
                h.record(v);
            }
        }
        if let Some(t) = r.total_ns {
            self.total.record(t);
        }
        let f = &r.faults;
        self.cow_faults += f.child_pre_exec.cow + f.parent_after_fork.cow;
        self.faults += f.child_pre_exec.count + f.parent_after_fork.count;
    }

    pub fn merge(&mut self, o: &GroupStats) {
        self.spawns += o.spawns;
        self.exec_failed += o.exec_failed;
        self.no_exec += o.no_exec;
        self.complete += o.complete;
        for (a, b) in self.phases.iter_mut().zip(&o.phases) {
            a.merge(b);
        }
        self.total.merge(&o.total);
        self.cow_faults += o.cow_faults;
        self.faults += o.faults;
    }

    pub fn phase(&self, phase: Phase) -> Option<&LatencyHistogram> {
        PHASES
            .iter()
            .position(|&p| p == phase)
            .map(|i| &self.phases[i])
    }
}

/// Groups bounded by [`TopLabels`]: a group that loses its label is merged into "other".
#[derive(Clone, Debug)]
pub struct Agg {
    labels: TopLabels,
    groups: HashMap<String, GroupStats>,
    /// Thread creations: counted, not grouped (they are not spawns).
    pub threads: u64,
    /// Records of processes whose creation was not seen: counted, not grouped.
    pub partial: u64,
    pub records: u64,
}

impl Agg {
    pub fn new(max_groups: usize) -> Self {
        Agg {
            labels: TopLabels::new(max_groups),
            groups: HashMap::new(),
            threads: 0,
            partial: 0,
            records: 0,
        }
    }

    pub fn add(&mut self, key: &str, r: &SpawnRecord) {
        self.records += 1;
        if r.kind == SpawnKind::Thread {
            self.threads += 1;
            return;
        }
        if !creation_seen(r) {
            self.partial += 1;
            return;
        }
        let label = self.labels.label(key);
        self.groups.entry(label.to_string()).or_default().add(r);
    }

    /// End of a label epoch: groups that lost their label are merged into "other".
    pub fn rotate(&mut self) {
        for name in self.labels.rotate() {
            if let Some(g) = self.groups.remove(&name) {
                self.groups.entry(OTHER.to_string()).or_default().merge(&g);
            }
        }
    }

    pub fn groups(&self) -> impl Iterator<Item = (&str, &GroupStats)> {
        self.groups.iter().map(|(k, g)| (k.as_str(), g))
    }

    /// Every group merged.
    pub fn all(&self) -> GroupStats {
        let mut t = GroupStats::default();
        self.groups.values().for_each(|g| t.merge(g));
        t
    }

    /// `self` and `o` merged group by group (for a window made of two halves).
    pub fn merged(&self, o: &Agg) -> HashMap<String, GroupStats> {
        let mut out = self.groups.clone();
        for (k, g) in &o.groups {
            out.entry(k.clone()).or_default().merge(g);
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use spawn_analysis::record::ExecInfo;

    pub(crate) fn rec(parent: &str, prog: Option<(&str, i64)>, total: u64) -> SpawnRecord {
        let mut r = SpawnRecord::new(1, SpawnKind::Exec);
        r.ppid = Some(2);
        r.parent_comm = Some(parent.into());
        r.comm = parent.into();
        r.exec = prog.map(|(f, ret)| ExecInfo {
            filename: f.into(),
            ret: Some(ret),
            errno_name: None,
            attempts: vec![],
            execs: u32::from(ret == 0),
            final_filename: None,
        });
        if prog.is_none() {
            r.kind = SpawnKind::ForkOnly;
        }
        r.total_ns = Some(total);
        r.phases_ns.copy = Some(total / 10);
        r.phases_ns.exec = Some(total / 2);
        r.faults.parent_after_fork.cow = 3;
        r.complete = true;
        r
    }

    #[test]
    fn outcomes() {
        assert_eq!(
            Outcome::of(&rec("sh", Some(("/bin/true", 0)), 1)),
            Outcome::ExecOk
        );
        assert_eq!(
            Outcome::of(&rec("sh", Some(("/x", -2)), 1)),
            Outcome::ExecFailed
        );
        assert_eq!(Outcome::of(&rec("sh", None, 1)), Outcome::NoExec);
        let mut r = rec("sh", None, 1);
        r.kind = SpawnKind::Unknown;
        assert_eq!(Outcome::of(&r), Outcome::Unknown);
    }

    #[test]
    fn groups_by_key_and_bounds_them() {
        let mut a = Agg::new(1);
        for _ in 0..3 {
            let r = rec("bash", Some(("/bin/true", 0)), 1000);
            a.add(&GroupBy::Program.key(&r, None), &r);
        }
        let r = rec("make", Some(("/usr/bin/cc", -13)), 5000);
        a.add(&GroupBy::Program.key(&r, None), &r);
        let mut t = SpawnRecord::new(9, SpawnKind::Thread);
        t.parent_comm = Some("java".into());
        a.add("java", &t);
        a.add("bash", &SpawnRecord::new(10, SpawnKind::Unknown));
        assert_eq!((a.records, a.threads, a.partial), (6, 1, 1));
        let g: HashMap<&str, &GroupStats> = a.groups().collect();
        assert_eq!(g["true"].spawns, 3);
        assert_eq!(g["true"].cow_faults, 9);
        assert_eq!(g[OTHER].exec_failed, 1);
        // exec is half of 1 µs; read back within the histogram's 1% (2 significant figures).
        let exec = g["true"]
            .phase(Phase::Exec)
            .and_then(|h| h.median())
            .unwrap_or(0);
        assert!((495..=505).contains(&exec), "{exec}");
        // "cc" was seen once, "true" three times: no change; the totals survive a rotation.
        a.rotate();
        assert_eq!(a.all().spawns, 4);
        assert_eq!(a.all().total.count(), 4);
    }

    #[test]
    fn evicted_group_merges_into_other() {
        let mut a = Agg::new(1);
        let cold = rec("a", None, 10);
        a.add("a", &cold);
        let hot = rec("b", None, 10);
        for _ in 0..5 {
            a.add("b", &hot);
        }
        a.rotate();
        let g: HashMap<&str, &GroupStats> = a.groups().collect();
        assert!(!g.contains_key("a"));
        assert_eq!(g[OTHER].spawns, 6);
        a.add("b", &hot);
        let g: HashMap<&str, &GroupStats> = a.groups().collect();
        assert_eq!(g["b"].spawns, 1);
        assert_eq!(g[OTHER].no_exec, 6);
    }

    #[test]
    fn warm_spawns_have_their_own_outcome_and_program_key() {
        let mut r = SpawnRecord::new(5, SpawnKind::Warm);
        r.comm = "true".into();
        r.cloned_by = Some(spawn_analysis::record::ClonedBy {
            pid: 4,
            tid: 4,
            record: None,
            comm: "true".into(),
            program: Some("/usr/bin/true".into()),
        });
        assert_eq!(Outcome::of(&r), Outcome::Warm);
        assert_eq!(program_key(&r), "true (warm)");
        assert!(
            creation_seen(&r),
            "its clone was seen though the requester was not traced"
        );
    }
}
