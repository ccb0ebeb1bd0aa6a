//! Event types shared by the spawnprof probes (kernel side, `spawn-ebpf`) and the analyzer
//! (user side, `spawn-user`).
//!
//! Everything here is `#[repr(C)]` plain data: the probes write these structs into one ring
//! buffer and user space reads them back byte for byte. Kinds and enumerations are plain `u32`
//! constants rather than Rust enums so that a value the reader does not know (a newer probe, a
//! corrupt record) is a decoding error instead of undefined behaviour.
//!
//! The meaning of `Event::arg0..arg2` depends on `Header::kind`; see [`kind`].
#![no_std]

mod ident;
pub use ident::{PidNsOffsets, ident_origin};

/// Length of a task's `comm`, including the NUL.
pub const COMM_LEN: usize = 16;
/// Bytes of an exec filename kept per exec attempt (longer names are cut, never dropped).
pub const PATH_LEN: usize = 256;
/// Marker for "this tracepoint field does not exist on this kernel".
pub const FIELD_ABSENT: u32 = u32::MAX;

/// Record kinds. The argument meaning for each is given next to it.
pub mod kind {
    /// Parent enters clone/clone3/fork/vfork. `arg0` = syscall (see [`super::syscall`]),
    /// `arg1` = clone flags (for clone3 read from `clone_args.flags`; fork = `SIGCHLD`,
    /// vfork = `CLONE_VM|CLONE_VFORK|SIGCHLD`).
    pub const CLONE_ENTER: u32 = 1;
    /// A clone-family syscall returns, in the parent (`arg1` = child pid) or in the child
    /// (`arg1` = 0: this is the child's first return to user space). `arg0` = syscall,
    /// `arg1` = return value as `i64`.
    pub const CLONE_EXIT: u32 = 2;
    /// `task:task_newtask`, in the parent once `copy_process` is done. `arg0` = new task's pid
    /// (a tid), `arg1` = clone flags. `comm` = parent comm.
    pub const TASK_NEWTASK: u32 = 3;
    /// `sched:sched_process_fork`, in the parent. `arg0` = child pid, `arg1` = parent pid.
    pub const PROCESS_FORK: u32 = 4;
    /// `sched:sched_wakeup_new`. `arg0` = woken pid, `arg1` = target cpu.
    pub const WAKEUP_NEW: u32 = 5;
    /// Exec entry. Carried by an [`super::ExecEvent`], not an [`super::Event`].
    pub const EXEC_ENTER: u32 = 6;
    /// `sched:sched_prepare_exec`: file opened, bprm ready (absent before Linux 6.10).
    pub const PREPARE_EXEC: u32 = 7;
    /// `mmap:exit_mmap`: an address space was torn down by the current task (during exec: the
    /// old one; at exit: its own). Fires at the end of `exit_mmap`.
    pub const EXIT_MMAP: u32 = 8;
    /// `sched:sched_process_exec`: new image loaded. `arg0` = old pid (differs from `tid` when
    /// a non-leader thread exec'd). `comm` = the new comm.
    pub const PROCESS_EXEC: u32 = 9;
    /// Exec returns. `arg0` = syscall, `arg1` = return value as `i64` (0 or `-errno`).
    pub const EXEC_EXIT: u32 = 10;
    /// `sys_enter_exit_group`. `arg0` = exit code.
    pub const EXIT_GROUP: u32 = 11;
    /// `sched:sched_process_exit`. `arg0` = 1 if the whole thread group is dead, 0 if not,
    /// 2 if this kernel does not say. `comm` = comm at exit.
    pub const PROCESS_EXIT: u32 = 12;
    /// wait4/waitid returns in the parent. `arg0` = syscall, `arg1` = reaped pid (waitid:
    /// `si_pid` from the caller's siginfo) or `-errno`, 0 when nothing was reaped.
    pub const WAIT_EXIT: u32 = 13;
    /// A user-space startup mark (uprobe). `arg0` = mark (see [`super::mark`]).
    pub const STARTUP_MARK: u32 = 14;
    /// Page-fault totals of one (task, bucket), flushed at a phase boundary. Carried by a
    /// [`super::FaultEvent`].
    pub const FAULTS: u32 = 15;
    /// The path of the file behind an exec'd fd (`execveat(fd, "", AT_EMPTY_PATH)`), walked
    /// in the kernel; written just before the [`EXEC_ENTER`] it names. Carried by a
    /// [`super::FdPathEvent`].
    pub const FD_PATH: u32 = 16;
    /// Who the current task is, for container attribution, written by the task itself at
    /// its first run (clone returning 0 in a new process) and after each successful exec
    /// (container runtimes move their init into the container's cgroup just before it
    /// execs). Carried by an [`super::Event`]: `arg0` = cgroup v2 id
    /// (`bpf_get_current_cgroup_id`), `arg1` = pid in the task's own pid namespace (low 32
    /// bits) | that namespace's inode << 32 (both 0 when the loader found no BTF offsets),
    /// `arg2` = one of [`super::ident_origin`].
    pub const TASK_IDENT: u32 = 17;
}

