//! Smoke test: each async variant trades the in-process simulator for 20 ticks and the simulator
//! files its reactions under the variant's name.

use gapmm::ids::Category;
use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::{Pace, Sim, SimConfig, SimHandle};
use gapmm_async::{run_blocking, Config, RunStats, RuntimeKind, Transport};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn sim() -> SimHandle {
    let mut ex = ExchangeConfig::standard(7, MarketModel::Synthetic(SyntheticParams::default()));
    ex.symbols
        .retain(|s| s.symbol == "BTCUSDT" && s.category == Category::Linear);
    let mut cfg = SimConfig::new(ex);
    cfg.pace = Pace::Every(Duration::from_micros(500));
    Sim::start(cfg).expect("simulator starts")
}

fn config(sim: &SimHandle, variant: &str, transport: Transport) -> Config {
    Config {
        http_url: sim.http_url(),
        ws_url: sim.ws_url(),
        api_key: sim.api_key().to_string(),
        api_secret: sim.api_secret().to_string(),
        symbol: "BTCUSDT".into(),
        category: Category::Linear,
        tick_size: "0.1".into(),
        qty_step: "0.001".into(),
        qty: "0.001".into(),
        depth: 50,
        variant: variant.into(),
        transport,
        max_ticks: Some(20),
        duration: Some(Duration::from_secs(30)),
        budget_scale: 1,
    }
}

fn trades(variant: &str, runtime: RuntimeKind, transport: Transport, channel: &str) {
    let sim = sim();
    let stats = Arc::new(RunStats::default());
    run_blocking(
        config(&sim, variant, transport),
        runtime,
        Arc::new(AtomicBool::new(false)),
        stats.clone(),
    )
    .expect("variant runs");
    assert_eq!(stats.ticks.load(Ordering::Relaxed), 20);
    let sent = stats.sent.load(Ordering::Relaxed);
    // At least the two creates; after that a side is sent only when its target price changes.
    assert!(sent >= 2, "sent {sent} requests for 20 ticks");
    assert_eq!(
        stats.replies.load(Ordering::Relaxed),
        sent,
        "every request answered"
    );
    let (hists, _, repeats) = sim.reactions().expect("reactions");
    let key = format!("{channel}/{variant}");
    let h = hists
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, h)| h)
        .unwrap_or_else(|| {
            panic!(
                "no histogram {key} in {:?}",
                hists.iter().map(|h| &h.0).collect::<Vec<_>>()
            )
        });
    // A tick may cause both sides' requests: the first is its reaction, the other a repeat.
    assert_eq!(
        h.len() + repeats,
        sent,
        "every request attributed to its tick"
    );
    assert!(h.len() >= sent / 2);
    assert!(h.min() > 0);
    sim.shutdown().expect("shutdown");
}

#[test]
fn multi_thread_ws_variant_is_measured() {
    trades("asyncmt", RuntimeKind::Multi, Transport::Ws, "ws-trade");
}

#[test]
fn current_thread_ws_variant_is_measured() {
    trades("asyncct", RuntimeKind::Current, Transport::Ws, "ws-trade");
}

#[test]
fn rest_variant_is_measured() {
    trades("asyncmtrest", RuntimeKind::Multi, Transport::Rest, "rest");
}

/// The baseline gates its requests as gapmm-hot's order manager does: over
/// 2,000 ticks (about a second at one tick per 500 µs) the targets change far
/// more often than Bybit's budget allows, so most are held, and what is sent
/// stays inside the budget's combined 20 requests per second.
#[test]
fn requests_keep_to_the_rate_budget() {
    let sim = sim();
    let stats = Arc::new(RunStats::default());
    let mut cfg = config(&sim, "asyncgate", Transport::Ws);
    cfg.max_ticks = Some(2000);
    let t0 = std::time::Instant::now();
    run_blocking(
        cfg,
        RuntimeKind::Current,
        Arc::new(AtomicBool::new(false)),
        stats.clone(),
    )
    .expect("variant runs");
    let secs = t0.elapsed().as_secs_f64();
    let sent = stats.sent.load(Ordering::Relaxed);
    let held = stats.held.load(Ordering::Relaxed);
    assert!(
        held > sent,
        "sent {sent}, held {held}: the gate held nothing back"
    );
    // A sliding one-second window: at most 20 per started second.
    let cap = 20 * (secs.ceil() as u64 + 1);
    assert!(sent <= cap, "sent {sent} in {secs:.2} s (cap {cap})");
    sim.shutdown().expect("shutdown");
}
