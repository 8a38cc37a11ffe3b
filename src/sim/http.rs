//! Sans-I/O HTTP/1.1 request parser and response writer for the simulator's REST side.
//!
//! Contract: [`parse_request`] works on a byte buffer that the caller fills from a socket; it never
//! allocates, never blocks and never panics on any input (property-tested). It returns
//! `Ok(None)` while the request is incomplete, so a buffer holding several pipelined requests is
//! parsed one request at a time using the consumed length. Limits on the header block and the body
//! turn oversized requests into typed errors (the server answers those with HTTP 400 and Bybit's
//! error envelope, then closes the connection because framing is lost).
//! [`write_response`] appends one response (status line, headers, `Content-Length`, body) to a
//! caller-owned `Vec<u8>`.

use std::fmt;
use std::io::Write;

/// Maximum number of headers kept per request (more are rejected with [`HttpError::TooManyHeaders`]).
pub const MAX_HEADERS: usize = 32;

/// Size limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum bytes of request line plus headers (including the blank line).
    pub max_head: usize,
    /// Maximum `Content-Length`.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 8 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// HTTP methods the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// Any other token (answered with an error envelope).
    Other,
}

/// Why a request could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// The header block exceeds [`Limits::max_head`].
    HeadTooLarge,
    /// `Content-Length` exceeds [`Limits::max_body`].
    BodyTooLarge,
    /// The request line is not `METHOD SP TARGET SP HTTP/1.x`.
    BadRequestLine,
    /// A header line has no colon, an invalid name or non-visible bytes.
    BadHeader,
    /// More than [`MAX_HEADERS`] headers.
    TooManyHeaders,
    /// `Content-Length` is not a decimal number, or appears twice with different values.
    BadContentLength,
    /// `Transfer-Encoding` (chunked bodies) is not supported.
    TransferEncoding,
}

