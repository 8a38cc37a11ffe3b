//! Tick-indexed L2 order book, one per symbol, fed by [`BookUpdate`]s.
//!
//! # Layout
//!
//! Both sides share one window of `W` consecutive ticks `[base, base + W)`
//! (`W` a power of two, [`BookConfig::window_ticks`]). Inside the window each
//! side keeps a flat quantity ladder (`qty[tick - base]`) and an occupancy
//! [`Bitset`], so setting a level is an array store and finding the next
//! occupied tick is a word scan with `trailing_zeros` / `leading_zeros`.
//!
//! **Levels outside the window are never dropped.** Each side has a sorted
//! overflow array of fixed capacity ([`BookConfig::overflow_capacity`]) that
//! holds every level outside the window. When the touch drifts into the outer
//! quarters of the window, the window is re-centred on the touch (O(`W`),
//! rare): ladder levels that leave the window move into overflow and overflow
//! levels that enter it move into the ladder. Every query (best price, scans,
//! sums, iteration) looks at both places, so the book's contents do not
//! depend on where the window sits. If a level would not fit into a full
//! overflow array, the message is rejected with
//! [`BookError::OverflowFull`] and the book becomes invalid: the caller must
//! resubscribe. Nothing is ever silently lost.
//!
//! # Sequencing rules
//!
//! A whole message is applied, then the result is validated.
//!
//! - A snapshot, or any message with `u == 1` (Bybit's service restart),
//!   clears the book and makes it valid. Repeated snapshots with the same `u`
//!   (the depth-1 stream) are fine.
//! - A delta needs a valid book ([`BookError::NeedSnapshot`] otherwise) and
//!   `u == last + 1`. A delta with `u <= last` is stale: it is ignored without
//!   any change and reported as [`Applied::Stale`]. Any other `u` is a gap:
//!   the book becomes invalid and [`BookError::Gap`] tells the caller to
//!   resubscribe.
//! - Levels are applied in message order with absolute sizes; `qty == 0`
//!   deletes (deleting an absent level is a no-op); a price repeated within
//!   one message ends with its last size.
//! - After applying, only the `depth` best levels per side are kept
//!   (`BookUpdate::depth`, the `N` of `orderbook.N.SYMBOL`; `0` means no
//!   limit). Bybit sends deletes for levels pushed out of the top `N`; the
//!   book enforces it anyway.
//! - A crossed or locked result (`best_bid >= best_ask`) invalidates the book
//!   ([`BookError::Crossed`]).
//! - A negative size or a price beyond ±[`MAX_ABS_TICKS`] is rejected before
//!   anything is applied ([`BookError::NegativeQty`],
//!   [`BookError::PriceOutOfRange`]); since the update is then missing, the
//!   book is invalidated too.
//!
//! An invalid book is empty: [`Book::invalidate`] (and every error above)
//! clears all levels, so no stale price can be read from it. Only
//! [`Book::last_update_id`] survives, for diagnostics.
//!
//! # Contract
//!
//! All memory (ladders, bitsets, overflow arrays, a re-centring scratch
//! array) is allocated in [`Book::new`]; [`Book::apply`] and every query
//! allocate nothing, never block, read no clock and never panic on any input.

pub mod bitset;

use std::fmt;

use crate::codec::public::{BookKind, BookUpdate, Level};
use crate::ids::UpdateId;
use crate::units::{Lots, Side, Ticks};
use bitset::Bitset;

/// Largest absolute price (in ticks) the book accepts. Far beyond any real
/// instrument; keeps every window computation free of overflow.
pub const MAX_ABS_TICKS: i64 = 1 << 62;

/// Smallest ladder window, in ticks.
pub const MIN_WINDOW_TICKS: u32 = 64;

/// Largest ladder window, in ticks.
pub const MAX_WINDOW_TICKS: u32 = 1 << 22;

