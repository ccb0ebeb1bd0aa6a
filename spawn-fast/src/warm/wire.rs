//! The request/response format between a caller and a parked image (one unix stream socket).
//! Mirrored by `struct req` / `struct resp` in `preload.c`.
//!
//! Request: a `Req`, carrying the fds as SCM_RIGHTS on its first byte, then `payload_len`
//! bytes: `nops` × (index into the fds, child fd) as two i32, the cwd (if `has_cwd`), then
//! `argc` argv strings and `envc` environment strings, each NUL-terminated and contiguous (the
//! child points `/proc/self/cmdline` at them). The child writes one `Report` on the caller's
//! reply pipe (fd `reply_fd_idx`): errno 0 once `main` is next, else the failed step's errno
//! (then it exits 127). The image answers each request with a `Resp` as soon as the child
//! exists (pid, or the errno of a bad request or a failed clone), with the child's pidfd as
//! SCM_RIGHTS when the request asked for it (`F_PIDFD`); the caller reads the report first
//! (one wake-up per spawn), then the answer. The image greets with a `Resp` of magic
//! `MAGIC_HELLO` once parked.
//!
//! With a pool, the image also sends on the pool socket one `Resp` of magic `MAGIC_READY` per
//! pool child (its pid), carrying two fds: the caller's end of a socket on which that child
//! waits for one request (same format, no `Resp`), and the child's pidfd. A pool child found
//! dead (killed from outside) is replaced on request (`MAGIC_REFILL`).

pub(crate) const MAGIC_REQ: u32 = 0x5346_5752;
pub(crate) const MAGIC_RESP: u32 = 0x5346_5741;
pub(crate) const MAGIC_HELLO: u32 = 0x5346_5748;
pub(crate) const MAGIC_READY: u32 = 0x5346_5750;
/// A bare `Req` header with this magic (no payload, no fds, no answer): fork one more pool
/// child (the caller found one dead).
pub(crate) const MAGIC_REFILL: u32 = 0x5346_5746;
/// Request flag: send the child's pidfd with the answer.
pub(crate) const F_PIDFD: u32 = 16;
/// Most pool children per image.
pub(crate) const MAX_POOL: usize = 64;
/// Most fds one request may pass (the kernel's SCM_MAX_FD is 253).
pub(crate) const MAX_FDS: usize = 240;
/// Largest payload the image accepts.
pub(crate) const MAX_PAYLOAD: usize = 16 << 20;
/// Most argv + env strings per request.
pub(crate) const MAX_STRINGS: usize = 1 << 20;
/// Why an image refused to park (`Resp::why` of the greeting).
pub(crate) const NO_PARK_THREADS: i32 = 1;
pub(crate) const NO_PARK_TID: i32 = 2;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Req {
    pub magic: u32,
    pub payload_len: u32,
    pub argc: u32,
    pub envc: u32,
    pub nops: u32,
    pub nfds: u32,
    pub flags: u32,
    pub umask: u32,
    pub pgroup: i32,
    pub caller_pgrp: i32,
    pub uid: u32,
    pub gid: u32,
    pub cwd_fd_idx: i32,
    pub has_cwd: i32,
    pub nice: i32,
    /// The caller's pipe (write end) for the child's `Report`.
    pub reply_fd_idx: i32,
    pub sigmask: u64,
    pub ignore: u64,
    pub cpus: [u64; 16],
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Resp {
    pub magic: u32,
    pub pid: i32,
    pub err: i32,
    pub why: i32,
}

/// What a child writes on the reply pipe.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Report {
    pub pid: i32,
    pub err: i32,
}

const _: () =
    assert!(size_of::<Req>() == 208 && size_of::<Resp>() == 16 && size_of::<Report>() == 8);

pub(crate) use crate::fdpass::cmsg_space;

pub(crate) fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is one of the repr(C) integer structs above (no padding), read as bytes.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }
}
