//! Tiny static children built by build.rs (`cc -static -nostdlib`, no libc, no loader), for
//! tests and benchmarks that want the smallest possible exec: no dynamic loader, no libc
//! start-up, so what is measured is the spawn itself.
//!
//! Not library API: only with the `test-children` feature. The paths point into this crate's
//! build directory (`OUT_DIR`), so they are valid on the machine that built it, not in a
//! deployed binary.

/// Exits with status 0 as its first instruction.
pub const EXIT0: &str = concat!(env!("OUT_DIR"), "/exit0");

/// Prints the CLOCK_MONOTONIC time (ns, decimal, newline) read by its first instruction to
/// stdout, then exits 0. Subtract the parent's spawn-entry time to get spawn-to-first-instruction.
pub const FIRST_INSTRUCTION: &str = concat!(env!("OUT_DIR"), "/first_instruction");
