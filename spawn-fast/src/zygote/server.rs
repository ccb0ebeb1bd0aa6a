//! The zygote's own loop. It runs in a process forked from the caller, so (like the child side
//! of a spawn) it sticks to system calls and caller-free memory: fixed mmap'd buffers, no locks
//! shared with the caller's threads.

use super::wire::{
    MAGIC, MAX_FDS, MAX_PAYLOAD, MAX_STRINGS, ReqHeader, Resp, as_bytes, cmsg_space,
};
use crate::raw_plan::{FdOp, RawPlan, mark_relocations};
use crate::spawn::{auto_direct, spawn_direct};
use libc::{c_char, c_int, c_void};
use std::os::fd::IntoRawFd;

const MAX_CHILDREN: usize = 1 << 16;

struct Buffers {
    payload: *mut u8,
    ptrs: *mut *const c_char,
    ops: [FdOp; MAX_FDS],
    gaps: [(u32, u32); MAX_FDS + 1],
    /// Live children: (pid, status fd).
    kids: *mut (i32, i32),
    nkids: usize,
}

fn map(len: usize) -> *mut c_void {
    // SAFETY: anonymous mapping, reserved lazily; failure is checked by the caller.
    unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    }
}

/// Entry point in the freshly forked zygote. Never returns.
pub(crate) fn serve(sock: c_int) -> ! {
    // SAFETY: (whole function body) raw libc calls on our own fds and local/mmap'd memory.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        for sig in 1..65 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        // A caller that drops a Child closes the status pipe's read end; writing then must fail
        // with EPIPE, not kill us.
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        let sfd = libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        // Keep only the socket and the signalfd: the caller's other fds must not stay open here.
        let (lo, hi) = (sock.min(sfd), sock.max(sfd));
        libc::close_range(3, (lo - 1) as u32, 0);
        libc::close_range((lo + 1) as u32, (hi - 1) as u32, 0);
        libc::close_range((hi + 1) as u32, u32::MAX, 0);
        libc::chdir(c"/".as_ptr());
        let mut unblock: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut unblock);
        libc::sigaddset(&mut unblock, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_SETMASK, &unblock, std::ptr::null_mut());

        let payload = map(MAX_PAYLOAD) as *mut u8;
        let ptrs = map(MAX_STRINGS * 8 + 16) as *mut *const c_char;
        let kids = map(MAX_CHILDREN * 8) as *mut (i32, i32);
        if sfd < 0
            || payload as *mut c_void == libc::MAP_FAILED
            || ptrs as *mut c_void == libc::MAP_FAILED
            || kids as *mut c_void == libc::MAP_FAILED
        {
            libc::_exit(70);
        }
        let mut b = Buffers {
            payload,
            ptrs,
            ops: [FdOp {
                src: 0,
                dst: 0,
                relocate: false,
            }; MAX_FDS],
            gaps: [(0, 0); MAX_FDS + 1],
            kids,
            nkids: 0,
        };
        loop {
            let mut pfd = [
                libc::pollfd {
                    fd: sock,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: sfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            if libc::poll(pfd.as_mut_ptr(), 2, -1) < 0 {
                continue;
            }
            if pfd[1].revents != 0 {
                let mut si = [0u8; 128];
                while libc::read(sfd, si.as_mut_ptr().cast(), 128) > 0 {}
                reap(&mut b);
            }
            if pfd[0].revents != 0 && !handle_request(sock, &mut b) {
                libc::_exit(0);
            }
        }
    }
}

fn reap(b: &mut Buffers) {
    loop {
        let mut status = 0;
        // SAFETY: reaps any of our children; status is a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        for i in 0..b.nkids {
            // SAFETY: i < nkids <= MAX_CHILDREN entries of the kids mapping.
            let (kpid, fd) = unsafe { *b.kids.add(i) };
            if kpid == pid {
                let bytes = status.to_ne_bytes();
                // SAFETY: writes 4 local bytes to the status fd we own, then closes it; moves
                // the last entry into slot i.
                unsafe {
                    libc::write(fd, bytes.as_ptr().cast(), 4);
                    libc::close(fd);
                    b.nkids -= 1;
                    *b.kids.add(i) = *b.kids.add(b.nkids);
                }
                break;
            }
        }
    }
}

