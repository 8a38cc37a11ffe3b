//! Signal evaluation: how well the engine's gap signal, and a few simple
//! book predictors beside it, call the next mid moves of a recording.
//!
//! [`evaluate`] replays a [`Tape`] through the live book ([`Book::apply`])
//! and analytics ([`analytics::compute`]) and returns an [`EvalReport`];
//! `gapmm-hot eval` (`crate::commands::eval`) renders it.
//!
//! # Samples
//!
//! One sample per order-book message that leaves a valid two-sided book, at
//! the message's **engine time**: its local receive time (`local_ns`; an
//! archive line's exchange time stands in), the time the live engine would
//! have acted. The sample holds the book's state *after* that message, so it
//! uses only information available at that time. Stale deltas (`u` already
//! seen) leave the book as it was and are samples too, as they are updates
//! for the live engine. A recording's local clock may step back between
//! messages; the engine time is then held at the previous message's
//! (`clock_backsteps` counts these), so engine times never decrease.
//!
//! A message the book rejects while it is valid (a gap in update ids, a
//! crossed result) is a **break**: the book stays invalid, and messages are
//! skipped, until the next snapshot. A break, a skipped message or a book
//! with an empty side ends a **run** of samples; labels never reach from
//! one run into the next (the mid in between is unknown).
//!
//! # Labels
//!
//! For a sample at time `t` and a horizon `h`, the label is the mid **as of**
//! `t + h`: the mid of the last sample of the same run whose time is
//! `≤ t + h` (the sample itself if nothing newer came). A sample whose
//! `t + h` lies beyond the last sample of its run has no label and is left
//! out (`dropped`). The return is `(mid(t+h) − mid(t)) / mid(t)` in basis
//! points, from the mids in half ticks (exact integers); whether the mid
//! rose, fell or stayed **flat** is decided on the integers.
//!
//! # Predictors
//!
//! Each gives a score per sample (positive predicts up) and a direction
//! (−1, 0, +1); direction 0 is **no call**.
//!
//! - `gap`: the engine's signal. Score `0.5 − gap_prob_resistance_up`
//!   (contrarian: more resistance above predicts down); direction and
//!   bucket (UP/HIGH, UP/MED, NEUTRAL, DOWN/MED, DOWN/HIGH) from
//!   [`encode_signal`] on `gap_prob_resistance_up`, so the neutral band
//!   `0.499999 < p < 0.500001` is no call even though its score is not
//!   exactly 0.
//! - `tob_imbalance`: `(best bid size − best ask size) / (their sum)`.
//! - `depth5_imbalance`: [`crate::analytics::MarketMetrics::imbalance`], the
//!   same over the five best non-empty levels per side.
//! - `microprice`: microprice − mid, in ticks, where the microprice is
//!   `(bid·ask_size + ask·bid_size) / (bid_size + ask_size)`. That offset is
//!   `spread/2 · tob_imbalance` (computed exactly from integers, then as a
//!   ratio), so its sign, and therefore its calls, hits and misses, equal
//!   `tob_imbalance`'s whenever the spread is positive (always, on a valid
//!   book). Its rank IC differs: the spread scales the score.
//! - `random`: uniform in `[−1, 1]` from [`Prng`] seeded with the seed, one
//!   draw per sample: the same tape and seed give the same scores.
//! - `always_up`: +1. Its hit rate is the share of up moves among moves;
//!   its EV the mean return; its rank IC undefined (a constant score).
//!
//! # Statistics (per horizon, per predictor, and per bucket for `gap`)
//!
//! Over the labelled samples:
//!
//! - `n`: calls; `flat`: calls whose move was exactly 0, shown apart and
//!   counted neither as hits nor as misses; `hits` / `misses`: non-flat calls
//!   with / against the move; **hit rate** `hits / (hits + misses)`.
//! - A 95 % **moving-block bootstrap** interval of the hit rate
//!   ([`stats`]): `B` resamples (default 1000, seeded) of the labelled
//!   samples in blocks of `L = max(10, ceil(2·h·r))` consecutive samples,
//!   `r` the samples per second of the whole span, capped at `n/10` where
//!   `n` is the number of labelled samples (the report flags a capped
//!   block). Samples overlap through the horizon, so a block must span at
//!   least it. All predictors of a horizon share the block draws.
//! - **Rank IC**: Spearman's correlation of score and return over every
//!   labelled sample, ties at average ranks; `None` when a side is constant.
//! - **EV** in bps: the mean of `direction × return` over the calls, flat
//!   calls counting 0. A mid-to-mid move: no spread, fees or queue.
//! - The NEUTRAL bucket of `gap`: `n`, `flat` and the mean return only.
//!
//! Over all samples: **flips per second**, consecutive samples whose
//! direction differs (any change among −1, 0, +1) per second of span; and
//! the engine's [`Strategy`] (the configured parameters, inventory 0) fed
//! every sample with `on_market(bid, ask, mid, gap_prob_resistance_up,
//! exchange time)`: target bid changes and target ask changes per second,
//! the amends per second that quoting on every update would cost, beside
//! Bybit's amend limit.
//!
//! # Contract
//!
//! Research code, off the hot path. [`evaluate`] allocates (the samples and
//! per-horizon series grow with the tape), never blocks, reads no clock
//! (all times come from the recording) and is deterministic: the same tape,
//! configuration and seed give the same report. [`load`] blocks on file
//! I/O. Bad input is an [`EvalError`], never a panic. Prices stay integers
//! ([`Ticks`], [`HalfTicks`]); only scores, returns and ratios are `f64`.

