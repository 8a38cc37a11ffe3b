//! `gapmm-hot`: the market-making engine.
//!
//! ```text
//! gapmm-hot                      trade the embedded simulator (the default venue)
//! gapmm-hot stream --replay F    print one JSON line per order-book message of a recording
//! ```
//! `gapmm-hot --help` lists every flag with its environment variable.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gapmm::engine::config::{load_dotenv, Config, EngineArgs, Venue};
use gapmm::engine::runtime::{print_report, run, RunOptions};
use gapmm::replay::split_line;
use gapmm::replay::tape::topic_symbol;
use gapmm::replay::Recording;
use gapmm::stream::{StreamOutcome, StreamPrinter};
use gapmm::units::Step;

/// Thread-per-core, busy-poll market maker for Bybit v5 (spot and linear).
///
/// With no arguments and no keys it starts the embedded Bybit v5 simulator on
/// loopback and paper-trades against it. Real Bybit (testnet or mainnet) needs
/// BYBIT_API_KEY / BYBIT_API_SECRET (read from .env or the environment only:
/// no flag takes them), --live and a typed YES before any order.
/// Settings come from flags, the environment or .env (see .env.example).
#[derive(Parser, Debug)]
#[command(name = "gapmm-hot", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    engine: EngineArgs,
    /// Stop by itself after this many seconds (default: run until Ctrl+C).
    #[arg(long, global = true)]
    duration: Option<f64>,
    /// Write HdrHistogram interval logs (.hlog) and percentile files (.hgrm) into DIR.
    #[arg(long = "hist-out", global = true)]
    hist_out: Option<PathBuf>,
    /// While trading, record the public stream (book and trades) into DIR,
    /// off the hot thread, in the layout `record` writes.
    #[arg(long, global = true)]
    record: Option<PathBuf>,
    /// Start a new recording file after this many megabytes (uncompressed;
    /// 0: one file per UTC day).
    #[arg(long = "rotate-mb", global = true, default_value_t = 1024)]
    rotate_mb: u64,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Trade (the default when no subcommand is given).
    Run,
    /// Print market updates with the gap analytics, without trading.
    Stream(StreamArgs),
    /// Replay recordings through the engine's own strategy and order
    /// manager against a simulated exchange; report PnL, fills, markouts.
    Backtest(Box<gapmm::commands::backtest::BacktestArgs>),
    /// Record the venue's public stream (order book and trades) to gzip
    /// files in the recorder's layout, without trading.
    Record(gapmm::commands::record::RecordArgs),
    /// Trade the embedded simulator with --record and the journal on, then
    /// backtest the recording with the same settings: live vs backtest.
    Fidelity(gapmm::commands::fidelity::FidelityArgs),
    /// Evaluate the gap signal and simple book predictors on recordings: hit rates, bootstrap intervals, rank IC.
    Eval(Box<gapmm::commands::eval::EvalArgs>),
}

#[derive(clap::Args, Debug)]
struct StreamArgs {
    /// Replay a recording instead of connecting to the venue: the recorder's
    /// `<ns> <json>` lines or Bybit's archive lines, plain, .gz or .zip.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Quantity step of the instrument (default: 0.00000001, fine enough for any Bybit size).
    #[arg(long = "qty-step", default_value = "0.00000001")]
    qty_step: String,
}

