//! REST v5 codec: signed HTTP/1.1 request bytes, an incremental HTTP/1.1
//! response parser and typed decoding of Bybit's response envelopes.
//!
//! Contract:
//! - Sans-I/O. Requests are written into one caller-owned `Vec<u8>` (request
//!   line, headers and body, so one `write()` sends it). Order create / amend /
//!   cancel / cancel-all / batch requests allocate nothing when the vector has
//!   capacity; the signature covers exactly the body (or query string) written.
//! - [`parse_response`] works on whatever bytes have arrived: `Ok(None)` means
//!   "need more". It parses status, `Content-Length` or chunked bodies
//!   (de-chunked in place), keep-alive and the `X-Bapi-Limit*` headers
//!   (case-insensitive) without allocating.
//! - [`RestDecoder`] parses bodies with a reused simd-json tape (the body is
//!   modified in place). Order acks and batch results allocate nothing after
//!   warm-up; the startup calls (instruments, positions, wallet, open orders,
//!   executions, cancel-all list) return `Vec`s.
//! - Query values are sent as given; only `/v5/execution/list` cursors are
//!   percent-encoded where they hold bytes a query cannot carry (Bybit's own
//!   cursors arrive pre-encoded and pass unchanged). The signature always
//!   covers the query bytes exactly as sent.
//! - Nothing here blocks, reads a clock (callers pass the timestamp) or
//!   panics on any input.
//! - A non-zero `retCode` is [`RestError::Api`]; batch calls return
//!   `retCode 0` even when items fail, so per-item codes are in [`BatchItem`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use simd_json::prelude::*;
use simd_json::tape::{Object, Value};

use super::json::{
    get_i64, get_str, lossy_fixed, opt_decimal, push_kv, push_kv_step, value_i64, value_ms,
    JsonScratch,
};
use super::private::{
    decode_execution, decode_order, decode_position, decode_wallet_list, CoinBalance, Execution,
    OrderUpdate, PositionUpdate, PrivateError, WalletAccount,
};
use super::sign::Signer;
use crate::ids::{Category, Coin, FixedStr, OrderId, OrderLinkId, Symbol};
use crate::time::ExchMs;
use crate::units::{Decimal, Lots, Side, Step, Ticks, UnitError};

/// An exchange message (`retMsg`, per-item `msg`), sanitised and truncated.
pub type ApiMsg = FixedStr<96>;

/// Largest batch for spot.
pub const MAX_BATCH_SPOT: usize = 10;
/// Largest batch for linear.
pub const MAX_BATCH_LINEAR: usize = 20;
/// `limit` sent with `/v5/execution/list` (Bybit's maximum page).
pub const EXECUTION_PAGE: usize = 100;
/// Longest span Bybit serves from one `/v5/execution/list` query (7 days):
/// with only `startTime` it returns `startTime ..= startTime + 7 d`.
pub const EXECUTION_SPAN_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Largest response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest response body accepted.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// The batch limit for a category.
pub const fn max_batch(category: Category) -> usize {
    match category {
        Category::Spot => MAX_BATCH_SPOT,
        Category::Linear => MAX_BATCH_LINEAR,
    }
}

/// Errors of the REST layer (request building, HTTP parsing, body decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestError {
    /// A batch is larger than the category allows.
    BatchTooLarge {
        /// Limit for the category.
        max: usize,
        /// Items given.
        got: usize,
    },
    /// A batch with no items.
    EmptyBatch,
    /// An amend that changes neither price nor quantity.
    EmptyAmend,
    /// A parameter that cannot be sent (empty, needs escaping, too long).
    BadParam(&'static str),
    /// The HTTP response is malformed.
    Http(&'static str),
    /// The response head exceeds [`MAX_HEAD`].
    HeadTooLarge,
    /// The body exceeds [`MAX_BODY`].
    BodyTooLarge,
    /// The response has neither `Content-Length` nor chunked encoding.
    NoContentLength,
    /// HTTP status other than 200.
    HttpStatus(u16),
    /// The body is not valid JSON.
    Json,
    /// A required field is missing or null.
    Missing(&'static str),
    /// A field has an unexpected type or value.
    BadField(&'static str),
    /// A decimal field failed to convert.
    Unit {
        /// JSON key.
        field: &'static str,
        /// Why.
        err: UnitError,
    },
    /// Non-zero `retCode`.
    Api {
        /// `retCode`.
        code: i64,
        /// `retMsg`.
        msg: ApiMsg,
    },
    /// A record (order/position/wallet row) failed to decode.
    Record(PrivateError),
    /// More batch items than [`MAX_BATCH_LINEAR`].
    TooManyItems,
    /// `result.list` and `retExtInfo.list` differ in length.
    BatchMismatch {
        /// `result.list` length.
        results: usize,
        /// `retExtInfo.list` length.
        infos: usize,
    },
}

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestError::BatchTooLarge { max, got } => {
                write!(f, "batch of {got} exceeds the category limit of {max}")
            }
            RestError::EmptyBatch => f.write_str("batch has no items"),
            RestError::EmptyAmend => f.write_str("amend changes neither price nor quantity"),
            RestError::BadParam(p) => write!(f, "parameter `{p}` cannot be sent"),
            RestError::Http(w) => write!(f, "malformed HTTP response: {w}"),
            RestError::HeadTooLarge => f.write_str("HTTP response head too large"),
            RestError::BodyTooLarge => f.write_str("HTTP response body too large"),
            RestError::NoContentLength => f.write_str("HTTP response has no length"),
            RestError::HttpStatus(s) => write!(f, "HTTP status {s}"),
            RestError::Json => f.write_str("response body is not valid JSON"),
            RestError::Missing(k) => write!(f, "response lacks field `{k}`"),
            RestError::BadField(k) => write!(f, "response field `{k}` is invalid"),
            RestError::Unit { field, err } => write!(f, "response field `{field}`: {err}"),
            RestError::Api { code, msg } => write!(f, "Bybit error {code}: {msg}"),
            RestError::Record(e) => write!(f, "record: {e}"),
            RestError::TooManyItems => f.write_str("batch response has too many items"),
            RestError::BatchMismatch { results, infos } => {
                write!(
                    f,
                    "batch response lists differ: {results} results, {infos} codes"
                )
            }
        }
    }
}

impl std::error::Error for RestError {}

impl From<PrivateError> for RestError {
    fn from(e: PrivateError) -> Self {
        RestError::Record(e)
    }
}

/// `timeInForce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
    /// Maker only; a crossing order is cancelled with `EC_PostOnlyWillTakeLiquidity`.
    PostOnly,
    /// Retail price improvement (approved makers only).
    Rpi,
}

impl TimeInForce {
    /// Bybit's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
            TimeInForce::PostOnly => "PostOnly",
            TimeInForce::Rpi => "RPI",
        }
    }
    /// Parses Bybit's spelling.
    pub fn parse(s: &[u8]) -> Option<TimeInForce> {
        Some(match s {
            b"GTC" => TimeInForce::Gtc,
            b"IOC" => TimeInForce::Ioc,
            b"FOK" => TimeInForce::Fok,
            b"PostOnly" => TimeInForce::PostOnly,
            b"RPI" => TimeInForce::Rpi,
            _ => return None,
        })
    }
}

