//! Limits meant for tests only: tiny kernel maps and reader bounds, so that every kind of
//! loss can be forced and its counter checked. Read from `SPAWNPROF_TEST_MAP_SIZES`, e.g.
//! `FOLLOWED=2,PROC=1,STARTUP=1,WAITID_INFOP=1,EVENTS=4096,max_open=1,hold_reader=1`:
//!
//! - an UPPER-CASE name is a probe map whose `max_entries` is set before load (for the ring
//!   buffer `EVENTS`, its size in bytes: a power of two, at least a page);
//! - `max_open=N` caps the records the assembler keeps open (user-space eviction);
//! - `hold_reader=1` (trace only) keeps the reader away from the ring buffer until the
//!   command is done, so that a small ring buffer overflows whatever the machine's load.
//!
//! An environment variable rather than a flag: the limits make the output wrong on purpose,
//! and nothing a user types should reach them by accident.
use spawn_analysis::assemble::{Assembler, AssemblerConfig};

pub const ENV: &str = "SPAWNPROF_TEST_MAP_SIZES";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TestLimitsError {
    #[error("{ENV}: {0:?} is not NAME=NUMBER")]
    Syntax(String),
    #[error("{ENV}: unknown setting {0:?}")]
    Unknown(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestLimits {
    /// Probe maps and their `max_entries`.
    pub maps: Vec<(String, u32)>,
    pub max_open: Option<usize>,
    pub hold_reader: bool,
}

impl TestLimits {
    /// The limits in the environment (none when the variable is unset or empty).
    pub fn from_env() -> Result<Self, TestLimitsError> {
        Self::parse(&std::env::var(ENV).unwrap_or_default())
    }

    pub fn parse(s: &str) -> Result<Self, TestLimitsError> {
        let mut out = TestLimits::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| TestLimitsError::Syntax(item.into()))?;
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| TestLimitsError::Syntax(item.into()))?;
            let name = name.trim();
            match name {
                "max_open" => out.max_open = Some(n as usize),
                "hold_reader" => out.hold_reader = n != 0,
                _ if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                    let n = u32::try_from(n).map_err(|_| TestLimitsError::Syntax(item.into()))?;
                    out.maps.push((name.to_string(), n));
                }
                _ => return Err(TestLimitsError::Unknown(name.into())),
            }
        }
        Ok(out)
    }

    /// The assembler to use: the default one unless `max_open` is set.
    pub fn assembler(&self) -> Assembler {
        match self.max_open {
            Some(max_open) => Assembler::with_config(AssemblerConfig {
                max_open,
                ..AssemblerConfig::default()
            }),
            None => Assembler::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_and_reader_limits() {
        let t = TestLimits::parse("FOLLOWED=2, EVENTS=4096,max_open=1,hold_reader=1").unwrap();
        assert_eq!(
            t.maps,
            vec![("FOLLOWED".to_string(), 2), ("EVENTS".to_string(), 4096)]
        );
        assert_eq!(t.max_open, Some(1));
        assert!(t.hold_reader);
        assert_eq!(TestLimits::parse("").unwrap(), TestLimits::default());
        assert!(matches!(
            TestLimits::parse("FOLLOWED"),
            Err(TestLimitsError::Syntax(_))
        ));
        assert!(matches!(
            TestLimits::parse("bogus=1"),
            Err(TestLimitsError::Unknown(_))
        ));
    }
}
