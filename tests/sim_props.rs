//! Property tests: the simulator's parsers and request handling never panic on
//! random or mutated input, and a rejected request changes no state.

use gapmm::ids::Category;
use gapmm::sim::exchange::{Exchange, ExchangeConfig, Op, PrivateBatch};
use gapmm::sim::market::{parse_recording, MarketModel};
use gapmm::units::{Side, Step};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const LINE: &str = r#"{"topic":"orderbook.500.XRPUSDT","type":"delta","ts":1733011200693,"data":{"s":"XRPUSDT","b":[["1.9531","6198"],["1.9529","2080"]],"a":[["1.9535","8415"]],"u":2,"seq":3},"cts":1}"#;

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("linear")),
        Just(json!("spot")),
        Just(json!("BTCUSDT")),
        Just(json!("XRPUSDT")),
        Just(json!("Buy")),
        Just(json!("Sell")),
        Just(json!("Limit")),
        Just(json!("Market")),
        Just(json!("PostOnly")),
        Just(json!("IOC")),
        Just(json!("60000.0")),
        Just(json!("0.001")),
        Just(json!("1.9531")),
        Just(json!("100")),
        Just(json!("")),
        "[ -~]{0,12}".prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
        Just(json!([{"symbol": "BTCUSDT", "side": "Buy"}])),
    ]
}

