//! Simulated UNIFIED accounts: coin balances (spot locks and settlement) and
//! one-way linear positions with realised PnL.
//!
//! Contract: pure state, no I/O, no clock. Money is `i128` at
//! [`MONEY_SCALE`](super::wire::MONEY_SCALE) decimals; position cost is kept
//! in `ticks × lots` so the average entry price stays exact.

use std::collections::BTreeMap;

/// One coin's balance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoinBal {
    /// Wallet balance.
    pub wallet: i128,
    /// Locked by open spot orders.
    pub locked: i128,
    /// Cumulative realised PnL booked in this coin.
    pub cum_realised: i128,
}

/// A one-way linear position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed size in lots (+ long, − short).
    pub size: i64,
    /// Σ price×qty (ticks×lots) of the open size.
    pub cost: i128,
    /// Realised PnL (money) since the position was last opened, fees included.
    pub cur_realised: i128,
    /// Cumulative realised PnL (money), fees included.
    pub cum_realised: i128,
    /// First-touch time (ms).
    pub created: u64,
    /// Last change (ms).
    pub updated: u64,
    /// Cross sequence of the last fill (−1 if never traded).
    pub seq: i64,
}

/// Result of applying one linear fill to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosFill {
    /// Lots of the previous position this fill closed.
    pub closed: i64,
    /// Realised PnL of the closed part in ticks×lots (before fees).
    pub pnl_tl: i128,
}

impl Position {
    /// Applies a fill of `qty` lots (signed by side) at `price` ticks.
    pub fn apply(&mut self, signed_qty: i64, price: i64) -> PosFill {
        let q = signed_qty;
        if q == 0 {
            return PosFill {
                closed: 0,
                pnl_tl: 0,
            };
        }
        if self.size == 0 || (self.size > 0) == (q > 0) {
            self.size += q;
            self.cost += i128::from(price) * i128::from(q.abs());
            return PosFill {
                closed: 0,
                pnl_tl: 0,
            };
        }
        let abs = self.size.abs();
        let close = abs.min(q.abs());
        let removed = self.cost * i128::from(close) / i128::from(abs);
        let dir = if self.size > 0 { 1i128 } else { -1 };
        let pnl = (i128::from(price) * i128::from(close) - removed) * dir;
        self.cost -= removed;
        self.size += q.signum() * close;
        let rest = q.abs() - close;
        if rest > 0 {
            self.size = q.signum() * rest;
            self.cost = i128::from(price) * i128::from(rest);
        }
        if self.size == 0 {
            self.cost = 0;
        }
        PosFill {
            closed: close,
            pnl_tl: pnl,
        }
    }
}

/// One account. `Debug` redacts the secret.
#[derive(Clone)]
pub struct Account {
    /// User id.
    pub uid: u64,
    /// API key.
    pub api_key: String,
    /// API secret (never printed by this module).
    pub secret: String,
    /// Coin balances by coin name.
    pub coins: BTreeMap<String, CoinBal>,
    /// Linear positions by book index.
    pub positions: BTreeMap<usize, Position>,
    /// Open orders per book index.
    pub open_by_book: Vec<u32>,
    /// Σ price × leaves (money) of the open linear orders, kept in step by the
    /// exchange so the margin check does not scan the orders.
    pub linear_order_value: i128,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("uid", &self.uid)
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field("coins", &self.coins)
            .field("positions", &self.positions)
            .finish()
    }
}

impl Account {
    /// The balance of `coin`, created empty on first use.
    pub fn coin(&mut self, coin: &str) -> &mut CoinBal {
        if !self.coins.contains_key(coin) {
            self.coins.insert(coin.to_string(), CoinBal::default());
        }
        // Inserted just above if it was missing.
        self.coins.entry(coin.to_string()).or_default()
    }

    /// Available (wallet − locked) of `coin`.
    pub fn available(&self, coin: &str) -> i128 {
        self.coins
            .get(coin)
            .map(|c| c.wallet - c.locked)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let a = Account {
            uid: 1,
            api_key: "k".into(),
            secret: "topsecret".into(),
            coins: BTreeMap::new(),
            positions: BTreeMap::new(),
            open_by_book: Vec::new(),
            linear_order_value: 0,
        };
        assert!(!format!("{a:?}").contains("topsecret"));
    }

    #[test]
    fn position_opens_adds_reduces_and_flips() {
        let mut p = Position::default();
        assert_eq!(
            p.apply(10, 100),
            PosFill {
                closed: 0,
                pnl_tl: 0
            }
        );
        p.apply(10, 110);
        assert_eq!((p.size, p.cost), (20, 2100));
        // Sell 5 at 120: avg 105 → pnl 5×15 = 75.
        assert_eq!(
            p.apply(-5, 120),
            PosFill {
                closed: 5,
                pnl_tl: 75
            }
        );
        assert_eq!(p.size, 15);
        // Sell 20 at 100: close 15 (pnl 15×(100−105) = −75), open short 5.
        assert_eq!(
            p.apply(-20, 100),
            PosFill {
                closed: 15,
                pnl_tl: -75
            }
        );
        assert_eq!((p.size, p.cost), (-5, 500));
        // Buy back 5 at 90: short profits 5×10.
        assert_eq!(
            p.apply(5, 90),
            PosFill {
                closed: 5,
                pnl_tl: 50
            }
        );
        assert_eq!((p.size, p.cost), (0, 0));
    }
}
