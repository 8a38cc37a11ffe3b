//! Per-UID, per-endpoint, per-category rolling one-second rate limits with Bybit's default table.
//!
//! Contract: single-threaded (owned by the server thread); each bucket keeps the timestamps (ms) of
//! the units it granted in the last second, so `take` is O(expired + granted). Allocates only when a
//! bucket is first used. Time is wall-clock ms supplied by the caller.

use crate::ids::Category;
use std::collections::{HashMap, VecDeque};

pub use crate::limits::{default_limit, Endpoint};

/// The outcome of asking for `n` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Units granted (`0..=n`); fewer than asked means "limit exceeded" for the rest.
    pub granted: u32,
    /// `X-Bapi-Limit`.
    pub limit: u32,
    /// `X-Bapi-Limit-Status` (remaining after this request).
    pub remaining: u32,
    /// `X-Bapi-Limit-Reset-Timestamp` (ms when a unit frees up if exhausted, else now).
    pub reset_ms: u64,
}

/// Rolling-window limiter keyed by (uid, endpoint, category).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<(u64, Endpoint, Option<Category>), VecDeque<u64>>,
    /// Multiplies every default limit (1 = Bybit's defaults; the echo benchmark raises it).
    pub scale: u32,
}

impl RateLimiter {
    /// A limiter with Bybit's default table times `scale` (min 1).
    pub fn new(scale: u32) -> RateLimiter {
        RateLimiter {
            buckets: HashMap::new(),
            scale: scale.max(1),
        }
    }

    /// Takes up to `n` units at `now_ms`.
    pub fn take(
        &mut self,
        uid: u64,
        ep: Endpoint,
        category: Option<Category>,
        n: u32,
        now_ms: u64,
    ) -> Grant {
        let limit = default_limit(ep, category).saturating_mul(self.scale);
        let q = self.buckets.entry((uid, ep, category)).or_default();
        while q.front().is_some_and(|&t| t + 1000 <= now_ms) {
            q.pop_front();
        }
        let used = u32::try_from(q.len()).unwrap_or(u32::MAX);
        let free = limit.saturating_sub(used);
        let granted = n.min(free);
        for _ in 0..granted {
            q.push_back(now_ms);
        }
        let remaining = free - granted;
        let reset_ms = if remaining == 0 {
            q.front().map_or(now_ms, |&t| t + 1000)
        } else {
            now_ms
        };
        Grant {
            granted,
            limit,
            remaining,
            reset_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_create_allows_ten_per_rolling_second() {
        let mut rl = RateLimiter::new(1);
        for i in 0..10 {
            let g = rl.take(1, Endpoint::Create, Some(Category::Linear), 1, 1000 + i);
            assert_eq!((g.granted, g.remaining, g.limit), (1, 9 - i as u32, 10));
        }
        let g = rl.take(1, Endpoint::Create, Some(Category::Linear), 1, 1500);
        assert_eq!((g.granted, g.remaining, g.reset_ms), (0, 0, 2000));
        // Other uid, other category, other endpoint: independent buckets.
        assert_eq!(
            rl.take(2, Endpoint::Create, Some(Category::Linear), 1, 1500)
                .granted,
            1
        );
        assert_eq!(
            rl.take(1, Endpoint::Create, Some(Category::Spot), 1, 1500)
                .limit,
            20
        );
        assert_eq!(
            rl.take(1, Endpoint::Cancel, Some(Category::Linear), 1, 1500)
                .granted,
            1
        );
        // The oldest unit expires after one second.
        assert_eq!(
            rl.take(1, Endpoint::Create, Some(Category::Linear), 1, 2000)
                .granted,
            1
        );
    }

    #[test]
    fn the_simulator_only_gets_have_their_documented_limits() {
        let mut rl = RateLimiter::new(1);
        let n = (0..12)
            .map(|i| rl.take(1, Endpoint::CoinInfo, None, 1, 100 + i).granted)
            .sum::<u32>();
        assert_eq!(n, 5, "coin/query-info: 5 per second");
        assert_eq!(rl.take(1, Endpoint::QueryApi, None, 1, 0).limit, 10);
        assert_eq!(
            rl.take(1, Endpoint::OrderHistory, Some(Category::Spot), 1, 0)
                .limit,
            50
        );
        // The order rows are the engine's budget's: spot create 20/s.
        assert_eq!(default_limit(Endpoint::Create, Some(Category::Spot)), 20);
    }

    #[test]
    fn batch_takes_one_unit_per_item_and_grants_a_prefix() {
        let mut rl = RateLimiter::new(1);
        assert_eq!(
            rl.take(1, Endpoint::CreateBatch, Some(Category::Linear), 7, 0)
                .granted,
            7
        );
        let g = rl.take(1, Endpoint::CreateBatch, Some(Category::Linear), 7, 1);
        assert_eq!((g.granted, g.remaining), (3, 0));
    }
}
