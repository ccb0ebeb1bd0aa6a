//! `cargo xtask demo`: the shortest path from a fresh checkout to a per-spawn table.

use std::{ffi::OsString, os::unix::process::ExitStatusExt as _, process::Command};

use anyhow::{Context as _, Result};

use crate::{setup, util};

/// Spawns /bin/true three times with each strategy, so the table compares them side by side.
const WORKLOAD: &[&str] = &[
    "workload",
    "--strategy",
    "fork,vfork,posix-spawn,clone3",
    "--count",
    "3",
    "--",
    "/bin/true",
];

/// Returns the traced command's exit code, which is what `spawnprof trace` exits with.
pub fn run(command: &[String]) -> Result<u8> {
    setup::run(None)?;
    util::run(
        "building spawnprof",
        util::cargo().args(["build", "--release", "--package", "spawn-user"]),
    )?;

    let spawnprof = util::target_dir().join("release").join("spawnprof");
    let traced: Vec<OsString> = if command.is_empty() {
        let mut default = vec![spawnprof.clone().into_os_string()];
        default.extend(WORKLOAD.iter().map(OsString::from));
        default
    } else {
        command.iter().map(OsString::from).collect()
    };
    let mut trace = Command::new(&spawnprof);
    trace.arg("trace").arg("--").args(traced);
    println!("==> {}", util::describe(&trace));
    let status = trace
        .status()
        .with_context(|| format!("demo: could not start `{}`", util::describe(&trace)))?;
    // Shells report death by signal N as 128+N; do the same so the code still means something.
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    Ok(u8::try_from(code).unwrap_or(1))
}
