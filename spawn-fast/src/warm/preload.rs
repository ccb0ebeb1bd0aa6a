//! The preload library: built from `preload.c` by build.rs, embedded, and written once per
//! process to a private file that images get through `LD_PRELOAD`.
//!
//! The file lives in a directory only we can write (`$XDG_RUNTIME_DIR/spawn-fast` or
//! `/tmp/spawn-fast-<uid>`, mode 0700, checked to be ours and not a symlink), under a name that
//! carries a hash of its contents, so concurrent processes and different versions never clash.
//! It is written to a temporary name (O_EXCL), fsynced, closed and only then renamed into place:
//! no image maps it while any fd is open for writing. An existing file is used only if its
//! contents are exactly ours.

use super::WarmError;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static SO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libspawn_fast_warm.so"));

fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The path of the preload library, written on first use.
pub(crate) fn path() -> Result<&'static Path, WarmError> {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(|| install().map_err(|e| e.to_string()))
        .as_ref()
        .map(|p| p.as_path())
        .map_err(|e| WarmError::Preload(e.clone()))
}

fn private_dir() -> std::io::Result<PathBuf> {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d).join("spawn-fast"),
        _ => PathBuf::from(format!("/tmp/spawn-fast-{uid}")),
    };
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let md = fs::symlink_metadata(&dir)?;
    if !md.is_dir() || md.uid() != uid || md.permissions().mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not a private directory of uid {uid}",
            dir.display()
        )));
    }
    Ok(dir)
}

fn install() -> std::io::Result<PathBuf> {
    let dir = private_dir()?;
    let dst = dir.join(format!("libspawn_fast_warm-{:016x}.so", fnv64(SO)));
    if fs::read(&dst).is_ok_and(|have| have == SO) {
        return Ok(dst);
    }
    let mut tmp_name = OsString::from(format!(".tmp-{}-", std::process::id()));
    tmp_name.push(OsString::from_vec(
        format!("{:x}", crate::sys::monotonic_ns()).into_bytes(),
    ));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o500)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(SO)?;
        f.sync_all()
        // `f` is closed here, before the rename makes the file visible.
    })();
    let renamed = written.and_then(|()| fs::rename(&tmp, &dst));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed.map(|()| dst)
}

#[cfg(test)]
mod tests {
    #[test]
    fn installs_once_with_our_bytes() {
        let p = super::path().unwrap();
        assert_eq!(std::fs::read(p).unwrap(), super::SO);
        assert_eq!(super::path().unwrap(), p);
    }
}
