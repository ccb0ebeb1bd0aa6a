//! `spawnprof top`, the pure part: the view state, what each key does, and the screen's text
//! from a window of aggregated spawns. The terminal I/O lives in `term.rs`.
use std::collections::HashMap;

use spawn_analysis::phase::Phase;

use super::Health;
use super::agg::{GroupBy, GroupStats};
use super::text::med_p99;

/// Row order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Rate,
    MedianTotal,
    P99Total,
    CowFaults,
    Failed,
    Name,
}

impl SortKey {
    fn label(self) -> &'static str {
        match self {
            SortKey::Rate => "spawns/s",
            SortKey::MedianTotal => "median total",
            SortKey::P99Total => "p99 total",
            SortKey::CowFaults => "CoW faults",
            SortKey::Failed => "exec failed",
            SortKey::Name => "name",
        }
    }
}

/// The two sets of phase columns (all of them do not fit in 80 columns).
pub const SPAWN_PHASES: [Phase; 4] = [Phase::Copy, Phase::Setup, Phase::Exec, Phase::Startup];
pub const SCHED_PHASES: [Phase; 4] = [Phase::Prep, Phase::Queue, Phase::Run, Phase::Reap];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct View {
    pub group_by: GroupBy,
    pub sort: SortKey,
    pub reverse: bool,
    /// Show [`SCHED_PHASES`] instead of [`SPAWN_PHASES`].
    pub sched: bool,
}

/// What a key press asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Redraw,
    /// The grouping changed: the window's data must be regrouped from scratch.
    Regroup,
    Quit,
    Ignore,
}

impl View {
    pub fn on_key(&mut self, c: char) -> Action {
        let sort = |v: &mut View, k| {
            v.sort = k;
            Action::Redraw
        };
        match c {
            'q' | 'Q' => Action::Quit,
            's' => sort(self, SortKey::Rate),
            'm' => sort(self, SortKey::MedianTotal),
            'p' => sort(self, SortKey::P99Total),
            'f' => sort(self, SortKey::CowFaults),
            'e' => sort(self, SortKey::Failed),
            'n' => sort(self, SortKey::Name),
            'r' => {
                self.reverse = !self.reverse;
                Action::Redraw
            }
            '\t' | 't' => {
                self.sched = !self.sched;
                Action::Redraw
            }
            'g' => {
                self.group_by = self.group_by.next();
                Action::Regroup
            }
            _ => Action::Ignore,
        }
    }

    fn phases(&self) -> [Phase; 4] {
        if self.sched {
            SCHED_PHASES
        } else {
            SPAWN_PHASES
        }
    }
}

pub const HELP: &str = "keys: s rate  m median  p p99  f CoW  e failed  n name  r reverse  g group  tab phases  q quit";

/// Column widths: group name, then fixed columns.
const NAME_W: usize = 20;

fn sort_rows(rows: &mut [(&String, &GroupStats)], v: &View) {
    let key = |g: &GroupStats| -> u64 {
        match v.sort {
            SortKey::Rate | SortKey::Name => g.spawns,
            SortKey::MedianTotal => g.total.median().unwrap_or(0),
            SortKey::P99Total => g.total.p99().unwrap_or(0),
            SortKey::CowFaults => g.cow_faults,
            SortKey::Failed => g.exec_failed,
        }
    };
    rows.sort_by(|a, b| {
        let o = if v.sort == SortKey::Name {
            a.0.cmp(b.0)
        } else {
            key(b.1).cmp(&key(a.1)).then(a.0.cmp(b.0))
        };
        if v.reverse { o.reverse() } else { o }
    });
}

