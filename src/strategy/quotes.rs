//! Skewed two-sided quotes around a (reservation) mid.
//!
//! Contract: pure, allocation-free, never panics (saturating arithmetic).
//!
//! With a directional signal at High or Med confidence, the side the signal
//! favours sits `tight` ticks from the mid and the other side `wide` ticks
//! from it: Up → tight bid, wide ask; Down → wide bid, tight ask. Neutral, or
//! Low confidence with any signal, puts both sides `wide` ticks away. The
//! defaults are the original's 1 and 100 ticks.
//!
//! # Rounding rule
//!
//! Each price is `mid ∓ edge` rounded to the nearest tick, **ties to the even
//! tick**. The original computes `round((mid − edge·tick) / tick)` inside a
//! Numba-compiled function, and Numba lowers one-argument `round` on a float
//! to LLVM's `rint`, which (like CPython's `round`) rounds half to even.
//! Ties occur exactly when the mid is on a half tick: for a one-tick book
//! `100 / 101` (mid 100.5) an Up quote has bid `round(99.5) = 100` and ask
//! `round(200.5) = 200`, while for `101 / 102` (mid 101.5) it has bid
//! `round(100.5) = 100` and ask `round(201.5) = 202`. So at a half-tick mid
//! the tight side is half a tick from the mid when that lands on an even tick
//! and one and a half ticks away otherwise.
//!
//! Here the arithmetic is exact (integer [`MilliTicks`]), so the rule is
//! applied to the true value. The original applies it to a binary float: for
//! ticks that are powers of two (1, 0.5, 0.25) that float is exact and the two
//! agree on every mid; for decimal ticks such as 0.1 or 0.01 the quotient
//! `(mid − edge·tick)/tick` at a half-tick mid lands a hair above or below
//! `.5`, and the original's result there is set by representation error
//! (over 400 000 quote prices from random half-tick mids with tick 0.1, the
//! float computation differed from exact half-to-even in about 11%, always by
//! one tick). Mids on whole ticks round identically in both.

use super::signal::{Confidence, Signal};
use super::{MilliTicks, StrategyError};
use crate::units::Ticks;

/// Distances of the tight and the wide side from the mid, in whole ticks.
/// Built only through [`QuoteEdges::new`] (or [`Default`]), which enforces
/// `1 <= tight <= wide <= MAX_EDGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuoteEdges {
    tight: u32,
    wide: u32,
}

impl QuoteEdges {
    /// Largest accepted edge, in ticks.
    pub const MAX_EDGE: u32 = 1_000_000;

    /// The original's edges: tight 1 tick, wide 100 ticks.
    pub const ORIGINAL: QuoteEdges = QuoteEdges {
        tight: 1,
        wide: 100,
    };

    /// Validated edges. A tight edge of 0 is refused because it would put
    /// both quotes on the mid.
    pub const fn new(tight_ticks: u32, wide_ticks: u32) -> Result<QuoteEdges, StrategyError> {
        if tight_ticks == 0 || tight_ticks > wide_ticks || wide_ticks > Self::MAX_EDGE {
            return Err(StrategyError::BadEdges);
        }
        Ok(QuoteEdges {
            tight: tight_ticks,
            wide: wide_ticks,
        })
    }

    /// Tight-side distance in ticks.
    #[inline]
    pub const fn tight_ticks(self) -> u32 {
        self.tight
    }

    /// Wide-side distance in ticks.
    #[inline]
    pub const fn wide_ticks(self) -> u32 {
        self.wide
    }

    /// `(bid_edge, ask_edge)` in ticks for a signal and confidence.
    #[inline]
    pub const fn for_signal(self, signal: Signal, conf: Confidence) -> (u32, u32) {
        match (conf, signal) {
            (Confidence::High | Confidence::Med, Signal::Up) => (self.tight, self.wide),
            (Confidence::High | Confidence::Med, Signal::Down) => (self.wide, self.tight),
            _ => (self.wide, self.wide),
        }
    }
}

impl Default for QuoteEdges {
    fn default() -> QuoteEdges {
        QuoteEdges::ORIGINAL
    }
}

