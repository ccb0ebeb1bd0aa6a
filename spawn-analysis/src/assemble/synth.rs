//! Synthetic event streams for the tests: one method per probe event, times in µs.
use spawn_common::{FaultTotals, Header, kind, syscall};

use super::{Assembler, AssemblerConfig};
use crate::decode::RawEvent;
use crate::record::SpawnRecord;

/// A task as the probes see it: (tid, tgid).
pub(crate) type Task = (u32, u32);

/// A process's main thread.
pub(crate) fn proc(pid: u32) -> Task {
    (pid, pid)
}

fn hdr(kind: u32, t_us: u64, task: Task) -> Header {
    Header {
        kind,
        cpu: 0,
        ts_ns: t_us * 1000,
        tid: task.0,
        tgid: task.1,
    }
}

/// An assembler with `cfg` that has been pushed every event of `s`, in order.
pub(crate) fn fed(cfg: AssemblerConfig, s: &Stream) -> Assembler {
    let mut a = Assembler::with_config(cfg);
    s.feed(&mut a);
    a
}

/// The records of `pid`, in start order.
pub(crate) fn all(recs: &[SpawnRecord], pid: u32) -> Vec<&SpawnRecord> {
    recs.iter().filter(|r| r.pid == pid).collect()
}

/// The one record of `pid`.
#[track_caller]
pub(crate) fn one(recs: &[SpawnRecord], pid: u32) -> &SpawnRecord {
    let found = all(recs, pid);
    assert_eq!(found.len(), 1, "records for {pid}: {recs:#?}");
    found[0]
}

/// Asserts that some note of `r` satisfies `pred`.
#[track_caller]
pub(crate) fn assert_note(r: &SpawnRecord, pred: impl Fn(&str) -> bool) {
    assert!(r.notes.iter().any(|n| pred(n)), "{:?}", r.notes);
}

/// Asserts that no note of `r` satisfies `pred`.
#[track_caller]
pub(crate) fn assert_no_note(r: &SpawnRecord, pred: impl Fn(&str) -> bool) {
    assert!(r.notes.iter().all(|n| !pred(n)), "{:?}", r.notes);
}

#[derive(Default)]
pub(crate) struct Stream {
    pub events: Vec<RawEvent>,
}

impl Stream {
    /// Pushes every event into `a`, in order.
    pub fn feed(&self, a: &mut Assembler) {
        for e in &self.events {
            a.push(e.clone());
        }
    }

    fn push(&mut self, e: RawEvent) -> &mut Self {
        self.events.push(e);
        self
    }

