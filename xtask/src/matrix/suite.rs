//! The tests the matrix runs: spawn-user's integration test binaries, built once on the host,
//! and one shell script that runs them all (in a guest or on the host alike) and leaves each
//! binary's output and exit code in an output dir for [`collect`] to read.

use std::{fmt::Write as _, fs, path::Path, path::PathBuf, process::Stdio};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::{libtest, table::Column};
use crate::util;

/// One integration test binary: its target name (`phases`, `smoke`, ...) and path.
#[derive(Debug, Clone)]
pub struct TestBin {
    pub name: String,
    pub path: PathBuf,
}

/// `cargo test -p spawn-user --no-run`: builds the test binaries and, because integration
/// tests need it, the spawnprof binary they find through `CARGO_BIN_EXE_spawnprof`.
pub fn build() -> Result<Vec<TestBin>> {
    let mut cmd = util::cargo();
    cmd.args([
        "test",
        "-p",
        "spawn-user",
        "--no-run",
        "--message-format=json",
    ]);
    println!("==> building the test binaries: {}", util::describe(&cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{}`", util::describe(&cmd)))?;
    if !out.status.success() {
        bail!(
            "building the test binaries failed: `{}` exited with {}",
            util::describe(&cmd),
            out.status
        );
    }
    let mut bins = test_bins(&String::from_utf8_lossy(&out.stdout));
    bins.sort_by(|a, b| a.name.cmp(&b.name));
    if bins.is_empty() {
        bail!("cargo built no integration test binary of spawn-user");
    }
    Ok(bins)
}

/// Integration test targets (kind `test`) among cargo's JSON messages; unit tests of the
/// library and binary need no root and no kernel, so they stay out of the matrix.
fn test_bins(messages: &str) -> Vec<TestBin> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"))
        })
        .filter_map(|m| {
            Some(TestBin {
                name: m["target"]["name"].as_str()?.to_owned(),
                path: PathBuf::from(m["executable"].as_str()?),
            })
        })
        .collect()
}

/// The script: CI=true (a missing capability fails instead of skipping), one test at a time
/// (the tests trace whole process trees; two at once on 2 vCPUs would only be slower), from
/// spawn-user's directory as `cargo test` would run them, each binary under `timeout` so that
/// one hanging test costs only the rest of its binary. `done` is written last.
pub fn script(bins: &[TestBin], filters: &[String], out: &Path, bin_timeout: u64) -> String {
    let out = sh(&out.to_string_lossy());
    let mut s = String::from("#!/bin/sh\n# Written by `cargo xtask matrix`.\n");
    let _ = writeln!(s, "uname -r > {out}/uname");
    s.push_str("export CI=true\n");
    let _ = writeln!(
        s,
        "cd {} || exit 1",
        sh(&util::repo_root().join("spawn-user").to_string_lossy())
    );
    let filters: String = filters.iter().map(|f| format!(" {}", sh(f))).collect();
    for bin in bins {
        let name = &bin.name;
        let _ = writeln!(
            s,
            "timeout -k 10 {bin_timeout} {} --test-threads=1{filters} > {out}/{name}.out 2>&1; \
             echo $? > {out}/{name}.rc",
            sh(&bin.path.to_string_lossy())
        );
    }
    let _ = writeln!(s, "touch {out}/done");
    s
}

/// `word` quoted for sh where it needs it.
pub fn sh(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=+:,@".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Reads what the script left in `out` into a table column. `expect_kver` catches a guest that
/// booted some other kernel than the one asked for.
pub fn collect(label: &str, bins: &[TestBin], out: &Path, expect_kver: Option<&str>) -> Column {
    let mut column = Column {
        label: label.to_owned(),
        ..Column::default()
    };
    let mut problems = Vec::new();
    let uname = fs::read_to_string(out.join("uname")).unwrap_or_default();
    if let Some(want) = expect_kver
        && !uname.trim().is_empty()
        && uname.trim() != want
    {
        problems.push(format!("booted {} instead of {want}", uname.trim()));
    }
    if !out.join("done").exists() {
        problems.push("the test script did not finish".to_owned());
    }
    for bin in bins {
        let text = fs::read_to_string(out.join(format!("{}.out", bin.name))).unwrap_or_default();
        let rc = fs::read_to_string(out.join(format!("{}.rc", bin.name))).ok();
        let results = libtest::parse(&text);
        let failed = results
            .iter()
            .any(|(_, o)| matches!(o, libtest::Outcome::Failed(_)));
        match rc.as_deref().map(str::trim) {
            None if text.is_empty() => {}
            None => problems.push(format!("{} did not finish", bin.name)),
            Some("0") => {}
            Some("124" | "137") => {
                problems.push(format!("{} hit the per-binary timeout", bin.name))
            }
            // A failing test exits 101; the failure itself is in the table.
            Some(_) if failed => {}
            Some(rc) => {
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                problems.push(format!(
                    "{} exited {rc}: {}",
                    bin.name,
                    libtest::shorten(last)
                ));
            }
        }
        column.results.extend(
            results
                .into_iter()
                .map(|(t, o)| (format!("{}::{t}", bin.name), o)),
        );
    }
    if !problems.is_empty() {
        column.problem = Some(problems.join("; "));
    }
    column
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_integration_test_executables_are_taken() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"spawn_user"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["test"],"name":"smoke"},"executable":"/t/deps/smoke-1"}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"spawnprof"},"executable":"/t/deps/spawnprof-2"}
{"reason":"build-finished","success":true}"#;
        let bins = test_bins(messages);
        assert_eq!(bins.len(), 1);
        assert_eq!(bins[0].name, "smoke");
        assert_eq!(bins[0].path, PathBuf::from("/t/deps/smoke-1"));
    }

    #[test]
    fn script_runs_each_binary_with_the_filters() {
        let bins = [TestBin {
            name: "smoke".into(),
            path: "/t/smoke-1".into(),
        }];
        let s = script(&bins, &["smoke".into(), "a b".into()], Path::new("/o"), 60);
        assert!(s.contains("export CI=true\n"), "{s}");
        assert!(
            s.contains(
                "/t/smoke-1 --test-threads=1 smoke 'a b' > /o/smoke.out 2>&1; echo $? > /o/smoke.rc"
            ),
            "{s}"
        );
        assert!(s.ends_with("touch /o/done\n"), "{s}");
    }
}
