//! Property tests for the text parsers that sit between the outside world and
//! the engine: decimal steps and grid counts (`units`), the enum and
//! identifier parsers, the REST envelope check (`RestDecoder::decode_empty`,
//! the public face of `codec/json.rs`), recording lines and tapes (`replay`)
//! and the engine configuration (`engine/config.rs`).
//!
//! Every parser must answer any input with a value or a typed error, never a
//! panic; on valid input it must give back exactly what was written. Where an
//! independent implementation exists (serde_json, `u128` arithmetic, `str`
//! methods) the property compares against it rather than against a copy of
//! the code under test.

use std::fmt::Write as _;

use gapmm::codec::private::{
    CancelType, ExecType, OrderStatus as WireStatus, RejectReason as WireReject,
};
use gapmm::codec::rest::{ApiMsg, OrderType, RestDecoder, RestError, TimeInForce};
use gapmm::engine::config::{Config, EngineArgs, KeyVars};
use gapmm::ids::{order_link_id, Category, IdError, OrderLinkId, Symbol};
use gapmm::oms::{OrderStatus, RejectReason};
use gapmm::replay::{split_line, Layout, LineError, Tape, TapeErrorKind, TapeSpec};
use gapmm::time::ExchMs;
use gapmm::units::{Decimal, Side, Step, UnitError, MAX_DECIMAL_LEN, MAX_SCALE};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// units: oracles and strategies
// ---------------------------------------------------------------------------

/// `m × 10^-scale` as a plain decimal (no sign, no exponent), written with
/// `format!` rather than the crate's own formatter.
fn plain(m: u128, scale: usize) -> String {
    let digits = format!("{m:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    if scale == 0 {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

fn pow10(n: usize) -> u128 {
    10u128.pow(n as u32)
}

/// What a syntactically valid unsigned decimal is, measured against a step,
/// computed with `u128` and string operations only.
#[derive(Debug)]
struct GridOracle {
    /// `value × 10^scale` (floored) exceeds `u64::MAX`, or `value / step`
    /// exceeds `i64::MAX`.
    big: bool,
    /// The value is a whole number of steps.
    on_grid: bool,
    /// `value / step` when it is on the grid and not big.
    count: Option<i64>,
}

fn grid_oracle(step: Step, s: &str) -> GridOracle {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let scale = usize::from(step.scale());
    if int.len() > 20 {
        // At least 10^20 > i64::MAX before any scaling.
        return GridOracle {
            big: true,
            on_grid: false,
            count: None,
        };
    }
    let int_v: u128 = if int.is_empty() {
        0
    } else {
        int.parse().unwrap()
    };
    let kept = &frac[..frac.len().min(scale)];
    let kept_v: u128 = format!("{kept:0<scale$}").parse().unwrap_or(0);
    let scaled = int_v * pow10(scale) + kept_v;
    let units = u128::from(step.units());
    let on_grid = frac.len() <= scale && scaled.is_multiple_of(units);
    let big = scaled > u128::from(u64::MAX) || scaled / units > i64::MAX as u128;
    GridOracle {
        big,
        on_grid,
        count: (on_grid && !big).then(|| (scaled / units) as i64),
    }
}

/// Steps as instruments have them (1, 2, 5, 25 × 10^-k) and arbitrary ones.
fn step_strategy() -> impl Strategy<Value = Step> {
    let units = prop_oneof![
        3 => prop::sample::select(vec![1u64, 2, 5, 25, 10, 100]),
        1 => 1u64..=1_000_000,
    ];
    (units, 0u8..=MAX_SCALE).prop_map(|(u, s)| Step::new(u, s).unwrap())
}

/// Syntactically valid unsigned decimals (at least one digit, at most one
/// point), short and realistic or long enough to overflow or exceed
/// [`MAX_DECIMAL_LEN`].
fn unsigned_decimal() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,8}(\\.[0-9]{0,14})?",
        "0{0,3}[0-9]{0,6}\\.[0-9]{1,6}0{0,30}",
        "[0-9]{15,45}",
        "[0-9]{0,25}\\.[0-9]{0,25}",
        "9{18,21}(\\.9{0,4})?",
    ]
    .prop_filter("needs a digit", |s| s.bytes().any(|b| b.is_ascii_digit()))
}

/// Bytes that look like decimals (digits, points, signs, an exponent, a
/// space) and, less often, anything at all.
fn decimalish_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(
            prop::sample::select(b"0123456789..-+e x".to_vec()),
            0..48
        ),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => any::<String>().prop_map(String::into_bytes),
    ]
}

fn is_valid_unsigned(s: &[u8]) -> bool {
    s.iter().any(u8::is_ascii_digit)
        && s.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        && s.iter().filter(|&&b| b == b'.').count() <= 1
}

// ---------------------------------------------------------------------------
// enum parsers: shared helpers
// ---------------------------------------------------------------------------

/// Wire names, case-mutated, truncated, extended or padded wire names, and
/// arbitrary bytes.
fn near_names(names: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        prop::sample::select(names),
        any::<prop::sample::Index>(),
        0u8..5,
        any::<u8>(),
    )
        .prop_map(|(name, at, how, b)| {
            let mut v = name.as_bytes().to_vec();
            let i = at.index(v.len() + 1);
            match how {
                0 if i < v.len() => v[i] ^= 0x20, // flip ASCII case
                1 => v.truncate(i),
                2 => v.insert(i, b),
                3 => v.push(b' '),
                _ => v.insert(0, b' '),
            }
            v
        });
    prop_oneof![
        2 => prop::sample::select(names).prop_map(|n| n.as_bytes().to_vec()),
        3 => mutated,
        1 => prop::collection::vec(any::<u8>(), 0..32),
        1 => any::<String>().prop_map(String::into_bytes),
    ]
}

/// Checks a strict parser against its table: exactly the table's names are
/// accepted, each as its own variant.
fn check_strict<T: PartialEq + std::fmt::Debug + Copy>(
    table: &[(&str, T)],
    input: &[u8],
    got: Option<T>,
) -> Result<(), TestCaseError> {
    let want = table
        .iter()
        .find(|(n, _)| n.as_bytes() == input)
        .map(|&(_, v)| v);
    prop_assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
    Ok(())
}

/// Checks a total parser (unknown names map to `other`) against its table.
fn check_total<T: PartialEq + std::fmt::Debug + Copy>(
    table: &[(&str, T)],
    other: T,
    input: &[u8],
    got: T,
) -> Result<(), TestCaseError> {
    let want = table
        .iter()
        .find(|(n, _)| n.as_bytes() == input)
        .map_or(other, |&(_, v)| v);
    prop_assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
    Ok(())
}

