//! `gapmm-hot eval`: a recording small enough to work out by hand, the
//! sequence-break and bad-input paths, and the command on the real 24 h
//! NEXOUSDT recording (table, JSON, and the library's report agree).

use std::path::PathBuf;
use std::process::Command;

use gapmm::eval::{
    self, evaluate, EvalConfig, EvalError, EvalReport, Horizon, HorizonReport, Predictor,
};
use gapmm::replay::{Tape, TapeSpec};
use gapmm::strategy::{calculate_quotes, encode_signal, QuoteEdges, StrategyParams};
use gapmm::units::{HalfTicks, Step, Ticks};

mod common;

const NEXO: &str = "data/NEXOUSDT-spot-2024-07-23T15_to_07-24T16.bybit.gz";

/// Local time of the first message, ns since the epoch.
const T0: u64 = 1_700_000_000_000_000_000;

type Side = &'static [(i64, i64)];

/// One book state: (seconds after T0, bids, asks), prices in ticks of 1,
/// sizes in lots of 1.
type State = (f64, Side, Side);

/// The hand-worked recording. Every state has at most two levels a side:
/// the touch and, for the gap analytics, one level two ticks beyond it (one
/// empty tick: gap distance 1, so each side's gap score is its size / 2 and
/// `p = gap_prob_resistance_up = U / (U + D)`, U and D the deep ask and bid
/// sizes; a side with no deep level scores 0, and two such sides give 0.5).
///
/// ```text
///  k   t(s)  bids          asks          mid(½t)  tob            depth5               p (bucket)
///  S0  0     1000x3 998x4  1002x1 1004x1  2002   (3-1)/4 = .5   (7-2)/9  = 5/9      1/5 UP/HIGH
///  S1  1     1001x1 999x2  1002x1 1004x2  2003   0              (3-3)/6  = 0        2/4 NEUTRAL
///  S2  2     1001x1 999x2  1002x3 1004x3  2003   (1-3)/4 = -.5  (3-6)/9  = -1/3     3/5 DOWN/MED
///  S3  2.5   1001x3 999x3  1003x1 1005x2  2004   .5             (6-3)/9  = 1/3      2/5 UP/MED
///  S4  3     1000x1 998x1  1002x4 1004x4  2002   (1-4)/5 = -.6  (2-8)/10 = -.6      4/5 DOWN/HIGH
///  S5  4     1000x4 998x2  1001x1 1003x3  2001   .6             (6-4)/10 = .2       3/5 DOWN/MED
///  S6  5     1001x2 999x4  1003x1 1005x1  2004   1/3            (6-2)/8  = .5       1/5 UP/HIGH
///  S7  5.5   1001x1        1003x2         2004   -1/3           (1-2)/3  = -1/3     .5  NEUTRAL (no deep level)
///  S8  7     1002x1 1000x1 1003x1 1005x1  2005   0              0                   2/4 NEUTRAL
/// ```
const STATES: [State; 9] = [
    (0.0, &[(1000, 3), (998, 4)], &[(1002, 1), (1004, 1)]),
    (1.0, &[(1001, 1), (999, 2)], &[(1002, 1), (1004, 2)]),
    (2.0, &[(1001, 1), (999, 2)], &[(1002, 3), (1004, 3)]),
    (2.5, &[(1001, 3), (999, 3)], &[(1003, 1), (1005, 2)]),
    (3.0, &[(1000, 1), (998, 1)], &[(1002, 4), (1004, 4)]),
    (4.0, &[(1000, 4), (998, 2)], &[(1001, 1), (1003, 3)]),
    (5.0, &[(1001, 2), (999, 4)], &[(1003, 1), (1005, 1)]),
    (5.5, &[(1001, 1)], &[(1003, 2)]),
    (7.0, &[(1002, 1), (1000, 1)], &[(1003, 1), (1005, 1)]),
];

fn levels(side: &[(i64, i64)]) -> String {
    let v: Vec<String> = side
        .iter()
        .map(|(p, q)| format!("[\"{p}\",\"{q}\"]"))
        .collect();
    format!("[{}]", v.join(","))
}

