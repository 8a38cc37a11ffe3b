//! A gap-mm recording turned into hftbacktest [`Event`] rows.
//!
//! The input is the recorder's layout: one message a line,
//! `<local receive time, ns since the epoch> <Bybit v5 public WS message JSON>`,
//! gzip-compressed or plain. Two topics are read:
//!
//! - `orderbook.N.SYMBOL`: a `snapshot` becomes one depth-clear row (both
//!   sides) and one snapshot row per level; a `delta` becomes one depth row
//!   per level (absolute size, `0` deletes). Bids first, then asks, in the
//!   message's order. Exchange time: the message's `ts` (ms).
//! - `publicTrade.SYMBOL`: one trade row per element of `data`, flagged with
//!   the taker's side (`S`). Exchange time: the trade's own `T` (ms).
//!
//! Lines without a topic (e.g. subscription answers) and other topics are
//! skipped and counted. A malformed line is an error naming its line number.
//!
//! **Timestamps** (the rule gap-mm's own backtester uses): exchange time is
//! `ms × 1_000_000`; local time is the recorded ns. The clock offset is the
//! smallest `local − ts × 1_000_000` over all converted lines (`ts` = the
//! message's own `ts`); if it is negative, `−offset` is added to every local
//! time, so no feed latency is negative.
//!
//! **Event order**: hftbacktest's exchange processor walks the rows flagged
//! `EXCH_EVENT` in array order and its local processor the rows flagged
//! `LOCAL_EVENT`; each walk must be in time order. [`correct_event_order`]
//! sorts the rows by exchange time and by local time (both stable, so file
//! order breaks ties) and merges the two orders, emitting one row with both
//! flags where the two orders agree and a one-sided copy where they do not
//! (hftbacktest's own `correct_event_order` in its Python tooling does the
//! same split).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use hftbacktest::types::{
    Event, BUY_EVENT, DEPTH_CLEAR_EVENT, DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT, EXCH_EVENT,
    LOCAL_EVENT, SELL_EVENT, TRADE_EVENT,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A converted recording.
#[derive(Debug, Clone)]
pub struct Recording {
    /// hftbacktest rows in corrected order, each flagged `EXCH_EVENT`,
    /// `LOCAL_EVENT` or both.
    pub events: Vec<Event>,
    /// Rows before the order correction (one per level or trade, plus one
    /// clear per snapshot).
    pub raw_rows: usize,
    /// Book and trade messages converted.
    pub messages: usize,
    /// Book messages among them.
    pub book_messages: usize,
    /// Trade messages among them.
    pub trade_messages: usize,
    /// Trades (elements of the trade messages).
    pub trades: usize,
    /// Lines skipped: no topic, or a topic other than book and trades.
    pub skipped_lines: usize,
    /// The symbol of the topics (the first seen).
    pub symbol: Option<String>,
    /// The clock offset: min over converted lines of `local − ts × 1e6` (ns).
    pub offset_ns: i64,
    /// What was added to every local time: `max(0, −offset)`.
    pub local_shift_ns: i64,
}

/// What the timestamp rule adds to every local time for a clock offset
/// (`min(local − exch)`): `−offset` if it is negative, else nothing.
pub fn local_shift(offset_ns: i64) -> i64 {
    if offset_ns < 0 {
        offset_ns.saturating_neg()
    } else {
        0
    }
}

