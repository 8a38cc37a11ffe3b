//! A new subscriber's order book starts with the snapshot and continues it, never with a frame
//! that is as old as the snapshot or older (issue: "order-book deltas older than the snapshot").
//!
//! Each cycle does what pybit does: connect to the public stream, send `{"op":"ping"}`, wait for
//! the pong, subscribe to `orderbook.50.BTCUSDT`, then read the snapshot and a bounded run of
//! deltas. The first book message must be the snapshot, the first delta must carry the snapshot's
//! `u + 1`, every later `u` the previous one `+ 1` (the simulator's deltas are consecutive per
//! topic, as Bybit's are: protocol.md §1.5 rule 6) and `seq` must never go back.
//!
//! The exchange is busy, as a real one is: the topic is already streamed as fast as possible to
//! another subscriber, and another account's market order reaches the exchange just before each
//! subscription, so that order's book frames are still on their way out when the subscription is
//! handled. Waits are socket reads with timeouts; nothing sleeps.

mod sim_common;

use gapmm::sim::auth;
use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::{Fault, Pace, Sim, SimConfig, SimHandle};
use serde_json::Value;
use sim_common::*;
use std::fmt;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TOPIC: &str = "orderbook.50.BTCUSDT";
const CYCLES: usize = 100;
/// Deltas read after each snapshot.
const DELTAS: usize = 200;

/// How a subscription's book stream broke the snapshot-then-continuation rule.
#[derive(Debug)]
enum Violation {
    /// Nothing (pong or book frame) before the read timeout, or the connection closed.
    Silent(&'static str),
    /// A frame that is not JSON.
    NotJson(String),
    /// The first book message was a delta, not the snapshot.
    DeltaBeforeSnapshot { u: u64 },
    /// A second snapshot (nothing here restarts the book).
    SnapshotAgain { u: u64 },
    /// A delta whose `u` does not continue the previous book message's `u`.
    UpdateIdGap {
        prev: u64,
        u: u64,
        after_snapshot: bool,
    },
    /// `seq` went back.
    SeqBack { prev: u64, seq: u64 },
    /// A book message without numeric `u`/`seq`.
    Malformed(String),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Silent(what) => write!(f, "no {what} before the timeout"),
            Violation::NotJson(t) => write!(f, "frame is not JSON: {t}"),
            Violation::DeltaBeforeSnapshot { u } => {
                write!(f, "first book message is a delta (u={u}), not the snapshot")
            }
            Violation::SnapshotAgain { u } => write!(f, "a second snapshot (u={u})"),
            Violation::UpdateIdGap {
                prev,
                u,
                after_snapshot,
            } => write!(
                f,
                "delta u={u} after the {} u={prev} (expected u={})",
                if *after_snapshot { "snapshot" } else { "delta" },
                prev + 1
            ),
            Violation::SeqBack { prev, seq } => write!(f, "seq went back from {prev} to {seq}"),
            Violation::Malformed(t) => write!(f, "book message without u/seq: {t}"),
        }
    }
}

fn next_json(w: &mut Ws, waiting_for: &'static str) -> Result<Value, Violation> {
    let t = recv_text(w).ok_or(Violation::Silent(waiting_for))?;
    serde_json::from_str(&t).map_err(|_| Violation::NotJson(t))
}

/// Checks one subscription's book stream, message by message.
#[derive(Default)]
struct BookStream {
    snapshot_u: Option<u64>,
    prev: Option<(u64, u64)>,
    deltas: usize,
}

impl BookStream {
    /// Feeds one frame; frames of other topics (the subscribe ack, a pong) are skipped.
    fn feed(&mut self, v: &Value) -> Result<(), Violation> {
        if v["topic"] != TOPIC {
            return Ok(());
        }
        let (Some(u), Some(seq)) = (v["data"]["u"].as_u64(), v["data"]["seq"].as_u64()) else {
            return Err(Violation::Malformed(v.to_string()));
        };
        match (v["type"].as_str() == Some("snapshot"), self.prev) {
            (true, None) => self.snapshot_u = Some(u),
            (true, Some(_)) => return Err(Violation::SnapshotAgain { u }),
            (false, None) => return Err(Violation::DeltaBeforeSnapshot { u }),
            (false, Some((pu, pseq))) => {
                if u != pu + 1 {
                    return Err(Violation::UpdateIdGap {
                        prev: pu,
                        u,
                        after_snapshot: self.deltas == 0,
                    });
                }
                if seq < pseq {
                    return Err(Violation::SeqBack { prev: pseq, seq });
                }
                self.deltas += 1;
            }
        }
        self.prev = Some((u, seq));
        Ok(())
    }
}

/// A signed REST market order for 0.001 BTC, ready to write.
fn market_order(sim: &SimHandle, category: &str, side: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"category":"{category}","symbol":"BTCUSDT","side":"{side}","orderType":"Market","qty":"0.001","marketUnit":"baseCoin"}}"#
    );
    let ts = now_ms();
    let sign = auth::sign_rest(sim.api_secret(), ts, sim.api_key(), 5000, body.as_bytes());
    Http::signed_raw(
        "POST",
        "/v5/order/create",
        &body,
        sim.api_key(),
        &sign,
        ts,
        5000,
    )
}

fn assert_filled(h: &mut Http) {
    let r = h.read_resp().expect("order response").json();
    assert_eq!(r["retCode"], 0, "the other account's market order: {r}");
}

