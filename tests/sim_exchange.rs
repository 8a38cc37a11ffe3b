//! Behaviour of the simulated exchange core, driven directly with synthetic
//! time on a Quiet market (the tests place all liquidity themselves).

mod common;
use std::collections::BTreeMap;

use gapmm::ids::Category;
use gapmm::sim::exchange::{
    Exchange, ExchangeConfig, Op, PrivateBatch, PrivateTopic, PublicBatch, Reply,
};
use gapmm::sim::market::{MarketModel, ReplayConfig, SyntheticParams};
use gapmm::units::{Side, Step};
use serde_json::{json, Value};

const UID: u64 = 1001;
const LIN: Category = Category::Linear;
const SPOT: Category = Category::Spot;
/// 60000.0 in BTCUSDT ticks (0.1).
const P: i64 = 600_000;

fn quiet() -> Exchange {
    Exchange::new(ExchangeConfig::standard(42, MarketModel::Quiet)).unwrap()
}

struct T {
    ex: Exchange,
    now: u64,
    priv_b: PrivateBatch,
    pub_b: PublicBatch,
}

impl T {
    fn new() -> T {
        T {
            ex: quiet(),
            now: 1_700_000_000_000,
            priv_b: PrivateBatch::default(),
            pub_b: PublicBatch::default(),
        }
    }
    fn tick(&mut self) -> u64 {
        self.now += 1;
        self.now
    }
    fn req(&mut self, op: Op, p: Value) -> Reply {
        let now = self.tick();
        self.ex.request(Some(UID), op, &p, now)
    }
    fn limit(&mut self, cat: Category, side: Side, price: i64, lots: i64) {
        let now = self.tick();
        assert!(self.ex.inject_limit(cat, "BTCUSDT", side, price, lots, now));
    }
    fn take(&mut self, cat: Category, side: Side, lots: i64) {
        let now = self.tick();
        assert!(self.ex.inject_take(cat, "BTCUSDT", side, lots, now));
    }
    /// Private pushes since the last call, parsed.
    fn pushes(&mut self) -> Vec<(PrivateTopic, Value)> {
        assert_eq!(self.ex.check_invariants(), Ok(()));
        self.ex.drain_private(&mut self.priv_b);
        self.priv_b
            .iter()
            .map(|(uid, t, f)| {
                assert_eq!(uid, UID);
                (
                    t,
                    serde_json::from_slice::<Value>(f).expect("private frame is JSON"),
                )
            })
            .collect()
    }
    fn data_of(&mut self, topic: PrivateTopic) -> Vec<Value> {
        self.pushes()
            .into_iter()
            .filter(|(t, _)| *t == topic)
            .flat_map(|(_, v)| v["data"].as_array().cloned().unwrap_or_default())
            .collect()
    }
    fn public(&mut self) -> Vec<(u32, Value, Option<u64>)> {
        self.ex.drain_public(&mut self.pub_b);
        self.pub_b
            .iter()
            .map(|(t, f, u)| {
                (
                    t.0,
                    serde_json::from_slice::<Value>(f).expect("public frame is JSON"),
                    u,
                )
            })
            .collect()
    }
}

fn postonly(side: &str, price: &str, qty: &str, link: &str) -> Value {
    json!({"category": "linear", "symbol": "BTCUSDT", "side": side, "orderType": "Limit",
           "qty": qty, "price": price, "timeInForce": "PostOnly", "orderLinkId": link})
}

/// A two-sided linear book: 5 lots bid at P, 5 lots ask at P+10.
fn two_sided(t: &mut T) {
    t.limit(LIN, Side::Buy, P, 5);
    t.limit(LIN, Side::Sell, P + 10, 5);
    t.pushes();
    t.public();
}

#[test]
fn postonly_place_amend_cancel_push_bybit_shapes() {
    let mut t = T::new();
    two_sided(&mut t);
    let r = t.req(Op::Create, postonly("Buy", "59999.0", "0.010", "mm-1"));
    assert_eq!(r.ret_code, 0, "{r:?}");
    let oid = r.result["orderId"].as_str().unwrap().to_string();
    assert_eq!(oid.len(), 36, "linear order ids are UUIDs");
    assert_eq!(r.result["orderLinkId"], "mm-1");
    let pushes = t.pushes();
    let order: Vec<&Value> = pushes
        .iter()
        .filter(|(k, _)| *k == PrivateTopic::Order)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(order.len(), 1);
    assert_eq!(order[0]["topic"], "order");
    let o = &order[0]["data"][0];
    assert_eq!(o["orderStatus"], "New");
    assert_eq!(o["orderId"], oid.as_str());
    assert_eq!(o["price"], "59999.0");
    assert_eq!(o["qty"], "0.010");
    assert_eq!(o["leavesQty"], "0.010");
    assert_eq!(o["timeInForce"], "PostOnly");
    assert_eq!(o["category"], "linear");
    assert!(pushes
        .iter()
        .any(|(k, v)| *k == PrivateTopic::Position && v["data"][0]["symbol"] == "BTCUSDT"));
    // The order rests on the public book too.
    let (bids, _) = t.ex.book_levels("BTCUSDT", LIN, 5).unwrap();
    assert_eq!(bids[1], (599_990, 10));

    let r = t.req(
        Op::Amend,
        json!({"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "mm-1", "qty": "0.007"}),
    );
    assert_eq!(r.ret_code, 0, "{r:?}");
    let o = t.data_of(PrivateTopic::Order);
    assert_eq!(o[0]["qty"], "0.007");
    assert_eq!(o[0]["orderStatus"], "New");
    assert_eq!(
        t.ex.book_levels("BTCUSDT", LIN, 2).unwrap().0[1],
        (599_990, 7)
    );

    let r = t.req(
        Op::Cancel,
        json!({"category": "linear", "symbol": "BTCUSDT", "orderId": oid}),
    );
    assert_eq!(r.ret_code, 0);
    let o = t.data_of(PrivateTopic::Order);
    assert_eq!(o[0]["orderStatus"], "Cancelled");
    assert_eq!(o[0]["cancelType"], "CancelByUser");
    assert_eq!(t.ex.book_levels("BTCUSDT", LIN, 1).unwrap().0[0], (P, 5));
    // Gone: cancelling again is "order not found".
    let r = t.req(
        Op::Cancel,
        json!({"category": "linear", "symbol": "BTCUSDT", "orderId": oid}),
    );
    assert_eq!(r.ret_code, 110001);
}

#[test]
fn crossing_postonly_is_accepted_then_cancelled() {
    let mut t = T::new();
    two_sided(&mut t);
    let r = t.req(Op::Create, postonly("Buy", "60001.0", "0.001", "x-1"));
    assert_eq!(r.ret_code, 0);
    assert!(!r.result["orderId"].as_str().unwrap().is_empty());
    let o = t.data_of(PrivateTopic::Order);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0]["orderStatus"], "Cancelled");
    assert_eq!(o[0]["cancelType"], "UNKNOWN");
    assert_eq!(o[0]["rejectReason"], "EC_PostOnlyWillTakeLiquidity");
    assert_eq!(o[0]["cumExecQty"], "0.000");
    // Nothing traded, the ask is intact.
    assert_eq!(
        t.ex.book_levels("BTCUSDT", LIN, 1).unwrap().1[0],
        (P + 10, 5)
    );
}

