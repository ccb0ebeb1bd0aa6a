//! Building one request from a plan, and the socket I/O on the caller's side (EINTR and
//! partial transfers handled).

use super::WarmError;
use super::context::{PerSpawn, thread_sched};
use super::wire::{MAGIC_REQ, MAX_FDS, MAX_PAYLOAD, MAX_STRINGS, Req, Resp, as_bytes, cmsg_space};
use crate::raw_plan::{F_GID, F_PGROUP, F_RESET_SIGNALS, F_SETSID, F_SIGMASK, F_UID, RawPlan};
use crate::sys::{current_sigmask, cvt};
use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// exec's limit on one argument or environment string (MAX_ARG_STRLEN), with its NUL.
const MAX_ARG_STRLEN: usize = 32 * 4096;

pub(crate) struct Request {
    header: Req,
    payload: Vec<u8>,
    fds: Vec<RawFd>,
    _cwd: OwnedFd,
    /// Our copy of the child's error pipe; dropped once sent, before reading `err_r`.
    err_w: Option<OwnedFd>,
    pub err_r: OwnedFd,
}

impl Request {
    /// Closes our write end of the error pipe (the image and the child hold theirs).
    pub(crate) fn sent(&mut self) {
        self.err_w = None;
    }
}

/// The caller's fds that a child would inherit through exec (open, not close-on-exec).
fn inheritable_fds() -> io::Result<Vec<RawFd>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd")? {
        let Some(fd) = e?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<RawFd>().ok())
        else {
            continue;
        };
        // SAFETY: F_GETFD only inspects the fd (a closed one, such as the directory's, fails).
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            out.push(fd);
        }
    }
    Ok(out)
}

/// Appends the strings of a NULL-terminated array; returns (count, bytes).
fn push_strings(arr: *const *const libc::c_char, out: &mut Vec<u8>) -> io::Result<(u32, usize)> {
    let (mut n, mut bytes) = (0usize, 0usize);
    loop {
        // SAFETY: a plan's argv/envp are NULL-terminated arrays of NUL-terminated strings.
        let p = unsafe { *arr.add(n) };
        if p.is_null() {
            break;
        }
        // SAFETY: as above.
        let s = unsafe { CStr::from_ptr(p) }.to_bytes_with_nul();
        if s.len() > MAX_ARG_STRLEN {
            return Err(io::Error::from_raw_os_error(libc::E2BIG));
        }
        out.extend_from_slice(s);
        bytes += s.len() + size_of::<usize>();
        n += 1;
    }
    Ok((n as u32, bytes))
}

/// exec's limit on argv + envp: a quarter of the stack limit, at most 3/4 of 8 MiB, at
/// least 128 KiB.
fn args_limit() -> usize {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads one limit into a local struct.
    unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut l) };
    ((l.rlim_cur / 4) as usize).clamp(128 * 1024, 6 << 20)
}

