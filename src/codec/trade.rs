//! WebSocket trade API codec (`wss://…/v5/trade`): auth, `order.create` /
//! `order.amend` / `order.cancel` and their `-batch` forms, responses and pongs.
//!
//! Contract:
//! - Sans-I/O. Requests are written into a caller-owned `Vec<u8>` (cleared
//!   first); nothing allocates when it has capacity. Callers pass the
//!   timestamp (no clock is read here) and a unique `reqId` (≤36 chars; a
//!   repeat is refused by Bybit with 20006).
//! - [`TradeDecoder::decode`] modifies the message in place (simd-json) and
//!   allocates nothing after warm-up; batch items are borrowed from the
//!   decoder until the next call. It never panics on any input.
//! - A response with non-zero `retCode` is a normal [`TradeResponse`] (not an
//!   error): classify it with [`TradeResponse::conn_error`] /
//!   [`TradeResponse::needs_new_connection`]. Batch responses carry per-item
//!   codes even when `retCode` is 0.

use std::fmt;

use simd_json::prelude::*;
use simd_json::tape::Object;

use super::json::{get_i64, get_str, lossy_fixed, push_str_lit, push_u64, value_ms, JsonScratch};
use super::rest::{
    decode_ack, decode_batch_lists, write_amend_batch_json, write_amend_json,
    write_cancel_batch_json, write_cancel_json, write_create_batch_json, write_create_json, Amend,
    ApiMsg, BatchItem, InstrumentSpec, NewOrder, OrderAck, OrderRef, RateLimitInfo, RestError,
    MAX_BATCH_LINEAR,
};
use super::sign::Signer;
use crate::ids::{FixedStr, ReqId};
use crate::time::ExchMs;

/// Errors of the trade codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeError {
    /// Not valid JSON.
    Json,
    /// A required field is missing.
    Missing(&'static str),
    /// A field has an unexpected type or value.
    BadField(&'static str),
    /// `reqId` is empty.
    EmptyReqId,
    /// Building a request body or decoding a batch failed.
    Rest(RestError),
}

impl fmt::Display for TradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TradeError::Json => f.write_str("trade message is not valid JSON"),
            TradeError::Missing(k) => write!(f, "trade message lacks field `{k}`"),
            TradeError::BadField(k) => write!(f, "trade message field `{k}` is invalid"),
            TradeError::EmptyReqId => f.write_str("reqId must not be empty"),
            TradeError::Rest(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TradeError {}

impl From<RestError> for TradeError {
    fn from(e: RestError) -> Self {
        TradeError::Rest(e)
    }
}

/// The `op` of a trade-API message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeOp {
    /// `auth`.
    Auth,
    /// `pong`.
    Pong,
    /// `order.create`.
    Create,
    /// `order.amend`.
    Amend,
    /// `order.cancel`.
    Cancel,
    /// `order.create-batch`.
    CreateBatch,
    /// `order.amend-batch`.
    AmendBatch,
    /// `order.cancel-batch`.
    CancelBatch,
    /// Any other / missing op (e.g. a connection-level error reply).
    Other,
}

impl TradeOp {
    /// Bybit's spelling (`Other` → `""`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TradeOp::Auth => "auth",
            TradeOp::Pong => "pong",
            TradeOp::Create => "order.create",
            TradeOp::Amend => "order.amend",
            TradeOp::Cancel => "order.cancel",
            TradeOp::CreateBatch => "order.create-batch",
            TradeOp::AmendBatch => "order.amend-batch",
            TradeOp::CancelBatch => "order.cancel-batch",
            TradeOp::Other => "",
        }
    }
    fn parse(s: &str) -> TradeOp {
        match s {
            "auth" => TradeOp::Auth,
            "pong" => TradeOp::Pong,
            "order.create" => TradeOp::Create,
            "order.amend" => TradeOp::Amend,
            "order.cancel" => TradeOp::Cancel,
            "order.create-batch" => TradeOp::CreateBatch,
            "order.amend-batch" => TradeOp::AmendBatch,
            "order.cancel-batch" => TradeOp::CancelBatch,
            _ => TradeOp::Other,
        }
    }
    /// Whether this is a batch op.
    pub const fn is_batch(self) -> bool {
        matches!(
            self,
            TradeOp::CreateBatch | TradeOp::AmendBatch | TradeOp::CancelBatch
        )
    }
}

