//! Tiny static children built by build.rs (`cc -static -nostdlib`, no libc, no loader).

/// Exits with status 0 as its first instruction.
pub const EXIT0: &str = concat!(env!("OUT_DIR"), "/exit0");

/// Prints the CLOCK_MONOTONIC time (ns, decimal, newline) read by its first instruction to
/// stdout, then exits 0. Subtract the parent's spawn-entry time to get spawn-to-first-instruction.
pub const FIRST_INSTRUCTION: &str = concat!(env!("OUT_DIR"), "/first_instruction");
