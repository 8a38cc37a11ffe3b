//! The comparison's numbers come out right: percentiles from a known histogram, the exact CSV
//! layout, the Markdown table cells, round statistics and the percentile curve/plot.

use gapmm_compare::{
    csv, median_spread, percentile_curve, plot, ratio, table, write_csv, Ratios, Row, CSV_HEADER,
};
use hdrhistogram::Histogram;

/// 1..=1000 ns, one sample each (values below 2048 are exact at 3 significant digits).
fn uniform() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    for v in 1..=1000 {
        h.record(v).unwrap();
    }
    h
}

#[test]
fn row_percentiles_of_a_known_distribution() {
    let r = Row::from_hist("x", &uniform());
    assert_eq!(
        r,
        Row {
            variant: "x".into(),
            n: 1000,
            p50: 500,
            p90: 900,
            p99: 990,
            p999: 999,
            max: 1000
        }
    );
}

#[test]
fn csv_has_the_documented_columns_and_one_line_per_row() {
    let rows = vec![
        Row::from_hist("floor (echo)", &uniform()),
        Row {
            variant: "b".into(),
            n: 2,
            p50: 17_900,
            p90: 20_000,
            p99: 30_000,
            p999: 40_000,
            max: 50_000,
        },
    ];
    let text = csv(&rows);
    assert_eq!(CSV_HEADER, "variant,n,p50_ns,p90_ns,p99_ns,p999_ns,max_ns");
    assert_eq!(
        text,
        "variant,n,p50_ns,p90_ns,p99_ns,p999_ns,max_ns\n\
         floor (echo),1000,500,900,990,999,1000\n\
         b,2,17900,20000,30000,40000,50000\n"
    );
    let path =
        std::env::temp_dir().join(format!("gapmm-compare-{}/summary.csv", std::process::id()));
    write_csv(&path, &rows).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn table_shows_microseconds_and_ratio_medians_with_spread() {
    let rows = vec![Row {
        variant: "tokio multi ws".into(),
        n: 3,
        p50: 17_900,
        p90: 20_050,
        p99: 31_000,
        p999: 40_000,
        max: 123_456,
    }];
    let ratios = vec![Ratios {
        to_floor: vec![3.0, 1.0, 2.0],
        to_hot: vec![],
    }];
    let t = table(&rows, &ratios);
    let line = t.lines().nth(2).unwrap();
    assert_eq!(
        line,
        "| tokio multi ws | 3 | 17.9 | 20.1 | 31.0 | 40.0 | 123.5 | 2.00 (1.00-3.00) | - |"
    );
    let single = table(
        &rows,
        &[Ratios {
            to_floor: vec![1.5],
            to_hot: vec![0.5],
        }],
    );
    assert!(single.lines().nth(2).unwrap().ends_with("| 1.50 | 0.50 |"));
}

#[test]
fn round_statistics() {
    assert_eq!(median_spread(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
    assert_eq!(median_spread(&[7.0]), Some((7.0, 7.0, 7.0)));
    assert_eq!(median_spread(&[]), None);
    assert_eq!(median_spread(&[1.0, f64::NAN]), None);
    assert_eq!(ratio(30, 10), Some(3.0));
    assert_eq!(ratio(30, 0), None);
}

#[test]
fn percentile_curve_runs_from_min_to_max_and_never_decreases() {
    let h = uniform();
    let c = percentile_curve(&h);
    assert_eq!(c.first().unwrap(), &(1.0, 0.001));
    assert_eq!(c.last().unwrap(), &(1000.0, 1.0));
    assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    // x = 10 is p90.
    let p90 = c.iter().find(|p| p.0 >= 10.0).unwrap();
    assert!((0.89..=0.91).contains(&p90.1), "{p90:?}");
    assert!(percentile_curve(&Histogram::<u64>::new(3).unwrap()).is_empty());
}

#[test]
fn plot_writes_a_png() {
    let path = std::env::temp_dir().join(format!("gapmm-compare-plot-{}.png", std::process::id()));
    plot(&path, &[("a".into(), uniform())]).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let _ = std::fs::remove_file(&path);
    assert!(plot(&path, &[]).is_err());
}
