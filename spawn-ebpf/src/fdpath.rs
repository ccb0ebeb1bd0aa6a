//! The path of the file behind an fd, walked in the kernel: `execveat(fd, "", AT_EMPTY_PATH)`
//! (fexecve, and spawn-fast's exec on a cached O_PATH fd) carries no name, and by the time the
//! analyzer could look in `/proc` a short-lived process and its fd are gone.
//!
//! The walk follows the current task's fd table to the `struct file`, then goes up dentry by
//! dentry, crossing mount points, like the kernel's `d_path` (which tracepoint programs may
//! not call). Components go into fixed slots of a [`FdPathEvent`], leaf first; the analyzer
//! joins them. Field offsets come from the kernel's BTF through the loader (`KOFFSETS`);
//! every read is a checked `bpf_probe_read_kernel`, so a racing rename can give a stale name
//! but never a fault.
use aya_ebpf::{
    cty::c_void,
    helpers::{
        bpf_get_current_task, bpf_probe_read_kernel,
        generated::{bpf_loop, bpf_probe_read_kernel_str},
    },
};
use spawn_common::{
    FD_NAME_LEN, FD_PATH_DEPTH, FD_PATH_TOO_DEEP, FIELD_ABSENT, FdPathEvent, KernelOffsets,
    counter, kind,
};

use crate::{
    emit::{NO_WAKEUP, header},
    state::{EVENTS, bump},
};

/// Kernel struct offsets; overwritten by the loader from BTF (ABSENT = walk off).
#[unsafe(no_mangle)]
static KOFFSETS: KernelOffsets = KernelOffsets::ABSENT;

/// Mount-point crossings allowed on top of the path components.
const MOUNT_HOPS: usize = 8;

#[inline(always)]
fn offsets() -> KernelOffsets {
    // SAFETY: a static the loader patches before load; volatile keeps the default out.
    unsafe { core::ptr::read_volatile(&KOFFSETS) }
}

#[inline(always)]
fn ptr_at(base: u64, off: u32) -> Option<u64> {
    // SAFETY: checked kernel read; a bad address returns an error instead of faulting.
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const u64) }.ok()
}

/// The `struct file` behind the current task's `fd`.
#[inline(always)]
fn file_of(k: &KernelOffsets, fd: i32) -> Option<u64> {
    if k.task_files == FIELD_ABSENT || fd < 0 {
        return None;
    }
    // SAFETY: plain helper call.
    let task = unsafe { bpf_get_current_task() };
    let files = ptr_at(task, k.task_files)?;
    let fdt = ptr_at(files, k.files_fdt)?;
    // SAFETY: checked kernel read of a u32.
    let max_fds: u32 =
        unsafe { bpf_probe_read_kernel((fdt + k.fdt_max_fds as u64) as *const u32) }.ok()?;
    if fd as u32 >= max_fds {
        return None;
    }
    let fd_array = ptr_at(fdt, k.fdt_fd)?;
    ptr_at(fd_array, fd as u32 * 8)
}

/// State of the upward walk, carried between `bpf_loop` iterations.
#[repr(C)]
struct Walk {
    k: KernelOffsets,
    dentry: u64,
    vfsmount: u64,
    mount: u64,
    depth: u32,
    flags: u32,
    /// Name pointers (`qstr.name`), leaf first.
    names: [u64; FD_PATH_DEPTH],
}

/// One step up: a mount crossing or one path component. The walk runs under `bpf_loop`
/// because an unrolled loop with two ways to continue (cross a mount, take a component) makes
/// the verifier explore every mix of the two and give up; a callback is verified once.
///
/// # Safety
/// Called by the kernel's `bpf_loop` with `ctx` pointing at the caller's `Walk`.
unsafe extern "C" fn step(_index: u64, ctx: *mut c_void) -> i64 {
    const STOP: i64 = 1;
    const GO_ON: i64 = 0;
    // SAFETY: bpf_loop passes back the pointer we gave it, to a live Walk on our stack.
    let w = unsafe { &mut *(ctx as *mut Walk) };
    let k = &w.k;
    let Some(root) = ptr_at(w.vfsmount, k.vfsmount_root) else {
        return STOP;
    };
    if w.dentry == root {
        let Some(parent_mount) = ptr_at(w.mount, k.mount_parent) else {
            return STOP;
        };
        if parent_mount == w.mount {
            return STOP; // the root of the mount tree
        }
        let Some(point) = ptr_at(w.mount, k.mount_mountpoint) else {
            return STOP;
        };
        w.dentry = point;
        w.mount = parent_mount;
        w.vfsmount = parent_mount + k.mount_vfsmount as u64;
        return GO_ON;
    }
    let (Some(parent), Some(name)) = (
        ptr_at(w.dentry, k.dentry_parent),
        ptr_at(w.dentry, k.dentry_name),
    ) else {
        return STOP;
    };
    if parent == w.dentry {
        return STOP; // a filesystem root that is not a mount's root (detached)
    }
    if w.depth as usize >= FD_PATH_DEPTH {
        w.flags |= FD_PATH_TOO_DEEP;
        return STOP;
    }
    w.names[w.depth as usize & (FD_PATH_DEPTH - 1)] = name;
    w.depth += 1;
    w.dentry = parent;
    GO_ON
}

/// Where the walk starts: the dentry and vfsmount of the current task's `fd`.
#[inline(always)]
fn start(k: &KernelOffsets, fd: i32) -> Option<(u64, u64)> {
    let file = file_of(k, fd)?;
    Some((ptr_at(file, k.file_dentry)?, ptr_at(file, k.file_vfsmount)?))
}

