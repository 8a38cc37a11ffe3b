//! The gap score → (direction, confidence) table of the original system.
//!
//! Contract: pure, allocation-free, never panics; NaN maps to neutral.
//!
//! The score (`gap_prob_resistance_up`) is the share of ask-side liquidity
//! beyond the first gaps, in `[0, 1]`. It is read contrarian: a heavy ask side
//! is resistance above, so the expected move is down, and vice versa.
//!
//! | score                         | signal  | confidence |
//! |-------------------------------|---------|------------|
//! | `s > 0.7`                     | Down    | High       |
//! | `0.500001 <= s <= 0.7`        | Down    | Med        |
//! | `0.499999 < s < 0.500001`/NaN | Neutral | Low        |
//! | `0.3 <= s <= 0.499999`        | Up      | Med        |
//! | `s < 0.3`                     | Up      | High       |
//!
//! The comparisons are on `f64` literals exactly as the original wrote them
//! (so `0.7` itself is Med and `0.3` itself is Med).

use std::fmt;

/// Scores at or above this are [`Signal::Down`].
pub const DOWN_AT_OR_ABOVE: f64 = 0.500001;
/// Scores at or below this are [`Signal::Up`].
pub const UP_AT_OR_BELOW: f64 = 0.499999;
/// Down scores strictly above this are [`Confidence::High`].
pub const DOWN_HIGH_ABOVE: f64 = 0.7;
/// Up scores strictly below this are [`Confidence::High`].
pub const UP_HIGH_BELOW: f64 = 0.3;

/// Expected direction of the next price move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Price expected to rise: buy side is tight.
    Up,
    /// Price expected to fall: sell side is tight.
    Down,
    /// No view: both sides wide.
    Neutral,
}

impl Signal {
    /// The original's integer code: Up = 1, Down = −1, Neutral = 0.
    #[inline]
    pub const fn code(self) -> i8 {
        match self {
            Signal::Up => 1,
            Signal::Down => -1,
            Signal::Neutral => 0,
        }
    }

    /// Inverse of [`Signal::code`]; `None` for any other integer.
    pub const fn from_code(code: i8) -> Option<Signal> {
        match code {
            1 => Some(Signal::Up),
            -1 => Some(Signal::Down),
            0 => Some(Signal::Neutral),
            _ => None,
        }
    }

    /// The original's label: `UP`, `DOWN`, `NEUTRAL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Signal::Up => "UP",
            Signal::Down => "DOWN",
            Signal::Neutral => "NEUTRAL",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far the score is from balanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Confidence {
    /// Beyond 0.3 / 0.7.
    High,
    /// Between the neutral band and 0.3 / 0.7.
    Med,
    /// Neutral band (or NaN).
    Low,
}

impl Confidence {
    /// The original's integer code: High = 2, Med = 1, Low = 0.
    #[inline]
    pub const fn code(self) -> u8 {
        match self {
            Confidence::High => 2,
            Confidence::Med => 1,
            Confidence::Low => 0,
        }
    }

    /// Inverse of [`Confidence::code`]; `None` for any other integer.
    pub const fn from_code(code: u8) -> Option<Confidence> {
        match code {
            2 => Some(Confidence::High),
            1 => Some(Confidence::Med),
            0 => Some(Confidence::Low),
            _ => None,
        }
    }

