//! Private WebSocket codec (`wss://…/v5/private`): auth and subscribe
//! requests, their replies, pongs, and the `order`, `execution`,
//! `execution.fast`, `position` and `wallet` pushes.
//!
//! Contract:
//! - Sans-I/O. [`PrivateDecoder::decode`] takes the caller's message bytes
//!   **mutably** (simd-json unescapes strings in place) and returns typed
//!   records in fixed-capacity slices owned by the decoder, valid until the
//!   next call. After warm-up (scratch grown to the largest message) decoding
//!   allocates nothing, never blocks, reads no clock and never panics.
//! - A push may carry several records; at most [`MAX_RECORDS`] are accepted
//!   ([`PrivateError::TooManyRecords`] beyond that).
//! - Prices and quantities are converted to [`Ticks`]/[`Lots`] with the
//!   configured instrument's steps. **Records for other instruments are
//!   skipped and counted** in [`Push::skipped`]: a record is kept when its
//!   `symbol` equals the configured symbol and, if its `category` is `spot` or
//!   `linear`, that category equals the configured one (categories this crate
//!   does not trade, `option` and `inverse`, are filtered by symbol only and
//!   decode with `category: None`). Wallet pushes are not per-instrument and
//!   are decoded in full.
//! - Bybit's empty numeric fields (`""`, also `null`) decode as zero for
//!   quantities/values and as `None` for optional prices and fees.
//! - Any malformed record fails the whole message with a typed error; the
//!   caller's state is untouched because nothing is returned.

use std::fmt;

use simd_json::prelude::*;
use simd_json::tape::{Object, Value};

use super::json::{
    count_or_zero, get_i64, get_str, lossy_fixed, opt_decimal, push_str_lit, push_u64, value_i64,
    value_ms, JsonScratch,
};
use super::rest::{ApiMsg, InstrumentSpec, OrderType, TimeInForce};
use super::sign::Signer;
use crate::ids::{Category, ExecId, FixedStr, OrderId, OrderLinkId, ReqId, Seq, Symbol};
use crate::time::ExchMs;
use crate::units::{Decimal, Lots, Side, Step, Ticks, UnitError};

/// Most records accepted from one push's `data` array.
pub const MAX_RECORDS: usize = 64;

/// A coin name (`USDT`).
pub type Coin = FixedStr<16>;

/// What was wrong with a private-stream message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateError {
    /// Not valid JSON.
    Json,
    /// Valid JSON of an unexpected shape (not an object, `data` not an array…).
    Shape(&'static str),
    /// Neither a known reply (`op`) nor a push (`topic`).
    UnknownMessage,
    /// A required field is absent or null.
    Missing(&'static str),
    /// A decimal field failed to convert.
    Unit {
        /// JSON key.
        field: &'static str,
        /// Why.
        err: UnitError,
    },
    /// A field has a value outside its allowed set (unknown enum, id too long).
    BadValue(&'static str),
    /// More records than [`MAX_RECORDS`] in one message.
    TooManyRecords,
}

impl fmt::Display for PrivateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivateError::Json => f.write_str("private message is not valid JSON"),
            PrivateError::Shape(w) => write!(f, "private message has an unexpected shape: {w}"),
            PrivateError::UnknownMessage => {
                f.write_str("private message is neither a reply nor a push")
            }
            PrivateError::Missing(k) => write!(f, "private message lacks field `{k}`"),
            PrivateError::Unit { field, err } => write!(f, "field `{field}`: {err}"),
            PrivateError::BadValue(k) => write!(f, "field `{k}` has an invalid value"),
            PrivateError::TooManyRecords => {
                write!(f, "private push carries more than {MAX_RECORDS} records")
            }
        }
    }
}

impl std::error::Error for PrivateError {}

/// `orderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Resting.
    New,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Conditional, not yet triggered.
    Untriggered,
    /// Rejected.
    Rejected,
    /// Spot: partly filled then cancelled.
    PartiallyFilledCanceled,
    /// Fully filled.
    Filled,
    /// Cancelled (also a PostOnly that would have crossed).
    Cancelled,
    /// Conditional, triggered (transient).
    Triggered,
    /// Spot TP/SL/conditional cancelled before trigger.
    Deactivated,
}

impl OrderStatus {
    /// Parses Bybit's spelling.
    pub fn parse(s: &[u8]) -> Option<OrderStatus> {
        Some(match s {
            b"New" => OrderStatus::New,
            b"PartiallyFilled" => OrderStatus::PartiallyFilled,
            b"Untriggered" => OrderStatus::Untriggered,
            b"Rejected" => OrderStatus::Rejected,
            b"PartiallyFilledCanceled" => OrderStatus::PartiallyFilledCanceled,
            b"Filled" => OrderStatus::Filled,
            b"Cancelled" => OrderStatus::Cancelled,
            b"Triggered" => OrderStatus::Triggered,
            b"Deactivated" => OrderStatus::Deactivated,
            _ => return None,
        })
    }
    /// Whether the order can still trade.
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::New
                | OrderStatus::PartiallyFilled
                | OrderStatus::Untriggered
                | OrderStatus::Triggered
        )
    }
}

/// `cancelType`, reduced to what a market maker acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelType {
    /// `UNKNOWN` or `""`: not cancelled (or no reason given).
    None,
    /// `CancelByUser`.
    ByUser,
    /// `CancelBySmp`.
    BySmp,
    /// `CancelByDCP`.
    ByDcp,
    /// `CancelByAdmin`.
    ByAdmin,
    /// `CancelByReduceOnly`.
    ByReduceOnly,
    /// Liquidation / ADL related (`CancelByPrepareLiq`, `CancelAllBeforeLiq`, …Adl).
    ByRiskEvent,
    /// Any other value.
    Other,
}