/// Syscalls named in events.
pub mod syscall {
    pub const CLONE: u64 = 1;
    pub const CLONE3: u64 = 2;
    pub const FORK: u64 = 3;
    pub const VFORK: u64 = 4;
    pub const EXECVE: u64 = 5;
    pub const EXECVEAT: u64 = 6;
    pub const WAIT4: u64 = 7;
    pub const WAITID: u64 = 8;
}

/// User-space startup marks reached by uprobes.
pub mod mark {
    /// ld.so's `_dl_debug_state`: called when the link map changes (libraries being added,
    /// then consistent again).
    pub const DL_DEBUG_STATE: u64 = 1;
    /// glibc's `__libc_start_main`: the loader is done, libc starts the program.
    pub const LIBC_START_MAIN: u64 = 2;
    /// spawn-fast's `spawn_fast_mark_enter`: a spawn API was entered in the *parent*; the
    /// span to that thread's next clone-family entry is the spawn's `prep` phase.
    pub const SPAWN_ENTER: u64 = 3;
    /// spawn-fast's `spawn_fast_mark_return`: that spawn API call is over. A `SPAWN_ENTER`
    /// with no clone in between (the zygote clones in another process) must not be charged
    /// to this thread's next, unrelated clone.
    pub const SPAWN_RETURN: u64 = 4;
}

/// Which side and phase of a spawn page faults are charged to.
pub mod fault_bucket {
    /// The child's own faults between fork and its (first) exec entry.
    pub const CHILD_PRE_EXEC: u32 = 0;
    /// The task's faults after its exec returned (or its whole life for a non-spawned root).
    pub const CHILD_POST_EXEC: u32 = 1;
    /// The parent's write faults on present pages after a fork (copy-on-write or
    /// write-protect), from the fork's return until it reaped the child or forked again.
    pub const PARENT_AFTER_FORK: u32 = 2;
}

/// Clone flags the analyzer cares about (values from `linux/sched.h`).
pub mod clone_flags {
    pub const CSIGNAL: u64 = 0x0000_00ff;
    pub const CLONE_VM: u64 = 0x0000_0100;
    pub const CLONE_FS: u64 = 0x0000_0200;
    pub const CLONE_FILES: u64 = 0x0000_0400;
    pub const CLONE_SIGHAND: u64 = 0x0000_0800;
    pub const CLONE_PIDFD: u64 = 0x0000_1000;
    pub const CLONE_VFORK: u64 = 0x0000_4000;
    pub const CLONE_PARENT: u64 = 0x0000_8000;
    pub const CLONE_THREAD: u64 = 0x0001_0000;
    pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    /// `SIGCHLD`, the exit signal fork() uses.
    pub const SIGCHLD: u64 = 17;
}

/// x86 page-fault error code bits.
pub mod fault_code {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITE: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
}

