//! PNG charts of a backtest [`Report`]: equity and inventory over time, and
//! the markout curve by side.
//!
//! Text needs a TrueType font, registered from the first of [`FONT_PATHS`]
//! found; without one the charts are drawn without labels (the functions
//! say which).
//!
//! Contract: off the hot path; allocates and writes files.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::report::Report;

/// Fonts tried for labels.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a font for plotters' text once per process; whether one was found.
pub fn register_font() -> bool {
    use std::sync::OnceLock;
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        for p in FONT_PATHS {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08)
        .max(hi.abs().max(lo.abs()) * 1e-6)
        .max(1e-12);
    (lo - pad, hi + pad)
}

/// Writes `equity.png` and `markouts.png` into `dir`; returns their paths.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let eq = dir.join("equity.png");
    equity(report, &eq)?;
    let mk = dir.join("markouts.png");
    markouts(report, &mk)?;
    Ok(vec![eq, mk])
}

/// Equity (top) and position (bottom) over time.
pub fn equity(report: &Report, path: &Path) -> Result<(), String> {
    let text = register_font();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::new(path, (1100, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, bottom) = root.split_vertically(380);
    let t_max = report.path.last().map(|p| p.t_s).unwrap_or(1.0).max(1e-9);
    let equity: Vec<(f64, f64)> = report.path.iter().map(|p| (p.t_s, p.equity)).collect();
    let position: Vec<(f64, f64)> = report.path.iter().map(|p| (p.t_s, p.position)).collect();
    let title = |what: &str| format!("{} backtest: {what}", report.symbol);
    panel(
        &top,
        text,
        &title("net equity (quote)"),
        "net equity (quote)",
        t_max,
        &equity,
        BLUE,
    )?;
    panel(
        &bottom,
        text,
        &title("position (base)"),
        "position (base)",
        t_max,
        &position,
        RED,
    )?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// One time series in its own panel.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    text: bool,
    caption: &str,
    label: &str,
    t_max: f64,
    points: &[(f64, f64)],
    color: RGBColor,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (lo, hi) = span(points.iter().map(|p| p.1));
    let mut b = ChartBuilder::on(area);
    b.margin(12);
    if text {
        b.caption(caption, ("sans-serif", 16))
            .x_label_area_size(35)
            .y_label_area_size(80);
    }
    let mut chart = b
        .build_cartesian_2d(0.0..t_max, lo..hi)
        .map_err(|e| err(&e))?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc("time (s)").y_desc(label);
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(1),
        ))
        .map_err(|e| err(&e))?;
    Ok(())
}

/// Mean markout (bps) against the horizon, buys and sells.
pub fn markouts(report: &Report, path: &Path) -> Result<(), String> {
    let text = register_font();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let c = &report.markout_curve;
    let (lo, hi) = span(c.iter().flat_map(|m| [m.buy_bps, m.sell_bps, 0.0]));
    let x_max = c.last().map(|m| m.horizon_s).unwrap_or(1.0).max(1e-9);
    let mut b = ChartBuilder::on(&root);
    b.margin(15);
    if text {
        b.caption(
            format!("{} backtest: markouts of our fills", report.symbol),
            ("sans-serif", 16),
        )
        .x_label_area_size(40)
        .y_label_area_size(70);
    }
    let mut chart = b
        .build_cartesian_2d(0.0..x_max, lo..hi)
        .map_err(|e| err(&e))?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc("horizon (s)")
            .y_desc("mean markout (bps, + = in our favour)");
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (x_max, 0.0)], BLACK.mix(0.4)))
        .map_err(|e| err(&e))?;
    for (name, color, pick) in [
        (
            "buys",
            GREEN,
            (|m: &super::report::Markout| (m.buy_n, m.buy_bps)) as fn(&_) -> _,
        ),
        ("sells", RED, |m: &super::report::Markout| {
            (m.sell_n, m.sell_bps)
        }),
    ] {
        let pts: Vec<(f64, f64)> = c
            .iter()
            .filter(|m| pick(m).0 > 0)
            .map(|m| (m.horizon_s, pick(m).1))
            .collect();
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| err(&e))?;
        let s = chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?;
        if text {
            s.label(name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
