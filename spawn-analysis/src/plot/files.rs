//! The files of `spawnprof report`: recorded JSON-lines traces in; phase and fault plots, the
//! timeline, the tree and a text summary out.
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::timeline::{self, TimelineOptions};
use super::{Bar, BarsBy, FAULT_SIDES, LEAVES, bars, label};
use crate::record::SpawnRecord;
use crate::report::{fmt_ns, json, summary::Summary};
use crate::tree::{Tree, text, verdict};

/// Why a report could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Reading a trace or writing an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file read or written.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A line of a trace is a JSON object but not a [`SpawnRecord`].
    #[error("{path}:{line}: not a spawn record: {source}")]
    NotARecord {
        /// The trace file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// Why it does not parse as a record.
        source: serde_json::Error,
    },
    /// No record qualifies for a bar (see [`super::usable`]); carries the number of records.
    #[error("no complete, successful exec spawn among the {0} records: nothing to plot")]
    NothingToPlot(usize),
    /// plotters failed to draw; carries its error, formatted.
    #[error("drawing {0}")]
    Draw(String),
}

/// Attaches the path to an I/O error.
fn at(path: &Path) -> impl FnOnce(io::Error) -> PlotError + '_ {
    move |source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Records of one trace file, with the file's stem (the label under [`BarsBy::File`]).
pub struct Trace {
    /// The file name without directory and extension ("trace" when there is none).
    pub stem: String,
    /// The records, in file order.
    pub records: Vec<SpawnRecord>,
}