impl CancelType {
    /// Maps Bybit's spelling (unknown values → [`CancelType::Other`]).
    pub fn parse(s: &[u8]) -> CancelType {
        match s {
            b"" | b"UNKNOWN" => CancelType::None,
            b"CancelByUser" => CancelType::ByUser,
            b"CancelBySmp" => CancelType::BySmp,
            b"CancelByDCP" => CancelType::ByDcp,
            b"CancelByAdmin" => CancelType::ByAdmin,
            b"CancelByReduceOnly" => CancelType::ByReduceOnly,
            b"CancelByPrepareLiq"
            | b"CancelAllBeforeLiq"
            | b"CancelByPrepareAdl"
            | b"CancelAllBeforeAdl" => CancelType::ByRiskEvent,
            _ => CancelType::Other,
        }
    }
}

/// `rejectReason`, with the values a market maker must distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// `EC_NoError` or `""`.
    NoError,
    /// `EC_PostOnlyWillTakeLiquidity`: a PostOnly that would have crossed (status `Cancelled`).
    PostOnlyWillTakeLiquidity,
    /// `EC_OrigClOrdIDDoesNotExist` (e.g. a cancel that lost a race with a fill).
    OrigClOrdIdDoesNotExist,
    /// `EC_TooLateToCancel`.
    TooLateToCancel,
    /// `EC_DuplicatedClOrdID`.
    DuplicatedClOrdId,
    /// Any other value (`UNKNOWN`, `INSUFFICIENT_MARGIN`, …).
    Other,
}

impl RejectReason {
    /// Maps Bybit's spelling (unknown values → [`RejectReason::Other`]).
    pub fn parse(s: &[u8]) -> RejectReason {
        match s {
            b"" | b"EC_NoError" => RejectReason::NoError,
            b"EC_PostOnlyWillTakeLiquidity" => RejectReason::PostOnlyWillTakeLiquidity,
            b"EC_OrigClOrdIDDoesNotExist" => RejectReason::OrigClOrdIdDoesNotExist,
            b"EC_TooLateToCancel" => RejectReason::TooLateToCancel,
            b"EC_DuplicatedClOrdID" => RejectReason::DuplicatedClOrdId,
            _ => RejectReason::Other,
        }
    }
}

/// `execType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecType {
    /// A normal fill.
    Trade,
    /// Auto-deleveraging fill.
    AdlTrade,
    /// Funding fee.
    Funding,
    /// Liquidation fill.
    BustTrade,
    /// Delivery.
    Delivery,
    /// Settlement.
    Settle,
    /// Block trade.
    BlockTrade,
    /// Position move.
    MovePosition,
    /// Any other value (`FutureSpread`, `CorporateAction`, `UNKNOWN`, …).
    Other,
}

impl ExecType {
    /// Whether an execution of this type changes the position: a trade, and
    /// on derivatives an auto-deleveraging or liquidation fill, a delivery,
    /// a block trade or a position move. Funding and settlement do not.
    pub fn moves_position(self) -> bool {
        matches!(
            self,
            ExecType::Trade
                | ExecType::AdlTrade
                | ExecType::BustTrade
                | ExecType::Delivery
                | ExecType::BlockTrade
                | ExecType::MovePosition
        )
    }

    /// Maps Bybit's spelling (unknown values → [`ExecType::Other`]).
    pub fn parse(s: &[u8]) -> ExecType {
        match s {
            b"Trade" => ExecType::Trade,
            b"AdlTrade" => ExecType::AdlTrade,
            b"Funding" => ExecType::Funding,
            b"BustTrade" => ExecType::BustTrade,
            b"Delivery" => ExecType::Delivery,
            b"Settle" => ExecType::Settle,
            b"BlockTrade" => ExecType::BlockTrade,
            b"MovePosition" => ExecType::MovePosition,
            _ => ExecType::Other,
        }
    }
}

/// One `order` record (also the row shape of REST `/v5/order/realtime` and `/history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderUpdate {
    /// `spot` / `linear`; `None` for categories this crate does not model or when absent.
    pub category: Option<Category>,
    /// Symbol.
    pub symbol: Symbol,
    /// Exchange order id.
    pub order_id: OrderId,
    /// Client id (`""` when none was given).
    pub order_link_id: OrderLinkId,
    /// Side.
    pub side: Side,
    /// `Limit` / `Market`.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Status.
    pub status: OrderStatus,
    /// Cancel reason.
    pub cancel_type: CancelType,
    /// Reject reason.
    pub reject_reason: RejectReason,
    /// Limit price in ticks (zero when `""`, e.g. some market orders).
    pub price: Ticks,
    /// Order quantity.
    pub qty: Lots,
    /// Unfilled quantity (`""` → zero).
    pub leaves_qty: Lots,
    /// Filled quantity.
    pub cum_exec_qty: Lots,
    /// Filled value (`""` → zero).
    pub cum_exec_value: Decimal,
    /// Cumulative fee, when reported (`cumExecFee`; deprecated for spot/linear).
    pub cum_exec_fee: Option<Decimal>,
    /// Average fill price; `None` when `""`, `"0"` or null (not necessarily on the tick grid).
    pub avg_price: Option<Decimal>,
    /// `reduceOnly`.
    pub reduce_only: bool,
    /// `createdTime`.
    pub created_time: ExchMs,
    /// `updatedTime`.
    pub updated_time: ExchMs,
}

