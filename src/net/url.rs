//! URLs for the four schemes the engine speaks (`ws`, `wss`, `http`,
//! `https`) and the Bybit venue base URLs.
//!
//! Contract: parsing happens at start-up and allocates the parsed `Url`
//! once; the accessors are free. [`Url::resolve`] blocks on the system
//! resolver (start-up only). Supported syntax: `scheme://host[:port][/path][?query]`
//! with `host` a DNS name, an IPv4 literal or a bracketed IPv6 literal.
//! User info, fragments, whitespace and control characters are rejected.

use std::net::{SocketAddr, ToSocketAddrs};

use super::NetError;
use crate::ids::Category;

/// URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `ws://` (plain WebSocket, default port 80).
    Ws,
    /// `wss://` (WebSocket over TLS, default port 443).
    Wss,
    /// `http://` (default port 80).
    Http,
    /// `https://` (default port 443).
    Https,
}

impl Scheme {
    /// True for `wss` and `https`.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Wss | Scheme::Https)
    }
    /// True for `ws` and `wss`.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
    /// The scheme's default port.
    pub fn default_port(self) -> u16 {
        if self.is_tls() {
            443
        } else {
            80
        }
    }
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    raw: String,
    scheme: Scheme,
    /// Byte range of the host in `raw` (without IPv6 brackets).
    host: (usize, usize),
    port: u16,
    /// Start of path (+ query) in `raw`; `raw.len()` when the path is empty.
    path_start: usize,
}

impl Url {
    /// Parses `s`; on error says what was wrong.
    pub fn parse(s: &str) -> Result<Url, NetError> {
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(NetError::Url("whitespace or control character"));
        }
        let sep = s.find("://").ok_or(NetError::Url("missing ://"))?;
        let scheme = match s[..sep].to_ascii_lowercase().as_str() {
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(NetError::Url("scheme is not ws, wss, http or https")),
        };
        let auth_start = sep + 3;
        let rest = &s[auth_start..];
        if rest.contains('#') {
            return Err(NetError::Url("fragment not allowed"));
        }
        let auth_len = rest.find(['/', '?']).unwrap_or(rest.len());
        let auth = &rest[..auth_len];
        if auth.contains('@') {
            return Err(NetError::Url("user info not allowed"));
        }
        let (host_rel, port_str) = if let Some(inner) = auth.strip_prefix('[') {
            let close = inner.find(']').ok_or(NetError::Url("unclosed [ in host"))?;
            let after = &inner[close + 1..];
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(NetError::Url("junk after ]"))?),
            };
            let h = &inner[..close];
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(NetError::Url("bad IPv6 literal"));
            }
            ((1, 1 + close), port)
        } else {
            match auth.rfind(':') {
                Some(c) => ((0, c), Some(&auth[c + 1..])),
                None => ((0, auth.len()), None),
            }
        };
        let host = &auth[host_rel.0..host_rel.1];
        if host.is_empty() {
            return Err(NetError::Url("empty host"));
        }
        if !auth.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Err(NetError::Url("bad character in host"));
        }
        let port = match port_str {
            None => scheme.default_port(),
            Some(p) => {
                if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NetError::Url("bad port"));
                }
                match p.parse::<u16>() {
                    Ok(0) | Err(_) => return Err(NetError::Url("bad port")),
                    Ok(v) => v,
                }
            }
        };
        let path_start = auth_start + auth_len;
        let raw = if s[path_start..].starts_with('?') {
            // Normalise `host?q` to `host/?q` so `path()` is a request target.
            format!("{}/{}", &s[..path_start], &s[path_start..])
        } else {
            s.to_string()
        };
        Ok(Url {
            raw,
            scheme,
            host: (auth_start + host_rel.0, auth_start + host_rel.1),
            port,
            path_start,
        })
    }

    /// The URL as given (with `/` inserted before a query that had no path).
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
    /// Host name or IP literal (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.raw[self.host.0..self.host.1]
    }
    /// Port (explicit or the scheme default).
    pub fn port(&self) -> u16 {
        self.port
    }
    /// Path plus query, `"/"` when the URL has none.
    pub fn path(&self) -> &str {
        match &self.raw[self.path_start..] {
            "" => "/",
            p => p,
        }
    }
    /// True when the scheme needs TLS.
    pub fn is_tls(&self) -> bool {
        self.scheme.is_tls()
    }
    /// `host[:port]` as sent in a `Host` header (port omitted when default).
    pub fn host_header(&self) -> String {
        let h = if self.host().contains(':') {
            format!("[{}]", self.host())
        } else {
            self.host().to_string()
        };
        if self.port == self.scheme.default_port() {
            h
        } else {
            format!("{h}:{}", self.port)
        }
    }
    /// This URL with `suffix` appended to its path (for a base URL plus an
    /// endpoint path such as `/v5/order/create`). The base must have no query.
    pub fn join(&self, suffix: &str) -> Result<Url, NetError> {
        if self.raw[self.path_start..].contains('?') {
            return Err(NetError::Url("cannot join onto a URL with a query"));
        }
        let base = self.raw.trim_end_matches('/');
        let suffix = suffix.trim_start_matches('/');
        Url::parse(&format!("{base}/{suffix}"))
    }
    /// Resolves host and port (blocking: system resolver; start-up only).
    /// Prefers an IPv4 address.
    pub fn resolve(&self) -> Result<SocketAddr, NetError> {
        let addrs: Vec<SocketAddr> = (self.host(), self.port)
            .to_socket_addrs()
            .map_err(|_| NetError::Resolve)?
            .collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or(NetError::Resolve)
    }
}

