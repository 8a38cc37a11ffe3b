//! Public WebSocket codec: `orderbook.{depth}.{symbol}`, `publicTrade.{symbol}`,
//! subscribe acks, pongs and other `op` replies in; subscribe / unsubscribe /
//! ping requests out.
//!
//! Contract:
//! - Sans-I/O: [`PublicDecoder::decode`] takes one complete WebSocket text
//!   payload as bytes; the encoders write into a caller-owned `Vec<u8>`.
//! - Allocation: every buffer (padded input copy, simd-json `Buffers` and
//!   `Tape`, level, trade and topic slices) is reserved in
//!   [`PublicDecoder::with_limits`], which also parses a synthetic worst-case
//!   snapshot and trade batch once so simd-json's internal index vectors reach
//!   their working size. After construction, decoding allocates nothing for any
//!   frame up to [`Limits::max_frame_bytes`] whose structure is no denser than a
//!   `max_levels_per_side` snapshot or a `max_trades` batch (a denser legal
//!   frame grows simd-json's scratch once; the growth is kept). If the limits
//!   are so small that the synthetic frames exceed `max_frame_bytes`, that
//!   warm-up is skipped and the first large frame does the growing.
//!   Encoders allocate only if `out` lacks capacity.
//! - Never blocks, never panics on input, reads no clock. Times are the
//!   exchange's milliseconds ([`ExchMs`]).
//! - Prices and sizes go from the JSON decimal strings straight to [`Ticks`] /
//!   [`Lots`] with the instrument's [`Step`]s; no `f64` anywhere.
//! - Keys may come in any order; `ts` / `T` may be a JSON number or a string of
//!   digits; `cts` is optional. Book messages in Bybit's exact layout skip the
//!   copy and the tape: a one-pass scan (module `book_scan`) reads them and
//!   hands anything it is unsure of to the general path, which it agrees with
//!   (property-tested).
//! - A failed decode returns a typed [`PublicError`], yields no event and leaves
//!   the decoder ready for the next frame.
//!
//! Messages on topics this decoder does not cover (`orderbook.rpi.*`,
//! `orderbook.full.*`, `tickers.*`, …) are [`PublicError::UnknownTopic`], and
//! books or trades of another symbol are [`PublicError::WrongSymbol`]: the
//! caller subscribed to neither, so seeing one is worth counting, not acting on.

use std::fmt;

use simd_json::{Node, StaticNode, Tape};

use super::book_scan::{scan_book, BookHead, ScanSpec};
use crate::ids::{FixedStr, IdError, Seq, Symbol, UpdateId};
use crate::time::ExchMs;
use crate::units::{Lots, Side, Step, Ticks, UnitError};

/// One price level: a price in ticks and the absolute size at it (`0` deletes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    /// Price in ticks.
    pub price: Ticks,
    /// Absolute size in lots; zero means "remove this level".
    pub qty: Lots,
}

/// Whether an order-book message replaces the book or patches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookKind {
    /// Replaces the whole book.
    Snapshot,
    /// Patches levels; sizes are absolute.
    Delta,
}

/// A decoded `orderbook.{depth}.{symbol}` message. The level slices borrow the
/// decoder's reusable scratch space and are valid until the next decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BookUpdate<'a> {
    /// Snapshot or delta.
    pub kind: BookKind,
    /// Depth from the topic (`orderbook.50.X` → 50).
    pub depth: u16,
    /// Symbol from the topic / `data.s`.
    pub symbol: Symbol,
    /// Update id `u`.
    pub u: UpdateId,
    /// Cross sequence `seq`.
    pub seq: Seq,
    /// Message time `ts`.
    pub ts: ExchMs,
    /// Matching-engine time `cts` (absent in some archive lines).
    pub cts: Option<ExchMs>,
    /// Bid levels in message order.
    pub bids: &'a [Level],
    /// Ask levels in message order.
    pub asks: &'a [Level],
}

/// Public trade id (`i`): a UUID on derivatives, a decimal string on spot.
pub type TradeId = FixedStr<40>;

/// A WebSocket topic name (`orderbook.50.BTCUSDT`, `publicTrade.BTCUSDT`).
pub type Topic = FixedStr<64>;

/// Tick direction `L` of a derivatives trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickDirection {
    /// Price rose.
    PlusTick,
    /// Same price as the previous trade, which was a rise.
    ZeroPlusTick,
    /// Price fell.
    MinusTick,
    /// Same price as the previous trade, which was a fall.
    ZeroMinusTick,
}

impl TickDirection {
    fn parse(s: &[u8]) -> Option<TickDirection> {
        match s {
            b"PlusTick" => Some(TickDirection::PlusTick),
            b"ZeroPlusTick" => Some(TickDirection::ZeroPlusTick),
            b"MinusTick" => Some(TickDirection::MinusTick),
            b"ZeroMinusTick" => Some(TickDirection::ZeroMinusTick),
            _ => None,
        }
    }
}

/// One public trade from a `publicTrade.{symbol}` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    /// Fill time `T`.
    pub time: ExchMs,
    /// Taker side `S`.
    pub taker_side: Side,
    /// Price `p` in ticks.
    pub price: Ticks,
    /// Size `v` in lots.
    pub qty: Lots,
    /// Trade id `i`.
    pub id: TradeId,
    /// Cross sequence `seq` (absent in some captures).
    pub seq: Option<Seq>,
    /// Block trade `BT` (false when absent).
    pub block_trade: bool,
    /// Retail price improvement trade `RPI` (false when absent).
    pub rpi: bool,
    /// Tick direction `L` (derivatives only).
    pub tick: Option<TickDirection>,
}

/// A decoded `publicTrade.{symbol}` message. `trades` borrows the decoder's
/// scratch space and is valid until the next decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeBatch<'a> {
    /// Symbol from the topic.
    pub symbol: Symbol,
    /// Message time `ts`.
    pub ts: ExchMs,
    /// Trades in message order (fill time ascending).
    pub trades: &'a [Trade],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn text(self, buf: &[u8]) -> &str {
        let start = self.start as usize;
        let end = start.saturating_add(self.len as usize);
        // simd-json validated the frame as UTF-8 and the span covers one whole
        // string, so neither fallback is reachable.
        std::str::from_utf8(buf.get(start..end).unwrap_or(b"")).unwrap_or("")
    }
}

