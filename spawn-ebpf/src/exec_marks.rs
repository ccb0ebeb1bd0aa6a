//! The kernel's milestones inside an exec, each reachable through several attach points so
//! that every kernel gets the exec sub-phases. The loader attaches exactly one program per
//! mark, the first that loads and attaches, in this order: a BTF tracepoint, fentry/fexit on
//! the kernel function, a kprobe/kretprobe on it, the classic tracepoint. Whichever fires
//! emits the same event kind, so the analyzer does not care which one it was.
//!
//! | mark | event | tracepoint | kernel function (where the tracepoint is missing) |
//! |---|---|---|---|
//! | open end | `PREPARE_EXEC` | `sched_prepare_exec` (6.10+) | entry of `begin_new_exec` (the tracepoint is its first statement) |
//! | teardown end | `EXIT_MMAP` | `mmap:exit_mmap` (6.1+) | return of `exit_mmap` (the tracepoint sits at its end) |
//! | load end | `PROCESS_EXEC` | `sched_process_exec` (all) | |
//!
//! `exit_mmap` runs for any address space whose last user goes away, also at exit. The
//! analyzer keeps only the one seen in the exec'ing task between its open and load marks:
//! there, the task drops its old mm in `exec_mmap` (nothing else tears down an mm in that
//! window), and a vfork/CLONE_VM child's old mm is the parent's, whose teardown never comes.
use aya_ebpf::{
    macros::{btf_tracepoint, fentry, fexit, kprobe, kretprobe, tracepoint},
    programs::{
        BtfTracePointContext, FEntryContext, FExitContext, ProbeContext, RetProbeContext,
        TracePointContext,
    },
};
use spawn_common::kind;

use crate::{
    emit::event,
    state::{current, followed, layout},
};

#[inline(always)]
fn mark(kind: u32, arg0: u64) {
    let (tid, tgid) = current();
    if followed(tid, tgid) {
        event(kind, tid, tgid, arg0, 0, 0);
    }
}

// Open end: the file is open and the bprm ready; the point of no return comes next.

#[btf_tracepoint(function = "sched_prepare_exec")]
pub fn prepare_exec_btf(_ctx: BtfTracePointContext) -> u32 {
    mark(kind::PREPARE_EXEC, 0);
    0
}

#[fentry(function = "begin_new_exec")]
pub fn prepare_exec_fentry(_ctx: FEntryContext) -> u32 {
    mark(kind::PREPARE_EXEC, 0);
    0
}

#[kprobe]
pub fn prepare_exec_kprobe(_ctx: ProbeContext) -> u32 {
    mark(kind::PREPARE_EXEC, 0);
    0
}

#[tracepoint]
pub fn sched_prepare_exec(_ctx: TracePointContext) -> u32 {
    mark(kind::PREPARE_EXEC, 0);
    0
}

// Teardown end: an address space is gone.

#[btf_tracepoint(function = "exit_mmap")]
pub fn exit_mmap_btf(_ctx: BtfTracePointContext) -> u32 {
    mark(kind::EXIT_MMAP, 0);
    0
}

#[fexit(function = "exit_mmap")]
pub fn exit_mmap_fexit(_ctx: FExitContext) -> u32 {
    mark(kind::EXIT_MMAP, 0);
    0
}

#[kretprobe]
pub fn exit_mmap_kretprobe(_ctx: RetProbeContext) -> u32 {
    mark(kind::EXIT_MMAP, 0);
    0
}

#[tracepoint]
pub fn exit_mmap(_ctx: TracePointContext) -> u32 {
    mark(kind::EXIT_MMAP, 0);
    0
}

// Load end: the new image is in place. `old_pid` differs from the tid when a non-leader
// thread exec'd (it takes over the leader's pid).

/// `TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn process_exec_btf(ctx: BtfTracePointContext) -> u32 {
    let old: i32 = ctx.arg(1);
    mark(kind::PROCESS_EXEC, old as u64);
    0
}

#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    // SAFETY: checked kernel read of the tracepoint record, at the offset tracefs gave.
    let old: i32 = unsafe { ctx.read_at::<i32>(layout().exec_old_pid as usize) }.unwrap_or(0);
    mark(kind::PROCESS_EXEC, old as u64);
    0
}
