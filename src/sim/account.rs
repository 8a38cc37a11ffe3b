//! Simulated UNIFIED accounts: coin balances (spot locks and settlement) and
//! one-way linear positions with realised PnL; and the account-level answers
//! (`/v5/user/query-api`, `/v5/account/info`, `/v5/asset/coin/query-info`).
//!
//! Contract: pure state, no I/O, no clock (times are passed in). Money is
//! `i128` at [`MONEY_SCALE`](super::wire::MONEY_SCALE) decimals; position
//! cost is kept in `ticks × lots` so the average entry price stays exact.

use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Days an API key without an IP whitelist stays valid on Bybit (three months).
pub const KEY_VALID_DAYS: u64 = 90;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

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
    /// What an auditor of this account would want to know, per book index.
    pub audit: Vec<BookAudit>,
}

/// The exchange's own record of one account's activity on one book, kept for
/// soak runs and tests: exact where sampling the open orders would miss a
/// short overlap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookAudit {
    /// Orders accepted.
    pub placed: u64,
    /// Orders accepted while the account already had an open order on the
    /// same side of this book (a market maker quoting one order per side
    /// should never do this).
    pub placed_beside_open: u64,
    /// Open orders now, per side (buy, sell).
    pub open_per_side: [u32; 2],
    /// Most orders open at once on one side.
    pub max_open_per_side: u32,
    /// Executions, in the order they happened (the exchange's numbering;
    /// render them with the exchange's id salt to compare with pushes).
    pub execs: Vec<u64>,
    /// Net filled quantity since start, buys minus sells, in lots.
    pub net_lots: i64,
    /// Largest absolute `net_lots` reached.
    pub max_abs_net_lots: i64,
}

