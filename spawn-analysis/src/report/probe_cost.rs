//! What the probes themselves cost, as the kernel counted it (`--probe-stats`): hits and BPF
//! run time per program, from the kernel's BPF run-time statistics.
//!
//! The kernel's figure covers the BPF program only. It leaves out the tracepoint's own
//! dispatch, the syscall slow path that enabled syscall tracepoints impose on every task, and
//! the reader's CPU time; the `overhead` experiment measures the sum of those from outside.

/// One program's counters over the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCost {
    /// The BPF program's name.
    pub program: String,
    /// How many times it ran.
    pub hits: u64,
    /// Its total run time, ns; both counters only grow while the kernel's BPF run-time
    /// statistics are on.
    pub run_ns: u64,
}

/// A table of probe costs, most expensive first, with totals; `spawns` (the records written)
/// turns totals into a per-spawn figure. Programs that never ran are left out.
pub fn render(costs: &[ProbeCost], spawns: usize) -> String {
    let mut rows: Vec<&ProbeCost> = costs.iter().filter(|c| c.hits > 0).collect();
    rows.sort_by(|a, b| b.run_ns.cmp(&a.run_ns).then(a.program.cmp(&b.program)));
    let mut out = String::from("probe costs (kernel BPF run-time statistics, all processes):\n");
    if rows.is_empty() {
        out.push_str("  no probe ran\n");
        return out;
    }
    let row = |out: &mut String, program: &str, hits: &str, per: &str, total: &str| {
        out.push_str(&format!(
            "  {program:<24} {hits:>10} {per:>8} {total:>11}\n"
        ));
    };
    let fmt_ns = crate::report::fmt_ns;
    row(&mut out, "program", "hits", "ns/hit", "total");
    for c in &rows {
        let per = (c.run_ns / c.hits).to_string();
        row(
            &mut out,
            &c.program,
            &c.hits.to_string(),
            &per,
            &fmt_ns(c.run_ns),
        );
    }
    let hits: u64 = rows.iter().map(|c| c.hits).sum();
    let run_ns: u64 = rows.iter().map(|c| c.run_ns).sum();
    let per = (run_ns / hits).to_string();
    row(&mut out, "all", &hits.to_string(), &per, &fmt_ns(run_ns));
    if spawns > 0 {
        out.push_str(&format!(
            "  per recorded spawn: {:.1} hits, {} of BPF time (other processes' events included)\n",
            hits as f64 / spawns as f64,
            crate::report::fmt_ns(run_ns / spawns as u64)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(program: &str, hits: u64, run_ns: u64) -> ProbeCost {
        ProbeCost {
            program: program.into(),
            hits,
            run_ns,
        }
    }

    #[test]
    fn sorted_by_cost_with_totals_and_per_spawn() {
        let t = render(
            &[
                cost("sys_enter_clone3", 10, 4_000),
                cost("sched_process_exec", 10, 6_000),
                cost("sys_enter_fork", 0, 0),
            ],
            5,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[2].trim_start().starts_with("sched_process_exec"),
            "{t}"
        );
        assert!(lines[3].trim_start().starts_with("sys_enter_clone3"), "{t}");
        assert!(!t.contains("sys_enter_fork"), "{t}");
        let all: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(all[..3], ["all", "20", "500"], "{t}");
        assert!(t.contains("per recorded spawn: 4.0 hits, 2.00µs"), "{t}");
    }

    #[test]
    fn nothing_ran() {
        assert!(render(&[cost("x", 0, 0)], 3).contains("no probe ran"));
    }
}
