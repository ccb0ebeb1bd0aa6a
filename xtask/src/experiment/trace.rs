//! Reading `spawnprof trace --json` output. xtask does not link spawn-user (that would build
//! the eBPF probes before `cargo xtask setup` could install bpf-linker), so the fields the
//! experiments use are declared here; unknown fields are ignored.

use std::{collections::BTreeMap, fs, path::Path};

use anyhow::{Context as _, Result};
use serde::Deserialize;

use super::worker::Sample;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct FaultCounts {
    pub count: u64,
    pub time_ns: u64,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Faults {
    pub child_pre_exec: FaultCounts,
    pub parent_after_fork: FaultCounts,
    pub child_post_exec: FaultCounts,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Exec {
    pub ret: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Record {
    pub kind: String,
    pub complete: bool,
    pub t_start_ns: Option<u64>,
    pub t_end_ns: Option<u64>,
    pub total_ns: Option<u64>,
    pub phases_ns: BTreeMap<String, Option<u64>>,
    pub faults: Faults,
    pub exec: Option<Exec>,
    /// The JSON line as spawnprof wrote it (to hand subsets to `spawnprof report`).
    #[serde(skip)]
    pub line: String,
}

impl Record {
    pub fn phase(&self, name: &str) -> Option<u64> {
        self.phases_ns.get(name).copied().flatten()
    }

    /// A complete, successful exec spawn (what the phase statistics are about).
    pub fn usable(&self) -> bool {
        self.kind == "exec"
            && self.complete
            && self.total_ns.is_some()
            && self.exec.as_ref().is_some_and(|e| e.ret == Some(0))
    }

    /// Fault time charged to this spawn on every side.
    pub fn fault_ns(&self) -> u64 {
        let f = &self.faults;
        f.child_pre_exec.time_ns + f.parent_after_fork.time_ns + f.child_post_exec.time_ns
    }

    pub fn fault_count(&self) -> u64 {
        let f = &self.faults;
        f.child_pre_exec.count + f.parent_after_fork.count + f.child_post_exec.count
    }
}

pub fn read(path: &Path) -> Result<Vec<Record>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let mut r: Record = serde_json::from_str(l)
                .with_context(|| format!("{}: bad record {l:.80}", path.display()))?;
            r.line = l.to_string();
            Ok(r)
        })
        .collect()
}

/// For each sample, the usable record whose reap falls inside the sample's `t0..=t1` window.
/// The worker spawns and reaps one child at a time, so at most one reap falls in a window;
/// the clocks are the same (CLOCK_MONOTONIC on both sides). The reap, not the start: a
/// record's start can be a spawn-fast mark left by an earlier spawn (see [`drop_stale_prep`]).
pub fn match_samples<'a>(records: &'a [Record], samples: &[Sample]) -> Vec<Option<&'a Record>> {
    let mut starts: Vec<(u64, &Record)> = records
        .iter()
        .filter(|r| r.usable())
        .filter_map(|r| r.t_end_ns.map(|t| (t, r)))
        .collect();
    starts.sort_by_key(|(t, _)| *t);
    samples
        .iter()
        .map(|s| {
            let i = starts.partition_point(|(t, _)| *t < s.t0);
            starts.get(i).filter(|(t, _)| *t <= s.t1).map(|(_, r)| *r)
        })
        .collect()
}

/// Lanes that spawn without spawn-fast (std, raw vfork) have no `spawn_fast_mark_enter`, yet
/// spawnprof can charge them the mark of the previous spawn-fast spawn as `prep` (observed with
/// this worker). For those lanes the prep is removed: start moved to the clone, total reduced,
/// the JSON line rewritten with a note saying so.
pub fn drop_stale_prep(r: &mut Record) -> Result<()> {
    let Some(prep) = r.phase("prep") else {
        return Ok(());
    };
    r.phases_ns.insert("prep".into(), None);
    r.t_start_ns = r.t_start_ns.map(|t| t + prep);
    r.total_ns = r.total_ns.map(|t| t.saturating_sub(prep));
    let mut v: serde_json::Value = serde_json::from_str(&r.line)?;
    v["phases_ns"]["prep"] = serde_json::Value::Null;
    v["t_start_ns"] = r.t_start_ns.into();
    v["total_ns"] = r.total_ns.into();
    if let Some(notes) = v["notes"].as_array_mut() {
        notes.push(
            format!("xtask: dropped a stale prep of {prep} ns (no spawn-fast mark in this lane)")
                .into(),
        );
    }
    r.line = serde_json::to_string(&v)?;
    Ok(())
}

/// Writes the raw lines of `records` as a JSON-lines file (a subset of a trace).
pub fn write_lines<'a>(path: &Path, records: impl IntoIterator<Item = &'a Record>) -> Result<()> {
    let mut text = String::new();
    for r in records {
        text.push_str(&r.line);
        text.push('\n');
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pid: u32, start: u64, usable: bool) -> Record {
        let line = format!(
            r#"{{"pid":{pid},"kind":"exec","complete":{usable},"t_start_ns":{start},"t_end_ns":{},"total_ns":10,
            "phases_ns":{{"copy":5,"exec":null}},"faults":{{"child_pre_exec":{{"count":1,"cow":1,"time_ns":2}},
            "parent_after_fork":{{"count":0,"cow":0,"time_ns":0}},"child_post_exec":{{"count":2,"cow":0,"time_ns":3}}}},
            "exec":{{"ret":0}},"clone_syscall":"clone3","extra":[1]}}"#,
            start + 10
        );
        serde_json::from_str(&line).expect("record")
    }

    #[test]
    fn records_parse_and_match_their_windows() {
        let rs = vec![rec(1, 150, true), rec(2, 250, false), rec(3, 420, true)];
        assert_eq!(rs[0].phase("copy"), Some(5));
        assert_eq!(rs[0].phase("exec"), None);
        assert_eq!((rs[0].fault_ns(), rs[0].fault_count()), (5, 3));
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
}
