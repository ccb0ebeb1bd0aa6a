//! spawnprof: where the time goes when Linux spawns a process. This crate is the kernel-facing
//! half: it checks the host ([`preflight`]), loads and attaches the probes ([`loader`],
//! [`attach`]), reads their ring buffer ([`collector`]), runs sessions ([`session`], [`live`])
//! and drives known spawns through spawn-fast ([`workload`], [`bench`], [`compare`]). What the
//! events mean (records, phases, statistics, reports, plots) is the pure `spawn_analysis`.
pub mod attach;
pub mod bench;
pub mod collector;
pub mod compare;
pub mod container;
pub mod glibc;
pub mod kernel_btf;
pub mod live;
pub mod loader;
pub mod preflight;
pub mod session;
pub mod test_limits;
pub mod tracefs;
pub mod workload;