impl HttpError {
    /// A short human-readable description (used in the error envelope's `retMsg`).
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpError::HeadTooLarge => "request header too large",
            HttpError::BodyTooLarge => "request body too large",
            HttpError::BadRequestLine => "malformed request line",
            HttpError::BadHeader => "malformed header line",
            HttpError::TooManyHeaders => "too many headers",
            HttpError::BadContentLength => "invalid Content-Length",
            HttpError::TransferEncoding => "Transfer-Encoding is not supported",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for HttpError {}

/// One parsed request; all slices borrow the input buffer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The method token as sent.
    pub method_raw: &'a [u8],
    /// The path (target up to `?`).
    pub path: &'a [u8],
    /// The raw query string after `?` (empty if none), exactly as on the wire.
    pub query: &'a [u8],
    /// Whether the request is HTTP/1.0 (then the connection closes after the reply unless keep-alive).
    pub http10: bool,
    headers: [(&'a [u8], &'a [u8]); MAX_HEADERS],
    n_headers: usize,
    /// The body (`Content-Length` bytes).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The value of the first header named `name` (ASCII case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        let n = name.as_bytes();
        self.headers
            .get(..self.n_headers)
            .unwrap_or(&[])
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| *v)
    }

    /// The header value as UTF-8 text.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Whether a comma-separated header contains `token` (case-insensitive), e.g. `Connection: Upgrade`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .map(|v| {
                v.split(|&b| b == b',')
                    .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
            })
            .unwrap_or(false)
    }

    /// Whether the client asked to keep the connection open after this request.
    pub fn keep_alive(&self) -> bool {
        if self.http10 {
            self.header_has_token("Connection", "keep-alive")
        } else {
            !self.header_has_token("Connection", "close")
        }
    }

    /// Whether this is a WebSocket upgrade request.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == Method::Get
            && self.header_has_token("Upgrade", "websocket")
            && self.header_has_token("Connection", "upgrade")
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if *first == b' ' || *first == b'\t' {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if *last == b' ' || *last == b'\t' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_decimal(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 12 {
        return None;
    }
    let mut n: usize = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses one request from the front of `buf`. `Ok(None)` = need more bytes; `Ok(Some((req, n)))`
/// = a complete request occupying the first `n` bytes.
pub fn parse_request<'a>(
    buf: &'a [u8],
    limits: &Limits,
) -> Result<Option<(Request<'a>, usize)>, HttpError> {
    let head_end = match find_head_end(buf) {
        Some(e) if e <= limits.max_head => e,
        Some(_) => return Err(HttpError::HeadTooLarge),
        None if buf.len() >= limits.max_head => return Err(HttpError::HeadTooLarge),
        None => return Ok(None),
    };
    let head = buf.get(..head_end - 4).ok_or(HttpError::BadRequestLine)?;
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().ok_or(HttpError::BadRequestLine)?;
    let mut parts = line.split(|&b| b == b' ');
    let method_raw = parts.next().ok_or(HttpError::BadRequestLine)?;
    let target = parts.next().ok_or(HttpError::BadRequestLine)?;
    let version = parts.next().ok_or(HttpError::BadRequestLine)?;
    if parts.next().is_some() || method_raw.is_empty() || !method_raw.iter().all(|&b| is_tchar(b)) {
        return Err(HttpError::BadRequestLine);
    }
    if target.first() != Some(&b'/') || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(HttpError::BadRequestLine);
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        _ => return Err(HttpError::BadRequestLine),
    };
    let method = match method_raw {
        b"GET" => Method::Get,
        b"POST" => Method::Post,
        _ => Method::Other,
    };
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (
            target.get(..q).unwrap_or(&[]),
            target.get(q + 1..).unwrap_or(&[]),
        ),
        None => (target, &[][..]),
    };
    let mut headers: [(&[u8], &[u8]); MAX_HEADERS] = [(&[], &[]); MAX_HEADERS];
    let mut n_headers = 0;
    let mut content_length: Option<usize> = None;
    for l in lines {
        let colon = l
            .iter()
            .position(|&b| b == b':')
            .ok_or(HttpError::BadHeader)?;
        let name = l.get(..colon).unwrap_or(&[]);
        let value = trim(l.get(colon + 1..).unwrap_or(&[]));
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(HttpError::BadHeader);
        }
        if !value
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
        {
            return Err(HttpError::BadHeader);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_decimal(value).ok_or(HttpError::BadContentLength)?;
            if content_length.is_some_and(|c| c != n) {
                return Err(HttpError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(HttpError::TransferEncoding);
        }
        let slot = headers
            .get_mut(n_headers)
            .ok_or(HttpError::TooManyHeaders)?;
        *slot = (name, value);
        n_headers += 1;
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > limits.max_body {
        return Err(HttpError::BodyTooLarge);
    }
    let total = head_end + body_len;
    let Some(body) = buf.get(head_end..total) else {
        return Ok(None);
    };
    Ok(Some((
        Request {
            method,
            method_raw,
            path,
            query,
            http10,
            headers,
            n_headers,
            body,
        },
        total,
    )))
}

/// The reason phrase for the status codes the simulator uses.
pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Appends one HTTP/1.1 response with a JSON body. `extra` headers are written as given.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    extra: &[(&str, &str)],
    body: &[u8],
    close: bool,
) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", status, reason(status));
    out.extend_from_slice(b"Content-Type: application/json\r\n");
    for (k, v) in extra {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n", body.len());
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const L: Limits = Limits {
        max_head: 8192,
        max_body: 65536,
    };

    #[test]
    fn parses_get_with_query_and_headers() {
        let raw = b"GET /v5/order/realtime?category=linear&symbol=BTCUSDT HTTP/1.1\r\nHost: x\r\nX-BAPI-API-KEY: k1 \r\n\r\n";
        let (r, n) = parse_request(raw, &L).unwrap().unwrap();
        assert_eq!(n, raw.len());
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, b"/v5/order/realtime");
        assert_eq!(r.query, b"category=linear&symbol=BTCUSDT");
        assert_eq!(r.header("x-bapi-api-key"), Some(&b"k1"[..]));
        assert!(r.keep_alive());
        assert!(r.body.is_empty());
    }

    #[test]
    fn pipelined_requests_parse_one_at_a_time_and_partial_waits() {
        let one = b"POST /v5/order/create HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        let mut buf = one.to_vec();
        buf.extend_from_slice(b"GET /v5/market/time HTTP/1.1\r\n\r\n");
        let (r, n) = parse_request(&buf, &L).unwrap().unwrap();
        assert_eq!((r.method, r.body), (Method::Post, &b"{}"[..]));
        let (r2, n2) = parse_request(&buf[n..], &L).unwrap().unwrap();
        assert_eq!(r2.path, b"/v5/market/time");
        assert_eq!(n + n2, buf.len());
        for cut in 0..one.len() {
            assert!(
                parse_request(&one[..cut], &L).unwrap().is_none(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn limits_and_malformed_input_are_typed_errors() {
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
        assert_eq!(
            parse_request(big.as_bytes(), &L).err(),
            Some(HttpError::HeadTooLarge)
        );
        assert_eq!(
            parse_request(&[b'a'; 9000], &L).err(),
            Some(HttpError::HeadTooLarge)
        );
        let body = b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n";
        assert_eq!(parse_request(body, &L).err(), Some(HttpError::BodyTooLarge));
        assert_eq!(
            parse_request(b"HELLO\r\n\r\n", &L).err(),
            Some(HttpError::BadRequestLine)
        );
        assert_eq!(
            parse_request(b"GET / HTTP/2\r\n\r\n", &L).err(),
            Some(HttpError::BadRequestLine)
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nnocolon\r\n\r\n", &L).err(),
            Some(HttpError::BadHeader)
        );
        let cl = b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n";
        assert_eq!(
            parse_request(cl, &L).err(),
            Some(HttpError::BadContentLength)
        );
        let te = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            parse_request(te, &L).err(),
            Some(HttpError::TransferEncoding)
        );
    }

    #[test]
    fn websocket_upgrade_is_recognised() {
        let raw = b"GET /v5/public/linear HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: abc\r\n\r\n";
        let (r, _) = parse_request(raw, &L).unwrap().unwrap();
        assert!(r.is_websocket_upgrade());
    }

    #[test]
    fn response_has_length_and_headers() {
        let mut out = Vec::new();
        write_response(&mut out, 200, &[("X-Bapi-Limit", "10")], b"{}", false);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Bapi-Limit: 10\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_request(&data, &L);
        }

        #[test]
        fn mutated_requests_never_panic(pos in 0usize..80, byte in any::<u8>(), cut in 0usize..90) {
            let mut raw = b"POST /v5/order/create?x=1 HTTP/1.1\r\nContent-Length: 7\r\nX-A: b\r\n\r\n{\"a\":1}".to_vec();
            if let Some(b) = raw.get_mut(pos) { *b = byte; }
            raw.truncate(cut.min(raw.len()));
            if let Ok(Some((r, n))) = parse_request(&raw, &L) {
                prop_assert!(n <= raw.len());
                prop_assert!(r.body.len() <= 7);
            }
        }
    }
}
