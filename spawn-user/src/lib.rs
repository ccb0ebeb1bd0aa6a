//! spawnprof: where the time goes when Linux spawns a process.
//!
//! Pure parts (no syscalls, unit-tested from synthetic event streams): [`decode`],
//! [`assemble`], [`record`], [`report`], [`stats`], [`tracefs`] parsing. Kernel-facing parts:
//! [`preflight`], [`loader`], [`session`]. [`workload`] drives known spawns through spawn-fast.
pub mod assemble;
pub mod attach;
pub mod bench;
pub mod collector;
pub mod compare;
pub mod container;
pub mod decode;
pub mod glibc;
pub mod kernel_btf;
pub mod live;
pub mod loader;
pub mod losses;
pub mod plot;
pub mod preflight;
pub mod record;
pub mod report;
pub mod session;
pub mod stats;
pub mod test_limits;
pub mod tracefs;
pub mod tree;
pub mod workload;
