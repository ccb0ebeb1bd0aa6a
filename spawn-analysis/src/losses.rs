//! Every way the pipeline can lose a spawn or part of one, in one place, and the balance that
//! shows nothing went missing uncounted: `records + counted losses = spawns`, where `spawns`
//! is the probes' own count at `task_newtask`, taken before anything can fail.
//!
//! Pure: built from the probes' counter array and the collector's tallies, so the wording
//! and the arithmetic are unit-tested without root.
use spawn_common::counter;

/// Loss counters, kernel side and user side. All are totals since the probes loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// Spawns (processes and threads) made by tasks in scope, counted in the kernel.
    pub spawns: u64,
    /// Records of any kind the ring buffer had no room for.
    pub ring_full: u64,
    /// Of those, `task_newtask` records: spawns with no record at all.
    pub ring_full_spawns: u64,
    /// New processes that could not be followed (their events and subtree are missing).
    pub followed_full: u64,
    /// Processes whose page faults could not be tracked (fault state map full).
    pub fault_state_full: u64,
    /// Execs whose startup window could not be opened (startup absent).
    pub startup_full: u64,
    /// waitid calls whose reap could not be read (reap absent).
    pub waitid_full: u64,
    /// Records the reader could not decode.
    pub decode_errors: u64,
    /// Of those, `task_newtask` records: spawns with no record at all.
    pub decode_error_spawns: u64,
    /// Records released before their end to bound the reader's memory (they still come
    /// out, flagged incomplete).
    pub evicted_records: u64,
}

impl Losses {
    /// The kernel-side part, from the probes' counters (indexed by `spawn_common::counter`).
    pub fn from_counters(c: &[u64; counter::COUNT as usize]) -> Self {
        Losses {
            spawns: c[counter::SPAWNS as usize],
            ring_full: c[counter::LOST_EVENTS as usize],
            ring_full_spawns: c[counter::LOST_SPAWNS as usize],
            followed_full: c[counter::FOLLOWED_FULL as usize],
            fault_state_full: c[counter::FAULT_STATE_FULL as usize],
            startup_full: c[counter::STARTUP_FULL as usize],
            waitid_full: c[counter::WAITID_FULL as usize],
            ..Default::default()
        }
    }

    /// Each loss kind by a stable name (the `/metrics` label), in a fixed order.
    pub fn kinds(&self) -> [(&'static str, u64); 8] {
        [
            ("ring_buffer_full", self.ring_full),
            ("ring_buffer_full_spawns", self.ring_full_spawns),
            ("followed_map_full", self.followed_full),
            ("fault_state_map_full", self.fault_state_full),
            ("startup_map_full", self.startup_full),
            ("waitid_map_full", self.waitid_full),
            ("decode_errors", self.decode_errors),
            ("evicted_records", self.evicted_records),
        ]
    }

    /// One line naming every loss counter, zero or not.
    pub fn line(&self) -> String {
        format!(
            "losses: ring buffer full {} ({} spawns), followed map full {}, fault state map full {}, startup map full {}, waitid map full {}, undecodable {} ({} spawns), evicted records {}",
            self.ring_full,
            self.ring_full_spawns,
            self.followed_full,
            self.fault_state_full,
            self.startup_full,
            self.waitid_full,
            self.decode_errors,
            self.decode_error_spawns,
            self.evicted_records
        )
    }

    /// Any loss at all.
    pub fn any(&self) -> bool {
        self.kinds().iter().any(|(_, n)| *n > 0)
    }

    /// The balance of spawns: `records` is the number of records whose creation was seen
    /// (partial records of processes already running are not spawns), `filtered` those
    /// dropped on purpose (`--comm`, `--min-total`).
    pub fn balance(&self, records: u64, filtered: u64) -> Balance {
        Balance {
            spawns: self.spawns,
            records,
            filtered,
            lost: self.ring_full_spawns + self.decode_error_spawns,
        }
    }
}

/// `spawns = records + filtered + lost`, checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Spawns the probes counted at `task_newtask` ([`Losses::spawns`]).
    pub spawns: u64,
    /// Records whose creation was seen.
    pub records: u64,
    /// Records dropped on purpose by a filter (`--comm`, `--min-total`).
    pub filtered: u64,
    /// Spawns whose creation record was lost (ring buffer full, undecodable).
    pub lost: u64,
}

impl Balance {
    /// Spawns neither recorded nor counted as lost (0 when the accounting is whole);
    /// negative when more records than spawns came out (a record counted twice).
    pub fn unaccounted(&self) -> i64 {
        self.spawns as i64 - (self.records + self.filtered + self.lost) as i64
    }

    /// One line stating the balance and whether it holds ("balanced" / "UNBALANCED by N").
    pub fn line(&self) -> String {
        let verdict = match self.unaccounted() {
            0 => "balanced".to_string(),
            n => format!("UNBALANCED by {n}"),
        };
        format!(
            "spawns counted in the kernel: {} = {} records + {} filtered out + {} lost ({verdict})",
            self.spawns, self.records, self.filtered, self.lost
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_map_to_kinds_and_the_balance_adds_up() {
        let mut c = [0u64; counter::COUNT as usize];
        c[counter::SPAWNS as usize] = 10;
        c[counter::LOST_EVENTS as usize] = 30;
        c[counter::LOST_SPAWNS as usize] = 3;
        c[counter::FOLLOWED_FULL as usize] = 1;
        c[counter::FAULT_STATE_FULL as usize] = 2;
        c[counter::STARTUP_FULL as usize] = 4;
        c[counter::WAITID_FULL as usize] = 5;
        let mut l = Losses::from_counters(&c);
        l.decode_errors = 2;
        l.decode_error_spawns = 1;
        l.evicted_records = 6;
        assert!(l.kinds().iter().all(|(_, n)| *n > 0), "{:?}", l.kinds());
        let line = l.line();
        for want in [
            "ring buffer full 30 (3 spawns)",
            "followed map full 1",
            "fault state map full 2",
            "startup map full 4",
            "waitid map full 5",
            "undecodable 2 (1 spawns)",
            "evicted records 6",
        ] {
            assert!(line.contains(want), "{want:?} not in {line}");
        }
        let b = l.balance(5, 1);
        assert_eq!(b.unaccounted(), 0);
        assert!(
            b.line()
                .ends_with("= 5 records + 1 filtered out + 4 lost (balanced)")
        );
        assert_eq!(l.balance(7, 1).unaccounted(), -2);
        assert!(l.balance(4, 0).line().contains("UNBALANCED by 2"));
        assert!(!Losses::default().any());
    }
}
