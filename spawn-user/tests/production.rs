//! Root integration tests of production mode (`record`, `top`, `serve`): the scopes record
//! what they should and nothing else, a real Prometheus server scrapes the right counts, and
//! a 60-second soak accounts for every spawn with flat memory.
//!
//! The tests share the machine's two cores, so they run one at a time (the soak wants all
//! of it).
mod common;
#[path = "common/live.rs"]
mod live;

use std::{
    collections::HashSet,
    thread,
    time::{Duration, Instant},
};

use live::{Background, Cgroup, Gated, Prometheus, TempDir, each_record, free_port, number_after};
use serde_json::Value;

const READY_RECORD: &str = "spawnprof: recording";
const READY_SERVE: &str = "spawnprof: serving metrics";

fn exec_file(r: &Value) -> &str {
    r["exec"]["filename"].as_str().unwrap_or("")
}

/// `sh` loop of `n` runs of `prog` (dash: `[` and arithmetic are builtins, so the only
/// spawns are the `prog` ones).
fn loop_script(n: u32, prog: &str) -> String {
    format!("i=0; while [ $i -lt {n} ]; do {prog}; i=$((i+1)); done")
}

fn records(path: &std::path::Path) -> Vec<Value> {
    let mut v = Vec::new();
    each_record(path, |r| v.push(r));
    v
}

#[test]
fn cgroup_filter_sees_only_spawns_inside() {
    let _s = require_probes!(serial);
    let cg = Cgroup::new("spawnprof-test-cg");
    let dir = TempDir::new("spawnprof-cg");
    let out = dir.path("r.jsonl");
    let procs = cg.procs();
    let mut inside = Gated::new(
        "sh",
        &format!(
            "echo $$ > {}; {}",
            procs.display(),
            loop_script(20, "/bin/true")
        ),
    );
    let mut outside = Gated::new("sh", &loop_script(20, "/bin/echo >/dev/null"));
    let mut bg = Background::start(
        &[
            "record",
            "--cgroup",
            cg.path.to_str().unwrap_or_default(),
            "--interval",
            "1s",
            "-o",
            out.to_str().unwrap_or_default(),
        ],
        READY_RECORD,
    );
    inside.go();
    outside.go();
    let inside_pid = inside.pid();
    inside.finish();
    outside.finish();
    // Every event of those spawns is in the ring buffer by now (the shells waited for their
    // children); stopping drains it. Only the interval line needs waiting for.
    bg.wait_for("spawns (");
    let stderr = bg.stop_ok();
    let recs = records(&out);
    let trues: Vec<&Value> = recs
        .iter()
        .filter(|r| exec_file(r) == "/bin/true")
        .collect();
    assert_eq!(trues.len(), 20, "stderr: {stderr}\nrecords: {recs:#?}");
    assert!(
        trues
            .iter()
            .all(|r| r["ppid"].as_u64() == Some(u64::from(inside_pid)))
    );
    let echoes = recs.iter().filter(|r| exec_file(r) == "/bin/echo").count();
    assert_eq!(echoes, 0, "spawns outside the cgroup were recorded");
    // Nothing else runs in the test cgroup: every record is a child of the inside shell, or
    // the shell itself (partial: it was running before tracing started).
    assert!(
        recs.iter()
            .all(|r| r["ppid"].as_u64() == Some(u64::from(inside_pid))
                || r["pid"].as_u64() == Some(u64::from(inside_pid))),
        "{recs:#?}"
    );
    assert!(stderr.contains("spawns ("), "no interval line: {stderr}");
    assert!(stderr.contains("program true: 20 spawns"), "{stderr}");
    assert_eq!(number_after(&stderr, "lost events: "), Some(0), "{stderr}");
}

