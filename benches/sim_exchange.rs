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

/// One PostOnly create plus its cancel through `request`, with 100 other open
/// orders and a 60-level synthetic book: the exchange-side cost the servers
/// add to an order round trip.
fn bench_orders(c: &mut Criterion) {
    use gapmm::sim::exchange::{Op, PrivateBatch};
    use serde_json::json;
    let mut cfg = ExchangeConfig::standard(4, MarketModel::Synthetic(SyntheticParams::default()));
    cfg.symbols = vec![SymbolConfig::btcusdt_linear()];
    let mut ex = Exchange::new(cfg).expect("config");
    let mut pb = PrivateBatch::default();
    let mut batch = PublicBatch::default();
    for i in 0..100 {
        let r = ex.request(
            Some(1001),
            Op::Create,
            &json!({"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit",
                    "qty":"0.001","price":format!("{}.0", 50000 + i),"timeInForce":"PostOnly"}),
            1,
        );
        assert_eq!(r.ret_code, 0);
    }
    let mut create = json!({"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit",
                        "qty":"0.001","price":"55000.0","timeInForce":"PostOnly","orderLinkId":""});
    let mut cancel = json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":""});
    // Validate once: accepted, then cancelled, with pushes.
    let mut now = 2u64;
    // orderLinkIds stay unique (a closed order's id is not reusable).
    let mut round = |ex: &mut Exchange, now: u64| {
        let link = format!("bench-{now}");
        create["orderLinkId"] = json!(link);
        cancel["orderLinkId"] = json!(link);
        let a = ex.request(Some(1001), Op::Create, &create, now);
        let b = ex.request(Some(1001), Op::Cancel, &cancel, now);
        ex.drain_private(&mut pb);
        ex.drain_public(&mut batch);
        assert_eq!((a.ret_code, b.ret_code), (0, 0));
        pb.len()
    };
    assert!(round(&mut ex, now) >= 2);
    c.bench_function("sim_order_create_cancel", |bch| {
        bch.iter(|| {
            now += 1;
            black_box(round(&mut ex, now))
        })
    });
}

criterion_group!(benches, bench, bench_orders);
criterion_main!(benches);
