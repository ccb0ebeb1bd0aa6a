//! The experiments' own charts (SVG, plotters): lines over a categorical x axis with p10–p90
//! whiskers, and grouped bars with interval whiskers. Phase bars come from `spawnprof report`.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

const COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(255, 187, 120),
];

pub fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// A value with its whisker ends (p10/p90 or a confidence interval), in display units.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub x: usize,
    pub mid: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Point {
    /// A summary's median with its p10–p90 whiskers, divided by `scale` (e.g. 1e3 for µs).
    pub fn spread(x: usize, s: &spawn_analysis::stats::Summary, scale: f64) -> Point {
        Point {
            x,
            mid: s.median / scale,
            lo: s.p10 / scale,
            hi: s.p90 / scale,
        }
    }

    /// An interval's point and bounds (NaN, so not drawn, without one).
    pub fn interval(x: usize, ci: Option<spawn_analysis::stats::Interval>) -> Point {
        Point {
            x,
            mid: ci.map_or(f64::NAN, |c| c.point),
            lo: ci.map_or(f64::NAN, |c| c.low),
            hi: ci.map_or(f64::NAN, |c| c.high),
        }
    }

    /// A value without whiskers.
    pub fn exact(x: usize, v: f64) -> Point {
        Point {
            x,
            mid: v,
            lo: v,
            hi: v,
        }
    }
}

pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub x_labels: &'a [String],
    pub log_y: bool,
}

/// Axis numbers without useless decimals: 0.5, 12, 1500, 10000.
fn num(v: f64) -> String {
    if v.abs() >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow!("drawing: {e:?}")
}

/// The y range covering every whisker; on a log axis, whole decades so ticks read well.
fn y_range(series: &[Series], log: bool) -> (f64, f64) {
    let vals = series
        .iter()
        .flat_map(|s| s.points.iter())
        .flat_map(|p| [p.lo, p.mid, p.hi])
        .filter(|v| v.is_finite() && (!log || *v > 0.0));
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return (1.0, 10.0);
    }
    if log {
        (
            10f64.powf(lo.log10().floor()),
            10f64.powf(hi.log10().ceil()).max(lo * 10.0),
        )
    } else {
        // Room below negative values (a loss) and above the highest whisker.
        let span = (hi - lo.min(0.0)).max(f64::EPSILON);
        (
            if lo < 0.0 { lo - 0.08 * span } else { 0.0 },
            hi + 0.1 * span,
        )
    }
}

/// The title, margins and label areas every chart shares.
fn chart_builder<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    c: &Chart<'_>,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(area);
    b.caption(c.title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(78);
    b
}

/// Axis descriptions, number format and fonts every chart shares, then draws the mesh.
fn draw_mesh<X, Y>(mesh: &mut MeshStyle<'_, '_, X, Y, SVGBackend<'_>>, c: &Chart<'_>) -> Result<()>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    fn y_label(v: &f64) -> String {
        num(*v)
    }
    mesh.x_desc(c.x_desc)
        .y_desc(c.y_desc)
        .y_label_formatter(&y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)
}