/// P: `true; sh -c 'echo; true'; true` with a distractor shell running beside it.
fn pid_tree_run(children: bool) -> (u32, Vec<Value>, String) {
    let dir = TempDir::new("spawnprof-pid");
    let out = dir.path("r.jsonl");
    let mut tree = Gated::new(
        "sh",
        "/bin/true; /bin/sh -c '/bin/echo hi >/dev/null; /bin/true; exit 0'; /bin/true; exit 0",
    );
    let mut distractor = Gated::new("sh", &loop_script(5, "/bin/false || :"));
    let pid = tree.pid().to_string();
    let mut args = vec![
        "record",
        "--pid",
        &pid,
        "-o",
        out.to_str().unwrap_or_default(),
    ];
    if children {
        args.push("--children");
    }
    let bg = Background::start(&args, READY_RECORD);
    tree.go();
    distractor.go();
    let tree_pid = tree.pid();
    tree.finish();
    distractor.finish();
    // The shells waited for their children, so every event is in the ring buffer already;
    // stopping drains it.
    let stderr = bg.stop_ok();
    (tree_pid, records(&out), stderr)
}

#[test]
fn pid_children_follows_the_tree_and_nothing_else() {
    let _s = require_probes!(serial);
    let (p, recs, stderr) = pid_tree_run(true);
    let by = |f: &str| {
        recs.iter()
            .filter(|r| exec_file(r) == f)
            .collect::<Vec<_>>()
    };
    let inner = by("/bin/sh");
    assert_eq!(inner.len(), 1, "stderr: {stderr}\n{recs:#?}");
    let inner_pid = inner[0]["pid"].as_u64().unwrap_or(0);
    assert_eq!(inner[0]["ppid"].as_u64(), Some(u64::from(p)));
    let trues = by("/bin/true");
    assert_eq!(trues.len(), 3, "{recs:#?}");
    let from_p = trues
        .iter()
        .filter(|r| r["ppid"].as_u64() == Some(u64::from(p)))
        .count();
    assert_eq!(from_p, 2, "{recs:#?}");
    let echo = by("/bin/echo");
    assert_eq!(echo.len(), 1, "{recs:#?}");
    assert_eq!(
        echo[0]["ppid"].as_u64(),
        Some(inner_pid),
        "grandchild recorded"
    );
    assert!(by("/bin/false").is_empty(), "the distractor was recorded");
    let tree: HashSet<u64> = [u64::from(p), inner_pid].into();
    for r in &recs {
        let pid = r["pid"].as_u64().unwrap_or(0);
        let ppid = r["ppid"].as_u64().unwrap_or(0);
        assert!(
            pid == u64::from(p) || tree.contains(&ppid),
            "outside the tree: {r:#}"
        );
    }
}

#[test]
fn pid_without_children_records_direct_children_only() {
    let _s = require_probes!(serial);
    let (p, recs, stderr) = pid_tree_run(false);
    let spawned: Vec<&Value> = recs
        .iter()
        .filter(|r| r["ppid"].as_u64() == Some(u64::from(p)))
        .collect();
    let mut files: Vec<&str> = spawned.iter().map(|r| exec_file(r)).collect();
    files.sort_unstable();
    assert_eq!(
        files,
        ["/bin/sh", "/bin/true", "/bin/true"],
        "stderr: {stderr}\n{recs:#?}"
    );
    assert!(
        recs.iter()
            .all(|r| !matches!(exec_file(r), "/bin/echo" | "/bin/false")),
        "grandchild or distractor recorded: {recs:#?}"
    );
}

