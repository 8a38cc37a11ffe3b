//! `gapmm-hot backtest`: flags, the backtest's settings from the engine's
//! configuration, one run or a ranked sweep, and the outputs (summary,
//! JSON, PNG plots).

use std::path::PathBuf;

use serde_json::json;

use crate::backtest::{
    self, sweep, BacktestConfig, Dist, FeedLatency, OrderLatency, QueueModel, Report, Rule,
    VenueConfig,
};
use crate::engine::config::{Config, EngineArgs};
use crate::engine::runtime::{oms_config, sizes, strategy_params};
use crate::ids::Category;
use crate::replay::Tape;
use crate::units::Lots;

/// Flags of `gapmm-hot backtest`. The strategy, sizes, limits and feed
/// rules come from the engine's own flags and variables (`--tick-size`,
/// `--min-order-size`, `--max-position`, `--gamma`, `--stale-ms`, ...).
#[derive(clap::Args, Debug, Clone)]
pub struct BacktestArgs {
    /// Recordings: the recorder's `<ns> <json>` lines or Bybit's archive
    /// lines, plain, .gz or .zip; several are interleaved by time.
    #[arg(long, required = true, num_args = 1..)]
    pub replay: Vec<PathBuf>,
    /// Quantity step of the instrument.
    #[arg(long = "qty-step", default_value = "0.00000001")]
    pub qty_step: String,
    /// The journal of the gapmm-hot run that made the recording while
    /// trading (`--record`): its own orders are taken out of the recorded
    /// book, so the backtest does not meet them as other people's.
    #[arg(long = "own-journal")]
    pub own_journal: Option<PathBuf>,
    /// Smallest order of the instrument (default: one quantity step).
    #[arg(long = "min-qty")]
    pub min_qty: Option<String>,
    /// Queue model of our resting orders: risk-averse, power[:N] (share
    /// a^N/(a^N+b^N) of a cancel ahead of us) or power-share[:N] ((a/(a+b))^N).
    #[arg(long, default_value = "risk-averse")]
    pub queue: String,
    /// Order latency per leg (request, answer, push) in µs, or the
    /// directory of a `gapmm-hot --hist-out` run (its ack and confirm hops).
    #[arg(long = "order-latency", default_value = "1000")]
    pub order_latency: String,
    /// Feed latency: `recorded` (the recording's receive vs exchange times,
    /// a recorder clock behind the exchange's corrected over ±5 min),
    /// `recorded:SECONDS` (another window; 0 = one offset for the whole
    /// recording) or a constant in µs. An archive without receive times
    /// uses the constant, or 10 ms with `recorded`.
    #[arg(long = "feed-latency", default_value = "recorded")]
    pub feed_latency: String,
    /// Maker fee rate (0.0002 = 2 bp; negative = rebate). Default: Bybit's
    /// base rate for the market type (spot 0.001, linear 0.0002).
    #[arg(long = "maker-fee")]
    pub maker_fee: Option<f64>,
    /// Taker fee rate (PostOnly orders never take). Default: spot 0.001, linear 0.00055.
    #[arg(long = "taker-fee")]
    pub taker_fee: Option<f64>,
    /// Quoting rule: `engine` (the engine's strategy) or `touch` (bid and ask
    /// at the best prices: the hftbacktest reference rule).
    #[arg(long, default_value = "engine")]
    pub rule: String,
    /// Timer resolution of the order manager while it holds a decision (µs).
    #[arg(long = "timer-us", default_value_t = 1000)]
    pub timer_us: u64,
    /// Seed of the latency sampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write PNG plots (equity and inventory, markouts) into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Run a grid instead of one backtest: `key=v1,v2 ...` over gamma,
    /// tight-ticks, wide-ticks, alpha-ticks, min-update-interval, stale-ms,
    /// max-position, min-order-size, queue, order-latency, feed-latency,
    /// maker-fee, rule. Prints a table ranked by net PnL.
    #[arg(long, num_args = 1..)]
    pub sweep: Vec<String>,
    /// Threads for a sweep (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Loads the recordings named by `args` with the instrument's steps.
pub fn load(cfg: &Config, args: &BacktestArgs) -> Result<Tape, String> {
    let tape = super::load_tape(cfg, &args.qty_step, &args.replay)?;
    match &args.own_journal {
        Some(j) => Ok(tape.without_own(&crate::replay::own::own_from_journal(j)?)),
        None => Ok(tape),
    }
}

/// The backtest's settings: the engine's configuration `cfg` plus `args`,
/// for `tape`.
pub fn settings(cfg: &Config, args: &BacktestArgs, tape: &Tape) -> Result<BacktestConfig, String> {
    let qty_step = tape.qty_step();
    let min_qty = match &args.min_qty {
        Some(m) => Lots(
            qty_step
                .count(m.trim().as_bytes())
                .map_err(|e| format!("--min-qty {m:?}: {e}"))?,
        ),
        None => Lots(1),
    };
    let (max_position, quote_qty) = sizes(cfg, qty_step, min_qty).map_err(|e| e.to_string())?;
    let strategy = strategy_params(cfg, max_position).map_err(|e| e.to_string())?;
    let oms = oms_config(cfg, 1, max_position, quote_qty);
    let queue = QueueModel::parse(&args.queue).map_err(|e| format!("--queue: {e}"))?;
    let orders = match args.order_latency.trim().parse::<f64>() {
        Ok(us) if us.is_finite() && us >= 0.0 => OrderLatency::constant((us * 1000.0) as u64),
        Ok(_) => return Err("--order-latency: must not be negative".into()),
        Err(_) => OrderLatency::from_hist_dir(std::path::Path::new(args.order_latency.trim()))
            .map_err(|e| format!("--order-latency: {e}"))?,
    };
    let feed =
        FeedLatency::parse(&args.feed_latency).map_err(|e| format!("--feed-latency: {e}"))?;
    let archive_feed_ns = match feed {
        FeedLatency::Constant(c) => c,
        FeedLatency::Recorded { .. } => 10_000_000,
    };
    let (maker_default, taker_default) = match cfg.category {
        Category::Spot => (0.001, 0.001),
        Category::Linear => (0.0002, 0.00055),
    };
    let rule = match args.rule.trim() {
        "engine" => Rule::Engine,
        "touch" => Rule::Touch,
        r => return Err(format!("--rule {r:?}: expected engine or touch")),
    };
    let venue = VenueConfig {
        category: cfg.category,
        queue,
        maker_fee: args.maker_fee.unwrap_or(maker_default),
        taker_fee: args.taker_fee.unwrap_or(taker_default),
        price_step: tape.price_step(),
        qty_step,
    };
    if !venue.maker_fee.is_finite() || !venue.taker_fee.is_finite() {
        return Err("fee rates must be finite".into());
    }
    let label = format!(
        "rule={} qty={} max={} tight={} wide={} gamma={} queue={} order-latency={} feed={} maker-fee={}",
        args.rule.trim(),
        qty_step.display(quote_qty.0),
        qty_step.display(max_position.0),
        cfg.tight_ticks,
        cfg.wide_ticks,
        cfg.gamma.map(|g| g.to_string()).unwrap_or_else(|| "auto".into()),
        queue,
        match &orders.request {
            Dist::Constant(c) => format!("{}us", c / 1000),
            Dist::Empirical(_) => format!("hist({})", args.order_latency.trim()),
        },
        args.feed_latency.trim(),
        venue.maker_fee,
    );
    Ok(BacktestConfig {
        rule,
        strategy,
        oms,
        quote_qty,
        venue,
        feed,
        archive_feed_ns,
        orders,
        stale_ns: cfg.stale.as_nanos() as u64,
        max_lag_ms: cfg.max_lag.as_millis() as u64,
        timer_ns: args.timer_us.max(1) * 1000,
        seed: args.seed,
        path_points: 2000,
        label,
    })
}

/// Sets one sweep key on copies of the flags.
fn apply(key: &str, value: &str, e: &mut EngineArgs, b: &mut BacktestArgs) -> Result<(), String> {
    let v = value.to_string();
    match key {
        "gamma" => e.gamma = v,
        "tight-ticks" => e.tight_ticks = v,
        "wide-ticks" => e.wide_ticks = v,
        "alpha-ticks" => e.alpha_ticks = v,
        "min-update-interval" => e.min_update_interval = v,
        "stale-ms" => e.stale_ms = v,
        "max-position" => e.max_position = v,
        "min-order-size" => e.min_order_size = v,
        "queue" => b.queue = v,
        "order-latency" => b.order_latency = v,
        "feed-latency" => b.feed_latency = v,
        "maker-fee" => {
            b.maker_fee = Some(
                value
                    .parse()
                    .map_err(|_| format!("sweep maker-fee={value}: not a number"))?,
            )
        }
        "rule" => b.rule = v,
        k => return Err(format!("sweep: unknown key {k:?}")),
    }
    Ok(())
}

/// Runs `gapmm-hot backtest`.
pub fn run(engine: &EngineArgs, args: &BacktestArgs) -> Result<(), String> {
    let cfg = Config::from_args_public(engine).map_err(|e| e.to_string())?;
    let tape = load(&cfg, args)?;
    let s = tape.stats();
    eprintln!(
        "loaded {} ({} book messages, {} trades, {:.1} s) from {} file(s)",
        tape.symbol(),
        s.books,
        s.trades,
        tape.span_secs(),
        tape.files().len()
    );
    if !args.sweep.is_empty() {
        return run_sweep(engine, args, &tape);
    }
    let bt = settings(&cfg, args, &tape)?;
    let report = backtest::run(&tape, &bt).map_err(|e| e.to_string())?;
    print!("{}", report.summary());
    if let Some(path) = &args.json {
        write_json(path, &report.to_json())?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(dir) = &args.plot {
        for p in backtest::plot::write_all(&report, dir)? {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

fn write_json(path: &std::path::Path, v: &serde_json::Value) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// One row of a sweep.
struct Row {
    label: String,
    result: Result<Report, String>,
}

fn run_sweep(engine: &EngineArgs, args: &BacktestArgs, tape: &Tape) -> Result<(), String> {
    let points = sweep::parse_grid(&args.sweep)?;
    // Every point's settings first: a bad value fails before anything runs.
    let mut runs = Vec::with_capacity(points.len());
    for p in &points {
        let (mut e, mut b) = (engine.clone(), args.clone());
        for (k, v) in p {
            apply(k, v, &mut e, &mut b)?;
        }
        let cfg =
            Config::from_args_public(&e).map_err(|err| format!("{}: {err}", sweep::label(p)))?;
        let bt = settings(&cfg, &b, tape).map_err(|err| format!("{}: {err}", sweep::label(p)))?;
        runs.push((sweep::label(p), bt));
    }
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    eprintln!(
        "sweep: {} parameter sets on {} threads",
        runs.len(),
        threads
    );
    let t0 = std::time::Instant::now();
    let rows: Vec<Row> = sweep::run_grid(&runs, threads, |(label, bt)| Row {
        label: label.clone(),
        result: backtest::run(tape, bt).map_err(|e| e.to_string()),
    });
    let wall = t0.elapsed().as_secs_f64();
    let mut ok: Vec<(&String, &Report)> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok().map(|rep| (&r.label, rep)))
        .collect();
    ok.sort_by(|a, b| b.1.net.total_cmp(&a.1.net));
    println!(
        "{:>4}  {:<44} {:>12} {:>12} {:>10} {:>7} {:>12} {:>11} {:>10}",
        "rank", "parameters", "net", "realised", "fees", "fills", "volume", "max dd", "mk 5s bps"
    );
    for (i, (label, r)) in ok.iter().enumerate() {
        let m5 = r.markouts.iter().find(|m| m.horizon_s == 5.0);
        let mk = m5
            .map(|m| {
                let n = (m.buy_n + m.sell_n) as f64;
                if n > 0.0 {
                    (m.buy_bps * m.buy_n as f64 + m.sell_bps * m.sell_n as f64) / n
                } else {
                    0.0
                }
            })
            .unwrap_or(0.0);
        println!(
            "{:>4}  {:<44} {:>+12.4} {:>+12.4} {:>10.4} {:>7} {:>12.2} {:>11.4} {:>+10.2}",
            i + 1,
            label,
            r.net,
            r.realised,
            r.fees,
            r.fills.0 + r.fills.1,
            r.volume_quote,
            r.max_drawdown,
            mk
        );
    }
    for r in &rows {
        if let Err(e) = &r.result {
            println!("  failed: {}: {e}", r.label);
        }
    }
    eprintln!("sweep: {} runs in {wall:.2} s", rows.len());
    if let Some(path) = &args.json {
        let v = json!({
            "sweep": ok.iter().enumerate().map(|(i, (label, r))| json!({
                "rank": i + 1,
                "parameters": label,
                "report": r.to_json(),
            })).collect::<Vec<_>>(),
        });
        write_json(path, &v)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `gapmm-hot backtest`'s flags as a parser of their own (engine flags
/// included), for tests and benches that build a backtest from the same
/// flags a user types.
#[derive(clap::Parser, Debug)]
#[command(name = "backtest", no_binary_name = true)]
pub struct BacktestCli {
    /// The engine's flags.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The backtest's flags.
    #[command(flatten)]
    pub args: BacktestArgs,
}

/// Loads the recordings and builds the settings from command-line `flags`
/// (as typed after `gapmm-hot backtest`).
pub fn from_flags(flags: &[&str]) -> Result<(Tape, BacktestConfig), String> {
    use clap::Parser;
    let cli = BacktestCli::try_parse_from(flags).map_err(|e| e.to_string())?;
    let cfg = Config::from_args_public(&cli.engine).map_err(|e| e.to_string())?;
    let tape = load(&cfg, &cli.args)?;
    let bt = settings(&cfg, &cli.args, &tape)?;
    Ok((tape, bt))
}
