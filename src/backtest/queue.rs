//! Queue position of our resting orders on L2 data.
//!
//! An L2 recording says how much rests at a price, not in which order. When
//! our order joins a level we take everything visible there as ahead of us
//! (we joined at the back). From then on:
//!
//! - **a trade at our price** on our side (a taker hitting it) takes the
//!   quantity ahead of us first; what it trades beyond that fills us;
//! - **the level shrinking without a trade** (cancels) is where the models
//!   differ. The part of a decrease that the trades since the last book
//!   message already explain is not counted twice;
//! - **the level growing** adds behind us; ahead of us can never exceed what
//!   rests at the level.
//!
//! Models of a cancel:
//! - [`QueueModel::RiskAverse`]: every cancel was behind us. We advance only
//!   through trades (and when the level shrinks below what we had ahead).
//!   The pessimistic bound.
//! - [`QueueModel::Power`]` { n }`: a share `a^n / (a^n + b^n)` of a cancel
//!   was ahead of us, with `a` ahead and `b` behind: the nearer the front we
//!   are, the likelier a cancel is behind us.
//! - [`QueueModel::PowerShare`]` { n }`: a share `(a / (a + b))^n` was ahead.
//!
//! The two power families are those hftbacktest's probabilistic queue models
//! use (its `PowerProbQueueFunc` and `PowerProbQueueFunc3`); `n` → ∞ tends to
//! the risk-averse model, `Power { n: 1 }` spreads cancels in proportion.
//!
//! Quantities ahead are `f64` lots: a statistical estimate, never a price.
//! Fills come out in whole lots. Contract: pure arithmetic, no allocation,
//! no panic; a NaN or negative input is treated as zero.

use std::fmt;

/// How cancels at our level are attributed (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QueueModel {
    /// Cancels are behind us.
    RiskAverse,
    /// Share ahead `a^n / (a^n + b^n)`.
    Power {
        /// The exponent.
        n: f64,
    },
    /// Share ahead `(a / (a + b))^n`.
    PowerShare {
        /// The exponent.
        n: f64,
    },
}

impl QueueModel {
    /// Parses `risk-averse`, `power:N` or `power-share:N` (`power` alone is
    /// `power:2`, `power-share` alone `power-share:3`).
    pub fn parse(s: &str) -> Result<QueueModel, String> {
        let (name, n) = match s.split_once(':') {
            Some((name, n)) => {
                let v: f64 = n
                    .trim()
                    .parse()
                    .map_err(|_| format!("queue model {s:?}: {n:?} is not a number"))?;
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("queue model {s:?}: the exponent must be positive"));
                }
                (name.trim(), Some(v))
            }
            None => (s.trim(), None),
        };
        match name {
            "risk-averse" if n.is_none() => Ok(QueueModel::RiskAverse),
            "power" => Ok(QueueModel::Power {
                n: n.unwrap_or(2.0),
            }),
            "power-share" => Ok(QueueModel::PowerShare {
                n: n.unwrap_or(3.0),
            }),
            _ => Err(format!(
                "queue model {s:?}: expected risk-averse, power[:N] or power-share[:N]"
            )),
        }
    }

    /// The share of a cancel taken to have been ahead of us, with `ahead`
    /// and `behind` resting around us.
    pub fn share_ahead(self, ahead: f64, behind: f64) -> f64 {
        let (a, b) = (clean(ahead), clean(behind));
        if a + b <= 0.0 {
            return 0.0;
        }
        let s = match self {
            QueueModel::RiskAverse => 0.0,
            QueueModel::Power { n } => {
                let (pa, pb) = (a.powf(n), b.powf(n));
                if pa.is_infinite() || pb.is_infinite() {
                    // Ratio of huge numbers: compare in log space instead.
                    let r = (n * (b.ln() - a.ln())).exp();
                    1.0 / (1.0 + r)
                } else if pa + pb > 0.0 {
                    pa / (pa + pb)
                } else {
                    0.0
                }
            }
            QueueModel::PowerShare { n } => (a / (a + b)).powf(n),
        };
        clean(s).min(1.0)
    }
}

