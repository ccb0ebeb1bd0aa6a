//! Marks with more than one way to reach them. Kernels differ in what they offer (a
//! tracepoint added in 6.10, `bpf_loop` in 5.17, fentry refused on some hosts, kprobes not
//! built on others), so for each such mark the loader tries its programs in order of
//! preference and keeps the first that loads and attaches. What is tried is decided by trying
//! it, never by the kernel version. Every program of one mark emits the same event kind.
//!
//! Order of preference: BTF tracepoints and fentry/fexit (cheap, typed), then the classic
//! tracepoint at the same point (a stable interface), then kprobes/kretprobes on the kernel
//! function the tracepoint sits in, for kernels that predate the tracepoint. The syscall
//! events (clone family, exec, exit_group, wait) are marks too: fentry/fexit first, the
//! syscall tracepoints last, because while one is enabled every task of the host takes the
//! syscall slow path ([`Attached::syscall_tracepoints`] says which are in use).
use aya::{
    Btf, Ebpf,
    programs::{BtfTracePoint, FEntry, FExit, KProbe, ProgramError, TracePoint},
};

use crate::tracefs::Tracefs;

mod marks;
pub use marks::MARKS;

/// How one program reaches a mark.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// `tp_btf` on this tracepoint.
    TpBtf(&'static str),
    FEntry(&'static str),
    FExit(&'static str),
    /// A kprobe or kretprobe (the program says which) on this kernel function.
    KProbe(&'static str),
    KRetProbe(&'static str),
    /// Classic tracepoint (category, name).
    TracePoint(&'static str, &'static str),
}

impl Via {
    /// ("fentry", "begin_new_exec"), for the report.
    fn parts(self) -> (&'static str, String) {
        match self {
            Via::TpBtf(tp) => ("tp_btf", tp.to_string()),
            Via::FEntry(f) => ("fentry", f.to_string()),
            Via::FExit(f) => ("fexit", f.to_string()),
            Via::KProbe(f) => ("kprobe", f.to_string()),
            Via::KRetProbe(f) => ("kretprobe", f.to_string()),
            Via::TracePoint(cat, name) => ("tracepoint", format!("{cat}:{name}")),
        }
    }

    /// A syscall tracepoint (the host-wide slow path while enabled)?
    pub fn is_syscall_tracepoint(self) -> bool {
        matches!(self, Via::TracePoint("syscalls", _))
    }
}

/// One candidate: the program (by name in the object) and where it attaches, with the
/// programs that come with it (one per syscall of a family: all attach, or none).
#[derive(Debug, Clone, Copy)]
pub struct Way {
    pub prog: &'static str,
    pub via: Via,
    /// What this variant does differently, for the report ("fd walk: bpf_loop").
    pub variant: Option<&'static str>,
    /// More programs of this way.
    pub with: &'static [(&'static str, Via)],
}

impl Way {
    pub const fn new(prog: &'static str, via: Via) -> Self {
        Self {
            prog,
            via,
            variant: None,
            with: &[],
        }
    }

    pub const fn group(prog: &'static str, via: Via, with: &'static [(&'static str, Via)]) -> Self {
        Self {
            with,
            ..Self::new(prog, via)
        }
    }

    /// Every (program, attach point) of this way.
    pub fn programs(&self) -> impl Iterator<Item = (&'static str, Via)> + '_ {
        std::iter::once((self.prog, self.via)).chain(self.with.iter().copied())
    }

    /// Does this way enable a syscall tracepoint (the host-wide slow path)?
    pub fn is_syscall_tracepoint(&self) -> bool {
        self.programs().any(|(_, v)| v.is_syscall_tracepoint())
    }

    /// "fexit __x64_sys_clone, __x64_sys_clone3; tracepoint sched:x".
    pub fn describe(&self) -> String {
        let mut base = String::new();
        let mut last = "";
        for (_, via) in self.programs() {
            let (kind, target) = via.parts();
            if kind == last {
                base.push_str(&format!(", {target}"));
            } else {
                if !base.is_empty() {
                    base.push_str("; ");
                }
                base.push_str(&format!("{kind} {target}"));
                last = kind;
            }
        }
        match self.variant {
            Some(v) => format!("{base} ({v})"),
            None => base,
        }
    }
}

/// A mark and its candidates, best first.
#[derive(Debug)]
pub struct Mark {
    /// What the mark is, for the report ("exec open end").
    pub what: &'static str,
    pub ways: &'static [Way],
    /// Without it the probes are useless: an error instead of a note.
    pub required: bool,
    /// What is lost when no way works ("exec_open and exec_teardown off").
    pub lost: &'static str,
}

/// What came of one mark.
#[derive(Debug)]
pub struct Outcome {
    /// The way taken, if any.
    pub taken: Option<Way>,
    /// The better ways that did not work, with why.
    pub failed: Vec<(Way, String)>,
}

impl Outcome {
    /// Why the better ways did not work ("fentry f: load: EPERM; ...").
    pub fn reasons(&self) -> String {
        self.failed
            .iter()
            .map(|(w, e)| format!("{}: {e}", w.describe()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// One line for the "probes used" report.
    pub fn note(&self, mark: &Mark) -> String {
        let why = self.reasons();
        match (&self.taken, why.is_empty()) {
            (Some(w), true) => format!("{}: {}", mark.what, w.describe()),
            (Some(w), false) => format!("{}: {} (not taken: {why})", mark.what, w.describe()),
            (None, _) => format!("{}: none, {} ({why})", mark.what, mark.lost),
        }
    }
}

/// What [`attach_all`] did.
#[derive(Debug, Default)]
pub struct Attached {
    /// One note per mark, for the report.
    pub notes: Vec<String>,
    /// The syscall tracepoints enabled ("sys_enter_clone", ...): each puts every task of the
    /// host on the syscall slow path.
    pub syscall_tracepoints: Vec<&'static str>,
    /// Marks left off because only syscall tracepoints reach them (`--no-syscall-tracepoints`).
    pub off: Vec<&'static str>,
}

/// Every mark of [`MARKS`]: one note per mark for the report, or, when a required mark has no
/// way on this kernel, that mark's note as the error. With `no_syscalls`, the syscall
/// tracepoint ways are not tried: a mark that only they reach is left off (and said so),
/// required or not.
pub fn attach_all(
    ebpf: &mut Ebpf,
    tracefs: &Tracefs,
    no_syscalls: bool,
) -> Result<Attached, String> {
    // aya parses the kernel's BTF once more here (EbpfLoader did for itself, kernel_btf with
    // btf-rs); only tp_btf and fentry/fexit need it, and without it they are skipped, with
    // the reason.
    let btf = Btf::from_sys_fs().map_err(|e| e.to_string());
    let mut done = Attached::default();
    for mark in MARKS {
        let outcome = attach_first(
            ebpf,
            btf.as_ref().map_err(String::as_str),
            tracefs,
            mark,
            no_syscalls,
        );
        let note = outcome.note(mark);
        match &outcome.taken {
            Some(way) => {
                done.syscall_tracepoints
                    .extend(way.programs().filter_map(|(_, v)| match v {
                        Via::TracePoint("syscalls", name) => Some(name),
                        _ => None,
                    }))
            }
            // Only the syscall tracepoints, not tried, would have reached it.
            None if no_syscalls && mark.ways.iter().any(Way::is_syscall_tracepoint) => {
                done.off.push(mark.what);
                done.notes.push(match outcome.failed.is_empty() {
                    true => format!("{}: off (--no-syscall-tracepoints)", mark.what),
                    false => format!(
                        "{}: off (--no-syscall-tracepoints; {})",
                        mark.what,
                        outcome.reasons()
                    ),
                });
                continue;
            }
            None if mark.required => return Err(note),
            None => {}
        }
        done.notes.push(note);
    }
    Ok(done)
}

/// Can our programs check `--cgroup` with `bpf_get_current_ancestor_cgroup_id`? Kernels
/// before 5.16 offer it to socket programs only; the loader then takes
/// `bpf_current_task_under_cgroup` with a cgroup array instead (same subtree). Probed on the
/// kernel, not by version; `SPAWNPROF_AVOID=cgroup_ancestor_id` takes the fallback anyway
/// (tests). `Err` says why not.
pub fn cgroup_ancestor_helper() -> Result<(), &'static str> {
    use aya::{programs::ProgramType, sys::BpfHelper};
    if avoided("cgroup_ancestor_id") {
        return Err("passed over (SPAWNPROF_AVOID)");
    }
    // An error means the probe itself failed: let the real load say what is wrong.
    match aya::sys::is_helper_supported(
        ProgramType::TracePoint,
        BpfHelper::BPF_FUNC_get_current_ancestor_cgroup_id,
    ) {
        Ok(false) => Err("not in this kernel's tracing programs (Linux 5.16+)"),
        _ => Ok(()),
    }
}

/// Do this kernel's tracing programs have the helpers that the clone family's fentry/fexit
/// way needs to tell the four clone calls apart (`bpf_get_current_task_btf`, Linux 5.11, and
/// `bpf_task_pt_regs`, 5.15)? Without them that way does not load and the clone family stays
/// on its syscall tracepoints. For tests that decide what a kernel must deliver.
pub fn task_regs_helpers() -> bool {
    use aya::{programs::ProgramType, sys::BpfHelper};
    [
        BpfHelper::BPF_FUNC_get_current_task_btf,
        BpfHelper::BPF_FUNC_task_pt_regs,
    ]
    .into_iter()
    .all(|h| aya::sys::is_helper_supported(ProgramType::TracePoint, h).unwrap_or(false))
}

/// Is `name` listed in `SPAWNPROF_AVOID` (ways passed over so that the fallbacks can be
/// exercised on a kernel where the preferred way works)?
pub fn avoided(name: &str) -> bool {
    std::env::var("SPAWNPROF_AVOID")
        .unwrap_or_default()
        .split(',')
        .any(|p| p.trim() == name)
}

/// Loads and attaches the first way of `mark` that works.
pub fn attach_first(
    ebpf: &mut Ebpf,
    btf: Result<&Btf, &str>,
    tracefs: &Tracefs,
    mark: &Mark,
    no_syscalls: bool,
) -> Outcome {
    let mut failed = Vec::new();
    for way in mark.ways {
        if no_syscalls && way.is_syscall_tracepoint() {
            continue;
        }
        if way.programs().any(|(p, _)| avoided(p)) {
            failed.push((*way, "passed over (SPAWNPROF_AVOID)".into()));
            continue;
        }
        let t0 = std::time::Instant::now();
        let res = try_way(ebpf, btf, tracefs, way);
        log::debug!(
            "{}: {} -> {res:?} in {:?}",
            mark.what,
            way.describe(),
            t0.elapsed()
        );
        match res {
            Ok(()) => {
                return Outcome {
                    taken: Some(*way),
                    failed,
                };
            }
            Err(e) => failed.push((*way, e)),
        }
    }
    Outcome {
        taken: None,
        failed,
    }
}

/// Attaches every program of `way`, or none: a failure detaches the ones already attached.
fn try_way(
    ebpf: &mut Ebpf,
    btf: Result<&Btf, &str>,
    tracefs: &Tracefs,
    way: &Way,
) -> Result<(), String> {
    let mut attached = Vec::new();
    for (prog, via) in way.programs() {
        match try_one(ebpf, btf, tracefs, prog, via) {
            Ok(()) => attached.push((prog, via)),
            Err(e) => {
                for (p, v) in attached {
                    unload(ebpf, p, v);
                }
                // Name the failing program when the way has several.
                return Err(if way.with.is_empty() {
                    e
                } else {
                    let (kind, target) = via.parts();
                    format!("{kind} {target}: {e}")
                });
            }
        }
    }
    Ok(())
}

/// Detaches and unloads one program of a way that did not work out as a whole.
fn unload(ebpf: &mut Ebpf, prog: &str, via: Via) {
    let Some(p) = ebpf.program_mut(prog) else {
        return;
    };
    let res = match via {
        Via::TpBtf(_) => <&mut BtfTracePoint>::try_from(p).map(|p| p.unload()),
        Via::FEntry(_) => <&mut FEntry>::try_from(p).map(|p| p.unload()),
        Via::FExit(_) => <&mut FExit>::try_from(p).map(|p| p.unload()),
        Via::KProbe(_) | Via::KRetProbe(_) => <&mut KProbe>::try_from(p).map(|p| p.unload()),
        Via::TracePoint(..) => <&mut TracePoint>::try_from(p).map(|p| p.unload()),
    };
    if let Err(e) = res.and_then(|r| r) {
        log::warn!("unloading {prog}: {e}");
    }
}

fn try_one(
    ebpf: &mut Ebpf,
    btf: Result<&Btf, &str>,
    tracefs: &Tracefs,
    name: &str,
    via: Via,
) -> Result<(), String> {
    let prog = ebpf
        .program_mut(name)
        .ok_or_else(|| format!("program {name} missing from the probes"))?;
    let short = |e: ProgramError| short_error(&e);
    let no_btf = |e: &str| format!("no kernel BTF ({e})");
    match via {
        Via::TpBtf(tp) => {
            let btf = btf.map_err(no_btf)?;
            let p: &mut BtfTracePoint = prog.try_into().map_err(short)?;
            p.load(tp, btf).map_err(short)?;
            if let Err(e) = p.attach() {
                let _ = p.unload();
                return Err(short(e));
            }
        }
        Via::FEntry(f) => {
            let btf = btf.map_err(no_btf)?;
            let p: &mut FEntry = prog.try_into().map_err(short)?;
            p.load(f, btf).map_err(short)?;
            if let Err(e) = p.attach() {
                let _ = p.unload();
                return Err(short(e));
            }
        }
        Via::FExit(f) => {
            let btf = btf.map_err(no_btf)?;
            let p: &mut FExit = prog.try_into().map_err(short)?;
            p.load(f, btf).map_err(short)?;
            if let Err(e) = p.attach() {
                let _ = p.unload();
                return Err(short(e));
            }
        }
        Via::KProbe(f) | Via::KRetProbe(f) => {
            let p: &mut KProbe = prog.try_into().map_err(short)?;
            p.load().map_err(short)?;
            if let Err(e) = p.attach(f, 0) {
                let _ = p.unload();
                return Err(short(e));
            }
        }
        Via::TracePoint(cat, name) => {
            if !tracefs.exists(cat, name) {
                return Err("not on this kernel".into());
            }
            let p: &mut TracePoint = prog.try_into().map_err(short)?;
            p.load().map_err(short)?;
            if let Err(e) = p.attach(cat, name) {
                let _ = p.unload();
                return Err(short(e));
            }
        }
    }
    Ok(())
}

/// Lines the verifier ends its log with whatever the outcome.
const VERIFIER_STATS: &[&str] = &[
    "processed ",
    "stack depth",
    "verification time",
    "max_states",
];

/// A one-line reason: the errno and the verifier's last word, not its whole log.
pub fn short_error(e: &ProgramError) -> String {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let last = log
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty() && !VERIFIER_STATS.iter().any(|s| l.starts_with(s)))
                .unwrap_or("");
            if last.is_empty() {
                format!("load: {io_error}")
            } else {
                format!("load: {io_error}: {}", clip(last, 100))
            }
        }
        ProgramError::Btf(_) => format!("not in this kernel's BTF ({e})"),
        _ => {
            // aya's attach errors keep the cause in `source` (a missing kprobe PMU file, say).
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            clip(&text, 160)
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARK: Mark = Mark {
        what: "exec open end",
        ways: &[],
        required: false,
        lost: "exec_open off",
    };

    #[test]
    fn notes_name_the_way_taken_and_what_was_not() {
        let tp = Way::new("a", Via::TpBtf("sched_prepare_exec"));
        let fe = Way::new("b", Via::FEntry("begin_new_exec"));
        let kp = Way::new("c", Via::KProbe("begin_new_exec"));
        let all_fine = Outcome {
            taken: Some(tp),
            failed: vec![],
        };
        assert_eq!(
            all_fine.note(&MARK),
            "exec open end: tp_btf sched_prepare_exec"
        );
        let fallback = Outcome {
            taken: Some(kp),
            failed: vec![
                (tp, "not in this kernel's BTF".into()),
                (fe, "load: EPERM".into()),
            ],
        };
        assert_eq!(
            fallback.note(&MARK),
            "exec open end: kprobe begin_new_exec (not taken: tp_btf sched_prepare_exec: not \
             in this kernel's BTF; fentry begin_new_exec: load: EPERM)"
        );
        let none = Outcome {
            taken: None,
            failed: vec![(kp, "no kprobes".into())],
        };
        assert_eq!(
            none.note(&MARK),
            "exec open end: none, exec_open off (kprobe begin_new_exec: no kprobes)"
        );
        let walk = Way {
            variant: Some("fd walk: bounded loop"),
            ..Way::new("d", Via::TracePoint("syscalls", "sys_enter_execveat"))
        };
        assert_eq!(
            walk.describe(),
            "tracepoint syscalls:sys_enter_execveat (fd walk: bounded loop)"
        );
    }

    #[test]
    fn groups_name_every_program_and_count_as_syscall_tracepoints_if_one_is() {
        let fexit = Way::group(
            "a",
            Via::FExit("kernel_clone"),
            &[("b", Via::FExit("schedule_tail"))],
        );
        assert_eq!(fexit.describe(), "fexit kernel_clone, schedule_tail");
        assert!(!fexit.is_syscall_tracepoint());
        let mixed = Way::group(
            "c",
            Via::TracePoint("sched", "sched_process_exit"),
            &[("d", Via::TracePoint("syscalls", "sys_exit_wait4"))],
        );
        assert_eq!(
            mixed.describe(),
            "tracepoint sched:sched_process_exit, syscalls:sys_exit_wait4"
        );
        assert!(mixed.is_syscall_tracepoint());
        assert_eq!(
            fexit.programs().map(|(p, _)| p).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    /// Syscall tracepoints tax every task of the host: in every mark they come after every
    /// other way, and every program name is unique.
    #[test]
    fn syscall_tracepoints_are_the_last_resort() {
        let mut names = std::collections::HashSet::new();
        for mark in MARKS {
            let first_tp = mark.ways.iter().position(Way::is_syscall_tracepoint);
            if let Some(i) = first_tp {
                assert!(
                    mark.ways[i..].iter().all(Way::is_syscall_tracepoint),
                    "{}: a cheaper way after a syscall tracepoint",
                    mark.what
                );
            }
            for way in mark.ways {
                for (p, _) in way.programs() {
                    assert!(names.insert(p), "program {p} in two ways");
                }
            }
        }
    }

    #[test]
    fn long_reasons_are_clipped() {
        let long = "x".repeat(300);
        assert_eq!(clip(&long, 10), format!("{}…", "x".repeat(10)));
        assert_eq!(clip("short", 10), "short");
    }
}
