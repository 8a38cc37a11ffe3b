//! Journal recovery on arbitrary files (torn, tampered, foreign lines). Never
//! a panic; every line is read, skipped as bad or as foreign; and nothing is
//! doubled: the journal written twice over recovers the same fills, each
//! counted once. (Not the same position: a `pos` line is absolute, so the
//! second copy's snapshot supersedes fills the first copy counted after it.)
#![no_main]

use gapmm::ids::Category;
use gapmm::oms::journal::{recover, recover_session, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let once = recover(data);
    assert!(once.bad_lines <= once.lines);
    let mut twice = data.to_vec();
    twice.push(b'\n');
    twice.extend_from_slice(data);
    let again = recover(&twice);
    assert_eq!(again.seen, once.seen, "a fill was doubled");
    assert_eq!(again.pnl.fills, once.pnl.fills, "a fill was counted twice");
    let session = Session {
        venue: "sim@127.0.0.1:1",
        account: "1/1",
        category: Category::Spot,
        symbol: "BTCUSDT",
        tick: "0.01",
        lot: "0.000001",
    };
    let mine = recover_session(data, &session);
    assert!(mine.seen.len() <= once.seen.len());
    assert!(mine.foreign_lines + mine.bad_lines <= mine.lines);
});
