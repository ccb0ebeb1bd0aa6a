//! Production mode: long-running commands for a busy host. `record` writes records to JSON
//! lines or CSV with periodic summary lines, `top` is a live terminal view, `serve` is a
//! Prometheus/OpenMetrics endpoint. All three read the probes through one [`Source`], keep
//! only bounded state (HdrHistograms, top-N label sets) and report the events the
//! kernel side lost instead of hiding them.
//!
//! # Runtime
//!
//! Each live command runs on one tokio **current-thread** runtime ([`runtime`]), the way aya's
//! userspace examples read their maps: the ring buffer's fd through
//! [`AsyncFd`](tokio::io::unix::AsyncFd) (see [`crate::collector`]), Ctrl-C and SIGTERM through
//! `tokio::signal` ([`signals`]), timers through `tokio::time`, and `serve`'s `/metrics`
//! endpoint on hyper ([`serve`]). One thread is enough and is the cheap choice on the small
//! hosts spawnprof watches (the development host has 2 cores; spawnprof must not take one):
//! the work per wake-up is a short drain and some counting, a scrape is an encode of a few
//! kilobytes, and nothing blocks for long, so a multi-threaded runtime would only add worker
//! threads, cross-thread wake-ups and locks that are never contended.
//!
//! The loop of each command is paced by [`Pacer`]: it drains the ring buffer once per [`TICK`]
//! (a busy host costs ten wake-ups a second, not one per event). A timer, and not the fd's
//! readiness alone, because the probes submit every record with `BPF_RB_NO_WAKEUP`: a wake-up
//! per event cost a context switch on the reader's CPU for each of the ~12 events of a spawn
//! (see spawn-ebpf's `emit.rs`), so the kernel never signals the fd for them. The fd is
//! registered all the same, and a record submitted with a wake-up (none today) is drained at
//! once, without waiting for the tick.
//!
//! None of these commands spawns or waits for a child process, so spawn-fast's `tokio`
//! feature (an async wait on the child's pidfd) has nothing to do here. `trace`, which does
//! wait for its command, stays on threads: see [`crate::session`].
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use spawn_common::counter;

use spawn_analysis::{assemble::AssemblerStats, record::SpawnRecord};

use crate::{
    collector::Collector,
    loader::{LoadError, ProbeOptions, Probes},
    preflight::{self, PreflightError},
};

pub mod agg;
pub mod container_metrics;
pub mod filter;
pub mod hist;
pub mod labels;
pub mod metrics;
pub mod procfs;
pub mod prom;
pub mod record;
pub mod serve;
pub mod signals;
pub mod term;
pub mod text;
pub mod top;

use filter::{CgroupError, RecordFilter};

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{0}")]
    Scope(String),
    #[error("no process with pid {0}")]
    NoSuchPid(u32),
    #[error("writing {0}: {1}")]
    Output(String, std::io::Error),
    #[error("listening on {0}: {1}")]
    Listen(String, String),
    #[error("terminal: {0}")]
    Terminal(std::io::Error),
    /// The runtime, the signal handlers or the ring buffer's registration with them.
    #[error("event loop: {0}")]
    Runtime(std::io::Error),
}

/// The runtime of every live command: one thread, IO (ring buffer, sockets, signals) and
/// timers (see the module doc for why one thread).
pub fn runtime() -> Result<tokio::runtime::Runtime, LiveError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(LiveError::Runtime)
}

/// Which spawns to look at; shared by `record`, `top` and `serve`.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// The whole host (implied by `cgroup`, and the default of `top` and `serve`).
    pub all: bool,
    /// Spawns made by this process (and, with `children`, by its descendants).
    pub pid: Option<u32>,
    pub children: bool,
    /// Only spawns whose parent runs inside this cgroup v2 or below it.
    pub cgroup: Option<PathBuf>,
    pub comm: Option<String>,
    pub min_total_ns: Option<u64>,
    /// Only spawns in this container / pod (see `container::Container::matches`).
    pub container: Option<String>,
    pub pod: Option<String>,
    pub faults: bool,
    pub startup: bool,
    /// Attach no syscall tracepoint (no tax on the host's syscalls; fewer phases).
    pub no_syscall_tracepoints: bool,
}