/// Common start of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// One of [`kind`].
    pub kind: u32,
    /// CPU the probe ran on.
    pub cpu: u32,
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC, comparable with user-space marks.
    pub ts_ns: u64,
    /// Kernel pid of the current task (a thread id).
    pub tid: u32,
    /// Kernel tgid of the current task (the process id).
    pub tgid: u32,
}

/// The fixed-size record used by every kind except [`kind::EXEC_ENTER`] and [`kind::FAULTS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub hdr: Header,
    pub arg0: u64,
    pub arg1: u64,
    pub arg2: u64,
    /// Current task's comm, NUL-padded.
    pub comm: [u8; COMM_LEN],
}

/// Exec entry: which syscall, which file.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecEvent {
    pub hdr: Header,
    /// [`syscall::EXECVE`] or [`syscall::EXECVEAT`].
    pub syscall: u32,
    /// execveat's dirfd (`AT_FDCWD` = -100 for execve).
    pub fd: i32,
    /// execveat's flags (`AT_EMPTY_PATH` = 0x1000 means "exec the fd itself").
    pub flags: u32,
    /// Bytes of `filename` that hold the name (without the NUL).
    pub filename_len: u32,
    pub comm: [u8; COMM_LEN],
    pub filename: [u8; PATH_LEN],
}

impl Default for ExecEvent {
    fn default() -> Self {
        Self {
            hdr: Header::default(),
            syscall: 0,
            fd: 0,
            flags: 0,
            filename_len: 0,
            comm: [0; COMM_LEN],
            filename: [0; PATH_LEN],
        }
    }
}

/// Page-fault totals of one task in one bucket.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultEvent {
    pub hdr: Header,
    /// One of [`fault_bucket`].
    pub bucket: u32,
    /// For [`fault_bucket::PARENT_AFTER_FORK`]: the child whose fork made the pages
    /// read-only. Otherwise the task itself.
    pub spawn_pid: u32,
    pub totals: FaultTotals,
}

/// Counters of user page faults. `timed` of them have an exit mark and contribute to
/// `time_ns`; the others retried or failed and have no duration.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultTotals {
    pub count: u64,
    /// Present + write: copy-on-write or write-protect faults.
    pub cow: u64,
    pub major: u64,
    pub timed: u64,
    pub time_ns: u64,
}

/// Field offsets of the tracepoint records the probes read, taken from tracefs format files at
/// start-up (they change between kernels). [`FIELD_ABSENT`] marks a field this kernel lacks.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub clone_flags: u32,
    pub clone3_uargs: u32,
    pub execve_filename: u32,
    pub execveat_fd: u32,
    pub execveat_filename: u32,
    pub execveat_flags: u32,
    pub waitid_infop: u32,
    pub exit_group_code: u32,
    /// `ret` of every `sys_exit_*` record.
    pub sys_exit_ret: u32,
    pub newtask_pid: u32,
    pub newtask_clone_flags: u32,
    pub fork_parent_pid: u32,
    pub fork_child_pid: u32,
    pub wakeup_new_pid: u32,
    pub wakeup_new_target_cpu: u32,
    pub exec_old_pid: u32,
    pub exit_group_dead: u32,
    pub fault_address: u32,
    pub fault_error_code: u32,
}

impl Layout {
    /// Offsets of Linux 6.18 on x86_64, used only as the initial value of the probes' global
    /// (the loader always overwrites it with what tracefs says).
    pub const LINUX_6_18: Layout = Layout {
        clone_flags: 16,
        clone3_uargs: 16,
        execve_filename: 16,
        execveat_fd: 16,
        execveat_filename: 24,
        execveat_flags: 48,
        waitid_infop: 32,
        exit_group_code: 16,
        sys_exit_ret: 16,
        newtask_pid: 8,
        newtask_clone_flags: 32,
        fork_parent_pid: 12,
        fork_child_pid: 20,
        wakeup_new_pid: 24,
        wakeup_new_target_cpu: 32,
        exec_old_pid: 16,
        exit_group_dead: 32,
        fault_address: 8,
        fault_error_code: 24,
    };
}

