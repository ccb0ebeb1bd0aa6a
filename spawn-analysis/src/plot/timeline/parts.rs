//! Drawing pieces of the timeline: labels, legend, time axis, escaping.
use std::fmt::Write as _;

use super::{CHART, LABELS, X0};
use crate::phase::Phase;
use crate::plot::LEAVES;
use crate::plot::svg::LEAF_COLORS;

/// The name, indented by depth (capped, so deep rows keep a readable name), cut to fit.
pub(super) fn label(s: &mut String, depth: u32, name: &str, failed: Option<&str>, y: f64) {
    let indent = 10.0 * f64::from(depth.min(16));
    let room = ((LABELS - 12.0 - indent) / 6.2) as usize;
    let mut text = match failed {
        Some(e) if e != "failed" => format!("{name} ✗{e}"),
        _ => name.to_string(),
    };
    if text.chars().count() > room {
        text = text
            .chars()
            .take(room.saturating_sub(1))
            .collect::<String>()
            + "…";
    }
    let color = if failed.is_some() { "#c00000" } else { "#000" };
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" fill="{color}">{}</text>"#,
        8.0 + indent,
        y + 12.0,
        esc(&text)
    );
}

pub(super) fn legend(s: &mut String) {
    let mut lx = 12.0;
    for (i, l) in LEAVES.iter().enumerate() {
        let c = LEAF_COLORS[i];
        let op = if *l == Phase::Run { 0.35 } else { 1.0 };
        let name = l.label();
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="56" width="12" height="12" fill="rgb({},{},{})" fill-opacity="{op}"/><text x="{}" y="66">{}</text>"#,
            c.0,
            c.1,
            c.2,
            lx + 16.0,
            esc(&name)
        );
        lx += 22.0 + 6.4 * name.chars().count() as f64;
    }
}

/// Ticks on a 1-2-5 step in human units, labelled at the top, lines down to `bottom`.
pub(super) fn axis(s: &mut String, span: u64, top: f64, bottom: f64) {
    let raw = span as f64 / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|st| *st >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0);
    let mut t = 0.0;
    while t <= span as f64 {
        let px = X0 + t / span as f64 * CHART;
        let _ = write!(
            s,
            r##"<line x1="{px:.2}" y1="{top}" x2="{px:.2}" y2="{bottom}" stroke="#e0e0e0"/><text x="{px:.2}" y="{}" text-anchor="middle">{}</text><text x="{px:.2}" y="{}" text-anchor="middle">{}</text>"##,
            top - 6.0,
            tick(t as u64, step as u64),
            bottom + 14.0,
            tick(t as u64, step as u64)
        );
        t += step;
    }
}

/// A tick label in a unit that suits the step: "0", "250µs", "1.5ms", "2s".
pub fn tick(ns: u64, step: u64) -> String {
    if ns == 0 {
        return "0".into();
    }
    // The largest unit the step is at least a tenth of: 0.5ms steps read "1.5ms".
    let (div, unit) = match step {
        0..100 => (1.0, "ns"),
        100..100_000 => (1e3, "µs"),
        100_000..100_000_000 => (1e6, "ms"),
        _ => (1e9, "s"),
    };
    let v = ns as f64 / div;
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{unit}")
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