/// Connection-level `retCode`s of the trade API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnError {
    /// 10403: IP rate limit (3000 req/s).
    IpRateLimit,
    /// 10404: unknown op or bad category.
    UnknownOp,
    /// 10429: system frequency protection.
    SystemProtection,
    /// 20006: duplicate `reqId`.
    DuplicateReqId,
    /// 20003: too many requests on this session.
    SessionRateLimit,
    /// 10016: internal error / service restarting.
    InternalError,
    /// 10019: trade service restarting — open a new connection.
    ServiceRestarting,
}

impl ConnError {
    /// Classifies a `retCode`.
    pub const fn from_code(code: i64) -> Option<ConnError> {
        Some(match code {
            10403 => ConnError::IpRateLimit,
            10404 => ConnError::UnknownOp,
            10429 => ConnError::SystemProtection,
            20006 => ConnError::DuplicateReqId,
            20003 => ConnError::SessionRateLimit,
            10016 => ConnError::InternalError,
            10019 => ConnError::ServiceRestarting,
            _ => return None,
        })
    }
}

/// One decoded trade-API message (response, auth reply or pong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeResponse<'a> {
    /// `op`.
    pub op: TradeOp,
    /// `reqId` echo (empty if absent).
    pub req_id: ReqId,
    /// `retCode`.
    pub ret_code: i64,
    /// `retMsg`.
    pub ret_msg: ApiMsg,
    /// Single-order ack (`data.orderId`), when present.
    pub ack: Option<OrderAck>,
    /// Batch items (`data.list[i]` with `retExtInfo.list[i]`); empty for single ops.
    pub batch: &'a [BatchItem],
    /// Rate-limit values from `header`.
    pub rate_limit: RateLimitInfo,
    /// `header.Traceid`.
    pub trace_id: FixedStr<64>,
    /// `header.Timenow`.
    pub time_now: Option<ExchMs>,
    /// Pong server time (`data[0]`).
    pub pong_time: Option<ExchMs>,
}

impl TradeResponse<'_> {
    /// `retCode == 0` (for batches, also check each item).
    pub const fn is_ok(&self) -> bool {
        self.ret_code == 0
    }
    /// The connection-level error, if `retCode` is one.
    pub const fn conn_error(&self) -> Option<ConnError> {
        ConnError::from_code(self.ret_code)
    }
    /// 10019: this connection refuses new requests; reconnect.
    pub const fn needs_new_connection(&self) -> bool {
        matches!(self.conn_error(), Some(ConnError::ServiceRestarting))
    }
    /// Number of batch items that failed.
    pub fn failed_items(&self) -> usize {
        self.batch.iter().filter(|b| !b.is_ok()).count()
    }
}

/// Writes trade-API requests for one API key.
#[derive(Debug, Clone)]
pub struct TradeCodec {
    signer: Signer,
    recv_window: FixedStr<10>,
}

impl TradeCodec {
    /// `recv_window_ms` goes into every request's `header`.
    pub fn new(signer: Signer, recv_window_ms: u32) -> TradeCodec {
        let mut recv_window = FixedStr::default();
        // A u32 has at most 10 digits, which always fits.
        let _ = recv_window.push_u64(u64::from(recv_window_ms));
        TradeCodec {
            signer,
            recv_window,
        }
    }

    /// `{"reqId":..,"op":"auth","args":[key,expires,sig]}` (`reqId` omitted when `None`).
    pub fn write_auth(&self, out: &mut Vec<u8>, expires: ExchMs, req_id: Option<&ReqId>) {
        out.clear();
        out.push(b'{');
        if let Some(r) = req_id {
            out.extend_from_slice(b"\"reqId\":");
            push_str_lit(out, r.as_bytes());
            out.push(b',');
        }
        out.extend_from_slice(b"\"op\":\"auth\",\"args\":[");
        push_str_lit(out, self.signer.api_key().as_bytes());
        out.push(b',');
        push_u64(out, expires.0);
        out.push(b',');
        let mut sig = [0u8; 64];
        self.signer.sign_ws_auth(expires.0, &mut sig);
        push_str_lit(out, &sig);
        out.extend_from_slice(b"]}");
    }

