//! The owned, prepared form of a spawn request, and program resolution.
//!
//! A `Plan` owns every C string and pointer array the child will read; `Plan::raw` lends them
//! out as a `RawPlan`. Building a plan allocates; using one does not.

use crate::raw_plan::{FdOp, RawPlan};
use crate::sys::cvt;
use libc::c_char;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// A resolved program: an absolute path and an O_PATH fd that pins the file.
#[derive(Debug)]
pub(crate) struct Program {
    pub path: CString,
    pub fd: OwnedFd,
}

/// A NUL-terminated array of C strings that owns its strings.
#[derive(Debug, Default)]
pub(crate) struct CStrArray {
    /// Owns the strings `ptrs` points into.
    _strings: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

// SAFETY: the pointers point into `strings`, owned by this value and never mutated.
unsafe impl Send for CStrArray {}
// SAFETY: read-only after construction.
unsafe impl Sync for CStrArray {}

impl CStrArray {
    pub(crate) fn new(strings: Vec<CString>) -> Self {
        // A CString's heap buffer does not move when the Vec holding it does.
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CStrArray {
            _strings: strings,
            ptrs,
        }
    }
    pub(crate) fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

/// The child's environment.
#[derive(Debug)]
pub(crate) enum Envp {
    /// The caller's `environ` as it is at spawn time (no copy).
    Inherit,
    Owned(CStrArray),
}

impl Envp {
    pub(crate) fn as_ptr(&self) -> *const *const c_char {
        match self {
            // SAFETY: reads the process-global pointer. Rust 2024 makes set_var/remove_var
            // unsafe precisely because of this kind of concurrent reader.
            Envp::Inherit => unsafe { libc::environ as *const *const c_char },
            Envp::Owned(a) => a.as_ptr(),
        }
    }
}

/// Everything a spawn needs, owned.
#[derive(Debug)]
pub(crate) struct Plan {
    pub program: std::sync::Arc<Program>,
    pub argv: CStrArray,
    pub envp: Envp,
    pub cwd: Option<CString>,
    pub ops: Vec<FdOp>,
    pub gaps: Vec<(u32, u32)>,
    pub flags: u32,
    pub pgroup: libc::pid_t,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub sigmask: u64,
}

impl Plan {
    pub(crate) fn raw(&self) -> RawPlan<'_> {
        RawPlan {
            exec_fd: self.program.fd.as_raw_fd(),
            path: self.program.path.as_ptr(),
            argv: self.argv.as_ptr(),
            envp: self.envp.as_ptr(),
            cwd_fd: -1,
            cwd: self.cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            fd_ops: &self.ops,
            close_gaps: &self.gaps,
            flags: self.flags,
            pgroup: self.pgroup,
            uid: self.uid,
            gid: self.gid,
            sigmask: self.sigmask,
            ignore: 0,
        }
    }
}

/// Converts to a C string, rejecting interior NUL bytes with `InvalidInput` (like std).
pub(crate) fn to_cstring(s: &OsStr, what: &str) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("nul byte found in {what}"),
        )
    })
}

fn open_path(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: path is NUL-terminated; the fd is checked.
    let fd = cvt(unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) })?;
    // SAFETY: fresh fd from open.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn executable(path: &CStr) -> bool {
    // SAFETY: NUL-terminated path; access has no other preconditions.
    unsafe { libc::access(path.as_ptr(), libc::X_OK) == 0 }
}

/// Resolves `program` like execvp: a name with a slash is taken as a path (relative to the
/// caller's cwd), otherwise each `PATH` entry is tried; an existing non-executable match gives
/// EACCES unless a later entry works, nothing at all gives ENOENT.
pub(crate) fn resolve(program: &OsStr, path_var: Option<&OsStr>) -> io::Result<Program> {
    let bytes = program.as_bytes();
    if bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte found in program",
        ));
    }
    if bytes.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    if bytes.contains(&b'/') {
        let abs = if bytes[0] == b'/' {
            OsString::from(program)
        } else {
            let mut p = std::env::current_dir()?.into_os_string();
            p.push("/");
            p.push(program);
            p
        };
        let path = to_cstring(&abs, "program")?;
        let fd = open_path(&path)?;
        return Ok(Program { path, fd });
    }
    let search = path_var.map(|p| p.as_bytes()).unwrap_or(b"/bin:/usr/bin");
    let mut seen_eacces = false;
    for dir in search.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut cand = dir.to_vec();
        cand.push(b'/');
        cand.extend_from_slice(bytes);
        let Ok(path) = CString::new(cand) else {
            continue;
        };
        match open_path(&path) {
            Ok(fd) => {
                let mut st: libc::stat = unsafe_zeroed_stat();
                // SAFETY: fstat on our own fd into a local struct.
                let ok = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0;
                if ok && (st.st_mode & libc::S_IFMT) == libc::S_IFREG && executable(&path) {
                    let path = if path.as_bytes()[0] == b'/' {
                        path
                    } else {
                        let mut p = std::env::current_dir()?.into_os_string().into_vec();
                        p.push(b'/');
                        p.extend_from_slice(path.as_bytes());
                        CString::new(p).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?
                    };
                    return Ok(Program { path, fd });
                }
                seen_eacces = true;
            }
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => seen_eacces = true,
            Err(_) => {}
        }
    }
    Err(io::Error::from_raw_os_error(if seen_eacces {
        libc::EACCES
    } else {
        libc::ENOENT
    }))
}

fn unsafe_zeroed_stat() -> libc::stat {
    // SAFETY: stat is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_path() {
        let p = resolve(OsStr::new("sh"), Some(OsStr::new("/nonexistent:/bin"))).unwrap();
        assert_eq!(p.path.as_bytes(), b"/bin/sh");
    }

    #[test]
    fn missing_is_enoent_and_nul_is_invalid() {
        let e = resolve(OsStr::new("no-such-prog-xyz"), Some(OsStr::new("/bin"))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = resolve(OsStr::new("a\0b"), None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn cstr_array_is_null_terminated() {
        let a = CStrArray::new(vec![c"x".to_owned(), c"y".to_owned()]);
        // SAFETY: the array has 2 strings plus the terminating null.
        unsafe { assert!((*a.as_ptr().add(2)).is_null()) };
    }
}
