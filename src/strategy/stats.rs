//! Closed-position P&L, signal correctness and summary statistics, with the
//! original system's definitions.
//!
//! Contract: pure, allocation-free, never panics. [`SignalStats`] is a fixed
//! 32-byte accumulator (three counters and a sum) that never grows.
//!
//! Units:
//! - P&L of a closed position: exact integer **tick·lots**
//!   (`(exit − entry) · side · qty`); [`ClosedPnl::quote`] converts to quote
//!   currency for reports given the tick and lot steps.
//! - P&L in **basis points** of the entry price:
//!   `(exit − entry) / entry · 10 000 · side` (`f64`; the tick size cancels).
//! - Accuracy: percent of directional signals that were right,
//!   `correct / (correct + wrong) · 100`, 0 when there were none. Neutral
//!   signals are counted but excluded, as in the original.
//! - EV: summed bps per minute of elapsed time, 0 when no time has elapsed.
//! - A signal is right when the price then moved strictly in its direction;
//!   no move counts as wrong; a neutral signal is neither.

use super::signal::Signal;
use super::StrategyError;
use crate::time::ExchMs;
use crate::units::{HalfTicks, Lots, Side, Step, Ticks};

/// P&L of a closed position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedPnl {
    /// `(exit − entry) · side · qty` in tick·lots (exact).
    pub tick_lots: i128,
    /// `(exit − entry) / entry · 10 000 · side`.
    pub bps: f64,
}

impl ClosedPnl {
    /// The P&L in quote currency (`tick_lots · tick · lot`), for reporting.
    pub fn quote(&self, tick: Step, lot: Step) -> f64 {
        let units = tick.units() as f64 * lot.units() as f64;
        let scale = i32::from(tick.scale()) + i32::from(lot.scale());
        self.tick_lots as f64 * units / 10f64.powi(scale)
    }
}

/// P&L of a position opened at `entry` on `side` (Buy = long, Sell = short)
/// and closed at `exit`, for `qty` lots. The entry price must be positive and
/// the quantity non-negative.
#[inline]
pub fn closed_pnl(
    entry: Ticks,
    exit: Ticks,
    side: Side,
    qty: Lots,
) -> Result<ClosedPnl, StrategyError> {
    if entry.0 <= 0 {
        return Err(StrategyError::NonPositivePrice);
    }
    if qty.0 < 0 {
        return Err(StrategyError::NegativeQuantity);
    }
    let change = i128::from(exit.0) - i128::from(entry.0);
    let sign = side.sign();
    Ok(ClosedPnl {
        tick_lots: change * i128::from(sign) * i128::from(qty.0),
        bps: (change as f64 / entry.0 as f64) * 10_000.0 * sign as f64,
    })
}

/// Whether a signal called the next price move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalOutcome {
    /// The price moved strictly in the signalled direction.
    Correct,
    /// It moved the other way or not at all.
    Wrong,
    /// The signal was neutral.
    Neutral,
}

impl SignalOutcome {
    /// The original's code: Correct = 1, Wrong = −1, Neutral = 0.
    pub const fn code(self) -> i8 {
        match self {
            SignalOutcome::Correct => 1,
            SignalOutcome::Wrong => -1,
            SignalOutcome::Neutral => 0,
        }
    }
}

/// Grades `signal` against the subsequent mid change (half ticks; only the
/// sign matters).
#[inline]
pub fn check_signal(signal: Signal, price_change: HalfTicks) -> SignalOutcome {
    match signal {
        Signal::Neutral => SignalOutcome::Neutral,
        Signal::Up if price_change.0 > 0 => SignalOutcome::Correct,
        Signal::Down if price_change.0 < 0 => SignalOutcome::Correct,
        _ => SignalOutcome::Wrong,
    }
}

/// Accuracy and expected value over a set of signals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalSummary {
    /// Percent of directional signals that were right (0 if none).
    pub accuracy_pct: f64,
    /// Summed bps per minute (0 if no time elapsed).
    pub ev_bps_per_min: f64,
}

/// The original's statistics from counts: `neutral` is accepted for the
/// same shape but does not enter either figure. Non-positive or NaN
/// `time_minutes` gives an EV of 0.
#[inline]
pub fn calculate_statistics(
    correct: u64,
    wrong: u64,
    neutral: u64,
    total_bps: f64,
    time_minutes: f64,
) -> SignalSummary {
    let _ = neutral;
    let directional = correct.saturating_add(wrong);
    let accuracy_pct = if directional > 0 {
        correct as f64 / directional as f64 * 100.0
    } else {
        0.0
    };
    let ev_bps_per_min = if time_minutes > 0.0 {
        total_bps / time_minutes
    } else {
        0.0
    };
    SignalSummary {
        accuracy_pct,
        ev_bps_per_min,
    }
}

/// Running counts and bps sum for [`calculate_statistics`]; fixed size.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SignalStats {
    correct: u64,
    wrong: u64,
    neutral: u64,
    total_bps: f64,
}

