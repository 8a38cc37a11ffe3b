//! Faults over real sockets: the real `gapmm-hot` binary against an in-process
//! simulator that drops connections, skips a book update, stalls the feed, or
//! trades against our quotes from a second account. Proves: reconnection with
//! never more than one order of ours per side on the exchange; an invalid book
//! (sequence gap) pulls the quotes and quoting resumes after the resubscribe;
//! a stale feed cancels our orders; a PostOnly order the exchange kills for
//! crossing is re-placed one tick safer; at the position limit the growing
//! side is not quoted while the other side is; a key the exchange stops
//! accepting on a WebSocket stops the engine by itself, with every order of
//! ours cancelled; a fill is read while the open-order query after a
//! reconnect is still unanswered (the query does not block the order thread),
//! failed queries are asked again until quoting resumes, a fill made
//! while the private stream was down (or silent) is counted once it is
//! back, and a refused subscription, a halted order manager or a catch-up
//! that keeps failing stops the engine with nothing of ours left open.

mod engine_support;
mod sim_common;

use engine_support::*;
use gapmm::sim::{ConnKind, Fault, Levels};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Bounded sampling of the exchange's open orders (20 per second keeps well
/// inside the realtime-query rate limit the engine shares).
fn sample_gap() {
    std::thread::sleep(Duration::from_millis(50));
}

fn both_working(e: &Engine) -> Status {
    e.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.live && s.working.0.is_some() && s.working.1.is_some()
    })
}

#[test]
fn reconnects_after_dropped_connections_without_duplicate_orders() {
    let sim = start_sim(11, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let engine = Engine::spawn(&sim, "drops", &[], &[]);
    both_working(&engine);
    let mut samples = 0;
    for round in 0..3 {
        let before = sim.stats().accepted;
        for kind in [ConnKind::Public, ConnKind::Private, ConnKind::Trade] {
            sim.fault(Fault::Drop(kind)).unwrap();
        }
        let t = Instant::now();
        loop {
            let open = rest.open_orders();
            samples += 1;
            let (b, s) = per_side(&open);
            assert!(b <= 1 && s <= 1, "round {round}: duplicate orders {open:?}");
            // All three connections came back and both sides work again.
            if sim.stats().accepted >= before + 3
                && (b, s) == (1, 1)
                && t.elapsed() > Duration::from_millis(300)
            {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "round {round}: not back to one order per side: {open:?}\n{}",
                engine.stderr_text()
            );
            sample_gap();
        }
    }
    // Keep watching for a while after the last reconnect: a duplicate created
    // by a reconnect race would stay on the book.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        let open = rest.open_orders();
        let (b, s) = per_side(&open);
        assert!(b <= 1 && s <= 1, "duplicate orders {open:?}");
        samples += 1;
        sample_gap();
    }
    assert!(samples > 20);
    // The operator sees them: the status line counts three reconnects of the
    // public connection and six of the private and trade ones.
    engine.wait_line(
        "a status line counting the reconnects",
        Duration::from_secs(5),
        |l| {
            l.split(" | ")
                .find_map(|p| p.strip_prefix("reconnects "))
                .and_then(|v| v.split_once('/'))
                .and_then(|(f, o)| Some((f.parse::<u64>().ok()?, o.trim().parse::<u64>().ok()?)))
                .is_some_and(|(f, o)| f >= 3 && o >= 6)
        },
    );
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(rest.open_orders().is_empty());
}

fn cancels_since<'a>(j: &'a [Value], from: usize, side: &str) -> Vec<&'a Value> {
    j[from.min(j.len())..]
        .iter()
        .filter(|r| r["t"] == "cancel" && r["side"] == side)
        .collect()
}

