//! What a backtest produced: PnL, fills, volume, inventory, markouts,
//! drawdown and request rates, as a printable summary and as JSON.
//!
//! Definitions (every figure in the quote currency unless it says bps):
//! - **PnL** is counted from the exchange's fills alone (average cost, the
//!   live engine's [`crate::oms::Pnl`]): *realised* on closed quantity,
//!   *unrealised* the open position marked at the last mid, *fees* the
//!   maker fees paid (a spot buy's base-coin fee valued at its fill price;
//!   negative = rebate), *net* = realised + unrealised − fees.
//! - **fill ratio**: the share of orders placed on the book that got at
//!   least one fill.
//! - **markout** at horizon h of a fill: `side × (mid(t + h) − price) /
//!   price` in bps, with `mid(t + h)` the exchange's mid as of that time;
//!   positive = the fill was worth more than it cost. Averaged per side,
//!   weighted by quantity; fills too close to the end of the recording for
//!   the horizon are left out (`n` says how many counted).
//! - **max drawdown**: the largest fall of net equity from a running peak,
//!   evaluated at every book message and fill.
//! - **rates**: requests the exchange received per second of recording.
//!
//! Contract: off the hot path; building and rendering allocate.

use serde_json::{json, Value};

use super::venue::{FillCause, FillRecord, QuoteChange};
use crate::units::{HalfTicks, Side, Step};

/// Markout horizons reported in the table and the JSON (seconds).
pub const MARKOUT_HORIZONS_S: [f64; 3] = [1.0, 5.0, 30.0];
/// Horizons of the markout curve plot (seconds).
pub const MARKOUT_CURVE_S: [f64; 10] = [0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0];

/// Average markouts at one horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Markout {
    /// Horizon (s).
    pub horizon_s: f64,
    /// Buys: mean bps (quantity-weighted), and fills counted.
    pub buy_bps: f64,
    /// Buy fills counted.
    pub buy_n: u64,
    /// Sells: mean bps.
    pub sell_bps: f64,
    /// Sell fills counted.
    pub sell_n: u64,
}

/// One point of the equity and inventory path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathPoint {
    /// Seconds since the first event.
    pub t_s: f64,
    /// Net equity (quote).
    pub equity: f64,
    /// Position (base units).
    pub position: f64,
}

/// A backtest's result. See the module docs for the definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Symbol.
    pub symbol: String,
    /// A one-line description of the settings.
    pub settings: String,
    /// Recording span (s).
    pub span_s: f64,
    /// Market events replayed.
    pub events: u64,
    /// Wall time of the replay loop (s).
    pub run_s: f64,
    /// Realised PnL.
    pub realised: f64,
    /// Unrealised PnL at the last mid.
    pub unrealised: f64,
    /// Fees paid.
    pub fees: f64,
    /// Net PnL.
    pub net: f64,
    /// Largest peak-to-trough fall of net equity.
    pub max_drawdown: f64,
    /// Fills (buy, sell).
    pub fills: (u64, u64),
    /// Fills by cause: queue, trade-through, book-cross.
    pub fill_causes: (u64, u64, u64),
    /// Volume in base units (bought, sold).
    pub volume_base: (f64, f64),
    /// Volume in quote currency.
    pub volume_quote: f64,
    /// Orders placed on the book.
    pub orders_placed: u64,
    /// Share of placed orders that got at least one fill.
    pub fill_ratio: f64,
    /// Creates, amends (items) and cancels per second.
    pub rates: (f64, f64, f64),
    /// PostOnly orders the exchange cancelled for crossing.
    pub post_only_rejects: u64,
    /// Times the engine pulled its quotes because the feed went quiet.
    pub stale_pulls: u64,
    /// Order-book sequence breaks (quotes pulled until the next snapshot).
    pub resyncs: u64,
    /// Final position (base units): the account's holdings, so a spot
    /// buy's base-coin fee is not in it (those coins never arrive).
    pub final_position: f64,
    /// Largest absolute position (base units, as `final_position`).
    pub max_abs_position: f64,
    /// Markouts at [`MARKOUT_HORIZONS_S`].
    pub markouts: Vec<Markout>,
    /// Markouts at [`MARKOUT_CURVE_S`] (for the plot).
    pub markout_curve: Vec<Markout>,
    /// Equity and inventory over time (sampled).
    pub path: Vec<PathPoint>,
    /// Every fill, for matching with a live run.
    pub fill_log: Vec<FillRecord>,
    /// Every change of our resting orders on the exchange (not in the JSON).
    pub quote_log: Vec<QuoteChange>,
    /// Time of the first event (ns), the origin of `path` and `fill_log`.
    pub t0_ns: u64,
}

