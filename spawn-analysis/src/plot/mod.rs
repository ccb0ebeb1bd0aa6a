//! Phase plots: one stacked bar per group of spawns (per program, per input file or per clone
//! call), segments being the median of each phase, plus a second chart of page-fault time.
//!
//! The grouping and the medians ([`bars`]) are pure and unit-tested; [`svg`] draws them with
//! plotters and [`files`] writes the files of `spawnprof report`.
use std::collections::BTreeMap;

use crate::phase::Phase;
use crate::record::{SpawnKind, SpawnRecord};
use crate::stats::Samples;

pub mod files;
pub mod svg;
pub mod timeline;

/// Leaf phases in time order: the segments of a bar. Exec and startup are shown by their
/// sub-phases, so that "which part of exec" is visible; the rest are main phases.
pub const LEAVES: [Phase; 13] = Phase::LEAVES;

/// Sides of a spawn that page faults are charged to, in the order of [`Bar::fault_ns`].
pub const FAULT_SIDES: [&str; 3] = ["child pre-exec", "parent after fork", "child post-exec"];

/// How records are put into bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarsBy {
    /// The exec'd program (basename).
    Program,
    /// The input file the record came from (its stem): one file per strategy, for instance.
    File,
    /// The clone-family syscall and its flags, e.g. `clone3 VM|VFORK|PIDFD`.
    Clone,
}

impl std::str::FromStr for BarsBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "program" => Ok(BarsBy::Program),
            "file" => Ok(BarsBy::File),
            "clone" => Ok(BarsBy::Clone),
            _ => Err(format!("unknown grouping {s:?} (program, file, clone)")),
        }
    }
}

/// One bar: medians over the complete, successful exec spawns of one group.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// The group's name under the [`BarsBy`] used (program, file stem or clone call).
    pub label: String,
    /// How many records the medians are taken over.
    pub n: usize,
    /// Median ns of each of [`LEAVES`] (a phase a record does not have counts as 0 for it,
    /// e.g. no teardown after a CLONE_VM spawn, no startup for a static program).
    pub leaves: [f64; LEAVES.len()],
    /// Median of the records' totals (the segments' sum can differ: medians do not add).
    pub total: f64,
    /// Median spawn overhead: total minus run.
    pub overhead: f64,
    /// Median fault time per spawn on each of [`FAULT_SIDES`].
    pub fault_ns: [f64; 3],
    /// Mean fault count per spawn on each side.
    pub fault_count: [f64; 3],
}

/// Leaf value of one record (0 when the record has no such phase).
fn leaf(r: &SpawnRecord, phase: Phase) -> u64 {
    let p = &r.phases_ns;
    match phase {
        // A startup without sub-phases (a loader mark was missing) is shown as init.
        Phase::StartupInit if p.startup_loader.is_none() && p.startup_init.is_none() => {
            p.startup.unwrap_or(0)
        }
        _ => p.get(phase).unwrap_or(0),
    }
}

/// Whether a record is a spawn whose phases can be compared: a complete, successful exec.
pub fn usable(r: &SpawnRecord) -> bool {
    r.kind == SpawnKind::Exec
        && r.complete
        && r.exec.as_ref().is_some_and(|e| e.ret == Some(0))
        && r.total_ns.is_some()
}

/// The label of `r` under `by`; `file` is the stem of the input it came from.
pub fn label(r: &SpawnRecord, by: BarsBy, file: &str) -> String {
    match by {
        BarsBy::File => file.to_string(),
        BarsBy::Program => r.program().unwrap_or("?").to_string(),
        BarsBy::Clone => {
            let call = r.clone_syscall.map_or("?", |c| c.as_str());
            let flags: Vec<&str> = r
                .clone_flag_names
                .iter()
                .filter(|f| f.starts_with("CLONE_"))
                .map(|f| f.trim_start_matches("CLONE_"))
                .collect();
            format!("{call} {}", flags.join("|")).trim_end().to_string()
        }
    }
}

