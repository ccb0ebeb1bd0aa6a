//! Which container, pod or service a spawn belongs to, and which pid it has inside its own
//! pid namespace. The probes capture the cgroup v2 id and the namespaced pid in the kernel
//! (`spawn_common::kind::TASK_IDENT`); spawn-user turns the id into a path (it reads the
//! host's cgroup tree) and [`parse`] turns the path into a container identity, without asking
//! any container daemon.
//!
//! Not handled: containers that live only in cgroup v1 hierarchies (the cgroupfs driver on a
//! hybrid host). The kernel's cgroup id is the task's cgroup in the unified (v2) hierarchy,
//! where such a container's processes stay in whatever cgroup they inherited (typically the
//! runtime's own service, e.g. `containerd.service`), so they are attributed to that unit.
//!
//! ```
//! use spawn_analysis::container::{Runtime, identify};
//!
//! let id = "0123456789abcdef".repeat(4);
//! let c = identify(&format!("system.slice/docker-{id}.scope")).unwrap();
//! assert_eq!(c.runtime, Runtime::Docker);
//! assert_eq!(c.short(), "docker/0123456789ab");
//! assert!(c.matches("0123"));
//!
//! let unit = identify("system.slice/cron.service").unwrap();
//! assert_eq!((unit.runtime, unit.id.as_str()), (Runtime::Systemd, "cron.service"));
//! ```
use serde::{Deserialize, Serialize};

pub mod parse;
#[cfg(test)]
mod parse_tests;

pub use parse::identify;

/// The container runtime (or service manager) a cgroup path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Runtime {
    /// containerd: `cri-containerd-ID.scope`, or a bare id under `kubepods` (cgroupfs driver).
    #[serde(rename = "containerd")]
    Containerd,
    /// CRI-O: `crio-ID`.
    #[serde(rename = "cri-o")]
    CriO,
    /// Docker (or Kubernetes' dockershim): `docker-ID.scope`, or `docker/ID` (cgroupfs driver).
    #[serde(rename = "docker")]
    Docker,
    /// Podman: `libpod-ID.scope`, or `libpod_parent/libpod-ID`.
    #[serde(rename = "podman")]
    Podman,
    /// No container: a systemd service or scope; the id is the unit name.
    #[serde(rename = "systemd")]
    Systemd,
}

impl Runtime {
    /// The name in tables and JSON (`"cri-o"`), the same as its serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Systemd => "systemd",
        }
    }
}

/// A container (or systemd unit) as the cgroup path names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Container {
    /// Which runtime's naming the path matched.
    pub runtime: Runtime,
    /// The container id (64 hex digits), or the unit name for systemd.
    pub id: String,
    /// The Kubernetes pod uid with dashes, for containers under `kubepods`.
    pub pod_uid: Option<String>,
}

impl Container {
    /// `runtime/short id` for tables: 12 hex digits tell containers apart, like `docker ps`.
    pub fn short(&self) -> String {
        let id = if self.runtime == Runtime::Systemd {
            &self.id
        } else {
            &self.id[..self.id.len().min(12)]
        };
        format!("{}/{id}", self.runtime.as_str())
    }

    /// Whether `--container ID` names this one: the full id, a prefix of at least 4
    /// characters (like `docker ps` short ids), or the unit name.
    pub fn matches(&self, want: &str) -> bool {
        self.id == want || (want.len() >= 4 && self.id.starts_with(want))
    }

    /// Whether `--pod UID` names this one's pod (dashes or underscores).
    pub fn in_pod(&self, uid: &str) -> bool {
        self.pod_uid
            .as_deref()
            .is_some_and(|p| p == uid.replace('_', "-"))
    }
}

/// Who the spawned task is beyond its host pid; flattened into each record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskIdentity {
    /// The pid inside the task's own pid namespace (equal to `pid` outside containers).
    #[serde(default)]
    pub ns_pid: Option<u32>,
    /// Inode of that pid namespace (`readlink /proc/PID/ns/pid` shows `pid:[INODE]`).
    #[serde(default)]
    pub pid_ns: Option<u64>,
    /// The cgroup v2 id the kernel reported (after the last exec, else at the first run).
    #[serde(default)]
    pub cgroup_id: Option<u64>,
    /// That cgroup's path below the cgroup2 root; null when it was removed before spawnprof
    /// could name it (a note says so) or was never seen.
    #[serde(default)]
    pub cgroup: Option<String>,
    /// Absent when the path matches no known layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
}