#[test]
fn prometheus_scrapes_spawn_counters_and_phase_histograms() {
    let _s = require_probes!(serial);
    let cg = Cgroup::new("spawnprof-test-prom");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let bg = Background::start(
        &[
            "serve",
            "--listen",
            &listen,
            "--cgroup",
            cg.path.to_str().unwrap_or_default(),
        ],
        READY_SERVE,
    );
    let prom = Prometheus::start(port);
    let mut work = Gated::new(
        "sh",
        &format!(
            "echo $$ > {}; {}; {}",
            cg.procs().display(),
            loop_script(30, "/bin/true"),
            loop_script(5, "/nonexistent/prog 2>/dev/null")
        ),
    );
    work.go();
    work.finish();
    // Wait (bounded) until a scrape after the workload reached the TSDB.
    let all = "sum(spawnprof_spawns_total)";
    let deadline = Instant::now() + Duration::from_secs(120);
    while prom.value(all) != Some(35.0) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(500));
    }
    let v = |e: &str| prom.value(e);
    assert_eq!(
        v(all),
        Some(35.0),
        "scrape: {:?}",
        live::http_get(port, "/metrics")
    );
    let ok = "sum(spawnprof_spawns_total{outcome=\"exec_ok\"})";
    assert_eq!(
        v(ok),
        Some(30.0),
        "scrape: {:?}",
        live::http_get(port, "/metrics")
    );
    assert_eq!(
        v("sum(spawnprof_spawns_total{outcome=\"exec_failed\"})"),
        Some(5.0)
    );
    let by_syscall = prom.query("sum by (syscall) (spawnprof_spawns_total)");
    let total: f64 = by_syscall.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 35.0, "{by_syscall:?}");
    assert!(
        by_syscall
            .iter()
            .all(|(m, _)| ["clone", "clone3", "fork", "vfork"]
                .contains(&m["syscall"].as_str().unwrap_or(""))),
        "{by_syscall:?}"
    );
    for phase in ["copy", "setup", "exec", "reap"] {
        let q = format!("spawnprof_phase_seconds_count{{phase=\"{phase}\",program=\"true\"}}");
        assert_eq!(v(&q), Some(30.0), "{q}");
        let inf = format!(
            "spawnprof_phase_seconds_bucket{{phase=\"{phase}\",program=\"true\",le=\"+Inf\"}}"
        );
        assert_eq!(v(&inf), Some(30.0), "{inf}");
    }
    assert_eq!(
        v("spawnprof_spawn_seconds_count{program=\"true\"}"),
        Some(30.0)
    );
    // A median spawn of /bin/true is between 10 µs and 1 s: the buckets are in seconds.
    let med = v(
        "histogram_quantile(0.5, sum by (le) (spawnprof_spawn_seconds_bucket{program=\"true\"}))",
    )
    .unwrap_or(-1.0);
    assert!((1e-5..1.0).contains(&med), "median {med}");
    assert_eq!(v("spawnprof_lost_events_total"), Some(0.0));
    // The shell moved itself into the cgroup: its record is partial, not a spawn.
    assert_eq!(v("spawnprof_partial_records_total"), Some(1.0));
    assert!(v("spawnprof_tracer_cpu_seconds_total").is_some_and(|c| c > 0.0));
    assert!(v("sum(spawnprof_faults_total)").is_some_and(|c| c > 0.0));
    bg.stop_ok();
}

#[test]
fn top_batch_mode_shows_the_spawner() {
    let _s = require_probes!(serial);
    let cg = Cgroup::new("spawnprof-test-top");
    let mut work = Gated::new(
        "sh",
        &format!(
            "echo $$ > {}; {}",
            cg.procs().display(),
            loop_script(400, "/bin/true")
        ),
    );
    let mut top = std::process::Command::new(env!("CARGO_BIN_EXE_spawnprof"))
        .args(["top", "--by", "program", "--iterations", "3"])
        .args(["--cgroup", cg.path.to_str().unwrap_or_default()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawnprof top");
    // In batch mode top says on stderr when its probes are attached; the workload starts
    // then. It must outlast the first frame (a second after attaching), so it is big, and
    // top's frames carry whatever part of it ran by then.
    let ready = live::wait_for_line(top.stderr.take().expect("piped"), "spawnprof: top attached");
    assert!(ready.is_ok(), "top never attached: {ready:?}");
    work.go();
    let out = std::mem::take(&mut top.stdout).map(|mut s| {
        let mut t = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut t);
        t
    });
    let status = top.wait().expect("top exits after 3 frames");
    work.finish();
    let out = out.unwrap_or_default();
    assert!(status.success(), "{out}");
    assert!(out.contains("PROGRAM") && out.contains("SPAWN/s"), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("true "))
        .unwrap_or_else(|| panic!("{out}"));
    let rate: f64 = row
        .split_whitespace()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0);
    assert!(rate > 0.0, "{row}");
    assert!(out.contains("lost events 0"), "{out}");
}

