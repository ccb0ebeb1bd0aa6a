//! Raw system-level helpers: the clone3 and vfork entry stubs, pidfd calls, and the signal-mask
//! guard. Everything here is small and wrapped so that callers need few `unsafe` blocks.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

// Why assembly: a child created with CLONE_VM on a new stack (clone3) or sharing the parent's
// stack (vfork) must never return through compiler-generated Rust frames, and Rust has no
// `returns_twice` attribute. Each stub calls `f(arg)` in the child and exits with its result
// (the shared tail `spawn_fast_child_tail`), so the child never returns from the stub; the
// parent returns normally with the syscall result.
core::arch::global_asm!(
    // The child's side of every stub: r8 = f, r9 = arg. Calls f(arg) on an aligned stack and
    // exits the thread with its result.
    ".type spawn_fast_child_tail,@function",
    "spawn_fast_child_tail:",
    "    and rsp, -16",
    "    mov rdi, r9",
    "    call r8",
    "    mov edi, eax",
    "    mov eax, 231",
    "    syscall",
    "    ud2",
    ".size spawn_fast_child_tail, .-spawn_fast_child_tail",
    "",
    ".globl spawn_fast_clone3_run",
    ".type spawn_fast_clone3_run,@function",
    "spawn_fast_clone3_run:",
    // rdi = args, rsi = size, rdx = f, rcx = arg. r8/r9 survive the syscall in both tasks.
    "    mov r8, rdx",
    "    mov r9, rcx",
    "    mov eax, 435",
    "    syscall",
    "    test rax, rax",
    "    jz 2f",
    "    ret",
    "2:",
    "    xor ebp, ebp",
    "    jmp spawn_fast_child_tail",
    ".size spawn_fast_clone3_run, .-spawn_fast_clone3_run",
    "",
    ".globl spawn_fast_vfork_run",
    ".type spawn_fast_vfork_run,@function",
    "spawn_fast_vfork_run:",
    // rdi = f, rsi = arg. The child runs on the parent's stack below this frame; the parent
    // is suspended until the child execs or exits, and only reads its own frame afterwards.
    "    mov r8, rdi",
    "    mov r9, rsi",
    "    mov eax, 58",
    "    syscall",
    "    test rax, rax",
    "    jz spawn_fast_child_tail",
    "    ret",
    ".size spawn_fast_vfork_run, .-spawn_fast_vfork_run",
    "",
    ".globl spawn_fast_clone_run",
    ".type spawn_fast_clone_run,@function",
    "spawn_fast_clone_run:",
    // rdi = flags, rsi = where the kernel stores the pidfd, rdx = f, rcx = arg. The plain
    // clone syscall takes (flags, newsp, parent_tid, child_tid, tls); with CLONE_PIDFD the
    // pidfd goes to parent_tid. newsp 0 keeps the current stack (a copy without CLONE_VM, the
    // suspended parent's with CLONE_VM|CLONE_VFORK, exactly as vfork). tls and child_tid are
    // only read with CLONE_SETTLS/CLONE_CHILD_*TID, which callers never pass, so r8 may carry
    // f; r9 carries arg. Both survive the syscall in both tasks.
    "    mov r8, rdx",
    "    mov r9, rcx",
    "    mov rdx, rsi",
    "    xor esi, esi",
    "    xor r10d, r10d",
    "    mov eax, 56",
    "    syscall",
    "    test rax, rax",
    "    jz spawn_fast_child_tail",
    "    ret",
    ".size spawn_fast_clone_run, .-spawn_fast_clone_run",
);

/// The kernel's `struct clone_args` (first version, 64 bytes, plus set_tid and cgroup).
#[repr(C)]
#[derive(Default)]
pub(crate) struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
}

pub(crate) type ChildFn = unsafe extern "C" fn(*mut libc::c_void) -> libc::c_int;

unsafe extern "C" {
    /// Returns the child's pid or -errno in the parent; never returns in the child.
    pub(crate) fn spawn_fast_clone3_run(
        args: *mut CloneArgs,
        size: usize,
        f: ChildFn,
        arg: *mut libc::c_void,
    ) -> libc::c_long;
    /// Returns the child's pid or -errno in the parent; never returns in the child.
    pub(crate) fn spawn_fast_vfork_run(f: ChildFn, arg: *mut libc::c_void) -> libc::c_long;
    /// The plain clone syscall on the current stack. `flags` must include the exit signal and
    /// may not include CLONE_SETTLS, CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID or
    /// CLONE_PARENT_SETTID; with CLONE_PIDFD the kernel stores the pidfd at `pidfd`. Returns
    /// the child's pid or -errno in the parent; never returns in the child.
    pub(crate) fn spawn_fast_clone_run(
        flags: u64,
        pidfd: *mut libc::c_int,
        f: ChildFn,
        arg: *mut libc::c_void,
    ) -> libc::c_long;
}

/// Turns a libc-style `-1`-and-errno return into a result.
pub(crate) fn cvt<T: Copy + PartialEq + From<i8>>(ret: T) -> io::Result<T> {
    if ret == T::from(-1) {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the kernel reaps our children by itself (SIGCHLD ignored or SA_NOCLDWAIT): then a
/// child's pid may be reused as soon as it exits, and only a pidfd names it safely.
pub(crate) fn children_autoreaped() -> bool {
    // SAFETY: sigaction is plain data; a null new action only reads the current one.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old) == 0
            && (old.sa_sigaction == libc::SIG_IGN || old.sa_flags & libc::SA_NOCLDWAIT != 0)
    }
}

pub(crate) fn pidfd_send_signal(pidfd: RawFd, sig: i32) -> io::Result<()> {
    // SAFETY: null siginfo is allowed; the fd is borrowed for the call only.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    })?;
    Ok(())
}

/// Blocks every signal in the calling thread until dropped, then restores the previous mask.
/// A CLONE_VM child shares our memory: a signal handler running in it would corrupt the parent.
pub(crate) struct SignalBlock {
    pub old: libc::sigset_t,
}

impl SignalBlock {
    pub(crate) fn new() -> Self {
        // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask only write the given sets.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            SignalBlock { old }
        }
    }
}

impl Drop for SignalBlock {
    fn drop(&mut self) {
        // SAFETY: restores a mask previously returned by pthread_sigmask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// The calling thread's current signal mask.
pub(crate) fn current_sigmask() -> libc::sigset_t {
    // SAFETY: with a null new set, pthread_sigmask only writes the old mask.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut old);
        old
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock bpf_ktime_get_ns() uses, so marks line up.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Opens `/dev/null` read-write with O_CLOEXEC.
pub(crate) fn open_dev_null() -> io::Result<OwnedFd> {
    // SAFETY: a static NUL-terminated path; the returned fd is checked.
    let fd = cvt(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
    // SAFETY: fresh fd from open, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A pipe with both ends O_CLOEXEC: (read, write).
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both fds are fresh from pipe2.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