/// Reads and converts the recording at `path` (gzip if it starts with the
/// gzip magic bytes, plain text otherwise).
pub fn read_recording(path: &Path) -> Result<Recording, String> {
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    drop(f);
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        convert_reader(BufReader::with_capacity(
            1 << 20,
            MultiGzDecoder::new(BufReader::new(f)),
        ))
    } else {
        convert_reader(BufReader::with_capacity(1 << 20, f))
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    ts: Option<i64>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct BookData<'a> {
    #[serde(borrow, default)]
    b: Vec<[Cow<'a, str>; 2]>,
    #[serde(borrow, default)]
    a: Vec<[Cow<'a, str>; 2]>,
}

#[derive(Deserialize)]
struct TradeRow<'a> {
    #[serde(rename = "T")]
    t: i64,
    #[serde(rename = "S", borrow)]
    side: Cow<'a, str>,
    #[serde(borrow)]
    v: Cow<'a, str>,
    #[serde(borrow)]
    p: Cow<'a, str>,
}

fn row(ev: u64, exch_ts: i64, local_ts: i64, px: f64, qty: f64) -> Event {
    Event {
        ev,
        exch_ts,
        local_ts,
        px,
        qty,
        order_id: 0,
        ival: 0,
        fval: 0.0,
    }
}

fn ms_to_ns(ms: i64, line_no: usize, what: &str) -> Result<i64, String> {
    if ms < 0 {
        return Err(format!("line {line_no}: negative {what} {ms}"));
    }
    ms.checked_mul(1_000_000)
        .ok_or_else(|| format!("line {line_no}: {what} {ms} overflows ns"))
}

fn num(s: &str, line_no: usize, what: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("line {line_no}: bad {what} {s:?}")),
    }
}