/// One `execution` or `execution.fast` record (also a REST `/v5/execution/list` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Execution {
    /// From `execution.fast` (reduced fields: no fee, no leaves qty).
    pub fast: bool,
    /// `spot` / `linear` (`None` otherwise).
    pub category: Option<Category>,
    /// Symbol.
    pub symbol: Symbol,
    /// Fill id.
    pub exec_id: ExecId,
    /// Exchange order id (key fills by this: fast maker fills have no link id).
    pub order_id: OrderId,
    /// Client id; `""` for maker fills on `execution.fast`.
    pub order_link_id: OrderLinkId,
    /// Our order's side.
    pub side: Side,
    /// Fill price in ticks (zero for non-`Trade` records whose price is off-grid).
    pub exec_price: Ticks,
    /// Fill quantity (zero for non-`Trade` records whose quantity is off-grid).
    pub exec_qty: Lots,
    /// `Trade`, `Funding`, …; only `Trade` is an order fill.
    pub exec_type: ExecType,
    /// Fee (negative = rebate); `None` on `execution.fast`.
    pub exec_fee: Option<Decimal>,
    /// The fee when `feeCurrency` is the instrument's base coin (a spot
    /// buy's: it comes out of the quantity received), in billionths of a
    /// lot; 0 otherwise.
    pub fee_base_nlots: i64,
    /// Fee rate; `None` on `execution.fast`.
    pub fee_rate: Option<Decimal>,
    /// Maker fill.
    pub is_maker: bool,
    /// `execTime`.
    pub exec_time: ExchMs,
    /// Order's remaining quantity after this fill; `None` on `execution.fast`.
    pub leaves_qty: Option<Lots>,
    /// Cross sequence.
    pub seq: Seq,
}

/// One `position` record (also a REST `/v5/position/list` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionUpdate {
    /// `spot` / `linear` (`None` otherwise or when absent).
    pub category: Option<Category>,
    /// Symbol.
    pub symbol: Symbol,
    /// `Buy` / `Sell`; `None` when flat (`""`).
    pub side: Option<Side>,
    /// Absolute size.
    pub size: Lots,
    /// `positionIdx` (0 one-way, 1/2 hedge).
    pub position_idx: u8,
    /// Entry price (`entryPrice` on WS, `avgPrice` on REST); `None` when `""`.
    pub entry_price: Option<Decimal>,
    /// Mark price.
    pub mark_price: Option<Decimal>,
    /// Unrealised PnL (`""` → zero).
    pub unrealised_pnl: Decimal,
    /// Realised PnL of the current holding.
    pub cur_realised_pnl: Decimal,
    /// Cumulative realised PnL.
    pub cum_realised_pnl: Decimal,
    /// Sequence; `None` when `-1` (never traded) or absent.
    pub seq: Option<Seq>,
    /// `updatedTime`.
    pub updated_time: ExchMs,
}

impl PositionUpdate {
    /// Size signed by side (long positive).
    pub fn signed_size(&self) -> Lots {
        match self.side {
            Some(s) => Lots(self.size.0.saturating_mul(s.sign())),
            None => Lots::ZERO,
        }
    }
}

/// One coin of a wallet record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoinBalance {
    /// Coin name.
    pub coin: Coin,
    /// `walletBalance`.
    pub wallet_balance: Decimal,
    /// `equity`.
    pub equity: Decimal,
    /// `locked` (spot open orders).
    pub locked: Decimal,
    /// `usdValue`, when given.
    pub usd_value: Option<Decimal>,
    /// `unrealisedPnl`.
    pub unrealised_pnl: Decimal,
    /// `cumRealisedPnl`.
    pub cum_realised_pnl: Decimal,
    /// `totalOrderIM`.
    pub total_order_im: Decimal,
    /// `borrowAmount`.
    pub borrow_amount: Decimal,
}

/// Account-level totals of a wallet record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalletAccount {
    /// `accountType` (`UNIFIED`).
    pub account_type: FixedStr<16>,
    /// `totalEquity`.
    pub total_equity: Option<Decimal>,
    /// `totalWalletBalance`.
    pub total_wallet_balance: Option<Decimal>,
    /// `totalMarginBalance`.
    pub total_margin_balance: Option<Decimal>,
    /// `totalAvailableBalance`.
    pub total_available_balance: Option<Decimal>,
    /// `totalInitialMargin`.
    pub total_initial_margin: Option<Decimal>,
    /// `totalMaintenanceMargin`.
    pub total_maintenance_margin: Option<Decimal>,
}

/// Records of one push, borrowed from the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Push<'a, T> {
    /// `creationTime`.
    pub creation_time: ExchMs,
    /// Records for the configured instrument, in message order.
    pub records: &'a [T],
    /// Records for other instruments that were skipped.
    pub skipped: u16,
}

/// A reply to `auth`, `subscribe`/`unsubscribe` (private stream shapes, plus
/// the REST-style `retCode` shape seen on some connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsReply {
    /// `success`, or `retCode == 0` when `success` is absent; `type: "error"` is a failure.
    pub success: bool,
    /// `retCode` if present.
    pub ret_code: Option<i64>,
    /// `ret_msg` / `retMsg` (sanitised, truncated).
    pub msg: ApiMsg,
    /// `req_id` / `reqId` echo (empty if absent).
    pub req_id: ReqId,
}