/// A price in ticks as a quote-currency number (reporting only).
pub fn price_f64(step: Step, ticks: i64) -> f64 {
    step.units() as f64 * ticks as f64 / 10f64.powi(i32::from(step.scale()))
}

/// Mean markouts at `horizons` for `fills` against `mids` (`(t_ns, mid)`,
/// time-ordered). See the module docs.
pub fn markouts(fills: &[FillRecord], mids: &[(u64, HalfTicks)], horizons: &[f64]) -> Vec<Markout> {
    let end = mids.last().map(|m| m.0).unwrap_or(0);
    horizons
        .iter()
        .map(|&h| {
            let h_ns = (h * 1e9) as u64;
            let (mut sb, mut wb, mut nb, mut ss, mut ws, mut ns) = (0.0, 0.0, 0, 0.0, 0.0, 0);
            for f in fills {
                let at = f.t_ns.saturating_add(h_ns);
                if at > end || f.price.0 <= 0 {
                    continue;
                }
                // The last mid at or before `at`.
                let i = mids.partition_point(|m| m.0 <= at);
                let Some(&(_, mid)) = i.checked_sub(1).and_then(|j| mids.get(j)) else {
                    continue;
                };
                let p2 = 2.0 * f.price.0 as f64;
                let bps = f.side.sign() as f64 * (mid.0 as f64 - p2) / p2 * 1e4;
                let w = f.qty.0 as f64;
                match f.side {
                    Side::Buy => {
                        sb += bps * w;
                        wb += w;
                        nb += 1;
                    }
                    Side::Sell => {
                        ss += bps * w;
                        ws += w;
                        ns += 1;
                    }
                }
            }
            Markout {
                horizon_s: h,
                buy_bps: if wb > 0.0 { sb / wb } else { 0.0 },
                buy_n: nb,
                sell_bps: if ws > 0.0 { ss / ws } else { 0.0 },
                sell_n: ns,
            }
        })
        .collect()
}

/// Counts fills by cause: (queue, trade-through, book-cross).
pub fn causes(fills: &[FillRecord]) -> (u64, u64, u64) {
    fills.iter().fold((0, 0, 0), |(q, t, b), f| match f.cause {
        FillCause::Queue => (q + 1, t, b),
        FillCause::TradeThrough => (q, t + 1, b),
        FillCause::BookCross => (q, t, b + 1),
    })
}

impl Report {
    /// Replayed events per second of wall time.
    pub fn events_per_sec(&self) -> f64 {
        if self.run_s > 0.0 {
            self.events as f64 / self.run_s
        } else {
            0.0
        }
    }

    /// The report as JSON (every field above; the path and the fills in full).
    pub fn to_json(&self) -> Value {
        let mk = |m: &[Markout]| -> Value {
            m.iter()
                .map(|m| {
                    json!({
                        "horizon_s": m.horizon_s,
                        "buy_bps": m.buy_bps, "buy_n": m.buy_n,
                        "sell_bps": m.sell_bps, "sell_n": m.sell_n,
                    })
                })
                .collect()
        };
        json!({
            "symbol": self.symbol,
            "settings": self.settings,
            "span_s": self.span_s,
            "events": self.events,
            "run_s": self.run_s,
            "events_per_sec": self.events_per_sec(),
            "pnl": {
                "realised": self.realised,
                "unrealised": self.unrealised,
                "fees": self.fees,
                "net": self.net,
            },
            "max_drawdown": self.max_drawdown,
            "fills": {
                "buy": self.fills.0, "sell": self.fills.1,
                "total": self.fills.0 + self.fills.1,
                "by_cause": {
                    "queue": self.fill_causes.0,
                    "trade_through": self.fill_causes.1,
                    "book_cross": self.fill_causes.2,
                },
            },
            "fill_ratio": self.fill_ratio,
            "orders_placed": self.orders_placed,
            "volume": {
                "base_bought": self.volume_base.0,
                "base_sold": self.volume_base.1,
                "quote": self.volume_quote,
            },
            "per_sec": {
                "creates": self.rates.0, "amends": self.rates.1, "cancels": self.rates.2,
            },
            "post_only_rejects": self.post_only_rejects,
            "stale_pulls": self.stale_pulls,
            "resyncs": self.resyncs,
            "position": {
                "final": self.final_position,
                "max_abs": self.max_abs_position,
            },
            "markouts": mk(&self.markouts),
            "markout_curve": mk(&self.markout_curve),
            "path": self.path.iter().map(|p| json!([p.t_s, p.equity, p.position])).collect::<Value>(),
            "path_columns": ["t_s", "equity", "position"],
            "fill_log": self.fill_log.iter().map(|f| json!([
                f.t_ns.saturating_sub(self.t0_ns) as f64 / 1e9,
                match f.side { Side::Buy => "Buy", Side::Sell => "Sell" },
                f.price.0, f.qty.0, f.cause.as_str(),
            ])).collect::<Value>(),
            "fill_log_columns": ["t_s", "side", "price_ticks", "qty_lots", "cause"],
            "t0_ns": self.t0_ns,
        })
    }