impl BookAudit {
    /// An order was accepted on side `s` (0 = buy, 1 = sell).
    pub fn on_open(&mut self, s: usize) {
        self.placed += 1;
        if self.open_per_side[s] > 0 {
            self.placed_beside_open += 1;
        }
        self.open_per_side[s] += 1;
        self.max_open_per_side = self.max_open_per_side.max(self.open_per_side[s]);
    }
    /// An open order on side `s` ended (filled, cancelled or rejected).
    pub fn on_close(&mut self, s: usize) {
        self.open_per_side[s] = self.open_per_side[s].saturating_sub(1);
    }
    /// An execution of `signed_lots` (positive = bought).
    pub fn on_exec(&mut self, exec: u64, signed_lots: i64) {
        self.execs.push(exec);
        self.net_lots += signed_lots;
        self.max_abs_net_lots = self.max_abs_net_lots.max(self.net_lots.abs());
    }
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

/// `ms` since the epoch as ISO 8601 UTC to the second (`2022-10-16T02:24:40Z`),
/// the form of the key's `createdAt` and `expiredAt`.
pub fn iso8601_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = crate::record::utc_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The `/v5/user/query-api` result for `acc`'s key: a read-write master key
/// of a unified account with every trading permission, no IP whitelist,
/// created when the simulator started (`created_ms`) and so expiring
/// [`KEY_VALID_DAYS`] later. `key_id` is the key's `id`.
pub fn key_info(acc: &Account, key_id: &str, created_ms: u64, now_ms: u64) -> Value {
    let expires = created_ms + KEY_VALID_DAYS * DAY_MS;
    json!({
        "id": key_id,
        "note": "gapmm-sim",
        "apiKey": acc.api_key,
        "readOnly": 0,
        // Bybit never returns the secret.
        "secret": "",
        "permissions": {
            "ContractTrade": ["Order", "Position"],
            "Spot": ["SpotTrade"],
            "Wallet": ["AccountTransfer", "SubMemberTransfer"],
            "Options": ["OptionsTrade"],
            "Derivatives": ["DerivativesTrade"],
            "CopyTrading": [],
            "BlockTrade": [],
            "Exchange": [],
            "NFT": [],
            "Affiliate": [],
            "Earn": [],
        },
        "ips": ["*"],
        "type": 1,
        "deadlineDay": expires.saturating_sub(now_ms).div_ceil(DAY_MS),
        "expiredAt": iso8601_utc(expires),
        "createdAt": iso8601_utc(created_ms),
        "unified": 0,
        "uta": 1,
        "userID": acc.uid,
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": true,
        "parentUid": "0",
        "kycLevel": "LEVEL_DEFAULT",
        "kycRegion": "",
    })
}

/// The `/v5/account/info` result: a unified account 2.0 (Pro, the tier whose
/// rate limits the simulator applies) in regular cross margin, last changed
/// at `updated_ms` (the simulator's start).
pub fn account_info(updated_ms: u64) -> Value {
    json!({
        "unifiedMarginStatus": 6,
        "marginMode": "REGULAR_MARGIN",
        "isMasterTrader": false,
        "spotHedgingStatus": "OFF",
        "updatedTime": updated_ms.to_string(),
        "dcpStatus": "OFF",
        "timeWindow": 10,
        "smpGroup": 0,
    })
}

/// One `/v5/asset/coin/query-info` row: the coin with one plausible
/// deposit/withdrawal chain (the simulator moves no coins on chains; the row
/// exists so a client that looks its coins up finds them).
pub fn coin_info(coin: &str) -> Value {
    // (chain, chainType, confirmations, withdraw fee, min deposit, min withdraw, decimals, contract)
    let (chain, chain_type, confirm, fee, dep_min, wd_min, accuracy, contract) = match coin {
        "BTC" => ("BTC", "BTC", "1", "0.0002", "0.0001", "0.001", "8", ""),
        "ETH" => ("ETH", "ETH", "6", "0.0015", "0.0001", "0.005", "8", ""),
        "USDT" => (
            "ETH",
            "ERC20",
            "6",
            "3",
            "0.1",
            "10",
            "6",
            "0xdac17f958d2ee523a2206206994597c13d831ec7",
        ),
        "USDC" => (
            "ETH",
            "ERC20",
            "6",
            "3",
            "0.1",
            "10",
            "6",
            "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
        ),
        "XRP" => ("XRP", "XRP", "1", "0.2", "0.1", "20", "6", ""),
        other => (other, other, "1", "0", "0", "0", "8", ""),
    };
    json!({
        "name": coin,
        "coin": coin,
        "remainAmount": "1000000",
        "chains": [{
            "chain": chain,
            "chainType": chain_type,
            "confirmation": confirm,
            "withdrawFee": fee,
            "depositMin": dep_min,
            "withdrawMin": wd_min,
            "minAccuracy": accuracy,
            "chainDeposit": "1",
            "chainWithdraw": "1",
            "withdrawPercentageFee": "0",
            "contractAddress": contract,
            "safeConfirmNumber": confirm,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        // Bybit's own example: createdAt "2022-10-16T02:24:40Z".
        assert_eq!(iso8601_utc(1_665_887_080_000), "2022-10-16T02:24:40Z");
        // A leap day and the turn of a century.
        assert_eq!(iso8601_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(4_107_542_399_999), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn the_key_expires_ninety_days_after_it_was_made() {
        let a = Account {
            uid: 7,
            api_key: "k".into(),
            secret: "s".into(),
            coins: BTreeMap::new(),
            positions: BTreeMap::new(),
            open_by_book: Vec::new(),
            linear_order_value: 0,
            audit: Vec::new(),
        };
        let v = key_info(&a, "1", 1_665_887_080_000, 1_665_887_080_000 + DAY_MS / 2);
        assert_eq!(v["deadlineDay"], 90);
        assert_eq!(v["expiredAt"], "2023-01-14T02:24:40Z");
        assert_eq!(v["userID"], 7);
        assert_eq!(v["secret"], "");
    }

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
            audit: Vec::new(),
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
