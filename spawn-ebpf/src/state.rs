//! Maps, globals and the "followed" filter shared by all programs.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, generated::bpf_get_current_ancestor_cgroup_id},
    macros::map,
    maps::{Array, CgroupArray, HashMap, PerCpuArray, RingBuf},
};
use spawn_common::{Config, FaultTotals, Layout, RING_BYTES, cgroup_check, counter};

/// Tracepoint field offsets; overwritten by the loader from tracefs.
#[unsafe(no_mangle)]
static LAYOUT: Layout = Layout::LINUX_6_18;

/// Run-time switches; overwritten by the loader.
#[unsafe(no_mangle)]
static CONFIG: Config = Config {
    follow_all: 0,
    self_tgid: 0,
    faults: 0,
    children: 1,
    cgroup_id: 0,
    cgroup_level: 0,
    _pad: 0,
    pidns_dev: 0,
    pidns_ino: 0,
    ns_follow: 0,
    _pad2: 0,
};

/// How `--cgroup` is checked (`spawn_common::cgroup_check`); overwritten by the loader after
/// probing the helpers. It sits in `.rodata`, which the kernel freezes before the programs
/// load, so the verifier reads it as a constant and never walks the branch not taken: a kernel
/// without `bpf_get_current_ancestor_cgroup_id` in tracing programs (before 5.16) never sees
/// that call, and 5.10's verifier removes it as dead code.
#[unsafe(no_mangle)]
static CGROUP_CHECK: u32 = cgroup_check::ANCESTOR_ID;

/// spawnprof's own host tgid once the probes have seen it, when it runs in a pid namespace
/// of its own (then `CONFIG.self_tgid` is only its pid in that namespace). Written once.
static mut SELF_HOST_TGID: u32 = 0;

#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(RING_BYTES, 0);

// The per-process maps below are plain hash maps, not LRU: an LRU map that is full evicts
// the state of some *live* process without a trace (an evicted FOLLOWED entry silently drops
// a whole subtree), while a plain map refuses the new insert, which the probes count
// (`counter::*_FULL`). Entries leave at `sched_process_exit`, a scheduler tracepoint every
// process passes, so a plain map only fills with more live processes than slots. Their sizes
// can be shrunk for tests (the loader's `SPAWNPROF_TEST_MAP_SIZES`).

/// Processes (tgids) being followed in trace mode (removed at their exit).
#[map]
pub static FOLLOWED: HashMap<u32, u32> = HashMap::with_max_entries(65_536, 0);

/// Slot 0: the tid of the analyzer thread whose children are followed (0 = none). The traced
/// command is spawned by that thread, so its own spawn is recorded like any other.
#[map]
pub static WATCH: Array<u32> = Array::with_max_entries(1, 0);

/// `--pid` inside a pid namespace: pids of spawnprof's namespace to follow, with their role.
/// A task found here is moved to [`FOLLOWED`] under its host pid on its first probe hit.
#[map]
pub static NS_FOLLOW: aya_ebpf::maps::LruHashMap<u32, u32> =
    aya_ebpf::maps::LruHashMap::with_max_entries(4_096, 0);

/// `--cgroup` through [`cgroup_check::TASK_UNDER_CGROUP`]: slot 0 holds the cgroup's
/// directory (set by the loader from an fd); `bpf_current_task_under_cgroup` then says whether
/// the current task is in that cgroup or below it.
#[map]
pub static CGROUP: CgroupArray = CgroupArray::with_max_entries(1, 0);

#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// waitid's `infop` pointer between syscall entry and exit, by tid (the syscall exit
/// tracepoint runs even when a signal ends the call, and removes it).
#[map]
pub static WAITID_INFOP: HashMap<u32, u64> = HashMap::with_max_entries(16_384, 0);

/// Processes between a successful exec and `__libc_start_main` (startup marks are wanted);
/// removed there or at the process's exit (a static program never reaches libc.so's mark).
#[map]
pub static STARTUP: HashMap<u32, u32> = HashMap::with_max_entries(16_384, 0);

/// Page-fault attribution state of one followed process.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ProcFaults {
    /// Bucket for the process's own faults (`fault_bucket::CHILD_*`).
    pub own_bucket: u32,
    /// The last child this process forked without CLONE_VM and has not reaped yet (0 = none):
    /// its present+write faults are charged to that fork.
    pub fork_child: u32,
    pub own: FaultTotals,
    pub parent: FaultTotals,
}

#[map]
pub static PROC: HashMap<u32, ProcFaults> = HashMap::with_max_entries(65_536, 0);

/// A fault between its entry (tracepoint) and exit (perf event), one slot per CPU: a minor
/// fault starts and ends on the same CPU, and a per-CPU slot costs no hash-map insert and
/// delete per fault (those dominated the per-fault overhead). A fault that migrated (it slept,
/// a major fault) finds another thread's slot or none and is counted untimed.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FaultStart {
    pub ts_ns: u64,
    /// The faulting thread; 0 = slot empty.
    pub tid: u32,
    /// 1 when the fault is charged to the parent side (`ProcFaults::parent`).
    pub parent_side: u32,
}

