//! The spawn tree as indented text, one line per spawn, that fits a 120-column terminal:
//! the process's own times on the left, its subtree's totals on the right. Nodes whose
//! subtree is shorter than `min_total` are folded, per parent, into one "+N more" line that
//! still carries their totals, so nothing disappears from the sums.
use std::fmt::Write as _;

use super::{Node, Tree};
use crate::report::{fmt_ns, fmt_opt};

/// Total width of a line. Numbers take 71 columns; the name gets the rest.
pub const WIDTH: usize = 120;
const NUMBERS: usize = 71;
/// Width of the name column (tree glyphs and program).
pub const NAME_WIDTH: usize = WIDTH - NUMBERS;
const NAME: usize = NAME_WIDTH;
/// Past this many levels the indentation is abbreviated, so a deep tree keeps its names.
const MAX_LEVELS: usize = 10;

/// What [`render`] folds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// Fold nodes whose subtree wall time is below this (0: show every spawn).
    pub min_total_ns: u64,
}

/// The header, a legend, and one line per shown node (or folded group).
pub fn render(tree: &Tree, opts: TextOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<NAME$} {:>8} {:>8} {:>8} {:>8} {:>8} │{:>6} {:>8} {:>8}",
        "SPAWN TREE", "WALL", "SPAWN", "COPY", "EXEC", "STARTUP", "BELOW", "T.SPAWN", "T.WALL"
    );
    let mut r = Renderer { tree, opts, out };
    r.siblings(&tree.roots, None);
    let mut out = r.out;
    if tree.nodes.is_empty() {
        out.push_str("(no spawns)\n");
    }
    let _ = writeln!(
        out,
        "SPAWN: spawn overhead (every phase but run).{}\nBELOW, T.SPAWN, T.WALL: the spawns \
         below a node, and the spawn overhead and wall time of its whole subtree.",
        if tree.threads > 0 {
            format!(" {} threads not shown.", tree.threads)
        } else {
            String::new()
        }
    );
    out
}

struct Renderer<'a> {
    tree: &'a Tree,
    opts: TextOptions,
    out: String,
}

impl Renderer<'_> {
    fn shown(&self, n: &Node) -> bool {
        self.opts.min_total_ns == 0 || n.totals.wall().is_none_or(|w| w >= self.opts.min_total_ns)
    }

    /// `prefix` is the indentation of this level (the parents' continuation lines); `None`
    /// for the roots, which get no branch glyph.
    fn siblings(&mut self, list: &[usize], prefix: Option<&str>) {
        let (shown, folded): (Vec<usize>, Vec<usize>) =
            list.iter().partition(|&&k| self.shown(&self.tree.nodes[k]));
        for (i, &k) in shown.iter().enumerate() {
            let last = i + 1 == shown.len() && folded.is_empty();
            let (branch, below) = match prefix {
                None => (String::new(), String::new()),
                Some(p) if last => (format!("{p}└─ "), format!("{p}   ")),
                Some(p) => (format!("{p}├─ "), format!("{p}│  ")),
            };
            self.node(k, &branch);
            let tree = self.tree;
            self.siblings(&tree.nodes[k].children, Some(&below));
        }
        if !folded.is_empty() {
            self.folded(&folded, prefix);
        }
    }

    fn node(&mut self, k: usize, branch: &str) {
        let n = &self.tree.nodes[k];
        let it = &n.item;
        let mut name = it.name.clone();
        if let Some(err) = &it.failed {
            name.push_str(&format!(" ✗{err}"));
        }
        let t = &n.totals;
        let line = format!(
            "{} {:>8} {:>8} {:>8} {:>8} {:>8} │{:>6} {:>8} {:>8}",
            fit(&indent(branch, n.depth), &name),
            fmt_opt(it.wall()),
            fmt_ns(it.overhead()),
            fmt_opt(it.phases.copy),
            fmt_opt(it.phases.exec),
            fmt_opt(it.phases.startup),
            t.below,
            fmt_ns(t.overhead),
            fmt_opt(t.wall()),
        );
        self.push(line);
    }

    fn folded(&mut self, list: &[usize], prefix: Option<&str>) {
        let nodes = &self.tree.nodes;
        let spawns: usize = list.iter().map(|&k| nodes[k].totals.below + 1).sum();
        let overhead: u64 = list.iter().map(|&k| nodes[k].totals.overhead).sum();
        let name = format!("+{} more < {}", list.len(), fmt_ns(self.opts.min_total_ns));
        let branch = prefix.map_or_else(String::new, |p| format!("{p}└─ "));
        let depth = nodes[list[0]].depth;
        let line = format!(
            "{} {:>8} {:>8} {:>8} {:>8} {:>8} │{:>6} {:>8} {:>8}",
            fit(&indent(&branch, depth), &name),
            "",
            "",
            "",
            "",
            "",
            spawns - list.len(),
            fmt_ns(overhead),
            "",
        );
        self.push(line);
    }

    fn push(&mut self, line: String) {
        self.out.push_str(line.trim_end());
        self.out.push('\n');
    }
}

/// The tree glyphs, abbreviated past [`MAX_LEVELS`] as `…N ` (N the depth) plus the last
/// levels, so that deep nodes still show which branch they end.
fn indent(branch: &str, depth: u32) -> String {
    let chars: Vec<char> = branch.chars().collect();
    let keep = MAX_LEVELS * 3;
    if chars.len() <= keep {
        return branch.to_string();
    }
    let tail: String = chars[chars.len() - (keep - 6)..].iter().collect();
    format!("…{depth:<4} {tail}")
}

/// `indent` then `name`, cut with `…` and padded to exactly [`NAME`] columns.
fn fit(indent: &str, name: &str) -> String {
    let used = indent.chars().count();
    let room = NAME.saturating_sub(used).max(1);
    let name: String = if name.chars().count() > room {
        let mut s: String = name.chars().take(room - 1).collect();
        s.push('…');
        s
    } else {
        name.to_string()
    };
    let pad = NAME.saturating_sub(used + name.chars().count());
    format!("{indent}{name}{}", " ".repeat(pad))
}