/// A decoded private-stream message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PrivateEvent<'a> {
    /// Auth reply.
    Auth(WsReply),
    /// Subscribe reply.
    Subscribed(WsReply),
    /// Unsubscribe reply.
    Unsubscribed(WsReply),
    /// Pong (`op == "pong"` or `ret_msg == "pong"`), with the server time from `args` if present.
    Pong(Option<ExchMs>),
    /// `order` / `order.{category}`.
    Orders(Push<'a, OrderUpdate>),
    /// `execution` / `execution.fast` (see [`Execution::fast`]).
    Executions(Push<'a, Execution>),
    /// `position`.
    Positions(Push<'a, PositionUpdate>),
    /// `wallet`: first account's totals and every account's coins.
    Wallet {
        /// `creationTime`.
        creation_time: ExchMs,
        /// Totals of the first account record.
        account: WalletAccount,
        /// Coins, in message order.
        coins: &'a [CoinBalance],
    },
    /// A push on a topic this codec does not decode (`greeks`, `dcp.*`, …).
    OtherTopic,
}

/// Decoder for one private connection, configured for one instrument.
#[derive(Debug)]
pub struct PrivateDecoder {
    inst: InstrumentSpec,
    scratch: JsonScratch,
    orders: Vec<OrderUpdate>,
    execs: Vec<Execution>,
    positions: Vec<PositionUpdate>,
    coins: Vec<CoinBalance>,
}

impl PrivateDecoder {
    /// A decoder for `inst` (allocates its fixed-capacity output slices once).
    pub fn new(inst: InstrumentSpec) -> PrivateDecoder {
        PrivateDecoder {
            inst,
            scratch: JsonScratch::default(),
            orders: Vec::with_capacity(MAX_RECORDS),
            execs: Vec::with_capacity(MAX_RECORDS),
            positions: Vec::with_capacity(MAX_RECORDS),
            coins: Vec::with_capacity(MAX_RECORDS),
        }
    }

    /// The configured instrument.
    pub fn instrument(&self) -> &InstrumentSpec {
        &self.inst
    }

    /// Decodes one text message. `msg` is modified in place.
    pub fn decode<'s>(&'s mut self, msg: &mut [u8]) -> Result<PrivateEvent<'s>, PrivateError> {
        let inst = self.inst;
        let orders = &mut self.orders;
        let execs = &mut self.execs;
        let positions = &mut self.positions;
        let coins = &mut self.coins;
        let kind = self
            .scratch
            .with(msg, |root| {
                decode_root(&root, &inst, orders, execs, positions, coins)
            })
            .ok_or(PrivateError::Json)??;
        Ok(match kind {
            Decoded::Reply(op, r) => match op {
                ReplyOp::Auth => PrivateEvent::Auth(r),
                ReplyOp::Subscribe => PrivateEvent::Subscribed(r),
                ReplyOp::Unsubscribe => PrivateEvent::Unsubscribed(r),
            },
            Decoded::Pong(t) => PrivateEvent::Pong(t),
            Decoded::Orders(ct, skipped) => PrivateEvent::Orders(Push {
                creation_time: ct,
                records: &self.orders,
                skipped,
            }),
            Decoded::Execs(ct, skipped) => PrivateEvent::Executions(Push {
                creation_time: ct,
                records: &self.execs,
                skipped,
            }),
            Decoded::Positions(ct, skipped) => PrivateEvent::Positions(Push {
                creation_time: ct,
                records: &self.positions,
                skipped,
            }),
            Decoded::Wallet(ct, account) => PrivateEvent::Wallet {
                creation_time: ct,
                account,
                coins: &self.coins,
            },
            Decoded::Other => PrivateEvent::OtherTopic,
        })
    }
}

enum ReplyOp {
    Auth,
    Subscribe,
    Unsubscribe,
}

enum Decoded {
    Reply(ReplyOp, WsReply),
    Pong(Option<ExchMs>),
    Orders(ExchMs, u16),
    Execs(ExchMs, u16),
    Positions(ExchMs, u16),
    Wallet(ExchMs, WalletAccount),
    Other,
}

