//! Helpers of the production-mode tests: a cgroup made for the test, spawnprof running in
//! the background until told to stop, gated shell workloads, a real Prometheus server, and
//! plain HTTP GETs (no client crate needed for loopback).
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

/// The cgroup2 mount (hybrid hosts mount it at /sys/fs/cgroup/unified).
pub fn cgroup2_root() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mnt = pre.split_whitespace().nth(4)?;
        (post.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mnt))
    })
}

/// A cgroup v2 made for one test; removed (after killing what is left in it) on drop.
pub struct Cgroup {
    pub path: PathBuf,
}

impl Cgroup {
    pub fn new(name: &str) -> Self {
        let root = cgroup2_root().expect("a cgroup2 mount (see /proc/self/mountinfo)");
        let path = root.join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Cgroup { path }
    }

    pub fn procs(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Ok(s) = std::fs::read_to_string(self.procs()) {
            for pid in s.lines().filter_map(|l| l.parse::<i32>().ok()) {
                // SAFETY: kill(2) with a pid that lives in our test cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A shell script that waits for one line on stdin before it runs: spawnprof attaches first.
pub struct Gated {
    pub child: Child,
    stdin: Option<ChildStdin>,
}

impl Gated {
    pub fn new(shell: &str, script: &str) -> Self {
        let mut child = Command::new(shell)
            .arg("-c")
            .arg(format!("read _go; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a shell");
        let stdin = child.stdin.take();
        Gated { child, stdin }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn go(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            s.write_all(b"go\n").expect("releasing the workload");
        }
    }

    /// Waits for the script and returns its stdout.
    pub fn finish(self) -> String {
        let out = self
            .child
            .wait_with_output()
            .expect("waiting for the workload");
        assert!(out.status.success(), "workload failed: {:?}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Reads `stream` until a line contains `needle`, then keeps draining it on a thread (so the
/// writer never blocks on a full pipe). Err with the lines seen when the stream ends first.
pub fn wait_for_line(
    stream: impl std::io::Read + Send + 'static,
    needle: &str,
) -> Result<(), Vec<String>> {
    let mut lines = BufReader::new(stream).lines();
    let mut seen = Vec::new();
    for l in lines.by_ref().map_while(Result::ok) {
        let found = l.contains(needle);
        seen.push(l);
        if found {
            thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
            return Ok(());
        }
    }
    Err(seen)
}

/// spawnprof running in the background; its stderr is collected line by line.
pub struct Background {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub stderr: Vec<String>,
}

impl Background {
    /// Starts `spawnprof ARGS` and waits (up to 60 s) for the stderr line containing `ready`.
    pub fn start(args: &[&str], ready: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spawnprof"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting spawnprof");
        let err = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut bg = Background {
            child,
            lines,
            stderr: Vec::new(),
        };
        bg.wait_for(ready);
        bg
    }

    /// Waits for a stderr line containing `needle` (seen already or still to come). The
    /// deadline only turns a hang into a failure; it is far beyond any delay from load.
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.stderr.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.stderr.push(l),
                Err(_) => panic!(
                    "spawnprof never said {needle:?}; stderr: {:#?}",
                    self.stderr
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then the exit status and every stderr line.
    pub fn stop(mut self) -> (Option<i32>, String) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("waiting for spawnprof");
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(l);
        }
        (status.code(), self.stderr.join("\n"))
    }

    /// [`stop`](Self::stop), asserting a clean exit (status 0); the stderr lines.
    #[track_caller]
    pub fn stop_ok(self) -> String {
        let (code, stderr) = self.stop();
        assert_eq!(code, Some(0), "{stderr}");
        stderr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local addr").port()
}

/// `GET path` on 127.0.0.1:port; the body, or `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// Percent-encoding of a PromQL query for a URL.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus server on loopback scraping one target every second; killed on drop.
pub struct Prometheus {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Prometheus {
    pub fn start(target_port: u16) -> Self {
        let dir = TempDir::new("spawnprof-prom");
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: spawnprof\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
            ),
        )
        .expect("writing prometheus.yml");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus (the Debian package `prometheus`; cargo xtask setup installs it)");
        let p = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(port, "/-/ready").is_none_or(|(c, _)| c != 200) {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// The result vector of an instant query: (labels, value) pairs.
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let path = format!("/api/v1/query?query={}", urlencode(expr));
        let Some((200, body)) = http_get(self.port, &path) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        let val = s["value"][1].as_str()?.parse().ok()?;
                        Some((s["metric"].clone(), val))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value of `expr`, if it has one.
    pub fn value(&self, expr: &str) -> Option<f64> {
        self.query(expr).first().map(|(_, v)| *v)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("{name}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("creating a temp dir");
        TempDir(p)
    }

    pub fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks (from /proc/PID/stat).
pub fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = s.rfind(')').map_or("", |i| &s[i + 1..]);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state is field 0, utime field 11, stime field 12.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// JSON lines of a file, parsed one at a time.
pub fn each_record(path: &Path, mut f: impl FnMut(serde_json::Value)) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        if line.starts_with('{') {
            f(serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}")));
        }
    }
}

/// The number after `key` in `text` ("lost events: 3," -> 3 for key "lost events: ").
pub fn number_after(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the tests that start spawnprof in the background one at a time within a test binary:
/// they share the machine's two cores and the kernel's probe slots. A test that failed while
/// holding the lock does not poison it for the others.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
