//! env.json: everything about the run that a reader needs to judge or repeat it.

use std::{fs, process::Command};

use serde::Serialize;
use serde_json::Value;

use super::Ctx;
use crate::util;

#[derive(Debug, Serialize)]
pub struct Env {
    pub experiment: String,
    pub quick: bool,
    pub command: String,
    pub date_utc: String,
    pub duration_s: f64,
    pub kernel: String,
    pub cpu_model: String,
    pub cores: usize,
    /// A hypervisor was announced by the CPU (cpuinfo flag): timings include VM exits.
    pub virtualized: bool,
    pub mem_total_bytes: u64,
    pub glibc: String,
    pub rustc: String,
    /// HEAD of the checkout (read from .git; uncommitted changes are not detected).
    pub commit: String,
    pub loadavg_before: [f64; 3],
    pub loadavg_after: [f64; 3],
    pub vm_max_map_count: Option<u64>,
    pub seed: u64,
    pub params: Value,
}

pub fn collect(ctx: &Ctx, params: Value, load_before: [f64; 3]) -> Env {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, v)| v.trim().to_string());
    let virtualized = hypervisor(&cpuinfo);
    let mem_total_bytes = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    Env {
        experiment: ctx.name.to_string(),
        quick: ctx.quick,
        command: ctx.rerun(),
        date_utc: output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        duration_s: ctx.elapsed_s(),
        kernel: fs::read_to_string("/proc/version")
            .map(|v| v.trim().to_string())
            .unwrap_or_default(),
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        virtualized,
        mem_total_bytes,
        glibc: glibc(),
        rustc: output("rustc", &["-V"]),
        commit: commit(),
        loadavg_before: load_before,
        loadavg_after: loadavg(),
        vm_max_map_count: fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|v| v.trim().parse().ok()),
        seed: ctx.seed,
        params,
    }
}

/// Whether the CPU announces a hypervisor (cpuinfo flag): timings include VM exits.
pub fn virtualized() -> bool {
    hypervisor(&fs::read_to_string("/proc/cpuinfo").unwrap_or_default())
}

fn hypervisor(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"))
}

/// The 1, 5 and 15 minute load averages (other work on a shared machine shows up here).
pub fn loadavg() -> [f64; 3] {
    let s = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut v = s.split_whitespace().map(|x| x.parse().unwrap_or(f64::NAN));
    [
        v.next().unwrap_or(f64::NAN),
        v.next().unwrap_or(f64::NAN),
        v.next().unwrap_or(f64::NAN),
    ]
}

fn output(program: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args);
    util::output(program, &mut cmd)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unknown ({e:#})"))
}

fn glibc() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    v.to_string_lossy().into_owned()
}

/// HEAD's commit, read from the files under .git (branch ref, then packed-refs).
fn commit() -> String {
    let git = util::repo_root().join(".git");
    let Ok(head) = fs::read_to_string(git.join("HEAD")) else {
        return "unknown (no .git)".into();
    };
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref: ") else {
        return head.to_string();
    };
    if let Ok(id) = fs::read_to_string(git.join(reference)) {
        return id.trim().to_string();
    }
    fs::read_to_string(git.join("packed-refs"))
        .ok()
        .and_then(|p| {
            p.lines()
                .find(|l| l.ends_with(reference))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_else(|| format!("unknown ({reference} has no commit yet)"))
}
