//! Loads and attaches the probes. The only part of the analyzer that talks to the kernel's BPF
//! interface; everything downstream works on decoded events.

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, CgroupArray, HashMap, MapData, PerCpuArray, RingBuf},
    programs::{
        PerfEvent, TracePoint, UProbe,
        perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent},
        uprobe::UProbeScope,
    },
    util::online_cpus,
};
use spawn_common::{Config, cgroup_check, counter, maps};

pub use crate::glibc::{GlibcPaths, glibc_paths};
use crate::tracefs::{Tracefs, TracefsError};

/// The kernel's BTF, for the struct offsets of the fd-path walk.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

static PROBES: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/spawn"));

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("this spawnprof was built without its eBPF probes (AYA_BUILD_SKIP was set)")]
    NoProbes,
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error("loading the eBPF probes: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("{0}: no way to attach it on this kernel")]
    NoWay(String),
    #[error("--cgroup: opening cgroup {0} for the in-kernel filter: {1}")]
    CgroupDir(u64, String),
    #[error("attaching {what}: {source}")]
    Attach {
        what: String,
        source: aya::programs::ProgramError,
    },
    #[error("eBPF map {0}: {1}")]
    Map(&'static str, aya::maps::MapError),
    #[error("eBPF map {0} is missing from the probes")]
    MissingMap(&'static str),
    #[error("listing online CPUs: {0}")]
    Cpus(String),
    #[error("enabling BPF run-time statistics (BPF_ENABLE_STATS, Linux 5.8): {0}")]
    Stats(aya::sys::SyscallError),
    #[error(transparent)]
    TestLimits(#[from] crate::test_limits::TestLimitsError),
}

/// What to trace.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Every process on the host instead of the followed tree.
    pub follow_all: bool,
    /// Page faults (tracepoint + per-CPU perf events).
    pub faults: bool,
    /// Startup marks (uprobes in ld.so and libc).
    pub startup: bool,
    /// Follow descendants of the followed processes (not only their direct children).
    pub children: bool,
    /// Only tasks inside this cgroup v2 (and its descendants), system-wide mode.
    pub cgroup: Option<CgroupFilter>,
    /// Attach no syscall tracepoint at all (`--no-syscall-tracepoints`): while any is
    /// enabled, every task on the host takes the syscall slow path. The phases only syscall
    /// events bound are then absent from the records.
    pub no_syscall_tracepoints: bool,
}

/// What `--no-syscall-tracepoints` still delivers and what it cannot measure (README "How it
/// works" has the table per mode).
pub const NO_SYSCALL_PHASES: &str = "no tax on other tasks' syscalls; measured: spawn \
     creation (task_newtask, fork, wakeup), exec sub-phases exec_teardown and exec_load, \
     exit, page faults; absent (null, never guessed): prep, copy, queue, setup, exec, \
     exec_open, exec_finish, startup, run, reap, exit codes, failed execs, exec file names";

/// What the default mode costs tasks that never spawn, for "probes used" (measured on a
/// 6.18 VM with a getppid loop; README "What tracing costs").
pub const SYSCALL_TAX_NOTE: &str = "while they are attached every task on the host takes the \
     syscall slow path (a getppid loop: 66 -> 77 ns/call here); --no-syscall-tracepoints \
     avoids that tax and gives up the phases only syscall events bound";

/// A cgroup v2 as the kernel names it: its id (the directory's inode) and its depth below the
/// cgroup2 root, with the directory they were read from (see `live::filter::resolve_cgroup`,
/// which finds all three from a path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFilter {
    pub id: u64,
    pub level: u32,
    /// Opened for the cgroup-array fallback on kernels without the ancestor-id helper.
    pub dir: std::path::PathBuf,
}

/// Tracepoints: (program, category, name, required). Optional ones are off, with a note, on
/// kernels that lack them. Marks with several ways to reach them (the syscall events among
/// them: fentry/fexit first, syscall tracepoints last) are in `attach::MARKS`.
const TRACEPOINTS: &[(&str, &str, &str, bool)] = &[
    ("task_newtask", "task", "task_newtask", true),
    ("sched_process_fork", "sched", "sched_process_fork", true),
    ("sched_wakeup_new", "sched", "sched_wakeup_new", true),
    ("sched_process_exit", "sched", "sched_process_exit", true),
];

/// Loaded, attached probes. Dropping this detaches everything.
pub struct Probes {
    ebpf: Ebpf,
    /// Holds BPF run-time statistics on while open (`--probe-stats`); the kernel turns them
    /// off again when the last such fd closes, so a crash cannot leave them on.
    run_stats: Option<std::os::fd::OwnedFd>,
    logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
    /// What was attached and what was not, for the report ("facilities used").
    pub notes: Vec<String>,
}

impl Probes {
    pub fn load(tracefs: &Tracefs, opts: ProbeOptions) -> Result<Self, LoadError> {
        if PROBES.is_empty() {
            return Err(LoadError::NoProbes);
        }
        // --cgroup: the ancestor-id helper where tracing programs have it (5.16+), else the
        // cgroup directory in a cgroup array (4.9+); the same subtree either way.
        let mut notes = Vec::new();
        let mut cgroup_dir = None;
        let mut check = cgroup_check::ANCESTOR_ID;
        if let Some(c) = &opts.cgroup {
            match crate::attach::cgroup_ancestor_helper() {
                Ok(()) => notes.push("cgroup filter: bpf_get_current_ancestor_cgroup_id".into()),
                Err(why) => {
                    cgroup_dir = Some(open_cgroup_dir(c)?);
                    check = cgroup_check::TASK_UNDER_CGROUP;
                    notes.push(format!(
                        "cgroup filter: bpf_current_task_under_cgroup on a cgroup array \
                         (bpf_get_current_ancestor_cgroup_id: {why})"
                    ));
                }
            }
        }
        let layout = tracefs.layout()?;
        // Inside a pid namespace of its own spawnprof knows only pids of that namespace; the
        // probes translate them (see Config::pidns_ino).
        let pidns = crate::container::pidns::own_pid_ns();
        let config = Config {
            pidns_dev: pidns.map_or(0, |n| n.dev),
            pidns_ino: pidns.map_or(0, |n| n.ino),
            ns_follow: u32::from(pidns.is_some() && !opts.follow_all),
            _pad2: 0,
            follow_all: opts.follow_all as u32,
            self_tgid: std::process::id(),
            faults: opts.faults as u32,
            children: opts.children as u32,
            cgroup_id: opts.cgroup.as_ref().map_or(0, |c| c.id),
            cgroup_level: opts.cgroup.as_ref().map_or(0, |c| c.level),
            _pad: 0,
        };
        let koffsets = match crate::kernel_btf::kernel_offsets(std::path::Path::new(VMLINUX_BTF)) {
            Ok(k) => k,
            Err(e) => {
                notes.push(format!(
                    "fd exec names (fexecve): read from /proc, which misses short-lived processes ({e})"
                ));
                spawn_common::KernelOffsets::ABSENT
            }
        };
        let nsoffsets = match crate::kernel_btf::pidns_offsets(std::path::Path::new(VMLINUX_BTF)) {
            Ok(k) => k,
            Err(e) => {
                notes.push(format!(
                    "ns_pid/pid_ns not recorded: no pid-namespace offsets in the kernel BTF ({e})"
                ));
                spawn_common::PidNsOffsets::ABSENT
            }
        };
        if let Some(ns) = pidns {
            notes.push(format!(
                "spawnprof runs in pid namespace {}: --pid and self-exclusion are translated in the kernel",
                ns.ino
            ));
        }
        let limits = crate::test_limits::TestLimits::from_env()?;
        let mut loader = EbpfLoader::new();
        loader
            .override_global("LAYOUT", &layout, true)
            .override_global("CONFIG", &config, true)
            .override_global("KOFFSETS", &koffsets, true)
            .override_global("NSOFFSETS", &nsoffsets, true)
            .override_global(cgroup_check::GLOBAL, &check, true);
        // Tests shrink maps to force each kind of loss (see `test_limits`).
        for (name, n) in &limits.maps {
            loader.map_max_entries(name, *n);
        }
        let mut ebpf = loader.load(PROBES)?;
        if let Some(dir) = cgroup_dir {
            // Before any program is attached: an empty slot would read as "outside".
            let mut arr: CgroupArray<&mut MapData> = ebpf
                .map_mut(maps::CGROUP)
                .ok_or(LoadError::MissingMap(maps::CGROUP))?
                .try_into()
                .map_err(|e| LoadError::Map(maps::CGROUP, e))?;
            // The map holds its own reference to the cgroup; the fd can close after this.
            arr.set(0, std::os::fd::AsFd::as_fd(&dir), 0)
                .map_err(|e| LoadError::Map(maps::CGROUP, e))?;
        }
        // The logger owns the log map: it must live (and be polled) as long as the programs.
        let logger = aya_log::EbpfLogger::init(&mut ebpf).ok();
        let mut probes = Self {
            ebpf,
            run_stats: None,
            logger,
            notes,
        };
        probes.attach_tracepoints(tracefs)?;
        probes.attach_marks(tracefs, opts.no_syscall_tracepoints)?;
        if opts.faults {
            probes.attach_faults(tracefs)?;
        }
        if opts.startup {
            probes.attach_startup();
        } else {
            probes.notes.push(
                "startup phase not measured: the ld.so/libc uprobes were not asked for (they \
                 cost three uprobe hits for every dynamically linked exec on the host)"
                    .into(),
            );
        }
        Ok(probes)
    }

    fn attach_tracepoints(&mut self, tracefs: &Tracefs) -> Result<(), LoadError> {
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for &(prog, cat, name, required) in TRACEPOINTS {
            if !required && !tracefs.exists(cat, name) {
                off.push(format!("{cat}:{name}"));
                continue;
            }
            self.tracepoint(prog, cat, name)?;
            on.push(format!("{cat}:{name}"));
        }
        self.notes.push(format!("tracepoints: {}", on.join(", ")));
        if !off.is_empty() {
            self.notes.push(format!(
                "not on this kernel, sub-phases off: {}",
                off.join(", ")
            ));
        }
        Ok(())
    }

    /// Stops the kernel's spawn count (and the creation of new records) by detaching
    /// `task_newtask`, so that the final drain sees every record of every counted spawn and
    /// `records + losses = spawns` can be checked while the host keeps spawning.
    pub fn stop_counting_spawns(&mut self) {
        if let Some(p) = self.ebpf.program_mut("task_newtask")
            && let Ok(p) = <&mut TracePoint>::try_from(p)
            && let Err(e) = p.unload()
        {
            log::warn!("detaching task_newtask: {e}");
        }
    }

    /// The marks that have fallbacks: the first way that loads and attaches is kept, and the
    /// report says which one and why the better ones did not work, and whether any syscall
    /// tracepoint (the host-wide tax) is in use.
    fn attach_marks(&mut self, tracefs: &Tracefs, no_syscalls: bool) -> Result<(), LoadError> {
        let done = crate::attach::attach_all(&mut self.ebpf, tracefs, no_syscalls)
            .map_err(LoadError::NoWay)?;
        self.notes.extend(done.notes);
        let n = done.syscall_tracepoints.len();
        self.notes
            .push(match (n, no_syscalls, done.off.is_empty()) {
                (0, _, true) => "syscall tracepoints: none (clone, exec, exit_group and wait from \
                 fentry/fexit on kernel functions): tasks that never spawn pay nothing"
                    .to_string(),
                (0, _, false) => format!(
                    "syscall tracepoints: none (--no-syscall-tracepoints; off: {}): \
                 {NO_SYSCALL_PHASES}",
                    done.off.join(", ")
                ),
                _ => format!(
                    "syscall tracepoints: {n} enabled ({}): {SYSCALL_TAX_NOTE}",
                    done.syscall_tracepoints.join(", ")
                ),
            });
        Ok(())
    }

    fn tracepoint(&mut self, prog: &str, cat: &str, name: &str) -> Result<(), LoadError> {
        let attach_err = |source| LoadError::Attach {
            what: format!("tracepoint {cat}:{name}"),
            source,
        };
        let p: &mut TracePoint = self
            .ebpf
            .program_mut(prog)
            .ok_or_else(|| attach_err(aya::programs::ProgramError::NotLoaded))?
            .try_into()
            .map_err(attach_err)?;
        p.load().map_err(attach_err)?;
        p.attach(cat, name).map_err(attach_err)?;
        Ok(())
    }

    fn attach_faults(&mut self, tracefs: &Tracefs) -> Result<(), LoadError> {
        if !tracefs.exists("exceptions", "page_fault_user") {
            self.notes
                .push("exceptions:page_fault_user missing: page faults not recorded".into());
            return Ok(());
        }
        self.tracepoint("page_fault_user", "exceptions", "page_fault_user")?;
        let cpus = online_cpus().map_err(|(what, e)| LoadError::Cpus(format!("{what}: {e}")))?;
        for (prog, event) in [
            ("fault_exit_minor", SoftwareEvent::PageFaultsMin),
            ("fault_exit_major", SoftwareEvent::PageFaultsMaj),
        ] {
            let attach_err = |source| LoadError::Attach {
                what: format!("perf event {event:?}"),
                source,
            };
            let p: &mut PerfEvent = self
                .ebpf
                .program_mut(prog)
                .ok_or_else(|| attach_err(aya::programs::ProgramError::NotLoaded))?
                .try_into()
                .map_err(attach_err)?;
            p.load().map_err(attach_err)?;
            for &cpu in &cpus {
                p.attach(
                    PerfEventConfig::Software(event),
                    PerfEventScope::AllProcessesOneCpu { cpu },
                    SamplePolicy::Period(1),
                    false,
                )
                .map_err(attach_err)?;
            }
        }
        self.notes.push(format!(
            "page faults: page_fault_user tracepoint + software perf events on {} CPUs",
            cpus.len()
        ));
        Ok(())
    }

    /// Startup marks are a bonus: a host without glibc still traces spawns, and says so.
    fn attach_startup(&mut self) {
        let libs = glibc_paths();
        let targets = [
            ("dl_debug_state", "_dl_debug_state", libs.ld_so.clone()),
            ("libc_start_main", "__libc_start_main", libs.libc.clone()),
        ];
        for (prog, symbol, path) in targets {
            let Some(path) = path else {
                self.notes.push(format!(
                    "startup marks off: no glibc library with {symbol} found"
                ));
                continue;
            };
            let res = (|| -> Result<(), aya::programs::ProgramError> {
                let p: &mut UProbe = self
                    .ebpf
                    .program_mut(prog)
                    .ok_or(aya::programs::ProgramError::NotLoaded)?
                    .try_into()?;
                p.load()?;
                p.attach(symbol, &path, UProbeScope::AllProcesses)?;
                Ok(())
            })();
            match res {
                Ok(()) => self.notes.push(format!(
                    "startup mark: uprobe {symbol} in {}",
                    path.display()
                )),
                Err(e) => self.notes.push(format!("startup mark {symbol} off: {e}")),
            }
        }
    }

    /// Attach the `prep` marks to spawn-fast's `spawn_fast_mark_enter` and
    /// `spawn_fast_mark_return` in `binary`, when that binary links spawn-fast (the traced
    /// command, for instance). Returns whether it did.
    pub fn attach_prep_mark(&mut self, binary: &std::path::Path) -> bool {
        let mut attach = |prog: &str, symbol: &str| -> Result<(), aya::programs::ProgramError> {
            let p: &mut UProbe = self
                .ebpf
                .program_mut(prog)
                .ok_or(aya::programs::ProgramError::NotLoaded)?
                .try_into()?;
            if p.fd().is_err() {
                p.load()?;
            }
            p.attach(symbol, binary, UProbeScope::AllProcesses)?;
            Ok(())
        };
        let res = attach("spawn_enter", "spawn_fast_mark_enter")
            .and_then(|()| attach("spawn_return", "spawn_fast_mark_return"));
        match res {
            Ok(()) => {
                self.notes.push(format!(
                    "prep marks: uprobes spawn_fast_mark_enter/return in {}",
                    binary.display()
                ));
                true
            }
            Err(e) => {
                log::debug!("no prep mark in {}: {e}", binary.display());
                false
            }
        }
    }

    /// Follow the children of this thread of ours (the one that spawns the traced command).
    pub fn watch_thread(&mut self, tid: u32) -> Result<(), LoadError> {
        let mut watch: Array<&mut MapData, u32> = self
            .ebpf
            .map_mut("WATCH")
            .ok_or(LoadError::MissingMap("WATCH"))?
            .try_into()
            .map_err(|e| LoadError::Map("WATCH", e))?;
        watch.set(0, tid, 0).map_err(|e| LoadError::Map("WATCH", e))
    }

    /// Follow an existing process (and, from then on, its descendants). Inside a pid
    /// namespace of its own, `pid` is a pid of that namespace: the probes find its host pid.
    pub fn follow(&mut self, pid: u32) -> Result<(), LoadError> {
        if crate::container::pidns::own_pid_ns().is_some() {
            let mut ns: HashMap<&mut MapData, u32, u32> = self
                .ebpf
                .map_mut(maps::NS_FOLLOW)
                .ok_or(LoadError::MissingMap(maps::NS_FOLLOW))?
                .try_into()
                .map_err(|e| LoadError::Map(maps::NS_FOLLOW, e))?;
            return ns
                .insert(pid, 1, 0)
                .map_err(|e| LoadError::Map(maps::NS_FOLLOW, e));
        }
        let mut followed: HashMap<&mut MapData, u32, u32> = self
            .ebpf
            .map_mut(maps::FOLLOWED)
            .ok_or(LoadError::MissingMap(maps::FOLLOWED))?
            .try_into()
            .map_err(|e| LoadError::Map(maps::FOLLOWED, e))?;
        followed
            .insert(pid, 1, 0)
            .map_err(|e| LoadError::Map(maps::FOLLOWED, e))
    }

    /// The event ring buffer; call once.
    pub fn take_events(&mut self) -> Result<RingBuf<MapData>, LoadError> {
        let map = self
            .ebpf
            .take_map(maps::EVENTS)
            .ok_or(LoadError::MissingMap(maps::EVENTS))?;
        RingBuf::try_from(map).map_err(|e| LoadError::Map(maps::EVENTS, e))
    }

    /// Kernel-side counters summed over CPUs, indexed by `spawn_common::counter`.
    pub fn counters(&self) -> Result<[u64; counter::COUNT as usize], LoadError> {
        let map = self
            .ebpf
            .map(maps::COUNTERS)
            .ok_or(LoadError::MissingMap(maps::COUNTERS))?;
        let arr: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(map).map_err(|e| LoadError::Map(maps::COUNTERS, e))?;
        let mut out = [0u64; counter::COUNT as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            let vals = arr
                .get(&(i as u32), 0)
                .map_err(|e| LoadError::Map(maps::COUNTERS, e))?;
            *slot = vals.iter().sum();
        }
        Ok(out)
    }

    /// Starts counting hits and BPF run time per program (from now on, for every program on
    /// the host; each hit then pays two extra clock reads).
    pub fn enable_run_stats(&mut self) -> Result<(), LoadError> {
        let fd = aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(LoadError::Stats)?;
        self.run_stats = Some(fd);
        Ok(())
    }

    /// Hits and BPF run time of each of our programs since load (non-zero only while run-time
    /// statistics are on).
    pub fn probe_costs(&self) -> Vec<spawn_analysis::report::probe_cost::ProbeCost> {
        self.ebpf
            .programs()
            .filter_map(|(name, prog)| {
                let info = prog.info().ok()?;
                Some(spawn_analysis::report::probe_cost::ProbeCost {
                    program: name.to_string(),
                    hits: info.run_count(),
                    run_ns: info.run_time().as_nanos() as u64,
                })
            })
            .collect()
    }

    /// Print what the probes logged (aya-log), if anything.
    pub fn flush_log(&mut self) {
        if let Some(l) = self.logger.as_mut() {
            l.flush();
        }
    }
}

/// The directory of the cgroup `c` names, opened for the cgroup array. Its inode must still be
/// the id the probes filter on (a cgroup removed and re-created between is refused).
fn open_cgroup_dir(c: &CgroupFilter) -> Result<std::fs::File, LoadError> {
    use std::os::unix::fs::MetadataExt;
    let err = |why: String| LoadError::CgroupDir(c.id, why);
    let f = std::fs::File::open(&c.dir).map_err(|e| err(format!("{}: {e}", c.dir.display())))?;
    let ino = f.metadata().map_err(|e| err(e.to_string()))?.ino();
    if ino != c.id {
        return Err(err(format!("{} is now cgroup {ino}", c.dir.display())));
    }
    Ok(f)
}
