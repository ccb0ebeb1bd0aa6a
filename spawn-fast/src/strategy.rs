//! The `Strategy` enum: how a child is created.

use std::fmt;
use std::str::FromStr;

/// How to create the child. See the crate docs for the trade-offs and the `Auto` rule.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// `fork` + `execveat`: copies the parent's page tables, and the parent then takes a
    /// copy-on-write fault for each page it writes; cost grows with the parent's size.
    Fork,
    /// `vfork` + `execveat`: the child borrows the parent's memory (and stack) until exec; the
    /// calling thread is suspended meanwhile.
    Vfork,
    /// glibc `posix_spawn` (what std uses). Cannot change uid/gid.
    PosixSpawn,
    /// `clone3(CLONE_VM|CLONE_VFORK|CLONE_CLEAR_SIGHAND)` on its own stack + `execveat` on an
    /// O_PATH fd. Needs Linux 5.3+ and no seccomp filter refusing `clone3`.
    Clone3,
    /// A long-lived runner process, forked once, spawns on our behalf (see
    /// [`crate::zygote`]); the child is the zygote's, not the caller's.
    Zygote,
    /// Fork a parked image of a dynamically linked glibc program: no exec, no loader (see
    /// [`crate::warm`]). Opt-in only: `Auto` never picks it.
    Warm,
    /// The fastest strategy that is safe for the request: `Clone3` where the kernel allows
    /// it, else `Vfork`.
    #[default]
    Auto,
}

impl Strategy {
    /// Every concrete strategy (all but `Auto`).
    pub const ALL: &'static [Strategy] = &[
        Strategy::Fork,
        Strategy::Vfork,
        Strategy::PosixSpawn,
        Strategy::Clone3,
        Strategy::Zygote,
        Strategy::Warm,
    ];

    /// The name used by `FromStr`/`Display`.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Fork => "fork",
            Strategy::Vfork => "vfork",
            Strategy::PosixSpawn => "posix-spawn",
            Strategy::Clone3 => "clone3",
            Strategy::Zygote => "zygote",
            Strategy::Warm => "warm",
            Strategy::Auto => "auto",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown strategy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown spawn strategy {0:?} (expected fork, vfork, posix-spawn, clone3, zygote, warm or auto)"
)]
pub struct ParseStrategyError(pub String);

impl FromStr for Strategy {
    type Err = ParseStrategyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "fork" => Strategy::Fork,
            "vfork" => Strategy::Vfork,
            "posix-spawn" | "posix_spawn" | "posixspawn" => Strategy::PosixSpawn,
            "clone3" => Strategy::Clone3,
            "zygote" => Strategy::Zygote,
            "warm" => Strategy::Warm,
            "auto" => Strategy::Auto,
            _ => return Err(ParseStrategyError(s.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Strategy::ALL.iter().copied().chain([Strategy::Auto]) {
            assert_eq!(s.to_string().parse::<Strategy>().unwrap(), s);
        }
        assert!("spoon".parse::<Strategy>().is_err());
        assert!(!Strategy::ALL.contains(&Strategy::Auto));
    }
}
