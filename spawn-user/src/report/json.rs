//! JSON lines: the full record, one object per line (`"v"` carries the schema version).
use crate::record::SpawnRecord;

pub fn to_line(r: &SpawnRecord) -> serde_json::Result<String> {
    serde_json::to_string(r)
}

pub fn from_line(line: &str) -> serde_json::Result<SpawnRecord> {
    serde_json::from_str(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{SCHEMA_VERSION, SpawnKind};

    #[test]
    fn round_trips_and_is_one_line() {
        let mut r = SpawnRecord::new(7, SpawnKind::ForkOnly);
        r.comm = "worker \"1\"\n".into();
        r.phases_ns.run = Some(5);
        r.notes.push("exited; no waiting parent seen".into());
        let line = to_line(&r).expect("serialize");
        assert!(!line.contains('\n'));
        assert_eq!(from_line(&line).expect("parse"), r);
        let v: serde_json::Value = serde_json::from_str(&line).expect("value");
        assert_eq!(v["v"], SCHEMA_VERSION);
        assert_eq!(v["kind"], "fork_only");
        assert_eq!(v["phases_ns"]["run"], 5);
        assert!(v["phases_ns"]["copy"].is_null());
    }
}
