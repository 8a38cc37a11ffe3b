//! # gapmm-hbt-ref: a reference check against hftbacktest
//!
//! Backtests the simple "touch" quoting rule with
//! [hftbacktest](https://crates.io/crates/hftbacktest) 0.9.4 on a gap-mm
//! recording (`<local ns> <Bybit v5 public WS JSON>` lines, gzip or plain),
//! so that its fills, PnL and run time can be set beside gap-mm's own
//! backtester (`gapmm-hot backtest --rule touch`) on the same data:
//! [`compare()`] runs both and sets them side by side (the binary's default).
//!
//! The pieces:
//!
//! - [`convert`]: the recording becomes hftbacktest [`Event`] rows, with the
//!   same timestamp rule gap-mm's backtester uses (exchange time = `ts` ms ×
//!   1e6, or the trade's `T`; local time = the recorded ns, moved forward by
//!   the most negative `local − exchange` so no feed latency is negative),
//!   and the row order hftbacktest needs (exchange rows in exchange-time
//!   order, local rows in local-time order).
//! - the run ([`run_events`], [`run_reference`]): hftbacktest's local and
//!   exchange processors over the rows in memory (no npz files), a constant
//!   order entry / response latency, the risk-averse queue model (or the
//!   power-probability model `PowerProbQueueFunc3`), the no-partial-fill or
//!   partial-fill exchange, a trading-value fee model (maker / taker rates of
//!   the traded value), and the rule as the bot.
//!
//! **The rule**: after every wake-up (a market message seen locally, or an
//! order response), the bid target is the local book's best bid and the ask
//! target its best ask (none while the book is one-sided or crossed); no bid
//! while the position is at or above `max_position`, no ask while it is at or
//! below `−max_position`. One GTX (post-only) limit order per side: a working
//! order at another price than its target is cancelled and, once the cancel
//! is confirmed, a new one is sent at the target ([`Replace::CancelNew`]), or
//! it is modified in place ([`Replace::Modify`], which hftbacktest's backtest
//! exchanges carry out as cancel + new at the exchange, queue position
//! reset); an order with no target is cancelled. Nothing is sent while a
//! request for that side is in flight.
//!
//! **Accounting**: every fill, whole or partial, is taken from the order
//! responses the local side receives (see [`RefResult`]); PnL is the quote
//! cash of the fills plus the position marked at the last mid, and fees are
//! the fee model's (rate × price × quantity). hftbacktest's own local state
//! is reported beside it in [`RefResult::hbt_state`].

pub mod compare;
pub mod convert;
mod sim;

use std::path::Path;
use std::time::Instant;

pub use compare::{compare, gapmm_flags, Comparison, GapmmResult, Timing};
pub use convert::{convert_reader, correct_event_order, local_shift, read_recording, Recording};
pub use hftbacktest::types::Event;
use serde::Serialize;

/// hftbacktest's queue position model for our resting orders.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QueueModel {
    /// `RiskAdverseQueueModel`: the quantity ahead of us is the level's
    /// quantity when the order lands; it falls by each trade at our price and
    /// is capped by the level's new quantity when the level shrinks.
    RiskAverse,
    /// `ProbQueueModel<PowerProbQueueFunc3>`: like the risk-averse one for
    /// trades, and a level decrease (net of the trades already counted) is
    /// split between ahead and behind us with `p = 1 − (front / (front +
    /// back))^n` as the share behind.
    PowerProb3 {
        /// The exponent `n`.
        n: f64,
    },
}

impl QueueModel {
    /// Name for reports.
    pub fn name(&self) -> String {
        match self {
            QueueModel::RiskAverse => "risk-averse".into(),
            QueueModel::PowerProb3 { n } => format!("prob3(n={n})"),
        }
    }
}

