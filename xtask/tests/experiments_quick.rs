//! `cargo xtask experiment all --quick` still runs every experiment end to end and writes every
//! file a report must have. Needs root (the experiments load the probes): under `CI=true` a
//! missing capability is a failure, elsewhere the test is skipped with the reason printed.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

const EXPERIMENTS: [&str; 5] = [
    "fork-in-the-road",
    "phases",
    "templates",
    "overhead",
    "concurrency",
];

fn capable(test: &str) -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    let missing = match (root, btf) {
        (false, _) => Some("not running as root"),
        (_, false) => Some("no BTF at /sys/kernel/btf/vmlinux"),
        _ => None,
    };
    match missing {
        None => true,
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: {why} (CI=true: a missing capability is a failure)")
        }
        Some(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn every_experiment_writes_a_complete_report() {
    if !capable("every_experiment_writes_a_complete_report") {
        return;
    }
    let out = std::env::temp_dir().join(format!("xtask-experiments-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let status = Command::new("cargo")
        .args(["xtask", "experiment", "all", "--quick", "--out"])
        .arg(&out)
        .current_dir(root)
        .status()
        .expect("running cargo xtask experiment");
    assert!(
        status.success(),
        "cargo xtask experiment all --quick: {status}"
    );

    for name in EXPERIMENTS {
        let dir = out.join(name);
        let all = files(&dir);
        let has = |f: &str| dir.join(f).is_file();
        assert!(has("README.md"), "{name}: no README.md");
        assert!(has("env.json"), "{name}: no env.json");
        assert!(has("data.json"), "{name}: no data.json");
        assert!(
            all.iter()
                .any(|p| p.extension().is_some_and(|e| e == "svg")),
            "{name}: no SVG plot"
        );
        let readme = fs::read_to_string(dir.join("README.md")).expect("README.md");
        for section in [
            "## Question",
            "## Answer",
            "## Method",
            "## Results",
            "## Limits",
        ] {
            assert!(
                readme.contains(section),
                "{name}: README.md has no {section}"
            );
        }
        assert!(
            readme.contains(&format!("cargo xtask experiment {name}")),
            "{name}: README.md does not say how to rerun it"
        );
        // Every plot the README shows exists.
        for img in readme
            .split("![")
            .skip(1)
            .filter_map(|s| s.split_once("]("))
            .map(|x| x.1)
        {
            let target = img.split(')').next().unwrap_or("");
            if target.ends_with(".svg") {
                assert!(dir.join(target).is_file(), "{name}: {target} is missing");
            }
        }
        let env: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("env.json")).expect("env.json"))
                .expect("env.json is JSON");
        for key in [
            "kernel",
            "cpu_model",
            "cores",
            "glibc",
            "rustc",
            "commit",
            "params",
        ] {
            assert!(!env[key].is_null(), "{name}: env.json has no {key}");
        }
        let data: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("data.json")).expect("data.json"))
                .expect("data.json is JSON");
        assert!(
            data["answer"].is_string(),
            "{name}: data.json has no answer"
        );
    }
    let index = fs::read_to_string(out.join("README.md")).expect("the reports index");
    for name in EXPERIMENTS {
        assert!(index.contains(name), "the index does not list {name}");
    }
    let _ = fs::remove_dir_all(&out);
}
