//! The parent's side of a spawn: the clone-family syscalls and the scheduler's view of the new
//! task (`task_newtask` once `copy_process` is done, `sched_process_fork`, `sched_wakeup_new`).
use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use spawn_common::{clone_flags as cf, counter, kind, syscall};

use crate::{
    emit::event,
    faults,
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
    let (tid, tgid) = current();
    let ret: i64 = read(ctx, layout().sys_exit_ret).unwrap_or(i64::MIN);
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
    let (tid, tgid) = current();
    if !followed_parent(tid, tgid) {
        return 0;
    }
    let uargs: u64 = read(&ctx, layout().clone3_uargs).unwrap_or(0);
    // `flags` is the first u64 of `struct clone_args` (a stable uapi layout).
    // SAFETY: a user pointer read through the checked helper.
    let flags = unsafe { bpf_probe_read_user(uargs as *const u64) }.unwrap_or(0);
    event(kind::CLONE_ENTER, tid, tgid, syscall::CLONE3, flags, 0);
    0
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
