//! The simulator end to end with the project's own codecs: the public feed keeps a
//! [`gapmm::book::Book`] (fed by [`gapmm::codec::public::PublicDecoder`]) equal to the exchange's
//! own book over 100k messages; PostOnly orders over REST and WS trade produce the matching private
//! events; a replayed recording reproduces the recording's book.

mod common;
mod sim_common;

use gapmm::book::{Book, BookConfig};
use gapmm::codec::public::{PublicDecoder, PublicEvent};
use gapmm::ids::{Category, Symbol};
use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, ReplayConfig, SyntheticParams};
use gapmm::sim::{Pace, Sim, SimConfig, SimHandle};
use gapmm::units::{Side, Step};
use serde_json::Value;
use sim_common::*;

fn top(book: &Book, side: Side, n: usize) -> Vec<(i64, i64)> {
    book.iter_levels(side)
        .take(n)
        .map(|l| (l.price.0, l.qty.0))
        .collect()
}

/// Applies one frame to the book; returns the update id if it was a book message.
fn apply(dec: &mut PublicDecoder, book: &mut Book, frame: &str) -> Option<u64> {
    match dec.decode(frame.as_bytes()) {
        Ok(PublicEvent::Book(upd)) => {
            let u = upd.u.0;
            book.apply(&upd)
                .unwrap_or_else(|e| panic!("book rejected u={u}: {e:?}"));
            Some(u)
        }
        Ok(_) => None,
        Err(e) => panic!("decode failed: {e:?} on {frame}"),
    }
}

/// Pauses the market and returns the topic's current `u` (from a fresh subscriber's snapshot).
fn pause_and_current_u(sim: &SimHandle, path: &str, topic: &str) -> u64 {
    sim.set_pace(Pace::Paused).unwrap();
    let mut probe = ws(sim.addr(), path, None);
    send(
        &mut probe,
        &format!(r#"{{"op":"subscribe","args":["{topic}"]}}"#),
    );
    let snap = recv_until(&mut probe, |v| v["type"] == "snapshot");
    snap["data"]["u"].as_u64().unwrap()
}

#[test]
fn book_stays_in_sync_for_100k_messages_as_fast_as_possible() {
    let params = SyntheticParams {
        events_per_sec: 1000,
        ..SyntheticParams::default()
    };
    let mut cfg = SimConfig::new(ExchangeConfig::standard(11, MarketModel::Synthetic(params)));
    cfg.pace = Pace::Flood;
    let sim = Sim::start(cfg).unwrap();
    let topic = "orderbook.50.BTCUSDT";
    let mut w = ws(sim.addr(), "/v5/public/linear", None);
    send(
        &mut w,
        &format!(r#"{{"op":"subscribe","args":["{topic}"]}}"#),
    );
    let mut dec = PublicDecoder::new(
        Symbol::from_str("BTCUSDT").unwrap(),
        Step::parse("0.1").unwrap(),
        Step::parse("0.001").unwrap(),
    );
    let mut book = Book::new(BookConfig::default());
    let mut msgs = 0u64;
    let mut checkpoints = 0;
    let mut last_u = 0;
    while msgs < 100_000 {
        let frame = recv_text(&mut w).expect("feed frame");
        if let Some(u) = apply(&mut dec, &mut book, &frame) {
            msgs += 1;
            last_u = u;
        }
        if msgs > 0 && msgs.is_multiple_of(25_000) {
            // Checkpoint: pause, catch up to the exchange's current u, compare, resume.
            let cu = pause_and_current_u(&sim, "/v5/public/linear", topic);
            while last_u < cu {
                let f = recv_text(&mut w).expect("catch-up frame");
                if let Some(u) = apply(&mut dec, &mut book, &f) {
                    last_u = u;
                    msgs += 1;
                }
            }
            assert_eq!(last_u, cu);
            let (bids, asks) = sim
                .book_levels("BTCUSDT", Category::Linear, 50)
                .unwrap()
                .unwrap();
            assert!(!bids.is_empty() && !asks.is_empty());
            assert_eq!(top(&book, Side::Buy, 60), bids, "bids at u={cu}");
            assert_eq!(top(&book, Side::Sell, 60), asks, "asks at u={cu}");
            checkpoints += 1;
            sim.set_pace(Pace::Flood).unwrap();
        }
    }
    assert!(checkpoints >= 3);
    assert!(sim.stats().market_events >= 100_000);
    sim.shutdown().unwrap();
}

fn place_env() -> (SimHandle, Step) {
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        5,
        MarketModel::Synthetic(SyntheticParams::default()),
    ));
    cfg.pace = Pace::Paused;
    (Sim::start(cfg).unwrap(), Step::parse("0.1").unwrap())
}

