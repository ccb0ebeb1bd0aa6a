//! The parent's side of a spawn: the clone-family syscalls and the scheduler's view of the new
//! task (`task_newtask` once `copy_process` is done, `sched_process_fork`, `sched_wakeup_new`).
use aya_ebpf::{
    bindings::pt_regs,
    helpers::{
        bpf_probe_read_kernel, bpf_probe_read_user,
        generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
    },
    macros::{fentry, fexit, tracepoint},
    programs::{FEntryContext, FExitContext, TracePointContext},
};
use spawn_common::{clone_flags as cf, counter, kind, syscall};

use crate::{
    emit::event,
    faults,
    regs::ret,
    state::{
        FOLLOWED, ROLE_CHILD_ONLY, ROLE_FULL, bump, config, current, followed, followed_parent,
        layout, watched,
    },
};

#[inline(always)]
fn read<T>(ctx: &TracePointContext, offset: u32) -> Option<T> {
    // SAFETY: `read_at` goes through bpf_probe_read_kernel, which checks the address; a bad
    // offset yields an error, not a fault.
    unsafe { ctx.read_at::<T>(offset as usize) }.ok()
}

#[inline(always)]
fn enter(syscall: u64, flags: u64) {
    let (tid, tgid) = current();
    if followed_parent(tid, tgid) {
        event(kind::CLONE_ENTER, tid, tgid, syscall, flags, 0);
    }
}

#[inline(always)]
fn exit(ctx: &TracePointContext, syscall: u64) {
    let ret: i64 = read(ctx, layout().sys_exit_ret).unwrap_or(i64::MIN);
    exit_with(syscall, ret);
}

/// The clone-family syscall returned `ret` in the current task (0: the child's first run).
#[inline(always)]
fn exit_with(syscall: u64, ret: i64) {
    let (tid, tgid) = current();
    // ret 0 is the child's first return to user space: part of the child's own life.
    let wanted = if ret == 0 {
        followed(tid, tgid)
    } else {
        followed_parent(tid, tgid)
    };
    if !wanted {
        return;
    }
    event(kind::CLONE_EXIT, tid, tgid, syscall, ret as u64, 0);
    // A new process's first run: say who it is now, whatever it does next.
    if ret == 0 && tid == tgid {
        crate::ident::emit(tid, tgid, spawn_common::ident_origin::FIRST_RUN);
    }
}

#[tracepoint]
pub fn sys_enter_clone(ctx: TracePointContext) -> u32 {
    let flags: u64 = read(&ctx, layout().clone_flags).unwrap_or(0);
    enter(syscall::CLONE, flags);
    0
}

#[tracepoint]
pub fn sys_enter_clone3(ctx: TracePointContext) -> u32 {
    let uargs: u64 = read(&ctx, layout().clone3_uargs).unwrap_or(0);
    enter_clone3(uargs);
    0
}

#[inline(always)]
fn enter_clone3(uargs: u64) {
    let (tid, tgid) = current();
    if !followed_parent(tid, tgid) {
        return;
    }
    // `flags` is the first u64 of `struct clone_args` (a stable uapi layout).
    // SAFETY: a user pointer read through the checked helper.
    let flags = unsafe { bpf_probe_read_user(uargs as *const u64) }.unwrap_or(0);
    event(kind::CLONE_ENTER, tid, tgid, syscall::CLONE3, flags, 0);
}

#[tracepoint]
pub fn sys_enter_fork(_ctx: TracePointContext) -> u32 {
    enter(syscall::FORK, cf::SIGCHLD);
    0
}

#[tracepoint]
pub fn sys_enter_vfork(_ctx: TracePointContext) -> u32 {
    enter(syscall::VFORK, cf::CLONE_VM | cf::CLONE_VFORK | cf::SIGCHLD);
    0
}

#[tracepoint]
pub fn sys_exit_clone(ctx: TracePointContext) -> u32 {
    exit(&ctx, syscall::CLONE);
    0
}

#[tracepoint]
pub fn sys_exit_clone3(ctx: TracePointContext) -> u32 {
    exit(&ctx, syscall::CLONE3);
    0
}

#[tracepoint]
pub fn sys_exit_fork(ctx: TracePointContext) -> u32 {
    exit(&ctx, syscall::FORK);
    0
}

#[tracepoint]
pub fn sys_exit_vfork(ctx: TracePointContext) -> u32 {
    exit(&ctx, syscall::VFORK);
    0
}

// The same entry and return events from fentry/fexit on `kernel_clone`, which all four
// syscalls call exactly once: no syscall tracepoint, so tasks that never clone pay nothing.
// Which syscall it serves (and its raw arguments, for the same flags the tracepoints report)
// comes from the task's own user registers (`orig_ax`); kernel threads, whose registers are
// zero, and anything else that is not one of the four are left out. fexit fires in the
// parent only: the child leaves through `ret_from_fork`, and its first run is taken at
// `schedule_tail` instead (below), which every new task runs before it returns to user space.

