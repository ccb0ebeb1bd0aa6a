//! Who the current task is, for container attribution: its cgroup v2 id and its pid inside
//! its own pid namespace, captured in the kernel when it runs for the first time and after
//! each exec, because a process that lives a millisecond is gone before user space could
//! ask /proc. Also the pid-namespace translation for spawnprof running inside a container,
//! where user space only knows pids of its own namespace.
use aya_ebpf::{
    bindings::bpf_pidns_info,
    helpers::{
        bpf_get_current_task, bpf_probe_read_kernel,
        generated::{bpf_get_current_cgroup_id, bpf_get_ns_current_pid_tgid},
    },
};
use spawn_common::{Config, FIELD_ABSENT, PidNsOffsets, kind};

use crate::emit::event;

/// Struct offsets for the pid-namespace read; overwritten by the loader from BTF.
#[unsafe(no_mangle)]
static NSOFFSETS: PidNsOffsets = PidNsOffsets::ABSENT;

/// Deepest pid namespace nesting the kernel allows (`MAX_PID_NS_LEVEL`).
const MAX_LEVEL: u32 = 32;

#[inline(always)]
fn offsets() -> PidNsOffsets {
    // SAFETY: a static the loader patches before load; volatile keeps the default out.
    unsafe { core::ptr::read_volatile(&NSOFFSETS) }
}

#[inline(always)]
fn read<T>(addr: u64) -> Option<T> {
    // SAFETY: checked kernel read; a bad address is an error, not a fault.
    unsafe { bpf_probe_read_kernel(addr as *const T) }.ok()
}

/// (pid in its own namespace, that namespace's inode) of the current task, or (0, 0).
#[inline(always)]
fn ns_pid() -> (u32, u32) {
    let k = offsets();
    if k.task_thread_pid == FIELD_ABSENT {
        return (0, 0);
    }
    // SAFETY: plain helper call.
    let task = unsafe { bpf_get_current_task() };
    let Some(pid) = read::<u64>(task + k.task_thread_pid as u64) else {
        return (0, 0);
    };
    let Some(level) = read::<u32>(pid + k.pid_level as u64) else {
        return (0, 0);
    };
    if level > MAX_LEVEL {
        return (0, 0);
    }
    let upid = pid + k.pid_numbers as u64 + level as u64 * k.upid_size as u64;
    let nr = read::<i32>(upid + k.upid_nr as u64).unwrap_or(0);
    let inum = read::<u64>(upid + k.upid_ns as u64)
        .and_then(|ns| read::<u32>(ns + k.pidns_inum as u64))
        .unwrap_or(0);
    (nr as u32, inum)
}

/// Emits a [`kind::TASK_IDENT`] for the current task.
#[inline(always)]
pub fn emit(tid: u32, tgid: u32, origin: u64) {
    // SAFETY: helper without arguments (Linux 4.18+ in tracing programs).
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    let (nr, inum) = ns_pid();
    let packed = nr as u64 | (inum as u64) << 32;
    event(kind::TASK_IDENT, tid, tgid, cgroup, packed, origin);
}

/// The current task's (pid, tgid) as seen in spawnprof's own pid namespace; `None` when it is
/// not visible there or spawnprof runs in the host's namespace (`pidns_ino` 0).
#[inline(always)]
pub fn in_our_ns(cfg: &Config) -> Option<(u32, u32)> {
    if cfg.pidns_ino == 0 {
        return None;
    }
    let mut info = bpf_pidns_info { pid: 0, tgid: 0 };
    let size = core::mem::size_of::<bpf_pidns_info>() as u32;
    // SAFETY: `info` is a live stack struct of the size given (Linux 5.7+ in tracing programs).
    let r = unsafe { bpf_get_ns_current_pid_tgid(cfg.pidns_dev, cfg.pidns_ino, &mut info, size) };
    (r == 0).then_some((info.pid, info.tgid))
}
