//! The record schema: one [`SpawnRecord`] per spawn (or thread), as written to JSON lines and
//! CSV. Versioned so that stored reports stay readable: bump [`SCHEMA_VERSION`] on any change
//! that renames or re-means a field.
//!
//! Every time is in nanoseconds of CLOCK_MONOTONIC. A phase that was not measured is `null`,
//! never 0: a 0 means "measured, took no time".
use serde::{Deserialize, Serialize};
use spawn_common::syscall;

pub use crate::phase::Phase;

/// Version of this schema, written as `"v"` in every record.
pub const SCHEMA_VERSION: u32 = 1;

/// What kind of task creation a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpawnKind {
    /// A new process that exec'd (or tried to).
    Exec,
    /// A new process that never exec'd (a forked worker).
    ForkOnly,
    /// A new process made by a `CLONE_PARENT` clone that never exec'd: spawn-fast's warm
    /// spawn, where a parked image of a program forks itself as a child of its own parent
    /// (the requester). `ppid` and `parent_record` name that parent; `cloned_by` the image.
    Warm,
    /// A new thread (CLONE_THREAD): `pid` is the thread id, `ppid` the process it joined.
    Thread,
    /// The command spawnprof was asked to trace.
    Root,
    /// Only seen after its creation and before any exec: what it is cannot be told.
    Unknown,
}

impl SpawnKind {
    /// The name used in JSON, CSV and tables (`"fork_only"`), the same as its serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpawnKind::Exec => "exec",
            SpawnKind::ForkOnly => "fork_only",
            SpawnKind::Warm => "warm",
            SpawnKind::Thread => "thread",
            SpawnKind::Root => "root",
            SpawnKind::Unknown => "unknown",
        }
    }
}

/// The clone-family syscall that created the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloneSyscall {
    /// `clone(2)`; glibc's `fork()` and `posix_spawn` go through it.
    Clone,
    /// `clone3(2)` (Linux 5.3+).
    Clone3,
    /// The legacy `fork(2)` syscall (rare: libcs call `clone`).
    Fork,
    /// The legacy `vfork(2)` syscall.
    Vfork,
}

impl CloneSyscall {
    /// From a `spawn_common::syscall` number; `None` for anything else.
    pub fn from_raw(n: u64) -> Option<Self> {
        match n {
            syscall::CLONE => Some(CloneSyscall::Clone),
            syscall::CLONE3 => Some(CloneSyscall::Clone3),
            syscall::FORK => Some(CloneSyscall::Fork),
            syscall::VFORK => Some(CloneSyscall::Vfork),
            _ => None,
        }
    }

    /// The syscall's name (`"clone3"`), the same as its serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            CloneSyscall::Clone => "clone",
            CloneSyscall::Clone3 => "clone3",
            CloneSyscall::Fork => "fork",
            CloneSyscall::Vfork => "vfork",
        }
    }
}

/// One exec attempt, in the order they were made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecAttempt {
    /// The path passed to exec, or for an exec by fd the file behind the fd when the probes
    /// could resolve it.
    pub filename: String,
    /// 0 or `-errno`; `null` when the attempt had not returned when tracing stopped.
    pub ret: Option<i64>,
    /// `ret` as a name ("ENOENT"); `null` when it succeeded or had not returned.
    pub errno_name: Option<String>,
    /// "execve" or "execveat".
    pub syscall: String,
    /// When the attempt entered the syscall (CLOCK_MONOTONIC ns).
    pub t_ns: u64,
}

/// The exec part of a spawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecInfo {
    /// The first successful exec's file (its phases are the ones measured), or, when none
    /// succeeded, the last attempt's.
    pub filename: String,
    /// 0, `-errno`, or `null` when the exec had not returned.
    pub ret: Option<i64>,
    /// `ret` as a name ("ENOENT"); `null` when it succeeded or had not returned.
    pub errno_name: Option<String>,
    /// Every attempt, e.g. a shell trying each PATH entry, including later execs.
    pub attempts: Vec<ExecAttempt>,
    /// Number of successful execs (2 for `sh -c 'exec prog'`).
    pub execs: u32,
    /// The file of the last successful exec when there were several (what finally ran).
    pub final_filename: Option<String>,
}

