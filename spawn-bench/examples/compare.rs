//! Side-by-side medians of every lane, interleaved, via the `spawn_bench` module.
//!
//! `cargo run --release -p spawn-bench --example compare -- [SIZE] [dirty|untouched|fragmented] [COUNT]`

use spawn_bench::{BenchConfig, BenchStrategy, parse_size, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = BenchConfig {
        strategies: BenchStrategy::all(),
        parent_rss: parse_size(args.first().map_or("0", |s| s))?,
        ballast: args.get(1).map_or(Ok(Default::default()), |s| s.parse())?,
        count: args.get(2).map_or(Ok(500), |s| s.parse())?,
        ..Default::default()
    };
    let r = run(&cfg)?;
    let reference = r
        .results
        .iter()
        .find(|l| l.strategy == BenchStrategy::RawVfork)
        .map(|l| l.stats.median_ns as f64);
    println!(
        "parent RSS {} MiB, {} spawns per lane, child {}",
        r.parent_rss_measured >> 20,
        cfg.count,
        cfg.child.display()
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8}",
        "lane", "median µs", "p10 µs", "p90 µs", "p99 µs", "spawns/s", "/raw"
    );
    for l in &r.results {
        let s = &l.stats;
        let ratio = reference.map_or(f64::NAN, |r| s.median_ns as f64 / r);
        println!(
            "{:<12} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>12.0} {:>8.2}",
            l.strategy.to_string(),
            s.median_ns as f64 / 1e3,
            s.p10_ns as f64 / 1e3,
            s.p90_ns as f64 / 1e3,
            s.p99_ns as f64 / 1e3,
            s.spawns_per_sec,
            ratio
        );
    }
    Ok(())
}
