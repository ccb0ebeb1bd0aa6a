//! Who a task is, beyond its host pid: its pid inside its own pid namespace and that
//! namespace's inode (read in the kernel by BTF offsets), for [`crate::kind::TASK_IDENT`].
use crate::FIELD_ABSENT;

/// Where a [`crate::kind::TASK_IDENT`] was taken.
pub mod ident_origin {
    pub const FIRST_RUN: u64 = 1;
    pub const EXEC: u64 = 2;
}

/// Kernel struct offsets (bytes) for reading a task's pid in its own pid namespace and that
/// namespace's inode (`task->thread_pid->numbers[level].{nr, ns->ns.inum}`), from BTF.
/// `FIELD_ABSENT` in `task_thread_pid` turns the read off (records then carry no ns pid).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidNsOffsets {
    /// `task_struct.thread_pid`
    pub task_thread_pid: u32,
    /// `pid.level`
    pub pid_level: u32,
    /// `pid.numbers`
    pub pid_numbers: u32,
    /// `sizeof(struct upid)`
    pub upid_size: u32,
    /// `upid.nr`
    pub upid_nr: u32,
    /// `upid.ns`
    pub upid_ns: u32,
    /// `pid_namespace.ns` + `ns_common.inum`
    pub pidns_inum: u32,
    pub _pad: u32,
}

impl PidNsOffsets {
    pub const ABSENT: PidNsOffsets = PidNsOffsets {
        task_thread_pid: FIELD_ABSENT,
        pid_level: FIELD_ABSENT,
        pid_numbers: FIELD_ABSENT,
        upid_size: FIELD_ABSENT,
        upid_nr: FIELD_ABSENT,
        upid_ns: FIELD_ABSENT,
        pidns_inum: FIELD_ABSENT,
        _pad: 0,
    };
}
