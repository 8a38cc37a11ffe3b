//! Persistent keep-alive HTTP/1.1 client for the order path.
//!
//! [`HttpConn`] sends caller-prebuilt request bytes with one write (plain) or
//! one rustls write + `write_tls` (TLS) — crate-stack.md §5.8 measured that
//! splitting headers and body into two writes alone costs ~10 µs on loopback
//! — and frames the response in a reused receive buffer (Content-Length,
//! chunked, or until-close). [`build_request`] writes a request into a reused
//! `Vec` for callers that do not build their own bytes.
//!
//! # Contract
//!
//! * `send` and `poll_response` never block; `request_blocking`, `get` and
//!   `post` block up to a timeout (start-up only).
//! * Allocation after warm-up: plain `http://` **0** per request/response
//!   (`tests/alloc_net.rs`); TLS: rustls allocates per record (counts in that
//!   test). The receive buffer (64 KiB) grows (doubling, up to 64 MiB) only
//!   for larger responses, e.g. instruments-info at start-up.
//! * Keep-alive loss: a connection the server closes while idle (EOF seen
//!   by `poll_response`, or a response with `Connection: close`) is replaced
//!   transparently and at once, so the next order finds a warm connection.
//!   If the replacement fails, or a connection died otherwise, the next
//!   `send` reconnects and says so with [`SendOutcome::Reconnected`]. Every
//!   replacement increments [`HttpConn::reconnects`]. A connection that dies
//!   with a request in flight returns `Closed { code: 0 }` from
//!   `poll_response`: the request may or may not have been executed, so it is
//!   never resent automatically.
//! * Framing is the minimal, replaceable [`parse_head`] / [`scan_chunked`]
//!   pair (sans-I/O, property-tested) until the REST codec's parser lands.
//! * Pipelining is not supported: one request in flight at a time.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use mio::{Registry, Token};

use super::stream::{map_io, wait_fd, ConnState, NetStream};
use super::{Endpoint, NetError};

/// Initial receive buffer size.
const RX_INITIAL: usize = 64 * 1024;
/// Largest response accepted.
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// Largest response head (status line + headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No length: the body runs until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Bytes of status line + headers + the blank line.
    pub len: usize,
    /// Body delimitation.
    pub body: BodyKind,
    /// False for `Connection: close` or HTTP/1.0 without keep-alive.
    pub keep_alive: bool,
}

fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    buf.get(start..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| start + p + 4)
}

fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

