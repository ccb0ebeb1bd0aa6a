//! Timeline assembly: turns the probe events, in arrival order, into one [`SpawnRecord`] per
//! spawn. Pure: no syscalls, so it is tested from synthetic streams.
//!
//! Events of one thread arrive in order, but events of different CPUs may arrive a few µs out
//! of timestamp order (a child's first run before its parent's `wakeup_new`, say). So events
//! first wait in a small reorder buffer and are applied in timestamp order once they are older
//! than the newest event by `reorder_window_ns`. Records stay open for `grace_ns` of event time
//! after they end, because the parent's after-fork fault totals may come after the reap.
//!
//! Feed events with [`Assembler::push`] as they arrive, take finished records with
//! [`Assembler::drain_ready`] now and then, and the rest with [`Assembler::finish`] at the end.
//! Here a `bash` (pid 100) forks pid 101, which execs `/bin/true`, exits and is reaped:
//!
//! ```
//! use spawn_analysis::assemble::Assembler;
//! use spawn_analysis::decode::RawEvent;
//! use spawn_analysis::record::{CloneSyscall, SpawnKind};
//! use spawn_common::{Header, clone_flags, kind, syscall};
//!
//! // The context every probe record carries; times here in µs, events in ns.
//! let hdr = |kind: u32, t_us: u64, tid: u32| Header { kind, cpu: 0, ts_ns: t_us * 1000, tid, tgid: tid };
//! let (parent, child) = (100, 101);
//! let events = vec![
//!     RawEvent::CloneEnter { hdr: hdr(kind::CLONE_ENTER, 1000, parent), syscall: syscall::CLONE, flags: clone_flags::SIGCHLD },
//!     RawEvent::TaskNewtask { hdr: hdr(kind::TASK_NEWTASK, 1100, parent), child_pid: child, flags: clone_flags::SIGCHLD, comm: "bash".into() },
//!     RawEvent::WakeupNew { hdr: hdr(kind::WAKEUP_NEW, 1120, parent), pid: child, target_cpu: 1 },
//!     RawEvent::CloneExit { hdr: hdr(kind::CLONE_EXIT, 1140, parent), syscall: syscall::CLONE, ret: child as i64 },
//!     RawEvent::CloneExit { hdr: hdr(kind::CLONE_EXIT, 1150, child), syscall: syscall::CLONE, ret: 0 },
//!     RawEvent::ExecEnter { hdr: hdr(kind::EXEC_ENTER, 1200, child), syscall: syscall::EXECVE as u32, fd: -100, flags: 0, filename: "/bin/true".into(), comm: "bash".into() },
//!     RawEvent::ProcessExec { hdr: hdr(kind::PROCESS_EXEC, 1500, child), old_pid: child, comm: "true".into() },
//!     RawEvent::ExecExit { hdr: hdr(kind::EXEC_EXIT, 1520, child), syscall: syscall::EXECVE, ret: 0 },
//!     RawEvent::ExitGroup { hdr: hdr(kind::EXIT_GROUP, 2050, child), code: 0 },
//!     RawEvent::ProcessExit { hdr: hdr(kind::PROCESS_EXIT, 2060, child), group_dead: Some(true), comm: "true".into() },
//!     RawEvent::WaitExit { hdr: hdr(kind::WAIT_EXIT, 2100, parent), syscall: syscall::WAIT4, ret: child as i64 },
//! ];
//!
//! let mut asm = Assembler::new();
//! for ev in events {
//!     asm.push(ev);
//! }
//! let records = asm.finish();
//! let r = records.iter().find(|r| r.pid == child).unwrap();
//! assert_eq!((r.kind, r.clone_syscall), (SpawnKind::Exec, Some(CloneSyscall::Clone)));
//! assert_eq!((r.comm.as_str(), r.program()), ("true", Some("true")));
//! assert_eq!(r.total_ns, Some(1_100_000)); // clone entry to reap, ns
//! assert_eq!(r.phases_ns.copy, Some(120_000)); // clone entry to wakeup
//! assert_eq!(r.phases_ns.exec, Some(320_000));
//! // No startup marks in this stream: startup was not measured, so it is None, not 0.
//! assert_eq!(r.phases_ns.startup, None);
//! ```
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use spawn_common::{clone_flags, fault_bucket};

