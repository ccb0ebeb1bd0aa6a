//! Building one request from a plan, and the socket I/O on the caller's side (EINTR and
//! partial transfers handled).

use super::WarmError;
use super::context::{PerSpawn, thread_sched};
use super::wire::{
    F_PIDFD, MAGIC_REQ, MAX_FDS, MAX_PAYLOAD, MAX_STRINGS, Report, Req, Resp, as_bytes, cmsg_space,
};
use crate::raw_plan::{F_GID, F_PGROUP, F_RESET_SIGNALS, F_SETSID, F_SIGMASK, F_UID, RawPlan};
use crate::sys::{current_sigmask, cvt};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// exec's limit on one argument or environment string (MAX_ARG_STRLEN), with its NUL.
const MAX_ARG_STRLEN: usize = 32 * 4096;

pub(crate) struct Request {
    header: Req,
    payload: Vec<u8>,
    fds: Vec<RawFd>,
    _cwd: OwnedFd,
    /// Our copy of the reply pipe's write end; dropped once sent, before reading `reply_r`.
    pub reply_w: Option<OwnedFd>,
    pub reply_r: OwnedFd,
}

impl Request {
    /// Closes our write end of the reply pipe (the image and the child hold theirs).
    pub(crate) fn sent(&mut self) {
        self.reply_w = None;
    }

    /// A new reply pipe, to send the request again after the image died unread.
    pub(crate) fn renew_reply(&mut self) -> io::Result<()> {
        let (r, w) = crate::sys::pipe_cloexec()?;
        *self.fds.last_mut().expect("the reply pipe is the last fd") = w.as_raw_fd();
        self.reply_r = r;
        self.reply_w = Some(w);
        Ok(())
    }
}

/// `/proc/self/fd`, opened once per process and rewound for every listing (the open and
/// close would double the cost): the pid it was opened in (a forked copy of the caller reopens
/// its own), its device and inode (checked before each use, so that an fd the caller closed
/// behind our back and reused for another file is never rewound), and the fd.
static FD_DIR: Mutex<Option<FdDir>> = Mutex::new(None);

struct FdDir {
    pid: u32,
    id: (u64, u64),
    fd: OwnedFd,
}

impl FdDir {
    fn still_ours(&self) -> bool {
        dev_ino(self.fd.as_raw_fd()) == Some(self.id)
    }
}

fn dev_ino(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: stat is plain data; fstat writes it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer; a closed fd fails with EBADF.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    (ok && st.st_mode & libc::S_IFMT == libc::S_IFDIR).then_some((st.st_dev, st.st_ino))
}

/// The caller's fds that a child would inherit through exec (open, not close-on-exec).
fn inheritable_fds(out: &mut Vec<RawFd>) -> io::Result<()> {
    let mut g = FD_DIR.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if !g.as_ref().is_some_and(|d| d.pid == pid && d.still_ours()) {
        if let Some(d) = g.take()
            && !d.still_ours()
        {
            // The caller closed it behind our back: whatever has the number now stays open.
            std::mem::forget(d.fd);
        }
        // SAFETY: static NUL-terminated path; the result is checked and owned below.
        let fd = cvt(unsafe {
            libc::open(
                c"/proc/self/fd".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: fresh fd from open.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let id = dev_ino(fd.as_raw_fd()).ok_or_else(|| io::Error::other("/proc/self/fd"))?;
        *g = Some(FdDir { pid, id, fd });
    }
    let dir = g.as_ref().expect("set above").fd.as_raw_fd();
    // SAFETY: rewinds our own directory fd.
    cvt(unsafe { libc::lseek(dir, 0, libc::SEEK_SET) })?;
    let mut buf = [0u64; 1024];
    loop {
        // SAFETY: getdents64 writes at most size_of_val(&buf) bytes into buf.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir,
                buf.as_mut_ptr(),
                size_of_val(&buf),
            )
        };
        let n = match n {
            0 => return Ok(()),
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            n => n as usize,
        };
        // SAFETY: the kernel wrote n bytes of linux_dirent64 records into buf.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        let mut off = 0;
        while off + 19 < n {
            let reclen = u16::from_ne_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
            let name = &bytes[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            off += reclen.max(1);
            let Some(fd) = std::str::from_utf8(name)
                .ok()
                .and_then(|s| s.parse::<RawFd>().ok())
            else {
                continue;
            };
            if fd == dir {
                continue;
            }
            // SAFETY: F_GETFD only inspects the fd (a closed one fails).
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                out.push(fd);
            }
        }
    }
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
        want_pidfd: bool,
    ) -> Result<Request, WarmError> {
        let mut ops: Vec<(RawFd, RawFd)> = plan.fd_ops.iter().map(|o| (o.src, o.dst)).collect();
        if !close_others {
            let mut inherit = Vec::with_capacity(16);
            inheritable_fds(&mut inherit).map_err(WarmError::Io)?;
            for fd in inherit {
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
        fds.push(cwd.as_raw_fd());
        let (reply_r, reply_w) = crate::sys::pipe_cloexec().map_err(WarmError::Io)?;
        fds.push(reply_w.as_raw_fd());
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
            flags: plan.flags & (F_SETSID | F_PGROUP | F_UID | F_GID)
                | if want_pidfd { F_PIDFD } else { 0 },
            umask: per.umask,
            pgroup: plan.pgroup,
            // SAFETY: getpgrp has no preconditions.
            caller_pgrp: unsafe { libc::getpgrp() },
            uid: plan.uid,
            gid: plan.gid,
            cwd_fd_idx: fds.len() as i32 - 2,
            has_cwd: (!plan.cwd.is_null()) as i32,
            nice,
            reply_fd_idx: fds.len() as i32 - 1,
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
            reply_w: Some(reply_w),
            reply_r,
        })
    }
}