impl Scope {
    /// What the scope covers, for the start-up line.
    pub fn describe(&self) -> String {
        let mut s = match (self.pid, &self.cgroup) {
            (Some(p), _) if self.children => format!("pid {p} and its descendants"),
            (Some(p), _) => format!("the spawns of pid {p}"),
            (None, Some(c)) => format!("cgroup {}", c.display()),
            (None, None) => "the whole host".into(),
        };
        if let Some(c) = &self.comm {
            s += &format!(", comm {c}");
        }
        if let Some(m) = self.min_total_ns {
            s += &format!(", total >= {}", spawn_analysis::report::fmt_ns(m));
        }
        if let Some(c) = &self.container {
            s += &format!(", container {c}");
        }
        if let Some(p) = &self.pod {
            s += &format!(", pod {p}");
        }
        s
    }
}

/// Health of the pipeline, shown next to every summary: nothing is lost without saying so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Events the probes could not put in the full ring buffer.
    pub lost_events: u64,
    pub untimed_faults: u64,
    pub decode_errors: u64,
    pub assembler: AssemblerStats,
    /// Records in flight (bounded by the assembler's timeouts).
    pub open_records: usize,
    /// Records dropped by `--comm` / `--min-total`.
    pub filtered: u64,
    /// Every loss counter, kernel and user side, and the kernel's own spawn count.
    pub losses: spawn_analysis::losses::Losses,
    /// Records whose spawn began while tracing, before filtering (they balance
    /// `losses.spawns`).
    pub spawn_records: u64,
    /// Of `filtered`, those records whose spawn began while tracing.
    pub filtered_spawns: u64,
}

impl Health {
    /// `spawns = records + filtered + lost`.
    pub fn balance(&self) -> spawn_analysis::losses::Balance {
        self.losses.balance(
            self.spawn_records.saturating_sub(self.filtered_spawns),
            self.filtered_spawns,
        )
    }
}

/// The probes and the collector behind every live command.
pub struct Source {
    probes: Probes,
    col: Collector,
    filter: RecordFilter,
    filtered: u64,
    filtered_spawns: u64,
    /// Cached: one map read per call is cheap, but callers ask once per tick at most.
    counters: [u64; counter::COUNT as usize],
}

impl Source {
    /// Checks the host, loads the probes for `scope`, and prints the loader's notes (what
    /// is off on this kernel) once on stderr. Must run inside the [`runtime`]: the ring
    /// buffer is registered with it.
    pub fn open(scope: &Scope) -> Result<Self, LiveError> {
        let tracefs = preflight::check()?;
        if scope.pid.is_some() && scope.cgroup.is_some() {
            return Err(LiveError::Scope(
                "--pid and --cgroup cannot be combined (the cgroup filter is system-wide)".into(),
            ));
        }
        if let Some(pid) = scope.pid
            && !procfs::exists(pid)
        {
            return Err(LiveError::NoSuchPid(pid));
        }
        let cgroup = match &scope.cgroup {
            Some(p) => Some(filter::resolve_cgroup(p)?),
            None => None,
        };
        let mut probes = Probes::load(
            &tracefs,
            ProbeOptions {
                follow_all: scope.pid.is_none(),
                faults: scope.faults,
                startup: scope.startup,
                children: scope.children,
                cgroup,
                no_syscall_tracepoints: scope.no_syscall_tracepoints,
            },
        )?;
        if let Some(pid) = scope.pid {
            // With --children the tree that exists already is followed too, not only what
            // it spawns from now on.
            let pids = if scope.children {
                procfs::descendants(pid, &procfs::process_tree())
            } else {
                vec![pid]
            };
            for p in pids {
                probes.follow(p)?;
            }
        }
        for note in &probes.notes {
            eprintln!("spawnprof: note: {note}");
        }
        let ring = probes.take_events()?;
        let mut asm = crate::test_limits::TestLimits::from_env()
            .map_err(LoadError::from)?
            .assembler();
        asm.set_no_syscall_events(scope.no_syscall_tracepoints);
        Ok(Source {
            probes,
            col: Collector::new_async(ring, asm).map_err(LiveError::Runtime)?,
            filter: RecordFilter::new(scope.comm.as_deref(), scope.min_total_ns)
                .with_identity(scope.container.clone(), scope.pod.clone()),
            filtered: 0,
            filtered_spawns: 0,
            counters: [0; counter::COUNT as usize],
        })
    }

    /// Turns on the kernel's per-program hit and run-time counters (`--probe-stats`).
    pub fn enable_probe_stats(&mut self) -> Result<(), LiveError> {
        Ok(self.probes.enable_run_stats()?)
    }

    pub fn probe_costs(&self) -> Vec<spawn_analysis::report::probe_cost::ProbeCost> {
        self.probes.probe_costs()
    }

