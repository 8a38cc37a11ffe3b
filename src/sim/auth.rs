//! Bybit v5 request authentication as the exchange checks it (server side).
//!
//! Contract: pure functions, no I/O, no clock reads (callers pass `now_ms`, wall-clock ms).
//! Signatures are HMAC-SHA256 over `timestamp + api_key + recv_window + payload` (REST) or
//! `"GET/realtime" + expires` (WebSocket auth), compared with the client's hex signature in
//! constant time. Secrets are never formatted into errors or messages.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Default `X-BAPI-RECV-WINDOW` when the header is absent.
pub const DEFAULT_RECV_WINDOW: u64 = 5000;

/// Why a request failed authentication. `code()` is Bybit's `retCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No or unknown API key (10003).
    UnknownKey,
    /// Missing, malformed or wrong signature (10004).
    BadSign,
    /// Timestamp outside `server - recv_window <= ts < server + 1000`, or unparsable (10002).
    Timestamp {
        /// The request's timestamp (0 if it could not be parsed).
        req_ts: u64,
        /// Server time used for the check.
        server_ts: u64,
        /// The receive window used.
        recv_window: u64,
    },
    /// WebSocket auth `expires` is not in the future (10002 style; Bybit answers "Params Error").
    Expired,
    /// Malformed auth arguments (10001).
    Params,
}

impl AuthError {
    /// Bybit's `retCode` for this error.
    pub const fn code(self) -> i64 {
        match self {
            AuthError::UnknownKey => 10003,
            AuthError::BadSign => 10004,
            AuthError::Timestamp { .. } => 10002,
            AuthError::Expired => 10002,
            AuthError::Params => 10001,
        }
    }

