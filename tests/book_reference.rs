//! Model test: the tick-indexed `Book` must agree with a plain `BTreeMap`
//! book that follows the same sequencing rules, over random sequences of
//! snapshots and deltas (gaps, stale ids, `u == 1` restarts, deletes of
//! absent levels, duplicate prices, top-N trimming, crossed results, and
//! price jumps far larger than the ladder window so re-centring and the
//! overflow arrays are exercised).

use std::collections::BTreeMap;

use gapmm::analytics::{self, MarketMetrics};
use gapmm::book::{Applied, Book, BookConfig, BookError};
use gapmm::codec::public::{BookKind, BookUpdate, Level};
use gapmm::ids::{Seq, Symbol, UpdateId};
use gapmm::time::ExchMs;
use gapmm::units::{HalfTicks, Lots, Side, Ticks};
use proptest::prelude::*;

/// The reference: one ordered map per side, rules written out longhand.
#[derive(Default, Clone)]
struct RefBook {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    valid: bool,
    last: Option<u64>,
}

impl RefBook {
    fn invalidate(&mut self) {
        self.valid = false;
        self.bids.clear();
        self.asks.clear();
    }

    fn apply(
        &mut self,
        kind: BookKind,
        depth: u16,
        u: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Result<Applied, BookError> {
        let applied = if kind == BookKind::Snapshot || u == 1 {
            self.bids.clear();
            self.asks.clear();
            Applied::Reset
        } else {
            if !self.valid || self.last.is_none() {
                return Err(BookError::NeedSnapshot { got: UpdateId(u) });
            }
            let last = self.last.unwrap();
            if u <= last {
                return Ok(Applied::Stale);
            }
            if u != last + 1 {
                self.invalidate();
                return Err(BookError::Gap {
                    expected: UpdateId(last + 1),
                    got: UpdateId(u),
                });
            }
            Applied::Delta
        };
        self.last = Some(u);
        for &(p, q) in bids {
            if q == 0 {
                self.bids.remove(&p);
            } else {
                self.bids.insert(p, q);
            }
        }
        for &(p, q) in asks {
            if q == 0 {
                self.asks.remove(&p);
            } else {
                self.asks.insert(p, q);
            }
        }
        if depth > 0 {
            let n = usize::from(depth);
            while self.bids.len() > n {
                let worst = *self.bids.keys().next().unwrap();
                self.bids.remove(&worst);
            }
            while self.asks.len() > n {
                let worst = *self.asks.keys().next_back().unwrap();
                self.asks.remove(&worst);
            }
        }
        if let (Some((&b, _)), Some((&a, _))) =
            (self.bids.iter().next_back(), self.asks.iter().next())
        {
            if b >= a {
                self.invalidate();
                return Err(BookError::Crossed {
                    bid: Ticks(b),
                    ask: Ticks(a),
                });
            }
        }
        self.valid = true;
        Ok(applied)
    }

    fn levels(&self, side: Side) -> Vec<Level> {
        let lv = |(&p, &q): (&i64, &i64)| Level {
            price: Ticks(p),
            qty: Lots(q),
        };
        match side {
            Side::Buy => self.bids.iter().rev().map(lv).collect(),
            Side::Sell => self.asks.iter().map(lv).collect(),
        }
    }

    fn qty(&self, side: Side, p: i64) -> i64 {
        let m = if side == Side::Buy {
            &self.bids
        } else {
            &self.asks
        };
        m.get(&p).copied().unwrap_or(0)
    }

    /// Naive gap: walk tick by tick, exactly as the definition reads.
    fn gap(&self, side: Side, best: i64) -> (u32, i64) {
        let dir = if side == Side::Buy { -1 } else { 1 };
        for k in 1..=100i64 {
            let t = best + dir * k;
            if self.qty(side, t) > 0 {
                let liq: i64 = (0..5).map(|j| self.qty(side, t + dir * j)).sum();
                return ((k - 1) as u32, liq);
            }
        }
        (100, 0)
    }

    fn metrics(&self, ts: ExchMs) -> Option<MarketMetrics> {
        if !self.valid {
            return None;
        }
        let (&bid, _) = self.bids.iter().next_back()?;
        let (&ask, _) = self.asks.iter().next()?;
        let (gap_up, liq_up) = self.gap(Side::Sell, ask);
        let (gap_dn, liq_dn) = self.gap(Side::Buy, bid);
        let bd: i64 = self.bids.values().rev().take(5).sum();
        let ad: i64 = self.asks.values().take(5).sum();
        let score_up = liq_up as f64 / (f64::from(gap_up) + 1.0);
        let score_dn = liq_dn as f64 / (f64::from(gap_dn) + 1.0);
        let prob = if score_up + score_dn > 0.0 {
            score_up / (score_up + score_dn)
        } else {
            0.5
        };
        let mid2 = bid + ask;
        Some(MarketMetrics {
            bid: Ticks(bid),
            ask: Ticks(ask),
            mid: HalfTicks(mid2),
            spread: Ticks(ask - bid),
            spread_bps: if mid2 > 0 {
                (ask - bid) as f64 / (mid2 as f64 / 2.0) * 1e4
            } else {
                0.0
            },
            imbalance: if bd + ad > 0 {
                (bd - ad) as f64 / (bd + ad) as f64
            } else {
                0.0
            },
            bid_depth_5: Lots(bd),
            ask_depth_5: Lots(ad),
            timestamp: ts,
            update_id: UpdateId(self.last?),
            gap_prob_resistance_up: prob,
            gap_distance_up: gap_up,
            gap_distance_dn: gap_dn,
            liquidity_up: Lots(liq_up),
            liquidity_dn: Lots(liq_dn),
        })
    }
}

/// One generated message, relative to a drifting centre price.
#[derive(Debug, Clone)]
struct Op {
    snapshot: bool,
    /// 0..7 in sequence, 7 gap, 8 stale, 9 restart with u == 1.
    u_mode: u8,
    depth_pick: u8,
    drift: i64,
    /// (distance from the centre, qty) — qty 0 deletes.
    bids: Vec<(u16, i64)>,
    asks: Vec<(u16, i64)>,
    /// Our own order per side for `Book::without_own`: (which level of the
    /// reference, 5+ = a price the book does not show, qty).
    own: [(u8, i64); 2],
}

fn op() -> impl Strategy<Value = Op> {
    let level = (0u16..400, prop_oneof![3 => Just(0i64), 7 => 1i64..1000]);
    (
        prop::bool::weighted(0.15),
        0u8..10,
        0u8..5,
        prop_oneof![6 => -3i64..=3, 1 => -300i64..=300, 1 => -20_000i64..=20_000],
        prop::collection::vec(level.clone(), 0..20),
        prop::collection::vec(level, 0..20),
        [(0u8..7, 1i64..1500), (0u8..7, 1i64..1500)],
    )
        .prop_map(
            |(snapshot, u_mode, depth_pick, drift, bids, asks, own)| Op {
                snapshot,
                u_mode,
                depth_pick,
                drift,
                bids,
                asks,
                own,
            },
        )
}

fn levels_of(v: &[(i64, i64)]) -> Vec<Level> {
    v.iter()
        .map(|&(p, q)| Level {
            price: Ticks(p),
            qty: Lots(q),
        })
        .collect()
}

fn check_same(book: &Book, r: &RefBook, probes: &[i64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(book.is_valid(), r.valid);
    prop_assert_eq!(book.last_update_id().map(|u| u.0), r.last);
    for side in [Side::Buy, Side::Sell] {
        let got: Vec<Level> = book.iter_levels(side).collect();
        let want = r.levels(side);
        prop_assert_eq!(&got, &want, "{:?} levels", side);
        prop_assert_eq!(book.level_count(side), want.len());
        prop_assert_eq!(book.best(side), want.first().copied());
        for n in [1usize, 5, 1000] {
            let d: i64 = want.iter().take(n).map(|l| l.qty.0).sum();
            prop_assert_eq!(book.depth_sum(side, n), Lots(d));
        }
        for &p in probes {
            prop_assert_eq!(book.qty_at(side, Ticks(p)), Lots(r.qty(side, p)));
            // Scans and sums from arbitrary points, against a tick-by-tick walk.
            let dir = if side == Side::Buy { -1 } else { 1 };
            for max in [1u32, 7, 100] {
                let want = (1..=i64::from(max))
                    .map(|k| p + dir * k)
                    .find(|&t| r.qty(side, t) > 0)
                    .map(Ticks);
                prop_assert_eq!(book.first_occupied_beyond(side, Ticks(p), max), want);
                let sum: i64 = (0..i64::from(max)).map(|j| r.qty(side, p + dir * j)).sum();
                prop_assert_eq!(book.sum_ticks(side, Ticks(p), max), Lots(sum));
            }
        }
    }
    prop_assert_eq!(book.best_bid(), r.levels(Side::Buy).first().copied());
    prop_assert_eq!(book.best_ask(), r.levels(Side::Sell).first().copied());
    let ts = ExchMs(42);
    match (analytics::compute(book, ts), r.metrics(ts)) {
        (Some(mut got), Some(want)) => {
            // Ratios may differ in the last bit from a differently ordered
            // formula; everything else must be exact.
            for (g, w) in [
                (got.spread_bps, want.spread_bps),
                (got.imbalance, want.imbalance),
                (got.gap_prob_resistance_up, want.gap_prob_resistance_up),
            ] {
                prop_assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{} vs {}", g, w);
            }
            got.spread_bps = want.spread_bps;
            got.imbalance = want.imbalance;
            got.gap_prob_resistance_up = want.gap_prob_resistance_up;
            prop_assert_eq!(got, want);
        }
        (got, want) => prop_assert_eq!(got, want),
    }
    Ok(())
}

fn run(window_ticks: u32, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut book = Book::new(BookConfig {
        window_ticks,
        // Never reached by these sequences (at most 40 × 20 levels a side),
        // so the reference need not model it; OverflowFull has its own test.
        overflow_capacity: 1024,
    });
    let mut r = RefBook::default();
    let mut centre: i64 = 1_000_000;
    let mut sent: u64 = 0;
    let mut last_depth: u16 = 50;
    for o in ops {
        centre += o.drift;
        let u = match o.u_mode {
            9 => 1,
            7 => sent + 2 + u64::from(o.depth_pick),
            8 => sent.saturating_sub(u64::from(o.depth_pick % 3)),
            _ => sent + 1,
        };
        sent = sent.max(u);
        let depth = if o.snapshot || o.u_mode == 9 {
            last_depth = [0u16, 1, 5, 50, 200][usize::from(o.depth_pick)];
            last_depth
        } else {
            last_depth
        };
        let bids: Vec<(i64, i64)> = o
            .bids
            .iter()
            .map(|&(d, q)| (centre - 1 - i64::from(d), q))
            .collect();
        let asks: Vec<(i64, i64)> = o
            .asks
            .iter()
            .map(|&(d, q)| (centre + 1 + i64::from(d), q))
            .collect();
        let (bl, al) = (levels_of(&bids), levels_of(&asks));
        let kind = if o.snapshot {
            BookKind::Snapshot
        } else {
            BookKind::Delta
        };
        let msg = BookUpdate {
            kind,
            depth,
            symbol: Symbol::default(),
            u: UpdateId(u),
            seq: Seq(u),
            ts: ExchMs(u),
            cts: None,
            bids: &bl,
            asks: &al,
        };
        let got = book.apply(&msg);
        let want = r.apply(kind, depth, u, &bids, &asks);
        prop_assert_eq!(got, want, "message u={} kind={:?}", u, kind);
        let mut probes = vec![centre, centre - 1, centre + 1, centre - 250, centre + 250];
        probes.extend(bids.iter().take(2).map(|b| b.0));
        probes.extend(asks.iter().take(2).map(|a| a.0));
        if let Some(l) = r.levels(Side::Buy).first() {
            probes.push(l.price.0);
        }
        if let Some(l) = r.levels(Side::Sell).first() {
            probes.push(l.price.0);
        }
        check_same(&book, &r, &probes)?;

        // Our own orders taken out: the book `f` sees is the reference with
        // our size subtracted, and afterwards the book is as it was.
        let mut own = [None; 2];
        let mut minus = r.clone();
        for (k, side) in [Side::Buy, Side::Sell].into_iter().enumerate() {
            let (pick, qty) = o.own[k];
            let price = match r.levels(side).get(usize::from(pick)) {
                Some(l) if pick < 5 => l.price.0,
                _ => centre + if k == 0 { -5000 } else { 5000 },
            };
            own[k] = Some(Level {
                price: Ticks(price),
                qty: Lots(qty),
            });
            let map = if k == 0 {
                &mut minus.bids
            } else {
                &mut minus.asks
            };
            if let Some(q) = map.get(&price).copied() {
                if q > qty {
                    map.insert(price, q - qty);
                } else {
                    map.remove(&price);
                }
            }
        }
        book.without_own(own, |b| check_same(b, &minus, &probes))?;
        check_same(&book, &r, &probes)?;

        // The same sizes added (the backtest's own orders shown in a
        // recorded book), at levels the book shows or new ones near the
        // centre: `f` sees the reference plus them, and afterwards the book
        // is as it was.
        if book.is_valid() {
            let mut add = [None; 2];
            let mut plus = r.clone();
            for (k, side) in [Side::Buy, Side::Sell].into_iter().enumerate() {
                let (pick, qty) = o.own[k];
                let price = match r.levels(side).get(usize::from(pick)) {
                    Some(l) if pick < 5 => l.price.0,
                    _ => {
                        r.levels(side).first().map_or(centre, |l| l.price.0)
                            + if k == 0 { -1 } else { 1 }
                    }
                };
                if price <= 0 {
                    continue;
                }
                add[k] = Some(Level {
                    price: Ticks(price),
                    qty: Lots(qty),
                });
                let map = if k == 0 {
                    &mut plus.bids
                } else {
                    &mut plus.asks
                };
                *map.entry(price).or_insert(0) += qty;
            }
            book.with_added(add, |b| check_same(b, &plus, &probes))?;
            check_same(&book, &r, &probes)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn book_matches_reference_small_window(ops in prop::collection::vec(op(), 1..40)) {
        run(64, &ops)?;
    }

    #[test]
    fn book_matches_reference_default_window(ops in prop::collection::vec(op(), 1..40)) {
        run(4096, &ops)?;
    }
}

fn lv(p: i64, q: i64) -> Level {
    Level {
        price: Ticks(p),
        qty: Lots(q),
    }
}

fn msg<'a>(kind: BookKind, u: u64, bids: &'a [Level], asks: &'a [Level]) -> BookUpdate<'a> {
    BookUpdate {
        kind,
        depth: 0,
        symbol: Symbol::default(),
        u: UpdateId(u),
        seq: Seq(u),
        ts: ExchMs(u),
        cts: None,
        bids,
        asks,
    }
}

#[test]
fn full_overflow_rejects_and_invalidates() {
    let mut book = Book::new(BookConfig {
        window_ticks: 64,
        overflow_capacity: 2,
    });
    let bids = [lv(1000, 1), lv(500, 1), lv(400, 1)];
    let asks = [lv(1001, 1)];
    assert_eq!(
        book.apply(&msg(BookKind::Snapshot, 5, &bids, &asks)),
        Ok(Applied::Reset)
    );
    assert_eq!(book.level_count(Side::Buy), 3);
    // A third out-of-window bid does not fit.
    let more = [lv(300, 1)];
    assert_eq!(
        book.apply(&msg(BookKind::Delta, 6, &more, &[])),
        Err(BookError::OverflowFull { side: Side::Buy })
    );
    assert!(!book.is_valid());
    assert_eq!(book.best_bid(), None);
    // Deltas are refused until a snapshot arrives.
    assert_eq!(
        book.apply(&msg(BookKind::Delta, 7, &[], &[])),
        Err(BookError::NeedSnapshot { got: UpdateId(7) })
    );
    assert_eq!(
        book.apply(&msg(BookKind::Snapshot, 9, &bids, &asks)),
        Ok(Applied::Reset)
    );
    assert!(book.is_valid());
}

#[test]
fn bad_levels_are_typed_errors_and_invalidate() {
    let mut book = Book::new(BookConfig::default());
    let bids = [lv(1000, 1)];
    let asks = [lv(1001, 1)];
    book.apply(&msg(BookKind::Snapshot, 5, &bids, &asks))
        .unwrap();
    let neg = [lv(999, -1)];
    assert_eq!(
        book.apply(&msg(BookKind::Delta, 6, &neg, &[])),
        Err(BookError::NegativeQty {
            side: Side::Buy,
            price: Ticks(999)
        })
    );
    assert!(!book.is_valid());
    book.apply(&msg(BookKind::Snapshot, 7, &bids, &asks))
        .unwrap();
    for p in [i64::MAX, i64::MIN, (1 << 62) + 1] {
        let huge = [lv(p, 1)];
        assert_eq!(
            book.apply(&msg(BookKind::Snapshot, 8, &[], &huge)),
            Err(BookError::PriceOutOfRange {
                side: Side::Sell,
                price: Ticks(p)
            })
        );
    }
    // Extreme but in-range prices work, including negative ones.
    let lo = [lv(-(1 << 62), 3)];
    let hi = [lv(1 << 62, 4)];
    assert_eq!(
        book.apply(&msg(BookKind::Snapshot, 9, &lo, &hi)),
        Ok(Applied::Reset)
    );
    assert_eq!(book.best_bid(), Some(lv(-(1 << 62), 3)));
    assert_eq!(book.best_ask(), Some(lv(1 << 62, 4)));
    let m = analytics::compute(&book, ExchMs(1)).unwrap();
    assert_eq!(m.gap_distance_up, 100);
    // 2^63 ticks apart does not fit in i64: the spread saturates, no panic.
    assert_eq!(m.spread, Ticks(i64::MAX));
    // Queries at the extremes of i64 are answered, not panicked on.
    for side in [Side::Buy, Side::Sell] {
        for t in [i64::MIN, i64::MAX, 0] {
            let _ = book.qty_at(side, Ticks(t));
            let _ = book.first_occupied_beyond(side, Ticks(t), u32::MAX);
            let _ = book.sum_ticks(side, Ticks(t), u32::MAX);
        }
    }
    assert_eq!(
        book.first_occupied_beyond(Side::Sell, Ticks(i64::MIN), u32::MAX),
        None
    );
    assert_eq!(
        book.sum_ticks(Side::Buy, Ticks(i64::MAX), u32::MAX),
        Lots(0)
    );
    assert_eq!(
        book.first_occupied_beyond(Side::Buy, Ticks(0), u32::MAX),
        None,
        "the only bid is 2^62 ticks below zero, beyond u32::MAX"
    );
    assert_eq!(book.qty_at(Side::Buy, Ticks(-(1 << 62))), Lots(3));
    assert!(BookError::Gap {
        expected: UpdateId(3),
        got: UpdateId(5)
    }
    .to_string()
    .contains("expected 3, got 5"));
}

#[test]
fn drifting_touch_recentres_without_losing_levels() {
    let mut book = Book::new(BookConfig {
        window_ticks: 64,
        overflow_capacity: 64,
    });
    let bids = [lv(1000, 1), lv(990, 2), lv(900, 3)];
    let asks = [lv(1001, 4), lv(5000, 6)];
    book.apply(&msg(BookKind::Snapshot, 1, &bids, &asks))
        .unwrap();
    let base0 = book.window_base();
    let mut r = RefBook::default();
    let as_pairs = |v: &[Level]| v.iter().map(|l| (l.price.0, l.qty.0)).collect::<Vec<_>>();
    r.apply(BookKind::Snapshot, 0, 1, &as_pairs(&bids), &as_pairs(&asks))
        .unwrap();
    // Walk the touch up 40 ticks per delta, leaving the old levels behind.
    let mut moves = 0;
    for step in 1..=10i64 {
        let top = 1000 + 40 * step;
        let d_bids = [lv(top, 10 + step)];
        let d_asks = [lv(top + 1, 20 + step), lv(top - 39, 0)];
        let before = book.window_base();
        let u = 1 + step as u64;
        assert_eq!(
            book.apply(&msg(BookKind::Delta, u, &d_bids, &d_asks)),
            Ok(Applied::Delta)
        );
        r.apply(
            BookKind::Delta,
            0,
            u,
            &as_pairs(&d_bids),
            &as_pairs(&d_asks),
        )
        .unwrap();
        if book.window_base() != before {
            moves += 1;
        }
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(
                book.iter_levels(side).collect::<Vec<_>>(),
                r.levels(side),
                "step {step}"
            );
        }
    }
    assert!(moves >= 5, "window moved only {moves} times");
    assert!(book.window_base().0 > base0.0 + 300);
    // The first snapshot's far bids are now hundreds of ticks below the window.
    assert_eq!(book.qty_at(Side::Buy, Ticks(900)), Lots(3));
    assert_eq!(book.level_count(Side::Buy), 13);
}

/// Any input at all: prices anywhere in i64, negative sizes, any ids, any
/// depth, a tiny window and overflow. `apply` must never panic, and whatever
/// it accepts must leave a book that is uncrossed, within depth, and
/// internally consistent.
#[derive(Debug, Clone)]
struct Wild {
    snapshot: bool,
    u: u64,
    depth: u16,
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
}

fn wild() -> impl Strategy<Value = Wild> {
    let price = prop_oneof![
        4 => 990i64..1010,
        2 => 0i64..5000,
        1 => any::<i64>(),
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(1i64 << 62), Just(-(1i64 << 62))],
    ];
    let qty = prop_oneof![3 => Just(0i64), 6 => 1i64..100, 1 => any::<i64>()];
    let level = (price, qty);
    (
        prop::bool::weighted(0.2),
        prop_oneof![4 => 0u64..12, 1 => any::<u64>()],
        prop_oneof![Just(0u16), 1u16..4, any::<u16>()],
        prop::collection::vec(level.clone(), 0..12),
        prop::collection::vec(level, 0..12),
    )
        .prop_map(|(snapshot, u, depth, bids, asks)| Wild {
            snapshot,
            u,
            depth,
            bids,
            asks,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_messages_never_panic(msgs in prop::collection::vec(wild(), 1..30)) {
        let mut book = Book::new(BookConfig { window_ticks: 1, overflow_capacity: 4 });
        prop_assert_eq!(book.config().window_ticks, 64);
        for w in &msgs {
            let (bl, al) = (levels_of(&w.bids), levels_of(&w.asks));
            let m = BookUpdate {
                kind: if w.snapshot { BookKind::Snapshot } else { BookKind::Delta },
                depth: w.depth,
                symbol: Symbol::default(),
                u: UpdateId(w.u),
                seq: Seq(0),
                ts: ExchMs(0),
                cts: None,
                bids: &bl,
                asks: &al,
            };
            let before: Vec<Level> = book.iter_levels(Side::Buy).collect();
            let was_valid = book.is_valid();
            let r = book.apply(&m);
            match r {
                Ok(Applied::Stale) => {
                    prop_assert!(was_valid);
                    prop_assert_eq!(book.iter_levels(Side::Buy).collect::<Vec<_>>(), before);
                }
                Ok(_) => prop_assert!(book.is_valid()),
                Err(BookError::NeedSnapshot { .. }) => prop_assert!(!was_valid),
                Err(e) => {
                    prop_assert!(!book.is_valid(), "{}", e);
                    prop_assert!(!e.to_string().is_empty());
                }
            }
            if !book.is_valid() {
                prop_assert_eq!(book.best_bid(), None);
                prop_assert_eq!(book.level_count(Side::Sell), 0);
                continue;
            }
            for side in [Side::Buy, Side::Sell] {
                let lv: Vec<Level> = book.iter_levels(side).collect();
                prop_assert_eq!(lv.len(), book.level_count(side));
                // The depth limit binds the message that was applied (a stale
                // message with another depth changes nothing).
                if w.depth > 0 && matches!(r, Ok(Applied::Reset | Applied::Delta)) {
                    prop_assert!(lv.len() <= usize::from(w.depth));
                }
                for pair in lv.windows(2) {
                    match side {
                        Side::Buy => prop_assert!(pair[0].price > pair[1].price),
                        Side::Sell => prop_assert!(pair[0].price < pair[1].price),
                    }
                }
                for l in &lv {
                    prop_assert!(l.qty.0 > 0);
                    prop_assert_eq!(book.qty_at(side, l.price), l.qty);
                }
            }
            if let (Some(b), Some(a)) = (book.best_bid(), book.best_ask()) {
                prop_assert!(b.price < a.price);
                let _ = analytics::compute(&book, ExchMs(0));
            }
        }
    }
}