fn params_strategy() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "category",
        "symbol",
        "side",
        "orderType",
        "qty",
        "price",
        "timeInForce",
        "orderLinkId",
        "orderId",
        "request",
        "limit",
        "openOnly",
        "marketUnit",
        "settleCoin",
        "baseCoin",
        "coin",
        "accountType",
    ]);
    prop::collection::vec((keys, value_strategy()), 0..10).prop_map(|kv| {
        let mut m = Map::new();
        for (k, v) in kv {
            m.insert(k.to_string(), v);
        }
        Value::Object(m)
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop::sample::select(vec![
        Op::Create,
        Op::Amend,
        Op::Cancel,
        Op::CancelAll,
        Op::CreateBatch,
        Op::AmendBatch,
        Op::CancelBatch,
        Op::OrderRealtime,
        Op::PositionList,
        Op::WalletBalance,
        Op::InstrumentsInfo,
        Op::Orderbook,
        Op::Time,
    ])
}

type Books = Vec<Option<(Vec<(i64, i64)>, Vec<(i64, i64)>)>>;

fn books(ex: &Exchange) -> Books {
    vec![
        ex.book_levels("BTCUSDT", Category::Spot, 100),
        ex.book_levels("BTCUSDT", Category::Linear, 100),
        ex.book_levels("XRPUSDT", Category::Linear, 100),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn recording_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_recording(&bytes, Step::parse("0.0001").unwrap(), Step::parse("1").unwrap());
    }

    #[test]
    fn mutated_recording_lines_never_panic(cut in 0usize..LINE.len(), pos in 0usize..LINE.len(), b in any::<u8>()) {
        let mut v = LINE.as_bytes().to_vec();
        v[pos] = b;
        v.truncate(cut.max(1));
        let _ = parse_recording(&v, Step::parse("0.0001").unwrap(), Step::parse("1").unwrap());
    }

    #[test]
    fn random_requests_never_panic_and_rejections_change_nothing(
        reqs in prop::collection::vec((op_strategy(), params_strategy()), 1..8)
    ) {
        let mut ex = Exchange::new(ExchangeConfig::standard(5, MarketModel::Quiet)).unwrap();
        ex.inject_limit(Category::Linear, "BTCUSDT", Side::Buy, 600_000, 5, 1);
        ex.inject_limit(Category::Linear, "BTCUSDT", Side::Sell, 600_010, 5, 1);
        ex.inject_limit(Category::Spot, "BTCUSDT", Side::Sell, 600_010, 5_000, 1);
        let mut pb = PrivateBatch::default();
        ex.drain_private(&mut pb);
        let wallet = |ex: &mut Exchange| ex.request(Some(1001), Op::WalletBalance, &json!({}), 2).result;
        for (i, (op, p)) in reqs.into_iter().enumerate() {
            let before_books = books(&ex);
            let before_wallet = wallet(&mut ex);
            let r = ex.request(Some(1001), op, &p, 10 + i as u64);
            let mutating = matches!(op, Op::Create | Op::Amend | Op::Cancel | Op::CancelAll
                | Op::CreateBatch | Op::AmendBatch | Op::CancelBatch);
            ex.drain_private(&mut pb);
            prop_assert_eq!(ex.check_invariants(), Ok(()));
            if r.ret_code != 0 && mutating {
                prop_assert!(!r.ret_msg.is_empty());
                prop_assert_eq!(books(&ex), before_books);
                prop_assert_eq!(wallet(&mut ex), before_wallet);
                prop_assert!(pb.is_empty(), "a rejected request pushed something");
            }
            for (_, _, f) in pb.iter() {
                prop_assert!(serde_json::from_slice::<Value>(f).is_ok(), "private frame is JSON");
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Act {
    Post {
        buy: bool,
        off: i64,
        lots: i64,
        post_only: bool,
        spot: bool,
    },
    Amend {
        idx: usize,
        off: Option<i64>,
        lots: Option<i64>,
    },
    Cancel {
        idx: usize,
    },
    Take {
        buy: bool,
        lots: i64,
        spot: bool,
    },
    Synth {
        buy: bool,
        off: i64,
        lots: i64,
    },
}

fn act_strategy() -> impl Strategy<Value = Act> {
    prop_oneof![
        (
            any::<bool>(),
            -6i64..6,
            1i64..6,
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(buy, off, lots, post_only, spot)| Act::Post {
                buy,
                off,
                lots,
                post_only,
                spot
            }),
        (
            0usize..8,
            prop::option::of(-6i64..6),
            prop::option::of(1i64..6)
        )
            .prop_map(|(idx, off, lots)| Act::Amend { idx, off, lots }),
        (0usize..8).prop_map(|idx| Act::Cancel { idx }),
        (any::<bool>(), 1i64..12, any::<bool>()).prop_map(|(buy, lots, spot)| Act::Take {
            buy,
            lots,
            spot
        }),
        (any::<bool>(), 1i64..6, 1i64..6).prop_map(|(buy, off, lots)| Act::Synth {
            buy,
            off,
            lots
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Whatever clients and the market do, the aggregated book the feed is
    /// built from equals what the matching engine holds, level by level, and
    /// spot locks return to zero once every order is closed.
    #[test]
    fn book_mirror_matches_engine_and_locks_balance(acts in prop::collection::vec(act_strategy(), 1..40)) {
        const P: i64 = 600_000;
        let mut ex = Exchange::new(ExchangeConfig::standard(8, MarketModel::Quiet)).unwrap();
        for cat in [Category::Linear, Category::Spot] {
            ex.inject_limit(cat, "BTCUSDT", Side::Buy, P, 5_000, 1);
            ex.inject_limit(cat, "BTCUSDT", Side::Sell, P + 10, 5_000, 1);
        }
        let mut links: Vec<(Category, String)> = Vec::new();
        let mut now = 10;
        let tick = Step::parse("0.1").unwrap();
        for (n, a) in acts.into_iter().enumerate() {
            now += 1;
            match a {
                Act::Post { buy, off, lots, post_only, spot } => {
                    let cat = if spot { Category::Spot } else { Category::Linear };
                    let link = format!("p{n}");
                    let lot = if spot { Step::parse("0.000001").unwrap() } else { Step::parse("0.001").unwrap() };
                    let px = if buy { P + off } else { P + 10 + off };
                    let r = ex.request(Some(1001), Op::Create, &json!({
                        "category": cat.as_str(), "symbol": "BTCUSDT", "side": if buy { "Buy" } else { "Sell" },
                        "orderType": "Limit", "price": tick.display(px).to_string(),
                        "qty": lot.display(lots * 1000).to_string(),
                        "timeInForce": if post_only { "PostOnly" } else { "GTC" }, "orderLinkId": link,
                    }), now);
                    if r.ret_code == 0 { links.push((cat, link)); }
                }
                Act::Amend { idx, off, lots } => {
                    if let Some((cat, link)) = links.get(idx).cloned() {
                        let lot = if cat == Category::Spot { Step::parse("0.000001").unwrap() } else { Step::parse("0.001").unwrap() };
                        let mut p = json!({"category": cat.as_str(), "symbol": "BTCUSDT", "orderLinkId": link});
                        if let Some(o) = off { p["price"] = json!(tick.display(P + 5 + o).to_string()); }
                        if let Some(l) = lots { p["qty"] = json!(lot.display(l * 1000).to_string()); }
                        ex.request(Some(1001), Op::Amend, &p, now);
                    }
                }
                Act::Cancel { idx } => {
                    if let Some((cat, link)) = links.get(idx).cloned() {
                        ex.request(Some(1001), Op::Cancel, &json!({"category": cat.as_str(), "symbol": "BTCUSDT", "orderLinkId": link}), now);
                    }
                }
                Act::Take { buy, lots, spot } => {
                    let cat = if spot { Category::Spot } else { Category::Linear };
                    ex.inject_take(cat, "BTCUSDT", if buy { Side::Buy } else { Side::Sell }, lots * 1000, now);
                }
                Act::Synth { buy, off, lots } => {
                    let (side, px) = if buy { (Side::Buy, P - off) } else { (Side::Sell, P + 10 + off) };
                    ex.inject_limit(Category::Linear, "BTCUSDT", side, px, lots * 1000, now);
                }
            }
            prop_assert_eq!(ex.check_invariants(), Ok(()));
            for cat in [Category::Linear, Category::Spot] {
                let (b, a) = ex.book_levels("BTCUSDT", cat, 1000).unwrap();
                for (side, lv) in [(Side::Buy, &b), (Side::Sell, &a)] {
                    for &(p, q) in lv.iter() {
                        prop_assert_eq!(ex.engine_qty_at("BTCUSDT", cat, side, p), Some(q as u64), "{:?} {:?} at {}", cat, side, p);
                    }
                }
                if let (Some(bb), Some(aa)) = (b.first(), a.first()) {
                    prop_assert!(bb.0 < aa.0, "book crossed: {:?} / {:?}", bb, aa);
                }
            }
        }
        now += 1;
        ex.request(Some(1001), Op::CancelAll, &json!({"category": "spot"}), now);
        let w = ex.request(Some(1001), Op::WalletBalance, &json!({}), now).result;
        for c in w["list"][0]["coin"].as_array().unwrap() {
            prop_assert_eq!(&c["locked"], "0", "{}", c["coin"]);
        }
    }
}
