//! The simulator's public encoders allocate nothing once their buffers are
//! warm (a counting global allocator; its own test binary).

mod support_alloc;

use gapmm::sim::wire::{put_book_msg, put_trade_msg, BookMsg, TradePrint};
use gapmm::units::{Side, Step};

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

#[test]
fn public_encoders_are_allocation_free_after_warm_up() {
    let tick = Step::parse("0.1").unwrap();
    let lot = Step::parse("0.001").unwrap();
    let levels: Vec<(i64, i64)> = (0..50).map(|i| (600_000 - i, 1 + i)).collect();
    let trades: Vec<TradePrint> = (0..4)
        .map(|i| TradePrint {
            time_ms: 1,
            price: 600_000 + i,
            qty: 3,
            taker_side: Side::Buy,
            trade_id: i as u64,
            seq: 9,
            tick_dir: 0,
        })
        .collect();
    let mut out = Vec::with_capacity(64 * 1024);
    let run = |out: &mut Vec<u8>, n: u64| {
        for k in 0..n {
            out.clear();
            let m = BookMsg {
                topic: b"orderbook.50.BTCUSDT",
                symbol: b"BTCUSDT",
                snapshot: k % 2 == 0,
                ts: k,
                cts: k,
                u: k,
                seq: k,
                tick,
                lot,
            };
            put_book_msg(out, &m, &levels, &levels);
            put_trade_msg(
                out,
                b"publicTrade.BTCUSDT",
                b"BTCUSDT",
                k,
                true,
                &trades,
                tick,
                lot,
            );
        }
    };
    run(&mut out, 10);
    let ((), allocs) = support_alloc::counted(|| run(&mut out, 1000));
    assert_eq!(allocs, 0);
    // The last iteration wrote a book frame followed by a trade frame.
    let mut de = serde_json::Deserializer::from_slice(&out).into_iter::<serde_json::Value>();
    assert_eq!(
        de.next().unwrap().unwrap()["data"]["b"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert_eq!(
        de.next().unwrap().unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