/// Offsets of kernel struct fields (bytes), read from the kernel's BTF by the loader, for the
/// one place the probes walk kernel structs: naming the file of `execveat(fd, "",
/// AT_EMPTY_PATH)` (fexecve), which carries no file name. `FIELD_ABSENT` in `task_files`
/// turns that walk off (the analyzer then falls back to `/proc/PID/fd`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOffsets {
    /// `task_struct.files`
    pub task_files: u32,
    /// `files_struct.fdt`
    pub files_fdt: u32,
    /// `fdtable.max_fds`
    pub fdt_max_fds: u32,
    /// `fdtable.fd`
    pub fdt_fd: u32,
    /// `file.f_path` + `path.dentry`
    pub file_dentry: u32,
    /// `file.f_path` + `path.mnt`
    pub file_vfsmount: u32,
    /// `dentry.d_parent`
    pub dentry_parent: u32,
    /// `dentry.d_name` + `qstr.name`
    pub dentry_name: u32,
    /// `vfsmount.mnt_root`
    pub vfsmount_root: u32,
    /// `mount.mnt` (the embedded vfsmount)
    pub mount_vfsmount: u32,
    /// `mount.mnt_parent`
    pub mount_parent: u32,
    /// `mount.mnt_mountpoint`
    pub mount_mountpoint: u32,
}

impl KernelOffsets {
    /// The walk is off until the loader finds every field.
    pub const ABSENT: KernelOffsets = KernelOffsets {
        task_files: FIELD_ABSENT,
        files_fdt: FIELD_ABSENT,
        fdt_max_fds: FIELD_ABSENT,
        fdt_fd: FIELD_ABSENT,
        file_dentry: FIELD_ABSENT,
        file_vfsmount: FIELD_ABSENT,
        dentry_parent: FIELD_ABSENT,
        dentry_name: FIELD_ABSENT,
        vfsmount_root: FIELD_ABSENT,
        mount_vfsmount: FIELD_ABSENT,
        mount_parent: FIELD_ABSENT,
        mount_mountpoint: FIELD_ABSENT,
    };
}

/// Most path components the probes collect for an fd exec (deeper paths keep their last
/// components and are marked truncated).
pub const FD_PATH_DEPTH: usize = 16;

/// Bytes per path component in a [`FdPathEvent`] (longer names are cut).
pub const FD_NAME_LEN: usize = 64;

/// [`FdPathEvent::flags`]: components above the first `FD_PATH_DEPTH` were left out.
pub const FD_PATH_TOO_DEEP: u32 = 1;

/// The path of an exec'd fd as components, leaf first (`names[0]` is the file's own name).
/// Fixed slots instead of one string: the verifier can check a fixed-slot write cheaply,
/// while assembling a string in the kernel made the program too complex to verify.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FdPathEvent {
    pub hdr: Header,
    /// The exec'd fd.
    pub fd: i32,
    /// Components filled in `names`.
    pub depth: u32,
    /// `FD_PATH_TOO_DEEP`.
    pub flags: u32,
    pub _pad: u32,
    pub names: [[u8; FD_NAME_LEN]; FD_PATH_DEPTH],
}

/// Run-time switches of the probes, set by the loader as a global.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Follow every process on the host (system-wide mode) instead of only the tracked tree.
    pub follow_all: u32,
    /// Never follow this process (the analyzer itself).
    pub self_tgid: u32,
    /// Record page faults.
    pub faults: u32,
    /// Follow the descendants of followed processes (trace mode and `--pid P --children`).
    /// When 0 only the spawns made by the processes the loader named are recorded.
    pub children: u32,
    /// cgroup v2 id: when non-zero only tasks inside that cgroup or its descendants are
    /// recorded (system-wide mode).
    pub cgroup_id: u64,
    /// Depth of that cgroup below the root (for `bpf_get_current_ancestor_cgroup_id`).
    pub cgroup_level: u32,
    pub _pad: u32,
    /// Device and inode of spawnprof's own pid namespace (kernel `dev_t` encoding), 0 when
    /// it runs in the host's (initial) one. Then `self_tgid` and the pids in `NS_FOLLOW`
    /// are pids of that namespace, translated in the kernel with
    /// `bpf_get_ns_current_pid_tgid`, because user space there cannot learn host pids.
    pub pidns_dev: u64,
    pub pidns_ino: u64,
    /// Non-zero when `NS_FOLLOW` holds pids to follow (`--pid` inside a pid namespace).
    pub ns_follow: u32,
    pub _pad2: u32,
}