/// Lines with markers and p10–p90 whiskers, one per series.
pub fn lines(path: &Path, c: &Chart<'_>, series: &[Series]) -> Result<()> {
    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (area, legend_area) = root.split_horizontally(790);
    let n = c.x_labels.len().max(1);
    let (ylo, yhi) = y_range(series, c.log_y);
    let labels = c.x_labels;
    let x_fmt = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let mut builder = chart_builder(&area, c);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            draw_mesh(
                chart.configure_mesh().x_labels(n).x_label_formatter(&x_fmt),
                c,
            )?;
            for (i, s) in series.iter().enumerate() {
                let col = color(i);
                let pts: Vec<_> = s
                    .points
                    .iter()
                    .filter(|p| p.mid.is_finite() && (!c.log_y || p.mid > 0.0))
                    .collect();
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().map(|p| (SegmentValue::CenterOf(p.x), p.mid)),
                        col.stroke_width(2),
                    ))
                    .map_err(err)?;
                chart
                    .draw_series(pts.iter().map(|p| {
                        Circle::new((SegmentValue::CenterOf(p.x), p.mid), 4, col.filled())
                    }))
                    .map_err(err)?;
                chart
                    .draw_series(pts.iter().filter(|p| p.lo > 0.0 || !c.log_y).map(|p| {
                        ErrorBar::new_vertical(
                            SegmentValue::CenterOf(p.x),
                            p.lo,
                            p.mid,
                            p.hi,
                            col.stroke_width(1),
                            8,
                        )
                    }))
                    .map_err(err)?;
            }
        }};
    }
    if c.log_y {
        draw!(
            builder
                .build_cartesian_2d((0..(n - 1).max(1)).into_segmented(), (ylo..yhi).log_scale())
                .map_err(err)?
        );
    } else {
        draw!(
            builder
                .build_cartesian_2d((0..(n - 1).max(1)).into_segmented(), ylo..yhi)
                .map_err(err)?
        );
    }
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    legend(&legend_area, &names)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Grouped vertical bars: one group per category, one bar per series, whiskers lo..hi.
pub fn bars(path: &Path, c: &Chart<'_>, series: &[Series]) -> Result<()> {
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (area, legend_area) = root.split_horizontally(790);
    let n = c.x_labels.len().max(1);
    let (_, yhi) = y_range(series, false);
    let labels = c.x_labels;
    let mut chart = chart_builder(&area, c)
        .build_cartesian_2d(0f64..n as f64, 0f64..yhi)
        .map_err(err)?;
    // Labels at the group centres (x.5) only.
    let x_fmt = |v: &f64| {
        let i = v.floor() as usize;
        if (v - v.floor() - 0.5).abs() < 1e-6 {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    draw_mesh(
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&x_fmt),
        c,
    )?;
    let k = series.len().max(1) as f64;
    let width = 0.8 / k;
    for (si, s) in series.iter().enumerate() {
        let col = color(si);
        for p in &s.points {
            let x0 = p.x as f64 + 0.1 + width * si as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.92, p.mid)],
                    col.filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(ErrorBar::new_vertical(
                    x0 + width * 0.46,
                    p.lo,
                    p.mid,
                    p.hi,
                    BLACK.stroke_width(1),
                    6,
                )))
                .map_err(err)?;
        }
    }
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    legend(&legend_area, &names)?;
    root.present().map_err(err)?;
    Ok(())
}

/// A legend column beside the chart, so that it never hides data.
fn legend(area: &DrawingArea<SVGBackend<'_>, Shift>, names: &[&str]) -> Result<()> {
    let style = ("sans-serif", 15).into_font();
    for (i, name) in names.iter().enumerate() {
        let y = 60 + 26 * i as i32;
        area.draw(&Rectangle::new([(8, y), (28, y + 14)], color(i).filled()))
            .map_err(err)?;
        area.draw(&Text::new(name.to_string(), (36, y), style.clone()))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_range_is_whole_decades() {
        let s = [Series {
            name: "a".into(),
            points: vec![Point {
                x: 0,
                mid: 150.0,
                lo: 120.0,
                hi: 4200.0,
            }],
        }];
        assert_eq!(y_range(&s, true), (100.0, 10_000.0));
        assert_eq!(y_range(&[], true), (1.0, 10.0));
    }

    #[test]
    fn writes_svg_files() {
        let dir = std::env::temp_dir().join(format!("xtask-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let labels = vec!["0".to_string(), "1 GiB".to_string()];
        let series = vec![Series {
            name: "fork".into(),
            points: vec![
                Point {
                    x: 0,
                    mid: 300.0,
                    lo: 250.0,
                    hi: 400.0,
                },
                Point {
                    x: 1,
                    mid: 40_000.0,
                    lo: 35_000.0,
                    hi: 45_000.0,
                },
            ],
        }];
        let chart = Chart {
            title: "t",
            x_desc: "parent size",
            y_desc: "µs",
            x_labels: &labels,
            log_y: true,
        };
        lines(&dir.join("l.svg"), &chart, &series).expect("lines");
        bars(
            &dir.join("b.svg"),
            &Chart {
                log_y: false,
                ..chart
            },
            &series,
        )
        .expect("bars");
        let svg = std::fs::read_to_string(dir.join("l.svg")).expect("read");
        assert!(svg.contains("1 GiB") && svg.contains("fork") && svg.contains("parent size"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