#[test]
fn an_invalid_book_pulls_the_quotes_and_a_stale_feed_cancels_them() {
    let sim = start_sim(12, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    // A large position limit: no cancel can come from the limit.
    let engine = Engine::spawn(
        &sim,
        "book",
        &["--max-position", "1", "--stale-ms", "1000"],
        &[],
    );
    both_working(&engine);
    let j0 = engine.journal();
    assert!(
        of_type(&j0, "cancel").is_empty(),
        "cancels before any fault: {j0:?}"
    );

    // Sequence gap: the engine pulls both quotes, resubscribes, and quotes
    // again once the fresh snapshot arrives.
    let mark = j0.len();
    sim.fault(Fault::SkipU).unwrap();
    let t = Instant::now();
    loop {
        let j = engine.journal();
        let pulled = ["Buy", "Sell"]
            .iter()
            .all(|s| !cancels_since(&j, mark, s).is_empty());
        if pulled {
            let last_cancel = j.iter().rposition(|r| r["t"] == "cancel").unwrap();
            let recreated = ["Buy", "Sell"].iter().all(|s| {
                j[last_cancel..]
                    .iter()
                    .any(|r| r["t"] == "create" && r["side"] == *s)
            });
            if recreated && per_side(&rest.open_orders()) == (1, 1) {
                break;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "after the sequence gap: pulled={pulled}, journal tail {:?}",
            &j[mark.min(j.len())..]
        );
        sample_gap();
    }

    // Stale feed: no market data for 4 s with --stale-ms 1000 → our orders
    // are cancelled while the stall lasts, and come back after it.
    let stall = Duration::from_secs(4);
    sim.fault(Fault::Stall(stall)).unwrap();
    let t = Instant::now();
    loop {
        let open = rest.open_orders();
        if open.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < stall - Duration::from_millis(500),
            "orders still open {:?} after {:?} without market data",
            open,
            t.elapsed()
        );
        sample_gap();
    }
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "pulled before the feed was stale"
    );
    // Lines still queued from before the stall are skipped by time.
    let back = engine.wait_status(
        "quotes back after the stall",
        Duration::from_secs(15),
        |s| t.elapsed() >= stall && s.live && s.working.0.is_some() && s.working.1.is_some(),
    );
    assert_eq!(per_side(&rest.open_orders()), (1, 1), "{back:?}");
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
}

/// Freezes the market (stall), waits until our orders stop moving, and returns
/// them with the exchange's book.
fn frozen(sim: &gapmm::sim::SimHandle, rest: &mut Rest, stall: Duration) -> (Vec<Open>, Levels) {
    sim.fault(Fault::Stall(stall)).unwrap();
    let t = Instant::now();
    loop {
        let a = rest.open_orders();
        let (bids, asks) = book(sim, 1000);
        let b = rest.open_orders();
        if a == b && per_side(&a) == (1, 1) {
            return (a, (bids, asks));
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "orders kept moving: {a:?} {b:?}"
        );
        sample_gap();
    }
}

/// The bid quantity resting at `price` or better: what a sell at `price`
/// must take to reach an order there.
fn bids_down_to(bids: &[(i64, i64)], price: i64) -> i64 {
    bids.iter()
        .filter(|(px, _)| *px >= price)
        .map(|(_, q)| q)
        .sum()
}

/// Sells into our bid as it rests now (the taker takes everything down to
/// it) and checks on the exchange that all of it filled; returns the bid.
fn sweep_our_bid(
    rest: &mut Rest,
    taker: &mut Rest,
    bids: &[(i64, i64)],
    link: &str,
    engine: &Engine,
) -> Open {
    let open = rest.open_orders();
    let ours = open
        .iter()
        .find(|o| o.side == "Buy")
        .unwrap_or_else(|| panic!("no bid: {open:?}\n{}", engine.stderr_text()))
        .clone();
    let qty = bids_down_to(bids, ours.price).max(ours.leaves);
    let (net_before, _) = rest.net_filled_lots();
    assert_eq!(
        taker.limit("Sell", ours.price, qty, "IOC", link)["retCode"],
        0
    );
    let (net_after, _) = rest.net_filled_lots();
    assert_eq!(
        net_after - net_before,
        ours.leaves,
        "the taker did not fill our whole bid\n{}",
        engine.stderr_text()
    );
    ours
}

