//! Writing records into the ring buffer. A full ring buffer is counted, never silent.
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_smp_processor_id, bpf_ktime_get_ns};
use spawn_common::{COMM_LEN, Event, Header, counter};

use crate::state::{EVENTS, bump};

/// `BPF_RB_NO_WAKEUP`: never wake the reader per record. A wakeup per event costs a context
/// switch on the reader's CPU for every one of the ~12 events of a spawn, which on a 2-core
/// host slowed spawns by half; the reader polls on a short timer instead.
pub const NO_WAKEUP: u64 = 1;

#[inline(always)]
pub fn header(kind: u32, tid: u32, tgid: u32) -> Header {
    Header {
        kind,
        // SAFETY: plain helper call without arguments.
        cpu: unsafe { bpf_get_smp_processor_id() },
        // SAFETY: as above.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        tid,
        tgid,
    }
}

#[inline(always)]
pub fn comm() -> [u8; COMM_LEN] {
    bpf_get_current_comm().unwrap_or([0; COMM_LEN])
}

/// Emit one fixed-size event for the current task. `false` when the ring buffer was full
/// (counted here; callers whose record carries more than itself count that too).
#[inline(always)]
pub fn event(kind: u32, tid: u32, tgid: u32, arg0: u64, arg1: u64, arg2: u64) -> bool {
    let ev = Event {
        hdr: header(kind, tid, tgid),
        arg0,
        arg1,
        arg2,
        comm: comm(),
    };
    if EVENTS.output::<Event>(&ev, NO_WAKEUP).is_err() {
        bump(counter::LOST_EVENTS);
        return false;
    }
    true
}
