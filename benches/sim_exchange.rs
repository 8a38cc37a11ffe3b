//! Throughput of the simulator's public feed: synthetic events stepped one at
//! a time and drained as Bybit frames for one orderbook.50 + publicTrade
//! subscriber. The figure it protects: ≥ 50,000 public messages/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gapmm::ids::Category;
use gapmm::sim::exchange::{Exchange, ExchangeConfig, PublicBatch, SymbolConfig};
use gapmm::sim::market::{MarketModel, SyntheticParams};

fn exchange() -> Exchange {
    let mut cfg = ExchangeConfig::standard(
        9,
        MarketModel::Synthetic(SyntheticParams {
            events_per_sec: 0,
            ..Default::default()
        }),
    );
    cfg.symbols = vec![SymbolConfig::btcusdt_linear()];
    let mut ex = Exchange::new(cfg).expect("config");
    ex.open_topic(Category::Linear, "orderbook.50.BTCUSDT")
        .expect("topic");
    ex.open_topic(Category::Linear, "publicTrade.BTCUSDT")
        .expect("topic");
    ex
}

/// Steps until at least one public frame exists; returns frames drained.
#[inline]
fn next_messages(ex: &mut Exchange, batch: &mut PublicBatch, now: u64) -> usize {
    loop {
        ex.step(now, 1);
        ex.drain_public(batch);
        if !batch.is_empty() {
            return batch.len();
        }
    }
}

fn validate() {
    let mut ex = exchange();
    let mut batch = PublicBatch::default();
    let mut frames = 0;
    for i in 0..2_000 {
        next_messages(&mut ex, &mut batch, 1_000 + i);
        for (_, f, _) in batch.iter() {
            let v: serde_json::Value = serde_json::from_slice(f).expect("frame is JSON");
            assert!(v["topic"].as_str().is_some_and(|t| t.ends_with("BTCUSDT")));
            frames += 1;
        }
    }
    assert!(frames >= 2_000);
}

fn bench(c: &mut Criterion) {
    validate();
    let mut ex = exchange();
    let mut batch = PublicBatch::default();
    // Warm up the book and buffers, then report a plain msgs/s figure too.
    let mut now = 10_000u64;
    for _ in 0..10_000 {
        now += 1;
        next_messages(&mut ex, &mut batch, now);
    }
    let t0 = Instant::now();
    let mut msgs = 0usize;
    while t0.elapsed() < Duration::from_secs(1) {
        now += 1;
        msgs += next_messages(&mut ex, &mut batch, now);
    }
    let rate = msgs as f64 / t0.elapsed().as_secs_f64();
    eprintln!("sim_public_messages: {rate:.0} msgs/s over 1 s ({msgs} frames)");

    let mut g = c.benchmark_group("sim");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sim_public_messages", |b| {
        b.iter(|| {
            now += 1;
            black_box(next_messages(&mut ex, &mut batch, now))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