/// Sends the header with the fds, then the rest; EINTR and short sends are retried.
pub(crate) fn send_request(sock: RawFd, req: &Request) -> io::Result<()> {
    crate::fdpass::send_with_fds(sock, as_bytes(&req.header), &req.payload, &req.fds)
}

/// Receives one `Resp` and the fd it may carry (EINTR retried; EOF is `UnexpectedEof`).
pub(crate) fn recv_resp(sock: RawFd) -> io::Result<(Resp, Option<OwnedFd>)> {
    let (r, [fd, _]) =
        recv_msg(sock, 0)?.ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))?;
    Ok((r, fd))
}

/// Receives one `Resp` and up to two fds. `flags` may hold MSG_DONTWAIT: `None` when nothing
/// is there yet. EINTR is retried; EOF is `UnexpectedEof`.
pub(crate) fn recv_msg(
    sock: RawFd,
    flags: libc::c_int,
) -> io::Result<Option<(Resp, [Option<OwnedFd>; 2])>> {
    let mut resp = Resp::default();
    let mut iov = libc::iovec {
        iov_base: (&mut resp as *mut Resp).cast(),
        iov_len: size_of::<Resp>(),
    };
    let mut cbuf = [0u64; cmsg_space(2).div_ceil(8)];
    // SAFETY: msghdr is plain data; the pointers set below refer to live local buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&cbuf);
    let n = loop {
        // SAFETY: msg points to live buffers.
        let n = unsafe {
            libc::recvmsg(
                sock,
                &mut msg,
                libc::MSG_CMSG_CLOEXEC | libc::MSG_WAITALL | flags,
            )
        };
        if n >= 0 {
            break n;
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock if flags & libc::MSG_DONTWAIT != 0 => return Ok(None),
            _ => return Err(e),
        }
    };
    let mut fds = [None, None];
    // SAFETY: walks the control messages the kernel wrote into cbuf; the fds of an
    // SCM_RIGHTS message are now ours.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            let k = ((*c).cmsg_len - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
            let data = libc::CMSG_DATA(c) as *const RawFd;
            for (i, slot) in fds.iter_mut().enumerate().take(k.min(2)) {
                *slot = Some(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
            }
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
    Ok(Some((resp, fds)))
}

/// The child's report from the reply pipe: `None` at EOF without one (every write end closed:
/// the image refused the request, or the child died before reporting).
pub(crate) fn read_report(r: &OwnedFd) -> io::Result<Option<Report>> {
    let mut rep = Report::default();
    let mut got = 0;
    while got < size_of::<Report>() {
        // SAFETY: reads into the unread tail of a local plain-data struct.
        let n = unsafe {
            libc::read(
                r.as_raw_fd(),
                (&mut rep as *mut Report as *mut u8).add(got).cast(),
                size_of::<Report>() - got,
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
    Ok((got == size_of::<Report>()).then_some(rep))
}
