//! Drawing [`Bar`]s as horizontal stacked bars in SVG (plotters, no font files: text is left
//! to the SVG viewer, sizes are estimated).
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::files::PlotError;
use super::{Bar, FAULT_SIDES, LEAVES};
use crate::phase::Phase;

/// One colour per leaf phase: kernel-side copy in reds, exec in blues, user space in greens,
/// so that the eye groups them the way the phase model does.
pub(crate) const LEAF_COLORS: [RGBColor; LEAVES.len()] = [
    RGBColor(190, 190, 190), // prep
    RGBColor(214, 39, 40),   // copy
    RGBColor(255, 152, 150), // queue
    RGBColor(255, 127, 14),  // setup
    RGBColor(140, 86, 75),   // exec_retry
    RGBColor(31, 119, 180),  // exec_open
    RGBColor(23, 190, 207),  // exec_teardown
    RGBColor(148, 103, 189), // exec_load
    RGBColor(174, 199, 232), // exec_finish
    RGBColor(44, 160, 44),   // startup_loader
    RGBColor(152, 223, 138), // startup_init
    RGBColor(188, 189, 34),  // run
    RGBColor(127, 127, 127), // reap
];

const SIDE_COLORS: [RGBColor; 3] = [
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
];

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Draw(format!("{e:?}"))
}

/// The unit an axis that reads up to `max_ns` is labelled in, and its size in ns.
pub(crate) fn axis_unit(max_ns: f64) -> (f64, &'static str) {
    if max_ns >= 2e9 {
        (1e9, "s")
    } else if max_ns >= 2e6 {
        (1e6, "ms")
    } else {
        (1e3, "µs")
    }
}

