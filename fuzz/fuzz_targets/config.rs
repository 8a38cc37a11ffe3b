//! Configuration as an operator writes it: an arbitrary `.env` file, read by
//! dotenvy into the environment the flags fall back to, then validated by
//! `Config::parse`. Never a panic: a configuration or an error naming a
//! variable; and neither the error nor the configuration's `Debug` ever
//! shows `BYBIT_API_KEY` or `BYBIT_API_SECRET` (checked with marker keys,
//! so a short key that happens to be a substring of a message is no alarm).
#![no_main]

use std::io::Cursor;
use std::sync::OnceLock;

use clap::{CommandFactory, Parser};
use gapmm::engine::config::{Config, EngineArgs, KeyVars};
use libfuzzer_sys::fuzz_target;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    a: EngineArgs,
}

fn known_vars() -> &'static [String] {
    static VARS: OnceLock<Vec<String>> = OnceLock::new();
    VARS.get_or_init(|| {
        let mut v: Vec<String> = KeyVars::VARS.iter().map(|s| s.to_string()).collect();
        for a in Cli::command().get_arguments() {
            if let Some(e) = a.get_env().and_then(|e| e.to_str()) {
                v.push(e.to_string());
            }
        }
        v
    })
}

const KEY_MARK: &str = "Kq7KeyMarker5501xy";
const SECRET_MARK: &str = "Sq7SecretMarker5502xyzSq7SecretMarker";

fuzz_target!(|data: &[u8]| {
    let vars = known_vars();
    for v in vars {
        std::env::remove_var(v);
    }
    let mut set: Vec<(String, String)> = Vec::new();
    for item in dotenvy::from_read_iter(Cursor::new(data)) {
        let Ok((k, v)) = item else { break };
        if !vars.contains(&k) || v.contains('\0') || set.iter().any(|(s, _)| *s == k) {
            continue;
        }
        std::env::set_var(&k, &v);
        set.push((k, v));
    }
    let Ok(cli) = Cli::try_parse_from(["gapmm-hot"]) else {
        return;
    };
    let keys = KeyVars::from_env();
    let _ = Config::parse(&cli.a, &keys, true);
    // Whether a key is shown must not hang on its text (a short secret can
    // be a substring of any message): the same configuration with each set
    // key replaced by a marker must show no marker.
    let mark = |v: &Option<String>, m: &str| {
        v.as_ref().map(|k| {
            if k.trim().is_empty() {
                k.clone()
            } else {
                m.to_string()
            }
        })
    };
    let marked = KeyVars {
        key: mark(&keys.key, KEY_MARK),
        secret: mark(&keys.secret, SECRET_MARK),
    };
    let shown = match Config::parse(&cli.a, &marked, true) {
        Ok(cfg) => format!("{cfg:?}"),
        Err(e) => {
            assert!(!e.var.is_empty());
            e.to_string()
        }
    };
    let elsewhere = |m: &str| set.iter().any(|(_, v)| v.contains(m));
    for m in [KEY_MARK, SECRET_MARK] {
        assert!(
            elsewhere(m) || !shown.contains(m),
            "a key was shown: {shown}"
        );
    }
});