pub mod report;
pub mod stats;

use std::fmt;
use std::path::Path;

use crate::analytics;
use crate::book::Book;
use crate::replay::{Tape, TapeError, TapeSpec};
use crate::sim::market::{mix, Prng};
use crate::strategy::{encode_signal, Confidence, Signal, Strategy, StrategyParams};
use crate::units::{HalfTicks, Ticks};

pub use report::{
    BucketReport, CallStats, EvalReport, FeedCounts, Flips, HorizonReport, NeutralReport,
    PredictorReport, Quoting,
};
pub use stats::{Bootstrap, Interval, Outcome};

/// The horizons `gapmm-hot eval` uses unless told otherwise.
pub const DEFAULT_HORIZONS: &str = "100ms,1s,5s,30s";

/// Bootstrap resamples unless told otherwise.
pub const DEFAULT_RESAMPLES: usize = 1000;

/// Why an evaluation could not run.
#[derive(Debug)]
pub enum EvalError {
    /// A horizon that does not parse, or is zero.
    BadHorizon {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same horizon twice.
    DuplicateHorizon {
        /// The second spelling.
        text: String,
    },
    /// No horizon at all.
    NoHorizons,
    /// A bootstrap needs at least one resample.
    NoResamples,
    /// The recording could not be loaded.
    Load(TapeError),
    /// No order-book message left a valid two-sided book.
    NoSamples {
        /// Book messages on the tape.
        book_messages: u64,
        /// Of which skipped because the book was invalid.
        skipped_invalid: u64,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::BadHorizon { text, reason } => {
                write!(f, "horizon {text:?}: {reason} (e.g. 100ms, 1s, 1.5s, 250us)")
            }
            EvalError::DuplicateHorizon { text } => write!(f, "horizon {text:?} is given twice"),
            EvalError::NoHorizons => f.write_str("no horizon given"),
            EvalError::NoResamples => f.write_str("the bootstrap needs at least one resample"),
            EvalError::Load(e) => write!(f, "{e}"),
            EvalError::NoSamples {
                book_messages,
                skipped_invalid,
            } => write!(
                f,
                "no sample: none of {book_messages} order-book messages left a valid two-sided book ({skipped_invalid} skipped without a snapshot)"
            ),
        }
    }
}

impl std::error::Error for EvalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EvalError::Load(e) => Some(e),
            _ => None,
        }
    }
}

/// A label horizon, in nanoseconds (positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Horizon(u64);

impl Horizon {
    /// A horizon of `ns` nanoseconds; `None` for 0.
    pub const fn from_ns(ns: u64) -> Option<Horizon> {
        if ns == 0 {
            None
        } else {
            Some(Horizon(ns))
        }
    }

    /// Nanoseconds.
    pub const fn ns(self) -> u64 {
        self.0
    }

