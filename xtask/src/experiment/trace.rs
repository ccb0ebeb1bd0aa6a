//! Reading `spawnprof trace --json` output with spawn-analysis's record schema (the one
//! schema: `spawn_analysis::record::SpawnRecord`), and the quantities the experiments take
//! from a record: a phase (named by `spawn_analysis::phase::Phase`), fault time, or the wall
//! time the trace does not cover.

use std::{fmt::Write as _, fs, path::Path};

use anyhow::{Context as _, Result};
use spawn_analysis::{phase::Phase, plot::usable, record::SpawnRecord, report::json};

use super::worker::Sample;

/// What an experiment reads from one traced spawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Phase(Phase),
    /// Fault time on every side.
    Faults,
    /// The child's faults before exec.
    FaultsChild,
    /// The parent's copy-on-write faults after the fork.
    FaultsParent,
    /// Wall time minus traced total: user space before the clone and after the wait.
    OutsideTrace,
}

/// A spawn from the clone to the end of exec, in time order: the phases every comparison of
/// strategies (phases) and of parent sizes (fork-in-the-road) looks at.
pub const CLONE_TO_EXEC: [Quantity; 7] = [
    Quantity::Phase(Phase::Copy),
    Quantity::Phase(Phase::Queue),
    Quantity::Phase(Phase::Setup),
    Quantity::Phase(Phase::ExecOpen),
    Quantity::Phase(Phase::ExecTeardown),
    Quantity::Phase(Phase::ExecLoad),
    Quantity::Phase(Phase::ExecFinish),
];

/// `before`, then [`CLONE_TO_EXEC`], then `after`.
pub const fn around<const B: usize, const A: usize, const N: usize>(
    before: [Quantity; B],
    after: [Quantity; A],
) -> [Quantity; N] {
    assert!(
        B + CLONE_TO_EXEC.len() + A == N,
        "N must hold every quantity"
    );
    let mut out = [Quantity::Faults; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < B {
            before[i]
        } else if i < B + CLONE_TO_EXEC.len() {
            CLONE_TO_EXEC[i - B]
        } else {
            after[i - B - CLONE_TO_EXEC.len()]
        };
        i += 1;
    }
    out
}

impl Quantity {
    /// The key in data.json and the tables (a phase's own name).
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Phase(p) => p.name(),
            Quantity::Faults => "faults",
            Quantity::FaultsChild => "faults_child",
            Quantity::FaultsParent => "faults_parent",
            Quantity::OutsideTrace => "outside_trace",
        }
    }

    /// Its value for record `r` whose timed spawn took `wall_ns` (0 for a phase it lacks).
    pub fn of(self, r: &SpawnRecord, wall_ns: f64) -> f64 {
        let f = &r.faults;
        match self {
            Quantity::Phase(p) => r.phases_ns.get(p).unwrap_or(0) as f64,
            Quantity::Faults => fault_ns(r) as f64,
            Quantity::FaultsChild => f.child_pre_exec.time_ns as f64,
            Quantity::FaultsParent => f.parent_after_fork.time_ns as f64,
            Quantity::OutsideTrace => wall_ns - r.total_ns.unwrap_or(0) as f64,
        }
    }
}

/// Fault time charged to this spawn on every side.
pub fn fault_ns(r: &SpawnRecord) -> u64 {
    let f = &r.faults;
    f.child_pre_exec.time_ns + f.parent_after_fork.time_ns + f.child_post_exec.time_ns
}

pub fn fault_count(r: &SpawnRecord) -> u64 {
    let f = &r.faults;
    f.child_pre_exec.count + f.parent_after_fork.count + f.child_post_exec.count
}

pub fn read(path: &Path) -> Result<Vec<SpawnRecord>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            json::from_line(l).with_context(|| format!("{}: bad record {l:.80}", path.display()))
        })
        .collect()
}

/// Lanes whose records carry the `prep` mark: spawn-fast's API in the traced process. The
/// zygote fires the mark too, but its clone happens in the zygote, where no mark precedes it.
pub fn has_mark(lane: &str) -> bool {
    !matches!(lane, "std" | "raw-vfork" | "zygote")
}

