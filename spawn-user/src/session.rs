//! `spawnprof trace`: run a command under the probes and report one record per spawn.
//!
//! Threads: the calling thread spawns the command (the probes follow that thread's children,
//! so the command's own spawn is recorded) and waits for it; a reader thread drains the ring
//! buffer, assembles records and writes them as they complete.
//!
//! Why no tokio runtime here, unlike the live modes ([`crate::live`]): `trace` has exactly two
//! things to wait on, each alone on its thread, the command's exit and the ring buffer's fd,
//! and no timer, socket or key to multiplex with them, so a runtime would only replace a
//! blocking `wait` and a `poll(2)` with the same syscalls behind a reactor. It would also put
//! the traced thread at risk: the probes follow every thread and process the calling thread
//! creates once it is watched, and a runtime may start threads of its own on demand (its
//! blocking pool: file I/O, `spawn_blocking`, a child's wait where no pidfd is at hand),
//! which would then show up in the trace. The ring buffer reading is shared with the live
//! modes ([`Collector`] waits with poll(2) here and through `AsyncFd` there), and so is the
//! assembly; spawn-fast's `tokio` feature (an async wait on a pidfd) would only matter if the
//! wait had to share a thread with something else.
use std::{
    ffi::OsString,
    io::{self, Write},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use spawn_common::counter;

use spawn_analysis::{
    record::SpawnRecord,
    report::{Format, RecordWriter, summary::Summary},
    tree::{Item, Tree, text::TextOptions},
};

use crate::{
    collector::Collector,
    loader::{LoadError, ProbeOptions, Probes},
    preflight::{self, PreflightError},
};

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}: command not found")]
    NotFound(String),
    #[error("{0}: permission denied")]
    PermissionDenied(String),
    #[error("cannot run {0}: {1}")]
    Spawn(String, io::Error),
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
    #[error("the event reader thread panicked")]
    Reader,
}

#[derive(Debug, Clone)]
pub struct TraceOptions {
    pub format: Format,
    pub faults: bool,
    pub startup: bool,
    /// Attach the `prep` uprobe to spawn-fast's entry mark in the traced program. Off by
    /// default: a uprobe hit costs ~15 µs on this kind of VM, 10% of a small spawn.
    pub prep: bool,
    /// Count each probe's hits and BPF run time (kernel BPF statistics) and report them.
    pub probe_stats: bool,
    /// Attach no syscall tracepoint (`--no-syscall-tracepoints`).
    pub no_syscall_tracepoints: bool,
    /// Print the spawn tree (instead of the per-spawn table, which it contains).
    pub tree: Option<TextOptions>,
    pub program: OsString,
    pub args: Vec<OsString>,
}

