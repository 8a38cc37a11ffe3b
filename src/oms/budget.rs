//! Local request-rate budget that stays inside Bybit's per-UID limits.
//!
//! Each order endpoint has an exact sliding 1-second window (a log of the
//! last `limit` send times): a request is allowed only if fewer than `limit`
//! requests were sent in the preceding second, so no 1-second window ever
//! holds more than `limit` requests. Limits default to protocol.md §4.1's
//! "UTA2.0 Pro" table ([`RateLimits::bybit_default`]); batch requests consume
//! one unit per order inside them, as Bybit counts them.
//!
//! On top of the per-endpoint windows, one combined window across all order
//! mutations (create/amend/cancel, single and batch) is the self-imposed cap
//! that makes priorities real: cancels may use all of it, amends all but
//! `cancel_reserve`, creates all but `cancel_reserve + amend_reserve`. So when
//! the budget is short, cancels win over amends, and amends over creates.
//!
//! The exchange's own view (`X-Bapi-Limit`, `X-Bapi-Limit-Status`,
//! `X-Bapi-Limit-Reset-Timestamp`) is folded in by [`RateBudget::on_rate_limit`]:
//! the effective allowance is the minimum of the local and exchange views.
//!
//! Contract: fixed-size arrays, no allocation, no panic. Time is the caller's
//! monotonic nanoseconds (`now`), never read here.

use crate::ids::Category;
use crate::time::ExchMs;

/// One second in nanoseconds: the length of Bybit's rolling window.
pub const WINDOW_NS: u64 = 1_000_000_000;

/// Largest per-window limit tracked exactly (higher configured limits are
/// clamped to this; Bybit's default tiers are all ≤ 50/s).
pub const MAX_LIMIT: usize = 128;

/// Number of [`Endpoint`] variants.
pub const ENDPOINTS: usize = 8;

/// A rate-limited Bybit endpoint (REST path or its WS-trade op).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/v5/order/create`, `order.create`.
    Create,
    /// `/v5/order/amend`, `order.amend`.
    Amend,
    /// `/v5/order/cancel`, `order.cancel`.
    Cancel,
    /// `/v5/order/cancel-all`.
    CancelAll,
    /// `/v5/order/create-batch`, `order.create-batch` (one unit per order).
    CreateBatch,
    /// `/v5/order/amend-batch`, `order.amend-batch` (one unit per order).
    AmendBatch,
    /// `/v5/order/cancel-batch`, `order.cancel-batch` (one unit per order).
    CancelBatch,
    /// `GET /v5/order/realtime` (open-order query).
    Query,
}

impl Endpoint {
    /// All endpoints, in index order.
    pub const ALL: [Endpoint; ENDPOINTS] = [
        Endpoint::Create,
        Endpoint::Amend,
        Endpoint::Cancel,
        Endpoint::CancelAll,
        Endpoint::CreateBatch,
        Endpoint::AmendBatch,
        Endpoint::CancelBatch,
        Endpoint::Query,
    ];

    /// The endpoints quoting uses: create, amend (single and batch), cancel.
    pub const QUOTING: [Endpoint; 4] = [
        Endpoint::Create,
        Endpoint::Amend,
        Endpoint::AmendBatch,
        Endpoint::Cancel,
    ];

    /// Index into per-endpoint arrays.
    pub const fn index(self) -> usize {
        match self {
            Endpoint::Create => 0,
            Endpoint::Amend => 1,
            Endpoint::Cancel => 2,
            Endpoint::CancelAll => 3,
            Endpoint::CreateBatch => 4,
            Endpoint::AmendBatch => 5,
            Endpoint::CancelBatch => 6,
            Endpoint::Query => 7,
        }
    }

    /// Priority class: 0 cancels, 1 amends, 2 creates, `None` for queries
    /// (which are not order mutations and have their own generous limit).
    const fn class(self) -> Option<u8> {
        match self {
            Endpoint::Cancel | Endpoint::CancelAll | Endpoint::CancelBatch => Some(0),
            Endpoint::Amend | Endpoint::AmendBatch => Some(1),
            Endpoint::Create | Endpoint::CreateBatch => Some(2),
            Endpoint::Query => None,
        }
    }
}