/// `orderType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// Limit order.
    Limit,
    /// Market order (price not sent).
    Market,
}

impl OrderType {
    /// Bybit's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Limit => "Limit",
            OrderType::Market => "Market",
        }
    }
    /// Parses Bybit's spelling.
    pub fn parse(s: &[u8]) -> Option<OrderType> {
        match s {
            b"Limit" => Some(OrderType::Limit),
            b"Market" => Some(OrderType::Market),
            _ => None,
        }
    }
}

/// What the codecs need to know about one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstrumentSpec {
    /// Symbol.
    pub symbol: Symbol,
    /// Category.
    pub category: Category,
    /// `priceFilter.tickSize`.
    pub price_step: Step,
    /// `lotSizeFilter.qtyStep` (linear) or `basePrecision` (spot).
    pub qty_step: Step,
    /// `minOrderQty` (rounded up to the grid; for spot informational only).
    pub min_qty: Lots,
    /// Linear `maxOrderQty`; spot `maxLimitOrderQty` (else `maxOrderQty`).
    pub max_qty: Option<Lots>,
    /// Spot `postOnlyMaxLimitOrderSize`; linear `postOnlyMaxOrderQty`.
    pub post_only_max_qty: Option<Lots>,
    /// Linear `minNotionalValue`; spot `minOrderAmt` (quote units).
    pub min_notional: Option<Decimal>,
    /// `baseCoin` (empty when unknown): a fee charged in it (a spot buy's)
    /// comes out of the quantity received.
    pub base_coin: Coin,
}

impl InstrumentSpec {
    /// A spec with only the grid known (no size limits).
    pub fn new(symbol: Symbol, category: Category, price_step: Step, qty_step: Step) -> Self {
        InstrumentSpec {
            symbol,
            category,
            price_step,
            qty_step,
            min_qty: Lots::ZERO,
            max_qty: None,
            post_only_max_qty: None,
            min_notional: None,
            base_coin: Coin::default(),
        }
    }

    /// The same spec with its base coin known.
    pub fn with_base_coin(mut self, coin: Coin) -> Self {
        self.base_coin = coin;
        self
    }
}

/// A new order (symbol and category come from the [`InstrumentSpec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    /// Side.
    pub side: Side,
    /// `Limit` / `Market`.
    pub order_type: OrderType,
    /// Limit price (ignored for market orders).
    pub price: Ticks,
    /// Quantity in lots.
    pub qty: Lots,
    /// Client id (omitted when empty).
    pub link_id: OrderLinkId,
    /// Time in force.
    pub tif: TimeInForce,
    /// `reduceOnly` (linear only; sent only when true).
    pub reduce_only: bool,
}

impl NewOrder {
    /// A PostOnly limit order, the market maker's usual quote.
    pub fn post_only(side: Side, price: Ticks, qty: Lots, link_id: OrderLinkId) -> NewOrder {
        NewOrder {
            side,
            order_type: OrderType::Limit,
            price,
            qty,
            link_id,
            tif: TimeInForce::PostOnly,
            reduce_only: false,
        }
    }
}

/// Which order an amend/cancel targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRef {
    /// By exchange id.
    OrderId(OrderId),
    /// By client id.
    LinkId(OrderLinkId),
}

/// An amend: new price and/or new total quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amend {
    /// Target order.
    pub id: OrderRef,
    /// New price (omitted if `None`).
    pub price: Option<Ticks>,
    /// New total quantity (omitted if `None`).
    pub qty: Option<Lots>,
}

/// `X-Bapi-Limit*` values (REST headers or the WS trade `header` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitInfo {
    /// `X-Bapi-Limit`: limit for this endpoint.
    pub limit: Option<u32>,
    /// `X-Bapi-Limit-Status`: remaining.
    pub remaining: Option<u32>,
    /// `X-Bapi-Limit-Reset-Timestamp`.
    pub reset: Option<ExchMs>,
}

impl RateLimitInfo {
    /// Records one header if it is a rate-limit header (name case-insensitive).
    /// Returns whether it was one.
    pub fn apply_header(&mut self, name: &[u8], value: &[u8]) -> bool {
        let v = trim(value);
        if name.eq_ignore_ascii_case(b"x-bapi-limit") {
            self.limit = super::json::parse_u64(v).and_then(|x| u32::try_from(x).ok());
        } else if name.eq_ignore_ascii_case(b"x-bapi-limit-status") {
            self.remaining = super::json::parse_u64(v).and_then(|x| u32::try_from(x).ok());
        } else if name.eq_ignore_ascii_case(b"x-bapi-limit-reset-timestamp") {
            self.reset = super::json::parse_u64(v).map(ExchMs);
        } else {
            return false;
        }
        true
    }
}

// ---------------------------------------------------------------------------
// JSON bodies
// ---------------------------------------------------------------------------

fn check_link(o: &OrderLinkId) -> Result<(), RestError> {
    if o.as_bytes()
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(RestError::BadParam("orderLinkId"))
    }
}

/// Appends one create-order JSON object. `with_category` adds `category`
/// (single requests) — batch items omit it.
pub fn write_create_json(
    out: &mut Vec<u8>,
    inst: &InstrumentSpec,
    o: &NewOrder,
    with_category: bool,
    batch_item: bool,
) -> Result<(), RestError> {
    check_link(&o.link_id)?;
    if o.qty.0 <= 0 {
        return Err(RestError::BadParam("qty"));
    }
    if o.order_type == OrderType::Limit && o.price.0 <= 0 {
        return Err(RestError::BadParam("price"));
    }
    out.push(b'{');
    let mut first = true;
    if with_category {
        push_kv(out, true, "category", inst.category.as_str().as_bytes());
        first = false;
    }
    push_kv(out, first, "symbol", inst.symbol.as_bytes());
    push_kv(out, false, "side", o.side.as_str().as_bytes());
    push_kv(out, false, "orderType", o.order_type.as_str().as_bytes());
    push_kv_step(out, false, "qty", inst.qty_step, o.qty.0);
    if o.order_type == OrderType::Limit {
        push_kv_step(out, false, "price", inst.price_step, o.price.0);
    }
    push_kv(out, false, "timeInForce", o.tif.as_str().as_bytes());
    if !o.link_id.is_empty() {
        push_kv(out, false, "orderLinkId", o.link_id.as_bytes());
    }
    match inst.category {
        Category::Spot => {
            out.extend_from_slice(b",\"isLeverage\":0");
            if !batch_item {
                push_kv(out, false, "orderFilter", b"Order");
            }
        }
        Category::Linear => {
            if o.reduce_only {
                out.extend_from_slice(b",\"reduceOnly\":true");
            }
        }
    }
    out.push(b'}');
    Ok(())
}

fn push_ref(out: &mut Vec<u8>, id: &OrderRef) -> Result<(), RestError> {
    match id {
        OrderRef::OrderId(i) => {
            if i.is_empty() {
                return Err(RestError::BadParam("orderId"));
            }
            push_kv(out, false, "orderId", i.as_bytes());
        }
        OrderRef::LinkId(l) => {
            if l.is_empty() {
                return Err(RestError::BadParam("orderLinkId"));
            }
            check_link(l)?;
            push_kv(out, false, "orderLinkId", l.as_bytes());
        }
    }
    Ok(())
}

