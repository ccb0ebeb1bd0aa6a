//! Waiting: how a child's end is read (`waitid` on a pidfd, `poll` for readiness) and the
//! [`ExitStatus`] it yields. Shared by `Child`, the reaper thread and the zygote, which must
//! not depend on one another for it.
use std::fmt;
use std::io;

/// How a child ended, as a raw wait status (same encoding as std's `ExitStatus::into_raw`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ExitStatus(pub(crate) i32);

impl ExitStatus {
    /// From a raw wait status.
    pub fn from_raw(raw: i32) -> Self {
        ExitStatus(raw)
    }
    /// The raw wait status.
    pub fn into_raw(self) -> i32 {
        self.0
    }
    /// The exit code, if the child exited normally.
    pub fn code(&self) -> Option<i32> {
        libc::WIFEXITED(self.0).then(|| libc::WEXITSTATUS(self.0))
    }
    /// The signal that killed the child, if any.
    pub fn signal(&self) -> Option<i32> {
        libc::WIFSIGNALED(self.0).then(|| libc::WTERMSIG(self.0))
    }
    /// Whether the child dumped core when it was killed.
    pub fn core_dumped(&self) -> bool {
        libc::WIFSIGNALED(self.0) && libc::WCOREDUMP(self.0)
    }
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }
    pub(crate) fn from_siginfo(info: &libc::siginfo_t) -> Self {
        // SAFETY: the siginfo was filled by a successful waitid for an exited child.
        let status = unsafe { info.si_status() };
        ExitStatus(match info.si_code {
            libc::CLD_EXITED => (status & 0xff) << 8,
            libc::CLD_DUMPED => status | 0x80,
            _ => status,
        })
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(s: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus(s.into_raw())
    }
}

impl fmt::Debug for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal()) {
            (Some(c), _) => write!(f, "exit status: {c}"),
            (_, Some(s)) => write!(
                f,
                "signal: {s}{}",
                if self.core_dumped() {
                    " (core dumped)"
                } else {
                    ""
                }
            ),
            _ => write!(f, "unrecognised wait status: {:#x}", self.0),
        }
    }
}

/// waitid(P_PIDFD): Some(status) once exited, None with WNOHANG while it runs.
pub(crate) fn waitid(pidfd: i32, extra: i32) -> io::Result<Option<ExitStatus>> {
    waitid_on(libc::P_PIDFD, pidfd as libc::id_t, extra)
}

pub(crate) fn waitid_on(
    idtype: libc::idtype_t,
    id: libc::id_t,
    extra: i32,
) -> io::Result<Option<ExitStatus>> {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid only writes `info`, a valid out pointer; a stale id is an error.
        let r = unsafe { libc::waitid(idtype, id, &mut info, libc::WEXITED | extra) };
        if r == 0 {
            // SAFETY: waitid succeeded; si_pid is 0 when WNOHANG found nothing.
            let pid = unsafe { info.si_pid() };
            return Ok((pid != 0).then(|| ExitStatus::from_siginfo(&info)));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

pub(crate) fn poll_readable(fd: i32, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r >= 0 {
            return Ok(r > 0);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}
