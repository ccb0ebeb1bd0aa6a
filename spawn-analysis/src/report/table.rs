//! The human table: one line per spawn, aligned columns, durations in readable units.
use super::fmt_opt;
use crate::record::{SpawnKind, SpawnRecord};

/// Longest exec filename shown; longer ones keep their end (the program name).
const FILE_WIDTH: usize = 28;

/// The column headings, aligned with [`row`].
pub fn header() -> String {
    line(&[
        "PID", "PPID", "PARENT", "KIND", "CLONE", "EXEC", "RESULT", "T_CLONE", "T_EXEC", "COPY",
        "SETUP", "EXEC_PH", "STARTUP", "TOTAL",
    ])
}

/// One spawn as one line; absent values are `-`.
pub fn row(r: &SpawnRecord) -> String {
    let opt = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let (file, result) = match &r.exec {
        Some(e) => (
            shorten(&e.filename, FILE_WIDTH),
            match (e.ret, &e.errno_name) {
                (Some(0), _) if e.execs > 1 => format!("ok x{}", e.execs),
                (Some(0), _) => "ok".to_string(),
                (Some(_), Some(name)) => name.clone(),
                (Some(ret), None) => ret.to_string(),
                (None, _) => "running".to_string(),
            },
        ),
        None => (
            // A warm spawn runs its image's program without exec.
            r.cloned_by
                .as_ref()
                .and_then(|c| c.program.as_deref())
                .filter(|_| r.kind == SpawnKind::Warm)
                .map_or_else(|| "-".to_string(), |f| shorten(f, FILE_WIDTH)),
            "-".to_string(),
        ),
    };
    let mut result = result;
    if !r.complete {
        result.push('*');
    }
    let p = &r.phases_ns;
    line(&[
        &r.pid.to_string(),
        &opt(r.ppid),
        r.parent_comm.as_deref().unwrap_or("-"),
        r.kind.as_str(),
        r.clone_syscall.map_or("-", |c| c.as_str()),
        &file,
        &result,
        &fmt_opt(r.clone_syscall_ns),
        &fmt_opt(r.exec_syscall_ns),
        &fmt_opt(p.copy),
        &fmt_opt(p.setup),
        &fmt_opt(p.exec),
        &fmt_opt(p.startup),
        &fmt_opt(r.total_ns),
    ])
}

/// Keeps the last `width` characters, marking the cut with "…".
fn shorten(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n - (width - 1)).collect();
    format!("…{tail}")
}

fn line(cols: &[&str]) -> String {
    // Widths fit pids, comms (15 chars), and durations like "1.42ms".
    const W: [usize; 14] = [7, 7, 15, 9, 6, FILE_WIDTH, 8, 8, 8, 8, 8, 8, 8, 8];
    let mut out = String::new();
    for (i, c) in cols.iter().enumerate() {
        let w = W.get(i).copied().unwrap_or(8);
        let cell = if !(2..7).contains(&i) {
            format!("{c:>w$}")
        } else {
            format!("{c:<w$}")
        };
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&cell);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{CloneSyscall, ExecInfo, SpawnKind};

    #[test]
    fn a_row_shows_the_spawn() {
        let mut r = SpawnRecord::new(4242, SpawnKind::Exec);
        r.ppid = Some(1);
        r.parent_comm = Some("bash".into());
        r.clone_syscall = Some(CloneSyscall::Clone3);
        r.exec = Some(ExecInfo {
            filename: "/a/very/long/directory/name/that/goes/on/bin/true".into(),
            ret: Some(-2),
            errno_name: Some("ENOENT".into()),
            attempts: vec![],
            execs: 0,
            final_filename: None,
        });
        r.clone_syscall_ns = Some(36_100);
        r.phases_ns.copy = Some(1_420_000);
        r.total_ns = Some(2_000_000_000);
        let row = row(&r);
        for want in [
            "4242", "bash", "clone3", "ENOENT*", "36.1µs", "1.42ms", "2.00s", "…",
        ] {
            assert!(row.contains(want), "{want:?} not in {row:?}");
        }
        assert!(
            row.contains("bin/true") && !row.contains("/a/very"),
            "{row}"
        );
        assert_eq!(header().split_whitespace().count(), 14);
        assert_eq!(row.split_whitespace().count(), 14, "{row}");
    }
}
