//! Position and average-cost PnL in integer ticks × lots.
//!
//! `cost` is the signed sum of `price × qty` of the open position (negative
//! for a short). Reducing the position removes the proportional share of the
//! cost (`cost × closed / |position|`, truncated) and realises the difference
//! to the exit value; the truncation residue stays in `cost`, so when the
//! position returns to zero every tick of PnL has been realised exactly.
//! Unrealised PnL is marked against a [`HalfTicks`] mid and so is expressed in
//! half-ticks × lots. Fees are summed as `f64` for reporting only.
//!
//! Contract: pure arithmetic in `i128`, no allocation, no panic.

use crate::units::{Decimal, HalfTicks, Lots, Side, Step, Ticks};

/// Billionths of a lot per lot ([`Pnl::charge`]).
const NANO: i64 = 1_000_000_000;

/// See the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pnl {
    /// Signed position in lots (positive long).
    pub position: Lots,
    /// Signed cost of the open position in ticks × lots.
    pub cost: i128,
    /// Realised PnL in ticks × lots.
    pub realised: i128,
    /// Sum of fees (positive = paid) for reporting only.
    pub fees: f64,
    /// Number of fills applied.
    pub fills: u64,
    /// Base-coin fees not yet taken off the position, in billionths of a
    /// lot (a fee smaller than a lot waits here until they add up to one).
    pub base_fee_nlots: i64,
}

impl Pnl {
    /// Applies one fill.
    pub fn apply(&mut self, side: Side, price: Ticks, qty: Lots) {
        let q = i128::from(qty.0.max(0));
        if q == 0 {
            return;
        }
        self.fills += 1;
        let p = i128::from(price.0);
        let pos = i128::from(self.position.0);
        let sign = i128::from(side.sign());
        if pos == 0 || (pos > 0) == (sign > 0) {
            self.cost = self.cost.saturating_add(sign * p * q);
        } else {
            let closing = q.min(pos.abs());
            let removed = self.cost.saturating_mul(closing) / pos.abs();
            let pos_sign = if pos > 0 { 1 } else { -1 };
            self.realised = self
                .realised
                .saturating_add((pos_sign * p * closing).saturating_sub(removed));
            self.cost = self.cost.saturating_sub(removed);
            let opening = q - closing;
            if opening > 0 {
                self.cost = self.cost.saturating_add(sign * p * opening);
            }
        }
        self.position = Lots(
            self.position
                .0
                .saturating_add(side.sign().saturating_mul(qty.0)),
        );
    }

    /// Counts a fill's fee: reported, and when charged in the base coin
    /// (`base_nlots`, billionths of a lot) taken off the position — the
    /// coins were never received — once whole lots of it have added up. The
    /// cost stays: what was paid now buys less.
    pub fn charge(&mut self, fee: Decimal, base_nlots: i64) {
        self.add_fee(fee);
        if base_nlots == 0 {
            return;
        }
        self.base_fee_nlots = self.base_fee_nlots.saturating_add(base_nlots);
        let whole = self.base_fee_nlots / NANO;
        if whole != 0 {
            self.base_fee_nlots -= whole * NANO;
            self.position = Lots(self.position.0.saturating_sub(whole));
        }
    }

    /// Adds a fee (reporting only).
    pub fn add_fee(&mut self, fee: Decimal) {
        self.fees += fee.to_f64();
    }

    /// Average entry price of the open position in ticks (truncated), if any.
    pub fn avg_price(&self) -> Option<Ticks> {
        if self.position.0 == 0 {
            return None;
        }
        let a = self.cost.saturating_div(i128::from(self.position.0));
        i64::try_from(a).ok().map(Ticks)
    }

    /// Unrealised PnL against `mid`, in half-ticks × lots.
    pub fn unrealised_half_ticks(&self, mid: HalfTicks) -> i128 {
        (i128::from(self.position.0) * i128::from(mid.0))
            .saturating_sub(self.cost.saturating_mul(2))
    }

    /// The cost (ticks × lots, rounded to the nearest) of `qty` bought or
    /// sold at the exchange's average entry price `entry` (a decimal, not on
    /// the tick grid); `None` if it does not fit.
    pub fn entry_cost(entry: Decimal, qty: Lots, tick: Step) -> Option<i128> {
        let num = i128::from(entry.mantissa)
            .checked_mul(10i128.checked_pow(u32::from(tick.scale()))?)?
            .checked_mul(i128::from(qty.0))?;
        let den =
            i128::from(tick.units()).checked_mul(10i128.checked_pow(u32::from(entry.scale))?)?;
        if den <= 0 {
            return None;
        }
        let half = if num < 0 { -(den / 2) } else { den / 2 };
        Some((num + half) / den)
    }

    /// Overwrites the position and its cost (an exchange snapshot).
    pub fn set_position_cost(&mut self, qty: Lots, cost: i128) {
        self.position = qty;
        self.cost = cost;
    }

