//! Bybit's WebSocket control protocol as the server speaks it: parsing client requests
//! (`subscribe`, `unsubscribe`, `ping`, `auth`, WS-trade `order.*`) and building the replies in
//! Bybit's per-stream shapes (protocol.md §1.3, §1.4, §5.1, §6).
//!
//! Contract: sans-I/O; parsing and reply building allocate (serde_json values and `String`s) — this
//! is the simulator's control path, not the engine's hot path. No panics on any input.

use super::exchange::Op;
use super::ratelimit::{Endpoint, Grant};
use crate::ids::Category;
use serde_json::{json, Map, Value};
use std::fmt;

/// What a WebSocket connection was opened for (chosen by its URL path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsKind {
    /// `/v5/public/spot` or `/v5/public/linear`.
    Public(Category),
    /// `/v5/private`.
    Private,
    /// `/v5/trade`.
    Trade,
}

impl WsKind {
    /// Maps a URL path to a stream kind.
    pub fn from_path(path: &[u8]) -> Option<WsKind> {
        match path {
            b"/v5/public/spot" => Some(WsKind::Public(Category::Spot)),
            b"/v5/public/linear" => Some(WsKind::Public(Category::Linear)),
            b"/v5/private" => Some(WsKind::Private),
            b"/v5/trade" => Some(WsKind::Trade),
            _ => None,
        }
    }

    /// The fault target this stream belongs to.
    pub fn conn_kind(self) -> super::ConnKind {
        match self {
            WsKind::Public(_) => super::ConnKind::Public,
            WsKind::Private => super::ConnKind::Private,
            WsKind::Trade => super::ConnKind::Trade,
        }
    }
}

/// Why a client frame could not be understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsError {
    /// Not valid JSON / not an object.
    NotJson,
    /// No `op` string.
    NoOp,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WsError::NotJson => "request not a valid json object",
            WsError::NoOp => "request has no op",
        })
    }
}

impl std::error::Error for WsError {}

/// One parsed client frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientMsg {
    /// `op`.
    pub op: String,
    /// `req_id` (public/private streams) or `reqId` (trade stream), as text.
    pub req_id: Option<String>,
    /// `args` (empty if absent).
    pub args: Vec<Value>,
    /// WS-trade `header` object, if present.
    pub header: Option<Map<String, Value>>,
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses a client frame.
pub fn parse_client(text: &[u8]) -> Result<ClientMsg, WsError> {
    let v: Value = serde_json::from_slice(text).map_err(|_| WsError::NotJson)?;
    let Value::Object(mut m) = v else {
        return Err(WsError::NotJson);
    };
    let op = match m.get("op") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(WsError::NoOp),
    };
    let req_id = m
        .get("req_id")
        .or_else(|| m.get("reqId"))
        .and_then(value_text);
    let args = match m.remove("args") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let header = match m.remove("header") {
        Some(Value::Object(h)) => Some(h),
        _ => None,
    };
    Ok(ClientMsg {
        op,
        req_id,
        args,
        header,
    })
}

/// Subscribe / unsubscribe acknowledgement in the stream's shape. `ret_msg` is used on failure.
pub fn sub_ack(
    kind: WsKind,
    op: &str,
    ok: bool,
    err_msg: &str,
    req_id: Option<&str>,
    conn_id: &str,
) -> String {
    let mut m = Map::new();
    m.insert("success".into(), Value::Bool(ok));
    let ret_msg = if !ok {
        err_msg.to_string()
    } else if kind == WsKind::Public(Category::Spot) {
        op.to_string()
    } else {
        String::new()
    };
    m.insert("ret_msg".into(), Value::String(ret_msg));
    m.insert("conn_id".into(), Value::String(conn_id.to_string()));
    match (kind, req_id) {
        (WsKind::Public(Category::Linear), r) => {
            m.insert("req_id".into(), Value::String(r.unwrap_or("").to_string()));
        }
        (_, Some(r)) => {
            m.insert("req_id".into(), Value::String(r.to_string()));
        }
        _ => {}
    }
    m.insert("op".into(), Value::String(op.to_string()));
    Value::Object(m).to_string()
}

