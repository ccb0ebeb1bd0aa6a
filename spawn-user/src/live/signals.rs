//! Ctrl-C and SIGTERM ask the long-running commands to stop: the main loop sees the flag,
//! flushes what was recorded and prints its summary, instead of dying mid-write.
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the handlers for SIGINT and SIGTERM (and ignores SIGPIPE, so that a closed
/// output pipe is a write error we report, not a silent death).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    // SAFETY: SIG_IGN for SIGPIPE has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Whether a stop was asked for.
pub fn stopping() -> bool {
    STOP.load(Ordering::Relaxed)
}