#[cfg(test)]
impl ExecInfo {
    /// One successful exec of `filename`, with no attempts listed (for tests).
    pub(crate) fn ok(filename: &str) -> Self {
        ExecInfo {
            filename: filename.into(),
            ret: Some(0),
            errno_name: None,
            attempts: Vec::new(),
            execs: 1,
            final_filename: None,
        }
    }
}

/// The process that called clone when it is not the new process's parent: a `CLONE_PARENT`
/// clone makes the child a sibling of the caller (for a warm spawn the caller is the parked
/// image, the parent is the process that asked for the spawn).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClonedBy {
    /// The cloning process (tgid).
    pub pid: u32,
    /// Its thread that called clone.
    pub tid: u32,
    /// The `id` of its record, when it was traced.
    pub record: Option<u64>,
    /// Its comm at the clone.
    pub comm: String,
    /// The file it had exec'd (its last successful exec), when that exec was traced: for a
    /// warm spawn, the program the child runs.
    pub program: Option<String>,
}

/// Spans of one spawn, one field per [`Phase`] (the field names are the phases' JSON keys,
/// checked by a test against [`Phase::name`]). The main phases follow one another without
/// gaps, so when all are present they sum to `t_end - t_start`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    /// [`Phase::Prep`]: the parent inside spawn-fast before the clone (only with `--prep`).
    pub prep: Option<u64>,
    /// [`Phase::Copy`]: the clone syscall copying the parent.
    pub copy: Option<u64>,
    /// [`Phase::Queue`]: from the child's creation to its first run.
    pub queue: Option<u64>,
    /// [`Phase::Setup`]: the child's own work before exec.
    pub setup: Option<u64>,
    /// [`Phase::Exec`]: the exec syscall, including failed attempts before it.
    pub exec: Option<u64>,
    /// Failed exec attempts before the successful one (0 when the first attempt worked).
    pub exec_retry: Option<u64>,
    /// [`Phase::ExecOpen`]: finding and opening the file.
    pub exec_open: Option<u64>,
    /// [`Phase::ExecTeardown`]: tearing down the old address space.
    pub exec_teardown: Option<u64>,
    /// [`Phase::ExecLoad`]: mapping the new image.
    pub exec_load: Option<u64>,
    /// [`Phase::ExecFinish`]: from the mapped image to the syscall's return.
    pub exec_finish: Option<u64>,
    /// [`Phase::Startup`]: from exec's return to `main`.
    pub startup: Option<u64>,
    /// [`Phase::StartupLoader`]: the dynamic loader.
    pub startup_loader: Option<u64>,
    /// [`Phase::StartupInit`]: libc and constructors up to `main`.
    pub startup_init: Option<u64>,
    /// [`Phase::Run`]: the program's own work up to its exit. It starts where the previous
    /// measured phase ended: `main`, or exec's return when `startup` is `null`.
    pub run: Option<u64>,
    /// [`Phase::Reap`]: from the child's exit to the parent's wait returning it.
    pub reap: Option<u64>,
}

impl Phases {
    /// One phase's duration, ns (`None`: not measured for this spawn).
    pub fn get(&self, phase: Phase) -> Option<u64> {
        *self.slot(phase)
    }

    /// Sets one phase's duration.
    pub fn set(&mut self, phase: Phase, ns: Option<u64>) {
        *self.slot_mut(phase) = ns;
    }

    fn slot(&self, phase: Phase) -> &Option<u64> {
        match phase {
            Phase::Prep => &self.prep,
            Phase::Copy => &self.copy,
            Phase::Queue => &self.queue,
            Phase::Setup => &self.setup,
            Phase::Exec => &self.exec,
            Phase::ExecRetry => &self.exec_retry,
            Phase::ExecOpen => &self.exec_open,
            Phase::ExecTeardown => &self.exec_teardown,
            Phase::ExecLoad => &self.exec_load,
            Phase::ExecFinish => &self.exec_finish,
            Phase::Startup => &self.startup,
            Phase::StartupLoader => &self.startup_loader,
            Phase::StartupInit => &self.startup_init,
            Phase::Run => &self.run,
            Phase::Reap => &self.reap,
        }
    }

