//! A summary over many records: per exec'd program, how many spawns, the median and p99 of
//! each phase, and each phase's share of the total time, so that "startup is 85% of
//! /bin/true's spawn" is plain to see. Plus the lost-event count, always shown, because a
//! summary over an incomplete stream must say so.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::fmt_ns;
use crate::record::{Phases, SpawnKind, SpawnRecord};
use crate::stats::Samples;

/// Sub-phases shown under their main phase (not part of the 100%).
const SUB: [&str; 8] = [
    "exec_retry",
    "exec_open",
    "exec_teardown",
    "exec_load",
    "exec_finish",
    "startup_loader",
    "startup_init",
    "reap",
];

#[derive(Clone, Debug, Default)]
struct Group {
    count: usize,
    complete: usize,
    failed_exec: usize,
    total: Samples,
    clone_syscall: Samples,
    exec_syscall: Samples,
    phases: BTreeMap<&'static str, Samples>,
    /// Sums over records with a total, for the shares.
    share_total: u128,
    share_phase: BTreeMap<&'static str, u128>,
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
    pub fn new() -> Self {
        Self::default()
    }

    /// Events the probes dropped (ring buffer full), from the probes' counters.
    pub fn set_lost_events(&mut self, n: u64) {
        self.lost_events = n;
    }

    /// The group a record is summarised in: the exec'd program, or its kind.
    fn key(r: &SpawnRecord) -> String {
        match (r.kind, r.program()) {
            (SpawnKind::Thread, _) => format!("(thread of {})", r.parent_comm.as_deref().unwrap_or("?")),
            (_, Some(p)) => match r.exec.as_ref().and_then(|e| e.errno_name.as_deref()) {
                Some(err) => format!("{p} [{err}]"),
                None => p.to_string(),
            },
            (SpawnKind::ForkOnly, None) => format!("(fork only: {})", r.comm),
            (_, None) => format!("({}: {})", r.kind.as_str(), r.comm),
        }
    }

    pub fn add(&mut self, r: &SpawnRecord) {
        self.records += 1;
        *self.kinds.entry(r.kind.as_str()).or_default() += 1;
        let g = self.groups.entry(Self::key(r)).or_default();
        g.count += 1;
        g.complete += usize::from(r.complete);
        g.failed_exec += usize::from(r.exec.as_ref().is_some_and(|e| e.ret.is_some_and(|x| x < 0)));
        if let Some(t) = r.total_ns {
            g.total.push(t);
            g.share_total += u128::from(t);
        }
        r.clone_syscall_ns.into_iter().for_each(|v| g.clone_syscall.push(v));
        r.exec_syscall_ns.into_iter().for_each(|v| g.exec_syscall.push(v));
        for p in Phases::ALL {
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
        g.fault_time_ns += f.child_pre_exec.time_ns + f.parent_after_fork.time_ns + f.child_post_exec.time_ns;
    }

    /// Programs (group names), most spawned first.
    pub fn programs(&self) -> Vec<String> {
        let mut v: Vec<(&String, usize)> = self.groups.iter().map(|(k, g)| (k, g.count)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }

    /// Share (0..=1) of the total spawn time spent in `phase`, over the records of `program`
    /// that have a total. The main phases' shares add up to 1 when every phase was measured.
    pub fn share(&self, program: &str, phase: &str) -> Option<f64> {
        let g = self.groups.get(program)?;
        let p = *g.share_phase.get(phase)?;
        (g.share_total > 0).then(|| p as f64 / g.share_total as f64)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(out, "spawn summary: {} records ({})", self.records, kinds.join(", "));
        let _ = writeln!(out, "lost events: {}", self.lost_events);
        for name in self.programs() {
            let Some(g) = self.groups.get(&name) else { continue };
            let _ = writeln!(
                out,
                "\n{name}: {} spawns, {} complete{}",
                g.count,
                g.complete,
                if g.failed_exec > 0 { format!(", {} failed exec", g.failed_exec) } else { String::new() }
            );
            let _ = writeln!(out, "  {:<16} {:>4} {:>9} {:>9} {:>7}", "phase", "n", "median", "p99", "share");
            let mut line = |label: String, s: Option<&Samples>, share: Option<f64>| {
                let Some(s) = s.filter(|s| !s.is_empty()) else { return };
                let mut s = s.clone();
                let q = |v: Option<f64>| v.map_or("-".into(), |v| fmt_ns(v.round() as u64));
                let share = share.map_or(String::new(), |x| format!("{:.1}%", x * 100.0));
                let _ = writeln!(out, "  {label:<16} {:>4} {:>9} {:>9} {share:>7}", s.len(), q(s.median()), q(s.p99()));
            };
            for p in Phases::MAIN {
                line(p.to_string(), g.phases.get(p), self.share(&name, p));
                for sub in SUB.iter().filter(|s| s.starts_with(p) && **s != p) {
                    line(format!("  {sub}"), g.phases.get(sub), self.share(&name, sub));
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
