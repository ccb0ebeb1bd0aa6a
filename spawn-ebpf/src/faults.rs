//! Page faults per spawn and phase, on both sides of a fork.
//!
//! Entry mark: `exceptions:page_fault_user` (address, error code). Exit mark: the software perf
//! events PAGE_FAULTS_MIN / PAGE_FAULTS_MAJ, which the kernel raises in `mm_account_fault` at the
//! end of `handle_mm_fault` (no kprobes needed). Totals are aggregated here per process and
//! bucket and flushed as one record at each phase boundary, so a fault costs no ring-buffer
//! traffic of its own.
use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::{perf_event, tracepoint},
    programs::{PerfEventContext, TracePointContext},
};
use spawn_common::{
    FaultEvent, FaultTotals, clone_flags as cf, counter, fault_bucket, fault_code, kind,
};

use crate::{
    emit::{NO_WAKEUP, header},
    state::{EVENTS, FAULT_START, PROC, ProcFaults, bump, config, current, followed, layout},
};

const EMPTY: ProcFaults = ProcFaults {
    own_bucket: fault_bucket::CHILD_POST_EXEC,
    fork_child: 0,
    own: FaultTotals {
        count: 0,
        cow: 0,
        major: 0,
        timed: 0,
        time_ns: 0,
    },
    parent: FaultTotals {
        count: 0,
        cow: 0,
        major: 0,
        timed: 0,
        time_ns: 0,
    },
};

#[inline(always)]
fn add(field: *mut u64, v: u64) {
    // SAFETY: `field` points into a live map value. Rust's BPF target offers no atomic
    // read-modify-write, so two threads of one process faulting at the same instant on two
    // CPUs can lose one count; spawns are single-threaded between fork and exec.
    unsafe { *field += v };
}

/// The state of `tgid`, created on first use (a process already running when tracing began is
/// past its exec: its own faults are post-exec).
#[inline(always)]
fn state(tgid: u32) -> Option<*mut ProcFaults> {
    if let Some(p) = PROC.get_ptr_mut(tgid) {
        return Some(p);
    }
    if PROC.insert(tgid, EMPTY, 0).is_err() {
        bump(counter::FAULT_STATE_FULL);
        return None;
    }
    PROC.get_ptr_mut(tgid)
}

#[inline(always)]
fn flush(totals: *mut FaultTotals, tgid: u32, bucket: u32, spawn_pid: u32) {
    // SAFETY: `totals` points into a live PROC value owned by `tgid`; flushes run in that
    // process's own syscalls or in its parent's fork/wait, never concurrently with themselves.
    let t = unsafe { &mut *totals };
    if t.count == 0 {
        return;
    }
    let ev = FaultEvent {
        hdr: header(kind::FAULTS, tgid, tgid),
        bucket,
        spawn_pid,
        totals: *t,
    };
    if EVENTS.output::<FaultEvent>(&ev, NO_WAKEUP).is_err() {
        bump(counter::LOST_EVENTS);
    }
    *t = FaultTotals::default();
}

#[inline(always)]
fn flush_parent_side(p: *mut ProcFaults, tgid: u32) {
    // SAFETY: see `flush`.
    let s = unsafe { &mut *p };
    if s.fork_child != 0 {
        flush(
            &mut s.parent,
            tgid,
            fault_bucket::PARENT_AFTER_FORK,
            s.fork_child,
        );
        s.fork_child = 0;
    }
}

/// A new process `child` was created by `parent`. Without CLONE_VM the parent's writable pages
/// are now shared copy-on-write, so its next write faults are charged to this fork.
pub fn on_new_process(parent: u32, child: u32, flags: u64) {
    if config().faults == 0 {
        return;
    }
    let mut st = EMPTY;
    st.own_bucket = fault_bucket::CHILD_PRE_EXEC;
    if PROC.insert(child, st, 0).is_err() {
        bump(counter::FAULT_STATE_FULL);
    }
    if flags & cf::CLONE_VM == 0
        && let Some(p) = state(parent)
    {
        flush_parent_side(p, parent);
        // SAFETY: see `flush`.
        unsafe { (*p).fork_child = child };
    }
}

