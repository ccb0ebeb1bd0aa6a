//! What may be parked: a regular, executable, dynamically linked ELF program whose interpreter
//! is glibc's ld.so, without set-user/group-ID bits or file capabilities. Checked before an
//! image starts, so a program outside that scope never runs with the image's arguments.

use super::WarmError;
use crate::plan::Program;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};

/// The identity of a program file: a change in any field means it was replaced or modified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
}

impl FileId {
    fn of(md: &std::fs::Metadata) -> FileId {
        FileId {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
        }
    }
}

fn path_str(p: &Program) -> String {
    String::from_utf8_lossy(p.path.as_bytes()).into_owned()
}

/// The identity of the file the program's path names now (follows symlinks, as exec does).
pub(crate) fn current_id(p: &Program) -> Result<FileId, WarmError> {
    let path = std::ffi::OsStr::from_bytes(p.path.as_bytes());
    let md = std::fs::metadata(path).map_err(WarmError::Io)?;
    Ok(FileId::of(&md))
}

fn eaccess(path: &CString) -> bool {
    // SAFETY: NUL-terminated path; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::X_OK, libc::AT_EACCESS) == 0 }
}

/// Checks that `p` may be parked; returns its identity. Errors that exec itself would give
/// (EACCES, ENOEXEC) come back as such; programs outside Warm's scope as `WarmError`.
pub(crate) fn check(p: &Program) -> Result<FileId, WarmError> {
    let proc_path = format!("/proc/self/fd/{}", p.fd.as_raw_fd());
    let f = File::open(&proc_path).map_err(WarmError::Io)?;
    let md = f.metadata().map_err(WarmError::Io)?;
    if !md.file_type().is_file() || !eaccess(&p.path) {
        return Err(WarmError::Io(io::Error::from_raw_os_error(libc::EACCES)));
    }
    let path = path_str(p);
    let mut head = [0u8; 64];
    let n = f.read_at(&mut head, 0).map_err(WarmError::Io)?;
    if n >= 2 && &head[..2] == b"#!" {
        return Err(WarmError::Script(path));
    }
    if n < 64 || &head[..4] != b"\x7fELF" {
        return Err(WarmError::Io(io::Error::from_raw_os_error(libc::ENOEXEC)));
    }
    if head[4] != 2 || head[5] != 1 || u16::from_le_bytes([head[18], head[19]]) != 62 {
        return Err(WarmError::NotGlibc(path, "not a 64-bit x86_64 ELF".into()));
    }
    let interp = interpreter(&f, &head).map_err(WarmError::Io)?;
    match interp {
        None => return Err(WarmError::Static(path)),
        Some(i) if !i.contains("ld-linux") => return Err(WarmError::NotGlibc(path, i)),
        Some(_) => {}
    }
    if md.mode() & (libc::S_ISUID | libc::S_ISGID) != 0 {
        return Err(WarmError::SetId(path));
    }
    if has_file_caps(&proc_path) {
        return Err(WarmError::FileCaps(path));
    }
    Ok(FileId::of(&md))
}

/// The PT_INTERP string, or None for a program without one (static).
fn interpreter(f: &File, head: &[u8; 64]) -> io::Result<Option<String>> {
    let u16_at = |o: usize| u16::from_le_bytes([head[o], head[o + 1]]) as u64;
    let phoff = u64::from_le_bytes(head[32..40].try_into().expect("8 bytes"));
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    if phentsize < 56 || phnum > 512 {
        return Err(io::Error::from_raw_os_error(libc::ENOEXEC));
    }
    let mut ph = vec![0u8; (phentsize * phnum) as usize];
    f.read_exact_at(&mut ph, phoff)?;
    for e in ph.chunks_exact(phentsize as usize) {
        if u32::from_le_bytes(e[0..4].try_into().expect("4 bytes")) != 3 {
            continue; // not PT_INTERP
        }
        let off = u64::from_le_bytes(e[8..16].try_into().expect("8 bytes"));
        let size = u64::from_le_bytes(e[32..40].try_into().expect("8 bytes")).min(4096);
        let mut s = vec![0u8; size as usize];
        f.read_exact_at(&mut s, off)?;
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        return Ok(Some(String::from_utf8_lossy(&s[..end]).into_owned()));
    }
    Ok(None)
}

fn has_file_caps(proc_path: &str) -> bool {
    let Ok(p) = CString::new(proc_path) else {
        return false;
    };
    // SAFETY: NUL-terminated names; a null buffer of size 0 only asks for the size.
    let n = unsafe {
        libc::getxattr(
            p.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::resolve;
    use std::ffi::OsStr;

    fn prog(p: &str) -> Program {
        resolve(OsStr::new(p), None).unwrap()
    }

    #[test]
    fn scope() {
        assert!(check(&prog("/bin/true")).is_ok());
        assert!(matches!(
            check(&prog(crate::children::EXIT0)),
            Err(WarmError::Static(_))
        ));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/script.sh");
        assert!(matches!(check(&prog(script)), Err(WarmError::Script(_))));
        let garbage = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/garbage");
        match check(&prog(garbage)) {
            Err(WarmError::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOEXEC)),
            r => panic!("{r:?}"),
        }
    }
}
