//! `gapmm-async`: the tokio baseline market maker (see the library docs).
//!
//! ```text
//! gapmm-async --runtime multi --transport ws --url http://127.0.0.1:PORT --duration 10
//! ```

use clap::Parser;
use gapmm::ids::Category;
use gapmm_async::{run_blocking, Config, RunStats, RuntimeKind, Transport};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Async (tokio) baseline of gap-mm against a loopback gapmm-sim.
#[derive(Parser, Debug)]
#[command(name = "gapmm-async")]
struct Args {
    /// Tokio runtime: multi or current.
    #[arg(long, default_value = "multi")]
    runtime: String,
    /// Order transport: ws or rest.
    #[arg(long, default_value = "ws")]
    transport: String,
    /// Simulator base URL (http://127.0.0.1:PORT); the WS URL is derived from it.
    #[arg(long = "sim-url")]
    sim_url: String,
    /// API key.
    #[arg(long = "api-key", default_value = "simkey")]
    api_key: String,
    /// API secret.
    #[arg(
        long = "api-secret",
        default_value = "simsecret",
        hide_default_value = true
    )]
    api_secret: String,
    /// Symbol.
    #[arg(long, default_value = "BTCUSDT")]
    symbol: String,
    /// spot or linear.
    #[arg(long = "market-type", default_value = "linear")]
    market_type: String,
    /// Price step.
    #[arg(long = "tick-size", default_value = "0.1")]
    tick_size: String,
    /// Quantity step.
    #[arg(long = "qty-step", default_value = "0.001")]
    qty_step: String,
    /// Order quantity.
    #[arg(long, default_value = "0.001")]
    qty: String,
    /// Variant name the simulator files reactions under (default: asyncmt / asyncct, +rest).
    #[arg(long)]
    variant: Option<String>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

fn main() {
    let a = Args::parse();
    let result = (|| -> Result<(), String> {
        let runtime = RuntimeKind::parse(&a.runtime).ok_or("--runtime multi|current")?;
        let transport = Transport::parse(&a.transport).ok_or("--transport ws|rest")?;
        let category =
            Category::parse(a.market_type.as_bytes()).ok_or("--market-type spot|linear")?;
        let variant = a
            .variant
            .clone()
            .unwrap_or_else(|| default_variant(runtime, transport));
        let ws_url = a.sim_url.replacen("http", "ws", 1);
        let cfg = Config {
            http_url: a.sim_url.clone(),
            ws_url,
            api_key: a.api_key.clone(),
            api_secret: a.api_secret.clone(),
            symbol: a.symbol.clone(),
            category,
            tick_size: a.tick_size.clone(),
            qty_step: a.qty_step.clone(),
            qty: a.qty.clone(),
            depth: 50,
            variant,
            transport,
            max_ticks: None,
            duration: Some(Duration::from_secs_f64(a.duration.max(0.0))),
            budget_scale: 1,
        };
        let stats = Arc::new(RunStats::default());
        run_blocking(
            cfg,
            runtime,
            Arc::new(AtomicBool::new(false)),
            stats.clone(),
        )
        .map_err(|e| e.to_string())?;
        let l = |x: &std::sync::atomic::AtomicU64| x.load(Ordering::Relaxed);
        println!(
            "ticks={} sent={} replies={} rejected={} bad_frames={} held={}",
            l(&stats.ticks),
            l(&stats.sent),
            l(&stats.replies),
            l(&stats.rejected),
            l(&stats.bad_frames),
            l(&stats.held)
        );
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("gapmm-async: {e}");
        std::process::exit(2);
    }
}

/// `asyncmt` / `asyncct` for WS, `asyncmtrest` / `asyncctrest` for REST.
fn default_variant(r: RuntimeKind, t: Transport) -> String {
    let base = match r {
        RuntimeKind::Multi => "asyncmt",
        RuntimeKind::Current => "asyncct",
    };
    match t {
        Transport::Ws => base.to_string(),
        Transport::Rest => format!("{base}rest"),
    }
}
