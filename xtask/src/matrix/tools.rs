//! What booting the matrix kernels needs on the host: qemu, kmod and busybox from apt (depmod
//! for the modules, modprobe inside the guest, busybox for virtme-ng's initramfs), virtme-ng from PyPI (Debian 12 does not package it).
//! Each is checked first and installed only when missing, like `cargo xtask setup` does.

use std::process::Command;

use anyhow::{Result, bail};

use crate::util::{self, report};

pub fn ensure() -> Result<()> {
    let missing_apt: Vec<&str> = [
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("depmod", "kmod"),
        ("modprobe", "kmod"),
        // virtme-ng loads the virtio and 9p modules from an initramfs it builds with busybox.
        ("busybox", "busybox-static"),
    ]
    .into_iter()
    .filter_map(|(bin, pkg)| match which::which(bin) {
        Ok(path) => {
            report("ok", format!("{bin} at {}", path.display()));
            None
        }
        Err(_) => Some(pkg),
    })
    .collect();
    if !missing_apt.is_empty() {
        let mut pkgs = missing_apt;
        pkgs.dedup();
        // The host's lists may be stale or absent on a fresh image; update once before
        // installing, as setup does for prometheus.
        util::run(
            "updating the apt package lists",
            Command::new("apt-get").arg("update"),
        )?;
        util::run(
            "installing what boots the matrix kernels",
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&pkgs)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        report("done", format!("installed {}", pkgs.join(" ")));
    }
    ensure_vng()
}

fn ensure_vng() -> Result<()> {
    if let Some(version) = vng_version() {
        report("ok", format!("virtme-ng found ({version})"));
        return Ok(());
    }
    util::run(
        "installing virtme-ng from PyPI",
        Command::new("python3").args(["-m", "pip", "install", "--quiet", "virtme-ng"]),
    )?;
    // pyenv puts new console scripts on PATH only through its shims; refresh them if pyenv is
    // what provides python3 here (a no-op elsewhere).
    if which::which("pyenv").is_ok() {
        let _ = Command::new("pyenv").arg("rehash").status();
    }
    match vng_version() {
        Some(version) => {
            report("done", format!("installed virtme-ng ({version})"));
            Ok(())
        }
        None => bail!(
            "installed virtme-ng with `python3 -m pip`, but `vng` is not on PATH; add the \
             directory pip puts scripts in (see `python3 -m pip show -f virtme-ng`)"
        ),
    }
}

fn vng_version() -> Option<String> {
    let out = Command::new("vng").arg("--version").output().ok()?;
    out.status.success().then(|| {
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().next().unwrap_or("").trim().to_owned()
    })
}
