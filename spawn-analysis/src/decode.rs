//! Turns the raw ring-buffer records written by the probes (`spawn-common` structs) into a typed
//! [`RawEvent`].
//!
//! The bytes come from the kernel, so nothing here trusts them: every kind has its length checked
//! before it is read, reads are unaligned (the ring buffer only promises 8-byte alignment and the
//! caller may hand us a copy at any address), and an unknown kind or bucket is an error rather
//! than a panic.
use std::mem::size_of;

use spawn_common::{
    COMM_LEN, Event, ExecEvent, FD_PATH_DEPTH, FD_PATH_TOO_DEEP, FaultEvent, FaultTotals,
    FdPathEvent, Header, PATH_LEN, kind,
};

/// A probe record, typed by kind. `hdr` is always the context of the task the probe ran in
/// (its `tid`/`tgid`, the cpu, and the CLOCK_MONOTONIC timestamp in ns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawEvent {
    /// Parent enters a clone-family syscall. `syscall` is one of `spawn_common::syscall`.
    CloneEnter {
        /// The calling (parent) thread.
        hdr: Header,
        /// Which clone-family call: `spawn_common::syscall::{CLONE, CLONE3, FORK, VFORK}`.
        syscall: u64,
        /// The clone flags (`spawn_common::clone_flags`); for clone3 read from `clone_args`,
        /// `SIGCHLD` for `fork`, `CLONE_VM | CLONE_VFORK | SIGCHLD` for `vfork`.
        flags: u64,
    },
    /// A clone-family syscall returns: in the parent `ret` is the child's pid, in the child 0.
    CloneExit {
        /// The returning thread: the parent, or the new child.
        hdr: Header,
        /// Which clone-family call (`spawn_common::syscall`).
        syscall: u64,
        /// The child's pid in the parent, 0 in the child, `-errno` on failure.
        ret: i64,
    },
    /// `task:task_newtask` in the parent: `child_pid` is a tid (a thread's id for CLONE_THREAD).
    TaskNewtask {
        /// The parent thread, still inside the clone call.
        hdr: Header,
        /// The new task's id (a tid; the pid when it leads a new process).
        child_pid: u32,
        /// The clone flags the kernel copied the task with.
        flags: u64,
        /// The parent's comm (the child inherits it until it execs).
        comm: String,
    },
    /// `sched:sched_process_fork` in the parent.
    ProcessFork {
        /// The parent thread.
        hdr: Header,
        /// The new task's id.
        child_pid: u32,
        /// The id of the task that forked (as the tracepoint reports it).
        parent_pid: u32,
    },
    /// `sched:sched_wakeup_new`: the new task `pid` is put on a run queue.
    WakeupNew {
        /// The task that woke the new one (normally its parent).
        hdr: Header,
        /// The new task.
        pid: u32,
        /// The cpu whose run queue it was put on.
        target_cpu: u32,
    },
    /// An exec attempt starts.
    ExecEnter {
        /// The task calling exec.
        hdr: Header,
        /// `spawn_common::syscall::EXECVE` or `EXECVEAT`.
        syscall: u32,
        /// The `dirfd` of `execveat` (`AT_FDCWD` for `execve`).
        fd: i32,
        /// The `execveat` flags (e.g. `AT_EMPTY_PATH` for an exec by fd); 0 for `execve`.
        flags: u32,
        /// The path as passed (possibly empty for an exec by fd), cut at the probe's copy limit.
        filename: String,
        /// The caller's comm before the exec.
        comm: String,
    },
    /// `sched:sched_prepare_exec`: the file is open, the point of no return is next.
    PrepareExec {
        /// The exec'ing task.
        hdr: Header,
    },
    /// `mmap:exit_mmap`: the current task tore down an address space.
    ExitMmap {
        /// The task whose old address space went away.
        hdr: Header,
    },
    /// `sched:sched_process_exec`: the new image is loaded. `comm` is the new comm.
    ProcessExec {
        /// The task after the exec (its `tid` is the thread-group leader's).
        hdr: Header,
        /// The tid that called exec (differs from `hdr.tid` when a non-leader thread exec'd).
        old_pid: u32,
        /// The comm of the new image.
        comm: String,
    },
    /// An exec attempt returns: 0 or `-errno`.
    ExecExit {
        /// The task whose exec returned.
        hdr: Header,
        /// `spawn_common::syscall::EXECVE` or `EXECVEAT`.
        syscall: u64,
        /// 0 on success, `-errno` on failure.
        ret: i64,
    },
    /// `exit_group(code)` entered.
    ExitGroup {
        /// The exiting task.
        hdr: Header,
        /// The status passed to `exit_group`.
        code: i32,
    },
    /// `sched:sched_process_exit`; `group_dead` is `None` when this kernel does not say.
    ProcessExit {
        /// The exiting task.
        hdr: Header,
        /// Whether this was the last thread of its group; `None` when the kernel does not say.
        group_dead: Option<bool>,
        /// The exiting task's comm.
        comm: String,
    },
    /// wait4/waitid returns: the reaped pid, 0, or `-errno`.
    WaitExit {
        /// The waiting (reaping) task.
        hdr: Header,
        /// `spawn_common::syscall::WAIT4` or `WAITID`.
        syscall: u64,
        /// The reaped pid (for `waitid` the `si_pid` it wrote), 0 when nothing was reaped, or
        /// `-errno`.
        ret: i64,
    },
    /// A user-space startup mark (`spawn_common::mark`).
    StartupMark {
        /// The task that reached the mark.
        hdr: Header,
        /// Which mark: `spawn_common::mark::{DL_DEBUG_STATE, LIBC_START_MAIN}`.
        mark: u64,
    },
    /// Page-fault totals of one task in one bucket (`spawn_common::fault_bucket`).
    Faults {
        /// The task that took the faults.
        hdr: Header,
        /// Which window the faults fell in: `spawn_common::fault_bucket`.
        bucket: u32,
        /// The spawned child the faults are charged to (the child itself, or for
        /// `PARENT_AFTER_FORK` the child whose fork caused the parent's copy-on-write faults).
        spawn_pid: u32,
        /// Counts and total time (ns) of the faults.
        totals: FaultTotals,
    },
    /// The spawn API was entered by thread `hdr.tid` (its next clone-family call starts the
    /// `prep` phase here): the uprobe on spawn-fast's `spawn_fast_mark_enter`.
    PrepMark {
        /// The thread that entered the spawn API.
        hdr: Header,
    },
    /// spawn-fast's spawn API returned in thread `hdr.tid`: a prep mark not yet consumed by a
    /// clone of that thread belongs to no spawn of it (the zygote cloned elsewhere).
    PrepEnd {
        /// The thread whose spawn call returned.
        hdr: Header,
    },
    /// The path of the file behind `fd`, walked in the kernel, for the fd exec that follows
    /// in the same task. `truncated`: leading components were left out (a `…/` prefix).
    FdPath {
        /// The task about to exec by fd.
        hdr: Header,
        /// The fd whose file was resolved.
        fd: i32,
        /// The absolute path, or `…/` plus its last components when `truncated`.
        path: String,
        /// The walk hit the probe's depth limit; leading components are missing.
        truncated: bool,
    },
    /// Who the current task is (`spawn_common::kind::TASK_IDENT`): its cgroup v2 id and its
    /// pid in its own pid namespace with that namespace's inode (`None` when the probes had
    /// no BTF offsets for them). `origin` is one of `spawn_common::ident_origin`.
    Ident {
        /// The task described.
        hdr: Header,
        /// Its cgroup v2 id (the cgroup directory's inode number).
        cgroup_id: u64,
        /// Its pid as seen inside its own pid namespace; `None` when not read.
        ns_pid: Option<u32>,
        /// The inode of that pid namespace; `None` when not read.
        pid_ns: Option<u64>,
        /// Which probe sent it: one of `spawn_common::ident_origin`.
        origin: u64,
    },
}

