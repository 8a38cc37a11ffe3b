//! The public stream decoder (`orderbook.*`, `publicTrade.*`, replies) on
//! arbitrary frames: it answers an event or a typed error, never panics, and
//! is intact afterwards (a valid snapshot still decodes to its levels).
#![no_main]

use std::cell::RefCell;

use gapmm::codec::public::{PublicDecoder, PublicEvent};
use gapmm::ids::Symbol;
use gapmm::units::Step;
use libfuzzer_sys::fuzz_target;

const SNAPSHOT: &[u8] = br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.1","0.5"]],"a":[["100.2","0.25"]],"u":1,"seq":2},"cts":1}"#;

thread_local! {
    // Built once: a decoder's buffers are sized for the deepest book.
    static DECODER: RefCell<PublicDecoder> = RefCell::new(PublicDecoder::new(
        Symbol::from_str("BTCUSDT").expect("symbol"),
        Step::parse("0.1").expect("step"),
        Step::parse("0.001").expect("step"),
    ));
}

fuzz_target!(|data: &[u8]| DECODER.with_borrow_mut(|d| {
    let _ = d.decode(data);
    match d.decode(SNAPSHOT) {
        Ok(PublicEvent::Book(b)) => {
            assert_eq!(b.bids.len(), 1);
            assert_eq!(b.asks.len(), 1);
        }
        other => panic!(
            "decoder broken after {} bytes of input: {other:?}",
            data.len()
        ),
    }
}));
