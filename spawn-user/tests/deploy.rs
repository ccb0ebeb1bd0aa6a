//! The shipped deployment files: the Prometheus alerting rules pass `promtool check rules`
//! (promtool ships in Debian's `prometheus` package, the one the production tests start),
//! and the systemd unit and DaemonSet run `spawnprof serve` with arguments it accepts.
use std::path::PathBuf;
use std::process::Command;

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

#[test]
fn alerting_rules_pass_promtool() {
    let rules = deploy("alerts.yml");
    let out = match Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
    {
        Ok(o) => o,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true: promtool is missing ({e}); install the Debian package `prometheus`")
        }
        Err(e) => {
            eprintln!("skipping: promtool not runnable ({e}); it ships in Debian's `prometheus`");
            return;
        }
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "promtool check rules: {text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

/// The `serve` arguments of the unit and the DaemonSet parse (the binary's own parser,
/// `--help` after them stops before anything is loaded).
#[test]
fn deploy_files_use_valid_serve_arguments() {
    let unit = std::fs::read_to_string(deploy("spawnprof.service")).expect("the unit");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    assert_eq!(args.first(), Some(&"serve"), "{exec}");
    let ds = std::fs::read_to_string(deploy("daemonset.yaml")).expect("the DaemonSet");
    let ds_args: Vec<String> = ds
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("args:"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with('-') || l.trim_start().starts_with('#'))
        .filter_map(|l| l.trim_start().strip_prefix("- ").map(String::from))
        .collect();
    assert_eq!(
        ds_args.first().map(String::as_str),
        Some("serve"),
        "{ds_args:?}"
    );
    for line in [
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ds_args,
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_spawnprof"))
            .args(&line)
            .arg("--help")
            .output()
            .expect("running spawnprof");
        assert!(
            out.status.success(),
            "spawnprof {line:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for mount in ["/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup"] {
        assert!(
            ds.contains(&format!("path: {mount}")),
            "DaemonSet lacks {mount}"
        );
    }
    assert!(ds.contains("hostPID: true") && ds.contains("privileged: true"));
}