// Exhaustive matches: adding a variant without adding it to the tables
// below fails to compile here.
fn side_ix(v: Side) -> usize {
    match v {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}
fn category_ix(v: Category) -> usize {
    match v {
        Category::Spot => 0,
        Category::Linear => 1,
    }
}
fn tif_ix(v: TimeInForce) -> usize {
    match v {
        TimeInForce::Gtc => 0,
        TimeInForce::Ioc => 1,
        TimeInForce::Fok => 2,
        TimeInForce::PostOnly => 3,
        TimeInForce::Rpi => 4,
    }
}
fn order_type_ix(v: OrderType) -> usize {
    match v {
        OrderType::Limit => 0,
        OrderType::Market => 1,
    }
}
fn oms_status_ix(v: OrderStatus) -> usize {
    match v {
        OrderStatus::New => 0,
        OrderStatus::PartiallyFilled => 1,
        OrderStatus::Untriggered => 2,
        OrderStatus::Filled => 3,
        OrderStatus::Cancelled => 4,
        OrderStatus::Rejected => 5,
        OrderStatus::PartiallyFilledCanceled => 6,
        OrderStatus::Deactivated => 7,
        OrderStatus::Triggered => 8,
    }
}
fn wire_status_ix(v: WireStatus) -> usize {
    match v {
        WireStatus::New => 0,
        WireStatus::PartiallyFilled => 1,
        WireStatus::Untriggered => 2,
        WireStatus::Rejected => 3,
        WireStatus::PartiallyFilledCanceled => 4,
        WireStatus::Filled => 5,
        WireStatus::Cancelled => 6,
        WireStatus::Triggered => 7,
        WireStatus::Deactivated => 8,
    }
}

const SIDES: &[&str] = &["Buy", "Sell"];
const CATEGORIES: &[&str] = &["spot", "linear"];
const TIFS: &[&str] = &["GTC", "IOC", "FOK", "PostOnly", "RPI"];
const ORDER_TYPES: &[&str] = &["Limit", "Market"];
const STATUSES: &[&str] = &[
    "New",
    "PartiallyFilled",
    "Untriggered",
    "Rejected",
    "PartiallyFilledCanceled",
    "Filled",
    "Cancelled",
    "Triggered",
    "Deactivated",
];
const WIRE_STATUS_TABLE: &[(&str, WireStatus)] = &[
    ("New", WireStatus::New),
    ("PartiallyFilled", WireStatus::PartiallyFilled),
    ("Untriggered", WireStatus::Untriggered),
    ("Rejected", WireStatus::Rejected),
    (
        "PartiallyFilledCanceled",
        WireStatus::PartiallyFilledCanceled,
    ),
    ("Filled", WireStatus::Filled),
    ("Cancelled", WireStatus::Cancelled),
    ("Triggered", WireStatus::Triggered),
    ("Deactivated", WireStatus::Deactivated),
];
const CANCEL_TYPES: &[(&str, CancelType)] = &[
    ("", CancelType::None),
    ("UNKNOWN", CancelType::None),
    ("CancelByUser", CancelType::ByUser),
    ("CancelBySmp", CancelType::BySmp),
    ("CancelByDCP", CancelType::ByDcp),
    ("CancelByAdmin", CancelType::ByAdmin),
    ("CancelByReduceOnly", CancelType::ByReduceOnly),
    ("CancelByPrepareLiq", CancelType::ByRiskEvent),
    ("CancelAllBeforeLiq", CancelType::ByRiskEvent),
    ("CancelByPrepareAdl", CancelType::ByRiskEvent),
    ("CancelAllBeforeAdl", CancelType::ByRiskEvent),
];
const CANCEL_NAMES: &[&str] = &[
    "",
    "UNKNOWN",
    "CancelByUser",
    "CancelBySmp",
    "CancelByDCP",
    "CancelByAdmin",
    "CancelByReduceOnly",
    "CancelByPrepareLiq",
    "CancelAllBeforeLiq",
    "CancelByPrepareAdl",
    "CancelAllBeforeAdl",
];
const WIRE_REJECTS: &[(&str, WireReject)] = &[
    ("", WireReject::NoError),
    ("EC_NoError", WireReject::NoError),
    (
        "EC_PostOnlyWillTakeLiquidity",
        WireReject::PostOnlyWillTakeLiquidity,
    ),
    (
        "EC_OrigClOrdIDDoesNotExist",
        WireReject::OrigClOrdIdDoesNotExist,
    ),
    ("EC_TooLateToCancel", WireReject::TooLateToCancel),
    ("EC_DuplicatedClOrdID", WireReject::DuplicatedClOrdId),
];
const OMS_REJECTS: &[(&str, RejectReason)] = &[
    ("", RejectReason::None),
    ("EC_NoError", RejectReason::None),
    (
        "EC_PostOnlyWillTakeLiquidity",
        RejectReason::PostOnlyWillTakeLiquidity,
    ),
];
const REJECT_NAMES: &[&str] = &[
    "",
    "EC_NoError",
    "EC_PostOnlyWillTakeLiquidity",
    "EC_OrigClOrdIDDoesNotExist",
    "EC_TooLateToCancel",
    "EC_DuplicatedClOrdID",
];
const EXEC_TYPES: &[(&str, ExecType)] = &[
    ("Trade", ExecType::Trade),
    ("AdlTrade", ExecType::AdlTrade),
    ("Funding", ExecType::Funding),
    ("BustTrade", ExecType::BustTrade),
    ("Delivery", ExecType::Delivery),
    ("Settle", ExecType::Settle),
    ("BlockTrade", ExecType::BlockTrade),
    ("MovePosition", ExecType::MovePosition),
];
const EXEC_NAMES: &[&str] = &[
    "Trade",
    "AdlTrade",
    "Funding",
    "BustTrade",
    "Delivery",
    "Settle",
    "BlockTrade",
    "MovePosition",
];

// ---------------------------------------------------------------------------
// RestDecoder::decode_empty: envelopes and a serde_json model
// ---------------------------------------------------------------------------

/// What Bybit's `retMsg` becomes in a [`RestError::Api`]: the first 96
/// bytes, with anything JSON would escape (and non-ASCII) replaced by `?`.
fn lossy_msg(s: &str) -> ApiMsg {
    let b: Vec<u8> = s
        .bytes()
        .take(ApiMsg::CAPACITY)
        .map(|b| {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                b
            } else {
                b'?'
            }
        })
        .collect();
    ApiMsg::new(&b).unwrap()
}

