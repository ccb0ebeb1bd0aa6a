//! What a parked image took from its surroundings, and what must be checked per spawn.
//!
//! - The **environment key**: the variables that ld.so, libc and library constructors may have
//!   read before the park (`LD_*`, `GLIBC_TUNABLES`, `MALLOC_*`, `LC_*`, `LANG`, `LANGUAGE`,
//!   `LOCPATH`, `GCONV_PATH`). An image is started with exactly these, and serves only spawns
//!   whose environment has the same values.
//! - The **process context**: credentials, capabilities, no_new_privs, seccomp (those four of
//!   the calling thread: `/proc/thread-self/status`), rlimits, session and cgroup. The image
//!   inherited them from the caller when it started; when the caller's differ at a spawn, the
//!   image is restarted (so the child gets the caller's, as with exec).
//!   Namespaces are the caller's as they were when the image started: reading them per spawn
//!   would cost ~35 µs, and only the caller itself can change them (`unshare`, `setns`); such a
//!   caller must drop its templates and call [`crate::warm::clear_cache`].
//! - **Per spawn** (sent with every request): umask, ignored signals, the calling thread's
//!   signal mask, CPU affinity and nice value, the process group, the cwd.

use std::cell::RefCell;
use std::ffi::CStr;
use std::io;
use std::os::unix::fs::FileExt;

/// Whether ld.so, libc or a library constructor may read `name` before `main`.
pub(crate) fn is_keyed(name: &[u8]) -> bool {
    name.starts_with(b"LD_")
        || name.starts_with(b"MALLOC_")
        || name.starts_with(b"LC_")
        || matches!(
            name,
            b"GLIBC_TUNABLES" | b"LANG" | b"LANGUAGE" | b"LOCPATH" | b"GCONV_PATH"
        )
}

/// The keyed `NAME=value` entries of a NULL-terminated environment array, sorted.
pub(crate) fn env_key(envp: *const *const libc::c_char) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        // SAFETY: envp is a NULL-terminated array of NUL-terminated strings (a plan's envp).
        let p = unsafe { *envp.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: as above.
        let kv = unsafe { CStr::from_ptr(p) }.to_bytes();
        let name = kv.split(|&b| b == b'=').next().unwrap_or(kv);
        let seen = |e: &Vec<u8>| e.starts_with(name) && e.get(name.len()) == Some(&b'=');
        if is_keyed(name) && !out.iter().any(seen) {
            out.push(kv.to_vec());
        }
        i += 1;
    }
    out.sort();
    out
}

/// Process-wide attributes an image inherits at its start (compared, never sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Context {
    status: Vec<u8>,
    rlimits: [(u64, u64); 16],
    sid: libc::pid_t,
    cgroup: Vec<u8>,
}

/// Attributes sent with every request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PerSpawn {
    pub umask: u32,
    pub ignored: u64,
}

const STATUS_KEYS: &[&[u8]] = &[
    b"Uid:",
    b"Gid:",
    b"Groups:",
    b"NoNewPrivs:",
    b"Seccomp:",
    b"Seccomp_filters:",
    b"CapInh:",
    b"CapPrm:",
    b"CapEff:",
    b"CapBnd:",
    b"CapAmb:",
];

/// The calling thread's `/proc/thread-self/status` and `cgroup` (credentials, capabilities and
/// seccomp are per thread), opened once per thread and read with pread into one reused buffer
/// (half the cost of opening them for every spawn).
struct ProcFiles {
    /// Which process and thread they were opened in: a forked copy of the caller, or another
    /// thread, must not read these.
    pid: u32,
    tid: libc::pid_t,
    status: std::fs::File,
    cgroup: Option<std::fs::File>,
    buf: Vec<u8>,
}

thread_local! {
    static PROC_FILES: RefCell<Option<ProcFiles>> = const { RefCell::new(None) };
}

