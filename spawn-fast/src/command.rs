//! The `Command` builder and `Stdio`.

use crate::child::{Child, Handle, Output};
use crate::marks;
use crate::plan::{CStrArray, Envp, Plan, Program, resolve, to_cstring};
use crate::raw_plan::{self, F_GID, F_PGROUP, F_RESET_SIGNALS, F_SETSID, F_SIGMASK, F_UID};
use crate::strategy::Strategy;
use crate::sys::{monotonic_ns, open_dev_null, pipe_cloexec};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a child's stdin/stdout/stderr is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// The caller's own fd.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the caller's end is in `Child::stdin`/`stdout`/`stderr`.
    Piped,
    /// A caller-owned fd, which must stay open until `spawn` returns.
    Fd(RawFd),
}

/// A process builder with std's vocabulary plus spawn-specific knobs (strategy, fd mapping,
/// session, signal reset, close-other-fds). See the crate docs.
#[derive(Debug, Clone)]
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) arg0: Option<OsString>,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdio: [Option<Stdio>; 3],
    pub(crate) fd_maps: Vec<(RawFd, RawFd)>,
    pub(crate) pgroup: Option<libc::pid_t>,
    pub(crate) setsid: bool,
    pub(crate) sigmask: Option<u64>,
    pub(crate) reset_signals: bool,
    pub(crate) uid: Option<libc::uid_t>,
    pub(crate) gid: Option<libc::gid_t>,
    pub(crate) close_other_fds: bool,
    pub(crate) strategy: Strategy,
    /// The resolved program, kept across spawns (invalidated when PATH or env changes).
    pub(crate) resolved: Option<Arc<Program>>,
}

/// The stdio part of one spawn: fd pairs for the plan, fds to close once spawned, our ends.
pub(crate) struct StdioSetup {
    pub maps: Vec<(RawFd, RawFd)>,
    pub keep: Vec<OwnedFd>,
    pub ends: [Option<File>; 3],
}

/// Spawns `plan` by `strategy` (already resolved: never `Auto`; `Warm` from `image` when one
/// is given): the child's pid, its pidfd when the strategy made one, and how to wait for it.
pub(crate) fn spawn_plan(
    plan: &Plan,
    strategy: Strategy,
    close_others: bool,
    image: Option<&crate::warm::Image>,
) -> io::Result<(libc::pid_t, Option<OwnedFd>, Handle)> {
    let raw = plan.raw();
    Ok(if strategy == Strategy::Warm {
        let s = crate::warm::spawn(&plan.program, &raw, close_others, image)?;
        (s.pid, s.pidfd, Handle::Direct)
    } else if strategy == Strategy::Zygote {
        let z = crate::zygote::spawn(&raw)?;
        (z.pid, Some(z.pidfd), Handle::Zygote { status: z.status })
    } else {
        let s = crate::spawn::spawn_direct(strategy, &raw, false)?;
        (s.pid, s.pidfd, Handle::Direct)
    })
}

