//! Send-path rehearsal (`--warm-us`) over real sockets: the engine spinning
//! with rehearsals every 20 µs trades exactly as without them — one order per
//! side, amends applied — and not one rehearsed request reaches the exchange
//! (they go to a private loopback socket). A leak would show as thousands of
//! extra WebSocket frames at the simulator, and as orders it never asked for.

mod engine_support;
mod sim_common;

use engine_support::*;
use std::time::{Duration, Instant};

#[test]
fn rehearsals_never_reach_the_exchange() {
    let sim = start_sim(21, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let engine = Engine::spawn(
        &sim,
        "rehearsal",
        &["--idle", "spin", "--warm-us", "20"],
        &[],
    );
    engine.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.working.0.is_some() && s.working.1.is_some()
    });
    // Trade for a while: ~100k rehearsals at 20 µs if the thread were idle
    // throughout.
    let t = Instant::now();
    let mut samples = 0;
    while t.elapsed() < Duration::from_secs(2) {
        let open = rest.open_orders();
        let (b, s) = per_side(&open);
        assert!(b <= 1 && s <= 1, "duplicate orders {open:?}");
        samples += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(samples > 10);
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(rest.open_orders().is_empty());
    // Every WebSocket frame the simulator received from the engine: its
    // requests, plus the subscribe/auth frames of three connections (and at
    // most a few pings). Rehearsals would add one per 20 µs of idle time.
    let requests: u64 = fin
        .stderr
        .lines()
        .find_map(|l| {
            let rest = l.split("requests ").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .expect("final report with the request count");
    let ws_in = sim.stats().ws_in;
    assert!(requests > 5, "the engine traded: {requests} requests");
    assert!(
        ws_in <= requests + 12,
        "{ws_in} WebSocket frames at the exchange for {requests} requests"
    );
    sim.shutdown().unwrap();
}
