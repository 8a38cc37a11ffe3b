//! Strategy math: the gap signal, skewed quotes and an inventory-aware
//! reservation price.
//!
//! Contract: everything here is pure arithmetic on caller-owned values. No
//! function allocates, blocks, makes a syscall, reads a clock or panics
//! (integer arithmetic saturates; float-to-integer conversions use Rust's
//! saturating `as`). Prices are integers throughout: [`Ticks`] on the grid,
//! [`HalfTicks`] for a mid, [`MilliTicks`] for the reservation price, which may
//! sit anywhere between ticks. Only ratios and statistics are `f64`. The one
//! notion of time is the exchange timestamp handed to
//! [`Strategy::on_market`], used solely to reject out-of-order updates.
//!
//! Layout:
//! - [`signal`]: gap score → ([`Signal`], [`Confidence`]), the original's table.
//! - [`quotes`]: a mid plus the signal → bid/ask on the tick grid
//!   (half-to-even rounding, see the module doc).
//! - [`reservation`]: `mid + alpha(score) − γ·max(σ², σ²_floor)·q`, with the
//!   EWMA volatility estimator and defaults that keep a full position from
//!   growing.
//!
//! [`Strategy`] glues them together for the engine: one call per book update.

pub mod quotes;
pub mod reservation;
pub mod signal;

use std::fmt;

use crate::time::ExchMs;
use crate::units::{HalfTicks, Lots, Ticks};

pub use quotes::{calculate_quotes, QuoteEdges, Quotes};
pub use reservation::{AlphaModel, ReservationParams, VolEstimator, VolParams};
pub use signal::{encode_signal, Confidence, Signal};

/// What was wrong with a strategy parameter or input. Returned before any
/// state changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyError {
    /// Quote edges must satisfy `1 <= tight <= wide <= QuoteEdges::MAX_EDGE`.
    BadEdges,
    /// A numeric parameter is out of range; the context names it.
    BadParam(&'static str),
    /// The best bid is not strictly below the best ask.
    CrossedBook,
    /// The mid handed in lies outside `[best bid, best ask]`.
    MidOutsideBook,
    /// An update older than the previous one.
    OutOfOrder,
    /// A price that must be positive was zero or negative.
    NonPositivePrice,
    /// A quantity that must be non-negative was negative.
    NegativeQuantity,
    /// A basis-point figure was NaN or infinite.
    NonFiniteBps,
}

impl fmt::Display for StrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyError::BadEdges => {
                f.write_str("quote edges must satisfy 1 <= tight <= wide <= 1000000 ticks")
            }
            StrategyError::BadParam(what) => write!(f, "strategy parameter out of range: {what}"),
            StrategyError::CrossedBook => f.write_str("best bid is not below best ask"),
            StrategyError::MidOutsideBook => f.write_str("mid lies outside the best bid/ask"),
            StrategyError::OutOfOrder => f.write_str("market update older than the previous one"),
            StrategyError::NonPositivePrice => f.write_str("price must be positive"),
            StrategyError::NegativeQuantity => f.write_str("quantity must not be negative"),
            StrategyError::NonFiniteBps => f.write_str("basis points must be finite"),
        }
    }
}

impl std::error::Error for StrategyError {}

/// A price in thousandths of a tick: exact for every [`Ticks`] and
/// [`HalfTicks`] value and fine enough for a reservation price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MilliTicks(pub i64);

impl MilliTicks {
    /// Milliticks in one tick.
    pub const PER_TICK: i64 = 1000;

    /// A whole-tick price (saturating).
    #[inline]
    pub const fn from_ticks(t: Ticks) -> MilliTicks {
        MilliTicks(t.0.saturating_mul(Self::PER_TICK))
    }

    /// A half-tick price such as a mid (saturating).
    #[inline]
    pub const fn from_half_ticks(h: HalfTicks) -> MilliTicks {
        MilliTicks(h.0.saturating_mul(Self::PER_TICK / 2))
    }

    /// `self + ticks` (saturating).
    #[inline]
    pub const fn plus_ticks(self, ticks: i64) -> MilliTicks {
        MilliTicks(self.0.saturating_add(ticks.saturating_mul(Self::PER_TICK)))
    }