impl Command {
    /// A command for `program`: a path, or a name looked up in `PATH`.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdio: [None, None, None],
            fd_maps: Vec::new(),
            pgroup: None,
            setsid: false,
            sigmask: None,
            reset_signals: false,
            uid: None,
            gid: None,
            close_other_fds: false,
            strategy: Strategy::Auto,
            resolved: None,
        }
    }

    /// Appends one argument (`argv[1]`, `argv[2]`, ...; `argv[0]` is set by [`arg0`](Self::arg0)).
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets `argv[0]` (default: the program as given).
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg0: S) -> &mut Self {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets one variable in the child's environment (the caller's own is not changed). Setting
    /// `PATH` also changes where a bare program name is looked up.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Self {
        self.touch_env(key.as_ref());
        self.env
            .insert(key.as_ref().to_owned(), Some(val.as_ref().to_owned()));
        self
    }

    /// Sets several variables, as [`env`](Self::env) does.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes one variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Self {
        self.touch_env(key.as_ref());
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child with an empty environment (plus later `env` calls).
    pub fn env_clear(&mut self) -> &mut Self {
        self.resolved = None;
        self.env_clear = true;
        self.env.clear();
        self
    }

    fn touch_env(&mut self, key: &OsStr) {
        if key == "PATH" {
            self.resolved = None;
        }
    }

    /// The child's working directory. A relative program path is still resolved against the
    /// caller's cwd (the program is looked up in the parent, before the child changes dir).
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's stdin (default: `Inherit`, `Null` for [`output`](Self::output)).
    pub fn stdin(&mut self, s: Stdio) -> &mut Self {
        self.stdio[0] = Some(s);
        self
    }

    /// The child's stdout (default: `Inherit`, `Piped` for [`output`](Self::output)).
    pub fn stdout(&mut self, s: Stdio) -> &mut Self {
        self.stdio[1] = Some(s);
        self
    }

    /// The child's stderr (default: `Inherit`, `Piped` for [`output`](Self::output)).
    pub fn stderr(&mut self, s: Stdio) -> &mut Self {
        self.stdio[2] = Some(s);
        self
    }

    /// Child fd `child_fd` becomes a copy of the caller's `parent_fd` (which must stay open until
    /// `spawn` returns). A later mapping of the same child fd replaces an earlier one; mappings
    /// are applied after stdio, so they may also replace fd 0, 1 or 2.
    pub fn map_fd(&mut self, parent_fd: RawFd, child_fd: RawFd) -> &mut Self {
        self.fd_maps.push((parent_fd, child_fd));
        self
    }

    /// Puts the child in process group `pgid` (0: a new group led by the child), like std.
    pub fn process_group(&mut self, pgid: libc::pid_t) -> &mut Self {
        self.pgroup = Some(pgid);
        self
    }

    /// Makes the child a session (and process group) leader with `setsid`.
    pub fn setsid(&mut self, on: bool) -> &mut Self {
        self.setsid = on;
        self
    }

    /// The child's blocked signals (default: the calling thread's mask).
    pub fn signal_mask(&mut self, blocked: &[i32]) -> &mut Self {
        self.sigmask = Some(
            blocked
                .iter()
                .filter(|s| (1..=64).contains(*s))
                .fold(0u64, |m, s| m | 1 << (s - 1)),
        );
        self
    }

    /// Resets every signal disposition, ignored ones included, to the default in the child.
    /// (Caught signals are always reset by exec, and SIGPIPE is always reset, as std does.)
    pub fn reset_signals(&mut self, on: bool) -> &mut Self {
        self.reset_signals = on;
        self
    }

    /// Runs the child as `uid` (not available with `Strategy::PosixSpawn`).
    pub fn uid(&mut self, uid: u32) -> &mut Self {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with group `gid` (not available with `Strategy::PosixSpawn`).
    pub fn gid(&mut self, gid: u32) -> &mut Self {
        self.gid = Some(gid);
        self
    }

    /// Closes every fd except stdio and mapped fds in the child (close_range).
    pub fn close_other_fds(&mut self, on: bool) -> &mut Self {
        self.close_other_fds = on;
        self
    }

    /// How the child is created (default: [`Strategy::Auto`]); see the crate docs.
    pub fn strategy(&mut self, s: Strategy) -> &mut Self {
        self.strategy = s;
        self
    }

    /// The program as given to [`new`](Self::new), before any `PATH` lookup.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments after `argv[0]`.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(|a| a.as_os_str())
    }

    /// The strategy as set (`Auto` is decided at each spawn, not here).
    pub fn get_strategy(&self) -> Strategy {
        self.strategy
    }

    /// Spawns the child. Stdio defaults to `Inherit`.
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.spawn_with_defaults([Stdio::Inherit; 3])
    }

    /// Runs the child to completion, capturing stdout and stderr (stdin defaults to `Null`).
    pub fn output(&mut self) -> io::Result<Output> {
        self.spawn_with_defaults([Stdio::Null, Stdio::Piped, Stdio::Piped])?
            .wait_with_output()
    }

    /// Runs the child to completion and returns its status.
    pub fn status(&mut self) -> io::Result<crate::ExitStatus> {
        self.spawn()?.wait()
    }

    /// Spawns from a `WarmTemplate`'s image.
    pub(crate) fn spawn_warm(&mut self, image: &crate::warm::Image) -> io::Result<Child> {
        self.spawn_with_defaults_in([Stdio::Inherit; 3], Some(image))
    }

    /// `output`, from a `WarmTemplate`'s image.
    pub(crate) fn output_warm(&mut self, image: &crate::warm::Image) -> io::Result<Output> {
        self.spawn_with_defaults_in([Stdio::Null, Stdio::Piped, Stdio::Piped], Some(image))?
            .wait_with_output()
    }

    fn spawn_with_defaults(&mut self, defaults: [Stdio; 3]) -> io::Result<Child> {
        self.spawn_with_defaults_in(defaults, None)
    }

    fn spawn_with_defaults_in(
        &mut self,
        defaults: [Stdio; 3],
        image: Option<&crate::warm::Image>,
    ) -> io::Result<Child> {
        let t_enter_ns = monotonic_ns();
        marks::spawn_fast_mark_enter(0);
        let r = self.spawn_inner(defaults, t_enter_ns, image);
        marks::spawn_fast_mark_return(r.as_ref().map_or(0, |c| c.pid as u64));
        r
    }

    fn spawn_inner(
        &mut self,
        defaults: [Stdio; 3],
        t_enter_ns: u64,
        image: Option<&crate::warm::Image>,
    ) -> io::Result<Child> {
        self.validate()?;
        let stdio = self.setup_stdio(defaults)?;
        let plan = self.plan(&stdio.maps)?;
        let strategy = match (self.strategy, image) {
            (_, Some(_)) => Strategy::Warm,
            (Strategy::Auto, None) => crate::spawn::auto_direct(),
            (s, None) => s,
        };
        let (pid, pidfd, handle) = spawn_plan(&plan, strategy, self.close_other_fds, image)?;
        drop(stdio.keep);
        Ok(Child::spawned(pid, pidfd, handle, t_enter_ns, stdio.ends))
    }

    /// Rejects NUL bytes anywhere before anything is spawned.
    pub(crate) fn validate(&self) -> io::Result<()> {
        let nul = |s: &OsStr| s.as_bytes().contains(&0);
        let bad = nul(&self.program)
            || self.arg0.as_deref().is_some_and(nul)
            || self.args.iter().any(|a| nul(a))
            || self.env.iter().any(|(k, v)| {
                nul(k) || k.as_bytes().contains(&b'=') || v.as_deref().is_some_and(nul)
            })
            || self.cwd.as_deref().is_some_and(|c| nul(c.as_os_str()));
        if bad {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "nul byte found in command (or '=' in an env key)",
            ));
        }
        Ok(())
    }

    pub(crate) fn setup_stdio(&self, defaults: [Stdio; 3]) -> io::Result<StdioSetup> {
        let mut s = StdioSetup {
            maps: Vec::with_capacity(3 + self.fd_maps.len()),
            keep: Vec::new(),
            ends: [None, None, None],
        };
        for (i, d) in defaults.iter().enumerate() {
            match self.stdio[i].unwrap_or(*d) {
                Stdio::Inherit => {}
                Stdio::Null => {
                    let fd = open_dev_null()?;
                    s.maps.push((fd.as_raw_fd(), i as RawFd));
                    s.keep.push(fd);
                }
                Stdio::Piped => {
                    let (r, w) = pipe_cloexec()?;
                    let (child, ours) = if i == 0 { (r, w) } else { (w, r) };
                    s.maps.push((child.as_raw_fd(), i as RawFd));
                    s.keep.push(child);
                    s.ends[i] = Some(File::from(ours));
                }
                Stdio::Fd(fd) => s.maps.push((fd, i as RawFd)),
            }
        }
        s.maps.extend_from_slice(&self.fd_maps);
        Ok(s)
    }

    /// The PATH the program is looked up in: the child's, as execvp would use.
    fn search_path(&self) -> Option<OsString> {
        match self.env.get(OsStr::new("PATH")) {
            Some(v) => v.clone(),
            None if self.env_clear => None,
            None => std::env::var_os("PATH"),
        }
    }

    pub(crate) fn program(&mut self) -> io::Result<Arc<Program>> {
        if let Some(p) = &self.resolved {
            return Ok(p.clone());
        }
        let p = Arc::new(resolve(&self.program, self.search_path().as_deref())?);
        self.resolved = Some(p.clone());
        Ok(p)
    }

    pub(crate) fn envp(&self) -> io::Result<Envp> {
        if !self.env_clear && self.env.is_empty() {
            return Ok(Envp::Inherit);
        }
        let mut vars: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            match v {
                Some(v) => vars.insert(k.clone(), v.clone()),
                None => vars.remove(k),
            };
        }
        let mut out = Vec::with_capacity(vars.len());
        for (k, v) in vars {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            out.push(to_cstring(&kv, "environment")?);
        }
        Ok(Envp::Owned(CStrArray::new(out)))
    }

    /// Builds the owned plan for one spawn with the given (parent, child) fd pairs.
    pub(crate) fn plan(&mut self, maps: &[(RawFd, RawFd)]) -> io::Result<Plan> {
        let program = self.program()?;
        let mut argv = Vec::with_capacity(1 + self.args.len());
        argv.push(to_cstring(
            self.arg0.as_deref().unwrap_or(&self.program),
            "argv[0]",
        )?);
        for a in &self.args {
            argv.push(to_cstring(a, "argument")?);
        }
        let ops = raw_plan::build_ops(maps)?;
        let mut gaps = Vec::new();
        if self.close_other_fds {
            let mut targets: Vec<RawFd> = ops.iter().map(|o| o.dst).collect();
            targets.sort_unstable();
            raw_plan::close_gaps(&targets, &mut gaps);
        }
        let mut flags = 0;
        flags |= if self.setsid { F_SETSID } else { 0 };
        flags |= if self.pgroup.is_some() { F_PGROUP } else { 0 };
        flags |= if self.uid.is_some() { F_UID } else { 0 };
        flags |= if self.gid.is_some() { F_GID } else { 0 };
        flags |= if self.reset_signals {
            F_RESET_SIGNALS
        } else {
            0
        };
        flags |= if self.sigmask.is_some() { F_SIGMASK } else { 0 };
        Ok(Plan {
            program,
            argv: CStrArray::new(argv),
            envp: self.envp()?,
            cwd: self
                .cwd
                .as_ref()
                .map(|c| to_cstring(c.as_os_str(), "current_dir"))
                .transpose()?,
            ops,
            gaps,
            flags,
            pgroup: self.pgroup.unwrap_or(0),
            uid: self.uid.unwrap_or(0),
            gid: self.gid.unwrap_or(0),
            sigmask: self.sigmask.unwrap_or(0),
        })
    }
}