/// Indices into the probes' per-CPU counter array.
pub mod counter {
    /// Records dropped because the ring buffer was full.
    pub const LOST_EVENTS: u32 = 0;
    /// Page faults with an entry mark but no exit mark (retried or failed).
    pub const UNTIMED_FAULTS: u32 = 1;
    /// In-flight fault state dropped because its map was full.
    pub const FAULT_STATE_FULL: u32 = 2;
    /// A new process could not be followed (FOLLOWED full): its own events and its subtree
    /// are not recorded.
    pub const FOLLOWED_FULL: u32 = 3;
    /// A startup window could not be opened (STARTUP full): that exec's startup is absent.
    pub const STARTUP_FULL: u32 = 4;
    /// A waitid's `infop` could not be kept (WAITID_INFOP full): that reap is absent.
    pub const WAITID_FULL: u32 = 5;
    /// Spawns (task_newtask) made by tasks in scope, counted before anything can be lost:
    /// the independent total that records plus losses must add up to.
    pub const SPAWNS: u32 = 6;
    /// Spawns whose task_newtask record did not fit in the ring buffer: no record at all
    /// (also counted in [`LOST_EVENTS`]).
    pub const LOST_SPAWNS: u32 = 7;
    pub const COUNT: u32 = 8;
}

/// Maps whose size the loader can shrink for tests (`SPAWNPROF_TEST_MAP_SIZES`), by name.
pub mod sized_maps {
    pub const PROC: &str = "PROC";
    pub const STARTUP: &str = "STARTUP";
    pub const WAITID_INFOP: &str = "WAITID_INFOP";
}

/// Map names shared by the probes and the loader.
pub mod maps {
    pub const EVENTS: &str = "EVENTS";
    pub const FOLLOWED: &str = "FOLLOWED";
    pub const COUNTERS: &str = "COUNTERS";
    /// Pids of spawnprof's own pid namespace to follow (see `Config::ns_follow`).
    pub const NS_FOLLOW: &str = "NS_FOLLOW";
    /// `--cgroup` on kernels without the ancestor helper: the cgroup's directory in slot 0.
    pub const CGROUP: &str = "CGROUP";
}

/// How the probes check `--cgroup` (the `u32` global `CGROUP_CHECK`, set by the loader before
/// load; the verifier prunes the check not chosen, so its helper may be missing).
pub mod cgroup_check {
    /// The global's name in the probes.
    pub const GLOBAL: &str = "CGROUP_CHECK";
    /// `bpf_get_current_ancestor_cgroup_id(Config::cgroup_level) == Config::cgroup_id`
    /// (tracing programs: Linux 5.16+).
    pub const ANCESTOR_ID: u32 = 1;
    /// `bpf_current_task_under_cgroup` on the `CGROUP` map's slot 0 (Linux 4.9+).
    pub const TASK_UNDER_CGROUP: u32 = 2;
}

/// Size in bytes of the ring buffer (a power of two, as the kernel requires).
pub const RING_BYTES: u32 = 16 << 20;

#[cfg(feature = "user")]
mod pod {
    // All of these are #[repr(C)] structs of integers and byte arrays with no padding holes
    // that matter: every bit pattern is a valid value.
    // SAFETY: see above.
    unsafe impl aya::Pod for super::Layout {}
    // SAFETY: see above.
    unsafe impl aya::Pod for super::Config {}
    // SAFETY: see above.
    unsafe impl aya::Pod for super::KernelOffsets {}
    // SAFETY: see above.
    unsafe impl aya::Pod for super::PidNsOffsets {}
}