#[test]
fn not_root_is_a_one_line_error_with_exit_2() {
    let _s = require_probes!(serial);
    // setpriv (util-linux) drops to nobody without a shell or PAM in between.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_spawnprof"))
        .args(["record", "-a", "--duration", "1s"])
        .output()
        .expect("setpriv (util-linux) runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("must run as root"), "{stderr}");
}

/// 60 s of two shell loops (one per core) spawning /bin/true as fast as they can, inside a
/// cgroup that spawnprof records. Every spawn is accounted for (a record, or counted in the
/// lost events), and spawnprof's memory at the end is within 10% of what it was at 10 s.
#[test]
fn soak_60s_accounts_for_every_spawn_with_flat_memory() {
    let _s = require_probes!(serial);
    let cg = Cgroup::new("spawnprof-test-soak");
    let dir = TempDir::new("spawnprof-soak");
    let out = dir.path("soak.jsonl");
    let script = format!(
        "echo $$ > {}; n=0; end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do /bin/true; n=$((n+1)); done; echo $n",
        cg.procs().display()
    );
    let mut loops: Vec<Gated> = (0..2).map(|_| Gated::new("bash", &script)).collect();
    let bg = Background::start(
        &[
            "record",
            "--cgroup",
            cg.path.to_str().unwrap_or_default(),
            "--interval",
            "10s",
            "-o",
        ]
        .into_iter()
        .chain([out.to_str().unwrap_or_default()])
        .collect::<Vec<_>>(),
        READY_RECORD,
    );
    let sp = bg.pid();
    let t0 = Instant::now();
    let cpu0 = live::cpu_ticks(sp);
    loops.iter_mut().for_each(Gated::go);
    thread::sleep(Duration::from_secs(10));
    let rss10 = live::rss_kib(sp);
    let shells: HashSet<u64> = loops.iter().map(|g| u64::from(g.pid())).collect();
    let spawned: u64 = loops
        .into_iter()
        .map(|g| g.finish().trim().parse::<u64>().unwrap_or(0))
        .sum();
    let secs = t0.elapsed().as_secs_f64();
    let rss_end = live::rss_kib(sp);
    let cpu = live::cpu_ticks(sp) - cpu0;
    let stderr = bg.stop_ok();
    let mut recorded = 0u64;
    each_record(&out, |r| {
        if exec_file(&r) == "/bin/true" && r["ppid"].as_u64().is_some_and(|p| shells.contains(&p)) {
            recorded += 1;
        }
    });
    let lost = number_after(&stderr, "lost events: ").unwrap_or(u64::MAX);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    eprintln!(
        "soak: {spawned} spawns in {secs:.1}s ({:.0}/s); {recorded} records, {lost} lost events; \
         spawnprof RSS {rss10} KiB at 10 s, {rss_end} KiB at the end; CPU {:.1}% of one core",
        spawned as f64 / secs,
        cpu as f64 / hz / secs * 100.0
    );
    // A real 2-core machine spawns tens of thousands here, a TCG VM of the kernel matrix about
    // 800: enough either way to check the accounting, which is what this test is for.
    assert!(spawned > 200, "the loops spawned only {spawned}");
    assert!(
        recorded <= spawned,
        "{recorded} records for {spawned} spawns"
    );
    assert!(
        recorded + lost >= spawned,
        "{spawned} spawns, {recorded} records, {lost} lost events: spawns went missing silently\n{stderr}"
    );
    assert!(
        rss_end * 10 <= rss10 * 11,
        "RSS grew from {rss10} KiB at 10 s to {rss_end} KiB"
    );
}
