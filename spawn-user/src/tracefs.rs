//! Tracepoint record layouts from tracefs `format` files.
//!
//! Field offsets change between kernels (6.18 moved `sched_process_fork`'s comms to
//! `__data_loc` fields), and Rust eBPF has no CO-RE relocations for them, so the probes take
//! every offset they read from here at start-up.
use std::{
    fs,
    path::{Path, PathBuf},
};

use spawn_common::{FIELD_ABSENT, Layout};

#[derive(Debug, thiserror::Error)]
pub enum TracefsError {
    #[error(
        "tracefs is not mounted (looked in /sys/kernel/tracing and /sys/kernel/debug/tracing); \
         mount it with `mount -t tracefs nodev /sys/kernel/tracing`"
    )]
    NotMounted,
    #[error("tracepoint {0} does not exist on this kernel")]
    MissingTracepoint(String),
    #[error("tracepoint {tracepoint} has no field `{field}` on this kernel")]
    MissingField { tracepoint: String, field: String },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("malformed format line {line:?}")]
    Malformed { line: String },
}

/// One `field:` line of a format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The declared C type, e.g. `pid_t` or `__data_loc char[]`.
    pub ctype: String,
    pub offset: u32,
    pub size: u32,
}

/// Parses the text of a tracefs `format` file into its fields (common ones included).
pub fn parse_format(text: &str) -> Result<Vec<Field>, TracefsError> {
    let mut fields = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("field:") else {
            continue;
        };
        let malformed = || TracefsError::Malformed {
            line: line.to_string(),
        };
        let mut parts = rest.split(';').map(str::trim);
        let decl = parts.next().ok_or_else(malformed)?;
        let mut offset = None;
        let mut size = None;
        for part in parts {
            if let Some(v) = part.strip_prefix("offset:") {
                offset = v.parse().ok();
            } else if let Some(v) = part.strip_prefix("size:") {
                size = v.parse().ok();
            }
        }
        let (ctype, name) = split_decl(decl).ok_or_else(malformed)?;
        fields.push(Field {
            name,
            ctype,
            offset: offset.ok_or_else(malformed)?,
            size: size.ok_or_else(malformed)?,
        });
    }
    Ok(fields)
}

/// `unsigned long clone_flags` -> (`unsigned long`, `clone_flags`); `char comm[16]` ->
/// (`char[16]`, `comm`); `__data_loc char[] filename` -> (`__data_loc char[]`, `filename`).
fn split_decl(decl: &str) -> Option<(String, String)> {
    let (ctype, last) = decl.rsplit_once(' ')?;
    let (name, array) = match last.find('[') {
        Some(i) => (&last[..i], &last[i..]),
        None => (last, ""),
    };
    let name = name.trim_start_matches('*');
    if name.is_empty() {
        return None;
    }
    Some((format!("{ctype}{array}"), name.to_string()))
}

/// A tracefs mount.
pub struct Tracefs {
    root: PathBuf,
}

impl Tracefs {
    /// Finds a mounted tracefs.
    pub fn find() -> Result<Self, TracefsError> {
        ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.join("events").is_dir())
            .map(|root| Self { root })
            .ok_or(TracefsError::NotMounted)
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn exists(&self, category: &str, name: &str) -> bool {
        self.event_dir(category, name).join("format").is_file()
    }

    fn event_dir(&self, category: &str, name: &str) -> PathBuf {
        self.root.join("events").join(category).join(name)
    }

    pub fn fields(&self, category: &str, name: &str) -> Result<Vec<Field>, TracefsError> {
        let path = self.event_dir(category, name).join("format");
        let text = fs::read_to_string(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                TracefsError::MissingTracepoint(format!("{category}:{name}"))
            } else {
                TracefsError::Io { path, source }
            }
        })?;
        parse_format(&text)
    }

    /// The layout the probes need. A missing optional field is [`FIELD_ABSENT`]; a missing
    /// required one is an error.
    pub fn layout(&self) -> Result<Layout, TracefsError> {
        let mut r = Resolver { fs: self };
        Ok(Layout {
            clone_flags: r.req("syscalls", "sys_enter_clone", "clone_flags")?,
            clone3_uargs: r.req("syscalls", "sys_enter_clone3", "uargs")?,
            execve_filename: r.req("syscalls", "sys_enter_execve", "filename")?,
            execveat_fd: r.req("syscalls", "sys_enter_execveat", "fd")?,
            execveat_filename: r.req("syscalls", "sys_enter_execveat", "filename")?,
            execveat_flags: r.req("syscalls", "sys_enter_execveat", "flags")?,
            waitid_infop: r.req("syscalls", "sys_enter_waitid", "infop")?,
            exit_group_code: r.req("syscalls", "sys_enter_exit_group", "error_code")?,
            sys_exit_ret: r.req("syscalls", "sys_exit_clone", "ret")?,
            newtask_pid: r.req("task", "task_newtask", "pid")?,
            newtask_clone_flags: r.req("task", "task_newtask", "clone_flags")?,
            fork_parent_pid: r.req("sched", "sched_process_fork", "parent_pid")?,
            fork_child_pid: r.req("sched", "sched_process_fork", "child_pid")?,
            wakeup_new_pid: r.req("sched", "sched_wakeup_new", "pid")?,
            wakeup_new_target_cpu: r.opt("sched", "sched_wakeup_new", "target_cpu")?,
            exec_old_pid: r.req("sched", "sched_process_exec", "old_pid")?,
            exit_group_dead: r.opt("sched", "sched_process_exit", "group_dead")?,
            fault_address: r.opt("exceptions", "page_fault_user", "address")?,
            fault_error_code: r.opt("exceptions", "page_fault_user", "error_code")?,
        })
    }
}

