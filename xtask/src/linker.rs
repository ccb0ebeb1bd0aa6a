//! bpf-linker, built against the nightly toolchain's own LLVM.
//!
//! The eBPF crate is compiled by nightly rustc, whose bitcode only the same LLVM major can
//! read, so bpf-linker must link the nightly's `libLLVM`. The toolchain ships it without the
//! plain `libLLVM.so` name that `-lLLVM` looks for, so we keep a lasting prefix directory of
//! symlinks to it (lasting because the built binary keeps an rpath to it) and point
//! `LLVM_PREFIX` there.

use std::{
    env, fs,
    io::ErrorKind,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
    time::UNIX_EPOCH,
};

use anyhow::{Context as _, Result, bail};

use crate::util::{self, report};

const VERSION: &str = "0.13.0";
/// Records which binary was built against which LLVM library, so a rerun can skip the build.
const MARKER: &str = "bpf-linker.built-against";

/// The nightly toolchain's LLVM: the linker script `libLLVM-<major>-rust-<ver>.so` and the
/// library `libLLVM.so.<major>.<minor>-rust-<ver>` it names.
struct NightlyLlvm {
    script: PathBuf,
    library: PathBuf,
    major: u32,
}

pub fn ensure(install_root: Option<&Path>) -> Result<()> {
    let llvm = find_nightly_llvm()?;
    let prefix = prefix_dir()?;
    ensure_links(&prefix, &llvm)?;
    let marker = prefix.join(MARKER);

    let binary = match install_root {
        Some(root) => Some(root.join("bin").join("bpf-linker")),
        None => which::which("bpf-linker").ok(),
    };
    if let Some(binary) = binary.filter(|binary| has_version(binary)) {
        let wanted = marker_text(&binary, &llvm)?;
        if fs::read_to_string(&marker).is_ok_and(|recorded| recorded == wanted) {
            report(
                "skip",
                format!(
                    "bpf-linker {VERSION} already built against nightly LLVM {} ({})",
                    llvm.major,
                    binary.display()
                ),
            );
            return Ok(());
        }
        // No or stale marker (an install by hand, or the marker predates this binary): the
        // dynamic linker tells whether it really loads the nightly's LLVM.
        if links_library(&binary, &llvm.library) {
            write_marker(&marker, &wanted)?;
            report(
                "ok",
                format!(
                    "bpf-linker {VERSION} at {} links nightly LLVM {}; recorded in {}",
                    binary.display(),
                    llvm.major,
                    marker.display()
                ),
            );
            return Ok(());
        }
    }

    install(&prefix, &llvm, install_root)?;
    let binary = match install_root {
        Some(root) => root.join("bin").join("bpf-linker"),
        None => which::which("bpf-linker").context(
            "cargo installed bpf-linker, but it is not on PATH: add cargo's bin directory \
             (`source $HOME/.cargo/env`)",
        )?,
    };
    // Builds run whichever bpf-linker PATH finds first; make sure that is the one just built.
    if !has_version(&binary) || !links_library(&binary, &llvm.library) {
        bail!(
            "after installing bpf-linker {VERSION}, {} is not a bpf-linker {VERSION} that \
             loads {}: another bpf-linker comes first on PATH; remove it or reorder PATH",
            binary.display(),
            llvm.library.display()
        );
    }
    write_marker(&marker, &marker_text(&binary, &llvm)?)?;
    report(
        "done",
        format!(
            "built bpf-linker {VERSION} against nightly LLVM {} ({})",
            llvm.major,
            binary.display()
        ),
    );
    Ok(())
}

fn find_nightly_llvm() -> Result<NightlyLlvm> {
    let sysroot = util::output(
        "finding the nightly toolchain",
        Command::new("rustc").args(["+nightly", "--print", "sysroot"]),
    )?;
    let lib = Path::new(sysroot.trim()).join("lib");
    let mut scripts = Vec::new();
    let mut libraries = Vec::new();
    for entry in fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if let Some(major) = script_major(name) {
            scripts.push((path.clone(), major));
        } else if name.starts_with("libLLVM.so.") {
            libraries.push(path.clone());
        }
    }
    match (scripts.as_slice(), libraries.as_slice()) {
        ([(script, major)], [library]) => Ok(NightlyLlvm {
            script: script.clone(),
            library: library.clone(),
            major: *major,
        }),
        _ => bail!(
            "expected one libLLVM-<major>-rust-*.so and one libLLVM.so.* in {}, found {} and {}; \
             is the nightly toolchain complete (`rustup toolchain install nightly`)?",
            lib.display(),
            scripts.len(),
            libraries.len()
        ),
    }
}

/// `libLLVM-22-rust-1.97.0-nightly.so` -> 22.
fn script_major(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("libLLVM-")?;
    if !name.ends_with(".so") {
        return None;
    }
    rest.split('-').next()?.parse().ok()
}

fn prefix_dir() -> Result<PathBuf> {
    let home = env::var_os("HOME").context("HOME is not set; it locates the LLVM prefix dir")?;
    Ok(Path::new(&home).join(".local/share/spawnprof/llvm-nightly"))
}