fn main() -> ExitCode {
    if let Err(e) = load_dotenv() {
        eprintln!("gapmm-hot: {e}");
        return ExitCode::from(2);
    }
    gapmm::net::tls::install_provider();
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Stream(s)) => match &s.replay {
            Some(path) => stream_replay(&cli, s, path),
            None => stream_live(&cli, s),
        },
        Some(Command::Backtest(b)) => gapmm::commands::backtest::run(&cli.engine, b),
        Some(Command::Fidelity(f)) => match duration(cli.duration) {
            Ok(d) => gapmm::commands::fidelity::run(&cli.engine, f, d),
            Err(e) => Err(e),
        },
        Some(Command::Record(r)) => match duration(cli.duration) {
            Ok(d) => gapmm::commands::record::run(&cli.engine, r, d, cli.rotate_mb << 20),
            Err(e) => Err(e),
        },
        Some(Command::Eval(e)) => gapmm::commands::eval::run(&cli.engine, e),
        None | Some(Command::Run) => trade(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gapmm-hot: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--duration` as a duration (a positive number of seconds).
fn duration(d: Option<f64>) -> Result<Option<std::time::Duration>, String> {
    match d {
        Some(d) if d.is_finite() && d > 0.0 => Ok(Some(std::time::Duration::from_secs_f64(d))),
        Some(d) => Err(format!(
            "--duration {d}: expected a positive number of seconds"
        )),
        None => Ok(None),
    }
}

/// Trades the configured venue until Ctrl+C, SIGTERM or `--duration`.
fn trade(cli: &Cli) -> Result<(), String> {
    let cfg = Config::from_args(&cli.engine).map_err(|e| e.to_string())?;
    if cfg.venue.is_live() {
        eprintln!(
            "gapmm-hot is about to place REAL orders on Bybit {:?} for {} ({}). Type YES to continue:",
            cfg.venue,
            cfg.symbol,
            cfg.category.as_str()
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| e.to_string())?;
        if answer.trim() != "YES" {
            eprintln!("gapmm-hot: not confirmed; no order was placed.");
            return Ok(());
        }
    }
    let opts = RunOptions {
        duration: duration(cli.duration)?,
        hist_out: cli.hist_out.clone(),
        status: true,
        record: cli.record.clone(),
        record_rotate_bytes: cli.rotate_mb << 20,
    };
    eprintln!(
        "gapmm-hot: trading {} {} on {:?}{} (Ctrl+C stops and cancels every order of ours)",
        cfg.symbol,
        cfg.category.as_str(),
        cfg.venue,
        if cfg.venue == Venue::Sim && cfg.sim_url.is_none() {
            " (embedded simulator)"
        } else {
            ""
        }
    );
    let report = run(&cfg, &opts).map_err(|e| e.to_string())?;
    print_report(&report);
    if !report.shutdown_confirmed {
        return Err(
            "shutdown: the exchange did not confirm that no order of ours is left open".into(),
        );
    }
    Ok(())
}

/// `gapmm-hot stream`: connect to the venue's public stream and print one JSON
/// line per book message, without trading (no keys needed).
fn stream_live(cli: &Cli, _args: &StreamArgs) -> Result<(), String> {
    use gapmm::codec::public::{orderbook_topic, write_subscribe, SubOp};
    use gapmm::engine::conn::{ConnEvent, ManagedWs};
    use gapmm::engine::runtime::{
        install_signal_handlers, public_endpoint, signalled, venue_and_instrument,
    };
    use std::time::{Duration, Instant};

    let cfg = Config::from_args_public(&cli.engine).map_err(|e| e.to_string())?;
    install_signal_handlers();
    let (setup, inst) = venue_and_instrument(&cfg).map_err(|e| e.to_string())?;
    let mut printer = StreamPrinter::new(cfg.symbol, inst.price_step, inst.qty_step)
        .map_err(|e| e.to_string())?;
    let mut poll = mio::Poll::new().map_err(|e| e.to_string())?;
    let ep = public_endpoint(&setup, cfg.category).map_err(|e| e.to_string())?;
    let ws = gapmm::net::ws::WsConn::new(ep, poll.registry(), mio::Token(0))
        .map_err(|e| e.to_string())?;
    let mut conn = ManagedWs::new(ws, cfg.sim_seed).with_heartbeat(cfg.ping);
    let topic = orderbook_topic(cfg.depth, &cfg.symbol);
    let mut sub = Vec::new();
    write_subscribe(
        SubOp::Subscribe,
        &[topic.as_str()],
        Some("stream"),
        &mut sub,
    )
    .map_err(|e| e.to_string())?;
    let mut events = mio::Events::with_capacity(8);
    let start = Instant::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let deadline = cli
        .duration
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(Duration::from_secs_f64);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    while !signalled() && deadline.map(|d| start.elapsed() < d).unwrap_or(true) {
        let now = Instant::now();
        let was_open = conn.is_open();
        match conn.drive(now) {
            ConnEvent::Opened => {
                if let Err(e) = conn.ws().send_text(&sub) {
                    let _ = conn.lost(e, now);
                }
            }
            // A dead link (silent past its timeout) or a failed ping.
            ConnEvent::Failed(e) if was_open => {
                eprintln!("gapmm-hot: public stream lost ({e}); reconnecting");
            }
            ConnEvent::Failed(_) | ConnEvent::Idle => {}
        }
        // Stream mode is not a trading path: sleep in the poller between messages.
        let _ = poll.poll(&mut events, Some(Duration::from_millis(50)));
        if !conn.is_open() || events.is_empty() {
            continue;
        }
        frames.clear();
        if let Err(e) = conn.ws().read_frames(|f| frames.push(f.to_vec())) {
            eprintln!("gapmm-hot: public stream lost ({e}); reconnecting");
            let _ = conn.lost(e, Instant::now());
        }
        for f in &frames {
            match printer.on_frame(f, &mut out) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => eprintln!("gapmm-hot: {e}"),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
        let _ = out.flush();
    }
    if let Some(sim) = setup.sim {
        let _ = sim.shutdown();
    }
    Ok(())
}

/// `gapmm-hot stream --replay FILE`: one JSON line per book message.
fn stream_replay(cli: &Cli, args: &StreamArgs, path: &PathBuf) -> Result<(), String> {
    let tick = Step::parse(cli.engine.tick_size.trim())
        .map_err(|e| format!("TICK_SIZE={:?}: {e}", cli.engine.tick_size))?;
    let qty = Step::parse(args.qty_step.trim())
        .map_err(|e| format!("--qty-step {:?}: {e}", args.qty_step))?;
    let mut rec = Recording::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printer: Option<StreamPrinter> = None;
    let (mut lines, mut errors) = (0u64, 0u64);
    while let Some(line) = rec.next_line() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        // Either layout: `<ns> <json>` (the recorder's) or `<json>` (Bybit's archive).
        let line = match split_line(line) {
            Ok(l) => l.json,
            Err(e) => {
                errors += 1;
                eprintln!("gapmm-hot: line {}: {e}", rec.line_no());
                continue;
            }
        };
        if printer.is_none() {
            // The symbol comes from the first market message (acks before it are skipped).
            let Some(symbol) = topic_symbol(line) else {
                continue;
            };
            printer =
                Some(StreamPrinter::new(symbol, tick, qty).map_err(|e| format!("TICK_SIZE: {e}"))?);
        }
        let Some(p) = printer.as_mut() else { continue };
        let outcome = match p.on_frame(line, &mut out) {
            Ok(o) => o,
            // The reader went away (`| head`): not an error of ours.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        match outcome {
            Ok(StreamOutcome::Line(_)) => lines += 1,
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                eprintln!("gapmm-hot: line {}: {e}", rec.line_no());
            }
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.to_string()),
        _ => {}
    }
    if printer.is_none() {
        return Err(format!(
            "{}: no order-book or trade message in the recording",
            path.display()
        ));
    }
    if lines == 0 && errors > 0 {
        return Err(format!(
            "no message of {} could be used ({errors} errors)",
            path.display()
        ));
    }
    Ok(())
}
