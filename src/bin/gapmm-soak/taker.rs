//! The taker flow: a second account that crosses the spread with IOC limit
//! orders over signed REST, as another trader would, so that the engine's
//! quotes are filled on both sides.

use crate::chaos::{between, Rng};
use gapmm::ids::Category;
use gapmm::sim::SimHandle;
use gapmm::units::Step;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The taker account's key (added to the simulator by the soak).
pub const KEY: &str = "soaktaker";
/// Its secret.
pub const SECRET: &str = "soaktakersecret";

/// What the taker did.
#[derive(Debug, Clone, Copy, Default)]
pub struct TakerReport {
    /// Orders sent.
    pub sent: u64,
    /// Answered retCode 0.
    pub accepted: u64,
    /// Answered with another retCode or HTTP status (faults included).
    pub refused: u64,
    /// No answer (connection dropped, timeout).
    pub failed: u64,
}

/// The symbol the taker trades and its steps.
pub struct Market<'a> {
    /// Symbol.
    pub symbol: &'a str,
    /// Category.
    pub category: Category,
    /// Price step.
    pub tick: Step,
    /// Quantity step.
    pub lot: Step,
}

/// Sends one IOC order every `every` until `stop` is set. Each order takes
/// the opposite side's best one to three levels at random, so it reaches
/// the engine's tight quote whenever that is at the touch.
pub fn run(
    sim: &SimHandle,
    m: &Market<'_>,
    every: Duration,
    seed: u64,
    stop: &AtomicBool,
) -> TakerReport {
    let mut rng = Rng::new(seed ^ 0x7A4E_5EED);
    let agent = crate::probe::agent(Duration::from_secs(10));
    let url = format!("{}/v5/order/create", sim.http_url());
    let mut r = TakerReport::default();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            // Pacing the flow (not synchronising with anything).
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
            continue;
        }
        next += every;
        let buy = rng.next_u64() & 1 == 0;
        let depth = between(&mut rng, 1, 3) as usize;
        let Ok(Some((bids, asks))) = sim.book_levels(m.symbol, m.category, depth) else {
            continue;
        };
        let levels = if buy { &asks } else { &bids };
        let Some(&(price, _)) = levels.last() else {
            continue;
        };
        let qty: i64 = levels.iter().map(|&(_, q)| q).sum();
        let body = format!(
            r#"{{"category":"{}","symbol":"{}","side":"{}","orderType":"Limit","qty":"{}","price":"{}","timeInForce":"IOC"}}"#,
            m.category.as_str(),
            m.symbol,
            if buy { "Buy" } else { "Sell" },
            m.lot.display(qty),
            m.tick.display(price)
        );
        let ts = gapmm::time::wall_ms().0;
        let sign = gapmm::sim::auth::sign_rest(SECRET, ts, KEY, 5000, body.as_bytes());
        r.sent += 1;
        let resp = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-BAPI-API-KEY", KEY)
            .header("X-BAPI-TIMESTAMP", ts.to_string())
            .header("X-BAPI-SIGN", sign)
            .header("X-BAPI-RECV-WINDOW", "5000")
            .send(body.as_str());
        match resp {
            Ok(mut resp) => {
                let ok = resp.status().as_u16() == 200
                    && resp
                        .body_mut()
                        .read_to_string()
                        .is_ok_and(|t| t.contains("\"retCode\":0,"));
                if ok {
                    r.accepted += 1;
                } else {
                    r.refused += 1;
                }
            }
            Err(_) => r.failed += 1,
        }
    }
    r
}