impl SignalStats {
    /// Empty statistics.
    pub const fn new() -> SignalStats {
        SignalStats {
            correct: 0,
            wrong: 0,
            neutral: 0,
            total_bps: 0.0,
        }
    }

    /// Adds one graded signal and the bps it earned. Non-finite bps is an
    /// error and records nothing.
    #[inline]
    pub fn record(&mut self, outcome: SignalOutcome, bps: f64) -> Result<(), StrategyError> {
        if !bps.is_finite() {
            return Err(StrategyError::NonFiniteBps);
        }
        match outcome {
            SignalOutcome::Correct => self.correct = self.correct.saturating_add(1),
            SignalOutcome::Wrong => self.wrong = self.wrong.saturating_add(1),
            SignalOutcome::Neutral => self.neutral = self.neutral.saturating_add(1),
        }
        self.total_bps += bps;
        Ok(())
    }

    /// Grades `signal` by the mid move from `entry` to `exit` and records the
    /// bps of a position taken in the signal's direction (Up = long,
    /// Down = short; neutral takes none and earns 0). `entry` must be
    /// positive.
    #[inline]
    pub fn record_move(
        &mut self,
        signal: Signal,
        entry: HalfTicks,
        exit: HalfTicks,
    ) -> Result<SignalOutcome, StrategyError> {
        if entry.0 <= 0 {
            return Err(StrategyError::NonPositivePrice);
        }
        let outcome = check_signal(signal, exit - entry);
        let dir = f64::from(signal.code());
        let change = (i128::from(exit.0) - i128::from(entry.0)) as f64;
        let bps = if dir == 0.0 {
            0.0
        } else {
            change / entry.0 as f64 * 10_000.0 * dir
        };
        self.record(outcome, bps)?;
        Ok(outcome)
    }

    /// Signals graded correct.
    pub fn correct(&self) -> u64 {
        self.correct
    }

    /// Signals graded wrong.
    pub fn wrong(&self) -> u64 {
        self.wrong
    }

    /// Neutral signals.
    pub fn neutral(&self) -> u64 {
        self.neutral
    }

    /// Sum of recorded bps.
    pub fn total_bps(&self) -> f64 {
        self.total_bps
    }

    /// Accuracy and EV over `time_minutes`.
    pub fn summary(&self, time_minutes: f64) -> SignalSummary {
        calculate_statistics(
            self.correct,
            self.wrong,
            self.neutral,
            self.total_bps,
            time_minutes,
        )
    }

