//! The simulator's market-data, order-history and account endpoints over real
//! loopback sockets (`/v5/market/tickers`, `/v5/market/recent-trade`,
//! `/v5/order/history`, `/v5/asset/coin/query-info`, `/v5/user/query-api`,
//! `/v5/account/info`, instruments of the categories it lists nothing in), and
//! ids that differ between two starts of one seed while the core stays
//! reproducible. A second account makes the book so every value is known.

mod sim_common;

use gapmm::ids::Category;
use gapmm::sim::account::iso8601_utc;
use gapmm::sim::exchange::{AccountConfig, Exchange, ExchangeConfig, Instance, Op, PrivateBatch};
use gapmm::sim::market::MarketModel;
use gapmm::sim::{Sim, SimConfig, SimHandle};
use gapmm::units::Side;
use serde_json::{json, Value};
use sim_common::*;

const MAKER_KEY: &str = "makerkey";
const MAKER_SECRET: &str = "makersecret";
const MAKER_UID: u64 = 2001;
const MY_UID: u64 = 1001;

/// A quiet simulator (no synthetic flow: the book holds only what the test
/// puts there) with the standard account and a well-funded maker account;
/// `scale` multiplies the rate limits.
fn start(seed: u64, scale: u32) -> SimHandle {
    let mut ex = ExchangeConfig::standard(seed, MarketModel::Quiet);
    ex.accounts.push(AccountConfig {
        uid: MAKER_UID,
        api_key: MAKER_KEY.into(),
        api_secret: MAKER_SECRET.into(),
        balances: vec![
            ("USDT".into(), "100000000".into()),
            ("BTC".into(), "1000".into()),
        ],
    });
    // The recent-trade test rests more than Bybit's 500 orders on one symbol.
    ex.max_open_orders = 2000;
    let mut cfg = SimConfig::new(ex);
    cfg.rate_limit_scale = scale;
    Sim::start(cfg).expect("simulator starts")
}

/// A signed REST client of one account.
struct Client {
    h: Http,
    key: String,
    secret: String,
}

impl Client {
    fn new(sim: &SimHandle, key: &str, secret: &str) -> Client {
        Client {
            h: Http::new(sim.addr(), None),
            key: key.into(),
            secret: secret.into(),
        }
    }
    fn me(sim: &SimHandle) -> Client {
        Client::new(sim, sim.api_key(), sim.api_secret())
    }
    fn maker(sim: &SimHandle) -> Client {
        Client::new(sim, MAKER_KEY, MAKER_SECRET)
    }
    fn get_resp(&mut self, path: &str, query: &str) -> Resp {
        let r = self.h.signed("GET", path, query, &self.key, &self.secret);
        assert_eq!(r.status, 200, "{path}?{query}");
        r
    }
    fn get(&mut self, path: &str, query: &str) -> Value {
        self.get_resp(path, query).json()
    }
    fn post(&mut self, path: &str, body: &Value) -> Value {
        let r = self
            .h
            .signed("POST", path, &body.to_string(), &self.key, &self.secret);
        assert_eq!(r.status, 200);
        r.json()
    }
    /// A limit order that must be accepted; returns its orderId.
    fn limit(
        &mut self,
        cat: &str,
        side: &str,
        price: &str,
        qty: &str,
        tif: &str,
        link: &str,
    ) -> String {
        let mut body = json!({"category": cat, "symbol": "BTCUSDT", "side": side,
            "orderType": "Limit", "price": price, "qty": qty, "timeInForce": tif});
        if !link.is_empty() {
            body["orderLinkId"] = json!(link);
        }
        let v = self.post("/v5/order/create", &body);
        assert_eq!(v["retCode"], 0, "{v}");
        v["result"]["orderId"].as_str().unwrap().to_string()
    }
    /// `n` identical resting orders through create-batch (`per` per request).
    fn rest_many(&mut self, cat: &str, side: &str, price: &str, qty: &str, n: usize, per: usize) {
        let mut left = n;
        while left > 0 {
            let k = left.min(per);
            let items: Vec<Value> = (0..k)
                .map(|_| {
                    json!({"symbol": "BTCUSDT", "side": side, "orderType": "Limit",
                    "price": price, "qty": qty, "timeInForce": "GTC"})
                })
                .collect();
            let v = self.post(
                "/v5/order/create-batch",
                &json!({"category": cat, "request": items}),
            );
            assert_eq!(v["retCode"], 0, "{v}");
            for e in v["retExtInfo"]["list"].as_array().unwrap() {
                assert_eq!(e["code"], 0, "{v}");
            }
            left -= k;
        }
    }
}