/// A delta's levels: every level of `prev` missing from `next` deleted
/// (size 0), then every level of `next` at its absolute size.
fn delta_side(prev: &[(i64, i64)], next: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = prev
        .iter()
        .filter(|(p, _)| !next.iter().any(|(q, _)| q == p))
        .map(|&(p, _)| (p, 0))
        .collect();
    out.extend_from_slice(next);
    out
}

fn book_line(
    t_ns: u64,
    snapshot: bool,
    u: u64,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) -> String {
    let ms = t_ns / 1_000_000;
    format!(
        "{t_ns} {{\"topic\":\"orderbook.50.TESTUSDT\",\"type\":\"{}\",\"ts\":{ms},\"data\":{{\"s\":\"TESTUSDT\",\"b\":{},\"a\":{},\"u\":{u},\"seq\":{}}},\"cts\":{ms}}}\n",
        if snapshot { "snapshot" } else { "delta" },
        levels(bids),
        levels(asks),
        u + 100,
    )
}

fn at(secs: f64) -> u64 {
    T0 + (secs * 1e9).round() as u64
}

/// The recording of `states`: a subscribe ack, a snapshot, deltas, and a
/// trade between S1 and S2 (trades are not samples).
fn recording(states: &[State]) -> String {
    let mut text = format!(
        "{} {{\"success\":true,\"ret_msg\":\"\",\"op\":\"subscribe\",\"conn_id\":\"c\"}}\n",
        T0 - 1
    );
    let mut prev: Option<&State> = None;
    for (k, st) in states.iter().enumerate() {
        let (secs, bids, asks) = *st;
        let u = k as u64 + 1;
        text += &match prev {
            None => book_line(at(secs), true, u, bids, asks),
            Some(p) => book_line(
                at(secs),
                false,
                u,
                &delta_side(p.1, bids),
                &delta_side(p.2, asks),
            ),
        };
        if k == 1 {
            let t = at(1.5);
            text += &format!(
                "{t} {{\"topic\":\"publicTrade.TESTUSDT\",\"type\":\"snapshot\",\"ts\":{ms},\"data\":[{{\"T\":{ms},\"s\":\"TESTUSDT\",\"S\":\"Buy\",\"v\":\"1\",\"p\":\"1002\",\"L\":\"PlusTick\",\"i\":\"1\",\"BT\":false}}]}}\n",
                ms = t / 1_000_000
            );
        }
        prev = Some(st);
    }
    text
}

fn unit_spec() -> TapeSpec {
    TapeSpec {
        price_step: Step::parse("1").unwrap(),
        qty_step: Step::parse("1").unwrap(),
        symbol: None,
    }
}

fn tape_of(text: &str) -> Tape {
    Tape::from_bytes("hand", text.as_bytes(), &unit_spec()).unwrap()
}

fn config(horizons: &str) -> EvalConfig {
    EvalConfig::new(
        Horizon::parse_list(horizons).unwrap(),
        StrategyParams::original(),
    )
}

fn close(got: Option<f64>, want: f64) {
    let g = got.unwrap_or_else(|| panic!("expected {want}, got None"));
    assert!((g - want).abs() < 1e-9, "got {g}, want {want}");
}

/// Checks (n, flat, hits, misses) and the hit rate.
fn counts(c: &eval::CallStats, n: u64, flat: u64, hits: u64, misses: u64) {
    assert_eq!((c.n, c.flat, c.hits, c.misses), (n, flat, hits, misses));
    match hits + misses {
        0 => assert_eq!(c.hit_rate, None),
        d => close(c.hit_rate, hits as f64 / d as f64),
    }
}

fn pred(h: &HorizonReport, p: Predictor) -> &eval::PredictorReport {
    h.predictor(p).unwrap()
}