    /// Accuracy and EV over the exchange-time span `start..end` (an empty
    /// or reversed span gives an EV of 0).
    pub fn summary_between(&self, start: ExchMs, end: ExchMs) -> SignalSummary {
        let ms = end.0.saturating_sub(start.0);
        self.summary(ms as f64 / 60_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pnl(entry: i64, exit: i64, side: Side, qty: i64) -> ClosedPnl {
        closed_pnl(Ticks(entry), Ticks(exit), side, Lots(qty)).unwrap()
    }

    #[test]
    fn pnl_long_short_profit_loss() {
        // Prices 100 → 101 with a tick of 1 and a lot of 1: 1 unit, 1% = 100 bps.
        assert_eq!(
            pnl(100, 101, Side::Buy, 1),
            ClosedPnl {
                tick_lots: 1,
                bps: 100.0
            }
        );
        assert_eq!(
            pnl(100, 99, Side::Buy, 1),
            ClosedPnl {
                tick_lots: -1,
                bps: -100.0
            }
        );
        assert_eq!(
            pnl(100, 99, Side::Sell, 1),
            ClosedPnl {
                tick_lots: 1,
                bps: 100.0
            }
        );
        assert_eq!(
            pnl(100, 101, Side::Sell, 1),
            ClosedPnl {
                tick_lots: -1,
                bps: -100.0
            }
        );
        assert_eq!(
            pnl(100, 100, Side::Buy, 1),
            ClosedPnl {
                tick_lots: 0,
                bps: 0.0
            }
        );
    }

    #[test]
    fn pnl_quantity_scales_amount_not_bps() {
        let one = pnl(100, 101, Side::Buy, 1);
        let five = pnl(100, 101, Side::Buy, 5);
        assert_eq!(five.tick_lots, 5 * one.tick_lots);
        assert_eq!(five.bps, one.bps);
    }

    #[test]
    fn pnl_bps_and_quote_with_real_steps() {
        // Tick 0.1, lot 0.001: long 3 lots (0.003) from 1000.0 to 1010.0
        // (10 000 → 10 100 ticks): 100 ticks · 3 lots = 300 tick·lots
        // = 10.0 · 0.003 = 0.03 quote; 1% = 100 bps.
        let p = pnl(10_000, 10_100, Side::Buy, 3);
        assert_eq!(p.tick_lots, 300);
        assert!((p.bps - 100.0).abs() < 1e-9);
        let q = p.quote(Step::parse("0.1").unwrap(), Step::parse("0.001").unwrap());
        assert!((q - 0.03).abs() < 1e-12);
        // Short from 250.0 to 247.5 with tick 0.5 (500 → 495): +1% = 100 bps.
        let p = pnl(500, 495, Side::Sell, 2);
        assert_eq!(p.tick_lots, 10);
        assert!((p.bps - 100.0).abs() < 1e-9);
    }

    #[test]
    fn pnl_rejects_bad_input() {
        assert_eq!(
            closed_pnl(Ticks(0), Ticks(1), Side::Buy, Lots(1)),
            Err(StrategyError::NonPositivePrice)
        );
        assert_eq!(
            closed_pnl(Ticks(1), Ticks(1), Side::Buy, Lots(-1)),
            Err(StrategyError::NegativeQuantity)
        );
        // Extreme but valid values do not overflow.
        let p = pnl(1, i64::MAX, Side::Buy, i64::MAX);
        assert_eq!(p.tick_lots, i128::from(i64::MAX - 1) * i128::from(i64::MAX));
    }

    #[test]
    fn signal_correctness_table() {
        use SignalOutcome::*;
        assert_eq!(check_signal(Signal::Up, HalfTicks(1)), Correct);
        assert_eq!(check_signal(Signal::Up, HalfTicks(-1)), Wrong);
        assert_eq!(check_signal(Signal::Down, HalfTicks(-1)), Correct);
        assert_eq!(check_signal(Signal::Down, HalfTicks(1)), Wrong);
        for d in [-1, 0, 1] {
            assert_eq!(check_signal(Signal::Neutral, HalfTicks(d)), Neutral);
        }
        // No move is wrong for either direction.
        assert_eq!(check_signal(Signal::Up, HalfTicks(0)), Wrong);
        assert_eq!(check_signal(Signal::Down, HalfTicks(0)), Wrong);
        assert_eq!((Correct.code(), Wrong.code(), Neutral.code()), (1, -1, 0));
    }

    #[test]
    fn statistics_from_counts() {
        // 3 right, 1 wrong, 2 neutral, 12 bps over 4 minutes → 75%, 3 bps/min.
        let s = calculate_statistics(3, 1, 2, 12.0, 4.0);
        assert_eq!(
            s,
            SignalSummary {
                accuracy_pct: 75.0,
                ev_bps_per_min: 3.0
            }
        );
        // No directional signal and no time: both 0.
        let s = calculate_statistics(0, 0, 5, 7.0, 0.0);
        assert_eq!(
            s,
            SignalSummary {
                accuracy_pct: 0.0,
                ev_bps_per_min: 0.0
            }
        );
        assert_eq!(
            calculate_statistics(1, 0, 0, 1.0, f64::NAN).ev_bps_per_min,
            0.0
        );
        assert_eq!(calculate_statistics(1, 0, 0, 1.0, -1.0).ev_bps_per_min, 0.0);
    }

    #[test]
    fn running_stats_hand_worked() {
        // Mids in half ticks, entry 200 (= 100 ticks):
        //  Up,   200 → 202: correct, +1 tick on 100 = +100 bps
        //  Down, 200 → 202: wrong,   short loses 100 bps
        //  Down, 200 → 199: correct, short gains 0.5/100 = +50 bps
        //  Up,   200 → 200: wrong,   0 bps
        //  Neutral, 200 → 210: neutral, 0 bps
        let mut st = SignalStats::new();
        let moves = [
            (Signal::Up, 202, SignalOutcome::Correct),
            (Signal::Down, 202, SignalOutcome::Wrong),
            (Signal::Down, 199, SignalOutcome::Correct),
            (Signal::Up, 200, SignalOutcome::Wrong),
            (Signal::Neutral, 210, SignalOutcome::Neutral),
        ];
        for (sig, exit, want) in moves {
            assert_eq!(
                st.record_move(sig, HalfTicks(200), HalfTicks(exit)),
                Ok(want)
            );
        }
        assert_eq!((st.correct(), st.wrong(), st.neutral()), (2, 2, 1));
        assert!((st.total_bps() - 50.0).abs() < 1e-9);
        // Over 2.5 minutes (150 000 ms): 50% and 20 bps/min.
        let s = st.summary_between(ExchMs(1_000), ExchMs(151_000));
        assert_eq!(s.accuracy_pct, 50.0);
        assert!((s.ev_bps_per_min - 20.0).abs() < 1e-9);
        assert_eq!(st.summary_between(ExchMs(5), ExchMs(1)).ev_bps_per_min, 0.0);
    }

    #[test]
    fn running_stats_reject_bad_input_without_change() {
        let mut st = SignalStats::new();
        st.record(SignalOutcome::Correct, 5.0).unwrap();
        let before = st;
        assert_eq!(
            st.record(SignalOutcome::Wrong, f64::NAN),
            Err(StrategyError::NonFiniteBps)
        );
        assert_eq!(
            st.record(SignalOutcome::Wrong, f64::INFINITY),
            Err(StrategyError::NonFiniteBps)
        );
        assert_eq!(
            st.record_move(Signal::Up, HalfTicks(0), HalfTicks(3)),
            Err(StrategyError::NonPositivePrice)
        );
        assert_eq!(st, before);
        assert_eq!(std::mem::size_of::<SignalStats>(), 32);
    }
}
