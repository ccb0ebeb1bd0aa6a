//! The zygote stays small when its caller grows, and its death is reported.

use spawn_fast::{Command, Strategy};
use std::io::ErrorKind;

fn rss_of(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    s.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

#[test]
fn zygote_survives_growth_and_reports_death() {
    let zpid = spawn_fast::zygote::start().unwrap();
    let mut c = Command::new("/bin/true");
    c.strategy(Strategy::Zygote);
    assert!(c.status().unwrap().success());

    // The caller grows by 256 MiB; the zygote must not, and must keep serving.
    let ballast = vec![1u8; 256 << 20]; // every page written
    std::hint::black_box(&ballast);
    assert!(c.status().unwrap().success());
    assert_eq!(spawn_fast::zygote::pid(), Some(zpid));
    let (me, z) = (rss_of(std::process::id()), rss_of(zpid));
    assert!(z + (200 << 20) < me, "zygote RSS {z} vs caller {me}");
    drop(ballast);

    // Children are not ours: the status comes from the zygote.
    let st = Command::new("/bin/sh")
        .args(["-c", "exit 9"])
        .strategy(Strategy::Zygote)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(9));

    // Kill the zygote while one of its children runs: waiting reports the death.
    let mut long = Command::new("/bin/sleep")
        .arg("5")
        .strategy(Strategy::Zygote)
        .spawn()
        .unwrap();
    // SAFETY: signals the zygote we started.
    assert_eq!(unsafe { libc::kill(zpid as i32, libc::SIGKILL) }, 0);
    let err = long.wait().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert!(err.to_string().contains("zygote died"), "{err}");
    long.kill().unwrap();
    // The zygote's death is noticed by a watcher thread; the deadline only turns a hang into
    // a failure, far beyond any scheduling delay on a loaded machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while spawn_fast::zygote::last_death().is_none() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        spawn_fast::zygote::last_death().unwrap().signal(),
        Some(libc::SIGKILL)
    );

    // The next spawn starts a new zygote.
    assert!(c.status().unwrap().success());
    let new = spawn_fast::zygote::pid().unwrap();
    assert_ne!(new, zpid);
}
