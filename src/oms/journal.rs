//! Journal records (JSON Lines) and crash recovery.
//!
//! The order manager appends one line per emitted request and per accepted
//! order event or fill, e.g.
//! `{"t":"fill","exec_id":"e1","order_id":"o1","link_id":"","side":"Buy","price_ticks":1000,"qty_lots":5,"fee":"0.01","maker":true,"ts":1716800399334}`.
//! Writing the lines to disk happens on another thread; [`encode`] only
//! appends bytes to a reused `Vec<u8>` (no allocation while its capacity
//! suffices). Every value is an integer or an identifier that cannot contain
//! a quote or backslash, so no escaping is needed and `"ts"` always comes last.
//!
//! [`recover`] reads a journal back after a crash: position and realised PnL
//! (by re-applying the fills through the same average-cost code), the fills'
//! execution ids (for de-duplication against the exchange's execution list),
//! our order ids still open, and the last run/sequence. A torn last line (or
//! any malformed line) is skipped and counted; since its fill never made it
//! into the recovered state, replaying the exchange's executions through
//! [`crate::oms::Oms::on_fill`] after [`crate::oms::Oms::restore`] counts it
//! exactly once.
//!
//! Each run opens its part of the journal with a `session` line naming the
//! venue, the account and API key, category, symbol and the price and
//! quantity steps (the units of `price_ticks` and `qty_lots`).
//! [`recover_session`] applies only the lines of sessions with the same
//! identity: a journal written against testnet is never taken for
//! mainnet's, nor one of another account or key (or of a simulator started
//! again on the same port), of another symbol or of an instrument whose
//! tick size has changed since. Lines of other sessions are counted and
//! skipped; a journal from before the account was recorded is one of them.
//!
//! Contract: [`encode`] is hot-path safe (no allocation beyond the buffer's
//! capacity, no panic). [`recover`] runs once at start-up and allocates.

use std::collections::HashMap;
use std::io::Write;

/// Longest record [`encode`] writes (a fill with the longest ids, fee and
/// numbers is under 400 bytes).
pub const MAX_RECORD: usize = 512;

use super::order::{OrderEvent, OrderStatus};
use super::pnl::Pnl;
use super::Fill;
use crate::ids::{Category, ExecId, OrderId, OrderLinkId};
use crate::oms::link_id;
use crate::time::ExchMs;
use crate::units::{Decimal, Lots, Side, Ticks};

