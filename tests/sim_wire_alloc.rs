//! The simulator's public encoders allocate nothing once their buffers are
//! warm (a counting global allocator; its own test binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use gapmm::sim::wire::{put_book_msg, put_trade_msg, BookMsg, TradePrint};
use gapmm::units::{Side, Step};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn public_encoders_are_allocation_free_after_warm_up() {
    let tick = Step::parse("0.1").unwrap();
    let lot = Step::parse("0.001").unwrap();
    let levels: Vec<(i64, i64)> = (0..50).map(|i| (600_000 - i, 1 + i)).collect();
    let trades: Vec<TradePrint> = (0..4)
        .map(|i| TradePrint {
            time_ms: 1,
            price: 600_000 + i,
            qty: 3,
            taker_side: Side::Buy,
            trade_id: i as u64,
            seq: 9,
            tick_dir: 0,
        })
        .collect();
    let mut out = Vec::with_capacity(64 * 1024);
    let run = |out: &mut Vec<u8>, n: u64| {
        for k in 0..n {
            out.clear();
            let m = BookMsg {
                topic: b"orderbook.50.BTCUSDT",
                symbol: b"BTCUSDT",
                snapshot: k % 2 == 0,
                ts: k,
                cts: k,
                u: k,
                seq: k,
                tick,
                lot,
            };
            put_book_msg(out, &m, &levels, &levels);
            put_trade_msg(
                out,
                b"publicTrade.BTCUSDT",
                b"BTCUSDT",
                k,
                true,
                &trades,
                tick,
                lot,
            );
        }
    };
    run(&mut out, 10);
    let before = ALLOCS.load(Ordering::Relaxed);
    run(&mut out, 1000);
    assert_eq!(ALLOCS.load(Ordering::Relaxed) - before, 0);
    // The last iteration wrote a book frame followed by a trade frame.
    let mut de = serde_json::Deserializer::from_slice(&out).into_iter::<serde_json::Value>();
    assert_eq!(
        de.next().unwrap().unwrap()["data"]["b"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert_eq!(
        de.next().unwrap().unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
