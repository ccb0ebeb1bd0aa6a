//! The end of a spawn: exit_group, the scheduler's exit, and the parent's wait returning.
use aya_ebpf::{
    helpers::bpf_probe_read_user,
    macros::{fentry, fexit, tracepoint},
    programs::{FEntryContext, FExitContext, TracePointContext},
};
use spawn_common::{counter, kind, syscall};

use crate::{
    emit::event,
    faults,
    regs::{Reg, arg, ret},
    state::{
        FOLLOWED, STARTUP, WAITID_INFOP, bump, config, current, followed, followed_parent, layout,
    },
};

/// Offset of `si_pid` in x86_64's `siginfo_t` (uapi: three ints, padding, then the union).
const SI_PID_OFFSET: u64 = 16;

#[inline(always)]
fn read<T>(ctx: &TracePointContext, offset: u32) -> Option<T> {
    // SAFETY: checked kernel read of the tracepoint record.
    unsafe { ctx.read_at::<T>(offset as usize) }.ok()
}

#[tracepoint]
pub fn sys_enter_exit_group(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    if followed(tid, tgid) {
        let code: i64 = read(&ctx, layout().exit_group_code).unwrap_or(0);
        event(kind::EXIT_GROUP, tid, tgid, code as u64, 0, 0);
    }
    0
}

#[tracepoint]
pub fn sched_process_exit(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    if !followed(tid, tgid) {
        return 0;
    }
    let l = layout();
    let group_dead: u64 = if l.exit_group_dead == spawn_common::FIELD_ABSENT {
        2
    } else {
        read::<u8>(&ctx, l.exit_group_dead).map_or(2, |d| (d != 0) as u64)
    };
    let process_gone = group_dead == 1 || (group_dead == 2 && tid == tgid);
    if process_gone {
        faults::on_process_exit(tgid);
        let _ = STARTUP.remove(tgid);
    }
    event(kind::PROCESS_EXIT, tid, tgid, group_dead, 0, 0);
    if process_gone && config().follow_all == 0 {
        let _ = FOLLOWED.remove(tgid);
    }
    0
}

#[inline(always)]
fn reaped(tid: u32, tgid: u32, syscall: u64, pid: i64) {
    if pid > 0 {
        faults::on_reap(tgid, pid as u32);
        event(kind::WAIT_EXIT, tid, tgid, syscall, pid as u64, 0);
    }
}

#[tracepoint]
pub fn sys_exit_wait4(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    if followed_parent(tid, tgid) {
        let ret: i64 = read(&ctx, layout().sys_exit_ret).unwrap_or(0);
        reaped(tid, tgid, syscall::WAIT4, ret);
    }
    0
}

#[tracepoint]
pub fn sys_enter_waitid(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    if followed_parent(tid, tgid) {
        let infop: u64 = read(&ctx, layout().waitid_infop).unwrap_or(0);
        if WAITID_INFOP.insert(tid, infop, 0).is_err() {
            bump(counter::WAITID_FULL);
        }
    }
    0
}

/// waitid returns 0, not the pid: the reaped pid is in the caller's siginfo.
#[tracepoint]
pub fn sys_exit_waitid(ctx: TracePointContext) -> u32 {
    let (tid, tgid) = current();
    let Some(infop) = WAITID_INFOP.get_ptr(tid) else {
        return 0;
    };
    // SAFETY: the value pointer is valid until we remove the key below, on this CPU.
    let infop = unsafe { *infop };
    let _ = WAITID_INFOP.remove(tid);
    let ret: i64 = read(&ctx, layout().sys_exit_ret).unwrap_or(-1);
    waitid_returned(tid, tgid, ret, infop);
    0
}

#[inline(always)]
fn waitid_returned(tid: u32, tgid: u32, ret: i64, infop: u64) {
    if ret != 0 || infop == 0 {
        return;
    }
    // SAFETY: a user pointer read through the checked helper.
    let pid = unsafe { bpf_probe_read_user((infop + SI_PID_OFFSET) as *const i32) }.unwrap_or(0);
    reaped(tid, tgid, syscall::WAITID, pid as i64);
}

// The same events from fentry/fexit on the syscall wrappers (see `regs`): no syscall
// tracepoint. fexit still has the arguments, so waitid needs no map between entry and exit.

#[fentry(function = "__x64_sys_exit_group")]
pub fn exit_group_fentry(ctx: FEntryContext) -> u32 {
    let (tid, tgid) = current();
    if followed(tid, tgid) {
        let code = arg(&ctx, Reg::Di);
        event(kind::EXIT_GROUP, tid, tgid, code, 0, 0);
    }
    0
}

#[fexit(function = "__x64_sys_wait4")]
pub fn wait4_exit_fexit(ctx: FExitContext) -> u32 {
    let (tid, tgid) = current();
    if followed_parent(tid, tgid) {
        reaped(tid, tgid, syscall::WAIT4, ret(&ctx));
    }
    0
}

/// `waitid(which, pid, infop, options, ru)`: infop in dx.
#[fexit(function = "__x64_sys_waitid")]
pub fn waitid_exit_fexit(ctx: FExitContext) -> u32 {
    let (tid, tgid) = current();
    if followed_parent(tid, tgid) {
        waitid_returned(tid, tgid, ret(&ctx), arg(&ctx, Reg::Dx));
    }
    0
}