    /// Bybit-style `retMsg`.
    pub fn message(self) -> String {
        match self {
            AuthError::UnknownKey => "API key is invalid.".to_string(),
            AuthError::BadSign => "error sign! signature does not match".to_string(),
            AuthError::Timestamp {
                req_ts,
                server_ts,
                recv_window,
            } => format!(
                "invalid request, please check your server timestamp or recv_window param. \
                 req_timestamp[{req_ts}],server_timestamp[{server_ts}],recv_window[{recv_window}]"
            ),
            AuthError::Expired => "Params Error: auth expires is in the past".to_string(),
            AuthError::Params => "Params Error".to_string(),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for AuthError {}

/// HMAC-SHA256 of the concatenation of `parts` under `secret`.
pub fn hmac_parts(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        m.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&m.finalize().into_bytes());
    out
}

/// Lowercase hex of a 32-byte digest.
pub fn hex32(d: &[u8; 32]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for &b in d {
        s.push(char::from(H[usize::from(b >> 4)]));
        s.push(char::from(H[usize::from(b & 15)]));
    }
    s
}

fn unhex32(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let v = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let hi = v(*pair.first()?)?;
        let lo = v(*pair.get(1)?)?;
        *out.get_mut(i)? = (hi << 4) | lo;
    }
    Some(out)
}

/// Constant-time check of a hex signature against the expected digest.
pub fn sign_matches(expected: &[u8; 32], hex_sig: &[u8]) -> bool {
    let Some(got) = unhex32(hex_sig) else {
        return false;
    };
    let mut diff = 0u8;
    for (a, b) in expected.iter().zip(got.iter()) {
        diff |= a ^ b;
    }
    // Keep the comparison from being short-circuited by the optimiser.
    std::hint::black_box(diff) == 0
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Checks the timestamp rule `server - recv_window <= ts < server + 1000`.
pub fn check_timestamp(
    ts: &[u8],
    recv_window: Option<&[u8]>,
    now_ms: u64,
) -> Result<(u64, u64), AuthError> {
    let rw = match recv_window {
        None => DEFAULT_RECV_WINDOW,
        Some(v) => parse_u64(v).ok_or(AuthError::Params)?,
    };
    let t = parse_u64(ts).ok_or(AuthError::Timestamp {
        req_ts: 0,
        server_ts: now_ms,
        recv_window: rw,
    })?;
    if now_ms.saturating_sub(rw) <= t && t < now_ms + 1000 {
        Ok((t, rw))
    } else {
        Err(AuthError::Timestamp {
            req_ts: t,
            server_ts: now_ms,
            recv_window: rw,
        })
    }
}

/// The X-BAPI header values of one REST request.
#[derive(Debug, Clone, Copy)]
pub struct RestAuthHeaders<'a> {
    /// `X-BAPI-API-KEY`.
    pub api_key: Option<&'a [u8]>,
    /// `X-BAPI-TIMESTAMP`.
    pub timestamp: Option<&'a [u8]>,
    /// `X-BAPI-SIGN`.
    pub sign: Option<&'a [u8]>,
    /// `X-BAPI-RECV-WINDOW`.
    pub recv_window: Option<&'a [u8]>,
}

/// Verifies a REST request. `lookup` maps an API key to `(uid, secret)`. `payload` is the raw query
/// string (GET) or the raw body (POST). Order of checks: key, timestamp, signature.
pub fn check_rest<'s>(
    h: &RestAuthHeaders<'_>,
    payload: &[u8],
    now_ms: u64,
    lookup: impl FnOnce(&str) -> Option<(u64, &'s str)>,
) -> Result<u64, AuthError> {
    let key = h
        .api_key
        .and_then(|k| std::str::from_utf8(k).ok())
        .ok_or(AuthError::UnknownKey)?;
    let (uid, secret) = lookup(key).ok_or(AuthError::UnknownKey)?;
    let ts = h.timestamp.ok_or(AuthError::Timestamp {
        req_ts: 0,
        server_ts: now_ms,
        recv_window: DEFAULT_RECV_WINDOW,
    })?;
    check_timestamp(ts, h.recv_window, now_ms)?;
    let rw: &[u8] = h.recv_window.unwrap_or(b"5000");
    let expected = hmac_parts(secret.as_bytes(), &[ts, key.as_bytes(), rw, payload]);
    let sig = h.sign.ok_or(AuthError::BadSign)?;
    if sign_matches(&expected, sig) {
        Ok(uid)
    } else {
        Err(AuthError::BadSign)
    }
}

/// Verifies WebSocket `auth` args `[api_key, expires, signature]`: `expires` must be in the future and
/// the signature must be HMAC(secret, `"GET/realtime" + expires`).
pub fn check_ws_auth<'s>(
    api_key: &str,
    expires: u64,
    sign: &str,
    now_ms: u64,
    lookup: impl FnOnce(&str) -> Option<(u64, &'s str)>,
) -> Result<u64, AuthError> {
    let (uid, secret) = lookup(api_key).ok_or(AuthError::UnknownKey)?;
    if expires <= now_ms {
        return Err(AuthError::Expired);
    }
    let mut e = itoa::Buffer::new();
    let expected = hmac_parts(
        secret.as_bytes(),
        &[b"GET/realtime", e.format(expires).as_bytes()],
    );
    if sign_matches(&expected, sign.as_bytes()) {
        Ok(uid)
    } else {
        Err(AuthError::BadSign)
    }
}

/// Client-side helper: the hex signature for a REST request (used by the echo client and tests).
pub fn sign_rest(secret: &str, ts: u64, api_key: &str, recv_window: u64, payload: &[u8]) -> String {
    let mut a = itoa::Buffer::new();
    let mut b = itoa::Buffer::new();
    hex32(&hmac_parts(
        secret.as_bytes(),
        &[
            a.format(ts).as_bytes(),
            api_key.as_bytes(),
            b.format(recv_window).as_bytes(),
            payload,
        ],
    ))
}

/// Client-side helper: the hex signature for WebSocket auth with `expires`.
pub fn sign_ws(secret: &str, expires: u64) -> String {
    let mut e = itoa::Buffer::new();
    hex32(&hmac_parts(
        secret.as_bytes(),
        &[b"GET/realtime", e.format(expires).as_bytes()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "T3stSecretNotReal0123456789abcdefABCD";

    fn lookup(k: &str) -> Option<(u64, &'static str)> {
        (k == "XXXXXXXXXX").then_some((7, SECRET))
    }

    #[test]
    fn matches_the_shared_signing_vectors() {
        // /work/shared/bybit/protocol.md §2.3, computed independently with openssl.
        let get = sign_rest(
            SECRET,
            1658384314791,
            "XXXXXXXXXX",
            5000,
            b"category=option&symbol=BTC-29JUL22-25000-C",
        );
        assert_eq!(
            get,
            "31b5fcb80971112468b3803eea9830d08b757f8014c85388bf24d77da9b96184"
        );
        let post = sign_rest(
            SECRET,
            1658385579423,
            "XXXXXXXXXX",
            5000,
            b"{\"category\": \"option\"}",
        );
        assert_eq!(
            post,
            "840457102fe7ab72e275bab79f445967c2cb9cebc7784ca3cf7793c46c93496d"
        );
    }

    #[test]
    fn rest_check_accepts_good_and_rejects_each_failure() {
        let now = 1_700_000_000_000u64;
        let body = b"{\"category\":\"linear\"}";
        let ts = now.to_string();
        let sig = sign_rest(SECRET, now, "XXXXXXXXXX", 5000, body);
        let h = RestAuthHeaders {
            api_key: Some(b"XXXXXXXXXX"),
            timestamp: Some(ts.as_bytes()),
            sign: Some(sig.as_bytes()),
            recv_window: None,
        };
        assert_eq!(check_rest(&h, body, now, lookup), Ok(7));
        assert_eq!(
            check_rest(&h, b"{\"category\":\"spot\"}", now, lookup),
            Err(AuthError::BadSign)
        );
        assert_eq!(
            check_rest(
                &RestAuthHeaders {
                    api_key: Some(b"nope"),
                    ..h
                },
                body,
                now,
                lookup
            ),
            Err(AuthError::UnknownKey)
        );
        // Too old (> recv_window) and too far ahead (>= +1000) both fail with 10002.
        assert_eq!(
            check_rest(&h, body, now + 5001, lookup).map_err(AuthError::code),
            Err(10002)
        );
        assert_eq!(
            check_rest(&h, body, now - 1000, lookup).map_err(AuthError::code),
            Err(10002)
        );
        assert_eq!(check_rest(&h, body, now - 999, lookup), Ok(7));
        assert_eq!(check_rest(&h, body, now + 5000, lookup), Ok(7));
    }

    #[test]
    fn ws_auth_requires_future_expiry_and_good_sign() {
        let now = 1_662_350_399_000;
        let sig = sign_ws(SECRET, 1662350400000);
        assert_eq!(
            check_ws_auth("XXXXXXXXXX", 1662350400000, &sig, now, lookup),
            Ok(7)
        );
        assert_eq!(
            check_ws_auth("XXXXXXXXXX", 1662350400000, &sig, 1662350400000, lookup),
            Err(AuthError::Expired)
        );
        assert_eq!(
            check_ws_auth("XXXXXXXXXX", 1662350400001, &sig, now, lookup),
            Err(AuthError::BadSign)
        );
        assert_eq!(
            check_ws_auth("other", 1662350400000, &sig, now, lookup),
            Err(AuthError::UnknownKey)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn garbage_signatures_and_timestamps_never_panic(sig in proptest::collection::vec(any::<u8>(), 0..80),
                                                         ts in proptest::collection::vec(any::<u8>(), 0..25)) {
            let h = RestAuthHeaders { api_key: Some(b"XXXXXXXXXX"), timestamp: Some(&ts), sign: Some(&sig), recv_window: None };
            prop_assert!(check_rest(&h, b"", 1_700_000_000_000, lookup).is_err());
        }
    }
}
