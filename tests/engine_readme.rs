//! The README's run command, as a user types it: `gapmm-hot` with no
//! arguments and no keys starts the embedded simulator, and within 10 s its
//! quotes are working, fills arrive and the status line updates every
//! second (after a start-up line with the account's wallet); Ctrl+C exits 0 with the exchange confirming that no order of
//! ours is left open. (The other engine tests use a simulator at a URL and
//! `--idle park`; this one runs the default embedded simulator and the
//! default spinning thread.)

mod engine_support;
mod sim_common;

use engine_support::*;
use std::time::{Duration, Instant};

#[test]
fn the_readme_command_trades_the_embedded_simulator_and_stops_clean() {
    let t0 = Instant::now();
    let engine = Engine::spawn_plain("readme", &[]);
    engine.wait_line(
        "the embedded simulator banner",
        Duration::from_secs(10),
        |l| l.contains("(embedded simulator)"),
    );
    // Start-up reads the account's wallet: the simulator's 10 BTC and
    // 1,000,000 USDT, before any order.
    engine.wait_line("the wallet", Duration::from_secs(10), |l| {
        l == "wallet (UNIFIED): BTC 10, USDT 1000000"
    });
    let left = || {
        Duration::from_secs(10)
            .saturating_sub(t0.elapsed())
            .max(Duration::from_millis(1))
    };
    let working = engine.wait_status("both quotes working", left(), |s| {
        s.live && s.working.0.is_some() && s.working.1.is_some()
    });
    let filled = engine.wait_status("a fill", left(), |s| s.fills >= 1);
    assert!(filled.secs >= working.secs);
    // The status line keeps coming, a second apart.
    let next = engine.wait_status("the next status line", Duration::from_secs(3), |_| true);
    assert!(
        next.secs > filled.secs && next.secs <= filled.secs + 2,
        "{} then {}",
        filled.secs,
        next.secs
    );
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(
        fin.stderr
            .contains("open orders of ours left: none (confirmed by the exchange)"),
        "{}",
        fin.stderr
    );
}