/// Appends one amend JSON object.
pub fn write_amend_json(
    out: &mut Vec<u8>,
    inst: &InstrumentSpec,
    a: &Amend,
    with_category: bool,
) -> Result<(), RestError> {
    if a.price.is_none() && a.qty.is_none() {
        return Err(RestError::EmptyAmend);
    }
    if a.price.is_some_and(|p| p.0 <= 0) {
        return Err(RestError::BadParam("price"));
    }
    if a.qty.is_some_and(|q| q.0 <= 0) {
        return Err(RestError::BadParam("qty"));
    }
    out.push(b'{');
    if with_category {
        push_kv(out, true, "category", inst.category.as_str().as_bytes());
        push_kv(out, false, "symbol", inst.symbol.as_bytes());
    } else {
        push_kv(out, true, "symbol", inst.symbol.as_bytes());
    }
    push_ref(out, &a.id)?;
    if let Some(q) = a.qty {
        push_kv_step(out, false, "qty", inst.qty_step, q.0);
    }
    if let Some(p) = a.price {
        push_kv_step(out, false, "price", inst.price_step, p.0);
    }
    out.push(b'}');
    Ok(())
}

/// Appends one cancel JSON object.
pub fn write_cancel_json(
    out: &mut Vec<u8>,
    inst: &InstrumentSpec,
    id: &OrderRef,
    with_category: bool,
) -> Result<(), RestError> {
    out.push(b'{');
    if with_category {
        push_kv(out, true, "category", inst.category.as_str().as_bytes());
        push_kv(out, false, "symbol", inst.symbol.as_bytes());
    } else {
        push_kv(out, true, "symbol", inst.symbol.as_bytes());
    }
    push_ref(out, id)?;
    if with_category && inst.category == Category::Spot {
        push_kv(out, false, "orderFilter", b"Order");
    }
    out.push(b'}');
    Ok(())
}

/// Appends the cancel-all JSON object for the instrument's symbol.
pub fn write_cancel_all_json(out: &mut Vec<u8>, inst: &InstrumentSpec) {
    out.push(b'{');
    push_kv(out, true, "category", inst.category.as_str().as_bytes());
    push_kv(out, false, "symbol", inst.symbol.as_bytes());
    out.push(b'}');
}

fn check_batch(inst: &InstrumentSpec, n: usize) -> Result<(), RestError> {
    let max = max_batch(inst.category);
    if n == 0 {
        return Err(RestError::EmptyBatch);
    }
    if n > max {
        return Err(RestError::BatchTooLarge { max, got: n });
    }
    Ok(())
}

fn write_batch<T>(
    out: &mut Vec<u8>,
    inst: &InstrumentSpec,
    items: &[T],
    mut item: impl FnMut(&mut Vec<u8>, &T) -> Result<(), RestError>,
) -> Result<(), RestError> {
    check_batch(inst, items.len())?;
    out.push(b'{');
    push_kv(out, true, "category", inst.category.as_str().as_bytes());
    out.extend_from_slice(b",\"request\":[");
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, it)?;
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// Appends `{"category":..,"request":[create…]}`.
pub fn write_create_batch_json(
    out: &mut Vec<u8>,
    inst: &InstrumentSpec,
    orders: &[NewOrder],
) -> Result<(), RestError> {
    write_batch(out, inst, orders, |out, o| {
        write_create_json(out, inst, o, false, true)
    })
}

/// Appends `{"category":..,"request":[amend…]}`.
pub fn write_amend_batch_json(
    out: &mut Vec<u8>,
    inst: &InstrumentSpec,
    amends: &[Amend],
) -> Result<(), RestError> {
    write_batch(out, inst, amends, |out, a| {
        write_amend_json(out, inst, a, false)
    })
}

/// Appends `{"category":..,"request":[cancel…]}`.
pub fn write_cancel_batch_json(
    out: &mut Vec<u8>,
    inst: &InstrumentSpec,
    ids: &[OrderRef],
) -> Result<(), RestError> {
    write_batch(out, inst, ids, |out, id| {
        write_cancel_json(out, inst, id, false)
    })
}

// ---------------------------------------------------------------------------
// HTTP requests
// ---------------------------------------------------------------------------

/// A small stack buffer for request heads.
struct Head {
    buf: [u8; 1024],
    len: usize,
}

