//! Builds the eBPF probes (`spawn-ebpf`) with the nightly toolchain and bpf-linker, so that the
//! analyzer embeds them. `cargo xtask setup` installs what this needs.
use std::{env, fs, path::PathBuf};

use anyhow::Context as _;
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest
        .parent()
        .context("spawn-user has no parent directory")?;
    let ebpf = root.join("spawn-ebpf");
    let common = root.join("spawn-common");
    println!("cargo:rerun-if-changed={}", common.display());
    println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    if env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        // Pure-logic work (unit tests of decoding and assembly) does not need the probes; the
        // loader sees the empty object and says the binary was built without them.
        fs::write(out.join("spawn"), [])?;
        return Ok(());
    }
    let ebpf_dir = ebpf.to_str().context("non-UTF-8 path to spawn-ebpf")?;
    aya_build::build_ebpf(
        [Package {
            name: "spawn-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        Toolchain::Nightly,
    )
    .context("building the eBPF probes (run `cargo xtask setup` first)")
}
