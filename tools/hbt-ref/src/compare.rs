//! The one-command reference check: the touch rule backtested by
//! hftbacktest ([`crate::run_events`]) and by gap-mm's own backtester
//! (`gapmm::backtest::run`, `--rule touch`) on the same recording, with the
//! same settings as far as the two engines share them, side by side.
//!
//! gap-mm's side is built from the flags a user would type after
//! `gapmm-hot backtest` ([`gapmm_flags`]): one order latency for every leg
//! (hftbacktest's entry latency), the feed latency from the recording with
//! one clock offset for the whole file (`recorded:0`, the rule the
//! conversion uses), the same fee rates, the queue model of the same family
//! (`risk-averse`, or `power-share:N` for hftbacktest's prob3 with exponent
//! N), and the engine's feed safety rules (quotes pulled on a quiet or a
//! lagging feed) switched off, since the hftbacktest rule has none.
//!
//! **Timing**: each side loads once (timed apart), then the two backtests
//! run alternately, `runs` times each; the loop time reported is the faster
//! run's. Both are the wall time of the backtest loop alone, after loading
//! and building: hftbacktest's `wait_next_feed` loop
//! ([`crate::RefResult::run_s`]), gap-mm's replay loop (`Report::run_s`). The
//! whole call (build or set-up, loop, result) is timed too.

use std::path::Path;
use std::time::Instant;

use gapmm::backtest::latency::FeedClock;
use gapmm::backtest::{BacktestConfig, Report};
use gapmm::replay::Tape;
use serde::Serialize;

use crate::convert::{read_recording, Recording};
use crate::{run_events, ExchangeModel, QueueModel, RefParams, RefResult, Replace};

/// gap-mm's outcome, in the units of [`RefResult`] where the two share one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapmmResult {
    /// "gap-mm backtest --rule touch".
    pub engine: &'static str,
    /// The flags the run was built from (as typed after `gapmm-hot backtest`).
    pub flags: Vec<String>,
    /// The report's one-line settings.
    pub settings: String,
    /// Our fills (a partial fill counts one).
    pub fills: u64,
    /// Of which buys.
    pub buy_fills: u64,
    /// Of which sells.
    pub sell_fills: u64,
    /// Fills by cause: a trade at our price reached us in the queue.
    pub queue_fills: u64,
    /// Fills by cause: a trade through our price.
    pub trade_through_fills: u64,
    /// Fills by cause: the other side of the book reached our price.
    pub book_cross_fills: u64,
    /// Base bought.
    pub bought_qty: f64,
    /// Base sold.
    pub sold_qty: f64,
    /// Final position (base).
    pub final_position: f64,
    /// Realised PnL (quote, average cost).
    pub realised: f64,
    /// Unrealised PnL at the last mid.
    pub unrealised: f64,
    /// `realised + unrealised`, before fees.
    pub pnl: f64,
    /// Fees paid (quote; a spot buy's base-coin fee at its fill price).
    pub fees: f64,
    /// `pnl − fees`.
    pub net_pnl: f64,
    /// Quote value of our fills.
    pub traded_value: f64,
    /// Creates the exchange received.
    pub creates: u64,
    /// Amend items the exchange received.
    pub amends: u64,
    /// Cancels the exchange received.
    pub cancels: u64,
    /// Orders that rested on the book (creates not rejected for crossing).
    pub orders_placed: u64,
    /// Creates and amends cancelled for crossing (PostOnly).
    pub post_only_rejects: u64,
    /// Quote pulls on a quiet feed (0 with the check switched off).
    pub stale_pulls: u64,
    /// Order-book sequence breaks.
    pub resyncs: u64,
    /// Market events replayed: book messages plus trades (one per element
    /// of a trade message).
    pub market_events: u64,
    /// Recording span (s).
    pub span_s: f64,
    /// Clock offset taken off the exchange times (ns, ≤ 0), `recorded:0`.
    pub feed_offset_ns: i64,
    /// Wall time to read and decode the recording and build the settings (s).
    pub load_s: f64,
    /// Wall time of the replay loop alone, the faster run (s).
    pub run_s: f64,
}

