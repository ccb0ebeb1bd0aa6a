//! Spawns one program N times with one strategy (for profiling with perf/strace):
//! `warm_loop STRATEGY N PROGRAM [ARGS...]` (STRATEGY: warm or posix-spawn). Environment:
//! `POOL=N` (warm with a pool), `CLOSE=1` (close_other_fds), `BINDNOW=1` (LD_BIND_NOW=1).
use spawn_fast::{Command, Stdio, Strategy, WarmTemplate};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = a[1].parse().unwrap();
    let mut c = Command::new(&a[2]);
    c.args(&a[3..])
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    if std::env::var_os("BINDNOW").is_some() {
        // Experiment: the image binds every symbol before the park (the program sees the
        // variable too).
        c.env("LD_BIND_NOW", "1");
    }
    if std::env::var_os("CLOSE").is_some() {
        c.close_other_fds(true);
    }
    let pool: usize = std::env::var("POOL").map_or(0, |v| v.parse().unwrap());
    let t = (a[0] == "warm").then(|| {
        let t = WarmTemplate::new(&c).unwrap();
        if pool > 0 {
            t.with_pool(pool).unwrap()
        } else {
            t
        }
    });
    c.strategy(a[0].parse::<Strategy>().unwrap_or(Strategy::PosixSpawn));
    let mut v = Vec::with_capacity(n);
    let mut sp = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let mut ch = match &t {
            Some(t) => t.spawn_command(&mut c).unwrap(),
            None => c.spawn().unwrap(),
        };
        sp.push(t0.elapsed().as_nanos() as u64);
        ch.wait().unwrap();
        v.push(t0.elapsed().as_nanos() as u64);
    }
    v.sort_unstable();
    sp.sort_unstable();
    println!(
        "median spawn+wait {:.1} us (spawn returned after {:.1} us)",
        v[n / 2] as f64 / 1e3,
        sp[n / 2] as f64 / 1e3
    );
}