/// Exec entry: what the process faulted so far belongs to the phase before this attempt.
pub fn on_exec_enter(tgid: u32) {
    if let Some(p) = PROC.get_ptr_mut(tgid) {
        // SAFETY: see `flush`.
        let s = unsafe { &mut *p };
        flush(&mut s.own, tgid, s.own_bucket, tgid);
    }
}

/// Exec succeeded: the old address space, and with it any copy-on-write sharing, is gone.
pub fn on_exec_success(tgid: u32) {
    if let Some(p) = PROC.get_ptr_mut(tgid) {
        flush_parent_side(p, tgid);
        // SAFETY: see `flush`.
        unsafe { (*p).own_bucket = fault_bucket::CHILD_POST_EXEC };
    }
}

/// `tgid` reaped `child`: stop charging its write faults to that fork.
pub fn on_reap(tgid: u32, child: u32) {
    if let Some(p) = PROC.get_ptr_mut(tgid)
        // SAFETY: see `flush`.
        && unsafe { (*p).fork_child } == child
    {
        flush_parent_side(p, tgid);
    }
}

pub fn on_process_exit(tgid: u32) {
    if let Some(p) = PROC.get_ptr_mut(tgid) {
        flush_parent_side(p, tgid);
        // SAFETY: see `flush`.
        let s = unsafe { &mut *p };
        flush(&mut s.own, tgid, s.own_bucket, tgid);
        let _ = PROC.remove(tgid);
    }
}

#[tracepoint]
pub fn page_fault_user(ctx: TracePointContext) -> u32 {
    if config().faults == 0 {
        return 0;
    }
    let (tid, tgid) = current();
    if !followed(tid, tgid) {
        return 0;
    }
    // SAFETY: checked kernel read of the tracepoint record.
    let code: u64 = unsafe { ctx.read_at::<u64>(layout().fault_error_code as usize) }.unwrap_or(0);
    let Some(p) = state(tgid) else {
        return 0;
    };
    let wp = fault_code::PRESENT | fault_code::WRITE;
    let cow = code & wp == wp;
    // SAFETY: see `flush`.
    let s = unsafe { &mut *p };
    let parent_side = cow && s.fork_child != 0;
    let t: *mut FaultTotals = if parent_side {
        &mut s.parent
    } else {
        &mut s.own
    };
    // SAFETY: `t` points into the live map value `s`.
    unsafe {
        add(&mut (*t).count, 1);
        if cow {
            add(&mut (*t).cow, 1);
        }
    }
    let Some(slot) = FAULT_START.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's own slot. A thread preempted mid-fault can find its slot taken by
    // another thread's fault on this CPU; the tid check at the exit mark then drops the time
    // (counted untimed), never charges it to the wrong thread.
    let slot = unsafe { &mut *slot };
    if slot.tid != 0 {
        // The previous fault on this CPU never reached its exit mark (retried, failed, or
        // migrated).
        bump(counter::UNTIMED_FAULTS);
    }
    slot.tid = tid;
    // SAFETY: helper call without arguments.
    slot.ts_ns = unsafe { bpf_ktime_get_ns() };
    slot.parent_side = parent_side as u32;
    0
}

#[inline(always)]
fn fault_exit(major: bool) -> u32 {
    let Some(slot) = FAULT_START.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's own slot, see `page_fault_user`.
    let slot = unsafe { &mut *slot };
    let (tid, tgid) = current();
    if slot.tid == 0 || slot.tid != tid {
        return 0;
    }
    let start = *slot;
    slot.tid = 0;
    // SAFETY: helper call without arguments.
    let dt = unsafe { bpf_ktime_get_ns() }.saturating_sub(start.ts_ns);
    let Some(p) = PROC.get_ptr_mut(tgid) else {
        return 0;
    };
    // SAFETY: see `flush`.
    let s = unsafe { &mut *p };
    let t: *mut FaultTotals = if start.parent_side != 0 {
        &mut s.parent
    } else {
        &mut s.own
    };
    // SAFETY: `t` points into the live map value `s`.
    unsafe {
        add(&mut (*t).timed, 1);
        add(&mut (*t).time_ns, dt);
        if major {
            add(&mut (*t).major, 1);
        }
    }
    0
}

#[perf_event]
pub fn fault_exit_minor(_ctx: PerfEventContext) -> u32 {
    fault_exit(false)
}

#[perf_event]
pub fn fault_exit_major(_ctx: PerfEventContext) -> u32 {
    fault_exit(true)
}
