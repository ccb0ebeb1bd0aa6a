//! `cargo xtask test`: setup, then every check CI runs, in order, stopping at the first failure.

use std::{env, process::Command, time::Instant};

use anyhow::Result;

use crate::{setup, util};

pub fn run(release: bool) -> Result<()> {
    let start = Instant::now();
    let mut timings = Vec::new();
    setup::run(None)?;
    timings.push(("setup", start.elapsed()));

    for (name, mut cmd) in steps(release) {
        println!("==> {name}: {}", util::describe(&cmd));
        let step_start = Instant::now();
        util::run(name, &mut cmd)?;
        let elapsed = step_start.elapsed();
        println!("[ok] {name} ({})", util::secs(elapsed));
        timings.push((name, elapsed));
    }

    println!("\nall checks passed:");
    for (name, elapsed) in &timings {
        println!("  {:>8}  {name}", util::secs(*elapsed));
    }
    println!("  {:>8}  total", util::secs(start.elapsed()));
    Ok(())
}

fn steps(release: bool) -> Vec<(&'static str, Command)> {
    let mut fmt = util::cargo();
    fmt.args(["fmt", "--all", "--check"]);

    let mut clippy_user = util::cargo();
    clippy_user.args([
        "clippy",
        "--workspace",
        "--exclude",
        "spawn-ebpf",
        "--all-targets",
    ]);
    clippy_user.args(["--", "-D", "warnings"]);

    let mut tests = util::cargo();
    tests.args(["test", "--workspace", "--exclude", "spawn-ebpf"]);
    if release {
        tests.arg("--release");
    }
    // The integration tests read CI (a missing capability fails under CI=true, skips
    // elsewhere); the environment passes through unchanged, this only shows which applies.
    let ci = env::var("CI").unwrap_or_else(|_| "<unset>".into());
    let tests_name = if ci == "true" {
        "tests (CI=true)"
    } else {
        "tests (CI not true)"
    };

    vec![
        ("rustfmt", fmt),
        ("clippy (user crates)", clippy_user),
        ("clippy (eBPF crate)", clippy_ebpf()),
        (tests_name, tests),
    ]
}

/// The eBPF crate only compiles for the BPF target with nightly and build-std, so it gets its
/// own clippy pass, mirroring how aya-build compiles it.
fn clippy_ebpf() -> Command {
    let mut cmd = util::cargo();
    cmd.args([
        "+nightly",
        "clippy",
        "--package",
        "spawn-ebpf",
        "--release",
        "--target",
        "bpfel-unknown-none",
        "-Z",
        "build-std=core",
    ]);
    // A target dir of its own: sharing target/ with different RUSTFLAGS would make cargo
    // rebuild the main build from scratch after every clippy run.
    cmd.arg("--target-dir")
        .arg(util::target_dir().join("ebpf-clippy"));
    cmd.args(["--", "-D", "warnings"]);
    // aya-ebpf and the probes select per-architecture code (e.g. pt_regs layouts) with this
    // cfg; aya-build sets it the same way when it builds the probes. With --target, RUSTFLAGS
    // reaches only the BPF crates, not the host build scripts.
    cmd.env("RUSTFLAGS", r#"--cfg bpf_target_arch="x86_64""#);
    cmd
}