impl Head {
    fn new() -> Head {
        Head {
            buf: [0; 1024],
            len: 0,
        }
    }
    fn push(&mut self, s: &[u8]) -> Result<(), RestError> {
        let end = self
            .len
            .checked_add(s.len())
            .ok_or(RestError::BadParam("head"))?;
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(RestError::BadParam("head"))?;
        dst.copy_from_slice(s);
        self.len = end;
        Ok(())
    }
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Percent-encodes the bytes of `v` a query value cannot carry (controls,
/// space, non-ASCII, `"#&+=?` and a `%` not starting an escape); an existing
/// `%XX` escape is kept, so an already-encoded cursor is returned unchanged
/// (borrowed).
pub fn encode_query_value(v: &str) -> Cow<'_, str> {
    let b = v.as_bytes();
    let keep = |i: usize| -> bool {
        let c = b.get(i).copied().unwrap_or(0);
        if c == b'%' {
            return b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        }
        c.is_ascii_graphic() && !b"\"#&+=?".contains(&c)
    };
    if (0..b.len()).all(keep) {
        return Cow::Borrowed(v);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(b.len() * 3);
    for (i, &c) in b.iter().enumerate() {
        if keep(i) {
            s.push(char::from(c));
        } else {
            s.push('%');
            s.push(char::from(HEX[usize::from(c >> 4)]));
            s.push(char::from(HEX[usize::from(c & 15)]));
        }
    }
    Cow::Owned(s)
}

/// Builds signed Bybit v5 REST requests for one API key and host.
#[derive(Debug, Clone)]
pub struct RestCodec {
    signer: Signer,
    host: FixedStr<128>,
    recv_window: FixedStr<10>,
    tag: FixedStr<36>,
}

impl RestCodec {
    /// `host` is the `Host` header value (`api.bybit.com`); `recv_window_ms` is
    /// sent as `X-BAPI-RECV-WINDOW`.
    pub fn new(signer: Signer, host: &str, recv_window_ms: u32) -> Result<RestCodec, RestError> {
        if host.is_empty() || host.bytes().any(|b| !(b.is_ascii_graphic()) || b == b'"') {
            return Err(RestError::BadParam("host"));
        }
        let host = FixedStr::new(host.as_bytes()).map_err(|_| RestError::BadParam("host"))?;
        let mut recv_window = FixedStr::default();
        recv_window
            .push_u64(u64::from(recv_window_ms))
            .map_err(|_| RestError::BadParam("recv_window"))?;
        Ok(RestCodec {
            signer,
            host,
            recv_window,
            tag: FixedStr::default(),
        })
    }

    /// The simulator's measuring tag for the POSTs that follow: an
    /// `X-Gapmm-Tag` header naming the market message a request reacts to
    /// (`<variant>-…-<u>`, see `sim::measure`), so every kind of order
    /// request is attributed the same way whatever its body carries. The
    /// engine sets it only against the simulator; an empty tag (the
    /// default) sends no header. A tag that is not printable ASCII is
    /// refused and the previous one cleared.
    pub fn set_tag(&mut self, tag: &[u8]) -> Result<(), RestError> {
        self.tag = FixedStr::default();
        if !tag.iter().all(|b| b.is_ascii_graphic()) {
            return Err(RestError::BadParam("tag"));
        }
        self.tag = FixedStr::new(tag).map_err(|_| RestError::BadParam("tag"))?;
        Ok(())
    }

    /// The signer in use.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    fn auth_headers(&self, h: &mut Head, ts: &[u8], sig: &[u8; 64]) -> Result<(), RestError> {
        h.push(b"X-BAPI-API-KEY: ")?;
        h.push(self.signer.api_key().as_bytes())?;
        h.push(b"\r\nX-BAPI-SIGN: ")?;
        h.push(sig)?;
        h.push(b"\r\nX-BAPI-SIGN-TYPE: 2\r\nX-BAPI-TIMESTAMP: ")?;
        h.push(ts)?;
        h.push(b"\r\nX-BAPI-RECV-WINDOW: ")?;
        h.push(self.recv_window.as_bytes())?;
        h.push(b"\r\n")
    }

    /// Writes a signed POST: `body` appends the JSON body to the buffer.
    fn post(
        &self,
        out: &mut Vec<u8>,
        path: &str,
        ts: ExchMs,
        body: impl FnOnce(&mut Vec<u8>) -> Result<(), RestError>,
    ) -> Result<(), RestError> {
        out.clear();
        if let Err(e) = body(out) {
            out.clear();
            return Err(e);
        }
        let body_len = out.len();
        let mut tsb = itoa::Buffer::new();
        let ts = tsb.format(ts.0).as_bytes();
        let mut sig = [0u8; 64];
        self.signer
            .sign_rest(ts, self.recv_window.as_bytes(), out, &mut sig);
        let mut h = Head::new();
        h.push(b"POST ")?;
        h.push(path.as_bytes())?;
        h.push(b" HTTP/1.1\r\nHost: ")?;
        h.push(self.host.as_bytes())?;
        h.push(b"\r\n")?;
        self.auth_headers(&mut h, ts, &sig)?;
        if !self.tag.is_empty() {
            h.push(b"X-Gapmm-Tag: ")?;
            h.push(self.tag.as_bytes())?;
            h.push(b"\r\n")?;
        }
        h.push(b"Content-Type: application/json\r\nContent-Length: ")?;
        let mut lb = itoa::Buffer::new();
        h.push(lb.format(body_len).as_bytes())?;
        h.push(b"\r\nConnection: keep-alive\r\n\r\n")?;
        out.extend_from_slice(h.bytes());
        out.rotate_right(h.len);
        Ok(())
    }

    /// Writes a GET with `params` sorted by key, joined `k=v&…` without
    /// encoding (values must already be URL-safe, e.g. API cursors as
    /// returned); signed unless `signed` is false.
    fn get(
        &self,
        out: &mut Vec<u8>,
        path: &str,
        ts: ExchMs,
        params: &[(&str, &str)],
        signed: bool,
    ) -> Result<(), RestError> {
        let mut sorted: [(&str, &str); 8] = [("", ""); 8];
        let n = params.len();
        let slot = sorted
            .get_mut(..n)
            .ok_or(RestError::BadParam("too many query parameters"))?;
        slot.copy_from_slice(params);
        slot.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (k, v) in slot.iter() {
            let ok = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"&=#? \"".contains(&b))
            };
            if k.is_empty() || !ok(k) || !ok(v) {
                return Err(RestError::BadParam("query"));
            }
        }
        out.clear();
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(path.as_bytes());
        let q_start = out.len() + 1;
        for (i, (k, v)) in slot.iter().enumerate() {
            out.push(if i == 0 { b'?' } else { b'&' });
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
        let q_end = out.len();
        let mut h = Head::new();
        h.push(b" HTTP/1.1\r\nHost: ")?;
        h.push(self.host.as_bytes())?;
        h.push(b"\r\n")?;
        if signed {
            let mut tsb = itoa::Buffer::new();
            let ts = tsb.format(ts.0).as_bytes();
            let mut sig = [0u8; 64];
            let q = out.get(q_start.min(q_end)..q_end).unwrap_or(&[]);
            self.signer
                .sign_rest(ts, self.recv_window.as_bytes(), q, &mut sig);
            self.auth_headers(&mut h, ts, &sig)?;
        }
        h.push(b"Connection: keep-alive\r\n\r\n")?;
        out.extend_from_slice(h.bytes());
        Ok(())
    }

    /// `POST /v5/order/create`.
    pub fn create_order(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        o: &NewOrder,
    ) -> Result<(), RestError> {
        self.post(out, "/v5/order/create", ts, |b| {
            write_create_json(b, inst, o, true, false)
        })
    }

    /// `POST /v5/order/amend`.
    pub fn amend_order(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        a: &Amend,
    ) -> Result<(), RestError> {
        self.post(out, "/v5/order/amend", ts, |b| {
            write_amend_json(b, inst, a, true)
        })
    }

    /// `POST /v5/order/cancel`.
    pub fn cancel_order(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        id: &OrderRef,
    ) -> Result<(), RestError> {
        self.post(out, "/v5/order/cancel", ts, |b| {
            write_cancel_json(b, inst, id, true)
        })
    }

    /// `POST /v5/order/cancel-all` for the instrument's symbol.
    pub fn cancel_all(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
    ) -> Result<(), RestError> {
        self.post(out, "/v5/order/cancel-all", ts, |b| {
            write_cancel_all_json(b, inst);
            Ok(())
        })
    }

    /// `POST /v5/order/create-batch` (≤10 spot, ≤20 linear).
    pub fn create_batch(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        orders: &[NewOrder],
    ) -> Result<(), RestError> {
        self.post(out, "/v5/order/create-batch", ts, |b| {
            write_create_batch_json(b, inst, orders)
        })
    }

    /// `POST /v5/order/amend-batch`.
    pub fn amend_batch(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        amends: &[Amend],
    ) -> Result<(), RestError> {
        self.post(out, "/v5/order/amend-batch", ts, |b| {
            write_amend_batch_json(b, inst, amends)
        })
    }

    /// `POST /v5/order/cancel-batch`.
    pub fn cancel_batch(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        ids: &[OrderRef],
    ) -> Result<(), RestError> {
        self.post(out, "/v5/order/cancel-batch", ts, |b| {
            write_cancel_batch_json(b, inst, ids)
        })
    }

    /// `GET /v5/order/realtime?category=..&symbol=..[&openOnly=..][&cursor=..]&limit=50`.
    pub fn order_realtime(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        open_only: bool,
        cursor: Option<&str>,
    ) -> Result<(), RestError> {
        let mut p: [(&str, &str); 5] = [("", ""); 5];
        p[0] = ("category", inst.category.as_str());
        p[1] = ("symbol", inst.symbol.as_str());
        p[2] = ("limit", "50");
        p[3] = ("openOnly", if open_only { "0" } else { "1" });
        let mut n = 4;
        if let Some(c) = cursor.filter(|c| !c.is_empty()) {
            p[4] = ("cursor", c);
            n = 5;
        }
        self.get(out, "/v5/order/realtime", ts, &p[..n], true)
    }

