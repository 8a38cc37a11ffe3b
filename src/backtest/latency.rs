//! Latency models: how late the engine sees the market, and how long its
//! requests and the exchange's answers travel.
//!
//! The backtest keeps two clocks on one time line (ns, the recording's local
//! clock): *engine time*, when the engine sees a message or an answer, and
//! *venue time*, when the exchange matched it.
//!
//! - [`FeedLatency`] maps each recorded message to both. `Recorded` (the
//!   default for the recorder's layout) takes the exchange's own times: a
//!   message happened at its `ts` on the exchange and reached the engine at
//!   its recorded receive time. Where the recorder's clock reads *earlier*
//!   than the exchange's (some `receive − ts` is negative: the clocks
//!   disagree, a message cannot arrive before it happened), the offset is
//!   estimated as the smallest `receive − ts` within `window_ns` of each
//!   message (0: over the whole recording), and the exchange time moved by
//!   it: the fastest message of the window is taken to have had no latency.
//!   A window follows a recorder clock that drifts over a long recording
//!   (the 24 h NEXOUSDT recording's drifts by ~0.2 s: one offset for the
//!   whole day would add that to every latency). Where the clocks agree (no
//!   negative `receive − ts` in the window) the times are taken as they
//!   are. `Constant` puts every message a fixed time before its receive time
//!   (an archive line has no receive time: it is seen that long after its
//!   `ts`).
//! - [`Dist`] is an order-path latency: a constant, or an empirical
//!   distribution read from the `.hgrm` files of a `gapmm-hot --hist-out`
//!   run, sampled with a seeded generator (the same seed replays the same
//!   latencies). [`OrderLatency::from_hist_dir`] turns the run's `ack` hop
//!   (request written → answer read, a round trip) and `confirm` hop
//!   (request written → `order` stream push read) into the three legs:
//!   request half the ack round trip, answer the other half, push
//!   `confirm − ack/2`.
//!
//! Requests reach the exchange in the order they were sent, and answers
//! come back in order per channel (a TCP connection does not overtake
//! itself): a sampled latency that would overtake is held behind the
//! previous one ([`Fifo`]).
//!
//! Contract: sampling allocates nothing; reading a histogram file allocates.

use std::path::Path;

use crate::replay::{Event, Layout, Tape};
use crate::sim::market::Prng;

/// How recorded messages map to engine and venue time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedLatency {
    /// From the recording's receive and exchange times, the clock offset
    /// estimated over a window of this many ns around each message (0: the
    /// whole recording). See the module docs.
    Recorded {
        /// The offset window (ns).
        window_ns: u64,
    },
    /// A fixed feed latency in ns.
    Constant(u64),
}

impl FeedLatency {
    /// The default: recorded times, offset over ±5 minutes.
    pub const RECORDED: FeedLatency = FeedLatency::Recorded {
        window_ns: 300_000_000_000,
    };

    /// Parses `recorded`, `recorded:SECONDS` (the offset window; 0 = the
    /// whole recording) or a constant in µs.
    pub fn parse(s: &str) -> Result<FeedLatency, String> {
        let s = s.trim();
        if s == "recorded" {
            return Ok(FeedLatency::RECORDED);
        }
        if let Some(w) = s.strip_prefix("recorded:") {
            return match w.trim().parse::<f64>() {
                Ok(sec) if sec.is_finite() && sec >= 0.0 => Ok(FeedLatency::Recorded {
                    window_ns: (sec * 1e9) as u64,
                }),
                _ => Err(format!(
                    "feed latency {s:?}: the window must be seconds >= 0"
                )),
            };
        }
        match s.parse::<f64>() {
            Ok(us) if us.is_finite() && us >= 0.0 => {
                Ok(FeedLatency::Constant((us * 1000.0) as u64))
            }
            _ => Err(format!(
                "feed latency {s:?}: expected recorded, recorded:SECONDS or µs"
            )),
        }
    }
}