/// Sizing of a [`Book`]; all of it is allocated up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookConfig {
    /// Ticks covered by the flat ladder. Rounded up to a power of two and
    /// clamped to [`MIN_WINDOW_TICKS`]..=[`MAX_WINDOW_TICKS`].
    pub window_ticks: u32,
    /// Levels per side that may sit outside the window. Exceeding it
    /// invalidates the book ([`BookError::OverflowFull`]).
    pub overflow_capacity: u32,
}

impl Default for BookConfig {
    fn default() -> Self {
        BookConfig {
            window_ticks: 4096,
            overflow_capacity: 1024,
        }
    }
}

/// What [`Book::apply`] did with an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The book was cleared and rebuilt (snapshot, or `u == 1`).
    Reset,
    /// A delta was applied in sequence.
    Delta,
    /// A delta with `u <= last` was ignored; nothing changed.
    Stale,
}

/// Why [`Book::apply`] rejected a message. Every variant except
/// [`BookError::NeedSnapshot`] (which arrives at an already invalid book)
/// invalidates the book; the caller should resubscribe to get a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookError {
    /// A delta skipped update ids.
    Gap {
        /// The id that was due (`last + 1`).
        expected: UpdateId,
        /// The id that arrived.
        got: UpdateId,
    },
    /// A delta arrived while the book had no valid snapshot.
    NeedSnapshot {
        /// The delta's id.
        got: UpdateId,
    },
    /// After applying, the best bid was at or above the best ask.
    Crossed {
        /// Best bid after the message.
        bid: Ticks,
        /// Best ask after the message.
        ask: Ticks,
    },
    /// More levels lay outside the ladder window than the overflow array holds.
    OverflowFull {
        /// The side that ran out of room.
        side: Side,
    },
    /// A level carried a negative size.
    NegativeQty {
        /// Side of the level.
        side: Side,
        /// Price of the level.
        price: Ticks,
    },
    /// A level's price was beyond ±[`MAX_ABS_TICKS`].
    PriceOutOfRange {
        /// Side of the level.
        side: Side,
        /// The price.
        price: Ticks,
    },
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BookError::Gap { expected, got } => write!(
                f,
                "order-book update id gap: expected {}, got {}",
                expected.0, got.0
            ),
            BookError::NeedSnapshot { got } => {
                write!(f, "order-book delta {} arrived before a snapshot", got.0)
            }
            BookError::Crossed { bid, ask } => write!(
                f,
                "order book crossed or locked: best bid {} >= best ask {} (ticks)",
                bid.0, ask.0
            ),
            BookError::OverflowFull { side } => write!(
                f,
                "order-book overflow array full on the {} side",
                side.as_str()
            ),
            BookError::NegativeQty { side, price } => write!(
                f,
                "negative size at {} ticks on the {} side",
                price.0,
                side.as_str()
            ),
            BookError::PriceOutOfRange { side, price } => write!(
                f,
                "price {} ticks on the {} side is out of range",
                price.0,
                side.as_str()
            ),
        }
    }
}

impl std::error::Error for BookError {}

/// Index of `t` in a window `[base, base + w)`.
#[inline]
fn idx(base: i64, w: usize, t: i64) -> Option<usize> {
    let off = t.checked_sub(base)?;
    if off >= 0 && (off as u64) < w as u64 {
        Some(off as usize)
    } else {
        None
    }
}

/// One side: ladder + occupancy bits + sorted overflow.
#[derive(Debug, Clone)]
struct SideBook {
    is_bid: bool,
    qty: Box<[i64]>,
    bits: Bitset,
    /// Levels outside the window, ascending by price.
    over: Vec<Level>,
    count: usize,
    /// Best price after the last complete message.
    best: Option<i64>,
    /// No level is strictly better than `hint` (when `Some`).
    hint: Option<i64>,
}

impl SideBook {
    fn new(is_bid: bool, w: usize, cap: usize) -> SideBook {
        SideBook {
            is_bid,
            qty: vec![0i64; w].into_boxed_slice(),
            bits: Bitset::new(w),
            over: Vec::with_capacity(cap),
            count: 0,
            best: None,
            hint: None,
        }
    }

