//! The backtest: the live engine's own strategy and order manager, replayed
//! against a recording in simulated time.
//!
//! Nothing of the engine's decision path is re-implemented here. Each
//! recorded book message goes through the feed stage's analytics
//! ([`crate::engine::feed::analyse`], our own orders taken out of the book),
//! the strategy stage's quoting ([`crate::engine::strat::quote`] and its
//! [`crate::engine::strat::TargetFilter`]) and the order stage's hand-off to
//! the order manager ([`crate::engine::orders::decide`]); the
//! [`crate::strategy::Strategy`] and [`crate::oms::Oms`] are the live ones,
//! built from the same configuration ([`crate::engine::runtime`]). What the
//! order manager asks for travels to a simulated exchange ([`venue`]) after a
//! request latency; its answers come back as the manager's own inputs after
//! an answer or push latency ([`latency`]). The live feed's safety rules
//! apply too: a quiet feed (`GAPMM_STALE_MS`), a lagging one
//! (`GAPMM_MAX_LAG_MS`) and a sequence break pull the quotes.
//!
//! - [`queue`]: queue position models for our resting orders on L2 data.
//! - [`latency`]: feed and order latency models.
//! - [`venue`]: the exchange side: matching, Bybit's PostOnly and amend rules, fees.
//! - [`runner`]: the event loop.
//! - [`report`]: PnL, fills, markouts, drawdown; JSON.
//! - [`plot`]: PNG charts of a report.
//! - [`sweep`]: a grid of parameter sets, run in parallel.
//!
//! Contract: a replay is single-threaded and deterministic (the same tape,
//! settings and seed give the same report); it runs as fast as the CPU
//! allows, reads no clock but to time itself, and allocates only as its
//! logs grow.

pub mod latency;
pub mod plot;
pub mod queue;
pub mod report;
pub mod runner;
pub mod sweep;
pub mod venue;

use std::fmt;

use crate::oms::OmsConfig;
use crate::strategy::StrategyParams;
use crate::units::Lots;

pub use latency::{Dist, FeedLatency, OrderLatency};
pub use queue::QueueModel;
pub use report::Report;
pub use runner::run;
pub use venue::VenueConfig;

/// The sizing of the backtest's books: a wider ladder than the live
/// engine's default, so that the deep levels of a 200-level recording stay
/// in the ladder rather than in the overflow lists (storage only: the book's
/// contents and answers are the same for any sizing).
pub const BOOK: crate::book::BookConfig = crate::book::BookConfig {
    window_ticks: 1 << 16,
    overflow_capacity: 1024,
};

/// What decides the quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The engine's strategy (gap signal, reservation price, edges).
    Engine,
    /// Join the touch: bid at the best bid, ask at the best ask (the simple
    /// rule of the hftbacktest reference check). Orders still go through
    /// the order manager.
    Touch,
}

/// Everything one backtest runs with.
#[derive(Debug, Clone)]
pub struct BacktestConfig {
    /// The quoting rule.
    pub rule: Rule,
    /// The strategy's parameters (for [`Rule::Engine`]).
    pub strategy: StrategyParams,
    /// The order manager's settings (journal off).
    pub oms: OmsConfig,
    /// Quote size per side.
    pub quote_qty: Lots,
    /// The exchange side.
    pub venue: VenueConfig,
    /// Feed latency model.
    pub feed: FeedLatency,
    /// Feed latency for a recording without receive times (ns).
    pub archive_feed_ns: u64,
    /// Order path latencies.
    pub orders: OrderLatency,
    /// The feed's staleness limit (ns): no book message for this long pulls
    /// the quotes.
    pub stale_ns: u64,
    /// The feed's lag limit (ms): exchange time behind receive time by more
    /// than this pulls the quotes.
    pub max_lag_ms: u64,
    /// Resolution of the order manager's timer while it holds a decision
    /// (rate budget, update interval, back-off): ns between its ticks.
    pub timer_ns: u64,
    /// Seed of the latency sampling.
    pub seed: u64,
    /// Points kept of the equity/inventory path (at most about this many).
    pub path_points: usize,
    /// A one-line description for the report.
    pub label: String,
}

/// Why a backtest could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BacktestError {
    /// The settings are unusable; the text says which and why.
    Config(String),
    /// The recording has no events.
    Empty,
}

impl fmt::Display for BacktestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BacktestError::Config(s) => write!(f, "backtest settings: {s}"),
            BacktestError::Empty => f.write_str("the recording has no market events"),
        }
    }
}

impl std::error::Error for BacktestError {}
