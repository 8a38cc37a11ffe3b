//! Configuration errors and secrets, checked on the real `gapmm-hot` binary:
//! a bad value exits non-zero with a message naming the variable (and, for a
//! tick size the exchange disagrees with, both values, before any order); the
//! API secret appears in no output, log line or journal — neither when a live
//! venue is refused nor when the engine trades a simulator with custom keys.

mod engine_support;
mod sim_common;

use engine_support::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn run_env(name: &str, envs: &[(&str, &str)], args: &[&str]) -> Finished {
    let dir = scratch(name);
    let mut c = command(&dir);
    c.env("GAPMM_JOURNAL", dir.join("journal.jsonl"));
    for (k, v) in envs {
        c.env(k, v);
    }
    c.args(args);
    let f = run_to_end(c, LIMIT);
    let _ = std::fs::remove_dir_all(&dir);
    f
}

/// Every engine flag is accepted after the `run` subcommand too (a flag
/// clap rejected there would read "unexpected argument" instead).
#[test]
fn engine_flags_work_after_run() {
    for (flag, var) in [
        ("--max-position", "MAX_POSITION_SIZE"),
        ("--min-order-size", "MIN_ORDER_SIZE"),
        ("--min-update-interval", "MIN_UPDATE_INTERVAL"),
        ("--alpha-ticks", "GAPMM_ALPHA_TICKS"),
        ("--recv-window", "GAPMM_RECV_WINDOW"),
        ("--tick-size", "TICK_SIZE"),
        ("--idle", "GAPMM_IDLE"),
    ] {
        let f = run_env("after-run", &[], &["run", flag, "bogus", "--duration", "1"]);
        assert!(!f.status.success(), "{flag} bogus was accepted");
        assert!(
            f.stderr.contains(var) && f.stderr.contains("bogus"),
            "{flag}: {}",
            f.stderr
        );
    }
}

#[test]
fn bad_configuration_names_the_variable_and_exits_non_zero() {
    for (var, value) in [
        ("TICK_SIZE", "abc"),
        ("MARKET_TYPE", "futures"),
        ("MAX_POSITION_SIZE", "-1"),
        ("GAPMM_IDLE", "sometimes"),
    ] {
        let f = run_env("badcfg", &[(var, value)], &["--duration", "1"]);
        assert!(!f.status.success(), "{var}={value} was accepted");
        assert!(
            f.stderr.contains(var) && f.stderr.contains(value),
            "{var}={value}: {}",
            f.stderr
        );
        assert!(
            !f.stderr.contains("trading BTCUSDT"),
            "{var}={value} started trading"
        );
    }
}

#[test]
fn a_tick_size_the_exchange_disagrees_with_is_refused_before_any_order() {
    let sim = start_sim(5, 200, &[]);
    let f = run_env(
        "tick",
        &[("TICK_SIZE", "0.01")],
        &[
            "--sim-url",
            &sim.http_url(),
            "--idle",
            "park",
            "--duration",
            "5",
        ],
    );
    assert!(!f.status.success(), "accepted:\n{}", f.stderr);
    let last = f.stderr.lines().last().unwrap_or("");
    assert!(
        last.contains("TICK_SIZE") && last.contains("0.01") && last.contains("0.1"),
        "{}",
        f.stderr
    );
    assert!(Rest::new(&sim, KEY, SECRET).open_orders().is_empty());
    assert_eq!(
        sim.stats().ws_in,
        0,
        "no WebSocket traffic before the check"
    );
}

#[test]
fn the_secret_appears_in_no_output_or_journal() {
    let secret = "zq9-UNIQUE-s3cr3t-7d1f";
    let key = "enginetestkey";
    let keys = [("BYBIT_API_KEY", key), ("BYBIT_API_SECRET", secret)];
    let clean = |f: &Finished, what: &str| {
        assert!(
            !f.stdout.contains(secret),
            "{what}: stdout shows the secret"
        );
        assert!(
            !f.stderr.contains(secret),
            "{what}: stderr shows the secret"
        );
    };

    // Live venues refused (no --live: nothing is contacted); --help.
    let f = run_env(
        "sec-testnet",
        &keys,
        &["--venue", "testnet", "--duration", "1"],
    );
    assert!(!f.status.success());
    assert!(f.stderr.contains("GAPMM_LIVE"), "{}", f.stderr);
    clean(&f, "testnet without --live");
    let f = run_env(
        "sec-mainnet",
        &keys,
        &["--venue", "mainnet", "--duration", "1"],
    );
    assert!(!f.status.success());
    clean(&f, "mainnet without --live");
    let f = run_env("sec-help", &keys, &["--help"]);
    assert!(f.status.success() && f.stdout.contains("BYBIT_API_SECRET"));
    clean(&f, "--help");
    // A secret missing its key is refused without echoing it.
    let f = run_env(
        "sec-half",
        &[("BYBIT_API_SECRET", secret)],
        &["--duration", "1"],
    );
    assert!(!f.status.success() && f.stderr.contains("BYBIT_API_KEY"));
    clean(&f, "secret without key");

    // Trading a simulator whose account has these keys.
    let sim = start_sim(6, 1000, &[(key, secret)]);
    let dir = scratch("sec-sim");
    let journal = dir.join("journal.jsonl");
    let mut c = command(&dir);
    c.env("GAPMM_JOURNAL", &journal).envs(keys).args([
        "--sim-url",
        &sim.http_url(),
        "--idle",
        "park",
        "--duration",
        "4",
    ]);
    let f = run_to_end(c, LIMIT);
    assert!(f.status.success(), "{}", f.stderr);
    assert!(
        f.stderr
            .lines()
            .any(|l| Status::parse(l)
                .is_some_and(|s| s.working.0.is_some() || s.working.1.is_some())),
        "never quoted with the custom keys:\n{}",
        f.stderr
    );
    clean(&f, "simulator run");
    let j = std::fs::read_to_string(&journal).unwrap();
    assert!(j.lines().count() > 2, "journal: {j}");
    assert!(!j.contains(secret), "the journal shows the secret");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A key the exchange refuses stops start-up before any order, with the
/// variable to fix and the exchange's own code and words; a secret that does
/// not belong to the key points at the secret. The secret is never printed.
#[test]
fn a_refused_key_is_named_with_the_exchange_reason() {
    let sim = start_sim(7, 200, &[("rightkey", "rightsecret")]);
    for (key, secret, var, reason) in [
        (
            "no-such-key",
            "whatever-s3cr3t",
            "BYBIT_API_KEY",
            "10003 API key is invalid.",
        ),
        ("rightkey", "wrong-s3cr3t-9f", "BYBIT_API_SECRET", "10004 "),
    ] {
        let f = run_env(
            "refused-key",
            &[("BYBIT_API_KEY", key), ("BYBIT_API_SECRET", secret)],
            &[
                "--sim-url",
                &sim.http_url(),
                "--idle",
                "park",
                "--duration",
                "5",
            ],
        );
        assert!(!f.status.success(), "{key}: started anyway\n{}", f.stderr);
        let line = f
            .stderr
            .lines()
            .find(|l| l.contains(reason))
            .unwrap_or_else(|| panic!("{key}: no line with {reason:?}\n{}", f.stderr));
        assert!(line.contains(var), "{key}: {line:?} does not name {var}");
        assert!(!f.stderr.contains(secret) && !f.stdout.contains(secret));
    }
    assert!(
        Rest::new(&sim, "rightkey", "rightsecret")
            .open_orders()
            .is_empty(),
        "an order was placed"
    );
    sim.shutdown().unwrap();
}