/// A list of topic names borrowed from the decoded frame (`successTopics` /
/// `failTopics` of an option-style subscribe ack).
#[derive(Clone, Copy)]
pub struct Topics<'a> {
    buf: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Topics<'a> {
    /// Number of topics.
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    /// The `i`-th topic.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let buf = self.buf;
        self.spans.get(i).map(|s| s.text(buf))
    }
    /// The topics in message order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let buf = self.buf;
        self.spans.iter().map(move |s| s.text(buf))
    }
}

impl fmt::Debug for Topics<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Topics<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

/// A subscribe acknowledgement, in any of Bybit's shapes: private / spot /
/// linear (`op: "subscribe"`, `success`, `ret_msg`, `conn_id`, optional
/// `req_id`) or option / spread (`type: "COMMAND_RESP"` with per-topic lists;
/// that shape carries no `op`, so an option-stream unsubscribe reply would also
/// land here). Strings borrow the decoder's copy of the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubscribeAck<'a> {
    /// `success`.
    pub success: bool,
    /// `op` (`None` for the `COMMAND_RESP` shape).
    pub op: Option<&'a str>,
    /// `ret_msg` (`""` when absent); the error text when `success` is false.
    pub ret_msg: &'a str,
    /// `conn_id` (`""` when absent).
    pub conn_id: &'a str,
    /// `req_id` as echoed (absent on private streams).
    pub req_id: Option<&'a str>,
    /// `data.successTopics` (empty for the other shapes).
    pub success_topics: Topics<'a>,
    /// `data.failTopics` (empty for the other shapes).
    pub fail_topics: Topics<'a>,
}

/// A pong, in any of Bybit's shapes (detected by `op == "pong"` or
/// `ret_msg == "pong"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pong<'a> {
    /// `op` as sent (`"ping"` on spot/linear, `"pong"` on option/private).
    pub op: &'a str,
    /// `success` where present.
    pub success: Option<bool>,
    /// `req_id` where present.
    pub req_id: Option<&'a str>,
    /// `conn_id` where present.
    pub conn_id: Option<&'a str>,
    /// Server time from `args[0]` (option and private shapes).
    pub server_ms: Option<ExchMs>,
}

/// Any other `op` reply (`unsubscribe`, `auth`, …), in snake_case or camelCase
/// field spelling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpReply<'a> {
    /// `op`.
    pub op: &'a str,
    /// `success` where present.
    pub success: Option<bool>,
    /// `retCode` where present.
    pub ret_code: Option<i64>,
    /// `ret_msg` / `retMsg` (`""` when absent).
    pub ret_msg: &'a str,
    /// `req_id` / `reqId` where present.
    pub req_id: Option<&'a str>,
    /// `conn_id` / `connId` where present.
    pub conn_id: Option<&'a str>,
}

