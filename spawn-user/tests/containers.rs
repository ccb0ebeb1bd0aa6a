//! Container attribution with real kernel pieces: the tests build container-shaped cgroups
//! (kubepods/containerd with a pod, Docker, a systemd service) and a new pid + mount
//! namespace (`unshare`), spawn inside, and check what `record` (JSON and CSV), the
//! `--container`/`--pod` filters, `top --by pod` and `/metrics` (scraped by a real
//! Prometheus) say against what the test did. Also spawnprof itself inside a pid namespace
//! with `--pid` of that namespace.
mod common;
#[path = "common/live.rs"]
mod live;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use live::{Background, Gated, Prometheus, TempDir, cgroup2_root, each_record, free_port};
use serde_json::Value;

const ID: &str = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f";
const ID2: &str = "d0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0ccd0cc";
const UID: &str = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";

/// A tree of cgroups under one test directory; every process left in it is killed and every
/// directory removed on drop, deepest first.
struct Tree {
    base: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Self {
        let root = cgroup2_root().expect("a cgroup2 mount");
        let base = root.join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&base).expect("mkdir test cgroup");
        Tree { base }
    }

    /// Makes `rel` (and its parents) below the test directory; returns the full path.
    fn leaf(&self, rel: &str) -> PathBuf {
        let p = self.base.join(rel);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        p
    }

    /// The path spawnprof reports: below the cgroup2 root.
    fn reported(&self, leaf: &Path) -> String {
        let root = cgroup2_root().expect("a cgroup2 mount");
        format!(
            "/{}",
            leaf.strip_prefix(root).expect("below root").display()
        )
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        {
            remove_tree(&e.path());
        }
    }
    if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in s.lines().filter_map(|l| l.parse::<i32>().ok()) {
            // SAFETY: kill(2) on a process in our test cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // A killed process leaves its cgroup asynchronously: retry briefly (cleanup only).
    for _ in 0..50 {
        if std::fs::remove_dir(dir).is_ok() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        remove_tree(&self.base);
    }
}

fn records(path: &Path) -> Vec<Value> {
    let mut v = Vec::new();
    each_record(path, |r| v.push(r));
    v
}

fn trues(recs: &[Value]) -> Vec<&Value> {
    recs.iter()
        .filter(|r| r["exec"]["filename"] == "/bin/true")
        .collect()
}

/// CSV rows as (header -> value) maps.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("csv output");
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(String::from)
        .collect();
    // The test's values hold no commas or quotes, so a plain split is exact for them.
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

/// Waits for a line of `stream` containing `needle`, then keeps draining it. The deadline
/// only turns a hang into a failure.
fn wait_line(stream: impl std::io::Read + Send + 'static, needle: &str) {
    let (tx, rx) = std::sync::mpsc::channel();
    let n = needle.to_string();
    thread::spawn(move || {
        let _ = tx.send(live::wait_for_line(stream, &n));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(())) => {}
        Ok(Err(lines)) => panic!("stream ended before {needle:?}: {lines:#?}"),
        Err(_) => panic!("no line with {needle:?} within 120 s"),
    }
}

/// The `pid:[N]` inode from `readlink /proc/self/ns/pid` output.
fn ns_inode(out: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok())
        .unwrap_or_else(|| panic!("no pid:[N] line in {out:?}"))
}