fn decode_root(
    root: &Value<'_, '_>,
    inst: &InstrumentSpec,
    orders: &mut Vec<OrderUpdate>,
    execs: &mut Vec<Execution>,
    positions: &mut Vec<PositionUpdate>,
    coins: &mut Vec<CoinBalance>,
) -> Result<Decoded, PrivateError> {
    let o = root
        .as_object()
        .ok_or(PrivateError::Shape("not an object"))?;
    if let Some(topic) = get_str(&o, "topic") {
        let ct = o
            .get("creationTime")
            .and_then(|v| value_ms(&v))
            .unwrap_or_default();
        let data = o.get("data").ok_or(PrivateError::Missing("data"))?;
        let topic = topic.as_bytes();
        let base = topic.split(|&b| b == b'.').next().unwrap_or(b"");
        return match base {
            b"order" => {
                orders.clear();
                let skipped = for_each_record(&data, |r| {
                    push_capped(orders, decode_order(&r, inst, None)?)
                })?;
                Ok(Decoded::Orders(ct, skipped))
            }
            b"execution" => {
                let fast = topic.starts_with(b"execution.fast");
                execs.clear();
                let skipped = for_each_record(&data, |r| {
                    push_capped(execs, decode_execution(&r, inst, fast, None)?)
                })?;
                Ok(Decoded::Execs(ct, skipped))
            }
            b"position" => {
                positions.clear();
                let skipped = for_each_record(&data, |r| {
                    push_capped(positions, decode_position(&r, inst, None)?)
                })?;
                Ok(Decoded::Positions(ct, skipped))
            }
            b"wallet" => {
                coins.clear();
                let account = decode_wallet_list(&data, coins, MAX_RECORDS)?;
                Ok(Decoded::Wallet(ct, account))
            }
            _ => Ok(Decoded::Other),
        };
    }
    let op = get_str(&o, "op").unwrap_or("");
    let ret_msg = get_str(&o, "ret_msg")
        .or_else(|| get_str(&o, "retMsg"))
        .unwrap_or("");
    if op == "pong" || ret_msg == "pong" {
        let t = o
            .get("args")
            .or_else(|| o.get("data"))
            .and_then(|a| a.as_array().and_then(|a| a.get(0)))
            .and_then(|v| value_ms(&v));
        return Ok(Decoded::Pong(t));
    }
    let op = match op {
        "auth" => ReplyOp::Auth,
        "subscribe" => ReplyOp::Subscribe,
        "unsubscribe" => ReplyOp::Unsubscribe,
        _ => return Err(PrivateError::UnknownMessage),
    };
    Ok(Decoded::Reply(op, decode_reply(&o, ret_msg)))
}

pub(crate) fn decode_reply(o: &Object<'_, '_>, ret_msg: &str) -> WsReply {
    let ret_code = get_i64(o, "retCode").or_else(|| get_i64(o, "ret_code"));
    let is_error_type = get_str(o, "type") == Some("error");
    let success = match o.get("success").and_then(|v| v.as_bool()) {
        Some(s) => s && !is_error_type,
        None => ret_code == Some(0) && !is_error_type,
    };
    let req_id = get_str(o, "req_id")
        .or_else(|| get_str(o, "reqId"))
        .unwrap_or("");
    WsReply {
        success,
        ret_code,
        msg: lossy_fixed(ret_msg),
        req_id: lossy_fixed(req_id),
    }
}

/// Runs `f` on each element of a `data` array; `f` returns `Ok(false)` for a
/// skipped record. Returns the number skipped.
fn for_each_record(
    data: &Value<'_, '_>,
    mut f: impl FnMut(Object<'_, '_>) -> Result<bool, PrivateError>,
) -> Result<u16, PrivateError> {
    let arr = data
        .as_array()
        .ok_or(PrivateError::Shape("data is not an array"))?;
    let mut skipped: u16 = 0;
    for v in arr.iter() {
        let r = v
            .as_object()
            .ok_or(PrivateError::Shape("record is not an object"))?;
        if !f(r)? {
            skipped = skipped.saturating_add(1);
        }
    }
    Ok(skipped)
}

fn push_capped<T>(v: &mut Vec<T>, item: Option<T>) -> Result<bool, PrivateError> {
    match item {
        None => Ok(false),
        Some(x) => {
            if v.len() >= MAX_RECORDS {
                return Err(PrivateError::TooManyRecords);
            }
            v.push(x);
            Ok(true)
        }
    }
}

#[inline]
fn req<'a>(v: Option<&'a str>, field: &'static str) -> Result<&'a str, PrivateError> {
    v.ok_or(PrivateError::Missing(field))
}

#[inline]
fn unit<T>(r: Result<T, UnitError>, field: &'static str) -> Result<T, PrivateError> {
    r.map_err(|err| PrivateError::Unit { field, err })
}

#[inline]
fn fixed<const N: usize>(s: &str, field: &'static str) -> Result<FixedStr<N>, PrivateError> {
    FixedStr::<N>::new(s.as_bytes()).map_err(|_| PrivateError::BadValue(field))
}

/// Whether a record with this symbol/category belongs to `inst`; also returns
/// the modelled category.
fn matches(
    inst: &InstrumentSpec,
    symbol: &str,
    category: Option<&str>,
    default_category: Option<Category>,
) -> (bool, Option<Category>) {
    let cat = match category {
        Some(c) => Category::parse(c.as_bytes()),
        None => default_category,
    };
    let ok = symbol.as_bytes() == inst.symbol.as_bytes() && cat.is_none_or(|c| c == inst.category);
    (ok, cat)
}

fn side(s: Option<&str>, field: &'static str) -> Result<Side, PrivateError> {
    Side::parse(req(s, field)?.as_bytes()).map_err(|_| PrivateError::BadValue(field))
}

