//! Project tasks for spawnprof: `cargo xtask setup`, `test`, `demo` and `experiment NAME`.
//!
//! Everything runs through `std::process::Command` so that each step is a command a person
//! could type, and a failure names the step and the command that failed.

mod demo;
mod experiment;
mod linker;
mod load;
mod matrix;
mod setup;
mod test;
mod util;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Project tasks for spawnprof", disable_help_subcommand = true)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Check and install what building and running spawnprof needs (idempotent).
    Setup {
        /// Install bpf-linker under DIR/bin instead of cargo's default root (for trying the
        /// install path without replacing the bpf-linker that builds use).
        #[arg(long, value_name = "DIR")]
        install_root: Option<PathBuf>,
    },
    /// Run setup, then fmt, both clippy passes and all tests; stops at the first failure.
    Test(test::Args),
    /// Run setup, build spawnprof and trace a built-in workload (or COMMAND after `--`).
    Demo {
        /// Command to trace instead of the default workload.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Run an experiment end to end and write its report under reports/NAME (or --out).
    Experiment(experiment::Args),
    /// Run the root integration tests on Debian's 5.10, 6.1 and 6.12 kernels (under qemu) and
    /// on the host, and print a kernel x test table.
    Matrix(matrix::Args),
    /// Internal: the measuring process the experiments start (and trace) in release mode.
    #[command(hide = true)]
    ExperimentWorker {
        /// The job, as JSON.
        job: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Setup { install_root } => setup::run(install_root.as_deref()).map(|()| 0),
        Task::Test(args) => test::run(&args).map(|()| 0),
        Task::Demo { command } => demo::run(&command),
        Task::Experiment(args) => experiment::run(&args).map(|()| 0),
        Task::Matrix(args) => matrix::run(&args),
        Task::ExperimentWorker { job } => experiment::worker::main(&job).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
