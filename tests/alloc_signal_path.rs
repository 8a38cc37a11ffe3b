//! The whole signal path allocates nothing once warm: decode a delta, apply it
//! to the book, compute the analytics, encode the signal, compute the
//! inventory-aware quotes, and build + sign the WS-trade amend request for
//! them — 10,000 delta messages, counted by a global allocator.

mod support_alloc;

use gapmm::analytics;
use gapmm::book::{Applied, Book, BookConfig};
use gapmm::codec::public::{PublicDecoder, PublicEvent};
use gapmm::codec::rest::{Amend, InstrumentSpec, NewOrder, OrderRef};
use gapmm::codec::sign::Credentials;
use gapmm::codec::trade::TradeCodec;
use gapmm::ids::{Category, OrderLinkId, ReqId, Symbol};
use gapmm::strategy::signal::encode_signal;
use gapmm::strategy::{Strategy, StrategyParams};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Step, Ticks};
use support_alloc::counted;

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

/// A deterministic stream of linear BTCUSDT deltas around a drifting mid,
/// each with 1–10 level changes; `u` continues from the snapshot.
fn frames() -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut snap = String::from(
        r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1700000000000,"data":{"s":"BTCUSDT","b":["#,
    );
    for i in 0..50 {
        snap += &format!(
            r#"{}["{:.1}","{}.{:03}"]"#,
            if i > 0 { "," } else { "" },
            30000.0 - i as f64 * 0.5,
            1 + i % 3,
            i
        );
    }
    snap += r#"],"a":["#;
    for i in 0..50 {
        snap += &format!(
            r#"{}["{:.1}","{}.{:03}"]"#,
            if i > 0 { "," } else { "" },
            30000.5 + i as f64 * 0.5,
            1 + i % 4,
            i
        );
    }
    snap += r#"],"u":1000,"seq":5000},"cts":1699999999999}"#;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    for k in 0..10_000u64 {
        let n = 1 + (next() % 10) as usize;
        let (mut b, mut a) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let off = (next() % 40) as f64 * 0.5;
            let qty = if next() % 5 == 0 {
                "0".to_string()
            } else {
                format!("{}.{:03}", next() % 9, next() % 1000)
            };
            if next() % 2 == 0 {
                b.push(format!(r#"["{:.1}","{}"]"#, 29999.5 - off, qty));
            } else {
                a.push(format!(r#"["{:.1}","{}"]"#, 30001.0 + off, qty));
            }
        }
        out.push(
            format!(
                r#"{{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":{},"data":{{"s":"BTCUSDT","b":[{}],"a":[{}],"u":{},"seq":{}}},"cts":{}}}"#,
                1700000000001 + k,
                b.join(","),
                a.join(","),
                1001 + k,
                5001 + k * 3,
                1700000000000 + k
            )
            .into_bytes(),
        );
    }
    (snap.into_bytes(), out)
}

#[test]
fn parse_apply_analytics_signal_quote_sign_allocates_nothing() {
    let (snapshot, deltas) = frames();
    let symbol = Symbol::from_str("BTCUSDT").unwrap();
    let tick = Step::parse("0.5").unwrap();
    let lot = Step::parse("0.001").unwrap();
    let inst = InstrumentSpec::new(symbol, Category::Linear, tick, lot);
    let mut decoder = PublicDecoder::new(symbol, tick, lot);
    let mut book = Book::new(BookConfig::default());
    let mut strategy = Strategy::new(StrategyParams::default_for(Lots(10)).unwrap());
    strategy.set_inventory(Lots(3));
    let creds = Credentials::new("simkey0001", "simsecret-not-real").unwrap();
    let codec = TradeCodec::new(creds.signer(), 5000);
    let mut wire = Vec::with_capacity(4096);
    let req_id = ReqId::from_str("gm00001-1-1").unwrap();
    let link = OrderLinkId::from_str("gm00001-1-1").unwrap();

    let mut run = |frame: &[u8], book: &mut Book, wire: &mut Vec<u8>| -> (Applied, Ticks, Ticks) {
        let PublicEvent::Book(update) = decoder.decode(frame).expect("decodes") else {
            panic!("not a book message");
        };
        let applied = book.apply(&update).expect("in sequence");
        let m = analytics::compute(book, update.ts).expect("two-sided book");
        let (_signal, _conf) = encode_signal(m.gap_prob_resistance_up);
        let target = strategy
            .on_market(m.bid, m.ask, m.mid, m.gap_prob_resistance_up, m.timestamp)
            .expect("valid market");
        wire.clear();
        let amend = Amend {
            id: OrderRef::LinkId(link),
            price: Some(target.bid),
            qty: None,
        };
        codec
            .amend(wire, &req_id, ExchMs(1_700_000_000_000), &inst, &amend)
            .expect("amend frame");
        let new = NewOrder::post_only(Side::Sell, target.ask, Lots(1), link);
        wire.clear();
        codec
            .create(wire, &req_id, ExchMs(1_700_000_000_000), &inst, &new)
            .expect("create frame");
        (applied, target.bid, target.ask)
    };

    // Warm-up: the snapshot and the first deltas size every reusable buffer.
    assert_eq!(run(&snapshot, &mut book, &mut wire).0, Applied::Reset);
    for f in &deltas[..100] {
        run(f, &mut book, &mut wire);
    }
    let mut quoted = 0u64;
    let ((), allocs) = counted(|| {
        for f in &deltas[100..] {
            let (applied, bid, ask) = run(f, &mut book, &mut wire);
            assert_eq!(applied, Applied::Delta);
            assert!(bid < ask);
            quoted += 1;
        }
    });
    assert_eq!(quoted, 9_900);
    assert_eq!(allocs, 0, "allocations on the signal path");
    // The counter itself works: one deliberate allocation is seen.
    let (v, n) = counted(|| Vec::<u8>::with_capacity(16));
    assert!(n > 0);
    drop(v);
    // The last request on the wire is a signed WS-trade order.create.
    let text = std::str::from_utf8(&wire).unwrap();
    assert!(text.contains(r#""op":"order.create""#), "{text}");
    assert!(text.contains(r#""timeInForce":"PostOnly""#), "{text}");
}