/// Quote prices on the tick grid with the edges that produced them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotes {
    /// Bid price.
    pub bid: Ticks,
    /// Ask price.
    pub ask: Ticks,
    /// Bid distance from the mid before rounding, in ticks.
    pub bid_edge: u32,
    /// Ask distance from the mid before rounding, in ticks.
    pub ask_edge: u32,
    /// `ask − bid` after rounding.
    pub spread_ticks: Ticks,
}

/// Quotes around `mid` (a [`MilliTicks`] reservation price, or a
/// [`crate::units::HalfTicks`] mid, or whole [`Ticks`]) for a signal; rounding
/// rule in the module doc.
#[inline]
pub fn calculate_quotes(
    mid: impl Into<MilliTicks>,
    signal: Signal,
    conf: Confidence,
    edges: QuoteEdges,
) -> Quotes {
    let mid: MilliTicks = mid.into();
    let (bid_edge, ask_edge) = edges.for_signal(signal, conf);
    let bid = mid.plus_ticks(-i64::from(bid_edge)).round_half_even();
    let ask = mid.plus_ticks(i64::from(ask_edge)).round_half_even();
    Quotes {
        bid,
        ask,
        bid_edge,
        ask_edge,
        spread_ticks: ask - bid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::HalfTicks;
    use proptest::prelude::*;
    use Confidence::*;
    use Signal::*;

    // Original's fixture: mid 90 000.0 with tick 0.10 = 900 000 ticks.
    const MID: HalfTicks = HalfTicks(1_800_000);
    const E: QuoteEdges = QuoteEdges::ORIGINAL;

    fn edges(s: Signal, c: Confidence) -> (u32, u32) {
        let q = calculate_quotes(MID, s, c, E);
        (q.bid_edge, q.ask_edge)
    }

    #[test]
    fn edges_for_each_signal_and_confidence() {
        assert_eq!(edges(Up, High), (1, 100));
        assert_eq!(edges(Up, Med), (1, 100));
        assert_eq!(edges(Down, High), (100, 1));
        assert_eq!(edges(Down, Med), (100, 1));
        assert_eq!(edges(Neutral, Low), (100, 100));
        assert_eq!(edges(Neutral, High), (100, 100));
        // Low confidence overrides a direction.
        assert_eq!(edges(Up, Low), (100, 100));
        assert_eq!(edges(Down, Low), (100, 100));
    }

    #[test]
    fn prices_at_a_whole_tick_mid() {
        let up = calculate_quotes(MID, Up, High, E);
        assert_eq!((up.bid, up.ask), (Ticks(899_999), Ticks(900_100)));
        assert_eq!(up.spread_ticks, Ticks(101));
        let down = calculate_quotes(MID, Down, High, E);
        assert_eq!((down.bid, down.ask), (Ticks(899_900), Ticks(900_001)));
        let n = calculate_quotes(MID, Neutral, Low, E);
        assert_eq!((n.bid, n.ask), (Ticks(899_900), Ticks(900_100)));
        assert_eq!(n.spread_ticks, Ticks(200));
    }

    #[test]
    fn half_tick_mids_round_ties_to_even() {
        // Book 100/101, mid 100.5: Up bid 99.5 → 100, ask 200.5 → 200.
        let q = calculate_quotes(HalfTicks(201), Up, Med, E);
        assert_eq!(
            (q.bid, q.ask, q.spread_ticks),
            (Ticks(100), Ticks(200), Ticks(100))
        );
        // Book 101/102, mid 101.5: Up bid 100.5 → 100, ask 201.5 → 202.
        let q = calculate_quotes(HalfTicks(203), Up, Med, E);
        assert_eq!(
            (q.bid, q.ask, q.spread_ticks),
            (Ticks(100), Ticks(202), Ticks(102))
        );
        // Down at mid 100.5: bid 0.5 → 0, ask 101.5 → 102.
        let q = calculate_quotes(HalfTicks(201), Down, High, E);
        assert_eq!((q.bid, q.ask), (Ticks(0), Ticks(102)));
        // Down at mid 101.5: bid 1.5 → 2, ask 102.5 → 102.
        let q = calculate_quotes(HalfTicks(203), Down, High, E);
        assert_eq!((q.bid, q.ask), (Ticks(2), Ticks(102)));
        // Negative half ticks tie to even too: mid -0.5, neutral → -100.5, 99.5.
        let q = calculate_quotes(HalfTicks(-1), Neutral, Low, E);
        assert_eq!((q.bid, q.ask), (Ticks(-100), Ticks(100)));
    }

    #[test]
    fn sub_tick_reservation_rounds_to_nearest() {
        // 100.499 ticks → tight bid 99.499 → 99; 100.501 → 99.501 → 100.
        assert_eq!(
            calculate_quotes(MilliTicks(100_499), Up, High, E).bid,
            Ticks(99)
        );
        assert_eq!(
            calculate_quotes(MilliTicks(100_501), Up, High, E).bid,
            Ticks(100)
        );
    }

    #[test]
    fn other_edges() {
        let e = QuoteEdges::new(3, 7).unwrap();
        let q = calculate_quotes(Ticks(50), Up, High, e);
        assert_eq!(
            (q.bid, q.ask, q.bid_edge, q.ask_edge),
            (Ticks(47), Ticks(57), 3, 7)
        );
        let q = calculate_quotes(HalfTicks(101), Down, Med, e); // mid 50.5
        assert_eq!((q.bid, q.ask), (Ticks(44), Ticks(54))); // 43.5→44, 53.5→54
        let same = QuoteEdges::new(5, 5).unwrap();
        let q = calculate_quotes(Ticks(50), Up, High, same);
        assert_eq!((q.bid, q.ask), (Ticks(45), Ticks(55)));
    }

    #[test]
    fn edge_validation() {
        assert_eq!(QuoteEdges::new(0, 100), Err(StrategyError::BadEdges));
        assert_eq!(QuoteEdges::new(101, 100), Err(StrategyError::BadEdges));
        assert_eq!(
            QuoteEdges::new(1, QuoteEdges::MAX_EDGE + 1),
            Err(StrategyError::BadEdges)
        );
        assert_eq!(QuoteEdges::new(1, 100), Ok(QuoteEdges::default()));
    }

    #[test]
    fn extreme_mids_saturate_instead_of_panicking() {
        let q = calculate_quotes(MilliTicks(i64::MAX), Neutral, Low, E);
        assert!(q.bid < q.ask);
        let q = calculate_quotes(MilliTicks(i64::MIN), Neutral, Low, E);
        assert!(q.bid < q.ask);
    }

    /// Half-to-even reference written independently on f64 halves: for |m|
    /// below 2^50 half ticks every value x = m/2 is exact, and
    /// `round_ties_even` is the IEEE operation the original's `rint` is.
    fn reference(mid: i64, edge: i64, sign: i64) -> i64 {
        (mid as f64 / 2.0 + (sign * edge) as f64).round_ties_even() as i64
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn matches_ties_even_reference_and_stays_on_the_right_side(
            mid in -(1i64 << 48)..(1i64 << 48),
            tight in 1u32..50,
            extra in 0u32..500,
            sig in prop_oneof![Just(Up), Just(Down), Just(Neutral)],
            conf in prop_oneof![Just(High), Just(Med), Just(Low)],
        ) {
            let e = QuoteEdges::new(tight, tight + extra).unwrap();
            let q = calculate_quotes(HalfTicks(mid), sig, conf, e);
            prop_assert_eq!(q.bid.0, reference(mid, i64::from(q.bid_edge), -1));
            prop_assert_eq!(q.ask.0, reference(mid, i64::from(q.ask_edge), 1));
            // Each side lies within half a tick of mid ∓ edge, so never
            // through the mid.
            prop_assert!(2 * q.bid.0 < mid && 2 * q.ask.0 > mid);
            prop_assert!((2 * q.bid.0 - (mid - 2 * i64::from(q.bid_edge))).abs() <= 1);
            prop_assert_eq!(q.spread_ticks, q.ask - q.bid);
        }
    }
}