impl RawEvent {
    /// The header of the task the event happened in.
    pub fn hdr(&self) -> &Header {
        match self {
            RawEvent::CloneEnter { hdr, .. }
            | RawEvent::CloneExit { hdr, .. }
            | RawEvent::TaskNewtask { hdr, .. }
            | RawEvent::ProcessFork { hdr, .. }
            | RawEvent::WakeupNew { hdr, .. }
            | RawEvent::ExecEnter { hdr, .. }
            | RawEvent::PrepareExec { hdr }
            | RawEvent::ExitMmap { hdr }
            | RawEvent::ProcessExec { hdr, .. }
            | RawEvent::ExecExit { hdr, .. }
            | RawEvent::ExitGroup { hdr, .. }
            | RawEvent::ProcessExit { hdr, .. }
            | RawEvent::WaitExit { hdr, .. }
            | RawEvent::StartupMark { hdr, .. }
            | RawEvent::Faults { hdr, .. }
            | RawEvent::PrepMark { hdr }
            | RawEvent::PrepEnd { hdr }
            | RawEvent::FdPath { hdr, .. }
            | RawEvent::Ident { hdr, .. } => hdr,
        }
    }

    /// Event timestamp (CLOCK_MONOTONIC ns).
    pub fn ts(&self) -> u64 {
        self.hdr().ts_ns
    }
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The record cannot even hold the common [`Header`].
    #[error("record of {len} bytes is shorter than a header ({need} bytes)")]
    ShortHeader {
        /// Bytes received.
        len: usize,
        /// Bytes a header needs.
        need: usize,
    },
    /// The record is shorter than the struct its kind says it carries.
    #[error("record of kind {kind} has {len} bytes, needs {need}")]
    Short {
        /// The kind from the header (`spawn_common::kind`).
        kind: u32,
        /// Bytes received.
        len: usize,
        /// Bytes that kind needs.
        need: usize,
    },
    /// The header's kind is none of `spawn_common::kind` (probes newer than this decoder?).
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
    /// A fault record names a bucket outside `spawn_common::fault_bucket`.
    #[error("unknown fault bucket {0}")]
    UnknownBucket(u32),
}