/// Configured limits (requests or units per rolling second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per endpoint, indexed by [`Endpoint::index`].
    pub per_sec: [u32; ENDPOINTS],
    /// Combined cap over all order mutations.
    pub combined_per_sec: u32,
    /// Combined-window units only cancels may use.
    pub cancel_reserve: u32,
    /// Further combined-window units only cancels and amends may use.
    pub amend_reserve: u32,
}

impl RateLimits {
    /// Bybit's default per-UID table (protocol.md §4.1) for `category`, with a
    /// combined cap of 20 order mutations per second, 4 reserved for cancels
    /// and 2 more for amends.
    pub fn bybit_default(category: Category) -> RateLimits {
        use crate::limits::{default_limit, Endpoint as Bybit};
        let per_sec = Endpoint::ALL.map(|ep| {
            let bybit = match ep {
                Endpoint::Create => Bybit::Create,
                Endpoint::Amend => Bybit::Amend,
                Endpoint::Cancel => Bybit::Cancel,
                Endpoint::CancelAll => Bybit::CancelAll,
                Endpoint::CreateBatch => Bybit::CreateBatch,
                Endpoint::AmendBatch => Bybit::AmendBatch,
                Endpoint::CancelBatch => Bybit::CancelBatch,
                Endpoint::Query => Bybit::Realtime,
            };
            default_limit(bybit, Some(category))
        });
        RateLimits {
            per_sec,
            combined_per_sec: 20,
            cancel_reserve: 4,
            amend_reserve: 2,
        }
    }

    /// Every limit and reserve multiplied by `k` (at least 1), for a
    /// simulator started with limits scaled the same way. Windows hold at
    /// most [`MAX_LIMIT`] requests, so a scaled limit beyond it acts as
    /// [`MAX_LIMIT`].
    pub fn scaled(self, k: u32) -> RateLimits {
        let k = k.max(1);
        RateLimits {
            per_sec: self.per_sec.map(|l| l.saturating_mul(k)),
            combined_per_sec: self.combined_per_sec.saturating_mul(k),
            cancel_reserve: self.cancel_reserve.saturating_mul(k),
            amend_reserve: self.amend_reserve.saturating_mul(k),
        }
    }

    /// The limit for one endpoint.
    pub fn of(&self, ep: Endpoint) -> u32 {
        self.per_sec[ep.index()]
    }
}

/// What the exchange said about one endpoint in a response's rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Which endpoint the response was for.
    pub endpoint: Endpoint,
    /// `X-Bapi-Limit`.
    pub limit: u32,
    /// `X-Bapi-Limit-Status` (remaining in the current window).
    pub remaining: u32,
    /// `X-Bapi-Limit-Reset-Timestamp`.
    pub reset_ms: ExchMs,
    /// The response's own exchange time (`Timenow` / `time`), to turn
    /// `reset_ms` into a duration without comparing clocks.
    pub now_ms: ExchMs,
}

/// An exact sliding-window log of send times.
#[derive(Debug, Clone)]
struct Window {
    times: [u64; MAX_LIMIT],
    head: usize,
    len: usize,
    limit: usize,
}

impl Window {
    fn new(limit: u32) -> Window {
        Window {
            times: [0; MAX_LIMIT],
            head: 0,
            len: 0,
            limit: (limit as usize).min(MAX_LIMIT),
        }
    }

    fn prune(&mut self, now: u64) {
        while self.len > 0 {
            let t = self.times[self.head % MAX_LIMIT];
            if t.saturating_add(WINDOW_NS) <= now {
                self.head = (self.head + 1) % MAX_LIMIT;
                self.len -= 1;
            } else {
                break;
            }
        }
    }

    /// Free units at `now`, without pruning (sends are logged in time order,
    /// so the expired ones are at the head).
    fn free_at(&self, now: u64) -> usize {
        let expired = (0..self.len)
            .take_while(|k| {
                let t = self.times[(self.head + k) % MAX_LIMIT];
                t.saturating_add(WINDOW_NS) <= now
            })
            .count();
        self.limit.saturating_sub(self.len - expired)
    }

    /// The earliest time at or after `now` at which `need` units are free
    /// (`u64::MAX` if never: the limit is below `need`).
    fn free_from(&self, need: usize, now: u64) -> u64 {
        if need > self.limit {
            return u64::MAX;
        }
        // Sends that must expire first.
        let k = (self.len + need).saturating_sub(self.limit);
        if k == 0 {
            return now;
        }
        let t = self.times[(self.head + k - 1) % MAX_LIMIT];
        t.saturating_add(WINDOW_NS).max(now)
    }

