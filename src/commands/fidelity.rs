//! `gapmm-hot fidelity`: how closely the backtest reproduces what the
//! engine really did.
//!
//! One command, three steps:
//! 1. gapmm-hot trades the embedded simulator for `--duration` seconds with
//!    `--record`, its journal and `--hist-out` on (into `--out`);
//! 2. the recording is backtested with the same settings, the order latency
//!    taken from that run's own `ack` / `confirm` hops, the simulator's fee
//!    rate, once per queue model asked for;
//! 3. live and backtest are printed side by side: fills, volume, PnL, and
//!    the share of live fills a backtest fill matches (same side, same
//!    price, within `--match-ms`, each used once, earliest first), and the
//!    share of backtest fills a live fill matches.
//!
//! The simulator keeps the true queue (every order, in time priority), so
//! the unmatched shares measure the backtest's queue and latency models on
//! L2 data. Live PnL is counted from the journal's fills with the
//! backtest's own accounting (average cost, marked at the recording's last
//! mid, maker fee at the simulator's rate), so the two PnLs differ only by
//! their fills.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::backtest::venue::QuoteChange;
use crate::backtest::{self, Report};
use crate::commands::backtest::{settings, BacktestArgs};
use crate::engine::config::{Config, EngineArgs, Venue};
use crate::engine::runtime::{run as run_engine, RunOptions};
use crate::oms::Pnl;
use crate::replay::{Tape, TapeSpec};
use crate::units::{HalfTicks, Lots, Side, Step, Ticks};

/// The simulator's maker fee rate (`sim::exchange::Fees::default`).
const SIM_MAKER_FEE: f64 = 0.0001;

/// Flags of `gapmm-hot fidelity` (the engine's own flags apply to both runs).
#[derive(clap::Args, Debug, Clone)]
pub struct FidelityArgs {
    /// Directory for the run's recording, journal, histograms and report.
    #[arg(long, default_value = "fidelity")]
    pub out: PathBuf,
    /// Queue models to backtest with, comma-separated.
    #[arg(long, default_value = "risk-averse,power:2")]
    pub queues: String,
    /// Compare again on the recording, journal and histograms already in
    /// `--out` (no new live run): to try other models on the same run.
    #[arg(long)]
    pub reuse: bool,
    /// Leave the live orders in the recorded book (to measure what taking
    /// them out is worth).
    #[arg(long = "keep-own")]
    pub keep_own: bool,
    /// Largest time difference of a matched fill pair (ms).
    #[arg(long = "match-ms", default_value_t = 1000)]
    pub match_ms: u64,
}

/// One backtest's comparison with the live run.
struct Compared {
    queue: String,
    report: Report,
    /// Live fills a backtest fill matches.
    live_hit: usize,
    /// Backtest fills a live fill matches.
    sim_hit: usize,
    /// Share of time quoting as live, bid and ask.
    agree: [f64; 2],
    /// Live fills at a price the backtest quoted, and of those matched.
    same_quote: (usize, usize),
}

/// One fill, live or simulated: time (ns), side, price, quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillAt {
    /// Exchange time (ns).
    pub t_ns: u64,
    /// Side.
    pub side: Side,
    /// Price.
    pub price: Ticks,
    /// Quantity.
    pub qty: Lots,
}

/// How many of `a` find a partner in `b`: same side and price, within
/// `window_ns`, each of `b` used once, the nearest in time first. Both
/// time-ordered.
pub fn matched(a: &[FillAt], b: &[FillAt], window_ns: u64) -> usize {
    match_flags(a, b, window_ns).iter().filter(|&&m| m).count()
}

/// For each of `a`, whether it found a partner in `b` (see [`matched`]).
pub fn match_flags(a: &[FillAt], b: &[FillAt], window_ns: u64) -> Vec<bool> {
    let mut used = vec![false; b.len()];
    let mut flags = Vec::with_capacity(a.len());
    for f in a {
        let lo = b.partition_point(|g| g.t_ns.saturating_add(window_ns) < f.t_ns);
        let best = b
            .iter()
            .enumerate()
            .skip(lo)
            .take_while(|(_, g)| g.t_ns <= f.t_ns.saturating_add(window_ns))
            .filter(|(i, g)| !used[*i] && g.side == f.side && g.price == f.price)
            .min_by_key(|(_, g)| g.t_ns.abs_diff(f.t_ns));
        if let Some((i, _)) = best {
            used[i] = true;
        }
        flags.push(best.is_some());
    }
    flags
}

