//! `Child` and `Output`: the running child and what waiting for it gives.

use crate::marks::Timing;
use crate::sys::{monotonic_ns, pidfd_send_signal};
pub use crate::wait::ExitStatus;
use crate::wait::{poll_readable, waitid, waitid_on};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

/// The captured result of `Command::output` / `Child::wait_with_output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How the child ended.
    pub status: ExitStatus,
    /// Everything the child wrote to stdout (empty unless stdout was `Stdio::Piped`, the
    /// default of `output`).
    pub stdout: Vec<u8>,
    /// Everything the child wrote to stderr (empty unless stderr was `Stdio::Piped`).
    pub stderr: Vec<u8>,
}

/// How the exit status reaches us.
#[derive(Debug)]
pub(crate) enum Handle {
    /// Our own child: waitid(P_PIDFD).
    Direct,
    /// A zygote's child: the zygote writes the raw wait status into this fd when it reaps it.
    Zygote { status: OwnedFd },
}

/// A spawned child process.
///
/// **pidfd**: opened when first needed (`pidfd()`, `kill`, `signal`, `wait_async`, a drop
/// before exit), not at spawn: creating one costs ~3.5 µs on Linux 6.18, 5% of a small spawn,
/// and most callers only wait. Opening it later is race-free because the pid cannot be reused
/// while the child is our unreaped child; `pidfd()` checks that with `waitid(WNOWAIT)`. When
/// the process reaps children automatically (SIGCHLD ignored or SA_NOCLDWAIT), that guarantee
/// is gone, so the pidfd is then created with the child (CLONE_PIDFD or at once).
///
/// **Drop**: dropping a `Child` that was not waited for leaves no zombie. A direct child that has
/// already exited is reaped on the spot (non-blocking); one still running is handed, with its
/// pidfd, to a background reaper thread that reaps it when it exits. Dropping never kills the
/// child and never blocks. A zygote's children are reaped by the zygote.
#[derive(Debug)]
pub struct Child {
    pub(crate) pid: libc::pid_t,
    pub(crate) pidfd: OnceLock<OwnedFd>,
    pub(crate) handle: Handle,
    pub(crate) status: Option<ExitStatus>,
    pub(crate) timing: Timing,
    /// The parent's end of the child's stdin, when `Stdio::Piped`.
    pub stdin: Option<File>,
    /// The parent's end of the child's stdout, when `Stdio::Piped`.
    pub stdout: Option<File>,
    /// The parent's end of the child's stderr, when `Stdio::Piped`.
    pub stderr: Option<File>,
}

impl Child {
    /// A child that was just spawned (now is its `t_spawned_ns`), with the parent's ends of
    /// its piped stdin, stdout and stderr.
    pub(crate) fn spawned(
        pid: libc::pid_t,
        pidfd: Option<OwnedFd>,
        handle: Handle,
        t_enter_ns: u64,
        [stdin, stdout, stderr]: [Option<File>; 3],
    ) -> Child {
        Child {
            pid,
            pidfd: pidfd.map(OnceLock::from).unwrap_or_default(),
            handle,
            status: None,
            timing: Timing {
                t_enter_ns,
                t_spawned_ns: monotonic_ns(),
                t_reaped_ns: None,
            },
            stdin,
            stdout,
            stderr,
        }
    }

    /// The child's pid (in the caller's pid namespace).
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// The child's pidfd (for poll/epoll, `pidfd_send_signal`, ...), opened on first use.
    /// Fails with ESRCH once the child has been reaped.
    pub fn pidfd(&self) -> io::Result<BorrowedFd<'_>> {
        if let Some(fd) = self.pidfd.get() {
            return Ok(fd.as_fd());
        }
        if self.status.is_some() {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        let fd = open_own_pidfd(self.pid)?;
        // Another thread may have won the race to set it: its fd is as good as ours.
        let _ = self.pidfd.set(fd);
        Ok(self.pidfd.get().expect("set above").as_fd())
    }

