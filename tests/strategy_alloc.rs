//! The strategy hot path (signal, reservation, quotes, volatility)
//! performs no heap allocation. A counting global allocator sees every
//! allocation the test thread makes in the measured region.

mod support_alloc;

use gapmm::strategy::{calculate_quotes, encode_signal, QuoteEdges, Strategy, StrategyParams};
use gapmm::time::ExchMs;
use gapmm::units::{HalfTicks, Lots, Ticks};

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

#[test]
fn on_market_and_quotes_do_not_allocate() {
    let mut strat = Strategy::new(StrategyParams::default_for(Lots(1_000)).unwrap());
    // Warm-up outside the counted region.
    strat
        .on_market(
            Ticks(900_000),
            Ticks(900_001),
            HalfTicks(1_800_001),
            0.5,
            ExchMs(0),
        )
        .unwrap();

    let mut checksum = 0i64;
    let ((), allocs) = support_alloc::counted(|| {
        for i in 0..10_000i64 {
            let bid = Ticks(900_000 + (i % 7) - 3);
            let ask = bid + Ticks(1 + i % 3);
            let mid = HalfTicks::mid(bid, ask);
            let score = (i % 101) as f64 / 100.0;
            strat.set_inventory(Lots((i % 2001) - 1000));
            let t = strat
                .on_market(bid, ask, mid, score, ExchMs(i as u64))
                .unwrap();
            checksum = checksum.wrapping_add(t.bid.0 ^ t.ask.0);
            let (s, c) = encode_signal(score);
            let q = calculate_quotes(mid, s, c, QuoteEdges::default());
            checksum = checksum.wrapping_add(q.spread_ticks.0);
        }
    });
    assert!(checksum != 0);
    assert_eq!(allocs, 0, "strategy hot path allocated");
}