    fn slot_mut(&mut self, phase: Phase) -> &mut Option<u64> {
        match phase {
            Phase::Prep => &mut self.prep,
            Phase::Copy => &mut self.copy,
            Phase::Queue => &mut self.queue,
            Phase::Setup => &mut self.setup,
            Phase::Exec => &mut self.exec,
            Phase::ExecRetry => &mut self.exec_retry,
            Phase::ExecOpen => &mut self.exec_open,
            Phase::ExecTeardown => &mut self.exec_teardown,
            Phase::ExecLoad => &mut self.exec_load,
            Phase::ExecFinish => &mut self.exec_finish,
            Phase::Startup => &mut self.startup,
            Phase::StartupLoader => &mut self.startup_loader,
            Phase::StartupInit => &mut self.startup_init,
            Phase::Run => &mut self.run,
            Phase::Reap => &mut self.reap,
        }
    }

    /// Sum of the main phases that are present.
    pub fn main_sum(&self) -> u64 {
        Phase::MAIN.iter().filter_map(|&p| self.get(p)).sum()
    }
}

/// Page-fault totals of one side of a spawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// User page faults taken.
    pub count: u64,
    /// Present + write: copy-on-write (or write-protect) faults.
    pub cow: u64,
    /// Major faults (the page had to be read from disk).
    pub major: u64,
    /// Time spent in the `timed` faults (the others have no exit mark).
    pub time_ns: u64,
    /// Faults whose duration was measured and is in `time_ns` (the others retried or
    /// failed).
    pub timed: u64,
}

impl FaultCounts {
    /// Adds one probe flush of totals (saturating).
    pub fn add(&mut self, t: &spawn_common::FaultTotals) {
        self.count = self.count.saturating_add(t.count);
        self.cow = self.cow.saturating_add(t.cow);
        self.major = self.major.saturating_add(t.major);
        self.time_ns = self.time_ns.saturating_add(t.time_ns);
        self.timed = self.timed.saturating_add(t.timed);
    }
}

/// Faults charged to a spawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// The child's faults between fork and exec entry.
    pub child_pre_exec: FaultCounts,
    /// The parent's copy-on-write faults caused by this fork.
    pub parent_after_fork: FaultCounts,
    /// The child's faults after its exec returned.
    pub child_post_exec: FaultCounts,
}

