//! The recording readers (the recorder's `<ns> <json>` lines and Bybit's
//! archive lines, through `Tape::from_bytes`) on arbitrary files. Never a
//! panic: a tape or an error naming the line. A loaded tape is whole: its
//! counts match its events, and every book event's levels are in the arena
//! (`Tape::book` gives exactly the counted levels).
#![no_main]

use gapmm::replay::{split_line, EventKind, Tape, TapeSpec};
use gapmm::units::Step;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let _ = split_line(line);
    }
    let spec = TapeSpec {
        // BTCUSDT spot's steps, those of the seed recording.
        price_step: Step::parse("0.01").unwrap(),
        qty_step: Step::parse("0.000001").unwrap(),
        symbol: None,
    };
    let Ok(tape) = Tape::from_bytes("fuzz", data, &spec) else {
        return;
    };
    let stats = tape.stats();
    let mut books = 0u64;
    let mut trades = 0u64;
    for ev in tape.events() {
        match ev.kind {
            EventKind::Book { bids, asks, .. } => {
                books += 1;
                let b = tape.book(ev).expect("a book event has a book");
                assert_eq!(b.bids.len(), bids as usize, "bid levels outside the arena");
                assert_eq!(b.asks.len(), asks as usize, "ask levels outside the arena");
            }
            EventKind::Trade(t) => {
                trades += 1;
                assert!(t.qty.0 > 0, "a trade of no size was kept");
            }
        }
    }
    assert_eq!(books, stats.books);
    assert_eq!(trades, stats.trades);
});
