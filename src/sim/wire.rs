//! Byte-level JSON writers for the simulator's outgoing frames.
//!
//! Contract: every writer appends to a caller-owned `Vec<u8>` (which the
//! exchange reuses, so after warm-up nothing allocates), never panics and
//! never reads a clock. Prices and sizes are written with the instrument's
//! precision through [`Step::write`]; money (balances, fees, PnL) is an `i128`
//! at [`MONEY_SCALE`] decimals written with trailing zeros trimmed. No
//! serde on this path: the public feed must sustain well over 50,000
//! messages per second to one subscriber.

use crate::units::{Side, Step};

/// Decimal places of the simulator's money unit (balances, fees, PnL, values).
pub const MONEY_SCALE: u8 = 12;

/// Appends raw bytes.
#[inline]
pub fn put(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
}

/// Appends an unsigned integer.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Appends a signed integer.
#[inline]
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Appends `count × step` as a bare decimal.
#[inline]
pub fn put_step(out: &mut Vec<u8>, step: Step, count: i64) {
    let mut buf = [0u8; 48];
    let n = step.write(count, &mut buf);
    out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
}

/// Appends `count × step` as a quoted decimal string.
#[inline]
pub fn put_qstep(out: &mut Vec<u8>, step: Step, count: i64) {
    out.push(b'"');
    put_step(out, step, count);
    out.push(b'"');
}

/// Appends a quoted unsigned integer (`"1672304486865"`).
#[inline]
pub fn put_qu64(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    put_u64(out, v);
    out.push(b'"');
}

