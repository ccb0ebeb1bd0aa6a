//! `spawnprof compare` output: the terminal table, the markdown summary and the SVG plots
//! (per-run wall time, which shows drift, and phase medians side by side).

use std::{fmt::Write as _, fs, io, ops::Range, path::Path};

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::CompareReport;
use crate::phase::Phase;
use crate::stats;

/// ns in the unit a person reads: ns, µs, ms or s.
pub fn human_ns(ns: f64) -> String {
    let a = ns.abs();
    if a >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if a >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if a >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// The report as text: the setup, one line per command, the phase table, the verdicts and
/// any warnings.
pub fn text(r: &CompareReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} runs; each run: {} warm-up + {} timed spawns per command, commands in random order, \
         then one traced run each for the phases (seed {})",
        r.runs, r.warmup, r.spawns_per_run, r.seed
    );
    for (i, c) in r.commands.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {}  {:<40} wall {:>10} (median of per-run medians)",
            letter(i),
            c.command,
            human_ns(c.wall_ns)
        );
    }
    let names = phase_names(r);
    if !names.is_empty() {
        let _ = write!(s, "\n  {:<16}", "phase");
        for i in 0..r.commands.len() {
            let _ = write!(s, " {:>11}", letter(i));
        }
        let _ = writeln!(s);
        for name in &names {
            let _ = write!(s, "  {:<16}", name.name());
            for c in &r.commands {
                let v = c.phases_ns.get(name).map_or("-".into(), |v| human_ns(*v));
                let _ = write!(s, " {v:>11}");
            }
            let _ = writeln!(s);
        }
    }
    let _ = writeln!(s);
    for c in &r.comparisons {
        let _ = writeln!(
            s,
            "ratio wall(A)/wall({}): {:.2} [{:.2}, {:.2}] ({:.1}% order-statistic interval over {} paired runs; at least {} runs are needed)",
            c.b,
            c.ratio,
            c.ci[0],
            c.ci[1],
            c.ci_coverage * 100.0,
            r.runs,
            stats::MIN_RUNS
        );
        let _ = writeln!(s, "verdict: {}", c.verdict);
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

fn letter(i: usize) -> char {
    (b'A' + (i % 26) as u8) as char
}

/// Phases seen in any command, in time order (main phases, each followed by its sub-phases).
fn phase_names(r: &CompareReport) -> Vec<Phase> {
    let mut names: Vec<Phase> = r
        .commands
        .iter()
        .flat_map(|c| c.phases_ns.keys().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Writes summary.md, wall_runs.svg and phases.svg into `dir`.
pub fn write_dir(r: &CompareReport, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut md = String::from("# spawnprof compare\n\n```text\n");
    md.push_str(&text(r));
    md.push_str("```\n\n![wall time per run](wall_runs.svg)\n\n![phases](phases.svg)\n");
    fs::write(dir.join("summary.md"), md)?;
    wall_plot(r, &dir.join("wall_runs.svg")).map_err(|e| io::Error::other(e.to_string()))?;
    phase_plot(r, &dir.join("phases.svg")).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(())
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// A chart of the compare plots: `f64` run or phase slots against ns.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A 900x480 SVG chart at `path` over `x` and 0 to the largest of `ys` plus 10% (at least
/// 1): `draw` adds the mesh and the series, then the legend is drawn and the file written.
fn svg_chart(
    path: &Path,
    caption: &str,
    x_label_area: u32,
    x: Range<f64>,
    ys: impl Iterator<Item = f64>,
    draw: impl FnOnce(&mut Chart<'_, '_>) -> PlotResult,
) -> PlotResult {
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = ys.fold(0.0f64, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(x_label_area)
        .y_label_area_size(80)
        .build_cartesian_2d(x, 0.0..max.max(1.0))?;
    draw(&mut chart)?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Per-run median wall time of each command against run number: drift and outliers show.
fn wall_plot(r: &CompareReport, path: &Path) -> PlotResult {
    let ys = r
        .commands
        .iter()
        .flat_map(|c| c.wall_ns_runs.iter().copied());
    let caption = "wall time per run (median of the run's spawns)";
    let x = 0.5f64..r.runs as f64 + 0.5;
    svg_chart(path, caption, 36, x, ys, |chart| {
        chart
            .configure_mesh()
            .x_desc("run")
            .y_label_formatter(&|v| human_ns(*v))
            .draw()?;
        for (i, c) in r.commands.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = c
                .wall_ns_runs
                .iter()
                .enumerate()
                .map(|(k, v)| (k as f64 + 1.0, *v))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(format!("{} {}", letter(i), c.command))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
        Ok(())
    })
}

/// Phase medians, one bar per command per phase.
fn phase_plot(r: &CompareReport, path: &Path) -> PlotResult {
    let names = phase_names(r);
    let n = r.commands.len().max(1);
    let ys = r
        .commands
        .iter()
        .flat_map(|c| c.phases_ns.values().copied());
    let x = 0.0f64..names.len().max(1) as f64;
    svg_chart(path, "phase medians (traced runs)", 60, x, ys, |chart| {
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(names.len().max(1) * 2)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor() - 0.5).abs() < 0.26 {
                    names.get(i).map(|p| p.to_string()).unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| human_ns(*v))
            .draw()?;
        for (i, c) in r.commands.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let w = 0.8 / n as f64;
            chart
                .draw_series(names.iter().enumerate().filter_map(|(k, name)| {
                    let v = *c.phases_ns.get(name)?;
                    let x0 = k as f64 + 0.1 + w * i as f64;
                    Some(Rectangle::new([(x0, 0.0), (x0 + w, v)], color.filled()))
                }))?
                .label(format!("{} {}", letter(i), c.command))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Design, Measured, analyse};
    use super::*;

    #[test]
    fn write_dir_writes_the_summary_and_both_plots() {
        let m = |base: f64| Measured {
            wall_runs: (0..5).map(|i| base + 1e3 * i as f64).collect(),
            phase_runs: [
                (Phase::Copy, vec![20e3; 5]),
                (Phase::Exec, vec![base / 2.0; 5]),
            ]
            .into_iter()
            .collect(),
            order: vec![0; 5],
            failed_spawns: 0,
        };
        let design = Design {
            labels: vec!["/bin/true".into(), "/tmp/static".into()],
            runs: 5,
            warmup: 0,
            spawns: 1,
            seed: 1,
        };
        let r = analyse(&design, &[m(800e3), m(200e3)]);
        let dir = std::env::temp_dir().join(format!("spawnprof-render-{}", std::process::id()));
        write_dir(&r, &dir).unwrap();
        let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap();
        assert!(read("summary.md").contains("![phases](phases.svg)"));
        let wall = read("wall_runs.svg");
        assert!(wall.contains("wall time per run") && wall.contains("B /tmp/static"));
        let phases = read("phases.svg");
        assert!(phases.contains("phase medians") && phases.contains("A /bin/true"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn human_units() {
        assert_eq!(human_ns(512.0), "512 ns");
        assert_eq!(human_ns(1500.0), "1.5 µs");
        assert_eq!(human_ns(2.5e6), "2.50 ms");
        assert_eq!(human_ns(-3e9), "-3.00 s");
    }
}
