//! One sentence per interesting subtree, for the text summary: how long it took, how many
//! spawns it made and how much of it was spent spawning, by phase, e.g.
//! `python3: 430ms wall, 19 spawns below it, 24.0ms spent spawning (6%: copy 1.20ms, ...)`.
use std::fmt::Write as _;

use super::{Node, SPAWN_PHASES, Tree};
use crate::record::SpawnKind;
use crate::report::{fmt_ns, fmt_opt};

/// The `top` subtrees with at least one spawn below them, by spawn overhead (largest first),
/// after a line on the whole forest. Empty when nothing spawned anything.
pub fn render(tree: &Tree, top: usize) -> String {
    let mut with_children: Vec<usize> = (0..tree.nodes.len())
        .filter(|&k| tree.nodes[k].totals.below > 0)
        .collect();
    if with_children.is_empty() {
        return String::new();
    }
    with_children.sort_by_key(|&k| (std::cmp::Reverse(tree.nodes[k].totals.overhead), k));
    let spawns = tree.nodes.len();
    let mut out = format!(
        "\nspawn trees: {} {}, {spawns} spawns; top subtrees by time spent spawning:\n",
        tree.roots.len(),
        if tree.roots.len() == 1 {
            "tree"
        } else {
            "trees"
        },
    );
    for &k in with_children.iter().take(top) {
        let _ = writeln!(out, "  {}", sentence(tree, &tree.nodes[k]));
    }
    out
}

/// `name (pid P, under parent): W wall, N spawns below it, O spent spawning (S% of its
/// wall: copy …, exec …, loader …)`, phases under 1% of the overhead left out.
pub fn sentence(tree: &Tree, n: &Node) -> String {
    let t = &n.totals;
    let it = &n.item;
    let mut whose = format!("pid {}", it.pid);
    if it.kind == SpawnKind::Root {
        whose.push_str(", the traced command");
    } else if let Some(parent) = it
        .parent
        .and_then(|p| tree.nodes.iter().find(|m| m.item.id == p))
    {
        let _ = write!(whose, ", under {}", parent.item.name);
    }
    let parts: Vec<String> = SPAWN_PHASES
        .iter()
        .zip(t.phases)
        .filter(|(_, v)| *v > 0 && *v * 100 >= t.overhead)
        .map(|(phase, v)| format!("{} {}", phase.part_name(), fmt_ns(v)))
        .collect();
    let share = t
        .wall()
        .filter(|&w| w > 0)
        .map(|w| format!("{:.0}% of its wall: ", t.overhead as f64 * 100.0 / w as f64))
        .unwrap_or_default();
    format!(
        "{} ({whose}): {} wall, {} spawn{} below it, {} spent spawning ({share}{})",
        it.name,
        fmt_opt(t.wall()),
        t.below,
        if t.below == 1 { "" } else { "s" },
        fmt_ns(t.overhead),
        parts.join(", "),
    )
}