/// hftbacktest's exchange model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeModel {
    /// `NoPartialFillExchange`: once the trades at our price have used up
    /// the queue ahead of us (by at least half a lot), the whole order fills,
    /// whatever the size of the trade.
    NoPartialFill,
    /// `PartialFillExchange`: a trade at our price fills what is left of it
    /// after the queue ahead of us (rounded to lots); the rest stays.
    PartialFill,
}

impl ExchangeModel {
    /// Name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            ExchangeModel::NoPartialFill => "no-partial-fill",
            ExchangeModel::PartialFill => "partial-fill",
        }
    }
}

/// How a working order is moved to a new target price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Cancel, then submit a new order once the cancel is confirmed.
    CancelNew,
    /// hftbacktest's `modify` (cancel + new at the exchange, one round trip).
    Modify,
}

impl Replace {
    /// Name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Replace::CancelNew => "cancel-new",
            Replace::Modify => "modify",
        }
    }
}

/// The run's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RefParams {
    /// Price step.
    pub tick: f64,
    /// Quantity step.
    pub lot: f64,
    /// Quote size (base units, a multiple of `lot`).
    pub qty: f64,
    /// Position limit (base units).
    pub max_position: f64,
    /// Order entry latency, local → exchange (ns).
    pub entry_latency_ns: i64,
    /// Order response latency, exchange → local (ns).
    pub response_latency_ns: i64,
    /// Queue model.
    pub queue: QueueModel,
    /// Exchange model.
    pub exchange: ExchangeModel,
    /// How an order is moved.
    pub replace: Replace,
    /// Maker fee rate (0.0001 = 1 bp; negative = rebate).
    pub maker_fee: f64,
    /// Taker fee rate.
    pub taker_fee: f64,
}

impl RefParams {
    /// Settings for an instrument with the defaults for the rest: 1 ms entry
    /// and response latency, risk-averse queue, no-partial-fill exchange,
    /// cancel-then-new, 1 bp maker and 5 bp taker fees.
    pub fn new(tick: f64, lot: f64, qty: f64, max_position: f64) -> RefParams {
        RefParams {
            tick,
            lot,
            qty,
            max_position,
            entry_latency_ns: 1_000_000,
            response_latency_ns: 1_000_000,
            queue: QueueModel::RiskAverse,
            exchange: ExchangeModel::NoPartialFill,
            replace: Replace::CancelNew,
            maker_fee: 0.0001,
            taker_fee: 0.0005,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        let pos = |x: f64| x.is_finite() && x > 0.0;
        if !pos(self.tick) || !pos(self.lot) {
            return Err("tick and lot must be positive".into());
        }
        if !pos(self.qty) {
            return Err("qty must be positive".into());
        }
        let lots = self.qty / self.lot;
        if lots.round() < 1.0 || (lots - lots.round()).abs() > 1e-6 {
            return Err(format!(
                "qty {} is not a multiple of the lot {}",
                self.qty, self.lot
            ));
        }
        if !(self.max_position.is_finite() && self.max_position >= 0.0) {
            return Err("max_position must be zero or more".into());
        }
        if self.entry_latency_ns < 0 || self.response_latency_ns < 0 {
            return Err("latencies must be zero or more".into());
        }
        if !self.maker_fee.is_finite() || !self.taker_fee.is_finite() {
            return Err("fee rates must be finite".into());
        }
        if let QueueModel::PowerProb3 { n } = self.queue {
            if !pos(n) {
                return Err("the prob3 exponent n must be positive".into());
            }
        }
        Ok(())
    }
}

/// hftbacktest's own local [`StateValues`](hftbacktest::types::StateValues)
/// at the end (only `Filled` responses reach it: see [`RefResult`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HbtState {
    /// Position (base).
    pub position: f64,
    /// Quote balance of the fills.
    pub balance: f64,
    /// Fees.
    pub fee: f64,
    /// Fills counted.
    pub num_trades: i64,
    /// Base quantity traded.
    pub trading_volume: f64,
    /// Quote value traded.
    pub trading_value: f64,
    /// `balance + position × last mid − fee`.
    pub equity: Option<f64>,
}

