//! Taking a trading engine's own orders out of a recording it made.
//!
//! A recording made while trading (`gapmm-hot --record`) shows the book
//! *with our orders in it*: the exchange publishes every level whole. A
//! backtest of it must not meet the live orders as other people's liquidity
//! (they would stand in its queues and move its signal), so
//! [`Tape::without_own`] rewrites the book messages: at every level where
//! our orders rested, as the order stream confirmed them (the journal's
//! `order` lines, by exchange time), their resting quantity is taken off.
//! When our orders move, the levels they left and joined are corrected in
//! the next book message (from the recorded sizes), so a message that came
//! before its order event within the same millisecond is put right one
//! message later. Trades are kept: in the backtest's world the same takers
//! meet the backtest's orders.
//!
//! Contract: off the hot path; allocates the new tape; no clock.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::tape::{Event, EventKind, Tape};
use crate::codec::public::{BookKind, Level};
use crate::time::ExchMs;
use crate::units::{Lots, Side, Ticks};

/// One of our orders as the exchange confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnChange {
    /// Exchange time of the confirmation.
    pub exch: ExchMs,
    /// Exchange order id.
    pub order_id: String,
    /// Side.
    pub side: Side,
    /// Price.
    pub price: Ticks,
    /// Quantity resting (0: the order is closed).
    pub leaves: Lots,
}

/// The `order` lines of a gapmm-hot journal, in file order.
pub fn own_from_journal(path: &Path) -> Result<Vec<OwnChange>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |what: &str| format!("{} line {}: {what}", path.display(), i + 1);
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        if v["t"].as_str() != Some("order") {
            continue;
        }
        let side = match v["side"].as_str() {
            Some("Buy") => Side::Buy,
            Some("Sell") => Side::Sell,
            _ => return Err(bad("an order line without a side")),
        };
        let open = matches!(v["status"].as_str(), Some("New" | "PartiallyFilled"));
        out.push(OwnChange {
            exch: ExchMs(
                v["ts"]
                    .as_u64()
                    .ok_or_else(|| bad("an order line without ts"))?,
            ),
            order_id: v["order_id"].as_str().unwrap_or_default().to_string(),
            side,
            price: Ticks(
                v["price_ticks"]
                    .as_i64()
                    .ok_or_else(|| bad("no price_ticks"))?,
            ),
            leaves: Lots(if open {
                v["leaves_lots"].as_i64().unwrap_or(0).max(0)
            } else {
                0
            }),
        });
    }
    Ok(out)
}