/// Appends a JSON string, escaping `"`, `\` and control bytes.
pub fn put_qstr(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                let hex = b"0123456789abcdef";
                out.push(hex[usize::from(b >> 4)]);
                out.push(hex[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Writes a scaled integer `v × 10^-scale` with trailing fractional zeros
/// trimmed (`1000.500000` → `1000.5`, `0` → `0`).
pub fn put_scaled_i128(out: &mut Vec<u8>, v: i128, scale: u8) {
    let mut tmp = [0u8; 64];
    let neg = v < 0;
    let mut m = v.unsigned_abs();
    let mut i = tmp.len();
    let mut digits = 0u32;
    let mut trimming = true;
    let mut wrote_frac = false;
    while (m > 0 || digits <= u32::from(scale)) && i > 2 {
        let d = (m % 10) as u8;
        m /= 10;
        if digits < u32::from(scale) {
            if trimming && d == 0 {
                digits += 1;
                continue;
            }
            trimming = false;
            wrote_frac = true;
        }
        if digits == u32::from(scale) && wrote_frac {
            i -= 1;
            tmp[i] = b'.';
        }
        i -= 1;
        tmp[i] = b'0' + d;
        digits += 1;
    }
    if neg && i > 0 && tmp[i..].iter().any(|&c| c != b'0' && c != b'.') {
        i -= 1;
        tmp[i] = b'-';
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends money (an `i128` at [`MONEY_SCALE`]) as a quoted decimal.
#[inline]
pub fn put_qmoney(out: &mut Vec<u8>, v: i128) {
    out.push(b'"');
    put_scaled_i128(out, v, MONEY_SCALE);
    out.push(b'"');
}

/// Appends a quoted, Bybit-looking UUID built from two 64-bit words.
pub fn put_quuid(out: &mut Vec<u8>, hi: u64, lo: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let nib = |v: u64, from: u32, n: u32, out: &mut Vec<u8>| {
        for k in (0..n).rev() {
            let sh = from + 4 * k;
            out.push(HEX[((v >> sh) & 15) as usize]);
        }
    };
    nib(hi, 32, 8, out);
    out.push(b'-');
    nib(hi, 16, 4, out);
    out.push(b'-');
    out.push(b'4');
    nib(hi, 0, 3, out);
    out.push(b'-');
    out.push(b'8');
    nib(lo, 48, 3, out);
    out.push(b'-');
    nib(lo, 0, 12, out);
    out.push(b'"');
}

/// Writes `[["p","q"],...]` for book levels.
pub fn put_levels(out: &mut Vec<u8>, levels: &[(i64, i64)], tick: Step, lot: Step) {
    out.push(b'[');
    for (k, &(p, q)) in levels.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"[");
        put_qstep(out, tick, p);
        out.push(b',');
        put_qstep(out, lot, q);
        out.push(b']');
    }
    out.push(b']');
}

/// The fixed parts of one `orderbook.{depth}.{symbol}` message.
#[derive(Debug, Clone, Copy)]
pub struct BookMsg<'a> {
    /// Topic name (`orderbook.50.BTCUSDT`).
    pub topic: &'a [u8],
    /// Symbol (`BTCUSDT`).
    pub symbol: &'a [u8],
    /// `snapshot` (true) or `delta` (false).
    pub snapshot: bool,
    /// Message time `ts` (ms).
    pub ts: u64,
    /// Matching-engine time `cts` (ms).
    pub cts: u64,
    /// Update id `u`.
    pub u: u64,
    /// Cross sequence `seq`.
    pub seq: u64,
    /// Price step.
    pub tick: Step,
    /// Size step.
    pub lot: Step,
}

/// Appends one orderbook message (Bybit's shape) with the given levels.
pub fn put_book_msg(out: &mut Vec<u8>, m: &BookMsg<'_>, bids: &[(i64, i64)], asks: &[(i64, i64)]) {
    put(out, b"{\"topic\":\"");
    put(out, m.topic);
    put(out, b"\",\"type\":\"");
    put(out, if m.snapshot { b"snapshot" } else { b"delta" });
    put(out, b"\",\"ts\":");
    put_u64(out, m.ts);
    put(out, b",\"data\":{\"s\":\"");
    put(out, m.symbol);
    put(out, b"\",\"b\":");
    put_levels(out, bids, m.tick, m.lot);
    put(out, b",\"a\":");
    put_levels(out, asks, m.tick, m.lot);
    put(out, b",\"u\":");
    put_u64(out, m.u);
    put(out, b",\"seq\":");
    put_u64(out, m.seq);
    put(out, b"},\"cts\":");
    put_u64(out, m.cts);
    out.push(b'}');
}

/// One print on `publicTrade.{symbol}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradePrint {
    /// Fill time (ms).
    pub time_ms: u64,
    /// Price in ticks.
    pub price: i64,
    /// Size in lots.
    pub qty: i64,
    /// Taker side.
    pub taker_side: Side,
    /// Trade id (rendered as a UUID).
    pub trade_id: u64,
    /// Cross sequence of the match.
    pub seq: u64,
    /// Tick direction (linear only): 0 Plus, 1 ZeroPlus, 2 Minus, 3 ZeroMinus.
    pub tick_dir: u8,
}

/// Appends one `publicTrade` message carrying `trades` (fill-time ascending).
#[allow(clippy::too_many_arguments)]
pub fn put_trade_msg(
    out: &mut Vec<u8>,
    topic: &[u8],
    symbol: &[u8],
    ts: u64,
    linear: bool,
    trades: &[TradePrint],
    tick: Step,
    lot: Step,
) {
    put(out, b"{\"topic\":\"");
    put(out, topic);
    put(out, b"\",\"type\":\"snapshot\",\"ts\":");
    put_u64(out, ts);
    put(out, b",\"data\":[");
    for (k, t) in trades.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        put(out, b"{\"T\":");
        put_u64(out, t.time_ms);
        put(out, b",\"s\":\"");
        put(out, symbol);
        put(out, b"\",\"S\":\"");
        put(out, t.taker_side.as_str().as_bytes());
        put(out, b"\",\"v\":");
        put_qstep(out, lot, t.qty);
        put(out, b",\"p\":");
        put_qstep(out, tick, t.price);
        if linear {
            put(out, b",\"L\":\"");
            put(
                out,
                match t.tick_dir {
                    0 => b"PlusTick" as &[u8],
                    1 => b"ZeroPlusTick",
                    2 => b"MinusTick",
                    _ => b"ZeroMinusTick",
                },
            );
            out.push(b'"');
        }
        put(out, b",\"i\":");
        put_quuid(
            out,
            t.trade_id.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            t.trade_id,
        );
        put(out, b",\"BT\":false,\"RPI\":false,\"seq\":");
        put_u64(out, t.seq);
        out.push(b'}');
    }
    put(out, b"]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> &str {
        std::str::from_utf8(v).unwrap()
    }

    #[test]
    fn money_is_trimmed_and_exact() {
        for (v, want) in [
            (0i128, "0"),
            (1_000_500_000_000_000, "1000.5"),
            (-2_550_000_000, "-0.00255"),
            (1, "0.000000000001"),
            (7_000_000_000_000, "7"),
        ] {
            let mut out = Vec::new();
            put_scaled_i128(&mut out, v, MONEY_SCALE);
            assert_eq!(s(&out), want, "{v}");
        }
    }

    #[test]
    fn book_message_is_valid_json_with_instrument_precision() {
        let mut out = Vec::new();
        let tick = Step::parse("0.1").unwrap();
        let lot = Step::parse("0.001").unwrap();
        let m = BookMsg {
            topic: b"orderbook.50.BTCUSDT",
            symbol: b"BTCUSDT",
            snapshot: false,
            ts: 5,
            cts: 4,
            u: 7,
            seq: 9,
            tick,
            lot,
        };
        put_book_msg(&mut out, &m, &[(164935, 6)], &[(164940, 0)]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"]["b"][0][0], "16493.5");
        assert_eq!(v["data"]["b"][0][1], "0.006");
        assert_eq!(v["data"]["a"][0][1], "0.000");
        assert_eq!(v["data"]["u"], 7);
        assert_eq!(v["type"], "delta");
    }

    #[test]
    fn uuid_has_bybit_shape() {
        let mut out = Vec::new();
        put_quuid(&mut out, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        let t = s(&out).trim_matches('"');
        let parts: Vec<&str> = t.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
    }
}
