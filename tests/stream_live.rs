//! `gapmm-hot stream` without `--replay`: connects to the venue (here the
//! embedded simulator) and prints the live book with its analytics, placing
//! no order.

use std::process::Command;

#[test]
fn live_stream_prints_analytics_lines_from_the_embedded_simulator() {
    let dir = std::env::temp_dir().join(format!("gapmm-stream-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gapmm-hot"))
        .args(["stream", "--duration", "3", "--sim-rate", "400"])
        .current_dir(&dir)
        .env_remove("TRADING_SYMBOL")
        .env_remove("TICK_SIZE")
        .env_remove("GAPMM_VENUE")
        .output()
        .expect("gapmm-hot runs");
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
    assert!(lines.len() >= 5, "only {} lines", lines.len());
    let mut last_u = 0;
    for l in &lines {
        let u = l["u"].as_u64().unwrap();
        assert!(u > last_u, "update ids increase");
        last_u = u;
        assert!(l["bid"].as_f64().unwrap() < l["ask"].as_f64().unwrap());
        let p = l["gap_prob_resistance_up"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
    }
    // Stream mode trades nothing: it never opens a journal.
    assert!(!dir.join("gapmm-journal.jsonl").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