/// What a journal holds for the comparison.
#[derive(Debug, Clone, Default)]
pub struct Journaled {
    /// Fills, each execution once, time-ordered.
    pub fills: Vec<FillAt>,
    /// Our resting orders as the order stream confirmed them, in journal order.
    pub quotes: Vec<QuoteChange>,
}

/// The share of `[t0, t1)` during which `a` and `b` had the same resting
/// price (or both none) on `side`. Both are time-ordered change logs.
pub fn agreement(a: &[QuoteChange], b: &[QuoteChange], side: Side, t0: u64, t1: u64) -> f64 {
    if t1 <= t0 {
        return 0.0;
    }
    let a: Vec<&QuoteChange> = a.iter().filter(|q| q.side == side).collect();
    let b: Vec<&QuoteChange> = b.iter().filter(|q| q.side == side).collect();
    let (mut i, mut j) = (0, 0);
    let (mut pa, mut pb) = (None, None);
    let mut t = t0;
    let mut same = 0u64;
    loop {
        // Apply every change at or before t.
        while a.get(i).is_some_and(|q| q.t_ns <= t) {
            pa = a[i].price;
            i += 1;
        }
        while b.get(j).is_some_and(|q| q.t_ns <= t) {
            pb = b[j].price;
            j += 1;
        }
        let next = [a.get(i).map(|q| q.t_ns), b.get(j).map(|q| q.t_ns), Some(t1)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(t1)
            .min(t1);
        if pa == pb {
            same += next - t;
        }
        if next >= t1 {
            break;
        }
        t = next;
    }
    same as f64 / (t1 - t0) as f64
}

/// Whether `log` had an order on `side` at `price` at some time in
/// `[from, to]` (a time-ordered change log).
pub fn quoted_at(log: &[QuoteChange], side: Side, price: Ticks, from: u64, to: u64) -> bool {
    let mut at_from = None;
    for q in log.iter().filter(|q| q.side == side) {
        if q.t_ns > to {
            break;
        }
        if q.t_ns <= from {
            at_from = q.price;
        } else if q.price == Some(price) {
            return true;
        }
    }
    at_from == Some(price)
}

/// The journal's fills and confirmed quotes, and its tick and lot steps.
pub fn journal_fills(path: &Path) -> Result<(Journaled, Step, Step), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut steps = None;
    let mut seen = std::collections::HashSet::new();
    let mut fills = Vec::new();
    let mut quotes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?;
        match v["t"].as_str() {
            Some("session") => {
                let step = |k: &str| {
                    v[k].as_str()
                        .and_then(|s| Step::parse(s).ok())
                        .ok_or_else(|| format!("{} line {}: bad {k}", path.display(), i + 1))
                };
                steps = Some((step("tick")?, step("lot")?));
            }
            Some("order") => {
                let side = match v["side"].as_str() {
                    Some("Buy") => Side::Buy,
                    Some("Sell") => Side::Sell,
                    _ => continue,
                };
                let open = matches!(v["status"].as_str(), Some("New" | "PartiallyFilled"));
                quotes.push(QuoteChange {
                    t_ns: v["ts"].as_u64().unwrap_or(0) * 1_000_000,
                    side,
                    price: if open {
                        v["price_ticks"].as_i64().map(Ticks)
                    } else {
                        None
                    },
                    qty: Lots(v["leaves_lots"].as_i64().unwrap_or(0)),
                });
            }
            Some("fill") => {
                let id = v["exec_id"].as_str().unwrap_or_default().to_string();
                if !seen.insert(id) {
                    continue;
                }
                let side = match v["side"].as_str() {
                    Some("Buy") => Side::Buy,
                    Some("Sell") => Side::Sell,
                    _ => return Err(format!("{} line {}: bad side", path.display(), i + 1)),
                };
                let num = |k: &str| {
                    v[k].as_i64()
                        .ok_or_else(|| format!("{} line {}: bad {k}", path.display(), i + 1))
                };
                fills.push(FillAt {
                    t_ns: u64::try_from(num("ts")?).unwrap_or(0) * 1_000_000,
                    side,
                    price: Ticks(num("price_ticks")?),
                    qty: Lots(num("qty_lots")?),
                });
            }
            _ => {}
        }
    }
    let (tick, lot) = steps.ok_or_else(|| format!("{}: no session line", path.display()))?;
    fills.sort_by_key(|f| f.t_ns);
    quotes.sort_by_key(|q| q.t_ns);
    Ok((Journaled { fills, quotes }, tick, lot))
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    }
}

