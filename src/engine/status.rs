//! The status board: counters and gauges the hot threads publish with relaxed
//! atomic stores, read once a second by the monitor thread for the status line.
//!
//! Contract: every write is one relaxed store or add on a cache line the
//! writing stage owns (feed, strategy and order fields are padded apart) — no
//! lock, no allocation, no syscall.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

/// Fields written by the feed stage.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct FeedBoard {
    /// Book messages applied.
    pub messages: AtomicU64,
    /// Frames that failed to decode.
    pub decode_errors: AtomicU64,
    /// Book sequence gaps / crossed books (each caused a resubscribe).
    pub resyncs: AtomicU64,
    /// Reconnects of the public connection.
    pub reconnects: AtomicU64,
    /// Whether the book is valid and fresh (quotes allowed).
    pub tradable: AtomicBool,
    /// Last update id applied.
    pub last_u: AtomicU64,
    /// Exchange time (`ts`, ms) of the last book message applied; 0 before
    /// the first.
    pub last_exch_ms: AtomicU64,
    /// Market updates held back because the strategy ring was full (each
    /// goes in when there is room, unless a newer one supersedes it).
    pub ring_full: AtomicU64,
}

/// Fields written by the strategy stage.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct StrategyBoard {
    /// Signal, confidence and gap score of the last quoted update in one
    /// word ([`pack_signal`]), so the status line never shows one update's
    /// score beside another's signal.
    pub signal: AtomicI64,
    /// Wanted bid in ticks (0 = none).
    pub bid: AtomicI64,
    /// Wanted ask in ticks (0 = none).
    pub ask: AtomicI64,
    /// Mid in half ticks.
    pub mid_x2: AtomicI64,
    /// Market updates skipped by conflation (a newer one was already queued).
    pub conflated: AtomicU64,
    /// Targets sent to the order stage.
    pub targets: AtomicU64,
}

/// Fields written by the order stage.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct OrderBoard {
    /// Net position in lots.
    pub position: AtomicI64,
    /// Realised PnL in tick·lots.
    pub realised: AtomicI64,
    /// Unrealised PnL in tick·lots (against the mid).
    pub unrealised: AtomicI64,
    /// Fills received.
    pub fills: AtomicU64,
    /// Requests sent (creates, amends, cancels).
    pub actions: AtomicU64,
    /// PostOnly rejections re-placed.
    pub post_only_replaced: AtomicU64,
    /// Requests the local rate budget ([`crate::oms::RateBudget`]) allows
    /// now: the smallest over create, amend, batch amend and cancel. This is
    /// what gates our requests.
    pub budget_remaining: AtomicI64,
    /// `X-Bapi-Limit-Status` of the latest order response that carried it
    /// (the exchange's count for that one endpoint); meaningful once
    /// `budget_exchange_seen` is set.
    pub budget_exchange: AtomicI64,
    /// Whether any order response carried `X-Bapi-Limit-Status`.
    pub budget_exchange_seen: AtomicBool,
    /// Actions the order stage's queue could not take, handed back to the
    /// manager (undone and decided again).
    pub unsent: AtomicU64,
    /// Open-order queries whose request or answer failed (the manager asks
    /// again after its query timeout).
    pub query_failures: AtomicU64,
    /// Fills on the symbol the private stream did not deliver (it was not
    /// yet subscribed, or was lost), found in the execution list and counted.
    pub gap_fills: AtomicU64,
    /// Journal records dropped because the journal could not be drained
    /// (its file refused writes for long).
    pub journal_dropped: AtomicU64,
    /// Working bid price (0 = none).
    pub working_bid: AtomicI64,
    /// Working ask price (0 = none).
    pub working_ask: AtomicI64,
    /// Reconnects of the private and trade connections (the first connect of
    /// each is not one).
    pub reconnects: AtomicU64,
    /// Requests rejected by the exchange.
    pub rejects: AtomicU64,
    /// Transmit stamps that could not belong to the reaction they matched by
    /// key (stamped before its frame was read); not recorded as `tick_to_tx`.
    pub tx_implausible: AtomicU64,
    /// Requests for a target the manager first held back (a side awaiting
    /// its confirmation, the rate budget, the update interval) and released
    /// later; they are not reactions, so no tick-to-wire hop is taken.
    pub held: AtomicU64,
    /// Why the engine stopped on its own ([`Fatal`] as a number; 0: it did not).
    pub fatal: std::sync::atomic::AtomicU8,
    /// Order stage finished its shutdown (cancel-all confirmed or timed out).
    pub shutdown_done: AtomicBool,
    /// Whether the cancel-all at shutdown was confirmed by the exchange.
    pub shutdown_confirmed: AtomicBool,
}

/// All boards.
#[derive(Default, Debug)]
pub struct Board {
    /// Feed.
    pub feed: FeedBoard,
    /// Strategy.
    pub strategy: StrategyBoard,
    /// Orders.
    pub orders: OrderBoard,
}

