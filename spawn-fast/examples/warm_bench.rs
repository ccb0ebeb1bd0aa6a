//! Warm spawns against posix_spawn, interleaved, per program: median spawn+wait per run and
//! the ratio of medians, over several runs (the spread of the ratio is the run-level interval).
//!
//! `cargo run --release -p spawn-fast --example warm_bench -- [--runs R] [--count N]
//! [--pool N] [--only NAME,NAME...]`
//!
//! Lanes per program: `posix` (`Strategy::PosixSpawn`), `warm` (a `WarmTemplate`), and with
//! `--pool N` also `pool` (a `WarmTemplate` with N pre-forked children). Each round spawns the
//! program once in every lane, in turn, with stdin/stdout/stderr on /dev/null, and waits.
//! Also prints the pool's spawn-to-main latency when `--pool` is given: the time from the spawn
//! call to the child's first write on a pipe (`/bin/echo`).

use spawn_fast::{Command, Stdio, Strategy, WarmTemplate};
use std::io::Read;
use std::time::Instant;

/// Programs of the equivalence corpus (tests/warm_corpus.rs), with cheap arguments.
const CORPUS: &[(&str, &[&str])] = &[
    ("/bin/true", &[]),
    ("/bin/false", &[]),
    ("/bin/ls", &["/"]),
    ("/bin/date", &["-u"]),
    ("/bin/echo", &["hello"]),
    ("/usr/bin/env", &[]),
    ("/bin/cat", &["/etc/hostname"]),
    ("/usr/bin/id", &[]),
    ("/bin/sed", &["-n", "1p", "/etc/passwd"]),
    ("/bin/grep", &["root", "/etc/passwd"]),
    ("/usr/bin/sort", &["/etc/passwd"]),
    ("/usr/bin/wc", &["/etc/passwd"]),
    ("/bin/pwd", &[]),
    ("/usr/bin/seq", &["10"]),
    ("/usr/bin/md5sum", &["/etc/hostname"]),
    ("/usr/bin/base64", &["/etc/hostname"]),
    ("/bin/gzip", &["-c", "/etc/hostname"]),
    ("/bin/tar", &["--version"]),
    ("/usr/bin/git", &["--version"]),
    ("/usr/bin/python3", &["-V"]),
    ("/usr/bin/perl", &["-e", "1"]),
    ("/usr/bin/mawk", &["BEGIN { print 1 }"]),
    ("/usr/bin/find", &["/etc", "-maxdepth", "0"]),
    ("/usr/bin/stat", &["/etc"]),
    ("/bin/sh", &["-c", "exit 0"]),
];

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn cmd(prog: &str, args: &[&str]) -> Command {
    let mut c = Command::new(prog);
    c.args(args)
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    c
}

fn timed(f: impl FnOnce() -> std::io::Result<spawn_fast::Child>) -> u64 {
    let t = Instant::now();
    let mut c = f().expect("spawn");
    let s = c.wait().expect("wait");
    assert!(s.code().is_some(), "{s:?}");
    t.elapsed().as_nanos() as u64
}