/// Pong in the stream's shape (spot, linear, private and trade differ).
pub fn pong(kind: WsKind, req_id: Option<&str>, conn_id: &str, now_ms: u64) -> String {
    match kind {
        WsKind::Public(Category::Spot) => {
            let mut m = Map::new();
            m.insert("success".into(), Value::Bool(true));
            m.insert("ret_msg".into(), "pong".into());
            m.insert("conn_id".into(), conn_id.into());
            if let Some(r) = req_id {
                m.insert("req_id".into(), r.into());
            }
            m.insert("op".into(), "ping".into());
            Value::Object(m).to_string()
        }
        WsKind::Public(Category::Linear) => {
            json!({"success": true, "ret_msg": "pong", "conn_id": conn_id, "req_id": req_id.unwrap_or(""), "op": "ping"})
                .to_string()
        }
        WsKind::Private => {
            json!({"req_id": req_id.unwrap_or(""), "op": "pong", "args": [now_ms.to_string()], "conn_id": conn_id})
                .to_string()
        }
        WsKind::Trade => {
            let mut m = Map::new();
            if let Some(r) = req_id {
                m.insert("reqId".into(), r.into());
            }
            m.insert("retCode".into(), 0.into());
            m.insert("retMsg".into(), "OK".into());
            m.insert("op".into(), "pong".into());
            m.insert("data".into(), json!([now_ms.to_string()]));
            m.insert("connId".into(), conn_id.into());
            Value::Object(m).to_string()
        }
    }
}

/// Private-stream auth reply (`success`/`ret_msg` style).
pub fn private_auth_reply(ok: bool, ret_msg: &str, req_id: Option<&str>, conn_id: &str) -> String {
    let mut m = Map::new();
    m.insert("success".into(), Value::Bool(ok));
    m.insert("ret_msg".into(), ret_msg.into());
    m.insert("op".into(), "auth".into());
    m.insert("conn_id".into(), conn_id.into());
    if let Some(r) = req_id {
        m.insert("req_id".into(), r.into());
    }
    Value::Object(m).to_string()
}

/// WS-trade reply without a data body (auth, errors before dispatch): REST style.
pub fn trade_simple(op: &str, code: i64, msg: &str, req_id: Option<&str>, conn_id: &str) -> String {
    let mut m = Map::new();
    if let Some(r) = req_id {
        m.insert("reqId".into(), r.into());
    }
    m.insert("retCode".into(), code.into());
    m.insert("retMsg".into(), msg.into());
    m.insert("op".into(), op.into());
    m.insert("connId".into(), conn_id.into());
    Value::Object(m).to_string()
}

/// The limit header values shared by REST headers and the WS-trade `header` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    /// The grant from the rate limiter.
    pub grant: Grant,
    /// Server time (ms).
    pub now_ms: u64,
    /// A per-request trace number.
    pub trace: u64,
}

/// Full WS-trade response (protocol.md §6).
#[allow(clippy::too_many_arguments)]
pub fn trade_response(
    op: &str,
    code: i64,
    msg: &str,
    data: Value,
    ret_ext_info: Value,
    limit: Option<&LimitInfo>,
    req_id: Option<&str>,
    conn_id: &str,
) -> String {
    let mut m = Map::new();
    if let Some(r) = req_id {
        m.insert("reqId".into(), r.into());
    }
    m.insert("retCode".into(), code.into());
    m.insert("retMsg".into(), msg.into());
    m.insert("op".into(), op.into());
    m.insert("data".into(), data);
    m.insert("retExtInfo".into(), ret_ext_info);
    if let Some(l) = limit {
        m.insert(
            "header".into(),
            json!({
                "X-Bapi-Limit": l.grant.limit.to_string(),
                "X-Bapi-Limit-Status": l.grant.remaining.to_string(),
                "X-Bapi-Limit-Reset-Timestamp": l.grant.reset_ms.to_string(),
                "Traceid": format!("{:032x}", l.trace),
                "Timenow": l.now_ms.to_string(),
            }),
        );
    }
    m.insert("connId".into(), conn_id.into());
    Value::Object(m).to_string()
}

/// Maps a WS-trade op to the exchange op and its rate-limit endpoint.
pub fn trade_op(op: &str) -> Option<(Op, Endpoint)> {
    Some(match op {
        "order.create" => (Op::Create, Endpoint::Create),
        "order.amend" => (Op::Amend, Endpoint::Amend),
        "order.cancel" => (Op::Cancel, Endpoint::Cancel),
        "order.create-batch" => (Op::CreateBatch, Endpoint::CreateBatch),
        "order.amend-batch" => (Op::AmendBatch, Endpoint::AmendBatch),
        "order.cancel-batch" => (Op::CancelBatch, Endpoint::CancelBatch),
        _ => return None,
    })
}

