//! The borrowed, pointer-only description of one spawn that the child side consumes.
//!
//! Everything a child needs between clone and exec is in here, prepared in the parent (or in the
//! zygote) before the clone, so that the child never allocates or takes a lock.

use libc::{c_char, c_int, c_uint};

/// One fd mapping: child fd `dst` becomes a copy of parent fd `src`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct FdOp {
    pub src: c_int,
    pub dst: c_int,
    /// `src` is also some mapping's `dst`: it must be moved away before any `dup2`.
    pub relocate: bool,
}

/// At most this many mappings may need relocation (the child keeps them in a stack array).
pub(crate) const MAX_RELOCATIONS: usize = 64;

pub(crate) const F_SETSID: u32 = 1;
pub(crate) const F_PGROUP: u32 = 2;
pub(crate) const F_UID: u32 = 4;
pub(crate) const F_GID: u32 = 8;
pub(crate) const F_RESET_SIGNALS: u32 = 16;
pub(crate) const F_SIGMASK: u32 = 32;

#[derive(Clone, Copy)]
pub(crate) struct RawPlan<'a> {
    /// O_PATH fd of the program, or -1 to exec by `path`.
    pub exec_fd: c_int,
    /// Absolute path of the program (also used when an fd exec of a `#!` script fails).
    pub path: *const c_char,
    pub argv: *const *const c_char,
    pub envp: *const *const c_char,
    /// Directory fd to `fchdir` to first (the zygote uses it for the caller's cwd), or -1.
    pub cwd_fd: c_int,
    /// Directory to `chdir` to (after `cwd_fd`), or null.
    pub cwd: *const c_char,
    pub fd_ops: &'a [FdOp],
    /// Inclusive fd ranges to mark close-on-exec (close_range with CLOSE_RANGE_CLOEXEC).
    pub close_gaps: &'a [(c_uint, c_uint)],
    pub flags: u32,
    pub pgroup: libc::pid_t,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// The child's signal mask when `F_SIGMASK` is set; otherwise the parent's mask is kept.
    pub sigmask: u64,
    /// Signals (bit n-1 for signal n) to set to SIG_IGN in the child: the zygote uses it to
    /// give children the caller's ignored set rather than its own.
    pub ignore: u64,
}

// SAFETY: the pointers refer to NUL-terminated data owned by a `Plan`/`Template`/zygote buffer
// that outlives every use and is never mutated while a RawPlan borrows it.
unsafe impl Send for RawPlan<'_> {}
// SAFETY: as above; RawPlan is read-only.
unsafe impl Sync for RawPlan<'_> {}

/// Sets `relocate` on every op whose source is another op's destination. Returns how many.
pub(crate) fn mark_relocations(ops: &mut [FdOp]) -> usize {
    let mut n = 0;
    for i in 0..ops.len() {
        let src = ops[i].src;
        let clash = src != ops[i].dst && ops.iter().any(|o| o.dst == src);
        ops[i].relocate = clash;
        n += clash as usize;
    }
    n
}

/// The fd ranges (>= 3) that are neither stdio nor a mapping target: what `close_other_fds`
/// marks close-on-exec. `targets` must be sorted.
pub(crate) fn close_gaps(targets: &[c_int], out: &mut Vec<(c_uint, c_uint)>) {
    let mut next: c_uint = 3;
    for &t in targets {
        let t = t as c_uint;
        if t < next {
            continue;
        }
        if t > next {
            out.push((next, t - 1));
        }
        next = t + 1;
    }
    out.push((next, c_uint::MAX));
}

/// Turns the user's (parent, child) fd pairs into ops; the last mapping of a child fd wins.
pub(crate) fn build_ops(maps: &[(c_int, c_int)]) -> std::io::Result<Vec<FdOp>> {
    let mut ops: Vec<FdOp> = Vec::with_capacity(maps.len());
    for &(src, dst) in maps {
        if src < 0 || dst < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "negative file descriptor in fd mapping",
            ));
        }
        ops.retain(|o| o.dst != dst);
        ops.push(FdOp {
            src,
            dst,
            relocate: false,
        });
    }
    if mark_relocations(&mut ops) > MAX_RELOCATIONS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "too many fd mappings whose source is another mapping's target",
        ));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocation_is_marked_for_swaps() {
        let ops = build_ops(&[(4, 3), (3, 4), (5, 5)]).unwrap();
        assert!(ops[0].relocate && ops[1].relocate && !ops[2].relocate);
    }

    #[test]
    fn last_mapping_wins() {
        let ops = build_ops(&[(7, 1), (8, 1)]).unwrap();
        assert_eq!(
            ops,
            vec![FdOp {
                src: 8,
                dst: 1,
                relocate: false
            }]
        );
    }

    #[test]
    fn gaps_skip_targets() {
        let mut g = Vec::new();
        close_gaps(&[0, 1, 5, 6, 9], &mut g);
        assert_eq!(g, vec![(3, 4), (7, 8), (10, u32::MAX)]);
        g.clear();
        close_gaps(&[], &mut g);
        assert_eq!(g, vec![(3, u32::MAX)]);
    }

    #[test]
    fn negative_fd_rejected() {
        assert!(build_ops(&[(-1, 3)]).is_err());
    }
}