    /// Userspace CLOCK_MONOTONIC timestamps of this spawn.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Sends SIGKILL. Succeeds without effect if the child was already reaped or has exited.
    pub fn kill(&mut self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Sends `sig` through the pidfd (no pid-reuse race).
    pub fn signal(&mut self, sig: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let sent = self
            .pidfd()
            .and_then(|fd| pidfd_send_signal(fd.as_raw_fd(), sig));
        match sent {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            r => r,
        }
    }

    /// Waits for the child to exit (closing our end of its stdin first, as std does).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(s) = self.status {
            return Ok(s);
        }
        let s = match &self.handle {
            Handle::Direct => self
                .wait_direct(0)?
                .expect("blocking waitid returns a status"),
            Handle::Zygote { status } => read_zygote_status(status)?,
        };
        Ok(self.record(s))
    }

    /// Returns the status if the child has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        let s = match &self.handle {
            Handle::Direct => self.wait_direct(libc::WNOHANG)?,
            Handle::Zygote { status } => {
                if poll_readable(status.as_raw_fd(), 0)? {
                    Some(read_zygote_status(status)?)
                } else {
                    None
                }
            }
        };
        Ok(s.map(|s| self.record(s)))
    }

    /// Reads stdout and stderr to the end (both at once, so neither pipe can fill up and stall
    /// the child), then waits.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read_both(self.stdout.take(), self.stderr.take())?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Async wait on the pidfd (feature `tokio`; needs a tokio runtime with IO enabled).
    #[cfg(feature = "tokio")]
    pub async fn wait_async(&mut self) -> io::Result<ExitStatus> {
        use tokio::io::Interest;
        use tokio::io::unix::AsyncFd;
        drop(self.stdin.take());
        if let Some(s) = self.status {
            return Ok(s);
        }
        let fd = match &self.handle {
            Handle::Direct => self.pidfd()?.try_clone_to_owned()?,
            Handle::Zygote { status } => status.try_clone()?,
        };
        // SAFETY: the AsyncFd takes ownership of a fresh duplicate, which therefore stays
        // open and refers to the same description for its whole lifetime.
        let afd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        loop {
            let mut guard = afd.readable().await?;
            if let Some(s) = self.try_wait()? {
                return Ok(s);
            }
            guard.clear_ready();
        }
    }

    /// A direct child's status: through the pidfd when we hold one, else by pid (ours and
    /// unreaped, so it cannot name another process).
    fn wait_direct(&self, extra: i32) -> io::Result<Option<ExitStatus>> {
        match self.pidfd.get() {
            Some(fd) => waitid(fd.as_raw_fd(), extra),
            None => waitid_on(libc::P_PID, self.pid as libc::id_t, extra),
        }
    }

    fn record(&mut self, s: ExitStatus) -> ExitStatus {
        self.status = Some(s);
        self.timing.t_reaped_ns = Some(monotonic_ns());
        s
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() || matches!(self.handle, Handle::Zygote { .. }) {
            return;
        }
        if !matches!(self.wait_direct(libc::WNOHANG), Ok(None)) {
            return; // reaped just now, or not ours to reap (auto-reaped)
        }
        if self.pidfd().is_ok()
            && let Some(pidfd) = self.pidfd.take()
        {
            crate::reaper::adopt(pidfd);
        }
    }
}

/// Opens a pidfd for `pid` and proves it names our own child: `waitid(WNOWAIT)` answers ECHILD
/// for anyone else's process (a reused pid after an automatic reap).
fn open_own_pidfd(pid: libc::pid_t) -> io::Result<OwnedFd> {
    let fd = crate::sys::pidfd_open(pid)?;
    match waitid(fd.as_raw_fd(), libc::WNOHANG | libc::WNOWAIT) {
        Ok(_) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
            Err(io::Error::from_raw_os_error(libc::ESRCH))
        }
        Err(e) => Err(e),
    }
}

fn read_zygote_status(fd: &OwnedFd) -> io::Result<ExitStatus> {
    let mut buf = [0u8; 4];
    let mut f = File::from(fd.try_clone()?);
    match f.read_exact(&mut buf) {
        Ok(()) => Ok(ExitStatus(i32::from_ne_bytes(buf))),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(crate::zygote::died()),
        Err(e) => Err(e),
    }
}

fn read_both(out: Option<File>, err: Option<File>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut files = [out, err];
    let mut bufs = [Vec::new(), Vec::new()];
    loop {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(2);
        let mut which = Vec::with_capacity(2);
        for (i, f) in files.iter().enumerate() {
            if let Some(f) = f {
                fds.push(libc::pollfd {
                    fd: f.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                which.push(i);
            }
        }
        if fds.is_empty() {
            let [a, b] = bufs;
            return Ok((a, b));
        }
        // SAFETY: fds is a valid array of fds.len() pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        for (p, &i) in fds.iter().zip(&which) {
            if p.revents == 0 {
                continue;
            }
            let mut chunk = [0u8; 16384];
            let f = files[i].as_mut().expect("polled files are open");
            match f.read(&mut chunk) {
                Ok(0) => files[i] = None,
                Ok(n) => bufs[i].extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