/// Net PnL of `fills` with the backtest's accounting (see the module docs).
fn net_pnl(fills: &[FillAt], mid: Option<HalfTicks>, tick: Step, lot: Step, fee: f64) -> f64 {
    let (t, l) = (
        backtest::report::price_f64(tick, 1),
        backtest::report::price_f64(lot, 1),
    );
    let mut pnl = Pnl::default();
    let mut fees = 0.0;
    for f in fills {
        pnl.apply(f.side, f.price, f.qty);
        fees += f.price.0 as f64 * t * f.qty.0 as f64 * l * fee;
    }
    let unreal = mid.map_or(0.0, |m| pnl.unrealised_half_ticks(m) as f64 / 2.0);
    (pnl.realised as f64 + unreal) * t * l - fees
}

/// The last mid of a tape's book (for marking).
fn last_mid(tape: &Tape) -> Option<HalfTicks> {
    let mut book = crate::book::Book::new(backtest::BOOK);
    let mut mid = None;
    for e in tape.events() {
        if let Some(b) = tape.book(e) {
            if book.apply(&b).is_ok() {
                if let (Some(b), Some(a)) = (book.best_bid(), book.best_ask()) {
                    if b.price < a.price {
                        mid = Some(HalfTicks::mid(b.price, a.price));
                    }
                }
            }
        }
    }
    mid
}