/// Bars from labelled records, in order of first appearance of each label. Unusable records
/// (see [`usable`]) are skipped; the caller reports how many.
pub fn bars<'a>(records: impl IntoIterator<Item = (String, &'a SpawnRecord)>) -> Vec<Bar> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&SpawnRecord>> = BTreeMap::new();
    for (label, r) in records {
        if !usable(r) {
            continue;
        }
        if !groups.contains_key(&label) {
            order.push(label.clone());
        }
        groups.entry(label).or_default().push(r);
    }
    order
        .into_iter()
        .map(|label| {
            let rs = &groups[&label];
            let median = |f: &dyn Fn(&SpawnRecord) -> u64| {
                let mut s = Samples::new();
                rs.iter().for_each(|r| s.push(f(r)));
                s.median().unwrap_or(0.0)
            };
            let mut leaves = [0.0; LEAVES.len()];
            for (i, &phase) in LEAVES.iter().enumerate() {
                leaves[i] = median(&|r| leaf(r, phase));
            }
            let sides = |r: &SpawnRecord| {
                let f = &r.faults;
                [f.child_pre_exec, f.parent_after_fork, f.child_post_exec]
            };
            let mut fault_ns = [0.0; 3];
            let mut fault_count = [0.0; 3];
            for i in 0..3 {
                fault_ns[i] = median(&|r| sides(r)[i].time_ns);
                fault_count[i] =
                    rs.iter().map(|r| sides(r)[i].count as f64).sum::<f64>() / rs.len() as f64;
            }
            Bar {
                n: rs.len(),
                total: median(&|r| r.total_ns.unwrap_or(0)),
                overhead: median(&|r| {
                    let run = r.phases_ns.run.unwrap_or(0);
                    r.total_ns.unwrap_or(0).saturating_sub(run)
                }),
                label,
                leaves,
                fault_ns,
                fault_count,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ExecInfo, Phases};

    fn rec(pid: u32, copy: u64, teardown: Option<u64>) -> SpawnRecord {
        let mut r = SpawnRecord::new(pid, SpawnKind::Exec);
        r.complete = true;
        r.exec = Some(ExecInfo::ok("/bin/true"));
        r.phases_ns = Phases {
            copy: Some(copy),
            exec_teardown: teardown,
            startup: Some(50),
            reap: Some(10),
            ..Default::default()
        };
        r.total_ns = Some(copy + teardown.unwrap_or(0) + 60);
        r.faults.parent_after_fork.count = pid.into();
        r.faults.parent_after_fork.time_ns = 3;
        r
    }

    #[test]
    fn medians_per_leaf_and_missing_phases_count_as_zero() {
        let rs = [
            rec(1, 100, Some(7)),
            rec(2, 300, None),
            rec(3, 200, Some(9)),
        ];
        let mut failed = rec(4, 1_000_000, None);
        failed.complete = false;
        let b = bars(
            rs.iter()
                .chain([&failed])
                .map(|r| (label(r, BarsBy::Program, "x"), r)),
        );
        assert_eq!(b.len(), 1);
        let b = &b[0];
        assert_eq!((b.label.as_str(), b.n), ("true", 3));
        let at = |n: Phase| b.leaves[LEAVES.iter().position(|&l| l == n).unwrap_or(0)];
        assert_eq!(at(Phase::Copy), 200.0);
        assert_eq!(at(Phase::ExecTeardown), 7.0);
        // No loader/init sub-phases: the whole startup is shown as init.
        assert_eq!(
            (at(Phase::StartupLoader), at(Phase::StartupInit)),
            (0.0, 50.0)
        );
        assert_eq!(b.fault_ns[1], 3.0);
        assert_eq!(b.fault_count[1], 2.0);
    }

    #[test]
    fn labels_by_file_and_clone_keep_first_appearance_order() {
        let mut r = rec(1, 1, None);
        r.clone_syscall = Some(crate::record::CloneSyscall::Clone3);
        r.clone_flag_names = vec!["CLONE_VM".into(), "CLONE_VFORK".into(), "SIGCHLD".into()];
        assert_eq!(label(&r, BarsBy::Clone, "f"), "clone3 VM|VFORK");
        let rs = [rec(1, 1, None), rec(2, 2, None)];
        let b = bars([("zeta".to_string(), &rs[0]), ("alpha".to_string(), &rs[1])]);
        let names: Vec<_> = b.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        assert!("nope".parse::<BarsBy>().is_err());
    }
}
