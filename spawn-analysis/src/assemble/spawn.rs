//! What the assembler knows about one spawn while it is in flight: the raw marks, as seen.
//! Turning them into phases happens once, in [`super::finalize`].
use crate::record::{ClonedBy, Faults};

/// One exec attempt and the marks inside it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Attempt {
    pub enter: u64,
    pub syscall: u32,
    pub filename: String,
    pub prepare: Option<u64>,
    pub exit_mmap: Option<u64>,
    pub process_exec: Option<u64>,
    pub exit: Option<u64>,
    pub ret: Option<i64>,
    /// The exec's entry was not seen (no syscall tracepoints, or its record was lost): the
    /// attempt is known from its first in-kernel mark, which `enter` then holds, and every
    /// span from the entry is absent.
    pub no_entry: bool,
}

impl Attempt {
    /// An attempt first seen at an in-kernel mark at `ts`.
    pub fn from_mark(ts: u64) -> Self {
        Attempt {
            enter: ts,
            no_entry: true,
            ..Default::default()
        }
    }

    /// The entry time, when it was seen.
    pub fn entry(&self) -> Option<u64> {
        (!self.no_entry).then_some(self.enter)
    }

    /// Still inside the syscall. Without an entry there is no exit event either: the
    /// attempt ends at its load mark (`sched_process_exec` fires on success only).
    pub fn open(&self) -> bool {
        self.exit.is_none() && !(self.no_entry && self.process_exec.is_some())
    }
}

/// What the task said about itself (the last `Ident` event: the one after its last exec).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ident {
    pub cgroup_id: u64,
    pub ns_pid: Option<u32>,
    pub pid_ns: Option<u64>,
}

/// The raw marks of one spawn (a process keyed by its pid, or a thread keyed by its tid).
#[derive(Clone, Debug, Default)]
pub(crate) struct Spawn {
    pub pid: u32,
    /// Record id, from the assembler (see `SpawnRecord::id`).
    pub id: u64,
    /// The spawner's record id and this record's depth, fixed at creation: the spawner may be
    /// gone (or its pid reused) by the time this record is finalized.
    pub parent_record: Option<u64>,
    pub depth: u32,
    pub thread: bool,
    /// The kernel parent (for a `CLONE_PARENT` clone: the cloner's parent, when known).
    pub ppid: Option<u32>,
    pub parent_tid: Option<u32>,
    /// The cloner, for a `CLONE_PARENT` clone (it is not the parent).
    pub cloned_by: Option<ClonedBy>,
    /// `CLONE_PARENT` clones this process made (a warm image's spawns).
    pub clone_parent_clones: u32,
    pub parent_comm: Option<String>,
    pub comm: Option<String>,
    /// `task_newtask` was seen: the spawn began while tracing.
    pub created: bool,
    pub prep: Option<u64>,
    pub clone_enter: Option<u64>,
    pub clone_syscall: Option<u64>,
    pub clone_flags: Option<u64>,
    pub newtask: Option<u64>,
    pub process_fork: Option<u64>,
    pub wakeup: Option<u64>,
    pub parent_clone_exit: Option<u64>,
    pub first_run: Option<u64>,
    pub attempts: Vec<Attempt>,
    /// Startup marks `(ts, mark)` of the first successful exec's image.
    pub marks: Vec<(u64, u64)>,
    pub exit_code: Option<i32>,
    pub exit: Option<u64>,
    pub reap: Option<u64>,
    pub reaper: Option<u32>,
    pub faults: Faults,
    pub ident: Option<Ident>,
    /// The parent exited: nobody known will reap this one.
    pub parent_dead: bool,
    /// Timestamp of the last event that touched this record (for eviction).
    pub last_seen: u64,
    pub notes: Vec<String>,
}

impl Spawn {
    pub fn new(pid: u32) -> Self {
        Spawn {
            pid,
            ..Default::default()
        }
    }

    /// The end of its life was seen (its exit, for a process; its exit, for a thread).
    pub fn exited(&self) -> bool {
        self.exit.is_some()
    }

    /// The attempt still inside the syscall, if any.
    pub fn open_attempt(&mut self) -> Option<&mut Attempt> {
        self.attempts.last_mut().filter(|a| a.open())
    }

    /// Index of the first successful exec.
    pub fn first_success(&self) -> Option<usize> {
        self.attempts.iter().position(|a| a.ret == Some(0))
    }

    /// The file of the last successful exec, when its name was seen.
    pub fn last_program(&self) -> Option<&str> {
        self.attempts
            .iter()
            .rev()
            .find(|a| a.ret == Some(0))
            .map(|a| a.filename.as_str())
            .filter(|f| !f.is_empty())
    }

    /// Startup marks belong to the first successful image only: none before it, none once a
    /// later exec started (`sh -c 'exec prog'` would otherwise mix two programs' loaders).
    pub fn accepts_marks(&self) -> bool {
        self.first_success()
            .is_some_and(|i| i + 1 == self.attempts.len())
    }

    /// When this record can be considered over, for the grace window: the reap, or for a
    /// thread its exit.
    pub fn end_ts(&self) -> Option<u64> {
        if self.thread { self.exit } else { self.reap }
    }
}