use crate::decode::RawEvent;
use crate::record::{ClonedBy, SpawnRecord};

mod finalize;
#[cfg(test)]
mod lineage_tests;
mod spawn;
#[cfg(test)]
pub(crate) mod synth;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod warm_tests;

use finalize::{Close, finalize};
use spawn::{Attempt, Spawn};

/// Tunables of the [`Assembler`], in nanoseconds of event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// How far out of timestamp order events of different CPUs may arrive.
    pub reorder_window_ns: u64,
    /// How long a record stays open after its end for late events (parent fault totals).
    pub grace_ns: u64,
    /// How long an exited child waits for its reap before it is reported unreaped.
    pub reap_timeout_ns: u64,
    /// A partial record (its creation was not seen) with no event for this long is released
    /// as it is; clone calls and prep marks with no follow-up are dropped after it too.
    pub stale_ns: u64,
    /// At most this many records stay open; beyond it the least recently active are
    /// released (long-running children on a host traced for hours).
    pub max_open: usize,
    /// The probes attach no syscall tracepoint (`--no-syscall-tracepoints`): clone entry
    /// and exit, exec entry and exit, exit_group and wait never come, and records say so.
    pub no_syscall_events: bool,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        AssemblerConfig {
            reorder_window_ns: 1_000_000,
            grace_ns: 20_000_000,
            reap_timeout_ns: 10_000_000_000,
            stale_ns: 60_000_000_000,
            max_open: 100_000,
            no_syscall_events: false,
        }
    }
}

/// Counters of events the assembler could not use; worth showing next to the lost events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    /// Events pushed.
    pub events: u64,
    /// Events that arrived after the reorder window had already passed their timestamp.
    pub late_events: u64,
    /// Fault totals for a task with no open record.
    pub unattributed_faults: u64,
    /// Clone-family calls that failed (no task was created).
    pub failed_clones: u64,
    /// Records released early to keep memory bounded (stale partial ones, or too many open);
    /// each still comes out, flagged in its notes.
    pub evicted: u64,
}

/// A clone-family call in flight in a parent thread.
#[derive(Clone, Copy, Debug)]
struct PendingClone {
    ts: u64,
    syscall: u64,
    prep: Option<u64>,
}

/// What the children of a live traced process need to know of it: its record id and depth,
/// and, for the `CLONE_PARENT` clones it makes (whose kernel parent is its own parent), its
/// own spawner's record and its parent's pid.
#[derive(Clone, Copy, Debug)]
struct Lineage {
    id: u64,
    depth: u32,
    parent_record: Option<u64>,
    ppid: Option<u32>,
}

impl Lineage {
    /// A process whose creation was not seen: a tree root with no known parent.
    fn root(id: u64) -> Self {
        Lineage {
            id,
            depth: 0,
            parent_record: None,
            ppid: None,
        }
    }
}