/// Reads a JSON-lines trace; lines that are not JSON objects (a traced command's own output
/// written to the same file) are skipped, a malformed object is an error naming its line.
pub fn read_trace(path: &Path) -> Result<Trace, PlotError> {
    let text = fs::read_to_string(path).map_err(at(path))?;
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.trim_start().starts_with('{') {
            continue;
        }
        let r = json::from_line(line).map_err(|source| PlotError::NotARecord {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        records.push(r);
    }
    let stem = path
        .file_stem()
        .map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
    Ok(Trace { stem, records })
}

/// What [`write()`] produced.
pub struct Written {
    /// The paths written: `phases.svg`, `faults.svg`, `phases.csv`, `summary.txt`.
    pub files: Vec<PathBuf>,
    /// The bars drawn, one per group.
    pub bars: Vec<Bar>,
    /// Records left out of every bar (not a complete, successful exec).
    pub skipped: usize,
}

/// Writes `phases.svg`, `faults.svg`, `phases.csv` and `summary.txt` into `dir`.
pub fn write(traces: &[Trace], by: BarsBy, title: &str, dir: &Path) -> Result<Written, PlotError> {
    fs::create_dir_all(dir).map_err(at(dir))?;
    let labelled = traces
        .iter()
        .flat_map(|t| t.records.iter().map(move |r| (label(r, by, &t.stem), r)));
    let bars = bars(labelled);
    let total: usize = traces.iter().map(|t| t.records.len()).sum();
    let used: usize = bars.iter().map(|b| b.n).sum();
    if bars.is_empty() {
        return Err(PlotError::NothingToPlot(total));
    }
    let phases = dir.join("phases.svg");
    let faults = dir.join("faults.svg");
    let csv = dir.join("phases.csv");
    let text = dir.join("summary.txt");
    super::svg::phase_bars(&phases, &format!("{title}: phases of a spawn"), &bars)?;
    super::svg::fault_bars(&faults, &format!("{title}: page-fault time"), &bars)?;
    fs::write(&csv, csv_text(&bars)).map_err(at(&csv))?;
    let mut summary = Summary::new();
    traces
        .iter()
        .flat_map(|t| &t.records)
        .for_each(|r| summary.add(r));
    let mut body = format!("{}\n{}", bar_table(&bars, total - used), summary.render());
    for t in traces {
        body.push_str(&verdict::render(&Tree::from_records(&t.records), 5));
    }
    fs::write(&text, body).map_err(at(&text))?;
    Ok(Written {
        files: vec![phases, faults, csv, text],
        skipped: total - used,
        bars,
    })
}

/// `timeline.svg` and `tree.txt` of one trace (`timeline-STEM.svg`, ... when there are
/// several), and a line saying what the timeline shows.
pub fn write_tree(
    t: &Trace,
    several: bool,
    title: &str,
    opts: &TimelineOptions,
    dir: &Path,
) -> Result<(Vec<PathBuf>, String), PlotError> {
    let tree = Tree::from_records(&t.records);
    let suffix = if several {
        format!("-{}", t.stem)
    } else {
        String::new()
    };
    let title = if several { t.stem.as_str() } else { title };
    let (svg, stats) = timeline::render(&tree, title, opts);
    let svg_path = dir.join(format!("timeline{suffix}.svg"));
    fs::write(&svg_path, svg).map_err(at(&svg_path))?;
    let txt_path = dir.join(format!("tree{suffix}.txt"));
    let txt = text::render(
        &tree,
        text::TextOptions {
            min_total_ns: opts.min_ns,
        },
    );
    fs::write(&txt_path, txt).map_err(at(&txt_path))?;
    let mut note = format!("timeline{suffix}.svg: {} rows of single spawns", stats.rows);
    if stats.elided > 0 {
        note.push_str(&format!(
            ", {} spawns whose subtree took < {} grouped into {} row{}",
            stats.elided,
            fmt_ns(stats.threshold_ns),
            stats.groups,
            if stats.groups == 1 { "" } else { "s" }
        ));
    }
    Ok((vec![svg_path, txt_path], note))
}

/// Median ns per leaf and per fault side, one row per bar (for spreadsheets and the xtask).
pub fn csv_text(bars: &[Bar]) -> String {
    let mut out = String::from("group,n,total_median_ns");
    LEAVES.iter().for_each(|l| {
        let _ = write!(out, ",{l}_median_ns");
    });
    for side in FAULT_SIDES {
        let key = side.replace([' ', '-'], "_");
        let _ = write!(out, ",fault_{key}_median_ns,fault_{key}_mean_count");
    }
    out.push('\n');
    for b in bars {
        let _ = write!(out, "{},{},{:.0}", b.label.replace(',', ";"), b.n, b.total);
        b.leaves.iter().for_each(|v| {
            let _ = write!(out, ",{v:.0}");
        });
        for i in 0..3 {
            let _ = write!(out, ",{:.0},{:.2}", b.fault_ns[i], b.fault_count[i]);
        }
        out.push('\n');
    }
    out
}

/// The numbers behind the bars, for reading without a viewer.
fn bar_table(bars: &[Bar], skipped: usize) -> String {
    let mut out = format!(
        "phase medians per group ({skipped} records skipped: not a complete, successful exec)\n"
    );
    let _ = write!(out, "{:<28} {:>5} {:>9}", "group", "n", "total");
    for l in LEAVES {
        let _ = write!(out, " {:>9}", l.short());
    }
    let _ = writeln!(out, " {:>9}", "faults");
    for b in bars {
        let _ = write!(
            out,
            "{:<28} {:>5} {:>9}",
            b.label,
            b.n,
            fmt_ns(b.total as u64)
        );
        for v in b.leaves {
            let _ = write!(out, " {:>9}", fmt_ns(v as u64));
        }
        let _ = writeln!(out, " {:>9}", fmt_ns(b.fault_ns.iter().sum::<f64>() as u64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ExecInfo, SpawnKind};

    fn rec(pid: u32) -> SpawnRecord {
        let mut r = SpawnRecord::new(pid, SpawnKind::Exec);
        r.complete = true;
        r.exec = Some(ExecInfo::ok("/x/exit0"));
        r.phases_ns.copy = Some(40_000);
        r.phases_ns.exec = Some(90_000);
        r.phases_ns.exec_load = Some(90_000);
        r.total_ns = Some(130_000);
        r
    }

    #[test]
    fn writes_every_file_from_a_recorded_trace() {
        let dir = std::env::temp_dir().join(format!("spawnprof-report-{}", std::process::id()));
        let trace = dir.join("vfork.jsonl");
        fs::create_dir_all(&dir).expect("mkdir");
        let mut text = String::from("command output line\n");
        for pid in 1..4 {
            text.push_str(&json::to_line(&rec(pid)).expect("json"));
            text.push('\n');
        }
        text.push_str(&json::to_line(&SpawnRecord::new(9, SpawnKind::Root)).expect("json"));
        fs::write(&trace, text).expect("write");
        let t = read_trace(&trace).expect("read");
        assert_eq!((t.stem.as_str(), t.records.len()), ("vfork", 4));
        let out = dir.join("out");
        let w = write(&[t], BarsBy::File, "test", &out).expect("report");
        assert_eq!((w.skipped, w.bars.len(), w.bars[0].n), (1, 1, 3));
        for f in &w.files {
            let body = fs::read_to_string(f).expect("read back");
            assert!(!body.is_empty(), "{} is empty", f.display());
        }
        let svg = fs::read_to_string(out.join("phases.svg")).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("exec: load") && svg.contains("vfork"));
        let csv = fs::read_to_string(out.join("phases.csv")).expect("csv");
        assert!(
            csv.lines()
                .nth(1)
                .unwrap_or("")
                .starts_with("vfork,3,130000,0,40000")
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_usable_is_an_error() {
        let t = Trace {
            stem: "x".into(),
            records: vec![SpawnRecord::new(1, SpawnKind::Root)],
        };
        let dir = std::env::temp_dir().join(format!("spawnprof-empty-{}", std::process::id()));
        assert!(write(&[t], BarsBy::Program, "x", &dir).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