impl fmt::Display for QueueModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueModel::RiskAverse => f.write_str("risk-averse"),
            QueueModel::Power { n } => write!(f, "power:{n}"),
            QueueModel::PowerShare { n } => write!(f, "power-share:{n}"),
        }
    }
}

fn clean(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 {
        x
    } else {
        0.0
    }
}

/// Our place in one level's queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueuePos {
    /// Lots estimated ahead of us.
    pub ahead: f64,
    /// Lots traded at our level since the level's last book message (the
    /// part of the next decrease that is already accounted for).
    traded: f64,
    /// Fractional lots traded past the front but not yet a whole lot.
    spill: f64,
}

impl QueuePos {
    /// Joining a level where `visible` lots rest: all of them are ahead.
    pub fn join(visible: i64) -> QueuePos {
        QueuePos {
            ahead: visible.max(0) as f64,
            traded: 0.0,
            spill: 0.0,
        }
    }

    /// A trade of `qty` lots at our price, against our side. Returns the
    /// whole lots it fills of ours (at most `leaves`).
    pub fn on_trade(&mut self, qty: i64, leaves: i64) -> i64 {
        let q = qty.max(0) as f64;
        self.traded += q;
        self.ahead -= q;
        if self.ahead >= 0.0 {
            return 0;
        }
        let past = -self.ahead + self.spill;
        self.ahead = 0.0;
        let fill = (past.floor() as i64).clamp(0, leaves.max(0));
        self.spill = if fill == leaves.max(0) {
            0.0
        } else {
            past - fill as f64
        };
        fill
    }

