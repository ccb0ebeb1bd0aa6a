//! CSV: the record flattened, with dotted column names (`phases_ns.copy`,
//! `faults.child_pre_exec.cow`). Lists are joined: flag names with `|`, notes with `; `.
use crate::phase::Phase;
use crate::record::{FaultCounts, SpawnKind, SpawnRecord};

/// The header row.
pub fn header() -> String {
    let cols: Vec<String> = flatten(&SpawnRecord::new(0, SpawnKind::Unknown))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    cols.join(",")
}

/// One record as a CSV row, in the order of [`header`].
pub fn row(r: &SpawnRecord) -> String {
    let vals: Vec<String> = flatten(r).into_iter().map(|(_, v)| escape(&v)).collect();
    vals.join(",")
}

/// Column names and values. Names never depend on the record, so every row fits the header.
pub fn flatten(r: &SpawnRecord) -> Vec<(String, String)> {
    fn o<T: ToString>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    let e = r.exec.as_ref();
    let c = r.cloned_by.as_ref();
    let mut f: Vec<(String, String)> = vec![
        ("v".into(), r.v.to_string()),
        ("pid".into(), r.pid.to_string()),
        ("ppid".into(), o(r.ppid)),
        ("parent_tid".into(), o(r.parent_tid)),
        ("id".into(), r.id.to_string()),
        ("parent_record".into(), o(r.parent_record)),
        ("depth".into(), r.depth.to_string()),
        ("comm".into(), r.comm.clone()),
        ("parent_comm".into(), o(r.parent_comm.as_ref())),
        ("ns_pid".into(), o(r.ident.ns_pid)),
        ("pid_ns".into(), o(r.ident.pid_ns)),
        ("cgroup_id".into(), o(r.ident.cgroup_id)),
        ("cgroup".into(), o(r.ident.cgroup.as_ref())),
        (
            "container.runtime".into(),
            o(r.ident.container.as_ref().map(|c| c.runtime.as_str())),
        ),
        (
            "container.id".into(),
            o(r.ident.container.as_ref().map(|c| &c.id)),
        ),
        (
            "container.pod_uid".into(),
            o(r.ident.container.as_ref().and_then(|c| c.pod_uid.as_ref())),
        ),
        ("kind".into(), r.kind.as_str().into()),
        (
            "clone_syscall".into(),
            o(r.clone_syscall.map(|c| c.as_str())),
        ),
        ("clone_flags".into(), o(r.clone_flags)),
        ("clone_flag_names".into(), r.clone_flag_names.join("|")),
        ("cloned_by.pid".into(), o(c.map(|c| c.pid))),
        ("cloned_by.tid".into(), o(c.map(|c| c.tid))),
        ("cloned_by.record".into(), o(c.and_then(|c| c.record))),
        ("cloned_by.comm".into(), o(c.map(|c| &c.comm))),
        (
            "cloned_by.program".into(),
            o(c.and_then(|c| c.program.as_ref())),
        ),
        ("exec.filename".into(), o(e.map(|e| &e.filename))),
        ("exec.ret".into(), o(e.and_then(|e| e.ret))),
        (
            "exec.errno_name".into(),
            o(e.and_then(|e| e.errno_name.as_ref())),
        ),
        ("exec.attempts".into(), o(e.map(|e| e.attempts.len()))),
        ("exec.execs".into(), o(e.map(|e| e.execs))),
        (
            "exec.final_filename".into(),
            o(e.and_then(|e| e.final_filename.as_ref())),
        ),
        ("t_start_ns".into(), o(r.t_start_ns)),
        ("t_end_ns".into(), o(r.t_end_ns)),
        ("total_ns".into(), o(r.total_ns)),
        ("clone_syscall_ns".into(), o(r.clone_syscall_ns)),
        ("exec_syscall_ns".into(), o(r.exec_syscall_ns)),
    ];
    for p in Phase::ALL {
        f.push((format!("phases_ns.{p}"), o(r.phases_ns.get(p))));
    }
    f.push(("startup_note".into(), o(r.startup_note.as_ref())));
    let buckets: [(&str, &FaultCounts); 3] = [
        ("child_pre_exec", &r.faults.child_pre_exec),
        ("parent_after_fork", &r.faults.parent_after_fork),
        ("child_post_exec", &r.faults.child_post_exec),
    ];
    for (b, c) in buckets {
        for (name, v) in [
            ("count", c.count),
            ("cow", c.cow),
            ("major", c.major),
            ("time_ns", c.time_ns),
            ("timed", c.timed),
        ] {
            f.push((format!("faults.{b}.{name}"), v.to_string()));
        }
    }
    f.push(("exit_code".into(), o(r.exit_code)));
    f.push(("complete".into(), r.complete.to_string()));
    f.push(("notes".into(), r.notes.join("; ")));
    f
}

/// RFC 4180 quoting: only when needed, quotes doubled.
fn escape(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits one CSV line, honouring quotes (enough for checking our own output).
    fn split(line: &str) -> Vec<String> {
        let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => out.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        out.push(cur);
        out
    }

    #[test]
    fn header_matches_rows() {
        let h = split(&header());
        assert!(h.contains(&"phases_ns.copy".to_string()));
        assert!(h.contains(&"faults.child_pre_exec.cow".to_string()));
        assert!(h.contains(&"exec.errno_name".to_string()));
        let mut r = SpawnRecord::new(9, SpawnKind::Exec);
        r.comm = "a,b \"c\"".into();
        r.phases_ns.copy = Some(120);
        r.faults.child_pre_exec.cow = 5;
        r.notes = vec!["x".into(), "y, z".into()];
        let cells = split(&row(&r));
        assert_eq!(cells.len(), h.len());
        let get = |name: &str| {
            let i = h.iter().position(|c| c == name).expect("column");
            cells[i].clone()
        };
        assert_eq!(get("pid"), "9");
        assert_eq!((get("id"), get("parent_record")), ("0".into(), "".into()));
        assert_eq!(get("comm"), "a,b \"c\"");
        assert_eq!(get("phases_ns.copy"), "120");
        assert_eq!(get("phases_ns.exec"), "");
        assert_eq!(get("faults.child_pre_exec.cow"), "5");
        assert_eq!(get("notes"), "x; y, z");
        assert_eq!(get("complete"), "false");
    }
}
