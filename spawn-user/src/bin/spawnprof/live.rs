//! `spawnprof record`, `top` and `serve`: the live modes over a whole host, a process tree or a
//! cgroup (`spawn_user::live`). Their arguments turn into each mode's options here.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use spawn_user::live::agg::GroupBy;
use spawn_user::live::record::{RecordOptions, format_for};
use spawn_user::live::serve::ServeOptions;
use spawn_user::live::term::TopOptions;
use spawn_user::live::{self, LiveError, Scope};

use crate::duration;

/// `spawnprof record`.
pub fn record(a: &RecordArgs) -> anyhow::Result<u8> {
    live::record::run(&a.options()?)?;
    Ok(0)
}

/// `spawnprof top`.
pub fn top(a: &TopArgs) -> anyhow::Result<u8> {
    live::term::run(&a.options())?;
    Ok(0)
}

/// `spawnprof serve`.
pub fn serve(a: &ServeArgs) -> anyhow::Result<u8> {
    live::serve::run(&a.options())?;
    Ok(0)
}

/// Which spawns to look at.
#[derive(clap::Args, Clone, Debug)]
pub struct ScopeArgs {
    /// The whole host.
    #[arg(short = 'a', long = "all", conflicts_with = "pid")]
    pub all: bool,
    /// The spawns of this process (its direct children).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// With --pid: its whole tree, the descendants that exist now and those to come.
    #[arg(long, requires = "pid")]
    pub children: bool,
    /// Only spawns made inside this cgroup v2 or below it (absolute, or relative to the
    /// cgroup2 mount); system-wide.
    #[arg(long, value_name = "PATH", conflicts_with = "pid")]
    pub cgroup: Option<PathBuf>,
    /// Only spawns whose child or parent has this comm (the kernel's 15-byte name).
    #[arg(long, value_name = "NAME")]
    pub comm: Option<String>,
    /// Only spawns that took at least this long from clone to reap (e.g. 5ms); spawns whose
    /// total is unknown are left out.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub min_total: Option<Duration>,
    /// Only spawns in this container: its id (or a prefix of 4+ characters) or, for systemd,
    /// the unit name; from the cgroup the kernel reported for the child.
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// Only spawns in containers of this Kubernetes pod (its uid).
    #[arg(long, value_name = "UID")]
    pub pod: Option<String>,
    /// Do not record page faults (less overhead on fault-heavy hosts).
    #[arg(long)]
    pub no_faults: bool,
    /// Measure the `startup` phase (ld.so and libc init) with uprobes. Off by default here:
    /// uprobes fire for every dynamically linked program the host starts, ~15 µs per hit and
    /// 3 hits per exec on the VMs this was measured on (see reports/overhead).
    #[arg(long)]
    pub startup: bool,
    /// Attach no syscall tracepoint (clone, exec, exit_group, wait): tasks that never spawn
    /// pay nothing, at the price of every phase a syscall event bounds (copy, queue, setup,
    /// exec, startup, run, reap are then absent, never guessed; see the README).
    #[arg(long)]
    pub no_syscall_tracepoints: bool,
}

impl ScopeArgs {
    pub fn scope(&self) -> Scope {
        Scope {
            all: self.all || self.pid.is_none(),
            pid: self.pid,
            children: self.children,
            cgroup: self.cgroup.clone(),
            comm: self.comm.clone(),
            container: self.container.clone(),
            pod: self.pod.clone(),
            min_total_ns: self
                .min_total
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            faults: !self.no_faults,
            startup: self.startup,
            no_syscall_tracepoints: self.no_syscall_tracepoints,
        }
    }
}

/// `spawnprof record`.
#[derive(clap::Args, Clone, Debug)]
pub struct RecordArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Write records to this file: CSV when it ends in .csv, JSON lines otherwise
    /// (default: JSON lines on stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// CSV instead of JSON lines.
    #[arg(long)]
    pub csv: bool,
    /// Stop after this long (e.g. 10m); otherwise Ctrl-C or SIGTERM.
    #[arg(long, value_parser = duration)]
    pub duration: Option<Duration>,
    /// Print a summary line on stderr this often (e.g. 10s).
    #[arg(long, value_parser = duration)]
    pub interval: Option<Duration>,
    /// At the end, report each probe's hits and BPF run time as the kernel counts them (BPF
    /// run-time statistics, on while recording; each hit then pays two extra clock reads).
    #[arg(long)]
    pub probe_stats: bool,
}

