//! A raw fork+execve with a known number of page writes on each side, so that tests can check
//! the copy-on-write faults the probes charge to the child and to the parent.
use std::{ffi::CString, io, os::unix::ffi::OsStrExt, time::Instant};

use spawn_bench::Ballast;

use super::{Spawned, Workload};

pub(super) fn run(w: &Workload, ballast: &Ballast, child_touch: usize) -> io::Result<Vec<Spawned>> {
    let nul = |_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in program or args");
    let program = CString::new(w.program.as_bytes()).map_err(nul)?;
    let mut args = vec![program.clone()];
    for a in &w.args {
        args.push(CString::new(a.as_bytes()).map_err(nul)?);
    }
    // Built before the fork: the child must not allocate.
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let pages = ballast.pages();
    let mut out = Vec::with_capacity(w.count);
    for _ in 0..w.count {
        let start = Instant::now();
        // The raw syscall, not glibc's fork(): glibc's child-side bookkeeping (atfork
        // handlers, lock resets, TLS updates) writes several pages itself, which would blur
        // the count of copy-on-write faults this workload exists to produce.
        // SAFETY: this process is single-threaded here (the workload runs on the main
        // thread and starts none), so the child may run any code until execve; it only writes
        // the ballast and calls execve/_exit, both async-signal-safe.
        let pid = unsafe { libc::syscall(libc::SYS_fork) } as libc::pid_t;
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            for i in 0..child_touch {
                ballast.touch(i);
            }
            // SAFETY: argv/envp are NUL-terminated arrays of valid C strings built above.
            unsafe {
                libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr());
                libc::_exit(127);
            }
        }
        // The parent's writes go to the other end of the ballast, never the child's pages.
        for i in 0..w.parent_touch {
            ballast.touch(pages.saturating_sub(1 + i));
        }
        let mut status = 0;
        // SAFETY: waiting for our own child with a valid out-pointer.
        if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        out.push(Spawned {
            strategy: "raw-fork-touch".into(),
            pid: pid as u32,
            exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            wall_ns: start.elapsed().as_nanos() as u64,
            t_enter_ns: None,
            t_reaped_ns: None,
        });
    }
    Ok(out)
}
