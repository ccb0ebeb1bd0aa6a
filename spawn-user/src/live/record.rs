//! `spawnprof record`: records to JSON lines or CSV for as long as asked, with a summary line
//! per `--interval` on stderr. Ctrl-C, SIGTERM or `--duration` stop it; then it drains the
//! probes, writes every record still open (flagged incomplete), and prints the summary.
//! Memory stays flat: records are written as they complete, the summary is
//! HdrHistograms over a bounded set of programs.
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use super::agg::{Agg, GroupStats, program_key};
use super::text::{interval_line, summary};
use super::{Every, Health, LABEL_EPOCH, LiveError, Pacer, Scope, Source, TICK, Wake, signals};
use spawn_analysis::record::SpawnRecord;
use spawn_analysis::report::{Format, RecordWriter};

/// Programs that get their own block in the final summary (the rest are "other").
const SUMMARY_PROGRAMS: usize = 30;

#[derive(Clone, Debug)]
pub struct RecordOptions {
    pub scope: Scope,
    /// JSON lines or CSV.
    pub format: Format,
    /// Records go here (stdout when `None`).
    pub output: Option<PathBuf>,
    pub duration: Option<Duration>,
    pub interval: Option<Duration>,
    /// Report the probes' own cost (kernel BPF run-time statistics) at the end.
    pub probe_stats: bool,
}

#[derive(Clone, Debug, Default)]
pub struct RecordOutcome {
    pub records: u64,
    pub health: Health,
}

/// `-o FILE`: CSV when the name ends in `.csv`, JSON lines otherwise.
pub fn format_for(path: Option<&std::path::Path>, csv_flag: bool) -> Format {
    let csv_name = path
        .and_then(|p| p.extension())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if csv_flag || csv_name {
        Format::Csv
    } else {
        Format::Json
    }
}

struct Sink {
    writer: RecordWriter,
    name: String,
    agg: Agg,
    window: GroupStats,
    window_records: u64,
    records: u64,
}

impl Sink {
    fn take(&mut self, recs: Vec<SpawnRecord>) -> Result<(), LiveError> {
        let err = |e: io::Error| LiveError::Output(self.name.clone(), e);
        for r in recs {
            self.writer.write(&r).map_err(err)?;
            self.agg.add(&program_key(&r), &r);
            self.records += 1;
            self.window_records += 1;
            if r.kind != spawn_analysis::record::SpawnKind::Thread {
                self.window.add(&r);
            }
        }
        self.writer.flush().map_err(err)
    }
}

/// Records until Ctrl-C, SIGTERM or `--duration`, on the live modes' runtime.
pub fn run(opts: &RecordOptions) -> Result<RecordOutcome, LiveError> {
    super::runtime()?.block_on(record(opts))
}

async fn record(opts: &RecordOptions) -> Result<RecordOutcome, LiveError> {
    let mut stop = signals::Stop::install().map_err(LiveError::Runtime)?;
    let (out, name): (Box<dyn Write + Send>, String) = match &opts.output {
        Some(p) => {
            let f = File::create(p).map_err(|e| LiveError::Output(p.display().to_string(), e))?;
            (Box::new(BufWriter::new(f)), p.display().to_string())
        }
        None => (Box::new(io::stdout()), "stdout".into()),
    };
    let mut src = Source::open(&opts.scope)?;
    if opts.probe_stats {
        src.enable_probe_stats()?;
    }
    // This line also tells scripts (and the tests) that the probes are attached.
    eprintln!(
        "spawnprof: recording {}; Ctrl-C or SIGTERM stops and prints the summary",
        opts.scope.describe()
    );
    let mut sink = Sink {
        writer: RecordWriter::new(out, opts.format),
        name,
        agg: Agg::new(SUMMARY_PROGRAMS),
        window: GroupStats::default(),
        window_records: 0,
        records: 0,
    };
    let start = Instant::now();
    let end = opts.duration.map(|d| start + d);
    let mut pacer = Pacer::new();
    let mut interval = opts.interval.map(Every::new);
    let mut epoch = Every::new(LABEL_EPOCH);
    let mut last_line = Instant::now();
    while end.is_none_or(|e| Instant::now() < e) {
        let wake = pacer
            .wait(&mut src, &mut stop, std::future::pending())
            .await?;
        if wake == Wake::Stop {
            break;
        }
        sink.take(src.poll())?;
        if interval.as_mut().is_some_and(Every::due) {
            let h = src.health();
            eprintln!(
                "spawnprof: {}",
                interval_line(
                    start.elapsed().as_secs_f64(),
                    last_line.elapsed().as_secs_f64(),
                    &sink.window,
                    sink.window_records,
                    sink.records,
                    &h
                )
            );
            sink.window = GroupStats::default();
            sink.window_records = 0;
            last_line = Instant::now();
        }
        if epoch.due() {
            sink.agg.rotate();
        }
    }
    // No spawn counted from here on has to come out: the balance of spawns is then exact.
    src.stop_counting_spawns();
    // Let the events of spawns that ended just now reach the ring buffer (a grace period of
    // the kind a tracer needs, not a synchronisation: nothing waits on it).
    tokio::time::sleep(TICK).await;
    sink.take(src.poll())?;
    sink.take(src.finish())?;
    let health = src.health();
    eprintln!("{}", summary(&sink.agg, &health, "program"));
    if opts.probe_stats {
        let costs = src.probe_costs();
        eprintln!(
            "{}",
            spawn_analysis::report::probe_cost::render(&costs, sink.records as usize)
        );
    }
    Ok(RecordOutcome {
        records: sink.records,
        health,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn output_format_from_flag_or_name() {
        assert_eq!(format_for(Some(Path::new("a.jsonl")), false), Format::Json);
        assert_eq!(format_for(Some(Path::new("a.CSV")), false), Format::Csv);
        assert_eq!(format_for(None, true), Format::Csv);
        assert_eq!(format_for(None, false), Format::Json);
    }
}