    /// Seconds.
    pub fn secs(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Parses `100ms`, `1s`, `1.5s`, `250us` (also `µs`, `ns`, `m`/`min`):
    /// a decimal number and a unit, exact to the nanosecond.
    pub fn parse(text: &str) -> Result<Horizon, EvalError> {
        let bad = |reason| EvalError::BadHorizon {
            text: text.to_string(),
            reason,
        };
        let s = text.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("no unit (ns, us, ms, s, m)"))?;
        let (num, unit) = s.split_at(split);
        let unit_ns: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            _ => return Err(bad("unknown unit (ns, us, ms, s, m)")),
        };
        let (int, frac) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(bad("not a number"));
        }
        let too_big = || bad("too large");
        let whole: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| too_big())?
        };
        let mut ns = whole.checked_mul(unit_ns).ok_or_else(too_big)?;
        // The fraction in units of 10^-digits, scaled to ns exactly.
        let mut scale: u64 = 1;
        let mut fnum: u64 = 0;
        for d in frac.bytes() {
            scale = scale
                .checked_mul(10)
                .ok_or_else(|| bad("too many digits"))?;
            fnum = fnum * 10 + u64::from(d - b'0');
        }
        let fns = u128::from(fnum) * u128::from(unit_ns);
        if fns % u128::from(scale) != 0 {
            return Err(bad("finer than a nanosecond"));
        }
        let fns = u64::try_from(fns / u128::from(scale)).map_err(|_| too_big())?;
        ns = ns.checked_add(fns).ok_or_else(too_big)?;
        Horizon::from_ns(ns).ok_or_else(|| bad("must be positive"))
    }

    /// Parses a comma-separated list; duplicates and an empty list are errors.
    pub fn parse_list(text: &str) -> Result<Vec<Horizon>, EvalError> {
        let mut out: Vec<Horizon> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let h = Horizon::parse(part)?;
            if out.contains(&h) {
                return Err(EvalError::DuplicateHorizon {
                    text: part.to_string(),
                });
            }
            out.push(h);
        }
        if out.is_empty() {
            return Err(EvalError::NoHorizons);
        }
        Ok(out)
    }
}

impl fmt::Display for Horizon {
    /// The largest of s, ms, us, ns with a whole part, the fraction without
    /// trailing zeros: `1.5s`, `100ms`, `250us`, `7ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, name) = match self.0 {
            n if n >= 1_000_000_000 => (1_000_000_000u64, "s"),
            n if n >= 1_000_000 => (1_000_000, "ms"),
            n if n >= 1_000 => (1_000, "us"),
            _ => (1, "ns"),
        };
        let (whole, rest) = (self.0 / unit, self.0 % unit);
        if rest == 0 {
            return write!(f, "{whole}{name}");
        }
        let width = unit.ilog10() as usize;
        let frac = format!("{rest:0width$}");
        write!(f, "{whole}.{}{name}", frac.trim_end_matches('0'))
    }
}

/// The predictors, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Predictor {
    /// The engine's gap signal (contrarian).
    Gap,
    /// Best-level size imbalance.
    TobImbalance,
    /// Five-level depth imbalance.
    Depth5Imbalance,
    /// Microprice minus mid.
    Microprice,
    /// Seeded uniform noise.
    Random,
    /// Always up.
    AlwaysUp,
}

impl Predictor {
    /// Every predictor, in report order.
    pub const ALL: [Predictor; 6] = [
        Predictor::Gap,
        Predictor::TobImbalance,
        Predictor::Depth5Imbalance,
        Predictor::Microprice,
        Predictor::Random,
        Predictor::AlwaysUp,
    ];