impl RecordArgs {
    pub fn options(&self) -> Result<RecordOptions, LiveError> {
        if !self.scope.all && self.scope.pid.is_none() && self.scope.cgroup.is_none() {
            return Err(LiveError::Scope(
                "record needs a scope: -a (whole host), --pid PID [--children] or --cgroup PATH"
                    .into(),
            ));
        }
        Ok(RecordOptions {
            scope: self.scope.scope(),
            format: format_for(self.output.as_deref(), self.csv),
            output: self.output.clone(),
            duration: self.duration,
            interval: self.interval,
            probe_stats: self.probe_stats,
        })
    }
}

/// `spawnprof top`.
#[derive(clap::Args, Clone, Debug)]
pub struct TopArgs {
    /// Whole host unless --pid or --cgroup narrow it.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Group by: parent (who spawns), program (what is exec'd), cgroup (the parent's),
    /// container (the child's, from the kernel-captured cgroup) or pod (its Kubernetes pod).
    #[arg(long, default_value = "parent", value_parser = ["parent", "program", "cgroup", "container", "pod"])]
    pub by: String,
    /// Stop after this many refreshes (one per second).
    #[arg(long, value_name = "N")]
    pub iterations: Option<u64>,
}

impl TopArgs {
    pub fn options(&self) -> TopOptions {
        TopOptions {
            scope: self.scope.scope(),
            group_by: match self.by.as_str() {
                "program" => GroupBy::Program,
                "cgroup" => GroupBy::Cgroup,
                "container" => GroupBy::Container,
                "pod" => GroupBy::Pod,
                _ => GroupBy::Parent,
            },
            iterations: self.iterations,
        }
    }
}

/// `spawnprof serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Whole host unless --pid or --cgroup narrow it.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Address of the /metrics endpoint; loopback by default.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// Programs that get their own `program` label (the rest are "other").
    #[arg(long, default_value_t = 20)]
    pub top_programs: usize,
    /// Containers that get their own series (runtime, container_id, pod_uid labels); the
    /// rest are summed as container_id="other".
    #[arg(long, default_value_t = live::container_metrics::DEFAULT_TOP)]
    pub top_containers: usize,
    /// A fork from a parent with more resident memory than this (e.g. 512M, 2G) counts in
    /// spawnprof_container_big_parent_forks_total.
    #[arg(long, default_value = "1G", value_parser = spawn_bench::parse_size)]
    pub big_parent: usize,
}

impl ServeArgs {
    pub fn options(&self) -> ServeOptions {
        ServeOptions {
            scope: self.scope.scope(),
            listen: self.listen,
            top_programs: self.top_programs,
            top_containers: self.top_containers,
            big_parent_bytes: self.big_parent as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        r: RecordArgs,
    }

    #[test]
    fn record_args_to_options() {
        let t = T::try_parse_from([
            "x",
            "--pid",
            "7",
            "--children",
            "--min-total",
            "5ms",
            "-o",
            "a.csv",
        ])
        .expect("parses");
        let o = t.r.options().expect("a scope");
        assert_eq!(o.scope.pid, Some(7));
        assert!(o.scope.children && !o.scope.all);
        assert_eq!(o.scope.min_total_ns, Some(5_000_000));
        assert_eq!(o.format, spawn_analysis::report::Format::Csv);
        let t = T::try_parse_from(["x"]).expect("parses");
        assert!(t.r.options().is_err(), "no scope is an error");
        assert!(T::try_parse_from(["x", "--children"]).is_err());
        assert!(T::try_parse_from(["x", "-a", "--pid", "3"]).is_err());
        assert!(T::try_parse_from(["x", "-a", "--interval", "soon"]).is_err());
    }
}
