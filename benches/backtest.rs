//! Figures protected: `backtest_throughput/*` — market events replayed per
//! second, single thread, by a whole backtest (the engine's analytics,
//! strategy and order manager plus the simulated exchange) over the real
//! recordings in `../shared/data`; target ≥ 2 M events/s. And
//! `tape_load/*` — the same recordings read, gunzipped and decoded into a
//! tape (done once per file, shared by every run of a sweep).
//!
//! Each bench checks its answer before timing (the backtest fills orders
//! and replays every event).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gapmm::backtest;
use gapmm::commands::backtest::from_flags;

fn data(name: &str) -> PathBuf {
    let base = std::env::var_os("GAPMM_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    base.join("data").join(name)
}

/// (bench name, file, tick, qty step, quote size, position limit)
const CASES: [(&str, &str, &str, &str, &str, &str); 2] = [
    (
        "nexousdt_24h",
        "NEXOUSDT-spot-2024-07-23T15_to_07-24T16.bybit.gz",
        "0.001",
        "0.01",
        "10",
        "100",
    ),
    (
        "btcusdt_11min",
        "BTCUSDT-spot-2024-08-08T2354_to_08-09T0005.bybit.gz",
        "0.01",
        "0.00001",
        "0.001",
        "0.01",
    ),
];

fn flags<'a>(path: &'a str, c: &'a (&str, &str, &str, &str, &str, &str)) -> Vec<&'a str> {
    vec![
        "--replay",
        path,
        "--tick-size",
        c.2,
        "--qty-step",
        c.3,
        "--min-order-size",
        c.4,
        "--max-position",
        c.5,
    ]
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("backtest_throughput");
    for case in &CASES {
        let path = data(case.1);
        let path = path.to_str().expect("utf-8 path");
        let (tape, cfg) = from_flags(&flags(path, case)).expect("backtest settings");
        let r = backtest::run(&tape, &cfg).expect("backtest runs");
        assert_eq!(r.events as usize, tape.events().len());
        assert!(r.fills.0 + r.fills.1 > 0, "{}: no fills", case.0);
        g.throughput(Throughput::Elements(tape.events().len() as u64));
        g.bench_function(case.0, |b| {
            b.iter(|| black_box(backtest::run(black_box(&tape), &cfg).map(|r| r.net)))
        });
    }
    g.finish();
}

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("tape_load");
    g.sample_size(10);
    for case in &CASES {
        let path = data(case.1);
        let path = path.to_str().expect("utf-8 path");
        let f = flags(path, case);
        let (tape, _) = from_flags(&f).expect("loads");
        g.throughput(Throughput::Elements(tape.events().len() as u64));
        g.bench_function(case.0, |b| {
            b.iter(|| black_box(from_flags(&f).map(|t| t.0.events().len())))
        });
    }
    g.finish();
}

criterion_group!(benches, throughput, load);
criterion_main!(benches);
