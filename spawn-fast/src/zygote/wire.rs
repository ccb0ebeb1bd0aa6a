//! The request/response format between callers and the zygote (one unix stream socket).
//!
//! Request: a `ReqHeader`, carrying the fds as SCM_RIGHTS, then `payload_len` bytes:
//! `nops` × (src index into the fds, dst) as two i32, `ngaps` × (lo, hi) as two u32, the program
//! path, the cwd (if `has_cwd`), `argc` argv strings and `envc` env strings, each NUL-terminated.
//! Response: a `Resp`, with the child's pidfd as SCM_RIGHTS when `pid > 0`.

pub(crate) const MAGIC: u32 = 0x5350_4631; // "SPF1"
/// Most fds one request may pass (the kernel's SCM_MAX_FD is 253).
pub(crate) const MAX_FDS: usize = 240;
/// Largest payload (argv + env + paths) the zygote accepts.
pub(crate) const MAX_PAYLOAD: usize = 64 << 20;
/// Most argv + env strings per request.
pub(crate) const MAX_STRINGS: usize = 1 << 20;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ReqHeader {
    pub magic: u32,
    pub payload_len: u32,
    pub argc: u32,
    pub envc: u32,
    pub nops: u32,
    pub ngaps: u32,
    pub nfds: u32,
    pub flags: u32,
    pub pgroup: i32,
    pub uid: u32,
    pub gid: u32,
    pub exec_fd_idx: i32,
    pub cwd_fd_idx: i32,
    pub status_fd_idx: i32,
    pub has_cwd: u32,
    pub _pad: u32,
    pub sigmask: u64,
    pub ignore: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Resp {
    pub pid: i32,
    pub errno: i32,
}

pub(crate) use crate::fdpass::cmsg_space;

pub(crate) fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a repr(C) struct of integers without padding holes that matter; we only
    // send it to a process built from this same code.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }
}
