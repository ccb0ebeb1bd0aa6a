//! JSON lines: the full record, one object per line (`"v"` carries the schema version).
use crate::record::SpawnRecord;

/// The record as one line of JSON (no trailing newline; strings with newlines are escaped).
///
/// ```
/// use spawn_analysis::record::{SpawnKind, SpawnRecord};
/// use spawn_analysis::report::json;
///
/// let mut r = SpawnRecord::new(4242, SpawnKind::Exec);
/// r.phases_ns.copy = Some(12_500); // ns
/// let line = json::to_line(&r)?;
/// assert!(line.starts_with(r#"{"v":1,"pid":4242,"#));
/// // A phase that was not measured is null, never 0.
/// assert!(line.contains(r#""copy":12500,"queue":null"#));
/// assert_eq!(json::from_line(&line)?, r);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn to_line(r: &SpawnRecord) -> serde_json::Result<String> {
    serde_json::to_string(r)
}

/// Parses one line written by [`to_line`]; fields added after a trace was written
/// (`id`, `parent_record`, `depth`, the identity fields) take their defaults.
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

    /// Traces written before lineage existed still read: no id, no parent, depth 0.
    #[test]
    fn reads_records_without_lineage() {
        let mut r = SpawnRecord::new(7, SpawnKind::Exec);
        r.id = 5;
        r.parent_record = Some(2);
        r.depth = 1;
        let mut v: serde_json::Value =
            serde_json::from_str(&to_line(&r).expect("json")).expect("value");
        assert_eq!(
            (
                v["id"].as_u64(),
                v["parent_record"].as_u64(),
                v["depth"].as_u64()
            ),
            (Some(5), Some(2), Some(1))
        );
        for k in ["id", "parent_record", "depth"] {
            v.as_object_mut().expect("object").remove(k);
        }
        let old = from_line(&v.to_string()).expect("parse");
        assert_eq!((old.id, old.parent_record, old.depth), (0, None, 0));
    }
}
