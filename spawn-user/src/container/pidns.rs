//! spawnprof's own pid namespace: inside a container's namespace it knows only that
//! namespace's pids, so the probes must translate (see `spawn_common::Config::pidns_ino`).
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

/// The initial pid namespace's inode (`PROC_PID_INIT_INO`), the same on every kernel.
pub const INIT_PID_NS_INO: u64 = 0xEFFF_FFFC;

/// A namespace as `bpf_get_ns_current_pid_tgid` wants it: the nsfs device in the kernel's
/// own `dev_t` encoding (major << 20 | minor, not the one stat(2) returns) and the inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsId {
    pub dev: u64,
    pub ino: u64,
}

/// `Some` when spawnprof runs in a pid namespace other than the host's; `None` in the host's
/// (or when /proc cannot tell, which only happens without procfs: then pids are taken as
/// host pids, as before).
pub fn own_pid_ns() -> Option<NsId> {
    static NS: OnceLock<Option<NsId>> = OnceLock::new();
    *NS.get_or_init(|| {
        let m = std::fs::metadata("/proc/self/ns/pid").ok()?;
        (m.ino() != INIT_PID_NS_INO).then(|| NsId {
            dev: kernel_dev(m.dev()),
            ino: m.ino(),
        })
    })
}

/// stat(2)'s device number to the kernel's internal `dev_t` (MKDEV).
pub fn kernel_dev(st_dev: u64) -> u64 {
    let (major, minor) = (libc::major(st_dev) as u64, libc::minor(st_dev) as u64);
    (major << 20) | minor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dev_encoding() {
        // nsfs is an anonymous device: major 0. Minors above 255 move in stat's encoding.
        assert_eq!(kernel_dev(libc::makedev(0, 4)), 4);
        assert_eq!(kernel_dev(libc::makedev(0, 300)), 300);
        assert_eq!(kernel_dev(libc::makedev(8, 1)), (8 << 20) | 1);
    }
}
