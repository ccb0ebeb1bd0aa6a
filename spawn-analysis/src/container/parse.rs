//! Container identity from a cgroup v2 path, by the layouts the runtimes and kubelet create:
//!
//! - Kubernetes, systemd driver: `kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid
//!   with underscores>.slice/<runtime>-<id>.scope` (no `<qos>` level for guaranteed pods),
//!   with `cri-containerd-` (containerd), `crio-` (CRI-O) or `docker-` (dockershim).
//! - Kubernetes, cgroupfs driver: `kubepods/<qos>/pod<uid>/<id>` (containerd: a bare id;
//!   CRI-O: `crio-<id>`).
//! - Docker: `system.slice/docker-<id>.scope` (systemd) or `docker/<id>` (cgroupfs).
//! - Podman: `machine.slice/libpod-<id>.scope` (also under a user's `user@UID.service` when
//!   rootless, and with a `container` child for systemd-mode containers) or
//!   `libpod_parent/libpod-<id>`.
//! - systemd: the deepest `*.service` or `*.scope` unit otherwise.
//!
//! The kubepods tree may sit anywhere (kind and nested setups put it under another slice).
//! Monitors (`crio-conmon-`, `libpod-conmon-`) are not containers. Pure; tested with paths
//! from real hosts in `parse_tests.rs`.
use super::{Container, Runtime};

/// The container (or unit) `path` belongs to; `None` when no known layout matches.
pub fn identify(path: &str) -> Option<Container> {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let kube = comps.iter().position(|c| is_kubepods(c));
    for i in (0..comps.len()).rev() {
        let under_kube = kube.is_some_and(|k| i > k);
        let parent = i.checked_sub(1).map(|p| comps[p]);
        if let Some((runtime, id)) = container_of(comps[i], parent, under_kube) {
            let pod_uid = if under_kube {
                comps[..i].iter().rev().find_map(|c| pod_uid_of(c))
            } else {
                None
            };
            return Some(Container {
                runtime,
                id,
                pod_uid,
            });
        }
    }
    comps
        .iter()
        .rev()
        .find(|c| c.ends_with(".service") || c.ends_with(".scope"))
        .map(|unit| Container {
            runtime: Runtime::Systemd,
            id: unit.to_string(),
            pod_uid: None,
        })
}

fn is_kubepods(c: &str) -> bool {
    c == "kubepods" || c.starts_with("kubepods.") || c.starts_with("kubepods-")
        // kubelet's own slice on some distributions (kind: kubelet-kubepods.slice).
        || c.ends_with("-kubepods.slice")
}

/// A container id: 64 lowercase hex digits (every runtime here uses sha256-sized ids).
fn is_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One path component as a container, given its parent component.
fn container_of(comp: &str, parent: Option<&str>, under_kube: bool) -> Option<(Runtime, String)> {
    let name = comp.strip_suffix(".scope").unwrap_or(comp);
    const PREFIXES: [(&str, Runtime); 4] = [
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::CriO),
        ("docker-", Runtime::Docker),
        ("libpod-", Runtime::Podman),
    ];
    for (prefix, runtime) in PREFIXES {
        if let Some(id) = name.strip_prefix(prefix)
            && is_id(id)
        {
            return Some((runtime, id.to_string()));
        }
    }
    if !is_id(comp) {
        return None;
    }
    // A bare id: cgroupfs drivers. Under kubepods the runtime is not in the path; containerd
    // is the one that writes bare ids there (CRI-O prefixes `crio-`).
    let runtime = match parent {
        _ if under_kube => Runtime::Containerd,
        Some("docker") => Runtime::Docker,
        Some("libpod_parent") => Runtime::Podman,
        _ => return None,
    };
    Some((runtime, comp.to_string()))
}

/// The pod uid in a kubepods component: `kubepods-besteffort-pod<uid>.slice` (underscores
/// for dashes) or `pod<uid>`; returned with dashes.
fn pod_uid_of(comp: &str) -> Option<String> {
    let name = comp.strip_suffix(".slice").unwrap_or(comp);
    let uid = match name.rfind("-pod") {
        Some(i) if name.contains("kubepods") => &name[i + 4..],
        _ => name.strip_prefix("pod")?,
    };
    let uid = uid.replace('_', "-");
    is_uid(&uid).then_some(uid)
}

/// A pod uid: a UUID (8-4-4-4-12 hex) or, for static pods, a 32-hex config hash.
fn is_uid(s: &str) -> bool {
    let hex = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [h] => h.len() == 32 && hex(h),
        [a, b, c, d, e] => {
            [a.len(), b.len(), c.len(), d.len(), e.len()] == [8, 4, 4, 4, 12]
                && parts.iter().all(|p| hex(p))
        }
        _ => false,
    }
}