    fn side(&self) -> Side {
        if self.is_bid {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    #[inline]
    fn better(&self, a: i64, b: i64) -> bool {
        if self.is_bid {
            a > b
        } else {
            a < b
        }
    }

    #[inline]
    fn over_find(&self, t: i64) -> Result<usize, usize> {
        self.over.binary_search_by_key(&t, |l| l.price.0)
    }

    #[inline]
    fn get(&self, base: i64, w: usize, t: i64) -> i64 {
        match idx(base, w, t) {
            Some(i) => self.qty.get(i).copied().unwrap_or(0),
            None => match self.over_find(t) {
                Ok(k) => self.over.get(k).map_or(0, |l| l.qty.0),
                Err(_) => 0,
            },
        }
    }

    #[inline]
    fn set(&mut self, base: i64, w: usize, cap: usize, t: i64, q: i64) -> Result<(), BookError> {
        match idx(base, w, t) {
            Some(i) => {
                if !self.bits.test_and_set(i) {
                    self.count += 1;
                }
                if let Some(slot) = self.qty.get_mut(i) {
                    *slot = q;
                }
            }
            None => match self.over_find(t) {
                Ok(k) => {
                    if let Some(l) = self.over.get_mut(k) {
                        l.qty = Lots(q);
                    }
                }
                Err(k) => {
                    // `over` was allocated with capacity >= cap, so this never reallocates.
                    if self.over.len() >= cap {
                        return Err(BookError::OverflowFull { side: self.side() });
                    }
                    self.over.insert(
                        k,
                        Level {
                            price: Ticks(t),
                            qty: Lots(q),
                        },
                    );
                    self.count += 1;
                }
            },
        }
        match self.hint {
            Some(h) if !self.better(t, h) => {}
            _ => self.hint = Some(t),
        }
        Ok(())
    }

    #[inline]
    fn remove(&mut self, base: i64, w: usize, t: i64) {
        match idx(base, w, t) {
            Some(i) => {
                if self.bits.test_and_clear(i) {
                    if let Some(slot) = self.qty.get_mut(i) {
                        *slot = 0;
                    }
                    self.count -= 1;
                }
            }
            None => {
                if let Ok(k) = self.over_find(t) {
                    self.over.remove(k);
                    self.count -= 1;
                }
            }
        }
    }

    /// Lowest occupied tick in `lo..=hi`.
    fn first_up(&self, base: i64, w: usize, lo: i64, hi: i64) -> Option<i64> {
        if lo > hi {
            return None;
        }
        let top = base + w as i64 - 1;
        if lo < base {
            let k = self.over.partition_point(|l| l.price.0 < lo);
            if let Some(l) = self.over.get(k) {
                if l.price.0 < base && l.price.0 <= hi {
                    return Some(l.price.0);
                }
            }
        }
        let (a, b) = (lo.max(base), hi.min(top));
        if a <= b {
            if let Some(i) = self
                .bits
                .next_set_up((a - base) as usize, (b - base) as usize)
            {
                return Some(base + i as i64);
            }
        }
        let from = lo.max(top + 1);
        if from <= hi {
            let k = self.over.partition_point(|l| l.price.0 < from);
            if let Some(l) = self.over.get(k) {
                if l.price.0 <= hi {
                    return Some(l.price.0);
                }
            }
        }
        None
    }

    /// Highest occupied tick in `lo..=hi`.
    fn first_down(&self, base: i64, w: usize, hi: i64, lo: i64) -> Option<i64> {
        if lo > hi {
            return None;
        }
        let top = base + w as i64 - 1;
        if hi > top {
            let k = self.over.partition_point(|l| l.price.0 <= hi);
            if let Some(l) = k.checked_sub(1).and_then(|k| self.over.get(k)) {
                if l.price.0 > top && l.price.0 >= lo {
                    return Some(l.price.0);
                }
            }
        }
        let (a, b) = (hi.min(top), lo.max(base));
        if b <= a {
            if let Some(i) = self
                .bits
                .next_set_down((a - base) as usize, (b - base) as usize)
            {
                return Some(base + i as i64);
            }
        }
        let from = hi.min(base - 1);
        if from >= lo {
            let k = self.over.partition_point(|l| l.price.0 <= from);
            if let Some(l) = k.checked_sub(1).and_then(|k| self.over.get(k)) {
                if l.price.0 >= lo {
                    return Some(l.price.0);
                }
            }
        }
        None
    }

    /// Best occupied tick at or beyond `t` (away from the touch).
    #[inline]
    fn next_from(&self, base: i64, w: usize, t: i64) -> Option<i64> {
        if self.is_bid {
            self.first_down(base, w, t, i64::MIN)
        } else {
            self.first_up(base, w, t, i64::MAX)
        }
    }

    /// Total size over ticks `lo..=hi`.
    fn sum(&self, base: i64, w: usize, lo: i64, hi: i64) -> i64 {
        if lo > hi {
            return 0;
        }
        let mut total = 0i64;
        let k0 = self.over.partition_point(|l| l.price.0 < lo);
        let k1 = self.over.partition_point(|l| l.price.0 <= hi);
        if let Some(s) = self.over.get(k0..k1) {
            for l in s {
                total = total.saturating_add(l.qty.0);
            }
        }
        let top = base + w as i64 - 1;
        let (a, b) = (lo.max(base), hi.min(top));
        if a <= b {
            let qty = &self.qty;
            self.bits
                .for_each_set((a - base) as usize, (b - base) as usize, |i| {
                    total = total.saturating_add(qty.get(i).copied().unwrap_or(0));
                });
        }
        total
    }

    /// Recomputes `best` from `hint` (a few word reads when the old best survived).
    fn refresh_best(&mut self, base: i64, w: usize) {
        self.best = match self.hint {
            Some(h) => self.next_from(base, w, h),
            None => None,
        };
        if self.best.is_some() {
            self.hint = self.best;
        }
    }

    /// Removes every level (cost proportional to the levels held).
    fn clear(&mut self) {
        let qty = &mut self.qty;
        let len = self.bits.len();
        if len > 0 {
            self.bits.for_each_set(0, len - 1, |i| {
                if let Some(slot) = qty.get_mut(i) {
                    *slot = 0;
                }
            });
        }
        self.bits.clear_all();
        self.over.clear();
        self.count = 0;
        self.best = None;
        self.hint = None;
    }

    /// Removes every level strictly worse than `p`.
    fn trim_worse_than(&mut self, base: i64, w: usize, p: i64) {
        let top = base + w as i64 - 1;
        let (lo, hi) = if self.is_bid {
            (i64::MIN, p - 1)
        } else {
            (p + 1, i64::MAX)
        };
        let (a, b) = (lo.max(base), hi.min(top));
        if a <= b {
            let (ia, ib) = ((a - base) as usize, (b - base) as usize);
            let qty = &mut self.qty;
            let mut removed = 0usize;
            self.bits.for_each_set(ia, ib, |i| {
                if let Some(slot) = qty.get_mut(i) {
                    *slot = 0;
                }
                removed += 1;
            });
            self.bits.clear_range(ia, ib);
            self.count -= removed;
        }
        let before = self.over.len();
        if self.is_bid {
            let k = self.over.partition_point(|l| l.price.0 < p);
            self.over.drain(..k);
        } else {
            let k = self.over.partition_point(|l| l.price.0 <= p);
            self.over.truncate(k);
        }
        self.count -= before - self.over.len();
    }
}

/// A tick-indexed L2 book for one symbol. See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct Book {
    base: i64,
    window: usize,
    cap: usize,
    bids: SideBook,
    asks: SideBook,
    scratch: Vec<Level>,
    valid: bool,
    last: Option<UpdateId>,
}

/// Iterator over one side's levels, best first (see [`Book::iter_levels`]).
#[derive(Debug, Clone)]
pub struct Levels<'a> {
    book: &'a Book,
    side: Side,
    next: Option<i64>,
}