/// The two times of every message of a tape.
#[derive(Debug, Clone)]
pub struct FeedClock {
    model: FeedLatency,
    layout: Layout,
    /// Per event, the clock offset taken off its exchange time (ns, ≤ 0),
    /// for `Recorded`.
    offsets: Vec<i64>,
}

/// `receive − ts` of an event (ns).
fn gap(e: &Event) -> i64 {
    let d = i128::from(e.local_ns) - i128::from(e.exch.0) * 1_000_000;
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Per event, `min(0, min over events within `window_ns` of it of
/// receive − ts)`; events are in receive-time order (0 = one window).
fn window_offsets(events: &[Event], window_ns: u64) -> Vec<i64> {
    let gaps: Vec<i64> = events.iter().map(gap).collect();
    if window_ns == 0 {
        let m = gaps.iter().copied().min().unwrap_or(0).min(0);
        return vec![m; events.len()];
    }
    let mut out = Vec::with_capacity(events.len());
    // Indices whose gaps increase from front (`q[head]`) to back: the front
    // is the window's minimum. A vector with a moving head: every index is
    // pushed once and popped at most once.
    let mut q: Vec<usize> = Vec::with_capacity(events.len().min(1 << 16));
    let mut head = 0usize;
    let mut hi = 0usize;
    for e in events {
        let upto = e.local_ns.saturating_add(window_ns);
        while let Some(n) = events.get(hi) {
            if n.local_ns > upto {
                break;
            }
            let g = gaps[hi];
            while q.len() > head && q.last().is_some_and(|&b| gaps[b] >= g) {
                q.pop();
            }
            q.push(hi);
            hi += 1;
        }
        while q
            .get(head)
            .is_some_and(|&f| events[f].local_ns.saturating_add(window_ns) < e.local_ns)
        {
            head += 1;
        }
        let m = q.get(head).map(|&f| gaps[f]).unwrap_or(0);
        out.push(m.min(0));
    }
    out
}

impl FeedClock {
    /// The clock for `tape` under `model`. `Recorded` on a tape without
    /// receive times (an archive) falls back to `Constant(fallback)`.
    pub fn new(tape: &Tape, model: FeedLatency, fallback: u64) -> FeedClock {
        let model = match (model, tape.layout()) {
            (FeedLatency::Recorded { .. }, Layout::Archive) => FeedLatency::Constant(fallback),
            (m, _) => m,
        };
        let offsets = match model {
            FeedLatency::Recorded { window_ns } => window_offsets(tape.events(), window_ns),
            FeedLatency::Constant(_) => Vec::new(),
        };
        FeedClock {
            model,
            layout: tape.layout(),
            offsets,
        }
    }

    /// The model in use.
    pub fn model(&self) -> FeedLatency {
        self.model
    }

    /// The clock offset applied to event `i` (ns; 0 for constant models).
    pub fn offset_ns(&self, i: usize) -> i64 {
        self.offsets.get(i).copied().unwrap_or(0)
    }

    /// When the engine sees `e`.
    #[inline]
    pub fn engine_ns(&self, e: &Event) -> u64 {
        match (self.model, self.layout) {
            (FeedLatency::Constant(c), Layout::Archive) => e.local_ns.saturating_add(c),
            _ => e.local_ns,
        }
    }

    /// When the exchange matched event `i`, `e` (never after the engine
    /// sees it).
    #[inline]
    pub fn venue_ns(&self, i: usize, e: &Event) -> u64 {
        match (self.model, self.layout) {
            (FeedLatency::Constant(_), Layout::Archive) => e.local_ns,
            (FeedLatency::Constant(c), Layout::Recorder) => e.local_ns.saturating_sub(c),
            (FeedLatency::Recorded { .. }, _) => {
                let v = i128::from(e.exch.0) * 1_000_000 + i128::from(self.offset_ns(i));
                u64::try_from(v.max(0)).unwrap_or(0).min(e.local_ns)
            }
        }
    }
}

/// A latency distribution (ns).
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always this.
    Constant(u64),
    /// `(value_ns, cumulative share)` points, ascending; sampled by inverse
    /// CDF with linear interpolation between points.
    Empirical(Vec<(u64, f64)>),
}

