//! Sending bytes with fds over a unix socket (SCM_RIGHTS), shared by the zygote and the warm
//! images, whose requests are a fixed header, a payload and the fds the child must get.

use std::io;
use std::os::fd::RawFd;

/// Space for a cmsg carrying `n` fds (x86_64 CMSG_SPACE: 16-byte header, data rounded up to 8).
pub(crate) const fn cmsg_space(n: usize) -> usize {
    16 + (n * 4).div_ceil(8) * 8
}

/// Sends `head` then `payload` with `fds` attached to the first byte. EINTR is retried; a
/// partial send is completed with plain sends (the fds already went with the first byte).
pub(crate) fn send_with_fds(
    sock: RawFd,
    head: &[u8],
    payload: &[u8],
    fds: &[RawFd],
) -> io::Result<()> {
    let mut iov = [
        libc::iovec {
            iov_base: head.as_ptr() as *mut _,
            iov_len: head.len(),
        },
        libc::iovec {
            iov_base: payload.as_ptr() as *mut _,
            iov_len: payload.len(),
        },
    ];
    let mut cbuf = vec![0u64; cmsg_space(fds.len()).div_ceil(8)];
    // SAFETY: msghdr is plain data; every pointer set below refers to a live local buffer.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = 2;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = cmsg_space(fds.len());
    // SAFETY: the first cmsg header and its data lie inside cbuf, sized for all fds.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN((fds.len() * 4) as u32) as usize;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c) as *mut RawFd, fds.len());
    }
    let sent = loop {
        // SAFETY: msg points to live buffers.
        let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    let mut skip = sent;
    for part in [head, payload] {
        let k = skip.min(part.len());
        skip -= k;
        write_all(sock, &part[k..])?;
    }
    Ok(())
}

fn write_all(sock: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: sends from inside a live buffer.
        let n = unsafe { libc::send(sock, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}
