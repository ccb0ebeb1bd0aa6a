//! Runs (blocks) for the experiments' intervals: every interval is over runs, and a run is a
//! block of consecutive rounds of one worker process (all its lanes interleaved in it), so
//! that the lanes of one run are paired and the machine's drift between runs shows in the
//! interval instead of being averaged away by pooling spawns.

/// Runs per pass when a pass is one worker process: a few passes become enough runs for an
/// order-statistic interval (at least `stats::MIN_RUNS`).
pub const BLOCKS_PER_PASS: usize = 4;

/// The run of round `round` (of `rounds`) in pass `pass`, cut into `per_pass` blocks.
pub fn run_of(pass: usize, per_pass: usize, round: usize, rounds: usize) -> usize {
    let per_pass = per_pass.max(1);
    pass * per_pass + (round * per_pass / rounds.max(1)).min(per_pass - 1)
}

/// Values grouped by run: `runs[r]` holds run `r`'s values.
#[derive(Clone, Debug, Default)]
pub struct Runs(pub Vec<Vec<f64>>);

impl Runs {
    pub fn push(&mut self, run: usize, v: f64) {
        if self.0.len() <= run {
            self.0.resize(run + 1, Vec::new());
        }
        self.0[run].push(v);
    }

    /// Every value, pooled (for descriptions: medians, p10/p90; never for intervals).
    pub fn pooled(&self) -> Vec<f64> {
        self.0.iter().flatten().copied().collect()
    }

    /// One median per run, NaN for a run without values (runs stay aligned by index).
    pub fn medians(&self, runs: usize) -> Vec<f64> {
        let mut m = spawn_analysis::stats::run_medians(&self.0);
        m.resize(runs.max(m.len()), f64::NAN);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_fall_into_blocks_and_runs_align() {
        let r: Vec<usize> = (0..8).map(|i| run_of(1, 4, i, 8)).collect();
        assert_eq!(r, [4, 4, 5, 5, 6, 6, 7, 7]);
        assert_eq!(run_of(0, 4, 99, 8), 3);
        let mut x = Runs::default();
        x.push(2, 5.0);
        x.push(0, 1.0);
        x.push(0, 3.0);
        let m = x.medians(4);
        assert_eq!((m[0], m[2], m.len()), (2.0, 5.0, 4));
        assert!(m[1].is_nan() && m[3].is_nan());
        assert_eq!(x.pooled().len(), 3);
    }
}
