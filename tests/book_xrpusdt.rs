//! Replays the real Bybit recording (linear XRPUSDT `orderbook.500`: one
//! snapshot and 49 deltas) through the book and checks it against a naive
//! replay into ordered maps.
//!
//! The lines are read here with `zip` + `serde_json`; once the public codec
//! lands this test should use the real decoder instead.

use std::collections::BTreeMap;
use std::io::Read;

use gapmm::analytics;
use gapmm::book::{Applied, Book, BookConfig};
use gapmm::codec::public::{BookKind, BookUpdate, Level};
use gapmm::ids::{Seq, Symbol, UpdateId};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Step, Ticks};

const RECORDING: &str = "/work/shared/bybit/real/2024-12-01_XRPUSDT_ob500.data.zip";

struct Line {
    kind: BookKind,
    depth: u16,
    u: u64,
    seq: u64,
    ts: u64,
    cts: Option<u64>,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

fn load() -> Vec<Line> {
    let path = std::env::var("GAPMM_XRP_RECORDING").unwrap_or_else(|_| RECORDING.to_string());
    let file = std::fs::File::open(&path).expect("recording zip");
    let mut zip = zip::ZipArchive::new(file).expect("zip archive");
    let mut text = String::new();
    zip.by_index(0)
        .expect("first entry")
        .read_to_string(&mut text)
        .expect("utf-8 lines");
    let tick = Step::parse("0.0001").unwrap();
    let lot = Step::parse("1").unwrap();
    let levels = |v: &serde_json::Value| -> Vec<Level> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|pq| Level {
                price: tick.ticks(pq[0].as_str().unwrap().as_bytes()).unwrap(),
                qty: lot.lots(pq[1].as_str().unwrap().as_bytes()).unwrap(),
            })
            .collect()
    };
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let topic = v["topic"].as_str().unwrap();
            let depth = topic.split('.').nth(1).unwrap().parse().unwrap();
            let d = &v["data"];
            Line {
                kind: match v["type"].as_str().unwrap() {
                    "snapshot" => BookKind::Snapshot,
                    "delta" => BookKind::Delta,
                    other => panic!("unexpected type {other}"),
                },
                depth,
                u: d["u"].as_u64().unwrap(),
                seq: d["seq"].as_u64().unwrap(),
                ts: v["ts"].as_u64().unwrap(),
                cts: v["cts"].as_u64(),
                bids: levels(&d["b"]),
                asks: levels(&d["a"]),
            }
        })
        .collect()
}

#[test]
fn recording_replays_in_sequence_and_matches_a_naive_replay() {
    let lines = load();
    assert_eq!(lines.len(), 50);
    let symbol = Symbol::new(b"XRPUSDT").unwrap();
    let mut book = Book::new(BookConfig::default());
    let mut bids: BTreeMap<i64, i64> = BTreeMap::new();
    let mut asks: BTreeMap<i64, i64> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let m = BookUpdate {
            kind: l.kind,
            depth: l.depth,
            symbol,
            u: UpdateId(l.u),
            seq: Seq(l.seq),
            ts: ExchMs(l.ts),
            cts: l.cts.map(ExchMs),
            bids: &l.bids,
            asks: &l.asks,
        };
        let want = if i == 0 {
            Applied::Reset
        } else {
            Applied::Delta
        };
        assert_eq!(book.apply(&m), Ok(want), "line {i}");
        assert!(book.is_valid());
        if l.kind == BookKind::Snapshot {
            bids.clear();
            asks.clear();
        }
        for (side, map) in [(&l.bids, &mut bids), (&l.asks, &mut asks)] {
            for lv in side {
                if lv.qty.0 == 0 {
                    map.remove(&lv.price.0);
                } else {
                    map.insert(lv.price.0, lv.qty.0);
                }
            }
        }
        assert!(analytics::compute(&book, m.ts).is_some(), "line {i}");
    }
    assert_eq!(book.last_update_id(), Some(UpdateId(20254918)));
    let (&bb, &bq) = bids.iter().next_back().unwrap();
    let (&ba, &aq) = asks.iter().next().unwrap();
    assert_eq!(
        book.best_bid().map(|l| (l.price.0, l.qty.0)),
        Some((bb, bq))
    );
    assert_eq!(
        book.best_ask().map(|l| (l.price.0, l.qty.0)),
        Some((ba, aq))
    );
    // Bybit keeps the book at 500 levels a side by sending deletes, so the
    // top-500 rule removes nothing and every level must match.
    assert_eq!(bids.len(), 500);
    assert_eq!(asks.len(), 500);
    let naive_bids: Vec<(i64, i64)> = bids.iter().rev().map(|(&p, &q)| (p, q)).collect();
    let naive_asks: Vec<(i64, i64)> = asks.iter().map(|(&p, &q)| (p, q)).collect();
    let got = |s| {
        book.iter_levels(s)
            .map(|l| (l.price.0, l.qty.0))
            .collect::<Vec<_>>()
    };
    assert_eq!(got(Side::Buy), naive_bids);
    assert_eq!(got(Side::Sell), naive_asks);
    for &(p, q) in naive_bids.iter().step_by(37) {
        assert_eq!(book.qty_at(Side::Buy, Ticks(p)), Lots(q));
    }
    let m = analytics::compute(&book, ExchMs(lines[49].ts)).unwrap();
    assert_eq!((m.bid.0, m.ask.0), (bb, ba));
    let d5: i64 = naive_bids.iter().take(5).map(|l| l.1).sum();
    assert_eq!(m.bid_depth_5, Lots(d5));
}
