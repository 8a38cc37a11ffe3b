//! The journal across restarts, on the real `gapmm-hot` binary against a
//! simulator at a URL: a restart restores position from the lines earlier
//! runs wrote against the same venue and instrument, and from no others. A
//! testnet run's fills in the same file must not move the position the
//! engine starts with against another venue (that would shift its position
//! limits by a position it does not hold).

mod engine_support;
mod sim_common;

use engine_support::*;
use std::time::Duration;

fn lots_after(text: &str, key: &str) -> i64 {
    text.split(key)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{key} N` in:\n{text}"))
}

fn fill_line(exec_id: &str, side: &str, price_ticks: i64, lots: i64) -> String {
    format!(
        "{{\"t\":\"fill\",\"exec_id\":\"{exec_id}\",\"order_id\":\"o-{exec_id}\",\"link_id\":\"\",\"side\":\"{side}\",\"price_ticks\":{price_ticks},\"qty_lots\":{lots},\"maker\":true,\"ts\":1764000000000}}\n"
    )
}

#[test]
fn restart_restores_only_its_own_venues_lines() {
    let sim = start_sim(31, 1000, &[]);
    let dir = scratch("journal-sessions");
    let journal = dir.join("j.jsonl");
    let jarg = journal.to_str().unwrap();

    // Run 1 trades and stops cleanly; its lines open with its session line.
    let engine = Engine::spawn(&sim, "journal-run1", &["--journal", jarg], &[]);
    engine.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.working.0.is_some() && s.working.1.is_some()
    });
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    let run1_position = lots_after(&fin.stderr, "final position");
    let run1 = std::fs::read_to_string(&journal).unwrap();
    // A clean stop ends the journal with the exchange's word: the
    // cancel-all, and a final state for every order of ours it saw.
    let records = read_journal(&journal);
    assert_eq!(of_type(&records, "cancel_all").len(), 1, "{run1}");
    let mut last = std::collections::BTreeMap::new();
    for r in of_type(&records, "order") {
        last.insert(r["order_id"].as_str().unwrap().to_string(), r.clone());
    }
    assert!(!last.is_empty(), "{run1}");
    for (id, r) in &last {
        // An order the fills closed may have no final order line.
        let mut fills: Vec<(&str, i64)> = of_type(&records, "fill")
            .into_iter()
            .filter(|f| f["order_id"] == id.as_str())
            .map(|f| {
                (
                    f["exec_id"].as_str().unwrap(),
                    f["qty_lots"].as_i64().unwrap(),
                )
            })
            .collect();
        fills.sort();
        fills.dedup_by_key(|f| f.0);
        let filled: i64 = fills.iter().map(|f| f.1).sum();
        let open = matches!(r["status"].as_str(), Some("New" | "PartiallyFilled"));
        assert!(
            !open || filled >= r["qty_lots"].as_i64().unwrap(),
            "order {id} still open in the journal after a clean stop: {r}"
        );
    }
    let session = run1
        .lines()
        .find(|l| l.starts_with("{\"t\":\"session\""))
        .expect("run 1 wrote a session line")
        .to_string();
    assert!(session.contains("\"venue\":\"sim@127.0.0.1:"), "{session}");

    // The same file also holds a testnet session of the same symbol (a long
    // position of 700 lots), and, after run 1, a further 300 lots sold
    // under run 1's own session.
    let start = session.find("\"venue\":\"").unwrap() + 9;
    let end = start + session[start..].find('"').unwrap();
    let testnet = format!("{}testnet{}", &session[..start], &session[end..]);
    let mut edited = String::new();
    edited.push_str(&testnet);
    edited.push('\n');
    edited.push_str(&fill_line("tn-1", "Buy", 600_000, 700));
    edited.push_str(&run1);
    edited.push_str(&session);
    edited.push('\n');
    edited.push_str(&fill_line("same-1", "Sell", 600_000, 300));
    std::fs::write(&journal, edited).unwrap();

    // Run 2 restores run 1's position and the 300 lots sold, not the
    // testnet fill, and says what it skipped.
    let engine = Engine::spawn(&sim, "journal-run2", &["--journal", jarg], &[]);
    let note = engine.wait_line("the journal note", Duration::from_secs(10), |l| {
        l.starts_with("journal ")
    });
    assert_eq!(
        lots_after(&note, "(position"),
        run1_position - 300,
        "{note}"
    );
    assert_eq!(lots_after(&note, "skipped"), 1, "{note}");
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);

    // Run 2 appended its own session line: every run opens one.
    let after = std::fs::read_to_string(&journal).unwrap();
    let sessions = after
        .lines()
        .filter(|l| l.starts_with("{\"t\":\"session\""))
        .count();
    assert_eq!(sessions, 4, "testnet, run 1, the edit, run 2");
    sim.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A crash (SIGKILL) leaves our quotes on the exchange; one of them fills
/// while the engine is down. The restart reads the journal, then the
/// exchange's execution list since the journal's last fill: the missed fill
/// is counted once, the journaled ones are not counted again, a trade made
/// by hand on the account meanwhile counts too (the position is the
/// account's, as on the live stream), and at the end the engine's position
/// equals the exchange's record of every fill on the account.
#[test]
fn a_fill_missed_during_a_crash_is_counted_once_after_the_restart() {
    let sim = start_sim(41, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let dir = scratch("journal-crash");
    let journal = dir.join("j.jsonl");
    let jarg = journal.to_str().unwrap();

    let engine = Engine::spawn(&sim, "crash-run1", &["--journal", jarg], &[]);
    engine.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.working.0.is_some() && s.working.1.is_some()
    });
    engine.crash();

    // Our quotes stay on the exchange: sell into our bid.
    let bid = sweep_our_bid(&sim, &mut rest);
    assert!(
        !rest
            .open_orders()
            .iter()
            .any(|o| o.order_id == bid.order_id),
        "the sweep filled our bid"
    );
    // A trade made by hand on the same account while the engine is down.
    let (_, asks) = book(&sim, 5);
    let best_ask = asks.iter().map(|(px, _)| *px).min().unwrap();
    let r = rest.limit("Buy", best_ask, 1_000, "IOC", "by-hand-1");
    assert_eq!(r["retCode"], 0, "{r}");

    // Restart on the same journal.
    let engine = Engine::spawn(&sim, "crash-run2", &["--journal", jarg], &[]);
    let note = engine.wait_line("the reconciliation note", Duration::from_secs(10), |l| {
        l.starts_with("journal: ")
    });
    let missed: usize = note
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{note}"));
    assert!(missed >= 1, "{note}");
    engine.wait_status("a status line", Duration::from_secs(5), |_| true);
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    let (net, _) = rest.net_filled_lots();
    assert_eq!(
        lots_after(&fin.stderr, "final position"),
        net,
        "engine position vs the exchange's fills on the account; {}",
        fin.stderr
    );
    sim.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Orders a crashed run left on the exchange are found at the restart even
/// when more than a page (50) of newer foreign orders on the same account
/// come before them in the exchange's open-order list: the restart must not
/// quote beside its own leftovers (two orders on a side).
#[test]
fn leftovers_behind_a_page_of_foreign_orders_are_found_at_restart() {
    let sim = start_sim(43, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let dir = scratch("journal-pages");
    let journal = dir.join("j.jsonl");
    let jarg = journal.to_str().unwrap();
    // The market is paused below: keep quoting on a silent feed.
    let args = ["--journal", jarg, "--stale-ms", "60000"];

    let ours = |open: &[Open]| -> (usize, usize) {
        let mine: Vec<Open> = open
            .iter()
            .filter(|o| !o.link_id.starts_with("foreign-"))
            .cloned()
            .collect();
        per_side(&mine)
    };
    let engine = Engine::spawn(&sim, "pages-run1", &args, &[]);
    engine.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.working.0.is_some() && s.working.1.is_some()
    });
    // Pause first (no fill can take a quote away), then crash once the
    // exchange lists both quotes.
    sim.set_pace(gapmm::sim::Pace::Paused).unwrap();
    let mut left = (0, 0);
    for _ in 0..10 {
        engine.wait_status("a status line", Duration::from_secs(3), |_| true);
        left = ours(&rest.open_orders());
        if left == (1, 1) {
            break;
        }
    }
    assert_eq!(left, (1, 1), "both quotes on the exchange before the crash");
    engine.crash();
    let left = ours(&rest.open_orders());
    assert!(
        left.0 + left.1 >= 1,
        "the crash left orders of ours: {left:?}"
    );
    // 60 foreign orders, newer than the leftovers, far below the market.
    let (bids, _) = book(&sim, 1);
    for i in 0..60 {
        let place = |rest: &mut Rest| {
            rest.limit(
                "Buy",
                bids[0].0 - 1_000 - i,
                1_000,
                "PostOnly",
                &format!("foreign-{i}"),
            )
        };
        let mut r = place(&mut rest);
        // Pace to the exchange's per-second order limit (10006).
        while r["retCode"] == 10006 {
            std::thread::sleep(Duration::from_millis(100));
            r = place(&mut rest);
        }
        assert_eq!(r["retCode"], 0, "{r}");
    }

    let engine = Engine::spawn(&sim, "pages-run2", &args, &[]);
    engine.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.working.0.is_some() && s.working.1.is_some()
    });
    // At rest, one order of ours per side: the leftovers were taken over (or
    // cancelled), not quoted beside.
    let mut last = (0, 0);
    for _ in 0..8 {
        engine.wait_status("a status line", Duration::from_secs(3), |_| true);
        let open = rest.open_orders();
        last = ours(&open);
        let foreign = open.len() - last.0 - last.1;
        assert_eq!(foreign, 60, "foreign orders are left alone");
        if last == (1, 1) {
            break;
        }
    }
    assert_eq!(last, (1, 1), "orders of ours per side after the restart");
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    sim.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Buys our resting bid (returned) with a sweep of the whole bid side down to
/// it from the taker account (IOC: nothing of the taker's rests).
fn sweep_our_bid(sim: &gapmm::sim::SimHandle, rest: &mut Rest) -> Open {
    let mut taker = Rest::new(sim, TAKER_KEY, TAKER_SECRET);
    let bid = rest
        .open_orders()
        .into_iter()
        .find(|o| o.side == "Buy")
        .expect("our bid is on the exchange");
    let (bids, _) = book(sim, 200);
    let depth: i64 = bids
        .iter()
        .filter(|(px, _)| *px >= bid.price)
        .map(|(_, q)| q)
        .sum();
    let r = taker.limit("Sell", bid.price, depth + 100_000, "IOC", "sweep");
    assert_eq!(r["retCode"], 0, "{r}");
    bid
}

/// A journal is replayed only into the account and key (and exchange
/// instance) that wrote it. A simulator started again on the same port, with
/// the same seed, is a new account state: run 2 restores nothing of run 1's
/// position, counts the new instance's fills (their execution ids are new,
/// not taken for run 1's) and ends with the exchange's record. Switching to
/// another account's keys on the same journal is a new session too.
#[test]
fn a_journal_is_replayed_only_into_its_own_account_and_exchange_instance() {
    let other = ("otheraccountkey", "otheraccountsecret");
    let first = start_sim(53, 1000, &[other]);
    let port = first.addr().port();
    let dir = scratch("journal-instances");
    let journal = dir.join("j.jsonl");
    let jarg = journal.to_str().unwrap();
    let quoting = |s: &Status| s.working.0.is_some() && s.working.1.is_some();

    // Run 1 on the first instance: a fill, then a clean stop.
    let engine = Engine::spawn(&first, "instances-run1", &["--journal", jarg], &[]);
    engine.wait_status("both quotes working", Duration::from_secs(10), quoting);
    sweep_our_bid(&first, &mut Rest::new(&first, KEY, SECRET));
    engine.wait_status("the fill counted", Duration::from_secs(10), |s| {
        s.fills >= 1
    });
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    // Whatever run 1 ended with (both quotes may have filled), its part of
    // the journal holds a position: 700 more lots bought under its session.
    let run1_position = lots_after(&fin.stderr, "final position");
    let text = std::fs::read_to_string(&journal).unwrap();
    let session = text
        .lines()
        .find(|l| l.starts_with("{\"t\":\"session\""))
        .expect("run 1 wrote a session line")
        .to_string();
    assert!(session.contains("\"account\":\"1001/"), "{session}");
    let extra = format!(
        "{session}\n{}",
        fill_line("instances-extra", "Buy", 600_000, 700)
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    std::io::Write::write_all(&mut f, extra.as_bytes()).unwrap();
    assert_ne!(run1_position + 700, 0);
    first.shutdown().unwrap();

    // The same port and seed again: the same keys, the same uid.
    let second = start_sim_on(53, 1000, &[other], port);
    let mut rest = Rest::new(&second, KEY, SECRET);
    let engine = Engine::spawn(&second, "instances-run2", &["--journal", jarg], &[]);
    let note = engine.wait_line("the journal note", Duration::from_secs(10), |l| {
        l.starts_with("journal ")
    });
    assert_eq!(lots_after(&note, "(position"), 0, "{note}");
    assert!(lots_after(&note, "skipped") > 0, "{note}");
    engine.wait_status("both quotes working", Duration::from_secs(10), quoting);
    sweep_our_bid(&second, &mut rest);
    engine.wait_status("the fill counted", Duration::from_secs(10), |s| {
        s.fills >= 1
    });
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    let (net, n) = rest.net_filled_lots();
    assert!(n >= 1);
    assert_eq!(
        lots_after(&fin.stderr, "final position"),
        net,
        "run 2's position vs the new instance's fills; {}",
        fin.stderr
    );

    // Another account's keys on the same journal and exchange: nothing of
    // the first account's lines is restored.
    let engine = Engine::spawn(
        &second,
        "instances-run3",
        &["--journal", jarg],
        &[("BYBIT_API_KEY", other.0), ("BYBIT_API_SECRET", other.1)],
    );
    let note = engine.wait_line("the journal note", Duration::from_secs(10), |l| {
        l.starts_with("journal ")
    });
    assert_eq!(lots_after(&note, "(position"), 0, "{note}");
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    second.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
