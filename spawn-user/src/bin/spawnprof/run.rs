//! `spawnprof run`: one command through a spawn-fast strategy, its exit status passed on.

use anyhow::Context as _;
use spawn_fast::Strategy;

use crate::CmdLine;

/// Run CMD through a spawn-fast strategy with inherited stdio and exit with its status
/// (128 + signal when killed).
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// fork, vfork, posix-spawn, clone3, zygote, warm or auto.
    #[arg(long, default_value = "auto")]
    pub strategy: Strategy,
    /// Run CMD this many times, one after the other; stops at the first failure.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    #[command(flatten)]
    pub command: CmdLine,
}

/// `spawnprof run`: the exit code of the first failed run, else 0.
pub fn run(a: RunArgs) -> anyhow::Result<u8> {
    let strategy = a.strategy;
    let (program, args) = a.command.split();
    let mut cmd = spawn_fast::Command::new(&program);
    cmd.args(&args).strategy(strategy);
    for _ in 0..a.repeat {
        let status = cmd
            .status()
            .with_context(|| format!("running {} ({strategy})", program.to_string_lossy()))?;
        let code = match (status.code(), status.signal()) {
            (Some(c), _) => c,
            (None, Some(sig)) => 128 + sig,
            _ => 255,
        };
        if code != 0 {
            return Ok(code.clamp(0, 255) as u8);
        }
    }
    Ok(0)
}
