//! The zygote: a runner process started once, which spawns on the caller's behalf.
//!
//! It is forked from the caller the first time `Strategy::Zygote` is used (or when [`start`] is
//! called: call it early, while the caller is still small). It then never grows with the caller.
//! Each request travels over a unix stream socket with every fd the child needs (SCM_RIGHTS):
//! the program's O_PATH fd, the caller's cwd, the stdio and mapped fds, and the write end of a
//! status pipe. The zygote spawns with clone3 (or vfork) from its own address space, sends back
//! the child's pidfd, reaps the child when it exits and writes the raw wait status into the pipe.
//!
//! Differences from direct strategies, because the child's parent is the zygote: the child
//! inherits only stdio and the mapped fds (not the caller's other non-CLOEXEC fds, as if
//! `close_other_fds` were on); credentials, rlimits, namespaces and cgroup are the caller's as they
//! were when the zygote started; the caller's current cwd, signal mask and ignored signals are
//! sent with every request and do apply. The zygote is not `waitpid`-able by the caller for its
//! children; `Child::wait` reads the status the zygote reports.
//!
//! If the zygote dies, waits on its children fail with [`ZygoteError::Died`] (their exit status
//! is lost; the children themselves are re-parented and keep running), [`last_death`] tells
//! how it died, and the next spawn starts a new zygote.

mod server;
mod wire;

use crate::raw_plan::{F_SIGMASK, RawPlan};
use crate::sys::{current_sigmask, cvt, pipe_cloexec};
use crate::wait::ExitStatus;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use wire::{MAGIC, MAX_FDS, MAX_PAYLOAD, ReqHeader, Resp, as_bytes, cmsg_space};