    /// A book message changed our level from `prev` to `new` lots.
    pub fn on_depth(&mut self, model: QueueModel, prev: i64, new: i64) {
        let (prev, new) = (prev.max(0) as f64, new.max(0) as f64);
        // The part of a decrease the trades already took off.
        let cancelled = prev - new - self.traded;
        self.traded = 0.0;
        if cancelled > 0.0 {
            let ahead = self.ahead.clamp(0.0, prev);
            let behind = (prev - ahead).max(0.0);
            let share = model.share_ahead(ahead, behind);
            let mut from_ahead = cancelled * share;
            // More cancelled than rested behind us: the rest was ahead.
            let from_behind = cancelled - from_ahead;
            if from_behind > behind {
                from_ahead += from_behind - behind;
            }
            self.ahead = ahead - from_ahead;
        }
        self.ahead = self.ahead.clamp(0.0, new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RA: QueueModel = QueueModel::RiskAverse;

    #[test]
    fn a_trade_takes_the_queue_ahead_first_then_fills_us() {
        let mut q = QueuePos::join(10);
        assert_eq!(q.on_trade(4, 5), 0);
        assert_eq!(q.ahead, 6.0);
        assert_eq!(q.on_trade(8, 5), 2, "6 ahead, 2 of ours");
        assert_eq!(q.ahead, 0.0);
        assert_eq!(q.on_trade(10, 3), 3, "capped at what rests");
    }

    #[test]
    fn a_level_traded_through_in_one_print_fills_us_whole() {
        let mut q = QueuePos::join(3);
        assert_eq!(q.on_trade(100, 5), 5);
    }

    #[test]
    fn the_depth_message_after_a_trade_does_not_count_it_twice() {
        let mut q = QueuePos::join(10);
        q.on_trade(4, 5);
        // The book then shows 10 → 6: the decrease is the trade, no cancel.
        q.on_depth(QueueModel::Power { n: 1.0 }, 10, 6);
        assert_eq!(q.ahead, 6.0);
    }

    #[test]
    fn risk_averse_takes_cancels_as_behind_us() {
        let mut q = QueuePos::join(10);
        // 10 → 4 with no trade: 6 cancelled; we assume behind us, but no
        // more than 4 can be ahead now.
        q.on_depth(RA, 10, 4);
        assert_eq!(q.ahead, 4.0);
        let mut q = QueuePos::join(10);
        q.ahead = 3.0;
        q.on_depth(RA, 20, 15);
        assert_eq!(q.ahead, 3.0, "a cancel behind us moves nothing");
    }

    #[test]
    fn a_cancel_ahead_of_us_moves_us_up_in_the_power_models() {
        // 10 ahead, 10 behind, 10 cancelled.
        for (model, want) in [
            (QueueModel::Power { n: 1.0 }, 5.0), // half ahead
            (QueueModel::Power { n: 2.0 }, 5.0), // symmetric: still half
            (QueueModel::PowerShare { n: 1.0 }, 5.0),
            (QueueModel::PowerShare { n: 2.0 }, 7.5), // (1/2)^2 = 1/4 ahead
        ] {
            let mut q = QueuePos::join(10);
            q.on_depth(model, 20, 10);
            assert!((q.ahead - want).abs() < 1e-9, "{model}: {}", q.ahead);
        }
        // Near the front (2 ahead, 18 behind): a cancel is mostly behind us.
        let mut q = QueuePos::join(2);
        q.on_depth(QueueModel::Power { n: 2.0 }, 20, 10);
        let share = 4.0 / (4.0 + 324.0);
        assert!((q.ahead - (2.0 - 10.0 * share)).abs() < 1e-9, "{}", q.ahead);
    }

    #[test]
    fn a_cancel_larger_than_the_queue_behind_us_must_have_been_ahead() {
        // 8 ahead, 2 behind, 6 cancelled: at least 4 of them were ahead.
        let mut q = QueuePos::join(8);
        q.on_depth(RA, 10, 4);
        assert_eq!(q.ahead, 4.0);
    }

    #[test]
    fn growth_is_behind_us() {
        let mut q = QueuePos::join(5);
        q.on_depth(QueueModel::Power { n: 2.0 }, 5, 50);
        assert_eq!(q.ahead, 5.0);
    }

    #[test]
    fn fractional_fronts_fill_in_whole_lots_without_losing_the_rest() {
        let mut q = QueuePos::join(10);
        q.ahead = 0.5;
        assert_eq!(q.on_trade(1, 5), 0, "0.5 past the front: not a lot yet");
        assert_eq!(q.on_trade(1, 5), 1, "1.5 past the front");
        assert_eq!(q.on_trade(1, 5), 1, "2.5 past the front");
    }

    #[test]
    fn models_parse_and_print() {
        assert_eq!(QueueModel::parse("risk-averse").unwrap(), RA);
        assert_eq!(
            QueueModel::parse("power").unwrap(),
            QueueModel::Power { n: 2.0 }
        );
        assert_eq!(
            QueueModel::parse("power-share:3").unwrap(),
            QueueModel::PowerShare { n: 3.0 }
        );
        for bad in [
            "",
            "power:0",
            "power:x",
            "fifo",
            "risk-averse:2",
            "power:inf",
        ] {
            assert!(QueueModel::parse(bad).is_err(), "{bad}");
        }
        for m in [RA, QueueModel::Power { n: 2.5 }] {
            assert_eq!(QueueModel::parse(&m.to_string()).unwrap(), m);
        }
    }

    #[test]
    fn share_is_a_probability_for_any_input() {
        for m in [
            RA,
            QueueModel::Power { n: 3.0 },
            QueueModel::PowerShare { n: 0.5 },
        ] {
            for (a, b) in [
                (0.0, 0.0),
                (f64::NAN, 1.0),
                (-1.0, 5.0),
                (1e300, 1e300),
                (1e200, 1.0),
                (1.0, f64::INFINITY),
            ] {
                let s = m.share_ahead(a, b);
                assert!((0.0..=1.0).contains(&s), "{m} {a} {b}: {s}");
            }
        }
    }
}