/// One spawn (or thread creation) from the clone call to the reap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnRecord {
    /// Always [`SCHEMA_VERSION`].
    pub v: u32,
    /// The child's pid (tgid); for a thread, its tid.
    pub pid: u32,
    /// The creating process (for a thread: the process it belongs to). For a `CLONE_PARENT`
    /// clone, the parent the kernel gave it: the cloner's own parent (`null` when that was
    /// not traced); the cloner is in `cloned_by`.
    pub ppid: Option<u32>,
    /// The parent's thread that called clone; `null` for a `CLONE_PARENT` clone, which a
    /// thread of `cloned_by` made.
    pub parent_tid: Option<u32>,
    /// This record's id, unique within one trace (1, 2, ... in creation order, assigned by the
    /// assembler): what `parent_record` points to. 0 in traces written before lineage existed.
    #[serde(default)]
    pub id: u64,
    /// The `id` of the record of the process that called clone, when that process was traced;
    /// for a `CLONE_PARENT` clone, of the cloner's parent (the requester of a warm spawn).
    /// Unlike `ppid` it names one life of that pid (pids are reused) and stays the spawner
    /// when the child is re-parented to a subreaper. `null` for the traced root, a process
    /// already running when tracing started, or one whose parent was not traced.
    #[serde(default)]
    pub parent_record: Option<u64>,
    /// Generations below the first traced ancestor: 0 for the traced root (and for any record
    /// without `parent_record`), its children 1, and so on.
    #[serde(default)]
    pub depth: u32,
    /// The child's comm when last seen (after exec: the new program's).
    pub comm: String,
    /// The creating process's comm at the clone; `null` when the clone was not seen.
    pub parent_comm: Option<String>,
    /// `ns_pid`, `pid_ns`, `cgroup_id`, `cgroup` and `container` (see
    /// [`crate::container::TaskIdentity`]), at the top level of the record.
    #[serde(flatten)]
    pub ident: crate::container::TaskIdentity,
    /// What was created: a process that exec'd, a forked worker, a thread...
    pub kind: SpawnKind,
    /// The clone-family syscall that created it; `null` when its entry was not seen.
    pub clone_syscall: Option<CloneSyscall>,
    /// The raw clone flags, low byte the exit signal; `null` when not seen.
    pub clone_flags: Option<u64>,
    /// `clone_flags` decoded, e.g. `["CLONE_VM", "CLONE_VFORK", "SIGCHLD"]`.
    pub clone_flag_names: Vec<String>,
    /// Who called clone when it is not the parent (`CLONE_PARENT`: the image of a warm
    /// spawn); `null` otherwise.
    #[serde(default)]
    pub cloned_by: Option<ClonedBy>,
    /// The child's exec(s); `null` when it never tried to exec (or the entry was not seen).
    pub exec: Option<ExecInfo>,
    /// Start of the spawn: the prep mark or the clone entry; `null` when not seen.
    pub t_start_ns: Option<u64>,
    /// The reap, or the exit when never reaped.
    pub t_end_ns: Option<u64>,
    /// `t_end - t_start`, when both are known.
    pub total_ns: Option<u64>,
    /// The parent's clone-family syscall, entry to return.
    pub clone_syscall_ns: Option<u64>,
    /// The exec syscall that succeeded (or the last failed one), entry to return.
    pub exec_syscall_ns: Option<u64>,
    /// Duration of each phase, ns; `null` for a phase that was not measured.
    pub phases_ns: Phases,
    /// Why `phases_ns.startup` is null, when it is.
    pub startup_note: Option<String>,
    /// Page faults charged to this spawn, on both sides.
    pub faults: Faults,
    /// Code passed to exit_group (`null` when killed by a signal or not seen).
    pub exit_code: Option<i32>,
    /// Every phase boundary from clone entry to reap was seen.
    pub complete: bool,
    /// Human-readable remarks from the assembler (missing events, pid reuse, ...).
    pub notes: Vec<String>,
}

impl SpawnRecord {
    /// A record with nothing measured yet: the starting point for the assembler and tests.
    pub fn new(pid: u32, kind: SpawnKind) -> Self {
        SpawnRecord {
            v: SCHEMA_VERSION,
            pid,
            ppid: None,
            parent_tid: None,
            id: 0,
            parent_record: None,
            depth: 0,
            comm: String::new(),
            parent_comm: None,
            ident: Default::default(),
            kind,
            clone_syscall: None,
            clone_flags: None,
            clone_flag_names: Vec::new(),
            cloned_by: None,
            exec: None,
            t_start_ns: None,
            t_end_ns: None,
            total_ns: None,
            clone_syscall_ns: None,
            exec_syscall_ns: None,
            phases_ns: Phases::default(),
            startup_note: None,
            faults: Faults::default(),
            exit_code: None,
            complete: false,
            notes: Vec::new(),
        }
    }

    /// Basename of the exec'd file (the first successful exec, else the last attempt).
    pub fn program(&self) -> Option<&str> {
        // Empty when the exec's entry (which carries the name) was not seen.
        let f = Some(self.exec.as_ref()?.filename.as_str()).filter(|f| !f.is_empty())?;
        Some(basename(f))
    }

    /// The program a warm spawn runs (kind [`SpawnKind::Warm`]): the basename of the file its
    /// image exec'd, else its comm; `None` for every other kind.
    pub fn warm_program(&self) -> Option<&str> {
        if self.kind != SpawnKind::Warm {
            return None;
        }
        let image = self.cloned_by.as_ref().and_then(|c| c.program.as_deref());
        Some(
            image
                .filter(|f| !f.is_empty())
                .map_or(self.comm.as_str(), basename),
        )
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path)
}

