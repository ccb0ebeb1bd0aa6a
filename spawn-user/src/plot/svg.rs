//! Drawing [`Bar`]s as horizontal stacked bars in SVG (plotters, no font files: text is left
//! to the SVG viewer, sizes are estimated).
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Bar, FAULT_SIDES, LEAVES};

/// One colour per leaf phase: kernel-side copy in reds, exec in blues, user space in greens,
/// so that the eye groups them the way the phase model does.
const LEAF_COLORS: [RGBColor; LEAVES.len()] = [
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

/// Human name of a leaf for legends.
fn leaf_name(leaf: &str) -> String {
    leaf.replacen('_', ": ", 1)
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow::anyhow!("drawing: {e:?}")
}

/// Stacked phase medians, one bar per group, with a tick at each group's median total.
pub fn phase_bars(path: &Path, title: &str, bars: &[Bar]) -> anyhow::Result<()> {
    let segments: Vec<Vec<f64>> = bars.iter().map(|b| b.leaves.to_vec()).collect();
    let totals: Vec<f64> = bars.iter().map(|b| b.total).collect();
    let names: Vec<String> = LEAVES.iter().map(|l| leaf_name(l)).collect();
    stacked(
        path,
        title,
        "median time per spawn (µs); black tick: median total",
        bars,
        &segments,
        &names,
        &LEAF_COLORS,
        Some(&totals),
    )
}

/// Stacked fault-time medians per side, one bar per group.
pub fn fault_bars(path: &Path, title: &str, bars: &[Bar]) -> anyhow::Result<()> {
    let segments: Vec<Vec<f64>> = bars.iter().map(|b| b.fault_ns.to_vec()).collect();
    let names: Vec<String> = FAULT_SIDES.iter().map(|s| s.to_string()).collect();
    stacked(
        path,
        title,
        "median page-fault time per spawn (µs)",
        bars,
        &segments,
        &names,
        &SIDE_COLORS,
        None,
    )
}

#[allow(clippy::too_many_arguments)]
fn stacked(
    path: &Path,
    title: &str,
    x_desc: &str,
    bars: &[Bar],
    segments: &[Vec<f64>],
    names: &[String],
    colors: &[RGBColor],
    ticks: Option<&[f64]>,
) -> anyhow::Result<()> {
    let n = bars.len().max(1);
    let height = 160 + 34 * n as u32;
    let root = SVGBackend::new(path, (1000, height.max(360))).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let (chart_area, legend_area) = root.split_horizontally(800);
    // µs on the axis: spawn phases are tens of µs to tens of ms.
    let widest = segments
        .iter()
        .map(|s| s.iter().sum::<f64>())
        .chain(ticks.unwrap_or(&[]).iter().copied())
        .fold(0.0, f64::max)
        / 1e3;
    let x_max = if widest > 0.0 { widest * 1.08 } else { 1.0 };
    let label_width = bars
        .iter()
        .map(|b| b.label.chars().count() + 8)
        .max()
        .unwrap_or(8)
        .clamp(10, 40) as u32
        * 7;
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(label_width)
        // 0..n-1 segmented has exactly n slots (0..n would add an empty one); a single bar
        // needs a non-empty range, so it gets an empty slot above it.
        .build_cartesian_2d(0f64..x_max, (0..(n - 1).max(1)).into_segmented())
        .map_err(draw_err)?;
    let labels: Vec<String> = bars
        .iter()
        .map(|b| format!("{} (n={})", b.label, b.n))
        .collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&|v| {
            if v.abs() >= 10.0 || *v == v.round() {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        })
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            // The first bar at the top: slot n-1 shows bar 0.
            SegmentValue::CenterOf(i) => (n - 1)
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
            let x1 = x0 + v / 1e3;
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
        if let Some(t) = ticks.and_then(|t| t.get(bar)) {
            let x = t / 1e3;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, SegmentValue::Exact(i)), (x, SegmentValue::Exact(i + 1))],
                    BLACK.stroke_width(3),
                )))
                .map_err(draw_err)?;
        }
    }
    legend(&legend_area, names, colors)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

/// The legend as its own column: plotters' in-chart legend would cover bars.
fn legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    names: &[String],
    colors: &[RGBColor],
) -> anyhow::Result<()> {
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
