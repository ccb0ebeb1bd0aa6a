//! Ring buffer to records: drains the probes' events, decodes them and feeds the assembler.
//! Shared by every command that reads the probes (trace, record, top, serve).
use std::os::fd::AsRawFd;

use aya::maps::{MapData, RingBuf};

use crate::{
    assemble::{Assembler, AssemblerStats},
    decode::decode,
    record::SpawnRecord,
};

pub struct Collector {
    ring: RingBuf<MapData>,
    asm: Assembler,
    decode_errors: u64,
}

impl Collector {
    pub fn new(ring: RingBuf<MapData>, asm: Assembler) -> Self {
        Self {
            ring,
            asm,
            decode_errors: 0,
        }
    }

    /// Name the traced root command (its record is kind "root").
    pub fn set_root(&mut self, pid: u32) {
        self.asm.set_root(pid);
    }

    /// Waits up to `timeout_ms` for events, consumes all that are there, and returns the
    /// records that are complete.
    pub fn poll(&mut self, timeout_ms: i32) -> Vec<SpawnRecord> {
        wait_readable(self.ring.as_raw_fd(), timeout_ms);
        self.drain();
        self.asm.advance_to(monotonic_ns());
        self.asm.drain_ready()
    }

    /// Consumes what is left and returns every open record (incomplete ones say so).
    pub fn finish(&mut self) -> Vec<SpawnRecord> {
        self.drain();
        self.asm.finish()
    }

    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    pub fn assembler_stats(&self) -> AssemblerStats {
        self.asm.stats()
    }

    /// Records still being assembled (bounded by the assembler's timeouts).
    pub fn open_records(&self) -> usize {
        self.asm.open_records()
    }

    fn drain(&mut self) {
        while let Some(item) = self.ring.next() {
            match decode(&item) {
                Ok(ev) => self.asm.push(ev),
                Err(e) => {
                    self.decode_errors += 1;
                    log::warn!("undecodable event: {e}");
                }
            }
        }
    }
}

/// CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until the ring buffer has data or `ms` passed.
fn wait_readable(fd: i32, ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}