/// Parses a response head from the start of `buf`. `Ok(None)` = the blank
/// line has not arrived yet (`scan_from` lets repeated calls skip what was
/// already searched). Errors say what was wrong and never panic.
pub fn parse_head(buf: &[u8], scan_from: usize) -> Result<Option<Head>, NetError> {
    let Some(len) = find_head_end(buf, scan_from) else {
        if buf.len() > MAX_HEAD {
            return Err(NetError::Protocol("http response head too large"));
        }
        return Ok(None);
    };
    let head = &buf[..len - 4];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or(b"");
    // "HTTP/1.x SSS[ reason]"
    let (minor, status) = match status_line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', m @ (b'0' | b'1'), b' ', s0, s1, s2, rest @ ..]
            if (rest.is_empty() || rest[0] == b' ')
                && s0.is_ascii_digit()
                && s1.is_ascii_digit()
                && s2.is_ascii_digit() =>
        {
            (
                *m,
                u16::from(s0 - b'0') * 100 + u16::from(s1 - b'0') * 10 + u16::from(s2 - b'0'),
            )
        }
        _ => return Err(NetError::Protocol("bad http status line")),
    };
    if !(200..=599).contains(&status) {
        return Err(NetError::Protocol(
            "unsupported http status (1xx or out of range)",
        ));
    }
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut keep_alive = minor == b'1';
    for line in lines {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(NetError::Protocol("http header line without ':'"))?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(NetError::Protocol("bad http header name"));
        }
        if eq_ignore_case(name, b"content-length") {
            let v = parse_decimal(value).ok_or(NetError::Protocol("bad content-length"))?;
            if content_length.is_some_and(|c| c != v) {
                return Err(NetError::Protocol("conflicting content-length headers"));
            }
            content_length = Some(v);
        } else if eq_ignore_case(name, b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().map(trim).unwrap_or(b"");
            if eq_ignore_case(last, b"chunked") {
                chunked = true;
            } else {
                return Err(NetError::Protocol("unsupported transfer-encoding"));
            }
        } else if eq_ignore_case(name, b"connection") {
            for tok in value.split(|&b| b == b',').map(trim) {
                if eq_ignore_case(tok, b"close") {
                    keep_alive = false;
                } else if eq_ignore_case(tok, b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body = if status == 204 || status == 304 {
        BodyKind::Length(0)
    } else if chunked {
        BodyKind::Chunked
    } else if let Some(n) = content_length {
        if n > MAX_RESPONSE {
            return Err(NetError::Protocol("http response too large"));
        }
        BodyKind::Length(n)
    } else {
        keep_alive = false;
        BodyKind::UntilClose
    };
    Ok(Some(Head {
        status,
        len,
        body,
        keep_alive,
    }))
}

fn parse_hex_line(buf: &[u8]) -> Result<Option<(usize, usize)>, NetError> {
    // Returns (chunk size, bytes of the size line incl. CRLF).
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > 1024 {
            return Err(NetError::Protocol("chunk size line too long"));
        }
        return Ok(None);
    };
    let line = buf[..nl]
        .strip_suffix(b"\r")
        .ok_or(NetError::Protocol("chunk size line without CR"))?;
    let digits = line.split(|&b| b == b';').next().map(trim).unwrap_or(b"");
    if digits.is_empty() || digits.len() > 15 {
        return Err(NetError::Protocol("bad chunk size"));
    }
    let mut size = 0usize;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(NetError::Protocol("bad chunk size")),
        };
        size = size * 16 + usize::from(v);
    }
    Ok(Some((size, nl + 1)))
}

/// Scans a chunked body at the start of `buf` without modifying it.
/// `Ok(Some((wire_len, data_len)))` once the terminating chunk and trailers
/// are complete; `Ok(None)` when more bytes are needed.
pub fn scan_chunked(buf: &[u8]) -> Result<Option<(usize, usize)>, NetError> {
    let mut pos = 0usize;
    let mut data = 0usize;
    loop {
        let Some((size, line)) = parse_hex_line(&buf[pos..])? else {
            return Ok(None);
        };
        pos += line;
        if size == 0 {
            // Trailers: header lines until an empty line.
            loop {
                let rest = &buf[pos..];
                let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                    return Ok(None);
                };
                pos += nl + 1;
                if nl == 0 || (nl == 1 && rest[0] == b'\r') {
                    return Ok(Some((pos, data)));
                }
            }
        }
        data = data
            .checked_add(size)
            .ok_or(NetError::Protocol("chunked body too large"))?;
        if data > MAX_RESPONSE {
            return Err(NetError::Protocol("http response too large"));
        }
        let end = pos + size;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(NetError::Protocol("chunk not followed by CRLF"));
        }
        pos = end + 2;
    }
}

/// Removes chunk framing in place from a complete chunked body previously
/// accepted by [`scan_chunked`]; returns the data length (data now at the
/// start of `buf`).
pub fn dechunk_in_place(buf: &mut [u8]) -> usize {
    let mut r = 0usize;
    let mut w = 0usize;
    while let Ok(Some((size, line))) = parse_hex_line(&buf[r..]) {
        r += line;
        if size == 0 || r + size > buf.len() {
            break;
        }
        buf.copy_within(r..r + size, w);
        w += size;
        r += size + 2;
    }
    w
}

/// A complete response, borrowing the connection's receive buffer until the
/// next call on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// The raw head (status line and headers, CRLF-separated).
    pub head: &'a [u8],
    /// The body (de-chunked).
    pub body: &'a [u8],
}