impl GapmmResult {
    fn from_report(r: &Report, flags: Vec<String>, feed_offset_ns: i64, load_s: f64) -> Self {
        // The report has request rates per second of recording; the counts
        // are the rates times the span (exact up to rounding).
        let count = |rate: f64| (rate * r.span_s).round().max(0.0) as u64;
        let pnl = r.realised + r.unrealised;
        GapmmResult {
            engine: "gap-mm backtest --rule touch",
            flags,
            settings: r.settings.clone(),
            fills: r.fills.0 + r.fills.1,
            buy_fills: r.fills.0,
            sell_fills: r.fills.1,
            queue_fills: r.fill_causes.0,
            trade_through_fills: r.fill_causes.1,
            book_cross_fills: r.fill_causes.2,
            bought_qty: r.volume_base.0,
            sold_qty: r.volume_base.1,
            final_position: r.final_position,
            realised: r.realised,
            unrealised: r.unrealised,
            pnl,
            fees: r.fees,
            net_pnl: r.net,
            traded_value: r.volume_quote,
            creates: count(r.rates.0),
            amends: count(r.rates.1),
            cancels: count(r.rates.2),
            orders_placed: r.orders_placed,
            post_only_rejects: r.post_only_rejects,
            stale_pulls: r.stale_pulls,
            resyncs: r.resyncs,
            market_events: r.events,
            span_s: r.span_s,
            feed_offset_ns,
            load_s,
            run_s: r.run_s,
        }
    }
}

/// Wall times of every run (s), in run order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// Runs per side.
    pub runs: usize,
    /// hftbacktest: the loop alone, per run.
    pub hbt_loop_s: Vec<f64>,
    /// hftbacktest: the whole call (build, loop, result), per run.
    pub hbt_call_s: Vec<f64>,
    /// gap-mm: the loop alone, per run.
    pub gapmm_loop_s: Vec<f64>,
    /// gap-mm: the whole call (set-up, loop, report), per run.
    pub gapmm_call_s: Vec<f64>,
}

impl Timing {
    /// The faster of the hftbacktest calls (s).
    pub fn hbt_call_best(&self) -> f64 {
        min(&self.hbt_call_s)
    }