    /// `GET /v5/execution/list?category=..&symbol=..[&startTime=..]&limit=100[&cursor=..]`:
    /// the account's executions for the instrument, newest first. Without
    /// `start_time` Bybit serves the last 7 days; with it, `start_time` to
    /// `start_time +` [`EXECUTION_SPAN_MS`]. `cursor` is a previous page's
    /// [`ExecutionPage::next_cursor`] (`None` or `""` for the first page);
    /// it is sent as returned (Bybit's cursors are already percent-encoded),
    /// percent-encoding only bytes a query value cannot carry.
    pub fn execution_list(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
        start_time: Option<ExchMs>,
        cursor: Option<&str>,
    ) -> Result<(), RestError> {
        let mut tb = itoa::Buffer::new();
        let mut lb = itoa::Buffer::new();
        let mut p: [(&str, &str); 5] = [("", ""); 5];
        p[0] = ("category", inst.category.as_str());
        p[1] = ("symbol", inst.symbol.as_str());
        p[2] = ("limit", lb.format(EXECUTION_PAGE));
        let mut n = 3;
        if let Some(t) = start_time {
            p[n] = ("startTime", tb.format(t.0));
            n += 1;
        }
        let enc = cursor.filter(|c| !c.is_empty()).map(encode_query_value);
        if let Some(c) = enc.as_deref() {
            p[n] = ("cursor", c);
            n += 1;
        }
        self.get(out, "/v5/execution/list", ts, &p[..n], true)
    }

    /// `GET /v5/position/list?category=..&symbol=..`.
    pub fn position_list(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        inst: &InstrumentSpec,
    ) -> Result<(), RestError> {
        let p = [
            ("category", inst.category.as_str()),
            ("symbol", inst.symbol.as_str()),
        ];
        self.get(out, "/v5/position/list", ts, &p, true)
    }

    /// `GET /v5/user/query-api`: the calling key's account (`userID`), key id
    /// and permissions; signed, no parameters.
    pub fn query_api(&self, out: &mut Vec<u8>, ts: ExchMs) -> Result<(), RestError> {
        self.get(out, "/v5/user/query-api", ts, &[], true)
    }

    /// `GET /v5/account/wallet-balance?accountType=UNIFIED[&coin=..]` (`coin` may be `USDT,BTC`).
    pub fn wallet_balance(
        &self,
        out: &mut Vec<u8>,
        ts: ExchMs,
        coin: Option<&str>,
    ) -> Result<(), RestError> {
        let mut p: [(&str, &str); 2] = [("accountType", "UNIFIED"), ("", "")];
        let mut n = 1;
        if let Some(c) = coin.filter(|c| !c.is_empty()) {
            p[1] = ("coin", c);
            n = 2;
        }
        self.get(out, "/v5/account/wallet-balance", ts, &p[..n], true)
    }

    /// `GET /v5/market/instruments-info?category=..[&symbol=..][&cursor=..]` (public, unsigned).
    pub fn instruments_info(
        &self,
        out: &mut Vec<u8>,
        category: Category,
        symbol: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<(), RestError> {
        let mut p: [(&str, &str); 4] = [("", ""); 4];
        p[0] = ("category", category.as_str());
        let mut n = 1;
        if let Some(s) = symbol.filter(|s| !s.is_empty()) {
            p[n] = ("symbol", s);
            n += 1;
        }
        if category == Category::Linear {
            p[n] = ("limit", "1000");
            n += 1;
        }
        if let Some(c) = cursor.filter(|c| !c.is_empty()) {
            p[n] = ("cursor", c);
            n += 1;
        }
        self.get(
            out,
            "/v5/market/instruments-info",
            ExchMs(0),
            &p[..n],
            false,
        )
    }

    /// `GET /v5/market/time` (public, unsigned).
    pub fn market_time(&self, out: &mut Vec<u8>) -> Result<(), RestError> {
        self.get(out, "/v5/market/time", ExchMs(0), &[], false)
    }
}

// ---------------------------------------------------------------------------
// HTTP responses
// ---------------------------------------------------------------------------

/// The parsed head of an HTTP/1.1 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Whether the connection stays open (HTTP/1.1 default unless `Connection: close`).
    pub keep_alive: bool,
    /// `Content-Length`, if given.
    pub content_length: Option<usize>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// Rate-limit headers.
    pub rate_limit: RateLimitInfo,
}

impl ResponseHead {
    /// `Ok` for status 200, else [`RestError::HttpStatus`].
    pub fn check_status(&self) -> Result<(), RestError> {
        if self.status == 200 {
            Ok(())
        } else {
            Err(RestError::HttpStatus(self.status))
        }
    }
}

/// A complete response found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedResponse {
    /// The head.
    pub head: ResponseHead,
    /// Body bytes within the buffer (de-chunked in place when chunked).
    pub body: Range<usize>,
    /// Bytes of the buffer this response used (drop them before parsing the next).
    pub consumed: usize,
}

fn trim(s: &[u8]) -> &[u8] {
    let a = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let b = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(a, |i| i + 1);
    s.get(a..b).unwrap_or(&[])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// Parses one HTTP/1.1 response from the start of `buf`. `Ok(None)` means
/// the response is incomplete. A chunked body is de-chunked in place (only
/// once it is complete), so `buf` is mutable.
pub fn parse_response(buf: &mut [u8]) -> Result<Option<ParsedResponse>, RestError> {
    let scan = buf.get(..buf.len().min(MAX_HEAD)).unwrap_or(&[]);
    let head_end = match find(scan, b"\r\n\r\n") {
        Some(i) => i + 4,
        None if buf.len() >= MAX_HEAD => return Err(RestError::HeadTooLarge),
        None => return Ok(None),
    };
    let head_bytes = buf.get(..head_end - 4).unwrap_or(&[]);
    let mut lines = head_bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().ok_or(RestError::Http("no status line"))?;
    let (http10, status) = parse_status_line(status_line)?;
    let mut head = ResponseHead {
        status,
        keep_alive: !http10,
        content_length: None,
        chunked: false,
        rate_limit: RateLimitInfo::default(),
    };
    for line in lines {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(RestError::Http("header without colon"))?;
        let (name, value) = line.split_at(colon);
        let value = trim(value.get(1..).unwrap_or(&[]));
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(RestError::Http("bad header name"));
        }
        if head.rate_limit.apply_header(name, value) {
            continue;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = super::json::parse_u64(value).ok_or(RestError::Http("bad Content-Length"))?;
            let n = usize::try_from(n).map_err(|_| RestError::BodyTooLarge)?;
            if head.content_length.is_some_and(|c| c != n) {
                return Err(RestError::Http("conflicting Content-Length"));
            }
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if contains_token(value, b"chunked") {
                head.chunked = true;
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_token(value, b"close") {
                head.keep_alive = false;
            } else if contains_token(value, b"keep-alive") {
                head.keep_alive = true;
            }
        }
    }
    if head.chunked {
        return dechunk(buf, head_end).map(|r| {
            r.map(|(body, consumed)| ParsedResponse {
                head,
                body,
                consumed,
            })
        });
    }
    let len = match head.content_length {
        Some(n) => n,
        None if status < 200 || status == 204 || status == 304 => 0,
        None => return Err(RestError::NoContentLength),
    };
    if len > MAX_BODY {
        return Err(RestError::BodyTooLarge);
    }
    let end = head_end.checked_add(len).ok_or(RestError::BodyTooLarge)?;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(ParsedResponse {
        head,
        body: head_end..end,
        consumed: end,
    }))
}

