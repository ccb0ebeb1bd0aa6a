//! The phases of a spawn: the one list of their names, their order and which phase a
//! sub-phase belongs to. Every table, chart, metric label and JSON key takes its phase names
//! from here.
//!
//! The main phases follow one another without gaps from the parent's first step towards the
//! spawn to the reap, so when all are present they sum to the spawn's wall time:
//! `prep, copy, queue, setup, exec, startup, run, reap`. `exec` and `startup` are split into
//! sub-phases that partition them.
//!
//! ```
//! use spawn_analysis::phase::Phase;
//!
//! // The main phases in time order, each with its sub-phases.
//! for main in Phase::MAIN {
//!     let subs: Vec<&str> = main.children().map(Phase::part_name).collect();
//!     println!("{main}: {subs:?}"); // "exec: [\"retry\", \"open\", ...]"
//! }
//! assert_eq!(Phase::ExecLoad.parent(), Some(Phase::Exec));
//! assert_eq!(Phase::ExecLoad.name(), "exec_load"); // the JSON key and CSV column
//! assert_eq!("startup_loader".parse::<Phase>(), Ok(Phase::StartupLoader));
//! // The leaves tile a spawn without overlap: the segments of a stacked bar.
//! assert_eq!(Phase::LEAVES.len(), 13);
//! assert!(!Phase::SPAWN.contains(&Phase::Run)); // the program's own time is not spawn cost
//! ```
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Defines [`Phase`] from one list: the variants with their docs and names, [`Phase::ALL`]
/// in list order, and [`Phase::name`].
macro_rules! phases {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// One phase of a spawn.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum Phase {
            $($(#[$doc])* $variant,)*
        }

        impl Phase {
            /// Every phase, main phases each followed by their sub-phases (the JSON key order).
            pub const ALL: [Phase; [$(Phase::$variant),*].len()] = [$(Phase::$variant),*];

            /// The name in JSON keys, CSV headers, metric labels and tables.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Phase::$variant => $name,)*
                }
            }
        }
    };
}

phases! {
    /// The parent, from spawn-fast's entry mark to the clone syscall (only with `--prep`).
    Prep = "prep",
    /// The clone syscall copying the parent (mm, files, signal handlers...).
    Copy = "copy",
    /// From the child's creation to its first run on a CPU.
    Queue = "queue",
    /// The child's own work before exec (dup2, close, signal resets...).
    Setup = "setup",
    /// The exec syscall, from entry to return in the new image.
    Exec = "exec",
    /// Failed exec attempts before the successful one (a shell trying each PATH entry).
    ExecRetry = "exec_retry",
    /// Finding and opening the file, and reading its header.
    ExecOpen = "exec_open",
    /// Tearing down the old address space.
    ExecTeardown = "exec_teardown",
    /// Mapping the new image (ELF loading).
    ExecLoad = "exec_load",
    /// From the new image's mapping to the syscall's return (credentials, auxv, stack).
    ExecFinish = "exec_finish",
    /// From exec's return to `main`.
    Startup = "startup",
    /// The dynamic loader: mapping and relocating libraries.
    StartupLoader = "startup_loader",
    /// libc and constructors up to `main`.
    StartupInit = "startup_init",
    /// The program's own work, from `main` to its exit.
    Run = "run",
    /// From the child's exit to its reaping by the parent.
    Reap = "reap",
}

use Phase::*;

impl Phase {
    /// The main phases in time order: together they cover a spawn without gaps or overlap.
    pub const MAIN: [Phase; 8] = [Prep, Copy, Queue, Setup, Exec, Startup, Run, Reap];
    /// The finest split in time order: main phases, with `exec` and `startup` replaced by
    /// their sub-phases (the segments of a stacked bar).
    pub const LEAVES: [Phase; 13] = [
        Prep,
        Copy,
        Queue,
        Setup,
        ExecRetry,
        ExecOpen,
        ExecTeardown,
        ExecLoad,
        ExecFinish,
        StartupLoader,
        StartupInit,
        Run,
        Reap,
    ];
    /// The main phases that are the cost of spawning, as opposed to the program's own `run`.
    pub const SPAWN: [Phase; 7] = [Prep, Copy, Queue, Setup, Exec, Startup, Reap];

    /// The main phase a sub-phase belongs to (`None` for a main phase).
    pub const fn parent(self) -> Option<Phase> {
        match self {
            ExecRetry | ExecOpen | ExecTeardown | ExecLoad | ExecFinish => Some(Exec),
            StartupLoader | StartupInit => Some(Startup),
            _ => None,
        }
    }

    /// Whether this is one of [`Phase::MAIN`] rather than a sub-phase.
    pub const fn is_main(self) -> bool {
        self.parent().is_none()
    }

    /// The sub-phases of a main phase, in time order (empty when it has none).
    pub fn children(self) -> impl Iterator<Item = Phase> {
        Self::ALL
            .into_iter()
            .filter(move |p| p.parent() == Some(self))
    }

    /// For legends: a sub-phase as `main: sub` ("exec: load").
    pub fn label(self) -> String {
        self.name().replacen('_', ": ", 1)
    }

    /// A sub-phase's name within its main phase ("loader" for `startup_loader`); a main
    /// phase's own name.
    pub fn part_name(self) -> &'static str {
        match self.parent() {
            Some(main) => &self.name()[main.name().len() + 1..],
            None => self.name(),
        }
    }

    /// At most nine characters, for table columns ("ex.load", "st.init").
    pub fn short(self) -> String {
        match self.parent() {
            Some(main) => {
                let sub = self.part_name();
                let sub = if sub == "teardown" { "tear" } else { sub };
                format!("{}.{sub}", &main.name()[..2])
            }
            None => self.name().to_string(),
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown phase name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown phase {0:?}")]
pub struct UnknownPhase(pub String);

impl FromStr for Phase {
    type Err = UnknownPhase;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPhase(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for p in Phase::ALL {
            assert_eq!(p.name().parse::<Phase>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.name())
            );
        }
        assert!("nope".parse::<Phase>().is_err());
    }

    #[test]
    fn leaves_partition_the_main_phases_in_order() {
        let mut expanded = Vec::new();
        for m in Phase::MAIN {
            let subs: Vec<Phase> = m.children().collect();
            if subs.is_empty() {
                expanded.push(m);
            } else {
                expanded.extend(subs);
            }
        }
        assert_eq!(expanded, Phase::LEAVES);
        assert!(Phase::MAIN.iter().all(|p| p.is_main()));
        assert_eq!(Phase::ALL.iter().filter(|p| p.is_main()).count(), 8);
        assert!(!Phase::SPAWN.contains(&Phase::Run));
    }

    #[test]
    fn short_names_fit_a_column() {
        assert_eq!(Phase::ExecTeardown.short(), "ex.tear");
        assert_eq!(Phase::StartupLoader.short(), "st.loader");
        assert_eq!(Phase::ExecLoad.label(), "exec: load");
        assert_eq!(Phase::StartupLoader.part_name(), "loader");
        assert_eq!(Phase::Copy.part_name(), "copy");
        assert!(Phase::ALL.iter().all(|p| p.short().len() <= 9));
    }
}
