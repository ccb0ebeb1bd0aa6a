//! A summary over many records: per exec'd program, how many spawns, the median and p99 of
//! each phase, and each phase's share of the total time, so that "startup is 85% of
//! /bin/true's spawn" is plain to see. Plus the lost-event count, always shown, because a
//! summary over an incomplete stream must say so.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::fmt_ns;
use crate::phase::Phase;
use crate::record::{SpawnKind, SpawnRecord};
use crate::stats::Samples;

#[derive(Clone, Debug, Default)]
struct Group {
    count: usize,
    complete: usize,
    failed_exec: usize,
    total: Samples,
    clone_syscall: Samples,
    exec_syscall: Samples,
    phases: BTreeMap<Phase, Samples>,
    /// Sums over records with a total, for the shares.
    share_total: u128,
    share_phase: BTreeMap<Phase, u128>,
    pre_exec_faults: u64,
    pre_exec_cow: u64,
    parent_cow: u64,
    post_exec_faults: u64,
    fault_time_ns: u64,
}

/// Accumulates records; [`Summary::render`] gives the text.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    groups: BTreeMap<String, Group>,
    kinds: BTreeMap<&'static str, usize>,
    records: usize,
    lost_events: u64,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Events the probes dropped (ring buffer full), from the probes' counters.
    pub fn set_lost_events(&mut self, n: u64) {
        self.lost_events = n;
    }

    /// The group a record is summarised in: the exec'd program, a warm spawn's program
    /// marked `(warm)`, or its kind.
    fn key(r: &SpawnRecord) -> String {
        match (r.kind, r.program()) {
            (SpawnKind::Thread, _) => {
                format!("(thread of {})", r.parent_comm.as_deref().unwrap_or("?"))
            }
            (_, Some(p)) => match r.exec.as_ref().and_then(|e| e.errno_name.as_deref()) {
                Some(err) => format!("{p} [{err}]"),
                None => p.to_string(),
            },
            (SpawnKind::ForkOnly, None) => format!("(fork only: {})", r.comm),
            // Apart from the same program's exec spawns: no exec, no loader.
            (SpawnKind::Warm, None) => format!("{} (warm)", r.warm_program().unwrap_or("?")),
            (_, None) => format!("({}: {})", r.kind.as_str(), r.comm),
        }
    }

    /// Counts one record in its group (the exec'd program, or the kind for records without
    /// one); phases that were not measured are left out of that phase's statistics.
    pub fn add(&mut self, r: &SpawnRecord) {
        self.records += 1;
        *self.kinds.entry(r.kind.as_str()).or_default() += 1;
        let g = self.groups.entry(Self::key(r)).or_default();
        g.count += 1;
        g.complete += usize::from(r.complete);
        g.failed_exec += usize::from(
            r.exec
                .as_ref()
                .is_some_and(|e| e.ret.is_some_and(|x| x < 0)),
        );
        if let Some(t) = r.total_ns {
            g.total.push(t);
            g.share_total += u128::from(t);
        }
        r.clone_syscall_ns
            .into_iter()
            .for_each(|v| g.clone_syscall.push(v));
        r.exec_syscall_ns
            .into_iter()
            .for_each(|v| g.exec_syscall.push(v));
        for p in Phase::ALL {
            if let Some(v) = r.phases_ns.get(p) {
                g.phases.entry(p).or_default().push(v);
                if r.total_ns.is_some() {
                    *g.share_phase.entry(p).or_default() += u128::from(v);
                }
            }
        }
        let f = &r.faults;
        g.pre_exec_faults += f.child_pre_exec.count;
        g.pre_exec_cow += f.child_pre_exec.cow;
        g.parent_cow += f.parent_after_fork.cow;
        g.post_exec_faults += f.child_post_exec.count;
        g.fault_time_ns +=
            f.child_pre_exec.time_ns + f.parent_after_fork.time_ns + f.child_post_exec.time_ns;
    }

    /// Programs (group names), most spawned first.
    pub fn programs(&self) -> Vec<String> {
        let mut v: Vec<(&String, usize)> = self.groups.iter().map(|(k, g)| (k, g.count)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }

    /// Share (0..=1) of the total spawn time spent in `phase`, over the records of `program`
    /// that have a total. The main phases' shares add up to 1 when every phase was measured;
    /// a sub-phase's share is part of its main phase's.
    pub fn share(&self, program: &str, phase: Phase) -> Option<f64> {
        let g = self.groups.get(program)?;
        let p = *g.share_phase.get(&phase)?;
        (g.share_total > 0).then(|| p as f64 / g.share_total as f64)
    }

    /// The summary as text: a header with record and lost-event counts, then one block per
    /// group, most spawned first.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(
            out,
            "spawn summary: {} records ({})",
            self.records,
            kinds.join(", ")
        );
        let _ = writeln!(out, "lost events: {}", self.lost_events);
        for name in self.programs() {
            let Some(g) = self.groups.get(&name) else {
                continue;
            };
            let _ = writeln!(
                out,
                "\n{name}: {} spawns, {} complete{}",
                g.count,
                g.complete,
                if g.failed_exec > 0 {
                    format!(", {} failed exec", g.failed_exec)
                } else {
                    String::new()
                }
            );
            let _ = writeln!(
                out,
                "  {:<16} {:>4} {:>9} {:>9} {:>7}",
                "phase", "n", "median", "p99", "share"
            );
            let mut line = |label: String, s: Option<&Samples>, share: Option<f64>| {
                let Some(s) = s.filter(|s| !s.is_empty()) else {
                    return;
                };
                let mut s = s.clone();
                let q = |v: Option<f64>| v.map_or("-".into(), |v| fmt_ns(v.round() as u64));
                let share = share.map_or(String::new(), |x| format!("{:.1}%", x * 100.0));
                let _ = writeln!(
                    out,
                    "  {label:<16} {:>4} {:>9} {:>9} {share:>7}",
                    s.len(),
                    q(s.median()),
                    q(s.p99())
                );
            };
            for p in Phase::MAIN {
                line(p.to_string(), g.phases.get(&p), self.share(&name, p));
                for sub in p.children() {
                    line(
                        format!("  {sub}"),
                        g.phases.get(&sub),
                        self.share(&name, sub),
                    );
                }
            }
            line("total".into(), Some(&g.total), None);
            line("clone syscall".into(), Some(&g.clone_syscall), None);
            line("exec syscall".into(), Some(&g.exec_syscall), None);
            let n = g.count as f64;
            let _ = writeln!(
                out,
                "  faults per spawn: child pre-exec {:.1} (cow {:.1}), parent cow after fork {:.1}, child post-exec {:.1}; fault time {}",
                g.pre_exec_faults as f64 / n,
                g.pre_exec_cow as f64 / n,
                g.parent_cow as f64 / n,
                g.post_exec_faults as f64 / n,
                fmt_ns((g.fault_time_ns as f64 / n).round() as u64),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::Assembler;
    use crate::assemble::synth::{Stream, proc};
    use crate::report::{csv, json, table};
    use spawn_common::{clone_flags as cf, fault_bucket as fb, mark, syscall};

    /// `n` spawns of /bin/true whose startup is most of the time, one worker, one ENOENT.
    fn records(n: u32) -> Vec<SpawnRecord> {
        let p = proc(10);
        let mut s = Stream::default();
        for i in 0..n {
            let pid = 100 + i;
            let (c, t) = (proc(pid), u64::from(i) * 10_000);
            s.fork(t, p, pid, syscall::CLONE, cf::SIGCHLD, "bash")
                .clone_exit(t + 140, p, i64::from(pid))
                .faults(t + 190, c, fb::CHILD_PRE_EXEC, pid, 4, 2)
                .exec_ok(t + 200, c, "/usr/bin/true", "true", false)
                .mark(t + 900, c, mark::DL_DEBUG_STATE)
                .mark(t + 2500 + u64::from(i) * 10, c, mark::LIBC_START_MAIN)
                .exit_and_reap(
                    t + 2600 + u64::from(i) * 10,
                    c,
                    "true",
                    t + 2620 + u64::from(i) * 10,
                    p,
                );
        }
        let (w, t) = (proc(90), 500_000);
        s.fork(t, p, 90, syscall::FORK, cf::SIGCHLD, "bash")
            .exit_and_reap(t + 400, w, "bash", t + 410, p);
        let f = proc(91);
        s.fork(t + 1000, p, 91, syscall::CLONE, cf::SIGCHLD, "bash")
            .exec_enter(t + 1200, f, "/nope/x")
            .exec_exit(t + 1210, f, -2)
            .exit_and_reap(t + 1300, f, "bash", t + 1310, p);
        let mut a = Assembler::new();
        for e in s.events {
            a.push(e);
        }
        a.finish()
    }

    #[test]
    fn shares_add_up_and_startup_dominates_true() {
        let recs = records(5);
        assert_eq!(recs.len(), 7);
        let mut sum = Summary::new();
        recs.iter().for_each(|r| sum.add(r));
        assert_eq!(sum.programs()[0], "true");
        for prog in sum.programs() {
            let total: f64 = Phase::MAIN
                .iter()
                .filter_map(|&p| sum.share(&prog, p))
                .sum();
            assert!((total - 1.0).abs() < 1e-9, "{prog}: shares sum to {total}");
        }
        let startup = sum.share("true", Phase::Startup).unwrap_or(0.0);
        // Σ startup / Σ total = (5 * 1980 + 100) / (5 * 2620 + 100) µs.
        assert!(
            (startup - 10_000.0 / 13_200.0).abs() < 1e-9,
            "startup share {startup}"
        );
        assert_eq!(sum.share("x [ENOENT]", Phase::Startup), None);
        let text = sum.render();
        for want in [
            "spawn summary: 7 records (6 exec, 1 fork_only)",
            "lost events: 0",
            "true: 5 spawns, 5 complete",
            "x [ENOENT]: 1 spawns, 1 complete, 1 failed exec",
            "(fork only: bash)",
            "child pre-exec 4.0 (cow 2.0)",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        // Startups are 1980, 1990, ..., 2020 µs (exec returns at +520): median 2000 µs.
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("startup "))
            .unwrap_or("");
        assert!(line.contains("2.00ms") && line.contains("75.8%"), "{text}");
        sum.set_lost_events(17);
        assert!(sum.render().contains("lost events: 17"));
    }

    #[test]
    fn assembled_records_render_in_every_format() {
        let recs = records(3);
        let header = csv::header();
        let ncols = header.split(',').count();
        for r in &recs {
            let line = json::to_line(r).expect("json");
            assert_eq!(&json::from_line(&line).expect("parse back"), r);
            // Our records have no commas or quotes in their text fields: a plain split works.
            assert_eq!(csv::row(r).split(',').count(), ncols, "{}", csv::row(r));
            assert_eq!(
                table::row(r).split_whitespace().count(),
                table::header().split_whitespace().count()
            );
        }
        let failed = recs
            .iter()
            .find(|r| r.pid == 91)
            .map(table::row)
            .unwrap_or_default();
        assert!(failed.contains("ENOENT"), "{failed}");
    }
}