struct Resolver<'a> {
    fs: &'a Tracefs,
}

impl Resolver<'_> {
    fn req(&mut self, cat: &str, name: &str, field: &str) -> Result<u32, TracefsError> {
        let fields = self.fs.fields(cat, name)?;
        offset_of(&fields, field).ok_or_else(|| TracefsError::MissingField {
            tracepoint: format!("{cat}:{name}"),
            field: field.to_string(),
        })
    }

    /// Optional: absent tracepoint or field gives [`FIELD_ABSENT`].
    fn opt(&mut self, cat: &str, name: &str, field: &str) -> Result<u32, TracefsError> {
        match self.fs.fields(cat, name) {
            Ok(fields) => Ok(offset_of(&fields, field).unwrap_or(FIELD_ABSENT)),
            Err(TracefsError::MissingTracepoint(_)) => Ok(FIELD_ABSENT),
            Err(e) => Err(e),
        }
    }
}

pub fn offset_of(fields: &[Field], name: &str) -> Option<u32> {
    fields.iter().find(|f| f.name == name).map(|f| f.offset)
}

/// Where the tracefs root is, for messages.
pub fn root_of(t: &Tracefs) -> &Path {
    &t.root
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sched_process_fork` as Linux 6.18 prints it: comms became `__data_loc` strings.
    const FORK_6_18: &str = "name: sched_process_fork
ID: 318
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;
\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;

print fmt: \"comm=%s pid=%d child_comm=%s child_pid=%d\", __get_str(parent_comm), REC->parent_pid, __get_str(child_comm), REC->child_pid
";

    /// The same tracepoint on older kernels (5.x/6.1): fixed `char[16]` comms inline.
    const FORK_OLD: &str = "name: sched_process_fork
ID: 300
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char parent_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t parent_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:char child_comm[16];\toffset:28;\tsize:16;\tsigned:0;
\tfield:pid_t child_pid;\toffset:44;\tsize:4;\tsigned:1;
";

    /// Parses a `sched_process_fork` format and checks the offsets of `parent_pid` and
    /// `child_pid` and the type and size of the comm field `comm`.
    #[track_caller]
    fn check_fork(format: &str, pids: (u32, u32), comm: &str, ctype: &str, size: u32) {
        let f = parse_format(format).unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(offset_of(&f, "parent_pid"), Some(pids.0));
        assert_eq!(offset_of(&f, "child_pid"), Some(pids.1));
        let comm = f.iter().find(|f| f.name == comm).unwrap();
        assert_eq!((comm.ctype.as_str(), comm.size), (ctype, size));
    }

    #[test]
    fn parses_6_18_data_loc_layout() {
        check_fork(FORK_6_18, (12, 20), "parent_comm", "__data_loc char[]", 4);
    }

    #[test]
    fn parses_older_inline_comm_layout() {
        check_fork(FORK_OLD, (24, 44), "child_comm", "char[16]", 16);
    }

    #[test]
    fn pointer_fields_lose_their_star() {
        let f = parse_format(
            "\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;\n\
             \tfield:struct clone_args * uargs;\toffset:16;\tsize:8;\tsigned:0;",
        )
        .unwrap();
        assert_eq!(f[0].name, "filename");
        assert_eq!(f[1].name, "uargs");
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(matches!(
            parse_format("\tfield:int x;\tsize:4;"),
            Err(TracefsError::Malformed { .. })
        ));
        assert!(matches!(
            parse_format("\tfield:;\toffset:1;\tsize:4;"),
            Err(TracefsError::Malformed { .. })
        ));
    }

    #[test]
    fn missing_tracepoint_and_field_are_named() {
        let dir = std::env::temp_dir().join(format!("spawnprof-tracefs-{}", std::process::id()));
        let ev = dir.join("events/sched/sched_process_fork");
        fs::create_dir_all(&ev).unwrap();
        fs::write(ev.join("format"), FORK_OLD).unwrap();
        let t = Tracefs::at(&dir);
        let mut r = Resolver { fs: &t };
        assert_eq!(
            r.req("sched", "sched_process_fork", "child_pid").unwrap(),
            44
        );
        let err = r.req("sched", "sched_process_fork", "nope").unwrap_err();
        assert!(err.to_string().contains("no field `nope`"), "{err}");
        let err = r.req("sched", "sched_prepare_exec", "pid").unwrap_err();
        assert!(
            err.to_string().contains("sched:sched_prepare_exec"),
            "{err}"
        );
        assert_eq!(
            r.opt("sched", "sched_prepare_exec", "pid").unwrap(),
            FIELD_ABSENT
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
