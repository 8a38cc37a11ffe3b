//! Orders over REST (`--transport rest`), on the real binary against the
//! simulator: the engine quotes both sides over its keep-alive REST
//! connection, amends as prices move, never has two orders on a side, and
//! Ctrl+C cancels everything of ours even while an order request may be in
//! flight (queries and cancel-all use a connection of their own). Its
//! amends carry the simulator's measuring tag.

mod engine_support;
mod sim_common;

use engine_support::*;
use std::time::{Duration, Instant};

#[test]
fn trades_amends_and_stops_clean_over_rest() {
    let sim = start_sim(5, 1000, &[]);
    let mut rest = Rest::new(&sim, KEY, SECRET);
    let engine = Engine::spawn(&sim, "rest", &["--transport", "rest"], &[]);
    engine.wait_status("both quotes working", Duration::from_secs(10), |s| {
        s.live && s.working.0.is_some() && s.working.1.is_some()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let open = rest.open_orders();
        let (b, s) = per_side(&open);
        assert!(b <= 1 && s <= 1, "two orders on a side: {open:?}");
        let amends = of_type(&engine.journal(), "amend").len();
        if amends >= 5 {
            break;
        }
        assert!(Instant::now() < deadline, "{amends} amends in 20 s");
        engine.wait_status("a status line", Duration::from_secs(3), |_| true);
    }
    // Every REST order request carries its reaction tag (a header, to the
    // simulator only): the measuring point files each one, as a reaction to
    // its market message, as a repeat for a tick already timed or, if it was
    // not sent on the tick it reacts to, as unattributed.
    let amends = of_type(&engine.journal(), "amend").len() as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The simulator reads a request a moment after the journal has it.
        let (hists, unattributed, repeats) = sim.reactions().unwrap();
        let timed: u64 = hists
            .iter()
            .filter(|(k, _)| k.starts_with("rest/"))
            .map(|(_, h)| h.len())
            .sum();
        if timed > 0 && timed + unattributed + repeats >= amends {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{timed} timed + {unattributed} untimed + {repeats} repeated REST requests < {amends} amends: {hists:?}"
        );
        engine.wait_status("a status line", Duration::from_secs(3), |_| true);
    }
    let fin = engine.interrupt(Duration::from_secs(30));
    assert!(fin.status.success(), "{}", fin.stderr);
    assert!(
        fin.stderr.contains("none (confirmed by the exchange)"),
        "{}",
        fin.stderr
    );
    assert!(rest.open_orders().is_empty());
    sim.shutdown().unwrap();
}