/// What a finished trace reports besides the records.
#[derive(Debug, Default, Clone)]
pub struct TraceOutcome {
    /// The command's exit code (128 + signal when killed, as shells do).
    pub exit_code: i32,
    pub records: usize,
    pub lost_events: u64,
    pub decode_errors: u64,
    /// Every loss counter and the kernel's spawn count.
    pub losses: spawn_analysis::losses::Losses,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Ctrl-C / SIGTERM reach the traced command (same process group); we keep running until it
/// exits, then flush. A handler (not SIG_IGN) so that exec resets it in the command.
fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

pub fn run(opts: &TraceOptions, out: Box<dyn Write + Send>) -> Result<TraceOutcome, TraceError> {
    let tracefs = preflight::check()?;
    let mut probes = Probes::load(
        &tracefs,
        ProbeOptions {
            follow_all: false,
            faults: opts.faults,
            startup: opts.startup,
            children: true,
            cgroup: None,
            no_syscall_tracepoints: opts.no_syscall_tracepoints,
        },
    )?;
    let limits = crate::test_limits::TestLimits::from_env().map_err(LoadError::from)?;
    let ring = probes.take_events()?;
    if opts.prep
        && let Some(path) = resolve_program(&opts.program)
        && !probes.attach_prep_mark(&path)
    {
        probes
            .notes
            .push("prep mark off: the traced program does not link spawn-fast".into());
    }
    if opts.probe_stats {
        probes.enable_run_stats()?;
    }
    install_signal_handlers();

    let stop = Arc::new(AtomicBool::new(false));
    let (root_tx, root_rx) = std::sync::mpsc::channel::<u32>();
    let reader = {
        let stop = stop.clone();
        // The tree replaces the table; JSON and CSV records are still written.
        let rows = opts.tree.is_none() || opts.format != Format::Table;
        let format = opts.format;
        let mut asm = limits.assembler();
        asm.set_no_syscall_events(opts.no_syscall_tracepoints);
        let col = Collector::new(ring, asm);
        let hold = limits.hold_reader;
        thread::spawn(move || read_loop(col, out, format, rows, hold, stop, root_rx))
    };

    // Only now: threads started before this (the reader) are not the traced command's.
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    probes.watch_thread(tid)?;
    let status = spawn_and_wait(opts, &root_tx);
    // Let the last events of the command's exit and reap reach the ring buffer.
    // Descendants that outlive the command would keep the count moving: stop it here.
    probes.stop_counting_spawns();
    thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let read = reader.join().map_err(|_| TraceError::Reader)?;
    let (records, col, mut summary, items, mut out) = read?;
    let decode_errors = col.decode_errors();
    let counters = probes.counters()?;
    probes.flush_log();
    let lost = counters[counter::LOST_EVENTS as usize];
    summary.set_lost_events(lost);
    let mut losses = spawn_analysis::losses::Losses::from_counters(&counters);
    col.add_losses(&mut losses);
    // The tree needs every record: it is built once the command is done.
    let tree = Tree::build(items);
    let mut text = match opts.tree {
        Some(t) => format!("{}\n", spawn_analysis::tree::text::render(&tree, t)),
        None => String::new(),
    };
    text.push_str(&summary.render());
    text.push_str(&format!(
        "{}\n{}\n",
        losses.line(),
        losses.balance(col.spawn_records(), 0).line()
    ));
    text.push_str(&spawn_analysis::tree::verdict::render(&tree, 5));
    text.push_str("\nprobes used:\n");
    for note in &probes.notes {
        text.push_str(&format!("  {note}\n"));
    }
    if opts.probe_stats {
        text.push('\n');
        text.push_str(&spawn_analysis::report::probe_cost::render(
            &probes.probe_costs(),
            records,
        ));
    }
    if matches!(opts.format, Format::Table) {
        // After the table a blank line; the tree, which replaces it, comes first.
        let gap = if opts.tree.is_some() { "" } else { "\n" };
        writeln!(out, "{gap}{text}")?;
        out.flush()?;
    } else {
        out.flush()?;
        eprintln!("{text}");
    }
    let exit_code = status?;
    Ok(TraceOutcome {
        exit_code,
        records,
        lost_events: lost,
        decode_errors,
        losses,
    })
}

fn spawn_and_wait(
    opts: &TraceOptions,
    root_tx: &std::sync::mpsc::Sender<u32>,
) -> Result<i32, TraceError> {
    let name = opts.program.to_string_lossy().into_owned();
    let mut child = std::process::Command::new(&opts.program)
        .args(&opts.args)
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => TraceError::NotFound(name.clone()),
            io::ErrorKind::PermissionDenied => TraceError::PermissionDenied(name.clone()),
            _ => TraceError::Spawn(name.clone(), e),
        })?;
    let _ = root_tx.send(child.id());
    loop {
        match child.wait() {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                return Ok(status
                    .code()
                    .or_else(|| status.signal().map(|s| 128 + s))
                    .unwrap_or(1));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(TraceError::Spawn(name, e)),
        }
    }
}

type ReadResult = Result<(usize, Collector, Summary, Vec<Item>, Box<dyn Write + Send>), TraceError>;

fn read_loop(
    mut col: Collector,
    out: Box<dyn Write + Send>,
    format: Format,
    rows: bool,
    hold: bool,
    stop: Arc<AtomicBool>,
    root_rx: std::sync::mpsc::Receiver<u32>,
) -> ReadResult {
    // Tests only (`hold_reader`): leave the ring buffer alone until the command is done, so
    // that a small one overflows however fast this thread would have been.
    while hold && !stop.load(Ordering::Relaxed) {
        thread::park_timeout(Duration::from_millis(10));
    }
    let mut writer = RecordWriter::new(out, format);
    let mut summary = Summary::default();
    let mut records = 0usize;
    let mut items = Vec::new();
    let mut emit =
        |recs: Vec<SpawnRecord>, w: &mut RecordWriter, s: &mut Summary| -> io::Result<usize> {
            let n = recs.len();
            for r in recs {
                s.add(&r);
                items.push(Item::from_record(&r));
                if rows {
                    w.write(&r)?;
                }
            }
            w.flush()?;
            Ok(n)
        };
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        col.fill(if stopping { 0 } else { 100 });
        // After the events, before releasing records: the root's reap can only be among the
        // events once the root's pid was sent (it is sent before the wait), so the root
        // record is always named before it can be released.
        if let Ok(pid) = root_rx.try_recv() {
            col.set_root(pid);
        }
        records += emit(col.ready(), &mut writer, &mut summary)?;
        if stopping {
            break;
        }
    }
    records += emit(col.finish(), &mut writer, &mut summary)?;
    Ok((records, col, summary, items, writer.into_inner()))
}

/// The file `execvp` would run for `program` (PATH search for a bare name).
fn resolve_program(program: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(program);
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(p))
            .find(|c| c.is_file())
    })
}