fn side_ix(s: Side) -> u8 {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl Tape {
    /// This tape with our orders (`changes`, as confirmed) taken out of its
    /// book messages. See the module docs.
    pub fn without_own(&self, changes: &[OwnChange]) -> Tape {
        let mut changes: Vec<&OwnChange> = changes.iter().collect();
        changes.sort_by_key(|c| c.exch);
        let mut raw: HashMap<(u8, i64), i64> = HashMap::new();
        let mut open: HashMap<&str, (u8, i64, i64)> = HashMap::new();
        let mut dirty: BTreeSet<(u8, i64)> = BTreeSet::new();
        let overlay = |open: &HashMap<&str, (u8, i64, i64)>, key: (u8, i64)| -> i64 {
            open.values()
                .filter(|(s, p, _)| (*s, *p) == key)
                .map(|o| o.2)
                .sum()
        };
        let mut ci = 0;
        let mut events = Vec::with_capacity(self.events().len());
        let mut levels: Vec<Level> = Vec::with_capacity(self.levels_len());
        for ev in self.events() {
            let Some(b) = self.book(ev) else {
                events.push(*ev);
                continue;
            };
            while let Some(c) = changes.get(ci).filter(|c| c.exch <= ev.exch) {
                if let Some((s, p, _)) = open.get(c.order_id.as_str()) {
                    dirty.insert((*s, *p));
                }
                let key = (side_ix(c.side), c.price.0);
                if c.leaves.0 > 0 {
                    open.insert(c.order_id.as_str(), (key.0, key.1, c.leaves.0));
                } else {
                    open.remove(c.order_id.as_str());
                }
                dirty.insert(key);
                ci += 1;
            }
            let snapshot = b.kind == BookKind::Snapshot;
            if snapshot {
                raw.clear();
            }
            let start = levels.len();
            let mut counts = [0u32; 2];
            for (s, side_levels) in [(0u8, b.bids), (1u8, b.asks)] {
                for l in side_levels {
                    let key = (s, l.price.0);
                    if l.qty.0 == 0 {
                        raw.remove(&key);
                    } else {
                        raw.insert(key, l.qty.0);
                    }
                    dirty.remove(&key);
                    let q = (l.qty.0 - overlay(&open, key)).max(0);
                    if snapshot && q == 0 {
                        continue; // a snapshot lists only levels that rest
                    }
                    levels.push(Level {
                        price: l.price,
                        qty: Lots(q),
                    });
                    counts[usize::from(s)] += 1;
                }
                // Levels our orders left or joined that this message did
                // not mention: their recorded size, less ours.
                if !snapshot {
                    for &(ds, dp) in dirty.iter().filter(|k| k.0 == s) {
                        let q = (raw.get(&(ds, dp)).copied().unwrap_or(0)
                            - overlay(&open, (ds, dp)))
                        .max(0);
                        levels.push(Level {
                            price: Ticks(dp),
                            qty: Lots(q),
                        });
                        counts[usize::from(s)] += 1;
                    }
                }
            }
            dirty.clear();
            let EventKind::Book {
                snapshot: is_snap,
                depth,
                u,
                seq,
                ..
            } = ev.kind
            else {
                continue;
            };
            events.push(Event {
                kind: EventKind::Book {
                    snapshot: is_snap,
                    depth,
                    u,
                    seq,
                    start: start as u32,
                    bids: counts[0],
                    asks: counts[1],
                },
                ..*ev
            });
        }
        self.with_events(events, levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::TapeSpec;
    use crate::units::Step;

    fn change(ms: u64, id: &str, side: Side, price: i64, leaves: i64) -> OwnChange {
        OwnChange {
            exch: ExchMs(ms),
            order_id: id.into(),
            side,
            price: Ticks(price),
            leaves: Lots(leaves),
        }
    }

    fn book_line(ts: u64, kind: &str, u: u64, bids: &str, asks: &str) -> String {
        format!(
            "{{\"topic\":\"orderbook.50.X\",\"type\":\"{kind}\",\"ts\":{ts},\"data\":{{\"s\":\"X\",\"b\":[{bids}],\"a\":[{asks}],\"u\":{u},\"seq\":{u}}}}}\n"
        )
    }

    #[test]
    fn our_resting_quantity_is_taken_off_the_levels_it_sits_in() {
        // Others: 5 at bid 100. We join at 100 with 2 (the book shows 7),
        // move to 99 (100 back to 5, 99 shows 2: only us), then close.
        let text = [
            book_line(1000, "snapshot", 1, "[\"100\",\"5\"]", "[\"105\",\"4\"]"),
            book_line(1010, "delta", 2, "[\"100\",\"7\"]", ""),
            book_line(1020, "delta", 3, "[\"100\",\"5\"],[\"99\",\"2\"]", ""),
            book_line(1030, "delta", 4, "[\"99\",\"0\"]", ""),
        ]
        .concat();
        let spec = TapeSpec {
            price_step: Step::parse("1").unwrap(),
            qty_step: Step::parse("1").unwrap(),
            symbol: None,
        };
        let tape = Tape::from_bytes("t", text.as_bytes(), &spec).unwrap();
        let own = [
            change(1010, "a", Side::Buy, 100, 2),
            change(1020, "a", Side::Buy, 99, 2),
            change(1030, "a", Side::Buy, 99, 0),
        ];
        let t = tape.without_own(&own);
        let bids = |i: usize| -> Vec<(i64, i64)> {
            let e = &t.events()[i];
            t.book(e)
                .unwrap()
                .bids
                .iter()
                .map(|l| (l.price.0, l.qty.0))
                .collect()
        };
        assert_eq!(bids(0), [(100, 5)]);
        assert_eq!(bids(1), [(100, 5)], "7 shown, 2 of them ours");
        assert_eq!(bids(2), [(100, 5), (99, 0)], "99 held only us");
        assert_eq!(bids(3), [(99, 0)]);
    }

    #[test]
    fn a_book_message_ahead_of_its_order_event_is_put_right_next_message() {
        // The book shows our 2 at 100 (ts 1010) before the order event (1011).
        let text = [
            book_line(1000, "snapshot", 1, "[\"100\",\"5\"]", "[\"105\",\"4\"]"),
            book_line(1010, "delta", 2, "[\"100\",\"7\"]", ""),
            book_line(1012, "delta", 3, "", "[\"106\",\"1\"]"),
        ]
        .concat();
        let spec = TapeSpec {
            price_step: Step::parse("1").unwrap(),
            qty_step: Step::parse("1").unwrap(),
            symbol: None,
        };
        let tape = Tape::from_bytes("t", text.as_bytes(), &spec).unwrap();
        let t = tape.without_own(&[change(1011, "a", Side::Buy, 100, 2)]);
        let e = &t.events()[2];
        let b = t.book(e).unwrap();
        assert_eq!(
            b.bids
                .iter()
                .map(|l| (l.price.0, l.qty.0))
                .collect::<Vec<_>>(),
            [(100, 5)]
        );
        assert_eq!(b.asks.len(), 1);
    }

    #[test]
    fn journal_order_lines_become_changes() {
        let p = std::env::temp_dir().join(format!("gapmm-own-{}.jsonl", std::process::id()));
        std::fs::write(
            &p,
            "{\"t\":\"session\",\"venue\":\"v\"}\n\
             {\"t\":\"order\",\"order_id\":\"1\",\"link_id\":\"l\",\"side\":\"Buy\",\"status\":\"New\",\"price_ticks\":10,\"qty_lots\":3,\"leaves_lots\":3,\"cum_lots\":0,\"ts\":5}\n\
             {\"t\":\"order\",\"order_id\":\"1\",\"link_id\":\"l\",\"side\":\"Buy\",\"status\":\"Filled\",\"price_ticks\":10,\"qty_lots\":3,\"leaves_lots\":0,\"cum_lots\":3,\"ts\":6}\n",
        )
        .unwrap();
        let c = own_from_journal(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(
            c,
            [
                change(5, "1", Side::Buy, 10, 3),
                change(6, "1", Side::Buy, 10, 0)
            ]
        );
    }
}