/// Calls `f` with this thread's status and cgroup texts.
fn with_proc<R>(f: impl FnOnce(&[u8], &[u8]) -> R) -> io::Result<R> {
    PROC_FILES.with(|cell| {
        let mut g = cell.borrow_mut();
        let pid = std::process::id();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        if g.as_ref().is_none_or(|f| f.pid != pid || f.tid != tid) {
            *g = Some(ProcFiles {
                pid,
                tid,
                status: std::fs::File::open("/proc/thread-self/status")?,
                cgroup: std::fs::File::open("/proc/thread-self/cgroup").ok(),
                buf: vec![0u8; 16384],
            });
        }
        let files = g.as_mut().expect("set above");
        let (a, b) = files.buf.split_at_mut(8192);
        let n = files.status.read_at(a, 0)?;
        let m = match &files.cgroup {
            Some(c) => c.read_at(b, 0)?,
            None => 0,
        };
        Ok(f(&a[..n], &b[..m]))
    })
}

/// The caller's context now, and the per-spawn values (read from the same status snapshot).
pub(crate) fn snapshot() -> io::Result<(Context, PerSpawn)> {
    let mut kept = Vec::with_capacity(512);
    let (mut umask, mut ignored) = (0o022, 0);
    let cgroup = with_proc(|status, cgroup| {
        for line in status.split(|&b| b == b'\n') {
            if STATUS_KEYS.iter().any(|k| line.starts_with(k)) {
                kept.extend_from_slice(line);
                kept.push(b'\n');
            } else if let Some(v) = line.strip_prefix(b"Umask:") {
                umask = parse_radix(v, 8).unwrap_or(0o022) as u32;
            } else if let Some(v) = line.strip_prefix(b"SigIgn:") {
                ignored = parse_radix(v, 16).unwrap_or(0);
            }
        }
        cgroup.to_vec()
    })?;
    // Children get SIGPIPE at its default, as every strategy (and std) does.
    ignored &= !(1 << (libc::SIGPIPE - 1));
    let mut rlimits = [(0, 0); 16];
    // RLIMIT_CPU (0) to RLIMIT_RTTIME (15): every limit Linux has.
    for (r, slot) in rlimits.iter_mut().enumerate() {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: reads one limit into a local struct.
        unsafe { libc::prlimit(0, r as _, std::ptr::null(), &mut l) };
        *slot = (l.rlim_cur, l.rlim_max);
    }
    let ctx = Context {
        status: kept,
        rlimits,
        // SAFETY: getsid(0) has no preconditions.
        sid: unsafe { libc::getsid(0) },
        cgroup,
    };
    Ok((ctx, PerSpawn { umask, ignored }))
}

fn parse_radix(v: &[u8], radix: u32) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(v).ok()?.trim(), radix).ok()
}

/// The calling thread's CPU affinity (all zero if it cannot be read: the child keeps the
/// image's) and nice value.
pub(crate) fn thread_sched() -> ([u64; 16], i32) {
    let mut cpus = [0u64; 16];
    // SAFETY: writes at most 128 bytes into `cpus`.
    let r = unsafe { libc::sched_getaffinity(0, size_of_val(&cpus), cpus.as_mut_ptr().cast()) };
    if r != 0 {
        cpus = [0; 16];
    }
    // SAFETY: plain call; on Linux PRIO_PROCESS with 0 is the calling thread.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    (cpus, nice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_takes_only_loader_and_locale_variables() {
        let vars = [
            c"PATH=/bin".as_ptr(),
            c"LD_LIBRARY_PATH=/x".as_ptr(),
            c"LANG=C.UTF-8".as_ptr(),
            c"MALLOC_ARENA_MAX=2".as_ptr(),
            c"HOME=/root".as_ptr(),
            std::ptr::null(),
        ];
        let k = env_key(vars.as_ptr());
        assert_eq!(
            k,
            vec![
                b"LANG=C.UTF-8".to_vec(),
                b"LD_LIBRARY_PATH=/x".to_vec(),
                b"MALLOC_ARENA_MAX=2".to_vec()
            ]
        );
    }

    #[test]
    fn snapshot_is_stable() {
        let (a, pa) = snapshot().unwrap();
        let (b, pb) = snapshot().unwrap();
        assert_eq!(a, b);
        assert_eq!(pa.umask, pb.umask);
        assert_eq!(pa.ignored & (1 << (libc::SIGPIPE - 1)), 0);
    }
}