/// Decodes one order record; `Ok(None)` if it is for another instrument.
pub(crate) fn decode_order(
    r: &Object<'_, '_>,
    inst: &InstrumentSpec,
    default_category: Option<Category>,
) -> Result<Option<OrderUpdate>, PrivateError> {
    #[derive(Default)]
    struct Raw<'a> {
        category: Option<&'a str>,
        symbol: Option<&'a str>,
        order_id: Option<&'a str>,
        link: Option<&'a str>,
        side: Option<&'a str>,
        order_type: Option<&'a str>,
        tif: Option<&'a str>,
        status: Option<&'a str>,
        cancel_type: Option<&'a str>,
        reject: Option<&'a str>,
        price: Option<&'a str>,
        qty: Option<&'a str>,
        leaves: Option<&'a str>,
        cum_qty: Option<&'a str>,
        cum_value: Option<&'a str>,
        cum_fee: Option<&'a str>,
        avg: Option<&'a str>,
        reduce_only: bool,
        created: Option<ExchMs>,
        updated: Option<ExchMs>,
    }
    let mut w = Raw::default();
    for (k, v) in r.iter() {
        match k {
            "category" => w.category = v.into_string(),
            "symbol" => w.symbol = v.into_string(),
            "orderId" => w.order_id = v.into_string(),
            "orderLinkId" => w.link = v.into_string(),
            "side" => w.side = v.into_string(),
            "orderType" => w.order_type = v.into_string(),
            "timeInForce" => w.tif = v.into_string(),
            "orderStatus" => w.status = v.into_string(),
            "cancelType" => w.cancel_type = v.into_string(),
            "rejectReason" => w.reject = v.into_string(),
            "price" => w.price = v.into_string(),
            "qty" => w.qty = v.into_string(),
            "leavesQty" => w.leaves = v.into_string(),
            "cumExecQty" => w.cum_qty = v.into_string(),
            "cumExecValue" => w.cum_value = v.into_string(),
            "cumExecFee" => w.cum_fee = v.into_string(),
            "avgPrice" => w.avg = v.into_string(),
            "reduceOnly" => w.reduce_only = v.as_bool().unwrap_or(false),
            "createdTime" => w.created = value_ms(&v),
            "updatedTime" => w.updated = value_ms(&v),
            _ => {}
        }
    }
    let symbol = req(w.symbol, "symbol")?;
    let (ok, category) = matches(inst, symbol, w.category, default_category);
    if !ok {
        return Ok(None);
    }
    let ps = inst.price_step;
    let qs = inst.qty_step;
    let avg = unit(opt_decimal(w.avg), "avgPrice")?.filter(|d| d.mantissa != 0);
    Ok(Some(OrderUpdate {
        category,
        symbol: fixed(symbol, "symbol")?,
        order_id: fixed(req(w.order_id, "orderId")?, "orderId")?,
        order_link_id: fixed(w.link.unwrap_or(""), "orderLinkId")?,
        side: side(w.side, "side")?,
        order_type: OrderType::parse(req(w.order_type, "orderType")?.as_bytes())
            .ok_or(PrivateError::BadValue("orderType"))?,
        tif: TimeInForce::parse(req(w.tif, "timeInForce")?.as_bytes())
            .ok_or(PrivateError::BadValue("timeInForce"))?,
        status: OrderStatus::parse(req(w.status, "orderStatus")?.as_bytes())
            .ok_or(PrivateError::BadValue("orderStatus"))?,
        cancel_type: CancelType::parse(w.cancel_type.unwrap_or("").as_bytes()),
        reject_reason: RejectReason::parse(w.reject.unwrap_or("").as_bytes()),
        price: Ticks(unit(count_or_zero(ps, w.price), "price")?),
        qty: Lots(unit(count_or_zero(qs, w.qty), "qty")?),
        leaves_qty: Lots(unit(count_or_zero(qs, w.leaves), "leavesQty")?),
        cum_exec_qty: Lots(unit(count_or_zero(qs, w.cum_qty), "cumExecQty")?),
        cum_exec_value: unit(opt_decimal(w.cum_value), "cumExecValue")?.unwrap_or_default(),
        cum_exec_fee: unit(opt_decimal(w.cum_fee), "cumExecFee")?,
        avg_price: avg,
        reduce_only: w.reduce_only,
        created_time: w.created.unwrap_or_default(),
        updated_time: w.updated.unwrap_or_default(),
    }))
}