#[test]
fn hand_worked_recording() {
    let report = evaluate(&tape_of(&recording(&STATES)), &config("1s,2.5s")).unwrap();
    assert_eq!(report.symbol, "TESTUSDT");
    assert_eq!(report.feed.book_messages, 9);
    assert_eq!(report.feed.samples, 9, "the trade is not a sample");
    assert_eq!(
        (report.feed.breaks, report.feed.runs, report.feed.one_sided),
        (0, 1, 0)
    );
    assert_eq!((report.first_ns, report.last_ns), (at(0.0), at(7.0)));
    assert!((report.span_s - 7.0).abs() < 1e-12);

    // Horizon 1 s. The label of S_k is the mid of the last sample at or
    // before t_k + 1 s:
    //   S0 0   → 1   : S1  2002 → 2003  Δ +1 ½t
    //   S1 1   → 2   : S2  2003 → 2003  flat
    //   S2 2   → 3   : S4  2003 → 2002  Δ −1   (S3 at 2.5 is older than S4 at 3.0, which is ≤ 3)
    //   S3 2.5 → 3.5 : S4  2004 → 2002  Δ −2   (not S5 at 4.0: after 3.5)
    //   S4 3   → 4   : S5  2002 → 2001  Δ −1
    //   S5 4   → 5   : S6  2001 → 2004  Δ +3
    //   S6 5   → 6   : S7  2004 → 2004  flat   (not S8 at 7: after 6)
    //   S7 5.5 → 6.5 : S7  itself       flat
    //   S8 7   → 8   : beyond the last sample (7): dropped.
    // Returns in bps, Δ / mid · 10⁴ (both in half ticks):
    let r0 = 1e4 / 2002.0;
    let r2 = -1e4 / 2003.0;
    let r3 = -2e4 / 2004.0;
    let r4 = -1e4 / 2002.0;
    let r5 = 3e4 / 2001.0;
    let h1 = &report.horizons[0];
    assert_eq!(h1.horizon.to_string(), "1s");
    assert_eq!((h1.labelled, h1.dropped), (8, 1));
    assert_eq!((h1.up, h1.down, h1.flat), (2, 3, 3));
    close(h1.mean_return_bps, (r0 + r2 + r3 + r4 + r5) / 8.0);

    // gap: directions S0..S7 = + 0 − + − − + 0 (S1, S7 neutral).
    //   calls S0 hit, S2 hit, S3 miss, S4 hit, S5 miss, S6 flat
    //   → n 6, flat 1, hits 3, misses 2, hit rate 3/5;
    //   EV = (r0 − r2 + r3 − r4 − r5 + 0) / 6.
    let gap = pred(h1, Predictor::Gap);
    counts(&gap.calls, 6, 1, 3, 2);
    close(gap.calls.ev_bps, (r0 - r2 + r3 - r4 - r5) / 6.0);
    // Rank IC. Returns S0..S7: r0, 0, r2, r3, r4, r5, 0, 0; ascending
    //   r3 < r4 (−4.9950) < r2 (−4.9925) < 0 = 0 = 0 < r0 < r5
    //   ranks: S3 1, S4 2, S2 3, S1/S6/S7 (4+5+6)/3 = 5, S0 7, S5 8
    //   → ret ranks [7, 5, 3, 1, 2, 8, 5, 5], mean 4.5,
    //     deviations dy = [2.5, .5, −1.5, −3.5, −2.5, 3.5, .5, .5], Σdy² = 40.
    // gap scores 0.5 − p: [.3, 0, −.1, .1, −.3, −.1, .3, 0]
    //   ranks: −.3 → 1; −.1 ×2 → 2.5; 0 ×2 → 4.5; .1 → 6; .3 ×2 → 7.5
    //   → [7.5, 4.5, 2.5, 6, 1, 2.5, 7.5, 4.5], dx = [3, 0, −2, 1.5, −3.5, −2, 3, 0]
    //   Σdxdy = 7.5 + 0 + 3 − 5.25 + 8.75 − 7 + 1.5 + 0 = 8.5, Σdx² = 40.5
    //   IC = 8.5 / √(40.5 · 40) = 8.5 / √1620.
    close(gap.rank_ic, 8.5 / 1620f64.sqrt());

    // Buckets: UP/HIGH = S0 (hit), S6 (flat); UP/MED = S3 (miss);
    // DOWN/MED = S2 (hit), S5 (miss); DOWN/HIGH = S4 (hit);
    // NEUTRAL = S1, S7, both flat, mean return 0.
    let b: Vec<(String, eval::CallStats)> =
        h1.gap_buckets.iter().map(|b| (b.name(), b.calls)).collect();
    assert_eq!(
        b.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["UP/HIGH", "UP/MED", "DOWN/MED", "DOWN/HIGH"]
    );
    counts(&b[0].1, 2, 1, 1, 0);
    close(b[0].1.ev_bps, r0 / 2.0);
    counts(&b[1].1, 1, 0, 0, 1);
    close(b[1].1.ev_bps, r3);
    counts(&b[2].1, 2, 0, 1, 1);
    close(b[2].1.ev_bps, (-r2 - r5) / 2.0);
    counts(&b[3].1, 1, 0, 1, 0);
    close(b[3].1.ev_bps, -r4);
    assert_eq!((h1.gap_neutral.n, h1.gap_neutral.flat), (2, 2));
    close(h1.gap_neutral.mean_return_bps, 0.0);

    // tob_imbalance: [.5, 0, −.5, .5, −.6, .6, 1/3, −1/3]: directions
    // + 0 − + − + + −: S0 hit, S2 hit, S3 miss, S4 hit, S5 hit, S6 flat,
    // S7 flat → n 7, flat 2, hits 4, misses 1; EV = (r0 − r2 + r3 − r4 + r5) / 7.
    // Score ranks: −.6 → 1, −.5 → 2, −1/3 → 3, 0 → 4, 1/3 → 5, .5 ×2 → 6.5,
    //   .6 → 8: [6.5, 4, 2, 6.5, 1, 8, 5, 3], dx = [2, −.5, −2.5, 2, −3.5, 3.5, .5, −1.5]
    //   Σdxdy = 5 − .25 + 3.75 − 7 + 8.75 + 12.25 + .25 − .75 = 22, Σdx² = 41.5.
    let tob = pred(h1, Predictor::TobImbalance);
    counts(&tob.calls, 7, 2, 4, 1);
    let ev_tob = (r0 - r2 + r3 - r4 + r5) / 7.0;
    close(tob.calls.ev_bps, ev_tob);
    close(tob.rank_ic, 22.0 / (41.5f64 * 40.0).sqrt());

    // microprice − mid = spread/2 · tob; spreads 2 1 1 2 2 1 2 2 (ticks):
    // [.5, 0, −.25, .5, −.6, .3, 1/3, −1/3]. Same calls as tob; ranks
    //   −.6 → 1, −1/3 → 2, −.25 → 3, 0 → 4, .3 → 5, 1/3 → 6, .5 ×2 → 7.5:
    //   [7.5, 4, 3, 7.5, 1, 5, 6, 2], dx = [3, −.5, −1.5, 3, −3.5, .5, 1.5, −2.5]
    //   Σdxdy = 7.5 − .25 + 2.25 − 10.5 + 8.75 + 1.75 + .75 − 1.25 = 9, Σdx² = 41.5.
    let micro = pred(h1, Predictor::Microprice);
    assert_eq!(micro.calls, tob.calls);
    close(micro.rank_ic, 9.0 / (41.5f64 * 40.0).sqrt());

    // depth5_imbalance: [5/9, 0, −1/3, 1/3, −.6, .2, .5, −1/3]: directions as
    // tob's → the same counts and EV. Ranks: −.6 → 1, −1/3 ×2 → 2.5, 0 → 4,
    //   .2 → 5, 1/3 → 6, .5 → 7, 5/9 → 8: [8, 4, 2.5, 6, 1, 5, 7, 2.5],
    //   dx = [3.5, −.5, −2, 1.5, −3.5, .5, 2.5, −2]
    //   Σdxdy = 8.75 − .25 + 3 − 5.25 + 8.75 + 1.75 + 1.25 − 1 = 17, Σdx² = 41.5.
    let d5 = pred(h1, Predictor::Depth5Imbalance);
    counts(&d5.calls, 7, 2, 4, 1);
    close(d5.calls.ev_bps, ev_tob);
    close(d5.rank_ic, 17.0 / (41.5f64 * 40.0).sqrt());

    // always_up: 8 calls, 3 flat, up moves S0, S5 hit, down S2, S3, S4 miss;
    // EV = the mean return; IC undefined (constant score).
    let up = pred(h1, Predictor::AlwaysUp);
    counts(&up.calls, 8, 3, 2, 3);
    close(up.calls.ev_bps, (r0 + r2 + r3 + r4 + r5) / 8.0);
    assert_eq!(up.rank_ic, None);
    // random: a call on every sample (a score of exactly 0 has probability
    // 2^-53), the same 3 flat moves.
    let rnd = pred(h1, Predictor::Random);
    assert_eq!((rnd.calls.n, rnd.calls.flat), (8, 3));
    assert_eq!(rnd.calls.hits + rnd.calls.misses, 5);

    // Horizon 2.5 s: S0 → S3 (2.5 ≤ 2.5) Δ+2, S1 → S4 Δ−1, S2 → S5 Δ−2,
    // S3 → S6 (5 ≤ 5) flat, S4 → S7 (5.5) Δ+2, S5 → S7 (6.5: S8 is at 7) Δ+3;
    // S6 (7.5), S7 (8), S8 (9.5) are past 7: dropped.
    let h2 = &report.horizons[1];
    assert_eq!((h2.labelled, h2.dropped), (6, 3));
    assert_eq!((h2.up, h2.down, h2.flat), (3, 2, 1));
    let (q0, q1, q2, q4, q5) = (
        2e4 / 2002.0,
        -1e4 / 2003.0,
        -2e4 / 2003.0,
        2e4 / 2002.0,
        3e4 / 2001.0,
    );
    // gap: S0 up hit, S1 neutral, S2 down hit, S3 up flat, S4 down miss,
    // S5 down miss → n 5, flat 1, hits 2, misses 2.
    let gap2 = pred(h2, Predictor::Gap);
    counts(&gap2.calls, 5, 1, 2, 2);
    close(gap2.calls.ev_bps, (q0 - q2 + 0.0 - q4 - q5) / 5.0);
    // tob: S0 up hit, S1 none, S2 down hit, S3 up flat, S4 down miss, S5 up hit.
    let tob2 = pred(h2, Predictor::TobImbalance);
    counts(&tob2.calls, 5, 1, 3, 1);
    close(tob2.calls.ev_bps, (q0 - q2 + 0.0 - q4 + q5) / 5.0);
    close(h2.mean_return_bps, (q0 + q1 + q2 + q4 + q5) / 6.0);

    // Flips over S0..S8: gap directions + 0 − + − − + 0 0 change 6 times,
    // tob's + 0 − + − + + − 0 7 times, always_up's never; over 7 s.
    let flips = |p: Predictor| report.flips.iter().find(|f| f.predictor == p).unwrap();
    assert_eq!(flips(Predictor::Gap).flips, 6);
    close(flips(Predictor::Gap).per_sec, 6.0 / 7.0);
    assert_eq!(flips(Predictor::TobImbalance).flips, 7);
    assert_eq!(flips(Predictor::AlwaysUp).flips, 0);

    // Quoting: with the original parameters and no inventory the strategy's
    // targets are calculate_quotes at the raw mid; count their changes.
    let (mut bids, mut asks, mut prev) = (0, 0, None);
    for (_, b, a) in STATES {
        let (bid, ask) = (Ticks(b[0].0), Ticks(a[0].0));
        let score = gap_score(b, a);
        let (s, c) = encode_signal(score);
        let q = calculate_quotes(HalfTicks::mid(bid, ask), s, c, QuoteEdges::default());
        if let Some((pb, pa)) = prev {
            bids += u64::from(pb != q.bid);
            asks += u64::from(pa != q.ask);
        }
        prev = Some((q.bid, q.ask));
    }
    assert!(bids > 0 && asks > 0);
    assert_eq!(
        (report.quoting.bid_changes, report.quoting.ask_changes),
        (bids, asks)
    );
    close(report.quoting.bid_per_sec, bids as f64 / 7.0);
    assert_eq!(report.quoting.amend_limit_per_sec, 10);

    // Every interval contains its estimate, and the same seed gives the
    // same report, bit for bit.
    for h in &report.horizons {
        for p in &h.predictors {
            if let (Some(ci), Some(r)) = (p.calls.ci, p.calls.hit_rate) {
                assert!(
                    ci.contains(r),
                    "{} {}: {ci:?} vs {r}",
                    h.horizon,
                    p.predictor
                );
            }
        }
    }
    let again = evaluate(&tape_of(&recording(&STATES)), &config("1s,2.5s")).unwrap();
    assert_eq!(report, again);
}