    /// `{"op":"ping"}`.
    pub fn write_ping(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"{\"op\":\"ping\"}");
    }

    fn frame(
        &self,
        out: &mut Vec<u8>,
        req_id: &ReqId,
        ts: ExchMs,
        op: TradeOp,
        arg: impl FnOnce(&mut Vec<u8>) -> Result<(), RestError>,
    ) -> Result<(), TradeError> {
        if req_id.is_empty() {
            return Err(TradeError::EmptyReqId);
        }
        out.clear();
        out.extend_from_slice(b"{\"reqId\":");
        push_str_lit(out, req_id.as_bytes());
        out.extend_from_slice(b",\"header\":{\"X-BAPI-TIMESTAMP\":\"");
        push_u64(out, ts.0);
        out.extend_from_slice(b"\",\"X-BAPI-RECV-WINDOW\":");
        push_str_lit(out, self.recv_window.as_bytes());
        out.extend_from_slice(b"},\"op\":");
        push_str_lit(out, op.as_str().as_bytes());
        out.extend_from_slice(b",\"args\":[");
        if let Err(e) = arg(out) {
            out.clear();
            return Err(e.into());
        }
        out.extend_from_slice(b"]}");
        Ok(())
    }

    /// `order.create`.
    pub fn create(
        &self,
        out: &mut Vec<u8>,
        req_id: &ReqId,
        ts: ExchMs,
        inst: &InstrumentSpec,
        o: &NewOrder,
    ) -> Result<(), TradeError> {
        self.frame(out, req_id, ts, TradeOp::Create, |b| {
            write_create_json(b, inst, o, true, false)
        })
    }

    /// `order.amend`.
    pub fn amend(
        &self,
        out: &mut Vec<u8>,
        req_id: &ReqId,
        ts: ExchMs,
        inst: &InstrumentSpec,
        a: &Amend,
    ) -> Result<(), TradeError> {
        self.frame(out, req_id, ts, TradeOp::Amend, |b| {
            write_amend_json(b, inst, a, true)
        })
    }

    /// `order.cancel`.
    pub fn cancel(
        &self,
        out: &mut Vec<u8>,
        req_id: &ReqId,
        ts: ExchMs,
        inst: &InstrumentSpec,
        id: &OrderRef,
    ) -> Result<(), TradeError> {
        self.frame(out, req_id, ts, TradeOp::Cancel, |b| {
            write_cancel_json(b, inst, id, true)
        })
    }

    /// `order.create-batch` (≤10 spot, ≤20 linear).
    pub fn create_batch(
        &self,
        out: &mut Vec<u8>,
        req_id: &ReqId,
        ts: ExchMs,
        inst: &InstrumentSpec,
        orders: &[NewOrder],
    ) -> Result<(), TradeError> {
        self.frame(out, req_id, ts, TradeOp::CreateBatch, |b| {
            write_create_batch_json(b, inst, orders)
        })
    }

    /// `order.amend-batch`.
    pub fn amend_batch(
        &self,
        out: &mut Vec<u8>,
        req_id: &ReqId,
        ts: ExchMs,
        inst: &InstrumentSpec,
        amends: &[Amend],
    ) -> Result<(), TradeError> {
        self.frame(out, req_id, ts, TradeOp::AmendBatch, |b| {
            write_amend_batch_json(b, inst, amends)
        })
    }

    /// `order.cancel-batch`.
    pub fn cancel_batch(
        &self,
        out: &mut Vec<u8>,
        req_id: &ReqId,
        ts: ExchMs,
        inst: &InstrumentSpec,
        ids: &[OrderRef],
    ) -> Result<(), TradeError> {
        self.frame(out, req_id, ts, TradeOp::CancelBatch, |b| {
            write_cancel_batch_json(b, inst, ids)
        })
    }
}