/// Shorthand for a relaxed load.
#[inline]
pub fn get(a: &AtomicI64) -> i64 {
    a.load(Relaxed)
}

/// Shorthand for a relaxed u64 load.
#[inline]
pub fn getu(a: &AtomicU64) -> u64 {
    a.load(Relaxed)
}

/// Packs a signal code (1 up, −1 down, 0 neutral), a confidence code
/// (2 high, 1 med, 0 low) and a gap score × 10⁶ (0..=10⁶) into one word;
/// 0 (a fresh board) is neutral, low, 0.
pub fn pack_signal(signal: i64, conf: i64, score_ppm: i64) -> i64 {
    let sig = match signal.signum() {
        1 => 1,
        -1 => 2,
        _ => 0,
    };
    (sig << 40) | (conf.clamp(0, 2) << 32) | score_ppm.clamp(0, 1_000_000)
}

/// (signal code, confidence code, score × 10⁶) of a [`pack_signal`] word.
pub fn unpack_signal(w: i64) -> (i64, i64, i64) {
    let sig = match (w >> 40) & 0x3 {
        1 => 1,
        2 => -1,
        _ => 0,
    };
    (sig, (w >> 32) & 0xff, w & 0xffff_ffff)
}

/// Shorthand for a relaxed store.
#[inline]
pub fn set(a: &AtomicI64, v: i64) {
    a.store(v, Relaxed)
}

/// Increments a counter that only the calling stage writes.
///
/// A relaxed load and store, not `fetch_add`: a locked add waits until every
/// earlier store has reached the cache, which puts the market update just
/// written into the ring on the tick-to-wire path. Every counter on the board
/// has one writer (the stage that owns its cache line), so no increment is
/// lost; the monitor may read it a moment late.
#[inline]
pub fn inc(a: &AtomicU64) {
    a.store(a.load(Relaxed).wrapping_add(1), Relaxed);
}

/// A condition that stops the engine by itself (cancel-all, confirmation and
/// report, as on Ctrl+C): quoting on cannot be right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fatal {
    /// The exchange refused the trade WebSocket's authentication (bad key,
    /// secret or permissions).
    TradeAuth = 1,
    /// The exchange refused the private WebSocket's authentication.
    PrivateAuth = 2,
    /// A pipeline thread ended (it panicked); its stages no longer run.
    ThreadEnded = 3,
    /// The exchange refused the private stream's subscription: no order or
    /// execution push would arrive, so quoting would be blind.
    PrivateSubscribe = 4,
    /// The order manager halted itself (more orders of ours than it can
    /// follow); the confirmed cancel-all of the shutdown takes over.
    OrdersHalted = 5,
    /// The fills the private stream missed could not be read from the
    /// execution list, time after time: the position is unknown.
    FillCatchUp = 6,
}

impl Fatal {
    /// The value of [`OrderBoard::fatal`] (`None` for 0 or an unknown value).
    pub fn from_code(c: u8) -> Option<Fatal> {
        match c {
            1 => Some(Fatal::TradeAuth),
            2 => Some(Fatal::PrivateAuth),
            3 => Some(Fatal::ThreadEnded),
            4 => Some(Fatal::PrivateSubscribe),
            5 => Some(Fatal::OrdersHalted),
            6 => Some(Fatal::FillCatchUp),
            _ => None,
        }
    }

    /// For the operator.
    pub fn describe(self) -> &'static str {
        match self {
            Fatal::TradeAuth => "the exchange refused the trade connection's authentication (check BYBIT_API_KEY / BYBIT_API_SECRET and the key's permissions)",
            Fatal::PrivateAuth => "the exchange refused the private stream's authentication (check BYBIT_API_KEY / BYBIT_API_SECRET)",
            Fatal::ThreadEnded => "a pipeline thread ended unexpectedly",
            Fatal::PrivateSubscribe => "the exchange refused the private stream's subscription (order and execution pushes; check the key's permissions)",
            Fatal::OrdersHalted => "the order manager found more orders of ours than it can follow and stopped quoting",
            Fatal::FillCatchUp => "the fills missed while the private stream was down could not be read from the execution list (the position is unknown)",
        }
    }

    /// Records `self` unless an earlier fatal condition is already recorded.
    pub fn record(self, b: &OrderBoard) {
        let _ = b.fatal.compare_exchange(0, self as u8, Relaxed, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_word_gives_back_what_was_packed() {
        for signal in [-1, 0, 1] {
            for conf in [0, 1, 2] {
                for score in [0, 1, 299_999, 500_000, 700_001, 1_000_000] {
                    let w = pack_signal(signal, conf, score);
                    assert_eq!(unpack_signal(w), (signal, conf, score));
                }
            }
        }
        // A board no update has written yet reads neutral, low, 0.
        assert_eq!(unpack_signal(0), (0, 0, 0));
    }
}