impl Request {
    pub(crate) fn build(
        plan: &RawPlan,
        close_others: bool,
        per: PerSpawn,
    ) -> Result<Request, WarmError> {
        let mut ops: Vec<(RawFd, RawFd)> = plan.fd_ops.iter().map(|o| (o.src, o.dst)).collect();
        if !close_others {
            for fd in inheritable_fds().map_err(WarmError::Io)? {
                if !ops.iter().any(|&(_, d)| d == fd) {
                    ops.push((fd, fd));
                }
            }
        }
        let mut fds: Vec<RawFd> = Vec::with_capacity(ops.len() + 1);
        let mut payload = Vec::with_capacity(512);
        for &(src, dst) in &ops {
            let i = match fds.iter().position(|&f| f == src) {
                Some(i) => i,
                None => {
                    fds.push(src);
                    fds.len() - 1
                }
            };
            payload.extend_from_slice(&(i as i32).to_ne_bytes());
            payload.extend_from_slice(&dst.to_ne_bytes());
        }
        // SAFETY: "." is a static C string; the fd is checked and owned below.
        let cwd = cvt(unsafe {
            libc::open(
                c".".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })
        .map_err(WarmError::Io)?;
        // SAFETY: fresh fd from open.
        let cwd = unsafe { OwnedFd::from_raw_fd(cwd) };
        fds.push(std::os::fd::AsRawFd::as_raw_fd(&cwd));
        let (err_r, err_w) = crate::sys::pipe_cloexec().map_err(WarmError::Io)?;
        fds.push(std::os::fd::AsRawFd::as_raw_fd(&err_w));
        if fds.len() > MAX_FDS {
            return Err(WarmError::TooManyFds(fds.len()));
        }
        if !plan.cwd.is_null() {
            // SAFETY: a plan's cwd is a NUL-terminated string.
            payload.extend_from_slice(unsafe { CStr::from_ptr(plan.cwd) }.to_bytes_with_nul());
        }
        let e2big = |e| WarmError::Io(e);
        let (argc, a_bytes) = push_strings(plan.argv, &mut payload).map_err(e2big)?;
        let (envc, e_bytes) = push_strings(plan.envp, &mut payload).map_err(e2big)?;
        if a_bytes + e_bytes > args_limit()
            || payload.len() > MAX_PAYLOAD
            || (argc + envc) as usize + 2 > MAX_STRINGS
        {
            return Err(WarmError::Io(io::Error::from_raw_os_error(libc::E2BIG)));
        }
        let (cpus, nice) = thread_sched();
        let header = Req {
            magic: MAGIC_REQ,
            payload_len: payload.len() as u32,
            argc,
            envc,
            nops: ops.len() as u32,
            nfds: fds.len() as u32,
            flags: plan.flags & (F_SETSID | F_PGROUP | F_UID | F_GID),
            umask: per.umask,
            pgroup: plan.pgroup,
            // SAFETY: getpgrp has no preconditions.
            caller_pgrp: unsafe { libc::getpgrp() },
            uid: plan.uid,
            gid: plan.gid,
            cwd_fd_idx: fds.len() as i32 - 2,
            has_cwd: (!plan.cwd.is_null()) as i32,
            nice,
            err_fd_idx: fds.len() as i32 - 1,
            sigmask: if plan.flags & F_SIGMASK != 0 {
                plan.sigmask
            } else {
                crate::spawn::mask_bits(&current_sigmask())
            },
            ignore: if plan.flags & F_RESET_SIGNALS != 0 {
                0
            } else {
                per.ignored
            },
            cpus,
        };
        Ok(Request {
            header,
            payload,
            fds,
            _cwd: cwd,
            err_w: Some(err_w),
            err_r,
        })
    }
}

/// Sends the header with the fds, then the rest; EINTR and short sends are retried.
pub(crate) fn send_request(sock: RawFd, req: &Request) -> io::Result<()> {
    crate::fdpass::send_with_fds(sock, as_bytes(&req.header), &req.payload, &req.fds)
}

/// Receives one `Resp` and the fd it may carry (EINTR retried; EOF is `UnexpectedEof`).
pub(crate) fn recv_resp(sock: RawFd) -> io::Result<(Resp, Option<OwnedFd>)> {
    let mut resp = Resp::default();
    let mut iov = libc::iovec {
        iov_base: (&mut resp as *mut Resp).cast(),
        iov_len: size_of::<Resp>(),
    };
    let mut cbuf = [0u64; cmsg_space(1).div_ceil(8)];
    // SAFETY: msghdr is plain data; the pointers set below refer to live local buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&cbuf);
    let n = loop {
        // SAFETY: msg points to live buffers.
        let n =
            unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_WAITALL) };
        if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break n;
        }
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fd = None;
    // SAFETY: walks the control messages the kernel wrote into cbuf; an SCM_RIGHTS message
    // of ours carries exactly one fd, now owned by us.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            fd = Some(OwnedFd::from_raw_fd(*(libc::CMSG_DATA(c) as *const RawFd)));
        }
    }
    let mut got = n as usize;
    while got > 0 && got < size_of::<Resp>() {
        // A signal may cut MSG_WAITALL short: fetch the rest of the 16 bytes.
        // SAFETY: reads into the unread tail of `resp`.
        let r = unsafe {
            libc::read(
                sock,
                (&mut resp as *mut Resp as *mut u8).add(got).cast(),
                size_of::<Resp>() - got,
            )
        };
        if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if r <= 0 {
            break;
        }
        got += r as usize;
    }
    if got != size_of::<Resp>() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the warm image closed the connection",
        ));
    }
    Ok((resp, fd))
}

/// The child's errno from the error pipe: 0 once every write end is closed without one.
pub(crate) fn child_errno(r: &OwnedFd) -> io::Result<i32> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        // SAFETY: reads into the unread tail of a local buffer.
        let n = unsafe {
            libc::read(
                std::os::fd::AsRawFd::as_raw_fd(r),
                buf[got..].as_mut_ptr().cast(),
                4 - got,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    Ok(if got == 4 { i32::from_ne_bytes(buf) } else { 0 })
}