fn parse_status_line(l: &[u8]) -> Result<(bool, u16), RestError> {
    let http10 = if l.starts_with(b"HTTP/1.1 ") {
        false
    } else if l.starts_with(b"HTTP/1.0 ") {
        true
    } else {
        return Err(RestError::Http("not an HTTP/1.x status line"));
    };
    let code = l.get(9..12).ok_or(RestError::Http("short status line"))?;
    if l.get(12).is_some_and(|&b| b != b' ') {
        return Err(RestError::Http("bad status code"));
    }
    let s = super::json::parse_u64(code).ok_or(RestError::Http("bad status code"))?;
    if !(100..=999).contains(&s) {
        return Err(RestError::Http("bad status code"));
    }
    Ok((http10, s as u16))
}

/// Scans a chunked body starting at `start`; if complete, compacts the data
/// to `start..` and returns (body range, consumed).
fn dechunk(buf: &mut [u8], start: usize) -> Result<Option<(Range<usize>, usize)>, RestError> {
    // Pass 1: validate and find the end without modifying anything.
    let mut pos = start;
    let mut total: usize = 0;
    let end;
    loop {
        let rest = buf.get(pos..).unwrap_or(&[]);
        let Some(nl) = find(rest, b"\r\n") else {
            if rest.len() > 1024 {
                return Err(RestError::Http("chunk size line too long"));
            }
            return Ok(None);
        };
        let line = rest.get(..nl).unwrap_or(&[]);
        let size_part = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size = parse_hex(trim(size_part)).ok_or(RestError::Http("bad chunk size"))?;
        pos += nl + 2;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                let rest = buf.get(pos..).unwrap_or(&[]);
                let Some(nl) = find(rest, b"\r\n") else {
                    if rest.len() > MAX_HEAD {
                        return Err(RestError::HeadTooLarge);
                    }
                    return Ok(None);
                };
                pos += nl + 2;
                if nl == 0 {
                    break;
                }
            }
            end = pos;
            break;
        }
        total = total.checked_add(size).ok_or(RestError::BodyTooLarge)?;
        if total > MAX_BODY {
            return Err(RestError::BodyTooLarge);
        }
        let data_end = pos.checked_add(size).ok_or(RestError::BodyTooLarge)?;
        if buf.len() < data_end + 2 {
            return Ok(None);
        }
        if buf.get(data_end..data_end + 2) != Some(b"\r\n") {
            return Err(RestError::Http("chunk not followed by CRLF"));
        }
        pos = data_end + 2;
    }
    // Pass 2: compact (the layout was validated above).
    let mut read = start;
    let mut write = start;
    loop {
        let rest = buf.get(read..).unwrap_or(&[]);
        let nl = find(rest, b"\r\n").ok_or(RestError::Http("chunk"))?;
        let line = rest.get(..nl).unwrap_or(&[]);
        let size_part = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size = parse_hex(trim(size_part)).ok_or(RestError::Http("bad chunk size"))?;
        read += nl + 2;
        if size == 0 {
            break;
        }
        buf.copy_within(read..read + size, write);
        write += size;
        read += size + 2;
    }
    Ok(Some((start..write, end)))
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    let mut v: usize = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = v.checked_mul(16)?.checked_add(usize::from(d))?;
    }
    Some(v)
}

// ---------------------------------------------------------------------------
// Response bodies
// ---------------------------------------------------------------------------

/// An order create/amend/cancel acknowledgement ("accepted", not "resting").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAck {
    /// Exchange order id.
    pub order_id: OrderId,
    /// Client id echo (may be empty).
    pub order_link_id: OrderLinkId,
    /// Envelope `time` (absent on WS trade: zero).
    pub time: ExchMs,
}

/// One item of a batch response: `result.list[i]` with `retExtInfo.list[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchItem {
    /// Symbol.
    pub symbol: Symbol,
    /// Exchange order id (`""` when the item failed).
    pub order_id: OrderId,
    /// Client id.
    pub order_link_id: OrderLinkId,
    /// `createAt` (create-batch only; `None` when `""`).
    pub create_at: Option<ExchMs>,
    /// Per-item code (0 = accepted).
    pub code: i64,
    /// Per-item message.
    pub msg: ApiMsg,
}

impl BatchItem {
    /// Whether this item was accepted.
    pub const fn is_ok(&self) -> bool {
        self.code == 0
    }
}

/// `cancel-all` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelAllResult {
    /// `success == "1"` (spot; absent on some categories → true when the list decoded).
    pub success: bool,
    /// Cancelled orders.
    pub cancelled: Vec<(OrderId, OrderLinkId)>,
}

/// One page of open/closed orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersPage {
    /// Orders for the instrument.
    pub orders: Vec<OrderUpdate>,
    /// Rows for other instruments.
    pub skipped: usize,
    /// Cursor for the next page (`None` when empty).
    pub next_cursor: Option<String>,
}

/// One page of `/v5/execution/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionPage {
    /// Rows for the instrument, in the exchange's order (newest first). Every
    /// `execType` is kept; only [`ExecType::Trade`](super::private::ExecType::Trade)
    /// rows are fills of our orders (skip `Funding`, `Settle`, …).
    pub executions: Vec<Execution>,
    /// Rows for other instruments.
    pub skipped: usize,
    /// Cursor for the next page (`None` when `""`, null or absent: no more pages).
    pub next_cursor: Option<String>,
}

/// One page of positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionsPage {
    /// Rows for the instrument.
    pub positions: Vec<PositionUpdate>,
    /// Rows for other instruments.
    pub skipped: usize,
    /// Cursor for the next page.
    pub next_cursor: Option<String>,
}

/// Wallet balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletBalance {
    /// First account's totals.
    pub account: WalletAccount,
    /// Coins.
    pub coins: Vec<CoinBalance>,
}

/// One page of instruments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentsPage {
    /// Instruments whose filters parsed.
    pub specs: Vec<InstrumentSpec>,
    /// Symbols whose filters could not be parsed (skipped).
    pub skipped: usize,
    /// Cursor for the next page (linear only).
    pub next_cursor: Option<String>,
}

/// `GET /v5/market/time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTime {
    /// `timeSecond`.
    pub time_second: u64,
    /// `timeNano`.
    pub time_nano: u64,
    /// Envelope `time` (ms).
    pub time: ExchMs,
}

/// Parses response bodies with reusable scratch space.
#[derive(Debug)]
pub struct RestDecoder {
    scratch: JsonScratch,
    batch: Vec<BatchItem>,
}

impl Default for RestDecoder {
    fn default() -> Self {
        RestDecoder {
            scratch: JsonScratch::default(),
            batch: Vec::with_capacity(MAX_BATCH_LINEAR),
        }
    }
}

