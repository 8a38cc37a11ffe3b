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