/// Base URLs of one venue: Bybit mainnet, testnet (protocol.md §1.1, §2.1),
/// or a local simulator whose bases are given at run time. Stream paths are
/// appended to the WebSocket base (`/v5/public/linear`, `/v5/private`,
/// `/v5/trade`), so a simulator must serve the same paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venue {
    ws_base: Url,
    rest_base: Url,
}

impl Venue {
    /// Bybit mainnet (`wss://stream.bybit.com`, `https://api.bybit.com`).
    pub fn mainnet() -> Venue {
        Venue::custom("wss://stream.bybit.com", "https://api.bybit.com")
            .unwrap_or_else(|_| unreachable!("constant URLs parse"))
    }
    /// Bybit testnet (`wss://stream-testnet.bybit.com`, `https://api-testnet.bybit.com`).
    pub fn testnet() -> Venue {
        Venue::custom(
            "wss://stream-testnet.bybit.com",
            "https://api-testnet.bybit.com",
        )
        .unwrap_or_else(|_| unreachable!("constant URLs parse"))
    }
    /// Any other venue, e.g. the local simulator (`ws://127.0.0.1:PORT`,
    /// `http://127.0.0.1:PORT`). The WebSocket base must be ws/wss and the
    /// REST base http/https, both without a query.
    pub fn custom(ws_base: &str, rest_base: &str) -> Result<Venue, NetError> {
        let ws_base = Url::parse(ws_base)?;
        let rest_base = Url::parse(rest_base)?;
        if !ws_base.scheme().is_websocket() {
            return Err(NetError::Url("websocket base must be ws:// or wss://"));
        }
        if rest_base.scheme().is_websocket() {
            return Err(NetError::Url("rest base must be http:// or https://"));
        }
        // Reject a query now rather than at the first join.
        ws_base.join("")?;
        rest_base.join("")?;
        Ok(Venue { ws_base, rest_base })
    }
    /// Public market-data stream for `category` (`/v5/public/{spot,linear}`).
    pub fn public_ws(&self, category: Category) -> Url {
        self.ws_join(match category {
            Category::Spot => "/v5/public/spot",
            Category::Linear => "/v5/public/linear",
        })
    }
    /// Private stream (`/v5/private`).
    pub fn private_ws(&self) -> Url {
        self.ws_join("/v5/private")
    }
    /// WebSocket trade (order entry) stream (`/v5/trade`).
    pub fn trade_ws(&self) -> Url {
        self.ws_join("/v5/trade")
    }
    /// REST base URL.
    pub fn rest_base(&self) -> &Url {
        &self.rest_base
    }
    /// REST base plus an endpoint path.
    pub fn rest(&self, path: &str) -> Result<Url, NetError> {
        self.rest_base.join(path)
    }

