//! Recording against the embedded simulator, with `gapmm-hot record` and
//! while trading (`--record`): the files are in the recorder's layout, hold
//! book messages and trades, and `eval`, `backtest` and `stream --replay`
//! read them. And `gapmm-hot fidelity` runs end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use gapmm::replay::{Layout, Tape, TapeSpec};
use gapmm::units::Step;

/// A `gapmm-hot` command with a clean configuration environment, run in
/// `dir` (so no `.env` of the developer's is picked up).
fn gapmm_hot(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gapmm-hot"));
    for (k, _) in std::env::vars() {
        if gapmm::engine::config::is_config_var(&k) {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("gapmm-hot runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gapmm-rec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The embedded simulator's BTCUSDT spot steps.
fn spec() -> TapeSpec {
    TapeSpec {
        price_step: Step::parse("0.1").unwrap(),
        qty_step: Step::parse("0.000001").unwrap(),
        symbol: None,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}\nstdout {}\nstderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_recording_of_the_simulator_is_read_by_eval_backtest_and_stream() {
    let dir = tmp("cmd");
    let out = gapmm_hot(
        &dir,
        &[
            "record",
            "--out",
            "rec",
            "--duration",
            "4",
            "--sim-rate",
            "300",
        ],
    );
    ok(&out);
    let f = files(&dir.join("rec"));
    assert_eq!(f.len(), 1, "{f:?}");
    let name = f[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("BTCUSDT_") && name.ends_with(".gz"),
        "{name}"
    );
    let tape = Tape::load(&f, &spec()).unwrap();
    assert_eq!(tape.layout(), Layout::Recorder);
    let s = tape.stats();
    assert!(s.snapshots >= 1 && s.books > 100 && s.trades > 0, "{s:?}");
    // Receive times are real clock readings, in order.
    let ev = tape.events();
    assert!(ev.windows(2).all(|w| w[0].local_ns <= w[1].local_ns));
    let span = tape.span_secs();
    assert!(span > 2.0 && span < 6.0, "{span}");
    let rec = f[0].to_str().unwrap();
    let steps = ["--tick-size", "0.1", "--qty-step", "0.000001"];
    // eval
    let out = gapmm_hot(
        &dir,
        &[
            &["eval", "--replay", rec, "--horizons", "100ms,1s"][..],
            &steps,
        ]
        .concat(),
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("BTCUSDT"));
    // backtest
    let out = gapmm_hot(&dir, &[&["backtest", "--replay", rec][..], &steps].concat());
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("replayed {} events", ev.len())),
        "{text}"
    );
    // stream --replay: one JSON line per book message with a two-sided book
    let out = gapmm_hot(&dir, &[&["stream", "--replay", rec][..], &steps].concat());
    ok(&out);
    let lines = String::from_utf8_lossy(&out.stdout).lines().count() as u64;
    assert!(
        lines > s.books / 2 && lines <= s.books,
        "{lines} of {}",
        s.books
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trading_with_record_writes_book_and_trades_off_the_hot_thread() {
    let dir = tmp("trade");
    let out = gapmm_hot(
        &dir,
        &["--duration", "4", "--sim-rate", "300", "--record", "rec"],
    );
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("recorded ") && err.contains("0 dropped"),
        "{err}"
    );
    let f = files(&dir.join("rec"));
    let tape = Tape::load(&f, &spec()).unwrap();
    let s = tape.stats();
    assert!(s.books > 100 && s.trades > 0, "{s:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fidelity_compares_a_live_run_with_its_backtest() {
    let dir = tmp("fid");
    let out = gapmm_hot(
        &dir,
        &[
            "fidelity",
            "--out",
            "f",
            "--duration",
            "6",
            "--sim-rate",
            "300",
            "--queues",
            "risk-averse",
        ],
    );
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for row in [
        "fills (buy/sell)",
        "live fills matched",
        "net PnL",
        "time quoting as live",
    ] {
        assert!(text.contains(row), "{row} missing:\n{text}");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("f/fidelity.json")).unwrap()).unwrap();
    let b = &v["backtests"][0];
    let live = v["live"]["fills"].as_u64().unwrap();
    let matched = b["live_fills_matched"].as_u64().unwrap();
    assert!(matched <= live);
    assert!(b["quote_agreement"]["bid"].as_f64().unwrap() <= 1.0);
    // The recording, journal and histograms the comparison used are kept.
    assert!(dir.join("f/journal.jsonl").is_file());
    assert!(dir.join("f/hist/gapmm-hot-ack.hgrm").is_file());
    assert!(!files(&dir.join("f/recording")).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