#[test]
fn resting_order_fills_only_after_the_queue_ahead_has_traded() {
    let mut t = T::new();
    two_sided(&mut t); // 5 synthetic lots at P, ahead of us
    let r = t.req(Op::Create, postonly("Buy", "60000.0", "0.002", "q-1"));
    assert_eq!(r.ret_code, 0);
    t.pushes();
    t.take(LIN, Side::Sell, 3);
    let p = t.pushes();
    assert!(
        p.iter().all(|(k, _)| *k != PrivateTopic::Execution),
        "3 of the 5 ahead traded: no fill yet"
    );
    assert_eq!(t.ex.book_levels("BTCUSDT", LIN, 1).unwrap().0[0], (P, 4));

    t.take(LIN, Side::Sell, 3); // 2 synthetic ahead + 1 of ours
    let p = t.pushes();
    let ex: Vec<&Value> = p
        .iter()
        .filter(|(k, _)| *k == PrivateTopic::Execution)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(ex.len(), 1);
    let e = &ex[0]["data"][0];
    assert_eq!(e["execQty"], "0.001");
    assert_eq!(e["execPrice"], "60000.0");
    assert_eq!(e["isMaker"], true);
    assert_eq!(e["orderLinkId"], "q-1");
    assert_eq!(e["leavesQty"], "0.001");
    assert_eq!(e["execType"], "Trade");
    let fast: Vec<&Value> = p
        .iter()
        .filter(|(k, _)| *k == PrivateTopic::ExecutionFast)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        fast[0]["data"][0]["orderLinkId"], "",
        "maker fills carry no orderLinkId on execution.fast"
    );
    assert_eq!(fast[0]["data"][0]["execQty"], "0.001");
    let o: Vec<&Value> = p
        .iter()
        .filter(|(k, _)| *k == PrivateTopic::Order)
        .map(|(_, v)| &v["data"][0])
        .collect();
    assert_eq!(o[0]["orderStatus"], "PartiallyFilled");
    assert_eq!(o[0]["cumExecQty"], "0.001");
    let pos: Vec<&Value> = p
        .iter()
        .filter(|(k, _)| *k == PrivateTopic::Position)
        .map(|(_, v)| &v["data"][0])
        .collect();
    assert_eq!(pos[0]["size"], "0.001");
    assert_eq!(pos[0]["side"], "Buy");
    assert_eq!(pos[0]["entryPrice"], "60000");

    t.take(LIN, Side::Sell, 1);
    let o = t.data_of(PrivateTopic::Order);
    assert_eq!(o[0]["orderStatus"], "Filled");
    assert_eq!(o[0]["cumExecQty"], "0.002");
    assert_eq!(o[0]["avgPrice"], "60000");
    assert!(t.ex.book_levels("BTCUSDT", LIN, 1).unwrap().0.is_empty());
}

#[test]
fn amend_price_loses_priority_and_qty_down_keeps_it() {
    // Qty down keeps priority: we are first, 5 synthetic behind.
    let mut t = T::new();
    t.limit(LIN, Side::Sell, P + 10, 5);
    assert_eq!(
        t.req(Op::Create, postonly("Buy", "60000.0", "0.003", "a-1"))
            .ret_code,
        0
    );
    t.limit(LIN, Side::Buy, P, 5);
    assert_eq!(
        t.req(
            Op::Amend,
            json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":"a-1","qty":"0.002"})
        )
        .ret_code,
        0
    );
    t.pushes();
    t.take(LIN, Side::Sell, 1);
    let e = t.data_of(PrivateTopic::Execution);
    assert_eq!(e.len(), 1, "still first in the queue after reducing qty");

    // Price amend sends us to the back: away and back again.
    let mut t = T::new();
    t.limit(LIN, Side::Sell, P + 10, 5);
    assert_eq!(
        t.req(Op::Create, postonly("Buy", "60000.0", "0.002", "b-1"))
            .ret_code,
        0
    );
    t.limit(LIN, Side::Buy, P, 5);
    for px in ["59999.0", "60000.0"] {
        let r = t.req(
            Op::Amend,
            json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":"b-1","price":px}),
        );
        assert_eq!(r.ret_code, 0, "{r:?}");
    }
    t.pushes();
    t.take(LIN, Side::Sell, 5);
    assert!(
        t.data_of(PrivateTopic::Execution).is_empty(),
        "behind the 5 synthetic lots now"
    );
    t.take(LIN, Side::Sell, 1);
    assert_eq!(t.data_of(PrivateTopic::Execution).len(), 1);
}

/// Bybit's rule, which the backtest's venue follows too: more size at the
/// same price goes to the back of the queue.
#[test]
fn amend_qty_up_loses_priority() {
    let mut t = T::new();
    t.limit(LIN, Side::Sell, P + 10, 5);
    assert_eq!(
        t.req(Op::Create, postonly("Buy", "60000.0", "0.002", "c-1"))
            .ret_code,
        0
    );
    t.limit(LIN, Side::Buy, P, 5);
    let r = t.req(
        Op::Amend,
        json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":"c-1","qty":"0.003"}),
    );
    assert_eq!(r.ret_code, 0, "{r:?}");
    t.pushes();
    t.take(LIN, Side::Sell, 5);
    assert!(
        t.data_of(PrivateTopic::Execution).is_empty(),
        "behind the 5 synthetic lots after raising qty"
    );
    t.take(LIN, Side::Sell, 1);
    assert_eq!(t.data_of(PrivateTopic::Execution).len(), 1);
}