/// A JSON string literal for `s`; characters whose bit in `mask` is set are
/// written as `\uXXXX` escapes (surrogate pairs beyond the BMP).
fn json_str(s: &str, mask: u64) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        let force = (mask >> (i % 64)) & 1 == 1;
        match c {
            '"' if !force => out.push_str("\\\""),
            '\\' if !force => out.push_str("\\\\"),
            c if force || (c as u32) < 0x20 => {
                for u in c.encode_utf16(&mut [0u16; 2]) {
                    write!(out, "\\u{u:04x}").unwrap();
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone)]
struct Envelope {
    code: i64,
    code_as_str: bool,
    msg: String,
    mask: u64,
    time: Option<i64>,
    time_as_str: bool,
    order: Vec<usize>,
    ws: &'static str,
}

impl Envelope {
    fn render(&self) -> Vec<u8> {
        let num = |v: i64, as_str: bool| {
            if as_str {
                format!("\"{v}\"")
            } else {
                v.to_string()
            }
        };
        let ws = self.ws;
        let mut fields = Vec::new();
        for &f in &self.order {
            match f {
                0 => fields.push(format!(
                    "\"retCode\"{ws}:{ws}{}",
                    num(self.code, self.code_as_str)
                )),
                1 => fields.push(format!(
                    "\"retMsg\"{ws}:{ws}{}",
                    json_str(&self.msg, self.mask)
                )),
                2 => fields.push(format!("\"result\"{ws}:{ws}{{}}")),
                3 => fields.push(format!("\"retExtInfo\"{ws}:{ws}{{\"list\":[]}}")),
                _ => {
                    if let Some(t) = self.time {
                        fields.push(format!("\"time\"{ws}:{ws}{}", num(t, self.time_as_str)));
                    }
                }
            }
        }
        format!("{ws}{{{ws}{}{ws}}}{ws}", fields.join(&format!("{ws},{ws}"))).into_bytes()
    }

    fn expected(&self) -> Result<ExchMs, RestError> {
        if self.code == 0 {
            Ok(ExchMs(self.time.unwrap_or(0) as u64))
        } else {
            Err(RestError::Api {
                code: self.code,
                msg: lossy_msg(&self.msg),
            })
        }
    }
}

fn envelope_strategy() -> impl Strategy<Value = Envelope> {
    let code = prop_oneof![
        2 => Just(0i64),
        2 => prop::sample::select(vec![10001i64, 10002, 10006, 110001, 170213, -1]),
        1 => any::<i64>(),
    ];
    (
        code,
        any::<bool>(),
        prop_oneof![
            "[ -~]{0,40}",
            any::<String>(),
            "[A-Za-z ]{90,130}",
            Just("OK".to_string())
        ],
        prop_oneof![Just(0u64), any::<u64>()],
        prop::option::weighted(0.9, 0i64..=i64::MAX),
        any::<bool>(),
        Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle(),
        prop::sample::select(vec!["", " ", "\n", "\t", " \r\n "]),
    )
        .prop_map(
            |(code, code_as_str, msg, mask, time, time_as_str, order, ws)| Envelope {
                code,
                // `"-9223372036854775808"` as a string is not read (see
                // `string_ret_code_of_i64_min_is_read`).
                code_as_str: code_as_str && code != i64::MIN,
                msg,
                mask,
                time,
                time_as_str,
                order,
                ws,
            },
        )
}

/// The top-level members of a JSON object in document order (serde_json's
/// `Value` keeps only one of duplicate keys; Bybit's decoder reads the
/// first). `None` if `bytes` is not an object.
fn top_members(bytes: &[u8]) -> Option<Vec<(String, serde_json::Value)>> {
    fn skip_ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }
    fn next_key(b: &[u8], i: usize) -> Option<(String, usize)> {
        let mut it = serde_json::Deserializer::from_slice(&b[i..]).into_iter::<String>();
        let v = it.next()?.ok()?;
        Some((v, i + it.byte_offset()))
    }
    fn next_value(b: &[u8], i: usize) -> Option<(serde_json::Value, usize)> {
        let mut it = serde_json::Deserializer::from_slice(&b[i..]).into_iter::<serde_json::Value>();
        let v = it.next()?.ok()?;
        Some((v, i + it.byte_offset()))
    }
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(bytes, i + 1);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let (k, j) = next_key(bytes, i)?;
        i = skip_ws(bytes, j);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let (mut v, j) = next_value(bytes, i + 1)?;
        // serde_json reads the integer literal `-0` as the float -0.0; as an
        // integer field it is zero.
        if std::str::from_utf8(&bytes[i + 1..j]).is_ok_and(|t| t.trim() == "-0") {
            v = serde_json::Value::from(0);
        }
        out.push((k, v));
        i = skip_ws(bytes, j);
        match bytes.get(i) {
            Some(b',') => i = skip_ws(bytes, i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

/// An integer field as Bybit sends it: a JSON integer in `i64`, or a string
/// of an optional `-` and 1 to 19 digits whose value fits `i64`.
fn model_i64(v: &serde_json::Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let s = v.as_str()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// The envelope check modelled on serde_json's reading of the body.
fn model_empty(bytes: &[u8]) -> Option<Result<ExchMs, RestError>> {
    // An integer beyond 64 bits is a float to serde_json and to the
    // crate's simd-json (`big-int-as-float`): no error by itself.
    serde_json::from_slice::<serde_json::Value>(bytes).ok()?;
    let Some(members) = top_members(bytes) else {
        return Some(Err(RestError::BadField("envelope")));
    };
    let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let Some(code) = get("retCode").and_then(model_i64) else {
        return Some(Err(RestError::Missing("retCode")));
    };
    if code != 0 {
        let msg = get("retMsg").and_then(|m| m.as_str()).unwrap_or("");
        return Some(Err(RestError::Api {
            code,
            msg: lossy_msg(msg),
        }));
    }
    let t = get("time")
        .and_then(model_i64)
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(0);
    Some(Ok(ExchMs(t)))
}

/// JSON-ish byte soup: tokens of envelopes glued together at random.
fn jsonish_bytes() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\"retCode\"",
        "\"retMsg\"",
        "\"time\"",
        "\"result\"",
        "\"ret\\u0043ode\"",
        "0",
        "-",
        "1",
        "-0",
        "7",
        "9223372036854775807",
        "-9223372036854775807",
        "18446744073709551616",
        "123456789012345678901234567890",
        "1.5",
        "1e3",
        "true",
        "null",
        "\"",
        "\"abc\"",
        "\"\\u00e9\\n\"",
        "\"\\ud83d\\ude00\"",
        "\"12\"",
        "\"-3\"",
        "\"0\"",
        "\\",
        "\t",
        "\u{e9}",
    ];
    // Objects whose members are valid JSON values most of the time.
    const VALUES: &[&str] = &[
        "0",
        "-0",
        "1",
        "-7",
        "0.0",
        "9223372036854775807",
        "-9223372036854775807",
        "18446744073709551615",
        "92233720368547758070",
        "1.5",
        "1e3",
        "1e400",
        "true",
        "null",
        "{}",
        "[1,\"a\"]",
        "\"abc\"",
        "\"\\u00e9\\n\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud800\"",
        "\"12\"",
        "\"-3\"",
        "\"0\"",
        "\" 0\"",
        "\"+1\"",
        "\"00000000000000000012\"",
        "\"-9223372036854775807\"",
        "\"9223372036854775808\"",
    ];
    let structured = (
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "retCode",
                    "retCode",
                    "retMsg",
                    "time",
                    "result",
                    "ret\\u0043ode",
                    "x",
                ]),
                prop::sample::select(VALUES.to_vec()),
            ),
            1..5,
        ),
        prop::sample::select(vec!["}", "}", "}", "}", "}", "}", "} ", "", "}}", ",}"]),
    )
        .prop_map(|(members, close)| {
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("{{{}{close}", body.join(",")).into_bytes()
        });
    prop_oneof![
        2 => prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..24)
            .prop_map(|t| t.concat().into_bytes()),
        4 => structured,
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

// ---------------------------------------------------------------------------
// replay: lines and tapes
// ---------------------------------------------------------------------------

/// `split_line` as the module docs describe it, written with `str`-level
/// operations on the trimmed line.
fn split_model(line: &[u8]) -> Result<(Option<u64>, &[u8]), LineError> {
    fn trim(s: &[u8]) -> &[u8] {
        let start = s.iter().position(|&b| b != b' ' && b != b'\t');
        let Some(start) = start else { return &[] };
        let end = s.iter().rposition(|&b| b != b' ' && b != b'\t').unwrap();
        &s[start..=end]
    }
    let t = trim(line);
    match t.first() {
        Some(b'{') => Ok((None, t)),
        Some(b) if b.is_ascii_digit() => {
            let n = t.iter().take_while(|b| b.is_ascii_digit()).count();
            let ns: u64 = std::str::from_utf8(&t[..n])
                .unwrap()
                .parse()
                .map_err(|_| LineError::BadTime)?;
            match t.get(n) {
                None => Err(LineError::NoMessage),
                Some(b' ' | b'\t') => {
                    let json = trim(&t[n..]);
                    if json.first() == Some(&b'{') {
                        Ok((Some(ns), json))
                    } else {
                        Err(LineError::NoMessage)
                    }
                }
                Some(_) => Err(LineError::BadTime),
            }
        }
        _ => Err(LineError::Unrecognised),
    }
}

const SNAP: &str = r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1000,"data":{"s":"BTCUSDT","b":[["100.0","1.5"]],"a":[["100.2","2"]],"u":1,"seq":10},"cts":999}"#;
const DELTA: &str = r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1001,"data":{"s":"BTCUSDT","b":[["100.1","0.5"]],"a":[],"u":2,"seq":11},"cts":1000}"#;
const TRADE: &str = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1002,"data":[{"T":1001,"s":"BTCUSDT","S":"Sell","v":"0.2","p":"100.1","L":"MinusTick","i":"a","BT":false}]}"#;
const OTHER_SYMBOL: &str = r#"{"topic":"orderbook.50.ETHUSDT","type":"delta","ts":1001,"data":{"s":"ETHUSDT","b":[],"a":[],"u":2,"seq":11},"cts":1000}"#;
const OTHER_TOPIC: &str = r#"{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1,"data":{}}"#;
const PONG: &str = r#"{"success":true,"ret_msg":"pong","conn_id":"c","op":"ping"}"#;