/// One pybit-style cycle on a fresh connection, with `order` written on `other` just before the
/// subscribe.
fn connect_ping_subscribe(
    sim: &SimHandle,
    path: &str,
    other: &mut Http,
    order: &[u8],
) -> Result<(), Violation> {
    let mut w = ws(sim.addr(), path, None);
    send(&mut w, r#"{"req_id":"100001","op":"ping"}"#);
    // Nothing is subscribed yet, so the pong is the only frame the server can send.
    let pong = next_json(&mut w, "pong")?;
    assert_eq!(pong["ret_msg"], "pong", "reply to the ping: {pong}");
    other.send_raw(order);
    send(
        &mut w,
        &format!(r#"{{"req_id":"sub-1","op":"subscribe","args":["{TOPIC}"]}}"#),
    );
    assert_filled(other);
    let mut book = BookStream::default();
    while book.deltas < DELTAS {
        book.feed(&next_json(&mut w, "book frame")?)?;
    }
    Ok(())
}

/// Subscribes on `path` and reads (and drops) the feed until the connection ends.
fn background_subscriber(sim: &SimHandle, path: &str) -> JoinHandle<()> {
    let mut w = ws(sim.addr(), path, None);
    send(
        &mut w,
        &format!(r#"{{"op":"subscribe","args":["{TOPIC}"]}}"#),
    );
    std::thread::spawn(move || while recv_text(&mut w).is_some() {})
}

#[test]
fn pybit_style_subscriptions_get_the_snapshot_then_only_newer_consecutive_deltas() {
    let t0 = Instant::now();
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        23,
        MarketModel::Synthetic(SyntheticParams::default()),
    ));
    // As fast as the subscribers read: tens of thousands of book changes per second.
    cfg.pace = Pace::Flood;
    // One order per cycle comes faster than Bybit's per-UID order limit (10/s on linear).
    cfg.rate_limit_scale = 100;
    let sim = Sim::start(cfg).unwrap();
    let readers = [
        background_subscriber(&sim, "/v5/public/spot"),
        background_subscriber(&sim, "/v5/public/linear"),
    ];
    let mut other = Http::new(sim.addr(), None);
    let mut failures = Vec::new();
    for (path, category) in [("/v5/public/spot", "spot"), ("/v5/public/linear", "linear")] {
        for cycle in 0..CYCLES {
            // Alternate sides so the account's balances and position stay put.
            let side = if cycle % 2 == 0 { "Buy" } else { "Sell" };
            let order = market_order(&sim, category, side);
            if let Err(v) = connect_ping_subscribe(&sim, path, &mut other, &order) {
                failures.push(format!("{category} cycle {cycle}: {v}"));
            }
        }
    }
    sim.shutdown().unwrap();
    for r in readers {
        r.join().expect("background subscriber");
    }
    assert!(
        failures.is_empty(),
        "{} of {} subscriptions did not get the snapshot then its continuation:\n{}",
        failures.len(),
        2 * CYCLES,
        failures.join("\n")
    );
    eprintln!("{} cycles in {:?}", 2 * CYCLES, t0.elapsed());
}

/// While the feed is stalled the book still changes (orders trade), and a subscriber joining then
/// gets a snapshot of the changed book. When the feed resumes, the frames held back are older than
/// that snapshot: they go to the earlier subscriber only, and the new one continues from its own
/// snapshot.
#[test]
fn a_subscription_during_a_stall_gets_no_delta_from_before_its_snapshot() {
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        29,
        MarketModel::Synthetic(SyntheticParams::default()),
    ));
    // No synthetic flow: only the orders below change the book.
    cfg.pace = Pace::Paused;
    let sim = Sim::start(cfg).unwrap();
    let path = "/v5/public/linear";
    let sub = format!(r#"{{"op":"subscribe","args":["{TOPIC}"]}}"#);
    let mut early = ws(sim.addr(), path, None);
    send(&mut early, &sub);
    let early_u = recv_until(&mut early, |v| v["type"] == "snapshot")["data"]["u"]
        .as_u64()
        .unwrap();

    let stall = Duration::from_secs(2);
    let stalled = Instant::now();
    sim.fault(Fault::Stall(stall)).unwrap();
    let mut other = Http::new(sim.addr(), None);
    other.send_raw(&market_order(&sim, "linear", "Buy"));
    assert_filled(&mut other);
    let mut late = ws(sim.addr(), path, None);
    send(&mut late, r#"{"req_id":"100001","op":"ping"}"#);
    recv_until(&mut late, |v| v["ret_msg"] == "pong");
    send(&mut late, &sub);
    let mut book = BookStream::default();
    while book.snapshot_u.is_none() {
        book.feed(&recv(&mut late)).unwrap();
    }
    let snapshot_u = book.snapshot_u.unwrap();
    // The case under test needs the subscription inside the stall.
    assert!(
        stalled.elapsed() < stall,
        "the late subscription came after the stall ({:?}): nothing tested",
        stalled.elapsed()
    );
    assert!(
        snapshot_u > early_u,
        "the snapshot taken during the stall shows the trade"
    );

    // The earlier subscriber gets the held-back delta once the stall is over...
    let held = recv_until(&mut early, |v| v["type"] == "delta");
    assert_eq!(held["data"]["u"].as_u64(), Some(early_u + 1));
    // ...and the next change reaches both; the late subscriber's first delta continues its snapshot.
    other.send_raw(&market_order(&sim, "linear", "Sell"));
    assert_filled(&mut other);
    let next = recv_until(&mut late, |v| v["topic"] == TOPIC);
    book.feed(&next)
        .unwrap_or_else(|v| panic!("after the stall: {v}"));
    assert_eq!(book.deltas, 1);
    sim.shutdown().unwrap();
}