/// The clone-family syscall the current task is in (from its user registers), with
/// `(syscall, rdi)`, or `None`.
#[inline(always)]
fn clone_syscall() -> Option<(u64, u64)> {
    // SAFETY: plain helper calls (5.11 and 5.15); the reads go through the checked helper.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const pt_regs;
    // SAFETY: only addresses are computed here.
    let (nr, di) = unsafe {
        (
            core::ptr::addr_of!((*regs).orig_rax),
            core::ptr::addr_of!((*regs).rdi),
        )
    };
    // SAFETY: checked kernel reads.
    let nr = unsafe { bpf_probe_read_kernel(nr) }.ok()?;
    let which = match nr {
        NR_CLONE => syscall::CLONE,
        NR_CLONE3 => syscall::CLONE3,
        NR_FORK => syscall::FORK,
        NR_VFORK => syscall::VFORK,
        _ => return None,
    };
    // SAFETY: as above.
    let di = unsafe { bpf_probe_read_kernel(di) }.unwrap_or(0);
    Some((which, di))
}

/// x86_64 syscall numbers of the clone family.
const NR_CLONE: u64 = 56;
const NR_FORK: u64 = 57;
const NR_VFORK: u64 = 58;
const NR_CLONE3: u64 = 435;

#[fentry(function = "kernel_clone")]
pub fn clone_enter_fentry(_ctx: FEntryContext) -> u32 {
    match clone_syscall() {
        Some((syscall::CLONE, flags)) => enter(syscall::CLONE, flags),
        Some((syscall::CLONE3, uargs)) => enter_clone3(uargs),
        Some((syscall::FORK, _)) => enter(syscall::FORK, cf::SIGCHLD),
        Some((syscall::VFORK, _)) => {
            enter(syscall::VFORK, cf::CLONE_VM | cf::CLONE_VFORK | cf::SIGCHLD)
        }
        _ => {}
    }
    0
}

/// `pid_t kernel_clone(struct kernel_clone_args *)`: the child's pid or `-errno`, an `int`.
#[fexit(function = "kernel_clone")]
pub fn clone_exit_fexit(ctx: FExitContext) -> u32 {
    if let Some((which, _)) = clone_syscall() {
        exit_with(which, ret(&ctx) as i32 as i64);
    }
    0
}

/// The child's first run (its `CLONE_EXIT` with 0, as its syscall exit would say): a new
/// task starts with a copy of its parent's registers, so `orig_ax` names the call that made
/// it; kernel threads and io_uring workers start with zeroed registers and are left out.
#[fexit(function = "schedule_tail")]
pub fn child_first_run_fexit(_ctx: FExitContext) -> u32 {
    if let Some((which, _)) = clone_syscall() {
        exit_with(which, 0);
    }
    0
}

/// Fires in the parent when `copy_process` has built the child: the end of the copy proper.
/// This is where a new process joins the followed set (threads share their tgid already).
#[tracepoint]
pub fn task_newtask(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    if !followed_parent(tid, tgid) {
        return 0;
    }
    let l = layout();
    let child: i32 = read(&ctx, l.newtask_pid).unwrap_or(0);
    let flags: u64 = read(&ctx, l.newtask_clone_flags).unwrap_or(0);
    if child <= 0 {
        return 0;
    }
    let child = child as u32;
    // Counted before anything can fail: records + counted losses must add up to this.
    bump(counter::SPAWNS);
    if flags & cf::CLONE_THREAD == 0 {
        let cfg = config();
        let role = if cfg.children != 0 || watched(tid) {
            ROLE_FULL
        } else {
            ROLE_CHILD_ONLY
        };
        if cfg.follow_all == 0 && FOLLOWED.insert(child, role, 0).is_err() {
            bump(counter::FOLLOWED_FULL);
        }
        faults::on_new_process(tgid, child, flags);
    }
    // This record is the spawn's only proof of creation: without it there is no record.
    if !event(kind::TASK_NEWTASK, tid, tgid, child as u64, flags, 0) {
        bump(counter::LOST_SPAWNS);
    }
    0
}

#[tracepoint]
pub fn sched_process_fork(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    if !followed_parent(tid, tgid) {
        return 0;
    }
    let l = layout();
    let parent: i32 = read(&ctx, l.fork_parent_pid).unwrap_or(0);
    let child: i32 = read(&ctx, l.fork_child_pid).unwrap_or(0);
    event(
        kind::PROCESS_FORK,
        tid,
        tgid,
        child as u64,
        parent as u64,
        0,
    );
    0
}

#[tracepoint]
pub fn sched_wakeup_new(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    if !followed_parent(tid, tgid) {
        return 0;
    }
    let l = layout();
    let pid: i32 = read(&ctx, l.wakeup_new_pid).unwrap_or(0);
    let cpu: i32 = read(&ctx, l.wakeup_new_target_cpu).unwrap_or(-1);
    event(kind::WAKEUP_NEW, tid, tgid, pid as u64, cpu as u64, 0);
    0
}