impl Dist {
    /// One sample.
    #[inline]
    pub fn sample(&self, rng: &mut Prng) -> u64 {
        match self {
            Dist::Constant(c) => *c,
            Dist::Empirical(points) => {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                let i = points.partition_point(|p| p.1 < u);
                match (i.checked_sub(1).and_then(|j| points.get(j)), points.get(i)) {
                    (Some(&(v0, q0)), Some(&(v1, q1))) if q1 > q0 => {
                        let w = (u - q0) / (q1 - q0);
                        (v0 as f64 + w * (v1 as f64 - v0 as f64)) as u64
                    }
                    (_, Some(&(v, _))) | (Some(&(v, _)), None) => v,
                    (None, None) => 0,
                }
            }
        }
    }

    /// The median (ns).
    pub fn median(&self) -> u64 {
        match self {
            Dist::Constant(c) => *c,
            Dist::Empirical(p) => {
                let i = p.partition_point(|x| x.1 < 0.5);
                p.get(i).or(p.last()).map(|x| x.0).unwrap_or(0)
            }
        }
    }

    /// Parses HdrHistogram's percentile-distribution text (`.hgrm`: lines of
    /// `value percentile count 1/(1-p)`, values in `unit_ns` ns each).
    pub fn from_hgrm(text: &str, unit_ns: f64) -> Result<Dist, String> {
        let mut points: Vec<(u64, f64)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let mut f = line.split_whitespace();
            let (Some(v), Some(q)) = (f.next(), f.next()) else {
                continue;
            };
            let (Ok(v), Ok(q)) = (v.parse::<f64>(), q.parse::<f64>()) else {
                continue; // the header and the `#[Mean ...]` footer
            };
            if !(v.is_finite() && v >= 0.0 && (0.0..=1.0).contains(&q)) {
                return Err(format!("line {}: value or percentile out of range", i + 1));
            }
            let ns = (v * unit_ns).round() as u64;
            if let Some(last) = points.last_mut() {
                if q < last.1 || ns < last.0 {
                    return Err(format!("line {}: percentiles must not decrease", i + 1));
                }
                if q == last.1 {
                    last.0 = ns;
                    continue;
                }
            }
            points.push((ns, q));
        }
        if points.is_empty() {
            return Err("no percentile lines".into());
        }
        Ok(Dist::Empirical(points))
    }

    /// This distribution with every value transformed by `f` (kept sorted).
    fn map(&self, f: impl Fn(u64) -> u64) -> Dist {
        match self {
            Dist::Constant(c) => Dist::Constant(f(*c)),
            Dist::Empirical(p) => {
                let mut v: Vec<(u64, f64)> = p.iter().map(|&(x, q)| (f(x), q)).collect();
                // Keep values non-decreasing in q (a transformed curve could dip).
                for i in 1..v.len() {
                    if v[i].0 < v[i - 1].0 {
                        v[i].0 = v[i - 1].0;
                    }
                }
                Dist::Empirical(v)
            }
        }
    }
}

/// The order path's three legs.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLatency {
    /// Engine → exchange.
    pub request: Dist,
    /// Exchange → engine: the answer to a request (ack).
    pub answer: Dist,
    /// Exchange → engine: private stream pushes (order, execution).
    pub push: Dist,
}

impl OrderLatency {
    /// Every leg `ns`.
    pub fn constant(ns: u64) -> OrderLatency {
        OrderLatency {
            request: Dist::Constant(ns),
            answer: Dist::Constant(ns),
            push: Dist::Constant(ns),
        }
    }

