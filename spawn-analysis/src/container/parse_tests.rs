//! Cgroup paths as real hosts write them (systemd and cgroupfs drivers, every QoS class,
//! rootless and nested setups), and paths that must not be taken for containers.
use super::{Container, Runtime, identify};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ID2: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
const UID: &str = "7e1f6b2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const UID_: &str = "7e1f6b2a_3c4d_4e5f_8a9b_0c1d2e3f4a5b";

fn c(runtime: Runtime, id: &str, pod: Option<&str>) -> Option<Container> {
    Some(Container {
        runtime,
        id: id.into(),
        pod_uid: pod.map(String::from),
    })
}

/// Asserts that each of `paths` is identified as `want`.
#[track_caller]
fn each_is(want: Option<Container>, paths: &[String]) {
    for path in paths {
        assert_eq!(identify(path), want, "{path}");
    }
}

#[test]
fn kubernetes_systemd_driver_every_qos() {
    use Runtime::*;
    each_is(
        c(Containerd, ID, Some(UID)),
        &[
            format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{ID}.scope"
            ),
            format!(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope"
            ),
            // Guaranteed pods sit right under kubepods.slice.
            format!("/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope"),
            // kind and other nested nodes: the tree sits under another slice.
            format!(
                "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope"
            ),
            // A systemd inside the container: its units are not the container.
            format!(
                "/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope/init.scope"
            ),
        ],
    );
    each_is(
        c(CriO, ID, Some(UID)),
        &[
            format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/crio-{ID}.scope"
            ),
            // CRI-O puts the container's processes in a `container` child on some versions.
            format!("/kubepods.slice/kubepods-pod{UID_}.slice/crio-{ID}.scope/container"),
        ],
    );
    // dockershim (Kubernetes < 1.24).
    each_is(
        c(Docker, ID, Some(UID)),
        &[format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/docker-{ID}.scope"
        )],
    );
}

#[test]
fn kubernetes_cgroupfs_driver() {
    use Runtime::*;
    each_is(
        c(Containerd, ID, Some(UID)),
        &[
            format!("/kubepods/burstable/pod{UID}/{ID}"),
            format!("/kubepods/besteffort/pod{UID}/{ID}"),
            format!("/kubepods/pod{UID}/{ID}"),
            // Under a test or node prefix.
            format!("/spawnprof-test-1/kubepods/burstable/pod{UID}/{ID}"),
        ],
    );
    each_is(
        c(CriO, ID, Some(UID)),
        &[format!("/kubepods/burstable/pod{UID}/crio-{ID}")],
    );
    // Static (mirror) pods have a config hash for a uid.
    let static_pod = "6a1c2b4e8f9d0a1b2c3d4e5f6a7b8c9d";
    each_is(
        c(Containerd, ID, Some(static_pod)),
        &[format!("/kubepods/pod{static_pod}/{ID}")],
    );
}

#[test]
fn pod_level_cgroups_are_no_container() {
    each_is(
        None,
        &[
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice"),
            format!("/kubepods/burstable/pod{UID}"),
            "/kubepods.slice/kubepods-besteffort.slice".to_string(),
            "/kubepods".to_string(),
        ],
    );
}

#[test]
fn docker_and_podman() {
    use Runtime::*;
    each_is(
        c(Docker, ID, None),
        &[
            format!("/system.slice/docker-{ID}.scope"),
            format!("/docker/{ID}"),
            // Rootless Docker.
            format!("/user.slice/user-1000.slice/user@1000.service/docker-{ID}.scope"),
        ],
    );
    // Docker in Docker: the innermost container.
    each_is(
        c(Docker, ID2, None),
        &[format!("/docker/{ID}/docker/{ID2}")],
    );
    each_is(
        c(Podman, ID, None),
        &[
            format!("/machine.slice/libpod-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/machine.slice/machine-libpod_pod_{ID2}.slice/libpod-{ID}.scope"),
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
            format!("/libpod_parent/libpod-{ID}"),
        ],
    );
}

#[test]
fn systemd_units() {
    let unit = |u: &str| c(Runtime::Systemd, u, None);
    let cases = [
        ("/system.slice/cron.service", unit("cron.service")),
        (
            "/system.slice/containerd.service",
            unit("containerd.service"),
        ),
        (
            "/user.slice/user-1000.slice/session-3.scope",
            unit("session-3.scope"),
        ),
        (
            "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-123.scope",
            unit("app-gnome-firefox-123.scope"),
        ),
        ("/init.scope", unit("init.scope")),
        // A service's own sub-cgroups belong to the service.
        ("/system.slice/nginx.service/workers", unit("nginx.service")),
        // Monitors are the runtime's, not a container: conmon is a unit of its own.
        (
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            unit(&format!("libpod-conmon-{ID}.scope")),
        ),
    ];
    for (path, want) in cases {
        assert_eq!(identify(path), want, "{path}");
    }
}

#[test]
fn no_layout_matches() {
    for path in [
        "/",
        "",
        "/user.slice",
        "/system.slice",
        "/spawnprof-test-cg-42",
        // Ids of the wrong length or case are not container ids.
        "/docker/0123456789ab",
        &format!("/docker/{}", ID.to_uppercase()),
        // A bare id outside any known parent.
        &format!("/somewhere/{ID}"),
        // A pod-like name outside kubepods is no pod.
        &format!("/pod{UID}"),
    ] {
        assert_eq!(identify(path), None, "{path}");
    }
}

#[test]
fn matching_ids_and_pods() {
    let k = c(Runtime::Containerd, ID, Some(UID)).unwrap_or_else(|| unreachable!());
    assert!(k.matches(ID) && k.matches(&ID[..12]) && k.matches("0123"));
    assert!(!k.matches("012") && !k.matches(ID2));
    assert!(k.in_pod(UID) && k.in_pod(UID_) && !k.in_pod("x"));
    assert_eq!(k.short(), "containerd/0123456789ab");
    let s = c(Runtime::Systemd, "cron.service", None).unwrap_or_else(|| unreachable!());
    assert_eq!(s.short(), "systemd/cron.service");
    assert!(s.matches("cron.service") && !s.in_pod(UID));
}