/// One decoded public-stream message. Borrowed parts live in the decoder and
/// are valid until its next `decode`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PublicEvent<'a> {
    /// `orderbook.{depth}.{symbol}` snapshot or delta.
    Book(BookUpdate<'a>),
    /// `publicTrade.{symbol}`.
    Trades(TradeBatch<'a>),
    /// Subscribe acknowledgement (success or failure).
    SubscribeAck(SubscribeAck<'a>),
    /// Reply to an application-level ping.
    Pong(Pong<'a>),
    /// Any other `op` reply.
    OpReply(OpReply<'a>),
}

/// What was wrong with a public-stream frame (or with a request to encode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicError {
    /// The frame is longer than [`Limits::max_frame_bytes`].
    TooLong,
    /// Not valid JSON (malformed, truncated, bad UTF-8).
    Json,
    /// Valid JSON but not an object at the top level.
    NotObject,
    /// A required field is missing.
    MissingField(&'static str),
    /// A field has the wrong JSON type (or a level is not `[price, size]`).
    WrongType(&'static str),
    /// A numeric field is not a non-negative integer that fits in 64 bits.
    BadNumber(&'static str),
    /// A field holds a value outside its allowed set.
    BadValue(&'static str),
    /// `type` is neither `snapshot` nor `delta`.
    BadKind,
    /// A topic this decoder does not handle.
    UnknownTopic,
    /// A message for a symbol other than the decoder's.
    WrongSymbol,
    /// A price string that is not a whole number of ticks.
    BadPrice(UnitError),
    /// A size string that is not a whole number of lots.
    BadQty(UnitError),
    /// A trade id that is too long or has unprintable characters.
    BadTradeId,
    /// More levels on one side than [`Limits::max_levels_per_side`].
    TooManyLevels,
    /// More trades than [`Limits::max_trades`].
    TooManyTrades,
    /// More topics in an ack than [`Limits::max_topics`].
    TooManyTopics,
    /// An object with neither `topic` nor `op` nor `type: COMMAND_RESP`.
    Unrecognised,
    /// Encoder input that cannot be written as a plain JSON string.
    Unencodable(&'static str),
}

impl fmt::Display for PublicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicError::TooLong => f.write_str("frame is longer than the decoder's limit"),
            PublicError::Json => f.write_str("frame is not valid JSON"),
            PublicError::NotObject => f.write_str("frame is not a JSON object"),
            PublicError::MissingField(k) => write!(f, "required field `{k}` is missing"),
            PublicError::WrongType(k) => write!(f, "field `{k}` has the wrong JSON type"),
            PublicError::BadNumber(k) => {
                write!(f, "field `{k}` is not a non-negative 64-bit integer")
            }
            PublicError::BadValue(k) => write!(f, "field `{k}` has an unexpected value"),
            PublicError::BadKind => f.write_str("`type` is neither snapshot nor delta"),
            PublicError::UnknownTopic => f.write_str("topic is not handled by this decoder"),
            PublicError::WrongSymbol => f.write_str("message is for a different symbol"),
            PublicError::BadPrice(e) => write!(f, "bad price: {e}"),
            PublicError::BadQty(e) => write!(f, "bad size: {e}"),
            PublicError::BadTradeId => f.write_str("trade id is too long or not printable"),
            PublicError::TooManyLevels => f.write_str("more levels on one side than the limit"),
            PublicError::TooManyTrades => f.write_str("more trades than the limit"),
            PublicError::TooManyTopics => f.write_str("more topics in the ack than the limit"),
            PublicError::Unrecognised => f.write_str("object is not a known public message"),
            PublicError::Unencodable(k) => {
                write!(f, "{k} contains a quote, backslash or control character")
            }
        }
    }
}

impl std::error::Error for PublicError {}

/// Capacities fixed at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted frame in bytes (default 1 MiB).
    pub max_frame_bytes: usize,
    /// Most levels accepted on one side of a book message (default 1024).
    pub max_levels_per_side: usize,
    /// Most trades accepted in one `publicTrade` message (default 1024, Bybit's cap).
    pub max_trades: usize,
    /// Most topics accepted in an ack's success + fail lists (default 256).
    pub max_topics: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 1 << 20,
            max_levels_per_side: 1024,
            max_trades: 1024,
            max_topics: 256,
        }
    }
}

/// Reusable decoder for one symbol's public stream. See the module docs for
/// the allocation contract.
pub struct PublicDecoder {
    symbol: Symbol,
    price: Step,
    qty: Step,
    limits: Limits,
    /// Frame copy; its length is fixed at `max_frame_bytes + INPUT_PADDING`.
    buf: Vec<u8>,
    buffers: simd_json::Buffers,
    /// Always empty between calls; `'static` only because it holds nothing.
    tape: Tape<'static>,
    bids: Vec<Level>,
    asks: Vec<Level>,
    trades: Vec<Trade>,
    topics: Vec<Span>,
}

impl fmt::Debug for PublicDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicDecoder")
            .field("symbol", &self.symbol)
            .field("price", &self.price)
            .field("qty", &self.qty)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl PublicDecoder {
    /// A decoder with default [`Limits`].
    pub fn new(symbol: Symbol, price: Step, qty: Step) -> PublicDecoder {
        Self::with_limits(symbol, price, qty, Limits::default())
    }

    /// A decoder with explicit capacities. Allocates everything it will ever
    /// use (see the module docs).
    pub fn with_limits(symbol: Symbol, price: Step, qty: Step, limits: Limits) -> PublicDecoder {
        let levels = limits.max_levels_per_side;
        // Nodes: 3 per level, ~22 per trade, plus the envelope.
        let nodes = (levels * 6)
            .max(limits.max_trades * 24)
            .max(limits.max_topics)
            + 64;
        let mut d = PublicDecoder {
            symbol,
            price,
            qty,
            limits,
            buf: vec![0u8; limits.max_frame_bytes + simd_json::INPUT_PADDING],
            buffers: simd_json::Buffers::new(limits.max_frame_bytes),
            tape: Tape(Vec::with_capacity(nodes)),
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
            trades: Vec::with_capacity(limits.max_trades),
            topics: Vec::with_capacity(limits.max_topics),
        };
        d.warm_up();
        d
    }

    /// Parses a synthetic full-size snapshot and trade batch so simd-json's
    /// index and stack vectors reach working size now, not on the hot path.
    fn warm_up(&mut self) {
        let sym = self.symbol;
        let mut f = Vec::with_capacity(64 * self.limits.max_levels_per_side + 1024);
        f.extend_from_slice(b"{\"topic\":\"orderbook.1000.");
        f.extend_from_slice(sym.as_bytes());
        f.extend_from_slice(b"\",\"type\":\"snapshot\",\"ts\":1,\"data\":{\"s\":\"");
        f.extend_from_slice(sym.as_bytes());
        for side in [b"\",\"b\":[" as &[u8], b"],\"a\":["] {
            f.extend_from_slice(side);
            for i in 0..self.limits.max_levels_per_side {
                if i > 0 {
                    f.push(b',');
                }
                f.extend_from_slice(b"[\"1\",\"1\"]");
            }
        }
        f.extend_from_slice(b"],\"u\":1,\"seq\":1},\"cts\":1}");
        let _ = self.decode(&f);

        f.clear();
        f.extend_from_slice(b"{\"topic\":\"publicTrade.");
        f.extend_from_slice(sym.as_bytes());
        f.extend_from_slice(b"\",\"type\":\"snapshot\",\"ts\":1,\"data\":[");
        for i in 0..self.limits.max_trades {
            if i > 0 {
                f.push(b',');
            }
            f.extend_from_slice(b"{\"T\":1,\"s\":\"");
            f.extend_from_slice(sym.as_bytes());
            f.extend_from_slice(
                b"\",\"S\":\"Buy\",\"v\":\"1\",\"p\":\"1\",\"L\":\"PlusTick\",\"i\":\"1\",\"BT\":false,\"RPI\":false,\"seq\":1}",
            );
        }
        f.extend_from_slice(b"]}");
        let _ = self.decode(&f);
    }

    /// The symbol this decoder accepts.
    pub fn symbol(&self) -> Symbol {
        self.symbol
    }

    /// The capacities fixed at construction.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Decodes one WebSocket text payload. The event borrows the decoder until
    /// the next call. On error nothing is emitted and the decoder stays usable.
    ///
    /// A book message in Bybit's exact layout takes a one-pass fast path
    /// (module `book_scan`); everything else, and anything that path is not
    /// sure of, goes through the general simd-json decoder.
    pub fn decode<'s>(&'s mut self, frame: &[u8]) -> Result<PublicEvent<'s>, PublicError> {
        if frame.len() > self.limits.max_frame_bytes {
            return Err(PublicError::TooLong);
        }
        if let Some(h) = self.scan_head(frame) {
            return Ok(PublicEvent::Book(self.book_event(h)));
        }
        self.decode_general(frame)
    }

    /// The fast path alone: the book if `frame` is in Bybit's layout.
    fn scan_head(&mut self, frame: &[u8]) -> Option<BookHead> {
        let symbol = self.symbol;
        let spec = ScanSpec {
            symbol: symbol.as_bytes(),
            price: self.price,
            qty: self.qty,
            max_levels: self.limits.max_levels_per_side,
        };
        scan_book(frame, &spec, &mut self.bids, &mut self.asks)
    }

    fn book_event(&self, h: BookHead) -> BookUpdate<'_> {
        BookUpdate {
            kind: h.kind,
            depth: h.depth,
            symbol: self.symbol,
            u: UpdateId(h.u),
            seq: Seq(h.seq),
            ts: ExchMs(h.ts),
            cts: h.cts.map(ExchMs),
            bids: &self.bids,
            asks: &self.asks,
        }
    }

    /// The fast path alone, for tests comparing it with [`Self::decode_general`].
    #[cfg(test)]
    pub(super) fn scan_only(&mut self, frame: &[u8]) -> Option<BookUpdate<'_>> {
        let h = self.scan_head(frame)?;
        Some(self.book_event(h))
    }

    /// The general decoder: simd-json tape, any key order and spelling.
    pub(super) fn decode_general<'s>(
        &'s mut self,
        frame: &[u8],
    ) -> Result<PublicEvent<'s>, PublicError> {
        let len = frame.len();
        if len > self.limits.max_frame_bytes {
            return Err(PublicError::TooLong);
        }
        let PublicDecoder {
            symbol,
            price,
            qty,
            limits,
            buf,
            buffers,
            tape: tape_slot,
            bids,
            asks,
            trades,
            topics,
        } = self;
        let dst = buf.get_mut(..len).ok_or(PublicError::TooLong)?;
        dst.copy_from_slice(frame);
        let base = buf.as_ptr() as usize;

        let mut tape = std::mem::replace(tape_slot, Tape(Vec::new())).reset();
        let res = match simd_json::fill_tape_padded(buf.as_mut_slice(), len, buffers, &mut tape) {
            Ok(()) => {
                let mut cx = Walk {
                    nodes: &tape.0,
                    base,
                    len,
                    symbol: *symbol,
                    price: *price,
                    qty: *qty,
                    limits: *limits,
                    bids,
                    asks,
                    trades,
                    topics,
                };
                cx.message()
            }
            Err(_) => Err(PublicError::Json),
        };
        *tape_slot = tape.reset();
        let parsed = res?;

        let buf: &'s [u8] = buf.as_slice();
        let opt = |s: Option<Span>| s.map(|s| s.text(buf));
        Ok(match parsed {
            Parsed::Book {
                kind,
                depth,
                u,
                seq,
                ts,
                cts,
            } => PublicEvent::Book(BookUpdate {
                kind,
                depth,
                symbol: *symbol,
                u,
                seq,
                ts,
                cts,
                bids: bids.as_slice(),
                asks: asks.as_slice(),
            }),
            Parsed::Trades { ts } => PublicEvent::Trades(TradeBatch {
                symbol: *symbol,
                ts,
                trades: trades.as_slice(),
            }),
            Parsed::Ack {
                success,
                op,
                ret_msg,
                conn_id,
                req_id,
                n_success,
            } => {
                let (ok, fail) = topics.split_at(n_success.min(topics.len()));
                PublicEvent::SubscribeAck(SubscribeAck {
                    success,
                    op: opt(op),
                    ret_msg: opt(ret_msg).unwrap_or(""),
                    conn_id: opt(conn_id).unwrap_or(""),
                    req_id: opt(req_id),
                    success_topics: Topics { buf, spans: ok },
                    fail_topics: Topics { buf, spans: fail },
                })
            }
            Parsed::Pong {
                op,
                success,
                req_id,
                conn_id,
                server_ms,
            } => PublicEvent::Pong(Pong {
                op: op.text(buf),
                success,
                req_id: opt(req_id),
                conn_id: opt(conn_id),
                server_ms,
            }),
            Parsed::Op {
                op,
                success,
                ret_code,
                ret_msg,
                req_id,
                conn_id,
            } => PublicEvent::OpReply(OpReply {
                op: op.text(buf),
                success,
                ret_code,
                ret_msg: opt(ret_msg).unwrap_or(""),
                req_id: opt(req_id),
                conn_id: opt(conn_id),
            }),
        })
    }
}