impl<'a> Response<'a> {
    /// The first header named `name` (case-insensitive), value trimmed.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.head
            .split(|&b| b == b'\n')
            .skip(1)
            .filter_map(|l| {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                let c = l.iter().position(|&b| b == b':')?;
                eq_ignore_case(&l[..c], name.as_bytes()).then(|| trim(&l[c + 1..]))
            })
            .next()
    }
}

/// What `send` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Written on the existing keep-alive connection.
    Sent,
    /// The previous connection was gone; a new one was started and the
    /// request is queued until it is up (TCP + TLS).
    Reconnected,
}

#[derive(Debug, Clone, Copy)]
struct Ready {
    status: u16,
    head_len: usize,
    body_start: usize,
    body_len: usize,
}

/// A keep-alive HTTP/1.1 connection registered with the caller's `Poll`.
pub struct HttpConn {
    endpoint: Endpoint,
    registry: Registry,
    token: Token,
    stream: Option<NetStream>,
    fd: std::os::fd::RawFd,
    rx: Vec<u8>,
    filled: usize,
    /// Bytes of the last delivered response, dropped at the next call.
    consumed: usize,
    scan: usize,
    head: Option<Head>,
    in_flight: bool,
    eof: bool,
    /// The connection must be replaced before the next request.
    dead: bool,
    ever_connected: bool,
    reconnects: u64,
}

impl std::fmt::Debug for HttpConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConn")
            .field("url", &self.endpoint.url().as_str())
            .field("token", &self.token)
            .field("in_flight", &self.in_flight)
            .field("reconnects", &self.reconnects)
            .finish()
    }
}

impl HttpConn {
    /// A not-yet-connected client for `endpoint` (`http`/`https`), registering
    /// under `token` (the registry is cloned once).
    pub fn new(
        endpoint: Endpoint,
        registry: &Registry,
        token: Token,
    ) -> Result<HttpConn, NetError> {
        if endpoint.url().scheme().is_websocket() {
            return Err(NetError::Url(
                "http connection needs an http:// or https:// URL",
            ));
        }
        Ok(HttpConn {
            endpoint,
            registry: registry.try_clone()?,
            token,
            stream: None,
            fd: -1,
            rx: vec![0; RX_INITIAL],
            filled: 0,
            consumed: 0,
            scan: 0,
            head: None,
            in_flight: false,
            eof: false,
            dead: true,
            ever_connected: false,
            reconnects: 0,
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The mio token.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Connections replaced after the first one (keep-alive losses).
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// True while a request awaits its response.
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// Connection state (`Handshaking` = TCP up, TLS handshake running).
    pub fn state(&self) -> ConnState {
        match &self.stream {
            None => ConnState::Closed,
            Some(_) if self.dead => ConnState::Closed,
            Some(s) if !s.is_tcp_connected() => ConnState::Connecting,
            Some(s) if s.tls_handshaking() => ConnState::Handshaking,
            Some(_) => ConnState::Open,
        }
    }

    fn open_new(&mut self) -> Result<(), NetError> {
        self.drop_stream();
        if self.ever_connected {
            self.reconnects += 1;
        }
        self.ever_connected = true;
        let s = self.endpoint.connect(&self.registry, self.token)?;
        self.fd = s.raw_fd();
        self.stream = Some(s);
        self.dead = false;
        Ok(())
    }

    fn drop_stream(&mut self) {
        if let Some(mut s) = self.stream.take() {
            s.deregister(&self.registry);
        }
        self.fd = -1;
        self.filled = 0;
        self.consumed = 0;
        self.scan = 0;
        self.head = None;
        self.in_flight = false;
        self.eof = false;
        self.dead = true;
    }

    /// Non-blocking: starts a connection if there is none and advances TCP
    /// connect / TLS handshake. Optional (`send` connects on demand), useful
    /// to warm up before the first order.
    pub fn poll_connect(&mut self) -> Result<ConnState, NetError> {
        if self.dead {
            self.open_new()?;
        }
        self.poll_inner()?;
        Ok(self.state())
    }

    /// Blocks until connected (TCP + TLS) or `timeout`.
    pub fn connect_blocking(&mut self, timeout: Duration) -> Result<(), NetError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.poll_connect()? {
                ConnState::Open => return Ok(()),
                st => wait_fd(
                    self.fd,
                    st == ConnState::Connecting || self.has_pending(),
                    deadline,
                )?,
            }
        }
    }

    /// Queues one complete request (`request` = prebuilt bytes) and sends as
    /// much as the socket takes in one write. Reconnects first if the
    /// keep-alive connection is known to be gone.
    pub fn send(&mut self, request: &[u8]) -> Result<SendOutcome, NetError> {
        if self.in_flight {
            return Err(NetError::InvalidInput("a request is already in flight"));
        }
        self.discard_consumed();
        let outcome = if self.dead || self.stream.is_none() {
            let was = self.ever_connected;
            self.open_new()?;
            if was {
                SendOutcome::Reconnected
            } else {
                SendOutcome::Sent
            }
        } else {
            SendOutcome::Sent
        };
        let Some(s) = self.stream.as_mut() else {
            return Err(NetError::NotOpen);
        };
        if let Err(e) = s.write_message(request) {
            self.drop_stream();
            return Err(e);
        }
        self.in_flight = true;
        Ok(outcome)
    }

    /// True while bytes are queued that the socket has not yet taken.
    pub fn has_pending(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.has_pending())
    }