#[map]
pub static FAULT_START: PerCpuArray<FaultStart> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
pub fn layout() -> Layout {
    // SAFETY: LAYOUT is a static the loader patches before load; volatile keeps the compiler
    // from constant-folding the default value into the programs.
    unsafe { core::ptr::read_volatile(&LAYOUT) }
}

#[inline(always)]
pub fn config() -> Config {
    // SAFETY: as for `layout`.
    unsafe { core::ptr::read_volatile(&CONFIG) }
}

/// (tid, tgid) of the current task.
#[inline(always)]
pub fn current() -> (u32, u32) {
    let id = bpf_get_current_pid_tgid();
    (id as u32, (id >> 32) as u32)
}

/// Is `tid` the analyzer thread that spawns the traced command?
#[inline(always)]
pub fn watched(tid: u32) -> bool {
    WATCH.get(0).is_some_and(|w| *w != 0 && *w == tid)
}

/// How a process is followed (the value in [`FOLLOWED`]).
pub const ROLE_FULL: u32 = 1;
/// Its own life is recorded (it is somebody's spawn) but not the spawns it makes
/// (`--pid P` without `--children`).
pub const ROLE_CHILD_ONLY: u32 = 2;

/// The role of the current task: 0 when not followed.
#[inline(always)]
pub fn role(tid: u32, tgid: u32) -> u32 {
    let cfg = config();
    if watched(tid) {
        return ROLE_FULL;
    }
    if is_self(tgid, &cfg) {
        return 0;
    }
    if cfg.follow_all != 0 {
        return if cfg.cgroup_id == 0 || in_cgroup(&cfg) {
            ROLE_FULL
        } else {
            0
        };
    }
    // SAFETY: a u32 read from a live map value.
    match FOLLOWED.get_ptr(tgid).map(|v| unsafe { *v }) {
        Some(r) => r,
        None if cfg.ns_follow != 0 => follow_from_ns(tgid, &cfg),
        None => 0,
    }
}

/// Is the current task spawnprof itself? In the host's pid namespace that is a compare; in
/// a namespace of its own, its host tgid is learnt from its first probe hit.
#[inline(always)]
fn is_self(tgid: u32, cfg: &Config) -> bool {
    if cfg.pidns_ino == 0 {
        return tgid == cfg.self_tgid;
    }
    let slot = core::ptr::addr_of_mut!(SELF_HOST_TGID);
    // SAFETY: a u32 global of this object; racing writers store the same value.
    let known = unsafe { core::ptr::read_volatile(slot) };
    if known != 0 {
        return tgid == known;
    }
    match crate::ident::in_our_ns(cfg) {
        Some((_, ns_tgid)) if ns_tgid == cfg.self_tgid => {
            // SAFETY: as above.
            unsafe { core::ptr::write_volatile(slot, tgid) };
            true
        }
        _ => false,
    }
}

/// A task named by its pid in spawnprof's namespace: follow it under its host pid from now on.
#[inline(always)]
fn follow_from_ns(tgid: u32, cfg: &Config) -> u32 {
    let Some((_, ns_tgid)) = crate::ident::in_our_ns(cfg) else {
        return 0;
    };
    // SAFETY: a u32 read from a live map value.
    let Some(role) = NS_FOLLOW.get_ptr(ns_tgid).map(|v| unsafe { *v }) else {
        return 0;
    };
    let _ = FOLLOWED.insert(tgid, role, 0);
    let _ = NS_FOLLOW.remove(ns_tgid);
    role
}

/// Should the current task's own events (first run, exec, exit, faults) be recorded?
#[inline(always)]
pub fn followed(tid: u32, tgid: u32) -> bool {
    role(tid, tgid) != 0
}

/// Should the spawns the current task makes be recorded (clone, newtask, wakeup, wait)?
#[inline(always)]
pub fn followed_parent(tid: u32, tgid: u32) -> bool {
    role(tid, tgid) == ROLE_FULL
}

/// Is the current task inside the configured cgroup (or one of its descendants)? Both checks
/// answer the same question: the task's ancestor at the cgroup's depth is the cgroup, or the
/// task's cgroup descends from the one in [`CGROUP`].
#[inline(always)]
fn in_cgroup(cfg: &Config) -> bool {
    // SAFETY: a u32 static the loader patches before load; volatile keeps the default out.
    let check = unsafe { core::ptr::read_volatile(&CGROUP_CHECK) };
    if check == cgroup_check::TASK_UNDER_CGROUP {
        // An error (the slot left empty) counts as outside: nothing is recorded.
        return CGROUP.current_task_under_cgroup(0) == Ok(true);
    }
    // SAFETY: helper without pointer arguments.
    unsafe { bpf_get_current_ancestor_cgroup_id(cfg.cgroup_level as i32) == cfg.cgroup_id }
}

#[inline(always)]
pub fn bump(index: u32) {
    if let Some(p) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU writes it while this program runs.
        unsafe { *p += 1 };
    }
}
