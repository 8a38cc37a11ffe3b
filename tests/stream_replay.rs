//! `gapmm-hot stream --replay` on the real XRPUSDT recording: one JSON line per
//! message, every analytics field present and consistent with the book.

use std::collections::BTreeMap;
use std::process::Command;

mod common;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gapmm-hot"))
        .args(args)
        .env_remove("TRADING_SYMBOL")
        .env_remove("TICK_SIZE")
        .output()
        .expect("gapmm-hot runs")
}

/// A naive book from the recording's first line (the snapshot), for the expected values.
fn snapshot_reference() -> (BTreeMap<i64, i64>, BTreeMap<i64, i64>) {
    use std::io::Read;
    let f = std::fs::File::open(common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip")).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut text = String::new();
    z.by_index(0).unwrap().read_to_string(&mut text).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let side = |k: &str| -> BTreeMap<i64, i64> {
        v["data"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let p: f64 = l[0].as_str().unwrap().parse().unwrap();
                let q: i64 = l[1].as_str().unwrap().parse().unwrap();
                ((p * 10_000.0).round() as i64, q)
            })
            .collect()
    };
    (side("b"), side("a"))
}

#[test]
fn replay_prints_one_consistent_line_per_message() {
    let rec = common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip");
    let out = run(&[
        "stream",
        "--replay",
        rec.to_str().unwrap(),
        "--tick-size",
        "0.0001",
        "--qty-step",
        "1",
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 50);
    for (i, w) in lines.windows(2).enumerate() {
        assert_eq!(
            w[1]["u"].as_u64().unwrap(),
            w[0]["u"].as_u64().unwrap() + 1,
            "line {i}"
        );
    }
    for l in &lines {
        for key in [
            "u",
            "timestamp",
            "bid",
            "ask",
            "mid_price",
            "spread",
            "spread_bps",
            "imbalance",
            "bid_depth_5",
            "ask_depth_5",
            "gap_prob_resistance_up",
            "gap_distance_up",
            "gap_distance_dn",
            "liquidity_up",
            "liquidity_dn",
        ] {
            assert!(l[key].is_number(), "{key} missing or not a number in {l}");
        }
        let (bid, ask) = (l["bid"].as_f64().unwrap(), l["ask"].as_f64().unwrap());
        assert!(bid < ask);
        assert!((l["mid_price"].as_f64().unwrap() - (bid + ask) / 2.0).abs() < 1e-9);
        let p = l["gap_prob_resistance_up"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
    }
    // The first line is the snapshot: its values follow from the book alone.
    let (bids, asks) = snapshot_reference();
    let first = &lines[0];
    let (&bb, _) = bids.iter().next_back().unwrap();
    let (&ba, _) = asks.iter().next().unwrap();
    assert_eq!((first["bid"].as_f64().unwrap() * 1e4).round() as i64, bb);
    assert_eq!((first["ask"].as_f64().unwrap() * 1e4).round() as i64, ba);
    let bd5: i64 = bids.values().rev().take(5).sum();
    let ad5: i64 = asks.values().take(5).sum();
    assert_eq!(first["bid_depth_5"].as_i64().unwrap(), bd5);
    assert_eq!(first["ask_depth_5"].as_i64().unwrap(), ad5);
    let imb = (bd5 - ad5) as f64 / (bd5 + ad5) as f64;
    assert!((first["imbalance"].as_f64().unwrap() - imb).abs() < 1e-12);
    // Gap above the ask: empty ticks to the next level within 100, then 5 ticks of size.
    let gap = |best: i64, dir: i64, book: &BTreeMap<i64, i64>| -> (u64, i64) {
        for d in 1..=100i64 {
            if book.contains_key(&(best + dir * d)) {
                let liq = (0..5)
                    .map(|k| book.get(&(best + dir * (d + k))).copied().unwrap_or(0))
                    .sum();
                return ((d - 1) as u64, liq);
            }
        }
        (100, 0)
    };
    let (gu, lu) = gap(ba, 1, &asks);
    let (gd, ld) = gap(bb, -1, &bids);
    assert_eq!(first["gap_distance_up"].as_u64().unwrap(), gu);
    assert_eq!(first["gap_distance_dn"].as_u64().unwrap(), gd);
    assert_eq!(first["liquidity_up"].as_i64().unwrap(), lu);
    assert_eq!(first["liquidity_dn"].as_i64().unwrap(), ld);
    let (su, sd) = (lu as f64 / (gu as f64 + 1.0), ld as f64 / (gd as f64 + 1.0));
    assert!((first["gap_prob_resistance_up"].as_f64().unwrap() - su / (su + sd)).abs() < 1e-12);
}

#[test]
fn a_wrong_tick_size_is_reported_per_line_and_fails_the_run() {
    let rec = common::bybit("real/2024-12-01_XRPUSDT_ob500.data.zip");
    let out = run(&[
        "stream",
        "--replay",
        rec.to_str().unwrap(),
        "--tick-size",
        "0.001",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a whole number of the instrument's steps"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
