//! `gapmm-hot eval`: flags, the evaluation's settings from the engine's
//! configuration, and the outputs (a table per horizon on stdout, every
//! number as JSON). The statistics and their definitions are
//! [`crate::eval`]'s.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::engine::config::{Config, EngineArgs};
use crate::engine::runtime::{sizes, strategy_params};
use crate::eval::{
    self, CallStats, EvalConfig, EvalReport, Horizon, HorizonReport, Interval, DEFAULT_HORIZONS,
    DEFAULT_RESAMPLES,
};
use crate::replay::Tape;
use crate::units::Lots;

/// Flags of `gapmm-hot eval`. The strategy whose quoting rates are reported
/// is built from the engine's own flags and variables (`--tick-size`,
/// `--gamma`, `--tight-ticks`, `--max-position`, ...).
#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// Recordings: the recorder's `<ns> <json>` lines or Bybit's archive
    /// lines, plain, .gz or .zip; several are interleaved by time.
    #[arg(long, required = true, num_args = 1..)]
    pub replay: Vec<PathBuf>,
    /// Label horizons, comma-separated (100ms, 1s, 1.5s, 250us, 2m).
    #[arg(long, default_value = DEFAULT_HORIZONS)]
    pub horizons: String,
    /// Quantity step of the instrument.
    #[arg(long = "qty-step", default_value = "0.00000001")]
    pub qty_step: String,
    /// Seed of the random predictor and of the bootstrap.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bootstrap resamples per horizon.
    #[arg(long, default_value_t = DEFAULT_RESAMPLES)]
    pub resamples: usize,
    /// Write every number of the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Loads the recordings named by `args` with the instrument's steps.
pub fn load(cfg: &Config, args: &EvalArgs) -> Result<Tape, String> {
    super::load_tape(cfg, &args.qty_step, &args.replay)
}

/// The evaluation's settings: the engine's configuration `cfg` plus `args`,
/// for `tape` (its quantity step sizes the strategy's position limit).
pub fn settings(cfg: &Config, args: &EvalArgs, tape: &Tape) -> Result<EvalConfig, String> {
    let horizons = Horizon::parse_list(&args.horizons).map_err(|e| format!("--horizons: {e}"))?;
    let (max_position, _) = sizes(cfg, tape.qty_step(), Lots(1)).map_err(|e| e.to_string())?;
    let strategy = strategy_params(cfg, max_position).map_err(|e| e.to_string())?;
    if args.resamples == 0 {
        return Err(format!("--resamples: {}", eval::EvalError::NoResamples));
    }
    Ok(EvalConfig {
        horizons,
        strategy,
        seed: args.seed,
        resamples: args.resamples,
    })
}

/// Runs `gapmm-hot eval`.
pub fn run(engine: &EngineArgs, args: &EvalArgs) -> Result<(), String> {
    let cfg = Config::from_args_public(engine).map_err(|e| e.to_string())?;
    // Bad horizons fail before a long load.
    Horizon::parse_list(&args.horizons).map_err(|e| format!("--horizons: {e}"))?;
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
    let ecfg = settings(&cfg, args, &tape)?;
    let report = eval::evaluate(&tape, &ecfg).map_err(|e| e.to_string())?;
    print!("{}", render(&report));
    if let Some(path) = &args.json {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&to_json(&report)).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `gapmm-hot eval`'s flags as a parser of their own (engine flags
/// included), for tests that build an evaluation from the flags a user types.
#[derive(clap::Parser, Debug)]
#[command(name = "eval", no_binary_name = true)]
pub struct EvalCli {
    /// The engine's flags.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The evaluation's flags.
    #[command(flatten)]
    pub args: EvalArgs,
}

/// Loads the recordings and builds the settings from command-line `flags`
/// (as typed after `gapmm-hot eval`).
pub fn from_flags(flags: &[&str]) -> Result<(Tape, EvalConfig), String> {
    use clap::Parser;
    let cli = EvalCli::try_parse_from(flags).map_err(|e| e.to_string())?;
    let cfg = Config::from_args_public(&cli.engine).map_err(|e| e.to_string())?;
    Horizon::parse_list(&cli.args.horizons).map_err(|e| format!("--horizons: {e}"))?;
    let tape = load(&cfg, &cli.args)?;
    let ecfg = settings(&cfg, &cli.args, &tape)?;
    Ok((tape, ecfg))
}

fn ci_json(ci: Option<Interval>) -> Value {
    match ci {
        Some(i) => json!([i.lo, i.hi]),
        None => Value::Null,
    }
}

fn calls_json(c: &CallStats) -> Value {
    json!({
        "n": c.n,
        "flat": c.flat,
        "hits": c.hits,
        "misses": c.misses,
        "hit_rate": c.hit_rate,
        "ci95": ci_json(c.ci),
        "ev_bps": c.ev_bps,
    })
}

fn horizon_json(h: &HorizonReport) -> Value {
    json!({
        "horizon": h.horizon.to_string(),
        "horizon_ns": h.horizon.ns(),
        "labelled": h.labelled,
        "dropped": h.dropped,
        "up": h.up,
        "down": h.down,
        "flat": h.flat,
        "mean_return_bps": h.mean_return_bps,
        "block_len": h.block_len,
        "block_capped": h.block_capped,
        "predictors": h.predictors.iter().map(|p| {
            let mut v = calls_json(&p.calls);
            v["predictor"] = json!(p.predictor.name());
            v["rank_ic"] = json!(p.rank_ic);
            v
        }).collect::<Vec<_>>(),
        "gap_buckets": h.gap_buckets.iter().map(|b| {
            let mut v = calls_json(&b.calls);
            v["bucket"] = json!(b.name());
            v
        }).collect::<Vec<_>>(),
        "gap_neutral": {
            "n": h.gap_neutral.n,
            "flat": h.gap_neutral.flat,
            "mean_return_bps": h.gap_neutral.mean_return_bps,
        },
    })
}

/// Every number of `r` as JSON. Undefined figures (a hit rate without a
/// non-flat call, an IC of a constant score) are `null`; an interval is
/// `[lo, hi]`.
pub fn to_json(r: &EvalReport) -> Value {
    let f = &r.feed;
    let q = &r.quoting;
    json!({
        "symbol": r.symbol,
        "files": r.files,
        "price_step": r.price_step,
        "qty_step": r.qty_step,
        "seed": r.seed,
        "resamples": r.resamples,
        "feed": {
            "book_messages": f.book_messages,
            "samples": f.samples,
            "breaks": f.breaks,
            "skipped_invalid": f.skipped_invalid,
            "one_sided": f.one_sided,
            "clock_backsteps": f.clock_backsteps,
            "runs": f.runs,
        },
        "first_ns": r.first_ns,
        "last_ns": r.last_ns,
        "span_s": r.span_s,
        "samples_per_sec": r.samples_per_sec,
        "flips": r.flips.iter().map(|x| json!({
            "predictor": x.predictor.name(),
            "flips": x.flips,
            "per_sec": x.per_sec,
        })).collect::<Vec<_>>(),
        "quoting": {
            "bid_changes": q.bid_changes,
            "ask_changes": q.ask_changes,
            "bid_per_sec": q.bid_per_sec,
            "ask_per_sec": q.ask_per_sec,
            "rejected": q.rejected,
            "amend_limit_per_sec": q.amend_limit_per_sec,
        },
        "horizons": r.horizons.iter().map(horizon_json).collect::<Vec<_>>(),
    })
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.2}%", v * 100.0))
}

