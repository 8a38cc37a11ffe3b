//! The trading command end to end over loopback sockets: the real `gapmm-hot`
//! binary trades an in-process simulator (`--sim-url`). One engine run proves:
//! quotes are working and fills arrive within 10 s, the status line updates
//! every second; the quotes follow the original's signal table around the mid
//! (checked against the exchange's own book once the market is paused — at the
//! market's own state, then with another account's 5 BTC wall above the ask
//! (DOWN, HIGH) and below the bid (UP, HIGH) — with
//! `--gamma 0` so the reservation mid is the mid, and with our own orders taken
//! out of that book as the engine does before its analytics); price changes are amends,
//! not cancel+create; and Ctrl+C exits 0 with no order of ours left open on the
//! exchange.

mod engine_support;
mod sim_common;

use engine_support::*;
use gapmm::sim::Pace;
use std::time::{Duration, Instant};

/// Round-half-to-even of `x2 / 2` (a price in half ticks to whole ticks).
fn half_even(x2: i64) -> i64 {
    if x2 % 2 == 0 {
        x2 / 2
    } else {
        let lo = (x2 - 1).div_euclid(2);
        if lo % 2 == 0 {
            lo
        } else {
            lo + 1
        }
    }
}

/// The original's table: the (signal, confidence) a printed score maps to, or
/// None when the 3-decimal print is too close to a threshold to tell.
fn table(score: f64) -> Option<(&'static str, &'static str)> {
    for t in [0.3, 0.499999, 0.500001, 0.7] {
        if (score - t).abs() < 0.0006 {
            return None;
        }
    }
    Some(if score >= 0.500001 {
        ("DOWN", if score > 0.7 { "HIGH" } else { "MED" })
    } else if score <= 0.499999 {
        ("UP", if score < 0.3 { "HIGH" } else { "MED" })
    } else {
        ("NEUTRAL", "LOW")
    })
}

/// (bid, ask) edges in ticks for a signal: tight 1, wide 100; neutral sits out.
fn edges(signal: &str, conf: &str) -> (i64, i64) {
    match (signal, conf) {
        ("UP", "HIGH" | "MED") => (1, 100),
        ("DOWN", "HIGH" | "MED") => (100, 1),
        _ => (100, 100),
    }
}

