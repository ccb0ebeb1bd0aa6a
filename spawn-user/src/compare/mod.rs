//! `spawnprof compare`, the measuring half: blocks of interleaved untraced and traced runs
//! ([`run`]). What the numbers mean (intervals, verdicts, warnings) is
//! `spawn_analysis::compare`.

pub mod run;

use std::io;

use spawn_analysis::compare::{CompareReport, Design, analyse};
use spawn_analysis::stats;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("compare needs at least two commands")]
    TooFewCommands,
    #[error("cannot split {0:?} into words (unbalanced quotes?)")]
    Split(String),
    #[error("--runs {0}: at least {min} runs are needed for a 95% interval", min = stats::MIN_RUNS)]
    TooFewRuns(usize),
    #[error("cannot run `{0}`: {1}")]
    Spawn(String, io::Error),
    #[error("cannot find spawnprof's own binary to trace with: {0}")]
    SelfPath(io::Error),
    #[error("tracing a run: {0}")]
    Trace(io::Error),
    #[error("the traced run failed: {0}")]
    TraceFailed(String),
}

#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// The command lines as given (labels) and split into argv.
    pub labels: Vec<String>,
    pub commands: Vec<Vec<String>>,
    pub runs: usize,
    pub warmup: usize,
    pub spawns: usize,
    /// Traced runs for the phases (off: wall time only).
    pub phases: bool,
    pub seed: u64,
    pub quiet: bool,
}

impl CompareOptions {
    /// The part of the options the analysis reports.
    pub fn design(&self) -> Design {
        Design {
            labels: self.labels.clone(),
            runs: self.runs,
            warmup: self.warmup,
            spawns: self.spawns,
            seed: self.seed,
        }
    }

    /// Splits each command like a shell would (quotes, escapes), or wraps it in `sh -c` with
    /// `shell`.
    pub fn split(
        cmds: &[String],
        shell: bool,
    ) -> Result<(Vec<String>, Vec<Vec<String>>), CompareError> {
        if cmds.len() < 2 {
            return Err(CompareError::TooFewCommands);
        }
        let argv = cmds
            .iter()
            .map(|c| {
                if shell {
                    Ok(vec!["/bin/sh".to_string(), "-c".to_string(), c.clone()])
                } else {
                    shlex::split(c)
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| CompareError::Split(c.clone()))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok((cmds.to_vec(), argv))
    }
}

/// Measures and analyses.
pub fn run(opts: &CompareOptions) -> Result<CompareReport, CompareError> {
    if opts.commands.len() < 2 {
        return Err(CompareError::TooFewCommands);
    }
    if opts.runs < stats::MIN_RUNS {
        return Err(CompareError::TooFewRuns(opts.runs));
    }
    let measured = run::measure(opts)?;
    Ok(analyse(&opts.design(), &measured))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_like_a_shell() {
        let (_, argv) =
            CompareOptions::split(&["ls -l 'a b'".into(), "echo \"x y\"".into()], false).unwrap();
        assert_eq!(argv[0], ["ls", "-l", "a b"]);
        assert_eq!(argv[1], ["echo", "x y"]);
        let (_, argv) = CompareOptions::split(&["a | b".into(), "c".into()], true).unwrap();
        assert_eq!(argv[0], ["/bin/sh", "-c", "a | b"]);
        assert!(CompareOptions::split(&["'open".into(), "x".into()], false).is_err());
        assert!(CompareOptions::split(&["x".into()], false).is_err());
    }
}
