//! What the operator asked to see: the user-space record filters (`--comm`, `--min-total`)
//! and the resolution of `--cgroup PATH` into the id and depth the probes compare against.
use std::path::{Path, PathBuf};

use crate::loader::CgroupFilter;
use spawn_analysis::record::SpawnRecord;

/// The kernel keeps 15 bytes of a task's name.
const COMM_MAX: usize = 15;

/// Filters applied to assembled records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Keep records whose child or parent has this comm (compared as the kernel stores it:
    /// cut to 15 bytes).
    pub comm: Option<String>,
    /// Keep records whose total (clone to reap) is known and at least this long.
    pub min_total_ns: Option<u64>,
    /// Keep records of this container (full id, a prefix of 4+ characters, or a unit name).
    pub container: Option<String>,
    /// Keep records of containers of this Kubernetes pod (uid, dashes or underscores).
    pub pod: Option<String>,
}

impl RecordFilter {
    pub fn new(comm: Option<&str>, min_total_ns: Option<u64>) -> Self {
        RecordFilter {
            comm: comm.map(|c| truncate_comm(c).to_string()),
            min_total_ns,
            container: None,
            pod: None,
        }
    }

    /// Adds the `--container` and `--pod` filters.
    pub fn with_identity(mut self, container: Option<String>, pod: Option<String>) -> Self {
        self.container = container;
        self.pod = pod;
        self
    }

    pub fn keep(&self, r: &SpawnRecord) -> bool {
        if let Some(c) = &self.comm
            && r.comm != *c
            && r.parent_comm.as_deref() != Some(c.as_str())
        {
            return false;
        }
        // A record with no container identity (none captured, or no layout matched) is
        // in no container: an identity filter drops it.
        let c = r.ident.container.as_ref();
        if let Some(want) = &self.container
            && !c.is_some_and(|c| c.matches(want))
        {
            return false;
        }
        if let Some(uid) = &self.pod
            && !c.is_some_and(|c| c.in_pod(uid))
        {
            return false;
        }
        match self.min_total_ns {
            Some(min) => r.total_ns.is_some_and(|t| t >= min),
            None => true,
        }
    }
}

fn truncate_comm(c: &str) -> &str {
    let mut end = c.len().min(COMM_MAX);
    while !c.is_char_boundary(end) {
        end -= 1;
    }
    &c[..end]
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup v2 hierarchy is mounted (looked in /proc/self/mountinfo)")]
    NoCgroup2,
    #[error("cgroup {0}: {1}")]
    Bad(String, String),
}