/// `gap_prob_resistance_up` of a book given as (ticks, lots) levels, best first.
fn gap_score(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> f64 {
    use gapmm::book::{Book, BookConfig};
    use gapmm::codec::public::{BookKind, BookUpdate, Level};
    use gapmm::ids::{Seq, Symbol, UpdateId};
    use gapmm::time::ExchMs;
    use gapmm::units::{Lots, Ticks};
    let lv = |v: &[(i64, i64)]| -> Vec<Level> {
        v.iter()
            .map(|&(p, q)| Level {
                price: Ticks(p),
                qty: Lots(q),
            })
            .collect()
    };
    let (b, a) = (lv(bids), lv(asks));
    let mut book = Book::new(BookConfig::default());
    book.apply(&BookUpdate {
        kind: BookKind::Snapshot,
        depth: 0,
        symbol: Symbol::default(),
        u: UpdateId(1),
        seq: Seq(1),
        ts: ExchMs(1),
        cts: None,
        bids: &b,
        asks: &a,
    })
    .expect("a valid book");
    gapmm::analytics::compute(&book, ExchMs(1))
        .expect("both sides")
        .gap_prob_resistance_up
}

#[test]
fn trades_quotes_by_the_signal_table_amends_and_stops_clean_on_ctrl_c() {
    let sim = start_sim(3, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let t0 = Instant::now();
    // A position limit far away: at the limit one side is not quoted and the
    // placement checks below would wait for a settled two-sided state.
    let engine = Engine::spawn(
        &sim,
        "run",
        &["--gamma", "0", "--stale-ms", "60000", "--max-position", "1"],
        &[],
    );

    // 1. Within 10 s: both quotes working (engine's view and the exchange's), fills.
    let working = engine.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.live && s.working.0.is_some() && s.working.1.is_some()
    });
    let open = rest.open_orders();
    assert_eq!(per_side(&open), (1, 1), "exchange lists {open:?}");
    let left = Duration::from_secs(10).saturating_sub(t0.elapsed());
    let filled = engine.wait_status("a fill", left.max(Duration::from_millis(1)), |s| {
        s.fills >= 1
    });
    assert!(filled.secs > working.secs || filled.fills >= 1);

    // The status line keeps updating: consecutive seconds, a moving market.
    let mut seen = vec![filled.clone()];
    let mut signals = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    // 3. Amends while prices move: wait until the journal shows a few.
    loop {
        let s = engine.wait_status("a status line", Duration::from_secs(3), |_| true);
        seen.push(s);
        let j = engine.journal();
        // The market's own drift moves the quotes; it can rest for a few
        // seconds, so keep watching (within the deadline) until it has.
        let moved = seen.windows(2).any(|w| w[0].quote != w[1].quote);
        if of_type(&j, "amend").len() >= 10 && seen.len() >= 4 && moved {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "in 20 s: {} amends (want 10), quotes moved: {moved}; {seen:?}",
            of_type(&j, "amend").len()
        );
    }
    for w in seen.windows(2) {
        // One line a second (a second can be skipped when the 1 s interval
        // plus the 50 ms monitor tick straddles it).
        assert!(
            w[1].secs > w[0].secs && w[1].secs <= w[0].secs + 2,
            "status lines {} then {}",
            w[0].secs,
            w[1].secs
        );
    }
    for s in &seen {
        if let Some((sig, conf)) = table(s.score) {
            assert_eq!((s.signal.as_str(), s.conf.as_str()), (sig, conf), "{s:?}");
        }
        signals.insert((s.signal.clone(), s.conf.clone()));
    }

    // Journal before shutdown: amend is the price-change path.
    let j = engine.journal();
    let amends = of_type(&j, "amend").len();
    for side in ["Buy", "Sell"] {
        let creates = j
            .iter()
            .filter(|r| r["t"] == "create" && r["side"] == side)
            .count();
        // A new order on a side only after the previous one ended (filled,
        // cancelled by the exchange or by us): never create instead of amend.
        // (An order that traded may be closed by its fill alone.)
        let mut ended: Vec<&str> = j
            .iter()
            .filter(|r| {
                r["side"] == side
                    && (r["t"] == "fill"
                        || (r["t"] == "order"
                            && !matches!(r["status"].as_str(), Some("New" | "PartiallyFilled"))))
            })
            .filter_map(|r| r["order_id"].as_str())
            .collect();
        ended.sort();
        ended.dedup();
        assert!(
            creates >= 1 && creates <= 1 + ended.len(),
            "{side}: {creates} creates but only {} orders ended",
            ended.len()
        );
    }
    let creates = of_type(&j, "create").len();
    assert!(
        amends > creates,
        "{amends} amends vs {creates} creates: price moves should be amends"
    );
    // The exchange applied the amends: one order id seen at several prices.
    let mut moved = 0;
    let orders = of_type(&j, "order");
    for (i, a) in orders.iter().enumerate() {
        if let Some(b) = orders[i + 1..]
            .iter()
            .find(|b| b["order_id"] == a["order_id"])
        {
            if b["price_ticks"] != a["price_ticks"] {
                moved += 1;
            }
        }
    }
    assert!(moved >= 5, "only {moved} order-stream price changes");

    // 2. Signal table with the market paused: once the engine is at rest, the
    // working orders sit where the original's rule puts them around the mid
    // of the exchange's book. First at the market's own state, then with a
    // wall of another account's orders making the signal DOWN, then UP.
    sim.set_pace(Pace::Paused).unwrap();
    let checked = settled_quotes(&engine, &sim, &mut rest);
    let mut taker = Rest::new(&sim, TAKER_KEY, TAKER_SECRET);
    // A wall one tick beyond the market's best ask, 20 times all the bids in
    // the engine's view: far more resistance above than support below,
    // whatever depth the synthetic market happens to show.
    let (_, ask) = market_touch(&sim, &mut rest);
    let r = taker.limit("Sell", ask + 1, wall(&sim, 0), "PostOnly", "wall-ask");
    assert_eq!(r["retCode"], 0, "{r}");
    let down = settled_quotes(&engine, &sim, &mut rest);
    assert_eq!(
        (down.signal.as_str(), down.conf.as_str()),
        ("DOWN", "HIGH"),
        "with a sell wall: {down:?}"
    );
    // Swap the wall to the bid side: now the support below dominates.
    let r = taker.cancel("wall-ask");
    assert_eq!(r["retCode"], 0, "{r}");
    let (bid, _) = market_touch(&sim, &mut rest);
    let r = taker.limit("Buy", bid - 1, wall(&sim, 1), "PostOnly", "wall-bid");
    assert_eq!(r["retCode"], 0, "{r}");
    let up = settled_quotes(&engine, &sim, &mut rest);
    assert_eq!(
        (up.signal.as_str(), up.conf.as_str()),
        ("UP", "HIGH"),
        "with a buy wall: {up:?}"
    );
    assert_ne!(down.quote, up.quote);
    assert!(!signals.is_empty() && !checked.signal.is_empty());

    // 1 (end). Ctrl+C: exit 0, shutdown confirmed, nothing of ours left open.
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(
        fin.status.success(),
        "exit {:?}\n{}",
        fin.status,
        fin.stderr
    );
    assert!(
        fin.stderr
            .contains("open orders of ours left: none (confirmed by the exchange)"),
        "{}",
        fin.stderr
    );
    let open = rest.open_orders();
    assert!(open.is_empty(), "left open after Ctrl+C: {open:?}");
    sim.shutdown().unwrap();
}

