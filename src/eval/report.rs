//! The signal report: plain data, every number [`super::evaluate`]
//! computed. Rendering (the text table, JSON) belongs to the command
//! (`crate::commands::eval`).
//!
//! Contract: plain data. Nothing here computes or reads a clock; only
//! [`BucketReport::name`] allocates (its label).

use super::stats::Interval;
use super::{Horizon, Predictor};
use crate::strategy::{Confidence, Signal};

/// How the recording turned into samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedCounts {
    /// Order-book messages on the tape.
    pub book_messages: u64,
    /// Messages that left a valid two-sided book: the samples.
    pub samples: u64,
    /// Sequence breaks: a message the book rejected while it was valid
    /// (a gap in update ids, a crossed result...). The book is invalid from
    /// there to the next snapshot.
    pub breaks: u64,
    /// Messages skipped while the book was invalid (deltas before the first
    /// snapshot or after a break).
    pub skipped_invalid: u64,
    /// Messages that left a valid book with an empty side (no mid).
    pub one_sided: u64,
    /// Messages whose local time was earlier than the previous message's;
    /// their engine time is the previous one's (see the module docs).
    pub clock_backsteps: u64,
    /// Unbroken runs of samples (labels never cross from one to the next).
    pub runs: u64,
}

/// What the engine's strategy would have asked of the venue had it quoted
/// on every sample (inventory 0, no rate filter).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quoting {
    /// Samples where the target bid differed from the previous target's.
    pub bid_changes: u64,
    /// Samples where the target ask differed from the previous target's.
    pub ask_changes: u64,
    /// `bid_changes` per second of span (`None` for a zero span).
    pub bid_per_sec: Option<f64>,
    /// `ask_changes` per second of span.
    pub ask_per_sec: Option<f64>,
    /// Samples the strategy refused (an exchange time older than the
    /// previous one): no target, nothing counted.
    pub rejected: u64,
    /// Bybit's default amend limit per second and UID, for comparison.
    pub amend_limit_per_sec: u32,
}

/// A predictor's direction changes between consecutive samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flips {
    /// The predictor.
    pub predictor: Predictor,
    /// Consecutive samples whose direction (−1, 0, +1) differs.
    pub flips: u64,
    /// `flips` per second of span (`None` for a zero span).
    pub per_sec: Option<f64>,
}

/// Calls of one predictor (or one bucket) at one horizon.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CallStats {
    /// Calls: labelled samples with a non-zero direction.
    pub n: u64,
    /// Calls whose move was exactly zero (neither hit nor miss).
    pub flat: u64,
    /// Calls in the direction of the move.
    pub hits: u64,
    /// Calls against the move.
    pub misses: u64,
    /// `hits / (hits + misses)`; `None` without a non-flat call.
    pub hit_rate: Option<f64>,
    /// Moving-block bootstrap 95 % interval of `hit_rate`.
    pub ci: Option<Interval>,
    /// Mean of `direction × return` in bps over the calls (flat calls count
    /// as 0); `None` without a call.
    pub ev_bps: Option<f64>,
}

/// One predictor at one horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictorReport {
    /// The predictor.
    pub predictor: Predictor,
    /// Its calls.
    pub calls: CallStats,
    /// Spearman correlation of score and return over every labelled sample
    /// (calls or not); `None` when undefined (a constant side).
    pub rank_ic: Option<f64>,
}

/// One directional bucket of the gap signal at one horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketReport {
    /// Direction.
    pub signal: Signal,
    /// Confidence.
    pub conf: Confidence,
    /// Its calls.
    pub calls: CallStats,
}

impl BucketReport {
    /// `UP/HIGH`, `DOWN/MED`, ...
    pub fn name(&self) -> String {
        format!("{}/{}", self.signal.as_str(), self.conf.as_str())
    }
}

/// The gap signal's neutral bucket at one horizon: no call, so only how
/// many samples fell in it and what the mid then did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NeutralReport {
    /// Labelled samples with a neutral gap signal.
    pub n: u64,
    /// Of which the mid did not move.
    pub flat: u64,
    /// Their mean return in bps (`None` when `n` is 0).
    pub mean_return_bps: Option<f64>,
}

/// Everything at one horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizonReport {
    /// The horizon.
    pub horizon: Horizon,
    /// Samples with a label.
    pub labelled: u64,
    /// Samples left out: `t + h` lies beyond the last sample of their run.
    pub dropped: u64,
    /// Labelled samples whose mid then rose.
    pub up: u64,
    /// ... fell.
    pub down: u64,
    /// ... did not move.
    pub flat: u64,
    /// Mean return over the labelled samples, bps (`None` without any).
    pub mean_return_bps: Option<f64>,
    /// Bootstrap block length in samples.
    pub block_len: usize,
    /// Whether the `n / 10` cap shortened the blocks below the horizon rule
    /// (the intervals are then likely too narrow).
    pub block_capped: bool,
    /// One per predictor, in [`Predictor::ALL`] order.
    pub predictors: Vec<PredictorReport>,
    /// The gap signal's directional buckets: UP/HIGH, UP/MED, DOWN/MED, DOWN/HIGH.
    pub gap_buckets: Vec<BucketReport>,
    /// The gap signal's neutral bucket.
    pub gap_neutral: NeutralReport,
}

impl HorizonReport {
    /// The report of `p` at this horizon.
    pub fn predictor(&self, p: Predictor) -> Option<&PredictorReport> {
        self.predictors.iter().find(|r| r.predictor == p)
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// The symbol.
    pub symbol: String,
    /// The recordings.
    pub files: Vec<String>,
    /// Tick size the tape was decoded with.
    pub price_step: String,
    /// Quantity step the tape was decoded with.
    pub qty_step: String,
    /// Seed of the random predictor and of the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Samples and what was skipped.
    pub feed: FeedCounts,
    /// Engine time of the first sample, ns since the epoch.
    pub first_ns: u64,
    /// Engine time of the last sample.
    pub last_ns: u64,
    /// `last − first` in seconds.
    pub span_s: f64,
    /// Samples per second of span (`None` for a zero span).
    pub samples_per_sec: Option<f64>,
    /// Direction changes per predictor, in [`Predictor::ALL`] order.
    pub flips: Vec<Flips>,
    /// The engine strategy's target changes.
    pub quoting: Quoting,
    /// One per requested horizon, in the order requested.
    pub horizons: Vec<HorizonReport>,
}
