//! The spawn tree: records placed under the record of the process that spawned them (their
//! `parent_record`: a warm spawn hangs under the process that asked for it, not under the
//! image that cloned it), with the totals of each subtree. Pure, so that it is unit-tested from
//! synthetic record sets; [`text`] renders it for a terminal, [`verdict`] summarises it, and
//! `plot::timeline` draws it on a time axis.
//!
//! The tree keeps a compact [`Item`] per record, not the record itself: `trace --tree` holds
//! every spawn of a command until it ends, and a build can make hundreds of thousands.
//!
//! ```
//! use spawn_analysis::record::{SpawnKind, SpawnRecord};
//! use spawn_analysis::tree::Tree;
//!
//! // A shell (record 1) that spawned `make` (record 2), which spawned `cc` (record 3).
//! let rec = |id: u64, parent: Option<u64>, pid: u32, comm: &str, start: u64, end: u64| {
//!     let mut r = SpawnRecord::new(pid, SpawnKind::ForkOnly);
//!     r.id = id;
//!     r.parent_record = parent;
//!     r.comm = comm.into();
//!     (r.t_start_ns, r.t_end_ns) = (Some(start), Some(end));
//!     r.phases_ns.copy = Some(50_000); // ns
//!     r.phases_ns.run = Some(end - start - 50_000);
//!     r
//! };
//! let records = [
//!     rec(1, None, 100, "sh", 0, 9_000_000),
//!     rec(2, Some(1), 101, "make", 1_000_000, 8_000_000),
//!     rec(3, Some(2), 102, "cc", 2_000_000, 7_000_000),
//! ];
//! let tree = Tree::from_records(&records);
//! assert_eq!(tree.roots.len(), 1);
//! let root = &tree.nodes[tree.roots[0]];
//! assert_eq!(root.item.name, "sh (fork)");
//! assert_eq!(root.totals.below, 2);
//! assert_eq!(root.totals.overhead, 3 * 50_000); // copy of all three; `run` is not overhead
//! let order: Vec<u32> = tree.preorder().iter().map(|&k| tree.nodes[k].depth).collect();
//! assert_eq!(order, [0, 1, 2]);
//! ```
use std::collections::HashMap;

use crate::phase::Phase;
use crate::record::{Phases, SpawnKind, SpawnRecord};

pub mod text;
pub mod verdict;

#[cfg(test)]
mod tests;

/// The spawn phases (everything but `run`) in time order, as the tree breaks overhead down:
/// startup by its loader and init parts, because the loader is most of a dynamic spawn.
pub const SPAWN_PHASES: [Phase; 8] = [
    Phase::Prep,
    Phase::Copy,
    Phase::Queue,
    Phase::Setup,
    Phase::Exec,
    Phase::StartupLoader,
    Phase::StartupInit,
    Phase::Reap,
];

/// What the tree needs of one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The record's `id` (inferred in start order for traces written without ids).
    pub id: u64,
    /// The spawner's record `id` (the record's `parent_record`, or inferred from `ppid`).
    pub parent: Option<u64>,
    /// The spawned process's pid.
    pub pid: u32,
    /// Its parent's pid, when known.
    pub ppid: Option<u32>,
    /// The record's kind.
    pub kind: SpawnKind,
    /// What ran: the exec'd program (`sh → make` when it exec'd again), a warm spawn's
    /// program marked `(warm)`, or the comm of a process that never exec'd, marked `(fork)`.
    pub name: String,
    /// The errno name of an exec that failed.
    pub failed: Option<String>,
    /// The record's `t_start_ns` (CLOCK_MONOTONIC ns; `None` when not seen).
    pub t_start: Option<u64>,
    /// The record's `t_end_ns` (`None` when not seen).
    pub t_end: Option<u64>,
    /// The record's phases, ns (`None`: not measured).
    pub phases: Phases,
}

fn basename(path: &str) -> &str {
    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path)
}