/// Makes `<prefix>/lib` hold exactly the three links bpf-linker's build needs, replacing links
/// left from an older nightly.
fn ensure_links(prefix: &Path, llvm: &NightlyLlvm) -> Result<()> {
    let lib = prefix.join("lib");
    fs::create_dir_all(&lib).with_context(|| format!("creating {}", lib.display()))?;
    let file_name = |path: &Path| path.file_name().expect("a file in lib/").to_owned();
    let wanted = [
        (file_name(&llvm.script), &llvm.script),
        (file_name(&llvm.library), &llvm.library),
        // `-lLLVM` looks for exactly this name; without it the build fails to link.
        ("libLLVM.so".into(), &llvm.library),
    ];
    let mut changed = Vec::new();
    for (name, target) in &wanted {
        let link = lib.join(name);
        if fs::read_link(&link).is_ok_and(|current| &current == *target) {
            continue;
        }
        match fs::remove_file(&link) {
            Err(err) if err.kind() != ErrorKind::NotFound => {
                return Err(err).with_context(|| format!("removing {}", link.display()));
            }
            _ => {}
        }
        symlink(target, &link).with_context(|| format!("linking {}", link.display()))?;
        changed.push(name.to_string_lossy().into_owned());
    }
    for entry in fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let stale = name.to_string_lossy().starts_with("libLLVM")
            && !wanted.iter().any(|(wanted, _)| *wanted == name)
            && entry.file_type()?.is_symlink();
        if stale {
            fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
            changed.push(format!("removed {}", name.to_string_lossy()));
        }
    }
    if changed.is_empty() {
        report(
            "ok",
            format!(
                "LLVM prefix {} links nightly LLVM {}",
                prefix.display(),
                llvm.major
            ),
        );
    } else {
        report(
            "done",
            format!(
                "LLVM prefix {} now links nightly LLVM {} ({})",
                prefix.display(),
                llvm.major,
                changed.join(", ")
            ),
        );
    }
    Ok(())
}

fn has_version(binary: &Path) -> bool {
    // A bpf-linker whose libLLVM has gone (nightly updated) fails to start: rebuild it then.
    Command::new(binary)
        .arg("--version")
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .nth(1)
                    == Some(VERSION)
        })
}

/// Whether the dynamic linker resolves the binary's libLLVM to `library`.
fn links_library(binary: &Path, library: &Path) -> bool {
    let Ok(out) = Command::new("ldd").arg(binary).output() else {
        return false;
    };
    let Ok(wanted) = library.canonicalize() else {
        return false;
    };
    // Lines read `libLLVM.so.22.1-rust-1.97.0-nightly => /path/to/lib (0x...)`.
    String::from_utf8_lossy(&out.stdout).lines().any(|line| {
        let Some((name, rest)) = line.trim().split_once(" => ") else {
            return false;
        };
        let resolved = rest.split(" (").next().unwrap_or_default();
        name.starts_with("libLLVM")
            && Path::new(resolved)
                .canonicalize()
                .is_ok_and(|path| path == wanted)
    })
}

/// The binary's modification time is part of the record, so a later reinstall by other means
/// (say against a system LLVM) invalidates it.
fn marker_text(binary: &Path, llvm: &NightlyLlvm) -> Result<String> {
    let modified = fs::metadata(binary)
        .and_then(|meta| meta.modified())
        .with_context(|| format!("reading the modification time of {}", binary.display()))?;
    let modified = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(format!(
        "bpf-linker {VERSION}\nbinary {} modified {}.{:09}\nllvm {}\n",
        binary.display(),
        modified.as_secs(),
        modified.subsec_nanos(),
        llvm.library.display()
    ))
}

fn write_marker(marker: &Path, text: &str) -> Result<()> {
    fs::write(marker, text).with_context(|| format!("writing {}", marker.display()))
}

fn install(prefix: &Path, llvm: &NightlyLlvm, install_root: Option<&Path>) -> Result<()> {
    report(
        "..",
        format!(
            "building bpf-linker {VERSION} against nightly LLVM {} (takes about 2 minutes)",
            llvm.major
        ),
    );
    let mut cmd = Command::new("cargo");
    cmd.env("LLVM_PREFIX", prefix).args([
        "install",
        "bpf-linker",
        "--version",
        VERSION,
        "--locked",
        "--no-default-features",
        "--features",
        &format!("llvm-{}", llvm.major),
        // We only get here when the installed one is wrong; cargo would keep it otherwise.
        "--force",
    ]);
    if let Some(root) = install_root {
        cmd.arg("--root").arg(root);
    }
    util::run("installing bpf-linker", &mut cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_comes_from_the_linker_script_name() {
        assert_eq!(script_major("libLLVM-22-rust-1.97.0-nightly.so"), Some(22));
        assert_eq!(script_major("libLLVM.so.22.1-rust-1.97.0-nightly"), None);
        assert_eq!(script_major("libLLVM-22-rust-1.97.0-nightly.so.1"), None);
    }
}
