//! Parent-size ballast: makes the benchmarking process big, the way real large programs are.

use serde::{Deserialize, Serialize};
use std::io;

/// How the ballast memory is prepared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BallastMode {
    /// Mapped but never touched: no page tables to copy.
    Untouched,
    /// Every page written: page tables fork must copy, pages CoW must protect.
    #[default]
    Dirty,
    /// Dirty, then every other page made read-only: one VMA per page, the worst case for fork.
    Fragmented,
}

impl std::str::FromStr for BallastMode {
    type Err = crate::BenchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "untouched" => Ok(BallastMode::Untouched),
            "dirty" => Ok(BallastMode::Dirty),
            "fragmented" => Ok(BallastMode::Fragmented),
            _ => Err(crate::BenchError::BadBallast(s.to_string())),
        }
    }
}

/// An anonymous mapping of `len` bytes, unmapped on drop.
#[derive(Debug)]
pub struct Ballast {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned exclusively and only touched while being set up.
unsafe impl Send for Ballast {}

const PAGE: usize = 4096;

impl Ballast {
    /// Maps `len` bytes prepared as `mode` (a zero length maps nothing).
    pub fn new(len: usize, mode: BallastMode) -> io::Result<Ballast> {
        if len == 0 {
            return Ok(Ballast {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: anonymous private mapping; result checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let b = Ballast { ptr: p.cast(), len };
        if mode != BallastMode::Untouched {
            for off in (0..len).step_by(PAGE) {
                // SAFETY: off < len, inside our writable mapping.
                unsafe { b.ptr.add(off).write_volatile(1) };
            }
        }
        if mode == BallastMode::Fragmented {
            for off in (0..len).step_by(2 * PAGE) {
                // SAFETY: page-aligned range inside our mapping.
                if unsafe {
                    libc::mprotect(b.ptr.add(off).cast(), PAGE.min(len - off), libc::PROT_READ)
                } != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(b)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of whole pages.
    pub fn pages(&self) -> usize {
        self.len / PAGE
    }

    /// Writes one byte in page `i` (nothing outside the ballast). A plain store, so it is
    /// async-signal-safe: a forked child may call it before exec to cause a known number of
    /// copy-on-write faults. Writing a read-only page of a fragmented ballast faults.
    pub fn touch(&self, i: usize) {
        if i < self.pages() {
            // SAFETY: `i * PAGE < len`, inside the mapping this struct owns.
            unsafe { self.ptr.add(i * PAGE).write_volatile(2) };
        }
    }
}

impl Drop for Ballast {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: unmaps exactly our mapping.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

/// Parses sizes like `0`, `4096`, `64k`, `512M`, `1G`, `1GiB`.
pub fn parse_size(s: &str) -> Result<usize, crate::BenchError> {
    let t = s.trim();
    let bad = || crate::BenchError::BadSize(s.to_string());
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: usize = t[..digits].parse().map_err(|_| bad())?;
    let mult: usize = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// The process's resident set size in bytes (from /proc/self/statm).
pub fn current_rss() -> io::Result<u64> {
    let s = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other("bad statm"))?;
    Ok(pages * PAGE as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_writes_inside_and_ignores_outside() {
        let b = Ballast::new(3 * PAGE, BallastMode::Untouched).unwrap();
        assert_eq!(b.pages(), 3);
        b.touch(2);
        b.touch(3); // outside: must not write past the mapping
        // SAFETY: reads the first byte of page 2 of the live mapping.
        assert_eq!(unsafe { b.ptr.add(2 * PAGE).read_volatile() }, 2);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("64k").unwrap(), 65536);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert!(parse_size("x1").is_err());
        assert!(parse_size("1T").is_err());
    }

    #[test]
    fn dirty_ballast_grows_rss() {
        let before = current_rss().unwrap();
        let b = Ballast::new(32 << 20, BallastMode::Dirty).unwrap();
        assert!(current_rss().unwrap() >= before + (30 << 20));
        drop(b);
        let f = Ballast::new(1 << 20, BallastMode::Fragmented).unwrap();
        assert_eq!(f.len(), 1 << 20);
    }
}