fn read_exact(fd: c_int, mut p: *mut u8, mut n: usize) -> bool {
    while n > 0 {
        // SAFETY: p..p+n lies inside the buffer the caller passes.
        let r = unsafe { libc::read(fd, p.cast(), n) };
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if r <= 0 {
            return false;
        }
        // SAFETY: r <= n bytes were written at p.
        p = unsafe { p.add(r as usize) };
        n -= r as usize;
    }
    true
}

/// Reads one request, spawns, answers. Returns false when the caller is gone (or broke the
/// protocol), which ends the zygote.
fn handle_request(sock: c_int, b: &mut Buffers) -> bool {
    let mut h = ReqHeader::default();
    let mut cbuf = [0u64; cmsg_space(MAX_FDS).div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: (&mut h as *mut ReqHeader).cast(),
        iov_len: size_of::<ReqHeader>(),
    };
    // SAFETY: msghdr is plain data; we fill the fields we use.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&cbuf);
    // SAFETY: msg points to live local buffers.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_WAITALL) };
    if n != size_of::<ReqHeader>() as isize || h.magic != MAGIC {
        return false;
    }
    let mut fds = [-1 as c_int; MAX_FDS];
    let mut nfds = 0usize;
    // SAFETY: walks the control messages the kernel wrote into cbuf.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let k = ((*c).cmsg_len as usize - 16) / 4;
                let data = libc::CMSG_DATA(c) as *const c_int;
                for i in 0..k {
                    if nfds < MAX_FDS {
                        fds[nfds] = *data.add(i);
                        nfds += 1;
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let ok_sizes = (h.payload_len as usize) < MAX_PAYLOAD
        && (h.argc + h.envc) as usize + 2 < MAX_STRINGS
        && (h.nops as usize) <= MAX_FDS
        && (h.ngaps as usize) <= MAX_FDS + 1
        && h.nfds as usize == nfds;
    if !ok_sizes || !read_exact(sock, b.payload, h.payload_len as usize) {
        return false;
    }
    let resp = spawn_one(&h, &fds[..nfds], b);
    // Everything received was only needed for the spawn (the status fd is kept in `kids`).
    for (i, &fd) in fds[..nfds].iter().enumerate() {
        if i as i32 != h.status_fd_idx || resp.0.pid <= 0 {
            // SAFETY: closes fds received in this request, each once.
            unsafe { libc::close(fd) };
        }
    }
    send_resp(sock, resp.0, resp.1)
}

/// Parses the payload into a RawPlan and spawns. Returns the response and the pidfd (or -1).
fn spawn_one(h: &ReqHeader, fds: &[c_int], b: &mut Buffers) -> (Resp, c_int) {
    let fail = |errno| (Resp { pid: -1, errno }, -1);
    let fd_at = |i: i32| {
        if i >= 0 && (i as usize) < fds.len() {
            fds[i as usize]
        } else {
            -1
        }
    };
    let len = h.payload_len as usize;
    // SAFETY: read_exact filled `len` bytes of the payload mapping.
    let pay = unsafe { std::slice::from_raw_parts(b.payload, len) };
    let mut off = 0usize;
    let take_i32 = |off: &mut usize| -> Option<i32> {
        let v = pay.get(*off..*off + 4)?;
        *off += 4;
        Some(i32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
    };
    let nops = h.nops as usize;
    for i in 0..nops {
        let (Some(si), Some(dst)) = (take_i32(&mut off), take_i32(&mut off)) else {
            return fail(libc::EINVAL);
        };
        let src = fd_at(si);
        if src < 0 {
            return fail(libc::EBADF);
        }
        b.ops[i] = FdOp {
            src,
            dst,
            relocate: false,
        };
    }
    mark_relocations(&mut b.ops[..nops]);
    let ngaps = h.ngaps as usize;
    for i in 0..ngaps {
        let (Some(lo), Some(hi)) = (take_i32(&mut off), take_i32(&mut off)) else {
            return fail(libc::EINVAL);
        };
        b.gaps[i] = (lo as u32, hi as u32);
    }
    // The strings: path, optional cwd, argv, env — each NUL-terminated.
    let next_str = |off: &mut usize| -> Option<*const c_char> {
        let rest = pay.get(*off..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        let p = rest.as_ptr() as *const c_char;
        *off += end + 1;
        Some(p)
    };
    let Some(path) = next_str(&mut off) else {
        return fail(libc::EINVAL);
    };
    let cwd = if h.has_cwd != 0 {
        match next_str(&mut off) {
            Some(c) => c,
            None => return fail(libc::EINVAL),
        }
    } else {
        std::ptr::null()
    };
    let (argc, envc) = (h.argc as usize, h.envc as usize);
    for i in 0..argc + envc {
        let Some(s) = next_str(&mut off) else {
            return fail(libc::EINVAL);
        };
        let slot = if i < argc { i } else { i + 1 };
        // SAFETY: slot < argc + envc + 2 < MAX_STRINGS entries of the ptrs mapping.
        unsafe { *b.ptrs.add(slot) = s };
    }
    // SAFETY: as above: the two terminating nulls.
    unsafe {
        *b.ptrs.add(argc) = std::ptr::null();
        *b.ptrs.add(argc + envc + 1) = std::ptr::null();
    }
    let plan = RawPlan {
        exec_fd: fd_at(h.exec_fd_idx),
        path,
        argv: b.ptrs,
        // SAFETY: argc + 1 is inside the ptrs mapping.
        envp: unsafe { b.ptrs.add(argc + 1) },
        cwd_fd: fd_at(h.cwd_fd_idx),
        cwd,
        fd_ops: &b.ops[..nops],
        close_gaps: &b.gaps[..ngaps],
        flags: h.flags,
        pgroup: h.pgroup,
        uid: h.uid,
        gid: h.gid,
        sigmask: h.sigmask,
        ignore: h.ignore,
    };
    if b.nkids >= MAX_CHILDREN {
        return fail(libc::EAGAIN);
    }
    // The caller waits through the pidfd we hand back, so it is made with the child.
    let spawned = spawn_direct(auto_direct(), &plan, true).and_then(|s| {
        s.pidfd
            .map(|fd| (s.pid, fd))
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))
    });
    match spawned {
        Ok((pid, pidfd)) => {
            // SAFETY: nkids < MAX_CHILDREN entries of the kids mapping.
            unsafe { *b.kids.add(b.nkids) = (pid, fd_at(h.status_fd_idx)) };
            b.nkids += 1;
            (Resp { pid, errno: 0 }, pidfd.into_raw_fd())
        }
        Err(e) => fail(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

fn send_resp(sock: c_int, resp: Resp, pidfd: c_int) -> bool {
    let bytes = as_bytes(&resp);
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut c_void,
        iov_len: bytes.len(),
    };
    let mut cbuf = [0u64; cmsg_space(1).div_ceil(8)];
    // SAFETY: msghdr is plain data; the control buffer has room for one fd.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if pidfd >= 0 {
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = cmsg_space(1);
        // SAFETY: the first cmsg header lies in cbuf, sized by cmsg_space(1).
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            *(libc::CMSG_DATA(c) as *mut c_int) = pidfd;
        }
    }
    // SAFETY: msg points to live local buffers.
    let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if pidfd >= 0 {
        // SAFETY: the pidfd was sent (the kernel dup'd it); our copy is no longer needed.
        unsafe { libc::close(pidfd) };
    }
    r == bytes.len() as isize
}