/// The spawn phases first: stacked medians of every phase but `run`, one bar per group, with
/// a tick at each group's median spawn overhead; `run`, the program's own time, in a column
/// of its own with its own scale, so that a long-running program does not squash the
/// phases this report is about into slivers.
pub fn phase_bars(path: &Path, title: &str, bars: &[Bar]) -> Result<(), PlotError> {
    let run = LEAVES.iter().position(|&l| l == Phase::Run).unwrap_or(0);
    let only = |keep_run: bool| -> Vec<Vec<f64>> {
        bars.iter()
            .map(|b| {
                let mut v = b.leaves.to_vec();
                v.iter_mut()
                    .enumerate()
                    .filter(|(i, _)| (*i == run) != keep_run)
                    .for_each(|(_, x)| *x = 0.0);
                v
            })
            .collect()
    };
    let ticks: Vec<f64> = bars.iter().map(|b| b.overhead).collect();
    let names: Vec<String> = LEAVES.iter().map(|l| l.label()).collect();
    let root = SVGBackend::new(path, (1200, height(bars))).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let (left, legend_area) = root.split_horizontally(1000);
    let (phases_area, run_area) = left.split_horizontally(760);
    let spawn = Stacked {
        caption: title,
        x_desc: "spawn overhead (median per phase; tick: median overhead)",
        bars,
        segments: &only(false),
        colors: &LEAF_COLORS,
        ticks: Some(&ticks),
        labels: true,
    };
    spawn.draw(&phases_area)?;
    Stacked {
        caption: Phase::Run.name(),
        x_desc: "median run (the program itself)",
        segments: &only(true),
        ticks: None,
        labels: false,
        ..spawn
    }
    .draw(&run_area)?;
    legend(&legend_area, &names, &LEAF_COLORS)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

/// Stacked fault-time medians per side, one bar per group.
pub fn fault_bars(path: &Path, title: &str, bars: &[Bar]) -> Result<(), PlotError> {
    let segments: Vec<Vec<f64>> = bars.iter().map(|b| b.fault_ns.to_vec()).collect();
    let names: Vec<String> = FAULT_SIDES.iter().map(|s| s.to_string()).collect();
    let root = SVGBackend::new(path, (1000, height(bars))).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let (chart_area, legend_area) = root.split_horizontally(800);
    Stacked {
        caption: title,
        x_desc: "median page-fault time per spawn",
        bars,
        segments: &segments,
        colors: &SIDE_COLORS,
        ticks: None,
        labels: true,
    }
    .draw(&chart_area)?;
    legend(&legend_area, &names, &SIDE_COLORS)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

fn height(bars: &[Bar]) -> u32 {
    (160 + 34 * bars.len().max(1) as u32).max(360)
}

/// One chart of horizontal stacked bars (ns values), labelled in a human unit.
#[derive(Clone, Copy)]
struct Stacked<'a> {
    caption: &'a str,
    x_desc: &'a str,
    bars: &'a [Bar],
    segments: &'a [Vec<f64>],
    colors: &'a [RGBColor],
    ticks: Option<&'a [f64]>,
    /// Group names on the y axis (off for a column beside a chart that has them).
    labels: bool,
}

impl Stacked<'_> {
    fn draw(&self, area: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), PlotError> {
        let (bars, segments, colors) = (self.bars, self.segments, self.colors);
        let n = bars.len().max(1);
        let widest = segments
            .iter()
            .map(|s| s.iter().sum::<f64>())
            .chain(self.ticks.unwrap_or(&[]).iter().copied())
            .fold(0.0, f64::max);
        let (div, unit) = axis_unit(widest);
        let x_max = if widest > 0.0 {
            widest / div * 1.08
        } else {
            1.0
        };
        let label_width = if self.labels {
            bars.iter()
                .map(|b| b.label.chars().count() + 8)
                .max()
                .unwrap_or(8)
                .clamp(10, 40) as u32
                * 7
        } else {
            8
        };
        let mut chart = ChartBuilder::on(area)
            .caption(self.caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(label_width)
            // 0..n-1 segmented has exactly n slots (0..n would add an empty one); a single
            // bar needs a non-empty range, so it gets an empty slot above it.
            .build_cartesian_2d(0f64..x_max, (0..(n - 1).max(1)).into_segmented())
            .map_err(draw_err)?;
        let labels: Vec<String> = bars
            .iter()
            .map(|b| format!("{} (n={})", b.label, b.n))
            .collect();
        let show = self.labels;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(self.x_desc)
            .x_labels(if show { 8 } else { 4 })
            .x_label_formatter(&|v| {
                let v = if v.abs() >= 10.0 || *v == v.round() {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                };
                if v == "0" { v } else { format!("{v}{unit}") }
            })
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                // The first bar at the top: slot n-1 shows bar 0.
                SegmentValue::CenterOf(i) if show => (n - 1)
                    .checked_sub(*i)
                    .and_then(|k| labels.get(k))
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(draw_err)?;
        for (bar, segs) in segments.iter().enumerate() {
            let i = n - 1 - bar;
            let mut x0 = 0.0;
            for (j, v) in segs.iter().enumerate() {
                let x1 = x0 + v / div;
                if *v > 0.0 {
                    let rect = Rectangle::new(
                        [
                            (x0, SegmentValue::Exact(i)),
                            (x1, SegmentValue::Exact(i + 1)),
                        ],
                        colors[j % colors.len()].filled(),
                    );
                    chart.draw_series(std::iter::once(rect)).map_err(draw_err)?;
                }
                x0 = x1;
            }
            if let Some(t) = self.ticks.and_then(|t| t.get(bar)) {
                let x = t / div;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, SegmentValue::Exact(i)), (x, SegmentValue::Exact(i + 1))],
                        BLACK.stroke_width(3),
                    )))
                    .map_err(draw_err)?;
            }
        }
        Ok(())
    }
}

/// The legend as its own column: plotters' in-chart legend would cover bars.
fn legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    names: &[String],
    colors: &[RGBColor],
) -> Result<(), PlotError> {
    let style = ("sans-serif", 14).into_font();
    for (i, name) in names.iter().enumerate() {
        let y = 50 + 24 * i as i32;
        area.draw(&Rectangle::new(
            [(8, y), (26, y + 14)],
            colors[i % colors.len()].filled(),
        ))
        .map_err(draw_err)?;
        area.draw(&Text::new(name.clone(), (34, y), style.clone()))
            .map_err(draw_err)?;
    }
    Ok(())
}