    /// The faster of the gap-mm calls (s).
    pub fn gapmm_call_best(&self) -> f64 {
        min(&self.gapmm_call_s)
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Both sides' results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The recording.
    pub file: String,
    /// hftbacktest's result (its faster run; `run_s` is that run's loop).
    pub hftbacktest: RefResult,
    /// gap-mm's result (its faster run).
    pub gapmm: GapmmResult,
    /// Every run's times.
    pub timing: Timing,
    /// What to know when reading the two columns (settings that differ,
    /// model differences, anything odd in this run).
    pub notes: Vec<String>,
}

/// The `gapmm-hot backtest` flags for the touch rule with the settings of
/// `p` on `file` (see the module docs).
pub fn gapmm_flags(file: &Path, p: &RefParams) -> Vec<String> {
    let queue = match p.queue {
        QueueModel::RiskAverse => "risk-averse".to_string(),
        QueueModel::PowerProb3 { n } => format!("power-share:{n}"),
    };
    // `--flag=value` throughout: a negative fee is a value, not a flag.
    let kv = |k: &str, v: String| format!("--{k}={v}");
    vec![
        kv("replay", file.display().to_string()),
        kv("market-type", "spot".into()),
        kv("tick-size", p.tick.to_string()),
        kv("qty-step", p.lot.to_string()),
        kv("min-order-size", p.qty.to_string()),
        kv("max-position", p.max_position.to_string()),
        kv("min-update-interval", "0".into()),
        kv("rule", "touch".into()),
        kv("queue", queue),
        kv(
            "order-latency",
            (p.entry_latency_ns as f64 / 1000.0).to_string(),
        ),
        kv("feed-latency", "recorded:0".into()),
        kv("maker-fee", p.maker_fee.to_string()),
        kv("taker-fee", p.taker_fee.to_string()),
        kv("stale-ms", "1000000000".into()),
        kv("max-lag-ms", "1000000000".into()),
    ]
}

/// gap-mm's tape and settings from `flags`, and the time that took (s).
pub fn load_gapmm(flags: &[String]) -> Result<(Tape, BacktestConfig, f64), String> {
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let t = Instant::now();
    let (tape, cfg) = gapmm::commands::backtest::from_flags(&args)?;
    Ok((tape, cfg, t.elapsed().as_secs_f64()))
}

/// The clock offset gap-mm's `recorded:0` feed latency takes off the
/// exchange times of `tape` (ns, ≤ 0).
fn gapmm_offset(tape: &Tape, cfg: &BacktestConfig) -> i64 {
    FeedClock::new(tape, cfg.feed, cfg.archive_feed_ns).offset_ns(0)
}

/// Backtests `file` with both engines, `runs` times each (at least once),
/// and sets the results side by side.
pub fn compare(file: &Path, p: &RefParams, runs: usize) -> Result<Comparison, String> {
    p.validate()?;
    let runs = runs.max(1);

    // Load both (timed apart).
    let t = Instant::now();
    let rec: Recording = read_recording(file)?;
    let convert_s = t.elapsed().as_secs_f64();
    let flags = gapmm_flags(file, p);
    let (tape, cfg, load_s) = load_gapmm(&flags).map_err(|e| format!("gap-mm: {e}"))?;

    // Alternate the runs, so a slow spell of the machine hits both.
    let mut timing = Timing {
        runs,
        hbt_loop_s: Vec::with_capacity(runs),
        hbt_call_s: Vec::with_capacity(runs),
        gapmm_loop_s: Vec::with_capacity(runs),
        gapmm_call_s: Vec::with_capacity(runs),
    };
    let mut hbt: Option<RefResult> = None;
    let mut ours: Option<Report> = None;
    let mut notes = Vec::new();
    let mut hbt_varies = false;
    let mut ours_varies = false;
    for _ in 0..runs {
        let t = Instant::now();
        let r = run_events(&rec, p)?;
        timing.hbt_call_s.push(t.elapsed().as_secs_f64());
        timing.hbt_loop_s.push(r.run_s);
        hbt = Some(match hbt {
            None => r,
            Some(best) => {
                hbt_varies |= (best.fills, best.pnl.to_bits()) != (r.fills, r.pnl.to_bits());
                if r.run_s < best.run_s {
                    r
                } else {
                    best
                }
            }
        });

        let t = Instant::now();
        let r = gapmm::backtest::run(&tape, &cfg).map_err(|e| format!("gap-mm: {e}"))?;
        timing.gapmm_call_s.push(t.elapsed().as_secs_f64());
        timing.gapmm_loop_s.push(r.run_s);
        ours = Some(match ours {
            None => r,
            Some(best) => {
                ours_varies |= (best.fills, best.net.to_bits()) != (r.fills, r.net.to_bits());
                if r.run_s < best.run_s {
                    r
                } else {
                    best
                }
            }
        });
    }
    let (Some(mut hbt), Some(ours)) = (hbt, ours) else {
        return Err("no run".into());
    };
    hbt.convert_s = convert_s;
    let gapmm = GapmmResult::from_report(&ours, flags, gapmm_offset(&tape, &cfg), load_s);

    if hbt_varies {
        notes.push("hftbacktest's runs did not all give the same fills / PnL.".into());
    }
    if ours_varies {
        notes.push("gap-mm's runs did not all give the same fills / PnL.".into());
    }
    if hbt.fills > 0 && gapmm.fills > 0 {
        let r = gapmm.fills as f64 / hbt.fills as f64;
        if (r - 1.0).abs() > 0.2 {
            notes.push(format!(
                "Fill counts differ by more than 20 % (gap-mm {} vs hftbacktest {}, {r:.2}×): \
                 compare gap-mm's fills by cause and the order counts.",
                gapmm.fills, hbt.fills
            ));
        }
    }
    notes.extend(setting_notes(p, &hbt, &gapmm));
    Ok(Comparison {
        file: file.display().to_string(),
        hftbacktest: hbt,
        gapmm,
        timing,
        notes,
    })
}

/// The notes on settings and models (see [`Comparison::notes`]).
fn setting_notes(p: &RefParams, hbt: &RefResult, ours: &GapmmResult) -> Vec<String> {
    let mut n = Vec::new();
    if p.entry_latency_ns != p.response_latency_ns {
        n.push(format!(
            "Latency: hftbacktest entry {} µs, response {} µs; gap-mm takes the entry latency, \
             {} µs, for every leg (request, answer, push): its fills and acks come back sooner \
             or later than hftbacktest's.",
            p.entry_latency_ns / 1000,
            p.response_latency_ns / 1000,
            p.entry_latency_ns / 1000
        ));
    }
    if hbt.feed_offset_ns.min(0) != ours.feed_offset_ns {
        n.push(format!(
            "Clock offset: hftbacktest's conversion {} ns (over the messages' `ts`), gap-mm's \
             `recorded:0` {} ns (over book `ts` and each trade's own `T`).",
            hbt.feed_offset_ns.min(0),
            ours.feed_offset_ns
        ));
    }
    if hbt.market_events as u64 != ours.market_events {
        n.push(format!(
            "Market events differ: hftbacktest converted {}, gap-mm decoded {}.",
            hbt.market_events, ours.market_events
        ));
    }
    n.push(
        "Feed safety off in gap-mm for a like-for-like check (--stale-ms and --max-lag-ms \
         1e9): the engine would pull its quotes after 3 s without a book message or 5 s of \
         feed lag; the hftbacktest rule never does."
            .into(),
    );
    n.push(format!(
        "Fees: maker {} / taker {} on both sides (every fill is a maker fill: GTX / PostOnly). \
         gap-mm's venue (spot, like Bybit) charges a buy's fee in the base coin, reported here \
         at its fill price; hftbacktest charges every fee in quote.",
        p.maker_fee, p.taker_fee
    ));
    n.push(match p.queue {
        QueueModel::RiskAverse => {
            "Queue: risk-averse on both sides (cancels are behind us; trades at our price \
             advance us)."
                .into()
        }
        QueueModel::PowerProb3 { n: e } => format!(
            "Queue: hftbacktest's prob3 (n={e}) vs gap-mm's power-share:{e}, the same \
             family (share of a cancel ahead of us (a/(a+b))^{e})."
        ),
    });
    if p.exchange == ExchangeModel::PartialFill {
        n.push(
            "hftbacktest runs its PartialFillExchange: its own local state misses the \
             PartiallyFilled pieces (the fills here are counted from every response); see \
             the README for its exact-fill bug."
                .into(),
        );
    }
    n.push(match p.replace {
        Replace::CancelNew => "Moves: hftbacktest cancels, then sends a new order once the \
                               cancel is confirmed; gap-mm amends in place."
            .into(),
        Replace::Modify => "Moves: hftbacktest's modify (cancel + new at its exchange, queue \
                            position reset, one round trip); gap-mm amends in place."
            .into(),
    });
    n.push(
        "gap-mm's order manager (known differences): it amends rather than cancel + new, \
         with Bybit's priority rules (a price change goes to the back of the new level's \
         queue, a size decrease keeps its place); it keeps Bybit's rate budget (10 amends/s \
         etc.) and holds a decision back while it is spent; it fills partially on a trade \
         through its queue place (and fully on a trade through its price or a book crossing \
         it); it re-places a PostOnly reject one tick safer; it quotes a side only while the room \
         under the limit (limit − position − resting − in flight) holds a whole quote (its \
         minimum order is the quote size), and partial fills take the position off the \
         quote-size grid, so it stops quoting a side before |position| reaches the limit, \
         where the hftbacktest rule quotes the full size while |position| < limit. \
         hftbacktest's exchange here fills whole orders only (no-partial-fill is the \
         default: its partial one has the bugs the README lists)."
            .into(),
    );
    n
}

/// `x` with `d` decimals, or "–" for NaN.
fn f(x: f64, d: usize) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.d$}")
    }
}

