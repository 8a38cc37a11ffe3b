//! Figures protected: `signal_and_quotes` (score → signal → quotes at a
//! half-tick mid, the original's ~200–300 ns Numba path) and
//! `reservation_update` (one full `Strategy::on_market`: volatility update,
//! reservation price, quotes, crossing clamp). Each validates its answer
//! before timing.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gapmm::strategy::{
    calculate_quotes, encode_signal, Confidence, QuoteEdges, Signal, Strategy, StrategyParams,
};
use gapmm::time::ExchMs;
use gapmm::units::{HalfTicks, Lots, Ticks};

fn signal_and_quotes(c: &mut Criterion) {
    let edges = QuoteEdges::default();
    // Mid 900 000.5 ticks, score 0.1 → Up/High: bid 899 999.5 → 900 000
    // (even), ask 900 100.5 → 900 100 (even).
    let (s, conf) = encode_signal(0.1);
    assert_eq!((s, conf), (Signal::Up, Confidence::High));
    let q = calculate_quotes(HalfTicks(1_800_001), s, conf, edges);
    assert_eq!((q.bid, q.ask), (Ticks(900_000), Ticks(900_100)));

    let scores = [0.1, 0.35, 0.5, 0.65, 0.9, 0.2, 0.8, 0.45];
    let mut i = 0usize;
    c.bench_function("signal_and_quotes", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let score = scores[i & 7];
            let mid = HalfTicks(1_800_001 + (i & 3) as i64);
            let (s, conf) = encode_signal(black_box(score));
            black_box(calculate_quotes(black_box(mid), s, conf, edges))
        })
    });
}

fn reservation_update(c: &mut Criterion) {
    let max = Lots(1_000);
    let mut strat = Strategy::new(StrategyParams::default_for(max).unwrap());
    strat.set_inventory(max);
    // Long at max with an Up signal: the bid must not be tight.
    let t = strat
        .on_market(
            Ticks(900_000),
            Ticks(900_001),
            HalfTicks(1_800_001),
            0.1,
            ExchMs(0),
        )
        .unwrap();
    assert!(t.bid <= Ticks(900_000 - 99), "bid {:?}", t.bid);
    assert_eq!(t.signal, Signal::Up);

    let mut i = 0u64;
    c.bench_function("reservation_update", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let bid = Ticks(900_000 + (i & 3) as i64);
            let ask = bid + Ticks(1);
            strat.set_inventory(Lots((i & 255) as i64 - 128));
            black_box(strat.on_market(
                black_box(bid),
                ask,
                HalfTicks::mid(bid, ask),
                black_box(0.25),
                ExchMs(i),
            ))
        })
    });
}

criterion_group!(benches, signal_and_quotes, reservation_update);
criterion_main!(benches);