/// What the tape walk found, with strings as spans into the frame copy.
enum Parsed {
    Book {
        kind: BookKind,
        depth: u16,
        u: UpdateId,
        seq: Seq,
        ts: ExchMs,
        cts: Option<ExchMs>,
    },
    Trades {
        ts: ExchMs,
    },
    Ack {
        success: bool,
        op: Option<Span>,
        ret_msg: Option<Span>,
        conn_id: Option<Span>,
        req_id: Option<Span>,
        n_success: usize,
    },
    Pong {
        op: Span,
        success: Option<bool>,
        req_id: Option<Span>,
        conn_id: Option<Span>,
        server_ms: Option<ExchMs>,
    },
    Op {
        op: Span,
        success: Option<bool>,
        ret_code: Option<i64>,
        ret_msg: Option<Span>,
        req_id: Option<Span>,
        conn_id: Option<Span>,
    },
}

/// Node indices of the top-level fields we look at.
#[derive(Default)]
struct TopFields {
    topic: Option<usize>,
    kind: Option<usize>,
    ts: Option<usize>,
    cts: Option<usize>,
    data: Option<usize>,
    op: Option<usize>,
    success: Option<usize>,
    ret_msg: Option<usize>,
    conn_id: Option<usize>,
    req_id: Option<usize>,
    args: Option<usize>,
    ret_code: Option<usize>,
}

struct Walk<'w, 't> {
    nodes: &'w [Node<'t>],
    base: usize,
    len: usize,
    symbol: Symbol,
    price: Step,
    qty: Step,
    limits: Limits,
    bids: &'w mut Vec<Level>,
    asks: &'w mut Vec<Level>,
    trades: &'w mut Vec<Trade>,
    topics: &'w mut Vec<Span>,
}

