//! What the host must offer before any probe is loaded, each missing piece named on one line.
use std::path::Path;

use crate::tracefs::{Tracefs, TracefsError};

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("spawnprof must run as root (it loads eBPF programs): run it with sudo")]
    NotRoot,
    #[error(
        "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): spawnprof needs Linux >= 5.15 \
         built with CONFIG_DEBUG_INFO_BTF=y"
    )]
    NoBtf,
    #[error("tracefs unavailable: {0}")]
    Tracefs(String),
}

/// Root, BTF, tracefs (mounted here when it is not, as `cargo xtask setup` does).
pub fn check() -> Result<Tracefs, PreflightError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(PreflightError::NotRoot);
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(PreflightError::NoBtf);
    }
    match Tracefs::find() {
        Ok(t) => Ok(t),
        Err(TracefsError::NotMounted) => {
            mount_tracefs()?;
            Tracefs::find().map_err(|e| PreflightError::Tracefs(e.to_string()))
        }
        Err(e) => Err(PreflightError::Tracefs(e.to_string())),
    }
}

fn mount_tracefs() -> Result<(), PreflightError> {
    let target = c"/sys/kernel/tracing";
    // SAFETY: all pointers are NUL-terminated static strings; mount(2) does not keep them.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(PreflightError::Tracefs(format!(
            "not mounted, and mounting it at /sys/kernel/tracing failed: {}",
            std::io::Error::last_os_error()
        )))
    }
}
