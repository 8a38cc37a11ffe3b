//! Both backtests on a tiny hand-written recording: a snapshot, deltas and
//! trades that fill a bid and an ask at the touch.

use std::path::PathBuf;

use gapmm_hbt_ref::{compare, RefParams};

/// Book 1.000 × 5 / 1.002 × 5 (one level behind each); local times 5 ms
/// after the exchange's. A taker sells 20 at 1.000 (our bid's level: 5
/// ahead of us, then our 10); the level empties; a taker buys 6 at 1.002
/// (our ask's level: 5 ahead, 1 past us).
const TAPE: &str = concat!(
    r#"999000000 {"success":true,"ret_msg":"","conn_id":"c","op":"subscribe"}"#,
    "\n",
    r#"1005000000 {"topic":"orderbook.50.XUSDT","type":"snapshot","ts":1000,"data":{"s":"XUSDT","b":[["1.000","5"],["0.999","8"]],"a":[["1.002","5"],["1.003","8"]],"u":1,"seq":1},"cts":999}"#,
    "\n",
    r#"1015000000 {"topic":"orderbook.50.XUSDT","type":"delta","ts":1010,"data":{"s":"XUSDT","b":[["0.999","9"]],"a":[["1.003","7"]],"u":2,"seq":2},"cts":1009}"#,
    "\n",
    r#"1025000000 {"topic":"publicTrade.XUSDT","type":"snapshot","ts":1020,"data":[{"T":1020,"s":"XUSDT","S":"Sell","v":"20","p":"1.000","L":"MinusTick","i":"t1","BT":false}]}"#,
    "\n",
    r#"1031000000 {"topic":"orderbook.50.XUSDT","type":"delta","ts":1026,"data":{"s":"XUSDT","b":[["1.000","0"]],"a":[],"u":3,"seq":3},"cts":1025}"#,
    "\n",
    r#"1035000000 {"topic":"publicTrade.XUSDT","type":"snapshot","ts":1030,"data":[{"T":1030,"s":"XUSDT","S":"Buy","v":"6","p":"1.002","L":"PlusTick","i":"t2","BT":false}]}"#,
    "\n",
    r#"1045000000 {"topic":"orderbook.50.XUSDT","type":"delta","ts":1040,"data":{"s":"XUSDT","b":[],"a":[["1.002","0"]],"u":4,"seq":4},"cts":1039}"#,
    "\n",
);

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn both_engines_fill_on_a_tiny_recording() {
    let path = std::env::temp_dir().join(format!(
        "gapmm-hbt-ref-side-by-side-{}.txt",
        std::process::id()
    ));
    std::fs::write(&path, TAPE).unwrap();
    let file = TempFile(path);

    let p = RefParams::new(0.001, 0.01, 10.0, 100.0);
    let c = compare(&file.0, &p, 1).unwrap();
    let (h, g) = (&c.hftbacktest, &c.gapmm);

    // 4 book messages + 2 trades on both sides (the subscribe answer skipped).
    assert_eq!(h.market_events, 6);
    assert_eq!(g.market_events, 6);
    assert!(h.fills >= 1, "hftbacktest: no fill");
    assert!(g.fills >= 1, "gap-mm: no fill");
    // Both sides buy at the bid first (the sell of 20 passes both queues).
    assert!(h.buy_fills >= 1 && g.buy_fills >= 1, "{h:?}\n{g:?}");
    assert_eq!(g.stale_pulls, 0);
    assert_eq!(c.timing.runs, 1);
    assert_eq!(c.timing.gapmm_loop_s.len(), 1);

    // The table has both columns and every row, and the JSON both results.
    let table = c.table(&p);
    for want in [
        "hftbacktest 0.9.4",
        "gap-mm",
        "fills (buy / sell)",
        "net PnL",
        "backtest loop wall time",
        "market events per second",
        "load: read + parse + convert",
    ] {
        assert!(table.contains(want), "{want:?} missing:\n{table}");
    }
    let v: serde_json::Value = serde_json::to_value(&c).unwrap();
    assert_eq!(v["hftbacktest"]["market_events"], 6);
    assert_eq!(v["gapmm"]["market_events"], 6);
}
