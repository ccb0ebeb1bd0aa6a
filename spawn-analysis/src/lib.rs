//! spawnprof's pure half: everything between the probes' raw events and what a person reads.
//! No syscalls, no root, no eBPF: each module is unit-tested from synthetic inputs.
//!
//! The data flow: [`decode`] turns the probes' ring-buffer bytes into typed events;
//! [`assemble`] folds events into one [`record::SpawnRecord`] per spawn and computes its
//! phases (named once, in [`phase`]); [`report`] renders records as tables, JSON lines, CSV
//! and summaries, [`plot`] as SVG charts and a timeline, [`tree`] as a process tree;
//! [`stats`] holds the one percentile definition and the intervals every report uses;
//! [`compare`] analyses `spawnprof compare` runs; [`losses`] accounts for every event the
//! kernel side could not deliver; [`container`] names the container a cgroup path belongs to.
pub mod assemble;
pub mod compare;
pub mod container;
pub mod decode;
pub mod losses;
pub mod phase;
pub mod plot;
pub mod record;
pub mod report;
pub mod stats;
pub mod tree;
