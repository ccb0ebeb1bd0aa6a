//! `WarmTemplate`: a handle that keeps one parked image of a command's program.

use super::wire::MAX_POOL;
use super::{Image, WarmError, context};
use crate::{Child, Command, ExitStatus, Output, Strategy};
use std::io;

/// A parked image of one program, for repeated warm spawns (see [`crate::warm`]).
///
/// `new` checks the program and parks the image at once, so scope errors (a static program, a
/// script...) come early. [`spawn`](WarmTemplate::spawn) runs the template's command;
/// [`spawn_command`](WarmTemplate::spawn_command) runs another command of the same program
/// (other arguments, environment, cwd, stdio...), provided its keyed environment (`LD_*`,
/// `LC_*`, ...) is the template's. Dropping the template ends the image. `&self` methods may be
/// called from many threads; spawns from one image are served one at a time.
pub struct WarmTemplate {
    cmd: Command,
    image: Image,
}

impl std::fmt::Debug for WarmTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmTemplate")
            .field("program", &self.cmd.program)
            .field("image_pid", &self.image.pid())
            .finish()
    }
}

impl WarmTemplate {
    /// Parks an image of `cmd`'s program, with the keyed part of `cmd`'s environment.
    pub fn new(cmd: &Command) -> Result<WarmTemplate, WarmError> {
        let mut cmd = cmd.clone();
        cmd.strategy(Strategy::Warm);
        cmd.validate().map_err(WarmError::Io)?;
        let program = cmd.program().map_err(WarmError::Io)?;
        let envp = cmd.envp().map_err(WarmError::Io)?;
        let key = context::env_key(envp.as_ptr());
        let image = Image::new(program, key)?;
        image.park()?;
        Ok(WarmTemplate { cmd, image })
    }

    /// Keeps `n` (1 to 64) children forked ahead of time, each waiting for its arguments, so
    /// that a spawn skips the fork too: it sends its request straight to a waiting child, and
    /// the image forks a replacement in the background. Cuts the spawn latency further, at a
    /// price: `n` more idle processes, each the caller's child (like the image, they show up
    /// in `waitpid(-1)`-style waits that wait for any child), each with its own page tables,
    /// kernel stack and a few copied pages (~100 KiB for `/bin/true`: 44 KiB of page tables;
    /// more for big programs; the rest is shared copy-on-write with the image), and a fork's
    /// CPU time spent after every spawn whether or not another spawn follows (a pooled spawn
    /// costs ~20% more CPU in all than a plain warm one: the pool only pays when a core is
    /// idle while the caller waits). When the pool is empty (spawns faster than the image
    /// refills it) a spawn forks on demand as without a pool. Dropping the template ends and
    /// reaps the pool children.
    pub fn with_pool(self, n: usize) -> Result<WarmTemplate, WarmError> {
        if n == 0 || n > MAX_POOL {
            return Err(WarmError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a warm pool holds 1 to {MAX_POOL} children, not {n}"),
            )));
        }
        self.image.set_pool(n)?;
        Ok(self)
    }

    /// The parked image's pid, while it runs.
    pub fn image_pid(&self) -> Option<u32> {
        self.image.pid()
    }

    /// Spawns the template's command (stdio defaults to `Inherit`).
    pub fn spawn(&self) -> io::Result<Child> {
        self.spawn_command(&mut self.cmd.clone())
    }

    /// Runs the template's command to completion, capturing stdout and stderr.
    pub fn output(&self) -> io::Result<Output> {
        self.output_command(&mut self.cmd.clone())
    }

    /// Runs the template's command to completion.
    pub fn status(&self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    fn same_program(&self, cmd: &mut Command) -> io::Result<()> {
        let p = cmd.program()?;
        if p.path.as_bytes() != self.image.program.path.as_bytes() {
            return Err(WarmError::OtherProgram(
                String::from_utf8_lossy(p.path.as_bytes()).into_owned(),
                String::from_utf8_lossy(self.image.program.path.as_bytes()).into_owned(),
            )
            .into());
        }
        Ok(())
    }

    /// Spawns `cmd` (whose program must be the template's) from the parked image.
    pub fn spawn_command(&self, cmd: &mut Command) -> io::Result<Child> {
        self.same_program(cmd)?;
        cmd.spawn_warm(&self.image)
    }

    /// Like `Command::output`, from the parked image.
    pub fn output_command(&self, cmd: &mut Command) -> io::Result<Output> {
        self.same_program(cmd)?;
        cmd.output_warm(&self.image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_static_and_scripts_early() {
        let e = WarmTemplate::new(&Command::new(crate::children::EXIT0)).unwrap_err();
        assert!(matches!(e, WarmError::Static(_)), "{e}");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/script.sh");
        let e = WarmTemplate::new(&Command::new(script)).unwrap_err();
        assert!(matches!(e, WarmError::Script(_)), "{e}");
    }

    #[test]
    fn other_program_and_env_key_are_refused() {
        let t = WarmTemplate::new(&Command::new("/bin/true")).unwrap();
        assert!(t.status().unwrap().success());
        let e = t
            .spawn_command(&mut Command::new("/bin/false"))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
        let mut c = Command::new("/bin/true");
        c.env("LD_BIND_NOW", "1");
        let e = t.spawn_command(&mut c).unwrap_err();
        assert!(e.to_string().contains("LD_BIND_NOW"), "{e}");
    }
}