/// The private topics a client may subscribe to: `order`, `execution`, `execution.fast`, `position`,
/// `wallet`, and their `.spot`/`.linear` variants. Returns (base, category filter).
pub fn parse_private_topic(t: &str) -> Option<(&'static str, Option<Category>)> {
    let (base, rest): (&'static str, &str) = if let Some(r) = t.strip_prefix("execution.fast") {
        ("execution.fast", r)
    } else if let Some(r) = t.strip_prefix("execution") {
        ("execution", r)
    } else if let Some(r) = t.strip_prefix("order") {
        ("order", r)
    } else if let Some(r) = t.strip_prefix("position") {
        ("position", r)
    } else if let Some(r) = t.strip_prefix("wallet") {
        ("wallet", r)
    } else {
        return None;
    };
    match rest {
        "" => Some((base, None)),
        ".spot" if base != "wallet" && base != "position" => Some((base, Some(Category::Spot))),
        ".linear" if base != "wallet" => Some((base, Some(Category::Linear))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn acks_follow_each_streams_shape() {
        let spot = WsKind::Public(Category::Spot);
        let lin = WsKind::Public(Category::Linear);
        let a: Value =
            serde_json::from_str(&sub_ack(spot, "subscribe", true, "", Some("10001"), "c1"))
                .unwrap();
        assert_eq!(
            a,
            json!({"success": true, "ret_msg": "subscribe", "conn_id": "c1", "req_id": "10001", "op": "subscribe"})
        );
        let a: Value =
            serde_json::from_str(&sub_ack(lin, "subscribe", true, "", None, "c1")).unwrap();
        assert_eq!(
            a,
            json!({"success": true, "ret_msg": "", "conn_id": "c1", "req_id": "", "op": "subscribe"})
        );
        let a: Value = serde_json::from_str(&sub_ack(
            lin,
            "subscribe",
            false,
            "error:handler not found,topic:x",
            Some("r"),
            "c1",
        ))
        .unwrap();
        assert_eq!(a["success"], false);
        assert_eq!(a["ret_msg"], "error:handler not found,topic:x");
        let p: Value = serde_json::from_str(&pong(spot, None, "c1", 5)).unwrap();
        assert_eq!(
            p,
            json!({"success": true, "ret_msg": "pong", "conn_id": "c1", "op": "ping"})
        );
        let p: Value = serde_json::from_str(&pong(WsKind::Private, Some("t"), "c1", 5)).unwrap();
        assert_eq!(
            p,
            json!({"req_id": "t", "op": "pong", "args": ["5"], "conn_id": "c1"})
        );
        let p: Value = serde_json::from_str(&pong(WsKind::Trade, None, "c1", 5)).unwrap();
        assert_eq!(
            p,
            json!({"retCode": 0, "retMsg": "OK", "op": "pong", "data": ["5"], "connId": "c1"})
        );
    }

    #[test]
    fn parses_trade_request_with_header_and_numeric_ids() {
        let m = parse_client(br#"{"reqId":"a-1","header":{"X-BAPI-TIMESTAMP":17},"op":"order.create","args":[{"category":"linear"}]}"#).unwrap();
        assert_eq!(m.op, "order.create");
        assert_eq!(m.req_id.as_deref(), Some("a-1"));
        assert_eq!(m.args.len(), 1);
        assert!(m.header.is_some());
        assert_eq!(parse_client(b"[1]"), Err(WsError::NotJson));
        assert_eq!(parse_client(br#"{"args":[]}"#), Err(WsError::NoOp));
        assert_eq!(
            parse_client(br#"{"req_id":5,"op":"ping"}"#)
                .unwrap()
                .req_id
                .as_deref(),
            Some("5")
        );
    }

    #[test]
    fn private_topics() {
        assert_eq!(parse_private_topic("order"), Some(("order", None)));
        assert_eq!(
            parse_private_topic("execution.fast.linear"),
            Some(("execution.fast", Some(Category::Linear)))
        );
        assert_eq!(
            parse_private_topic("execution.spot"),
            Some(("execution", Some(Category::Spot)))
        );
        assert_eq!(parse_private_topic("wallet"), Some(("wallet", None)));
        assert_eq!(parse_private_topic("wallet.spot"), None);
        assert_eq!(parse_private_topic("orders"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn garbage_frames_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_client(&data);
        }
        #[test]
        fn topic_strings_never_panic(s in ".{0,40}") {
            let _ = parse_private_topic(&s);
        }
    }
}
