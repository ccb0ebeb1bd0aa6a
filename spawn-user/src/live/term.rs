//! `spawnprof top`, the I/O part: reads the probes, keeps a sliding window of two 5-second
//! halves, redraws every second with plain ANSI sequences (works over ssh, no mouse), and
//! reads single keys in raw mode. When stdout is not a terminal it prints one frame per
//! second as plain text instead (batch mode), without reading keys. Keys wake the loop
//! through the terminal's fd registered with the runtime ([`AsyncFd`]), like the ring buffer.
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use tokio::io::{Interest, unix::AsyncFd};
use tokio::time::Instant;

use crossterm::{
    cursor,
    event::{self, Event, KeyCode, KeyEventKind, KeyModifiers},
    execute, queue,
    terminal::{self, Clear, ClearType},
};

use super::agg::{Agg, GroupBy};
use super::procfs::CgroupCache;
use super::top::{Action, View, render};
use super::{Every, LiveError, Pacer, Scope, Source, Wake, signals};

#[derive(Clone, Debug)]
pub struct TopOptions {
    pub scope: Scope,
    pub group_by: GroupBy,
    /// Stop after this many refreshes (for scripts and tests).
    pub iterations: Option<u64>,
}

/// Half of the sliding window the rates and quantiles are computed over.
const HALF: Duration = Duration::from_secs(5);
/// Groups kept per half-window; the rest are summed as "other".
const MAX_GROUPS: usize = 200;

/// Leaves raw mode and the alternate screen however `run` ends.
struct Screen;

