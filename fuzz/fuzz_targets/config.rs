//! Configuration as an operator writes it: an arbitrary `.env` file, read by
//! dotenvy into the environment the flags fall back to, then validated by
//! `Config::parse`. Never a panic: a configuration or an error naming a
//! variable; and neither the error nor the configuration's `Debug` ever
//! shows `BYBIT_API_KEY` or `BYBIT_API_SECRET` (unless the same text was
//! also given to a variable that is not secret).
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
    let shown = match Config::parse(&cli.a, &keys, true) {
        Ok(cfg) => format!("{cfg:?}"),
        Err(e) => {
            assert!(!e.var.is_empty());
            e.to_string()
        }
    };
    for secret in [&keys.key, &keys.secret].into_iter().flatten() {
        let s = secret.trim();
        if s.len() < 4 {
            continue;
        }
        let elsewhere = set
            .iter()
            .any(|(k, v)| !KeyVars::VARS.contains(&k.as_str()) && v.contains(s));
        assert!(elsewhere || !shown.contains(s), "a key was shown: {shown}");
    }
});