/// Decodes one execution record (WS push or REST `/v5/execution/list` row,
/// whose rows carry no `category`: the response's goes in
/// `default_category`); `Ok(None)` if it is for another instrument.
pub(crate) fn decode_execution(
    r: &Object<'_, '_>,
    inst: &InstrumentSpec,
    fast: bool,
    default_category: Option<Category>,
) -> Result<Option<Execution>, PrivateError> {
    #[derive(Default)]
    struct Raw<'a> {
        category: Option<&'a str>,
        symbol: Option<&'a str>,
        exec_id: Option<&'a str>,
        order_id: Option<&'a str>,
        link: Option<&'a str>,
        side: Option<&'a str>,
        price: Option<&'a str>,
        qty: Option<&'a str>,
        exec_type: Option<&'a str>,
        fee: Option<&'a str>,
        fee_rate: Option<&'a str>,
        fee_coin: Option<&'a str>,
        is_maker: Option<bool>,
        time: Option<ExchMs>,
        leaves: Option<&'a str>,
        seq: Option<i64>,
    }
    let mut w = Raw::default();
    for (k, v) in r.iter() {
        match k {
            "category" => w.category = v.into_string(),
            "symbol" => w.symbol = v.into_string(),
            "execId" => w.exec_id = v.into_string(),
            "orderId" => w.order_id = v.into_string(),
            "orderLinkId" => w.link = v.into_string(),
            "side" => w.side = v.into_string(),
            "execPrice" => w.price = v.into_string(),
            "execQty" => w.qty = v.into_string(),
            "execType" => w.exec_type = v.into_string(),
            "execFee" => w.fee = v.into_string(),
            "feeRate" => w.fee_rate = v.into_string(),
            "feeCurrency" => w.fee_coin = v.into_string(),
            "isMaker" => w.is_maker = v.as_bool(),
            "execTime" => w.time = value_ms(&v),
            "leavesQty" => w.leaves = v.into_string(),
            "seq" => w.seq = value_i64(&v),
            _ => {}
        }
    }
    let symbol = req(w.symbol, "symbol")?;
    let (ok, category) = matches(inst, symbol, w.category, default_category);
    if !ok {
        return Ok(None);
    }
    // execution.fast carries only trades and has no execType.
    let exec_type = match w.exec_type {
        Some(t) => ExecType::parse(t.as_bytes()),
        None if fast => ExecType::Trade,
        None => return Err(PrivateError::Missing("execType")),
    };
    let price = inst.price_step.count(req(w.price, "execPrice")?.as_bytes());
    let qty = inst.qty_step.count(req(w.qty, "execQty")?.as_bytes());
    let (price, qty) = if exec_type == ExecType::Trade {
        (unit(price, "execPrice")?, unit(qty, "execQty")?)
    } else if exec_type.moves_position() {
        // A liquidation or delivery price need not be on the tick grid (a
        // bankruptcy or index price): it is taken to the tick below. The
        // quantity is an order quantity, on the lot grid.
        let raw = req(w.price, "execPrice")?.as_bytes();
        let floor = inst.price_step.count_floor(raw);
        (unit(price.or(floor), "execPrice")?, unit(qty, "execQty")?)
    } else {
        (price.unwrap_or(0), qty.unwrap_or(0))
    };
    let leaves = match w.leaves {
        None => None,
        Some(s) => Some(Lots(unit(
            count_or_zero(inst.qty_step, Some(s)),
            "leavesQty",
        )?)),
    };
    let exec_fee = unit(opt_decimal(w.fee), "execFee")?;
    let in_base = !inst.base_coin.is_empty()
        && w.fee_coin
            .is_some_and(|c| c.as_bytes() == inst.base_coin.as_bytes());
    let fee_base_nlots = match exec_fee {
        Some(f) if in_base => {
            nano_lots(f, inst.qty_step).ok_or(PrivateError::BadValue("execFee"))?
        }
        _ => 0,
    };
    Ok(Some(Execution {
        fast,
        category,
        symbol: fixed(symbol, "symbol")?,
        exec_id: fixed(req(w.exec_id, "execId")?, "execId")?,
        order_id: fixed(req(w.order_id, "orderId")?, "orderId")?,
        order_link_id: fixed(w.link.unwrap_or(""), "orderLinkId")?,
        side: side(w.side, "side")?,
        exec_price: Ticks(price),
        exec_qty: Lots(qty),
        exec_type,
        exec_fee,
        fee_base_nlots,
        fee_rate: unit(opt_decimal(w.fee_rate), "feeRate")?,
        is_maker: w.is_maker.ok_or(PrivateError::Missing("isMaker"))?,
        exec_time: w.time.ok_or(PrivateError::Missing("execTime"))?,
        leaves_qty: leaves,
        seq: Seq(w.seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0)),
    }))
}

/// `amount` (in coin units) in billionths of a lot of `step`, rounded to
/// the nearest; `None` if it does not fit.
pub fn nano_lots(amount: Decimal, step: Step) -> Option<i64> {
    let num = i128::from(amount.mantissa)
        .checked_mul(10i128.checked_pow(u32::from(step.scale()) + 9)?)?;
    let den = i128::from(step.units()).checked_mul(10i128.checked_pow(u32::from(amount.scale))?)?;
    if den <= 0 {
        return None;
    }
    let half = if num < 0 { -(den / 2) } else { den / 2 };
    i64::try_from((num + half) / den).ok()
}

/// Decodes one position record (WS `entryPrice` or REST `avgPrice`).
pub(crate) fn decode_position(
    r: &Object<'_, '_>,
    inst: &InstrumentSpec,
    default_category: Option<Category>,
) -> Result<Option<PositionUpdate>, PrivateError> {
    let symbol = req(get_str(r, "symbol"), "symbol")?;
    let (ok, category) = matches(inst, symbol, get_str(r, "category"), default_category);
    if !ok {
        return Ok(None);
    }
    let side = match get_str(r, "side") {
        None | Some("") | Some("None") => None,
        Some(s) => Some(Side::parse(s.as_bytes()).map_err(|_| PrivateError::BadValue("side"))?),
    };
    let entry = get_str(r, "entryPrice").or_else(|| get_str(r, "avgPrice"));
    let dec0 = |k: &'static str| -> Result<Decimal, PrivateError> {
        Ok(unit(opt_decimal(get_str(r, k)), k)?.unwrap_or_default())
    };
    let idx = get_i64(r, "positionIdx").unwrap_or(0);
    Ok(Some(PositionUpdate {
        category,
        symbol: fixed(symbol, "symbol")?,
        side,
        size: Lots(unit(
            count_or_zero(inst.qty_step, get_str(r, "size")),
            "size",
        )?),
        position_idx: u8::try_from(idx).map_err(|_| PrivateError::BadValue("positionIdx"))?,
        entry_price: unit(opt_decimal(entry), "entryPrice")?,
        mark_price: unit(opt_decimal(get_str(r, "markPrice")), "markPrice")?,
        unrealised_pnl: dec0("unrealisedPnl")?,
        cur_realised_pnl: dec0("curRealisedPnl")?,
        cum_realised_pnl: dec0("cumRealisedPnl")?,
        seq: get_i64(r, "seq")
            .and_then(|s| u64::try_from(s).ok())
            .map(Seq),
        updated_time: r
            .get("updatedTime")
            .and_then(|v| value_ms(&v))
            .unwrap_or_default(),
    }))
}