impl Item {
    /// The compact form of a record, with its display name worked out.
    pub fn from_record(r: &SpawnRecord) -> Self {
        let exec = r.exec.as_ref();
        let name = match (r.program(), exec.and_then(|e| e.final_filename.as_deref())) {
            (Some(p), Some(last)) if basename(last) != p => format!("{p} → {}", basename(last)),
            (Some(p), _) => p.to_string(),
            (None, _) if r.kind == SpawnKind::ForkOnly => format!("{} (fork)", r.comm),
            (None, _) if r.kind == SpawnKind::Warm => {
                format!("{} (warm)", r.warm_program().unwrap_or("?"))
            }
            (None, _) if r.comm.is_empty() => format!("({})", r.kind.as_str()),
            (None, _) => r.comm.clone(),
        };
        Item {
            id: r.id,
            parent: r.parent_record,
            pid: r.pid,
            ppid: r.ppid,
            kind: r.kind,
            name,
            failed: exec
                .filter(|e| e.ret.is_some_and(|x| x < 0))
                .map(|e| e.errno_name.clone().unwrap_or_else(|| "failed".into())),
            t_start: r.t_start_ns,
            t_end: r.t_end_ns,
            phases: r.phases_ns.clone(),
        }
    }

    /// Wall time of the spawn, start to reap.
    pub fn wall(&self) -> Option<u64> {
        Some(self.t_end?.saturating_sub(self.t_start?))
    }

    /// Each of [`SPAWN_PHASES`]; a startup without its parts counts as init.
    pub fn spawn_phases(&self) -> [u64; SPAWN_PHASES.len()] {
        let p = &self.phases;
        let mut out = [0; SPAWN_PHASES.len()];
        for (o, phase) in out.iter_mut().zip(SPAWN_PHASES) {
            *o = p.get(phase).unwrap_or(0);
        }
        if p.startup_loader.is_none() && p.startup_init.is_none() {
            out[6] = p.startup.unwrap_or(0);
        }
        out
    }

    /// Spawn overhead: every main phase but `run`.
    pub fn overhead(&self) -> u64 {
        self.phases.main_sum() - self.phases.run.unwrap_or(0)
    }
}

/// Totals of a node and everything below it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Spawns below the node (not counting itself).
    pub below: usize,
    /// Spawn overhead of the node and every spawn below it.
    pub overhead: u64,
    /// The same, per [`SPAWN_PHASES`].
    pub phases: [u64; SPAWN_PHASES.len()],
    /// Earliest start in the subtree (CLOCK_MONOTONIC ns).
    pub start: Option<u64>,
    /// Latest end in the subtree.
    pub end: Option<u64>,
}

impl Totals {
    /// From the subtree's first start to its last end: how long the node and its
    /// descendants (daemons included) took.
    pub fn wall(&self) -> Option<u64> {
        Some(self.end?.saturating_sub(self.start?))
    }

    fn own(item: &Item) -> Self {
        Totals {
            below: 0,
            overhead: item.overhead(),
            phases: item.spawn_phases(),
            start: item.t_start,
            end: item.t_end,
        }
    }

    fn absorb(&mut self, child: &Totals) {
        self.below += child.below + 1;
        self.overhead += child.overhead;
        for (a, b) in self.phases.iter_mut().zip(child.phases) {
            *a += b;
        }
        self.start = min_opt(self.start, child.start);
        self.end = self.end.max(child.end);
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One spawn in a [`Tree`], with its place and its subtree's totals.
#[derive(Clone, Debug)]
pub struct Node {
    /// The spawn itself.
    pub item: Item,
    /// Indices into [`Tree::nodes`], in start order.
    pub children: Vec<usize>,
    /// Depth in this tree (0 for a root).
    pub depth: u32,
    /// Totals of this node and everything below it.
    pub totals: Totals,
}

/// Records as a forest. Threads are counted, not placed: they are not spawns.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// Every node, in record id order (children after their parent); index with
    /// [`Tree::roots`], [`Node::children`] or [`Tree::preorder`].
    pub nodes: Vec<Node>,
    /// Indices of the nodes without a parent in the set, in start order.
    pub roots: Vec<usize>,
    /// Thread records in the input: counted here, not placed in the tree.
    pub threads: usize,
}

/// Start order, records without a start first (they were running before tracing).
fn start_key(i: &Item) -> (bool, u64, u64) {
    (i.t_start.is_some(), i.t_start.unwrap_or(0), i.id)
}

impl Tree {
    /// The tree of a set of records (one trace). Records placed by `parent_record`; in traces
    /// written before records had ids, parents are inferred from `ppid` and start times.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a SpawnRecord>) -> Self {
        Self::build(records.into_iter().map(Item::from_record).collect())
    }