fn geo(v: &[f64]) -> f64 {
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runs: usize = opt("--runs").map_or(5, |s| s.parse().unwrap());
    let count: usize = opt("--count").map_or(200, |s| s.parse().unwrap());
    let pool: usize = opt("--pool").map_or(0, |s| s.parse().unwrap());
    let only = opt("--only");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "runs {runs} x {count} rounds per program, load {}",
        load.trim()
    );
    let mut geo_warm = Vec::new();
    let mut geo_pool = Vec::new();
    for &(prog, pargs) in CORPUS {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|o| prog.ends_with(o)))
        {
            continue;
        }
        let mut posix = cmd(prog, pargs);
        posix.strategy(Strategy::PosixSpawn);
        let t = WarmTemplate::new(&cmd(prog, pargs)).expect("template");
        let pooled = (pool > 0).then(|| {
            WarmTemplate::new(&cmd(prog, pargs))
                .expect("template")
                .with_pool(pool)
                .expect("pool")
        });
        let mut wc = cmd(prog, pargs);
        // Warm up both.
        for _ in 0..20 {
            timed(|| posix.spawn());
            timed(|| t.spawn_command(&mut wc));
        }
        let mut ratios = Vec::new();
        let mut pratios = Vec::new();
        for run in 0..runs {
            let (mut a, mut b, mut p) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..count {
                // Alternate the order so neither lane always runs first.
                if i % 2 == 0 {
                    a.push(timed(|| posix.spawn()));
                    b.push(timed(|| t.spawn_command(&mut wc)));
                } else {
                    b.push(timed(|| t.spawn_command(&mut wc)));
                    a.push(timed(|| posix.spawn()));
                }
                if let Some(pt) = &pooled {
                    p.push(timed(|| pt.spawn_command(&mut wc)));
                }
            }
            let (ma, mb) = (median(&mut a), median(&mut b));
            let r = ma as f64 / mb as f64;
            ratios.push(r);
            let mut line = format!(
                "{prog:<14} run {run}: posix {:>7.1} us  warm {:>7.1} us  x{r:.2}",
                ma as f64 / 1e3,
                mb as f64 / 1e3
            );
            if !p.is_empty() {
                let mp = median(&mut p);
                let rp = ma as f64 / mp as f64;
                pratios.push(rp);
                line += &format!("  pool {:>7.1} us  x{rp:.2}", mp as f64 / 1e3);
            }
            println!("{line}");
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "{prog:<14} warm speed-up: median x{:.2} (runs min x{:.2} max x{:.2})",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
        geo_warm.push(ratios[ratios.len() / 2]);
        if !pratios.is_empty() {
            pratios.sort_by(f64::total_cmp);
            println!(
                "{prog:<14} pool speed-up: median x{:.2} (runs min x{:.2} max x{:.2})",
                pratios[pratios.len() / 2],
                pratios[0],
                pratios[pratios.len() - 1]
            );
            geo_pool.push(pratios[pratios.len() / 2]);
        }
    }
    println!("geometric mean speed-up: warm x{:.2}", geo(&geo_warm));
    if !geo_pool.is_empty() {
        println!("geometric mean speed-up: pool x{:.2}", geo(&geo_pool));
    }
    if pool > 0 {
        spawn_to_main(pool, count);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load at end {}", load.trim());
}

/// Time from the spawn call to the first byte the child writes (`echo x` into a pipe): with
/// posix_spawn, with a warm image, with a pool.
fn spawn_to_main(pool: usize, count: usize) {
    let base = {
        let mut c = Command::new("/bin/echo");
        c.arg("x").stdin(Stdio::Null).stderr(Stdio::Null);
        c
    };
    let t = WarmTemplate::new(&base).expect("template");
    let p = WarmTemplate::new(&base)
        .expect("template")
        .with_pool(pool)
        .expect("pool");
    let one = |f: &dyn Fn(&mut Command) -> std::io::Result<spawn_fast::Child>| {
        let mut c = base.clone();
        c.stdout(Stdio::Piped);
        let t0 = Instant::now();
        let mut ch = f(&mut c).expect("spawn");
        let mut b = [0u8; 1];
        ch.stdout.as_mut().unwrap().read_exact(&mut b).unwrap();
        let dt = t0.elapsed().as_nanos() as u64;
        ch.wait().unwrap();
        dt
    };
    let (mut a, mut w, mut q) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..count {
        a.push(one(&|c| c.strategy(Strategy::PosixSpawn).spawn()));
        w.push(one(&|c| t.spawn_command(c)));
        q.push(one(&|c| p.spawn_command(c)));
    }
    println!(
        "spawn-to-first-output (echo): posix {:.1} us, warm {:.1} us, pool({pool}) {:.1} us",
        median(&mut a) as f64 / 1e3,
        median(&mut w) as f64 / 1e3,
        median(&mut q) as f64 / 1e3
    );
}