    fn record(&mut self, n: usize, now: u64) {
        for _ in 0..n {
            if self.len == MAX_LIMIT {
                self.head = (self.head + 1) % MAX_LIMIT;
                self.len -= 1;
            }
            self.times[(self.head + self.len) % MAX_LIMIT] = now;
            self.len += 1;
        }
    }
}

/// The exchange's last word on one endpoint.
#[derive(Debug, Clone, Copy, Default)]
struct ExchView {
    remaining: u32,
    used: u32,
    until_ns: u64,
}

/// The per-endpoint and combined budget. See the module docs.
#[derive(Debug, Clone)]
pub struct RateBudget {
    limits: RateLimits,
    windows: [Window; ENDPOINTS],
    combined: Window,
    exch: [ExchView; ENDPOINTS],
    denied: [u64; ENDPOINTS],
}

impl RateBudget {
    /// Writes every page of the budget back unchanged ([`crate::redirty`]).
    pub fn redirty(&mut self) {
        let RateBudget {
            limits,
            windows,
            combined,
            exch,
            denied,
        } = self;
        crate::redirty::rewrite(limits);
        for w in windows.iter_mut().chain(std::iter::once(combined)) {
            crate::redirty::rewrite_pages(&mut w.times);
            crate::redirty::rewrite(&mut w.head);
            crate::redirty::rewrite(&mut w.len);
        }
        crate::redirty::rewrite(exch);
        crate::redirty::rewrite(denied);
    }