fn cut(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    // Keep the end: for cgroup paths and long names the tail tells them apart.
    let tail: String = s
        .chars()
        .rev()
        .take(w - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// The screen: a header with totals and losses, one row per group, the keys. Each line is
/// cut to `width`; at most `height` lines.
pub fn render(
    groups: &HashMap<String, GroupStats>,
    window_s: f64,
    threads: u64,
    h: &Health,
    v: &View,
    width: usize,
    height: usize,
) -> Vec<String> {
    let total: u64 = groups.values().map(|g| g.spawns).sum();
    let mut lines = vec![
        format!(
            "spawnprof top - {:.1} spawns/s, {:.1} threads/s over the last {window_s:.0}s - lost events {} - open {} - sort: {}{}",
            total as f64 / window_s.max(1e-9),
            threads as f64 / window_s.max(1e-9),
            h.lost_events,
            h.open_records,
            v.sort.label(),
            if v.reverse { " (reversed)" } else { "" }
        ),
        // Every loss counter, always (a view of an incomplete stream must say so).
        format!(
            "{}; kernel-counted spawns {}",
            h.losses.line(),
            h.losses.spawns
        ),
    ];
    let phases = v.phases();
    let mut head = format!(
        "{:<NAME_W$} {:>8} {:>5} {:>5}",
        v.group_by.title(),
        "SPAWN/s",
        "FAIL",
        "COW"
    );
    for p in phases
        .iter()
        .map(|p| p.name())
        .chain(std::iter::once("total"))
    {
        head += &format!(" {:>15}", format!("{} med/p99", p.to_uppercase()));
    }
    lines.push(head);
    let mut rows: Vec<(&String, &GroupStats)> = groups.iter().collect();
    sort_rows(&mut rows, v);
    for (name, g) in rows {
        let mut line = format!(
            "{:<NAME_W$} {:>8.1} {:>5} {:>5.1}",
            cut(name, NAME_W),
            g.spawns as f64 / window_s.max(1e-9),
            g.exec_failed,
            g.cow_faults as f64 / g.spawns.max(1) as f64
        );
        let hists = phases
            .iter()
            .map(|&p| g.phase(p))
            .chain(std::iter::once(Some(&g.total)));
        for hist in hists {
            let cell = match hist.filter(|h| !h.is_empty()) {
                Some(h) => {
                    let (m, q) = med_p99(h);
                    format!("{m}/{q}")
                }
                None => "-".into(),
            };
            line += &format!(" {cell:>15}");
        }
        lines.push(line);
    }
    let body = height.saturating_sub(1);
    lines.truncate(body);
    while lines.len() < body {
        lines.push(String::new());
    }
    lines.push(HELP.to_string());
    lines
        .into_iter()
        .map(|l| l.chars().take(width).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::agg::tests::rec;

    fn groups() -> HashMap<String, GroupStats> {
        let mut m: HashMap<String, GroupStats> = HashMap::new();
        for _ in 0..30 {
            m.entry("bash".into()).or_default().add(&rec(
                "bash",
                Some(("/bin/true", 0)),
                1_000_000,
            ));
        }
        for _ in 0..10 {
            m.entry("make".into()).or_default().add(&rec(
                "make",
                Some(("/usr/bin/cc", -2)),
                9_000_000,
            ));
        }
        m
    }

    #[test]
    fn rows_follow_the_sort_key() {
        let h = Health {
            lost_events: 4,
            ..Default::default()
        };
        let mut v = View::default();
        let screen = render(&groups(), 10.0, 0, &h, &v, 200, 10);
        assert_eq!(screen.len(), 10);
        assert!(
            screen[0].contains("4.0 spawns/s") && screen[0].contains("lost events 4"),
            "{}",
            screen[0]
        );
        assert!(screen[2].starts_with("PARENT") && screen[2].contains("EXEC med/p99"));
        assert!(
            screen[1].starts_with("losses: ring buffer full 0 (0 spawns), followed map full 0"),
            "{}",
            screen[1]
        );
        assert!(
            screen[3].starts_with("bash") && screen[3].contains("3.0"),
            "{screen:#?}"
        );
        assert!(screen[4].starts_with("make"));
        assert_eq!(screen[9], HELP);
        assert_eq!(v.on_key('p'), Action::Redraw);
        let screen = render(&groups(), 10.0, 0, &h, &v, 200, 10);
        assert!(screen[3].starts_with("make"), "{screen:#?}");
        assert!(
            screen[3].contains("10"),
            "exec failures shown: {}",
            screen[3]
        );
        v.on_key('r');
        let screen = render(&groups(), 10.0, 0, &h, &v, 200, 10);
        assert!(screen[3].starts_with("bash"));
        // Narrow terminal: lines are cut, never wrapped.
        let screen = render(&groups(), 10.0, 0, &h, &v, 40, 3);
        assert!(screen.iter().all(|l| l.chars().count() <= 40));
        assert_eq!(screen.len(), 3);
    }

    #[test]
    fn keys_switch_grouping_phases_and_quit() {
        let mut v = View::default();
        assert_eq!(v.on_key('g'), Action::Regroup);
        assert_eq!(v.group_by, GroupBy::Program);
        assert_eq!(v.on_key('\t'), Action::Redraw);
        let screen = render(&groups(), 1.0, 0, &Health::default(), &v, 300, 8);
        assert!(screen[2].starts_with("PROGRAM") && screen[2].contains("QUEUE med/p99"));
        assert_eq!(v.on_key('x'), Action::Ignore);
        assert_eq!(v.on_key('q'), Action::Quit);
        assert_eq!(cut("/a/very/long/cgroup/path/x", 8), "…/path/x");
    }
}
