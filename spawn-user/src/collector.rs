//! Ring buffer to records: drains the probes' events, decodes them and feeds the assembler.
//! Shared by every command that reads the probes (trace, record, top, serve).
//!
//! Two ways to wait for events: `trace`'s reader thread blocks in poll(2) ([`Collector::new`],
//! [`Collector::poll`]); the live modes register the ring buffer's fd with their tokio runtime
//! through [`AsyncFd`], as aya's own userspace examples do ([`Collector::new_async`],
//! [`Collector::readable`]), so that the same thread can also answer scrapes, keys and signals.
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use aya::maps::{MapData, RingBuf};
use tokio::io::{Interest, unix::AsyncFd};

use spawn_analysis::{
    assemble::{Assembler, AssemblerStats},
    container::identify,
    decode::{RawEvent, decode},
    record::SpawnRecord,
};

use crate::container::resolve::{CgroupResolver, Resolved};

/// The probes' ring buffer, waited on with poll(2) or through the tokio reactor.
enum Ring {
    Blocking(RingBuf<MapData>),
    Async(AsyncFd<RingBuf<MapData>>),
}

impl Ring {
    fn get_mut(&mut self) -> &mut RingBuf<MapData> {
        match self {
            Ring::Blocking(r) => r,
            Ring::Async(a) => a.get_mut(),
        }
    }

    fn raw_fd(&self) -> RawFd {
        match self {
            Ring::Blocking(r) => r.as_raw_fd(),
            Ring::Async(a) => a.get_ref().as_raw_fd(),
        }
    }
}

pub struct Collector {
    ring: Ring,
    asm: Assembler,
    decode_errors: u64,
    /// Undecodable records whose header says `task_newtask`: spawns with no record.
    decode_error_spawns: u64,
    /// Records released whose creation was seen (the ones that balance the kernel's count).
    spawn_records: u64,
    fd_names: FdNames,
    cgroups: Cgroups,
}

impl Collector {
    /// A collector whose callers wait with [`Self::poll`]'s timeout (poll(2)).
    pub fn new(ring: RingBuf<MapData>, asm: Assembler) -> Self {
        Self::with_ring(Ring::Blocking(ring), asm)
    }

    /// A collector whose ring buffer is registered with the current tokio runtime: wait with
    /// [`Self::readable`], then [`Self::poll`] with a timeout of 0. Must run inside a runtime
    /// with IO enabled.
    pub fn new_async(ring: RingBuf<MapData>, asm: Assembler) -> io::Result<Self> {
        // SAFETY: the RingBuf owns its map's fd (MapData holds it) and returns that same fd
        // until it is dropped with the AsyncFd; it is never swapped through `get_mut`.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }?;
        Ok(Self::with_ring(Ring::Async(ring), asm))
    }

    fn with_ring(ring: Ring, asm: Assembler) -> Self {
        Self {
            ring,
            asm,
            decode_errors: 0,
            decode_error_spawns: 0,
            spawn_records: 0,
            fd_names: FdNames::default(),
            cgroups: Cgroups::open(),
        }
    }

    /// Name the traced root command (its record is kind "root").
    pub fn set_root(&mut self, pid: u32) {
        self.asm.set_root(pid);
    }

    /// Waits up to `timeout_ms` for events, consumes all that are there, and returns the
    /// records that are complete.
    pub fn poll(&mut self, timeout_ms: i32) -> Vec<SpawnRecord> {
        self.fill(timeout_ms);
        self.ready()
    }

    /// First half of [`Self::poll`]: wait, then consume the events that are there.
    pub fn fill(&mut self, timeout_ms: i32) {
        if timeout_ms != 0 {
            wait_readable(self.ring.raw_fd(), timeout_ms);
        }
        self.drain();
    }

    /// Waits until the ring buffer has events (registered collectors, see
    /// [`Self::new_async`]; a blocking one returns at once). The readiness is cleared here,
    /// before the caller drains: the drain reads up to the producer, and any event committed
    /// after the drain caught up wakes the fd again (the kernel notifies when a record is
    /// committed at the consumer's position), so nothing is left unread until the next event.
    pub async fn readable(&mut self) -> io::Result<()> {
        if let Ring::Async(fd) = &mut self.ring {
            fd.readable_mut().await?.clear_ready();
        }
        Ok(())
    }

    /// Second half of [`Self::poll`]: the records complete by now. Between the two halves a
    /// caller can learn facts that must precede release (which pid is the traced root).
    pub fn ready(&mut self) -> Vec<SpawnRecord> {
        // spawn-fast's clock is CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns`.
        self.asm.advance_to(spawn_fast::monotonic_ns());
        let mut recs = self.asm.drain_ready();
        recs.iter_mut().for_each(|r| self.cgroups.annotate(r));
        self.count(&recs);
        recs
    }

    /// Consumes what is left and returns every open record (incomplete ones say so).
    pub fn finish(&mut self) -> Vec<SpawnRecord> {
        self.drain();
        let mut recs = self.asm.finish();
        recs.iter_mut().for_each(|r| self.cgroups.annotate(r));
        self.count(&recs);
        recs
    }

    fn count(&mut self, recs: &[SpawnRecord]) {
        // A record has a ppid exactly when its task_newtask was seen (see the assembler).
        self.spawn_records += recs.iter().filter(|r| r.ppid.is_some()).count() as u64;
    }

    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// The user-side part of [`spawn_analysis::losses::Losses`].
    pub fn add_losses(&self, l: &mut spawn_analysis::losses::Losses) {
        l.decode_errors = self.decode_errors;
        l.decode_error_spawns = self.decode_error_spawns;
        l.evicted_records = self.asm.stats().evicted;
    }

