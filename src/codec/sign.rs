//! HMAC-SHA256 request signing for Bybit v5 (REST and WebSocket auth).
//!
//! Contract: [`Signer::sign`] allocates nothing, never blocks and never
//! panics. A [`Signer`] is built once per API key (the only allocation-free
//! way to sign fast is to key the HMAC once and clone the keyed state per
//! signature). Output is lowercase hex, as Bybit requires.
//!
//! Secrets: [`Credentials`] and [`Signer`] never print the secret; their
//! `Debug`/`Display` show only the first four characters of the API key.
//!
//! String to sign:
//! - REST: `timestamp + api_key + recv_window + payload` ([`rest_prehash`]),
//!   where `payload` is the exact query string (GET) or body bytes (POST).
//! - WebSocket auth (private stream and trade API): `GET/realtime{expires}`.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::ids::FixedStr;

/// An API key: printable ASCII, at most 64 bytes.
pub type ApiKey = FixedStr<64>;

/// What was wrong with a key or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    /// The API key is empty, too long or has characters outside printable ASCII.
    BadApiKey,
    /// The secret is empty.
    EmptySecret,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignError::BadApiKey => "API key must be 1..=64 printable ASCII characters",
            SignError::EmptySecret => "API secret is empty",
        })
    }
}

impl std::error::Error for SignError {}

/// An API key and its secret. `Debug` and `Display` redact the secret and most
/// of the key.
#[derive(Clone)]
pub struct Credentials {
    api_key: ApiKey,
    secret: String,
}

impl Credentials {
    /// Validates and stores a key pair.
    pub fn new(api_key: &str, secret: &str) -> Result<Credentials, SignError> {
        if api_key.is_empty() {
            return Err(SignError::BadApiKey);
        }
        let api_key = ApiKey::new(api_key.as_bytes()).map_err(|_| SignError::BadApiKey)?;
        if secret.is_empty() {
            return Err(SignError::EmptySecret);
        }
        Ok(Credentials {
            api_key,
            secret: secret.to_owned(),
        })
    }

    /// The API key (sent in clear in headers and auth messages).
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    /// Builds the pre-keyed signer for this key pair.
    pub fn signer(&self) -> Signer {
        Signer::new(self)
    }
}

fn write_redacted_key(key: &ApiKey, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let s = key.as_str();
    let shown = s.get(..4.min(s.len())).unwrap_or("");
    write!(f, "{shown}***")
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { api_key: ")?;
        write_redacted_key(&self.api_key, f)?;
        f.write_str(", secret: <redacted> }")
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("api key ")?;
        write_redacted_key(&self.api_key, f)
    }
}

/// A pre-keyed HMAC-SHA256 signer for one API key. Cloning the keyed state per
/// signature avoids re-deriving the key pads every time.
#[derive(Clone)]
pub struct Signer {
    api_key: ApiKey,
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer { api_key: ")?;
        write_redacted_key(&self.api_key, f)?;
        f.write_str(" }")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Signer {
    /// Keys the HMAC with the secret (HMAC accepts any key length).
    pub fn new(creds: &Credentials) -> Signer {
        let keyed = match <Hmac<Sha256> as KeyInit>::new_from_slice(creds.secret.as_bytes()) {
            Ok(m) => m,
            // HMAC takes keys of any length; this arm exists only to avoid a panic path.
            Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
        };
        Signer {
            api_key: creds.api_key,
            keyed,
        }
    }

    /// The API key this signer belongs to.
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    /// Signs the concatenation of `parts`, writing 64 lowercase hex bytes.
    #[inline]
    pub fn sign(&self, parts: &[&[u8]], out: &mut [u8; 64]) {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        let digest = mac.finalize().into_bytes();
        for (i, b) in digest.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
    }

    /// Signs a REST request: `timestamp + api_key + recv_window + payload`.
    #[inline]
    pub fn sign_rest(
        &self,
        timestamp: &[u8],
        recv_window: &[u8],
        payload: &[u8],
        out: &mut [u8; 64],
    ) {
        self.sign(
            &rest_prehash(timestamp, self.api_key.as_bytes(), recv_window, payload),
            out,
        );
    }

    /// Signs the WebSocket auth string `GET/realtime{expires}`.
    #[inline]
    pub fn sign_ws_auth(&self, expires_ms: u64, out: &mut [u8; 64]) {
        let mut b = itoa::Buffer::new();
        self.sign(&ws_auth_prehash(b.format(expires_ms).as_bytes()), out);
    }
}

/// The REST string-to-sign as parts (no copy): `timestamp + api_key + recv_window + payload`.
#[inline]
pub fn rest_prehash<'a>(
    timestamp: &'a [u8],
    api_key: &'a [u8],
    recv_window: &'a [u8],
    payload: &'a [u8],
) -> [&'a [u8]; 4] {
    [timestamp, api_key, recv_window, payload]
}

/// The WebSocket auth string-to-sign as parts: `GET/realtime` + decimal `expires`.
#[inline]
pub fn ws_auth_prehash(expires_decimal: &[u8]) -> [&[u8]; 2] {
    [b"GET/realtime", expires_decimal]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let c = Credentials::new("ABCDEFGHIJ", "supersecretvalue").unwrap();
        for s in [
            format!("{c:?}"),
            format!("{c}"),
            format!("{:?}", c.signer()),
        ] {
            assert!(!s.contains("supersecretvalue"), "{s}");
            assert!(!s.contains("ABCDEFGHIJ"), "{s}");
            assert!(s.contains("ABCD***"), "{s}");
        }
    }

    #[test]
    fn rejects_empty_or_bad_keys() {
        assert_eq!(Credentials::new("", "s").err(), Some(SignError::BadApiKey));
        assert_eq!(
            Credentials::new("k", "").err(),
            Some(SignError::EmptySecret)
        );
        assert_eq!(
            Credentials::new(&"k".repeat(65), "s").err(),
            Some(SignError::BadApiKey)
        );
    }
}