/// One journal record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Record<'a> {
    /// A create request sent.
    Create {
        /// Monotonic ns when sent.
        ts: u64,
        /// Side.
        side: Side,
        /// Price.
        price: Ticks,
        /// Quantity.
        qty: Lots,
        /// Client id.
        link_id: &'a OrderLinkId,
    },
    /// An amend request sent.
    Amend {
        /// Monotonic ns when sent.
        ts: u64,
        /// Side.
        side: Side,
        /// Exchange id (may be empty).
        order_id: &'a OrderId,
        /// Client id.
        link_id: &'a OrderLinkId,
        /// New price.
        price: Ticks,
        /// New total quantity, if changed.
        qty: Option<Lots>,
    },
    /// A cancel request sent.
    Cancel {
        /// Monotonic ns when sent.
        ts: u64,
        /// Side.
        side: Side,
        /// Exchange id (may be empty).
        order_id: &'a OrderId,
        /// Client id.
        link_id: &'a OrderLinkId,
    },
    /// A cancel-all request sent.
    CancelAll {
        /// Monotonic ns when sent.
        ts: u64,
    },
    /// An order-stream event for one of our orders.
    Order(&'a OrderEvent),
    /// A fill (first sighting, or a later copy that brought the fee).
    Fill(&'a Fill),
    /// The position overwritten from an exchange snapshot.
    Position {
        /// Monotonic ns.
        ts: u64,
        /// New position.
        qty: Lots,
        /// New cost basis (ticks × lots).
        cost: i128,
    },
}

fn kv_str(out: &mut Vec<u8>, key: &str, v: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend_from_slice(v.as_bytes());
    out.push(b'"');
}

fn kv_i64(out: &mut Vec<u8>, key: &str, v: i64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

fn kv_u64(out: &mut Vec<u8>, key: &str, v: u64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

fn start(out: &mut Vec<u8>, t: &str) {
    out.extend_from_slice(b"{\"t\":\"");
    out.extend_from_slice(t.as_bytes());
    out.push(b'"');
}

fn end(out: &mut Vec<u8>, ts: u64) {
    kv_u64(out, "ts", ts);
    out.extend_from_slice(b"}\n");
}

/// Appends `rec` as one JSON line (with the trailing newline) to `out`.
pub fn encode(rec: &Record<'_>, out: &mut Vec<u8>) {
    match *rec {
        Record::Create {
            ts,
            side,
            price,
            qty,
            link_id,
        } => {
            start(out, "create");
            kv_str(out, "side", side.as_str());
            kv_i64(out, "price_ticks", price.0);
            kv_i64(out, "qty_lots", qty.0);
            kv_str(out, "link_id", link_id.as_str());
            end(out, ts);
        }
        Record::Amend {
            ts,
            side,
            order_id,
            link_id,
            price,
            qty,
        } => {
            start(out, "amend");
            kv_str(out, "side", side.as_str());
            kv_str(out, "order_id", order_id.as_str());
            kv_str(out, "link_id", link_id.as_str());
            kv_i64(out, "price_ticks", price.0);
            if let Some(q) = qty {
                kv_i64(out, "qty_lots", q.0);
            }
            end(out, ts);
        }
        Record::Cancel {
            ts,
            side,
            order_id,
            link_id,
        } => {
            start(out, "cancel");
            kv_str(out, "side", side.as_str());
            kv_str(out, "order_id", order_id.as_str());
            kv_str(out, "link_id", link_id.as_str());
            end(out, ts);
        }
        Record::CancelAll { ts } => {
            start(out, "cancel_all");
            end(out, ts);
        }
        Record::Order(ev) => {
            start(out, "order");
            kv_str(out, "order_id", ev.order_id.as_str());
            kv_str(out, "link_id", ev.link_id.as_str());
            kv_str(out, "side", ev.side.as_str());
            kv_str(out, "status", ev.status.as_str());
            kv_i64(out, "price_ticks", ev.price.0);
            kv_i64(out, "qty_lots", ev.qty.0);
            kv_i64(out, "leaves_lots", ev.leaves_qty.0);
            kv_i64(out, "cum_lots", ev.cum_exec_qty.0);
            end(out, ev.updated.0);
        }
        Record::Fill(f) => {
            start(out, "fill");
            kv_str(out, "exec_id", f.exec_id.as_str());
            kv_str(out, "order_id", f.order_id.as_str());
            kv_str(out, "link_id", f.link_id.as_str());
            kv_str(out, "side", f.side.as_str());
            kv_i64(out, "price_ticks", f.price.0);
            kv_i64(out, "qty_lots", f.qty.0);
            if let Some(fee) = f.fee {
                out.extend_from_slice(b",\"fee\":\"");
                // Writing into a Vec cannot fail; `Decimal`'s Display does not allocate.
                let _ = write!(out, "{fee}");
                out.push(b'"');
                if f.fee_base_nlots != 0 {
                    kv_i64(out, "base_fee_nlots", f.fee_base_nlots);
                }
            }
            out.extend_from_slice(if f.is_maker {
                b",\"maker\":true"
            } else {
                b",\"maker\":false"
            });
            end(out, f.exec_time.0);
        }
        Record::Position { ts, qty, cost } => {
            start(out, "pos");
            kv_i64(out, "qty_lots", qty.0);
            out.extend_from_slice(b",\"cost\":");
            let _ = write!(out, "{cost}");
            end(out, ts);
        }
    }
}

/// Which exchange account and instrument a run's journal lines belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session<'a> {
    /// `mainnet`, `testnet`, or `sim@host:port` for a simulator at a URL.
    pub venue: &'a str,
    /// The account and API key (`uid/key id` from `/v5/user/query-api`):
    /// another account, another key or another exchange instance (a
    /// simulator restarted on the same port issues new key ids) is another
    /// session.
    pub account: &'a str,
    /// Category.
    pub category: Category,
    /// Symbol.
    pub symbol: &'a str,
    /// Price step as text: the unit of `price_ticks`.
    pub tick: &'a str,
    /// Quantity step as text: the unit of `qty_lots`.
    pub lot: &'a str,
}

/// A session field's bytes as written: anything but letters, digits and
/// `.:@_-/[]` becomes `_`, so a value never needs escaping.
fn clean(v: &str) -> impl Iterator<Item = u8> + '_ {
    v.bytes().map(|b| {
        if b.is_ascii_alphanumeric() || b".:@_-/[]".contains(&b) {
            b
        } else {
            b'_'
        }
    })
}

fn kv_clean(out: &mut Vec<u8>, key: &str, v: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":\"");
    out.extend(clean(v));
    out.push(b'"');
}

