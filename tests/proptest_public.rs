//! Property tests for the public decoder: generated valid order-book messages
//! (any key order, optional whitespace, number-or-string `ts`, optional `cts`,
//! trailing-zero variants of the decimals) decode to exactly the generated
//! values; random bytes, truncations and single-byte mutations of real
//! messages never panic, and the decoder is intact afterwards.

mod common;

use std::cell::RefCell;

use gapmm::codec::public::{BookKind, Level, PublicDecoder, PublicEvent};
use gapmm::ids::{Seq, Symbol, UpdateId};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Step, Ticks};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn decoder() -> PublicDecoder {
    PublicDecoder::new(
        Symbol::from_str("BTCUSDT").unwrap(),
        Step::parse("0.1").unwrap(),
        Step::parse("0.001").unwrap(),
    )
}

/// `count × 10^-scale` as text; `style` 0 = exact scale, 1 = two extra
/// zeros, 2 = trailing fractional zeros (and a bare point) trimmed.
fn render(count: i64, scale: usize, style: u8) -> String {
    let digits = format!("{count:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    let mut s = if scale == 0 {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    match style {
        1 => {
            if scale == 0 {
                s.push('.');
            }
            s.push_str("00");
        }
        2 if scale > 0 => {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        _ => {}
    }
    s
}

#[derive(Debug, Clone)]
struct Msg {
    snapshot: bool,
    depth: u16,
    u: u64,
    seq: u64,
    ts: u64,
    ts_as_string: bool,
    cts: Option<u64>,
    bids: Vec<(i64, i64, u8)>,
    asks: Vec<(i64, i64, u8)>,
    top_order: Vec<usize>,
    data_order: Vec<usize>,
    ws: bool,
}

fn level() -> impl Strategy<Value = (i64, i64, u8)> {
    (0i64..10_000_000_000, 0i64..1_000_000_000, 0u8..3)
}

fn msg() -> impl Strategy<Value = Msg> {
    (
        (
            any::<bool>(),
            prop::sample::select(vec![1u16, 50, 200, 500, 1000]),
        ),
        (
            any::<u64>(),
            0u64..i64::MAX as u64,
            0u64..4_000_000_000_000,
            any::<bool>(),
        ),
        proptest::option::of(0u64..4_000_000_000_000),
        prop::collection::vec(level(), 0..40),
        prop::collection::vec(level(), 0..40),
        Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        any::<bool>(),
    )
        .prop_map(
            |((snapshot, depth), (u, seq, ts, tss), cts, bids, asks, top_order, data_order, ws)| {
                Msg {
                    snapshot,
                    depth,
                    u,
                    seq,
                    ts,
                    ts_as_string: tss,
                    cts,
                    bids,
                    asks,
                    top_order,
                    data_order,
                    ws,
                }
            },
        )
}

fn encode(m: &Msg) -> String {
    let sp = if m.ws { " " } else { "" };
    let side = |v: &[(i64, i64, u8)]| {
        let items: Vec<String> = v
            .iter()
            .map(|&(p, q, st)| format!("[\"{}\",{sp}\"{}\"]", render(p, 1, st), render(q, 3, st)))
            .collect();
        format!("[{}]", items.join(&format!(",{sp}")))
    };
    let data_fields = [
        "\"s\":\"BTCUSDT\"".to_string(),
        format!("\"b\":{sp}{}", side(&m.bids)),
        format!("\"a\":{sp}{}", side(&m.asks)),
        format!("\"u\":{}", m.u),
        format!("\"seq\":{}", m.seq),
    ];
    let data: Vec<&str> = m
        .data_order
        .iter()
        .map(|&i| data_fields[i].as_str())
        .collect();
    let ts = if m.ts_as_string {
        format!("\"{}\"", m.ts)
    } else {
        m.ts.to_string()
    };
    let mut top = [
        format!("\"topic\":{sp}\"orderbook.{}.BTCUSDT\"", m.depth),
        format!(
            "\"type\":\"{}\"",
            if m.snapshot { "snapshot" } else { "delta" }
        ),
        format!("\"ts\":{ts}"),
        format!("\"data\":{sp}{{{}}}", data.join(&format!(",{sp}"))),
        match m.cts {
            Some(c) => format!("\"cts\":{c}"),
            None => "\"ignored\":[1,{\"x\":null}]".to_string(),
        },
    ];
    let ordered: Vec<String> = m
        .top_order
        .iter()
        .map(|&i| std::mem::take(&mut top[i]))
        .collect();
    format!("{{{sp}{}{sp}}}", ordered.join(&format!(",{sp}")))
}

fn levels(v: &[(i64, i64, u8)]) -> Vec<Level> {
    v.iter()
        .map(|&(p, q, _)| Level {
            price: Ticks(p),
            qty: Lots(q),
        })
        .collect()
}

#[test]
fn generated_books_round_trip() {
    let d = RefCell::new(decoder());
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(&msg(), |m| {
            let text = encode(&m);
            let mut d = d.borrow_mut();
            let ev = d.decode(text.as_bytes());
            let Ok(PublicEvent::Book(b)) = ev else {
                return Err(TestCaseError::fail(format!("{ev:?} for {text}")));
            };
            let kind = if m.snapshot {
                BookKind::Snapshot
            } else {
                BookKind::Delta
            };
            prop_assert_eq!(b.kind, kind);
            prop_assert_eq!(b.depth, m.depth);
            prop_assert_eq!(b.symbol.as_str(), "BTCUSDT");
            prop_assert_eq!(b.u, UpdateId(m.u));
            prop_assert_eq!(b.seq, Seq(m.seq));
            prop_assert_eq!(b.ts, ExchMs(m.ts));
            prop_assert_eq!(b.cts, m.cts.map(ExchMs));
            let (bids, asks) = (levels(&m.bids), levels(&m.asks));
            prop_assert_eq!(b.bids, bids.as_slice());
            prop_assert_eq!(b.asks, asks.as_slice());
            Ok(())
        })
        .unwrap();
}

fn corpus() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "examples/public_orderbook_snapshot_linear.json",
        "examples/public_orderbook_delta_linear.json",
        "examples/public_trade_linear.json",
        "examples/ws_pong_public_option.json",
        "examples/ws_pong_private.json",
        "examples/ws_subscribe_response_public_option.json",
        "examples/ws_subscribe_response_public_spot.json",
        "real/ws_orderbook_snapshot.json",
        "real/ws_auth_failure.json",
    ]
    .iter()
    .map(|f| common::read_bybit(f))
    .collect();
    v.push(
        br#"{"topic":"publicTrade.BTCUSDT","ts":"1672304486868","type":"snapshot","data":[{"T":"1672304486865","s":"BTCUSDT","S":"Sell","v":"0.001","p":"16578.50","i":"1","BT":true,"RPI":false}]}"#
            .to_vec(),
    );
    v
}

