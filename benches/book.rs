//! Book and analytics hot-path costs.
//!
//! - `book_apply_delta_10_levels`: one in-sequence 10-level delta (sizes
//!   changed, one level deleted and re-added) on a 200-level-a-side book.
//! - `book_apply_snapshot_200_levels`: a full reset from a 200-level-a-side snapshot.
//! - `analytics_gap_scan`: `analytics::compute` (two gap scans, two 5-tick
//!   sums, two depth-5 walks) on a 200-level-a-side book with gaps.
//!
//! Each bench checks its result before timing.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gapmm::analytics;
use gapmm::book::{Applied, Book, BookConfig};
use gapmm::codec::public::{BookKind, BookUpdate, Level};
use gapmm::ids::{Seq, Symbol, UpdateId};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Ticks};

const TOUCH: i64 = 19_531;

fn lv(p: i64, q: i64) -> Level {
    Level {
        price: Ticks(p),
        qty: Lots(q),
    }
}

/// 200 levels a side; every third tick left empty so gaps exist.
fn snapshot_levels() -> (Vec<Level>, Vec<Level>) {
    let mut bids = Vec::new();
    let mut asks = Vec::new();
    let mut k = 0;
    while bids.len() < 200 {
        if k % 3 != 2 {
            bids.push(lv(TOUCH - k, 100 + k));
            asks.push(lv(TOUCH + 1 + k, 100 + k));
        }
        k += 1;
    }
    (bids, asks)
}

fn msg<'a>(kind: BookKind, u: u64, bids: &'a [Level], asks: &'a [Level]) -> BookUpdate<'a> {
    BookUpdate {
        kind,
        depth: 200,
        symbol: Symbol::new(b"XRPUSDT").unwrap_or_default(),
        u: UpdateId(u),
        seq: Seq(u),
        ts: ExchMs(1_733_011_200_000 + u),
        cts: None,
        bids,
        asks,
    }
}

fn snapshot_book() -> Book {
    let (bids, asks) = snapshot_levels();
    let mut book = Book::new(BookConfig::default());
    let r = book.apply(&msg(BookKind::Snapshot, 100, &bids, &asks));
    assert_eq!(r, Ok(Applied::Reset));
    book
}

fn benches(c: &mut Criterion) {
    // --- delta ---
    let mut book = snapshot_book();
    // Two alternating deltas: each changes 4 sizes per side and deletes (a)
    // or re-adds (b) one level per side, so the book returns to the same
    // shape every two messages.
    let a_bids = [
        lv(TOUCH, 7),
        lv(TOUCH - 1, 8),
        lv(TOUCH - 3, 9),
        lv(TOUCH - 4, 0),
        lv(TOUCH - 6, 11),
    ];
    let a_asks = [
        lv(TOUCH + 1, 7),
        lv(TOUCH + 2, 8),
        lv(TOUCH + 4, 9),
        lv(TOUCH + 5, 0),
        lv(TOUCH + 7, 11),
    ];
    let b_bids = [
        lv(TOUCH, 17),
        lv(TOUCH - 1, 18),
        lv(TOUCH - 3, 19),
        lv(TOUCH - 4, 20),
        lv(TOUCH - 6, 21),
    ];
    let b_asks = [
        lv(TOUCH + 1, 17),
        lv(TOUCH + 2, 18),
        lv(TOUCH + 4, 19),
        lv(TOUCH + 5, 20),
        lv(TOUCH + 7, 21),
    ];
    let mut u = 100u64;
    for _ in 0..2 {
        u += 1;
        assert_eq!(
            book.apply(&msg(BookKind::Delta, u, &a_bids, &a_asks)),
            Ok(Applied::Delta)
        );
        assert_eq!(book.qty_at(Side::Buy, Ticks(TOUCH - 4)), Lots::ZERO);
        u += 1;
        assert_eq!(
            book.apply(&msg(BookKind::Delta, u, &b_bids, &b_asks)),
            Ok(Applied::Delta)
        );
        assert_eq!(book.qty_at(Side::Sell, Ticks(TOUCH + 5)), Lots(20));
        assert_eq!(book.level_count(Side::Buy), 200);
    }
    let mut ma = msg(BookKind::Delta, 0, &a_bids, &a_asks);
    let mut mb = msg(BookKind::Delta, 0, &b_bids, &b_asks);
    c.bench_function("book_apply_delta_10_levels", |bch| {
        bch.iter(|| {
            u += 1;
            let m = if u % 2 == 1 { &mut ma } else { &mut mb };
            m.u = UpdateId(u);
            black_box(book.apply(black_box(m)))
        })
    });
    assert!(book.is_valid());

    // --- snapshot ---
    let (bids, asks) = snapshot_levels();
    let mut book = Book::new(BookConfig::default());
    assert_eq!(
        book.apply(&msg(BookKind::Snapshot, 5, &bids, &asks)),
        Ok(Applied::Reset)
    );
    assert_eq!(book.level_count(Side::Buy), 200);
    assert_eq!(book.level_count(Side::Sell), 200);
    assert_eq!(book.best_bid(), Some(lv(TOUCH, 100)));
    let snap = msg(BookKind::Snapshot, 5, &bids, &asks);
    c.bench_function("book_apply_snapshot_200_levels", |bch| {
        bch.iter(|| black_box(book.apply(black_box(&snap))))
    });
    assert_eq!(book.level_count(Side::Sell), 200);

    // --- analytics ---
    let mut book = snapshot_book();
    // Open a 12-tick hole above the ask and a 30-tick hole below the bid.
    let del_asks: Vec<Level> = (TOUCH + 2..=TOUCH + 13).map(|p| lv(p, 0)).collect();
    let del_bids: Vec<Level> = (TOUCH - 30..=TOUCH - 1).map(|p| lv(p, 0)).collect();
    assert_eq!(
        book.apply(&msg(BookKind::Delta, 101, &del_bids, &del_asks)),
        Ok(Applied::Delta)
    );
    let m = analytics::compute(&book, ExchMs(1)).expect("metrics");
    // Asks: ticks TOUCH+14 (k=13, 13%3==1) is the first occupied → gap 12;
    // bids: TOUCH-31 (k=31, 31%3==1) → gap 30.
    assert_eq!(m.gap_distance_up, 12);
    assert_eq!(m.gap_distance_dn, 30);
    // Ask ticks k=13..=17 → k%3 != 2 keeps 13, 15, 16: sizes 113+115+116.
    assert_eq!(m.liquidity_up, Lots(113 + 115 + 116));
    // Bid ticks k=31..=35 → keeps 31, 33, 34: sizes 131+133+134.
    assert_eq!(m.liquidity_dn, Lots(131 + 133 + 134));
    c.bench_function("analytics_gap_scan", |bch| {
        bch.iter(|| black_box(analytics::compute(black_box(&book), ExchMs(1))))
    });
}

criterion_group!(book_benches, benches);
criterion_main!(book_benches);
