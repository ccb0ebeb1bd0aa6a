//! Bounded label sets: at most N names get their own label (a Prometheus series, a row of the
//! summary), everything else is summed under [`OTHER`]. Memory and label cardinality stay
//! bounded on a host that runs an unbounded variety of programs.
//!
//! Admission is "top-N with hysteresis": a new name gets a label while a slot is free; once
//! the slots are full, names counted under "other" compete, per epoch (the caller calls
//! [`TopLabels::rotate`] every minute or so), with the labelled names of that epoch: each
//! candidate that was seen more often than the weakest labelled name takes its slot. Labels
//! never move on their own between rotations, so a Prometheus counter stays monotonic while
//! its series exists. Candidates are counted with the Space-Saving algorithm in a table of
//! 4N entries; promotion uses each count's guaranteed part (count minus the count inherited
//! from the evicted entry), so a churn of one-off names never displaces a steady program.
use std::collections::HashMap;

/// The label of everything without its own.
pub const OTHER: &str = "other";

#[derive(Clone, Debug)]
pub struct TopLabels {
    slots: usize,
    /// Labelled names and how often each was seen this epoch.
    labelled: HashMap<String, u64>,
    /// Names counted under "other" this epoch (Space-Saving table, at most 4 * slots):
    /// (count, over-estimation inherited at insertion).
    candidates: HashMap<String, (u64, u64)>,
}

impl TopLabels {
    pub fn new(slots: usize) -> Self {
        TopLabels {
            slots,
            labelled: HashMap::new(),
            candidates: HashMap::new(),
        }
    }

    /// The label to use for `name` now: the name itself, or [`OTHER`].
    pub fn label<'a>(&mut self, name: &'a str) -> &'a str {
        if let Some(n) = self.labelled.get_mut(name) {
            *n += 1;
            return name;
        }
        if name != OTHER && self.labelled.len() < self.slots {
            self.labelled.insert(name.to_string(), 1);
            return name;
        }
        if let Some((n, _)) = self.candidates.get_mut(name) {
            *n += 1;
        } else if self.candidates.len() < self.slots * 4 {
            self.candidates.insert(name.to_string(), (1, 0));
        } else if let Some((min_name, min)) = self
            .candidates
            .iter()
            .min_by_key(|(_, (n, _))| *n)
            .map(|(k, (n, _))| (k.clone(), *n))
        {
            // Space-Saving: the newcomer inherits the evicted count, as its error.
            self.candidates.remove(&min_name);
            self.candidates.insert(name.to_string(), (min + 1, min));
        }
        OTHER
    }

    /// Whether `name` has its own label.
    pub fn is_labelled(&self, name: &str) -> bool {
        self.labelled.contains_key(name)
    }

    /// End of an epoch: candidates seen more often than the weakest labelled names take their
    /// slots. Returns the names that lost their label (the caller drops or merges their data).
    pub fn rotate(&mut self) -> Vec<String> {
        let mut cands: Vec<(String, u64)> = self
            .candidates
            .drain()
            .map(|(k, (n, err))| (k, n - err))
            .collect();
        cands.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut weak: Vec<(String, u64)> =
            self.labelled.iter().map(|(k, n)| (k.clone(), *n)).collect();
        weak.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut evicted = Vec::new();
        for ((cand, cn), (old, on)) in cands.into_iter().zip(weak) {
            if cn <= on {
                break;
            }
            self.labelled.remove(&old);
            self.labelled.insert(cand, 0);
            evicted.push(old);
        }
        self.labelled.values_mut().for_each(|n| *n = 0);
        evicted
    }

    /// Labelled names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.labelled.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_names_fill_the_slots_then_other() {
        let mut l = TopLabels::new(2);
        assert_eq!(l.label("a"), "a");
        assert_eq!(l.label("b"), "b");
        assert_eq!(l.label("c"), OTHER);
        assert_eq!(l.label("a"), "a");
        // "other" itself never takes a slot.
        let mut l = TopLabels::new(2);
        assert_eq!(l.label(OTHER), OTHER);
        assert_eq!(l.names(), Vec::<&str>::new());
    }

    #[test]
    fn heavy_newcomer_replaces_the_weakest_at_rotation() {
        let mut l = TopLabels::new(2);
        l.label("a");
        l.label("b");
        for _ in 0..10 {
            l.label("a");
            assert_eq!(l.label("hot"), OTHER, "no label change between rotations");
        }
        assert_eq!(l.rotate(), vec!["b".to_string()]);
        assert_eq!(l.names(), ["a", "hot"]);
        assert_eq!(l.label("hot"), "hot");
        assert_eq!(l.label("a"), "a");
        assert_eq!(l.label("b"), OTHER);
        // An epoch where "b" is seen no more than the labelled names changes nothing.
        assert!(l.rotate().is_empty());
        assert_eq!(l.names(), ["a", "hot"]);
    }

    #[test]
    fn a_tie_keeps_the_incumbent() {
        let mut l = TopLabels::new(1);
        l.label("a");
        l.label("b");
        assert!(l.rotate().is_empty());
        assert!(l.is_labelled("a") && !l.is_labelled("b"));
    }

    #[test]
    fn candidate_table_stays_bounded() {
        let mut l = TopLabels::new(3);
        for i in 0..10_000 {
            l.label(&format!("p{i}"));
        }
        assert!(l.candidates.len() <= 12);
        assert_eq!(l.labelled.len(), 3);
        // A name seen many times among the churn still wins its slot.
        for _ in 0..5000 {
            l.label("steady");
        }
        assert_eq!(l.rotate().len(), 1);
        assert!(l.is_labelled("steady"));
    }
}