/// All of `linux/sched.h`'s clone flags, for naming. The low byte is the exit signal.
const FLAG_NAMES: [(u64, &str); 26] = [
    (0x0000_0100, "CLONE_VM"),
    (0x0000_0200, "CLONE_FS"),
    (0x0000_0400, "CLONE_FILES"),
    (0x0000_0800, "CLONE_SIGHAND"),
    (0x0000_1000, "CLONE_PIDFD"),
    (0x0000_2000, "CLONE_PTRACE"),
    (0x0000_4000, "CLONE_VFORK"),
    (0x0000_8000, "CLONE_PARENT"),
    (0x0001_0000, "CLONE_THREAD"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0004_0000, "CLONE_SYSVSEM"),
    (0x0008_0000, "CLONE_SETTLS"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0040_0000, "CLONE_DETACHED"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

/// Names the set bits of `flags`; the exit signal is named (`SIGCHLD`) or numbered
/// (`SIG17`), unknown bits are shown in hex.
pub fn clone_flag_names(flags: u64) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = flags & !spawn_common::clone_flags::CSIGNAL;
    for (bit, name) in FLAG_NAMES {
        if rest & bit != 0 {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    match flags & spawn_common::clone_flags::CSIGNAL {
        0 => {}
        17 => names.push("SIGCHLD".into()),
        s => names.push(format!("SIG{s}")),
    }
    names
}

/// Symbolic name of an errno value (positive), e.g. 2 -> "ENOENT".
pub fn errno_name(errno: i64) -> String {
    let name = match errno {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        26 => "ETXTBSY",
        27 => "EFBIG",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        _ => return format!("E{errno}"),
    };
    name.to_string()
}

/// The errno name for a `-errno` return value; `None` for 0 or any other success.
pub fn ret_name(ret: i64) -> Option<String> {
    (ret < 0).then(|| errno_name(ret.saturating_neg()))
}

/// Name of an exec syscall number.
pub fn exec_syscall_name(n: u64) -> String {
    match n {
        syscall::EXECVE => "execve".into(),
        syscall::EXECVEAT => "execveat".into(),
        other => format!("syscall {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_clone_flags() {
        assert_eq!(
            clone_flag_names(0x4111),
            ["CLONE_VM", "CLONE_VFORK", "SIGCHLD"]
        );
        assert_eq!(clone_flag_names(17), ["SIGCHLD"]);
        assert_eq!(clone_flag_names(0), Vec::<String>::new());
        assert_eq!(
            clone_flag_names(0x10_0000_0000 | 9),
            ["0x1000000000", "SIG9"]
        );
    }

    #[test]
    fn names_errnos() {
        assert_eq!(ret_name(-2).as_deref(), Some("ENOENT"));
        assert_eq!(ret_name(-13).as_deref(), Some("EACCES"));
        assert_eq!(ret_name(-8).as_deref(), Some("ENOEXEC"));
        assert_eq!(ret_name(-4095).as_deref(), Some("E4095"));
        assert_eq!(ret_name(0), None);
        // i64::MIN cannot be negated: it must not panic.
        assert!(ret_name(i64::MIN).is_some());
    }

    #[test]
    fn phases_main_sum_skips_nulls() {
        let p = Phases {
            copy: Some(3),
            exec: Some(4),
            exec_load: Some(100),
            ..Default::default()
        };
        assert_eq!(p.main_sum(), 7);
        assert_eq!(p.get(Phase::ExecLoad), Some(100));
    }

    #[test]
    fn phase_fields_are_the_phase_names() {
        let mut p = Phases::default();
        for (i, ph) in Phase::ALL.into_iter().enumerate() {
            p.set(ph, Some(i as u64));
        }
        let v = serde_json::to_value(&p).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        assert_eq!(keys_sorted, names);
        for (i, ph) in Phase::ALL.into_iter().enumerate() {
            assert_eq!(v[ph.name()], i as u64, "{ph}");
        }
    }
}
