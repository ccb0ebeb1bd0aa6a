//! The exec: entry (with the file name) and its result; the milestones inside it are in
//! `exec_marks`.
use aya_ebpf::{
    helpers::bpf_probe_read_user_str_bytes,
    macros::{fentry, fexit, tracepoint},
    programs::{FEntryContext, FExitContext, TracePointContext},
};
use spawn_common::{ExecEvent, counter, kind, syscall};

use crate::{
    emit::{NO_WAKEUP, comm, event, header},
    faults,
    regs::{Reg, arg, ret},
    state::{EVENTS, STARTUP, bump, current, followed, layout},
};

const AT_FDCWD: i32 = -100;
const AT_EMPTY_PATH: u32 = 0x1000;

#[inline(always)]
fn read<T>(ctx: &TracePointContext, offset: u32) -> Option<T> {
    // SAFETY: checked kernel read of the tracepoint record.
    unsafe { ctx.read_at::<T>(offset as usize) }.ok()
}

#[inline(always)]
fn first_byte(user: u64) -> Option<u8> {
    // SAFETY: checked user read.
    unsafe { aya_ebpf::helpers::bpf_probe_read_user(user as *const u8) }.ok()
}

/// `walk` names the fd of an fexecve (one of the `fdpath` variants, or nothing).
#[inline(always)]
fn enter(syscall: u32, fd: i32, flags: u32, filename: u64, walk: impl Fn(i32, u32, u32)) {
    let (tid, tgid) = current();
    if !followed(tid, tgid) {
        return;
    }
    // Exec ends the child's pre-exec phase: its fault totals so far belong to `setup`.
    faults::on_exec_enter(tgid);
    // fexecve: the call names no file, so the path behind the fd goes first, for the
    // analyzer to attach to the exec that follows.
    // An unreadable name counts as empty: a fork child has not faulted in the page that
    // holds it yet, and probes cannot fault.
    if flags & AT_EMPTY_PATH != 0 && !matches!(first_byte(filename), Some(b) if b != 0) {
        walk(fd, tid, tgid);
    }
    // Reserve in place: the event is 300+ bytes, too big to build on the 512-byte BPF stack.
    let Some(mut entry) = EVENTS.reserve::<ExecEvent>(0) else {
        bump(counter::LOST_EVENTS);
        return;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: `p` points at a reserved, exclusively owned ring-buffer slot of the right size;
    // every field is written before submit (the filename tail past `filename_len` is unused).
    unsafe {
        (*p).hdr = header(kind::EXEC_ENTER, tid, tgid);
        (*p).syscall = syscall;
        (*p).fd = fd;
        (*p).flags = flags;
        (*p).comm = comm();
        let len = match bpf_probe_read_user_str_bytes(filename as *const u8, &mut (*p).filename) {
            Ok(name) => name.len(),
            Err(_) => 0,
        };
        (*p).filename_len = len as u32;
    }
    entry.submit(NO_WAKEUP);
}

#[tracepoint]
pub fn sys_enter_execve(ctx: TracePointContext) -> u32 {
    let name: u64 = read(&ctx, layout().execve_filename).unwrap_or(0);
    // execve has no fd to name: no walk, so this program loads on every kernel.
    enter(syscall::EXECVE as u32, AT_FDCWD, 0, name, |_, _, _| {});
    0
}

#[inline(always)]
fn execveat(ctx: &TracePointContext, walk: impl Fn(i32, u32, u32)) {
    let l = layout();
    let fd: i64 = read(ctx, l.execveat_fd).unwrap_or(0);
    let name: u64 = read(ctx, l.execveat_filename).unwrap_or(0);
    let flags: i64 = read(ctx, l.execveat_flags).unwrap_or(0);
    enter(
        syscall::EXECVEAT as u32,
        fd as i32,
        flags as u32,
        name,
        walk,
    );
}

// Three variants of the execveat entry; the loader attaches the first that loads. A
// program that calls `bpf_loop` is refused as a whole by kernels before 5.17 (its callback
// is a subprogram they cannot even count), hence whole programs rather than a runtime switch.

/// The fd walk under `bpf_loop` (Linux 5.17+).
#[tracepoint]
pub fn sys_enter_execveat(ctx: TracePointContext) -> u32 {
    execveat(&ctx, crate::fdpath::emit);
    0
}

/// The fd walk as a bounded loop (Linux 5.3+).
#[tracepoint]
pub fn sys_enter_execveat_bounded(ctx: TracePointContext) -> u32 {
    execveat(&ctx, crate::fdpath::emit_bounded);
    0
}

/// No fd walk: the analyzer names the fd from `/proc` while it is open.
#[tracepoint]
pub fn sys_enter_execveat_nowalk(ctx: TracePointContext) -> u32 {
    execveat(&ctx, |_, _, _| {});
    0
}

fn exit(ctx: &TracePointContext, syscall: u64) {
    let (tid, tgid) = current();
    if !followed(tid, tgid) {
        return;
    }
    let ret: i64 = read(ctx, layout().sys_exit_ret).unwrap_or(i64::MIN);
    exit_with(tid, tgid, syscall, ret);
}

#[inline(always)]
fn exit_with(tid: u32, tgid: u32, syscall: u64, ret: i64) {
    if ret == 0 {
        // Startup marks (uprobes in ld.so and libc) are wanted from now until libc starts main.
        if STARTUP.insert(tgid, 1, 0).is_err() {
            bump(counter::STARTUP_FULL);
        }
        faults::on_exec_success(tgid);
    }
    event(kind::EXEC_EXIT, tid, tgid, syscall, ret as u64, 0);
    // The cgroup the new program runs in (runtimes move a container's init just before it
    // execs); after the exit event so that the assembler already knows the exec succeeded.
    if ret == 0 {
        crate::ident::emit(tid, tgid, spawn_common::ident_origin::EXEC);
    }
}

#[tracepoint]
pub fn sys_exit_execve(ctx: TracePointContext) -> u32 {
    exit(&ctx, syscall::EXECVE);
    0
}

#[tracepoint]
pub fn sys_exit_execveat(ctx: TracePointContext) -> u32 {
    exit(&ctx, syscall::EXECVEAT);
    0
}

// The same events from fentry/fexit on the syscall wrappers (see `regs`): no syscall
// tracepoint. `execveat(dfd, filename, argv, envp, flags)`: di, si, dx, r10, r8.

#[fentry(function = "__x64_sys_execve")]
pub fn execve_enter_fentry(ctx: FEntryContext) -> u32 {
    let name = arg(&ctx, Reg::Di);
    enter(syscall::EXECVE as u32, AT_FDCWD, 0, name, |_, _, _| {});
    0
}

#[inline(always)]
fn execveat_fentry(ctx: &FEntryContext, walk: impl Fn(i32, u32, u32)) {
    let fd = arg(ctx, Reg::Di) as i32;
    let name = arg(ctx, Reg::Si);
    let flags = arg(ctx, Reg::R8) as u32;
    enter(syscall::EXECVEAT as u32, fd, flags, name, walk);
}

/// The fd walk as a bounded loop (the `bpf_loop` walk is too deep for the verifier's stack
/// limit here: 6.1 refused it with "combined stack size of 3 calls is 544").
#[fentry(function = "__x64_sys_execveat")]
pub fn execveat_enter_fentry(ctx: FEntryContext) -> u32 {
    execveat_fentry(&ctx, crate::fdpath::emit_bounded);
    0
}

#[inline(always)]
fn exit_fexit(ctx: &FExitContext, syscall: u64) {
    let (tid, tgid) = current();
    if followed(tid, tgid) {
        exit_with(tid, tgid, syscall, ret(ctx));
    }
}

#[fexit(function = "__x64_sys_execve")]
pub fn execve_exit_fexit(ctx: FExitContext) -> u32 {
    exit_fexit(&ctx, syscall::EXECVE);
    0
}

#[fexit(function = "__x64_sys_execveat")]
pub fn execveat_exit_fexit(ctx: FExitContext) -> u32 {
    exit_fexit(&ctx, syscall::EXECVEAT);
    0
}