impl Screen {
    fn enter() -> io::Result<Self> {
        terminal::enable_raw_mode()?;
        let mut out = io::stdout();
        execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(io::stdout(), cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

/// The terminal's input (crossterm reads keys from stdin when it is a terminal), registered
/// with the runtime so that a key wakes the loop at once.
struct Keys {
    fd: AsyncFd<io::Stdin>,
    /// The terminal hung up: nothing more will come, and top has no one to show frames to.
    closed: bool,
}

impl Keys {
    fn new() -> io::Result<Self> {
        // SAFETY: fd 0 stays open, on the same terminal, for the life of the process:
        // nothing in spawnprof closes or replaces it.
        let fd = unsafe { AsyncFd::register_with_interest(io::stdin(), Interest::READABLE) }?;
        Ok(Keys { fd, closed: false })
    }

    /// Waits until a key (or anything else) can be read. The readiness is cleared before
    /// [`read_keys`] reads everything there is, so input that comes later wakes it again. A
    /// hang-up stays ready for ever (tokio never clears "closed"): it is noted instead.
    async fn ready(&mut self) {
        if self.closed {
            return std::future::pending().await;
        }
        match self.fd.readable().await {
            Ok(mut g) => {
                self.closed = g.ready().is_read_closed();
                g.clear_ready();
            }
            Err(_) => self.closed = true,
        }
    }
}

/// The live view until `q`, Ctrl-C, SIGTERM or `--iterations`, on the live modes' runtime.
pub fn run(opts: &TopOptions) -> Result<(), LiveError> {
    super::runtime()?.block_on(top(opts))
}

async fn top(opts: &TopOptions) -> Result<(), LiveError> {
    let mut stop = signals::Stop::install().map_err(LiveError::Runtime)?;
    let mut src = Source::open(&opts.scope)?;
    let interactive = io::stdout().is_terminal() && io::stdin().is_terminal();
    let mut keys = None;
    let _screen = if interactive {
        keys = Some(Keys::new().map_err(LiveError::Terminal)?);
        Some(Screen::enter().map_err(LiveError::Terminal)?)
    } else {
        // Batch mode: say when the probes are attached, so that a script (or a test) can
        // start its workload then instead of guessing how long attaching takes.
        eprintln!("spawnprof: top attached; printing frames to stdout");
        None
    };
    let mut view = View {
        group_by: opts.group_by,
        ..View::default()
    };
    let mut cgroups = CgroupCache::new(4096);
    let (mut prev, mut cur) = (Agg::new(MAX_GROUPS), Agg::new(MAX_GROUPS));
    let (mut prev_start, mut cur_start) = (Instant::now(), Instant::now());
    let mut pacer = Pacer::new();
    let mut redraw = Every::new(Duration::from_secs(1));
    let mut frames = 0u64;
    loop {
        let input = async {
            match keys.as_mut() {
                Some(k) => k.ready().await,
                None => std::future::pending().await,
            }
        };
        let wake = pacer.wait(&mut src, &mut stop, input).await?;
        if wake == Wake::Stop {
            break;
        }
        for r in src.poll() {
            let cg = match (view.group_by, r.ppid) {
                (GroupBy::Cgroup, Some(pp)) => Some(cgroups.of(pp).to_string()),
                _ => None,
            };
            cur.add(&view.group_by.key(&r, cg.as_deref()), &r);
        }
        let mut draw = redraw.due();
        if keys.as_ref().is_some_and(|k| k.closed) {
            break;
        }
        if interactive {
            match read_keys(&mut view).map_err(LiveError::Terminal)? {
                Action::Quit => break,
                Action::Regroup => {
                    (prev, cur) = (Agg::new(MAX_GROUPS), Agg::new(MAX_GROUPS));
                    (prev_start, cur_start) = (Instant::now(), Instant::now());
                    draw = true;
                }
                Action::Redraw => draw = true,
                Action::Ignore => {}
            }
        }
        if cur_start.elapsed() >= HALF {
            prev = std::mem::replace(&mut cur, Agg::new(MAX_GROUPS));
            prev_start = std::mem::replace(&mut cur_start, Instant::now());
            cgroups.clear();
        }
        if !draw {
            continue;
        }
        let window_s = prev_start.elapsed().as_secs_f64();
        let groups = prev.merged(&cur);
        let (w, h) = if interactive {
            terminal::size().map_or((120, 40), |(w, h)| (usize::from(w), usize::from(h)))
        } else {
            (200, groups.len() + 4)
        };
        let screen = render(
            &groups,
            window_s,
            prev.threads + cur.threads,
            &src.health(),
            &view,
            w,
            h,
        );
        draw_screen(&screen, interactive).map_err(LiveError::Terminal)?;
        frames += 1;
        if opts.iterations.is_some_and(|n| frames >= n) {
            break;
        }
    }
    Ok(())
}

/// Handles every key waiting; the strongest action wins (quit > regroup > redraw).
fn read_keys(view: &mut View) -> io::Result<Action> {
    let mut action = Action::Ignore;
    while event::poll(Duration::ZERO)? {
        let Event::Key(k) = event::read()? else {
            continue;
        };
        if k.kind != KeyEventKind::Press {
            continue;
        }
        let a = match k.code {
            // Raw mode turns Ctrl-C into a key instead of SIGINT.
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
            KeyCode::Char(c) => view.on_key(c),
            KeyCode::Tab => view.on_key('\t'),
            KeyCode::Esc => Action::Quit,
            _ => Action::Ignore,
        };
        action = match (action, a) {
            (Action::Quit, _) | (_, Action::Quit) => Action::Quit,
            (Action::Regroup, _) | (_, Action::Regroup) => Action::Regroup,
            (Action::Redraw, _) | (_, Action::Redraw) => Action::Redraw,
            _ => Action::Ignore,
        };
    }
    Ok(action)
}

fn draw_screen(lines: &[String], interactive: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if !interactive {
        for l in lines {
            writeln!(out, "{}", l.trim_end())?;
        }
        writeln!(out)?;
        return out.flush();
    }
    for (i, l) in lines.iter().enumerate() {
        let row = u16::try_from(i).unwrap_or(u16::MAX);
        queue!(out, cursor::MoveTo(0, row), Clear(ClearType::UntilNewLine))?;
        write!(out, "{l}")?;
    }
    queue!(out, Clear(ClearType::FromCursorDown))?;
    out.flush()
}
