//! Booting a kernel under qemu with virtme-ng (the host's root shared read-only, one writable
//! dir) and running a script inside, with a hard timeout.
//!
//! vng's exit code says nothing about the script (without virtio-serial script ports it falls
//! back to the console and exits 255 either way), and the console mixes the script's output
//! with kernel lines, so the script writes what the host needs into the writable dir.

use std::{
    fs::{self, File},
    os::unix::process::CommandExt as _,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

use crate::util::{self, report};

/// How the guest is accelerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "KVM",
            Accel::Tcg => "TCG",
        }
    }
}

/// The vng command line that boots `vmlinuz` and runs `script` (a shell command) inside.
pub fn vng(vmlinuz: &Path, rwdir: &Path, accel: Accel, script: &str) -> Command {
    let mut cmd = Command::new("vng");
    cmd.arg("-r").arg(vmlinuz);
    cmd.args([
        "--user",
        "root",
        "--verbose",
        "--cpus",
        "2",
        "--memory",
        "2G",
    ]);
    // Without this vng first tries the virtiofsd that Debian's qemu ships, which rejects
    // vng's arguments; it falls back to 9p anyway, ~4 s later.
    cmd.arg("--force-9p");
    if accel == Accel::Tcg {
        cmd.arg("--disable-kvm");
    }
    cmd.arg("--rwdir").arg(rwdir);
    cmd.arg("--").arg(script);
    cmd
}

/// Runs `cmd` with stdout and stderr into `log`; `None` when it was killed at `timeout`. The
/// command gets its own process group so that the kill reaches qemu, not only vng.
pub fn run_logged(cmd: &mut Command, log: &Path, timeout: Duration) -> Result<Option<i32>> {
    let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting `{}`", util::describe(cmd)))?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status.code().unwrap_or(-1)));
        }
        if start.elapsed() >= timeout {
            // SAFETY: kill has no memory preconditions; the group is the one spawned above.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// KVM if `/dev/kvm` exists and a trivial boot with it finishes quickly, else TCG. Nested KVM
/// hangs or asserts in qemu on some hosts, so the verdict is cached per host kernel release
/// and only a boot that really ran the script counts.
pub fn choose_accel(vmlinuz: &Path, work: &Path, cache: &Path, force_tcg: bool) -> Result<Accel> {
    if force_tcg {
        report("ok", "TCG (asked for with --tcg)");
        return Ok(Accel::Tcg);
    }
    if !Path::new("/dev/kvm").exists() {
        report(
            "skip",
            "KVM: no /dev/kvm; booting with TCG (slow, but correct)",
        );
        return Ok(Accel::Tcg);
    }
    let host = fs::read_to_string("/proc/sys/kernel/osrelease")?
        .trim()
        .to_owned();
    let verdict_file = cache.join("kvm-verdict.txt");
    if let Ok(text) = fs::read_to_string(&verdict_file) {
        let mut lines = text.lines();
        if lines.next() == Some(host.as_str()) {
            let verdict = lines.next().unwrap_or("");
            let why = lines.next().unwrap_or("");
            return Ok(announce(
                verdict == "kvm",
                &format!("{why} (cached for {host})"),
            ));
        }
    }
    let dir = work.join("kvm-probe");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let marker = dir.join("ran");
    let script = format!("touch {}", marker.display());
    let start = Instant::now();
    let mut cmd = vng(vmlinuz, &dir, Accel::Kvm, &script);
    let exit = run_logged(
        &mut cmd,
        &work.join("kvm-probe.log"),
        Duration::from_secs(60),
    )?;
    let works = marker.exists();
    let why = match (works, exit) {
        (true, _) => format!(
            "a test boot with KVM ran in {}",
            util::secs(start.elapsed())
        ),
        (false, None) => "a test boot with KVM hung for 60 s".to_owned(),
        (false, Some(_)) => {
            let log = fs::read_to_string(work.join("kvm-probe.log")).unwrap_or_default();
            let last = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            format!("a test boot with KVM failed: {}", last.trim())
        }
    };
    let verdict = if works { "kvm" } else { "tcg" };
    fs::write(&verdict_file, format!("{host}\n{verdict}\n{why}\n"))?;
    Ok(announce(works, &why))
}

fn announce(kvm: bool, why: &str) -> Accel {
    if kvm {
        report("ok", format!("KVM: {why}"));
        Accel::Kvm
    } else {
        report(
            "skip",
            format!("KVM: {why}; booting with TCG (slow, but correct)"),
        );
        Accel::Tcg
    }
}