/// One run's outcome.
///
/// Fills are counted from the order responses the local side receives: a
/// response whose order's `leaves_qty` went down is one fill of `exec_qty`
/// at the order's price (every fill of a GTX order is a maker fill). Under
/// the no-partial-fill exchange these equal hftbacktest's own state
/// ([`RefResult::hbt_state`]); under the partial-fill exchange hftbacktest's
/// local state misses the `PartiallyFilled` pieces, and this does not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefResult {
    /// "hftbacktest 0.9.4".
    pub engine: &'static str,
    /// The recording's symbol.
    pub symbol: Option<String>,
    /// Exchange model.
    pub exchange_model: &'static str,
    /// Queue model.
    pub queue_model: String,
    /// How orders were moved.
    pub replace: &'static str,
    /// Our fills (trade events of ours, partial pieces counted one each).
    pub fills: u64,
    /// Of which buys.
    pub buy_fills: u64,
    /// Of which sells.
    pub sell_fills: u64,
    /// Of which maker.
    pub maker_fills: u64,
    /// Of which taker (none expected: GTX).
    pub taker_fills: u64,
    /// Base bought.
    pub bought_qty: f64,
    /// Base sold.
    pub sold_qty: f64,
    /// Final position (base).
    pub final_position: f64,
    /// The last mid of the local book.
    pub last_mid: Option<f64>,
    /// Realised + unrealised PnL (quote), marked at `last_mid`, before fees.
    pub pnl: f64,
    /// Fees paid (quote).
    pub fees: f64,
    /// `pnl − fees`.
    pub net_pnl: f64,
    /// Quote value of our fills.
    pub traded_value: f64,
    /// New orders sent.
    pub orders_submitted: u64,
    /// Modify requests sent.
    pub modifies: u64,
    /// Cancel requests sent.
    pub cancels: u64,
    /// GTX orders (or modifies) the exchange expired for crossing the book.
    pub post_only_rejects: u64,
    /// Cancels the exchange confirmed.
    pub cancels_confirmed: u64,
    /// Cancels / modifies rejected (the order was already gone).
    pub requests_rejected: u64,
    /// Book and trade messages in the recording.
    pub messages: usize,
    /// Market events: book messages plus trades (one per element of a trade
    /// message), the unit gap-mm's backtester counts.
    pub market_events: usize,
    /// hftbacktest rows processed (after the order correction).
    pub events: usize,
    /// Rows before the order correction.
    pub raw_rows: usize,
    /// Bot wake-ups on a market message.
    pub feed_wakeups: u64,
    /// Bot wake-ups on an order response.
    pub response_wakeups: u64,
    /// Clock offset min(local − exchange) of the recording (ns).
    pub feed_offset_ns: i64,
    /// Added to every local time (ns).
    pub local_shift_ns: i64,
    /// Wall time to read, parse and convert the recording (s).
    pub convert_s: f64,
    /// Wall time to build the backtest (copy the rows, processors) (s).
    pub build_s: f64,
    /// Wall time of the backtest loop alone (s).
    pub run_s: f64,
    /// hftbacktest's own local state, for cross-checking.
    pub hbt_state: HbtState,
}

/// Runs the rule over already converted rows (`convert_s` is left 0).
pub fn run_events(rec: &Recording, p: &RefParams) -> Result<RefResult, String> {
    sim::run(rec, p)
}

/// Reads, converts and backtests the recording at `path`.
pub fn run_reference(path: &Path, p: &RefParams) -> Result<RefResult, String> {
    p.validate()?;
    let t = Instant::now();
    let rec = read_recording(path)?;
    let convert_s = t.elapsed().as_secs_f64();
    let mut r = run_events(&rec, p)?;
    r.convert_s = convert_s;
    Ok(r)
}