/// `p = U / (U + D)` for the states above (deep levels two ticks out).
fn gap_score(bids: &[(i64, i64)], asks: &[(i64, i64)]) -> f64 {
    let deep = |s: &[(i64, i64)]| s.get(1).map_or(0.0, |l| l.1 as f64 / 2.0);
    let (u, d) = (deep(asks), deep(bids));
    if u + d > 0.0 {
        u / (u + d)
    } else {
        0.5
    }
}

#[test]
fn a_sequence_break_ends_a_run_and_labels_never_cross_it() {
    // S0..S3 as above, then a delta that skips an update id (a break), a
    // delta that is skipped (the book is invalid), then a snapshot and two
    // more states.
    let mut text = recording(&STATES[..4]);
    text += &book_line(at(2.7), false, 9, &[(1001, 1)], &[]);
    text += &book_line(at(2.8), false, 10, &[(1001, 2)], &[]);
    text += &book_line(at(3.0), true, 11, STATES[4].1, STATES[4].2);
    text += &book_line(
        at(4.0),
        false,
        12,
        &delta_side(STATES[4].1, STATES[5].1),
        &delta_side(STATES[4].2, STATES[5].2),
    );
    let report = evaluate(&tape_of(&text), &config("1s")).unwrap();
    let f = report.feed;
    assert_eq!(
        (
            f.book_messages,
            f.samples,
            f.breaks,
            f.skipped_invalid,
            f.runs
        ),
        (8, 6, 1, 1, 2)
    );
    // Run 0 = S0 (0), S1 (1), S2 (2), S3 (2.5): S0 → S1, S1 → S2; S2 (→ 3)
    // and S3 (→ 3.5) would need the next run: dropped. Run 1 = S4 (3),
    // S5 (4): S4 → S5; S5 dropped. Labelled 3, dropped 3.
    let h = &report.horizons[0];
    assert_eq!((h.labelled, h.dropped), (3, 3));
    // Moves: +1, flat, −1 (S4 2002 → S5 2001).
    assert_eq!((h.up, h.down, h.flat), (1, 1, 1));
}

