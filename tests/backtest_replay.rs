//! The backtest on the real BTCUSDT recording (`../shared/data`): it runs
//! the live strategy and order manager (their rules show in what it does),
//! is deterministic, writes its report, JSON and plots, sweeps a grid, and
//! refuses a bad or truncated recording with a typed error naming the line.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use gapmm::backtest;
use gapmm::commands::backtest::from_flags;
use gapmm::strategy::{calculate_quotes, encode_signal, QuoteEdges};
use gapmm::units::{HalfTicks, Side};

mod common;

fn btc() -> PathBuf {
    common::shared_dir()
        .join("data")
        .join("BTCUSDT-spot-2024-08-08T2354_to_08-09T0005.bybit.gz")
}

const STEPS: [&str; 8] = [
    "--tick-size",
    "0.01",
    "--qty-step",
    "0.00001",
    "--min-order-size",
    "0.001",
    "--max-position",
    "0.01",
];

fn flags<'a>(path: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut f = vec!["--replay", path];
    f.extend_from_slice(&STEPS);
    f.extend_from_slice(extra);
    f
}

fn gapmm_hot(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gapmm-hot"))
        .args(args)
        .env_remove("TICK_SIZE")
        .env_remove("TRADING_SYMBOL")
        .env_remove("MIN_ORDER_SIZE")
        .env_remove("MAX_POSITION_SIZE")
        .env_remove("MARKET_TYPE")
        .env_remove("GAPMM_GAMMA")
        .output()
        .expect("gapmm-hot runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gapmm-bt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The first quotes the backtest puts on the exchange are the live
/// strategy's for the recording's first book (the original's table with
/// gamma 0), and its orders obey the live order manager's rules: one per
/// side, PostOnly never crossing, Bybit's amend limit in every second.
#[test]
fn the_backtest_quotes_with_the_live_strategy_and_order_manager() {
    let path = btc();
    let p = path.to_str().unwrap();
    let (tape, cfg) = from_flags(&flags(p, &["--gamma", "0", "--feed-latency", "0"])).unwrap();
    let r = backtest::run(&tape, &cfg).unwrap();

    // The first book's quotes, computed here from the strategy's own math.
    let first = tape.events().iter().find_map(|e| tape.book(e)).unwrap();
    let mut b = gapmm::book::Book::new(backtest::BOOK);
    b.apply(&first).unwrap();
    let m = gapmm::analytics::compute(&b, first.ts).unwrap();
    let (sig, conf) = encode_signal(m.gap_prob_resistance_up);
    let q = calculate_quotes(
        HalfTicks::mid(m.bid, m.ask),
        sig,
        conf,
        QuoteEdges::default(),
    );
    let first_bid = r.quote_log.iter().find(|c| c.side == Side::Buy).unwrap();
    let first_ask = r.quote_log.iter().find(|c| c.side == Side::Sell).unwrap();
    assert_eq!(
        first_bid.price,
        Some(q.bid.min(m.ask - gapmm::units::Ticks(1)))
    );
    assert_eq!(
        first_ask.price,
        Some(q.ask.max(m.bid + gapmm::units::Ticks(1)))
    );

    // The order manager's rules.
    let mut resting = [0i64; 2];
    for c in &r.quote_log {
        let k = usize::from(c.side == Side::Sell);
        resting[k] = i64::from(c.price.is_some());
    }
    assert!(r.rates.1 > 1.0, "the strategy amends: {:?}", r.rates);
    assert!(r.fills.0 + r.fills.1 > 50, "fills {:?}", r.fills);
    // At most 10 amend items (single and batch each) in any second: the
    // quote log records every accepted amend as a change of price.
    let amends: Vec<u64> = r
        .quote_log
        .windows(2)
        .filter(|w| w[0].side == w[1].side && w[0].price.is_some() && w[1].price.is_some())
        .map(|w| w[1].t_ns)
        .collect();
    for (i, t) in amends.iter().enumerate() {
        let in_second = amends[i..]
            .iter()
            .take_while(|&&u| u < t + 1_000_000_000)
            .count();
        assert!(
            in_second <= 20,
            "{in_second} price changes in the second from {t}"
        );
    }
    assert!(r.max_abs_position <= 0.01 + 1e-12, "{}", r.max_abs_position);
}

#[test]
fn the_same_recording_and_settings_give_the_same_report() {
    let path = btc();
    let p = path.to_str().unwrap();
    let (tape, cfg) = from_flags(&flags(p, &["--order-latency", "250"])).unwrap();
    let a = backtest::run(&tape, &cfg).unwrap();
    let b = backtest::run(&tape, &cfg).unwrap();
    assert_eq!(a.fill_log, b.fill_log);
    assert_eq!((a.net, a.fills, a.rates), (b.net, b.fills, b.rates));
    // A different queue model is a different backtest.
    let (tape2, cfg2) =
        from_flags(&flags(p, &["--order-latency", "250", "--queue", "power:1"])).unwrap();
    let c = backtest::run(&tape2, &cfg2).unwrap();
    assert_eq!(c.events, a.events);
}

#[test]
fn the_command_writes_its_report_json_and_plots() {
    let dir = tmp("cli");
    let json = dir.join("bt.json");
    let path = btc();
    let out = gapmm_hot(
        &[
            vec!["backtest"],
            flags(path.to_str().unwrap(), &[]),
            vec![
                "--json",
                json.to_str().unwrap(),
                "--plot",
                dir.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["PnL", "fills", "markout", "max drawdown", "amends/s"] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for k in [
        "pnl",
        "fills",
        "fill_ratio",
        "volume",
        "markouts",
        "max_drawdown",
        "per_sec",
        "path",
    ] {
        assert!(!v[k].is_null(), "{k} missing");
    }
    let h: Vec<f64> = v["markouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["horizon_s"].as_f64().unwrap())
        .collect();
    assert_eq!(h, [1.0, 5.0, 30.0]);
    let net = v["pnl"]["net"].as_f64().unwrap();
    let sum = v["pnl"]["realised"].as_f64().unwrap() + v["pnl"]["unrealised"].as_f64().unwrap()
        - v["pnl"]["fees"].as_f64().unwrap();
    assert!((net - sum).abs() < 1e-9);
    for png in ["equity.png", "markouts.png"] {
        let bytes = std::fs::read(dir.join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{png}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_prints_one_ranked_row_per_parameter_set() {
    let path = btc();
    let out = gapmm_hot(
        &[
            vec!["backtest"],
            flags(path.to_str().unwrap(), &[]),
            vec![
                "--sweep",
                "gamma=0,auto",
                "tight-ticks=1,3",
                "--threads",
                "2",
            ],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    let nets: Vec<f64> = rows
        .iter()
        .map(|l| l.split_whitespace().nth(3).unwrap().parse().unwrap())
        .collect();
    assert!(
        nets.windows(2).all(|w| w[0] >= w[1]),
        "not ranked: {nets:?}"
    );
    for set in ["gamma=0 tight-ticks=1", "gamma=auto tight-ticks=3"] {
        assert!(text.contains(set), "{set} missing");
    }
    // A bad value fails before anything runs.
    let bad = gapmm_hot(
        &[
            vec!["backtest"],
            flags(path.to_str().unwrap(), &[]),
            vec!["--sweep", "gamma=x"],
        ]
        .concat(),
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn bad_and_truncated_recordings_are_typed_errors_naming_the_line() {
    let dir = tmp("bad");
    // Truncated gzip: the stream ends mid-way.
    let whole = std::fs::read(btc()).unwrap();
    let cut = dir.join("cut.gz");
    std::fs::write(&cut, &whole[..whole.len() / 3]).unwrap();
    // A line that is not in either layout, after good ones.
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&whole[..]).take_lines(3, &mut text);
    text.extend_from_slice(b"not a recording line\n");
    let bad = dir.join("bad.txt");
    std::fs::File::create(&bad)
        .unwrap()
        .write_all(&text)
        .unwrap();
    for (path, want) in [(&cut, "line "), (&bad, "line 4")] {
        let out = gapmm_hot(&[vec!["backtest"], flags(path.to_str().unwrap(), &[])].concat());
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Reads the first `n` lines of a reader into `out`.
trait TakeLines {
    fn take_lines(self, n: usize, out: &mut Vec<u8>);
}

impl<R: std::io::Read> TakeLines for R {
    fn take_lines(self, n: usize, out: &mut Vec<u8>) {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(self);
        for _ in 0..n {
            r.read_until(b'\n', out).unwrap();
        }
    }
}