/// An unsigned GET (the public market endpoints).
fn public(sim: &SimHandle, path: &str, query: &str) -> Value {
    let r = Http::new(sim.addr(), None).get(path, query);
    assert_eq!(r.status, 200, "{path}?{query}");
    r.json()
}

fn ticker(sim: &SimHandle, cat: &str) -> Value {
    let v = public(
        sim,
        "/v5/market/tickers",
        &format!("category={cat}&symbol=BTCUSDT"),
    );
    assert_eq!(v["retCode"], 0, "{v}");
    assert_eq!(v["result"]["category"], cat);
    let list = v["result"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    list[0].clone()
}

fn keys(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn links(v: &Value) -> Vec<String> {
    v["result"]["list"]
        .as_array()
        .unwrap_or_else(|| panic!("no list: {v}"))
        .iter()
        .map(|o| o["orderLinkId"].as_str().unwrap().to_string())
        .collect()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[test]
fn tickers_quote_the_books_best_levels_and_the_trades_it_matched() {
    let sim = start(11, 1);
    let mut maker = Client::maker(&sim);
    let mut me = Client::me(&sim);
    // Linear: two bids on one level (their sizes add up), asks on two levels.
    maker.limit("linear", "Buy", "59990.0", "0.010", "GTC", "");
    maker.limit("linear", "Buy", "59990.0", "0.005", "GTC", "");
    maker.limit("linear", "Buy", "59980.0", "0.050", "GTC", "");
    maker.limit("linear", "Sell", "60010.0", "0.020", "GTC", "");
    maker.limit("linear", "Sell", "60020.0", "0.500", "GTC", "");
    maker.limit("spot", "Buy", "59995.0", "0.010000", "GTC", "");
    maker.limit("spot", "Sell", "60005.0", "0.020000", "GTC", "");

    // Before any trade: the best levels, the start price as last price, no volume.
    let t = ticker(&sim, "linear");
    assert_eq!(
        (
            &t["bid1Price"],
            &t["bid1Size"],
            &t["ask1Price"],
            &t["ask1Size"]
        ),
        (
            &json!("59990.0"),
            &json!("0.015"),
            &json!("60010.0"),
            &json!("0.020")
        )
    );
    let ob = public(
        &sim,
        "/v5/market/orderbook",
        "category=linear&symbol=BTCUSDT&limit=1",
    );
    assert_eq!(t["bid1Price"], ob["result"]["b"][0][0]);
    assert_eq!(t["bid1Size"], ob["result"]["b"][0][1]);
    assert_eq!(t["ask1Price"], ob["result"]["a"][0][0]);
    assert_eq!(t["ask1Size"], ob["result"]["a"][0][1]);
    let (bids, asks) = sim
        .book_levels("BTCUSDT", Category::Linear, 1)
        .unwrap()
        .unwrap();
    assert_eq!((bids[0], asks[0]), ((599_900, 15), (600_100, 20)));
    assert_eq!(t["lastPrice"], "60000.0");
    assert_eq!(
        (&t["volume24h"], &t["turnover24h"]),
        (&json!("0.000"), &json!("0"))
    );

    // The account lifts 0.003 of the ask, then sells 0.002 into the bid.
    me.limit("linear", "Buy", "60010.0", "0.003", "IOC", "t-buy");
    me.limit("linear", "Sell", "59990.0", "0.002", "IOC", "t-sell");
    let before = now_ms();
    let t = ticker(&sim, "linear");
    let expect = json!({
        "symbol": "BTCUSDT",
        "bid1Price": "59990.0", "bid1Size": "0.013",
        "ask1Price": "60010.0", "ask1Size": "0.017",
        "lastPrice": "59990.0",
        "prevPrice24h": "60010.0", "prevPrice1h": "60010.0",
        // (59990 − 60010) / 60010, six decimals, truncated.
        "price24hPcnt": "-0.000333",
        "highPrice24h": "60010.0", "lowPrice24h": "59990.0",
        "volume24h": "0.005",
        // 60010 × 0.003 + 59990 × 0.002
        "turnover24h": "300.01",
        // The mid of 59990.0 / 60010.0.
        "markPrice": "60000.0", "indexPrice": "60000.0",
        // One account is long 0.001, the maker short 0.001.
        "openInterest": "0.001", "openInterestValue": "60",
        "fundingRate": "0", "deliveryTime": "0",
    });
    for (k, want) in expect.as_object().unwrap() {
        assert_eq!(&t[k], want, "{k} in {t}");
    }
    // Every documented field is there and every value is a string.
    for k in [
        "symbol",
        "lastPrice",
        "indexPrice",
        "markPrice",
        "prevPrice24h",
        "price24hPcnt",
        "highPrice24h",
        "lowPrice24h",
        "prevPrice1h",
        "openInterest",
        "openInterestValue",
        "turnover24h",
        "volume24h",
        "fundingRate",
        "nextFundingTime",
        "predictedDeliveryPrice",
        "basisRate",
        "deliveryFeeRate",
        "deliveryTime",
        "ask1Size",
        "bid1Price",
        "ask1Price",
        "bid1Size",
    ] {
        assert!(t[k].is_string(), "{k} in {t}");
    }
    assert!(t.as_object().unwrap().values().all(Value::is_string), "{t}");
    // Funding every 8 h on the UTC clock: the next boundary after now.
    let next: u64 = t["nextFundingTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(next % (8 * 3_600_000), 0);
    assert!(
        next > before - 1000 && next <= before + 8 * 3_600_000,
        "{next}"
    );

    // Spot: its own book, no trade yet, exactly Bybit's spot fields.
    let s = ticker(&sim, "spot");
    assert_eq!(
        (
            &s["bid1Price"],
            &s["bid1Size"],
            &s["ask1Price"],
            &s["ask1Size"]
        ),
        (
            &json!("59995.0"),
            &json!("0.010000"),
            &json!("60005.0"),
            &json!("0.020000")
        )
    );
    assert_eq!(
        (&s["lastPrice"], &s["usdIndexPrice"]),
        (&json!("60000.0"), &json!("60000.0"))
    );
    assert_eq!(s["volume24h"], "0.000000");
    let spot_fields: std::collections::BTreeSet<String> = [
        "symbol",
        "bid1Price",
        "bid1Size",
        "ask1Price",
        "ask1Size",
        "lastPrice",
        "prevPrice24h",
        "price24hPcnt",
        "highPrice24h",
        "lowPrice24h",
        "turnover24h",
        "volume24h",
        "usdIndexPrice",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys(&s), spot_fields);

    // No symbol: every listed linear symbol; an empty book has no best levels.
    let all = public(&sim, "/v5/market/tickers", "category=linear");
    let rows = all["result"]["list"].as_array().unwrap();
    let syms: Vec<&str> = rows.iter().map(|r| r["symbol"].as_str().unwrap()).collect();
    assert_eq!(syms, ["BTCUSDT", "XRPUSDT"]);
    assert_eq!(
        (&rows[1]["bid1Price"], &rows[1]["ask1Size"]),
        (&json!(""), &json!(""))
    );
    // Categories with no products: an empty list, not an error.
    for c in ["inverse", "option"] {
        let v = public(&sim, "/v5/market/tickers", &format!("category={c}"));
        assert_eq!(v["retCode"], 0, "{v}");
        assert_eq!(v["result"], json!({"category": c, "list": []}));
    }
    let v = public(&sim, "/v5/market/tickers", "category=linear&symbol=ETHUSDT");
    assert_eq!(v["retCode"], 10001, "{v}");
    let v = public(&sim, "/v5/market/tickers", "");
    assert_eq!(v["retCode"], 10001, "{v}");
    sim.shutdown().unwrap();
}

#[test]
fn recent_trade_lists_the_takers_trades_newest_first_within_the_documented_limits() {
    let sim = start(12, 100);
    let mut maker = Client::maker(&sim);
    let mut me = Client::me(&sim);
    let mut feed = ws(sim.addr(), "/v5/public/linear", None);
    send(
        &mut feed,
        r#"{"op":"subscribe","args":["publicTrade.BTCUSDT"]}"#,
    );
    assert_eq!(recv(&mut feed)["success"], true);

    maker.limit("linear", "Sell", "60010.0", "0.002", "GTC", "");
    maker.limit("linear", "Sell", "60020.0", "0.003", "GTC", "");
    maker.limit("linear", "Buy", "59990.0", "0.005", "GTC", "");
    // One buy takes two levels, then a sell hits the bid.
    me.limit("linear", "Buy", "60020.0", "0.004", "IOC", "");
    me.limit("linear", "Sell", "59990.0", "0.001", "IOC", "");

    let v = public(
        &sim,
        "/v5/market/recent-trade",
        "category=linear&symbol=BTCUSDT",
    );
    assert_eq!(v["retCode"], 0, "{v}");
    assert_eq!(v["result"]["category"], "linear");
    let list = v["result"]["list"].as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|t| {
            (
                t["price"].as_str().unwrap(),
                t["size"].as_str().unwrap(),
                t["side"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("59990.0", "0.001", "Sell"),
            ("60020.0", "0.002", "Buy"),
            ("60010.0", "0.002", "Buy")
        ]
    );
    let times: Vec<u64> = list
        .iter()
        .map(|t| t["time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert!(times.iter().all(|&t| t + 60_000 > now_ms()));
    for t in list {
        assert!(is_uuid(t["execId"].as_str().unwrap()), "{t}");
        assert_eq!(
            (&t["symbol"], &t["isBlockTrade"]),
            (&json!("BTCUSDT"), &json!(false))
        );
    }
    // The ids are the ones `publicTrade` pushed.
    let mut pushed: Vec<String> = Vec::new();
    while pushed.len() < 3 {
        let m = recv_until(&mut feed, |m| m["topic"] == "publicTrade.BTCUSDT");
        for d in m["data"].as_array().unwrap() {
            pushed.push(d["i"].as_str().unwrap().to_string());
        }
    }
    let rest_ids: Vec<String> = list
        .iter()
        .rev()
        .map(|t| t["execId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pushed, rest_ids);

    // limit: the newest n; linear takes 1..=1000.
    let v = public(
        &sim,
        "/v5/market/recent-trade",
        "category=linear&symbol=BTCUSDT&limit=2",
    );
    assert_eq!(v["result"]["list"].as_array().unwrap().len(), 2);
    assert_eq!(v["result"]["list"][0]["price"], "59990.0");
    for bad in ["0", "1001", "x"] {
        let v = public(
            &sim,
            "/v5/market/recent-trade",
            &format!("category=linear&symbol=BTCUSDT&limit={bad}"),
        );
        assert_eq!(v["retCode"], 10001, "limit={bad}: {v}");
    }
    let v = public(&sim, "/v5/market/recent-trade", "category=linear");
    assert_eq!(v["retCode"], 10001, "symbol is required: {v}");
    let v = public(
        &sim,
        "/v5/market/recent-trade",
        "category=inverse&symbol=BTCUSD",
    );
    assert_eq!(v["result"], json!({"category": "inverse", "list": []}));

    // Linear: 500 by default. One buy sweeps 501 resting orders (501 trades).
    maker.rest_many("linear", "Sell", "60030.0", "0.001", 501, 20);
    me.limit("linear", "Buy", "60030.0", "0.501", "IOC", "");
    let v = public(
        &sim,
        "/v5/market/recent-trade",
        "category=linear&symbol=BTCUSDT",
    );
    assert_eq!(v["result"]["list"].as_array().unwrap().len(), 500);
    let v = public(
        &sim,
        "/v5/market/recent-trade",
        "category=linear&symbol=BTCUSDT&limit=1000",
    );
    assert_eq!(v["result"]["list"].as_array().unwrap().len(), 504);

    // Spot: 60 by default and at most.
    maker.rest_many("spot", "Sell", "60005.0", "0.000100", 61, 10);
    me.limit("spot", "Buy", "60005.0", "0.006100", "IOC", "");
    let v = public(
        &sim,
        "/v5/market/recent-trade",
        "category=spot&symbol=BTCUSDT",
    );
    let list = v["result"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 60);
    assert!(list
        .iter()
        .all(|t| t["size"] == "0.000100" && t["side"] == "Buy"));
    let v = public(
        &sim,
        "/v5/market/recent-trade",
        "category=spot&symbol=BTCUSDT&limit=61",
    );
    assert_eq!(v["retCode"], 10001, "{v}");
    sim.shutdown().unwrap();
}

#[test]
fn order_history_lists_filled_cancelled_and_killed_post_only_orders() {
    let sim = start(13, 1);
    let mut maker = Client::maker(&sim);
    let mut me = Client::me(&sim);
    maker.limit("linear", "Sell", "60010.0", "0.002", "GTC", "m-1");
    maker.limit("linear", "Sell", "60020.0", "0.001", "GTC", "m-2");

    let fill_id = me.limit("linear", "Buy", "60010.0", "0.002", "GTC", "h-fill");
    me.limit("linear", "Buy", "59000.0", "0.001", "GTC", "h-cancel");
    let v = me.post(
        "/v5/order/cancel",
        &json!({"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "h-cancel"}),
    );
    assert_eq!(v["retCode"], 0, "{v}");
    // Would buy at the 60020.0 ask: accepted, then killed by the exchange.
    me.limit("linear", "Buy", "60020.0", "0.001", "PostOnly", "h-post");
    me.limit("linear", "Buy", "58000.0", "0.001", "GTC", "h-open");
    me.limit("spot", "Buy", "50000.0", "0.000200", "GTC", "h-spot");

    let r = me.get_resp("/v5/order/history", "category=linear");
    assert_eq!(r.header("X-Bapi-Limit"), Some("50"));
    let v = r.json();
    assert_eq!(v["retCode"], 0, "{v}");
    assert_eq!(v["result"]["category"], "linear");
    assert_eq!(v["result"]["nextPageCursor"], "");
    assert_eq!(links(&v), ["h-open", "h-post", "h-cancel", "h-fill"]);
    let row = |link: &str| -> Value {
        v["result"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["orderLinkId"] == link)
            .unwrap()
            .clone()
    };
    let num = |o: &Value, k: &str| -> f64 { o[k].as_str().unwrap().parse().unwrap() };

    let fill = row("h-fill");
    assert_eq!(fill["orderId"], fill_id.as_str());
    assert_eq!(
        (&fill["orderStatus"], &fill["cumExecQty"]),
        (&json!("Filled"), &json!("0.002"))
    );
    assert_eq!(
        (&fill["leavesQty"], &fill["rejectReason"]),
        (&json!("0.000"), &json!("EC_NoError"))
    );
    assert_eq!(num(&fill, "avgPrice"), 60010.0);
    let cancel = row("h-cancel");
    assert_eq!(
        (&cancel["orderStatus"], &cancel["cancelType"]),
        (&json!("Cancelled"), &json!("CancelByUser"))
    );
    assert_eq!(num(&cancel, "cumExecQty"), 0.0);
    let post = row("h-post");
    assert_eq!(
        (
            &post["orderStatus"],
            &post["rejectReason"],
            &post["timeInForce"]
        ),
        (
            &json!("Cancelled"),
            &json!("EC_PostOnlyWillTakeLiquidity"),
            &json!("PostOnly")
        )
    );
    assert_eq!(
        (&post["cancelType"], &post["price"]),
        (&json!("UNKNOWN"), &json!("60020.0"))
    );
    assert_eq!(
        (num(&post, "cumExecQty"), num(&post, "leavesQty")),
        (0.0, 0.0)
    );
    let open = row("h-open");
    assert_eq!(
        (&open["orderStatus"], &open["leavesQty"]),
        (&json!("New"), &json!("0.001"))
    );

    // The rows of /v5/order/realtime: the open order is the same object there,
    // and a closed order has the same fields.
    let rt = me.get("/v5/order/realtime", "category=linear&orderLinkId=h-open");
    assert_eq!(rt["result"]["list"][0], open);
    let rt = me.get(
        "/v5/order/realtime",
        "category=linear&openOnly=1&orderLinkId=h-post",
    );
    assert_eq!(keys(&rt["result"]["list"][0]), keys(&post));

    // Filters.
    let q = |me: &mut Client, extra: &str| {
        me.get("/v5/order/history", &format!("category=linear&{extra}"))
    };
    assert_eq!(links(&q(&mut me, "orderStatus=Filled")), ["h-fill"]);
    assert_eq!(
        links(&q(&mut me, "orderStatus=Cancelled")),
        ["h-post", "h-cancel"]
    );
    assert_eq!(links(&q(&mut me, "orderLinkId=h-post")), ["h-post"]);
    assert_eq!(
        links(&q(&mut me, &format!("orderId={fill_id}"))),
        ["h-fill"]
    );
    assert_eq!(links(&q(&mut me, "symbol=BTCUSDT")).len(), 4);
    assert!(links(&q(&mut me, "symbol=XRPUSDT")).is_empty());
    assert_eq!(links(&q(&mut me, "baseCoin=BTC")).len(), 4);
    assert!(links(&q(&mut me, "baseCoin=XRP")).is_empty());
    assert!(links(&q(&mut me, "orderFilter=StopOrder")).is_empty());
    let later = now_ms() + 60_000;
    assert!(links(&q(&mut me, &format!("startTime={later}"))).is_empty());
    assert_eq!(q(&mut me, "symbol=ETHUSDT")["retCode"], 10001);

    // Pages: the cursor continues after the last row served.
    let p1 = q(&mut me, "limit=3");
    assert_eq!(links(&p1), ["h-open", "h-post", "h-cancel"]);
    let cursor = p1["result"]["nextPageCursor"].as_str().unwrap().to_string();
    assert!(!cursor.is_empty());
    let p2 = q(&mut me, &format!("limit=3&cursor={cursor}"));
    assert_eq!(links(&p2), ["h-fill"]);
    assert_eq!(p2["result"]["nextPageCursor"], "");

    // Per category, per account.
    assert_eq!(
        links(&me.get("/v5/order/history", "category=spot")),
        ["h-spot"]
    );
    let inv = me.get("/v5/order/history", "category=inverse");
    assert_eq!(inv["retCode"], 0, "{inv}");
    assert_eq!(inv["result"]["list"], json!([]));
    assert_eq!(
        links(&maker.get("/v5/order/history", "category=linear")),
        ["m-2", "m-1"]
    );
    sim.shutdown().unwrap();
}

#[test]
fn coin_info_lists_the_simulators_coins_each_with_a_chain() {
    let sim = start(14, 1);
    let mut me = Client::me(&sim);
    let r = me.get_resp("/v5/asset/coin/query-info", "");
    assert_eq!(r.header("X-Bapi-Limit"), Some("5"));
    let v = r.json();
    assert_eq!(v["retCode"], 0, "{v}");
    let rows = v["result"]["rows"].as_array().unwrap();
    let coins: Vec<&str> = rows.iter().map(|c| c["coin"].as_str().unwrap()).collect();
    assert_eq!(coins, ["BTC", "USDT", "XRP"]);
    for c in rows {
        assert_eq!(c["name"], c["coin"]);
        assert!(c["remainAmount"].is_string());
        let chains = c["chains"].as_array().unwrap();
        assert_eq!(chains.len(), 1, "{c}");
        for k in [
            "chain",
            "chainType",
            "confirmation",
            "withdrawFee",
            "depositMin",
            "withdrawMin",
            "minAccuracy",
            "withdrawPercentageFee",
        ] {
            assert!(chains[0][k].is_string(), "{k} in {c}");
        }
        assert_eq!(
            (&chains[0]["chainDeposit"], &chains[0]["chainWithdraw"]),
            (&json!("1"), &json!("1"))
        );
    }
    let one = me.get("/v5/asset/coin/query-info", "coin=USDT");
    assert_eq!(one["result"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(one["result"]["rows"][0]["coin"], "USDT");
    let none = me.get("/v5/asset/coin/query-info", "coin=DOGE");
    assert_eq!(none["result"]["rows"], json!([]));
    // Five per second per account: a burst of six runs into 10006.
    let codes: Vec<i64> = (0..6)
        .map(|_| {
            me.get("/v5/asset/coin/query-info", "")["retCode"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(codes.contains(&10006), "{codes:?}");
    sim.shutdown().unwrap();
}

#[test]
fn query_api_names_the_account_and_a_key_id_that_is_new_at_each_start() {
    let before = now_ms();
    let sim = start(15, 1);
    let after = now_ms();
    let mut me = Client::me(&sim);
    let r = me.get_resp("/v5/user/query-api", "");
    assert_eq!(r.header("X-Bapi-Limit"), Some("10"));
    let v = r.json();
    assert_eq!(v["retCode"], 0, "{v}");
    let k = &v["result"];
    assert_eq!(k["userID"].as_u64(), Some(MY_UID), "a number: {k}");
    assert_eq!(k["apiKey"], sim.api_key());
    let id = k["id"].as_str().unwrap().to_string();
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    let expect = json!({
        "readOnly": 0, "secret": "", "ips": ["*"], "type": 1, "uta": 1, "inviterID": 0,
        "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "",
        "isMaster": true, "parentUid": "0", "deadlineDay": 90,
    });
    for (f, want) in expect.as_object().unwrap() {
        assert_eq!(&k[f], want, "{f} in {k}");
    }
    let perms = &k["permissions"];
    assert_eq!(perms["ContractTrade"], json!(["Order", "Position"]));
    assert_eq!(perms["Spot"], json!(["SpotTrade"]));
    assert_eq!(
        perms["Wallet"],
        json!(["AccountTransfer", "SubMemberTransfer"])
    );
    assert!(perms.as_object().unwrap().values().all(Value::is_array));
    // Created when the simulator started (ISO 8601 strings order as times).
    let created = k["createdAt"].as_str().unwrap();
    assert!(
        iso8601_utc(before).as_str() <= created && created <= iso8601_utc(after).as_str(),
        "{created}"
    );
    assert!(k["expiredAt"].as_str().unwrap() > created);
    assert!(k["kycLevel"].is_string() && k["kycRegion"].is_string());

    // Stable within a start; the other account's key has its own id.
    assert_eq!(
        me.get("/v5/user/query-api", "")["result"]["id"],
        id.as_str()
    );
    let m = Client::maker(&sim).get("/v5/user/query-api", "");
    assert_eq!(
        (m["result"]["userID"].as_u64(), &m["result"]["apiKey"]),
        (Some(MAKER_UID), &json!(MAKER_KEY))
    );
    assert_ne!(m["result"]["id"], id.as_str());
    // Unsigned: refused.
    let r = Http::new(sim.addr(), None).get("/v5/user/query-api", "");
    assert_ne!(r.json()["retCode"], 0);
    sim.shutdown().unwrap();

    // The same seed started again: the same account, a new key id.
    let again = start(15, 1);
    let v = Client::me(&again).get("/v5/user/query-api", "");
    assert_eq!(v["result"]["userID"].as_u64(), Some(MY_UID));
    assert_ne!(v["result"]["id"], id.as_str());
    again.shutdown().unwrap();
}

#[test]
fn account_info_reports_a_unified_account_in_regular_margin() {
    let before = now_ms();
    let sim = start(16, 1);
    let after = now_ms();
    let r = Client::me(&sim).get_resp("/v5/account/info", "");
    assert_eq!(r.header("X-Bapi-Limit"), Some("50"));
    let v = r.json();
    assert_eq!(v["retCode"], 0, "{v}");
    let a = &v["result"];
    let expect = json!({
        "unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": false,
        "spotHedgingStatus": "OFF", "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0,
    });
    for (f, want) in expect.as_object().unwrap() {
        assert_eq!(&a[f], want, "{f} in {a}");
    }
    let updated: u64 = a["updatedTime"].as_str().unwrap().parse().unwrap();
    assert!((before..=after).contains(&updated), "{updated}");
    sim.shutdown().unwrap();
}

#[test]
fn inverse_and_option_instruments_are_empty_lists() {
    let sim = start(17, 1);
    for c in ["inverse", "option"] {
        let v = public(
            &sim,
            "/v5/market/instruments-info",
            &format!("category={c}"),
        );
        assert_eq!(v["retCode"], 0, "{v}");
        assert_eq!(
            v["result"],
            json!({"category": c, "list": [], "nextPageCursor": ""})
        );
    }
    let v = public(&sim, "/v5/market/instruments-info", "category=spot");
    assert_eq!(v["result"]["list"][0]["symbol"], "BTCUSDT");
    let v = public(&sim, "/v5/market/instruments-info", "category=futures");
    assert_eq!(v["retCode"], 10001, "{v}");
    sim.shutdown().unwrap();
}

/// The first fill's execId and orderId (linear) and a spot orderId of a
/// fresh simulator with `seed`.
fn first_ids(seed: u64) -> (String, String, String) {
    let sim = start(seed, 1);
    let mut me = Client::me(&sim);
    Client::maker(&sim).limit("linear", "Sell", "60010.0", "0.001", "GTC", "");
    let order = me.limit("linear", "Buy", "60010.0", "0.001", "IOC", "first");
    let v = me.get("/v5/execution/list", "category=linear");
    assert_eq!(v["retCode"], 0, "{v}");
    let e = &v["result"]["list"][0];
    assert_eq!(e["orderId"], order.as_str());
    let exec = e["execId"].as_str().unwrap().to_string();
    let spot = me.limit("spot", "Buy", "50000.0", "0.000200", "GTC", "");
    sim.shutdown().unwrap();
    (exec, order, spot)
}

#[test]
fn two_starts_with_one_seed_hand_out_different_ids() {
    let a = first_ids(21);
    let b = first_ids(21);
    assert_ne!(a.0, b.0, "execId");
    assert_ne!(a.1, b.1, "linear orderId");
    assert_ne!(a.2, b.2, "spot orderId");
    // Still Bybit's formats: UUIDs, and a 19-digit decimal for spot.
    for x in [&a, &b] {
        assert!(is_uuid(&x.0) && is_uuid(&x.1), "{x:?}");
        assert!(
            x.2.len() == 19 && x.2.bytes().all(|c| c.is_ascii_digit()),
            "{x:?}"
        );
    }
}

/// One taker fill on a core exchange; its execution/list row.
fn core_fill(instance: Instance) -> Value {
    let mut cfg = ExchangeConfig::standard(21, MarketModel::Quiet);
    cfg.instance = instance;
    let mut ex = Exchange::new(cfg).unwrap();
    ex.inject_limit(Category::Linear, "BTCUSDT", Side::Sell, 600_100, 5, 1);
    let r = ex.request(
        Some(MY_UID),
        Op::Create,
        &json!({"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
            "price": "60010.0", "qty": "0.002", "timeInForce": "IOC"}),
        2,
    );
    assert_eq!(r.ret_code, 0, "{r:?}");
    ex.drain_private(&mut PrivateBatch::default());
    let l = ex.request(
        Some(MY_UID),
        Op::ExecutionList,
        &json!({"category": "linear"}),
        3,
    );
    l.result["list"][0].clone()
}

#[test]
fn the_core_stays_reproducible_for_a_given_instance() {
    let plain = core_fill(Instance::default());
    assert_eq!(plain, core_fill(Instance::default()));
    let one = Instance {
        nonce: 5,
        started_ms: 0,
    };
    let two = Instance {
        nonce: 6,
        started_ms: 0,
    };
    assert_eq!(core_fill(one), core_fill(one));
    assert_ne!(core_fill(one)["execId"], core_fill(two)["execId"]);
    assert_ne!(core_fill(one)["orderId"], plain["orderId"]);
}

#[test]
fn the_24h_figures_roll_with_the_clock() {
    const H: u64 = 3_600_000;
    let mut ex = Exchange::new(ExchangeConfig::standard(22, MarketModel::Quiet)).unwrap();
    // A synthetic trade of `lots` at `price` ticks at `t`.
    let trade = |ex: &mut Exchange, price: i64, lots: i64, t: u64| {
        ex.inject_limit(Category::Linear, "BTCUSDT", Side::Sell, price, lots, t);
        ex.inject_take(Category::Linear, "BTCUSDT", Side::Buy, lots, t);
    };
    let t0 = 100 * H;
    trade(&mut ex, 600_100, 2, t0);
    trade(&mut ex, 599_900, 3, t0 + 2 * H);
    trade(&mut ex, 600_300, 4, t0 + 25 * H);
    let q = json!({"category": "linear", "symbol": "BTCUSDT"});
    let t = ex.request(None, Op::Tickers, &q, t0 + 25 * H).result["list"][0].clone();
    // The first trade is more than 24 h old: it is the price 24 h ago and
    // counts in no 24 h figure.
    assert_eq!(t["prevPrice24h"], "60010.0");
    assert_eq!(t["prevPrice1h"], "59990.0");
    assert_eq!(
        (&t["highPrice24h"], &t["lowPrice24h"]),
        (&json!("60030.0"), &json!("59990.0"))
    );
    assert_eq!(t["volume24h"], "0.007");
    // 59990 × 0.003 + 60030 × 0.004
    assert_eq!(t["turnover24h"], "420.09");
    // (60030 − 60010) / 60010
    assert_eq!(t["price24hPcnt"], "0.000333");
    // Two days on, with no trade since: no volume, the last price everywhere.
    let t = ex.request(None, Op::Tickers, &q, t0 + 75 * H).result["list"][0].clone();
    assert_eq!(
        (&t["volume24h"], &t["turnover24h"]),
        (&json!("0.000"), &json!("0"))
    );
    assert_eq!(
        (&t["highPrice24h"], &t["lowPrice24h"]),
        (&json!("60030.0"), &json!("60030.0"))
    );
    assert_eq!(
        (&t["prevPrice24h"], &t["price24hPcnt"]),
        (&json!("60030.0"), &json!("0"))
    );
}
