//! Background load for `cargo xtask test --under-load`: a busy loop and a spawn loop, the load
//! that exposed the races a quiet machine hides (pids recycled fast, children forked while
//! tests write files, tests starved of CPU).

use std::{
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
};

use anyhow::{Context as _, Result};

/// The loops, each a shell in its own process group; dropping this kills both groups.
pub struct Load {
    loops: Vec<Child>,
}

/// (name, shell script) of each loop.
const LOOPS: [(&str, &str); 2] = [
    ("busy loop", "while :; do :; done"),
    ("spawn loop", "while :; do /bin/true; done"),
];

impl Load {
    pub fn start() -> Result<Self> {
        let mut load = Load { loops: Vec::new() };
        for (name, script) in LOOPS {
            let child = Command::new("sh")
                .args(["-c", script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own group: Ctrl-C on the test run must not skip our cleanup, and the
                // kill below reaches the loop's current /bin/true too.
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting the {name}"))?;
            println!(
                "[load] {name} running as process group {}: {script}",
                child.id()
            );
            load.loops.push(child);
        }
        Ok(load)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.loops {
            // SAFETY: kill(2) on the process group of a child we started and have not reaped,
            // so the group id cannot have been reused.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loops run while the guard lives and are gone (reaped, group killed) after it.
    #[test]
    fn loops_run_and_die_with_the_guard() {
        let load = Load::start().unwrap();
        let pids: Vec<i32> = load.loops.iter().map(|c| c.id() as i32).collect();
        for &pid in &pids {
            // SAFETY: signal 0 only checks that the group exists.
            assert_eq!(unsafe { libc::kill(-pid, 0) }, 0, "group {pid} not running");
        }
        drop(load);
        // The shells are reaped by the guard; a /bin/true killed with them dies a moment later
        // and stays a zombie until whoever adopts it reaps it, so look for live members only
        // (the deadline only turns a leak into a failure).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        for &pid in &pids {
            while live_members(pid) > 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "group {pid} outlived the guard"
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }

    /// Processes of group `pgid` that are not zombies, from /proc/PID/stat (state is the
    /// field after the parenthesised comm, the group id the third after it).
    fn live_members(pgid: i32) -> usize {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return 0;
        };
        dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .filter(|stat| {
                let Some((_, rest)) = stat.rsplit_once(')') else {
                    return false;
                };
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string()
            })
            .count()
    }
}