    fn ws_join(&self, path: &'static str) -> Url {
        // `custom` checked that the base has no query, and the constant
        // paths are valid, so the join cannot fail.
        self.ws_base
            .join(path)
            .unwrap_or_else(|_| unreachable!("validated base + constant path"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_four_schemes() {
        let u = Url::parse("wss://stream.bybit.com/v5/public/linear").unwrap();
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.path()),
            (Scheme::Wss, "stream.bybit.com", 443, "/v5/public/linear")
        );
        let u = Url::parse("ws://127.0.0.1:9001").unwrap();
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.path()),
            (Scheme::Ws, "127.0.0.1", 9001, "/")
        );
        let u = Url::parse("http://localhost:8080/v5/order/realtime?category=linear").unwrap();
        assert_eq!(u.path(), "/v5/order/realtime?category=linear");
        assert_eq!(u.host_header(), "localhost:8080");
        let u = Url::parse("HTTPS://[::1]:8443?x=1").unwrap();
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.path()),
            (Scheme::Https, "::1", 8443, "/?x=1")
        );
        assert_eq!(u.as_str(), "HTTPS://[::1]:8443/?x=1");
        assert_eq!(u.host_header(), "[::1]:8443");
    }

    #[test]
    fn rejects_bad_urls_with_a_reason() {
        for (s, why) in [
            ("ftp://x", "scheme is not ws, wss, http or https"),
            ("wss//x", "missing ://"),
            ("wss://", "empty host"),
            ("wss://:80/", "empty host"),
            ("wss://h:0/", "bad port"),
            ("wss://h:65536/", "bad port"),
            ("wss://h:/", "bad port"),
            ("wss://u@h/", "user info not allowed"),
            ("wss://h/a#f", "fragment not allowed"),
            ("wss://h /", "whitespace or control character"),
            ("wss://[::1/", "unclosed [ in host"),
            ("wss://[zz]/", "bad IPv6 literal"),
            ("wss://h*x/", "bad character in host"),
        ] {
            assert_eq!(Url::parse(s), Err(NetError::Url(why)), "{s}");
        }
    }

    #[test]
    fn venues() {
        let m = Venue::mainnet();
        assert_eq!(
            m.public_ws(Category::Linear).as_str(),
            "wss://stream.bybit.com/v5/public/linear"
        );
        assert_eq!(
            m.public_ws(Category::Spot).as_str(),
            "wss://stream.bybit.com/v5/public/spot"
        );
        assert_eq!(m.private_ws().as_str(), "wss://stream.bybit.com/v5/private");
        assert_eq!(m.trade_ws().as_str(), "wss://stream.bybit.com/v5/trade");
        assert_eq!(
            m.rest("/v5/order/create").unwrap().as_str(),
            "https://api.bybit.com/v5/order/create"
        );
        let t = Venue::testnet();
        assert_eq!(
            t.trade_ws().as_str(),
            "wss://stream-testnet.bybit.com/v5/trade"
        );
        assert_eq!(t.rest_base().host(), "api-testnet.bybit.com");
        let l = Venue::custom("ws://127.0.0.1:7001/", "http://127.0.0.1:7002").unwrap();
        assert_eq!(l.private_ws().as_str(), "ws://127.0.0.1:7001/v5/private");
        assert_eq!(l.rest("v5/market/time").unwrap().path(), "/v5/market/time");
        assert!(Venue::custom("http://x", "http://y").is_err());
        assert!(Venue::custom("ws://x", "wss://y").is_err());
        assert!(Venue::custom("ws://x?q=1", "http://y").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Url::parse(&s);
        }

        #[test]
        fn never_panics_near_valid(
            scheme in "(ws|wss|http|https|x)",
            sep in "(://|:/|//)",
            host in "[a-z0-9.:\\[\\]@-]{0,12}",
            tail in "[/?a-z0-9#:=&]{0,12}",
        ) {
            let _ = Url::parse(&format!("{scheme}{sep}{host}{tail}"));
        }

        #[test]
        fn round_trips_generated_urls(
            tls in any::<bool>(), ws in any::<bool>(),
            host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
            port in 1u16.., path in "(/[a-z0-9._-]{1,8}){0,4}(\\?[a-z]=[0-9]{1,3})?",
        ) {
            let scheme = match (ws, tls) {
                (true, true) => "wss", (true, false) => "ws",
                (false, true) => "https", (false, false) => "http",
            };
            let s = format!("{scheme}://{host}:{port}{path}");
            let u = Url::parse(&s).unwrap();
            prop_assert_eq!(u.host(), host.as_str());
            prop_assert_eq!(u.port(), port);
            prop_assert_eq!(u.is_tls(), tls);
            prop_assert_eq!(u.scheme().is_websocket(), ws);
            let expect_path = if path.starts_with('/') { path.clone() } else { format!("/{path}") };
            prop_assert_eq!(u.path(), expect_path.as_str());
            let expect_raw = if path.starts_with('?') { format!("{scheme}://{host}:{port}/{path}") } else { s.clone() };
            prop_assert_eq!(u.as_str(), expect_raw.as_str());
        }
    }
}
