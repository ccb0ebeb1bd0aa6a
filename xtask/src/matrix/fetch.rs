//! Debian's kernels for the matrix, fetched with a private apt configuration (the host's own
//! sources, lists and settings are never read or written) and unpacked into the cache.
//!
//! Layout under the cache dir (default `~/.cache/spawnprof/kernels`):
//! `apt/<suite>/` the private apt root; `<label>/*.deb` the image package; `<label>/root/` its
//! contents; `<label>/kernel.txt` what was unpacked (written last, so it marks a complete
//! fetch). A second run finds `kernel.txt` and touches the network not at all.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

use super::debian::{self, Image};
use crate::util::{self, report};

/// A kernel of the matrix: the column label and the Debian suite that ships it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    pub label: &'static str,
    pub suite: &'static str,
}

pub const KERNELS: [Kernel; 3] = [
    Kernel {
        label: "5.10",
        suite: "bullseye",
    },
    Kernel {
        label: "6.1",
        suite: "bookworm",
    },
    Kernel {
        label: "6.12",
        suite: "trixie",
    },
];

/// A fetched and unpacked kernel.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub label: &'static str,
    pub image: Image,
    pub vmlinuz: PathBuf,
    /// The modules as unpacked in the cache.
    pub modules: PathBuf,
}

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const MIRROR: &str = "http://deb.debian.org";

/// `$SPAWNPROF_KERNEL_CACHE`, else `$XDG_CACHE_HOME/spawnprof/kernels`, else
/// `~/.cache/spawnprof/kernels`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = env::var_os("SPAWNPROF_KERNEL_CACHE") {
        return dir.into();
    }
    let base = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env::var_os("HOME").unwrap_or("/root".into())).join(".cache")
        });
    base.join("spawnprof/kernels")
}

/// Makes sure `kernel` is unpacked in `cache`; `refresh` asks the suite again for its newest
/// image even when one is cached.
pub fn ensure(kernel: Kernel, cache: &Path, refresh: bool) -> Result<Fetched> {
    let dir = cache.join(kernel.label);
    let marker = dir.join("kernel.txt");
    if !refresh && let Some(fetched) = read_marker(kernel, &dir, &marker) {
        report(
            "ok",
            format!(
                "kernel {} cached: {} {}",
                kernel.label, fetched.image.package, fetched.image.version
            ),
        );
        return Ok(fetched);
    }
    let apt = AptRoot::new(cache, kernel.suite)?;
    apt.update()?;
    let image = apt.current_image()?;
    if let Some(fetched) = read_marker(kernel, &dir, &marker).filter(|f| f.image == image) {
        report(
            "ok",
            format!(
                "kernel {} is still the newest: {} {}",
                kernel.label, image.package, image.version
            ),
        );
        return Ok(fetched);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let deb = apt.download(&image, &dir)?;
    // Unpack next to the final place and rename, so an interrupted run leaves no half tree
    // that a later run would take for a kernel.
    let root = dir.join("root");
    let partial = dir.join("root.partial");
    for old in [&root, &partial] {
        if old.exists() {
            fs::remove_dir_all(old).with_context(|| format!("removing {}", old.display()))?;
        }
    }
    util::run(
        &format!("unpacking {}", deb.display()),
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&partial),
    )?;
    fs::rename(&partial, &root)?;
    fs::write(&marker, format!("{}\n{}\n", image.package, image.version))?;
    let fetched = read_marker(kernel, &dir, &marker).with_context(|| {
        format!(
            "{} has no boot/vmlinuz-{} or modules dir for it",
            root.display(),
            image.kver()
        )
    })?;
    report(
        "done",
        format!(
            "fetched kernel {}: {} {}",
            kernel.label, image.package, image.version
        ),
    );
    Ok(fetched)
}

/// A complete earlier fetch: the marker names the image and its files are there.
fn read_marker(kernel: Kernel, dir: &Path, marker: &Path) -> Option<Fetched> {
    let text = fs::read_to_string(marker).ok()?;
    let mut lines = text.lines();
    let image = Image {
        package: lines.next()?.to_owned(),
        version: lines.next()?.to_owned(),
    };
    let root = dir.join("root");
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{}", image.kver()));
    // 5.10 and 6.1 ship modules under lib/, 6.12 (merged /usr) under usr/lib/.
    let modules = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|m| root.join(m).join(image.kver()))
        .find(|m| m.is_dir())?;
    vmlinuz.is_file().then_some(Fetched {
        label: kernel.label,
        image,
        vmlinuz,
        modules,
    })
}

/// A private apt root for one suite: apt reads `apt.conf` here through `APT_CONFIG` and, because
/// that file points every config and state path here, no file of the host's apt setup.
struct AptRoot {
    dir: PathBuf,
}

