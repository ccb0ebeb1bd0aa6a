//! `cargo xtask test`: setup, then every check CI runs, in order, stopping at the first failure.

use std::{env, process::Command, time::Instant};

use anyhow::{Result, bail};

use crate::{load::Load, setup, util};

#[derive(clap::Args)]
pub struct Args {
    /// Run the tests with the release profile.
    #[arg(long)]
    release: bool,
    /// Run the test step N times in a row (after one setup, fmt and clippy); stops at the
    /// first failing run.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Keep a busy loop and a spawn loop (`while :; do /bin/true; done`) running beside the
    /// tests, the load that exposes races a quiet machine hides.
    #[arg(long)]
    under_load: bool,
    /// Skip the last step, the smoke test on Debian's 5.10, 6.1 and 6.12 kernels under qemu
    /// (`cargo xtask matrix --smoke --no-host`; the first run downloads the kernels).
    #[arg(long)]
    no_matrix: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let start = Instant::now();
    let mut timings = Vec::new();
    setup::run(None)?;
    timings.push(("setup".to_string(), start.elapsed()));

    let (checks, tests) = steps(args.release);
    for (name, mut cmd) in checks {
        timings.push((name.to_string(), step(name, &mut cmd)?));
    }
    let (tests_name, mut tests) = tests;
    let load = if args.under_load {
        Some(Load::start()?)
    } else {
        None
    };
    for i in 1..=args.repeat {
        let name = if args.repeat > 1 {
            format!("{tests_name}, run {i}/{}", args.repeat)
        } else {
            tests_name.to_string()
        };
        match step(&name, &mut tests) {
            Ok(elapsed) => timings.push((name, elapsed)),
            Err(e) if args.repeat > 1 => bail!(
                "{e:#}\n{} of {} runs passed before this one",
                i - 1,
                args.repeat
            ),
            Err(e) => return Err(e),
        }
    }

    // The loops would only slow the VMs down: TCG timings mean nothing anyway.
    drop(load);
    if !args.no_matrix {
        timings.push(("kernel matrix smoke".to_string(), matrix_smoke()?));
    }

    println!(
        "\nall checks passed{}:",
        if args.under_load { " (under load)" } else { "" }
    );
    for (name, elapsed) in &timings {
        println!("  {:>8}  {name}", util::secs(*elapsed));
    }
    println!("  {:>8}  total", util::secs(start.elapsed()));
    Ok(())
}

/// Every probe loads and the phase model is whole on each kernel of the matrix (the host ran
/// the full suite just before).
fn matrix_smoke() -> Result<std::time::Duration> {
    println!("==> kernel matrix smoke: cargo xtask matrix --smoke --no-host");
    let start = Instant::now();
    let args = crate::matrix::Args {
        kernels: Vec::new(),
        smoke: true,
        filter: Vec::new(),
        timeout: None,
        binary_timeout: None,
        no_host: true,
        tcg: false,
        fetch_only: false,
        refresh: false,
    };
    if crate::matrix::run(&args)? != 0 {
        bail!("kernel matrix smoke failed (table above; consoles under target/matrix/)");
    }
    let elapsed = start.elapsed();
    println!("[ok] kernel matrix smoke ({})", util::secs(elapsed));
    Ok(elapsed)
}

fn step(name: &str, cmd: &mut Command) -> Result<std::time::Duration> {
    println!("==> {name}: {}", util::describe(cmd));
    let step_start = Instant::now();
    util::run(name, cmd)?;
    let elapsed = step_start.elapsed();
    println!("[ok] {name} ({})", util::secs(elapsed));
    Ok(elapsed)
}

type Step = (&'static str, Command);

/// The checks (fmt, both clippy passes), then the test step.
fn steps(release: bool) -> (Vec<Step>, Step) {
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

    (
        vec![
            ("rustfmt", fmt),
            ("clippy (user crates)", clippy_user),
            ("clippy (eBPF crate)", clippy_ebpf()),
        ],
        (tests_name, tests),
    )
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
