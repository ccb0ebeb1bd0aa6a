//! Reporters: a human table, JSON lines, CSV, and a per-program summary. The record writers
//! take one [`SpawnRecord`] at a time so that records are shown as spawns complete.
use std::io::{self, Write};

use crate::record::SpawnRecord;

pub mod csv;
pub mod json;
pub mod probe_cost;
pub mod summary;
pub mod table;

/// Output format of the per-spawn records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for people, one line per spawn.
    #[default]
    Table,
    /// One JSON object per line (the full record).
    Json,
    /// A header row, then one flat row per record.
    Csv,
}

/// Writes records in one [`Format`], with the header (table, CSV) before the first record.
pub struct RecordWriter {
    out: Box<dyn Write + Send>,
    format: Format,
    started: bool,
}

impl RecordWriter {
    /// A writer that has written nothing yet, not even the header.
    pub fn new(out: Box<dyn Write + Send>, format: Format) -> Self {
        RecordWriter {
            out,
            format,
            started: false,
        }
    }

    /// Writes one record as one line, preceded by the header on the first call.
    pub fn write(&mut self, r: &SpawnRecord) -> io::Result<()> {
        if !self.started {
            self.started = true;
            match self.format {
                Format::Table => writeln!(self.out, "{}", table::header())?,
                Format::Csv => writeln!(self.out, "{}", csv::header())?,
                Format::Json => {}
            }
        }
        let line = match self.format {
            Format::Table => table::row(r),
            Format::Csv => csv::row(r),
            Format::Json => json::to_line(r).map_err(io::Error::other)?,
        };
        writeln!(self.out, "{line}")
    }

    /// Flushes the underlying writer (a live trace flushes after each record).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer (flushed by the caller).
    pub fn into_inner(self) -> Box<dyn Write + Send> {
        self.out
    }
}

/// A duration for reading: three significant digits in the largest unit that keeps the
/// number at least 1 ("850ns", "36.1µs", "1.42ms", "2.50s").
pub fn fmt_ns(ns: u64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e3, "µs"), (1e6, "ms"), (1e9, "s")];
    if ns < 1000 {
        return format!("{ns}ns");
    }
    let mut pick = UNITS[0];
    for u in UNITS {
        // 999.6µs would print as "1000µs": promote once rounding reaches 1000.
        if ns as f64 >= u.0 * 0.9995 {
            pick = u;
        }
    }
    let v = ns as f64 / pick.0;
    let digits = if v < 9.995 {
        2
    } else if v < 99.95 {
        1
    } else {
        0
    };
    format!("{v:.digits$}{}", pick.1)
}

/// [`fmt_ns`] of an optional value, "-" when absent.
pub fn fmt_opt(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".to_string(), fmt_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_ns(0), "0ns");
        assert_eq!(fmt_ns(999), "999ns");
        assert_eq!(fmt_ns(1000), "1.00µs");
        assert_eq!(fmt_ns(36_100), "36.1µs");
        assert_eq!(fmt_ns(123_456), "123µs");
        assert_eq!(fmt_ns(999_700), "1.00ms");
        assert_eq!(fmt_ns(1_420_000), "1.42ms");
        assert_eq!(fmt_ns(44_000_000), "44.0ms");
        assert_eq!(fmt_ns(2_500_000_000), "2.50s");
        assert_eq!(fmt_ns(3_600_000_000_000), "3600s");
        assert_eq!(fmt_opt(None), "-");
    }

    /// A writer the test can read back after handing it to the RecordWriter.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn written(format: Format, n: u32) -> String {
        let buf = Shared::default();
        let mut w = RecordWriter::new(Box::new(buf.clone()), format);
        for pid in 0..n {
            let r = SpawnRecord::new(pid + 10, crate::record::SpawnKind::Exec);
            w.write(&r).expect("write");
        }
        w.flush().expect("flush");
        let bytes = buf.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf8")
    }

    #[test]
    fn headers_once_then_one_line_per_record() {
        for (format, header_lines) in [(Format::Table, 1), (Format::Csv, 1), (Format::Json, 0)] {
            let out = written(format, 3);
            assert_eq!(out.lines().count(), 3 + header_lines, "{format:?}:\n{out}");
        }
        assert!(written(Format::Csv, 2).starts_with("v,pid,"));
        assert_eq!(written(Format::Table, 0), "");
    }
}
