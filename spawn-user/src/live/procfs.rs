//! What /proc says about us (CPU time, resident memory) and about other processes (parents,
//! cgroups). Parsers are pure and tested; the readers are thin.
use std::collections::HashMap;
use std::fs;

/// The parent pid from the text of /proc/PID/stat (`pid (comm) state ppid ...`; comm may hold
/// spaces and parentheses, so fields count from the last `)`).
pub fn parse_stat_ppid(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The cgroup v2 path from the text of /proc/PID/cgroup (the `0::PATH` line).
pub fn parse_cgroup_v2(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::"))
}

/// `root` and its descendants, given (pid, ppid) pairs.
pub fn descendants(root: u32, pairs: &[(u32, u32)]) -> Vec<u32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(
            pairs
                .iter()
                .filter(|(c, pp)| *pp == p && *c != root)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    out
}

/// (pid, ppid) of every process now.
pub fn process_tree() -> Vec<(u32, u32)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some((pid, parse_stat_ppid(&stat)?))
    })
    .collect()
}

/// Does this process exist?
pub fn exists(pid: u32) -> bool {
    fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// CPU time (user + system) this process used, in seconds.
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is a valid out-value; getrusage only writes to it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer for the duration of the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Resident memory of this process in bytes (0 when /proc cannot say).
pub fn self_rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    parse_vm_rss_kib(&status).map_or(0, |k| k * 1024)
}

/// Resident memory of process `pid` in bytes, `None` when it is gone.
pub fn rss_bytes_of(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss_kib(&status).map(|k| k * 1024)
}

/// `VmRSS` in KiB from the text of /proc/PID/status.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The cgroup of recently seen parents. Bounded: cleared when it holds `cap` entries or when
/// the caller starts a new window (pids are reused; a stale entry lives one window at most).
#[derive(Debug)]
pub struct CgroupCache {
    map: HashMap<u32, String>,
    cap: usize,
}

impl CgroupCache {
    pub fn new(cap: usize) -> Self {
        CgroupCache {
            map: HashMap::new(),
            cap,
        }
    }

    /// The cgroup of `pid`, or "(gone)" when the process no longer exists.
    pub fn of(&mut self, pid: u32) -> &str {
        if self.map.len() >= self.cap && !self.map.contains_key(&pid) {
            self.map.clear();
        }
        self.map.entry(pid).or_insert_with(|| {
            fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .ok()
                .and_then(|t| parse_cgroup_v2(&t).map(str::to_string))
                .unwrap_or_else(|| "(gone)".into())
        })
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        assert_eq!(parse_stat_ppid("42 (a) b) c) S 7 42 42 0"), Some(7));
        assert_eq!(parse_stat_ppid("1 (init) S 0 1 1"), Some(0));
        assert_eq!(parse_stat_ppid("garbage"), None);
    }

    #[test]
    fn cgroup_v2_line() {
        let t = "4:memory:/x\n0::/user.slice/a b\n";
        assert_eq!(parse_cgroup_v2(t), Some("/user.slice/a b"));
        assert_eq!(parse_cgroup_v2("4:memory:/x\n"), None);
    }

    #[test]
    fn tree_walk() {
        let pairs = [(2, 1), (3, 2), (4, 3), (5, 1), (6, 2), (10, 9)];
        let mut d = descendants(2, &pairs);
        d.sort_unstable();
        assert_eq!(d, [2, 3, 4, 6]);
        assert_eq!(descendants(10, &pairs), [10]);
    }

    #[test]
    fn rss_line() {
        let s = "Name:\tx\nVmRSS:\t   12345 kB\nVmSwap: 0 kB\n";
        assert_eq!(parse_vm_rss_kib(s), Some(12345));
        assert_eq!(parse_vm_rss_kib("Name: x"), None);
    }

    #[test]
    fn own_process_is_readable() {
        assert!(self_rss_bytes() > 0);
        assert!(self_cpu_seconds() >= 0.0);
        let me = std::process::id();
        assert!(exists(me));
        let mut c = CgroupCache::new(2);
        assert!(!c.of(me).is_empty());
        assert!(
            process_tree()
                .iter()
                .any(|&(p, pp)| p == me && pp == std::os::unix::process::parent_id())
        );
    }
}