    /// From a `gapmm-hot --hist-out DIR` run: `DIR/gapmm-hot-ack.hgrm` and
    /// `DIR/gapmm-hot-confirm.hgrm` (values in µs). See the module docs.
    pub fn from_hist_dir(dir: &Path) -> Result<OrderLatency, String> {
        let read = |hop: &str| -> Result<Dist, String> {
            let p = dir.join(format!("gapmm-hot-{hop}.hgrm"));
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            Dist::from_hgrm(&text, 1000.0).map_err(|e| format!("{}: {e}", p.display()))
        };
        let ack = read("ack")?;
        let confirm = read("confirm")?;
        let half = ack.map(|v| v / 2);
        let half_median = half.median();
        Ok(OrderLatency {
            request: half.clone(),
            answer: half,
            push: confirm.map(|v| v.saturating_sub(half_median)),
        })
    }
}

/// In-order delivery on one channel: a sample that would overtake the
/// previous message is held behind it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fifo {
    last: u64,
}

impl Fifo {
    /// When a message sent at `now` with latency `lat` arrives.
    #[inline]
    pub fn arrive(&mut self, now: u64, lat: u64) -> u64 {
        let t = now.saturating_add(lat).max(self.last);
        self.last = t;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HGRM: &str = "       Value     Percentile TotalCount 1/(1-Percentile)

      10.000 0.000000000000          1           1.00
      20.000 0.500000000000         50           2.00
      40.000 0.900000000000         90          10.00
     100.000 1.000000000000        100
#[Mean    =       25.000, StdDeviation   =       10.000]
#[Max     =      100.000, Total count    =          100]
";

    #[test]
    fn an_hgrm_file_is_sampled_within_its_range_around_its_median() {
        let d = Dist::from_hgrm(HGRM, 1000.0).unwrap();
        assert_eq!(d.median(), 20_000);
        let mut rng = Prng::new(7);
        let mut v: Vec<u64> = (0..10_000).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        assert!(v[0] >= 10_000 && v[9_999] <= 100_000);
        let med = v[5_000] as f64;
        assert!((med - 20_000.0).abs() < 1_000.0, "{med}");
        let p90 = v[9_000] as f64;
        assert!((p90 - 40_000.0).abs() < 2_000.0, "{p90}");
    }

    #[test]
    fn bad_hgrm_text_is_refused() {
        assert!(Dist::from_hgrm("Value Percentile\n", 1.0).is_err());
        assert!(Dist::from_hgrm("10 0.5 1\n5 0.9 2\n", 1.0).is_err());
        assert!(Dist::from_hgrm("10 1.5 1\n", 1.0).is_err());
    }

    #[test]
    fn a_channel_never_overtakes_itself() {
        let mut f = Fifo::default();
        assert_eq!(f.arrive(100, 50), 150);
        assert_eq!(f.arrive(110, 10), 150, "held behind the first");
        assert_eq!(f.arrive(200, 10), 210);
    }

    fn tape(lines: &[(u64, u64)]) -> Tape {
        let mut text = String::new();
        for (k, (local, ts)) in lines.iter().enumerate() {
            let kind = if k == 0 { "snapshot" } else { "delta" };
            text += &format!(
                "{local} {{\"topic\":\"orderbook.1.X\",\"type\":\"{kind}\",\"ts\":{ts},\"data\":{{\"s\":\"X\",\"b\":[[\"1\",\"1\"]],\"a\":[[\"2\",\"1\"]],\"u\":{},\"seq\":1}}}}\n",
                k + 1
            );
        }
        let spec = crate::replay::TapeSpec {
            price_step: crate::units::Step::parse("1").unwrap(),
            qty_step: crate::units::Step::parse("1").unwrap(),
            symbol: None,
        };
        Tape::from_bytes("t", text.as_bytes(), &spec).unwrap()
    }

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    #[test]
    fn recorded_feed_latency_never_delivers_before_the_event() {
        // The recorder's clock reads 0.5 ms behind the exchange's.
        let t = tape(&[(1000 * MS - MS / 2, 1000), (1001 * MS + 900, 1001)]);
        let c = FeedClock::new(&t, FeedLatency::Recorded { window_ns: 0 }, 0);
        assert_eq!(c.offset_ns(0), -500_000);
        let e = t.events();
        assert_eq!(
            c.venue_ns(0, &e[0]),
            1000 * MS - MS / 2,
            "the fastest: no latency"
        );
        assert_eq!(c.venue_ns(1, &e[1]), 1001 * MS - MS / 2);
        assert_eq!(c.engine_ns(&e[1]), 1001 * MS + 900);
        let k = FeedClock::new(&t, FeedLatency::Constant(100), 0);
        assert_eq!(k.venue_ns(1, &e[1]), 1001 * MS + 800);
    }

    #[test]
    fn clocks_that_agree_are_taken_as_they_are() {
        // Every receive after its ts: latencies 3 ms and 5 ms, no shift.
        let t = tape(&[(1003 * MS, 1000), (2005 * MS, 2000)]);
        let c = FeedClock::new(&t, FeedLatency::RECORDED, 0);
        let e = t.events();
        assert_eq!(c.venue_ns(1, &e[1]), 2000 * MS);
    }

    #[test]
    fn a_drifting_recorder_clock_is_followed_window_by_window() {
        // The recorder falls behind: -100 ms at first, -300 ms an hour later.
        let t = tape(&[
            (1000 * S - 100 * MS, 1_000_000),
            (1000 * S - 90 * MS, 1_000_000),
            (4600 * S - 300 * MS, 4_600_000),
            (4600 * S - 280 * MS, 4_600_000),
        ]);
        let e = t.events();
        let w = FeedClock::new(&t, FeedLatency::RECORDED, 0);
        assert_eq!(
            (w.offset_ns(1), w.offset_ns(3)),
            (-100 * MS as i64, -300 * MS as i64)
        );
        assert_eq!(
            w.engine_ns(&e[1]) - w.venue_ns(1, &e[1]),
            10 * MS,
            "10 ms, not 210"
        );
        let whole = FeedClock::new(&t, FeedLatency::Recorded { window_ns: 0 }, 0);
        assert_eq!(whole.engine_ns(&e[1]) - whole.venue_ns(1, &e[1]), 210 * MS);
    }

    proptest::proptest! {
        /// The sliding minimum equals the minimum over each event's window
        /// taken the slow way.
        #[test]
        fn window_offsets_match_a_brute_force_minimum(
            steps in proptest::collection::vec((0u64..40, 0u64..60), 1..80),
            window in 0u64..100,
        ) {
            let mut local = 1_000u64;
            let lines: Vec<(u64, u64)> = steps
                .iter()
                .map(|&(dt, lag)| {
                    local += dt * MS;
                    (local, (local / MS + 30).saturating_sub(lag))
                })
                .collect();
            let t = tape(&lines);
            let e = t.events();
            let got = window_offsets(e, window * MS);
            for (i, ev) in e.iter().enumerate() {
                let want = e
                    .iter()
                    .filter(|o| window == 0 || o.local_ns.abs_diff(ev.local_ns) <= window * MS)
                    .map(gap)
                    .min()
                    .unwrap_or(0)
                    .min(0);
                proptest::prop_assert_eq!(got[i], want, "event {}", i);
            }
        }
    }

    #[test]
    fn feed_latency_flags_parse() {
        assert_eq!(
            FeedLatency::parse("recorded").unwrap(),
            FeedLatency::RECORDED
        );
        assert_eq!(
            FeedLatency::parse("recorded:0").unwrap(),
            FeedLatency::Recorded { window_ns: 0 }
        );
        assert_eq!(
            FeedLatency::parse("250").unwrap(),
            FeedLatency::Constant(250_000)
        );
        for bad in ["", "fast", "-1", "recorded:x", "recorded:-2"] {
            assert!(FeedLatency::parse(bad).is_err(), "{bad}");
        }
    }
}