    /// The nearest tick, ties to the even tick (the rounding the original's
    /// `round()` performs; see [`quotes`]).
    #[inline]
    pub const fn round_half_even(self) -> Ticks {
        let q = self.0.div_euclid(Self::PER_TICK);
        let r = self.0.rem_euclid(Self::PER_TICK);
        let half = Self::PER_TICK / 2;
        // q + 1 cannot overflow: q <= i64::MAX / 1000.
        if r > half || (r == half && q & 1 == 1) {
            Ticks(q + 1)
        } else {
            Ticks(q)
        }
    }

    /// The value in ticks as `f64`, for reporting only.
    pub fn as_ticks_f64(self) -> f64 {
        self.0 as f64 / Self::PER_TICK as f64
    }
}

impl From<Ticks> for MilliTicks {
    #[inline]
    fn from(t: Ticks) -> MilliTicks {
        MilliTicks::from_ticks(t)
    }
}

impl From<HalfTicks> for MilliTicks {
    #[inline]
    fn from(h: HalfTicks) -> MilliTicks {
        MilliTicks::from_half_ticks(h)
    }
}

/// Everything [`Strategy`] is configured with; each part is validated when
/// it is built, so a `StrategyParams` is always usable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrategyParams {
    /// Tight and wide quote distances.
    pub edges: QuoteEdges,
    /// Alpha, risk aversion and σ² floor of the reservation price.
    pub reservation: ReservationParams,
    /// Smoothing of the volatility estimate.
    pub vol: VolParams,
}

impl StrategyParams {
    /// Half-life of the default volatility EWMA, in book updates.
    pub const DEFAULT_VOL_HALFLIFE_UPDATES: f64 = 100.0;

    /// The original system's behaviour: default edges, no alpha, no
    /// inventory penalty. Quotes then equal [`calculate_quotes`] at the raw mid.
    pub fn original() -> StrategyParams {
        StrategyParams {
            edges: QuoteEdges::default(),
            reservation: ReservationParams::off(),
            vol: VolParams::default(),
        }
    }

    /// Default edges (1 / 100 ticks), no alpha, and the inventory penalty of
    /// [`ReservationParams::default_for`]: at `|inventory| >= max_position`
    /// the side that would grow the position is never the tight one.
    pub fn default_for(max_position: Lots) -> Result<StrategyParams, StrategyError> {
        let edges = QuoteEdges::default();
        Ok(StrategyParams {
            edges,
            reservation: ReservationParams::for_limits(max_position, edges, AlphaModel::Off)?,
            vol: VolParams::default(),
        })
    }
}

/// The quotes the engine should work, plus the signal that produced them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Bid price; always strictly below the best ask.
    pub bid: Ticks,
    /// Ask price; always strictly above the best bid.
    pub ask: Ticks,
    /// Direction from the gap score.
    pub signal: Signal,
    /// Confidence from the gap score.
    pub conf: Confidence,
    /// The reservation price the quotes were centred on.
    pub reservation: MilliTicks,
}

/// Signal, reservation price and quotes for one instrument.
///
/// Per update: the volatility estimate takes the new mid, the reservation
/// price is formed from the mid, gap score, σ² and the inventory last given
/// to [`Strategy::set_inventory`], the quotes are centred on it, and finally
/// each side is kept from crossing the book (bid ≤ best ask − 1, ask ≥ best
/// bid + 1), so post-only orders are never rejected for crossing. With
/// [`StrategyParams::original`] that clamp never binds (tight edge ≥ 1 tick
/// and a valid book imply it), so the targets equal the original's.
#[derive(Debug, Clone)]
pub struct Strategy {
    params: StrategyParams,
    vol: VolEstimator,
    inventory: Lots,
    last_ts: Option<ExchMs>,
}

impl Strategy {
    /// A strategy with a flat position and an empty volatility estimate.
    pub fn new(params: StrategyParams) -> Strategy {
        Strategy {
            params,
            vol: VolEstimator::new(params.vol),
            inventory: Lots::ZERO,
            last_ts: None,
        }
    }

    /// The parameters this strategy runs with.
    pub fn params(&self) -> &StrategyParams {
        &self.params
    }

    /// Sets the signed net position in lots (positive = long).
    #[inline]
    pub fn set_inventory(&mut self, inventory: Lots) {
        self.inventory = inventory;
    }

    /// The position the next quotes will account for.
    pub fn inventory(&self) -> Lots {
        self.inventory
    }