impl AptRoot {
    fn new(cache: &Path, suite: &str) -> Result<Self> {
        let dir = cache.join("apt").join(suite);
        let empty = dir.join("empty");
        for sub in ["lists/partial", "cache/archives/partial", "empty"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let sources = format!(
            "deb [signed-by={KEYRING}] {MIRROR}/debian {suite} main\n\
             deb [signed-by={KEYRING}] {MIRROR}/debian-security {suite}-security main\n"
        );
        fs::write(dir.join("sources.list"), sources)?;
        // An empty dpkg status: the host's installed packages must not sway what apt picks.
        if !dir.join("status").exists() {
            fs::write(dir.join("status"), "")?;
        }
        let d = dir.display();
        let e = empty.display();
        // Dir::Etc::parts and ::main are read after APT_CONFIG, so pointing them at the empty
        // dir keeps the host's apt.conf.d (proxies, appstream targets, ...) out.
        let conf = format!(
            "Dir::Etc::sourcelist \"{d}/sources.list\";\n\
             Dir::Etc::sourceparts \"{e}\";\n\
             Dir::Etc::parts \"{e}\";\n\
             Dir::Etc::main \"{e}/none\";\n\
             Dir::Etc::preferences \"{e}/none\";\n\
             Dir::Etc::preferencesparts \"{e}\";\n\
             Dir::State \"{d}\";\n\
             Dir::State::Lists \"{d}/lists\";\n\
             Dir::State::status \"{d}/status\";\n\
             Dir::Cache \"{d}/cache\";\n\
             APT::Architecture \"amd64\";\n\
             APT::Architectures {{ \"amd64\"; }};\n\
             Acquire::Languages \"none\";\n\
             APT::Sandbox::User \"root\";\n"
        );
        fs::write(dir.join("apt.conf"), conf)?;
        Ok(Self { dir })
    }

    fn cmd(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("APT_CONFIG", self.dir.join("apt.conf"));
        cmd
    }

    fn update(&self) -> Result<()> {
        let out = util::output(
            "updating the private apt lists",
            self.cmd("apt-get").args(["-q", "update"]),
        )?;
        let fetched = out.lines().filter(|l| l.starts_with("Get:")).count();
        report(
            "done",
            format!(
                "apt lists in {} ({fetched} files fetched)",
                self.dir.display()
            ),
        );
        Ok(())
    }

    fn current_image(&self) -> Result<Image> {
        let show = util::output(
            "reading the kernel metapackage",
            self.cmd("apt-cache").args(["show", debian::META]),
        )?;
        debian::pick_image(&debian::parse_stanzas(&show))
    }

    /// `apt-get download` into `dir`; returns the .deb.
    fn download(&self, image: &Image, dir: &Path) -> Result<PathBuf> {
        util::run(
            &format!("downloading {} {}", image.package, image.version),
            self.cmd("apt-get")
                .args(["-q", "download"])
                .arg(format!("{}={}", image.package, image.version))
                .current_dir(dir),
        )?;
        let prefix = format!("{}_", image.package);
        let debs: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with(&prefix) && name.ends_with(".deb")
            })
            .collect();
        match debs.as_slice() {
            [deb] => Ok(deb.clone()),
            _ => bail!(
                "expected one {prefix}*.deb in {}, found {debs:?}",
                dir.display()
            ),
        }
    }
}

/// Puts the modules where modprobe inside the guest looks (`/lib/modules/<kver>` of the shared
/// host root): virtme-ng loads virtio, 9p and friends from there, which Debian builds as
/// modules. Copied (not linked) so the guest never depends on the cache's location.
pub fn install_modules(fetched: &Fetched) -> Result<()> {
    let kver = fetched.image.kver();
    let dest = Path::new("/lib/modules").join(kver);
    if dest.join("modules.dep").is_file() {
        report("ok", format!("modules for {kver} in {}", dest.display()));
        return Ok(());
    }
    fs::create_dir_all("/lib/modules")?;
    let partial = Path::new("/lib/modules").join(format!(".{kver}.partial"));
    if partial.exists() {
        fs::remove_dir_all(&partial)?;
    }
    util::run(
        &format!("copying the modules of {kver}"),
        Command::new("cp")
            .arg("-a")
            .arg(&fetched.modules)
            .arg(&partial),
    )?;
    if dest.exists() {
        fs::remove_dir_all(&dest)?;
    }
    fs::rename(&partial, &dest)?;
    util::run(
        &format!("indexing the modules of {kver}"),
        Command::new("depmod").arg("-a").arg(kver),
    )?;
    report(
        "done",
        format!("installed modules for {kver} in {}", dest.display()),
    );
    Ok(())
}