/// Appends the line that opens a run's part of the journal (`wall_ms`: the
/// wall clock at start-up).
pub fn encode_session(s: &Session<'_>, wall_ms: u64, out: &mut Vec<u8>) {
    start(out, "session");
    kv_clean(out, "venue", s.venue);
    kv_clean(out, "account", s.account);
    kv_clean(out, "category", s.category.as_str());
    kv_clean(out, "symbol", s.symbol);
    kv_clean(out, "tick", s.tick);
    kv_clean(out, "lot", s.lot);
    end(out, wall_ms);
}

fn same_session(line: &[u8], s: &Session<'_>) -> bool {
    let is = |key: &str, v: &str| field(line, key).is_some_and(|f| f.iter().copied().eq(clean(v)));
    is("venue", s.venue)
        && is("account", s.account)
        && is("category", s.category.as_str())
        && is("symbol", s.symbol)
        && is("tick", s.tick)
        && is("lot", s.lot)
}

/// What a journal says about the state at the crash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecoveredState {
    /// Position and PnL after every journaled fill.
    pub pnl: Pnl,
    /// Journaled fills in order: execution id, exec time, whether its fee was counted.
    pub seen: Vec<(ExecId, ExchMs, bool)>,
    /// The run of the last create.
    pub run: Option<u32>,
    /// The sequence number of the last create.
    pub last_seq: Option<u64>,
    /// Lines read.
    pub lines: usize,
    /// Malformed or torn lines skipped.
    pub bad_lines: usize,
    /// Wall-clock start of the first session whose lines were read.
    pub first_session: Option<ExchMs>,
    /// Lines of other sessions (another venue, symbol or step) skipped by
    /// [`recover_session`], including those before the first session line.
    pub foreign_lines: usize,
}

impl RecoveredState {
    /// Recovered position.
    pub fn position(&self) -> Lots {
        self.pnl.position
    }
    /// Recovered realised PnL (ticks × lots).
    pub fn realised(&self) -> i128 {
        self.pnl.realised
    }
}

/// Finds `"key":` in a line and returns the raw value (string contents
/// without quotes, or the number / literal text).
fn field<'a>(line: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let k = key.as_bytes();
    let n = k.len() + 3;
    let at = line.windows(n).position(|w| {
        w.first() == Some(&b'"')
            && w.get(1..=k.len()) == Some(k)
            && w.get(k.len() + 1) == Some(&b'"')
            && w.get(k.len() + 2) == Some(&b':')
    })?;
    let rest = line.get(at + n..)?;
    if rest.first() == Some(&b'"') {
        let body = rest.get(1..)?;
        let close = body.iter().position(|&b| b == b'"')?;
        body.get(..close)
    } else {
        let stop = rest.iter().position(|&b| b == b',' || b == b'}')?;
        rest.get(..stop)
    }
}

fn num_i128(v: &[u8]) -> Option<i128> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn num_i64(line: &[u8], key: &str) -> Option<i64> {
    std::str::from_utf8(field(line, key)?).ok()?.parse().ok()
}

fn num_u64(line: &[u8], key: &str) -> Option<u64> {
    std::str::from_utf8(field(line, key)?).ok()?.parse().ok()
}

fn side(line: &[u8]) -> Option<Side> {
    Side::parse(field(line, "side")?).ok()
}

/// Reads every line of a journal, whatever session wrote it (a torn or
/// malformed line is skipped). The engine uses [`recover_session`].
pub fn recover(input: &[u8]) -> RecoveredState {
    read(input, None)
}

