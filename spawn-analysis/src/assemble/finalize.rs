//! Turns the raw marks of one spawn into a [`SpawnRecord`]: phases, exec outcome, notes.
use spawn_common::{clone_flags, mark};

use super::spawn::{Attempt, Spawn};
use crate::record::{
    CloneSyscall, ExecAttempt, ExecInfo, Phases, SCHEMA_VERSION, SpawnKind, SpawnRecord,
    clone_flag_names, exec_syscall_name, ret_name,
};

/// Walks the main phase boundaries in time order. Boundaries are clamped to be monotonic
/// (events from different CPUs can carry timestamps a few µs out of causal order), so the
/// phases between consecutive present boundaries sum exactly to last - first.
struct Chain {
    cursor: Option<u64>,
    high: Option<u64>,
}

impl Chain {
    fn start(t: Option<u64>) -> Self {
        Chain { cursor: t, high: t }
    }

    /// A boundary every such spawn has: when it is missing, this phase and the next are
    /// unknown (we do not guess where it was).
    fn step(&mut self, end: Option<u64>) -> Option<u64> {
        let Some(e) = end else {
            self.cursor = None;
            return None;
        };
        let e = self.high.map_or(e, |h| h.max(e));
        self.high = Some(e);
        let d = self.cursor.map(|c| e.saturating_sub(c));
        self.cursor = Some(e);
        d
    }

    /// A boundary that only some spawns have (startup marks): when missing, the next phase
    /// starts where this one would have.
    fn optional(&mut self, end: Option<u64>) -> Option<u64> {
        end.and_then(|_| self.step(end))
    }
}

fn span(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(b?.saturating_sub(a?))
}

/// Why the record is being closed, when it is not the normal reap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Close {
    /// Reaped (or a thread that exited) and the grace window passed.
    Normal,
    /// Exited, and its parent is gone or unknown: nobody we know will reap it.
    NoParent,
    /// Exited, and not reaped within the timeout.
    ReapTimeout(u64),
    /// Tracing stopped.
    TraceEnd,
    /// A new task got this pid.
    Reused,
    /// Evicted to keep memory bounded: a partial record idle this long (ns).
    StalePartial(u64),
    /// Evicted to keep memory bounded: more than this many records were open.
    Overflow(usize),
}