    /// The tree of items already reduced with [`Item::from_record`]; threads are counted and
    /// dropped, a parent link that does not point to an earlier item makes a root.
    pub fn build(items: Vec<Item>) -> Self {
        let threads = items.iter().filter(|i| i.kind == SpawnKind::Thread).count();
        let mut items: Vec<Item> = items
            .into_iter()
            .filter(|i| i.kind != SpawnKind::Thread)
            .collect();
        let mut ids: Vec<u64> = items.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != items.len() || ids.first() == Some(&0) {
            infer_lineage(&mut items);
        }
        // A parent's id is always smaller than its children's (it was created first), so
        // walking ids downwards folds every subtree into its parent, and a link that does
        // not point backwards (corrupt input) cannot make a cycle: it makes a root.
        items.sort_by_key(|i| i.id);
        let index: HashMap<u64, usize> = items.iter().enumerate().map(|(k, i)| (i.id, k)).collect();
        let parent: Vec<Option<usize>> = items
            .iter()
            .map(|i| {
                i.parent
                    .filter(|&p| p < i.id)
                    .and_then(|p| index.get(&p).copied())
            })
            .collect();
        let mut nodes: Vec<Node> = items
            .into_iter()
            .map(|item| Node {
                totals: Totals::own(&item),
                item,
                children: Vec::new(),
                depth: 0,
            })
            .collect();
        for k in (0..nodes.len()).rev() {
            if let Some(p) = parent[k] {
                let t = nodes[k].totals;
                nodes[p].totals.absorb(&t);
                nodes[p].children.push(k);
            }
        }
        for k in 0..nodes.len() {
            if let Some(p) = parent[k] {
                nodes[k].depth = nodes[p].depth + 1;
            }
        }
        let by_start = |v: &mut Vec<usize>, nodes: &[Node]| {
            v.sort_by_key(|&k| start_key(&nodes[k].item));
        };
        for k in 0..nodes.len() {
            let mut c = std::mem::take(&mut nodes[k].children);
            by_start(&mut c, &nodes);
            nodes[k].children = c;
        }
        let mut roots: Vec<usize> = (0..nodes.len()).filter(|&k| parent[k].is_none()).collect();
        by_start(&mut roots, &nodes);
        Tree {
            nodes,
            roots,
            threads,
        }
    }

    /// Every node, parents before their children, siblings in start order.
    pub fn preorder(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<usize> = self.roots.iter().rev().copied().collect();
        while let Some(k) = stack.pop() {
            out.push(k);
            stack.extend(self.nodes[k].children.iter().rev());
        }
        out
    }

    /// The earliest start in the tree: time 0 of a timeline.
    pub fn start(&self) -> Option<u64> {
        self.roots
            .iter()
            .filter_map(|&k| self.nodes[k].totals.start)
            .min()
    }
}

/// Traces written before records had ids: ids in start order, and each record's parent is
/// the record of its `ppid` that was alive when it started (the latest-started such one), so
/// a reused pid still finds the right life. A spawner that re-parented its child cannot be
/// told apart here; the assembler's `parent_record` can.
fn infer_lineage(items: &mut [Item]) {
    items.sort_by_key(start_key);
    for (k, i) in items.iter_mut().enumerate() {
        i.id = k as u64 + 1;
        i.parent = None;
    }
    let mut by_pid: HashMap<u32, Vec<usize>> = HashMap::new();
    for (k, i) in items.iter().enumerate() {
        by_pid.entry(i.pid).or_default().push(k);
    }
    let parents: Vec<Option<u64>> = items
        .iter()
        .map(|c| {
            let t = c.t_start?;
            by_pid
                .get(&c.ppid?)?
                .iter()
                .map(|&k| &items[k])
                .filter(|p| p.id < c.id && p.t_start.is_none_or(|s| s <= t))
                .filter(|p| p.t_end.is_none_or(|e| e >= t))
                .max_by_key(|p| start_key(p))
                .map(|p| p.id)
        })
        .collect();
    for (i, p) in items.iter_mut().zip(parents) {
        i.parent = p;
    }
}