/// Zygote failures.
#[derive(Debug, thiserror::Error)]
pub enum ZygoteError {
    /// The zygote exited or was killed before answering or before reporting a child's status.
    #[error("the spawn-fast zygote died")]
    Died,
    /// A request does not fit the protocol limits.
    #[error("request too large for the zygote: {0}")]
    TooLarge(&'static str),
}

struct Zygote {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    sock: OwnedFd,
}

struct State {
    current: Option<Zygote>,
    last_death: Option<ExitStatus>,
}

static STATE: Mutex<State> = Mutex::new(State {
    current: None,
    last_death: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the zygote if it is not running; returns its pid.
pub fn start() -> io::Result<u32> {
    let mut st = state();
    ensure(&mut st).map(|z| z.pid as u32)
}

/// The running zygote's pid, if any (a zygote found dead is reaped and recorded here).
pub fn pid() -> Option<u32> {
    let mut st = state();
    check_alive(&mut st);
    st.current.as_ref().map(|z| z.pid as u32)
}

/// How the last zygote ended, if one died.
pub fn last_death() -> Option<ExitStatus> {
    let mut st = state();
    check_alive(&mut st);
    st.last_death
}

/// Reaps and forgets the zygote if it has exited.
fn check_alive(st: &mut State) {
    let dead = match &st.current {
        Some(z) => crate::wait::waitid(z.pidfd.as_raw_fd(), libc::WNOHANG),
        None => return,
    };
    match dead {
        Ok(None) => {}
        Ok(Some(s)) => {
            st.last_death = Some(s);
            st.current = None;
        }
        Err(_) => st.current = None,
    }
}

fn ensure(st: &mut State) -> io::Result<&Zygote> {
    check_alive(st);
    if st.current.is_none() {
        st.current = Some(fork_zygote()?);
    }
    Ok(st.current.as_ref().expect("just started"))
}

fn fork_zygote() -> io::Result<Zygote> {
    let mut sv = [0 as libc::c_int; 2];
    // SAFETY: sv has room for the two fds.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    })?;
    // SAFETY: fresh fds from socketpair.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
    // SAFETY: the child only runs `serve`, which uses system calls and its own mappings.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        server::serve(theirs.as_raw_fd());
    }
    cvt(pid)?;
    drop(theirs);
    let pidfd = crate::sys::pidfd_open(pid)?;
    Ok(Zygote {
        pid,
        pidfd,
        sock: ours,
    })
}

/// A child spawned by the zygote, as the caller sees it.
pub(crate) struct ZygoteChild {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
    pub status: OwnedFd,
}

/// One serialised request and the fds it carries (the request owns the per-spawn fds).
struct Request {
    header: ReqHeader,
    payload: Vec<u8>,
    fds: Vec<RawFd>,
    _owned: Vec<OwnedFd>,
}

fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only inspects the fd.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

fn build_request(plan: &RawPlan, status_w: OwnedFd) -> io::Result<Request> {
    let mut fds: Vec<RawFd> = Vec::with_capacity(8 + plan.fd_ops.len());
    let mut owned = Vec::with_capacity(2);
    let mut payload = Vec::with_capacity(256);
    let push_fd = |fds: &mut Vec<RawFd>, fd: RawFd| {
        fds.push(fd);
        fds.len() as i32 - 1
    };
    // Stdio the plan does not map is inherited from the caller *now*, not from the zygote.
    let mut ops: Vec<(RawFd, RawFd)> = plan.fd_ops.iter().map(|o| (o.src, o.dst)).collect();
    for std_fd in 0..3 {
        if !ops.iter().any(|&(_, d)| d == std_fd) && fd_is_open(std_fd) {
            ops.insert(0, (std_fd, std_fd));
        }
    }
    for &(src, dst) in &ops {
        let i = push_fd(&mut fds, src);
        payload.extend_from_slice(&i.to_ne_bytes());
        payload.extend_from_slice(&dst.to_ne_bytes());
    }
    for &(lo, hi) in plan.close_gaps {
        payload.extend_from_slice(&lo.to_ne_bytes());
        payload.extend_from_slice(&hi.to_ne_bytes());
    }
    let exec_fd_idx = if plan.exec_fd >= 0 {
        push_fd(&mut fds, plan.exec_fd)
    } else {
        -1
    };
    // SAFETY: "." is a static C string; the fd is checked and owned below.
    let cwd = cvt(unsafe {
        libc::open(
            c".".as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: fresh fd from open.
    owned.push(unsafe { OwnedFd::from_raw_fd(cwd) });
    let cwd_fd_idx = push_fd(&mut fds, cwd);
    let status_fd_idx = push_fd(&mut fds, status_w.as_raw_fd());
    owned.push(status_w);
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            ZygoteError::TooLarge("too many fds"),
        ));
    }
    // Every pointer in the plan is a NUL-terminated string and the arrays are NULL-terminated.
    let push_str = |p: *const libc::c_char, out: &mut Vec<u8>| {
        // SAFETY: p is one of the plan's NUL-terminated strings (above).
        out.extend_from_slice(unsafe { CStr::from_ptr(p) }.to_bytes_with_nul());
    };
    push_str(plan.path, &mut payload);
    if !plan.cwd.is_null() {
        push_str(plan.cwd, &mut payload);
    }
    let count = |arr: *const *const libc::c_char, out: &mut Vec<u8>| -> u32 {
        let mut n = 0;
        // SAFETY: NULL-terminated array from the plan.
        while let p = unsafe { *arr.add(n) }
            && !p.is_null()
        {
            push_str(p, out);
            n += 1;
        }
        n as u32
    };
    let argc = count(plan.argv, &mut payload);
    let envc = count(plan.envp, &mut payload);
    if payload.len() >= MAX_PAYLOAD {
        return Err(io::Error::from_raw_os_error(libc::E2BIG));
    }
    let sigmask = if plan.flags & F_SIGMASK != 0 {
        plan.sigmask
    } else {
        crate::spawn::mask_bits(&current_sigmask())
    };
    let header = ReqHeader {
        magic: MAGIC,
        payload_len: payload.len() as u32,
        argc,
        envc,
        nops: ops.len() as u32,
        ngaps: plan.close_gaps.len() as u32,
        nfds: fds.len() as u32,
        flags: plan.flags | F_SIGMASK,
        pgroup: plan.pgroup,
        uid: plan.uid,
        gid: plan.gid,
        exec_fd_idx,
        cwd_fd_idx,
        status_fd_idx,
        has_cwd: (!plan.cwd.is_null()) as u32,
        _pad: 0,
        sigmask,
        ignore: if plan.flags & crate::raw_plan::F_RESET_SIGNALS != 0 {
            0
        } else {
            ignored_signals()
        },
    };
    Ok(Request {
        header,
        payload,
        fds,
        _owned: owned,
    })
}

fn send_request(sock: RawFd, req: &Request) -> io::Result<()> {
    crate::fdpass::send_with_fds(sock, as_bytes(&req.header), &req.payload, &req.fds)
}

fn recv_response(sock: RawFd) -> io::Result<(Resp, Option<OwnedFd>)> {
    let mut resp = Resp::default();
    let mut iov = libc::iovec {
        iov_base: (&mut resp as *mut Resp).cast(),
        iov_len: size_of::<Resp>(),
    };
    let mut cbuf = [0u64; cmsg_space(1).div_ceil(8)];
    // SAFETY: msghdr is plain data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&cbuf);
    let n = loop {
        // SAFETY: msg points to live buffers.
        let n =
            unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_WAITALL) };
        if n >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut pidfd = None;
    // SAFETY: walks the control messages the kernel wrote into cbuf.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_type == libc::SCM_RIGHTS {
            pidfd = Some(OwnedFd::from_raw_fd(*(libc::CMSG_DATA(c) as *const RawFd)));
        }
    }
    if n as usize != size_of::<Resp>() {
        return Err(io::Error::new(io::ErrorKind::BrokenPipe, ZygoteError::Died));
    }
    Ok((resp, pidfd))
}