pub(crate) fn finalize(s: Spawn, root: bool, close: Close) -> SpawnRecord {
    let mut notes = s.notes.clone();
    let partial = !s.created;
    if partial {
        notes.push("partial: already running when tracing started".into());
    }
    let kind = if s.thread {
        SpawnKind::Thread
    } else if root {
        SpawnKind::Root
    } else if !s.attempts.is_empty() {
        SpawnKind::Exec
    } else if s.cloned_by.is_some() {
        SpawnKind::Warm
    } else if s.created || s.first_run.is_some() {
        SpawnKind::ForkOnly
    } else {
        SpawnKind::Unknown
    };

    let success = s.first_success();
    // The attempt whose timing describes the exec: the successful one, else the last.
    let chosen: Option<&Attempt> = success.map(|i| &s.attempts[i]).or(s.attempts.last());
    let exec_done = match success {
        Some(i) => s.attempts[i].exit,
        None => s.attempts.last().and_then(|a| a.exit),
    };
    let exec_exit = success.and_then(|i| s.attempts[i].exit);

    // Startup marks: __libc_start_main ends startup, the last loader mark before it splits it.
    let libc = s
        .marks
        .iter()
        .find(|m| m.1 == mark::LIBC_START_MAIN)
        .map(|m| m.0);
    let last_dl = s
        .marks
        .iter()
        .filter(|m| m.1 == mark::DL_DEBUG_STATE && libc.is_none_or(|l| m.0 <= l))
        .map(|m| m.0)
        .max();

    let mut p = Phases::default();
    let mut chain;
    if s.thread {
        chain = Chain::start(s.clone_enter);
        p.copy = chain.step(s.wakeup);
        p.queue = chain.step(s.first_run);
        p.run = chain.step(s.exit);
    } else {
        match s.prep {
            Some(_) => {
                chain = Chain::start(s.prep);
                p.prep = chain.step(s.clone_enter);
            }
            None => chain = Chain::start(s.clone_enter),
        }
        p.copy = chain.step(s.wakeup);
        p.queue = chain.step(s.first_run);
        if let Some(first) = s.attempts.first() {
            p.setup = chain.step(first.entry());
            p.exec = chain.step(exec_done);
        }
        p.startup = chain.optional(libc.filter(|_| exec_exit.is_some()));
        p.run = chain.step(s.exit);
        p.reap = chain.step(s.reap);
    }
    let t_end = s.exit.or(s.reap).and(chain.high);
    let t_start = s.prep.or(s.clone_enter);

    let mut startup_note = None;
    // The in-kernel sub-phases need only the marks; those bounded by the syscall's entry or
    // exit are absent when it was not seen (`--no-syscall-tracepoints`).
    if let Some(i) = success.filter(|&i| s.attempts[i].no_entry) {
        let a = &s.attempts[i];
        p.exec_teardown = a.exit_mmap.and(span(a.prepare, a.exit_mmap));
        p.exec_load = span(a.exit_mmap.or(a.prepare), a.process_exec);
        notes.push("exec entry and exit not seen: only its in-kernel sub-phases".into());
        // The probes move a process's faults to the post-exec side at the exec syscall's
        // exit; without it they all stay on the pre-exec side until the process exits.
        notes.push("faults: pre/post-exec split unknown (all under child_pre_exec)".into());
        startup_note = Some("exec return not seen");
    }
    if let (Some(i), Some(exit)) = (success, exec_exit) {
        let a = &s.attempts[i];
        p.exec_retry = span(s.attempts.first().and_then(Attempt::entry), a.entry());
        p.exec_open = span(a.entry(), a.prepare);
        p.exec_teardown = a.exit_mmap.and(span(a.prepare, a.exit_mmap));
        p.exec_load = span(a.exit_mmap.or(a.prepare), a.process_exec);
        p.exec_finish = span(a.process_exec, Some(exit));
        if a.prepare.is_some() && a.process_exec.is_some() && a.exit_mmap.is_none() {
            let shared = s
                .clone_flags
                .is_some_and(|f| f & clone_flags::CLONE_VM != 0);
            // Failed attempts leave the mm alone: only an earlier success gave it its own.
            let first_success = s.attempts[..i].iter().all(|a| a.ret != Some(0));
            notes.push(if shared && first_success {
                "exec teardown: none (the old address space was the parent's: CLONE_VM/vfork)"
                    .into()
            } else {
                "exec teardown: no exit_mmap seen".into()
            });
        }
        if a.prepare.is_none() {
            // No open-end mark: on this kernel neither sched_prepare_exec nor begin_new_exec
            // could be reached (the probes-used report says why).
            notes.push("exec sub-phases: no exec open mark (see probes used)".into());
        }
        if let Some(l) = libc {
            p.startup_loader = last_dl.map(|d| d.max(exit) - exit);
            p.startup_init = last_dl.map(|d| l.saturating_sub(d.max(exit)));
        } else if last_dl.is_some() {
            startup_note = Some("loader marks but no __libc_start_main (died while loading?)");
        } else {
            startup_note = Some("no glibc startup marks (static or non-glibc program)");
        }
    } else if success.is_none() && !s.attempts.is_empty() {
        startup_note = Some("no successful exec");
    }

    if s.clone_parent_clones > 0 {
        notes.push(format!(
            "made {} CLONE_PARENT clone{} (spawn-fast's warm image: its `run` is the time it \
             stayed parked, its clones are the warm spawns of its parent)",
            s.clone_parent_clones,
            if s.clone_parent_clones == 1 { "" } else { "s" },
        ));
        // The image parks inside its own __libc_start_main: the real one runs in the clones.
        if libc.is_none() && exec_exit.is_some() {
            startup_note = Some("parked before __libc_start_main (a warm image)");
        }
    }

    let exec = chosen.map(|a| {
        let successes: Vec<&Attempt> = s.attempts.iter().filter(|a| a.ret == Some(0)).collect();
        ExecInfo {
            filename: a.filename.clone(),
            ret: a.ret,
            errno_name: a.ret.and_then(ret_name),
            attempts: s
                .attempts
                .iter()
                .map(|a| ExecAttempt {
                    filename: a.filename.clone(),
                    ret: a.ret,
                    errno_name: a.ret.and_then(ret_name),
                    syscall: exec_syscall_name(u64::from(a.syscall)),
                    t_ns: a.enter,
                })
                .collect(),
            execs: successes.len() as u32,
            final_filename: successes
                .last()
                .filter(|_| successes.len() > 1)
                .map(|a| a.filename.clone()),
        }
    });
    if let Some(e) = &exec
        && e.ret.is_some_and(|r| r < 0)
    {
        notes.push(format!(
            "exec failed: {}",
            e.errno_name.as_deref().unwrap_or("?")
        ));
    }
    if s.attempts.last().is_some_and(|a| a.open()) {
        notes.push("exec had not returned".into());
    }

    if !s.thread {
        if let (Some(r), Some(pp)) = (s.reaper, s.ppid)
            && r != pp
        {
            notes.push(format!("reaped by pid {r}, not its parent"));
        }
        if s.reap.is_some() && s.exit.is_none() {
            notes.push("reaped but its exit was not seen (lost events?)".into());
        }
    }
    match close {
        Close::Normal => {}
        Close::NoParent => notes.push("exited; no waiting parent seen".into()),
        Close::ReapTimeout(ns) => {
            notes.push(format!(
                "not reaped within {} ms of its exit",
                ns / 1_000_000
            ));
        }
        Close::TraceEnd if s.exit.is_none() => {
            notes.push("still running when tracing stopped".into())
        }
        Close::TraceEnd if !s.thread && s.reap.is_none() => {
            notes.push("not reaped when tracing stopped".into());
        }
        Close::TraceEnd => {}
        Close::Reused if s.exit.is_none() => {
            notes.push("pid reused before this task was seen exiting (lost events?)".into());
        }
        Close::Reused => {}
        Close::StalePartial(ns) => notes.push(format!(
            "evicted: partial record with no event for {} s",
            ns / 1_000_000_000
        )),
        Close::Overflow(n) => notes.push(format!(
            "evicted: more than {n} records open (least recently active first)"
        )),
    }

    let complete = !partial
        && s.clone_enter.is_some()
        && s.wakeup.is_some()
        && s.first_run.is_some()
        && s.exit.is_some()
        && (s.thread || s.reap.is_some())
        && (s.attempts.is_empty() || exec_done.is_some());

    SpawnRecord {
        v: SCHEMA_VERSION,
        pid: s.pid,
        ppid: s.ppid,
        parent_tid: s.parent_tid,
        id: s.id,
        parent_record: s.parent_record,
        depth: s.depth,
        comm: s.comm.clone().unwrap_or_default(),
        parent_comm: s.parent_comm.clone(),
        // The path and container are filled in by the collector, which may make syscalls.
        ident: crate::container::TaskIdentity {
            ns_pid: s.ident.and_then(|i| i.ns_pid),
            pid_ns: s.ident.and_then(|i| i.pid_ns),
            cgroup_id: s.ident.map(|i| i.cgroup_id),
            ..Default::default()
        },
        kind,
        clone_syscall: s.clone_syscall.and_then(CloneSyscall::from_raw),
        clone_flags: s.clone_flags,
        clone_flag_names: s.clone_flags.map(clone_flag_names).unwrap_or_default(),
        cloned_by: s.cloned_by.clone(),
        exec,
        t_start_ns: t_start,
        t_end_ns: t_end,
        total_ns: span(t_start, t_end),
        clone_syscall_ns: span(s.clone_enter, s.parent_clone_exit),
        exec_syscall_ns: chosen.and_then(|a| span(a.entry(), a.exit)),
        phases_ns: p,
        startup_note: startup_note.map(str::to_string),
        faults: s.faults,
        exit_code: s.exit_code,
        complete,
        notes,
    }
}
