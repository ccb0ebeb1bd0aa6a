//! Where this host's glibc lives, for the startup uprobes.
use std::{fs, path::PathBuf};

/// Where this host's glibc lives.
#[derive(Debug, Default)]
pub struct GlibcPaths {
    pub ld_so: Option<PathBuf>,
    pub libc: Option<PathBuf>,
}

/// The ld.so and libc.so.6 this (dynamically linked) analyzer itself runs with: the same files
/// every other glibc program on the host maps, which is what a uprobe attaches to.
pub fn glibc_paths() -> GlibcPaths {
    let maps = fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut out = GlibcPaths::default();
    for path in maps.lines().filter_map(|l| l.split_whitespace().nth(5)) {
        let name = path.rsplit('/').next().unwrap_or("");
        if name.starts_with("ld-linux") && out.ld_so.is_none() {
            out.ld_so = Some(PathBuf::from(path));
        } else if name == "libc.so.6" && out.libc.is_none() {
            out.libc = Some(PathBuf::from(path));
        }
    }
    out
}
