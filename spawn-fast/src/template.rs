//! `Template`: a command prepared once for many spawns.

use crate::child::Child;
use crate::command::{Command, Stdio, spawn_plan};
use crate::marks;
use crate::plan::Plan;
use crate::strategy::Strategy;
use crate::sys::monotonic_ns;
use std::io;
use std::os::fd::OwnedFd;

/// A program prepared once for repeated spawns: PATH resolved, O_PATH fd held, argv/envp arrays
/// built, fd plan computed. The user-space analogue of the kernel's spawn-templates proposal.
///
/// `spawn` takes `&self`, so one template can be shared by many threads. With `Fork`, `Vfork`,
/// `Clone3` and `Auto`, a spawn makes no Rust heap allocation at all (tested with a counting
/// allocator). `PosixSpawn` lets glibc allocate its file actions; `Zygote` and `Warm` build a
/// request (`Warm` uses the process-wide image cache; see [`crate::WarmTemplate`] to hold one).
///
/// Stdio may be `Inherit`, `Null` (one `/dev/null` fd held by the template) or `Fd`; `Piped`
/// needs a new pipe per spawn and is refused. An environment left untouched is read from
/// `environ` at each spawn; one set on the command is frozen when the template is built.
#[derive(Debug)]
pub struct Template {
    plan: Plan,
    strategy: Strategy,
    _null: Option<OwnedFd>,
}

impl Template {
    /// Prepares `cmd` (which is not modified).
    pub fn new(cmd: &Command) -> io::Result<Template> {
        let mut cmd = cmd.clone();
        cmd.validate()?;
        let mut null = None;
        let mut maps = Vec::with_capacity(3 + cmd.fd_maps.len());
        for (i, s) in cmd.stdio.iter().enumerate() {
            match s.unwrap_or(Stdio::Inherit) {
                Stdio::Inherit => {}
                Stdio::Null => {
                    if null.is_none() {
                        null = Some(crate::sys::open_dev_null()?);
                    }
                    let fd = std::os::fd::AsRawFd::as_raw_fd(null.as_ref().expect("opened above"));
                    maps.push((fd, i as i32));
                }
                Stdio::Fd(fd) => maps.push((fd, i as i32)),
                Stdio::Piped => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a Template cannot use Stdio::Piped",
                    ));
                }
            }
        }
        maps.extend_from_slice(&cmd.fd_maps);
        let plan = cmd.plan(&maps)?;
        let strategy = match cmd.strategy {
            Strategy::Auto => crate::spawn::auto_direct(),
            s => s,
        };
        Ok(Template {
            plan,
            strategy,
            _null: null,
        })
    }

    /// The concrete strategy this template spawns with (`Auto` is decided at build time).
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Spawns one child from the template.
    pub fn spawn(&self) -> io::Result<Child> {
        let t_enter_ns = monotonic_ns();
        marks::spawn_fast_mark_enter(0);
        let r = self.spawn_inner(t_enter_ns);
        marks::spawn_fast_mark_return(r.as_ref().map_or(0, |c| c.pid as u64));
        r
    }

    fn spawn_inner(&self, t_enter_ns: u64) -> io::Result<Child> {
        let close_others = !self.plan.gaps.is_empty();
        let (pid, pidfd, handle) = spawn_plan(&self.plan, self.strategy, close_others, None)?;
        Ok(Child::spawned(
            pid,
            pidfd,
            handle,
            t_enter_ns,
            [None, None, None],
        ))
    }
}

impl Command {
    /// Prepares this command as a [`Template`].
    pub fn template(&self) -> io::Result<Template> {
        Template::new(self)
    }
}
