//! Known workloads driven through spawn-fast: what `cargo xtask demo` and the integration tests
//! trace, so that what was recorded can be checked against what was done.
use std::{ffi::OsString, io, time::Instant};

mod touch;

use spawn_fast::{Command, Stdio, Strategy};

#[derive(Debug, Clone)]
pub struct Workload {
    pub strategies: Vec<Strategy>,
    pub count: usize,
    /// Bytes of memory this process writes before spawning (a "big parent").
    pub parent_rss: usize,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Instead of spawn-fast: a raw fork in which the child writes this many ballast pages
    /// before its execve and the parent writes `parent_touch` other pages before waiting (a
    /// known number of copy-on-write faults on each side).
    pub child_touch: Option<usize>,
    pub parent_touch: usize,
}

/// One spawn as seen from user space.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Spawned {
    pub strategy: String,
    pub pid: u32,
    pub exit_code: Option<i32>,
    /// spawn() entered to wait() returned, CLOCK_MONOTONIC.
    pub wall_ns: u64,
    /// spawn-fast's own marks (CLOCK_MONOTONIC, comparable with the probes' timestamps):
    /// spawn API entered and wait returned. None for the raw-fork workload.
    pub t_enter_ns: Option<u64>,
    pub t_reaped_ns: Option<u64>,
}

/// Runs `count` rounds; each round spawns and waits for the program once per strategy, in turn.
pub fn run(w: &Workload) -> io::Result<Vec<Spawned>> {
    let ballast = Ballast::dirty(w.parent_rss)?;
    if let Some(child_touch) = w.child_touch {
        return touch::run(w, &ballast, child_touch);
    }
    let mut out = Vec::with_capacity(w.count * w.strategies.len());
    for _ in 0..w.count {
        for &strategy in &w.strategies {
            let start = Instant::now();
            let mut cmd = Command::new(&w.program);
            cmd.args(&w.args).strategy(strategy).stdout(Stdio::Null);
            let mut child = cmd.spawn()?;
            let pid = child.id();
            let status = child.wait()?;
            let timing = child.timing();
            out.push(Spawned {
                strategy: strategy.to_string(),
                pid,
                exit_code: status.code(),
                wall_ns: start.elapsed().as_nanos() as u64,
                t_enter_ns: Some(timing.t_enter_ns),
                t_reaped_ns: timing.t_reaped_ns,
            });
        }
    }
    drop(ballast);
    Ok(out)
}

/// Anonymous memory written page by page, so that a fork has page tables to copy.
pub(crate) struct Ballast {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Ballast {
    pub(crate) fn pages(&self) -> usize {
        self.len / PAGE
    }

    /// Writes one byte in page `i` (no-op outside the ballast). Async-signal-safe: a plain
    /// store, usable between fork and exec.
    pub(crate) fn touch(&self, i: usize) {
        if i < self.pages() {
            // SAFETY: `i * PAGE < len`, inside the mapping this struct owns.
            unsafe { (self.ptr as *mut u8).add(i * PAGE).write_volatile(2) };
        }
    }
}

const PAGE: usize = 4096;

impl Ballast {
    fn dirty(len: usize) -> io::Result<Self> {
        if len == 0 {
            return Ok(Self {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        for off in (0..len).step_by(4096) {
            // SAFETY: `off < len`, inside the mapping we own.
            unsafe { (ptr as *mut u8).add(off).write_volatile(1) };
        }
        Ok(Self { ptr, len })
    }
}

impl Drop for Ballast {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly the mapping created in `dirty`.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

/// `64M`, `1G`, `4096`, `0`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M or G)")),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    num.trim()
        .parse::<usize>()
        .map_err(|e| format!("bad size {s:?}: {e}"))
        .and_then(|n| {
            n.checked_mul(mult)
                .ok_or_else(|| format!("size {s:?} too large"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("1T").is_err());
        assert!(parse_size("x").is_err());
    }
}