/// Each sample a record matched ([`match_samples`]), with a copy of that record; in a lane
/// without the mark ([`has_mark`]; `lanes` names each sample's lane) a stale `prep` is
/// dropped ([`drop_stale_prep`]).
pub fn matched<'a>(
    records: &'a [SpawnRecord],
    samples: &'a [Sample],
    lanes: &'a [&'a str],
) -> impl Iterator<Item = (&'a Sample, SpawnRecord)> + 'a {
    samples
        .iter()
        .zip(match_samples(records, samples))
        .filter_map(move |(s, r)| {
            let mut r = r?.clone();
            if !has_mark(lanes[s.lane]) {
                drop_stale_prep(&mut r);
            }
            Some((s, r))
        })
}

/// For each sample, the usable record whose reap falls inside the sample's `t0..=t1` window.
/// The worker spawns and reaps one child at a time, so at most one reap falls in a window;
/// the clocks are the same (CLOCK_MONOTONIC on both sides). The reap, not the start: a
/// record's start can be a spawn-fast mark left by an earlier spawn (see [`drop_stale_prep`]).
pub fn match_samples<'a>(
    records: &'a [SpawnRecord],
    samples: &[Sample],
) -> Vec<Option<&'a SpawnRecord>> {
    let mut ends: Vec<(u64, &SpawnRecord)> = records
        .iter()
        .filter(|r| usable(r))
        .filter_map(|r| r.t_end_ns.map(|t| (t, r)))
        .collect();
    ends.sort_by_key(|(t, _)| *t);
    samples
        .iter()
        .map(|s| {
            let i = ends.partition_point(|(t, _)| *t < s.t0);
            ends.get(i).filter(|(t, _)| *t <= s.t1).map(|(_, r)| *r)
        })
        .collect()
}

/// Lanes that spawn without spawn-fast (std, raw vfork) have no `spawn_fast_mark_enter`, yet
/// spawnprof can charge them the mark of the previous spawn-fast spawn as `prep` (observed with
/// this worker). For those lanes the prep is removed: start moved to the clone, total reduced,
/// a note saying so.
pub fn drop_stale_prep(r: &mut SpawnRecord) {
    let Some(prep) = r.phases_ns.get(Phase::Prep) else {
        return;
    };
    r.phases_ns.set(Phase::Prep, None);
    r.t_start_ns = r.t_start_ns.map(|t| t + prep);
    r.total_ns = r.total_ns.map(|t| t.saturating_sub(prep));
    r.notes.push(format!(
        "xtask: dropped a stale {} of {prep} ns (no spawn-fast mark in this lane)",
        Phase::Prep
    ));
}

/// Writes `records` as a JSON-lines file (a subset of a trace).
pub fn write_lines<'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a SpawnRecord>,
) -> Result<()> {
    let mut text = String::new();
    for r in records {
        let _ = writeln!(text, "{}", json::to_line(r)?);
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spawn_analysis::record::{ExecInfo, SpawnKind};

    fn rec(pid: u32, start: u64, usable: bool) -> SpawnRecord {
        let mut r = SpawnRecord::new(pid, SpawnKind::Exec);
        r.complete = usable;
        r.t_start_ns = Some(start);
        r.t_end_ns = Some(start + 10);
        r.total_ns = Some(10);
        r.phases_ns.set(Phase::Copy, Some(5));
        r.phases_ns.set(Phase::Prep, Some(3));
        r.faults.child_pre_exec.count = 1;
        r.faults.child_pre_exec.time_ns = 2;
        r.faults.child_post_exec.count = 2;
        r.faults.child_post_exec.time_ns = 3;
        r.exec = Some(ExecInfo {
            filename: "/x".into(),
            ret: Some(0),
            errno_name: None,
            attempts: Vec::new(),
            execs: 1,
            final_filename: None,
        });
        r
    }

    #[test]
    fn records_match_their_windows_and_quantities_read() {
        let rs = vec![rec(1, 150, true), rec(2, 250, false), rec(3, 420, true)];
        assert_eq!(Quantity::Phase(Phase::Copy).of(&rs[0], 0.0), 5.0);
        assert_eq!(Quantity::Phase(Phase::Exec).of(&rs[0], 0.0), 0.0);
        assert_eq!(Quantity::OutsideTrace.of(&rs[0], 25.0), 15.0);
        assert_eq!((fault_ns(&rs[0]), fault_count(&rs[0])), (5, 3));
        assert_eq!(Quantity::Phase(Phase::ExecOpen).name(), "exec_open");
        let sample = |t0, t1| Sample {
            lane: 0,
            round: 0,
            ns: t1 - t0,
            t0,
            t1,
        };
        let samples = [sample(100, 200), sample(200, 300), sample(400, 500)];
        let m: Vec<Option<u64>> = match_samples(&rs, &samples)
            .iter()
            .map(|r| r.and_then(|r| r.t_start_ns))
            .collect();
        // The second window's record is incomplete: no match rather than a wrong one.
        assert_eq!(m, [Some(150), None, Some(420)]);
    }

    #[test]
    fn stale_prep_is_dropped_and_lines_round_trip() {
        let mut r = rec(1, 100, true);
        drop_stale_prep(&mut r);
        assert_eq!(r.phases_ns.get(Phase::Prep), None);
        assert_eq!((r.t_start_ns, r.total_ns), (Some(103), Some(7)));
        let f = std::env::temp_dir().join(format!("xtask-trace-{}.jsonl", std::process::id()));
        write_lines(&f, [&r]).unwrap();
        let back = read(&f).unwrap();
        let _ = fs::remove_file(&f);
        assert_eq!(back, vec![r]);
    }
}
