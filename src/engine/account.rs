//! Who the engine trades as: the account and API key behind the configured
//! credentials, read once at start-up from `GET /v5/user/query-api`.
//!
//! Two uses. The journal's session key holds the account's uid and the
//! key's id, so a journal written for another account, another key or
//! another exchange instance (a simulator restarted on the same port) is
//! never replayed into this run's position. And a refused key stops
//! start-up with the exchange's own `retCode` and `retMsg` and the variable
//! to fix, before any other call can fail in a vaguer way.
//!
//! Contract: start-up only; allocates; no I/O here (the caller sends the
//! request and hands over the body).

use std::fmt;

/// The account and key behind the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `userID`: the account's uid.
    pub uid: u64,
    /// `id`: the API key's id (differs between keys of one account).
    pub key_id: String,
    /// `readOnly` was 1: the key cannot trade.
    pub read_only: bool,
}

impl Account {
    /// The identity written into the journal's session line.
    pub fn journal_key(&self) -> String {
        format!("{}/{}", self.uid, self.key_id)
    }
}

/// Why the key's account could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// The exchange answered with a non-zero `retCode`.
    Refused {
        /// `retCode`.
        code: i64,
        /// `retMsg`.
        msg: String,
    },
    /// The answer is not the documented shape (what was wrong).
    Malformed(&'static str),
    /// The key is read-only: it cannot place orders.
    ReadOnly,
}

/// The variable a refusal of the key points at, by Bybit's error code;
/// `None` for a code that is not about the key.
pub fn key_culprit(code: i64) -> Option<&'static str> {
    Some(match code {
        // API key is invalid; key expired.
        10003 | 33004 => "BYBIT_API_KEY",
        // Signature mismatch: the secret does not belong to the key.
        10004 => "BYBIT_API_SECRET",
        // Permission denied; IP not in the key's whitelist.
        10005 | 10010 => "BYBIT_API_KEY (its permissions or IP whitelist)",
        _ => return None,
    })
}

/// The variables a refusal of query-api points at.
fn culprit(code: i64) -> &'static str {
    key_culprit(code).unwrap_or("BYBIT_API_KEY / BYBIT_API_SECRET")
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::Refused { code, msg } => write!(
                f,
                "{}: the exchange refused the key: {code} {msg}",
                culprit(*code)
            ),
            AccountError::Malformed(what) => {
                write!(f, "the exchange's key information (query-api): {what}")
            }
            AccountError::ReadOnly => write!(
                f,
                "BYBIT_API_KEY: the key is read-only; trading needs a key with order permissions"
            ),
        }
    }
}

impl std::error::Error for AccountError {}

/// Reads a `query-api` answer (any HTTP status: a refusal's body carries the
/// reason).
pub fn parse_query_api(body: &[u8]) -> Result<Account, AccountError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| AccountError::Malformed("not JSON"))?;
    let code = v
        .get("retCode")
        .and_then(serde_json::Value::as_i64)
        .ok_or(AccountError::Malformed("no numeric retCode"))?;
    if code != 0 {
        let msg = v
            .get("retMsg")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_string();
        return Err(AccountError::Refused { code, msg });
    }
    let r = v
        .get("result")
        .ok_or(AccountError::Malformed("no result"))?;
    // `userID` is a number on Bybit; a string of digits is taken too.
    let uid = match r.get("userID") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or(AccountError::Malformed("result.userID is not a uid"))?;
    let key_id = match r.get("id") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(AccountError::Malformed("result.id is not a key id")),
    };
    let read_only = r.get("readOnly").and_then(serde_json::Value::as_i64) == Some(1);
    Ok(Account {
        uid,
        key_id,
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_gives_the_uid_and_key_id() {
        let body = br#"{"retCode":0,"retMsg":"","result":{"id":"13770661","note":"mm","apiKey":"XXXX","readOnly":0,"secret":"","permissions":{"Spot":["SpotTrade"]},"ips":["*"],"type":1,"userID":24617703,"isMaster":true},"retExtInfo":{},"time":1}"#;
        let a = parse_query_api(body).unwrap();
        assert_eq!(
            a,
            Account {
                uid: 24617703,
                key_id: "13770661".into(),
                read_only: false
            }
        );
        assert_eq!(a.journal_key(), "24617703/13770661");
    }

    #[test]
    fn a_refusal_names_the_variable_and_passes_the_exchange_words_on() {
        let e = parse_query_api(br#"{"retCode":10003,"retMsg":"API key is invalid.","result":{},"retExtInfo":{},"time":1}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "BYBIT_API_KEY: the exchange refused the key: 10003 API key is invalid."
        );
        let e = parse_query_api(br#"{"retCode":10004,"retMsg":"error sign!","result":{}}"#)
            .unwrap_err();
        assert!(e.to_string().starts_with("BYBIT_API_SECRET: "), "{e}");
        assert!(e.to_string().ends_with("10004 error sign!"), "{e}");
    }

    #[test]
    fn malformed_answers_say_what_is_missing() {
        for (body, what) in [
            (&b"<html>"[..], "not JSON"),
            (br#"{"retMsg":"OK"}"#, "no numeric retCode"),
            (br#"{"retCode":0}"#, "no result"),
            (
                br#"{"retCode":0,"result":{"id":"1"}}"#,
                "result.userID is not a uid",
            ),
            (
                br#"{"retCode":0,"result":{"userID":-3,"id":"1"}}"#,
                "result.userID is not a uid",
            ),
            (
                br#"{"retCode":0,"result":{"userID":7,"id":""}}"#,
                "result.id is not a key id",
            ),
        ] {
            assert_eq!(parse_query_api(body), Err(AccountError::Malformed(what)));
        }
    }

    #[test]
    fn a_read_only_key_is_seen() {
        let a = parse_query_api(br#"{"retCode":0,"result":{"userID":"7","id":9,"readOnly":1}}"#)
            .unwrap();
        assert!(a.read_only);
        assert_eq!(a.journal_key(), "7/9");
    }
}