fn best(h: &mut Http, tick: Step) -> (i64, i64) {
    let v = h
        .get(
            "/v5/market/orderbook",
            "category=linear&symbol=BTCUSDT&limit=1",
        )
        .json();
    assert_eq!(v["retCode"], 0, "{v}");
    let px = |side: &str| {
        tick.ticks(v["result"][side][0][0].as_str().unwrap().as_bytes())
            .unwrap()
            .0
    };
    (px("b"), px("a"))
}

fn order_event(p: &mut Ws, link: &str, status: &str) -> Value {
    recv_until(p, |v| {
        v["topic"] == "order"
            && v["data"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|o| o["orderLinkId"] == link && o["orderStatus"] == status)
            })
    })["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["orderLinkId"] == link && o["orderStatus"] == status)
        .unwrap()
        .clone()
}

#[test]
fn post_only_orders_over_rest_and_ws_trade_produce_private_events() {
    let (sim, tick) = place_env();
    let (key, secret) = (sim.api_key().to_string(), sim.api_secret().to_string());
    let mut h = Http::new(sim.addr(), None);
    let (bid, ask) = best(&mut h, tick);
    assert!(bid < ask);
    let mut p = ws(sim.addr(), "/v5/private", None);
    ws_auth(&mut p, &key, &secret);
    assert_eq!(recv(&mut p)["success"], true);
    send(&mut p, r#"{"op":"subscribe","args":["order","execution"]}"#);
    assert_eq!(recv(&mut p)["success"], true);

    // REST: a resting PostOnly buy well below the bid.
    let px = tick.display(bid - 500).to_string();
    let body = format!(
        r#"{{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"{px}","timeInForce":"PostOnly","orderLinkId":"rest-po-1"}}"#
    );
    let r = h
        .signed("POST", "/v5/order/create", &body, &key, &secret)
        .json();
    assert_eq!(r["retCode"], 0, "{r}");
    let order_id = r["result"]["orderId"].as_str().unwrap().to_string();
    let o = order_event(&mut p, "rest-po-1", "New");
    assert_eq!(o["orderId"], order_id.as_str());
    assert_eq!(o["timeInForce"], "PostOnly");

    // A crossing PostOnly is accepted, then cancelled with EC_PostOnlyWillTakeLiquidity.
    let cross = tick.display(ask).to_string();
    let body = format!(
        r#"{{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"{cross}","timeInForce":"PostOnly","orderLinkId":"rest-po-x"}}"#
    );
    assert_eq!(
        h.signed("POST", "/v5/order/create", &body, &key, &secret)
            .json()["retCode"],
        0
    );
    let o = order_event(&mut p, "rest-po-x", "Cancelled");
    assert_eq!(o["rejectReason"], "EC_PostOnlyWillTakeLiquidity");

    // WS trade: amend the resting order's price, then cancel it.
    let mut t = ws(sim.addr(), "/v5/trade", None);
    ws_auth(&mut t, &key, &secret);
    assert_eq!(recv(&mut t)["retCode"], 0);
    let new_px = tick.display(bid - 400).to_string();
    send(
        &mut t,
        &format!(
            r#"{{"reqId":"am-1","header":{{"X-BAPI-TIMESTAMP":"{}"}},"op":"order.amend","args":[{{"category":"linear","symbol":"BTCUSDT","orderLinkId":"rest-po-1","price":"{new_px}"}}]}}"#,
            now_ms()
        ),
    );
    let r = recv(&mut t);
    assert_eq!(
        (r["retCode"].as_i64(), r["reqId"].as_str()),
        (Some(0), Some("am-1")),
        "{r}"
    );
    let o = recv_until(&mut p, |v| {
        v["topic"] == "order" && v["data"][0]["price"] == new_px.as_str()
    });
    assert_eq!(o["data"][0]["orderLinkId"], "rest-po-1");
    send(
        &mut t,
        &format!(
            r#"{{"reqId":"cx-1","header":{{"X-BAPI-TIMESTAMP":"{}"}},"op":"order.cancel","args":[{{"category":"linear","symbol":"BTCUSDT","orderId":"{order_id}"}}]}}"#,
            now_ms()
        ),
    );
    assert_eq!(recv(&mut t)["retCode"], 0);
    order_event(&mut p, "rest-po-1", "Cancelled");

    // WS trade create (PostOnly, resting) then a taker order that fills → an execution event.
    send(
        &mut t,
        &format!(
            r#"{{"reqId":"cr-1","header":{{"X-BAPI-TIMESTAMP":"{}"}},"op":"order.create","args":[{{"category":"linear","symbol":"BTCUSDT","side":"Sell","orderType":"Limit","qty":"0.001","price":"{}","timeInForce":"PostOnly","orderLinkId":"ws-po-1"}}]}}"#,
            now_ms(),
            tick.display(ask + 500)
        ),
    );
    assert_eq!(recv(&mut t)["retCode"], 0);
    order_event(&mut p, "ws-po-1", "New");
    send(
        &mut t,
        &format!(
            r#"{{"reqId":"tk-1","header":{{"X-BAPI-TIMESTAMP":"{}"}},"op":"order.create","args":[{{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"{}","timeInForce":"IOC","orderLinkId":"ws-tk-1"}}]}}"#,
            now_ms(),
            tick.display(ask)
        ),
    );
    assert_eq!(recv(&mut t)["retCode"], 0);
    let e = recv_until(&mut p, |v| v["topic"] == "execution");
    assert_eq!(e["data"][0]["orderLinkId"], "ws-tk-1");
    assert_eq!(e["data"][0]["isMaker"], false);
    sim.shutdown().unwrap();
}

#[test]
fn replaying_the_xrpusdt_recording_reproduces_its_book() {
    let path = shared_recording();
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        1,
        MarketModel::Replay(ReplayConfig {
            path: path.clone(),
            symbol: "XRPUSDT".into(),
            category: Category::Linear,
            speed: 0.0,
        }),
    ));
    cfg.pace = Pace::Paused;
    let sim = Sim::start(cfg).unwrap();
    let tick = Step::parse("0.0001").unwrap();
    let lot = Step::parse("1").unwrap();
    let mut w = ws(sim.addr(), "/v5/public/linear", None);
    send(
        &mut w,
        r#"{"op":"subscribe","args":["orderbook.1000.XRPUSDT"]}"#,
    );
    let sym = Symbol::from_str("XRPUSDT").unwrap();
    let mut dec = PublicDecoder::new(sym, tick, lot);
    let mut book = Book::new(BookConfig::default());
    let f = recv_until(&mut w, |v| v["type"] == "snapshot").to_string();
    apply(&mut dec, &mut book, &f);
    sim.set_pace(Pace::Flood).unwrap();

    // The recording replayed locally through the same decoder and book.
    let mut rec = gapmm::replay::Recording::open(&path).unwrap();
    let mut rdec = PublicDecoder::new(sym, tick, lot);
    let mut expected = Book::new(BookConfig::default());
    while let Some(line) = rec.next_line() {
        let line = line.unwrap().to_vec();
        apply(
            &mut rdec,
            &mut expected,
            std::str::from_utf8(&line).unwrap(),
        );
    }
    let want_bids = top(&expected, Side::Buy, 1000);
    let want_asks = top(&expected, Side::Sell, 1000);
    assert!(want_bids.len() > 100 && want_asks.len() > 100);

    // Read until the client's book equals the recording's final book (or the feed goes quiet).
    let mut matched = false;
    while let Some(f) = recv_text(&mut w) {
        apply(&mut dec, &mut book, &f);
        if top(&book, Side::Buy, 1000) == want_bids && top(&book, Side::Sell, 1000) == want_asks {
            matched = true;
            break;
        }
    }
    assert!(
        matched,
        "client book never matched the recording's final book"
    );
    let (bids, asks) = sim
        .book_levels("XRPUSDT", Category::Linear, 1000)
        .unwrap()
        .unwrap();
    assert_eq!((bids, asks), (want_bids, want_asks));
    sim.shutdown().unwrap();
}

fn shared_recording() -> std::path::PathBuf {
    let p = std::env::var("GAPMM_XRP_RECORDING").unwrap_or_else(|_| {
        common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip")
            .display()
            .to_string()
    });
    let p = std::path::PathBuf::from(p);
    assert!(
        p.exists(),
        "recording not found at {} (set GAPMM_XRP_RECORDING)",
        p.display()
    );
    p
}
