//! Running commands with errors that name the step, and the paths every task needs.

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};

/// The workspace root: xtask lives one level below it.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask's manifest directory has a parent")
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` like cargo itself does.
pub fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo_root().join(dir),
        None => repo_root().join("target"),
    }
}

/// `cargo` through the rustup proxy on PATH (not `$CARGO`), so that `+nightly` works.
pub fn cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(repo_root());
    cmd
}

/// The command line as a person would type it, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            parts.push(format!(
                "{}={}",
                key.to_string_lossy(),
                quote(&value.to_string_lossy())
            ));
        }
    }
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|arg| quote(&arg.to_string_lossy())));
    parts.join(" ")
}

fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=+:,@".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` with inherited stdio; a non-zero exit is an error naming `step`.
pub fn run(step: &str, cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("{step}: could not start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("{step} failed: `{}` exited with {status}", describe(cmd));
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout; a non-zero exit is an error carrying its stderr.
pub fn output(step: &str, cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("{step}: could not start `{}`", describe(cmd)))?;
    if !out.status.success() {
        bail!(
            "{step} failed: `{}` exited with {}: {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout)
        .with_context(|| format!("{step}: `{}` printed non-UTF-8 output", describe(cmd)))
}

/// Seconds with one decimal: steps take from a fraction of a second to minutes.
pub fn secs(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// One line of a setup check: `[ok] ...`, `[missing] ...`, `[installed] ...`.
pub fn report(tag: &str, message: impl std::fmt::Display) {
    println!("[{tag}] {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_only_what_needs_it() {
        let mut cmd = Command::new("cargo");
        cmd.env("RUSTFLAGS", r#"--cfg bpf_target_arch="x86_64""#)
            .args(["clippy", "--", "-D", "warnings"]);
        assert_eq!(
            describe(&cmd),
            r#"RUSTFLAGS='--cfg bpf_target_arch="x86_64"' cargo clippy -- -D warnings"#
        );
    }

    #[test]
    fn quote_escapes_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