/// Decodes trade-API messages with reusable scratch space.
#[derive(Debug)]
pub struct TradeDecoder {
    scratch: JsonScratch,
    batch: Vec<BatchItem>,
}

impl Default for TradeDecoder {
    fn default() -> Self {
        TradeDecoder {
            scratch: JsonScratch::default(),
            batch: Vec::with_capacity(MAX_BATCH_LINEAR),
        }
    }
}

fn header_info(h: &Object<'_, '_>) -> (RateLimitInfo, FixedStr<64>, Option<ExchMs>) {
    let mut rl = RateLimitInfo::default();
    let mut trace = FixedStr::default();
    let mut now = None;
    for (k, v) in h.iter() {
        let val = v.into_string().map(str::as_bytes);
        let text = val.unwrap_or(b"");
        if rl.apply_header(k.as_bytes(), text) {
            if val.is_none() {
                // Numbers instead of strings: accept them too.
                let n = value_ms(&v);
                if k.eq_ignore_ascii_case("x-bapi-limit") {
                    rl.limit = n.and_then(|x| u32::try_from(x.0).ok());
                } else if k.eq_ignore_ascii_case("x-bapi-limit-status") {
                    rl.remaining = n.and_then(|x| u32::try_from(x.0).ok());
                } else {
                    rl.reset = n;
                }
            }
        } else if k.eq_ignore_ascii_case("traceid") {
            trace = lossy_fixed(std::str::from_utf8(text).unwrap_or(""));
        } else if k.eq_ignore_ascii_case("timenow") {
            now = value_ms(&v);
        }
    }
    (rl, trace, now)
}

impl TradeDecoder {
    /// A decoder with warm scratch space.
    pub fn new() -> TradeDecoder {
        TradeDecoder::default()
    }

    /// Decodes one message (modified in place).
    pub fn decode<'s>(&'s mut self, msg: &mut [u8]) -> Result<TradeResponse<'s>, TradeError> {
        let batch = &mut self.batch;
        batch.clear();
        let r = self
            .scratch
            .with(msg, |root| -> Result<TradeResponse<'static>, TradeError> {
                let o = root.as_object().ok_or(TradeError::BadField("message"))?;
                let op = TradeOp::parse(get_str(&o, "op").unwrap_or(""));
                let ret_code = get_i64(&o, "retCode").ok_or(TradeError::Missing("retCode"))?;
                let ret_msg = lossy_fixed(get_str(&o, "retMsg").unwrap_or(""));
                let req_id = lossy_fixed(get_str(&o, "reqId").unwrap_or(""));
                let (rate_limit, trace_id, time_now) =
                    match o.get("header").and_then(|h| h.as_object()) {
                        Some(h) => header_info(&h),
                        None => (RateLimitInfo::default(), FixedStr::default(), None),
                    };
                let data = o.get("data");
                let mut ack = None;
                let mut pong_time = None;
                if op == TradeOp::Pong {
                    pong_time = data
                        .and_then(|d| d.as_array().and_then(|a| a.get(0)))
                        .and_then(|v| value_ms(&v));
                } else if let Some(d) = data.and_then(|d| d.as_object()) {
                    if op.is_batch() || d.get("list").is_some() {
                        if ret_code == 0 || d.get("list").is_some() {
                            let ext = o.get("retExtInfo").and_then(|v| v.as_object());
                            decode_batch_lists(&d, ext, batch)?;
                        }
                    } else if d.get("orderId").is_some() {
                        ack = Some(decode_ack(&d, ExchMs(0))?);
                    }
                }
                Ok(TradeResponse {
                    op,
                    req_id,
                    ret_code,
                    ret_msg,
                    ack,
                    batch: &[],
                    rate_limit,
                    trace_id,
                    time_now,
                    pong_time,
                })
            })
            .ok_or(TradeError::Json)??;
        Ok(TradeResponse {
            batch: &self.batch,
            ..r
        })
    }
}