impl Iterator for Levels<'_> {
    type Item = Level;

    fn next(&mut self) -> Option<Level> {
        let t = self.next?;
        let s = self.book.side(self.side);
        let (base, w) = (self.book.base, self.book.window);
        let q = s.get(base, w, t);
        let beyond = if s.is_bid {
            t.checked_sub(1)
        } else {
            t.checked_add(1)
        };
        self.next = beyond.and_then(|b| s.next_from(base, w, b));
        Some(Level {
            price: Ticks(t),
            qty: Lots(q),
        })
    }
}

impl Book {
    /// An empty, invalid book (it needs a snapshot) with all memory allocated.
    pub fn new(cfg: BookConfig) -> Book {
        let window = cfg
            .window_ticks
            .clamp(MIN_WINDOW_TICKS, MAX_WINDOW_TICKS)
            .next_power_of_two() as usize;
        let cap = cfg.overflow_capacity as usize;
        Book {
            base: 0,
            window,
            cap,
            bids: SideBook::new(true, window, cap),
            asks: SideBook::new(false, window, cap),
            scratch: Vec::with_capacity(window),
            valid: false,
            last: None,
        }
    }

    /// The configuration in effect (window rounded to a power of two).
    pub fn config(&self) -> BookConfig {
        BookConfig {
            window_ticks: self.window as u32,
            overflow_capacity: self.cap as u32,
        }
    }