/// Reads a `T` from the start of `bytes` if there are enough of them.
fn read<T: Copy>(bytes: &[u8], kind: u32) -> Result<T, DecodeError> {
    let need = size_of::<T>();
    if bytes.len() < need {
        return Err(DecodeError::Short {
            kind,
            len: bytes.len(),
            need,
        });
    }
    // SAFETY: the length was checked above, read_unaligned has no alignment requirement, and
    // every T used here (Header, Event, ExecEvent, FaultEvent) is repr(C) plain integers and
    // byte arrays, for which every bit pattern is a valid value.
    Ok(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// A NUL-padded kernel string, cut at the first NUL, invalid UTF-8 replaced.
fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `/a/b/c` from leaf-first components (`["c", "b", "a"]`); `…/b/c` when leading ones are
/// missing. The depth comes from the kernel, so it is clamped to the slots there are.
fn join_components<const N: usize>(names: &[[u8; N]], depth: usize, truncated: bool) -> String {
    let depth = depth.min(names.len()).min(FD_PATH_DEPTH);
    let mut path = String::from(if truncated { "…" } else { "" });
    for name in names[..depth].iter().rev() {
        path.push('/');
        path.push_str(&cstr(name));
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

fn comm(c: &[u8; COMM_LEN]) -> String {
    cstr(c)
}

/// Decodes one ring-buffer record. Trailing bytes (ring-buffer padding) are ignored.
pub fn decode(bytes: &[u8]) -> Result<RawEvent, DecodeError> {
    let need = size_of::<Header>();
    if bytes.len() < need {
        return Err(DecodeError::ShortHeader {
            len: bytes.len(),
            need,
        });
    }
    let hdr: Header = read(bytes, 0)?;
    let k = hdr.kind;
    match k {
        kind::EXEC_ENTER => {
            let e: ExecEvent = read(bytes, k)?;
            // The probe says how many bytes it copied; never trust it past the buffer.
            let len = (e.filename_len as usize).min(PATH_LEN);
            Ok(RawEvent::ExecEnter {
                hdr,
                syscall: e.syscall,
                fd: e.fd,
                flags: e.flags,
                filename: cstr(&e.filename[..len]),
                comm: comm(&e.comm),
            })
        }
        kind::FD_PATH => {
            let e: FdPathEvent = read(bytes, k)?;
            let truncated = e.flags & FD_PATH_TOO_DEEP != 0;
            Ok(RawEvent::FdPath {
                hdr,
                fd: e.fd,
                path: join_components(&e.names, e.depth as usize, truncated),
                truncated,
            })
        }
        kind::FAULTS => {
            let f: FaultEvent = read(bytes, k)?;
            if f.bucket > spawn_common::fault_bucket::PARENT_AFTER_FORK {
                return Err(DecodeError::UnknownBucket(f.bucket));
            }
            Ok(RawEvent::Faults {
                hdr,
                bucket: f.bucket,
                spawn_pid: f.spawn_pid,
                totals: f.totals,
            })
        }
        kind::CLONE_ENTER..=kind::STARTUP_MARK | kind::TASK_IDENT => {
            let e: Event = read(bytes, k)?;
            Ok(from_event(&e))
        }
        _ => Err(DecodeError::UnknownKind(k)),
    }
}

/// The fixed-size kinds. `e.hdr.kind` is known to be one of them.
fn from_event(e: &Event) -> RawEvent {
    let hdr = e.hdr;
    // Pids and cpus are u32 in the kernel; the probes widen them into u64 args.
    let (a0, a1) = (e.arg0, e.arg1);
    match hdr.kind {
        kind::CLONE_ENTER => RawEvent::CloneEnter {
            hdr,
            syscall: a0,
            flags: a1,
        },
        kind::CLONE_EXIT => RawEvent::CloneExit {
            hdr,
            syscall: a0,
            ret: a1 as i64,
        },
        kind::TASK_NEWTASK => RawEvent::TaskNewtask {
            hdr,
            child_pid: a0 as u32,
            flags: a1,
            comm: comm(&e.comm),
        },
        kind::PROCESS_FORK => RawEvent::ProcessFork {
            hdr,
            child_pid: a0 as u32,
            parent_pid: a1 as u32,
        },
        kind::WAKEUP_NEW => RawEvent::WakeupNew {
            hdr,
            pid: a0 as u32,
            target_cpu: a1 as u32,
        },
        kind::PREPARE_EXEC => RawEvent::PrepareExec { hdr },
        kind::EXIT_MMAP => RawEvent::ExitMmap { hdr },
        kind::PROCESS_EXEC => RawEvent::ProcessExec {
            hdr,
            old_pid: a0 as u32,
            comm: comm(&e.comm),
        },
        kind::EXEC_EXIT => RawEvent::ExecExit {
            hdr,
            syscall: a0,
            ret: a1 as i64,
        },
        // exit_group takes an int; the probe stores it widened.
        kind::EXIT_GROUP => RawEvent::ExitGroup {
            hdr,
            code: a0 as i32,
        },
        kind::PROCESS_EXIT => RawEvent::ProcessExit {
            hdr,
            group_dead: match a0 {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            },
            comm: comm(&e.comm),
        },
        kind::WAIT_EXIT => RawEvent::WaitExit {
            hdr,
            syscall: a0,
            ret: a1 as i64,
        },
        // spawn-fast's spawn entry (a uprobe in the parent) opens the `prep` phase.
        kind::STARTUP_MARK if a0 == spawn_common::mark::SPAWN_ENTER => RawEvent::PrepMark { hdr },
        kind::STARTUP_MARK if a0 == spawn_common::mark::SPAWN_RETURN => RawEvent::PrepEnd { hdr },
        // arg1 packs the namespaced pid (low half) and its namespace's inode (high half);
        // 0 in both means the probes could not read them.
        kind::TASK_IDENT => RawEvent::Ident {
            hdr,
            cgroup_id: a0,
            ns_pid: Some(a1 as u32).filter(|&p| p != 0),
            pid_ns: Some(a1 >> 32).filter(|&n| n != 0),
            origin: e.arg2,
        },
        // STARTUP_MARK: the only kind left in the range decode() sends here.
        _ => RawEvent::StartupMark { hdr, mark: a0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spawn_common::{fault_bucket, syscall};

    fn bytes_of<T: Copy>(v: &T) -> Vec<u8> {
        // SAFETY: T is one of the repr(C) plain-data structs of spawn-common.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    fn hdr(kind: u32) -> Header {
        Header {
            kind,
            cpu: 1,
            ts_ns: 123_456,
            tid: 42,
            tgid: 40,
        }
    }

    fn ev(kind: u32, a0: u64, a1: u64) -> Vec<u8> {
        let mut comm = [0u8; COMM_LEN];
        comm[..4].copy_from_slice(b"bash");
        bytes_of(&Event {
            hdr: hdr(kind),
            arg0: a0,
            arg1: a1,
            arg2: 7,
            comm,
        })
    }

    #[test]
    fn round_trips_every_fixed_kind() {
        let h = |k| hdr(k);
        let cases = vec![
            (
                ev(kind::CLONE_ENTER, syscall::CLONE3, 0x4111),
                RawEvent::CloneEnter {
                    hdr: h(kind::CLONE_ENTER),
                    syscall: syscall::CLONE3,
                    flags: 0x4111,
                },
            ),
            (
                ev(kind::CLONE_EXIT, syscall::CLONE, (-11i64) as u64),
                RawEvent::CloneExit {
                    hdr: h(kind::CLONE_EXIT),
                    syscall: syscall::CLONE,
                    ret: -11,
                },
            ),
            (
                ev(kind::TASK_NEWTASK, 77, 0x11),
                RawEvent::TaskNewtask {
                    hdr: h(kind::TASK_NEWTASK),
                    child_pid: 77,
                    flags: 0x11,
                    comm: "bash".into(),
                },
            ),
            (
                ev(kind::PROCESS_FORK, 77, 40),
                RawEvent::ProcessFork {
                    hdr: h(kind::PROCESS_FORK),
                    child_pid: 77,
                    parent_pid: 40,
                },
            ),
            (
                ev(kind::WAKEUP_NEW, 77, 1),
                RawEvent::WakeupNew {
                    hdr: h(kind::WAKEUP_NEW),
                    pid: 77,
                    target_cpu: 1,
                },
            ),
            (
                ev(kind::PREPARE_EXEC, 0, 0),
                RawEvent::PrepareExec {
                    hdr: h(kind::PREPARE_EXEC),
                },
            ),
            (
                ev(kind::EXIT_MMAP, 0, 0),
                RawEvent::ExitMmap {
                    hdr: h(kind::EXIT_MMAP),
                },
            ),
            (
                ev(kind::PROCESS_EXEC, 41, 0),
                RawEvent::ProcessExec {
                    hdr: h(kind::PROCESS_EXEC),
                    old_pid: 41,
                    comm: "bash".into(),
                },
            ),
            (
                ev(kind::EXEC_EXIT, syscall::EXECVE, (-2i64) as u64),
                RawEvent::ExecExit {
                    hdr: h(kind::EXEC_EXIT),
                    syscall: syscall::EXECVE,
                    ret: -2,
                },
            ),
            (
                ev(kind::EXIT_GROUP, (-1i32) as u32 as u64, 0),
                RawEvent::ExitGroup {
                    hdr: h(kind::EXIT_GROUP),
                    code: -1,
                },
            ),
            (
                ev(kind::PROCESS_EXIT, 1, 0),
                RawEvent::ProcessExit {
                    hdr: h(kind::PROCESS_EXIT),
                    group_dead: Some(true),
                    comm: "bash".into(),
                },
            ),
            (
                ev(kind::PROCESS_EXIT, 0, 0),
                RawEvent::ProcessExit {
                    hdr: h(kind::PROCESS_EXIT),
                    group_dead: Some(false),
                    comm: "bash".into(),
                },
            ),
            (
                ev(kind::PROCESS_EXIT, 2, 0),
                RawEvent::ProcessExit {
                    hdr: h(kind::PROCESS_EXIT),
                    group_dead: None,
                    comm: "bash".into(),
                },
            ),
            (
                ev(kind::WAIT_EXIT, syscall::WAIT4, 77),
                RawEvent::WaitExit {
                    hdr: h(kind::WAIT_EXIT),
                    syscall: syscall::WAIT4,
                    ret: 77,
                },
            ),
            (
                ev(kind::STARTUP_MARK, spawn_common::mark::SPAWN_ENTER, 0),
                RawEvent::PrepMark {
                    hdr: h(kind::STARTUP_MARK),
                },
            ),
            (
                ev(kind::STARTUP_MARK, spawn_common::mark::SPAWN_RETURN, 0),
                RawEvent::PrepEnd {
                    hdr: h(kind::STARTUP_MARK),
                },
            ),
            (
                ev(kind::STARTUP_MARK, 2, 0),
                RawEvent::StartupMark {
                    hdr: h(kind::STARTUP_MARK),
                    mark: 2,
                },
            ),
            (
                ev(
                    kind::TASK_IDENT,
                    0x1_0000_2a3f,
                    (4_026_532_001u64 << 32) | 3,
                ),
                RawEvent::Ident {
                    hdr: h(kind::TASK_IDENT),
                    cgroup_id: 0x1_0000_2a3f,
                    ns_pid: Some(3),
                    pid_ns: Some(4_026_532_001),
                    // `ev` puts 7 in arg2.
                    origin: 7,
                },
            ),
            // No BTF offsets: no namespaced pid, the cgroup still.
            (
                ev(kind::TASK_IDENT, 9, 0),
                RawEvent::Ident {
                    hdr: h(kind::TASK_IDENT),
                    cgroup_id: 9,
                    ns_pid: None,
                    pid_ns: None,
                    origin: 7,
                },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(&bytes), Ok(want.clone()), "{want:?}");
            // Ring-buffer padding after the record is ignored.
            let mut padded = bytes.clone();
            padded.extend_from_slice(&[0xff; 8]);
            assert_eq!(decode(&padded), Ok(want));
        }
    }

    fn exec_event(name: &[u8], filename_len: u32) -> ExecEvent {
        let mut e = ExecEvent {
            hdr: hdr(kind::EXEC_ENTER),
            ..Default::default()
        };
        e.syscall = syscall::EXECVEAT as u32;
        e.fd = -100;
        e.flags = 0x1000;
        e.filename_len = filename_len;
        e.filename[..name.len()].copy_from_slice(name);
        e.comm[..2].copy_from_slice(b"sh");
        e
    }

    #[test]
    fn exec_enter_round_trip() {
        let e = exec_event(b"/bin/true", 9);
        let got = decode(&bytes_of(&e));
        assert_eq!(
            got,
            Ok(RawEvent::ExecEnter {
                hdr: hdr(kind::EXEC_ENTER),
                syscall: syscall::EXECVEAT as u32,
                fd: -100,
                flags: 0x1000,
                filename: "/bin/true".into(),
                comm: "sh".into(),
            })
        );
    }

    fn filename_of(e: &ExecEvent) -> String {
        match decode(&bytes_of(e)) {
            Ok(RawEvent::ExecEnter { filename, .. }) => filename,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn exec_filename_len_is_clamped_and_lossy() {
        // A length past the buffer is clamped to PATH_LEN, not an out-of-bounds read.
        let mut e = exec_event(b"", u32::MAX);
        e.filename = [b'a'; PATH_LEN];
        assert_eq!(filename_of(&e), "a".repeat(PATH_LEN));
        // A shorter length cuts the name.
        assert_eq!(filename_of(&exec_event(b"/bin/true", 4)), "/bin");
        // Invalid UTF-8 is replaced, not an error.
        assert_eq!(
            filename_of(&exec_event(b"/tmp/\xff\xfex", 8)),
            "/tmp/\u{fffd}\u{fffd}x"
        );
        // A NUL inside the claimed length ends the name.
        assert_eq!(filename_of(&exec_event(b"/a\0junk", 7)), "/a");
    }

    #[test]
    fn faults_round_trip_and_bad_bucket() {
        let totals = FaultTotals {
            count: 10,
            cow: 4,
            major: 1,
            timed: 9,
            time_ns: 30_000,
        };
        let f = FaultEvent {
            hdr: hdr(kind::FAULTS),
            bucket: fault_bucket::PARENT_AFTER_FORK,
            spawn_pid: 77,
            totals,
        };
        assert_eq!(
            decode(&bytes_of(&f)),
            Ok(RawEvent::Faults {
                hdr: hdr(kind::FAULTS),
                bucket: fault_bucket::PARENT_AFTER_FORK,
                spawn_pid: 77,
                totals,
            })
        );
        let bad = FaultEvent { bucket: 9, ..f };
        assert_eq!(decode(&bytes_of(&bad)), Err(DecodeError::UnknownBucket(9)));
    }

    #[test]
    fn short_records_are_errors() {
        assert_eq!(
            decode(&[]),
            Err(DecodeError::ShortHeader { len: 0, need: 24 })
        );
        assert!(matches!(
            decode(&[1u8; 23]),
            Err(DecodeError::ShortHeader { .. })
        ));
        let full = ev(kind::CLONE_ENTER, 1, 0);
        for len in size_of::<Header>()..full.len() {
            assert_eq!(
                decode(&full[..len]),
                Err(DecodeError::Short {
                    kind: kind::CLONE_ENTER,
                    len,
                    need: size_of::<Event>(),
                })
            );
        }
        // An exec record is longer than an Event: an Event-sized exec record is short.
        let e = bytes_of(&exec_event(b"/x", 2));
        assert!(matches!(
            decode(&e[..size_of::<Event>()]),
            Err(DecodeError::Short { .. })
        ));
        let f = bytes_of(&FaultEvent {
            hdr: hdr(kind::FAULTS),
            ..Default::default()
        });
        assert!(matches!(
            decode(&f[..f.len() - 1]),
            Err(DecodeError::Short { .. })
        ));
    }

    fn fd_path(components: &[&str], flags: u32, depth: u32) -> Vec<u8> {
        let mut e = FdPathEvent {
            hdr: hdr(kind::FD_PATH),
            fd: 4,
            depth,
            flags,
            _pad: 0,
            names: [[0; spawn_common::FD_NAME_LEN]; FD_PATH_DEPTH],
        };
        for (slot, c) in e.names.iter_mut().zip(components) {
            slot[..c.len()].copy_from_slice(c.as_bytes());
        }
        bytes_of(&e)
    }

    #[test]
    fn fd_paths_join_leaf_first_components() {
        let path = |b: &[u8]| match decode(b) {
            Ok(RawEvent::FdPath {
                path,
                truncated,
                fd,
                ..
            }) => {
                assert_eq!(fd, 4);
                (path, truncated)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            path(&fd_path(&["true", "bin", "usr"], 0, 3)),
            ("/usr/bin/true".into(), false)
        );
        assert_eq!(
            path(&fd_path(&["x", "deep"], FD_PATH_TOO_DEEP, 2)),
            ("…/deep/x".into(), true)
        );
        assert_eq!(path(&fd_path(&[], 0, 0)), ("/".into(), false));
        // A depth past the slots (a kernel bug or garbage) is clamped, not a panic.
        assert_eq!(
            path(&fd_path(&["a"], 0, 999)).0.matches('/').count(),
            FD_PATH_DEPTH
        );
        let short = fd_path(&["a"], 0, 1);
        assert!(matches!(
            decode(&short[..short.len() - 1]),
            Err(DecodeError::Short { .. })
        ));
    }

    #[test]
    fn unknown_kinds_are_errors() {
        for k in [0, 18, 999, u32::MAX] {
            assert_eq!(decode(&ev(k, 0, 0)), Err(DecodeError::UnknownKind(k)));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 0..400 {
            let mut buf = vec![0u8; len];
            for b in &mut buf {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            // Plausible kinds too, so that the per-kind paths see garbage lengths and fields.
            if len >= 4 {
                buf[..4].copy_from_slice(&((x % 19) as u32).to_ne_bytes());
            }
            let _ = decode(&buf);
            // Unaligned start.
            if len > 1 {
                let _ = decode(&buf[1..]);
            }
        }
    }
}
