//! Public WebSocket decode latency: the per-message cost on the market-data
//! hot path. Book messages in Bybit's layout take the one-pass fast path
//! (decimal → ticks/lots straight from the frame); `…_general_path` times the
//! same delta through the general decoder (copy into the padded buffer,
//! simd-json tape, walk). Each input is decoded and checked once before timing.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gapmm::codec::public::{BookKind, PublicDecoder, PublicEvent};
use gapmm::ids::Symbol;
use gapmm::units::{Lots, Side, Step, Ticks};

fn decoder() -> PublicDecoder {
    PublicDecoder::new(
        Symbol::from_str("BTCUSDT").unwrap(),
        Step::parse("0.10").unwrap(),
        Step::parse("0.001").unwrap(),
    )
}

fn book(kind: &str, per_side: usize) -> Vec<u8> {
    let side = |base: i64, dir: i64| {
        (0..per_side as i64)
            .map(|i| {
                let p = base + dir * i * 5;
                format!(
                    "[\"{}.{}0\",\"{}.{:03}\"]",
                    p / 10,
                    p % 10,
                    i % 7,
                    (i * 37) % 1000
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"topic":"orderbook.200.BTCUSDT","type":"{kind}","ts":1687940967466,"data":{{"s":"BTCUSDT","b":[{}],"a":[{}],"u":177400507,"seq":66544703342}},"cts":1687940967464}}"#,
        side(302_472, -1),
        side(302_487, 1)
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let mut d = decoder();

    let delta = book("delta", 5);
    match d.decode(&delta) {
        Ok(PublicEvent::Book(b)) => {
            assert_eq!(b.kind, BookKind::Delta);
            assert_eq!(b.bids.len() + b.asks.len(), 10);
            assert_eq!(b.bids[0].price, Ticks(302_472));
            assert_eq!(b.asks[4].price, Ticks(302_507));
        }
        other => panic!("{other:?}"),
    }
    c.bench_function("decode_orderbook_delta_10_levels", |b| {
        b.iter(|| match d.decode(black_box(&delta)) {
            Ok(PublicEvent::Book(u)) => u.bids.len(),
            _ => 0,
        })
    });

    // The same delta with a space after the first `{`: not Bybit's exact
    // layout, so it takes the general simd-json path (the fast path's gain).
    let mut spaced = delta.clone();
    spaced.insert(1, b' ');
    match d.decode(&spaced) {
        Ok(PublicEvent::Book(b)) => assert_eq!(b.bids.len() + b.asks.len(), 10),
        other => panic!("{other:?}"),
    }
    c.bench_function("decode_orderbook_delta_10_levels_general_path", |b| {
        b.iter(|| match d.decode(black_box(&spaced)) {
            Ok(PublicEvent::Book(u)) => u.bids.len(),
            _ => 0,
        })
    });

    let snap = book("snapshot", 200);
    match d.decode(&snap) {
        Ok(PublicEvent::Book(b)) => {
            assert_eq!(b.kind, BookKind::Snapshot);
            assert_eq!((b.bids.len(), b.asks.len()), (200, 200));
            assert_eq!(b.bids[199].price, Ticks(302_472 - 199 * 5));
            assert_eq!(b.asks[199].qty, Lots((199 % 7) * 1000 + (199 * 37) % 1000));
        }
        other => panic!("{other:?}"),
    }
    c.bench_function("decode_orderbook_snapshot_200_levels", |b| {
        b.iter(|| match d.decode(black_box(&snap)) {
            Ok(PublicEvent::Book(u)) => u.asks.len(),
            _ => 0,
        })
    });

    let trade = common::read_bybit("examples/public_trade_linear.json");
    match d.decode(&trade) {
        Ok(PublicEvent::Trades(t)) => {
            assert_eq!(t.trades.len(), 1);
            assert_eq!(t.trades[0].price, Ticks(165_785));
            assert_eq!(t.trades[0].taker_side, Side::Buy);
        }
        other => panic!("{other:?}"),
    }
    c.bench_function("decode_public_trade", |b| {
        b.iter(|| match d.decode(black_box(&trade)) {
            Ok(PublicEvent::Trades(t)) => t.trades.len(),
            _ => 0,
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
