//! spawnprof's probes. Every program here filters on "is this task followed?" first and does as
//! little as it can for tasks that are not, because most of them fire for every process on the
//! host (syscall tracepoints, page faults).
//!
//! Kernel/user contract: `spawn-common`. Tracepoint field offsets come from the loader
//! (`LAYOUT`), read from tracefs at start-up, never hard-coded here.
#![no_std]
#![no_main]

mod clone;
mod emit;
mod exec;
mod exec_marks;
mod exit;
mod faults;
mod fdpath;
mod ident;
mod regs;
mod startup;
mod state;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any program that could reach this; it only satisfies the linker.
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