/// One recording line (without terminator): a market message in either
/// layout, a reply, another symbol or topic, a mutated message, or junk.
fn tape_line(recorder: bool) -> impl Strategy<Value = Vec<u8>> {
    let msg = prop::sample::select(vec![SNAP, DELTA, TRADE, OTHER_SYMBOL, OTHER_TOPIC, PONG]);
    // Mostly the recording's layout, now and then the other one.
    let p_ns = if recorder { 0.97 } else { 0.03 };
    let laid_out =
        (msg.clone(), prop::option::weighted(p_ns, any::<u64>())).prop_map(|(m, ns)| match ns {
            Some(ns) => format!("{ns} {m}").into_bytes(),
            None => m.as_bytes().to_vec(),
        });
    let mutated = (
        laid_out.clone(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    )
        .prop_map(|(mut l, flips)| {
            for (at, b) in flips {
                let n = l.len();
                l[at.index(n)] = b;
            }
            l
        });
    let truncated = (laid_out.clone(), any::<prop::sample::Index>()).prop_map(|(l, at)| {
        let n = at.index(l.len() + 1);
        l[..n].to_vec()
    });
    prop_oneof![
        8 => laid_out,
        2 => mutated,
        1 => truncated,
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => Just(Vec::new()),
        1 => Just(b"\r".to_vec()),
    ]
    .prop_map(|mut l| {
        // A line holds no newline; anything else may appear.
        l.retain(|&b| b != b'\n');
        l
    })
}

/// A recording: lines joined by `\n` or `\r\n`, with or without a final
/// terminator.
fn recording() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>().prop_flat_map(|rec| prop::collection::vec(tape_line(rec), 0..10)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, last)| {
            let sep: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut out = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                out.extend_from_slice(l);
                if i + 1 < lines.len() || last {
                    out.extend_from_slice(sep);
                }
            }
            out
        })
}

/// The physical lines as a line reader sees them: split at `\n`, the empty
/// piece after a final `\n` not counted.
fn physical_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

fn blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == b'\r')
}

fn tape_spec(fixed: bool) -> TapeSpec {
    TapeSpec {
        price_step: Step::parse("0.1").unwrap(),
        qty_step: Step::parse("0.001").unwrap(),
        symbol: fixed.then(|| Symbol::from_str("BTCUSDT").unwrap()),
    }
}

fn is_line_error(k: &TapeErrorKind) -> bool {
    matches!(
        k,
        TapeErrorKind::Line(_) | TapeErrorKind::Decode(_) | TapeErrorKind::MixedLayouts { .. }
    )
}

// ---------------------------------------------------------------------------
// engine configuration
// ---------------------------------------------------------------------------

/// The documented defaults, built field by field so no environment variable
/// of the test runner leaks in.
fn default_args() -> EngineArgs {
    EngineArgs {
        venue: "sim".into(),
        live: false,
        symbol: "BTCUSDT".into(),
        market_type: "spot".into(),
        tick_size: "0.10".into(),
        max_position: "0.01".into(),
        min_order_size: "0.001".into(),
        min_update_interval: "0.0".into(),
        transport: "ws".into(),
        depth: "50".into(),
        cores: "auto".into(),
        idle: "spin".into(),
        warm_us: "0".into(),
        tight_ticks: "1".into(),
        wide_ticks: "100".into(),
        gamma: "auto".into(),
        alpha_ticks: "0".into(),
        stale_ms: "3000".into(),
        ping_ms: "20000".into(),
        max_lag_ms: "5000".into(),
        recv_window: "5000".into(),
        journal: "gapmm-journal.jsonl".into(),
        sim_tls: false,
        sim_url: None,
        sim_seed: "7".into(),
        sim_rate: "200".into(),
        sim_busy_poll: false,
        sim_budget_scale: "1".into(),
        metrics: String::new(),
        metrics_any_host: false,
    }
}

type Setter = fn(&mut EngineArgs, String);

/// Every text-valued variable and the field it sets.
const VARS: &[(&str, Setter)] = &[
    ("GAPMM_VENUE", |a, v| a.venue = v),
    ("TRADING_SYMBOL", |a, v| a.symbol = v),
    ("MARKET_TYPE", |a, v| a.market_type = v),
    ("TICK_SIZE", |a, v| a.tick_size = v),
    ("MAX_POSITION_SIZE", |a, v| a.max_position = v),
    ("MIN_ORDER_SIZE", |a, v| a.min_order_size = v),
    ("MIN_UPDATE_INTERVAL", |a, v| a.min_update_interval = v),
    ("GAPMM_ORDER_TRANSPORT", |a, v| a.transport = v),
    ("GAPMM_DEPTH", |a, v| a.depth = v),
    ("GAPMM_CORES", |a, v| a.cores = v),
    ("GAPMM_IDLE", |a, v| a.idle = v),
    ("GAPMM_WARM_US", |a, v| a.warm_us = v),
    ("GAPMM_TIGHT_TICKS", |a, v| a.tight_ticks = v),
    ("GAPMM_WIDE_TICKS", |a, v| a.wide_ticks = v),
    ("GAPMM_GAMMA", |a, v| a.gamma = v),
    ("GAPMM_ALPHA_TICKS", |a, v| a.alpha_ticks = v),
    ("GAPMM_STALE_MS", |a, v| a.stale_ms = v),
    ("GAPMM_PING_MS", |a, v| a.ping_ms = v),
    ("GAPMM_MAX_LAG_MS", |a, v| a.max_lag_ms = v),
    ("GAPMM_RECV_WINDOW", |a, v| a.recv_window = v),
    ("GAPMM_JOURNAL", |a, v| a.journal = v),
    ("GAPMM_SIM_URL", |a, v| a.sim_url = Some(v)),
    ("GAPMM_SIM_SEED", |a, v| a.sim_seed = v),
    ("GAPMM_SIM_RATE", |a, v| a.sim_rate = v),
    ("GAPMM_SIM_BUDGET_SCALE", |a, v| a.sim_budget_scale = v),
];