#[test]
fn validation_errors_use_bybit_codes_and_change_nothing() {
    let mut t = T::new();
    t.limit(SPOT, Side::Sell, P + 10, 1_000_000);
    t.limit(LIN, Side::Sell, P + 10, 5);
    t.pushes();
    let lin = |price: &str, qty: &str| json!({"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","price":price,"qty":qty});
    let spot = |price: &str, qty: &str| json!({"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","price":price,"qty":qty});
    let cases: Vec<(Value, i64)> = vec![
        (lin("60000.05", "0.001"), 110003),
        (spot("60000.05", "0.001"), 170134),
        (lin("60000", "0.0001"), 10001),
        (spot("60000", "0.0000001"), 170137),
        (spot("60000", "0.000001"), 170136),
        (spot("60000", "0.00005"), 170140),
        (
            json!({"category":"linear","symbol":"XRPUSDT","side":"Buy","orderType":"Limit","price":"1.95","qty":"1"}),
            110094,
        ),
        (spot("60000", "80"), 170131),
        (lin("60000", "1000"), 110007),
        (lin("60000", "abc"), 10001),
        (
            json!({"category":"spot","symbol":"BTCUSDT","side":"Up","orderType":"Limit","price":"1","qty":"1"}),
            170130,
        ),
        (
            json!({"category":"linear","symbol":"NOPE","side":"Buy","orderType":"Limit","price":"1","qty":"1"}),
            10001,
        ),
    ];
    let before = t.ex.book_levels("BTCUSDT", LIN, 10);
    for (p, code) in cases {
        let r = t.req(Op::Create, p.clone());
        assert_eq!(r.ret_code, code, "{p} → {r:?}");
        assert!(!r.ret_msg.is_empty());
    }
    assert!(t.pushes().is_empty(), "rejected requests push nothing");
    assert_eq!(t.ex.book_levels("BTCUSDT", LIN, 10), before);

    let r = t.req(
        Op::Cancel,
        json!({"category":"spot","symbol":"BTCUSDT","orderId":"123"}),
    );
    assert_eq!(r.ret_code, 170213);
    let r = t.req(
        Op::Amend,
        json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":"nope","qty":"0.002"}),
    );
    assert_eq!(r.ret_code, 110001);
    let mut big = lin("59000", "0.001");
    big["orderLinkId"] = json!("big");
    assert_eq!(t.req(Op::Create, big).ret_code, 0);
    let amend = |f: &str, v: &str| json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":"big", f: v});
    assert_eq!(
        t.req(Op::Amend, amend("qty", "1000")).ret_code,
        110007,
        "amending up needs margin too"
    );
    assert_eq!(
        t.req(Op::Amend, amend("qty", "0.0015")).ret_code,
        10001,
        "qty precision on amend"
    );
    assert_eq!(
        t.req(Op::Amend, amend("price", "59000.01")).ret_code,
        110003,
        "price precision on amend"
    );
    t.pushes();

    assert_eq!(
        t.req(
            Op::Create,
            lin("59000", "0.001")
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("orderLinkId".into(), json!("dup"));
                    Value::Object(o)
                })
                .unwrap()
        )
        .ret_code,
        0
    );
    let mut d = lin("59000", "0.001");
    d["orderLinkId"] = json!("dup");
    assert_eq!(t.req(Op::Create, d).ret_code, 110072);
    let mut s = spot("59000", "0.001");
    s["orderLinkId"] = json!("sdup");
    assert_eq!(t.req(Op::Create, s.clone()).ret_code, 0);
    assert_eq!(t.req(Op::Create, s).ret_code, 170141);
}