/// After any frame, the decoder still decodes a known message exactly as a
/// fresh decoder does.
fn still_intact(d: &mut PublicDecoder, probe: &[u8], expected: &str) -> Result<(), TestCaseError> {
    let got = format!("{:?}", d.decode(probe));
    prop_assert_eq!(got.as_str(), expected);
    Ok(())
}

fn check_garbage(strategy: impl Strategy<Value = Vec<u8>>) {
    let d = RefCell::new(decoder());
    let probe = common::read_bybit("examples/public_orderbook_delta_linear.json");
    let expected = format!("{:?}", decoder().decode(&probe));
    assert!(expected.starts_with("Ok(Book("), "{expected}");
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(&strategy, |bytes| {
            let mut d = d.borrow_mut();
            // Must return (Ok or a typed error) without panicking.
            let _ = d.decode(&bytes);
            still_intact(&mut d, &probe, &expected)
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_never_panic() {
    check_garbage(prop::collection::vec(any::<u8>(), 0..2048));
}

#[test]
fn truncations_never_panic() {
    let c = corpus();
    check_garbage(
        (0..c.len(), any::<prop::sample::Index>()).prop_map(move |(i, cut)| {
            let m = &c[i];
            m[..cut.index(m.len())].to_vec()
        }),
    );
}

#[test]
fn single_byte_mutations_never_panic() {
    let c = corpus();
    check_garbage(
        (0..c.len(), any::<prop::sample::Index>(), any::<u8>()).prop_map(move |(i, at, b)| {
            let mut m = c[i].clone();
            let at = at.index(m.len());
            m[at] = b;
            m
        }),
    );
}

#[test]
fn structural_mutations_never_panic() {
    // Swap in JSON-significant bytes, which reach deeper into the walker
    // than uniformly random ones.
    let c = corpus();
    let sig = prop::sample::select(b"[]{}\",:0-.etn ".to_vec());
    check_garbage(
        (0..c.len(), any::<prop::sample::Index>(), sig).prop_map(move |(i, at, b)| {
            let mut m = c[i].clone();
            let at = at.index(m.len());
            m[at] = b;
            m
        }),
    );
}