    /// First tick of the ladder window (moves when the window re-centres).
    pub fn window_base(&self) -> Ticks {
        Ticks(self.base)
    }

    #[inline]
    fn side(&self, side: Side) -> &SideBook {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Whether the book reflects an unbroken snapshot + delta sequence.
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// The `u` of the last message applied (kept after invalidation, for diagnostics).
    #[inline]
    pub fn last_update_id(&self) -> Option<UpdateId> {
        self.last
    }

    /// Marks the book invalid and empties it; the next delta is rejected
    /// until a snapshot arrives.
    pub fn invalidate(&mut self) {
        self.valid = false;
        self.bids.clear();
        self.asks.clear();
    }

    /// Best bid, if any.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.best(Side::Buy)
    }

    /// Best ask, if any.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.best(Side::Sell)
    }

    /// Best level of `side`, if any.
    #[inline]
    pub fn best(&self, side: Side) -> Option<Level> {
        let s = self.side(side);
        let t = s.best?;
        Some(Level {
            price: Ticks(t),
            qty: Lots(s.get(self.base, self.window, t)),
        })
    }

    /// Number of non-empty levels on `side`.
    #[inline]
    pub fn level_count(&self, side: Side) -> usize {
        self.side(side).count
    }

    /// Size resting at `price` on `side` (zero when empty).
    #[inline]
    pub fn qty_at(&self, side: Side, price: Ticks) -> Lots {
        Lots(self.side(side).get(self.base, self.window, price.0))
    }

    /// Non-empty levels of `side`, best first (bids descending, asks ascending).
    pub fn iter_levels(&self, side: Side) -> Levels<'_> {
        Levels {
            book: self,
            side,
            next: self.side(side).best,
        }
    }

    /// Runs `f` on this book with our own resting orders taken out, then puts
    /// them back. `own` is indexed by side (`[bid, ask]`): one order per side,
    /// as the order manager keeps. At its price the book shows everyone's
    /// size, ours included, so the market's own size is the difference; a
    /// level that was only ours is empty for `f`. An order whose level the
    /// book does not show yet (the public feed lags the private stream) is
    /// skipped, and where the book shows less than our size the level is
    /// taken as ours alone. Validity and `last_update_id` are untouched; if a
    /// level could not be put back (it always can: it goes back where it was)
    /// the book is invalidated rather than left wrong. Allocates nothing.
    pub fn without_own<R>(&mut self, own: [Option<Level>; 2], f: impl FnOnce(&Book) -> R) -> R {
        if own == [None, None] || !self.valid {
            return f(self);
        }
        let (base, w, cap) = (self.base, self.window, self.cap);
        let mut saved: [Option<(i64, i64)>; 2] = [None; 2];
        for (k, o) in own.iter().enumerate() {
            let Some(o) = o.filter(|o| o.qty.0 > 0) else {
                continue;
            };
            let s = if k == 0 {
                &mut self.bids
            } else {
                &mut self.asks
            };
            let q = s.get(base, w, o.price.0);
            if q == 0 {
                continue;
            }
            saved[k] = Some((o.price.0, q));
            if q > o.qty.0 {
                // The level stays occupied: best and occupancy do not change.
                if s.set(base, w, cap, o.price.0, q - o.qty.0).is_err() {
                    saved[k] = None;
                }
            } else {
                s.remove(base, w, o.price.0);
                s.refresh_best(base, w);
            }
        }
        let r = f(self);
        let mut broken = false;
        for (k, sv) in saved.iter().enumerate() {
            let Some((t, q)) = *sv else {
                continue;
            };
            let s = if k == 0 {
                &mut self.bids
            } else {
                &mut self.asks
            };
            broken |= s.set(base, w, cap, t, q).is_err();
            s.refresh_best(base, w);
        }
        if broken {
            self.invalidate();
        }
        r
    }

    /// Runs `f` on this book with `add` (indexed by side, `[bid, ask]`)
    /// added to the sizes it shows, then takes it out again. The backtest
    /// uses it to show its own resting orders in a recorded book as the
    /// public feed shows a live engine's (the feed then takes them out with
    /// [`Book::without_own`], as it does live). Validity and
    /// `last_update_id` are untouched; a level that cannot be added (the
    /// overflow list is full) is left out; if one could not be taken out
    /// again the book is invalidated rather than left wrong. Allocates
    /// nothing.
    pub fn with_added<R>(&mut self, add: [Option<Level>; 2], f: impl FnOnce(&mut Book) -> R) -> R {
        if add == [None, None] || !self.valid {
            return f(self);
        }
        let (base, w, cap) = (self.base, self.window, self.cap);
        let mut saved: [Option<(i64, i64)>; 2] = [None; 2];
        for (k, a) in add.iter().enumerate() {
            let Some(a) = a.filter(|a| a.qty.0 > 0 && a.price.0 > 0) else {
                continue;
            };
            let s = if k == 0 {
                &mut self.bids
            } else {
                &mut self.asks
            };
            let q = s.get(base, w, a.price.0);
            if s.set(base, w, cap, a.price.0, q.saturating_add(a.qty.0))
                .is_ok()
            {
                saved[k] = Some((a.price.0, q));
                s.refresh_best(base, w);
            }
        }
        let r = f(self);
        let mut broken = false;
        for (k, sv) in saved.iter().enumerate() {
            let Some((t, q)) = *sv else {
                continue;
            };
            let s = if k == 0 {
                &mut self.bids
            } else {
                &mut self.asks
            };
            if q == 0 {
                s.remove(base, w, t);
            } else {
                broken |= s.set(base, w, cap, t, q).is_err();
            }
            s.refresh_best(base, w);
        }
        if broken {
            self.invalidate();
        }
        r
    }

    /// Total size of the `n_levels` best non-empty levels of `side`.
    pub fn depth_sum(&self, side: Side, n_levels: usize) -> Lots {
        let mut total = Lots::ZERO;
        for l in self.iter_levels(side).take(n_levels) {
            total += l.qty;
        }
        total
    }

    /// The first occupied tick strictly beyond `from` on `side`, away from the
    /// touch (asks: `from + 1 ..= from + max_ticks`; bids: `from - 1` down to
    /// `from - max_ticks`). A bitset word scan, not a loop over ticks.
    #[inline]
    pub fn first_occupied_beyond(&self, side: Side, from: Ticks, max_ticks: u32) -> Option<Ticks> {
        if max_ticks == 0 {
            return None;
        }
        let s = self.side(side);
        let m = i64::from(max_ticks);
        let t = if s.is_bid {
            s.first_down(
                self.base,
                self.window,
                from.0.saturating_sub(1),
                from.0.saturating_sub(m),
            )
        } else {
            s.first_up(
                self.base,
                self.window,
                from.0.saturating_add(1),
                from.0.saturating_add(m),
            )
        };
        t.map(Ticks)
    }

    /// Total size over `n_ticks` consecutive ticks of `side` starting at
    /// `start` and moving away from the touch (asks upward, bids downward).
    #[inline]
    pub fn sum_ticks(&self, side: Side, start: Ticks, n_ticks: u32) -> Lots {
        if n_ticks == 0 {
            return Lots::ZERO;
        }
        let s = self.side(side);
        let span = i64::from(n_ticks) - 1;
        let (lo, hi) = if s.is_bid {
            (start.0.saturating_sub(span), start.0)
        } else {
            (start.0, start.0.saturating_add(span))
        };
        Lots(s.sum(self.base, self.window, lo, hi))
    }

    /// Applies one message; see the module docs for the rules.
    pub fn apply(&mut self, m: &BookUpdate<'_>) -> Result<Applied, BookError> {
        if let Err(e) = check_levels(Side::Buy, m.bids).and(check_levels(Side::Sell, m.asks)) {
            self.invalidate();
            return Err(e);
        }
        let kind = if m.kind == BookKind::Snapshot || m.u.0 == 1 {
            self.bids.clear();
            self.asks.clear();
            if let Some(c) = message_centre(m) {
                self.base = c - (self.window / 2) as i64;
            }
            Applied::Reset
        } else {
            let last = match self.last {
                Some(last) if self.valid => last,
                _ => return Err(BookError::NeedSnapshot { got: m.u }),
            };
            if m.u <= last {
                return Ok(Applied::Stale);
            }
            if m.u.0 != last.0 + 1 {
                self.invalidate();
                return Err(BookError::Gap {
                    expected: UpdateId(last.0 + 1),
                    got: m.u,
                });
            }
            Applied::Delta
        };
        self.last = Some(m.u);
        if let Err(e) = self.apply_levels(m) {
            self.invalidate();
            return Err(e);
        }
        self.valid = true;
        Ok(kind)
    }

    fn apply_levels(&mut self, m: &BookUpdate<'_>) -> Result<(), BookError> {
        let (base, w, cap) = (self.base, self.window, self.cap);
        for l in m.bids {
            if l.qty.0 == 0 {
                self.bids.remove(base, w, l.price.0);
            } else {
                self.bids.set(base, w, cap, l.price.0, l.qty.0)?;
            }
        }
        for l in m.asks {
            if l.qty.0 == 0 {
                self.asks.remove(base, w, l.price.0);
            } else {
                self.asks.set(base, w, cap, l.price.0, l.qty.0)?;
            }
        }
        self.bids.refresh_best(base, w);
        self.asks.refresh_best(base, w);
        let depth = usize::from(m.depth);
        if depth > 0 {
            for s in [&mut self.bids, &mut self.asks] {
                if s.count > depth {
                    let mut nth = s.best;
                    for _ in 1..depth {
                        nth = nth.and_then(|t| {
                            let b = if s.is_bid { t - 1 } else { t + 1 };
                            s.next_from(base, w, b)
                        });
                    }
                    if let Some(p) = nth {
                        s.trim_worse_than(base, w, p);
                    }
                }
            }
        }
        if let (Some(b), Some(a)) = (self.bids.best, self.asks.best) {
            if b >= a {
                return Err(BookError::Crossed {
                    bid: Ticks(b),
                    ask: Ticks(a),
                });
            }
        }
        let touch = match (self.bids.best, self.asks.best) {
            (Some(b), Some(a)) => Some(b / 2 + a / 2),
            (Some(b), None) => Some(b),
            (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        if let Some(t) = touch {
            let quarter = (w / 4) as i64;
            if t < base + quarter || t >= base + 3 * quarter {
                self.recentre(t - (w / 2) as i64)?;
            }
        }
        Ok(())
    }

    /// Moves the window to start at `new_base`, migrating levels between the
    /// ladder and overflow. O(window + levels moved); allocation-free.
    fn recentre(&mut self, new_base: i64) -> Result<(), BookError> {
        let (base, w, cap) = (self.base, self.window, self.cap);
        let new_top = new_base + w as i64 - 1;
        // Check both sides fit before touching anything.
        for s in [&self.bids, &self.asks] {
            let inside = |t: i64| t >= new_base && t <= new_top;
            let mut leaving = 0usize;
            s.bits.for_each_set(0, w - 1, |i| {
                if !inside(base + i as i64) {
                    leaving += 1;
                }
            });
            let entering = s.over.iter().filter(|l| inside(l.price.0)).count();
            if s.over.len() - entering + leaving > cap {
                return Err(BookError::OverflowFull { side: s.side() });
            }
        }
        let scratch = &mut self.scratch;
        for s in [&mut self.bids, &mut self.asks] {
            // 1. Ladder levels leaving the window go to scratch (ascending).
            scratch.clear();
            let qty = &mut s.qty;
            s.bits.for_each_set(0, w - 1, |i| {
                let t = base + i as i64;
                if t < new_base || t > new_top {
                    if let Some(slot) = qty.get_mut(i) {
                        // scratch has capacity w >= set bits: never reallocates.
                        scratch.push(Level {
                            price: Ticks(t),
                            qty: Lots(*slot),
                        });
                        *slot = 0;
                    }
                }
            });
            // 2. Shift the ladder and rebuild its bits.
            let d = new_base - base;
            if d.unsigned_abs() >= w as u64 {
                for q in qty.iter_mut() {
                    *q = 0;
                }
            } else if d > 0 {
                let d = d as usize;
                qty.copy_within(d..w, 0);
                for q in qty.iter_mut().skip(w - d) {
                    *q = 0;
                }
            } else if d < 0 {
                let d = d.unsigned_abs() as usize;
                qty.copy_within(0..w - d, d);
                for q in qty.iter_mut().take(d) {
                    *q = 0;
                }
            }
            for (wi, chunk) in qty.chunks(64).enumerate() {
                let mut word = 0u64;
                for (j, q) in chunk.iter().enumerate() {
                    word |= u64::from(*q != 0) << j;
                }
                s.bits.set_word(wi, word);
            }
            // 3. Overflow levels now inside the window move into the ladder.
            let k0 = s.over.partition_point(|l| l.price.0 < new_base);
            let k1 = s.over.partition_point(|l| l.price.0 <= new_top);
            if let Some(entering) = s.over.get(k0..k1) {
                for l in entering {
                    let i = (l.price.0 - new_base) as usize;
                    if let Some(slot) = qty.get_mut(i) {
                        *slot = l.qty.0;
                        s.bits.set(i);
                    }
                }
            }
            s.over.drain(k0..k1);
            // 4. Leaving levels join overflow. They all came from the old
            // window, where overflow had nothing, so they form one sorted run.
            if let Some(first) = scratch.first() {
                let k = s.over.partition_point(|l| l.price.0 < first.price.0);
                let n = scratch.len();
                s.over.extend_from_slice(scratch);
                if let Some(tail) = s.over.get_mut(k..) {
                    tail.rotate_right(n);
                }
            }
        }
        self.base = new_base;
        Ok(())
    }
}

fn check_levels(side: Side, levels: &[Level]) -> Result<(), BookError> {
    for l in levels {
        if l.price.0.unsigned_abs() > MAX_ABS_TICKS as u64 {
            return Err(BookError::PriceOutOfRange {
                side,
                price: l.price,
            });
        }
        if l.qty.0 < 0 {
            return Err(BookError::NegativeQty {
                side,
                price: l.price,
            });
        }
    }
    Ok(())
}

/// Where to centre the window for a message that resets the book: the mid of
/// its best bid and best ask (or whichever side exists).
fn message_centre(m: &BookUpdate<'_>) -> Option<i64> {
    let bid = m
        .bids
        .iter()
        .filter(|l| l.qty.0 > 0)
        .map(|l| l.price.0)
        .max();
    let ask = m
        .asks
        .iter()
        .filter(|l| l.qty.0 > 0)
        .map(|l| l.price.0)
        .min();
    match (bid, ask) {
        (Some(b), Some(a)) => Some(b / 2 + a / 2),
        (Some(b), None) => Some(b),
        (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}
