//! Gap analytics and market metrics computed from a [`Book`].
//!
//! These are the fields the original gap-mm engine handed to its strategy
//! callback, with the same definitions, expressed in integer ticks and lots:
//!
//! - **Gap distance.** On each side, start one tick beyond the best price
//!   (above the best ask, below the best bid) and count empty ticks until the
//!   first occupied level, looking at most [`GAP_SCAN_TICKS`] ticks.
//!   `gap_distance_up` is the ask side, `gap_distance_dn` the bid side; it is
//!   [`GAP_SCAN_TICKS`] when no level is found.
//! - **Liquidity beyond the gap.** The total size in the
//!   [`LIQUIDITY_TICKS`] consecutive *ticks* (not levels) that start at that
//!   first occupied level and continue away from the touch; zero when none
//!   was found. The five ticks may reach past the scan range.
//! - **Score and probability.** `score = liquidity / (gap + 1)` per side and
//!   `gap_prob_resistance_up = score_up / (score_up + score_dn)`, exactly
//!   `0.5` when both scores are zero. Above 0.5 means more resistance above
//!   the ask than support below the bid.
//!
//! Units: liquidity and depths are in lots. The probability is computed from
//! lots; since the lot size is a common factor of both scores, it equals the
//! value computed from base-currency quantities (as the original did).
//!
//! The other fields: best bid/ask (ticks), the exact mid in half ticks, the
//! spread in ticks and in basis points of the mid (`spread / mid × 10⁴`), the
//! depth of the [`DEPTH_LEVELS`] best non-empty levels per side, and their
//! imbalance `(bid_depth - ask_depth) / (bid_depth + ask_depth)` in
//! `[-1, 1]` (zero when both are empty).
//!
//! Contract: [`compute`] allocates nothing, never blocks, reads no clock
//! (the caller passes the message time) and never panics. The gap scans are
//! bitset word scans ([`Book::first_occupied_beyond`]), a few instructions
//! each. `f64` appears only in the derived ratios, never in a price.

use crate::book::Book;
use crate::ids::UpdateId;
use crate::time::ExchMs;
use crate::units::{HalfTicks, Lots, Side, Ticks};

/// How far past the best price the gap scan looks, in ticks.
pub const GAP_SCAN_TICKS: u32 = 100;

/// How many consecutive ticks, from the first occupied level beyond the gap,
/// count as liquidity.
pub const LIQUIDITY_TICKS: u32 = 5;

/// Number of best levels in `bid_depth_5` / `ask_depth_5` and the imbalance.
pub const DEPTH_LEVELS: usize = 5;

/// One side's gap measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Empty ticks between the best price and the next occupied level
    /// (`GAP_SCAN_TICKS` when none was found within the scan).
    pub distance: u32,
    /// Size in the `LIQUIDITY_TICKS` ticks starting at that level (zero when none).
    pub liquidity: Lots,
}

/// Everything the strategy sees about one book after a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketMetrics {
    /// Best bid.
    pub bid: Ticks,
    /// Best ask.
    pub ask: Ticks,
    /// Exact mid `(bid + ask) / 2`.
    pub mid: HalfTicks,
    /// `ask - bid`.
    pub spread: Ticks,
    /// Spread in basis points of the mid (`spread / mid × 10⁴`; 0 when the mid is not positive).
    pub spread_bps: f64,
    /// `(bid_depth_5 - ask_depth_5) / (bid_depth_5 + ask_depth_5)`, 0 when both are empty.
    pub imbalance: f64,
    /// Size of the 5 best non-empty bid levels.
    pub bid_depth_5: Lots,
    /// Size of the 5 best non-empty ask levels.
    pub ask_depth_5: Lots,
    /// Exchange time of the message that produced this state.
    pub timestamp: ExchMs,
    /// Update id `u` of the book.
    pub update_id: UpdateId,
    /// `score_up / (score_up + score_dn)`, 0.5 when both are zero.
    pub gap_prob_resistance_up: f64,
    /// Empty ticks above the best ask (0..=100).
    pub gap_distance_up: u32,
    /// Empty ticks below the best bid (0..=100).
    pub gap_distance_dn: u32,
    /// Size in the 5 ticks beyond the ask-side gap.
    pub liquidity_up: Lots,
    /// Size in the 5 ticks beyond the bid-side gap.
    pub liquidity_dn: Lots,
}

