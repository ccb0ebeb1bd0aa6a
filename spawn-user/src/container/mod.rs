//! Naming the cgroup ids the probes report: [`resolve`] maps an id to its path on this host
//! (walking the cgroup2 tree), [`pidns`] finds spawnprof's own pid namespace. What a path
//! means (which runtime, container, pod) is pure and lives in `spawn_analysis::container`.
pub mod pidns;
pub mod resolve;