/// Runs `gapmm-hot fidelity`.
pub fn run(
    engine: &EngineArgs,
    args: &FidelityArgs,
    duration: Option<Duration>,
) -> Result<(), String> {
    let mut cfg = Config::from_args(engine).map_err(|e| e.to_string())?;
    if cfg.venue != Venue::Sim || cfg.sim_url.is_some() {
        return Err(
            "fidelity runs against the embedded simulator only (no --venue, no --sim-url)".into(),
        );
    }
    let duration = duration.unwrap_or(Duration::from_secs(60));
    let out = &args.out;
    let (rec_dir, hist_dir) = (out.join("recording"), out.join("hist"));
    cfg.journal = out.join("journal.jsonl");
    let files = if args.reuse {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&rec_dir)
            .map_err(|e| format!("--reuse: {}: {e}", rec_dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files
    } else {
        for d in [&rec_dir, &hist_dir] {
            if d.exists() {
                std::fs::remove_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            }
        }
        std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
        let _ = std::fs::remove_file(&cfg.journal);
        eprintln!(
            "fidelity: trading the embedded simulator for {:.0} s (recording, journal, histograms into {})",
            duration.as_secs_f64(),
            out.display()
        );
        let report = run_engine(
            &cfg,
            &RunOptions {
                duration: Some(duration),
                hist_out: Some(hist_dir.clone()),
                status: false,
                record: Some(rec_dir.clone()),
                record_rotate_bytes: 0,
            },
        )
        .map_err(|e| e.to_string())?;
        match report.record.as_ref().map(|r| &r.written) {
            Some(Ok(st)) => st.files.clone(),
            Some(Err(e)) => return Err(format!("the recording failed: {e}")),
            None => return Err("no recording was made".into()),
        }
    };
    let (journal, tick, lot) = journal_fills(&cfg.journal)?;
    let live = &journal.fills;
    let tape = Tape::load(
        &files,
        &TapeSpec {
            price_step: tick,
            qty_step: lot,
            symbol: Some(cfg.symbol),
        },
    )
    .map_err(|e| e.to_string())?;
    // The recording shows the live orders in the book: take them out.
    let tape = if args.keep_own {
        tape
    } else {
        tape.without_own(&crate::replay::own::own_from_journal(&cfg.journal)?)
    };
    let mid = last_mid(&tape);
    let live_net = net_pnl(live, mid, tick, lot, SIM_MAKER_FEE);
    let window = args.match_ms * 1_000_000;
    let mut runs: Vec<Compared> = Vec::new();
    for q in args
        .queues
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        let bargs = BacktestArgs {
            replay: files.clone(),
            qty_step: lot.to_string(),
            own_journal: None,
            min_qty: None,
            queue: q.to_string(),
            order_latency: hist_dir.display().to_string(),
            feed_latency: "recorded".into(),
            maker_fee: Some(SIM_MAKER_FEE),
            taker_fee: None,
            rule: "engine".into(),
            timer_us: 1000,
            seed: 1,
            json: None,
            plot: None,
            sweep: Vec::new(),
            threads: None,
        };
        let bt = settings(&cfg, &bargs, &tape)?;
        let r = backtest::run(&tape, &bt).map_err(|e| e.to_string())?;
        let sim: Vec<FillAt> = r
            .fill_log
            .iter()
            .map(|f| FillAt {
                t_ns: f.t_ns,
                side: f.side,
                price: f.price,
                qty: f.qty,
            })
            .collect();
        let flags = match_flags(live, &sim, window);
        let live_hit = flags.iter().filter(|&&m| m).count();
        // Live fills at a price the backtest also quoted on that side in the
        // window before: there the queue and latency models alone decide.
        let mut same_quote = (0, 0);
        for (f, hit) in live.iter().zip(&flags) {
            if quoted_at(
                &r.quote_log,
                f.side,
                f.price,
                f.t_ns.saturating_sub(window),
                f.t_ns,
            ) {
                same_quote.0 += 1;
                same_quote.1 += usize::from(*hit);
            }
        }
        let sim_hit = matched(&sim, live, window);
        let (t0, t1) = (
            tape.events().first().map_or(0, |e| e.local_ns),
            tape.events().last().map_or(0, |e| e.local_ns),
        );
        let agree =
            [Side::Buy, Side::Sell].map(|s| agreement(&journal.quotes, &r.quote_log, s, t0, t1));
        runs.push(Compared {
            queue: q.to_string(),
            report: r,
            live_hit,
            sim_hit,
            agree,
            same_quote,
        });
    }
    let qty = |f: &[FillAt], s: Side| -> f64 {
        f.iter()
            .filter(|x| x.side == s)
            .map(|x| x.qty.0 as f64)
            .sum::<f64>()
            * backtest::report::price_f64(lot, 1)
    };
    let pct = |a: usize, b: usize| {
        if b > 0 {
            100.0 * a as f64 / b as f64
        } else {
            0.0
        }
    };
    let duration = Duration::from_secs_f64(tape.span_secs());
    println!(
        "fidelity: {:.0} s of gapmm-hot on the embedded simulator vs the backtest of its recording ({} book messages, {} trades)",
        duration.as_secs_f64(),
        tape.stats().books,
        tape.stats().trades
    );
    print!("{:<34} {:>14}", "", "live");
    for c in &runs {
        print!(" {:>22}", format!("backtest {}", c.queue));
    }
    println!();
    let nb = |f: &[FillAt], s: Side| f.iter().filter(|x| x.side == s).count();
    print!(
        "{:<34} {:>14}",
        "fills (buy/sell)",
        format!("{}/{}", nb(live, Side::Buy), nb(live, Side::Sell))
    );
    for Compared { report: r, .. } in &runs {
        print!(" {:>22}", format!("{}/{}", r.fills.0, r.fills.1));
    }
    println!();
    print!(
        "{:<34} {:>14.6}",
        "volume bought+sold (base)",
        qty(live, Side::Buy) + qty(live, Side::Sell)
    );
    for Compared { report: r, .. } in &runs {
        print!(" {:>22.6}", r.volume_base.0 + r.volume_base.1);
    }
    println!();
    print!("{:<34} {:>+14.4}", "net PnL (quote)", live_net);
    for Compared { report: r, .. } in &runs {
        print!(" {:>+22.4}", r.net);
    }
    println!();
    print!(
        "{:<34} {:>14}",
        format!("live fills matched (±{} ms)", args.match_ms),
        ""
    );
    for Compared { live_hit: lh, .. } in &runs {
        print!(
            " {:>22}",
            format!("{lh}/{} ({:.1} %)", live.len(), pct(*lh, live.len()))
        );
    }
    println!();
    print!("{:<34} {:>14}", "backtest fills matched", "");
    for Compared {
        report: r,
        sim_hit: sh,
        ..
    } in &runs
    {
        let n = (r.fills.0 + r.fills.1) as usize;
        print!(" {:>22}", format!("{sh}/{n} ({:.1} %)", pct(*sh, n)));
    }
    println!();
    print!("{:<34} {:>14}", "  where the backtest quoted there", "");
    for Compared { same_quote: sq, .. } in &runs {
        print!(
            " {:>22}",
            format!("{}/{} ({:.1} %)", sq.1, sq.0, pct(sq.1, sq.0))
        );
    }
    println!();
    print!("{:<34} {:>14}", "time quoting as live (bid/ask)", "");
    for Compared { agree, .. } in &runs {
        print!(
            " {:>22}",
            format!("{:.1} % / {:.1} %", agree[0] * 100.0, agree[1] * 100.0)
        );
    }
    println!();
    let v = json!({
        "duration_s": duration.as_secs_f64(),
        "live_quote_log": journal.quotes.iter().map(|q| json!([q.t_ns, side_str(q.side), q.price.map(|p| p.0)])).collect::<Vec<_>>(),
        "live": {
            "fills": live.len(),
            "buy": nb(live, Side::Buy), "sell": nb(live, Side::Sell),
            "volume_base": qty(live, Side::Buy) + qty(live, Side::Sell),
            "net_pnl": live_net,
        },
        "match_ms": args.match_ms,
        "backtests": runs.iter().map(|Compared { queue: q, report: r, live_hit: lh, sim_hit: sh, agree, same_quote: sq }| json!({
            "queue": q,
            "fills": r.fills.0 + r.fills.1,
            "buy": r.fills.0, "sell": r.fills.1,
            "volume_base": r.volume_base.0 + r.volume_base.1,
            "net_pnl": r.net,
            "live_fills_matched": lh,
            "live_fills_matched_pct": pct(*lh, live.len()),
            "backtest_fills_matched": sh,
            "backtest_fills_matched_pct": pct(*sh, (r.fills.0 + r.fills.1) as usize),
            "quote_agreement": { "bid": agree[0], "ask": agree[1] },
            "live_fills_at_a_price_the_backtest_quoted": sq.0,
            "of_which_matched": sq.1,
            "matched_pct_where_quoted": pct(sq.1, sq.0),
            "quote_log": r.quote_log.iter().map(|q| json!([q.t_ns, side_str(q.side), q.price.map(|p| p.0)])).collect::<Vec<_>>(),
            "report": r.to_json(),
        })).collect::<Vec<_>>(),
    });
    let path = out.join("fidelity.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n",
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(t_ms: u64, side: Side, price: i64) -> FillAt {
        FillAt {
            t_ns: t_ms * 1_000_000,
            side,
            price: Ticks(price),
            qty: Lots(1),
        }
    }

    #[test]
    fn agreement_is_the_share_of_time_at_the_same_price() {
        let q = |t: u64, p: Option<i64>| QuoteChange {
            t_ns: t,
            side: Side::Buy,
            price: p.map(Ticks),
            qty: Lots(1),
        };
        // Live: 10 from 0, 11 from 50. Backtest: 10 from 10, gone at 60.
        let live = [q(0, Some(10)), q(50, Some(11))];
        let bt = [q(10, Some(10)), q(60, None)];
        // Same on [10, 50) only: 40 of 100.
        assert!((agreement(&live, &bt, Side::Buy, 0, 100) - 0.4).abs() < 1e-12);
        assert_eq!(agreement(&live, &live, Side::Buy, 0, 100), 1.0);
        assert_eq!(
            agreement(&live, &bt, Side::Sell, 0, 100),
            1.0,
            "neither quotes asks"
        );
    }

    #[test]
    fn fills_match_one_to_one_by_side_price_and_time() {
        let live = [
            f(1000, Side::Buy, 100),
            f(1100, Side::Buy, 100),
            f(5000, Side::Sell, 101),
            f(9000, Side::Buy, 99),
        ];
        let sim = [
            f(1050, Side::Buy, 100),  // pairs with 1000 or 1100, once
            f(5900, Side::Sell, 101), // within 1 s of 5000
            f(9000, Side::Sell, 99),  // wrong side
            f(9500, Side::Buy, 98),   // wrong price
        ];
        assert_eq!(matched(&live, &sim, 1_000_000_000), 2);
        assert_eq!(matched(&sim, &live, 1_000_000_000), 2);
        assert_eq!(matched(&live, &sim, 500_000_000), 1, "5900 is 0.9 s late");
    }
}