    /// A human-readable summary (several lines).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        use std::fmt::Write;
        let _ = writeln!(s, "backtest {}  {}", self.symbol, self.settings);
        let _ = writeln!(
            s,
            "  replayed {} events over {:.1} s in {:.3} s ({:.2} M events/s)",
            self.events,
            self.span_s,
            self.run_s,
            self.events_per_sec() / 1e6
        );
        let _ = writeln!(
            s,
            "  PnL      net {:+.4}  = realised {:+.4} + unrealised {:+.4} - fees {:.4}   max drawdown {:.4}",
            self.net, self.realised, self.unrealised, self.fees, self.max_drawdown
        );
        let _ = writeln!(
            s,
            "  fills    {} ({} buy / {} sell; queue {}, trade-through {}, book-cross {})   fill ratio {:.1} % of {} orders placed",
            self.fills.0 + self.fills.1,
            self.fills.0,
            self.fills.1,
            self.fill_causes.0,
            self.fill_causes.1,
            self.fill_causes.2,
            self.fill_ratio * 100.0,
            self.orders_placed
        );
        let _ = writeln!(
            s,
            "  volume   {:.6} bought / {:.6} sold (base), {:.2} quote",
            self.volume_base.0, self.volume_base.1, self.volume_quote
        );
        let _ = writeln!(
            s,
            "  position final {:+.6}, max |{:.6}|",
            self.final_position, self.max_abs_position
        );
        let _ = writeln!(
            s,
            "  requests {:.3} creates/s, {:.3} amends/s, {:.3} cancels/s; {} PostOnly rejects; {} stale pulls; {} resyncs",
            self.rates.0, self.rates.1, self.rates.2, self.post_only_rejects, self.stale_pulls, self.resyncs
        );
        for m in &self.markouts {
            let _ = writeln!(
                s,
                "  markout {:>4.0} s  buys {:+.2} bps (n {}), sells {:+.2} bps (n {})",
                m.horizon_s, m.buy_bps, m.buy_n, m.sell_bps, m.sell_n
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Lots, Ticks};

    fn fill(t: u64, side: Side, price: i64, qty: i64) -> FillRecord {
        FillRecord {
            t_ns: t,
            side,
            price: Ticks(price),
            qty: Lots(qty),
            fee_quote: 0.0,
            fee_base_lots: 0.0,
            cause: FillCause::Queue,
        }
    }

    #[test]
    fn markouts_use_the_mid_as_of_the_horizon_and_weight_by_quantity() {
        // Mid 100.0 until 1 s, then 101.0 (half ticks: 200, 202).
        let mids = [
            (0, HalfTicks(200)),
            (1_000_000_000, HalfTicks(202)),
            (9_000_000_000, HalfTicks(202)),
        ];
        let fills = [
            fill(0, Side::Buy, 100, 1),              // +100 bps at 1 s
            fill(0, Side::Buy, 101, 3),              //   0 bps at 1 s
            fill(0, Side::Sell, 100, 2),             // -100 bps at 1 s
            fill(8_500_000_000, Side::Sell, 100, 1), // 1 s later is past the end
        ];
        let m = markouts(&fills, &mids, &[0.5, 1.0]);
        assert_eq!((m[0].buy_n, m[0].sell_n), (2, 2));
        // At 0.5 s the mid is still 100: buy@100 → 0, buy@101 → -99.0099 bps.
        let want = (0.0 * 1.0 + (-100.0 / 101.0 * 100.0) * 3.0) / 4.0;
        assert!((m[0].buy_bps - want).abs() < 1e-9, "{}", m[0].buy_bps);
        assert!((m[1].buy_bps - 25.0).abs() < 1e-9, "{}", m[1].buy_bps);
        assert_eq!(m[1].sell_n, 1);
        assert!((m[1].sell_bps + 100.0).abs() < 1e-9);
    }

    #[test]
    fn causes_are_counted() {
        let mut f = vec![fill(0, Side::Buy, 1, 1); 3];
        f[1].cause = FillCause::BookCross;
        f[2].cause = FillCause::TradeThrough;
        assert_eq!(causes(&f), (1, 1, 1));
    }
}
