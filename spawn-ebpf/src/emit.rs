//! Writing records into the ring buffer. A full ring buffer is counted, never silent.
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_smp_processor_id, bpf_ktime_get_ns};
use spawn_common::{COMM_LEN, Event, Header, counter};

use crate::state::{EVENTS, bump};

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

/// Emit one fixed-size event for the current task.
#[inline(always)]
pub fn event(kind: u32, tid: u32, tgid: u32, arg0: u64, arg1: u64, arg2: u64) {
    let ev = Event {
        hdr: header(kind, tid, tgid),
        arg0,
        arg1,
        arg2,
        comm: comm(),
    };
    if EVENTS.output::<Event>(&ev, 0).is_err() {
        bump(counter::LOST_EVENTS);
    }
}