/// Reads the lines that sessions identical to `session` wrote, and skips
/// (counting them) those of any other session and those before the first
/// session line.
pub fn recover_session(input: &[u8], session: &Session<'_>) -> RecoveredState {
    read(input, Some(session))
}

fn read(input: &[u8], want: Option<&Session<'_>>) -> RecoveredState {
    let mut st = RecoveredState::default();
    let mut index: HashMap<ExecId, usize> = HashMap::new();
    let mut ours = want.is_none();
    for raw in input.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        st.lines += 1;
        if field(line, "t") == Some(b"session") {
            if let Some(w) = want {
                ours = same_session(line, w);
            }
            if ours && st.first_session.is_none() {
                st.first_session = num_u64(line, "ts").map(ExchMs);
            }
            continue;
        }
        if !ours {
            st.foreign_lines += 1;
        } else if apply_line(line, &mut st, &mut index).is_none() {
            st.bad_lines += 1;
        }
    }
    st
}

fn apply_line(
    line: &[u8],
    st: &mut RecoveredState,
    index: &mut HashMap<ExecId, usize>,
) -> Option<()> {
    if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
        return None;
    }
    let ts = num_u64(line, "ts")?;
    match field(line, "t")? {
        b"fill" => {
            let exec_id = ExecId::new(field(line, "exec_id")?).ok()?;
            if exec_id.is_empty() {
                return None;
            }
            let side = side(line)?;
            let price = Ticks(num_i64(line, "price_ticks")?);
            let qty = Lots(num_i64(line, "qty_lots")?);
            if qty.0 <= 0 || price.0 <= 0 {
                return None;
            }
            let fee = match field(line, "fee") {
                Some(v) => Some(Decimal::parse(v).ok()?),
                None => None,
            };
            let base_nlots = match field(line, "base_fee_nlots") {
                Some(_) => num_i64(line, "base_fee_nlots")?,
                None => 0,
            };
            match index.get(&exec_id) {
                Some(&k) => {
                    if let (Some(e), Some(fee)) = (st.seen.get_mut(k), fee) {
                        if !e.2 {
                            e.2 = true;
                            st.pnl.charge(fee, base_nlots);
                        }
                    }
                }
                None => {
                    st.pnl.apply(side, price, qty);
                    if let Some(fee) = fee {
                        st.pnl.charge(fee, base_nlots);
                    }
                    index.insert(exec_id, st.seen.len());
                    st.seen.push((exec_id, ExchMs(ts), fee.is_some()));
                }
            }
        }
        b"create" => {
            let link = OrderLinkId::new(field(line, "link_id")?).ok()?;
            side(line)?;
            if let Some(p) = link_id::parse(link.as_bytes()) {
                st.run = Some(p.run);
                st.last_seq = Some(p.seq);
            }
        }
        b"order" => {
            // Validated only: which orders are open is the exchange's word
            // at start-up (a list kept here grew with every order whose
            // close was not journaled, and was searched on every line).
            OrderLinkId::new(field(line, "link_id")?).ok()?;
            OrderStatus::parse(field(line, "status")?)?;
        }
        b"pos" => {
            let qty = Lots(num_i64(line, "qty_lots")?);
            let cost = num_i128(field(line, "cost")?)?;
            st.pnl.position = qty;
            st.pnl.cost = cost;
        }
        b"amend" | b"cancel" | b"cancel_all" => {}
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oms::order::RejectReason;
    use proptest::prelude::*;

    fn fill(id: &str, side: Side, price: i64, qty: i64, fee: Option<&str>) -> Fill {
        Fill {
            exec_id: ExecId::from_str(id).unwrap(),
            order_id: OrderId::from_str("o1").unwrap(),
            link_id: OrderLinkId::default(),
            side,
            price: Ticks(price),
            qty: Lots(qty),
            fee: fee.map(|f| Decimal::parse(f.as_bytes()).unwrap()),
            fee_base_nlots: 0,
            is_maker: true,
            exec_time: ExchMs(1_716_800_399_334),
        }
    }

    /// A base-coin fee is journaled with its fill and taken off the
    /// recovered position exactly as the live manager took it: once, even
    /// when a later copy of the fill repeats it.
    #[test]
    fn a_base_coin_fee_survives_the_journal() {
        let mut out = Vec::new();
        let mut a = fill("a", Side::Buy, 100, 10, Some("0.0000015"));
        a.fee_base_nlots = 1_500_000_000;
        encode(
            &Record::Fill(&fill("a", Side::Buy, 100, 10, None)),
            &mut out,
        );
        encode(&Record::Fill(&a), &mut out);
        encode(&Record::Fill(&a), &mut out);
        let st = recover(&out);
        let mut live = crate::oms::Pnl::default();
        live.apply(Side::Buy, Ticks(100), Lots(10));
        live.charge(a.fee.unwrap(), a.fee_base_nlots);
        assert_eq!(st.position(), Lots(9));
        assert_eq!(st.pnl, live);
    }

    #[test]
    fn fill_line_has_the_documented_shape() {
        let mut out = Vec::new();
        encode(
            &Record::Fill(&fill("e1", Side::Buy, 1000, 5, Some("0.01"))),
            &mut out,
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "{\"t\":\"fill\",\"exec_id\":\"e1\",\"order_id\":\"o1\",\"link_id\":\"\",\"side\":\"Buy\",\"price_ticks\":1000,\"qty_lots\":5,\"fee\":\"0.01\",\"maker\":true,\"ts\":1716800399334}\n"
        );
        // Every record type is valid JSON.
        let link = OrderLinkId::from_str("gm000001-5-9").unwrap();
        let oid = OrderId::from_str("abc").unwrap();
        let ev = OrderEvent {
            order_id: oid,
            link_id: link,
            side: Side::Sell,
            price: Ticks(7),
            qty: Lots(2),
            leaves_qty: Lots(2),
            cum_exec_qty: Lots(0),
            status: OrderStatus::New,
            reject_reason: RejectReason::None,
            updated: ExchMs(3),
        };
        let recs = [
            Record::Create {
                ts: 1,
                side: Side::Buy,
                price: Ticks(5),
                qty: Lots(1),
                link_id: &link,
            },
            Record::Amend {
                ts: 2,
                side: Side::Buy,
                order_id: &oid,
                link_id: &link,
                price: Ticks(6),
                qty: None,
            },
            Record::Cancel {
                ts: 3,
                side: Side::Buy,
                order_id: &oid,
                link_id: &link,
            },
            Record::CancelAll { ts: 4 },
            Record::Order(&ev),
            Record::Position {
                ts: 5,
                qty: Lots(-3),
                cost: -300,
            },
        ];
        for r in &recs {
            let mut out = Vec::new();
            encode(r, &mut out);
            assert_eq!(out.last(), Some(&b'\n'));
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert!(v["ts"].is_u64(), "{v}");
        }
    }

    #[test]
    fn recovery_rebuilds_position_and_open_orders() {
        let mut out = Vec::new();
        let link = OrderLinkId::from_str("gm0000zz-12-99").unwrap();
        encode(
            &Record::Create {
                ts: 1,
                side: Side::Buy,
                price: Ticks(100),
                qty: Lots(5),
                link_id: &link,
            },
            &mut out,
        );
        encode(&Record::Fill(&fill("a", Side::Buy, 100, 2, None)), &mut out);
        encode(
            &Record::Fill(&fill("a", Side::Buy, 100, 2, Some("0.5"))),
            &mut out,
        );
        encode(
            &Record::Fill(&fill("b", Side::Sell, 104, 1, Some("0.25"))),
            &mut out,
        );
        let st = recover(&out);
        assert_eq!(st.position(), Lots(1));
        assert_eq!(st.realised(), 4);
        assert_eq!(st.pnl.fees, 0.75);
        assert_eq!(st.seen.len(), 2);
        assert_eq!((st.run, st.last_seq), (Some(35 * 36 + 35), Some(36 + 2)));
        assert_eq!(st.bad_lines, 0);
        // A torn last line is skipped.
        let torn = &out[..out.len() - 7];
        let st2 = recover(torn);
        assert_eq!(st2.position(), Lots(2));
        assert_eq!(st2.bad_lines, 1);
    }

    const TESTNET: Session<'static> = Session {
        venue: "testnet",
        account: "24617703/13770661",
        category: Category::Linear,
        symbol: "BTCUSDT",
        tick: "0.1",
        lot: "0.001",
    };

    #[test]
    fn session_line_is_json_and_never_needs_escaping() {
        let mut out = Vec::new();
        encode_session(&TESTNET, 1_764_000_000_000, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "{\"t\":\"session\",\"venue\":\"testnet\",\"account\":\"24617703/13770661\",\"category\":\"linear\",\"symbol\":\"BTCUSDT\",\"tick\":\"0.1\",\"lot\":\"0.001\",\"ts\":1764000000000}\n"
        );
        let odd = Session {
            venue: "sim@[::1]:80\"x\\\n",
            ..TESTNET
        };
        let mut out = Vec::new();
        encode_session(&odd, 1, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["venue"], "sim@[::1]:80_x__");
        // A session written with odd bytes is recognised as itself.
        encode(&Record::Fill(&fill("f", Side::Buy, 10, 4, None)), &mut out);
        assert_eq!(recover_session(&out, &odd).position(), Lots(4));
    }

    #[test]
    fn recovery_takes_only_the_lines_of_the_same_session() {
        let mainnet = Session {
            venue: "mainnet",
            ..TESTNET
        };
        let mut out = Vec::new();
        // Lines from before sessions existed belong to no session.
        encode(
            &Record::Fill(&fill("old", Side::Buy, 100, 9, None)),
            &mut out,
        );
        encode_session(&TESTNET, 1, &mut out);
        encode(
            &Record::Fill(&fill("t1", Side::Buy, 100, 5, None)),
            &mut out,
        );
        encode_session(&mainnet, 2, &mut out);
        encode(
            &Record::Fill(&fill("m1", Side::Sell, 100, 3, None)),
            &mut out,
        );
        encode_session(&TESTNET, 3, &mut out);
        encode(
            &Record::Fill(&fill("t2", Side::Buy, 101, 1, None)),
            &mut out,
        );

        let t = recover_session(&out, &TESTNET);
        assert_eq!(t.position(), Lots(6));
        assert_eq!(t.first_session, Some(ExchMs(1)));
        assert_eq!(
            recover_session(&out, &mainnet).first_session,
            Some(ExchMs(2))
        );
        let ids: Vec<_> = t.seen.iter().map(|s| s.0.as_str().to_string()).collect();
        assert_eq!(ids, ["t1", "t2"]);
        assert_eq!((t.foreign_lines, t.bad_lines), (2, 0));

        assert_eq!(recover_session(&out, &mainnet).position(), Lots(-3));
        // Same venue and symbol, but the tick size changed: the old
        // `price_ticks` are in another unit, so nothing is taken.
        let retick = Session {
            tick: "0.5",
            ..TESTNET
        };
        let r = recover_session(&out, &retick);
        assert_eq!(
            (r.position(), r.seen.len(), r.foreign_lines),
            (Lots(0), 0, 4)
        );
        for other in [
            // Another account, or another key of the same account (also
            // what a simulator started again on the same port looks like).
            Session {
                account: "99/13770661",
                ..TESTNET
            },
            Session {
                account: "24617703/555",
                ..TESTNET
            },
            Session {
                symbol: "ETHUSDT",
                ..TESTNET
            },
            Session {
                category: Category::Spot,
                ..TESTNET
            },
            Session {
                lot: "0.01",
                ..TESTNET
            },
        ] {
            assert_eq!(recover_session(&out, &other).position(), Lots(0));
        }
        // Reading every line regardless of session adds them all up.
        assert_eq!(recover(&out).position(), Lots(9 + 5 - 3 + 1));
    }

    proptest! {
        #[test]
        fn recover_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = recover(&bytes);
            let _ = recover_session(&bytes, &TESTNET);
        }

        #[test]
        fn recover_never_panics_on_mutated_journal(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
            let mut out = Vec::new();
            encode(&Record::Fill(&fill("x1", Side::Buy, 10, 3, Some("0.1"))), &mut out);
            encode(&Record::Fill(&fill("x2", Side::Sell, 11, 1, None)), &mut out);
            encode(&Record::Position { ts: 1, qty: Lots(2), cost: 20 }, &mut out);
            let n = out.len();
            if let Some(b) = out.get_mut(pos % n) { *b = byte; }
            out.truncate(cut.min(n));
            let _ = recover(&out);
            let _ = recover_session(&out, &TESTNET);
        }
    }
}