/// Values an operator might type, near-misses of valid ones, numbers at and
/// beyond every type's range, and arbitrary text.
fn config_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec![
            "", " ", "auto", "sim", "testnet", "mainnet", "Sim", "spot", "linear", "ws", "rest",
            "spin", "yield", "park", "0", "-0", "1", "-1", "+1", "0.0", "-0.0", "0.10", "1e3",
            "1e400", "-1e-400", "NaN", "inf", "-inf", "infinity", "3600", "3600.0000001",
            "4294967296", "18446744073709551616", "99999999999999999999999999", "65536",
            "1,2,3", "0,1,2,3", "1,,2", ",", "0x10", "BTCUSDT", "btcusdt", " BTCUSDT ",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "http://127.0.0.1:9000", "https://[::1]:1/",
            "http://[::1", "http://localhost:99999", "http://10.0.0.1:80", "http://[fe80::1%25x]:1",
            "https://127.0.0.1:0", "http://127.0.0.1:9000/?x#y", "ws://127.0.0.1:1",
            "http://", "http://:80", "0.0000000000001", "0.00000000000000000001",
        ])
        .prop_map(str::to_string),
        2 => "[ \t]{0,2}[-+]?[0-9]{0,22}(\\.[0-9]{0,22})?([eE][-+]?[0-9]{1,4})?[ \t]{0,2}",
        1 => "[0-9]{1,4}(,[0-9 ]{0,4}){0,4}",
        1 => "https?://[a-z0-9:.\\[\\]/?@#-]{0,24}",
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------
// properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // ----- units: Step::parse ---------------------------------------------

    /// An operator's or the exchange's tick size, whatever its text, is
    /// either a usable step (positive, at most `MAX_SCALE` decimals,
    /// normalised) or a typed error — `Step::parse` never panics.
    #[test]
    fn step_parse_answers_any_text(
        s in prop_oneof![
            decimalish_bytes().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            unsigned_decimal(),
        ]
    ) {
        if let Ok(step) = Step::parse(&s) {
            prop_assert!(step.units() > 0);
            prop_assert!(step.scale() <= MAX_SCALE);
            prop_assert!(step.scale() == 0 || step.units() % 10 != 0, "not normalised: {:?}", step);
            // Only digits and one point get this far.
            prop_assert!(is_valid_unsigned(s.as_bytes()), "accepted {:?}", s);
        }
    }

    /// A valid step, written as Bybit writes it (with or without trailing
    /// zeros or leading zeros), parses to the step it denotes, and its
    /// `Display` parses back to the same step — so a tick size read from the
    /// exchange and echoed in a log or error message is the same tick size.
    /// Trailing zeros count toward neither the 64-bit mantissa nor the 18
    /// decimals; a leading `+` is refused, as by every decimal parser.
    #[test]
    fn valid_steps_parse_and_round_trip_through_display(
        units in prop_oneof![1u64..=1_000, 1u64..=i64::MAX as u64],
        scale in 0u8..=MAX_SCALE,
        trailing in prop_oneof![0usize..4, 18usize..24],
        leading in 0usize..3,
    ) {
        let want = Step::new(units, scale).unwrap();
        let mut text = plain(u128::from(units), usize::from(scale));
        if trailing > 0 {
            if scale == 0 {
                text.push('.');
            }
            text.push_str(&"0".repeat(trailing));
        }
        text.insert_str(0, &"0".repeat(leading));
        prop_assume!(text.len() < MAX_DECIMAL_LEN);
        let plus = format!("+{text}");
        prop_assert_eq!(Step::parse(&plus), Err(UnitError::InvalidChar));
        prop_assert!(Decimal::parse(plus.as_bytes()).is_err());
        prop_assert_eq!(Step::parse(&text), Ok(want), "{}", text);
        let shown = want.to_string();
        prop_assert_eq!(Step::parse(&shown), Ok(want), "display {}", shown);
        prop_assert_eq!(Step::new(want.units(), want.scale()), Ok(want));
    }

    /// Zero, negative and malformed steps are refused with the error that
    /// says why: `BadStep` for zero or too fine, `Negative` for a minus sign,
    /// `InvalidChar` for a stray character, `TooLong` past the length cap.
    #[test]
    fn bad_steps_are_typed_errors(
        int_zeros in 1usize..4,
        frac_zeros in 0usize..10,
        good in (1u64..=9_999, 0u8..=8),
        junk in prop::sample::select(b"xe,_ /*#aZ".to_vec()),
        at in any::<prop::sample::Index>(),
        fine in 13usize..=18,
    ) {
        let zero = if frac_zeros == 0 {
            "0".repeat(int_zeros)
        } else {
            format!("{}.{}", "0".repeat(int_zeros), "0".repeat(frac_zeros))
        };
        prop_assert_eq!(Step::parse(&zero), Err(UnitError::BadStep), "{}", zero);
        prop_assert_eq!(Step::parse(&format!("+{zero}")), Err(UnitError::InvalidChar));

        let valid = plain(u128::from(good.0), usize::from(good.1));
        prop_assert_eq!(Step::parse(&format!("-{valid}")), Err(UnitError::Negative));
        prop_assert_eq!(Step::parse(&format!("-{zero}")), Err(UnitError::Negative));

        let mut bad = valid.clone().into_bytes();
        bad.insert(at.index(bad.len() + 1), junk);
        let bad = String::from_utf8(bad).unwrap();
        prop_assert_eq!(Step::parse(&bad), Err(UnitError::InvalidChar), "{}", bad);

        // A non-zero digit finer than 10^-MAX_SCALE.
        let too_fine = format!("0.{}1", "0".repeat(fine - 1));
        prop_assert_eq!(Step::parse(&too_fine), Err(UnitError::BadStep), "{}", too_fine);

        let long = format!("{}{valid}", "0".repeat(MAX_DECIMAL_LEN + 1 - valid.len()));
        prop_assert_eq!(Step::parse(&long), Err(UnitError::TooLong));
    }

    // ----- units: count / ticks / lots / count_floor -----------------------

    /// For any whole number of steps n, the decimal text of n × step — as
    /// written by an independent formatter, with extra trailing zeros, with
    /// trailing zeros trimmed, or with leading zeros — converts back to
    /// exactly n (as ticks, lots and the floor), and `Step::display(n)`
    /// writes that same text. Prices and sizes read from Bybit are exact.
    #[test]
    fn grid_values_convert_to_exactly_their_count(
        (step, n) in step_strategy().prop_flat_map(|s| {
            let max = i64::MAX / s.units() as i64;
            (Just(s), prop_oneof![0i64..=1_000_000.min(max), 0i64..=max])
        }),
        style in 0u8..4,
        extra in 1usize..6,
    ) {
        let scale = usize::from(step.scale());
        let canonical = plain(n as u128 * u128::from(step.units()), scale);
        prop_assert_eq!(step.display(n).to_string(), canonical.clone());
        let mut buf = [0u8; 48];
        let w = step.write(n, &mut buf);
        prop_assert_eq!(&buf[..w], canonical.as_bytes());
        prop_assert_eq!(step.count(canonical.as_bytes()), Ok(n), "{}", canonical);
        prop_assert_eq!(step.ticks(canonical.as_bytes()).map(|t| t.get()), Ok(n));
        prop_assert_eq!(step.lots(canonical.as_bytes()).map(|l| l.get()), Ok(n));
        prop_assert_eq!(step.count_floor(canonical.as_bytes()), Ok(n), "{}", canonical);

        let variant = match style {
            0 => {
                let mut t = canonical.clone();
                if scale == 0 {
                    t.push('.');
                }
                t.push_str(&"0".repeat(extra));
                t
            }
            1 if scale > 0 => canonical.trim_end_matches('0').trim_end_matches('.').to_string(),
            2 => format!("{}{canonical}", "0".repeat(extra)),
            _ => canonical.clone(),
        };
        let variant = if variant.is_empty() { "0".to_string() } else { variant };
        if variant.len() <= MAX_DECIMAL_LEN {
            prop_assert_eq!(step.count(variant.as_bytes()), Ok(n), "{}", variant);
        } else {
            prop_assert_eq!(step.count(variant.as_bytes()), Err(UnitError::TooLong));
        }
    }

    /// A value between grid points — a non-zero digit finer than the step,
    /// or a multiple of 10^-scale that is not a multiple of the step — is
    /// refused by `count` (`NotOnGrid`: an exchange price that is off the
    /// grid is an error, never silently rounded) and rounded down to the
    /// grid point below it by `count_floor` (an operator's size).
    #[test]
    fn off_grid_values_are_refused_or_floored(
        (step, k, n, r) in (step_strategy(), 0usize..=6).prop_flat_map(|(s, k)| {
            let k = k.min(18 - usize::from(s.scale()));
            let unit_k = u128::from(s.units()) * pow10(k);
            let n_max = ((i64::MAX as u128 - unit_k) / unit_k) as i64;
            (Just(s), Just(k), prop_oneof![0i64..=1_000.min(n_max), 0i64..=n_max], 0u128..unit_k)
        })
    ) {
        let unit_k = u128::from(step.units()) * pow10(k);
        prop_assume!(r > 0);
        let text = plain(n as u128 * unit_k + r, usize::from(step.scale()) + k);
        prop_assert_eq!(step.count(text.as_bytes()), Err(UnitError::NotOnGrid), "{}", text);
        prop_assert_eq!(step.count_floor(text.as_bytes()), Ok(n), "{}", text);
    }

    /// Any syntactically valid decimal — short, long, huge, with up to 45
    /// digits — converts to the exact count when it is on the grid and fits,
    /// and otherwise gets `NotOnGrid`, `Overflow` or `TooLong`; an accepted
    /// value always equals count × step exactly (no silent overflow or
    /// truncation), checked against `u128` arithmetic.
    #[test]
    fn count_agrees_with_exact_arithmetic(step in step_strategy(), s in unsigned_decimal()) {
        let got = step.count(s.as_bytes());
        if s.len() > MAX_DECIMAL_LEN {
            prop_assert_eq!(got, Err(UnitError::TooLong));
            prop_assert_eq!(step.count_floor(s.as_bytes()), Err(UnitError::TooLong));
            prop_assert_eq!(Decimal::parse(s.as_bytes()), Err(UnitError::TooLong));
            return Ok(());
        }
        let o = grid_oracle(step, &s);
        match got {
            Ok(n) => prop_assert_eq!(Some(n), o.count, "{} at {}", s, step),
            Err(UnitError::NotOnGrid) => prop_assert!(!o.on_grid, "{} at {}", s, step),
            Err(UnitError::Overflow) => prop_assert!(o.big, "{} at {}", s, step),
            Err(e) => prop_assert!(false, "{} at {}: unexpected {:?}", s, step, e),
        }
        if !o.big {
            let want = if o.on_grid { Ok(o.count.unwrap()) } else { Err(UnitError::NotOnGrid) };
            prop_assert_eq!(got, want, "{} at {}", s, step);
        }
        // The floor agrees with the exact count wherever both answer.
        if let (Ok(c), Ok(f)) = (got, step.count_floor(s.as_bytes())) {
            prop_assert_eq!(c, f, "{}", s);
        }
    }

    /// `count_floor` (the operator's `MIN_ORDER_SIZE` / `MAX_POSITION_SIZE`)
    /// is floor(value / step) whenever it answers, computed independently in
    /// `u128`.
    #[test]
    fn count_floor_is_the_exact_floor(step in step_strategy(), s in unsigned_decimal()) {
        if let Ok(f) = step.count_floor(s.as_bytes()) {
            let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
            // Zeros that end the fraction carry no value.
            let frac = frac.trim_end_matches('0');
            let m: u128 = format!("0{int}{frac}").parse().unwrap();
            let want = m * pow10(usize::from(step.scale()))
                / (u128::from(step.units()) * pow10(frac.len()));
            prop_assert_eq!(f as u128, want, "{} at {}", s, step);
        }
    }

    /// Arbitrary bytes — signs, exponents, spaces, several points, non-ASCII
    /// — never panic any decimal parser, and only plain decimals are
    /// accepted by `count`.
    #[test]
    fn decimal_parsers_never_panic(step in step_strategy(), b in decimalish_bytes()) {
        let c = step.count(&b);
        if c.is_ok() {
            prop_assert!(is_valid_unsigned(&b), "{:?}", String::from_utf8_lossy(&b));
        }
        if b.len() > MAX_DECIMAL_LEN {
            prop_assert_eq!(c, Err(UnitError::TooLong));
        }
        let _ = step.count_floor(&b);
        let _ = step.ticks(&b);
        let _ = step.lots(&b);
        if let Ok(d) = Decimal::parse(&b) {
            let body = b.strip_prefix(b"-").unwrap_or(&b);
            prop_assert!(is_valid_unsigned(body), "{:?}", String::from_utf8_lossy(&b));
            let _ = d.to_f64();
            for sc in [0u8, 3, 12, 18, 19, 255] {
                let _ = d.rescale(sc);
            }
        }
    }

    // ----- units: Decimal -------------------------------------------------

    /// A fee, PnL or balance written by `Decimal`'s `Display` parses back to
    /// the same mantissa and scale (for every mantissa except `i64::MIN`, see
    /// `decimal_min_display_parses_back`).
    #[test]
    fn decimals_round_trip_through_display(
        mantissa in prop_oneof![-1_000_000i64..=1_000_000, (i64::MIN + 1)..=i64::MAX],
        scale in 0u8..=18,
    ) {
        let d = Decimal { mantissa, scale };
        let text = d.to_string();
        let want = if mantissa == 0 { Decimal { mantissa: 0, scale } } else { d };
        prop_assert_eq!(Decimal::parse(text.as_bytes()), Ok(want), "{}", text);
    }

    /// `Decimal::rescale` is exact: scaling up multiplies (or reports
    /// `Overflow`), scaling down divides only when nothing is lost
    /// (otherwise `NotOnGrid`), checked with `i128`.
    #[test]
    fn decimal_rescale_is_exact(mantissa in any::<i64>(), scale in 0u8..=18, to in 0u8..=18) {
        let d = Decimal { mantissa, scale };
        let m = i128::from(mantissa);
        let want = if to >= scale {
            m.checked_mul(10i128.pow(u32::from(to - scale)))
                .and_then(|v| i64::try_from(v).ok())
                .ok_or(UnitError::Overflow)
        } else {
            let div = 10i128.pow(u32::from(scale - to));
            if m % div == 0 { Ok((m / div) as i64) } else { Err(UnitError::NotOnGrid) }
        };
        prop_assert_eq!(d.rescale(to), want);
    }

    // ----- enum and identifier parsers ------------------------------------

    /// `Side::parse` accepts exactly `Buy` and `Sell` (case-sensitive, no
    /// padding), each as its own side, and every side's `as_str` parses back;
    /// anything else is `BadSide`.
    #[test]
    fn side_parses_exactly_its_wire_names(input in near_names(SIDES)) {
        let table = [("Buy", Side::Buy), ("Sell", Side::Sell)];
        let got = Side::parse(&input);
        if let Err(e) = got {
            prop_assert_eq!(e, UnitError::BadSide);
        }
        check_strict(&table, &input, got.ok())?;
        for (_, v) in table {
            prop_assert_eq!(Side::parse(v.as_str().as_bytes()), Ok(v));
            prop_assert_eq!(v.opposite().opposite(), v);
        }
        prop_assert_eq!(table.map(|(_, v)| side_ix(v)), [0, 1]);
    }

    /// `Category::parse` accepts exactly `spot` and `linear`; every
    /// category's `as_str` parses back.
    #[test]
    fn category_parses_exactly_its_wire_names(input in near_names(CATEGORIES)) {
        let table = [("spot", Category::Spot), ("linear", Category::Linear)];
        check_strict(&table, &input, Category::parse(&input))?;
        for (_, v) in table {
            prop_assert_eq!(Category::parse(v.as_str().as_bytes()), Some(v));
        }
        prop_assert_eq!(table.map(|(_, v)| category_ix(v)), [0, 1]);
    }

    /// `TimeInForce::parse` and `OrderType::parse` accept exactly Bybit's
    /// spellings; every variant's `as_str` parses back to it.
    #[test]
    fn order_terms_parse_exactly_their_wire_names(
        tif in near_names(TIFS),
        ot in near_names(ORDER_TYPES),
    ) {
        let tifs = [
            ("GTC", TimeInForce::Gtc),
            ("IOC", TimeInForce::Ioc),
            ("FOK", TimeInForce::Fok),
            ("PostOnly", TimeInForce::PostOnly),
            ("RPI", TimeInForce::Rpi),
        ];
        check_strict(&tifs, &tif, TimeInForce::parse(&tif))?;
        for (_, v) in tifs {
            prop_assert_eq!(TimeInForce::parse(v.as_str().as_bytes()), Some(v));
        }
        prop_assert_eq!(tifs.map(|(_, v)| tif_ix(v)), [0, 1, 2, 3, 4]);

        let types = [("Limit", OrderType::Limit), ("Market", OrderType::Market)];
        check_strict(&types, &ot, OrderType::parse(&ot))?;
        for (_, v) in types {
            prop_assert_eq!(OrderType::parse(v.as_str().as_bytes()), Some(v));
        }
        prop_assert_eq!(types.map(|(_, v)| order_type_ix(v)), [0, 1]);
    }

    /// Both `orderStatus` parsers (the codec's and the order manager's)
    /// accept exactly the nine Bybit spellings and agree on them; the order
    /// manager's `as_str` parses back.
    #[test]
    fn order_status_parses_exactly_its_wire_names(input in near_names(STATUSES)) {
        check_strict(WIRE_STATUS_TABLE, &input, WireStatus::parse(&input))?;
        let oms: Vec<(&str, OrderStatus)> = STATUSES
            .iter()
            .map(|&n| (n, OrderStatus::parse(n.as_bytes()).unwrap()))
            .collect();
        check_strict(&oms, &input, OrderStatus::parse(&input))?;
        let mut seen: Vec<usize> = oms.iter().map(|&(_, v)| oms_status_ix(v)).collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..9).collect::<Vec<_>>());
        let mut seen: Vec<usize> = WIRE_STATUS_TABLE.iter().map(|&(_, v)| wire_status_ix(v)).collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..9).collect::<Vec<_>>());
        for &(n, v) in &oms {
            prop_assert_eq!(v.as_str(), n);
            let wire = WireStatus::parse(n.as_bytes()).unwrap();
            prop_assert_eq!(wire.is_open(), v.is_open(), "{}", n);
        }
    }

    /// The total parsers (`cancelType`, `rejectReason`, `execType`) map every
    /// known spelling to its variant and anything else — any bytes at all —
    /// to `Other`, never panicking.
    #[test]
    fn total_enum_parsers_map_unknown_to_other(
        cancel in near_names(CANCEL_NAMES),
        reject in near_names(REJECT_NAMES),
        exec in near_names(EXEC_NAMES),
    ) {
        check_total(CANCEL_TYPES, CancelType::Other, &cancel, CancelType::parse(&cancel))?;
        check_total(WIRE_REJECTS, WireReject::Other, &reject, WireReject::parse(&reject))?;
        check_total(OMS_REJECTS, RejectReason::Other, &reject, RejectReason::parse(&reject))?;
        check_total(EXEC_TYPES, ExecType::Other, &exec, ExecType::parse(&exec))?;
    }

    /// An identifier is taken whole or refused — never truncated: `FixedStr`
    /// accepts exactly printable ASCII without `"`/`\` up to its capacity and
    /// gives the same bytes back; `order_link_id` further allows only
    /// `[A-Za-z0-9_-]`.
    #[test]
    fn identifiers_are_taken_whole_or_refused(
        b in prop_oneof![
            "[A-Za-z0-9_-]{0,40}".prop_map(String::into_bytes),
            "[ -~]{0,40}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..48),
        ]
    ) {
        let printable = b.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\');
        let got = OrderLinkId::new(&b);
        match got {
            Ok(id) => {
                prop_assert!(b.len() <= 36 && printable);
                prop_assert_eq!(id.as_bytes(), &b[..]);
                prop_assert_eq!(id.as_str().as_bytes(), &b[..]);
            }
            Err(IdError::TooLong) => prop_assert!(b.len() > 36),
            Err(IdError::InvalidChar) => prop_assert!(b.len() <= 36 && !printable),
        }
        let link_alphabet = b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        match order_link_id(&b) {
            Ok(id) => prop_assert!(link_alphabet && b.len() <= 36 && id.as_bytes() == &b[..]),
            Err(_) => prop_assert!(!link_alphabet || b.len() > 36),
        }
    }

    // ----- REST envelope (codec/json.rs through decode_empty) --------------

    /// A cancel-all / set-leverage style reply `{"retCode":N,"retMsg":..,
    /// "result":{},"time":T}` — any key order, whitespace, numbers or digit
    /// strings, escaped messages — decodes to `Ok(time)` for N = 0 and to
    /// `Api { code: N, msg }` otherwise, with the message made safe and cut
    /// to 96 bytes.
    #[test]
    fn decode_empty_reads_generated_envelopes(env in envelope_strategy()) {
        let mut body = env.render();
        let shown = String::from_utf8_lossy(&body).into_owned();
        let mut dec = RestDecoder::new();
        prop_assert_eq!(dec.decode_empty(&mut body), env.expected(), "{}", shown);
        // The decoder is intact afterwards.
        let mut again = env.render();
        prop_assert_eq!(dec.decode_empty(&mut again), env.expected());
    }

    /// Any bytes at all give a value or a typed error, never a panic, and
    /// whenever serde_json reads the body as JSON, `decode_empty`'s answer
    /// is the one the envelope rules give on serde_json's reading (invalid
    /// JSON is `RestError::Json` only when serde_json rejects it too).
    #[test]
    fn decode_empty_agrees_with_serde_json(b in jsonish_bytes()) {
        let mut dec = RestDecoder::new();
        let got = dec.decode_empty(&mut b.clone());
        let shown = String::from_utf8_lossy(&b).into_owned();
        match model_empty(&b) {
            Some(want) => prop_assert_eq!(got, want, "{}", shown),
            None => prop_assert_eq!(got, Err(RestError::Json), "{}", shown),
        }
    }

    // ----- replay -----------------------------------------------------------

    /// `split_line` answers any line with its parts or the `LineError` that
    /// says what is wrong, exactly as the documented layouts describe
    /// (compared with a `str`-level model), never panicking.
    #[test]
    fn split_line_matches_the_layouts(
        line in prop_oneof![
            prop::collection::vec(
                prop::sample::select(vec![
                    " ", "\t", "{", "}", "0", "1", "9", "18446744073709551615",
                    "18446744073709551616", "x", "\"k\":1", "\r", "[", "-", "\u{a0}",
                ]),
                0..10,
            )
            .prop_map(|t| t.concat().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..64),
            (
                prop::sample::select(vec!["", " ", "\t ", "\u{a0}"]),
                prop::sample::select(vec![
                    "", "0", "1721749183854663000", "18446744073709551615",
                    "18446744073709551616", "12x",
                ]),
                prop::sample::select(vec![" ", "\t", "", "  ", ":"]),
                prop::sample::select(vec!["{}", "{\"k\":1}", "", "[1]", "{", " {x"]),
                prop::sample::select(vec!["", " ", "\t", "\r", " \r"]),
            )
                .prop_map(|(a, b, c, d, e)| format!("{a}{b}{c}{d}{e}").into_bytes()),
        ]
    ) {
        let got = split_line(&line).map(|l| (l.local_ns, l.json));
        prop_assert_eq!(got, split_model(&line), "{:?}", String::from_utf8_lossy(&line));
        if let Ok(l) = split_line(&line) {
            let layout = if l.local_ns.is_some() { Layout::Recorder } else { Layout::Archive };
            prop_assert_eq!(l.layout(), layout);
        }
    }

    // ----- engine configuration -------------------------------------------

    /// Any value of any one variable (the others at their defaults) gives a
    /// configuration or an error that names that variable — never a panic
    /// and never an error blamed on a variable the operator did not touch.
    /// (A `GAPMM_TIGHT_TICKS` above the wide distance is reported as the
    /// tight/wide pair under `GAPMM_WIDE_TICKS`, with both names in the
    /// message.)
    #[test]
    fn every_variable_is_validated_and_named(
        which in any::<prop::sample::Index>(),
        value in config_value(),
        trading in any::<bool>(),
    ) {
        let (var, set) = VARS[which.index(VARS.len())];
        let mut a = default_args();
        set(&mut a, value.clone());
        let live_venue = var == "GAPMM_VENUE" && matches!(value.trim(), "testnet" | "mainnet");
        match Config::parse(&a, &KeyVars::default(), trading) {
            Ok(c) => {
                prop_assert!(!live_venue || !trading, "{}={:?} traded without keys", var, value);
                prop_assert_eq!(c.trading, trading);
                prop_assert!(c.tight_ticks >= 1 && c.tight_ticks <= c.wide_ticks);
                prop_assert!(c.min_update_interval.as_secs_f64() <= 3600.0);
                prop_assert!([1, 50, 200, 1000].contains(&c.depth));
            }
            Err(e) if live_venue && trading => prop_assert_eq!(e.var, "BYBIT_API_KEY"),
            Err(e) => {
                let named = e.var == var || (var == "GAPMM_TIGHT_TICKS" && e.var == "GAPMM_WIDE_TICKS");
                prop_assert!(named, "{}={:?} blamed on {}: {}", var, value, e.var, e);
                prop_assert!(e.to_string().contains(var), "{}", e);
            }
        }
    }

    /// Whatever the keys look like, a trading configuration for a live venue
    /// needs both keys and `--live`; the error names `BYBIT_API_KEY`,
    /// `BYBIT_API_SECRET` or `GAPMM_LIVE`; and the secret never appears in
    /// an error message or in the configuration's `Debug`.
    #[test]
    fn keys_are_required_together_and_the_secret_never_shows(
        key in prop::option::of("[ ]{0,2}[A-Za-z0-9]{0,24}[ ]{0,2}"),
        secret in prop::option::of(prop_oneof!["[ ]{0,2}[A-Za-z0-9]{10,40}[ ]{0,2}", Just(" ".to_string()), Just(String::new())]),
        venue in prop::sample::select(vec!["sim", "testnet", "mainnet", " mainnet "]),
        live in any::<bool>(),
        trading in any::<bool>(),
    ) {
        let mut a = default_args();
        a.venue = venue.to_string();
        a.live = live;
        let k = KeyVars { key: key.clone(), secret: secret.clone() };
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let secret_text = secret.as_deref().map(str::trim).filter(|s| s.len() >= 10);
        let is_live = venue.trim() != "sim";
        match Config::parse(&a, &k, trading) {
            Ok(c) => {
                prop_assert_eq!(set(&key), set(&secret));
                prop_assert_eq!(c.keys.is_some(), set(&key));
                if is_live && trading {
                    prop_assert!(set(&key) && live);
                }
                if let Some(s) = secret_text {
                    let shown = format!("{c:?}");
                    prop_assert!(!shown.contains(s));
                }
            }
            Err(e) => {
                prop_assert!(
                    ["BYBIT_API_KEY", "BYBIT_API_SECRET", "GAPMM_LIVE"].contains(&e.var),
                    "{}", e
                );
                if let Some(s) = secret_text {
                    let shown = format!("{e} {e:?}");
                    prop_assert!(!shown.contains(s));
                }
            }
        }
    }
}