    /// The current volatility estimate.
    pub fn vol(&self) -> &VolEstimator {
        &self.vol
    }

    /// Handles one market update and returns the target quotes.
    ///
    /// `bid`/`ask` are the best prices, `mid` the mid in half ticks
    /// (normally `HalfTicks::mid(bid, ask)`), `gap_score` the original's
    /// `gap_prob_resistance_up`, `ts` the exchange time. A crossed book, a mid
    /// outside the book, a non-positive bid or a timestamp older than the
    /// previous one is an error and changes nothing.
    #[inline]
    pub fn on_market(
        &mut self,
        bid: Ticks,
        ask: Ticks,
        mid: HalfTicks,
        gap_score: f64,
        ts: ExchMs,
    ) -> Result<Target, StrategyError> {
        if bid.0 <= 0 {
            return Err(StrategyError::NonPositivePrice);
        }
        if bid >= ask {
            return Err(StrategyError::CrossedBook);
        }
        if mid < HalfTicks(bid.0.saturating_mul(2)) || mid > HalfTicks(ask.0.saturating_mul(2)) {
            return Err(StrategyError::MidOutsideBook);
        }
        if matches!(self.last_ts, Some(prev) if ts < prev) {
            return Err(StrategyError::OutOfOrder);
        }
        self.last_ts = Some(ts);
        self.vol.update(mid);

        let (signal, conf) = encode_signal(gap_score);
        let reservation =
            self.params
                .reservation
                .reservation(mid, gap_score, self.vol.sigma2(), self.inventory);
        let q = calculate_quotes(reservation, signal, conf, self.params.edges);
        Ok(Target {
            bid: q.bid.min(ask - Ticks(1)),
            ask: q.ask.max(bid + Ticks(1)),
            signal,
            conf,
            reservation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn milliticks_round_half_even_at_ties_and_between() {
        let r = |m: i64| MilliTicks(m).round_half_even().0;
        assert_eq!(r(500), 0);
        assert_eq!(r(1500), 2);
        assert_eq!(r(2500), 2);
        assert_eq!(r(-500), 0);
        assert_eq!(r(-1500), -2);
        assert_eq!(r(-2500), -2);
        assert_eq!(r(499), 0);
        assert_eq!(r(501), 1);
        assert_eq!(r(-501), -1);
        assert_eq!(r(-499), 0);
        assert_eq!(r(7000), 7);
        assert_eq!(r(i64::MAX), i64::MAX / 1000 + 1);
        assert_eq!(r(i64::MIN), i64::MIN / 1000 - 1);
    }

    #[test]
    fn milliticks_from_half_ticks_is_exact() {
        assert_eq!(MilliTicks::from(HalfTicks(3)), MilliTicks(1500));
        assert_eq!(MilliTicks::from(Ticks(-2)), MilliTicks(-2000));
        assert_eq!(MilliTicks::from(HalfTicks(i64::MAX)), MilliTicks(i64::MAX));
    }

    #[test]
    fn bad_inputs_are_rejected_without_state_change() {
        let mut s = Strategy::new(StrategyParams::original());
        let ok = s.on_market(Ticks(100), Ticks(101), HalfTicks(201), 0.1, ExchMs(10));
        assert!(ok.is_ok());
        let samples = s.vol().samples();
        assert_eq!(
            s.on_market(Ticks(101), Ticks(101), HalfTicks(202), 0.1, ExchMs(11)),
            Err(StrategyError::CrossedBook)
        );
        assert_eq!(
            s.on_market(Ticks(100), Ticks(102), HalfTicks(205), 0.1, ExchMs(11)),
            Err(StrategyError::MidOutsideBook)
        );
        assert_eq!(
            s.on_market(Ticks(0), Ticks(102), HalfTicks(100), 0.1, ExchMs(11)),
            Err(StrategyError::NonPositivePrice)
        );
        assert_eq!(
            s.on_market(Ticks(100), Ticks(101), HalfTicks(201), 0.1, ExchMs(9)),
            Err(StrategyError::OutOfOrder)
        );
        assert_eq!(s.vol().samples(), samples);
        // Equal timestamps are fine (several updates per millisecond).
        assert!(s
            .on_market(Ticks(100), Ticks(101), HalfTicks(201), 0.1, ExchMs(10))
            .is_ok());
    }

    #[test]
    fn original_params_quote_like_the_original_on_a_one_tick_book() {
        // mid = 100.5 ticks, score 0.1 → UP/HIGH: bid = round(99.5) = 100
        // (ties to even), ask = round(100.5 + 100) = round(200.5) = 200.
        let mut s = Strategy::new(StrategyParams::original());
        let t = s
            .on_market(Ticks(100), Ticks(101), HalfTicks(201), 0.1, ExchMs(1))
            .unwrap();
        assert_eq!((t.bid, t.ask), (Ticks(100), Ticks(200)));
        assert_eq!((t.signal, t.conf), (Signal::Up, Confidence::High));
        assert_eq!(t.reservation, MilliTicks(100_500));
    }

    #[test]
    fn long_at_max_sells_at_the_touch_instead_of_crossing() {
        let max = Lots(10);
        let mut s = Strategy::new(StrategyParams::default_for(max).unwrap());
        s.set_inventory(max);
        // DOWN signal: tight ask, centred 99 ticks below mid → would cross; the
        // clamp keeps it one tick above the best bid, i.e. at the best ask.
        let t = s
            .on_market(Ticks(1000), Ticks(1001), HalfTicks(2001), 0.9, ExchMs(1))
            .unwrap();
        assert_eq!(t.ask, Ticks(1001));
        assert!(t.bid <= Ticks(1000 - 99));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// With the original's parameters the strategy (including its
        /// crossing clamp and volatility update) reproduces calculate_quotes
        /// at the raw mid for any valid book, score and inventory.
        #[test]
        fn original_params_reproduce_calculate_quotes(
            bid in 1i64..10_000_000_000,
            spread in 1i64..500,
            score in prop_oneof![0.0f64..1.0, Just(0.5), Just(0.3), Just(0.7), Just(f64::NAN)],
            inv in -1_000_000i64..1_000_000,
            warm in proptest::collection::vec(-50i64..50, 0..20),
        ) {
            let mut s = Strategy::new(StrategyParams::original());
            s.set_inventory(Lots(inv));
            for (i, d) in warm.iter().enumerate() {
                let b = Ticks(bid + d);
                if b.0 > 0 {
                    s.on_market(b, b + Ticks(1), HalfTicks::mid(b, b + Ticks(1)), 0.5, ExchMs(i as u64)).unwrap();
                }
            }
            let (b, a) = (Ticks(bid), Ticks(bid + spread));
            let mid = HalfTicks::mid(b, a);
            let t = s.on_market(b, a, mid, score, ExchMs(1000)).unwrap();
            let (sig, conf) = encode_signal(score);
            let q = calculate_quotes(mid, sig, conf, QuoteEdges::default());
            prop_assert_eq!((t.bid, t.ask), (q.bid, q.ask));
            prop_assert!(t.bid < a && t.ask > b);
        }

        /// End to end with the defaults: at ±max (after any volatility
        /// history) the side that would grow the position is never nearer
        /// the mid than the wide quote at the raw mid, and quotes never cross.
        #[test]
        fn default_strategy_never_grows_a_full_position_tightly(
            bid in 1i64..10_000_000_000,
            spread in 1i64..50,
            score in prop_oneof![0.0f64..1.0, Just(0.0), Just(1.0), Just(f64::NAN)],
            max in 1i64..100_000_000,
            long in any::<bool>(),
            warm in proptest::collection::vec(-20i64..20, 0..30),
        ) {
            let mut s = Strategy::new(StrategyParams::default_for(Lots(max)).unwrap());
            s.set_inventory(if long { Lots(max) } else { Lots(-max) });
            for (i, d) in warm.iter().enumerate() {
                let b = Ticks(bid + d);
                if b.0 > 0 {
                    s.on_market(b, b + Ticks(1), HalfTicks::mid(b, b + Ticks(1)), score, ExchMs(i as u64)).unwrap();
                }
            }
            let (b, a) = (Ticks(bid), Ticks(bid + spread));
            let mid = HalfTicks::mid(b, a);
            let t = s.on_market(b, a, mid, score, ExchMs(1000)).unwrap();
            let wide = calculate_quotes(mid, Signal::Neutral, Confidence::Low, QuoteEdges::default());
            if long {
                prop_assert!(t.bid <= wide.bid);
            } else {
                prop_assert!(t.ask >= wide.ask);
            }
            prop_assert!(t.bid < a && t.ask > b && t.bid < t.ask);
        }
    }
}