    /// Waits until the ring buffer has events (see [`Collector::readable`]).
    pub async fn readable(&mut self) -> Result<(), LiveError> {
        self.col.readable().await.map_err(LiveError::Runtime)
    }

    /// Records completed since the last call (filtered). Never blocks: callers wait with
    /// [`Pacer`], so that a busy host costs one wake-up per tick, not one per event.
    pub fn poll(&mut self) -> Vec<SpawnRecord> {
        self.probes.flush_log();
        let recs = self.col.poll(0);
        self.keep(recs)
    }

    /// Ends the kernel's spawn count before the final drain, so that the balance of
    /// spawns is exact however busy the host (see `Probes::stop_counting_spawns`).
    pub fn stop_counting_spawns(&mut self) {
        self.probes.stop_counting_spawns();
    }

    /// Everything still open, at the end (incomplete records say so in their notes).
    pub fn finish(&mut self) -> Vec<SpawnRecord> {
        let recs = self.col.finish();
        self.keep(recs)
    }

    fn keep(&mut self, mut recs: Vec<SpawnRecord>) -> Vec<SpawnRecord> {
        let before = recs.len();
        let spawns_before = recs.iter().filter(|r| r.ppid.is_some()).count();
        recs.retain(|r| self.filter.keep(r));
        self.filtered += (before - recs.len()) as u64;
        let spawns_after = recs.iter().filter(|r| r.ppid.is_some()).count();
        self.filtered_spawns += (spawns_before - spawns_after) as u64;
        recs
    }

    /// Reads the kernel-side counters and the collector's; a counter read failure keeps the
    /// last values (and is logged), it does not stop the recording.
    pub fn health(&mut self) -> Health {
        match self.probes.counters() {
            Ok(c) => self.counters = c,
            Err(e) => log::warn!("reading the probes' counters: {e}"),
        }
        let mut losses = spawn_analysis::losses::Losses::from_counters(&self.counters);
        self.col.add_losses(&mut losses);
        Health {
            lost_events: self.counters[counter::LOST_EVENTS as usize],
            untimed_faults: self.counters[counter::UNTIMED_FAULTS as usize],
            decode_errors: self.col.decode_errors(),
            assembler: self.col.assembler_stats(),
            open_records: self.col.open_records(),
            filtered: self.filtered,
            losses,
            spawn_records: self.col.spawn_records(),
            filtered_spawns: self.filtered_spawns,
        }
    }
}

/// Why [`Pacer::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The next tick.
    Tick,
    /// The ring buffer's fd was signalled (a record submitted with a wake-up).
    Events,
    /// The caller's own input future finished (`top`'s keys).
    Input,
    /// Ctrl-C or SIGTERM.
    Stop,
}

/// Paces a live loop (see the module doc): one wake-up per [`TICK`], or sooner for a stop,
/// the caller's input or a signalled ring buffer.
pub struct Pacer {
    next: Instant,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

impl Pacer {
    pub fn new() -> Self {
        Pacer {
            next: Instant::now() + TICK,
        }
    }

    /// Sleeps until the next tick, a stop, `input`, or a signalled ring buffer; the first of
    /// them in that order when several are ready. The caller then drains with
    /// [`Source::poll`] and checks its own timers ([`Every`]).
    pub async fn wait(
        &mut self,
        src: &mut Source,
        stop: &mut signals::Stop,
        input: impl Future<Output = ()>,
    ) -> Result<Wake, LiveError> {
        let wake = tokio::select! {
            biased;
            () = stop.wait() => Wake::Stop,
            () = input => Wake::Input,
            r = src.readable() => r.map(|()| Wake::Events)?,
            () = sleep_until(self.next) => Wake::Tick,
        };
        if wake == Wake::Tick {
            // After a long stall, do not try to catch up with a burst of ticks.
            self.next = (self.next + TICK).max(Instant::now());
        }
        Ok(wake)
    }
}

/// A deadline that fires once per `every`.
pub struct Every {
    every: Duration,
    next: Instant,
}

impl Every {
    pub fn new(every: Duration) -> Self {
        Every {
            every,
            next: Instant::now() + every,
        }
    }

    pub fn due(&mut self) -> bool {
        let now = Instant::now();
        if now < self.next {
            return false;
        }
        self.next += self.every;
        if self.next < now {
            self.next = now + self.every;
        }
        true
    }
}

/// The period of every live loop: short enough for a live view, long enough that the reader
/// wakes 10 times a second, not once per event.
pub const TICK: Duration = Duration::from_millis(100);
/// How often the top-N label sets are re-ranked.
pub const LABEL_EPOCH: Duration = Duration::from_secs(60);
