//! `cargo xtask setup`: checks what spawnprof needs and installs what can be installed. Every
//! check prints one line saying what it looked at and what it did, so a second run shows that
//! nothing was left to do.

use std::{path::Path, process::Command, time::Instant};

use anyhow::{Result, bail};

use crate::linker;
use crate::util::{self, report};

const BTF: &str = "/sys/kernel/btf/vmlinux";
const TRACEFS: &str = "/sys/kernel/tracing";

pub fn run(install_root: Option<&Path>) -> Result<()> {
    let start = Instant::now();
    // The fast prerequisites a user has to fix by hand come first and are all reported
    // together, so nobody waits for a bpf-linker build only to learn they are not root.
    let missing: Vec<String> = [check_root(), check_btf()]
        .into_iter()
        .filter_map(Result::err)
        .map(|err| format!("{err:#}"))
        .collect();
    if !missing.is_empty() {
        bail!("setup cannot continue:\n  - {}", missing.join("\n  - "));
    }
    ensure_rust_src()?;
    linker::ensure(install_root)?;
    ensure_tracefs()?;
    ensure_test_packages()?;
    println!("[ok] setup finished in {}", util::secs(start.elapsed()));
    Ok(())
}

fn check_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        report("missing", format!("root: running as euid {euid}"));
        bail!(
            "not running as root (euid {euid}): loading eBPF programs and mounting tracefs \
             need root; run it again with sudo, e.g. `sudo -E env PATH=\"$PATH\" cargo xtask setup`"
        );
    }
    report("ok", "running as root (euid 0)");
    Ok(())
}

fn check_btf() -> Result<()> {
    if !Path::new(BTF).is_file() {
        report("missing", format!("kernel BTF at {BTF}"));
        bail!(
            "{BTF} is missing: spawnprof needs a kernel built with CONFIG_DEBUG_INFO_BTF=y \
             (Linux >= 5.15; most distribution kernels have it)"
        );
    }
    report("ok", format!("kernel BTF at {BTF}"));
    Ok(())
}

fn ensure_rust_src() -> Result<()> {
    let step = "listing the nightly toolchain's components";
    let installed = util::output(
        step,
        Command::new("rustup").args(["component", "list", "--toolchain", "nightly", "--installed"]),
    )?;
    // Lines read like `rust-src` or `rustc-x86_64-unknown-linux-gnu`.
    if installed.lines().any(|line| line.trim() == "rust-src") {
        report("ok", "rust-src on nightly");
        return Ok(());
    }
    util::run(
        "installing rust-src for the nightly toolchain (needed by -Z build-std=core)",
        Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]),
    )?;
    report("done", "added rust-src to nightly");
    Ok(())
}

/// Debian packages the root tests run: (package, a file it installs, why).
const TEST_PACKAGES: [(&str, &str, &str); 2] = [
    (
        "prometheus",
        "/usr/bin/prometheus",
        "the serve test scrapes spawnprof with it; promtool checks the shipped alert rules",
    ),
    (
        "busybox-static",
        "/usr/bin/busybox",
        "the loss test needs a static shell that never reaches libc's start-up",
    ),
];

/// Installs the missing [`TEST_PACKAGES`] with one apt-get update and one install.
fn ensure_test_packages() -> Result<()> {
    let mut missing = Vec::new();
    for (package, file, why) in TEST_PACKAGES {
        if Path::new(file).exists() && dpkg_installed(package) {
            report("ok", format!("{package} installed ({file})"));
        } else {
            report("..", format!("{package} missing: {why}"));
            missing.push(package);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    util::run(
        "updating the apt package lists",
        Command::new("apt-get").arg("update"),
    )?;
    util::run(
        "installing the packages the root tests need",
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    report("done", format!("installed {}", missing.join(", ")));
    Ok(())
}

/// Whether dpkg has `package` installed (a dynamic busybox also installs /usr/bin/busybox).
fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn ensure_tracefs() -> Result<()> {
    let events = Path::new(TRACEFS).join("events");
    if events.is_dir() {
        report("ok", format!("tracefs mounted at {TRACEFS}"));
        return Ok(());
    }
    if !Path::new(TRACEFS).is_dir() {
        // sysfs creates this mount point when the kernel has tracefs; creating it ourselves
        // would fail on sysfs anyway, so say what is wrong instead.
        bail!(
            "{TRACEFS} does not exist: the kernel lacks tracefs (CONFIG_TRACING) or /sys is not \
             the host's sysfs (in a container, run it privileged with the host's /sys)"
        );
    }
    let mut mount = Command::new("mount");
    mount.args(["-t", "tracefs", "nodev", TRACEFS]);
    let out = mount.output();
    let detail = match &out {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(err) => Some(format!("could not start mount: {err}")),
    };
    if let Some(detail) = detail {
        bail!(
            "mounting tracefs failed (`{}`: {detail}); spawnprof reads tracepoint formats from \
             {TRACEFS}/events. Mount it by hand, or in a container grant CAP_SYS_ADMIN and \
             the host's /sys",
            util::describe(&mount)
        );
    }
    if !events.is_dir() {
        bail!(
            "mounted tracefs at {TRACEFS}, but {} is still missing",
            events.display()
        );
    }
    report("done", format!("mounted tracefs at {TRACEFS}"));
    Ok(())
}