/// An event waiting in the reorder buffer; ordered by (timestamp, arrival).
struct Queued {
    ts: u64,
    seq: u64,
    ev: RawEvent,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

/// Builds spawn records from probe events. See the module docs.
pub struct Assembler {
    cfg: AssemblerConfig,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    newest: u64,
    /// Everything at or before this event time has been applied.
    watermark: u64,
    /// Open records by child pid (processes) or tid (threads): one pid space.
    tasks: HashMap<u32, Spawn>,
    /// Clone calls in flight, by parent tid.
    pending: HashMap<u32, PendingClone>,
    /// Prep marks not yet followed by a clone call, by tid.
    prep: HashMap<u32, u64>,
    ready: Vec<SpawnRecord>,
    root: Option<u32>,
    root_done: bool,
    stats: AssemblerStats,
    /// The last record id handed out (ids start at 1; 0 means "none" in old traces).
    next_id: u64,
    /// Lineage of each live traced process, by pid, for its children's.
    /// Apart from `tasks` because a record can be released (evicted) while its process still
    /// runs and spawns; removed when the process exits, so a reused pid starts afresh.
    lineage: HashMap<u32, Lineage>,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Assembler {
    /// An assembler with the default [`AssemblerConfig`].
    pub fn new() -> Self {
        Self::with_config(AssemblerConfig::default())
    }

    /// An assembler with the given tunables.
    pub fn with_config(cfg: AssemblerConfig) -> Self {
        Assembler {
            cfg,
            queue: BinaryHeap::new(),
            seq: 0,
            newest: 0,
            watermark: 0,
            tasks: HashMap::new(),
            pending: HashMap::new(),
            prep: HashMap::new(),
            ready: Vec::new(),
            root: None,
            root_done: false,
            stats: AssemblerStats::default(),
            next_id: 0,
            lineage: HashMap::new(),
        }
    }

    /// See [`AssemblerConfig::no_syscall_events`].
    pub fn set_no_syscall_events(&mut self, on: bool) {
        self.cfg.no_syscall_events = on;
    }

    /// The pid of the command spawnprof runs: its record gets kind "root". May be called
    /// before or after its events arrive (but before its record is drained).
    pub fn set_root(&mut self, pid: u32) {
        self.root = Some(pid);
    }

    /// Counters of events pushed and of those that could not be used, so far.
    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    /// Number of records still open (in flight or in their grace window).
    pub fn open_records(&self) -> usize {
        self.tasks.len()
    }

    /// Feeds one event, in arrival order.
    pub fn push(&mut self, ev: RawEvent) {
        let ts = ev.ts();
        self.stats.events += 1;
        if ts < self.watermark {
            self.stats.late_events += 1;
        }
        self.seq += 1;
        self.newest = self.newest.max(ts);
        self.queue.push(Reverse(Queued {
            ts,
            seq: self.seq,
            ev,
        }));
        self.apply_until(self.newest.saturating_sub(self.cfg.reorder_window_ns));
    }

    /// Tells the assembler that event time has reached `now_ns` (CLOCK_MONOTONIC), so that
    /// records can be released while no events come.
    pub fn advance_to(&mut self, now_ns: u64) {
        self.newest = self.newest.max(now_ns);
        self.apply_until(self.newest.saturating_sub(self.cfg.reorder_window_ns));
    }

    /// Records that are finished: reaped (or threads that exited) more than the grace window
    /// ago, exited children nobody known will reap, and records closed by pid reuse.
    pub fn drain_ready(&mut self) -> Vec<SpawnRecord> {
        let now = self.watermark;
        let cfg = self.cfg;
        let mut done: Vec<(u32, Close)> = Vec::new();
        for (&key, s) in &self.tasks {
            let close = if s
                .end_ts()
                .is_some_and(|e| e.saturating_add(cfg.grace_ns) <= now)
            {
                Some(Close::Normal)
            } else if let Some(exit) = s.exit.filter(|_| s.reap.is_none() && !s.thread) {
                let orphan = s.parent_dead || s.ppid.is_none();
                if orphan && exit.saturating_add(cfg.grace_ns) <= now {
                    Some(Close::NoParent)
                } else if exit.saturating_add(cfg.reap_timeout_ns) <= now {
                    Some(Close::ReapTimeout(cfg.reap_timeout_ns))
                } else {
                    None
                }
            } else {
                None
            };
            if let Some(c) = close {
                done.push((key, c));
            }
        }
        for (key, close) in done {
            self.close(key, close);
        }
        self.evict(now);
        self.take_ready()
    }

    /// Keeps memory bounded however long tracing runs: see `stale_ns` and `max_open`.
    fn evict(&mut self, now: u64) {
        let stale_ns = self.cfg.stale_ns;
        let stale = |ts: u64| ts.saturating_add(stale_ns) <= now;
        let idle: Vec<u32> = self
            .tasks
            .iter()
            .filter(|(_, s)| !s.created && !s.exited() && stale(s.last_seen))
            .map(|(&k, _)| k)
            .collect();
        for key in idle {
            self.stats.evicted += 1;
            self.close(key, Close::StalePartial(stale_ns));
        }
        let excess = self.tasks.len().saturating_sub(self.cfg.max_open);
        if excess > 0 {
            let mut by_age: Vec<(u64, u32)> =
                self.tasks.iter().map(|(&k, s)| (s.last_seen, k)).collect();
            by_age.sort_unstable();
            for (_, key) in by_age.into_iter().take(excess) {
                self.stats.evicted += 1;
                self.close(key, Close::Overflow(self.cfg.max_open));
            }
        }
        self.pending.retain(|_, pc| !stale(pc.ts));
        self.prep.retain(|_, ts| !stale(*ts));
        // Processes whose exit was lost would stay forever: past twice the cap on records,
        // keep only the lineage of open ones (an evicted running one's children lose the link).
        if self.lineage.len() > self.cfg.max_open.saturating_mul(2) {
            let tasks = &self.tasks;
            self.lineage.retain(|pid, _| tasks.contains_key(pid));
        }
    }

    /// End of the trace: applies everything buffered and returns every record left, the
    /// unfinished ones flagged in their notes.
    pub fn finish(&mut self) -> Vec<SpawnRecord> {
        self.apply_until(u64::MAX);
        let keys: Vec<u32> = self.tasks.keys().copied().collect();
        for key in keys {
            let ended = self.tasks.get(&key).is_some_and(|s| s.end_ts().is_some());
            self.close(
                key,
                if ended {
                    Close::Normal
                } else {
                    Close::TraceEnd
                },
            );
        }
        self.pending.clear();
        self.prep.clear();
        self.take_ready()
    }

    fn take_ready(&mut self) -> Vec<SpawnRecord> {
        let mut out = std::mem::take(&mut self.ready);
        out.sort_by_key(|r| (r.t_start_ns.is_none(), r.t_start_ns, r.pid));
        out
    }

    fn close(&mut self, key: u32, close: Close) {
        if let Some(s) = self.tasks.remove(&key) {
            // The root is the first process record with its pid: a later reuse is not it.
            let root = !s.thread && !self.root_done && self.root == Some(s.pid);
            self.root_done |= root;
            self.ready.push(finalize(s, root, close));
        }
    }

    fn apply_until(&mut self, limit: u64) {
        while self.queue.peek().is_some_and(|q| q.0.ts <= limit) {
            if let Some(Reverse(q)) = self.queue.pop() {
                self.watermark = self.watermark.max(q.ts);
                let touched = touched(&q.ev);
                self.apply(q.ev);
                for pid in touched.into_iter().flatten() {
                    if let Some(s) = self.tasks.get_mut(&pid) {
                        s.last_seen = s.last_seen.max(q.ts);
                    }
                }
            }
        }
        if limit != u64::MAX {
            self.watermark = self.watermark.max(limit);
        }
    }

    /// The record of a process for an event the process itself emitted. An unknown pid, or
    /// one whose record already exited (a reuse whose creation we missed), starts a partial
    /// record.
    fn child(&mut self, pid: u32) -> &mut Spawn {
        if self.tasks.get(&pid).is_some_and(|s| s.exited() || s.thread) {
            self.close(pid, Close::Reused);
        }
        let (next_id, lineage) = (&mut self.next_id, &mut self.lineage);
        self.tasks.entry(pid).or_insert_with(|| {
            *next_id += 1;
            // Its parent is unknown: a tree root. A live entry means this process's record was
            // evicted while it ran: its later children stay under that earlier record.
            lineage.entry(pid).or_insert(Lineage::root(*next_id));
            Spawn {
                id: *next_id,
                ..Spawn::new(pid)
            }
        })
    }

    fn apply(&mut self, ev: RawEvent) {
        match ev {
            // Consumed by the collector, which names the exec with it.
            RawEvent::FdPath { .. } => {}
            // The last word wins: after an exec the task may sit in another cgroup (a
            // container runtime moves its init in just before the exec).
            RawEvent::Ident {
                hdr,
                cgroup_id,
                ns_pid,
                pid_ns,
                ..
            } => {
                if let Some(s) = self.tasks.get_mut(&hdr.tgid).filter(|s| !s.thread) {
                    s.ident = Some(spawn::Ident {
                        cgroup_id,
                        ns_pid,
                        pid_ns,
                    });
                }
            }
            RawEvent::PrepMark { hdr } => {
                self.prep.insert(hdr.tid, hdr.ts_ns);
            }
            RawEvent::PrepEnd { hdr } => {
                self.prep.remove(&hdr.tid);
            }
            RawEvent::CloneEnter { hdr, syscall, .. } => {
                let prep = self.prep.remove(&hdr.tid);
                self.pending.insert(
                    hdr.tid,
                    PendingClone {
                        ts: hdr.ts_ns,
                        syscall,
                        prep,
                    },
                );
            }
            RawEvent::TaskNewtask {
                hdr,
                child_pid,
                flags,
                comm,
            } => {
                self.close(child_pid, Close::Reused);
                let pc = self.pending.get(&hdr.tid).copied();
                let mut s = Spawn::new(child_pid);
                s.thread = flags & clone_flags::CLONE_THREAD != 0;
                self.next_id += 1;
                s.id = self.next_id;
                s.created = true;
                if !s.thread && flags & clone_flags::CLONE_PARENT != 0 {
                    self.clone_parent(&mut s, hdr, &comm);
                    if let Some(c) = self.tasks.get_mut(&hdr.tgid).filter(|c| !c.thread) {
                        c.clone_parent_clones += 1;
                    }
                } else {
                    // Lineage: the process that called clone (hdr.tgid, also for a thread of
                    // it), as it is now; kept in the record because that pid may be reused.
                    if let Some(l) = self.lineage.get(&hdr.tgid) {
                        s.parent_record = Some(l.id);
                        s.depth = l.depth + 1;
                    }
                    s.ppid = Some(hdr.tgid);
                    s.parent_tid = Some(hdr.tid);
                    s.parent_comm = Some(comm.clone());
                }
                if !s.thread {
                    let l = Lineage {
                        id: s.id,
                        depth: s.depth,
                        parent_record: s.parent_record,
                        ppid: s.ppid,
                    };
                    self.lineage.insert(child_pid, l);
                }
                // The child starts with its cloner's comm until it execs.
                s.comm = Some(comm);
                s.newtask = Some(hdr.ts_ns);
                // The kernel's flags (from task_newtask) win over the syscall arguments.
                s.clone_flags = Some(flags);
                match pc {
                    Some(pc) => {
                        s.clone_enter = Some(pc.ts);
                        s.clone_syscall = Some(pc.syscall);
                        s.prep = pc.prep;
                    }
                    None if self.cfg.no_syscall_events => s.notes.push(
                        "clone, exec and wait syscalls not traced (--no-syscall-tracepoints)"
                            .into(),
                    ),
                    None => s
                        .notes
                        .push("clone entry not seen (began before tracing)".into()),
                }
                self.tasks.insert(child_pid, s);
            }
            RawEvent::ProcessFork { hdr, child_pid, .. } => {
                if let Some(s) = self.tasks.get_mut(&child_pid) {
                    s.process_fork.get_or_insert(hdr.ts_ns);
                }
            }
            RawEvent::WakeupNew { hdr, pid, .. } => {
                if let Some(s) = self.tasks.get_mut(&pid) {
                    s.wakeup.get_or_insert(hdr.ts_ns);
                }
            }
            RawEvent::CloneExit { hdr, ret, .. } => self.clone_exit(hdr, ret),
            RawEvent::ExecEnter {
                hdr,
                syscall,
                filename,
                ..
            } => {
                let s = self.child(hdr.tgid);
                s.attempts.push(Attempt {
                    enter: hdr.ts_ns,
                    syscall,
                    filename,
                    ..Default::default()
                });
            }
            RawEvent::PrepareExec { hdr } => {
                let s = self.child(hdr.tgid);
                match s.open_attempt() {
                    Some(a) => {
                        a.prepare.get_or_insert(hdr.ts_ns);
                    }
                    // No entry seen: the exec is known from here on, its start is not.
                    None => s.attempts.push(Attempt {
                        prepare: Some(hdr.ts_ns),
                        ..Attempt::from_mark(hdr.ts_ns)
                    }),
                }
            }
            RawEvent::ExitMmap { hdr } => {
                // Only the old mm torn down by an exec between its prepare and load counts;
                // exit_mmap also fires at exit and never starts a record.
                if let Some(a) = self.tasks.get_mut(&hdr.tgid).and_then(Spawn::open_attempt)
                    && a.prepare.is_some()
                    && a.process_exec.is_none()
                {
                    a.exit_mmap.get_or_insert(hdr.ts_ns);
                }
            }
            RawEvent::ProcessExec { hdr, comm, .. } => {
                let s = self.child(hdr.tgid);
                s.comm = Some(comm);
                if s.open_attempt().is_none() {
                    s.attempts.push(Attempt::from_mark(hdr.ts_ns));
                }
                if let Some(a) = s.open_attempt() {
                    a.process_exec.get_or_insert(hdr.ts_ns);
                    // The load mark fires on success only; with no exit event to say so,
                    // it is the outcome.
                    if a.no_entry {
                        a.ret = Some(0);
                    }
                }
            }
            RawEvent::ExecExit { hdr, ret, .. } => {
                if let Some(a) = self.child(hdr.tgid).open_attempt() {
                    a.exit = Some(hdr.ts_ns);
                    a.ret = Some(ret);
                }
            }
            RawEvent::ExitGroup { hdr, code } => {
                self.child(hdr.tgid).exit_code = Some(code);
            }
            RawEvent::ProcessExit {
                hdr,
                group_dead,
                comm,
            } => self.process_exit(hdr, group_dead, comm),
            RawEvent::WaitExit { hdr, ret, .. } => {
                let Ok(pid) = u32::try_from(ret) else { return };
                if let Some(s) = self.tasks.get_mut(&pid).filter(|s| !s.thread && pid != 0)
                    && s.reap.is_none()
                {
                    s.reap = Some(hdr.ts_ns);
                    s.reaper = Some(hdr.tgid);
                }
            }
            RawEvent::StartupMark { hdr, mark } => {
                if let Some(s) = self.tasks.get_mut(&hdr.tgid)
                    && !s.thread
                    && !s.exited()
                    && s.accepts_marks()
                {
                    s.marks.push((hdr.ts_ns, mark));
                }
            }
            RawEvent::Faults {
                hdr,
                bucket,
                spawn_pid,
                totals,
            } => {
                let target = if bucket == fault_bucket::PARENT_AFTER_FORK {
                    spawn_pid
                } else {
                    hdr.tgid
                };
                match self.tasks.get_mut(&target).filter(|s| !s.thread) {
                    Some(s) => {
                        let f = &mut s.faults;
                        match bucket {
                            fault_bucket::CHILD_PRE_EXEC => f.child_pre_exec.add(&totals),
                            fault_bucket::PARENT_AFTER_FORK => f.parent_after_fork.add(&totals),
                            _ => f.child_post_exec.add(&totals),
                        }
                    }
                    None => self.stats.unattributed_faults += 1,
                }
            }
        }
    }

    /// A `CLONE_PARENT` clone: the kernel made the child its cloner's sibling, so its parent
    /// (who waits for it, gets its SIGCHLD, and asked for it, in a warm spawn) is the cloner's
    /// parent. The probes report the cloner; the parent comes from the cloner's lineage.
    fn clone_parent(&self, s: &mut Spawn, hdr: spawn_common::Header, comm: &str) {
        let cloner = self.lineage.get(&hdr.tgid).copied();
        let cloner_rec = self.tasks.get(&hdr.tgid).filter(|c| !c.thread);
        // A cloner whose parent exited was re-parented: its children go to a subreaper.
        let orphaned = cloner_rec.is_some_and(|c| c.parent_dead);
        s.cloned_by = Some(ClonedBy {
            pid: hdr.tgid,
            tid: hdr.tid,
            record: cloner.map(|l| l.id),
            comm: comm.to_string(),
            program: cloner_rec.and_then(Spawn::last_program).map(str::to_string),
        });
        match cloner
            .filter(|_| !orphaned)
            .and_then(|l| Some((l, l.ppid?)))
        {
            Some((l, ppid)) => {
                s.ppid = Some(ppid);
                s.parent_record = l.parent_record;
                s.depth = if l.parent_record.is_some() {
                    l.depth
                } else {
                    0
                };
                s.parent_comm = self
                    .tasks
                    .get(&ppid)
                    .filter(|p| !p.thread && !p.exited())
                    .and_then(|p| p.comm.clone())
                    .or_else(|| cloner_rec.and_then(|c| c.parent_comm.clone()));
            }
            None => s.notes.push(format!(
                "CLONE_PARENT: its parent is the parent of pid {} (the cloner), {}",
                hdr.tgid,
                if orphaned {
                    "which had exited"
                } else {
                    "which was not traced"
                }
            )),
        }
    }

    fn clone_exit(&mut self, hdr: spawn_common::Header, ret: i64) {
        let ts = hdr.ts_ns;
        if ret == 0 {
            // The new task's first return to user space; threads are keyed by their tid.
            if let Some(s) = self.tasks.get_mut(&hdr.tid).filter(|s| !s.exited()) {
                s.first_run.get_or_insert(ts);
            } else if hdr.tid == hdr.tgid {
                self.child(hdr.tgid).first_run = Some(ts);
            }
            return;
        }
        let pc = self.pending.remove(&hdr.tid);
        match u32::try_from(ret) {
            Ok(child) => {
                if let (Some(pc), Some(s)) = (pc, self.tasks.get_mut(&child))
                    && s.clone_enter == Some(pc.ts)
                {
                    s.parent_clone_exit = Some(ts);
                }
            }
            Err(_) => self.stats.failed_clones += 1,
        }
    }

    fn process_exit(&mut self, hdr: spawn_common::Header, group_dead: Option<bool>, comm: String) {
        let ts = hdr.ts_ns;
        if hdr.tid != hdr.tgid
            && let Some(t) = self.tasks.get_mut(&hdr.tid).filter(|s| s.thread)
        {
            t.exit.get_or_insert(ts);
        }
        // The process is gone when the last thread exits; a kernel that does not say which
        // that is leaves us the leader's exit.
        let gone = match group_dead {
            Some(dead) => dead,
            None => hdr.tid == hdr.tgid,
        };
        if !gone {
            return;
        }
        let s = self.child(hdr.tgid);
        s.exit = Some(ts);
        s.comm = Some(comm);
        self.lineage.remove(&hdr.tgid);
        // Its exited children will be reaped by a subreaper we do not follow.
        for c in self.tasks.values_mut() {
            if !c.thread && c.ppid == Some(hdr.tgid) {
                c.parent_dead = true;
            }
        }
    }
}

/// The records an event concerns: the emitting task's own, and for parent-side events the
/// child's (for eviction bookkeeping only).
fn touched(ev: &RawEvent) -> [Option<u32>; 3] {
    let hdr = ev.hdr();
    let other = match ev {
        RawEvent::TaskNewtask { child_pid, .. } => Some(*child_pid),
        RawEvent::ProcessFork { child_pid, .. } => Some(*child_pid),
        RawEvent::WakeupNew { pid, .. } => Some(*pid),
        RawEvent::CloneExit { ret, .. } | RawEvent::WaitExit { ret, .. } if *ret > 0 => {
            u32::try_from(*ret).ok()
        }
        RawEvent::Faults { spawn_pid, .. } => Some(*spawn_pid),
        _ => None,
    };
    [Some(hdr.tgid), Some(hdr.tid), other]
}
