//! Proves the public decoder allocates nothing after construction: thousands
//! of decodes of real snapshots (500 levels a side), deltas, 1024-trade
//! batches, acks, pongs and rejected frames, counted by a global allocator.

mod common;
mod support_alloc;

use gapmm::codec::public::{PublicDecoder, PublicEvent};
use gapmm::ids::Symbol;
use gapmm::replay::Recording;
use gapmm::units::Step;

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

fn trade_batch(n: usize) -> Vec<u8> {
    let mut s = String::from(
        r#"{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":1733011200691,"data":["#,
    );
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"T":{},"s":"XRPUSDT","S":"Sell","v":"{}","p":"1.95{:02}","L":"MinusTick","i":"{:08x}-d8dd-5b31-9112-a178eb6023af","BT":false,"RPI":true,"seq":{}}}"#,
            1733011200000u64 + i as u64, 100 + i, i % 100, i, 130020238981u64 + i as u64
        ));
    }
    s.push_str("]}");
    s.into_bytes()
}

#[test]
fn decoding_allocates_nothing_after_construction() {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut rec = Recording::open(common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip")).unwrap();
    while let Some(l) = rec.next_line() {
        frames.push(l.unwrap().to_vec());
    }
    assert_eq!(frames.len(), 50);
    frames.push(trade_batch(1024));
    frames.push(trade_batch(3));
    for f in [
        "examples/ws_pong_public_spot.json",
        "examples/ws_pong_public_option.json",
        "examples/ws_subscribe_response_public_option.json",
        "examples/ws_subscribe_response_public_linear.json",
        "real/ws_auth_failure.json",
    ] {
        frames.push(common::read_bybit(f));
    }
    // Rejected frames: truncated snapshot, wrong topic, off-grid price, garbage.
    let truncated = frames[0][..frames[0].len() / 2].to_vec();
    frames.push(truncated);
    frames.push(br#"{"topic":"tickers.XRPUSDT","type":"snapshot","ts":1,"data":{}}"#.to_vec());
    frames.push(
        br#"{"topic":"orderbook.50.XRPUSDT","type":"delta","ts":1,"data":{"s":"XRPUSDT","b":[["1.00005","1"]],"a":[],"u":1,"seq":1}}"#
            .to_vec(),
    );
    frames.push(b"\x00\xff{{[".to_vec());

    let mut d = PublicDecoder::new(
        Symbol::from_str("XRPUSDT").unwrap(),
        Step::parse("0.0001").unwrap(),
        Step::parse("1").unwrap(),
    );

    let rounds = 60;
    let mut books = 0usize;
    let mut trades = 0usize;
    let mut other = 0usize;
    let mut errors = 0usize;
    let mut levels = 0usize;
    let ((), allocs) = support_alloc::counted(|| {
        for _ in 0..rounds {
            for f in &frames {
                match d.decode(f) {
                    Ok(PublicEvent::Book(b)) => {
                        books += 1;
                        levels += b.bids.len() + b.asks.len();
                    }
                    Ok(PublicEvent::Trades(t)) => trades += t.trades.len(),
                    Ok(_) => other += 1,
                    Err(_) => errors += 1,
                }
            }
        }
    });

    assert_eq!(books, 50 * rounds);
    assert_eq!(trades, 1027 * rounds);
    assert_eq!(other, 5 * rounds);
    assert_eq!(errors, 4 * rounds);
    assert!(levels >= 1000 * rounds, "snapshots were decoded in full");
    assert_eq!(
        allocs,
        0,
        "decode allocated {allocs} times over {} frames",
        frames.len() * rounds
    );
}
