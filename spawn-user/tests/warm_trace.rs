//! Root integration test of a warm spawn under `spawnprof trace`: spawn-fast's
//! `Strategy::Warm` makes each child by a `clone3(CLONE_PARENT)` in a parked image of the
//! program, and the records must show each child as a spawn of the process that asked for it
//! (kind `warm`, that process as parent), with the image as the cloner. Structure only, never
//! times.
mod common;

use common::{spawnprof_path, trace_json_file};
use serde_json::Value;

fn basename(v: &Value) -> Option<&str> {
    v.as_str()?.rsplit('/').find(|s| !s.is_empty())
}

#[test]
fn warm_spawns_are_children_of_the_requester_cloned_by_the_image() {
    require_probes!();
    let t = trace_json_file(
        "warm",
        &[],
        &[
            spawnprof_path(),
            "run",
            "--strategy",
            "warm",
            "--repeat",
            "3",
            "--",
            "/bin/true",
        ],
    );
    t.assert_ok();
    let all = format!("{:#?}\nstderr: {}", t.records, t.stderr);
    let roots = t.records_where(|r| r["kind"] == "root");
    assert_eq!(roots.len(), 1, "{all}");
    let run = roots[0];
    let (run_pid, run_id) = (run["pid"].as_u64(), run["id"].as_u64());
    assert!(run_pid.is_some() && run_id.is_some(), "{run:#}");

    // The image: `spawnprof run` exec'd /bin/true once, with the preload, and it parked.
    let images = t.records_where(|r| {
        r["kind"] == "exec"
            && r["ppid"].as_u64() == run_pid
            && basename(&r["exec"]["filename"]) == Some("true")
    });
    assert_eq!(images.len(), 1, "one image expected: {all}");
    let image = images[0];
    assert_eq!(image["exec"]["ret"], 0, "{image:#}");
    assert_eq!(image["parent_record"].as_u64(), run_id, "{image:#}");

    let warm = t.records_where(|r| r["kind"] == "warm");
    assert_eq!(warm.len(), 3, "{all}");
    for w in warm {
        // The requester is the parent, as the kernel has it; the image made the clone.
        assert_eq!(w["ppid"].as_u64(), run_pid, "{w:#}");
        assert_eq!(w["parent_record"].as_u64(), run_id, "{w:#}");
        assert_eq!(w["parent_comm"], "spawnprof", "{w:#}");
        assert_eq!(w["cloned_by"]["pid"], image["pid"], "{w:#}");
        assert_eq!(w["cloned_by"]["record"], image["id"], "{w:#}");
        assert_eq!(basename(&w["cloned_by"]["program"]), Some("true"), "{w:#}");
        assert_eq!(w["comm"], "true", "{w:#}");
        assert_eq!(w["clone_syscall"], "clone3", "{w:#}");
        let flags = w["clone_flag_names"].as_array().expect("flag names");
        assert!(flags.iter().any(|f| f == "CLONE_PARENT"), "{w:#}");
        // No exec, so no exec or startup phases; the rest is there up to the reap.
        assert_eq!(w["exec"], Value::Null, "{w:#}");
        assert_eq!(w["exit_code"], 0, "{w:#}");
        assert_eq!(w["complete"], true, "{w:#}");
        for phase in ["copy", "queue", "run", "reap"] {
            assert!(w["phases_ns"][phase].is_u64(), "{phase} in {w:#}");
        }
        for phase in ["setup", "exec", "startup"] {
            assert!(w["phases_ns"][phase].is_null(), "{phase} in {w:#}");
        }
        let notes = w["notes"].as_array().expect("notes");
        assert!(notes.is_empty(), "{w:#}");
    }
    // The summary groups them by program, apart from exec spawns of it.
    assert!(
        t.stderr.contains("true (warm): 3 spawns, 3 complete"),
        "{}",
        t.stderr
    );
}