    /// Sends queued bytes; `Ok(true)` when nothing is left queued.
    pub fn flush_pending(&mut self) -> Result<bool, NetError> {
        let Some(s) = self.stream.as_mut() else {
            return Ok(true);
        };
        if !s.poll_tcp()? {
            return Ok(false);
        }
        match s.flush_out() {
            Ok(done) => Ok(done),
            Err(e) => {
                self.drop_stream();
                Err(map_io(&e))
            }
        }
    }

    /// Drains the socket and returns the response once it is complete.
    /// Call after an event for this token (and while a request is in
    /// flight). See the module doc for keep-alive loss handling.
    pub fn poll_response(&mut self) -> Result<Option<Response<'_>>, NetError> {
        Ok(self.poll_inner()?.map(|r| self.response(r)))
    }

    /// Start-up helper: `send` then wait (blocking, `poll(2)` on this socket)
    /// for the response.
    pub fn request_blocking(
        &mut self,
        request: &[u8],
        timeout: Duration,
    ) -> Result<Response<'_>, NetError> {
        let deadline = Instant::now() + timeout;
        self.send(request)?;
        let ready = loop {
            if let Some(r) = self.poll_inner()? {
                break r;
            }
            let want_write = self.state() == ConnState::Connecting || self.has_pending();
            wait_fd(self.fd, want_write, deadline)?;
        };
        Ok(self.response(ready))
    }

    /// Start-up helper: blocking `GET path` (path + query) with extra headers.
    pub fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response<'_>, NetError> {
        let mut req = Vec::new();
        build_request(
            &mut req,
            "GET",
            &self.endpoint.url().host_header(),
            path,
            headers,
            b"",
        );
        self.request_blocking(&req, timeout)
    }

    /// Start-up helper: blocking `POST path` with a JSON body and extra headers.
    pub fn post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Response<'_>, NetError> {
        let mut req = Vec::new();
        build_request(
            &mut req,
            "POST",
            &self.endpoint.url().host_header(),
            path,
            headers,
            body,
        );
        self.request_blocking(&req, timeout)
    }

    fn response(&self, r: Ready) -> Response<'_> {
        Response {
            status: r.status,
            head: &self.rx[..r.head_len.saturating_sub(4)],
            body: &self.rx[r.body_start..r.body_start + r.body_len],
        }
    }

    fn discard_consumed(&mut self) {
        if self.consumed == 0 {
            return;
        }
        let c = self.consumed.min(self.filled);
        self.rx.copy_within(c..self.filled, 0);
        self.filled -= c;
        self.consumed = 0;
        self.scan = 0;
        self.head = None;
    }

    fn fail(&mut self, e: NetError) -> NetError {
        self.drop_stream();
        e
    }

    fn poll_inner(&mut self) -> Result<Option<Ready>, NetError> {
        self.discard_consumed();
        let Some(s) = self.stream.as_mut() else {
            // Idle with no connection (e.g. after `Connection: close`): nothing to do.
            return Ok(None);
        };
        match s.poll_tcp() {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(self.fail(e)),
        }
        // Drain until WouldBlock (edge-triggered), growing the buffer if a
        // large response needs it.
        while !self.eof {
            if self.filled == self.rx.len() {
                if self.rx.len() >= MAX_RESPONSE + MAX_HEAD {
                    return Err(self.fail(NetError::Protocol("http response too large")));
                }
                let n = self.rx.len() * 2;
                self.rx.resize(n, 0);
            }
            let Some(s) = self.stream.as_mut() else {
                return Err(NetError::NotOpen);
            };
            match s.read(&mut self.rx[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let e = map_io(&e);
                    if self.in_flight {
                        return Err(self.fail(e));
                    }
                    // Idle connection reset: replace it quietly.
                    self.drop_stream();
                    return self.reopen_idle();
                }
            }
        }
        if !self.in_flight {
            if self.filled > 0 {
                return Err(self.fail(NetError::Protocol("unsolicited data from http server")));
            }
            if self.eof {
                return self.reopen_idle();
            }
            return Ok(None);
        }
        match self.frame() {
            Ok(Some(r)) => {
                self.in_flight = false;
                let keep = self.head.is_some_and(|h| h.keep_alive);
                if !keep || self.eof {
                    // The server is closing this connection: start its
                    // replacement now. The response stays readable: the new
                    // connection writes into `rx` only on the next call.
                    self.drop_stream();
                    let _ = self.open_new();
                }
                Ok(Some(r))
            }
            Ok(None) if self.eof => Err(self.fail(NetError::Closed { code: 0 })),
            Ok(None) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// After an idle keep-alive connection ended: start its replacement now
    /// (so the next order finds it warm). A failure leaves it dead; `send`
    /// will retry and report.
    fn reopen_idle(&mut self) -> Result<Option<Ready>, NetError> {
        self.drop_stream();
        let _ = self.open_new();
        Ok(None)
    }

    fn frame(&mut self) -> Result<Option<Ready>, NetError> {
        let head = match self.head {
            Some(h) => h,
            None => {
                let buf = &self.rx[..self.filled];
                match parse_head(buf, self.scan)? {
                    Some(h) => {
                        self.head = Some(h);
                        h
                    }
                    None => {
                        self.scan = self.filled;
                        return Ok(None);
                    }
                }
            }
        };
        let start = head.len;
        let (body_len, total) = match head.body {
            BodyKind::Length(n) => {
                if self.filled < start + n {
                    return Ok(None);
                }
                (n, start + n)
            }
            BodyKind::UntilClose => {
                if !self.eof {
                    return Ok(None);
                }
                (self.filled - start, self.filled)
            }
            BodyKind::Chunked => match scan_chunked(&self.rx[start..self.filled])? {
                None => return Ok(None),
                Some((wire, _)) => {
                    let n = dechunk_in_place(&mut self.rx[start..start + wire]);
                    (n, start + wire)
                }
            },
        };
        self.consumed = total;
        Ok(Some(Ready {
            status: head.status,
            head_len: head.len,
            body_start: start,
            body_len,
        }))
    }
}

/// Writes an HTTP/1.1 request into `out` (cleared first): request line,
/// `Host`, the given headers, `Content-Length` when `body` is non-empty (or
/// the method is POST), then the body. No allocation once `out` has grown
/// to the request size.
pub fn build_request(
    out: &mut Vec<u8>,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    out.clear();
    for part in [method, " ", path, " HTTP/1.1\r\nHost: ", host, "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    for (k, v) in headers {
        for part in [*k, ": ", *v, "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    if !body.is_empty() || method.eq_ignore_ascii_case("POST") {
        out.extend_from_slice(b"Content-Length: ");
        let mut b = itoa::Buffer::new();
        out.extend_from_slice(b.format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head(s: &str) -> Result<Option<Head>, NetError> {
        parse_head(s.as_bytes(), 0)
    }

    #[test]
    fn heads() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(
            h,
            Head {
                status: 200,
                len: 38,
                body: BodyKind::Length(5),
                keep_alive: true
            }
        );
        let h = head(
            "HTTP/1.1 404 Not Found\r\ntransfer-encoding:  chunked \r\nConnection: close\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (h.status, h.body, h.keep_alive),
            (404, BodyKind::Chunked, false)
        );
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!((h.body, h.keep_alive), (BodyKind::UntilClose, false));
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n").unwrap(),
            None
        );
        for (bad, why) in [
            ("HTTP/2 200 OK\r\n\r\n", "bad http status line"),
            ("HTTP/1.1 20 OK\r\n\r\n", "bad http status line"),
            (
                "HTTP/1.1 100 Continue\r\n\r\n",
                "unsupported http status (1xx or out of range)",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                "bad content-length",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "conflicting content-length headers",
            ),
            (
                "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
                "http header line without ':'",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                "unsupported transfer-encoding",
            ),
        ] {
            assert_eq!(head(bad), Err(NetError::Protocol(why)), "{bad:?}");
        }
    }

    #[test]
    fn chunked_bodies() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (wire, data) = scan_chunked(body).unwrap().unwrap();
        assert_eq!((wire, data), (body.len() - 4, 12));
        let mut b = body.to_vec();
        let n = dechunk_in_place(&mut b[..wire]);
        assert_eq!(&b[..n], b"hello, world");
        for cut in 0..wire {
            assert_eq!(scan_chunked(&body[..cut]).unwrap(), None, "cut {cut}");
        }
        assert!(scan_chunked(b"zz\r\n").is_err());
        assert!(scan_chunked(b"2\r\nabXY").is_err());
    }

    #[test]
    fn build_request_single_buffer() {
        let mut out = Vec::new();
        build_request(
            &mut out,
            "POST",
            "h:1",
            "/v5/order/create",
            &[("X-A", "1")],
            b"{}",
        );
        assert_eq!(
            out,
            b"POST /v5/order/create HTTP/1.1\r\nHost: h:1\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}"
        );
        let r = Response {
            status: 200,
            head: b"HTTP/1.1 200 OK\r\nX-Bapi-Limit:  9 \r\nB: 2",
            body: b"",
        };
        assert_eq!(r.header("x-bapi-limit"), Some(&b"9"[..]));
        assert_eq!(r.header("b"), Some(&b"2"[..]));
        assert_eq!(r.header("c"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn parsers_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..200), from in 0usize..300) {
            let _ = parse_head(&buf, from);
            if let Ok(Some((wire, _))) = scan_chunked(&buf) {
                let mut b = buf.clone();
                let _ = dechunk_in_place(&mut b[..wire]);
            }
        }

        #[test]
        fn mutated_responses_never_panic(
            body in "[a-z]{0,40}", chunk in 1usize..8,
            pos in any::<prop::sample::Index>(), byte in any::<u8>(),
        ) {
            let mut chunked = String::new();
            for c in body.as_bytes().chunks(chunk) {
                chunked.push_str(&format!("{:x}\r\n{}\r\n", c.len(), std::str::from_utf8(c).unwrap()));
            }
            chunked.push_str("0\r\n\r\n");
            let mut msg = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}").into_bytes();
            let h = parse_head(&msg, 0).unwrap().unwrap();
            let (wire, n) = scan_chunked(&msg[h.len..]).unwrap().unwrap();
            prop_assert_eq!(n, body.len());
            let mut b = msg[h.len..h.len + wire].to_vec();
            let k = dechunk_in_place(&mut b);
            prop_assert_eq!(&b[..k], body.as_bytes());
            let i = pos.index(msg.len());
            msg[i] = byte;
            if let Ok(Some(h)) = parse_head(&msg, 0) {
                if let Ok(Some((wire, _))) = scan_chunked(&msg[h.len..]) {
                    let end = h.len + wire;
                    let _ = dechunk_in_place(&mut msg[h.len..end]);
                }
            }
        }
    }
}