    /// Overwrites the position from an exchange snapshot. The cost basis is
    /// `avg × qty` when the exchange gives an entry price, else the current
    /// average cost carried over (or zero when flat before).
    pub fn set_position(&mut self, qty: Lots, avg: Option<Ticks>) {
        self.cost = match (avg, self.position.0) {
            (Some(a), _) => i128::from(a.0) * i128::from(qty.0),
            (None, 0) => 0,
            (None, old) => self
                .cost
                .saturating_mul(i128::from(qty.0))
                .saturating_div(i128::from(old)),
        };
        self.position = qty;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_realises_exactly() {
        let mut p = Pnl::default();
        p.apply(Side::Buy, Ticks(100), Lots(3));
        p.apply(Side::Buy, Ticks(101), Lots(4));
        // cost = 300 + 404 = 704
        p.apply(Side::Sell, Ticks(105), Lots(2));
        p.apply(Side::Sell, Ticks(99), Lots(5));
        assert_eq!(p.position, Lots(0));
        assert_eq!(p.cost, 0);
        // 105*2 + 99*5 - 704 = 210 + 495 - 704 = 1
        assert_eq!(p.realised, 1);
        assert_eq!(p.fills, 4);
    }

    #[test]
    fn crossing_through_zero_opens_the_other_side() {
        let mut p = Pnl::default();
        p.apply(Side::Buy, Ticks(100), Lots(2));
        p.apply(Side::Sell, Ticks(110), Lots(5));
        assert_eq!(p.position, Lots(-3));
        assert_eq!(p.realised, 20);
        assert_eq!(p.avg_price(), Some(Ticks(110)));
        // Short 3 @110 marked at mid 108.5 (217 half-ticks): +1.5 ticks × 3 = 9 half-ticks.
        assert_eq!(p.unrealised_half_ticks(HalfTicks(217)), 9);
        p.apply(Side::Buy, Ticks(100), Lots(3));
        assert_eq!(p.realised, 50);
        assert_eq!(p.position, Lots(0));
    }

    #[test]
    fn snapshot_overwrites_position() {
        let mut p = Pnl::default();
        p.apply(Side::Buy, Ticks(100), Lots(4));
        p.set_position(Lots(2), None);
        assert_eq!(p.avg_price(), Some(Ticks(100)));
        p.set_position(Lots(-1), Some(Ticks(90)));
        assert_eq!(p.cost, -90);
    }

    /// A spot buy's fee in the base coin never arrives: it comes off the
    /// position once it adds up to a lot, keeps the cost, and is counted
    /// exactly (no rounding drift over many fills).
    #[test]
    fn base_coin_fees_come_off_the_position_in_whole_lots() {
        let mut p = Pnl::default();
        p.apply(Side::Buy, Ticks(100), Lots(10));
        let fee = Decimal::parse(b"0.0000004").unwrap();
        // 0.4 lot each: nothing yet, then one lot after the third.
        p.charge(fee, 400_000_000);
        p.charge(fee, 400_000_000);
        assert_eq!(p.position, Lots(10));
        p.charge(fee, 400_000_000);
        assert_eq!(p.position, Lots(9));
        assert_eq!(p.base_fee_nlots, 200_000_000);
        assert_eq!(p.cost, 1000);
        // A quote-coin fee moves nothing.
        p.charge(fee, 0);
        assert_eq!((p.position, p.base_fee_nlots), (Lots(9), 200_000_000));
        for _ in 0..1000 {
            p.charge(fee, 400_000_000);
        }
        // 1000 × 0.4 + 0.2 = 400.2 lots: 400 taken, 0.2 left.
        assert_eq!(p.position, Lots(9 - 400));
        assert_eq!(p.base_fee_nlots, 200_000_000);
    }

    /// A restart that finds a position the journal does not know (or knows
    /// wrong) takes its cost from the exchange's entry price: closing it
    /// then realises only the move since entry.
    #[test]
    fn an_exchange_entry_price_gives_the_cost_of_a_snapshot() {
        let tick = Step::parse("0.1").unwrap();
        let entry = Decimal::parse(b"100.04").unwrap();
        // 10 lots at 1000.4 ticks = 10004 (rounded to the nearest).
        let cost = Pnl::entry_cost(entry, Lots(10), tick).unwrap();
        assert_eq!(cost, 10_004);
        assert_eq!(Pnl::entry_cost(entry, Lots(-10), tick), Some(-10_004));
        // 3 lots at 1000.4 ticks = 3001.2 → 3001; at 100.05, 3001.5 → 3002.
        assert_eq!(Pnl::entry_cost(entry, Lots(3), tick), Some(3_001));
        let half = Decimal::parse(b"100.05").unwrap();
        assert_eq!(Pnl::entry_cost(half, Lots(3), tick), Some(3_002));
        let mut p = Pnl::default();
        p.set_position_cost(Lots(10), cost);
        p.apply(Side::Sell, Ticks(1010), Lots(10));
        assert_eq!(p.position, Lots(0));
        assert_eq!(p.realised, 10 * 1010 - 10_004);
    }
}