    /// A budget with nothing spent.
    pub fn new(limits: RateLimits) -> RateBudget {
        let windows = Endpoint::ALL.map(|e| Window::new(limits.of(e)));
        RateBudget {
            limits,
            windows,
            combined: Window::new(limits.combined_per_sec),
            exch: [ExchView::default(); ENDPOINTS],
            denied: [0; ENDPOINTS],
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// How many units of `ep` could be spent at `now` (local and exchange
    /// views, including the priority reserve of the combined window).
    pub fn available(&mut self, ep: Endpoint, now: u64) -> u32 {
        self.windows[ep.index()].prune(now);
        self.combined.prune(now);
        self.remaining(ep, now)
    }

    /// The part of the combined window `ep` must leave to higher
    /// priorities; `None` if `ep` is not an order mutation.
    fn reserve(&self, ep: Endpoint) -> Option<u32> {
        ep.class().map(|class| match class {
            0 => 0,
            1 => self.limits.cancel_reserve,
            _ => self
                .limits
                .cancel_reserve
                .saturating_add(self.limits.amend_reserve),
        })
    }

    /// [`RateBudget::available`] without touching the budget (for display).
    pub fn remaining(&self, ep: Endpoint, now: u64) -> u32 {
        let i = ep.index();
        let mut free = self.windows[i].free_at(now) as u32;
        let x = &self.exch[i];
        if now < x.until_ns {
            free = free.min(x.remaining.saturating_sub(x.used));
        }
        if let Some(reserve) = self.reserve(ep) {
            let comb = (self.combined.free_at(now) as u32).saturating_sub(reserve);
            free = free.min(comb);
        }
        free
    }

    /// The earliest time at or after `now` at which one unit of `ep` will
    /// be available if nothing more is spent: when enough logged sends
    /// leave the windows (the combined one with its priority reserve) and
    /// the exchange's last word runs out. For a caller that waits (the
    /// backtest's timer); `u64::MAX` when a limit is below one unit.
    pub fn next_free(&self, ep: Endpoint, now: u64) -> u64 {
        let i = ep.index();
        let mut t = self.windows[i].free_from(1, now);
        let x = &self.exch[i];
        if now < x.until_ns && x.remaining.saturating_sub(x.used) == 0 {
            t = t.max(x.until_ns);
        }
        if let Some(reserve) = self.reserve(ep) {
            t = t.max(self.combined.free_from(1 + reserve as usize, now));
        }
        t
    }

    /// Spends `units` of `ep` at `now` if available; `false` (and nothing
    /// spent) otherwise.
    pub fn try_take(&mut self, ep: Endpoint, units: u32, now: u64) -> bool {
        if units == 0 {
            return true;
        }
        if self.available(ep, now) < units {
            let d = &mut self.denied[ep.index()];
            *d = d.saturating_add(1);
            return false;
        }
        let i = ep.index();
        self.windows[i].record(units as usize, now);
        if ep.class().is_some() {
            self.combined.record(units as usize, now);
        }
        let x = &mut self.exch[i];
        if now < x.until_ns {
            x.used = x.used.saturating_add(units);
        }
        true
    }

    /// Folds in the exchange's rate-limit headers received at `now`. For the
    /// following second (or until the reset time, if later) at most
    /// `remaining` further units are spent on that endpoint; a lower
    /// `X-Bapi-Limit` than configured lowers the local limit for good.
    pub fn on_rate_limit(&mut self, info: &RateLimitInfo, now: u64) {
        let i = info.endpoint.index();
        let reset_ns = info
            .reset_ms
            .0
            .saturating_sub(info.now_ms.0)
            .saturating_mul(1_000_000);
        self.exch[i] = ExchView {
            remaining: info.remaining,
            used: 0,
            until_ns: now.saturating_add(reset_ns.max(WINDOW_NS)),
        };
        if info.limit > 0 && (info.limit as usize) < self.windows[i].limit {
            self.windows[i].limit = info.limit as usize;
        }
    }

    /// Records a rate-limit rejection (`10006` and friends) at `now`: nothing
    /// more is spent on `ep` for one window.
    pub fn on_limited(&mut self, ep: Endpoint, now: u64) {
        self.exch[ep.index()] = ExchView {
            remaining: 0,
            used: 0,
            until_ns: now.saturating_add(WINDOW_NS),
        };
    }

    /// The smallest [`RateBudget::remaining`] over the endpoints quoting uses
    /// ([`Endpoint::QUOTING`]): how many more requests of every kind could go
    /// now.
    pub fn order_remaining(&self, now: u64) -> u32 {
        Endpoint::QUOTING
            .iter()
            .map(|&ep| self.remaining(ep, now))
            .min()
            .unwrap_or(0)
    }

    /// How many requests of `ep` were refused by the local budget.
    pub fn denied(&self, ep: Endpoint) -> u64 {
        self.denied[ep.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn window_never_exceeds_limit_in_any_second() {
        let mut b = RateBudget::new(RateLimits::bybit_default(Category::Linear));
        let mut sent = Vec::new();
        for k in 0..5000u64 {
            let now = k * 7 * MS;
            if b.try_take(Endpoint::Amend, 1, now) {
                sent.push(now);
            }
        }
        for (i, &t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|&&s| s < t + WINDOW_NS).count();
            assert!(in_window <= 10, "{in_window} amends in the second from {t}");
        }
        // The budget is actually used, not just refused.
        assert!(sent.len() >= 5000 * 7 / 1000 * 10 - 10);
    }

    /// `next_free` names the first time a spend succeeds again: refused
    /// just before it, allowed at it (per-endpoint and combined windows).
    #[test]
    fn next_free_is_when_the_window_lets_one_more_through() {
        let mut l = RateLimits::bybit_default(Category::Linear);
        l.combined_per_sec = 13;
        l.cancel_reserve = 3;
        l.amend_reserve = 0;
        let mut b = RateBudget::new(l);
        assert_eq!(b.next_free(Endpoint::Amend, 5), 5, "nothing spent: now");
        // Ten amends (the endpoint's limit) at 0, 10, ..., 90 ms.
        for k in 0..10 {
            assert!(b.try_take(Endpoint::Amend, 1, k * 10 * MS));
        }
        let t = b.next_free(Endpoint::Amend, 100 * MS);
        assert_eq!(t, WINDOW_NS, "the first send leaves the window at 1 s");
        let mut probe = b.clone();
        assert!(!probe.try_take(Endpoint::Amend, 1, t - 1));
        assert!(b.try_take(Endpoint::Amend, 1, t));
        // Creates are held by the combined window's reserve: 13 − 3 = 10
        // usable, and it holds 10 amends until the one at 10 ms leaves.
        let c = b.next_free(Endpoint::Create, t);
        assert_eq!(c, WINDOW_NS + 10 * MS);
        let mut probe = b.clone();
        assert!(!probe.try_take(Endpoint::Create, 1, c - 1), "{c}");
        assert!(b.try_take(Endpoint::Create, 1, c));
        assert_eq!(b.next_free(Endpoint::CancelAll, 0), 0);
    }

    #[test]
    fn cancels_keep_a_reserve_that_creates_cannot_use() {
        let mut l = RateLimits::bybit_default(Category::Spot);
        l.combined_per_sec = 10;
        l.cancel_reserve = 3;
        l.amend_reserve = 2;
        let mut b = RateBudget::new(l);
        let mut creates = 0;
        while b.try_take(Endpoint::Create, 1, 0) {
            creates += 1;
        }
        assert_eq!(creates, 5);
        assert!(b.try_take(Endpoint::Amend, 2, 0));
        assert!(!b.try_take(Endpoint::Amend, 1, 0));
        assert!(b.try_take(Endpoint::Cancel, 3, 0));
        assert!(!b.try_take(Endpoint::Cancel, 1, 0));
        assert_eq!(b.denied(Endpoint::Create), 1);
    }

    #[test]
    fn order_remaining_is_the_smallest_local_allowance_and_recovers() {
        let mut l = RateLimits::bybit_default(Category::Linear);
        l.combined_per_sec = 20;
        l.cancel_reserve = 4;
        l.amend_reserve = 2;
        let mut b = RateBudget::new(l);
        // Nothing spent: the per-endpoint limits (10) are the smallest.
        assert_eq!(b.order_remaining(0), 10);
        for k in 0..6 {
            assert!(b.try_take(Endpoint::Amend, 1, k * MS));
        }
        // Amends: 10 - 6 = 4; creates: 20 - 6 - 6 = 8.
        assert_eq!(b.remaining(Endpoint::Amend, 10 * MS), 4);
        assert_eq!(b.remaining(Endpoint::Create, 10 * MS), 8);
        assert_eq!(b.order_remaining(10 * MS), 4);
        // Reading it changes nothing.
        assert_eq!(b.order_remaining(10 * MS), 4);
        assert_eq!(b.available(Endpoint::Amend, 10 * MS), 4);
        // The exchange's lower word counts too.
        b.on_rate_limit(
            &RateLimitInfo {
                endpoint: Endpoint::Cancel,
                limit: 10,
                remaining: 1,
                reset_ms: ExchMs(0),
                now_ms: ExchMs(0),
            },
            10 * MS,
        );
        assert_eq!(b.order_remaining(20 * MS), 1);
        // A second later everything is free again, read with or without pruning.
        assert_eq!(b.order_remaining(WINDOW_NS + 20 * MS), 10);
        assert_eq!(b.available(Endpoint::Amend, WINDOW_NS + 20 * MS), 10);
    }

    #[test]
    fn exchange_view_is_respected_when_lower() {
        let mut b = RateBudget::new(RateLimits::bybit_default(Category::Linear));
        let info = RateLimitInfo {
            endpoint: Endpoint::Amend,
            limit: 10,
            remaining: 2,
            reset_ms: ExchMs(1_000),
            now_ms: ExchMs(1_000),
        };
        b.on_rate_limit(&info, 0);
        assert_eq!(b.available(Endpoint::Amend, 0), 2);
        assert!(b.try_take(Endpoint::Amend, 2, 0));
        assert!(!b.try_take(Endpoint::Amend, 1, 10 * MS));
        // After the window the local view alone applies again.
        assert!(b.try_take(Endpoint::Amend, 1, WINDOW_NS + MS));
        // A rate-limit rejection blocks the endpoint for a window.
        b.on_limited(Endpoint::Create, 2 * WINDOW_NS);
        assert_eq!(b.available(Endpoint::Create, 2 * WINDOW_NS + MS), 0);
        // A lower exchange limit lowers the local one.
        let info = RateLimitInfo {
            endpoint: Endpoint::Cancel,
            limit: 3,
            remaining: 3,
            reset_ms: ExchMs(0),
            now_ms: ExchMs(0),
        };
        b.on_rate_limit(&info, 5 * WINDOW_NS);
        assert_eq!(b.available(Endpoint::Cancel, 7 * WINDOW_NS), 3);
    }
}
