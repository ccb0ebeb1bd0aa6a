//! Cgroup v2 id (what `bpf_get_current_cgroup_id` returns) to path, with a cache. The id is
//! the kernfs file handle of the cgroup's directory, so `open_by_handle_at` on the cgroup2
//! mount opens it directly (no tree walk), and fails with ESTALE once the cgroup is gone:
//! that is reported as gone, never guessed. Ids are not reused, so answers never go stale.
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use crate::live::filter::cgroup2_mounts;

/// `FILEID_KERNFS`: the handle type of kernfs (cgroup2) file handles.
const FILEID_KERNFS: i32 = 0xfe;
/// Entries kept; past this the cache starts over (a host rarely has this many live cgroups).
const CACHE_CAP: usize = 16_384;

/// What an id resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// The path below the cgroup2 root, starting with `/`.
    Path(String),
    /// The cgroup was removed before it could be looked up.
    Gone,
    /// It could not be looked up at all (no cgroup2 mount, no permission): why.
    Unknown(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no cgroup v2 hierarchy is mounted (looked in /proc/self/mountinfo)")]
    NoCgroup2,
    #[error("opening the cgroup2 mount {0}: {1}")]
    Open(String, std::io::Error),
}

/// Resolves cgroup ids on one cgroup2 mount, wherever it is (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on hybrid hosts).
pub struct CgroupResolver {
    mount: PathBuf,
    mount_fd: OwnedFd,
    cache: HashMap<u64, Resolved>,
}

impl CgroupResolver {
    /// Finds the cgroup2 mount in /proc/self/mountinfo and opens it.
    pub fn open() -> Result<Self, ResolveError> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mount = cgroup2_mounts(&info)
            .into_iter()
            .next()
            .ok_or(ResolveError::NoCgroup2)?;
        let open_err = |e| ResolveError::Open(mount.display().to_string(), e);
        let c = CString::new(mount.as_os_str().as_encoded_bytes())
            .map_err(|e| open_err(std::io::Error::other(e)))?;
        // SAFETY: a NUL-terminated path; the returned fd is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(open_err(std::io::Error::last_os_error()));
        }
        Ok(CgroupResolver {
            mount,
            // SAFETY: a fresh fd nobody else owns.
            mount_fd: unsafe { OwnedFd::from_raw_fd(fd) },
            cache: HashMap::new(),
        })
    }

    /// The path of cgroup `id`, from the cache or the kernel.
    pub fn resolve(&mut self, id: u64) -> Resolved {
        if let Some(r) = self.cache.get(&id) {
            return r.clone();
        }
        let r = self.lookup(id);
        if self.cache.len() >= CACHE_CAP {
            self.cache.clear();
        }
        self.cache.insert(id, r.clone());
        r
    }

    fn lookup(&self, id: u64) -> Resolved {
        #[repr(C)]
        struct Handle {
            bytes: u32,
            kind: i32,
            id: [u8; 8],
        }
        let mut h = Handle {
            bytes: 8,
            kind: FILEID_KERNFS,
            id: id.to_ne_bytes(),
        };
        // SAFETY: `h` has the layout of a `struct file_handle` with 8 bytes of handle; the
        // returned fd is owned below.
        let fd = unsafe {
            libc::open_by_handle_at(
                self.mount_fd.as_raw_fd(),
                (&mut h as *mut Handle).cast(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ESTALE) | Some(libc::ENOENT) => Resolved::Gone,
                _ => Resolved::Unknown(format!("open_by_handle_at: {e}")),
            };
        }
        // SAFETY: a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        match std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
            Ok(p) => Resolved::Path(below(&self.mount, &p)),
            Err(e) => Resolved::Unknown(format!("naming cgroup {id}: {e}")),
        }
    }
}

/// `full` as a path below the cgroup2 mount (`/` for the root itself).
fn below(mount: &std::path::Path, full: &std::path::Path) -> String {
    let rel = full.strip_prefix(mount).unwrap_or(full);
    format!("/{}", rel.to_string_lossy().trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn paths_below_the_mount() {
        let m = std::path::Path::new("/sys/fs/cgroup/unified");
        assert_eq!(below(m, m), "/");
        assert_eq!(
            below(m, &m.join("system.slice/x.service")),
            "/system.slice/x.service"
        );
    }

    /// Our own cgroup resolves to the path /proc says, by its inode (the cgroup id).
    #[test]
    fn resolves_own_cgroup_and_says_gone() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI: open_by_handle_at needs root"
            );
            eprintln!("skipped: open_by_handle_at needs CAP_DAC_READ_SEARCH (root)");
            return;
        }
        let mut r = CgroupResolver::open().expect("a cgroup2 mount");
        let text = std::fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
        let own = crate::live::procfs::parse_cgroup_v2(&text).expect("a v2 line");
        let ino = std::fs::metadata(r.mount.join(own.trim_start_matches('/')))
            .expect("own cgroup dir")
            .ino();
        assert_eq!(r.resolve(ino), Resolved::Path(own.to_string()));
        // A cgroup made and removed: gone, not a wrong path.
        let dir = r
            .mount
            .join(format!("spawnprof-resolve-{}", std::process::id()));
        std::fs::create_dir(&dir).expect("mkdir cgroup");
        let id = std::fs::metadata(&dir).expect("stat").ino();
        std::fs::remove_dir(&dir).expect("rmdir cgroup");
        assert_eq!(r.resolve(id), Resolved::Gone);
    }
}