proptest! {
    // Each case loads up to three tapes, and each load warms a public
    // decoder: fewer cases keep the file at a few seconds in debug.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Loading a recording (`Tape::from_bytes`) gives a tape or a typed
    /// error, never a panic; a line's error names a real, non-blank line of
    /// the input (and the file), is the first bad line (the lines before it
    /// load without a line error) and is reached the same way from the
    /// prefix that ends with it; a loaded tape's events point at real lines.
    #[test]
    fn tape_errors_name_the_first_bad_line(bytes in recording(), fixed in any::<bool>()) {
        let spec = tape_spec(fixed);
        let lines = physical_lines(&bytes);
        match Tape::from_bytes("rec.txt", &bytes, &spec) {
            Ok(t) => {
                prop_assert!(!t.events().is_empty());
                let non_blank = lines.iter().filter(|l| !blank(l)).count() as u64;
                prop_assert_eq!(t.stats().lines, non_blank);
                for e in t.events() {
                    let at = e.line as usize;
                    prop_assert!(at >= 1 && at <= lines.len(), "event line {}", at);
                    prop_assert!(!blank(lines[at - 1]));
                    let is_book = matches!(e.kind, gapmm::replay::EventKind::Book { .. });
                    prop_assert_eq!(t.book(e).is_some(), is_book);
                }
            }
            Err(e) if is_line_error(&e.kind) => {
                let n = e.line as usize;
                prop_assert!(n >= 1 && n <= lines.len(), "line {} of {}", n, lines.len());
                prop_assert!(!blank(lines[n - 1]), "blank line {} named", n);
                let msg = e.to_string();
                let prefix = format!("rec.txt line {n}: ");
                prop_assert!(msg.starts_with(&prefix), "{}", msg);
                let upto = |k: usize| -> Vec<u8> {
                    lines[..k].iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect()
                };
                if let Err(before) = Tape::from_bytes("rec.txt", &upto(n - 1), &spec) {
                    prop_assert!(!is_line_error(&before.kind), "earlier: {}", before);
                }
                let again = Tape::from_bytes("rec.txt", &upto(n), &spec).unwrap_err();
                prop_assert_eq!(again.to_string(), msg);
            }
            Err(e) => {
                prop_assert!(matches!(e.kind, TapeErrorKind::NoMarketData), "{}", e);
                prop_assert_eq!(e.line, 0);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// edges found by the properties above (fixed; kept as regression tests)
// ---------------------------------------------------------------------------

/// A step whose units exceed `i64::MAX` was accepted but shown as another
/// step (its `Display` saturated): it is refused now, and the largest step
/// still round-trips.
#[test]
fn a_step_beyond_i64_is_refused_and_the_largest_round_trips() {
    assert_eq!(Step::parse("9223372036854775808"), Err(UnitError::Overflow));
    let s = Step::parse("9223372036854775807").unwrap();
    assert_eq!(Step::parse(&s.to_string()), Ok(s), "shown as {s}");
}

/// `Decimal { mantissa: i64::MIN, scale: 0 }` displays as
/// `-9223372036854775808`, which `Decimal::parse` refused.
#[test]
fn decimal_min_display_parses_back() {
    let d = Decimal {
        mantissa: i64::MIN,
        scale: 0,
    };
    assert_eq!(Decimal::parse(d.to_string().as_bytes()), Ok(d));
}

/// `{"retCode":"-9223372036854775808"}` was `Missing("retCode")` while the
/// same code as a JSON number was `Api { code: i64::MIN, .. }`.
#[test]
fn string_ret_code_of_i64_min_is_read() {
    let mut dec = RestDecoder::new();
    let as_number =
        dec.decode_empty(&mut br#"{"retCode":-9223372036854775808,"retMsg":"x"}"#.to_vec());
    let as_string =
        dec.decode_empty(&mut br#"{"retCode":"-9223372036854775808","retMsg":"x"}"#.to_vec());
    assert_eq!(as_string, as_number);
}

/// A reply with an integer beyond 64 bits in a field the engine does not
/// read is still a reply; in the field it reads, it is a typed error.
#[test]
fn an_integer_beyond_64_bits_fails_only_the_field_that_holds_it() {
    let mut dec = RestDecoder::new();
    let mut body = br#"{"retCode":0,"retMsg":"OK","result":{},"retExtInfo":{"n":123456789012345678901234567890},"time":1700000000000}"#.to_vec();
    assert_eq!(dec.decode_empty(&mut body), Ok(ExchMs(1_700_000_000_000)));
    let mut body =
        br#"{"retCode":123456789012345678901234567890,"retMsg":"OK","result":{}}"#.to_vec();
    assert_eq!(
        dec.decode_empty(&mut body),
        Err(RestError::Missing("retCode"))
    );
}

proptest! {
    /// Trailing zeros after the point carry no value: a decimal padded
    /// with any number of them (within the length cap) parses to the same
    /// value, past the 18-decimal limit and the mantissa's 64 bits.
    #[test]
    fn trailing_zeros_change_no_value(m in any::<i64>(), scale in 0u8..=18, extra in 1usize..30) {
        let text = Decimal { mantissa: m, scale }.to_string();
        let zeros = "0".repeat(extra);
        let padded = if text.contains('.') { format!("{text}{zeros}") } else { format!("{text}.{zeros}") };
        prop_assume!(padded.len() <= MAX_DECIMAL_LEN);
        let d = Decimal::parse(padded.as_bytes());
        prop_assert!(d.is_ok(), "{} -> {:?}", padded, d);
        prop_assert_eq!(d.unwrap().rescale(scale), Ok(m), "{}", padded);
    }
}
