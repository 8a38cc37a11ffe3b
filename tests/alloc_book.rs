//! Proves the book and the analytics allocate nothing after construction:
//! 10,000 applies (deltas, periodic snapshots, window re-centring and
//! overflow traffic) plus an analytics pass after each, with and without our
//! own orders taken out of the book, under a counting global allocator.

mod support_alloc;

use gapmm::analytics;
use gapmm::book::{Applied, Book, BookConfig};
use gapmm::codec::public::{BookKind, BookUpdate, Level};
use gapmm::ids::{Seq, Symbol, UpdateId};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Ticks};

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

const N: usize = 10_000;

/// Pre-built messages: a snapshot every 1,000, otherwise 10-level deltas
/// around a touch that walks far enough to re-centre a 256-tick window and to
/// push far levels into overflow.
fn messages() -> Vec<(BookKind, u64, Vec<Level>, Vec<Level>)> {
    let mut out = Vec::with_capacity(N);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let lv = |p: i64, q: i64| Level {
        price: Ticks(p),
        qty: Lots(q),
    };
    for i in 0..N {
        let u = i as u64 + 2;
        // Touch walks a triangle wave of ±600 ticks.
        let phase = (i % 2400) as i64;
        let touch = 100_000
            + if phase < 1200 {
                phase - 600
            } else {
                1800 - phase
            };
        if i % 1000 == 0 {
            let bids = (0..200).map(|k| lv(touch - 1 - k * 2, 5 + k)).collect();
            let asks = (0..200).map(|k| lv(touch + 1 + k * 2, 5 + k)).collect();
            out.push((BookKind::Snapshot, u, bids, asks));
        } else {
            let mut bids = Vec::new();
            let mut asks = Vec::new();
            // Clear whatever could cross, then add near and far levels.
            for k in 0..3 {
                asks.push(lv(touch - k, 0));
                bids.push(lv(touch + k, 0));
            }
            bids.push(lv(touch - 1, 1 + (rnd() % 50) as i64));
            asks.push(lv(touch + 1, 1 + (rnd() % 50) as i64));
            bids.push(lv(touch - 2 - (rnd() % 400) as i64, (rnd() % 3) as i64));
            asks.push(lv(touch + 2 + (rnd() % 400) as i64, (rnd() % 3) as i64));
            out.push((BookKind::Delta, u, bids, asks));
        }
    }
    out
}

#[test]
fn apply_and_analytics_do_not_allocate() {
    let msgs = messages();
    let mut book = Book::new(BookConfig {
        window_ticks: 256,
        overflow_capacity: 4096,
    });
    let symbol = Symbol::new(b"XRPUSDT").unwrap();
    fn mk(m: &(BookKind, u64, Vec<Level>, Vec<Level>), symbol: Symbol) -> BookUpdate<'_> {
        BookUpdate {
            kind: m.0,
            depth: 1000,
            symbol,
            u: UpdateId(m.1),
            seq: Seq(m.1),
            ts: ExchMs(m.1),
            cts: None,
            bids: &m.2,
            asks: &m.3,
        }
    }
    // Warm-up pass (nothing should allocate here either, but only the
    // measured pass is asserted).
    for m in &msgs {
        book.apply(&mk(m, symbol)).unwrap();
    }
    let start_base = book.window_base();
    let mut resets = 0;
    let mut moves = 0;
    let mut metrics = 0;
    let mut without_own = 0;
    let mut outside = 0;
    let mut last_base = start_base;
    let ((), allocs) = support_alloc::counted(|| {
        for m in &msgs {
            match book.apply(&mk(m, symbol)) {
                Ok(Applied::Reset) => resets += 1,
                Ok(_) => {}
                Err(_) => break,
            }
            if book.window_base() != last_base {
                moves += 1;
                last_base = book.window_base();
            }
            let (lo, hi) = (book.window_base().0, book.window_base().0 + 256);
            if book
                .iter_levels(Side::Buy)
                .chain(book.iter_levels(Side::Sell))
                .any(|l| l.price.0 < lo || l.price.0 >= hi)
            {
                outside += 1;
            }
            if analytics::compute(&book, ExchMs(m.1)).is_some() {
                metrics += 1;
            }
            // Our own orders taken out for the analytics and put back: the
            // whole best ask and the farthest bid (often in the overflow
            // array, so it is removed from and re-inserted into it).
            let own = [book.iter_levels(Side::Buy).last(), book.best(Side::Sell)];
            if book
                .without_own(own, |b| analytics::compute(b, ExchMs(m.1)))
                .is_some()
            {
                without_own += 1;
            }
        }
    });
    assert_eq!(without_own, N);
    assert!(book.is_valid());
    assert_eq!(resets, N / 1000);
    assert_eq!(metrics, N);
    assert!(moves > 20, "window moved only {moves} times");
    assert!(
        outside > N / 2,
        "overflow held levels after only {outside} messages"
    );
    assert_eq!(
        allocs, 0,
        "{allocs} allocations in {N} applies + analytics (with own orders out)"
    );
}