/// Index of the node after the value starting at `i`.
#[inline]
fn skip(nodes: &[Node<'_>], i: usize) -> usize {
    match nodes.get(i) {
        Some(Node::Object { count, .. }) | Some(Node::Array { count, .. }) => {
            i.saturating_add(1).saturating_add(*count)
        }
        _ => i.saturating_add(1),
    }
}

/// Parses ASCII digits into a `u64`.
fn digits_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

impl<'t> Walk<'_, 't> {
    #[inline]
    fn node(&self, i: usize) -> Result<Node<'t>, PublicError> {
        self.nodes.get(i).copied().ok_or(PublicError::Json)
    }

    #[inline]
    fn str_at(&self, i: usize, field: &'static str) -> Result<&'t str, PublicError> {
        match self.node(i)? {
            Node::String(s) => Ok(s),
            _ => Err(PublicError::WrongType(field)),
        }
    }

    /// A non-negative integer given as a JSON number or a string of digits.
    fn u64_at(&self, i: usize, field: &'static str) -> Result<u64, PublicError> {
        match self.node(i)? {
            Node::Static(StaticNode::U64(v)) => Ok(v),
            Node::Static(StaticNode::I64(v)) => {
                u64::try_from(v).map_err(|_| PublicError::BadNumber(field))
            }
            Node::String(s) => digits_u64(s.as_bytes()).ok_or(PublicError::BadNumber(field)),
            Node::Static(StaticNode::F64(_)) => Err(PublicError::BadNumber(field)),
            _ => Err(PublicError::WrongType(field)),
        }
    }

    fn bool_at(&self, i: usize, field: &'static str) -> Result<bool, PublicError> {
        match self.node(i)? {
            Node::Static(StaticNode::Bool(b)) => Ok(b),
            _ => Err(PublicError::WrongType(field)),
        }
    }

    fn i64_at(&self, i: usize, field: &'static str) -> Result<i64, PublicError> {
        match self.node(i)? {
            Node::Static(StaticNode::I64(v)) => Ok(v),
            Node::Static(StaticNode::U64(v)) => {
                i64::try_from(v).map_err(|_| PublicError::BadNumber(field))
            }
            _ => Err(PublicError::WrongType(field)),
        }
    }

    /// Span of a string node inside the frame copy.
    fn span_at(&self, i: usize, field: &'static str) -> Result<Span, PublicError> {
        let s = self.str_at(i, field)?;
        let off = (s.as_ptr() as usize).wrapping_sub(self.base);
        if s.is_empty() {
            return Ok(Span::default());
        }
        match off.checked_add(s.len()) {
            Some(end) if off < self.len && end <= self.len => Ok(Span {
                start: off as u32,
                len: s.len() as u32,
            }),
            // simd-json unescapes in place when given a padded buffer; a
            // string elsewhere would be a library change we refuse to guess at.
            _ => Err(PublicError::WrongType(field)),
        }
    }

    fn opt_span(&self, i: Option<usize>, field: &'static str) -> Result<Option<Span>, PublicError> {
        i.map(|i| self.span_at(i, field)).transpose()
    }

    /// Calls `f(key, value_index)` for each member of the object at `i`.
    fn members(
        &mut self,
        i: usize,
        field: &'static str,
        mut f: impl FnMut(&mut Self, &'t str, usize) -> Result<(), PublicError>,
    ) -> Result<(), PublicError> {
        let n = match self.node(i)? {
            Node::Object { len, .. } => len,
            _ => return Err(PublicError::WrongType(field)),
        };
        let mut j = i + 1;
        for _ in 0..n {
            let key = self.str_at(j, field)?;
            let v = j + 1;
            f(self, key, v)?;
            j = skip(self.nodes, v);
        }
        Ok(())
    }

    fn message(&mut self) -> Result<Parsed, PublicError> {
        if !matches!(self.node(0)?, Node::Object { .. }) {
            return Err(PublicError::NotObject);
        }
        let mut t = TopFields::default();
        self.members(0, "message", |_, k, v| {
            let slot = match k {
                "topic" => &mut t.topic,
                "type" => &mut t.kind,
                "ts" => &mut t.ts,
                "cts" => &mut t.cts,
                "data" => &mut t.data,
                "op" => &mut t.op,
                "success" => &mut t.success,
                "ret_msg" | "retMsg" => &mut t.ret_msg,
                "conn_id" | "connId" => &mut t.conn_id,
                "req_id" | "reqId" => &mut t.req_id,
                "args" => &mut t.args,
                "retCode" => &mut t.ret_code,
                _ => return Ok(()),
            };
            *slot = Some(v);
            Ok(())
        })?;

        if let Some(ti) = t.topic {
            let topic = self.str_at(ti, "topic")?.as_bytes();
            if let Some(rest) = topic.strip_prefix(b"orderbook.") {
                let dot = rest
                    .iter()
                    .position(|&b| b == b'.')
                    .ok_or(PublicError::UnknownTopic)?;
                let (d, sym) = rest.split_at(dot);
                let depth = digits_u64(d)
                    .and_then(|d| u16::try_from(d).ok())
                    .ok_or(PublicError::UnknownTopic)?;
                if sym.get(1..) != Some(self.symbol.as_bytes()) {
                    return Err(PublicError::WrongSymbol);
                }
                return self.book(&t, depth);
            }
            if let Some(sym) = topic.strip_prefix(b"publicTrade.") {
                if sym != self.symbol.as_bytes() {
                    return Err(PublicError::WrongSymbol);
                }
                return self.trades(&t);
            }
            return Err(PublicError::UnknownTopic);
        }

        let op = t.op.map(|i| self.str_at(i, "op")).transpose()?;
        let ret_msg = t.ret_msg.map(|i| self.str_at(i, "ret_msg")).transpose()?;
        let success = t.success.map(|i| self.bool_at(i, "success")).transpose()?;
        let is_cmd_resp = match t.kind {
            Some(i) => self.str_at(i, "type")? == "COMMAND_RESP",
            None => false,
        };
        if op == Some("pong") || ret_msg == Some("pong") {
            let server_ms = match t.args {
                Some(a) => match self.node(a)? {
                    Node::Array { len, .. } if len > 0 => Some(ExchMs(self.u64_at(a + 1, "args")?)),
                    Node::Array { .. } => None,
                    _ => return Err(PublicError::WrongType("args")),
                },
                None => None,
            };
            let op = match t.op {
                Some(i) => self.span_at(i, "op")?,
                None => Span::default(),
            };
            return Ok(Parsed::Pong {
                op,
                success,
                req_id: self.opt_span(t.req_id, "req_id")?,
                conn_id: self.opt_span(t.conn_id, "conn_id")?,
                server_ms,
            });
        }
        if op == Some("subscribe") || is_cmd_resp {
            let success = success.ok_or(PublicError::MissingField("success"))?;
            self.topics.clear();
            let mut n_success = 0;
            if let (true, Some(d)) = (is_cmd_resp, t.data) {
                let mut ok_i = None;
                let mut fail_i = None;
                self.members(d, "data", |_, k, v| {
                    match k {
                        "successTopics" => ok_i = Some(v),
                        "failTopics" => fail_i = Some(v),
                        _ => {}
                    }
                    Ok(())
                })?;
                if let Some(i) = ok_i {
                    self.topic_list(i, "successTopics")?;
                }
                n_success = self.topics.len();
                if let Some(i) = fail_i {
                    self.topic_list(i, "failTopics")?;
                }
            }
            return Ok(Parsed::Ack {
                success,
                op: self.opt_span(t.op, "op")?,
                ret_msg: self.opt_span(t.ret_msg, "ret_msg")?,
                conn_id: self.opt_span(t.conn_id, "conn_id")?,
                req_id: self.opt_span(t.req_id, "req_id")?,
                n_success,
            });
        }
        if let Some(oi) = t.op {
            return Ok(Parsed::Op {
                op: self.span_at(oi, "op")?,
                success,
                ret_code: t.ret_code.map(|i| self.i64_at(i, "retCode")).transpose()?,
                ret_msg: self.opt_span(t.ret_msg, "ret_msg")?,
                req_id: self.opt_span(t.req_id, "req_id")?,
                conn_id: self.opt_span(t.conn_id, "conn_id")?,
            });
        }
        Err(PublicError::Unrecognised)
    }

    fn topic_list(&mut self, i: usize, field: &'static str) -> Result<(), PublicError> {
        let n = match self.node(i)? {
            Node::Array { len, .. } => len,
            _ => return Err(PublicError::WrongType(field)),
        };
        // Elements are strings (one node each); anything else fails in `span_at`.
        for j in (i + 1)..(i + 1).saturating_add(n) {
            if self.topics.len() >= self.limits.max_topics {
                return Err(PublicError::TooManyTopics);
            }
            let s = self.span_at(j, field)?;
            self.topics.push(s);
        }
        Ok(())
    }

    fn ts(&self, i: Option<usize>, field: &'static str) -> Result<ExchMs, PublicError> {
        let i = i.ok_or(PublicError::MissingField(field))?;
        self.u64_at(i, field).map(ExchMs)
    }

    fn book(&mut self, t: &TopFields, depth: u16) -> Result<Parsed, PublicError> {
        let kind = match self.str_at(t.kind.ok_or(PublicError::MissingField("type"))?, "type")? {
            "snapshot" => BookKind::Snapshot,
            "delta" => BookKind::Delta,
            _ => return Err(PublicError::BadKind),
        };
        let ts = self.ts(t.ts, "ts")?;
        let cts = match t.cts {
            Some(i) => Some(ExchMs(self.u64_at(i, "cts")?)),
            None => None,
        };
        let data = t.data.ok_or(PublicError::MissingField("data"))?;
        let (mut b, mut a, mut u, mut seq) = (None, None, None, None);
        let mut sym_ok = true;
        self.members(data, "data", |w, k, v| {
            match k {
                "b" => b = Some(v),
                "a" => a = Some(v),
                "u" => u = Some(w.u64_at(v, "u")?),
                "seq" => seq = Some(w.u64_at(v, "seq")?),
                "s" => sym_ok = w.str_at(v, "s")?.as_bytes() == w.symbol.as_bytes(),
                _ => {}
            }
            Ok(())
        })?;
        if !sym_ok {
            return Err(PublicError::WrongSymbol);
        }
        let u = u.ok_or(PublicError::MissingField("u"))?;
        let seq = seq.ok_or(PublicError::MissingField("seq"))?;
        let b = b.ok_or(PublicError::MissingField("b"))?;
        let a = a.ok_or(PublicError::MissingField("a"))?;
        self.levels(b, true)?;
        self.levels(a, false)?;
        Ok(Parsed::Book {
            kind,
            depth,
            u: UpdateId(u),
            seq: Seq(seq),
            ts,
            cts,
        })
    }

    fn levels(&mut self, i: usize, bids: bool) -> Result<(), PublicError> {
        let field = if bids { "b" } else { "a" };
        let n = match self.node(i)? {
            Node::Array { len, .. } => len,
            _ => return Err(PublicError::WrongType(field)),
        };
        if n > self.limits.max_levels_per_side {
            return Err(PublicError::TooManyLevels);
        }
        let out = if bids {
            &mut *self.bids
        } else {
            &mut *self.asks
        };
        out.clear();
        let nodes = self.nodes;
        let mut j = i + 1;
        for _ in 0..n {
            let (p, q) = match (nodes.get(j), nodes.get(j + 1), nodes.get(j + 2)) {
                (
                    Some(Node::Array { len: 2, .. }),
                    Some(Node::String(p)),
                    Some(Node::String(q)),
                ) => (*p, *q),
                _ => return Err(PublicError::WrongType("level")),
            };
            let price = self
                .price
                .ticks(p.as_bytes())
                .map_err(PublicError::BadPrice)?;
            let qty = self.qty.lots(q.as_bytes()).map_err(PublicError::BadQty)?;
            // Capacity was checked against `n` above, so this never reallocates.
            out.push(Level { price, qty });
            j += 3;
        }
        Ok(())
    }

    fn trades(&mut self, t: &TopFields) -> Result<Parsed, PublicError> {
        let ts = self.ts(t.ts, "ts")?;
        let data = t.data.ok_or(PublicError::MissingField("data"))?;
        let n = match self.node(data)? {
            Node::Array { len, .. } => len,
            _ => return Err(PublicError::WrongType("data")),
        };
        if n > self.limits.max_trades {
            return Err(PublicError::TooManyTrades);
        }
        self.trades.clear();
        let mut j = data + 1;
        for _ in 0..n {
            let tr = self.trade(j)?;
            self.trades.push(tr);
            j = skip(self.nodes, j);
        }
        Ok(Parsed::Trades { ts })
    }

    fn trade(&mut self, i: usize) -> Result<Trade, PublicError> {
        let (mut time, mut side, mut price, mut qty, mut id) = (None, None, None, None, None);
        let (mut seq, mut bt, mut rpi, mut tick) = (None, false, false, None);
        self.members(i, "data", |w, k, v| {
            match k {
                "T" => time = Some(ExchMs(w.u64_at(v, "T")?)),
                "s" if w.str_at(v, "s")?.as_bytes() != w.symbol.as_bytes() => {
                    return Err(PublicError::WrongSymbol);
                }
                "S" => {
                    side = Some(
                        Side::parse(w.str_at(v, "S")?.as_bytes())
                            .map_err(|_| PublicError::BadValue("S"))?,
                    )
                }
                "v" => {
                    qty = Some(
                        w.qty
                            .lots(w.str_at(v, "v")?.as_bytes())
                            .map_err(PublicError::BadQty)?,
                    )
                }
                "p" => {
                    price = Some(
                        w.price
                            .ticks(w.str_at(v, "p")?.as_bytes())
                            .map_err(PublicError::BadPrice)?,
                    )
                }
                "i" => {
                    id = Some(
                        TradeId::new(w.str_at(v, "i")?.as_bytes())
                            .map_err(|_: IdError| PublicError::BadTradeId)?,
                    )
                }
                "seq" => seq = Some(Seq(w.u64_at(v, "seq")?)),
                "BT" => bt = w.bool_at(v, "BT")?,
                "RPI" => rpi = w.bool_at(v, "RPI")?,
                "L" => {
                    tick = Some(
                        TickDirection::parse(w.str_at(v, "L")?.as_bytes())
                            .ok_or(PublicError::BadValue("L"))?,
                    )
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Trade {
            time: time.ok_or(PublicError::MissingField("T"))?,
            taker_side: side.ok_or(PublicError::MissingField("S"))?,
            price: price.ok_or(PublicError::MissingField("p"))?,
            qty: qty.ok_or(PublicError::MissingField("v"))?,
            id: id.ok_or(PublicError::MissingField("i"))?,
            seq,
            block_trade: bt,
            rpi,
            tick,
        })
    }
}

// ---------------------------------------------------------------- encoders

/// Subscribe or unsubscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubOp {
    /// `"op":"subscribe"`.
    Subscribe,
    /// `"op":"unsubscribe"`.
    Unsubscribe,
}

impl SubOp {
    /// Bybit's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            SubOp::Subscribe => "subscribe",
            SubOp::Unsubscribe => "unsubscribe",
        }
    }
}

fn json_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// Writes `{"op":"subscribe","req_id":"…","args":["…",…]}` into `out`
/// (cleared first). Topics and `req_id` must be printable ASCII without
/// quotes or backslashes; otherwise `out` is left untouched. Bybit's own
/// limits (spot: ≤ 10 args per request; ≤ 21,000 characters of args per
/// connection) are the caller's to respect.
pub fn write_subscribe(
    op: SubOp,
    topics: &[&str],
    req_id: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), PublicError> {
    if !topics.iter().all(|t| json_safe(t)) {
        return Err(PublicError::Unencodable("topic"));
    }
    if !req_id.is_none_or(json_safe) {
        return Err(PublicError::Unencodable("req_id"));
    }
    out.clear();
    out.extend_from_slice(b"{\"op\":\"");
    out.extend_from_slice(op.as_str().as_bytes());
    out.push(b'"');
    if let Some(r) = req_id {
        out.extend_from_slice(b",\"req_id\":\"");
        out.extend_from_slice(r.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b",\"args\":[");
    for (i, t) in topics.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(t.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// Writes `{"op":"ping"}` or `{"req_id":"…","op":"ping"}` into `out` (cleared first).
pub fn write_ping(req_id: Option<&str>, out: &mut Vec<u8>) -> Result<(), PublicError> {
    if !req_id.is_none_or(json_safe) {
        return Err(PublicError::Unencodable("req_id"));
    }
    out.clear();
    out.push(b'{');
    if let Some(r) = req_id {
        out.extend_from_slice(b"\"req_id\":\"");
        out.extend_from_slice(r.as_bytes());
        out.extend_from_slice(b"\",");
    }
    out.extend_from_slice(b"\"op\":\"ping\"}");
    Ok(())
}

/// `orderbook.{depth}.{symbol}`. Always fits: 10 + 5 + 1 + 24 bytes ≤ 64.
pub fn orderbook_topic(depth: u16, symbol: &Symbol) -> Topic {
    let mut t = Topic::default();
    // Capacity covers the longest depth and symbol, and a Symbol only holds
    // printable ASCII, so these pushes cannot fail.
    let _ = t.push(b"orderbook.");
    let _ = t.push_u64(u64::from(depth));
    let _ = t.push(b".");
    let _ = t.push(symbol.as_bytes());
    t
}

/// `publicTrade.{symbol}`. Always fits: 12 + 24 bytes ≤ 64.
pub fn trade_topic(symbol: &Symbol) -> Topic {
    let mut t = Topic::default();
    let _ = t.push(b"publicTrade.");
    let _ = t.push(symbol.as_bytes());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec() -> PublicDecoder {
        PublicDecoder::with_limits(
            Symbol::from_str("BTCUSDT").unwrap(),
            Step::parse("0.10").unwrap(),
            Step::parse("0.001").unwrap(),
            Limits {
                max_frame_bytes: 4096,
                max_levels_per_side: 4,
                max_trades: 4,
                max_topics: 4,
            },
        )
    }

    #[test]
    fn escaped_strings_are_unescaped_in_place() {
        let mut d = dec();
        let ev = d
            .decode(br#"{"success":false,"ret_msg":"a\"b\nc","op":"subscribe","conn_id":"x"}"#)
            .unwrap();
        match ev {
            PublicEvent::SubscribeAck(a) => {
                assert!(!a.success);
                assert_eq!(a.ret_msg, "a\"b\nc");
                assert_eq!(a.conn_id, "x");
                assert_eq!(a.req_id, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_are_enforced_with_typed_errors() {
        let mut d = dec();
        let big = [b' '; 4097];
        assert_eq!(d.decode(&big), Err(PublicError::TooLong));
        let five = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1","1"],["1","1"],["1","1"],["1","1"],["1","1"]],"a":[],"u":1,"seq":1}}"#;
        assert_eq!(d.decode(five), Err(PublicError::TooManyLevels));
        let off_grid = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1.05","1"]],"a":[],"u":1,"seq":1}}"#;
        assert_eq!(
            d.decode(off_grid),
            Err(PublicError::BadPrice(UnitError::NotOnGrid))
        );
        let float_ts = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1.5,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":1}}"#;
        assert_eq!(d.decode(float_ts), Err(PublicError::BadNumber("ts")));
        let no_u = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"seq":1}}"#;
        assert_eq!(d.decode(no_u), Err(PublicError::MissingField("u")));
        assert_eq!(d.decode(b"[1,2]"), Err(PublicError::NotObject));
        assert_eq!(d.decode(b"{\"a\":"), Err(PublicError::Json));
        assert_eq!(d.decode(b"{}"), Err(PublicError::Unrecognised));
    }

    #[test]
    fn malformed_levels_and_trades_are_typed_errors() {
        let mut d = dec();
        let three = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1","1","0"]],"a":[],"u":1,"seq":1}}"#;
        assert_eq!(d.decode(three), Err(PublicError::WrongType("level")));
        let num = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[[1,"1"]],"a":[],"u":1,"seq":1}}"#;
        assert_eq!(d.decode(num), Err(PublicError::WrongType("level")));
        let kind = br#"{"topic":"orderbook.50.BTCUSDT","type":"full","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":1}}"#;
        assert_eq!(d.decode(kind), Err(PublicError::BadKind));
        let sym = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"ETHUSDT","b":[],"a":[],"u":1,"seq":1}}"#;
        assert_eq!(d.decode(sym), Err(PublicError::WrongSymbol));
        let neg = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[["1","-1"]],"u":1,"seq":1}}"#;
        assert_eq!(d.decode(neg), Err(PublicError::BadQty(UnitError::Negative)));

        let t = |body: &str| {
            format!(r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{body}]}}"#)
        };
        let ok = r#"{"T":1,"s":"BTCUSDT","S":"Sell","v":"0.002","p":"10.1","i":"a-1","BT":true}"#;
        match d.decode(t(ok).as_bytes()).unwrap() {
            PublicEvent::Trades(b) => {
                let tr = b.trades[0];
                assert_eq!(
                    (tr.taker_side, tr.price, tr.qty),
                    (Side::Sell, Ticks(101), Lots(2))
                );
                assert_eq!(
                    (tr.block_trade, tr.rpi, tr.seq, tr.tick),
                    (true, false, None, None)
                );
            }
            other => panic!("{other:?}"),
        }
        let side = r#"{"T":1,"s":"BTCUSDT","S":"buy","v":"1","p":"1","i":"x"}"#;
        assert_eq!(
            d.decode(t(side).as_bytes()),
            Err(PublicError::BadValue("S"))
        );
        let no_t = r#"{"s":"BTCUSDT","S":"Buy","v":"1","p":"1","i":"x"}"#;
        assert_eq!(
            d.decode(t(no_t).as_bytes()),
            Err(PublicError::MissingField("T"))
        );
        let long_id = format!(
            r#"{{"T":1,"S":"Buy","v":"1","p":"1","i":"{}"}}"#,
            "x".repeat(41)
        );
        assert_eq!(
            d.decode(t(&long_id).as_bytes()),
            Err(PublicError::BadTradeId)
        );
        let five = [ok; 5].join(",");
        assert_eq!(
            d.decode(t(&five).as_bytes()),
            Err(PublicError::TooManyTrades)
        );
        let not_arr = r#"{"topic":"publicTrade.BTCUSDT","ts":1,"data":{}}"#;
        assert_eq!(
            d.decode(not_arr.as_bytes()),
            Err(PublicError::WrongType("data"))
        );
    }

    #[test]
    fn encoders_write_bybit_requests() {
        let mut out = Vec::with_capacity(256);
        let sym = Symbol::from_str("BTCUSDT").unwrap();
        let ob = orderbook_topic(50, &sym);
        let tr = trade_topic(&sym);
        assert_eq!(ob.as_str(), "orderbook.50.BTCUSDT");
        assert_eq!(tr.as_str(), "publicTrade.BTCUSDT");
        write_subscribe(
            SubOp::Subscribe,
            &[ob.as_str(), tr.as_str()],
            Some("r1"),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"op":"subscribe","req_id":"r1","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"]}"#
        );
        write_subscribe(SubOp::Unsubscribe, &["publicTrade.X"], None, &mut out).unwrap();
        assert_eq!(out, br#"{"op":"unsubscribe","args":["publicTrade.X"]}"#);
        write_ping(Some("100001"), &mut out).unwrap();
        assert_eq!(out, br#"{"req_id":"100001","op":"ping"}"#);
        write_ping(None, &mut out).unwrap();
        assert_eq!(out, br#"{"op":"ping"}"#);
        assert_eq!(
            write_subscribe(SubOp::Subscribe, &["a\"b"], None, &mut out),
            Err(PublicError::Unencodable("topic"))
        );
        assert_eq!(
            out, br#"{"op":"ping"}"#,
            "failed encode leaves out untouched"
        );
        assert_eq!(
            write_ping(Some("a\\"), &mut out),
            Err(PublicError::Unencodable("req_id"))
        );
        let longest = Symbol::new(&[b'Z'; 24]).unwrap();
        assert_eq!(orderbook_topic(u16::MAX, &longest).len(), 10 + 5 + 1 + 24);
    }
}
