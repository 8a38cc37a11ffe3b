//! gapmm-compare: the pieces of the side-by-side latency comparison that are worth testing on their
//! own — percentile rows from a histogram, the CSV writer, the text table, round statistics and the
//! percentile plot.
//!
//! Contract: off the hot path; allocates freely, reads no clock. Histograms are in nanoseconds (the
//! simulator's reaction histograms, see `gapmm::sim::measure`).

#![warn(missing_docs)]

use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::path::Path;

/// CSV header, exactly as documented in BENCHMARKS.md.
pub const CSV_HEADER: &str = "variant,n,p50_ns,p90_ns,p99_ns,p999_ns,max_ns";

/// One variant's percentiles in nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Variant label.
    pub variant: String,
    /// Number of samples.
    pub n: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample.
    pub max: u64,
}

impl Row {
    /// Percentiles of `h` (HdrHistogram's `value_at_quantile`, i.e. the highest-equivalent value of
    /// the bucket holding that quantile).
    pub fn from_hist(variant: &str, h: &Histogram<u64>) -> Row {
        Row {
            variant: variant.to_string(),
            n: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The CSV text: [`CSV_HEADER`] and one line per row.
pub fn csv(rows: &[Row]) -> String {
    let mut s = String::from(CSV_HEADER);
    s.push('\n');
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{}",
            r.variant, r.n, r.p50, r.p90, r.p99, r.p999, r.max
        );
    }
    s
}

/// Writes [`csv`] to `path`, creating parent directories.
pub fn write_csv(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, csv(rows))
}

/// Median, minimum and maximum of `v` (the median of an even count is the mean of the middle two);
/// `None` when empty or any value is NaN.
pub fn median_spread(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    let med = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Some((med, s[0], s[n - 1]))
}

/// `a / b` as f64; `None` when `b` is zero.
pub fn ratio(a: u64, b: u64) -> Option<f64> {
    (b != 0).then(|| a as f64 / b as f64)
}

/// Per-row ratio cells: the median over rounds with the min–max spread (or `-`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ratios {
    /// p50 / floor p50, one value per round.
    pub to_floor: Vec<f64>,
    /// p50 / gapmm-hot p50 (same transport), one value per round.
    pub to_hot: Vec<f64>,
}

fn cell(v: &[f64]) -> String {
    match median_spread(v) {
        None => "-".to_string(),
        Some((m, lo, hi)) if v.len() > 1 => format!("{m:.2} ({lo:.2}-{hi:.2})"),
        Some((m, _, _)) => format!("{m:.2}"),
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

/// A Markdown table: variant, n, p50, p90, p99, p99.9, max (µs), then the p50 ratios to the floor
/// and to gapmm-hot (median over rounds, spread in parentheses when there are several rounds).
pub fn table(rows: &[Row], ratios: &[Ratios]) -> String {
    let mut s = String::new();
    s.push_str("| variant | n | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | p50 / floor | p50 / gapmm-hot |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (i, r) in rows.iter().enumerate() {
        let rt = ratios.get(i).cloned().unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.variant,
            r.n,
            us(r.p50),
            us(r.p90),
            us(r.p99),
            us(r.p999),
            us(r.max),
            cell(&rt.to_floor),
            cell(&rt.to_hot)
        );
    }
    s
}

/// Points of a percentile curve à la HdrHistogram: x = 1 / (1 − q) (1 = p0, 10 = p90, 100 = p99,
/// …), y = latency in µs, from q = 0 up to the quantile of the last sample. Empty for an empty
/// histogram.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let n = h.len();
    if n == 0 {
        return Vec::new();
    }
    let x_max = n as f64;
    let mut pts = Vec::new();
    let mut x = 1.0f64;
    while x <= x_max {
        let q = 1.0 - 1.0 / x;
        pts.push((x, h.value_at_quantile(q) as f64 / 1000.0));
        x *= 1.05;
    }
    pts.push((x_max, h.max() as f64 / 1000.0));
    pts
}

/// Fonts tried for labels (plotters' `ab_glyph` needs a TTF registered at run time; with none the
/// plot is drawn without text).
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn register_font() -> bool {
    use std::sync::OnceLock;
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        for p in FONT_PATHS {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(
                    "sans-serif",
                    plotters::style::FontStyle::Normal,
                    bytes,
                )
                .is_ok()
                {
                    return true;
                }
            }
        }
        false
    })
}

/// Draws the percentile curves of `series` (label, histogram in ns) into a PNG at `path`
/// (log x = 1/(1−q), log y = µs). Returns whether text labels could be drawn.
pub fn plot(path: &Path, series: &[(String, Histogram<u64>)]) -> Result<bool, String> {
    use plotters::prelude::*;
    let curves: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(l, h)| (l.as_str(), percentile_curve(h)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if curves.is_empty() {
        return Err("nothing to plot".into());
    }
    let x_max = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .fold(10.0f64, f64::max);
    let y_min = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.1))
        .fold(f64::INFINITY, f64::min)
        .max(0.001)
        * 0.8;
    let y_max = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        * 1.25;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text = register_font();
    let root = BitMapBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut b = ChartBuilder::on(&root);
    b.margin(15);
    if text {
        b.caption(
            "wire-to-wire reaction (market message out -> order request in), gapmm-sim loopback",
            ("sans-serif", 18),
        )
        .x_label_area_size(45)
        .y_label_area_size(70);
    }
    let mut chart = b
        .build_cartesian_2d((1.0f64..x_max).log_scale(), (y_min..y_max).log_scale())
        .map_err(|e| e.to_string())?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc("percentile (x = 1/(1-q): 10 = p90, 100 = p99, 1000 = p99.9)")
            .y_desc("latency (µs)")
            .y_label_formatter(&|y| {
                if *y >= 1.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.2}")
                }
            })
            .x_label_formatter(&|x| {
                let p = 100.0 * (1.0 - 1.0 / x);
                format!("p{p:.3}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            });
    } else {
        mesh.disable_x_mesh().x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| e.to_string())?;
    for (i, (label, c)) in curves.iter().enumerate() {
        let color = Palette99::pick(i).stroke_width(2);
        let s = chart
            .draw_series(LineSeries::new(c.iter().copied(), color))
            .map_err(|e| e.to_string())?;
        if text {
            let color = Palette99::pick(i);
            s.label(label.to_string()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
    }
    if text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(text)
}