fn levels(
    out: &mut Vec<Event>,
    lv: &[[Cow<'_, str>; 2]],
    ev: u64,
    exch: i64,
    local: i64,
    line_no: usize,
) -> Result<(), String> {
    for [p, s] in lv {
        let px = num(p, line_no, "price")?;
        if px <= 0.0 {
            return Err(format!("line {line_no}: non-positive price {p:?}"));
        }
        out.push(row(ev, exch, local, px, num(s, line_no, "size")?));
    }
    Ok(())
}

/// Converts a recording from any line reader (see the module docs).
pub fn convert_reader<R: BufRead>(mut r: R) -> Result<Recording, String> {
    let mut raw: Vec<Event> = Vec::with_capacity(1 << 16);
    let mut rec = Recording {
        events: Vec::new(),
        raw_rows: 0,
        messages: 0,
        book_messages: 0,
        trade_messages: 0,
        trades: 0,
        skipped_lines: 0,
        symbol: None,
        offset_ns: 0,
        local_shift_ns: 0,
    };
    let mut offset: Option<i64> = None;
    let mut buf = String::with_capacity(1 << 16);
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = r
            .read_line(&mut buf)
            .map_err(|e| format!("line {}: read error: {e}", line_no + 1))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = buf.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let (ns, json) = line
            .split_once(' ')
            .ok_or_else(|| format!("line {line_no}: expected `<ns> <json>`"))?;
        let local: i64 = ns
            .parse()
            .map_err(|_| format!("line {line_no}: bad local time {ns:?}"))?;
        let msg: Line = serde_json::from_str(json)
            .map_err(|e| format!("line {line_no}: bad message JSON: {e}"))?;
        let Some(topic) = msg.topic.as_deref() else {
            rec.skipped_lines += 1;
            continue;
        };
        let (is_book, sym) = if let Some(rest) = topic.strip_prefix("orderbook.") {
            let sym = rest.split_once('.').map(|(_, s)| s).unwrap_or("");
            (true, sym)
        } else if let Some(sym) = topic.strip_prefix("publicTrade.") {
            (false, sym)
        } else {
            rec.skipped_lines += 1;
            continue;
        };
        match &rec.symbol {
            None => rec.symbol = Some(sym.to_string()),
            Some(s) if s != sym => {
                return Err(format!(
                    "line {line_no}: symbol {sym:?} differs from the first one, {s:?}"
                ))
            }
            Some(_) => {}
        }
        let ts = msg
            .ts
            .ok_or_else(|| format!("line {line_no}: message without `ts`"))?;
        let exch = ms_to_ns(ts, line_no, "ts")?;
        let lat = local
            .checked_sub(exch)
            .ok_or_else(|| format!("line {line_no}: local − exchange time overflows"))?;
        offset = Some(offset.map_or(lat, |o| o.min(lat)));
        let data = msg
            .data
            .ok_or_else(|| format!("line {line_no}: message without `data`"))?;
        if is_book {
            let kind = msg.kind.as_deref().unwrap_or("");
            let d: BookData = serde_json::from_str(data.get())
                .map_err(|e| format!("line {line_no}: bad book data: {e}"))?;
            let (bid, ask) = match kind {
                "snapshot" => {
                    raw.push(row(DEPTH_CLEAR_EVENT, exch, local, 0.0, 0.0));
                    (
                        DEPTH_SNAPSHOT_EVENT | BUY_EVENT,
                        DEPTH_SNAPSHOT_EVENT | SELL_EVENT,
                    )
                }
                "delta" => (DEPTH_EVENT | BUY_EVENT, DEPTH_EVENT | SELL_EVENT),
                other => return Err(format!("line {line_no}: unknown book type {other:?}")),
            };
            levels(&mut raw, &d.b, bid, exch, local, line_no)?;
            levels(&mut raw, &d.a, ask, exch, local, line_no)?;
            rec.book_messages += 1;
        } else {
            let d: Vec<TradeRow> = serde_json::from_str(data.get())
                .map_err(|e| format!("line {line_no}: bad trade data: {e}"))?;
            for t in &d {
                let side = match t.side.as_ref() {
                    "Buy" => BUY_EVENT,
                    "Sell" => SELL_EVENT,
                    other => return Err(format!("line {line_no}: bad trade side {other:?}")),
                };
                let px = num(&t.p, line_no, "trade price")?;
                let qty = num(&t.v, line_no, "trade size")?;
                let t_ns = ms_to_ns(t.t, line_no, "trade time T")?;
                raw.push(row(TRADE_EVENT | side, t_ns, local, px, qty));
            }
            rec.trades += d.len();
            rec.trade_messages += 1;
        }
        rec.messages += 1;
    }
    if rec.messages == 0 {
        return Err("no book or trade message in the recording".into());
    }
    rec.offset_ns = offset.unwrap_or(0);
    rec.local_shift_ns = local_shift(rec.offset_ns);
    if rec.local_shift_ns != 0 {
        for e in &mut raw {
            e.local_ts = e
                .local_ts
                .checked_add(rec.local_shift_ns)
                .ok_or("a local time overflows after the offset shift")?;
        }
    }
    rec.raw_rows = raw.len();
    rec.events = correct_event_order(&raw);
    Ok(rec)
}

/// Flags `raw` rows (without `EXCH_EVENT`/`LOCAL_EVENT`) so that the rows
/// the exchange sees are in exchange-time order and the rows the local sees
/// in local-time order (see the module docs). Ties keep the input order.
pub fn correct_event_order(raw: &[Event]) -> Vec<Event> {
    let n = raw.len();
    let mut by_exch: Vec<usize> = (0..n).collect();
    by_exch.sort_by_key(|&i| raw[i].exch_ts); // stable
    let mut by_local: Vec<usize> = (0..n).collect();
    by_local.sort_by_key(|&i| raw[i].local_ts); // stable
    let mut out = Vec::with_capacity(n + n / 8);
    let (mut i, mut j) = (0usize, 0usize);
    while i < n || j < n {
        if i < n && j < n && by_exch[i] == by_local[j] {
            let mut e = raw[by_exch[i]].clone();
            e.ev |= EXCH_EVENT | LOCAL_EVENT;
            out.push(e);
            i += 1;
            j += 1;
        } else if i < n && (j >= n || raw[by_exch[i]].exch_ts <= raw[by_local[j]].local_ts) {
            let mut e = raw[by_exch[i]].clone();
            e.ev |= EXCH_EVENT;
            out.push(e);
            i += 1;
        } else {
            let mut e = raw[by_local[j]].clone();
            e.ev |= LOCAL_EVENT;
            out.push(e);
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = concat!(
        r#"999000000 {"success":true,"op":"subscribe"}"#,
        "\n",
        r#"1000000000 {"topic":"orderbook.200.XUSDT","type":"snapshot","ts":1010,"data":{"s":"XUSDT","b":[["1.000","5"]],"a":[["1.002","7"]],"u":1}}"#,
        "\n",
        r#"1015000000 {"topic":"publicTrade.XUSDT","type":"snapshot","ts":1012,"data":[{"T":1011,"s":"XUSDT","S":"Sell","v":"2","p":"1.000"}]}"#,
        "\n",
        r#"1020000000 {"topic":"orderbook.200.XUSDT","type":"delta","ts":1013,"data":{"s":"XUSDT","b":[["1.000","3"]],"a":[],"u":2}}"#,
        "\n",
    );

    #[test]
    fn shift_only_for_negative_offsets() {
        assert_eq!(local_shift(-25_000_000), 25_000_000);
        assert_eq!(local_shift(0), 0);
        assert_eq!(local_shift(7), 0);
    }

    #[test]
    fn bad_line_names_its_number() {
        // The first line is skipped (no topic), the second one is bad.
        let text = "5 {\"op\":\"pong\"}\n1 {\"topic\":\"publicTrade.X\",\"ts\":5,\"data\":[{\"T\":5,\"S\":\"Up\",\"v\":\"1\",\"p\":\"1\"}]}\n";
        let err = convert_reader(text.as_bytes()).unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let err = convert_reader("12x {}\n".as_bytes()).unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
    }

    #[test]
    fn tiny_recording_converts() {
        // The subscription answer is skipped. Offsets: 1000−1010 = −10 ms,
        // 1015−1012 = 3 ms, 1020−1013 = 7 ms (message `ts`, not the trade's
        // `T`): the offset is −10 ms, so every local time moves +10 ms.
        let rec = convert_reader(TINY.as_bytes()).unwrap();
        assert_eq!(rec.skipped_lines, 1);
        assert_eq!(rec.offset_ns, -10_000_000);
        assert_eq!(rec.local_shift_ns, 10_000_000);
        assert_eq!(rec.symbol.as_deref(), Some("XUSDT"));
        assert_eq!(
            (rec.messages, rec.book_messages, rec.trade_messages),
            (3, 2, 1)
        );
        assert_eq!(rec.raw_rows, 5);
        let both = EXCH_EVENT | LOCAL_EVENT;
        let ms = 1_000_000i64;
        let want = [
            (DEPTH_CLEAR_EVENT | both, 1010 * ms, 1010 * ms, 0.0, 0.0),
            (
                DEPTH_SNAPSHOT_EVENT | BUY_EVENT | both,
                1010 * ms,
                1010 * ms,
                1.0,
                5.0,
            ),
            (
                DEPTH_SNAPSHOT_EVENT | SELL_EVENT | both,
                1010 * ms,
                1010 * ms,
                1.002,
                7.0,
            ),
            (
                TRADE_EVENT | SELL_EVENT | both,
                1011 * ms,
                1025 * ms,
                1.0,
                2.0,
            ),
            (
                DEPTH_EVENT | BUY_EVENT | both,
                1013 * ms,
                1030 * ms,
                1.0,
                3.0,
            ),
        ];
        let got: Vec<_> = rec
            .events
            .iter()
            .map(|e| (e.ev, e.exch_ts, e.local_ts, e.px, e.qty))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn reversed_exchange_times_are_split() {
        let ev = |exch, local, px| row(TRADE_EVENT | BUY_EVENT, exch, local, px, 1.0);
        // Row b happened first at the exchange but arrived second.
        let raw = [ev(20, 30, 1.0), ev(10, 40, 2.0), ev(50, 60, 3.0)];
        let out = correct_event_order(&raw);
        let exch: Vec<_> = out.iter().filter(|e| e.ev & EXCH_EVENT != 0).collect();
        let local: Vec<_> = out.iter().filter(|e| e.ev & LOCAL_EVENT != 0).collect();
        assert_eq!(
            exch.iter().map(|e| e.px).collect::<Vec<_>>(),
            [2.0, 1.0, 3.0]
        );
        assert_eq!(
            local.iter().map(|e| e.px).collect::<Vec<_>>(),
            [1.0, 2.0, 3.0]
        );
        assert!(exch.windows(2).all(|w| w[0].exch_ts <= w[1].exch_ts));
        assert!(local.windows(2).all(|w| w[0].local_ts <= w[1].local_ts));
        // The last row agrees in both orders: one row with both flags.
        assert_eq!(
            out.last().unwrap().ev & (EXCH_EVENT | LOCAL_EVENT),
            EXCH_EVENT | LOCAL_EVENT
        );
    }
}
