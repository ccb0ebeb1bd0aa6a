//! One parked image: starting it, talking to it, restarting it.

use super::context::{self, Context};
use super::elf::{self, FileId};
use super::request::{Request, child_errno, recv_resp, send_request};
use super::wire::{MAGIC_HELLO, MAGIC_RESP, NO_PARK_THREADS, NO_PARK_TID, Resp};
use super::{WarmError, preload};
use crate::plan::Program;
use crate::raw_plan::RawPlan;
use crate::spawn::Spawned;
use crate::{Child, Command, Stdio, Strategy};
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex};

/// A parked program: which file, for which environment key, and the live connection.
pub(crate) struct Image {
    pub program: Arc<Program>,
    pub id: FileId,
    pub key: Vec<Vec<u8>>,
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
}

impl Drop for Conn {
    fn drop(&mut self) {
        drop(self.sock.take()); // the image reads EOF and exits
        if let Some(mut p) = self.process.take()
            && self.owner == std::process::id()
        {
            let _ = p.kill();
            let _ = p.wait();
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
}

impl Image {
    /// Checks the program; the image itself starts on the first spawn (or `park`).
    pub(crate) fn new(program: Arc<Program>, key: Vec<Vec<u8>>) -> Result<Image, WarmError> {
        let id = elf::check(&program)?;
        Ok(Image {
            program,
            id,
            key,
            conn: Mutex::new(None),
        })
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
        let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
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

    /// Spawns `plan` from the image. `close_others`: pass only the plan's fds (else the
    /// caller's other inheritable fds too, as exec would keep them).
    pub(crate) fn spawn(&self, plan: &RawPlan, close_others: bool) -> Result<Spawned, WarmError> {
        if elf::current_id(&self.program)? != self.id {
            return Err(WarmError::ProgramChanged(self.path()));
        }
        let (ctx, per) = context::snapshot().map_err(WarmError::Io)?;
        let mut req = Request::build(plan, close_others, per)?;
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut restarted = false;
        loop {
            self.ensure(&mut conn, &ctx)?;
            let c = conn.as_mut().expect("ensured");
            let sock = c
                .sock
                .as_ref()
                .expect("open while the Conn lives")
                .as_raw_fd();
            crate::marks::spawn_fast_mark_clone(0);
            if let Err(e) = send_request(sock, &req) {
                // Nothing was read by a dead image: start a new one and send again, once.
                *conn = None;
                if restarted {
                    return Err(WarmError::ImageDied(self.path(), e.to_string()));
                }
                restarted = true;
                continue;
            }
            let resp = match recv_resp(sock) {
                Ok((r, pidfd)) if r.magic == MAGIC_RESP => Ok((r, pidfd)),
                Ok((r, _)) => Err(format!("bad answer {r:?}")),
                // ECONNRESET: the image closed with our request (or part of it) unread, so it
                // made no child for it (it reads a whole request before it clones): retry once.
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) && !restarted => {
                    *conn = None;
                    restarted = true;
                    continue;
                }
                // Plain EOF: the image may have died after creating the child; never send it
                // twice.
                Err(e) => Err(e.to_string()),
            };
            if resp.is_err() {
                *conn = None;
            }
            // Other threads may use the image while this child finishes its setup.
            drop(conn);
            req.sent();
            return match resp {
                Ok((r, pidfd)) => finish(r, pidfd, &req),
                Err(e) => Err(WarmError::ImageDied(self.path(), e)),
            };
        }
    }
}

/// The image's answer, then the child's own result (its errno, or EOF once it runs `main`).
fn finish(r: Resp, pidfd: Option<OwnedFd>, req: &Request) -> Result<Spawned, WarmError> {
    let errno = match (r.err, r.pid) {
        (0, pid) if pid > 0 => child_errno(&req.err_r).map_err(WarmError::Io)?,
        (0, _) => libc::EIO,
        (e, _) => e,
    };
    if errno != 0 {
        if r.pid > 0 {
            crate::spawn::reap_failed(r.pid);
        }
        return Err(WarmError::Io(std::io::Error::from_raw_os_error(errno)));
    }
    Ok(Spawned {
        pid: r.pid,
        pidfd: Some(pidfd.ok_or_else(|| {
            WarmError::Io(std::io::Error::other("image answered without a pidfd"))
        })?),
    })
}