#[test]
fn batch_reports_per_item_codes_under_envelope_zero() {
    let mut t = T::new();
    two_sided(&mut t);
    let r = t.req(
        Op::CreateBatch,
        json!({"category":"linear","request":[
            {"symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"59990.0","timeInForce":"PostOnly","orderLinkId":"b1"},
            {"symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"59990.05","timeInForce":"PostOnly","orderLinkId":"b2"}
        ]}),
    );
    assert_eq!(r.ret_code, 0);
    assert_eq!(r.ret_ext_info["list"][0]["code"], 0);
    assert_eq!(r.ret_ext_info["list"][1]["code"], 110003);
    assert_eq!(r.result["list"][1]["orderId"], "");
    assert_eq!(r.result["list"][1]["orderLinkId"], "b2");
    assert_eq!(r.result["list"][0]["orderLinkId"], "b1");
    assert!(!r.result["list"][0]["orderId"].as_str().unwrap().is_empty());

    let r = t.req(
        Op::CancelBatch,
        json!({"category":"linear","request":[
            {"symbol":"BTCUSDT","orderLinkId":"b1"}, {"symbol":"BTCUSDT","orderLinkId":"zz"}
        ]}),
    );
    assert_eq!(r.ret_code, 0);
    assert_eq!(r.ret_ext_info["list"][0]["code"], 0);
    assert_eq!(r.ret_ext_info["list"][1]["code"], 110001);

    let items: Vec<Value> = (0..11)
        .map(|i| json!({"symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"59000","orderLinkId":format!("s{i}")}))
        .collect();
    let r = t.req(Op::CreateBatch, json!({"category":"spot","request":items}));
    assert_eq!(r.ret_code, 170130, "spot batches hold at most 10");
}

#[test]
fn spot_balances_lock_and_settle() {
    let mut t = T::new();
    t.limit(SPOT, Side::Sell, P + 10, 1_000_000); // 1 BTC offered at 60001
    t.pushes();
    let wallet = |t: &mut T| {
        let r = t.req(Op::WalletBalance, json!({"accountType":"UNIFIED"}));
        let coins = r.result["list"][0]["coin"].as_array().unwrap().clone();
        let get = |c: &str, f: &str| {
            coins.iter().find(|x| x["coin"] == c).unwrap()[f]
                .as_str()
                .unwrap()
                .to_string()
        };
        (
            get("USDT", "walletBalance"),
            get("USDT", "locked"),
            get("BTC", "walletBalance"),
        )
    };
    assert_eq!(wallet(&mut t), ("1000000".into(), "0".into(), "10".into()));
    let r = t.req(Op::Create, json!({"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.5","price":"59000","orderLinkId":"sb"}));
    assert_eq!(r.ret_code, 0);
    assert_eq!(wallet(&mut t).1, "29500");
    t.req(
        Op::Cancel,
        json!({"category":"spot","symbol":"BTCUSDT","orderLinkId":"sb"}),
    );
    assert_eq!(wallet(&mut t).1, "0");
    // Taker buy 0.5 at 60001 with taker fee 0.00055 in BTC.
    let r = t.req(Op::Create, json!({"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.5","price":"60001","timeInForce":"IOC"}));
    assert_eq!(r.ret_code, 0);
    let p = t.pushes();
    assert!(p.iter().any(|(k, _)| *k == PrivateTopic::Wallet));
    let e = p
        .iter()
        .find(|(k, _)| *k == PrivateTopic::Execution)
        .unwrap();
    assert_eq!(e.1["data"][0]["isMaker"], false);
    assert_eq!(e.1["data"][0]["execFee"], "0.000275");
    assert_eq!(e.1["data"][0]["feeCurrency"], "BTC");
    assert_eq!(
        wallet(&mut t),
        ("969999.5".into(), "0".into(), "10.499725".into())
    );
}

#[test]
fn linear_position_realises_pnl() {
    let mut t = T::new();
    t.limit(LIN, Side::Sell, P + 10, 100);
    t.limit(LIN, Side::Buy, P, 100);
    let mk = |side: &str| json!({"category":"linear","symbol":"BTCUSDT","side":side,"orderType":"Market","qty":"0.010"});
    assert_eq!(t.req(Op::Create, mk("Buy")).ret_code, 0);
    let r = t.req(
        Op::PositionList,
        json!({"category":"linear","symbol":"BTCUSDT"}),
    );
    let row = &r.result["list"][0];
    assert_eq!(row["size"], "0.010");
    assert_eq!(row["side"], "Buy");
    assert_eq!(row["avgPrice"], "60001");
    assert_eq!(t.req(Op::Create, mk("Sell")).ret_code, 0);
    let r = t.req(
        Op::PositionList,
        json!({"category":"linear","symbol":"BTCUSDT"}),
    );
    let row = &r.result["list"][0];
    assert_eq!(row["size"], "0.000");
    assert_eq!(row["side"], "");
    // Bought 0.01 at 60001, sold 0.01 at 60000: −0.01 price PnL, minus two taker fees
    // (0.33000550 + 0.33) → −0.6700055.
    assert_eq!(row["cumRealisedPnl"], "-0.6700055");
}

#[test]
fn realtime_cancel_all_and_reference_endpoints() {
    let mut t = T::new();
    two_sided(&mut t);
    for i in 0..3 {
        let r = t.req(
            Op::Create,
            postonly("Buy", &format!("5999{i}.0"), "0.001", &format!("rt-{i}")),
        );
        assert_eq!(r.ret_code, 0);
    }
    let r = t.req(
        Op::OrderRealtime,
        json!({"category":"linear","symbol":"BTCUSDT"}),
    );
    let list = r.result["list"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["orderLinkId"], "rt-2", "newest first");
    let r = t.req(
        Op::OrderRealtime,
        json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":"rt-1"}),
    );
    assert_eq!(r.result["list"].as_array().unwrap().len(), 1);
    let r = t.req(
        Op::CancelAll,
        json!({"category":"linear","symbol":"BTCUSDT"}),
    );
    assert_eq!(r.result["list"].as_array().unwrap().len(), 3);
    assert_eq!(r.result["success"], "1");
    let r = t.req(
        Op::OrderRealtime,
        json!({"category":"linear","symbol":"BTCUSDT"}),
    );
    assert!(r.result["list"].as_array().unwrap().is_empty());
    assert_eq!(
        t.req(Op::CancelAll, json!({"category":"linear"})).ret_code,
        10001
    );

    let r = t.req(
        Op::InstrumentsInfo,
        json!({"category":"spot","symbol":"BTCUSDT"}),
    );
    let i = &r.result["list"][0];
    assert_eq!(i["lotSizeFilter"]["basePrecision"], "0.000001");
    assert_eq!(i["priceFilter"]["tickSize"], "0.1");
    assert!(i["lotSizeFilter"].get("qtyStep").is_none());
    let r = t.req(Op::InstrumentsInfo, json!({"category":"linear"}));
    assert_eq!(r.result["list"].as_array().unwrap().len(), 2);
    assert_eq!(r.result["list"][0]["lotSizeFilter"]["qtyStep"], "0.001");
    let r = t.req(
        Op::Orderbook,
        json!({"category":"linear","symbol":"BTCUSDT","limit":"5"}),
    );
    assert_eq!(r.result["b"][0], json!(["60000.0", "0.005"]));
    assert_eq!(r.result["a"][0], json!(["60001.0", "0.005"]));
    let r = t.req(Op::Time, json!({}));
    assert_eq!(r.result["timeSecond"], (t.now / 1000).to_string());
}

#[test]
fn realtime_pages_by_cursor_without_repeating_or_skipping_an_order() {
    let mut t = T::new();
    two_sided(&mut t);
    for i in 0..7 {
        let price = format!("{}.0", 59_900 + i);
        let r = t.req(
            Op::Create,
            postonly("Buy", &price, "0.001", &format!("pg-{i}")),
        );
        assert_eq!(r.ret_code, 0);
    }
    let page = |t: &mut T, cursor: &str| {
        let r = t.req(
            Op::OrderRealtime,
            json!({"category":"linear","symbol":"BTCUSDT","limit":"3","cursor":cursor}),
        );
        assert_eq!(r.ret_code, 0, "{:?}", r.result);
        let links: Vec<String> = r.result["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["orderLinkId"].as_str().unwrap().to_string())
            .collect();
        (
            links,
            r.result["nextPageCursor"].as_str().unwrap().to_string(),
        )
    };
    let (p1, c1) = page(&mut t, "");
    assert_eq!(p1, ["pg-6", "pg-5", "pg-4"], "newest first");
    // An order created between pages does not shift the next page.
    let r = t.req(Op::Create, postonly("Buy", "59950.0", "0.001", "pg-new"));
    assert_eq!(r.ret_code, 0);
    let (p2, c2) = page(&mut t, &c1);
    assert_eq!(p2, ["pg-3", "pg-2", "pg-1"]);
    let (p3, c3) = page(&mut t, &c2);
    assert_eq!(p3, ["pg-0"]);
    assert_eq!(c3, "", "the last page has no cursor");
    assert_eq!(
        t.req(
            Op::OrderRealtime,
            json!({"category":"linear","symbol":"BTCUSDT","cursor":"nonsense"}),
        )
        .ret_code,
        10001
    );
}

/// Applies snapshot/delta frames like a client would.
fn apply(book: &mut [BTreeMap<String, String>; 2], v: &Value) {
    if v["type"] == "snapshot" {
        book[0].clear();
        book[1].clear();
    }
    for (k, s) in [("b", 0), ("a", 1)] {
        for l in v["data"][k].as_array().unwrap() {
            let (p, q) = (
                l[0].as_str().unwrap().to_string(),
                l[1].as_str().unwrap().to_string(),
            );
            if q.chars().all(|c| c == '0' || c == '.') {
                book[s].remove(&p);
            } else {
                book[s].insert(p, q);
            }
        }
    }
}

fn as_ticks(book: &BTreeMap<String, String>, tick: Step, lot: Step, bids: bool) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = book
        .iter()
        .map(|(p, q)| {
            (
                tick.count(p.as_bytes()).unwrap(),
                lot.count(q.as_bytes()).unwrap(),
            )
        })
        .collect();
    v.sort();
    if bids {
        v.reverse();
    }
    v
}

#[test]
fn public_feed_snapshot_plus_deltas_track_the_book_with_window_semantics() {
    let cfg = ExchangeConfig::standard(
        7,
        MarketModel::Synthetic(SyntheticParams {
            events_per_sec: 0,
            ..Default::default()
        }),
    );
    let mut ex = Exchange::new(cfg).unwrap();
    let tick = Step::parse("0.1").unwrap();
    let lot = Step::parse("0.001").unwrap();
    let t50 = ex.open_topic(LIN, "orderbook.50.BTCUSDT").unwrap();
    let t1 = ex.open_topic(LIN, "orderbook.1.BTCUSDT").unwrap();
    let tt = ex.open_topic(LIN, "publicTrade.BTCUSDT").unwrap();
    assert_eq!(ex.open_topic(LIN, "orderbook.50.BTCUSDT").unwrap(), t50);
    assert!(ex.open_topic(LIN, "orderbook.25.BTCUSDT").is_err());
    let mut snap = Vec::new();
    assert!(ex.snapshot_message(t50, 1, &mut snap));
    let s: Value = serde_json::from_slice(&snap).unwrap();
    assert_eq!(s["type"], "snapshot");
    let mut u = s["data"]["u"].as_u64().unwrap();
    let mut local = [BTreeMap::new(), BTreeMap::new()];
    apply(&mut local, &s);
    let mut batch = PublicBatch::default();
    let mut trades = 0;
    let mut u1: Option<u64> = None;
    let mut now = 1_000;
    for _ in 0..40 {
        now += 1;
        ex.step(now, 100);
        ex.drain_public(&mut batch);
        for (tid, f, uid) in batch.iter() {
            let v: Value = serde_json::from_slice(f).unwrap();
            if tid == t50 {
                assert_eq!(v["type"], "delta");
                assert_eq!(
                    v["data"]["u"].as_u64(),
                    Some(u + 1),
                    "u increments by one per message"
                );
                assert_eq!(uid, Some(u + 1));
                u += 1;
                assert!(v["cts"].as_u64() <= v["ts"].as_u64());
                apply(&mut local, &v);
                assert!(
                    local[0].len() <= 50 && local[1].len() <= 50,
                    "top-50 window"
                );
            } else if tid == t1 {
                assert_eq!(v["type"], "snapshot", "depth 1 is snapshot-only");
                assert!(v["data"]["b"].as_array().unwrap().len() <= 1);
                let nu = v["data"]["u"].as_u64().unwrap();
                assert!(u1.is_none_or(|p| nu == p + 1));
                u1 = Some(nu);
            } else if tid == tt {
                trades += v["data"].as_array().unwrap().len();
                assert!(v["data"][0]["L"].is_string());
            }
        }
        let (b, a) = ex.book_levels("BTCUSDT", LIN, 50).unwrap();
        assert_eq!(as_ticks(&local[0], tick, lot, true), b);
        assert_eq!(as_ticks(&local[1], tick, lot, false), a);
    }
    assert!(trades > 0, "aggressive flow printed trades");
    // The synthetic book has runs of empty ticks for the gap signal.
    let (b, _) = ex.book_levels("BTCUSDT", LIN, 50).unwrap();
    assert!(
        b.windows(2).any(|w| w[0].0 - w[1].0 > 1),
        "gaps exist: {b:?}"
    );

    // Faults.
    assert!(ex.skip_update_id(t50));
    let mut n = 0;
    while n < 1000 {
        now += 1;
        ex.step(now, 1);
        ex.drain_public(&mut batch);
        if let Some((_, f, _)) = batch.iter().find(|x| x.0 == t50) {
            let v: Value = serde_json::from_slice(f).unwrap();
            assert_eq!(v["data"]["u"].as_u64(), Some(u + 2));
            break;
        }
        n += 1;
    }
    assert!(n < 1000);
    assert!(ex.restart_book(LIN, "BTCUSDT", now));
    ex.drain_public(&mut batch);
    let v: Value = serde_json::from_slice(batch.iter().find(|x| x.0 == t50).unwrap().1).unwrap();
    assert_eq!(v["type"], "snapshot");
    assert_eq!(v["data"]["u"], 1);
}

#[test]
fn same_seed_same_public_bytes() {
    let run = |seed: u64| {
        let cfg =
            ExchangeConfig::standard(seed, MarketModel::Synthetic(SyntheticParams::default()));
        let mut ex = Exchange::new(cfg).unwrap();
        ex.open_topic(LIN, "orderbook.50.BTCUSDT").unwrap();
        ex.open_topic(SPOT, "orderbook.200.BTCUSDT").unwrap();
        ex.open_topic(LIN, "publicTrade.XRPUSDT").unwrap();
        let mut all = Vec::new();
        let mut b = PublicBatch::default();
        for ms in (0..2_000u64).step_by(10) {
            ex.step(1_000_000 + ms, 1000);
            ex.drain_public(&mut b);
            all.extend_from_slice(&b.bytes);
        }
        all
    };
    let a = run(11);
    assert!(a.len() > 10_000);
    assert_eq!(a, run(11));
    assert_ne!(a, run(12));
}

#[test]
fn synthetic_rate_is_honoured() {
    let cfg = ExchangeConfig::standard(
        3,
        MarketModel::Synthetic(SyntheticParams {
            events_per_sec: 500,
            ..Default::default()
        }),
    );
    let mut ex = Exchange::new(cfg).unwrap();
    let (n0, next) = ex.step(10_000, 10_000);
    assert_eq!(n0, 1, "the first event is due at the first step");
    assert_eq!(next, Some(10_002));
    let (n, _) = ex.step(11_000, 10_000);
    assert_eq!(n, 500, "one second at 500 events/s");
}

#[test]
fn replay_reproduces_the_recorded_books() {
    let path = common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip");
    let path = path.as_path();
    let cfg = ExchangeConfig::standard(
        1,
        MarketModel::Replay(ReplayConfig {
            path: path.to_path_buf(),
            symbol: "XRPUSDT".into(),
            category: LIN,
            speed: 0.0,
        }),
    );
    let mut ex = Exchange::new(cfg).unwrap();
    // Naive replay of the same file.
    let text = {
        use std::io::Read;
        let f = std::fs::File::open(path).unwrap();
        let mut z = zip::ZipArchive::new(f).unwrap();
        let mut s = String::new();
        z.by_index(0).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let tick = Step::parse("0.0001").unwrap();
    let lot = Step::parse("1").unwrap();
    let mut naive = [BTreeMap::new(), BTreeMap::new()];
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        apply(&mut naive, &v);
        let (n, _) = ex.step(5_000, 1);
        assert_eq!(n, 1);
        lines += 1;
        if i % 7 == 0 || i + 1 == text.lines().count() {
            let (b, a) = ex.book_levels("XRPUSDT", LIN, 1000).unwrap();
            assert_eq!(
                b,
                as_ticks(&naive[0], tick, lot, true),
                "bids after line {i}"
            );
            assert_eq!(
                a,
                as_ticks(&naive[1], tick, lot, false),
                "asks after line {i}"
            );
            // The matching engine agrees with the aggregated view.
            let (p, q) = b[0];
            assert_eq!(
                ex.engine_qty_at("XRPUSDT", LIN, Side::Buy, p),
                Some(q as u64)
            );
        }
    }
    assert_eq!(lines, 50);
    assert_eq!(ex.step(5_000, 1), (0, None), "replay finished");
}

#[test]
fn replay_at_recorded_speed_waits_for_the_clock() {
    let path = common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip");
    let path = path.as_path();
    let cfg = ExchangeConfig::standard(
        1,
        MarketModel::Replay(ReplayConfig {
            path: path.to_path_buf(),
            symbol: "XRPUSDT".into(),
            category: LIN,
            speed: 1.0,
        }),
    );
    let mut ex = Exchange::new(cfg).unwrap();
    let (n, next) = ex.step(100, 1000);
    assert!(n >= 1);
    let next = next.unwrap();
    assert!(next > 100);
    let (n2, _) = ex.step(next - 1, 1000);
    assert_eq!(n2, 0, "nothing before it is due");
    let (n3, _) = ex.step(100 + 10_000, 1000);
    assert_eq!(n + n3, 50, "the recording spans ~4.8 s");
}

#[test]
fn a_client_order_resting_in_a_replayed_book_fills_by_queue() {
    let path = common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip");
    let path = path.as_path();
    let cfg = ExchangeConfig::standard(
        1,
        MarketModel::Replay(ReplayConfig {
            path: path.to_path_buf(),
            symbol: "XRPUSDT".into(),
            category: LIN,
            speed: 0.0,
        }),
    );
    let mut ex = Exchange::new(cfg).unwrap();
    ex.step(1, 1); // the snapshot
    let (b, _) = ex.book_levels("XRPUSDT", LIN, 1).unwrap();
    let best = b[0];
    let price = Step::parse("0.0001").unwrap().display(best.0).to_string();
    let r = ex.request(
        Some(UID),
        Op::Create,
        &json!({"category":"linear","symbol":"XRPUSDT","side":"Buy","orderType":"Limit","qty":"100","price":price,"timeInForce":"PostOnly"}),
        2,
    );
    assert_eq!(r.ret_code, 0);
    let (b, _) = ex.book_levels("XRPUSDT", LIN, 1).unwrap();
    assert_eq!(
        b[0],
        (best.0, best.1 + 100),
        "the client's size is added to the recorded level"
    );
    // Selling less than the queue ahead leaves us unfilled.
    ex.inject_take(LIN, "XRPUSDT", Side::Sell, best.1 - 1, 3);
    let mut pb = PrivateBatch::default();
    ex.drain_private(&mut pb);
    assert!(pb.iter().all(|(_, t, _)| t != PrivateTopic::Execution));
    ex.inject_take(LIN, "XRPUSDT", Side::Sell, 51, 4);
    ex.drain_private(&mut pb);
    let e = pb.iter().find(|x| x.1 == PrivateTopic::Execution).unwrap();
    let v: Value = serde_json::from_slice(e.2).unwrap();
    assert_eq!(v["data"][0]["execQty"], "50");
}

fn assert_has(v: &Value, fields: &[&str], what: &str) {
    for f in fields {
        assert!(v.get(*f).is_some(), "{what} lacks `{f}`: {v}");
    }
}

/// Every field Bybit's own samples of each private topic carry (protocol.md
/// §5.3–5.7) is present in ours, with the same JSON type for the ones an
/// engine decodes.
#[test]
fn private_and_public_frames_carry_bybit_fields() {
    let mut t = T::new();
    two_sided(&mut t);
    let tt = t.ex.open_topic(LIN, "publicTrade.BTCUSDT").unwrap();
    assert_eq!(
        t.req(Op::Create, postonly("Buy", "60000.0", "0.001", "f-1"))
            .ret_code,
        0
    );
    t.pushes();
    t.take(LIN, Side::Sell, 6);
    let p = t.pushes();
    let get = |k: PrivateTopic| {
        p.iter()
            .find(|(t, _)| *t == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let order = get(PrivateTopic::Order);
    assert_has(
        &order,
        &["id", "topic", "creationTime", "data"],
        "order envelope",
    );
    assert_has(
        &order["data"][0],
        &[
            "avgPrice",
            "blockTradeId",
            "cancelType",
            "category",
            "closeOnTrigger",
            "closedPnl",
            "createType",
            "createdTime",
            "cumExecFee",
            "cumExecQty",
            "cumExecValue",
            "cumFeeDetail",
            "feeCurrency",
            "lastPriceOnCreated",
            "leavesQty",
            "leavesValue",
            "orderId",
            "orderIv",
            "orderLinkId",
            "orderStatus",
            "orderType",
            "placeType",
            "positionIdx",
            "price",
            "qty",
            "reduceOnly",
            "rejectReason",
            "rpiMatchedQty",
            "rpiTakerAccess",
            "side",
            "slLimitPrice",
            "slTriggerBy",
            "smpGroup",
            "smpOrderId",
            "smpType",
            "stopLoss",
            "stopOrderType",
            "symbol",
            "takeProfit",
            "timeInForce",
            "tpLimitPrice",
            "tpTriggerBy",
            "tpslMode",
            "triggerBy",
            "triggerDirection",
            "triggerPrice",
            "updatedTime",
        ],
        "order",
    );
    assert!(
        order["data"][0]["positionIdx"].is_i64() && order["data"][0]["createdTime"].is_string()
    );
    let exec = get(PrivateTopic::Execution);
    assert_has(
        &exec["data"][0],
        &[
            "blockTradeId",
            "category",
            "closedSize",
            "createType",
            "execFee",
            "execId",
            "execPnl",
            "execPrice",
            "execQty",
            "execTime",
            "execType",
            "execValue",
            "extraFees",
            "feeCurrency",
            "feeRate",
            "indexPrice",
            "isLeverage",
            "isMaker",
            "leavesQty",
            "markIv",
            "markPrice",
            "marketUnit",
            "orderId",
            "orderLinkId",
            "orderPrice",
            "orderQty",
            "orderType",
            "seq",
            "side",
            "stopOrderType",
            "symbol",
            "tradeIv",
            "underlyingPrice",
        ],
        "execution",
    );
    assert!(exec["data"][0]["seq"].is_u64() && exec["data"][0]["isMaker"].is_boolean());
    let fast = get(PrivateTopic::ExecutionFast);
    assert!(fast.get("id").is_none(), "execution.fast has no id");
    assert_has(
        &fast["data"][0],
        &[
            "category",
            "execId",
            "execPrice",
            "execQty",
            "execTime",
            "isMaker",
            "orderId",
            "orderLinkId",
            "seq",
            "side",
            "symbol",
        ],
        "execution.fast",
    );
    let pos = get(PrivateTopic::Position);
    assert_has(
        &pos["data"][0],
        &[
            "adlRankIndicator",
            "autoAddMargin",
            "breakEvenPrice",
            "bustPrice",
            "category",
            "createdTime",
            "cumRealisedPnl",
            "curRealisedPnl",
            "entryPrice",
            "isReduceOnly",
            "leverage",
            "leverageSysUpdatedTime",
            "liqPrice",
            "markPrice",
            "mmrSysUpdatedTime",
            "positionBalance",
            "positionIM",
            "positionIMByMp",
            "positionIdx",
            "positionMM",
            "positionMMByMp",
            "positionStatus",
            "positionValue",
            "riskId",
            "riskLimitValue",
            "seq",
            "sessionAvgPrice",
            "side",
            "size",
            "stopLoss",
            "symbol",
            "takeProfit",
            "tpslMode",
            "tradeMode",
            "trailingStop",
            "unrealisedPnl",
            "updatedTime",
        ],
        "position",
    );
    let w = get(PrivateTopic::Wallet);
    assert_has(
        &w["data"][0],
        &[
            "accountIMRate",
            "accountIMRateByMp",
            "accountLTV",
            "accountMMRate",
            "accountMMRateByMp",
            "accountType",
            "coin",
            "totalAvailableBalance",
            "totalEquity",
            "totalInitialMargin",
            "totalInitialMarginByMp",
            "totalMaintenanceMargin",
            "totalMaintenanceMarginByMp",
            "totalMarginBalance",
            "totalPerpUPL",
            "totalWalletBalance",
        ],
        "wallet",
    );
    assert_has(
        &w["data"][0]["coin"][0],
        &[
            "accruedInterest",
            "availableToBorrow",
            "availableToWithdraw",
            "bonus",
            "borrowAmount",
            "coin",
            "collateralSwitch",
            "cumRealisedPnl",
            "equity",
            "locked",
            "marginCollateral",
            "spotBorrow",
            "spotHedgingQty",
            "totalOrderIM",
            "totalPositionIM",
            "totalPositionMM",
            "unrealisedPnl",
            "usdValue",
            "walletBalance",
        ],
        "wallet coin",
    );
    let pubs = t.public();
    let trade = pubs
        .iter()
        .find(|(id, _, _)| *id == tt.0)
        .map(|x| x.1.clone())
        .unwrap();
    assert_eq!(trade["type"], "snapshot");
    assert_has(
        &trade["data"][0],
        &["T", "s", "S", "v", "p", "L", "i", "BT", "RPI", "seq"],
        "publicTrade",
    );
    // The taker sold 6: 5 synthetic + 1 of ours, all at 60000.0.
    let total: f64 = trade["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["v"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((total - 0.006).abs() < 1e-9);
    assert!(trade["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["S"] == "Sell" && x["p"] == "60000.0"));
}

#[test]
fn open_order_cap_and_spot_market_buy_in_quote_units() {
    let mut cfg = ExchangeConfig::standard(42, MarketModel::Quiet);
    cfg.max_open_orders = 2;
    let mut t = T::new();
    t.ex = Exchange::new(cfg).unwrap();
    two_sided(&mut t);
    for (i, code) in [(0, 0), (1, 0), (2, 110020)] {
        let r = t.req(
            Op::Create,
            postonly("Buy", "59990.0", "0.001", &format!("cap-{i}")),
        );
        assert_eq!(r.ret_code, code);
    }
    // Spot market buy of 600.01 USDT (quote units by default) takes 0.01 BTC at 60001.
    t.limit(SPOT, Side::Sell, P + 10, 1_000_000);
    t.pushes();
    let r = t.req(Op::Create, json!({"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"600.01"}));
    assert_eq!(r.ret_code, 0, "{r:?}");
    let o = t.data_of(PrivateTopic::Order);
    assert_eq!(o[0]["orderStatus"], "Filled");
    assert_eq!(o[0]["cumExecQty"], "0.010000");
    assert_eq!(o[0]["cumExecValue"], "600.01");
    // With marketUnit=baseCoin the qty is base.
    let r = t.req(
        Op::Create,
        json!({"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"0.02","marketUnit":"baseCoin"}),
    );
    assert_eq!(r.ret_code, 0);
    assert_eq!(t.data_of(PrivateTopic::Order)[0]["cumExecQty"], "0.020000");
}

#[test]
fn ioc_remainder_is_cancelled_and_gtc_remainder_rests() {
    let mut t = T::new();
    two_sided(&mut t);
    let r = t.req(
        Op::Create,
        json!({"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.008","price":"60001.0","timeInForce":"IOC"}),
    );
    assert_eq!(r.ret_code, 0);
    let o = t.data_of(PrivateTopic::Order);
    assert_eq!(o[0]["orderStatus"], "Cancelled");
    assert_eq!(o[0]["cumExecQty"], "0.005");
    assert!(
        t.ex.book_levels("BTCUSDT", LIN, 1).unwrap().1.is_empty(),
        "asks swept"
    );
    t.limit(LIN, Side::Sell, P + 10, 5);
    t.pushes();
    let r = t.req(
        Op::Create,
        json!({"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.008","price":"60001.0"}),
    );
    assert_eq!(r.ret_code, 0);
    let o = t.data_of(PrivateTopic::Order);
    assert_eq!(o[0]["orderStatus"], "PartiallyFilled");
    assert_eq!(o[0]["leavesQty"], "0.003");
    assert_eq!(
        t.ex.book_levels("BTCUSDT", LIN, 1).unwrap().0[0],
        (P + 10, 3),
        "the remainder rests as the new best bid"
    );
}

#[test]
fn synthetic_market_has_tight_spreads_and_gaps_behind_the_touch() {
    let cfg = ExchangeConfig::standard(
        21,
        MarketModel::Synthetic(SyntheticParams {
            events_per_sec: 0,
            ..Default::default()
        }),
    );
    let mut ex = Exchange::new(cfg).unwrap();
    let mut spreads = Vec::new();
    let mut gappy = 0;
    for i in 0..300u64 {
        ex.step(1_000 + i, 50);
        let (b, a) = ex.book_levels("XRPUSDT", LIN, 20).unwrap();
        assert!(b.len() >= 10 && a.len() >= 10, "both sides stay populated");
        assert!(b[0].0 < a[0].0, "never crossed");
        spreads.push(a[0].0 - b[0].0);
        if b.windows(2)
            .chain(a.windows(2))
            .any(|w| (w[0].0 - w[1].0).abs() > 1)
        {
            gappy += 1;
        }
    }
    spreads.sort();
    assert!(
        spreads[spreads.len() / 2] <= 3,
        "median spread {} ticks",
        spreads[spreads.len() / 2]
    );
    assert!(
        gappy > 250,
        "runs of empty ticks behind the touch ({gappy}/300)"
    );
}

#[test]
fn exchange_can_move_to_a_server_thread() {
    fn is_send<T: Send>() {}
    is_send::<Exchange>();
}

#[test]
fn closed_topics_stop_and_reopen_fresh() {
    let mut t = T::new();
    let a = t.ex.open_topic(LIN, "orderbook.50.BTCUSDT").unwrap();
    let tr = t.ex.open_topic(LIN, "publicTrade.BTCUSDT").unwrap();
    two_sided(&mut t);
    assert!(t.ex.close_topic(a));
    assert!(!t.ex.close_topic(a), "already closed");
    let mut buf = Vec::new();
    assert!(!t.ex.snapshot_message(a, 1, &mut buf));
    t.take(LIN, Side::Sell, 1);
    let frames = t.public();
    assert!(
        frames.iter().all(|(id, _, _)| *id != a.0),
        "no frames for a closed topic"
    );
    assert!(
        frames.iter().any(|(id, _, _)| *id == tr.0),
        "other topics continue"
    );
    let b = t.ex.open_topic(LIN, "orderbook.50.BTCUSDT").unwrap();
    assert_ne!(a, b);
    assert!(t.ex.snapshot_message(b, 1, &mut buf));
    let v: Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["data"]["b"][0], json!(["60000.0", "0.004"]));
}

#[test]
fn paced_mode_coalesces_book_changes_into_bybit_intervals() {
    let mut cfg = ExchangeConfig::standard(
        5,
        MarketModel::Synthetic(SyntheticParams {
            events_per_sec: 0,
            ..Default::default()
        }),
    );
    cfg.paced = true;
    let mut ex = Exchange::new(cfg).unwrap();
    let tick = Step::parse("0.1").unwrap();
    let lot = Step::parse("0.001").unwrap();
    let t50 = ex.open_topic(LIN, "orderbook.50.BTCUSDT").unwrap();
    let mut snap = Vec::new();
    assert!(ex.snapshot_message(t50, 0, &mut snap));
    let s: Value = serde_json::from_slice(&snap).unwrap();
    let mut u = s["data"]["u"].as_u64().unwrap();
    let mut local = [BTreeMap::new(), BTreeMap::new()];
    apply(&mut local, &s);
    let mut batch = PublicBatch::default();
    let mut frames = 0;
    let mut now = 1_000_000u64;
    let mut consume =
        |ex: &mut Exchange, local: &mut [BTreeMap<String, String>; 2], frames: &mut usize| {
            ex.drain_public(&mut batch);
            for (id, f, _) in batch.iter() {
                if id == t50 {
                    let v: Value = serde_json::from_slice(f).unwrap();
                    assert_eq!(v["data"]["u"].as_u64(), Some(u + 1));
                    u += 1;
                    apply(local, &v);
                    *frames += 1;
                }
            }
        };
    for _ in 0..100 {
        now += 5;
        let (n, next) = ex.step(now, 60);
        assert_eq!(n, 60);
        assert_eq!(next, Some(now), "as fast as possible");
        consume(&mut ex, &mut local, &mut frames);
    }
    // 500 ms at one push per 20 ms at most.
    assert!((10..=26).contains(&frames), "{frames} frames");
    // Whatever is still pending goes out once its interval has passed.
    ex.step(now + 25, 0);
    consume(&mut ex, &mut local, &mut frames);
    let (b, a) = ex.book_levels("BTCUSDT", LIN, 50).unwrap();
    assert_eq!(as_ticks(&local[0], tick, lot, true), b);
    assert_eq!(as_ticks(&local[1], tick, lot, false), a);
}

#[test]
fn the_audit_counts_a_second_order_on_one_side_and_every_execution() {
    let mut t = T::new();
    two_sided(&mut t);
    let audit = |t: &T| {
        t.ex.audit("simkey", LIN, "BTCUSDT")
            .expect("account and book")
    };
    assert_eq!(audit(&t).book.placed, 0);
    // One bid and one ask: no duplicate.
    for (side, px, link) in [("Buy", "59999.0", "a1"), ("Sell", "60002.0", "a2")] {
        let r = t.req(Op::Create, postonly(side, px, "0.010", link));
        assert_eq!(r.ret_code, 0, "{r:?}");
    }
    let a = audit(&t);
    assert_eq!((a.book.placed, a.book.placed_beside_open), (2, 0));
    assert_eq!(a.book.max_open_per_side, 1);
    // A second bid while the first is open is a duplicate.
    let r = t.req(Op::Create, postonly("Buy", "59998.0", "0.010", "a3"));
    assert_eq!(r.ret_code, 0, "{r:?}");
    let a = audit(&t);
    assert_eq!((a.book.placed, a.book.placed_beside_open), (3, 1));
    assert_eq!(a.book.open_per_side, [2, 1]);
    // Cancelling it ends the overlap; a new bid after that is not one.
    let r = t.req(
        Op::Cancel,
        json!({"category":"linear","symbol":"BTCUSDT","orderLinkId":"a3"}),
    );
    assert_eq!(r.ret_code, 0, "{r:?}");
    assert_eq!(audit(&t).book.open_per_side, [1, 1]);
    // A taker sweeps our ask: one execution, net short, ids as the pushes carry them.
    t.pushes();
    t.take(LIN, Side::Buy, 10_000);
    let execs = t.data_of(PrivateTopic::Execution);
    let a = audit(&t);
    let ours: Vec<&str> = execs.iter().filter_map(|e| e["execId"].as_str()).collect();
    assert!(!ours.is_empty(), "the ask traded");
    assert_eq!(a.exec_ids, ours);
    assert_eq!(a.book.net_lots, -10);
    assert_eq!(a.book.max_abs_net_lots, 10);
    assert_eq!(a.book.open_per_side, [1, 0]);
    assert!(t.ex.audit("nobody", LIN, "BTCUSDT").is_none());
}