#[test]
fn bad_input_gives_typed_errors() {
    // Horizons.
    for bad in ["fast", "1", "0s", "1.5ns", "-1s"] {
        match Horizon::parse_list(bad) {
            Err(EvalError::BadHorizon { text, .. }) => assert_eq!(text, bad),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let tape = tape_of(&recording(&STATES));
    let mut cfg = config("1s");
    cfg.horizons.push(cfg.horizons[0]);
    assert!(matches!(
        evaluate(&tape, &cfg),
        Err(EvalError::DuplicateHorizon { .. })
    ));
    cfg.horizons.clear();
    assert!(matches!(evaluate(&tape, &cfg), Err(EvalError::NoHorizons)));
    let mut cfg = config("1s");
    cfg.resamples = 0;
    assert!(matches!(evaluate(&tape, &cfg), Err(EvalError::NoResamples)));

    // Deltas without a snapshot: no sample.
    let text: String = recording(&STATES)
        .lines()
        .filter(|l| !l.contains("snapshot\",\"ts\"") || l.contains("publicTrade"))
        .map(|l| format!("{l}\n"))
        .collect();
    match evaluate(&tape_of(&text), &config("1s")) {
        Err(EvalError::NoSamples {
            book_messages,
            skipped_invalid,
        }) => assert_eq!((book_messages, skipped_invalid), (8, 8)),
        other => panic!("{other:?}"),
    }

    // A recording cut in the middle of a line, and a gzip file cut short.
    let dir = scratch("bad");
    let text = recording(&STATES);
    let cut = dir.join("cut.txt");
    std::fs::write(&cut, &text.as_bytes()[..text.len() - 40]).unwrap();
    match eval::load(&[&cut], &unit_spec()) {
        Err(EvalError::Load(e)) => assert_eq!(e.line, 11, "{e}"),
        other => panic!("{other:?}"),
    }
    let gz = std::fs::read(common::shared_dir().join(NEXO)).unwrap();
    let short = dir.join("short.gz");
    std::fs::write(&short, &gz[..gz.len() / 8]).unwrap();
    let nexo_spec = TapeSpec {
        price_step: Step::parse("0.001").unwrap(),
        qty_step: Step::parse("0.01").unwrap(),
        symbol: None,
    };
    let err = eval::load(&[&short], &nexo_spec).unwrap_err();
    assert!(matches!(err, EvalError::Load(_)), "{err:?}");
    assert!(err.to_string().contains("short.gz"), "{err}");

    // The same through the binary: exit code 2, a message, no panic.
    for (args, want) in [
        (vec!["--horizons", "1s,soon"], "\"soon\""),
        (vec!["--horizons", "1s,1000ms"], "twice"),
    ] {
        let mut a = vec![
            "eval",
            "--replay",
            cut.to_str().unwrap(),
            "--tick-size",
            "1",
            "--qty-step",
            "1",
        ];
        a.extend(args);
        let out = gapmm_hot(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{err}");
    }
    let out = gapmm_hot(&[
        "eval",
        "--replay",
        short.to_str().unwrap(),
        "--tick-size",
        "0.001",
        "--qty-step",
        "0.01",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("short.gz") && !err.contains("panicked"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gapmm-eval-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gapmm_hot(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gapmm-hot"));
    cmd.args(args);
    for var in [
        "TRADING_SYMBOL",
        "TICK_SIZE",
        "MARKET_TYPE",
        "MAX_POSITION_SIZE",
        "MIN_ORDER_SIZE",
        "GAPMM_GAMMA",
        "GAPMM_TIGHT_TICKS",
        "GAPMM_WIDE_TICKS",
        "GAPMM_ALPHA_TICKS",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("gapmm-hot runs")
}

fn num(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
}

/// The same figure, up to the last bit: serde_json (without its
/// `float_roundtrip` feature) may parse a printed f64 one ulp off.
fn same(json: Option<f64>, lib: Option<f64>) {
    match (json, lib) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!((a - b).abs() <= 4.0 * f64::EPSILON * b.abs(), "{a} vs {b}"),
        other => panic!("{other:?}"),
    }
}

/// The JSON of one horizon holds the library's numbers.
fn same_horizon(j: &serde_json::Value, h: &HorizonReport) {
    assert_eq!(j["horizon"], h.horizon.to_string());
    assert_eq!(j["labelled"], h.labelled);
    assert_eq!(j["dropped"], h.dropped);
    assert_eq!(j["block_len"], h.block_len);
    same(num(&j["mean_return_bps"]), h.mean_return_bps);
    let preds = j["predictors"].as_array().unwrap();
    assert_eq!(preds.len(), h.predictors.len());
    for (jp, p) in preds.iter().zip(&h.predictors) {
        assert_eq!(jp["predictor"], p.predictor.name());
        let c = &p.calls;
        assert_eq!(
            (&jp["n"], &jp["flat"], &jp["hits"], &jp["misses"]),
            (
                &serde_json::json!(c.n),
                &serde_json::json!(c.flat),
                &serde_json::json!(c.hits),
                &serde_json::json!(c.misses)
            ),
            "{}",
            p.predictor
        );
        same(num(&jp["hit_rate"]), c.hit_rate);
        same(num(&jp["ev_bps"]), c.ev_bps);
        same(num(&jp["rank_ic"]), p.rank_ic);
        let jci = jp["ci95"].as_array();
        assert_eq!(jci.is_some(), c.ci.is_some(), "{}", p.predictor);
        if let (Some(a), Some(i)) = (jci, c.ci) {
            same(num(&a[0]), Some(i.lo));
            same(num(&a[1]), Some(i.hi));
        }
    }
    for (jb, b) in j["gap_buckets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&h.gap_buckets)
    {
        assert_eq!(jb["bucket"], b.name());
        assert_eq!(jb["n"], b.calls.n);
        same(num(&jb["hit_rate"]), b.calls.hit_rate);
    }
    assert_eq!(j["gap_neutral"]["n"], h.gap_neutral.n);
}

#[test]
fn nexousdt_24h_through_the_binary_matches_the_library() {
    let rec = common::shared_dir().join(NEXO);
    let dir = scratch("nexo");
    let json_path = dir.join("eval.json");
    let rec_s = rec.to_str().unwrap().to_string();
    let json_s = json_path.to_str().unwrap().to_string();
    let flags = [
        "--replay",
        rec_s.as_str(),
        "--tick-size",
        "0.001",
        "--qty-step",
        "0.01",
    ];
    // The binary and the library run side by side (two cores).
    let child = {
        let mut a = vec!["eval"];
        a.extend(flags);
        a.extend(["--json", json_s.as_str()]);
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        std::thread::spawn(move || {
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            gapmm_hot(&refs)
        })
    };
    let (tape, cfg) = gapmm::commands::eval::from_flags(&flags).unwrap();
    assert_eq!(cfg.horizons.len(), 4);
    let lib: EvalReport = evaluate(&tape, &cfg).unwrap();
    let out = child.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();

    // The table: a header with symbol, samples, span and breaks; each
    // horizon with every predictor; the gap buckets; the quoting rates.
    assert!(
        text.starts_with(&format!("NEXOUSDT: {} samples", lib.feed.samples)),
        "{text}"
    );
    assert!(text.contains(" 0 breaks"), "{text}");
    for h in [
        "horizon 100ms:",
        "horizon 1s:",
        "horizon 5s:",
        "horizon 30s:",
    ] {
        assert_eq!(text.matches(h).count(), 1, "{h}\n{text}");
    }
    for p in Predictor::ALL {
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with(&format!("{} ", p.name())))
                .count(),
            4,
            "{p}"
        );
    }
    for b in ["UP/HIGH", "UP/MED", "NEUTRAL", "DOWN/MED", "DOWN/HIGH"] {
        assert_eq!(text.matches(&format!("  {b} ")).count(), 4, "{b}");
    }
    assert!(text.contains("Bybit amend limit 10/s"), "{text}");

    // The library's report: thousands of calls per horizon, sane figures.
    assert!(lib.feed.samples > 60_000, "{:?}", lib.feed);
    assert_eq!(lib.feed.breaks, 0, "the README promises no sequence break");
    assert!(lib.span_s > 24.0 * 3600.0);
    for h in &lib.horizons {
        assert!(h.labelled > 60_000, "{}: {}", h.horizon, h.labelled);
        assert_eq!(h.up + h.down + h.flat, h.labelled);
        for p in &h.predictors {
            let c = &p.calls;
            assert!(c.n >= 1000, "{} {}: n {}", h.horizon, p.predictor, c.n);
            assert_eq!(c.flat + c.hits + c.misses, c.n);
            let (r, ci) = (c.hit_rate.unwrap(), c.ci.unwrap());
            assert!(ci.contains(r), "{} {}: {ci:?} {r}", h.horizon, p.predictor);
        }
        // Always-up calls every labelled sample; its hits are the up moves.
        let up = h.predictor(Predictor::AlwaysUp).unwrap();
        assert_eq!(
            (up.calls.n, up.calls.hits, up.calls.misses),
            (h.labelled, h.up, h.down)
        );
        assert_eq!(up.rank_ic, None);
        // microprice and tob_imbalance make the same calls (positive spread).
        assert_eq!(
            h.predictor(Predictor::Microprice).unwrap().calls.hits,
            h.predictor(Predictor::TobImbalance).unwrap().calls.hits
        );
        let bucket_calls: u64 = h.gap_buckets.iter().map(|b| b.calls.n).sum();
        assert_eq!(bucket_calls, h.predictor(Predictor::Gap).unwrap().calls.n);
        assert_eq!(bucket_calls + h.gap_neutral.n, h.labelled);
    }

    // The JSON holds the same numbers as the library's report.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(j["symbol"], "NEXOUSDT");
    assert_eq!(j["feed"]["samples"], lib.feed.samples);
    assert_eq!(j["feed"]["breaks"], lib.feed.breaks);
    same(num(&j["span_s"]), Some(lib.span_s));
    assert_eq!(j["quoting"]["bid_changes"], lib.quoting.bid_changes);
    assert_eq!(j["quoting"]["ask_changes"], lib.quoting.ask_changes);
    for (jf, f) in j["flips"].as_array().unwrap().iter().zip(&lib.flips) {
        assert_eq!(jf["predictor"], f.predictor.name());
        assert_eq!(jf["flips"], f.flips);
    }
    let jh = j["horizons"].as_array().unwrap();
    assert_eq!(jh.len(), lib.horizons.len());
    for (jh, h) in jh.iter().zip(&lib.horizons) {
        same_horizon(jh, h);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