    pub fn clone_enter(&mut self, t: u64, p: Task, sc: u64, flags: u64) -> &mut Self {
        self.push(RawEvent::CloneEnter {
            hdr: hdr(kind::CLONE_ENTER, t, p),
            syscall: sc,
            flags,
        })
    }
    pub fn newtask(&mut self, t: u64, p: Task, child: u32, flags: u64, comm: &str) -> &mut Self {
        self.push(RawEvent::TaskNewtask {
            hdr: hdr(kind::TASK_NEWTASK, t, p),
            child_pid: child,
            flags,
            comm: comm.into(),
        })
    }
    pub fn process_fork(&mut self, t: u64, p: Task, child: u32) -> &mut Self {
        self.push(RawEvent::ProcessFork {
            hdr: hdr(kind::PROCESS_FORK, t, p),
            child_pid: child,
            parent_pid: p.1,
        })
    }
    pub fn wakeup(&mut self, t: u64, p: Task, child: u32) -> &mut Self {
        self.push(RawEvent::WakeupNew {
            hdr: hdr(kind::WAKEUP_NEW, t, p),
            pid: child,
            target_cpu: 1,
        })
    }
    pub fn clone_exit(&mut self, t: u64, task: Task, ret: i64) -> &mut Self {
        self.push(RawEvent::CloneExit {
            hdr: hdr(kind::CLONE_EXIT, t, task),
            syscall: syscall::CLONE,
            ret,
        })
    }
    pub fn exec_enter(&mut self, t: u64, task: Task, file: &str) -> &mut Self {
        self.push(RawEvent::ExecEnter {
            hdr: hdr(kind::EXEC_ENTER, t, task),
            syscall: syscall::EXECVE as u32,
            fd: -100,
            flags: 0,
            filename: file.into(),
            comm: String::new(),
        })
    }
    pub fn prepare(&mut self, t: u64, task: Task) -> &mut Self {
        self.push(RawEvent::PrepareExec {
            hdr: hdr(kind::PREPARE_EXEC, t, task),
        })
    }
    pub fn exit_mmap(&mut self, t: u64, task: Task) -> &mut Self {
        self.push(RawEvent::ExitMmap {
            hdr: hdr(kind::EXIT_MMAP, t, task),
        })
    }
    pub fn process_exec(&mut self, t: u64, task: Task, comm: &str) -> &mut Self {
        self.push(RawEvent::ProcessExec {
            hdr: hdr(kind::PROCESS_EXEC, t, task),
            old_pid: task.0,
            comm: comm.into(),
        })
    }
    pub fn exec_exit(&mut self, t: u64, task: Task, ret: i64) -> &mut Self {
        self.push(RawEvent::ExecExit {
            hdr: hdr(kind::EXEC_EXIT, t, task),
            syscall: syscall::EXECVE,
            ret,
        })
    }
    /// A complete successful exec: enter, prepare, exit_mmap (unless `shared_mm`), load, exit.
    pub fn exec_ok(
        &mut self,
        t: u64,
        task: Task,
        file: &str,
        comm: &str,
        shared_mm: bool,
    ) -> &mut Self {
        self.exec_enter(t, task, file).prepare(t + 100, task);
        if !shared_mm {
            self.exit_mmap(t + 250, task);
        }
        self.process_exec(t + 300, task, comm)
            .exec_exit(t + 320, task, 0)
    }
    pub fn exit_group(&mut self, t: u64, task: Task, code: i32) -> &mut Self {
        self.push(RawEvent::ExitGroup {
            hdr: hdr(kind::EXIT_GROUP, t, task),
            code,
        })
    }
    pub fn process_exit(
        &mut self,
        t: u64,
        task: Task,
        group_dead: Option<bool>,
        comm: &str,
    ) -> &mut Self {
        self.push(RawEvent::ProcessExit {
            hdr: hdr(kind::PROCESS_EXIT, t, task),
            group_dead,
            comm: comm.into(),
        })
    }
    /// `child` exits at `t` (its whole group) and `parent` reaps it at `t_reap`.
    pub fn exit_and_reap(
        &mut self,
        t: u64,
        child: Task,
        comm: &str,
        t_reap: u64,
        parent: Task,
    ) -> &mut Self {
        self.process_exit(t, child, Some(true), comm)
            .wait_exit(t_reap, parent, i64::from(child.0))
    }
    pub fn wait_exit(&mut self, t: u64, p: Task, ret: i64) -> &mut Self {
        self.push(RawEvent::WaitExit {
            hdr: hdr(kind::WAIT_EXIT, t, p),
            syscall: syscall::WAIT4,
            ret,
        })
    }
    pub fn mark(&mut self, t: u64, task: Task, mark: u64) -> &mut Self {
        self.push(RawEvent::StartupMark {
            hdr: hdr(kind::STARTUP_MARK, t, task),
            mark,
        })
    }
    pub fn faults(
        &mut self,
        t: u64,
        task: Task,
        bucket: u32,
        spawn_pid: u32,
        count: u64,
        cow: u64,
    ) -> &mut Self {
        self.push(RawEvent::Faults {
            hdr: hdr(kind::FAULTS, t, task),
            bucket,
            spawn_pid,
            totals: FaultTotals {
                count,
                cow,
                major: 0,
                timed: count,
                time_ns: count * 3000,
            },
        })
    }

    /// Parent side of a clone up to the wakeup, and the child's first run:
    /// enter at `t`, newtask +100, process_fork +110, wakeup +120, child runs +150.
    /// The parent's clone exit is left to the caller (its place differs for vfork).
    pub fn fork(
        &mut self,
        t: u64,
        p: Task,
        child: u32,
        sc: u64,
        flags: u64,
        comm: &str,
    ) -> &mut Self {
        self.clone_enter(t, p, sc, flags)
            .newtask(t + 100, p, child, flags, comm)
            .process_fork(t + 110, p, child)
            .wakeup(t + 120, p, child)
            .clone_exit(t + 150, proc(child), 0)
    }
}