fn ci_text(ci: Option<Interval>) -> String {
    ci.map_or_else(
        || "-".into(),
        |i| format!("[{:.2}, {:.2}]", i.lo * 100.0, i.hi * 100.0),
    )
}

fn signed(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:+.decimals$}"))
}

fn rate(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn calls_row(out: &mut String, name: &str, c: &CallStats, ic: Option<f64>) {
    let _ = writeln!(
        out,
        "{name:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>18} {:>9} {:>10}",
        c.n,
        c.flat,
        c.hits,
        c.misses,
        pct(c.hit_rate),
        ci_text(c.ci),
        signed(ic, 4),
        signed(c.ev_bps, 4),
    );
}

/// The readable report: a header, the flip and quoting rates, then one
/// table per horizon.
pub fn render(r: &EvalReport) -> String {
    let mut out = String::new();
    let f = &r.feed;
    let _ = writeln!(
        out,
        "{}: {} samples over {:.1} s ({:.2} h, {} samples/s); {} book messages, {} breaks, {} skipped while invalid, {} one-sided, {} clock steps back, {} run(s)",
        r.symbol,
        f.samples,
        r.span_s,
        r.span_s / 3600.0,
        rate(r.samples_per_sec),
        f.book_messages,
        f.breaks,
        f.skipped_invalid,
        f.one_sided,
        f.clock_backsteps,
        f.runs,
    );
    let _ = writeln!(
        out,
        "tick {}, qty step {}, seed {}, {} bootstrap resamples; files: {}",
        r.price_step,
        r.qty_step,
        r.seed,
        r.resamples,
        r.files.join(", ")
    );
    let _ = write!(out, "signal flips/s:");
    for x in &r.flips {
        let _ = write!(out, "  {} {}", x.predictor, rate(x.per_sec));
    }
    let _ = writeln!(out);
    let q = &r.quoting;
    let _ = writeln!(
        out,
        "engine strategy quoting every update (inventory 0): target bid changes {}/s, ask changes {}/s (Bybit amend limit {}/s){}",
        rate(q.bid_per_sec),
        rate(q.ask_per_sec),
        q.amend_limit_per_sec,
        if q.rejected > 0 {
            format!("; {} updates refused (exchange time stepped back)", q.rejected)
        } else {
            String::new()
        }
    );
    for h in &r.horizons {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "horizon {}: {} labelled, {} dropped (past the end of their run); mid up {}, down {}, flat {}; mean return {} bps; bootstrap blocks of {} samples{}",
            h.horizon,
            h.labelled,
            h.dropped,
            share(h.up, h.labelled),
            share(h.down, h.labelled),
            share(h.flat, h.labelled),
            signed(h.mean_return_bps, 4),
            h.block_len,
            if h.block_capped {
                " (capped at n/10: shorter than 2 horizons, interval likely too narrow)"
            } else {
                ""
            },
        );
        let _ = writeln!(
            out,
            "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>18} {:>9} {:>10}",
            "predictor",
            "calls",
            "flat",
            "hits",
            "misses",
            "hit rate",
            "95% CI (%)",
            "rank IC",
            "EV bps"
        );
        for p in &h.predictors {
            calls_row(&mut out, p.predictor.name(), &p.calls, p.rank_ic);
            if p.predictor == eval::Predictor::Gap {
                for b in h.gap_buckets.iter().take(2) {
                    calls_row(&mut out, &format!("  {}", b.name()), &b.calls, None);
                }
                let n = &h.gap_neutral;
                let _ = writeln!(
                    out,
                    "{:<18} {:>9} {:>9}   mean return {} bps",
                    "  NEUTRAL",
                    n.n,
                    n.flat,
                    signed(n.mean_return_bps, 4)
                );
                for b in h.gap_buckets.iter().skip(2) {
                    calls_row(&mut out, &format!("  {}", b.name()), &b.calls, None);
                }
            }
        }
    }
    out
}