    /// The report's name.
    pub const fn name(self) -> &'static str {
        match self {
            Predictor::Gap => "gap",
            Predictor::TobImbalance => "tob_imbalance",
            Predictor::Depth5Imbalance => "depth5_imbalance",
            Predictor::Microprice => "microprice",
            Predictor::Random => "random",
            Predictor::AlwaysUp => "always_up",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Predictor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The gap signal's directional buckets, in report order.
pub const GAP_BUCKETS: [(Signal, Confidence); 4] = [
    (Signal::Up, Confidence::High),
    (Signal::Up, Confidence::Med),
    (Signal::Down, Confidence::Med),
    (Signal::Down, Confidence::High),
];

/// What an evaluation runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    /// Label horizons, reported in this order.
    pub horizons: Vec<Horizon>,
    /// The engine strategy's parameters (for the quoting rates).
    pub strategy: StrategyParams,
    /// Seed of the random predictor and of the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples per horizon.
    pub resamples: usize,
}

impl EvalConfig {
    /// Horizons and strategy with seed 1 and [`DEFAULT_RESAMPLES`].
    pub fn new(horizons: Vec<Horizon>, strategy: StrategyParams) -> EvalConfig {
        EvalConfig {
            horizons,
            strategy,
            seed: 1,
            resamples: DEFAULT_RESAMPLES,
        }
    }
}

/// Loads recordings for an evaluation (a [`Tape::load`] whose error is an
/// [`EvalError::Load`]).
pub fn load<P: AsRef<Path>>(paths: &[P], spec: &TapeSpec) -> Result<Tape, EvalError> {
    Tape::load(paths, spec).map_err(EvalError::Load)
}

/// One sample: the engine time and the book's state after the message.
#[derive(Debug, Clone, Copy)]
struct Sample {
    t: u64,
    run: u32,
    mid: HalfTicks,
    score: [f64; 6],
    dir: [i8; 6],
    /// The gap signal's bucket: its index in [`GAP_BUCKETS`], or `None` if neutral.
    bucket: Option<u8>,
}

fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// The samples, the feed counts and the strategy's quoting.
fn collect(tape: &Tape, cfg: &EvalConfig) -> (Vec<Sample>, FeedCounts, Quoting) {
    let mut book = Book::new(crate::backtest::BOOK);
    let mut rng = Prng::new(cfg.seed);
    let mut strategy = Strategy::new(cfg.strategy);
    let mut counts = FeedCounts::default();
    let mut quoting = Quoting {
        amend_limit_per_sec: crate::limits::default_limit(crate::limits::Endpoint::Amend, None),
        ..Quoting::default()
    };
    let mut samples: Vec<Sample> = Vec::new();
    let mut clock: Option<u64> = None;
    let mut in_run = false;
    let mut run: u32 = 0;
    let mut last_target: Option<(Ticks, Ticks)> = None;
    for ev in tape.events() {
        let Some(update) = tape.book(ev) else {
            continue;
        };
        counts.book_messages += 1;
        let t = match clock {
            Some(prev) if ev.local_ns < prev => {
                counts.clock_backsteps += 1;
                prev
            }
            _ => ev.local_ns,
        };
        clock = Some(t);
        let was_valid = book.is_valid();
        if book.apply(&update).is_err() {
            if was_valid {
                counts.breaks += 1;
            } else {
                counts.skipped_invalid += 1;
            }
            in_run = false;
            continue;
        }
        let metrics = analytics::compute(&book, ev.exch);
        let (Some(m), Some(best_bid), Some(best_ask)) = (metrics, book.best_bid(), book.best_ask())
        else {
            counts.one_sided += 1;
            in_run = false;
            continue;
        };
        if m.bid.0 <= 0 {
            counts.one_sided += 1;
            in_run = false;
            continue;
        }
        if !in_run && !samples.is_empty() {
            run += 1;
        }
        in_run = true;
        let sample = score_sample(
            t,
            run,
            &m,
            best_bid.qty.0,
            best_ask.qty.0,
            next_uniform(&mut rng),
        );
        samples.push(sample);
        match strategy.on_market(m.bid, m.ask, m.mid, m.gap_prob_resistance_up, ev.exch) {
            Ok(target) => {
                if let Some((b, a)) = last_target {
                    quoting.bid_changes += u64::from(b != target.bid);
                    quoting.ask_changes += u64::from(a != target.ask);
                }
                last_target = Some((target.bid, target.ask));
            }
            Err(_) => quoting.rejected += 1,
        }
    }
    counts.samples = samples.len() as u64;
    counts.runs = samples.last().map_or(0, |s| u64::from(s.run) + 1);
    (samples, counts, quoting)
}

/// A uniform draw in `[−1, 1]` (53 random bits).
fn next_uniform(rng: &mut Prng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Every predictor's score and direction for one book state.
fn score_sample(
    t: u64,
    run: u32,
    m: &analytics::MarketMetrics,
    bid_qty: i64,
    ask_qty: i64,
    uniform: f64,
) -> Sample {
    let p = m.gap_prob_resistance_up;
    let (signal, conf) = encode_signal(p);
    let bucket = GAP_BUCKETS
        .iter()
        .position(|&b| b == (signal, conf))
        .map(|i| i as u8);
    let (bq, aq) = (i128::from(bid_qty), i128::from(ask_qty));
    let tob = if bq + aq > 0 {
        (bq - aq) as f64 / (bq + aq) as f64
    } else {
        0.0
    };
    // microprice − mid = spread · (bq − aq) / (2 (bq + aq)) ticks.
    let micro = if bq + aq > 0 {
        (i128::from(m.spread.0) * (bq - aq)) as f64 / (2 * (bq + aq)) as f64
    } else {
        0.0
    };
    let score = [0.5 - p, tob, m.imbalance, micro, uniform, 1.0];
    let mut dir = score.map(sign);
    dir[Predictor::Gap.index()] = signal.code();
    Sample {
        t,
        run,
        mid: m.mid,
        score,
        dir,
        bucket,
    }
}

/// Labels of one horizon: (sample index, label sample index) for every
/// labelled sample in time order, and how many were dropped.
fn labels(samples: &[Sample], h: Horizon) -> (Vec<(usize, usize)>, u64) {
    let mut out = Vec::with_capacity(samples.len());
    let mut dropped = 0u64;
    let mut start = 0;
    while start < samples.len() {
        let run = samples[start].run;
        let end = samples[start..]
            .iter()
            .position(|s| s.run != run)
            .map_or(samples.len(), |k| start + k);
        let last_t = samples[end - 1].t;
        let mut j = start;
        for i in start..end {
            let target = samples[i].t.saturating_add(h.ns());
            if target > last_t {
                dropped += (end - i) as u64;
                break;
            }
            while j + 1 < end && samples[j + 1].t <= target {
                j += 1;
            }
            out.push((i, j));
        }
        start = end;
    }
    (out, dropped)
}

/// Counts and EV of one set of calls; `series` gets one outcome per
/// labelled sample.
fn call_stats(
    dirs: impl Iterator<Item = i8>,
    moves: &[i8],
    rets: &[f64],
    series: &mut Vec<Outcome>,
) -> CallStats {
    let mut c = CallStats::default();
    let mut ev_sum = 0.0;
    series.clear();
    for ((d, &mv), &r) in dirs.zip(moves).zip(rets) {
        if d == 0 {
            series.push(Outcome::Neither);
            continue;
        }
        c.n += 1;
        ev_sum += f64::from(d) * r;
        let o = match d * mv {
            0 => {
                c.flat += 1;
                Outcome::Neither
            }
            x if x > 0 => {
                c.hits += 1;
                Outcome::Hit
            }
            _ => {
                c.misses += 1;
                Outcome::Miss
            }
        };
        series.push(o);
    }
    let decided = c.hits + c.misses;
    c.hit_rate = (decided > 0).then(|| c.hits as f64 / decided as f64);
    c.ev_bps = (c.n > 0).then(|| ev_sum / c.n as f64);
    c
}

fn horizon_report(
    samples: &[Sample],
    h: Horizon,
    cfg: &EvalConfig,
    samples_per_sec: Option<f64>,
) -> HorizonReport {
    let (pairs, dropped) = labels(samples, h);
    let mut moves = Vec::with_capacity(pairs.len());
    let mut rets = Vec::with_capacity(pairs.len());
    for &(i, j) in &pairs {
        let (a, b) = (samples[i].mid.0, samples[j].mid.0);
        moves.push((b.cmp(&a)) as i8);
        // `collect` keeps only samples with a positive bid, so a > 0.
        rets.push((i128::from(b) - i128::from(a)) as f64 / a as f64 * 1e4);
    }
    let n = pairs.len();
    let (block_len, block_capped) = stats::block_len(h.ns(), samples_per_sec.unwrap_or(0.0), n);
    let ret_ranks = stats::average_ranks(&rets);
    let mut series: Vec<Vec<Outcome>> =
        Vec::with_capacity(Predictor::ALL.len() + GAP_BUCKETS.len());
    let mut predictors = Vec::with_capacity(Predictor::ALL.len());
    let mut scores = Vec::with_capacity(n);
    for p in Predictor::ALL {
        let k = p.index();
        let mut s = Vec::with_capacity(n);
        let calls = call_stats(
            pairs.iter().map(|&(i, _)| samples[i].dir[k]),
            &moves,
            &rets,
            &mut s,
        );
        series.push(s);
        scores.clear();
        scores.extend(pairs.iter().map(|&(i, _)| samples[i].score[k]));
        predictors.push(PredictorReport {
            predictor: p,
            calls,
            rank_ic: stats::rank_ic_with(&scores, &ret_ranks),
        });
    }
    let gap = Predictor::Gap.index();
    let mut gap_buckets = Vec::with_capacity(GAP_BUCKETS.len());
    for (b, &(signal, conf)) in GAP_BUCKETS.iter().enumerate() {
        let mut s = Vec::with_capacity(n);
        let calls = call_stats(
            pairs.iter().map(|&(i, _)| {
                let sm = &samples[i];
                if sm.bucket == Some(b as u8) {
                    sm.dir[gap]
                } else {
                    0
                }
            }),
            &moves,
            &rets,
            &mut s,
        );
        series.push(s);
        gap_buckets.push(BucketReport {
            signal,
            conf,
            calls,
        });
    }
    let mut gap_neutral = NeutralReport::default();
    let mut neutral_sum = 0.0;
    for (k, &(i, _)) in pairs.iter().enumerate() {
        if samples[i].bucket.is_none() {
            gap_neutral.n += 1;
            gap_neutral.flat += u64::from(moves[k] == 0);
            neutral_sum += rets[k];
        }
    }
    gap_neutral.mean_return_bps = (gap_neutral.n > 0).then(|| neutral_sum / gap_neutral.n as f64);
    let boot = Bootstrap {
        block: block_len,
        resamples: cfg.resamples,
        seed: mix(cfg.seed ^ mix(h.ns())),
    };
    let refs: Vec<&[Outcome]> = series.iter().map(Vec::as_slice).collect();
    let cis = boot.intervals(&refs);
    for (r, ci) in predictors
        .iter_mut()
        .map(|p| &mut p.calls)
        .chain(gap_buckets.iter_mut().map(|b| &mut b.calls))
        .zip(cis)
    {
        r.ci = ci;
    }
    HorizonReport {
        horizon: h,
        labelled: n as u64,
        dropped,
        up: moves.iter().filter(|&&m| m > 0).count() as u64,
        down: moves.iter().filter(|&&m| m < 0).count() as u64,
        flat: moves.iter().filter(|&&m| m == 0).count() as u64,
        mean_return_bps: (n > 0).then(|| rets.iter().sum::<f64>() / n as f64),
        block_len,
        block_capped,
        predictors,
        gap_buckets,
        gap_neutral,
    }
}

/// Evaluates every predictor on `tape` (see the module docs).
pub fn evaluate(tape: &Tape, cfg: &EvalConfig) -> Result<EvalReport, EvalError> {
    if cfg.horizons.is_empty() {
        return Err(EvalError::NoHorizons);
    }
    for (k, h) in cfg.horizons.iter().enumerate() {
        if cfg.horizons[..k].contains(h) {
            return Err(EvalError::DuplicateHorizon {
                text: h.to_string(),
            });
        }
    }
    if cfg.resamples == 0 {
        return Err(EvalError::NoResamples);
    }
    let (samples, feed, mut quoting) = collect(tape, cfg);
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Err(EvalError::NoSamples {
            book_messages: feed.book_messages,
            skipped_invalid: feed.skipped_invalid,
        });
    };
    let (first_ns, last_ns) = (first.t, last.t);
    let span_s = (last_ns - first_ns) as f64 / 1e9;
    let per_sec = |x: u64| (span_s > 0.0).then(|| x as f64 / span_s);
    quoting.bid_per_sec = per_sec(quoting.bid_changes);
    quoting.ask_per_sec = per_sec(quoting.ask_changes);
    let flips = Predictor::ALL
        .iter()
        .map(|&p| {
            let k = p.index();
            let n = samples
                .windows(2)
                .filter(|w| w[0].dir[k] != w[1].dir[k])
                .count() as u64;
            Flips {
                predictor: p,
                flips: n,
                per_sec: per_sec(n),
            }
        })
        .collect();
    let samples_per_sec = per_sec(samples.len() as u64);
    let horizons = cfg
        .horizons
        .iter()
        .map(|&h| horizon_report(&samples, h, cfg, samples_per_sec))
        .collect();
    Ok(EvalReport {
        symbol: tape.symbol().as_str().to_string(),
        files: tape
            .files()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        price_step: tape.price_step().to_string(),
        qty_step: tape.qty_step().to_string(),
        seed: cfg.seed,
        resamples: cfg.resamples,
        feed,
        first_ns,
        last_ns,
        span_s,
        samples_per_sec,
        flips,
        quoting,
        horizons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizons_parse_exactly_and_print_canonically() {
        let ns = |s: &str| Horizon::parse(s).unwrap().ns();
        assert_eq!(ns("100ms"), 100_000_000);
        assert_eq!(ns("1s"), 1_000_000_000);
        assert_eq!(ns("1.5s"), 1_500_000_000);
        assert_eq!(ns("250us"), 250_000);
        assert_eq!(ns("250µs"), 250_000);
        assert_eq!(ns(" 30s "), 30_000_000_000);
        assert_eq!(ns(".5s"), 500_000_000);
        assert_eq!(ns("2m"), 120_000_000_000);
        assert_eq!(ns("0.000000001s"), 1);
        for (t, shown) in [
            ("1.5s", "1.5s"),
            ("1500ms", "1.5s"),
            ("100ms", "100ms"),
            ("0.25s", "250ms"),
            ("250us", "250us"),
            ("1m", "60s"),
            ("1.000001ms", "1.000001ms"),
            ("7ns", "7ns"),
        ] {
            assert_eq!(Horizon::parse(t).unwrap().to_string(), shown, "{t}");
        }
        let list = Horizon::parse_list("100ms, 1s,5s,30s").unwrap();
        assert_eq!(
            list.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            ["100ms", "1s", "5s", "30s"]
        );
    }

    #[test]
    fn bad_horizons_are_typed_errors_naming_the_text() {
        for bad in [
            "",
            "1",
            "s",
            "1x",
            "-1s",
            "1.2.3s",
            "0s",
            "0.0ms",
            "1.5ns",
            "1e3ms",
            "ms1",
            "99999999999999999999s",
            "1 hour",
        ] {
            match Horizon::parse(bad) {
                Err(EvalError::BadHorizon { text, .. }) => assert_eq!(text, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(matches!(
            Horizon::parse_list("1s,1000ms"),
            Err(EvalError::DuplicateHorizon { text }) if text == "1000ms"
        ));
        assert!(matches!(
            Horizon::parse_list(" , "),
            Err(EvalError::NoHorizons)
        ));
        let e = Horizon::parse_list("1s,fast").unwrap_err().to_string();
        assert!(e.contains("\"fast\""), "{e}");
    }

    fn sample(t: u64, run: u32) -> Sample {
        Sample {
            t,
            run,
            mid: HalfTicks(200),
            score: [0.0; 6],
            dir: [0; 6],
            bucket: None,
        }
    }

    #[test]
    fn labels_are_as_of_within_a_run_and_drop_the_tail() {
        // Run 0 at 0, 3, 10, 14 ns; run 1 at 20, 25 ns. Horizon 10 ns.
        let s = [
            sample(0, 0),
            sample(3, 0),
            sample(10, 0),
            sample(14, 0),
            sample(20, 1),
            sample(25, 1),
        ];
        let (pairs, dropped) = labels(&s, Horizon::from_ns(10).unwrap());
        // 0 → as of 10: sample 2 (10 ≤ 10 counts); 3 → as of 13: still
        // sample 2 (14 is later); 10 → 20 > 14, the run's last: dropped, and
        // 14 too; run 1 never reaches into run 0 or beyond 25: 20 → 30 and
        // 25 → 35 are dropped.
        assert_eq!(pairs, vec![(0, 2), (1, 2)]);
        assert_eq!(dropped, 4);
        // A horizon shorter than the next gap labels a sample with itself.
        let (pairs, dropped) = labels(&s, Horizon::from_ns(1).unwrap());
        assert_eq!(pairs, vec![(0, 0), (1, 1), (2, 2), (4, 4)]);
        assert_eq!(dropped, 2);
    }
}