/// Checks the envelope; returns (`result` value, envelope `time`).
fn envelope<'t, 'i>(root: &Value<'t, 'i>) -> Result<(Object<'t, 'i>, ExchMs), RestError> {
    let o = root.as_object().ok_or(RestError::BadField("envelope"))?;
    let code = get_i64(&o, "retCode").ok_or(RestError::Missing("retCode"))?;
    if code != 0 {
        return Err(RestError::Api {
            code,
            msg: lossy_fixed(get_str(&o, "retMsg").unwrap_or("")),
        });
    }
    let time = o.get("time").and_then(|v| value_ms(&v)).unwrap_or_default();
    Ok((o, time))
}

fn result_obj<'t, 'i>(o: &Object<'t, 'i>, key: &'static str) -> Result<Object<'t, 'i>, RestError> {
    o.get(key)
        .ok_or(RestError::Missing(key))?
        .as_object()
        .ok_or(RestError::BadField(key))
}

fn cursor(o: &Object<'_, '_>) -> Option<String> {
    get_str(o, "nextPageCursor")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Reads `{orderId, orderLinkId}`.
pub(crate) fn decode_ack(r: &Object<'_, '_>, time: ExchMs) -> Result<OrderAck, RestError> {
    let id = get_str(r, "orderId").ok_or(RestError::Missing("orderId"))?;
    Ok(OrderAck {
        order_id: OrderId::new(id.as_bytes()).map_err(|_| RestError::BadField("orderId"))?,
        order_link_id: OrderLinkId::new(get_str(r, "orderLinkId").unwrap_or("").as_bytes())
            .map_err(|_| RestError::BadField("orderLinkId"))?,
        time,
    })
}

/// Pairs `result.list[i]` with `ext.list[i]` into `out`.
pub(crate) fn decode_batch_lists(
    result: &Object<'_, '_>,
    ext: Option<Object<'_, '_>>,
    out: &mut Vec<BatchItem>,
) -> Result<(), RestError> {
    out.clear();
    let list = result.get("list").ok_or(RestError::Missing("list"))?;
    let list = list.as_array().ok_or(RestError::BadField("list"))?;
    let ext_list = ext
        .as_ref()
        .and_then(|e| e.get("list"))
        .and_then(|l| l.as_array());
    let infos = ext_list.as_ref().map_or(0, |l| l.len());
    if infos != list.len() {
        return Err(RestError::BatchMismatch {
            results: list.len(),
            infos,
        });
    }
    let mut codes = ext_list.as_ref().map(|l| l.iter());
    for item in list.iter() {
        if out.len() >= MAX_BATCH_LINEAR {
            return Err(RestError::TooManyItems);
        }
        let r = item.as_object().ok_or(RestError::BadField("list"))?;
        let info = codes
            .as_mut()
            .and_then(|c| c.next())
            .ok_or(RestError::Missing("retExtInfo.list"))?;
        let info = info
            .as_object()
            .ok_or(RestError::BadField("retExtInfo.list"))?;
        let code = info
            .get("code")
            .and_then(|v| value_i64(&v))
            .ok_or(RestError::Missing("code"))?;
        let fx = |k: &'static str| -> Result<&str, RestError> { Ok(get_str(&r, k).unwrap_or("")) };
        out.push(BatchItem {
            symbol: Symbol::new(fx("symbol")?.as_bytes())
                .map_err(|_| RestError::BadField("symbol"))?,
            order_id: OrderId::new(fx("orderId")?.as_bytes())
                .map_err(|_| RestError::BadField("orderId"))?,
            order_link_id: OrderLinkId::new(fx("orderLinkId")?.as_bytes())
                .map_err(|_| RestError::BadField("orderLinkId"))?,
            create_at: r.get("createAt").and_then(|v| value_ms(&v)),
            code,
            msg: lossy_fixed(get_str(&info, "msg").unwrap_or("")),
        });
    }
    Ok(())
}

fn decimal_field(o: &Object<'_, '_>, k: &'static str) -> Result<Option<Decimal>, RestError> {
    opt_decimal(get_str(o, k)).map_err(|err| RestError::Unit { field: k, err })
}

fn lots_floor(step: Step, s: Option<&str>) -> Option<Lots> {
    s.filter(|s| !s.is_empty())
        .and_then(|s| step.count_floor(s.as_bytes()).ok())
        .map(Lots)
}

fn lots_ceil(step: Step, s: Option<&str>) -> Option<Lots> {
    let s = s.filter(|s| !s.is_empty())?;
    match step.count(s.as_bytes()) {
        Ok(c) => Some(Lots(c)),
        Err(UnitError::NotOnGrid) => step.count_floor(s.as_bytes()).ok().map(|c| Lots(c + 1)),
        Err(_) => None,
    }
}

fn decode_instrument(r: &Object<'_, '_>, category: Category) -> Result<InstrumentSpec, RestError> {
    let symbol = get_str(r, "symbol").ok_or(RestError::Missing("symbol"))?;
    let symbol = Symbol::new(symbol.as_bytes()).map_err(|_| RestError::BadField("symbol"))?;
    let pf = result_obj(r, "priceFilter")?;
    let lf = result_obj(r, "lotSizeFilter")?;
    let tick = get_str(&pf, "tickSize").ok_or(RestError::Missing("tickSize"))?;
    let price_step = Step::parse(tick).map_err(|err| RestError::Unit {
        field: "tickSize",
        err,
    })?;
    let (qk, qs) = match category {
        Category::Spot => ("basePrecision", get_str(&lf, "basePrecision")),
        Category::Linear => ("qtyStep", get_str(&lf, "qtyStep")),
    };
    let qty_step = Step::parse(qs.ok_or(RestError::Missing(qk))?)
        .map_err(|err| RestError::Unit { field: qk, err })?;
    let (max_key, po_key, notional_key) = match category {
        Category::Spot => (
            "maxLimitOrderQty",
            "postOnlyMaxLimitOrderSize",
            "minOrderAmt",
        ),
        Category::Linear => ("maxOrderQty", "postOnlyMaxOrderQty", "minNotionalValue"),
    };
    let max_qty = lots_floor(qty_step, get_str(&lf, max_key))
        .or_else(|| lots_floor(qty_step, get_str(&lf, "maxOrderQty")));
    Ok(InstrumentSpec {
        symbol,
        category,
        price_step,
        qty_step,
        min_qty: lots_ceil(qty_step, get_str(&lf, "minOrderQty")).unwrap_or(Lots::ZERO),
        max_qty,
        post_only_max_qty: lots_floor(qty_step, get_str(&lf, po_key)),
        min_notional: decimal_field(&lf, notional_key)?,
        base_coin: match get_str(r, "baseCoin") {
            None => Coin::default(),
            Some(c) => Coin::new(c.as_bytes()).map_err(|_| RestError::BadField("baseCoin"))?,
        },
    })
}

/// Decodes the `result.list` rows of a paged response for `inst` with `row`
/// (rows carry no `category`: the result's applies, else the instrument's).
/// Returns the kept rows, how many were for other instruments, and
/// `nextPageCursor`.
fn decode_page<T>(
    root: &Value<'_, '_>,
    inst: &InstrumentSpec,
    row: impl Fn(&Object<'_, '_>, &InstrumentSpec, Option<Category>) -> Result<Option<T>, PrivateError>,
) -> Result<(Vec<T>, usize, Option<String>), RestError> {
    let (o, _) = envelope(root)?;
    let r = result_obj(&o, "result")?;
    let cat = match get_str(&r, "category") {
        Some(c) => Category::parse(c.as_bytes()),
        None => Some(inst.category),
    };
    let list = r.get("list").ok_or(RestError::Missing("list"))?;
    let list = list.as_array().ok_or(RestError::BadField("list"))?;
    let mut rows = Vec::with_capacity(list.len());
    let mut skipped = 0;
    for v in list.iter() {
        let o = v.as_object().ok_or(RestError::BadField("list"))?;
        match row(&o, inst, cat)? {
            Some(x) => rows.push(x),
            None => skipped += 1,
        }
    }
    Ok((rows, skipped, cursor(&r)))
}

impl RestDecoder {
    /// A decoder with warm scratch space.
    pub fn new() -> RestDecoder {
        RestDecoder::default()
    }

    fn run<'a, R>(
        &mut self,
        body: &'a mut [u8],
        f: impl FnOnce(Value<'_, 'a>, &mut Vec<BatchItem>) -> Result<R, RestError>,
    ) -> Result<R, RestError> {
        let batch = &mut self.batch;
        self.scratch
            .with(body, |v| f(v, batch))
            .ok_or(RestError::Json)?
    }

    /// Checks only the envelope (`retCode`), returning the server `time`.
    pub fn decode_empty(&mut self, body: &mut [u8]) -> Result<ExchMs, RestError> {
        self.run(body, |root, _| envelope(&root).map(|(_, t)| t))
    }

    /// Create / amend / cancel acknowledgement. Allocation-free after warm-up.
    pub fn decode_ack(&mut self, body: &mut [u8]) -> Result<OrderAck, RestError> {
        self.run(body, |root, _| {
            let (o, time) = envelope(&root)?;
            decode_ack(&result_obj(&o, "result")?, time)
        })
    }

    /// Batch create/amend/cancel: index-aligned items with per-item codes.
    /// `retCode 0` with failed items is **not** an error — inspect each item.
    pub fn decode_batch(&mut self, body: &mut [u8]) -> Result<&[BatchItem], RestError> {
        self.run(body, |root, batch| {
            let (o, _) = envelope(&root)?;
            let ext = o.get("retExtInfo").and_then(|v| v.as_object());
            decode_batch_lists(&result_obj(&o, "result")?, ext, batch)
        })?;
        Ok(&self.batch)
    }

    /// `cancel-all`.
    pub fn decode_cancel_all(&mut self, body: &mut [u8]) -> Result<CancelAllResult, RestError> {
        self.run(body, |root, _| {
            let (o, _) = envelope(&root)?;
            let r = result_obj(&o, "result")?;
            let list = r.get("list").ok_or(RestError::Missing("list"))?;
            let list = list.as_array().ok_or(RestError::BadField("list"))?;
            let mut cancelled = Vec::with_capacity(list.len());
            for v in list.iter() {
                let item = v.as_object().ok_or(RestError::BadField("list"))?;
                let a = decode_ack(&item, ExchMs(0))?;
                cancelled.push((a.order_id, a.order_link_id));
            }
            let success = match get_str(&r, "success") {
                Some("1") | None => true,
                Some("0") => false,
                Some(_) => return Err(RestError::BadField("success")),
            };
            Ok(CancelAllResult { success, cancelled })
        })
    }

    /// `GET /v5/order/realtime` (or `/history`) rows for `inst`.
    pub fn decode_orders(
        &mut self,
        body: &mut [u8],
        inst: &InstrumentSpec,
    ) -> Result<OrdersPage, RestError> {
        self.run(body, |root, _| {
            let (orders, skipped, next_cursor) = decode_page(&root, inst, decode_order)?;
            Ok(OrdersPage {
                orders,
                skipped,
                next_cursor,
            })
        })
    }

    /// `GET /v5/execution/list` rows for `inst` (rows carry no `category`;
    /// the response's applies). A row off the instrument's grid (for a
    /// `Trade`), lacking a required field or with an invalid value fails the
    /// page with [`RestError::Record`]; a non-zero `retCode` is
    /// [`RestError::Api`].
    pub fn decode_executions(
        &mut self,
        body: &mut [u8],
        inst: &InstrumentSpec,
    ) -> Result<ExecutionPage, RestError> {
        self.run(body, |root, _| {
            let (executions, skipped, next_cursor) =
                decode_page(&root, inst, |r, i, c| decode_execution(r, i, false, c))?;
            Ok(ExecutionPage {
                executions,
                skipped,
                next_cursor,
            })
        })
    }

    /// `GET /v5/position/list` rows for `inst`.
    pub fn decode_positions(
        &mut self,
        body: &mut [u8],
        inst: &InstrumentSpec,
    ) -> Result<PositionsPage, RestError> {
        self.run(body, |root, _| {
            let (positions, skipped, next_cursor) = decode_page(&root, inst, decode_position)?;
            Ok(PositionsPage {
                positions,
                skipped,
                next_cursor,
            })
        })
    }

    /// `GET /v5/account/wallet-balance`.
    pub fn decode_wallet(&mut self, body: &mut [u8]) -> Result<WalletBalance, RestError> {
        self.run(body, |root, _| {
            let (o, _) = envelope(&root)?;
            let r = result_obj(&o, "result")?;
            let list = r.get("list").ok_or(RestError::Missing("list"))?;
            let mut coins = Vec::new();
            let account = decode_wallet_list(&list, &mut coins, usize::MAX)?;
            Ok(WalletBalance { account, coins })
        })
    }

    /// `GET /v5/market/instruments-info` for `category` (the response's own
    /// `category` is not always present).
    pub fn decode_instruments(
        &mut self,
        body: &mut [u8],
        category: Category,
    ) -> Result<InstrumentsPage, RestError> {
        self.run(body, |root, _| {
            let (o, _) = envelope(&root)?;
            let r = result_obj(&o, "result")?;
            let list = r.get("list").ok_or(RestError::Missing("list"))?;
            let list = list.as_array().ok_or(RestError::BadField("list"))?;
            let mut specs = Vec::with_capacity(list.len());
            let mut skipped = 0;
            for v in list.iter() {
                let row = v.as_object().ok_or(RestError::BadField("list"))?;
                match decode_instrument(&row, category) {
                    Ok(s) => specs.push(s),
                    Err(_) => skipped += 1,
                }
            }
            Ok(InstrumentsPage {
                specs,
                skipped,
                next_cursor: cursor(&r),
            })
        })
    }

    /// `GET /v5/market/time`.
    pub fn decode_server_time(&mut self, body: &mut [u8]) -> Result<ServerTime, RestError> {
        self.run(body, |root, _| {
            let (o, time) = envelope(&root)?;
            let r = result_obj(&o, "result")?;
            let num = |k: &'static str| -> Result<u64, RestError> {
                let s = get_str(&r, k).ok_or(RestError::Missing(k))?;
                super::json::parse_u64(s.as_bytes()).ok_or(RestError::BadField(k))
            };
            Ok(ServerTime {
                time_second: num("timeSecond")?,
                time_nano: num("timeNano")?,
                time,
            })
        })
    }
}
