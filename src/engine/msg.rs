//! The fixed-size records that travel between stages over SPSC rings.
//!
//! Each record is plain `Copy` data of at most two cache lines, aligned to a
//! cache line so a producer and a consumer never share one. They carry the
//! TSC stamps of every hop so the stage that finishes a path can record the
//! whole chain into its histograms.

use crate::codec::public::Level;
use crate::ids::UpdateId;
use crate::strategy::signal::{Confidence, Signal};
use crate::time::{ExchMs, Tsc};
use crate::units::{HalfTicks, Lots, Ticks};

/// Feed → strategy: the book's state after one market message.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct MarketUpdate {
    /// Update id `u` of the message.
    pub u: UpdateId,
    /// Exchange time of the message.
    pub exch_ts: ExchMs,
    /// Best bid.
    pub bid: Ticks,
    /// Best ask.
    pub ask: Ticks,
    /// Exact mid.
    pub mid: HalfTicks,
    /// `gap_prob_resistance_up`.
    pub gap_score: f64,
    /// Order-book imbalance over the top 5 levels.
    pub imbalance: f64,
    /// False when the book is invalid or the feed is stale: pull quotes.
    pub tradable: bool,
    /// Caused by a market message. False when the feed recomputed the
    /// analytics because our own resting orders changed: the quotes it leads
    /// to are not a reaction to a tick (no tick-to-wire hop, `-0` tag).
    pub tick: bool,
    /// Frame read from the socket (for a recompute: when it started).
    pub t_read: Tsc,
    /// Message parsed.
    pub t_parsed: Tsc,
    /// Book applied and analytics computed.
    pub t_applied: Tsc,
}

impl MarketUpdate {
    /// An update that carries no market, only "pull your quotes".
    pub fn pull(u: UpdateId, now: Tsc) -> MarketUpdate {
        MarketUpdate {
            u,
            exch_ts: ExchMs(0),
            bid: Ticks(0),
            ask: Ticks(0),
            mid: HalfTicks(0),
            gap_score: 0.5,
            imbalance: 0.0,
            tradable: false,
            tick: true,
            t_read: now,
            t_parsed: now,
            t_applied: now,
        }
    }
}

/// Strategy → orders: the quotes wanted now (conflated: only the latest matters).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct QuoteTarget {
    /// Bid price wanted, or `None` to have no bid.
    pub bid: Option<Ticks>,
    /// Ask price wanted, or `None` to have no ask.
    pub ask: Option<Ticks>,
    /// Best bid of the book the target was computed from (PostOnly clamp).
    pub touch_bid: Ticks,
    /// Best ask of the book the target was computed from.
    pub touch_ask: Ticks,
    /// Mid of that book (unrealised PnL).
    pub mid: HalfTicks,
    /// Signal behind the quotes.
    pub signal: Signal,
    /// Its confidence.
    pub conf: Confidence,
    /// Update id of the market message that caused this target.
    pub u: UpdateId,
    /// Caused by a market message ([`MarketUpdate::tick`]).
    pub tick: bool,
    /// Hop stamps carried from the market update.
    pub t_read: Tsc,
    /// Parsed.
    pub t_parsed: Tsc,
    /// Applied.
    pub t_applied: Tsc,
    /// Quote computed.
    pub t_quoted: Tsc,
}

/// Orders → strategy: the position after a fill (or an exchange snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionNote {
    /// Net position in lots (positive long).
    pub position: Lots,
}

/// Orders → feed: our own resting orders as the exchange last confirmed them,
/// one per side (`[bid, ask]`: price and resting size). The feed takes them
/// out of the book before the analytics (`Book::without_own`), so our quotes
/// never move the signal that places them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OwnOrders {
    /// Bid and ask, `None` when we have no resting order on that side.
    pub levels: [Option<Level>; 2],
}
