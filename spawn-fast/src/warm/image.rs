//! One parked image: starting it, talking to it, restarting it.

use super::context::{self, Context};
use super::elf::{self, FileId};
use super::request::{Request, read_report, recv_msg, recv_resp, send_request};
use super::wire::{
    MAGIC_HELLO, MAGIC_READY, MAGIC_REFILL, MAGIC_RESP, NO_PARK_THREADS, NO_PARK_TID, Report, Req,
    Resp, as_bytes,
};
use super::{WarmError, preload};
use crate::plan::Program;
use crate::raw_plan::RawPlan;
use crate::spawn::Spawned;
use crate::{Child, Command, Stdio, Strategy};
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A parked program: which file, for which environment key, and the live connection.
pub(crate) struct Image {
    pub program: Arc<Program>,
    pub id: FileId,
    pub key: Vec<Vec<u8>>,
    /// Pool children to keep forked ahead (0: none).
    pool_size: AtomicUsize,
    conn: Mutex<Option<Conn>>,
}

/// A running image process and our end of its control socket.
struct Conn {
    sock: Option<OwnedFd>,
    process: Option<Child>,
    /// The process that started the image: only it may use it (CLONE_PARENT makes children of
    /// the image's parent, which a forked copy of the caller is not).
    owner: u32,
    ctx: Context,
    pool: Option<Pool>,
    /// Tells this connection from a later one.
    generation: u64,
}

static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Our end of the image's pool socket and the pool children announced on it.
struct Pool {
    sock: OwnedFd,
    ready: VecDeque<Pooled>,
}

/// A pool child: our child, waiting for one request on its socket.
struct Pooled {
    pid: libc::pid_t,
    sock: OwnedFd,
    pidfd: OwnedFd,
}

impl Pooled {
    /// Ends an unused (or failed) pool child and reaps it.
    fn discard(self) {
        drop(self.sock); // it reads EOF and exits; the kill makes sure
        let _ = crate::sys::pidfd_send_signal(self.pidfd.as_raw_fd(), libc::SIGKILL);
        crate::spawn::reap_failed(self.pid);
    }
}

