//! Public WebSocket codec. (Decoder to be written; these are the shared output types.)

use crate::ids::{Seq, Symbol, UpdateId};
use crate::time::ExchMs;
use crate::units::{Lots, Ticks};

/// One price level: a price in ticks and the absolute size at it (`0` deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    /// Price in ticks.
    pub price: Ticks,
    /// Absolute size in lots; zero means "remove this level".
    pub qty: Lots,
}

/// Whether an order-book message replaces the book or patches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookKind {
    /// Replaces the whole book.
    Snapshot,
    /// Patches levels; sizes are absolute.
    Delta,
}

/// A decoded `orderbook.{depth}.{symbol}` message. The level slices borrow the
/// decoder's reusable scratch space and are valid until the next decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BookUpdate<'a> {
    /// Snapshot or delta.
    pub kind: BookKind,
    /// Depth from the topic (`orderbook.50.X` → 50).
    pub depth: u16,
    /// Symbol from the topic / `data.s`.
    pub symbol: Symbol,
    /// Update id `u`.
    pub u: UpdateId,
    /// Cross sequence `seq`.
    pub seq: Seq,
    /// Message time `ts`.
    pub ts: ExchMs,
    /// Matching-engine time `cts` (absent in some archive lines).
    pub cts: Option<ExchMs>,
    /// Bid levels in message order.
    pub bids: &'a [Level],
    /// Ask levels in message order.
    pub asks: &'a [Level],
}