/// A wall's size in lots: 20 times the whole top 50 of the other book side
/// (0 = bids, 1 = asks) and at least 5 BTC, so that one side's score
/// dominates the other's by far more than the HIGH threshold asks (2.33x);
/// at most the simulator's largest BTCUSDT spot order, 83 BTC.
fn wall(sim: &gapmm::sim::SimHandle, other: usize) -> i64 {
    let b = book(sim, 50);
    let levels = if other == 0 { &b.0 } else { &b.1 };
    let total: i64 = levels.iter().map(|&(_, q)| q).sum();
    (20 * total).clamp(5_000_000, 83_000_000)
}

/// The market's best bid and ask without our own orders (the book the
/// engine's analytics see).
fn market_touch(sim: &gapmm::sim::SimHandle, rest: &mut Rest) -> (i64, i64) {
    let open = rest.open_orders();
    let b = book(sim, 400);
    let first = |levels: &[(i64, i64)], side: &str| -> i64 {
        levels
            .iter()
            .find(|&&(p, q)| {
                let ours: i64 = open
                    .iter()
                    .filter(|o| o.side == side && o.price == p)
                    .map(|o| o.leaves)
                    .sum();
                q > ours
            })
            .expect("a level of others")
            .0
    };
    (first(&b.0, "Buy"), first(&b.1, "Sell"))
}

/// Waits (market paused) until the engine is at rest with both quotes
/// working, then checks its printed score against the exchange's book
/// without our orders, the (signal, confidence) against the original's
/// table, and both the engine's quotes and the exchange's orders against the
/// table's placement around the mid. Returns that status line.
fn settled_quotes(engine: &Engine, sim: &gapmm::sim::SimHandle, rest: &mut Rest) -> Status {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut prev: Option<Status> = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "engine never settled with the market paused; last {prev:?}"
        );
        let s = engine.wait_status("a status line", Duration::from_secs(3), |_| true);
        let b1 = book(sim, 400);
        let open = rest.open_orders();
        let b2 = book(sim, 400);
        let settled = prev
            .as_ref()
            .is_some_and(|p| p.quote == s.quote && p.working == s.working && p.signal == s.signal)
            && b1 == b2
            && s.quote == s.working
            && per_side(&open) == (1, 1);
        prev = Some(s.clone());
        if !settled {
            continue;
        }
        // The engine takes its own resting orders out of the book before the
        // analytics: its mid is the market's without them.
        let others = |levels: &[(i64, i64)], side: &str| -> Vec<(i64, i64)> {
            levels
                .iter()
                .filter_map(|&(p, q)| {
                    let ours: i64 = open
                        .iter()
                        .filter(|o| o.side == side && o.price == p)
                        .map(|o| o.leaves)
                        .sum();
                    (q > ours).then_some((p, q - ours))
                })
                .collect()
        };
        // The engine's book is the top 50 (its depth topic), ours included.
        let top = |v: &[(i64, i64)]| v[..v.len().min(50)].to_vec();
        let (bids, asks) = (others(&top(&b1.0), "Buy"), others(&top(&b1.1), "Sell"));
        // Its printed signal score is that book's, not the exchange's with
        // our own quotes in it.
        let market_score = gap_score(&bids, &asks);
        assert!(
            (market_score - s.score).abs() < 0.0006,
            "engine score {} vs the market's without our orders {market_score}",
            s.score
        );
        let (bb, ba) = (bids[0].0, asks[0].0);
        let mid_x2 = bb + ba;
        let (be, ae) = edges(&s.signal, &s.conf);
        let bid = half_even(mid_x2 - 2 * be).min(ba - 1);
        let ask = half_even(mid_x2 + 2 * ae).max(bb + 1);
        assert_eq!(
            s.quote,
            (Some(bid), Some(ask)),
            "{s:?} against book {bb}/{ba}"
        );
        let ours_bid = open.iter().find(|o| o.side == "Buy").unwrap().price;
        let ours_ask = open.iter().find(|o| o.side == "Sell").unwrap().price;
        assert_eq!((ours_bid, ours_ask), (bid, ask), "exchange lists {open:?}");
        if let Some((sig, conf)) = table(s.score) {
            assert_eq!((s.signal.as_str(), s.conf.as_str()), (sig, conf));
        }
        eprintln!("settled: {s:?} book {bb}/{ba}");
        break s;
    }
}
