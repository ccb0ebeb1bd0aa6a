//! Marks with more than one way to reach them. Kernels differ in what they offer (a
//! tracepoint added in 6.10, `bpf_loop` in 5.17, fentry refused on some hosts, kprobes not
//! built on others), so for each such mark the loader tries its programs in order of
//! preference and keeps the first that loads and attaches. What is tried is decided by trying
//! it, never by the kernel version. Every program of one mark emits the same event kind.
//!
//! Order of preference: BTF tracepoints and fentry/fexit (cheap, typed), then the classic
//! tracepoint at the same point (a stable interface; only syscall tracepoints put every task
//! on a slow path, and none of these is one), then kprobes/kretprobes on the kernel function
//! the tracepoint sits in, for kernels that predate the tracepoint.
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

/// One candidate: the program (by name in the object) and where it attaches.
#[derive(Debug, Clone, Copy)]
pub struct Way {
    pub prog: &'static str,
    pub via: Via,
    /// What this variant does differently, for the report ("fd walk: bpf_loop").
    pub variant: Option<&'static str>,
}

impl Way {
    pub const fn new(prog: &'static str, via: Via) -> Self {
        Self {
            prog,
            via,
            variant: None,
        }
    }

    /// Does this way enable a syscall tracepoint (the host-wide slow path)?
    pub fn is_syscall_tracepoint(&self) -> bool {
        matches!(self.via, Via::TracePoint("syscalls", _))
    }

    pub fn describe(&self) -> String {
        let base = match self.via {
            Via::TpBtf(tp) => format!("tp_btf {tp}"),
            Via::FEntry(f) => format!("fentry {f}"),
            Via::FExit(f) => format!("fexit {f}"),
            Via::KProbe(f) => format!("kprobe {f}"),
            Via::KRetProbe(f) => format!("kretprobe {f}"),
            Via::TracePoint(cat, name) => format!("tracepoint {cat}:{name}"),
        };
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
    /// One line for the "probes used" report.
    pub fn note(&self, mark: &Mark) -> String {
        let why = self
            .failed
            .iter()
            .map(|(w, e)| format!("{}: {e}", w.describe()))
            .collect::<Vec<_>>()
            .join("; ");
        match (&self.taken, why.is_empty()) {
            (Some(w), true) => format!("{}: {}", mark.what, w.describe()),
            (Some(w), false) => format!("{}: {} (not taken: {why})", mark.what, w.describe()),
            (None, _) => format!("{}: none, {} ({why})", mark.what, mark.lost),
        }
    }
}

/// Every mark of [`MARKS`]: one note per mark for the report, or, when a required mark has no
/// way on this kernel, that mark's note as the error. With `no_syscalls`, a mark reachable only
/// through syscall tracepoints is left off (and said so), required or not.
pub fn attach_all(
    ebpf: &mut Ebpf,
    tracefs: &Tracefs,
    no_syscalls: bool,
) -> Result<Vec<String>, String> {
    // aya parses the kernel's BTF once more here (EbpfLoader did for itself, kernel_btf with
    // btf-rs); only tp_btf and fentry/fexit need it, and without it they are skipped, with
    // the reason.
    let btf = Btf::from_sys_fs().map_err(|e| e.to_string());
    let mut notes = Vec::new();
    for mark in MARKS {
        if no_syscalls && mark.ways.iter().all(Way::is_syscall_tracepoint) {
            notes.push(format!("{}: off (--no-syscall-tracepoints)", mark.what));
            continue;
        }
        let outcome = attach_first(ebpf, btf.as_ref().map_err(String::as_str), tracefs, mark);
        let note = outcome.note(mark);
        if outcome.taken.is_none() && mark.required {
            return Err(note);
        }
        notes.push(note);
    }
    Ok(notes)
}

/// Can our programs filter by cgroup subtree? Kernels before 5.16 offer
/// `bpf_get_current_ancestor_cgroup_id` to socket programs only, and the probes would fail
/// to load with an unknown-helper error. Probed on the kernel, not by version.
pub fn cgroup_helper_supported() -> bool {
    use aya::{programs::ProgramType, sys::BpfHelper};
    // An error means the probe itself failed: let the real load say what is wrong.
    aya::sys::is_helper_supported(
        ProgramType::TracePoint,
        BpfHelper::BPF_FUNC_get_current_ancestor_cgroup_id,
    )
    .unwrap_or(true)
}

/// Loads and attaches the first way of `mark` that works.
pub fn attach_first(
    ebpf: &mut Ebpf,
    btf: Result<&Btf, &str>,
    tracefs: &Tracefs,
    mark: &Mark,
) -> Outcome {
    let mut failed = Vec::new();
    // Programs named here are passed over, so that the fallbacks can be exercised on a kernel
    // where the preferred way works (tests, and checking a fallback before relying on it).
    let avoid = std::env::var("SPAWNPROF_AVOID").unwrap_or_default();
    for way in mark.ways {
        if avoid.split(',').any(|p| p.trim() == way.prog) {
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

fn try_way(
    ebpf: &mut Ebpf,
    btf: Result<&Btf, &str>,
    tracefs: &Tracefs,
    way: &Way,
) -> Result<(), String> {
    let prog = ebpf
        .program_mut(way.prog)
        .ok_or_else(|| format!("program {} missing from the probes", way.prog))?;
    let short = |e: ProgramError| short_error(&e);
    let no_btf = |e: &str| format!("no kernel BTF ({e})");
    match way.via {
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
    fn long_reasons_are_clipped() {
        let long = "x".repeat(300);
        assert_eq!(clip(&long, 10), format!("{}…", "x".repeat(10)));
        assert_eq!(clip("short", 10), "short");
    }
}