impl Pool {
    /// Takes the pool children announced so far (never blocks).
    fn collect(&mut self) {
        while let Ok(Some((r, [Some(sock), Some(pidfd)]))) =
            recv_msg(self.sock.as_raw_fd(), libc::MSG_DONTWAIT)
        {
            if r.magic == MAGIC_READY && r.pid > 0 {
                self.ready.push_back(Pooled {
                    pid: r.pid,
                    sock,
                    pidfd,
                });
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        drop(self.sock.take()); // the image reads EOF and exits
        if self.owner != std::process::id() {
            return;
        }
        if let Some(mut p) = self.process.take() {
            if self.pool.is_some() {
                // Let it finish what it is doing, so that no pool child it forked goes
                // unannounced (and unreaped); a stuck image is killed after a while.
                let _ = p
                    .pidfd()
                    .and_then(|fd| crate::wait::poll_readable(fd.as_raw_fd(), 2000));
            }
            let _ = p.kill();
            let _ = p.wait();
        }
        if let Some(mut pool) = self.pool.take() {
            pool.collect();
            for c in pool.ready.drain(..) {
                c.discard();
            }
        }
    }
}

impl Conn {
    fn alive(&mut self) -> bool {
        self.owner == std::process::id()
            && self
                .process
                .as_mut()
                .is_some_and(|p| matches!(p.try_wait(), Ok(None)))
    }

    fn take_pooled(&mut self) -> Option<Pooled> {
        let pool = self.pool.as_mut()?;
        if pool.ready.is_empty() {
            pool.collect();
        }
        pool.ready.pop_front()
    }
}

impl Image {
    /// Checks the program; the image itself starts on the first spawn (or `park`).
    pub(crate) fn new(program: Arc<Program>, key: Vec<Vec<u8>>) -> Result<Image, WarmError> {
        let id = elf::check(&program)?;
        Ok(Image {
            program,
            id,
            key,
            pool_size: AtomicUsize::new(0),
            conn: Mutex::new(None),
        })
    }

    /// Keeps `n` children forked ahead from now on (restarts the image).
    pub(crate) fn set_pool(&self, n: usize) -> Result<(), WarmError> {
        self.pool_size.store(n, Ordering::Relaxed);
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        *conn = None;
        drop(conn);
        self.park()
    }

    /// Starts the image now if it is not running.
    pub(crate) fn park(&self) -> Result<(), WarmError> {
        let (ctx, _) = context::snapshot().map_err(WarmError::Io)?;
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        self.ensure(&mut conn, &ctx)
    }

    /// The image's pid, if it is running.
    pub(crate) fn pid(&self) -> Option<u32> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.as_ref()
            .and_then(|c| c.process.as_ref())
            .map(|p| p.id())
    }

    fn ensure(&self, conn: &mut Option<Conn>, ctx: &Context) -> Result<(), WarmError> {
        let reuse = conn.as_mut().is_some_and(|c| c.alive() && &c.ctx == ctx);
        if !reuse {
            *conn = None;
            *conn = Some(self.start(ctx.clone())?);
        }
        Ok(())
    }

    fn start(&self, ctx: Context) -> Result<Conn, WarmError> {
        let so = preload::path()?;
        let (ours, theirs) = socketpair()?;
        let pool_size = self.pool_size.load(Ordering::Relaxed);
        let pool = if pool_size > 0 {
            Some(socketpair()?)
        } else {
            None
        };
        let path = OsStr::from_bytes(self.program.path.as_bytes());
        let mut cmd = Command::new(path);
        cmd.resolved = Some(self.program.clone());
        cmd.env_clear();
        let mut preload = so.as_os_str().to_owned();
        for kv in &self.key {
            let (k, v) = kv.split_at(kv.iter().position(|&b| b == b'=').unwrap_or(kv.len()));
            let v = OsStr::from_bytes(v.get(1..).unwrap_or_default());
            if k == b"LD_PRELOAD" {
                preload.push(":");
                preload.push(v);
            } else {
                cmd.env(OsStr::from_bytes(k), v);
            }
        }
        if let Some((_, theirs)) = &pool {
            cmd.map_fd(theirs.as_raw_fd(), 4)
                .env("SPAWN_FAST_WARM_POOL", format!("4:{pool_size}"));
        }
        cmd.env("LD_PRELOAD", preload)
            .env("SPAWN_FAST_WARM_FD", "3")
            .stdin(Stdio::Null)
            .stdout(Stdio::Null)
            .stderr(Stdio::Null)
            .map_fd(theirs.as_raw_fd(), 3)
            .close_other_fds(true)
            .process_group(0)
            .reset_signals(true)
            .strategy(Strategy::Auto);
        let mut process = cmd.spawn().map_err(WarmError::Io)?;
        drop(theirs);
        let pool = pool.map(|(ours, _theirs)| Pool {
            sock: ours,
            ready: VecDeque::new(),
        });
        let hello = recv_resp(ours.as_raw_fd()).map(|(r, _)| r);
        let fail = |process: &mut Child, e: WarmError| {
            let _ = process.kill();
            let _ = process.wait();
            Err(e)
        };
        match hello {
            Ok(Resp {
                magic: MAGIC_HELLO,
                err: 0,
                pid,
                ..
            }) if pid as u32 == process.id() => Ok(Conn {
                sock: Some(ours),
                process: Some(process),
                owner: std::process::id(),
                ctx,
                pool,
                generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            }),
            Ok(Resp {
                magic: MAGIC_HELLO,
                why,
                ..
            }) => {
                let why = match why {
                    NO_PARK_THREADS => WarmError::Threads(self.path()),
                    NO_PARK_TID => WarmError::NoPark(
                        self.path(),
                        "glibc's thread state cannot be found (PR_GET_TID_ADDRESS)".into(),
                    ),
                    _ => WarmError::NoPark(self.path(), format!("refused ({why})")),
                };
                fail(&mut process, why)
            }
            Ok(r) => fail(
                &mut process,
                WarmError::NoPark(self.path(), format!("bad greeting {r:?}")),
            ),
            Err(_) => {
                drop(ours);
                let status = process.wait().map_or("unknown".into(), |s| s.to_string());
                Err(WarmError::NoPark(
                    self.path(),
                    format!("it exited before parking ({status}); not a glibc program?"),
                ))
            }
        }
    }

    fn path(&self) -> String {
        String::from_utf8_lossy(self.program.path.as_bytes()).into_owned()
    }

    /// Spawns `plan` from the image (from a pool child when one is ready). `close_others`:
    /// pass only the plan's fds (else the caller's other inheritable fds too, as exec would
    /// keep them). `want_pidfd`: the pidfd born with the child is needed (the caller's
    /// children are reaped automatically).
    pub(crate) fn spawn(
        &self,
        plan: &RawPlan,
        close_others: bool,
        want_pidfd: bool,
    ) -> Result<Spawned, WarmError> {
        if elf::current_id(&self.program)? != self.id {
            return Err(WarmError::ProgramChanged(self.path()));
        }
        let (ctx, per) = context::snapshot().map_err(WarmError::Io)?;
        let mut req = Request::build(plan, close_others, per, want_pidfd)?;
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut restarted = false;
        loop {
            self.ensure(&mut conn, &ctx)?;
            let c = conn.as_mut().expect("ensured");
            if let Some(pooled) = c.take_pooled() {
                // The pool child is ours alone: other threads may use the image meanwhile.
                let generation = c.generation;
                drop(conn);
                let report = match send_request(pooled.sock.as_raw_fd(), &req) {
                    Ok(()) => {
                        req.sent();
                        finish_pooled(&pooled, &req)
                    }
                    Err(_) => None,
                };
                match report {
                    Some(Ok(())) => {
                        return Ok(Spawned {
                            pid: pooled.pid,
                            pidfd: Some(pooled.pidfd),
                        });
                    }
                    Some(Err(e)) => {
                        pooled.discard();
                        return Err(e);
                    }
                    None => {
                        // It died (killed from outside) before it could run anything: it
                        // never reached `main`, so the request goes to the next one, or to
                        // the image; the image forks a replacement (best effort).
                        pooled.discard();
                        conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(c) = conn.as_ref().filter(|c| c.generation == generation)
                            && let Some(sock) = &c.sock
                        {
                            let _ = send_refill(sock.as_raw_fd());
                        }
                        if req.reply_w.is_none() {
                            req.renew_reply().map_err(WarmError::Io)?;
                        }
                        continue;
                    }
                }
            }
            let sock = c
                .sock
                .as_ref()
                .expect("open while the Conn lives")
                .as_raw_fd();
            if let Err(e) = send_request(sock, &req) {
                // Nothing was read by a dead image: start a new one and send again, once.
                *conn = None;
                if restarted {
                    return Err(WarmError::ImageDied(self.path(), e.to_string()));
                }
                restarted = true;
                continue;
            }
            req.sent();
            // The child's report first: one wake-up for the whole spawn (the image's answer
            // is there by then, or comes at once).
            let report = match read_report(&req.reply_r) {
                Ok(r) => r,
                Err(e) => {
                    // The answer stays unread: this connection is out of step.
                    *conn = None;
                    return Err(WarmError::Io(e));
                }
            };
            let resp = match recv_resp(sock) {
                Ok((r, pidfd)) if r.magic == MAGIC_RESP => Ok((r, pidfd)),
                Ok((r, _)) => Err(format!("bad answer {r:?}")),
                // ECONNRESET: the image closed with our request (or part of it) unread, so it
                // made no child for it (it reads a whole request before it clones): retry once.
                Err(e)
                    if e.raw_os_error() == Some(libc::ECONNRESET)
                        && !restarted
                        && report.is_none() =>
                {
                    *conn = None;
                    restarted = true;
                    req.renew_reply().map_err(WarmError::Io)?;
                    continue;
                }
                // Plain EOF: the image may have died after creating the child; never send it
                // twice.
                Err(e) => Err(e.to_string()),
            };
            if resp.is_err() {
                *conn = None;
            }
            drop(conn);
            return finish(report, resp, want_pidfd, &self.path());
        }
    }
}

/// The child's report and the image's answer, made one result.
fn finish(
    report: Option<Report>,
    resp: Result<(Resp, Option<OwnedFd>), String>,
    want_pidfd: bool,
    path: &str,
) -> Result<Spawned, WarmError> {
    let io = |e: i32| WarmError::Io(std::io::Error::from_raw_os_error(e));
    match (report, resp) {
        (Some(rep), resp) if rep.pid > 0 => {
            if rep.err != 0 {
                crate::spawn::reap_failed(rep.pid);
                return Err(io(rep.err));
            }
            let pidfd = match resp {
                Ok((r, pidfd)) if r.pid == rep.pid => pidfd,
                // The image died between the fork and its answer; the child runs. Without
                // automatic reaping nobody needs its pidfd; with it, open one from the pid
                // (the one spawn where a pid reused in these microseconds could be named).
                _ if want_pidfd => crate::sys::pidfd_open(rep.pid).ok(),
                _ => None,
            };
            if want_pidfd && pidfd.is_none() {
                crate::spawn::reap_failed(rep.pid);
                return Err(WarmError::ImageDied(path.into(), "no pidfd".into()));
            }
            Ok(Spawned {
                pid: rep.pid,
                pidfd,
            })
        }
        (Some(rep), _) => Err(WarmError::ImageDied(
            path.into(),
            format!("bad report {rep:?}"),
        )),
        (None, Ok((r, _))) if r.err != 0 => Err(io(r.err)),
        (None, Ok((r, _))) => {
            // The child died before it reported (a signal during its setup).
            if r.pid > 0 {
                crate::spawn::reap_failed(r.pid);
            }
            Err(WarmError::Io(std::io::Error::other(
                "the warm child died before running the program",
            )))
        }
        (None, Err(e)) => Err(WarmError::ImageDied(path.into(), e)),
    }
}

/// A pool child's report: `Some(Ok)` once it runs the program, `Some(Err)` for its failed
/// step's errno, `None` when it died without a report.
fn finish_pooled(c: &Pooled, req: &Request) -> Option<Result<(), WarmError>> {
    match read_report(&req.reply_r) {
        Ok(Some(rep)) if rep.pid == c.pid && rep.err == 0 => Some(Ok(())),
        Ok(Some(rep)) if rep.pid == c.pid => Some(Err(WarmError::Io(
            std::io::Error::from_raw_os_error(rep.err),
        ))),
        Ok(Some(rep)) => Some(Err(WarmError::Io(std::io::Error::other(format!(
            "bad report from a warm pool child: {rep:?}"
        ))))),
        Ok(None) => None,
        Err(e) => Some(Err(WarmError::Io(e))),
    }
}

/// Asks the image for one more pool child.
fn send_refill(sock: RawFd) -> std::io::Result<()> {
    let req = Req {
        magic: MAGIC_REFILL,
        ..Req::default()
    };
    let b = as_bytes(&req);
    // SAFETY: sends from a live local buffer; 208 bytes on a stream socket go out whole or
    // fail (the image reads requests one at a time, nothing else writes this socket now).
    let n = unsafe {
        libc::send(
            sock,
            b.as_ptr().cast(),
            b.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
    if n == b.len() as isize {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn socketpair() -> Result<(OwnedFd, OwnedFd), WarmError> {
    let mut sv = [0 as libc::c_int; 2];
    // SAFETY: sv has room for the two fds socketpair writes.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(WarmError::Io(std::io::Error::last_os_error()));
    }
    // SAFETY: fresh fds from socketpair, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}
