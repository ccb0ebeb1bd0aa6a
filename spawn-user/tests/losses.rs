//! Root test of loss accounting: with tiny maps (the loader's test-only
//! `SPAWNPROF_TEST_MAP_SIZES`), every kind of loss the probes and the reader can suffer is
//! forced, each counter must come out non-zero, and the balance
//! `records + counted losses = kernel-counted spawns` must hold.
//!
//! Every loss here is forced by structure, not by timing: nested processes that are alive at
//! the same time hold the map slots, and the reader is held off the ring buffer
//! (`hold_reader`) until the command is done. Undecodable records cannot be forced from
//! outside; `collector`'s unit test covers how they are counted.
mod common;

use std::io::Read as _;
use std::process::Stdio;

use common::{spawnprof, spawnprof_path};

const BUSYBOX: &str = "/usr/bin/busybox";

/// `name N` in the losses line.
fn loss(stderr: &str, name: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("losses: "))
        .unwrap_or_else(|| panic!("no losses line in: {stderr}"));
    let rest = line
        .split(&format!("{name} "))
        .nth(1)
        .unwrap_or_else(|| panic!("{name} not in {line}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {name} in {line}"))
}

/// The balance line must say the books are balanced, and the numbers must add up.
fn check_balance(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("spawns counted in the kernel: "))
        .unwrap_or_else(|| panic!("no balance line in: {stderr}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [spawns, records, filtered, lost] = nums[..] else {
        panic!("unexpected balance line {line}");
    };
    assert_eq!(spawns, records + filtered + lost, "{line}");
    assert!(line.ends_with("(balanced)"), "{line}");
    assert!(spawns > 0, "{line}");
    (spawns, records, lost)
}

/// Traces `script` under busybox's static sh with `limits`; stdin is a pipe held open until
/// spawnprof is done (background readers of it stay alive that long), then closed.
fn trace(limits: &str, script: &str) -> String {
    let mut child = spawnprof()
        .env("SPAWNPROF_TEST_MAP_SIZES", limits)
        // waitid's result pointer waits in WAITID_INFOP only on the syscall tracepoint way
        // (fexit still has the argument): take that way so that its map can fill up.
        .env("SPAWNPROF_AVOID", "wait4_exit_fexit")
        .args(["trace", "--json", "--", BUSYBOX, "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running spawnprof");
    let hold = child.stdin.take();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).expect("reading stderr");
    }
    let status = child.wait().expect("waiting for spawnprof");
    // Now the background readers see EOF and exit.
    drop(hold);
    assert!(status.success(), "spawnprof failed: {stderr}");
    stderr
}

/// A 64-bit little-endian ELF without a PT_INTERP program header (no dynamic loader).
fn is_static_elf64(b: &[u8]) -> bool {
    let u = |at: usize, n: usize| -> Option<u64> {
        let bytes = b.get(at..at + n)?;
        Some(bytes.iter().rev().fold(0, |v, &x| (v << 8) | u64::from(x)))
    };
    const PT_INTERP: u64 = 3;
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u(0x20, 8), u(0x36, 2), u(0x38, 2)) else {
        return false;
    };
    b.starts_with(b"\x7fELF\x02\x01")
        && (0..phnum)
            .all(|i| u((phoff + i * phentsize) as usize, 4).is_some_and(|t| t != PT_INTERP))
}

#[test]
fn every_kind_of_loss_is_counted_and_spawns_balance() {
    require_probes!();
    // busybox must be static: its sh then never reaches libc.so's __libc_start_main and
    // holds its startup slot for its whole life.
    let static_busybox = std::fs::read(BUSYBOX).is_ok_and(|b| is_static_elf64(&b));
    if !static_busybox {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: a static {BUSYBOX} (busybox-static) is needed"
        );
        eprintln!("skipping: {BUSYBOX} is missing or not static");
        return;
    }
    let sp = spawnprof_path();
    // 1. Ring buffer: 4 KiB, read only after the command is done; 30 spawns write ~30 KiB.
    let ring = trace(
        "EVENTS=4096,hold_reader=1",
        "i=0; while [ $i -lt 30 ]; do /bin/true; i=$((i+1)); done",
    );
    assert!(loss(&ring, "ring buffer full") > 0, "{ring}");
    let (_, _, lost) = check_balance(&ring);
    assert!(lost > 0, "no spawn record lost to the ring buffer: {ring}");

    // 2. Maps and the reader's bound. FOLLOWED=3: the root sh, then two nested levels; the
    // third level cannot be followed. STARTUP=1: the static root holds it, so every
    // dynamic exec's window fails. PROC=1: the root's fault state holds it. WAITID_INFOP=1:
    // the outer `spawnprof run` waits (waitid P_PIDFD) while the inner one waits too.
    // max_open=1: the two background readers are still running when the trace ends.
    let maps = trace(
        "FOLLOWED=3,PROC=1,STARTUP=1,WAITID_INFOP=1,max_open=1",
        &format!(
            "{sp} run --strategy vfork -- {sp} run --strategy vfork -- /bin/true; \
             exec 3<&0; {BUSYBOX} cat <&3 >/dev/null 2>&1 & {BUSYBOX} cat <&3 >/dev/null 2>&1 &"
        ),
    );
    for name in [
        "followed map full",
        "fault state map full",
        "startup map full",
        "waitid map full",
        "evicted records",
    ] {
        assert!(loss(&maps, name) > 0, "{name} stayed 0: {maps}");
    }
    check_balance(&maps);
}