/// Mount points of cgroup2 file systems, from the text of /proc/self/mountinfo.
pub fn cgroup2_mounts(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let fstype = post.split_whitespace().next()?;
            let mnt = pre.split_whitespace().nth(4)?;
            (fstype == "cgroup2").then(|| PathBuf::from(unescape_octal(mnt)))
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(v) = s
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where `path` lies in one of the cgroup2 `mounts`: (mount, path inside it). A relative path
/// is taken inside the first mount.
pub fn locate(path: &Path, mounts: &[PathBuf]) -> Option<(PathBuf, PathBuf)> {
    if path.is_relative() {
        let m = mounts.first()?;
        return Some((m.clone(), path.to_path_buf()));
    }
    // The longest mount that contains the path (a cgroup2 mount may sit under a v1 tmpfs).
    mounts
        .iter()
        .filter_map(|m| Some((m.clone(), path.strip_prefix(m).ok()?.to_path_buf())))
        .max_by_key(|(m, _)| m.as_os_str().len())
}

/// The probes' filter for a cgroup v2 directory. The cgroup2 mount is found in mountinfo, so
/// this also works on hybrid hosts where cgroup2 is mounted at /sys/fs/cgroup/unified (the
/// depth must count from the cgroup2 root, not from /sys/fs/cgroup).
pub fn resolve_cgroup(path: &Path) -> Result<CgroupFilter, CgroupError> {
    use std::os::unix::fs::MetadataExt;
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts = cgroup2_mounts(&info);
    if mounts.is_empty() {
        return Err(CgroupError::NoCgroup2);
    }
    let bad = |why: String| CgroupError::Bad(path.display().to_string(), why);
    let (mount, rel) = locate(path, &mounts).ok_or_else(|| {
        let list: Vec<String> = mounts.iter().map(|m| m.display().to_string()).collect();
        bad(format!(
            "not inside a cgroup v2 mount ({})",
            list.join(", ")
        ))
    })?;
    let full = mount.join(&rel);
    if !full.join("cgroup.procs").exists() {
        return Err(bad("not a cgroup v2 directory (no cgroup.procs)".into()));
    }
    let meta = std::fs::metadata(&full).map_err(|e| bad(e.to_string()))?;
    let level = rel
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .count() as u32;
    Ok(CgroupFilter {
        id: meta.ino(),
        level,
        dir: full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spawn_analysis::record::SpawnKind;

    fn rec(comm: &str, parent: &str, total: Option<u64>) -> SpawnRecord {
        let mut r = SpawnRecord::new(5, SpawnKind::Exec);
        r.comm = comm.into();
        r.parent_comm = Some(parent.into());
        r.total_ns = total;
        r
    }

    #[test]
    fn comm_matches_child_or_parent() {
        let f = RecordFilter::new(Some("make"), None);
        assert!(f.keep(&rec("cc", "make", None)));
        assert!(f.keep(&rec("make", "bash", None)));
        assert!(!f.keep(&rec("cc", "bash", None)));
        // The kernel cuts comms to 15 bytes: a longer name still matches.
        let f = RecordFilter::new(Some("a-very-long-program-name"), None);
        assert!(f.keep(&rec("a-very-long-pro", "x", None)));
        assert!(RecordFilter::default().keep(&rec("x", "y", None)));
    }

    #[test]
    fn container_and_pod_filters() {
        use spawn_analysis::container::{Container, Runtime};
        let id = "ab".repeat(32);
        let mut r = rec("true", "sh", None);
        let f = RecordFilter::default().with_identity(Some(id[..12].into()), None);
        assert!(!f.keep(&r), "no identity: in no container");
        r.ident.container = Some(Container {
            runtime: Runtime::Containerd,
            id: id.clone(),
            pod_uid: Some("7e1f6b2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b".into()),
        });
        assert!(f.keep(&r));
        let other = RecordFilter::default().with_identity(Some("cdcd".into()), None);
        assert!(!other.keep(&r));
        let pod = |p: &str| RecordFilter::default().with_identity(None, Some(p.into()));
        assert!(pod("7e1f6b2a_3c4d_4e5f_8a9b_0c1d2e3f4a5b").keep(&r));
        assert!(!pod("00000000-3c4d-4e5f-8a9b-0c1d2e3f4a5b").keep(&r));
    }

    #[test]
    fn min_total_drops_fast_and_unknown() {
        let f = RecordFilter::new(None, Some(1_000_000));
        assert!(f.keep(&rec("a", "b", Some(1_000_000))));
        assert!(!f.keep(&rec("a", "b", Some(999_999))));
        assert!(!f.keep(&rec("a", "b", None)));
    }

    const HYBRID: &str = "\
31 23 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
35 31 0:30 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /mnt/my\\040cg rw - cgroup2 none rw";

    #[test]
    fn finds_cgroup2_mounts_and_depth() {
        let m = cgroup2_mounts(HYBRID);
        assert_eq!(
            m,
            [
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("/mnt/my cg")
            ]
        );
        let (mnt, rel) = locate(Path::new("/sys/fs/cgroup/unified/a/b"), &m).expect("inside");
        assert_eq!(
            (mnt, rel),
            (
                PathBuf::from("/sys/fs/cgroup/unified"),
                PathBuf::from("a/b")
            )
        );
        assert_eq!(
            locate(Path::new("x/y"), &m).map(|(_, r)| r),
            Some(PathBuf::from("x/y"))
        );
        assert_eq!(locate(Path::new("/sys/fs/cgroup/cpu/a"), &m), None);
    }
}