/// The caller's ignored signals (SIGPIPE excluded: children always get it at SIG_DFL).
fn ignored_signals() -> u64 {
    let mut set = 0u64;
    for sig in 1..=64 {
        // SAFETY: sigaction is plain data; a null new action only reads the disposition.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let ok = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } == 0;
        if ok && old.sa_sigaction == libc::SIG_IGN && sig != libc::SIGPIPE {
            set |= 1 << (sig - 1);
        }
    }
    set
}

/// Spawns `plan` through the zygote (starting or restarting it as needed).
pub(crate) fn spawn(plan: &RawPlan) -> io::Result<ZygoteChild> {
    let (status_r, status_w) = pipe_cloexec()?;
    let req = build_request(plan, status_w)?;
    let mut st = state();
    let mut attempts = 0;
    let (resp, pidfd) = loop {
        attempts += 1;
        let sock = ensure(&mut st)?.sock.as_raw_fd();
        let r = send_request(sock, &req).and_then(|()| recv_response(sock));
        match r {
            Ok(x) => break x,
            // A zygote that died before this request: start a new one and retry once.
            Err(_) if attempts == 1 && is_dead(&mut st) => continue,
            Err(e) => {
                check_alive(&mut st);
                return Err(if st.current.is_none() { died() } else { e });
            }
        }
    };
    drop(st);
    drop(req);
    if resp.pid <= 0 {
        return Err(io::Error::from_raw_os_error(if resp.errno != 0 {
            resp.errno
        } else {
            libc::EIO
        }));
    }
    let pidfd = match pidfd {
        Some(fd) => fd,
        None => return Err(io::Error::other("zygote answered without a pidfd")),
    };
    Ok(ZygoteChild {
        pid: resp.pid,
        pidfd,
        status: status_r,
    })
}

fn is_dead(st: &mut State) -> bool {
    if let Some(z) = &st.current {
        // The zygote exits promptly once it fails; give it a moment to become reapable.
        let _ = crate::wait::poll_readable(z.pidfd.as_raw_fd(), 100);
    }
    check_alive(st);
    st.current.is_none()
}

/// The error a zygote child's wait reports when the zygote died before reporting the status.
pub(crate) fn died() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, ZygoteError::Died)
}