    /// The original's label: `HIGH`, `MED`, `LOW`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "HIGH",
            Confidence::Med => "MED",
            Confidence::Low => "LOW",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Maps `gap_prob_resistance_up` to a direction and confidence (table in the
/// module doc). NaN gives `(Neutral, Low)`; ±∞ behave like 1 / 0.
#[inline]
pub fn encode_signal(gap_prob_resistance_up: f64) -> (Signal, Confidence) {
    let s = gap_prob_resistance_up;
    if s >= DOWN_AT_OR_ABOVE {
        let c = if s > DOWN_HIGH_ABOVE {
            Confidence::High
        } else {
            Confidence::Med
        };
        (Signal::Down, c)
    } else if s <= UP_AT_OR_BELOW {
        let c = if s < UP_HIGH_BELOW {
            Confidence::High
        } else {
            Confidence::Med
        };
        (Signal::Up, c)
    } else {
        (Signal::Neutral, Confidence::Low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Confidence::*;
    use Signal::*;

    #[test]
    fn contrarian_direction() {
        assert_eq!(encode_signal(0.9).0, Down);
        assert_eq!(encode_signal(0.1).0, Up);
        assert_eq!(encode_signal(0.5), (Neutral, Low));
        assert_eq!(encode_signal(0.501).0, Down);
        assert_eq!(encode_signal(0.499).0, Up);
    }

    #[test]
    fn confidence_levels() {
        assert_eq!(encode_signal(0.9), (Down, High));
        assert_eq!(encode_signal(0.1), (Up, High));
        assert_eq!(encode_signal(0.65), (Down, Med));
        assert_eq!(encode_signal(0.35), (Up, Med));
        assert_eq!(encode_signal(0.701), (Down, High));
        assert_eq!(encode_signal(0.699), (Down, Med));
        assert_eq!(encode_signal(0.299), (Up, High));
        assert_eq!(encode_signal(0.301), (Up, Med));
    }

    #[test]
    fn exact_thresholds() {
        // The neutral band is closed at neither end of its own: both its
        // edges belong to the directional signals.
        assert_eq!(encode_signal(0.500001), (Down, Med));
        assert_eq!(encode_signal(0.499999), (Up, Med));
        assert_eq!(encode_signal(0.5000009), (Neutral, Low));
        assert_eq!(encode_signal(0.4999991), (Neutral, Low));
        // 0.7 and 0.3 themselves are Med (strict comparisons).
        assert_eq!(encode_signal(0.7), (Down, Med));
        assert_eq!(encode_signal(0.3), (Up, Med));
        // The neighbouring doubles flip to High.
        assert_eq!(
            encode_signal(f64::from_bits(0.7f64.to_bits() + 1)),
            (Down, High)
        );
        assert_eq!(
            encode_signal(f64::from_bits(0.3f64.to_bits() - 1)),
            (Up, High)
        );
        assert_eq!(
            encode_signal(f64::from_bits(0.500001f64.to_bits() - 1)),
            (Neutral, Low)
        );
        assert_eq!(
            encode_signal(f64::from_bits(0.499999f64.to_bits() + 1)),
            (Neutral, Low)
        );
    }

    #[test]
    fn extremes_and_nan() {
        assert_eq!(encode_signal(0.0), (Up, High));
        assert_eq!(encode_signal(1.0), (Down, High));
        assert_eq!(encode_signal(f64::NAN), (Neutral, Low));
        assert_eq!(encode_signal(f64::INFINITY), (Down, High));
        assert_eq!(encode_signal(f64::NEG_INFINITY), (Up, High));
    }

    #[test]
    fn codes_match_the_original_and_round_trip() {
        assert_eq!((Up.code(), Down.code(), Neutral.code()), (1, -1, 0));
        assert_eq!((High.code(), Med.code(), Low.code()), (2, 1, 0));
        for s in [Up, Down, Neutral] {
            assert_eq!(Signal::from_code(s.code()), Some(s));
        }
        for c in [High, Med, Low] {
            assert_eq!(Confidence::from_code(c.code()), Some(c));
        }
        assert_eq!(Signal::from_code(2), None);
        assert_eq!(Confidence::from_code(3), None);
        assert_eq!(Down.to_string(), "DOWN");
        assert_eq!(Med.to_string(), "MED");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The table is symmetric: mirroring the score about 0.5 swaps Up and
        /// Down and keeps the confidence, away from the float-literal edges.
        #[test]
        fn mirror_symmetry(d in 0.000002f64..0.5) {
            prop_assume!((d - 0.2).abs() > 1e-12);
            let (up, cu) = encode_signal(0.5 - d);
            let (down, cd) = encode_signal(0.5 + d);
            prop_assert_eq!(up, Up);
            prop_assert_eq!(down, Down);
            prop_assert_eq!(cu, cd);
        }
    }
}