#[test]
fn a_post_only_order_killed_for_crossing_is_replaced_one_tick_safer() {
    let sim = start_sim(13, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let mut taker = Rest::new(&sim, TAKER_KEY, TAKER_SECRET);
    // Both quotes near the mid (wide 2 ticks, not 100): when our fill flips
    // the signal, the bid it re-creates is a tick or two from where it was,
    // not 100 ticks above the resting ask, which would take 100 kills (one
    // tick safer each) to get below.
    let engine = Engine::spawn(
        &sim,
        "postonly",
        &["--gamma", "0", "--stale-ms", "60000", "--wide-ticks", "2"],
        &[],
    );
    both_working(&engine);
    // Blind the engine (no public data) and let its orders catch up with its
    // targets (the rate budget may hold amends back for a moment).
    let stall = Duration::from_secs(10);
    let (mut open, (mut bids, _)) = frozen(&sim, &mut rest, stall);
    for _ in 0..4 {
        let s = engine.wait_status("a status line", Duration::from_secs(3), |_| true);
        let bid = open.iter().find(|o| o.side == "Buy").map(|o| o.price);
        if s.quote == s.working && s.working.0 == bid {
            break;
        }
        (open, (bids, _)) = frozen(&sim, &mut rest, stall);
    }
    let ours = open.iter().find(|o| o.side == "Buy").unwrap().clone();
    // Sell into our bid, two ticks through it, with more than the whole bid
    // side down there: our bid fills (as maker) and the rest of the sell order
    // rests at `q`. The engine, still seeing the old book, re-creates its bid
    // at the price it wants, which now crosses that ask.
    let q = ours.price - 2;
    let qty = bids_down_to(&bids, q) + 1000;
    let r = taker.limit("Sell", q, qty, "GTC", "taker-sweep-1");
    assert_eq!(r["retCode"], 0, "{r}");

    let t = Instant::now();
    let (killed, replaced) = loop {
        let j = engine.journal();
        let filled = j
            .iter()
            .any(|r| r["t"] == "fill" && r["order_id"] == ours.order_id.as_str());
        // Creates of ours after the fill that the exchange cancelled without
        // a cancel request from us (PostOnly kills) …
        let killed: Vec<(String, i64)> = j
            .iter()
            .filter(|r| r["t"] == "create" && r["side"] == "Buy")
            .filter_map(|c| {
                let link = c["link_id"].as_str()?;
                let price = c["price_ticks"].as_i64()?;
                let cancelled = j.iter().any(|r| {
                    r["t"] == "order" && r["link_id"] == link && r["status"] == "Cancelled"
                });
                let by_us = j.iter().any(|r| r["t"] == "cancel" && r["link_id"] == link);
                (price >= q && cancelled && !by_us).then(|| (link.to_string(), price))
            })
            .collect();
        // … then a bid re-placed below the resting ask, working on the exchange.
        let working = rest
            .open_orders()
            .into_iter()
            .find(|o| o.side == "Buy" && o.price < q);
        if let (true, Some(first), Some(w)) = (filled, killed.first(), working) {
            let created_after = j
                .iter()
                .skip_while(|r| r["link_id"] != first.0.as_str())
                .any(|r| r["t"] == "create" && r["link_id"] == w.link_id.as_str());
            if created_after {
                break (first.clone(), w.price);
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(6),
            "no PostOnly kill and re-place seen (filled={filled}, killed={killed:?}); journal: {:?}",
            j.iter().filter(|r| r["t"] != "amend").collect::<Vec<_>>()
        );
        sample_gap();
    };
    assert!(
        replaced < killed.1,
        "re-placed at {replaced}, killed at {}",
        killed.1
    );
    // We never took liquidity.
    let j = engine.journal();
    assert!(
        of_type(&j, "fill").iter().all(|f| f["maker"] != false),
        "a fill of ours was a taker fill"
    );
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(rest.open_orders().is_empty());
}

#[test]
fn at_the_position_limit_only_the_reducing_side_is_quoted() {
    let sim = start_sim(14, 200, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let mut taker = Rest::new(&sim, TAKER_KEY, TAKER_SECRET);
    // One quote of 0.001 is the whole limit. Both quotes stay 20+ ticks from
    // the mid, out of the synthetic flow's reach: with the tight one at the
    // touch, the market sometimes took our ask within the second after the
    // taker hit our bid, and no status line ever showed the position at the
    // limit.
    let engine = Engine::spawn(
        &sim,
        "limit",
        &[
            "--max-position",
            "0.001",
            "--min-order-size",
            "0.001",
            "--tight-ticks",
            "20",
            "--wide-ticks",
            "40",
        ],
        &[],
    );
    both_working(&engine);
    let stall = Duration::from_millis(1500);
    let (open, (bids, _)) = frozen(&sim, &mut rest, stall);
    let ours = open.iter().find(|o| o.side == "Buy").unwrap().clone();
    // Sell into our bid (immediate-or-cancel: nothing of the taker rests).
    let qty = bids_down_to(&bids, ours.price);
    let r = taker.limit("Sell", ours.price, qty, "IOC", "taker-hit-1");
    assert_eq!(r["retCode"], 0, "{r}");
    engine.wait_status("position at the limit", Duration::from_secs(5), |s| {
        s.pos == 1000
    });
    let long = rest.btc_lots();

    // While long at the limit (until our ask fills), no bid of ours may work,
    // and the ask keeps quoting — through the stall and after the market resumes.
    // The wallet is read after the orders: a bid placed after our ask filled
    // shows a smaller balance there (the simulator applies requests in order).
    let t = Instant::now();
    let (mut with_ask, mut n) = (0, 0);
    while t.elapsed() < stall + Duration::from_secs(2) {
        let open = rest.open_orders();
        if rest.btc_lots() < long {
            break;
        }
        let (b, s) = per_side(&open);
        assert_eq!(b, 0, "a bid works at the position limit: {open:?}");
        with_ask += s;
        n += 1;
        sample_gap();
    }
    assert!(n >= 5, "too few samples at the limit ({n})");
    assert!(
        with_ask * 2 >= n,
        "the reducing side quoted in only {with_ask} of {n} samples"
    );
    // The engine never sent a bid while at the limit.
    let j = engine.journal();
    let fill_at = j
        .iter()
        .position(|r| r["t"] == "fill" && r["side"] == "Buy")
        .unwrap();
    let sold_at = j
        .iter()
        .position(|r| r["t"] == "fill" && r["side"] == "Sell")
        .unwrap_or(j.len());
    let bids_sent: Vec<_> = j[fill_at..sold_at]
        .iter()
        .filter(|r| matches!(r["t"].as_str(), Some("create" | "amend")) && r["side"] == "Buy")
        .collect();
    assert!(
        bids_sent.is_empty(),
        "bid requests at the limit: {bids_sent:?}"
    );
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
}

#[test]
fn a_refused_websocket_auth_stops_the_engine_with_nothing_left_open() {
    for (kind, says) in [
        (
            ConnKind::Trade,
            "refused the trade connection's authentication",
        ),
        (
            ConnKind::Private,
            "refused the private stream's authentication",
        ),
    ] {
        let sim = start_sim(17, 1000, &[]);
        let mut rest = Rest::new(&sim, KEY, SECRET);
        let engine = Engine::spawn(&sim, "refused", &[], &[]);
        both_working(&engine);
        // The key stops working on this kind of connection (REST still
        // answers); the drop makes the engine authenticate again.
        sim.fault(Fault::RefuseAuth(kind)).unwrap();
        sim.fault(Fault::Drop(kind)).unwrap();
        let fin = engine.finish(Duration::from_secs(30));
        assert!(fin.status.success(), "{kind:?}: {}", fin.stderr);
        assert!(
            fin.stderr.contains(says),
            "{kind:?}: no reason given: {}",
            fin.stderr
        );
        assert!(
            fin.stderr.contains("none (confirmed by the exchange)"),
            "{kind:?}: {}",
            fin.stderr
        );
        assert!(rest.open_orders().is_empty(), "{kind:?}");
        sim.shutdown().unwrap();
    }
}

/// The open-order query after a reconnect must not stop the order thread:
/// with the exchange's answer held back for 5 s, a fill of our bid in the
/// meantime is read (position and fill count on the status line) at once,
/// not after the answer; creates wait for the answer, then both sides quote
/// again, one order each.
#[test]
fn fills_are_read_while_the_open_order_query_is_unanswered() {
    let sim = start_sim(15, 200, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let mut taker = Rest::new(&sim, TAKER_KEY, TAKER_SECRET);
    let engine = Engine::spawn(&sim, "query", &["--stale-ms", "60000"], &[]);
    both_working(&engine);
    let delay = Duration::from_secs(5);
    // The market stands still (no amends) for the whole test.
    let (open, (bids, _)) = frozen(&sim, &mut rest, delay + Duration::from_secs(6));
    let ours = open.iter().find(|o| o.side == "Buy").unwrap().clone();
    let qty = bids_down_to(&bids, ours.price);
    let before = engine.wait_status("a status line", Duration::from_secs(3), |_| true);
    // Every REST answer (the engine's query, the taker's order) now comes 5 s late.
    sim.fault(Fault::Delay(delay)).unwrap();
    let requests = sim.stats().rest_requests;
    sim.fault(Fault::Drop(ConnKind::Private)).unwrap();
    // The private stream is back and the engine has asked for its open orders.
    let t = Instant::now();
    while sim.stats().rest_requests == requests {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "no open-order query after the private reconnect\n{}",
            engine.stderr_text()
        );
        sample_gap();
    }
    let asked = Instant::now();
    // Sell into our bid; the taker's own answer is late too, so it waits on
    // its own thread.
    let hit = std::thread::spawn(move || {
        taker.limit("Sell", ours.price, qty, "IOC", "taker-hit-q")["retCode"].clone()
    });
    let seen = engine.wait_status(
        "the fill, read while the query is unanswered",
        Duration::from_secs(5),
        |s| s.fills > before.fills && s.pos > before.pos,
    );
    // A status line a second: read at once, the fill shows within about a
    // second. An order thread blocked on the query (until its answer, or a
    // 3 s timeout) would show it only after that.
    assert!(
        asked.elapsed() < Duration::from_millis(2_500),
        "the fill was read {:?} after the query was sent: the order thread waited for the answer",
        asked.elapsed()
    );
    assert_eq!(hit.join().unwrap(), 0);
    // After the answer: both sides quote again, never two orders on a side.
    sim.fault(Fault::Delay(Duration::ZERO)).unwrap();
    let back = engine.wait_status("both quotes working again", Duration::from_secs(15), |s| {
        s.working.0.is_some() && s.working.1.is_some() && s.secs > seen.secs
    });
    assert!(back.pos > before.pos);
    let open = rest.open_orders();
    let (b, s) = per_side(&open);
    assert!(b <= 1 && s <= 1, "duplicate orders {open:?}");
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(rest.open_orders().is_empty());
}

/// Open-order queries the exchange fails (HTTP 503) are asked again: after
/// a private-stream drop whose first two queries fail, quoting resumes with
/// one order per side and the final report counts the failures.
#[test]
fn failed_open_order_queries_are_asked_again() {
    let sim = start_sim(16, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let engine = Engine::spawn(&sim, "query5xx", &[], &[]);
    both_working(&engine);
    sim.fault(Fault::Http5xx(2)).unwrap();
    sim.fault(Fault::Drop(ConnKind::Private)).unwrap();
    let j0 = engine.journal().len();
    // Quoting resumes: the moving market is followed with amends and
    // creates again (none can go while the snapshot is awaited; a request
    // or two may have left before the drop was seen).
    let t = Instant::now();
    loop {
        let j = engine.journal();
        let requests = j[j0.min(j.len())..]
            .iter()
            .filter(|r| r["t"] == "amend" || r["t"] == "create")
            .count();
        if requests >= 5 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "quoting did not resume ({requests} requests)\n{}",
            engine.stderr_text()
        );
        sample_gap();
    }
    engine.wait_status("both quotes working again", Duration::from_secs(5), |s| {
        s.working.0.is_some() && s.working.1.is_some()
    });
    let open = rest.open_orders();
    assert_eq!(per_side(&open), (1, 1), "{open:?}");
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(
        fin.stderr
            .contains("open-order queries that failed (asked again after the query timeout): 2"),
        "{}",
        fin.stderr
    );
    assert!(rest.open_orders().is_empty());
}

/// A fill made while the private stream is down reaches the engine through
/// no push: with the stream refused for 2 s, the taker sells into our bid;
/// once the stream is back, the engine's position and fill count follow the
/// exchange's execution list, exactly once (the status line, the final
/// report and the journal agree), before it quotes again.
#[test]
fn fills_made_while_the_private_stream_is_down_are_counted_once() {
    let sim = start_sim(17, 200, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let mut taker = Rest::new(&sim, TAKER_KEY, TAKER_SECRET);
    let engine = Engine::spawn(&sim, "outage", &["--stale-ms", "60000"], &[]);
    both_working(&engine);
    let outage = Duration::from_secs(2);
    let (_, (bids, _)) = frozen(&sim, &mut rest, outage + Duration::from_secs(8));
    let before = engine.wait_status("a status line", Duration::from_secs(3), |_| true);
    let (net_before, _) = rest.net_filled_lots();
    sim.fault(Fault::Outage(ConnKind::Private, outage)).unwrap();
    // No private stream is up now: the fill's push reaches no one.
    let ours = sweep_our_bid(&mut rest, &mut taker, &bids, "taker-gap", &engine);
    let filled = ours.leaves;
    let seen = engine.wait_status(
        "the fill made during the outage",
        Duration::from_secs(15),
        |s| s.fills > before.fills,
    );
    assert_eq!(seen.pos, before.pos + filled, "{}", engine.stderr_text());
    // Quoting resumes, and later lines do not count the fill again.
    let back = engine.wait_status("both quotes working again", Duration::from_secs(15), |s| {
        s.working.0.is_some() && s.working.1.is_some() && s.secs > seen.secs
    });
    assert_eq!(back.fills, seen.fills);
    let journal = engine.journal();
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    let (net_end, _) = rest.net_filled_lots();
    let pos_end = fin
        .stderr
        .split("final position")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("no final position in:\n{}", fin.stderr));
    assert_eq!(
        pos_end - before.pos,
        net_end - net_before,
        "the engine's position moved unlike the exchange's fills\n{}",
        fin.stderr
    );
    assert!(
        fin.stderr.contains(
            "fills the private stream missed, read from the execution list and counted: 1"
        ),
        "{}",
        fin.stderr
    );
    let journaled: Vec<_> = of_type(&journal, "fill")
        .into_iter()
        .filter(|f| f["order_id"] == ours.order_id.as_str())
        .collect();
    assert_eq!(journaled.len(), 1, "journal: {journaled:?}");
}

/// More orders of ours on the exchange than the order manager can follow
/// (left by an earlier run): it halts, and the engine stops by itself with
/// the cause named and every order of ours cancelled and confirmed gone,
/// rather than sit halted with its one unconfirmed cancel-all.
#[test]
fn a_halted_order_manager_stops_the_engine_with_nothing_left_open() {
    let sim = start_sim(18, 200, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let (bids, _) = book(&sim, 50);
    let floor = bids.iter().map(|(px, _)| *px).min().unwrap() - 500;
    for i in 0..12 {
        // Run `00zz01`'s orders, far below the market.
        let link = format!("gm00zz01-{}-7", i + 1);
        let r = rest.limit("Buy", floor - i, 1_000, "PostOnly", &link);
        assert_eq!(r["retCode"], 0, "{r}");
    }
    assert_eq!(rest.open_orders().len(), 12);
    let engine = Engine::spawn(&sim, "halt", &[], &[]);
    let fin = engine.finish(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(
        fin.stderr
            .contains("more orders of ours than it can follow"),
        "{}",
        fin.stderr
    );
    assert!(
        fin.stderr.contains("open orders of ours left: none"),
        "{}",
        fin.stderr
    );
    assert!(rest.open_orders().is_empty());
}

/// A private subscription the exchange refuses would leave the engine
/// quoting without order or execution pushes: it stops by itself instead,
/// naming the cause, with nothing of ours left open.
#[test]
fn a_refused_private_subscription_stops_the_engine() {
    let sim = start_sim(19, 200, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    sim.fault(Fault::RefusePrivateSubscribe).unwrap();
    let engine = Engine::spawn(&sim, "subrefused", &[], &[]);
    let fin = engine.finish(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(
        fin.stderr
            .contains("refused the private stream's subscription"),
        "{}",
        fin.stderr
    );
    assert!(rest.open_orders().is_empty());
}

/// Orders of ours left by an earlier run are adopted at start-up; when the
/// market is not known — the public stream refused (no touch ever), or
/// silent after its snapshot — the feed's pull reaches them as it would
/// reach quotes of this run: they are cancelled while the engine runs, not
/// left resting at stale prices.
#[test]
fn adopted_orders_are_pulled_when_the_book_never_becomes_valid() {
    for (seed, fault) in [
        (20, Fault::Outage(ConnKind::Public, Duration::from_secs(60))),
        (21, Fault::Stall(Duration::from_secs(60))),
    ] {
        let sim = start_sim(seed, 200, &[]);
        let mut rest = Rest::new(&sim, KEY, SECRET);
        let (bids, asks) = book(&sim, 50);
        let bid = bids.iter().map(|(px, _)| *px).max().unwrap() - 20;
        let ask = asks.iter().map(|(px, _)| *px).min().unwrap() + 20;
        for (side, px, link) in [("Buy", bid, "gm00zz01-1-7"), ("Sell", ask, "gm00zz01-2-7")] {
            let r = rest.limit(side, px, 1_000, "PostOnly", link);
            assert_eq!(r["retCode"], 0, "{r}");
        }
        sim.fault(fault).unwrap();
        let engine = Engine::spawn(&sim, "nobook", &["--stale-ms", "1000"], &[]);
        let t = Instant::now();
        while !rest.open_orders().is_empty() {
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "{fault:?}: adopted orders still open: {:?}\n{}",
                rest.open_orders(),
                engine.stderr_text()
            );
            sample_gap();
        }
        let fin = engine.interrupt(Duration::from_secs(30));
        assert!(fin.status.success(), "{}", fin.stderr);
    }
}

/// A private stream that goes silent without closing (a half-open link:
/// no pushes, no pongs) is taken for dead after 2.5 heartbeats, dropped and
/// reconnected, and the fill made while it was silent is counted from the
/// execution list: the engine's position follows the exchange's.
#[test]
fn a_silent_private_stream_is_dropped_and_its_missed_fill_counted() {
    let sim = start_sim(22, 200, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let mut taker = Rest::new(&sim, TAKER_KEY, TAKER_SECRET);
    let engine = Engine::spawn(
        &sim,
        "mute",
        // Dead after 2.5 s of silence: long enough that the other streams,
        // quiet but answering pings, are never taken for dead on a loaded
        // test machine; short enough for the test.
        &["--stale-ms", "60000", "--ping-ms", "1000"],
        &[],
    );
    both_working(&engine);
    let (_, (bids, _)) = frozen(&sim, &mut rest, Duration::from_secs(15));
    let before = engine.wait_status("a status line", Duration::from_secs(3), |_| true);
    sim.fault(Fault::Mute(ConnKind::Private)).unwrap();
    // The fill's push goes into the silent link.
    let ours = sweep_our_bid(&mut rest, &mut taker, &bids, "taker-mute", &engine);
    let seen = engine.wait_status(
        "the fill made while the private stream was silent",
        Duration::from_secs(15),
        |s| s.fills > before.fills,
    );
    // Only a new subscription's catch-up can have found the fill: the muted
    // connection delivers nothing, and the simulator never closed it.
    assert_eq!(
        seen.pos,
        before.pos + ours.leaves,
        "{}",
        engine.stderr_text()
    );
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(rest.open_orders().is_empty());
}

/// A catch-up the exchange keeps failing (every execution-list request
/// answered 503) leaves the position unknown: after eight tries in a row
/// the engine stops by itself, names the cause, and leaves nothing of ours
/// open (the answers work again by the time of its cancel-all).
#[test]
fn a_catch_up_that_keeps_failing_stops_the_engine() {
    let sim = start_sim(23, 200, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let engine = Engine::spawn(&sim, "catchup", &["--stale-ms", "60000"], &[]);
    both_working(&engine);
    // The orders' own transport is the WS trade link: while the private
    // stream is out, only the catch-up's requests use REST.
    sim.fault(Fault::Http5xx(8)).unwrap();
    sim.fault(Fault::Outage(ConnKind::Private, Duration::from_millis(500)))
        .unwrap();
    let fin = engine.finish(Duration::from_secs(120));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(
        fin.stderr
            .contains("could not be read from the execution list"),
        "{}",
        fin.stderr
    );
    assert!(
        fin.stderr.contains("open orders of ours left: none"),
        "{}",
        fin.stderr
    );
    assert!(rest.open_orders().is_empty());
}
