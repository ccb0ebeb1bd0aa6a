//! `spawnprof compare` end to end, as root: a dynamic and a static child, with the probes
//! really loaded for the phases. Asserted: the sign of the median ratio (a 5-8x gap that load
//! would have to turn around in half the runs) and structural facts of the phases (a static
//! child has no startup phase at all), never a ratio's size or its interval: on a loaded
//! machine a single run can flip, which moves the interval's end but not the median.
mod common;

use common::exit0;
use serde_json::Value;

#[test]
fn static_child_is_faster_and_startup_carries_the_difference() {
    require_probes!();
    let out = common::spawnprof()
        .args(["compare", "--runs", "6", "--warmup", "1", "--spawns", "9"])
        .args(["--seed", "1", "--json", "/bin/true", exit0()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ratio = v["ratio"].as_f64().unwrap();
    assert!(ratio > 1.0, "{v:#}");
    // Named faster, or no verdict when a disturbed run widened the interval past 1.
    assert!(v["faster"] == exit0() || v["faster"].is_null(), "{v:#}");
    let (lo, hi) = (v["ci"][0].as_f64().unwrap(), v["ci"][1].as_f64().unwrap());
    assert!(lo <= ratio && ratio <= hi, "{v:#}");
    let report = &v["report"];
    assert_eq!(report["runs"], 6);
    let a_startup = report["commands"][0]["phases_ns"]["startup"].as_f64();
    assert!(a_startup.is_some_and(|s| s > 0.0), "{v:#}");
    assert!(
        report["commands"][1]["phases_ns"].get("startup").is_none(),
        "a static child has no loader: {v:#}"
    );
    assert_eq!(v["phase_diff_ns"]["startup"].as_f64(), a_startup, "{v:#}");
    let verdict = v["verdict"].as_str().unwrap();
    let named = format!("{} is ", exit0());
    assert!(
        verdict.starts_with(&named) || verdict.starts_with("no difference"),
        "{verdict}"
    );
}

#[test]
fn too_few_runs_and_one_command_are_clear_errors() {
    let out = common::spawnprof()
        .args(["compare", "--runs", "5", "/bin/true", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 6 runs"), "{err}");
    let out = common::spawnprof()
        .args(["compare", "/bin/true"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
}