/// Decodes a wallet `data` / REST `result.list` array: first account's
/// totals, all coins appended to `coins` (at most `cap`).
pub(crate) fn decode_wallet_list(
    data: &Value<'_, '_>,
    coins: &mut Vec<CoinBalance>,
    cap: usize,
) -> Result<WalletAccount, PrivateError> {
    let arr = data
        .as_array()
        .ok_or(PrivateError::Shape("data is not an array"))?;
    let mut account = None;
    for v in arr.iter() {
        let a = v
            .as_object()
            .ok_or(PrivateError::Shape("account is not an object"))?;
        let dec = |k: &'static str| unit(opt_decimal(get_str(&a, k)), k);
        let acc = WalletAccount {
            account_type: lossy_fixed(get_str(&a, "accountType").unwrap_or("")),
            total_equity: dec("totalEquity")?,
            total_wallet_balance: dec("totalWalletBalance")?,
            total_margin_balance: dec("totalMarginBalance")?,
            total_available_balance: dec("totalAvailableBalance")?,
            total_initial_margin: dec("totalInitialMargin")?,
            total_maintenance_margin: dec("totalMaintenanceMargin")?,
        };
        if account.is_none() {
            account = Some(acc);
        }
        if let Some(list) = a.get("coin") {
            for_each_record(&list, |c| {
                let dec0 = |k: &'static str| -> Result<Decimal, PrivateError> {
                    Ok(unit(opt_decimal(get_str(&c, k)), k)?.unwrap_or_default())
                };
                let coin = CoinBalance {
                    coin: fixed(req(get_str(&c, "coin"), "coin")?, "coin")?,
                    wallet_balance: dec0("walletBalance")?,
                    equity: dec0("equity")?,
                    locked: dec0("locked")?,
                    usd_value: unit(opt_decimal(get_str(&c, "usdValue")), "usdValue")?,
                    unrealised_pnl: dec0("unrealisedPnl")?,
                    cum_realised_pnl: dec0("cumRealisedPnl")?,
                    total_order_im: dec0("totalOrderIM")?,
                    borrow_amount: dec0("borrowAmount")?,
                };
                if coins.len() >= cap {
                    return Err(PrivateError::TooManyRecords);
                }
                coins.push(coin);
                Ok(true)
            })?;
        }
    }
    Ok(account.unwrap_or_default())
}

/// What was wrong with a request to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// A topic is empty or has characters that would need JSON escaping.
    BadTopic,
    /// No topics given.
    NoTopics,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::BadTopic => "topic is empty or needs JSON escaping",
            RequestError::NoTopics => "subscribe needs at least one topic",
        })
    }
}

impl std::error::Error for RequestError {}

/// Writes `{"req_id":"..","op":"auth","args":["key",expires,"sig"]}` into
/// `out` (cleared first). `req_id` is omitted when `None`. Allocation-free
/// when `out` has capacity.
pub fn write_auth_request(
    out: &mut Vec<u8>,
    signer: &Signer,
    expires: ExchMs,
    req_id: Option<&ReqId>,
) {
    out.clear();
    out.push(b'{');
    if let Some(r) = req_id {
        out.extend_from_slice(b"\"req_id\":");
        push_str_lit(out, r.as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"op\":\"auth\",\"args\":[");
    push_str_lit(out, signer.api_key().as_bytes());
    out.push(b',');
    push_u64(out, expires.0);
    out.push(b',');
    let mut sig = [0u8; 64];
    signer.sign_ws_auth(expires.0, &mut sig);
    push_str_lit(out, &sig);
    out.extend_from_slice(b"]}");
}

/// Writes `{"req_id":"..","op":"subscribe","args":[topics…]}` into `out` (cleared first).
pub fn write_subscribe(
    out: &mut Vec<u8>,
    topics: &[&str],
    req_id: Option<&ReqId>,
) -> Result<(), RequestError> {
    write_topics_op(out, "subscribe", topics, req_id)
}

/// Writes the matching `unsubscribe` request.
pub fn write_unsubscribe(
    out: &mut Vec<u8>,
    topics: &[&str],
    req_id: Option<&ReqId>,
) -> Result<(), RequestError> {
    write_topics_op(out, "unsubscribe", topics, req_id)
}

/// Writes `{"req_id":"..","op":"ping"}` (the application-level heartbeat).
pub fn write_ping(out: &mut Vec<u8>, req_id: Option<&ReqId>) {
    out.clear();
    out.push(b'{');
    if let Some(r) = req_id {
        out.extend_from_slice(b"\"req_id\":");
        push_str_lit(out, r.as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"op\":\"ping\"}");
}

fn write_topics_op(
    out: &mut Vec<u8>,
    op: &str,
    topics: &[&str],
    req_id: Option<&ReqId>,
) -> Result<(), RequestError> {
    if topics.is_empty() {
        return Err(RequestError::NoTopics);
    }
    if topics.iter().any(|t| {
        t.is_empty()
            || t.bytes()
                .any(|b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\')
    }) {
        return Err(RequestError::BadTopic);
    }
    out.clear();
    out.push(b'{');
    if let Some(r) = req_id {
        out.extend_from_slice(b"\"req_id\":");
        push_str_lit(out, r.as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"op\":");
    push_str_lit(out, op.as_bytes());
    out.extend_from_slice(b",\"args\":[");
    for (i, t) in topics.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str_lit(out, t.as_bytes());
    }
    out.extend_from_slice(b"]}");
    Ok(())
}
