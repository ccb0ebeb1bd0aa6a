//! Ctrl-C and SIGTERM ask the long-running commands to stop: their loop sees [`Stop::wait`]
//! finish, flushes what was recorded and prints its summary, instead of dying mid-write.
use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM, through tokio's signal driver.
pub struct Stop {
    int: Signal,
    term: Signal,
    stopped: bool,
}

impl Stop {
    /// Installs the handlers for SIGINT and SIGTERM (and ignores SIGPIPE, so that a closed
    /// output pipe is a write error we report, not a silent death). Must run inside the
    /// runtime, and before the command tells anyone it is ready: a signal that comes earlier
    /// kills it with the default action.
    pub fn install() -> io::Result<Self> {
        // SAFETY: SIG_IGN for SIGPIPE has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        Ok(Stop {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            stopped: false,
        })
    }

    /// Resolves once a stop was asked for (at once every time after that). Cancel-safe.
    pub async fn wait(&mut self) {
        if self.stopped {
            return;
        }
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        self.stopped = true;
    }
}