#[inline(always)]
fn finish_header(p: *mut FdPathEvent, fd: i32, tid: u32, tgid: u32, depth: u32, flags: u32) {
    // SAFETY: `p` is our reserved record; every header field is written, slots past `depth`
    // are never read.
    unsafe {
        (*p).hdr = header(kind::FD_PATH, tid, tgid);
        (*p).fd = fd;
        (*p).depth = depth;
        (*p).flags = flags;
        (*p)._pad = 0;
    }
}

/// Emits the path of the current task's `fd` as a `FD_PATH` event (nothing when the walk is
/// off or the fd is not open). Needs `bpf_loop` (Linux 5.17); see [`emit_bounded`] before.
pub fn emit(fd: i32, tid: u32, tgid: u32) {
    let k = offsets();
    let Some((dentry, vfsmount)) = start(&k, fd) else {
        return;
    };
    let mut w = Walk {
        k,
        dentry,
        vfsmount,
        mount: vfsmount.wrapping_sub(k.mount_vfsmount as u64),
        depth: 0,
        flags: 0,
        names: [0; FD_PATH_DEPTH],
    };
    // SAFETY: `step` has the callback signature bpf_loop expects and only touches `w`.
    unsafe {
        bpf_loop(
            (FD_PATH_DEPTH + MOUNT_HOPS) as u32,
            step as *mut c_void,
            &mut w as *mut Walk as *mut c_void,
            0,
        )
    };
    let Some(mut entry) = EVENTS.reserve::<FdPathEvent>(0) else {
        bump(counter::LOST_EVENTS);
        return;
    };
    let p = entry.as_mut_ptr();
    for i in 0..FD_PATH_DEPTH {
        if i as u32 >= w.depth {
            break;
        }
        // SAFETY: `p` is our reserved record and i < FD_PATH_DEPTH; the helper writes at most
        // FD_NAME_LEN bytes (NUL-terminated) into that slot.
        unsafe {
            bpf_probe_read_kernel_str(
                (*p).names[i].as_mut_ptr() as *mut _,
                FD_NAME_LEN as u32,
                w.names[i] as *const _,
            );
        }
    }
    finish_header(p, fd, tid, tgid, w.depth, w.flags);
    entry.submit(NO_WAKEUP);
}

/// Iterations of [`emit_bounded`]'s loop, read through a volatile load so that LLVM cannot
/// unroll the loop (unrolled, the two ways to go on multiply the verifier's paths).
#[unsafe(no_mangle)]
static FD_WALK_STEPS: u32 = (FD_PATH_DEPTH + MOUNT_HOPS) as u32;

/// The same walk without `bpf_loop`, for kernels before 5.17: a bounded loop (Linux 5.3+),
/// which the verifier runs iteration by iteration. The component count lives in the record,
/// read and written through volatile accesses, so the verifier sees an unknown value (bounded
/// by the mask) rather than an exact one: with the count exact, every mix of mount crossings
/// and components is a different state, and 5.10 gave up after a million instructions. The
/// names go straight into the record at the masked index (those verifiers refuse stack writes
/// at unknown offsets, but accept a bounded offset into a ring-buffer record).
pub fn emit_bounded(fd: i32, tid: u32, tgid: u32) {
    let k = offsets();
    let Some((mut dentry, mut vfsmount)) = start(&k, fd) else {
        return;
    };
    let mut mount = vfsmount.wrapping_sub(k.mount_vfsmount as u64);
    let Some(mut entry) = EVENTS.reserve::<FdPathEvent>(0) else {
        bump(counter::LOST_EVENTS);
        return;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: a static the loader leaves alone; volatile hides its value from LLVM.
    let steps = unsafe { core::ptr::read_volatile(&FD_WALK_STEPS) } as u64;
    let depth = |p: *mut FdPathEvent| {
        // SAFETY: a field of our reserved record.
        unsafe { core::ptr::read_volatile(&(*p).depth) }
    };
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(&mut (*p).depth, 0) };
    let (mut flags, mut i) = (0u32, 0u64);
    while i < steps && i < (FD_PATH_DEPTH + MOUNT_HOPS) as u64 {
        i += 1;
        let Some(root) = ptr_at(vfsmount, k.vfsmount_root) else {
            break;
        };
        if dentry == root {
            let Some(parent_mount) = ptr_at(mount, k.mount_parent) else {
                break;
            };
            let Some(point) = ptr_at(mount, k.mount_mountpoint) else {
                break;
            };
            if parent_mount == mount {
                break; // the root of the mount tree
            }
            dentry = point;
            mount = parent_mount;
            vfsmount = parent_mount + k.mount_vfsmount as u64;
            continue;
        }
        let (Some(parent), Some(name)) = (
            ptr_at(dentry, k.dentry_parent),
            ptr_at(dentry, k.dentry_name),
        ) else {
            break;
        };
        if parent == dentry {
            break; // a filesystem root that is not a mount's root (detached)
        }
        let d = depth(p);
        if d as usize >= FD_PATH_DEPTH {
            flags |= FD_PATH_TOO_DEEP;
            break;
        }
        // SAFETY: `p` is our reserved record and the index is masked below FD_PATH_DEPTH (a
        // power of two); the helper writes at most FD_NAME_LEN bytes into that slot.
        unsafe {
            bpf_probe_read_kernel_str(
                (*p).names[(d as usize) & (FD_PATH_DEPTH - 1)].as_mut_ptr() as *mut _,
                FD_NAME_LEN as u32,
                name as *const _,
            );
            core::ptr::write_volatile(&mut (*p).depth, d + 1);
        }
        dentry = parent;
    }
    finish_header(p, fd, tid, tgid, depth(p), flags);
    entry.submit(NO_WAKEUP);
}
