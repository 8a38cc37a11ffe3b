//! `gapmm-hot record`: the venue's public stream (order book and trades)
//! to disk, without trading, in the recorder's layout ([`crate::record`]).
//!
//! It connects like `stream` (the embedded simulator by default; real
//! Bybit's public stream needs no keys), subscribes to
//! `orderbook.{GAPMM_DEPTH}.{symbol}` and `publicTrade.{symbol}`, and hands
//! every frame with its receive time to the same tee and writer thread the
//! engine's `--record` uses. Reconnects with backoff; a recording spans
//! reconnects (the fresh snapshot after one is in the file).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::public::{orderbook_topic, trade_topic, write_subscribe, SubOp};
use crate::engine::config::{Config, EngineArgs};
use crate::engine::conn::{ConnEvent, ManagedWs};
use crate::engine::runtime::{
    install_signal_handlers, public_endpoint, signalled, venue_and_instrument,
};
use crate::net::txstamp::realtime_ns;
use crate::record::{channel, Rotation, Writer, RING_BYTES};

/// Flags of `gapmm-hot record`.
#[derive(clap::Args, Debug, Clone)]
pub struct RecordArgs {
    /// Directory for the recording files (`{SYMBOL}_{YYYYMMDD}.gz`).
    #[arg(long, default_value = "recordings")]
    pub out: PathBuf,
}

/// Runs `gapmm-hot record` until Ctrl+C, SIGTERM or `duration`.
pub fn run(
    engine: &EngineArgs,
    args: &RecordArgs,
    duration: Option<Duration>,
    rotate_bytes: u64,
) -> Result<(), String> {
    let cfg = Config::from_args_public(engine).map_err(|e| e.to_string())?;
    install_signal_handlers();
    let (setup, _inst) = venue_and_instrument(&cfg).map_err(|e| e.to_string())?;
    let ep = public_endpoint(&setup, cfg.category).map_err(|e| e.to_string())?;
    let mut poll = mio::Poll::new().map_err(|e| e.to_string())?;
    let ws = crate::net::ws::WsConn::new(ep, poll.registry(), mio::Token(0))
        .map_err(|e| e.to_string())?;
    let mut conn = ManagedWs::new(ws, cfg.sim_seed).with_heartbeat(cfg.ping);
    let book = orderbook_topic(cfg.depth, &cfg.symbol);
    let trades = trade_topic(&cfg.symbol);
    let mut sub = Vec::new();
    write_subscribe(
        SubOp::Subscribe,
        &[book.as_str(), trades.as_str()],
        Some("record"),
        &mut sub,
    )
    .map_err(|e| e.to_string())?;
    let (mut tee, ring) = channel(RING_BYTES);
    let stats = tee.stats();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = Writer::new(
        ring,
        &args.out,
        cfg.symbol.as_str(),
        Rotation {
            max_bytes: rotate_bytes,
        },
    )
    .map_err(|e| format!("{}: {e}", args.out.display()))?
    .spawn(stop.clone())
    .map_err(|e| e.to_string())?;
    eprintln!(
        "gapmm-hot: recording {} and {} from {:?} into {} (Ctrl+C stops)",
        book.as_str(),
        trades.as_str(),
        cfg.venue,
        args.out.display()
    );
    let mut events = mio::Events::with_capacity(8);
    let start = Instant::now();
    let mut last_status = start;
    while !signalled() && duration.is_none_or(|d| start.elapsed() < d) {
        let now = Instant::now();
        let was_open = conn.is_open();
        match conn.drive(now) {
            ConnEvent::Opened => {
                if let Err(e) = conn.ws().send_text(&sub) {
                    let _ = conn.lost(e, now);
                }
            }
            ConnEvent::Failed(e) if was_open => {
                eprintln!("gapmm-hot: public stream lost ({e}); reconnecting");
            }
            ConnEvent::Failed(_) | ConnEvent::Idle => {}
        }
        // Not a trading path: sleep in the poller between messages.
        let _ = poll.poll(&mut events, Some(Duration::from_millis(20)));
        if conn.is_open() && !events.is_empty() {
            if let Err(e) = conn.ws().read_frames(|f| {
                tee.push(u64::try_from(realtime_ns()).unwrap_or(0), f);
            }) {
                eprintln!("gapmm-hot: public stream lost ({e}); reconnecting");
                let _ = conn.lost(e, Instant::now());
            }
        }
        if last_status.elapsed() >= Duration::from_secs(10) {
            last_status = Instant::now();
            eprintln!(
                "gapmm-hot: {:.0} s, {} messages recorded, {} dropped",
                start.elapsed().as_secs_f64(),
                stats.frames.load(Relaxed),
                stats.dropped.load(Relaxed)
            );
        }
    }
    stop.store(true, Relaxed);
    let written = writer
        .join()
        .map_err(|_| "the recording writer panicked".to_string())?
        .map_err(|e| format!("writing the recording: {e}"))?;
    if let Some(sim) = setup.sim {
        let _ = sim.shutdown();
    }
    eprintln!(
        "gapmm-hot: recorded {} messages ({} bytes before compression), {} dropped, into {}",
        written.lines,
        written.bytes,
        stats.dropped.load(Relaxed),
        written
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