    /// Records released so far whose spawn began while tracing (one per kernel-counted
    /// spawn that reached user space).
    pub fn spawn_records(&self) -> u64 {
        self.spawn_records
    }

    pub fn assembler_stats(&self) -> AssemblerStats {
        self.asm.stats()
    }

    /// Records still being assembled (bounded by the assembler's timeouts).
    pub fn open_records(&self) -> usize {
        self.asm.open_records()
    }

    fn drain(&mut self) {
        let ring = self.ring.get_mut();
        while let Some(item) = ring.next() {
            match decode(&item) {
                Ok(mut ev) => {
                    self.fd_names.observe(&mut ev);
                    // Named now, while the cgroup most likely still exists (a container that
                    // ran one short command may be gone by the time its record completes).
                    if let RawEvent::Ident { cgroup_id, .. } = ev {
                        self.cgroups.resolve(cgroup_id);
                    }
                    // A walked path only names the exec that follows it.
                    if !matches!(ev, RawEvent::FdPath { .. }) {
                        self.asm.push(ev)
                    }
                }
                Err(e) => {
                    self.decode_errors += 1;
                    self.decode_error_spawns += u64::from(is_spawn_record(&item));
                    log::warn!("undecodable event: {e}");
                }
            }
        }
    }
}

/// Names for `execveat(fd, "", AT_EMPTY_PATH)`, which carries no file name. The probes walk
/// the path in the kernel and send it just before the exec (`FdPath`); where they cannot (no
/// usable BTF), the name is read back from `/proc` while the fd is still open, in the child
/// or (vfork children share fd numbers with it) in its parent.
#[derive(Default)]
struct FdNames {
    /// child pid -> parent tgid, from TaskNewtask; bounded by exits.
    parents: std::collections::HashMap<u32, u32>,
    /// tid -> (fd, path) from the probes, for that task's next fd exec.
    walked: std::collections::HashMap<u32, (i32, String)>,
}

/// Bound on remembered parents, in case exits are lost.
const MAX_PARENTS: usize = 65_536;

impl FdNames {
    fn observe(&mut self, ev: &mut RawEvent) {
        match ev {
            RawEvent::TaskNewtask { hdr, child_pid, .. } => {
                if self.parents.len() >= MAX_PARENTS {
                    self.parents.clear();
                }
                self.parents.insert(*child_pid, hdr.tgid);
            }
            RawEvent::ProcessExit { hdr, .. } if hdr.tid == hdr.tgid => {
                self.parents.remove(&hdr.tgid);
            }
            RawEvent::FdPath { hdr, fd, path, .. } => {
                if self.walked.len() >= MAX_PARENTS {
                    self.walked.clear();
                }
                self.walked.insert(hdr.tid, (*fd, std::mem::take(path)));
            }
            RawEvent::ExecEnter {
                hdr,
                fd,
                flags,
                filename,
                ..
            } if filename.is_empty() && *flags & libc::AT_EMPTY_PATH as u32 != 0 => {
                if let Some((walked_fd, path)) = self.walked.remove(&hdr.tid)
                    && walked_fd == *fd
                {
                    *filename = path;
                    return;
                }
                let owners = [Some(hdr.tgid), self.parents.get(&hdr.tgid).copied()];
                *filename = owners
                    .into_iter()
                    .flatten()
                    .find_map(|pid| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok())
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|| format!("<fd {fd}>"));
            }
            _ => {}
        }
    }
}

/// Does this (undecodable) record say it is a `task_newtask`? The kind is the first field of
/// every record; a record too short to hold it is not counted as a spawn.
fn is_spawn_record(bytes: &[u8]) -> bool {
    bytes
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .is_some_and(|k| u32::from_ne_bytes(k) == spawn_common::kind::TASK_NEWTASK)
}

/// Cgroup ids to paths and container identities (see `crate::container`).
struct Cgroups {
    resolver: Result<CgroupResolver, String>,
}

impl Cgroups {
    fn open() -> Self {
        Cgroups {
            resolver: CgroupResolver::open().map_err(|e| e.to_string()),
        }
    }

    fn resolve(&mut self, id: u64) -> Resolved {
        match &mut self.resolver {
            Ok(r) => r.resolve(id),
            Err(e) => Resolved::Unknown(e.clone()),
        }
    }

    /// Fills the record's cgroup path and container from its kernel-captured cgroup id.
    fn annotate(&mut self, r: &mut SpawnRecord) {
        let Some(id) = r.ident.cgroup_id else { return };
        match self.resolve(id) {
            Resolved::Path(p) => {
                r.ident.container = identify(&p);
                r.ident.cgroup = Some(p);
            }
            Resolved::Gone => r.notes.push(format!(
                "cgroup {id} was removed before spawnprof could name it: no container identity"
            )),
            Resolved::Unknown(why) => r
                .notes
                .push(format!("cgroup {id} could not be named: {why}")),
        }
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn undecodable_spawn_records_are_told_apart() {
        use spawn_common::kind;
        let newtask = kind::TASK_NEWTASK.to_ne_bytes();
        // A truncated task_newtask record does not decode, and is a lost spawn.
        assert!(spawn_analysis::decode::decode(&newtask).is_err());
        assert!(super::is_spawn_record(&newtask));
        assert!(!super::is_spawn_record(&kind::EXEC_EXIT.to_ne_bytes()));
        assert!(!super::is_spawn_record(&[1, 0]));
    }
}