/// The gap on `side` of a book whose best price on that side is `best`.
#[inline]
pub fn gap(book: &Book, side: Side, best: Ticks) -> Gap {
    match book.first_occupied_beyond(side, best, GAP_SCAN_TICKS) {
        Some(first) => Gap {
            distance: (first.0 - best.0).unsigned_abs().saturating_sub(1) as u32,
            liquidity: book.sum_ticks(side, first, LIQUIDITY_TICKS),
        },
        None => Gap {
            distance: GAP_SCAN_TICKS,
            liquidity: Lots::ZERO,
        },
    }
}

/// `score_up / (score_up + score_dn)` with `score = liquidity / (gap + 1)`;
/// exactly 0.5 when both scores are zero.
#[inline]
pub fn gap_probability(up: Gap, dn: Gap) -> f64 {
    let score_up = up.liquidity.0 as f64 / (f64::from(up.distance) + 1.0);
    let score_dn = dn.liquidity.0 as f64 / (f64::from(dn.distance) + 1.0);
    let total = score_up + score_dn;
    if total > 0.0 {
        score_up / total
    } else {
        0.5
    }
}

/// Metrics for `book` stamped with `ts`; `None` when the book is invalid or
/// either side is empty.
pub fn compute(book: &Book, ts: ExchMs) -> Option<MarketMetrics> {
    if !book.is_valid() {
        return None;
    }
    let bid = book.best_bid()?.price;
    let ask = book.best_ask()?.price;
    let update_id = book.last_update_id()?;
    let up = gap(book, Side::Sell, ask);
    let dn = gap(book, Side::Buy, bid);
    let bid_depth_5 = book.depth_sum(Side::Buy, DEPTH_LEVELS);
    let ask_depth_5 = book.depth_sum(Side::Sell, DEPTH_LEVELS);
    let depth_total = bid_depth_5.0 as f64 + ask_depth_5.0 as f64;
    let imbalance = if depth_total > 0.0 {
        (bid_depth_5.0 as f64 - ask_depth_5.0 as f64) / depth_total
    } else {
        0.0
    };
    let spread = ask - bid;
    let mid = HalfTicks::mid(bid, ask);
    let spread_bps = if mid.0 > 0 {
        // spread / (mid_half / 2) * 1e4
        spread.0 as f64 * 2.0e4 / mid.0 as f64
    } else {
        0.0
    };
    Some(MarketMetrics {
        bid,
        ask,
        mid,
        spread,
        spread_bps,
        imbalance,
        bid_depth_5,
        ask_depth_5,
        timestamp: ts,
        update_id,
        gap_prob_resistance_up: gap_probability(up, dn),
        gap_distance_up: up.distance,
        gap_distance_dn: dn.distance,
        liquidity_up: up.liquidity,
        liquidity_dn: dn.liquidity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::BookConfig;
    use crate::codec::public::{BookKind, BookUpdate, Level};
    use crate::ids::{Seq, Symbol};

    fn lv(price: i64, qty: i64) -> Level {
        Level {
            price: Ticks(price),
            qty: Lots(qty),
        }
    }

    fn book_with(bids: &[Level], asks: &[Level]) -> Book {
        let mut b = Book::new(BookConfig::default());
        let m = BookUpdate {
            kind: BookKind::Snapshot,
            depth: 0,
            symbol: Symbol::default(),
            u: UpdateId(7),
            seq: Seq(1),
            ts: ExchMs(1),
            cts: None,
            bids,
            asks,
        };
        b.apply(&m).unwrap();
        b
    }

    fn metrics(bids: &[Level], asks: &[Level]) -> MarketMetrics {
        compute(&book_with(bids, asks), ExchMs(1_700_000_000_000)).unwrap()
    }

    // The original's five cases, in ticks. BTC-like book with tick 0.10:
    // bid 100.00 = 1000 ticks, ask 100.10 = 1001 ticks, both size 1. Sizes are
    // in lots of 1 unit.

    #[test]
    fn balanced_book_scores_one_half() {
        // Next ask at 100.60 = 1006: ticks 1002..=1005 are empty, so the gap
        // is 4 (the original's test said 5, but its own scan loop yields 4:
        // it counts only the empty ticks before the first occupied one).
        // Bid side mirror: 99.50 = 995, ticks 999..=996 empty.
        let m = metrics(&[lv(1000, 1), lv(995, 500)], &[lv(1001, 1), lv(1006, 500)]);
        assert_eq!(m.gap_distance_up, 4);
        assert_eq!(m.gap_distance_dn, 4);
        assert_eq!(m.liquidity_up, Lots(500));
        assert_eq!(m.liquidity_dn, Lots(500));
        assert_eq!(m.gap_prob_resistance_up, 0.5);
    }

    #[test]
    fn ask_heavy_book_scores_above_one_half() {
        let m = metrics(
            &[lv(1000, 1), lv(995, 100)],
            &[lv(1001, 1), lv(1006, 10_000)],
        );
        // score_up = 10000 / 5 = 2000, score_dn = 100 / 5 = 20.
        let want = 2000.0 / 2020.0;
        assert!((m.gap_prob_resistance_up - want).abs() < 1e-12);
        assert!(m.gap_prob_resistance_up > 0.5);
    }

    #[test]
    fn bid_heavy_book_scores_below_one_half() {
        let m = metrics(
            &[lv(1000, 1), lv(995, 10_000)],
            &[lv(1001, 1), lv(1006, 100)],
        );
        let want = 20.0 / 2020.0;
        assert!((m.gap_prob_resistance_up - want).abs() < 1e-12);
        assert!(m.gap_prob_resistance_up < 0.5);
    }

    #[test]
    fn finer_tick_counts_gaps_in_its_own_ticks() {
        // ETH-like, tick 0.01: bid 3000.00 = 300000, ask 3000.01 = 300001,
        // next ask 3000.11 = 300011 (ticks 300002..=300010 empty → 9), next bid
        // 2999.99 = 299999 (adjacent → 0).
        let m = metrics(
            &[lv(300_000, 1), lv(299_999, 500)],
            &[lv(300_001, 1), lv(300_011, 500)],
        );
        assert_eq!(m.gap_distance_up, 9);
        assert_eq!(m.gap_distance_dn, 0);
        // score_up = 500 / 10 = 50, score_dn = 500 / 1 = 500.
        assert!((m.gap_prob_resistance_up - 50.0 / 550.0).abs() < 1e-12);
    }

    #[test]
    fn no_liquidity_beyond_the_touch_is_neutral() {
        let m = metrics(&[lv(1000, 1)], &[lv(1001, 1)]);
        assert_eq!(m.liquidity_up, Lots::ZERO);
        assert_eq!(m.liquidity_dn, Lots::ZERO);
        assert_eq!(m.gap_distance_up, GAP_SCAN_TICKS);
        assert_eq!(m.gap_distance_dn, GAP_SCAN_TICKS);
        assert_eq!(m.gap_prob_resistance_up, 0.5);
    }

    #[test]
    fn level_exactly_at_the_scan_limit_is_found() {
        // Ask 1001; tick 1001 + 100 = 1101 is the last one scanned: 99 empty.
        let m = metrics(&[lv(1000, 1)], &[lv(1001, 1), lv(1101, 7)]);
        assert_eq!(m.gap_distance_up, 99);
        assert_eq!(m.liquidity_up, Lots(7));
        // One tick further is out of reach: gap 100, no liquidity.
        let m = metrics(&[lv(1000, 1)], &[lv(1001, 1), lv(1102, 7)]);
        assert_eq!(m.gap_distance_up, 100);
        assert_eq!(m.liquidity_up, Lots::ZERO);
        // Bid side mirror: 1000 - 100 = 900 is the last tick scanned.
        let m = metrics(&[lv(1000, 1), lv(900, 3)], &[lv(1001, 1)]);
        assert_eq!(m.gap_distance_dn, 99);
        assert_eq!(m.liquidity_dn, Lots(3));
    }

    #[test]
    fn liquidity_counts_five_ticks_even_past_the_scan_range() {
        // First level at the scan limit (1101); ticks 1101..=1105 count, 1106 does not.
        let m = metrics(
            &[lv(1000, 1)],
            &[
                lv(1001, 1),
                lv(1101, 1),
                lv(1103, 10),
                lv(1105, 100),
                lv(1106, 1000),
            ],
        );
        assert_eq!(m.gap_distance_up, 99);
        assert_eq!(m.liquidity_up, Lots(111));
        // Five ticks, not five levels: 995..=991 on the bid side.
        let m = metrics(
            &[lv(1000, 1), lv(995, 2), lv(991, 4), lv(990, 8)],
            &[lv(1001, 1)],
        );
        assert_eq!(m.gap_distance_dn, 4);
        assert_eq!(m.liquidity_dn, Lots(6));
    }

    #[test]
    fn liquidity_beyond_the_ladder_window_is_counted() {
        // A 64-tick window centred near 1000 ends around 1032; levels past it
        // live in overflow and must still be scanned and summed.
        let mut b = Book::new(BookConfig {
            window_ticks: 64,
            overflow_capacity: 16,
        });
        let bids = [lv(1000, 1), lv(950, 5)];
        let asks = [lv(1001, 1), lv(1050, 9), lv(1052, 11)];
        let m = BookUpdate {
            kind: BookKind::Snapshot,
            depth: 50,
            symbol: Symbol::default(),
            u: UpdateId(3),
            seq: Seq(1),
            ts: ExchMs(1),
            cts: None,
            bids: &bids,
            asks: &asks,
        };
        b.apply(&m).unwrap();
        let w = b.window_base().0;
        assert!(
            1050 >= w + 64 && 950 < w,
            "levels should be outside the window"
        );
        let m = compute(&b, ExchMs(2)).unwrap();
        assert_eq!(m.gap_distance_up, 48);
        assert_eq!(m.liquidity_up, Lots(20));
        assert_eq!(m.gap_distance_dn, 49);
        assert_eq!(m.liquidity_dn, Lots(5));
    }

    #[test]
    fn other_fields_follow_their_definitions() {
        let m = metrics(
            &[
                lv(1000, 3),
                lv(999, 1),
                lv(990, 1),
                lv(980, 1),
                lv(970, 1),
                lv(960, 100),
            ],
            &[lv(1004, 2), lv(1010, 2)],
        );
        assert_eq!((m.bid, m.ask), (Ticks(1000), Ticks(1004)));
        assert_eq!(m.mid, HalfTicks(2004));
        assert_eq!(m.spread, Ticks(4));
        assert!((m.spread_bps - 4.0 / 1002.0 * 1e4).abs() < 1e-9);
        assert_eq!(m.bid_depth_5, Lots(7));
        assert_eq!(m.ask_depth_5, Lots(4));
        assert!((m.imbalance - 3.0 / 11.0).abs() < 1e-12);
        assert_eq!(m.update_id, UpdateId(7));
        assert_eq!(m.timestamp, ExchMs(1_700_000_000_000));
    }

    #[test]
    fn empty_side_or_invalid_book_gives_none() {
        let b = book_with(&[lv(1000, 1)], &[]);
        assert!(b.is_valid());
        assert_eq!(compute(&b, ExchMs(1)), None);
        let b = book_with(&[], &[lv(1000, 1)]);
        assert_eq!(compute(&b, ExchMs(1)), None);
        let mut b = book_with(&[lv(1000, 1)], &[lv(1001, 1)]);
        assert!(compute(&b, ExchMs(1)).is_some());
        b.invalidate();
        assert_eq!(compute(&b, ExchMs(1)), None);
    }
}
