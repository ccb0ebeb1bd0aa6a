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
//!
//! Where to start, each with an example: [`assemble`] (events in, records out),
//! [`record::SpawnRecord`] (the schema), [`report::json::to_line`] (a record as a JSON line),
//! [`phase`] (the phase list and its order), [`tree`] (records as a process tree) and
//! [`container::identify`].
//!
//! Units and absence, everywhere: times are nanoseconds of CLOCK_MONOTONIC (the clock of
//! `bpf_ktime_get_ns()`), and a value that was not measured is `None` (`null` in JSON), never
//! 0; a 0 means "measured, took no time".
#![warn(missing_docs)]
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