fn signed(x: f64, d: usize) -> String {
    format!("{x:+.d$}")
}

/// Seconds as "1.234 s", "12.3 ms" or "45.6 µs".
fn secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs > 0.0 && ours.is_finite() {
        format!("{:.2}×", ours / theirs)
    } else {
        String::new()
    }
}

/// Number of decimals of `step` (up to 12).
fn decimals(step: f64) -> usize {
    (0..=12)
        .find(|&d| {
            let x = step * 10f64.powi(d as i32);
            (x - x.round()).abs() < 1e-6
        })
        .unwrap_or(12)
}

fn per_sec(n: f64, s: f64) -> String {
    if s > 0.0 {
        format!("{:.2} M/s", n / s / 1e6)
    } else {
        "–".into()
    }
}

impl Comparison {
    /// The side-by-side table and the notes, for a terminal.
    pub fn table(&self, p: &RefParams) -> String {
        use std::fmt::Write;
        let h = &self.hftbacktest;
        let g = &self.gapmm;
        let t = &self.timing;
        let qd = decimals(p.lot);
        let vd = 2;
        let md = 6;
        let mut rows: Vec<[String; 4]> = Vec::new();
        let mut row = |name: &str, a: String, b: String, r: String| {
            rows.push([name.to_string(), a, b, r]);
        };
        let events = g.market_events as f64;
        row(
            "fills (buy / sell)",
            format!("{} ({} / {})", h.fills, h.buy_fills, h.sell_fills),
            format!("{} ({} / {})", g.fills, g.buy_fills, g.sell_fills),
            ratio(g.fills as f64, h.fills as f64),
        );
        row(
            "volume base (bought / sold)",
            format!("{} / {}", f(h.bought_qty, qd), f(h.sold_qty, qd)),
            format!("{} / {}", f(g.bought_qty, qd), f(g.sold_qty, qd)),
            ratio(g.bought_qty + g.sold_qty, h.bought_qty + h.sold_qty),
        );
        row(
            "volume quote",
            f(h.traded_value, vd),
            f(g.traded_value, vd),
            ratio(g.traded_value, h.traded_value),
        );
        row(
            "final position",
            signed(h.final_position, qd),
            signed(g.final_position, qd),
            String::new(),
        );
        row(
            "PnL before fees",
            signed(h.pnl, md),
            signed(g.pnl, md),
            String::new(),
        );
        row("fees", f(h.fees, md), f(g.fees, md), String::new());
        row(
            "net PnL",
            signed(h.net_pnl, md),
            signed(g.net_pnl, md),
            String::new(),
        );
        row(
            "orders sent / creates",
            h.orders_submitted.to_string(),
            g.creates.to_string(),
            ratio(g.creates as f64, h.orders_submitted as f64),
        );
        row(
            "cancels",
            h.cancels.to_string(),
            g.cancels.to_string(),
            String::new(),
        );
        row(
            "modifies / amends",
            h.modifies.to_string(),
            g.amends.to_string(),
            String::new(),
        );
        row(
            "post-only rejects",
            h.post_only_rejects.to_string(),
            g.post_only_rejects.to_string(),
            String::new(),
        );
        row(
            "market events (book msgs + trades)",
            h.market_events.to_string(),
            g.market_events.to_string(),
            String::new(),
        );
        row(
            "  hftbacktest rows (one per level)",
            h.events.to_string(),
            String::new(),
            String::new(),
        );
        row(
            &format!("backtest loop wall time (best of {})", t.runs),
            secs(h.run_s),
            secs(g.run_s),
            ratio(g.run_s, h.run_s),
        );
        row(
            "market events per second",
            per_sec(h.market_events as f64, h.run_s),
            per_sec(events, g.run_s),
            ratio(
                if g.run_s > 0.0 { events / g.run_s } else { 0.0 },
                if h.run_s > 0.0 {
                    h.market_events as f64 / h.run_s
                } else {
                    0.0
                },
            ),
        );
        row(
            "  hftbacktest rows per second",
            per_sec(h.events as f64, h.run_s),
            String::new(),
            String::new(),
        );
        row(
            &format!("whole backtest call (best of {})", t.runs),
            secs(t.hbt_call_best()),
            secs(t.gapmm_call_best()),
            ratio(t.gapmm_call_best(), t.hbt_call_best()),
        );
        row(
            "load: read + parse + convert",
            secs(h.convert_s),
            secs(g.load_s),
            ratio(g.load_s, h.convert_s),
        );
        row(
            "build: rows copied + processors",
            secs(h.build_s),
            "(in the call)".into(),
            String::new(),
        );

        let w0 = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
        let w1 = rows
            .iter()
            .map(|r| r[1].chars().count())
            .max()
            .unwrap_or(0)
            .max(17);
        let w2 = rows
            .iter()
            .map(|r| r[2].chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}  {}  ({} book msgs + trades over {:.1} s)",
            h.symbol.as_deref().unwrap_or("?"),
            self.file,
            g.market_events,
            g.span_s
        );
        let _ = writeln!(
            s,
            "touch rule: qty {} max position {} tick {} lot {}; order latency {} µs; queue {}; \
             maker {} taker {}; hftbacktest {} / {}",
            p.qty,
            p.max_position,
            p.tick,
            p.lot,
            p.entry_latency_ns / 1000,
            h.queue_model,
            p.maker_fee,
            p.taker_fee,
            h.exchange_model,
            h.replace
        );
        let _ = writeln!(s);
        let pad = |x: &str, w: usize| {
            let n = x.chars().count();
            format!("{}{}", " ".repeat(w.saturating_sub(n)), x)
        };
        let _ = writeln!(
            s,
            "{:<w0$}  {}  {}  gap-mm ÷ hbt",
            "",
            pad("hftbacktest 0.9.4", w1),
            pad("gap-mm", w2),
        );
        for r in &rows {
            let _ = writeln!(
                s,
                "{:<w0$}  {}  {}  {}",
                r[0],
                pad(&r[1], w1),
                pad(&r[2], w2),
                r[3]
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "gap-mm fills by cause: {} queue, {} trade-through, {} book-cross; {} orders rested; \
             {} stale pulls, {} resyncs.",
            g.queue_fills,
            g.trade_through_fills,
            g.book_cross_fills,
            g.orders_placed,
            g.stale_pulls,
            g.resyncs
        );
        let fmt_runs = |v: &[f64]| v.iter().map(|x| secs(*x)).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            s,
            "Loop times are the wall time of the backtest loop alone, after loading; each side \
             ran {} times, alternately, and the faster run is shown (hftbacktest: {}; gap-mm: {}).",
            t.runs,
            fmt_runs(&t.hbt_loop_s),
            fmt_runs(&t.gapmm_loop_s)
        );
        for n in &self.notes {
            let _ = writeln!(s, "- {n}");
        }
        let _ = writeln!(
            s,
            "gap-mm's run as a command: gapmm-hot backtest {}",
            self.gapmm.flags.join(" ")
        );
        s
    }
}