#[test]
fn kubepods_container_in_its_own_pid_namespace() {
    let _s = require_probes!(serial);
    let tree = Tree::new("spawnprof-test-k8s");
    let pod_slice = format!(
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice",
        UID.replace('-', "_")
    );
    let leaf = tree.leaf(&format!("{pod_slice}/cri-containerd-{ID}.scope"));
    let dir = TempDir::new("spawnprof-k8s");
    let (json, csv) = (dir.path("c.jsonl"), dir.path("p.csv"));
    let by_container = Background::start(
        &[
            "record",
            "-a",
            "--container",
            &ID[..12],
            "-o",
            json.to_str().unwrap_or_default(),
        ],
        "spawnprof: recording",
    );
    let by_pod = Background::start(
        &[
            "record",
            "-a",
            "--pod",
            UID,
            "-o",
            csv.to_str().unwrap_or_default(),
        ],
        "spawnprof: recording",
    );
    let port = free_port();
    let serve = Background::start(
        &["serve", "-a", "--listen", &format!("127.0.0.1:{port}")],
        "spawnprof: serving metrics",
    );
    let prom = Prometheus::start(port);
    let mut top = Command::new(env!("CARGO_BIN_EXE_spawnprof"))
        .args(["top", "-a", "--by", "pod"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting top");
    wait_line(top.stderr.take().expect("stderr"), "top attached");
    // The container: its init moves into the scope, then a new pid and mount namespace with
    // its own /proc, where pid 1 spawns readlink and ten /bin/true.
    let inner =
        "readlink /proc/self/ns/pid; i=0; while [ $i -lt 10 ]; do /bin/true; i=$((i+1)); done";
    let mut work = Gated::new(
        "sh",
        &format!(
            "echo $$ > {}; exec unshare --pid --fork --mount --mount-proc sh -c '{inner}'",
            leaf.join("cgroup.procs").display()
        ),
    );
    let mut outside = Gated::new("sh", "/bin/true; /bin/true");
    work.go();
    outside.go();
    let pid_ns = ns_inode(&work.finish());
    outside.finish();
    // top shows the pod as a group once a frame after the spawns is drawn; its name column
    // keeps the last 19 characters of a long name.
    wait_line(top.stdout.take().expect("stdout"), &UID[UID.len() - 19..]);
    let _ = top.kill();
    let _ = top.wait();

    let stderr = by_container.stop_ok();
    let recs = records(&json);
    let t = trues(&recs);
    assert_eq!(t.len(), 10, "{stderr}\n{recs:#?}");
    let path = tree.reported(&leaf);
    for r in &recs {
        assert_eq!(r["container"]["runtime"], "containerd", "{r:#}");
        assert_eq!(r["container"]["id"], ID, "{r:#}");
        assert_eq!(r["container"]["pod_uid"], UID, "{r:#}");
        assert_eq!(r["cgroup"], path.as_str(), "{r:#}");
    }
    // Inside: sh is 1, readlink 2, the trues 3..=12, all in the new namespace.
    let mut ns_pids: Vec<u64> = t.iter().filter_map(|r| r["ns_pid"].as_u64()).collect();
    ns_pids.sort_unstable();
    assert_eq!(ns_pids, (3..=12).collect::<Vec<u64>>(), "{t:#?}");
    assert!(
        t.iter().all(|r| r["pid_ns"].as_u64() == Some(pid_ns)),
        "{t:#?}"
    );
    assert!(t.iter().all(|r| r["pid"] != r["ns_pid"]));
    let spawned = recs.iter().filter(|r| !r["ppid"].is_null()).count();

    let stderr = by_pod.stop_ok();
    let rows = csv_rows(&csv);
    let csv_trues: Vec<_> = rows
        .iter()
        .filter(|r| r["exec.filename"] == "/bin/true")
        .collect();
    assert_eq!(csv_trues.len(), 10, "{stderr}\n{rows:#?}");
    for r in &rows {
        assert_eq!(r["container.pod_uid"], UID, "{r:?}");
        assert_eq!(r["container.id"], ID, "{r:?}");
        assert_eq!(r["container.runtime"], "containerd", "{r:?}");
    }
    assert!(csv_trues.iter().all(|r| r["pid_ns"] == pid_ns.to_string()));

    let q = format!(
        "spawnprof_container_spawns_total{{runtime=\"containerd\",container_id=\"{ID}\",pod_uid=\"{UID}\"}}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while prom.value(&q) != Some(spawned as f64) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        prom.value(&q),
        Some(spawned as f64),
        "scrape: {:?}",
        live::http_get(port, "/metrics")
    );
    serve.stop_ok();
}

#[test]
fn docker_and_systemd_shaped_cgroups() {
    let _s = require_probes!(serial);
    let tree = Tree::new("spawnprof-test-rt");
    let docker = tree.leaf(&format!("docker/{ID2}"));
    let unit = tree.leaf("system.slice/spawnprof-probe.service");
    let dir = TempDir::new("spawnprof-rt");
    let out = dir.path("r.jsonl");
    let bg = Background::start(
        &["record", "-a", "-o", out.to_str().unwrap_or_default()],
        "spawnprof: recording",
    );
    let run_in = |cg: &Path, prog: &str| {
        let mut g = Gated::new(
            "sh",
            &format!(
                "echo $$ > {}; {prog}; {prog}",
                cg.join("cgroup.procs").display()
            ),
        );
        g.go();
        g.finish();
    };
    run_in(&docker, "/bin/true");
    run_in(&unit, "/bin/echo >/dev/null");
    bg.stop_ok();
    let recs = records(&out);
    let t = trues(&recs);
    let in_docker: Vec<_> = t.iter().filter(|r| r["container"]["id"] == ID2).collect();
    assert_eq!(in_docker.len(), 2, "{t:#?}");
    assert!(
        in_docker
            .iter()
            .all(|r| r["container"]["runtime"] == "docker"
                && r["container"]["pod_uid"].is_null()
                && r["cgroup"] == tree.reported(&docker).as_str())
    );
    let echoes: Vec<_> = recs
        .iter()
        .filter(|r| {
            r["exec"]["filename"] == "/bin/echo" && r["cgroup"] == tree.reported(&unit).as_str()
        })
        .collect();
    assert_eq!(echoes.len(), 2, "{recs:#?}");
    assert!(echoes.iter().all(|r| r["container"]["runtime"] == "systemd"
        && r["container"]["id"] == "spawnprof-probe.service"));
}

/// spawnprof in a pid namespace of its own, asked for `--pid P` with P a pid of that
/// namespace: the probes translate it (user space there cannot know host pids).
#[test]
fn pid_of_spawnprofs_own_namespace() {
    let _s = require_probes!(serial);
    let dir = TempDir::new("spawnprof-nspid");
    let (out, fifo) = (dir.path("r.jsonl"), dir.path("go"));
    let c = std::ffi::CString::new(fifo.to_str().unwrap_or_default()).expect("path");
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let script = format!(
        "sh -c 'read _go < {fifo}; i=0; while [ $i -lt 10 ]; do /bin/true; i=$((i+1)); done' & P=$!; \
         {bin} record --pid $P -o {out} & S=$!; wait $P; kill -TERM $S; wait $S",
        fifo = fifo.display(),
        bin = env!("CARGO_BIN_EXE_spawnprof"),
        out = out.display()
    );
    let mut ns = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount",
            "--mount-proc",
            "sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare");
    wait_line(ns.stderr.take().expect("stderr"), "spawnprof: recording");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .and_then(|mut f| f.write_all(b"go\n"))
        .expect("releasing the workload");
    let status = ns.wait().expect("waiting for the namespace");
    assert!(status.success(), "{status:?}");
    let recs = records(&out);
    let t = trues(&recs);
    assert_eq!(t.len(), 10, "{recs:#?}");
    // Pids of the new namespace (1 is its sh, 2 the gated loop, 3 spawnprof), host pids apart.
    assert!(
        t.iter()
            .all(|r| r["ns_pid"].as_u64().is_some_and(|p| p > 3 && p < 100)),
        "{t:#?}"
    );
    assert!(t.iter().all(|r| r["pid"] != r["ns_pid"]));
    let ns_inodes: std::collections::HashSet<_> = t.iter().map(|r| r["pid_ns"].clone()).collect();
    assert_eq!(ns_inodes.len(), 1, "{t:#?}");
    assert_ne!(
        t[0]["pid_ns"].as_u64(),
        Some(0xEFFF_FFFC),
        "not the host's namespace"
    );
}
